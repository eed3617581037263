/*
 * test_store.c - unit tests for broker/store.c on real LMDB directories.
 *
 * Each test gets a fresh directory from mkdtemp under /tmp (the store lives
 * in a "db" subdirectory so store_open must create it) and removes it
 * afterwards. Corruption is made the way a disk or an intruder would: the
 * test opens data.mdb with LMDB itself, with the store closed, and rewrites
 * a raw value.
 */

#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <lmdb.h>

#include "crc32c.h"
#include "store.h"

#define HDRLEN	5	/* format byte + CRC-32C, as store.c writes them */

struct fixture {
	char		 tmp[64];	/* mkdtemp result */
	char		 dir[PATH_MAX];	/* tmp/db: the store directory */
	struct store	*s;
};

static void
rm_flat(const char *dir)
{
	DIR		*d;
	struct dirent	*de;
	char		 p[PATH_MAX];

	if ((d = opendir(dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
		(void)unlink(p);
	}
	(void)closedir(d);
	(void)rmdir(dir);
}

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	(void)snprintf(f->tmp, sizeof(f->tmp), "/tmp/baton-store-XXXXXX");
	if (mkdtemp(f->tmp) == NULL) {
		free(f);
		return -1;
	}
	(void)snprintf(f->dir, sizeof(f->dir), "%s/db", f->tmp);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	store_close(f->s);
	rm_flat(f->dir);
	rm_flat(f->tmp);
	free(f);
	return 0;
}

static struct store *
open_store(struct fixture *f, size_t map_size, int readonly)
{
	struct store_opts	 o;
	char			 err[256];
	int			 rc;

	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.map_size = map_size;
	o.readonly = readonly;
	err[0] = '\0';
	rc = store_open(&o, &f->s, err, sizeof(err));
	if (rc != STORE_OK)
		fail_msg("store_open %s: %s", f->dir, err);
	assert_non_null(f->s);
	return f->s;
}

static void
reopen(struct fixture *f, size_t map_size, int readonly)
{
	store_close(f->s);
	f->s = NULL;
	(void)open_store(f, map_size, readonly);
}

static void
put_str(struct store *s, enum store_table t, const char *k, const char *v)
{
	int	 rc;

	rc = store_put(s, t, k, strlen(k), v, strlen(v));
	if (rc != STORE_OK)
		fail_msg("store_put %s: %d %s", k, rc, store_strerror(s));
}

/* Expects key k in t to hold exactly v. */
static void
expect_str(struct store *s, enum store_table t, const char *k, const char *v)
{
	const void	*p;
	size_t		 n;
	int		 rc;

	rc = store_get(s, t, k, strlen(k), &p, &n);
	if (rc != STORE_OK)
		fail_msg("store_get %s: %d %s", k, rc, store_strerror(s));
	assert_int_equal(n, strlen(v));
	assert_memory_equal(p, v, n);
}

static void
expect_missing(struct store *s, enum store_table t, const char *k)
{
	const void	*p;
	size_t		 n;

	assert_int_equal(store_get(s, t, k, strlen(k), &p, &n),
	    STORE_NOTFOUND);
}

static void
test_roundtrip(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	const void	*p;
	size_t		 n;
	uint8_t		 bin[300];
	size_t		 i;

	for (i = 0; i < sizeof(bin); i++)
		bin[i] = (uint8_t)(i * 7);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_true(store_active(s));
	put_str(s, STORE_NODES, "node-a", "one");
	expect_str(s, STORE_NODES, "node-a", "one");
	/* Same key, another table: tables are separate. */
	expect_missing(s, STORE_MESSAGES, "node-a");
	put_str(s, STORE_NODES, "node-a", "two");
	expect_str(s, STORE_NODES, "node-a", "two");
	assert_int_equal(store_put(s, STORE_BODIES, "b", 1, bin, sizeof(bin)),
	    STORE_OK);
	assert_int_equal(store_get(s, STORE_BODIES, "b", 1, &p, &n),
	    STORE_OK);
	assert_int_equal(n, sizeof(bin));
	assert_memory_equal(p, bin, n);
	/* An empty payload is a valid record. */
	assert_int_equal(store_put(s, STORE_NOTICES, "e", 1, NULL, 0),
	    STORE_OK);
	assert_int_equal(store_get(s, STORE_NOTICES, "e", 1, &p, &n),
	    STORE_OK);
	assert_int_equal(n, 0);
	expect_missing(s, STORE_NODES, "node-b");
	assert_int_equal(store_commit(s), STORE_OK);
	assert_false(store_active(s));
}

static void
test_put_new_and_del(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_put_new(s, STORE_MESSAGES, "m1", 2, "x", 1),
	    STORE_OK);
	assert_int_equal(store_put_new(s, STORE_MESSAGES, "m1", 2, "y", 1),
	    STORE_EXISTS);
	expect_str(s, STORE_MESSAGES, "m1", "x");
	assert_int_equal(store_del(s, STORE_MESSAGES, "m1", 2), STORE_OK);
	expect_missing(s, STORE_MESSAGES, "m1");
	assert_int_equal(store_del(s, STORE_MESSAGES, "m1", 2),
	    STORE_NOTFOUND);
	assert_int_equal(store_put_new(s, STORE_MESSAGES, "m1", 2, "y", 1),
	    STORE_OK);
	expect_str(s, STORE_MESSAGES, "m1", "y");
	assert_int_equal(store_commit(s), STORE_OK);
}

