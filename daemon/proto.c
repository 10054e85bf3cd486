#include "proto.h"

#include <stdio.h>
#include <string.h>

/* Telnet (RFC 854, RFC 860) bytes the protocol acts on. */
enum {
	TELNET_TM = 6,	  /* TIMING-MARK option */
	TELNET_SE = 0xf0, /* end of subnegotiation */
	TELNET_IP = 0xf4, /* interrupt process: Ctrl-C */
	TELNET_SB = 0xfa, /* start of subnegotiation */
	TELNET_WILL = 0xfb,
	TELNET_DO = 0xfd,
	TELNET_WONT = 0xfc,
	TELNET_IAC = 0xff,
};

/* Where a telnet command stands between two bytes, or two reads. */
enum {
	TELNET_DATA,	/* plain data */
	TELNET_CMD,	/* after IAC */
	TELNET_OPTION,	/* after IAC WILL/WONT/DO/DONT */
	TELNET_SUB,	/* inside IAC SB ... */
	TELNET_SUB_IAC, /* after IAC inside a subnegotiation */
};

/* Ctrl-D alone on a line: a terminal user's end of input. */
static const char proto_eot = 0x04;

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

/* How a reply ends: as the line it answers did; the value is its length. */
enum proto_eol {
	PROTO_EOL_NONE = 0, /* a fragment's reply */
	PROTO_EOL_LF = 1,
	PROTO_EOL_CRLF = 2,
};

/*
 * Copies the short texts a reply is made of without a call into the C
 * library: two fixed-size moves that overlap in the middle cover every
 * length from 4 to 16, which is where names and reply templates fall.
 */
static inline void
proto_copy(char *dst, const char *src, size_t n)
{
	if (n >= 8 && n <= 16) {
		memcpy(dst, src, 8);
		memcpy(dst + n - 8, src + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(dst, src, 4);
		memcpy(dst + n - 4, src + n - 4, 4);
	} else if (n < 4) {
		for (size_t i = 0; i < n; i++)
			dst[i] = src[i];
	} else {
		memcpy(dst, src, n);
	}
}

/*
 * Answers one message, its terminator already removed: the reply is
 * built in place at the end of out, one reservation for its four parts,
 * since this is the innermost loop of a pipelining client.
 */
static inline enum proto_status
proto_message(struct proto *p, const struct proto_params *pp, const char *msg,
    size_t len, enum proto_eol eol, struct buf *out)
{
	char *r;

	if ((len == 4 && memcmp(msg, "exit", 4) == 0) ||
	    (len == 1 && msg[0] == proto_eot))
		return PROTO_EXIT;
	if (proto_is_blank(msg, len))
		return PROTO_OK;
	r = buf_extend(out,
	    pp->reply_head_len + len + pp->reply_tail_len + (size_t)eol);
	if (r == NULL)
		return PROTO_NOMEM;
	proto_copy(r, pp->reply_head, pp->reply_head_len);
	r += pp->reply_head_len;
	proto_copy(r, msg, len);
	r += len;
	proto_copy(r, pp->reply_tail, pp->reply_tail_len);
	r += pp->reply_tail_len;
	if (eol == PROTO_EOL_CRLF)
		*r++ = '\r';
	if (eol != PROTO_EOL_NONE)
		*r = '\n';
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
	p->lines++;
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
	/* The reply ends as the line did. */
	st = proto_message(p, pp, msg, body,
	    body < len ? PROTO_EOL_CRLF : PROTO_EOL_LF, out);
	if (p->line.data != NULL)
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

/* Turns data bytes, telnet commands already removed, into messages. */
static enum proto_status
proto_data(struct proto *p, const struct proto_params *pp, const char *in,
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
 * Takes one byte of a telnet command.  Returns true when the byte turned
 * out to be data after all (an IAC not followed by a command byte): the
 * caller then hands the IAC to proto_data() and feeds the byte again.
 */
static bool
proto_telnet(struct proto *p, unsigned char ch, bool *interrupted,
    struct buf *out, enum proto_status *st)
{
	static const char wont_tm[] = { (char)TELNET_IAC, (char)TELNET_WONT,
		TELNET_TM };

	switch (p->telnet) {
	case TELNET_CMD:
		p->telnet = TELNET_DATA;
		if (ch == TELNET_IAC || ch < TELNET_SE)
			return true;
		if (ch >= TELNET_WILL) {
			p->telnet = TELNET_OPTION;
			p->telnet_verb = ch;
		} else if (ch == TELNET_SB) {
			p->telnet = TELNET_SUB;
		} else if (ch == TELNET_IP) {
			*interrupted = true;
		}
		break;
	case TELNET_OPTION:
		p->telnet = TELNET_DATA;
		if (p->telnet_verb == TELNET_DO && ch == TELNET_TM &&
		    buf_append(out, wont_tm, sizeof(wont_tm)) == -1)
			*st = PROTO_NOMEM;
		break;
	case TELNET_SUB:
		if (ch == TELNET_IAC)
			p->telnet = TELNET_SUB_IAC;
		break;
	case TELNET_SUB_IAC:
		p->telnet = ch == TELNET_SE ? TELNET_DATA : TELNET_SUB;
		break;
	}
	return false;
}

/*
 * Splits the input into data runs and telnet commands.  After an
 * interrupt, the rest of the input is only scanned for commands, so a
 * DO TIMING-MARK sent with the interrupt is still answered.
 */
enum proto_status
proto_input(struct proto *p, const struct proto_params *pp, const char *in,
    size_t len, struct buf *out)
{
	static const char iac = (char)TELNET_IAC;
	enum proto_status st = PROTO_OK;
	bool interrupted = false;

	while (len > 0 && st == PROTO_OK) {
		if (p->telnet == TELNET_DATA) {
			const char *cmd = memchr(in, TELNET_IAC, len);
			size_t n = cmd != NULL ? (size_t)(cmd - in) : len;
			if (n > 0 && !interrupted)
				st = proto_data(p, pp, in, n, out);
			if (cmd != NULL)
				p->telnet = TELNET_CMD, n++;
			in += n;
			len -= n;
		} else if (proto_telnet(p, (unsigned char)*in, &interrupted,
			       out, &st)) {
			if (!interrupted)
				st = proto_data(p, pp, &iac, 1, out);
			if ((unsigned char)*in == TELNET_IAC)
				in++, len--;
		} else {
			in++;
			len--;
		}
	}
	return st == PROTO_OK && interrupted ? PROTO_INTERRUPT : st;
}

/*
 * True when the unfinished line may be answered once the client pauses:
 * always in raw framing, and in auto framing until the first terminator.
 * A lone Ctrl-D counts in every framing: a terminal user sends it with no
 * line ending and waits.
 */
bool
proto_has_fragment(const struct proto *p, const struct proto_params *pp)
{
	if (buf_size(&p->line) == 0)
		return false;
	if (buf_size(&p->line) == 1 && *buf_head(&p->line) == proto_eot)
		return true;
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
	enum proto_status st =
	    proto_message(p, pp, msg, len, PROTO_EOL_NONE, out);
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
