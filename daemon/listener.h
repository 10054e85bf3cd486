/*
 * A listening socket: bound (listener_open) or passed in (listener_adopt)
 * by the main thread, and watched by each event loop on a copy of its own
 * (listener_watch), which accepts in bounded batches and, when the process
 * runs out of descriptors, pauses instead of spinning.
 */
#ifndef HELLOD_LISTENER_H
#define HELLOD_LISTENER_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "net.h"

struct listener;

/* A listening socket as the loops get it: what it speaks goes with it. */
struct listener_fd {
	int fd;
	bool tls;
};

/*
 * Called with fd -1 when a connection waits but descriptors ran out; tls
 * says the connection came to a TLS listener.
 */
typedef void (*listener_accept_fn)(int fd, const union net_addr *peer, bool tls,
    void *arg);

struct listener *listener_open(const union net_addr *addr, bool tls,
    const struct config *cfg, char *err, size_t errlen);
struct listener *listener_adopt(int fd, bool tls, char *err, size_t errlen);
struct listener *
listener_watch(struct event_base *base, const struct listener_fd *lfd,
    listener_accept_fn cb, void *arg, char *err, size_t errlen);
void listener_free(struct listener *l);
int listener_set_backlog(struct listener *l, int backlog);
void listener_drain(struct listener *l);
const union net_addr *listener_addr(const struct listener *l);
struct listener_fd listener_fd(const struct listener *l);
bool listener_is_tls(const struct listener *l);
const char *listener_name(const struct listener *l);

#endif