static void
test_misuse(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	char		 big[600];
	const void	*p;
	size_t		 n;
	struct store_cursor *c;

	memset(big, 'k', sizeof(big));
	/* No transaction: errors, not crashes. */
	assert_int_equal(store_put(s, STORE_NODES, "a", 1, "v", 1),
	    STORE_ERROR);
	assert_int_equal(store_get(s, STORE_NODES, "a", 1, &p, &n),
	    STORE_ERROR);
	assert_int_equal(store_del(s, STORE_NODES, "a", 1), STORE_ERROR);
	assert_int_equal(store_cursor_open(s, STORE_NODES, &c), STORE_ERROR);
	assert_null(c);
	assert_int_equal(store_op_begin(s), STORE_ERROR);
	assert_int_equal(store_op_commit(s), STORE_ERROR);
	assert_int_equal(store_commit(s), STORE_ERROR);
	store_op_abort(s);
	store_abort(s);

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_begin(s, 0), STORE_BUSY);
	/* Keys outside LMDB's 1..511 bytes. */
	assert_int_equal(store_put(s, STORE_NODES, big, 512, "v", 1),
	    STORE_ERROR);
	assert_non_null(strstr(store_strerror(s), "key length"));
	assert_int_equal(store_put(s, STORE_NODES, big, 511, "v", 1),
	    STORE_OK);
	assert_int_equal(store_put(s, STORE_NODES, big, 0, "v", 1),
	    STORE_ERROR);
	assert_int_equal(store_get(s, STORE_NODES, big, 600, &p, &n),
	    STORE_ERROR);
	assert_int_equal(store_put(s, STORE_TABLE_COUNT, "a", 1, "v", 1),
	    STORE_ERROR);
	/* A commit with an operation still open is refused and aborts. */
	assert_int_equal(store_op_begin(s), STORE_OK);
	assert_int_equal(store_commit(s), STORE_ERROR);
	assert_false(store_active(s));

	/* Neither that 511-byte key nor anything else was committed. */
	assert_int_equal(store_begin(s, 1), STORE_OK);
	assert_int_equal(store_get(s, STORE_NODES, big, 511, &p, &n),
	    STORE_NOTFOUND);
	/* A read transaction refuses writes and nested operations. */
	assert_int_equal(store_put(s, STORE_NODES, "a", 1, "v", 1),
	    STORE_ERROR);
	assert_int_equal(store_op_begin(s), STORE_ERROR);
	assert_int_equal(store_commit(s), STORE_OK);

	/* A cursor left open past its transaction is inert, not freed. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_cursor_open(s, STORE_NODES, &c), STORE_OK);
	store_abort(s);
	assert_int_equal(store_cursor_seek(c, NULL, 0, NULL, NULL, NULL,
	    NULL), STORE_ERROR);
	store_cursor_close(c);
	assert_string_equal(store_table_name(STORE_AUDIT), "audit");
	assert_string_equal(store_table_name(STORE_QUARANTINE),
	    "quarantine");
}

static void
test_open_errors(void **state)
{
	struct fixture		*f = *state;
	struct store_opts	 o;
	struct store		*s = NULL;
	char			 err[512], path[PATH_MAX + 32];
	uint8_t			 junk[8192];
	int			 fd;

	assert_int_equal(store_open(NULL, &s, err, sizeof(err)),
	    STORE_ERROR);
	assert_null(s);
	memset(&o, 0, sizeof(o));
	(void)snprintf(path, sizeof(path), "%s/missing/db", f->tmp);
	o.dir = path;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), STORE_ERROR);
	assert_null(s);
	assert_non_null(strstr(err, path));
	/* No room for the message is fine too. */
	assert_int_equal(store_open(&o, &s, NULL, 0), STORE_ERROR);

	/* Something that is not an LMDB file, writable and read-only. */
	assert_int_equal(mkdir(f->dir, 0700), 0);
	(void)snprintf(path, sizeof(path), "%s/data.mdb", f->dir);
	memset(junk, 0x5c, sizeof(junk));
	assert_true((fd = open(path, O_WRONLY | O_CREAT, 0600)) != -1);
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	assert_int_equal(close(fd), 0);
	o.dir = f->dir;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), STORE_ERROR);
	assert_null(s);
	assert_non_null(strstr(err, f->dir));
	o.readonly = 1;
	assert_int_equal(store_open(&o, &s, err, sizeof(err)), STORE_ERROR);
	assert_null(s);
	store_close(NULL);
}

static void
test_persistence_and_modes(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	struct stat	 st;
	char		 p[PATH_MAX + 16];

	assert_int_equal(stat(f->dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	(void)snprintf(p, sizeof(p), "%s/data.mdb", f->dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0077, 0);

	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_NODES, "kept", "yes");
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_NODES, "dropped", "no");
	store_abort(s);

	reopen(f, 0, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	expect_str(s, STORE_NODES, "kept", "yes");
	expect_missing(s, STORE_NODES, "dropped");
	store_abort(s);
}

static void
test_nested_abort(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_MESSAGES, "a", "first");
	assert_int_equal(store_op_commit(s), STORE_OK);

	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_MESSAGES, "b", "second");
	put_str(s, STORE_MESSAGES, "a", "overwritten");
	assert_int_equal(store_del(s, STORE_MESSAGES, "a", 1), STORE_OK);
	expect_str(s, STORE_MESSAGES, "b", "second");
	/* Two levels deep, undone with its parent. */
	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_MESSAGES, "d", "deep");
	assert_int_equal(store_op_commit(s), STORE_OK);
	expect_str(s, STORE_MESSAGES, "d", "deep");
	store_op_abort(s);
	expect_missing(s, STORE_MESSAGES, "b");
	expect_missing(s, STORE_MESSAGES, "d");
	expect_str(s, STORE_MESSAGES, "a", "first");

	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_MESSAGES, "c", "third");
	assert_int_equal(store_op_commit(s), STORE_OK);
	assert_int_equal(store_commit(s), STORE_OK);

	reopen(f, 0, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	expect_str(s, STORE_MESSAGES, "a", "first");
	expect_missing(s, STORE_MESSAGES, "b");
	expect_str(s, STORE_MESSAGES, "c", "third");
	expect_missing(s, STORE_MESSAGES, "d");
	assert_int_equal(store_commit(s), STORE_OK);
}

