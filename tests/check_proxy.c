/* Unit tests for the PROXY protocol parser: bytes in, a verdict out. */
#include <arpa/inet.h>
#include <check.h>
#include <string.h>

#include "proxy.h"
#include "unit.h"

static const unsigned char v2_sig[12] = { 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
	0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a };

static struct proxy_header h;
static char why[128];

/* Room for the longest v2 header and some of the client's bytes. */
static unsigned char buf[16 + PROXY_V2_MAX_LEN + 64];

static enum proxy_status
parse(const void *in, size_t len)
{
	return proxy_parse(in, len, &h, why, sizeof(why));
}

#define PARSE(s) parse((s), sizeof(s) - 1)

static void
expect_addr(const union net_addr *a, int family, const char *host, int port)
{
	char text[INET6_ADDRSTRLEN];
	const void *raw = family == AF_INET ? (const void *)&a->sin.sin_addr
					    : (const void *)&a->sin6.sin6_addr;

	ck_assert_int_eq(a->sa.sa_family, family);
	ck_assert_str_eq(inet_ntop(family, raw, text, sizeof(text)), host);
	ck_assert_int_eq(ntohs(family == AF_INET ? a->sin.sin_port
						 : a->sin6.sin6_port),
	    port);
}

/* Field by field: a struct copy need not copy padding. */
static void
expect_same_header(const struct proxy_header *a, const struct proxy_header *b)
{
	ck_assert_int_eq(a->local, b->local);
	ck_assert_uint_eq(a->len, b->len);
	ck_assert_mem_eq(&a->src, &b->src, sizeof(a->src));
	ck_assert_mem_eq(&a->dst, &b->dst, sizeof(a->dst));
}

static void
expect_local(size_t len)
{
	ck_assert(h.local);
	ck_assert_uint_eq(h.len, len);
	ck_assert_int_eq(h.src.sa.sa_family, 0);
	ck_assert_int_eq(h.dst.sa.sa_family, 0);
}

/*
 * The header takes the first hlen bytes of in: every shorter prefix waits
 * for more, and every longer one gives the very same header, whatever the
 * client's bytes after it.  Leaves h as parsed from the whole input.
 */
static void
expect_header_of(const void *in, size_t len, size_t hlen)
{
	struct proxy_header whole;

	ck_assert_int_eq(parse(in, len), PROXY_DONE);
	ck_assert_uint_eq(h.len, hlen);
	whole = h;
	for (size_t i = 0; i < len; i++) {
		enum proxy_status st = parse(in, i);
		ck_assert_msg(st == (i < hlen ? PROXY_NEED_MORE : PROXY_DONE),
		    "prefix of %zu bytes: %d (%s)", i, st, why);
		if (st == PROXY_DONE)
			expect_same_header(&h, &whole);
		ck_assert_str_eq(why, "");
	}
	h = whole;
}

/*
 * The first at bytes are the first to rule a header out: every shorter
 * prefix waits for more, that one and every longer one is refused.
 */
static void
expect_refused_at(const void *in, size_t len, size_t at, const char *reason)
{
	for (size_t i = 0; i < at; i++)
		ck_assert_msg(parse(in, i) == PROXY_NEED_MORE,
		    "prefix of %zu bytes: %s", i, why);
	ck_assert_int_eq(parse(in, at), PROXY_INVALID);
	ck_assert_str_eq(why, reason);
	for (size_t i = at; i <= len; i++)
		ck_assert_int_eq(parse(in, i), PROXY_INVALID);
}

/* A v2 header in buf: signature, ver_cmd, fam, the length, the body. */
static size_t
v2(unsigned char ver_cmd, unsigned char fam, const void *body, size_t len)
{
	memcpy(buf, v2_sig, sizeof(v2_sig));
	buf[12] = ver_cmd;
	buf[13] = fam;
	buf[14] = (unsigned char)(len >> 8);
	buf[15] = (unsigned char)len;
	if (len > 0)
		memcpy(buf + 16, body, len);
	return 16 + len;
}

