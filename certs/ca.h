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
 *   crl.pem     the current signed CRL (v2, crlNumber, authorityKeyIdentifier)
 *   crlnumber   the number of the last CRL written, in decimal
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

#define CA_DEFAULT_CA_DAYS	3650
#define CA_DEFAULT_LEAF_DAYS	365
#define CA_DEFAULT_CRL_DAYS	30
#define CA_MAX_DAYS		36500
#define CA_NODE_URI_PREFIX	"urn:baton:node:"

#define CA_CERT_FILE		"ca.crt"
#define CA_KEY_FILE		"ca.key"
#define CA_INDEX_FILE		"issued.txt"
#define CA_CRL_FILE		"crl.pem"
#define CA_CRLNUMBER_FILE	"crlnumber"

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

#endif
