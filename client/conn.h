/*
 * conn.h - libbaton's transport: one blocking-with-deadline TLS 1.3
 * connection carrying length-prefixed frames. Private to libbaton.
 *
 * Deadlines are absolute CLOCK_MONOTONIC milliseconds (conn_now()). A read
 * that times out keeps the partial frame, so the next read resumes it.
 */
#ifndef BATON_CONN_H
#define BATON_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "baton.h"
#include "frame.h"

/* What the socket BIO knows; OpenSSL asks it for EOF. */
struct conn_sock {
	int	fd;
	int	eof;		/* recv() returned 0 */
};

struct conn {
	struct conn_sock sock;
	SSL_CTX		*ctx;
	SSL		*ssl;
	BIO_METHOD	*biom;		/* our send(MSG_NOSIGNAL) socket BIO */
	uint32_t	 max_frame;	/* bound on frames read and written */
	uint8_t		 hdr[BATON_FRAME_HDR];
	size_t		 hdr_len;	/* header bytes read so far */
	uint8_t		*body;		/* allocated once header is checked */
	uint32_t	 body_len;	/* declared length */
	uint32_t	 body_got;
	int		 fatal;		/* SSL saw a fatal error: no shutdown */
	char		 peer[300];	/* "host:port" for error texts */
	char		 ca_file[256];	/* for "not signed by" texts */
};

/* Monotonic milliseconds. */
int64_t	conn_now(void);

/*
 * Fills err (may be NULL) and returns status. broker_code 0 when the
 * broker gave none.
 */
int	conn_err(baton_error *err, int status, int broker_code,
	    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/*
 * Builds the TLS client context from cfg: TLS 1.3 only, peer verification
 * against ca_file, our certificate and key. BATON_OK or BATON_E_CONFIG /
 * BATON_E_NOMEM.
 */
int	conn_tls_ctx(const baton_config *cfg, SSL_CTX **out, baton_error *err);

/*
 * Splits "host:port" / "[v6]:port" into host and port.
 * BATON_OK or BATON_E_INVALID_ARG.
 */
int	conn_split_hostport(const char *s, char *host, size_t hostlen,
	    char *port, size_t portlen, baton_error *err);

/* Makes c closed and empty; conn_close() on it is a no-op. */
void	conn_init(struct conn *c);

/*
 * TCP connect then TLS handshake, checking the broker certificate names
 * `name` (a DNS name or an IP address literal). Takes ownership of ctx.
 * BATON_OK, BATON_E_CONNECT, BATON_E_TLS, BATON_E_TIMEOUT, BATON_E_NOMEM.
 */
int	conn_open(struct conn *c, SSL_CTX *ctx, const char *host,
	    const char *port, const char *name, int64_t deadline,
	    baton_error *err);

/*
 * Encodes and writes one frame. BATON_OK, BATON_E_TOO_LARGE (nothing was
 * written), BATON_E_NOMEM, or a fatal BATON_E_TIMEOUT / BATON_E_CLOSED /
 * BATON_E_TLS.
 */
int	conn_write_frame(struct conn *c, const Frame *f, int64_t deadline,
	    baton_error *err);

/*
 * Reads one frame. BATON_OK with *out (frame_free()), BATON_E_TIMEOUT
 * (stream intact, partial frame kept), or a fatal BATON_E_CLOSED /
 * BATON_E_PROTOCOL / BATON_E_TLS / BATON_E_NOMEM.
 */
int	conn_read_frame(struct conn *c, int64_t deadline, Frame **out,
	    baton_error *err);

/* Best-effort close_notify, then frees everything. Safe to repeat. */
void	conn_close(struct conn *c);

#endif
