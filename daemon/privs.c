#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

/* Fails if root could be regained: a drop that half worked is no drop. */
static int
privs_verify(uid_t uid, gid_t gid, char *err, size_t errlen)
{
	uid_t ruid, euid, suid;
	gid_t rgid, egid, sgid;

	if (getresuid(&ruid, &euid, &suid) == -1 ||
	    getresgid(&rgid, &egid, &sgid) == -1 || ruid != uid ||
	    euid != uid || suid != uid || rgid != gid || egid != gid ||
	    sgid != gid || (uid != 0 && setuid(0) != -1)) {
		snprintf(err, errlen, "privileges were not dropped completely");
		return -1;
	}
	return 0;
}

/*
 * Switches to cfg's user and group when running as root (supplementary
 * groups cleared first, then the group, then the user, the only order that
 * works); as another user there is nothing to drop.
 */
int
privs_drop(const struct config *cfg, char *err, size_t errlen)
{
	const struct passwd *pw;
	const struct group *gr;
	gid_t gid;

	if (geteuid() != 0) {
		if (cfg->user[0] != '\0')
			log_warnx("not running as root: user '%s' ignored",
			    cfg->user);
		return 0;
	}
	if (cfg->user[0] == '\0') {
		log_warnx("running as root: set user in %s to drop privileges "
			  "after binding",
		    cfg->path);
		return 0;
	}
	if ((pw = getpwnam(cfg->user)) == NULL) {
		snprintf(err, errlen, "user: no user '%s' on this system",
		    cfg->user);
		return -1;
	}
	gid = pw->pw_gid;
	if (cfg->group[0] != '\0') {
		if ((gr = getgrnam(cfg->group)) == NULL) {
			snprintf(err, errlen,
			    "group: no group '%s' on this system", cfg->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	uid_t uid = pw->pw_uid;
	if (setgroups(1, &gid) == -1 || setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "cannot switch to user '%s': %s",
		    cfg->user, strerror(errno));
		return -1;
	}
	if (privs_verify(uid, gid, err, errlen) == -1)
		return -1;
	log_info("running as user %s (uid %u, gid %u)", cfg->user,
	    (unsigned)uid, (unsigned)gid);
	return 0;
}
