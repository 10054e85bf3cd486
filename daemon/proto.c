#include "proto.h"

#include <stdio.h>
#include <string.h>

static bool
proto_is_blank(const char *msg, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (msg[i] != ' ' && msg[i] != '\t')
			return false;
	return true;
}

static enum proto_status
proto_too_long(struct proto *p, const struct proto_params *pp, struct buf *out)
{
	char line[80];
	int n = snprintf(line, sizeof(line),
	    "Error: line too long (max %zu bytes)\r\n", pp->max_line);

	buf_release(&p->line);
	if (buf_append(out, line, (size_t)n) == -1)
		return PROTO_NOMEM;
	return PROTO_TOO_LONG;
}

/* Answers one message, its terminator already removed. */
static enum proto_status
proto_message(struct proto *p, const struct proto_params *pp, const char *msg,
    size_t len, const char *eol, struct buf *out)
{
	if (len == 4 && memcmp(msg, "exit", 4) == 0)
		return PROTO_EXIT;
	if (proto_is_blank(msg, len))
		return PROTO_OK;
	if (buf_append(out, pp->reply_head, pp->reply_head_len) == -1 ||
	    buf_append(out, msg, len) == -1 ||
	    buf_append(out, pp->reply_tail, pp->reply_tail_len) == -1 ||
	    buf_append(out, eol, strlen(eol)) == -1)
		return PROTO_NOMEM;
	p->messages++;
	return PROTO_OK;
}

/* The length of a message once one trailing CR is dropped. */
static size_t
proto_strip_cr(const char *msg, size_t len)
{
	return len > 0 && msg[len - 1] == '\r' ? len - 1 : len;
}

/* Handles the bytes of one line up to, not including, its LF. */
static enum proto_status
proto_line(struct proto *p, const struct proto_params *pp, const char *seg,
    size_t seglen, struct buf *out)
{
	const char *msg = seg;
	size_t len = seglen;
	enum proto_status st;

	p->seen_eol = true;
	if (buf_size(&p->line) > 0) {
		if (buf_size(&p->line) + seglen > pp->max_line + 1)
			return proto_too_long(p, pp, out);
		if (buf_append(&p->line, seg, seglen) == -1)
			return PROTO_NOMEM;
		msg = buf_head(&p->line);
		len = buf_size(&p->line);
	}
	size_t body = proto_strip_cr(msg, len);
	if (body > pp->max_line)
		return proto_too_long(p, pp, out);
	st = proto_message(p, pp, msg, body, body < len ? "\r\n" : "\n", out);
	buf_release(&p->line);
	return st;
}

/* Keeps an unterminated fragment, refusing to hold more than a line. */
static enum proto_status
proto_hold(struct proto *p, const struct proto_params *pp, const char *in,
    size_t len)
{
	size_t total = buf_size(&p->line) + len;

	if (total - (in[len - 1] == '\r') > pp->max_line)
		return PROTO_TOO_LONG;
	if (buf_append(&p->line, in, len) == -1)
		return PROTO_NOMEM;
	return PROTO_OK;
}

enum proto_status
proto_input(struct proto *p, const struct proto_params *pp, const char *in,
    size_t len, struct buf *out)
{
	while (len > 0) {
		const char *nl = memchr(in, '\n', len);
		if (nl == NULL) {
			enum proto_status st = proto_hold(p, pp, in, len);
			return st == PROTO_TOO_LONG ? proto_too_long(p, pp, out)
						    : st;
		}
		size_t seglen = (size_t)(nl - in);
		enum proto_status st = proto_line(p, pp, in, seglen, out);
		if (st != PROTO_OK)
			return st;
		in += seglen + 1;
		len -= seglen + 1;
	}
	return PROTO_OK;
}

/*
 * True when the unfinished line may be answered once the client pauses:
 * always in raw framing, and in auto framing until the first terminator.
 */
bool
proto_has_fragment(const struct proto *p, const struct proto_params *pp)
{
	if (buf_size(&p->line) == 0)
		return false;
	return pp->framing == PROTO_FRAMING_RAW ||
	    (pp->framing == PROTO_FRAMING_AUTO && !p->seen_eol);
}

/* Answers the unfinished line as a message; its reply has no terminator. */
enum proto_status
proto_flush_fragment(struct proto *p, const struct proto_params *pp,
    struct buf *out)
{
	if (buf_size(&p->line) == 0)
		return PROTO_OK;

	const char *msg = buf_head(&p->line);
	size_t len = proto_strip_cr(msg, buf_size(&p->line));
	enum proto_status st = proto_message(p, pp, msg, len, "", out);
	buf_release(&p->line);
	return st;
}

/* End of stream: a pending fragment is a message whatever the framing. */
enum proto_status
proto_finish(struct proto *p, const struct proto_params *pp, struct buf *out)
{
	return proto_flush_fragment(p, pp, out);
}

void
proto_release(struct proto *p)
{
	buf_release(&p->line);
}
