/*
 * The connection module's insides, shared by its three files, each
 * calling only the ones below it:
 *
 *   conn.c        accept, PROXY header, deadlines acted on, the drain,
 *                 the loop-wide walks and the idle timer
 *   conn_io.c     the message path and the single close path
 *   conn_state.c  the state itself: what is kept out of line, and when
 *                 each deadline falls, with the timer that keeps it
 *
 * Nothing outside the module includes this; the rest of the daemon sees
 * conn.h.
 */
#ifndef HELLOD_CONN_STATE_H
#define HELLOD_CONN_STATE_H

#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "conn.h"
#include "mono.h"
#include "net.h"
#include "pool.h"
#include "proto.h"
#include "tls.h"

/* Bytes read per read event: also bounds the lines handled per event. */
#define CONN_INBUF (16 * 1024)

/* How long input is drained after our FIN, so the client sees no reset. */
#define CONN_LINGER_MS 2000

enum conn_state {
	CONN_PROXY,	/* waiting for the load balancer's PROXY header */
	CONN_HANDSHAKE, /* TLS: the handshake, before the welcome */
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
	DUE_PROXY,     /* no PROXY header in time */
	DUE_DRAIN,     /* stopping: quiet for drain_grace_ms */
	DUE_HANDSHAKE, /* no TLS handshake in time */
};

/*
 * A TLS read may need the socket writable first, and a TLS write may need
 * it readable (a key update, an alert): until then the connection waits
 * for that instead, and acts when it comes (conn_tls_ready()).
 */
#define CONN_TLS_READ_WANTS_WRITE 1u
#define CONN_TLS_WRITE_WANTS_READ 2u

/*
 * A config in use on the loop.  Connections keep the one they started
 * with; one pointer to this gives them both it and their loop.
 */
struct conn_home {
	struct conn_loop *loop;
	struct config *cfg;
	size_t refs; /* connections, and the loop while it is current */
};

/* What every connection of one loop shares. */
struct conn_loop {
	struct event_base *base;
	struct shared *shared;
	struct stats *stats;
	struct pool *pool;	/* the connections */
	struct conn_home *home; /* for new connections */
	bool stopping;
	conn_drained_fn drained;
	void *drained_arg;
	struct event *ev_idle; /* see conn_idle_at() */
	uint64_t idle_at;      /* when ev_idle fires, or 0 */

	/* Scratch space for the message path. */
	char inbuf[CONN_INBUF];
	struct buf outbuf;
};

/*
 * State few connections need at a time: replies the socket has not taken,
 * an unfinished line, a PROXY header on its way, a deadline.  Allocated
 * when first needed and freed when nothing in it is (conn_tidy()), so a
 * connection waiting for its next message has none.  A TLS connection
 * keeps it from its handshake to its close: its SSL lives here, which
 * leaves struct conn the size of a plain connection's.
 */
struct conn_more {
	struct buf out;	      /* replies the socket has not taken yet */
	struct buf line;      /* the unfinished line (the protocol's) */
	struct buf header;    /* a PROXY header, while it arrives */
	uint64_t input_ms;    /* last byte received */
	uint64_t progress_ms; /* last byte sent */
	uint64_t line_ms;     /* the unfinished line's first byte, or 0 */
	uint64_t lingering_ms;
	uint64_t timer_ms;    /* when the timeout fires, or 0 */
	struct ssl_st *ssl;   /* on a TLS connection, for its whole life */
	unsigned tls_blocked; /* CONN_TLS_ flags */
};

/*
 * One client connection.  What it costs an idle client, measured with
 * 10,000 of them (scripts/bench, scenario E; heap by valgrind's massif),
 * on x86-64 with libevent 2.1:
 *
 *   struct conn, a pool slot of exactly its size          200 bytes
 *   libevent's entry for the descriptor (evmap_io, 16
 *   bytes, 32 with the allocator's header and rounding)    32 bytes
 *   libevent's descriptor table: one pointer per fd up
 *   to the next power of two past the highest              13 bytes
 *   the per-address count: one 20-byte slot per address     0 bytes
 *
 * (246 in all), and whatever the count, at most 48 KiB per loop for
 * epoll's results.  That is for one loop; each further loop has its own
 * descriptor table spanning every descriptor of the process, 13 bytes
 * more per connection (277 in all with two).
 * Of the 200, libevent's struct event takes 128; the rest is packed to
 * what every connection needs for its whole life (counts of 48 bits,
 * with small state in the bits beside them), and everything else is in
 * struct conn_more.  Times are kept as the low 32 bits of mono_ms():
 * every deadline is at most a day away (config limits), well inside the
 * 49 days that wrap takes.
 */
