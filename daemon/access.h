/*
 * Who may connect: the allow and deny lists of CIDR ranges.  Pure code.
 *
 * The most specific range that holds the client's address decides, the
 * one with the longest prefix, whichever list it is on; between an allow
 * and a deny of one length, the deny.  An address no range holds is let
 * in while the allow list is empty, and refused once it names anyone.  So
 * allow = ["10.0.0.0/8"] with deny = ["10.1.0.0/16"] lets in 10/8 but that
 * /16, and deny = ["0.0.0.0/0", "::/0"] with allow = ["192.0.2.7"] lets in
 * one host.  Ranges match as cidr_match() does (IPv4 clients of a
 * dual-stack socket as IPv4).  The rules are for IP clients: one on a
 * local socket is let in, its file's mode saying who may connect.
 */
#ifndef HELLOD_ACCESS_H
#define HELLOD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"
#include "net.h"

struct access_rules {
	struct cidr *allow;
	size_t nallow;
	struct cidr *deny;
	size_t ndeny;
};

bool
access_allows(const struct access_rules *rules, const union net_addr *addr);

#endif
