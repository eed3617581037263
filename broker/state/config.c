/*
 * config.c - the broker's settings: one table row per key (name, type,
 * default, bounds, help, as Redis's config.c does), and the three readers
 * of that table: batond.conf, batond's command line, and --help /
 * --print-config. A key added here is at once a file key, a flag, a line
 * of --help and of the dump; deploy/batond.conf and batond.conf(5)
 * describe the same keys (tests/integration/11-ops-config.sh checks that
 * every key of the table is in both).
 *
 * batond.conf is "KEY VALUE" per line; '#' starts a comment line; a value
 * may be put in double quotes (kept literally, for a path with spaces).
 * Parsing is bounded (64 KiB file, 1024-byte lines, no control bytes, so
 * no value can forge a log line; numbers in each row's range) and reports every problem as "FILE:LINE: reason", all of
 * them at once; an unknown key is an error, with the nearest known key
 * when one is close. Flags are the same names with "--" and override the
 * file.
 *
 * Not here: what the settings mean to the broker (the layers that read
 * struct broker_config), and file checks (batond.c, tls.c, datadir.c).
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "frame.h"

#define CONFIG_FILE_MAX		(64 * 1024)
#define CONFIG_LINE_MAX		1024
#define CONFIG_MAX_ERRORS	100

enum key_type {
	K_STRING,	/* const char * */
	K_BOOL,		/* int: yes/no */
	K_U32,		/* uint32_t */
	K_UINT,		/* unsigned */
	K_INT,		/* int (seconds) */
	K_SIZE,		/* size_t; bytes, suffix K, M, G or T (x1024) */
	K_ENUM,		/* int: index in names */
};

struct config_key {
	const char		*name;	/* file key; "--name" flag */
	enum key_type		 type;
	size_t			 off;	/* in struct broker_config */
	const char		*def;	/* default; NULL: not set */
	unsigned long long	 min, max; /* numbers: the range */
	const char		*arg;	/* the value's name in --help */
	const char		*help;	/* '\n' starts another help line */
	int			 required;
	int			 reload; /* a reload (SIGHUP) applies it */
	const char *const	*names;	/* K_ENUM: the values, by index */
};

static const char *const log_formats[] = { "auto", "text", "journal", NULL };

#define OFF(f)	offsetof(struct broker_config, f)

