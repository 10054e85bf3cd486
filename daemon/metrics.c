#include "metrics.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "build_config.h"

struct metrics {
	struct evhttp *http;
	metrics_snapshot_fn snapshot;
	void *arg;
};

/* Adds one loop's counters to the snapshot. */
void
metrics_add(struct metrics_snapshot *s, const struct stats *st)
{
	s->accepted += STATS_GET(st->accepted);
	for (int i = 0; i < REJECT_REASONS; i++)
		s->rejected[i] += STATS_GET(st->rejected[i]);
	for (int i = 0; i < CLOSE_REASONS; i++)
		s->closed[i] += STATS_GET(st->closed[i]);
	for (int i = 0; i < TLS_RESULTS; i++)
		s->tls_handshakes[i] += STATS_GET(st->tls_handshakes[i]);
	s->messages += STATS_GET(st->messages);
	s->bytes_in += STATS_GET(st->bytes_in);
	s->bytes_out += STATS_GET(st->bytes_out);
}

static int metrics_printf(struct buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
metrics_printf(struct buf *out, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	return buf_append(out, line, (size_t)n);
}

/* The HELP and TYPE lines every metric family starts with. */
static int
metrics_family(struct buf *out, const char *name, const char *type,
    const char *help)
{
	return metrics_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help,
	    name, type);
}

static int
metrics_simple(struct buf *out, const char *name, const char *type,
    const char *help, uint64_t value)
{
	if (metrics_family(out, name, type, help) == -1)
		return -1;
	return metrics_printf(out, "%s %llu\n", name,
	    (unsigned long long)value);
}

static int
metrics_labelled(struct buf *out, const char *name, const char *help,
    const char *label, const char *(*word)(int), const uint64_t *values, int n)
{
	if (metrics_family(out, name, "counter", help) == -1)
		return -1;
	for (int i = 0; i < n; i++)
		if (metrics_printf(out, "%s{%s=\"%s\"} %llu\n", name, label,
			word(i), (unsigned long long)values[i]) == -1)
			return -1;
	return 0;
}

static const char *
metrics_reject_word(int i)
{
	return stats_reject_name((enum reject_reason)i);
}

static const char *
metrics_close_word(int i)
{
	return stats_close_name((enum close_reason)i);
}

static const char *
metrics_tls_word(int i)
{
	return stats_tls_name((enum tls_result)i);
}

static const char *
metrics_reload_word(int i)
{
	return i == 0 ? "ok" : "failed";
}

int
metrics_render(const struct metrics_snapshot *s, const char *version,
    struct buf *out)
{
	const uint64_t reloads[2] = { s->reloads_ok, s->reloads_failed };

	if (metrics_simple(out, "hellod_connections_accepted_total", "counter",
		"Connections accepted.", s->accepted) == -1 ||
	    metrics_simple(out, "hellod_connections_active", "gauge",
		"Connections open now.", s->active) == -1 ||
	    metrics_labelled(out, "hellod_connections_rejected_total",
		"Connections refused right after accept, by reason.", "reason",
		metrics_reject_word, s->rejected, REJECT_REASONS) == -1 ||
	    metrics_labelled(out, "hellod_connections_closed_total",
		"Connections closed, by reason.", "reason", metrics_close_word,
		s->closed, CLOSE_REASONS) == -1 ||
	    metrics_labelled(out, "hellod_tls_handshakes_total",
		"TLS handshakes, by result.", "result", metrics_tls_word,
		s->tls_handshakes, TLS_RESULTS) == -1 ||
	    metrics_simple(out, "hellod_messages_total", "counter",
		"Messages answered.", s->messages) == -1 ||
	    metrics_simple(out, "hellod_bytes_received_total", "counter",
		"Bytes read from clients.", s->bytes_in) == -1 ||
	    metrics_simple(out, "hellod_bytes_sent_total", "counter",
		"Bytes written to clients.", s->bytes_out) == -1 ||
	    metrics_labelled(out, "hellod_reloads_total",
		"Configuration reloads, by result.", "result",
		metrics_reload_word, reloads, 2) == -1 ||
	    metrics_simple(out, "hellod_listeners", "gauge",
		"Listening sockets served.", s->listeners) == -1 ||
	    metrics_simple(out, "hellod_workers", "gauge",
		"Worker event loops.", s->workers) == -1 ||
	    metrics_family(out, "hellod_uptime_seconds", "gauge",
		"Seconds since hellod started.") == -1 ||
	    metrics_printf(out, "hellod_uptime_seconds %.3f\n",
		s->uptime_seconds) == -1 ||
	    metrics_family(out, "hellod_build_info", "gauge",
		"Always 1; the version is in the label.") == -1 ||
	    metrics_printf(out, "hellod_build_info{version=\"%s\"} 1\n",
		version) == -1)
		return -1;
	return 0;
}

