#include "shared.h"

#include <stdlib.h>

#include "iptable.h"

struct shared *
shared_new(size_t fd_room)
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL)
		return NULL;
	if ((sh->per_ip = iptable_new()) == NULL ||
	    pthread_mutex_init(&sh->lock, NULL) != 0) {
		iptable_free(sh->per_ip);
		free(sh);
		return NULL;
	}
	atomic_init(&sh->clients, 0);
	sh->fd_room = fd_room;
	return sh;
}

void
shared_free(struct shared *sh)
{
	if (sh == NULL)
		return;
	pthread_mutex_destroy(&sh->lock);
	iptable_free(sh->per_ip);
	free(sh);
}

size_t
shared_max_clients(const struct shared *sh, const struct config *cfg)
{
	size_t max = (size_t)cfg->max_clients;

	return max < sh->fd_room ? max : sh->fd_room;
}

/*
 * Counts a new client in, unless max_clients says no.  The slot is
 * claimed first and given back on refusal, so two loops accepting at once
 * can never both take the last one.
 */
enum shared_verdict
shared_enter(struct shared *sh, const struct config *cfg)
{
	if (atomic_fetch_add(&sh->clients, 1) >= shared_max_clients(sh, cfg)) {
		atomic_fetch_sub(&sh->clients, 1);
		return SHARED_BUSY;
	}
	return SHARED_ADMITTED;
}

void
shared_leave(struct shared *sh)
{
	atomic_fetch_sub(&sh->clients, 1);
}

/* Counts the client's address in, unless max_clients_per_ip says no. */
enum shared_verdict
shared_enter_ip(struct shared *sh, const struct config *cfg,
    const union net_addr *peer)
{
	enum shared_verdict v = SHARED_ADMITTED;

	pthread_mutex_lock(&sh->lock);
	if (cfg->max_clients_per_ip > 0 &&
	    iptable_count(sh->per_ip, peer) >=
		(unsigned)cfg->max_clients_per_ip)
		v = SHARED_PER_IP;
	else if (iptable_add(sh->per_ip, peer) == -1)
		v = SHARED_BUSY;
	pthread_mutex_unlock(&sh->lock);
	return v;
}

void
shared_leave_ip(struct shared *sh, const union net_addr *peer)
{
	pthread_mutex_lock(&sh->lock);
	iptable_remove(sh->per_ip, peer);
	pthread_mutex_unlock(&sh->lock);
}
