/*
 * pipeline.c - drives libbaton's event-loop API with poll(2): one sender
 * and one receiver connection in a single loop, submitting and receiving
 * at once (test 02-submit-pipelined-poll).
 *
 * The sender submits COUNT handovers with ids PREFIX-0 ... to node TO
 * through baton_submit_async, a third each as a built struct, as packed
 * bytes and as JSON, never more than WINDOW outstanding (it checks that
 * the window answers BATON_E_AGAIN exactly when full). The receiver takes
 * deliveries with baton_next(c, 0, ...) and acks them with baton_ack_async.
 * Both sockets are watched with poll(2) (POLLOUT only while
 * baton_want_write) and run with baton_process. It checks: every receipt
 * is accepted, matched to its submit (user tag and id), arrives once, and
 * carries sane times; every delivery is one of ours, arrives once, from
 * SENDER; every ack is answered OK. Midway a blocking baton_status runs on
 * the sender while submits are in flight; up front, a second submit of an
 * outstanding id and a packed handover that is not one are refused locally
 * without harming the connection (that PREFIX-dup handover is delivered
 * once and acked with the blocking baton_ack, amid the async acks). Prints "receipts=N deliveries=N acks=N"
 * and exits 0, or names the first problem and exits 1.
 *
 * usage: pipeline BROKER CA SENDER_CERT SENDER_KEY RECV_CERT RECV_KEY
 *        TO JSON PREFIX COUNT WINDOW
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton.h"
#include "json.h"

#define DEADLINE_US	(120LL * 1000000)

struct run {
	baton_client	*snd, *rcv;
	const char	*sender;	/* the sender's node id */
	const char	*to;
	const char	*prefix;
	long		 count;
	unsigned	 window;
	Baton__V1__Handover *h;		/* the handover, built */
	uint8_t		*packed;	/* and packed */
	size_t		 packed_len;
	char		*json;		/* and as JSON */
	size_t		 json_len;
	long		 next;		/* next index to submit */
	long		 receipts, deliveries, acks;
	unsigned char	*got_receipt;	/* per index */
	unsigned char	*got_delivery;
	int		 saw_again;	/* the window said BATON_E_AGAIN */
	int		 status_done;	/* the blocking call ran */
	int		 got_dup;	/* PREFIX-dup delivered */
};

