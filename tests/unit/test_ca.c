/*
 * test_ca.c - the certificate authority (certs/ca.c) against OpenSSL's own
 * verifier: every certificate is checked by parsing the files written, not
 * by trusting what ca.c meant to write. Each test gets a fresh temporary
 * directory, removed afterwards.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ca.h"

struct fixture {
	char	 base[64];	/* mkdtemp directory, removed in teardown */
	char	 ca[128];	/* base/ca: the CA directory */
	char	 out[128];	/* base/out: where leaves are written */
	char	 err[512];
};

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int
setup(void **state)
{
	struct fixture *f;

	if ((f = calloc(1, sizeof(*f))) == NULL)
		return -1;
	snprintf(f->base, sizeof(f->base), "/tmp/baton-test-ca-XXXXXX");
	if (mkdtemp(f->base) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->ca, sizeof(f->ca), "%s/ca", f->base);
	snprintf(f->out, sizeof(f->out), "%s/out", f->base);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	nftw(f->base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

/* setup plus an initialised CA. */
static int
setup_ca(void **state)
{
	struct fixture *f;

	if (setup(state) == -1)
		return -1;
	f = *state;
	if (ca_init(f->ca, "test", 30, 0, f->err, sizeof(f->err)) != 0) {
		fprintf(stderr, "ca_init: %s\n", f->err);
		teardown(state);
		return -1;
	}
	return 0;
}

static void
path_in(char *out, size_t len, const char *dir, const char *name)
{
	int n;

	n = snprintf(out, len, "%s/%s", dir, name);
	assert_true(n > 0 && (size_t)n < len);
}

static mode_t
file_mode(const char *path)
{
	struct stat st;

	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static X509 *
load_cert(const char *dir, const char *name)
{
	char path[256];
	FILE *fp;
	X509 *x, *extra;

	path_in(path, sizeof(path), dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	x = PEM_read_X509(fp, NULL, NULL, NULL);
	assert_non_null(x);
	/* The file holds the one certificate and nothing after it. */
	extra = PEM_read_X509(fp, NULL, NULL, NULL);
	assert_null(extra);
	ERR_clear_error();
	fclose(fp);
	return x;
}

static EVP_PKEY *
load_key(const char *dir, const char *name)
{
	char path[256];
	FILE *fp;
	EVP_PKEY *k;

	path_in(path, sizeof(path), dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	k = PEM_read_PrivateKey(fp, NULL, NULL, NULL);
	assert_non_null(k);
	fclose(fp);
	return k;
}

static char *
slurp(const char *dir, const char *name)
{
	char path[256];
	FILE *fp;
	char *buf;
	size_t n;

	path_in(path, sizeof(path), dir, name);
	fp = fopen(path, "r");
	assert_non_null(fp);
	buf = calloc(1, 65536);
	assert_non_null(buf);
	n = fread(buf, 1, 65535, fp);
	buf[n] = '\0';
	fclose(fp);
	return buf;
}

static int
exists(const char *dir, const char *name)
{
	char path[256];
	struct stat st;

	path_in(path, sizeof(path), dir, name);
	return lstat(path, &st) == 0;
}

/* Temporary files left in dir by an interrupted write. */
static int
count_tmp(const char *dir)
{
	DIR *d;
	struct dirent *de;
	int n = 0;

	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strstr(de->d_name, ".tmp-") != NULL)
			n++;
	closedir(d);
	return n;
}

/* Verifies leaf against the CA in cadir for purpose; returns the error code. */
static int
verify(const char *cadir, X509 *leaf, int purpose)
{
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	X509 *ca;
	int ok, e;

	ca = load_cert(cadir, CA_CERT_FILE);
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx, purpose), 1);
	ok = X509_verify_cert(ctx);
	e = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_free(ca);
	return e;
}

static char *
serial_hex(X509 *x)
{
	BIGNUM *bn;
	char *hex;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	assert_non_null(bn);
	hex = BN_bn2hex(bn);
	assert_non_null(hex);
	BN_free(bn);
	return hex;
}

static int
ext_critical(X509 *x, int nid)
{
	int i;

	i = X509_get_ext_by_NID(x, nid, -1);
	assert_true(i >= 0);
	return X509_EXTENSION_get_critical(X509_get_ext(x, i));
}

static void
test_init_creates_ca(void **state)
{
	struct fixture *f = *state;
	char path[256], cn[128];
	X509 *x;
	EVP_PKEY *k, *pub;
	char *txt;

	assert_int_equal(ca_init(f->ca, "test", 30, 0, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(file_mode(f->ca), 0700);
	path_in(path, sizeof(path), f->ca, CA_KEY_FILE);
	assert_int_equal(file_mode(path), 0600);
	path_in(path, sizeof(path), f->ca, CA_CERT_FILE);
	assert_int_equal(file_mode(path) & 0022, 0);

	x = load_cert(f->ca, CA_CERT_FILE);
	k = load_key(f->ca, CA_KEY_FILE);
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_string_equal(EVP_PKEY_get0_type_name(k), "EC");
	assert_int_equal(EVP_PKEY_get_bits(k), 256);
	pub = X509_get0_pubkey(x);
	assert_int_equal(X509_verify(x, pub), 1);

	assert_true(X509_get_extension_flags(x) & EXFLAG_CA);
	assert_int_equal(X509_check_ca(x), 1);
	assert_int_equal(X509_get_pathlen(x), 0);
	assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
	assert_int_equal(ext_critical(x, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(x), KU_KEY_CERT_SIGN | KU_CRL_SIGN);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)), (int)strlen("Baton CA test"));
	assert_string_equal(cn, "Baton CA test");

	/* The index exists, with its header and no certificates yet. */
	txt = slurp(f->ca, CA_INDEX_FILE);
	assert_int_equal(txt[0], '#');
	assert_non_null(strchr(txt, '\n'));
	assert_int_equal(strchr(txt, '\n')[1], '\0');
	free(txt);
	/* No temporary file is left behind. */
	assert_int_equal(count_tmp(f->ca), 0);

	EVP_PKEY_free(k);
	X509_free(x);
}

static void
test_init_refuses_overwrite(void **state)
{
	struct fixture *f = *state;
	char *before, *after;

	before = slurp(f->ca, CA_KEY_FILE);
	assert_int_equal(ca_init(f->ca, "test", 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "ca.key already exists; pass --force"));
	after = slurp(f->ca, CA_KEY_FILE);
	assert_string_equal(before, after);
	free(after);

	assert_int_equal(ca_init(f->ca, "again", 30, 1, f->err,
	    sizeof(f->err)), 0);
	after = slurp(f->ca, CA_KEY_FILE);
	assert_string_not_equal(before, after);
	free(after);
	free(before);
	{
		char path[256];

		path_in(path, sizeof(path), f->ca, CA_KEY_FILE);
		assert_int_equal(file_mode(path), 0600);
	}
}

static void
test_init_bad_arguments(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ca_init(f->ca, "test", 0, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "out of range"));
	assert_int_equal(ca_init(f->ca, "bad\nname", 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "control character"));
	assert_int_equal(ca_init(f->ca, "", 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "CA name is empty"));
	assert_int_equal(ca_init(f->ca, "a-name-that-is-much-too-long-for-the-"
	    "common-name-field-of-a-certificate", 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "too long"));
	assert_false(exists(f->ca, CA_KEY_FILE));
}

static void
test_node_cert(void **state)
{
	struct fixture *f = *state;
	char path[256], cn[80];
	X509 *x;
	EVP_PKEY *k;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	const ASN1_INTEGER *serial;
	time_t now;

	assert_int_equal(ca_issue_node(f->ca, "gp-1", f->out, 365, 0, f->err,
	    sizeof(f->err)), 0);
	path_in(path, sizeof(path), f->out, "gp-1.key");
	assert_int_equal(file_mode(path), 0600);
	x = load_cert(f->out, "gp-1.crt");
	k = load_key(f->out, "gp-1.key");
	assert_int_equal(X509_check_private_key(x, k), 1);
	assert_int_equal(EVP_PKEY_get_bits(k), 256);

	assert_int_equal(verify(f->ca, x, X509_PURPOSE_SSL_CLIENT), X509_V_OK);
	/* clientAuth only: not usable as a server certificate. */
	assert_int_not_equal(verify(f->ca, x, X509_PURPOSE_SSL_SERVER),
	    X509_V_OK);
	assert_int_equal(count_tmp(f->out), 0);

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 1);
	g = sk_GENERAL_NAME_value(gens, 0);
	assert_int_equal(g->type, GEN_URI);
	assert_int_equal(ASN1_STRING_length(g->d.uniformResourceIdentifier),
	    (int)strlen("urn:baton:node:gp-1"));
	assert_memory_equal(ASN1_STRING_get0_data(
	    g->d.uniformResourceIdentifier), "urn:baton:node:gp-1",
	    strlen("urn:baton:node:gp-1"));
	GENERAL_NAMES_free(gens);

	assert_int_equal(X509_NAME_get_text_by_NID(X509_get_subject_name(x),
	    NID_commonName, cn, sizeof(cn)), 4);
	assert_string_equal(cn, "gp-1");
	assert_int_equal(X509_check_ca(x), 0);
	assert_int_equal(ext_critical(x, NID_basic_constraints), 1);
	assert_int_equal(ext_critical(x, NID_key_usage), 1);
	assert_int_equal(X509_get_key_usage(x), KU_DIGITAL_SIGNATURE);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_CLIENT);
	assert_non_null(X509_get0_subject_key_id(x));
	assert_non_null(X509_get0_authority_key_id(x));

	serial = X509_get0_serialNumber(x);
	assert_int_equal(ASN1_STRING_type(serial), V_ASN1_INTEGER);
	assert_int_equal(ASN1_STRING_length(serial), 16);

	now = time(NULL);
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
	now -= 240;
	assert_true(X509_cmp_time(X509_get0_notBefore(x), &now) < 0);
	now += 240 + 364 * 86400;
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) > 0);
	now += 2 * 86400;
	assert_true(X509_cmp_time(X509_get0_notAfter(x), &now) < 0);

	EVP_PKEY_free(k);
	X509_free(x);
}

