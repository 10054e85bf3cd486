#include "log.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
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

/* A flood of one warning is cut to this many lines a second. */
#define LOG_BURST 5

/* Set by the main thread, read by every loop. */
static _Atomic int log_format_now = LOG_FORMAT_TEXT;

void
log_set_format(enum log_format format)
{
	atomic_store_explicit(&log_format_now, (int)format,
	    memory_order_relaxed);
}

static bool
log_is_json(void)
{
	return atomic_load_explicit(&log_format_now, memory_order_relaxed) ==
	    LOG_FORMAT_JSON;
}

/* Appends src at n, within len; returns the new length. */
static size_t
log_put(char *dst, size_t len, size_t n, const char *src)
{
	size_t k = strlen(src);

	if (n >= len)
		return n;
	if (k > len - n - 1)
		k = len - n - 1;
	memcpy(dst + n, src, k);
	dst[n + k] = '\0';
	return n + k;
}

/*
 * Stamps a text line for stderr; syslog and the journal stamp their own.
 * The date and time change once a second, so each thread formats them
 * once a second, and every line only adds its milliseconds.
 */
static size_t
log_prefix(char *line, size_t len, enum log_level level)
{
	static _Thread_local time_t sec = -1;
	static _Thread_local char stamp[32];
	struct timespec now;
	long ms;
	char frac[6];

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != sec) {
		struct tm tm;
		localtime_r(&now.tv_sec, &tm);
		if (strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S", &tm) ==
		    0)
			stamp[0] = '\0';
		sec = now.tv_sec;
	}
	ms = now.tv_nsec / 1000000;
	frac[0] = '.';
	frac[1] = (char)('0' + ms / 100);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	frac[4] = ' ';
	frac[5] = '\0';
	return log_put(line, len,
	    log_put(line, len,
		log_put(line, len, log_put(line, len, 0, stamp), frac),
		log_names[level]),
	    ": ");
}

/*
 * A loop's lines wait here for a few milliseconds (see loop_run()), and
 * leave in one write: under churn every connection logs twice.  A batch stays
 * within PIPE_BUF, so batches from several threads sharing a pipe to the
 * journal never interleave.  Syslog takes its lines one by one.
 */
static _Thread_local bool log_held;
static _Thread_local char log_batch[PIPE_BUF];
static _Thread_local size_t log_batched;

void
log_flush(void)
{
	if (log_batched > 0)
		fwrite(log_batch, 1, log_batched, stderr);
	log_batched = 0;
}

/* Whether this thread has lines waiting for log_flush(). */
bool
log_held_lines(void)
{
	return log_batched > 0;
}

/* From now on this thread's lines wait for log_flush(); or no longer. */
void
log_hold(bool hold)
{
	log_flush();
	log_held = hold;
}

static void
log_write(const char *line, size_t n)
{
	if (!log_held || n > sizeof(log_batch)) {
		fwrite(line, 1, n, stderr);
		return;
	}
	if (log_batched + n > sizeof(log_batch))
		log_flush();
	memcpy(log_batch + log_batched, line, n);
	log_batched += n;
}

/* Writes one finished line, in one write or one batch. */
static void
log_output(enum log_level level, const char *body)
{
	char line[1536];
	size_t n = 0;

	if (log_syslog) {
		syslog(log_priorities[level], "%s", body);
		return;
	}
	if (log_journal)
		n = (size_t)snprintf(line, sizeof(line), "<%d>",
		    log_priorities[level]);
	else if (!log_is_json())
		n = log_prefix(line, sizeof(line), level);
	n = log_put(line, sizeof(line) - 1, n, body);
	line[n++] = '\n';
	log_write(line, n);
}

/* Appends text as a JSON string, quotes included. */
static size_t
log_json_string(char *out, size_t len, size_t n, const char *text)
{
	if (n + 1 < len)
		out[n++] = '"';
	for (; *text != '\0' && n + 7 < len; text++) {
		unsigned char ch = (unsigned char)*text;
		if (ch == '"' || ch == '\\') {
			out[n++] = '\\';
			out[n++] = (char)ch;
		} else if (ch < 0x20) {
			n += (size_t)snprintf(out + n, len - n, "\\u%04x", ch);
		} else {
			out[n++] = (char)ch;
		}
	}
	if (n + 1 < len)
		out[n++] = '"';
	out[n < len ? n : len - 1] = '\0';
	return n;
}

