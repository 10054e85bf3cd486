/*
 * A connection's deadlines: when a pause makes a fragment a message, how
 * long a line, a stuck reply, a PROXY header or a lingering close may
 * take, and when a silent client has been idle too long.  What happens
 * when one passes is the connection's business (conn_expire()); this file
 * decides when to look.
 */
#include <event2/event.h>

#include "config.h"
#include "conn_priv.h"
#include "mono.h"
#include "server.h"

/*
 * The idle timeout is kept by the loop for all its connections (see
 * conn_sweep_idle()).  The others (fragment delay, line, write, PROXY,
 * linger) share one timeout, carried by the socket's own event (a second
 * struct event would cost 128 bytes per connection), and only while one
 * of them applies.  It is armed for the earliest deadline and moved only
 * when a deadline comes earlier; activity just records a time, and a
 * timeout that fires early re-arms itself.
 */

static uint64_t
conn_seconds(int s)
{
	return (uint64_t)s * 1000;
}

static uint64_t
conn_max(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

/*
 * The earliest deadline the connection's state has, and what it is for,
 * leaving out the idle timeout, which the loop keeps for all its
 * connections (see conn_sweep_idle()).  A healthy connection in full
 * flow has none of these, so its socket event carries no timeout, and
 * libevent has no timer to re-arm after each of its reads and writes.
 */
static uint64_t
conn_deadline(const struct conn *c, enum conn_due *due)
{
	const struct config *cfg = c->cfg;
	uint64_t best = UINT64_MAX;

	*due = DUE_NONE;
#define CONN_CONSIDER(cond, when, what)        \
	do {                                   \
		if ((cond) && (when) < best) { \
			best = (when);         \
			*due = (what);         \
		}                              \
	} while (0)
	if (c->state == CONN_LINGERING) {
		CONN_CONSIDER(true, mono_after(c->lingering_ms, CONN_LINGER_MS),
		    DUE_LINGER);
		return best;
	}
	if (c->state == CONN_PROXY) {
		CONN_CONSIDER(true,
		    mono_after(c->started_ms, conn_seconds(cfg->proxy_timeout)),
		    DUE_PROXY);
		return best;
	}
	CONN_CONSIDER(c->stopping && c->state == CONN_OPEN,
	    conn_drain_deadline(c), DUE_DRAIN);
	CONN_CONSIDER(buf_size(&c->out) > 0 && cfg->write_timeout > 0,
	    mono_after(c->progress_ms, conn_seconds(cfg->write_timeout)),
	    DUE_WRITE);
	if (c->state == CONN_OPEN && !c->paused) {
		CONN_CONSIDER(proto_has_fragment(&c->proto, &cfg->proto),
		    mono_after(c->input_ms, (uint64_t)cfg->fragment_delay_ms),
		    DUE_FRAGMENT);
		CONN_CONSIDER(c->line_ms != 0 && cfg->line_timeout > 0,
		    mono_after(c->line_ms, conn_seconds(cfg->line_timeout)),
		    DUE_LINE);
	}
#undef CONN_CONSIDER
	return best;
}

/*
 * Sets the connection's timeout to fire at `at` (monotonic ms).  libevent
 * moves it after every I/O callback of the socket event it rides on, and
 * conn_on_io() puts it back.
 */
void
conn_set_timeout(struct conn *c, uint64_t at)
{
	struct timeval tv = mono_until(at);

	c->timer_ms = at;
	event_add(&c->ev_io, &tv);
}

static void
conn_clear_timeout(struct conn *c)
{
	c->timer_ms = 0;
	event_remove_timer(&c->ev_io);
}

/* The idle deadline, or UINT64_MAX where idle_timeout does not apply. */
uint64_t
conn_idle_deadline(const struct conn *c)
{
	if (c->cfg->idle_timeout == 0 || c->state == CONN_PROXY ||
	    c->state == CONN_LINGERING)
		return UINT64_MAX;
	return mono_after(conn_max(c->input_ms, c->progress_ms),
	    conn_seconds(c->cfg->idle_timeout));
}

/* When a stopping client that stays quiet is told goodbye. */
uint64_t
conn_drain_deadline(const struct conn *c)
{
	return mono_after(c->input_ms, (uint64_t)c->cfg->drain_grace_ms);
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
		if (c->timer_ms != 0)
			conn_clear_timeout(c);
		return;
	}
	if (c->timer_ms != 0 && c->timer_ms <= when)
		return;
	conn_set_timeout(c, when);
}

void
conn_on_timeout(struct conn *c)
{
	enum conn_due due;
	uint64_t when = conn_deadline(c, &due);

	if (due != DUE_NONE && when <= mono_ms()) {
		if (conn_expire(c, due) == -1)
			return;
		when = conn_deadline(c, &due);
	}
	/* libevent has armed it again: set it right, or drop it. */
	if (due == DUE_NONE)
		conn_clear_timeout(c);
	else
		conn_set_timeout(c, when);
}

/*
 * Closes the connections idle since before now, and returns the earliest
 * idle deadline of the others (UINT64_MAX if none has one), or now when
 * it closed any, to be called again soon.  The loop calls it from one
 * timer for all its connections, so the idle timeout, which every
 * connection has, costs nothing per read or write.
 */
uint64_t
conn_sweep_idle(struct conn_list *list, uint64_t now)
{
	struct conn *c, *next;
	uint64_t earliest = UINT64_MAX;
	bool expired = false;

	for (c = TAILQ_FIRST(list); c != NULL; c = next) {
		uint64_t at = conn_idle_deadline(c);

		next = TAILQ_NEXT(c, link);
		if (at <= now) {
			conn_expire(c, DUE_IDLE);
			expired = true;
		} else if (at < earliest) {
			earliest = at;
		}
	}
	/*
	 * A client told goodbye may still hold replies it is not taking; the
	 * next pass closes it, if it is still there.
	 */
	return expired ? now : earliest;
}
