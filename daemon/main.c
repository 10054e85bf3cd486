/* hellod: command line and process lifecycle. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>

#include "build_config.h"
#include "config.h"
#include "detach.h"
#include "log.h"
#include "loop.h"
#include "master.h"
#include "notify.h"
#include "pidfile.h"
#include "privs.h"

/* Exit codes, as the man page documents them. */
enum {
	EXIT_OK = 0,
	EXIT_ERROR = 1, /* bad config, cannot listen, runtime failure */
	EXIT_USAGE = 2, /* bad command line */
};

/* Descriptors kept for hellod itself: listeners, the event loop, logs. */
#define RESERVED_FDS 32

struct options {
	const char *config;
	int port; /* -1: the file's */
	bool test_only;
	bool detach;
};

static void
usage(FILE *out)
{
	fprintf(out,
	    "usage: hellod [-c FILE] [-p PORT] [-t] [-d] [-V] [-h]\n"
	    "  -c, --config FILE   configuration file (default %s)\n"
	    "  -p, --port PORT     listen on PORT instead of the file's port "
	    "(0: any free port)\n"
	    "  -t, --test-config   check the configuration and exit\n"
	    "  -d, --daemon        detach and log to syslog\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n",
	    HELLOD_DEFAULT_CONFIG);
}

static int
parse_port(const char *arg)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno != 0 || end == arg || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

/* Returns -1 to go on, or the exit code when the command is done. */
static int
parse_options(int argc, char **argv, struct options *opt)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "port", required_argument, NULL, 'p' },
		{ "test-config", no_argument, NULL, 't' },
		{ "daemon", no_argument, NULL, 'd' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	opterr = 0;
	while (
	    (ch = getopt_long(argc, argv, ":c:p:tdVh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c':
			opt->config = optarg;
			break;
		case 'p':
			if ((opt->port = parse_port(optarg)) == -1) {
				fprintf(stderr,
				    "hellod: --port: '%s' is not a port "
				    "number (0 to 65535)\n",
				    optarg);
				return EXIT_USAGE;
			}
			break;
		case 't':
			opt->test_only = true;
			break;
		case 'd':
			opt->detach = true;
			break;
		case 'V':
			printf("hellod %s\n", HELLOD_VERSION);
			return EXIT_OK;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case ':':
			fprintf(stderr,
			    "hellod: %s needs an argument; see "
			    "hellod --help\n",
			    argv[optind - 1]);
			return EXIT_USAGE;
		default:
			fprintf(stderr,
			    "hellod: unknown option '%s'; see "
			    "hellod --help\n",
			    argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr,
		    "hellod: unexpected argument '%s'; see hellod --help\n",
		    argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	log_info("received SIG%s", sigabbrev_np((int)sig));
	master_stop(arg);
}

static void
on_stats_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	master_log_stats(arg);
}

static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	(void)sig;
	(void)what;
	master_reload(arg);
}

/*
 * Raises the open file limit as far as the hard limit allows and returns
 * how many clients it leaves room for.
 */
static size_t
raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return SIZE_MAX;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t soft = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			rl.rlim_cur = soft;
	}
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > SIZE_MAX)
		return SIZE_MAX;
	return rl.rlim_cur > RESERVED_FDS ? (size_t)rl.rlim_cur - RESERVED_FDS
					  : 1;
}