/* The figures as one log line, for SIGUSR1. */
int
metrics_render_line(const struct metrics_snapshot *s, char *line, size_t len)
{
	uint64_t rejected = 0, closed = 0;

	for (int i = 0; i < REJECT_REASONS; i++)
		rejected += s->rejected[i];
	for (int i = 0; i < CLOSE_REASONS; i++)
		closed += s->closed[i];
	return snprintf(line, len,
	    "stats connections=%llu active=%llu rejected=%llu closed=%llu "
	    "messages=%llu bytes_in=%llu bytes_out=%llu reloads_ok=%llu "
	    "reloads_failed=%llu workers=%llu uptime=%.0f",
	    (unsigned long long)s->accepted, (unsigned long long)s->active,
	    (unsigned long long)rejected, (unsigned long long)closed,
	    (unsigned long long)s->messages, (unsigned long long)s->bytes_in,
	    (unsigned long long)s->bytes_out, (unsigned long long)s->reloads_ok,
	    (unsigned long long)s->reloads_failed,
	    (unsigned long long)s->workers, s->uptime_seconds);
}

static void
metrics_reply(struct evhttp_request *req, int code, const char *reason,
    const char *type, const char *body, size_t len)
{
	struct evbuffer *out = evhttp_request_get_output_buffer(req);

	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", type);
	evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, NULL);
}

static void
metrics_on_request(struct evhttp_request *req, void *arg)
{
	struct metrics *mx = arg;
	struct metrics_snapshot s = { 0 };
	const char *path = evhttp_request_get_uri(req);
	struct buf body = { 0 };

	mx->snapshot(mx->arg, &s);
	if (strcmp(path, "/healthz") == 0) {
		if (s.draining)
			metrics_reply(req, 503, "Service Unavailable",
			    "text/plain", "draining\n", 9);
		else
			metrics_reply(req, 200, "OK", "text/plain", "ok\n", 3);
	} else if (strcmp(path, "/metrics") == 0) {
		if (metrics_render(&s, HELLOD_VERSION, &body) == -1)
			metrics_reply(req, 500, "Internal Server Error",
			    "text/plain", "out of memory\n", 14);
		else
			metrics_reply(req, 200, "OK",
			    "text/plain; version=0.0.4; charset=utf-8",
			    buf_head(&body), buf_size(&body));
	} else {
		metrics_reply(req, 404, "Not Found", "text/plain",
		    "not found: try /metrics or /healthz\n", 36);
	}
	buf_release(&body);
}

/* Serves the endpoint on a bound, listening socket; takes fd either way. */
struct metrics *
metrics_start(struct event_base *base, int fd, metrics_snapshot_fn snapshot,
    void *arg, char *err, size_t errlen)
{
	struct metrics *mx = calloc(1, sizeof(*mx));

	if (mx == NULL || (mx->http = evhttp_new(base)) == NULL ||
	    evhttp_accept_socket(mx->http, fd) == -1) {
		snprintf(err, errlen, "cannot serve metrics: out of memory");
		close(fd);
		metrics_free(mx);
		return NULL;
	}
	mx->snapshot = snapshot;
	mx->arg = arg;
	evhttp_set_allowed_methods(mx->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_timeout(mx->http, 10);
	evhttp_set_gencb(mx->http, metrics_on_request, mx);
	return mx;
}

void
metrics_free(struct metrics *mx)
{
	if (mx == NULL)
		return;
	if (mx->http != NULL)
		evhttp_free(mx->http);
	free(mx);
}
