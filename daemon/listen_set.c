/*
 * The listening sockets hellod greets on: bound where the config says, or
 * passed by a service manager, and rebound on reload.  A rebind keeps the
 * sockets whose address stays, so a reload never closes a socket it would
 * reopen, and on failure it puts every socket back as it was.  The workers
 * accept on copies of the descriptors (listen_set_fds()).
 */
#include "listen_set.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activation.h"
#include "listener.h"
#include "log.h"
#include "net.h"

struct listen_set {
	struct listener **items;
	size_t n;
	int port_override; /* -1 when the command line gave none */
	bool activated;	   /* serving passed sockets: bind and port unused */
};

static int
listen_set_port(const struct listen_set *ls, const struct config *cfg)
{
	return ls->port_override >= 0 ? ls->port_override : cfg->port;
}

/* The index of an old listener that can serve this address, or nold. */
static size_t
listen_set_find(struct listener **old, size_t nold, const union net_addr *addr,
    int port, bool tls)
{
	size_t i;

	for (i = 0; i < nold; i++)
		if (old[i] != NULL && listener_is_tls(old[i]) == tls &&
		    net_same_host(listener_addr(old[i]), addr) &&
		    (port == 0 || addr->sa.sa_family == AF_UNIX ||
			net_port(listener_addr(old[i])) == port))
			break;
	return i;
}

/* Puts listeners back where they came from, or closes the new ones. */
static void
listen_set_undo(struct listener **set, size_t n, struct listener **old,
    const size_t *origin, size_t nold)
{
	for (size_t i = 0; i < n; i++) {
		if (origin[i] < nold)
			old[origin[i]] = set[i];
		else
			listener_free(set[i]);
	}
}

static bool
listen_set_may_skip(const struct config *cfg, int err)
{
	return cfg->bind_is_default &&
	    (err == EADDRNOTAVAIL || err == EAFNOSUPPORT);
}

static const char *
listen_set_kind(const struct listener *l)
{
	return listener_is_tls(l) ? "for TLS " : "";
}

/* The port of one kind of listener: the kernel's choice, once it made it. */
static int
listen_set_group_port(int port, bool tls, struct listener **set, size_t n)
{
	for (size_t j = 0; j < n && port == 0; j++)
		if (listener_is_tls(set[j]) == tls)
			port = net_port(listener_addr(set[j]));
	return port;
}

/*
 * A TLS address a plain listener has taken already: with reuse_port the
 * kernel would split the clients between the two.
 */
static bool
listen_set_clashes(struct listener **set, size_t n, const union net_addr *addr,
    int port)
{
	for (size_t j = 0; j < n; j++)
		if (!listener_is_tls(set[j]) && port != 0 &&
		    addr->sa.sa_family != AF_UNIX &&
		    net_same_host(listener_addr(set[j]), addr) &&
		    net_port(listener_addr(set[j])) == port)
			return true;
	return false;
}

/*
 * Builds the listener set for cfg, plain addresses first, then TLS ones,
 * keeping the old listeners whose address stays, so a reload never closes
 * a socket it would reopen.  With port 0, the first socket of a kind gets
 * the kernel's choice and the others of that kind use it too.  On failure
 * the old set is left as it was.
 */
static int
listen_set_build(const struct listen_set *ls, const struct config *cfg,
    struct listener **old, size_t nold, struct listener ***setp, size_t *np,
    char *err, size_t errlen)
{
	const struct config_list *lists[] = { &cfg->bind, &cfg->tls_bind };
	const int ports[] = { listen_set_port(ls, cfg), cfg->tls_port };
	size_t count = cfg->bind.count + cfg->tls_bind.count, n = 0;
	struct listener **set = calloc(count + 1, sizeof(*set));
	size_t *origin = calloc(count + 1, sizeof(*origin));

	if (set == NULL || origin == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (size_t k = 0; k < 2; k++) {
		bool tls = k == 1;
		for (size_t i = 0; i < lists[k]->count; i++) {
			const char *host = lists[k]->items[i];
			int port = listen_set_group_port(ports[k], tls, set, n);
			union net_addr addr;
			if (net_resolve(host, port, &addr) == -1) {
				snprintf(err, errlen, "cannot resolve '%s'",
				    host);
				goto fail;
			}
			if (tls && listen_set_clashes(set, n, &addr, port)) {
				snprintf(err, errlen,
				    "tls_port: %d is the plain port on %s too",
				    port, host);
				goto fail;
			}
			struct listener *l = NULL;
			origin[n] =
			    listen_set_find(old, nold, &addr, port, tls);
			if (origin[n] < nold) {
				l = old[origin[n]];
				old[origin[n]] = NULL;
				listener_set_backlog(l, cfg->backlog);
			} else if (port != 0 &&
			    listen_set_find(old, nold, &addr, port, !tls) <
				nold) {
				snprintf(err, errlen,
				    "%s:%d changes between plain and TLS: that "
				    "takes a restart",
				    host, port);
				goto fail;
			} else {
				l = listener_open(&addr, tls, cfg, err, errlen);
				if (l == NULL && !tls &&
				    listen_set_may_skip(cfg, errno)) {
					log_warnx(
					    "skipping default address: %s",
					    err);
					continue;
				}
				if (l == NULL)
					goto fail;
			}
			set[n++] = l;
		}
	}
	if (n == 0) {
		snprintf(err, errlen, "no address to listen on");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		if (origin[i] == nold)
			log_info("listening %son %s", listen_set_kind(set[i]),
			    listener_name(set[i]));
	free(origin);
	*setp = set;
	*np = n;
	return 0;
fail:
	if (set != NULL && origin != NULL)
		listen_set_undo(set, n, old, origin, nold);
	free(set);
	free(origin);
	return -1;
}

static void
listen_set_close_some(struct listener **set, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (set[i] == NULL)
			continue;
		log_info("stopped listening %son %s", listen_set_kind(set[i]),
		    listener_name(set[i]));
		listener_free(set[i]);
	}
}

/* A TLS socket that was passed in still needs a certificate to serve. */
static int
listen_set_check_tls(const struct listen_set *ls, const struct config *cfg,
    char *err, size_t errlen)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (listener_is_tls(ls->items[i]) && cfg->tls == NULL) {
			snprintf(err, errlen,
			    "the passed socket on %s is for TLS, and "
			    "tls_certificate is not set",
			    listener_name(ls->items[i]));
			return -1;
		}
	}
	return 0;
}

