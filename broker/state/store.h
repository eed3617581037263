/*
 * store.h - the broker's durable store: LMDB behind a small API.
 *
 * store.c is the only file that includes lmdb.h. It owns the environment,
 * the named tables, transactions and the record format; it knows nothing
 * of messages, queues or nodes (queue.c, registry.c build those on top).
 *
 * Transactions. One write transaction is open at a time per process
 * (store_begin); the broker opens one per event-loop pass and commits it
 * before any reply goes out (group commit). Inside it, each request runs in
 * a nested transaction (store_op_begin / store_op_commit / store_op_abort)
 * so a request that fails - MDB_MAP_FULL, a refused submit - is undone
 * alone and the rest of the pass still commits. All get/put/del/cursor
 * calls act on the innermost open transaction.
 *
 * Records. Every value is stored as [u8 format=1][32-byte SHA-256 of
 * (table name, key, payload)][payload] and checked on every read; a
 * mismatch returns STORE_CORRUPT and never the payload.
 *
 * Durability. Default LMDB sync flags only: never MDB_NOSYNC,
 * MDB_NOMETASYNC or MDB_WRITEMAP. A failed commit is reported as
 * STORE_ERROR and the caller must stop (fail-stop; no retry-then-ack).
 */
#ifndef BATON_STORE_H
#define BATON_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_table {
	STORE_META = 0,		/* sequences, schema version */
	STORE_NODES,		/* registry: node id -> baton.store.v1.Node */
	STORE_MESSAGES,		/* message id -> baton.store.v1.Message */
	STORE_BODIES,		/* message id -> packed baton.v1.Envelope */
	STORE_QUEUE,		/* recipient \0 u64be seq -> message id */
	STORE_AUDIT,		/* u64be seq -> audit record */
	STORE_DEADLINES,	/* u64be due_ms \0 message id -> kind */
	STORE_NOTICES,		/* notice id -> baton.v1.Notice */
	STORE_QUARANTINE,	/* table name \0 key -> raw value that failed its check */
	STORE_AGREEMENTS,	/* agreement id -> baton.store.v1.Agreement */
	STORE_HELD,		/* reference -> "" while the handover is held */
	STORE_TABLE_COUNT
};

enum store_result {
	STORE_OK = 0,
	STORE_NOTFOUND = 1,
	STORE_ERROR = -1,	/* I/O or LMDB failure: caller must fail-stop if in a commit */
	STORE_FULL = -2,	/* map full or disk full: refuse new work, keep draining */
	STORE_CORRUPT = -3,	/* record failed its hash or format check */
	STORE_BUSY = -4,	/* a write transaction is already open */
};

struct store;
struct store_cursor;

struct store_opts {
	const char	*dir;		/* data directory; created 0700 if missing */
	size_t		 map_size;	/* bytes; 0 = default 1 GiB */
	int		 readonly;	/* open for reading only (batonctl queries) */
};

/*
 * Opens (creating if needed) the environment in opts->dir and every table.
 * Runs mdb_reader_check once. Returns STORE_OK and *out, or STORE_ERROR
 * with err set to a sentence naming the directory and the cause.
 */
/*
 * 1 if dir holds a store (its data file exists), 0 if not (a new
 * deployment), -1 when that cannot be told (err set).
 */
int	 store_exists(const char *dir, char *err, size_t errlen);

int	 store_open(const struct store_opts *opts, struct store **out,
	    char *err, size_t errlen);
/* Aborts any open transaction and closes the environment. NULL is fine. */
void	 store_close(struct store *s);

/* Name of a table ("nodes", "messages", ...), for logs and quarantine keys. */
const char *store_table_name(enum store_table t);

/* Text for the last error on s (LMDB's or errno's), for logs. */
const char *store_strerror(struct store *s);

/*
 * Begins the top-level transaction (read-only if the store was opened so,
 * or if readonly != 0). STORE_BUSY if one is open already.
 */
int	 store_begin(struct store *s, int readonly);
/* 1 if a top-level transaction is open. */
int	 store_active(const struct store *s);
/*
 * Commits the top-level transaction (and fsyncs, by LMDB's default).
 * STORE_OK, STORE_FULL (map full at commit) or STORE_ERROR. Either way the
 * transaction is gone afterwards.
 */
int	 store_commit(struct store *s);
/* Aborts the top-level transaction and any nested one. */
void	 store_abort(struct store *s);

/* Nested transaction for one request; requires an open write transaction. */
int	 store_op_begin(struct store *s);
int	 store_op_commit(struct store *s);
void	 store_op_abort(struct store *s);
/*
 * An id of what reads through s can see now, unique in the process: it
 * changes whenever that may have changed other than by the caller's own
 * writes since (a transaction begun, committed or aborted, an operation
 * aborted). A value read under one id may be kept and reused while the id
 * is the same, by a reader that forgets it when it writes that value
 * itself (the registry's and the audit head's caches).
 */
uint64_t store_view(const struct store *s);

/* Whether an operation (a nested transaction) is open. */
int	 store_in_op(const struct store *s);
/*
 * Ends the innermost operation by the outcome of its work: commits it when
 * rc is STORE_OK (returning the commit's result), aborts it otherwise
 * (returning rc). Either way the operation is gone afterwards; a failed
 * commit has already been undone and must not be aborted again.
 */
