/*
 * session.h - one client connection: TLS, framing, state, credit, and the
 * replies it is owed.
 *
 * States: HANDSHAKE (TLS under way) -> HELLO (identity known, waiting for
 * Hello) -> READY -> CLOSING (an Error or the last replies are draining)
 * -> DEAD (freed at the end of the pass). A CLOSING session writes its last
 * frames, shuts its sending side, and reads and discards until the peer
 * closes or the grace timer fires: closing with unread input would make
 * the kernel send a reset that destroys the Error frame on its way. Replies produced while a pass's
 * transaction is open are held in `pending` and released by the commit
 * pass (broker.h), so no client ever sees uncommitted state.
 */
#ifndef BATON_SESSION_H
#define BATON_SESSION_H

#include <stdint.h>
#include <sys/queue.h>

#include <event2/bufferevent.h>

#include "broker.h"
#include "frame.h"
#include "registry.h"
#include "tls.h"

enum session_state {
	SESSION_HANDSHAKE = 0,
	SESSION_HELLO,
	SESSION_READY,
	SESSION_CLOSING,
	SESSION_DEAD,
};

struct session {
	TAILQ_ENTRY(session)	 entry;
	struct broker		*b;
	uint64_t		 id;		/* for log lines: sid=N */
	enum session_state	 state;
	struct bufferevent	*bev;
	struct evbuffer		*pending;	/* replies held until commit */
	struct event		*close_timer;	/* bounds CLOSING */
	char			 peer[64];	/* address:port */
	char			 node_id[BATON_NODE_ID_MAX + 1];
	char			 role[REGISTRY_ROLE_MAX + 1];
	char			 org[REGISTRY_ORG_MAX + 1];
	char			 cert_serial[TLS_SERIAL_MAX + 1];
	char			 cert_fpr[TLS_FPR_LEN + 1];
	int			 receiving;	/* this node's receiving session */
	uint32_t		 credit;	/* deliveries the client allows */
	uint32_t		 unacked;	/* delivered here, not yet acked */
	uint64_t		 cursor;	/* last queue seq delivered here */
	int			 want_pump;	/* look for deliverable work */
	int			 idle_pinged;	/* a Ping is outstanding */
	int			 read_paused;	/* output over max_output */
	int			 lingering;	/* CLOSING: our side shut, draining input */
	int64_t		 partial_since_ms; /* a frame has been arriving since */
};

/* Creates a session for an accepted TLS bufferevent and starts the handshake. */
struct session *session_new(struct broker *b, struct bufferevent *bev,
	    const char *peer);

/*
 * Queues a frame to the client, released with the pass's replies.
 * Returns 0, or -1 if it could not be encoded (logged; session closed).
 */
int	session_send(struct session *s, const Frame *f);

/* Sends Error{code,text} as the last frame, then closes. Logs once. */
void	session_fail(struct session *s, int code, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));

/* Marks the session dead now (no more output); freed at the end of the pass. */
void	session_kill(struct session *s);

/*
 * Moves held replies to the socket (after a commit), or drops them when
 * drop != 0 (the commit failed, so they would be lies).
 */
void	session_flush(struct session *s, int drop);

/* Bytes waiting to reach this client (socket buffer + held replies). */
size_t	session_output_len(const struct session *s);

/*
 * Fills the actor fields of an audit event from the session: node, role,
 * organisation, certificate serial and fingerprint, peer address.
 */
struct audit_event;
void	session_audit_actor(const struct session *s, struct audit_event *ev);

/* Records a refused connection (handshake or hello) with its reason. */
void	session_audit_refused(struct session *s, const char *code,
	    const char *reason);

/* Frees a DEAD session. */
void	session_destroy(struct session *s);

#endif
