/*
 * test_policy.c - policy.conf parsing (every error with its line), route
 * checks, section masks, and the shipped deploy/policy.conf.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

#define K(x) BATON__V1__TRANSITION_KIND__TRANSITION_KIND_##x

static struct policy *
parse(const char *text, char *err, size_t errlen)
{
	return policy_parse("test.conf", text, strlen(text), err, errlen);
}

static void
test_good(void **state)
{
	char err[1024];
	struct policy *p = parse(
	    "# comment\n"
	    "deadline high 4h\n"
	    "deadline critical 90s\n"
	    "escalate crisis duty-desk\n"
	    "retention 2d\n"
	    "role a\n"
	    "  receive subject transition   # trailing comment\n"
	    "  send b referral step_down\n"
	    "role b\n"
	    "  receive all\n"
	    "  send a any\n"
	    "role c\n"
	    "  receive none\n", err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(p->nroles, 3);
	assert_int_equal(p->deadline_ms[3], 4 * 3600 * 1000);
	assert_int_equal(p->deadline_ms[4], 90 * 1000);
	assert_int_equal(p->deadline_ms[1], 0);
	assert_int_equal(p->nescalate, 2);
	assert_string_equal(p->escalate[1], "duty-desk");
	assert_int_equal(p->retention_ms, 2LL * 86400 * 1000);
	assert_int_equal(policy_sections(p, "a"),
	    sections_bit("subject") | sections_bit("transition"));
	assert_int_equal(policy_sections(p, "b"), SECTIONS_ALL);
	assert_int_equal(policy_sections(p, "c"), 0);
	assert_int_equal(policy_sections(p, "nobody"), 0);
	assert_true(policy_route_allowed(p, "a", "b", K(REFERRAL)));
	assert_true(policy_route_allowed(p, "a", "b", K(STEP_DOWN)));
	assert_false(policy_route_allowed(p, "a", "b", K(DISCHARGE)));
	assert_false(policy_route_allowed(p, "a", "c", K(REFERRAL)));
	assert_true(policy_route_allowed(p, "b", "a", K(TRANSFER)));
	assert_false(policy_route_allowed(p, "b", "a", K(UNSPECIFIED)));
	assert_false(policy_route_allowed(p, "nobody", "a", K(REFERRAL)));
	/* roles are compared literally, never as patterns */
	assert_false(policy_route_allowed(p, "a", "*", K(REFERRAL)));
	assert_false(policy_route_allowed(p, "a", "b ", K(REFERRAL)));
	policy_free(p);
}

static void
test_errors_with_lines(void **state)
{
	char err[2048];
	struct policy *p = parse(
	    "role a\n"				/* 1 */
	    "  receive subject nonsense\n"	/* 2 */
	    "  send b teleport\n"		/* 3 */
	    "deadline severe 4h\n"		/* 4 */
	    "deadline high soon\n"		/* 5 */
	    "receive all\n"			/* 6: outside a role */
	    "frobnicate\n"			/* 7 */
	    "role a\n"				/* 8: twice */
	    "role Bad\n"			/* 9 */
	    "escalate NOT_A_NODE\n",		/* 10 */
	    err, sizeof(err));

	assert_null(p);
	assert_non_null(strstr(err, "test.conf:2: 'nonsense' is not a dataset section"));
	assert_non_null(strstr(err, "test.conf:3: 'teleport' is not a transition kind"));
	assert_non_null(strstr(err, "test.conf:4: 'severe' is not a risk level"));
	assert_non_null(strstr(err, "test.conf:5: 'soon' is not a duration"));
	assert_non_null(strstr(err, "test.conf:6: 'receive' outside a role block"));
	assert_non_null(strstr(err, "test.conf:7: unknown statement 'frobnicate'"));
	assert_non_null(strstr(err, "test.conf:8: role 'a' is declared twice"));
	assert_non_null(strstr(err, "test.conf:9: 'Bad' is not a role name"));
	assert_non_null(strstr(err, "test.conf:10: 'NOT_A_NODE' is not a node id"));
	/* and the route to the undeclared role b, at the line of its send */
	assert_non_null(strstr(err, "test.conf:3: role 'a' sends to undeclared role 'b'"));
}

#define B(x) (1u << BATON__V1__LAWFUL_BASIS__LAWFUL_BASIS_##x)

