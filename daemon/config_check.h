/*
 * Checks of single configuration values, for config.c's table of keys:
 * 0 when the value is good, else -1 with the reason in why.
 */
#ifndef HELLOD_CONFIG_CHECK_H
#define HELLOD_CONFIG_CHECK_H

#include <stddef.h>

#include "config.h"

int config_check_bind(struct config *cfg, char *why, size_t whylen);
int config_check_tls_bind(struct config *cfg, char *why, size_t whylen);
int config_check_welcome(struct config *cfg, char *why, size_t whylen);
int config_check_reply(struct config *cfg, char *why, size_t whylen);
int config_check_user(struct config *cfg, char *why, size_t whylen);
int config_check_group(struct config *cfg, char *why, size_t whylen);
int config_check_metrics_bind(struct config *cfg, char *why, size_t whylen);
int config_check_trusted(struct config *cfg, char *why, size_t whylen);
int config_check_unix_mode(struct config *cfg, char *why, size_t whylen);
int config_check_unix_group(struct config *cfg, char *why, size_t whylen);
int config_check_allow(struct config *cfg, char *why, size_t whylen);
int config_check_deny(struct config *cfg, char *why, size_t whylen);

#endif
