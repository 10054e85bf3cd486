/*
 * One event loop's share of the service: the sockets it accepts on, the
 * connections it owns from accept to close, and its counters.  Nothing
 * here is touched by another thread but the counters, which others only
 * read.
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

struct listener;
struct shared;

struct server {
	struct event_base *base;
	struct shared *shared;
	struct config *cfg; /* for new connections */
	struct listener **listeners;
	size_t nlisteners;
	struct conn_list conns;
	size_t nconns;
	bool stopping;
	struct event *ev_stop_timeout;
	struct event *ev_idle; /* see server_idle_at() */
	uint64_t idle_at;      /* when ev_idle fires, or 0 */
	struct stats stats;

	/* Scratch space for the message path. */
	char inbuf[SERVER_INBUF];
	struct buf outbuf;
};

struct server *
server_new(struct event_base *base, struct shared *sh, struct config *cfg);
int server_watch(struct server *srv, const int *fds, size_t n, char *err,
    size_t errlen);
void server_set_config(struct server *srv, struct config *cfg);
void server_stop(struct server *srv);
void server_conn_gone(struct server *srv);
void server_idle_at(struct server *srv, uint64_t at);
void server_free(struct server *srv);

#endif
