/*
 * checkconf.h - `batond -n`: every check a real start makes, and the
 * files a reload re-reads, without serving.
 */
#ifndef BATON_CHECKCONF_H
#define BATON_CHECKCONF_H

#include "config.h"

/*
 * Checks cfg as batond would start with it: the policy parses; the TLS
 * key, certificate, CA and CRL load (as the starting user, as at start);
 * then, as the run-as user (in a child that drops privileges like the
 * real start), the config file, policy and TLS files are readable (a
 * reload re-reads them as that user) and the data directory is usable
 * (opened with its store and audit keys) or can be created. Prints every
 * problem as "batond: reason" on stderr, and "batond: configuration OK"
 * on stdout when there is none. Returns the exit status: 0 or 1.
 */
int	checkconf_run(struct broker_config *cfg);

#endif
