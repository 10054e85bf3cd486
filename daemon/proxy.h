/*
 * The PROXY protocol (HAProxy's proxy-protocol.txt), versions 1 and 2: the
 * header a load balancer puts in front of a connection to say who the
 * client really is.  Pure code: bytes in, a verdict and addresses out; no
 * sockets, no logging, no allocation.
 *
 * proxy_parse() takes every byte received so far, from the connection's
 * first.  It answers PROXY_NEED_MORE as long as those bytes are a valid
 * beginning of a header, so a balancer that sends it in pieces is not
 * misjudged, and PROXY_INVALID at the first byte that rules a header out,
 * so anything else is refused at once.  A whole header is at most 107
 * bytes (v1) or 16 + PROXY_V2_MAX_LEN bytes (v2): that bounds what a
 * caller keeps while it waits.
 */
#ifndef HELLOD_PROXY_H
#define HELLOD_PROXY_H

#include <stdbool.h>
#include <stddef.h>

#include "net.h"

/*
 * The most bytes of addresses and TLVs a v2 header may announce.  The
 * format allows 65535, but what a balancer sends is well under 1 KiB
 * (addresses, then a few TLVs: ALPN, SNI, a unique ID, TLS details), so a
 * lower ceiling costs nothing and keeps a client that claims 64 KiB and
 * trickles it from holding that much memory for the header timeout.
 */
#define PROXY_V2_MAX_LEN 4096

enum proxy_status {
	PROXY_NEED_MORE, /* a valid beginning: wait for more bytes */
	PROXY_DONE,	 /* a whole header: see struct proxy_header */
	PROXY_INVALID,	 /* not a valid header: why says what is wrong */
};

struct proxy_header {
	/* v2 LOCAL, v1 UNKNOWN, or no TCP address: keep the real peer's */
	bool local;
	union net_addr src; /* the client, when !local; zero when local */
	union net_addr dst; /* the address the client reached, likewise */
	size_t len; /* bytes the header took; what follows is the client's */
};

/*
 * Judges buf[0..len).  h is filled on PROXY_DONE and zeroed otherwise; why
 * gets a short reason on PROXY_INVALID and is empty otherwise, always
 * NUL-terminated when whylen > 0 (why may be NULL when whylen is 0).
 */
enum proxy_status proxy_parse(const char *buf, size_t len,
    struct proxy_header *h, char *why, size_t whylen);

#endif
