/*
 * store.c - the broker's durable store: one LMDB environment, one named
 * database per enum store_table, and the checked record format.
 *
 * This is the only file that includes lmdb.h. It knows tables, keys and
 * opaque payloads; what the payloads mean belongs to queue.c, registry.c
 * and audit.c.
 *
 * Invariants:
 * - The environment is opened with LMDB's default sync flags (or
 *   MDB_RDONLY); store_open refuses an environment that reports
 *   MDB_NOSYNC, MDB_NOMETASYNC, MDB_WRITEMAP or MDB_MAPASYNC, so a
 *   successful top-level commit is on disk and a full disk is an error,
 *   never a SIGBUS.
 * - Every value is [u8 format][u32be CRC-32C][payload] with the check taken
 *   over (table name, NUL, u32be key length, key, payload), so a record
 *   that is damaged, or copied to another key or table, fails it. No read
 *   path hands out a payload that failed it. (Schema 2 and older used
 *   SHA-256 here, format 1; crc32c.h says why a CRC is enough.)
 * - s->txn[0 .. depth-1] is the transaction stack: [0] the top-level one,
 *   the rest nested children, each the parent of the next. Only the
 *   innermost (s->txn[depth - 1]) is ever passed to LMDB, as LMDB requires
 *   while a child is open.
 * - Every open store_cursor is on s->cursors. When the transaction level
 *   it was opened in ends, its MDB_cursor is closed and set to NULL, so a
 *   cursor left open by mistake is an error to use, not a use-after-free.
 * - The environment belongs to the process that opened it: after fork()
 *   the child gets STORE_ERROR and store_close leaves the environment (and
 *   the parent's reader slots) alone.
 */

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <lmdb.h>

#include "crc32c.h"
#include "store.h"

#define STORE_FORMAT		2	/* CRC-32C; 1 was SHA-256 (schema <= 2) */
#define STORE_CHECKLEN		4
#define STORE_HDRLEN		(1 + STORE_CHECKLEN)
/* A schema-2 store's schema record: format 1, SHA-256, u32be version. */
#define STORE_V1_FORMAT		1
#define STORE_V1_HDRLEN		33
#define STORE_DEFAULT_MAP	((size_t)1 << 30)
#define STORE_MAXDEPTH		4	/* top-level plus three nested */
/* Below this much free space an EIO from LMDB is taken to mean disk full. */
#define STORE_MINFREE		((uint64_t)1 << 20)
/* 2: handovers are keyed by their reference <sender>/<id> (ids belong to
 * their sender); a schema-1 store keyed them by the bare id. 3: records
 * are checked by CRC-32C (format 2), no longer SHA-256 (format 1). */
#define STORE_SCHEMA		3
#define STORE_SCHEMA_KEY	"schema"
#define STORE_SEQ_PREFIX	"seq:"
/* LMDB's data size is 32 bits on disk. */
#define STORE_MAXVAL		((size_t)UINT32_MAX - STORE_HDRLEN)

/* Flags that would trade durability for speed; see the file comment. */
#define STORE_UNSAFE_FLAGS \
	(MDB_NOSYNC | MDB_NOMETASYNC | MDB_WRITEMAP | MDB_MAPASYNC)

static const char *const table_names[STORE_TABLE_COUNT] = {
	[STORE_META] = "meta",
	[STORE_NODES] = "nodes",
	[STORE_MESSAGES] = "messages",
	[STORE_BODIES] = "bodies",
	[STORE_QUEUE] = "queue",
	[STORE_AUDIT] = "audit",
	[STORE_DEADLINES] = "deadlines",
	[STORE_NOTICES] = "notices",
	[STORE_QUARANTINE] = "quarantine",
	[STORE_AGREEMENTS] = "agreements",
	[STORE_HELD] = "held",
};

/*
 * Tables added after the first release: a store no broker of this
 * version has opened yet lacks them, and a read-only opener cannot
 * create them, so there they read as empty (store_get: STORE_NOTFOUND,
 * store_cursor_open: STORE_NOTFOUND).
 */
#define STORE_FIRST_LATER_TABLE	STORE_AGREEMENTS

struct store_cursor {
	struct store		*s;	/* NULL once the store is closed */
	enum store_table	 t;	/* table, for the record check */
	MDB_cursor		*mc;	/* NULL once its transaction ended */
	int			 level;	/* index in s->txn it was opened at */
	LIST_ENTRY(store_cursor) entry;	/* on s->cursors while s is open */
};

struct store {
	MDB_env		*env;
	MDB_dbi		 dbi[STORE_TABLE_COUNT];
	char		*dir;		/* for statvfs and messages */
	int		 rdonly;	/* environment opened MDB_RDONLY */
	pid_t		 pid;		/* process that opened env */
	int		 maxkey;	/* mdb_env_get_maxkeysize */
	unsigned	 absent;	/* bit t: read-only, table t not yet made */

	MDB_txn		*txn[STORE_MAXDEPTH];	/* see the file comment */
	int		 depth;		/* number of open levels */
	int		 txn_rdonly;	/* top-level is a read txn */
	/*
	 * failed[i]: 0, or the first STORE_FULL/STORE_ERROR an LMDB call
	 * gave at level i. LMDB may then refuse the rest of that level with
	 * MDB_BAD_TXN (this says why), and committing a failed child would
	 * poison its parent, so store_op_commit aborts it instead.
	 */
	int		 failed[STORE_MAXDEPTH];
	uint64_t	 view;		/* store_view */

