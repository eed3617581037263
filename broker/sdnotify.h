/*
 * sdnotify.h - tells systemd (Type=notify) what the broker is doing:
 * READY=1, RELOADING=1, STOPPING=1, STATUS=... (sd_notify(3)), by the
 * socket protocol itself, so batond needs no libsystemd.
 */
#ifndef BATON_SDNOTIFY_H
#define BATON_SDNOTIFY_H

/*
 * Sends state ("READY=1\nSTATUS=serving", newline-separated assignments)
 * as one datagram to $NOTIFY_SOCKET. Returns 1 when sent, 0 when not run
 * under a service manager (no NOTIFY_SOCKET), -1 when it could not be
 * sent (errno set; the caller logs it, the broker carries on).
 */
int	sdnotify(const char *state);

#endif
