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
#include "log.h"
#include "policy.h"
#include "registry.h"
#include "tls.h"
#include "deliver.h"
#include "router.h"
#include "session.h"
#include "store.h"

void
broker_config_defaults(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:7400";
	cfg->max_frame = BATON_MAX_FRAME_DEFAULT;
	cfg->max_unacked = 64;
	cfg->max_credit = 1024;
	cfg->map_size = (size_t)1 << 30;
	cfg->max_connections = 1024;
	cfg->max_per_node = 8;
	cfg->handshake_timeout_s = 10;
	cfg->idle_timeout_s = 120;
	cfg->frame_timeout_s = 30;
	cfg->hello_timeout_s = 10;
	cfg->max_preauth_per_address = 16;
	cfg->max_buffered = (size_t)128 << 20;
	cfg->max_output = 16u * 1024u * 1024u;
}

int64_t
broker_mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
broker_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
broker_schedule(struct broker *b)
{
	if (!b->commit_scheduled) {
		b->commit_scheduled = 1;
		event_active(b->commit_ev, EV_TIMEOUT, 0);
	}
}

void
broker_touch(struct broker *b)
{
	int rc;

	if (!store_active(b->store) &&
	    (rc = store_begin(b->store, 0)) != STORE_OK)
		fatalx("store: cannot begin transaction: %s; stopping",
		    store_strerror(b->store));
	broker_schedule(b);
}

struct session *
broker_receiver(struct broker *b, const char *node_id)
{
	struct session *s;

	TAILQ_FOREACH(s, &b->sessions, entry)
		if (s->receiving && s->state == SESSION_READY &&
		    strcmp(s->node_id, node_id) == 0)
			return s;
	return NULL;
}

/*
 * Re-measures the room in the store right after a commit that took some,
 * at most every SPACE_REMEASURE_MS: the estimate of what accepted work
 * takes is conservative, so left to grow it would refuse work for room
 * that exists. No transaction is open here, which measuring needs.
 */
#define SPACE_REMEASURE_MS	50

static void
remeasure_space_after_commit(struct broker *b)
{
	if (b->space_taken > 0 &&
	    broker_mono_ms() - b->space_at_ms >= SPACE_REMEASURE_MS)
		broker_measure_space(b);
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
	int rc, drop = 0;

	TAILQ_FOREACH(s, &b->sessions, entry)
		if (s->want_pump)
			deliver_pump(s);
	if (store_active(b->store)) {
		rc = store_commit(b->store);
		if (rc == STORE_FULL) {
			/* nothing of this pass is durable: tell no one it is */
			log_crit("store full at commit: %s; this pass's replies are "
			    "withdrawn and its sessions closed", store_strerror(b->store));
			drop = 1;
		} else if (rc != STORE_OK) {
			log_crit("store commit failed: %s; stopping without sending "
			    "receipts (restart after fixing the cause)",
			    store_strerror(b->store));
			exit(1);
		}
	}
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
		broker_measure_space(b);
	else
		remeasure_space_after_commit(b);
	for (s = TAILQ_FIRST(&b->sessions); s != NULL; s = next) {
		next = TAILQ_NEXT(s, entry);
		if (s->state == SESSION_DEAD)
			session_destroy(s);
		else
			session_pass_begin(s);
	}
	b->resume_pending = 0;
	if (b->stopping && b->nsessions == 0)
		event_base_loopbreak(b->base);
}

