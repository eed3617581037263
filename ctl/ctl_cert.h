/*
 * ctl_cert.h - what batonctl's certificate commands share: recording a
 * certificate change in the broker's audit log (ctl_cert.c), and
 * finishing renewals (ctl_renew.c), which "cert renew" and "crl" both do.
 */
#ifndef BATON_CTL_CERT_H
#define BATON_CTL_CERT_H

struct audit;
struct store;

/*
 * Opens the audit keys (created only with the store, in a new deployment:
 * ctl_data_audit_open) and the store of the broker's data directory dir,
 * before anything is changed. EXIT_SUCCESS, or EXIT_FAILURE printed.
 */
int	ctl_cert_audit_open(const char *dir, struct audit **au,
	    struct store **s);

/*
 * Records one certificate change (certificate_changed: what, e.g.
 * "revoked node", and detail, one key=value or NULL) with the operator's
 * uid, in a write transaction of its own. EXIT_SUCCESS, or EXIT_FAILURE
 * printed.
 */
int	ctl_cert_audit(struct audit *au, struct store *s, const char *id,
	    const char *serial, const char *what, const char *detail);

/*
 * Finishes the renewals in the CA cadir whose new certificate the broker
 * has accepted a connection with (its audit log, in s): revokes each old
 * certificate (reason superseded) in one new CRL, valid crl_days, and
 * records each revocation (au). node limits it to one node (NULL: all).
 * Prints what was revoked and what still waits. *wrote is set to 1 when
 * a CRL was written. EXIT_SUCCESS, or EXIT_FAILURE printed.
 */
int	ctl_renew_finish(const char *cadir, struct audit *au, struct store *s,
	    const char *node, int crl_days, int *wrote);

#endif
