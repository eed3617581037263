/*
 * checkin.h - transition check-ins and the missed-contact protocol.
 *
 * When a handover of a kind the policy gives a contact pattern is
 * accepted (policy.conf checkin / review), the broker lays out its
 * check-ins in the handover's state record, owned by the accepting node,
 * each with a durable due entry at its due time plus grace, on the due
 * clock like every deadline (a clock step moves none, a restart loses
 * none). The accepting team records each one: made, missed, or
 * rescheduled to a later time. A check-in recorded missed, or not
 * recorded within its grace, starts the missed-contact protocol: a
 * NOTICE_KIND_CONTACT_MISSED to the lead the handover's support plan
 * names (its node; none named: the accepting team) and to the sender, and
 * to the policy's missed-contact escalation nodes once the misses reach
 * its count or at once from its risk level. Every step is in the history
 * and the audit log.
 */
#ifndef BATON_LC_CHECKIN_H
#define BATON_LC_CHECKIN_H

#include <stdint.h>

#include "baton.pb-c.h"
#include "lifecycle.h"
#include "queue.h"
#include "state.h"

#define LC_CHECKIN_NOTE_MAX	1024

/*
 * Lays out accepted handover m's check-ins (none when its kind has no
 * pattern, or when m corrects a version the same team accepted and is
 * already following up: then the history says they continue there)
 * inside the caller's store operation, with their due entries, history
 * event and audit record. now_wall: the acceptance time. STORE_OK
 * or the store's error.
 */
int	lifecycle_checkins_schedule(struct state *st, queue_msg *m,
	    int64_t now_wall);

/*
 * The due entry of a check-in of m fell due: every pending check-in whose
 * grace has passed at due_now is missed (unrecorded) and the protocol
 * runs, inside the caller's operation. STORE_OK if m changed (the caller
 * writes nothing more: m is put here), STORE_NOTFOUND if nothing was due,
 * or the store's error.
 */
int	lifecycle_checkins_due(struct state *st, queue_msg *m, int64_t due_now,
	    int64_t wall_now);

/*
 * Records check-in ci by a (the node that accepted the handover). Fills
 * res (CODE_OK or the refusal) and *index (the check-in recorded).
 * Returns res->code.
 */
int	lifecycle_checkin(struct state *st, const struct actor *a,
	    const Baton__V1__CheckIn *ci, struct lc_result *res,
	    uint32_t *index);

/* "pending", "made", "missed", "missed_unrecorded" for a stored check-in. */
const char *lifecycle_checkin_state(const Baton__Store__V1__CheckInRecord *c);

#endif
