#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "listener.h"
#include "log.h"
#include "mono.h"

/* The least time between two passes for idle connections. */
#define SERVER_IDLE_TICK_MS 250

static void server_on_idle(evutil_socket_t fd, short what, void *arg);

struct server *
server_new(struct event_base *base, struct shared *sh, struct config *cfg)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	srv->base = base;
	srv->shared = sh;
	srv->cfg = config_ref(cfg);
	TAILQ_INIT(&srv->conns);
	srv->ev_idle = evtimer_new(base, server_on_idle, srv);
	if (srv->ev_idle == NULL) {
		server_free(srv);
		return NULL;
	}
	return srv;
}

/*
 * Idle timeouts: one timer for the loop, set for the earliest idle
 * deadline it knows of.  A read or write moves its connection's deadline
 * later and the timer stays as it is; when it fires, one pass over the
 * connections closes the idle ones and finds the next deadline.  Passes
 * come at most SERVER_IDLE_TICK_MS apart, so thousands of connections
 * going idle one after another cost a few passes a second, and an idle
 * timeout fires up to that much late.
 */
void
server_idle_at(struct server *srv, uint64_t at)
{
	struct timeval tv;

	if (srv->idle_at != 0 && srv->idle_at <= at)
		return;
	tv = mono_until(at);
	srv->idle_at = at;
	evtimer_add(srv->ev_idle, &tv);
}

static void
server_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;
	uint64_t now = mono_ms(), next;

	(void)fd;
	(void)what;
	srv->idle_at = 0;
	next = conn_sweep_idle(&srv->conns, now);
	if (next == UINT64_MAX)
		return;
	if (next < now + SERVER_IDLE_TICK_MS)
		next = now + SERVER_IDLE_TICK_MS;
	server_idle_at(srv, next);
}

/* fd is -1 when a connection waits but no descriptor is left for it. */
static void
server_on_accept(int fd, const union net_addr *peer, void *arg)
{
	struct server *srv = arg;

	if (fd == -1)
		STATS_ADD(srv->stats.rejected[REJECT_FD_LIMIT], 1);
	else
		conn_accept(srv, fd, peer);
}

static void
server_unwatch(struct server *srv)
{
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_free(srv->listeners[i]);
	free(srv->listeners);
	srv->listeners = NULL;
	srv->nlisteners = 0;
}

/* Accepts on copies of these sockets from now on, instead of the old. */
int
server_watch(struct server *srv, const int *fds, size_t n, char *err,
    size_t errlen)
{
	struct listener **set = calloc(n + 1, sizeof(*set));
	size_t i;

	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		set[i] = listener_watch(srv->base, fds[i], server_on_accept,
		    srv, err, errlen);
		if (set[i] == NULL) {
			while (i > 0)
				listener_free(set[--i]);
			free(set);
			return -1;
		}
	}
	server_unwatch(srv);
	srv->listeners = set;
	srv->nlisteners = n;
	return 0;
}

/* New connections start with cfg; open ones keep the one they had. */
void
server_set_config(struct server *srv, struct config *cfg)
{
	config_ref(cfg);
	config_unref(srv->cfg);
	srv->cfg = cfg;
}

static void
server_on_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct server *srv = arg;

	(void)fd;
	(void)what;
	log_warnx("shutdown timeout: closing %zu clients that did not finish",
	    srv->nconns);
	conn_close_all(&srv->conns, CLOSE_SHUTDOWN_TIMEOUT);
}

/*
 * Graceful stop: connections already queued on the listeners are accepted
 * and served, every client's pending messages are answered, and the loop
 * ends when the last client is gone or the shutdown timeout passes.
 */
void
server_stop(struct server *srv)
{
	uint64_t lag = mono_lag_ms();
	struct timeval tv = { srv->cfg->shutdown_timeout,
		(suseconds_t)lag * 1000 };

	if (srv->stopping)
		return;
	for (size_t i = 0; i < srv->nlisteners; i++)
		listener_drain(srv->listeners[i]);
	server_unwatch(srv);
	srv->stopping = true;
	log_info("shutting down, %zu clients to finish", srv->nconns);
	conn_stop_all(&srv->conns);
	if (srv->nconns == 0) {
		event_base_loopbreak(srv->base);
		return;
	}
	/*
	 * libevent counts a timeout from the time it read when the loop
	 * woke: read it afresh, and allow for its clock's lag, so the drain
	 * gets its full time.
	 */
	event_base_update_cache_time(srv->base);
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
	server_unwatch(srv);
	if (srv->ev_stop_timeout != NULL)
		event_free(srv->ev_stop_timeout);
	if (srv->ev_idle != NULL)
		event_free(srv->ev_idle);
	buf_release(&srv->outbuf);
	config_unref(srv->cfg);
	free(srv);
}
