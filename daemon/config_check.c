/*
 * The checks a value passes after its type and range: addresses that
 * must parse, users and groups that must exist, texts that must be one
 * line.  Each may also fill in what the value implies (the parsed
 * trusted ranges, the welcome line with its CRLF, the reply split around
 * its %s), so the rest of the daemon never parses a value again.
 */
#include "config_check.h"

#include <errno.h>
#include <grp.h>
#include <netdb.h>
#include <pwd.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "cidr.h"
#include "net.h"

static bool
config_has_line_break(const char *text)
{
	return strpbrk(text, "\r\n") != NULL;
}

/* Addresses to listen on: numeric IPs or UNIX sockets, each once. */
static int
config_check_addresses(const struct config_list *list, char *why, size_t whylen)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST,
		.ai_socktype = SOCK_STREAM };

	for (size_t i = 0; i < list->count; i++) {
		const char *addr = list->items[i];
		struct addrinfo *res;
		union net_addr local;

		if (strncmp(addr, "unix:", 5) == 0) {
			if (net_resolve(addr, 0, &local) == 0)
				continue;
			snprintf(why, whylen,
			    "'%s' is not a UNIX socket: unix:/absolute/path or "
			    "unix:@name, at most %zu bytes after unix:",
			    addr, sizeof(local.sun.sun_path) - 1);
			return -1;
		}
		if (getaddrinfo(addr, NULL, &hints, &res) != 0) {
			snprintf(why, whylen,
			    "'%s' is not a numeric IPv4 or IPv6 address", addr);
			return -1;
		}
		freeaddrinfo(res);
		for (size_t j = 0; j < i; j++) {
			if (strcmp(list->items[j], addr) == 0) {
				snprintf(why, whylen, "'%s' is listed twice",
				    addr);
				return -1;
			}
		}
	}
	return 0;
}

int
config_check_bind(struct config *cfg, char *why, size_t whylen)
{
	if (cfg->bind.count == 0) {
		snprintf(why, whylen, "needs at least one address");
		return -1;
	}
	return config_check_addresses(&cfg->bind, why, whylen);
}

int
config_check_tls_bind(struct config *cfg, char *why, size_t whylen)
{
	return config_check_addresses(&cfg->tls_bind, why, whylen);
}

/* A user or group to switch to must exist here, or starting would fail. */
static int
config_check_exists(const char *kind, const char *name, bool found, char *why,
    size_t whylen)
{
	if (!found) {
		snprintf(why, whylen, "no %s '%s' on this system", kind, name);
		return -1;
	}
	return 0;
}

int
config_check_user(struct config *cfg, char *why, size_t whylen)
{
	return config_check_exists("user", cfg->user,
	    cfg->user[0] == '\0' || getpwnam(cfg->user) != NULL, why, whylen);
}

int
config_check_group(struct config *cfg, char *why, size_t whylen)
{
	return config_check_exists("group", cfg->group,
	    cfg->group[0] == '\0' || getgrnam(cfg->group) != NULL, why, whylen);
}

/* The mode of socket files: octal permission bits, as chmod takes them. */
int
config_check_unix_mode(struct config *cfg, char *why, size_t whylen)
{
	const char *text = cfg->unix_mode;
	char *end;
	long mode;

	errno = 0;
	mode = strtol(text, &end, 8);
	if (text[0] < '0' || text[0] > '7' || *end != '\0' || errno != 0 ||
	    mode > 0777) {
		snprintf(why, whylen,
		    "'%s' is not a file mode like \"0660\" (octal, 0 to 0777)",
		    text);
		return -1;
	}
	cfg->unix_mode_bits = (int)mode;
	return 0;
}

int
config_check_unix_group(struct config *cfg, char *why, size_t whylen)
{
	struct group *gr;

	cfg->unix_gid = -1;
	if (cfg->unix_group[0] == '\0')
		return 0;
	if ((gr = getgrnam(cfg->unix_group)) == NULL)
		return config_check_exists("group", cfg->unix_group, false, why,
		    whylen);
	cfg->unix_gid = (long)gr->gr_gid;
	return 0;
}

