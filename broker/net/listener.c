/*
 * listener.c - accept, limits, a TLS bufferevent per connection.
 *
 * Connections over max_connections are closed at accept, before any TLS
 * work is spent on them. The bound port is published through a file
 * written atomically (tmp + rename) so tests and supervisors can use
 * port 0 without races.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/bufferevent_ssl.h>
#include <event2/listener.h>

#include "audit.h"
#include "listener.h"
#include "log.h"
#include "session.h"

/* The address alone (no port), the key of the per-address limit. */
static void
peer_addr(const struct sockaddr *sa, char *buf, size_t len)
{
	const void *a = NULL;

	if (sa->sa_family == AF_INET)
		a = &((const struct sockaddr_in *)sa)->sin_addr;
	else if (sa->sa_family == AF_INET6)
		a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
	if (a == NULL || inet_ntop(sa->sa_family, a, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
}

static void
peer_name(const struct sockaddr *sa, char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;

	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
		port = ntohs(in->sin_port);
		snprintf(buf, len, "%s:%u", host, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
		port = ntohs(in6->sin6_port);
		snprintf(buf, len, "[%s]:%u", host, port);
	} else
		snprintf(buf, len, "unknown");
}

/* Records a connection refused before any TLS work (rate-limited). */
static void
audit_accept_refused(struct broker *b, const char *peer, const char *code,
    const char *reason)
{
	struct audit_event ev = { 0 };

	ev.event = AUDIT_CONN_REFUSED;
	ev.actor = "-";
	ev.peer = peer;
	ev.outcome = code;
	ev.reason = reason;
	state_audit(&b->st, &ev);
}

/*
 * At the connection limit, the oldest connection that has not yet said
 * Hello (and has had a second to) gives way, so connections that never
 * authenticate cannot lock out the nodes that do. Returns 1 if one did.
 */
static int
evict_oldest_preauth(struct broker *b)
{
	struct session *s;
	int64_t now = state_mono_ms();

	TAILQ_FOREACH(s, &b->sessions, entry) {
		if (s->state != SESSION_HANDSHAKE && s->state != SESSION_HELLO)
			continue;
		if (now - s->accepted_ms < 1000)
			return 0;	/* the list is oldest first */
		log_warnx("sid=%llu peer=%s closed: connection limit reached, the "
		    "oldest connection not yet past hello gives way",
		    (unsigned long long)s->id, s->peer);
		session_kill(s);
		return 1;
	}
	return 0;
}

/* Why a new connection from addr may not be taken, or NULL if it may. */
static const char *
accept_refusal(struct broker *b, const char *addr)
{
	if (b->stopping)
		return "shutting down";
	if (session_count_preauth(b, addr) >= b->cfg->max_preauth_per_address)
		return "too many connections from this address not yet past hello";
	if (b->nsessions >= b->cfg->max_connections && !evict_oldest_preauth(b))
		return "connection limit reached";
	return NULL;
}

static void
accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
    int salen, void *arg)
{
	struct broker *b = arg;
	struct bufferevent *bev;
	char peer[64], addr[48];
	const char *why;
	int one = 1;
	SSL *ssl;

	peer_name(sa, peer, sizeof(peer));
	peer_addr(sa, addr, sizeof(addr));
	if ((why = accept_refusal(b, addr)) != NULL) {
		log_warnx("peer=%s refused: %s", peer, why);
		evutil_closesocket(fd);
		if (!b->stopping)
			audit_accept_refused(b, peer, "LIMIT_EXCEEDED", why);
		return;
	}
	/* frames are whole messages: waiting to coalesce them (Nagle, with
	 * the peer's delayed ack) only adds latency to every reply */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		log_warn("peer=%s setsockopt TCP_NODELAY", peer);
	if ((ssl = SSL_new(b->tls)) == NULL) {
		log_warnx("peer=%s refused: SSL_new failed", peer);
		evutil_closesocket(fd);
		return;
	}
	bev = bufferevent_openssl_socket_new(b->base, fd, ssl,
	    BUFFEREVENT_SSL_ACCEPTING, BEV_OPT_CLOSE_ON_FREE);
	if (bev == NULL) {
		/* with BEV_OPT_CLOSE_ON_FREE libevent has freed ssl on this path
		 * already; the socket (a no-close BIO) is still ours */
		log_warnx("peer=%s refused: cannot create bufferevent", peer);
		evutil_closesocket(fd);
		return;
	}
	/* frames are length-prefixed: a missing close_notify is an ordinary EOF */
	bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
	if (session_new(b, bev, peer, addr) == NULL) {
		log_warnx("peer=%s refused: out of memory", peer);
		bufferevent_free(bev);
	}
}

static void
accept_error_cb(struct evconnlistener *l, void *arg)
{
	/* EMFILE and friends: log, keep serving the connections we have */
	log_warn("accept");
}

/*
 * Parses "IPv4:PORT" or "[IPv6]:PORT" (port 0 allowed: ephemeral).
 * libevent's parser refuses port 0, so this is done here.
 */
static int
parse_listen(const char *spec, struct sockaddr_storage *ss, int *sslen)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(spec, ':');
	char *end;
	unsigned long port;
	size_t hl;

	if (colon == NULL || colon == spec || colon[1] == '\0')
		return -1;
	port = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || port > 65535)
		return -1;
	hl = (size_t)(colon - spec);
	if (spec[0] == '[') {
		if (hl < 3 || spec[hl - 1] != ']' || hl - 2 >= sizeof(host))
			return -1;
		memcpy(host, spec + 1, hl - 2);
		host[hl - 2] = '\0';
	} else {
		if (hl >= sizeof(host))
			return -1;
		memcpy(host, spec, hl);
		host[hl] = '\0';
	}
	if (strchr(host, ':') != NULL) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (inet_pton(AF_INET6, host, &in6->sin6_addr) != 1)
			return -1;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*in6);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &in->sin_addr) != 1)
			return -1;
		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*in);
	}
	return 0;
}

