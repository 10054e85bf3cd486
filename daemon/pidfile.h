/*
 * The pidfile of a classic daemon, held under a lock for as long as the
 * daemon runs: the lock, not the file's existence, says it is running, so
 * a stale file left by a crash never stops a new start.
 */
#ifndef HELLOD_PIDFILE_H
#define HELLOD_PIDFILE_H

#include <stddef.h>

struct pidfile;

struct pidfile *pidfile_create(const char *path, char *err, size_t errlen);
void pidfile_remove(struct pidfile *pf);

#endif