/* A daemon runs in /: a relative pidfile would not be where it was meant. */
/* "" is off; else "HOST:PORT" or "[IPV6]:PORT", numeric. */
int
config_check_metrics_bind(struct config *cfg, char *why, size_t whylen)
{
	if (cfg->metrics_bind[0] == '\0')
		return 0;
	if (net_parse_endpoint(cfg->metrics_bind, &cfg->metrics_addr) == -1) {
		snprintf(why, whylen,
		    "'%s' is not an address and port like \"127.0.0.1:9100\" "
		    "or \"[::1]:9100\"",
		    cfg->metrics_bind);
		return -1;
	}
	return 0;
}

/* Parses a list of CIDR ranges into a new array at *set. */
static int
config_cidrs(const struct config_list *list, struct cidr **set, size_t *n,
    char *why, size_t whylen)
{
	struct cidr *parsed = calloc(list->count + 1, sizeof(*parsed));
	char reason[128];

	if (parsed == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < list->count; i++) {
		if (cidr_parse(list->items[i], &parsed[i], reason,
			sizeof(reason)) == -1) {
			snprintf(why, whylen, "'%s': %s", list->items[i],
			    reason);
			free(parsed);
			return -1;
		}
	}
	free(*set);
	*set = parsed;
	*n = list->count;
	return 0;
}

int
config_check_trusted(struct config *cfg, char *why, size_t whylen)
{
	return config_cidrs(&cfg->proxy_trusted, &cfg->trusted, &cfg->ntrusted,
	    why, whylen);
}

int
config_check_allow(struct config *cfg, char *why, size_t whylen)
{
	return config_cidrs(&cfg->allow, &cfg->access.allow,
	    &cfg->access.nallow, why, whylen);
}

int
config_check_deny(struct config *cfg, char *why, size_t whylen)
{
	return config_cidrs(&cfg->deny, &cfg->access.deny, &cfg->access.ndeny,
	    why, whylen);
}

int
config_check_welcome(struct config *cfg, char *why, size_t whylen)
{
	size_t len = strlen(cfg->welcome);
	char *line;

	if (config_has_line_break(cfg->welcome)) {
		snprintf(why, whylen,
		    "must be one line (hellod adds the line ending)");
		return -1;
	}
	if ((line = malloc(len + 3)) == NULL)
		return -1;
	memcpy(line, cfg->welcome, len);
	if (len > 0)
		memcpy(line + len, "\r\n", 2), len += 2;
	line[len] = '\0';
	free(cfg->welcome_line);
	cfg->welcome_line = line;
	cfg->welcome_line_len = len;
	return 0;
}

/*
 * Copies template text up to the name directive (or the end), turning %%
 * into %.  Returns the number of template bytes read, or -1 with why set on
 * a directive other than %s and %%.
 */
static long
config_template_part(const char *tmpl, char *out, char *why, size_t whylen)
{
	const char *p = tmpl;
	size_t n = 0;

	while (*p != '\0') {
		if (*p != '%') {
			out[n++] = *p++;
			continue;
		}
		if (p[1] == '%') {
			out[n++] = '%';
			p += 2;
			continue;
		}
		if (p[1] == 's')
			break;
		snprintf(why, whylen,
		    "'%%%.1s' is not allowed: use exactly one %%s for the name "
		    "and %%%% for a literal %%",
		    p[1] != '\0' ? p + 1 : "");
		return -1;
	}
	out[n] = '\0';
	return (long)(p - tmpl);
}

int
config_check_reply(struct config *cfg, char *why, size_t whylen)
{
	const char *tmpl = cfg->reply;
	size_t len = strlen(tmpl);
	char *head = malloc(len + 1), *tail = malloc(len + 1);
	long n;

	if (head == NULL || tail == NULL)
		goto fail;
	if (config_has_line_break(tmpl)) {
		snprintf(why, whylen,
		    "must be one line (hellod adds the line ending)");
		goto fail;
	}
	if ((n = config_template_part(tmpl, head, why, whylen)) == -1)
		goto fail;
	if (tmpl[n] == '\0') {
		snprintf(why, whylen, "needs one %%s where the name goes");
		goto fail;
	}
	tmpl += n + 2;
	if ((n = config_template_part(tmpl, tail, why, whylen)) == -1)
		goto fail;
	if (tmpl[n] != '\0') {
		snprintf(why, whylen, "has more than one %%s");
		goto fail;
	}
	free(cfg->reply_head);
	free(cfg->reply_tail);
	cfg->reply_head = head;
	cfg->reply_tail = tail;
	return 0;
fail:
	free(head);
	free(tail);
	return -1;
}
