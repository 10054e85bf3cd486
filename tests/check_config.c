/* Unit tests for the config module: valid files and each kind of error. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "unit.h"

static char dir[] = "/tmp/hellod-config-XXXXXX";
static char path[sizeof(dir) + 32];
static char err[512];

/* Each test writes the file afresh; the folder is main()'s. */
static void
setup(void)
{
	err[0] = '\0';
}

static void
teardown(void)
{
	unlink(path);
}

static void
write_file(const char *text, size_t len)
{
	FILE *f = fopen(path, "w");

	ck_assert_ptr_nonnull(f);
	ck_assert_uint_eq(fwrite(text, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
}

static struct config *
load(const char *text)
{
	write_file(text, strlen(text));
	return config_load(path, err, sizeof(err));
}

/* Asserts that loading fails with "PATH:" followed by want. */
static void
expect_error(const char *want)
{
	char full[512];

	snprintf(full, sizeof(full), "%s:%s", path, want);
	ck_assert_str_eq(err, full);
}

START_TEST(test_defaults)
{
	struct config *cfg = load("# nothing set\n");

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->port, 9999);
	ck_assert_int_eq(cfg->backlog, 128);
	ck_assert_uint_eq(cfg->bind.count, 2);
	ck_assert_str_eq(cfg->bind.items[0], "127.0.0.1");
	ck_assert_str_eq(cfg->bind.items[1], "::1");
	ck_assert(cfg->bind_is_default);
	ck_assert_int_eq(cfg->max_line, 1024);
	ck_assert_int_eq(cfg->fragment_delay_ms, 100);
	ck_assert_int_eq(cfg->shutdown_timeout, 10);
	ck_assert_int_eq(cfg->drain_grace_ms, 1500);
	ck_assert_int_eq(cfg->max_clients, 10000);
	ck_assert_int_eq(cfg->max_clients_per_ip, 0);
	ck_assert_int_eq(cfg->idle_timeout, 300);
	ck_assert_int_eq(cfg->line_timeout, 30);
	ck_assert_int_eq(cfg->max_output, 65536);
	ck_assert_int_eq(cfg->write_timeout, 30);
	ck_assert_int_eq(cfg->framing, PROTO_FRAMING_AUTO);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_INFO);
	ck_assert_str_eq(cfg->welcome_line, "Welcome!\r\n");
	ck_assert_uint_eq(cfg->welcome_line_len, 10);
	ck_assert_str_eq(cfg->proto.reply_head, "Hello, ");
	ck_assert_str_eq(cfg->proto.reply_tail, "!");
	ck_assert_uint_eq(cfg->proto.max_line, 1024);
	config_unref(cfg);
}
END_TEST

START_TEST(test_every_key)
{
	struct config *cfg = load("port = 0;\n"
				  "backlog = 1;\n"
				  "bind = [\"0.0.0.0\", \"::\"];\n"
				  "max_line = 0x10;\n"
				  "fragment_delay_ms = 250;\n"
				  "shutdown_timeout = 3600;\n"
				  "drain_grace_ms = 0;\n"
				  "framing = \"raw\";\n"
				  "log_level = \"debug\";\n"
				  "welcome = \"Hi there\";\n"
				  "reply = \"100%% sure, %s\";\n");

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->port, 0);
	ck_assert_int_eq(cfg->backlog, 1);
	ck_assert_uint_eq(cfg->bind.count, 2);
	ck_assert_str_eq(cfg->bind.items[1], "::");
	ck_assert(!cfg->bind_is_default);
	ck_assert_int_eq(cfg->max_line, 16);
	ck_assert_int_eq(cfg->fragment_delay_ms, 250);
	ck_assert_int_eq(cfg->shutdown_timeout, 3600);
	ck_assert_int_eq(cfg->drain_grace_ms, 0);
	ck_assert_int_eq(cfg->proto.framing, PROTO_FRAMING_RAW);
	ck_assert_int_eq(cfg->log_level, LOG_LEVEL_DEBUG);
	ck_assert_str_eq(cfg->welcome_line, "Hi there\r\n");
	ck_assert_str_eq(cfg->proto.reply_head, "100% sure, ");
	ck_assert_str_eq(cfg->proto.reply_tail, "");
	config_unref(cfg);
}
END_TEST

/* Good files, and what they must set; -1 or NULL: not checked. */
static const struct good {
	const char *text;
	int port, backlog, max_line;
	const char *welcome_line;
} good[] = {
	/* Numbers are read where the key stands, in libconfig's bases. */
	{ "welcome = \"port = 1\"; port = 80;\n# backlog = 3\nbacklog = 010; "
	  "max_line = 0x20;\n",
	    80, 10, 32, NULL },
	/* A comment on a last line without a newline is still a comment. */
	{ "port = 7;\n# the end", 7, -1, -1, NULL },
	{ "welcome = \"\";\n", -1, -1, -1, "" },
	{ "welcome = \"Hi\";\n", -1, -1, -1, "Hi\r\n" },
};

