#include "access.h"

/* The longest prefix of a range in set holding addr, or -1. */
static int
access_best(const struct cidr *set, size_t n, const union net_addr *addr)
{
	int best = -1;

	for (size_t i = 0; i < n; i++)
		if ((int)set[i].prefix > best && cidr_match(&set[i], addr))
			best = (int)set[i].prefix;
	return best;
}

bool
access_allows(const struct access_rules *rules, const union net_addr *addr)
{
	int allow, deny;

	if (addr->sa.sa_family != AF_INET && addr->sa.sa_family != AF_INET6)
		return true;
	allow = access_best(rules->allow, rules->nallow, addr);
	deny = access_best(rules->deny, rules->ndeny, addr);
	if (deny >= 0 && deny >= allow)
		return false;
	return allow >= 0 || rules->nallow == 0;
}
