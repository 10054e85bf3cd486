/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2: the
 * header a load balancer puts in front of a connection to say who the
 * client really is.  Pure code: bytes in, a verdict and addresses out.
 */
#ifndef HELLOD_PROXY_H
#define HELLOD_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

enum proxy_status {
	PROXY_NEED_MORE, /* a valid beginning: wait for more bytes */
	PROXY_DONE,	 /* a whole header: see struct proxy_header */
	PROXY_INVALID,	 /* not a valid header: why says what is wrong */
};

struct proxy_header {
	bool local; /* LOCAL, UNKNOWN or no usable address: keep the peer's */
	union net_addr src; /* the client, when !local */
	union net_addr dst;
	size_t len; /* bytes the header took; what follows is the client's */
};

enum proxy_status proxy_parse(const char *buf, size_t len,
    struct proxy_header *h, char *why, size_t whylen);

#endif
