/*
 * A connection's state below the message path: the part kept out of line
 * (struct conn_more) and the config it shares with the loop, and its
 * deadlines: when a pause makes a fragment a message, how long a line, a
 * stuck reply, a PROXY header or a lingering close may take, and when a
 * silent client has been idle too long.  This file says when each falls
 * and keeps the timer for the earliest; what happens when one passes is
 * decided above it (conn_expire()).
 */
#include "conn_state.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "mono.h"

/*
 * The idle timeout is kept by the loop for all its connections (see
 * conn_sweep_idle()).  The others (fragment delay, line, write, PROXY,
 * linger, drain) share one timeout, carried by the socket's own event (a
 * second struct event would cost 128 bytes per connection), and only
 * while one of them applies.  It is armed for the earliest deadline and
 * moved only when a deadline comes earlier; activity just records a time,
 * and a timeout that fires early re-arms itself.
 */

static uint64_t
conn_seconds(int s)
{
	return (uint64_t)s * 1000;
}

/* Whether the unfinished line may become a message when the client pauses. */
bool
conn_has_fragment(const struct conn *c)
{
	struct proto p = { .seen_eol = c->proto.seen_eol };

	if (c->more == NULL)
		return false;
	p.line = c->more->line;
	return proto_has_fragment(&p, &conn_cfg(c)->proto);
}

/*
 * The earliest deadline the connection's state has, and what it is for,
 * leaving out the idle timeout.  A healthy connection in full flow has
 * none of these, so its socket event carries no timeout, and libevent has
 * no timer to re-arm after each of its reads and writes.
 */
uint64_t
conn_deadline(const struct conn *c, enum conn_due *due)
{
	const struct config *cfg = conn_cfg(c);
	const struct conn_more *m = c->more;
	uint64_t best = UINT64_MAX;

	*due = DUE_NONE;
	if (m == NULL)
		return best;
#define CONN_CONSIDER(cond, when, what)        \
	do {                                   \
		if ((cond) && (when) < best) { \
			best = (when);         \
			*due = (what);         \
		}                              \
	} while (0)
	if (c->state == CONN_LINGERING) {
		CONN_CONSIDER(true, mono_after(m->lingering_ms, CONN_LINGER_MS),
		    DUE_LINGER);
		return best;
	}
	if (c->state == CONN_PROXY) {
		CONN_CONSIDER(true,
		    mono_after(c->started_ms, conn_seconds(cfg->proxy_timeout)),
		    DUE_PROXY);
		return best;
	}
	if (c->state == CONN_HANDSHAKE) {
		CONN_CONSIDER(true,
		    mono_after(c->started_ms,
			conn_seconds(cfg->tls_handshake_timeout)),
		    DUE_HANDSHAKE);
		return best;
	}
	CONN_CONSIDER(c->stopping && c->state == CONN_OPEN,
	    conn_drain_deadline(c), DUE_DRAIN);
	CONN_CONSIDER(buf_size(&m->out) > 0 && cfg->write_timeout > 0,
	    mono_after(m->progress_ms, conn_seconds(cfg->write_timeout)),
	    DUE_WRITE);
	if (c->state == CONN_OPEN && !c->paused && buf_size(&m->line) > 0) {
		CONN_CONSIDER(conn_has_fragment(c),
		    mono_after(m->input_ms, (uint64_t)cfg->fragment_delay_ms),
		    DUE_FRAGMENT);
		CONN_CONSIDER(m->line_ms != 0 && cfg->line_timeout > 0,
		    mono_after(m->line_ms, conn_seconds(cfg->line_timeout)),
		    DUE_LINE);
	}
#undef CONN_CONSIDER
	return best;
}

/*
 * Sets the connection's timeout to fire at `at` (monotonic ms).  libevent
 * moves it after every I/O callback of the socket event it rides on, and
 * conn_on_io() puts it back.  Only a connection with a deadline has one,
 * and so has its struct conn_more.
 */
