/*
 * loadgen: drives a greeting server on 127.0.0.1 and checks every byte it
 * sends back.  Scenarios:
 *
 *   A  50 connections, one request in flight each (ping-pong)
 *   B  50 connections, 16 requests in flight each
 *   C  2000 connections, ping-pong
 *   D  churn: 8 concurrent sessions of connect, welcome, one message,
 *      exit, close
 *   E  10000 idle connections: the server's RSS per connection, then one
 *      request on each to prove they were live
 *
 * The load runs for a warm-up, then for the measured window; replies (or
 * sessions) completing in the window are counted, with their latency (send
 * to last byte of the reply; a whole session for D).  Given the server's
 * pid, the server's CPU time over the window comes from /proc/PID/stat.
 * Exit status 1 when any reply differs from what the protocol says.
 */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "client.h"
#include "procstat.h"

#define LG_MAX_THREADS 32
/* Connection ids of thread i start at i << LG_ID_BITS. */
#define LG_ID_BITS 27
#define LG_OPEN_SECONDS 60
#define LG_IDLE_ANSWER_SECONDS 30
#define LG_IDLE_SETTLE_NS 500000000u
#define LG_HANDSHAKES 64

struct lg_options {
	int port;
	int pid; /* the server's, or 0 */
	char scenario;
	enum client_mode mode;
	uint32_t conns, depth, threads;
	double warmup, seconds;
	bool json;
};

/* The measured window as the main thread saw it. */
struct lg_sample {
	double wall;
	double self_cpu;
	double server_cpu;   /* -1 without a pid */
	double machine_busy; /* all CPUs, steal included */
};

struct lg_result {
	uint64_t replies, sessions;
	struct hist hist;
	struct lg_sample start, end;
	long long rss_before, rss_after; /* idle mode only */
	char error[512];
};

static pthread_barrier_t lg_barrier;
static bool lg_abort;
static uint64_t lg_measure, lg_end;

static void
lg_usage(void)
{
	fprintf(stderr,
	    "usage: loadgen -p PORT [-s A|B|C|D|E] [-c CONNS] [-d DEPTH]\n"
	    "               [-w WARMUP_S] [-t SECONDS] [-T THREADS] "
	    "[-P SERVER_PID] [-j]\n");
	exit(2);
}

/* The scenario's mode, and its numbers where the command line gave none. */
static void
lg_preset(struct lg_options *o, char scenario)
{
	static const struct {
		char name;
		enum client_mode mode;
		uint32_t conns, depth;
	} presets[] = {
		{ 'A', CLIENT_PING, 50, 1 },
		{ 'B', CLIENT_PING, 50, 16 },
		{ 'C', CLIENT_PING, 2000, 1 },
		{ 'D', CLIENT_CHURN, 8, 1 },
		{ 'E', CLIENT_IDLE, 10000, 1 },
	};

	for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++) {
		if (presets[i].name != scenario)
			continue;
		o->scenario = scenario;
		o->mode = presets[i].mode;
		if (o->conns == 0)
			o->conns = presets[i].conns;
		if (o->depth == 0)
			o->depth = presets[i].depth;
		return;
	}
	lg_usage();
}

static uint32_t
lg_count(const char *s, uint32_t min, uint32_t max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < min || v > max)
		lg_usage();
	return (uint32_t)v;
}

static double
lg_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= 0 && v <= 3600))
		lg_usage();
	return v;
}

static void
lg_parse(int argc, char **argv, struct lg_options *o)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "scenario", required_argument, NULL, 's' },
		{ "conns", required_argument, NULL, 'c' },
		{ "depth", required_argument, NULL, 'd' },
		{ "warmup", required_argument, NULL, 'w' },
		{ "seconds", required_argument, NULL, 't' },
		{ "threads", required_argument, NULL, 'T' },
		{ "pid", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char scenario = 'A';
	int opt;

	o->threads = 1;
	o->warmup = 1;
	o->seconds = 5;
	while ((opt = getopt_long(argc, argv, "p:s:c:d:w:t:T:P:j", longopts,
		    NULL)) != -1) {
		switch (opt) {
		case 'p':
			o->port = (int)lg_count(optarg, 1, 65535);
			break;
		case 's':
			if (strlen(optarg) != 1)
				lg_usage();
			scenario = optarg[0];
			break;
		case 'c':
			o->conns = lg_count(optarg, 1, 1000000);
			break;
		case 'd':
			o->depth = lg_count(optarg, 1, CLIENT_MAX_DEPTH);
			break;
		case 'w':
			o->warmup = lg_seconds(optarg);
			break;
		case 't':
			o->seconds = lg_seconds(optarg);
			break;
		case 'T':
			o->threads = lg_count(optarg, 1, LG_MAX_THREADS);
			break;
		case 'P':
			o->pid = (int)lg_count(optarg, 1, 1 << 30);
			break;
		case 'j':
			o->json = true;
			break;
		default:
			lg_usage();
		}
	}
	lg_preset(o, scenario);
	if (optind != argc || o->port == 0 ||
	    (o->mode == CLIENT_IDLE && o->pid == 0))
		lg_usage();
	if (o->threads > o->conns)
		o->threads = o->conns;
}

