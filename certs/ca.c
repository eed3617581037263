/*
 * ca.c - the deployment's certificate authority (see ca.h for the files).
 *
 * Owns key generation, certificate and CRL signing, and the CA directory.
 * It does not decide who may connect: the broker's tls.c reads the same
 * certificates and the registry says which nodes exist.
 *
 * Invariants:
 * - A private key is never readable by anyone but its owner, not even for a
 *   moment: it is written to a fresh file made with O_CREAT|O_EXCL and mode
 *   0600, fsynced, then linked (no --force: fails if the name exists) or
 *   renamed (--force) into place. The same path writes every file, so a
 *   crash leaves either the old file or the new one, never half of one.
 * - A certificate is recorded in issued.txt, and fsynced, before it is
 *   written out, so nothing this CA signs can be missing from the index the
 *   revocation commands read.
 * - A revocation is appended to revoked.txt, and fsynced, before the CRL
 *   is rewritten; the CRL is always rebuilt whole from revoked.txt, so a
 *   failed CRL write loses nothing and the next one lists it.
 * - crl.pem is only ever replaced by rename(2) of a complete, fsynced
 *   file: a broker reloading on SIGHUP never reads half a CRL. crlnumber
 *   goes first and only grows.
 * - Whatever rewrites crl.pem, crlnumber or revoked.txt, or appends to
 *   renewals.txt, holds the CA directory's flock, so concurrent batonctl
 *   runs cannot interleave.
 * - The CA key is refused if its file is open to group or others.
 * - A leaf carries exactly the names asked for: one URI SAN for a node,
 *   DNS/IP SANs for the broker; SANs are built as GENERAL_NAMEs, never from
 *   a config string, so no input can smuggle in a second name.
 */
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "atomicfile.h"
#include "ca.h"
#include "errbuf.h"
#include "growarray.h"
#include "validate.h"

#define SERIAL_BYTES	16
#define SKEW_SECONDS	300	/* notBefore this far back: clock skew */
#define CN_MAX		64	/* ub-common-name */

enum leaf_kind { LEAF_NODE, LEAF_SERVER };

static void
sslerr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Like errbuf_set, then ": " and the oldest queued OpenSSL error. */
static void
sslerr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	unsigned long e;
	size_t n;
	char reason[256];

	e = ERR_get_error();
	ERR_clear_error();
	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	errbuf_vset(err, errlen, fmt, ap);
	va_end(ap);
	if (e == 0)
		return;
	ERR_error_string_n(e, reason, sizeof(reason));
	n = strlen(err);
	if (n < errlen)
		snprintf(err + n, errlen - n, ": %s", reason);
}

static int
join(char *out, size_t outlen, const char *dir, const char *name,
    char *err, size_t errlen)
{
	size_t dl;
	int n;

	dl = strlen(dir);
	while (dl > 1 && dir[dl - 1] == '/')
		dl--;
	n = snprintf(out, outlen, "%.*s/%s", (int)dl, dir, name);
	if (n < 0 || (size_t)n >= outlen) {
		errbuf_set(err, errlen, "path too long: %s/%s", dir, name);
		return -1;
	}
	return 0;
}

/*
 * Makes dir and any missing parents; a directory this creates gets mode
 * (parents 0755). An existing dir that group or others may write to is
 * refused: whoever can write there could swap the keys.
 */
static int
make_dir(const char *dir, mode_t mode, char *err, size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	char *p;

	if (strlen(dir) >= sizeof(path)) {
		errbuf_set(err, errlen, "path too long: %s", dir);
		return -1;
	}
	snprintf(path, sizeof(path), "%s", dir);
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) == -1 && errno != EEXIST) {
			errbuf_set(err, errlen, "cannot create directory "
			    "%s: %s", path, strerror(errno));
			return -1;
		}
		*p = '/';
	}
	if (mkdir(dir, mode) == 0)
		return 0;
	if (errno != EEXIST) {
		errbuf_set(err, errlen, "cannot create directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (stat(dir, &st) == -1) {
		errbuf_set(err, errlen, "cannot use directory %s: %s", dir,
		    strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		errbuf_set(err, errlen, "%s exists and is not a directory",
		    dir);
		return -1;
	}
	if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		errbuf_set(err, errlen, "directory %s is writable by group or "
		    "others (mode %04o); run chmod go-w %s first", dir,
		    (unsigned)(st.st_mode & 07777), dir);
		return -1;
	}
	return 0;
}

/* Refuses an existing path unless force; the message says how to go on. */
static int
check_absent(const char *path, const char *what, int force, char *err,
    size_t errlen)
{
	struct stat st;

	if (force)
		return 0;
	if (lstat(path, &st) == 0) {
		errbuf_set(err, errlen, "%s %s already exists; pass --force to "
		    "replace it", what, path);
		return -1;
	}
	if (errno != ENOENT) {
		errbuf_set(err, errlen, "cannot check %s: %s", path,
		    strerror(errno));
		return -1;
	}
	return 0;
}

/* What a file writer puts in the stream (atomicfile.h); 1 on success. */
static int
write_key(FILE *f, void *arg)
{
	return PEM_write_PrivateKey(f, arg, NULL, NULL, 0, NULL, NULL);
}

static int
write_cert(FILE *f, void *arg)
{
	return PEM_write_X509(f, arg);
}

static int
write_crl(FILE *f, void *arg)
{
	return PEM_write_X509_CRL(f, arg);
}

static int
write_text(FILE *f, void *arg)
{
	return fputs(arg, f) >= 0;
}

/*
 * Writes path with the given mode through atomicfile_write, so the
 * content never sits under a wider mode and a crash leaves the old file
 * or the new one. Without force an existing path is left alone and
 * refused. 0, or -1 with err set.
 */
static int
write_file(const char *path, mode_t mode, int force,
    atomicfile_writer fn, const void *arg, char *err, size_t errlen)
{
	switch (atomicfile_write(path, mode, force ? ATOMICFILE_REPLACE : 0,
	    fn, (void *)arg, err, errlen)) {
	case ATOMICFILE_OK:
		return 0;
	case ATOMICFILE_EXISTS:
		errbuf_set(err, errlen, "%s already exists; pass --force to "
		    "replace it", path);
		return -1;
	case ATOMICFILE_WRITER:
		sslerr(err, errlen, "cannot write %s", path);
		return -1;
	}
	return -1;
}

static EVP_PKEY *
new_key(char *err, size_t errlen)
{
	EVP_PKEY *k;

	if ((k = EVP_EC_gen("P-256")) == NULL)
		sslerr(err, errlen, "cannot generate a P-256 key");
	return k;
}

/*
 * A random positive serial of exactly SERIAL_BYTES: the top bit is cleared
 * so it stays positive without a padding byte, the next one set so it never
 * gets shorter (RFC 5280: at most 20 octets, unpredictable).
 */
static int
set_serial(X509 *x, char *err, size_t errlen)
{
	unsigned char b[SERIAL_BYTES];
	BIGNUM *bn = NULL;
	int rc = -1;

	if (RAND_bytes(b, sizeof(b)) != 1) {
		sslerr(err, errlen, "cannot get random bytes for a serial");
		return -1;
	}
	b[0] = (b[0] & 0x7f) | 0x40;
	if ((bn = BN_bin2bn(b, sizeof(b), NULL)) == NULL ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL) {
		sslerr(err, errlen, "cannot set the serial number");
		goto fail;
	}
	rc = 0;
fail:
	BN_free(bn);
	return rc;
}

