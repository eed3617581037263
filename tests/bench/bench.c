/*
 * bench.c - Baton's throughput and latency benchmark.
 *
 * N sender processes (nodes bs1..bsN, one connection each) submit M
 * handovers of S bytes each, round robin to R receiver processes (nodes
 * br1..brR), keeping at most W unreceipted in flight (closed loop), or
 * at a fixed offered rate (--rate, all senders together; the window still
 * bounds what is in flight, and latency counts from the scheduled time, so
 * a broker that falls behind is not flattered). Each receiver grants
 * --credit deliveries and acks each one without waiting for its
 * AckResult. Connections are made first; the clock starts when all are up.
 *
 * It prints msgs/s (handovers delivered and acked per second, and
 * receipts per second), submit->receipt and submit->delivery latency
 * p50/p95/p99/max, and, given --broker-pid, the broker's CPU seconds over
 * the run (/proc/PID/stat utime+stime), its peak RSS split into anonymous
 * and file-backed (/proc/PID/status RssAnon, RssFile, sampled every 50 ms;
 * LMDB's map counts as RssFile) and, given --sync-file, the number of
 * fdatasync/fsync calls the broker made (counted by the bench_synccount
 * LD_PRELOAD shim: each LMDB commit is one fdatasync) and handovers per
 * commit. The last line, "BENCH key=value ...", is for scripts.
 *
 * Speed is measured, never asserted. Exit 0 when every handover was
 * receipted OK and delivered; 1 otherwise (refusals are counted and the
 * first one's text is printed); 2 for usage.
 *
 * The driver: raw pipelined frames (bench_link.c), the same approach as
 * tests/fault/hostile.c's submit-burst.
 */
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "baton.h"
#include "bench_link.h"
#include "json.h"

#ifdef BATON_DEFAULT_PIPELINE		/* libbaton has the pipelined calls */
#define HAVE_LIB_DRIVER	1
#else
#define HAVE_LIB_DRIVER	0
#endif

#define MAX_PROCS	256
#define PAD_CHUNK	8000	/* validate.c allows 8192 bytes a field */

struct opts {
	const char	*broker, *ca, *certs, *json, *server_name, *sync_file;
	char		 host[256], port[16];
	int		 senders, receivers, window, credit, size, seconds;
	int		 lib;		/* 1: pipelined libbaton, 0: raw frames */
	int		 offline;	/* receivers never connect */
	int		 idle;		/* --idle K: hold K sessions, nothing else */
	long		 count;
	double		 rate;		/* handovers/s offered, 0: closed loop */
	pid_t		 broker_pid;
};

/* What one child process did, in shared memory. */
struct child {
	long		 sent, receipted, refused, delivered, redelivered;
	long		 acked, ack_refused;
	int		 done, failed;
	char		 first_refusal[256];	/* code: text (cut) */
};

/* Shared between the parent and every child (MAP_SHARED before fork). */
struct shared {
	int64_t		 t_go;			/* ns, CLOCK_MONOTONIC */
	struct child	 c[MAX_PROCS];
};

struct run {
	struct opts		 o;
	struct shared		*sh;
	int64_t			*t_sub, *t_rcpt, *t_dlv;	/* per handover, ns */
	Baton__V1__Handover	*h;
	size_t			 h_bytes;
};

static int64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void
usage(void)
{
	fprintf(stderr, "usage: bench --broker HOST:PORT --ca FILE --certs DIR "
	    "--json HANDOVER.json\n"
	    "    [--senders N] [--count M] [--size S] [--receivers R]\n"
	    "    [--window W] [--credit C] [--rate MSGS_PER_S] [--seconds T]\n"
	    "    [--server-name NAME] [--broker-pid PID] [--sync-file FILE]\n"
	    "    [--driver lib|raw] [--offline] [--idle K]\n"
	    "  DIR holds bsI.crt/.key (senders) and brJ.crt/.key (receivers)\n");
	exit(2);
}

