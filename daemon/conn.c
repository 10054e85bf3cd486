#include "conn.h"

#include <errno.h>
#include <event2/event_struct.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "server.h"

/* How long a closing connection waits for its replies to be read. */
#define CONN_FLUSH_TIMEOUT_S 30
/* How long input is drained after our FIN, so the client sees no reset. */
#define CONN_LINGER_S 2

static const char conn_goodbye[] = "Server shutting down, goodbye\r\n";

enum conn_state {
	CONN_OPEN,	/* reading and answering */
	CONN_FLUSHING,	/* done reading: delivering the last replies */
	CONN_LINGERING, /* replies delivered, write side shut: draining */
};

/*
 * The message path, and why it looks the way it does: a read event does
 * one recv() into the loop's shared input buffer, the protocol appends every
 * reply it produces to the loop's shared output buffer, and one send()
 * delivers them all.  Only what the socket cannot take right away is copied
 * into the connection's own buffer, and only then is EV_WRITE enabled.  An
 * idle connection therefore owns no buffer memory, and a request costs one
 * recv() and one send().
 */
struct conn {
	struct server *srv;
	struct config *cfg; /* the config this connection started with */
	int fd;
	enum conn_state state;
	bool peer_eof;
	bool stopping;	    /* server shutdown: finish what was sent */
	size_t stop_budget; /* bytes queued before the shutdown */
	short events;	    /* what ev_io is registered for */
	const char *why;    /* why the connection is closing */
	uint64_t started_ms;
	struct event ev_io;
	struct event ev_timer; /* fragment delay, flush or linger timeout */
	struct proto proto;
	struct buf out; /* replies the socket has not taken yet */
	union net_addr peer;
	TAILQ_ENTRY(conn) link;
};

static uint64_t
conn_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The single way out: logs why, frees everything, closes the socket. */
static void conn_on_io(evutil_socket_t fd, short what, void *arg);

static void
conn_close(struct conn *c, const char *why)
{
	struct server *srv = c->srv;
	char name[NET_ADDRSTRLEN];
	uint64_t ms = conn_now_ms() - c->started_ms;

	log_info("closed %s (%s) after %llu.%03llus, %llu messages",
	    net_format(&c->peer, name, sizeof(name)), why,
	    (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000),
	    (unsigned long long)c->proto.messages);
	event_del(&c->ev_io);
	event_del(&c->ev_timer);
	close(c->fd);
	proto_release(&c->proto);
	buf_release(&c->out);
	config_unref(c->cfg);
	TAILQ_REMOVE(&srv->conns, c, link);
	srv->nconns--;
	free(c);
	server_conn_gone(srv);
}

static void
conn_arm_timer(struct conn *c, long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	event_add(&c->ev_timer, &tv);
}

/* Registers for exactly the events the connection's state needs. */
static void
conn_update_events(struct conn *c)
{
	short want = EV_PERSIST;

	if (!c->peer_eof)
		want |= EV_READ;
	if (buf_size(&c->out) > 0)
		want |= EV_WRITE;
	if (want == c->events)
		return;
	event_del(&c->ev_io);
	event_assign(&c->ev_io, c->srv->base, c->fd, want, conn_on_io, c);
	if (want != EV_PERSIST)
		event_add(&c->ev_io, NULL);
	c->events = want;
}

static bool
conn_is_reset(int err)
{
	return err == ECONNRESET || err == EPIPE || err == ETIMEDOUT;
}

static void
conn_close_errno(struct conn *c, const char *op)
{
	if (conn_is_reset(errno)) {
		conn_close(c, "reset by client");
	} else {
		log_warn("%s failed", op);
		conn_close(c, "socket error");
	}
}

/* Our replies are all delivered: close, or shut our side and linger. */
static void
conn_after_flush(struct conn *c)
{
	if (c->peer_eof) {
		conn_close(c, c->why);
		return;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGERING;
	conn_arm_timer(c, CONN_LINGER_S * 1000);
}

/* Stops answering; the connection closes once its replies are out. */
static void
conn_finish(struct conn *c, const char *why)
{
	c->why = why;
	c->state = CONN_FLUSHING;
	event_del(&c->ev_timer);
	if (buf_size(&c->out) == 0) {
		conn_after_flush(c);
		return;
	}
	conn_arm_timer(c, CONN_FLUSH_TIMEOUT_S * 1000);
}

/*
 * Sends what the protocol queued in the loop's output buffer; keeps what
 * the socket does not take.  Returns -1 when the connection was closed.
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
		if (n > 0)
			buf_consume(pending, (size_t)n);
	}
	if (buf_size(pending) > 0) {
		int rc =
		    buf_append(&c->out, buf_head(pending), buf_size(pending));
		buf_clear(pending);
		if (rc == -1) {
			conn_close(c, "out of memory");
			return -1;
		}
		conn_update_events(c);
	}
	return 0;
}

/* Delivers queued replies when the socket is writable again. */
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
	buf_consume(&c->out, (size_t)n);
	if (buf_size(&c->out) > 0)
		return 0;
	buf_release(&c->out);
	conn_update_events(c);
	if (c->state == CONN_FLUSHING) {
		conn_after_flush(c);
		return -1;
	}
	return 0;
}

