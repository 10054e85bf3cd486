/*
 * tlsgen: drives a greeting server over TLS on 127.0.0.1 and checks every
 * byte it sends back, for scripts/bench's TLS rows.  One thread per
 * connection (ping) or per concurrent session (churn), with blocking
 * sockets: the same client for hellod's own TLS and for hellod behind a
 * TLS proxy, so the servers are what differs.
 *
 *   ping   CONNS connections, one request in flight each
 *   churn  CONNS concurrent sessions of connect, full handshake, welcome,
 *          one message, exit, close
 *   idle   CONNS connections opened and left idle: the servers' RSS per
 *          connection, then one request on each to prove they were live
 *
 * Replies (or sessions) completing in the measured window, after the
 * warm-up, are counted; given the servers' pids (-P, repeatable), their
 * CPU time over the window too.  One JSON line on stdout; exit status 1
 * when any reply differs from what the protocol says.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "procstat.h"

#define TG_MAX_PIDS 4
#define TG_MAX_THREADS 512
#define TG_IO_TIMEOUT_S 10

static const char tg_welcome[] = "Welcome!\r\n";
static const char tg_request[] = "bench\n";
static const char tg_reply[] = "Hello, bench!\n";
static const char tg_exit[] = "exit\n";

enum tg_mode { TG_PING, TG_CHURN, TG_IDLE };

struct tg_options {
	int port;
	enum tg_mode mode;
	uint32_t conns;
	double warmup, seconds;
	pid_t pids[TG_MAX_PIDS];
	int npids;
};

/* One blocking TLS connection. */
struct tg_conn {
	int fd;
	SSL *ssl;
};

static SSL_CTX *tg_ctx;
static struct tg_options tg_opt;
static uint64_t tg_measure, tg_end;
static atomic_ullong tg_replies, tg_sessions;
static atomic_bool tg_failed;
static char tg_error[256];
static pthread_mutex_t tg_error_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t
tg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
tg_usage(void)
{
	fprintf(stderr,
	    "usage: tlsgen -p PORT -m ping|churn|idle [-c CONNS] "
	    "[-w WARMUP_S] [-t SECONDS] [-P SERVER_PID]...\n");
	exit(2);
}

static void
tg_fail(const char *what)
{
	pthread_mutex_lock(&tg_error_lock);
	if (!atomic_exchange(&tg_failed, true))
		snprintf(tg_error, sizeof(tg_error), "%s", what);
	pthread_mutex_unlock(&tg_error_lock);
}

