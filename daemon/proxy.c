#include "proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/*
 * The spec's longest v1 line, "PROXY UNKNOWN" with two full IPv6
 * addresses and ports, CRLF included.  A line with no CRLF within it is
 * invalid.
 */
#define PROXY_V1_MAX 107

/* A v2 header's fixed part: signature, command, family, length. */
#define PROXY_V2_HEAD 16

enum {
	PROXY_V2_VERSION = 0x2, /* the high nibble of the 13th byte */
	PROXY_V2_LOCAL = 0x0,	/* commands, its low nibble */
	PROXY_V2_PROXY = 0x1,
	PROXY_TLV_HEAD = 3, /* a TLV's type and length */
};

static const char proxy_v1_sig[] = "PROXY ";
static const char proxy_v2_sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r', '\n',
	'Q', 'U', 'I', 'T', '\n' };

static enum proxy_status
proxy_fail(char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	return PROXY_INVALID;
}

/* True when the first bytes, however few, agree with the signature. */
static bool
proxy_starts(const char *buf, size_t len, const char *sig, size_t siglen)
{
	return memcmp(buf, sig, len < siglen ? len : siglen) == 0;
}

/* True when the field, as far as it has arrived, could still be word. */
static bool
proxy_could_be(const char *f, size_t n, const char *word)
{
	return n <= strlen(word) && memcmp(f, word, n) == 0;
}

static bool
proxy_is(const char *f, size_t n, const char *word)
{
	return n == strlen(word) && memcmp(f, word, n) == 0;
}

/* ---- version 1 ---------------------------------------------------------- */

/* The text of a v1 line after "PROXY ", as far as it has arrived. */
struct proxy_v1_text {
	const char *p;	 /* the next field */
	const char *end; /* where the line's text ends, or the bytes so far */
	bool ended;	 /* a CR or LF ends it: its last field is whole */
};

/* What ends a field. */
enum proxy_v1_end {
	PROXY_V1_OPEN,	 /* the bytes so far: it may go on */
	PROXY_V1_LAST,	 /* the line's end */
	PROXY_V1_SPACED, /* a space: another field follows */
};

/*
 * Takes the next field.  Fields are split at every space, so a doubled,
 * leading or trailing space makes an empty field, which no field accepts.
 */
static enum proxy_v1_end
proxy_v1_field(struct proxy_v1_text *t, const char **f, size_t *n)
{
	const char *sp = memchr(t->p, ' ', (size_t)(t->end - t->p));

	*f = t->p;
	if (sp != NULL) {
		*n = (size_t)(sp - t->p);
		t->p = sp + 1;
		return PROXY_V1_SPACED;
	}
	*n = (size_t)(t->end - t->p);
	t->p = t->end;
	return t->ended ? PROXY_V1_LAST : PROXY_V1_OPEN;
}

/*
 * The characters an address of the family may hold, and no more of them
 * than its longest text form.  An address still arriving is judged by
 * this alone; inet_pton() judges it once it is whole.
 */
static bool
proxy_v1_addr_chars(const char *f, size_t n, int family)
{
	const char *allowed =
	    family == AF_INET ? "0123456789." : "0123456789abcdefABCDEF:.";
	size_t max =
	    family == AF_INET ? INET_ADDRSTRLEN - 1 : INET6_ADDRSTRLEN - 1;

	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (f[i] == '\0' || strchr(allowed, f[i]) == NULL)
			return false;
	return true;
}

/*
 * A whole address, as inet_pton() reads it: for IPv4 exactly four decimal
 * numbers of 0 to 255 without leading zeros, as the spec demands; for
 * IPv6 hex groups with at most one "::", or the IPv4-mapped form
 * ("::ffff:192.0.2.1") that inet_ntop() writes for such clients.
 */
static bool
proxy_v1_addr(const char *f, size_t n, int family, union net_addr *addr)
{
	char text[INET6_ADDRSTRLEN];

	if (n == 0 || !proxy_v1_addr_chars(f, n, family))
		return false;
	memcpy(text, f, n);
	text[n] = '\0';
	addr->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET)
		return inet_pton(AF_INET, text, &addr->sin.sin_addr) == 1;
	return inet_pton(AF_INET6, text, &addr->sin6.sin6_addr) == 1;
}

