/*
 * test_config.c - the settings table (broker/state/config.c): defaults,
 * a file and flags over it, every file error at once with its line, the
 * re-read at a reload and which keys a reload takes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"
#include "frame.h"

static char conf_path[4096];

static void
write_conf(const char *text)
{
	FILE *fp = fopen(conf_path, "w");

	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

/* config_from_args over argv (NULL-ended); returns its result. */
static int
from_args(struct broker_config *cfg, struct config_cmdline *cl, char *err,
    size_t errlen, char **argv)
{
	int argc = 0;

	while (argv[argc] != NULL)
		argc++;
	broker_config_defaults(cfg);
	return config_from_args(argc, argv, cfg, cl, err, errlen);
}

static void
test_defaults(void **state)
{
	struct broker_config cfg;

	broker_config_defaults(&cfg);
	assert_string_equal(cfg.listen, "127.0.0.1:7400");
	assert_int_equal(cfg.max_frame, BATON_MAX_FRAME_DEFAULT);
	assert_int_equal(cfg.max_unacked, 256);
	assert_int_equal(cfg.map_size, (size_t)1 << 30);
	assert_int_equal(cfg.idle_timeout_s, 120);
	assert_int_equal(cfg.max_buffered, (size_t)128 << 20);
	assert_int_equal(cfg.allow_tls12, 0);
	assert_int_equal(cfg.log_format, CONFIG_LOG_AUTO);
	assert_null(cfg.data_dir);
	assert_null(cfg.owned);
}

static void
test_file_and_flags(void **state)
{
	struct broker_config cfg;
	struct config_cmdline cl;
	char err[4096];
	char *argv[] = { "batond", "-c", conf_path, "--max-unacked", "9",
	    "--allow-tls12", NULL };

	write_conf("# comment\n"
	    "  data \"/srv/with space\"  \n"
	    "ca /e/ca.crt\ncert /e/s.crt\nkey /e/s.key\npolicy /e/p.conf\n"
	    "max-unacked 7\r\n"
	    "map-size 2G\n"
	    "log-format journal\n");
	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv), 0);
	assert_string_equal(cfg.data_dir, "/srv/with space");
	assert_string_equal(cfg.policy_file, "/e/p.conf");
	assert_int_equal(cfg.max_unacked, 9);		/* the flag wins */
	assert_int_equal(cfg.allow_tls12, 1);
	assert_int_equal(cfg.map_size, (size_t)2 << 30);
	assert_int_equal(cfg.log_format, CONFIG_LOG_JOURNAL);
	assert_int_equal(cl.nflags, 2);
	broker_config_free(&cfg);
	assert_null(cfg.owned);
}

static void
test_all_errors(void **state)
{
	struct broker_config cfg;
	struct config_cmdline cl;
	char err[4096];
	char *argv[] = { "batond", "-c", conf_path, "--idle-timeout", "0",
	    "--frobnicate", NULL };

	write_conf("listen 127.0.0.1:0\n"	/* 1 */
	    "max-frmae 10\n"			/* 2 */
	    "max-frame 10\n"			/* 3 */
	    "max-frame 2048\n"			/* 4 */
	    "verbose perhaps\n"			/* 5 */
	    "user no\033body\n");		/* 6 */
	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv), -1);
	assert_non_null(strstr(err, ":2: unknown key 'max-frmae'; did you "
	    "mean 'max-frame'?"));
	assert_non_null(strstr(err, ":3: max-frame: '10' is not a number "
	    "from 1024 to 67108864"));
	assert_non_null(strstr(err, ":4: 'max-frame' is set twice (first "
	    "on line 3)"));
	assert_non_null(strstr(err, ":5: verbose: 'perhaps' is not yes or no"));
	assert_non_null(strstr(err, ":6: control character in line"));
	assert_non_null(strstr(err, "--idle-timeout: '0' is not a number"));
	assert_non_null(strstr(err, "unknown option '--frobnicate'"));
	assert_non_null(strstr(err, "data is required"));
	broker_config_free(&cfg);
}

