/*
 * metrics_http.h - the metrics listener: Prometheus text on /metrics and
 * a health answer on /healthz, over libevent's evhttp, on an address of
 * its own (the `metrics` setting; loopback unless `metrics-allow-remote`).
 *
 * The counters live in the state layer (state/metrics.h); this file adds
 * what only the event-loop layer knows (connections open, certificate and
 * CRL lifetimes, health) and reads the queue gauges at scrape time.
 */
#ifndef BATON_METRICS_HTTP_H
#define BATON_METRICS_HTTP_H

#include <stddef.h>

struct broker;
struct metrics_http;

/*
 * Binds the metrics listener on addr ("ADDR:PORT", port 0: a free one,
 * logged). A non-loopback address is refused unless allow_remote.
 * Returns the listener, or NULL with err set.
 */
struct metrics_http *metrics_http_start(struct broker *b, const char *addr,
	    int allow_remote, char *err, size_t errlen);

/* Closes the listener and every connection it has. NULL is fine. */
void	metrics_http_stop(struct metrics_http *mh);

/*
 * Whether the broker is fit to serve: 1, or 0 with the reason in why
 * (/healthz answers 200 "ok" or 503 with it).
 */
int	metrics_http_healthy(struct broker *b, char *why, size_t len);

#endif
