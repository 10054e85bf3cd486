#include "config.h"

#include <assert.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_check.h"
#include "config_text.h"
#include "tls.h"

enum config_type {
	CONFIG_INT,
	CONFIG_STRING,
	CONFIG_ENUM,
	CONFIG_BOOL,
	CONFIG_LIST, /* of strings */
};

/* Validates a key's new value and derives what depends on it. */
typedef int (*config_check_fn)(struct config *cfg, char *why, size_t whylen);

/* One row per key: its type, bounds, default and where it is stored. */
struct config_key {
	const char *name;
	enum config_type type;
	size_t offset;
	long long min;
	long long max;
	long long def;
	const char *def_str;
	const char *const *def_list; /* NULL-terminated */
	const char *example;	     /* of a list, for errors */
	const char *const *choices;
	bool path; /* a string naming a file: "" or an absolute path */
	config_check_fn check;
};

static const char *const config_framings[] = { "auto", "line", "raw", NULL };
static const char *const config_levels[] = { "error", "warning", "info",
	"debug", NULL };
static const char *const config_formats[] = { "text", "json", NULL };
static const char *const config_default_bind[] = { "127.0.0.1", "::1", NULL };
static const char *const config_default_trusted[] = { "127.0.0.0/8", "::1/128",
	NULL };
static const char *const config_no_items[] = { NULL };

#define FIELD(f) offsetof(struct config, f)

