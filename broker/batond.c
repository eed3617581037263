/*
 * batond.c - the broker daemon: arguments, start-up, signals, shutdown.
 *
 * Start-up loads everything that can fail (TLS material, store) before
 * listening, so a bad certificate or data directory stops the broker with
 * a clear message instead of refusing clients later. SIGTERM stops
 * accepting, lets the current pass commit and release its receipts, then
 * exits 0.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>

#include <event2/event.h>

#include "audit.h"
#include "broker.h"
#include "datadir.h"
#include "deadline.h"
#include <event2/listener.h>

#include "listener.h"
#include "log.h"
#include "policy.h"
#include "session.h"
#include "store.h"
#include "tls.h"

#define READER_CHECK_S	30	/* how often stale LMDB reader slots are cleared */
#define RECHECK_S	2	/* how often live sessions are checked against the registry */
#define STOP_GRACE_S	5	/* how long clients may take to read final replies */

static void
usage(FILE *fp)
{
	fprintf(fp,
	    "usage: batond --data DIR --ca FILE --cert FILE --key FILE --policy FILE [options]\n"
	    "\n"
	    "  --listen ADDR:PORT      address to listen on (default 127.0.0.1:7400;\n"
	    "                          port 0 picks a free port)\n"
	    "  --port-file FILE        write the bound port number to FILE\n"
	    "  --data DIR              data directory (LMDB store and registry)\n"
	    "  --ca FILE               CA certificate that client certificates chain to\n"
	    "  --cert FILE             broker certificate (PEM)\n"
	    "  --key FILE              broker private key (PEM, mode 0600)\n"
	    "  --crl FILE              certificate revocation list (PEM)\n"
	    "  --policy FILE           roles, routes and sections (policy.conf)\n"
	    "  --max-frame BYTES       largest frame accepted (default 4194304)\n"
	    "  --max-unacked N         deliveries in flight per session (default 64)\n"
	    "  --map-size BYTES        LMDB map size (default 1073741824)\n"
	    "  --max-connections N     total connections (default 1024)\n"
	    "  --max-per-node N        connections per node (default 8)\n"
	    "  --handshake-timeout S   TLS handshake limit (default 10)\n"
	    "  --idle-timeout S        idle time before a ping, then close (default 120)\n"
	    "  --frame-timeout S       a frame must arrive whole within S (default 30)\n"
	    "  --hello-timeout S       Hello must follow the TLS handshake within S\n"
	    "                          (default 10)\n"
	    "  --max-preauth-per-address N\n"
	    "                          connections from one address not yet past\n"
	    "                          Hello (default 16)\n"
	    "  --max-output BYTES      replies and deliveries queued to one client\n"
	    "                          (default 16777216)\n"
	    "  --max-buffered BYTES    all partially received frames together\n"
	    "                          (default 134217728; at least --max-frame)\n"
	    "  --allow-tls12           also accept TLS 1.2 (ECDHE + AEAD only)\n"
	    "  --user NAME             started as root: load the TLS key, then run as\n"
	    "                          NAME (no groups, no capabilities); the data\n"
	    "                          directory and key must belong to NAME\n"
	    "  -n, --check             check the configuration and exit\n"
	    "  -v, --verbose           debug logging\n");
}

static int
parse_num(const char *opt, const char *s, unsigned long long max,
    unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *s == '\0' || *end != '\0' || *s == '-' || v > max) {
		fprintf(stderr, "batond: %s: '%s' is not a number from 0 to %llu\n",
		    opt, s, max);
		return -1;
	}
	*out = v;
	return 0;
}