int	 store_op_end(struct store *s, int rc);

/*
 * Reads the record under key. On STORE_OK, *val and *vlen point at the
 * verified payload inside LMDB's map: valid until the next write in this
 * transaction or its end; copy or unpack it first. STORE_NOTFOUND,
 * STORE_CORRUPT or STORE_ERROR otherwise.
 */
int	 store_get(struct store *s, enum store_table t, const void *key,
	    size_t klen, const void **val, size_t *vlen);
/* Writes (replacing) a record. STORE_OK, STORE_FULL or STORE_ERROR. */
int	 store_put(struct store *s, enum store_table t, const void *key,
	    size_t klen, const void *val, size_t vlen);
/*
 * Writes only if the key is absent. STORE_OK, STORE_FULL, STORE_ERROR,
 * or 2 (STORE_EXISTS) when present.
 */
#define STORE_EXISTS 2
int	 store_put_new(struct store *s, enum store_table t, const void *key,
	    size_t klen, const void *val, size_t vlen);
/* Deletes a record. STORE_OK or STORE_NOTFOUND or STORE_ERROR. */
int	 store_del(struct store *s, enum store_table t, const void *key,
	    size_t klen);

/*
 * Moves the raw value under key from t into STORE_QUARANTINE (key: table
 * name, NUL, original key) and deletes it from t. For records that
 * returned STORE_CORRUPT.
 */
int	 store_quarantine(struct store *s, enum store_table t, const void *key,
	    size_t klen);

/*
 * Cursors live inside the current transaction and must be closed before it
 * ends. seek positions at the first key >= key (klen 0: the first key);
 * next/prev step; last positions at the final key. Each returns STORE_OK
 * with key and verified payload pointers (valid as for store_get),
 * STORE_NOTFOUND at the end, STORE_CORRUPT for a bad record (key is still
 * set so the caller can quarantine it and step on), or STORE_ERROR.
 * store_cursor_open gives STORE_NOTFOUND (and no cursor) for a table a
 * read-only store does not have yet: it is empty.
 */
int	 store_cursor_open(struct store *s, enum store_table t,
	    struct store_cursor **out);
int	 store_cursor_seek(struct store_cursor *c, const void *key, size_t klen,
	    const void **k, size_t *kl, const void **v, size_t *vl);
int	 store_cursor_next(struct store_cursor *c, const void **k, size_t *kl,
	    const void **v, size_t *vl);
int	 store_cursor_prev(struct store_cursor *c, const void **k, size_t *kl,
	    const void **v, size_t *vl);
int	 store_cursor_last(struct store_cursor *c, const void **k, size_t *kl,
	    const void **v, size_t *vl);
/* Deletes the record under the cursor. */
int	 store_cursor_del(struct store_cursor *c);
void	 store_cursor_close(struct store_cursor *c);

/*
 * Returns the next value of the named 64-bit sequence (starting at 1),
 * persisted in STORE_META in the current write transaction.
 */
int	 store_next_seq(struct store *s, const char *name, uint64_t *out);

/* Bytes of the map in use and the map's size, from mdb_env_info/stat. */
int	 store_usage(struct store *s, uint64_t *used, uint64_t *map_size);

/*
 * Room left for new data: the map's size less the pages in use (pages on
 * LMDB's free list count as room, so the figure recovers as queues drain),
 * and the bytes the data directory's filesystem still has for the
 * unprivileged. Reads the free list in a short read transaction of its
 * own (LMDB allows no cursor on it in a write transaction), so no
 * transaction may be open: STORE_BUSY otherwise. Cost grows with the free
 * list, so callers cache the figure.
 */
struct store_space {
	uint64_t	map_size;
	uint64_t	map_free;	/* bytes of map not holding live pages */
	uint64_t	disk_avail;	/* statvfs f_bavail * f_frsize */
};
int	 store_space(struct store *s, struct store_space *out);

/*
 * Bytes the data directory's filesystem has for the unprivileged now
 * (statvfs; no transaction needed, cheap enough for every request), or
 * UINT64_MAX when it cannot be told.
 */
uint64_t store_disk_avail(struct store *s);

/*
 * Clears reader slots left by dead processes (mdb_reader_check). Returns
 * the number cleared, or -1.
 */
int	 store_reader_check(struct store *s);

/* A read transaction of another process (mdb_copy, a backup, batonctl). */
struct store_reader {
	long		 pid;
	uint64_t	 txnid;		/* the snapshot it reads */
	uint64_t	 behind;	/* commits since that snapshot */
};

/*
 * The other process's read transaction on the oldest snapshot: STORE_OK
 * with it in out, STORE_NOTFOUND if there is none. While it lasts, pages
 * freed since its snapshot cannot be reused, so data.mdb grows.
 */
int	 store_oldest_reader(struct store *s, struct store_reader *out);

/* Big-endian u64 helpers for keys that must sort numerically. */
void	 store_u64be(uint8_t out[8], uint64_t v);
uint64_t store_be64(const uint8_t in[8]);

#endif
