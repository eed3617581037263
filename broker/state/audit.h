/*
 * audit.h - the tamper-evident audit log.
 *
 * Records live in the store's named database "audit" (STORE_AUDIT, key =
 * 8-byte big-endian sequence number), written in the SAME transaction as
 * the state change they describe, so there is never a delivery without
 * its record nor a record without its delivery. Each record carries the
 * SHA-256 of the previous record and its own SHA-256 over a canonical
 * encoding; periodic checkpoint records are signed with the broker's
 * Ed25519 audit key. Records hold identifiers only: node ids, message ids,
 * section names, codes, certificate serials and a pseudonymous subject
 * reference (HMAC-SHA-256 of the normalised NHS number under the
 * deployment key) - never an NHS number, a name or handover content. Since
 * record format 2 (audit_int.h) a record about a handover also names its
 * risk level and transition kind (categories, for reports by risk) and
 * how long it had waited.
 *
 * Two records outside the chain, in STORE_META, each a copy of a signed
 * checkpoint record (audit_int.h): the last checkpoint written, so that a
 * log wiped or cut back before it fails verification, and the archive
 * anchor, the checkpoint the oldest records were archived up to, which the
 * first record left in the store must chain onto.
 *
 * Keys, in the data directory, created 0600 on first use:
 *   subject.key        32 random bytes, HMAC key for subject references
 *   audit-signing.key  Ed25519 private key (PEM) for checkpoints
 *   audit-signing.pub  its public key (PEM), to keep elsewhere as well
 */
#ifndef BATON_AUDIT_H
#define BATON_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"
#include "validate.h"

#define AUDIT_REF_HEX	64	/* hex chars of a subject reference / hash */

struct Baton__Store__V1__AuditRecord;	/* a stored record (store.proto) */

/* Event names, as stored and as queried (batonctl audit list --event). */
#define AUDIT_CONN_ACCEPTED	"connection_accepted"
#define AUDIT_CONN_REFUSED	"connection_refused"
#define AUDIT_SUBMIT_ACCEPTED	"submitted"
#define AUDIT_SUBMIT_REFUSED	"submit_refused"
#define AUDIT_QUEUED		"queued"
#define AUDIT_DELIVERED		"delivered"
#define AUDIT_ACKNOWLEDGED	"acknowledged"
#define AUDIT_ACK_REFUSED	"ack_refused"
#define AUDIT_ACCEPTED		"accepted"
#define AUDIT_REJECTED		"rejected"
#define AUDIT_REDIRECTED	"redirected"
#define AUDIT_DECISION_REFUSED	"decision_refused"
#define AUDIT_STATUS_READ	"status_read"
#define AUDIT_STATUS_REFUSED	"status_refused"
#define AUDIT_PULL_REFUSED	"pull_refused"		/* an auditor may not receive */
#define AUDIT_ESCALATED		"escalated"
#define AUDIT_EXPIRED		"expired"
#define AUDIT_NOTICE_QUEUED	"notice_queued"
#define AUDIT_NOTICE_DELIVERED	"notice_delivered"
#define AUDIT_NOTICE_ACKED	"notice_acknowledged"
#define AUDIT_QUARANTINED	"quarantined"
#define AUDIT_PURGED		"purged"
#define AUDIT_NODE_CHANGED	"node_changed"		/* batonctl node ... */
#define AUDIT_CERT_CHANGED	"certificate_changed"	/* batonctl cert ... */
#define AUDIT_POLICY_LOADED	"policy_loaded"		/* detail policy_sha256=HEX */
#define AUDIT_POLICY_REFUSED	"policy_refused"	/* a reload kept the old one */
#define AUDIT_BROKER_STARTED	"broker_started"
#define AUDIT_BROKER_STOPPED	"broker_stopped"
#define AUDIT_CHECKPOINT	"checkpoint"
#define AUDIT_LOG_READ		"audit_read"		/* batonctl audit list/export */
#define AUDIT_SUPPRESSED	"audit_suppressed"	/* refusals counted, not each recorded */
#define AUDIT_ARCHIVED		"audit_archived"	/* batonctl audit archive */
/* Data-sharing agreements (agreement.h); detail agreement=ID */
#define AUDIT_AGREEMENT_ADDED	"agreement_added"	/* batonctl agreement add */
#define AUDIT_AGREEMENT_ENDED	"agreement_ended"	/* batonctl agreement end */
#define AUDIT_AGREEMENT_LAPSING	"agreement_lapsing"	/* broker: lapses within 30 days */
#define AUDIT_AGREEMENT_LAPSED	"agreement_lapsed"	/* broker: lapsed or ended */
#define AUDIT_HELD		"held"			/* its agreement is not in force */
#define AUDIT_RELEASED		"released"		/* queued again under one */
#define AUDIT_SUPERSEDED	"superseded"		/* corrected by a new version */
/* Check-ins after acceptance (checkin.h) */
#define AUDIT_CHECKINS_SCHEDULED "checkins_scheduled"
#define AUDIT_CHECKIN_RECORDED	"checkin_recorded"	/* made, missed, rescheduled */
#define AUDIT_CHECKIN_REFUSED	"checkin_refused"
#define AUDIT_CONTACT_MISSED	"contact_missed"	/* lead and sender told */
#define AUDIT_CONTACT_ESCALATED	"contact_escalated"	/* and an escalation node */