/*
 * Fills the map with 4000-byte records under u64be keys, a pass (one
 * top-level transaction) of eight single-record operations at a time, until
 * a put or a commit reports the map full. Returns how many records are
 * committed (keys 0 .. n-1).
 */
static uint64_t
fill(struct store *s)
{
	uint8_t		 k[8], v[4000];
	uint64_t	 kept = 0, next = 0;
	int		 j, rc = STORE_OK;

	memset(v, 0xa5, sizeof(v));
	while (rc == STORE_OK) {
		assert_true(next < 100000);	/* the map never filled */
		assert_int_equal(store_begin(s, 0), STORE_OK);
		for (j = 0; j < 8; j++) {
			assert_int_equal(store_op_begin(s), STORE_OK);
			store_u64be(k, next);
			rc = store_put(s, STORE_BODIES, k, sizeof(k), v,
			    sizeof(v));
			if (rc != STORE_OK) {
				assert_int_equal(rc, STORE_FULL);
				store_op_abort(s);
				break;
			}
			assert_int_equal(store_op_commit(s), STORE_OK);
			next++;
		}
		/* Map full at commit loses the whole pass, and says so. */
		switch (store_commit(s)) {
		case STORE_OK:
			kept = next;
			break;
		case STORE_FULL:
			assert_non_null(strstr(store_strerror(s),
			    "MDB_MAP_FULL"));
			next = kept;
			rc = STORE_FULL;
			break;
		default:
			fail_msg("commit: %s", store_strerror(s));
		}
	}
	return kept;
}

/* Puts 4000-byte records in the current operation until one fails. */
static int
overflow(struct store *s, uint64_t *count)
{
	uint8_t		 k[8], v[4000];
	uint64_t	 i;
	int		 rc = STORE_OK;

	memset(v, 0x5a, sizeof(v));
	for (i = 0; i < 100000 && rc == STORE_OK; i++) {
		store_u64be(k, i);
		rc = store_put(s, STORE_BODIES, k, sizeof(k), v, sizeof(v));
	}
	*count = i;
	return rc;
}

static void
test_map_full_op_abort(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 1 << 20, 0);
	uint8_t		 k[8];
	uint64_t	 n;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_NODES, "early", "kept");
	assert_int_equal(store_op_commit(s), STORE_OK);

	/* One request that alone overflows the 1 MiB map. */
	assert_int_equal(store_op_begin(s), STORE_OK);
	assert_int_equal(overflow(s, &n), STORE_FULL);
	assert_true(n > 10);
	assert_non_null(strstr(store_strerror(s), "MDB_MAP_FULL"));
	/* The failed operation is unusable until aborted. */
	assert_int_equal(store_put(s, STORE_NODES, "x", 1, "y", 1),
	    STORE_FULL);
	store_op_abort(s);

	/* The parent carries on: the rest of the pass still commits. */
	put_str(s, STORE_NODES, "late", "kept too");

	/*
	 * Committing a failed operation (which in LMDB would poison the
	 * parent) undoes it instead and reports why.
	 */
	assert_int_equal(store_op_begin(s), STORE_OK);
	assert_int_equal(overflow(s, &n), STORE_FULL);
	assert_int_equal(store_op_commit(s), STORE_FULL);
	assert_true(store_active(s));
	assert_int_equal(store_op_begin(s), STORE_OK);
	put_str(s, STORE_NODES, "last", "kept as well");
	assert_int_equal(store_op_commit(s), STORE_OK);
	assert_int_equal(store_commit(s), STORE_OK);

	reopen(f, 1 << 20, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	expect_str(s, STORE_NODES, "early", "kept");
	expect_str(s, STORE_NODES, "late", "kept too");
	expect_str(s, STORE_NODES, "last", "kept as well");
	store_u64be(k, 0);
	assert_int_equal(store_get(s, STORE_BODIES, k, sizeof(k), NULL, NULL),
	    STORE_NOTFOUND);
	store_abort(s);
}

