/*
 * baseline: the reference greeting server the benchmark measures hellod
 * against.  It speaks the protocol's hot path (welcome, `NAME\n` answered
 * with `Hello, NAME!\n`, CRLF kept, blank lines ignored, `exit`, EOF) on raw
 * epoll and does as little as a correct server can:
 *
 * - level-triggered epoll, one recv() per readable client, every reply of
 *   that read built in one thread-wide buffer and sent with one send();
 * - EPOLLOUT is armed only after a short send, and only then does the
 *   client get an output buffer of its own; the same goes for the buffer
 *   that holds a line split across reads;
 * - accepted sockets inherit TCP_NODELAY and O_NONBLOCK needs no fcntl
 *   (accept4), so accepting costs one call plus the welcome's send();
 * - per-client state is a small slot in a table indexed by descriptor.
 *
 * Backpressure: a client whose unsent replies pass 64 KiB is not read
 * until they drain below half of that.
 *
 * usage: baseline [-p PORT] [-t THREADS]
 * Listens on 127.0.0.1 (port 0 asks the kernel for one) and prints
 * `listening on 127.0.0.1:PORT` on stderr.  With several threads each one
 * has its own SO_REUSEPORT listener and epoll instance.  Runs until killed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BL_INBUF (64 * 1024)
#define BL_MAX_LINE 1024
#define BL_MAX_OUTPUT (64 * 1024)
#define BL_MAX_EVENTS 512
#define BL_MAX_THREADS 64

/* The largest reply: "Hello, " + line + "!" + CRLF. */
#define BL_REPLY_MAX(len) ((len) + 10)

static const char bl_welcome[] = "Welcome!\r\n";
static const char bl_too_long[] = "Error: line too long (max 1024 bytes)\r\n";

enum {
	BL_CLOSING = 1, /* exit or EOF: close once the output is sent */
	BL_PAUSED = 2,	/* backpressure: not reading */
};

/* One slot per descriptor; an idle client owns no memory beyond it. */
struct bl_client {
	char *out; /* replies the socket did not take, or NULL */
	uint32_t out_off, out_len, out_cap;
	char *line; /* the unfinished line, or NULL */
	uint16_t line_len;
	uint8_t flags;
};

struct bl_thread {
	int epfd;
	int lfd;
	pthread_t tid;
	char in[BL_INBUF];
	/*
	 * Every reply one read can produce: the pending line plus the input,
	 * each line growing by at most 10 bytes ("x\n" is the worst case).
	 */
	char out[5 * (BL_INBUF + BL_MAX_LINE)];
};

static struct bl_client *bl_clients;

static void
bl_die(const char *what)
{
	perror(what);
	exit(1);
}

static void
bl_watch(struct bl_thread *t, int op, int fd, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.fd = fd };

	if (epoll_ctl(t->epfd, op, fd, &ev) == -1)
		bl_die("epoll_ctl");
}

static void
bl_close(int fd)
{
	struct bl_client *c = &bl_clients[fd];

	free(c->out);
	free(c->line);
	memset(c, 0, sizeof(*c));
	close(fd); /* also leaves the epoll set */
}

/* What the client should be polled for, given its state. */
static uint32_t
bl_interest(const struct bl_client *c)
{
	uint32_t ev = 0;

	if (!(c->flags & (BL_CLOSING | BL_PAUSED)))
		ev |= EPOLLIN;
	if (c->out_len > c->out_off)
		ev |= EPOLLOUT;
	return ev;
}

/* Keeps what the socket did not take; only a short send gets here. */
static int
bl_keep(struct bl_client *c, const char *p, size_t n)
{
	size_t have = c->out_len - c->out_off;

	if (have + n > c->out_cap) {
		size_t cap = c->out_cap ? c->out_cap : 4096;
		char *nb;

		while (cap < have + n)
			cap *= 2;
		if ((nb = malloc(cap)) == NULL)
			return -1;
		if (have > 0)
			memcpy(nb, c->out + c->out_off, have);
		free(c->out);
		c->out = nb;
		c->out_cap = (uint32_t)cap;
	} else if (c->out_off > 0) {
		memmove(c->out, c->out + c->out_off, have);
	}
	memcpy(c->out + have, p, n);
	c->out_off = 0;
	c->out_len = (uint32_t)(have + n);
	return 0;
}

/*
 * Sends replies, or queues them behind replies still waiting.  Returns -1
 * when the client is gone.
 */
