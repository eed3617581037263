/*
 * test_pipeline.c - libbaton's pipeline parts that need no broker: the
 * bookkeeping of requests in flight (pipe.c: found by kind and id,
 * answered in any order, results in answer order, windows counting until
 * taken, send times), the Submit frame spliced around packed handover
 * bytes (byte for byte what frame_encode makes), the `baton send --jsonl`
 * line (jsonl.c), and the pipelined calls' argument checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "baton.h"
#include "frame.h"
#include "jsonl.h"
#include "pipe.h"

static struct op *
add(struct pipe *p, enum baton_result_kind kind, const char *id,
    uint64_t end)
{
	struct op *op = pipe_op_new(kind, id, (void *)id);

	assert_non_null(op);
	pipe_add(p, op, end);
	return op;
}

static void
test_pipe_match(void **state)
{
	struct pipe *p = malloc(sizeof(*p));
	struct op *a, *b, *k, *t;

	assert_non_null(p);
	pipe_init(p);
	a = add(p, BATON_RESULT_RECEIPT, "m-1", 100);
	b = add(p, BATON_RESULT_RECEIPT, "m-2", 200);
	k = add(p, BATON_RESULT_ACK, "m-1", 250);	/* same id, other kind */
	assert_int_equal(p->n[BATON_RESULT_RECEIPT], 2);
	assert_int_equal(p->n[BATON_RESULT_ACK], 1);
	assert_ptr_equal(pipe_find(p, BATON_RESULT_RECEIPT, "m-1"), a);
	assert_ptr_equal(pipe_find(p, BATON_RESULT_ACK, "m-1"), k);
	assert_ptr_equal(pipe_find(p, BATON_RESULT_RECEIPT, "m-2"), b);
	assert_null(pipe_find(p, BATON_RESULT_ACK, "m-2"));
	assert_null(pipe_find(p, BATON_RESULT_RECEIPT, "m-3"));
	assert_ptr_equal(pipe_oldest(p, BATON_RESULT_RECEIPT), a);
	assert_ptr_equal(pipe_oldest(p, BATON_RESULT_ACK), k);
	assert_string_equal(pipe_op_id(a), "m-1");
	assert_string_equal(a->res.receipt.message_id, "m-1");
	assert_string_equal(k->res.ack_id, "m-1");

	/* written up to 200 bytes: a and b are sent, the ack not yet */
	pipe_written(p, 199, 5);
	assert_int_equal(a->res.sent_us, 5);
	assert_int_equal(b->res.sent_us, 0);
	pipe_written(p, 200, 6);
	assert_int_equal(b->res.sent_us, 6);
	assert_int_equal(k->res.sent_us, 0);
	pipe_written(p, 1000, 7);
	assert_int_equal(k->res.sent_us, 7);

	/* answered out of order: results come in answer order */
	pipe_answered(p, b, 10);
	assert_null(pipe_find(p, BATON_RESULT_RECEIPT, "m-2"));
	assert_ptr_equal(pipe_oldest(p, BATON_RESULT_RECEIPT), a);
	pipe_answered(p, k, 11);
	pipe_answered(p, a, 12);
	assert_false(pipe_in_flight(p));
	/* still counted against the windows until taken */
	assert_int_equal(p->n[BATON_RESULT_RECEIPT], 2);
	assert_ptr_equal(t = pipe_take(p), b);
	assert_int_equal(t->res.answered_us, 10);
	assert_ptr_equal(t->res.user, (void *)"m-2");
	free(t);
	assert_int_equal(p->n[BATON_RESULT_RECEIPT], 1);
	assert_ptr_equal(t = pipe_take(p), k);
	free(t);
	assert_ptr_equal(t = pipe_take(p), a);
	free(t);
	assert_null(pipe_take(p));
	assert_int_equal(p->n[BATON_RESULT_RECEIPT], 0);
	assert_int_equal(p->n[BATON_RESULT_ACK], 0);

	/* an id can be used again once answered */
	a = add(p, BATON_RESULT_RECEIPT, "m-1", 300);
	assert_ptr_equal(pipe_find(p, BATON_RESULT_RECEIPT, "m-1"), a);
	pipe_free(p);		/* frees what is in flight and answered */
	assert_null(pipe_find(p, BATON_RESULT_RECEIPT, "m-1"));
	free(p);
}

