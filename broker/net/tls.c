/*
 * tls.c - the only file in the broker that touches SSL and X509.
 *
 * Identity comes only from the single URI SAN of a verified client
 * certificate, compared literally (never from CN or DN, never as a
 * pattern). The context refuses anything but TLS 1.3 unless TLS 1.2 is
 * configured, and turns off renegotiation, compression, tickets and 0-RTT.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

static void
ssl_errtext(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();

	if (e == 0)
		snprintf(buf, len, "unknown error");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

/*
 * A refused client certificate is kept with its SSL (ex_data at this
 * index, freed with it) for tls_peer_cert_info: OpenSSL keeps a peer
 * certificate only once it verified, so without this the audit record of
 * a revoked or expired certificate's refusal could not name it. The
 * index is taken once and never changes (OpenSSL's own registry).
 */
static int refused_cert_idx = -1;

static void
refused_cert_free(void *parent, void *ptr, CRYPTO_EX_DATA *ad, int idx,
    long argl, void *argp)
{
	X509_free(ptr);
}

static int
refused_cert_index(void)
{
	if (refused_cert_idx == -1)
		refused_cert_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL,
		    refused_cert_free);
	return refused_cert_idx;
}

/* Keeps the certificate the peer presented (the chain's leaf), once. */
static void
keep_refused_cert(X509_STORE_CTX *ctx)
{
	SSL *ssl = X509_STORE_CTX_get_ex_data(ctx,
	    SSL_get_ex_data_X509_STORE_CTX_idx());
	X509 *leaf = X509_STORE_CTX_get0_cert(ctx);
	int idx = refused_cert_index();

	if (ssl == NULL || leaf == NULL || idx < 0 ||
	    SSL_get_ex_data(ssl, idx) != NULL || X509_up_ref(leaf) != 1)
		return;
	if (SSL_set_ex_data(ssl, idx, leaf) != 1)
		X509_free(leaf);
}

/*
 * Logs why a peer's chain failed, once, at the depth where it failed, and
 * keeps the certificate presented for the audit record.
 */
static int
verify_cb(int ok, X509_STORE_CTX *ctx)
{
	if (!ok) {
		keep_refused_cert(ctx);
		X509 *cert = X509_STORE_CTX_get_current_cert(ctx);
		int err = X509_STORE_CTX_get_error(ctx);
		char serial[TLS_SERIAL_MAX + 1] = "-";

		if (cert != NULL) {
			BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
			char *hex = bn ? BN_bn2hex(bn) : NULL;

			if (hex != NULL)
				snprintf(serial, sizeof(serial), "%s", hex);
			OPENSSL_free(hex);
			BN_free(bn);
		}
		log_warnx("tls: client certificate refused depth=%d serial=%s "
		    "reason=\"%s\"", X509_STORE_CTX_get_error_depth(ctx), serial,
		    X509_verify_cert_error_string(err));
	}
	return ok;
}

static int
key_file_private(const char *path, uid_t owner, char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_mode & (S_IRWXG | S_IRWXO)) {
		snprintf(err, errlen, "%s: private key is readable by group or "
		    "others (mode %03o); chmod 600 it", path,
		    (unsigned)(st.st_mode & 0777));
		return -1;
	}
	if (st.st_uid != owner) {
		snprintf(err, errlen, "%s: private key is owned by uid %ld, not by "
		    "the broker's user (uid %ld); chown it", path,
		    (long)st.st_uid, (long)owner);
		return -1;
	}
	return 0;
}