/* "with agreement" and "basis": per route and kind, read by route_terms. */
static void
test_route_terms(void **state)
{
	char err[1024], list[128];
	struct policy_terms t;
	struct policy *p = parse(
	    "role provider\n"
	    "  receive all\n"
	    "  send housing referral transfer with agreement basis consent "
	    "direct_care\n"
	    "  send housing discharge\n"
	    "  send cmht any basis any\n"
	    "  send cmht referral basis any\n"	/* again, same terms: fine */
	    "role housing\n"
	    "  receive subject\n"
	    "  send provider crisis_handover basis vital_interests with "
	    "agreement\n"
	    "role cmht\n"
	    "  receive all\n", err, sizeof(err));

	(void)state;
	assert_non_null(p);
	assert_true(p->gated);
	policy_route_terms(p, "provider", "housing", K(REFERRAL), &t);
	assert_true(t.agreement);
	assert_int_equal(t.basis, B(CONSENT) | B(DIRECT_CARE));
	policy_route_terms(p, "provider", "housing", K(TRANSFER), &t);
	assert_true(t.agreement);
	/* the same route, another line: no terms */
	policy_route_terms(p, "provider", "housing", K(DISCHARGE), &t);
	assert_false(t.agreement);
	assert_int_equal(t.basis, 0);
	/* a kind not allowed at all has no terms either */
	assert_false(policy_route_allowed(p, "provider", "housing", K(STEP_UP)));
	policy_route_terms(p, "provider", "housing", K(STEP_UP), &t);
	assert_false(t.agreement);
	policy_route_terms(p, "provider", "cmht", K(STEP_DOWN), &t);
	assert_false(t.agreement);
	assert_int_equal(t.basis, POLICY_BASIS_ANY);
	/* the terms may come in either order */
	policy_route_terms(p, "housing", "provider", K(CRISIS_HANDOVER), &t);
	assert_true(t.agreement);
	assert_int_equal(t.basis, B(VITAL_INTERESTS));
	assert_string_equal(policy_basis_list(B(CONSENT) | B(DIRECT_CARE),
	    list, sizeof(list)), "consent, direct_care");
	assert_string_equal(policy_basis_name(1),
	    "consent");
	assert_string_equal(policy_basis_name(4), "vital_interests");
	assert_string_equal(policy_basis_name(9), "unknown");
	policy_free(p);

	/* agreements required: every route is gated, its basis kept */
	p = parse("agreements required\nrole a\n  receive all\n"
	    "  send a referral basis consent\n  send a discharge\n", err,
	    sizeof(err));
	assert_non_null(p);
	assert_true(p->gated);
	policy_route_terms(p, "a", "a", K(REFERRAL), &t);
	assert_true(t.agreement);
	assert_int_equal(t.basis, B(CONSENT));
	policy_route_terms(p, "a", "a", K(DISCHARGE), &t);
	assert_true(t.agreement);
	policy_route_terms(p, "a", "a", K(STEP_UP), &t);	/* not allowed */
	assert_false(t.agreement);
	policy_free(p);
	p = parse("agreements always\n", err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "test.conf:1: 'agreements' takes one word"));

	/* a policy with no gated route says so: delivery skips the check */
	p = parse("role a\n  receive all\n  send a any basis consent\n", err,
	    sizeof(err));
	assert_non_null(p);
	assert_false(p->gated);
	policy_free(p);
}

static void
test_route_terms_errors(void **state)
{
	char err[2048];
	struct policy *p = parse(
	    "role a\n"					/* 1 */
	    "  receive all\n"				/* 2 */
	    "  send b referral with\n"			/* 3 */
	    "  send b referral with consent\n"		/* 4 */
	    "  send b referral basis\n"			/* 5 */
	    "  send b referral basis gossip\n"		/* 6 */
	    "  send b referral quickly\n"		/* 7 */
	    "  send b with agreement\n"			/* 8 */
	    "  send b discharge with agreement\n"	/* 9 */
	    "  send b discharge\n"			/* 10: other terms */
	    "  send b step_up basis consent\n"		/* 11 */
	    "  send b step_up basis safeguarding\n"	/* 12: other terms */
	    "  send b transfer basis with agreement\n"	/* 13: no basis */
	    "role b\n"
	    "  receive all\n", err, sizeof(err));

	(void)state;
	assert_null(p);
	assert_non_null(strstr(err, "test.conf:3: 'with' must be followed by "
	    "'agreement'"));
	assert_non_null(strstr(err, "test.conf:4: 'with' must be followed by "
	    "'agreement'"));
	assert_non_null(strstr(err, "test.conf:5: 'basis' needs lawful bases"));
	assert_non_null(strstr(err, "test.conf:6: 'gossip' is not a lawful "
	    "basis"));
	assert_non_null(strstr(err, "test.conf:7: 'quickly' is not a transition "
	    "kind"));
	assert_non_null(strstr(err, "test.conf:8: 'send' needs kinds"));
	assert_null(strstr(err, "test.conf:9:"));
	assert_non_null(strstr(err, "test.conf:10: discharge handovers to role "
	    "'b' are already allowed with other terms"));
	assert_null(strstr(err, "test.conf:11:"));
	assert_non_null(strstr(err, "test.conf:12: step_up handovers to role "
	    "'b' are already allowed with other terms"));
	/* a forgotten basis name would have dropped the requirement */
	assert_non_null(strstr(err, "test.conf:13: 'basis' needs lawful bases"));
}

