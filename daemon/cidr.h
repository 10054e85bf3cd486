/*
 * Address ranges in CIDR notation ("10.0.0.0/8", "::1/128"), for the list
 * of trusted load balancers.  Pure code: parsing and matching.
 */
#ifndef HELLOD_CIDR_H
#define HELLOD_CIDR_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

struct cidr {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned prefix;
};

int cidr_parse(const char *text, struct cidr *out, char *why, size_t whylen);
bool cidr_match(const struct cidr *c, const union net_addr *addr);

#endif