static int
tg_connect(struct tg_conn *c)
{
	struct sockaddr_in addr = { .sin_family = AF_INET,
		.sin_port = htons((uint16_t)tg_opt.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct timeval tv = { TG_IO_TIMEOUT_S, 0 };
	int on = 1;

	c->ssl = NULL;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(c->fd, (struct sockaddr *)&addr, sizeof(addr)) == -1 ||
	    (c->ssl = SSL_new(tg_ctx)) == NULL ||
	    SSL_set_fd(c->ssl, c->fd) != 1 || SSL_connect(c->ssl) != 1) {
		tg_fail("cannot connect and handshake");
		return -1;
	}
	return 0;
}

static void
tg_close(struct tg_conn *c)
{
	SSL_free(c->ssl);
	close(c->fd);
}

/* Reads exactly len bytes and checks they are want. */
static int
tg_expect(struct tg_conn *c, const char *want, size_t len)
{
	char buf[64];
	size_t got = 0;

	while (got < len) {
		int n = SSL_read(c->ssl, buf + got, (int)(len - got));
		if (n <= 0) {
			tg_fail("the server closed or timed out mid-reply");
			return -1;
		}
		got += (size_t)n;
	}
	if (memcmp(buf, want, len) != 0) {
		tg_fail("a reply differs from the protocol's");
		return -1;
	}
	return 0;
}

static int
tg_send(struct tg_conn *c, const char *line)
{
	int len = (int)strlen(line);

	if (SSL_write(c->ssl, line, len) != len) {
		tg_fail("cannot send");
		return -1;
	}
	return 0;
}

static int
tg_ask(struct tg_conn *c)
{
	if (tg_send(c, tg_request) == -1 ||
	    tg_expect(c, tg_reply, sizeof(tg_reply) - 1) == -1)
		return -1;
	return 0;
}

static bool
tg_in_window(uint64_t now)
{
	return now >= tg_measure && now < tg_end;
}

static void *
tg_ping(void *arg)
{
	struct tg_conn c;

	(void)arg;
	if (tg_connect(&c) == -1)
		return NULL;
	if (tg_expect(&c, tg_welcome, sizeof(tg_welcome) - 1) == 0) {
		uint64_t now;
		while ((now = tg_now()) < tg_end && !tg_failed) {
			if (tg_ask(&c) == -1)
				break;
			if (tg_in_window(tg_now()))
				atomic_fetch_add(&tg_replies, 1);
		}
	}
	tg_close(&c);
	return NULL;
}

/* One session; the server says goodbye by closing after exit. */
static int
tg_session(void)
{
	struct tg_conn c;
	char end;
	int rc = -1;

	if (tg_connect(&c) == -1)
		return -1;
	if (tg_expect(&c, tg_welcome, sizeof(tg_welcome) - 1) == 0 &&
	    tg_ask(&c) == 0 && tg_send(&c, tg_exit) == 0) {
		if (SSL_read(c.ssl, &end, 1) <= 0)
			rc = 0;
		else
			tg_fail("data after exit");
	}
	tg_close(&c);
	return rc;
}

static void *
tg_churn(void *arg)
{
	(void)arg;
	while (tg_now() < tg_end && !tg_failed) {
		if (tg_session() == -1)
			break;
		if (tg_in_window(tg_now()))
			atomic_fetch_add(&tg_sessions, 1);
	}
	return NULL;
}

static double
tg_server_cpu(void)
{
	double sum = 0;

	for (int i = 0; i < tg_opt.npids; i++)
		sum += procstat_cpu(tg_opt.pids[i]);
	return sum;
}

static long long
tg_server_rss(void)
{
	long long sum = 0;

	for (int i = 0; i < tg_opt.npids; i++)
		sum += procstat_rss(tg_opt.pids[i]);
	return sum;
}

/* Idle: open them all, weigh the servers, then prove each is live. */
static int
tg_idle(void)
{
	struct tg_conn *conns = calloc(tg_opt.conns, sizeof(*conns));
	long long before, after;
	uint32_t open = 0;
	int rc = -1;

	if (conns == NULL)
		return -1;
	before = tg_server_rss();
	while (open < tg_opt.conns && tg_connect(&conns[open]) == 0 &&
	    tg_expect(&conns[open], tg_welcome, sizeof(tg_welcome) - 1) == 0)
		open++;
	if (open == tg_opt.conns) {
		/* Let the servers' allocators settle before weighing them. */
		usleep(500000);
		after = tg_server_rss();
		rc = 0;
		for (uint32_t i = 0; i < open && rc == 0; i++)
			rc = tg_ask(&conns[i]);
		if (rc == 0)
			printf("{\"mode\": \"idle\", \"conns\": %u, "
			       "\"rss_before\": %lld, \"rss_after\": %lld}\n",
			    open, before, after);
	}
	for (uint32_t i = 0; i < open; i++)
		tg_close(&conns[i]);
	free(conns);
	return rc;
}

static int
tg_load(void)
{
	uint32_t n = tg_opt.conns;
	pthread_t *threads = calloc(n, sizeof(*threads));
	double cpu0, cpu1, self0, wall;
	uint64_t start = tg_now();

	if (threads == NULL)
		return -1;
	tg_measure = start + (uint64_t)(tg_opt.warmup * 1e9);
	tg_end = tg_measure + (uint64_t)(tg_opt.seconds * 1e9);
	for (uint32_t i = 0; i < n; i++)
		pthread_create(&threads[i], NULL,
		    tg_opt.mode == TG_PING ? tg_ping : tg_churn, NULL);
	while (tg_now() < tg_measure)
		usleep(1000);
	cpu0 = tg_server_cpu();
	self0 = procstat_self_cpu();
	while (tg_now() < tg_end)
		usleep(1000);
	cpu1 = tg_server_cpu();
	wall = (double)(tg_now() - tg_measure) / 1e9;
	for (uint32_t i = 0; i < n; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	if (tg_failed)
		return -1;
	printf("{\"mode\": \"%s\", \"conns\": %u, \"replies\": %llu, "
	       "\"sessions\": %llu, \"wall\": %.3f, \"server_cpu\": %.4f, "
	       "\"loadgen_cpu\": %.4f}\n",
	    tg_opt.mode == TG_PING ? "ping" : "churn", n,
	    (unsigned long long)tg_replies, (unsigned long long)tg_sessions,
	    wall, tg_opt.npids > 0 ? cpu1 - cpu0 : -1.0,
	    procstat_self_cpu() - self0);
	return 0;
}

static double
tg_seconds(const char *s)
{
	char *end;
	double v = strtod(s, &end);

	if (*s == '\0' || *end != '\0' || !(v >= 0 && v <= 3600))
		tg_usage();
	return v;
}

static unsigned long
tg_count(const char *s, unsigned long max)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);

	if (*s == '\0' || *end != '\0' || v < 1 || v > max)
		tg_usage();
	return v;
}

