/*
 * audit_int.h - what audit.c (writing) and audit_verify.c (verifying,
 * querying) share: the canonical encoding and the checkpoint text. Not for
 * other modules; the unit test uses it to forge records the way an
 * attacker who knows the algorithm would.
 *
 * Canonical encoding of a record, the input of its SHA-256 ("hash"):
 *
 *   "baton-audit-record-v1\n"            22 bytes, domain separation
 *   u64be seq
 *   u64be time_ms                        two's complement
 *   prev_hash                            32 bytes (all zero for seq 1)
 *   then, for each of these 15 strings in this order,
 *   u32be length || bytes (UTF-8, no terminator; absent = length 0):
 *     event, actor, actor_role, actor_org, other, message_id,
 *     subject_ref, disclosed, withheld, outcome, reason, cert_serial,
 *     cert_sha256, peer, key_id
 *   and, for a record of format 2 or later only (store.proto's field
 *   format; 0 and 1 mean format 1, which ends above):
 *   u32be format
 *   u32be length || bytes, for risk, then kind
 *   u64be since_submit_ms, then u64be since_delivery_ms (two's
 *     complement; -1 when not applicable)
 *   u32be length || bytes, for detail
 *
 * The format is part of what is hashed, so a format-2 record cannot be
 * passed off as format 1 (dropping its new fields) nor the other way
 * round; verify also refuses a format-1 record that carries any new field
 * (nothing would cover it) and a format it does not know.
 *
 * The signature of a checkpoint is not part of it (it signs the result).
 * Checkpoint signature: Ed25519 over the ASCII text
 *   "baton-audit-v1\n" <seq in decimal> "\n" <hash, 64 lower-case hex> "\n"
 */
#ifndef BATON_AUDIT_INT_H
#define BATON_AUDIT_INT_H

#include <openssl/evp.h>

#include "audit.h"
#include "store.pb-c.h"

#define AUDIT_HASH_LEN		32
#define AUDIT_NFIELDS		15	/* strings of format 1 */
#define AUDIT_FORMAT_1		1
#define AUDIT_FORMAT_2		2
#define AUDIT_FORMAT_NOW	AUDIT_FORMAT_2	/* what audit_append writes */
#define AUDIT_ENC_TAG		"baton-audit-record-v1\n"
#define AUDIT_SIG_TAG		"baton-audit-v1"
#define AUDIT_SIG_TEXT_MAX	128

/*
 * SHA-256 of r's canonical encoding (r->prev_hash must be 32 bytes); -1
 * also for a format it does not know.
 */
int	audit_record_hash(EVP_MD_CTX *md,
	    const Baton__Store__V1__AuditRecord *r,
	    uint8_t out[AUDIT_HASH_LEN]);

/* The signed text of a checkpoint; its length, or -1. */
int	audit_checkpoint_text(uint64_t seq, const uint8_t hash[AUDIT_HASH_LEN],
	    char *out, size_t outlen);

/* Hex SHA-256 of pk's raw public key: the key id checkpoints carry. */
int	audit_key_id(EVP_PKEY *pk, char out[AUDIT_REF_HEX + 1]);

/*
 * Keys in STORE_META of the two records kept outside the chain; each value
 * is a packed AuditRecord, a copy of a checkpoint as stored in the chain.
 */
#define AUDIT_META_LAST_CP	"audit:last-checkpoint"
#define AUDIT_META_ARCHIVED	"audit:archive-anchor"

/*
 * Reads and decodes one of them: STORE_OK and *out (free it with
 * baton__store__v1__audit_record__free_unpacked), STORE_NOTFOUND,
 * STORE_CORRUPT (fails the store's check or does not decode as a record
 * with a 32-byte hash), or STORE_ERROR.
 */
int	audit_meta_get(struct store *s, const char *key,
	    Baton__Store__V1__AuditRecord **out);

/*
 * 1 if r is a record format audit_record_hash knows and its format-2
 * fields are empty unless its format has them; else 0 (why: says so).
 */
int	audit_record_format_ok(const Baton__Store__V1__AuditRecord *r,
	    const char **why);

/* audit_head with the raw hash. */
int	audit_read_head(struct store *s, uint64_t *seq,
	    uint8_t hash[AUDIT_HASH_LEN]);

#endif
