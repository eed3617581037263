/*
 * deadline.h - durable timers: acceptance deadlines (escalation), expiry
 * of undelivered handovers and purge of acknowledged bodies.
 *
 * Due times are values of the broker's due-time clock (clock.h), never of
 * the wall clock: compute them from state_due_ms, so that a step of the
 * wall clock fires nothing early.
 *
 * Entries live in STORE_DEADLINES under (u64be due_ms, kind, message id),
 * so the earliest is the first key and they survive restarts; one
 * libevent timer is set for the earliest and due work is done in bounded
 * batches. An entry is only a reminder: when it fires, the message's state
 * decides whether anything happens (an accepted handover is not escalated).
 */
#ifndef BATON_DEADLINE_H
#define BATON_DEADLINE_H

#include <stdint.h>

#include "broker.h"
#include "due.h"



/*
 * At start-up: starts the due clock from the store (opening the pass's
 * transaction), creates the timer and arms it from the store. 0 or -1.
 */
int	deadline_start(struct broker *b);

/* Arms the timer for the earliest due entry added since the last call. */
void	deadline_rearm(struct broker *b);

/* Persists the due clock in the pass's transaction (at stop). */
void	deadline_save_clock(struct broker *b);

/* Frees the timer. */
void	deadline_stop(struct broker *b);

#endif
