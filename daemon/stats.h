/*
 * What the server counts.  Plain counters owned by one event loop, bumped
 * on the message path without locks or atomics; a reader sums them.
 */
#ifndef HELLOD_STATS_H
#define HELLOD_STATS_H

#include <stdint.h>

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
	CLOSE_SHUTDOWN,	     /* the server is stopping */
	CLOSE_REASONS,
};

/* Why a connection was refused right after accept. */
enum reject_reason {
	REJECT_BUSY,	 /* max_clients */
	REJECT_PER_IP,	 /* max_clients_per_ip */
	REJECT_FD_LIMIT, /* out of descriptors: accept paused */
	REJECT_REASONS,
};

struct stats {
	uint64_t accepted;
	uint64_t rejected[REJECT_REASONS];
	uint64_t closed[CLOSE_REASONS];
	uint64_t messages;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t reloads_ok;
	uint64_t reloads_failed;
};

const char *stats_close_name(enum close_reason reason);
const char *stats_reject_name(enum reject_reason reason);

#endif
