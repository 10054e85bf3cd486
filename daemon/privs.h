/*
 * Giving up root: hellod binds as root (ports below 1024 need it or
 * CAP_NET_BIND_SERVICE), then serves as the configured user.
 */
#ifndef HELLOD_PRIVS_H
#define HELLOD_PRIVS_H

#include <stddef.h>

#include "config.h"

int privs_drop(const struct config *cfg, char *err, size_t errlen);

#endif
