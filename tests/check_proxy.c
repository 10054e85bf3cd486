/* Unit tests for the PROXY protocol parser: bytes in, a verdict out. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "proxy.h"
#include "unit.h"

static struct proxy_header h;
static char why[128];

static enum proxy_status
parse(const char *buf, size_t len)
{
	return proxy_parse(buf, len, &h, why, sizeof(why));
}

#define PARSE(s) parse((s), sizeof(s) - 1)

static void
expect_v4(const union net_addr *a, const char *host, int port)
{
	char text[INET_ADDRSTRLEN];

	ck_assert_int_eq(a->sa.sa_family, AF_INET);
	ck_assert_str_eq(inet_ntop(AF_INET, &a->sin.sin_addr, text,
			     sizeof(text)),
	    host);
	ck_assert_int_eq(ntohs(a->sin.sin_port), port);
}

START_TEST(test_v1_tcp4)
{
	static const char in[] = "PROXY TCP4 192.0.2.7 10.0.0.1 40000 9999\r\n"
				 "hello\n";

	ck_assert_int_eq(PARSE(in), PROXY_DONE);
	ck_assert(!h.local);
	expect_v4(&h.src, "192.0.2.7", 40000);
	expect_v4(&h.dst, "10.0.0.1", 9999);
	ck_assert_uint_eq(h.len, sizeof(in) - 1 - 6);
}
END_TEST

START_TEST(test_v1_tcp6)
{
	ck_assert_int_eq(PARSE("PROXY TCP6 2001:db8::1 ::1 1 65535\r\n"),
	    PROXY_DONE);
	ck_assert_int_eq(h.src.sa.sa_family, AF_INET6);
	ck_assert_int_eq(ntohs(h.src.sin6.sin6_port), 1);
	ck_assert_int_eq(ntohs(h.dst.sin6.sin6_port), 65535);
}
END_TEST

START_TEST(test_v1_unknown)
{
	ck_assert_int_eq(PARSE("PROXY UNKNOWN\r\n"), PROXY_DONE);
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, 15);
	ck_assert_int_eq(PARSE("PROXY UNKNOWN ffff::1 ::1 1 2\r\n"),
	    PROXY_DONE);
	ck_assert(h.local);
}
END_TEST

/* A header that arrives a byte at a time is judged only when whole. */
START_TEST(test_byte_by_byte)
{
	static const char in[] = "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n";

	for (size_t i = 0; i < sizeof(in) - 1; i++)
		ck_assert_int_eq(parse(in, i), PROXY_NEED_MORE);
	ck_assert_int_eq(PARSE(in), PROXY_DONE);
	expect_v4(&h.src, "1.2.3.4", 1);
}
END_TEST

static const char *const bad_v1[] = {
	"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n",
	"PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n",
	"PROXY TCP4 ::1 5.6.7.8 1 2\r\n",
	"PROXY TCP6 1.2.3.4 ::1 1 2\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n",
	"PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n",
	"PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
	"PROXY TCP4 1.2.3.400 5.6.7.8 1 2\r\n",
};

START_TEST(test_v1_malformed)
{
	ck_assert_int_eq(parse(bad_v1[_i], strlen(bad_v1[_i])), PROXY_INVALID);
	ck_assert(why[0] != '\0');
}
END_TEST

START_TEST(test_v1_length_limit)
{
	char line[200] = "PROXY UNKNOWN ";
	size_t n = strlen(line);

	/* 107 bytes with CRLF is the longest allowed. */
	memset(line + n, 'x', 105 - n);
	memcpy(line + 105, "\r\n", 2);
	ck_assert_int_eq(parse(line, 107), PROXY_DONE);
	memset(line + n, 'x', 106 - n);
	memcpy(line + 106, "\r\n", 2);
	ck_assert_int_eq(parse(line, 108), PROXY_INVALID);
	ck_assert_str_eq(why, "v1 line longer than 107 bytes");
}
END_TEST

/* Anything else is refused by the first byte that proves it. */
START_TEST(test_not_proxy)
{
	ck_assert_int_eq(PARSE("H"), PROXY_INVALID);
	ck_assert_str_eq(why, "not a PROXY header");
	ck_assert_int_eq(PARSE("PROX"), PROXY_NEED_MORE);
	ck_assert_int_eq(PARSE("PROXI"), PROXY_INVALID);
	ck_assert_int_eq(PARSE("\r\n\r\n\0"), PROXY_NEED_MORE);
	ck_assert_int_eq(PARSE("\r\n\r\n\1"), PROXY_INVALID);
	ck_assert_int_eq(parse("", 0), PROXY_NEED_MORE);
}
END_TEST

