/*
 * privileges.h - the run-as user (--user / "user"): who must own the key
 * and the data, and giving up root once the key is loaded. Shared by the
 * real start (batond.c) and the check (checkconf.c), so both take the
 * same steps.
 */
#ifndef BATON_PRIVILEGES_H
#define BATON_PRIVILEGES_H

#include <pwd.h>

#include "config.h"

/*
 * Resolves cfg->user: the uid the broker will run as, which must own the
 * key (cfg->key_owner is set; the caller's euid without a user). Returns
 * the passwd entry (NULL when not switching users); exits on an unknown
 * user or one only root could switch to.
 */
struct passwd	*privileges_resolve_user(struct broker_config *cfg);

/*
 * Gives up what the broker no longer needs once its key is loaded: root
 * (for the user given), every supplementary group, and the ability to
 * gain privileges again (no_new_privs). Exits if any step fails.
 */
void		 privileges_shed(const struct passwd *pw);

#endif
