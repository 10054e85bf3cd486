/*
 * A growable byte buffer with a read offset: bytes are appended at the end
 * and consumed from the front.  An empty buffer owns no memory until the
 * first append, so idle connections cost nothing here.
 */
#ifndef HELLOD_BUF_H
#define HELLOD_BUF_H

#include <stddef.h>

struct buf {
	char *data;
	size_t off; /* first unconsumed byte */
	size_t len; /* end of the stored bytes */
	size_t cap;
};

int buf_append(struct buf *b, const void *p, size_t n);
char *buf_grow(struct buf *b, size_t n);
void buf_clear(struct buf *b);
void buf_release(struct buf *b);

static inline size_t
buf_size(const struct buf *b)
{
	return b->len - b->off;
}

static inline const char *
buf_head(const struct buf *b)
{
	return b->data + b->off;
}

/* Drops n bytes from the front; an emptied buffer starts over at 0. */
static inline void
buf_consume(struct buf *b, size_t n)
{
	b->off += n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/* Takes back the last n bytes stored. */
static inline void
buf_drop_tail(struct buf *b, size_t n)
{
	b->len -= n;
	if (b->off >= b->len)
		b->off = b->len = 0;
}

/*
 * Room for n more bytes at the end, counted as stored; NULL if there is no
 * memory for them.  Inline because every reply is built through it, and
 * the buffer nearly always has the room already.
 */
static inline char *
buf_extend(struct buf *b, size_t n)
{
	char *end;

	if (b->data == NULL || b->cap - b->len < n)
		return buf_grow(b, n);
	end = b->data + b->len;
	b->len += n;
	return end;
}

#endif
