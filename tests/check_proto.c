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

static enum proto_status
feed(const char *in)
{
	return proto_input(&p, &params, in, strlen(in), &out);
}

/* Asserts the queued reply bytes, then forgets them. */
static void
expect_out(const char *want, size_t len)
{
	ck_assert_uint_eq(buf_size(&out), len);
	if (len > 0)
		ck_assert_mem_eq(buf_head(&out), want, len);
	buf_clear(&out);
}

#define EXPECT(s) expect_out((s), sizeof(s) - 1)

START_TEST(test_lf_line)
{
	ck_assert_int_eq(feed("Michael\n"), PROTO_OK);
	EXPECT("Hello, Michael!\n");
	ck_assert_uint_eq(p.messages, 1);
}
END_TEST

START_TEST(test_crlf_line)
{
	ck_assert_int_eq(feed("Tracy\r\n"), PROTO_OK);
	EXPECT("Hello, Tracy!\r\n");
}
END_TEST

START_TEST(test_pipelined_in_order)
{
	ck_assert_int_eq(feed("a\nb\r\nc\n"), PROTO_OK);
	EXPECT("Hello, a!\nHello, b!\r\nHello, c!\n");
	ck_assert_uint_eq(p.messages, 3);
}
END_TEST

START_TEST(test_split_line)
{
	ck_assert_int_eq(feed("Sa"), PROTO_OK);
	EXPECT("");
	ck_assert_int_eq(feed("ra"), PROTO_OK);
	ck_assert_int_eq(feed("h\r"), PROTO_OK);
	EXPECT("");
	ck_assert_int_eq(feed("\nx"), PROTO_OK);
	EXPECT("Hello, Sarah!\r\n");
	ck_assert_uint_eq(buf_size(&p.line), 1);
}
END_TEST

/* Feeding byte by byte gives the same replies as feeding all at once. */
START_TEST(test_byte_by_byte)
{
	const char *in = "one\ntwo\r\n\n  \nthree\r\nexit\n";
	struct buf whole = { 0 };

	ck_assert_int_eq(feed(in), PROTO_EXIT);
	ck_assert_int_eq(buf_append(&whole, buf_head(&out), buf_size(&out)), 0);
	buf_clear(&out);
	proto_release(&p);
	memset(&p, 0, sizeof(p));
	enum proto_status st = PROTO_OK;
	for (size_t i = 0; in[i] != '\0' && st == PROTO_OK; i++)
		st = proto_input(&p, &params, in + i, 1, &out);
	ck_assert_int_eq(st, PROTO_EXIT);
	expect_out(buf_head(&whole), buf_size(&whole));
	buf_release(&whole);
}
END_TEST

START_TEST(test_blank_lines)
{
	ck_assert_int_eq(feed("\n\r\n \t\n \r\n"), PROTO_OK);
	EXPECT("");
	ck_assert_uint_eq(p.messages, 0);
}
END_TEST

START_TEST(test_exit)
{
	ck_assert_int_eq(feed("a\nexit\nb\n"), PROTO_EXIT);
	EXPECT("Hello, a!\n");
}
END_TEST

START_TEST(test_exit_crlf)
{
	ck_assert_int_eq(feed("exit\r\n"), PROTO_EXIT);
	EXPECT("");
}
END_TEST

/* Only the whole message "exit" ends a session. */
START_TEST(test_exit_only_exact)
{
	ck_assert_int_eq(feed("exit \nEXIT\nexits\n"), PROTO_OK);
	EXPECT("Hello, exit !\nHello, EXIT!\nHello, exits!\n");
}
END_TEST

START_TEST(test_bytes_pass_through)
{
	static const char in[] = "J\xc3\xbcrgen\n\x01\x7f\n";
	static const char nul[] = "a\0b\n";

	ck_assert_int_eq(feed(in), PROTO_OK);
	EXPECT("Hello, J\xc3\xbcrgen!\nHello, \x01\x7f!\n");
	ck_assert_int_eq(proto_input(&p, &params, nul, sizeof(nul) - 1, &out),
	    PROTO_OK);
	EXPECT("Hello, a\0b!\n");
}
END_TEST

