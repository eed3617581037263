/*
 * gen_dispatch_seeds.c - writes the seed corpus for fuzz_dispatch.
 *
 * Each seed is a short story in the input format of dispatch_ops.h: a
 * handover accepted, one redacted and rejected, a redirect to a role that
 * sees less, escalation and expiry, a receiver superseded and reconnected,
 * the refusals, and raw frames packed by protobuf-c as the network layer
 * would read them. Session and node numbers are fuzz_dispatch.c's (below).
 * Run by hand when the format changes; its output is committed under
 * corpus/dispatch/.
 *
 * usage: gen_dispatch_seeds outdir
 */
#include <err.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dispatch_ops.h"
#include "frame.h"

/* fuzz_dispatch.c's sessions and node names, by index */
enum { S_PROVIDER, S_CMHT, S_CMHT2, S_GP, S_CRISIS, S_HOUSING, S_AUDITOR,
    S_STRANGER, S_RETIRED };
enum { N_PROVIDER, N_CMHT, N_GP, N_CRISIS, N_HOUSING, N_AUDITOR, N_RETIRED,
    N_NOBODY, N_EMPTY };

#define REFERRAL	1
#define DISCHARGE	2
#define HIGH		3
#define CRITICAL	4
#define ALL_SECTIONS	0x3f	/* every optional section, a safeguarding status */
#define ACCEPT		1
#define REJECT		2
#define REDIRECT	3

struct seed {
	uint8_t	 buf[4096];
	size_t	 len;
};

static void
put(struct seed *s, int n, ...)
{
	va_list ap;

	va_start(ap, n);
	while (n-- > 0) {
		if (s->len == sizeof(s->buf))
			errx(1, "seed too long");
		s->buf[s->len++] = (uint8_t)va_arg(ap, int);
	}
	va_end(ap);
}

#define HELLO(s, sess)		put(s, 3, OP_HELLO, sess, 0)
#define SUBMIT(s, sess, id, to, kind, risk, secs, flags) \
	put(s, 8, OP_SUBMIT, sess, id, to, kind, risk, secs, flags)
#define PULL(s, sess, n)	put(s, 3, OP_PULL, sess, n)
#define ACK(s, sess, pick)	put(s, 3, OP_ACK, sess, pick)
#define DECIDE(s, sess, pick, out, reason, to) \
	put(s, 6, OP_DECIDE, sess, pick, out, reason, to)
#define STATUS(s, sess, pick)	put(s, 4, OP_STATUS, sess, pick, 0)
#define PASS(s)			put(s, 3, OP_CTRL, CTRL_PASS, 0)
#define RECONNECT(s, sess)	put(s, 3, OP_CTRL, CTRL_RECONNECT, sess)
#define TIME(s, quarters)	put(s, 3, OP_CTRL, CTRL_TIME, (quarters) - 1)

/* Appends f as an OP_RAW frame body for session sess. */
static void
raw(struct seed *s, int sess, const Frame *f)
{
	uint8_t *wire;
	size_t len;

	if (frame_encode(f, BATON_MAX_FRAME_DEFAULT, &wire, &len) != FRAME_OK)
		errx(1, "frame_encode");
	len -= BATON_FRAME_HDR;
	put(s, 4, OP_RAW, sess, (int)(len >> 8), (int)(len & 0xff));
	if (s->len + len > sizeof(s->buf))
		errx(1, "seed too long");
	memcpy(s->buf + s->len, wire + BATON_FRAME_HDR, len);
	s->len += len;
	free(wire);
}

static void
seed_raw(struct seed *s)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;
	Baton__V1__Pull p = BATON__V1__PULL__INIT;
	Baton__V1__Ping ping = BATON__V1__PING__INIT;
	Baton__V1__Ack a = BATON__V1__ACK__INIT;
	Baton__V1__StatusRequest q = BATON__V1__STATUS_REQUEST__INIT;

	h.protocol_version = BATON_PROTOCOL_VERSION;
	h.client_name = (char *)"seed";
	f.body_case = BATON__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	raw(s, S_CMHT, &f);
	raw(s, S_PROVIDER, &f);
	SUBMIT(s, S_PROVIDER, 1, N_CMHT, REFERRAL, HIGH, ALL_SECTIONS, 0);
	PASS(s);
	p.credit = 4;
	f.body_case = BATON__V1__FRAME__BODY_PULL;
	f.pull = &p;
	raw(s, S_CMHT, &f);
	PASS(s);
	a.message_id = (char *)"provider/m1";
	f.body_case = BATON__V1__FRAME__BODY_ACK;
	f.ack = &a;
	raw(s, S_CMHT, &f);
	q.message_id = (char *)"m1";
	f.body_case = BATON__V1__FRAME__BODY_STATUS_REQUEST;
	f.status_request = &q;
	raw(s, S_PROVIDER, &f);
	ping.nonce = 42;
	f.body_case = BATON__V1__FRAME__BODY_PING;
	f.ping = &ping;
	raw(s, S_PROVIDER, &f);
	/* bytes that are no frame */
	put(s, 7, OP_RAW, S_GP, 0, 3, 0xff, 0xff, 0xff);
}

/* Accepted, acknowledged; the sender's notice delivered and acked. */
static void
seed_accept(struct seed *s)
{
	HELLO(s, S_PROVIDER);
	HELLO(s, S_CMHT);
	SUBMIT(s, S_PROVIDER, 1, N_CMHT, REFERRAL, HIGH, ALL_SECTIONS, 0);
	PASS(s);
	PULL(s, S_CMHT, 4);
	PASS(s);
	ACK(s, S_CMHT, 1);
	DECIDE(s, S_CMHT, 1, ACCEPT, 0, N_EMPTY);
	PASS(s);
	PULL(s, S_PROVIDER, 4);
	PASS(s);
	ACK(s, S_PROVIDER, 2);
	STATUS(s, S_PROVIDER, 0);
	PASS(s);
}