/*
 * A port: decimal, 0 to 65535, no sign, no leading zero.  Every beginning
 * of a valid port is a valid port, so this judges one still arriving too.
 */
static bool
proxy_v1_port(const char *f, size_t n, in_port_t *port)
{
	unsigned v = 0;

	if (n == 0 || n > 5 || (n > 1 && f[0] == '0'))
		return false;
	for (size_t i = 0; i < n; i++) {
		if (f[i] < '0' || f[i] > '9')
			return false;
		v = v * 10 + (unsigned)(f[i] - '0');
	}
	if (v > 65535)
		return false;
	*port = htons((uint16_t)v);
	return true;
}

/*
 * Field i of "SRC DST SPORT DPORT" into h, or, while it is still arriving,
 * only checked as far as it goes.
 */
static bool
proxy_v1_tcp_field(int i, const char *f, size_t n, enum proxy_v1_end end,
    int family, struct proxy_header *h)
{
	union net_addr *a = i % 2 == 0 ? &h->src : &h->dst;
	in_port_t port;

	if (end == PROXY_V1_OPEN)
		return i < 2 ? proxy_v1_addr_chars(f, n, family)
			     : n == 0 || proxy_v1_port(f, n, &port);
	if (i < 2)
		return proxy_v1_addr(f, n, family, a);
	if (!proxy_v1_port(f, n, &port))
		return false;
	if (family == AF_INET)
		a->sin.sin_port = port;
	else
		a->sin6.sin6_port = port;
	return true;
}

/* "SRC DST SPORT DPORT", after "TCP4 " or "TCP6 ". */
static enum proxy_status
proxy_v1_tcp(struct proxy_v1_text *t, int family, struct proxy_header *h,
    char *why, size_t whylen)
{
	static const char *const bad[] = { "v1: bad source address",
		"v1: bad destination address", "v1: bad source port",
		"v1: bad destination port" };

	for (int i = 0; i < 4; i++) {
		const char *f;
		size_t n;
		enum proxy_v1_end end = proxy_v1_field(t, &f, &n);

		if (!proxy_v1_tcp_field(i, f, n, end, family, h))
			return proxy_fail(why, whylen, bad[i]);
		if (end == PROXY_V1_OPEN)
			return PROXY_NEED_MORE;
		if (end == PROXY_V1_LAST && i < 3)
			return proxy_fail(why, whylen, "v1: too few fields");
		if (end == PROXY_V1_SPACED && i == 3)
			return proxy_fail(why, whylen, "v1: too many fields");
	}
	return PROXY_DONE;
}

/* The fields after "PROXY ". */
static enum proxy_status
proxy_v1_fields(struct proxy_v1_text *t, struct proxy_header *h, char *why,
    size_t whylen)
{
	const char *f;
	size_t n;
	enum proxy_v1_end end = proxy_v1_field(t, &f, &n);
	int family;

	if (end == PROXY_V1_OPEN)
		return proxy_could_be(f, n, "TCP4") ||
			proxy_could_be(f, n, "TCP6") ||
			proxy_could_be(f, n, "UNKNOWN")
		    ? PROXY_NEED_MORE
		    : proxy_fail(why, whylen, "v1: unknown protocol");
	/* The spec has the receiver ignore whatever follows UNKNOWN. */
	if (proxy_is(f, n, "UNKNOWN")) {
		h->local = true;
		return PROXY_DONE;
	}
	if (proxy_is(f, n, "TCP4"))
		family = AF_INET;
	else if (proxy_is(f, n, "TCP6"))
		family = AF_INET6;
	else
		return proxy_fail(why, whylen, "v1: unknown protocol");
	if (end == PROXY_V1_LAST)
		return proxy_fail(why, whylen, "v1: too few fields");
	return proxy_v1_tcp(t, family, h, why, whylen);
}

/* Where the line's text ends: its first CR or LF, else scan. */
static size_t
proxy_v1_eol(const char *buf, size_t scan)
{
	size_t i = sizeof(proxy_v1_sig) - 1;

	while (i < scan && buf[i] != '\r' && buf[i] != '\n')
		i++;
	return i;
}