	LIST_HEAD(, store_cursor) cursors;
	char		 err[256];	/* last error, for store_strerror */
};

/* Every view id of every store handle in the process is different. */
static uint64_t views;

static void
new_view(struct store *s)
{
	s->view = ++views;
}

uint64_t
store_view(const struct store *s)
{
	return s->view;
}

static void
seterr(struct store *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void
seterr(struct store *s, const char *fmt, ...)
{
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(s->err, sizeof(s->err), fmt, ap);
	va_end(ap);
}

static void
openerr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void
openerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list	 ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	(void)vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/*
 * Maps an LMDB or errno code to a store result and keeps its text. A full
 * disk shows up as EIO from LMDB's writes; statvfs tells it apart from a
 * failing device.
 */
static int
lmdb_fail(struct store *s, int rc, const char *what, const char *table)
{
	struct statvfs	 sv;
	uint64_t	 avail;
	const char	*sep;
	int		 lvl = s->depth > 0 ? s->depth - 1 : 0;
	int		 ret = STORE_ERROR;

	if (table == NULL)
		table = "";
	sep = *table != '\0' ? " " : "";
	seterr(s, "%s%s%s: %s", what, sep, table, mdb_strerror(rc));
	switch (rc) {
	case MDB_MAP_FULL:
	case ENOSPC:
	case EDQUOT:
		ret = STORE_FULL;
		break;
	case MDB_BAD_TXN:
		if (s->failed[lvl] == STORE_FULL) {
			seterr(s, "%s%s%s: transaction failed after the store "
			    "filled", what, sep, table);
			ret = STORE_FULL;
		}
		break;
	case EIO:
		if (statvfs(s->dir, &sv) == 0) {
			avail = (uint64_t)sv.f_bavail * sv.f_frsize;
			if (avail < STORE_MINFREE) {
				seterr(s, "%s%s%s: %s (filesystem full: "
				    "%llu bytes free)", what, sep, table,
				    mdb_strerror(rc),
				    (unsigned long long)avail);
				ret = STORE_FULL;
			}
		}
		break;
	default:
		break;
	}
	if (s->failed[lvl] == 0)
		s->failed[lvl] = ret;
	return ret;
}

const char *
store_table_name(enum store_table t)
{
	if ((unsigned int)t >= STORE_TABLE_COUNT)
		return "invalid";
	return table_names[t];
}

const char *
store_strerror(struct store *s)
{
	if (s == NULL)
		return "no store";
	return s->err;
}

void
store_u64be(uint8_t out[8], uint64_t v)
{
	int	 i;

	for (i = 7; i >= 0; i--) {
		out[i] = (uint8_t)(v & 0xff);
		v >>= 8;
	}
}

uint64_t
store_be64(const uint8_t in[8])
{
	uint64_t v = 0;
	int	 i;

	for (i = 0; i < 8; i++)
		v = (v << 8) | in[i];
	return v;
}

static int
forked(struct store *s)
{
	if (getpid() == s->pid)
		return 0;
	seterr(s, "store used across fork() (opened by pid %ld)",
	    (long)s->pid);
	return 1;
}

static void
put_be32(uint8_t out[4], uint32_t v)
{
	out[0] = (uint8_t)(v >> 24);
	out[1] = (uint8_t)(v >> 16);
	out[2] = (uint8_t)(v >> 8);
	out[3] = (uint8_t)v;
}

static uint32_t
get_be32(const uint8_t in[4])
{
	return (uint32_t)in[0] << 24 | (uint32_t)in[1] << 16 |
	    (uint32_t)in[2] << 8 | in[3];
}

/* CRC-32C over (table name, NUL, u32be key length, key, payload). */
static uint32_t
record_check_value(enum store_table t, const void *key, size_t klen,
    const void *p, size_t plen)
{
	const char	*name = table_names[t];
	uint8_t		 kl[4];
	uint32_t	 c;

	put_be32(kl, (uint32_t)klen);
	c = crc32c(0, name, strlen(name) + 1);
	c = crc32c(c, kl, sizeof(kl));
	c = crc32c(c, key, klen);
	return plen > 0 ? crc32c(c, p, plen) : c;
}

/*
 * Checks a raw value read from t under key and points at its payload.
 * STORE_OK, STORE_CORRUPT or STORE_ERROR.
 */
static int
record_check(struct store *s, enum store_table t, const MDB_val *k,
    const MDB_val *v, const void **p, size_t *plen)
{
	const uint8_t	*raw = v->mv_data;

	if (v->mv_size < STORE_HDRLEN) {
		seterr(s, "record in %s: %zu bytes, shorter than its header",
		    table_names[t], v->mv_size);
		return STORE_CORRUPT;
	}
	if (raw[0] != STORE_FORMAT) {
		seterr(s, "record in %s: unknown format %u", table_names[t],
		    raw[0]);
		return STORE_CORRUPT;
	}
	if (record_check_value(t, k->mv_data, k->mv_size, raw + STORE_HDRLEN,
	    v->mv_size - STORE_HDRLEN) != get_be32(raw + 1)) {
		seterr(s, "record in %s: CRC-32C mismatch", table_names[t]);
		return STORE_CORRUPT;
	}
	if (p != NULL)
		*p = raw + STORE_HDRLEN;
	if (plen != NULL)
		*plen = v->mv_size - STORE_HDRLEN;
	return STORE_OK;
}

static int
check_args(struct store *s, enum store_table t, size_t klen,
    const char *what)
{
	if ((unsigned int)t >= STORE_TABLE_COUNT) {
		seterr(s, "%s: no table %d", what, (int)t);
		return STORE_ERROR;
	}
	if (klen == 0 || klen > (size_t)s->maxkey) {
		seterr(s, "%s %s: key length %zu outside 1..%d", what,
		    table_names[t], klen, s->maxkey);
		return STORE_ERROR;
	}
	return STORE_OK;
}

/* The innermost transaction, or NULL (with the reason kept). */
static MDB_txn *
cur_txn(struct store *s, int write, const char *what)
{
	if (s->depth == 0) {
		seterr(s, "%s: no transaction open", what);
		return NULL;
	}
	if (write && s->txn_rdonly) {
		seterr(s, "%s: transaction is read-only", what);
		return NULL;
	}
	return s->txn[s->depth - 1];
}

static int
raw_get(struct store *s, MDB_txn *txn, enum store_table t, const void *key,
    size_t klen, const void **val, size_t *vlen)
{
	MDB_val	 k, v;
	int	 rc;

	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	if (s->absent & (1u << t))
		return STORE_NOTFOUND;
	if ((rc = mdb_get(txn, s->dbi[t], &k, &v)) == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return lmdb_fail(s, rc, "mdb_get", table_names[t]);
	return record_check(s, t, &k, &v, val, vlen);
}

/*
 * Builds the record in its own buffer first: the payload may point into
 * the map (a value read earlier in this transaction), which the put can
 * move.
 */
static int
raw_put(struct store *s, MDB_txn *txn, enum store_table t, const void *key,
    size_t klen, const void *val, size_t vlen, unsigned int flags)
{
	MDB_val	 k, v;
	uint8_t	*rec;
	int	 rc;

	if (vlen > STORE_MAXVAL || (val == NULL && vlen > 0)) {
		seterr(s, "mdb_put %s: bad value (%zu bytes)", table_names[t],
		    vlen);
		return STORE_ERROR;
	}
	if ((rec = malloc(STORE_HDRLEN + vlen)) == NULL) {
		seterr(s, "mdb_put %s: %s", table_names[t], strerror(errno));
		return STORE_ERROR;
	}
	rec[0] = STORE_FORMAT;
	if (vlen > 0)
		memcpy(rec + STORE_HDRLEN, val, vlen);
	put_be32(rec + 1, record_check_value(t, key, klen, rec + STORE_HDRLEN,
	    vlen));
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	v.mv_data = rec;
	v.mv_size = STORE_HDRLEN + vlen;
	rc = mdb_put(txn, s->dbi[t], &k, &v, flags);
	free(rec);
	if (rc == MDB_KEYEXIST && (flags & MDB_NOOVERWRITE))
		return STORE_EXISTS;
	if (rc != 0)
		return lmdb_fail(s, rc, "mdb_put", table_names[t]);
	return STORE_OK;
}

/* Closes the LMDB cursors of every level from lvl inward. */
static void
sweep_cursors(struct store *s, int lvl)
{
	struct store_cursor *c;

	LIST_FOREACH(c, &s->cursors, entry) {
		if (c->mc != NULL && c->level >= lvl) {
			mdb_cursor_close(c->mc);
			c->mc = NULL;
		}
	}
}

/*
 * The schema version of a store written before format 2 (schema 2 or
 * older: format 1, SHA-256), so an older store is refused by its version
 * and not as a damaged record. 0 if the record is not such a one.
 */
static void
refuse_schema(struct store *s, uint32_t v, char *err, size_t errlen)
{
	openerr(err, errlen, "cannot open store in %s: schema version %u, "
	    "this build reads %u%s", s->dir, v, STORE_SCHEMA,
	    v < STORE_SCHEMA ? " (written by an older Baton: drain it with "
	    "that version, or keep it for the record and start a new data "
	    "directory)" : "");
}

static uint32_t
old_schema(struct store *s, MDB_txn *txn)
{
	MDB_val		 k, v;
	const uint8_t	*raw;

	k.mv_data = (void *)(uintptr_t)STORE_SCHEMA_KEY;
	k.mv_size = strlen(STORE_SCHEMA_KEY);
	if (mdb_get(txn, s->dbi[STORE_META], &k, &v) != 0 ||
	    v.mv_size != STORE_V1_HDRLEN + 4)
		return 0;
	raw = v.mv_data;
	if (raw[0] != STORE_V1_FORMAT)
		return 0;
	return get_be32(raw + STORE_V1_HDRLEN);
}

/*
 * Opens (or, writable, creates) every table and checks the schema record,
 * in one transaction whose commit makes the handles usable.
 */
static int
open_tables(struct store *s, char *err, size_t errlen)
{
	MDB_txn		*txn = NULL;
	const void	*p;
	size_t		 plen;
	uint8_t		 ver[4];
	uint32_t	 v;
	int		 i, rc;

	rc = mdb_txn_begin(s->env, NULL, s->rdonly ? MDB_RDONLY : 0, &txn);
	if (rc != 0) {
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_txn_begin: %s", s->dir, mdb_strerror(rc));
		txn = NULL;
		goto fail;
	}
	for (i = 0; i < STORE_TABLE_COUNT; i++) {
		rc = mdb_dbi_open(txn, table_names[i],
		    s->rdonly ? 0 : MDB_CREATE, &s->dbi[i]);
		if (rc == MDB_NOTFOUND && s->rdonly &&
		    i >= STORE_FIRST_LATER_TABLE) {
			s->absent |= 1u << i;
			continue;
		}
		if (rc == MDB_NOTFOUND && s->rdonly) {
			openerr(err, errlen, "no Baton data in %s", s->dir);
			goto fail;
		}
		if (rc != 0) {
			openerr(err, errlen, "cannot open store in %s: "
			    "table %s: %s", s->dir, table_names[i],
			    mdb_strerror(rc));
			goto fail;
		}
	}

	rc = raw_get(s, txn, STORE_META, STORE_SCHEMA_KEY,
	    strlen(STORE_SCHEMA_KEY), &p, &plen);
	if (rc == STORE_NOTFOUND && s->rdonly) {
		openerr(err, errlen, "no Baton data in %s", s->dir);
		goto fail;
	}
	if (rc == STORE_NOTFOUND) {
		ver[0] = ver[1] = ver[2] = 0;
		ver[3] = STORE_SCHEMA;
		rc = raw_put(s, txn, STORE_META, STORE_SCHEMA_KEY,
		    strlen(STORE_SCHEMA_KEY), ver, sizeof(ver), 0);
		if (rc != STORE_OK) {
			openerr(err, errlen, "cannot open store in %s: %s",
			    s->dir, s->err);
			goto fail;
		}
	} else if (rc == STORE_CORRUPT && (v = old_schema(s, txn)) != 0) {
		refuse_schema(s, v, err, errlen);
		goto fail;
	} else if (rc != STORE_OK) {
		openerr(err, errlen, "cannot open store in %s: schema "
		    "record: %s", s->dir, s->err);
		goto fail;
	} else {
		if (plen != sizeof(ver)) {
			openerr(err, errlen, "cannot open store in %s: schema "
			    "record has %zu bytes", s->dir, plen);
			goto fail;
		}
		memcpy(ver, p, sizeof(ver));
		v = get_be32(ver);
		if (v != STORE_SCHEMA) {
			refuse_schema(s, v, err, errlen);
			goto fail;
		}
	}

	rc = mdb_txn_commit(txn);
	txn = NULL;
	if (rc != 0) {
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_txn_commit: %s", s->dir, mdb_strerror(rc));
		goto fail;
	}
	return 0;
 fail:
	if (txn != NULL)
		mdb_txn_abort(txn);
	return -1;
}

int
store_exists(const char *dir, char *err, size_t errlen)
{
	struct stat st;
	char path[PATH_MAX];

	if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb", dir) >=
	    sizeof(path)) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (stat(path, &st) == 0)
		return 1;
	if (errno == ENOENT)
		return 0;
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return -1;
}

int
store_open(const struct store_opts *opts, struct store **out, char *err,
    size_t errlen)
{
	struct store	*s = NULL;
	struct stat	 st;
	char		 path[PATH_MAX];
	unsigned int	 flags;
	int		 dead, rc;

	*out = NULL;
	if (opts == NULL || opts->dir == NULL || *opts->dir == '\0') {
		openerr(err, errlen, "store: no data directory given");
		return STORE_ERROR;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL ||
	    (s->dir = strdup(opts->dir)) == NULL) {
		openerr(err, errlen, "cannot open store in %s: %s",
		    opts->dir, strerror(errno));
		goto fail;
	}
	LIST_INIT(&s->cursors);
	s->rdonly = opts->readonly != 0;
	s->pid = getpid();
	(void)snprintf(s->err, sizeof(s->err), "no error");

	if (s->rdonly) {
		/*
		 * Looked for first: LMDB would create lock.mdb in a directory
		 * that holds no store before failing.
		 */
		if ((size_t)snprintf(path, sizeof(path), "%s/data.mdb",
		    s->dir) >= sizeof(path)) {
			openerr(err, errlen, "cannot open store in %s: path "
			    "too long", s->dir);
			goto fail;
		}
		if (stat(path, &st) == -1) {
			if (errno == ENOENT || errno == ENOTDIR)
				openerr(err, errlen, "no Baton data in %s",
				    s->dir);
			else
				openerr(err, errlen, "cannot open store in "
				    "%s: %s: %s", s->dir, path,
				    strerror(errno));
			goto fail;
		}
	} else if (mkdir(s->dir, 0700) == -1 && errno != EEXIST) {
		openerr(err, errlen, "cannot create store directory %s: %s",
		    s->dir, strerror(errno));
		goto fail;
	}

	if ((rc = mdb_env_create(&s->env)) != 0) {
		s->env = NULL;
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_env_create: %s", s->dir, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_set_maxdbs(s->env, STORE_TABLE_COUNT)) != 0 ||
	    (rc = mdb_env_set_mapsize(s->env, opts->map_size ?
	    opts->map_size : STORE_DEFAULT_MAP)) != 0) {
		openerr(err, errlen, "cannot open store in %s: %s", s->dir,
		    mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_open(s->env, s->dir, s->rdonly ? MDB_RDONLY : 0,
	    0600)) != 0) {
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_env_open: %s", s->dir, mdb_strerror(rc));
		goto fail;
	}
	if ((rc = mdb_env_get_flags(s->env, &flags)) != 0) {
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_env_get_flags: %s", s->dir, mdb_strerror(rc));
		goto fail;
	}
	if (flags & STORE_UNSAFE_FLAGS) {
		openerr(err, errlen, "cannot open store in %s: environment "
		    "flags 0x%x weaken durability", s->dir,
		    flags & STORE_UNSAFE_FLAGS);
		goto fail;
	}
	if ((rc = mdb_reader_check(s->env, &dead)) != 0) {
		openerr(err, errlen, "cannot open store in %s: "
		    "mdb_reader_check: %s", s->dir, mdb_strerror(rc));
		goto fail;
	}
	if ((s->maxkey = mdb_env_get_maxkeysize(s->env)) <= 0) {
		openerr(err, errlen, "cannot open store in %s: no key size",
		    s->dir);
		goto fail;
	}
	if (open_tables(s, err, errlen) == -1)
		goto fail;

	*out = s;
	return STORE_OK;
 fail:
	store_close(s);
	return STORE_ERROR;
}

void
store_close(struct store *s)
{
	struct store_cursor *c;

	if (s == NULL)
		return;
	/*
	 * A child after fork() must not touch the environment: closing it
	 * would clear the parent's reader slots. It only frees its memory.
	 */
	if (s->pid == getpid()) {
		sweep_cursors(s, 0);
		if (s->depth > 0)
			mdb_txn_abort(s->txn[0]);
		if (s->env != NULL)
			mdb_env_close(s->env);
	}
	/* Cursors the caller still holds become inert wrappers. */
	while ((c = LIST_FIRST(&s->cursors)) != NULL) {
		LIST_REMOVE(c, entry);
		c->s = NULL;
		c->mc = NULL;
	}
	free(s->dir);
	free(s);
}

int
store_begin(struct store *s, int readonly)
{
	unsigned int	 flags;
	int		 rc;

	if (forked(s))
		return STORE_ERROR;
	if (s->depth > 0) {
		seterr(s, "store_begin: a transaction is already open");
		return STORE_BUSY;
	}
	flags = (s->rdonly || readonly) ? MDB_RDONLY : 0;
	if ((rc = mdb_txn_begin(s->env, NULL, flags, &s->txn[0])) != 0) {
		s->txn[0] = NULL;
		return lmdb_fail(s, rc, "mdb_txn_begin", NULL);
	}
	s->depth = 1;
	s->txn_rdonly = flags != 0;
	s->failed[0] = 0;
	new_view(s);
	return STORE_OK;
}

int
store_active(const struct store *s)
{
	return s != NULL && s->depth > 0;
}

int
store_commit(struct store *s)
{
	int	 rc;

	if (s->depth == 0) {
		seterr(s, "store_commit: no transaction open");
		return STORE_ERROR;
	}
	if (s->depth > 1) {
		/* An unfinished request must not reach the disk. */
		store_abort(s);
		seterr(s, "store_commit: a nested operation was still open; "
		    "transaction aborted");
		return STORE_ERROR;
	}
	sweep_cursors(s, 0);
	if (s->txn_rdonly) {
		mdb_txn_abort(s->txn[0]);
		rc = 0;
	} else
		rc = mdb_txn_commit(s->txn[0]);
	/* LMDB has freed the transaction whether or not it committed. */
	s->txn[0] = NULL;
	if (rc != 0)
		rc = lmdb_fail(s, rc, "mdb_txn_commit", NULL);
	s->depth = 0;
	s->failed[0] = 0;
	new_view(s);
	return rc;
}

void
store_abort(struct store *s)
{
	int	 i;

	if (s == NULL || s->depth == 0)
		return;
	sweep_cursors(s, 0);
	/* Aborting the top-level transaction aborts its children. */
	mdb_txn_abort(s->txn[0]);
	for (i = 0; i < s->depth; i++) {
		s->txn[i] = NULL;
		s->failed[i] = 0;
	}
	s->depth = 0;
	new_view(s);
}

int
store_op_begin(struct store *s)
{
	MDB_txn	*parent;
	int	 rc;

	if ((parent = cur_txn(s, 1, "store_op_begin")) == NULL)
		return STORE_ERROR;
	if (s->depth >= STORE_MAXDEPTH) {
		seterr(s, "store_op_begin: operations nested deeper than %d",
		    STORE_MAXDEPTH - 1);
		return STORE_ERROR;
	}
	if ((rc = mdb_txn_begin(s->env, parent, 0, &s->txn[s->depth])) != 0) {
		s->txn[s->depth] = NULL;
		return lmdb_fail(s, rc, "mdb_txn_begin (nested)", NULL);
	}
	s->failed[s->depth] = 0;
	s->depth++;
	return STORE_OK;
}

int
store_op_commit(struct store *s)
{
	int	 lvl, rc;

	if (s->depth < 2) {
		seterr(s, "store_op_commit: no operation open");
		return STORE_ERROR;
	}
	lvl = s->depth - 1;
	if ((rc = s->failed[lvl]) != 0) {
		/* Its error text is already in s->err. */
		store_op_abort(s);
		return rc;
	}
	sweep_cursors(s, lvl);
	rc = mdb_txn_commit(s->txn[lvl]);
	/* Classified while the failed level is still innermost. */
	if (rc != 0)
		rc = lmdb_fail(s, rc, "mdb_txn_commit (nested)", NULL);
	s->txn[lvl] = NULL;
	s->failed[lvl] = 0;
	s->depth--;
	if (rc != 0)
		new_view(s);	/* LMDB undid the operation */
	return rc;
}

int
store_in_op(const struct store *s)
{
	return s->depth >= 2;
}

void
store_op_abort(struct store *s)
{
	int	 lvl;

	if (s == NULL || s->depth < 2)
		return;
	lvl = s->depth - 1;
	sweep_cursors(s, lvl);
	mdb_txn_abort(s->txn[lvl]);
	s->txn[lvl] = NULL;
	s->failed[lvl] = 0;
	s->depth--;
	new_view(s);
}

int
store_get(struct store *s, enum store_table t, const void *key, size_t klen,
    const void **val, size_t *vlen)
{
	MDB_txn	*txn;

	if (check_args(s, t, klen, "store_get") != STORE_OK)
		return STORE_ERROR;
	if ((txn = cur_txn(s, 0, "store_get")) == NULL)
		return STORE_ERROR;
	return raw_get(s, txn, t, key, klen, val, vlen);
}

int
store_put(struct store *s, enum store_table t, const void *key, size_t klen,
    const void *val, size_t vlen)
{
	MDB_txn	*txn;

	if (check_args(s, t, klen, "store_put") != STORE_OK)
		return STORE_ERROR;
	if ((txn = cur_txn(s, 1, "store_put")) == NULL)
		return STORE_ERROR;
	return raw_put(s, txn, t, key, klen, val, vlen, 0);
}

int
store_put_new(struct store *s, enum store_table t, const void *key,
    size_t klen, const void *val, size_t vlen)
{
	MDB_txn	*txn;

	if (check_args(s, t, klen, "store_put_new") != STORE_OK)
		return STORE_ERROR;
	if ((txn = cur_txn(s, 1, "store_put_new")) == NULL)
		return STORE_ERROR;
	return raw_put(s, txn, t, key, klen, val, vlen, MDB_NOOVERWRITE);
}

int
store_del(struct store *s, enum store_table t, const void *key, size_t klen)
{
	MDB_txn	*txn;
	MDB_val	 k;
	int	 rc;

	if (check_args(s, t, klen, "store_del") != STORE_OK)
		return STORE_ERROR;
	if ((txn = cur_txn(s, 1, "store_del")) == NULL)
		return STORE_ERROR;
	k.mv_data = (void *)(uintptr_t)key;
	k.mv_size = klen;
	if ((rc = mdb_del(txn, s->dbi[t], &k, NULL)) == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return lmdb_fail(s, rc, "mdb_del", table_names[t]);
	return STORE_OK;
}

int
store_quarantine(struct store *s, enum store_table t, const void *key,
    size_t klen)
{
	MDB_txn		*txn;
	MDB_val		 k, v;
	uint8_t		*qkey = NULL, *raw = NULL;
	size_t		 nlen, qlen, rawlen;
	int		 rc, ret = STORE_ERROR;

	if (check_args(s, t, klen, "store_quarantine") != STORE_OK)
		return STORE_ERROR;
	if ((txn = cur_txn(s, 1, "store_quarantine")) == NULL)
		return STORE_ERROR;
	nlen = strlen(table_names[t]);
	qlen = nlen + 1 + klen;
	if (qlen > (size_t)s->maxkey) {
		seterr(s, "store_quarantine %s: key length %zu too long to "
		    "quarantine", table_names[t], klen);
		return STORE_ERROR;
	}
	if ((qkey = malloc(qlen)) == NULL) {
		seterr(s, "store_quarantine: %s", strerror(errno));
		return STORE_ERROR;
	}
	memcpy(qkey, table_names[t], nlen + 1);
	memcpy(qkey + nlen + 1, key, klen);

	/* Raw, unchecked: the point is to keep what failed the check. */
	k.mv_data = qkey + nlen + 1;
	k.mv_size = klen;
	if ((rc = mdb_get(txn, s->dbi[t], &k, &v)) == MDB_NOTFOUND) {
		ret = STORE_NOTFOUND;
		goto fail;
	}
	if (rc != 0) {
		ret = lmdb_fail(s, rc, "mdb_get", table_names[t]);
		goto fail;
	}
	/* Copied: the map page under v may move once we write. */
	rawlen = v.mv_size;
	if ((raw = malloc(rawlen > 0 ? rawlen : 1)) == NULL) {
		seterr(s, "store_quarantine: %s", strerror(errno));
		goto fail;
	}
	if (rawlen > 0)
		memcpy(raw, v.mv_data, rawlen);

	if ((ret = raw_put(s, txn, STORE_QUARANTINE, qkey, qlen, raw, rawlen,
	    0)) != STORE_OK)
		goto fail;
	if ((rc = mdb_del(txn, s->dbi[t], &k, NULL)) != 0) {
		ret = lmdb_fail(s, rc, "mdb_del", table_names[t]);
		goto fail;
	}
	ret = STORE_OK;
 fail:
	free(raw);
	free(qkey);
	return ret;
}

int
store_cursor_open(struct store *s, enum store_table t,
    struct store_cursor **out)
{
	struct store_cursor *c;
	MDB_txn		*txn;
	int		 rc;

	*out = NULL;
	if ((unsigned int)t >= STORE_TABLE_COUNT) {
		seterr(s, "store_cursor_open: no table %d", (int)t);
		return STORE_ERROR;
	}
	if ((txn = cur_txn(s, 0, "store_cursor_open")) == NULL)
		return STORE_ERROR;
	if (s->absent & (1u << t))
		return STORE_NOTFOUND;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		seterr(s, "store_cursor_open: %s", strerror(errno));
		return STORE_ERROR;
	}
	if ((rc = mdb_cursor_open(txn, s->dbi[t], &c->mc)) != 0) {
		free(c);
		return lmdb_fail(s, rc, "mdb_cursor_open", table_names[t]);
	}
	c->s = s;
	c->t = t;
	c->level = s->depth - 1;
	LIST_INSERT_HEAD(&s->cursors, c, entry);
	*out = c;
	return STORE_OK;
}

/* One cursor step: op, then the record check. */
static int
cursor_step(struct store_cursor *c, MDB_val *mk, MDB_cursor_op op,
    const char *what, const void **k, size_t *kl, const void **v,
    size_t *vl)
{
	struct store	*s = c->s;
	MDB_val		 mv;
	int		 rc;

	if (k != NULL)
		*k = NULL;
	if (kl != NULL)
		*kl = 0;
	if (v != NULL)
		*v = NULL;
	if (vl != NULL)
		*vl = 0;
	if (s == NULL)
		return STORE_ERROR;
	if (c->mc == NULL) {
		seterr(s, "%s: cursor outlived its transaction", what);
		return STORE_ERROR;
	}
	if ((rc = mdb_cursor_get(c->mc, mk, &mv, op)) == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc != 0)
		return lmdb_fail(s, rc, what, table_names[c->t]);
	/* The key is handed out even for a bad record, for quarantine. */
	if (k != NULL)
		*k = mk->mv_data;
	if (kl != NULL)
		*kl = mk->mv_size;
	return record_check(s, c->t, mk, &mv, v, vl);
}

int
store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
    const void **k, size_t *kl, const void **v, size_t *vl)
{
	MDB_val	 mk;

	if (klen == 0) {
		mk.mv_data = NULL;
		mk.mv_size = 0;
		return cursor_step(c, &mk, MDB_FIRST, "mdb_cursor_get FIRST",
		    k, kl, v, vl);
	}
	if (c->s != NULL && klen > (size_t)c->s->maxkey) {
		seterr(c->s, "store_cursor_seek %s: key length %zu over %d",
		    table_names[c->t], klen, c->s->maxkey);
		return STORE_ERROR;
	}
	mk.mv_data = (void *)(uintptr_t)key;
	mk.mv_size = klen;
	return cursor_step(c, &mk, MDB_SET_RANGE, "mdb_cursor_get SET_RANGE",
	    k, kl, v, vl);
}

