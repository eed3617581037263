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
	unsigned		 pass_frames;	/* the share used in this pass */
	int			 pass_paused;	/* its share of this pass is used */
	uint32_t		 reserved;	/* partial-frame budget it holds */
	uint32_t		 want_reserve;	/* waiting for this much budget */
	int64_t			 accepted_ms;	/* monotonic, for eviction */
	size_t			 discarded;	/* CLOSING: input thrown away */
	char			 addr[48];	/* peer address without port */
	int			 lingering;	/* CLOSING: our side shut, draining input */
	int64_t		 partial_since_ms; /* a frame has been arriving since */
	uint32_t		 proto;		/* protocol version its Hello asked for */
	int			 want_drain;	/* the layer above has more to send once
					   the output drains: pump it then */
	struct audit_stream	*stream;	/* an audit query being answered, or NULL
					   (frames/audit_query.c; freed by on_gone) */
};

/*
 * Fairness and memory bounds on reading (docs/limits.md, "Delivery and
 * memory"): a session handles frames worth at most SESSION_PASS_SHARE in
 * one event-loop pass, each frame 1 plus 1 per whole KiB of it
 * (session_frame_cost), and is then not read until the commit pass has
 * run: a receiver's small acknowledgements go four times as fast as a
 * sender's handovers of some 4 KiB, so one receiver keeps up with several
 * senders. Its
 * read buffer holds SESSION_READ_BASE bytes unless a frame larger than that
 * is arriving, for which it first takes the frame's length from the
 * broker's budget for partial frames (max_buffered), waiting if the budget
 * is spent; before Hello no frame may exceed SESSION_PREHELLO_MAX.
 */
#define SESSION_PASS_SHARE	256

/* What a frame of len body bytes costs of a session's pass share. */
unsigned session_frame_cost(uint32_t len);
#define SESSION_READ_BASE	(64u * 1024u)
#define SESSION_PREHELLO_MAX	(16u * 1024u)

/*
 * Uses up the rest of s's share of this pass: it is read again only after
 * the commit pass. For a request that costs a bounded scan of the store
 * (a work list page reads up to WORKLIST_SCAN_MAX records), so a client
 * cannot pipeline many of them into one pass and hold the loop.
 */
void	session_pass_spent(struct session *s);

/* Every change of a session's state goes through here (logged at debug). */
void	session_set_state(struct session *s, enum session_state to);

/* Creates a session for an accepted TLS bufferevent and starts the handshake. */
struct session *session_new(struct broker *b, struct bufferevent *bev,
	    const char *peer, const char *addr);

/*
 * Called by the commit pass for every session once the pass's replies are
 * released: a new pass begins, so a session paused for its share of the
 * last one, or waiting for partial-frame budget that is now free, is read
 * again (its buffered frames are handled in a deferred callback).
 */
void	session_pass_begin(struct session *s);

/* Sessions of node id that have a certificate identity (HELLO or READY), but except. */
unsigned session_count_node(struct broker *b, const char *node_id,
	    const struct session *except);

/* Finds the live session of node id that is receiving, or NULL. */
struct session *session_receiver(struct broker *b, const char *node_id);

/* The session's node as the actor of a transition (lifecycle.h). */
struct actor;
void	session_actor(const struct session *s, struct actor *a);

/* Sessions from address addr not yet past Hello (HANDSHAKE or HELLO). */
unsigned session_count_preauth(struct broker *b, const char *addr);

/*
 * Queues a frame to the client, released with the pass's replies.
 * Returns 0, or -1 if it could not be encoded (logged; session closed).
 */
int	session_send(struct session *s, const Frame *f);

/*
 * Sends a Deliver whose envelope is the packed bytes env[0..envlen)
 * (d->envelope NULL): as session_send, without unpacking and packing a
 * stored handover again (frame_encode_deliver).
 */
int	session_send_deliver(struct session *s, const Baton__V1__Deliver *d,
	    const uint8_t *env, size_t envlen);

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

/* Hello was accepted: the session is READY, with the idle timeouts. */
void	session_ready(struct session *s);

/* Frees a DEAD session. */
void	session_destroy(struct session *s);

#endif
