/*
 * OpenSSL, the way the message path needs it: one context per config,
 * one SSL per connection on the connection's own socket.  The context is
 * set so an idle connection costs little (SSL_MODE_RELEASE_BUFFERS: its
 * read and write buffers go back while nothing is in them; no server-side
 * session cache, as session tickets need none) and so a write may be
 * retried from a buffer that moved or grew, as the connection's kept
 * replies do.
 */
#include "tls.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

/* TLS 1.2's suites: forward secrecy and AEAD only (TLS 1.3's are all so). */
#define TLS_CIPHERS_12 "ECDHE+AESGCM:ECDHE+CHACHA20"

/*
 * The reason OpenSSL gave for the first error in the queue (the cause; the
 * later ones wrap it, as "PEM lib" does), or what the caller says.
 */
static const char *
tls_reason(char *buf, size_t len, const char *otherwise)
{
	unsigned long e = ERR_peek_error();
	const char *reason = e != 0 ? ERR_reason_error_string(e) : NULL;

	if (reason != NULL)
		snprintf(buf, len, "%s", reason);
	else if (e != 0)
		snprintf(buf, len, "OpenSSL error %08lx", e);
	else
		snprintf(buf, len, "%s", otherwise);
	ERR_clear_error();
	return buf;
}

const char *
tls_failure(char *buf, size_t len)
{
	return tls_reason(buf, len, "protocol error");
}

/* A file OpenSSL will read: said plainly when it cannot be opened at all. */
static int
tls_readable(const char *key, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		snprintf(err, errlen, "%s: '%s': %s", key, path,
		    strerror(errno));
		return -1;
	}
	fclose(f);
	return 0;
}

static void
tls_fail(const char *key, const char *path, char *err, size_t errlen)
{
	char why[256];

	snprintf(err, errlen, "%s: '%s': %s", key, path,
	    tls_reason(why, sizeof(why), "cannot be loaded"));
}

/* A certificate out of its dates still loads; the operator hears of it. */
static void
tls_warn_dates(SSL_CTX *ctx, const char *cert)
{
	X509 *x = SSL_CTX_get0_certificate(ctx);
	const ASN1_TIME *t = NULL;
	const char *what = NULL;
	char when[32] = "?";
	struct tm tm;

	if (x == NULL)
		return;
	if (X509_cmp_current_time(X509_get0_notAfter(x)) < 0) {
		t = X509_get0_notAfter(x);
		what = "expired on";
	} else if (X509_cmp_current_time(X509_get0_notBefore(x)) > 0) {
		t = X509_get0_notBefore(x);
		what = "is not valid before";
	}
	if (t == NULL)
		return;
	if (ASN1_TIME_to_tm(t, &tm) == 1)
		strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm);
	log_warnx("tls_certificate: '%s' %s %s: clients that check will "
		  "refuse it",
	    cert, what, when);
}

/*
 * What is plainly wrong with a key file OpenSSL refused, where its own
 * words ("unsupported", "bad decrypt") would not say: no key in it, or
 * one behind a passphrase.  NULL when neither.
 */
static const char *
tls_key_trouble(const char *path)
{
	enum { TLS_KEY_FILE_MAX = 64 * 1024 };
	char *text = malloc(TLS_KEY_FILE_MAX);
	const char *trouble = NULL;
	FILE *f = fopen(path, "r");
	size_t n;

	if (f != NULL && text != NULL) {
		n = fread(text, 1, TLS_KEY_FILE_MAX - 1, f);
		text[n] = '\0';
		if (strstr(text, "ENCRYPTED") != NULL)
			trouble = "holds a key with a passphrase: hellod needs "
				  "one without (openssl pkey -in KEY -out NEW)";
		else if (strstr(text, "PRIVATE KEY-----") == NULL)
			trouble = "holds no private key";
	}
	if (f != NULL)
		fclose(f);
	free(text);
	return trouble;
}

static int
tls_load_identity(SSL_CTX *ctx, const char *cert, const char *key, char *err,
    size_t errlen)
{
	const char *key_name = key[0] != '\0'
	    ? "tls_key"
	    : "tls_key (empty: the key is read from tls_certificate)";
	const char *key_path = key[0] != '\0' ? key : cert;

	if (tls_readable("tls_certificate", cert, err, errlen) == -1)
		return -1;
	if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
		tls_fail("tls_certificate", cert, err, errlen);
		return -1;
	}
	if (tls_readable(key_name, key_path, err, errlen) == -1)
		return -1;
	/* OpenSSL checks the key against the certificate as it loads it. */
	if (SSL_CTX_use_PrivateKey_file(ctx, key_path, SSL_FILETYPE_PEM) != 1 &&
	    ERR_GET_REASON(ERR_peek_last_error()) !=
		X509_R_KEY_VALUES_MISMATCH) {
		const char *hint = tls_key_trouble(key_path);
		if (hint == NULL) {
			tls_fail(key_name, key_path, err, errlen);
			return -1;
		}
		ERR_clear_error();
		snprintf(err, errlen, "%s: '%s' %s", key_name, key_path, hint);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		snprintf(err, errlen,
		    "%s: '%s' does not match the certificate in '%s'", key_name,
		    key_path, cert);
		return -1;
	}
	tls_warn_dates(ctx, cert);
	return 0;
}

/* Clients must then show a certificate this CA signed. */
static int
tls_load_client_ca(SSL_CTX *ctx, const char *ca, char *err, size_t errlen)
{
	STACK_OF(X509_NAME) * names;

	if (tls_readable("tls_client_ca", ca, err, errlen) == -1)
		return -1;
	if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    (names = SSL_load_client_CA_file(ca)) == NULL) {
		tls_fail("tls_client_ca", ca, err, errlen);
		return -1;
	}
	SSL_CTX_set_client_CA_list(ctx, names);
	SSL_CTX_set_verify(ctx,
	    SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	return 0;
}

