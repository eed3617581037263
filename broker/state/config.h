/*
 * config.h - the broker's settings, as plain data (every layer reads
 * them), and the one table of keys that fills them from batond.conf and
 * from batond's command line (config.c).
 *
 * Every setting is one row of config.c's table: its name (the key in the
 * file and, with "--" before it, the flag), its type, default, bounds and
 * help. The file parser, the flag parser, --help and --print-config all
 * read that table, so they cannot drift apart. Flags override the file.
 */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct config_owned;

enum config_log_format {
	CONFIG_LOG_AUTO = 0,	/* journal when JOURNAL_STREAM is set */
	CONFIG_LOG_TEXT,	/* time, program, level */
	CONFIG_LOG_JOURNAL,	/* "<N>" priority prefix, no time */
};

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
	int		 verbose;		/* debug logging */
	int		 log_format;		/* enum config_log_format */
	const char	*metrics;		/* ADDR:PORT of /metrics; NULL: off */
	int		 metrics_allow_remote;	/* a non-loopback metrics address */
	const char	*config_file;		/* -c FILE; NULL: flags only */
	struct config_owned *owned;		/* strings read from the file */
};

/*
 * What batond's command line asked for besides settings: the action and
 * the flags to apply again over the file at a reload (argv outlives it).
 */
struct config_cmdline {
	int		 check;		/* -n: check everything and exit */
	int		 print;		/* --print-config: dump and exit */
	int		 help;		/* -h: usage printed */
	int		 version;	/* --version */
	int		 nflags;	/* settings given as flags */
	struct {
		int		 key;	/* row of the table */
		const char	*value;	/* NULL for a flag without value */
	}		 flags[64];
};

/* Fills cfg with every key's default (no file, no flags; no allocation). */
void	broker_config_defaults(struct broker_config *cfg);

/* Frees the strings cfg holds from a file (cfg stays usable until then). */
void	broker_config_free(struct broker_config *cfg);

/*
 * Reads batond's command line into cl and, for -c FILE, the file; the
 * flags then override the file. Every problem goes to err, one per line
 * ("FILE:LINE: reason" or "--flag: reason"), all of them, not just the
 * first. Returns 0 when cfg is complete and valid, -1 when err holds the
 * problems. cfg must hold the defaults first.
 */
int	config_from_args(int argc, char **argv, struct broker_config *cfg,
	    struct config_cmdline *cl, char *err, size_t errlen);

/*
 * Reads the len bytes of text, a batond.conf called name, into cfg (the
 * file reader's core, for tests and fuzzing; no cross-key checks). Returns
 * 0, or -1 with every problem in err as "NAME:LINE: reason" lines.
 */
int	config_parse_text(struct broker_config *cfg, const char *name,
	    const char *text, size_t len, char *err, size_t errlen);

/*
 * Reads cfg->config_file again into a fresh copy of the defaults and
 * applies cl's flags over it, as at start (for a reload). Returns 0 with
 * out filled (free it with broker_config_free), or -1 with err as above.
 */
int	config_reread(const struct broker_config *cfg,
	    const struct config_cmdline *cl, struct broker_config *out,
	    char *err, size_t errlen);

/*
 * Takes fresh's reloadable keys (the TLS and policy files, allow-tls12,
 * verbose) into live, with the strings that hold them (fresh is left
 * empty); names the other keys whose values differ, which only a restart
 * applies, in restart (comma-separated, "" when none). Returns how many
 * of those there are.
 */
int	config_apply_reload(struct broker_config *live,
	    struct broker_config *fresh, char *restart, size_t len);

/* Prints batond's usage, every key with its flag, default and help. */
void	config_usage(FILE *fp);

/* Prints every key and its effective value, in batond.conf's syntax. */
void	config_print(FILE *fp, const struct broker_config *cfg);

#endif