static int
parse_args(int argc, char **argv, struct broker_config *cfg, int *check,
    int *verbose)
{
	enum { O_LISTEN = 256, O_PORTFILE, O_DATA, O_CA, O_CERT, O_KEY, O_CRL,
	    O_MAXFRAME, O_UNACKED, O_MAPSIZE, O_MAXCONN, O_PERNODE, O_HSTO,
	    O_IDLE, O_TLS12, O_POLICY, O_FRAMETO, O_USER, O_HELLOTO, O_PREAUTH,
	    O_BUFFERED, O_OUTPUT };
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, O_LISTEN },
		{ "port-file", required_argument, NULL, O_PORTFILE },
		{ "data", required_argument, NULL, O_DATA },
		{ "ca", required_argument, NULL, O_CA },
		{ "cert", required_argument, NULL, O_CERT },
		{ "key", required_argument, NULL, O_KEY },
		{ "crl", required_argument, NULL, O_CRL },
		{ "policy", required_argument, NULL, O_POLICY },
		{ "max-frame", required_argument, NULL, O_MAXFRAME },
		{ "max-unacked", required_argument, NULL, O_UNACKED },
		{ "map-size", required_argument, NULL, O_MAPSIZE },
		{ "max-connections", required_argument, NULL, O_MAXCONN },
		{ "max-per-node", required_argument, NULL, O_PERNODE },
		{ "handshake-timeout", required_argument, NULL, O_HSTO },
		{ "idle-timeout", required_argument, NULL, O_IDLE },
		{ "frame-timeout", required_argument, NULL, O_FRAMETO },
		{ "user", required_argument, NULL, O_USER },
		{ "hello-timeout", required_argument, NULL, O_HELLOTO },
		{ "max-preauth-per-address", required_argument, NULL, O_PREAUTH },
		{ "max-buffered", required_argument, NULL, O_BUFFERED },
		{ "max-output", required_argument, NULL, O_OUTPUT },
		{ "allow-tls12", no_argument, NULL, O_TLS12 },
		{ "check", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	unsigned long long v;
	int ch;

	while ((ch = getopt_long(argc, argv, "nvh", opts, NULL)) != -1) {
		switch (ch) {
		case O_LISTEN: cfg->listen = optarg; break;
		case O_PORTFILE: cfg->port_file = optarg; break;
		case O_DATA: cfg->data_dir = optarg; break;
		case O_CA: cfg->ca_file = optarg; break;
		case O_CERT: cfg->cert_file = optarg; break;
		case O_KEY: cfg->key_file = optarg; break;
		case O_CRL: cfg->crl_file = optarg; break;
		case O_POLICY: cfg->policy_file = optarg; break;
		case O_MAXFRAME:
			if (parse_num("--max-frame", optarg, 64u << 20, &v) || v < 1024)
				return -1;
			cfg->max_frame = (uint32_t)v;
			break;
		case O_UNACKED:
			if (parse_num("--max-unacked", optarg, 65535, &v) || v == 0)
				return -1;
			cfg->max_unacked = (uint32_t)v;
			break;
		case O_MAPSIZE:
			if (parse_num("--map-size", optarg, 1ull << 40, &v) || v < (1u << 20))
				return -1;
			cfg->map_size = (size_t)v;
			break;
		case O_MAXCONN:
			if (parse_num("--max-connections", optarg, 100000, &v) || v == 0)
				return -1;
			cfg->max_connections = (unsigned)v;
			break;
		case O_PERNODE:
			if (parse_num("--max-per-node", optarg, 10000, &v) || v == 0)
				return -1;
			cfg->max_per_node = (unsigned)v;
			break;
		case O_HSTO:
			if (parse_num("--handshake-timeout", optarg, 3600, &v) || v == 0)
				return -1;
			cfg->handshake_timeout_s = (int)v;
			break;
		case O_IDLE:
			if (parse_num("--idle-timeout", optarg, 86400, &v) || v == 0)
				return -1;
			cfg->idle_timeout_s = (int)v;
			break;
		case O_FRAMETO:
			if (parse_num("--frame-timeout", optarg, 3600, &v) || v == 0)
				return -1;
			cfg->frame_timeout_s = (int)v;
			break;
		case O_HELLOTO:
			if (parse_num("--hello-timeout", optarg, 3600, &v) || v == 0)
				return -1;
			cfg->hello_timeout_s = (int)v;
			break;
		case O_PREAUTH:
			if (parse_num("--max-preauth-per-address", optarg, 100000, &v) ||
			    v == 0)
				return -1;
			cfg->max_preauth_per_address = (unsigned)v;
			break;
		case O_OUTPUT:
			if (parse_num("--max-output", optarg, 1ull << 32, &v) ||
			    v < 65536)
				return -1;
			cfg->max_output = (size_t)v;
			break;
		case O_BUFFERED:
			if (parse_num("--max-buffered", optarg, 1ull << 40, &v))
				return -1;
			cfg->max_buffered = (size_t)v;
			break;
		case O_TLS12: cfg->allow_tls12 = 1; break;
		case O_USER: cfg->user = optarg; break;
		case 'n': *check = 1; break;
		case 'v': *verbose = 1; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); return -1;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "batond: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (cfg->max_buffered < cfg->max_frame) {
		fprintf(stderr, "batond: --max-buffered %zu is smaller than "
		    "--max-frame %u: a frame of the largest size could never be "
		    "read\n", cfg->max_buffered, cfg->max_frame);
		return -1;
	}
	if (cfg->data_dir == NULL || cfg->ca_file == NULL ||
	    cfg->cert_file == NULL || cfg->key_file == NULL ||
	    cfg->policy_file == NULL) {
		fprintf(stderr, "batond: --data, --ca, --cert, --key and --policy "
		    "are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

/*
 * Records a broker start or stop, followed by a signed checkpoint, so a
 * verifier can tell a log cut after the last clean stop. Committed at once.
 */
static void
record_lifecycle(struct broker *b, const char *event, const char *policy)
{
	struct audit_event ev = { 0 };

	ev.event = event;
	ev.actor = "broker";
	ev.actor_org = b->broker_id;
	ev.outcome = "ok";
	ev.reason = policy;
	if (state_audit(&b->st, &ev) != STORE_OK ||
	    audit_checkpoint(b->st.audit, b->st.store, state_now_ms()) != STORE_OK ||
	    store_commit(b->st.store) != STORE_OK)
		fatalx("audit: cannot record %s: %s", event, store_strerror(b->st.store));
}

/*
 * Resolves --user: the uid the broker will run as, which must own the key.
 * Returns the passwd entry (NULL when not switching users).
 */
static struct passwd *
resolve_user(struct broker_config *cfg)
{
	struct passwd *pw;

	cfg->key_owner = geteuid();
	if (cfg->user == NULL)
		return NULL;
	if ((pw = getpwnam(cfg->user)) == NULL)
		fatalx("--user %s: no such user", cfg->user);
	if (geteuid() != 0 && geteuid() != pw->pw_uid)
		fatalx("--user %s: only root can switch to another user",
		    cfg->user);
	cfg->key_owner = pw->pw_uid;
	return pw;
}

/*
 * Gives up what the broker no longer needs once its key is loaded: root
 * (for the user given), every supplementary group, and the ability to gain
 * privileges again (no_new_privs), before any client data is touched.
 */
static void
shed_privileges(const struct passwd *pw)
{
	if (pw != NULL && geteuid() == 0) {
		if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 ||
		    setuid(pw->pw_uid) != 0)
			fatal("cannot switch to user %s", pw->pw_name);
		if (setuid(0) == 0)
			fatalx("still able to regain root after switching users");
		log_info("running as user %s (uid %ld)", pw->pw_name,
		    (long)pw->pw_uid);
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fatal("prctl(PR_SET_NO_NEW_PRIVS)");
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
	struct broker *b = arg;
	struct session *s;
	struct timeval tv = { STOP_GRACE_S, 0 };

	if (sig == SIGHUP) {
		log_info("SIGHUP: reloading policy, certificates and CRL");
		broker_reload(b);
		return;
	}
	if (b->stopping)
		return;
	b->stopping = 1;
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

int
main(int argc, char **argv)
{
	struct broker_config cfg;
	struct broker b;
	struct store_opts sopts;
	struct event *sigs[4];
	struct timeval rc_tv = { READER_CHECK_S, 0 };
	struct timeval recheck_tv = { RECHECK_S, 0 };
	struct timeval space_tv = { 1, 0 };
	int check = 0, verbose = 0, i;
	char err[512], perr[4096];
	struct passwd *pw;
	const int signums[] = { SIGTERM, SIGINT, SIGHUP };

	broker_config_defaults(&cfg);
	if (parse_args(argc, argv, &cfg, &check, &verbose) == -1)
		return 2;
	log_init("batond", verbose ? LOG_LEVEL_DEBUG : LOG_LEVEL_INFO);
	signal(SIGPIPE, SIG_IGN);

	memset(&b, 0, sizeof(b));
	b.cfg = &cfg;
	broker_attach_state(&b);
	TAILQ_INIT(&b.sessions);
	if (gethostname(b.broker_id, sizeof(b.broker_id) - 1) != 0)
		strcpy(b.broker_id, "batond");

	if ((b.st.policy = policy_load(cfg.policy_file, perr, sizeof(perr))) == NULL)
		fatalx("policy has errors:\n%s", perr);
	pw = resolve_user(&cfg);
	if ((b.tls = tls_server_ctx(&cfg, err, sizeof(err))) == NULL)
		fatalx("%s", err);
	if (!check)
		shed_privileges(pw);
	memset(&sopts, 0, sizeof(sopts));
	sopts.dir = cfg.data_dir;
	sopts.map_size = cfg.map_size;
	if (datadir_check(cfg.data_dir, cfg.key_owner, err, sizeof(err)) == -1)
		fatalx("%s", err);
	if (store_open(&sopts, &b.st.store, err, sizeof(err)) != STORE_OK)
		fatalx("%s", err);
	if ((b.st.audit = audit_open(cfg.data_dir, 1, err, sizeof(err))) == NULL)
		fatalx("audit: %s", err);
	if (check) {
		printf("batond: configuration OK\n");
		audit_close(b.st.audit);
		store_close(b.st.store);
		SSL_CTX_free(b.tls);
		policy_free(b.st.policy);
		return 0;
	}

	if ((b.base = event_base_new()) == NULL)
		fatalx("event_base_new failed");
	/* 0: unused, 1: all I/O and timers, 2: the commit pass, after them */
	if (event_base_priority_init(b.base, 3) != 0)
		fatalx("event_base_priority_init failed");
	b.commit_ev = event_new(b.base, -1, 0, broker_commit_pass, &b);
	if (b.commit_ev == NULL || event_priority_set(b.commit_ev, 2) != 0)
		fatalx("cannot create the commit event");
	for (i = 0; i < 3; i++) {
		sigs[i] = evsignal_new(b.base, signums[i], signal_cb, &b);
		if (sigs[i] == NULL || evsignal_add(sigs[i], NULL) != 0)
			fatalx("cannot install signal handler");
	}
	b.reader_check_ev = event_new(b.base, -1, EV_PERSIST, reader_check_cb, &b);
	if (b.reader_check_ev == NULL || event_add(b.reader_check_ev, &rc_tv) != 0)
		fatalx("cannot start the reader check timer");

	b.recheck_ev = event_new(b.base, -1, EV_PERSIST, recheck_cb, &b);
	if (b.recheck_ev == NULL || event_add(b.recheck_ev, &recheck_tv) != 0)
		fatalx("cannot start the session re-check timer");

	state_measure_space(&b.st);
	b.space_ev = event_new(b.base, -1, EV_PERSIST, space_cb, &b);
	if (b.space_ev == NULL || event_add(b.space_ev, &space_tv) != 0)
		fatalx("cannot start the space timer");
	if (deadline_start(&b) == -1)
		fatalx("cannot start the deadline timer");

	if (listener_start(&b, err, sizeof(err)) == -1)
		fatalx("%s", err);
	record_lifecycle(&b, AUDIT_BROKER_STARTED, cfg.policy_file);
	broker_check_clock(&b);
	broker_check_expiry(&b);
	log_info("batond ready data=%s max_frame=%u", cfg.data_dir, cfg.max_frame);
	event_base_dispatch(b.base);

	/* stopping: whatever is still open is released with the process */
	{
		struct session *s;

		while ((s = TAILQ_FIRST(&b.sessions)) != NULL) {
			session_set_state(s, SESSION_DEAD);
			session_destroy(s);
		}
	}
	deadline_save_clock(&b);	/* committed with the stop record */
	state_flush_record_summaries(&b.st, 1);
	record_lifecycle(&b, AUDIT_BROKER_STOPPED, NULL);
	if (store_active(b.st.store) && store_commit(b.st.store) != STORE_OK)
		fatalx("store commit at stop failed: %s", store_strerror(b.st.store));
	if (b.listener != NULL)
		evconnlistener_free(b.listener);
	for (i = 0; i < 3; i++)
		event_free(sigs[i]);
	event_free(b.reader_check_ev);
	event_free(b.recheck_ev);
	event_free(b.space_ev);
	deadline_stop(&b);
	policy_free(b.st.policy);
	event_free(b.commit_ev);
	event_base_free(b.base);
	audit_close(b.st.audit);
	store_close(b.st.store);
	SSL_CTX_free(b.tls);
	log_info("stopped");
	return 0;
}
