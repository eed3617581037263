/*
 * registry.c - node registry records on top of the store (see registry.h).
 *
 * A node is a baton.store.v1.Node under its id in STORE_NODES. What is read
 * back is checked like network input: the record's own id must match its
 * key, and field sizes must fit the fixed buffers of struct registry_node.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton.pb-c.h"
#include "pbarena.h"
#include "registry.h"
#include "store.pb-c.h"

int
registry_valid_role(const char *role)
{
	size_t n;
	const char *p;

	if (role == NULL || (n = strlen(role)) == 0 || n > REGISTRY_ROLE_MAX)
		return 0;
	if (!islower((unsigned char)role[0]))
		return 0;
	for (p = role; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    *p != '_' && *p != '-')
			return 0;
	return 1;
}

static int
copy_field(char *dst, size_t dstlen, const char *src)
{
	size_t n = strlen(src);

	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n + 1);
	return 0;
}

static int
node_decode(const char *key, const void *val, size_t vlen,
    struct registry_node *out)
{
	Baton__Store__V1__Node *rec;
	int rc = STORE_CORRUPT;

	rec = baton__store__v1__node__unpack(&pbarena, vlen, val);
	if (rec == NULL)
		return STORE_CORRUPT;
	if (strcmp(rec->node_id, key) != 0 ||
	    copy_field(out->node_id, sizeof(out->node_id), rec->node_id) ||
	    copy_field(out->role, sizeof(out->role), rec->role) ||
	    copy_field(out->organisation, sizeof(out->organisation),
	    rec->organisation))
		goto done;
	out->enabled = rec->enabled;
	out->created_at_ms = rec->created_at_ms;
	out->updated_at_ms = rec->updated_at_ms;
	rc = STORE_OK;
done:
	baton__store__v1__node__free_unpacked(rec, &pbarena);
	return rc;
}

/*
 * Records read in the store's current view (store_view): a handover asks
 * for its sender's, its recipient's and their roles several times in one
 * pass, and only this process's own registry writes, which empty the
 * cache, can change them within one view.
 */
#define CACHED_NODES	8

static struct cached_node {
	const struct store	*s;
	uint64_t		 view;
	struct registry_node	 n;
} cache[CACHED_NODES];
static unsigned cache_next;

static void
cache_forget(void)
{
	memset(cache, 0, sizeof(cache));
}

static int
node_write(struct store *s, const struct registry_node *n, int only_new)
{
	Baton__Store__V1__Node rec = BATON__STORE__V1__NODE__INIT;
	uint8_t *buf;
	size_t len;
	int rc;

	cache_forget();
	rec.node_id = (char *)n->node_id;
	rec.role = (char *)n->role;
	rec.organisation = (char *)n->organisation;
	rec.enabled = n->enabled;
	rec.created_at_ms = n->created_at_ms;
	rec.updated_at_ms = n->updated_at_ms;
	len = baton__store__v1__node__get_packed_size(&rec);
	if ((buf = malloc(len ? len : 1)) == NULL)
		return STORE_ERROR;
	baton__store__v1__node__pack(&rec, buf);
	if (only_new)
		rc = store_put_new(s, STORE_NODES, n->node_id,
		    strlen(n->node_id), buf, len);
	else
		rc = store_put(s, STORE_NODES, n->node_id, strlen(n->node_id),
		    buf, len);
	free(buf);
	return rc;
}

int
registry_get(struct store *s, const char *node_id, struct registry_node *out)
{
	struct cached_node *c;
	const void *val;
	size_t vlen;
	uint64_t view = store_view(s);
	unsigned i;
	int rc;

	if (!validate_node_id(node_id))
		return STORE_NOTFOUND;
	for (i = 0; i < CACHED_NODES; i++) {
		c = &cache[i];
		if (c->s == s && c->view == view &&
		    strcmp(c->n.node_id, node_id) == 0) {
			*out = c->n;
			return STORE_OK;
		}
	}
	rc = store_get(s, STORE_NODES, node_id, strlen(node_id), &val, &vlen);
	if (rc != STORE_OK)
		return rc;
	if ((rc = node_decode(node_id, val, vlen, out)) != STORE_OK)
		return rc;
	c = &cache[cache_next++ % CACHED_NODES];
	c->s = s;
	c->view = view;
	c->n = *out;
	return STORE_OK;
}

int
registry_add(struct store *s, const struct registry_node *n, int64_t now_ms)
{
	struct registry_node rec = *n;

	rec.enabled = 1;
	rec.created_at_ms = now_ms;
	rec.updated_at_ms = now_ms;
	return node_write(s, &rec, 1);
}

int
registry_update(struct store *s, struct registry_node *n, int64_t now_ms)
{
	n->updated_at_ms = now_ms;
	return node_write(s, n, 0);
}

int
registry_remove(struct store *s, const char *node_id)
{
	if (!validate_node_id(node_id))
		return STORE_NOTFOUND;
	cache_forget();
	return store_del(s, STORE_NODES, node_id, strlen(node_id));
}

int
registry_each(struct store *s, int (*fn)(const struct registry_node *, void *),
    void *arg)
{
	struct store_cursor *c;
	const void *k, *v;
	size_t kl, vl;
	int rc, stop = 0;

	if ((rc = store_cursor_open(s, STORE_NODES, &c)) != STORE_OK)
		return rc;
	for (rc = store_cursor_seek(c, NULL, 0, &k, &kl, &v, &vl);
	    rc == STORE_OK || rc == STORE_CORRUPT;
	    rc = store_cursor_next(c, &k, &kl, &v, &vl)) {
		struct registry_node n;
		char key[BATON_NODE_ID_MAX + 1];

		if (rc == STORE_CORRUPT || kl > BATON_NODE_ID_MAX)
			continue;	/* listed by nobody; audit/verify reports it */
		memcpy(key, k, kl);
		key[kl] = '\0';
		if (node_decode(key, v, vl, &n) != STORE_OK)
			continue;
		if ((stop = fn(&n, arg)) != 0)
			break;
	}
	store_cursor_close(c);
	if (stop)
		return stop;
	return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

int
registry_admit(struct store *s, const char *node_id, struct registry_node *out,
    char *text, size_t textlen)
{
	int rc = registry_get(s, node_id, out);

	if (rc == STORE_NOTFOUND) {
		snprintf(text, textlen, "node '%s' is not in the registry; ask the "
		    "Baton administrator to add it (batonctl node add)", node_id);
		return BATON__V1__CODE__CODE_UNKNOWN_NODE;
	}
	if (rc != STORE_OK) {
		snprintf(text, textlen, "registry record for node '%s' cannot be "
		    "read", node_id);
		return BATON__V1__CODE__CODE_INTERNAL;
	}
	if (!out->enabled) {
		snprintf(text, textlen, "node '%s' is disabled; ask the Baton "
		    "administrator", node_id);
		return BATON__V1__CODE__CODE_NODE_DISABLED;
	}
	snprintf(text, textlen, "ok");
	return BATON__V1__CODE__CODE_OK;
}
