/*
 * A connection's life around the message path: accept, the PROXY header,
 * the greeting, deadlines acted on, the drain; and what the loop does for
 * all its connections at once (the idle timer, stop, close).
 */
#include "conn_state.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "cidr.h"
#include "log.h"
#include "proxy.h"
#include "shared.h"

/* The least time between two passes for idle connections. */
#define CONN_IDLE_TICK_MS 250

static const char conn_goodbye[] = "Server shutting down, goodbye\r\n";
static const char conn_busy[] = "Error: server busy, try again later\r\n";

static void conn_on_idle(evutil_socket_t fd, short what, void *arg);

static struct conn_home *
conn_home_new(struct conn_loop *loop, struct config *cfg)
{
	struct conn_home *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->loop = loop;
	h->cfg = config_ref(cfg);
	h->refs = 1;
	return h;
}

struct conn_loop *
conn_loop_new(struct event_base *base, struct shared *sh, struct stats *stats,
    struct config *cfg, conn_drained_fn drained, void *arg)
{
	struct conn_loop *loop = calloc(1, sizeof(*loop));

	if (loop == NULL)
		return NULL;
	loop->base = base;
	loop->shared = sh;
	loop->stats = stats;
	loop->drained = drained;
	loop->drained_arg = arg;
	if ((loop->pool = pool_new(sizeof(struct conn))) == NULL ||
	    (loop->home = conn_home_new(loop, cfg)) == NULL ||
	    (loop->ev_idle = evtimer_new(base, conn_on_idle, loop)) == NULL) {
		conn_loop_free(loop);
		return NULL;
	}
	return loop;
}

void
conn_loop_free(struct conn_loop *loop)
{
	if (loop == NULL)
		return;
	if (loop->pool != NULL)
		conn_close_all(loop, CLOSE_SHUTDOWN);
	if (loop->ev_idle != NULL)
		event_free(loop->ev_idle);
	conn_home_put(loop->home);
	pool_free(loop->pool);
	buf_release(&loop->outbuf);
	free(loop);
}

/* New connections start with cfg; open ones keep the one they had. */
int
conn_loop_set_config(struct conn_loop *loop, struct config *cfg)
{
	struct conn_home *h = conn_home_new(loop, cfg);

	if (h == NULL)
		return -1;
	conn_home_put(loop->home);
	loop->home = h;
	return 0;
}

size_t
conn_count(const struct conn_loop *loop)
{
	return pool_count(loop->pool);
}

/*
 * Idle timeouts: one timer for the loop, set for the earliest idle
 * deadline it knows of.  A read or write moves its connection's deadline
 * later and the timer stays as it is; when it fires, one pass over the
 * connections closes the idle ones and finds the next deadline.  Passes
 * come at most CONN_IDLE_TICK_MS apart, so thousands of connections
 * going idle one after another cost a few passes a second, and an idle
 * timeout fires up to that much late.
 */
