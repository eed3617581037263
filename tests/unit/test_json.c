/*
 * test_json.c - the protobuf <-> JSON mapping (client/json.c).
 *
 * Checks round trips through the real schema (Handover, Envelope, Frame's
 * oneof), every class of refusal with its JSON path, the nesting and size
 * bounds, and the example handover shipped in deploy/examples. Types the
 * Baton schema does not use (bytes, float, double, sint64, fixed32, proto3
 * `optional`) are exercised through a small descriptor written here, since
 * the mapping must work from any descriptor.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "json.h"
#include "validate.h"
#include "baton.pb-c.h"

#ifndef BATON_SRC_DIR
#error "BATON_SRC_DIR must name the source tree"
#endif

/* ------------------------------------------------------------------ */
/* helpers                                                             */

static ProtobufCMessage *
parse(const char *s, const ProtobufCMessageDescriptor *d, char *err,
    size_t errlen)
{
	return baton_json_parse(s, strlen(s), d, err, errlen);
}

/* Parses s, which must be refused with exactly the error want. */
static void
expect_error(const char *s, const ProtobufCMessageDescriptor *d,
    const char *want)
{
	ProtobufCMessage *m;
	char err[512] = "";

	m = parse(s, d, err, sizeof(err));
	if (m != NULL) {
		protobuf_c_message_free_unpacked(m, NULL);
		fail_msg("accepted: %s", s);
	}
	if (strcmp(err, want) != 0)
		fail_msg("input %s\n  got  \"%s\"\n  want \"%s\"", s, err, want);
}

/* Parses s, which must be accepted; formats the result and returns it. */
static char *
reformat(const char *s, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m;
	char err[512] = "";
	char *out;

	m = parse(s, d, err, sizeof(err));
	if (m == NULL)
		fail_msg("refused %s: %s", s, err);
	out = baton_json_format(m);
	assert_non_null(out);
	protobuf_c_message_free_unpacked(m, NULL);
	return out;
}

static void
expect_format(const char *s, const ProtobufCMessageDescriptor *d,
    const char *want)
{
	char *out = reformat(s, d);

	if (strcmp(out, want) != 0)
		fail_msg("input %s\n  got  %s\n  want %s", s, out, want);
	free(out);
}

/* Packs m into a new buffer (*len bytes). */
static uint8_t *
pack(const ProtobufCMessage *m, size_t *len)
{
	uint8_t *buf;

	*len = protobuf_c_message_get_packed_size(m);
	buf = malloc(*len + 1);
	assert_non_null(buf);
	assert_int_equal(protobuf_c_message_pack(m, buf), *len);
	return buf;
}

/*
 * JSON round trip of m: format, parse back, and the packed bytes of both
 * messages must match; so must a second formatting.
 */
