/*
 * lifecycle.h - what every transition of a handover shares: who causes it
 * (struct actor), what it answers (struct lc_result), the ordered history
 * kept in its state record (which Status reports), and who may know of it.
 *
 * The transitions, each a file of its own over the state layer that knows
 * nothing of frames or sessions: submit.c (Submit), delivery.c (delivery
 * with redaction, quarantine), ack.c (Ack of a handover or notice),
 * decide.c (accept, reject, redirect; status reads), due_events.c
 * (escalation, expiry, purge). Each updates the state record, appends to
 * its history, queues the notices it owes and writes its audit records in
 * a store operation of its own, so they commit or vanish together.
 */
#ifndef BATON_LIFECYCLE_H
#define BATON_LIFECYCLE_H

#include <stddef.h>
#include <stdint.h>

#include "state.h"
#include "queue.h"

#define LIFECYCLE_MAX_EVENTS	64

/*
 * Who causes a transition: a node (as its certificate and the registry
 * say) or the broker itself (node_id "broker", the rest NULL). Transitions
 * copy these into their history and audit records; they know nothing of
 * the session or connection it came from.
 */
struct actor {
	const char	*node_id;
	const char	*role;
	const char	*org;
	const char	*cert_serial;
	const char	*cert_sha256;
	const char	*peer;
};

/*
 * What a transition answers: a baton.v1.Code (CODE_OK or the refusal) and
 * a text a person can act on; the caller turns it into its reply.
 */
struct lc_result {
	int	 code;
	char	 text[320];
};

/* Fills the actor fields of an audit event from a. */
struct audit_event;
void	lifecycle_audit_actor(const struct actor *a, struct audit_event *ev);

/*
 * Fills the fields of an audit event that name handover m: its reference,
 * subject reference, risk level and transition kind (the names
 * policy_risk_name and policy_kind_name give), and the detail
 * "lawful_basis=NAME agreement=ID replaces=REF superseded_by=REF" (each
 * part only when m has it) in ev's own detail_buf: ev must not be
 * copied after.
 */
void	lifecycle_audit_handover(const queue_msg *m, struct audit_event *ev);

/*
 * Sets the times of an audit event about m at now: since the broker
 * received it, and with delivered set, since its first delivery to its
 * current recipient (the node deciding).
 */
void	lifecycle_audit_times(const queue_msg *m, struct audit_event *ev,
	    int64_t now, int delivered);

/*
 * Appends one event to m's history (strings copied; NULL = empty). When the
 * history is full, repeated deliveries are no longer recorded there (the
 * audit log still has them). Returns 0 or -1 on out of memory.
 */
int	lifecycle_event(queue_msg *m, int64_t at_ms, const char *event,
	    const char *actor, const char *other, const char *outcome,
	    const char *reason, const char *note);

/* Frees the events lifecycle_event added to a message built by hand. */
void	lifecycle_events_clear(queue_msg *m);

/*
 * The one answer (with CODE_UNKNOWN_MESSAGE) to an Ack or Decision naming
 * a handover the node does not know of, whether none exists or it is
 * another's: ids belong to their sender, and nobody probes another's.
 */
#define LIFECYCLE_UNKNOWN_TEXT	"no such message"

/* 1 if node is m's sender or its current or a past recipient, else 0. */
int	lifecycle_party(const queue_msg *m, const char *node);

/*
 * 1 if node has been told m exists: a party, or, once m was escalated, an
 * escalation node of the policy in force. Others are answered as if m did
 * not exist.
 */
int	lifecycle_knows(const struct state *st, const queue_msg *m,
	    const char *node);

/*
 * A wall-clock time for a history, notice or log text, as the audit log
 * writes it but to the second: "2026-12-08T09:30:00Z".
 */
void	lifecycle_iso_time(int64_t ms, char *buf, size_t len);

/* Name of a lifecycle state ("delivered"), for Status. */
const char *lifecycle_state_name(int state);

/* Name of a reject reason ("wrong_service"). */
const char *lifecycle_reason_name(int reason);

#endif