static void
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "broker", 1, NULL, 'b' }, { "ca", 1, NULL, 'a' },
		{ "certs", 1, NULL, 'd' }, { "json", 1, NULL, 'j' },
		{ "senders", 1, NULL, 's' }, { "count", 1, NULL, 'n' },
		{ "size", 1, NULL, 'S' }, { "receivers", 1, NULL, 'r' },
		{ "window", 1, NULL, 'w' }, { "credit", 1, NULL, 'c' },
		{ "rate", 1, NULL, 'R' }, { "seconds", 1, NULL, 't' },
		{ "server-name", 1, NULL, 'N' }, { "broker-pid", 1, NULL, 'p' },
		{ "sync-file", 1, NULL, 'f' }, { "driver", 1, NULL, 'D' },
		{ "offline", 0, NULL, 'O' }, { "idle", 1, NULL, 'I' },
		{ NULL, 0, NULL, 0 },
	};
	const char *colon;
	int ch;

	memset(o, 0, sizeof(*o));
	o->senders = 4;
	o->count = 5000;
	o->receivers = 1;
	o->window = 64;
	o->credit = 256;
	o->seconds = 300;
	o->lib = HAVE_LIB_DRIVER;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': o->broker = optarg; break;
		case 'a': o->ca = optarg; break;
		case 'd': o->certs = optarg; break;
		case 'j': o->json = optarg; break;
		case 's': o->senders = atoi(optarg); break;
		case 'n': o->count = atol(optarg); break;
		case 'S': o->size = atoi(optarg); break;
		case 'r': o->receivers = atoi(optarg); break;
		case 'w': o->window = atoi(optarg); break;
		case 'c': o->credit = atoi(optarg); break;
		case 'R': o->rate = atof(optarg); break;
		case 't': o->seconds = atoi(optarg); break;
		case 'N': o->server_name = optarg; break;
		case 'p': o->broker_pid = (pid_t)atol(optarg); break;
		case 'f': o->sync_file = optarg; break;
		case 'D': o->lib = strcmp(optarg, "lib") == 0;
			if (!o->lib && strcmp(optarg, "raw") != 0)
				usage();
			break;
		case 'O': o->offline = 1; break;
		case 'I': o->idle = atoi(optarg); break;
		default: usage();
		}
	}
	if (optind != argc || !o->broker || !o->ca || !o->certs || !o->json ||
	    o->senders < 1 || o->receivers < 1 ||
	    o->senders + o->receivers > MAX_PROCS || o->count < 1 ||
	    o->window < 1 || o->credit < 1 || o->seconds < 1 || o->rate < 0 ||
	    o->size < 0 || (colon = strrchr(o->broker, ':')) == NULL ||
	    (size_t)(colon - o->broker) >= sizeof(o->host) ||
	    strlen(colon + 1) >= sizeof(o->port))
		usage();
	memcpy(o->host, o->broker, (size_t)(colon - o->broker));
	o->host[colon - o->broker] = '\0';
	strcpy(o->port, colon + 1);
	if (o->server_name == NULL)
		o->server_name = o->host;
}

/* ---- the handover ------------------------------------------------------ */

static Baton__V1__Handover *
load_handover(const char *path)
{
	char err[256], *text;
	size_t len;
	FILE *fp;
	ProtobufCMessage *m = NULL;

	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "bench: %s: %s\n", path, strerror(errno));
		return NULL;
	}
	if ((text = malloc(BATON_JSON_MAX_DOC)) != NULL) {
		len = fread(text, 1, BATON_JSON_MAX_DOC, fp);
		m = baton_json_parse(text, len, &baton__v1__handover__descriptor,
		    err, sizeof(err));
		if (m == NULL)
			fprintf(stderr, "bench: %s: %s\n", path, err);
		free(text);
	}
	fclose(fp);
	return (Baton__V1__Handover *)m;
}

/*
 * --size S: the example's required sections only (subject, risk summary,
 * transition), then support_plan.goals of filler text until the packed
 * handover is S bytes (or the smallest it can be, if S is below that).
 */
static int
size_handover(Baton__V1__Handover *h, size_t want)
{
	static Baton__V1__SupportPlan sp = BATON__V1__SUPPORT_PLAN__INIT;
	static char *goals[256];
	size_t have, n, k = 0;

	h->safeguarding = NULL;		/* left to the process's exit */
	h->crisis_plan = NULL;
	h->contacts = NULL;
	h->support_plan = NULL;
	h->medication_and_physical_health = NULL;
	while ((have = baton__v1__handover__get_packed_size(h)) + 8 < want &&
	    k < 256) {
		n = want - have - 8 > PAD_CHUNK ? PAD_CHUNK : want - have - 8;
		if ((goals[k] = malloc(n + 1)) == NULL)
			return -1;
		memset(goals[k], 'x', n);
		goals[k][n] = '\0';
		sp.goals = goals;
		sp.n_goals = ++k;
		h->support_plan = &sp;
	}
	/* trim the last goal until the size is exact (varints may shift) */
	while (k > 0 && (have = baton__v1__handover__get_packed_size(h)) > want &&
	    strlen(goals[k - 1]) > have - want)
		goals[k - 1][strlen(goals[k - 1]) - (have - want)] = '\0';
	return 0;
}

/* ---- senders ----------------------------------------------------------- */

struct sender {
	struct run	*r;
	struct link	 l;
	int		 idx;		/* 0-based; node bs<idx+1> */
	long		 base;		/* its first handover's index */
	struct child	*st;
};

static void
note_refusal(struct child *st, int code, const char *text)
{
	if (st->first_refusal[0] == '\0')
		snprintf(st->first_refusal, sizeof(st->first_refusal), "%s: %.200s",
		    frame_code_name(code), text ? text : "");
}

/* Our ids are "s<sender>-<seq>": the seq, or -1 if not ours. */
static long
parse_id(const char *id, int *sender)
{
	const char *own = strrchr(id, '/');
	char *end;
	long s, q;

	own = own ? own + 1 : id;
	if (own[0] != 's')
		return -1;
	s = strtol(own + 1, &end, 10);
	if (*end != '-')
		return -1;
	q = strtol(end + 1, &end, 10);
	if (*end != '\0')
		return -1;
	*sender = (int)s;
	return q;
}

