/*
 * conn.c - libbaton's transport: TCP connect, TLS 1.3 handshake with
 * broker verification, and frame I/O with deadlines (see conn.h).
 *
 * This is the only client file that touches sockets and OpenSSL. The
 * socket is non-blocking. The handshake retries after poll() until the
 * caller's deadline; after it, frame I/O never blocks (conn_flush,
 * conn_try_read_frame) and the protocol layer decides when to sleep in
 * conn_wait(). SSL_read is always tried until it wants more before anyone
 * polls, so bytes OpenSSL already buffered are never stranded behind a
 * poll that would not fire. The SSL runs with partial writes and a moving
 * write buffer, so the output queue may grow (and be compacted) between
 * the retries of one SSL_write: the bytes not yet written never change.
 *
 * Invariants: a frame length is checked against max_frame before its body
 * is allocated; nothing here writes to stdout/stderr or raises SIGPIPE
 * (our socket BIO sends with MSG_NOSIGNAL); the OpenSSL error queue is
 * cleared before each SSL call so SSL_get_error() is about that call.
 */
#include <sys/types.h>
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "clockms.h"
#include "conn.h"

int64_t
conn_now(void)
{
	return clockms_mono();
}

int
conn_err(baton_error *err, int status, int broker_code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return status;
	err->status = status;
	err->broker_code = broker_code;
	err->broker_text[0] = '\0';
	if (broker_code != 0)
		snprintf(err->code_name, sizeof(err->code_name), "%s",
		    frame_code_name(broker_code));
	else
		err->code_name[0] = '\0';
	va_start(ap, fmt);
	vsnprintf(err->text, sizeof(err->text), fmt, ap);
	va_end(ap);
	return status;
}

/* Text of the most relevant queued OpenSSL error; empties the queue. */
static const char *
ssl_errtext(char *buf, size_t len)
{
	unsigned long e;
	const char *r;

	e = ERR_peek_last_error();
	ERR_clear_error();
	if (e == 0)
		return "unknown error";
	if ((r = ERR_reason_error_string(e)) != NULL)
		return r;
	ERR_error_string_n(e, buf, len);
	return buf;
}

/*
 * A key file is read by us, never prompted for: an encrypted key fails
 * instead of blocking a partner system's service on a terminal.
 */
static int
no_passphrase(char *buf, int size, int rwflag, void *u)
{
	return 0;
}

static int
check_readable(const char *path, const char *what, baton_error *err)
{
	int fd;

	if (path == NULL || *path == '\0')
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "no %s given", what);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return conn_err(err, BATON_E_CONFIG, 0, "cannot read %s %s: %s",
		    what, path, strerror(errno));
	close(fd);
	return BATON_OK;
}

int
conn_tls_ctx(const baton_config *cfg, SSL_CTX **out, baton_error *err)
{
	SSL_CTX *ctx = NULL;
	char eb[256];
	int rc;

	if ((rc = check_readable(cfg->ca_file, "CA file", err)) != BATON_OK ||
	    (rc = check_readable(cfg->cert_file, "certificate file", err)) !=
	    BATON_OK ||
	    (rc = check_readable(cfg->key_file, "key file", err)) != BATON_OK)
		return rc;

	ERR_clear_error();
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		rc = conn_err(err, BATON_E_NOMEM, 0,
		    "cannot create TLS context: %s",
		    ssl_errtext(eb, sizeof(eb)));
		goto fail;
	}
	if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
	    SSL_CTX_set1_groups_list(ctx, "X25519:P-256") != 1) {
		rc = conn_err(err, BATON_E_CONFIG, 0,
		    "cannot configure TLS 1.3: %s",
		    ssl_errtext(eb, sizeof(eb)));
		goto fail;
	}
	/*
	 * A peer that vanishes without close_notify is an ordinary
	 * disconnect: frames are length-prefixed, so truncation is caught
	 * at the frame level.
	 */
	SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION |
	    SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_TICKET |
	    SSL_OP_IGNORE_UNEXPECTED_EOF);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_default_passwd_cb(ctx, no_passphrase);

	if (SSL_CTX_load_verify_locations(ctx, cfg->ca_file, NULL) != 1) {
		rc = conn_err(err, BATON_E_CONFIG, 0,
		    "cannot load CA certificates from %s: %s", cfg->ca_file,
		    ssl_errtext(eb, sizeof(eb)));
		goto fail;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		rc = conn_err(err, BATON_E_CONFIG, 0,
		    "cannot load client certificate %s: %s", cfg->cert_file,
		    ssl_errtext(eb, sizeof(eb)));
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file,
	    SSL_FILETYPE_PEM) != 1) {
		if (ERR_GET_REASON(ERR_peek_last_error()) ==
		    X509_R_KEY_VALUES_MISMATCH) {
			ERR_clear_error();
			rc = conn_err(err, BATON_E_CONFIG, 0,
			    "private key %s does not match certificate %s",
			    cfg->key_file, cfg->cert_file);
			goto fail;
		}
		rc = conn_err(err, BATON_E_CONFIG, 0,
		    "cannot load private key %s (PEM, unencrypted): %s",
		    cfg->key_file, ssl_errtext(eb, sizeof(eb)));
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		ERR_clear_error();
		rc = conn_err(err, BATON_E_CONFIG, 0,
		    "private key %s does not match certificate %s",
		    cfg->key_file, cfg->cert_file);
		goto fail;
	}
	*out = ctx;
	return BATON_OK;
