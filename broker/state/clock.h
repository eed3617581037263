/*
 * clock.h - the broker's due-time clock: the one clock every deadline,
 * expiry and purge time is computed from and compared with.
 *
 * Why not the wall clock: NTP or an operator (`date -s`) can step
 * CLOCK_REALTIME by days. Due times compared with it fire early after a
 * forward step - a +6 day step would expire handovers still waiting in
 * their recipient's queue - and late after a backward one. The due clock:
 *
 *  - at start, is the later of the wall clock and the value persisted in
 *    the store by the last run, so it never goes back across a restart,
 *    even when the wall clock stepped back while the broker was down;
 *  - while running, advances with CLOCK_MONOTONIC only: a wall-clock step
 *    while the broker runs moves no due time (broker_check_clock logs it);
 *  - is persisted (STORE_META "clock:due_ms") at least every CLOCK_SAVE_MS
 *    by the deadline timer, and at stop.
 *
 * The limit, stated honestly: across a restart the broker cannot tell
 * real downtime from a forward step of the wall clock made while it was
 * down, so then it follows the wall clock (what fell due in the gap falls
 * due at start-up). It logs when the wall clock and the persisted value
 * disagree by more than CLOCK_DISAGREE_MS.
 *
 * Due-clock values equal wall-clock time until the wall clock steps, and
 * stay close to it; they are stored in the handover's record
 * (deadline_at_ms, expires_at_ms, purge_at_ms) and the deadline table, and
 * are never shown to people. Times shown to people and the audit log stay
 * on the wall clock (UTC); audit order is the sequence number.
 *
 * The arithmetic takes the clock readings as arguments, so tests can feed
 * it any readings; clock_due_now and clock_start read the real clocks.
 * No libevent here: the state layer only.
 */
#ifndef BATON_CLOCK_H
#define BATON_CLOCK_H

#include <stdint.h>

struct store;

#define CLOCK_SAVE_MS		5000	/* persisted at least this often */
#define CLOCK_DISAGREE_MS	5000	/* a start-up gap worth a log line */

struct due_clock {
	int	 started;	/* 0: not started; clock_due_now reads the wall clock */
	int64_t	 base_due_ms;	/* the due clock's value when ... */
	int64_t	 base_mono_ms;	/* ... CLOCK_MONOTONIC read this */
	int64_t	 saved_due_ms;	/* last value written to the store, 0 = none */
};

/*
 * Starts c at max(wall_ms, stored_ms) as of mono_ms (stored_ms 0: none).
 * Returns stored_ms - wall_ms (positive: the wall clock is behind the
 * persisted value; negative: downtime or a forward step), 0 without one.
 */
int64_t	clock_start_at(struct due_clock *c, int64_t wall_ms, int64_t mono_ms,
	    int64_t stored_ms);

/* The due clock at monotonic time mono_ms (never before its start value). */
int64_t	clock_due_at(const struct due_clock *c, int64_t mono_ms);

/* Whether due_ms is CLOCK_SAVE_MS or more past the value last persisted. */
int	clock_save_wanted(const struct due_clock *c, int64_t due_ms);

/* The due clock now (the wall clock if c was never started). */
int64_t	clock_due_now(const struct due_clock *c);

/*
 * Reads the persisted value in the current transaction into *stored_ms
 * (0 when there is none, or it is damaged: logged, and the next save
 * replaces it). STORE_OK or STORE_ERROR.
 */
int	clock_load(struct store *st, int64_t *stored_ms);

/*
 * Persists due_ms in a nested operation of the current write transaction
 * (commits with it). STORE_OK, STORE_FULL (nothing written; try later) or
 * STORE_ERROR.
 */
int	clock_save(struct due_clock *c, struct store *st, int64_t due_ms);

/*
 * At start-up, inside an open write transaction: loads the persisted
 * value, starts c from it and the real clocks, logs a disagreement and
 * persists the start value. Returns as clock_save (or clock_load).
 */
int	clock_start(struct due_clock *c, struct store *st);

#endif