static void
assert_round_trip(const ProtobufCMessage *m)
{
	ProtobufCMessage *back;
	uint8_t *a, *b;
	size_t alen, blen;
	char err[512] = "";
	char *j1, *j2;

	j1 = baton_json_format(m);
	assert_non_null(j1);
	back = baton_json_parse(j1, strlen(j1), m->descriptor, err, sizeof(err));
	if (back == NULL)
		fail_msg("own output refused: %s\n%s", err, j1);
	a = pack(m, &alen);
	b = pack(back, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	j2 = baton_json_format(back);
	assert_non_null(j2);
	assert_string_equal(j1, j2);
	free(a);
	free(b);
	free(j1);
	free(j2);
	protobuf_c_message_free_unpacked(back, NULL);
}

/* ------------------------------------------------------------------ */
/* a test-only message using the types Baton's schema does not         */

struct probe {
	ProtobufCMessage	 base;
	protobuf_c_boolean	 has_opt_i32;
	int32_t			 opt_i32;	/* 1: optional int32 */
	ProtobufCBinaryData	 blob;		/* 2: bytes */
	size_t			 n_blobs;
	ProtobufCBinaryData	*blobs;		/* 3: repeated bytes */
	float			 f;		/* 4: float */
	double			 d;		/* 5: double */
	int64_t			 s64;		/* 6: sint64 */
	uint32_t		 fx32;		/* 7: fixed32 */
	size_t			 n_nums;
	int32_t			*nums;		/* 8: repeated sint32 */
	protobuf_c_boolean	 flag;		/* 9: bool */
};

static void probe_init(struct probe *);

static const ProtobufCFieldDescriptor probe_fields[] = {
	{ "opt_i32", 1, PROTOBUF_C_LABEL_OPTIONAL, PROTOBUF_C_TYPE_INT32,
	  offsetof(struct probe, has_opt_i32), offsetof(struct probe, opt_i32),
	  NULL, NULL, 0, 0, NULL, NULL },
	{ "blob", 2, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BYTES,
	  0, offsetof(struct probe, blob), NULL, NULL, 0, 0, NULL, NULL },
	{ "blobs", 3, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_BYTES,
	  offsetof(struct probe, n_blobs), offsetof(struct probe, blobs),
	  NULL, NULL, 0, 0, NULL, NULL },
	{ "f", 4, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FLOAT,
	  0, offsetof(struct probe, f), NULL, NULL, 0, 0, NULL, NULL },
	{ "d", 5, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_DOUBLE,
	  0, offsetof(struct probe, d), NULL, NULL, 0, 0, NULL, NULL },
	{ "s64", 6, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_SINT64,
	  0, offsetof(struct probe, s64), NULL, NULL, 0, 0, NULL, NULL },
	{ "fx32", 7, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_FIXED32,
	  0, offsetof(struct probe, fx32), NULL, NULL, 0, 0, NULL, NULL },
	{ "nums", 8, PROTOBUF_C_LABEL_REPEATED, PROTOBUF_C_TYPE_SINT32,
	  offsetof(struct probe, n_nums), offsetof(struct probe, nums),
	  NULL, NULL, PROTOBUF_C_FIELD_FLAG_PACKED, 0, NULL, NULL },
	{ "flag", 9, PROTOBUF_C_LABEL_NONE, PROTOBUF_C_TYPE_BOOL,
	  0, offsetof(struct probe, flag), NULL, NULL, 0, 0, NULL, NULL },
};
/* indices of probe_fields in name order */
static const unsigned probe_by_name[] = { 1, 2, 4, 3, 8, 6, 7, 0, 5 };
static const ProtobufCIntRange probe_ranges[] = { { 1, 0 }, { 0, 9 } };

static const ProtobufCMessageDescriptor probe_descriptor = {
	PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC, "test.Probe", "Probe", "Probe",
	"test", sizeof(struct probe), 9, probe_fields, probe_by_name,
	1, probe_ranges, (ProtobufCMessageInit)probe_init, NULL, NULL, NULL
};

static void
probe_init(struct probe *p)
{
	static const struct probe init = { PROTOBUF_C_MESSAGE_INIT(&probe_descriptor),
	    0, 0, { 0, NULL }, 0, NULL, 0, 0, 0, 0, 0, NULL, 0 };

	*p = init;
}

/* ------------------------------------------------------------------ */
/* round trips                                                         */

static void
test_handover_round_trip(void **state)
{
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__Subject subj = BATON__V1__SUBJECT__INIT;
	Baton__V1__Address addr = BATON__V1__ADDRESS__INIT;
	Baton__V1__RiskSummary risk = BATON__V1__RISK_SUMMARY__INIT;
	Baton__V1__Safeguarding sg = BATON__V1__SAFEGUARDING__INIT;
	Baton__V1__CrisisPlan cp = BATON__V1__CRISIS_PLAN__INIT;
	Baton__V1__Contacts contacts = BATON__V1__CONTACTS__INIT;
	Baton__V1__Contact c1 = BATON__V1__CONTACT__INIT;
	Baton__V1__Contact c2 = BATON__V1__CONTACT__INIT;
	Baton__V1__Contact *people[] = { &c1, &c2 };
	Baton__V1__SupportPlan sp = BATON__V1__SUPPORT_PLAN__INIT;
	Baton__V1__MedicationAndPhysicalHealth mph =
	    BATON__V1__MEDICATION_AND_PHYSICAL_HEALTH__INIT;
	Baton__V1__Medication med = BATON__V1__MEDICATION__INIT;
	Baton__V1__Medication *meds[] = { &med };
	Baton__V1__Transition tr = BATON__V1__TRANSITION__INIT;
	char *lines[] = { "1 Example Road", "Testville" };
	char *risks[] = { "risk one", "risk \"two\" with quotes\nand a newline" };
	char *triggers[] = { "trigger" };
	char *prot[] = { "sister", "dog" };
	char *relapse[] = { "withdrawal" };
	char *concerns[] = { "concern" };
	char *refs[] = { "REF-1", "REF-2" };
	char *ews[] = { "sleep loss" };
	char *resp[] = { "phone duty" };
	char *goals[] = { "goal" };
	char *inter[] = { "intervention" };
	char *reviews[] = { "2025-03-12", "2025-03-19" };
	char *allergies[] = { "penicillin" };
	char *conds[] = { "asthma", "caf\xc3\xa9 \xe2\x82\xac" };
	char err[256];

	subj.nhs_number = "9994715305";
	subj.given_name = "Test";
	subj.family_name = "Person";
	subj.preferred_name = "T";
	subj.date_of_birth = "1990-01-31";
	subj.address = &addr;
	addr.n_lines = 2;
	addr.lines = lines;
	addr.postcode = "ZZ1 1ZZ";
	risk.level = BATON__V1__RISK_LEVEL__RISK_LEVEL_MEDIUM;
	risk.n_current_risks = 2;
	risk.current_risks = risks;
	risk.n_triggers = 1;
	risk.triggers = triggers;
	risk.n_protective_factors = 2;
	risk.protective_factors = prot;
	risk.n_relapse_indicators = 1;
	risk.relapse_indicators = relapse;
	risk.last_assessed = "2025-03-03";
	risk.assessed_by = "assessor";
	sg.status = BATON__V1__SAFEGUARDING_STATUS__SAFEGUARDING_STATUS_ENQUIRY_OPEN;
	sg.n_concerns = 1;
	sg.concerns = concerns;
	sg.lead = "lead";
	sg.n_references = 2;
	sg.references = refs;
	cp.n_early_warning_signs = 1;
	cp.early_warning_signs = ews;
	cp.n_agreed_responses = 1;
	cp.agreed_responses = resp;
	cp.out_of_hours_route = "crisis line";
	cp.when_to_call_999 = "immediate risk";
	c1.name = "A";
	c1.role = "key worker";
	c1.organisation = "provider";
	c1.phone = "0113 496 0000";
	c1.availability = "weekdays";
	c2.name = "B";
	contacts.n_people = 2;
	contacts.people = people;
	sp.n_goals = 1;
	sp.goals = goals;
	sp.n_interventions = 1;
	sp.interventions = inter;
	sp.n_review_dates = 2;
	sp.review_dates = reviews;
	sp.contact_pattern = "48-hour check-in, then weekly reviews for four weeks";
	sp.planned_step_down_date = "2025-04-07";
	med.name = "Sertraline";
	med.dose = "100 mg";
	med.frequency = "daily";
	med.route = "oral";
	med.notes = "n";
	mph.n_medications = 1;
	mph.medications = meds;
	mph.n_allergies = 1;
	mph.allergies = allergies;
	mph.n_physical_health_conditions = 2;
	mph.physical_health_conditions = conds;
	mph.monitoring = "annual";
	mph.notes = "notes";
	tr.kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	tr.reason = "reason";
	tr.planned_date = "2025-03-05";
	tr.from_service = "provider";
	tr.to_service = "cmht";
	h.subject = &subj;
	h.risk_summary = &risk;
	h.safeguarding = &sg;
	h.crisis_plan = &cp;
	h.contacts = &contacts;
	h.support_plan = &sp;
	h.medication_and_physical_health = &mph;
	h.transition = &tr;

	assert_int_equal(validate_handover(&h, err, sizeof(err)), 0);
	assert_round_trip(&h.base);
}

static void
test_envelope_round_trip(void **state)
{
	Baton__V1__Envelope e = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__Transition tr = BATON__V1__TRANSITION__INIT;
	char *j;

	tr.kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_STEP_DOWN;
	h.transition = &tr;
	e.message_id = "msg-0001";
	e.from = "provider";
	e.to = "cmht";
	e.created_at_ms = INT64_C(1741170000123);
	e.handover = &h;
	assert_round_trip(&e.base);

	/* field order is the schema's, 64-bit integers are strings */
	j = baton_json_format(&e.base);
	assert_string_equal(j, "{\"message_id\":\"msg-0001\",\"from\":\"provider\","
	    "\"to\":\"cmht\",\"created_at_ms\":\"1741170000123\",\"handover\":"
	    "{\"transition\":{\"kind\":\"TRANSITION_KIND_STEP_DOWN\"}}}");
	free(j);

	e.created_at_ms = INT64_MIN;
	assert_round_trip(&e.base);
	e.created_at_ms = INT64_MAX;
	assert_round_trip(&e.base);
}

static void
test_output_omits_defaults(void **state)
{
	/* zero, empty string, empty array all omitted; a present empty message is kept */
	expect_format("{\"message_id\":\"\",\"created_at_ms\":0,\"to\":null,"
	    "\"handover\":{\"subject\":{\"address\":{\"lines\":[]}}}}",
	    &baton__v1__envelope__descriptor,
	    "{\"handover\":{\"subject\":{\"address\":{}}}}");
	expect_format("{}", &baton__v1__envelope__descriptor, "{}");
	/* keys come out in schema order whatever the input order */
	expect_format("{\"to\":\"cmht\",\"message_id\":\"m\"}",
	    &baton__v1__envelope__descriptor,
	    "{\"message_id\":\"m\",\"to\":\"cmht\"}");
}

/* ------------------------------------------------------------------ */
/* scalar mappings                                                     */

static void
test_enum_by_name_and_number(void **state)
{
	Baton__V1__Handover *h;
	char err[256];

	h = (Baton__V1__Handover *)parse(
	    "{\"risk_summary\":{\"level\":\"RISK_LEVEL_HIGH\"},"
	    "\"transition\":{\"kind\":4}}", &baton__v1__handover__descriptor,
	    err, sizeof(err));
	assert_non_null(h);
	assert_int_equal(h->risk_summary->level,
	    BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH);
	assert_int_equal(h->transition->kind,
	    BATON__V1__TRANSITION_KIND__TRANSITION_KIND_STEP_UP);
	protobuf_c_message_free_unpacked(&h->base, NULL);

	/* written by name whichever way it came in */
	expect_format("{\"transition\":{\"kind\":1}}",
	    &baton__v1__handover__descriptor,
	    "{\"transition\":{\"kind\":\"TRANSITION_KIND_REFERRAL\"}}");
	expect_format("{\"risk_summary\":{\"level\":\"RISK_LEVEL_UNSPECIFIED\"}}",
	    &baton__v1__handover__descriptor, "{\"risk_summary\":{}}");
}

static void
test_int64_string_and_number(void **state)
{
	const char *forms[] = {
		"{\"created_at_ms\":\"1741170000123\"}",
		"{\"created_at_ms\":1741170000123}",
		"{\"created_at_ms\":1741170000123.0}",
		"{\"createdAtMs\":\"1741170000123\"}",
	};
	Baton__V1__Envelope *e;
	Baton__V1__Ping *p;
	char err[256];
	size_t i;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		e = (Baton__V1__Envelope *)parse(forms[i],
		    &baton__v1__envelope__descriptor, err, sizeof(err));
		if (e == NULL)
			fail_msg("%s: %s", forms[i], err);
		assert_true(e->created_at_ms == INT64_C(1741170000123));
		protobuf_c_message_free_unpacked(&e->base, NULL);
	}
	expect_format("{\"created_at_ms\":-5}", &baton__v1__envelope__descriptor,
	    "{\"created_at_ms\":\"-5\"}");
	expect_format("{\"created_at_ms\":\"-9223372036854775808\"}",
	    &baton__v1__envelope__descriptor,
	    "{\"created_at_ms\":\"-9223372036854775808\"}");

	/* uint64 beyond int64 must come as a string */
	p = (Baton__V1__Ping *)parse("{\"nonce\":\"18446744073709551615\"}",
	    &baton__v1__ping__descriptor, err, sizeof(err));
	assert_non_null(p);
	assert_true(p->nonce == UINT64_MAX);
	protobuf_c_message_free_unpacked(&p->base, NULL);
	expect_format("{\"nonce\":\"18446744073709551615\"}",
	    &baton__v1__ping__descriptor, "{\"nonce\":\"18446744073709551615\"}");

	/* 32-bit integers come out as numbers; strings are accepted */
	expect_format("{\"pull\":{\"credit\":\"4294967295\"}}",
	    &baton__v1__frame__descriptor, "{\"pull\":{\"credit\":4294967295}}");
	expect_format("{\"pull\":{\"credit\":1e2}}",
	    &baton__v1__frame__descriptor, "{\"pull\":{\"credit\":100}}");
}