static int
sender_frame(void *arg, const Frame *f)
{
	struct sender *s = arg;
	long q;
	int who;

	if (f->body_case == BATON__V1__FRAME__BODY_ERROR) {
		note_refusal(s->st, f->error->code, f->error->text);
		return -1;
	}
	if (f->body_case != BATON__V1__FRAME__BODY_RECEIPT)
		return 0;
	s->st->receipted++;
	if ((q = parse_id(f->receipt->message_id, &who)) < 0 || who != s->idx ||
	    q >= s->r->o.count)
		return -1;
	s->r->t_rcpt[s->base + q] = now_ns();
	if (f->receipt->code != BATON__V1__CODE__CODE_OK) {
		s->st->refused++;
		note_refusal(s->st, f->receipt->code, f->receipt->text);
	}
	return 0;
}

static int
queue_submit(struct sender *s, long q, const char *to)
{
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Submit sub = BATON__V1__SUBMIT__INIT;
	Frame f = BATON__V1__FRAME__INIT;
	struct timespec ts;
	char id[64];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(id, sizeof(id), "s%d-%ld", s->idx, q);
	env.message_id = id;
	env.to = (char *)to;
	env.created_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	env.handover = s->r->h;
	sub.envelope = &env;
	f.body_case = BATON__V1__FRAME__BODY_SUBMIT;
	f.submit = &sub;
	return link_queue(&s->l, &f);
}

/* Queues what the window and the rate allow; the next send time, or 0. */
static int64_t
sender_fill(struct sender *s, const char *to[])
{
	const struct opts *o = &s->r->o;
	int64_t interval = o->rate > 0 ?
	    (int64_t)(1e9 * o->senders / o->rate) : 0, due, t;

	while (s->st->sent < o->count &&
	    s->st->sent - s->st->receipted < o->window) {
		long q = s->st->sent;
		long g = (long)s->idx * 1 + q * o->senders;	/* round robin */

		due = s->r->sh->t_go + q * interval;
		if (interval > 0 && (t = now_ns()) < due)
			return due;
		s->r->t_sub[s->base + q] = interval > 0 ? due : now_ns();
		if (queue_submit(s, q, to[g % o->receivers]) != 0)
			return -1;
		s->st->sent++;
	}
	return 0;
}

/* Submits count handovers, window in flight: 0 all receipted OK, 1 not. */
static int
sender_loop(struct sender *s)
{
	const struct opts *o = &s->r->o;
	const char *to[MAX_PROCS];
	char names[MAX_PROCS][16];
	int64_t next, end = s->r->sh->t_go + (int64_t)o->seconds * 1000000000;
	int i, wait_ms;

	for (i = 0; i < o->receivers; i++) {
		snprintf(names[i], sizeof(names[i]), "br%d", i + 1);
		to[i] = names[i];
	}
	while (s->st->receipted < o->count && now_ns() < end) {
		if ((next = sender_fill(s, to)) < 0 || link_flush(&s->l) != 0)
			break;
		wait_ms = 100;
		if (next > 0 && (next - now_ns()) / 1000000 < wait_ms)
			wait_ms = (int)((next - now_ns()) / 1000000);
		link_wait(&s->l, wait_ms < 0 ? 0 : wait_ms);
		if (link_read(&s->l, sender_frame, s) != 0)
			break;
	}
	return s->st->receipted == o->count && s->st->refused == 0 ? 0 : 1;
}

/* ---- receivers --------------------------------------------------------- */

struct receiver {
	struct run	*r;
	struct link	 l;
	struct child	*st;
	long		 expect;	/* handovers addressed to us */
	unsigned	 credit;	/* the broker may still send */
};

static int
queue_ack(struct receiver *rv, const char *ref, uint32_t attempt)
{
	Baton__V1__Ack a = BATON__V1__ACK__INIT;
	Frame f = BATON__V1__FRAME__INIT;

	a.message_id = (char *)ref;
	a.attempt = attempt;
	f.body_case = BATON__V1__FRAME__BODY_ACK;
	f.ack = &a;
	return link_queue(&rv->l, &f);
}

static int
queue_pull(struct receiver *rv)
{
	Baton__V1__Pull p = BATON__V1__PULL__INIT;
	Frame f = BATON__V1__FRAME__INIT;

	p.credit = (uint32_t)rv->r->o.credit - rv->credit;
	f.body_case = BATON__V1__FRAME__BODY_PULL;
	f.pull = &p;
	rv->credit = (unsigned)rv->r->o.credit;
	return link_queue(&rv->l, &f);
}

static int
on_deliver(struct receiver *rv, const Baton__V1__Deliver *d)
{
	const char *ref = d->envelope ? d->envelope->message_id : NULL;
	long q;
	int who;

	if (rv->credit > 0)
		rv->credit--;
	if (ref == NULL || (q = parse_id(ref, &who)) < 0 || who < 0 ||
	    who >= rv->r->o.senders || q >= rv->r->o.count)
		return -1;
	if (rv->r->t_dlv[(long)who * rv->r->o.count + q] == 0) {
		rv->r->t_dlv[(long)who * rv->r->o.count + q] = now_ns();
		rv->st->delivered++;
	} else
		rv->st->redelivered++;
	return queue_ack(rv, ref, d->attempt);
}

