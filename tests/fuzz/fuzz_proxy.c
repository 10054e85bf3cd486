/*
 * Fuzzes the PROXY header parser with the input as a connection's first
 * bytes.  It is parsed whole, then as each of its prefixes: a connection
 * that receives it in pieces of any size calls the parser with a prefix
 * at each piece, so this covers every way the input can be cut.
 *
 * Checked on every call: why is a terminated string within its buffer,
 * set exactly when the verdict is INVALID, and h is zero unless DONE; a
 * DONE header lies within the bytes given, is 16 to 16 + PROXY_V2_MAX_LEN
 * bytes (v2) or 15 to 107 bytes ending in CRLF (v1), and is local or
 * carries two addresses of one family.
 *
 * Checked across the prefixes: the verdicts are NEED_MORE, then either
 * INVALID for every longer prefix or DONE with one and the same header;
 * when the whole input is a header of L bytes, every prefix shorter than
 * L needs more and every other is that header.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char v2_sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r', '\n', 'Q',
	'U', 'I', 'T', '\n' };

/* A trap, not assert(): it must fire in every build type. */
static void
require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static bool
is_zero(const void *p, size_t len)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i] != 0)
			return false;
	return true;
}

static bool
same_header(const struct proxy_header *a, const struct proxy_header *b)
{
	return a->local == b->local && a->len == b->len &&
	    memcmp(&a->src, &b->src, sizeof(a->src)) == 0 &&
	    memcmp(&a->dst, &b->dst, sizeof(a->dst)) == 0;
}

static void
check_done(const char *buf, size_t len, const struct proxy_header *h)
{
	bool v2 =
	    len >= sizeof(v2_sig) && memcmp(buf, v2_sig, sizeof(v2_sig)) == 0;
	int family = h->src.sa.sa_family;

	require(h->len <= len);
	if (v2) {
		require(h->len >= 16 && h->len <= 16 + PROXY_V2_MAX_LEN);
	} else {
		require(h->len >= 15 && h->len <= 107);
		require(buf[h->len - 2] == '\r' && buf[h->len - 1] == '\n');
	}
	if (h->local)
		require(is_zero(&h->src, sizeof(h->src)) &&
		    is_zero(&h->dst, sizeof(h->dst)));
	else
		require((family == AF_INET || family == AF_INET6) &&
		    h->dst.sa.sa_family == family);
}

/*
 * One call, with a why buffer that is sometimes too short for the reason:
 * the reason must be cut, not overrun.
 */
static enum proxy_status
judge(const char *buf, size_t len, struct proxy_header *h)
{
	char why[72];
	size_t whylen = len % 2 == 0 ? 64 : 6;
	enum proxy_status st;

	memset(why, 'x', sizeof(why));
	st = proxy_parse(buf, len, h, why, whylen);
	require(memchr(why, '\0', whylen) != NULL);
	require(why[whylen] == 'x');
	require((st == PROXY_INVALID) == (why[0] != '\0'));
	if (st == PROXY_DONE)
		check_done(buf, len, h);
	else
		require(is_zero(h, sizeof(*h)));
	return st;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proxy_header whole, part, first;
	enum proxy_status st = judge(buf, size, &whole);
	enum proxy_status prev = PROXY_NEED_MORE;

	memset(&first, 0, sizeof(first));
	for (size_t i = 0; i <= size; i++) {
		enum proxy_status p = judge(buf, i, &part);

		require(prev == PROXY_NEED_MORE || p == prev);
		if (p == PROXY_DONE && prev == PROXY_NEED_MORE)
			first = part;
		if (p == PROXY_DONE)
			require(same_header(&part, &first));
		if (st == PROXY_DONE)
			require(p ==
			    (i < whole.len ? PROXY_NEED_MORE : PROXY_DONE));
		prev = p;
	}
	require(prev == st);
	return 0;
}
