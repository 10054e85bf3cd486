/* Running an event loop, a turn at a time. */
#ifndef HELLOD_LOOP_H
#define HELLOD_LOOP_H

#include <event2/event.h>

int loop_run(struct event_base *base);

#endif
