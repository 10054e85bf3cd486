/*
 * The connections of one event loop, from accept to close.  The loop that
 * owns them calls in; they report back only through the drained callback,
 * once a stopping loop has none left.  conn_accept() sets a connection up;
 * every way out goes through one close path that logs why.
 */
#ifndef HELLOD_CONN_H
#define HELLOD_CONN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "net.h"
#include "stats.h"

struct conn_loop;
struct shared;

/* Told once the loop is stopping and its last connection is gone. */
typedef void (*conn_drained_fn)(void *arg);

struct conn_loop *
conn_loop_new(struct event_base *base, struct shared *sh, struct stats *stats,
    struct config *cfg, conn_drained_fn drained, void *arg);
void conn_loop_free(struct conn_loop *loop);
int conn_loop_set_config(struct conn_loop *loop, struct config *cfg);
size_t conn_count(const struct conn_loop *loop);
void conn_accept(struct conn_loop *loop, int fd, const union net_addr *peer,
    bool tls);
void conn_stop_all(struct conn_loop *loop);
void conn_close_all(struct conn_loop *loop, enum close_reason reason);

#endif