static int
bl_send(struct bl_thread *t, int fd, const char *p, size_t n)
{
	struct bl_client *c = &bl_clients[fd];
	uint32_t before = bl_interest(c);
	ssize_t w = 0;

	if (n == 0)
		return 0;
	if (c->out_len == c->out_off) {
		w = send(fd, p, n, MSG_NOSIGNAL);
		if (w == (ssize_t)n)
			return 0;
		if (w == -1) {
			if (errno != EAGAIN) {
				bl_close(fd);
				return -1;
			}
			w = 0;
		}
	}
	if (bl_keep(c, p + w, n - (size_t)w) == -1) {
		bl_close(fd);
		return -1;
	}
	if (c->out_len - c->out_off > BL_MAX_OUTPUT)
		c->flags |= BL_PAUSED;
	if (bl_interest(c) != before)
		bl_watch(t, EPOLL_CTL_MOD, fd, bl_interest(c));
	return 0;
}

static bool
bl_blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != ' ' && p[i] != '\t')
			return false;
	return true;
}

enum bl_verdict { BL_GO_ON, BL_EXIT, BL_TOO_LONG };

/* Appends the reply to one line (its LF excluded) at *o. */
static enum bl_verdict
bl_answer(const char *p, size_t n, char **o)
{
	bool crlf = n > 0 && p[n - 1] == '\r';
	char *w = *o;

	n -= crlf;
	if (n > BL_MAX_LINE)
		return BL_TOO_LONG;
	if (n == 4 && memcmp(p, "exit", 4) == 0)
		return BL_EXIT;
	if (bl_blank(p, n))
		return BL_GO_ON;
	memcpy(w, "Hello, ", 7);
	memcpy(w + 7, p, n);
	w += 7 + n;
	*w++ = '!';
	if (crlf)
		*w++ = '\r';
	*w++ = '\n';
	*o = w;
	return BL_GO_ON;
}

/* Holds the start of a line until the rest of it arrives. */
static enum bl_verdict
bl_hold(struct bl_client *c, const char *p, size_t n)
{
	/* The longest line, and its CR. */
	if (c->line_len + n > BL_MAX_LINE + 1)
		return BL_TOO_LONG;
	if (c->line == NULL && (c->line = malloc(BL_MAX_LINE + 1)) == NULL)
		return BL_TOO_LONG;
	memcpy(c->line + c->line_len, p, n);
	c->line_len = (uint16_t)(c->line_len + n);
	return BL_GO_ON;
}

/* Answers every complete line of the input; *o advances past the replies. */
static enum bl_verdict
bl_input(struct bl_client *c, const char *p, size_t n, char **o)
{
	const char *end = p + n, *lf;
	enum bl_verdict v;

	if (c->line_len > 0) {
		if ((lf = memchr(p, '\n', n)) == NULL)
			return bl_hold(c, p, n);
		if ((v = bl_hold(c, p, (size_t)(lf - p))) != BL_GO_ON)
			return v;
		v = bl_answer(c->line, c->line_len, o);
		c->line_len = 0;
		if (v != BL_GO_ON)
			return v;
		p = lf + 1;
	}
	while (p < end && (lf = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		if ((v = bl_answer(p, (size_t)(lf - p), o)) != BL_GO_ON)
			return v;
		p = lf + 1;
	}
	return p < end ? bl_hold(c, p, (size_t)(end - p)) : BL_GO_ON;
}

/* Closes now, or once the replies still waiting are sent. */
static void
bl_finish(struct bl_thread *t, int fd)
{
	struct bl_client *c = &bl_clients[fd];
	uint32_t before = bl_interest(c);

	if (c->out_len == c->out_off) {
		bl_close(fd);
		return;
	}
	c->flags |= BL_CLOSING;
	if (bl_interest(c) != before)
		bl_watch(t, EPOLL_CTL_MOD, fd, bl_interest(c));
}

/*
 * One recv() per event: level-triggered epoll reports the client again if
 * more is waiting, after every other ready client had its turn.  An
 * unfinished line at EOF is dropped, as is input after `exit`.
 */
static void
bl_on_readable(struct bl_thread *t, int fd)
{
	struct bl_client *c = &bl_clients[fd];
	ssize_t n = recv(fd, t->in, sizeof(t->in), 0);
	enum bl_verdict v;
	char *o = t->out;

	if (n <= 0) {
		if (n == -1 && errno == EAGAIN)
			return;
		if (n == 0)
			bl_finish(t, fd);
		else
			bl_close(fd);
		return;
	}
	v = bl_input(c, t->in, (size_t)n, &o);
	if (v == BL_TOO_LONG) {
		memcpy(o, bl_too_long, sizeof(bl_too_long) - 1);
		o += sizeof(bl_too_long) - 1;
	}
	if (bl_send(t, fd, t->out, (size_t)(o - t->out)) == 0 && v != BL_GO_ON)
		bl_finish(t, fd);
}

/* Returns -1 when the client is gone. */
static int
bl_on_writable(struct bl_thread *t, int fd)
{
	struct bl_client *c = &bl_clients[fd];
	uint32_t before = bl_interest(c);
	ssize_t w;

	if (c->out_len == c->out_off)
		return 0;
	w = send(fd, c->out + c->out_off, c->out_len - c->out_off,
	    MSG_NOSIGNAL);
	if (w == -1) {
		if (errno == EAGAIN)
			return 0;
		bl_close(fd);
		return -1;
	}
	c->out_off += (uint32_t)w;
	if (c->out_off == c->out_len) {
		free(c->out);
		c->out = NULL;
		c->out_off = c->out_len = c->out_cap = 0;
		if (c->flags & BL_CLOSING) {
			bl_close(fd);
			return -1;
		}
	}
	if (c->out_len - c->out_off <= BL_MAX_OUTPUT / 2)
		c->flags &= (uint8_t)~BL_PAUSED;
	if (bl_interest(c) != before)
		bl_watch(t, EPOLL_CTL_MOD, fd, bl_interest(c));
	return 0;
}

/* One accept per event: the listener is level-triggered too. */
static void
bl_on_accept(struct bl_thread *t)
{
	int fd = accept4(t->lfd, NULL, NULL, SOCK_NONBLOCK);

	if (fd == -1)
		return;
	bl_watch(t, EPOLL_CTL_ADD, fd, EPOLLIN);
	bl_send(t, fd, bl_welcome, sizeof(bl_welcome) - 1);
}

static void
bl_dispatch(struct bl_thread *t, const struct epoll_event *ev)
{
	int fd = ev->data.fd;

	if (fd == t->lfd) {
		bl_on_accept(t);
		return;
	}
	if ((ev->events & EPOLLOUT) && bl_on_writable(t, fd) == -1)
		return;
	if (ev->events & EPOLLIN)
		bl_on_readable(t, fd);
	else if (ev->events & (EPOLLERR | EPOLLHUP))
		bl_close(fd); /* not reading: the error would go unseen */
}

static void *
bl_run(void *arg)
{
	struct bl_thread *t = arg;
	struct epoll_event ev[BL_MAX_EVENTS];

	for (;;) {
		int n = epoll_wait(t->epfd, ev, BL_MAX_EVENTS, -1);

		if (n == -1) {
			if (errno == EINTR)
				continue;
			bl_die("epoll_wait");
		}
		for (int i = 0; i < n; i++)
			bl_dispatch(t, &ev[i]);
	}
	return NULL;
}

/* Accepted sockets inherit TCP_NODELAY from the listener. */
static int
bl_listen(int port, bool shared)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), on = 1;

	if (fd == -1)
		bl_die("socket");
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (shared &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) == -1)
		bl_die("SO_REUSEPORT");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == -1)
		bl_die("bind");
	if (listen(fd, SOMAXCONN) == -1)
		bl_die("listen");
	return fd;
}