/* ---- version 1 ---------------------------------------------------------- */

static const struct {
	const char *line;
	int family;
	const char *src, *dst;
	int sport, dport;
} v1_valid[] = {
	{ "PROXY TCP4 192.0.2.7 10.0.0.1 40000 9999\r\n", AF_INET, "192.0.2.7",
	    "10.0.0.1", 40000, 9999 },
	{ "PROXY TCP4 0.0.0.0 255.255.255.255 0 65535\r\n", AF_INET, "0.0.0.0",
	    "255.255.255.255", 0, 65535 },
	{ "PROXY TCP6 2001:db8::1 ::1 1 65535\r\n", AF_INET6, "2001:db8::1",
	    "::1", 1, 65535 },
	{ "PROXY TCP6 FE80::A:b ::1 10 9\r\n", AF_INET6, "fe80::a:b", "::1", 10,
	    9 },
	/* What inet_ntop() writes for an IPv4 client on an IPv6 socket. */
	{ "PROXY TCP6 ::ffff:192.0.2.7 ::ffff:127.0.0.1 40000 9999\r\n",
	    AF_INET6, "::ffff:192.0.2.7", "::ffff:127.0.0.1", 40000, 9999 },
	/* The spec's longest TCP6 line, 104 bytes. */
	{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n",
	    AF_INET6, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535, 65535 },
};

/* Every valid line, then the client's first line in the same read. */
START_TEST(test_v1_valid)
{
	const char *line = v1_valid[_i].line;
	size_t n = strlen(line);

	memcpy(buf, line, n);
	memcpy(buf + n, "ann\r\n", 5);
	expect_header_of(buf, n + 5, n);
	ck_assert(!h.local);
	expect_addr(&h.src, v1_valid[_i].family, v1_valid[_i].src,
	    v1_valid[_i].sport);
	expect_addr(&h.dst, v1_valid[_i].family, v1_valid[_i].dst,
	    v1_valid[_i].dport);
}
END_TEST

/* UNKNOWN: the sender has no address to give; the rest is ignored. */
static const char *const v1_unknown[] = {
	"PROXY UNKNOWN\r\n",
	"PROXY UNKNOWN \r\n",
	"PROXY UNKNOWN ffff::1 ::1 1 2\r\n",
	"PROXY UNKNOWN  not\tchecked: 999999 -1 \x01\x7f\xff\r\n",
};

START_TEST(test_v1_unknown)
{
	const char *line = v1_unknown[_i];
	size_t n = strlen(line);

	memcpy(buf, line, n);
	memcpy(buf + n, "PROXY UNKNOWN\r\n", 15);
	expect_header_of(buf, n + 15, n);
	expect_local(n);
}
END_TEST

