/*
 * TLS on a connection's own non-blocking socket, with OpenSSL: the
 * server context a config loads (certificate chain, key, the CA that
 * client certificates must come from), and the calls the message path
 * makes instead of recv() and send().  Those report like the system calls
 * they replace, so the loop drives the handshake and every read and write
 * off its own events: -1 with errno EAGAIN when the socket must be ready
 * first (and *want says for what: TLS_WANT_READ or TLS_WANT_WRITE), EPROTO
 * when TLS failed (tls_failure() says how), another errno when the socket
 * did.
 */
#ifndef HELLOD_TLS_H
#define HELLOD_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_ctx_st;
struct ssl_st;

enum tls_want {
	TLS_WANT_NOTHING,
	TLS_WANT_READ,
	TLS_WANT_WRITE,
};

/*
 * The server's context: key may be "" when the key is in the certificate
 * file, client_ca "" when clients need no certificate.  On failure err
 * names the key and the file that is wrong.
 */
struct ssl_ctx_st *tls_ctx_new(const char *cert, const char *key,
    const char *client_ca, char *err, size_t errlen);
void tls_ctx_free(struct ssl_ctx_st *ctx);

struct ssl_st *tls_new(struct ssl_ctx_st *ctx, int fd);
void tls_free(struct ssl_st *ssl);

/*
 * 0 once the handshake is done; -1 while it waits for the socket (*want
 * says for what); -2 when it failed, with why.
 */
int tls_handshake(struct ssl_st *ssl, enum tls_want *want, char *why,
    size_t whylen);
ssize_t
tls_recv(struct ssl_st *ssl, void *buf, size_t len, enum tls_want *want);
ssize_t
tls_send(struct ssl_st *ssl, const void *buf, size_t len, enum tls_want *want);
/* Decrypted input the socket will not signal: read it without waiting. */
bool tls_has_pending(const struct ssl_st *ssl);
/* Sends our close_notify, as far as the socket takes it at once. */
void tls_close_notify(struct ssl_st *ssl);

/* Why the last call that set EPROTO failed; empties the error queue. */
const char *tls_failure(char *buf, size_t len);
const char *tls_version(const struct ssl_st *ssl);
/* The verified client certificate's subject, or "" without one. */
const char *tls_client(const struct ssl_st *ssl, char *buf, size_t len);

#endif