static void
test_bytes_and_other_types(void **state)
{
	struct probe *p;
	char err[256];
	char *j;

	p = (struct probe *)parse("{\"blob\":\"AAEC/w==\",\"blobs\":[\"aGk\","
	    "\"\",\"-_8=\"],\"opt_i32\":0,\"f\":1.5,\"d\":\"-Infinity\","
	    "\"s64\":\"-7\",\"fx32\":7,\"nums\":[-1,2,\"-3\"],\"flag\":true}",
	    &probe_descriptor, err, sizeof(err));
	if (p == NULL)
		fail_msg("%s", err);
	assert_int_equal(p->blob.len, 4);
	assert_memory_equal(p->blob.data, "\x00\x01\x02\xff", 4);
	assert_int_equal(p->n_blobs, 3);
	assert_int_equal(p->blobs[0].len, 2);
	assert_memory_equal(p->blobs[0].data, "hi", 2);
	assert_int_equal(p->blobs[1].len, 0);
	assert_int_equal(p->blobs[2].len, 2);
	assert_memory_equal(p->blobs[2].data, "\xfb\xff", 2);
	/* explicit presence: a zero that was given is kept */
	assert_true(p->has_opt_i32);
	assert_int_equal(p->opt_i32, 0);
	assert_true(p->f == 1.5f);
	assert_true(p->d < -1e308 && p->d * 0 != 0);
	assert_true(p->s64 == -7);
	assert_int_equal(p->fx32, 7);
	assert_int_equal(p->n_nums, 3);
	assert_int_equal(p->nums[2], -3);
	assert_true(p->flag);

	j = baton_json_format(&p->base);
	assert_string_equal(j, "{\"opt_i32\":0,\"blob\":\"AAEC/w==\","
	    "\"blobs\":[\"aGk=\",\"\",\"+/8=\"],\"f\":1.5,\"d\":\"-Infinity\","
	    "\"s64\":\"-7\",\"fx32\":7,\"nums\":[-1,2,-3],\"flag\":true}");
	free(j);
	assert_round_trip(&p->base);
	protobuf_c_message_free_unpacked(&p->base, NULL);

	/* absent optional stays absent; NaN survives */
	expect_format("{\"d\":\"NaN\"}", &probe_descriptor, "{\"d\":\"NaN\"}");
	expect_format("{\"blob\":\"\"}", &probe_descriptor, "{}");

	/* padding is optional on input, always written */
	expect_format("{\"blob\":\"AAE\"}", &probe_descriptor,
	    "{\"blob\":\"AAE=\"}");
}