static size_t
v2(unsigned char *out, unsigned char ver_cmd, unsigned char fam,
    const unsigned char *body, size_t len)
{
	static const unsigned char sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00,
		0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

	memcpy(out, sig, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (unsigned char)(len >> 8);
	out[15] = (unsigned char)len;
	memcpy(out + 16, body, len);
	return 16 + len;
}

START_TEST(test_v2_tcp4_with_tlvs)
{
	/* 192.0.2.7:40000 -> 10.0.0.1:9999, then a 5-byte TLV. */
	static const unsigned char body[] = { 192, 0, 2, 7, 10, 0, 0, 1, 0x9c,
		0x40, 0x27, 0x0f, 0x04, 0x00, 0x02, 'h', 'i' };
	unsigned char buf[64];
	size_t n = v2(buf, 0x21, 0x11, body, sizeof(body));

	buf[n] = 'x'; /* the client's first byte */
	for (size_t i = 0; i < n; i++)
		ck_assert_int_eq(parse((const char *)buf, i), PROXY_NEED_MORE);
	ck_assert_int_eq(parse((const char *)buf, n + 1), PROXY_DONE);
	ck_assert_uint_eq(h.len, n);
	expect_v4(&h.src, "192.0.2.7", 40000);
	expect_v4(&h.dst, "10.0.0.1", 9999);
}
END_TEST

START_TEST(test_v2_tcp6)
{
	unsigned char body[36] = { 0 }, buf[64];
	size_t n;

	body[15] = 1; /* ::1 */
	body[31] = 2; /* ::2 */
	body[32] = 0x01;
	body[33] = 0xbb;
	n = v2(buf, 0x21, 0x21, body, sizeof(body));
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_DONE);
	ck_assert_int_eq(h.src.sa.sa_family, AF_INET6);
	ck_assert_int_eq(h.src.sin6.sin6_addr.s6_addr[15], 1);
	ck_assert_int_eq(ntohs(h.src.sin6.sin6_port), 443);
}
END_TEST

START_TEST(test_v2_local_and_unspec)
{
	unsigned char buf[64];
	size_t n = v2(buf, 0x20, 0x00, (const unsigned char *)"", 0);

	ck_assert_int_eq(parse((const char *)buf, n), PROXY_DONE);
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, 16);
	n = v2(buf, 0x21, 0x00, (const unsigned char *)"", 0);
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_DONE);
	ck_assert(h.local);
}
END_TEST

START_TEST(test_v2_malformed)
{
	static const unsigned char four[12] = { 1, 2, 3, 4 };
	unsigned char buf[64];
	size_t n;

	n = v2(buf, 0x11, 0x11, four, sizeof(four));
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_INVALID);
	ck_assert_str_eq(why, "v2: unsupported version");
	n = v2(buf, 0x22, 0x11, four, sizeof(four));
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_INVALID);
	ck_assert_str_eq(why, "v2: unknown command");
	n = v2(buf, 0x21, 0x11, four, 8);
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_INVALID);
	ck_assert_str_eq(why, "v2: address block too short for TCP4");
	n = v2(buf, 0x21, 0x21, four, sizeof(four));
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_INVALID);
	n = v2(buf, 0x21, 0x41, four, sizeof(four));
	ck_assert_int_eq(parse((const char *)buf, n), PROXY_INVALID);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");

	tcase_add_test(tc, test_v1_tcp4);
	tcase_add_test(tc, test_v1_tcp6);
	tcase_add_test(tc, test_v1_unknown);
	tcase_add_test(tc, test_byte_by_byte);
	tcase_add_loop_test(tc, test_v1_malformed, 0,
	    (int)(sizeof(bad_v1) / sizeof(bad_v1[0])));
	tcase_add_test(tc, test_v1_length_limit);
	tcase_add_test(tc, test_not_proxy);
	tcase_add_test(tc, test_v2_tcp4_with_tlvs);
	tcase_add_test(tc, test_v2_tcp6);
	tcase_add_test(tc, test_v2_local_and_unspec);
	tcase_add_test(tc, test_v2_malformed);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