static int
die(const char *fmt, ...)
{
	va_list ap;

	fputs("pipeline: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static char *
slurp(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (fp == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 &&
	    fseek(fp, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n)) != NULL &&
	    fread(buf, 1, (size_t)n, fp) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	if (buf != NULL)
		*len = (size_t)n;
	fclose(fp);
	return buf;
}

static baton_client *
open_conn(const char *broker, const char *ca, const char *cert,
    const char *key, unsigned window)
{
	baton_config cfg;
	baton_client *c;
	baton_error e;

	memset(&cfg, 0, sizeof(cfg));
	cfg.broker = broker;
	cfg.ca_file = ca;
	cfg.cert_file = cert;
	cfg.key_file = key;
	cfg.client_name = "pipeline-test";
	cfg.timeout_ms = 15000;
	cfg.window = window;
	if (baton_connect(&cfg, &c, &e) != BATON_OK)
		die("connect %s: %s", cert, e.text);
	return c;
}

/* The index in PREFIX-INDEX, or -1. */
static long
index_of(const struct run *r, const char *id)
{
	size_t n = strlen(r->prefix);
	char *ep;
	long i;

	if (strncmp(id, r->prefix, n) != 0 || id[n] != '-')
		return -1;
	i = strtol(id + n + 1, &ep, 10);
	if (*ep != '\0' || i < 0 || i >= r->count)
		return -1;
	return i;
}

static int
submit_one(struct run *r, long i)
{
	char id[160];
	baton_error e;
	void *user = (void *)(intptr_t)(i + 1);
	int rc;

	snprintf(id, sizeof(id), "%s-%ld", r->prefix, i);
	switch (i % 3) {
	case 0:
		rc = baton_submit_async(r->snd, r->to, r->h, id, user, &e);
		break;
	case 1:
		rc = baton_submit_packed_async(r->snd, r->to, r->packed,
		    r->packed_len, id, user, &e);
		break;
	default:
		rc = baton_submit_json_async(r->snd, r->to, r->json,
		    r->json_len, id, user, &e);
		break;
	}
	if (rc != BATON_OK && rc != BATON_E_AGAIN)
		die("submit %s: %s", id, e.text);
	return rc;
}

/* Submits while the window has room; checks it says AGAIN when full. */
static void
fill_window(struct run *r)
{
	while (r->next < r->count) {
		unsigned before = baton_outstanding(r->snd);

		if (submit_one(r, r->next) == BATON_E_AGAIN) {
			if (before != r->window)
				die("BATON_E_AGAIN with %u of %u outstanding",
				    before, r->window);
			r->saw_again = 1;
			return;
		}
		if (before >= r->window)
			die("submit accepted with %u of %u outstanding", before,
			    r->window);
		r->next++;
	}
}

static void
take_receipts(struct run *r)
{
	baton_result res;
	long i;

	while (baton_poll_result(r->snd, &res) == BATON_OK) {
		const baton_receipt *rc = &res.receipt;
		char want[300];

		if (res.kind != BATON_RESULT_RECEIPT)
			die("sender got a result of kind %d", res.kind);
		if (res.status != BATON_OK)
			die("submit %s: %s", rc->message_id, res.error.text);
		if ((i = index_of(r, rc->message_id)) == -1)
			die("receipt for an id we never sent: %s",
			    rc->message_id);
		if ((intptr_t)res.user != i + 1)
			die("receipt for %s carries the user tag of another "
			    "submit", rc->message_id);
		if (r->got_receipt[i]++)
			die("second receipt for %s", rc->message_id);
		snprintf(want, sizeof(want), "%s/%s", r->sender,
		    rc->message_id);
		if (strcmp(rc->reference, want) != 0 || rc->duplicate ||
		    rc->received_at_ms <= 0)
			die("receipt for %s: reference %s duplicate %d",
			    rc->message_id, rc->reference, rc->duplicate);
		if (res.queued_us <= 0 || res.sent_us < res.queued_us ||
		    res.answered_us < res.sent_us)
			die("receipt for %s: times out of order", rc->message_id);
		r->receipts++;
	}
}

static int
is_dup(const struct run *r, const char *id)
{
	size_t n = strlen(r->prefix);

	return strncmp(id, r->prefix, n) == 0 && strcmp(id + n, "-dup") == 0;
}

static void
take_deliveries(struct run *r)
{
	baton_incoming *in;
	baton_error e;
	long i;
	int rc;

	while ((rc = baton_next(r->rcv, 0, &in, &e)) == BATON_OK) {
		if (in->type != BATON_INCOMING_HANDOVER)
			die("receiver got a notice");
		if (is_dup(r, in->message_id)) {
			/* the one local_refusals sent; acked the blocking way */
			if (r->got_dup++ || baton_ack(r->rcv, in, &e) !=
			    BATON_OK)
				die("the -dup handover: twice, or ack: %s",
				    e.text);
			baton_incoming_free(in);
			continue;
		}
		if ((i = index_of(r, in->message_id)) == -1 ||
		    strcmp(in->from, r->sender) != 0)
			die("delivery %s is not one of ours", in->reference);
		if (r->got_delivery[i]++)
			die("second delivery of %s", in->reference);
		if (in->handover == NULL || in->handover->subject == NULL)
			die("delivery %s lacks its subject", in->reference);
		if (baton_ack_async(r->rcv, in, (void *)(intptr_t)(i + 1),
		    &e) != BATON_OK)
			die("ack %s: %s", in->reference, e.text);
		baton_incoming_free(in);
		r->deliveries++;
	}
	if (rc != BATON_E_TIMEOUT)
		die("receive: %s", e.text);
}

static void
take_acks(struct run *r)
{
	baton_result res;

	while (baton_poll_result(r->rcv, &res) == BATON_OK) {
		if (res.kind != BATON_RESULT_ACK || res.status != BATON_OK)
			die("ack %s: %s", res.ack_id, res.error.text);
		if (index_of(r, strchr(res.ack_id, '/') != NULL ?
		    strchr(res.ack_id, '/') + 1 : res.ack_id) !=
		    (intptr_t)res.user - 1)
			die("ack result for %s carries another tag",
			    res.ack_id);
		r->acks++;
	}
}

/* A blocking call among the submits in flight: their receipts are kept. */
static void
blocking_status(struct run *r)
{
	Baton__V1__Status *st = NULL;
	baton_error e;
	char id[160];
	unsigned before = baton_outstanding(r->snd);

	snprintf(id, sizeof(id), "%s-0", r->prefix);
	if (baton_status(r->snd, id, &st, &e) != BATON_OK)
		die("baton_status %s with %u submits outstanding: %s", id,
		    before, e.text);
	baton_status_free(st);
	if (baton_outstanding(r->snd) != before)
		die("a blocking call lost results (%u outstanding, was %u)",
		    baton_outstanding(r->snd), before);
	r->status_done = 1;
}

/* Refusals that must leave the connection usable. */
static void
local_refusals(struct run *r)
{
	static const uint8_t junk[] = { 0x0a, 0x7f, 0x01 };	/* short */
	baton_error e;
	char id[160];

	snprintf(id, sizeof(id), "%s-dup", r->prefix);
	if (baton_submit_async(r->snd, r->to, r->h, id, NULL, &e) != BATON_OK)
		die("submit %s: %s", id, e.text);
	if (baton_submit_async(r->snd, r->to, r->h, id, NULL, &e) !=
	    BATON_E_INVALID_ARG)
		die("a second submit of outstanding %s was not refused", id);
	if (baton_submit_packed_async(r->snd, r->to, junk, sizeof(junk),
	    "junk", NULL, &e) != BATON_E_INVALID_ARG)
		die("packed junk was not refused");
	if (baton_drain(r->snd, 15000, &e) != BATON_OK)
		die("drain: %s", e.text);
	if (baton_poll_result(r->snd, &(baton_result){ 0 }) != BATON_OK ||
	    baton_outstanding(r->snd) != 0)
		die("the %s receipt did not come", id);
}

static void
loop(struct run *r)
{
	struct pollfd pfd[2];
	baton_error e;
	int64_t end = baton_monotonic_us() + DEADLINE_US;

	while (r->receipts < r->count || r->deliveries < r->count ||
	    r->acks < r->count || !r->got_dup) {
		if (baton_monotonic_us() > end)
			die("deadline: receipts=%ld deliveries=%ld acks=%ld",
			    r->receipts, r->deliveries, r->acks);
		fill_window(r);
		if (!r->status_done && r->next >= r->count / 2 &&
		    baton_outstanding(r->snd) > 0)
			blocking_status(r);
		pfd[0].fd = baton_fd(r->snd);
		pfd[0].events = POLLIN |
		    (baton_want_write(r->snd) ? POLLOUT : 0);
		pfd[1].fd = baton_fd(r->rcv);
		pfd[1].events = POLLIN |
		    (baton_want_write(r->rcv) ? POLLOUT : 0);
		if (poll(pfd, 2, 1000) < 0 && errno != EINTR)
			die("poll: %s", strerror(errno));
		if (baton_process(r->snd, &e) != BATON_OK)
			die("sender: %s", e.text);
		if (baton_process(r->rcv, &e) != BATON_OK)
			die("receiver: %s", e.text);
		take_receipts(r);
		take_deliveries(r);
		take_acks(r);
	}
}

int
main(int argc, char **argv)
{
	struct run r;
	baton_error e;
	char jerr[256];
	char *ep;

	if (argc != 12)
		die("usage: pipeline BROKER CA SENDER_CERT SENDER_KEY "
		    "RECV_CERT RECV_KEY TO JSON PREFIX COUNT WINDOW");
	memset(&r, 0, sizeof(r));
	r.to = argv[7];
	r.prefix = argv[9];
	r.count = strtol(argv[10], &ep, 10);
	if (*ep != '\0' || r.count < 1 || r.count > 100000)
		die("COUNT must be 1 to 100000");
	r.window = (unsigned)strtoul(argv[11], &ep, 10);
	if (*ep != '\0' || r.window < 1 || r.window > BATON_MAX_PIPELINE)
		die("WINDOW must be 1 to %d", BATON_MAX_PIPELINE);
	if ((r.json = slurp(argv[8], &r.json_len)) == NULL)
		die("cannot read %s", argv[8]);
	r.h = (Baton__V1__Handover *)baton_json_parse(r.json, r.json_len,
	    &baton__v1__handover__descriptor, jerr, sizeof(jerr));
	if (r.h == NULL)
		die("%s: %s", argv[8], jerr);
	r.packed_len = baton__v1__handover__get_packed_size(r.h);
	if ((r.packed = malloc(r.packed_len + 1)) == NULL)
		die("out of memory");
	baton__v1__handover__pack(r.h, r.packed);
	r.got_receipt = calloc((size_t)r.count, 1);
	r.got_delivery = calloc((size_t)r.count, 1);
	if (r.got_receipt == NULL || r.got_delivery == NULL)
		die("out of memory");

	r.snd = open_conn(argv[1], argv[2], argv[3], argv[4], 0);
	r.rcv = open_conn(argv[1], argv[2], argv[5], argv[6], 64);
	r.sender = baton_node_id(r.snd);
	if (baton_set_pipeline(r.snd, r.window) != BATON_OK)
		die("baton_set_pipeline %u refused", r.window);
	local_refusals(&r);
	/* the first baton_next grants credit; nothing is there yet */
	take_deliveries(&r);

	loop(&r);
	if (baton_drain(r.rcv, 15000, &e) != BATON_OK ||
	    baton_outstanding(r.snd) != 0 || baton_outstanding(r.rcv) != 0)
		die("requests left outstanding at the end");
	if (r.window < r.count && !r.saw_again)
		die("the window never filled");
	printf("receipts=%ld deliveries=%ld acks=%ld\n", r.receipts,
	    r.deliveries, r.acks);
	baton_close(r.snd);
	baton_close(r.rcv);
	protobuf_c_message_free_unpacked(&r.h->base, NULL);
	free(r.packed);
	free(r.json);
	free(r.got_receipt);
	free(r.got_delivery);
	return 0;
}
