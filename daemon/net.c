#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The numeric host alone: "1.2.3.4" or "::1". */
const char *
net_host(const union net_addr *addr, char *buf, size_t len)
{
	/* IPv4 has no scope to name, and inet_ntop() is the cheaper call. */
	if (addr->sa.sa_family == AF_INET &&
	    inet_ntop(AF_INET, &addr->sin.sin_addr, buf, (socklen_t)len) !=
		NULL)
		return buf;
	if (getnameinfo(&addr->sa, sizeof(*addr), buf, (socklen_t)len, NULL, 0,
		NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* Formats "1.2.3.4:80" or "[::1]:80". */
const char *
net_format(const union net_addr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + 16];

	net_host(addr, host, sizeof(host));
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

/* Parses "1.2.3.4:80" or "[::1]:80", numeric only; port 1 to 65535. */
int
net_parse_endpoint(const char *text, union net_addr *addr)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	const char *start = text, *end = colon;
	char *tail;
	long port;

	if (colon == NULL)
		return -1;
	if (text[0] == '[') {
		if (colon == text || colon[-1] != ']')
			return -1;
		start = text + 1;
		end = colon - 1;
	} else if (memchr(text, ':', (size_t)(colon - text)) != NULL) {
		return -1; /* an IPv6 address needs its brackets */
	}
	if (end <= start || (size_t)(end - start) >= sizeof(host))
		return -1;
	memcpy(host, start, (size_t)(end - start));
	host[end - start] = '\0';
	errno = 0;
	port = strtol(colon + 1, &tail, 10);
	if (errno != 0 || tail == colon + 1 || *tail != '\0' || port < 1 ||
	    port > 65535)
		return -1;
	return net_resolve(host, (int)port, addr);
}
