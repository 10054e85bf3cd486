#include "client.h"

#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define CLIENT_INBUF (64 * 1024)
#define CLIENT_MAX_EVENTS 256
/* "u" + id + "." + sequence number, both 32-bit. */
#define CLIENT_NAME_MAX 22
/* "Hello, " + name + "!\n" */
#define CLIENT_REPLY_MAX (CLIENT_NAME_MAX + 9)

static const char client_welcome[] = "Welcome!\r\n";

enum conn_state {
	CONN_CLOSED,  /* churn: the slot between sessions */
	CONN_WELCOME, /* connecting, or waiting for the welcome */
	CONN_READY,   /* requests and replies */
	CONN_EXITING, /* churn: `exit` sent, only the close may come */
};

struct conn {
	int fd;
	uint32_t id;
	enum conn_state state;
	uint32_t sent, recvd; /* requests sent, replies complete */
	uint32_t matched;     /* bytes of `expect` received so far */
	uint32_t expect_len;  /* 0: expect is not built yet */
	uint64_t started;
	uint64_t sent_at[CLIENT_MAX_DEPTH];
	char expect[CLIENT_REPLY_MAX];
};

uint64_t
client_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int client_fail(struct client *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Records the first failure; the run stops there. */
static int
client_fail(struct client *c, const char *fmt, ...)
{
	va_list ap;

	if (c->error[0] != '\0')
		return -1;
	va_start(ap, fmt);
	vsnprintf(c->error, sizeof(c->error), fmt, ap);
	va_end(ap);
	return -1;
}

/* Bytes as a C string literal would show them, cut at max. */
static void
client_escape(char *out, size_t outlen, const char *p, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 5 < outlen; i++) {
		unsigned char ch = (unsigned char)p[i];

		if (ch >= 0x20 && ch < 0x7f && ch != '\\')
			out[o++] = (char)ch;
		else
			o += (size_t)snprintf(out + o, outlen - o, "\\x%02x",
			    ch);
	}
	out[o] = '\0';
}

static size_t
client_utoa(char *out, uint32_t v)
{
	char tmp[10];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
	return n;
}

/* Request seq's name: unique per connection and request. */
static size_t
client_name(char *out, const struct conn *k, uint32_t seq)
{
	size_t n = 0;

	out[n++] = 'u';
	n += client_utoa(out + n, k->id);
	out[n++] = '.';
	n += client_utoa(out + n, seq);
	return n;
}

/* What the connection must receive next, byte for byte. */
static void
client_expect(struct conn *k)
{
	size_t n;

	if (k->state == CONN_WELCOME) {
		memcpy(k->expect, client_welcome, sizeof(client_welcome) - 1);
		k->expect_len = sizeof(client_welcome) - 1;
		return;
	}
	memcpy(k->expect, "Hello, ", 7);
	n = 7 + client_name(k->expect + 7, k, k->recvd);
	k->expect[n++] = '!';
	k->expect[n++] = '\n';
	k->expect_len = (uint32_t)n;
}

