#include "server.h"

#include <stdio.h>
#include <stdlib.h>

#include "listener.h"
#include "log.h"

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
	return srv;
}

/*
 * A libevent "common timeout" of ms milliseconds, or NULL when the loop
 * has no room for another (libevent keeps 256).  Events that share one
 * wait in a list, not in the timer heap, and wait there in the order
 * they were armed, so re-arming one after I/O moves it to the list's end
 * instead of repairing a heap that holds every connection.
 */
const struct timeval *
server_common_timeout(struct server *srv, uint64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000),
		(suseconds_t)(ms % 1000) * 1000 };

	if (srv->common_tv == NULL || srv->common_ms != ms) {
		srv->common_tv = event_base_init_common_timeout(srv->base, &tv);
		srv->common_ms = ms;
	}
	return srv->common_tv;
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
	server_unwatch(srv);
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
	server_unwatch(srv);
	if (srv->ev_stop_timeout != NULL)
		event_free(srv->ev_stop_timeout);
	buf_release(&srv->outbuf);
	config_unref(srv->cfg);
	free(srv);
}
