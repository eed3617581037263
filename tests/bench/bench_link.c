/*
 * bench_link.c - the benchmark's raw pipelined connection (bench_link.h).
 *
 * Non-blocking throughout once the Welcome is in: link_flush writes what
 * the socket takes and keeps the rest (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
 * since the output buffer may grow between retries), link_read drains
 * everything OpenSSL has decrypted so that poll() is never waited on with
 * bytes already inside the TLS layer.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "bench_link.h"

#define READ_MAX_FRAME	(64u * 1024u * 1024u)

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

SSL_CTX *
link_ctx(const char *ca, const char *cert, const char *key, char *err,
    size_t errlen)
{
	SSL_CTX *ctx;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
		snprintf(err, errlen, "cannot load CA %s, certificate %s or key "
		    "%s", ca, cert, key);
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return ctx;
}

static int
wait_until(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left = deadline - mono_ms();

	if (left <= 0)
		return 0;
	return poll(&p, 1, (int)left) > 0;
}

static int
tcp_open(const char *host, const char *port, int64_t deadline)
{
	struct addrinfo hints, *ai;
	socklen_t elen = sizeof(int);
	int fd, e = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(host, port, &hints, &ai) != 0)
		return -1;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd != -1) {
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 &&
		    (errno != EINPROGRESS || !wait_until(fd, POLLOUT, deadline) ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 || e != 0)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	return fd;
}

/* Retries an SSL call after r: 1 retry, 0 no (closed, late, failed). */
static int
ssl_retry(struct link *l, int r, int64_t deadline)
{
	int e = SSL_get_error(l->ssl, r);

	if (e == SSL_ERROR_WANT_READ)
		return wait_until(l->fd, POLLIN, deadline);
	if (e == SSL_ERROR_WANT_WRITE)
		return wait_until(l->fd, POLLOUT, deadline);
	return 0;
}

static int
reserve(uint8_t **buf, size_t *cap, size_t need)
{
	size_t n = *cap ? *cap : 65536;
	uint8_t *p;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((p = realloc(*buf, n)) == NULL)
		return -1;
	*buf = p;
	*cap = n;
	return 0;
}

int
link_queue(struct link *l, const Frame *f)
{
	size_t n = baton__v1__frame__get_packed_size(f);
	uint8_t *p;

	if (n == 0 || n > READ_MAX_FRAME)
		return -1;
	if (l->out_off > 0 && l->out_off == l->out_len)
		l->out_off = l->out_len = 0;
	if (reserve(&l->out, &l->out_cap, l->out_len + BATON_FRAME_HDR + n) != 0)
		return -1;
	p = l->out + l->out_len;
	p[0] = (uint8_t)(n >> 24);
	p[1] = (uint8_t)(n >> 16);
	p[2] = (uint8_t)(n >> 8);
	p[3] = (uint8_t)n;
	baton__v1__frame__pack(f, p + BATON_FRAME_HDR);
	l->out_len += BATON_FRAME_HDR + n;
	return 0;
}

int
link_pending(const struct link *l)
{
	return l->out_off < l->out_len;
}

