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

enum deadline_kind {
	DEADLINE_ACCEPT = 'A',	/* escalate if not accepted or rejected by now */
	DEADLINE_EXPIRE = 'E',	/* expire if not delivered by now */
	DEADLINE_PURGE = 'P',	/* remove the body, keep the history */
};

/* Adds an entry in the current transaction and makes sure the timer is early enough. */
int	deadline_add(struct broker *b, int64_t due_ms, enum deadline_kind kind,
	    const char *message_id);

/*
 * At start-up: starts the due clock from the store (opening the pass's
 * transaction), creates the timer and arms it from the store. 0 or -1.
 */
int	deadline_start(struct broker *b);

/* Persists the due clock in the pass's transaction (at stop). */
void	deadline_save_clock(struct broker *b);

/* Frees the timer. */
void	deadline_stop(struct broker *b);

#endif