fail:
	SSL_CTX_free(ctx);
	return rc;
}

int
conn_split_hostport(const char *s, char *host, size_t hostlen, char *port,
    size_t portlen, baton_error *err)
{
	const char *h, *p, *end;
	size_t hl;
	char *ep;
	long n;

	if (s == NULL || *s == '\0')
		return conn_err(err, BATON_E_INVALID_ARG, 0,
		    "no broker address given (HOST:PORT)");
	if (*s == '[') {
		h = s + 1;
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			goto bad;
		hl = (size_t)(end - h);
		p = end + 2;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			goto bad;
		if (memchr(s, ':', (size_t)(end - s)) != NULL)
			return conn_err(err, BATON_E_INVALID_ARG, 0,
			    "broker address %s: write an IPv6 address in "
			    "brackets, [ADDR]:PORT", s);
		h = s;
		hl = (size_t)(end - s);
		p = end + 1;
	}
	if (hl == 0 || hl >= hostlen || *p == '\0')
		goto bad;
	errno = 0;
	n = strtol(p, &ep, 10);
	if (*ep != '\0' || errno != 0 || n < 1 || n > 65535 || *p == '+' ||
	    *p == '-')
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	snprintf(port, portlen, "%ld", n);
	return BATON_OK;
bad:
	return conn_err(err, BATON_E_INVALID_ARG, 0,
	    "broker address %s is not HOST:PORT or [IPV6]:PORT", s);
}

/* Returns 1 when fd is ready, 0 at the deadline, -1 on poll error. */
static int
wait_fd(int fd, short events, int64_t deadline)
{
	struct pollfd pfd;
	int64_t left;
	int n;

	for (;;) {
		left = deadline - conn_now();
		if (left < 0)
			left = 0;
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		n = poll(&pfd, 1, left > INT_MAX ? INT_MAX : (int)left);
		if (n > 0)
			return 1;	/* the I/O call reports errors */
		if (n == 0) {
			if (left == 0)
				return 0;
			continue;	/* woke a little early */
		}
		if (errno != EINTR)
			return -1;
	}
}

static int
sock_write(BIO *b, const char *buf, int len)
{
	struct conn_sock *s = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = send(s->fd, buf, (size_t)len, MSG_NOSIGNAL);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_write(b);
		return -1;
	}
	return (int)n;
}

static int
sock_read(BIO *b, char *buf, int len)
{
	struct conn_sock *s = BIO_get_data(b);
	ssize_t n;

	BIO_clear_retry_flags(b);
	n = recv(s->fd, buf, (size_t)len, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			BIO_set_retry_read(b);
		return -1;
	}
	if (n == 0)
		s->eof = 1;
	return (int)n;
}

static long
sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct conn_sock *s = BIO_get_data(b);

	switch (cmd) {
	case BIO_CTRL_FLUSH:
		return 1;
	case BIO_CTRL_EOF:
		return s != NULL && s->eof;
	default:
		return 0;
	}
}

static int
sock_puts(BIO *b, const char *str)
{
	return sock_write(b, str, (int)strlen(str));
}

