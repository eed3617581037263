/*
 * ctl_data.h - the broker's data directory as batonctl uses it: checking
 * that it is there, opening its store, recording batonctl's own acts in
 * its audit log, and telling whether the broker it names still runs
 * (ctl_data.c).
 */
#ifndef BATON_CTL_DATA_H
#define BATON_CTL_DATA_H

struct audit;
struct audit_event;
struct store;

/*
 * Refuses a data directory that does not exist (store_open would create
 * a new, empty one there): EXIT_SUCCESS, or EXIT_FAILURE printed.
 */
int	ctl_data_exists(const char *dir);

/*
 * Opens the audit keys of data directory dir for a change batonctl will
 * record. They are created only with the store, in a new deployment (no
 * store yet): where a store exists they must be the ones its log was
 * written with, and a missing key is reported, never made anew. With
 * new_dir, dir itself may be missing and is then made (node add starts a
 * deployment); without, a missing dir is refused (a certificate change
 * names an existing broker's directory, and a typo must not start a new
 * one). EXIT_SUCCESS, or EXIT_FAILURE with the reason printed.
 */
int	ctl_data_audit_open(const char *dir, int new_dir, struct audit **au);

/*
 * Opens the store in dir (read-only or not). EXIT_SUCCESS, or
 * EXIT_FAILURE with the reason printed.
 */
int	ctl_data_store(const char *dir, int readonly, struct store **s);

/*
 * Opens the store in dir with a transaction begun (read-only or not).
 * EXIT_SUCCESS, or EXIT_FAILURE with the reason printed and nothing left
 * open.
 */
int	ctl_data_begin(const char *dir, int readonly, struct store **s);

/*
 * Records ev, an act of batonctl's own, in a write transaction of its own
 * (none may be open on s) and commits it. what names the record for a
 * failure: "batonctl: cannot record WHAT: reason". EXIT_SUCCESS, or
 * EXIT_FAILURE printed with nothing recorded.
 */
int	ctl_data_record(struct audit *au, struct store *s,
	    const struct audit_event *ev, const char *what);

/* What ctl_data_batond knows of a pid. */
#define CTL_BATOND_NO		0	/* no such process, or /proc names
					   another program */
#define CTL_BATOND_YES		1	/* a live process named batond */
#define CTL_BATOND_ALIVE	2	/* alive; no /proc to name it */

/*
 * Whether pid (from DATA/batond.pid or DATA/sessions) is a running batond:
 * one of CTL_BATOND_*. A broker that died leaves its pid behind, and the
 * pid may since belong to another program.
 */
int	ctl_data_batond(long pid);

#endif
