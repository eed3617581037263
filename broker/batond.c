/*
 * batond.c - the broker daemon: start-up, signals, reload, shutdown
 * (settings: state/config.c; `batond -n`: checkconf.c).
 *
 * Start-up loads everything that can fail (TLS material, store) before
 * listening, so a bad certificate or data directory stops the broker with
 * a clear message instead of refusing clients later. SIGTERM stops
 * accepting, lets the current pass commit and release its receipts, then
 * exits 0.
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include <event2/listener.h>

#include "audit.h"
#include "broker.h"
#include "clockms.h"
#include "config.h"
#include "datadir.h"
#include "deadline.h"
#include "listener.h"
#include "checkconf.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "pbarena.h"
#include "policy.h"
#include "policy_file.h"
#include "policy_in_force.h"
#include "privileges.h"
#include "runfile.h"
#include "sdnotify.h"
#include "session.h"
#include "sessionfile.h"
#include "store.h"
#include "tls.h"
#include "version.h"

#define READER_CHECK_S	30	/* how often stale LMDB reader slots are cleared */
#define RECHECK_S	2	/* how often live sessions are checked against the registry */
#define PBARENA_BYTES	(256 * 1024)	/* a few handovers unpacked at once */
#define STOP_GRACE_S	5	/* how long clients may take to read final replies */

/*
 * Records a broker start or stop, followed by a signed checkpoint, so a
 * verifier can tell a log cut after the last clean stop. Committed at once.
 * A start names the policy file and, in detail, the SHA-256 of the bytes
 * loaded from it.
 */
static void
record_lifecycle(struct broker *b, const char *event, const char *policy,
    const char *policy_sha256)
{
	struct audit_event ev = { 0 };
	char detail[sizeof("policy_sha256=") + POLICY_SHA256_HEX];

	ev.event = event;
	ev.actor = "broker";
	ev.actor_org = b->broker_id;
	ev.outcome = "ok";
	ev.reason = policy;
	if (policy_sha256 != NULL) {
		/* which policy was in force from this start */
		snprintf(detail, sizeof(detail), "policy_sha256=%s",
		    policy_sha256);
		ev.detail = detail;
	}
	if (state_audit(&b->st, &ev) != STORE_OK ||
	    audit_checkpoint(b->st.audit, b->st.store, state_now_ms()) != STORE_OK ||
	    store_commit(b->st.store) != STORE_OK)
		fatalx("audit: cannot record %s: %s", event, store_strerror(b->st.store));
}

/*
 * What the signal handler needs besides the broker: the settings a reload
 * reads again, the flags that override them, and the reload count that
 * reload.status carries.
 */
struct daemon {
	struct broker			 b;		/* first: callbacks take &b */
	struct broker_config		*cfg;
	const struct config_cmdline	*cl;
	unsigned long			 reloads;
	struct metrics			 metrics;	/* counters (state/metrics.h) */
	struct metrics_http		*metrics_http;	/* NULL: metrics off */
	struct sessionfile		*sessionfile;	/* DATA/sessions */
	struct event			*log_ev;	/* writes buffered log lines */
};

/* Log lines of a pass are written once, after the pass's I/O. */
static void
log_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	(void)arg;
	log_flush();
}

static void
log_schedule_flush(void *arg)
{
	event_active(arg, EV_TIMEOUT, 0);
}

/* Tells systemd (Type=notify); a failure is logged and otherwise ignored. */
static void
notify(const char *state)
{
	if (sdnotify(state) == -1)
		log_warn("sd_notify to NOTIFY_SOCKET failed");
}

/*
 * Records the outcome of a start (generation 0) or reload for `batonctl
 * reload` in DATA/reload.status.
 */
static void
write_reload_status(struct daemon *d, int ok, const char *error)
{
	struct reload_status st;
	char err[512];

	memset(&st, 0, sizeof(st));
	st.pid = (long)getpid();
	st.generation = d->reloads;
	st.time_ms = clockms_wall();
	snprintf(st.result, sizeof(st.result), "%s", ok ? "ok" : "refused");
	snprintf(st.error, sizeof(st.error), "%s", error);
	if (runfile_write_reload(d->cfg->data_dir, &st, err, sizeof(err)) == -1)
		log_warnx("reload: cannot write %s: %s", RUNFILE_RELOAD, err);
}

/*
 * Re-reads the config file (with the command line's flags over it, as at
 * start) and takes the keys a reload may change. Returns 0, or -1 with the
 * first error in first (nothing changed).
 */
