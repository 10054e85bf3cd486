/*
 * One event loop's share of the service: the sockets it accepts on, the
 * connections it owns from accept to close (conn.h), and its counters.
 * Nothing here is touched by another thread but the counters, which
 * others only read.
 */
#ifndef HELLOD_SERVER_H
#define HELLOD_SERVER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "listener.h"
#include "stats.h"

struct server;
struct shared;

struct server *
server_new(struct event_base *base, struct shared *sh, struct config *cfg);
int server_watch(struct server *srv, const struct listener_fd *fds, size_t n,
    char *err, size_t errlen);
void server_set_config(struct server *srv, struct config *cfg);
void server_stop(struct server *srv);
bool server_finished(const struct server *srv);
const struct stats *server_stats(const struct server *srv);
void server_free(struct server *srv);

#endif