static int
receiver_frame(void *arg, const Frame *f)
{
	struct receiver *rv = arg;

	switch (f->body_case) {
	case BATON__V1__FRAME__BODY_DELIVER:
		return on_deliver(rv, f->deliver);
	case BATON__V1__FRAME__BODY_NOTICE:
		if (rv->credit > 0)
			rv->credit--;
		return queue_ack(rv, f->notice->notice_id, 0);
	case BATON__V1__FRAME__BODY_ACK_RESULT:
		rv->st->acked++;
		if (f->ack_result->code != BATON__V1__CODE__CODE_OK) {
			rv->st->ack_refused++;
			note_refusal(rv->st, f->ack_result->code, f->ack_result->text);
		}
		return 0;
	case BATON__V1__FRAME__BODY_ERROR:
		note_refusal(rv->st, f->error->code, f->error->text);
		return -1;
	default:
		return 0;
	}
}

/*
 * Receives and acks what is addressed to us until every handover came and
 * every ack was answered: 0, or 1 (missing, refused, closed, late).
 */
static int
receiver_loop(struct receiver *rv)
{
	const struct opts *o = &rv->r->o;
	int64_t end = rv->r->sh->t_go + (int64_t)o->seconds * 1000000000;

	while ((rv->st->delivered < rv->expect ||
	    rv->st->acked < rv->st->delivered + rv->st->redelivered) &&
	    now_ns() < end) {
		if (rv->credit * 2 < (unsigned)o->credit && queue_pull(rv) != 0)
			break;
		if (link_flush(&rv->l) != 0)
			break;
		link_wait(&rv->l, 100);
		if (link_read(&rv->l, receiver_frame, rv) != 0)
			break;
	}
	return rv->st->delivered == rv->expect && rv->st->ack_refused == 0 ? 0 : 1;
}

/* ---- the pipelined libbaton driver ----------------------------------- */

#if HAVE_LIB_DRIVER

static baton_client *
lib_connect(struct run *r, const char *cert, const char *key)
{
	baton_config cfg;
	baton_client *c;
	baton_error e;

	memset(&cfg, 0, sizeof(cfg));
	cfg.broker = r->o.broker;
	cfg.ca_file = r->o.ca;
	cfg.cert_file = cert;
	cfg.key_file = key;
	cfg.server_name = r->o.server_name;
	cfg.client_name = "bench";
	cfg.timeout_ms = 30000;
	cfg.window = (unsigned)r->o.credit;
	if (baton_connect(&cfg, &c, &e) != BATON_OK) {
		fprintf(stderr, "bench: %s: %s\n", cert, e.text);
		return NULL;
	}
	return c;
}

/* Takes every result that is ready; a receipt's seq is in its id. */
static void
lib_sender_results(struct sender *s, baton_client *c)
{
	baton_result res;
	long q;
	int who;

	while (baton_poll_result(c, &res) == BATON_OK) {
		if (res.kind != BATON_RESULT_RECEIPT)
			continue;
		s->st->receipted++;
		q = parse_id(res.receipt.message_id, &who);
		if (q >= 0 && who == s->idx && q < s->r->o.count)
			s->r->t_rcpt[s->base + q] = now_ns();
		if (res.status != BATON_OK) {
			s->st->refused++;
			note_refusal(s->st, res.error.broker_code, res.error.text);
		}
	}
}

/* The sender through baton_submit_packed_async, window W in flight. */
static int
lib_sender_loop(struct sender *s, baton_client *c)
{
	const struct opts *o = &s->r->o;
	int64_t interval = o->rate > 0 ? (int64_t)(1e9 * o->senders / o->rate) : 0;
	int64_t end = s->r->sh->t_go + (int64_t)o->seconds * 1000000000, due;
	size_t len = s->r->h_bytes;
	uint8_t *packed = malloc(len + 1);
	char id[64], to[16];
	baton_error e;
	int rc, wait_ms;

	if (packed == NULL || baton_set_pipeline(c, (unsigned)o->window) != BATON_OK)
		return 1;
	baton__v1__handover__pack(s->r->h, packed);
	while (s->st->receipted < o->count && now_ns() < end) {
		wait_ms = 100;
		while (s->st->sent < o->count) {
			long q = s->st->sent, g = (long)s->idx + q * o->senders;

			due = s->r->sh->t_go + q * interval;
			if (interval > 0 && now_ns() < due) {
				wait_ms = (int)((due - now_ns()) / 1000000);
				break;
			}
			snprintf(id, sizeof(id), "s%d-%ld", s->idx, q);
			snprintf(to, sizeof(to), "br%ld", g % o->receivers + 1);
			s->r->t_sub[s->base + q] = interval > 0 ? due : now_ns();
			rc = baton_submit_packed_async(c, to, packed, len, id, NULL, &e);
			if (rc == BATON_E_AGAIN)
				break;
			if (rc != BATON_OK) {
				note_refusal(s->st, e.broker_code, e.text);
				return 1;
			}
			s->st->sent++;
		}
		rc = baton_wait(c, wait_ms < 0 ? 0 : wait_ms, &e);
		lib_sender_results(s, c);
		if (rc != BATON_OK && rc != BATON_E_TIMEOUT) {
			note_refusal(s->st, e.broker_code, e.text);
			break;
		}
	}
	free(packed);
	return s->st->receipted == o->count && s->st->refused == 0 ? 0 : 1;
}