/* Why the broker certificate was refused; *with_ca: append the CA file. */
static const char *
verify_hint(long vr, int *with_ca)
{
	*with_ca = 0;
	switch (vr) {
	case X509_V_ERR_HOSTNAME_MISMATCH:
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "the broker certificate does not carry the name we "
		    "connected to; connect by a name it carries, or give the "
		    "expected name with --server-name";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		*with_ca = 1;
		return "the broker certificate is not signed by the CA in";
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "the broker certificate has expired (or our clock is "
		    "wrong)";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "the broker certificate is not valid yet (check the "
		    "clocks)";
	case X509_V_ERR_CERT_REVOKED:
		return "the broker certificate has been revoked";
	case X509_V_ERR_INVALID_PURPOSE:
		return "the broker certificate is not a TLS server certificate";
	default:
		return "the broker certificate was not accepted";
	}
}

static const char *
alert_hint(int alert)
{
	switch (alert) {
	case 116:	/* certificate_required */
	case 41:	/* no_certificate */
		return "the broker requires a client certificate";
	case 42:	/* bad_certificate */
	case 43:	/* unsupported_certificate */
	case 46:	/* certificate_unknown */
	case 48:	/* unknown_ca */
		return "the broker does not accept our client certificate: "
		    "check it was issued by the deployment CA and names this "
		    "node (urn:baton:node:...)";
	case 44:	/* certificate_revoked */
		return "our client certificate has been revoked";
	case 45:	/* certificate_expired */
		return "our client certificate has expired (or a clock is "
		    "wrong)";
	case 49:	/* access_denied */
		return "the broker denied access to our certificate";
	case 70:	/* protocol_version */
	case 71:	/* insufficient_security */
	case 40:	/* handshake_failure */
		return "no common TLS version or cipher: the broker and this "
		    "client must agree on TLS 1.3";
	default:
		return "the broker ended the TLS session";
	}
}

/*
 * Turns a failed SSL call into a status and text. All are fatal for the
 * connection.
 */
static int
ssl_failure(struct conn *c, int e, const char *what, baton_error *err)
{
	unsigned long l;
	const char *hint;
	long vr;
	int reason, with_ca, sv = errno;
	char eb[256];

	c->fatal = 1;
	switch (e) {
	case SSL_ERROR_ZERO_RETURN:
		ERR_clear_error();
		return conn_err(err, BATON_E_CLOSED, 0,
		    "broker %s closed the connection (%s)", c->peer, what);
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (sv == 0 || c->sock.eof)
			return conn_err(err, BATON_E_CLOSED, 0,
			    "broker %s closed the connection (%s)", c->peer,
			    what);
		return conn_err(err, BATON_E_CLOSED, 0,
		    "connection to broker %s lost (%s): %s", c->peer, what,
		    strerror(sv));
	case SSL_ERROR_SSL:
		l = ERR_peek_last_error();
		reason = ERR_GET_REASON(l);
		vr = SSL_get_verify_result(c->ssl);
		if (ERR_GET_LIB(l) == ERR_LIB_SSL &&
		    reason == SSL_R_CERTIFICATE_VERIFY_FAILED &&
		    vr != X509_V_OK) {
			hint = verify_hint(vr, &with_ca);
			ERR_clear_error();
			return conn_err(err, BATON_E_TLS, 0,
			    "broker %s: %s failed: certificate verify failed: "
			    "%s (%s%s%s)", c->peer, what,
			    X509_verify_cert_error_string(vr), hint,
			    with_ca ? " " : "", with_ca ? c->ca_file : "");
		}
		if (ERR_GET_LIB(l) == ERR_LIB_SSL &&
		    reason > SSL_AD_REASON_OFFSET &&
		    reason < SSL_AD_REASON_OFFSET + 256) {
			const char *t = ssl_errtext(eb, sizeof(eb));

			return conn_err(err, BATON_E_TLS, 0,
			    "broker %s: %s failed: broker sent TLS alert "
			    "\"%s\" (%s)", c->peer, what, t,
			    alert_hint(reason - SSL_AD_REASON_OFFSET));
		}
		return conn_err(err, BATON_E_TLS, 0, "broker %s: %s failed: %s",
		    c->peer, what, ssl_errtext(eb, sizeof(eb)));
	default:
		ERR_clear_error();
		return conn_err(err, BATON_E_TLS, 0,
		    "broker %s: %s failed: SSL error %d", c->peer, what, e);
	}
}

/*
 * After SSL_ERROR_WANT_READ/WRITE, waits for the socket. Returns BATON_OK
 * to retry, BATON_E_TIMEOUT, or another error (fatal).
 */
