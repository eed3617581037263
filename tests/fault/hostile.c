/*
 * hostile.c - a hostile partner for the stress tests (TESTPLAN N4, N6, N7,
 * N8; shared/DESIGN.md Guarantee 7): a raw mutual-TLS client that speaks
 * Baton frames itself (proto/frame.h), so it can do what libbaton never
 * would: flood without reading, pipeline without bound, never say Hello,
 * leave a frame half sent.
 *
 *   hostile MODE --broker HOST:PORT --ca F --cert F --key F [options]
 *
 *   ping-flood      Hello, then Pings as fast as possible, never reading
 *   ping-rtt        Hello, then --count Pings, each waiting for its Pong
 *   submit-burst    Hello, then --count Submits of --json to --to, ids
 *                   --prefix-N, at most --window unreceipted (with
 *                   --go-file, not before that file exists)
 *   status-flood    Hello, then --count StatusRequests for --id, windowed
 *   prehello-hold   --conns TLS sessions that never send Hello, held
 *   tcp-hold        --conns bare TCP connections (no TLS bytes), held
 *   partial-hold    --conns TLS sessions that send a header declaring
 *                   --length bytes and all of the body but its last byte
 *                   (after Hello with --hello), held
 *   reconnect-loop  --count times: connect, Hello, Welcome, close
 *   frame-file      Hello, then the bytes of --file (frames as they go on
 *                   the wire) at once; times the broker's answer (an Error
 *                   frame, or the close) from the last byte written
 *   pull-count      Hello, then --count Pulls of --window credit each;
 *                   counts the Deliver frames that come, never acking,
 *                   until --interval-ms pass without one (if given)
 *   submit-trickle  --conns sessions, each Hello, then one Submit of
 *                   --json to --to (id --prefix-K), all written in step
 *                   in pieces over --trickle-ms; then waits for each
 *                   Receipt
 *
 * Every mode ends by itself: at --count or after --seconds (default 10),
 * whichever is first; an alarm at --seconds + 30 is the last resort.
 * Results are key=value lines on stdout (values run to the end of the
 * line); diagnostics go to stderr. Exit 0: the mode ran (its results say
 * what the broker did); 1: it could not start (connect, TLS, Hello); 2:
 * usage. It prints ids, counts and codes, never handover content.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "frame.h"
#include "json.h"

#define READ_MAX_FRAME	(64u * 1024u * 1024u)	/* what we accept to read */
#define REPLY_WAIT_MS	5000	/* one Pong, Welcome or Receipt, at most */
#define FLOOD_BATCH	1024	/* Pings per buffer written */
#define MAX_CONNS	4096

struct opts {
	const char	*mode, *broker, *ca, *cert, *key, *server_name, *bind;
	const char	*prefix, *to, *json, *id, *file, *go_file;
	char		 host[256], port[16];
	int		 seconds, window, conns, interval_ms, hello, trickle_ms;
	long		 count;
	uint32_t	 length;
};

/* One connection: a socket, its TLS session (NULL for tcp-hold), input. */
struct conn {
	int		 fd;
	SSL		*ssl;
	uint8_t		*in;		/* bytes read, not yet a whole frame */
	size_t		 in_len, in_cap;
	int		 closed;	/* the broker ended it, or it failed */
	int64_t		 opened_ms, closed_ms;
};

struct run {
	struct opts		 o;
	SSL_CTX			*ctx;
	struct sockaddr_storage	 addr;	/* the broker */
	socklen_t		 addrlen;
	int64_t			 t0, deadline;
	char			 err_code[40];	/* first Error frame's code */
	char			 err_text[256];
	unsigned		 n_code[64];	/* Error frames by baton.v1.Code */
};

static int64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

#define now_ms()	(now_us() / 1000)

static void
usage(void)
{
	fprintf(stderr, "usage: hostile ping-flood|ping-rtt|submit-burst|"
	    "status-flood|prehello-hold|tcp-hold|partial-hold|reconnect-loop|\n"
	    "    frame-file|pull-count|submit-trickle\n"
	    "    --broker HOST:PORT --ca FILE --cert FILE --key FILE\n"
	    "    [--server-name NAME] [--bind ADDR] [--seconds S] [--count N]\n"
	    "    [--window W] [--conns K] [--interval-ms MS] [--prefix P]\n"
	    "    [--to NODE] [--json FILE] [--id ID] [--length L] [--hello]\n"
	    "    [--file FILE] [--trickle-ms MS] [--go-file FILE]\n");
	exit(2);
}

/* Splits HOST:PORT or [V6]:PORT into o->host and o->port. */
static int
split_broker(struct opts *o)
{
	const char *b = o->broker, *colon = strrchr(b, ':');
	size_t hl;

	if (colon == NULL || colon[1] == '\0' || strlen(colon + 1) >= sizeof(o->port))
		return -1;
	hl = (size_t)(colon - b);
	if (b[0] == '[' && hl >= 2 && b[hl - 1] == ']') {
		b++;
		hl -= 2;
	}
	if (hl == 0 || hl >= sizeof(o->host))
		return -1;
	memcpy(o->host, b, hl);
	o->host[hl] = '\0';
	strcpy(o->port, colon + 1);
	return 0;
}

