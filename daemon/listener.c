#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Accepts per wake-up, so a connection storm cannot starve clients. */
#define LISTENER_BATCH 64
/* How long accepting pauses when descriptors run out. */
#define LISTENER_PAUSE_MS 100

struct listener {
	int fd;
	struct event *ev_accept;
	struct event *ev_resume;
	listener_accept_fn cb;
	void *arg;
	time_t last_fd_warning;
	union net_addr addr;
	char name[NET_ADDRSTRLEN];
};

static const char *
listener_hint(int err, int port)
{
	switch (err) {
	case EADDRINUSE:
		return " (another process is listening on this port)";
	case EADDRNOTAVAIL:
		return " (no interface of this host has this address)";
	case EACCES:
		return port < 1024 ? " (ports below 1024 need root or "
				     "CAP_NET_BIND_SERVICE)"
				   : "";
	case EAFNOSUPPORT:
		return " (this host has no support for the address family)";
	default:
		return "";
	}
}

static int
listener_socket(const union net_addr *addr, int backlog, bool reuse_port)
{
	int on = 1;
	socklen_t len = addr->sa.sa_family == AF_INET ? sizeof(addr->sin)
						      : sizeof(addr->sin6);
	int fd = socket(addr->sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) == -1 ||
	    (reuse_port &&
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) ==
		    -1) ||
	    (addr->sa.sa_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ==
		    -1) ||
	    bind(fd, &addr->sa, len) == -1 || listen(fd, backlog) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

static void
listener_pause(struct listener *l)
{
	struct timeval tv = { 0, LISTENER_PAUSE_MS * 1000 };
	time_t now = time(NULL);

	if (now != l->last_fd_warning) {
		log_warn("out of file descriptors, pausing accept on %s",
		    l->name);
		l->last_fd_warning = now;
	}
	event_del(l->ev_accept);
	event_add(l->ev_resume, &tv);
}

static void
listener_on_resume(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	event_add(l->ev_accept, NULL);
}

/* Accepts up to max connections; returns how many, or -1 when paused. */
static int
listener_accept(struct listener *l, int max)
{
	int n = 0;

	while (n < max) {
		union net_addr peer;
		socklen_t len = sizeof(peer);
		int fd = accept4(l->fd, &peer.sa, &len,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			n++;
			l->cb(fd, &peer, l->arg);
			continue;
		}
		switch (errno) {
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			l->cb(-1, NULL, l->arg);
			listener_pause(l);
			return -1;
		case EAGAIN:
			return n;
		default:
			log_warn("accept on %s", l->name);
			return n;
		}
	}
	return n;
}

/*
 * One connection per readable event.  The socket is level-triggered, so a
 * second waiting connection wakes the loop again, in a turn that serves
 * whatever else is ready too; and a loop that takes connections one at a
 * time never spends an accept() finding the queue empty, which under
 * steady churn is one call in every session.
 */
static void
listener_on_accept(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	listener_accept(arg, 1);
}

/*
 * Wraps a bound, listening socket, one opened here or one someone else
 * opened (socket activation).  Takes the descriptor either way.
 */
struct listener *
listener_adopt(int fd, char *err, size_t errlen)
{
	struct listener *l = calloc(1, sizeof(*l));
	socklen_t len = sizeof(l->addr);

	if (l == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		errno = ENOMEM;
		return NULL;
	}
	l->fd = fd;
	/* Accepted sockets inherit it: no setsockopt per connection. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 }, sizeof(int));
	getsockname(fd, &l->addr.sa, &len);
	net_format(&l->addr, l->name, sizeof(l->name));
	return l;
}

/*
 * Opens a listening socket; on failure writes one line naming the address,
 * the cause and a hint into err, and leaves errno set.  With reuse_port,
 * several processes may listen on the same port and the kernel spreads
 * connections over them (a rolling restart, or scaling out on one host).
 */
struct listener *
listener_open(const union net_addr *addr, int backlog, bool reuse_port,
    char *err, size_t errlen)
{
	char name[NET_ADDRSTRLEN];
	int fd = listener_socket(addr, backlog, reuse_port), saved;

	if (fd == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot listen on %s: %s%s",
		    net_format(addr, name, sizeof(name)), strerror(saved),
		    listener_hint(saved, net_port(addr)));
		errno = saved;
		return NULL;
	}
	return listener_adopt(fd, err, errlen);
}

/*
 * Accepts on a copy of a bound socket from one event loop.  Several loops
 * may watch copies of the same socket: whichever wakes first accepts, the
 * others find the queue empty.
 */
struct listener *
listener_watch(struct event_base *base, int fd, listener_accept_fn cb,
    void *arg, char *err, size_t errlen)
{
	int copy = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	struct listener *l;

	if (copy == -1) {
		snprintf(err, errlen, "cannot watch a listening socket: %s",
		    strerror(errno));
		return NULL;
	}
	if ((l = listener_adopt(copy, err, errlen)) == NULL)
		return NULL;
	l->cb = cb;
	l->arg = arg;
	l->ev_accept =
	    event_new(base, l->fd, EV_READ | EV_PERSIST, listener_on_accept, l);
	l->ev_resume = evtimer_new(base, listener_on_resume, l);
	if (l->ev_accept == NULL || l->ev_resume == NULL ||
	    event_add(l->ev_accept, NULL) == -1) {
		snprintf(err, errlen, "cannot watch %s: out of memory",
		    l->name);
		listener_free(l);
		errno = ENOMEM;
		return NULL;
	}
	return l;
}

void
listener_free(struct listener *l)
{
	if (l == NULL)
		return;
	if (l->ev_accept != NULL)
		event_free(l->ev_accept);
	if (l->ev_resume != NULL)
		event_free(l->ev_resume);
	close(l->fd);
	free(l);
}

int
listener_set_backlog(struct listener *l, int backlog)
{
	return listen(l->fd, backlog);
}

/*
 * Accepts every connection already queued, so clients the kernel has
 * already completed a handshake with are served rather than reset when the
 * listener closes.
 */
void
listener_drain(struct listener *l)
{
	while (listener_accept(l, LISTENER_BATCH) == LISTENER_BATCH)
		;
}

const union net_addr *
listener_addr(const struct listener *l)
{
	return &l->addr;
}

int
listener_fd(const struct listener *l)
{
	return l->fd;
}

const char *
listener_name(const struct listener *l)
{
	return l->name;
}