static void
lib_ack_results(struct receiver *rv, baton_client *c)
{
	baton_result res;

	while (baton_poll_result(c, &res) == BATON_OK) {
		if (res.kind != BATON_RESULT_ACK)
			continue;
		rv->st->acked++;
		if (res.status != BATON_OK) {
			rv->st->ack_refused++;
			note_refusal(rv->st, res.error.broker_code, res.error.text);
		}
	}
}

/* Notes one item and acks it without waiting: 0, or -1. */
static int
lib_take(struct receiver *rv, baton_client *c, baton_incoming *in)
{
	baton_error e;
	long q;
	int who, rc;

	if (in->type == BATON_INCOMING_HANDOVER &&
	    (q = parse_id(in->reference, &who)) >= 0 && who >= 0 &&
	    who < rv->r->o.senders && q < rv->r->o.count) {
		long k = (long)who * rv->r->o.count + q;

		if (rv->r->t_dlv[k] == 0) {
			rv->r->t_dlv[k] = now_ns();
			rv->st->delivered++;
		} else
			rv->st->redelivered++;
	}
	while ((rc = baton_ack_async(c, in, NULL, &e)) == BATON_E_AGAIN) {
		(void)baton_wait(c, 100, &e);
		lib_ack_results(rv, c);
	}
	return rc == BATON_OK ? 0 : -1;
}

static int
lib_receiver_loop(struct receiver *rv, baton_client *c)
{
	const struct opts *o = &rv->r->o;
	int64_t end = rv->r->sh->t_go + (int64_t)o->seconds * 1000000000;
	baton_incoming *in;
	baton_error e;
	int rc;

	while ((rv->st->delivered < rv->expect ||
	    rv->st->acked < rv->st->delivered + rv->st->redelivered) &&
	    now_ns() < end) {
		while ((rc = baton_next(c, 0, &in, &e)) == BATON_OK) {
			rc = lib_take(rv, c, in);
			baton_incoming_free(in);
			if (rc != 0)
				return 1;
		}
		if (rc != BATON_E_TIMEOUT) {
			note_refusal(rv->st, e.broker_code, e.text);
			return 1;
		}
		lib_ack_results(rv, c);
		rc = baton_wait(c, 100, &e);
		lib_ack_results(rv, c);
		if (rc != BATON_OK && rc != BATON_E_TIMEOUT) {
			note_refusal(rv->st, e.broker_code, e.text);
			return 1;
		}
	}
	return rv->st->delivered == rv->expect && rv->st->ack_refused == 0 ? 0 : 1;
}
#endif

/* ---- processes --------------------------------------------------------- */

/* Handovers addressed to receiver j (round robin over the senders' seqs). */
static long
expected_for(const struct opts *o, int j)
{
	long n = 0, q;
	int i;

	for (i = 0; i < o->senders; i++)
		for (q = 0; q < o->count; q++)
			n += ((long)i + q * o->senders) % o->receivers == j;
	return n;
}

/* The raw driver: a bench_link, then the loops above. */
static int
raw_child(struct run *r, struct sender *s, struct receiver *rv,
    const char *cert, const char *key, int ready_fd, int go_fd)
{
	struct link *l = s != NULL ? &s->l : &rv->l;
	char err[256], c;
	SSL_CTX *ctx;
	int rc;

	if ((ctx = link_ctx(r->o.ca, cert, key, err, sizeof(err))) == NULL ||
	    link_open(l, ctx, r->o.host, r->o.port, r->o.server_name, 30000, err,
	    sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s: %s\n", cert, err);
		return 1;
	}
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 0)
		return 1;
	rc = s != NULL ? sender_loop(s) : receiver_loop(rv);
	link_close(l);
	SSL_CTX_free(ctx);
	return rc;
}

/* The pipelined libbaton driver. */
static int
lib_child(struct run *r, struct sender *s, struct receiver *rv,
    const char *cert, const char *key, int ready_fd, int go_fd)
{
#if HAVE_LIB_DRIVER
	baton_client *bc;
	char c;
	int rc;

	if ((bc = lib_connect(r, cert, key)) == NULL)
		return 1;
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 0)
		return 1;
	rc = s != NULL ? lib_sender_loop(s, bc) : lib_receiver_loop(rv, bc);
	baton_close(bc);
	return rc;
#else
	(void)r, (void)s, (void)rv, (void)cert, (void)key, (void)ready_fd,
	    (void)go_fd;
	fprintf(stderr, "bench: this libbaton has no pipelined calls; use "
	    "--driver raw\n");
	return 1;
#endif
}

/*
 * A child: connects, says it is ready on ready_fd, waits for the parent to
 * close go_fd (the start), then runs. Never returns.
 */
