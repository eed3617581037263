/*
 * ctl_renew.c - "batonctl cert renew": a node's certificate replaced
 * without an outage, and the old one revoked once it is no longer used.
 *
 *   1. cert renew --ca CA --node ID --out DIR [--data DATA] issues the
 *      replacement and records in the CA (renewals.txt, certs/ca.h) which
 *      certificates it replaces; those stay valid meanwhile, so the node
 *      keeps working until its administrator installs the new pair.
 *   2. The node connects with the new certificate; the broker records
 *      connection_accepted with that certificate's serial in its audit
 *      log.
 *   3. cert renew --finish --ca CA --data DATA (or the next "cert renew"
 *      or "crl" given --data) sees that record and revokes the replaced
 *      certificates, reason superseded, in one new CRL, each revocation
 *      recorded in the audit log; "batonctl reload" puts the CRL in force.
 *
 * Finishing needs both the CA and the broker's data directory; with the
 * CA on another host, revoke by serial there instead once the broker's
 * audit log shows the new serial connecting (README, runbook). Nothing is
 * revoked on a guess: a node that never connects with its new
 * certificate keeps the old one until its administrator acts.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "audit.h"
#include "ca.h"
#include "ctl.h"
#include "ctl_cert.h"
#include "ctl_node.h"
#include "ctl_opts.h"
#include "store.h"

struct renew_args {
	const char	*ca;
	const char	*node;
	const char	*out;
	const char	*data;		/* the broker's data directory, or NULL */
	int		 days;
	int		 force;
	int		 finish;
	int		 crl_days;
};

static int
parse_renew(const struct command *c, int argc, char **argv,
    struct renew_args *a)
{
	struct ctl_opt opts[] = {
		{ CTL_STRING("ca", "DIR", &a->ca),
		  .help = "the CA directory",
		  .required = 1 },
		{ CTL_STRING("node", "ID", &a->node),
		  .help = "the node whose certificate is replaced (with\n"
		  "--finish: only its renewals)" },
		{ CTL_STRING("out", "DIR", &a->out),
		  .help = "where to write the new ID.crt and ID.key" },
		{ CTL_INT("days", "N", &a->days),
		  .help = "the new certificate's validity in days (default 365)",
		  .min = 1, .max = CA_MAX_DAYS },
		{ CTL_FLAG("force", &a->force),
		  .help = "replace existing files in --out" },
		{ CTL_STRING("data", "DIR", &a->data),
		  .help =
		  "the broker's data directory: record the new certificate\n"
		  "in its audit log, and first finish the renewals whose new\n"
		  "certificate has connected" },
		{ CTL_FLAG("finish", &a->finish),
		  .help =
		  "issue nothing: revoke (reason superseded) each replaced\n"
		  "certificate whose replacement the broker has accepted a\n"
		  "connection with; needs --data" },
		{ CTL_INT("crl-days", "N", &a->crl_days),
		  .help = "the new CRL's nextUpdate, in days (default 30)",
		  .min = 1, .max = CA_MAX_CRL_DAYS },
		{ CTL_TEXT, .help =
		  "\nSteps: renew; install the new ID.crt and ID.key on the node; "
		  "once it\nhas connected with them, cert renew --finish (or crl "
		  "--data) revokes\nthe old certificate; then batonctl reload. "
		  "Until then the old one\nstays valid, so the node never stops "
		  "working.\n" },
	};
	int r;

	memset(a, 0, sizeof(*a));
	a->days = CA_DEFAULT_LEAF_DAYS;
	a->crl_days = CA_DEFAULT_CRL_DAYS;
	if ((r = ctl_opts_parse(c, opts, CTL_NOPTS(opts), argc, argv)) !=
	    PARSE_RUN)
		return r;
	if ((r = ctl_opts_node_id(c, a->node)) != PARSE_RUN)
		return r;
	if (a->finish) {
		if (a->data == NULL)
			return ctl_usage_error(c, "--finish needs --data DIR, "
			    "where the broker records who connected");
		if (a->out != NULL || a->force || ctl_opts_seen(opts,
		    CTL_NOPTS(opts), "days"))
			return ctl_usage_error(c, "--finish issues nothing: "
			    "--out, --days and --force do not go with it");
		return PARSE_RUN;
	}
	if (a->node == NULL || a->out == NULL)
		return ctl_usage_error(c, "--node ID and --out DIR are required "
		    "(or --finish)");
	return PARSE_RUN;
}