static int
ssl_wait(struct conn *c, int e, const char *what, int64_t deadline,
    baton_error *err)
{
	int r;

	if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
		return ssl_failure(c, e, what, err);
	r = wait_fd(c->sock.fd, e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT,
	    deadline);
	if (r == 1)
		return BATON_OK;
	if (r == 0)
		return conn_err(err, BATON_E_TIMEOUT, 0,
		    "broker %s: %s timed out", c->peer, what);
	c->fatal = 1;
	return conn_err(err, BATON_E_CLOSED, 0, "broker %s: %s: poll: %s",
	    c->peer, what, strerror(errno));
}

static int
tcp_connect(struct conn *c, const char *host, const char *port,
    int64_t deadline, baton_error *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	socklen_t sl;
	int fd = -1, gai, r, soerr, lasterr = 0, one = 1;

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((gai = getaddrinfo(host, port, &hints, &res)) != 0)
		return conn_err(err, BATON_E_CONNECT, 0,
		    "cannot resolve broker host %s: %s", host,
		    gai == EAI_SYSTEM ? strerror(errno) : gai_strerror(gai));

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1) {
			lasterr = errno;
			continue;
		}
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		if (errno != EINPROGRESS) {
			lasterr = errno;
			goto next;
		}
		r = wait_fd(fd, POLLOUT, deadline);
		if (r == 0) {
			close(fd);
			freeaddrinfo(res);
			return conn_err(err, BATON_E_TIMEOUT, 0,
			    "cannot connect to broker %s: timed out", c->peer);
		}
		if (r == -1) {
			lasterr = errno;
			goto next;
		}
		sl = sizeof(soerr);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) == -1)
			soerr = errno;
		if (soerr == 0)
			break;
		lasterr = soerr;
next:
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd == -1)
		return conn_err(err, BATON_E_CONNECT, 0,
		    "cannot connect to broker %s: %s", c->peer,
		    lasterr ? strerror(lasterr) : "no usable address");
	/* frames are request/answer sized; do not wait to coalesce */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->sock.fd = fd;
	return BATON_OK;
}

static int
is_ip_literal(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	    inet_pton(AF_INET6, s, buf) == 1;
}

void
conn_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->sock.fd = -1;
	c->max_frame = BATON_MAX_FRAME_DEFAULT;
}

int
conn_open(struct conn *c, SSL_CTX *ctx, const char *host, const char *port,
    const char *name, int64_t deadline, baton_error *err)
{
	BIO *bio;
	char eb[256];
	int rc, r, e;

	c->ctx = ctx;

	ERR_clear_error();
	c->biom = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK,
	    "baton socket");
	if (c->biom == NULL ||
	    BIO_meth_set_write(c->biom, sock_write) != 1 ||
	    BIO_meth_set_read(c->biom, sock_read) != 1 ||
	    BIO_meth_set_puts(c->biom, sock_puts) != 1 ||
	    BIO_meth_set_ctrl(c->biom, sock_ctrl) != 1) {
		ERR_clear_error();
		return conn_err(err, BATON_E_NOMEM, 0,
		    "cannot create socket BIO");
	}

	if ((rc = tcp_connect(c, host, port, deadline, err)) != BATON_OK)
		return rc;

	if ((c->ssl = SSL_new(ctx)) == NULL ||
	    (bio = BIO_new(c->biom)) == NULL) {
		c->fatal = 1;
		return conn_err(err, BATON_E_NOMEM, 0,
		    "cannot create TLS session: %s",
		    ssl_errtext(eb, sizeof(eb)));
	}
	BIO_set_data(bio, &c->sock);
	BIO_set_init(bio, 1);
	SSL_set_bio(c->ssl, bio, bio);
	SSL_set_mode(c->ssl, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);

	/*
	 * The broker must prove it is `name`: a DNS SAN for a host name, an
	 * IP SAN for an IP literal. Never the subject CN: OpenSSL falls back
	 * to it when there is no DNS SAN, and a CA-signed certificate with
	 * CN=localhost would then pass for the broker.
	 */
	SSL_set_hostflags(c->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
	    X509_CHECK_FLAG_NEVER_CHECK_SUBJECT);
	if (is_ip_literal(name)) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl),
		    name) != 1)
			goto nameerr;
	} else {
		if (SSL_set1_host(c->ssl, name) != 1 ||
		    SSL_set_tlsext_host_name(c->ssl, name) != 1)
			goto nameerr;
	}

	for (;;) {
		ERR_clear_error();
		if ((r = SSL_connect(c->ssl)) == 1)
			break;
		e = SSL_get_error(c->ssl, r);
		if ((rc = ssl_wait(c, e, "TLS handshake", deadline, err)) !=
		    BATON_OK) {
			c->fatal = 1;
			return rc;
		}
	}
	return BATON_OK;