static void
child(struct run *r, int k, int ready_fd, int go_fd)
{
	struct opts *o = &r->o;
	char cert[4096], key[4096];
	struct sender s;
	struct receiver rv;
	int sender = k < o->senders, rc;

	alarm((unsigned)o->seconds + 60);
	snprintf(cert, sizeof(cert), "%s/%s%d.crt", o->certs, sender ? "bs" : "br",
	    sender ? k + 1 : k - o->senders + 1);
	snprintf(key, sizeof(key), "%.*s.key", (int)strlen(cert) - 4, cert);
	memset(&s, 0, sizeof(s));
	memset(&rv, 0, sizeof(rv));
	s.r = rv.r = r;
	s.idx = k;
	s.base = (long)k * o->count;
	s.st = rv.st = &r->sh->c[k];
	rv.expect = sender ? 0 : expected_for(o, k - o->senders);
	rc = (o->lib ? lib_child : raw_child)(r, sender ? &s : NULL,
	    sender ? NULL : &rv, cert, key, ready_fd, go_fd);
	r->sh->c[k].done = 1;
	_exit(rc);
}

/* ---- the broker, seen from /proc ------------------------------------- */

struct brokerstat {
	double		 cpu0, cpu1;		/* utime+stime, s */
	long		 anon_kb, file_kb;	/* peaks of RssAnon, RssFile */
	long		 hwm_kb;		/* VmHWM at the end */
	long		 syncs0, syncs1;	/* from the shim's counter */
	volatile uint64_t *syncs;
};

static double
broker_cpu(pid_t pid)
{
	char path[64], buf[2048], *p;
	unsigned long ut = 0, st = 0;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, fp);
	fclose(fp);
	buf[n] = '\0';
	/* fields 14 and 15, counted after the ")" that ends the name */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
	    &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void
broker_mem(pid_t pid, struct brokerstat *b)
{
	char path[64], line[256];
	long v;
	FILE *fp;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	if ((fp = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof(line), fp) != NULL) {
		if (sscanf(line, "RssAnon: %ld", &v) == 1 && v > b->anon_kb)
			b->anon_kb = v;
		else if (sscanf(line, "RssFile: %ld", &v) == 1 && v > b->file_kb)
			b->file_kb = v;
		else if (sscanf(line, "VmHWM: %ld", &v) == 1)
			b->hwm_kb = v;
	}
	fclose(fp);
}

