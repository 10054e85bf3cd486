/* Unit tests for the greeting protocol: bytes in, replies out. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "unit.h"

static struct proto_params params;
static struct proto p;
static struct buf out;

static void
setup(void)
{
	params = (struct proto_params){
		.reply_head = "Hello, ",
		.reply_head_len = 7,
		.reply_tail = "!",
		.reply_tail_len = 1,
		.max_line = 16,
		.framing = PROTO_FRAMING_AUTO,
	};
	memset(&p, 0, sizeof(p));
	memset(&out, 0, sizeof(out));
}

static void
teardown(void)
{
	proto_release(&p);
	buf_release(&out);
}

/*
 * An exchange is a few steps against one fresh protocol state: bytes fed
 * (or the fragment flushed, or the stream finished, or asked whether a
 * fragment waits), each with the verdict and the exact reply bytes it
 * must give.  A new case is a new row.
 */
enum op { OP_END, OP_FEED, OP_FLUSH, OP_FINISH, OP_HAS_FRAGMENT };

struct step {
	enum op op;
	const char *in;
	size_t len;
	int want; /* enum proto_status, or for OP_HAS_FRAGMENT a bool */
	const char *out;
	size_t outlen;
};

#define FEED(in, st, out)                                             \
	{                                                             \
		OP_FEED, in, sizeof(in) - 1, st, out, sizeof(out) - 1 \
	}
#define FLUSH(st, out)                                      \
	{                                                   \
		OP_FLUSH, NULL, 0, st, out, sizeof(out) - 1 \
	}
#define FINISH(st, out)                                      \
	{                                                    \
		OP_FINISH, NULL, 0, st, out, sizeof(out) - 1 \
	}
#define HAS_FRAGMENT(yes)                            \
	{                                            \
		OP_HAS_FRAGMENT, NULL, 0, yes, "", 0 \
	}
#define ANY (-1)

