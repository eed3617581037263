/*
 * metrics_http.c - the metrics listener (see metrics_http.h).
 *
 * A scraper is untrusted, even on loopback (any local user can connect),
 * so every cost it can cause is bounded and none of it can stall the
 * broker: requests of at most METRICS_HTTP_MAX_HEADERS bytes, GET and
 * HEAD only, no body; at most METRICS_HTTP_MAX_CONN connections (the
 * listener stops accepting at the limit, so others wait in a short kernel
 * backlog instead of taking file descriptors the TLS listener needs); an
 * idle timeout, and a whole-connection lifetime after which the socket is
 * shut down, so a client that trickles bytes cannot hold a slot. The
 * exposition is built at most once a second and served from that copy,
 * so scraping in a loop costs one queue walk a second (queueview.h), not
 * one per request.
 *
 * Counting connections with evhttp (libevent 2.1 has no connection limit
 * of its own): each connection's bufferevent is made here (evhttp's bevcb)
 * and held by one extra reference; evhttp clears its callbacks when it
 * frees the connection, and the sweep then drops the reference.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "broker.h"
#include "log.h"
#include "metrics.h"
#include "metrics_http.h"
#include "queueview.h"
#include "store.h"
#include "tls.h"

#define METRICS_HTTP_MAX_CONN		8
#define METRICS_HTTP_SLACK		16	/* accepted in one burst past the limit */
#define METRICS_HTTP_MAX_HEADERS	4096
#define METRICS_HTTP_TIMEOUT_S		5	/* idle */
#define METRICS_HTTP_LIFETIME_MS	10000	/* whole connection */
#define METRICS_CACHE_MS		1000

struct metrics_conn {
	struct bufferevent	*bev;		/* with our reference */
	int64_t			 since_ms;	/* monotonic */
	int			 cut;		/* shut down already */
};

struct metrics_http {
	struct broker		*b;
	struct evhttp		*http;
	struct evconnlistener	*lev;		/* evhttp's, paused at the limit */
	struct event		*sweep_ev;
	struct metrics_conn	 conn[METRICS_HTTP_MAX_CONN + METRICS_HTTP_SLACK];
	unsigned		 nconn;
	int			 paused;
	struct metrics_text	 cache;		/* the last exposition built */
	int64_t			 cache_ms;	/* when (monotonic); 0: none */
	double			 start_s;
};

/* A freed connection's bufferevent has no callbacks left (bufferevent_free). */
static int
conn_freed(struct bufferevent *bev)
{
	bufferevent_data_cb r, w;
	bufferevent_event_cb e;
	void *arg;

	bufferevent_getcb(bev, &r, &w, &e, &arg);
	return r == NULL && w == NULL && e == NULL;
}

/* Drops closed connections, cuts old or excess ones, resumes accepting. */
static void
sweep(struct metrics_http *mh)
{
	int64_t now = state_mono_ms();
	evutil_socket_t fd;
	unsigned i = 0;

	while (i < mh->nconn) {
		struct metrics_conn *c = &mh->conn[i];

		if (conn_freed(c->bev)) {
			bufferevent_decref(c->bev);
			mh->conn[i] = mh->conn[--mh->nconn];
			continue;
		}
		if (!c->cut && (i >= METRICS_HTTP_MAX_CONN ||
		    now - c->since_ms >= METRICS_HTTP_LIFETIME_MS) &&
		    (fd = bufferevent_getfd(c->bev)) >= 0) {
			/* evhttp sees the end of the stream and frees it */
			shutdown(fd, SHUT_RDWR);
			c->cut = 1;
		}
		i++;
	}
	if (mh->paused && mh->nconn < METRICS_HTTP_MAX_CONN) {
		evconnlistener_enable(mh->lev);
		mh->paused = 0;
	}
}

static void
sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	sweep(arg);
}

