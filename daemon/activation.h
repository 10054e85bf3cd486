/*
 * Socket activation (sd_listen_fds(3)'s protocol, read directly): the
 * listening sockets a service manager passed in, with their names.
 */
#ifndef HELLOD_ACTIVATION_H
#define HELLOD_ACTIVATION_H

#include <stddef.h>

#define ACTIVATION_NAME_MAX 256

struct activation_socket {
	int fd;
	char name[ACTIVATION_NAME_MAX];
};

int activation_take(struct activation_socket **socks, size_t *n, char *err,
    size_t errlen);

#endif
