/* Small socket helpers shared by the listener and the connections. */
#ifndef HELLOD_NET_H
#define HELLOD_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Long enough for "[ipv6%scope]:port". */
#define NET_ADDRSTRLEN (INET6_ADDRSTRLEN + 24)

union net_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
};

const char *net_host(const union net_addr *addr, char *buf, size_t len);
const char *net_format(const union net_addr *addr, char *buf, size_t len);
int net_resolve(const char *host, int port, union net_addr *addr);
int net_parse_endpoint(const char *text, union net_addr *addr);
bool net_same_host(const union net_addr *a, const union net_addr *b);
int net_port(const union net_addr *addr);
void net_key(const union net_addr *addr, unsigned char key[16]);
uint64_t net_hash_key(const unsigned char key[16]);

#endif
