#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iptable.h"
#include "listener.h"
#include "log.h"

/* Says so when the descriptor limit keeps max_clients out of reach. */
static void
server_check_fd_room(const struct server *srv, const struct config *cfg)
{
	if ((size_t)cfg->max_clients <= srv->fd_room)
		return;
	log_warnx("max_clients is %d but the open file limit leaves room for "
		  "only %zu clients: serving at most %zu (raise the limit "
		  "with ulimit -n or LimitNOFILE=)",
	    cfg->max_clients, srv->fd_room, srv->fd_room);
}

struct server *
server_new(struct event_base *base, struct config *cfg, int port_override,
    size_t fd_room)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	if ((srv->per_ip = iptable_new()) == NULL) {
		free(srv);
		return NULL;
	}
	srv->base = base;
	srv->cfg = config_ref(cfg);
	srv->port_override = port_override;
	srv->fd_room = fd_room;
	TAILQ_INIT(&srv->conns);
	server_check_fd_room(srv, cfg);
	return srv;
}

size_t
server_max_clients(const struct server *srv)
{
	size_t max = (size_t)srv->cfg->max_clients;

	return max < srv->fd_room ? max : srv->fd_room;
}

/* fd is -1 when a connection waits but no descriptor is left for it. */
static void
server_on_accept(int fd, const union net_addr *peer, void *arg)
{
	struct server *srv = arg;

	if (fd == -1)
		srv->stats.rejected[REJECT_FD_LIMIT]++;
	else
		conn_accept(srv, fd, peer);
}

static int
server_port(const struct server *srv, const struct config *cfg)
{
	return srv->port_override >= 0 ? srv->port_override : cfg->port;
}

/* The index of an old listener that can serve this address, or nold. */
static size_t
server_find_listener(struct listener **old, size_t nold,
    const union net_addr *addr, int port)
{
	size_t i;

	for (i = 0; i < nold; i++)
		if (old[i] != NULL &&
		    net_same_host(listener_addr(old[i]), addr) &&
		    (port == 0 || net_port(listener_addr(old[i])) == port))
			break;
	return i;
}

/* Puts listeners back where they came from, or closes the new ones. */
static void
server_undo_listeners(struct listener **set, size_t n, struct listener **old,
    const size_t *origin, size_t nold)
{
	for (size_t i = 0; i < n; i++) {
		if (origin[i] < nold)
			old[origin[i]] = set[i];
		else
			listener_free(set[i]);
	}
}

static bool
server_may_skip(const struct config *cfg, int err)
{
	return cfg->bind_is_default &&
	    (err == EADDRNOTAVAIL || err == EAFNOSUPPORT);
}

/*
 * Builds the listener set for cfg, keeping the old listeners whose address
 * stays, so a reload never closes a socket it would reopen.  With port 0,
 * the first socket's kernel-chosen port is used for every address.  On
 * failure the old set is left as it was.
 */
static int
server_open_listeners(struct server *srv, const struct config *cfg,
    struct listener **old, size_t nold, struct listener ***setp, size_t *np,
    char *err, size_t errlen)
{
	size_t count = cfg->bind.count, n = 0;
	struct listener **set = calloc(count, sizeof(*set));
	size_t *origin = calloc(count, sizeof(*origin));
	int port = server_port(srv, cfg);

	if (set == NULL || origin == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < count; i++) {
		const char *host = cfg->bind.items[i];
		union net_addr addr;
		if (n > 0 && port == 0)
			port = net_port(listener_addr(set[0]));
		if (net_resolve(host, port, &addr) == -1) {
			snprintf(err, errlen, "cannot resolve '%s'", host);
			goto fail;
		}
		struct listener *l = NULL;
		origin[n] = server_find_listener(old, nold, &addr, port);
		if (origin[n] < nold) {
			l = old[origin[n]];
			old[origin[n]] = NULL;
			listener_set_backlog(l, cfg->backlog);
		} else {
			l = listener_open(srv->base, &addr, cfg->backlog,
			    server_on_accept, srv, err, errlen);
			if (l == NULL && server_may_skip(cfg, errno)) {
				log_warnx("skipping default address: %s", err);
				continue;
			}
			if (l == NULL)
				goto fail;
		}
		set[n++] = l;
	}
	if (n == 0) {
		snprintf(err, errlen, "no address to listen on");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (origin[i] == nold)
			log_info("listening on %s", listener_name(set[i]));
	free(origin);
	*setp = set;
	*np = n;
	return 0;
fail:
	if (set != NULL && origin != NULL)
		server_undo_listeners(set, n, old, origin, nold);
	free(set);
	free(origin);
	return -1;
}

static void
server_close_listeners(struct listener **set, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (set[i] == NULL)
			continue;
		log_info("stopped listening on %s", listener_name(set[i]));
		listener_free(set[i]);
	}
}

