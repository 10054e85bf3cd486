#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

/* Set by the main thread on reload, read by every loop. */
static _Atomic int log_threshold = LOG_LEVEL_INFO;
static bool log_syslog;
static bool log_journal;

static const char *const log_names[] = {
	[LOG_LEVEL_ERROR] = "error",
	[LOG_LEVEL_WARNING] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

void
log_set_level(enum log_level level)
{
	atomic_store_explicit(&log_threshold, (int)level, memory_order_relaxed);
}

/* A detached daemon has no stderr worth writing to. */
void
log_to_syslog(const char *ident)
{
	openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_syslog = true;
}

/*
 * Under systemd, stderr is a stream to the journal when JOURNAL_STREAM
 * names it ("device:inode").  The journal stamps lines itself and reads a
 * "<N>" prefix as the syslog priority, so levels survive.
 */
void
log_detect_journal(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (env == NULL || sscanf(env, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return;
	log_journal = (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

int
log_is_enabled(enum log_level level)
{
	return (int)level <=
	    atomic_load_explicit(&log_threshold, memory_order_relaxed);
}

static const int log_priorities[] = {
	[LOG_LEVEL_ERROR] = LOG_ERR,
	[LOG_LEVEL_WARNING] = LOG_WARNING,
	[LOG_LEVEL_INFO] = LOG_INFO,
	[LOG_LEVEL_DEBUG] = LOG_DEBUG,
};

/* Stamps the line for stderr; syslog stamps its own. */
static size_t
log_prefix(char *line, size_t len, enum log_level level)
{
	struct timespec now;
	struct tm tm;
	size_t n;

	clock_gettime(CLOCK_REALTIME, &now);
	localtime_r(&now.tv_sec, &tm);
	n = strftime(line, len, "%Y-%m-%d %H:%M:%S", &tm);
	n += (size_t)snprintf(line + n, len - n,
	    ".%03ld %s: ", now.tv_nsec / 1000000, log_names[level]);
	return n;
}

/*
 * One write per line, so lines from concurrent writers to the same stderr
 * never interleave.
 */
static void log_emit(enum log_level level, const char *errstr, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n = 0;

	if (!log_is_enabled(level))
		return;
	if (log_journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>",
		    log_priorities[level]);
	else if (!log_syslog)
		n = log_prefix(line, sizeof(line), level);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	n = m < 0 ? n : n + (size_t)m;
	if (errstr != NULL && n < sizeof(line))
		n += (size_t)snprintf(line + n, sizeof(line) - n, ": %s",
		    errstr);
	if (n > sizeof(line) - 2)
		n = sizeof(line) - 2;
	if (log_syslog) {
		line[n] = '\0';
		syslog(log_priorities[level], "%s", line);
		return;
	}
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}

#define LOG_DEFINE(name, level, with_errno)                               \
	void name(const char *fmt, ...)                                   \
	{                                                                 \
		const char *errstr = with_errno ? strerror(errno) : NULL; \
		va_list ap;                                               \
		va_start(ap, fmt);                                        \
		log_emit(level, errstr, fmt, ap);                         \
		va_end(ap);                                               \
	}

LOG_DEFINE(log_warn, LOG_LEVEL_WARNING, 1)
LOG_DEFINE(log_warnx, LOG_LEVEL_WARNING, 0)
LOG_DEFINE(log_error, LOG_LEVEL_ERROR, 0)
LOG_DEFINE(log_info, LOG_LEVEL_INFO, 0)
LOG_DEFINE(log_debug, LOG_LEVEL_DEBUG, 0)

/*
 * Copies client bytes for a log line: printable ASCII as is, everything else
 * (control bytes, DEL, non-ASCII, backslash) as a \xNN escape, so no client
 * can write to a terminal or forge a log line.  Always NUL-terminates;
 * returns the length written.
 */
size_t
log_escape(char *dst, size_t dstlen, const char *src, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t n = 0;

	if (dstlen == 0)
		return 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)src[i];
		if (ch >= 0x20 && ch < 0x7f && ch != '\\') {
			if (n + 1 >= dstlen)
				break;
			dst[n++] = (char)ch;
		} else {
			if (n + 4 >= dstlen)
				break;
			dst[n++] = '\\';
			dst[n++] = 'x';
			dst[n++] = hex[ch >> 4];
			dst[n++] = hex[ch & 0xf];
		}
	}
	dst[n] = '\0';
	return n;
}