nameerr:
	c->fatal = 1;
	return conn_err(err, BATON_E_INVALID_ARG, 0,
	    "cannot use %s as the broker's certificate name: %s", name,
	    ssl_errtext(eb, sizeof(eb)));
}

static int
check_open(struct conn *c, baton_error *err)
{
	if (c->ssl == NULL || c->fatal)
		return conn_err(err, BATON_E_CLOSED, 0,
		    "connection to broker %s is closed", c->peer);
	return BATON_OK;
}

int
conn_queue_bytes(struct conn *c, const uint8_t *buf, size_t len,
    baton_error *err)
{
	size_t cap;
	uint8_t *nb;
	int rc;

	if ((rc = check_open(c, err)) != BATON_OK)
		return rc;
	/* drop what is written; the unwritten bytes keep their content */
	if (c->out_off > 0 && (c->out_off == c->out_len ||
	    c->out_len - c->out_off + len > c->out_cap)) {
		memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
		c->out_len -= c->out_off;
		c->out_off = 0;
	}
	if (len > SIZE_MAX / 2 - c->out_len)
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	if (c->out_len + len > c->out_cap) {
		cap = c->out_cap > 0 ? c->out_cap : 16384;
		while (cap < c->out_len + len)
			cap *= 2;
		if ((nb = realloc(c->out, cap)) == NULL)
			return conn_err(err, BATON_E_NOMEM, 0,
			    "out of memory queueing a %zu-byte frame", len);
		c->out = nb;
		c->out_cap = cap;
	}
	memcpy(c->out + c->out_len, buf, len);
	c->out_len += len;
	c->out_queued += len;
	return BATON_OK;
}

int
conn_queue_frame(struct conn *c, const Frame *f, baton_error *err)
{
	uint8_t *buf = NULL;
	size_t len;
	int rc;

	if ((rc = check_open(c, err)) != BATON_OK)
		return rc;
	switch (frame_encode(f, c->max_frame, &buf, &len)) {
	case FRAME_OK:
		break;
	case FRAME_NOMEM:
		return conn_err(err, BATON_E_NOMEM, 0, "out of memory");
	default:
		return conn_err(err, BATON_E_TOO_LARGE, 0,
		    "%s frame of %zu bytes exceeds the broker's limit of %u "
		    "bytes", frame_name(f),
		    baton__v1__frame__get_packed_size(f), c->max_frame);
	}
	rc = conn_queue_bytes(c, buf, len, err);
	free(buf);
	return rc;
}

int
conn_flush(struct conn *c, baton_error *err)
{
	size_t n;
	int r, e;

	if (c->out_off == c->out_len)
		return BATON_OK;
	if ((r = check_open(c, err)) != BATON_OK)
		return r;
	c->write_wants_read = 0;
	while (c->out_off < c->out_len) {
		ERR_clear_error();
		r = SSL_write_ex(c->ssl, c->out + c->out_off,
		    c->out_len - c->out_off, &n);
		if (r == 1) {
			c->out_off += n;
			c->out_written += n;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_WRITE)
			return BATON_E_AGAIN;
		if (e == SSL_ERROR_WANT_READ) {
			c->write_wants_read = 1;
			return BATON_E_AGAIN;
		}
		/* half a frame on the wire: the stream is unusable */
		return ssl_failure(c, e, "sending", err);
	}
	c->out_off = c->out_len = 0;
	return BATON_OK;
}

static void
reset_read(struct conn *c)
{
	free(c->body);
	c->body = NULL;
	c->hdr_len = 0;
	c->body_len = 0;
	c->body_got = 0;
}

/*
 * The frame's header is complete: checks it and allocates the body.
 * BATON_OK or a fatal error.
 */