/* Adds an extension from its OpenSSL text form (fixed strings only). */
static int
add_ext(X509 *x, X509 *issuer, int nid, const char *value, char *err,
    size_t errlen)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ex;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL) {
		sslerr(err, errlen, "cannot make extension %s",
		    OBJ_nid2sn(nid));
		return -1;
	}
	ok = X509_add_ext(x, ex, -1);
	X509_EXTENSION_free(ex);
	if (!ok) {
		sslerr(err, errlen, "cannot add extension %s", OBJ_nid2sn(nid));
		return -1;
	}
	return 0;
}

/* Common body of every certificate: version, serial, names, key, validity. */
static X509 *
new_cert(const char *cn, X509 *issuer, EVP_PKEY *pub, int days, char *err,
    size_t errlen)
{
	X509 *x;
	X509_NAME *name;

	if ((x = X509_new()) == NULL) {
		sslerr(err, errlen, "cannot allocate a certificate");
		return NULL;
	}
	if (!X509_set_version(x, X509_VERSION_3))
		goto ssl;
	if (set_serial(x, err, errlen) == -1)
		goto fail;
	name = X509_get_subject_name(x);
	if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)cn, -1, -1, 0))
		goto ssl;
	if (!X509_set_issuer_name(x, issuer != NULL ?
	    X509_get_subject_name(issuer) : name))
		goto ssl;
	if (!X509_set_pubkey(x, pub))
		goto ssl;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -SKEW_SECONDS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL) == NULL)
		goto ssl;
	return x;
ssl:
	sslerr(err, errlen, "cannot build the certificate for %s", cn);
fail:
	X509_free(x);
	return NULL;
}

static int
time_iso(const ASN1_TIME *t, char *out, size_t outlen)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm) ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/*
 * Appends the certificate's line to cadir/issued.txt and fsyncs it. The id
 * is a validated node id or DNS name, so it holds no tab or newline.
 */
static int
index_append(const char *cadir, X509 *x, const char *kind, const char *id,
    char *err, size_t errlen)
{
	char path[PATH_MAX], nb[32], na[32];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int fd = -1, rc = -1;

	if (join(path, sizeof(path), cadir, CA_INDEX_FILE, err, errlen) == -1)
		return -1;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn == NULL || (hex = BN_bn2hex(bn)) == NULL) {
		sslerr(err, errlen, "cannot format the serial number");
		goto fail;
	}
	if (time_iso(X509_get0_notBefore(x), nb, sizeof(nb)) == -1 ||
	    time_iso(X509_get0_notAfter(x), na, sizeof(na)) == -1) {
		errbuf_set(err, errlen, "cannot format the validity dates");
		goto fail;
	}
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		errbuf_set(err, errlen, "cannot open the CA index %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (dprintf(fd, "%s\t%s\t%s\t%s\t%s\n", hex, kind, id, nb, na) < 0 ||
	    fsync(fd) == -1) {
		errbuf_set(err, errlen, "cannot append to the CA index %s: %s",
		    path, strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	if (fd != -1)
		close(fd);
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* Formats t as UTC "YYYY-MM-DDTHH:MM:SSZ"; -1 if it cannot. */
static int
time_text(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		return -1;
	return 0;
}

/* Adds one revoked entry (serial, date, reason) to crl. */
static int
crl_add_entry(X509_CRL *crl, const struct ca_cert *c)
{
	X509_REVOKED *r = NULL;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	ASN1_TIME *when = NULL;
	ASN1_ENUMERATED *reason = NULL;
	int rc = -1;

	if ((r = X509_REVOKED_new()) == NULL ||
	    BN_hex2bn(&bn, c->serial) == 0 ||
	    (serial = BN_to_ASN1_INTEGER(bn, NULL)) == NULL ||
	    !X509_REVOKED_set_serialNumber(r, serial))
		goto fail;
	if ((when = ASN1_TIME_set(NULL, c->revoked_at_t)) == NULL ||
	    !X509_REVOKED_set_revocationDate(r, when))
		goto fail;
	/* RFC 5280 5.3.1: "unspecified" is said by leaving the reason out. */
	if (c->reason != CRL_REASON_UNSPECIFIED) {
		if ((reason = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(reason, c->reason) ||
		    !X509_REVOKED_add1_ext_i2d(r, NID_crl_reason, reason, 0, 0))
			goto fail;
	}
	if (!X509_CRL_add0_revoked(crl, r))
		goto fail;
	r = NULL;
	rc = 0;
fail:
	ASN1_ENUMERATED_free(reason);
	ASN1_TIME_free(when);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_REVOKED_free(r);
	return rc;
}

/*
 * Signs and writes the CA's CRL listing the n revoked entries (serial,
 * revoked_at_t, reason), numbered number. nextUpdate is
 * days ahead; the broker fails closed once it passes, so the CRL must be
 * reissued before then. crlnumber is written first: a crash between the
 * two files skips a number, which is allowed, and never reuses one.
 */
static int
crl_write(const char *dir, X509 *cacert, EVP_PKEY *cakey,
    const struct ca_cert *revoked, size_t n, uint64_t number, int days,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	char path[PATH_MAX], numpath[PATH_MAX], numtext[32];
	X509_CRL *crl = NULL;
	ASN1_TIME *t = NULL;
	ASN1_INTEGER *num = NULL;
	X509_EXTENSION *ex = NULL;
	X509V3_CTX ctx;
	time_t now;
	size_t i;
	int rc = -1;

	if (join(path, sizeof(path), dir, CA_CRL_FILE, err, errlen) == -1 ||
	    join(numpath, sizeof(numpath), dir, CA_CRLNUMBER_FILE, err,
	    errlen) == -1)
		return -1;
	now = time(NULL);
	if ((crl = X509_CRL_new()) == NULL || (t = ASN1_TIME_new()) == NULL ||
	    (num = ASN1_INTEGER_new()) == NULL)
		goto ssl;
	if (!X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(cacert)))
		goto ssl;
	if (ASN1_TIME_set(t, now) == NULL || !X509_CRL_set1_lastUpdate(crl, t))
		goto ssl;
	if (ASN1_TIME_adj(t, now, days, 0) == NULL ||
	    !X509_CRL_set1_nextUpdate(crl, t))
		goto ssl;
	for (i = 0; i < n; i++)
		if (crl_add_entry(crl, &revoked[i]) == -1)
			goto ssl;
	if (!ASN1_INTEGER_set_uint64(num, number) ||
	    !X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0))
		goto ssl;
	X509V3_set_ctx(&ctx, cacert, NULL, NULL, crl, 0);
	if ((ex = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) == NULL || !X509_CRL_add_ext(crl, ex, -1))
		goto ssl;
	if (!X509_CRL_sort(crl) || !X509_CRL_sign(crl, cakey, EVP_sha256()))
		goto ssl;
	snprintf(numtext, sizeof(numtext), "%llu\n",
	    (unsigned long long)number);
	if (write_file(numpath, 0644, 1, write_text, numtext, err,
	    errlen) == -1)
		goto fail;
	if (write_file(path, 0644, 1, write_crl, crl, err, errlen) == -1)
		goto fail;
	if (info != NULL) {
		info->number = number;
		info->nrevoked = n;
		if (time_iso(X509_CRL_get0_nextUpdate(crl), info->next_update,
		    sizeof(info->next_update)) == -1)
			snprintf(info->next_update, sizeof(info->next_update),
			    "?");
	}
	rc = 0;
	goto fail;
ssl:
	sslerr(err, errlen, "cannot build the CRL %s", path);
fail:
	X509_EXTENSION_free(ex);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(t);
	X509_CRL_free(crl);
	return rc;
}

static int
check_days(int days, char *err, size_t errlen)
{
	if (days < 1 || days > CA_MAX_DAYS) {
		errbuf_set(err, errlen, "validity of %d days is out of range "
		    "(1 to %d)", days, CA_MAX_DAYS);
		return -1;
	}
	return 0;
}

static int	ca_lock(const char *, int *, char *, size_t);

/* The CN "Baton CA <name>", name defaulting to this host's name. */
static int
ca_common_name(const char *name, char *cn, size_t cnlen, char *err,
    size_t errlen)
{
	char host[256];
	const unsigned char *p;

	if (name == NULL) {
		if (gethostname(host, sizeof(host)) == -1 || host[0] == '\0')
			snprintf(host, sizeof(host), "%s", "localhost");
		host[sizeof(host) - 1] = '\0';
		name = host;
	}
	if (name[0] == '\0') {
		errbuf_set(err, errlen, "CA name is empty; give a name or "
		    "leave it out to use the host name");
		return -1;
	}
	for (p = (const unsigned char *)name; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f) {
			errbuf_set(err, errlen, "CA name contains a control "
			    "character");
			return -1;
		}
	if (snprintf(cn, cnlen, "Baton CA %s", name) >= (int)cnlen ||
	    strlen(cn) > CN_MAX) {
		errbuf_set(err, errlen, "CA name '%s' is too long (the common "
		    "name is limited to %d bytes)", name, CN_MAX);
		return -1;
	}
	return 0;
}

int
ca_init(const char *dir, const char *name, int days, int force, char *err,
    size_t errlen)
{
	static const char index_head[] =
	    "# serial\tkind\tid\tnot_before\tnot_after\n";
	static const char revoked_head[] =
	    "# serial\trevoked_at\treason\n";
	static const struct {
		const char *file;
		const char *what;
	} files[] = {
		{ CA_KEY_FILE,		"CA key" },
		{ CA_CERT_FILE,		"CA certificate" },
		{ CA_INDEX_FILE,	"CA index" },
		{ CA_CRL_FILE,		"CRL" },
		{ CA_REVOKED_FILE,	"revocation record" },
	};
	char path[PATH_MAX], cn[CN_MAX + 1];
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	size_t i;
	int rc = -1, wrote_key = 0, lockfd = -1;

	if (check_days(days, err, errlen) == -1 ||
	    ca_common_name(name, cn, sizeof(cn), err, errlen) == -1)
		return -1;
	if (make_dir(dir, 0700, err, errlen) == -1 ||
	    ca_lock(dir, &lockfd, err, errlen) == -1)
		return -1;
	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		if (join(path, sizeof(path), dir, files[i].file, err,
		    errlen) == -1 ||
		    check_absent(path, files[i].what, force, err, errlen) == -1)
			goto fail;
	}

	if ((key = new_key(err, errlen)) == NULL)
		goto fail;
	if ((x = new_cert(cn, NULL, key, days, err, errlen)) == NULL)
		goto fail;
	if (add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE,pathlen:0",
	    err, errlen) == -1 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign", err,
	    errlen) == -1 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash", err,
	    errlen) == -1)
		goto fail;
	if (!X509_sign(x, key, EVP_sha256())) {
		sslerr(err, errlen, "cannot sign the CA certificate");
		goto fail;
	}

	if (join(path, sizeof(path), dir, CA_KEY_FILE, err, errlen) == -1 ||
	    write_file(path, 0600, force, write_key, key, err, errlen) == -1)
		goto fail;
	wrote_key = 1;
	if (join(path, sizeof(path), dir, CA_CERT_FILE, err, errlen) == -1 ||
	    write_file(path, 0644, force, write_cert, x, err, errlen) == -1)
		goto fail;
	/* A new CA starts a new index: the old CA's serials mean nothing. */
	if (join(path, sizeof(path), dir, CA_INDEX_FILE, err, errlen) == -1 ||
	    write_file(path, 0644, force, write_text, index_head, err,
	    errlen) == -1)
		goto fail;
	if (join(path, sizeof(path), dir, CA_REVOKED_FILE, err, errlen) == -1 ||
	    write_file(path, 0644, force, write_text, revoked_head, err,
	    errlen) == -1)
		goto fail;
	if (crl_write(dir, x, key, NULL, 0, 1, CA_DEFAULT_CRL_DAYS, NULL, err,
	    errlen) == -1)
		goto fail;
	rc = 0;
