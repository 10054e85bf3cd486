/*
 * The connection's insides, shared by the two files of the connection
 * module: conn.c (accept, the message path, close) and conn_timeout.c
 * (deadlines).  Nothing else includes this; the rest of the daemon sees
 * conn.h.
 */
#ifndef HELLOD_CONN_PRIV_H
#define HELLOD_CONN_PRIV_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "conn.h"
#include "net.h"
#include "proto.h"

/* How long input is drained after our FIN, so the client sees no reset. */
#define CONN_LINGER_MS 2000

enum conn_state {
	CONN_PROXY,	/* waiting for the load balancer's PROXY header */
	CONN_OPEN,	/* reading and answering */
	CONN_FLUSHING,	/* done reading: delivering the last replies */
	CONN_LINGERING, /* replies delivered, write side shut: draining */
};

/* What a deadline is for. */
enum conn_due {
	DUE_NONE,
	DUE_FRAGMENT, /* a paused fragment becomes a message */
	DUE_IDLE,
	DUE_LINE,
	DUE_WRITE,
	DUE_LINGER,
	DUE_PROXY, /* no PROXY header in time */
	DUE_DRAIN, /* stopping: quiet for drain_grace_ms */
};

/* One client connection; see conn.c for the message path. */
struct conn {
	struct server *srv;
	struct config *cfg; /* the config this connection started with */
	int fd;
	enum conn_state state;
	enum close_reason reason; /* why it is closing */
	bool peer_eof;
	bool ip_counted;	/* the peer counts toward max_clients_per_ip */
	bool paused;		/* backpressure: replies wait, reading stops */
	bool stopping;		/* server shutdown: the drain (conn_stop()) */
	uint64_t stop_messages; /* messages answered before the shutdown */
	short events;		/* what ev_io is registered for */
	uint64_t started_ms;
	uint64_t input_ms;    /* last byte received */
	uint64_t progress_ms; /* last byte sent */
	uint64_t line_ms;     /* the unfinished line's first byte, or 0 */
	uint64_t lingering_ms;
	uint64_t timer_ms; /* when the timeout fires, or 0 */
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t counted;   /* messages already added to the server's count */
	struct event ev_io; /* the socket, and the connection's one timeout */
	struct proto proto;
	struct buf out;	     /* replies the socket has not taken yet */
	struct buf header;   /* a PROXY header, while it arrives */
	union net_addr peer; /* the client, as the PROXY header says */
	TAILQ_ENTRY(conn) link;
};

/* conn_timeout.c */
void conn_reschedule(struct conn *c);
void conn_set_timeout(struct conn *c, uint64_t at);
void conn_on_timeout(struct conn *c);
uint64_t conn_idle_deadline(const struct conn *c);
uint64_t conn_drain_deadline(const struct conn *c);

/* conn.c */
int conn_expire(struct conn *c, enum conn_due due);

/* Whether the client had a message answered since the shutdown began. */
static inline bool
conn_served_in_drain(const struct conn *c)
{
	return c->stopping && c->proto.messages > c->stop_messages;
}

/*
 * Brings the connection's timeout up to date with its state; inline for
 * the usual case after a read, a flowing connection with nothing armed
 * and nothing to arm.
 */
static inline void
conn_schedule(struct conn *c)
{
	if (c->timer_ms == 0 && c->state == CONN_OPEN &&
	    buf_size(&c->out) == 0 && buf_size(&c->proto.line) == 0)
		return;
	conn_reschedule(c);
}

#endif