static void
test_map_full_recover(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 1 << 20, 0);
	uint8_t		 k[8], big[64 * 1024];
	uint64_t	 next, i, used, map;
	int		 rc;

	memset(big, 0x3c, sizeof(big));
	next = fill(s);
	assert_true(next > 10);
	assert_int_equal(store_usage(s, &used, &map), STORE_OK);
	assert_true(used > map / 2);

	/* Full: a new request is refused, and the pass still commits. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_op_begin(s), STORE_OK);
	assert_int_equal(store_put(s, STORE_BODIES, "big", 3, big,
	    sizeof(big)), STORE_FULL);
	store_op_abort(s);
	/*
	 * Draining (acks are deletes) works at the high-water mark. The
	 * oldest half goes: its pages are contiguous, as the refused
	 * request's overflow pages must be.
	 */
	for (i = 0; i < next / 2; i++) {
		assert_int_equal(store_op_begin(s), STORE_OK);
		store_u64be(k, i);
		rc = store_del(s, STORE_BODIES, k, sizeof(k));
		if (rc != STORE_OK)
			fail_msg("del %llu: %d %s", (unsigned long long)i,
			    rc, store_strerror(s));
		assert_int_equal(store_op_commit(s), STORE_OK);
	}
	assert_int_equal(store_commit(s), STORE_OK);

	/*
	 * LMDB reuses pages freed by transaction T from T+2 on (T's
	 * predecessor may still be read), so one more pass goes by first.
	 */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_META, "drained", "1");
	assert_int_equal(store_commit(s), STORE_OK);

	/* The freed pages take the retried request. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_op_begin(s), STORE_OK);
	rc = store_put(s, STORE_BODIES, "big", 3, big, sizeof(big));
	if (rc != STORE_OK)
		fail_msg("retry: %d %s", rc, store_strerror(s));
	assert_int_equal(store_op_commit(s), STORE_OK);
	assert_int_equal(store_commit(s), STORE_OK);

	reopen(f, 1 << 20, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	assert_int_equal(store_get(s, STORE_BODIES, "big", 3, NULL, NULL),
	    STORE_OK);
	store_u64be(k, next - 1);
	assert_int_equal(store_get(s, STORE_BODIES, k, sizeof(k), NULL, NULL),
	    STORE_OK);
	store_u64be(k, 0);
	assert_int_equal(store_get(s, STORE_BODIES, k, sizeof(k), NULL, NULL),
	    STORE_NOTFOUND);
	store_abort(s);
}

/* A map-full put outside any operation fails the whole pass as full. */
static void
test_map_full_toplevel(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 1 << 20, 0);
	uint8_t		 k[8], v[4000];
	uint64_t	 i;
	int		 rc = STORE_OK;

	memset(v, 1, sizeof(v));
	assert_int_equal(store_begin(s, 0), STORE_OK);
	for (i = 0; i < 1000 && rc == STORE_OK; i++) {
		store_u64be(k, i);
		rc = store_put(s, STORE_BODIES, k, sizeof(k), v, sizeof(v));
	}
	assert_int_equal(rc, STORE_FULL);
	assert_int_equal(store_commit(s), STORE_FULL);
	assert_false(store_active(s));
	/* A fresh transaction works: nothing of the failed one remains. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	store_u64be(k, 0);
	assert_int_equal(store_get(s, STORE_BODIES, k, sizeof(k), NULL, NULL),
	    STORE_NOTFOUND);
	put_str(s, STORE_NODES, "after", "ok");
	assert_int_equal(store_commit(s), STORE_OK);
}

/* Rewrites the raw value under key in table name, with the store closed. */
static void
tamper(struct fixture *f, const char *name, const void *key, size_t klen,
    void (*edit)(uint8_t *, size_t *))
{
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 buf[4096];
	size_t		 n;
	const char	*names[] = { "meta", "nodes", "messages", "bodies",
			    "queue", "audit", "deadlines", "notices",
			    "quarantine" };
	size_t		 i;

	store_close(f->s);
	f->s = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	/* Every table is a named database (mdb_dump -s audit works). */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		assert_int_equal(mdb_dbi_open(txn, names[i], 0, &dbi), 0);
	assert_int_equal(mdb_dbi_open(txn, name, 0, &dbi), 0);
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	assert_true(v.mv_size <= sizeof(buf));
	memcpy(buf, v.mv_data, v.mv_size);
	n = v.mv_size;
	edit(buf, &n);
	v.mv_data = buf;
	v.mv_size = n;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);
	(void)open_store(f, 0, 0);
}

static void
flip_payload(uint8_t *b, size_t *n)
{
	assert_true(*n > HDRLEN);
	b[HDRLEN] ^= 0x01;
}

static void
bad_format(uint8_t *b, size_t *n)
{
	b[0] = 0x7f;
}

static void
truncate_value(uint8_t *b, size_t *n)
{
	*n = 10;
}

static void
test_corrupt_quarantine(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	const void	*p;
	size_t		 n;
	char		 qkey[64];
	size_t		 qlen;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_MESSAGES, "msg-1", "payload one");
	put_str(s, STORE_MESSAGES, "msg-2", "payload two");
	put_str(s, STORE_MESSAGES, "msg-3", "payload three");
	assert_int_equal(store_commit(s), STORE_OK);

	tamper(f, "messages", "msg-1", 5, flip_payload);
	tamper(f, "messages", "msg-2", 5, bad_format);
	tamper(f, "messages", "msg-3", 5, truncate_value);
	s = f->s;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	p = "sentinel";
	n = 99;
	assert_int_equal(store_get(s, STORE_MESSAGES, "msg-1", 5, &p, &n),
	    STORE_CORRUPT);
	assert_non_null(strstr(store_strerror(s), "CRC-32C"));
	assert_int_equal(store_get(s, STORE_MESSAGES, "msg-2", 5, &p, &n),
	    STORE_CORRUPT);
	assert_non_null(strstr(store_strerror(s), "format"));
	assert_int_equal(store_get(s, STORE_MESSAGES, "msg-3", 5, &p, &n),
	    STORE_CORRUPT);

	assert_int_equal(store_quarantine(s, STORE_MESSAGES, "msg-1", 5),
	    STORE_OK);
	assert_int_equal(store_quarantine(s, STORE_MESSAGES, "nope", 4),
	    STORE_NOTFOUND);
	expect_missing(s, STORE_MESSAGES, "msg-1");
	memcpy(qkey, "messages", 9);	/* with its NUL */
	memcpy(qkey + 9, "msg-1", 5);
	qlen = 14;
	/* The quarantined raw value is itself a checked record. */
	assert_int_equal(store_get(s, STORE_QUARANTINE, qkey, qlen, &p, &n),
	    STORE_OK);
	assert_int_equal(n, HDRLEN + strlen("payload one"));
	assert_memory_equal((const uint8_t *)p + HDRLEN, "qayload one", 11);
	assert_int_equal(store_commit(s), STORE_OK);

	reopen(f, 0, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	expect_missing(s, STORE_MESSAGES, "msg-1");
	assert_int_equal(store_get(s, STORE_QUARANTINE, qkey, qlen, &p, &n),
	    STORE_OK);
	store_abort(s);
}