/*
 * Reason texts that readers of the log count by (metrics.c, the report):
 * written and matched through these, never retyped.
 */
#define AUDIT_REASON_RESUBMITTED	"resubmitted: original receipt returned"
#define AUDIT_REASON_ATTEMPT		"attempt %u"	/* delivered: the Nth try */
#define AUDIT_REASON_FIRST_ATTEMPT	"attempt 1"

/*
 * One event. Unused fields are NULL (stored as empty). Strings are
 * identifiers and codes only; the audit module cannot tell them from
 * clinical text, so callers must never pass any. A string longer than
 * AUDIT_FIELD_MAX bytes is stored cut there (at a UTF-8 boundary).
 */
#define AUDIT_FIELD_MAX	1024
struct audit_event {
	const char	*event;		/* one of AUDIT_* */
	const char	*actor;		/* acting node id, "broker" or "batonctl" */
	const char	*actor_role;
	const char	*actor_org;
	const char	*other;		/* the other node, if any */
	const char	*message_id;
	const char	*subject_ref;	/* hex HMAC, from audit_subject_ref */
	const char	*disclosed;	/* section names, comma-separated */
	const char	*withheld;	/* section names, comma-separated */
	const char	*outcome;	/* "ok" or a code name, e.g. ROUTE_NOT_ALLOWED */
	const char	*reason;	/* short reason: code text, decision reason */
	const char	*cert_serial;	/* peer certificate serial (hex) */
	const char	*cert_sha256;	/* peer certificate fingerprint (hex) */
	const char	*peer;		/* address:port */
	/*
	 * Record format 2 (store.proto AuditRecord 21..26). Zero (NULL) means
	 * "not applicable", so `struct audit_event ev = { 0 };` needs nothing
	 * more: a time is recorded only when its has_ flag is set (the
	 * record then holds it, a negative one as 0: the wall clock stepped
	 * back); without the flag the record holds -1, whatever the value.
	 */
	const char	*risk;		/* "low" ... "critical", "unspecified" */
	const char	*kind;		/* "referral", "step_down", ... */
	int64_t		 since_submit_ms;   /* since the broker received it */
	int64_t		 since_delivery_ms; /* since its first delivery to
					       the node deciding */
	int		 has_since_submit;  /* 1: since_submit_ms applies */
	int		 has_since_delivery; /* 1: since_delivery_ms applies */
	const char	*detail;	/* key=value facts, blank between them,
					   e.g. policy_sha256=HEX */
	char		 detail_buf[512]; /* room for a detail built with the
					   event (lifecycle_audit_handover:
					   basis, agreement, two references) */
};

struct audit;

/*
 * Opens the audit keys in data_dir, creating them (mode 0600) when create
 * is set and they are missing. Returns NULL with err set.
 */
struct audit	*audit_open(const char *data_dir, int create, char *err,
		    size_t errlen);
void		 audit_close(struct audit *a);

/*
 * Computes the pseudonymous reference of an NHS number (spaces and
 * hyphens ignored) into out (65 bytes, hex). Returns 0, or -1 if the
 * number is not a valid NHS number.
 */
int		 audit_subject_ref(const struct audit *a, const char *nhs_number,
		    char out[AUDIT_REF_HEX + 1]);

