#include "loop.h"

#include <errno.h>
#include <string.h>
#include <sys/prctl.h>

#include "log.h"

/*
 * How long a log line may wait to leave with others.  Under churn every
 * session logs two lines, and one write for a few dozen of them instead
 * of one for each is a system call saved per session; an operator
 * reading the log does not see 10 ms.
 */
#define LOOP_LOG_DELAY_MS 10

/*
 * How late the kernel may wake a loop for a timer.  Every deadline a loop
 * keeps is coarse (the log's 10 ms, client deadlines in seconds), yet each
 * sleep with one pending arms a kernel timer, and one due soon on an idle
 * CPU is reprogrammed into the hardware at every sleep and wake: under
 * churn that cost a tenth of the server's CPU.  With slack the kernel
 * folds the wake-up into a tick it takes anyway.
 */
#define LOOP_TIMER_SLACK_NS 5000000UL

static void
loop_on_flush(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

/* The first line of a batch starts the clock on it. */
static void
loop_on_first_line(void *flush)
{
	static const struct timeval delay = { 0, LOOP_LOG_DELAY_MS * 1000 };

	evtimer_add((struct event *)flush, &delay);
}

/*
 * Runs the loop until it is broken or has nothing left to wait for, with
 * the thread's log lines held (log_hold()): a timer sees each batch
 * written within LOOP_LOG_DELAY_MS and the slack.  Returns -1 if the loop
 * failed.
 */
int
loop_run(struct event_base *base)
{
	struct event *flush = evtimer_new(base, loop_on_flush, NULL);
	int rc;

	if (prctl(PR_SET_TIMERSLACK, LOOP_TIMER_SLACK_NS) == -1)
		log_debug("timer slack left at the default: %s",
		    strerror(errno));
	if (flush != NULL)
		log_hold(loop_on_first_line, flush);
	rc = event_base_dispatch(base);
	log_hold(NULL, NULL);
	if (flush != NULL)
		event_free(flush);
	return rc == -1 ? -1 : 0;
}