static int
client_connect(struct client *c, struct conn *k)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = k };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), on = 1;

	if (fd == -1)
		return client_fail(c, "socket: %s", strerror(errno));
	/*
	 * Pipelined requests must not wait for the ACK of earlier ones.  A
	 * churn session only ever sends once its earlier bytes are answered,
	 * so Nagle never holds it back, and it saves the call per session.
	 */
	if (c->mode != CLIENT_CHURN)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if ((connect(fd, (const struct sockaddr *)&c->addr, sizeof(c->addr)) ==
		    -1 &&
		errno != EINPROGRESS) ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) == -1) {
		client_fail(c, "connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	k->fd = fd;
	k->id = c->next_id++;
	k->state = CONN_WELCOME;
	k->sent = k->recvd = k->matched = k->expect_len = 0;
	k->started = client_now();
	return 0;
}

static void
client_drop(struct conn *k)
{
	close(k->fd);
	k->fd = -1;
	k->state = CONN_CLOSED;
}

/*
 * One send() for the lot.  At most CLIENT_MAX_DEPTH requests of at most
 * CLIENT_NAME_MAX + 1 bytes are ever unanswered, far below the smallest
 * send buffer a socket has, so a short send can only mean a broken peer.
 */
static int
client_write(struct client *c, struct conn *k, const char *p, size_t n)
{
	ssize_t w = send(k->fd, p, n, MSG_NOSIGNAL);

	if (w == (ssize_t)n)
		return 0;
	return client_fail(c, "connection %u: send: %s", k->id,
	    w == -1 ? strerror(errno) : "short write");
}

static int
client_send(struct client *c, struct conn *k, uint32_t count)
{
	uint64_t now = client_now();
	char *p = c->sendbuf;

	for (uint32_t i = 0; i < count; i++) {
		p += client_name(p, k, k->sent);
		*p++ = '\n';
		k->sent_at[k->sent % CLIENT_MAX_DEPTH] = now;
		k->sent++;
	}
	return client_write(c, k, c->sendbuf, (size_t)(p - c->sendbuf));
}

static int
client_mismatch(struct client *c, const struct conn *k, const char *p, size_t n)
{
	char want[4 * CLIENT_REPLY_MAX + 1], got[4 * CLIENT_REPLY_MAX + 1];

	client_escape(want, sizeof(want), k->expect, k->expect_len);
	client_escape(got, sizeof(got), p,
	    n < CLIENT_REPLY_MAX ? n : CLIENT_REPLY_MAX);
	return client_fail(c,
	    "connection %u: expected \"%s\", got \"%s\" at byte %u of it",
	    k->id, want, got, k->matched);
}

/* A whole expected message arrived. */
static void
client_complete(struct client *c, struct conn *k, uint64_t now)
{
	k->matched = k->expect_len = 0;
	if (k->state == CONN_WELCOME) {
		k->state = CONN_READY;
		return;
	}
	if (now >= c->measure && now < c->end) {
		c->replies++;
		if (c->mode != CLIENT_CHURN)
			hist_add(&c->hist,
			    now - k->sent_at[k->recvd % CLIENT_MAX_DEPTH]);
	}
	k->recvd++;
}

/* Checks every received byte against what the connection must get. */
static int
client_check(struct client *c, struct conn *k, const char *p, size_t n,
    uint64_t now)
{
	while (n > 0) {
		size_t take;

		if (k->expect_len == 0) {
			if (k->state == CONN_EXITING ||
			    (k->state == CONN_READY && k->recvd == k->sent))
				return client_mismatch(c, k, p, n);
			client_expect(k);
		}
		take = k->expect_len - k->matched;
		if (take > n)
			take = n;
		if (memcmp(p, k->expect + k->matched, take) != 0)
			return client_mismatch(c, k, p, n);
		k->matched += (uint32_t)take;
		p += take;
		n -= take;
		if (k->matched == k->expect_len)
			client_complete(c, k, now);
	}
	return 0;
}

/* The server closed: the end of a churn session, or a failure. */
static int
client_on_close(struct client *c, struct conn *k, uint64_t now)
{
	if (k->state != CONN_EXITING)
		return client_fail(c,
		    "connection %u: closed by the server after %u of %u "
		    "replies",
		    k->id, k->recvd, k->sent);
	client_drop(k);
	if (now >= c->measure && now < c->end) {
		c->sessions++;
		hist_add(&c->hist, now - k->started);
	}
	return now < c->end ? client_connect(c, k) : 0;
}

/* What a churn session does once a message is complete. */
static int
client_churn_step(struct client *c, struct conn *k, enum conn_state was)
{
	if (was == CONN_WELCOME && k->state == CONN_READY)
		return client_send(c, k, 1);
	if (k->recvd == 1 && k->state == CONN_READY) {
		k->state = CONN_EXITING;
		return client_write(c, k, "exit\n", 5);
	}
	return 0;
}

static int
client_on_readable(struct client *c, struct conn *k)
{
	ssize_t n = recv(k->fd, c->inbuf, CLIENT_INBUF, 0);
	uint64_t now = client_now();
	enum conn_state was = k->state;
	uint32_t before = k->recvd;

	if (n == 0)
		return client_on_close(c, k, now);
	if (n == -1) {
		if (errno == EAGAIN)
			return 0;
		return client_fail(c, "connection %u: recv: %s", k->id,
		    strerror(errno));
	}
	if (client_check(c, k, c->inbuf, (size_t)n, now) == -1)
		return -1;
	switch (c->mode) {
	case CLIENT_PING:
		/* Keep `depth` in flight: one new request per reply. */
		if (k->recvd != before && now < c->end)
			return client_send(c, k, k->recvd - before);
		return 0;
	case CLIENT_CHURN:
		return client_churn_step(c, k, was);
	case CLIENT_IDLE:
		break;
	}
	return 0;
}

/* Waits for events; returns how many, or 0 once the deadline passed. */
static int
client_wait(struct client *c, struct epoll_event *ev, uint64_t deadline)
{
	for (;;) {
		uint64_t now = client_now();
		int n;

		if (now >= deadline)
			return 0;
		n = epoll_wait(c->epfd, ev, CLIENT_MAX_EVENTS,
		    (int)((deadline - now + 999999) / 1000000));
		if (n > 0)
			return n;
		if (n == -1 && errno != EINTR)
			return client_fail(c, "epoll_wait: %s",
			    strerror(errno));
	}
}

int
client_init(struct client *c)
{
	c->epfd = epoll_create1(0);
	c->conns = calloc(c->nconns, sizeof(*c->conns));
	c->inbuf = malloc(CLIENT_INBUF);
	c->sendbuf = malloc(CLIENT_MAX_DEPTH * (CLIENT_NAME_MAX + 1));
	c->next_id = c->first_id;
	if (c->epfd == -1 || c->conns == NULL || c->inbuf == NULL ||
	    c->sendbuf == NULL)
		return client_fail(c, "out of memory or descriptors");
	for (uint32_t i = 0; i < c->nconns; i++)
		c->conns[i].fd = -1;
	return 0;
}

int
client_open(struct client *c, uint64_t deadline)
{
	struct epoll_event ev[CLIENT_MAX_EVENTS];
	uint32_t started = 0, welcomed = 0;

	if (c->mode == CLIENT_CHURN)
		return 0;
	c->measure = c->end = UINT64_MAX;
	while (welcomed < c->nconns) {
		int n;

		/* Few handshakes at once: a full accept queue drops SYNs. */
		while (started < c->nconns &&
		    started - welcomed < c->max_connecting)
			if (client_connect(c, &c->conns[started++]) == -1)
				return -1;
		if ((n = client_wait(c, ev, deadline)) == -1)
			return -1;
		if (n == 0)
			return client_fail(c,
			    "%u of %u connections welcomed by the deadline",
			    welcomed, c->nconns);
		for (int i = 0; i < n; i++) {
			struct conn *k = ev[i].data.ptr;
			enum conn_state was = k->state;

			if (client_on_readable(c, k) == -1)
				return -1;
			welcomed +=
			    was == CONN_WELCOME && k->state == CONN_READY;
		}
	}
	return 0;
}

static int
client_start(struct client *c)
{
	for (uint32_t i = 0; i < c->nconns; i++) {
		struct conn *k = &c->conns[i];
		int rc = 0;

		switch (c->mode) {
		case CLIENT_PING:
			rc = client_send(c, k, c->depth);
			break;
		case CLIENT_CHURN:
			rc = client_connect(c, k);
			break;
		case CLIENT_IDLE:
			rc = client_send(c, k, 1);
			break;
		}
		if (rc == -1)
			return -1;
	}
	return 0;
}

int
client_run(struct client *c, uint64_t measure, uint64_t end)
{
	struct epoll_event ev[CLIENT_MAX_EVENTS];

	c->measure = c->mode == CLIENT_IDLE ? 0 : measure;
	c->end = end;
	if (client_start(c) == -1)
		return -1;
	for (;;) {
		int n;

		if (c->mode == CLIENT_IDLE && c->replies == c->nconns)
			return 0;
		if ((n = client_wait(c, ev, end)) == -1)
			return -1;
		if (n == 0)
			break;
		for (int i = 0; i < n; i++)
			if (client_on_readable(c, ev[i].data.ptr) == -1)
				return -1;
	}
	if (c->mode == CLIENT_IDLE)
		return client_fail(c, "%llu of %u idle connections answered",
		    (unsigned long long)c->replies, c->nconns);
	return 0;
}

void
client_free(struct client *c)
{
	for (uint32_t i = 0; c->conns != NULL && i < c->nconns; i++)
		if (c->conns[i].fd != -1)
			close(c->conns[i].fd);
	if (c->epfd != -1)
		close(c->epfd);
	free(c->conns);
	free(c->inbuf);
	free(c->sendbuf);
}
