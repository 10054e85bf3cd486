/*
 * The metrics endpoint: GET /metrics in the Prometheus text exposition
 * format and GET /healthz, served by libevent's evhttp from the main
 * thread, and the same figures as one log line for SIGUSR1.  Rendering is
 * pure (a snapshot in, text out), so it is unit-tested without sockets.
 */
#ifndef HELLOD_METRICS_H
#define HELLOD_METRICS_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "stats.h"

struct metrics_snapshot {
	uint64_t accepted;
	uint64_t rejected[REJECT_REASONS];
	uint64_t closed[CLOSE_REASONS];
	uint64_t tls_handshakes[TLS_RESULTS];
	uint64_t messages;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t active;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	uint64_t listeners;
	uint64_t workers;
	double uptime_seconds;
	bool draining;
};

typedef void (*metrics_snapshot_fn)(void *arg, struct metrics_snapshot *s);

struct metrics;

void metrics_add(struct metrics_snapshot *s, const struct stats *st);
int metrics_render(const struct metrics_snapshot *s, const char *version,
    struct buf *out);
int
metrics_render_line(const struct metrics_snapshot *s, char *line, size_t len);
struct metrics *metrics_start(struct event_base *base, int fd,
    metrics_snapshot_fn snapshot, void *arg, char *err, size_t errlen);
void metrics_free(struct metrics *mx);

#endif