static void
parse_opts(struct opts *o, int argc, char **argv)
{
	static const struct option lo[] = {
		{ "broker", 1, NULL, 'b' }, { "ca", 1, NULL, 'A' },
		{ "cert", 1, NULL, 'C' }, { "key", 1, NULL, 'K' },
		{ "server-name", 1, NULL, 'N' }, { "bind", 1, NULL, 'B' },
		{ "seconds", 1, NULL, 's' }, { "count", 1, NULL, 'n' },
		{ "window", 1, NULL, 'w' }, { "conns", 1, NULL, 'k' },
		{ "interval-ms", 1, NULL, 'i' }, { "prefix", 1, NULL, 'p' },
		{ "to", 1, NULL, 't' }, { "json", 1, NULL, 'j' },
		{ "id", 1, NULL, 'I' }, { "length", 1, NULL, 'L' },
		{ "hello", 0, NULL, 'H' }, { "file", 1, NULL, 'F' },
		{ "trickle-ms", 1, NULL, 'T' }, { "go-file", 1, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->seconds = 10;
	o->count = 1000;
	o->window = 64;
	o->conns = 10;
	o->prefix = "hostile";
	o->length = 65000;
	if (argc < 2 || argv[1][0] == '-')
		usage();
	o->mode = argv[1];
	optind = 2;
	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'b': o->broker = optarg; break;
		case 'A': o->ca = optarg; break;
		case 'C': o->cert = optarg; break;
		case 'K': o->key = optarg; break;
		case 'N': o->server_name = optarg; break;
		case 'B': o->bind = optarg; break;
		case 's': o->seconds = atoi(optarg); break;
		case 'n': o->count = atol(optarg); break;
		case 'w': o->window = atoi(optarg); break;
		case 'k': o->conns = atoi(optarg); break;
		case 'i': o->interval_ms = atoi(optarg); break;
		case 'p': o->prefix = optarg; break;
		case 't': o->to = optarg; break;
		case 'j': o->json = optarg; break;
		case 'I': o->id = optarg; break;
		case 'L': o->length = (uint32_t)strtoul(optarg, NULL, 10); break;
		case 'H': o->hello = 1; break;
		case 'F': o->file = optarg; break;
		case 'T': o->trickle_ms = atoi(optarg); break;
		case 'G': o->go_file = optarg; break;
		default: usage();
		}
	}
	if (optind != argc || o->broker == NULL || split_broker(o) == -1 ||
	    o->seconds < 1 || o->count < 1 || o->window < 1 || o->conns < 1 ||
	    o->conns > MAX_CONNS || o->interval_ms < 0 || o->length < 2 ||
	    o->trickle_ms < 0)
		usage();
	if (o->server_name == NULL)
		o->server_name = o->host;
}

static int
resolve(struct run *r)
{
	struct addrinfo hints, *ai;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if (getaddrinfo(r->o.host, r->o.port, &hints, &ai) != 0)
		return -1;
	memcpy(&r->addr, ai->ai_addr, ai->ai_addrlen);
	r->addrlen = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

static int
tls_ctx(struct run *r)
{
	const struct opts *o = &r->o;

	if (o->ca == NULL || o->cert == NULL || o->key == NULL)
		return -1;
	if ((r->ctx = SSL_CTX_new(TLS_client_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(r->ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_load_verify_locations(r->ctx, o->ca, NULL) != 1 ||
	    SSL_CTX_use_certificate_chain_file(r->ctx, o->cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(r->ctx, o->key, SSL_FILETYPE_PEM) != 1)
		return -1;
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_options(r->ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_mode(r->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	return 0;
}

/* Waits for events on fd until the deadline: 1 ready, 0 deadline, -1 error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = events };
	int64_t left;
	int n;

	for (;;) {
		if ((left = deadline - now_ms()) < 0)
			return 0;
		n = poll(&p, 1, (int)left);
		if (n > 0)
			return 1;
		if (n == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

/* A non-blocking TCP connection to the broker (from --bind); -1 if none. */
static int
tcp_connect(const struct run *r, int64_t deadline)
{
	struct sockaddr_storage src;
	socklen_t err_len = sizeof(int);
	int fd, err = 0, one = 1;

	fd = socket(r->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (r->o.bind != NULL) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&src;
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&src;

		memset(&src, 0, sizeof(src));
		src.ss_family = r->addr.ss_family;
		if ((src.ss_family == AF_INET ?
		    inet_pton(AF_INET, r->o.bind, &s4->sin_addr) :
		    inet_pton(AF_INET6, r->o.bind, &s6->sin6_addr)) != 1 ||
		    bind(fd, (struct sockaddr *)&src, src.ss_family == AF_INET ?
		    sizeof(*s4) : sizeof(*s6)) == -1)
			goto fail;
	}
	/* as libbaton does: small frames go out at once */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, (const struct sockaddr *)&r->addr, r->addrlen) == 0)
		return fd;
	if (errno != EINPROGRESS || wait_fd(fd, POLLOUT, deadline) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &err_len) == -1 || err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

static void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		if (!c->closed)
			SSL_shutdown(c->ssl);	/* best effort, non-blocking */
		SSL_free(c->ssl);
	}
	if (c->fd != -1)
		close(c->fd);
	free(c->in);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

static void
mark_closed(struct conn *c)
{
	if (!c->closed) {
		c->closed = 1;
		c->closed_ms = now_ms();
	}
}

/*
 * Waits after an SSL call returned r: 1 retry, 0 deadline, -1 the
 * connection ended (closed is set).
 */
static int
ssl_wait(struct conn *c, int r, int64_t deadline)
{
	int e = SSL_get_error(c->ssl, r), w;

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
		mark_closed(c);
		return -1;
	}
	w = wait_fd(c->fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline);
	if (w == -1)
		mark_closed(c);
	return w;
}

/* TCP, then a TLS handshake with our certificate: 0, or -1 (c closed). */
static int
tls_open(struct run *r, struct conn *c, int64_t deadline)
{
	const char *name = r->o.server_name;
	unsigned char ip[16];
	int n;

	memset(c, 0, sizeof(*c));
	c->opened_ms = now_ms();
	if ((c->fd = tcp_connect(r, deadline)) == -1 ||
	    (c->ssl = SSL_new(r->ctx)) == NULL || SSL_set_fd(c->ssl, c->fd) != 1)
		goto fail;
	if (inet_pton(AF_INET, name, ip) == 1 || inet_pton(AF_INET6, name, ip) == 1) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), name) != 1)
			goto fail;
	} else if (SSL_set1_host(c->ssl, name) != 1 ||
	    SSL_set_tlsext_host_name(c->ssl, name) != 1)
		goto fail;
	while ((n = SSL_connect(c->ssl)) != 1)
		if (ssl_wait(c, n, deadline) != 1)
			goto fail;
	c->opened_ms = now_ms();
	return 0;
fail:
	ERR_clear_error();
	c->closed = 1;
	return -1;
}