static int
reload_config(struct daemon *d, char *first, size_t firstlen)
{
	struct broker_config fresh;
	char err[8192], restart[512];

	if (d->cfg->config_file == NULL)
		return 0;
	if (config_reread(d->cfg, d->cl, &fresh, err, sizeof(err)) == -1) {
		log_warnx("reload: %s has errors; nothing changed:\n%s",
		    d->cfg->config_file, err);
		snprintf(first, firstlen, "%.*s", (int)strcspn(err, "\n"), err);
		return -1;
	}
	if (config_apply_reload(d->cfg, &fresh, restart, sizeof(restart)) > 0)
		log_warnx("reload: %s changed in %s; applied at the next restart",
		    restart, d->cfg->config_file);
	log_set_level(d->cfg->verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	return 0;
}

/*
 * A reload: the config file, then the policy, TLS files and CRL (each
 * swapped in only if it loads whole). The outcome goes to the log,
 * reload.status (for batonctl reload) and systemd.
 */
static void
daemon_reload(struct daemon *d)
{
	char first[512] = "", status[640];
	int ok;

	notify("RELOADING=1\nSTATUS=reloading");
	ok = reload_config(d, first, sizeof(first)) == 0 &&
	    broker_reload(&d->b, first, sizeof(first)) == 0;
	d->reloads++;
	write_reload_status(d, ok, first);
	if (ok) {
		log_info("reload generation=%lu result=ok", d->reloads);
		snprintf(status, sizeof(status), "READY=1\nSTATUS=serving; "
		    "reload %lu ok", d->reloads);
	} else {
		log_warnx("reload generation=%lu result=refused error=\"%s\"",
		    d->reloads, first);
		snprintf(status, sizeof(status), "READY=1\nSTATUS=serving; "
		    "reload %lu refused: %s", d->reloads, first);
	}
	notify(status);
}

static void
stop_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;

	log_warnx("stop: %u sessions still draining after %ds; exiting",
	    b->nsessions, STOP_GRACE_S);
	event_base_loopbreak(b->base);
}

static void
signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct broker *b = &d->b;
	struct session *s;
	struct timeval tv = { STOP_GRACE_S, 0 };

	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading config, policy, certificates and CRL");
		daemon_reload(d);
		return;
	}
	if (b->stopping)
		return;
	b->stopping = 1;
	notify("STOPPING=1\nSTATUS=stopping");
	log_info("signal %d: stopping; committing in-flight work", (int)sig);
	listener_stop(b);
	TAILQ_FOREACH(s, &b->sessions, entry)
		if (s->state == SESSION_HANDSHAKE)
			session_kill(s);
		else
			session_fail(s, BATON__V1__CODE__CODE_SHUTTING_DOWN,
			    "the broker is stopping; reconnect later");
	event_base_once(b->base, -1, EV_TIMEOUT, stop_timeout_cb, b, &tv);
	broker_schedule(b);
}

static void
recheck_cb(evutil_socket_t fd, short what, void *arg)
{
	broker_recheck_sessions(arg);
}

static void
space_cb(evutil_socket_t fd, short what, void *arg)
{
	broker_second_tick(arg);
}

/*
 * Warns when another process has held the same old snapshot open since the
 * last check (READER_CHECK_S): the store cannot reuse pages meanwhile.
 */
static void
warn_long_reader(struct broker *b)
{
	static struct store_reader last;
	struct store_reader r;

	if (store_oldest_reader(b->st.store, &r) != STORE_OK) {
		memset(&last, 0, sizeof(last));
		return;
	}
	if (r.pid == last.pid && r.txnid == last.txnid && r.behind > 0)
		log_warnx("store: process %ld has held a read transaction for over "
		    "%d s (%llu commits behind); data.mdb cannot reuse pages until "
		    "it ends", r.pid, READER_CHECK_S, (unsigned long long)r.behind);
	last = r;
}

static void
reader_check_cb(evutil_socket_t fd, short what, void *arg)
{
	struct broker *b = arg;
	int n;

	if ((n = store_reader_check(b->st.store)) > 0)
		log_warnx("store: cleared %d stale reader slots", n);
	warn_long_reader(b);
	broker_check_clock(b);
	/* about every ten minutes */
	if (++b->crl_check_ticks * READER_CHECK_S >= 600) {
		b->crl_check_ticks = 0;
		broker_check_expiry(b);
	}
}