/* A valid record copied under another key fails: the hash binds the key. */
static void
test_corrupt_moved_record(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 buf[256];
	size_t		 n;
	const void	*p;
	size_t		 plen;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_NODES, "node-a", "role=gp");
	put_str(s, STORE_NODES, "node-b", "role=crisis");
	assert_int_equal(store_commit(s), STORE_OK);
	store_close(s);
	f->s = NULL;

	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "nodes", 0, &dbi), 0);
	k.mv_data = "node-a";
	k.mv_size = 6;
	assert_int_equal(mdb_get(txn, dbi, &k, &v), 0);
	n = v.mv_size;
	assert_true(n <= sizeof(buf));
	memcpy(buf, v.mv_data, n);
	k.mv_data = "node-b";
	v.mv_data = buf;
	v.mv_size = n;
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	s = open_store(f, 0, 1);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	expect_str(s, STORE_NODES, "node-a", "role=gp");
	assert_int_equal(store_get(s, STORE_NODES, "node-b", 6, &p, &plen),
	    STORE_CORRUPT);
	store_abort(s);
}

static void
test_cursor(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	struct store_cursor *c;
	static const uint64_t order[] = { 70, 3, 500, 1, 256, 20, 65536 };
	static const uint64_t sorted[] = { 1, 3, 20, 70, 256, 500, 65536 };
	const size_t	 nk = sizeof(order) / sizeof(order[0]);
	uint8_t		 kb[8], vb[8];
	const void	*k, *v;
	size_t		 kl, vl, i;
	int		 rc;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_cursor_open(s, STORE_AUDIT, &c), STORE_OK);
	assert_int_equal(store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl),
	    STORE_NOTFOUND);
	store_cursor_close(c);
	for (i = 0; i < nk; i++) {
		store_u64be(kb, order[i]);
		store_u64be(vb, order[i] * 10);
		assert_int_equal(store_put(s, STORE_AUDIT, kb, 8, vb, 8),
		    STORE_OK);
	}
	assert_int_equal(store_commit(s), STORE_OK);

	assert_int_equal(store_begin(s, 1), STORE_OK);
	assert_int_equal(store_cursor_open(s, STORE_AUDIT, &c), STORE_OK);
	/* Big-endian keys iterate in numeric order. */
	rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	for (i = 0; rc == STORE_OK; i++) {
		assert_true(i < nk);
		assert_int_equal(kl, 8);
		assert_int_equal(store_be64(k), sorted[i]);
		assert_int_equal(vl, 8);
		assert_int_equal(store_be64(v), sorted[i] * 10);
		rc = store_cursor_next(c, &k, &kl, &v, &vl);
	}
	assert_int_equal(rc, STORE_NOTFOUND);
	assert_int_equal(i, nk);

	/* Range seek: exact, between keys, past the end. */
	store_u64be(kb, 256);
	assert_int_equal(store_cursor_seek(c, kb, 8, &k, &kl, &v, &vl),
	    STORE_OK);
	assert_int_equal(store_be64(k), 256);
	store_u64be(kb, 21);
	assert_int_equal(store_cursor_seek(c, kb, 8, &k, &kl, &v, &vl),
	    STORE_OK);
	assert_int_equal(store_be64(k), 70);
	assert_int_equal(store_cursor_prev(c, &k, &kl, &v, &vl), STORE_OK);
	assert_int_equal(store_be64(k), 20);
	store_u64be(kb, 65537);
	assert_int_equal(store_cursor_seek(c, kb, 8, &k, &kl, &v, &vl),
	    STORE_NOTFOUND);
	assert_int_equal(store_cursor_last(c, &k, &kl, &v, &vl), STORE_OK);
	assert_int_equal(store_be64(k), 65536);
	assert_int_equal(store_cursor_prev(c, &k, &kl, &v, &vl), STORE_OK);
	assert_int_equal(store_be64(k), 500);
	/* Deleting needs a write transaction. */
	assert_int_equal(store_cursor_del(c), STORE_ERROR);
	store_cursor_close(c);
	store_abort(s);

	/* Delete through the cursor every key below 100. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_cursor_open(s, STORE_AUDIT, &c), STORE_OK);
	rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK && store_be64(k) < 100) {
		assert_int_equal(store_cursor_del(c), STORE_OK);
		rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	}
	assert_int_equal(rc, STORE_OK);
	assert_int_equal(store_be64(k), 256);
	store_cursor_close(c);
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_begin(s, 1), STORE_OK);
	store_u64be(kb, 70);
	assert_int_equal(store_get(s, STORE_AUDIT, kb, 8, NULL, NULL),
	    STORE_NOTFOUND);
	store_abort(s);
}

/* A corrupt record met by a cursor is quarantined and the walk goes on. */
static void
test_cursor_corrupt(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	struct store_cursor *c;
	const void	*k, *v;
	size_t		 kl, vl;
	char		 key[16];
	int		 rc, seen = 0, bad = 0;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_QUEUE, "q1", "one");
	put_str(s, STORE_QUEUE, "q2", "two");
	put_str(s, STORE_QUEUE, "q3", "three");
	assert_int_equal(store_commit(s), STORE_OK);
	tamper(f, "queue", "q2", 2, flip_payload);
	s = f->s;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_cursor_open(s, STORE_QUEUE, &c), STORE_OK);
	rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	while (rc == STORE_OK || rc == STORE_CORRUPT) {
		if (rc == STORE_CORRUPT) {
			assert_null(v);
			assert_int_equal(kl, 2);
			assert_memory_equal(k, "q2", 2);
			memcpy(key, k, kl);
			assert_int_equal(store_quarantine(s, STORE_QUEUE, key,
			    kl), STORE_OK);
			bad++;
		} else
			seen++;
		rc = store_cursor_next(c, &k, &kl, &v, &vl);
	}
	assert_int_equal(rc, STORE_NOTFOUND);
	assert_int_equal(seen, 2);
	assert_int_equal(bad, 1);
	store_cursor_close(c);
	assert_int_equal(store_commit(s), STORE_OK);
}

