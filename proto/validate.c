/*
 * validate.c - identifier and handover checks (see validate.h).
 *
 * Size bounds are generous for clinical free text but stop a sender from
 * using one field to fill the store; the frame bound (max_frame) is the
 * outer limit.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <protobuf-c/protobuf-c.h>

#include "validate.h"

#define TEXT_MAX	8192	/* bytes in one free-text field */
#define REPEATED_MAX	256	/* entries in one repeated field */

int
validate_own_id(const char *id)
{
	size_t n;

	if (id == NULL || (n = strlen(id)) == 0 || n > BATON_OWN_ID_MAX)
		return 0;
	for (; *id; id++)
		if (!isalnum((unsigned char)*id) && strchr("._:-", *id) == NULL)
			return 0;
	return 1;
}

int
validate_reference(const char *s)
{
	char node[BATON_NODE_ID_MAX + 1];
	const char *slash;
	size_t n;

	if (s == NULL || (slash = strchr(s, '/')) == NULL ||
	    (n = (size_t)(slash - s)) > BATON_NODE_ID_MAX)
		return 0;
	memcpy(node, s, n);
	node[n] = '\0';
	return validate_node_id(node) && validate_own_id(slash + 1);
}

int
validate_message_id(const char *id)
{
	return validate_own_id(id) || validate_reference(id);
}

int
validate_qualify(const char *node, const char *id,
    char out[BATON_REFERENCE_MAX + 1])
{
	if (validate_reference(id)) {
		memcpy(out, id, strlen(id) + 1);
		return 0;
	}
	if (!validate_own_id(id) || !validate_node_id(node))
		return -1;
	snprintf(out, BATON_REFERENCE_MAX + 1, "%s/%s", node, id);
	return 0;
}

const char *
validate_own_part(const char *id)
{
	const char *slash = strchr(id, '/');

	return slash != NULL ? slash + 1 : id;
}

int
validate_node_id(const char *id)
{
	size_t n;
	const char *p;

	if (id == NULL || (n = strlen(id)) == 0 || n > BATON_NODE_ID_MAX)
		return 0;
	if (!islower((unsigned char)id[0]) && !isdigit((unsigned char)id[0]))
		return 0;
	for (p = id; *p; p++)
		if (!islower((unsigned char)*p) && !isdigit((unsigned char)*p) &&
		    strchr("._-", *p) == NULL)
			return 0;
	return 1;
}

int
validate_nhs_number(const char *s, char out[BATON_NHS_NUMBER_LEN + 1])
{
	size_t n = 0;
	int sum = 0, check, i;

	if (s == NULL)
		return 0;
	for (; *s; s++) {
		if (*s == ' ' || *s == '-')
			continue;
		if (!isdigit((unsigned char)*s) || n == BATON_NHS_NUMBER_LEN)
			return 0;
		out[n++] = *s;
	}
	out[n] = '\0';
	if (n != BATON_NHS_NUMBER_LEN)
		return 0;
	for (i = 0; i < 9; i++)
		sum += (out[i] - '0') * (10 - i);
	check = 11 - (sum % 11);
	if (check == 11)
		check = 0;
	if (check == 10)
		return 0;
	return check == out[9] - '0';
}

int
validate_date(const char *s)
{
	static const int mdays[] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y, m, d, i;
	int leap;

	if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && !isdigit((unsigned char)s[i]))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	m = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1900 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return 0;
	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2 && d == 29 && !leap)
		return 0;
	return 1;
}

static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

#define FIELD_PATH_MAX	255	/* longest path an error names */

/*
 * Appends ".name" (just "name" at the top) to the path of plen bytes in
 * path[FIELD_PATH_MAX + 1], truncated as snprintf would; returns its new
 * length. Cheaper than an snprintf per field of every submit, and the
 * path is only read when a check fails.
 */
static size_t
path_push(char *path, size_t plen, const char *name)
{
	size_t n = plen;

	if (n > 0 && n < FIELD_PATH_MAX)
		path[n++] = '.';
	while (*name != '\0' && n < FIELD_PATH_MAX)
		path[n++] = *name++;
	path[n] = '\0';
	return n;
}