void
conn_set_timeout(struct conn *c, uint64_t at)
{
	struct timeval tv = mono_until(at);

	c->more->timer_ms = at;
	event_add(&c->ev, &tv);
}

void
conn_clear_timeout(struct conn *c)
{
	if (c->more != NULL)
		c->more->timer_ms = 0;
	event_remove_timer(&c->ev);
}

/* The idle deadline, or UINT64_MAX where idle_timeout does not apply. */
uint64_t
conn_idle_deadline(const struct conn *c)
{
	const struct config *cfg = conn_cfg(c);

	if (cfg->idle_timeout == 0 || c->state == CONN_PROXY ||
	    c->state == CONN_HANDSHAKE || c->state == CONN_LINGERING)
		return UINT64_MAX;
	return mono_after(conn_unstamp(c->active_ms),
	    conn_seconds(cfg->idle_timeout));
}

/* When a stopping client that stays quiet is told goodbye. */
uint64_t
conn_drain_deadline(const struct conn *c)
{
	uint64_t input =
	    c->more != NULL ? c->more->input_ms : conn_unstamp(c->active_ms);

	return mono_after(input, (uint64_t)conn_cfg(c)->drain_grace_ms);
}

/*
 * Arms the timeout when a deadline comes earlier than the armed one, and
 * drops it once the connection has no deadline of its own left.  A later
 * deadline leaves the armed timeout alone: it fires early, finds nothing
 * due and is set again (conn_on_timeout()).
 */
void
conn_reschedule(struct conn *c)
{
	enum conn_due due;
	uint64_t when = conn_deadline(c, &due);

	if (due == DUE_NONE) {
		if (c->more != NULL && c->more->timer_ms != 0)
			conn_clear_timeout(c);
		return;
	}
	if (c->more->timer_ms != 0 && c->more->timer_ms <= when)
		return;
	conn_set_timeout(c, when);
}

void
conn_peer(const struct conn *c, union net_addr *addr)
{
	memset(addr, 0, sizeof(*addr));
	if (c->local) {
		addr->sun.sun_family = AF_UNIX;
	} else if (c->ipv6) {
		addr->sin6.sin6_family = AF_INET6;
		memcpy(&addr->sin6.sin6_addr, c->addr, 16);
		addr->sin6.sin6_port = htons(c->port);
	} else {
		addr->sin.sin_family = AF_INET;
		memcpy(&addr->sin.sin_addr, c->addr, 4);
		addr->sin.sin_port = htons(c->port);
	}
}

/* A UNIX-socket client's process and user, as the kernel saw them. */
void
conn_credentials(const struct conn *c, uint32_t *pid, uint32_t *uid)
{
	memcpy(pid, c->addr, sizeof(*pid));
	memcpy(uid, c->addr + 4, sizeof(*uid));
}

struct conn_more *
conn_more(struct conn *c)
{
	if (c->more == NULL && (c->more = calloc(1, sizeof(*c->more))) != NULL)
		c->more->input_ms = c->more->progress_ms =
		    conn_unstamp(c->active_ms);
	return c->more;
}

/* Gives back the connection's struct conn_more once nothing in it is needed. */
void
conn_tidy(struct conn *c)
{
	struct conn_more *m = c->more;

	if (m == NULL || c->tls || m->timer_ms != 0 || c->state != CONN_OPEN ||
	    c->stopping || buf_size(&m->out) > 0 || buf_size(&m->line) > 0 ||
	    buf_size(&m->header) > 0)
		return;
	buf_release(&m->out);
	buf_release(&m->line);
	buf_release(&m->header);
	free(m);
	c->more = NULL;
}

/* Drops a reference to a home; the last one frees it. */
void
conn_home_put(struct conn_home *h)
{
	if (h == NULL || --h->refs > 0)
		return;
	config_unref(h->cfg);
	free(h);
}