/* Many ops in one bucket chain and across: each is found, then gone. */
static void
test_pipe_many(void **state)
{
	struct pipe *p = malloc(sizeof(*p));
	struct op *op;
	char id[32];
	int i, n = 0;

	assert_non_null(p);
	pipe_init(p);
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		add(p, BATON_RESULT_RECEIPT, id, (uint64_t)i);
	}
	for (i = 2999; i >= 0; i -= 2) {
		snprintf(id, sizeof(id), "id-%d", i);
		assert_non_null(op = pipe_find(p, BATON_RESULT_RECEIPT, id));
		pipe_answered(p, op, i);
	}
	for (i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "id-%d", i);
		if (i % 2)
			assert_null(pipe_find(p, BATON_RESULT_RECEIPT, id));
		else
			assert_non_null(pipe_find(p, BATON_RESULT_RECEIPT, id));
	}
	assert_string_equal(pipe_op_id(pipe_oldest(p, BATON_RESULT_RECEIPT)),
	    "id-0");
	while ((op = pipe_take(p)) != NULL) {
		n++;
		free(op);
	}
	assert_int_equal(n, 1500);
	assert_int_equal(p->n[BATON_RESULT_RECEIPT], 1500);
	pipe_free(p);
	free(p);
}

/* A handover with a little of everything. */
static Baton__V1__Handover *
sample_handover(void)
{
	static Baton__V1__Subject s = BATON__V1__SUBJECT__INIT;
	static Baton__V1__RiskSummary r = BATON__V1__RISK_SUMMARY__INIT;
	static Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	static char *risks[] = { "self-neglect", "missed depot" };

	s.nhs_number = "9434765919";
	s.family_name = "Example";
	s.given_name = "Alex";
	r.level = BATON__V1__RISK_LEVEL__RISK_LEVEL_HIGH;
	r.n_current_risks = 2;
	r.current_risks = risks;
	h.subject = &s;
	h.risk_summary = &r;
	return &h;
}

/* frame_encode of the same Submit, for comparison. */
static void
encode_reference(const char *id, const char *to, int64_t created,
    Baton__V1__Handover *h, uint8_t **out, size_t *len)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Submit s = BATON__V1__SUBMIT__INIT;
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;

	env.message_id = (char *)id;
	env.to = (char *)to;
	env.created_at_ms = created;
	env.handover = h;
	s.envelope = &env;
	f.body_case = BATON__V1__FRAME__BODY_SUBMIT;
	f.submit = &s;
	assert_int_equal(frame_encode(&f, BATON_MAX_FRAME_DEFAULT, out, len),
	    FRAME_OK);
}

static void
check_splice(const char *id, const char *to, int64_t created,
    Baton__V1__Handover *h)
{
	uint8_t *want, *got, *packed;
	size_t wlen, glen, plen;
	uint32_t blen;
	Frame *f;
	int st;

	encode_reference(id, to, created, h, &want, &wlen);
	plen = baton__v1__handover__get_packed_size(h);
	packed = malloc(plen + 1);
	assert_non_null(packed);
	baton__v1__handover__pack(h, packed);
	assert_int_equal(pipe_submit_frame(id, to, created, packed, plen,
	    BATON_MAX_FRAME_DEFAULT, &got, &glen), FRAME_OK);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);

	assert_int_equal(frame_parse_header(got, glen, BATON_MAX_FRAME_DEFAULT,
	    &blen), FRAME_OK);
	assert_int_equal(blen, glen - BATON_FRAME_HDR);
	f = frame_decode(got + BATON_FRAME_HDR, blen, &st);
	assert_non_null(f);
	assert_int_equal(f->body_case, BATON__V1__FRAME__BODY_SUBMIT);
	assert_string_equal(f->submit->envelope->message_id, id);
	assert_string_equal(f->submit->envelope->to, to);
	assert_int_equal(f->submit->envelope->created_at_ms, created);
	assert_non_null(f->submit->envelope->handover);
	frame_free(f);
	free(want);
	free(got);
	free(packed);
}

static void
test_submit_splice(void **state)
{
	Baton__V1__Handover empty = BATON__V1__HANDOVER__INIT;
	char longid[129];
	uint8_t *out;
	size_t len;

	check_splice("m-1", "cmht", 1795000000123LL, sample_handover());
	check_splice("x", "gp", 1, &empty);
	memset(longid, 'a', 128);
	longid[128] = '\0';
	check_splice(longid, "crisis", INT64_MAX, sample_handover());

	/* the limit counts the body, as frame_encode does */
	assert_int_equal(pipe_submit_frame("m-1", "cmht", 1, (uint8_t *)"", 0,
	    8, &out, &len), FRAME_TOO_LARGE);
	assert_int_equal(pipe_submit_frame("m-1", "cmht", 1, (uint8_t *)"", 0,
	    BATON_MAX_FRAME_DEFAULT, &out, &len), FRAME_OK);
	free(out);
}

