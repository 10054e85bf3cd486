/*
 * Address ranges in CIDR notation ("10.0.0.0/8", "::1/128", or a bare
 * address for a single host), for the list of trusted load balancers.
 * Pure code: parsing and matching.
 *
 * An IPv4 client is matched as IPv4 however the socket shows it: the peer
 * ::ffff:192.0.2.7 of a dual-stack socket is 192.0.2.7, matches IPv4
 * ranges, and matches no IPv6 range, not even ::/0, so a range of IPv6
 * balancers never lets in the whole IPv4 internet.  For the same reason
 * ranges are not written in the IPv4-mapped form: cidr_parse() refuses
 * them and names the IPv4 range to write instead.
 */
#ifndef HELLOD_CIDR_H
#define HELLOD_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

struct cidr {
	int family;		/* AF_INET or AF_INET6 */
	unsigned char addr[16]; /* network order; AF_INET uses 4 bytes */
	unsigned prefix;	/* the leading bits that must match */
};

/* 0, or -1 with a short reason in why. */
int cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen);
bool cidr_match(const struct cidr *c, const union net_addr *addr);

#endif
