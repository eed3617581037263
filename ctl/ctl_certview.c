/*
 * ctl_certview.c - what is known of each node's certificates, for
 * "node list" and "cert renew --finish" (ctl_node.h).
 *
 * Two sources. The CA's own files (certs/ca.h) are the whole truth: every
 * certificate issued, its expiry and whether it is revoked. The CA often
 * lives on another host, though, so without it the broker's audit log
 * tells what it can: certificates issued or revoked with --data (a
 * certificate_changed record, with the serial, names the node as the
 * other party), and certificates the broker accepted a connection with
 * (connection_accepted, actor the node). A revocation made without --data
 * is not in the log: the audit view can only say "revoked" when it was
 * recorded.
 *
 * The log is read record by record (audit_walk); only node ids, serials,
 * times and the first words of a certificate record's reason are kept.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "audit.h"
#include "ca.h"
#include "ctl.h"
#include "ctl_node.h"
#include "growarray.h"
#include "store.h"
#include "store.pb-c.h"
#include "validate.h"

#define WALK_NOMEM	2	/* audit_record's stop: out of memory */

const char *
ctl_certview_state_name(enum cert_state st)
{
	switch (st) {
	case CERT_CURRENT:
		return "current";
	case CERT_EXPIRED:
		return "expired";
	case CERT_REVOKED:
		return "revoked";
	}
	return "?";
}

void
ctl_certview_free(struct cert_view *v)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		free(v->nodes[i].v);
	free(v->nodes);
	memset(v, 0, sizeof(*v));
}

const struct node_certs *
ctl_certview_node(const struct cert_view *v, const char *node)
{
	size_t i;

	for (i = 0; i < v->n; i++)
		if (strcmp(v->nodes[i].node, node) == 0)
			return &v->nodes[i];
	return NULL;
}

const struct node_cert *
ctl_certview_cert(const struct node_certs *n, const char *serial)
{
	size_t i;

	for (i = 0; n != NULL && i < n->n; i++)
		if (strcmp(n->v[i].serial, serial) == 0)
			return &n->v[i];
	return NULL;
}

/*
 * node's entry in v, added if new; NULL when out of memory. node is a
 * valid node id (every caller checks), so it fits n->node.
 */
static struct node_certs *
node_entry(struct cert_view *v, const char *node)
{
	struct node_certs *n;
	size_t i, len = strnlen(node, sizeof(n->node) - 1);

	for (i = 0; i < v->n; i++)
		if (strcmp(v->nodes[i].node, node) == 0)
			return &v->nodes[i];
	if ((n = growarray_push(&v->nodes, &v->n, &v->cap, sizeof(*n))) ==
	    NULL)
		return NULL;
	memcpy(n->node, node, len);
	n->node[len] = '\0';
	return n;
}

/* n's certificate with serial, added (current) if new; NULL: no memory. */
static struct node_cert *
cert_entry(struct node_certs *n, const char *serial)
{
	struct node_cert *c;
	size_t i;

	for (i = 0; i < n->n; i++)
		if (strcmp(n->v[i].serial, serial) == 0)
			return &n->v[i];
	if ((c = growarray_push(&n->v, &n->n, &n->cap, sizeof(*c))) == NULL)
		return NULL;
	snprintf(c->serial, sizeof(c->serial), "%s", serial);
	return c;
}

void
ctl_certview_summary(const struct node_certs *n, char *buf, size_t len)
{
	static const enum cert_state order[] = { CERT_CURRENT, CERT_EXPIRED,
	    CERT_REVOKED };
	size_t i, j, count, used = 0;
	int w;

	snprintf(buf, len, "-");
	for (i = 0; n != NULL && i < sizeof(order) / sizeof(order[0]); i++) {
		for (count = 0, j = 0; j < n->n; j++)
			count += n->v[j].state == order[i];
		if (count == 0 || used >= len)
			continue;
		w = snprintf(buf + used, len - used, "%s%zu %s", used > 0 ?
		    ", " : "", count, ctl_certview_state_name(order[i]));
		if (w > 0)
			used += (size_t)w;
	}
}