static void
test_jsonl_line(void **state)
{
	struct jsonl_item it;
	char err[256];
	const char *l;

	l = "{\"risk_summary\":{\"level\":\"RISK_LEVEL_LOW\"}}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), 0);
	assert_non_null(it.handover);
	assert_int_equal(it.handover->risk_summary->level,
	    BATON__V1__RISK_LEVEL__RISK_LEVEL_LOW);
	assert_string_equal(it.to, "");
	assert_string_equal(it.message_id, "");
	baton_jsonl_clear(&it);

	l = "{\"to\":\"cmht\",\"message_id\":\"m-7\",\"handover\":"
	    "{\"transition\":{\"kind\":\"TRANSITION_KIND_REFERRAL\"}}}\r";
	assert_int_equal(baton_jsonl_parse(l, strlen(l) - 1, &it, err,
	    sizeof(err)), 0);
	assert_string_equal(it.to, "cmht");
	assert_string_equal(it.message_id, "m-7");
	assert_non_null(it.handover->transition);
	baton_jsonl_clear(&it);

	assert_int_equal(baton_jsonl_parse("  \t\r", 4, &it, err,
	    sizeof(err)), 1);
	assert_int_equal(baton_jsonl_parse("", 0, &it, err, sizeof(err)), 1);

	l = "{\"handover\":{},\"from\":\"gp\"}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "unknown envelope key"));
	l = "{\"to\":\"No Such\",\"handover\":{}}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "$.to"));
	l = "{\"message_id\":\"a/b\",\"handover\":{}}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "$.message_id"));
	l = "{\"handover\":{\"risk_summary\":{\"level\":\"SEVERE\"}}}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), -1);
	assert_non_null(strstr(err, "$.handover.risk_summary.level"));
	/* a bad document names the place, never the text near it */
	l = "{\"subject\":{\"family_name\":\"Secret\" \"x\"}}";
	assert_int_equal(baton_jsonl_parse(l, strlen(l), &it, err,
	    sizeof(err)), -1);
	assert_null(strstr(err, "Secret"));
	assert_null(strstr(err, "\"x\""));
	assert_int_equal(baton_jsonl_parse("[1]", 3, &it, err, sizeof(err)),
	    -1);
	assert_null(it.handover);
}

static void
test_async_args(void **state)
{
	baton_result r;
	baton_error e;
	baton_incoming in;

	memset(&in, 0, sizeof(in));
	assert_int_equal(baton_submit_async(NULL, "cmht",
	    (Baton__V1__Handover *)sample_handover(), "m-1", NULL, &e),
	    BATON_E_INVALID_ARG);
	assert_int_equal(e.status, BATON_E_INVALID_ARG);
	assert_int_equal(baton_submit_packed_async(NULL, "cmht", "", 0, NULL,
	    NULL, NULL), BATON_E_INVALID_ARG);
	assert_int_equal(baton_submit_json_async(NULL, "cmht", "{}", 2, NULL,
	    NULL, &e), BATON_E_INVALID_ARG);
	assert_int_equal(baton_submit_packed(NULL, "cmht", "", 0, NULL, NULL,
	    &e), BATON_E_INVALID_ARG);
	assert_int_equal(baton_ack_async(NULL, &in, NULL, &e),
	    BATON_E_INVALID_ARG);
	assert_int_equal(baton_poll_result(NULL, &r), BATON_E_INVALID_ARG);
	assert_int_equal(baton_process(NULL, &e), BATON_E_INVALID_ARG);
	assert_int_equal(baton_wait(NULL, 0, NULL), BATON_E_INVALID_ARG);
	assert_int_equal(baton_drain(NULL, 0, &e), BATON_E_INVALID_ARG);
	assert_int_equal(baton_set_pipeline(NULL, 8), BATON_E_INVALID_ARG);
	assert_int_equal(baton_fd(NULL), -1);
	assert_int_equal(baton_want_write(NULL), 0);
	assert_int_equal(baton_outstanding(NULL), 0);
	baton_disconnect(NULL);
	assert_string_equal(baton_strerror(BATON_E_AGAIN),
	    "not now: run the connection and try again");
	assert_true(baton_monotonic_us() > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pipe_match),
		cmocka_unit_test(test_pipe_many),
		cmocka_unit_test(test_submit_splice),
		cmocka_unit_test(test_jsonl_line),
		cmocka_unit_test(test_async_args),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
