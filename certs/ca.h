/*
 * ca.h - the deployment's certificate authority: creating it, issuing node
 * and broker certificates, and the files it keeps.
 *
 * A CA directory holds:
 *   ca.crt      the self-signed ECDSA P-256 CA certificate (0644)
 *   ca.key      its private key (0600, never readable by anyone else)
 *   issued.txt  one line per certificate issued, appended, never rewritten:
 *               "<serial hex>\t<node|server>\t<id>\t<not before>\t<not after>"
 *               with UTC times as YYYY-MM-DDTHH:MM:SSZ ('#' lines are comments)
 *   revoked.txt one line per revocation, appended, never rewritten:
 *               "<serial hex>\t<revoked at>\t<reason>" (reason as named by
 *               ca_reason_name); missing until the first revocation
 *   crl.pem     the current signed CRL (v2, crlNumber, authorityKeyIdentifier)
 *               listing every serial in revoked.txt; replaced atomically
 *               (temporary file, fsync, rename) so a broker reloading it
 *               reads the old CRL or the new one, never half of one
 *   crlnumber   the number of the last CRL written, in decimal; written
 *               before the CRL it numbers, so a number is never reused
 *   renewals.txt one line per certificate a renewal replaces, appended,
 *               never rewritten: "<old serial>\t<new serial>\t<node id>\t
 *               <renewed at>"; the old one is to be revoked once the node
 *               has connected with the new one (done once revoked.txt
 *               lists it); missing until the first renewal
 *
 * Commands that rewrite the CRL hold an exclusive flock(2) on the CA
 * directory, so two of them never number or list revocations past each
 * other.
 *
 * A node's identity is the certificate's single SAN URI
 * "urn:baton:node:<node id>"; the CN repeats it for people only.
 *
 * Every function returns 0 on success or -1 with err set to a sentence a
 * person can act on (naming the file and the cause, OpenSSL's reason where
 * it has one). No function prints or exits.
 */
#ifndef BATON_CA_H
#define BATON_CA_H

#include <stddef.h>
#include <time.h>

#define CA_DEFAULT_CA_DAYS	3650
#define CA_DEFAULT_LEAF_DAYS	365
#define CA_DEFAULT_CRL_DAYS	30
#define CA_MAX_CRL_DAYS		366	/* re-sign a CRL at least yearly */
#define CA_MAX_DAYS		36500
#define CA_SERIAL_HEX_MAX	40	/* RFC 5280: at most 20 octets */
#define CA_ID_MAX		253	/* node id or broker's first name */
#define CA_TIME_LEN		20	/* "YYYY-MM-DDTHH:MM:SSZ" */
#define CA_NODE_URI_PREFIX	"urn:baton:node:"

#define CA_CERT_FILE		"ca.crt"
#define CA_KEY_FILE		"ca.key"
#define CA_INDEX_FILE		"issued.txt"
#define CA_CRL_FILE		"crl.pem"
#define CA_CRLNUMBER_FILE	"crlnumber"
#define CA_REVOKED_FILE		"revoked.txt"
#define CA_RENEWALS_FILE	"renewals.txt"

/*
 * Creates dir (0700) if missing and in it a new CA valid for days days,
 * with the CN "Baton CA <name>" (name NULL: this host's name), an empty
 * index and an empty CRL. An existing ca.key is refused unless force is set;
 * with force the CA is replaced (certificates it issued stop verifying).
 */
int	ca_init(const char *dir, const char *name, int days, int force,
	    char *err, size_t errlen);

/*
 * Issues a client certificate for node_id (checked with validate_node_id)
 * signed by the CA in cadir, valid for days days from five minutes ago.
 * Writes outdir/<node_id>.crt and outdir/<node_id>.key (0600), creating
 * outdir if missing; existing files are refused unless force is set.
 */
int	ca_issue_node(const char *cadir, const char *node_id,
	    const char *outdir, int days, int force, char *err, size_t errlen);

/*
 * Issues the broker's server certificate with the given DNS names and IP
 * addresses (textual IPv4 or IPv6) as SANs; at least one of either.
 * Writes outdir/server.crt and outdir/server.key as ca_issue_node does.
 */
int	ca_issue_server(const char *cadir, const char *const *dns_names,
	    size_t n_dns, const char *const *ips, size_t n_ip,
	    const char *outdir, int days, int force, char *err, size_t errlen);

/* 1 if name can be a SAN DNS name: LDH labels, "*." allowed first. */
int	ca_valid_dns_name(const char *name);

/* One certificate the CA issued, as issued.txt and revoked.txt record it. */
struct ca_cert {
	char	 serial[CA_SERIAL_HEX_MAX + 1];	/* upper-case hex */
	char	 kind[8];			/* "node" or "server" */
	char	 id[CA_ID_MAX + 1];		/* node id or name */
	char	 not_before[CA_TIME_LEN + 1];	/* UTC, ISO 8601 */
	char	 not_after[CA_TIME_LEN + 1];
	time_t	 not_after_t;
	int	 revoked;			/* 1 once in revoked.txt */
	char	 revoked_at[CA_TIME_LEN + 1];	/* "" unless revoked */
	time_t	 revoked_at_t;
	int	 reason;			/* CRL_REASON_* */
};