static int
start_body(struct conn *c, baton_error *err)
{
	uint32_t len;
	int st;

	st = frame_parse_header(c->hdr, c->hdr_len, c->max_frame, &len);
	if (st != FRAME_OK) {
		c->fatal = 1;
		return conn_err(err, BATON_E_PROTOCOL, 0, "broker %s sent a "
		    "bad frame header: %s (limit %u bytes)", c->peer,
		    frame_status_text(st), c->max_frame);
	}
	if ((c->body = malloc(len)) == NULL) {
		c->fatal = 1;
		return conn_err(err, BATON_E_NOMEM, 0,
		    "out of memory for a %u-byte frame", len);
	}
	c->body_len = len;
	c->body_got = 0;
	return BATON_OK;
}

int
conn_try_read_frame(struct conn *c, Frame **out, baton_error *err)
{
	uint8_t *p;
	size_t want, n;
	Frame *f;
	int r, e, rc, st;

	if ((rc = check_open(c, err)) != BATON_OK)
		return rc;
	c->read_wants_write = 0;
	for (;;) {
		if (c->hdr_len < BATON_FRAME_HDR) {
			p = c->hdr + c->hdr_len;
			want = BATON_FRAME_HDR - c->hdr_len;
		} else {
			if (c->body == NULL &&
			    (rc = start_body(c, err)) != BATON_OK)
				return rc;
			if (c->body_got == c->body_len) {
				f = frame_decode(c->body, c->body_len, &st);
				reset_read(c);
				if (f == NULL) {
					c->fatal = 1;
					return conn_err(err, BATON_E_PROTOCOL,
					    0, "broker %s sent a bad frame: "
					    "%s", c->peer,
					    frame_status_text(st));
				}
				*out = f;
				return BATON_OK;
			}
			p = c->body + c->body_got;
			want = c->body_len - c->body_got;
		}
		ERR_clear_error();
		r = SSL_read_ex(c->ssl, p, want, &n);
		if (r == 1) {
			if (c->hdr_len < BATON_FRAME_HDR)
				c->hdr_len += n;
			else
				c->body_got += (uint32_t)n;
			continue;
		}
		e = SSL_get_error(c->ssl, r);
		if (e == SSL_ERROR_WANT_READ)
			return BATON_E_AGAIN;
		if (e == SSL_ERROR_WANT_WRITE) {
			c->read_wants_write = 1;
			return BATON_E_AGAIN;
		}
		if (e == SSL_ERROR_ZERO_RETURN && c->hdr_len > 0) {
			c->fatal = 1;
			return conn_err(err, BATON_E_CLOSED, 0,
			    "broker %s closed the connection in the middle "
			    "of a frame", c->peer);
		}
		return ssl_failure(c, e, "receiving", err);
	}
}

int
conn_has_output(const struct conn *c)
{
	return c->out_off < c->out_len;
}

int
conn_want_write(const struct conn *c)
{
	if (c->ssl == NULL || c->fatal)
		return 0;
	return c->read_wants_write ||
	    (conn_has_output(c) && !c->write_wants_read);
}

int
conn_wait(struct conn *c, int64_t deadline, baton_error *err)
{
	int r, rc;

	if ((rc = check_open(c, err)) != BATON_OK)
		return rc;
	r = wait_fd(c->sock.fd, POLLIN | (conn_want_write(c) ? POLLOUT : 0),
	    deadline);
	if (r == 1)
		return BATON_OK;
	if (r == 0)
		return BATON_E_TIMEOUT;
	c->fatal = 1;
	return conn_err(err, BATON_E_CLOSED, 0, "broker %s: poll: %s",
	    c->peer, strerror(errno));
}

void
conn_close(struct conn *c)
{
	if (c->ssl != NULL) {
		/* one close_notify, never waiting for the broker's */
		if (!c->fatal && SSL_is_init_finished(c->ssl))
			(void)SSL_shutdown(c->ssl);
		ERR_clear_error();
		SSL_free(c->ssl);	/* frees the BIO */
		c->ssl = NULL;
	}
	if (c->ctx != NULL) {
		SSL_CTX_free(c->ctx);
		c->ctx = NULL;
	}
	if (c->sock.fd != -1) {
		close(c->sock.fd);
		c->sock.fd = -1;
	}
	if (c->biom != NULL) {
		BIO_meth_free(c->biom);
		c->biom = NULL;
	}
	reset_read(c);
	free(c->out);
	c->out = NULL;
	c->out_off = c->out_len = c->out_cap = 0;
	c->fatal = 1;
}