static const struct config_key config_keys[] = {
	{ .name = "port",
	    .type = CONFIG_INT,
	    .offset = FIELD(port),
	    .min = 0,
	    .max = 65535,
	    .def = 9999 },
	{ .name = "backlog",
	    .type = CONFIG_INT,
	    .offset = FIELD(backlog),
	    .min = 1,
	    .max = 65535,
	    .def = 128 },
	{ .name = "bind",
	    .type = CONFIG_LIST,
	    .offset = FIELD(bind),
	    .def_list = config_default_bind,
	    .example = "[\"127.0.0.1\", \"::1\"]",
	    .check = config_check_bind },
	{ .name = "unix_mode",
	    .type = CONFIG_STRING,
	    .offset = FIELD(unix_mode),
	    .def_str = "0660",
	    .check = config_check_unix_mode },
	{ .name = "unix_group",
	    .type = CONFIG_STRING,
	    .offset = FIELD(unix_group),
	    .def_str = "",
	    .check = config_check_unix_group },
	{ .name = "max_line",
	    .type = CONFIG_INT,
	    .offset = FIELD(max_line),
	    .min = 1,
	    .max = 1024 * 1024,
	    .def = 1024 },
	{ .name = "fragment_delay_ms",
	    .type = CONFIG_INT,
	    .offset = FIELD(fragment_delay_ms),
	    .min = 1,
	    .max = 10000,
	    .def = 100 },
	{ .name = "shutdown_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(shutdown_timeout),
	    .min = 1,
	    .max = 3600,
	    .def = 10 },
	{ .name = "drain_grace_ms",
	    .type = CONFIG_INT,
	    .offset = FIELD(drain_grace_ms),
	    .min = 0,
	    .max = 3600000,
	    .def = 1500 },
	{ .name = "workers",
	    .type = CONFIG_INT,
	    .offset = FIELD(workers),
	    .min = 0,
	    .max = 256,
	    .def = 1 },
	{ .name = "max_clients",
	    .type = CONFIG_INT,
	    .offset = FIELD(max_clients),
	    .min = 1,
	    .max = 1000000,
	    .def = 10000 },
	{ .name = "max_clients_per_ip",
	    .type = CONFIG_INT,
	    .offset = FIELD(max_clients_per_ip),
	    .min = 0,
	    .max = 1000000,
	    .def = 0 },
	{ .name = "idle_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(idle_timeout),
	    .min = 0,
	    .max = 86400,
	    .def = 300 },
	{ .name = "line_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(line_timeout),
	    .min = 0,
	    .max = 86400,
	    .def = 30 },
	{ .name = "max_output",
	    .type = CONFIG_INT,
	    .offset = FIELD(max_output),
	    .min = 1,
	    .max = 64 * 1024 * 1024,
	    .def = 64 * 1024 },
	{ .name = "write_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(write_timeout),
	    .min = 0,
	    .max = 86400,
	    .def = 30 },
	{ .name = "framing",
	    .type = CONFIG_ENUM,
	    .offset = FIELD(framing),
	    .choices = config_framings,
	    .def = PROTO_FRAMING_AUTO },
	{ .name = "log_level",
	    .type = CONFIG_ENUM,
	    .offset = FIELD(log_level),
	    .choices = config_levels,
	    .def = LOG_LEVEL_INFO },
	{ .name = "welcome",
	    .type = CONFIG_STRING,
	    .offset = FIELD(welcome),
	    .def_str = "Welcome!",
	    .check = config_check_welcome },
	{ .name = "reply",
	    .type = CONFIG_STRING,
	    .offset = FIELD(reply),
	    .def_str = "Hello, %s!",
	    .check = config_check_reply },
	{ .name = "user",
	    .type = CONFIG_STRING,
	    .offset = FIELD(user),
	    .def_str = "",
	    .check = config_check_user },
	{ .name = "group",
	    .type = CONFIG_STRING,
	    .offset = FIELD(group),
	    .def_str = "",
	    .check = config_check_group },
	{ .name = "pidfile",
	    .type = CONFIG_STRING,
	    .offset = FIELD(pidfile),
	    .def_str = "",
	    .path = true },
	{ .name = "log_format",
	    .type = CONFIG_ENUM,
	    .offset = FIELD(log_format),
	    .choices = config_formats,
	    .def = LOG_FORMAT_TEXT },
	{ .name = "metrics_bind",
	    .type = CONFIG_STRING,
	    .offset = FIELD(metrics_bind),
	    .def_str = "",
	    .check = config_check_metrics_bind },
	{ .name = "proxy_protocol",
	    .type = CONFIG_BOOL,
	    .offset = FIELD(proxy_protocol),
	    .def = 0 },
	{ .name = "proxy_trusted",
	    .type = CONFIG_LIST,
	    .offset = FIELD(proxy_trusted),
	    .def_list = config_default_trusted,
	    .example = "[\"127.0.0.0/8\", \"10.0.0.0/8\"]",
	    .check = config_check_trusted },
	{ .name = "proxy_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(proxy_timeout),
	    .min = 1,
	    .max = 3600,
	    .def = 5 },
	{ .name = "reuse_port",
	    .type = CONFIG_BOOL,
	    .offset = FIELD(reuse_port),
	    .def = 0 },
	{ .name = "allow",
	    .type = CONFIG_LIST,
	    .offset = FIELD(allow),
	    .def_list = config_no_items,
	    .example = "[\"10.0.0.0/8\", \"2001:db8::/32\"]",
	    .check = config_check_allow },
	{ .name = "deny",
	    .type = CONFIG_LIST,
	    .offset = FIELD(deny),
	    .def_list = config_no_items,
	    .example = "[\"192.0.2.0/24\"]",
	    .check = config_check_deny },
	{ .name = "connection_rate",
	    .type = CONFIG_INT,
	    .offset = FIELD(connection_rate),
	    .min = 0,
	    .max = 1000000,
	    .def = 0 },
	{ .name = "connection_burst",
	    .type = CONFIG_INT,
	    .offset = FIELD(connection_burst),
	    .min = 1,
	    .max = 1000000,
	    .def = 10 },
	{ .name = "rate_ipv6_prefix",
	    .type = CONFIG_INT,
	    .offset = FIELD(rate_ipv6_prefix),
	    .min = 1,
	    .max = 128,
	    .def = 64 },
	{ .name = "tls_bind",
	    .type = CONFIG_LIST,
	    .offset = FIELD(tls_bind),
	    .def_list = config_no_items,
	    .example = "[\"0.0.0.0\", \"::\"]",
	    .check = config_check_tls_bind },
	{ .name = "tls_port",
	    .type = CONFIG_INT,
	    .offset = FIELD(tls_port),
	    .min = 0,
	    .max = 65535,
	    .def = 9443 },
	{ .name = "tls_certificate",
	    .type = CONFIG_STRING,
	    .offset = FIELD(tls_certificate),
	    .def_str = "",
	    .path = true },
	{ .name = "tls_key",
	    .type = CONFIG_STRING,
	    .offset = FIELD(tls_key),
	    .def_str = "",
	    .path = true },
	{ .name = "tls_client_ca",
	    .type = CONFIG_STRING,
	    .offset = FIELD(tls_client_ca),
	    .def_str = "",
	    .path = true },
	{ .name = "tls_handshake_timeout",
	    .type = CONFIG_INT,
	    .offset = FIELD(tls_handshake_timeout),
	    .min = 1,
	    .max = 3600,
	    .def = 10 },
};