static int
bl_port(int fd)
{
	struct sockaddr_in sin;
	socklen_t len = sizeof(sin);

	if (getsockname(fd, (struct sockaddr *)&sin, &len) == -1)
		bl_die("getsockname");
	return ntohs(sin.sin_port);
}

/* The descriptor table is sized to the raised limit, touched lazily. */
static void
bl_init_table(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		bl_die("getrlimit");
	rl.rlim_cur = rl.rlim_max;
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1 << 20)
		rl.rlim_cur = 1 << 20;
	setrlimit(RLIMIT_NOFILE, &rl);
	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		bl_die("getrlimit");
	if ((bl_clients = calloc(rl.rlim_cur, sizeof(*bl_clients))) == NULL)
		bl_die("calloc");
}

static void
bl_usage(void)
{
	fprintf(stderr, "usage: baseline [-p PORT] [-t THREADS]\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	static struct bl_thread *threads[BL_MAX_THREADS];
	int port = 0, nthreads = 1, opt;

	while ((opt = getopt(argc, argv, "p:t:")) != -1) {
		switch (opt) {
		case 'p':
			port = atoi(optarg);
			break;
		case 't':
			nthreads = atoi(optarg);
			break;
		default:
			bl_usage();
		}
	}
	if (optind != argc || port < 0 || port > 65535 || nthreads < 1 ||
	    nthreads > BL_MAX_THREADS)
		bl_usage();
	bl_init_table();
	for (int i = 0; i < nthreads; i++) {
		struct bl_thread *t = calloc(1, sizeof(*t));

		if (t == NULL)
			bl_die("calloc");
		t->lfd = bl_listen(port, nthreads > 1);
		port = bl_port(t->lfd);
		if ((t->epfd = epoll_create1(0)) == -1)
			bl_die("epoll_create1");
		bl_watch(t, EPOLL_CTL_ADD, t->lfd, EPOLLIN);
		threads[i] = t;
	}
	fprintf(stderr, "listening on 127.0.0.1:%d\n", port);
	for (int i = 1; i < nthreads; i++)
		if (pthread_create(&threads[i]->tid, NULL, bl_run,
			threads[i]) != 0)
			bl_die("pthread_create");
	bl_run(threads[0]);
	return 0;
}
