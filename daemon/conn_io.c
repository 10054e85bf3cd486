/*
 * The message path and the one way out.
 *
 * Why the path looks the way it does: a read event does one recv() into
 * the loop's shared input buffer, the protocol appends every reply it
 * produces to the loop's shared output buffer, and one send() delivers
 * them all.  Only what the socket cannot take right away is copied into
 * the connection's own buffer (in its struct conn_more), and only then is
 * EV_WRITE enabled.  An idle connection therefore owns no buffer memory,
 * and a request costs one recv() and one send().
 */
#include "conn_state.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "shared.h"

static const char conn_interrupted[] = "Interrupted, goodbye\r\n";

/*
 * One line per connection, with the fields operators filter on.  Built
 * without printf: under churn it is half of what a session writes.
 */
static void
conn_log_close(const struct conn *c, enum close_reason reason,
    const char *error)
{
	struct log_line *l = log_begin(LOG_LEVEL_INFO, "close");
	char host[NET_ADDRSTRLEN], client[256];
	union net_addr peer;

	if (l == NULL)
		return;
	if (c->local) {
		uint32_t pid, uid;
		conn_credentials(c, &pid, &uid);
		log_str(l, "addr", "unix");
		log_u64(l, "pid", pid);
		log_u64(l, "uid", uid);
	} else {
		conn_peer(c, &peer);
		log_str(l, "addr", net_host(&peer, host, sizeof(host)));
		log_u64(l, "port", c->port);
	}
	log_millis(l, "duration", mono_ms() - c->started_ms);
	log_u64(l, "messages", c->proto.messages);
	log_u64(l, "bytes_in", c->bytes_in);
	log_u64(l, "bytes_out", c->bytes_out);
	if (c->tls && c->state > CONN_HANDSHAKE) {
		log_str(l, "tls", tls_version(c->more->ssl));
		if (tls_client(c->more->ssl, client, sizeof(client))[0])
			log_str(l, "client", client);
	}
	log_str(l, "reason", stats_close_name(reason));
	if (error != NULL)
		log_str(l, "error", error);
	log_end(l);
}

/* Backpressure comes and goes: worth seeing when tuning max_output. */
static void
conn_debug(const struct conn *c, const char *what, size_t bytes)
{
	char name[NET_ADDRSTRLEN];
	union net_addr peer;

	if (!log_is_enabled(LOG_LEVEL_DEBUG))
		return;
	conn_peer(c, &peer);
	log_debug("%s: %s: %zu bytes", net_format(&peer, name, sizeof(name)),
	    what, bytes);
}

/* Frees everything the connection holds and closes its socket. */
void
conn_free(struct conn *c)
{
	struct conn_loop *loop = conn_loop(c);
	union net_addr peer;

	/*
	 * Closed first: the close takes the socket out of the epoll set,
	 * and the delete libevent then asks for finds no socket and costs
	 * the kernel nothing (libevent expects it, and ignores the error).
	 */
	close(conn_fd(c));
	event_del(&c->ev);
	if (c->ip_counted) {
		conn_peer(c, &peer);
		shared_leave_ip(loop->shared, &peer);
	}
	shared_leave(loop->shared);
	if (c->more != NULL) {
		buf_release(&c->more->out);
		buf_release(&c->more->line);
		buf_release(&c->more->header);
		tls_free(c->more->ssl);
		free(c->more);
	}
	conn_home_put(c->home);
	pool_put(loop->pool, c->slot);
	if (loop->stopping && pool_count(loop->pool) == 0)
		loop->drained(loop->drained_arg);
}

/*
 * Drops what a client sent that nobody will read (a line sent before the
 * welcome, a ClientHello), so the close reaches it as an end of stream,
 * not a reset.
 */
void
conn_drop_input(struct conn *c)
{
	(void)recv(conn_fd(c), conn_loop(c)->inbuf, CONN_INBUF, MSG_DONTWAIT);
}

