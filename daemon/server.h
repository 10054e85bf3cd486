/*
 * The server: the event loop's listeners and connections, and the
 * lifecycle around them (start, reload, graceful stop).
 */
#ifndef HELLOD_SERVER_H
#define HELLOD_SERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"
#include "conn.h"
#include "stats.h"

/* Bytes read per read event: also bounds the lines handled per event. */
#define SERVER_INBUF (16 * 1024)

struct iptable;
struct listener;

struct server {
	struct event_base *base;
	struct config *cfg;
	int port_override; /* -1 when the command line gave none */
	struct listener **listeners;
	size_t nlisteners;
	struct conn_list conns;
	size_t nconns;
	bool stopping;
	bool activated; /* serving passed sockets: bind and port unused */
	struct event *ev_stop_timeout;
	struct event *ev_status;   /* STATUS= to the service manager */
	struct event *ev_watchdog; /* WATCHDOG=1 to the service manager */
	char last_status[128];
	size_t fd_room; /* clients the descriptor limit leaves room for */
	struct iptable *per_ip; /* open connections per client address */
	struct stats stats;

	/* Per-loop scratch space for the message path. */
	char inbuf[SERVER_INBUF];
	struct buf outbuf;
};

struct server *server_new(struct event_base *base, struct config *cfg,
    int port_override, size_t fd_room);
int server_listen(struct server *srv, char *err, size_t errlen);
int server_start_notify(struct server *srv, char *err, size_t errlen);
void server_notify_ready(struct server *srv);
void server_reload(struct server *srv);
void server_stop(struct server *srv);
void server_conn_gone(struct server *srv);
size_t server_max_clients(const struct server *srv);
void server_free(struct server *srv);

#endif