static const struct config_key keys[] = {
	{ "listen", K_STRING, OFF(listen), "127.0.0.1:7400", 0, 0, "ADDR:PORT",
	  "address to listen on (port 0: a free port)", 0, 0, NULL },
	{ "port-file", K_STRING, OFF(port_file), NULL, 0, 0, "FILE",
	  "write the bound port number to FILE", 0, 0, NULL },
	{ "data", K_STRING, OFF(data_dir), NULL, 0, 0, "DIR",
	  "data directory (store, registry, audit keys)", 1, 0, NULL },
	{ "ca", K_STRING, OFF(ca_file), NULL, 0, 0, "FILE",
	  "CA certificate that client certificates chain to", 1, 1, NULL },
	{ "cert", K_STRING, OFF(cert_file), NULL, 0, 0, "FILE",
	  "broker certificate (PEM)", 1, 1, NULL },
	{ "key", K_STRING, OFF(key_file), NULL, 0, 0, "FILE",
	  "broker private key (PEM, mode 0600, owned by user)", 1,
	  1, NULL },
	{ "crl", K_STRING, OFF(crl_file), NULL, 0, 0, "FILE",
	  "certificate revocation list (PEM); re-read at reload", 0, 1, NULL },
	{ "policy", K_STRING, OFF(policy_file), NULL, 0, 0, "FILE",
	  "roles, routes and sections (policy.conf(5));\n"
	  "re-read at reload", 1, 1,
	  NULL },
	{ "max-frame", K_U32, OFF(max_frame), "4194304", 1024, 64u << 20,
	  "BYTES", "largest frame accepted", 0, 0, NULL },
	{ "max-unacked", K_U32, OFF(max_unacked), "256", 1, 65535, "N",
	  "deliveries in flight per session", 0, 0, NULL },
	{ "map-size", K_SIZE, OFF(map_size), "1073741824", 1u << 20, 1ull << 40,
	  "BYTES", "LMDB map size: the most the store may hold", 0, 0, NULL },
	{ "max-connections", K_UINT, OFF(max_connections), "1024", 1, 100000,
	  "N", "total connections", 0, 0, NULL },
	{ "max-per-node", K_UINT, OFF(max_per_node), "8", 1, 10000, "N",
	  "connections per node", 0, 0, NULL },
	{ "handshake-timeout", K_INT, OFF(handshake_timeout_s), "10", 1, 3600,
	  "SECONDS", "TLS handshake limit", 0, 0, NULL },
	{ "idle-timeout", K_INT, OFF(idle_timeout_s), "120", 1, 86400,
	  "SECONDS", "idle time before a ping, then close", 0, 0, NULL },
	{ "frame-timeout", K_INT, OFF(frame_timeout_s), "30", 1, 3600,
	  "SECONDS", "a frame must arrive whole within this", 0, 0, NULL },
	{ "hello-timeout", K_INT, OFF(hello_timeout_s), "10", 1, 3600,
	  "SECONDS", "Hello must follow the TLS handshake within this", 0, 0,
	  NULL },
	{ "max-preauth-per-address", K_UINT, OFF(max_preauth_per_address),
	  "16", 1, 100000, "N",
	  "connections from one address not yet past Hello", 0, 0, NULL },
	{ "max-output", K_SIZE, OFF(max_output), "16777216", 65536, 1ull << 32,
	  "BYTES", "replies and deliveries queued to one client", 0, 0, NULL },
	{ "max-buffered", K_SIZE, OFF(max_buffered), "134217728", 0, 1ull << 40,
	  "BYTES", "all partially received frames together\n"
	  "(at least max-frame)", 0, 0, NULL },
	{ "allow-tls12", K_BOOL, OFF(allow_tls12), "no", 0, 1, NULL,
	  "also accept TLS 1.2 (ECDHE + AEAD only)", 0, 1, NULL },
	{ "user", K_STRING, OFF(user), NULL, 0, 0, "NAME",
	  "started as root: load the TLS key, then run as NAME\n"
	  "(no groups, no capabilities); the data directory and\n"
	  "key must belong to NAME",
	  0, 0, NULL },
	{ "verbose", K_BOOL, OFF(verbose), "no", 0, 1, NULL,
	  "debug logging (also -v)", 0, 1, NULL },
	{ "log-format", K_ENUM, OFF(log_format), "auto", 0, 2, "FORMAT",
	  "auto, text or journal: journal writes a <N> priority\n"
	  "before each line instead of the time; auto: journal\n"
	  "when stderr is systemd's journal (JOURNAL_STREAM)",
	  0, 0, log_formats },
	{ "metrics", K_STRING, OFF(metrics), NULL, 0, 0, "ADDR:PORT",
	  "serve Prometheus /metrics and /healthz here, loopback\n"
	  "only unless metrics-allow-remote (port 0: a free one,\n"
	  "logged and written to DATA/metrics.port); unset: off",
	  0, 0, NULL },
	{ "metrics-allow-remote", K_BOOL, OFF(metrics_allow_remote), "no", 0, 1,
	  NULL, "let metrics be a non-loopback address (the endpoint\n"
	  "has no authentication)", 0, 0, NULL },
};

#define NKEYS	(sizeof(keys) / sizeof(keys[0]))

/* The strings a file gave (the table's values point at them). */
struct config_owned {
	struct config_owned	*next;
	char			 s[];
};

/* Problems found so far, one per line. */
struct errs {
	char	*buf;
	size_t	 len, used;
	int	 n;
};

