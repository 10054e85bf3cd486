/*
 * The configuration: built-in defaults overlaid with a libconfig file.
 * A loaded config is immutable and reference-counted, so a reload can swap
 * in a new one while every open connection keeps the one it started with.
 */
#ifndef HELLOD_CONFIG_H
#define HELLOD_CONFIG_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "access.h"
#include "log.h"
#include "net.h"
#include "proto.h"

struct config_list {
	char **items;
	size_t count;
};

struct config {
	atomic_int refs;
	char *path;

	int port;
	int backlog;
	struct config_list bind;
	bool bind_is_default; /* addresses the host lacks are skipped */
	char *unix_mode;      /* of socket files, octal */
	char *unix_group;     /* owning socket files, or "" */
	int max_line;
	int fragment_delay_ms;
	int shutdown_timeout;
	int drain_grace_ms; /* quiet time before a stop's goodbye */
	int workers;	    /* event-loop threads; 0: one per CPU */
	int max_clients;
	int max_clients_per_ip; /* 0: no limit */
	int idle_timeout;	/* seconds; 0: never */
	int line_timeout;	/* seconds; 0: never */
	int max_output;	   /* bytes of unsent replies before reading stops */
	int write_timeout; /* seconds; 0: never */
	int framing;	   /* enum proto_framing */
	int log_level;	   /* enum log_level */
	char *welcome;
	char *reply;
	char *user;	    /* drop to this user after binding, or "" */
	char *group;	    /* and this group, or "": the user's own */
	char *pidfile;	    /* absolute path, or "" */
	int log_format;	    /* enum log_format */
	char *metrics_bind; /* "" when off */
	bool proxy_protocol;
	struct config_list proxy_trusted;
	int proxy_timeout; /* seconds */
	bool reuse_port;
	struct config_list allow;
	struct config_list deny;
	int connection_rate; /* new connections a second per address; 0: any */
	int connection_burst;
	int rate_ipv6_prefix; /* IPv6 clients share a bucket per prefix */
	struct config_list tls_bind;
	int tls_port;
	char *tls_certificate;	   /* PEM chain, or "" without TLS */
	char *tls_key;		   /* PEM, or "": in tls_certificate */
	char *tls_client_ca;	   /* "": no client certificate needed */
	int tls_handshake_timeout; /* seconds */

	/* Derived from the keys above. */
	char *welcome_line; /* welcome text and CRLF, or "" */
	size_t welcome_line_len;
	char *reply_head;
	char *reply_tail;
	struct proto_params proto;
	union net_addr metrics_addr; /* when metrics_bind is set */
	struct cidr *trusted;	     /* proxy_trusted, parsed */
	size_t ntrusted;
	struct access_rules access; /* allow and deny, parsed */
	int unix_mode_bits;
	long unix_gid;		/* -1: leave the group alone */
	struct ssl_ctx_st *tls; /* from the tls_ files, or NULL */
};

struct ssl_ctx_st;

struct config *config_load(const char *path, char *err, size_t errlen);
struct config *config_ref(struct config *cfg);
void config_unref(struct config *cfg);
const char *config_framing_name(int framing);

#endif