fail:
	/* Half a CA is worse than none: without force, take back the key. */
	if (rc == -1 && wrote_key && !force &&
	    join(path, sizeof(path), dir, CA_KEY_FILE, NULL, 0) == 0)
		(void)unlink(path);
	if (lockfd != -1)
		close(lockfd);
	X509_free(x);
	EVP_PKEY_free(key);
	return rc;
}

/* Loads cadir's certificate and key and checks that they belong together. */
static int
ca_load(const char *cadir, X509 **certp, EVP_PKEY **keyp, char *err,
    size_t errlen)
{
	char path[PATH_MAX];
	struct stat st;
	FILE *f = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int fd;

	if (join(path, sizeof(path), cadir, CA_CERT_FILE, err, errlen) == -1)
		return -1;
	if ((f = fopen(path, "re")) == NULL) {
		errbuf_set(err, errlen, "cannot read CA certificate %s: %s%s",
		    path, strerror(errno), errno == ENOENT ?
		    " (create the CA with 'batonctl ca init')" : "");
		goto fail;
	}
	if ((x = PEM_read_X509(f, NULL, NULL, NULL)) == NULL) {
		sslerr(err, errlen, "cannot parse CA certificate %s", path);
		goto fail;
	}
	fclose(f);
	f = NULL;

	if (join(path, sizeof(path), cadir, CA_KEY_FILE, err, errlen) == -1)
		goto fail;
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)) == -1) {
		errbuf_set(err, errlen, "cannot read CA key %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == -1) {
		errbuf_set(err, errlen, "cannot read CA key %s: %s", path,
		    strerror(errno));
		close(fd);
		goto fail;
	}
	if (st.st_mode & 077) {
		errbuf_set(err, errlen, "CA key %s is open to group or others "
		    "(mode %04o); run chmod 600 %s", path,
		    (unsigned)(st.st_mode & 07777), path);
		close(fd);
		goto fail;
	}
	if ((f = fdopen(fd, "r")) == NULL) {
		errbuf_set(err, errlen, "cannot read CA key %s: %s", path,
		    strerror(errno));
		close(fd);
		goto fail;
	}
	if ((k = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL) {
		sslerr(err, errlen, "cannot parse CA key %s", path);
		goto fail;
	}
	fclose(f);
	f = NULL;
	if (!X509_check_private_key(x, k)) {
		sslerr(err, errlen, "CA key %s does not match CA certificate "
		    "in %s", path, cadir);
		goto fail;
	}
	*certp = x;
	*keyp = k;
	return 0;
fail:
	if (f != NULL)
		fclose(f);
	EVP_PKEY_free(k);
	X509_free(x);
	return -1;
}

/* x's serial as the index writes it (BN_bn2hex); -1 if it cannot. */
static int
cert_serial_hex(X509 *x, char out[CA_SERIAL_HEX_MAX + 1])
{
	BIGNUM *bn;
	char *hex = NULL;
	int rc = -1;

	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
	if (bn != NULL && (hex = BN_bn2hex(bn)) != NULL &&
	    strlen(hex) <= CA_SERIAL_HEX_MAX) {
		memcpy(out, hex, strlen(hex) + 1);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/*
 * Issues one leaf: kind decides the EKU, gens are its SANs (owned by the
 * caller), id names the files (<id>.crt/.key, or server.*) and the index
 * line. serial (may be NULL) gets the new certificate's serial.
 */
static int
issue_leaf(const char *cadir, enum leaf_kind kind, const char *cn,
    const char *id, GENERAL_NAMES *gens, const char *outdir, int days,
    int force, char serial[CA_SERIAL_HEX_MAX + 1], char *err,
    size_t errlen)
{
	char crtpath[PATH_MAX], keypath[PATH_MAX], file[BATON_NODE_ID_MAX + 8];
	const char *stem;
	X509 *ca = NULL, *x = NULL;
	EVP_PKEY *cakey = NULL, *key = NULL;
	int rc = -1, wrote_key = 0;

	if (check_days(days, err, errlen) == -1)
		return -1;
	if (ca_load(cadir, &ca, &cakey, err, errlen) == -1)
		return -1;
	stem = kind == LEAF_NODE ? id : "server";
	snprintf(file, sizeof(file), "%s.crt", stem);
	if (join(crtpath, sizeof(crtpath), outdir, file, err, errlen) == -1)
		goto fail;
	snprintf(file, sizeof(file), "%s.key", stem);
	if (join(keypath, sizeof(keypath), outdir, file, err, errlen) == -1)
		goto fail;
	if (make_dir(outdir, 0700, err, errlen) == -1 ||
	    check_absent(keypath, "key", force, err, errlen) == -1 ||
	    check_absent(crtpath, "certificate", force, err, errlen) == -1)
		goto fail;

	if ((key = new_key(err, errlen)) == NULL)
		goto fail;
	if ((x = new_cert(cn, ca, key, days, err, errlen)) == NULL)
		goto fail;
	if (add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE", err,
	    errlen) == -1 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature", err,
	    errlen) == -1 ||
	    add_ext(x, ca, NID_ext_key_usage, kind == LEAF_NODE ?
	    "clientAuth" : "serverAuth", err, errlen) == -1 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash", err,
	    errlen) == -1 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always", err,
	    errlen) == -1)
		goto fail;
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
	    X509V3_ADD_DEFAULT)) {
		sslerr(err, errlen, "cannot add the subject alternative names");
		goto fail;
	}
	if (!X509_sign(x, cakey, EVP_sha256())) {
		sslerr(err, errlen, "cannot sign the certificate for %s", cn);
		goto fail;
	}
	if (serial != NULL && cert_serial_hex(x, serial) == -1) {
		sslerr(err, errlen, "cannot format the serial number");
		goto fail;
	}

	if (index_append(cadir, x, kind == LEAF_NODE ? "node" : "server", id,
	    err, errlen) == -1)
		goto fail;
	if (write_file(keypath, 0600, force, write_key, key, err, errlen) == -1)
		goto fail;
	wrote_key = 1;
	if (write_file(crtpath, 0644, force, write_cert, x, err, errlen) == -1)
		goto fail;
	rc = 0;