/* checkin, review and missed: the contact patterns and who hears of a miss. */
static void
test_checkins(void **state)
{
	char err[1024];
	const struct policy_pattern *pt;
	struct policy *p = parse(
	    "checkin step_down 48h then 7d x4\n"
	    "review before step_down 14d..7d grace 12h\n"
	    "checkin crisis_handover 24h then 24h x2 grace 4h\n"
	    "checkin crisis_handover 7d\n"
	    "missed grace 6h\n"
	    "missed escalate crisis duty after 2 risk high\n"
	    "role a\n  receive all\n", err, sizeof(err));

	(void)state;
	assert_non_null(p);
	assert_int_equal(p->npatterns[K(STEP_DOWN)], 2);
	pt = &p->patterns[K(STEP_DOWN)][0];
	assert_false(pt->review);
	assert_int_equal(pt->first_ms, 48LL * 3600 * 1000);
	assert_int_equal(pt->every_ms, 7LL * 86400 * 1000);
	assert_int_equal(pt->repeat, 4);
	assert_int_equal(pt->grace_ms, 0);	/* the policy's: missed grace */
	assert_int_equal(pt->line, 1);
	pt = &p->patterns[K(STEP_DOWN)][1];
	assert_true(pt->review);
	assert_int_equal(pt->open_ms, 14LL * 86400 * 1000);
	assert_int_equal(pt->first_ms, 7LL * 86400 * 1000);
	assert_int_equal(pt->grace_ms, 12LL * 3600 * 1000);
	/* 1 + 4 check-ins and a review; 3 + 1 for a crisis handover */
	assert_int_equal(policy_checkin_count(p, K(STEP_DOWN)), 6);
	assert_int_equal(policy_checkin_count(p, K(CRISIS_HANDOVER)), 4);
	assert_int_equal(policy_checkin_count(p, K(REFERRAL)), 0);
	assert_int_equal(policy_checkin_count(p, 99), 0);
	assert_int_equal(p->patterns[K(CRISIS_HANDOVER)][0].grace_ms,
	    4LL * 3600 * 1000);
	assert_int_equal(p->missed_grace_ms, 6LL * 3600 * 1000);
	assert_int_equal(p->nmissed_escalate, 2);
	assert_string_equal(p->missed_escalate[1], "duty");
	assert_int_equal(p->missed_after, 2);
	assert_int_equal(p->missed_risk, 3);
	policy_free(p);

	/* defaults: 24 h grace, no escalation; escalate alone: every miss */
	p = parse("missed escalate crisis\nrole a\n  receive all\n", err,
	    sizeof(err));
	assert_non_null(p);
	assert_int_equal(p->missed_grace_ms, 24LL * 3600 * 1000);
	assert_int_equal(p->missed_after, 1);
	assert_int_equal(p->missed_risk, 0);
	policy_free(p);
}

static void
test_checkin_errors(void **state)
{
	char err[4096];
	struct policy *p = parse(
	    "checkin\n"					/* 1 */
	    "checkin teleport 48h\n"				/* 2 */
	    "checkin step_down soon\n"			/* 3 */
	    "checkin step_down 48h then\n"			/* 4 */
	    "checkin step_down 48h then 7d\n"		/* 5 */
	    "checkin step_down 48h then 7d x0\n"		/* 6 */
	    "checkin step_down 48h grace\n"			/* 7 */
	    "review step_down 14d..7d\n"			/* 8 */
	    "review before step_down 7d..14d\n"		/* 9 */
	    "review before step_down 14d\n"			/* 10 */
	    "missed grace never\n"				/* 11 */
	    "missed escalate\n"				/* 12 */
	    "missed escalate crisis after 0\n"		/* 13 */
	    "missed escalate crisis risk severe\n"		/* 14 */
	    "missed shout\n"					/* 15 */
	    "checkin discharge 1h then 1h x10\n"		/* 16 */
	    "checkin discharge 1h then 1h x5\n"		/* 17: > 16 */
	    "missed escalate crisis after 3\n"		/* 18 */
	    "missed escalate duty\n"				/* 19: twice */
	    "role a\n  receive all\n", err, sizeof(err));

	(void)state;
	assert_null(p);
	assert_non_null(strstr(err, "test.conf:1: 'checkin' needs a kind"));
	assert_non_null(strstr(err, "test.conf:2: 'teleport' is not a "
	    "transition kind"));
	assert_non_null(strstr(err, "test.conf:3: 'soon' is not a duration"));
	assert_non_null(strstr(err, "test.conf:4: 'then' needs an interval"));
	assert_non_null(strstr(err, "test.conf:5: 'then EVERY' needs a count"));
	assert_non_null(strstr(err, "test.conf:6: 'x0' is not a count"));
	assert_non_null(strstr(err, "test.conf:7: expected 'grace DURATION'"));
	assert_non_null(strstr(err, "test.conf:8: 'review' is 'review before"));
	assert_non_null(strstr(err, "test.conf:9: '7d..14d': the window"));
	assert_non_null(strstr(err, "test.conf:10: '14d' is not a window"));
	assert_non_null(strstr(err, "test.conf:11: 'never' is not a duration"));
	assert_non_null(strstr(err, "test.conf:12: 'missed' is 'missed grace"));
	assert_non_null(strstr(err, "test.conf:13: 'after' takes a number"));
	assert_non_null(strstr(err, "test.conf:14: 'severe' is not a risk "
	    "level"));
	assert_non_null(strstr(err, "test.conf:15: 'missed' is 'missed grace"));
	assert_null(strstr(err, "test.conf:16:"));
	assert_non_null(strstr(err, "test.conf:17: discharge handovers would "
	    "get more than 16 check-ins"));
	assert_null(strstr(err, "test.conf:18:"));
	assert_non_null(strstr(err, "test.conf:19: 'missed escalate' is given "
	    "twice (first at line 18)"));
}

