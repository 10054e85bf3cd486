#include "proxy.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* Version 1 is one text line of at most 107 bytes, CRLF included. */
#define PROXY_V1_MAX 107
#define PROXY_V2_HEAD 16

static const char proxy_v1_sig[] = "PROXY ";
static const char proxy_v2_sig[12] = { '\r', '\n', '\r', '\n', '\0', '\r', '\n',
	'Q', 'U', 'I', 'T', '\n' };

static enum proxy_status
proxy_fail(char *why, size_t whylen, const char *reason)
{
	snprintf(why, whylen, "%s", reason);
	return PROXY_INVALID;
}

/* True when the bytes so far could still be the signature. */
static bool
proxy_starts(const char *buf, size_t len, const char *sig, size_t siglen)
{
	return memcmp(buf, sig, len < siglen ? len : siglen) == 0;
}

/* A port in decimal, 0 to 65535, with no sign and no leading zero. */
static bool
proxy_port(const char *text, uint16_t *port)
{
	unsigned long v = 0;

	if (text[0] == '\0' || (text[0] == '0' && text[1] != '\0') ||
	    strlen(text) > 5)
		return false;
	for (const char *p = text; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return false;
		v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v > 65535)
		return false;
	*port = (uint16_t)v;
	return true;
}

static bool
proxy_v1_addr(const char *host, const char *port, int family,
    union net_addr *addr)
{
	uint16_t p;

	memset(addr, 0, sizeof(*addr));
	if (!proxy_port(port, &p))
		return false;
	addr->sa.sa_family = (sa_family_t)family;
	if (family == AF_INET) {
		addr->sin.sin_port = htons(p);
		return inet_pton(AF_INET, host, &addr->sin.sin_addr) == 1;
	}
	addr->sin6.sin6_port = htons(p);
	return inet_pton(AF_INET6, host, &addr->sin6.sin6_addr) == 1;
}

/* Splits at single spaces; an empty field (two spaces) is an error. */
static int
proxy_fields(char *line, char **fields, int max)
{
	int n = 0;

	for (char *p = line;; p++) {
		if (n == max)
			return -1;
		fields[n++] = p;
		p = strchr(p, ' ');
		if (p == NULL)
			return n;
		*p = '\0';
		if (p[1] == ' ' || p[1] == '\0')
			return -1;
	}
}

