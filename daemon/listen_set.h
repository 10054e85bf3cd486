/*
 * The process's listening sockets, bound or passed in; see listen_set.c.
 */
#ifndef HELLOD_LISTEN_SET_H
#define HELLOD_LISTEN_SET_H

#include <stddef.h>

#include "config.h"
#include "listener.h"

struct listen_set;

/* port_override is the command line's port, or -1. */
struct listen_set *listen_set_new(int port_override);
void listen_set_free(struct listen_set *ls);

/*
 * Listens where cfg says, or on the sockets a service manager passed; a
 * passed socket named "metrics" goes to *metrics_fd instead (if it is -1).
 */
int listen_set_open(struct listen_set *ls, const struct config *cfg,
    int *metrics_fd, char *err, size_t errlen);
/* Rebinds for a new config; passed sockets stay what they are. */
int listen_set_rebind(struct listen_set *ls, const struct config *cfg,
    char *err, size_t errlen);
/* Closes every socket, saying so; the set is then empty. */
void listen_set_close(struct listen_set *ls);

size_t listen_set_count(const struct listen_set *ls);
/* The descriptors, for the workers to copy; the caller frees them. */
struct listener_fd *listen_set_fds(const struct listen_set *ls);

#endif
