#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* The first 12 bytes of every IPv4-mapped IPv6 address, ::ffff:0:0/96. */
static const unsigned char cidr_mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0xff, 0xff };

/* True when the first prefix bits of a and b are equal. */
static bool
cidr_same_bits(const unsigned char *a, const unsigned char *b, unsigned prefix)
{
	unsigned full = prefix / 8, rest = prefix % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (a[full] & mask) == (b[full] & mask);
}

/* True when no bit past the prefix is set. */
static bool
cidr_is_network(const unsigned char *addr, size_t bytes, unsigned prefix)
{
	for (size_t bit = prefix; bit < bytes * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/* A prefix length: decimal, no sign, no space, no leading zero, <= max. */
static int
cidr_prefix(const char *text, unsigned max, unsigned *prefix)
{
	size_t n = strlen(text);
	unsigned v = 0;

	if (n == 0 || n > 3 || (n > 1 && text[0] == '0'))
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (text[i] < '0' || text[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(text[i] - '0');
	}
	if (v > max)
		return -1;
	*prefix = v;
	return 0;
}

/* The address before the slash, in either family. */
static int
cidr_address(const char *text, size_t len, struct cidr *out)
{
	char host[INET6_ADDRSTRLEN];

	if (len >= sizeof(host))
		return -1;
	memcpy(host, text, len);
	host[len] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1)
		out->family = AF_INET;
	else if (inet_pton(AF_INET6, host, out->addr) == 1)
		out->family = AF_INET6;
	else
		return -1;
	return 0;
}

/*
 * Parses "ADDRESS/PREFIX" or a bare address.  Host bits past the prefix
 * are refused rather than cleared: "10.0.0.1/8" is a typo for a host or
 * for a range, and trusting the wrong one of the two is not a guess to
 * make silently.
 */
int
cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen)
{
	const char *slash = strchr(text, '/');
	size_t len = slash != NULL ? (size_t)(slash - text) : strlen(text);
	unsigned bits;

	memset(out, 0, sizeof(*out));
	if (cidr_address(text, len, out) == -1) {
		snprintf(why, whylen, "not an IPv4 or IPv6 address");
		return -1;
	}
	bits = out->family == AF_INET ? 32 : 128;
	out->prefix = bits;
	if (slash != NULL && cidr_prefix(slash + 1, bits, &out->prefix) == -1) {
		snprintf(why, whylen, "the prefix must be 0 to %u", bits);
		return -1;
	}
	if (!cidr_is_network(out->addr, bits / 8, out->prefix)) {
		snprintf(why, whylen, "has host bits set past /%u",
		    out->prefix);
		return -1;
	}
	if (out->family == AF_INET6 && out->prefix >= 96 &&
	    memcmp(out->addr, cidr_mapped, sizeof(cidr_mapped)) == 0) {
		char v4[INET_ADDRSTRLEN];
		inet_ntop(AF_INET, out->addr + 12, v4, sizeof(v4));
		snprintf(why, whylen, "IPv4-mapped: write %s/%u", v4,
		    out->prefix - 96);
		return -1;
	}
	return 0;
}

bool
cidr_match(const struct cidr *c, const union net_addr *addr)
{
	const unsigned char *a;
	int family = addr->sa.sa_family;

	if (family == AF_INET) {
		a = (const unsigned char *)&addr->sin.sin_addr;
	} else if (family == AF_INET6) {
		a = addr->sin6.sin6_addr.s6_addr;
		if (memcmp(a, cidr_mapped, sizeof(cidr_mapped)) == 0) {
			family = AF_INET;
			a += sizeof(cidr_mapped);
		}
	} else {
		return false;
	}
	return family == c->family && cidr_same_bits(c->addr, a, c->prefix);
}