static void
test_base64_refusals(void **state)
{
	expect_error("{\"blob\":\"A\"}", &probe_descriptor, "$.blob: invalid base64");
	expect_error("{\"blob\":\"AA=\"}", &probe_descriptor, "$.blob: invalid base64");
	expect_error("{\"blob\":\"AA*A\"}", &probe_descriptor, "$.blob: invalid base64");
	expect_error("{\"blob\":\"AAA===\"}", &probe_descriptor, "$.blob: invalid base64");
	expect_error("{\"blobs\":[\"AAAA\",3]}", &probe_descriptor,
	    "$.blobs[1]: expected a base64 string, got number");
	expect_error("{\"f\":1e39}", &probe_descriptor,
	    "$.f: number out of range for float");
	expect_error("{\"d\":\"1.5x\"}", &probe_descriptor,
	    "$.d: expected a number, got a non-numeric string");
	expect_error("{\"flag\":1}", &probe_descriptor,
	    "$.flag: expected a boolean, got number");
	expect_error("{\"fx32\":-1}", &probe_descriptor,
	    "$.fx32: integer out of range for uint32");
	expect_error("{\"nums\":[1,2147483648]}", &probe_descriptor,
	    "$.nums[1]: integer out of range for int32");
}

/* ------------------------------------------------------------------ */
/* oneof, null, camelCase                                              */

