#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "iptable.h"
#include "listener.h"
#include "log.h"
#include "notify.h"

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

static void
server_status(struct server *srv, char *buf, size_t len)
{
	snprintf(buf, len, "STATUS=%zu clients, %llu messages served%s",
	    srv->nconns, (unsigned long long)srv->stats.messages,
	    srv->stopping ? ", stopping" : "");
}

/* Tells the service manager hellod serves, with a live summary. */
void
server_notify_ready(struct server *srv)
{
	char status[128];

	server_status(srv, status, sizeof(status));
	notify_send("READY=1\n%s", status);
	snprintf(srv->last_status, sizeof(srv->last_status), "%s", status);
}

/* Once a second at most, and only when it changed. */
static void
server_on_status(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	char status[128];

	(void)fd;
	(void)what;
	server_status(srv, status, sizeof(status));
	if (strcmp(status, srv->last_status) == 0)
		return;
	notify_send("%s", status);
	snprintf(srv->last_status, sizeof(srv->last_status), "%s", status);
}

/* Pinged from the loop itself, so a stuck loop stops the pings. */
static void
server_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	notify_send("WATCHDOG=1");
}

static int
server_add_timer(struct server *srv, struct event **ev, uint64_t usec,
    event_callback_fn cb)
{
	struct timeval tv = { (time_t)(usec / 1000000),
		(suseconds_t)(usec % 1000000) };

	*ev = event_new(srv->base, -1, EV_PERSIST, cb, srv);
	return *ev == NULL || event_add(*ev, &tv) == -1 ? -1 : 0;
}

/* The service manager's timers: status updates and the watchdog. */
int
server_start_notify(struct server *srv, char *err, size_t errlen)
{
	uint64_t watchdog = notify_watchdog_usec();

	if (server_add_timer(srv, &srv->ev_status, 1000000, server_on_status) ==
		-1 ||
	    (watchdog > 0 &&
		server_add_timer(srv, &srv->ev_watchdog, watchdog / 2,
		    server_on_watchdog) == -1)) {
		snprintf(err, errlen, "cannot start timers: out of memory");
		return -1;
	}
	if (watchdog > 0)
		log_info("watchdog: pinging every %llu ms",
		    (unsigned long long)(watchdog / 2000));
	return 0;
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

/* Serves the sockets a service manager passed instead of binding any. */
static int
server_adopt(struct server *srv, struct activation_socket *socks, size_t n,
    char *err, size_t errlen)
{
	if ((srv->listeners = calloc(n, sizeof(*srv->listeners))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct listener *l = listener_adopt(srv->base, socks[i].fd,
		    server_on_accept, srv, err, errlen);
		if (l == NULL) {
			for (size_t j = i + 1; j < n; j++)
				close(socks[j].fd);
			return -1;
		}
		srv->listeners[srv->nlisteners++] = l;
		log_info("serving passed socket '%s' on %s", socks[i].name,
		    listener_name(l));
	}
	srv->activated = true;
	return 0;
}

/* Listens where the config says, or on the sockets passed to hellod. */
int
server_listen(struct server *srv, char *err, size_t errlen)
{
	struct activation_socket *socks;
	size_t n;
	int rc;

	if (activation_take(&socks, &n, err, errlen) == -1)
		return -1;
	if (n == 0)
		return server_open_listeners(srv, srv->cfg, NULL, 0,
		    &srv->listeners, &srv->nlisteners, err, errlen);
	rc = server_adopt(srv, socks, n, err, errlen);
	free(socks);
	return rc;
}

/* Rebinds for a new config; passed sockets stay what they are. */
static int
server_rebind(struct server *srv, const struct config *cfg, char *err,
    size_t errlen)
{
	struct listener **set, **old = srv->listeners;
	size_t n, nold = srv->nlisteners;

	if (srv->activated)
		return 0;
	if (server_open_listeners(srv, cfg, old, nold, &set, &n, err, errlen) ==
	    -1)
		return -1;
	/* old now holds only the listeners the new set does not keep. */
	server_close_listeners(old, nold);
	free(old);
	srv->listeners = set;
	srv->nlisteners = n;
	return 0;
}

/*
 * Re-reads the config file.  A valid one applies to new connections (open
 * ones keep the config they started with) and rebinds the listeners whose
 * address changed; an invalid one changes nothing.  Either way the
 * service manager hears that the reload is over.
 */
void
server_reload(struct server *srv)
{
	struct config *cfg;
	char err[512];

	if (srv->stopping)
		return;
	log_info("reloading %s", srv->cfg->path);
	notify_reloading();
	if ((cfg = config_load(srv->cfg->path, err, sizeof(err))) == NULL ||
	    server_rebind(srv, cfg, err, sizeof(err)) == -1) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err);
		config_unref(cfg);
		srv->stats.reloads_failed++;
		server_notify_ready(srv);
		return;
	}
	log_set_level((enum log_level)cfg->log_level);
	server_check_fd_room(srv, cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
	srv->stats.reloads_ok++;
	log_info("configuration reloaded");
	server_notify_ready(srv);
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
	notify_send("STOPPING=1");
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
	if (srv->ev_status != NULL)
		event_free(srv->ev_status);
	if (srv->ev_watchdog != NULL)
		event_free(srv->ev_watchdog);
	buf_release(&srv->outbuf);
	iptable_free(srv->per_ip);
	config_unref(srv->cfg);
	free(srv);
}
