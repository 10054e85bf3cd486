#include "worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "server.h"

struct worker {
	pthread_t thread;
	bool started;
	bool hosted; /* runs in the main thread's loop, with no thread */
	struct event_base *base;
	struct server *srv;
	int wake_fd;
	struct event *ev_wake;
	struct event *ev_heartbeat;
	_Atomic uint64_t beat_usec; /* when the loop last turned */
	atomic_bool finished;	    /* the loop has ended */

	/* Handed over by the main thread, taken by the loop. */
	pthread_mutex_t lock;
	pthread_cond_t applied; /* signalled when a hand-over is applied */
	uint64_t posts;		/* hand-overs made */
	uint64_t done;		/* hand-overs applied */
	struct config *next_cfg;
	struct listener_fd *next_fds;
	size_t next_n;
	bool stop;
};

static uint64_t
worker_now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
worker_on_heartbeat(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;

	(void)fd;
	(void)what;
	atomic_store_explicit(&w->beat_usec, worker_now_usec(),
	    memory_order_relaxed);
}

/* A new config and sockets, in the loop's own thread. */
static void
worker_apply(struct worker *w, struct config *cfg,
    const struct listener_fd *fds, size_t n)
{
	char err[256];

	if (cfg != NULL)
		server_set_config(w->srv, cfg);
	if (fds != NULL && server_watch(w->srv, fds, n, err, sizeof(err)) == -1)
		log_error("worker keeps its old sockets: %s", err);
}

/* Applies what the main thread handed over, in the loop's own thread. */
static void
worker_on_wake(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	struct config *cfg;
	uint64_t count, posts;
	struct listener_fd *fds;
	size_t n;
	bool stop;

	(void)what;
	if (read(fd, &count, sizeof(count)) == -1 && errno != EAGAIN)
		log_warn("worker wake-up");
	pthread_mutex_lock(&w->lock);
	cfg = w->next_cfg;
	fds = w->next_fds;
	n = w->next_n;
	stop = w->stop;
	posts = w->posts;
	w->next_cfg = NULL;
	w->next_fds = NULL;
	pthread_mutex_unlock(&w->lock);
	worker_apply(w, cfg, stop ? NULL : fds, n);
	config_unref(cfg);
	free(fds);
	pthread_mutex_lock(&w->lock);
	w->done = posts;
	pthread_cond_broadcast(&w->applied);
	pthread_mutex_unlock(&w->lock);
	if (stop)
		server_stop(w->srv);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;

	if (loop_run(w->base) == -1)
		log_error("a worker's event loop failed");
	atomic_store(&w->finished, true);
	return NULL;
}

static int
worker_init(struct worker *w, struct shared *sh, struct config *cfg,
    const struct listener_fd *fds, size_t n, uint64_t heartbeat_usec, char *err,
    size_t errlen)
{
	struct timeval beat = { (time_t)(heartbeat_usec / 1000000),
		(suseconds_t)(heartbeat_usec % 1000000) };

	w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (w->wake_fd == -1) {
		snprintf(err, errlen, "cannot start a worker: %s",
		    strerror(errno));
		return -1;
	}
	atomic_init(&w->beat_usec, worker_now_usec());
	if ((w->base = event_base_new()) == NULL ||
	    (w->srv = server_new(w->base, sh, cfg)) == NULL ||
	    (w->ev_wake = event_new(w->base, w->wake_fd, EV_READ | EV_PERSIST,
		 worker_on_wake, w)) == NULL ||
	    (w->ev_heartbeat = event_new(w->base, -1, EV_PERSIST,
		 worker_on_heartbeat, w)) == NULL ||
	    event_add(w->ev_wake, NULL) == -1 ||
	    event_add(w->ev_heartbeat, &beat) == -1) {
		snprintf(err, errlen, "cannot start a worker: out of memory");
		return -1;
	}
	return server_watch(w->srv, fds, n, err, errlen);
}

/*
 * A lone worker runs in the main thread's loop instead of a thread of its
 * own.  A process with one thread is cheaper on the message path: the
 * kernel looks up its descriptors without taking a reference on each
 * send() and recv(), and the C library skips the cancellation bookkeeping
 * around them, which together cost a few percent of a core under load.
 */
