#include "net.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <string.h>

/* Formats "1.2.3.4:80" or "[::1]:80". */
const char *
net_format(const union net_addr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + 16];

	if (getnameinfo(&addr->sa, sizeof(*addr), host, sizeof(host), NULL, 0,
		NI_NUMERICHOST) != 0)
		snprintf(host, sizeof(host), "?");
	snprintf(buf, len, addr->sa.sa_family == AF_INET6 ? "[%s]:%d" : "%s:%d",
	    host, net_port(addr));
	return buf;
}

/* Resolves a numeric address; never touches DNS. */
int
net_resolve(const char *host, int port, union net_addr *addr)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM };
	struct addrinfo *res;

	if (getaddrinfo(host, NULL, &hints, &res) != 0)
		return -1;
	memset(addr, 0, sizeof(*addr));
	memcpy(addr, res->ai_addr,
	    res->ai_addrlen < sizeof(*addr) ? res->ai_addrlen : sizeof(*addr));
	freeaddrinfo(res);
	if (addr->sa.sa_family == AF_INET)
		addr->sin.sin_port = htons((uint16_t)port);
	else
		addr->sin6.sin6_port = htons((uint16_t)port);
	return 0;
}

bool
net_same_host(const union net_addr *a, const union net_addr *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr,
		   sizeof(a->sin6.sin6_addr)) == 0 &&
	    a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
}

int
net_port(const union net_addr *addr)
{
	return ntohs(addr->sa.sa_family == AF_INET ? addr->sin.sin_port
						   : addr->sin6.sin6_port);
}
