#include "conn_priv.h"

#include <errno.h>
#include <event2/event_struct.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cidr.h"
#include "log.h"
#include "mono.h"
#include "proto.h"
#include "proxy.h"
#include "server.h"
#include "shared.h"

/*
 * The message path, and why it looks the way it does: a read event does
 * one recv() into the loop's shared input buffer, the protocol appends every
 * reply it produces to the loop's shared output buffer, and one send()
 * delivers them all.  Only what the socket cannot take right away is copied
 * into the connection's own buffer, and only then is EV_WRITE enabled.  An
 * idle connection therefore owns no buffer memory, and a request costs one
 * recv() and one send().
 */

static const char conn_goodbye[] = "Server shutting down, goodbye\r\n";
static const char conn_interrupted[] = "Interrupted, goodbye\r\n";

static void conn_on_io(evutil_socket_t fd, short what, void *arg);
static void conn_on_header(struct conn *c, size_t n);

/* Adds the messages answered since the last call to the server's count. */
static void
conn_count_messages(struct conn *c)
{
	STATS_ADD(c->srv->stats.messages, c->proto.messages - c->counted);
	c->counted = c->proto.messages;
}

/* One line per connection, with the fields operators filter on. */
static void
conn_log_close(const struct conn *c, enum close_reason reason)
{
	char host[NET_ADDRSTRLEN], port[8], duration[32], messages[24],
	    bytes_in[24], bytes_out[24];
	uint64_t ms = mono_ms() - c->started_ms;
	const struct log_field fields[] = {
		{ "addr", net_host(&c->peer, host, sizeof(host)), false },
		{ "port", port, true },
		{ "duration", duration, true },
		{ "messages", messages, true },
		{ "bytes_in", bytes_in, true },
		{ "bytes_out", bytes_out, true },
		{ "reason", stats_close_name(reason), false },
	};

	if (!log_is_enabled(LOG_LEVEL_INFO))
		return;
	snprintf(port, sizeof(port), "%d", net_port(&c->peer));
	snprintf(duration, sizeof(duration), "%llu.%03llu",
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000));
	snprintf(messages, sizeof(messages), "%llu",
	    (unsigned long long)c->proto.messages);
	snprintf(bytes_in, sizeof(bytes_in), "%llu",
	    (unsigned long long)c->bytes_in);
	snprintf(bytes_out, sizeof(bytes_out), "%llu",
	    (unsigned long long)c->bytes_out);
	log_event(LOG_LEVEL_INFO, "close", fields,
	    sizeof(fields) / sizeof(fields[0]));
}

/* Backpressure comes and goes: worth seeing when tuning max_output. */
static void
conn_debug(const struct conn *c, const char *what, size_t bytes)
{
	char name[NET_ADDRSTRLEN];

	if (log_is_enabled(LOG_LEVEL_DEBUG))
		log_debug("%s: %s: %zu bytes",
		    net_format(&c->peer, name, sizeof(name)), what, bytes);
}

/* Frees everything the connection holds and closes its socket. */
static void
conn_free(struct conn *c)
{
	struct server *srv = c->srv;

	event_del(&c->ev_io);
	close(c->fd);
	if (c->ip_counted)
		shared_leave_ip(srv->shared, &c->peer);
	shared_leave(srv->shared);
	proto_release(&c->proto);
	buf_release(&c->out);
	buf_release(&c->header);
	config_unref(c->cfg);
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	free(c);
	server_conn_gone(srv);
}

/* The single way out of a served connection: counts and logs why. */
static void
conn_close(struct conn *c, enum close_reason reason)
{
	conn_log_close(c, reason);
	STATS_ADD(c->srv->stats.closed[reason], 1);
	if (conn_served_in_drain(c))
		STATS_ADD(c->srv->stats.drain_served, 1);
	conn_count_messages(c);
	conn_free(c);
}

