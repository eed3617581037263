/*
 * dispatch.h - frame dispatch: the one table that says, per frame type,
 * which session state it needs and which shared checks run before its
 * handler (OpenSMTPD's check-then-act command table is the model).
 */
#ifndef BATON_DISPATCH_H
#define BATON_DISPATCH_H

#include "frame.h"
#include "session.h"

/* A whole frame arrived on s (the network layer's on_frame callback). */
void	dispatch_frame(struct session *s, const Frame *f);

/* s stopped receiving: it is closing or gone (on_gone). */
void	dispatch_session_gone(struct session *s);


#endif