/* ---- finishing ---- */

/*
 * The pending renewals of node (NULL: all) in v whose new serial the
 * broker has seen connect: their old serials into *serials (pointers into
 * v, malloc'd array), *n of them. Prints the ones still waiting.
 */
static int
ready_renewals(const struct ca_renewal *v, size_t nv,
    const struct cert_view *cv, const char *node, const char ***serials,
    size_t *n)
{
	const struct node_cert *c;
	size_t i;

	*n = 0;
	if ((*serials = calloc(nv > 0 ? nv : 1, sizeof(**serials))) == NULL)
		return ctl_failx("out of memory");
	for (i = 0; i < nv; i++) {
		if (v[i].done || (node != NULL && strcmp(v[i].id, node) != 0))
			continue;
		c = ctl_certview_cert(ctl_certview_node(cv, v[i].id),
		    v[i].new_serial);
		if (c != NULL && c->seen) {
			(*serials)[(*n)++] = v[i].old_serial;
			continue;
		}
		printf("waiting: node %s has not connected with certificate %s "
		    "yet (renewed %s); %s stays valid\n", v[i].id,
		    v[i].new_serial, v[i].renewed_at, v[i].old_serial);
	}
	return EXIT_SUCCESS;
}

/* Revokes serials (superseded), prints and records each. */
static int
revoke_replaced(const char *cadir, struct audit *au, struct store *s,
    const char **serials, size_t n, int crl_days, int *wrote)
{
	struct ca_crl_info info;
	struct ca_cert *v = NULL;
	char err[1024];
	size_t i, nv = 0;
	int r = EXIT_FAILURE;

	if (ca_revoke_serials(cadir, serials, n, CRL_REASON_SUPERSEDED,
	    crl_days, &v, &nv, &info, err, sizeof(err)) == -1)
		return ctl_failx("%s", err);
	for (i = 0; i < nv; i++) {
		ctl_sanitise(v[i].id);
		printf("revoked node certificate %s of %s (superseded: the node "
		    "connected with its replacement)\n", v[i].serial, v[i].id);
	}
	if (nv > 0) {
		*wrote = 1;
		printf("wrote %s/%s: CRL number %llu, %zu revoked, next update "
		    "%s\n", cadir, CA_CRL_FILE, info.number, info.nrevoked,
		    info.next_update);
	}
	for (i = 0; i < nv; i++)
		if (ctl_cert_audit(au, s, v[i].id, v[i].serial, "revoked node",
		    "revocation_reason=superseded") != EXIT_SUCCESS) {
			ctl_failx("the revocation stands (the CRL is written) "
			    "but is not in the audit log");
			goto done;
		}
	r = EXIT_SUCCESS;
done:
	free(v);
	return r;
}

int
ctl_renew_finish(const char *cadir, struct audit *au, struct store *s,
    const char *node, int crl_days, int *wrote)
{
	struct ca_renewal *v = NULL;
	struct cert_view cv;
	const char **serials = NULL;
	char err[1024];
	size_t i, nv = 0, n = 0, pending = 0;
	int r = EXIT_FAILURE;

	*wrote = 0;
	memset(&cv, 0, sizeof(cv));
	if (ca_renewals(cadir, &v, &nv, err, sizeof(err)) == -1)
		return ctl_failx("%s", err);
	for (i = 0; i < nv; i++)
		pending += !v[i].done && (node == NULL ||
		    strcmp(v[i].id, node) == 0);
	if (pending == 0) {
		r = EXIT_SUCCESS;
		goto done;
	}
	/* the walk ends its read transaction before anything is written */
	if (ctl_certview_audit(s, &cv) != EXIT_SUCCESS ||
	    ready_renewals(v, nv, &cv, node, &serials, &n) != EXIT_SUCCESS)
		goto done;
	r = n == 0 ? EXIT_SUCCESS : revoke_replaced(cadir, au, s, serials, n,
	    crl_days, wrote);
done:
	free(serials);
	ctl_certview_free(&cv);
	free(v);
	return r;
}