static void
test_oneof(void **state)
{
	Baton__V1__Frame *f;
	char err[256];

	f = (Baton__V1__Frame *)parse("{\"ack\":{\"message_id\":\"x\"}}",
	    &baton__v1__frame__descriptor, err, sizeof(err));
	if (f == NULL)
		fail_msg("%s", err);
	assert_int_equal(f->body_case, BATON__V1__FRAME__BODY_ACK);
	assert_string_equal(f->ack->message_id, "x");
	assert_round_trip(&f->base);
	protobuf_c_message_free_unpacked(&f->base, NULL);

	expect_format("{\"ack\":{\"message_id\":\"x\"}}",
	    &baton__v1__frame__descriptor, "{\"ack\":{\"message_id\":\"x\"}}");
	/* an empty member is still the chosen one */
	expect_format("{\"ping\":{}}", &baton__v1__frame__descriptor,
	    "{\"ping\":{}}");
	/* null members do not count */
	expect_format("{\"hello\":null,\"ping\":{\"nonce\":1}}",
	    &baton__v1__frame__descriptor, "{\"ping\":{\"nonce\":\"1\"}}");
	expect_error("{\"ack\":{\"message_id\":\"x\"},\"ping\":{}}",
	    &baton__v1__frame__descriptor,
	    "$.ping: only one of a oneof may be set, \"ack\" is set already");
	expect_error("{\"ackResult\":{},\"error\":{\"code\":\"CODE_INTERNAL\"}}",
	    &baton__v1__frame__descriptor,
	    "$.error: only one of a oneof may be set, \"ack_result\" is set already");
}

static void
test_null_is_unset(void **state)
{
	Baton__V1__Handover *h;
	char err[256];

	h = (Baton__V1__Handover *)parse("{\"subject\":null,\"risk_summary\":"
	    "{\"level\":null,\"triggers\":null,\"assessed_by\":null}}",
	    &baton__v1__handover__descriptor, err, sizeof(err));
	if (h == NULL)
		fail_msg("%s", err);
	assert_null(h->subject);
	assert_non_null(h->risk_summary);
	assert_int_equal(h->risk_summary->level, 0);
	assert_int_equal(h->risk_summary->n_triggers, 0);
	/* an unset string keeps the descriptor's default */
	assert_ptr_equal(h->risk_summary->assessed_by, protobuf_c_empty_string);
	protobuf_c_message_free_unpacked(&h->base, NULL);
}

