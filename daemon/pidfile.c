#include "pidfile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct pidfile {
	int fd;
	char *path;
};

/* Names the process holding the lock, for the error line. */
static void
pidfile_holder(int fd, const char *path, char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };

	if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK)
		snprintf(err, errlen, "%s: hellod is already running (pid %ld)",
		    path, (long)fl.l_pid);
	else
		snprintf(err, errlen, "%s: locked by another process", path);
}

struct pidfile *
pidfile_create(const char *path, char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	struct pidfile *pf = calloc(1, sizeof(*pf));
	char pid[32];
	int n;

	if (pf == NULL || (pf->path = strdup(path)) == NULL) {
		snprintf(err, errlen, "pidfile: out of memory");
		goto fail;
	}
	if ((pf->fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		snprintf(err, errlen, "%s: cannot open: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fcntl(pf->fd, F_SETLK, &fl) == -1) {
		if (errno == EAGAIN || errno == EACCES)
			pidfile_holder(pf->fd, path, err, errlen);
		else
			snprintf(err, errlen, "%s: cannot lock: %s", path,
			    strerror(errno));
		close(pf->fd);
		goto fail;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(pf->fd, 0) == -1 ||
	    pwrite(pf->fd, pid, (size_t)n, 0) != n) {
		snprintf(err, errlen, "%s: cannot write: %s", path,
		    strerror(errno));
		close(pf->fd);
		goto fail;
	}
	return pf;
fail:
	if (pf != NULL)
		free(pf->path);
	free(pf);
	return NULL;
}

/*
 * Removes the file.  After dropping root, its directory may no longer be
 * writable: then the file is emptied, so it names no process.
 */
void
pidfile_remove(struct pidfile *pf)
{
	if (pf == NULL)
		return;
	if (unlink(pf->path) == -1 && ftruncate(pf->fd, 0) == -1)
		log_warn("cannot remove %s", pf->path);
	close(pf->fd);
	free(pf->path);
	free(pf);
}