static void
conn_idle_at(struct conn_loop *loop, uint64_t at)
{
	struct timeval tv;

	if (loop->idle_at != 0 && loop->idle_at <= at)
		return;
	tv = mono_until(at);
	loop->idle_at = at;
	evtimer_add(loop->ev_idle, &tv);
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

/*
 * The drain's last step: the pending fragment, the goodbye, the close; the
 * reason tells whether the client was served during the drain.
 */
static void
conn_stop_now(struct conn *c)
{
	enum proto_status st = PROTO_OK;

	if (conn_has_fragment(c))
		st = conn_proto(c, NULL, 0);
	if (conn_act(c, st) == 0)
		conn_say_goodbye(c, conn_goodbye, sizeof(conn_goodbye) - 1,
		    c->drain_served ? CLOSE_SHUTDOWN : CLOSE_SHUTDOWN_IDLE);
}

/* Acts on the deadline that passed; returns -1 once closing or closed. */
static int
conn_expire(struct conn *c, enum conn_due due)
{
	const struct config *cfg = conn_cfg(c);

	switch (due) {
	case DUE_FRAGMENT:
		c->more->line_ms = 0;
		return conn_act(c, conn_proto(c, NULL, 0));
	case DUE_IDLE:
		if (c->state == CONN_OPEN)
			conn_goodbyef(c, CLOSE_IDLE,
			    "Error: idle for %d seconds, goodbye\r\n",
			    cfg->idle_timeout);
		else
			conn_close(c, CLOSE_IDLE);
		return -1;
	case DUE_LINE:
		conn_goodbyef(c, CLOSE_LINE_TIMEOUT,
		    "Error: line not finished within %d seconds, goodbye\r\n",
		    cfg->line_timeout);
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
	case DUE_HANDSHAKE:
		STATS_ADD(conn_loop(c)
			      ->stats->tls_handshakes[TLS_HANDSHAKE_TIMEOUT],
		    1);
		conn_close_tls(c, "no TLS handshake in time");
		return -1;
	case DUE_NONE:
		break;
	}
	return 0;
}

static void
conn_on_timeout(struct conn *c)
{
	enum conn_due due;
	uint64_t when = conn_deadline(c, &due);

	if (due != DUE_NONE && when <= mono_ms()) {
		if (conn_expire(c, due) == -1)
			return;
		when = conn_deadline(c, &due);
	}
	/* libevent has armed it again: set it right, or drop it. */
	if (due == DUE_NONE)
		conn_clear_timeout(c);
	else
		conn_set_timeout(c, when);
	conn_tidy(c);
}

/*
 * Closes the connections idle since before now, and returns the earliest
 * idle deadline of the others (UINT64_MAX if none has one), or now when
 * it closed any, to be called again soon.  One timer for all of a loop's
 * connections, so the idle timeout, which every connection has, costs
 * nothing per read or write.
 */
static uint64_t
conn_sweep_idle(struct conn_loop *loop, uint64_t now)
{
	uint64_t earliest = UINT64_MAX;
	bool expired = false;
	struct conn *c;

	for (uint32_t i = 0; i < pool_end(loop->pool); i++) {
		if ((c = pool_at(loop->pool, i)) == NULL)
			continue;
		uint64_t at = conn_idle_deadline(c);
		if (at <= now) {
			conn_expire(c, DUE_IDLE);
			expired = true;
		} else if (at < earliest) {
			earliest = at;
		}
	}
	/*
	 * A client told goodbye may still hold replies it is not taking; the
	 * next pass closes it, if it is still there.
	 */
	return expired ? now : earliest;
}

static void
conn_on_idle(evutil_socket_t fd, short what, void *arg)
{
	struct conn_loop *loop = arg;
	uint64_t now = mono_ms(), next;

	(void)fd;
	(void)what;
	loop->idle_at = 0;
	next = conn_sweep_idle(loop, now);
	if (next == UINT64_MAX)
		return;
	if (next < now + CONN_IDLE_TICK_MS)
		next = now + CONN_IDLE_TICK_MS;
	conn_idle_at(loop, next);
}

static void
conn_log_connect(const struct conn *c, const union net_addr *via)
{
	char line[2 * NET_ADDRSTRLEN + 32] = "connection from ";
	size_t n = strlen(line);
	union net_addr peer;

	if (!log_is_enabled(LOG_LEVEL_INFO))
		return;
	if (c->local) {
		uint32_t pid, uid;
		conn_credentials(c, &pid, &uid);
		log_info("connection from unix pid=%u uid=%u", pid, uid);
		return;
	}
	conn_peer(c, &peer);
	n += strlen(net_format(&peer, line + n, NET_ADDRSTRLEN));
	if (via != NULL) {
		memcpy(line + n, " via ", 6);
		net_format(via, line + n + 5, NET_ADDRSTRLEN);
	}
	log_message(LOG_LEVEL_INFO, line);
}

/*
 * Lets the client's address in, or refuses it with one line: the access
 * rules, then its connection rate and its count of open connections.  A
 * refused client leaves no connect line, so a flood of refusals logs only
 * the refusals, whose repeats the log cuts.
 */
static bool
conn_admit(struct conn *c, const union net_addr *via)
{
	const struct config *cfg = conn_cfg(c);
	union net_addr peer;

	if (c->local) {
		/* The socket file's mode says who may connect. */
		conn_log_connect(c, via);
		return true;
	}
	conn_peer(c, &peer);
	if (!access_allows(&cfg->access, &peer)) {
		conn_refuse(c, REJECT_DENIED, NULL);
		return false;
	}
	switch (shared_enter_ip(conn_loop(c)->shared, cfg, &peer, mono_ms())) {
	case SHARED_ADMITTED:
		c->ip_counted = true;
		conn_log_connect(c, via);
		return true;
	case SHARED_RATE:
		conn_refuse(c, REJECT_RATE,
		    "Error: too many new connections from your address, try "
		    "again later\r\n");
		return false;
	case SHARED_PER_IP:
		conn_refuse(c, REJECT_PER_IP,
		    "Error: too many connections from your address, try "
		    "again later\r\n");
		return false;
	case SHARED_BUSY:
		break;
	}
	conn_refuse(c, REJECT_BUSY, conn_busy);
	return false;
}

/* The client is in: the welcome, and anything it already sent. */
static void
conn_greet(struct conn *c, const char *early, size_t len)
{
	struct conn_loop *loop = conn_loop(c);
	const struct config *cfg = conn_cfg(c);
	uint64_t idle;

	c->state = CONN_OPEN;
	STATS_ADD(loop->stats->accepted, 1);
	if (c->tls || cfg->proxy_protocol) {
		/* Idle and stuck-reply times count from the welcome. */
		uint64_t now = mono_ms();
		c->active_ms = conn_stamp(now);
		if (c->more != NULL)
			c->more->input_ms = c->more->progress_ms = now;
	}
	/*
	 * The idle deadline starts here.  Later reads and writes only move
	 * it later, so the loop's idle timer needs telling just this once.
	 */
	if ((idle = conn_idle_deadline(c)) != UINT64_MAX)
		conn_idle_at(loop, idle);
	if (buf_append(&loop->outbuf, cfg->welcome_line,
		cfg->welcome_line_len) == -1) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	if (len > 0) {
		if (conn_act(c, conn_proto(c, early, len)) == -1)
			return;
	} else if (conn_send(c) == -1) {
		return;
	}
	if (c->stopping) {
		/* The server stopped while it waited: its grace starts now. */
		c->more->input_ms = mono_ms();
		conn_reschedule(c);
		return;
	}
	conn_schedule(c);
}

/*
 * The TLS handshake, a step each time the socket is ready for what it
 * waits on; the welcome follows it.
 */
static void
conn_tls_step(struct conn *c)
{
	struct stats *stats = conn_loop(c)->stats;
	enum tls_want want = TLS_WANT_NOTHING;
	char why[256];

	switch (tls_handshake(c->more->ssl, &want, why, sizeof(why))) {
	case 0:
		STATS_ADD(stats->tls_handshakes[TLS_HANDSHAKE_OK], 1);
		c->more->tls_blocked = 0;
		conn_update_events(c);
		conn_greet(c, NULL, 0);
		return;
	case -1:
		c->more->tls_blocked =
		    want == TLS_WANT_WRITE ? CONN_TLS_READ_WANTS_WRITE : 0;
		conn_update_events(c);
		return;
	default:
		STATS_ADD(stats->tls_handshakes[TLS_HANDSHAKE_FAILED], 1);
		conn_drop_input(c);
		conn_close_tls(c, why);
	}
}

/*
 * An admitted client: greeted now, or on a TLS connection once its
 * handshake is done.  A ClientHello is usually waiting already, so the
 * first step is taken at once.
 */
static void
conn_start(struct conn *c, const char *early, size_t len)
{
	struct ssl_ctx_st *ctx = conn_cfg(c)->tls;

	if (!c->tls) {
		conn_greet(c, early, len);
		return;
	}
	if (ctx == NULL) {
		conn_close_tls(c, "tls_certificate is not set");
		return;
	}
	if (conn_more(c) == NULL ||
	    (c->more->ssl = tls_new(ctx, conn_fd(c))) == NULL) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	c->state = CONN_HANDSHAKE;
	conn_reschedule(c);
	conn_tls_step(c);
}

static void
conn_set_peer(struct conn *c, const union net_addr *peer)
{
	struct ucred cred = { 0, (uid_t)-1, (gid_t)-1 };
	socklen_t len = sizeof(cred);
	uint32_t pid, uid;

	c->local = peer->sa.sa_family == AF_UNIX;
	c->ipv6 = peer->sa.sa_family == AF_INET6;
	c->port = 0;
	if (c->local) {
		/* The kernel's word on who connected; never fails on AF_UNIX.
		 */
		getsockopt(conn_fd(c), SOL_SOCKET, SO_PEERCRED, &cred, &len);
		pid = (uint32_t)cred.pid;
		uid = (uint32_t)cred.uid;
		memcpy(c->addr, &pid, sizeof(pid));
		memcpy(c->addr + 4, &uid, sizeof(uid));
	} else if (c->ipv6) {
		memcpy(c->addr, &peer->sin6.sin6_addr, 16);
		c->port = ntohs(peer->sin6.sin6_port);
	} else {
		memcpy(c->addr, &peer->sin.sin_addr, 4);
		c->port = ntohs(peer->sin.sin_port);
	}
}

/*
 * Bytes of a PROXY header: kept until the header is whole (it may come in
 * pieces), then the carried address replaces the balancer's, and whatever
 * followed the header is the client's first input.
 */
static void
conn_on_header(struct conn *c, size_t n)
{
	struct conn_loop *loop = conn_loop(c);
	struct buf *header = &c->more->header;
	struct proxy_header h;
	union net_addr via;
	char why[128];

	if (buf_append(header, loop->inbuf, n) == -1) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	switch (proxy_parse(buf_head(header), buf_size(header), &h, why,
	    sizeof(why))) {
	case PROXY_NEED_MORE:
		return;
	case PROXY_INVALID:
		conn_refuse_proxy(c, why);
		return;
	case PROXY_DONE:
		break;
	}
	conn_peer(c, &via);
	if (!h.local)
		conn_set_peer(c, &h.src);
	if (!conn_admit(c, &via))
		return;
	/* What followed the header goes through the scratch buffer. */
	size_t rest = buf_size(header) - h.len;
	memcpy(loop->inbuf, buf_head(header) + h.len, rest);
	buf_release(header);
	conn_start(c, loop->inbuf, rest);
}

/*
 * On a TLS connection the bytes after the PROXY header are the handshake,
 * which OpenSSL reads from the socket itself: the input is looked at
 * first, and only the header's bytes are taken.  Until the header is
 * whole, every byte there is the header's.
 */
static ssize_t
conn_peek_header(struct conn *c)
{
	struct conn_loop *loop = conn_loop(c);
	struct buf *header = &c->more->header;
	ssize_t n = recv(conn_fd(c), loop->inbuf, CONN_INBUF, MSG_PEEK);
	struct proxy_header h;
	size_t take;
	char why[128];

	if (n <= 0)
		return n == -1 && (errno == EAGAIN || errno == EINTR) ? -2 : n;
	if (buf_append(header, loop->inbuf, (size_t)n) == -1)
		return -1;
	take = (size_t)n;
	if (proxy_parse(buf_head(header), buf_size(header), &h, why,
		sizeof(why)) == PROXY_DONE)
		take -= buf_size(header) - h.len;
	buf_drop_tail(header,
	    (size_t)n); /* conn_on_header() adds what is taken */
	return conn_recv_raw(c, take);
}

/* A read while the PROXY header is awaited. */
static void
conn_read_header(struct conn *c)
{
	ssize_t n = c->tls ? conn_peek_header(c) : conn_recv(c);

	if (n == 0)
		conn_refuse_proxy(c, "closed before its PROXY header");
	else if (n == -1)
		conn_refuse_proxy(c, "reset before its PROXY header");
	else if (n > 0)
		conn_on_header(c, (size_t)n);
}

/*
 * What the ready socket lets a TLS connection do: the next handshake step,
 * or the read or write that waited for this.  Returns the events to act
 * on, 0 when nothing is left to do.
 */
static short
conn_tls_ready(struct conn *c, short what)
{
	unsigned blocked = c->more->tls_blocked;
	short act = 0;

	if (c->state == CONN_HANDSHAKE) {
		conn_tls_step(c);
		return 0;
	}
	if (what & EV_WRITE)
		act |= blocked & CONN_TLS_READ_WANTS_WRITE ? EV_READ : EV_WRITE;
	if (what & EV_READ)
		act |= blocked & CONN_TLS_WRITE_WANTS_READ ? EV_WRITE : EV_READ;
	if (conn_pending(c) == 0)
		act &= ~EV_WRITE;
	return act;
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
	 * must not postpone a linger, a write, a PROXY or a handshake
	 * deadline.
	 */
	if (c->more != NULL && c->more->timer_ms != 0)
		conn_set_timeout(c, c->more->timer_ms);
	if (c->tls && (what = conn_tls_ready(c, what)) == 0)
		return;
	if ((what & EV_WRITE) && conn_flush(c) == -1)
		return;
	if (!(what & EV_READ))
		return;
	if (c->state == CONN_PROXY)
		conn_read_header(c);
	else
		conn_on_readable(c);
}

/*
 * Refuses a connection with one line, before it costs anything more (a
 * TLS client, which could not read it, with none).
 */
static void
conn_reject(struct conn_loop *loop, int fd, const union net_addr *peer,
    bool tls)
{
	char name[NET_ADDRSTRLEN];

	STATS_ADD(loop->stats->rejected[REJECT_BUSY], 1);
	log_warnx("refused %s (%s)", net_format(peer, name, sizeof(name)),
	    stats_reject_name(REJECT_BUSY));
	if (!tls &&
	    send(fd, conn_busy, sizeof(conn_busy) - 1,
		MSG_NOSIGNAL | MSG_DONTWAIT) > 0)
		STATS_ADD(loop->stats->bytes_out, sizeof(conn_busy) - 1);
	/* What it sent is dropped: the close is an end of stream, no reset. */
	(void)recv(fd, loop->inbuf, CONN_INBUF, MSG_DONTWAIT);
	close(fd);
}

/* A balancer on a UNIX socket got past the socket file's mode. */
static bool
conn_is_trusted(const struct config *cfg, const union net_addr *peer)
{
	if (peer->sa.sa_family == AF_UNIX)
		return true;
	for (size_t i = 0; i < cfg->ntrusted; i++)
		if (cidr_match(&cfg->trusted[i], peer))
			return true;
	return false;
}

void
conn_accept(struct conn_loop *loop, int fd, const union net_addr *peer,
    bool tls)
{
	struct conn_home *home = loop->home;
	struct conn *c;
	uint32_t slot;

	if (shared_enter(loop->shared, home->cfg) != SHARED_ADMITTED) {
		conn_reject(loop, fd, peer, tls);
		return;
	}
	if ((c = pool_get(loop->pool, &slot)) == NULL) {
		shared_leave(loop->shared);
		conn_reject(loop, fd, peer, tls);
		return;
	}
	c->slot = slot;
	c->tls = tls;
	c->home = home;
	home->refs++;
	event_assign(&c->ev, loop->base, fd, EV_READ | EV_PERSIST, conn_on_io,
	    c);
	conn_set_peer(c, peer);
	c->started_ms = mono_ms();
	c->active_ms = conn_stamp(c->started_ms);
	event_add(&c->ev, NULL);
	if (!home->cfg->proxy_protocol) {
		if (conn_admit(c, NULL))
			conn_start(c, NULL, 0);
		return;
	}
	if (!conn_is_trusted(home->cfg, peer)) {
		conn_refuse_proxy(c, "not a trusted proxy address");
		return;
	}
	c->state = CONN_PROXY;
	if (conn_more(c) == NULL) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
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
	if (c->state == CONN_PROXY || c->state == CONN_HANDSHAKE) {
		/*
		 * Greeted and drained like the others once its header comes,
		 * or its handshake is done.
		 */
		c->stopping = true;
		return;
	}
	if (c->state != CONN_OPEN || c->stopping)
		return;
	if (conn_more(c) == NULL) {
		conn_close(c, CLOSE_ERROR);
		return;
	}
	c->stopping = true;
	if (ioctl(conn_fd(c), FIONREAD, &queued) == 0 && queued > 0)
		c->more->input_ms = mono_ms();
	else if (conn_drain_deadline(c) <= mono_ms()) {
		conn_stop_now(c);
		return;
	}
	conn_reschedule(c);
}

void
conn_stop_all(struct conn_loop *loop)
{
	struct conn *c;

	loop->stopping = true;
	for (uint32_t i = 0; i < pool_end(loop->pool); i++)
		if ((c = pool_at(loop->pool, i)) != NULL)
			conn_stop(c);
}

void
conn_close_all(struct conn_loop *loop, enum close_reason reason)
{
	struct conn *c;

	for (uint32_t i = 0; i < pool_end(loop->pool); i++)
		if ((c = pool_at(loop->pool, i)) != NULL)
			conn_close(c, reason);
}
