/*
 * router.h - what a session's frames do: Hello, Submit, Pull, Ack, Ping,
 * and the delivery pump that turns queue entries into Deliver frames.
 *
 * Each handler checks, then acts inside its own nested store operation,
 * and queues its reply through session_send; replies go out after the
 * pass commits.
 */
#ifndef BATON_ROUTER_H
#define BATON_ROUTER_H

#include "frame.h"
#include "session.h"

/* Handles one decoded frame from a session in HELLO or READY state. */
void	router_dispatch(struct session *s, const Frame *f);

/*
 * Re-reads the session's node from the registry (its role may have
 * changed); closes the session if the node was removed or disabled since
 * it connected. Returns 0 if the request may go on, -1 if it was closed.
 */
int	router_recheck_node(struct session *s);

/* Clears this node's receiver slot when a receiving session goes away. */
void	router_session_gone(struct session *s);

#endif
