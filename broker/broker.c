/*
 * broker.c - the group-commit pass (see broker.h) and the broker's
 * shared helpers.
 *
 * The pass, in order: deliver to receivers that may take more (recording
 * each delivery in the open transaction), commit once, then release every
 * session's held replies. If the commit fails for any reason but a full
 * map, the broker stops at once without releasing anything: no receipt
 * for what is not durable, and no retry-then-acknowledge ("fsyncgate").
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/event.h>

#include "broker.h"
#include <event2/bufferevent_ssl.h>

#include "audit.h"
#include "audit_query.h"
#include "log.h"
#include "policy.h"
#include "policy_file.h"
#include "policy_in_force.h"
#include "registry.h"
#include "tls.h"
#include "deadline.h"
#include "deliver.h"
#include "held.h"
#include "dispatch.h"
#include "session.h"
#include "store.h"




static void
schedule_cb(void *arg)
{
	broker_schedule(arg);
}

void
broker_attach_state(struct broker *b)
{
	b->st.cfg = b->cfg;
	b->st.schedule = schedule_cb;
	b->st.schedule_arg = b;
	b->net.on_frame = dispatch_frame;
	b->net.on_gone = dispatch_session_gone;
}

void
broker_schedule(struct broker *b)
{
	if (!b->commit_scheduled) {
		b->commit_scheduled = 1;
		event_active(b->commit_ev, EV_TIMEOUT, 0);
	}
}




/*
 * Runs once per event-loop pass that did work; see the file comment. Every
 * session reads at most its share of frames per pass (session.h), so
 * readable sockets cannot keep this low-priority event from running.
 */
void
broker_commit_pass(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	struct session *s, *next;
	struct wake_set woken;
	int drop, again = 0;

	/* receivers of nodes that have new work, and those that asked */
	state_wake_take(&b->st, &woken);
	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (s->stream != NULL)		/* an audit answer in progress */
			again |= audit_query_pump(s);
		if (s->want_pump || (s->receiving && wake_set_has(&woken, s->node_id)))
			deliver_pump(s);
	}
	/* fail-stop lives in the state layer; a full map withdraws the pass:
	 * nothing of it is durable, so no one may be told it is */
	drop = state_commit(&b->st) == STORE_FULL;
	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (drop && evbuffer_get_length(s->pending) > 0) {
			session_flush(s, 1);
			session_fail(s, BATON__V1__CODE__CODE_STORE_FULL,
			    "the broker's store is full; reconnect and retry");
		}
		session_flush(s, 0);
	}
	b->commit_scheduled = 0;
	if (drop)
		state_measure_space(&b->st);
	else
		state_remeasure_space(&b->st);
	for (s = TAILQ_FIRST(&b->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == SESSION_DEAD)
			session_destroy(s);
		else
			session_pass_begin(s);
	}
	b->resume_pending = 0;
	deadline_rearm(b);
	/* work the pumps queued for nodes already passed over, and audit
	 * answers that used their share of this pass */
	if (again || state_wake_pending(&b->st))
		broker_schedule(b);
	if (b->stopping && b->nsessions == 0)
		event_base_loopbreak(b->base);
}

/*
 * Records a policy reload: loaded (outcome ok) or refused (outcome why,
 * reason its first error as file:line: what), with the SHA-256 of the
 * file's bytes when they could be read.
 */
static void
record_policy(struct broker *b, const char *event, const char *outcome,
    const char *reason, const char *sha256)
{
	struct audit_event ev = { 0 };
	char detail[sizeof("policy_sha256=") + POLICY_SHA256_HEX];

	ev.event = event;
	ev.actor = "broker";
	ev.outcome = outcome;
	ev.reason = reason;
	if (sha256[0] != '\0') {
		snprintf(detail, sizeof(detail), "policy_sha256=%s", sha256);
		ev.detail = detail;
	}
	state_audit(&b->st, &ev);
	broker_schedule(b);	/* committed even if the TLS reload fails */
}

/* Reloads the policy file; 0, or -1 with its first error in first. */
static int
reload_policy(struct broker *b, char *first, size_t firstlen)
{
	struct policy *np;
	const char *why;
	char err[4096], sha[POLICY_SHA256_HEX + 1];

	if ((np = policy_file_load(b->cfg->policy_file, sha, &why, err,
	    sizeof(err))) == NULL) {
		log_warnx("reload: policy not changed, the new one has errors:\n%s",
		    err);
		policy_file_first_error(err, first, firstlen);
		record_policy(b, AUDIT_POLICY_REFUSED, why, first, sha);
		return -1;
	}
	policy_free(b->st.policy);
	b->st.policy = np;
	record_policy(b, AUDIT_POLICY_LOADED, "ok", b->cfg->policy_file, sha);
	policy_in_force_apply(&b->st, b->cfg->data_dir, b->cfg->policy_file);
	/* the new policy may let receivers have more, and held handovers
	 * cross where a route no longer needs an agreement */
	state_wake_all(&b->st);
	b->st.agreements_seen = 0;
	log_info("reload: policy %s loaded (%d roles) sha256=%s",
	    b->cfg->policy_file, np->nroles, sha);
	return 0;
}

