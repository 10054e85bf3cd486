#include "master.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "listen_set.h"
#include "listener.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "shared.h"
#include "worker.h"

/* How often each worker proves its loop turns, at most. */
#define MASTER_HEARTBEAT_USEC 250000

struct master {
	struct event_base *base;
	struct config *cfg;
	bool stopping;
	struct shared *shared;
	struct listen_set *lset; /* the workers accept on copies of these */
	struct worker **workers;
	size_t nworkers;
	struct event *ev_status;   /* STATUS= to the service manager */
	struct event *ev_watchdog; /* WATCHDOG=1 to the service manager */
	uint64_t watchdog_usec;
	char last_status[128];
	struct metrics *metrics;
	int metrics_fd;		  /* passed in as "metrics", until served */
	struct event *ev_drained; /* polls for the workers' end */
	uint64_t reloads_ok;
	uint64_t reloads_failed;
	struct timespec started;
};

/* Says so when the descriptor limit keeps max_clients out of reach. */
static void
master_check_fd_room(const struct master *m, const struct config *cfg)
{
	size_t room = m->shared->fd_room;

	if ((size_t)cfg->max_clients <= room)
		return;
	log_warnx("max_clients is %d but the open file limit leaves room for "
		  "only %zu clients: serving at most %zu (raise the limit "
		  "with ulimit -n or LimitNOFILE=)",
	    cfg->max_clients, room, room);
}

struct master *
master_new(struct event_base *base, struct config *cfg, int port_override,
    size_t fd_room)
{
	struct master *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->shared = shared_new(fd_room)) == NULL ||
	    (m->lset = listen_set_new(port_override)) == NULL) {
		shared_free(m->shared);
		free(m);
		return NULL;
	}
	m->base = base;
	m->cfg = config_ref(cfg);
	m->metrics_fd = -1;
	clock_gettime(CLOCK_MONOTONIC, &m->started);
	master_check_fd_room(m, cfg);
	return m;
}

/* Listens where the config says, or on the sockets passed to hellod. */
int
master_listen(struct master *m, char *err, size_t errlen)
{
	return listen_set_open(m->lset, m->cfg, &m->metrics_fd, err, errlen);
}

/* Often enough that a turning loop always looks fresh to the watchdog. */
static uint64_t
master_heartbeat_usec(const struct master *m)
{
	uint64_t quarter = m->watchdog_usec / 4;

	return quarter > 0 && quarter < MASTER_HEARTBEAT_USEC
	    ? quarter
	    : MASTER_HEARTBEAT_USEC;
}

static size_t
master_worker_count(const struct config *cfg)
{
	long cpus;

	if (cfg->workers > 0)
		return (size_t)cfg->workers;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (size_t)cpus : 1;
}

/*
 * Starts the worker loops.  Signals stay with the main thread, which
 * handles them in its own loop: the workers are started with every
 * signal blocked, and keep that mask.
 */
static int
master_start_workers(struct master *m, char *err, size_t errlen)
{
	size_t n = master_worker_count(m->cfg);
	struct listener_fd *fds = listen_set_fds(m->lset);
	sigset_t all, saved;
	int rc = 0;

	if (fds == NULL ||
	    (m->workers = calloc(n, sizeof(*m->workers))) == NULL) {
		free(fds);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &saved);
	for (size_t i = 0; i < n && rc == 0; i++) {
		m->workers[i] = worker_start(m->shared, m->cfg, fds,
		    listen_set_count(m->lset), n == 1 ? m->base : NULL,
		    master_heartbeat_usec(m), err, errlen);
		if (m->workers[i] == NULL)
			rc = -1;
		else
			m->nworkers++;
	}
	pthread_sigmask(SIG_SETMASK, &saved, NULL);
	free(fds);
	if (rc == 0)
		log_info("%zu worker%s serving", n, n == 1 ? "" : "s");
	return rc;
}

static void
master_status(struct master *m, char *buf, size_t len)
{
	uint64_t messages = 0;

	for (size_t i = 0; i < m->nworkers; i++)
		messages += STATS_GET(worker_stats(m->workers[i])->messages);
	snprintf(buf, len, "STATUS=%zu clients, %llu messages served%s",
	    atomic_load(&m->shared->clients), (unsigned long long)messages,
	    m->stopping ? ", stopping" : "");
}

/* Tells the service manager hellod serves, with a live summary. */
static void
master_notify_ready(struct master *m)
{
	char status[128];

	master_status(m, status, sizeof(status));
	notify_send("READY=1\n%s", status);
	snprintf(m->last_status, sizeof(m->last_status), "%s", status);
}