static void
test_next_seq(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	uint64_t	 v;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_next_seq(s, "audit", &v), STORE_OK);
	assert_int_equal(v, 1);
	assert_int_equal(store_next_seq(s, "audit", &v), STORE_OK);
	assert_int_equal(v, 2);
	assert_int_equal(store_next_seq(s, "queue", &v), STORE_OK);
	assert_int_equal(v, 1);
	assert_int_equal(store_next_seq(s, "", &v), STORE_ERROR);
	/* An aborted operation gives its number back. */
	assert_int_equal(store_op_begin(s), STORE_OK);
	assert_int_equal(store_next_seq(s, "audit", &v), STORE_OK);
	assert_int_equal(v, 3);
	store_op_abort(s);
	assert_int_equal(store_commit(s), STORE_OK);

	reopen(f, 0, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 0), STORE_OK);
	assert_int_equal(store_next_seq(s, "audit", &v), STORE_OK);
	assert_int_equal(v, 3);
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_begin(s, 1), STORE_OK);
	assert_int_equal(store_next_seq(s, "audit", &v), STORE_ERROR);
	store_abort(s);
}

static void
test_readonly(void **state)
{
	struct fixture		*f = *state;
	struct store		*s;
	struct store_opts	 o;
	struct store_cursor	*c;
	char			 err[256];
	char			 p[PATH_MAX + 16];
	struct store		*r = NULL;
	uint64_t		 v;

	/* Nothing there yet: refused, and nothing created. */
	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.readonly = 1;
	assert_int_equal(store_open(&o, &r, err, sizeof(err)), STORE_ERROR);
	assert_null(r);
	assert_non_null(strstr(err, "no Baton data in"));
	assert_non_null(strstr(err, f->dir));
	assert_int_equal(access(f->dir, F_OK), -1);
	o.dir = f->tmp;
	assert_int_equal(store_open(&o, &r, err, sizeof(err)), STORE_ERROR);
	assert_non_null(strstr(err, "no Baton data in"));
	(void)snprintf(p, sizeof(p), "%s/lock.mdb", f->tmp);
	assert_int_equal(access(p, F_OK), -1);

	s = open_store(f, 0, 0);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_NODES, "n", "v");
	assert_int_equal(store_commit(s), STORE_OK);
	reopen(f, 0, 1);
	s = f->s;

	/* store_begin(s, 0) still gives a read transaction. */
	assert_int_equal(store_begin(s, 0), STORE_OK);
	expect_str(s, STORE_NODES, "n", "v");
	assert_int_equal(store_put(s, STORE_NODES, "n", 1, "w", 1),
	    STORE_ERROR);
	assert_int_equal(store_put_new(s, STORE_NODES, "m", 1, "w", 1),
	    STORE_ERROR);
	assert_int_equal(store_del(s, STORE_NODES, "n", 1), STORE_ERROR);
	assert_int_equal(store_quarantine(s, STORE_NODES, "n", 1),
	    STORE_ERROR);
	assert_int_equal(store_next_seq(s, "x", &v), STORE_ERROR);
	assert_int_equal(store_op_begin(s), STORE_ERROR);
	assert_int_equal(store_cursor_open(s, STORE_NODES, &c), STORE_OK);
	assert_int_equal(store_cursor_seek(c, NULL, 0, NULL, NULL, NULL,
	    NULL), STORE_OK);
	assert_int_equal(store_cursor_del(c), STORE_ERROR);
	store_cursor_close(c);
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_reader_check(s), 0);

	/* The writer sees its record untouched. */
	reopen(f, 0, 0);
	s = f->s;
	assert_int_equal(store_begin(s, 1), STORE_OK);
	expect_str(s, STORE_NODES, "n", "v");
	expect_missing(s, STORE_NODES, "m");
	store_abort(s);
}

static void
test_usage_and_readers(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 8 << 20, 0);
	uint64_t	 used0, used1, map;
	uint8_t		 k[8], v[1000];
	int		 i;

	assert_int_equal(store_usage(s, &used0, &map), STORE_OK);
	assert_int_equal(map, 8 << 20);
	assert_true(used0 > 0 && used0 < map);
	assert_true(used0 % 4096 == 0 || used0 % 512 == 0);
	memset(v, 7, sizeof(v));
	assert_int_equal(store_begin(s, 0), STORE_OK);
	for (i = 0; i < 200; i++) {
		store_u64be(k, (uint64_t)i);
		assert_int_equal(store_put(s, STORE_BODIES, k, 8, v,
		    sizeof(v)), STORE_OK);
	}
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_usage(s, &used1, &map), STORE_OK);
	assert_true(used1 >= used0 + 200 * sizeof(v));
	assert_true(used1 < map);
	assert_true(store_reader_check(s) >= 0);

	/* A default open maps 1 GiB. */
	reopen(f, 0, 0);
	assert_int_equal(store_usage(f->s, &used0, &map), STORE_OK);
	assert_int_equal(map, (uint64_t)1 << 30);
	assert_int_equal(used0, used1);
}