SSL_CTX *
tls_server_ctx(const struct broker_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx;
	char e[256];

	if (key_file_private(cfg->key_file, cfg->key_owner, err, errlen) == -1)
		return NULL;
	if ((ctx = SSL_CTX_new(TLS_server_method())) == NULL) {
		ssl_errtext(e, sizeof(e));
		snprintf(err, errlen, "SSL_CTX_new: %s", e);
		return NULL;
	}
	if (!SSL_CTX_set_min_proto_version(ctx,
	    cfg->allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION))
		goto ssl_fail;
	if (cfg->allow_tls12 && !SSL_CTX_set_cipher_list(ctx,
	    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-AES128-GCM-SHA256:"
	    "ECDHE-ECDSA-CHACHA20-POLY1305"))
		goto ssl_fail;
	if (!SSL_CTX_set1_groups_list(ctx, "X25519:P-256"))
		goto ssl_fail;
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
	    SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
	SSL_CTX_set_max_early_data(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* an idle session holds no 16 KiB record buffers (most are idle) */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		ssl_errtext(e, sizeof(e));
		snprintf(err, errlen, "%s: cannot load certificate: %s",
		    cfg->cert_file, e);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		ssl_errtext(e, sizeof(e));
		snprintf(err, errlen, "%s: cannot load private key: %s",
		    cfg->key_file, e);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(err, errlen, "%s does not match certificate %s",
		    cfg->key_file, cfg->cert_file);
		goto fail;
	}
	if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		ssl_errtext(e, sizeof(e));
		snprintf(err, errlen, "%s: cannot load CA certificate: %s",
		    cfg->ca_file, e);
		goto fail;
	}
	if (cfg->crl_file != NULL) {
		X509_STORE *st = SSL_CTX_get_cert_store(ctx);

		if (X509_STORE_load_file(st, cfg->crl_file) != 1) {
			ssl_errtext(e, sizeof(e));
			snprintf(err, errlen, "%s: cannot load CRL: %s",
			    cfg->crl_file, e);
			goto fail;
		}
		X509_STORE_set_flags(st, X509_V_FLAG_CRL_CHECK);
	}
	if (refused_cert_index() < 0) {
		snprintf(err, errlen, "TLS context: no ex_data index");
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT |
	    SSL_VERIFY_CLIENT_ONCE, verify_cb);
	SSL_CTX_set_verify_depth(ctx, 2);
	/* a client certificate must be for client authentication */
	if (!SSL_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT))
		goto ssl_fail;
	return ctx;
ssl_fail:
	ssl_errtext(e, sizeof(e));
	snprintf(err, errlen, "TLS context: %s", e);
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

int
tls_peer_node_id(SSL *ssl, char node_id[BATON_NODE_ID_MAX + 1], char *err,
    size_t errlen)
{
	X509 *cert;
	GENERAL_NAMES *names;
	const char *uri = NULL;
	int i, nuri = 0, rc = -1;
	size_t plen = strlen(TLS_NODE_URI_PREFIX);

	if ((cert = SSL_get0_peer_certificate(ssl)) == NULL) {
		snprintf(err, errlen, "no client certificate");
		return -1;
	}
	if (X509_check_ca(cert) != 0) {
		snprintf(err, errlen, "client certificate is a CA certificate");
		return -1;
	}
	names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	if (names == NULL) {
		snprintf(err, errlen, "client certificate has no subjectAltName; "
		    "identity is taken only from a URI SAN %s<node-id>",
		    TLS_NODE_URI_PREFIX);
		return -1;
	}
	for (i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);

		if (gn->type != GEN_URI)
			continue;
		nuri++;
		uri = (const char *)ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
		/* an embedded NUL would make C string checks lie */
		if ((size_t)ASN1_STRING_length(gn->d.uniformResourceIdentifier) !=
		    strlen(uri))
			uri = NULL;
	}
	if (nuri != 1) {
		snprintf(err, errlen, "client certificate has %d URI SANs; exactly "
		    "one %s<node-id> is required", nuri, TLS_NODE_URI_PREFIX);
		goto done;
	}
	if (uri == NULL || strncmp(uri, TLS_NODE_URI_PREFIX, plen) != 0 ||
	    !validate_node_id(uri + plen)) {
		snprintf(err, errlen, "client certificate URI SAN is not of the "
		    "form %s<node-id>", TLS_NODE_URI_PREFIX);
		goto done;
	}
	snprintf(node_id, BATON_NODE_ID_MAX + 1, "%s", uri + plen);
	rc = 0;