int
store_cursor_next(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val	 mk;

	return cursor_step(c, &mk, MDB_NEXT, "mdb_cursor_get NEXT", k, kl, v,
	    vl);
}

int
store_cursor_prev(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val	 mk;

	return cursor_step(c, &mk, MDB_PREV, "mdb_cursor_get PREV", k, kl, v,
	    vl);
}

int
store_cursor_last(struct store_cursor *c, const void **k, size_t *kl,
    const void **v, size_t *vl)
{
	MDB_val	 mk;

	return cursor_step(c, &mk, MDB_LAST, "mdb_cursor_get LAST", k, kl, v,
	    vl);
}

int
store_cursor_del(struct store_cursor *c)
{
	struct store	*s = c->s;
	int		 rc;

	if (s == NULL)
		return STORE_ERROR;
	if (c->mc == NULL) {
		seterr(s, "store_cursor_del: cursor outlived its transaction");
		return STORE_ERROR;
	}
	if (s->txn_rdonly) {
		seterr(s, "store_cursor_del: transaction is read-only");
		return STORE_ERROR;
	}
	if ((rc = mdb_cursor_del(c->mc, 0)) != 0)
		return lmdb_fail(s, rc, "mdb_cursor_del", table_names[c->t]);
	return STORE_OK;
}