static void
test_node_refuses_overwrite(void **state)
{
	struct fixture *f = *state;
	char *before, *after;

	assert_int_equal(ca_issue_node(f->ca, "cmht", f->out, 30, 0, f->err,
	    sizeof(f->err)), 0);
	before = slurp(f->out, "cmht.key");
	assert_int_equal(ca_issue_node(f->ca, "cmht", f->out, 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already exists; pass --force"));
	after = slurp(f->out, "cmht.key");
	assert_string_equal(before, after);
	free(after);
	assert_int_equal(ca_issue_node(f->ca, "cmht", f->out, 30, 1, f->err,
	    sizeof(f->err)), 0);
	after = slurp(f->out, "cmht.key");
	assert_string_not_equal(before, after);
	free(after);
	free(before);
}

static void
test_node_invalid_id(void **state)
{
	static const char *bad[] = {
		"", "GP", "-gp", ".gp", "gp/1", "../etc", "gp 1", "gp\n1",
		"urn:baton:node:gp",
		("a1234567890123456789012345678901234567890"
		    "123456789012345678901234"),	/* 65 */
	};
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(ca_issue_node(f->ca, bad[i], f->out, 30, 0,
		    f->err, sizeof(f->err)), -1);
		assert_non_null(strstr(f->err, "invalid node id"));
	}
	assert_false(exists(f->base, "out"));
	/* 64 characters is the limit, and allowed. */
	assert_int_equal(ca_issue_node(f->ca,
	    "a123456789012345678901234567890123456789012345678901234567890123",
	    f->out, 30, 0, f->err, sizeof(f->err)), 0);
}

static void
test_server_cert(void **state)
{
	static const char *dns[] = { "broker.example.org", "localhost" };
	static const char *ips[] = { "127.0.0.1", "::1" };
	static const unsigned char v4[] = { 127, 0, 0, 1 };
	static const unsigned char v6[16] = { [15] = 1 };
	struct fixture *f = *state;
	char path[256];
	X509 *x;
	GENERAL_NAMES *gens;
	const GENERAL_NAME *g;
	int i, ndns = 0, nip = 0;

	assert_int_equal(ca_issue_server(f->ca, dns, 2, ips, 2, f->out, 90, 0,
	    f->err, sizeof(f->err)), 0);
	path_in(path, sizeof(path), f->out, "server.key");
	assert_int_equal(file_mode(path), 0600);
	x = load_cert(f->out, "server.crt");
	assert_int_equal(verify(f->ca, x, X509_PURPOSE_SSL_SERVER), X509_V_OK);
	assert_int_not_equal(verify(f->ca, x, X509_PURPOSE_SSL_CLIENT),
	    X509_V_OK);
	assert_int_equal(X509_get_extended_key_usage(x), XKU_SSL_SERVER);
	assert_int_equal(X509_check_ca(x), 0);

	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(gens);
	assert_int_equal(sk_GENERAL_NAME_num(gens), 4);
	for (i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		g = sk_GENERAL_NAME_value(gens, i);
		if (g->type == GEN_DNS) {
			assert_string_equal(ASN1_STRING_get0_data(g->d.dNSName),
			    dns[ndns]);
			ndns++;
		} else {
			assert_int_equal(g->type, GEN_IPADD);
			if (nip == 0) {
				assert_int_equal(ASN1_STRING_length(
				    g->d.iPAddress), 4);
				assert_memory_equal(ASN1_STRING_get0_data(
				    g->d.iPAddress), v4, 4);
			} else {
				assert_int_equal(ASN1_STRING_length(
				    g->d.iPAddress), 16);
				assert_memory_equal(ASN1_STRING_get0_data(
				    g->d.iPAddress), v6, 16);
			}
			nip++;
		}
	}
	assert_int_equal(ndns, 2);
	assert_int_equal(nip, 2);
	GENERAL_NAMES_free(gens);
	assert_int_equal(X509_check_host(x, "broker.example.org", 0, 0,
	    NULL), 1);
	assert_int_equal(X509_check_host(x, "other.example.org", 0, 0,
	    NULL), 0);
	assert_int_equal(X509_check_ip_asc(x, "::1", 0), 1);
	X509_free(x);
}

static void
test_server_bad_names(void **state)
{
	static const char *bad_dns[] = { "bad name", "-x.example", "a..b",
	    "x.", "a,DNS:evil", "" };
	static const char *good[] = { "broker" };
	static const char *bad_ip[] = { "300.1.1.1" };
	struct fixture *f = *state;
	size_t i;

	for (i = 0; i < sizeof(bad_dns) / sizeof(bad_dns[0]); i++) {
		assert_int_equal(ca_issue_server(f->ca, &bad_dns[i], 1, NULL, 0,
		    f->out, 30, 0, f->err, sizeof(f->err)), -1);
		assert_non_null(strstr(f->err, "not a valid DNS name"));
	}
	assert_int_equal(ca_issue_server(f->ca, good, 1, bad_ip, 1, f->out, 30,
	    0, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "not an IPv4 or IPv6 address"));
	assert_int_equal(ca_issue_server(f->ca, NULL, 0, NULL, 0, f->out, 30,
	    0, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "at least one"));
	assert_false(exists(f->out, "server.key"));
	assert_true(ca_valid_dns_name("*.example.org"));
	assert_false(ca_valid_dns_name("a.*.example.org"));
}

static void
test_crl(void **state)
{
	struct fixture *f = *state;
	char path[256];
	FILE *fp;
	X509_CRL *crl;
	X509 *ca;
	ASN1_INTEGER *num;
	int pday, psec;
	char *txt;

	path_in(path, sizeof(path), f->ca, CA_CRL_FILE);
	fp = fopen(path, "r");
	assert_non_null(fp);
	crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(crl);
	ca = load_cert(f->ca, CA_CERT_FILE);

	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(X509_NAME_cmp(X509_CRL_get_issuer(crl),
	    X509_get_subject_name(ca)), 0);
	assert_int_equal(X509_CRL_get_version(crl), X509_CRL_VERSION_2);
	/* An empty CRL: no entries (the list may be absent altogether). */
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	assert_int_equal(ASN1_INTEGER_get(num), 1);
	ASN1_INTEGER_free(num);
	assert_true(X509_CRL_get_ext_by_NID(crl, NID_authority_key_identifier,
	    -1) >= 0);
	assert_int_equal(ASN1_TIME_diff(&pday, &psec,
	    X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl)), 1);
	assert_int_equal(pday, CA_DEFAULT_CRL_DAYS);
	assert_int_equal(psec, 0);

	txt = slurp(f->ca, CA_CRLNUMBER_FILE);
	assert_string_equal(txt, "1\n");
	free(txt);
	X509_CRL_free(crl);
	X509_free(ca);
}

