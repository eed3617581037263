/*
 * jsonl.c - one line of `baton send --jsonl` input (see jsonl.h).
 *
 * Owns only the line's shape (bare handover or envelope); the handover's
 * JSON mapping is json.c's and its content checks are validate.c's.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "json.h"
#include "jsonl.h"
#include "validate.h"

static int
blank(const char *s, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return 0;
	return 1;
}

/* Copies the envelope's string field k into dst; -1 with err if bad. */
static int
envelope_str(json_t *o, const char *k, int (*ok)(const char *), char *dst,
    size_t dlen, const char *what, char *err, size_t errlen)
{
	json_t *v = json_object_get(o, k);

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !ok(json_string_value(v)) ||
	    strlen(json_string_value(v)) >= dlen) {
		snprintf(err, errlen, "$.%s: not %s", k, what);
		return -1;
	}
	snprintf(dst, dlen, "%s", json_string_value(v));
	return 0;
}

int
baton_jsonl_parse(const char *line, size_t len, struct jsonl_item *out,
    char *err, size_t errlen)
{
	json_error_t jerr;
	json_t *j, *h, *v;
	const char *k, *path = "$";
	char *near;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (blank(line, len))
		return 1;
	if (len > BATON_JSON_MAX_DOC) {
		snprintf(err, errlen, "$: line longer than %u bytes",
		    BATON_JSON_MAX_DOC);
		return -1;
	}
	if ((j = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr)) ==
	    NULL) {
		/* jansson quotes the offending token; it may be patient data */
		if ((near = strstr(jerr.text, " near ")) != NULL)
			*near = '\0';
		snprintf(err, errlen, "$: invalid JSON at column %d: %s",
		    jerr.column, jerr.text);
		return -1;
	}
	h = json_is_object(j) ? json_object_get(j, "handover") : NULL;
	if (h == NULL)
		h = j;		/* a bare handover */
	else {
		path = "$.handover";
		json_object_foreach(j, k, v) {
			if (strcmp(k, "handover") != 0 && strcmp(k, "to") != 0 &&
			    strcmp(k, "message_id") != 0) {
				snprintf(err, errlen, "$: unknown envelope key "
				    "(the envelope takes to, message_id and "
				    "handover)");
				goto done;
			}
		}
		if (envelope_str(j, "to", validate_node_id, out->to,
		    sizeof(out->to), "a node id", err, errlen) == -1 ||
		    envelope_str(j, "message_id", validate_own_id,
		    out->message_id, sizeof(out->message_id),
		    "a message id ([A-Za-z0-9._:-]{1,128})", err, errlen) == -1)
			goto done;
	}
	out->handover = (Baton__V1__Handover *)baton_json_to_message(h,
	    &baton__v1__handover__descriptor, path, err, errlen);
	if (out->handover != NULL)
		rc = 0;
done:
	json_decref(j);
	if (rc != 0)
		baton_jsonl_clear(out);
	return rc;
}

void
baton_jsonl_clear(struct jsonl_item *it)
{
	if (it->handover != NULL)
		protobuf_c_message_free_unpacked(&it->handover->base, NULL);
	memset(it, 0, sizeof(*it));
}