/* What the CRL just written says. */
struct ca_crl_info {
	unsigned long long	 number;		/* its crlNumber */
	size_t			 nrevoked;	/* serials listed */
	char			 next_update[CA_TIME_LEN + 1];
};

/*
 * Revocation reasons (RFC 5280 CRLReason) by name: "unspecified",
 * "keyCompromise", "affiliationChanged", "superseded",
 * "cessationOfOperation". ca_reason_parse returns the code (OpenSSL's
 * CRL_REASON_* value) or -1; ca_reason_name the name, or NULL.
 */
int		 ca_reason_parse(const char *name);
const char	*ca_reason_name(int reason);

/*
 * Every certificate in cadir's issued.txt, in the order issued, each
 * marked revoked or not from revoked.txt. *out is a malloc'd array of *n
 * entries (NULL when none) for the caller to free. A line that does not
 * parse is an error naming the file and line: the index is not guessed at.
 */
int	ca_list(const char *cadir, struct ca_cert **out, size_t *n,
	    char *err, size_t errlen);

/*
 * Revokes either every unrevoked certificate issued to node node_id, or
 * the one certificate with serial (hex, any case, ':' between bytes
 * allowed); the other argument is NULL. Only serials in issued.txt can be
 * revoked; one already revoked is refused. The revocations are appended
 * to revoked.txt (and fsynced) first, then the CRL is rewritten with
 * every revoked serial, the next crlNumber and nextUpdate crl_days ahead.
 * On success *revoked (malloc'd, for the caller to free) holds the
 * certificates revoked now, *nrevoked of them, and info the new CRL.
 * If the CRL cannot be written after revoked.txt was, err says so and
 * that ca_crl_update will write it.
 */
int	ca_revoke(const char *cadir, const char *node_id, const char *serial,
	    int reason, int crl_days, struct ca_cert **revoked,
	    size_t *nrevoked, struct ca_crl_info *info, char *err,
	    size_t errlen);

/*
 * Revokes the n certificates with the given serials (as ca_revoke takes
 * one) in one CRL. A serial this CA did not issue is an error and nothing
 * is revoked; one already revoked is skipped. *revoked and *nrevoked are
 * what was revoked now; when that is none, no CRL is written and info is
 * left alone. Otherwise as ca_revoke.
 */
int	ca_revoke_serials(const char *cadir, const char *const *serials,
	    size_t n, int reason, int crl_days, struct ca_cert **revoked,
	    size_t *nrevoked, struct ca_crl_info *info, char *err,
	    size_t errlen);

/*
 * Re-signs the CRL from revoked.txt: same serials, lastUpdate now,
 * nextUpdate crl_days ahead, the next crlNumber. Run before nextUpdate
 * passes: a broker checking CRLs refuses every client once it has.
 */
int	ca_crl_update(const char *cadir, int crl_days,
	    struct ca_crl_info *info, char *err, size_t errlen);

/*
 * Renewal: a node gets a new certificate while its current ones stay
 * valid, so it can switch over without an outage; each replaced one is
 * revoked (reason superseded) once the broker has seen the node connect
 * with the new one (the caller checks that in the broker's audit log).
 */
struct ca_renewal {
	char	 old_serial[CA_SERIAL_HEX_MAX + 1];	/* to be revoked */
	char	 new_serial[CA_SERIAL_HEX_MAX + 1];	/* its replacement */
	char	 id[CA_ID_MAX + 1];			/* the node */
	char	 renewed_at[CA_TIME_LEN + 1];		/* UTC, ISO 8601 */
	time_t	 renewed_at_t;
	int	 done;		/* the old one is revoked (by any command) */
};

/*
 * Issues node_id a new certificate as ca_issue_node does, and records in
 * renewals.txt, for each certificate of node_id that is neither revoked
 * nor expired, that the new one replaces it; all under the CA lock. On
 * success new_serial holds the new serial and *old (malloc'd, for the
 * caller to free) the *nold certificates it replaces (none: nothing to
 * revoke later).
 */
int	ca_renew_node(const char *cadir, const char *node_id,
	    const char *outdir, int days, int force,
	    char new_serial[CA_SERIAL_HEX_MAX + 1], struct ca_cert **old,
	    size_t *nold, char *err, size_t errlen);

/*
 * Every line of cadir's renewals.txt, oldest first, each marked done when
 * revoked.txt lists its old serial. *out is malloc'd (*n entries, NULL
 * when none; renewals.txt missing is none).
 */
int	ca_renewals(const char *cadir, struct ca_renewal **out, size_t *n,
	    char *err, size_t errlen);

#endif
