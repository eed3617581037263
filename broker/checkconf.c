/*
 * checkconf.c - `batond -n` (checkconf.h).
 *
 * Why a child for the second half: the real start reads the key as root
 * and then gives root up for good, so what the run-as user can reach is
 * only known after the same setuid. A child takes that step and _exits,
 * so the parent keeps its rights (and, under LeakSanitizer, a traceable
 * exit). The store is opened only in the child: an LMDB environment never
 * crosses a fork.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "audit.h"
#include "checkconf.h"
#include "datadir.h"
#include "policy.h"
#include "privileges.h"
#include "store.h"
#include "tls.h"

/* Prints each line of text as a problem; returns how many. */
static int
report(const char *text)
{
	const char *p = text, *nl;
	int n = 0;

	do {
		nl = strchr(p, '\n');
		fprintf(stderr, "batond: %.*s\n", nl ? (int)(nl - p) :
		    (int)strlen(p), p);
		n++;
		p = nl + 1;
	} while (nl != NULL);
	return n;
}

/*
 * What the starting user loads: the policy and the TLS context; and the
 * data directory's owner and modes as it sees them (no problem
 * there). Returns the number of problems; r says which parts passed.
 */
struct starter {
	int	policy_ok;	/* the policy parsed */
	int	tls_ok;		/* key, certificate, CA and CRL loaded */
	int	modes_ok;	/* data directory owner and modes right */
};

static int
check_as_starter(const struct broker_config *cfg, struct starter *r)
{
	char err[8192];
	struct policy *p;
	SSL_CTX *ctx;
	int n = 0;

	if (!(r->policy_ok = (p = policy_load(cfg->policy_file, err,
	    sizeof(err))) != NULL))
		n += report(err);
	policy_free(p);
	if (!(r->tls_ok = (ctx = tls_server_ctx(cfg, err, sizeof(err))) != NULL))
		n += report(err);
	SSL_CTX_free(ctx);
	if (!(r->modes_ok = datadir_check(cfg->data_dir, cfg->key_owner, err,
	    sizeof(err)) == 0))
		n += report(err);
	return n;
}

/* path (what: "the CA") is readable now; else one problem. */
static int
check_readable(const char *path, const char *what)
{
	char err[4352];
	int fd;

	if (path == NULL)
		return 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		close(fd);
		return 0;
	}
	snprintf(err, sizeof(err), "%s: %s is not readable by the broker's "
	    "user (uid %ld): %s; a reload (SIGHUP) re-reads it as that user",
	    path, what, (long)geteuid(), strerror(errno));
	return report(err);
}

/* A missing data directory: can the user create it? */
static int
check_creatable(const char *dir)
{
	char copy[4096], err[8400];
	const char *parent;

	snprintf(copy, sizeof(copy), "%s", dir);
	parent = dirname(copy);
	if (access(parent, W_OK | X_OK) == 0)
		return 0;
	snprintf(err, sizeof(err), "%s: the data directory does not exist and "
	    "the broker's user (uid %ld) cannot create it in %s: %s", dir,
	    (long)geteuid(), parent, strerror(errno));
	return report(err);
}

/*
 * The data directory, its store and audit keys, as the start opens them.
 * When the starting user already found its owner or modes wrong
 * (modes_ok 0), only whether the run-as user can reach it is added.
 */
static int
check_data(const struct broker_config *cfg, int modes_ok)
{
	struct store_opts sopts;
	struct store *st;
	struct audit *a;
	struct stat sb;
	char err[4352];

	if (stat(cfg->data_dir, &sb) == -1) {
		if (errno != ENOENT) {
			snprintf(err, sizeof(err), "%s: the broker's user (uid "
			    "%ld) cannot reach the data directory: %s",
			    cfg->data_dir, (long)geteuid(), strerror(errno));
			return report(err);
		}
		/* created below as the start would (0700, by this user) */
		if (check_creatable(cfg->data_dir) > 0)
			return 1;
	} else if (!modes_ok)
		return 0;
	else if (datadir_check(cfg->data_dir, cfg->key_owner, err,
	    sizeof(err)) == -1)
		return report(err);
	memset(&sopts, 0, sizeof(sopts));
	sopts.dir = cfg->data_dir;
	sopts.map_size = cfg->map_size;
	if (store_open(&sopts, &st, err, sizeof(err)) != STORE_OK)
		return report(err);
	if ((a = audit_open(cfg->data_dir, 1, err, sizeof(err))) == NULL) {
		store_close(st);
		return report(err);
	}
	audit_close(a);
	store_close(st);
	return 0;
}

/* The child: become the run-as user, check, exit with 0 or 1. */
/* (What the starting user could not load is reported once, not again.) */
static void
check_as_user(const struct broker_config *cfg, const struct passwd *pw,
    const struct starter *r)
{
	int n = 0;

	privileges_shed(pw);
	n += check_readable(cfg->config_file, "the config file");
	if (r->policy_ok)
		n += check_readable(cfg->policy_file, "the policy");
	if (r->tls_ok) {
		n += check_readable(cfg->ca_file, "the CA certificate");
		n += check_readable(cfg->cert_file, "the broker certificate");
		n += check_readable(cfg->key_file, "the broker key");
		n += check_readable(cfg->crl_file, "the CRL");
	}
	n += check_data(cfg, r->modes_ok);
	fflush(stderr);
	_exit(n > 0 ? 1 : 0);
}

int
checkconf_run(struct broker_config *cfg)
{
	struct passwd *pw;
	struct starter r;
	pid_t pid;
	int n, status;

	pw = privileges_resolve_user(cfg);
	n = check_as_starter(cfg, &r);
	fflush(stdout);
	fflush(stderr);
	if ((pid = fork()) == -1) {
		fprintf(stderr, "batond: fork: %s\n", strerror(errno));
		return 1;
	}
	if (pid == 0)
		check_as_user(cfg, pw, &r);
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR) {
			fprintf(stderr, "batond: waitpid: %s\n", strerror(errno));
			return 1;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		n++;
	if (n > 0) {
		fprintf(stderr, "batond: configuration has problems (above)\n");
		return 1;
	}
	printf("batond: configuration OK\n");
	return 0;
}