/* Whole lines that are not valid, each with the reason it is refused. */
static const struct {
	const char *line;
	const char *why;
} v1_invalid[] = {
	/* the line's end */
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", "v1 line does not end in CRLF" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", "v1 line does not end in CRLF" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n",
	    "v1 line does not end in CRLF" },
	{ "PROXY UNKNOWN a\nb\r\n", "v1 line does not end in CRLF" },
	{ "PROXY UNKNOWN a\rb\r\n", "v1 line does not end in CRLF" },
	{ "PROXY UNKNOWN\n", "v1 line does not end in CRLF" },
	/* the signature and the protocol */
	{ "PROXY\r\n", "not a PROXY header" },
	{ "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header" },
	{ " PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "not a PROXY header" },
	{ "PROXY \r\n", "v1: unknown protocol" },
	{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: unknown protocol" },
	{ "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: unknown protocol" },
	{ "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "v1: unknown protocol" },
	{ "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n", "v1: unknown protocol" },
	{ "PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", "v1: unknown protocol" },
	{ "PROXY UNKNOWNX\r\n", "v1: unknown protocol" },
	{ "PROXY UNKNOW\r\n", "v1: unknown protocol" },
	/* the number of fields, and single spaces between them */
	{ "PROXY TCP4\r\n", "v1: too few fields" },
	{ "PROXY TCP4 1.2.3.4\r\n", "v1: too few fields" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", "v1: too few fields" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", "v1: too many fields" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", "v1: too many fields" },
	{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n",
	    "v1: bad destination address" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", "v1: bad destination port" },
	{ "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", "v1: bad source address" },
	/* addresses: the protocol's family, canonical IPv4 */
	{ "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.4 ::1 1 2\r\n", "v1: bad destination address" },
	{ "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP6 ::1 5.6.7.8 1 2\r\n", "v1: bad destination address" },
	{ "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 0x1.2.3.4 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP4 localhost 5.6.7.8 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP6 1::2::3 ::1 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP6 00000::1 ::1 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP6 1:2:3:4:5:6:7:8:9 ::1 1 2\r\n",
	    "v1: bad source address" },
	{ "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n", "v1: bad source address" },
	{ "PROXY TCP6 [::1] ::1 1 2\r\n", "v1: bad source address" },
	/* ports: decimal 0 to 65535, no sign, no leading zero */
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 00 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 99999 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 100000 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 2\r\n", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2a\r\n", "v1: bad destination port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 065535\r\n",
	    "v1: bad destination port" },
};

START_TEST(test_v1_invalid)
{
	const char *line = v1_invalid[_i].line;

	ck_assert_int_eq(parse(line, strlen(line)), PROXY_INVALID);
	ck_assert_str_eq(why, v1_invalid[_i].why);
	ck_assert_uint_eq(h.len, 0);
	ck_assert(!h.local);
}
END_TEST

/* A NUL is no address or port byte; after UNKNOWN it is ignored. */
START_TEST(test_v1_nul_bytes)
{
	ck_assert_int_eq(PARSE("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\0\r\n"),
	    PROXY_INVALID);
	ck_assert_str_eq(why, "v1: bad destination port");
	ck_assert_int_eq(PARSE("PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"),
	    PROXY_INVALID);
	ck_assert_str_eq(why, "v1: bad source address");
	ck_assert_int_eq(PARSE("PROXY UNKNOWN \0\r\n"), PROXY_DONE);
	expect_local(17);
}
END_TEST

/* A line of n bytes: "PROXY UNKNOWN " and x's, then CRLF if crlf. */
static size_t
unknown_line(size_t n, bool crlf)
{
	memcpy(buf, "PROXY UNKNOWN ", 14);
	memset(buf + 14, 'x', n - 14);
	if (crlf)
		memcpy(buf + n - 2, "\r\n", 2);
	return n;
}

/* 107 bytes, CRLF included, is the longest line there is. */
START_TEST(test_v1_107_bytes)
{
	size_t n = unknown_line(107, true);

	memcpy(buf + n, "more", 4);
	expect_header_of(buf, n + 4, 107);
	expect_local(107);
	/* The spec's worst case, with both addresses and ports. */
	ck_assert_int_eq(PARSE("PROXY UNKNOWN "
			       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			       "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
			       "65535 65535\r\n"),
	    PROXY_DONE);
	expect_local(107);
}
END_TEST

/* 108 is refused once 107 bytes show the CRLF cannot end in time. */
START_TEST(test_v1_108_bytes)
{
	unknown_line(108, true);
	expect_refused_at(buf, 108, 107, "v1 line longer than 107 bytes");
	unknown_line(120, false);
	expect_refused_at(buf, 120, 107, "v1 line longer than 107 bytes");
}
END_TEST

/*
 * A TCP6 line in the IPv4-mapped form, every field valid, still may not
 * pass 107 bytes: this one would take 116.
 */
START_TEST(test_v1_tcp6_over_107_bytes)
{
	static const char line[] =
	    "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 "
	    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 65535 65535\r\n";

	ck_assert_uint_eq(sizeof(line) - 1, 116);
	expect_refused_at(line, sizeof(line) - 1, 107,
	    "v1 line longer than 107 bytes");
}
END_TEST

/*
 * Each input: its first bytes could begin a header, the next byte rules
 * that out.  A field is judged whole when the byte after it arrives, and
 * while it arrives by its characters and length (ports exactly).
 */
static const struct {
	const char *ok;
	const char *bad;
	const char *why;
} v1_refused_at[] = {
	{ "", "Hello\r\n", "not a PROXY header" },
	{ "", "GET / HTTP/1.1\r\n", "not a PROXY header" },
	{ "", "\x16\x03\x01", "not a PROXY header" },
	{ "PROX", "I", "not a PROXY header" },
	{ "PROXY", "\r\n", "not a PROXY header" },
	{ "PROXY", "\t", "not a PROXY header" },
	{ "PROXY ", " ", "v1: unknown protocol" },
	{ "PROXY TCP", "5", "v1: unknown protocol" },
	{ "PROXY TCP4", "x", "v1: unknown protocol" },
	{ "PROXY UNKNOWN", "\t", "v1: unknown protocol" },
	{ "PROXY UNKNOWN", "\n", "v1 line does not end in CRLF" },
	{ "PROXY TCP4", "\r", "v1: too few fields" },
	{ "PROXY TCP4 ", " ", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.", "a", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.", ":", "v1: bad source address" },
	{ "PROXY TCP4 123456789012345", "6", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3..4", " ", "v1: bad source address" },
	{ "PROXY TCP4 1.2.3.4", "\r", "v1: too few fields" },
	{ "PROXY TCP6 fe80::", "%", "v1: bad source address" },
	{ "PROXY TCP6 ::1 ::", "g", "v1: bad destination address" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 ", "-", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 0", "1", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 6553", "6", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 65535", "0", "v1: bad source port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 ", " ", "v1: bad destination port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 9999", "9",
	    "v1: bad destination port" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", " ", "v1: too many fields" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2", "\n",
	    "v1 line does not end in CRLF" },
	{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", "\r",
	    "v1 line does not end in CRLF" },
	{ "PROXY UNKNOWN 1 2 3\r", "x", "v1 line does not end in CRLF" },
};

START_TEST(test_v1_refused_at_first_bad_byte)
{
	size_t ok = strlen(v1_refused_at[_i].ok);
	size_t bad = strlen(v1_refused_at[_i].bad);

	memcpy(buf, v1_refused_at[_i].ok, ok);
	memcpy(buf + ok, v1_refused_at[_i].bad, bad);
	expect_refused_at(buf, ok + bad, ok + 1, v1_refused_at[_i].why);
}
END_TEST

/* ---- version 2 ---------------------------------------------------------- */

/* 192.0.2.7:40000 -> 10.0.0.1:9999 */
static const unsigned char tcp4_block[12] = { 192, 0, 2, 7, 10, 0, 0, 1, 0x9c,
	0x40, 0x27, 0x0f };

START_TEST(test_v2_tcp4)
{
	size_t n = v2(0x21, 0x11, tcp4_block, sizeof(tcp4_block));

	memcpy(buf + n, "ann\n", 4);
	expect_header_of(buf, n + 4, 28);
	ck_assert(!h.local);
	expect_addr(&h.src, AF_INET, "192.0.2.7", 40000);
	expect_addr(&h.dst, AF_INET, "10.0.0.1", 9999);
}
END_TEST

/* TLVs after the addresses are skipped, the header's length includes them. */
START_TEST(test_v2_tcp4_with_tlvs)
{
	/* ALPN "h2", an empty NOOP, an authority, a CRC32C (not checked). */
	static const char tlvs[] = "\x01\x00\x02h2"
				   "\x04\x00\x00"
				   "\x02\x00\x0b"
				   "example.com"
				   "\x03\x00\x04\xde\xad\xbe\xef";
	unsigned char body[12 + sizeof(tlvs) - 1];
	size_t n;

	memcpy(body, tcp4_block, 12);
	memcpy(body + 12, tlvs, sizeof(tlvs) - 1);
	n = v2(0x21, 0x11, body, sizeof(body));
	memcpy(buf + n, "\x01\x00\x02h2", 5); /* the client's, not a TLV */
	expect_header_of(buf, n + 5, 16 + sizeof(body));
	expect_addr(&h.src, AF_INET, "192.0.2.7", 40000);
	expect_addr(&h.dst, AF_INET, "10.0.0.1", 9999);
}
END_TEST

START_TEST(test_v2_tcp6)
{
	unsigned char body[36] = { 0x20, 0x01, 0x0d, 0xb8 };
	size_t n;

	body[15] = 1;	 /* 2001:db8::1 */
	body[31] = 2;	 /* ::2 */
	body[32] = 0x01; /* 443 */
	body[33] = 0xbb;
	body[34] = 0xff; /* 65535 */
	body[35] = 0xff;
	n = v2(0x21, 0x21, body, sizeof(body));
	memcpy(buf + n, "x", 1);
	expect_header_of(buf, n + 1, 52);
	ck_assert(!h.local);
	expect_addr(&h.src, AF_INET6, "2001:db8::1", 443);
	expect_addr(&h.dst, AF_INET6, "::2", 65535);
}
END_TEST

/* LOCAL: a health check; the block, family byte included, goes unread. */
START_TEST(test_v2_local)
{
	static const unsigned char junk[5] = { 0xff, 0xff, 0xff, 0xff, 0xff };
	size_t n = v2(0x20, 0x00, NULL, 0);

	expect_header_of(buf, n, 16);
	expect_local(16);
	n = v2(0x20, 0x11, tcp4_block, sizeof(tcp4_block));
	memcpy(buf + n, "x", 1);
	expect_header_of(buf, n + 1, 28);
	expect_local(28);
	n = v2(0x20, 0xff, junk, sizeof(junk));
	expect_header_of(buf, n, 21);
	expect_local(21);
}
END_TEST

/*
 * PROXY with an address that is not TCP: the spec lets a receiver fall
 * back to the real connection's addresses, and hellod does.  UNSPEC's
 * block has no known layout and is skipped whole.
 */
START_TEST(test_v2_not_tcp_is_local)
{
	static const struct {
		unsigned char fam;
		size_t len;
	} cases[] = { { 0x00, 0 }, { 0x00, 7 }, { 0x12, 12 }, { 0x22, 36 },
		{ 0x31, 216 }, { 0x32, 216 }, { 0x12, 12 + 3 } };
	unsigned char body[256] = { 0 };

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = v2(0x21, cases[i].fam, body, cases[i].len);
		expect_header_of(buf, n, 16 + cases[i].len);
		expect_local(16 + cases[i].len);
	}
}
END_TEST

/* The length may reach PROXY_V2_MAX_LEN and no further. */
START_TEST(test_v2_length_limit)
{
	static unsigned char body[PROXY_V2_MAX_LEN + 1];
	size_t tlv = PROXY_V2_MAX_LEN - 12 - 3;
	size_t n;

	memcpy(body, tcp4_block, 12);
	body[12] = 0xe0; /* a custom TLV filling the rest */
	body[13] = (unsigned char)(tlv >> 8);
	body[14] = (unsigned char)tlv;
	n = v2(0x21, 0x11, body, PROXY_V2_MAX_LEN);
	ck_assert_int_eq(parse(buf, n), PROXY_DONE);
	ck_assert_uint_eq(h.len, 16 + PROXY_V2_MAX_LEN);
	expect_addr(&h.src, AF_INET, "192.0.2.7", 40000);
	n = v2(0x20, 0x00, body, PROXY_V2_MAX_LEN);
	ck_assert_int_eq(parse(buf, n), PROXY_DONE);
	expect_local(16 + PROXY_V2_MAX_LEN);
	n = v2(0x21, 0x11, body, PROXY_V2_MAX_LEN + 1);
	expect_refused_at(buf, n, 16,
	    "v2: length 4097 is over the limit of 4096");
	v2(0x20, 0x00, NULL, 0);
	buf[14] = buf[15] = 0xff;
	ck_assert_int_eq(parse(buf, 16), PROXY_INVALID);
	ck_assert_str_eq(why, "v2: length 65535 is over the limit of 4096");
}
END_TEST

/* Every byte of the signature that differs refuses the input there. */
START_TEST(test_v2_signature_refused_at_each_byte)
{
	size_t n = v2(0x21, 0x11, tcp4_block, sizeof(tcp4_block));

	buf[_i] ^= 0x20;
	expect_refused_at(buf, n, (size_t)_i + 1, "not a PROXY header");
}
END_TEST

/* A version, command or family byte is judged as soon as it arrives. */
static const struct {
	unsigned char ver_cmd, fam;
	const char *why;
} v2_bad_byte[] = {
	{ 0x00, 0x11, "v2: unsupported version" },
	{ 0x11, 0x11, "v2: unsupported version" },
	{ 0x31, 0x11, "v2: unsupported version" },
	{ 0xf1, 0x11, "v2: unsupported version" },
	{ 0x22, 0x11, "v2: unknown command" },
	{ 0x2f, 0x11, "v2: unknown command" },
	{ 0x21, 0x01, "v2: unknown address family or transport" },
	{ 0x21, 0x10, "v2: unknown address family or transport" },
	{ 0x21, 0x13, "v2: unknown address family or transport" },
	{ 0x21, 0x23, "v2: unknown address family or transport" },
	{ 0x21, 0x30, "v2: unknown address family or transport" },
	{ 0x21, 0x41, "v2: unknown address family or transport" },
	{ 0x21, 0xff, "v2: unknown address family or transport" },
};

START_TEST(test_v2_refused_at_bad_byte)
{
	size_t n = v2(v2_bad_byte[_i].ver_cmd, v2_bad_byte[_i].fam, tcp4_block,
	    sizeof(tcp4_block));
	size_t at = v2_bad_byte[_i].ver_cmd == 0x21 ? 14 : 13;

	expect_refused_at(buf, n, at, v2_bad_byte[_i].why);
}
END_TEST

/* The length is judged against the family as soon as it arrives. */
static const struct {
	unsigned char fam;
	size_t len;
	const char *why;
} v2_short[] = {
	{ 0x11, 0, "v2: address block too short for TCP4" },
	{ 0x11, 11, "v2: address block too short for TCP4" },
	{ 0x12, 11, "v2: address block too short for UDP4" },
	{ 0x21, 12, "v2: address block too short for TCP6" },
	{ 0x21, 35, "v2: address block too short for TCP6" },
	{ 0x22, 35, "v2: address block too short for UDP6" },
	{ 0x31, 215, "v2: address block too short for UNIX stream" },
	{ 0x32, 36, "v2: address block too short for UNIX datagram" },
	/* one or two bytes after the addresses cannot hold a TLV */
	{ 0x11, 13, "v2: TLV overruns the header" },
	{ 0x11, 14, "v2: TLV overruns the header" },
	{ 0x21, 37, "v2: TLV overruns the header" },
	{ 0x31, 218, "v2: TLV overruns the header" },
};

START_TEST(test_v2_refused_at_length)
{
	static unsigned char body[256];
	size_t n = v2(0x21, v2_short[_i].fam, body, v2_short[_i].len);

	expect_refused_at(buf, n, 16, v2_short[_i].why);
}
END_TEST

/* A TLV that runs past the header is refused once its length arrives. */
START_TEST(test_v2_tlv_overrun)
{
	unsigned char body[32];
	size_t n;

	memcpy(body, tcp4_block, 12);
	memcpy(body + 12, "\x04\x00\x00\x01\x00\x02x", 7); /* 2 of 3 bytes */
	n = v2(0x21, 0x11, body, 12 + 7);
	expect_refused_at(buf, n, 16 + 12 + 3 + 3,
	    "v2: TLV overruns the header");
	/* A TLV length far past the header, already known after 3 bytes. */
	memcpy(body + 12, "\x20\xff\xff", 3);
	n = v2(0x21, 0x11, body, 12 + 3);
	expect_refused_at(buf, n, 16 + 12 + 3, "v2: TLV overruns the header");
}
END_TEST

/* ---- either ------------------------------------------------------------- */

START_TEST(test_empty_input_needs_more)
{
	ck_assert_int_eq(parse("", 0), PROXY_NEED_MORE);
	ck_assert_int_eq(proxy_parse(NULL, 0, &h, NULL, 0), PROXY_NEED_MORE);
}
END_TEST

/* why is always a terminated string, set only for INVALID; h likewise. */
START_TEST(test_why_and_header_reset)
{
	char small[5];

	memset(why, 'x', sizeof(why));
	memset(&h, 0xa5, sizeof(h));
	ck_assert_int_eq(PARSE("PROXY TCP4 1.2."), PROXY_NEED_MORE);
	ck_assert_str_eq(why, "");
	ck_assert_uint_eq(h.len, 0);
	ck_assert_int_eq(h.src.sa.sa_family, 0);
	memset(why, 'x', sizeof(why));
	ck_assert_int_eq(PARSE("PROXY UNKNOWN\r\n"), PROXY_DONE);
	ck_assert_str_eq(why, "");
	memset(&h, 0xa5, sizeof(h));
	ck_assert_int_eq(PARSE("PROXY TCP4 1.2.3.4 5.6.7.8 1 x"),
	    PROXY_INVALID);
	ck_assert_uint_eq(h.len, 0);
	ck_assert(!h.local);
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(proxy_parse("Hello", 5, &h, small, sizeof(small)),
	    PROXY_INVALID);
	ck_assert_str_eq(small, "not ");
	ck_assert_int_eq(proxy_parse("Hello", 5, &h, NULL, 0), PROXY_INVALID);
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_ROWS(test_v1_valid, v1_valid),
		UNIT_ROWS(test_v1_unknown, v1_unknown),
		UNIT_ROWS(test_v1_invalid, v1_invalid),
		UNIT_TEST(test_v1_nul_bytes),
		UNIT_TEST(test_v1_107_bytes),
		UNIT_TEST(test_v1_108_bytes),
		UNIT_TEST(test_v1_tcp6_over_107_bytes),
		UNIT_ROWS(test_v1_refused_at_first_bad_byte, v1_refused_at),
		UNIT_TEST(test_v2_tcp4),
		UNIT_TEST(test_v2_tcp4_with_tlvs),
		UNIT_TEST(test_v2_tcp6),
		UNIT_TEST(test_v2_local),
		UNIT_TEST(test_v2_not_tcp_is_local),
		UNIT_TEST(test_v2_length_limit),
		{ test_v2_signature_refused_at_each_byte, (int)sizeof(v2_sig) },
		UNIT_ROWS(test_v2_refused_at_bad_byte, v2_bad_byte),
		UNIT_ROWS(test_v2_refused_at_length, v2_short),
		UNIT_TEST(test_v2_tlv_overrun),
		UNIT_TEST(test_empty_input_needs_more),
		UNIT_TEST(test_why_and_header_reset),
	};

	return UNIT_MAIN("proxy", tests, NULL, NULL);
}