void
store_cursor_close(struct store_cursor *c)
{
	if (c == NULL)
		return;
	if (c->s != NULL) {
		if (c->mc != NULL)
			mdb_cursor_close(c->mc);
		LIST_REMOVE(c, entry);
	}
	free(c);
}

int
store_next_seq(struct store *s, const char *name, uint64_t *out)
{
	MDB_txn		*txn;
	const void	*p;
	size_t		 plen, nlen, klen;
	char		 key[512];
	uint8_t		 buf[8];
	uint64_t	 v;
	int		 rc;

	if ((txn = cur_txn(s, 1, "store_next_seq")) == NULL)
		return STORE_ERROR;
	nlen = name != NULL ? strlen(name) : 0;
	klen = sizeof(STORE_SEQ_PREFIX) - 1 + nlen;
	if (nlen == 0 || klen > sizeof(key) || klen > (size_t)s->maxkey) {
		seterr(s, "store_next_seq: bad sequence name");
		return STORE_ERROR;
	}
	memcpy(key, STORE_SEQ_PREFIX, sizeof(STORE_SEQ_PREFIX) - 1);
	memcpy(key + sizeof(STORE_SEQ_PREFIX) - 1, name, nlen);

	rc = raw_get(s, txn, STORE_META, key, klen, &p, &plen);
	if (rc == STORE_NOTFOUND)
		v = 1;
	else if (rc != STORE_OK)
		return rc;
	else if (plen != sizeof(buf)) {
		seterr(s, "store_next_seq %s: record has %zu bytes", name,
		    plen);
		return STORE_CORRUPT;
	} else {
		v = store_be64(p);
		if (v == UINT64_MAX) {
			seterr(s, "store_next_seq %s: sequence exhausted",
			    name);
			return STORE_ERROR;
		}
		v++;
	}
	store_u64be(buf, v);
	if ((rc = raw_put(s, txn, STORE_META, key, klen, buf, sizeof(buf),
	    0)) != STORE_OK)
		return rc;
	*out = v;
	return STORE_OK;
}