START_TEST(test_max_line_fits)
{
	/* 16 bytes, the limit, with the CR not counted. */
	ck_assert_int_eq(feed("0123456789abcdef\r\n"), PROTO_OK);
	EXPECT("Hello, 0123456789abcdef!\r\n");
	ck_assert_int_eq(feed("0123456789ab"), PROTO_OK);
	ck_assert_int_eq(feed("cdef\r"), PROTO_OK);
	ck_assert_int_eq(feed("\n"), PROTO_OK);
	EXPECT("Hello, 0123456789abcdef!\r\n");
}
END_TEST

START_TEST(test_too_long_terminated)
{
	ck_assert_int_eq(feed("ok\n0123456789abcdefg\nnext\n"), PROTO_TOO_LONG);
	EXPECT("Hello, ok!\nError: line too long (max 16 bytes)\r\n");
}
END_TEST

/* An endless line is refused as soon as it passes the limit. */
START_TEST(test_too_long_unterminated)
{
	ck_assert_int_eq(feed("0123456789"), PROTO_OK);
	ck_assert_int_eq(feed("abcdef"), PROTO_OK);
	ck_assert_uint_le(buf_size(&p.line), params.max_line + 1);
	ck_assert_int_eq(feed("g"), PROTO_TOO_LONG);
	EXPECT("Error: line too long (max 16 bytes)\r\n");
	ck_assert_uint_eq(buf_size(&p.line), 0);
}
END_TEST

START_TEST(test_fragment_auto)
{
	ck_assert(!proto_has_fragment(&p, &params));
	ck_assert_int_eq(feed("Michael"), PROTO_OK);
	ck_assert(proto_has_fragment(&p, &params));
	ck_assert_int_eq(proto_flush_fragment(&p, &params, &out), PROTO_OK);
	EXPECT("Hello, Michael!");
	ck_assert(!proto_has_fragment(&p, &params));
	/* After the first terminator, fragments wait for theirs. */
	ck_assert_int_eq(feed("Tracy\nSar"), PROTO_OK);
	EXPECT("Hello, Tracy!\n");
	ck_assert(!proto_has_fragment(&p, &params));
}
END_TEST

START_TEST(test_fragment_line)
{
	params.framing = PROTO_FRAMING_LINE;
	ck_assert_int_eq(feed("Michael"), PROTO_OK);
	ck_assert(!proto_has_fragment(&p, &params));
}
END_TEST

START_TEST(test_fragment_raw)
{
	params.framing = PROTO_FRAMING_RAW;
	ck_assert_int_eq(feed("a\nb\r"), PROTO_OK);
	EXPECT("Hello, a!\n");
	ck_assert(proto_has_fragment(&p, &params));
	ck_assert_int_eq(proto_flush_fragment(&p, &params, &out), PROTO_OK);
	EXPECT("Hello, b!");
}
END_TEST

START_TEST(test_fragment_exit)
{
	ck_assert_int_eq(feed("exit"), PROTO_OK);
	ck_assert_int_eq(proto_flush_fragment(&p, &params, &out), PROTO_EXIT);
	EXPECT("");
}
END_TEST

START_TEST(test_finish_answers_fragment)
{
	params.framing = PROTO_FRAMING_LINE;
	ck_assert_int_eq(feed("a\nlast"), PROTO_OK);
	ck_assert_int_eq(proto_finish(&p, &params, &out), PROTO_OK);
	EXPECT("Hello, a!\nHello, last!");
	ck_assert_int_eq(proto_finish(&p, &params, &out), PROTO_OK);
	EXPECT("");
}
END_TEST

START_TEST(test_custom_template)
{
	params.reply_head = "";
	params.reply_head_len = 0;
	params.reply_tail = " 100%";
	params.reply_tail_len = 5;
	ck_assert_int_eq(feed("x\n"), PROTO_OK);
	EXPECT("x 100%\n");
}
END_TEST

START_TEST(test_telnet_commands_removed)
{
	/* IAC WILL 1 and IAC DO 3 inside the name, IAC NOP before it. */
	ck_assert_int_eq(feed("\xff\xf1"
			      "Bo\xff\xfb\x01"
			      "b\xff\xfd\x03"
			      "by\r\n"),
	    PROTO_OK);
	EXPECT("Hello, Bobby!\r\n");
}
END_TEST

START_TEST(test_telnet_subnegotiation_skipped)
{
	/* IAC SB 24 ... IAC SE, with an escaped IAC inside, split up. */
	ck_assert_int_eq(feed("A\xff\xfa\x18\x00"
			      "xterm\xff"),
	    PROTO_OK);
	ck_assert_int_eq(feed("\xff\x01\xff"), PROTO_OK);
	ck_assert_int_eq(feed("\xf0"
			      "B\n"),
	    PROTO_OK);
	EXPECT("Hello, AB!\n");
}
END_TEST