/* ---- renewing ---- */

/* "renews=S1,S2" for the audit record; cut at len. */
static void
renews_detail(const struct ca_cert *old, size_t nold, char *buf, size_t len)
{
	size_t i, used;

	used = (size_t)snprintf(buf, len, "renews=");
	for (i = 0; i < nold && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    i > 0 ? "," : "", old[i].serial);
}

/* Says what was issued and what the administrator does next. */
static void
print_steps(const struct renew_args *a, const char *serial,
    const struct ca_cert *old, size_t nold)
{
	size_t i;

	printf("issued %s/%s.crt and %s/%s.key: certificate %s, valid %d "
	    "days\n", a->out, a->node, a->out, a->node, serial, a->days);
	if (nold == 0) {
		printf("node %s had no other current certificate: nothing "
		    "waits to be revoked\n", a->node);
		return;
	}
	for (i = 0; i < nold; i++)
		printf("replaces %s (valid until %s)\n", old[i].serial,
		    old[i].not_after);
	printf("which stays valid until node %s has connected with the new "
	    "one. Next:\n", a->node);
	printf(	    "  1. install %s.crt and %s.key on the node (over a channel you "
	    "trust)\n     and restart its client\n"
	    "  2. batonctl cert renew --finish --ca %s --data %s\n"
	    "     revokes the old certificate once the broker has seen %s\n"
	    "  3. batonctl reload --data %s\n", a->node, a->node, a->ca,
	    a->data != NULL ? a->data : "DATA", serial,
	    a->data != NULL ? a->data : "DATA");
}

static int
run_renew(const struct renew_args *a, struct audit *au, struct store *s)
{
	struct ca_cert *old = NULL;
	char err[1024], serial[CA_SERIAL_HEX_MAX + 1], what[64], detail[512];
	size_t nold = 0;
	int r = EXIT_FAILURE, wrote;

	if (au != NULL && ctl_renew_finish(a->ca, au, s, NULL, a->crl_days,
	    &wrote) != EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (ca_renew_node(a->ca, a->node, a->out, a->days, a->force, serial,
	    &old, &nold, err, sizeof(err)) == -1)
		return ctl_failx("%s", err);
	print_steps(a, serial, old, nold);
	if (au != NULL) {
		snprintf(what, sizeof(what), "issued node, %d days", a->days);
		renews_detail(old, nold, detail, sizeof(detail));
		if (ctl_cert_audit(au, s, a->node, serial, what, nold > 0 ?
		    detail : NULL) != EXIT_SUCCESS) {
			ctl_failx("the certificate is issued but not in the "
			    "audit log");
			goto done;
		}
	}
	r = EXIT_SUCCESS;
done:
	free(old);
	return r;
}

int
ctl_cert_renew(const struct command *c, int argc, char **argv)
{
	struct renew_args a;
	struct audit *au = NULL;
	struct store *s = NULL;
	int r, wrote;

	if ((r = parse_renew(c, argc, argv, &a)) != PARSE_RUN)
		return ctl_parse_exit(r);
	/* A log that cannot be opened stops us before anything changes. */
	if (a.data != NULL && ctl_cert_audit_open(a.data, &au, &s) !=
	    EXIT_SUCCESS)
		return EXIT_FAILURE;
	if (a.finish) {
		r = ctl_renew_finish(a.ca, au, s, a.node, a.crl_days, &wrote);
		if (r == EXIT_SUCCESS && wrote)
			printf("reload the broker (batonctl reload --data %s) "
			    "for the CRL to take effect\n", a.data);
		else if (r == EXIT_SUCCESS)
			printf("nothing revoked\n");
	} else
		r = run_renew(&a, au, s);
	store_close(s);
	audit_close(au);
	return r;
}
