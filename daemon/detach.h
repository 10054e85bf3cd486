/*
 * Running as a classic daemon (-d): detach from the terminal, and let the
 * command that started us return only once the daemon is listening, with
 * its error if it could not.
 */
#ifndef HELLOD_DETACH_H
#define HELLOD_DETACH_H

int detach_start(void);
void detach_ready(void);
void detach_fail(const char *msg);

#endif