static void
test_empty_denies(void **state)
{
	char err[256];
	struct policy *p = parse("", err, sizeof(err));

	assert_non_null(p);
	assert_int_equal(policy_sections(p, "cmht"), 0);
	assert_false(policy_route_allowed(p, "provider", "cmht", K(REFERRAL)));
	policy_free(p);
	assert_int_equal(policy_sections(NULL, "cmht"), 0);
	assert_false(policy_route_allowed(NULL, "provider", "cmht", K(REFERRAL)));
}

static void
test_long_line(void **state)
{
	char err[256];
	size_t n = 5000;
	char *text = malloc(n + 2);
	struct policy *p;

	memset(text, 'x', n);
	text[n] = '\n';
	text[n + 1] = '\0';
	p = parse(text, err, sizeof(err));
	assert_null(p);
	assert_non_null(strstr(err, "test.conf:1: line longer than"));
	free(text);
}

static void
test_durations(void **state)
{
	assert_int_equal(policy_parse_duration("30"), 30000);
	assert_int_equal(policy_parse_duration("30s"), 30000);
	assert_int_equal(policy_parse_duration("2m"), 120000);
	assert_int_equal(policy_parse_duration("1h"), 3600000);
	assert_int_equal(policy_parse_duration("3d"), 3LL * 86400000);
	assert_int_equal(policy_parse_duration("3x"), -1);
	assert_int_equal(policy_parse_duration("h"), -1);
	assert_int_equal(policy_parse_duration("-5s"), -1);
	assert_int_equal(policy_parse_duration("99999999999999999999"), -1);
}

static void
test_shipped_policy(void **state)
{
	char err[2048];
	struct policy *p = policy_load(BATON_SRC_DIR "/deploy/policy.conf", err,
	    sizeof(err));
	section_mask housing;

	if (p == NULL)
		fail_msg("%s", err);
	housing = policy_sections(p, "housing");
	assert_false(housing & sections_bit("risk_summary"));
	assert_false(housing & sections_bit("safeguarding"));
	assert_false(housing & sections_bit("medication_and_physical_health"));
	assert_true(housing & sections_bit("contacts"));
	assert_true(housing & sections_bit("crisis_plan"));
	assert_true(housing & sections_bit("support_plan"));
	assert_true(housing & sections_bit("transition"));
	assert_int_equal(policy_sections(p, "auditor"), 0);
	assert_int_equal(p->deadline_ms[4], 3600 * 1000);
	assert_int_equal(p->deadline_ms[3], 4 * 3600 * 1000);
	assert_int_equal(p->deadline_ms[2], 24 * 3600 * 1000);
	assert_int_equal(p->deadline_ms[1], 72 * 3600 * 1000);
	assert_true(policy_route_allowed(p, "provider", "cmht", K(STEP_DOWN)));
	assert_false(policy_route_allowed(p, "housing", "gp", K(REFERRAL)));
	policy_free(p);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_errors_with_lines),
		cmocka_unit_test(test_route_terms),
		cmocka_unit_test(test_route_terms_errors),
		cmocka_unit_test(test_checkins),
		cmocka_unit_test(test_checkin_errors),
		cmocka_unit_test(test_empty_denies),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_shipped_policy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