int
link_flush(struct link *l)
{
	size_t n;
	int r, e;

	while (l->out_off < l->out_len) {
		r = SSL_write_ex(l->ssl, l->out + l->out_off, l->out_len - l->out_off, &n);
		if (r == 1) {
			l->out_off += n;
			continue;
		}
		e = SSL_get_error(l->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			return 0;
		return -1;
	}
	l->out_off = l->out_len = 0;
	return 0;
}

/* Takes one whole frame from the input: 1, 0 need more, -1 bad. */
static int
take_frame(struct link *l, Frame **out)
{
	uint32_t len;
	int st;

	if (l->in_len < BATON_FRAME_HDR)
		return 0;
	if (frame_parse_header(l->in, l->in_len, READ_MAX_FRAME, &len) != FRAME_OK)
		return -1;
	if (l->in_len < BATON_FRAME_HDR + (size_t)len)
		return 0;
	*out = frame_decode(l->in + BATON_FRAME_HDR, len, &st);
	l->in_len -= BATON_FRAME_HDR + len;
	memmove(l->in, l->in + BATON_FRAME_HDR + len, l->in_len);
	return *out != NULL ? 1 : -1;
}

static int
answer_ping(struct link *l, const Frame *f)
{
	Baton__V1__Pong p = BATON__V1__PONG__INIT;
	Frame o = BATON__V1__FRAME__INIT;

	p.nonce = f->ping->nonce;
	o.body_case = BATON__V1__FRAME__BODY_PONG;
	o.pong = &p;
	return link_queue(l, &o);
}

/* Calls cb for every whole frame in the input: 0, or -1. */
static int
deliver_frames(struct link *l, link_frame_cb cb, void *arg)
{
	Frame *f;
	int rc, stop;

	while ((rc = take_frame(l, &f)) == 1) {
		if (f->body_case == BATON__V1__FRAME__BODY_PING)
			stop = answer_ping(l, f);
		else
			stop = cb(arg, f);
		frame_free(f);
		if (stop != 0)
			return -1;
	}
	return rc;
}

int
link_read(struct link *l, link_frame_cb cb, void *arg)
{
	size_t n;
	int r, e;

	for (;;) {
		if (reserve(&l->in, &l->in_cap, l->in_len + 16384) != 0)
			return -1;
		r = SSL_read_ex(l->ssl, l->in + l->in_len, l->in_cap - l->in_len, &n);
		if (r == 1) {
			l->in_len += n;
			if (deliver_frames(l, cb, arg) != 0)
				return -1;
			continue;
		}
		e = SSL_get_error(l->ssl, r);
		if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
			return 0;
		return -1;
	}
}

void
link_wait(struct link *l, int timeout_ms)
{
	struct pollfd p = { .fd = l->fd, .events = POLLIN };

	if (link_pending(l))
		p.events |= POLLOUT;
	(void)poll(&p, 1, timeout_ms);
}

/* The Welcome's limits, read from the first frames (blocking). */
static int
await_welcome(struct link *l, int64_t deadline, char *err, size_t errlen)
{
	Frame *f;
	size_t n;
	int r, rc;

	for (;;) {
		while ((rc = take_frame(l, &f)) == 1) {
			if (f->body_case == BATON__V1__FRAME__BODY_WELCOME) {
				l->max_frame = f->welcome->max_frame;
				l->max_unacked = f->welcome->max_unacked;
				frame_free(f);
				return 0;
			}
			if (f->body_case == BATON__V1__FRAME__BODY_ERROR)
				snprintf(err, errlen, "refused: %s %s",
				    frame_code_name(f->error->code),
				    f->error->text ? f->error->text : "");
			frame_free(f);
			if (err[0] != '\0')
				return -1;
		}
		if (rc == -1 || reserve(&l->in, &l->in_cap, l->in_len + 16384) != 0)
			return -1;
		r = SSL_read_ex(l->ssl, l->in + l->in_len, l->in_cap - l->in_len, &n);
		if (r == 1)
			l->in_len += n;
		else if (!ssl_retry(l, r, deadline))
			return -1;
	}
}

static int
handshake(struct link *l, const char *name, int64_t deadline)
{
	unsigned char ip[16];
	int r;

	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(l->ssl), name) != 1)
			return -1;
	} else if (SSL_set1_host(l->ssl, name) != 1 ||
	    SSL_set_tlsext_host_name(l->ssl, name) != 1)
		return -1;
	while ((r = SSL_connect(l->ssl)) != 1)
		if (!ssl_retry(l, r, deadline))
			return -1;
	return 0;
}

int
link_open(struct link *l, SSL_CTX *ctx, const char *host, const char *port,
    const char *server_name, int timeout_ms, char *err, size_t errlen)
{
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;
	Frame f = BATON__V1__FRAME__INIT;
	int64_t deadline = mono_ms() + timeout_ms;

	memset(l, 0, sizeof(*l));
	err[0] = '\0';
	if ((l->fd = tcp_open(host, port, deadline)) == -1) {
		snprintf(err, errlen, "cannot connect to %s:%s", host, port);
		return -1;
	}
	if ((l->ssl = SSL_new(ctx)) == NULL || SSL_set_fd(l->ssl, l->fd) != 1 ||
	    handshake(l, server_name, deadline) != 0) {
		snprintf(err, errlen, "TLS handshake with %s:%s failed", host, port);
		ERR_clear_error();
		return -1;
	}
	h.protocol_version = BATON_PROTOCOL_VERSION;
	h.client_name = "bench";
	f.body_case = BATON__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	if (link_queue(l, &f) != 0)
		return -1;
	while (link_flush(l) != 0 || link_pending(l))
		if (!link_pending(l) || !wait_until(l->fd, POLLOUT, deadline)) {
			snprintf(err, errlen, "cannot send Hello");
			return -1;
		}
	if (await_welcome(l, deadline, err, errlen) != 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "no Welcome within %d ms", timeout_ms);
		return -1;
	}
	return 0;
}

void
link_close(struct link *l)
{
	if (l->ssl != NULL) {
		(void)SSL_shutdown(l->ssl);
		SSL_free(l->ssl);
	}
	if (l->fd > 0)
		close(l->fd);
	free(l->in);
	free(l->out);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}
