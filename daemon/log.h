/*
 * Logging in one place.  Helpers report errors to their callers; the caller
 * that can say something useful logs the event, once.
 */
#ifndef HELLOD_LOG_H
#define HELLOD_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_format {
	LOG_FORMAT_TEXT,
	LOG_FORMAT_JSON,
};

enum log_level {
	LOG_LEVEL_ERROR,
	LOG_LEVEL_WARNING,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* A structured event line: log_begin(), its fields, log_end(). */
struct log_line;

void log_set_level(enum log_level level);
void log_set_format(enum log_format format);
struct log_line *log_begin(enum log_level level, const char *event);
void log_field_str(struct log_line *l, const char *key, size_t len,
    const char *value);
void log_field_u64(struct log_line *l, const char *key, size_t len, uint64_t v);
void
log_field_millis(struct log_line *l, const char *key, size_t len, uint64_t ms);
/* Keys are string literals, so their lengths are known where they are used. */
#define log_str(l, key, value) log_field_str(l, key, sizeof(key) - 1, value)
#define log_u64(l, key, v) log_field_u64(l, key, sizeof(key) - 1, v)
#define log_millis(l, key, ms) log_field_millis(l, key, sizeof(key) - 1, ms)
void log_end(struct log_line *l);
void log_message(enum log_level level, const char *msg);
size_t log_digits(char *dst, uint64_t v);
void log_to_syslog(const char *ident);
void log_detect_journal(void);
int log_is_enabled(enum log_level level);
void log_hold(void (*first)(void *), void *arg);
void log_flush(void);

/* log_warn appends strerror(errno); the x forms do not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

size_t log_escape(char *dst, size_t dstlen, const char *src, size_t len);

#endif