/* Writes all of buf: 1 written, 0 deadline, -1 connection ended. */
static int
write_all(struct conn *c, const uint8_t *buf, size_t len, int64_t deadline)
{
	size_t off = 0, n;
	int r, w;

	while (off < len) {
		if ((r = SSL_write_ex(c->ssl, buf + off, len - off, &n)) == 1) {
			off += n;
			continue;
		}
		if ((w = ssl_wait(c, r, deadline)) != 1)
			return w;
	}
	return 1;
}

static int
send_frame(struct conn *c, const Frame *f, int64_t deadline)
{
	uint8_t *buf;
	size_t len;
	int rc;

	if (frame_encode(f, READ_MAX_FRAME, &buf, &len) != FRAME_OK)
		return -1;
	rc = write_all(c, buf, len, deadline);
	free(buf);
	return rc;
}

/* Takes one whole frame from c->in: 1 (*out set), 0 need more, -1 bad. */
static int
take_frame(struct conn *c, Frame **out)
{
	uint32_t len;
	int st;

	if (c->in_len < BATON_FRAME_HDR)
		return 0;
	if (frame_parse_header(c->in, c->in_len, READ_MAX_FRAME, &len) != FRAME_OK)
		return -1;
	if (c->in_len < BATON_FRAME_HDR + (size_t)len)
		return 0;
	*out = frame_decode(c->in + BATON_FRAME_HDR, len, &st);
	c->in_len -= BATON_FRAME_HDR + len;
	memmove(c->in, c->in + BATON_FRAME_HDR + len, c->in_len);
	return *out != NULL ? 1 : -1;
}

/* Reads more bytes into c->in: 1 some, 0 deadline, -1 connection ended. */
static int
fill(struct conn *c, int64_t deadline)
{
	size_t n;
	ssize_t got;
	int r, w;

	if (c->in_cap - c->in_len < 16384) {
		uint8_t *p = realloc(c->in, c->in_cap + 65536);

		if (p == NULL)
			return -1;
		c->in = p;
		c->in_cap += 65536;
	}
	for (;;) {
		if (c->ssl == NULL) {
			got = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
			if (got > 0) {
				c->in_len += (size_t)got;
				return 1;
			}
			if (got == 0 || (errno != EAGAIN && errno != EINTR)) {
				mark_closed(c);
				return -1;
			}
			if ((w = wait_fd(c->fd, POLLIN, deadline)) != 1)
				return w;
			continue;
		}
		if ((r = SSL_read_ex(c->ssl, c->in + c->in_len,
		    c->in_cap - c->in_len, &n)) == 1) {
			c->in_len += n;
			return 1;
		}
		if ((w = ssl_wait(c, r, deadline)) != 1)
			return w;
	}
}

/*
 * Next frame from the broker: 1 (*out set), 0 deadline, -1 ended. An Error
 * frame is returned too, and its code and text are kept in r (the first).
 */
static int
read_frame(struct run *r, struct conn *c, int64_t deadline, Frame **out)
{
	int rc;

	while ((rc = take_frame(c, out)) == 0)
		if ((rc = fill(c, deadline)) != 1)
			return rc;
	if (rc == -1) {
		mark_closed(c);
		return -1;
	}
	if ((*out)->body_case == BATON__V1__FRAME__BODY_ERROR)
		r->n_code[(unsigned)(*out)->error->code % 64]++;
	if ((*out)->body_case == BATON__V1__FRAME__BODY_ERROR &&
	    r->err_code[0] == '\0') {
		snprintf(r->err_code, sizeof(r->err_code), "%s",
		    frame_code_name((*out)->error->code));
		snprintf(r->err_text, sizeof(r->err_text), "%s",
		    (*out)->error->text ? (*out)->error->text : "");
	}
	return 1;
}

/* Sends Hello and waits for Welcome: 0, or -1 (refused, closed, late). */
static int
say_hello(struct run *r, struct conn *c)
{
	Baton__V1__Hello h = BATON__V1__HELLO__INIT;
	Frame f = BATON__V1__FRAME__INIT, *in;
	int64_t deadline = now_ms() + REPLY_WAIT_MS;
	int welcomed = 0;

	h.protocol_version = BATON_PROTOCOL_VERSION;
	h.client_name = "hostile";
	f.body_case = BATON__V1__FRAME__BODY_HELLO;
	f.hello = &h;
	if (send_frame(c, &f, deadline) != 1)
		return -1;
	while (!welcomed) {
		if (read_frame(r, c, deadline, &in) != 1)
			return -1;
		welcomed = in->body_case == BATON__V1__FRAME__BODY_WELCOME;
		if (in->body_case == BATON__V1__FRAME__BODY_ERROR) {
			frame_free(in);
			return -1;
		}
		frame_free(in);
	}
	return 0;
}

