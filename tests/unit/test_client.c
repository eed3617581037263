/*
 * test_client.c - libbaton's pure parts: broker address parsing, time
 * formatting, message id generation, argument checks that need no broker,
 * and the `baton recv` JSON line. Talking to a broker is covered by the
 * integration tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "baton.h"
#include "conn.h"
#include "validate.h"

static int
split(const char *s, char *host, char *port)
{
	baton_error e;

	return conn_split_hostport(s, host, 256, port, 8, &e);
}

static void
test_hostport(void **state)
{
	char host[256], port[8];

	assert_int_equal(split("127.0.0.1:7000", host, port), BATON_OK);
	assert_string_equal(host, "127.0.0.1");
	assert_string_equal(port, "7000");
	assert_int_equal(split("broker.example.nhs.uk:443", host, port),
	    BATON_OK);
	assert_string_equal(host, "broker.example.nhs.uk");
	assert_int_equal(split("[::1]:7000", host, port), BATON_OK);
	assert_string_equal(host, "::1");
	assert_string_equal(port, "7000");

	assert_int_equal(split("::1:7000", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("localhost", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("localhost:", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split(":7000", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("h:0", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("h:65536", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("h:-1", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("h:80x", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("[::1]7000", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("[::1", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split("", host, port), BATON_E_INVALID_ARG);
	assert_int_equal(split(NULL, host, port), BATON_E_INVALID_ARG);
}

static void
test_format_time(void **state)
{
	char buf[40];

	assert_string_equal(baton_format_time(0, buf, sizeof(buf)),
	    "1970-01-01T00:00:00.000Z");
	assert_string_equal(baton_format_time(1795000000123LL, buf,
	    sizeof(buf)), "2026-11-18T11:06:40.123Z");
	assert_string_equal(baton_format_time(-1, buf, sizeof(buf)),
	    "1969-12-31T23:59:59.999Z");
	/* too small a buffer gives "", never a truncated time */
	assert_string_equal(baton_format_time(0, buf, 10), "");
}

static void
test_message_id(void **state)
{
	char a[37], b[37], small[36];

	assert_int_equal(baton_new_message_id(a, sizeof(a)), BATON_OK);
	assert_int_equal(baton_new_message_id(b, sizeof(b)), BATON_OK);
	assert_int_equal(strlen(a), 36);
	assert_true(validate_own_id(a));
	assert_string_not_equal(a, b);
	assert_int_equal(a[8], '-');
	assert_int_equal(a[14], '4');	/* version 4 */
	assert_non_null(strchr("89ab", a[19]));	/* RFC 4122 variant */
	assert_int_equal(baton_new_message_id(small, sizeof(small)),
	    BATON_E_INVALID_ARG);
}

static void
test_connect_args(void **state)
{
	baton_config cfg;
	baton_client *c = (baton_client *)&cfg;
	baton_error e;

	memset(&cfg, 0, sizeof(cfg));
	assert_int_equal(baton_connect(NULL, &c, &e), BATON_E_INVALID_ARG);
	cfg.broker = "127.0.0.1:1";
	cfg.ca_file = "/nonexistent/ca.crt";
	cfg.cert_file = "/nonexistent/node.crt";
	cfg.key_file = "/nonexistent/node.key";
	assert_int_equal(baton_connect(&cfg, &c, &e), BATON_E_CONFIG);
	assert_null(c);
	assert_int_equal(e.status, BATON_E_CONFIG);
	assert_non_null(strstr(e.text, "/nonexistent/ca.crt"));
	cfg.broker = "no-port";
	assert_int_equal(baton_connect(&cfg, &c, NULL), BATON_E_INVALID_ARG);
	cfg.broker = "127.0.0.1:1";
	cfg.window = BATON_MAX_WINDOW + 1;
	assert_int_equal(baton_connect(&cfg, &c, &e), BATON_E_INVALID_ARG);

	assert_int_equal(baton_submit(NULL, "cmht", NULL, NULL, NULL, &e),
	    BATON_E_INVALID_ARG);
	assert_int_equal(baton_ack(NULL, NULL, &e), BATON_E_INVALID_ARG);
	assert_string_equal(baton_node_id(NULL), "");
	baton_close(NULL);
	baton_incoming_free(NULL);
	assert_string_equal(baton_strerror(BATON_E_REFUSED),
	    "refused by the broker");
	assert_string_equal(baton_strerror(9999), "unknown error");
}

