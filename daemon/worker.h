/*
 * A worker: one thread running one event loop, which owns its connections
 * end to end.  The main thread talks to it only through worker_post() and
 * worker_stop(), which hand over a new config, sockets or the stop, and
 * wake the loop.  Started with a host loop, a worker has no thread and
 * serves in that loop; the same calls then act at once.
 */
#ifndef HELLOD_WORKER_H
#define HELLOD_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "listener.h"
#include "stats.h"

struct event_base;
struct shared;
struct worker;

struct worker *worker_start(struct shared *sh, struct config *cfg,
    const struct listener_fd *fds, size_t n, struct event_base *host,
    uint64_t heartbeat_usec, char *err, size_t errlen);
void worker_post(struct worker *w, struct config *cfg,
    const struct listener_fd *fds, size_t n);
void worker_wait(struct worker *w);
void worker_stop(struct worker *w);
uint64_t worker_idle_usec(const struct worker *w);
bool worker_finished(const struct worker *w);
const struct stats *worker_stats(const struct worker *w);
void worker_free(struct worker *w);

#endif