/* Refuses a connection that was never served, with one line. */
static void
conn_refuse(struct conn *c, enum reject_reason reason, const char *line)
{
	char name[NET_ADDRSTRLEN];
	size_t len = strlen(line);

	STATS_ADD(c->srv->stats.rejected[reason], 1);
	log_warnx("refused %s (%s)", net_format(&c->peer, name, sizeof(name)),
	    stats_reject_name(reason));
	if (send(c->fd, line, len, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		STATS_ADD(c->srv->stats.bytes_out, len);
	conn_free(c);
}

/* A connection that breaks the PROXY rules gets no word, only a log line. */
static void
conn_refuse_proxy(struct conn *c, const char *why)
{
	char name[NET_ADDRSTRLEN], safe[256];

	STATS_ADD(c->srv->stats.rejected[REJECT_PROXY], 1);
	log_escape(safe, sizeof(safe), why, strlen(why));
	log_warnx("refused %s (proxy): %s",
	    net_format(&c->peer, name, sizeof(name)), safe);
	conn_free(c);
}

/* Registers for exactly the events the connection's state needs. */
static void
conn_update_events(struct conn *c)
{
	short want = EV_PERSIST;

	if (!c->peer_eof && !c->paused)
		want |= EV_READ;
	if (buf_size(&c->out) > 0)
		want |= EV_WRITE;
	if (want == c->events)
		return;
	event_del(&c->ev_io);
	event_assign(&c->ev_io, c->srv->base, c->fd, want, conn_on_io, c);
	c->events = want;
	if (c->timer_ms != 0)
		conn_set_timeout(c, c->timer_ms);
	else if (want != EV_PERSIST)
		event_add(&c->ev_io, NULL);
}

static void
conn_close_errno(struct conn *c, const char *op)
{
	if (errno != ECONNRESET && errno != EPIPE && errno != ETIMEDOUT)
		log_warn("%s failed", op);
	conn_close(c, CLOSE_ERROR);
}

/* Our replies are all delivered: close, or shut our side and linger. */
static void
conn_after_flush(struct conn *c)
{
	if (c->peer_eof) {
		conn_close(c, c->reason);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGERING;
	c->lingering_ms = mono_ms();
	conn_schedule(c);
}

/* Stops answering; the connection closes once its replies are out. */
static void
conn_finish(struct conn *c, enum close_reason reason)
{
	c->reason = reason;
	c->state = CONN_FLUSHING;
	if (c->paused) {
		/* Input is drained and dropped from now on. */
		c->paused = false;
		conn_update_events(c);
	}
	if (buf_size(&c->out) == 0)
		conn_after_flush(c);
}

static void
conn_sent(struct conn *c, size_t n)
{
	c->bytes_out += n;
	STATS_ADD(c->srv->stats.bytes_out, n);
	c->progress_ms = mono_ms();
}

/*
 * Sends what the protocol queued in the loop's output buffer; keeps what
 * the socket does not take, and stops reading once too much is kept.
 * Returns -1 when the connection was closed.
 */
static int
conn_send(struct conn *c)
{
	struct buf *pending = &c->srv->outbuf;

	if (buf_size(pending) == 0)
		return 0;
	if (buf_size(&c->out) == 0) {
		ssize_t n = send(c->fd, buf_head(pending), buf_size(pending),
		    MSG_NOSIGNAL);
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			buf_clear(pending);
			conn_close_errno(c, "send");
			return -1;
		}
		if (n > 0) {
			conn_sent(c, (size_t)n);
			buf_consume(pending, (size_t)n);
		}
	}
	if (buf_size(pending) > 0) {
		int rc =
		    buf_append(&c->out, buf_head(pending), buf_size(pending));
		buf_clear(pending);
		if (rc == -1) {
			conn_close(c, CLOSE_ERROR);
			return -1;
		}
		if (buf_size(&c->out) > (size_t)c->cfg->max_output &&
		    c->state == CONN_OPEN && !c->paused) {
			c->paused = true;
			conn_debug(c, "not reading: replies waiting",
			    buf_size(&c->out));
		}
		conn_update_events(c);
		conn_schedule(c);
	}
	return 0;
}

/* Backpressure lifts once the kept replies drain below half the limit. */
static void
conn_maybe_resume(struct conn *c)
{
	if (!c->paused || buf_size(&c->out) > (size_t)c->cfg->max_output / 2)
		return;
	c->paused = false;
	conn_debug(c, "reading again: replies waiting", buf_size(&c->out));
	c->input_ms = mono_ms();
	if (c->line_ms != 0)
		c->line_ms = c->input_ms;
	conn_schedule(c);
}

/* Delivers kept replies when the socket is writable again. */
static int
conn_flush(struct conn *c)
{
	ssize_t n =
	    send(c->fd, buf_head(&c->out), buf_size(&c->out), MSG_NOSIGNAL);

	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_close_errno(c, "send");
		return -1;
	}
	conn_sent(c, (size_t)n);
	buf_consume(&c->out, (size_t)n);
	if (buf_size(&c->out) == 0)
		buf_release(&c->out);
	conn_maybe_resume(c);
	conn_update_events(c);
	if (c->state == CONN_FLUSHING && buf_size(&c->out) == 0) {
		conn_after_flush(c);
		return -1;
	}
	return 0;
}

/* Queues a line of our own (a goodbye) and finishes for reason. */
static int
conn_say_goodbye(struct conn *c, const char *line, size_t len,
    enum close_reason reason)
{
	if (buf_append(&c->srv->outbuf, line, len) == -1) {
		conn_close(c, CLOSE_ERROR);
		return -1;
	}
	if (conn_send(c) == -1)
		return -1;
	conn_finish(c, reason);
	return -1;
}

/*
 * Sends the protocol's replies and acts on its verdict.  Returns 0 while
 * the connection goes on reading, -1 once it is closing or closed.
 */
static int
conn_act(struct conn *c, enum proto_status st)
{
	conn_count_messages(c);
	if (conn_send(c) == -1)
		return -1;
	switch (st) {
	case PROTO_OK:
		return 0;
	case PROTO_EXIT:
		conn_finish(c, CLOSE_EXIT);
		break;
	case PROTO_TOO_LONG:
		conn_finish(c, CLOSE_LINE_TOO_LONG);
		break;
	case PROTO_INTERRUPT:
		return conn_say_goodbye(c, conn_interrupted,
		    sizeof(conn_interrupted) - 1, CLOSE_INTERRUPT);
	case PROTO_NOMEM:
		conn_close(c, CLOSE_ERROR);
		break;
	}
	return -1;
}

/* Notes when the unfinished line began, for line_timeout. */
static void
conn_track_line(struct conn *c, uint64_t lines_before)
{
	if (buf_size(&c->proto.line) == 0)
		c->line_ms = 0;
	else if (c->line_ms == 0 || c->proto.lines != lines_before)
		c->line_ms = c->input_ms;
}

/*
 * The drain's last step: the pending fragment, the goodbye, the close; the
 * reason tells whether the client was served during the drain.
 */
static void
conn_stop_now(struct conn *c)
{
	enum proto_status st = PROTO_OK;

	if (proto_has_fragment(&c->proto, &c->cfg->proto))
		st = proto_flush_fragment(&c->proto, &c->cfg->proto,
		    &c->srv->outbuf);
	if (conn_act(c, st) == 0)
		conn_say_goodbye(c, conn_goodbye, sizeof(conn_goodbye) - 1,
		    conn_served_in_drain(c) ? CLOSE_SHUTDOWN
					    : CLOSE_SHUTDOWN_IDLE);
}

static void
conn_on_eof(struct conn *c)
{
	c->peer_eof = true;
	conn_update_events(c);
	switch (c->state) {
	case CONN_PROXY:
		conn_refuse_proxy(c, "closed before its PROXY header");
		break;
	case CONN_OPEN:
		if (conn_act(c,
			proto_finish(&c->proto, &c->cfg->proto,
			    &c->srv->outbuf)) == 0)
			conn_finish(c, CLOSE_EOF);
		break;
	case CONN_FLUSHING:
		break;
	case CONN_LINGERING:
		conn_close(c, c->reason);
		break;
	}
}

/*
 * One recv() per read event, at most SERVER_INBUF bytes: a client that
 * floods pipelined lines gets that much work per loop turn, and every
 * other ready client gets its turn in between.
 */
static void
conn_on_readable(struct conn *c)
{
	size_t want = SERVER_INBUF;
	uint64_t lines;
	ssize_t n;

	n = recv(c->fd, c->srv->inbuf, want, 0);
	if (n == 0) {
		conn_on_eof(c);
		return;
	}
	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return;
		if (c->state == CONN_PROXY)
			conn_refuse_proxy(c, "reset before its PROXY header");
		else
			conn_close_errno(c, "recv");
		return;
	}
	c->bytes_in += (size_t)n;
	STATS_ADD(c->srv->stats.bytes_in, n);
	if (c->state == CONN_PROXY) {
		conn_on_header(c, (size_t)n);
		return;
	}
	if (c->state != CONN_OPEN)
		return; /* closing: input is drained and dropped */
	c->input_ms = mono_ms();
	lines = c->proto.lines;
	if (conn_act(c,
		proto_input(&c->proto, &c->cfg->proto, c->srv->inbuf, (size_t)n,
		    &c->srv->outbuf)) == -1)
		return;
	conn_track_line(c, lines);
	conn_schedule(c);
}

