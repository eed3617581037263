/*
 * decision.h - a recipient's Decision (accept, reject with a reason,
 * redirect) and a party's StatusRequest.
 */
#ifndef BATON_DECISION_H
#define BATON_DECISION_H

#include "queue.h"
#include "session.h"

/* Checks and carries out a Decision; answers with DecisionResult. */
void	decision_handle(struct session *s, const Baton__V1__Decision *d);

/* Answers a StatusRequest from the sender or a (past) recipient. */
void	decision_status(struct session *s, const Baton__V1__StatusRequest *q);

/*
 * Queues a notice about m to node. kind, and for decisions the outcome
 * fields of d (NULL otherwise). Returns a store result.
 */
int	decision_notify(struct broker *b, const char *node, int kind,
	    const queue_msg *m, const Baton__V1__Decision *d, int64_t overdue_ms,
	    int with_risk);

#endif
