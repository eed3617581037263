/*
 * sessionfile.c - the live-sessions snapshot (see sessionfile.h).
 *
 * Once a second the sessions past Hello are listed; the file is rewritten
 * only when that list differs from the last one written (or the file was
 * removed), so an idle broker writes nothing and a busy one at most one
 * small file (with its fsync) a second. Bytes in flight move constantly,
 * so while clients are busy the file follows them at that rate.
 *
 * Connection times are wall-clock times derived from the monotonic accept
 * time through one offset (wall - monotonic). The offset is kept, not
 * read afresh each second: the two clocks are read a moment apart, so a
 * fresh difference wobbles by a millisecond and every idle session would
 * look changed, rewriting (and fsyncing) the file each second for
 * nothing. It is taken again only when the wall clock has stepped by more
 * than OFFSET_SLACK_MS, so the times follow a step of the clock.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "broker.h"
#include "log.h"
#include "session.h"
#include "sessionfile.h"
#include "sessionlist.h"

#define OFFSET_SLACK_MS	1000

struct sessionfile {
	struct broker	*b;
	struct event	*tick;
	char		*last;		/* last text written, written_ms 0 */
	size_t		 last_len;
	int		 warned;	/* a write failure was logged */
	int		 have_offset;
	int64_t		 offset_ms;	/* wall clock - monotonic clock */
};

/* The wall-clock offset of the monotonic clock, kept while it holds. */
static int64_t
wall_offset(struct sessionfile *sf)
{
	int64_t off = state_now_ms() - state_mono_ms();

	if (!sf->have_offset || off - sf->offset_ms > OFFSET_SLACK_MS ||
	    sf->offset_ms - off > OFFSET_SLACK_MS) {
		sf->offset_ms = off;
		sf->have_offset = 1;
	}
	return sf->offset_ms;
}

/* The sessions past Hello; -1 when out of memory. */
static int
collect(struct sessionfile *sf, struct session_table *l)
{
	struct session *s;
	struct session_row r;
	int64_t off = wall_offset(sf);

	memset(l, 0, sizeof(*l));
	l->pid = (long)getpid();
	TAILQ_FOREACH(s, &sf->b->sessions, entry) {
		if (s->state != SESSION_READY)
			continue;
		memset(&r, 0, sizeof(r));
		snprintf(r.node, sizeof(r.node), "%s", s->node_id);
		snprintf(r.role, sizeof(r.role), "%s", s->role);
		snprintf(r.peer, sizeof(r.peer), "%s", s->peer);
		r.since_ms = off + s->accepted_ms;
		r.bytes = session_output_len(s);
		r.unacked = s->unacked;
		r.receiving = s->receiving;
		if (sessionlist_add(l, &r) == -1)
			return -1;
	}
	return 0;
}

/* Writes the snapshot if it changed since the last one written. */
static void
publish(struct sessionfile *sf)
{
	struct session_table l;
	char *cmp = NULL, *text = NULL, err[512];
	size_t clen, tlen;

	if (collect(sf, &l) == -1 ||
	    (cmp = sessionlist_format(&l, &clen)) == NULL) {
		if (!sf->warned++)
			log_warnx("sessions: out of memory listing the sessions "
			    "for batonctl sessions");
		goto done;
	}
	/* unchanged, and still there (a stat a second puts back a file
	 * someone removed, taking the broker for stopped) */
	if (sf->last != NULL && clen == sf->last_len &&
	    memcmp(cmp, sf->last, clen) == 0 &&
	    sessionlist_present(sf->b->cfg->data_dir))
		goto done;
	l.written_ms = state_now_ms();
	if ((text = sessionlist_format(&l, &tlen)) == NULL) {
		if (!sf->warned++)
			log_warnx("sessions: out of memory listing the sessions "
			    "for batonctl sessions");
		goto done;
	}
	if (sessionlist_write(sf->b->cfg->data_dir, text, tlen, err,
	    sizeof(err)) == -1) {
		if (!sf->warned++)
			log_warnx("sessions: cannot write the snapshot for batonctl "
			    "sessions: %s", err);
		goto done;
	}
	sf->warned = 0;
	free(sf->last);
	sf->last = cmp;
	sf->last_len = clen;
	cmp = NULL;
done:
	free(cmp);
	free(text);
	sessionlist_free(&l);
}

static void
tick_cb(evutil_socket_t fd, short what, void *arg)
{
	publish(arg);
}

struct sessionfile *
sessionfile_start(struct broker *b)
{
	struct sessionfile *sf;
	struct timeval tv = { 1, 0 };

	if ((sf = calloc(1, sizeof(*sf))) == NULL)
		return NULL;
	sf->b = b;
	sf->tick = event_new(b->base, -1, EV_PERSIST, tick_cb, sf);
	if (sf->tick == NULL || event_add(sf->tick, &tv) != 0) {
		log_warnx("sessions: cannot start the snapshot timer");
		sessionfile_stop(sf);
		return NULL;
	}
	publish(sf);
	return sf;
}

void
sessionfile_stop(struct sessionfile *sf)
{
	if (sf == NULL)
		return;
	if (sf->tick != NULL)
		event_free(sf->tick);
	sessionlist_remove(sf->b->cfg->data_dir);
	free(sf->last);
	free(sf);
}