static const struct exchange {
	const char *name;
	enum proto_framing framing;
	struct step steps[6];
	long messages; /* answered at the end, or ANY */
	long held;     /* bytes of the unfinished line at the end, or ANY */
} exchanges[] = {
	{ "lf line", PROTO_FRAMING_AUTO,
	    { FEED("Michael\n", PROTO_OK, "Hello, Michael!\n") }, 1, 0 },
	{ "crlf line", PROTO_FRAMING_AUTO,
	    { FEED("Tracy\r\n", PROTO_OK, "Hello, Tracy!\r\n") }, 1, 0 },
	{ "pipelined, in order", PROTO_FRAMING_AUTO,
	    { FEED("a\nb\r\nc\n", PROTO_OK,
		"Hello, a!\nHello, b!\r\nHello, c!\n") },
	    3, 0 },
	{ "a line split over reads", PROTO_FRAMING_AUTO,
	    { FEED("Sa", PROTO_OK, ""), FEED("ra", PROTO_OK, ""),
		FEED("h\r", PROTO_OK, ""),
		FEED("\nx", PROTO_OK, "Hello, Sarah!\r\n") },
	    1, 1 },
	{ "blank lines are not messages", PROTO_FRAMING_AUTO,
	    { FEED("\n\r\n \t\n \r\n", PROTO_OK, "") }, 0, 0 },
	{ "exit", PROTO_FRAMING_AUTO,
	    { FEED("a\nexit\nb\n", PROTO_EXIT, "Hello, a!\n") }, 1, ANY },
	{ "exit with crlf", PROTO_FRAMING_AUTO,
	    { FEED("exit\r\n", PROTO_EXIT, "") }, 0, ANY },
	{ "only the whole message exit ends a session", PROTO_FRAMING_AUTO,
	    { FEED("exit \nEXIT\nexits\n", PROTO_OK,
		"Hello, exit !\nHello, EXIT!\nHello, exits!\n") },
	    3, 0 },
	{ "bytes pass through", PROTO_FRAMING_AUTO,
	    { FEED("J\xc3\xbcrgen\n\x01\x7f\n", PROTO_OK,
		  "Hello, J\xc3\xbcrgen!\nHello, \x01\x7f!\n"),
		FEED("a\0b\n", PROTO_OK, "Hello, a\0b!\n") },
	    3, 0 },
	{ "max_line fits, the CR not counted", PROTO_FRAMING_AUTO,
	    { FEED("0123456789abcdef\r\n", PROTO_OK,
		  "Hello, 0123456789abcdef!\r\n"),
		FEED("0123456789ab", PROTO_OK, ""),
		FEED("cdef\r", PROTO_OK, ""),
		FEED("\n", PROTO_OK, "Hello, 0123456789abcdef!\r\n") },
	    2, 0 },
	{ "too long, terminated", PROTO_FRAMING_AUTO,
	    { FEED("ok\n0123456789abcdefg\nnext\n", PROTO_TOO_LONG,
		"Hello, ok!\nError: line too long (max 16 bytes)\r\n") },
	    1, 0 },
	{ "an endless line is refused as it passes the limit",
	    PROTO_FRAMING_AUTO,
	    { FEED("0123456789", PROTO_OK, ""), FEED("abcdef", PROTO_OK, ""),
		FEED("g", PROTO_TOO_LONG,
		    "Error: line too long (max 16 bytes)\r\n") },
	    0, 0 },
	{ "auto framing: fragments until the first terminator",
	    PROTO_FRAMING_AUTO,
	    { HAS_FRAGMENT(false), FEED("Michael", PROTO_OK, ""),
		HAS_FRAGMENT(true), FLUSH(PROTO_OK, "Hello, Michael!"),
		FEED("Tracy\nSar", PROTO_OK, "Hello, Tracy!\n"),
		HAS_FRAGMENT(false) },
	    2, 3 },
	{ "line framing: no fragments", PROTO_FRAMING_LINE,
	    { FEED("Michael", PROTO_OK, ""), HAS_FRAGMENT(false) }, 0, 7 },
	{ "raw framing: always fragments", PROTO_FRAMING_RAW,
	    { FEED("a\nb\r", PROTO_OK, "Hello, a!\n"), HAS_FRAGMENT(true),
		FLUSH(PROTO_OK, "Hello, b!") },
	    2, 0 },
	{ "a fragment can exit", PROTO_FRAMING_AUTO,
	    { FEED("exit", PROTO_OK, ""), FLUSH(PROTO_EXIT, "") }, 0, ANY },
	{ "end of stream answers the fragment", PROTO_FRAMING_LINE,
	    { FEED("a\nlast", PROTO_OK, "Hello, a!\n"),
		FINISH(PROTO_OK, "Hello, last!"), FINISH(PROTO_OK, "") },
	    2, 0 },
	{ "telnet commands are removed", PROTO_FRAMING_AUTO,
	    /* IAC NOP, IAC WILL 1 and IAC DO 3 in and around the name. */
	    { FEED("\xff\xf1"
		   "Bo\xff\xfb\x01"
		   "b\xff\xfd\x03"
		   "by\r\n",
		PROTO_OK, "Hello, Bobby!\r\n") },
	    1, 0 },
	{ "a telnet subnegotiation is skipped, split up", PROTO_FRAMING_AUTO,
	    { FEED("A\xff\xfa\x18\x00"
		   "xterm\xff",
		  PROTO_OK, ""),
		FEED("\xff\x01\xff", PROTO_OK, ""),
		FEED("\xf0"
		     "B\n",
		    PROTO_OK, "Hello, AB!\n") },
	    1, 0 },
	{ "telnet IAC IAC is data", PROTO_FRAMING_AUTO,
	    { FEED("a\xff\xff"
		   "b\xff",
		  PROTO_OK, ""),
		FEED("\xff\n", PROTO_OK, "Hello, a\xff\x62\xff!\n") },
	    1, 0 },
	{ "an IAC that starts no command is data", PROTO_FRAMING_AUTO,
	    { FEED("\xff", PROTO_OK, ""),
		FEED("A\n\xff\n", PROTO_OK,
		    "Hello, \xff\x41!\nHello, \xff!\n") },
	    2, 0 },
	{ "telnet interrupt, timing mark answered", PROTO_FRAMING_AUTO,
	    { FEED("a\nhal", PROTO_OK, "Hello, a!\n"),
		FEED("f\xff\xf4\xff\xfd\x06more\n", PROTO_INTERRUPT,
		    "\xff\xfc\x06") },
	    1, ANY },
	{ "a timing mark split over reads", PROTO_FRAMING_AUTO,
	    { FEED("\xff\xfd", PROTO_OK, ""),
		FEED("\x06x\n", PROTO_OK, "\xff\xfc\x06Hello, x!\n") },
	    1, 0 },
	{ "ctrl-d on a line ends the session", PROTO_FRAMING_AUTO,
	    { FEED("a\n\x04\r\n", PROTO_EXIT, "Hello, a!\n") }, 1, ANY },
	{ "ctrl-d unterminated waits for a pause, in any framing",
	    PROTO_FRAMING_LINE,
	    { FEED("b\n\x04", PROTO_OK, "Hello, b!\n"), HAS_FRAGMENT(true),
		FLUSH(PROTO_EXIT, "") },
	    1, ANY },
	{ "a ctrl-d that starts a longer line is data", PROTO_FRAMING_LINE,
	    { FEED("\x04", PROTO_OK, ""),
		FEED("bob\n", PROTO_OK,
		    "Hello, \x04"
		    "bob!\n"),
		FEED("x\x04\n", PROTO_OK, "Hello, x\x04!\n") },
	    2, 0 },
};