static void add_err(struct errs *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_err(struct errs *e, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (++e->n > CONFIG_MAX_ERRORS || e->used + 1 >= e->len)
		return;
	if (e->n == CONFIG_MAX_ERRORS)
		fmt = "too many errors; the rest are not shown";
	if (e->used > 0)
		e->buf[e->used++] = '\n';
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->used, e->len - e->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= e->len - e->used)
		e->used = e->len - 1;
	else
		e->used += (size_t)n;
	e->buf[e->used] = '\0';
}

/* Levenshtein distance of a and b, for "did you mean" (short names). */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev[65], cur[65];

	if (la > 64 || lb > 64)
		return 64;
	for (j = 0; j <= lb; j++)
		prev[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins) :
			    (del < ins ? del : ins);
		}
		memcpy(prev, cur, sizeof(prev));
	}
	return prev[lb];
}

/* The row named name, or -1. */
static int
key_find(const char *name)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return (int)i;
	return -1;
}

/*
 * "; did you mean 'PREFIXkey'?" for the nearest key within 2 edits of
 * name, else "".
 */
static void
suggest(const char *name, const char *prefix, char *buf, size_t len)
{
	size_t i, d, best = 3, bi = 0;

	buf[0] = '\0';
	for (i = 0; i < NKEYS; i++)
		if ((d = distance(name, keys[i].name)) < best) {
			best = d;
			bi = i;
		}
	if (best <= 2)
		snprintf(buf, len, "; did you mean '%s%s'?", prefix,
		    keys[bi].name);
}

/* Parses a whole number (size suffixes if sizes) into *out. */
static int
parse_number(const char *s, int sizes, unsigned long long *out)
{
	unsigned long long v, mult = 1;
	char *end;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0)
		return -1;
	if (sizes && *end != '\0' && end[1] == '\0') {
		switch (*end) {
		case 'K': case 'k': mult = 1ull << 10; break;
		case 'M': case 'm': mult = 1ull << 20; break;
		case 'G': case 'g': mult = 1ull << 30; break;
		case 'T': case 't': mult = 1ull << 40; break;
		default: return -1;
		}
		end++;
	}
	if (*end != '\0' || v > ~0ull / mult)
		return -1;
	*out = v * mult;
	return 0;
}

static int
parse_bool(const char *s)
{
	if (!strcmp(s, "yes") || !strcmp(s, "true") || !strcmp(s, "on") ||
	    !strcmp(s, "1"))
		return 1;
	if (!strcmp(s, "no") || !strcmp(s, "false") || !strcmp(s, "off") ||
	    !strcmp(s, "0"))
		return 0;
	return -1;
}

/*
 * Stores text as row k's value in cfg. text must outlive cfg (argv, the
 * table, or a string in cfg->owned). Returns 0, or -1 with why set.
 */
static int
key_set(const struct config_key *k, const char *text, struct broker_config *cfg,
    char *why, size_t whylen)
{
	char *p = (char *)cfg + k->off;
	unsigned long long v;
	int i;

	switch (k->type) {
	case K_STRING:
		if (*text == '\0') {
			snprintf(why, whylen, "needs a value (%s)", k->arg);
			return -1;
		}
		*(const char **)p = text;
		return 0;
	case K_BOOL:
		if ((i = parse_bool(text)) == -1) {
			snprintf(why, whylen, "'%s' is not yes or no", text);
			return -1;
		}
		*(int *)p = i;
		return 0;
	case K_ENUM:
		for (i = 0; k->names[i] != NULL; i++)
			if (strcmp(k->names[i], text) == 0) {
				*(int *)p = i;
				return 0;
			}
		snprintf(why, whylen, "'%s' is not one of auto, text, journal",
		    text);
		return -1;
	default:
		break;
	}
	if (parse_number(text, k->type == K_SIZE, &v) == -1 || v < k->min ||
	    v > k->max) {
		snprintf(why, whylen, "'%s' is not a number from %llu to %llu%s",
		    text, k->min, k->max, k->type == K_SIZE ?
		    " (bytes; K, M, G or T may follow)" : "");
		return -1;
	}
	if (k->type == K_U32)
		*(uint32_t *)p = (uint32_t)v;
	else if (k->type == K_UINT)
		*(unsigned *)p = (unsigned)v;
	else if (k->type == K_INT)
		*(int *)p = (int)v;
	else
		*(size_t *)p = (size_t)v;
	return 0;
}

