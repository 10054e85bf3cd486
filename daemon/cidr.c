#include "cidr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* True when no bit past the prefix is set: "10.0.0.1/8" is a typo. */
static bool
cidr_is_network(const unsigned char *addr, unsigned prefix, size_t len)
{
	for (size_t bit = prefix; bit < len * 8; bit++)
		if (addr[bit / 8] & (0x80 >> (bit % 8)))
			return false;
	return true;
}

/*
 * Parses "ADDRESS/PREFIX" or a bare address (a single host).  Host bits
 * past the prefix are refused rather than silently cleared, since they
 * mean the range is not what its author thinks.
 */
int
cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen)
{
	char host[INET6_ADDRSTRLEN];
	const char *slash = strchr(text, '/');
	size_t hostlen = slash != NULL ? (size_t)(slash - text) : strlen(text);
	size_t bytes;
	long prefix;
	char *end;

	memset(out, 0, sizeof(*out));
	if (hostlen == 0 || hostlen >= sizeof(host)) {
		snprintf(why, whylen, "not an address");
		return -1;
	}
	memcpy(host, text, hostlen);
	host[hostlen] = '\0';
	if (inet_pton(AF_INET, host, out->addr) == 1) {
		out->family = AF_INET;
		bytes = 4;
	} else if (inet_pton(AF_INET6, host, out->addr) == 1) {
		out->family = AF_INET6;
		bytes = 16;
	} else {
		snprintf(why, whylen, "not an IPv4 or IPv6 address");
		return -1;
	}
	out->prefix = (unsigned)(bytes * 8);
	if (slash == NULL)
		return 0;
	errno = 0;
	prefix = strtol(slash + 1, &end, 10);
	if (errno != 0 || end == slash + 1 || *end != '\0' || slash[1] == '+' ||
	    slash[1] == '-' || prefix < 0 || (size_t)prefix > bytes * 8) {
		snprintf(why, whylen, "the prefix must be 0 to %zu", bytes * 8);
		return -1;
	}
	out->prefix = (unsigned)prefix;
	if (!cidr_is_network(out->addr, out->prefix, bytes)) {
		snprintf(why, whylen, "has host bits set past /%ld", prefix);
		return -1;
	}
	return 0;
}

static bool
cidr_match_bytes(const struct cidr *c, const unsigned char *addr)
{
	unsigned full = c->prefix / 8, rest = c->prefix % 8;

	if (memcmp(c->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (c->addr[full] & mask) == (addr[full] & mask);
}

/* IPv4 clients seen through an IPv6 socket (::ffff:a.b.c.d) match IPv4. */
bool
cidr_match(const struct cidr *c, const union net_addr *addr)
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };
	const unsigned char *a6 = addr->sin6.sin6_addr.s6_addr;

	if (addr->sa.sa_family == AF_INET)
		return c->family == AF_INET &&
		    cidr_match_bytes(c,
			(const unsigned char *)&addr->sin.sin_addr);
	if (addr->sa.sa_family != AF_INET6)
		return false;
	if (c->family == AF_INET6)
		return cidr_match_bytes(c, a6);
	return memcmp(a6, mapped, 12) == 0 && cidr_match_bytes(c, a6 + 12);
}