static volatile uint64_t *
map_syncs(const char *path)
{
	void *p;
	int fd;

	if (path == NULL || (fd = open(path, O_RDONLY)) == -1)
		return NULL;
	p = mmap(NULL, sizeof(uint64_t), PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* ---- figures ----------------------------------------------------------- */

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

struct pct {
	double	p50, p95, p99, max;	/* ms */
	long	n;
};

/* Percentiles of to[i] - from[i] over the handovers where both are set. */
static struct pct
latency(const int64_t *from, const int64_t *to, long total)
{
	struct pct p = { -1, -1, -1, -1, 0 };
	int64_t *d;
	long i;

	if ((d = malloc((size_t)total * sizeof(*d) + 1)) == NULL)
		return p;
	for (i = 0; i < total; i++)
		if (from[i] != 0 && to[i] != 0)
			d[p.n++] = to[i] - from[i];
	if (p.n > 0) {
		qsort(d, (size_t)p.n, sizeof(*d), cmp_i64);
		p.p50 = (double)d[(p.n - 1) * 50 / 100] / 1e6;
		p.p95 = (double)d[(p.n - 1) * 95 / 100] / 1e6;
		p.p99 = (double)d[(p.n - 1) * 99 / 100] / 1e6;
		p.max = (double)d[p.n - 1] / 1e6;
	}
	free(d);
	return p;
}

static int64_t
last_of(const int64_t *t, long total)
{
	int64_t m = 0;
	long i;

	for (i = 0; i < total; i++)
		if (t[i] > m)
			m = t[i];
	return m;
}

/*
 * --offline: the receipt rate over the first and the last tenth of the
 * receipts, to see whether a growing queue slows submits down.
 */
static void
queued_rates(struct run *r, long total)
{
	int64_t *t = malloc((size_t)total * sizeof(*t) + 1);
	long n = 0, i, k;
	double first, last;

	if (t == NULL)
		return;
	for (i = 0; i < total; i++)
		if (r->t_rcpt[i] != 0)
			t[n++] = r->t_rcpt[i];
	qsort(t, (size_t)n, sizeof(*t), cmp_i64);
	if ((k = n / 10) > 1) {
		first = (double)k / ((double)(t[k - 1] - r->sh->t_go) / 1e9);
		last = (double)k / ((double)(t[n - 1] - t[n - 1 - k]) / 1e9);
		printf("queued for an offline node: %ld; receipts/s first 10%% "
		    "%.0f, last 10%% %.0f (%+.1f%%)\n", n, first, last,
		    100 * (last - first) / first);
		printf("BENCHQ queued=%ld first_rate=%.0f last_rate=%.0f\n", n,
		    first, last);
	}
	free(t);
}

static int
report(struct run *r, const struct brokerstat *b, int64_t t_end)
{
	const struct opts *o = &r->o;
	long total = o->senders * o->count, sent = 0, rcpt = 0, refused = 0;
	long dlv = 0, redlv = 0, ackref = 0, commits = b->syncs1 - b->syncs0;
	int64_t t0 = r->sh->t_go, lr = last_of(r->t_rcpt, total);
	int64_t ld = last_of(r->t_dlv, total);
	struct pct pr = latency(r->t_sub, r->t_rcpt, total);
	struct pct pd = latency(r->t_sub, r->t_dlv, total);
	double el = (double)((ld > lr ? ld : lr) - t0) / 1e9, cpu = b->cpu1 - b->cpu0;
	const char *first = "";
	int i;

	for (i = 0; i < o->senders + o->receivers; i++) {
		struct child *c = &r->sh->c[i];

		sent += c->sent;
		rcpt += c->receipted;
		refused += c->refused;
		dlv += c->delivered;
		redlv += c->redelivered;
		ackref += c->ack_refused;
		if (first[0] == '\0' && c->first_refusal[0] != '\0')
			first = c->first_refusal;
	}
	if (el <= 0)
		el = (double)(t_end - t0) / 1e9;
	printf("load: %d senders x %ld handovers of %zu bytes -> %d receivers, "
	    "window %d, credit %d, %s\n", o->senders, o->count, r->h_bytes,
	    o->receivers, o->window, o->credit, o->rate > 0 ? "fixed rate" :
	    "closed loop");
	if (o->rate > 0)
		printf("offered rate: %.0f handovers/s\n", o->rate);
	printf("handovers: %ld sent, %ld receipted (%ld refused), %ld delivered "
	    "(%ld redelivered), %ld ack refusals\n", sent, rcpt, refused, dlv,
	    redlv, ackref);
	if (first[0] != '\0')
		printf("first refusal: %s\n", first);
	printf("throughput: %.0f msgs/s delivered+acked, %.0f receipts/s "
	    "(%.2f s)\n", (double)dlv / el, lr > t0 ?
	    (double)(rcpt - refused) / ((double)(lr - t0) / 1e9) : 0.0, el);
	printf("submit->receipt ms:  p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
	    pr.p50, pr.p95, pr.p99, pr.max);
	printf("submit->delivery ms: p50 %.2f p95 %.2f p99 %.2f max %.2f\n",
	    pd.p50, pd.p95, pd.p99, pd.max);
	if (o->broker_pid > 0) {
		printf("broker: cpu %.2f s (%.1f us per handover, %.0f%% of one "
		    "core), peak rss anon %ld KiB file %ld KiB (VmHWM %ld KiB)\n",
		    cpu, dlv ? 1e6 * cpu / (double)dlv : 0.0, 100 * cpu / el,
		    b->anon_kb, b->file_kb, b->hwm_kb);
	}
	if (o->offline)
		queued_rates(r, total);
	if (b->syncs != NULL)
		printf("commits: %ld fdatasync calls, %.1f handovers per commit\n",
		    commits, commits > 0 ? (double)dlv / (double)commits : 0.0);
	printf("BENCH senders=%d count=%ld size=%zu receivers=%d window=%d "
	    "rate=%.0f sent=%ld receipted=%ld refused=%ld delivered=%ld "
	    "elapsed_s=%.3f msgs_per_s=%.0f rcpt_p50_ms=%.3f rcpt_p95_ms=%.3f "
	    "rcpt_p99_ms=%.3f rcpt_max_ms=%.3f dlv_p50_ms=%.3f dlv_p95_ms=%.3f "
	    "dlv_p99_ms=%.3f dlv_max_ms=%.3f cpu_s=%.3f cpu_us_per_msg=%.1f "
	    "rss_anon_kb=%ld rss_file_kb=%ld commits=%ld per_commit=%.1f\n",
	    o->senders, o->count, r->h_bytes, o->receivers, o->window, o->rate,
	    sent, rcpt, refused, dlv, el, (double)dlv / el, pr.p50, pr.p95,
	    pr.p99, pr.max, pd.p50, pd.p95, pd.p99, pd.max, cpu,
	    dlv ? 1e6 * cpu / (double)dlv : 0.0, b->anon_kb, b->file_kb,
	    b->syncs ? commits : -1L, commits > 0 ? (double)dlv / (double)commits : 0.0);
	return sent == total && rcpt == total && refused == 0 &&
	    dlv == (o->offline ? 0 : total) && ackref == 0 ? 0 : 1;
}

/*
 * --idle K: K sessions of node bs1 (raw links, each through Welcome), held
 * for two seconds; the broker's memory before and after, per session.
 */
static int
idle_run(struct run *r)
{
	struct link *ls = calloc((size_t)r->o.idle, sizeof(*ls));
	char cert[4096], key[4096], err[256];
	struct brokerstat b0, b1;
	int64_t t0 = now_ns();
	SSL_CTX *ctx;
	int i, n = 0;

	snprintf(cert, sizeof(cert), "%s/bs1.crt", r->o.certs);
	snprintf(key, sizeof(key), "%s/bs1.key", r->o.certs);
	if (ls == NULL || (ctx = link_ctx(r->o.ca, cert, key, err, sizeof(err))) == NULL)
		return 1;
	memset(&b0, 0, sizeof(b0));
	memset(&b1, 0, sizeof(b1));
	broker_mem(r->o.broker_pid, &b0);
	for (i = 0; i < r->o.idle && now_ns() - t0 < (int64_t)r->o.seconds * 1000000000; i++) {
		if (link_open(&ls[n], ctx, r->o.host, r->o.port, r->o.server_name,
		    10000, err, sizeof(err)) != 0) {
			fprintf(stderr, "bench: idle session %d: %s\n", i + 1, err);
			break;
		}
		n++;
	}
	sleep(2);
	broker_mem(r->o.broker_pid, &b1);
	printf("idle sessions: %d of %d opened in %.1f s; broker rss anon %ld -> "
	    "%ld KiB, file %ld -> %ld KiB; %.1f KiB anon per session\n", n,
	    r->o.idle, (double)(now_ns() - t0) / 1e9 - 2, b0.anon_kb, b1.anon_kb,
	    b0.file_kb, b1.file_kb,
	    n ? (double)(b1.anon_kb - b0.anon_kb) / n : 0.0);
	printf("BENCHI sessions=%d anon0_kb=%ld anon1_kb=%ld per_session_kb=%.1f\n",
	    n, b0.anon_kb, b1.anon_kb,
	    n ? (double)(b1.anon_kb - b0.anon_kb) / n : 0.0);
	for (i = 0; i < n; i++)
		link_close(&ls[i]);
	SSL_CTX_free(ctx);
	free(ls);
	return n == r->o.idle ? 0 : 1;
}

/* ---- main -------------------------------------------------------------- */

static void *
shared_alloc(size_t n)
{
	void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
	    -1, 0);

	if (p == MAP_FAILED) {
		fprintf(stderr, "bench: mmap %zu bytes: %s\n", n, strerror(errno));
		exit(1);
	}
	return p;
}

/* Forks every child; returns once all are connected (or one failed). */
static int
start_children(struct run *r, pid_t *pids, int *go_w)
{
	int n = r->o.senders + (r->o.offline ? 0 : r->o.receivers);
	int ready[2], go[2], i, up = 0;
	char c;

	if (pipe(ready) != 0 || pipe(go) != 0)
		return -1;
	for (i = 0; i < n; i++) {
		if ((pids[i] = fork()) == -1)
			return -1;
		if (pids[i] == 0) {
			close(ready[0]);
			close(go[1]);
			child(r, i, ready[1], go[0]);
		}
	}
	close(ready[1]);
	close(go[0]);
	while (up < n && read(ready[0], &c, 1) == 1)
		up++;
	close(ready[0]);
	*go_w = go[1];
	return up == n ? 0 : -1;
}

/* Waits for every child, sampling the broker; kills them at the deadline. */
static int
await_children(struct run *r, pid_t *pids, struct brokerstat *b)
{
	int n = r->o.senders + (r->o.offline ? 0 : r->o.receivers);
	int left = n, failed = 0, st, i;
	int64_t end = r->sh->t_go + (int64_t)(r->o.seconds + 5) * 1000000000;
	pid_t p;

	while (left > 0) {
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			left--;
			failed |= !WIFEXITED(st) || WEXITSTATUS(st) != 0;
		}
		if (left == 0)
			break;
		if (now_ns() > end) {
			fprintf(stderr, "bench: deadline (--seconds %d) passed; "
			    "stopping the children\n", r->o.seconds);
			for (i = 0; i < n; i++)
				kill(pids[i], SIGKILL);
			while (waitpid(-1, &st, 0) > 0)
				;
			return 1;
		}
		if (r->o.broker_pid > 0)
			broker_mem(r->o.broker_pid, b);
		usleep(50000);
	}
	return failed;
}