static void
test_index_records_serials(void **state)
{
	static const char *dns[] = { "broker.example.org" };
	struct fixture *f = *state;
	char line[3][256], *txt, *hex, *p, *nl;
	X509 *x;
	int n = 0;

	assert_int_equal(ca_issue_node(f->ca, "provider", f->out, 30, 0,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(ca_issue_node(f->ca, "crisis", f->out, 30, 0,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(ca_issue_server(f->ca, dns, 1, NULL, 0, f->out, 30, 0,
	    f->err, sizeof(f->err)), 0);

	txt = slurp(f->ca, CA_INDEX_FILE);
	for (p = txt; *p != '\0'; p = nl + 1) {
		nl = strchr(p, '\n');
		assert_non_null(nl);
		if (*p == '#')
			continue;
		assert_true(n < 3);
		snprintf(line[n++], sizeof(line[0]), "%.*s", (int)(nl - p), p);
	}
	assert_int_equal(n, 3);
	free(txt);

	x = load_cert(f->out, "provider.crt");
	hex = serial_hex(x);
	assert_true(strncmp(line[0], hex, strlen(hex)) == 0);
	assert_non_null(strstr(line[0], "\tnode\tprovider\t"));
	assert_int_equal(line[0][strlen(line[0]) - 1], 'Z');
	OPENSSL_free(hex);
	X509_free(x);

	x = load_cert(f->out, "crisis.crt");
	hex = serial_hex(x);
	assert_true(strncmp(line[1], hex, strlen(hex)) == 0);
	assert_non_null(strstr(line[1], "\tnode\tcrisis\t"));
	OPENSSL_free(hex);
	X509_free(x);

	x = load_cert(f->out, "server.crt");
	hex = serial_hex(x);
	assert_true(strncmp(line[2], hex, strlen(hex)) == 0);
	assert_non_null(strstr(line[2], "\tserver\tbroker.example.org\t"));
	OPENSSL_free(hex);
	X509_free(x);

	/* Serials are random: two certificates never share one. */
	assert_true(strncmp(line[0], line[1], 32) != 0);
}

static void
test_missing_ca(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(ca_issue_node(f->ca, "gp", f->out, 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "cannot read CA certificate"));
	assert_non_null(strstr(f->err, "No such file or directory"));
}

static void
test_ca_key_mode_refused(void **state)
{
	struct fixture *f = *state;
	char path[256];

	path_in(path, sizeof(path), f->ca, CA_KEY_FILE);
	assert_int_equal(chmod(path, 0640), 0);
	assert_int_equal(ca_issue_node(f->ca, "gp", f->out, 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "chmod 600"));
	assert_false(exists(f->base, "out"));
}

static void
test_ca_key_mismatch(void **state)
{
	struct fixture *f = *state;
	char other[160], from[256], to[256];

	/* A second CA's key next to the first CA's certificate. */
	snprintf(other, sizeof(other), "%s/other", f->base);
	assert_int_equal(ca_init(other, "other", 30, 0, f->err,
	    sizeof(f->err)), 0);
	path_in(from, sizeof(from), other, CA_KEY_FILE);
	path_in(to, sizeof(to), f->ca, CA_KEY_FILE);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(ca_issue_node(f->ca, "gp", f->out, 30, 0, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "does not match"));
}

static X509_CRL *
load_crl(const char *cadir)
{
	char path[256];
	FILE *fp;
	X509_CRL *crl;

	path_in(path, sizeof(path), cadir, CA_CRL_FILE);
	fp = fopen(path, "r");
	assert_non_null(fp);
	crl = PEM_read_X509_CRL(fp, NULL, NULL, NULL);
	fclose(fp);
	assert_non_null(crl);
	return crl;
}

static long
crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *num;
	long n;

	num = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	assert_non_null(num);
	n = ASN1_INTEGER_get(num);
	ASN1_INTEGER_free(num);
	return n;
}

/* The CRL's entry for x's serial, or NULL; *reason its reason code or -1. */
static X509_REVOKED *
crl_entry(X509_CRL *crl, X509 *x, int *reason)
{
	X509_REVOKED *r = NULL;
	ASN1_ENUMERATED *e;

	if (X509_CRL_get0_by_serial(crl, &r,
	    X509_get0_serialNumber(x)) != 1)
		return NULL;
	e = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
	*reason = e == NULL ? -1 : (int)ASN1_ENUMERATED_get(e);
	ASN1_ENUMERATED_free(e);
	return r;
}

/* Verifies leaf against the CA and its current CRL, as the broker does. */
static int
verify_with_crl(const char *cadir, X509 *leaf)
{
	X509_STORE *store;
	X509_STORE_CTX *ctx;
	X509_CRL *crl;
	X509 *ca;
	int ok, e;

	ca = load_cert(cadir, CA_CERT_FILE);
	crl = load_crl(cadir);
	store = X509_STORE_new();
	ctx = X509_STORE_CTX_new();
	assert_non_null(store);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(store, ca), 1);
	assert_int_equal(X509_STORE_add_crl(store, crl), 1);
	X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
	assert_int_equal(X509_STORE_CTX_init(ctx, store, leaf, NULL), 1);
	assert_int_equal(X509_STORE_CTX_set_purpose(ctx,
	    X509_PURPOSE_SSL_CLIENT), 1);
	ok = X509_verify_cert(ctx);
	e = ok == 1 ? X509_V_OK : X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	X509_CRL_free(crl);
	X509_free(ca);
	return e;
}

/* Non-comment lines of a CA text file. */
static int
count_records(const char *dir, const char *name)
{
	char *txt, *p;
	int n = 0;

	if (!exists(dir, name))
		return 0;
	txt = slurp(dir, name);
	for (p = txt; *p != '\0'; p = strchr(p, '\n') + 1) {
		assert_non_null(strchr(p, '\n'));
		if (*p != '#')
			n++;
	}
	free(txt);
	return n;
}

static void
issue_into(struct fixture *f, const char *id, const char *sub)
{
	char dir[192];

	snprintf(dir, sizeof(dir), "%s/%s", f->out, sub);
	assert_int_equal(ca_issue_node(f->ca, id, dir, 30, 0, f->err,
	    sizeof(f->err)), 0);
}

static X509 *
cert_in(struct fixture *f, const char *sub, const char *name)
{
	char dir[192];

	snprintf(dir, sizeof(dir), "%s/%s", f->out, sub);
	return load_cert(dir, name);
}

static void
test_revoke_node(void **state)
{
	struct fixture *f = *state;
	struct ca_crl_info info;
	struct ca_cert *v;
	X509 *gp1, *gp2, *cmht;
	X509_CRL *crl;
	X509 *ca;
	char *hex;
	size_t n;
	int pday, psec, reason;

	issue_into(f, "gp", "a");
	issue_into(f, "gp", "b");	/* a reissue: both must go */
	issue_into(f, "cmht", "a");
	gp1 = cert_in(f, "a", "gp.crt");
	gp2 = cert_in(f, "b", "gp.crt");
	cmht = cert_in(f, "a", "cmht.crt");
	assert_int_equal(verify_with_crl(f->ca, gp1), X509_V_OK);

	assert_int_equal(ca_revoke(f->ca, "gp", NULL,
	    ca_reason_parse("keyCompromise"), 7, &v, &n, &info, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(n, 2);
	hex = serial_hex(gp1);
	assert_string_equal(v[0].serial, hex);
	OPENSSL_free(hex);
	assert_string_equal(v[0].id, "gp");
	assert_int_equal(v[0].revoked, 1);
	assert_int_equal(v[0].reason, CRL_REASON_KEY_COMPROMISE);
	free(v);
	assert_int_equal(info.number, 2);
	assert_int_equal(info.nrevoked, 2);
	assert_int_equal(count_records(f->ca, CA_REVOKED_FILE), 2);

	crl = load_crl(f->ca);
	ca = load_cert(f->ca, CA_CERT_FILE);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(crl_number(crl), 2);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 2);
	assert_non_null(crl_entry(crl, gp1, &reason));
	assert_int_equal(reason, CRL_REASON_KEY_COMPROMISE);
	assert_non_null(crl_entry(crl, gp2, &reason));
	assert_null(crl_entry(crl, cmht, &reason));
	assert_int_equal(ASN1_TIME_diff(&pday, &psec,
	    X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl)), 1);
	assert_int_equal(pday, 7);
	assert_int_equal(psec, 0);
	X509_CRL_free(crl);
	X509_free(ca);

	/* OpenSSL's own verifier now refuses gp's certificates only. */
	assert_int_equal(verify_with_crl(f->ca, gp1), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_with_crl(f->ca, gp2), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(verify_with_crl(f->ca, cmht), X509_V_OK);
	assert_int_equal(count_tmp(f->ca), 0);

	/* Nothing left to revoke for gp; nothing ever issued to crisis. */
	assert_int_equal(ca_revoke(f->ca, "gp", NULL, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already revoked"));
	assert_int_equal(ca_revoke(f->ca, "crisis", NULL, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "no certificate was issued to node "
	    "'crisis'"));
	assert_null(v);
	/* A refused revocation changes nothing. */
	assert_int_equal(count_records(f->ca, CA_REVOKED_FILE), 2);
	crl = load_crl(f->ca);
	assert_int_equal(crl_number(crl), 2);
	X509_CRL_free(crl);

	/* A reissue after the revocation is a new, good certificate. */
	assert_int_equal(ca_issue_node(f->ca, "gp", f->out, 30, 1, f->err,
	    sizeof(f->err)), 0);
	X509_free(gp1);
	gp1 = load_cert(f->out, "gp.crt");
	assert_int_equal(verify_with_crl(f->ca, gp1), X509_V_OK);
	X509_free(gp1);
	X509_free(gp2);
	X509_free(cmht);
}

static void
test_revoke_serial(void **state)
{
	static const char *dns[] = { "broker.example.org" };
	struct fixture *f = *state;
	struct ca_crl_info info;
	struct ca_cert *v;
	char typed[128], *hex, *p;
	X509 *srv, *gp;
	X509_CRL *crl;
	size_t n, i;
	int reason;

	assert_int_equal(ca_issue_server(f->ca, dns, 1, NULL, 0, f->out, 30, 0,
	    f->err, sizeof(f->err)), 0);
	issue_into(f, "gp", "a");
	srv = load_cert(f->out, "server.crt");
	gp = cert_in(f, "a", "gp.crt");

	/* As a person may type it: lower case, bytes joined by ':'. */
	hex = serial_hex(srv);
	for (p = typed, i = 0; hex[i] != '\0'; i++) {
		if (i > 0 && i % 2 == 0)
			*p++ = ':';
		*p++ = (char)tolower((unsigned char)hex[i]);
	}
	*p = '\0';
	assert_int_equal(ca_revoke(f->ca, NULL, typed,
	    ca_reason_parse("cessationOfOperation"), 30, &v, &n, &info,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].serial, hex);
	assert_string_equal(v[0].kind, "server");
	free(v);
	crl = load_crl(f->ca);
	assert_non_null(crl_entry(crl, srv, &reason));
	assert_int_equal(reason, CRL_REASON_CESSATION_OF_OPERATION);
	assert_null(crl_entry(crl, gp, &reason));
	X509_CRL_free(crl);

	assert_int_equal(ca_revoke(f->ca, NULL, hex, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "already revoked"));
	assert_int_equal(ca_revoke(f->ca, NULL, "0x1234", 0, 30, &v, &n,
	    &info, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "did not issue it"));
	assert_int_equal(ca_revoke(f->ca, NULL, "-12", 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "not a certificate serial"));
	assert_int_equal(ca_revoke(f->ca, NULL, hex, 0, 0, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "out of range"));
	assert_int_equal(ca_revoke(f->ca, "gp", hex, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_int_equal(ca_revoke(f->ca, NULL, NULL, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_int_equal(count_records(f->ca, CA_REVOKED_FILE), 1);
	OPENSSL_free(hex);
	X509_free(srv);
	X509_free(gp);
}

static void
test_crl_update(void **state)
{
	struct fixture *f = *state;
	struct ca_crl_info info;
	struct ca_cert *v;
	X509_CRL *crl;
	X509 *gp, *ca;
	char *txt;
	size_t n;
	int pday, psec, reason;

	/* Re-signing an empty CRL: number 1 -> 2, still empty. */
	assert_int_equal(ca_crl_update(f->ca, 30, &info, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(info.number, 2);
	assert_int_equal(info.nrevoked, 0);
	crl = load_crl(f->ca);
	assert_int_equal(crl_number(crl), 2);
	assert_true(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)) <= 0);
	X509_CRL_free(crl);

	issue_into(f, "gp", "a");
	gp = cert_in(f, "a", "gp.crt");
	assert_int_equal(ca_revoke(f->ca, "gp", NULL,
	    ca_reason_parse("superseded"), 30, &v, &n, &info, f->err,
	    sizeof(f->err)), 0);
	free(v);
	assert_int_equal(info.number, 3);

	/* The same list, a new number and a new window. */
	assert_int_equal(ca_crl_update(f->ca, 2, &info, f->err,
	    sizeof(f->err)), 0);
	assert_int_equal(info.number, 4);
	assert_int_equal(info.nrevoked, 1);
	crl = load_crl(f->ca);
	ca = load_cert(f->ca, CA_CERT_FILE);
	assert_int_equal(X509_CRL_verify(crl, X509_get0_pubkey(ca)), 1);
	assert_int_equal(crl_number(crl), 4);
	assert_int_equal(sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)), 1);
	assert_non_null(crl_entry(crl, gp, &reason));
	assert_int_equal(reason, CRL_REASON_SUPERSEDED);
	assert_int_equal(ASN1_TIME_diff(&pday, &psec,
	    X509_CRL_get0_lastUpdate(crl), X509_CRL_get0_nextUpdate(crl)), 1);
	assert_int_equal(pday, 2);
	assert_int_equal(psec, 0);
	X509_CRL_free(crl);
	X509_free(ca);
	txt = slurp(f->ca, CA_CRLNUMBER_FILE);
	assert_string_equal(txt, "4\n");
	free(txt);
	assert_int_equal(verify_with_crl(f->ca, gp), X509_V_ERR_CERT_REVOKED);
	assert_int_equal(count_tmp(f->ca), 0);

	assert_int_equal(ca_crl_update(f->ca, 0, &info, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "out of range"));
	assert_int_equal(ca_crl_update(f->ca, CA_MAX_CRL_DAYS + 1, &info,
	    f->err, sizeof(f->err)), -1);
	X509_free(gp);
}

static void
test_crl_update_bad_number(void **state)
{
	struct fixture *f = *state;
	struct ca_crl_info info;
	char path[256];
	FILE *fp;

	path_in(path, sizeof(path), f->ca, CA_CRLNUMBER_FILE);
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("12abc\n", fp);
	fclose(fp);
	assert_int_equal(ca_crl_update(f->ca, 30, &info, f->err,
	    sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "does not hold a CRL number"));
	/* The CRL in place is left alone. */
	{
		X509_CRL *crl = load_crl(f->ca);

		assert_int_equal(crl_number(crl), 1);
		X509_CRL_free(crl);
	}
}

static void
test_list(void **state)
{
	static const char *ips[] = { "127.0.0.1" };
	struct fixture *f = *state;
	struct ca_crl_info info;
	struct ca_cert *v, *r;
	X509 *x;
	char *hex, na[32];
	struct tm tm;
	size_t n, nr;

	assert_int_equal(ca_list(f->ca, &v, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 0);
	free(v);

	assert_int_equal(ca_issue_node(f->ca, "provider", f->out, 90, 0,
	    f->err, sizeof(f->err)), 0);
	assert_int_equal(ca_issue_server(f->ca, NULL, 0, ips, 1, f->out, 30, 0,
	    f->err, sizeof(f->err)), 0);
	issue_into(f, "crisis", "a");
	assert_int_equal(ca_revoke(f->ca, "crisis", NULL, 0, 30, &r, &nr,
	    &info, f->err, sizeof(f->err)), 0);
	free(r);

	assert_int_equal(ca_list(f->ca, &v, &n, f->err, sizeof(f->err)), 0);
	assert_int_equal(n, 3);

	x = load_cert(f->out, "provider.crt");
	hex = serial_hex(x);
	assert_string_equal(v[0].serial, hex);
	assert_string_equal(v[0].kind, "node");
	assert_string_equal(v[0].id, "provider");
	assert_int_equal(v[0].revoked, 0);
	assert_string_equal(v[0].revoked_at, "");
	assert_true(ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm));
	strftime(na, sizeof(na), "%Y-%m-%dT%H:%M:%SZ", &tm);
	assert_string_equal(v[0].not_after, na);
	assert_int_equal(v[0].not_after_t, timegm(&tm));
	OPENSSL_free(hex);
	X509_free(x);

	assert_string_equal(v[1].kind, "server");
	assert_string_equal(v[1].id, "127.0.0.1");
	assert_int_equal(v[1].revoked, 0);

	assert_string_equal(v[2].id, "crisis");
	assert_int_equal(v[2].revoked, 1);
	assert_int_equal(v[2].reason, CRL_REASON_UNSPECIFIED);
	assert_int_equal(strlen(v[2].revoked_at), CA_TIME_LEN);
	assert_true(labs((long)(v[2].revoked_at_t - time(NULL))) < 60);
	free(v);
}

static void
test_list_corrupt_index(void **state)
{
	struct fixture *f = *state;
	struct ca_cert *v;
	struct ca_crl_info info;
	char path[256];
	size_t n;
	FILE *fp;

	assert_int_equal(ca_issue_node(f->ca, "gp", f->out, 30, 0, f->err,
	    sizeof(f->err)), 0);
	path_in(path, sizeof(path), f->ca, CA_INDEX_FILE);
	fp = fopen(path, "a");
	assert_non_null(fp);
	fputs("XYZ\tnode\tgp\n", fp);
	fclose(fp);
	assert_int_equal(ca_list(f->ca, &v, &n, f->err, sizeof(f->err)), -1);
	assert_null(v);
	assert_non_null(strstr(f->err, "issued.txt:3: not an index line"));
	/* Revocation reads the same index and refuses to guess either. */
	assert_int_equal(ca_revoke(f->ca, "gp", NULL, 0, 30, &v, &n, &info,
	    f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "issued.txt:3"));
	assert_int_equal(count_records(f->ca, CA_REVOKED_FILE), 0);

	/* A torn last line (no newline) is named, not read. */
	fp = fopen(path, "w");
	assert_non_null(fp);
	fputs("# serial\n7A\tnode\tgp\t2020-01-01T00:00:00Z", fp);
	fclose(fp);
	assert_int_equal(ca_list(f->ca, &v, &n, f->err, sizeof(f->err)), -1);
	assert_non_null(strstr(f->err, "issued.txt:2: line too long or not "
	    "ended"));
}

static void
test_reason_names(void **state)
{
	assert_int_equal(ca_reason_parse("keyCompromise"),
	    CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(ca_reason_parse("keycompromise"),
	    CRL_REASON_KEY_COMPROMISE);
	assert_int_equal(ca_reason_parse("cessationOfOperation"),
	    CRL_REASON_CESSATION_OF_OPERATION);
	assert_int_equal(ca_reason_parse("unspecified"),
	    CRL_REASON_UNSPECIFIED);
	assert_int_equal(ca_reason_parse("removeFromCRL"), -1);
	assert_int_equal(ca_reason_parse(""), -1);
	assert_string_equal(ca_reason_name(CRL_REASON_SUPERSEDED),
	    "superseded");
	assert_null(ca_reason_name(99));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_creates_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_init_refuses_overwrite,
		    setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_init_bad_arguments, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_node_cert, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_node_refuses_overwrite,
		    setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_node_invalid_id, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_cert, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_server_bad_names, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl, setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_index_records_serials,
		    setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_missing_ca, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_ca_key_mode_refused,
		    setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_ca_key_mismatch, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_revoke_node, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_revoke_serial, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_update, setup_ca,
		    teardown),
		cmocka_unit_test_setup_teardown(test_crl_update_bad_number,
		    setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_list, setup_ca, teardown),
		cmocka_unit_test_setup_teardown(test_list_corrupt_index,
		    setup_ca, teardown),
		cmocka_unit_test(test_reason_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
