#include "buf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Makes room for n more bytes at the end, first by sliding the unconsumed
 * bytes to the front, then by doubling, so appends are amortised O(1).
 */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t used = buf_size(b);

	if (b->data != NULL && b->cap - b->len >= n)
		return 0;
	if (b->off > 0 && b->cap - used >= n) {
		memmove(b->data, b->data + b->off, used);
		b->off = 0;
		b->len = used;
		return 0;
	}

	size_t cap = b->cap ? b->cap : 64;
	while (cap - used < n) {
		if (cap > SIZE_MAX / 2)
			return -1;
		cap *= 2;
	}
	char *data = malloc(cap);
	if (data == NULL)
		return -1;
	if (used > 0)
		memcpy(data, b->data + b->off, used);
	free(b->data);
	b->data = data;
	b->off = 0;
	b->len = used;
	b->cap = cap;
	return 0;
}

/* buf_extend() when the room must be made first. */
char *
buf_grow(struct buf *b, size_t n)
{
	char *end;

	if (buf_reserve(b, n) == -1)
		return NULL;
	end = b->data + b->len;
	b->len += n;
	return end;
}

int
buf_append(struct buf *b, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	if (buf_reserve(b, n) == -1)
		return -1;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void
buf_clear(struct buf *b)
{
	b->off = b->len = 0;
}

void
buf_release(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->off = b->len = b->cap = 0;
}
