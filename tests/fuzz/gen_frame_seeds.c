/*
 * gen_frame_seeds.c - writes the seed corpus for fuzz_frame.
 *
 * Each seed is one whole frame (length prefix and packed body) built from
 * a JSON description through the real JSON mapping and frame codec, so the
 * seeds follow the schema as it is. The submit and deliver seeds carry the
 * fictional example handover from deploy/examples. Run by hand when the
 * schema changes; its output is committed under corpus/frame/.
 *
 * usage: gen_frame_seeds outdir example-handover.json
 */
#include <err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "json.h"

static const struct seed {
	const char	*name;
	const char	*json;	/* %s, if present, is the example handover */
} seeds[] = {
	{ "hello", "{\"hello\":{\"protocol_version\":1,\"client_name\":\"baton/0.1\"}}" },
	{ "welcome", "{\"welcome\":{\"protocol_version\":1,\"node_id\":\"cmht\","
	    "\"role\":\"cmht\",\"organisation\":\"Example Trust\",\"max_frame\":4194304,"
	    "\"max_unacked\":16,\"broker_id\":\"broker-1\"}}" },
	{ "submit", "{\"submit\":{\"envelope\":{\"message_id\":\"msg-0001\","
	    "\"to\":\"cmht\",\"created_at_ms\":\"1741170000123\",\"handover\":%s}}}" },
	{ "receipt", "{\"receipt\":{\"message_id\":\"msg-0001\",\"code\":\"CODE_OK\","
	    "\"duplicate\":true,\"received_at_ms\":\"1741170000200\"}}" },
	{ "pull", "{\"pull\":{\"credit\":8}}" },
	{ "deliver", "{\"deliver\":{\"envelope\":{\"message_id\":\"msg-0001\","
	    "\"from\":\"provider\",\"to\":\"cmht\",\"handover\":%s},"
	    "\"withheld\":[\"safeguarding\"],\"attempt\":2}}" },
	{ "ack", "{\"ack\":{\"message_id\":\"msg-0001\",\"attempt\":1}}" },
	{ "decision", "{\"decision\":{\"message_id\":\"msg-0001\","
	    "\"outcome\":\"DECISION_OUTCOME_REJECT\",\"reason\":"
	    "\"REJECT_REASON_WRONG_SERVICE\",\"suggested_node\":\"eip\"}}" },
	{ "status", "{\"status\":{\"message_id\":\"msg-0001\",\"code\":1,"
	    "\"state\":\"delivered\",\"events\":[{\"at_ms\":\"1\",\"event\":"
	    "\"submitted\",\"actor\":\"provider\"},{\"at_ms\":\"2\",\"event\":"
	    "\"delivered\",\"actor\":\"cmht\"}]}}" },
	{ "notice", "{\"notice\":{\"notice_id\":\"n-1\",\"kind\":"
	    "\"NOTICE_KIND_ESCALATED\",\"message_id\":\"msg-0001\",\"risk_level\":"
	    "\"RISK_LEVEL_HIGH\",\"overdue_ms\":\"3600000\",\"attempt\":3}}" },
	{ "ping", "{\"ping\":{\"nonce\":\"18446744073709551615\"}}" },
	{ "error", "{\"error\":{\"code\":\"CODE_MALFORMED_FRAME\",\"text\":\"bad\"}}" },
	/* protocol version 3 */
	{ "audit_query", "{\"audit_query\":{\"query_id\":\"0123456789abcdef\","
	    "\"kind\":\"AUDIT_QUERY_KIND_EXPORT\",\"format\":\"AUDIT_FORMAT_CSV\","
	    "\"since_ms\":\"1741170000000\",\"until_ms\":\"1741256399999\","
	    "\"nodes\":[\"cmht\"],\"message_ids\":[\"provider/msg-0001\"],"
	    "\"events\":[\"submitted\",\"accepted\"],"
	    "\"nhs_number\":\"9434765919\"}}" },
	{ "audit_chunk", "{\"audit_chunk\":{\"query_id\":\"0123456789abcdef\","
	    "\"data\":\"MTIzNDphYmMK\"}}" },
	{ "audit_done", "{\"audit_done\":{\"query_id\":\"0123456789abcdef\","
	    "\"code\":\"CODE_OK\",\"records\":\"42\",\"head_seq\":\"1234\","
	    "\"head_hash\":\"9f86d081884c7d659a2feaa0c55ad015"
	    "a3bf4f1b2b0b822cd15d6c15b0f00a08\"}}" },
	{ "work_list_request", "{\"work_list_request\":{\"kind\":"
	    "\"WORK_LIST_KIND_OUTBOX\",\"undecided\":true,\"since_ms\":"
	    "\"1741170000000\",\"cursor\":\"provider/msg-0001\",\"limit\":2}}" },
	{ "work_list", "{\"work_list\":{\"kind\":\"WORK_LIST_KIND_INBOX\","
	    "\"code\":\"CODE_OK\",\"items\":[{\"reference\":"
	    "\"provider/msg-0001\",\"sender\":\"provider\",\"recipient\":"
	    "\"cmht\",\"state\":\"acknowledged\",\"risk_level\":"
	    "\"RISK_LEVEL_HIGH\",\"transition_kind\":\"TRANSITION_KIND_STEP_UP\","
	    "\"received_at_ms\":\"1741170000200\",\"delivered_at_ms\":"
	    "\"1741170001000\",\"has_deadline\":true,\"deadline_in_ms\":"
	    "\"-3600000\",\"escalated\":true,\"hops\":1}],"
	    "\"next_cursor\":\"provider/msg-0001\"}}" },
};

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp;
	char *buf;
	long n;

	if ((fp = fopen(path, "rb")) == NULL)
		err(1, "%s", path);
	if (fseek(fp, 0, SEEK_END) != 0 || (n = ftell(fp)) < 0)
		err(1, "%s", path);
	rewind(fp);
	if ((buf = malloc((size_t)n + 1)) == NULL)
		err(1, NULL);
	if (fread(buf, 1, (size_t)n, fp) != (size_t)n)
		errx(1, "%s: short read", path);
	buf[n] = '\0';
	fclose(fp);
	*len = (size_t)n;
	return buf;
}