void
broker_config_defaults(struct broker_config *cfg)
{
	char why[128];
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	for (i = 0; i < NKEYS; i++)
		if (keys[i].def != NULL &&
		    key_set(&keys[i], keys[i].def, cfg, why, sizeof(why)) == -1)
			abort();	/* a bad default in the table above */
	cfg->max_credit = 1024;
	if (cfg->max_frame != BATON_MAX_FRAME_DEFAULT)
		abort();	/* the table's max-frame default drifted */
}

void
broker_config_free(struct broker_config *cfg)
{
	struct config_owned *o, *next;

	for (o = cfg->owned; o != NULL; o = next) {
		next = o->next;
		free(o);
	}
	cfg->owned = NULL;
}

/* A copy of s kept until broker_config_free(cfg); NULL on no memory. */
static const char *
own(struct broker_config *cfg, const char *s)
{
	size_t n = strlen(s) + 1;
	struct config_owned *o = malloc(sizeof(*o) + n);

	if (o == NULL)
		return NULL;
	memcpy(o->s, s, n);
	o->next = cfg->owned;
	cfg->owned = o;
	return o->s;
}

/*
 * Splits one line (comment stripped by the caller) into key and value in
 * place. Returns 0, 1 for a blank line, or -1 with why set.
 */
static int
split_line(char *line, char **key, char **val, char *why, size_t whylen)
{
	char *p = line, *end;

	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '\0' || *p == '#')
		return 1;
	*key = p;
	while (*p != '\0' && *p != ' ' && *p != '\t' && *p != '=')
		p++;
	if (*p == '=') {
		snprintf(why, whylen, "write 'KEY VALUE' (no '=')");
		return -1;
	}
	if (*p != '\0')
		*p++ = '\0';
	while (*p == ' ' || *p == '\t')
		p++;
	if (*p == '=') {
		snprintf(why, whylen, "write 'KEY VALUE' (no '=')");
		return -1;
	}
	end = p + strlen(p);
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	if (*p == '"') {
		if (end - p < 2 || end[-1] != '"') {
			snprintf(why, whylen, "a quoted value must end with '\"'");
			return -1;
		}
		end[-1] = '\0';
		p++;
	}
	*val = p;
	return 0;
}

/* Applies one line of name (line number lineno); problems go to e. */
static void
file_line(struct broker_config *cfg, const char *name, int lineno,
    char *line, int *seen, struct errs *e)
{
	char *key, *val, why[512], hint[64];
	int k, rc;
	const char *copy, *c;

	for (c = line; *c != '\0'; c++)
		if (((unsigned char)*c < 0x20 && *c != '\t') || *c == 0x7f) {
			add_err(e, "%s:%d: control character in line", name,
			    lineno);
			return;
		}
	if ((rc = split_line(line, &key, &val, why, sizeof(why))) == 1)
		return;
	if (rc == -1) {
		add_err(e, "%s:%d: %s", name, lineno, why);
		return;
	}
	if ((k = key_find(key)) == -1) {
		suggest(key, "", hint, sizeof(hint));
		add_err(e, "%s:%d: unknown key '%.64s'%s", name, lineno, key, hint);
		return;
	}
	if (seen[k] != 0) {
		add_err(e, "%s:%d: '%s' is set twice (first on line %d)", name,
		    lineno, key, seen[k]);
		return;
	}
	seen[k] = lineno;
	if ((copy = own(cfg, val)) == NULL) {
		add_err(e, "%s:%d: out of memory", name, lineno);
		return;
	}
	if (key_set(&keys[k], copy, cfg, why, sizeof(why)) == -1)
		add_err(e, "%s:%d: %s: %s", name, lineno, key, why);
}

