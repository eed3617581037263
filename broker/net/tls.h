/*
 * tls.h - the only module touching SSL/X509: the server context, client
 * certificate identity, and what a refusal logs.
 */
#ifndef BATON_TLS_H
#define BATON_TLS_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "broker.h"
#include "validate.h"

#define TLS_NODE_URI_PREFIX	"urn:baton:node:"
#define TLS_SERIAL_MAX		64
#define TLS_FPR_LEN		64

/*
 * Builds the server context: TLS 1.3 only (1.2 with ECDHE+AEAD when
 * cfg->allow_tls12), client certificate required and verified against
 * cfg->ca_file (plus cfg->crl_file when set), no compression,
 * renegotiation, tickets or early data. Refuses a private key that is
 * group- or world-readable or not owned by cfg->key_owner. Returns NULL
 * with err set.
 */
SSL_CTX	*tls_server_ctx(const struct broker_config *cfg, char *err, size_t errlen);

/*
 * Takes the node identity from the verified peer certificate: exactly one
 * URI SAN, of the form urn:baton:node:<id>, with a well-formed id, on a
 * leaf that is not a CA. Returns 0 and fills node_id, or -1 with err set
 * to the reason (for the Error frame and the log).
 */
int	tls_peer_node_id(SSL *ssl, char node_id[BATON_NODE_ID_MAX + 1],
	    char *err, size_t errlen);

/* Peer certificate serial (hex) and SHA-256 fingerprint (hex), or "-". */
void	tls_peer_cert_info(SSL *ssl, char serial[TLS_SERIAL_MAX + 1],
	    char fpr[TLS_FPR_LEN + 1]);

/*
 * Verifies a live session's peer certificate again against ctx (a newly
 * loaded context with its CRL). Returns 0 if it still verifies, or -1 with
 * why set ("certificate revoked").
 */
int	tls_peer_reverify(SSL_CTX *ctx, SSL *ssl, char *why, size_t len);

/* 1 if the peer certificate's notAfter has passed. */
int	tls_peer_expired(SSL *ssl);

/*
 * The earliest nextUpdate of the CRLs loaded in ctx, in Unix milliseconds,
 * or 0 when none is loaded. Past it, every client is refused (fail closed).
 */
int64_t	tls_crl_next_update(SSL_CTX *ctx);

/* The broker certificate's notAfter in Unix milliseconds, or 0. */
int64_t	tls_own_cert_not_after(SSL_CTX *ctx);

/* Why the last handshake on ssl failed, as a sentence for the log. */
void	tls_handshake_error(SSL *ssl, unsigned long errcode, char *buf,
	    size_t len);

#endif