static void
test_camel_case(void **state)
{
	Baton__V1__Handover *h;
	char err[256];
	char *j;

	h = (Baton__V1__Handover *)parse("{\"riskSummary\":{\"lastAssessed\":"
	    "\"2025-01-01\",\"currentRisks\":[\"a\"]},\"crisisPlan\":"
	    "{\"whenToCall999\":\"x\"},\"medicationAndPhysicalHealth\":"
	    "{\"physicalHealthConditions\":[\"y\"]}}",
	    &baton__v1__handover__descriptor, err, sizeof(err));
	if (h == NULL)
		fail_msg("%s", err);
	assert_string_equal(h->risk_summary->last_assessed, "2025-01-01");
	assert_int_equal(h->risk_summary->n_current_risks, 1);
	assert_string_equal(h->crisis_plan->when_to_call_999, "x");
	j = baton_json_format(&h->base);
	assert_string_equal(j, "{\"risk_summary\":{\"current_risks\":[\"a\"],"
	    "\"last_assessed\":\"2025-01-01\"},\"crisis_plan\":"
	    "{\"when_to_call_999\":\"x\"},\"medication_and_physical_health\":"
	    "{\"physical_health_conditions\":[\"y\"]}}");
	free(j);
	protobuf_c_message_free_unpacked(&h->base, NULL);

	/* the two spellings name one field */
	expect_error("{\"message_id\":\"a\",\"messageId\":\"b\"}",
	    &baton__v1__envelope__descriptor,
	    "$.messageId: field \"message_id\" given twice");
	/* near misses are not camelCase */
	expect_error("{\"MessageId\":\"a\"}", &baton__v1__envelope__descriptor,
	    "$.MessageId: unknown field");
	expect_error("{\"message_Id\":\"a\"}", &baton__v1__envelope__descriptor,
	    "$.message_Id: unknown field");
	expect_error("{\"messageid\":\"a\"}", &baton__v1__envelope__descriptor,
	    "$.messageid: unknown field");
}

/* ------------------------------------------------------------------ */
/* refusals, each with its path                                        */

static void
test_errors_with_paths(void **state)
{
	const ProtobufCMessageDescriptor *hd = &baton__v1__handover__descriptor;
	const ProtobufCMessageDescriptor *fd = &baton__v1__frame__descriptor;

	expect_error("{\"contacts\":{\"people\":[{\"name\":\"a\"},{\"name\":\"b\"},"
	    "{\"name\":\"c\",\"phone\":5}]}}", hd,
	    "$.contacts.people[2].phone: expected a string, got number");
	expect_error("{\"subject\":{\"nhs\":\"1\"}}", hd,
	    "$.subject.nhs: unknown field");
	expect_error("{\"risk_summary\":{\"level\":\"SEVERE\"}}", hd,
	    "$.risk_summary.level: unknown enum value \"SEVERE\"");
	expect_error("{\"risk_summary\":{\"level\":\"risk_level_high\"}}", hd,
	    "$.risk_summary.level: unknown enum value \"risk_level_high\"");
	expect_error("{\"risk_summary\":{\"level\":9}}", hd,
	    "$.risk_summary.level: unknown enum value 9");
	expect_error("{\"risk_summary\":{\"level\":1.0}}", hd,
	    "$.risk_summary.level: expected an enum name or number, got number");
	expect_error("{\"risk_summary\":{\"level\":true}}", hd,
	    "$.risk_summary.level: expected an enum name or number, got boolean");
	expect_error("{\"subject\":[]}", hd,
	    "$.subject: expected an object, got array");
	expect_error("{\"subject\":{\"address\":{\"lines\":\"1 Road\"}}}", hd,
	    "$.subject.address.lines: expected an array, got string");
	expect_error("{\"subject\":{\"address\":{\"lines\":[\"a\",null]}}}", hd,
	    "$.subject.address.lines[1]: null is not allowed in an array");
	expect_error("{\"subject\":{\"nhs_number\":9994715305}}", hd,
	    "$.subject.nhs_number: expected a string, got number");
	expect_error("[]", hd, "$: expected an object, got array");

	/* integers */
	expect_error("{\"pull\":{\"credit\":1.5}}", fd,
	    "$.pull.credit: expected an integer, got a fractional number");
	expect_error("{\"pull\":{\"credit\":4294967296}}", fd,
	    "$.pull.credit: integer out of range for uint32");
	expect_error("{\"pull\":{\"credit\":-1}}", fd,
	    "$.pull.credit: integer out of range for uint32");
	expect_error("{\"pull\":{\"credit\":\"12a\"}}", fd,
	    "$.pull.credit: expected an integer, got a non-numeric string");
	expect_error("{\"pull\":{\"credit\":\" 12\"}}", fd,
	    "$.pull.credit: expected an integer, got a non-numeric string");
	expect_error("{\"pull\":{\"credit\":true}}", fd,
	    "$.pull.credit: expected an integer, got boolean");
	expect_error("{\"ping\":{\"nonce\":\"-1\"}}", fd,
	    "$.ping.nonce: integer out of range for uint64");
	expect_error("{\"ping\":{\"nonce\":\"18446744073709551616\"}}", fd,
	    "$.ping.nonce: integer out of range for uint64");
	expect_error("{\"submit\":{\"envelope\":{\"created_at_ms\":"
	    "\"9223372036854775808\"}}}", fd,
	    "$.submit.envelope.created_at_ms: integer out of range for int64");
	expect_error("{\"submit\":{\"envelope\":{\"created_at_ms\":1e19}}}", fd,
	    "$.submit.envelope.created_at_ms: integer out of range for int64");
	expect_error("{\"receipt\":{\"duplicate\":\"yes\"}}", fd,
	    "$.receipt.duplicate: expected a boolean, got string");
	expect_error("{\"error\":{\"code\":\"CODE_NOPE\"}}", fd,
	    "$.error.code: unknown enum value \"CODE_NOPE\"");

	/* an echoed name is bounded and printable */
	expect_error("{\"risk_summary\":{\"level\":\"A\\nB\\\"C\"}}", hd,
	    "$.risk_summary.level: unknown enum value \"A?B?C\"");
}

