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

#include "recordlimit.h"
#include "clock.h"
#include "store.h"

struct event_base;
struct event;
struct evconnlistener;
struct store;
struct policy;
struct audit;
struct audit_event;
struct session;

struct broker_config {
	const char	*listen;		/* ADDR:PORT; port 0 = ephemeral */
	const char	*port_file;		/* written with the bound port */
	const char	*data_dir;
	const char	*ca_file;
	const char	*cert_file;
	const char	*key_file;
	const char	*crl_file;		/* optional */
	const char	*policy_file;		/* policy.conf; required */
	const char	*broker_id;		/* for Welcome; default host name */
	uint32_t	 max_frame;		/* bytes; default 4 MiB */
	uint32_t	 max_unacked;		/* deliveries in flight per session */
	uint32_t	 max_credit;		/* credit a session may hold */
	size_t		 map_size;		/* LMDB map bytes */
	unsigned	 max_connections;	/* total live connections */
	unsigned	 max_per_node;		/* live connections per node id */
	int		 handshake_timeout_s;
	int		 idle_timeout_s;
	int		 frame_timeout_s;	/* a frame must arrive whole within */
	int		 hello_timeout_s;	/* Hello must follow the handshake within */
	unsigned	 max_preauth_per_address; /* sessions not yet past Hello, per IP */
	size_t		 max_buffered;		/* all partial frames together, bytes */
	size_t		 max_output;		/* bytes queued to one client */
	int		 allow_tls12;
	const char	*user;			/* run as this user (start as root) */
	uid_t		 key_owner;		/* who must own key_file */
};

/* Fills cfg with the defaults above. */
void	broker_config_defaults(struct broker_config *cfg);

TAILQ_HEAD(session_list, session);

struct broker {
	const struct broker_config *cfg;
	struct event_base	*base;
	struct store		*store;
	SSL_CTX			*tls;		/* swapped whole on reload */
	struct policy		*policy;	/* swapped whole on reload */
	struct audit		*audit;		/* keys for the audit log */
	struct event		*recheck_ev;	/* registry re-check of live sessions */
	struct event		*deadline_ev;	/* earliest durable deadline */
	int64_t			 deadline_armed_ms; /* when deadline_ev fires (due-clock ms), 0 = not armed */
	struct due_clock	 due_clock;	/* every due time's clock (clock.h) */
	struct store_space	 space;		/* last measured room in the store */
	struct event		*space_ev;	/* re-measures it every second */
	int64_t			 space_at_ms;	/* when it was measured (monotonic) */
	uint64_t		 space_taken;	/* bytes accepted since */
	size_t			 buffered;	/* partial-frame budget held by sessions */
	int			 budget_waiters; /* sessions waiting for that budget */
	int			 resume_pending; /* sessions paused until the next pass */
	struct record_limit	 read_limit;	/* per-node read and connection records */
	int64_t			 summaries_at_ms; /* last flush of counted records */
	struct evconnlistener	*listener;
	struct session_list	 sessions;	/* every live session */
	unsigned		 nsessions;
	uint64_t		 next_session_id;
	struct event		*commit_ev;	/* low priority: commit + flush */
	int			 commit_scheduled;
	struct event		*reader_check_ev;
	unsigned		 crl_check_ticks;
	int64_t			 clock_wall_ms;	/* last wall/monotonic pair seen, */
	int64_t			 refusal_second;	/* refusal records: the current second, */
	unsigned		 refusal_count;	/* how many were recorded in it, */
	uint64_t		 refusal_dropped; /* and how many were only counted */
	int64_t			 clock_mono_ms;	/* to notice wall-clock steps */
	int			 stopping;	/* SIGTERM received */
	char			 broker_id[64];
};

/*
 * Opens the pass's write transaction if none is open, and schedules the
 * commit. Every handler that reads or writes the store calls this first.
 * Stops the broker (fatalx) if the store cannot begin a transaction.
 */
void	broker_touch(struct broker *b);

/* Schedules the commit-and-flush pass without opening a transaction. */
void	broker_schedule(struct broker *b);

/* Monotonic milliseconds, for timers that a clock step must not move. */
int64_t	broker_mono_ms(void);

/* Wall-clock time in Unix milliseconds (for records, never for timers). */
int64_t	broker_now_ms(void);

/* The commit pass: the callback of commit_ev (priority below all I/O). */
void	broker_commit_pass(int fd, short what, void *arg);

/*
 * Reloads the policy and the TLS context (with its CRL), each swapped in
 * only if it loads completely; closes live sessions whose certificate no
 * longer verifies. Logs what it did and why anything was kept.
 */
void	broker_reload(struct broker *b);

/*
 * Re-reads the registry for every live session: a removed or disabled node
 * is closed, a changed role takes effect. Runs every few seconds.
 */
void	broker_recheck_sessions(struct broker *b);

/*
 * For a store result other than STORE_OK: returns if it is STORE_FULL (the
 * caller refuses and goes on), otherwise logs what failed and stops the
 * broker (fail-stop: a store error is never answered with a receipt).
 */
void	broker_store_failed(struct broker *b, const char *what, int rc);

/*
 * Appends an audit record in a nested operation of its own inside the
 * current transaction (opening the pass's transaction if needed), so a full
 * store fails this record alone; inside a caller's operation it commits or
 * aborts with that operation. Refusals (events recording something that
 * was not done) are limited to AUDIT_REFUSALS_PER_S a second and are not
 * written at all while the store is inside its reserve: those are counted
 * and summarised in one audit_suppressed record when room returns, so a
 * flood of bad requests can neither fill the store nor starve the work
 * that drains it. Returns STORE_OK (also when a refusal was only counted)
 * or STORE_FULL; any other store error stops the broker.
 */
#define AUDIT_REFUSALS_PER_S	50
int	broker_audit(struct broker *b, const struct audit_event *ev);

/*
 * Whether the store (STORE_LOW_MAP) or its disk (STORE_LOW_DISK) would have
 * less room than the reserve kept for draining work (deliveries, acks,
 * decisions) after need more bytes, by the last measurement; 0 if neither.
 */
#define STORE_LOW_MAP	1
#define STORE_LOW_DISK	2
int	broker_store_low(struct broker *b, uint64_t need);

/*
 * Re-measures the room left in the store (map free list and disk) for the
 * submit reserve check. Runs from a timer, when no transaction is open;
 * returns without measuring otherwise. Stops the broker on a store error.
 */
void	broker_measure_space(struct broker *b);

/*
 * Writes the audit_suppressed records owed for reads and connections that
 * were counted rather than recorded (recordlimit.h): those whose window
 * has ended, or all of them when all != 0 (at stop). Skipped while the
 * store is inside its reserve; the counts are kept until there is room.
 */
void	broker_flush_record_summaries(struct broker *b, int all);

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

/*
 * A read from the store failed other than NOTFOUND or CORRUPT: the store is
 * not fit to serve from. Logs and stops the broker (never returns).
 */
void	broker_read_failed(struct broker *b, const char *what)
	    __attribute__((noreturn));

/* Finds the live session of node id that is receiving, or NULL. */
struct session *broker_receiver(struct broker *b, const char *node_id);

#endif