int
store_usage(struct store *s, uint64_t *used, uint64_t *map_size)
{
	MDB_envinfo	 info;
	MDB_stat	 st;
	int		 rc;

	if (forked(s))
		return STORE_ERROR;
	if ((rc = mdb_env_info(s->env, &info)) != 0)
		return lmdb_fail(s, rc, "mdb_env_info", NULL);
	if ((rc = mdb_env_stat(s->env, &st)) != 0)
		return lmdb_fail(s, rc, "mdb_env_stat", NULL);
	if (used != NULL)
		*used = ((uint64_t)info.me_last_pgno + 1) * st.ms_psize;
	if (map_size != NULL)
		*map_size = info.me_mapsize;
	return STORE_OK;
}

int
store_reader_check(struct store *s)
{
	int	 dead, rc;

	if (forked(s))
		return -1;
	if ((rc = mdb_reader_check(s->env, &dead)) != 0) {
		(void)lmdb_fail(s, rc, "mdb_reader_check", NULL);
		return -1;
	}
	return dead;
}

/* mdb_reader_list's lines: "    pid     thread     txnid" ('-' = idle slot). */
struct oldest_reader {
	struct store_reader	*out;
	int			 found;
};

static int
reader_line(const char *msg, void *arg)
{
	struct oldest_reader *o = arg;
	unsigned long long pid, txnid;
	char thread[64];

	if (sscanf(msg, "%llu %63s %llu", &pid, thread, &txnid) != 3)
		return 0;	/* the header line, or a slot with no transaction */
	if (pid == (unsigned long long)getpid())
		return 0;	/* our own short read transactions */
	if (!o->found || txnid < o->out->txnid) {
		o->out->pid = (long)pid;
		o->out->txnid = txnid;
		o->found = 1;
	}
	return 0;
}