int
broker_reload(struct broker *b, char *first, size_t firstlen)
{
	struct session *s;
	SSL_CTX *nctx;
	char err[4096];
	int rc = 0;

	if (b->cfg->policy_file != NULL &&
	    reload_policy(b, first, firstlen) == -1)
		rc = -1;
	if ((nctx = tls_server_ctx(b->cfg, err, sizeof(err))) == NULL) {
		log_warnx("reload: TLS context and CRL not changed: %s", err);
		if (rc == 0)
			snprintf(first, firstlen, "%s", err);
		return -1;
	}
	/* live SSL objects keep a reference to the context they began with */
	SSL_CTX_free(b->tls);
	b->tls = nctx;
	log_info("reload: TLS context%s loaded", b->cfg->crl_file ? " and CRL" : "");
	broker_check_expiry(b);
	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (s->state != SESSION_HELLO && s->state != SESSION_READY)
			continue;
		if (tls_peer_reverify(nctx, bufferevent_openssl_get_ssl(s->bev),
		    err, sizeof(err)) == -1) {
			session_audit_refused(s, "CERTIFICATE_REVOKED", err);
			session_fail(s, BATON__V1__CODE__CODE_CERTIFICATE_REVOKED,
			    "client certificate no longer accepted: %s", err);
		}
	}
	broker_schedule(b);
	return rc;
}

void
broker_recheck_sessions(struct broker *b)
{
	struct session *s;
	struct registry_node n;
	char text[256];
	int rc;

	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (s->state != SESSION_READY)
			continue;
		if (tls_peer_expired(bufferevent_openssl_get_ssl(s->bev))) {
			session_fail(s, BATON__V1__CODE__CODE_BAD_CERTIFICATE,
			    "client certificate has expired");
			continue;
		}
		state_touch(&b->st);
		rc = registry_admit(b->st.store, s->node_id, &n, text, sizeof(text));
		if (rc != BATON__V1__CODE__CODE_OK)
			session_fail(s, rc, "%s", text);
		else if (strcmp(n.role, s->role) != 0) {
			log_info("sid=%llu node=%s role changed %s -> %s",
			    (unsigned long long)s->id, s->node_id, s->role, n.role);
			snprintf(s->role, sizeof(s->role), "%s", n.role);
			s->want_pump = s->receiving;
		}
	}
}











void
broker_second_tick(struct broker *b)
{
	state_measure_space(&b->st);
	state_flush_record_summaries(&b->st, 0);
	lifecycle_agreements_review(&b->st);
}

void
broker_check_expiry(struct broker *b)
{
	int64_t next, left, cert_end;

	/* the broker's own certificate: clients refuse it once it lapses */
	if ((cert_end = tls_own_cert_not_after(b->tls)) != 0) {
		left = cert_end - state_now_ms();
		if (left <= 0)
			log_crit("tls: the broker certificate %s has expired; clients "
			    "refuse it: issue a new one and reload (SIGHUP)",
			    b->cfg->cert_file);
		else if (left < 30LL * 86400 * 1000)
			log_warnx("tls: the broker certificate %s expires in %lld "
			    "days; issue a new one and reload (SIGHUP)",
			    b->cfg->cert_file, (long long)(left / 86400000));
	}

	if (b->cfg->crl_file == NULL || (next = tls_crl_next_update(b->tls)) == 0)
		return;
	left = next - state_now_ms();
	if (left <= 0)
		log_crit("crl: %s lapsed %lld minutes ago; every client is refused "
		    "until it is re-signed (batonctl crl) and reloaded (SIGHUP)",
		    b->cfg->crl_file, (long long)(-left / 60000));
	else if (left < 7LL * 86400 * 1000)
		log_warnx("crl: %s lapses in %lld hours; re-sign it with batonctl crl "
		    "and reload (SIGHUP)", b->cfg->crl_file,
		    (long long)(left / 3600000));
}

void
broker_check_clock(struct broker *b)
{
	int64_t mono = state_mono_ms(), wall = state_now_ms(), step;
	if (b->clock_mono_ms != 0) {
		step = (wall - b->clock_wall_ms) - (mono - b->clock_mono_ms);
		if (step > 2000 || step < -2000)
			log_warnx("clock: the wall clock stepped by %+lld s; deadlines, "
			    "expiry and purge are not affected (they follow the "
			    "broker's monotonic due clock); record and audit times "
			    "show the new wall clock", (long long)(step / 1000));
	}
	b->clock_wall_ms = wall;
	b->clock_mono_ms = mono;
}

