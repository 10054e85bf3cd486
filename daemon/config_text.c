/*
 * The configuration file as text, beside libconfig's reading of it: the
 * file read whole, and where things stand in it, for error messages that
 * name a line and for the one thing libconfig gets wrong.
 */
#include "config_text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A config file is a few hundred bytes; refuse anything absurd. */
#define CONFIG_FILE_MAX (1024 * 1024)

/*
 * Reads the whole file, so errors name the cause exactly; the text ends
 * in a newline.  NULL, with the reason in why, if it cannot be used.
 */
char *
config_text_read(const char *path, char *why, size_t whylen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	char *text = NULL;
	size_t len = 0;

	if (fd == -1) {
		snprintf(why, whylen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode)) {
		snprintf(why, whylen, "not a regular file");
		goto fail;
	}
	/* Room for a final newline and the NUL after the largest file. */
	if ((text = malloc(CONFIG_FILE_MAX + 2)) == NULL) {
		snprintf(why, whylen, "out of memory");
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, text + len, CONFIG_FILE_MAX + 1 - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(why, whylen, "cannot read: %s",
			    strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len > CONFIG_FILE_MAX) {
			snprintf(why, whylen, "larger than %d bytes",
			    CONFIG_FILE_MAX);
			goto fail;
		}
	}
	if (memchr(text, '\0', len) != NULL) {
		snprintf(why, whylen, "contains a NUL byte");
		goto fail;
	}
	/* libconfig 1.5 rejects a comment on a last line with no newline. */
	if (len > 0 && text[len - 1] != '\n')
		text[len++] = '\n';
	text[len] = '\0';
	close(fd);
	return text;
fail:
	free(text);
	close(fd);
	return NULL;
}

static const char *
config_line_start(const char *text, int line)
{
	for (int i = 1; i < line && text != NULL; i++) {
		text = strchr(text, '\n');
		if (text != NULL)
			text++;
	}
	return text;
}

static bool
config_is_word(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_';
}

/* Skips a comment or a quoted string at p; returns p if there is none. */
static const char *
config_skip_noise(const char *p)
{
	if (*p == '#' || (p[0] == '/' && p[1] == '/'))
		return p + strcspn(p, "\n");
	if (p[0] == '/' && p[1] == '*') {
		const char *end = strstr(p + 2, "*/");
		return end != NULL ? end + 2 : p + strlen(p);
	}
	if (*p != '"')
		return p;
	for (p++; *p != '\0' && *p != '"'; p++)
		if (*p == '\\' && p[1] != '\0')
			p++;
	return *p == '"' ? p + 1 : p;
}

/* The value after "key =" or "key :" from line on, outside strings. */
static const char *
config_find_value(const char *line, const char *key)
{
	size_t keylen = strlen(key);

	for (const char *p = line; *p != '\0';) {
		const char *next = config_skip_noise(p);
		if (next != p) {
			p = next;
			continue;
		}
		if (strncmp(p, key, keylen) == 0 &&
		    (p == line || !config_is_word(p[-1])) &&
		    !config_is_word(p[keylen])) {
			const char *q =
			    p + keylen + strspn(p + keylen, " \t\r\n");
			if (*q == '=' || *q == ':')
				return q + 1 + strspn(q + 1, " \t\r\n");
		}
		p++;
	}
	return NULL;
}

/*
 * libconfig 1.5 silently wraps integer literals that do not fit 32 bits
 * (4294975073 reads as 7777), so the literal after "key =" is parsed again
 * here, in libconfig's bases: decimal, or hexadecimal after 0x.  Returns
 * false when the source cannot be matched, and the caller keeps
 * libconfig's value.
 */
bool
config_text_int(const char *text, int line, const char *key, long long *value,
    bool *overflow)
{
	const char *start = config_line_start(text, line), *q, *digits;
	char *end;
	int base;

	if (start == NULL || (q = config_find_value(start, key)) == NULL)
		return false;
	digits = q + (*q == '-' || *q == '+');
	base = digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'X') ? 16
									  : 10;
	errno = 0;
	*value = strtoll(q, &end, base);
	if (end == q)
		return false;
	*overflow = errno == ERANGE;
	return true;
}

/* The first word on a line, to name the key a syntax error stands at. */
void
config_text_word_at(const char *text, int line, char *word, size_t wordlen)
{
	const char *p = config_line_start(text, line);
	size_t n = 0;

	word[0] = '\0';
	if (p == NULL)
		return;
	p += strspn(p, " \t");
	while (n + 1 < wordlen && (isalnum((unsigned char)p[n]) || p[n] == '_'))
		n++;
	memcpy(word, p, n);
	word[n] = '\0';
}

/*
 * The line of an @include directive, or 0.  Included files would escape
 * the checks made on this one, and resolve against the working directory
 * (/ for a daemon), so hellod takes its configuration from one file.
 */
int
config_text_include_line(const char *text)
{
	int line = 1;

	for (const char *p = text; *p != '\0'; line++) {
		p += strspn(p, " \t");
		if (strncmp(p, "@include", 8) == 0)
			return line;
		p += strcspn(p, "\n");
		if (*p == '\n')
			p++;
	}
	return 0;
}