START_TEST(test_good_config)
{
	const struct good *g = &good[_i];
	struct config *cfg = load(g->text);

	ck_assert_msg(cfg != NULL, "row %d: %s", _i, err);
	if (g->port != -1)
		ck_assert_int_eq(cfg->port, g->port);
	if (g->backlog != -1)
		ck_assert_int_eq(cfg->backlog, g->backlog);
	if (g->max_line != -1)
		ck_assert_int_eq(cfg->max_line, g->max_line);
	if (g->welcome_line != NULL) {
		ck_assert_str_eq(cfg->welcome_line, g->welcome_line);
		ck_assert_uint_eq(cfg->welcome_line_len,
		    strlen(g->welcome_line));
	}
	config_unref(cfg);
}
END_TEST

/* A reference keeps a config alive after its loader lets go. */
START_TEST(test_refcount)
{
	struct config *cfg = load("welcome = \"kept\";\n");

	ck_assert_ptr_nonnull(cfg);
	ck_assert_ptr_eq(config_ref(cfg), cfg);
	config_unref(cfg);
	ck_assert_str_eq(cfg->welcome, "kept");
	config_unref(cfg);
}
END_TEST

/* The shipped config is valid and states the built-in defaults. */
START_TEST(test_shipped_config)
{
	const char *conf = getenv("HELLOD_SHIPPED_CONF");
	struct config *cfg;

	ck_assert_msg(conf != NULL, "HELLOD_SHIPPED_CONF is not set");
	cfg = config_load(conf, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->port, 9999);
	ck_assert_str_eq(cfg->welcome_line, "Welcome!\r\n");
	ck_assert_str_eq(cfg->reply, "Hello, %s!");
	config_unref(cfg);
}
END_TEST

static const struct {
	const char *text;
	const char *error; /* after "PATH:" */
} bad[] = {
	{ "port = 70000;\n", "1: port: 70000 is out of range (0 to 65535)" },
	{ "\n\nport = -1;\n", "3: port: -1 is out of range (0 to 65535)" },
	/* libconfig alone would wrap this to 7777 */
	{ "port = 4294975073;\n",
	    "1: port: 4294975073 is out of range (0 to 65535)" },
	{ "port = \"80\";\n", "1: port: expected an integer, got a string" },
	{ "backlog = 0;\n", "1: backlog: 0 is out of range (1 to 65535)" },
	{ "proxy_trusted = [\"10.0.0.1/8\"];\n",
	    "1: proxy_trusted: '10.0.0.1/8': has host bits set past /8" },
	{ "proxy_trusted = [\"10.0.0.0/33\"];\n",
	    "1: proxy_trusted: '10.0.0.0/33': the prefix must be 0 to 32" },
	{ "proxy_protocol = 1;\n",
	    "1: proxy_protocol: expected true or false, got an integer" },
	{ "allow = [\"10.0.0.0/8\", \"localhost\"];\n",
	    "1: allow: 'localhost': not an IPv4 or IPv6 address" },
	{ "\ndeny = [\"192.0.2.1/24\"];\n",
	    "2: deny: '192.0.2.1/24': has host bits set past /24" },
	{ "deny = \"192.0.2.0/24\";\n",
	    "1: deny: expected a list like [\"192.0.2.0/24\"], got a string" },
	{ "connection_rate = -1;\n",
	    "1: connection_rate: -1 is out of range (0 to 1000000)" },
	{ "connection_burst = 0;\n",
	    "1: connection_burst: 0 is out of range (1 to 1000000)" },
	{ "rate_ipv6_prefix = 129;\n",
	    "1: rate_ipv6_prefix: 129 is out of range (1 to 128)" },
	{ "tls_bind = [\"127.0.0.1\", \"127.0.0.1\"];\n",
	    "1: tls_bind: '127.0.0.1' is listed twice" },
	{ "tls_bind = [\"example.org\"];\n",
	    "1: tls_bind: 'example.org' is not a numeric IPv4 or IPv6 address" },
	{ "tls_port = 65536;\n",
	    "1: tls_port: 65536 is out of range (0 to 65535)" },
	{ "\ntls_key = \"key.pem\";\n",
	    "2: tls_key: 'key.pem' is not an absolute path" },
	{ "tls_client_ca = \"ca.pem\";\n",
	    "1: tls_client_ca: 'ca.pem' is not an absolute path" },
	{ "tls_handshake_timeout = 0;\n",
	    "1: tls_handshake_timeout: 0 is out of range (1 to 3600)" },
	{ "tls_bind = [\"127.0.0.1\"];\n",
	    " tls_bind: TLS listeners need tls_certificate" },
	{ "tls_client_ca = \"/etc/ca.pem\";\n",
	    " tls_key and tls_client_ca need tls_certificate" },
	{ "metrics_bind = \"localhost:9100\";\n",
	    "1: metrics_bind: 'localhost:9100' is not an address and port like "
	    "\"127.0.0.1:9100\" or \"[::1]:9100\"" },
	{ "log_format = \"xml\";\n",
	    "1: log_format: 'xml' is not one of text, json" },
	{ "max_clients = 0;\n",
	    "1: max_clients: 0 is out of range (1 to 1000000)" },
	{ "max_clients_per_ip = -1;\n",
	    "1: max_clients_per_ip: -1 is out of range (0 to 1000000)" },
	{ "idle_timeout = -5;\n",
	    "1: idle_timeout: -5 is out of range (0 to 86400)" },
	{ "max_output = 0;\n",
	    "1: max_output: 0 is out of range (1 to 67108864)" },
	{ "line_timeout = 99999999999999999999;\n",
	    "1: line_timeout: the number is too large (allowed: 0 to 86400)" },
	{ "max_line = 0;\n", "1: max_line: 0 is out of range (1 to 1048576)" },
	{ "shutdown_timeout = 1.5;\n",
	    "1: shutdown_timeout: expected an integer, got a float" },
	{ "drain_grace_ms = -1;\n",
	    "1: drain_grace_ms: -1 is out of range (0 to 3600000)" },
	{ "fragment_delay_ms = true;\n",
	    "1: fragment_delay_ms: expected an integer, got a boolean" },
	{ "port = 1;\ncolour = \"red\";\n", "2: colour: unknown key" },
	{ "framing = \"tcp\";\n",
	    "1: framing: 'tcp' is not one of auto, line, raw" },
	{ "log_level = 3;\n",
	    "1: log_level: expected a string, got an integer" },
	{ "reply = \"Hi\";\n", "1: reply: needs one %s where the name goes" },
	{ "reply = \"%s and %s\";\n", "1: reply: has more than one %s" },
	{ "reply = \"%d: %s\";\n",
	    "1: reply: '%d' is not allowed: use exactly one %s for the name "
	    "and %% for a literal %" },
	{ "reply = \"Hi %s\\n\";\n",
	    "1: reply: must be one line (hellod adds the line ending)" },
	{ "welcome = \"a\\r\\nb\";\n",
	    "1: welcome: must be one line (hellod adds the line ending)" },
	{ "welcome = [\"a\"];\n", "1: welcome: expected a string, got a list" },
	{ "bind = \"127.0.0.1\";\n",
	    "1: bind: expected a list like [\"127.0.0.1\", \"::1\"], got a "
	    "string" },
	{ "bind = [];\n", "1: bind: needs at least one address" },
	{ "bind = [\"localhost\"];\n",
	    "1: bind: 'localhost' is not a numeric IPv4 or IPv6 address" },
	{ "bind = [\"127.0.0.1\", \"::1\", \"127.0.0.1\"];\n",
	    "1: bind: '127.0.0.1' is listed twice" },
	{ "bind = (\"127.0.0.1\", 5);\n", "1: bind: entry 2 is not a string" },
	{ "port = 1;\nport = 2;\n", "2: duplicate setting name (at 'port')" },
	{ "port = 1;\n  @include \"other.conf\"\n",
	    "2: @include is not supported: keep the configuration in one "
	    "file" },
	{ "welcome = \"Hi\";\nport = ;\n", "2: syntax error (at 'port')" },
};