/* 1 when stderr is the journal stream systemd gave us (sd-daemon(3)). */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

/*
 * Reads the command line and config file; handles --help, --version and
 * --print-config. Returns -1 to go on, else the exit status.
 */
static int
read_config(int argc, char **argv, struct broker_config *cfg,
    struct config_cmdline *cl)
{
	static char err[16384];
	const char *p, *nl, *pri;

	broker_config_defaults(cfg);
	if (config_from_args(argc, argv, cfg, cl, err, sizeof(err)) == -1) {
		/* before log-format is known: the journal's "err" if it is one */
		pri = stderr_is_journal() ? "<3>" : "";
		for (p = err; (nl = strchr(p, '\n')) != NULL; p = nl + 1)
			fprintf(stderr, "%sbatond: %.*s\n", pri, (int)(nl - p), p);
		fprintf(stderr, "%sbatond: %s\n%sbatond: (batond --help lists the "
		    "settings)\n", pri, p, pri);
		return 2;
	}
	if (cl->help)
		config_usage(stdout);
	else if (cl->version)
		printf("batond %s\n", BATON_VERSION);
	else if (cl->print)
		config_print(stdout, cfg);
	else
		return -1;
	return 0;
}

/* Sets the log's level and format from the settings. */
static void
setup_log(const struct broker_config *cfg)
{
	log_init("batond", cfg->verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	log_set_journal(cfg->log_format == CONFIG_LOG_JOURNAL ||
	    (cfg->log_format == CONFIG_LOG_AUTO && stderr_is_journal()));
}

/*
 * Loads everything that can fail before serving, in the order that keeps
 * rights minimal: policy and TLS key as the starting user, then the run-as
 * user for the data directory, store and audit keys.
 */
static void
load_all(struct broker *b, struct broker_config *cfg,
    char policy_sha256[POLICY_SHA256_HEX + 1])
{
	struct store_opts sopts;
	struct passwd *pw;
	const char *why;
	char err[512], perr[8192];

	if ((b->st.policy = policy_file_load(cfg->policy_file, policy_sha256,
	    &why, perr, sizeof(perr))) == NULL)
		fatalx("policy has errors:\n%s", perr);
	pw = privileges_resolve_user(cfg);
	if ((b->tls = tls_server_ctx(cfg, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	privileges_shed(pw);
	memset(&sopts, 0, sizeof(sopts));
	sopts.dir = cfg->data_dir;
	sopts.map_size = cfg->map_size;
	if (datadir_check(cfg->data_dir, cfg->key_owner, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (store_open(&sopts, &b->st.store, err, sizeof(err)) != STORE_OK)
		fatalx("%s", err);
	if ((b->st.audit = audit_open(cfg->data_dir, 1, err, sizeof(err))) == NULL)
		fatalx("audit: %s", err);
}

int
main(int argc, char **argv)
{
	static struct daemon d;
	static struct broker_config cfg;
	static struct config_cmdline cl;
	struct event *sigs[4];
	struct timeval rc_tv = { READER_CHECK_S, 0 };
	struct timeval recheck_tv = { RECHECK_S, 0 };
	struct timeval space_tv = { 1, 0 };
	char policy_sha256[POLICY_SHA256_HEX + 1];
	int i, rc;
	char err[512], ready[600];
	const int signums[] = { SIGTERM, SIGINT, SIGHUP };

	if ((rc = read_config(argc, argv, &cfg, &cl)) >= 0) {
		broker_config_free(&cfg);
		return rc;
	}
	setup_log(&cfg);
	signal(SIGPIPE, SIG_IGN);
	if (cl.check) {
		rc = checkconf_run(&cfg);
		broker_config_free(&cfg);
		return rc;
	}

	d.cfg = &cfg;
	d.cl = &cl;
	d.b.cfg = &cfg;
	broker_attach_state(&d.b);
	metrics_init(&d.metrics);
	d.b.st.metrics = &d.metrics;
	TAILQ_INIT(&d.b.sessions);
	if (gethostname(d.b.broker_id, sizeof(d.b.broker_id) - 1) != 0)
		strcpy(d.b.broker_id, "batond");
	load_all(&d.b, &cfg, policy_sha256);

	/* frames, stored handovers and registry records live for one callback */
	if (pbarena_enable(PBARENA_BYTES) == -1)
		fatalx("cannot allocate the unpacking arena");
	if ((d.b.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	/* 0: unused, 1: all I/O and timers, 2: the commit pass, after them */
	if (event_base_priority_init(d.b.base, 3) != 0)
		fatalx("event_base_priority_init failed");
	d.b.commit_ev = event_new(d.b.base, -1, 0, broker_commit_pass, &d.b);
	if (d.b.commit_ev == NULL || event_priority_set(d.b.commit_ev, 2) != 0)
		fatalx("cannot create the commit event");
	d.log_ev = event_new(d.b.base, -1, 0, log_flush_cb, NULL);
	if (d.log_ev == NULL || event_priority_set(d.log_ev, 2) != 0)
		fatalx("cannot create the log event");
	log_set_buffered(log_schedule_flush, d.log_ev);
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(d.b.base, signums[i], signal_cb, &d);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot install signal handler");
	}
	d.b.reader_check_ev = event_new(d.b.base, -1, EV_PERSIST, reader_check_cb, &d.b);
	if (d.b.reader_check_ev == NULL || event_add(d.b.reader_check_ev, &rc_tv) != 0)
		fatalx("cannot start the reader check timer");

	d.b.recheck_ev = event_new(d.b.base, -1, EV_PERSIST, recheck_cb, &d.b);
	if (d.b.recheck_ev == NULL || event_add(d.b.recheck_ev, &recheck_tv) != 0)
		fatalx("cannot start the session re-check timer");

	state_measure_space(&d.b.st);
	d.b.space_ev = event_new(d.b.base, -1, EV_PERSIST, space_cb, &d.b);
	if (d.b.space_ev == NULL || event_add(d.b.space_ev, &space_tv) != 0)
		fatalx("cannot start the space timer");
	if (deadline_start(&d.b) == -1)
		fatalx("cannot start the deadline timer");

	/* the pid file and the metrics port before the TLS port file
	   appears, so whoever waits for that (tests, batonctl reload after a
	   start) finds them written; a SIGHUP meanwhile waits in the loop */
	if (runfile_write_pid(cfg.data_dir, getpid(), err, sizeof(err)) == -1)
		fatalx("cannot write %s: %s", RUNFILE_PID, err);
	write_reload_status(&d, 1, "");
	if (cfg.metrics != NULL && (d.metrics_http = metrics_http_start(&d.b,
	    cfg.metrics, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (listener_start(&d.b, err, sizeof(err)) == -1)
		fatalx("%s", err);
	d.sessionfile = sessionfile_start(&d.b);
	policy_in_force_apply(&d.b.st, cfg.data_dir, cfg.policy_file);
	record_lifecycle(&d.b, AUDIT_BROKER_STARTED, cfg.policy_file,
	    policy_sha256);
	broker_check_clock(&d.b);
	broker_check_expiry(&d.b);
	log_info("batond ready data=%s max_frame=%u", cfg.data_dir, cfg.max_frame);
	snprintf(ready, sizeof(ready), "READY=1\nSTATUS=serving on %s",
	    cfg.listen);
	log_flush();	/* the ready line before systemd hears READY=1 */
	notify(ready);
	event_base_dispatch(d.b.base);

	/* stopping: whatever is still open is released with the process */
	{
		struct session *s;

		/* killed first, so the layers above let go (on_gone) */
		while ((s = TAILQ_FIRST(&d.b.sessions)) != NULL) {
			session_kill(s);
			session_destroy(s);
		}
	}
	deadline_save_clock(&d.b);	/* committed with the stop record */
	state_flush_record_summaries(&d.b.st, 1);
	record_lifecycle(&d.b, AUDIT_BROKER_STOPPED, NULL, NULL);
	if (store_active(d.b.st.store) && store_commit(d.b.st.store) != STORE_OK)
		fatalx("store commit at stop failed: %s", store_strerror(d.b.st.store));
	metrics_http_stop(d.metrics_http);
	sessionfile_stop(d.sessionfile);
	if (d.b.listener != NULL)
		evconnlistener_free(d.b.listener);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(d.b.reader_check_ev);
	event_free(d.b.recheck_ev);
	event_free(d.b.space_ev);
	deadline_stop(&d.b);
	policy_free(d.b.st.policy);
	event_free(d.b.commit_ev);
	log_set_buffered(NULL, NULL);
	event_free(d.log_ev);
	event_base_free(d.b.base);
	audit_close(d.b.st.audit);
	store_close(d.b.st.store);
	SSL_CTX_free(d.b.tls);
	runfile_remove_pid(cfg.data_dir);
	broker_config_free(&cfg);
	log_info("stopped");
	return 0;
}
