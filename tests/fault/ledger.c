/*
 * ledger.c - the ledger harness of the reliability tests (TESTPLAN D1, D3,
 * A3): senders and recipients that write down what the broker promised
 * them, and a checker that holds the broker to it.
 *
 *   ledger send  --prefix P --count N --to NODE[,NODE...] --json FILE
 *                --ledger FILE [--until FILE]  (+ connection options)
 *   ledger recv  --log FILE --stop-file FILE [--idle S]  (+ connection options)
 *   ledger check --sent FILE... --recv FILE... [--audit JSONL]
 *
 * Owns: the ledger and log formats below and the invariants the checker
 * asserts. It talks to the broker only through libbaton, like a partner
 * system would; it never reads the broker's store.
 *
 * Sender ledger (one line per event, fields separated by one space):
 *   submit ID TO SHA256                    before the first attempt
 *   receipt NODE ID TO SHA256 RECEIVED_AT_MS DUP LOCAL_MS
 *                                          after a Receipt with code OK,
 *                                          flushed and fsync'd
 * Recipient log:
 *   deliver NODE ID ATTEMPT SHA256 FROM AT_MS LOCAL_MS
 *                                          fsync'd before the ack is sent;
 *                                          ID is the whole reference when
 *                                          it is not FROM/ID
 *   acked NODE ID ATTEMPT result|status    the broker confirmed the ack
 *                                          (AckResult OK, or, when the
 *                                          AckResult was lost with the
 *                                          connection, the message's status
 *                                          read after reconnecting)
 *   ackrefused NODE ID ATTEMPT CODE        the broker refused an ack
 *   notice NODE ID                         a notice, acked
 * IDs are the senders' own ids; the broker names a handover by its
 * reference SENDER/ID, which the recipient acks and asks about, and which
 * the checker holds to the sender's receipt (ids belong to their sender).
 * SHA256 is over the packed baton.v1.Handover bytes. A message's handover
 * is the example with one support_plan goal naming the message id, padded
 * to a size that varies with the index, so no two hashes are equal.
 *
 * Invariants: a sender resends a message id until it gets a Receipt (the
 * broker's dedup answers with the original one), so it never moves on with
 * an id in doubt; every wait is bounded by --deadline; a loop that cannot
 * reach the broker backs off (50 ms doubling to 1 s) and gives up at the
 * deadline with the last error. The checker exits 0 only if every
 * invariant holds; it prints ids and counts, never handover content.
 */
#include <sys/stat.h>
#include <sys/types.h>

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/evp.h>

#include "baton.h"
#include "json.h"

#define BACKOFF_MIN_MS	50
#define BACKOFF_MAX_MS	1000
#define MAX_FILES	16
#define MAX_TO		8
#define MAX_EXAMPLES	5	/* failures printed per invariant */
#define ID_MAX		128	/* as proto/validate.h: own message ids */
#define NODE_MAX	64	/* node ids */
#define REF_MAX		(NODE_MAX + 1 + ID_MAX)	/* references NODE/ID */
#define PAD_UNIT	"Review the plan with the person and their sister. "

struct opts {
	const char	*broker;	/* host:port, or NULL with port_file */
	const char	*port_file;	/* re-read before every connect */
	const char	*ca, *cert, *key;
	const char	*prefix, *to, *json, *out, *stop_file, *audit;
	const char	*until;		/* send: no new id once this exists */
	long		 count;
	int		 deadline_s;	/* the whole command */
	int		 timeout_ms;	/* libbaton per-request timeout */
	int		 idle_ms;	/* recv: quiet time before stopping */
	const char	*sent[MAX_FILES], *recv[MAX_FILES];
	size_t		 nsent, nrecv;
};

/* One connection to the broker that is dropped and made again on loss. */
struct conn {
	const struct opts *o;
	baton_client	*c;
	int		 backoff_ms;
	unsigned long	 connects;
	unsigned long	 losses;
	char		 last_err[1024];
};

static const char *progname = "ledger";

static void lwarn(const char *, ...) __attribute__((format(printf, 1, 2)));

static void
lwarn(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The sender's own id in a reference "NODE/ID" (the logs' join key). */
static const char *
own_part(const char *ref)
{
	const char *slash = strchr(ref, '/');

	return slash != NULL ? slash + 1 : ref;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec ts;

	if (ms <= 0)
		return;
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static int
sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];
	unsigned int mdlen = 0;
	int i;

	if (EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) != 1 ||
	    mdlen != 32)
		return -1;
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	return 0;
}

/* Hash of a handover as packed; NULL (everything withheld) hashes "". */
static int
handover_sha(const Baton__V1__Handover *h, char out[65])
{
	uint8_t *buf;
	size_t len;
	int rc;

	len = h != NULL ? baton__v1__handover__get_packed_size(h) : 0;
	if ((buf = malloc(len ? len : 1)) == NULL)
		return -1;
	if (h != NULL)
		baton__v1__handover__pack(h, buf);
	rc = sha256_hex(buf, len, out);
	free(buf);
	return rc;
}