static int
serve(struct config *cfg, const struct options *opt)
{
	static const struct {
		int sig;
		event_callback_fn cb;
	} handlers[] = {
		{ SIGTERM, on_stop_signal },
		{ SIGINT, on_stop_signal },
		{ SIGHUP, on_reload_signal },
		{ SIGUSR1, on_stats_signal },
	};
	enum { NSIGNALS = sizeof(handlers) / sizeof(handlers[0]) };
	struct event *ev_signals[NSIGNALS] = { NULL };
	struct event_base *base = event_base_new();
	struct master *m = NULL;
	char err[512];
	int rc = EXIT_ERROR;

	if (base == NULL ||
	    (m = master_new(base, cfg, opt->port, raise_fd_limit())) == NULL) {
		snprintf(err, sizeof(err),
		    "cannot start the event loop: out of memory");
		goto done;
	}
	for (size_t i = 0; i < NSIGNALS; i++) {
		ev_signals[i] =
		    evsignal_new(base, handlers[i].sig, handlers[i].cb, m);
		if (ev_signals[i] == NULL ||
		    event_add(ev_signals[i], NULL) == -1) {
			snprintf(err, sizeof(err), "cannot watch SIG%s",
			    sigabbrev_np(handlers[i].sig));
			goto done;
		}
	}
	if (master_listen(m, err, sizeof(err)) == -1 ||
	    privs_drop(cfg, err, sizeof(err)) == -1 ||
	    master_start(m, err, sizeof(err)) == -1)
		goto done;
	log_info("hellod %s ready (%s framing, config %s)", HELLOD_VERSION,
	    config_framing_name(cfg->framing), cfg->path);
	detach_ready();
	if (loop_run(base) == -1) {
		snprintf(err, sizeof(err), "event loop failed");
		goto done;
	}
	master_log_drain(m);
	master_free(m);
	m = NULL;
	log_info("stopped");
	rc = EXIT_OK;
done:
	if (rc != EXIT_OK) {
		log_error("%s", err);
		detach_fail(err);
	}
	master_free(m);
	for (size_t i = 0; i < NSIGNALS; i++)
		if (ev_signals[i] != NULL)
			event_free(ev_signals[i]);
	if (base != NULL)
		event_base_free(base);
	return rc;
}

/* The pidfile and the service manager's socket around serving. */
static int
run(struct config *cfg, const struct options *opt)
{
	struct pidfile *pf = NULL;
	char err[512];
	int rc;

	if ((cfg->pidfile[0] != '\0' &&
		(pf = pidfile_create(cfg->pidfile, err, sizeof(err))) ==
		    NULL) ||
	    notify_open(err, sizeof(err)) == -1) {
		log_error("%s", err);
		detach_fail(err);
		pidfile_remove(pf);
		return EXIT_ERROR;
	}
	rc = serve(cfg, opt);
	notify_close();
	pidfile_remove(pf);
	return rc;
}

/*
 * Detaches, logging to syslog from then on.  The config is loaded again by
 * its absolute path, since the daemon runs in / and SIGHUP re-reads it.
 * Returns -1 in the daemon, or the exit code when detaching failed.
 */
static int
daemonize(struct config **cfg)
{
	char path[PATH_MAX], err[512];
	struct config *abs;

	if (realpath((*cfg)->path, path) == NULL) {
		fprintf(stderr, "hellod: %s: %s\n", (*cfg)->path,
		    strerror(errno));
		return EXIT_ERROR;
	}
	if ((abs = config_load(path, err, sizeof(err))) == NULL) {
		fprintf(stderr, "hellod: %s\n", err);
		return EXIT_ERROR;
	}
	config_unref(*cfg);
	*cfg = abs;
	if (detach_start() == -1) {
		fprintf(stderr, "hellod: cannot detach: %s\n", strerror(errno));
		return EXIT_ERROR;
	}
	log_to_syslog("hellod");
	return -1;
}

int
main(int argc, char **argv)
{
	struct options opt = { .config = HELLOD_DEFAULT_CONFIG, .port = -1 };
	struct config *cfg;
	char err[512];
	int rc;

	if ((rc = parse_options(argc, argv, &opt)) != -1)
		return rc;
	if ((cfg = config_load(opt.config, err, sizeof(err))) == NULL) {
		fprintf(stderr, "hellod: %s\n", err);
		return EXIT_ERROR;
	}
	if (opt.test_only) {
		printf("hellod: %s: configuration is valid\n", opt.config);
		config_unref(cfg);
		return EXIT_OK;
	}
	if (opt.detach && (rc = daemonize(&cfg)) != -1) {
		config_unref(cfg);
		return rc;
	}
	/* A client that vanishes must cost an EPIPE, not the process. */
	signal(SIGPIPE, SIG_IGN);
	log_set_level((enum log_level)cfg->log_level);
	log_set_format((enum log_format)cfg->log_format);
	if (!opt.detach)
		log_detect_journal();
	rc = run(cfg, &opt);
	config_unref(cfg);
	return rc;
}