/* A child of fork() must not use the parent's environment. */
static void
test_fork(void **state)
{
	struct fixture	*f = *state;
	struct store	*s = open_store(f, 0, 0);
	pid_t		 pid;
	int		 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		/*
		 * No store_close here: in a child it leaves the environment
		 * alone on purpose, which a leak checker would report.
		 */
		_exit(store_begin(s, 0) == STORE_ERROR &&
		    strstr(store_strerror(s), "fork") != NULL ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_NODES, "parent", "fine");
	assert_int_equal(store_commit(s), STORE_OK);
}

static int
write_file(const char *path, const char *text)
{
	int	 fd, ok;

	if ((fd = open(path, O_WRONLY)) == -1)
		return -1;
	ok = write(fd, text, strlen(text)) == (ssize_t)strlen(text);
	if (close(fd) == -1)
		ok = 0;
	return ok ? 0 : -1;
}

/*
 * Gives this process a private mount namespace (as root, or in a user
 * namespace of its own) and a 2 MiB tmpfs on dir. -1 if the system
 * allows neither.
 */
static int
small_fs(const char *dir)
{
	char	 map[64];
	uid_t	 uid = geteuid();
	gid_t	 gid = getegid();

	if (unshare(CLONE_NEWNS) == -1) {
		if (unshare(CLONE_NEWUSER | CLONE_NEWNS) == -1)
			return -1;
		(void)snprintf(map, sizeof(map), "0 %lu 1", (unsigned long)uid);
		if (write_file("/proc/self/uid_map", map) == -1 ||
		    write_file("/proc/self/setgroups", "deny") == -1)
			return -1;
		(void)snprintf(map, sizeof(map), "0 %lu 1", (unsigned long)gid);
		if (write_file("/proc/self/gid_map", map) == -1)
			return -1;
	}
	/* Nothing mounted here may show outside this process. */
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) == -1)
		return -1;
	if (mount("tmpfs", dir, "tmpfs", 0, "size=2m,mode=0700") == -1)
		return -1;
	return 0;
}

/*
 * The child half of test_disk_full; returns its exit status: 0 passed,
 * 77 skipped, anything else failed (with a line on stderr).
 */
static int
disk_full_child(struct fixture *f)
{
	struct store_opts	 o;
	struct store		*s = NULL;
	char			 err[256], filler[PATH_MAX + 16];
	uint8_t			 k[8], v[4000], blk[4096];
	uint64_t		 next = 0;
	int			 fd, i, j, rc = STORE_OK, status = 1;

	if (small_fs(f->tmp) == -1)
		return 77;
	/* Space the test gives back once the store has hit the limit. */
	(void)snprintf(filler, sizeof(filler), "%s/filler", f->tmp);
	memset(blk, 0, sizeof(blk));
	if ((fd = open(filler, O_WRONLY | O_CREAT, 0600)) == -1)
		goto fail;
	for (i = 0; i < 128; i++)
		if (write(fd, blk, sizeof(blk)) != (ssize_t)sizeof(blk))
			goto fail;
	if (close(fd) == -1)
		goto fail;

	memset(&o, 0, sizeof(o));
	o.dir = f->dir;
	o.map_size = 64 << 20;	/* the disk fills long before the map */
	if (store_open(&o, &s, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "store_open: %s\n", err);
		goto fail;
	}
	memset(v, 0x42, sizeof(v));
	while (rc == STORE_OK && next < 10000) {
		if (store_begin(s, 0) != STORE_OK)
			goto fail;
		for (j = 0; j < 8 && rc == STORE_OK; j++, next++) {
			store_u64be(k, next);
			rc = store_put(s, STORE_BODIES, k, sizeof(k), v,
			    sizeof(v));
		}
		if (rc != STORE_OK)
			store_abort(s);
		else
			rc = store_commit(s);
	}
	if (rc != STORE_FULL) {
		fprintf(stderr, "filling the disk gave %d: %s\n", rc,
		    store_strerror(s));
		goto fail;
	}
	if (strstr(store_strerror(s), "filesystem full") == NULL &&
	    strstr(store_strerror(s), "No space") == NULL) {
		fprintf(stderr, "disk full reported as: %s\n",
		    store_strerror(s));
		goto fail;
	}

	/* Space comes back: the same store accepts again, no reopen. */
	if (unlink(filler) == -1)
		goto fail;
	if (store_begin(s, 0) != STORE_OK)
		goto fail;
	store_u64be(k, next);
	if ((rc = store_put(s, STORE_BODIES, k, sizeof(k), v,
	    sizeof(v))) != STORE_OK || (rc = store_commit(s)) != STORE_OK) {
		fprintf(stderr, "after freeing space: %d %s\n", rc,
		    store_strerror(s));
		goto fail;
	}
	if (store_begin(s, 1) != STORE_OK ||
	    store_get(s, STORE_BODIES, k, sizeof(k), NULL, NULL) != STORE_OK)
		goto fail;
	store_abort(s);
	status = 0;
 fail:
	store_close(s);
	return status;
}