done:
	GENERAL_NAMES_free(names);
	return rc;
}

void
tls_peer_cert_info(SSL *ssl, char serial[TLS_SERIAL_MAX + 1],
    char fpr[TLS_FPR_LEN + 1])
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	BIGNUM *bn;
	char *hex;

	strcpy(serial, "-");
	strcpy(fpr, "-");
	/* one presented but refused in the handshake: the one kept then */
	if (cert == NULL && ssl != NULL && refused_cert_idx >= 0)
		cert = SSL_get_ex_data(ssl, refused_cert_idx);
	if (cert == NULL)
		return;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) != NULL) {
		if ((hex = BN_bn2hex(bn)) != NULL)
			snprintf(serial, TLS_SERIAL_MAX + 1, "%s", hex);
		OPENSSL_free(hex);
		BN_free(bn);
	}
	if (X509_digest(cert, EVP_sha256(), md, &mdlen) == 1 && mdlen == 32)
		for (i = 0; i < mdlen; i++)
			snprintf(fpr + 2 * i, 3, "%02x", md[i]);
}

void
tls_handshake_error(SSL *ssl, unsigned long errcode, char *buf, size_t len)
{
	long vr = ssl ? SSL_get_verify_result(ssl) : X509_V_OK;

	if (vr != X509_V_OK)
		snprintf(buf, len, "certificate verification failed: %s",
		    X509_verify_cert_error_string(vr));
	else if (errcode != 0)
		ERR_error_string_n(errcode, buf, len);
	else
		snprintf(buf, len, "connection closed during handshake");
}

int
tls_peer_reverify(SSL_CTX *ctx, SSL *ssl, char *why, size_t len)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);
	X509_STORE_CTX *xs;
	int ok;

	if (cert == NULL) {
		snprintf(why, len, "no client certificate");
		return -1;
	}
	if ((xs = X509_STORE_CTX_new()) == NULL) {
		snprintf(why, len, "out of memory");
		return -1;
	}
	if (X509_STORE_CTX_init(xs, SSL_CTX_get_cert_store(ctx), cert,
	    SSL_get_peer_cert_chain(ssl)) != 1) {
		X509_STORE_CTX_free(xs);
		snprintf(why, len, "cannot set up verification");
		return -1;
	}
	X509_STORE_CTX_set_purpose(xs, X509_PURPOSE_SSL_CLIENT);
	ok = X509_verify_cert(xs);
	if (ok != 1)
		snprintf(why, len, "%s", X509_verify_cert_error_string(
		    X509_STORE_CTX_get_error(xs)));
	X509_STORE_CTX_free(xs);
	ERR_clear_error();
	return ok == 1 ? 0 : -1;
}

int
tls_peer_expired(SSL *ssl)
{
	X509 *cert = SSL_get0_peer_certificate(ssl);

	return cert != NULL && X509_cmp_current_time(X509_get0_notAfter(cert)) < 0;
}

int64_t
tls_crl_next_update(SSL_CTX *ctx)
{
	STACK_OF(X509_OBJECT) *objs;
	int64_t earliest = 0;
	int i;

	objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (i = 0; objs != NULL && i < sk_X509_OBJECT_num(objs); i++) {
		X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
		const ASN1_TIME *next;
		struct tm tm;
		int64_t ms;

		if (crl == NULL || (next = X509_CRL_get0_nextUpdate(crl)) == NULL)
			continue;
		if (ASN1_TIME_to_tm(next, &tm) != 1)
			continue;
		ms = (int64_t)timegm(&tm) * 1000;
		if (earliest == 0 || ms < earliest)
			earliest = ms;
	}
	return earliest;
}

int64_t
tls_own_cert_not_after(SSL_CTX *ctx)
{
	X509 *cert = SSL_CTX_get0_certificate(ctx);
	struct tm tm;

	if (cert == NULL || ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm) != 1)
		return 0;
	return (int64_t)timegm(&tm) * 1000;
}