static void
conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if (what & EV_TIMEOUT) {
		conn_on_timeout(c);
		return;
	}
	/*
	 * libevent has re-armed the timeout from now, as it does for a
	 * persistent event after I/O.  Put it back at the deadline: activity
	 * must not postpone a linger, a write or a PROXY deadline.
	 */
	if (c->timer_ms != 0)
		conn_set_timeout(c, c->timer_ms);
	if ((what & EV_WRITE) && conn_flush(c) == -1)
		return;
	if (what & EV_READ)
		conn_on_readable(c);
}

static void conn_goodbyef(struct conn *c, enum close_reason reason,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A goodbye line that says why the server is closing the connection. */
static void
conn_goodbyef(struct conn *c, enum close_reason reason, const char *fmt, ...)
{
	char line[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	conn_say_goodbye(c, line, (size_t)n, reason);
}

/* Acts on the deadline that passed; returns -1 once closing or closed. */
int
conn_expire(struct conn *c, enum conn_due due)
{
	switch (due) {
	case DUE_FRAGMENT:
		c->line_ms = 0;
		return conn_act(c,
		    proto_flush_fragment(&c->proto, &c->cfg->proto,
			&c->srv->outbuf));
	case DUE_IDLE:
		if (c->state == CONN_OPEN)
			conn_goodbyef(c, CLOSE_IDLE,
			    "Error: idle for %d seconds, goodbye\r\n",
			    c->cfg->idle_timeout);
		else
			conn_close(c, CLOSE_IDLE);
		return -1;
	case DUE_LINE:
		conn_goodbyef(c, CLOSE_LINE_TIMEOUT,
		    "Error: line not finished within %d seconds, goodbye\r\n",
		    c->cfg->line_timeout);
		return -1;
	case DUE_WRITE:
		conn_close(c, CLOSE_WRITE_TIMEOUT);
		return -1;
	case DUE_LINGER:
		conn_close(c, c->reason);
		return -1;
	case DUE_PROXY:
		conn_refuse_proxy(c, "no PROXY header in time");
		return -1;
	case DUE_DRAIN:
		conn_stop_now(c);
		return -1;
	case DUE_NONE:
		break;
	}
	return 0;
}

/* Refuses a connection with one line, before it costs anything more. */
static void
conn_reject(struct server *srv, int fd, const union net_addr *peer,
    enum reject_reason reason, const char *line)
{
	char name[NET_ADDRSTRLEN];

	STATS_ADD(srv->stats.rejected[reason], 1);
	log_warnx("refused %s (%s)", net_format(peer, name, sizeof(name)),
	    stats_reject_name(reason));
	if (send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		STATS_ADD(srv->stats.bytes_out, strlen(line));
	close(fd);
}

/* Counts the client's address in, or refuses it with one line. */
static bool
conn_admit_ip(struct conn *c)
{
	switch (shared_enter_ip(c->srv->shared, c->cfg, &c->peer)) {
	case SHARED_ADMITTED:
		c->ip_counted = true;
		return true;
	case SHARED_PER_IP:
		conn_refuse(c, REJECT_PER_IP,
		    "Error: too many connections from your address, try "
		    "again later\r\n");
		return false;
	case SHARED_BUSY:
		break;
	}
	conn_refuse(c, REJECT_BUSY, "Error: server busy, try again later\r\n");
	return false;
}

static void
conn_log_connect(const struct conn *c, const union net_addr *via)
{
	char name[NET_ADDRSTRLEN], lb[NET_ADDRSTRLEN];

	if (!log_is_enabled(LOG_LEVEL_INFO))
		return;
	if (via == NULL)
		log_info("connection from %s",
		    net_format(&c->peer, name, sizeof(name)));
	else
		log_info("connection from %s via %s",
		    net_format(&c->peer, name, sizeof(name)),
		    net_format(via, lb, sizeof(lb)));
}

/* The client is in: the welcome, and anything it already sent. */
static void
conn_greet(struct conn *c, const char *early, size_t len)
{
	struct buf *pending = &c->srv->outbuf;
	uint64_t idle;

	c->state = CONN_OPEN;
	STATS_ADD(c->srv->stats.accepted, 1);
	/*
	 * The idle deadline starts here.  Later reads and writes only move
	 * it later, so the loop's idle timer needs telling just this once.
	 */
	if ((idle = conn_idle_deadline(c)) != UINT64_MAX)
		server_idle_at(c->srv, idle);
	if (buf_append(pending, c->cfg->welcome_line,
		c->cfg->welcome_line_len) == -1) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	if (len > 0) {
		uint64_t lines = c->proto.lines;
		if (conn_act(c,
			proto_input(&c->proto, &c->cfg->proto, early, len,
			    pending)) == -1)
			return;
		conn_track_line(c, lines);
	} else if (conn_send(c) == -1) {
		return;
	}
	if (c->stopping) {
		/* The server stopped while it waited: its grace starts now. */
		c->input_ms = mono_ms();
		conn_reschedule(c);
		return;
	}
	conn_schedule(c);
}

static bool
conn_is_trusted(const struct config *cfg, const union net_addr *peer)
{
	for (size_t i = 0; i < cfg->ntrusted; i++)
		if (cidr_match(&cfg->trusted[i], peer))
			return true;
	return false;
}

/*
 * Bytes of a PROXY header: kept until the header is whole (it may come in
 * pieces), then the carried address replaces the balancer's, and whatever
 * followed the header is the client's first input.
 */
static void
conn_on_header(struct conn *c, size_t n)
{
	struct proxy_header h;
	union net_addr via = c->peer;
	char why[128];

	if (buf_append(&c->header, c->srv->inbuf, n) == -1) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	switch (proxy_parse(buf_head(&c->header), buf_size(&c->header), &h, why,
	    sizeof(why))) {
	case PROXY_NEED_MORE:
		return;
	case PROXY_INVALID:
		conn_refuse_proxy(c, why);
		return;
	case PROXY_DONE:
		break;
	}
	if (!h.local)
		c->peer = h.src;
	conn_log_connect(c, &via);
	if (!conn_admit_ip(c))
		return;
	/* What followed the header goes through the scratch buffer. */
	size_t rest = buf_size(&c->header) - h.len;
	memcpy(c->srv->inbuf, buf_head(&c->header) + h.len, rest);
	buf_release(&c->header);
	conn_greet(c, c->srv->inbuf, rest);
}

void
conn_accept(struct server *srv, int fd, const union net_addr *peer)
{
	struct conn *c;

	if (shared_enter(srv->shared, srv->cfg) != SHARED_ADMITTED) {
		conn_reject(srv, fd, peer, REJECT_BUSY,
		    "Error: server busy, try again later\r\n");
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		shared_leave(srv->shared);
		conn_reject(srv, fd, peer, REJECT_BUSY,
		    "Error: server busy, try again later\r\n");
		return;
	}
	c->srv = srv;
	c->cfg = config_ref(srv->cfg);
	c->fd = fd;
	c->peer = *peer;
	c->started_ms = c->input_ms = c->progress_ms = mono_ms();
	c->events = EV_READ | EV_PERSIST;
	event_assign(&c->ev_io, srv->base, fd, c->events, conn_on_io, c);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;

	event_add(&c->ev_io, NULL);
	if (!c->cfg->proxy_protocol) {
		conn_log_connect(c, NULL);
		if (conn_admit_ip(c))
			conn_greet(c, NULL, 0);
		return;
	}
	if (!conn_is_trusted(c->cfg, peer)) {
		conn_refuse_proxy(c, "not a trusted proxy address");
		return;
	}
	c->state = CONN_PROXY;
	conn_schedule(c);
}

/*
 * Graceful shutdown, the lame-duck drain: the client is served as usual,
 * and told goodbye once it has been quiet for drain_grace_ms (a deadline
 * of its own, DUE_DRAIN), so one that connected just before the stop, or
 * is between two messages, gets its answers.  One quiet for longer than
 * that already goes at once, so a stop with thousands of idle clients is
 * quick.  Bytes already in the socket's receive buffer count as just
 * sent.  shutdown_timeout ends the drain for everyone (server_stop()).
 */
static void
conn_stop(struct conn *c)
{
	int queued = 0;

	if (c->state == CONN_LINGERING) {
		conn_close(c, c->reason); /* nothing left to deliver */
		return;
	}
	if (c->state == CONN_PROXY) {
		/* Greeted and drained like the others once its header comes. */
		c->stopping = true;
		return;
	}
	if (c->state != CONN_OPEN || c->stopping)
		return;
	c->stopping = true;
	c->stop_messages = c->proto.messages;
	if (ioctl(c->fd, FIONREAD, &queued) == 0 && queued > 0)
		c->input_ms = mono_ms();
	else if (conn_drain_deadline(c) <= mono_ms()) {
		conn_stop_now(c);
		return;
	}
	conn_reschedule(c);
}

void
conn_stop_all(struct conn_list *list)
{
	struct conn *c, *next;

	for (c = TAILQ_FIRST(list); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		conn_stop(c);
	}
}

void
conn_close_all(struct conn_list *list, enum close_reason reason)
{
	while (!TAILQ_EMPTY(list))
		conn_close(TAILQ_FIRST(list), reason);
}
