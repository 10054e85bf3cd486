/*
 * Fuzzes the protocol module.  The first FUZZ_HEADER bytes of an input
 * choose the framing, max_line and how the rest is cut into reads, so one
 * corpus explores every setting; the rest is what a client sends.
 *
 * Checked on every input: the unfinished line never outgrows max_line + 1
 * bytes, every call's output starts like something the protocol sends, and
 * the replies do not depend on where the reads were cut.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* framing, max_line, chunking, flushes */
enum { FUZZ_HEADER = 4 };

/* Small, so inputs of a few dozen bytes reach the length limit. */
enum { FUZZ_MAX_LINE = 64 };

static const char reply_head[] = "Hello, ";
static const char reply_tail[] = "!";
static const char too_long[] = "Error: line too long";

/* How one run cuts the input into reads. */
struct plan {
	struct proto_params params;
	uint32_t seed;	 /* drives the chunk lengths */
	uint32_t span;	 /* longest chunk; 0: the whole input in one read */
	uint8_t flushes; /* bit i % 8: flush a fragment after chunk i */
};

struct run {
	struct buf out;
	enum proto_status status;
	size_t fed; /* bytes handed to proto_input() */
};

/* A trap, not assert(): it must fire in every build type. */
static void
require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static uint32_t
next_random(uint32_t *state)
{
	*state ^= *state << 13;
	*state ^= *state >> 17;
	*state ^= *state << 5;
	return *state;
}

static struct plan
plan_from(const uint8_t *header)
{
	static const enum proto_framing framings[] = { PROTO_FRAMING_AUTO,
		PROTO_FRAMING_LINE, PROTO_FRAMING_RAW };

	return (struct plan){
		.params = {
		    .reply_head = reply_head,
		    .reply_head_len = sizeof(reply_head) - 1,
		    .reply_tail = reply_tail,
		    .reply_tail_len = sizeof(reply_tail) - 1,
		    .max_line = 1 + header[1] % FUZZ_MAX_LINE,
		    .framing = framings[header[0] % 3],
		},
		/* xorshift must not start at 0; the constant's top bits see
		 * to that. */
		.seed = 0x9e3779b9u ^ header[2],
		.span = 1u << (header[2] % 8),
		.flushes = header[3],
	};
}

static bool
has_prefix(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(s, prefix, n) == 0;
}

/*
 * Telnet answers start with IAC; everything else the protocol sends is a
 * reply or the error line.  The exact format is the unit tests' business.
 */
static bool
is_output_start(const char *s, size_t len)
{
	return (unsigned char)s[0] == 0xff || has_prefix(s, len, reply_head) ||
	    has_prefix(s, len, too_long);
}

/* What must hold after every call into the protocol. */
static void
check_step(const struct proto *p, const struct plan *plan,
    const struct buf *out, size_t before)
{
	require(buf_size(&p->line) <= plan->params.max_line + 1);
	if (buf_size(out) > before)
		require(is_output_start(buf_head(out) + before,
		    buf_size(out) - before));
}

static size_t
chunk_length(const struct plan *plan, uint32_t *state, size_t left)
{
	size_t n;

	if (plan->span == 0)
		return left;
	n = 1 + next_random(state) % plan->span;
	return n < left ? n : left;
}

/*
 * Feeds the input as a connection would: read by read, flushing a pending
 * fragment where the plan says the client paused, finishing at end of
 * stream.  Any status but PROTO_OK ends the session, so nothing more is
 * fed after one.
 */
static void
feed(const struct plan *plan, const char *in, size_t len, struct run *r)
{
	const struct proto_params *pp = &plan->params;
	struct proto p = { 0 };
	uint32_t state = plan->seed;
	size_t before;

	*r = (struct run){ .status = PROTO_OK };
	for (unsigned chunk = 0; r->fed < len && r->status == PROTO_OK;
	     chunk++) {
		size_t n = chunk_length(plan, &state, len - r->fed);
		before = buf_size(&r->out);
		r->status = proto_input(&p, pp, in + r->fed, n, &r->out);
		r->fed += n;
		check_step(&p, plan, &r->out, before);
		if (r->status != PROTO_OK ||
		    !(plan->flushes >> (chunk % 8) & 1) ||
		    !proto_has_fragment(&p, pp))
			continue;
		before = buf_size(&r->out);
		r->status = proto_flush_fragment(&p, pp, &r->out);
		check_step(&p, plan, &r->out, before);
		require(buf_size(&p.line) == 0);
	}
	if (r->status == PROTO_OK) {
		before = buf_size(&r->out);
		r->status = proto_finish(&p, pp, &r->out);
		check_step(&p, plan, &r->out, before);
	}
	proto_release(&p);
}

static bool
same_result(const struct run *a, const struct run *b)
{
	size_t n = buf_size(&a->out);

	return a->status == b->status && n == buf_size(&b->out) &&
	    (n == 0 || memcmp(buf_head(&a->out), buf_head(&b->out), n) == 0);
}

/*
 * Line framing never flushes, so where the reads were cut must not show in
 * the replies.  The whole-input run gets only the bytes the chunked run
 * fed: a session ends with the read that ended it, and bytes in later
 * reads are never seen.
 */
static void
check_cut_independence(struct plan plan, const char *in, size_t len)
{
	struct run chunked, whole;

	plan.params.framing = PROTO_FRAMING_LINE;
	feed(&plan, in, len, &chunked);
	plan.span = 0;
	feed(&plan, in, chunked.fed, &whole);
	require(same_result(&chunked, &whole));
	buf_release(&chunked.out);
	buf_release(&whole.out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct plan plan;
	struct run r;

	if (size < FUZZ_HEADER)
		return 0;
	plan = plan_from(data);
	data += FUZZ_HEADER;
	size -= FUZZ_HEADER;

	feed(&plan, (const char *)data, size, &r);
	buf_release(&r.out);
	check_cut_independence(plan, (const char *)data, size);
	return 0;
}