/* Reads the whole file (bounded) into a new NUL-ended buffer. */
static char *
slurp(const char *name, size_t *lenp, struct errs *e)
{
	FILE *fp;
	char *buf;
	size_t n;

	if ((fp = fopen(name, "r")) == NULL) {
		add_err(e, "%s: %s", name, strerror(errno));
		return NULL;
	}
	if ((buf = malloc(CONFIG_FILE_MAX + 1)) == NULL) {
		fclose(fp);
		add_err(e, "%s: out of memory", name);
		return NULL;
	}
	n = fread(buf, 1, CONFIG_FILE_MAX + 1, fp);
	if (ferror(fp) || n > CONFIG_FILE_MAX) {
		add_err(e, "%s: %s", name, ferror(fp) ? strerror(errno) :
		    "larger than 64 KiB");
		fclose(fp);
		free(buf);
		return NULL;
	}
	fclose(fp);
	buf[n] = '\0';
	*lenp = n;
	return buf;
}

/* Reads the len bytes of text (file name, for messages) into cfg. */
static void
config_text(struct broker_config *cfg, const char *name, const char *text,
    size_t len, struct errs *e)
{
	char line[CONFIG_LINE_MAX + 1];
	size_t pos = 0, end, ll;
	int lineno = 0, seen[NKEYS] = { 0 };

	while (pos < len) {
		for (end = pos; end < len && text[end] != '\n'; end++)
			;
		ll = end - pos;
		lineno++;
		if (ll > 0 && text[pos + ll - 1] == '\r')
			ll--;
		if (ll > CONFIG_LINE_MAX)
			add_err(e, "%s:%d: line longer than %d bytes", name,
			    lineno, CONFIG_LINE_MAX);
		else {
			memcpy(line, text + pos, ll);
			line[ll] = '\0';
			file_line(cfg, name, lineno, line, seen, e);
		}
		pos = end + 1;
	}
}

/* Reads the file name into cfg; every problem goes to e. */
static void
config_file(struct broker_config *cfg, const char *name, struct errs *e)
{
	char *text;
	size_t len;

	if ((text = slurp(name, &len, e)) == NULL)
		return;
	config_text(cfg, name, text, len, e);
	free(text);
}

int
config_parse_text(struct broker_config *cfg, const char *name,
    const char *text, size_t len, char *err, size_t errlen)
{
	struct errs e = { err, errlen, 0, 0 };

	if (errlen > 0)
		err[0] = '\0';
	if (len > CONFIG_FILE_MAX)
		add_err(&e, "%s: larger than 64 KiB", name);
	else
		config_text(cfg, name, text, len, &e);
	return e.n > 0 ? -1 : 0;
}

/* Applies cl's flags over cfg; problems go to e. */
static void
apply_flags(struct broker_config *cfg, const struct config_cmdline *cl,
    struct errs *e)
{
	char why[512];
	int i;

	for (i = 0; i < cl->nflags; i++) {
		const struct config_key *k = &keys[cl->flags[i].key];
		const char *v = cl->flags[i].value != NULL ?
		    cl->flags[i].value : "yes";

		if (key_set(k, v, cfg, why, sizeof(why)) == -1)
			add_err(e, "--%s: %s", k->name, why);
	}
}

/*
 * Splits "ADDR:PORT" (numeric IPv4, or IPv6 in brackets) and says whether
 * ADDR is loopback. Returns 1 loopback, 0 other, -1 not ADDR:PORT.
 */
static int
addr_loopback(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	struct in6_addr a6;
	struct in_addr a4;
	const char *colon = strrchr(s, ':');
	unsigned long long port;
	size_t hl;

	if (colon == NULL || parse_number(colon + 1, 0, &port) == -1 ||
	    port > 65535 || (hl = (size_t)(colon - s)) >= sizeof(host))
		return -1;
	memcpy(host, s, hl);
	host[hl] = '\0';
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &a6) != 1)
			return -1;
		return IN6_IS_ADDR_LOOPBACK(&a6);
	}
	if (inet_pton(AF_INET, host, &a4) != 1)
		return -1;
	return (ntohl(a4.s_addr) >> 24) == 127;
}

