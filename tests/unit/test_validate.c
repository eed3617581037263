/*
 * test_validate.c - identifiers, NHS numbers, dates, handover checks and
 * section masks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "pbarena.h"
#include "pbstr.h"
#include "sections.h"
#include "validate.h"

static void
test_message_id(void **state)
{
	char longid[200];

	assert_true(validate_own_id("a1b2-c3:d4_e5.f6"));
	assert_false(validate_own_id(""));
	assert_false(validate_own_id("has space"));
	assert_false(validate_own_id("slash/no"));
	memset(longid, 'a', 128);
	longid[128] = '\0';
	assert_true(validate_own_id(longid));
	longid[128] = 'a';
	longid[129] = '\0';
	assert_false(validate_own_id(longid));
	/* either form is a message id; a plain one is an own id */
	assert_true(validate_message_id("a1b2-c3:d4_e5.f6"));
	assert_true(validate_message_id("gp/provider-000124"));
	assert_false(validate_message_id(""));
	assert_false(validate_message_id(longid));
}

static void
test_reference(void **state)
{
	char ref[BATON_REFERENCE_MAX + 1], own[BATON_OWN_ID_MAX + 1];
	char node[BATON_NODE_ID_MAX + 1], big[BATON_REFERENCE_MAX + 2];

	assert_true(validate_reference("gp/provider-000124"));
	assert_true(validate_reference("gp-practice.01/a:b"));
	assert_false(validate_reference("provider-000124"));	/* no '/' */
	assert_false(validate_reference("GP/x"));		/* node id */
	assert_false(validate_reference("/x"));
	assert_false(validate_reference("gp/"));
	assert_false(validate_reference("gp/a/b"));		/* one '/' only */
	assert_false(validate_reference("gp/has space"));
	/* the longest parts make the longest reference */
	memset(node, 'n', BATON_NODE_ID_MAX);
	node[BATON_NODE_ID_MAX] = '\0';
	memset(own, 'o', BATON_OWN_ID_MAX);
	own[BATON_OWN_ID_MAX] = '\0';
	snprintf(big, sizeof(big), "%s/%s", node, own);
	assert_int_equal(strlen(big), BATON_REFERENCE_MAX);
	assert_true(validate_reference(big));
	assert_true(validate_message_id(big));
	assert_int_equal(validate_qualify(node, own, ref), 0);
	assert_string_equal(ref, big);

	/* a plain id is the asking node's own; a reference stands */
	assert_int_equal(validate_qualify("provider", "provider-000124", ref), 0);
	assert_string_equal(ref, "provider/provider-000124");
	assert_int_equal(validate_qualify("cmht", "gp/provider-000124", ref), 0);
	assert_string_equal(ref, "gp/provider-000124");
	assert_int_equal(validate_qualify("cmht", "bad id", ref), -1);
	assert_int_equal(validate_qualify("Bad", "x", ref), -1);
	assert_string_equal(validate_own_part("gp/provider-000124"),
	    "provider-000124");
	assert_string_equal(validate_own_part("provider-000124"),
	    "provider-000124");
}

static void
test_node_id(void **state)
{
	assert_true(validate_node_id("cmht"));
	assert_true(validate_node_id("gp-practice.01"));
	assert_false(validate_node_id("GP"));
	assert_false(validate_node_id("-gp"));
	assert_false(validate_node_id("gp*"));
	assert_false(validate_node_id(""));
}

static void
test_nhs_number(void **state)
{
	char out[11];

	assert_true(validate_nhs_number("943 476 5919", out));
	assert_string_equal(out, "9434765919");
	assert_true(validate_nhs_number("943-476-5919", out));
	assert_false(validate_nhs_number("9434765918", out));	/* check digit */
	assert_false(validate_nhs_number("943476591", out));	/* too short */
	assert_false(validate_nhs_number("94347659190", out));	/* too long */
	assert_false(validate_nhs_number("94347659x9", out));
}

static void
test_dates(void **state)
{
	assert_true(validate_date("2026-11-24"));
	assert_true(validate_date("2024-02-29"));
	assert_false(validate_date("2025-02-29"));
	assert_false(validate_date("2026-13-01"));
	assert_false(validate_date("26-11-24"));
	assert_false(validate_date("2026/11/24"));
}

static Baton__V1__Handover *
minimal_handover(void)
{
	Baton__V1__Handover *h = calloc(1, sizeof(*h));
	Baton__V1__Subject *s = calloc(1, sizeof(*s));
	Baton__V1__RiskSummary *r = calloc(1, sizeof(*r));
	Baton__V1__Transition *t = calloc(1, sizeof(*t));

	baton__v1__handover__init(h);
	baton__v1__subject__init(s);
	baton__v1__risk_summary__init(r);
	baton__v1__transition__init(t);
	s->nhs_number = strdup("9434765919");
	s->family_name = strdup("Example");
	r->level = BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH;
	t->kind = BATON__V1__TRANSITION_KIND__TRANSITION_KIND_REFERRAL;
	h->subject = s;
	h->risk_summary = r;
	h->transition = t;
	return h;
}