/* Appends a line and makes it durable before the caller acts on it. */
static int record(FILE *, int, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
record(FILE *f, int sync, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = vfprintf(f, fmt, ap);
	va_end(ap);
	if (rc < 0 || fflush(f) == EOF)
		return -1;
	if (sync && fsync(fileno(f)) == -1)
		return -1;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Connection with bounded, backed-off reconnects                      */
/* ------------------------------------------------------------------ */

/* Reads the broker's current port from the port file (a restarted broker
 * listens on a new ephemeral port). Returns 0, or -1 if not there yet. */
static int
broker_addr(const struct opts *o, char *buf, size_t len)
{
	FILE *f;
	char line[32];
	char *end;
	long port;

	if (o->broker != NULL) {
		snprintf(buf, len, "%s", o->broker);
		return 0;
	}
	if ((f = fopen(o->port_file, "r")) == NULL)
		return -1;
	if (fgets(line, sizeof(line), f) == NULL) {
		fclose(f);
		return -1;
	}
	fclose(f);
	errno = 0;
	port = strtol(line, &end, 10);
	if (errno != 0 || end == line || (*end != '\0' && *end != '\n') ||
	    port < 1 || port > 65535)
		return -1;
	snprintf(buf, len, "127.0.0.1:%ld", port);
	return 0;
}

/* A refusal that waiting will not cure. */
static int
connect_fatal(int rc, const baton_error *err)
{
	switch (rc) {
	case BATON_E_INVALID_ARG:
	case BATON_E_CONFIG:
	case BATON_E_NOMEM:
		return 1;
	case BATON_E_BROKER:
		switch (err->broker_code) {
		case BATON__V1__CODE__CODE_UNKNOWN_NODE:
		case BATON__V1__CODE__CODE_NODE_DISABLED:
		case BATON__V1__CODE__CODE_CERTIFICATE_REVOKED:
		case BATON__V1__CODE__CODE_BAD_CERTIFICATE:
		case BATON__V1__CODE__CODE_UNSUPPORTED_VERSION:
			return 1;
		}
		return 0;
	}
	return 0;
}

static void
conn_backoff(struct conn *k, int64_t deadline)
{
	int64_t left = deadline - mono_ms();

	k->backoff_ms = k->backoff_ms == 0 ? BACKOFF_MIN_MS :
	    k->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : k->backoff_ms * 2;
	sleep_ms(k->backoff_ms < left ? k->backoff_ms : left);
}

/*
 * Makes sure k->c is connected. Returns 0, or -1 when the deadline passed
 * or the broker refused us for good (k->last_err says why).
 */
static int
conn_get(struct conn *k, int64_t deadline)
{
	baton_config cfg;
	baton_error err;
	char addr[300];
	int rc;

	while (k->c == NULL) {
		if (mono_ms() >= deadline)
			return -1;
		if (broker_addr(k->o, addr, sizeof(addr)) == -1) {
			snprintf(k->last_err, sizeof(k->last_err),
			    "no port in %s yet", k->o->port_file);
			conn_backoff(k, deadline);
			continue;
		}
		memset(&cfg, 0, sizeof(cfg));
		cfg.broker = addr;
		cfg.ca_file = k->o->ca;
		cfg.cert_file = k->o->cert;
		cfg.key_file = k->o->key;
		cfg.client_name = "ledger/0.1";
		cfg.timeout_ms = k->o->timeout_ms;
		memset(&err, 0, sizeof(err));
		rc = baton_connect(&cfg, &k->c, &err);
		if (rc == BATON_OK) {
			k->backoff_ms = 0;
			k->connects++;
			return 0;
		}
		k->c = NULL;
		snprintf(k->last_err, sizeof(k->last_err), "connect %s: %s: %s",
		    addr, baton_strerror(rc), err.text);
		if (connect_fatal(rc, &err))
			return -1;
		conn_backoff(k, deadline);
	}
	return 0;
}

static void
conn_drop(struct conn *k, int rc, const baton_error *err)
{
	snprintf(k->last_err, sizeof(k->last_err), "%s: %s", baton_strerror(rc),
	    err != NULL ? err->text : "");
	baton_close(k->c);
	k->c = NULL;
	k->losses++;
}

/* ------------------------------------------------------------------ */
/* send                                                                */
/* ------------------------------------------------------------------ */

static Baton__V1__Handover *
load_handover(const char *path)
{
	FILE *f;
	char *text = NULL, err[512];
	size_t len = 0, cap = 0, n;
	ProtobufCMessage *m = NULL;

	if ((f = fopen(path, "r")) == NULL) {
		lwarn("%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (cap - len < 4096) {
			char *t;

			cap = cap ? cap * 2 : 65536;
			if (cap > BATON_JSON_MAX_DOC || (t = realloc(text, cap)) == NULL) {
				lwarn("%s: too large", path);
				goto fail;
			}
			text = t;
		}
		n = fread(text + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		lwarn("%s: read error", path);
		goto fail;
	}
	m = baton_json_parse(text, len, &baton__v1__handover__descriptor, err,
	    sizeof(err));
	if (m == NULL)
		lwarn("%s: %s", path, err);
fail:
	fclose(f);
	free(text);
	return (Baton__V1__Handover *)m;
}

/* Retry later: the broker is busy or stopping, the id is still ours. */
static int
refusal_retryable(int code)
{
	return code == BATON__V1__CODE__CODE_STORE_FULL ||
	    code == BATON__V1__CODE__CODE_SHUTTING_DOWN ||
	    code == BATON__V1__CODE__CODE_LIMIT_EXCEEDED;
}

static int
cmd_send(const struct opts *o)
{
	struct conn k = { .o = o };
	Baton__V1__Handover *h = NULL;
	Baton__V1__SupportPlan *sp;
	char *tos[MAX_TO], *tolist = NULL, *p, *save = NULL;
	char **goals = NULL, *goal = NULL, *pad = NULL, *packed = NULL;
	char **orig_goals = NULL;
	size_t orig_n = 0, nto = 0, len, padlen, i;
	char id[ID_MAX + 1], sha[65];
	FILE *lf = NULL;
	baton_receipt r;
	baton_error err;
	int64_t start = mono_ms(), deadline;
	unsigned long receipts = 0, dups = 0, resends = 0, busy = 0;
	long n;
	int rc, ret = 1;

	deadline = start + (int64_t)o->deadline_s * 1000;
	if ((h = load_handover(o->json)) == NULL)
		goto fail;
	if ((sp = h->support_plan) == NULL) {
		lwarn("%s: the handover needs a support_plan (its goals carry "
		    "the message id)", o->json);
		goto fail;
	}
	orig_goals = sp->goals;
	orig_n = sp->n_goals;
	if ((goals = calloc(orig_n + 1, sizeof(*goals))) == NULL ||
	    (tolist = strdup(o->to)) == NULL)
		goto oom;
	for (i = 0; i < orig_n; i++)
		goals[i] = orig_goals[i];
	for (p = strtok_r(tolist, ",", &save); p != NULL;
	    p = strtok_r(NULL, ",", &save)) {
		if (nto == MAX_TO) {
			lwarn("--to: at most %d recipients", MAX_TO);
			goto fail;
		}
		tos[nto++] = p;
	}
	if (nto == 0) {
		lwarn("--to names no recipient");
		goto fail;
	}
	/* up to 3 KiB of padding: packed handovers of about 5 to 8 KiB */
	padlen = 3 * 1024;
	if ((pad = malloc(padlen + 1)) == NULL ||
	    (goal = malloc(padlen + 256)) == NULL)
		goto oom;
	for (i = 0; i < padlen; i++)
		pad[i] = PAD_UNIT[i % (sizeof(PAD_UNIT) - 1)];
	pad[padlen] = '\0';
	if ((lf = fopen(o->out, "a")) == NULL) {
		lwarn("%s: %s", o->out, strerror(errno));
		goto fail;
	}

	for (n = 0; n < o->count; n++) {
		const char *to = tos[n % nto];

		/* the test's load window is over: stop between ids, never
		 * with one in doubt */
		if (o->until != NULL && access(o->until, F_OK) == 0)
			break;

		snprintf(id, sizeof(id), "%s-%ld", o->prefix, n);
		snprintf(goal, padlen + 256, "Ledger item %s. %.*s", id,
		    (int)((size_t)(n * 211) % padlen), pad);
		goals[orig_n] = goal;
		sp->goals = goals;
		sp->n_goals = orig_n + 1;
		len = baton__v1__handover__get_packed_size(h);
		free(packed);
		if ((packed = malloc(len)) == NULL)
			goto oom;
		baton__v1__handover__pack(h, (uint8_t *)packed);
		if (sha256_hex(packed, len, sha) == -1) {
			lwarn("sha256 failed");
			goto fail;
		}
		if (record(lf, 0, "submit %s %s %s\n", id, to, sha) == -1)
			goto write_fail;
		for (;;) {
			if (conn_get(&k, deadline) == -1) {
				lwarn("gave up at %s after %lu receipts: %s", id,
				    receipts, k.last_err);
				goto fail;
			}
			memset(&err, 0, sizeof(err));
			memset(&r, 0, sizeof(r));
			rc = baton_submit(k.c, to, h, id, &r, &err);
			if (rc == BATON_OK)
				break;
			if (rc == BATON_E_REFUSED && refusal_retryable(err.broker_code)) {
				busy++;
				conn_backoff(&k, deadline);
				continue;
			}
			if (rc == BATON_E_REFUSED || rc == BATON_E_INVALID_ARG ||
			    rc == BATON_E_TOO_LARGE || rc == BATON_E_NOMEM) {
				/* DUPLICATE here means the broker lost or mixed
				 * up our id: the checker must not be reached */
				lwarn("%s refused: %s %s: %s", id, baton_strerror(rc),
				    err.code_name, err.text);
				goto fail;
			}
			conn_drop(&k, rc, &err);
			resends++;
		}
		if (record(lf, 1, "receipt %s %s %s %s %" PRId64 " %d %" PRId64 "\n",
		    baton_node_id(k.c), id, to, sha, r.received_at_ms,
		    r.duplicate ? 1 : 0, wall_ms()) == -1)
			goto write_fail;
		receipts++;
		if (r.duplicate)
			dups++;
	}
	ret = 0;
	fprintf(stderr, "%s: send %s: %lu receipts (%lu duplicate), %lu resends, "
	    "%lu busy refusals, %lu connects, %.1f s%s\n", progname, o->prefix,
	    receipts, dups, resends, busy, k.connects,
	    (double)(mono_ms() - start) / 1000.0,
	    n < o->count ? " (stopped early: --until)" : "");
	goto fail;
write_fail:
	lwarn("%s: %s", o->out, strerror(errno));
	goto fail;
oom:
	lwarn("out of memory");
fail:
	if (h != NULL) {
		if (h->support_plan != NULL) {
			h->support_plan->goals = orig_goals;
			h->support_plan->n_goals = orig_n;
		}
		protobuf_c_message_free_unpacked(&h->base, NULL);
	}
	if (lf != NULL && fclose(lf) == EOF && ret == 0) {
		lwarn("%s: %s", o->out, strerror(errno));
		ret = 1;
	}
	baton_close(k.c);
	free(goals);
	free(goal);
	free(pad);
	free(packed);
	free(tolist);
	return ret;
}

/* ------------------------------------------------------------------ */
/* recv                                                                */
/* ------------------------------------------------------------------ */

/* An ack whose AckResult was lost with the connection. */
/* An ack whose AckResult was lost: the reference is asked about later. */
struct doubt {
	char		ref[REF_MAX + 1];
	uint32_t	attempt;
};

struct receiver {
	struct conn	 k;
	FILE		*lf;
	char		 node[NODE_MAX + 1];
	struct doubt	*doubts;
	size_t		 ndoubts, doubtcap;
	unsigned long	 deliveries, acks, by_status, refused, notices;
};

static void
doubt_remove(struct receiver *rv, size_t i)
{
	rv->doubts[i] = rv->doubts[--rv->ndoubts];
}

/*
 * Asks the broker whether each doubtful ack was committed. Returns 0 when
 * every answer came (resolved ones are recorded), -1 on a connection loss.
 * One still unacknowledged stays doubtful: it should be delivered again.
 */
static int
resolve_doubts(struct receiver *rv)
{
	Baton__V1__Status *st;
	baton_error err;
	size_t i, j;
	int rc, acked;

	for (i = 0; i < rv->ndoubts; ) {
		memset(&err, 0, sizeof(err));
		st = NULL;
		rc = baton_status(rv->k.c, rv->doubts[i].ref, &st, &err);
		if (rc == BATON_E_REFUSED) {
			/* the recipient may always read its own message */
			if (record(rv->lf, 1, "ackrefused %s %s %u status-%s\n",
			    rv->node, own_part(rv->doubts[i].ref),
			    rv->doubts[i].attempt,
			    err.code_name) == -1)
				return -2;
			rv->refused++;
			doubt_remove(rv, i);
			continue;
		}
		if (rc != BATON_OK) {
			conn_drop(&rv->k, rc, &err);
			return -1;
		}
		acked = 0;
		for (j = 0; j < st->n_events; j++)
			if (strcmp(st->events[j]->event, "acknowledged") == 0)
				acked = 1;
		baton_status_free(st);
		if (acked) {
			if (record(rv->lf, 1, "acked %s %s %u status\n", rv->node,
			    own_part(rv->doubts[i].ref),
			    rv->doubts[i].attempt) == -1)
				return -2;
			rv->acks++;
			rv->by_status++;
			doubt_remove(rv, i);
			continue;
		}
		i++;
	}
	return 0;
}

/* 1 if the broker named the delivery FROM/ID, as ids belong to senders. */
static int
named_by_sender(const baton_incoming *in)
{
	size_t n = strlen(in->from);

	return strncmp(in->reference, in->from, n) == 0 &&
	    in->reference[n] == '/' &&
	    strcmp(in->reference + n + 1, in->message_id) == 0;
}

/* Returns 0, -1 on a connection loss, -2 if the log cannot be written. */
static int
handle_incoming(struct receiver *rv, baton_incoming *in)
{
	baton_error err;
	char sha[65];
	size_t i;
	int rc;

	if (in->type == BATON_INCOMING_NOTICE) {
		memset(&err, 0, sizeof(err));
		if ((rc = baton_ack(rv->k.c, in, &err)) != BATON_OK &&
		    rc != BATON_E_REFUSED) {
			conn_drop(&rv->k, rc, &err);
			return -1;
		}
		rv->notices++;
		return record(rv->lf, 0, "notice %s %s\n", rv->node, in->ack_id) ?
		    -2 : 0;
	}
	/* a redelivery settles any doubt about an earlier ack of it */
	for (i = 0; i < rv->ndoubts; i++)
		if (strcmp(rv->doubts[i].ref, in->reference) == 0) {
			doubt_remove(rv, i);
			break;
		}
	if (handover_sha(in->handover, sha) == -1) {
		lwarn("sha256 failed");
		return -2;
	}
	if (record(rv->lf, 1, "deliver %s %s %u %s %s %" PRId64 " %" PRId64 "\n",
	    rv->node, named_by_sender(in) ? in->message_id : in->reference,
	    in->attempt, sha, in->from, in->at_ms,
	    wall_ms()) == -1)
		return -2;
	rv->deliveries++;
	memset(&err, 0, sizeof(err));
	rc = baton_ack(rv->k.c, in, &err);
	if (rc == BATON_OK) {
		rv->acks++;
		return record(rv->lf, 1, "acked %s %s %u result\n", rv->node,
		    in->message_id, in->attempt) ? -2 : 0;
	}
	if (rc == BATON_E_REFUSED) {
		rv->refused++;
		return record(rv->lf, 1, "ackrefused %s %s %u %s\n", rv->node,
		    in->message_id, in->attempt, err.code_name) ? -2 : 0;
	}
	if (rv->ndoubts == rv->doubtcap) {
		size_t ncap = rv->doubtcap ? rv->doubtcap * 2 : 8;
		struct doubt *nd = realloc(rv->doubts, ncap * sizeof(*nd));

		if (nd == NULL) {
			lwarn("out of memory");
			return -2;
		}
		rv->doubts = nd;
		rv->doubtcap = ncap;
	}
	snprintf(rv->doubts[rv->ndoubts].ref, sizeof(rv->doubts[0].ref), "%s",
	    in->reference);
	rv->doubts[rv->ndoubts++].attempt = in->attempt;
	conn_drop(&rv->k, rc, &err);
	return -1;
}

static int
cmd_recv(const struct opts *o)
{
	struct receiver rv;
	baton_incoming *in;
	baton_error err;
	int64_t start = mono_ms(), deadline, quiet_since;
	int rc, ret = 1;

	memset(&rv, 0, sizeof(rv));
	rv.k.o = o;
	deadline = start + (int64_t)o->deadline_s * 1000;
	if ((rv.lf = fopen(o->out, "a")) == NULL) {
		lwarn("%s: %s", o->out, strerror(errno));
		return 1;
	}
	quiet_since = mono_ms();
	for (;;) {
		if (rv.k.c == NULL) {
			if (conn_get(&rv.k, deadline) == -1) {
				lwarn("gave up after %lu deliveries: %s",
				    rv.deliveries, rv.k.last_err);
				goto fail;
			}
			snprintf(rv.node, sizeof(rv.node), "%s",
			    baton_node_id(rv.k.c));
			quiet_since = mono_ms();
			if ((rc = resolve_doubts(&rv)) == -2)
				goto write_fail;
			if (rc == -1)
				continue;
		}
		if (mono_ms() >= deadline) {
			lwarn("deadline passed before the stop condition (%lu "
			    "deliveries, %zu acks in doubt)", rv.deliveries,
			    rv.ndoubts);
			goto fail;
		}
		if (access(o->stop_file, F_OK) == 0 &&
		    mono_ms() - quiet_since >= o->idle_ms) {
			/* a late commit of a doubtful ack shows up now */
			if ((rc = resolve_doubts(&rv)) == -2)
				goto write_fail;
			if (rc == 0 && rv.ndoubts == 0)
				break;
			quiet_since = mono_ms();
			continue;
		}
		in = NULL;
		memset(&err, 0, sizeof(err));
		rc = baton_next(rv.k.c, 200, &in, &err);
		if (rc == BATON_E_TIMEOUT)
			continue;
		if (rc != BATON_OK) {
			conn_drop(&rv.k, rc, &err);
			continue;
		}
		quiet_since = mono_ms();
		rc = handle_incoming(&rv, in);
		baton_incoming_free(in);
		if (rc == -2)
			goto write_fail;
	}
	ret = 0;
	fprintf(stderr, "%s: recv %s: %lu deliveries, %lu acks (%lu confirmed "
	    "by status), %lu refused, %lu notices, %lu connects, %.1f s\n",
	    progname, rv.node, rv.deliveries, rv.acks, rv.by_status, rv.refused,
	    rv.notices, rv.k.connects, (double)(mono_ms() - start) / 1000.0);
	goto fail;
write_fail:
	lwarn("%s: %s", o->out, strerror(errno));
fail:
	if (fclose(rv.lf) == EOF && ret == 0) {
		lwarn("%s: %s", o->out, strerror(errno));
		ret = 1;
	}
	baton_close(rv.k.c);
	free(rv.doubts);
	return ret;
}

/* ------------------------------------------------------------------ */
/* check                                                               */
/* ------------------------------------------------------------------ */

/* One client-side delivery attempt, matched against the audit log. */
struct attempt {
	uint32_t	n;
	int		audited;
};

struct msg {
	char		*id;
	char		 to[NODE_MAX + 1];
	char		 sha[65];
	char		 sender[NODE_MAX + 1];
	int		 ledger;	/* index of the sender ledger */
	int		 submitted;
	unsigned	 receipts;
	long		 rank;		/* receipt order in its ledger */
	int64_t		 received_at;
	unsigned	 deliveries;
	unsigned	 acks;
	unsigned	 after_ack;	/* deliveries after a confirmed ack */
	uint32_t	 max_attempt;
	struct attempt	*atts;
	size_t		 natts;
	unsigned	 audit_submits, audit_acks, audit_delivers;
};

struct table {
	struct msg	**slot;
	size_t		  cap, n;
};

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static struct msg *
table_get(struct table *t, const char *id, int create)
{
	size_t i, j;
	struct msg *m;

	if (create && (t->n + 1) * 2 > t->cap) {
		struct table nt;

		nt.cap = t->cap ? t->cap * 2 : 1024;
		nt.n = t->n;
		if ((nt.slot = calloc(nt.cap, sizeof(*nt.slot))) == NULL)
			return NULL;
		for (i = 0; i < t->cap; i++) {
			if (t->slot[i] == NULL)
				continue;
			for (j = fnv1a(t->slot[i]->id) & (nt.cap - 1); nt.slot[j];
			    j = (j + 1) & (nt.cap - 1))
				;
			nt.slot[j] = t->slot[i];
		}
		free(t->slot);
		*t = nt;
	}
	if (t->cap == 0)
		return NULL;
	for (i = fnv1a(id) & (t->cap - 1); t->slot[i] != NULL;
	    i = (i + 1) & (t->cap - 1))
		if (strcmp(t->slot[i]->id, id) == 0)
			return t->slot[i];
	if (!create)
		return NULL;
	if ((m = calloc(1, sizeof(*m))) == NULL ||
	    (m->id = strdup(id)) == NULL) {
		free(m);
		return NULL;
	}
	m->ledger = -1;
	m->rank = -1;
	t->slot[i] = m;
	t->n++;
	return m;
}

static void
table_free(struct table *t)
{
	size_t i;

	for (i = 0; i < t->cap; i++)
		if (t->slot[i] != NULL) {
			free(t->slot[i]->id);
			free(t->slot[i]->atts);
			free(t->slot[i]);
		}
	free(t->slot);
}

/* One invariant's verdict, with the first few offending ids. */
struct verdict {
	const char	*name;
	unsigned long	 bad;
};

static void flag(struct verdict *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
flag(struct verdict *v, const char *fmt, ...)
{
	va_list ap;

	if (v->bad++ >= MAX_EXAMPLES)
		return;
	fprintf(stderr, "  %s: ", v->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

#define MAX_FIELDS 9

/* Splits a line at single spaces; returns the field count, or -1. */
static int
split(char *line, char *f[MAX_FIELDS])
{
	char *save = NULL, *p;
	int n = 0;

	line[strcspn(line, "\n")] = '\0';
	for (p = strtok_r(line, " ", &save); p != NULL;
	    p = strtok_r(NULL, " ", &save)) {
		if (n == MAX_FIELDS)
			return -1;
		f[n++] = p;
	}
	return n;
}

static int
parse_i64(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0')
		return -1;
	*out = v;
	return 0;
}

static int
copy_field(char *dst, size_t len, const char *src)
{
	if (strlen(src) >= len)
		return -1;
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

/*
 * The submitted message a reference SENDER/ID names (an audit record's
 * message id): ID was submitted and, once receipted, by SENDER; else NULL.
 */
static struct msg *
msg_by_ref(struct table *t, const char *ref)
{
	const char *slash = strchr(ref, '/');
	struct msg *m;
	size_t n;

	if (slash == NULL || (m = table_get(t, slash + 1, 0)) == NULL ||
	    !m->submitted)
		return NULL;
	n = (size_t)(slash - ref);
	if (m->sender[0] != '\0' && (strlen(m->sender) != n ||
	    strncmp(m->sender, ref, n) != 0))
		return NULL;
	return m;
}

static int
load_sent(struct table *t, const char *path, int idx, struct verdict *fmtv,
    unsigned long *receipted, unsigned long *dups)
{
	FILE *f;
	char *line = NULL, *fl[MAX_FIELDS];
	size_t cap = 0;
	long lineno = 0, rank = 0;
	struct msg *m;
	int64_t v;
	int n, ret = -1;

	if ((f = fopen(path, "r")) == NULL) {
		lwarn("%s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		n = split(line, fl);
		if (n == 4 && strcmp(fl[0], "submit") == 0) {
			if ((m = table_get(t, fl[1], 1)) == NULL)
				goto oom;
			if (m->submitted && (strcmp(m->sha, fl[3]) != 0 ||
			    m->ledger != idx))
				flag(fmtv, "%s:%ld: id %s submitted twice with "
				    "different content", path, lineno, fl[1]);
			m->submitted = 1;
			m->ledger = idx;
			if (copy_field(m->to, sizeof(m->to), fl[2]) == -1 ||
			    copy_field(m->sha, sizeof(m->sha), fl[3]) == -1)
				flag(fmtv, "%s:%ld: field too long", path, lineno);
		} else if (n == 8 && strcmp(fl[0], "receipt") == 0) {
			if ((m = table_get(t, fl[2], 0)) == NULL || !m->submitted) {
				flag(fmtv, "%s:%ld: receipt for %s without a submit "
				    "line", path, lineno, fl[2]);
				continue;
			}
			if (strcmp(m->sha, fl[4]) != 0 || strcmp(m->to, fl[3]) != 0)
				flag(fmtv, "%s:%ld: receipt for %s does not match its "
				    "submit line", path, lineno, fl[2]);
			if (parse_i64(fl[5], &v) == -1) {
				flag(fmtv, "%s:%ld: bad received_at", path, lineno);
				continue;
			}
			if (m->receipts++ == 0) {
				m->received_at = v;
				m->rank = rank++;
				(*receipted)++;
			}
			if (strcmp(fl[6], "1") == 0)
				(*dups)++;
			if (copy_field(m->sender, sizeof(m->sender), fl[1]) == -1)
				flag(fmtv, "%s:%ld: field too long", path, lineno);
		} else {
			flag(fmtv, "%s:%ld: malformed line", path, lineno);
		}
	}
	if (ferror(f)) {
		lwarn("%s: read error", path);
		goto fail;
	}
	ret = 0;
	goto fail;
oom:
	lwarn("out of memory");
fail:
	free(line);
	fclose(f);
	return ret;
}

struct recv_totals {
	unsigned long	deliveries, acks, by_status, refused;
};

static int
load_recv(struct table *t, const char *path, struct verdict *fmtv,
    struct verdict *phantom, struct verdict *integrity, struct verdict *order,
    struct verdict *once, size_t nsent, struct recv_totals *tot)
{
	FILE *f;
	char *line = NULL, *fl[MAX_FIELDS];
	size_t cap = 0;
	long lineno = 0, *last_rank = NULL;
	struct msg *m;
	struct attempt *na;
	int64_t v, at;
	int n, ret = -1;
	size_t i;

	if ((last_rank = malloc(nsent * sizeof(*last_rank))) == NULL)
		goto oom;
	for (i = 0; i < nsent; i++)
		last_rank[i] = -1;
	if ((f = fopen(path, "r")) == NULL) {
		lwarn("%s: %s", path, strerror(errno));
		free(last_rank);
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		n = split(line, fl);
		if (n == 8 && strcmp(fl[0], "deliver") == 0) {
			tot->deliveries++;
			if (parse_i64(fl[3], &v) == -1 || v < 1 || v > UINT32_MAX ||
			    parse_i64(fl[6], &at) == -1) {
				flag(fmtv, "%s:%ld: malformed deliver line", path, lineno);
				continue;
			}
			if ((m = table_get(t, fl[2], 0)) == NULL || !m->submitted) {
				flag(phantom, "%s delivered to %s but never submitted",
				    fl[2], fl[1]);
				continue;
			}
			if (strcmp(m->to, fl[1]) != 0)
				flag(phantom, "%s for %s delivered to %s", m->id, m->to,
				    fl[1]);
			if (m->sender[0] != '\0' && strcmp(m->sender, fl[5]) != 0)
				flag(phantom, "%s from %s delivered as from %s", m->id,
				    m->sender, fl[5]);
			if (strcmp(m->sha, fl[4]) != 0)
				flag(integrity, "%s attempt %s: hash differs from what "
				    "was submitted", m->id, fl[3]);
			if (m->receipts > 0 && m->received_at != at)
				flag(once, "%s delivered with received_at %" PRId64
				    ", its receipt said %" PRId64 " (a second copy?)",
				    m->id, at, m->received_at);
			if (m->acks > 0) {
				m->after_ack++;
				flag(once, "%s delivered again (attempt %s) after its "
				    "ack was confirmed", m->id, fl[3]);
			}
			if ((uint32_t)v <= m->max_attempt)
				flag(once, "%s attempt %s after attempt %u", m->id, fl[3],
				    m->max_attempt);
			if ((uint32_t)v > m->max_attempt)
				m->max_attempt = (uint32_t)v;
			/* first deliveries follow each sender's receipt order */
			if (m->deliveries == 0 && m->rank >= 0 && m->ledger >= 0) {
				if (m->rank < last_rank[m->ledger])
					flag(order, "%s (receipt #%ld) first delivered "
					    "after receipt #%ld of the same sender", m->id,
					    m->rank, last_rank[m->ledger]);
				else
					last_rank[m->ledger] = m->rank;
			}
			m->deliveries++;
			if ((na = realloc(m->atts, (m->natts + 1) *
			    sizeof(*na))) == NULL)
				goto oom;
			m->atts = na;
			m->atts[m->natts].n = (uint32_t)v;
			m->atts[m->natts++].audited = 0;
		} else if (n == 5 && strcmp(fl[0], "acked") == 0) {
			if ((m = table_get(t, fl[2], 0)) == NULL || m->deliveries == 0) {
				flag(fmtv, "%s:%ld: ack of %s before any delivery",
				    path, lineno, fl[2]);
				continue;
			}
			if (m->acks > 0 && m->after_ack == 0)
				flag(once, "%s acked twice without a redelivery", m->id);
			m->acks++;
			tot->acks++;
			if (strcmp(fl[4], "status") == 0)
				tot->by_status++;
		} else if (n == 5 && strcmp(fl[0], "ackrefused") == 0) {
			tot->refused++;
			flag(once, "ack of %s attempt %s refused: %s", fl[2], fl[3],
			    fl[4]);
		} else if (n == 3 && strcmp(fl[0], "notice") == 0) {
			;
		} else {
			flag(fmtv, "%s:%ld: malformed line", path, lineno);
		}
	}
	if (ferror(f)) {
		lwarn("%s: read error", path);
		goto fail;
	}
	ret = 0;
	goto fail;
oom:
	lwarn("out of memory");
	if (last_rank == NULL)
		return -1;
fail:
	free(line);
	fclose(f);
	free(last_rank);
	return ret;
}

/*
 * Joins `batonctl audit export --format jsonl` with the ledgers (A3):
 * each client delivery has its "delivered" record (reason "attempt N"),
 * each confirmed ack exactly one "acknowledged" record, each receipt a
 * "submitted" record, and nothing is audited for an id nobody submitted.
 */
static int
load_audit(struct table *t, const char *path, struct verdict *audit,
    unsigned long counts[3])
{
	FILE *f;
	char *line = NULL;
	size_t cap = 0, i;
	long lineno = 0;
	json_t *j;
	json_error_t jerr;
	const char *ev, *id, *reason, *outcome;
	struct msg *m;
	unsigned long att;
	int ret = -1;

	if ((f = fopen(path, "r")) == NULL) {
		lwarn("%s: %s", path, strerror(errno));
		return -1;
	}
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		if ((j = json_loads(line, 0, &jerr)) == NULL) {
			flag(audit, "%s:%ld: not JSON: %s", path, lineno, jerr.text);
			continue;
		}
		ev = json_string_value(json_object_get(j, "event"));
		id = json_string_value(json_object_get(j, "message_id"));
		reason = json_string_value(json_object_get(j, "reason"));
		outcome = json_string_value(json_object_get(j, "outcome"));
		if (ev == NULL || id == NULL || *id == '\0' ||
		    (strcmp(ev, "submitted") != 0 && strcmp(ev, "delivered") != 0 &&
		    strcmp(ev, "acknowledged") != 0)) {
			json_decref(j);
			continue;
		}
		if ((m = msg_by_ref(t, id)) == NULL) {
			flag(audit, "%s record for %s, which nobody submitted", ev, id);
			json_decref(j);
			continue;
		}
		if (strcmp(ev, "submitted") == 0) {
			if (outcome != NULL && strcmp(outcome, "ok") == 0)
				m->audit_submits++;
			counts[0]++;
		} else if (strcmp(ev, "acknowledged") == 0) {
			m->audit_acks++;
			counts[2]++;
		} else {
			m->audit_delivers++;
			counts[1]++;
			if (reason != NULL && sscanf(reason, "attempt %lu", &att) == 1)
				for (i = 0; i < m->natts; i++)
					if (m->atts[i].n == att)
						m->atts[i].audited = 1;
		}
		json_decref(j);
	}
	if (ferror(f))
		lwarn("%s: read error", path);
	else
		ret = 0;
	free(line);
	fclose(f);
	return ret;
}

static int
report(const struct verdict *v, const char *what)
{
	printf("%-4s %-42s %s", v->bad ? "FAIL" : "ok", v->name, what);
	if (v->bad)
		printf(" (%lu)", v->bad);
	putchar('\n');
	return v->bad ? 1 : 0;
}

static int
cmd_check(const struct opts *o)
{
	struct table t = { 0 };
	struct verdict fmtv = { "ledger files well-formed", 0 },
	    loss = { "I1 no loss: every receipt delivered+acked", 0 },
	    phantom = { "I2 no phantoms", 0 },
	    integrity = { "I3 integrity (sha256)", 0 },
	    order = { "I4 per-sender order", 0 },
	    once = { "exactly once by id, at most once per ack", 0 },
	    audit = { "A3 audit coupled to durability", 0 };
	struct recv_totals tot = { 0 };
	unsigned long receipted = 0, dups = 0, submitted = 0, distinct = 0;
	unsigned long redelivered = 0, unreceipted_delivered = 0, unseen = 0;
	unsigned long acounts[3] = { 0, 0, 0 };
	uint32_t max_attempt = 0;
	struct msg *m;
	size_t i, k;
	int bad = 0, ret = 2;

	for (i = 0; i < o->nsent; i++)
		if (load_sent(&t, o->sent[i], (int)i, &fmtv, &receipted, &dups) == -1)
			goto fail;
	for (i = 0; i < o->nrecv; i++)
		if (load_recv(&t, o->recv[i], &fmtv, &phantom, &integrity, &order,
		    &once, o->nsent, &tot) == -1)
			goto fail;
	if (o->audit != NULL &&
	    load_audit(&t, o->audit, &audit, acounts) == -1)
		goto fail;

	for (k = 0; k < t.cap; k++) {
		if ((m = t.slot[k]) == NULL)
			continue;
		if (m->submitted)
			submitted++;
		if (m->deliveries > 0) {
			distinct++;
			redelivered += m->deliveries - 1;
			if (m->receipts == 0)
				unreceipted_delivered++;
		}
		if (m->max_attempt > max_attempt)
			max_attempt = m->max_attempt;
		if (m->receipts > 1)
			flag(&fmtv, "%s has %u receipt lines", m->id, m->receipts);
		if (m->receipts > 0 && m->deliveries == 0)
			flag(&loss, "%s receipted (received_at %" PRId64 ") but never "
			    "delivered", m->id, m->received_at);
		else if (m->receipts > 0 && m->acks == 0)
			flag(&loss, "%s receipted and delivered %u times but never "
			    "acked", m->id, m->deliveries);
		if (o->audit == NULL)
			continue;
		/* committed as delivered, but the frame died with the broker:
		 * allowed (it is delivered again), and counted */
		if (m->audit_delivers > m->natts)
			unseen += m->audit_delivers - m->natts;
		if (m->receipts > 0 && m->audit_submits == 0)
			flag(&audit, "%s receipted without a durable submitted record",
			    m->id);
		if (m->acks > 0 && m->audit_acks != 1)
			flag(&audit, "%s acked with %u acknowledged records", m->id,
			    m->audit_acks);
		if (m->acks == 0 && m->audit_acks > 0)
			flag(&audit, "%s has an acknowledged record but no ack was "
			    "confirmed", m->id);
		for (i = 0; i < m->natts; i++)
			if (!m->atts[i].audited)
				flag(&audit, "%s attempt %u reached the recipient without "
				    "a durable delivered record", m->id, m->atts[i].n);
	}
	if (distinct != receipted)
		flag(&once, "%lu distinct ids delivered, %lu receipted "
		    "(%lu delivered without a receipt)", distinct, receipted,
		    unreceipted_delivered);

	printf("ledger check: %zu sender ledgers, %zu recipient logs%s\n",
	    o->nsent, o->nrecv, o->audit ? ", audit log" : "");
	printf("  submitted %lu ids, receipted %lu (%lu duplicate receipts after "
	    "a resend)\n", submitted, receipted, dups);
	printf("  deliveries %lu, distinct ids %lu, redeliveries %lu, max attempt "
	    "%u\n", tot.deliveries, distinct, redelivered, max_attempt);
	printf("  acks confirmed %lu (%lu by status after a lost AckResult), "
	    "refused %lu\n", tot.acks, tot.by_status, tot.refused);
	if (o->audit != NULL)
		printf("  audit records: submitted %lu, delivered %lu (%lu never "
		    "reached the recipient), acknowledged %lu\n", acounts[0],
		    acounts[1], unseen, acounts[2]);
	bad |= report(&fmtv, "");
	bad |= report(&loss, "");
	bad |= report(&phantom, "");
	bad |= report(&integrity, "");
	bad |= report(&order, "");
	bad |= report(&once, "");
	if (o->audit != NULL)
		bad |= report(&audit, "");
	if (receipted == 0) {
		printf("FAIL nothing was receipted: the test proved nothing\n");
		bad = 1;
	}
	ret = bad ? 1 : 0;
fail:
	table_free(&t);
	return ret;
}

/* ------------------------------------------------------------------ */

static void
usage(void)
{
	fprintf(stderr,
"usage: ledger send  --prefix P --count N --to NODE[,NODE...] --json FILE\n"
"                    --ledger FILE [--until FILE] CONNECTION\n"
"       ledger recv  --log FILE --stop-file FILE [--idle SECONDS] CONNECTION\n"
"       ledger check --sent FILE... --recv FILE... [--audit JSONL]\n"
"CONNECTION: (--broker HOST:PORT | --port-file FILE) --ca FILE --cert FILE\n"
"            --key FILE [--deadline SECONDS (600)] [--timeout-ms MS (5000)]\n"
"Exit status: 0 done / all invariants hold, 1 failed, 2 usage or I/O.\n");
}

static int
parse_long(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
main(int argc, char *argv[])
{
	static const struct option longopts[] = {
		{ "broker", required_argument, NULL, 'b' },
		{ "port-file", required_argument, NULL, 'P' },
		{ "ca", required_argument, NULL, 'a' },
		{ "cert", required_argument, NULL, 'c' },
		{ "key", required_argument, NULL, 'k' },
		{ "prefix", required_argument, NULL, 'p' },
		{ "count", required_argument, NULL, 'n' },
		{ "to", required_argument, NULL, 't' },
		{ "json", required_argument, NULL, 'j' },
		{ "ledger", required_argument, NULL, 'l' },
		{ "log", required_argument, NULL, 'l' },
		{ "stop-file", required_argument, NULL, 's' },
		{ "until", required_argument, NULL, 'u' },
		{ "idle", required_argument, NULL, 'i' },
		{ "deadline", required_argument, NULL, 'd' },
		{ "timeout-ms", required_argument, NULL, 'T' },
		{ "sent", required_argument, NULL, 'S' },
		{ "recv", required_argument, NULL, 'R' },
		{ "audit", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 }
	};
	struct opts o;
	const char *cmd;
	long v;
	int ch;

	memset(&o, 0, sizeof(o));
	o.deadline_s = 600;
	o.timeout_ms = 5000;
	o.idle_ms = 3000;
	if (argc < 2) {
		usage();
		return 2;
	}
	cmd = argv[1];
	argv++;
	argc--;
	while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		switch (ch) {
		case 'b': o.broker = optarg; break;
		case 'P': o.port_file = optarg; break;
		case 'a': o.ca = optarg; break;
		case 'c': o.cert = optarg; break;
		case 'k': o.key = optarg; break;
		case 'p': o.prefix = optarg; break;
		case 't': o.to = optarg; break;
		case 'j': o.json = optarg; break;
		case 'l': o.out = optarg; break;
		case 's': o.stop_file = optarg; break;
		case 'u': o.until = optarg; break;
		case 'A': o.audit = optarg; break;
		case 'n':
			if (parse_long(optarg, 1, 10000000, &v) == -1)
				goto bad;
			o.count = v;
			break;
		case 'i':
			if (parse_long(optarg, 0, 3600, &v) == -1)
				goto bad;
			o.idle_ms = (int)v * 1000;
			break;
		case 'd':
			if (parse_long(optarg, 1, 86400, &v) == -1)
				goto bad;
			o.deadline_s = (int)v;
			break;
		case 'T':
			if (parse_long(optarg, 100, 600000, &v) == -1)
				goto bad;
			o.timeout_ms = (int)v;
			break;
		case 'S':
		case 'R':
			if ((ch == 'S' ? o.nsent : o.nrecv) == MAX_FILES) {
				lwarn("at most %d --sent and %d --recv files",
				    MAX_FILES, MAX_FILES);
				return 2;
			}
			if (ch == 'S')
				o.sent[o.nsent++] = optarg;
			else
				o.recv[o.nrecv++] = optarg;
			break;
		default:
			usage();
			return 2;
		}
	}
	if (optind != argc)
		goto bad_usage;
	if (strcmp(cmd, "check") == 0) {
		if (o.nsent == 0 || o.nrecv == 0)
			goto bad_usage;
		return cmd_check(&o);
	}
	if ((o.broker == NULL) == (o.port_file == NULL) || o.ca == NULL ||
	    o.cert == NULL || o.key == NULL || o.out == NULL)
		goto bad_usage;
	if (strcmp(cmd, "send") == 0) {
		if (o.prefix == NULL || o.count == 0 || o.to == NULL ||
		    o.json == NULL || strlen(o.prefix) > 64)
			goto bad_usage;
		return cmd_send(&o) ? 1 : 0;
	}
	if (strcmp(cmd, "recv") == 0) {
		if (o.stop_file == NULL)
			goto bad_usage;
		return cmd_recv(&o) ? 1 : 0;
	}
bad_usage:
	usage();
	return 2;
bad:
	lwarn("bad value '%s' for an option", optarg);
	return 2;
}
