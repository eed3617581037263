/*
 * privileges.c - the run-as user and dropping root (privileges.h).
 */
#include <sys/prctl.h>

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include "log.h"
#include "privileges.h"

struct passwd *
privileges_resolve_user(struct broker_config *cfg)
{
	struct passwd *pw;

	cfg->key_owner = geteuid();
	if (cfg->user == NULL)
		return NULL;
	if ((pw = getpwnam(cfg->user)) == NULL)
		fatalx("--user %s: no such user", cfg->user);
	if (geteuid() != 0 && geteuid() != pw->pw_uid)
		fatalx("--user %s: only root can switch to another user",
		    cfg->user);
	cfg->key_owner = pw->pw_uid;
	return pw;
}

void
privileges_shed(const struct passwd *pw)
{
	if (pw != NULL && geteuid() == 0) {
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			fatal("cannot switch to user %s", pw->pw_name);
		if (setuid(0) == 0)
			fatalx("still able to regain root after switching users");
		log_info("running as user %s (uid %ld)", pw->pw_name,
		    (long)pw->pw_uid);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
}
