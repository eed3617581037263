/*
 * correct.h - corrected handovers: one version of the truth.
 *
 * A sender corrects a handover it sent by submitting a new version that
 * names it (Envelope.replaces). The new version is a handover of its own
 * (own id, own records, own deadline, redaction and route checked like
 * any other) addressed to the team that holds the case: the earlier
 * version's current recipient. The earlier one names its successor; if
 * it was not yet decided it leaves its recipient's queue and is marked
 * superseded (no decision on it is taken any more), otherwise (accepted,
 * rejected, expired) it keeps its state and the new version reaches the
 * team as an update. Only the sender may correct, only the latest version,
 * and at most LIFECYCLE_MAX_VERSIONS versions make one chain; nothing is
 * dropped: every version keeps its history and audit records.
 */
#ifndef BATON_LC_CORRECT_H
#define BATON_LC_CORRECT_H

#include <stddef.h>

#include "lifecycle.h"
#include "queue.h"
#include "state.h"

#define LIFECYCLE_MAX_VERSIONS	16

/*
 * Whether a may submit a correction of `replaces` (its own id or
 * reference): 0 with the earlier version in *prev (free with
 * queue_msg_free), or a baton.v1.Code with a text for the refusal.
 */
int	lifecycle_correction_check(struct state *st, const struct actor *a,
	    const char *replaces, queue_msg **prev, char *text, size_t len);

/*
 * Marks prev as corrected by next (already stored), inside the caller's
 * store operation: prev names next, leaves the queue (or the held table)
 * and becomes superseded if undecided, with its history, body purge and
 * the superseded audit record by a. STORE_OK or the store's error.
 */
int	lifecycle_supersede(struct state *st, const struct actor *a,
	    queue_msg *prev, const queue_msg *next);

/*
 * Every version of m's chain, oldest first, m included, as new strings
 * in *refs (free each and the array); *n 0 when m was never corrected
 * and corrects none. 0, or -1 on out of memory.
 */
int	lifecycle_versions(struct state *st, const queue_msg *m, char ***refs,
	    size_t *n);

#endif
