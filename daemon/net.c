#include "net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

/*
 * The numeric host alone: "1.2.3.4" or "::1".  IPv4, every client's
 * address in the log at accept and close, is formatted here without the C
 * library's printf; IPv6 goes through getnameinfo() for its scope.
 */
const char *
net_host(const union net_addr *addr, char *buf, size_t len)
{
	if (addr->sa.sa_family == AF_UNIX)
		return net_format(addr, buf, len);
	if (addr->sa.sa_family == AF_INET && len >= INET_ADDRSTRLEN) {
		const unsigned char *b =
		    (const unsigned char *)&addr->sin.sin_addr;
		size_t n = 0;
		for (int i = 0; i < 4; i++) {
			if (i > 0)
				buf[n++] = '.';
			if (b[i] >= 100)
				buf[n++] = (char)('0' + b[i] / 100);
			if (b[i] >= 10)
				buf[n++] = (char)('0' + b[i] / 10 % 10);
			buf[n++] = (char)('0' + b[i] % 10);
		}
		buf[n] = '\0';
		return buf;
	}
	if (getnameinfo(&addr->sa, sizeof(*addr), buf, (socklen_t)len, NULL, 0,
		NI_NUMERICHOST) != 0)
		snprintf(buf, len, "?");
	return buf;
}

/* "unix:/path", "unix:@name", or "unix" for a peer without a name. */
static const char *
net_format_unix(const union net_addr *addr, char *buf, size_t len)
{
	const char *path = addr->sun.sun_path;
	size_t max = sizeof(addr->sun.sun_path);

	if (path[0] != '\0')
		snprintf(buf, len, "unix:%.*s", (int)strnlen(path, max), path);
	else if (path[1] != '\0')
		snprintf(buf, len, "unix:@%.*s",
		    (int)strnlen(path + 1, max - 1), path + 1);
	else
		snprintf(buf, len, "unix");
	return buf;
}

/*
 * Formats "1.2.3.4:80", "[::1]:80" or "unix:/path"; buf holds
 * NET_ADDRSTRLEN bytes.
 */
const char *
net_format(const union net_addr *addr, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN + 16];
	bool v6 = addr->sa.sa_family == AF_INET6;
	size_t h, n = 0;

	if (addr->sa.sa_family == AF_UNIX)
		return net_format_unix(addr, buf, len);
	net_host(addr, host, sizeof(host));
	h = strlen(host);
	if (len < h + 10) {
		snprintf(buf, len, "%s", host);
		return buf;
	}
	if (v6)
		buf[n++] = '[';
	memcpy(buf + n, host, h);
	n += h;
	if (v6)
		buf[n++] = ']';
	buf[n++] = ':';
	n += log_digits(buf + n, (uint64_t)net_port(addr));
	buf[n] = '\0';
	return buf;
}

/*
 * "unix:/absolute/path" or "unix:@name"; the name must leave room for the
 * terminating NUL a path needs, so both have the same limit.
 */
static int
net_resolve_unix(const char *name, union net_addr *addr)
{
	size_t len = strlen(name);

	memset(addr, 0, sizeof(*addr));
	addr->sun.sun_family = AF_UNIX;
	if (len < 2 || len >= sizeof(addr->sun.sun_path) ||
	    (name[0] != '/' && name[0] != '@'))
		return -1;
	memcpy(addr->sun.sun_path, name, len);
	if (name[0] == '@')
		addr->sun.sun_path[0] = '\0';
	return 0;
}

/* Resolves a numeric address, or a UNIX socket's; never touches DNS. */
int
net_resolve(const char *host, int port, union net_addr *addr)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST | AI_PASSIVE,
		.ai_socktype = SOCK_STREAM };
	struct addrinfo *res;

	if (strncmp(host, "unix:", 5) == 0)
		return net_resolve_unix(host + 5, addr);
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
	if (a->sa.sa_family == AF_UNIX)
		return memcmp(a->sun.sun_path, b->sun.sun_path,
			   sizeof(a->sun.sun_path)) == 0;
	if (a->sa.sa_family == AF_INET)
		return a->sin.sin_addr.s_addr == b->sin.sin_addr.s_addr;
	return memcmp(&a->sin6.sin6_addr, &b->sin6.sin6_addr,
		   sizeof(a->sin6.sin6_addr)) == 0 &&
	    a->sin6.sin6_scope_id == b->sin6.sin6_scope_id;
}

/* The port, or 0 for a UNIX socket. */
int
net_port(const union net_addr *addr)
{
	switch (addr->sa.sa_family) {
	case AF_INET:
		return ntohs(addr->sin.sin_port);
	case AF_INET6:
		return ntohs(addr->sin6.sin6_port);
	default:
		return 0;
	}
}

/* A socket file on disk, as opposed to an abstract name or IP. */
bool
net_is_path(const union net_addr *addr)
{
	return addr->sa.sa_family == AF_UNIX && addr->sun.sun_path[0] != '\0';
}

/* The length bind() and connect() take: an abstract name's is exact. */
socklen_t
net_len(const union net_addr *addr)
{
	size_t base = offsetof(struct sockaddr_un, sun_path);

	switch (addr->sa.sa_family) {
	case AF_INET:
		return sizeof(addr->sin);
	case AF_INET6:
		return sizeof(addr->sin6);
	default:
		if (addr->sun.sun_path[0] != '\0')
			return sizeof(addr->sun);
		return (socklen_t)(base + 1 +
		    strnlen(addr->sun.sun_path + 1,
			sizeof(addr->sun.sun_path) - 1));
	}
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

/*
 * An address without its port as 16 bytes, a key for tables of clients:
 * IPv4 in its IPv4-mapped IPv6 form, so a dual-stack socket's
 * ::ffff:192.0.2.7 and a plain socket's 192.0.2.7 are one client.
 */
void
net_key(const union net_addr *addr, unsigned char key[16])
{
	static const unsigned char mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		0xff, 0xff };

	if (addr->sa.sa_family == AF_INET) {
		memcpy(key, mapped, sizeof(mapped));
		memcpy(key + 12, &addr->sin.sin_addr, 4);
	} else {
		memcpy(key, &addr->sin6.sin6_addr, 16);
	}
}

/*
 * A hash of such a key: its two halves, each folded in with one multiply,
 * as tables hash a client at every accept and close.  The seed is where
 * the program was loaded, which differs per run, so no client can aim many
 * addresses at one slot without knowing it.
 */
uint64_t
net_hash_key(const unsigned char key[16])
{
	static const char anchor;
	uint64_t seed = 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)&anchor;
	uint64_t lo, hi, h;

	memcpy(&lo, key, 8);
	memcpy(&hi, key + 8, 8);
	h = (lo ^ seed) * 0xff51afd7ed558ccdULL ^ hi;
	h = (h ^ (h >> 32)) * 0xc4ceb9fe1a85ec53ULL;
	return h ^ (h >> 29);
}