static void
tg_parse(int argc, char **argv)
{
	int opt;

	tg_opt.warmup = 1;
	tg_opt.seconds = 5;
	tg_opt.mode = TG_PING;
	while ((opt = getopt(argc, argv, "p:m:c:w:t:P:")) != -1) {
		switch (opt) {
		case 'p':
			tg_opt.port = (int)tg_count(optarg, 65535);
			break;
		case 'm':
			if (strcmp(optarg, "ping") == 0)
				tg_opt.mode = TG_PING;
			else if (strcmp(optarg, "churn") == 0)
				tg_opt.mode = TG_CHURN;
			else if (strcmp(optarg, "idle") == 0)
				tg_opt.mode = TG_IDLE;
			else
				tg_usage();
			break;
		case 'c':
			tg_opt.conns = (uint32_t)tg_count(optarg, 100000);
			break;
		case 'w':
			tg_opt.warmup = tg_seconds(optarg);
			break;
		case 't':
			tg_opt.seconds = tg_seconds(optarg);
			break;
		case 'P':
			if (tg_opt.npids == TG_MAX_PIDS)
				tg_usage();
			tg_opt.pids[tg_opt.npids++] =
			    (pid_t)tg_count(optarg, 1 << 30);
			break;
		default:
			tg_usage();
		}
	}
	if (tg_opt.conns == 0)
		tg_opt.conns = tg_opt.mode == TG_PING ? 50
		    : tg_opt.mode == TG_CHURN	      ? 8
						      : 1000;
	if (optind != argc || tg_opt.port == 0 ||
	    (tg_opt.mode != TG_IDLE && tg_opt.conns > TG_MAX_THREADS) ||
	    (tg_opt.mode == TG_IDLE && tg_opt.npids == 0))
		tg_usage();
}

int
main(int argc, char **argv)
{
	struct rlimit rl;
	int rc;

	tg_parse(argc, argv);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* The bench's own certificate: checking it would measure nothing. */
	if ((tg_ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		fprintf(stderr, "tlsgen: cannot set up TLS\n");
		return 1;
	}
	SSL_CTX_set_verify(tg_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(tg_ctx, SSL_SESS_CACHE_OFF);
	rc = tg_opt.mode == TG_IDLE ? tg_idle() : tg_load();
	SSL_CTX_free(tg_ctx);
	if (rc == -1) {
		fprintf(stderr, "tlsgen: %s\n",
		    tg_failed ? tg_error : "out of memory");
		return 1;
	}
	return 0;
}
