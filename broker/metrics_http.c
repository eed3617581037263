/*
 * metrics_http.c - the metrics listener (see metrics_http.h).
 *
 * A scraper is untrusted, even on loopback (any local user can connect),
 * so every cost it can cause is bounded and none of it can stall the
 * broker: requests of at most METRICS_HTTP_MAX_HEADERS bytes, no body,
 * GET and HEAD answered (other methods 405, a malformed request 400 from
 * evhttp), one request per connection; at most METRICS_HTTP_MAX_CONN
 * connections (the listener stops accepting at the limit, so others wait
 * in a short kernel backlog instead of taking file descriptors the TLS
 * listener needs); an
 * idle timeout, and a whole-connection lifetime after which the socket is
 * shut down, so a client that trickles bytes cannot hold a slot. The
 * exposition is built at most once a second and served from that copy,
 * so scraping in a loop costs one queue walk a second (queueview.h), not
 * one per request. A failure to build it is logged when it starts, not
 * once per request.
 *
 * Counting connections with evhttp (libevent 2.1 has no connection limit
 * of its own): each connection's bufferevent is made here (evhttp's bevcb)
 * and held by one extra reference; evhttp clears its callbacks when it
 * frees the connection, and the sweep then drops the reference.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "atomicfile.h"
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
	double			 start_s;	/* Unix time of the start */
	int			 port_file;	/* DATA/metrics.port written */
	int			 view_failing;	/* the last queue read failed (logged) */
	int			 text_failing;	/* the last build failed (logged) */
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
	int low;

	if (b->stopping)
		snprintf(why, len, "stopping");
	else if ((low = state_store_low(&b->st, 0)) == STORE_LOW_MAP)
		snprintf(why, len, "store nearly full: new handovers are refused");
	else if (low == STORE_LOW_DISK)
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

	/* a failed build is not retried sooner either: the walk is the cost */
	if (mh->cache_ms != 0 && now - mh->cache_ms < METRICS_CACHE_MS)
		return mh->text_failing ? -1 : 0;
	fill_gauges(mh, &g);
	have_view = read_view(mh->b, &v) == 0;
	if (!have_view && !mh->view_failing)
		log_warnx("metrics: cannot read the queue gauges: %s; they are "
		    "left out until they can", store_strerror(mh->b->st.store));
	mh->view_failing = !have_view;
	metrics_text_reset(&mh->cache);
	rc = metrics_format(&mh->cache, mh->b->st.metrics, &g,
	    have_view ? &v : NULL);
	queue_view_free(&v);
	mh->cache_ms = now;
	if (rc == -1 && !mh->text_failing)
		log_warnx("metrics: the exposition could not be built (out of "
		    "memory or over %u bytes); /metrics answers 500",
		    METRICS_TEXT_MAX);
	mh->text_failing = rc == -1;
	return rc;
}

/*
 * Answers req with body (len bytes); a HEAD gets the same headers, its
 * Content-Length included, and no body.
 */
static void
reply_text(struct evhttp_request *req, int code, const char *reason,
    const char *ctype, const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *out = evbuffer_new();
	char clen[32];

	if (out == NULL) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Connection", "close");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		snprintf(clen, sizeof(clen), "%zu", len);
		evhttp_add_header(h, "Content-Length", clen);
	} else
		evbuffer_add(out, body, len);
	evhttp_send_reply(req, code, reason, out);
	evbuffer_free(out);
}

static void
serve_metrics(struct metrics_http *mh, struct evhttp_request *req)
{
	if (refresh(mh) == -1) {
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
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);

	if (path == NULL || (strcmp(path, "/metrics") != 0 &&
	    strcmp(path, "/healthz") != 0))
		evhttp_send_error(req, 404, "only /metrics and /healthz");
	else if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
		    "GET, HEAD");
		evhttp_send_error(req, 405, "only GET and HEAD");
	} else if (strcmp(path, "/metrics") == 0)
		serve_metrics(mh, req);
	else
		serve_health(mh, req);
}

/*
 * Logs the address actually bound (port 0 picks one) and writes its port
 * to DATA/metrics.port. Returns 0, or -1 with err set.
 */