/* One session through Hello, or exit 1 saying why. */
static void
open_session(struct run *r, struct conn *c)
{
	if (tls_open(r, c, now_ms() + REPLY_WAIT_MS) == -1) {
		fprintf(stderr, "hostile: cannot open a TLS session to %s\n",
		    r->o.broker);
		exit(1);
	}
	if (say_hello(r, c) == -1) {
		fprintf(stderr, "hostile: no Welcome from %s: %s %s\n",
		    r->o.broker, r->err_code, r->err_text);
		exit(1);
	}
}

/* The first Error frame, and how many of each code ("TIMEOUT:2,..."). */
static void
print_error(const struct run *r)
{
	const char *sep = "";
	int i;

	printf("error_code=%s\n", r->err_code[0] ? r->err_code : "none");
	printf("error_text=%s\nerrors=", r->err_text);
	for (i = 0; i < 64; i++) {
		if (r->n_code[i] == 0)
			continue;
		printf("%s%s:%u", sep, frame_code_name(i), r->n_code[i]);
		sep = ",";
	}
	printf("\n");
}

/* ping-flood: Pings as fast as the broker takes them; nothing is read. */
static int
mode_ping_flood(struct run *r)
{
	Baton__V1__Ping p = BATON__V1__PING__INIT;
	Frame f = BATON__V1__FRAME__INIT;
	struct conn c;
	uint8_t *batch, *one;
	size_t one_len, len, off = 0, n;
	long long bytes = 0;
	int64_t stall_from = 0, stall_max = 0, last_write;
	int i, w, rc;

	open_session(r, &c);
	p.nonce = UINT64_MAX;		/* the longest Ping, and Pong */
	f.body_case = BATON__V1__FRAME__BODY_PING;
	f.ping = &p;
	if (frame_encode(&f, READ_MAX_FRAME, &one, &one_len) != FRAME_OK ||
	    (batch = malloc(one_len * FLOOD_BATCH)) == NULL)
		return 1;
	for (i = 0; i < FLOOD_BATCH; i++)
		memcpy(batch + (size_t)i * one_len, one, one_len);
	len = one_len * FLOOD_BATCH;
	last_write = now_ms();
	while (!c.closed && now_ms() < r->deadline) {
		if ((rc = SSL_write_ex(c.ssl, batch + off, len - off, &n)) == 1) {
			bytes += (long long)n;
			off = (off + n) % len;
			last_write = now_ms();
			if (stall_from && last_write - stall_from > stall_max)
				stall_max = last_write - stall_from;
			stall_from = 0;
			continue;
		}
		rc = SSL_get_error(c.ssl, rc);
		if (rc != SSL_ERROR_WANT_WRITE && rc != SSL_ERROR_WANT_READ) {
			mark_closed(&c);
			break;
		}
		if (stall_from == 0)
			stall_from = now_ms();
		/* POLLRDHUP: the broker shut its side, seen without reading */
		w = wait_fd(c.fd, POLLOUT | POLLRDHUP, now_ms() + 100);
		if (w == 1 && wait_fd(c.fd, POLLRDHUP, now_ms()) == 1)
			mark_closed(&c);
	}
	if (stall_from && now_ms() - stall_from > stall_max)
		stall_max = now_ms() - stall_from;
	printf("bytes_written=%lld\npings_written=%lld\n", bytes,
	    bytes / (long long)one_len);
	printf("max_stall_ms=%lld\n", (long long)stall_max);
	printf("stalled_at_end_ms=%lld\n", (long long)(now_ms() - last_write));
	printf("broker_closed=%d\n", c.closed);
	printf("closed_after_ms=%lld\n",
	    c.closed ? (long long)(c.closed_ms - r->t0) : -1LL);
	free(one);
	free(batch);
	conn_close(&c);
	return 0;
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Waits for the Pong with nonce; answers the broker's own Pings. */
static int
await_pong(struct run *r, struct conn *c, uint64_t nonce, int64_t deadline)
{
	Baton__V1__Pong pong = BATON__V1__PONG__INIT;
	Frame out = BATON__V1__FRAME__INIT, *in;
	int found = 0;

	while (!found) {
		if (read_frame(r, c, deadline, &in) != 1)
			return -1;
		found = in->body_case == BATON__V1__FRAME__BODY_PONG &&
		    in->pong->nonce == nonce;
		if (in->body_case == BATON__V1__FRAME__BODY_PING) {
			pong.nonce = in->ping->nonce;
			out.body_case = BATON__V1__FRAME__BODY_PONG;
			out.pong = &pong;
			(void)send_frame(c, &out, deadline);
		}
		frame_free(in);
	}
	return 0;
}

/* ping-rtt: sequential Pings, each round trip timed. */
static int
mode_ping_rtt(struct run *r)
{
	Baton__V1__Ping p = BATON__V1__PING__INIT;
	Frame f = BATON__V1__FRAME__INIT;
	struct conn c;
	int64_t *rtt, t, slowest = 0;
	long n = 0, lost = 0;

	open_session(r, &c);
	if ((rtt = calloc((size_t)r->o.count, sizeof(*rtt))) == NULL)
		return 1;
	f.body_case = BATON__V1__FRAME__BODY_PING;
	f.ping = &p;
	while (n + lost < r->o.count && now_ms() < r->deadline && !c.closed) {
		p.nonce = (uint64_t)(n + lost + 1);
		t = now_us();
		if (send_frame(&c, &f, now_ms() + REPLY_WAIT_MS) != 1 ||
		    await_pong(r, &c, p.nonce, now_ms() + REPLY_WAIT_MS) == -1) {
			lost++;		/* counted at the full wait */
			slowest = REPLY_WAIT_MS * 1000;
			break;
		}
		rtt[n++] = now_us() - t;
		if (r->o.interval_ms > 0)
			usleep((useconds_t)r->o.interval_ms * 1000);
	}
	qsort(rtt, (size_t)n, sizeof(*rtt), cmp_i64);
	if (n > 0 && rtt[n - 1] > slowest)
		slowest = rtt[n - 1];
	printf("count=%ld\nlost=%ld\n", n, lost);
	printf("max_ms=%lld\n", (long long)(slowest + 999) / 1000);
	printf("p99_ms=%lld\n", n ? (long long)(rtt[(n - 1) * 99 / 100] + 999) / 1000 : -1LL);
	printf("p50_ms=%lld\n", n ? (long long)(rtt[(n - 1) / 2] + 999) / 1000 : -1LL);
	printf("broker_closed=%d\n", c.closed);
	print_error(r);
	free(rtt);
	conn_close(&c);
	return 0;
}

/* What a pipelined run counts of its replies. */
struct tally {
	long	sent, replies, ok, duplicate, store_full, other;
	char	first_code[40], first_text[256];
};

typedef int (*encode_fn)(struct run *, long, uint8_t **, size_t *, void *);

static void
count_reply(struct tally *t, int code, const char *text, int dup)
{
	t->replies++;
	if (code == BATON__V1__CODE__CODE_OK) {
		t->ok++;
		t->duplicate += dup != 0;
		return;
	}
	if (code == BATON__V1__CODE__CODE_STORE_FULL)
		t->store_full++;
	else
		t->other++;
	if (t->first_code[0] == '\0') {
		snprintf(t->first_code, sizeof(t->first_code), "%s",
		    frame_code_name(code));
		snprintf(t->first_text, sizeof(t->first_text), "%s",
		    text ? text : "");
	}
}

/* Sends count requests, at most window unanswered; replies -> t. */
static void
pipeline(struct run *r, struct conn *c, encode_fn enc, void *arg,
    struct tally *t)
{
	Frame *in;
	uint8_t *buf;
	size_t len;

	while (t->replies < t->sent || t->sent < r->o.count) {
		while (t->sent < r->o.count && t->sent - t->replies < r->o.window) {
			if (enc(r, t->sent, &buf, &len, arg) != 0)
				return;
			if (write_all(c, buf, len, r->deadline) != 1) {
				free(buf);
				return;
			}
			free(buf);
			t->sent++;
		}
		if (read_frame(r, c, r->deadline, &in) != 1)
			return;
		if (in->body_case == BATON__V1__FRAME__BODY_RECEIPT)
			count_reply(t, in->receipt->code, in->receipt->text,
			    in->receipt->duplicate);
		else if (in->body_case == BATON__V1__FRAME__BODY_STATUS)
			count_reply(t, in->status->code, in->status->text, 0);
		frame_free(in);
	}
}

static void
print_tally(const struct run *r, const struct tally *t, const struct conn *c)
{
	printf("sent=%ld\nreceipted=%ld\nok=%ld\nduplicate=%ld\n", t->sent,
	    t->replies, t->ok, t->duplicate);
	printf("store_full=%ld\nother=%ld\nmissing=%ld\n", t->store_full,
	    t->other, r->o.count - t->replies);
	printf("first_refusal_code=%s\n", t->first_code[0] ? t->first_code : "none");
	printf("first_refusal=%s\n", t->first_text);
	printf("elapsed_ms=%lld\nbroker_closed=%d\n",
	    (long long)(now_ms() - r->t0), c->closed);
	print_error(r);
}

static Baton__V1__Handover *
load_handover(const char *path)
{
	char err[256], *text;
	size_t len;
	FILE *fp;
	ProtobufCMessage *m = NULL;

	if (path == NULL || (fp = fopen(path, "r")) == NULL)
		return NULL;
	if ((text = malloc(BATON_JSON_MAX_DOC)) != NULL) {
		len = fread(text, 1, BATON_JSON_MAX_DOC, fp);
		m = baton_json_parse(text, len, &baton__v1__handover__descriptor,
		    err, sizeof(err));
		if (m == NULL)
			fprintf(stderr, "hostile: %s: %s\n", path, err);
		free(text);
	}
	fclose(fp);
	return (Baton__V1__Handover *)m;
}

static int
encode_submit(struct run *r, long i, uint8_t **buf, size_t *len, void *arg)
{
	Baton__V1__Envelope env = BATON__V1__ENVELOPE__INIT;
	Baton__V1__Submit sub = BATON__V1__SUBMIT__INIT;
	Frame f = BATON__V1__FRAME__INIT;
	struct timespec ts;
	char id[160];

	clock_gettime(CLOCK_REALTIME, &ts);
	snprintf(id, sizeof(id), "%s-%ld", r->o.prefix, i + 1);
	env.message_id = id;
	env.to = (char *)r->o.to;
	env.created_at_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	env.handover = arg;
	sub.envelope = &env;
	f.body_case = BATON__V1__FRAME__BODY_SUBMIT;
	f.submit = &sub;
	return frame_encode(&f, READ_MAX_FRAME, buf, len) == FRAME_OK ? 0 : -1;
}

static int
encode_status(struct run *r, long i, uint8_t **buf, size_t *len, void *arg)
{
	Baton__V1__StatusRequest q = BATON__V1__STATUS_REQUEST__INIT;
	Frame f = BATON__V1__FRAME__INIT;

	(void)i;
	(void)arg;
	q.message_id = (char *)r->o.id;
	f.body_case = BATON__V1__FRAME__BODY_STATUS_REQUEST;
	f.status_request = &q;
	return frame_encode(&f, READ_MAX_FRAME, buf, len) == FRAME_OK ? 0 : -1;
}

/* With --go-file, waits (until the deadline) for that file to exist. */
static void
await_go(const struct run *r)
{
	while (r->o.go_file != NULL && access(r->o.go_file, F_OK) == -1 &&
	    now_ms() < r->deadline)
		usleep(10000);
}

/* submit-burst, status-flood: count requests, window in flight. */
static int
mode_pipeline(struct run *r, int submit)
{
	Baton__V1__Handover *h = NULL;
	struct tally t;
	struct conn c;

	if (submit ? r->o.to == NULL || (h = load_handover(r->o.json)) == NULL :
	    r->o.id == NULL) {
		fprintf(stderr, "hostile: %s needs %s\n", r->o.mode,
		    submit ? "--to and a valid --json" : "--id");
		return 2;
	}
	open_session(r, &c);
	await_go(r);
	memset(&t, 0, sizeof(t));
	pipeline(r, &c, submit ? encode_submit : encode_status, h, &t);
	print_tally(r, &t, &c);
	if (h != NULL)
		protobuf_c_message_free_unpacked(&h->base, NULL);
	conn_close(&c);
	return 0;
}

/* Reads and drops what the broker sends on every open connection until
 * the deadline, noting which it closes (and its first Error frame). */
static void
hold(struct run *r, struct conn *cs, int n)
{
	struct pollfd pf[MAX_CONNS];
	Frame *in;
	int i, live;

	for (;;) {
		for (i = 0, live = 0; i < n; i++) {
			pf[i].fd = cs[i].closed ? -1 : cs[i].fd;
			pf[i].events = POLLIN | POLLRDHUP;
			pf[i].revents = 0;
			live += !cs[i].closed;
		}
		if (live == 0 || now_ms() >= r->deadline ||
		    poll(pf, (nfds_t)n, (int)(r->deadline - now_ms())) <= 0)
			return;
		for (i = 0; i < n; i++) {
			if (pf[i].revents == 0)
				continue;
			if (cs[i].ssl == NULL) {	/* bare TCP: bytes dropped */
				while (fill(&cs[i], now_ms()) == 1)
					cs[i].in_len = 0;
				continue;
			}
			while (read_frame(r, &cs[i], now_ms(), &in) == 1)
				frame_free(in);
		}
	}
}

/* Prints what a hold mode saw; close times are from each one's opening. */
static void
print_hold(struct run *r, struct conn *cs, int n, int refused)
{
	int64_t lo = -1, hi = -1, d;
	int i, closed = 0;

	for (i = 0; i < n; i++) {
		if (!cs[i].closed)
			continue;
		closed++;
		d = cs[i].closed_ms - cs[i].opened_ms;
		lo = lo == -1 || d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	printf("opened=%d\nrefused=%d\nclosed=%d\nopen_at_end=%d\n", n, refused,
	    closed, n - closed);
	printf("closed_min_ms=%lld\nclosed_max_ms=%lld\nclosed_ms=", (long long)lo,
	    (long long)hi);
	for (i = 0, d = 0; i < n; i++)
		if (cs[i].closed)
			printf("%s%lld", d++ ? "," : "",
			    (long long)(cs[i].closed_ms - cs[i].opened_ms));
	printf("\n");
	print_error(r);
	for (i = 0; i < n; i++)
		conn_close(&cs[i]);
}

/* Sends the partial frame (after Hello with --hello); 0 or -1. */
static int
send_partial(struct run *r, struct conn *c)
{
	uint32_t L = r->o.length;
	uint8_t *buf;
	int rc;

	if (r->o.hello && say_hello(r, c) == -1)
		return -1;
	if ((buf = calloc(1, BATON_FRAME_HDR + L - 1)) == NULL)
		return -1;
	buf[0] = (uint8_t)(L >> 24);
	buf[1] = (uint8_t)(L >> 16);
	buf[2] = (uint8_t)(L >> 8);
	buf[3] = (uint8_t)L;
	rc = write_all(c, buf, BATON_FRAME_HDR + L - 1, now_ms() + REPLY_WAIT_MS);
	free(buf);
	return rc == 1 ? 0 : -1;
}

/* prehello-hold, tcp-hold, partial-hold: open conns connections, hold. */
static int
mode_hold(struct run *r, int tls, int partial)
{
	static struct conn cs[MAX_CONNS];
	int n = 0, refused = 0, k, ok;
	int64_t until;

	for (k = 0; k < r->o.conns && now_ms() < r->deadline; k++) {
		until = now_ms() + REPLY_WAIT_MS;
		memset(&cs[n], 0, sizeof(cs[n]));
		if (tls) {
			ok = tls_open(r, &cs[n], until) == 0 &&
			    (!partial || send_partial(r, &cs[n]) == 0);
		} else {
			cs[n].opened_ms = now_ms();
			ok = (cs[n].fd = tcp_connect(r, until)) != -1;
		}
		if (ok) {
			n++;
		} else {
			refused++;
			conn_close(&cs[n]);
		}
	}
	printf("connect_ms=%lld\n", (long long)(now_ms() - r->t0));
	fflush(stdout);		/* a test may wait for this line */
	hold(r, cs, n);
	print_hold(r, cs, n, refused);
	return 0;
}

/* reconnect-loop: count sessions, one after another, each to Welcome. */
static int
mode_reconnect(struct run *r)
{
	struct conn c;
	long i, ok = 0, failed = 0;

	for (i = 0; i < r->o.count && now_ms() < r->deadline; i++) {
		if (tls_open(r, &c, now_ms() + REPLY_WAIT_MS) == 0 &&
		    say_hello(r, &c) == 0)
			ok++;
		else
			failed++;
		conn_close(&c);
	}
	printf("count=%ld\nok=%ld\nfailed=%ld\nelapsed_ms=%lld\n", i, ok, failed,
	    (long long)(now_ms() - r->t0));
	print_error(r);
	return 0;
}

/* The bytes of path, read whole into memory (free()); NULL if none. */
static uint8_t *
read_file(const char *path, size_t *len)
{
	uint8_t *buf = NULL;
	FILE *fp;
	long n;

	if (path == NULL || (fp = fopen(path, "rb")) == NULL)
		return NULL;
	if (fseek(fp, 0, SEEK_END) == 0 && (n = ftell(fp)) > 0 &&
	    (unsigned long)n <= 2ul * READ_MAX_FRAME && fseek(fp, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) != NULL) {
		if (fread(buf, 1, (size_t)n, fp) == (size_t)n)
			*len = (size_t)n;
		else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(fp);
	return buf;
}

/*
 * frame-file: after Welcome, the file's bytes in one go; then reads until
 * the broker closes (or the deadline). Times are from the last byte
 * written, which is when the broker has all it needs to answer.
 */
static int
mode_frame_file(struct run *r)
{
	struct conn c;
	uint8_t *buf;
	size_t len;
	int64_t t_first, t_last = -1, t_error = -1;
	Frame *in;
	int written;

	if ((buf = read_file(r->o.file, &len)) == NULL) {
		fprintf(stderr, "hostile: frame-file needs a readable --file\n");
		return 2;
	}
	open_session(r, &c);
	t_first = now_ms();
	written = write_all(&c, buf, len, r->deadline) == 1;
	if (written)
		t_last = now_ms();
	/* at once, so a test can act while the broker has the bytes */
	printf("bytes=%zu\nwritten=%d\nwrite_ms=%lld\n", len, written,
	    (long long)((written ? t_last : now_ms()) - t_first));
	fflush(stdout);
	while (!c.closed && read_frame(r, &c, r->deadline, &in) == 1) {
		if (in->body_case == BATON__V1__FRAME__BODY_ERROR && t_error == -1)
			t_error = now_ms();
		frame_free(in);
	}
	printf("error_after_ms=%lld\n", t_error != -1 && written ?
	    (long long)(t_error - t_last) : -1LL);
	printf("closed_after_ms=%lld\nbroker_closed=%d\n", c.closed && written ?
	    (long long)(c.closed_ms - t_last) : -1LL, c.closed);
	print_error(r);
	free(buf);
	conn_close(&c);
	return 0;
}

/* When to stop waiting: interval_ms after the last delivery, if any. */
static int64_t
quiet_until(const struct run *r, int64_t last)
{
	if (last == -1 || r->o.interval_ms == 0 ||
	    last + r->o.interval_ms > r->deadline)
		return r->deadline;
	return last + r->o.interval_ms;
}

/*
 * pull-count: count Pulls of window credit each, then reads until the
 * deadline, the close or, once deliveries have come, interval_ms without
 * another; counts deliveries and acks none.
 */
static int
mode_pull_count(struct run *r)
{
	Baton__V1__Pull p = BATON__V1__PULL__INIT;
	Frame f = BATON__V1__FRAME__INIT, *in;
	struct conn c;
	long pulls = 0, delivered = 0;
	int64_t last = -1;

	open_session(r, &c);
	p.credit = (uint32_t)r->o.window;
	f.body_case = BATON__V1__FRAME__BODY_PULL;
	f.pull = &p;
	while (pulls < r->o.count &&
	    send_frame(&c, &f, now_ms() + REPLY_WAIT_MS) == 1)
		pulls++;
	while (!c.closed && read_frame(r, &c, quiet_until(r, last), &in) == 1) {
		if (in->body_case == BATON__V1__FRAME__BODY_DELIVER) {
			delivered++;
			last = now_ms();
		}
		frame_free(in);
	}
	printf("pulls=%ld\ncredit_each=%d\ndelivered=%ld\n", pulls,
	    r->o.window, delivered);
	printf("last_delivery_ms=%lld\nbroker_closed=%d\n",
	    last != -1 ? (long long)(last - r->t0) : -1LL, c.closed);
	print_error(r);
	conn_close(&c);
	return 0;
}

#define TRICKLE_PIECES	50	/* each frame goes out in this many steps */

/* One session of submit-trickle. */
struct trickle {
	struct conn	 c;
	uint8_t		*buf;		/* its Submit frame */
	size_t		 len, off;	/* frame length; bytes written */
	size_t		 retry;		/* an SSL_write to repeat as it was, or 0 */
	int64_t		 done_ms;	/* when the last byte was written; -1 */
	int64_t		 reply_ms;	/* when its Receipt came; -1 */
	int		 code;		/* the Receipt's code; -1 none */
};

/* Writes what is due of t's frame at elapsed ms; never blocks. */
static void
trickle_write(struct run *r, struct trickle *t, int64_t elapsed)
{
	size_t due = t->len, n, w;
	int rc, e;

	if (r->o.trickle_ms > 0 && elapsed < r->o.trickle_ms)
		due = t->len * (size_t)(elapsed * TRICKLE_PIECES /
		    r->o.trickle_ms + 1) / TRICKLE_PIECES;
	while (!t->c.closed && t->off < due) {
		n = t->retry != 0 ? t->retry : due - t->off;
		if ((rc = SSL_write_ex(t->c.ssl, t->buf + t->off, n, &w)) == 1) {
			t->off += w;
			t->retry = 0;
			continue;
		}
		e = SSL_get_error(t->c.ssl, rc);
		if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ)
			t->retry = n;	/* the broker is not reading it now */
		else
			mark_closed(&t->c);
		return;
	}
	if (t->off == t->len && t->done_ms == -1)
		t->done_ms = now_ms();
}

/* Takes whatever the broker has sent t, without waiting. */
static void
trickle_read(struct run *r, struct trickle *t)
{
	Frame *in;

	while (!t->c.closed && read_frame(r, &t->c, now_ms(), &in) == 1) {
		if (in->body_case == BATON__V1__FRAME__BODY_RECEIPT &&
		    t->code == -1) {
			t->code = in->receipt->code;
			t->reply_ms = now_ms();
		}
		frame_free(in);
	}
}

/* 1 if every session has its reply or was closed. */
static int
trickle_settled(const struct trickle *ts, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (ts[i].code == -1 && !ts[i].c.closed)
			return 0;
	return 1;
}

static void
print_trickle(struct run *r, struct trickle *ts, int n, int64_t t0)
{
	int64_t dmax = -1, rmin = -1, rmax = -1, d;
	int i, ok = 0, refused = 0, written = 0, closed = 0;

	for (i = 0; i < n; i++) {
		written += ts[i].off == ts[i].len;
		closed += ts[i].c.closed;
		if (ts[i].done_ms != -1 && ts[i].done_ms - t0 > dmax)
			dmax = ts[i].done_ms - t0;
		if (ts[i].code == -1)
			continue;
		ok += ts[i].code == BATON__V1__CODE__CODE_OK;
		refused += ts[i].code != BATON__V1__CODE__CODE_OK;
		d = ts[i].reply_ms - t0;
		rmin = rmin == -1 || d < rmin ? d : rmin;
		rmax = d > rmax ? d : rmax;
	}
	printf("opened=%d\nframe_bytes=%zu\nwritten=%d\nwritten_max_ms=%lld\n",
	    n, n > 0 ? ts[0].len : 0, written, (long long)dmax);
	printf("ok=%d\nrefused=%d\nno_reply=%d\nclosed=%d\n", ok, refused,
	    n - ok - refused, closed);
	printf("reply_min_ms=%lld\nreply_max_ms=%lld\n", (long long)rmin,
	    (long long)rmax);
	print_error(r);
}

/*
 * submit-trickle: conns sessions, each through Hello, then each writes one
 * large Submit in TRICKLE_PIECES steps over trickle_ms, all in step; a
 * session the broker stops reading keeps its place and goes on when it is
 * read again. Times are from the first byte.
 */
static int
mode_submit_trickle(struct run *r)
{
	static struct trickle ts[MAX_CONNS];
	struct pollfd pf[MAX_CONNS];
	Baton__V1__Handover *h;
	int64_t t0;
	int i, n = r->o.conns;

	if (r->o.to == NULL || (h = load_handover(r->o.json)) == NULL) {
		fprintf(stderr, "hostile: submit-trickle needs --to and a valid --json\n");
		return 2;
	}
	for (i = 0; i < n; i++) {
		open_session(r, &ts[i].c);
		if (encode_submit(r, i, &ts[i].buf, &ts[i].len, h) != 0) {
			fprintf(stderr, "hostile: cannot encode the Submit\n");
			return 1;
		}
		ts[i].done_ms = ts[i].reply_ms = -1;
		ts[i].code = -1;
	}
	t0 = now_ms();
	while (now_ms() < r->deadline && !trickle_settled(ts, n)) {
		for (i = 0; i < n; i++) {
			trickle_write(r, &ts[i], now_ms() - t0);
			trickle_read(r, &ts[i]);
			pf[i].fd = ts[i].c.closed ? -1 : ts[i].c.fd;
			pf[i].events = POLLIN | (ts[i].retry != 0 ? POLLOUT : 0);
			pf[i].revents = 0;
		}
		/* the next piece is due within trickle_ms / TRICKLE_PIECES */
		(void)poll(pf, (nfds_t)n, 10);
	}
	print_trickle(r, ts, n, t0);
	for (i = 0; i < n; i++) {
		free(ts[i].buf);
		conn_close(&ts[i].c);
	}
	protobuf_c_message_free_unpacked(&h->base, NULL);
	return 0;
}

int
main(int argc, char **argv)
{
	static struct run r;
	int tcp;

	parse_opts(&r.o, argc, argv);
	signal(SIGPIPE, SIG_IGN);
	alarm((unsigned)r.o.seconds + 30);
	r.t0 = now_ms();
	r.deadline = r.t0 + (int64_t)r.o.seconds * 1000;
	tcp = strcmp(r.o.mode, "tcp-hold") == 0;
	if (resolve(&r) == -1 || (!tcp && tls_ctx(&r) == -1)) {
		fprintf(stderr, "hostile: cannot resolve %s or load the CA, "
		    "certificate and key\n", r.o.broker);
		ERR_print_errors_fp(stderr);
		return 1;
	}
	printf("mode=%s\n", r.o.mode);
	if (strcmp(r.o.mode, "ping-flood") == 0)
		return mode_ping_flood(&r);
	if (strcmp(r.o.mode, "ping-rtt") == 0)
		return mode_ping_rtt(&r);
	if (strcmp(r.o.mode, "submit-burst") == 0 ||
	    strcmp(r.o.mode, "status-flood") == 0)
		return mode_pipeline(&r, strcmp(r.o.mode, "submit-burst") == 0);
	if (strcmp(r.o.mode, "prehello-hold") == 0)
		return mode_hold(&r, 1, 0);
	if (tcp)
		return mode_hold(&r, 0, 0);
	if (strcmp(r.o.mode, "partial-hold") == 0)
		return mode_hold(&r, 1, 1);
	if (strcmp(r.o.mode, "reconnect-loop") == 0)
		return mode_reconnect(&r);
	if (strcmp(r.o.mode, "frame-file") == 0)
		return mode_frame_file(&r);
	if (strcmp(r.o.mode, "submit-trickle") == 0)
		return mode_submit_trickle(&r);
	if (strcmp(r.o.mode, "pull-count") == 0)
		return mode_pull_count(&r);
	usage();
	return 2;
}
