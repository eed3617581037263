/*
 * ctl_cert.c - batonctl's certificate commands: "ca init", "cert issue",
 * "cert revoke", "cert list" and "crl".
 *
 * Arguments and output only: the CA's work and its files are certs/ca.c's.
 * Text read back from the CA's files is printed through ctl_sanitise or
 * jansson, never raw, so a damaged index cannot drive the terminal.
 *
 * The CA directory and the broker's store are apart (often on different
 * hosts), so a certificate change cannot commit with its audit record.
 * "cert issue|revoke --data DIR" opens the audit log first, so a log that
 * cannot be written stops the change before it starts, then records each
 * issued or revoked certificate (AUDIT_CERT_CHANGED, with its serial) once
 * its files are written.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "audit.h"
#include "ca.h"
#include "atomicfile.h"
#include "ctl.h"
#include "ctl_cert.h"
#include "ctl_data.h"
#include "ctl_opts.h"
#include "readfile.h"
#include "store.h"
#include "validate.h"

_Static_assert(BATON_NODE_ID_MAX == 64, "CTL_NODE_ID_RULE states the limit");

#define MAX_SANS	32	/* --dns and --ip, each */
#define CRL_COPY_MAX	(16 * 1024 * 1024)	/* crl --copy-to reads this much */

/* ctl_opt's range for --days and --crl-days. */
#define DAYS_RANGE	.min = 1, .max = CA_MAX_DAYS
#define CRL_DAYS_RANGE	.min = 1, .max = CA_MAX_CRL_DAYS

struct ca_init_args {
	const char	*dir;
	const char	*name;		/* NULL: host name */
	int		 days;
	int		 force;
};

static int
parse_ca_init(const struct command *c, int argc, char **argv,
    struct ca_init_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("dir", "DIR", &a->dir),
		  .help =
		  "directory for ca.crt, ca.key, issued.txt, crl.pem (created "
		  "0700)",
		  .required = 1 },
		{ CTL_STRING("name", "NAME", &a->name),
		  .help =
		  "CA name: CN \"Baton CA NAME\" (default: host name)" },
		{ CTL_INT("days", "N", &a->days),
		  .help = "validity in days (default 3650)",
		  DAYS_RANGE },
		{ CTL_FLAG("force", &a->force),
		  .help =
		  "replace an existing CA (its certificates stop verifying)" },
	};

	memset(a, 0, sizeof(*a));
	a->days = CA_DEFAULT_CA_DAYS;
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

static int
run_ca_init(const struct ca_init_args *a)
{
	char err[1024];

	if (ca_init(a->dir, a->name, a->days, a->force, err,
	    sizeof(err)) == -1)
		return ctl_failx("%s", err);
	printf("created CA in %s: %s, %s (keep it secret), %s, %s\n", a->dir,
	    CA_CERT_FILE, CA_KEY_FILE, CA_CRL_FILE, CA_INDEX_FILE);
	return EXIT_SUCCESS;
}