/*
 * Appends one record in the store's current write transaction (the
 * caller's nested operation, so it commits or aborts with the change it
 * describes). The record at every multiple of AUDIT_CHECKPOINT_EVERY is a
 * signed checkpoint, written after the record before it. Returns
 * STORE_OK, STORE_FULL or STORE_ERROR; STORE_ERROR also for an event name
 * not in the list above and when the last record is damaged (the chain is
 * not extended from a record that fails its check); audit_strerror says
 * which.
 */
#define AUDIT_CHECKPOINT_EVERY	256
int		 audit_append(struct audit *a, struct store *s,
		    const struct audit_event *ev, int64_t now_ms);

/*
 * Writes a signed checkpoint now (at start and clean stop, so everything
 * up to them is signed, not only up to the last multiple of
 * AUDIT_CHECKPOINT_EVERY). Returns as audit_append.
 */
int		 audit_checkpoint(struct audit *a, struct store *s, int64_t now_ms);

/* Text of the last failure of audit_open/append/checkpoint, for logs. */
const char	*audit_strerror(const struct audit *a);

/*
 * The chain head in the current transaction: *seq 0 and an all-zero hash
 * for an empty log. STORE_OK; STORE_CORRUPT when the last record fails its
 * check (audit_append then refuses: run batonctl audit verify); STORE_ERROR.
 */
int		 audit_head(struct store *s, uint64_t *seq,
		    char hash_hex[AUDIT_REF_HEX + 1]);

/*
 * A stored record's since_submit_ms and since_delivery_ms (store.proto),
 * or -1 when it has none: always for a record of format 1, whose fields
 * read as 0. Readers of the log should take the times through these.
 */
int64_t		 audit_record_since_submit(
		    const struct Baton__Store__V1__AuditRecord *r);
int64_t		 audit_record_since_delivery(
		    const struct Baton__Store__V1__AuditRecord *r);

/* 1 if e is one of the AUDIT_* event names above, else 0. */
int		 audit_event_known(const char *e);
/* The i-th event name, from 0; NULL past the last. */
const char	*audit_event_name(size_t i);

/*
 * Times: UTC ISO 8601 with milliseconds, "2026-11-24T02:40:35.123Z"
 * (out: AUDIT_TIME_LEN + 1 bytes). audit_time_parse takes a date
 * "YYYY-MM-DD" or a date-time "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]", always
 * UTC; with end_of set, a date alone means the last millisecond of that
 * day (for --until). Returns 0, or -1 if s is not such a time.
 */
#define AUDIT_TIME_LEN	24
void		 audit_time_format(int64_t ms, char out[AUDIT_TIME_LEN + 1]);
int		 audit_time_parse(const char *s, int end_of, int64_t *out);

/* Verification (batonctl audit verify). */
struct audit_pubkey;

/* Loads an Ed25519 public key (PEM). NULL with err set. */
struct audit_pubkey *audit_pubkey_load(const char *path, char *err,
		    size_t errlen);
void		 audit_pubkey_free(struct audit_pubkey *pk);

/*
 * An anchor kept outside the data directory: "SEQ:HASH" (what batonctl
 * audit head prints) or a bare "HASH" (seq 0: found anywhere in the log).
 */
struct audit_anchor {
	uint64_t	 seq;		/* 0: hash only */
	uint8_t		 hash[32];
};
/* Returns 0, or -1 if s is neither form (HASH: 64 hex digits). */
int		 audit_anchor_parse(const char *s, struct audit_anchor *out);

struct audit_verify_report {
	uint64_t	 count;		/* records that passed (archives and store) */
	uint64_t	 first_seq;	/* the first of them (0: none) */
	uint64_t	 head_seq;	/* last good record (0: empty log) */
	char		 head_hash[AUDIT_REF_HEX + 1];
	uint64_t	 checkpoints;	/* checkpoint signatures verified */
	uint64_t	 last_checkpoint; /* seq of the last of them, or 0 */
	uint64_t	 archived_upto;	/* the store's archive anchor: records up
					   to this seq were archived (0: none) */
	uint64_t	 kept_checkpoint; /* the last checkpoint as kept outside
					   the chain (0: none written yet) */
	uint64_t	 store_nodes;	/* registered nodes (an empty log's check) */
	uint64_t	 archive_first;	/* the last archive read: its first seq, */
	uint64_t	 archive_last;	/* its last seq (a checkpoint) */
	uint64_t	 archive_records; /* its number of records */
	char		 archive_sha256[AUDIT_REF_HEX + 1]; /* of its bytes */
	uint64_t	 bad_seq;	/* AUDIT_VERIFY_BAD: first bad seq (0:
					   a hash-only anchor not found, or a
					   record outside the chain) */
	char		 what[512];	/* why it is bad, or why it failed */
};