static int
tls_no_passphrase(char *buf, int size, int rwflag, void *arg)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)arg;
	return 0;
}

struct ssl_ctx_st *
tls_ctx_new(const char *cert, const char *key, const char *client_ca, char *err,
    size_t errlen)
{
	static const unsigned char session_context[] = "hellod";
	SSL_CTX *ctx;
	char why[256];

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		snprintf(err, errlen, "cannot set up TLS: %s",
		    tls_reason(why, sizeof(why), "out of memory"));
		return NULL;
	}
	/* A key with a passphrase fails to load, rather than ask a terminal. */
	SSL_CTX_set_default_passwd_cb(ctx, tls_no_passphrase);
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_options(ctx,
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
		SSL_OP_NO_COMPRESSION | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx,
	    SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
		SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* One ticket is enough to resume once; each costs the handshake. */
	SSL_CTX_set_num_tickets(ctx, 1);
	SSL_CTX_set_session_id_context(ctx, session_context,
	    sizeof(session_context) - 1);
	if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS_12) != 1) {
		snprintf(err, errlen, "cannot set up TLS: %s",
		    tls_reason(why, sizeof(why), "no cipher suite"));
	} else if (tls_load_identity(ctx, cert, key, err, errlen) == 0 &&
	    (client_ca[0] == '\0' ||
		tls_load_client_ca(ctx, client_ca, err, errlen) == 0)) {
		return ctx;
	}
	SSL_CTX_free(ctx);
	return NULL;
}

void
tls_ctx_free(struct ssl_ctx_st *ctx)
{
	SSL_CTX_free(ctx);
}

struct ssl_st *
tls_new(struct ssl_ctx_st *ctx, int fd)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl != NULL && SSL_set_fd(ssl, fd) != 1) {
		SSL_free(ssl);
		ssl = NULL;
	}
	if (ssl == NULL) {
		ERR_clear_error(); /* left behind, it would fail the next call
				    */
		return NULL;
	}
	SSL_set_accept_state(ssl);
	return ssl;
}

void
tls_free(struct ssl_st *ssl)
{
	SSL_free(ssl);
}

/*
 * What an SSL call's result means, in the system calls' terms.  errno is
 * the one the socket set, taken before anything else can change it.
 */
static ssize_t
tls_map(SSL *ssl, int rc, int saved, enum tls_want *want)
{
	switch (SSL_get_error(ssl, rc)) {
	case SSL_ERROR_WANT_READ:
		*want = TLS_WANT_READ;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*want = TLS_WANT_WRITE;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (saved == 0)
			return 0;
		errno = saved;
		return -1;
	default:
		errno = EPROTO;
		return -1;
	}
}

int
tls_handshake(struct ssl_st *ssl, enum tls_want *want, char *why, size_t whylen)
{
	int rc, saved;
	long verify;

	errno = 0;
	rc = SSL_do_handshake(ssl);
	saved = errno;
	if (rc == 1)
		return 0;
	if (tls_map(ssl, rc, saved, want) == -1 && errno == EAGAIN)
		return -1;
	if (errno == EPROTO) {
		char reason[160];
		tls_failure(reason, sizeof(reason));
		verify = SSL_get_verify_result(ssl);
		if (verify != X509_V_OK)
			snprintf(why, whylen, "%s: %s", reason,
			    X509_verify_cert_error_string(verify));
		else
			snprintf(why, whylen, "%s", reason);
	} else if (saved == 0) {
		snprintf(why, whylen, "closed during the handshake");
	} else {
		snprintf(why, whylen, "%s", strerror(saved));
	}
	*want = TLS_WANT_NOTHING;
	return -2;
}

/* An SSL read's or write's result; errno is still the socket's here. */
static ssize_t
tls_io(SSL *ssl, int rc, enum tls_want *want)
{
	int saved = errno;

	return rc > 0 ? rc : tls_map(ssl, rc, saved, want);
}

static int
tls_len(size_t len)
{
	return len > INT32_MAX ? INT32_MAX : (int)len;
}

ssize_t
tls_recv(struct ssl_st *ssl, void *buf, size_t len, enum tls_want *want)
{
	errno = 0;
	return tls_io(ssl, SSL_read(ssl, buf, tls_len(len)), want);
}

/*
 * A write never reports 0: past the peer's end of stream (which OpenSSL
 * takes for its close_notify) a failed write is the broken pipe it is.
 */
ssize_t
tls_send(struct ssl_st *ssl, const void *buf, size_t len, enum tls_want *want)
{
	ssize_t n;
	int saved;

	errno = 0;
	n = tls_io(ssl, SSL_write(ssl, buf, tls_len(len)), want);
	saved = errno;
	if (n == 0) {
		ERR_clear_error();
		errno = saved != 0 ? saved : EPIPE;
		return -1;
	}
	return n;
}

bool
tls_has_pending(const struct ssl_st *ssl)
{
	return SSL_pending(ssl) > 0;
}

void
tls_close_notify(struct ssl_st *ssl)
{
	SSL_shutdown(ssl);
	ERR_clear_error();
}

const char *
tls_version(const struct ssl_st *ssl)
{
	return SSL_get_version(ssl);
}

const char *
tls_client(const struct ssl_st *ssl, char *buf, size_t len)
{
	X509 *peer = SSL_get0_peer_certificate(ssl);

	buf[0] = '\0';
	if (peer != NULL)
		X509_NAME_oneline(X509_get_subject_name(peer), buf, (int)len);
	return buf;
}