static void
test_option_errors(void **state)
{
	struct broker_config cfg;
	struct config_cmdline cl;
	char err[2048];
	char *argv[] = { "batond", "--allow-tls12=yes", "-x", "--polcy", "p",
	    NULL };
	char *argv2[] = { "batond", "--data", NULL };

	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv), -1);
	assert_non_null(strstr(err, "--allow-tls12: takes no value"));
	assert_non_null(strstr(err, "-x: unknown option"));
	assert_non_null(strstr(err, "unknown option '--polcy'; did you mean "
	    "'--policy'?"));
	assert_non_null(strstr(err, "unexpected argument 'p'"));
	assert_null(strstr(err, "'batond'"));	/* never argv[0] */
	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv2), -1);
	assert_non_null(strstr(err, "--data: missing value"));
}

static void
test_cross_check(void **state)
{
	struct broker_config cfg;
	struct config_cmdline cl;
	char err[1024];
	char *argv[] = { "batond", "--data", "d", "--ca", "c", "--cert", "c",
	    "--key", "k", "--policy", "p", "--max-buffered", "2048", NULL };

	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv), -1);
	assert_non_null(strstr(err, "max-buffered 2048 is smaller than "
	    "max-frame"));
}

static void
test_reload(void **state)
{
	struct broker_config cfg, fresh;
	struct config_cmdline cl;
	char err[4096], restart[256];
	char *argv[] = { "batond", "-c", conf_path, "--max-unacked", "9", NULL };

	write_conf("data /d\nca /c1\ncert /s\nkey /k\npolicy /p1\n"
	    "max-connections 10\n");
	assert_int_equal(from_args(&cfg, &cl, err, sizeof(err), argv), 0);

	/* an error: nothing to apply */
	write_conf("data /d\nca /c2\nbogus 1\n");
	assert_int_equal(config_reread(&cfg, &cl, &fresh, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, ":3: unknown key 'bogus'"));
	assert_string_equal(cfg.ca_file, "/c1");

	/* good: the reloadable keys move, the others are named */
	write_conf("data /d2\nca /c2\ncert /s\nkey /k\npolicy /p2\n"
	    "max-connections 20\nverbose yes\n");
	assert_int_equal(config_reread(&cfg, &cl, &fresh, err, sizeof(err)), 0);
	assert_int_equal(fresh.max_unacked, 9);		/* the flag again */
	assert_int_equal(config_apply_reload(&cfg, &fresh, restart,
	    sizeof(restart)), 2);
	assert_string_equal(restart, "data,max-connections");
	assert_string_equal(cfg.ca_file, "/c2");
	assert_string_equal(cfg.policy_file, "/p2");
	assert_int_equal(cfg.verbose, 1);
	assert_string_equal(cfg.data_dir, "/d");	/* restart only */
	assert_int_equal(cfg.max_connections, 10);
	assert_null(fresh.owned);
	broker_config_free(&cfg);
}

static void
test_print_reads_back(void **state)
{
	struct broker_config cfg, back;
	struct config_cmdline cl;
	char err[1024], *argv[] = { "batond", "-c", conf_path, NULL };
	FILE *fp;

	broker_config_defaults(&cfg);
	cfg.data_dir = "/a dir";
	cfg.ca_file = cfg.cert_file = cfg.key_file = cfg.policy_file = "/f";
	cfg.max_output = 123456;
	fp = fopen(conf_path, "w");
	assert_non_null(fp);
	config_print(fp, &cfg);
	fclose(fp);
	assert_int_equal(from_args(&back, &cl, err, sizeof(err), argv), 0);
	assert_string_equal(back.data_dir, "/a dir");
	assert_int_equal(back.max_output, 123456);
	broker_config_free(&back);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_file_and_flags),
		cmocka_unit_test(test_all_errors),
		cmocka_unit_test(test_option_errors),
		cmocka_unit_test(test_cross_check),
		cmocka_unit_test(test_reload),
		cmocka_unit_test(test_print_reads_back),
	};
	int rc;

	snprintf(conf_path, sizeof(conf_path), "%s/test_config.%ld.conf",
	    getenv("TMPDIR") != NULL ? getenv("TMPDIR") : "/tmp",
	    (long)getpid());
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(conf_path);
	return rc;
}
