#include "activation.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* The first passed descriptor, after stdin, stdout and stderr. */
#define ACTIVATION_FIRST_FD 3

static int
activation_check(int fd, char *err, size_t errlen, const char *name)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	int flags;

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_STREAM ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening,
		&(socklen_t){ sizeof(listening) }) == -1 ||
	    !listening) {
		snprintf(err, errlen,
		    "passed descriptor %d ('%s') is not a listening stream "
		    "socket",
		    fd, name);
		return -1;
	}
	/* The manager may pass blocking sockets; the loop needs them not. */
	if ((flags = fcntl(fd, F_GETFL)) == -1 ||
	    fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) == -1) {
		snprintf(err, errlen, "passed descriptor %d ('%s'): %s", fd,
		    name, strerror(errno));
		return -1;
	}
	return 0;
}

/* The i-th name of LISTEN_FDNAMES ("a:b:c"), or "unknown" as systemd says. */
static void
activation_name(const char *names, size_t i, char *out, size_t outlen)
{
	const char *p = names;

	for (; p != NULL && i > 0; i--)
		if ((p = strchr(p, ':')) != NULL)
			p++;
	if (p == NULL || *p == '\0' || *p == ':') {
		snprintf(out, outlen, "unknown");
		return;
	}
	snprintf(out, outlen, "%.*s", (int)strcspn(p, ":"), p);
}

/*
 * Takes the sockets passed for this process, if any: *n is 0 when hellod
 * was not socket-activated.  The variables are removed from the
 * environment so nothing started later mistakes them for its own.
 */
int
activation_take(struct activation_socket **socks, size_t *n, char *err,
    size_t errlen)
{
	const char *pid = getenv("LISTEN_PID"), *fds = getenv("LISTEN_FDS");
	const char *names = getenv("LISTEN_FDNAMES");
	long count;
	char *end;

	*socks = NULL;
	*n = 0;
	if (pid == NULL || fds == NULL ||
	    strtol(pid, NULL, 10) != (long)getpid())
		return 0;
	errno = 0;
	count = strtol(fds, &end, 10);
	if (errno != 0 || end == fds || *end != '\0' || count < 0 ||
	    count > 1024) {
		snprintf(err, errlen, "LISTEN_FDS: '%s' is not a count", fds);
		return -1;
	}
	if (count > 0 &&
	    (*socks = calloc((size_t)count, sizeof(**socks))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long i = 0; i < count; i++) {
		struct activation_socket *s = &(*socks)[i];
		s->fd = ACTIVATION_FIRST_FD + (int)i;
		activation_name(names, (size_t)i, s->name, sizeof(s->name));
		if (activation_check(s->fd, err, errlen, s->name) == -1) {
			free(*socks);
			*socks = NULL;
			return -1;
		}
	}
	*n = (size_t)count;
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return 0;
}