START_TEST(test_telnet_iac_iac_is_data)
{
	ck_assert_int_eq(feed("a\xff\xff"
			      "b\xff"),
	    PROTO_OK);
	ck_assert_int_eq(feed("\xff\n"), PROTO_OK);
	EXPECT("Hello, a\xff\x62\xff!\n");
}
END_TEST

/* An IAC that starts no command is kept, and so is the byte after it. */
START_TEST(test_telnet_lone_iac_is_data)
{
	ck_assert_int_eq(feed("\xff"), PROTO_OK);
	ck_assert_int_eq(feed("A\n\xff\n"), PROTO_OK);
	EXPECT("Hello, \xff\x41!\nHello, \xff!\n");
}
END_TEST

START_TEST(test_telnet_interrupt)
{
	ck_assert_int_eq(feed("a\nhal"), PROTO_OK);
	ck_assert_int_eq(feed("f\xff\xf4\xff\xfd\x06more\n"), PROTO_INTERRUPT);
	EXPECT("Hello, a!\n\xff\xfc\x06");
}
END_TEST

START_TEST(test_telnet_timing_mark_split)
{
	ck_assert_int_eq(feed("\xff\xfd"), PROTO_OK);
	ck_assert_int_eq(feed("\x06x\n"), PROTO_OK);
	EXPECT("\xff\xfc\x06Hello, x!\n");
}
END_TEST

START_TEST(test_ctrl_d_closes)
{
	ck_assert_int_eq(feed("a\n\x04\r\n"), PROTO_EXIT);
	EXPECT("Hello, a!\n");
	teardown();
	setup();
	params.framing = PROTO_FRAMING_LINE;
	ck_assert_int_eq(feed("b\n\x04"), PROTO_OK);
	EXPECT("Hello, b!\n");
	/* Unterminated, it waits for a pause like a fragment, in any framing.
	 */
	ck_assert(proto_has_fragment(&p, &params));
	ck_assert_int_eq(proto_flush_fragment(&p, &params, &out), PROTO_EXIT);
}
END_TEST

/* A Ctrl-D that starts a longer line is data, however the line arrives. */
START_TEST(test_ctrl_d_inside_a_line)
{
	params.framing = PROTO_FRAMING_LINE;
	ck_assert_int_eq(feed("\x04"), PROTO_OK);
	ck_assert_int_eq(feed("bob\n"), PROTO_OK);
	EXPECT("Hello, \x04"
	       "bob!\n");
	ck_assert_int_eq(feed("x\x04\n"), PROTO_OK);
	EXPECT("Hello, x\x04!\n");
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proto");
	TCase *tc = tcase_create("proto");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_lf_line);
	tcase_add_test(tc, test_crlf_line);
	tcase_add_test(tc, test_pipelined_in_order);
	tcase_add_test(tc, test_split_line);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_test(tc, test_blank_lines);
	tcase_add_test(tc, test_exit);
	tcase_add_test(tc, test_exit_crlf);
	tcase_add_test(tc, test_exit_only_exact);
	tcase_add_test(tc, test_bytes_pass_through);
	tcase_add_test(tc, test_max_line_fits);
	tcase_add_test(tc, test_too_long_terminated);
	tcase_add_test(tc, test_too_long_unterminated);
	tcase_add_test(tc, test_fragment_auto);
	tcase_add_test(tc, test_fragment_line);
	tcase_add_test(tc, test_fragment_raw);
	tcase_add_test(tc, test_fragment_exit);
	tcase_add_test(tc, test_finish_answers_fragment);
	tcase_add_test(tc, test_custom_template);
	tcase_add_test(tc, test_telnet_commands_removed);
	tcase_add_test(tc, test_telnet_subnegotiation_skipped);
	tcase_add_test(tc, test_telnet_iac_iac_is_data);
	tcase_add_test(tc, test_telnet_lone_iac_is_data);
	tcase_add_test(tc, test_telnet_interrupt);
	tcase_add_test(tc, test_telnet_timing_mark_split);
	tcase_add_test(tc, test_ctrl_d_closes);
	tcase_add_test(tc, test_ctrl_d_inside_a_line);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