int
ctl_certview_ca(const char *cadir, struct cert_view *v)
{
	struct ca_cert *certs = NULL;
	struct node_certs *n;
	struct node_cert *c;
	char err[1024];
	size_t i, count = 0;
	time_t now = time(NULL);
	int r = EXIT_FAILURE;

	memset(v, 0, sizeof(*v));
	v->from_ca = 1;
	if (ca_list(cadir, &certs, &count, err, sizeof(err)) == -1)
		return ctl_failx("%s", err);
	for (i = 0; i < count; i++) {
		if (strcmp(certs[i].kind, "node") != 0 ||
		    !validate_node_id(certs[i].id))
			continue;
		if ((n = node_entry(v, certs[i].id)) == NULL ||
		    (c = cert_entry(n, certs[i].serial)) == NULL) {
			ctl_failx("out of memory");
			goto done;
		}
		memcpy(c->not_after, certs[i].not_after, sizeof(c->not_after));
		c->expires_ms = (int64_t)certs[i].not_after_t * 1000;
		if (certs[i].revoked) {
			c->state = CERT_REVOKED;
			memcpy(c->revoked_at, certs[i].revoked_at,
			    sizeof(c->revoked_at));
		} else if (certs[i].not_after_t <= now)
			c->state = CERT_EXPIRED;
	}
	r = EXIT_SUCCESS;
done:
	free(certs);
	return r;
}

/* ms since the epoch as "YYYY-MM-DDTHH:MM:SSZ". */
static void
iso_seconds(int64_t ms, char out[CA_TIME_LEN + 1])
{
	struct tm tm;
	time_t t = (time_t)(ms / 1000);

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(out, CA_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/* A serial as recorded: upper-case hex, as the CA and the broker write it. */
static int
valid_serial(const char *s)
{
	size_t n = strlen(s), i;

	if (n == 0 || n > CA_SERIAL_HEX_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'A' && s[i] <= 'F')))
			return 0;
	return 1;
}

/*
 * One certificate_changed record about a node certificate: "issued node,
 * N days ..." or "revoked node ..." (ctl_cert.c, ctl_renew.c).
 */
static int
cert_record(struct cert_view *v, const Baton__Store__V1__AuditRecord *r)
{
	struct node_certs *n;
	struct node_cert *c;
	int days;

	if ((n = node_entry(v, r->other)) == NULL ||
	    (c = cert_entry(n, r->cert_serial)) == NULL)
		return WALK_NOMEM;
	if (strncmp(r->reason, "revoked node", 12) == 0) {
		c->state = CERT_REVOKED;
		iso_seconds(r->time_ms, c->revoked_at);
	} else if (sscanf(r->reason, "issued node, %d days", &days) == 1 &&
	    days > 0 && days <= CA_MAX_DAYS) {
		/* issued now, valid days from five minutes ago (ca.c) */
		c->expires_ms = r->time_ms + (int64_t)days * 86400000;
		iso_seconds(c->expires_ms, c->not_after);
	}
	return 0;
}

static int
audit_record(void *arg, const Baton__Store__V1__AuditRecord *r)
{
	struct cert_view *v = arg;
	struct node_certs *n;
	struct node_cert *c;

	if (!valid_serial(r->cert_serial))
		return 0;
	if (strcmp(r->event, AUDIT_CERT_CHANGED) == 0 &&
	    validate_node_id(r->other) &&
	    (strncmp(r->reason, "issued node", 11) == 0 ||
	    strncmp(r->reason, "revoked node", 12) == 0))
		return cert_record(v, r);
	if (strcmp(r->event, AUDIT_CONN_ACCEPTED) == 0 &&
	    validate_node_id(r->actor)) {
		if ((n = node_entry(v, r->actor)) == NULL ||
		    (c = cert_entry(n, r->cert_serial)) == NULL)
			return WALK_NOMEM;
		c->seen = 1;
	}
	return 0;
}

int
ctl_certview_audit(struct store *s, struct cert_view *v)
{
	char err[1024];
	int64_t now = (int64_t)time(NULL) * 1000;
	size_t i, j;
	int rc;

	memset(v, 0, sizeof(*v));
	if ((rc = audit_walk(s, audit_record, v, err, sizeof(err))) != 0)
		return rc == WALK_NOMEM ? ctl_failx("out of memory") :
		    ctl_failx("cannot read the audit log: %s", err);
	for (i = 0; i < v->n; i++)
		for (j = 0; j < v->nodes[i].n; j++)
			if (v->nodes[i].v[j].state == CERT_CURRENT &&
			    v->nodes[i].v[j].expires_ms != 0 &&
			    v->nodes[i].v[j].expires_ms <= now)
				v->nodes[i].v[j].state = CERT_EXPIRED;
	return EXIT_SUCCESS;
}