void
broker_reload(struct broker *b)
{
	struct policy *np = NULL;
	struct session *s;
	SSL_CTX *nctx;
	char err[4096];

	if (b->cfg->policy_file != NULL) {
		if ((np = policy_load(b->cfg->policy_file, err, sizeof(err))) == NULL)
			log_warnx("reload: policy not changed, the new one has errors:\n%s",
			    err);
		else {
			struct audit_event ev = { 0 };

			policy_free(b->policy);
			b->policy = np;
			ev.event = AUDIT_POLICY_LOADED;
			ev.actor = "broker";
			ev.outcome = "ok";
			ev.reason = b->cfg->policy_file;
			broker_audit(b, &ev);
			/* the new policy may let receivers have more */
			TAILQ_FOREACH(s, &b->sessions, entry)
				s->want_pump = s->receiving;
			log_info("reload: policy %s loaded (%d roles)",
			    b->cfg->policy_file, np->nroles);
		}
	}
	if ((nctx = tls_server_ctx(b->cfg, err, sizeof(err))) == NULL) {
		log_warnx("reload: TLS context and CRL not changed: %s", err);
		return;
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
}

void
broker_recheck_sessions(struct broker *b)
{
	struct session *s;
	struct registry_node n;
	int rc;

	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (s->state != SESSION_READY)
			continue;
		if (tls_peer_expired(bufferevent_openssl_get_ssl(s->bev))) {
			session_fail(s, BATON__V1__CODE__CODE_BAD_CERTIFICATE,
			    "client certificate has expired");
			continue;
		}
		broker_touch(b);
		rc = registry_get(b->store, s->node_id, &n);
		if (rc == STORE_NOTFOUND || (rc == STORE_OK && !n.enabled))
			session_fail(s, rc == STORE_OK ?
			    BATON__V1__CODE__CODE_NODE_DISABLED :
			    BATON__V1__CODE__CODE_UNKNOWN_NODE,
			    "node '%s' has been %s by the administrator", s->node_id,
			    rc == STORE_OK ? "disabled" : "removed");
		else if (rc == STORE_OK && strcmp(n.role, s->role) != 0) {
			log_info("sid=%llu node=%s role changed %s -> %s",
			    (unsigned long long)s->id, s->node_id, s->role, n.role);
			snprintf(s->role, sizeof(s->role), "%s", n.role);
			s->want_pump = s->receiving;
		}
	}
}

void
broker_store_failed(struct broker *b, const char *what, int rc)
{
	if (rc == STORE_FULL)
		return;
	log_crit("%s: store error: %s; stopping", what, store_strerror(b->store));
	exit(1);
}

static int
is_refusal(const char *event)
{
	return strcmp(event, AUDIT_CONN_REFUSED) == 0 ||
	    strcmp(event, AUDIT_SUBMIT_REFUSED) == 0 ||
	    strcmp(event, AUDIT_ACK_REFUSED) == 0 ||
	    strcmp(event, AUDIT_DECISION_REFUSED) == 0 ||
	    strcmp(event, AUDIT_STATUS_REFUSED) == 0;
}

int
broker_store_low(struct broker *b, uint64_t need)
{
	uint64_t map_reserve, disk_reserve, frame_cap, map_free, disk_free;

	map_reserve = b->space.map_size / 10;
	if (map_reserve < (1u << 20))
		map_reserve = 1u << 20;
	frame_cap = b->cfg->max_frame < (8u << 20) ? b->cfg->max_frame : (8u << 20);
	disk_reserve = 2 * frame_cap + (1u << 20);
	map_free = b->space.map_free > b->space_taken ?
	    b->space.map_free - b->space_taken : 0;
	/* the disk is shared with everything else on the machine, so it is
	 * measured afresh (statvfs is cheap), not from the last second */
	b->space.disk_avail = store_disk_avail(b->store);
	disk_free = b->space.disk_avail;
	if (map_free < map_reserve + need)
		return STORE_LOW_MAP;
	if (disk_free < disk_reserve + need)
		return STORE_LOW_DISK;
	return 0;
}

/* Appends in a nested operation; see broker_audit. */
static int
audit_in_op(struct broker *b, const struct audit_event *ev)
{
	int rc;

	broker_touch(b);
	if ((rc = store_op_begin(b->store)) != STORE_OK) {
		log_crit("audit: cannot begin an operation for %s: %s; stopping",
		    ev->event, store_strerror(b->store));
		exit(1);
	}
	rc = audit_append(b->audit, b->store, ev, broker_now_ms());
	if (rc == STORE_OK)
		rc = store_op_commit(b->store);
	else
		store_op_abort(b->store);
	if (rc != STORE_OK && rc != STORE_FULL) {
		log_crit("audit: cannot append %s: %s; stopping", ev->event,
		    audit_strerror(b->audit));
		exit(1);
	}
	if (rc == STORE_FULL)
		log_warnx("audit: store full, %s not recorded; the change it "
		    "describes is refused with it", ev->event);
	else
		b->space_taken += 1024;
	return rc;
}

