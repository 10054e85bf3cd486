#include "shared.h"

#include <stdlib.h>

#include "iptable.h"
#include "log.h"
#include "rate.h"

struct shared *
shared_new(size_t fd_room)
{
	struct shared *sh = calloc(1, sizeof(*sh));

	if (sh == NULL)
		return NULL;
	if ((sh->per_ip = iptable_new()) == NULL ||
	    (sh->rate = rate_new()) == NULL ||
	    pthread_mutex_init(&sh->lock, NULL) != 0) {
		iptable_free(sh->per_ip);
		rate_free(sh->rate);
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
	rate_free(sh->rate);
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

/* Takes a token from the client's bucket, if connection_rate is set. */
static bool
shared_rate_allows(struct shared *sh, const struct config *cfg,
    const union net_addr *peer, uint64_t now_ms)
{
	unsigned char key[16];

	if (cfg->connection_rate == 0)
		return true;
	rate_key(peer, (unsigned)cfg->rate_ipv6_prefix, key);
	switch (rate_take(sh->rate, key, now_ms, (unsigned)cfg->connection_rate,
	    (unsigned)cfg->connection_burst)) {
	case RATE_TAKEN:
		return true;
	case RATE_EMPTY:
		return false;
	case RATE_UNCOUNTED:
		break;
	}
	if (!sh->rate_full_told)
		log_warnx("connection_rate: %u addresses tracked, the most "
			  "kept; new addresses go uncounted until some age out",
		    RATE_MAX_BUCKETS);
	sh->rate_full_told = true;
	return true;
}

/*
 * Counts the client's address in, unless connection_rate or
 * max_clients_per_ip says no.  A client refused for its rate is not
 * counted as open, and one refused for too many open connections has
 * still spent a token: it did try.
 */
enum shared_verdict
shared_enter_ip(struct shared *sh, const struct config *cfg,
    const union net_addr *peer, uint64_t now_ms)
{
	enum shared_verdict v = SHARED_ADMITTED;

	pthread_mutex_lock(&sh->lock);
	if (!shared_rate_allows(sh, cfg, peer, now_ms))
		v = SHARED_RATE;
	else if (cfg->max_clients_per_ip > 0 &&
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
