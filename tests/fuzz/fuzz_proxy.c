/*
 * Fuzzes the PROXY header parser.  Checked on every input: a verdict on
 * the whole never contradicts the verdicts on its prefixes (a refused
 * beginning stays refused, a whole header is whole in every longer input,
 * with the same length and addresses), and a header never claims more
 * bytes than it was given.
 */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct proxy_header whole, part;
	char why[128];
	enum proxy_status st = proxy_parse(buf, size, &whole, why, sizeof(why));

	require(memchr(why, '\0', sizeof(why)) != NULL);
	if (st == PROXY_DONE)
		require(whole.len >= 8 && whole.len <= size);
	for (size_t i = 0; i < size; i++) {
		enum proxy_status p =
		    proxy_parse(buf, i, &part, why, sizeof(why));
		if (p == PROXY_INVALID)
			require(st == PROXY_INVALID);
		if (st == PROXY_DONE && i < whole.len)
			require(p == PROXY_NEED_MORE);
		if (st == PROXY_DONE && i >= whole.len) {
			require(p == PROXY_DONE && part.len == whole.len);
			require(memcmp(&part.src, &whole.src,
				    sizeof(part.src)) == 0);
		}
	}
	return 0;
}
