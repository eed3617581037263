/*
 * metrics_http.h - the metrics listener: Prometheus text on /metrics and
 * a health answer on /healthz, over libevent's evhttp, on an address of
 * its own (the `metrics` setting, which config.c keeps on loopback unless
 * `metrics-allow-remote`). docs/metrics.md is the reference.
 *
 * The counters live in the state layer (state/metrics.h); this file adds
 * what only the event-loop layer knows (connections open, certificate and
 * CRL lifetimes, health) and reads the queue gauges at scrape time.
 */
#ifndef BATON_METRICS_HTTP_H
#define BATON_METRICS_HTTP_H

#include <stddef.h>

#define METRICS_PORT_FILE	"metrics.port"	/* in the data directory */

struct broker;
struct metrics_http;

/*
 * Binds the metrics listener on addr ("ADDR:PORT" as config.c checked it;
 * port 0: a free one), logs the address bound and writes its port to
 * DATA/metrics.port for tests and local tools. Returns the listener, or
 * NULL with err set.
 */
struct metrics_http *metrics_http_start(struct broker *b, const char *addr,
	    char *err, size_t errlen);

/*
 * Closes the listener and every connection it has, and removes
 * DATA/metrics.port. NULL is fine.
 */
void	metrics_http_stop(struct metrics_http *mh);

/*
 * Whether the broker is fit to serve: 1, or 0 with the reason in why
 * (/healthz answers 200 "ok" or 503 with it).
 */
int	metrics_http_healthy(struct broker *b, char *why, size_t len);

#endif