/* "PROXY TCP4 SRC DST SPORT DPORT\r\n", or "PROXY UNKNOWN ...\r\n". */
static enum proxy_status
proxy_v1(const char *buf, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	size_t scan = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	const char *lf = memchr(buf, '\n', scan);
	char line[PROXY_V1_MAX + 1], *f[7];
	size_t linelen;
	int n, family;

	if (lf == NULL)
		return len >= PROXY_V1_MAX
		    ? proxy_fail(why, whylen, "v1 line longer than 107 bytes")
		    : PROXY_NEED_MORE;
	linelen = (size_t)(lf - buf);
	if (linelen == 0 || buf[linelen - 1] != '\r')
		return proxy_fail(why, whylen, "v1 line does not end in CRLF");
	memcpy(line, buf, linelen - 1);
	line[linelen - 1] = '\0';
	h->len = linelen + 1;
	if (memchr(line, '\0', linelen - 1) != NULL)
		return proxy_fail(why, whylen, "v1 line contains a NUL byte");
	if (strncmp(line, "PROXY UNKNOWN", 13) == 0 &&
	    (line[13] == '\0' || line[13] == ' ')) {
		h->local = true;
		return PROXY_DONE;
	}
	n = proxy_fields(line, f, 7);
	if (n != 6)
		return proxy_fail(why, whylen,
		    "v1 line is not PROXY TCP4|TCP6 SRC DST SPORT DPORT");
	if (strcmp(f[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		family = AF_INET6;
	else
		return proxy_fail(why, whylen, "v1: unknown protocol");
	if (!proxy_v1_addr(f[2], f[4], family, &h->src))
		return proxy_fail(why, whylen,
		    "v1: bad source address or port");
	if (!proxy_v1_addr(f[3], f[5], family, &h->dst))
		return proxy_fail(why, whylen,
		    "v1: bad destination address or port");
	return PROXY_DONE;
}

static void
proxy_v2_inet(const unsigned char *a, struct proxy_header *h)
{
	h->src.sin.sin_family = AF_INET;
	h->dst.sin.sin_family = AF_INET;
	memcpy(&h->src.sin.sin_addr, a, 4);
	memcpy(&h->dst.sin.sin_addr, a + 4, 4);
	memcpy(&h->src.sin.sin_port, a + 8, 2);
	memcpy(&h->dst.sin.sin_port, a + 10, 2);
}

static void
proxy_v2_inet6(const unsigned char *a, struct proxy_header *h)
{
	h->src.sin6.sin6_family = AF_INET6;
	h->dst.sin6.sin6_family = AF_INET6;
	memcpy(&h->src.sin6.sin6_addr, a, 16);
	memcpy(&h->dst.sin6.sin6_addr, a + 16, 16);
	memcpy(&h->src.sin6.sin6_port, a + 32, 2);
	memcpy(&h->dst.sin6.sin6_port, a + 34, 2);
}

/*
 * The binary form: signature, version and command, family and transport,
 * the length of what follows, the addresses, then TLVs, which hellod has
 * no use for and skips.  UDP and UNIX addresses say nothing about a TCP
 * client, so, as with UNSPEC, the connection's own address is kept.
 */
static enum proxy_status
proxy_v2(const char *buf, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	const unsigned char *b = (const unsigned char *)buf;
	size_t body;

	if (len < PROXY_V2_HEAD)
		return PROXY_NEED_MORE;
	if ((b[12] >> 4) != 2)
		return proxy_fail(why, whylen, "v2: unsupported version");
	if ((b[12] & 0xf) > 1)
		return proxy_fail(why, whylen, "v2: unknown command");
	body = (size_t)b[14] << 8 | b[15];
	if (len < PROXY_V2_HEAD + body)
		return PROXY_NEED_MORE;
	h->len = PROXY_V2_HEAD + body;
	if ((b[12] & 0xf) == 0) { /* LOCAL: the balancer's own check */
		h->local = true;
		return PROXY_DONE;
	}
	switch (b[13]) {
	case 0x11: /* TCP over IPv4 */
		if (body < 12)
			return proxy_fail(why, whylen,
			    "v2: address block too short for TCP4");
		proxy_v2_inet(b + PROXY_V2_HEAD, h);
		return PROXY_DONE;
	case 0x21: /* TCP over IPv6 */
		if (body < 36)
			return proxy_fail(why, whylen,
			    "v2: address block too short for TCP6");
		proxy_v2_inet6(b + PROXY_V2_HEAD, h);
		return PROXY_DONE;
	case 0x00: /* UNSPEC */
	case 0x12: /* UDP over IPv4 */
	case 0x22: /* UDP over IPv6 */
	case 0x31: /* UNIX stream */
	case 0x32: /* UNIX datagram */
		h->local = true;
		return PROXY_DONE;
	default:
		return proxy_fail(why, whylen,
		    "v2: unknown address family or transport");
	}
}

/*
 * Looks at every byte received so far.  A client that is not a PROXY
 * header is refused by the first byte that shows it, not after a wait.
 */
enum proxy_status
proxy_parse(const char *buf, size_t len, struct proxy_header *h, char *why,
    size_t whylen)
{
	memset(h, 0, sizeof(*h));
	if (why != NULL && whylen > 0)
		why[0] = '\0';
	if (len == 0)
		return PROXY_NEED_MORE;
	if (proxy_starts(buf, len, proxy_v2_sig, sizeof(proxy_v2_sig)))
		return len < sizeof(proxy_v2_sig)
		    ? PROXY_NEED_MORE
		    : proxy_v2(buf, len, h, why, whylen);
	if (proxy_starts(buf, len, proxy_v1_sig, sizeof(proxy_v1_sig) - 1))
		return len < sizeof(proxy_v1_sig) - 1
		    ? PROXY_NEED_MORE
		    : proxy_v1(buf, len, h, why, whylen);
	return proxy_fail(why, whylen, "not a PROXY header");
}