static int
announce(struct metrics_http *mh, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN] = "?", path[4096], text[16];
	const void *a;
	int port, n;

	if (getsockname(evconnlistener_get_fd(mh->lev), (struct sockaddr *)&ss,
	    &len) != 0) {
		snprintf(err, errlen, "metrics: getsockname: %s", strerror(errno));
		return -1;
	}
	if (ss.ss_family == AF_INET6) {
		a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		a = &((struct sockaddr_in *)&ss)->sin_addr;
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}
	evutil_inet_ntop(ss.ss_family, a, host, sizeof(host));
	log_info("metrics listening on %s%s%s:%d (/metrics, /healthz)",
	    ss.ss_family == AF_INET6 ? "[" : "", host,
	    ss.ss_family == AF_INET6 ? "]" : "", port);
	if (snprintf(path, sizeof(path), "%s/%s", mh->b->cfg->data_dir,
	    METRICS_PORT_FILE) >= (int)sizeof(path)) {
		snprintf(err, errlen, "metrics: data directory path too long");
		return -1;
	}
	n = snprintf(text, sizeof(text), "%d\n", port);
	if (atomicfile_write_buf(path, 0600, ATOMICFILE_REPLACE, text,
	    (size_t)n, err, errlen) != ATOMICFILE_OK)
		return -1;
	mh->port_file = 1;
	return 0;
}

/*
 * "ADDR:PORT" (numeric IPv4, or IPv6 in brackets; port 0 allowed, which
 * evutil_parse_sockaddr_port refuses) into ss. Returns 0, or -1.
 */
static int
parse_addr(const char *addr, struct sockaddr_storage *ss, int *sslen)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;
	const char *colon = strrchr(addr, ':');
	char host[INET6_ADDRSTRLEN + 2], *end;
	unsigned long port;
	size_t hl;

	memset(ss, 0, sizeof(*ss));
	if (colon == NULL || colon[1] < '0' || colon[1] > '9' ||
	    (hl = (size_t)(colon - addr)) >= sizeof(host))
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return -1;
	memcpy(host, addr, hl);
	host[hl] = '\0';
	if (hl > 2 && host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*in6);
		return inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1 ? 0 : -1;
	}
	in->sin_family = AF_INET;
	in->sin_port = htons((uint16_t)port);
	*sslen = sizeof(*in);
	return inet_pton(AF_INET, host, &in->sin_addr) == 1 ? 0 : -1;
}

/* Binds addr (checked by config.c) as evhttp's listener, short backlog. */
static int
bind_listener(struct metrics_http *mh, const char *addr, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	int len;

	if (parse_addr(addr, &ss, &len) == -1) {
		snprintf(err, errlen, "metrics: '%s' is not ADDR:PORT", addr);
		return -1;
	}
	mh->lev = evconnlistener_new_bind(mh->b->base, NULL, NULL,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    16, (struct sockaddr *)&ss, len);
	if (mh->lev == NULL) {
		snprintf(err, errlen, "metrics: cannot listen on %s: %s", addr,
		    strerror(errno));
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
metrics_http_start(struct broker *b, const char *addr, char *err,
    size_t errlen)
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
	/* the others reach request_cb for a 405; TRACE and CONNECT get 501 */
	evhttp_set_allowed_methods(mh->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD |
	    EVHTTP_REQ_POST | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
	evhttp_set_bevcb(mh->http, conn_bev, mh);
	evhttp_set_gencb(mh->http, request_cb, mh);
	if (bind_listener(mh, addr, err, errlen) == -1 ||
	    announce(mh, err, errlen) == -1)
		goto fail;
	return mh;
fail:
	metrics_http_stop(mh);
	return NULL;
}

void
metrics_http_stop(struct metrics_http *mh)
{
	char path[4096];
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
	if (mh->port_file && snprintf(path, sizeof(path), "%s/%s",
	    mh->b->cfg->data_dir, METRICS_PORT_FILE) < (int)sizeof(path))
		unlink(path);
	metrics_text_free(&mh->cache);
	free(mh);
}