/* The single way out of a served connection: counts and logs why. */
static void
conn_close_with(struct conn *c, enum close_reason reason, const char *error)
{
	struct stats *stats = conn_loop(c)->stats;

	conn_log_close(c, reason, error);
	STATS_ADD(stats->closed[reason], 1);
	if (c->drain_served)
		STATS_ADD(stats->drain_served, 1);
	conn_free(c);
}

void
conn_close(struct conn *c, enum close_reason reason)
{
	conn_close_with(c, reason, NULL);
}

/* TLS failed: the handshake, or a record later on; why says how. */
void
conn_close_tls(struct conn *c, const char *why)
{
	conn_close_with(c, CLOSE_TLS_ERROR, why);
}

/*
 * Refuses a connection that was never served: a log line, and the line
 * for the client unless it is NULL (a denied client gets no word).
 */
void
conn_refuse(struct conn *c, enum reject_reason reason, const char *line)
{
	struct stats *stats = conn_loop(c)->stats;
	char name[NET_ADDRSTRLEN];
	size_t len = line != NULL ? strlen(line) : 0;
	union net_addr peer;

	conn_peer(c, &peer);
	STATS_ADD(stats->rejected[reason], 1);
	log_warnx("refused %s (%s)", net_format(&peer, name, sizeof(name)),
	    stats_reject_name(reason));
	/* Before its handshake, a TLS client could not read the line. */
	if (!c->tls && len > 0 &&
	    send(conn_fd(c), line, len, MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		STATS_ADD(stats->bytes_out, len);
	conn_drop_input(c);
	conn_free(c);
}

/* A connection that breaks the PROXY rules gets no word, only a log line. */
void
conn_refuse_proxy(struct conn *c, const char *why)
{
	char name[NET_ADDRSTRLEN], safe[256];
	union net_addr peer;

	conn_peer(c, &peer);
	STATS_ADD(conn_loop(c)->stats->rejected[REJECT_PROXY], 1);
	log_escape(safe, sizeof(safe), why, strlen(why));
	log_warnx("refused %s (proxy): %s",
	    net_format(&peer, name, sizeof(name)), safe);
	conn_drop_input(c);
	conn_free(c);
}

/*
 * TLS bends the events: a read that needs the socket writable waits for
 * that instead of input, and a write that needs it readable waits for
 * input.
 */
static short
conn_tls_events(const struct conn *c, short want)
{
	unsigned blocked = c->more->tls_blocked;

	if (blocked & CONN_TLS_WRITE_WANTS_READ)
		want = (short)((want & ~EV_WRITE) | EV_READ);
	if (blocked & CONN_TLS_READ_WANTS_WRITE)
		want = (short)((want & ~EV_READ) | EV_WRITE);
	return want;
}

/*
 * Decrypted input OpenSSL holds is a read the socket will never signal:
 * the event is made active for it, while the connection reads (want, its
 * registered events, has EV_READ) and no write waits for that read.
 */
static void
conn_tls_kick(struct conn *c, short want)
{
	if ((want & EV_READ) &&
	    !(c->more->tls_blocked & CONN_TLS_WRITE_WANTS_READ) &&
	    tls_has_pending(c->more->ssl))
		event_active(&c->ev, EV_READ, 0);
}

/*
 * Registers for exactly the events the connection's state needs.  The
 * callback stays the one conn_accept() gave.
 */
void
conn_update_events(struct conn *c)
{
	short want = EV_PERSIST, had = event_get_events(&c->ev);

	if (!c->peer_eof && !c->paused)
		want |= EV_READ;
	if (conn_pending(c) > 0)
		want |= EV_WRITE;
	if (c->tls)
		want = conn_tls_events(c, want);
	if (want != had) {
		event_del(&c->ev);
		event_assign(&c->ev, conn_loop(c)->base, conn_fd(c), want,
		    event_get_callback(&c->ev), c);
		if (c->more != NULL && c->more->timer_ms != 0)
			conn_set_timeout(c, c->more->timer_ms);
		else if (want != EV_PERSIST)
			event_add(&c->ev, NULL);
	}
	if (c->tls)
		conn_tls_kick(c, want);
}

static void
conn_close_errno(struct conn *c, const char *op)
{
	char why[160];

	if (c->tls && errno == EPROTO) {
		conn_close_tls(c, tls_failure(why, sizeof(why)));
		return;
	}
	if (errno != ECONNRESET && errno != EPIPE && errno != ETIMEDOUT)
		log_warn("%s failed", op);
	conn_close(c, CLOSE_ERROR);
}

/*
 * Notes what a TLS call waits for; the events follow when it changed.
 * errno stays the call's, for its caller to read.
 */
static void
conn_tls_blocked(struct conn *c, unsigned flag, bool blocked)
{
	unsigned was = c->more->tls_blocked;
	int saved = errno;

	c->more->tls_blocked = blocked ? was | flag : was & ~flag;
	if (c->more->tls_blocked != was)
		conn_update_events(c);
	errno = saved;
}

/*
 * recv() and send(), or their TLS counterparts on a TLS connection, with
 * the system calls' results either way, errno included.
 */
static ssize_t
conn_read_bytes(struct conn *c, void *buf, size_t len)
{
	enum tls_want want = TLS_WANT_NOTHING;
	ssize_t n;

	if (!c->tls)
		return recv(conn_fd(c), buf, len, 0);
	n = tls_recv(c->more->ssl, buf, len, &want);
	conn_tls_blocked(c, CONN_TLS_READ_WANTS_WRITE, want == TLS_WANT_WRITE);
	return n;
}

static ssize_t
conn_write_bytes(struct conn *c, const void *buf, size_t len)
{
	enum tls_want want = TLS_WANT_NOTHING;
	ssize_t n;

	if (!c->tls)
		return send(conn_fd(c), buf, len, MSG_NOSIGNAL);
	n = tls_send(c->more->ssl, buf, len, &want);
	conn_tls_blocked(c, CONN_TLS_WRITE_WANTS_READ, want == TLS_WANT_READ);
	return n;
}

/* Our side is done: TLS says so first, then TCP does. */
static void
conn_shutdown(struct conn *c, bool close_now)
{
	if (c->tls)
		tls_close_notify(c->more->ssl);
	if (!close_now)
		shutdown(conn_fd(c), SHUT_WR);
}

/*
 * Our replies are all delivered: close, or shut our side and linger.  A
 * client whose last read left its socket empty, and that was answered
 * within that read, is closed at once: close() sends a FIN as shutdown()
 * would, and with nothing unread there is no reset to spare the client.
 * Anything else lingers, reading and dropping input, so that bytes a
 * client sent after its last message cannot turn our close into a reset
 * that destroys replies it has not read yet.
 */
static void
conn_after_flush(struct conn *c, bool rx_empty)
{
	if (c->peer_eof || rx_empty) {
		conn_shutdown(c, true);
		conn_close(c, c->reason);
		return;
	}
	if (conn_more(c) == NULL) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	conn_shutdown(c, false);
	c->state = CONN_LINGERING;
	c->more->lingering_ms = mono_ms();
	conn_schedule(c);
}

/* Stops answering; the connection closes once its replies are out. */
static void
conn_end(struct conn *c, enum close_reason reason, bool rx_empty)
{
	c->reason = reason;
	c->state = CONN_FLUSHING;
	if (c->paused) {
		/* Input is drained and dropped from now on. */
		c->paused = false;
		conn_update_events(c);
	}
	if (conn_pending(c) == 0)
		conn_after_flush(c, rx_empty);
}

void
conn_finish(struct conn *c, enum close_reason reason)
{
	conn_end(c, reason, false);
}

static void
conn_sent(struct conn *c, size_t n, uint64_t now)
{
	c->bytes_out = (c->bytes_out + n) & CONN_COUNT_MAX;
	STATS_ADD(conn_loop(c)->stats->bytes_out, n);
	c->active_ms = conn_stamp(now);
	if (c->more != NULL)
		c->more->progress_ms = now;
}

/* Keeps what the socket did not take; stops reading once too much is kept. */
static int
conn_keep(struct conn *c, struct buf *pending)
{
	int rc = -1;

	if (conn_more(c) != NULL)
		rc = buf_append(&c->more->out, buf_head(pending),
		    buf_size(pending));
	buf_clear(pending);
	if (rc == -1) {
		conn_close(c, CLOSE_ERROR);
		return -1;
	}
	if (conn_pending(c) > (size_t)conn_cfg(c)->max_output &&
	    c->state == CONN_OPEN && !c->paused) {
		c->paused = true;
		conn_debug(c, "not reading: replies waiting", conn_pending(c));
	}
	conn_update_events(c);
	conn_schedule(c);
	return 0;
}

/*
 * Sends what the protocol queued in the loop's output buffer.  Returns -1
 * when the connection was closed.
 */
int
conn_send(struct conn *c)
{
	struct buf *pending = &conn_loop(c)->outbuf;

	if (buf_size(pending) == 0)
		return 0;
	if (conn_pending(c) == 0) {
		ssize_t n =
		    conn_write_bytes(c, buf_head(pending), buf_size(pending));
		if (n == -1 && errno != EAGAIN && errno != EINTR) {
			buf_clear(pending);
			conn_close_errno(c, "send");
			return -1;
		}
		if (n > 0) {
			conn_sent(c, (size_t)n, mono_ms());
			buf_consume(pending, (size_t)n);
		}
	}
	if (buf_size(pending) > 0)
		return conn_keep(c, pending);
	return 0;
}

/* Backpressure lifts once the kept replies drain below half the limit. */
static void
conn_maybe_resume(struct conn *c)
{
	struct conn_more *m = c->more;

	if (!c->paused || conn_pending(c) > (size_t)conn_cfg(c)->max_output / 2)
		return;
	c->paused = false;
	conn_debug(c, "reading again: replies waiting", conn_pending(c));
	m->input_ms = mono_ms();
	c->active_ms = conn_stamp(m->input_ms);
	if (m->line_ms != 0)
		m->line_ms = m->input_ms;
	conn_schedule(c);
}

/* Delivers kept replies when the socket is writable again. */
int
conn_flush(struct conn *c)
{
	struct buf *out = &c->more->out;
	ssize_t n = conn_write_bytes(c, buf_head(out), buf_size(out));

	if (n == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_close_errno(c, "send");
		return -1;
	}
	conn_sent(c, (size_t)n, mono_ms());
	buf_consume(out, (size_t)n);
	if (buf_size(out) == 0)
		buf_release(out);
	conn_maybe_resume(c);
	conn_update_events(c);
	if (c->state == CONN_FLUSHING && conn_pending(c) == 0) {
		conn_after_flush(c, false);
		return -1;
	}
	conn_tidy(c);
	return 0;
}

/* Queues a line of our own (a goodbye) and finishes for reason. */
int
conn_say_goodbye(struct conn *c, const char *line, size_t len,
    enum close_reason reason)
{
	if (buf_append(&conn_loop(c)->outbuf, line, len) == -1) {
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
 * rx_empty: the verdict came from a read that left the socket empty.
 */
static int
conn_act_on(struct conn *c, enum proto_status st, bool rx_empty)
{
	if (conn_send(c) == -1)
		return -1;
	switch (st) {
	case PROTO_OK:
		return 0;
	case PROTO_EXIT:
		conn_end(c, CLOSE_EXIT, rx_empty);
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

int
conn_act(struct conn *c, enum proto_status st)
{
	return conn_act_on(c, st, false);
}

/*
 * Runs the protocol on input (or, with in NULL, on the pending fragment).
 * The connection keeps the protocol's state packed (a few bytes in struct
 * conn, the unfinished line in struct conn_more); it is unpacked for the
 * call and packed again after.
 */
enum proto_status
conn_proto(struct conn *c, const char *in, size_t len)
{
	struct conn_loop *loop = conn_loop(c);
	const struct config *cfg = conn_cfg(c);
	struct conn_proto was = c->proto;
	struct proto p = {
		.messages = was.messages,
		.telnet = (unsigned char)was.telnet,
		.telnet_verb = (unsigned char)was.telnet_verb,
		.seen_eol = was.seen_eol,
	};
	enum proto_status st;

	if (c->more != NULL)
		p.line = c->more->line;
	if (in != NULL)
		st = proto_input(&p, &cfg->proto, in, len, &loop->outbuf);
	else
		st = proto_flush_fragment(&p, &cfg->proto, &loop->outbuf);
	if (p.messages != was.messages) {
		STATS_ADD(loop->stats->messages, p.messages - was.messages);
		if (c->stopping)
			c->drain_served = true;
	}
	c->proto = (struct conn_proto){
		.messages = p.messages & CONN_COUNT_MAX,
		.telnet = p.telnet & 7u,
		.seen_eol = p.seen_eol,
		.telnet_verb = p.telnet_verb,
	};
	if (c->more != NULL) {
		c->more->line = p.line;
	} else if (p.line.data != NULL) {
		if (conn_more(c) == NULL) {
			buf_release(&p.line);
			return PROTO_NOMEM;
		}
		c->more->line = p.line;
	}
	/* Notes when the unfinished line began, for line_timeout. */
	if (c->more != NULL) {
		if (buf_size(&c->more->line) == 0)
			c->more->line_ms = 0;
		else if (c->more->line_ms == 0 || p.lines > 0)
			c->more->line_ms = c->more->input_ms;
	}
	return st;
}

static void
conn_on_eof(struct conn *c)
{
	c->peer_eof = true;
	conn_update_events(c);
	switch (c->state) {
	case CONN_OPEN:
		if (conn_act(c, conn_proto(c, NULL, 0)) == 0)
			conn_finish(c, CLOSE_EOF);
		break;
	case CONN_PROXY:
	case CONN_HANDSHAKE:
	case CONN_FLUSHING:
		break;
	case CONN_LINGERING:
		conn_close(c, c->reason);
		break;
	}
}

static ssize_t
conn_count_in(struct conn *c, ssize_t n)
{
	struct stats *stats = conn_loop(c)->stats;

	if (n == -1 && (errno == EAGAIN || errno == EINTR))
		return -2;
	if (n > 0) {
		c->bytes_in = (c->bytes_in + (size_t)n) & CONN_COUNT_MAX;
		STATS_ADD(stats->bytes_in, n);
	}
	return n;
}

/*
 * One recv() per read event, at most CONN_INBUF bytes: a client that
 * floods pipelined lines gets that much work per loop turn, and every
 * other ready client gets its turn in between.  Returns the bytes read
 * (counted), 0 at end of stream, -1 on an error (errno says which), -2
 * when nothing was there after all.
 */
ssize_t
conn_recv(struct conn *c)
{
	return conn_count_in(c,
	    conn_read_bytes(c, conn_loop(c)->inbuf, CONN_INBUF));
}

/* At most len bytes off the socket itself, under TLS too. */
ssize_t
conn_recv_raw(struct conn *c, size_t len)
{
	return conn_count_in(c, recv(conn_fd(c), conn_loop(c)->inbuf, len, 0));
}

void
conn_on_readable(struct conn *c)
{
	struct conn_loop *loop = conn_loop(c);
	ssize_t n = conn_recv(c);
	uint64_t now;

	if (n == 0) {
		conn_on_eof(c);
		return;
	}
	if (n == -1)
		conn_close_errno(c, "recv");
	if (n < 0)
		return;
	if (c->state != CONN_OPEN)
		return; /* closing: input is drained and dropped */
	now = mono_ms();
	c->active_ms = conn_stamp(now);
	if (c->more != NULL)
		c->more->input_ms = now;
	/*
	 * A short read emptied a plain socket; a TLS read stops at the end
	 * of a record, whatever follows it.
	 */
	if (conn_act_on(c, conn_proto(c, loop->inbuf, (size_t)n),
		n < CONN_INBUF && !c->tls) == -1)
		return;
	conn_schedule(c);
	if (c->tls)
		conn_tls_kick(c, event_get_events(&c->ev));
}