/*
 * Serves the sockets a service manager passed instead of binding any.  A
 * socket named "metrics" is for the metrics endpoint, never for greetings;
 * one named "tls" speaks TLS.
 */
static int
listen_set_adopt(struct listen_set *ls, struct activation_socket *socks,
    size_t n, int *metrics_fd, char *err, size_t errlen)
{
	if ((ls->items = calloc(n, sizeof(*ls->items))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(socks[i].name, "metrics") == 0 &&
		    *metrics_fd == -1) {
			*metrics_fd = socks[i].fd;
			continue;
		}
		struct listener *l = listener_adopt(socks[i].fd,
		    strcmp(socks[i].name, "tls") == 0, err, errlen);
		if (l == NULL) {
			for (size_t j = i + 1; j < n; j++)
				close(socks[j].fd);
			return -1;
		}
		ls->items[ls->n++] = l;
		log_info("serving passed socket '%s' %son %s", socks[i].name,
		    listen_set_kind(l), listener_name(l));
	}
	if (ls->n == 0) {
		snprintf(err, errlen,
		    "no greeting socket among the passed ones");
		return -1;
	}
	ls->activated = true;
	return 0;
}

int
listen_set_open(struct listen_set *ls, const struct config *cfg,
    int *metrics_fd, char *err, size_t errlen)
{
	struct activation_socket *socks;
	size_t n;
	int rc;

	if (activation_take(&socks, &n, err, errlen) == -1)
		return -1;
	if (n == 0)
		return listen_set_build(ls, cfg, NULL, 0, &ls->items, &ls->n,
		    err, errlen);
	rc = listen_set_adopt(ls, socks, n, metrics_fd, err, errlen);
	free(socks);
	return rc == 0 ? listen_set_check_tls(ls, cfg, err, errlen) : rc;
}

struct listener_fd *
listen_set_fds(const struct listen_set *ls)
{
	struct listener_fd *fds = calloc(ls->n + 1, sizeof(*fds));

	if (fds == NULL)
		return NULL;
	for (size_t i = 0; i < ls->n; i++)
		fds[i] = listener_fd(ls->items[i]);
	return fds;
}

int
listen_set_rebind(struct listen_set *ls, const struct config *cfg, char *err,
    size_t errlen)
{
	struct listener **set, **old = ls->items;
	size_t n, nold = ls->n;

	if (ls->activated)
		return listen_set_check_tls(ls, cfg, err, errlen);
	if (listen_set_build(ls, cfg, old, nold, &set, &n, err, errlen) == -1)
		return -1;
	/* old now holds only the listeners the new set does not keep. */
	listen_set_close_some(old, nold);
	free(old);
	ls->items = set;
	ls->n = n;
	return 0;
}

size_t
listen_set_count(const struct listen_set *ls)
{
	return ls->n;
}

void
listen_set_close(struct listen_set *ls)
{
	listen_set_close_some(ls->items, ls->n);
	free(ls->items);
	ls->items = NULL;
	ls->n = 0;
}

struct listen_set *
listen_set_new(int port_override)
{
	struct listen_set *ls = calloc(1, sizeof(*ls));

	if (ls != NULL)
		ls->port_override = port_override;
	return ls;
}

void
listen_set_free(struct listen_set *ls)
{
	if (ls == NULL)
		return;
	listen_set_close(ls);
	free(ls);
}