static enum proto_status
run_step(const struct step *st)
{
	switch (st->op) {
	case OP_FEED:
		return proto_input(&p, &params, st->in, st->len, &out);
	case OP_FLUSH:
		return proto_flush_fragment(&p, &params, &out);
	case OP_FINISH:
		return proto_finish(&p, &params, &out);
	case OP_HAS_FRAGMENT:
	case OP_END:
		break;
	}
	return (enum proto_status)proto_has_fragment(&p, &params);
}

START_TEST(test_exchange)
{
	const struct exchange *x = &exchanges[_i];

	params.framing = x->framing;
	for (size_t i = 0; i < 6 && x->steps[i].op != OP_END; i++) {
		const struct step *st = &x->steps[i];
		int got = (int)run_step(st);
		ck_assert_msg(got == st->want,
		    "%s, step %zu: verdict %d, not %d", x->name, i + 1, got,
		    st->want);
		ck_assert_msg(buf_size(&out) == st->outlen &&
			(st->outlen == 0 ||
			    memcmp(buf_head(&out), st->out, st->outlen) == 0),
		    "%s, step %zu: wrong reply bytes (%zu)", x->name, i + 1,
		    buf_size(&out));
		buf_clear(&out);
		/* A line never holds more than one byte past the limit. */
		ck_assert_uint_le(buf_size(&p.line), params.max_line + 1);
	}
	if (x->messages != ANY)
		ck_assert_msg(p.messages == (uint64_t)x->messages,
		    "%s: %llu messages", x->name,
		    (unsigned long long)p.messages);
	if (x->held != ANY)
		ck_assert_msg(buf_size(&p.line) == (size_t)x->held,
		    "%s: %zu bytes held", x->name, buf_size(&p.line));
}
END_TEST

/* Feeding byte by byte gives the same replies as feeding all at once. */
START_TEST(test_byte_by_byte)
{
	const char *in = "one\ntwo\r\n\n  \nthree\r\nexit\n";
	struct buf whole = { 0 };

	ck_assert_int_eq(proto_input(&p, &params, in, strlen(in), &out),
	    PROTO_EXIT);
	ck_assert_int_eq(buf_append(&whole, buf_head(&out), buf_size(&out)), 0);
	buf_clear(&out);
	proto_release(&p);
	memset(&p, 0, sizeof(p));
	enum proto_status st = PROTO_OK;
	for (size_t i = 0; in[i] != '\0' && st == PROTO_OK; i++)
		st = proto_input(&p, &params, in + i, 1, &out);
	ck_assert_int_eq(st, PROTO_EXIT);
	ck_assert_uint_eq(buf_size(&out), buf_size(&whole));
	ck_assert_mem_eq(buf_head(&out), buf_head(&whole), buf_size(&whole));
	buf_release(&whole);
}
END_TEST

START_TEST(test_custom_template)
{
	params.reply_head = "";
	params.reply_head_len = 0;
	params.reply_tail = " 100%";
	params.reply_tail_len = 5;
	ck_assert_int_eq(proto_input(&p, &params, "x\n", 2, &out), PROTO_OK);
	ck_assert_uint_eq(buf_size(&out), 7);
	ck_assert_mem_eq(buf_head(&out), "x 100%\n", 7);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_ROWS(test_exchange, exchanges),
		UNIT_TEST(test_byte_by_byte),
		UNIT_TEST(test_custom_template),
	};

	return UNIT_MAIN("proto", tests, setup, teardown);
}