/* Writes the count of refusals that were only counted, once room returns. */
static void
audit_flush_suppressed(struct broker *b)
{
	struct audit_event ev = { 0 };
	char reason[96];

	if (b->refusal_dropped == 0 || broker_store_low(b, 0))
		return;
	snprintf(reason, sizeof(reason), "%llu refusals counted but not recorded "
	    "one by one (rate limit or store reserve)",
	    (unsigned long long)b->refusal_dropped);
	ev.event = AUDIT_SUPPRESSED;
	ev.actor = "broker";
	ev.outcome = "ok";
	ev.reason = reason;
	if (audit_in_op(b, &ev) == STORE_OK)
		b->refusal_dropped = 0;
}

/* Records of reads and connections: limited per node (recordlimit.h). */
static int
read_record_kind(const char *event)
{
	if (strcmp(event, AUDIT_STATUS_READ) == 0)
		return RECORD_KIND_READ;
	if (strcmp(event, AUDIT_CONN_ACCEPTED) == 0)
		return RECORD_KIND_CONN;
	return -1;
}

/* Writes one audit_suppressed record for a summary; 0 if it was written. */
static int
write_record_summary(struct broker *b, const struct record_limit_summary *sum)
{
	struct audit_event ev = { 0 };
	char reason[160];

	snprintf(reason, sizeof(reason), "%llu status reads and %llu "
	    "connections counted but not recorded one by one (limit %d a "
	    "minute per node, or the store reserve)",
	    (unsigned long long)sum->counted[RECORD_KIND_READ],
	    (unsigned long long)sum->counted[RECORD_KIND_CONN],
	    RECORD_LIMIT_PER_WINDOW);
	ev.event = AUDIT_SUPPRESSED;
	ev.actor = sum->node;
	ev.outcome = "ok";
	ev.reason = reason;
	return audit_in_op(b, &ev) == STORE_OK ? 0 : -1;
}

void
broker_flush_record_summaries(struct broker *b, int all)
{
	struct record_limit_summary sum;
	int64_t now = broker_mono_ms();

	b->summaries_at_ms = now;
	while (!broker_store_low(b, 0) &&
	    record_limit_take_due(&b->read_limit, now, all, &sum))
		if (write_record_summary(b, &sum) == -1) {
			record_limit_restore(&b->read_limit, &sum);
			break;
		}
}

int
broker_audit(struct broker *b, const struct audit_event *ev)
{
	int64_t second = broker_now_ms() / 1000;
	int kind = read_record_kind(ev->event);

	if (kind >= 0) {
		/* a read changes nothing: counted rather than written once the
		 * node's budget is used, or while the store is in its reserve */
		if (!record_limit_admit(&b->read_limit, ev->actor, kind,
		    broker_mono_ms(), !broker_store_low(b, 0)))
			return STORE_OK;
		return audit_in_op(b, ev);
	}

	if (is_refusal(ev->event)) {
		if (second != b->refusal_second) {
			b->refusal_second = second;
			b->refusal_count = 0;
			audit_flush_suppressed(b);
		}
		if (b->refusal_count >= AUDIT_REFUSALS_PER_S ||
		    broker_store_low(b, 0)) {
			if (b->refusal_dropped++ == 0)
				log_warnx("audit: refusals are being counted, not "
				    "recorded one by one (rate limit or store "
				    "reserve); a summary record follows");
			return STORE_OK;
		}
		b->refusal_count++;
	}
	return audit_in_op(b, ev);
}

void
broker_measure_space(struct broker *b)
{
	struct store_space sp;
	int rc;

	if ((rc = store_space(b->store, &sp)) == STORE_BUSY)
		return;
	if (rc != STORE_OK) {
		log_crit("store: cannot measure free space: %s; stopping",
		    store_strerror(b->store));
		exit(1);
	}
	b->space = sp;
	b->space_at_ms = broker_mono_ms();
	b->space_taken = 0;
}

void
broker_second_tick(struct broker *b)
{
	broker_measure_space(b);
	broker_flush_record_summaries(b, 0);
}

void
broker_check_expiry(struct broker *b)
{
	int64_t next, left, cert_end;

	/* the broker's own certificate: clients refuse it once it lapses */
	if ((cert_end = tls_own_cert_not_after(b->tls)) != 0) {
		left = cert_end - broker_now_ms();
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
	left = next - broker_now_ms();
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
	int64_t mono = broker_mono_ms(), wall = broker_now_ms(), step;
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

void
broker_read_failed(struct broker *b, const char *what)
{
	log_crit("%s: store read failed: %s; stopping", what,
	    store_strerror(b->store));
	exit(1);
}
