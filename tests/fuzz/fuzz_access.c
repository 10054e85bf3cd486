/*
 * Fuzzes the access rules and the connection-rate buckets.
 *
 * The input's lines up to the first empty one are ranges, each put on the
 * allow list or, after a leading '!', on the deny list; cidr_parse() must
 * take or refuse each with a terminated reason.  Every address the rest of
 * the input spells (17 bytes: a family byte, 16 address bytes) is judged
 * by access_allows(), which must agree with a plain reading of the rules:
 * the longest matching prefix on either list decides, a deny wins a tie,
 * no match lets in only while allow is empty; and a range added for the
 * address alone on the deny list must refuse it.
 *
 * The same bytes then drive rate_take() on a few keys with times that only
 * move on, checked against a bucket model kept here in whole tokens and
 * milliseconds: the verdicts agree, and the table never holds more buckets
 * than keys seen.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "access.h"
#include "rate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RULES 16
#define KEYS 4

static void
require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

/* Reads the ranges; returns where the addresses start. */
static size_t
read_rules(const uint8_t *data, size_t size, struct access_rules *r)
{
	size_t at = 0;

	while (at < size) {
		const uint8_t *nl = memchr(data + at, '\n', size - at);
		size_t len =
		    nl != NULL ? (size_t)(nl - (data + at)) : size - at;
		bool deny = len > 0 && data[at] == '!';
		char text[64], why[48];
		struct cidr c;

		if (len == 0)
			return at + 1;
		if (len - deny < sizeof(text)) {
			memcpy(text, data + at + deny, len - deny);
			text[len - deny] = '\0';
			why[0] = 'x';
			if (cidr_parse(text, &c, why, sizeof(why)) == 0) {
				size_t *n = deny ? &r->ndeny : &r->nallow;
				struct cidr *set = deny ? r->deny : r->allow;
				if (*n < MAX_RULES)
					set[(*n)++] = c;
			} else {
				require(memchr(why, '\0', sizeof(why)) != NULL);
			}
		}
		at += len + 1;
	}
	return size;
}

static int
plain_best(const struct cidr *set, size_t n, const union net_addr *a)
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if (cidr_match(&set[i], a) && (int)set[i].prefix > best)
			best = (int)set[i].prefix;
	return best;
}

static void
check_address(struct access_rules *r, const uint8_t *b)
{
	union net_addr a;
	int allow, deny;
	bool want;

	memset(&a, 0, sizeof(a));
	if (b[0] & 1) {
		a.sin6.sin6_family = AF_INET6;
		memcpy(&a.sin6.sin6_addr, b + 1, 16);
	} else {
		a.sin.sin_family = AF_INET;
		memcpy(&a.sin.sin_addr, b + 1, 4);
	}
	allow = plain_best(r->allow, r->nallow, &a);
	deny = plain_best(r->deny, r->ndeny, &a);
	want =
	    deny >= 0 && deny >= allow ? false : allow >= 0 || r->nallow == 0;
	require(access_allows(r, &a) == want);
	if (r->ndeny < MAX_RULES) {
		struct cidr *host = &r->deny[r->ndeny++];
		memset(host, 0, sizeof(*host));
		host->family = a.sa.sa_family;
		memcpy(host->addr, b + 1, host->family == AF_INET ? 4 : 16);
		host->prefix = host->family == AF_INET ? 32 : 128;
		/* An IPv4-mapped address is judged as IPv4, by another range.
		 */
		if (host->family == AF_INET ||
		    !IN6_IS_ADDR_V4MAPPED(&a.sin6.sin6_addr))
			require(!access_allows(r, &a));
		r->ndeny--;
	}
}

struct model {
	bool seen;
	uint64_t at_ms;
	uint64_t milli;
};

static void
check_rate(const uint8_t *data, size_t size)
{
	struct rate_table *t = rate_new();
	struct model m[KEYS] = { 0 };
	uint64_t now = 0;
	size_t seen = 0;

	if (t == NULL)
		return;
	for (size_t i = 0; i + 2 < size; i += 3) {
		unsigned k = data[i] % KEYS, rate = 1 + data[i] / KEYS % 4;
		unsigned burst = 1 + data[i + 1] % 8;
		unsigned char key[16] = { (unsigned char)k };
		uint64_t full = (uint64_t)burst * 1000, level;
		enum rate_verdict v;

		now += data[i + 2] * 7u;
		if (!m[k].seen) {
			m[k] = (struct model){ true, now, full };
			seen++;
		}
		level = m[k].milli + (now - m[k].at_ms) * rate;
		if (level > full)
			level = full;
		m[k].at_ms = now;
		m[k].milli = level >= 1000 ? level - 1000 : level;
		v = rate_take(t, key, now, rate, burst);
		require(v == (level >= 1000 ? RATE_TAKEN : RATE_EMPTY));
		require(rate_buckets(t) <= seen);
	}
	rate_free(t);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cidr allow[MAX_RULES], deny[MAX_RULES];
	struct access_rules r = { allow, 0, deny, 0 };
	size_t at = read_rules(data, size, &r);

	for (size_t i = at; i + 17 <= size; i += 17)
		check_address(&r, data + i);
	check_rate(data, size);
	return 0;
}
