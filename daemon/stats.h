/*
 * What the server counts.  Each event loop owns its counters and is their
 * only writer: STATS_ADD is a relaxed load and store, no locked
 * instruction, so counting costs the message path nothing measurable.
 * Other threads read them with STATS_GET and sum over the loops.
 */
#ifndef HELLOD_STATS_H
#define HELLOD_STATS_H

#include <stdatomic.h>
#include <stdint.h>

typedef _Atomic uint64_t stat_t;

#define STATS_GET(field) atomic_load_explicit(&(field), memory_order_relaxed)
#define STATS_ADD(field, n)                                               \
	atomic_store_explicit(&(field), STATS_GET(field) + (uint64_t)(n), \
	    memory_order_relaxed)

/* Why a connection ended; the words are the log's and the metrics'. */
enum close_reason {
	CLOSE_EXIT,	     /* the client said exit (or sent Ctrl-D) */
	CLOSE_EOF,	     /* the client closed its side */
	CLOSE_IDLE,	     /* idle_timeout */
	CLOSE_LINE_TOO_LONG, /* max_line */
	CLOSE_LINE_TIMEOUT,  /* line_timeout */
	CLOSE_WRITE_TIMEOUT, /* write_timeout: replies could not move */
	CLOSE_INTERRUPT,     /* telnet interrupt (Ctrl-C) */
	CLOSE_ERROR,	     /* reset, socket error, out of memory */
	CLOSE_SHUTDOWN,	     /* stopping: goodbye after serving in the drain */
	CLOSE_SHUTDOWN_IDLE, /* stopping: goodbye, nothing said in the drain */
	CLOSE_SHUTDOWN_TIMEOUT, /* stopping: cut at shutdown_timeout */
	CLOSE_TLS_ERROR,	/* a failed handshake, or TLS broke later */
	CLOSE_REASONS,
};

/* Why a connection was refused right after accept. */
enum reject_reason {
	REJECT_BUSY,	 /* max_clients */
	REJECT_PER_IP,	 /* max_clients_per_ip */
	REJECT_FD_LIMIT, /* out of descriptors: accept paused */
	REJECT_PROXY,	 /* untrusted, late or malformed PROXY header */
	REJECT_DENIED,	 /* allow and deny */
	REJECT_RATE,	 /* connection_rate */
	REJECT_REASONS,
};

/* How TLS handshakes ended. */
enum tls_result {
	TLS_HANDSHAKE_OK,
	TLS_HANDSHAKE_FAILED,
	TLS_HANDSHAKE_TIMEOUT, /* tls_handshake_timeout */
	TLS_RESULTS,
};

struct stats {
	stat_t accepted;
	stat_t rejected[REJECT_REASONS];
	stat_t closed[CLOSE_REASONS];
	stat_t messages;
	stat_t bytes_in;
	stat_t bytes_out;
	stat_t drain_served; /* clients that sent a message during a drain */
	stat_t tls_handshakes[TLS_RESULTS];
};

const char *stats_close_name(enum close_reason reason);
const char *stats_reject_name(enum reject_reason reason);
const char *stats_tls_name(enum tls_result result);

#endif