/* evhttp's bevcb: every connection's bufferevent, counted. */
static struct bufferevent *
conn_bev(struct event_base *base, void *arg)
{
	struct metrics_http *mh = arg;
	struct bufferevent *bev;
	const size_t cap = sizeof(mh->conn) / sizeof(mh->conn[0]);

	sweep(mh);
	if ((bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	if (mh->nconn < cap) {
		bufferevent_incref(bev);
		mh->conn[mh->nconn].bev = bev;
		mh->conn[mh->nconn].since_ms = state_mono_ms();
		mh->conn[mh->nconn++].cut = 0;
	}
	if (mh->nconn >= METRICS_HTTP_MAX_CONN && !mh->paused) {
		evconnlistener_disable(mh->lev);
		mh->paused = 1;
	}
	/* excess connections of a burst are cut once evhttp has set them up */
	if (mh->nconn > METRICS_HTTP_MAX_CONN)
		event_active(mh->sweep_ev, EV_TIMEOUT, 0);
	return bev;
}

int
metrics_http_healthy(struct broker *b, char *why, size_t len)
{
	int64_t now = state_now_ms(), crl, cert;

	if (b->stopping)
		snprintf(why, len, "stopping");
	else if (state_store_low(&b->st, 0) == STORE_LOW_MAP)
		snprintf(why, len, "store nearly full: new handovers are refused");
	else if (state_store_low(&b->st, 0) == STORE_LOW_DISK)
		snprintf(why, len, "disk nearly full: new handovers are refused");
	else if ((cert = tls_own_cert_not_after(b->tls)) != 0 && cert <= now)
		snprintf(why, len, "the broker certificate has expired");
	else if (b->cfg->crl_file != NULL &&
	    (crl = tls_crl_next_update(b->tls)) != 0 && crl <= now)
		snprintf(why, len, "the CRL has lapsed: every client is refused");
	else
		return 1;
	return 0;
}

/* The queue view in a short read transaction (or the pass's, if open). */
static int
read_view(struct broker *b, struct queue_view *v)
{
	struct store *s = b->st.store;
	int own = !store_active(s), rc;

	if (own && store_begin(s, 1) != STORE_OK)
		return -1;
	rc = queue_view_read(s, state_now_ms(), state_due_ms(&b->st),
	    VIEW_SCAN_MAX, v);
	if (own)
		store_abort(s);
	return rc == STORE_OK ? 0 : -1;
}

static void
fill_gauges(struct metrics_http *mh, struct metrics_gauges *g)
{
	struct broker *b = mh->b;
	int64_t now = state_now_ms(), t;
	char why[128];

	memset(g, 0, sizeof(*g));
	g->connections_open = b->nsessions;
	g->healthy = metrics_http_healthy(b, why, sizeof(why));
	g->start_time_s = mh->start_s;
	if ((t = tls_own_cert_not_after(b->tls)) != 0) {
		g->have_cert = 1;
		g->cert_seconds_left = (double)(t - now) / 1000.0;
	}
	if (b->cfg->crl_file != NULL && (t = tls_crl_next_update(b->tls)) != 0) {
		g->have_crl = 1;
		g->crl_seconds_left = (double)(t - now) / 1000.0;
	}
}

/* Builds the exposition into the cache unless it is fresh. Returns 0 or -1. */
static int
refresh(struct metrics_http *mh)
{
	struct metrics_gauges g;
	struct queue_view v = { 0 };
	int64_t now = state_mono_ms();
	int rc, have_view;

	if (mh->cache_ms != 0 && now - mh->cache_ms < METRICS_CACHE_MS &&
	    !mh->cache.failed)
		return 0;
	fill_gauges(mh, &g);
	have_view = read_view(mh->b, &v) == 0;
	if (!have_view)
		log_warnx("metrics: cannot read the queue gauges: %s",
		    store_strerror(mh->b->st.store));
	mh->cache.len = 0;
	mh->cache.failed = 0;
	rc = metrics_format(&mh->cache, mh->b->st.metrics, &g,
	    have_view ? &v : NULL);
	queue_view_free(&v);
	mh->cache_ms = now;
	return rc;
}

static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, const char *body, size_t len)
{
	struct evbuffer *out = evbuffer_new();

	if (out == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
	    ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Connection",
	    "close");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void
serve_metrics(struct metrics_http *mh, struct evhttp_request *req)
{
	if (refresh(mh) == -1) {
		log_warnx("metrics: the exposition could not be built (out of "
		    "memory or over %u bytes)", METRICS_TEXT_MAX);
		evhttp_send_error(req, 500, "metrics unavailable");
		return;
	}
	reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8",
	    mh->cache.buf, mh->cache.len);
}

static void
serve_health(struct metrics_http *mh, struct evhttp_request *req)
{
	char why[160], body[200];
	int n;

	if (metrics_http_healthy(mh->b, why, sizeof(why)))
		reply_text(req, 200, "OK", "text/plain; charset=utf-8", "ok\n", 3);
	else {
		n = snprintf(body, sizeof(body), "%s\n", why);
		reply_text(req, 503, "Service Unavailable",
		    "text/plain; charset=utf-8", body, (size_t)n);
	}
}

static void
request_cb(struct evhttp_request *req, void *arg)
{
	struct metrics_http *mh = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (path != NULL && strcmp(path, "/metrics") == 0)
		serve_metrics(mh, req);
	else if (path != NULL && strcmp(path, "/healthz") == 0)
		serve_health(mh, req);
	else
		evhttp_send_error(req, 404, "only /metrics and /healthz");
}

/* 1 if sa is a loopback address (127.0.0.0/8 or ::1). */
static int
is_loopback(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >>
		    24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(
		    &((const struct sockaddr_in6 *)sa)->sin6_addr);
	return 0;
}

/* Logs the address actually bound (port 0 picks one). */
static void
log_bound(struct evconnlistener *lev)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[64] = "?";
	int port = 0;
	evutil_socket_t fd = evconnlistener_get_fd(lev);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		if (ss.ss_family == AF_INET) {
			struct sockaddr_in *in = (struct sockaddr_in *)&ss;

			evutil_inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

			evutil_inet_ntop(AF_INET6, &in6->sin6_addr, host,
			    sizeof(host));
			port = ntohs(in6->sin6_port);
		}
	}
	log_info("metrics listening on %s%s%s:%d (/metrics, /healthz)",
	    ss.ss_family == AF_INET6 ? "[" : "", host,
	    ss.ss_family == AF_INET6 ? "]" : "", port);
}

