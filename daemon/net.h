/* Small socket helpers shared by the listener and the connections. */
#ifndef HELLOD_NET_H
#define HELLOD_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/un.h>

/* Long enough for "[ipv6%scope]:port" and "unix:" with a whole path. */
#define NET_ADDRSTRLEN 128

/*
 * An IPv4, IPv6 or UNIX-socket address.  A UNIX one is a path, or with a
 * NUL first a name in the abstract namespace, "unix:@name" in the config
 * and the log; its unused bytes are zero, so two compare as bytes.
 */
union net_addr {
	struct sockaddr sa;
	struct sockaddr_in sin;
	struct sockaddr_in6 sin6;
	struct sockaddr_un sun;
};

const char *net_host(const union net_addr *addr, char *buf, size_t len);
const char *net_format(const union net_addr *addr, char *buf, size_t len);
int net_resolve(const char *host, int port, union net_addr *addr);
int net_parse_endpoint(const char *text, union net_addr *addr);
bool net_same_host(const union net_addr *a, const union net_addr *b);
int net_port(const union net_addr *addr);
socklen_t net_len(const union net_addr *addr);
bool net_is_path(const union net_addr *addr);
void net_key(const union net_addr *addr, unsigned char key[16]);
uint64_t net_hash_key(const unsigned char key[16]);

#endif