int
ctl_ca_init(const struct command *c, int argc, char **argv)
{
	struct ca_init_args a;
	int r;

	if ((r = parse_ca_init(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_ca_init(&a);
}

/* ---- audit of certificate changes ---- */

int
ctl_cert_audit_open(const char *dir, struct audit **au, struct store **s)
{
	if (ctl_data_audit_open(dir, 0, au) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (ctl_data_store(dir, 0, s) != EXIT_SUCCESS) {
		audit_close(*au);
		*au = NULL;
		return EXIT_FAILURE;
	}
	return EXIT_SUCCESS;
}

int
ctl_cert_audit(struct audit *au, struct store *s, const char *id,
    const char *serial, const char *what, const char *detail)
{
	struct audit_event ev;
	char reason[256], who[96];

	ctl_caller(who, sizeof(who));
	snprintf(reason, sizeof(reason), "%s uid=%s", what, who);
	memset(&ev, 0, sizeof(ev));
	ev.event = AUDIT_CERT_CHANGED;
	ev.actor = "batonctl";
	ev.other = id;
	ev.cert_serial = serial;
	ev.outcome = "ok";
	ev.reason = reason;
	ev.detail = detail;
	return ctl_data_record(au, s, &ev, "the change in the audit log");
}

/* Serial (upper-case hex) of the certificate in path, for the audit log. */
static int
cert_file_serial(const char *path, char *out, size_t len)
{
	FILE *fp = fopen(path, "r");
	X509 *x = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	int rc = -1;

	if (fp == NULL)
		return -1;
	if ((x = PEM_read_X509(fp, NULL, NULL, NULL)) != NULL &&
	    (bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL)) != NULL &&
	    (hex = BN_bn2hex(bn)) != NULL && strlen(hex) < len) {
		memcpy(out, hex, strlen(hex) + 1);
		rc = 0;
	}
	OPENSSL_free(hex);
	BN_free(bn);
	X509_free(x);
	fclose(fp);
	return rc;
}

/* ---- cert issue ---- */

struct cert_issue_args {
	const char	*ca;
	const char	*node;		/* a node certificate, or */
	int		 server;	/* a server certificate for: */
	const char	*dns[MAX_SANS];
	size_t		 n_dns;
	const char	*ip[MAX_SANS];
	size_t		 n_ip;
	const char	*out;
	int		 days;
	int		 force;
	const char	*data;		/* broker data dir to audit in, or NULL */
};

static int
parse_cert_issue(const struct command *c, int argc, char **argv,
    struct cert_issue_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory (from 'batonctl ca init')",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "node id; the certificate names urn:baton:node:ID" },
		{ CTL_FLAG("server", &a->server),
		  .help = "a broker certificate instead, for the names below" },
		{ CTL_LIST("dns", "NAME", a->dns, &a->n_dns),
		  .help = "DNS name of the broker (repeatable)",
		  .max = MAX_SANS },
		{ CTL_LIST("ip", "ADDR", a->ip, &a->n_ip),
		  .help = "IPv4 or IPv6 address of the broker (repeatable)",
		  .max = MAX_SANS },
		{ CTL_STRING("out", "DIR", &a->out),
		  .help = "where to write ID.crt and ID.key, or server.crt and "
		  "server.key",
		  .required = 1 },
		{ CTL_INT("days", "N", &a->days),
		  .help = "validity in days (default 365)",
		  DAYS_RANGE },
		{ CTL_FLAG("force", &a->force),
		  .help = "replace existing files" },
		{ CTL_STRING("data", "DIR", &a->data),
		  .help =
		  "the broker's data directory: record the certificate in\n"
		  "its audit log (opened first; no log, no certificate)" },
	};
	int r;

	memset(a, 0, sizeof(*a));
	a->days = CA_DEFAULT_LEAF_DAYS;
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if (a->server && a->node != NULL)
		return ctl_usage_error(c, "give either --node or --server, "
		    "not both");
	if (!a->server && a->node == NULL)
		return ctl_usage_error(c, "--node ID or --server is required");
	if (!a->server && (a->n_dns > 0 || a->n_ip > 0))
		return ctl_usage_error(c, "--dns and --ip go with --server "
		    "only");
	if (a->node != NULL && !validate_node_id(a->node))
		return ctl_usage_error(c, "invalid node id '%s': %s", a->node,
		    CTL_NODE_ID_RULE);
	if (a->server && a->n_dns == 0 && a->n_ip == 0)
		return ctl_usage_error(c, "--server needs at least one --dns "
		    "or --ip");
	return PARSE_RUN;
}

static int
run_cert_issue(const struct cert_issue_args *a)
{
	struct audit *au = NULL;
	struct store *s = NULL;
	char err[1024], path[4096], serial[CA_SERIAL_HEX_MAX + 1], what[64];
	const char *stem;
	int r = EXIT_FAILURE;

	/* A log that cannot be opened stops us before anything is issued. */
	if (a->data != NULL && ctl_cert_audit_open(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (a->server) {
		if (ca_issue_server(a->ca, a->dns, a->n_dns, a->ip, a->n_ip,
		    a->out, a->days, a->force, err, sizeof(err)) == -1) {
			ctl_failx("%s", err);
			goto done;
		}
		stem = "server";
	} else {
		if (ca_issue_node(a->ca, a->node, a->out, a->days, a->force,
		    err, sizeof(err)) == -1) {
			ctl_failx("%s", err);
			goto done;
		}
		stem = a->node;
	}
	printf("issued %s/%s.crt and %s/%s.key, valid %d days\n", a->out,
	    stem, a->out, stem, a->days);
	if (au != NULL) {
		snprintf(path, sizeof(path), "%s/%s.crt", a->out, stem);
		if (cert_file_serial(path, serial, sizeof(serial)) == -1)
			strcpy(serial, "-");
		snprintf(what, sizeof(what), "issued %s, %d days",
		    a->server ? "server" : "node", a->days);
		if (ctl_cert_audit(au, s, a->server ? a->dns[0] ? a->dns[0] :
		    a->ip[0] : a->node, serial, what, NULL) != EXIT_SUCCESS) {
			ctl_failx("the certificate is issued but not in the "
			    "audit log");
			goto done;
		}
	}
	r = EXIT_SUCCESS;
done:
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_cert_issue(const struct command *c, int argc, char **argv)
{
	struct cert_issue_args a;
	int r;

	if ((r = parse_cert_issue(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_cert_issue(&a);
}

/* ---- cert revoke ---- */

struct cert_revoke_args {
	const char	*ca;
	const char	*node;		/* every certificate of a node, or */
	const char	*serial;	/* one certificate */
	int		 reason;	/* CRL_REASON_* */
	int		 crl_days;
	const char	*data;		/* broker data dir to audit in, or NULL */
};

static int
parse_cert_revoke(const struct command *c, int argc, char **argv,
    struct cert_revoke_args *a)
{
	const char *reason = "unspecified";
	struct ctl_opt opts[] = {
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help =
		  "revoke every unrevoked certificate issued to this node" },
		{ CTL_STRING("serial", "S", &a->serial),
		  .help =
		  "revoke the one certificate with this serial (hex, as\n"
		  "'batonctl cert list' shows it)" },
		{ CTL_STRING("reason", "R", &reason),
		  .help =
		  "unspecified (default), keyCompromise, affiliationChanged,\n"
		  "superseded or cessationOfOperation" },
		{ CTL_INT("crl-days", "N", &a->crl_days),
		  .help = "the new CRL's nextUpdate, in days (default 30)",
		  CRL_DAYS_RANGE },
		{ CTL_STRING("data", "DIR", &a->data),
		  .help =
		  "the broker's data directory: record the revocation in\n"
		  "its audit log (opened first; no log, no revocation)" },
	};
	int r;

	memset(a, 0, sizeof(*a));
	a->crl_days = CA_DEFAULT_CRL_DAYS;
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if ((a->reason = ca_reason_parse(reason)) == -1)
		return ctl_usage_error(c, "unknown reason '%s': use "
		    "unspecified, keyCompromise, affiliationChanged, "
		    "superseded or cessationOfOperation", reason);
	if ((a->node == NULL) == (a->serial == NULL))
		return ctl_usage_error(c, "give either --node ID or "
		    "--serial S");
	if (a->node != NULL && !validate_node_id(a->node))
		return ctl_usage_error(c, "invalid node id '%s': %s", a->node,
		    CTL_NODE_ID_RULE);
	return PARSE_RUN;
}

static int
run_cert_revoke(const struct cert_revoke_args *a)
{
	struct ca_crl_info info;
	struct ca_cert *v = NULL;
	struct audit *au = NULL;
	struct store *s = NULL;
	char err[1024];
	size_t i, n = 0;
	int r = EXIT_FAILURE;

	/* A log that cannot be opened stops us before anything changes. */
	if (a->data != NULL && ctl_cert_audit_open(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (ca_revoke(a->ca, a->node, a->serial, a->reason, a->crl_days, &v,
	    &n, &info, err, sizeof(err)) == -1) {
		ctl_failx("%s", err);
		goto done;
	}
	for (i = 0; i < n; i++) {
		ctl_sanitise(v[i].id);
		printf("revoked %s certificate %s of %s (reason %s)\n",
		    v[i].kind, v[i].serial, v[i].id,
		    ca_reason_name(v[i].reason));
	}
	printf("wrote %s/%s: CRL number %llu, %zu revoked, next update %s\n"
	    "reload the broker (SIGHUP) for it to take effect\n", a->ca,
	    CA_CRL_FILE, info.number, info.nrevoked, info.next_update);
	for (i = 0; au != NULL && i < n; i++) {
		char what[64], detail[96];

		snprintf(what, sizeof(what), "revoked %s", v[i].kind);
		snprintf(detail, sizeof(detail), "revocation_reason=%s",
		    ca_reason_name(v[i].reason));
		if (ctl_cert_audit(au, s, v[i].id, v[i].serial, what,
		    detail) != EXIT_SUCCESS) {
			ctl_failx("the revocation stands (the CRL is written) "
			    "but is not in the audit log");
			goto done;
		}
	}
	r = EXIT_SUCCESS;
done:
	free(v);
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_cert_revoke(const struct command *c, int argc, char **argv)
{
	struct cert_revoke_args a;
	int r;

	if ((r = parse_cert_revoke(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_cert_revoke(&a);
}

/* ---- cert list ---- */

struct cert_list_args {
	const char	*ca;
	int		 json;
};

static int
parse_cert_list(const struct command *c, int argc, char **argv,
    struct cert_list_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory",
		  .required = 1 },
		{ CTL_FLAG("json", &a->json),
		  .help = "one JSON object per line instead of a table" },
	};

	memset(a, 0, sizeof(*a));
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

/* Whole days until t, rounded down (negative once t has passed). */
static long long
days_left(time_t t, time_t now)
{
	long long d = (long long)t - (long long)now;

	return d >= 0 ? d / 86400 : -((-d + 86399) / 86400);
}

static int
print_cert_json(const struct ca_cert *x, time_t now)
{
	json_t *o;
	char *line;

	o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:b, s:b, s:s?, s:s?}",
	    "id", x->id, "kind", x->kind, "serial", x->serial,
	    "not_before", x->not_before, "not_after", x->not_after,
	    "days_left", (json_int_t)days_left(x->not_after_t, now),
	    "expired", x->not_after_t <= now, "revoked", x->revoked,
	    "revoked_at", x->revoked ? x->revoked_at : NULL,
	    "reason", x->revoked ? ca_reason_name(x->reason) : NULL);
	if (o == NULL)
		return ctl_failx("certificate %s: a field is not valid UTF-8",
		    x->serial);
	line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(o);
	if (line == NULL)
		return ctl_failx("out of memory");
	puts(line);
	free(line);
	return EXIT_SUCCESS;
}

static void
print_cert_table(struct ca_cert *v, size_t n, time_t now)
{
	int wi = 7, ws = 6;	/* the headers' widths */
	char days[24];
	size_t i;

	for (i = 0; i < n; i++) {
		ctl_sanitise(v[i].id);
		if ((int)strlen(v[i].id) > wi)
			wi = (int)strlen(v[i].id);
		if ((int)strlen(v[i].serial) > ws)
			ws = (int)strlen(v[i].serial);
	}
	printf("%-*s  %-6s  %-*s  %-20s  %-9s  %s\n", wi, "NODE/ID", "KIND",
	    ws, "SERIAL", "NOT-AFTER", "DAYS-LEFT", "REVOKED");
	for (i = 0; i < n; i++) {
		if (v[i].not_after_t <= now)
			snprintf(days, sizeof(days), "expired");
		else
			snprintf(days, sizeof(days), "%lld",
			    days_left(v[i].not_after_t, now));
		printf("%-*s  %-6s  %-*s  %-20s  %-9s  %s\n", wi, v[i].id,
		    v[i].kind, ws, v[i].serial, v[i].not_after, days,
		    v[i].revoked ? "yes" : "no");
	}
}

static int
run_cert_list(const struct cert_list_args *a)
{
	struct ca_cert *v = NULL;
	char err[1024];
	size_t i, n = 0;
	time_t now;
	int r = EXIT_SUCCESS;

	if (ca_list(a->ca, &v, &n, err, sizeof(err)) == -1)
		return ctl_failx("%s", err);
	now = time(NULL);
	if (a->json) {
		for (i = 0; i < n && r == EXIT_SUCCESS; i++)
			r = print_cert_json(&v[i], now);
	} else
		print_cert_table(v, n, now);
	free(v);
	if (r == EXIT_SUCCESS && fflush(stdout) == EOF)
		r = ctl_failx("cannot write the list: %s", strerror(errno));
	return r;
}

int
ctl_cert_list(const struct command *c, int argc, char **argv)
{
	struct cert_list_args a;
	int r;

	if ((r = parse_cert_list(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	return run_cert_list(&a);
}

/* ---- crl ---- */

struct crl_args {
	const char	*ca;
	int		 crl_days;
	const char	*data;		/* finish renewals, or NULL */
	const char	*copy_to;	/* also write the CRL here, or NULL */
};

static int
parse_crl(const struct command *c, int argc, char **argv, struct crl_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory",
		  .required = 1 },
		{ CTL_INT("crl-days", "N", &a->crl_days),
		  .help = "the new CRL's nextUpdate, in days (default 30)",
		  CRL_DAYS_RANGE },
		{ CTL_STRING("data", "DIR", &a->data),
		  .help =
		  "the broker's data directory: first finish the renewals\n"
		  "whose new certificate has connected (as cert renew\n"
		  "--finish), recorded in its audit log" },
		{ CTL_STRING("copy-to", "FILE", &a->copy_to),
		  .help =
		  "also write the CRL to FILE (mode 0644, replaced whole):\n"
		  "the broker's crl path, when the CA directory is not it" },
	};

	memset(a, 0, sizeof(*a));
	a->crl_days = CA_DEFAULT_CRL_DAYS;
	return ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv);
}

/* Copies the CA's crl.pem to path, whole or not at all. */
static int
copy_crl(const char *cadir, const char *path)
{
	char src[4096], err[1024], *buf;
	size_t len;
	int r;

	snprintf(src, sizeof(src), "%s/%s", cadir, CA_CRL_FILE);
	/* a CRL lists every revoked serial: bounded, but not small */
	if ((buf = readfile_all(src, CRL_COPY_MAX, &len, err,
	    sizeof(err))) == NULL)
		return ctl_failx("cannot read %s", err);
	r = atomicfile_write_buf(path, 0644, ATOMICFILE_REPLACE, buf, len, err,
	    sizeof(err)) == ATOMICFILE_OK ? EXIT_SUCCESS :
	    ctl_failx("the CRL is re-signed in %s but not copied: %s", cadir,
	    err);
	free(buf);
	return r;
}

/* With --data: finishes the renewals that can be; *wrote a CRL. */
static int
crl_finish_renewals(const struct crl_args *a, int *wrote)
{
	struct audit *au = NULL;
	struct store *s = NULL;
	int r;

	*wrote = 0;
	if (a->data == NULL)
		return EXIT_SUCCESS;
	if (ctl_cert_audit_open(a->data, &au, &s) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	r = ctl_renew_finish(a->ca, au, s, NULL, a->crl_days, wrote);
	store_close(s);
	audit_close(au);
	return r;
}

int
ctl_crl(const struct command *c, int argc, char **argv)
{
	struct ca_crl_info info;
	struct crl_args a;
	char err[1024];
	int r, wrote;

	if ((r = parse_crl(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	if (crl_finish_renewals(&a, &wrote) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	/* a renewal finished has just written a new CRL: no second one */
	if (!wrote) {
		if (ca_crl_update(a.ca, a.crl_days, &info, err,
		    sizeof(err)) == -1)
			return ctl_failx("%s", err);
		printf("wrote %s/%s: CRL number %llu, %zu revoked, next update "
		    "%s\n", a.ca, CA_CRL_FILE, info.number, info.nrevoked,
		    info.next_update);
	}
	if (a.copy_to != NULL) {
		if (copy_crl(a.ca, a.copy_to) != EXIT_SUCCESS)
			return EXIT_FAILURE;
		printf("copied it to %s\n", a.copy_to);
	}
	printf("reload the broker (batonctl reload) for it to take effect\n");
	return EXIT_SUCCESS;
}