/* Binds addr as evhttp's listener, with a short backlog. */
static int
bind_listener(struct metrics_http *mh, const char *addr, int allow_remote,
    char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int len = sizeof(ss);

	if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) != 0) {
		snprintf(err, errlen, "metrics: '%s' is not ADDR:PORT", addr);
		return -1;
	}
	if (!allow_remote && !is_loopback((struct sockaddr *)&ss)) {
		snprintf(err, errlen, "metrics: %s is not a loopback address; the "
		    "endpoint has no authentication: set metrics-allow-remote "
		    "yes to serve it beyond this host", addr);
		return -1;
	}
	mh->lev = evconnlistener_new_bind(mh->b->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    16, (struct sockaddr *)&ss, len);
	if (mh->lev == NULL) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s", addr,
		    evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		return -1;
	}
	if (evhttp_bind_listener(mh->http, mh->lev) == NULL) {
		evconnlistener_free(mh->lev);
		mh->lev = NULL;
		snprintf(err, errlen, "metrics: cannot serve HTTP on %s", addr);
		return -1;
	}
	return 0;
}

struct metrics_http *
metrics_http_start(struct broker *b, const char *addr, int allow_remote,
    char *err, size_t errlen)
{
	struct metrics_http *mh;
	struct timeval tv = { 1, 0 };

	if ((mh = calloc(1, sizeof(*mh))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	mh->b = b;
	mh->start_s = (double)state_now_ms() / 1000.0;
	if ((mh->http = evhttp_new(b->base)) == NULL ||
	    (mh->sweep_ev = event_new(b->base, -1, EV_PERSIST, sweep_cb,
	    mh)) == NULL || event_add(mh->sweep_ev, &tv) != 0) {
		snprintf(err, errlen, "metrics: cannot set up the HTTP server");
		goto fail;
	}
	evhttp_set_max_headers_size(mh->http, METRICS_HTTP_MAX_HEADERS);
	evhttp_set_max_body_size(mh->http, 0);
	evhttp_set_timeout(mh->http, METRICS_HTTP_TIMEOUT_S);
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_bevcb(mh->http, conn_bev, mh);
	evhttp_set_gencb(mh->http, request_cb, mh);
	if (bind_listener(mh, addr, allow_remote, err, errlen) == -1)
		goto fail;
	log_bound(mh->lev);
	return mh;
fail:
	metrics_http_stop(mh);
	return NULL;
}

void
metrics_http_stop(struct metrics_http *mh)
{
	unsigned i;

	if (mh == NULL)
		return;
	/* frees the listener and every connection (their callbacks go) */
	if (mh->http != NULL)
		evhttp_free(mh->http);
	for (i = 0; i < mh->nconn; i++)
		bufferevent_decref(mh->conn[i].bev);
	if (mh->sweep_ev != NULL)
		event_free(mh->sweep_ev);
	metrics_text_free(&mh->cache);
	free(mh);
}
