/*
 * session_stub.h - a test-only stand-in for the network layer's sessions
 * (broker/net/session.c), so the frame dispatch table, its handlers and
 * the delivery pump run without libevent, sockets or TLS.
 *
 * A stub session is a struct session whose libevent fields stay NULL. What
 * the frames layer calls on it (session_send, session_send_deliver,
 * session_fail, session_ready, the counts and the actor) is defined in session_stub.c with the same
 * meaning as the real one: a reply is encoded as it would be for the wire
 * and handed to a hook instead of a socket; a failed session is CLOSING
 * and gets no more frames until stub_session_reset reconnects it.
 */
#ifndef BATON_SESSION_STUB_H
#define BATON_SESSION_STUB_H

#include <stddef.h>

#include "frame.h"
#include "session.h"

#define STUB_SESSIONS_MAX	16

/* The sessions of one run: stub_sessions[0 .. stub_nsessions). */
extern struct session	stub_sessions[STUB_SESSIONS_MAX];
extern unsigned		stub_nsessions;

/*
 * Called for every frame a session sends, once it encoded within
 * max_frame (the session's node, role and state are as at the call).
 */
extern void	(*stub_on_send)(struct session *s, const Frame *f, size_t len);

/*
 * (Re)connects stub session s of node_id on broker b: state HELLO (the
 * certificate was accepted), no credit, nothing in flight, no output.
 */
void	stub_session_reset(struct session *s, struct broker *b,
	    const char *node_id, uint64_t id);

/* Forgets the output sent since the last pass (the pass released it). */
void	stub_sessions_flushed(void);

#endif