/* Thousands of connections need more descriptors than the default. */
static void
lg_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static void
lg_sleep_until(uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
		(long)(ns % 1000000000u) };

	while (
	    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static struct lg_sample
lg_sample(int pid)
{
	struct lg_sample s;

	s.wall = (double)client_now() / 1e9;
	s.self_cpu = procstat_self_cpu();
	s.server_cpu = pid != 0 ? procstat_cpu(pid) : -1;
	s.machine_busy = procstat_machine_busy();
	return s;
}

static void *
lg_thread(void *arg)
{
	struct client *c = arg;
	int rc = client_open(c, client_now() + LG_OPEN_SECONDS * 1000000000ull);

	pthread_barrier_wait(&lg_barrier);
	pthread_barrier_wait(&lg_barrier);
	if (rc == 0 && !lg_abort)
		client_run(c, lg_measure, lg_end);
	return NULL;
}

/*
 * Between the two barriers every connection is open and nothing moves: the
 * time to measure idle memory, and to set the clock for the threads.
 */
static void
lg_drive(const struct lg_options *o, struct lg_result *r,
    const struct client *clients)
{
	uint64_t now;

	pthread_barrier_wait(&lg_barrier);
	for (uint32_t i = 0; i < o->threads; i++)
		if (clients[i].error[0] != '\0')
			lg_abort = true;
	if (lg_abort) {
		pthread_barrier_wait(&lg_barrier);
		return;
	}
	if (o->mode == CLIENT_IDLE) {
		lg_sleep_until(client_now() + LG_IDLE_SETTLE_NS);
		r->rss_after = procstat_rss(o->pid);
	}
	now = client_now();
	lg_measure = now + (uint64_t)(o->warmup * 1e9);
	lg_end = lg_measure + (uint64_t)(o->seconds * 1e9);
	if (o->mode == CLIENT_IDLE)
		lg_end = now + LG_IDLE_ANSWER_SECONDS * 1000000000ull;
	pthread_barrier_wait(&lg_barrier);
	if (o->mode == CLIENT_IDLE)
		return;
	lg_sleep_until(lg_measure);
	r->start = lg_sample(o->pid);
	lg_sleep_until(lg_end);
	r->end = lg_sample(o->pid);
}

static int
lg_run(const struct lg_options *o, struct lg_result *r)
{
	static struct client clients[LG_MAX_THREADS];
	pthread_t tids[LG_MAX_THREADS];
	uint32_t n = o->threads, handshakes = LG_HANDSHAKES / n;

	pthread_barrier_init(&lg_barrier, NULL, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		struct client *c = &clients[i];

		c->addr.sin_family = AF_INET;
		c->addr.sin_port = htons((uint16_t)o->port);
		c->addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		c->mode = o->mode;
		c->first_id = i << LG_ID_BITS;
		c->nconns = o->conns / n + (i < o->conns % n);
		c->depth = o->depth;
		c->max_connecting = handshakes > 0 ? handshakes : 1;
		if (client_init(c) == -1) {
			snprintf(r->error, sizeof(r->error), "%s", c->error);
			return -1;
		}
	}
	if (o->mode == CLIENT_IDLE)
		r->rss_before = procstat_rss(o->pid);
	for (uint32_t i = 0; i < n; i++)
		if (pthread_create(&tids[i], NULL, lg_thread, &clients[i]) !=
		    0) {
			perror("pthread_create");
			exit(1);
		}
	lg_drive(o, r, clients);
	for (uint32_t i = 0; i < n; i++) {
		struct client *c = &clients[i];

		pthread_join(tids[i], NULL);
		r->replies += c->replies;
		r->sessions += c->sessions;
		hist_merge(&r->hist, &c->hist);
		if (c->error[0] != '\0' && r->error[0] == '\0')
			snprintf(r->error, sizeof(r->error), "%s", c->error);
		client_free(c);
	}
	if (r->error[0] != '\0')
		return -1;
	if (o->mode == CLIENT_IDLE && (r->rss_before < 0 || r->rss_after < 0))
		snprintf(r->error, sizeof(r->error),
		    "cannot read VmRSS from /proc/%d/status", o->pid);
	else if (o->mode != CLIENT_IDLE && r->replies + r->sessions == 0)
		snprintf(r->error, sizeof(r->error),
		    "nothing completed in the measured window");
	return r->error[0] != '\0' ? -1 : 0;
}

/* Microseconds at quantile q. */
static double
lg_us(const struct hist *h, double q)
{
	return (double)(q >= 1 ? h->max : hist_quantile(h, q)) / 1e3;
}

static const char *
lg_mode_name(enum client_mode mode)
{
	switch (mode) {
	case CLIENT_PING:
		return "ping";
	case CLIENT_CHURN:
		return "churn";
	case CLIENT_IDLE:
		break;
	}
	return "idle";
}

static const char *
lg_what(enum client_mode mode)
{
	switch (mode) {
	case CLIENT_PING:
		return "connections";
	case CLIENT_CHURN:
		return "concurrent sessions";
	case CLIENT_IDLE:
		break;
	}
	return "idle connections";
}

/*
 * CPU time the machine spent on anything but this load and its server:
 * other processes, or a host that ran someone else (steal).  A run with
 * much of it measured the neighbours too.
 */
static double
lg_other_cpu(const struct lg_result *r)
{
	double all = r->end.machine_busy - r->start.machine_busy;
	double self = r->end.self_cpu - r->start.self_cpu;
	double srv = r->end.server_cpu - r->start.server_cpu;

	return all - self - (r->start.server_cpu < 0 ? 0 : srv);
}

static void
lg_report_json(const struct lg_options *o, const struct lg_result *r)
{
	double wall = r->end.wall - r->start.wall;
	double srv = r->end.server_cpu - r->start.server_cpu;
	uint64_t done = o->mode == CLIENT_CHURN ? r->sessions : r->replies;

	printf("{\"scenario\": \"%c\", \"mode\": \"%s\", \"conns\": %u, "
	       "\"depth\": %u, \"threads\": %u",
	    o->scenario, lg_mode_name(o->mode), o->conns, o->depth, o->threads);
	if (o->mode == CLIENT_IDLE) {
		printf(", \"rss_before\": %lld, \"rss_after\": %lld, "
		       "\"rss_per_conn\": %.1f}\n",
		    r->rss_before, r->rss_after,
		    (double)(r->rss_after - r->rss_before) / o->conns);
		return;
	}
	printf(", \"seconds\": %.4f, \"replies\": %llu, \"sessions\": %llu, "
	       "\"rate\": %.1f, \"p50_us\": %.2f, \"p99_us\": %.2f, "
	       "\"p999_us\": %.2f, \"max_us\": %.2f, \"loadgen_cpu\": %.4f",
	    wall, (unsigned long long)r->replies,
	    (unsigned long long)r->sessions, (double)done / wall,
	    lg_us(&r->hist, 0.5), lg_us(&r->hist, 0.99), lg_us(&r->hist, 0.999),
	    lg_us(&r->hist, 1), r->end.self_cpu - r->start.self_cpu);
	if (o->pid != 0)
		printf(", \"server_cpu\": %.4f, \"server_us_per_op\": %.3f",
		    srv, done > 0 ? srv * 1e6 / (double)done : 0);
	printf(", \"other_cpu\": %.4f}\n", lg_other_cpu(r));
}

static void
lg_report_text(const struct lg_options *o, const struct lg_result *r)
{
	double wall = r->end.wall - r->start.wall;
	double srv = r->end.server_cpu - r->start.server_cpu;
	double self = r->end.self_cpu - r->start.self_cpu;
	bool churn = o->mode == CLIENT_CHURN;
	uint64_t done = churn ? r->sessions : r->replies;

	printf("scenario %c: %u %s", o->scenario, o->conns, lg_what(o->mode));
	if (o->mode == CLIENT_PING)
		printf(", %u in flight each", o->depth);
	printf(", %u loadgen thread%s\n", o->threads,
	    o->threads == 1 ? "" : "s");
	if (o->mode == CLIENT_IDLE) {
		printf("  server RSS   %lld -> %lld bytes, %.1f per "
		       "connection\n",
		    r->rss_before, r->rss_after,
		    (double)(r->rss_after - r->rss_before) / o->conns);
		return;
	}
	printf("  %-12s %.0f (%llu in %.2f s, every reply verified)\n",
	    churn ? "sessions/s" : "replies/s", (double)done / wall,
	    (unsigned long long)done, wall);
	printf("  %-12s p50 %.1f  p99 %.1f  p99.9 %.1f  max %.1f\n",
	    churn ? "session us" : "latency us", lg_us(&r->hist, 0.5),
	    lg_us(&r->hist, 0.99), lg_us(&r->hist, 0.999), lg_us(&r->hist, 1));
	printf("  loadgen cpu  %.2f s (%.0f%% of one core)\n", self,
	    100 * self / wall);
	if (o->pid != 0)
		printf(
		    "  server cpu   %.2f s (%.0f%% of one core), %.2f us per "
		    "%s\n",
		    srv, 100 * srv / wall,
		    done > 0 ? srv * 1e6 / (double)done : 0,
		    churn ? "session" : "reply");
	printf("  other cpu    %.2f s (%.0f%% of one core: other processes, "
	       "steal)\n",
	    lg_other_cpu(r), 100 * lg_other_cpu(r) / wall);
}

int
main(int argc, char **argv)
{
	static struct lg_options o;
	static struct lg_result r;

	lg_parse(argc, argv, &o);
	lg_raise_nofile();
	if (lg_run(&o, &r) == -1) {
		fprintf(stderr, "loadgen: scenario %c: %s\n", o.scenario,
		    r.error);
		return 1;
	}
	if (o.mode != CLIENT_IDLE && r.end.server_cpu < 0 && o.pid != 0) {
		fprintf(stderr, "loadgen: cannot read /proc/%d/stat\n", o.pid);
		return 1;
	}
	if (o.json)
		lg_report_json(&o, &r);
	else
		lg_report_text(&o, &r);
	return 0;
}
