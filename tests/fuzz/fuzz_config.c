/*
 * Fuzzes the configuration loader: the input is the file.  config_load()
 * takes a path, so every input is written over one temporary file, made on
 * the first call and removed at exit.
 *
 * Checked on every input besides crashes and leaks: a loaded config keeps
 * the limits the key table promises, and a refused one says which file.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
const char *__lsan_default_suppressions(void);

/* Far beyond any real config; longer inputs only slow the search down. */
enum { FUZZ_MAX_INPUT = 64 * 1024 };

static char path[] = "/tmp/fuzz_config.XXXXXX";
static int fd = -1;

/*
 * libconfig 1.5 itself leaks on some syntax errors (its scanner's string
 * buffer, for one); a leak in hellod's own code still fails the run.
 */
const char *
__lsan_default_suppressions(void)
{
	return "leak:libconfig.so\n";
}

/* A trap, not assert(): it must fire in every build type. */
static void
require(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void
remove_file(void)
{
	unlink(path);
}

static void
write_file(const uint8_t *data, size_t size)
{
	if (fd == -1) {
		fd = mkstemp(path);
		require(fd != -1);
		atexit(remove_file);
	}
	require(ftruncate(fd, 0) == 0);
	for (size_t done = 0; done < size;) {
		ssize_t n = pwrite(fd, data + done, size - done, (off_t)done);
		require(n > 0);
		done += (size_t)n;
	}
}

static void
check_loaded(const struct config *cfg)
{
	const struct proto_params *pp = &cfg->proto;

	require(pp->max_line >= 1 && pp->max_line <= 1024 * 1024);
	require(pp->framing <= PROTO_FRAMING_RAW);
	require(pp->reply_head_len == strlen(pp->reply_head));
	require(pp->reply_tail_len == strlen(pp->reply_tail));
	require(cfg->welcome_line_len == strlen(cfg->welcome_line));
	require(cfg->bind.count > 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512] = "";
	struct config *cfg;

	if (size > FUZZ_MAX_INPUT)
		return -1;
	write_file(data, size);
	cfg = config_load(path, err, sizeof(err));
	if (cfg == NULL) {
		require(strncmp(err, path, strlen(path)) == 0);
		require(err[strlen(path)] == ':');
		return 0;
	}
	check_loaded(cfg);
	config_unref(cfg);
	return 0;
}
