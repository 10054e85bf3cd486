#include "listener.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/tcp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	bool owns_file; /* a socket file this listener made, removed with it */
	bool tls;
	union net_addr addr;
	char name[NET_ADDRSTRLEN];
};

static const char *
listener_hint(int err, const union net_addr *addr)
{
	int port = net_port(addr);

	switch (err) {
	case EADDRINUSE:
		return addr->sa.sa_family == AF_UNIX
		    ? " (a running server answers on it)"
		    : " (another process is listening on this port)";
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

/* A socket bound to addr, not yet listening; -1 with errno set. */
static int
listener_bound(const union net_addr *addr, bool reuse_port)
{
	int on = 1;
	int fd = socket(addr->sa.sa_family,
	    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd == -1)
		return -1;
	if ((addr->sa.sa_family != AF_UNIX &&
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ==
		    -1) ||
	    (reuse_port && addr->sa.sa_family != AF_UNIX &&
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) ==
		    -1) ||
	    (addr->sa.sa_family == AF_INET6 &&
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)) ==
		    -1) ||
	    bind(fd, &addr->sa, net_len(addr)) == -1) {
		int saved = errno;
		close(fd);
		errno = saved;
		return -1;
	}
	return fd;
}

/*
 * A socket file in the way: one left by a run that crashed refuses a
 * connect, and is removed; one that answers belongs to a live server.
 */
static bool
listener_remove_stale(const union net_addr *addr)
{
	int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool stale;

	if (probe == -1)
		return false;
	stale = connect(probe, &addr->sa, net_len(addr)) == -1 &&
	    errno == ECONNREFUSED;
	close(probe);
	if (stale && unlink(addr->sun.sun_path) == 0) {
		log_warnx("removed the stale socket file %s",
		    addr->sun.sun_path);
		return true;
	}
	errno = EADDRINUSE;
	return false;
}

/* The socket file's mode and group, before anyone can connect. */
static int
listener_set_perms(const union net_addr *addr, const struct config *cfg)
{
	if (chmod(addr->sun.sun_path, (mode_t)cfg->unix_mode_bits) == -1)
		return -1;
	if (cfg->unix_gid >= 0 &&
	    chown(addr->sun.sun_path, (uid_t)-1, (gid_t)cfg->unix_gid) == -1)
		return -1;
	return 0;
}

/*
 * Binds and listens.  A socket file gets its mode and group before it
 * listens, so no client connects through looser permissions.
 */
static int
listener_socket(const union net_addr *addr, const struct config *cfg)
{
	int fd = listener_bound(addr, cfg->reuse_port), saved;

	if (fd == -1 && errno == EADDRINUSE && net_is_path(addr) &&
	    listener_remove_stale(addr))
		fd = listener_bound(addr, cfg->reuse_port);
	if (fd == -1)
		return -1;
	if ((net_is_path(addr) && listener_set_perms(addr, cfg) == -1) ||
	    listen(fd, cfg->backlog) == -1) {
		saved = errno;
		if (net_is_path(addr))
			unlink(addr->sun.sun_path);
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
			/* A UNIX client has no name: its address is cut short.
			 */
			if (peer.sa.sa_family == AF_UNIX)
				memset(peer.sun.sun_path, 0,
				    sizeof(peer.sun.sun_path));
			n++;
			l->cb(fd, &peer, l->tls, l->arg);
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
			l->cb(-1, NULL, l->tls, l->arg);
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
listener_adopt(int fd, bool tls, char *err, size_t errlen)
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
	l->tls = tls;
	getsockname(fd, &l->addr.sa, &len);
	/* Accepted sockets inherit it: no setsockopt per connection. */
	if (l->addr.sa.sa_family != AF_UNIX)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
		    sizeof(int));
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
listener_open(const union net_addr *addr, bool tls, const struct config *cfg,
    char *err, size_t errlen)
{
	char name[NET_ADDRSTRLEN];
	int fd = listener_socket(addr, cfg), saved;
	struct listener *l;

	if (fd == -1) {
		saved = errno;
		snprintf(err, errlen, "cannot listen on %s: %s%s",
		    net_format(addr, name, sizeof(name)), strerror(saved),
		    listener_hint(saved, addr));
		errno = saved;
		return NULL;
	}
	if ((l = listener_adopt(fd, tls, err, errlen)) != NULL)
		l->owns_file = net_is_path(addr);
	return l;
}

/*
 * Accepts on a copy of a bound socket from one event loop.  Several loops
 * may watch copies of the same socket: whichever wakes first accepts, the
 * others find the queue empty.
 */
struct listener *
listener_watch(struct event_base *base, const struct listener_fd *lfd,
    listener_accept_fn cb, void *arg, char *err, size_t errlen)
{
	int copy = fcntl(lfd->fd, F_DUPFD_CLOEXEC, 0);
	struct listener *l;

	if (copy == -1) {
		snprintf(err, errlen, "cannot watch a listening socket: %s",
		    strerror(errno));
		return NULL;
	}
	if ((l = listener_adopt(copy, lfd->tls, err, errlen)) == NULL)
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
	if (l->owns_file && unlink(l->addr.sun.sun_path) == -1 &&
	    errno != ENOENT)
		log_warn("cannot remove %s", l->addr.sun.sun_path);
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

struct listener_fd
listener_fd(const struct listener *l)
{
	return (struct listener_fd){ l->fd, l->tls };
}

bool
listener_is_tls(const struct listener *l)
{
	return l->tls;
}

const char *
listener_name(const struct listener *l)
{
	return l->name;
}
