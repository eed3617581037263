/*
 * broker.h - the broker's shared context and configuration.
 *
 * One struct broker per process: the event base, the store, the TLS
 * context, the live sessions and the group-commit machinery. Modules take
 * it as their first argument; nothing here is global except in batond.c.
 *
 * Group commit (see DESIGN.md, Guarantee 1): the first piece of work in an
 * event-loop pass opens the store's write transaction and activates the
 * low-priority commit event. Because its priority is below every I/O
 * event's, it runs after that pass's callbacks: it delivers what became
 * deliverable, commits once, and only then releases every reply the pass
 * produced. Nothing a client is told depends on uncommitted state.
 */
#ifndef BATON_BROKER_H
#define BATON_BROKER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <openssl/ssl.h>

#include "config.h"
#include "frame.h"
#include "state.h"

struct event_base;
struct event;
struct evconnlistener;
struct store;
struct policy;
struct audit;
struct audit_event;
struct session;

TAILQ_HEAD(session_list, session);

/*
 * What the network layer calls upward, set by the event-loop layer: a
 * whole frame arrived on a session, or a session stopped receiving (it is
 * closing or gone). The network layer knows nothing else above it.
 */
struct session_callbacks {
	void	(*on_frame)(struct session *, const Frame *);
	void	(*on_gone)(struct session *);
};

struct broker {
	struct state		 st;		/* the bottom layer (state.h) */
	const struct broker_config *cfg;
	struct event_base	*base;
	SSL_CTX			*tls;		/* swapped whole on reload */
	struct event		*recheck_ev;	/* registry re-check of live sessions */
	struct event		*deadline_ev;	/* earliest durable deadline */
	int64_t			 deadline_armed_ms; /* when deadline_ev fires (due-clock ms), 0 = not armed */
	struct event		*space_ev;	/* re-measures it every second */
	size_t			 buffered;	/* partial-frame budget held by sessions */
	int			 budget_waiters; /* sessions waiting for that budget */
	int			 resume_pending; /* sessions paused until the next pass */
	struct session_callbacks net;	/* the network layer's calls upward */
	struct evconnlistener	*listener;
	struct session_list	 sessions;	/* every live session */
	unsigned		 nsessions;
	uint64_t		 next_session_id;
	struct event		*commit_ev;	/* low priority: commit + flush */
	int			 commit_scheduled;
	struct event		*reader_check_ev;
	unsigned		 crl_check_ticks;
	int64_t			 clock_wall_ms;	/* last wall/monotonic pair seen, */
	int64_t			 clock_mono_ms;	/* to notice wall-clock steps */
	int			 stopping;	/* SIGTERM received */
	char			 broker_id[64];
};

/* Schedules the commit-and-flush pass without opening a transaction. */
void	broker_schedule(struct broker *b);

/* Connects the bottom layer to this one (its config, its pass requests). */
void	broker_attach_state(struct broker *b);

/* The commit pass: the callback of commit_ev (priority below all I/O). */
void	broker_commit_pass(int fd, short what, void *arg);

/*
 * Reloads the policy and the TLS context (with its CRL), each swapped in
 * only if it loads completely; closes live sessions whose certificate no
 * longer verifies. Logs what it did and why anything was kept. Returns 0
 * when both were loaded, -1 when either was refused (first: the first
 * reason, one line).
 */
int	broker_reload(struct broker *b, char *first, size_t firstlen);

/*
 * Re-reads the registry for every live session: a removed or disabled node
 * is closed, a changed role takes effect. Runs every few seconds.
 */
void	broker_recheck_sessions(struct broker *b);

/* Once a second: re-measures the store's room and flushes due summaries. */
void	broker_second_tick(struct broker *b);

/*
 * Warns when the CRL in force lapses within a week or the broker's own
 * certificate within 30 days, and raises a critical alarm once either has
 * lapsed. Called at start, after a reload and about every ten minutes.
 */
void	broker_check_expiry(struct broker *b);

/*
 * Logs a step of the wall clock (against the monotonic clock) since the
 * last call. Due times do not move with it (clock.h), but record and audit
 * times do, so an operator must know when the clock jumped. Periodic.
 */
void	broker_check_clock(struct broker *b);



#endif