int
store_oldest_reader(struct store *s, struct store_reader *out)
{
	struct oldest_reader o = { out, 0 };
	MDB_envinfo info;
	int rc;

	if (forked(s))
		return STORE_ERROR;
	if ((rc = mdb_env_info(s->env, &info)) != 0)
		return lmdb_fail(s, rc, "mdb_env_info", NULL);
	if (mdb_reader_list(s->env, reader_line, &o) < 0)
		return lmdb_fail(s, EIO, "mdb_reader_list", NULL);
	if (!o.found)
		return STORE_NOTFOUND;
	out->behind = info.me_last_txnid > out->txnid ?
	    info.me_last_txnid - out->txnid : 0;
	return STORE_OK;
}

int
store_space(struct store *s, struct store_space *out)
{
	MDB_envinfo	 info;
	MDB_stat	 st;
	MDB_txn		*txn;
	MDB_cursor	*cur;
	MDB_val		 k, v;
	struct statvfs	 sv;
	uint64_t	 freepages = 0, live;
	int		 rc;

	if (forked(s))
		return STORE_ERROR;
	if (store_active(s))
		return STORE_BUSY;
	if ((rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn)) != 0)
		return lmdb_fail(s, rc, "mdb_txn_begin(store_space)", NULL);
	if ((rc = mdb_env_info(s->env, &info)) != 0 ||
	    (rc = mdb_env_stat(s->env, &st)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(s, rc, "mdb_env_info", NULL);
	}
	/* the free list is database 0; each value is a page-number list whose
	 * first word is its length */
	if ((rc = mdb_cursor_open(txn, 0, &cur)) != 0) {
		mdb_txn_abort(txn);
		return lmdb_fail(s, rc, "mdb_cursor_open(freelist)", NULL);
	}
	while ((rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) == 0)
		if (v.mv_size >= sizeof(size_t))
			freepages += *(const size_t *)v.mv_data;
	mdb_cursor_close(cur);
	mdb_txn_abort(txn);
	if (rc != MDB_NOTFOUND)
		return lmdb_fail(s, rc, "mdb_cursor_get(freelist)", NULL);
	live = (uint64_t)info.me_last_pgno + 1;
	live = live > freepages ? live - freepages : 0;
	out->map_size = info.me_mapsize;
	out->map_free = info.me_mapsize > live * st.ms_psize ?
	    info.me_mapsize - live * st.ms_psize : 0;
	if (statvfs(s->dir, &sv) != 0)
		out->disk_avail = UINT64_MAX;	/* unknown: do not refuse on it */
	else
		out->disk_avail = (uint64_t)sv.f_bavail * sv.f_frsize;
	return STORE_OK;
}

int
store_op_end(struct store *s, int rc)
{
	if (rc == STORE_OK)
		return store_op_commit(s);
	store_op_abort(s);
	return rc;
}

uint64_t
store_disk_avail(struct store *s)
{
	struct statvfs sv;

	if (statvfs(s->dir, &sv) != 0)
		return UINT64_MAX;
	return (uint64_t)sv.f_bavail * sv.f_frsize;
}
