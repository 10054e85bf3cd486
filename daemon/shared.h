/*
 * What every event loop shares: the client limits and the per-address
 * connection rate, which hold across all loops exactly.  Only accepting
 * and closing touch it, never a message.
 */
#ifndef HELLOD_SHARED_H
#define HELLOD_SHARED_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "net.h"

struct iptable;
struct rate_table;

struct shared {
	atomic_size_t clients; /* open connections, all loops */
	size_t fd_room;	       /* clients the descriptor limit allows */
	pthread_mutex_t lock;  /* guards per_ip and rate */
	struct iptable *per_ip;
	struct rate_table *rate;
	bool rate_full_told; /* the table's limit was logged */
};

enum shared_verdict {
	SHARED_ADMITTED,
	SHARED_BUSY,   /* max_clients, or out of memory */
	SHARED_PER_IP, /* max_clients_per_ip */
	SHARED_RATE,   /* connection_rate */
};

struct shared *shared_new(size_t fd_room);
void shared_free(struct shared *sh);
size_t shared_max_clients(const struct shared *sh, const struct config *cfg);
enum shared_verdict shared_enter(struct shared *sh, const struct config *cfg);
void shared_leave(struct shared *sh);
enum shared_verdict shared_enter_ip(struct shared *sh, const struct config *cfg,
    const union net_addr *peer, uint64_t now_ms);
void shared_leave_ip(struct shared *sh, const union net_addr *peer);

#endif
