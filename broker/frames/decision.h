/*
 * decision.h - the frames of a recipient's Decision (accept, reject with a
 * reason, redirect) and a party's StatusRequest: thin handlers over
 * lifecycle/decide.h.
 */
#ifndef BATON_DECISION_H
#define BATON_DECISION_H

#include "queue.h"
#include "session.h"

/* Checks and carries out a Decision; answers with DecisionResult. */
void	decision_handle(struct session *s, const Baton__V1__Decision *d);

/* Answers a StatusRequest from the sender or a (past) recipient. */
void	decision_status(struct session *s, const Baton__V1__StatusRequest *q);

#endif