static int
write_port_file(const char *path, unsigned port, char *err, size_t errlen)
{
	char tmp[4096];
	FILE *fp;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		snprintf(err, errlen, "%s: path too long", path);
		return -1;
	}
	if ((fp = fopen(tmp, "w")) == NULL) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(fp, "%u\n", port);
	if (fclose(fp) != 0 || rename(tmp, path) != 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int
listener_start(struct broker *b, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	int sslen = sizeof(ss);
	socklen_t blen = sizeof(ss);
	char bound[64];

	memset(&ss, 0, sizeof(ss));
	if (parse_listen(b->cfg->listen, &ss, &sslen) != 0) {
		snprintf(err, errlen, "listen address '%s' is not ADDR:PORT",
		    b->cfg->listen);
		return -1;
	}
	b->listener = evconnlistener_new_bind(b->base, accept_cb, b,
	    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    128, (struct sockaddr *)&ss, sslen);
	if (b->listener == NULL) {
		snprintf(err, errlen, "cannot listen on %s: %s", b->cfg->listen,
		    strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(b->listener, accept_error_cb);
	if (getsockname(evconnlistener_get_fd(b->listener),
	    (struct sockaddr *)&ss, &blen) != 0) {
		snprintf(err, errlen, "getsockname: %s", strerror(errno));
		return -1;
	}
	peer_name((struct sockaddr *)&ss, bound, sizeof(bound));
	if (b->cfg->port_file != NULL && write_port_file(b->cfg->port_file,
	    ntohs(((struct sockaddr_in *)&ss)->sin_port), err, errlen) == -1)
		return -1;
	log_info("listening on %s", bound);
	return 0;
}

void
listener_stop(struct broker *b)
{
	if (b->listener != NULL)
		evconnlistener_disable(b->listener);
}