#define AUDIT_VERIFY_OK		0
#define AUDIT_VERIFY_BAD	1
/*
 * Walks the whole log in one read transaction of its own (none may be
 * open on s) and checks, record by record: the key is the next sequence
 * number, the store's record hash, that it decodes, its seq, that
 * prev_hash is the previous record's hash, its own hash over the canonical
 * encoding, every checkpoint's signature under pk (and that the record at
 * each multiple of AUDIT_CHECKPOINT_EVERY is a checkpoint), and the anchor
 * expect (may be NULL). Stops at the first bad record.
 *
 * It also checks the log against the store around it: after an archive,
 * the first record must chain onto the archive anchor (itself a signed
 * checkpoint); the log must reach the last checkpoint kept outside the
 * chain, with the same hash; and an empty log is intact only in a new
 * store (no checkpoint ever written, no archive, no registered node, no
 * handover).
 * Returns AUDIT_VERIFY_OK, AUDIT_VERIFY_BAD, or -1 when the log could not
 * be read or the anchor expect lies in the archived part (r->what says).
 */
int		 audit_verify(struct store *s, const struct audit_pubkey *pk,
		    const struct audit_anchor *expect,
		    struct audit_verify_report *r);

/*
 * The same walk in steps, for archives: one verifier follows the chain
 * through archive files (oldest first) and then, optionally, the store,
 * whose archive anchor must then be the last archive's final checkpoint.
 * Each step returns as audit_verify; after a step that is not
 * AUDIT_VERIFY_OK, only audit_verifier_free may follow.
 *
 * An archive (batonctl audit archive) is JSON Lines as audit export
 * writes it, ending with a signed checkpoint. The first archive may start
 * past seq 1: its first prev_hash is then taken on trust, and r says where
 * it starts, so it can be matched with the archive before it.
 */
struct audit_verifier;
struct audit_verifier *audit_verifier_new(const struct audit_pubkey *pk,
		    const struct audit_anchor *expect,
		    struct audit_verify_report *r);
/* One archive; name is for messages. Sets r->archive_*. */
int		 audit_verifier_archive(struct audit_verifier *v, FILE *in,
		    const char *name);
/* The store's log (one read transaction of its own; none may be open). */
int		 audit_verifier_store(struct audit_verifier *v,
		    struct store *s);
/* Last: was the anchor expect found? */
int		 audit_verifier_end(struct audit_verifier *v);
void		 audit_verifier_free(struct audit_verifier *v);

/*
 * Archiving (batonctl audit archive), in three steps so that nothing is
 * removed before its archive is written and verified:
 *
 * 1. audit_archive_plan verifies the whole log (as audit_verify) and
 *    picks the records to archive: from the first in the store to the
 *    last signed checkpoint whose seq is at most upto and such that it and
 *    every record before it is older than before_ms. Ending at a
 *    checkpoint makes the archive verifiable on its own, with the public
 *    key. p->last is 0 when no checkpoint qualifies (nothing to archive).
 * 2. audit_archive_write writes those records to out as JSON Lines
 *    (audit export's format), checking the chain again as it goes.
 * 3. audit_archive_remove, in the caller's write transaction, checks the
 *    plan still holds, removes the records, makes their last checkpoint
 *    the archive anchor, and appends ev (an AUDIT_ARCHIVED record) and a
 *    checkpoint after it, so the removal itself is signed at once.
 *
 * Steps 1 and 2 return as audit_verify; step 3 as audit_append, and
 * STORE_ERROR when the log changed since the plan (audit_strerror says).
 */
struct audit_archive_plan {
	uint64_t	 first;		/* first seq to archive */
	uint64_t	 last;		/* the checkpoint it ends at; 0: none */
	uint8_t		 last_hash[32];	/* that checkpoint's hash */
	int64_t		 first_ms;	/* time of the first record */
	int64_t		 newest_ms;	/* the newest time in the range */
	uint64_t	 head_seq;	/* the head when planned */
	uint64_t	 skipped_seq;	/* the first checkpoint after last that
					   was not taken (0: none), and why: */
	const char	*skipped_why;	/* "seq" or "time" */
};
int		 audit_archive_plan(struct store *s,
		    const struct audit_pubkey *pk, uint64_t upto,
		    int64_t before_ms, struct audit_archive_plan *p,
		    struct audit_verify_report *r);
