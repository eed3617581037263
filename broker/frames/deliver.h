/*
 * deliver.h - the delivery pump: queue entries (handovers and notices) ->
 * redaction by the policy in force -> Deliver / Notice frames.
 */
#ifndef BATON_DELIVER_H
#define BATON_DELIVER_H

#include "session.h"

/*
 * Delivers queued items to a receiving session while it has credit, room
 * for unacked deliveries and output space. Called from the commit pass,
 * inside its transaction; each delivery is recorded before the pass
 * commits and its frame released only after.
 */
void	deliver_pump(struct session *s);

#endif
