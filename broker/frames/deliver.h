/*
 * deliver.h - the delivery pump: a receiving session's credit and room ->
 * the next queue item from the lifecycle (lifecycle/delivery.h: redacted
 * by the policy in force, recorded) -> Deliver / Notice frames.
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
