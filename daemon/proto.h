/*
 * The greeting protocol, as pure code: bytes from a client go in, reply
 * bytes and a verdict come out.  No sockets, clocks or logging here, so the
 * whole protocol is unit-tested and fuzzed without a network.
 *
 * A message is a line ending in LF (a CR before the LF is dropped) and is
 * answered with the reply template around it, ending in the terminator the
 * line had.  An unterminated fragment may also be a message, when the
 * connection decides the client has paused (see proto_has_fragment()).
 *
 * Telnet commands (IAC, byte 0xFF, and what follows it) are removed from
 * the bytes before they form lines; IAC IAC is a literal 0xFF.  IAC IP (a
 * telnet user's Ctrl-C) ends the session, and IAC DO TIMING-MARK is
 * answered with IAC WONT TIMING-MARK so the user's telnet does not hang.
 */
#ifndef HELLOD_PROTO_H
#define HELLOD_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

enum proto_framing {
	/* Fragments are messages until the client's first terminator. */
	PROTO_FRAMING_AUTO,
	/* Only terminated lines are messages (and a fragment at end of stream).
	 */
	PROTO_FRAMING_LINE,
	/* Terminated lines and paused fragments are always messages. */
	PROTO_FRAMING_RAW,
};

/* What a connection needs to know of the configuration. */
struct proto_params {
	const char *reply_head; /* reply text before the name */
	size_t reply_head_len;
	const char *reply_tail; /* reply text after the name */
	size_t reply_tail_len;
	size_t max_line; /* longest message, terminator not counted */
	enum proto_framing framing;
};

/* Per-connection protocol state. */
struct proto {
	struct buf line;   /* the unfinished line, at most max_line + 1 bytes */
	uint64_t messages; /* messages answered so far */
	uint64_t lines;	   /* line terminators seen so far */
	unsigned char telnet;	   /* where a telnet command stands */
	unsigned char telnet_verb; /* WILL, WONT, DO or DONT awaiting option */
	bool seen_eol;		   /* the client has sent a line terminator */
};

enum proto_status {
	PROTO_OK,	 /* keep going */
	PROTO_EXIT,	 /* the client said exit: deliver the replies, close */
	PROTO_TOO_LONG,	 /* an error line was queued: deliver it, close */
	PROTO_INTERRUPT, /* telnet interrupt: deliver the replies, close */
	PROTO_NOMEM,	 /* out of memory: close */
};

enum proto_status proto_input(struct proto *p, const struct proto_params *pp,
    const char *in, size_t len, struct buf *out);
bool proto_has_fragment(const struct proto *p, const struct proto_params *pp);
enum proto_status proto_flush_fragment(struct proto *p,
    const struct proto_params *pp, struct buf *out);
enum proto_status
proto_finish(struct proto *p, const struct proto_params *pp, struct buf *out);
void proto_release(struct proto *p);

#endif