/* gp may see less: delivered redacted, then rejected with a reason. */
static void
seed_redact_reject(struct seed *s)
{
	HELLO(s, S_PROVIDER);
	HELLO(s, S_GP);
	SUBMIT(s, S_PROVIDER, 2, N_GP, REFERRAL, HIGH, ALL_SECTIONS, 0);
	PULL(s, S_GP, 2);
	PASS(s);
	DECIDE(s, S_GP, 1, REJECT, 2, N_EMPTY);
	STATUS(s, S_GP, 1);
	PASS(s);
}

/* cmht passes it on to housing, which sees less and accepts. */
static void
seed_redirect(struct seed *s)
{
	HELLO(s, S_PROVIDER);
	HELLO(s, S_CMHT);
	HELLO(s, S_HOUSING);
	SUBMIT(s, S_PROVIDER, 3, N_CMHT, REFERRAL, HIGH, ALL_SECTIONS, 0);
	PULL(s, S_CMHT, 1);
	PULL(s, S_HOUSING, 1);
	PASS(s);
	DECIDE(s, S_CMHT, 1, REDIRECT, 0, N_HOUSING);
	PASS(s);
	DECIDE(s, S_HOUSING, 1, ACCEPT, 0, N_EMPTY);
	PASS(s);
}

/* Critical and never delivered: escalated after an hour, expired after five days. */
static void
seed_escalate_expire(struct seed *s)
{
	HELLO(s, S_PROVIDER);
	SUBMIT(s, S_PROVIDER, 4, N_CRISIS, REFERRAL, CRITICAL, 0x03, 0);
	PASS(s);
	TIME(s, 8);
	PASS(s);
	TIME(s, 256);
	TIME(s, 256);
	PASS(s);
	PULL(s, S_PROVIDER, 8);
	HELLO(s, S_CRISIS);
	PULL(s, S_CRISIS, 8);
	PASS(s);
}

/* A newer session of cmht takes over; after a reconnect it comes again. */
static void
seed_receivers(struct seed *s)
{
	HELLO(s, S_PROVIDER);
	HELLO(s, S_CMHT);
	HELLO(s, S_CMHT2);
	PULL(s, S_CMHT, 2);
	PULL(s, S_CMHT2, 2);
	SUBMIT(s, S_PROVIDER, 5, N_CMHT, REFERRAL, HIGH, 0x01, 0);
	PASS(s);
	RECONNECT(s, S_CMHT2);
	HELLO(s, S_CMHT2);
	PULL(s, S_CMHT2, 2);
	PASS(s);
	ACK(s, S_CMHT2, 1);
	PASS(s);
}

/* Refusals: at Hello, of submits, of a Pull, of early or foreign decisions. */
static void
seed_refusals(struct seed *s)
{
	HELLO(s, S_STRANGER);
	HELLO(s, S_RETIRED);
	put(s, 3, OP_HELLO, S_GP, 9);
	HELLO(s, S_AUDITOR);
	PULL(s, S_AUDITOR, 1);
	HELLO(s, S_PROVIDER);
	SUBMIT(s, S_PROVIDER, 6, N_CMHT, REFERRAL, HIGH, 0, SUBMIT_BAD_NHS);
	SUBMIT(s, S_PROVIDER, 7, N_CMHT, REFERRAL, HIGH, 0, SUBMIT_NO_SUBJECT);
	SUBMIT(s, S_PROVIDER, 8, N_NOBODY, REFERRAL, HIGH, 0, 0);
	SUBMIT(s, S_PROVIDER, 9, N_RETIRED, REFERRAL, HIGH, 0, 0);
	SUBMIT(s, S_PROVIDER, 10, N_HOUSING, DISCHARGE, HIGH, 0, 0);
	SUBMIT(s, S_PROVIDER, 11, N_CMHT, 0, HIGH, 0, 0);
	SUBMIT(s, S_PROVIDER, 12, N_CMHT, REFERRAL, HIGH, 0x01, 0);
	SUBMIT(s, S_PROVIDER, 12, N_CMHT, REFERRAL, HIGH, 0x02, 0);
	SUBMIT(s, S_PROVIDER, 12, N_CMHT, REFERRAL, HIGH, 0x01, 0);
	PASS(s);
	HELLO(s, S_GP);
	DECIDE(s, S_GP, 7, ACCEPT, 0, N_EMPTY);
	HELLO(s, S_CMHT);
	DECIDE(s, S_CMHT, 7, ACCEPT, 0, N_EMPTY);
	ACK(s, S_CMHT, 7);
	STATUS(s, S_GP, 7);
	PASS(s);
}

static const struct {
	const char	*name;
	void		(*make)(struct seed *);
} seeds[] = {
	{ "raw", seed_raw },
	{ "accept", seed_accept },
	{ "redact-reject", seed_redact_reject },
	{ "redirect", seed_redirect },
	{ "escalate-expire", seed_escalate_expire },
	{ "receivers", seed_receivers },
	{ "refusals", seed_refusals },
};

int
main(int argc, char *argv[])
{
	char path[4096];
	struct seed s;
	FILE *fp;
	size_t i;

	if (argc != 2)
		errx(2, "usage: gen_dispatch_seeds outdir");
	for (i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
		memset(&s, 0, sizeof(s));
		seeds[i].make(&s);
		snprintf(path, sizeof(path), "%s/%s.bin", argv[1], seeds[i].name);
		if ((fp = fopen(path, "wb")) == NULL ||
		    fwrite(s.buf, 1, s.len, fp) != s.len || fclose(fp) != 0)
			err(1, "%s", path);
	}
	return 0;
}