/* Once a second at most, and only when it changed. */
static void
master_on_status(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;
	char status[128];

	(void)fd;
	(void)what;
	master_status(m, status, sizeof(status));
	if (strcmp(status, m->last_status) == 0)
		return;
	notify_send("%s", status);
	snprintf(m->last_status, sizeof(m->last_status), "%s", status);
}

/*
 * Pings only while every worker's loop is turning: a stuck worker stops
 * the pings as surely as a stuck main loop, and the manager restarts.
 */
static void
master_on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < m->nworkers; i++)
		if (worker_idle_usec(m->workers[i]) > m->watchdog_usec / 2)
			return;
	notify_send("WATCHDOG=1");
}

static void
master_snapshot(void *arg, struct metrics_snapshot *s)
{
	struct master *m = arg;
	struct timespec now;

	memset(s, 0, sizeof(*s));
	for (size_t i = 0; i < m->nworkers; i++)
		metrics_add(s, worker_stats(m->workers[i]));
	clock_gettime(CLOCK_MONOTONIC, &now);
	s->active = atomic_load(&m->shared->clients);
	s->reloads_ok = m->reloads_ok;
	s->reloads_failed = m->reloads_failed;
	s->listeners = listen_set_count(m->lset);
	s->workers = m->nworkers;
	s->uptime_seconds = (double)(now.tv_sec - m->started.tv_sec) +
	    (double)(now.tv_nsec - m->started.tv_nsec) / 1e9;
	s->draining = m->stopping;
}

/*
 * How the drain went, once it is over: the clients answered during it,
 * however they left, and those the drain itself closed.
 */
void
master_log_drain(struct master *m)
{
	struct metrics_snapshot s;
	uint64_t served = 0, idle, cut;

	if (!m->stopping)
		return;
	master_snapshot(m, &s);
	for (size_t i = 0; i < m->nworkers; i++)
		served += STATS_GET(worker_stats(m->workers[i])->drain_served);
	idle = s.closed[CLOSE_SHUTDOWN_IDLE];
	cut = s.closed[CLOSE_SHUTDOWN_TIMEOUT];
	/* A stop with no client to drain has nothing to tell. */
	if (served + idle + cut + s.closed[CLOSE_SHUTDOWN] == 0)
		return;
	log_info("drained: %llu clients served during the drain, %llu "
		 "dismissed idle, %llu cut at shutdown_timeout",
	    (unsigned long long)served, (unsigned long long)idle,
	    (unsigned long long)cut);
}

/* SIGUSR1: the metrics as one log line. */
void
master_log_stats(struct master *m)
{
	struct metrics_snapshot s;
	char line[512];

	master_snapshot(m, &s);
	metrics_render_line(&s, line, sizeof(line));
	log_info("%s", line);
}

/* The metrics endpoint, on the passed "metrics" socket or metrics_bind. */
static int
master_start_metrics(struct master *m, char *err, size_t errlen)
{
	int fd = m->metrics_fd;

	if (fd == -1 && m->cfg->metrics_bind[0] != '\0') {
		struct listener *l = listener_open(&m->cfg->metrics_addr, false,
		    m->cfg, err, errlen);
		if (l == NULL)
			return -1;
		fd = fcntl(listener_fd(l).fd, F_DUPFD_CLOEXEC, 0);
		listener_free(l);
		if (fd == -1) {
			snprintf(err, errlen, "metrics: %s", strerror(errno));
			return -1;
		}
	}
	m->metrics_fd = -1;
	if (fd == -1)
		return 0;
	union net_addr addr;
	socklen_t len = sizeof(addr);
	char name[NET_ADDRSTRLEN] = "?";
	if (getsockname(fd, &addr.sa, &len) == 0)
		net_format(&addr, name, sizeof(name));
	if ((m->metrics = metrics_start(m->base, fd, master_snapshot, m, err,
		 errlen)) == NULL)
		return -1;
	log_info("metrics on http://%s/metrics", name);
	return 0;
}

static int
master_add_timer(struct master *m, struct event **ev, uint64_t usec,
    event_callback_fn cb)
{
	struct timeval tv = { (time_t)(usec / 1000000),
		(suseconds_t)(usec % 1000000) };

	*ev = event_new(m->base, -1, EV_PERSIST, cb, m);
	return *ev == NULL || event_add(*ev, &tv) == -1 ? -1 : 0;
}