/*
 * Walks any dataset message generically: bounds every string and repeated
 * field, refuses enum values the schema does not define, and checks that
 * every field whose name says it is a date holds one. path (plen bytes,
 * room for FIELD_PATH_MAX) names m; each field's name is added to it in
 * place, and an error names the field by it.
 */
static int
check_message(const ProtobufCMessage *m, char *path, size_t plen, char *err,
    size_t errlen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	unsigned i;
	size_t j;

	for (i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m + f->offset;
		size_t count = 1, sublen;
		const void *vals = base;
		char *sub = path;
		int is_date;

		sublen = path_push(path, plen, f->name);
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			count = *(const size_t *)((const char *)m + f->quantifier_offset);
			vals = *(void *const *)base;
			if (count > REPEATED_MAX)
				return fail(err, errlen, "%s: more than %d entries",
				    sub, REPEATED_MAX);
		}
		is_date = strstr(f->name, "date") != NULL ||
		    strcmp(f->name, "last_assessed") == 0;
		for (j = 0; j < count; j++) {
			switch (f->type) {
			case PROTOBUF_C_TYPE_STRING: {
				const char *s = ((const char *const *)vals)[j];

				if (s == NULL || *s == '\0')
					break;
				if (strlen(s) > TEXT_MAX)
					return fail(err, errlen, "%s: longer than %d bytes",
					    sub, TEXT_MAX);
				if (is_date && !validate_date(s))
					/* the value is not echoed: it may be a
					 * date of birth, and errors are logged */
					return fail(err, errlen,
					    "%s: not a date (YYYY-MM-DD)", sub);
				break;
			}
			case PROTOBUF_C_TYPE_ENUM: {
				int v = ((const int *)vals)[j];

				if (protobuf_c_enum_descriptor_get_value(f->descriptor, v) == NULL)
					return fail(err, errlen, "%s: value %d is not defined",
					    sub, v);
				break;
			}
			case PROTOBUF_C_TYPE_MESSAGE: {
				const ProtobufCMessage *c =
				    ((const ProtobufCMessage *const *)vals)[j];

				if (c == NULL)
					break;
				if (check_message(c, sub, sublen, err, errlen) != 0)
					return -1;
				sub[sublen] = '\0';	/* the child wrote past it */
				break;
			}
			default:
				break;
			}
		}
	}
	return 0;
}

int
validate_handover(const Baton__V1__Handover *h, char *err, size_t errlen)
{
	char nhs[BATON_NHS_NUMBER_LEN + 1], path[FIELD_PATH_MAX + 1];
	size_t i;

	if (h == NULL)
		return fail(err, errlen, "handover: required");
	if (h->subject == NULL)
		return fail(err, errlen, "subject: required");
	if (!validate_nhs_number(h->subject->nhs_number, nhs))
		return fail(err, errlen,
		    "subject.nhs_number: not a valid NHS number (10 digits, check digit)");
	if (h->subject->family_name == NULL || *h->subject->family_name == '\0')
		return fail(err, errlen, "subject.family_name: required");
	if (h->risk_summary == NULL)
		return fail(err, errlen, "risk_summary: required");
	if (h->risk_summary->level == BATON__V1__RISK_LEVEL__RISK_LEVEL_UNSPECIFIED)
		return fail(err, errlen, "risk_summary.level: required");
	if (h->transition == NULL)
		return fail(err, errlen, "transition: required");
	if (h->transition->kind ==
	    BATON__V1__TRANSITION_KIND__TRANSITION_KIND_UNSPECIFIED)
		return fail(err, errlen, "transition.kind: required");
	if (h->safeguarding != NULL && h->safeguarding->status ==
	    BATON__V1__SAFEGUARDING_STATUS__SAFEGUARDING_STATUS_UNSPECIFIED)
		return fail(err, errlen, "safeguarding.status: required when safeguarding is given");
	if (h->contacts != NULL)
		for (i = 0; i < h->contacts->n_people; i++)
			if (h->contacts->people[i]->name == NULL ||
			    *h->contacts->people[i]->name == '\0')
				return fail(err, errlen, "contacts.people[%zu].name: required", i);
	path[0] = '\0';
	return check_message(&h->base, path, 0, err, errlen);
}