static int
worker_host(struct worker *w, struct event_base *host, struct shared *sh,
    struct config *cfg, const struct listener_fd *fds, size_t n, char *err,
    size_t errlen)
{
	w->hosted = true;
	w->base = host;
	if ((w->srv = server_new(host, sh, cfg)) == NULL) {
		snprintf(err, errlen, "cannot start a worker: out of memory");
		return -1;
	}
	return server_watch(w->srv, fds, n, err, errlen);
}

struct worker *
worker_start(struct shared *sh, struct config *cfg,
    const struct listener_fd *fds, size_t n, struct event_base *host,
    uint64_t heartbeat_usec, char *err, size_t errlen)
{
	struct worker *w = calloc(1, sizeof(*w));
	int rc;

	if (w == NULL) {
		snprintf(err, errlen, "cannot start a worker: out of memory");
		return NULL;
	}
	w->wake_fd = -1;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->applied, NULL);
	if (host != NULL) {
		if (worker_host(w, host, sh, cfg, fds, n, err, errlen) == -1) {
			worker_free(w);
			return NULL;
		}
		return w;
	}
	if (worker_init(w, sh, cfg, fds, n, heartbeat_usec, err, errlen) ==
	    -1) {
		worker_free(w);
		return NULL;
	}
	if ((rc = pthread_create(&w->thread, NULL, worker_main, w)) != 0) {
		snprintf(err, errlen, "cannot start a worker thread: %s",
		    strerror(rc));
		worker_free(w);
		return NULL;
	}
	w->started = true;
	return w;
}

static void
worker_wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) == -1 && errno != EAGAIN)
		log_warn("cannot wake a worker");
}

/* Hands over a new config and the sockets to accept on. */
void
worker_post(struct worker *w, struct config *cfg, const struct listener_fd *fds,
    size_t n)
{
	struct listener_fd *copy;

	if (w->hosted) {
		worker_apply(w, cfg, fds, n);
		return;
	}
	if ((copy = calloc(n + 1, sizeof(*copy))) == NULL) {
		log_error("out of memory: a worker keeps its configuration");
		return;
	}
	memcpy(copy, fds, n * sizeof(*fds));
	pthread_mutex_lock(&w->lock);
	config_unref(w->next_cfg);
	free(w->next_fds);
	w->next_cfg = config_ref(cfg);
	w->next_fds = copy;
	w->next_n = n;
	w->posts++;
	pthread_mutex_unlock(&w->lock);
	worker_wake(w);
}

/*
 * Waits until the worker has applied every hand-over, so a reload is
 * reported done only when no loop serves the old config or sockets.
 */
void
worker_wait(struct worker *w)
{
	pthread_mutex_lock(&w->lock);
	while (w->done < w->posts)
		pthread_cond_wait(&w->applied, &w->lock);
	pthread_mutex_unlock(&w->lock);
}

void
worker_stop(struct worker *w)
{
	if (w->hosted) {
		server_stop(w->srv);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->stop = true;
	pthread_mutex_unlock(&w->lock);
	worker_wake(w);
}

/*
 * How long ago the loop last turned, for the watchdog.  A hosted worker's
 * loop is the caller's own, which is turning as it asks.
 */
uint64_t
worker_idle_usec(const struct worker *w)
{
	uint64_t beat, now;

	if (w->hosted)
		return 0;
	beat = atomic_load_explicit(&w->beat_usec, memory_order_relaxed);
	now = worker_now_usec();
	return now > beat ? now - beat : 0;
}

bool
worker_finished(const struct worker *w)
{
	if (w->hosted)
		return server_finished(w->srv);
	return atomic_load(&w->finished);
}

const struct stats *
worker_stats(const struct worker *w)
{
	return server_stats(w->srv);
}

/* Stops the worker if it still runs, waits for it and frees it. */
void
worker_free(struct worker *w)
{
	if (w == NULL)
		return;
	if (w->started) {
		worker_stop(w);
		pthread_join(w->thread, NULL);
	}
	if (w->ev_wake != NULL)
		event_free(w->ev_wake);
	if (w->ev_heartbeat != NULL)
		event_free(w->ev_heartbeat);
	server_free(w->srv);
	if (w->base != NULL && !w->hosted)
		event_base_free(w->base);
	if (w->wake_fd != -1)
		close(w->wake_fd);
	config_unref(w->next_cfg);
	free(w->next_fds);
	pthread_cond_destroy(&w->applied);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