static void
test_invalid_json(void **state)
{
	const ProtobufCMessageDescriptor *hd = &baton__v1__handover__descriptor;
	ProtobufCMessage *m;
	char err[256];

	expect_error("{\"to\":\"a\",\"to\":\"b\"}", &baton__v1__envelope__descriptor,
	    "$: invalid JSON at line 1, column 14: duplicate object key");
	/* jansson's "near '...'" would quote document text: dropped */
	m = parse("{\"subject\":{\"given_name\":\"Robin\" \"x\"}}", hd, err,
	    sizeof(err));
	assert_null(m);
	assert_non_null(strstr(err, "$: invalid JSON"));
	assert_null(strstr(err, "Robin"));
	assert_null(strstr(err, "near"));
	expect_error("{\"subject\":{}} trailing", hd,
	    "$: invalid JSON at line 1, column 23: end of file expected");
	expect_error("\"x\"", hd,
	    "$: invalid JSON at line 1, column 3: '[' or '{' expected");
	/* C strings cannot hold NUL */
	m = parse("{\"to\":\"a\\u0000b\"}", &baton__v1__envelope__descriptor,
	    err, sizeof(err));
	assert_null(m);
	assert_non_null(strstr(err, "$: invalid JSON"));
	/* a NULL err is allowed */
	assert_null(parse("{", hd, NULL, 0));
}

static void
test_nul_from_jansson_values(void **state)
{
	json_t *o;
	ProtobufCMessage *m;
	char err[256];

	/* values built by a caller may carry NUL; keys must not match by prefix */
	o = json_object();
	json_object_set_new(o, "to", json_stringn("a\0b", 3));
	m = baton_json_to_message(o, &baton__v1__envelope__descriptor, "$.x",
	    err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "$.x.to: string contains a NUL character");
	json_decref(o);

	o = json_object();
	json_object_setn_new(o, "to\0zz", 5, json_string("a"));
	m = baton_json_to_message(o, &baton__v1__envelope__descriptor, "$",
	    err, sizeof(err));
	assert_null(m);
	assert_string_equal(err, "$.to?zz: unknown field");
	json_decref(o);
}

/* A handover with `extra` levels of array nesting under address.lines. */
static char *
nested(int extra)
{
	const char *head = "{\"subject\":{\"address\":{\"lines\":[";
	const char *tail = "]}}}";
	size_t n = strlen(head) + strlen(tail) + 2 * (size_t)extra + 1;
	char *s, *p;
	int i;

	s = malloc(n);
	assert_non_null(s);
	p = s + sprintf(s, "%s", head);
	for (i = 0; i < extra; i++)
		*p++ = '[';
	for (i = 0; i < extra; i++)
		*p++ = ']';
	strcpy(p, tail);
	return s;
}

static void
test_depth_bound(void **state)
{
	const ProtobufCMessageDescriptor *hd = &baton__v1__handover__descriptor;
	ProtobufCMessage *m;
	char err[512];
	char *s;

	/* object, subject, address, lines = 4 levels; 28 more reach the bound */
	s = nested(28);
	expect_error(s, hd,
	    "$.subject.address.lines[0]: expected a string, got array");
	free(s);
	s = nested(29);
	m = parse(s, hd, err, sizeof(err));
	assert_null(m);
	assert_non_null(strstr(err, ": nesting deeper than 32 levels"));
	assert_true(strncmp(err, "$.subject.address.lines[0][0]", 29) == 0);
	free(s);
	/* far beyond jansson's own limit too */
	s = nested(5000);
	assert_null(parse(s, hd, err, sizeof(err)));
	free(s);
}

