/*
 * deliver.c - the delivery pump (see deliver.h).
 *
 * While the receiving session has credit, room for unacked deliveries and
 * output space, it asks the lifecycle for the next item of the node's
 * queue (lifecycle/delivery.c: redaction by the policy in force, the
 * delivery's records, quarantine of damaged entries) and sends it. The
 * pump owns only the session's side: cursor, credit, unacked count, the
 * frames and the log lines.
 */
#include "deliver.h"
#include "delivery.h"
#include "lifecycle.h"
#include "log.h"

#define SID(s)	((unsigned long long)(s)->id)

/* Logs why the entry d was passed over. */
static void
log_skip(const struct session *s, const struct delivery *d)
{
	switch (d->skip) {
	case LC_SKIP_STALE:
		log_warnx("sid=%llu node=%s stale queue entry seq=%llu id=%s "
		    "(now for %s) removed", SID(s), s->node_id,
		    (unsigned long long)d->seq, d->id, d->other);
		break;
	case LC_SKIP_DROPPED:
		log_crit("sid=%llu node=%s queue entry seq=%llu id=%s not "
		    "deliverable: %s; moved to quarantine", SID(s), s->node_id,
		    (unsigned long long)d->seq, d->id, d->why);
		break;
	case LC_SKIP_QUARANTINED:
		log_crit("sid=%llu node=%s handover id=%s body missing or corrupt; "
		    "moved to quarantine, sender %s told", SID(s), s->node_id,
		    d->id, d->other);
		break;
	case LC_SKIP_HELD:
		log_warnx("sid=%llu node=%s handover id=%s held: the agreement its "
		    "route needs is not in force; sender %s told", SID(s),
		    s->node_id, d->id, d->other);
		break;
	}
}

/* Sends the item d: a Deliver or a Notice. */
static void
send_item(struct session *s, struct delivery *d)
{
	Frame f = BATON__V1__FRAME__INIT;

	if (d->notice != NULL) {
		f.body_case = BATON__V1__FRAME__BODY_NOTICE;
		f.notice = d->notice->notice;
		if (session_send(s, &f) == 0)
			log_info("sid=%llu node=%s notice id=%s about=%s attempt=%u",
			    SID(s), s->node_id, d->id, d->notice->notice->message_id,
			    d->notice->notice->attempt);
		return;
	}
	f.body_case = BATON__V1__FRAME__BODY_DELIVER;
	f.deliver = &d->deliver;
	if ((d->body != NULL ? session_send_deliver(s, &d->deliver, d->body,
	    d->body_len) : session_send(s, &f)) == 0)
		log_info("sid=%llu node=%s deliver id=%s from=%s attempt=%u "
		    "withheld=%zu", SID(s), s->node_id, d->id, d->other,
		    d->deliver.attempt, d->deliver.n_withheld);
}

void
deliver_pump(struct session *s)
{
	struct delivery d;
	struct actor a;
	int rc;

	s->want_pump = 0;
	if (s->state != SESSION_READY || !s->receiving)
		return;
	session_actor(s, &a);
	while (s->credit > 0 && s->unacked < s->b->cfg->max_unacked &&
	    session_output_len(s) < s->b->cfg->max_output &&
	    s->state == SESSION_READY) {
		rc = lifecycle_deliver_next(&s->b->st, &a, s->cursor, &d);
		if (rc == LC_DELIVER_SKIPPED)
			log_skip(s, &d);
		else if (rc == LC_DELIVER_SENT)
			send_item(s, &d);
		if (rc == LC_DELIVER_SKIPPED || rc == LC_DELIVER_SENT)
			s->cursor = d.seq;
		if (rc == LC_DELIVER_SENT) {
			s->credit--;
			s->unacked++;
		}
		lifecycle_delivery_clear(&d);
		if (rc == LC_DELIVER_NONE || rc == LC_DELIVER_BLOCKED)
			break;
	}
}