/* {"time":"...","level":"...", the caller's members follow. */
static size_t
log_json_head(char *out, size_t len, enum log_level level)
{
	struct timespec now;
	struct tm tm;
	char stamp[40];

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
	return (size_t)snprintf(out, len,
	    "{\"time\":\"%s.%03ldZ\",\"level\":\"%s\"", stamp,
	    now.tv_nsec / 1000000, log_names[level]);
}

static void
log_text_or_json(enum log_level level, const char *msg)
{
	char json[1280];
	size_t n;

	if (!log_is_json()) {
		log_output(level, msg);
		return;
	}
	n = log_json_head(json, sizeof(json), level);
	n += (size_t)snprintf(json + n, sizeof(json) - n, ",\"msg\":");
	n = log_json_string(json, sizeof(json) - 1, n, msg);
	snprintf(json + n, sizeof(json) - n, "}");
	log_output(level, json);
}

/* Per thread, so the loops never contend. */
static _Thread_local const char *log_last_fmt;
static _Thread_local time_t log_last_sec;
static _Thread_local unsigned log_count, log_dropped;

static void
log_report_dropped(void)
{
	char note[96];

	if (log_dropped == 0)
		return;
	snprintf(note, sizeof(note), "%u similar messages suppressed",
	    log_dropped);
	log_dropped = 0;
	log_text_or_json(LOG_LEVEL_WARNING, note);
}

/*
 * True when this line repeats the same warning too often this second.  A
 * flood ends with its second or with another warning; what it lost is
 * told before the next line of any level, so the count does not wait for
 * another warning to come.
 */
static bool
log_flooded(enum log_level level, const char *fmt)
{
	time_t now = time(NULL);
	bool same = fmt == log_last_fmt && now == log_last_sec;

	if (now != log_last_sec || (level <= LOG_LEVEL_WARNING && !same))
		log_report_dropped();
	if (level > LOG_LEVEL_WARNING)
		return false;
	if (same) {
		if (++log_count <= LOG_BURST)
			return false;
		log_dropped++;
		return true;
	}
	log_last_fmt = fmt;
	log_last_sec = now;
	log_count = 1;
	return false;
}

static void log_emit(enum log_level level, const char *errstr, const char *fmt,
    va_list ap) __attribute__((format(printf, 3, 0)));

static void
log_emit(enum log_level level, const char *errstr, const char *fmt, va_list ap)
{
	char msg[1024];
	int m;

	if (!log_is_enabled(level) || log_flooded(level, fmt))
		return;
	m = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (errstr != NULL && m >= 0 && (size_t)m < sizeof(msg))
		snprintf(msg + m, sizeof(msg) - (size_t)m, ": %s", errstr);
	log_text_or_json(level, msg);
}

/* Decimal digits of v at dst, no terminator; returns how many (at most 20). */
size_t
log_digits(char *dst, uint64_t v)
{
	char tmp[20];
	size_t n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		dst[i++] = tmp[--n];
	return i;
}

/*
 * A message already formatted, for lines on the message path, where
 * printf's cost shows: the connect line is one per session.
 */
void
log_message(enum log_level level, const char *msg)
{
	if (!log_is_enabled(level) || log_flooded(level, msg))
		return;
	log_text_or_json(level, msg);
}

/*
 * A structured event: "event key=value ..." in text, one JSON object with
 * the same keys in JSON.  Values are already escaped by the caller.
 */
void
log_event(enum log_level level, const char *event,
    const struct log_field *fields, size_t n)
{
	char line[1280];
	size_t len;

	if (!log_is_enabled(level) || log_flooded(level, event))
		return;
	if (!log_is_json()) {
		len = log_put(line, sizeof(line), 0, event);
		for (size_t i = 0; i < n; i++) {
			len = log_put(line, sizeof(line), len, " ");
			len = log_put(line, sizeof(line), len, fields[i].key);
			len = log_put(line, sizeof(line), len, "=");
			len = log_put(line, sizeof(line), len, fields[i].value);
		}
		log_output(level, line);
		return;
	}
	len = log_json_head(line, sizeof(line), level);
	len += (size_t)snprintf(line + len, sizeof(line) - len,
	    ",\"event\":\"%s\"", event);
	for (size_t i = 0; i < n && len + 8 < sizeof(line); i++) {
		len += (size_t)snprintf(line + len, sizeof(line) - len,
		    ",\"%s\":", fields[i].key);
		if (fields[i].number)
			len += (size_t)snprintf(line + len, sizeof(line) - len,
			    "%s", fields[i].value);
		else
			len = log_json_string(line, sizeof(line) - 1, len,
			    fields[i].value);
	}
	if (len < sizeof(line) - 1)
		snprintf(line + len, sizeof(line) - len, "}");
	log_output(level, line);
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