START_TEST(test_bad_config)
{
	ck_assert_ptr_null(load(bad[_i].text));
	expect_error(bad[_i].error);
}
END_TEST

START_TEST(test_missing_file)
{
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	expect_error(" cannot open: No such file or directory");
}
END_TEST

START_TEST(test_directory)
{
	ck_assert_ptr_null(config_load(dir, err, sizeof(err)));
	ck_assert_str_eq(err + strlen(dir), ": not a regular file");
}
END_TEST

START_TEST(test_nul_byte)
{
	write_file("port = 1;\0\n", 11);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	expect_error(" contains a NUL byte");
}
END_TEST

START_TEST(test_huge_file)
{
	size_t len = 1024 * 1024 + 1;
	char *text = malloc(len);

	ck_assert_ptr_nonnull(text);
	memset(text, '#', len);
	write_file(text, len);
	free(text);
	ck_assert_ptr_null(config_load(path, err, sizeof(err)));
	expect_error(" larger than 1048576 bytes");
}
END_TEST

int
main(void)
{
	const struct unit_case tests[] = {
		UNIT_TEST(test_defaults),
		UNIT_TEST(test_every_key),
		UNIT_ROWS(test_good_config, good),
		UNIT_TEST(test_refcount),
		UNIT_TEST(test_shipped_config),
		UNIT_ROWS(test_bad_config, bad),
		UNIT_TEST(test_missing_file),
		UNIT_TEST(test_directory),
		UNIT_TEST(test_nul_byte),
		UNIT_TEST(test_huge_file),
	};

	int rc;

	/*
	 * Made here, not per test: a test that fails ends its child process
	 * at once, without its teardown, and the folder must still go.
	 */
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		return EXIT_FAILURE;
	}
	snprintf(path, sizeof(path), "%s/hellod.conf", dir);
	rc = UNIT_MAIN("config", tests, setup, teardown);
	unlink(path);
	rmdir(dir);
	return rc;
}