fail:
	/* A key without its certificate is useless: without force, drop it. */
	if (rc == -1 && wrote_key && !force)
		(void)unlink(keypath);
	X509_free(x);
	EVP_PKEY_free(key);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

static int
add_gen(GENERAL_NAMES *gens, int type, const char *text, char *err,
    size_t errlen)
{
	GENERAL_NAME *g = NULL;
	ASN1_IA5STRING *s = NULL;
	ASN1_OCTET_STRING *ip = NULL;

	if ((g = GENERAL_NAME_new()) == NULL)
		goto ssl;
	if (type == GEN_IPADD) {
		if ((ip = a2i_IPADDRESS(text)) == NULL) {
			ERR_clear_error();
			errbuf_set(err, errlen, "'%s' is not an IPv4 or IPv6 "
			    "address", text);
			goto fail;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
	} else {
		if ((s = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(s, text, -1))
			goto ssl;
		GENERAL_NAME_set0_value(g, type, s);
		s = NULL;
	}
	if (!sk_GENERAL_NAME_push(gens, g))
		goto ssl;
	return 0;
ssl:
	sslerr(err, errlen, "cannot add the name %s", text);
fail:
	ASN1_IA5STRING_free(s);
	GENERAL_NAME_free(g);
	return -1;
}

/* ca_issue_node, and the new serial into serial (may be NULL). */
static int
issue_node(const char *cadir, const char *node_id, const char *outdir,
    int days, int force, char serial[CA_SERIAL_HEX_MAX + 1], char *err,
    size_t errlen)
{
	char uri[sizeof(CA_NODE_URI_PREFIX) + BATON_NODE_ID_MAX];
	GENERAL_NAMES *gens = NULL;
	int rc = -1;

	if (!validate_node_id(node_id)) {
		errbuf_set(err, errlen, "invalid node id '%s': use 1 to %d "
		    "characters, lower-case letters, digits, '.', '_' or '-', "
		    "starting with a letter or digit", node_id,
		    BATON_NODE_ID_MAX);
		return -1;
	}
	snprintf(uri, sizeof(uri), "%s%s", CA_NODE_URI_PREFIX, node_id);
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		sslerr(err, errlen, "cannot allocate names");
		return -1;
	}
	if (add_gen(gens, GEN_URI, uri, err, errlen) == -1)
		goto fail;
	rc = issue_leaf(cadir, LEAF_NODE, node_id, node_id, gens, outdir, days,
	    force, serial, err, errlen);
fail:
	GENERAL_NAMES_free(gens);
	return rc;
}

int
ca_issue_node(const char *cadir, const char *node_id, const char *outdir,
    int days, int force, char *err, size_t errlen)
{
	return issue_node(cadir, node_id, outdir, days, force, NULL, err,
	    errlen);
}

int
ca_valid_dns_name(const char *name)
{
	const char *p, *label;
	size_t n;

	if (name == NULL || (n = strlen(name)) == 0 || n > 253)
		return 0;
	p = name;
	if (p[0] == '*' && p[1] == '.' && p[2] != '\0')
		p += 2;
	while (*p != '\0') {
		label = p;
		while (*p != '\0' && *p != '.') {
			if (!isalnum((unsigned char)*p) && *p != '-')
				return 0;
			p++;
		}
		n = (size_t)(p - label);
		if (n == 0 || n > 63 || label[0] == '-' || p[-1] == '-')
			return 0;
		if (*p == '.' && *++p == '\0')
			return 0;
	}
	return 1;
}

int
ca_issue_server(const char *cadir, const char *const *dns_names,
    size_t n_dns, const char *const *ips, size_t n_ip, const char *outdir,
    int days, int force, char *err, size_t errlen)
{
	GENERAL_NAMES *gens = NULL;
	const char *cn;
	size_t i;
	int rc = -1;

	if (n_dns == 0 && n_ip == 0) {
		errbuf_set(err, errlen, "a server certificate needs at least "
		    "one DNS name or IP address");
		return -1;
	}
	for (i = 0; i < n_dns; i++)
		if (!ca_valid_dns_name(dns_names[i])) {
			errbuf_set(err, errlen, "'%s' is not a valid DNS name",
			    dns_names[i]);
			return -1;
		}
	/* The CN is for people only; clients check the SANs. */
	cn = n_dns > 0 ? dns_names[0] : ips[0];
	if (strlen(cn) > CN_MAX) {
		errbuf_set(err, errlen, "first name '%s' is too long for the "
		    "common name (%d bytes)", cn, CN_MAX);
		return -1;
	}
	if ((gens = sk_GENERAL_NAME_new_null()) == NULL) {
		sslerr(err, errlen, "cannot allocate names");
		return -1;
	}
	for (i = 0; i < n_dns; i++)
		if (add_gen(gens, GEN_DNS, dns_names[i], err, errlen) == -1)
			goto fail;
	for (i = 0; i < n_ip; i++)
		if (add_gen(gens, GEN_IPADD, ips[i], err, errlen) == -1)
			goto fail;
	rc = issue_leaf(cadir, LEAF_SERVER, cn, cn, gens, outdir, days, force,
	    NULL, err, errlen);
fail:
	GENERAL_NAMES_free(gens);
	return rc;
}

/* ---- revocation ---- */

static const struct {
	int		 code;
	const char	*name;
} reasons[] = {
	{ CRL_REASON_UNSPECIFIED,		"unspecified" },
	{ CRL_REASON_KEY_COMPROMISE,		"keyCompromise" },
	{ CRL_REASON_AFFILIATION_CHANGED,	"affiliationChanged" },
	{ CRL_REASON_SUPERSEDED,		"superseded" },
	{ CRL_REASON_CESSATION_OF_OPERATION,	"cessationOfOperation" },
};

#define NREASONS	(sizeof(reasons) / sizeof(reasons[0]))
#define LINE_MAX_CA	1024	/* an index line; a 253-byte name fits */

int
ca_reason_parse(const char *name)
{
	size_t i;

	for (i = 0; name != NULL && i < NREASONS; i++)
		if (strcasecmp(name, reasons[i].name) == 0)
			return reasons[i].code;
	return -1;
}

const char *
ca_reason_name(int reason)
{
	size_t i;

	for (i = 0; i < NREASONS; i++)
		if (reasons[i].code == reason)
			return reasons[i].name;
	return NULL;
}

/*
 * Takes the CA directory's lock (flock on the directory itself, so no lock
 * file is left behind); closing *fdp releases it. Waits for a holder.
 */
static int
ca_lock(const char *dir, int *fdp, char *err, size_t errlen)
{
	int fd;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
		errbuf_set(err, errlen, "cannot open the CA directory %s: %s",
		    dir, strerror(errno));
		return -1;
	}
	while (flock(fd, LOCK_EX) == -1) {
		if (errno == EINTR)
			continue;
		errbuf_set(err, errlen, "cannot lock the CA directory %s: %s",
		    dir, strerror(errno));
		close(fd);
		return -1;
	}
	*fdp = fd;
	return 0;
}

