/*
 * datadir.h - the data directory holds every handover (NHS numbers
 * included): check at start that only the broker's user can reach it.
 */
#ifndef BATON_DATADIR_H
#define BATON_DATADIR_H

#include <sys/types.h>

#include <stddef.h>

/*
 * Checks the data directory dir and every entry in it (not recursively):
 * each must be owned by owner, the directory must grant nothing to group
 * or others (0700 or tighter), and neither may any file in it (0600 or
 * tighter). Symbolic links are followed, as LMDB follows them. A directory
 * that does not exist yet passes: the store creates it 0700. Returns 0, or
 * -1 with err set to a sentence naming the path, the mode or owner found
 * and the command that fixes it.
 */
int	datadir_check(const char *dir, uid_t owner, char *err, size_t errlen);

#endif