static void
test_handover(void **state)
{
	Baton__V1__Handover *h = minimal_handover();
	char err[256];

	assert_int_equal(validate_handover(h, err, sizeof(err)), 0);

	h->risk_summary->level = 0;
	assert_int_equal(validate_handover(h, err, sizeof(err)), -1);
	assert_string_equal(err, "risk_summary.level: required");
	h->risk_summary->level = 42;
	assert_int_equal(validate_handover(h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "risk_summary.level"));
	h->risk_summary->level = BATON__V1__RISK_LEVEL__RISK_LEVEL_LOW;

	/* the initial value is protobuf-c's shared empty string: not freed */
	h->risk_summary->last_assessed = strdup("yesterday");
	assert_int_equal(validate_handover(h, err, sizeof(err)), -1);
	assert_string_equal(err,
	    "risk_summary.last_assessed: not a date (YYYY-MM-DD)");
	free(h->risk_summary->last_assessed);
	h->risk_summary->last_assessed = strdup("2026-11-20");
	assert_int_equal(validate_handover(h, err, sizeof(err)), 0);
	/* a later section's path is whole after an earlier one was walked */
	h->transition->planned_date = strdup("soon");
	assert_int_equal(validate_handover(h, err, sizeof(err)), -1);
	assert_string_equal(err, "transition.planned_date: not a date (YYYY-MM-DD)");
	free(h->transition->planned_date);
	h->transition->planned_date = strdup("2026-12-01");
	assert_int_equal(validate_handover(h, err, sizeof(err)), 0);

	free(h->subject->nhs_number);
	h->subject->nhs_number = strdup("1234567890");
	assert_int_equal(validate_handover(h, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "subject.nhs_number"));

	baton__v1__handover__free_unpacked(h, NULL);
	assert_int_equal(validate_handover(NULL, err, sizeof(err)), -1);
}

static void
test_sections(void **state)
{
	Baton__V1__Handover *h = minimal_handover();
	section_mask removed, keep;
	char buf[256];

	assert_int_equal(sections_count(), 8);
	assert_string_equal(sections_name(0), "subject");
	assert_string_equal(sections_name(6), "medication_and_physical_health");
	assert_int_equal(sections_bit("transition"), 1u << 7);
	assert_int_equal(sections_bit("nope"), 0);
	assert_int_equal(sections_present(h), (1u << 0) | (1u << 1) | (1u << 7));

	keep = sections_bit("subject") | sections_bit("transition");
	removed = sections_redact(h, keep);
	assert_int_equal(removed, sections_bit("risk_summary"));
	assert_null(h->risk_summary);
	assert_non_null(h->subject);
	assert_string_equal(sections_format(removed | sections_bit("safeguarding"),
	    buf, sizeof(buf)), "risk_summary,safeguarding");
	baton__v1__handover__free_unpacked(h, NULL);
}

/* Packs the minimal handover with a family name n bytes long. */
static size_t
packed_handover(uint8_t *buf, size_t n)
{
	Baton__V1__Handover *h = minimal_handover();
	size_t len;

	free(h->subject->family_name);
	h->subject->family_name = malloc(n + 1);
	memset(h->subject->family_name, 'x', n);
	h->subject->family_name[n] = '\0';
	len = baton__v1__handover__pack(h, buf);
	baton__v1__handover__free_unpacked(h, NULL);
	return len;
}

/*
 * Messages unpacked with pbarena are carved from its buffer, may have
 * fields replaced (pbstr_set) and sections redacted, and the buffer is
 * reused once the last of them is freed; what does not fit comes from
 * malloc and is told apart on free.
 */
static void
test_pbarena(void **state)
{
	static uint8_t buf[8192];
	Baton__V1__Handover *a, *b;
	size_t len, big;

	(void)state;
	assert_int_equal(pbarena_enable(4096), 0);
	len = packed_handover(buf, 8);
	a = baton__v1__handover__unpack(&pbarena, len, buf);
	assert_non_null(a);
	if (pbarena_live() == 0) {
		/* a sanitizer build: the arena stays off, a came from malloc */
		baton__v1__handover__free_unpacked(a, &pbarena);
		pbarena_enable(0);
		skip();
	}
	assert_true(pbarena_used() > 0);
	assert_string_equal(a->subject->family_name, "xxxxxxxx");
	/* a replaced string: the arena's copy released, a malloc'd one kept */
	assert_int_equal(pbstr_set(&a->subject->family_name, "Other"), 0);
	assert_int_equal(sections_redact(a, sections_bit("subject") |
	    sections_bit("transition")), sections_bit("risk_summary"));
	assert_int_equal(pbarena_enable(0), -1);	/* a is live */

	/* b does not fit in what is left: partly or wholly from malloc */
	big = packed_handover(buf, 6000);
	b = baton__v1__handover__unpack(&pbarena, big, buf);
	assert_non_null(b);
	assert_int_equal(strlen(b->subject->family_name), 6000);
	baton__v1__handover__free_unpacked(a, &pbarena);
	assert_true(pbarena_live() > 0);	/* b's small parts */
	baton__v1__handover__free_unpacked(b, &pbarena);
	assert_int_equal(pbarena_live(), 0);
	assert_int_equal(pbarena_used(), 0);	/* reused from the start */

	len = packed_handover(buf, 8);
	a = baton__v1__handover__unpack(&pbarena, len, buf);
	assert_non_null(a);
	assert_true(pbarena_live() > 0);
	baton__v1__handover__free_unpacked(a, &pbarena);
	assert_int_equal(pbarena_live(), 0);
	assert_int_equal(pbarena_enable(0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_reference),
		cmocka_unit_test(test_node_id),
		cmocka_unit_test(test_nhs_number),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_handover),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_pbarena),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
