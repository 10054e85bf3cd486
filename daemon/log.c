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

/*
 * A loop's lines wait here for a few milliseconds (see loop_run()), and
 * leave in one write: under churn every connection logs twice.  A batch stays
 * within PIPE_BUF, so batches from several threads sharing a pipe to the
 * journal never interleave.  Syslog takes its lines one by one.
 *
 * Every line is built in place at the batch's end, so it is copied once,
 * by the kernel; a thread that does not hold its lines writes each at once.
 */
#define LOG_LINE_MAX 1536

struct log_line {
	enum log_level level;
	bool json;
	char *buf;
	size_t n;
};

static _Thread_local void (*log_held)(void *);
static _Thread_local void *log_held_arg;
static _Thread_local char log_batch[PIPE_BUF];
static _Thread_local size_t log_batched;
static _Thread_local struct log_line log_current;

void
log_flush(void)
{
	if (log_batched > 0)
		fwrite(log_batch, 1, log_batched, stderr);
	log_batched = 0;
}

/*
 * From now on this thread's lines wait for log_flush(), and first(arg)
 * runs when a line comes to an empty batch; with NULL, no longer.
 */
void
log_hold(void (*first)(void *), void *arg)
{
	log_flush();
	log_held = first;
	log_held_arg = arg;
}

/*
 * Appends k bytes, cut where the line is full: room stays for "}\n".  Most
 * pieces are literals, whose copy the compiler makes inline.
 */
static inline void
log_cat(struct log_line *l, const char *src, size_t k)
{
	if (k > LOG_LINE_MAX - 2 - l->n)
		k = LOG_LINE_MAX - 2 - l->n;
	memcpy(l->buf + l->n, src, k);
	l->n += k;
}

static void
log_str0(struct log_line *l, const char *src)
{
	log_cat(l, src, strlen(src));
}

/* A text value a reader could misparse: it is written quoted. */
static bool
log_needs_quotes(const char *value)
{
	for (; *value != '\0'; value++) {
		unsigned char ch = (unsigned char)*value;
		if (ch <= 0x20 || ch >= 0x7f || ch == '"' || ch == '\\' ||
		    ch == '=')
			return true;
	}
	return false;
}

/*
 * Appends text quoted: as a JSON string, or for the text format with
 * anything but printable ASCII, the quote and the backslash written as
 * \xNN, so a value from a client (a certificate's subject) cannot forge
 * fields or lines.
 */
static void
log_quoted(struct log_line *l, const char *text, bool json)
{
	static const char hex[] = "0123456789abcdef";

	log_cat(l, "\"", 1);
	for (; *text != '\0' && l->n + 8 < LOG_LINE_MAX; text++) {
		unsigned char ch = (unsigned char)*text;
		char esc[6] = { '\\', 'x', hex[ch >> 4], hex[ch & 0xf] };
		bool special = ch < 0x20 || ch == '"' || ch == '\\';
		if (!special && (json || ch < 0x7f)) {
			l->buf[l->n++] = (char)ch;
		} else if (!json) {
			log_cat(l, esc, 4);
		} else if (ch >= 0x20) {
			esc[1] = (char)ch;
			log_cat(l, esc, 2);
		} else {
			memcpy(esc + 1, "u00", 3);
			esc[4] = hex[ch >> 4];
			esc[5] = hex[ch & 0xf];
			log_cat(l, esc, 6);
		}
	}
	log_cat(l, "\"", 1);
}

/*
 * The date and time change once a second, so each thread formats them once
 * a second, and every line only adds its milliseconds: local time for a
 * person reading stderr, UTC in JSON.
 */
