#include "detach.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* The daemon's end of the pipe to the waiting command, or -1. */
static int detach_fd = -1;

/* The starting command: waits for the daemon's word and exits with it. */
static _Noreturn void
detach_wait(int fd, pid_t child)
{
	char msg[512];
	size_t len = 0;
	ssize_t n;

	waitpid(child, NULL, 0);
	while (len < sizeof(msg) - 1 &&
	    ((n = read(fd, msg + len, sizeof(msg) - 1 - len)) > 0 ||
		(n == -1 && errno == EINTR)))
		len += n > 0 ? (size_t)n : 0;
	msg[len] = '\0';
	if (len > 0 && msg[0] == '+')
		exit(0);
	fprintf(stderr, "hellod: %s\n",
	    len > 0 ? msg + 1 : "the daemon exited before it was ready");
	exit(1);
}

static void detach_report(char tag, const char *msg);

/* In the daemon, before it serves: tell the waiting command why, and go. */
static _Noreturn void
detach_abort(const char *what)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "cannot detach: %s: %s", what,
	    strerror(errno));
	detach_report('-', msg);
	_exit(1);
}

/* Moves stdin, stdout and stderr to /dev/null, away from the terminal. */
static void
detach_stdio(void)
{
	int null = open("/dev/null", O_RDWR);

	if (null == -1)
		detach_abort("/dev/null");
	for (int fd = STDIN_FILENO; fd <= STDERR_FILENO; fd++)
		if (dup2(null, fd) == -1)
			detach_abort("dup2");
	if (null > STDERR_FILENO)
		close(null);
}

/*
 * Double fork: the first child starts a new session, the second can never
 * reacquire a terminal.  Returns 0 in the daemon, -1 (errno set) when it
 * cannot fork; the starting command never returns from here.
 */
int
detach_start(void)
{
	int pipefd[2];
	pid_t pid;

	if (pipe2(pipefd, O_CLOEXEC) == -1)
		return -1;
	if ((pid = fork()) == -1) {
		close(pipefd[0]);
		close(pipefd[1]);
		return -1;
	}
	if (pid > 0) {
		close(pipefd[1]);
		detach_wait(pipefd[0], pid);
	}
	close(pipefd[0]);
	detach_fd = pipefd[1];
	if (setsid() == -1)
		detach_abort("setsid");
	if ((pid = fork()) == -1)
		detach_abort("fork");
	if (pid > 0)
		_exit(0);
	if (chdir("/") == -1)
		detach_abort("chdir /");
	umask(027);
	detach_stdio();
	return 0;
}

static void
detach_report(char tag, const char *msg)
{
	char line[512];
	int n;

	if (detach_fd == -1)
		return;
	n = snprintf(line, sizeof(line), "%c%s", tag, msg);
	/* If the starting command is gone, there is nobody left to tell. */
	if (n > 0)
		(void)!write(detach_fd, line, (size_t)n);
	close(detach_fd);
	detach_fd = -1;
}

void
detach_ready(void)
{
	detach_report('+', "");
}

void
detach_fail(const char *msg)
{
	detach_report('-', msg);
}