int
main(int argc, char *argv[])
{
	ProtobufCMessage *h, *f;
	char errbuf[512], path[4096];
	char *example, *compact, *text;
	const char *hole;
	uint8_t *out;
	size_t i, len, outlen;
	FILE *fp;

	if (argc != 3) {
		fprintf(stderr, "usage: gen_frame_seeds outdir example.json\n");
		return 2;
	}
	example = slurp(argv[2], &len);
	if ((h = baton_json_parse(example, len, &baton__v1__handover__descriptor,
	    errbuf, sizeof(errbuf))) == NULL)
		errx(1, "%s: %s", argv[2], errbuf);
	if ((compact = baton_json_format(h)) == NULL)
		errx(1, "out of memory");
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		len = strlen(seeds[i].json) + strlen(compact) + 1;
		if ((text = malloc(len)) == NULL)
			err(1, NULL);
		/* spliced by hand: a table string is never a format */
		if ((hole = strstr(seeds[i].json, "%s")) != NULL)
			snprintf(text, len, "%.*s%s%s",
			    (int)(hole - seeds[i].json), seeds[i].json,
			    compact, hole + 2);
		else
			snprintf(text, len, "%s", seeds[i].json);
		if ((f = baton_json_parse(text, strlen(text),
		    &baton__v1__frame__descriptor, errbuf, sizeof(errbuf))) == NULL)
			errx(1, "seed %s: %s", seeds[i].name, errbuf);
		if (frame_encode((Frame *)f, BATON_MAX_FRAME_DEFAULT, &out,
		    &outlen) != FRAME_OK)
			errx(1, "seed %s: cannot encode", seeds[i].name);
		snprintf(path, sizeof(path), "%s/%02zu-%s.bin", argv[1], i + 1,
		    seeds[i].name);
		if ((fp = fopen(path, "wb")) == NULL ||
		    fwrite(out, 1, outlen, fp) != outlen || fclose(fp) != 0)
			err(1, "%s", path);
		free(out);
		free(text);
		protobuf_c_message_free_unpacked(f, NULL);
	}
	free(compact);
	free(example);
	protobuf_c_message_free_unpacked(h, NULL);
	return 0;
}