/* A full filesystem (EIO or ENOSPC from LMDB) is STORE_FULL, not an error. */
static void
test_disk_full(void **state)
{
	struct fixture	*f = *state;
	pid_t		 pid;
	int		 status;

	pid = fork();
	assert_true(pid != -1);
	if (pid == 0)
		_exit(disk_full_child(f));
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status) == 77)
		skip();
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A child process holds a read transaction (as mdb_copy or a backup would)
 * while the parent commits: store_oldest_reader names it and how far
 * behind its snapshot is; once it has gone, there is none.
 */
static void
test_oldest_reader(void **state)
{
	struct fixture		*f = *state;
	struct store		*s = open_store(f, 8u << 20, 0);
	struct store_reader	 r;
	int			 ready[2], go[2], status;
	char			 c;
	pid_t			 pid;

	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_META, "a", "1");
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_oldest_reader(s, &r), STORE_NOTFOUND);
	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(go), 0);
	pid = fork();
	assert_true(pid != -1);
	if (pid == 0) {
		MDB_env *env;
		MDB_txn *txn;

		/* a fresh environment: one is never used across fork */
		if (mdb_env_create(&env) != 0 || mdb_env_set_maxdbs(env, 32) != 0 ||
		    mdb_env_open(env, f->dir, MDB_RDONLY, 0600) != 0 ||
		    mdb_txn_begin(env, NULL, MDB_RDONLY, &txn) != 0)
			_exit(1);
		(void)write(ready[1], "r", 1);
		(void)read(go[0], &c, 1);
		mdb_txn_abort(txn);
		mdb_env_close(env);
		_exit(0);
	}
	assert_int_equal(read(ready[0], &c, 1), 1);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_META, "b", "2");
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_begin(s, 0), STORE_OK);
	put_str(s, STORE_META, "c", "3");
	assert_int_equal(store_commit(s), STORE_OK);
	assert_int_equal(store_oldest_reader(s, &r), STORE_OK);
	assert_int_equal(r.pid, (long)pid);
	assert_true(r.behind >= 2);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	assert_int_equal(store_oldest_reader(s, &r), STORE_NOTFOUND);
	close(ready[0]);
	close(ready[1]);
	close(go[0]);
	close(go[1]);
}

static void
test_be64(void **state)
{
	uint8_t	 b[8];

	store_u64be(b, 0x0102030405060708ULL);
	assert_int_equal(b[0], 1);
	assert_int_equal(b[7], 8);
	assert_int_equal(store_be64(b), 0x0102030405060708ULL);
	store_u64be(b, UINT64_MAX);
	assert_int_equal(store_be64(b), UINT64_MAX);
	store_u64be(b, 0);
	assert_int_equal(store_be64(b), 0);
}

/*
 * A store written by schema 2 (records format 1: SHA-256) is refused by its
 * version, with what to do, not reported as a damaged record.
 */
static void
test_older_schema(void **state)
{
	struct fixture	*f = *state;
	struct store_opts o = { .dir = f->dir };
	struct store	*s = NULL;
	MDB_env		*env;
	MDB_txn		*txn;
	MDB_dbi		 dbi;
	MDB_val		 k, v;
	uint8_t		 rec[37] = { 1 };	/* format 1, hash not checked */
	char		 err[512];

	rec[36] = 2;	/* u32be schema version 2 after the 32-byte hash */
	store_close(open_store(f, 0, 0));
	f->s = NULL;
	assert_int_equal(mdb_env_create(&env), 0);
	assert_int_equal(mdb_env_set_maxdbs(env, 16), 0);
	assert_int_equal(mdb_env_open(env, f->dir, 0, 0600), 0);
	assert_int_equal(mdb_txn_begin(env, NULL, 0, &txn), 0);
	assert_int_equal(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
	k.mv_data = "schema";
	k.mv_size = 6;
	v.mv_data = rec;
	v.mv_size = sizeof(rec);
	assert_int_equal(mdb_put(txn, dbi, &k, &v, 0), 0);
	assert_int_equal(mdb_txn_commit(txn), 0);
	mdb_env_close(env);

	assert_int_equal(store_open(&o, &s, err, sizeof(err)), STORE_ERROR);
	assert_null(s);
	assert_non_null(strstr(err, "schema version 2, this build reads 3"));
	assert_non_null(strstr(err, "written by an older Baton"));
}

/* The check value of the standard vector, by either path, in pieces. */
static void
test_crc32c(void **state)
{
	const char	*v = "123456789";
	uint8_t		 big[1031];
	size_t		 i;

	(void)state;
	assert_int_equal(crc32c(0, v, 9), 0xe3069283u);
	assert_int_equal(crc32c_sw(0, v, 9), 0xe3069283u);
	assert_int_equal(crc32c(crc32c(0, v, 4), v + 4, 5), 0xe3069283u);
	for (i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 31 + 7);
	for (i = 0; i < 16; i++)
		assert_int_equal(crc32c(0, big + i, sizeof(big) - i),
		    crc32c_sw(0, big + i, sizeof(big) - i));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be64),
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
		T(test_roundtrip),
		T(test_put_new_and_del),
		T(test_misuse),
		T(test_open_errors),
		T(test_persistence_and_modes),
		T(test_nested_abort),
		T(test_map_full_op_abort),
		T(test_map_full_recover),
		T(test_map_full_toplevel),
		T(test_corrupt_quarantine),
		T(test_corrupt_moved_record),
		T(test_cursor),
		T(test_cursor_corrupt),
		T(test_next_seq),
		T(test_readonly),
		T(test_usage_and_readers),
		T(test_fork),
		T(test_disk_full),
		T(test_oldest_reader),
		T(test_older_schema),
		T(test_crc32c),
#undef T
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