#define CONN_COUNT_MAX ((UINT64_C(1) << 48) - 1)

/*
 * The protocol's state between reads, in one word: conn_proto() reads it
 * whole and writes it whole, once per read.
 */
struct conn_proto {
	uint64_t messages : 48; /* answered so far */
	uint64_t telnet : 3;
	uint64_t seen_eol : 1;
	uint64_t telnet_verb : 8;
};

struct conn {
	struct event ev; /* the socket, and the connection's one timeout */
	struct conn_home *home;
	struct conn_more *more; /* NULL while nothing pending needs it */
	uint64_t started_ms;
	uint64_t bytes_in : 48;
	uint64_t port : 16;
	uint64_t bytes_out : 48;
	uint64_t state : 3;  /* enum conn_state */
	uint64_t reason : 4; /* enum close_reason: why closing */
	uint64_t ipv6 : 1;
	uint64_t peer_eof : 1;
	uint64_t ip_counted : 1; /* counts toward max_clients_per_ip */
	uint64_t paused : 1;	 /* backpressure: replies wait, no reading */
	uint64_t stopping : 1;	 /* server shutdown: the drain (conn_stop()) */
	uint64_t drain_served : 1; /* answered a message during the drain */
	uint64_t local : 1; /* on a UNIX socket: addr holds its pid and uid */
	uint64_t tls : 1;   /* came to a TLS listener: more->ssl is its TLS */
	struct conn_proto proto;
	uint32_t active_ms;	/* last byte received or sent, low 32 bits */
	uint32_t slot;		/* in the loop's pool */
	unsigned char addr[16]; /* the client, as the PROXY header says */
};

static inline struct conn_loop *
conn_loop(const struct conn *c)
{
	return c->home->loop;
}

static inline const struct config *
conn_cfg(const struct conn *c)
{
	return c->home->cfg;
}

/*
 * The socket, as the event holds it: read from the struct libevent has us
 * embed, since event_get_fd() would be a call per read and per send.
 */
static inline int
conn_fd(const struct conn *c)
{
	return c->ev.ev_fd;
}

static inline size_t
conn_pending(const struct conn *c)
{
	return c->more != NULL ? buf_size(&c->more->out) : 0;
}

static inline bool
conn_has_line(const struct conn *c)
{
	return c->more != NULL && buf_size(&c->more->line) > 0;
}

static inline uint32_t
conn_stamp(uint64_t ms)
{
	return (uint32_t)ms;
}

/* The full time of a stamp taken within the last 49 days. */
static inline uint64_t
conn_unstamp(uint32_t stamp)
{
	uint64_t now = mono_ms();

	return now - (uint32_t)((uint32_t)now - stamp);
}

/* conn_state.c */
void conn_peer(const struct conn *c, union net_addr *addr);
void conn_credentials(const struct conn *c, uint32_t *pid, uint32_t *uid);
struct conn_more *conn_more(struct conn *c);
void conn_tidy(struct conn *c);
void conn_home_put(struct conn_home *h);
void conn_reschedule(struct conn *c);
void conn_set_timeout(struct conn *c, uint64_t at);
void conn_clear_timeout(struct conn *c);
uint64_t conn_deadline(const struct conn *c, enum conn_due *due);
bool conn_has_fragment(const struct conn *c);
uint64_t conn_idle_deadline(const struct conn *c);
uint64_t conn_drain_deadline(const struct conn *c);

/* conn_io.c */
void conn_update_events(struct conn *c);
ssize_t conn_recv(struct conn *c);
ssize_t conn_recv_raw(struct conn *c, size_t len);
void conn_on_readable(struct conn *c);
int conn_flush(struct conn *c);
int conn_send(struct conn *c);
int conn_act(struct conn *c, enum proto_status st);
void conn_finish(struct conn *c, enum close_reason reason);
int conn_say_goodbye(struct conn *c, const char *line, size_t len,
    enum close_reason reason);
enum proto_status conn_proto(struct conn *c, const char *in, size_t len);
void conn_close(struct conn *c, enum close_reason reason);
void conn_close_tls(struct conn *c, const char *why);
void conn_drop_input(struct conn *c);
void conn_refuse(struct conn *c, enum reject_reason reason, const char *line);
void conn_refuse_proxy(struct conn *c, const char *why);
void conn_free(struct conn *c);

/*
 * Brings the connection's timeout up to date with its state; inline for
 * the usual case after a read, a flowing connection with nothing armed
 * and nothing to arm.
 */
static inline void
conn_schedule(struct conn *c)
{
	if (c->more == NULL && c->state == CONN_OPEN && !c->stopping)
		return;
	conn_reschedule(c);
	conn_tidy(c);
}

#endif