/*
 * "PROXY TCP4|TCP6 SRC DST SPORT DPORT" or "PROXY UNKNOWN ...", single
 * spaces, CRLF, at most 107 bytes.  The fields are judged before the
 * line's end, so the reason given is that of the earliest fault.  The
 * first CR ends the line and must be followed by LF: the spec tolerates no
 * lone CR or LF, even in what UNKNOWN lets the sender add.
 */
static enum proxy_status
proxy_v1(const char *buf, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	size_t eol = proxy_v1_eol(buf, scan);
	struct proxy_v1_text t = {
		.p = buf + sizeof(proxy_v1_sig) - 1,
		.end = buf + eol,
		.ended = eol < scan,
	};
	enum proxy_status st = proxy_v1_fields(&t, h, why, whylen);

	if (st == PROXY_INVALID)
		return st;
	if (eol == scan)
		return len < PROXY_V1_MAX
		    ? PROXY_NEED_MORE
		    : proxy_fail(why, whylen, "v1 line longer than 107 bytes");
	if (buf[eol] == '\n')
		return proxy_fail(why, whylen, "v1 line does not end in CRLF");
	if (eol + 1 == PROXY_V1_MAX)
		return proxy_fail(why, whylen, "v1 line longer than 107 bytes");
	if (eol + 1 == len)
		return PROXY_NEED_MORE;
	if (buf[eol + 1] != '\n')
		return proxy_fail(why, whylen, "v1 line does not end in CRLF");
	h->len = eol + 2;
	return st;
}

/* ---- version 2 ---------------------------------------------------------- */

/* Addresses and ports are in network order, as in a sockaddr. */
static void
proxy_v2_tcp4(const unsigned char *a, struct proxy_header *h)
{
	h->src.sin.sin_family = AF_INET;
	h->dst.sin.sin_family = AF_INET;
	memcpy(&h->src.sin.sin_addr, a, 4);
	memcpy(&h->dst.sin.sin_addr, a + 4, 4);
	memcpy(&h->src.sin.sin_port, a + 8, 2);
	memcpy(&h->dst.sin.sin_port, a + 10, 2);
}

static void
proxy_v2_tcp6(const unsigned char *a, struct proxy_header *h)
{
	h->src.sin6.sin6_family = AF_INET6;
	h->dst.sin6.sin6_family = AF_INET6;
	memcpy(&h->src.sin6.sin6_addr, a, 16);
	memcpy(&h->dst.sin6.sin6_addr, a + 16, 16);
	memcpy(&h->src.sin6.sin6_port, a + 32, 2);
	memcpy(&h->dst.sin6.sin6_port, a + 34, 2);
}

/*
 * The family and transport bytes the spec defines, each with the size of
 * its address block; any other byte is invalid.  Only TCP addresses say
 * who a TCP client is.  For the rest the spec lets a receiver fall back to
 * UNSPEC, which it may accept with the connection's real addresses, and
 * they are accepted that way: they occur in front of a TCP service, for
 * instance when the balancer takes its clients on a UNIX socket.
 */
static const struct proxy_v2_family {
	unsigned char fam;
	size_t addrlen;
	const char *name;
	void (*set)(const unsigned char *a, struct proxy_header *h);
} proxy_v2_families[] = {
	{ 0x00, 0, "UNSPEC", NULL },
	{ 0x11, 12, "TCP4", proxy_v2_tcp4 },
	{ 0x12, 12, "UDP4", NULL },
	{ 0x21, 36, "TCP6", proxy_v2_tcp6 },
	{ 0x22, 36, "UDP6", NULL },
	{ 0x31, 216, "UNIX stream", NULL },
	{ 0x32, 216, "UNIX datagram", NULL },
};

static const struct proxy_v2_family *
proxy_v2_family(unsigned char fam)
{
	size_t n = sizeof(proxy_v2_families) / sizeof(proxy_v2_families[0]);

	for (size_t i = 0; i < n; i++)
		if (proxy_v2_families[i].fam == fam)
			return &proxy_v2_families[i];
	return NULL;
}

/*
 * The TLVs after the address block must fill the rest of the header
 * exactly, as HAProxy checks on its side; what they say is of no use
 * here.  Judged as far as the bytes have arrived.
 */
static bool
proxy_v2_tlvs_fit(const unsigned char *b, size_t len, size_t pos, size_t end)
{
	while (pos < end) {
		if (end - pos < PROXY_TLV_HEAD)
			return false;
		if (len < pos + PROXY_TLV_HEAD)
			return true;
		pos += PROXY_TLV_HEAD + ((size_t)b[pos + 1] << 8 | b[pos + 2]);
	}
	return pos == end;
}