/* Starts the workers and the service manager's timers; then hellod serves. */
int
master_start(struct master *m, char *err, size_t errlen)
{
	m->watchdog_usec = notify_watchdog_usec();
	if (master_start_workers(m, err, errlen) == -1 ||
	    master_start_metrics(m, err, errlen) == -1)
		return -1;
	if (master_add_timer(m, &m->ev_status, 1000000, master_on_status) ==
		-1 ||
	    (m->watchdog_usec > 0 &&
		master_add_timer(m, &m->ev_watchdog, m->watchdog_usec / 2,
		    master_on_watchdog) == -1)) {
		snprintf(err, errlen, "cannot start timers: out of memory");
		return -1;
	}
	if (m->watchdog_usec > 0)
		log_info("watchdog: pinging every %llu ms",
		    (unsigned long long)(m->watchdog_usec / 2000));
	master_notify_ready(m);
	return 0;
}

/* Hands the config and the sockets to every worker. */
static void
master_publish(struct master *m)
{
	struct listener_fd *fds = listen_set_fds(m->lset);

	if (fds == NULL) {
		log_error("out of memory: the workers keep their sockets");
		return;
	}
	for (size_t i = 0; i < m->nworkers; i++)
		worker_post(m->workers[i], m->cfg, fds,
		    listen_set_count(m->lset));
	for (size_t i = 0; i < m->nworkers; i++)
		worker_wait(m->workers[i]);
	free(fds);
}

/* Says which changed keys a reload cannot apply, so none is ignored unseen. */
static void
master_warn_restart_only(const struct master *m, const struct config *cfg)
{
	const struct {
		const char *name, *was, *now;
	} keys[] = {
		{ "metrics_bind", m->cfg->metrics_bind, cfg->metrics_bind },
		{ "user", m->cfg->user, cfg->user },
		{ "group", m->cfg->group, cfg->group },
		{ "pidfile", m->cfg->pidfile, cfg->pidfile },
	};

	if (master_worker_count(cfg) != m->nworkers)
		log_warnx("workers: the number of workers changes on restart "
			  "only");
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].was, keys[i].now) != 0)
			log_warnx("%s: the change takes effect on restart only",
			    keys[i].name);
}

/*
 * Re-reads the config file.  A valid one applies to new connections (open
 * ones keep the config they started with) and rebinds the listeners whose
 * address changed; an invalid one changes nothing.  Either way the
 * service manager hears that the reload is over.
 */
void
master_reload(struct master *m)
{
	struct config *cfg;
	char err[512];

	if (m->stopping)
		return;
	log_info("reloading %s", m->cfg->path);
	notify_reloading();
	if ((cfg = config_load(m->cfg->path, err, sizeof(err))) == NULL ||
	    listen_set_rebind(m->lset, cfg, err, sizeof(err)) == -1) {
		log_error("reload failed, keeping the running configuration: "
			  "%s",
		    err);
		config_unref(cfg);
		m->reloads_failed++;
		master_notify_ready(m);
		return;
	}
	master_warn_restart_only(m, cfg);
	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);
	master_check_fd_room(m, cfg);
	config_unref(m->cfg);
	m->cfg = cfg;
	master_publish(m);
	m->reloads_ok++;
	log_info("configuration reloaded");
	master_notify_ready(m);
}

/* Ends the main loop once every worker's loop has ended. */
static void
master_on_drained(evutil_socket_t fd, short what, void *arg)
{
	struct master *m = arg;

	(void)fd;
	(void)what;
	for (size_t i = 0; i < m->nworkers; i++)
		if (!worker_finished(m->workers[i]))
			return;
	event_base_loopbreak(m->base);
}

/*
 * Graceful stop: every worker drains its queue, answers what its clients
 * sent and closes.  Meanwhile the main loop keeps serving /healthz, which
 * says 503, so a load balancer stops sending clients.
 */
void
master_stop(struct master *m)
{
	if (m->stopping)
		return;
	m->stopping = true;
	notify_send("STOPPING=1");
	/*
	 * The main thread's copies go first: a listening socket lives until
	 * its last descriptor closes, and the last should be a worker's,
	 * closed right after it accepted what was queued.  A client that
	 * connects in between would be reset when the socket goes, not
	 * served.
	 */
	listen_set_close(m->lset);
	for (size_t i = 0; i < m->nworkers; i++)
		worker_stop(m->workers[i]);
	if (master_add_timer(m, &m->ev_drained, 20000, master_on_drained) == -1)
		event_base_loopbreak(m->base);
}

void
master_free(struct master *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nworkers; i++)
		worker_free(m->workers[i]);
	free(m->workers);
	listen_set_free(m->lset);
	if (m->ev_status != NULL)
		event_free(m->ev_status);
	if (m->ev_watchdog != NULL)
		event_free(m->ev_watchdog);
	if (m->ev_drained != NULL)
		event_free(m->ev_drained);
	metrics_free(m->metrics);
	if (m->metrics_fd != -1)
		close(m->metrics_fd);
	shared_free(m->shared);
	config_unref(m->cfg);
	free(m);
}