/*
 * The metrics endpoint has no authentication, so it stays on loopback
 * unless the admin says otherwise (metrics_http.c binds what is checked).
 */
static void
validate_metrics(const struct broker_config *cfg, struct errs *e)
{
	int lo;

	if (cfg->metrics == NULL)
		return;
	if ((lo = addr_loopback(cfg->metrics)) == -1)
		add_err(e, "metrics '%s' is not ADDR:PORT (a numeric IPv4 "
		    "address, or an IPv6 one in brackets, and a port)",
		    cfg->metrics);
	else if (lo == 0 && !cfg->metrics_allow_remote)
		add_err(e, "metrics %s is not a loopback address, and the "
		    "endpoint has no authentication: set 'metrics-allow-remote "
		    "yes' to serve it beyond this host", cfg->metrics);
}

/* The checks that span keys, after file and flags. */
static void
validate(const struct broker_config *cfg, int need_required, struct errs *e)
{
	const char *where = cfg->config_file != NULL ? cfg->config_file :
	    "the config file";
	size_t i;

	for (i = 0; need_required && i < NKEYS; i++)
		if (keys[i].required &&
		    *(const char *const *)((const char *)cfg + keys[i].off) ==
		    NULL)
			add_err(e, "%s is required: set '%s %s' in %s or give "
			    "--%s %s", keys[i].name, keys[i].name, keys[i].arg,
			    where, keys[i].name, keys[i].arg);
	if (cfg->max_buffered < cfg->max_frame)
		add_err(e, "max-buffered %zu is smaller than max-frame %u: a "
		    "frame of the largest size could never be read",
		    cfg->max_buffered, cfg->max_frame);
	validate_metrics(cfg, e);
}

/* Records one settings flag for apply_flags (and a reload). */
static int
record_flag(struct config_cmdline *cl, int key, const char *value,
    struct errs *e)
{
	if (cl->nflags >= (int)(sizeof(cl->flags) / sizeof(cl->flags[0]))) {
		add_err(e, "too many options");
		return -1;
	}
	cl->flags[cl->nflags].key = key;
	cl->flags[cl->nflags].value = value;
	cl->nflags++;
	return 0;
}

enum { O_PRINT = 1000, O_VERSION };

/* An unknown or incomplete option, as a line of e. */
static void
bad_option(const char *arg, int optopt_ch, struct errs *e)
{
	char name[80], hint[64];
	const char *eq;
	int k;

	if (optopt_ch != 0 && optopt_ch < 256 && (arg == NULL ||
	    strncmp(arg, "--", 2) != 0)) {
		add_err(e, "-%c: unknown option or missing value", optopt_ch);
		return;
	}
	if (arg == NULL || strncmp(arg, "--", 2) != 0) {
		add_err(e, "unknown option '%s'", arg != NULL ? arg : "?");
		return;
	}
	eq = strchr(arg, '=');
	snprintf(name, sizeof(name), "%.*s", eq != NULL ? (int)(eq - arg - 2) :
	    (int)strlen(arg + 2), arg + 2);
	if ((k = key_find(name)) >= 0) {
		add_err(e, "--%s: %s", name, keys[k].type == K_BOOL ?
		    "takes no value (given, it means yes)" : "missing value");
		return;
	}
	suggest(name, "--", hint, sizeof(hint));
	add_err(e, "unknown option '--%s'%s", name, hint);
}

/* Reads argv into cl (and cfg->config_file); problems go to e. */
static void
read_args(int argc, char **argv, struct broker_config *cfg,
    struct config_cmdline *cl, struct errs *e)
{
	struct option lo[NKEYS + 7];
	size_t i;
	int ch, last;