static void
test_incoming_json(void **state)
{
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Handover h = BATON__V1__HANDOVER__INIT;
	Baton__V1__RiskSummary r = BATON__V1__RISK_SUMMARY__INIT;
	Baton__V1__Notice n = BATON__V1__NOTICE__INIT;
	char *withheld[] = { "subject", "contacts" };
	baton_incoming in;
	json_t *j;
	json_error_t je;
	char *s;

	r.level = BATON__V1__RISK_LEVEL__RISK_LEVEL_CRITICAL;
	h.risk_summary = &r;
	env.message_id = "provider/m-1";
	env.from = "provider";
	env.to = "cmht";
	env.handover = &h;
	memset(&in, 0, sizeof(in));
	in.type = BATON_INCOMING_HANDOVER;
	in.ack_id = in.reference = "provider/m-1";
	in.message_id = "m-1";
	in.from = "provider";
	in.to = "cmht";
	in.attempt = 2;
	in.at_ms = 1795000000123LL;
	in.envelope = &env;
	in.handover = &h;
	in.n_withheld = 2;
	in.withheld = withheld;

	assert_non_null(s = baton_incoming_to_json(&in));
	assert_null(strchr(s, '\n'));
	assert_non_null(j = json_loads(s, 0, &je));
	free(s);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    "handover");
	assert_string_equal(json_string_value(json_object_get(j, "from")),
	    "provider");
	/* what to act on, and the sender's own id */
	assert_string_equal(json_string_value(json_object_get(j, "reference")),
	    "provider/m-1");
	assert_string_equal(json_string_value(json_object_get(j, "message_id")),
	    "m-1");
	assert_int_equal(json_integer_value(json_object_get(j, "attempt")), 2);
	assert_string_equal(json_string_value(json_object_get(j,
	    "received_at")), "2026-11-18T11:06:40.123Z");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(json_object_get(j, "handover"), "risk_summary"),
	    "level")), "RISK_LEVEL_CRITICAL");
	assert_int_equal(json_array_size(json_object_get(j, "withheld")), 2);
	assert_string_equal(json_string_value(json_array_get(
	    json_object_get(j, "withheld"), 1)), "contacts");
	json_decref(j);

	n.notice_id = "n-7";
	n.kind = BATON__V1__NOTICE_KIND__NOTICE_KIND_ESCALATED;
	n.message_id = "provider/m-1";
	n.at_ms = 1795000000123LL;
	memset(&in, 0, sizeof(in));
	in.type = BATON_INCOMING_NOTICE;
	in.ack_id = "n-7";
	in.reference = "provider/m-1";
	in.message_id = "m-1";
	in.from = in.to = "";
	in.at_ms = n.at_ms;
	in.notice = &n;
	assert_non_null(s = baton_incoming_to_json(&in));
	assert_non_null(j = json_loads(s, 0, &je));
	free(s);
	assert_string_equal(json_string_value(json_object_get(j, "type")),
	    "notice");
	assert_string_equal(json_string_value(json_object_get(j, "notice_id")),
	    "n-7");
	assert_string_equal(json_string_value(json_object_get(j, "reference")),
	    "provider/m-1");
	assert_string_equal(json_string_value(json_object_get(j, "message_id")),
	    "m-1");
	assert_string_equal(json_string_value(json_object_get(j, "kind")),
	    "NOTICE_KIND_ESCALATED");
	assert_string_equal(json_string_value(json_object_get(j, "at")),
	    "2026-11-18T11:06:40.123Z");
	json_decref(j);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_format_time),
		cmocka_unit_test(test_message_id),
		cmocka_unit_test(test_connect_args),
		cmocka_unit_test(test_incoming_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
