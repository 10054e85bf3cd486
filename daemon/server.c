#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "conn.h"
#include "listener.h"
#include "log.h"
#include "mono.h"

struct server {
	struct event_base *base;
	struct config *cfg; /* for the shutdown timeout */
	struct listener **listeners;
	size_t nlisteners;
	struct conn_loop *conns;
	bool stopping;
	struct event *ev_stop_timeout;
	struct stats stats;
};

/* The connections' word that a stopping loop has none left. */
static void
server_on_drained(void *arg)
{
	struct server *srv = arg;

	event_base_loopbreak(srv->base);
}

struct server *
server_new(struct event_base *base, struct shared *sh, struct config *cfg)
{
	struct server *srv = calloc(1, sizeof(*srv));

	if (srv == NULL)
		return NULL;
	srv->base = base;
	srv->cfg = config_ref(cfg);
	srv->conns =
	    conn_loop_new(base, sh, &srv->stats, cfg, server_on_drained, srv);
	if (srv->conns == NULL) {
		server_free(srv);
		return NULL;
	}
	return srv;
}

/* fd is -1 when a connection waits but no descriptor is left for it. */
static void
server_on_accept(int fd, const union net_addr *peer, bool tls, void *arg)
{
	struct server *srv = arg;

	if (fd == -1)
		STATS_ADD(srv->stats.rejected[REJECT_FD_LIMIT], 1);
	else
		conn_accept(srv->conns, fd, peer, tls);
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
server_watch(struct server *srv, const struct listener_fd *fds, size_t n,
    char *err, size_t errlen)
{
	struct listener **set = calloc(n + 1, sizeof(*set));
	size_t i;

	if (set == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < n; i++) {
		set[i] = listener_watch(srv->base, &fds[i], server_on_accept,
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
	if (conn_loop_set_config(srv->conns, cfg) == -1) {
		log_error("out of memory: a worker keeps its configuration");
		return;
	}
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
	    conn_count(srv->conns));
	conn_close_all(srv->conns, CLOSE_SHUTDOWN_TIMEOUT);
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
	log_info("shutting down, %zu clients to finish",
	    conn_count(srv->conns));
	conn_stop_all(srv->conns);
	if (conn_count(srv->conns) == 0) {
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

bool
server_finished(const struct server *srv)
{
	return srv->stopping && conn_count(srv->conns) == 0;
}

const struct stats *
server_stats(const struct server *srv)
{
	return &srv->stats;
}

void
server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	conn_loop_free(srv->conns);
	server_unwatch(srv);
	if (srv->ev_stop_timeout != NULL)
		event_free(srv->ev_stop_timeout);
	config_unref(srv->cfg);
	free(srv);
}