/* Parses exactly "YYYY-MM-DDTHH:MM:SSZ" (UTC) into *out. */
static int
parse_time(const char *s, time_t *out)
{
	struct tm tm;
	int n = 0;

	if (strlen(s) != CA_TIME_LEN)
		return -1;
	memset(&tm, 0, sizeof(tm));
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ%n", &tm.tm_year, &tm.tm_mon,
	    &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6 ||
	    n != CA_TIME_LEN)
		return -1;
	if (tm.tm_year < 1950 || tm.tm_year > 9999 || tm.tm_mon < 1 ||
	    tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 ||
	    tm.tm_hour > 23 || tm.tm_min > 59 || tm.tm_sec > 60)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*out = timegm(&tm);
	return 0;
}

/*
 * Normalises a serial as a person may type it ("0x" prefix, ':' between
 * bytes, any case) into the index's form: BN_bn2hex of its value.
 */
static int
serial_norm(const char *in, char out[CA_SERIAL_HEX_MAX + 1])
{
	char digits[CA_SERIAL_HEX_MAX + 1];
	BIGNUM *bn = NULL;
	char *hex = NULL;
	const char *p = in;
	size_t n = 0;
	int rc = -1;

	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X'))
		p += 2;
	for (; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p) || n == CA_SERIAL_HEX_MAX)
			return -1;
		digits[n++] = *p;
	}
	digits[n] = '\0';
	if (n == 0 || BN_hex2bn(&bn, digits) == 0 || BN_is_zero(bn) ||
	    (hex = BN_bn2hex(bn)) == NULL || strlen(hex) > CA_SERIAL_HEX_MAX)
		goto fail;
	memcpy(out, hex, strlen(hex) + 1);
	rc = 0;
fail:
	OPENSSL_free(hex);
	BN_free(bn);
	return rc;
}

/* Splits line at tabs into exactly n fields (in place); -1 otherwise. */
static int
split_tabs(char *line, char **f, int n)
{
	int i;

	for (i = 0; i < n; i++) {
		f[i] = line;
		line = strchr(line, '\t');
		if (line == NULL)
			return i == n - 1 ? 0 : -1;
		if (i == n - 1)
			return -1;
		*line++ = '\0';
	}
	return -1;
}

/* One parsed line of a CA text file, to fn; -1 (err set) stops the read. */
typedef int (*line_fn)(char *, void *, const char *, unsigned, char *,
    size_t);

/*
 * Reads cadir/name a line at a time: '#' and empty lines skipped, each
 * line checked for length and a final newline (a torn append is an error,
 * not a guess). A missing file is an error unless missing_ok.
 */
static int
read_lines(const char *cadir, const char *name, int missing_ok, line_fn fn,
    void *arg, char *err, size_t errlen)
{
	char path[PATH_MAX], line[LINE_MAX_CA];
	FILE *f;
	unsigned lineno = 0;
	size_t len;
	int rc = -1;

	if (join(path, sizeof(path), cadir, name, err, errlen) == -1)
		return -1;
	if ((f = fopen(path, "re")) == NULL) {
		if (errno == ENOENT && missing_ok)
			return 0;
		errbuf_set(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		lineno++;
		len = strlen(line);
		if (len == 0 || line[len - 1] != '\n') {
			errbuf_set(err, errlen, "%s:%u: line too long or not "
			    "ended (a write was cut short?); fix or remove "
			    "that line", path, lineno);
			goto fail;
		}
		line[--len] = '\0';
		if (len == 0 || line[0] == '#')
			continue;
		if (fn(line, arg, path, lineno, err, errlen) == -1)
			goto fail;
	}
	if (ferror(f)) {
		errbuf_set(err, errlen, "cannot read %s: %s", path,
		    strerror(errno));
		goto fail;
	}
	rc = 0;
fail:
	fclose(f);
	return rc;
}

struct cert_array {
	struct ca_cert	*v;
	size_t		 n, cap;
};

/* A new zeroed certificate at the end of a; NULL when out of memory. */
static struct ca_cert *
cert_push(struct cert_array *a)
{
	return growarray_push(&a->v, &a->n, &a->cap, sizeof(a->v[0]));
}

static int
copy_text(char *dst, size_t dstlen, const char *src)
{
	const unsigned char *p;
	size_t n = strlen(src);

	if (n == 0 || n >= dstlen)
		return -1;
	for (p = (const unsigned char *)src; *p != '\0'; p++)
		if (*p < 0x20 || *p == 0x7f)
			return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

/* An issued.txt line: serial, kind, id, not_before, not_after. */
static int
index_line(char *line, void *arg, const char *path, unsigned lineno,
    char *err, size_t errlen)
{
	struct cert_array *a = arg;
	struct ca_cert *c;
	char *f[5], norm[CA_SERIAL_HEX_MAX + 1];
	time_t nb;

	if (split_tabs(line, f, 5) == -1)
		goto bad;
	if (serial_norm(f[0], norm) == -1 || strcmp(norm, f[0]) != 0)
		goto bad;
	if (strcmp(f[1], "node") != 0 && strcmp(f[1], "server") != 0)
		goto bad;
	if ((c = cert_push(a)) == NULL) {
		errbuf_set(err, errlen, "out of memory reading %s", path);
		return -1;
	}
	if (copy_text(c->serial, sizeof(c->serial), f[0]) == -1 ||
	    copy_text(c->kind, sizeof(c->kind), f[1]) == -1 ||
	    copy_text(c->id, sizeof(c->id), f[2]) == -1 ||
	    copy_text(c->not_before, sizeof(c->not_before), f[3]) == -1 ||
	    copy_text(c->not_after, sizeof(c->not_after), f[4]) == -1 ||
	    parse_time(f[3], &nb) == -1 ||
	    parse_time(f[4], &c->not_after_t) == -1) {
		a->n--;
		goto bad;
	}
	return 0;
bad:
	errbuf_set(err, errlen, "%s:%u: not an index line (serial, "
	    "node|server, id, not before, not after, separated by tabs)", path,
	    lineno);
	return -1;
}

/* A revoked.txt line: serial, revoked_at, reason. The first one counts. */
static int
revoked_line(char *line, void *arg, const char *path, unsigned lineno,
    char *err, size_t errlen)
{
	struct cert_array *a = arg;
	struct ca_cert *c;
	char *f[3], norm[CA_SERIAL_HEX_MAX + 1];
	time_t at;
	size_t i;
	int reason;

	if (split_tabs(line, f, 3) == -1 || serial_norm(f[0], norm) == -1 ||
	    strcmp(norm, f[0]) != 0 || parse_time(f[1], &at) == -1 ||
	    (reason = ca_reason_parse(f[2])) == -1) {
		errbuf_set(err, errlen, "%s:%u: not a revocation line (serial, "
		    "time, reason, separated by tabs)", path, lineno);
		return -1;
	}
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i].serial, norm) == 0)
			return 0;
	if ((c = cert_push(a)) == NULL) {
		errbuf_set(err, errlen, "out of memory reading %s", path);
		return -1;
	}
	memcpy(c->serial, norm, strlen(norm) + 1);
	memcpy(c->revoked_at, f[1], CA_TIME_LEN + 1);
	c->revoked_at_t = at;
	c->revoked = 1;
	c->reason = reason;
	return 0;
}

