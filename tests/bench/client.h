#ifndef BENCH_CLIENT_H
#define BENCH_CLIENT_H

#include <netinet/in.h>
#include <stdint.h>

#include "hist.h"

/* Requests one connection may have in flight; see client_write(). */
#define CLIENT_MAX_DEPTH 64

enum client_mode {
	CLIENT_PING,  /* open connections, keep `depth` requests in flight */
	CLIENT_CHURN, /* sessions: connect, welcome, one message, exit, close */
	CLIENT_IDLE,  /* open connections, then one request each */
};

/*
 * One thread's share of the load: its own epoll instance and connections.
 * client_open() opens the connections (churn opens none there), then
 * client_run() drives them until the deadline.  Every byte received is
 * checked against the reply it must be; the first difference, reset or
 * unexpected close fails the run with a message in `error`.
 */
struct client {
	/* set by the caller */
	struct sockaddr_in addr;
	enum client_mode mode;
	uint32_t first_id; /* connection ids are unique across threads */
	uint32_t nconns;
	uint32_t depth;
	uint32_t max_connecting; /* handshakes in flight at once */

	/* results: what completed inside the measured window */
	uint64_t replies;
	uint64_t sessions;
	struct hist hist; /* request latency, or session time for churn */
	char error[512];

	/* private */
	int epfd;
	struct conn *conns;
	uint32_t next_id;
	uint64_t measure, end; /* client_run()'s window */
	char *inbuf;
	char *sendbuf;
};

/* Monotonic nanoseconds. */
uint64_t client_now(void);
int client_init(struct client *c);
/* Opens every connection and reads its welcome, by deadline. */
int client_open(struct client *c, uint64_t deadline);
/*
 * Runs the load; replies and sessions that complete in [measure, end) are
 * counted.  Idle mode instead sends one request per connection and returns
 * once all are answered, failing if that takes until `end`.
 */
int client_run(struct client *c, uint64_t measure, uint64_t end);
void client_free(struct client *c);

#endif
