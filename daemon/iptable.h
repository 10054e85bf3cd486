/*
 * Open connections per client address, for max_clients_per_ip: a small
 * open-addressing hash table keyed by the address without its port.
 */
#ifndef HELLOD_IPTABLE_H
#define HELLOD_IPTABLE_H

#include "net.h"

struct iptable;

struct iptable *iptable_new(void);
void iptable_free(struct iptable *t);
unsigned iptable_count(const struct iptable *t, const union net_addr *addr);
int iptable_add(struct iptable *t, const union net_addr *addr);
void iptable_remove(struct iptable *t, const union net_addr *addr);

#endif