/* The issued certificates (*issued) and the revocations (*revoked). */
static int
ca_read(const char *cadir, struct cert_array *issued,
    struct cert_array *revoked, char *err, size_t errlen)
{
	size_t i, j;

	if (issued != NULL && read_lines(cadir, CA_INDEX_FILE, 0, index_line,
	    issued, err, errlen) == -1)
		return -1;
	if (read_lines(cadir, CA_REVOKED_FILE, 1, revoked_line, revoked, err,
	    errlen) == -1)
		return -1;
	for (i = 0; issued != NULL && i < issued->n; i++)
		for (j = 0; j < revoked->n; j++) {
			if (strcmp(issued->v[i].serial,
			    revoked->v[j].serial) != 0)
				continue;
			issued->v[i].revoked = 1;
			issued->v[i].reason = revoked->v[j].reason;
			issued->v[i].revoked_at_t = revoked->v[j].revoked_at_t;
			memcpy(issued->v[i].revoked_at,
			    revoked->v[j].revoked_at,
			    sizeof(issued->v[i].revoked_at));
		}
	return 0;
}

int
ca_list(const char *cadir, struct ca_cert **out, size_t *n, char *err,
    size_t errlen)
{
	struct cert_array issued = { NULL, 0, 0 }, revoked = { NULL, 0, 0 };

	*out = NULL;
	*n = 0;
	if (ca_read(cadir, &issued, &revoked, err, errlen) == -1) {
		free(issued.v);
		free(revoked.v);
		return -1;
	}
	free(revoked.v);
	*out = issued.v;
	*n = issued.n;
	return 0;
}

static int
check_crl_days(int days, char *err, size_t errlen)
{
	if (days < 1 || days > CA_MAX_CRL_DAYS) {
		errbuf_set(err, errlen, "CRL validity of %d days is out of "
		    "range (1 to %d)", days, CA_MAX_CRL_DAYS);
		return -1;
	}
	return 0;
}

