/*
 * The main thread's side of the service: it binds the listening sockets
 * (or takes the ones passed in), starts the worker loops, and turns
 * signals into reloads and a graceful stop.  It also speaks for the whole
 * process to the service manager.
 */
#ifndef HELLOD_MASTER_H
#define HELLOD_MASTER_H

#include <event2/event.h>
#include <stddef.h>

#include "config.h"

struct master;

struct master *master_new(struct event_base *base, struct config *cfg,
    int port_override, size_t fd_room);
int master_listen(struct master *m, char *err, size_t errlen);
int master_start(struct master *m, char *err, size_t errlen);
void master_reload(struct master *m);
void master_stop(struct master *m);
void master_log_stats(struct master *m);
void master_log_drain(struct master *m);
void master_free(struct master *m);

#endif