static void
log_stamp(struct log_line *l, bool utc)
{
	static _Thread_local time_t sec[2] = { -1, -1 };
	static _Thread_local char stamp[2][32];
	static _Thread_local size_t len[2];
	struct timespec now;
	struct tm tm;
	long ms;
	char frac[4];

	clock_gettime(CLOCK_REALTIME, &now);
	if (now.tv_sec != sec[utc]) {
		if (utc)
			gmtime_r(&now.tv_sec, &tm);
		else
			localtime_r(&now.tv_sec, &tm);
		len[utc] = strftime(stamp[utc], sizeof(stamp[utc]),
		    utc ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
		sec[utc] = now.tv_sec;
	}
	ms = now.tv_nsec / 1000000;
	frac[0] = '.';
	frac[1] = (char)('0' + ms / 100);
	frac[2] = (char)('0' + ms / 10 % 10);
	frac[3] = (char)('0' + ms % 10);
	log_cat(l, stamp[utc], len[utc]);
	log_cat(l, frac, sizeof(frac));
}

/*
 * Starts a line at the batch's end: the journal's "<N>" priority, then the
 * text stamp or the JSON object's first members.  Syslog and the journal
 * stamp lines themselves.
 */
static struct log_line *
log_open(enum log_level level)
{
	struct log_line *l = &log_current;

	if (sizeof(log_batch) - log_batched < LOG_LINE_MAX)
		log_flush();
	l->level = level;
	l->json = log_is_json();
	l->buf = log_batch + log_batched;
	l->n = 0;
	if (log_journal && !log_syslog) {
		char prio[3] = { '<', (char)('0' + log_priorities[level]),
			'>' };
		log_cat(l, prio, sizeof(prio));
	}
	if (l->json) {
		log_cat(l, "{\"time\":\"", 9);
		log_stamp(l, true);
		log_cat(l, "Z\",\"level\":\"", 12);
		log_str0(l, log_names[level]);
		log_cat(l, "\"", 1);
	} else if (!log_syslog && !log_journal) {
		log_stamp(l, false);
		log_cat(l, " ", 1);
		log_str0(l, log_names[level]);
		log_cat(l, ": ", 2);
	}
	return l;
}

/* Ends the line: into the batch, out at once, or to syslog. */
void
log_end(struct log_line *l)
{
	if (l->json)
		l->buf[l->n++] = '}';
	if (log_syslog) {
		l->buf[l->n] = '\0';
		syslog(log_priorities[l->level], "%s", l->buf);
		return;
	}
	l->buf[l->n++] = '\n';
	if (log_held == NULL) {
		fwrite(l->buf, 1, l->n, stderr);
		return;
	}
	if (log_batched == 0)
		log_held(log_held_arg);
	log_batched += l->n;
}

static void
log_text_or_json(enum log_level level, const char *msg)
{
	struct log_line *l = log_open(level);

	if (l->json) {
		log_cat(l, ",\"msg\":", 7);
		log_quoted(l, msg, true);
	} else {
		log_str0(l, msg);
	}
	log_end(l);
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
	time_t now;
	bool same;

	/* Under churn, the info lines of every session pass here. */
	if (level > LOG_LEVEL_WARNING && log_dropped == 0)
		return false;
	now = time(NULL);
	same = fmt == log_last_fmt && now == log_last_sec;

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
	static const char pairs[] = "00010203040506070809"
				    "10111213141516171819"
				    "20212223242526272829"
				    "30313233343536373839"
				    "40414243444546474849"
				    "50515253545556575859"
				    "60616263646566676869"
				    "70717273747576777879"
				    "80818283848586878889"
				    "90919293949596979899";
	char tmp[20];
	size_t n = sizeof(tmp);

	for (; v >= 100; v /= 100) {
		n -= 2;
		memcpy(tmp + n, pairs + v % 100 * 2, 2);
	}
	if (v >= 10) {
		n -= 2;
		memcpy(tmp + n, pairs + v * 2, 2);
	} else {
		tmp[--n] = (char)('0' + v);
	}
	memcpy(dst, tmp + n, sizeof(tmp) - n);
	return sizeof(tmp) - n;
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
 * A structured event, built field by field where it is written: "event
 * key=value ..." in text, one JSON object with the same keys in JSON.  NULL
 * when the level is off.  The close line is one per session, so neither
 * printf nor a copy of the finished line is on its way.
 */
struct log_line *
log_begin(enum log_level level, const char *event)
{
	struct log_line *l;

	if (!log_is_enabled(level) || log_flooded(level, event))
		return NULL;
	l = log_open(level);
	if (l->json) {
		log_cat(l, ",\"event\":\"", 10);
		log_str0(l, event);
		log_cat(l, "\"", 1);
	} else {
		log_str0(l, event);
	}
	return l;
}

/* " key=" in text, ,"key": in JSON; one piece, so one bounds check. */
static void
log_key(struct log_line *l, const char *key, size_t len)
{
	char *p = l->buf + l->n;

	if (len > LOG_LINE_MAX - 6 - l->n)
		return;
	if (l->json) {
		p[0] = ',';
		p[1] = '"';
		memcpy(p + 2, key, len);
		p[len + 2] = '"';
		p[len + 3] = ':';
		l->n += len + 4;
	} else {
		p[0] = ' ';
		memcpy(p + 1, key, len);
		p[len + 1] = '=';
		l->n += len + 2;
	}
}

/* A text value, already escaped by the caller for a text line. */
void
log_field_str(struct log_line *l, const char *key, size_t len,
    const char *value)
{
	log_key(l, key, len);
	if (l->json || log_needs_quotes(value))
		log_quoted(l, value, l->json);
	else
		log_str0(l, value);
}

void
log_field_u64(struct log_line *l, const char *key, size_t len, uint64_t v)
{
	char digits[20];

	log_key(l, key, len);
	log_cat(l, digits, log_digits(digits, v));
}

/* Milliseconds as seconds with three decimals: "duration=1.250". */
void
log_field_millis(struct log_line *l, const char *key, size_t len, uint64_t ms)
{
	char digits[24];
	size_t n = log_digits(digits, ms / 1000);

	digits[n++] = '.';
	digits[n++] = (char)('0' + ms % 1000 / 100);
	digits[n++] = (char)('0' + ms % 100 / 10);
	digits[n++] = (char)('0' + ms % 10);
	log_key(l, key, len);
	log_cat(l, digits, n);
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