/* The PROXY command: the family's address block, then TLVs, up to end. */
static enum proxy_status
proxy_v2_proxy(const unsigned char *b, size_t len, size_t end,
    const struct proxy_v2_family *fam, struct proxy_header *h, char *why,
    size_t whylen)
{
	size_t tlvs = PROXY_V2_HEAD + fam->addrlen;

	if (end < tlvs) {
		snprintf(why, whylen, "v2: address block too short for %s",
		    fam->name);
		return PROXY_INVALID;
	}
	/* UNSPEC's block has no known layout: it is skipped whole. */
	if (fam->addrlen > 0 && !proxy_v2_tlvs_fit(b, len, tlvs, end))
		return proxy_fail(why, whylen, "v2: TLV overruns the header");
	if (len < end)
		return PROXY_NEED_MORE;
	if (fam->set != NULL)
		fam->set(b + PROXY_V2_HEAD, h);
	else
		h->local = true;
	h->len = end;
	return PROXY_DONE;
}

/*
 * The signature, then the version and command, the family and transport,
 * and the length of the rest of the header in network order, which may
 * not pass PROXY_V2_MAX_LEN; each is judged as soon as it arrives.
 */
static enum proxy_status
proxy_v2(const unsigned char *b, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	const struct proxy_v2_family *fam = NULL;
	size_t rest;
	int cmd;

	if (len < 13)
		return PROXY_NEED_MORE;
	if (b[12] >> 4 != PROXY_V2_VERSION)
		return proxy_fail(why, whylen, "v2: unsupported version");
	cmd = b[12] & 0xf;
	if (cmd != PROXY_V2_LOCAL && cmd != PROXY_V2_PROXY)
		return proxy_fail(why, whylen, "v2: unknown command");
	/* LOCAL's family byte is ignored, as the spec says. */
	if (len < 14)
		return PROXY_NEED_MORE;
	if (cmd == PROXY_V2_PROXY && (fam = proxy_v2_family(b[13])) == NULL)
		return proxy_fail(why, whylen,
		    "v2: unknown address family or transport");
	if (len < PROXY_V2_HEAD)
		return PROXY_NEED_MORE;
	rest = (size_t)b[14] << 8 | b[15];
	if (rest > PROXY_V2_MAX_LEN) {
		snprintf(why, whylen, "v2: length %zu is over the limit of %d",
		    rest, PROXY_V2_MAX_LEN);
		return PROXY_INVALID;
	}
	if (fam != NULL)
		return proxy_v2_proxy(b, len, PROXY_V2_HEAD + rest, fam, h, why,
		    whylen);
	/*
	 * LOCAL: the balancer's own connection, a health check.  Whatever
	 * the length covers is skipped unread, as the spec says.
	 */
	if (len < PROXY_V2_HEAD + rest)
		return PROXY_NEED_MORE;
	h->local = true;
	h->len = PROXY_V2_HEAD + rest;
	return PROXY_DONE;
}

/* ---- either ------------------------------------------------------------- */

/*
 * The signatures differ from the first byte, and each byte of a signature
 * that does not match refuses the input there.
 */
enum proxy_status
proxy_parse(const char *buf, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	size_t v1len = sizeof(proxy_v1_sig) - 1;
	enum proxy_status st;

	memset(h, 0, sizeof(*h));
	if (whylen > 0)
		why[0] = '\0';
	if (len == 0)
		return PROXY_NEED_MORE;
	if (proxy_starts(buf, len, proxy_v2_sig, sizeof(proxy_v2_sig)))
		st = len < sizeof(proxy_v2_sig)
		    ? PROXY_NEED_MORE
		    : proxy_v2((const unsigned char *)buf, len, h, why, whylen);
	else if (proxy_starts(buf, len, proxy_v1_sig, v1len))
		st = len < v1len ? PROXY_NEED_MORE
				 : proxy_v1(buf, len, h, why, whylen);
	else
		st = proxy_fail(why, whylen, "not a PROXY header");
	if (st != PROXY_DONE)
		memset(h, 0, sizeof(*h));
	return st;
}
