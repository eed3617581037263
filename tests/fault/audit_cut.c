/*
 * audit_cut.c - removes audit records from a data directory, as someone
 * with write access to it would, for the 07-audit-* integration tests.
 * Test-only: batonctl has no such option, by design.
 *
 * It goes through the store's API, so every record left still passes the
 * store's own record check: only the audit log's checks can object. Run it
 * with batond stopped.
 *
 * usage: audit_cut DIR wipe          remove every audit record
 *        audit_cut DIR wipe-all      ... and the two records the audit
 *                                    module keeps outside the chain (the
 *                                    last checkpoint, the archive anchor)
 *        audit_cut DIR from SEQ      remove SEQ and every record after it
 *
 * A DIR with no store yet gets an empty one (store_open creates it).
 *
 * Prints the number of records removed; exit 0, 1 on failure, 2 on usage.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

/* The keys audit_int.h names, spelt out: this tool plays the outsider. */
static const char *const kept[] = {
	"audit:last-checkpoint", "audit:archive-anchor",
};

static int
forget_kept(struct store *s)
{
	size_t	 i;
	int	 rc;

	for (i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		rc = store_del(s, STORE_META, kept[i], strlen(kept[i]));
		if (rc != STORE_OK && rc != STORE_NOTFOUND)
			return -1;
	}
	return 0;
}

/* Removes every record whose key is at least u64be(from). */
static int
cut(struct store *s, uint64_t from, uint64_t *removed)
{
	struct store_cursor	*c;
	const void		*k, *v;
	uint8_t			 key[8];
	size_t			 kl, vl;
	int			 rc;

	*removed = 0;
	if (store_cursor_open(s, STORE_AUDIT, &c) != STORE_OK)
		return -1;
	store_u64be(key, from);
	for (rc = store_cursor_seek(c, key, sizeof(key), &k, &kl, &v, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_seek(c, key, sizeof(key), &k, &kl, &v, &vl)) {
		if (store_cursor_del(c) != STORE_OK)
			break;
		(*removed)++;
	}
	store_cursor_close(c);
	return rc == STORE_NOTFOUND ? 0 : -1;
}

int
main(int argc, char **argv)
{
	struct store_opts	 so;
	struct store		*s;
	char			 err[1024], *end;
	uint64_t		 from = 0, n;
	int			 all = 0;

	if (argc == 3 && (strcmp(argv[2], "wipe") == 0 ||
	    (all = strcmp(argv[2], "wipe-all") == 0)))
		from = 0;
	else if (argc == 4 && strcmp(argv[2], "from") == 0) {
		from = strtoull(argv[3], &end, 10);
		if (*argv[3] == '\0' || *end != '\0' || from == 0) {
			fprintf(stderr, "audit_cut: bad seq '%s'\n", argv[3]);
			return 2;
		}
	} else {
		fprintf(stderr, "usage: audit_cut DIR wipe | wipe-all | "
		    "from SEQ\n");
		return 2;
	}
	memset(&so, 0, sizeof(so));
	so.dir = argv[1];
	if (store_open(&so, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "audit_cut: %s\n", err);
		return 1;
	}
	if (store_begin(s, 0) != STORE_OK || cut(s, from, &n) != 0 ||
	    (all && forget_kept(s) != 0) || store_commit(s) != STORE_OK) {
		fprintf(stderr, "audit_cut: %s\n", store_strerror(s));
		store_close(s);
		return 1;
	}
	store_close(s);
	printf("%" PRIu64 "\n", n);
	return 0;
}