	for (i = 0; i < NKEYS; i++) {
		lo[i].name = keys[i].name;
		lo[i].has_arg = keys[i].type == K_BOOL ? no_argument :
		    required_argument;
		lo[i].flag = NULL;
		lo[i].val = 256 + (int)i;
	}
	lo[i++] = (struct option){ "config", required_argument, NULL, 'c' };
	lo[i++] = (struct option){ "check", no_argument, NULL, 'n' };
	lo[i++] = (struct option){ "help", no_argument, NULL, 'h' };
	lo[i++] = (struct option){ "print-config", no_argument, NULL, O_PRINT };
	lo[i++] = (struct option){ "version", no_argument, NULL, O_VERSION };
	lo[i++] = (struct option){ NULL, 0, NULL, 0 };
	/* '+': no operands, so no permuting; the first word that is not an
	   option ends the options and is reported, as is all after it */
	opterr = 0;
	optind = 0;	/* glibc: start afresh (a reload or test parses again) */
	for (;;) {
		last = optind > 0 ? optind : 1;
		if ((ch = getopt_long(argc, argv, "+:c:nvh", lo, NULL)) == -1)
			break;
		switch (ch) {
		case 'c': cfg->config_file = optarg; break;
		case 'n': cl->check = 1; break;
		case 'h': cl->help = 1; break;
		case 'v': record_flag(cl, key_find("verbose"), NULL, e); break;
		case O_PRINT: cl->print = 1; break;
		case O_VERSION: cl->version = 1; break;
		case '?': case ':':
			bad_option(last < argc ? argv[last] : NULL, optopt, e);
			break;
		default:
			record_flag(cl, ch - 256, keys[ch - 256].type == K_BOOL ?
			    NULL : optarg, e);
			break;
		}
	}
	for (; optind < argc; optind++)
		add_err(e, "unexpected argument '%s'", argv[optind]);
}

int
config_from_args(int argc, char **argv, struct broker_config *cfg,
    struct config_cmdline *cl, char *err, size_t errlen)
{
	struct errs e = { err, errlen, 0, 0 };

	memset(cl, 0, sizeof(*cl));
	if (errlen > 0)
		err[0] = '\0';
	read_args(argc, argv, cfg, cl, &e);
	if (cl->help || cl->version)
		return e.n > 0 ? -1 : 0;
	if (cfg->config_file != NULL)
		config_file(cfg, cfg->config_file, &e);
	apply_flags(cfg, cl, &e);
	validate(cfg, !cl->print, &e);
	return e.n > 0 ? -1 : 0;
}

int
config_reread(const struct broker_config *cfg, const struct config_cmdline *cl,
    struct broker_config *out, char *err, size_t errlen)
{
	struct errs e = { err, errlen, 0, 0 };

	if (errlen > 0)
		err[0] = '\0';
	broker_config_defaults(out);
	out->config_file = cfg->config_file;
	out->key_owner = cfg->key_owner;
	if (out->config_file != NULL)
		config_file(out, out->config_file, &e);
	apply_flags(out, cl, &e);
	validate(out, 1, &e);
	if (e.n > 0) {
		broker_config_free(out);
		return -1;
	}
	return 0;
}

/* Row k's value in cfg as batond.conf would write it; NULL: not set. */
static const char *
key_format(const struct config_key *k, const struct broker_config *cfg,
    char *buf, size_t len)
{
	const char *p = (const char *)cfg + k->off;

	switch (k->type) {
	case K_STRING: return *(const char *const *)p;
	case K_BOOL: return *(const int *)p ? "yes" : "no";
	case K_ENUM: return k->names[*(const int *)p];
	case K_U32: snprintf(buf, len, "%u", *(const uint32_t *)p); break;
	case K_UINT: snprintf(buf, len, "%u", *(const unsigned *)p); break;
	case K_INT: snprintf(buf, len, "%d", *(const int *)p); break;
	case K_SIZE: snprintf(buf, len, "%zu", *(const size_t *)p); break;
	}
	return buf;
}

