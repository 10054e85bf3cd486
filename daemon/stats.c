#include "stats.h"

static const char *const stats_close_names[CLOSE_REASONS] = {
	[CLOSE_EXIT] = "exit",
	[CLOSE_EOF] = "eof",
	[CLOSE_IDLE] = "idle",
	[CLOSE_LINE_TOO_LONG] = "line_too_long",
	[CLOSE_LINE_TIMEOUT] = "line_timeout",
	[CLOSE_WRITE_TIMEOUT] = "write_timeout",
	[CLOSE_INTERRUPT] = "interrupt",
	[CLOSE_ERROR] = "error",
	[CLOSE_SHUTDOWN] = "shutdown",
	[CLOSE_SHUTDOWN_IDLE] = "shutdown_idle",
	[CLOSE_SHUTDOWN_TIMEOUT] = "shutdown_timeout",
	[CLOSE_TLS_ERROR] = "tls_error",
};

static const char *const stats_reject_names[REJECT_REASONS] = {
	[REJECT_BUSY] = "busy",
	[REJECT_PER_IP] = "per_ip",
	[REJECT_FD_LIMIT] = "fd_limit",
	[REJECT_PROXY] = "proxy",
	[REJECT_DENIED] = "denied",
	[REJECT_RATE] = "rate",
};

static const char *const stats_tls_names[TLS_RESULTS] = {
	[TLS_HANDSHAKE_OK] = "ok",
	[TLS_HANDSHAKE_FAILED] = "failed",
	[TLS_HANDSHAKE_TIMEOUT] = "timeout",
};

const char *
stats_close_name(enum close_reason reason)
{
	return stats_close_names[reason];
}

const char *
stats_reject_name(enum reject_reason reason)
{
	return stats_reject_names[reason];
}

const char *
stats_tls_name(enum tls_result result)
{
	return stats_tls_names[result];
}