#define CONFIG_NKEYS (sizeof(config_keys) / sizeof(config_keys[0]))

const char *
config_framing_name(int framing)
{
	return config_framings[framing];
}

static void
config_list_clear(struct config_list *list)
{
	for (size_t i = 0; i < list->count; i++)
		free(list->items[i]);
	free(list->items);
	list->items = NULL;
	list->count = 0;
}

static int
config_list_add(struct config_list *list, const char *item)
{
	char **items = realloc(list->items, (list->count + 1) * sizeof(*items));

	if (items == NULL)
		return -1;
	list->items = items;
	if ((items[list->count] = strdup(item)) == NULL)
		return -1;
	list->count++;
	return 0;
}

static int
config_set_string(char **field, const char *value)
{
	char *copy = strdup(value);

	if (copy == NULL)
		return -1;
	free(*field);
	*field = copy;
	return 0;
}

static void config_fail(char *err, size_t errlen, const char *path, int line,
    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void
config_fail(char *err, size_t errlen, const char *path, int line,
    const char *fmt, ...)
{
	int n = line > 0 ? snprintf(err, errlen, "%s:%d: ", path, line)
			 : snprintf(err, errlen, "%s: ", path);
	va_list ap;

	if (n < 0 || (size_t)n >= errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
	va_end(ap);
}

static const char *
config_type_name(int type)
{
	switch (type) {
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a float";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	default:
		return "a list";
	}
}

static int
config_get_int(struct config *cfg, const struct config_key *key,
    config_setting_t *s, const char *text, char *why, size_t whylen)
{
	long long v = config_setting_get_int64(s);
	bool overflow = false;

	if (s->type != CONFIG_TYPE_INT && s->type != CONFIG_TYPE_INT64) {
		snprintf(why, whylen, "expected an integer, got %s",
		    config_type_name(s->type));
		return -1;
	}
	config_text_int(text, config_setting_source_line(s), key->name, &v,
	    &overflow);
	if (overflow) {
		snprintf(why, whylen,
		    "the number is too large (allowed: %lld to %lld)", key->min,
		    key->max);
		return -1;
	}
	if (v < key->min || v > key->max) {
		snprintf(why, whylen, "%lld is out of range (%lld to %lld)", v,
		    key->min, key->max);
		return -1;
	}
	*(int *)((char *)cfg + key->offset) = (int)v;
	return 0;
}

static int
config_get_enum(struct config *cfg, const struct config_key *key,
    config_setting_t *s, char *why, size_t whylen)
{
	const char *v = config_setting_get_string(s);
	size_t n;

	if (v == NULL) {
		snprintf(why, whylen, "expected a string, got %s",
		    config_type_name(s->type));
		return -1;
	}
	for (int i = 0; key->choices[i] != NULL; i++) {
		if (strcmp(v, key->choices[i]) == 0) {
			*(int *)((char *)cfg + key->offset) = i;
			return 0;
		}
	}
	n = (size_t)snprintf(why, whylen, "'%s' is not one of", v);
	for (int i = 0; key->choices[i] != NULL && n < whylen; i++)
		n += (size_t)snprintf(why + n, whylen - n, "%s %s",
		    i > 0 ? "," : "", key->choices[i]);
	return -1;
}

static int
config_get_string(struct config *cfg, const struct config_key *key,
    config_setting_t *s, char *why, size_t whylen)
{
	const char *v = config_setting_get_string(s);

	if (v == NULL) {
		snprintf(why, whylen, "expected a string, got %s",
		    config_type_name(s->type));
		return -1;
	}
	/* The working folder varies: a file is named from the root. */
	if (key->path && v[0] != '\0' && v[0] != '/') {
		snprintf(why, whylen, "'%s' is not an absolute path", v);
		return -1;
	}
	if (config_set_string((char **)((char *)cfg + key->offset), v) == -1) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	return 0;
}

static int
config_get_bool(struct config *cfg, const struct config_key *key,
    config_setting_t *s, char *why, size_t whylen)
{
	if (s->type != CONFIG_TYPE_BOOL) {
		snprintf(why, whylen, "expected true or false, got %s",
		    config_type_name(s->type));
		return -1;
	}
	*(bool *)((char *)cfg + key->offset) = config_setting_get_bool(s);
	return 0;
}

static int
config_get_list(struct config *cfg, const struct config_key *key,
    config_setting_t *s, char *why, size_t whylen)
{
	struct config_list *list = (void *)((char *)cfg + key->offset);

	if (!config_setting_is_array(s) && !config_setting_is_list(s)) {
		snprintf(why, whylen, "expected a list like %s, got %s",
		    key->example, config_type_name(s->type));
		return -1;
	}
	config_list_clear(list);
	for (int i = 0; i < config_setting_length(s); i++) {
		const char *item = config_setting_get_string(
		    config_setting_get_elem(s, (unsigned)i));
		if (item == NULL) {
			snprintf(why, whylen, "entry %d is not a string",
			    i + 1);
			return -1;
		}
		if (config_list_add(list, item) == -1) {
			snprintf(why, whylen, "out of memory");
			return -1;
		}
	}
	/* Only the built-in addresses may be skipped on a host that lacks
	 * one; addresses the file names must bind. */
	if (list == &cfg->bind)
		cfg->bind_is_default = false;
	return 0;
}

static int
config_get_key(struct config *cfg, const struct config_key *key,
    config_setting_t *s, const char *text, char *why, size_t whylen)
{
	int rc = -1;

	switch (key->type) {
	case CONFIG_INT:
		rc = config_get_int(cfg, key, s, text, why, whylen);
		break;
	case CONFIG_ENUM:
		rc = config_get_enum(cfg, key, s, why, whylen);
		break;
	case CONFIG_STRING:
		rc = config_get_string(cfg, key, s, why, whylen);
		break;
	case CONFIG_BOOL:
		rc = config_get_bool(cfg, key, s, why, whylen);
		break;
	case CONFIG_LIST:
		rc = config_get_list(cfg, key, s, why, whylen);
		break;
	}
	if (rc == 0 && key->check != NULL)
		rc = key->check(cfg, why, whylen);
	return rc;
}

static const struct config_key *
config_find_key(const char *name)
{
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (strcmp(config_keys[i].name, name) == 0)
			return &config_keys[i];
	return NULL;
}

static int
config_set_default(struct config *cfg, const struct config_key *key)
{
	char why[256];
	int rc = 0;

	switch (key->type) {
	case CONFIG_INT:
	case CONFIG_ENUM:
		*(int *)((char *)cfg + key->offset) = (int)key->def;
		break;
	case CONFIG_STRING:
		rc = config_set_string((char **)((char *)cfg + key->offset),
		    key->def_str);
		break;
	case CONFIG_BOOL:
		*(bool *)((char *)cfg + key->offset) = key->def != 0;
		break;
	case CONFIG_LIST:
		for (size_t i = 0; key->def_list[i] != NULL && rc == 0; i++)
			rc =
			    config_list_add((void *)((char *)cfg + key->offset),
				key->def_list[i]);
		break;
	}
	if (rc == 0 && key->check != NULL)
		rc = key->check(cfg, why, sizeof(why));
	return rc;
}

static struct config *
config_new(const char *path)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return NULL;
	atomic_init(&cfg->refs, 1);
	cfg->bind_is_default = true;
	if ((cfg->path = strdup(path)) == NULL)
		goto fail;
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (config_set_default(cfg, &config_keys[i]) == -1)
			goto fail;
	return cfg;
fail:
	config_unref(cfg);
	return NULL;
}

static int
config_parse(struct config *cfg, const char *text, char *err, size_t errlen)
{
	config_t lc;
	config_setting_t *root;
	char why[256];
	int include, rc = -1;

	config_init(&lc);
	if ((include = config_text_include_line(text)) != 0) {
		config_fail(err, errlen, cfg->path, include,
		    "@include is not supported: keep the configuration in one "
		    "file");
		goto done;
	}
	if (!config_read_string(&lc, text)) {
		int line = config_error_line(&lc);
		char word[64];
		config_text_word_at(text, line, word, sizeof(word));
		config_fail(err, errlen, cfg->path, line, "%s%s%s%s",
		    config_error_text(&lc), word[0] ? " (at '" : "", word,
		    word[0] ? "')" : "");
		goto done;
	}
	root = config_root_setting(&lc);
	for (int i = 0; i < config_setting_length(root); i++) {
		config_setting_t *s =
		    config_setting_get_elem(root, (unsigned)i);
		const struct config_key *key =
		    config_find_key(config_setting_name(s));
		int line = config_setting_source_line(s);
		if (key == NULL) {
			config_fail(err, errlen, cfg->path, line,
			    "%s: unknown key", config_setting_name(s));
			goto done;
		}
		if (config_get_key(cfg, key, s, text, why, sizeof(why))) {
			config_fail(err, errlen, cfg->path, line, "%s: %s",
			    key->name, why);
			goto done;
		}
	}
	cfg->proto = (struct proto_params){
		.reply_head = cfg->reply_head,
		.reply_head_len = strlen(cfg->reply_head),
		.reply_tail = cfg->reply_tail,
		.reply_tail_len = strlen(cfg->reply_tail),
		.max_line = (size_t)cfg->max_line,
		.framing = (enum proto_framing)cfg->framing,
	};
	rc = 0;
done:
	config_destroy(&lc);
	return rc;
}

/*
 * The TLS files are read with the config, so that a start, a reload and
 * hellod -t all find a broken certificate before any client does.
 */
static int
config_load_tls(struct config *cfg, char *err, size_t errlen)
{
	char why[512];

	if (cfg->tls_certificate[0] == '\0') {
		if (cfg->tls_bind.count == 0 && cfg->tls_key[0] == '\0' &&
		    cfg->tls_client_ca[0] == '\0')
			return 0;
		config_fail(err, errlen, cfg->path, 0, "%s",
		    cfg->tls_bind.count > 0
			? "tls_bind: TLS listeners need tls_certificate"
			: "tls_key and tls_client_ca need tls_certificate");
		return -1;
	}
	cfg->tls = tls_ctx_new(cfg->tls_certificate, cfg->tls_key,
	    cfg->tls_client_ca, why, sizeof(why));
	if (cfg->tls == NULL) {
		config_fail(err, errlen, cfg->path, 0, "%s", why);
		return -1;
	}
	return 0;
}

struct config *
config_load(const char *path, char *err, size_t errlen)
{
	struct config *cfg;
	char *text, why[256];

	if ((text = config_text_read(path, why, sizeof(why))) == NULL) {
		config_fail(err, errlen, path, 0, "%s", why);
		return NULL;
	}
	if ((cfg = config_new(path)) == NULL) {
		config_fail(err, errlen, path, 0, "out of memory");
	} else if (config_parse(cfg, text, err, errlen) == -1 ||
	    config_load_tls(cfg, err, errlen) == -1) {
		config_unref(cfg);
		cfg = NULL;
	}
	free(text);
	return cfg;
}

struct config *
config_ref(struct config *cfg)
{
	atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
	return cfg;
}

void
config_unref(struct config *cfg)
{
	if (cfg == NULL ||
	    atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) > 1)
		return;
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].type == CONFIG_STRING)
			free(*(char **)((char *)cfg + config_keys[i].offset));
	for (size_t i = 0; i < CONFIG_NKEYS; i++)
		if (config_keys[i].type == CONFIG_LIST)
			config_list_clear(
			    (void *)((char *)cfg + config_keys[i].offset));
	tls_ctx_free(cfg->tls);
	free(cfg->trusted);
	free(cfg->access.allow);
	free(cfg->access.deny);
	free(cfg->welcome_line);
	free(cfg->reply_head);
	free(cfg->reply_tail);
	free(cfg->path);
	free(cfg);
}