/* Sends the protocol's replies and acts on its verdict. */
static int
conn_act(struct conn *c, enum proto_status st)
{
	if (conn_send(c) == -1)
		return -1;
	switch (st) {
	case PROTO_OK:
		return 0;
	case PROTO_EXIT:
		conn_finish(c, "exit");
		break;
	case PROTO_TOO_LONG:
		conn_finish(c, "line too long");
		break;
	case PROTO_NOMEM:
		conn_close(c, "out of memory");
		break;
	}
	return -1;
}

/*
 * Arms the fragment timer while the client has an unterminated fragment
 * that may be a message: every new byte restarts the wait, so a line split
 * across segments a few milliseconds apart is still one message.
 */
static void
conn_watch_fragment(struct conn *c)
{
	if (proto_has_fragment(&c->proto, &c->cfg->proto))
		conn_arm_timer(c, c->cfg->fragment_delay_ms);
	else
		event_del(&c->ev_timer);
}

/* The shutdown's last step: the pending fragment, the goodbye, the close. */
static void
conn_stop_now(struct conn *c)
{
	struct buf *pending = &c->srv->outbuf;
	enum proto_status st = PROTO_OK;

	if (proto_has_fragment(&c->proto, &c->cfg->proto))
		st = proto_flush_fragment(&c->proto, &c->cfg->proto, pending);
	if (st == PROTO_OK &&
	    buf_append(pending, conn_goodbye, sizeof(conn_goodbye) - 1) == -1)
		st = PROTO_NOMEM;
	if (conn_act(c, st) == 0)
		conn_finish(c, "server shutting down");
}

static void
conn_on_eof(struct conn *c)
{
	c->peer_eof = true;
	conn_update_events(c);
	switch (c->state) {
	case CONN_OPEN:
		if (conn_act(c,
			proto_finish(&c->proto, &c->cfg->proto,
			    &c->srv->outbuf)) == 0)
			conn_finish(c, "client closed");
		break;
	case CONN_FLUSHING:
		break;
	case CONN_LINGERING:
		conn_close(c, c->why);
		break;
	}
}

static void
conn_on_readable(struct conn *c)
{
	size_t want = SERVER_INBUF;
	ssize_t n;

	if (c->state == CONN_OPEN && c->stopping && c->stop_budget < want)
		want = c->stop_budget;
	n = recv(c->fd, c->srv->inbuf, want, 0);
	if (n == 0) {
		conn_on_eof(c);
		return;
	}
	if (n == -1) {
		if (errno != EAGAIN && errno != EINTR)
			conn_close_errno(c, "recv");
		return;
	}
	if (c->state != CONN_OPEN)
		return; /* closing: input is drained and dropped */
	if (conn_act(c,
		proto_input(&c->proto, &c->cfg->proto, c->srv->inbuf, (size_t)n,
		    &c->srv->outbuf)) == -1)
		return;
	if (c->stopping) {
		c->stop_budget -= (size_t)n;
		if (c->stop_budget == 0)
			conn_stop_now(c);
		return;
	}
	conn_watch_fragment(c);
}

static void
conn_on_io(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	if ((what & EV_WRITE) && conn_flush(c) == -1)
		return;
	if (what & EV_READ)
		conn_on_readable(c);
}

static void
conn_on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;

	(void)fd;
	(void)what;
	switch (c->state) {
	case CONN_OPEN:
		if (conn_act(c,
			proto_flush_fragment(&c->proto, &c->cfg->proto,
			    &c->srv->outbuf)) == 0)
			conn_watch_fragment(c);
		break;
	case CONN_FLUSHING:
		conn_close(c, "client stopped reading");
		break;
	case CONN_LINGERING:
		conn_close(c, c->why);
		break;
	}
}

void
conn_accept(struct server *srv, int fd, const union net_addr *peer)
{
	struct conn *c = calloc(1, sizeof(*c));
	char name[NET_ADDRSTRLEN];
	int on = 1;

	if (c == NULL) {
		log_warnx("out of memory, refusing %s",
		    net_format(peer, name, sizeof(name)));
		close(fd);
		return;
	}
	c->srv = srv;
	c->cfg = config_ref(srv->cfg);
	c->fd = fd;
	c->peer = *peer;
	c->started_ms = conn_now_ms();
	c->events = EV_READ | EV_PERSIST;
	event_assign(&c->ev_io, srv->base, fd, c->events, conn_on_io, c);
	evtimer_assign(&c->ev_timer, srv->base, conn_on_timer, c);
	TAILQ_INSERT_TAIL(&srv->conns, c, link);
	srv->nconns++;
	log_info("connection from %s", net_format(peer, name, sizeof(name)));

	/* Replies are whole and batched already: Nagle would only delay. */
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	event_add(&c->ev_io, NULL);
	if (buf_append(&srv->outbuf, c->cfg->welcome_line,
		c->cfg->welcome_line_len) == -1) {
		conn_close(c, "out of memory");
		return;
	}
	conn_send(c);
}

/*
 * Graceful shutdown: whatever the client sent before it (the bytes already
 * in the socket's receive buffer) is still answered, then the goodbye line
 * goes out and the connection closes once it is delivered.
 */
static void
conn_stop(struct conn *c)
{
	int queued = 0;

	if (c->state != CONN_OPEN || c->stopping)
		return;
	c->stopping = true;
	if (ioctl(c->fd, FIONREAD, &queued) == -1 || queued <= 0) {
		conn_stop_now(c);
		return;
	}
	c->stop_budget = (size_t)queued;
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
conn_close_all(struct conn_list *list, const char *why)
{
	while (!TAILQ_EMPTY(list))
		conn_close(TAILQ_FIRST(list), why);
}