/* The number of the last CRL written, from cadir/crlnumber. */
static int
read_crlnumber(const char *cadir, uint64_t *out, char *err, size_t errlen)
{
	char path[PATH_MAX], buf[32], *end;
	unsigned long long v;
	FILE *f;
	size_t n;

	if (join(path, sizeof(path), cadir, CA_CRLNUMBER_FILE, err,
	    errlen) == -1)
		return -1;
	if ((f = fopen(path, "re")) == NULL) {
		errbuf_set(err, errlen, "cannot read the CRL number %s: %s",
		    path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	errno = 0;
	v = strtoull(buf, &end, 10);
	if (n == 0 || !isdigit((unsigned char)buf[0]) || errno != 0 ||
	    (*end != '\0' && strcmp(end, "\n") != 0) || v >= UINT64_MAX) {
		errbuf_set(err, errlen, "%s does not hold a CRL number", path);
		return -1;
	}
	*out = v;
	return 0;
}

/*
 * Appends the lines text to cadir/name (revoked.txt, renewals.txt) and
 * fsyncs them.
 */
static int
lines_append(const char *cadir, const char *name, const char *text,
    char *err, size_t errlen)
{
	char path[PATH_MAX];
	size_t len = strlen(text), off = 0;
	ssize_t w;
	int fd;

	if (join(path, sizeof(path), cadir, name, err, errlen) == -1)
		return -1;
	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1) {
		errbuf_set(err, errlen, "cannot open %s: %s", path,
		    strerror(errno));
		return -1;
	}
	while (off < len) {
		if ((w = write(fd, text + off, len - off)) == -1) {
			if (errno == EINTR)
				continue;
			break;
		}
		off += (size_t)w;
	}
	if (off < len || fsync(fd) == -1) {
		errbuf_set(err, errlen, "cannot append to %s: %s", path,
		    strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	atomicfile_sync_dir(path);
	return 0;
}

/* Rewrites the CRL from revoked.txt with the next number; lock held. */
static int
crl_reissue(const char *cadir, X509 *ca, EVP_PKEY *cakey, int crl_days,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	struct cert_array revoked = { NULL, 0, 0 };
	uint64_t number;
	int rc = -1;

	if (ca_read(cadir, NULL, &revoked, err, errlen) == -1 ||
	    read_crlnumber(cadir, &number, err, errlen) == -1)
		goto fail;
	rc = crl_write(cadir, ca, cakey, revoked.v, revoked.n, number + 1,
	    crl_days, info, err, errlen);
fail:
	free(revoked.v);
	return rc;
}

int
ca_crl_update(const char *cadir, int crl_days, struct ca_crl_info *info,
    char *err, size_t errlen)
{
	X509 *ca = NULL;
	EVP_PKEY *cakey = NULL;
	int lockfd = -1, rc = -1;

	if (check_crl_days(crl_days, err, errlen) == -1)
		return -1;
	if (ca_load(cadir, &ca, &cakey, err, errlen) == -1)
		return -1;
	if (ca_lock(cadir, &lockfd, err, errlen) == -1)
		goto fail;
	rc = crl_reissue(cadir, ca, cakey, crl_days, info, err, errlen);
fail:
	if (lockfd != -1)
		close(lockfd);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

/*
 * Picks the certificates to revoke from the index: node_id's unrevoked
 * ones, or the one with serial. Appends them to *out.
 */
static int
revoke_select(const char *cadir, const struct cert_array *issued,
    const char *node_id, const char *serial, struct cert_array *out,
    char *err, size_t errlen)
{
	char norm[CA_SERIAL_HEX_MAX + 1];
	struct ca_cert *c;
	size_t i, seen = 0;

	if (serial != NULL && serial_norm(serial, norm) == -1) {
		errbuf_set(err, errlen, "'%s' is not a certificate serial (hex "
		    "digits, at most %d)", serial, CA_SERIAL_HEX_MAX);
		return -1;
	}
	for (i = 0; i < issued->n; i++) {
		if (serial != NULL ? strcmp(issued->v[i].serial, norm) != 0 :
		    (strcmp(issued->v[i].kind, "node") != 0 ||
		    strcmp(issued->v[i].id, node_id) != 0))
			continue;
		seen++;
		if (issued->v[i].revoked) {
			if (serial != NULL) {
				errbuf_set(err, errlen, "certificate %s (%s "
				    "%s) was already revoked at %s", norm,
				    issued->v[i].kind, issued->v[i].id,
				    issued->v[i].revoked_at);
				return -1;
			}
			continue;
		}
		if ((c = cert_push(out)) == NULL) {
			errbuf_set(err, errlen, "out of memory");
			return -1;
		}
		*c = issued->v[i];
		if (serial != NULL)
			break;
	}
	if (seen == 0) {
		if (serial != NULL)
			errbuf_set(err, errlen, "serial %s is not in %s/%s: "
			    "this CA did not issue it", norm, cadir,
			    CA_INDEX_FILE);
		else
			errbuf_set(err, errlen, "no certificate was issued to "
			    "node '%s' by the CA in %s", node_id, cadir);
		return -1;
	}
	if (out->n == 0) {
		errbuf_set(err, errlen, "every certificate issued to node '%s' "
		    "is already revoked", node_id);
		return -1;
	}
	return 0;
}

/*
 * Revokes the certificates in chosen now, for reason: their lines go to
 * revoked.txt (fsynced) first, then the CRL is rewritten with the next
 * number; the caller holds the CA lock. Each one in chosen is marked
 * revoked.
 */
static int
revoke_chosen(const char *cadir, X509 *ca, EVP_PKEY *cakey,
    struct cert_array *chosen, int reason, int crl_days,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	char now_text[CA_TIME_LEN + 1], *text = NULL, *p;
	time_t now;
	size_t i, len;
	int rc = -1;

	now = time(NULL);
	if (time_text(now, now_text, sizeof(now_text)) == -1) {
		errbuf_set(err, errlen, "cannot format the time");
		return -1;
	}
	len = chosen->n * (CA_SERIAL_HEX_MAX + CA_TIME_LEN + 32) + 1;
	if ((text = malloc(len)) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return -1;
	}
	p = text;
	*p = '\0';
	for (i = 0; i < chosen->n; i++) {
		chosen->v[i].revoked = 1;
		chosen->v[i].reason = reason;
		chosen->v[i].revoked_at_t = now;
		memcpy(chosen->v[i].revoked_at, now_text, sizeof(now_text));
		p += snprintf(p, len - (size_t)(p - text), "%s\t%s\t%s\n",
		    chosen->v[i].serial, now_text, ca_reason_name(reason));
	}
	if (lines_append(cadir, CA_REVOKED_FILE, text, err, errlen) == -1)
		goto fail;
	if (crl_reissue(cadir, ca, cakey, crl_days, info, err,
	    errlen) == -1) {
		/* Recorded but not yet published: say how to finish. */
		len = strlen(err);
		if (len < errlen)
			snprintf(err + len, errlen - len, "; the revocation is "
			    "recorded in %s, run 'batonctl crl --ca %s' to "
			    "write the CRL", CA_REVOKED_FILE, cadir);
		goto fail;
	}
	rc = 0;
fail:
	free(text);
	return rc;
}

/* What every revocation checks and holds before it picks certificates. */
static int
revoke_begin(const char *cadir, int reason, int crl_days, X509 **ca,
    EVP_PKEY **cakey, int *lockfd, char *err, size_t errlen)
{
	if (ca_reason_name(reason) == NULL) {
		errbuf_set(err, errlen, "unknown revocation reason %d", reason);
		return -1;
	}
	if (check_crl_days(crl_days, err, errlen) == -1)
		return -1;
	/* The key first: revoking needs a CRL signed, not just a record. */
	if (ca_load(cadir, ca, cakey, err, errlen) == -1)
		return -1;
	if (ca_lock(cadir, lockfd, err, errlen) == -1) {
		X509_free(*ca);
		EVP_PKEY_free(*cakey);
		*ca = NULL;
		*cakey = NULL;
		return -1;
	}
	return 0;
}

/*
 * Picks from the index each of serials this CA issued that is not yet
 * revoked (a serial given twice: once), appending them to *out. A serial
 * it did not issue is an error.
 */
static int
select_serials(const char *cadir, struct cert_array *issued,
    const char *const *serials, size_t n, struct cert_array *out, char *err,
    size_t errlen)
{
	char norm[CA_SERIAL_HEX_MAX + 1];
	struct ca_cert *c;
	size_t i, j;

	for (i = 0; i < n; i++) {
		if (serial_norm(serials[i], norm) == -1) {
			errbuf_set(err, errlen, "'%s' is not a certificate "
			    "serial", serials[i]);
			return -1;
		}
		for (j = 0; j < issued->n; j++)
			if (strcmp(issued->v[j].serial, norm) == 0)
				break;
		if (j == issued->n) {
			errbuf_set(err, errlen, "serial %s is not in %s/%s: "
			    "this CA did not issue it", norm, cadir,
			    CA_INDEX_FILE);
			return -1;
		}
		if (issued->v[j].revoked)
			continue;
		issued->v[j].revoked = 1;	/* given twice: once */
		if ((c = cert_push(out)) == NULL) {
			errbuf_set(err, errlen, "out of memory");
			return -1;
		}
		*c = issued->v[j];
		c->revoked = 0;
	}
	return 0;
}

/*
 * What a revocation is of: node_id's certificates or serial's one
 * (revoke_select), or, when serials is not NULL, each of the n serials
 * (select_serials).
 */
struct revoke_what {
	const char		*node_id;
	const char		*serial;
	const char *const	*serials;
	size_t			 n;
};

/*
 * The one way certificates are revoked: under the CA lock, the index read,
 * the certificates picked as w says and, if any were, revoked in one new
 * CRL. They are handed out in *revokedp (the caller frees it).
 */
static int
revoke_run(const char *cadir, const struct revoke_what *w, int reason,
    int crl_days, struct ca_cert **revokedp, size_t *nrevoked,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	struct cert_array issued = { NULL, 0, 0 }, revoked = { NULL, 0, 0 };
	struct cert_array chosen = { NULL, 0, 0 };
	X509 *ca = NULL;
	EVP_PKEY *cakey = NULL;
	int lockfd = -1, rc = -1;

	if (revoke_begin(cadir, reason, crl_days, &ca, &cakey, &lockfd, err,
	    errlen) == -1)
		return -1;
	if (ca_read(cadir, &issued, &revoked, err, errlen) == -1)
		goto fail;
	if (w->serials != NULL ? select_serials(cadir, &issued, w->serials,
	    w->n, &chosen, err, errlen) == -1 : revoke_select(cadir, &issued,
	    w->node_id, w->serial, &chosen, err, errlen) == -1)
		goto fail;
	if (chosen.n > 0 && revoke_chosen(cadir, ca, cakey, &chosen, reason,
	    crl_days, info, err, errlen) == -1)
		goto fail;
	*revokedp = chosen.v;
	*nrevoked = chosen.n;
	chosen.v = NULL;
	rc = 0;
fail:
	close(lockfd);
	free(chosen.v);
	free(revoked.v);
	free(issued.v);
	X509_free(ca);
	EVP_PKEY_free(cakey);
	return rc;
}

int
ca_revoke(const char *cadir, const char *node_id, const char *serial,
    int reason, int crl_days, struct ca_cert **revokedp, size_t *nrevoked,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	const struct revoke_what w = { node_id, serial, NULL, 0 };

	*revokedp = NULL;
	*nrevoked = 0;
	if ((node_id == NULL) == (serial == NULL)) {
		errbuf_set(err, errlen, "give either a node id or a serial");
		return -1;
	}
	if (node_id != NULL && !validate_node_id(node_id)) {
		errbuf_set(err, errlen, "invalid node id '%s'", node_id);
		return -1;
	}
	return revoke_run(cadir, &w, reason, crl_days, revokedp, nrevoked,
	    info, err, errlen);
}

int
ca_revoke_serials(const char *cadir, const char *const *serials, size_t n,
    int reason, int crl_days, struct ca_cert **revokedp, size_t *nrevoked,
    struct ca_crl_info *info, char *err, size_t errlen)
{
	const struct revoke_what w = { NULL, NULL, serials, n };

	*revokedp = NULL;
	*nrevoked = 0;
	return revoke_run(cadir, &w, reason, crl_days, revokedp, nrevoked,
	    info, err, errlen);
}

/* ---- renewal ---- */

struct renewal_array {
	struct ca_renewal	*v;
	size_t			 n, cap;
};

/* A renewals.txt line: old serial, new serial, node id, renewed at. */
static int
renewal_line(char *line, void *arg, const char *path, unsigned lineno,
    char *err, size_t errlen)
{
	struct renewal_array *a = arg;
	struct ca_renewal *r;
	char *f[4], old[CA_SERIAL_HEX_MAX + 1], new[CA_SERIAL_HEX_MAX + 1];

	if (split_tabs(line, f, 4) == -1 || serial_norm(f[0], old) == -1 ||
	    strcmp(old, f[0]) != 0 || serial_norm(f[1], new) == -1 ||
	    strcmp(new, f[1]) != 0 || !validate_node_id(f[2]))
		goto bad;
	if ((r = growarray_push(&a->v, &a->n, &a->cap, sizeof(*r))) == NULL) {
		errbuf_set(err, errlen, "out of memory reading %s", path);
		return -1;
	}
	memcpy(r->old_serial, old, sizeof(old));
	memcpy(r->new_serial, new, sizeof(new));
	if (copy_text(r->id, sizeof(r->id), f[2]) == -1 ||
	    copy_text(r->renewed_at, sizeof(r->renewed_at), f[3]) == -1 ||
	    parse_time(f[3], &r->renewed_at_t) == -1) {
		a->n--;
		goto bad;
	}
	return 0;
bad:
	errbuf_set(err, errlen, "%s:%u: not a renewal line (old serial, new "
	    "serial, node id, time, separated by tabs)", path, lineno);
	return -1;
}

int
ca_renewals(const char *cadir, struct ca_renewal **out, size_t *n,
    char *err, size_t errlen)
{
	struct renewal_array a = { NULL, 0, 0 };
	struct cert_array revoked = { NULL, 0, 0 };
	size_t i, j;

	*out = NULL;
	*n = 0;
	if (read_lines(cadir, CA_RENEWALS_FILE, 1, renewal_line, &a, err,
	    errlen) == -1 || ca_read(cadir, NULL, &revoked, err, errlen) == -1) {
		free(a.v);
		free(revoked.v);
		return -1;
	}
	for (i = 0; i < a.n; i++)
		for (j = 0; j < revoked.n && !a.v[i].done; j++)
			a.v[i].done = strcmp(a.v[i].old_serial,
			    revoked.v[j].serial) == 0;
	free(revoked.v);
	*out = a.v;
	*n = a.n;
	return 0;
}

/* The renewals.txt lines saying new replaces each of old, renewed now. */
static char *
renewal_text(const struct cert_array *old, const char *new,
    const char *node_id, time_t now, char *err, size_t errlen)
{
	char now_text[CA_TIME_LEN + 1], *text, *p;
	size_t i, len;

	if (time_text(now, now_text, sizeof(now_text)) == -1) {
		errbuf_set(err, errlen, "cannot format the time");
		return NULL;
	}
	len = old->n * (2 * CA_SERIAL_HEX_MAX + BATON_NODE_ID_MAX +
	    CA_TIME_LEN + 8) + 1;
	if ((text = malloc(len)) == NULL) {
		errbuf_set(err, errlen, "out of memory");
		return NULL;
	}
	p = text;
	*p = '\0';
	for (i = 0; i < old->n; i++)
		p += snprintf(p, len - (size_t)(p - text), "%s\t%s\t%s\t%s\n",
		    old->v[i].serial, new, node_id, now_text);
	return text;
}

int
ca_renew_node(const char *cadir, const char *node_id, const char *outdir,
    int days, int force, char new_serial[CA_SERIAL_HEX_MAX + 1],
    struct ca_cert **oldp, size_t *noldp, char *err, size_t errlen)
{
	struct cert_array issued = { NULL, 0, 0 }, revoked = { NULL, 0, 0 };
	struct cert_array old = { NULL, 0, 0 };
	struct ca_cert *c;
	char *text = NULL;
	time_t now = time(NULL);
	size_t i, len;
	int lockfd = -1, rc = -1;

	*oldp = NULL;
	*noldp = 0;
	if (!validate_node_id(node_id)) {
		errbuf_set(err, errlen, "invalid node id '%s'", node_id);
		return -1;
	}
	/* Held throughout, so a finish cannot see half a renewal. */
	if (ca_lock(cadir, &lockfd, err, errlen) == -1)
		return -1;
	if (ca_read(cadir, &issued, &revoked, err, errlen) == -1)
		goto fail;
	for (i = 0; i < issued.n; i++) {
		if (strcmp(issued.v[i].kind, "node") != 0 ||
		    strcmp(issued.v[i].id, node_id) != 0 ||
		    issued.v[i].revoked || issued.v[i].not_after_t <= now)
			continue;
		if ((c = cert_push(&old)) == NULL) {
			errbuf_set(err, errlen, "out of memory");
			goto fail;
		}
		*c = issued.v[i];
	}
	if (issue_node(cadir, node_id, outdir, days, force, new_serial, err,
	    errlen) == -1)
		goto fail;
	if (old.n > 0 && ((text = renewal_text(&old, new_serial, node_id, now,
	    err, errlen)) == NULL || lines_append(cadir, CA_RENEWALS_FILE,
	    text, err, errlen) == -1)) {
		len = strlen(err);
		if (len < errlen)
			snprintf(err + len, errlen - len, "; certificate %s is "
			    "issued, but the ones it replaces are not marked: "
			    "revoke them with 'batonctl cert revoke --serial' "
			    "once the node uses the new one", new_serial);
		goto fail;
	}
	*oldp = old.v;
	*noldp = old.n;
	old.v = NULL;
	rc = 0;
fail:
	close(lockfd);
	free(text);
	free(old.v);
	free(revoked.v);
	free(issued.v);
	return rc;
}