int
main(int argc, char **argv)
{
	static struct run r;
	struct brokerstat b;
	pid_t pids[MAX_PROCS];
	long total;
	int go_w = -1, failed;

	parse_opts(&r.o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	if (r.o.idle > 0)
		return idle_run(&r);
	if ((r.h = load_handover(r.o.json)) == NULL ||
	    (r.o.size > 0 && size_handover(r.h, (size_t)r.o.size) != 0))
		return 1;
	r.h_bytes = baton__v1__handover__get_packed_size(r.h);
	total = r.o.senders * r.o.count;
	r.sh = shared_alloc(sizeof(*r.sh));
	r.t_sub = shared_alloc((size_t)total * sizeof(int64_t));
	r.t_rcpt = shared_alloc((size_t)total * sizeof(int64_t));
	r.t_dlv = shared_alloc((size_t)total * sizeof(int64_t));
	memset(&b, 0, sizeof(b));
	b.syncs = map_syncs(r.o.sync_file);
	if (start_children(&r, pids, &go_w) != 0) {
		fprintf(stderr, "bench: not every connection came up\n");
		return 1;
	}
	if (r.o.broker_pid > 0)
		b.cpu0 = broker_cpu(r.o.broker_pid);
	b.syncs0 = b.syncs ? (long)*b.syncs : 0;
	r.sh->t_go = now_ns();
	close(go_w);		/* the start */
	failed = await_children(&r, pids, &b);
	if (r.o.broker_pid > 0) {
		b.cpu1 = broker_cpu(r.o.broker_pid);
		broker_mem(r.o.broker_pid, &b);
	}
	b.syncs1 = b.syncs ? (long)*b.syncs : 0;
	failed |= report(&r, &b, now_ns());
	if (failed)
		fprintf(stderr, "bench: not every handover was receipted and "
		    "delivered (see above)\n");
	return failed;
}
