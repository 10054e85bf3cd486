/*
 * One client connection, from accept to close.  conn_accept() sets it all
 * up; every way out goes through one close path that logs why.
 */
#ifndef HELLOD_CONN_H
#define HELLOD_CONN_H

#include <stdint.h>
#include <sys/queue.h>

#include "net.h"
#include "stats.h"

struct conn;
struct server;

TAILQ_HEAD(conn_list, conn);

void conn_accept(struct server *srv, int fd, const union net_addr *peer);
void conn_stop_all(struct conn_list *list);
void conn_close_all(struct conn_list *list, enum close_reason reason);
uint64_t conn_sweep_idle(struct conn_list *list, uint64_t now);

#endif