/* 1 when row k has the same value in a and b. */
static int
key_same(const struct config_key *k, const struct broker_config *a,
    const struct broker_config *b)
{
	char va[32], vb[32];
	const char *x = key_format(k, a, va, sizeof(va));
	const char *y = key_format(k, b, vb, sizeof(vb));

	return (x == NULL || y == NULL) ? x == y : strcmp(x, y) == 0;
}

int
config_apply_reload(struct broker_config *live, struct broker_config *fresh,
    char *restart, size_t len)
{
	struct config_owned **tail;
	size_t i, used = 0;
	int n = 0;

	if (len > 0)
		restart[0] = '\0';
	for (i = 0; i < NKEYS; i++) {
		if (key_same(&keys[i], live, fresh))
			continue;
		if (keys[i].reload) {
			memcpy((char *)live + keys[i].off,
			    (const char *)fresh + keys[i].off,
			    keys[i].type == K_STRING ? sizeof(const char *) :
			    sizeof(int));
			continue;
		}
		n++;
		if (used < len)
			used += (size_t)snprintf(restart + used, len - used,
			    "%s%s", used ? "," : "", keys[i].name);
	}
	/* live may now point into fresh's strings: keep them with live */
	for (tail = &live->owned; *tail != NULL; tail = &(*tail)->next)
		;
	*tail = fresh->owned;
	fresh->owned = NULL;
	return n;
}

void
config_print(FILE *fp, const struct broker_config *cfg)
{
	char buf[32];
	const char *v;
	size_t i;

	for (i = 0; i < NKEYS; i++) {
		if ((v = key_format(&keys[i], cfg, buf, sizeof(buf))) == NULL)
			fprintf(fp, "# %s (not set)\n", keys[i].name);
		else if (strpbrk(v, " \t#") != NULL || *v == '"' || *v == '=')
			fprintf(fp, "%s \"%s\"\n", keys[i].name, v);
		else
			fprintf(fp, "%s %s\n", keys[i].name, v);
	}
}

void
config_usage(FILE *fp)
{
	char flag[64], def[64];
	const char *h, *nl;
	size_t i;

	fprintf(fp,
	    "usage: batond [-c FILE] [--KEY VALUE...]\n"
	    "       batond -n [-c FILE] [--KEY VALUE...]\n"
	    "\n"
	    "  -c, --config FILE       read settings from FILE (batond.conf(5));\n"
	    "                          flags override the file\n"
	    "  -n, --check             check everything a start would (files\n"
	    "                          readable by --user, data directory,\n"
	    "                          policy), then exit\n"
	    "  --print-config          print the effective settings and exit\n"
	    "  --version               print the version and exit\n"
	    "  -h, --help              this text\n"
	    "\n"
	    "Settings: each is also a key of the config file (KEY VALUE):\n");
	for (i = 0; i < NKEYS; i++) {
		snprintf(flag, sizeof(flag), "--%s%s%s", keys[i].name,
		    keys[i].arg ? " " : "", keys[i].arg ? keys[i].arg : "");
		if (keys[i].def != NULL)
			snprintf(def, sizeof(def), "(default %s)", keys[i].def);
		else
			snprintf(def, sizeof(def), "%s", keys[i].required ?
			    "(required)" : "");
		fprintf(fp, "  %-22s", flag);
		if (strlen(flag) > 22)
			fprintf(fp, "\n  %-22s", "");
		for (h = keys[i].help; (nl = strchr(h, '\n')) != NULL; h = nl + 1)
			fprintf(fp, "  %.*s\n  %-22s", (int)(nl - h), h, "");
		/* the default on the last help line if it fits in 80 columns */
		if (*def != '\0' && 26 + strlen(h) + 1 + strlen(def) > 80)
			fprintf(fp, "  %s\n  %-22s  %s\n", h, "", def);
		else
			fprintf(fp, "  %s%s%s\n", h, *def ? " " : "", def);
	}
}
