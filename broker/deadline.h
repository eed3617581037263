/*
 * deadline.h - durable timers: acceptance deadlines (escalation), expiry
 * of undelivered handovers and purge of acknowledged bodies.
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

/* Creates the timer and arms it from the store (at start-up). */
int	deadline_start(struct broker *b);

/* Frees the timer. */
void	deadline_stop(struct broker *b);

#endif