int		 audit_archive_write(struct store *s,
		    const struct audit_pubkey *pk,
		    const struct audit_archive_plan *p, FILE *out,
		    struct audit_verify_report *r);
int		 audit_archive_remove(struct audit *a, struct store *s,
		    const struct audit_archive_plan *p,
		    const struct audit_event *ev, int64_t now_ms);

/*
 * Queries (batonctl audit list / export / trail, and over the wire). A
 * record matches when it matches every field given; a field given several
 * values (--event A --event B) matches any of them. The filter holds
 * copies of its values, so it outlives the strings it was filled from.
 */
#define AUDIT_FILTER_MAX	16	/* values of one field */
#define AUDIT_EVENT_MAX		31	/* the longest event name, and more */
struct audit_filter {
	int64_t		 since_ms;	/* INT64_MIN: no lower bound */
	int64_t		 until_ms;	/* INT64_MAX: no upper bound */
	const char	*subject_ref;	/* hex, from audit_subject_ref; NULL:
					   any (not copied: keep it) */
	char		 nodes[AUDIT_FILTER_MAX][BATON_NODE_ID_MAX + 1];
	size_t		 nnodes;	/* actor or other, literally */
	char		 message_ids[AUDIT_FILTER_MAX][BATON_MESSAGE_ID_MAX + 1];
	size_t		 nmessage_ids;
	char		 events[AUDIT_FILTER_MAX][AUDIT_EVENT_MAX + 1];
	size_t		 nevents;
};
enum audit_filter_field {
	AUDIT_FILTER_NODE,		/* a node id */
	AUDIT_FILTER_MESSAGE,		/* a message id or reference */
	AUDIT_FILTER_EVENT		/* an event name (audit_event_known) */
};
void		 audit_filter_init(struct audit_filter *f);

/*
 * Adds value to field which of f. Returns 0; -1 when it is not a valid
 * value of that field (node id, message id, known event name: checked
 * here, so every caller refuses the same), or AUDIT_FILTER_ERR_FULL when
 * the field already holds AUDIT_FILTER_MAX values. Adding a value twice
 * keeps one.
 */
#define AUDIT_FILTER_ERR_FULL	(-2)
int		 audit_filter_add(struct audit_filter *f,
		    enum audit_filter_field which, const char *value);

/*
 * Appends to buf (NUL-terminated, len bytes in all) " node=A,B
 * message=M event=E,F" for the fields given, cut to fit: for the record
 * of a query. The subject and the times are not included (the record has
 * its own subject_ref; times are formatted by the caller).
 */
void		 audit_filter_describe(const struct audit_filter *f, char *buf,
		    size_t len);

enum audit_format {
	AUDIT_FORMAT_TABLE = 0,		/* aligned columns, for people */
	AUDIT_FORMAT_CSV,		/* RFC 4180, header row first */
	AUDIT_FORMAT_JSONL		/* one JSON object per line */
};

/*
 * Streams every record matching f to out, in sequence order, from one read
 * transaction of its own (none may be open on s): one record decoded at a
 * time, so memory stays constant however long the log. *matched (may be
 * NULL) counts the records written. Returns 0, or -1 with err set (a write
 * error, or a damaged record: it names the seq and stops there, never
 * skipping it silently).
 */
int		 audit_export(struct store *s, const struct audit_filter *f,
		    enum audit_format fmt, FILE *out, uint64_t *matched,
		    char *err, size_t errlen);

/*
 * The walk under audit_export, for other readers of the whole log (trail,
 * reports): calls each with every record, in sequence order, decoded one
 * at a time (each must not keep r), from one read transaction of its own
 * (none may be open on s). Returns 0; -1 with err set when a record is
 * damaged or does not decode (named by seq, never skipped) or the store
 * fails; or the non-zero value each returned, which stops the walk.
 */
int		 audit_walk(struct store *s, int (*each)(void *arg,
		    const struct Baton__Store__V1__AuditRecord *r), void *arg,
		    char *err, size_t errlen);

#endif
