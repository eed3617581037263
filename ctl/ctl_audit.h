/*
 * ctl_audit.h - batonctl's audit commands (ctl_audit.c): verify, head,
 * list and export over the broker's audit log.
 */
#ifndef BATON_CTL_AUDIT_H
#define BATON_CTL_AUDIT_H

/*
 * "batonctl audit VERB [OPTIONS]": argv[0] is "audit", argv[1] the verb.
 * Returns the exit status: 0 done (verify: the log is intact), 1 the
 * action failed (verify: the log is damaged, the first bad seq named on
 * stderr), 2 the command line was wrong.
 */
int	ctl_audit_main(int argc, char **argv);

#endif
