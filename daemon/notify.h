/*
 * The service manager's side channel (sd_notify(3)'s protocol, spoken
 * directly): readiness, reloads, status and the watchdog.  Every call is a
 * no-op when NOTIFY_SOCKET is not set.
 */
#ifndef HELLOD_NOTIFY_H
#define HELLOD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

int notify_open(char *err, size_t errlen);
void notify_close(void);
void notify_send(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void notify_reloading(void);
uint64_t notify_watchdog_usec(void);

#endif