int
server_listen(struct server *srv, char *err, size_t errlen)
{
	return server_open_listeners(srv, srv->cfg, NULL, 0, &srv->listeners,
	    &srv->nlisteners, err, errlen);
}

/*
 * Re-reads the config file.  A valid one applies to new connections (open
 * ones keep the config they started with) and rebinds the listeners whose
 * address changed; an invalid one changes nothing.
 */
void
server_reload(struct server *srv)
{
	struct config *cfg;
	struct listener **set, **old = srv->listeners;
	size_t n, nold = srv->nlisteners;
	char err[512];

	if (srv->stopping)
		return;
	log_info("reloading %s", srv->cfg->path);
	if ((cfg = config_load(srv->cfg->path, err, sizeof(err))) == NULL) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err);
		return;
	}
	if (server_open_listeners(srv, cfg, old, nold, &set, &n, err,
		sizeof(err)) == -1) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err);
		config_unref(cfg);
		return;
	}
	/* old now holds only the listeners the new set does not keep. */
	server_close_listeners(old, nold);
	free(old);
	srv->listeners = set;
	srv->nlisteners = n;
	log_set_level((enum log_level)cfg->log_level);
	server_check_fd_room(srv, cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
	log_info("configuration reloaded");
}

static void
server_on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown timeout: closing %zu clients that did not finish",
	    srv->nconns);
	conn_close_all(&srv->conns, CLOSE_SHUTDOWN);
}

/*
 * Graceful stop: connections already queued on the listeners are accepted
 * and served, every client's pending messages are answered, and the loop
 * ends when the last client is gone or the shutdown timeout passes.
 */
void
server_stop(struct server *srv)
{
	struct timeval tv = { srv->cfg->shutdown_timeout, 0 };
	if (srv->stopping)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_drain(srv->listeners[i]);
	server_close_listeners(srv->listeners, srv->nlisteners);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
	srv->stopping = true;
	log_info("shutting down, %zu clients to finish", srv->nconns);
	conn_stop_all(&srv->conns);
	if (srv->nconns == 0) {
		event_base_loopbreak(srv->base);
		return;
	}
	srv->ev_stop_timeout =
	    evtimer_new(srv->base, server_on_stop_timeout, srv);
	if (srv->ev_stop_timeout == NULL ||
	    evtimer_add(srv->ev_stop_timeout, &tv) == -1)
		server_on_stop_timeout(-1, 0, srv);
}

void
server_conn_gone(struct server *srv)
{
	if (srv->stopping && srv->nconns == 0)
		event_base_loopbreak(srv->base);
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	conn_close_all(&srv->conns, CLOSE_SHUTDOWN);
	server_close_listeners(srv->listeners, srv->nlisteners);
	free(srv->listeners);
	if (srv->ev_stop_timeout != NULL)
		event_free(srv->ev_stop_timeout);
	buf_release(&srv->outbuf);
	iptable_free(srv->per_ip);
	config_unref(srv->cfg);
	free(srv);
}