static void
test_document_bound(void **state)
{
	size_t n = BATON_JSON_MAX_DOC + 1;
	ProtobufCMessage *m;
	char err[256];
	char *s;

	s = malloc(n);
	assert_non_null(s);
	memset(s, ' ', n);
	s[0] = '{';
	s[n - 1] = '}';
	m = baton_json_parse(s, n, &baton__v1__handover__descriptor, err,
	    sizeof(err));
	assert_null(m);
	assert_string_equal(err, "$: document larger than 4194304 bytes");
	/* one byte less is accepted */
	s[n - 2] = '}';
	m = baton_json_parse(s, n - 1, &baton__v1__handover__descriptor, err,
	    sizeof(err));
	assert_non_null(m);
	protobuf_c_message_free_unpacked(m, NULL);
	free(s);
}

static void
test_invalid_utf8_output(void **state)
{
	Baton__V1__Envelope e = BATON__V1__ENVELOPE__INIT;
	char *j;

	/* a wire string need not be UTF-8; JSON gets U+FFFD */
	e.to = "a\xff" "b\xed\xa0\x80";
	j = baton_json_format(&e.base);
	assert_non_null(j);
	assert_string_equal(j, "{\"to\":\"a\xef\xbf\xbd" "b\xef\xbf\xbd"
	    "\xef\xbf\xbd\xef\xbf\xbd\"}");
	free(j);
}

/* ------------------------------------------------------------------ */
/* deploy/examples/handover.json                                       */

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp;
	char *buf;
	long n;

	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	assert_int_equal(fseek(fp, 0, SEEK_END), 0);
	n = ftell(fp);
	assert_true(n > 0);
	rewind(fp);
	buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

static void
test_example_handover(void **state)
{
	const ProtobufCMessageDescriptor *d = &baton__v1__handover__descriptor;
	Baton__V1__Handover *h, *back;
	uint8_t *a, *b;
	size_t len, alen, blen;
	char err[512];
	char *text, *j;
	unsigned i;

	text = slurp(BATON_SRC_DIR "/deploy/examples/handover.json", &len);
	h = (Baton__V1__Handover *)baton_json_parse(text, len, d, err,
	    sizeof(err));
	if (h == NULL)
		fail_msg("example refused: %s", err);
	if (validate_handover(h, err, sizeof(err)) != 0)
		fail_msg("example invalid: %s", err);
	/* every section is present */
	for (i = 0; i < d->n_fields; i++)
		if (*(void **)((char *)h + d->fields[i].offset) == NULL)
			fail_msg("example lacks section %s", d->fields[i].name);
	assert_true(h->contacts->n_people >= 3);
	assert_string_equal(h->support_plan->contact_pattern,
	    "48-hour check-in, then weekly reviews for four weeks");

	j = baton_json_format(&h->base);
	assert_non_null(j);
	back = (Baton__V1__Handover *)baton_json_parse(j, strlen(j), d, err,
	    sizeof(err));
	if (back == NULL)
		fail_msg("formatted example refused: %s", err);
	a = pack(&h->base, &alen);
	b = pack(&back->base, &blen);
	assert_int_equal(alen, blen);
	assert_memory_equal(a, b, alen);
	assert_round_trip(&h->base);

	free(a);
	free(b);
	free(j);
	free(text);
	protobuf_c_message_free_unpacked(&h->base, NULL);
	protobuf_c_message_free_unpacked(&back->base, NULL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handover_round_trip),
		cmocka_unit_test(test_envelope_round_trip),
		cmocka_unit_test(test_output_omits_defaults),
		cmocka_unit_test(test_enum_by_name_and_number),
		cmocka_unit_test(test_int64_string_and_number),
		cmocka_unit_test(test_bytes_and_other_types),
		cmocka_unit_test(test_base64_refusals),
		cmocka_unit_test(test_oneof),
		cmocka_unit_test(test_null_is_unset),
		cmocka_unit_test(test_camel_case),
		cmocka_unit_test(test_errors_with_paths),
		cmocka_unit_test(test_invalid_json),
		cmocka_unit_test(test_nul_from_jansson_values),
		cmocka_unit_test(test_depth_bound),
		cmocka_unit_test(test_document_bound),
		cmocka_unit_test(test_invalid_utf8_output),
		cmocka_unit_test(test_example_handover),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
