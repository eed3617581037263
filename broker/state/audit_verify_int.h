/*
 * audit_verify_int.h - what audit_verify.c (the verifier, the exports),
 * audit_archive.c (archives read back, planned and written), audit_page.c
 * and audit_trail.c (other readers of the log) share. Not for other
 * modules.
 */
#ifndef BATON_AUDIT_VERIFY_INT_H
#define BATON_AUDIT_VERIFY_INT_H

#include <stdint.h>
#include <stdio.h>

#include <openssl/evp.h>

#include "audit.h"
#include "audit_int.h"
#include "store.pb-c.h"

/*
 * A walk along the chain, through archives and then the store. want is
 * the next seq expected (0 before the first record of an archive, whose
 * start is not known in advance); prev the hash it must chain onto.
 */
struct audit_verifier {
	EVP_MD_CTX			*md;
	const struct audit_pubkey	*pk;
	const struct audit_anchor	*expect;	/* may be NULL */
	struct audit_verify_report	*r;
	uint64_t			 want;
	uint8_t				 prev[AUDIT_HASH_LEN];
	int				 found;		/* expect seen */
	uint64_t			 kept_seq;	/* last checkpoint kept */
	uint8_t				 kept_hash[AUDIT_HASH_LEN]; /* outside */
	int				 kept_bad;	/* it failed its check */
	uint64_t			 stop_after;	/* 0: walk to the end */
	/* Called with each record that passed; non-zero stops the walk. */
	int				(*each)(void *,
					    const Baton__Store__V1__AuditRecord *,
					    int);
	void				*arg;
};

/* Records in r that seq is bad and why; returns AUDIT_VERIFY_BAD. */
int	audit_verify_bad(struct audit_verify_report *r, uint64_t seq,
	    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Records in r why the log could not be checked; returns -1. */
int	audit_verify_cannot(struct audit_verify_report *r, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* The short names both files use for those two. */
#define bad	audit_verify_bad
#define cannot	audit_verify_cannot

/*
 * One record that decoded, at v->want: checks it and moves the walk on
 * (the first record of an archive sets where the walk starts). Returns
 * AUDIT_VERIFY_OK, AUDIT_VERIFY_BAD, or -1 (cannot, or v->each stopped it).
 */
int	audit_verifier_step(struct audit_verifier *v,
	    const Baton__Store__V1__AuditRecord *rec);

/*
 * Length of the valid UTF-8 sequence at p and its code point in *cp, or 0
 * when p does not start one (overlong forms, surrogates and values past
 * U+10FFFF included). Never reads past a NUL. For every writer of text
 * read back from the log.
 */
int	audit_utf8_seq(const unsigned char *p, uint32_t *cp);

/* Writes rec as one JSON line, as audit export --format jsonl does. */
void	audit_write_json_row(FILE *out,
	    const Baton__Store__V1__AuditRecord *rec);

/*
 * What audit_export does per record, for paged readers (audit_page.c):
 * 1 if r matches f; the header line(s) of fmt (none for JSON Lines); r as
 * one row of fmt.
 */
int	audit_filter_match(const struct audit_filter *f,
	    const Baton__Store__V1__AuditRecord *r);
void	audit_write_header(FILE *out, enum audit_format fmt);
void	audit_write_row(FILE *out, enum audit_format fmt,
	    const Baton__Store__V1__AuditRecord *r);

#endif
