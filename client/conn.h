/*
 * conn.h - libbaton's transport: one non-blocking TLS 1.3 connection
 * carrying length-prefixed frames. Private to libbaton.
 *
 * Frames to send are encoded into an output queue (conn_queue_*) and
 * written by conn_flush() as far as the socket takes them; frames are read
 * by conn_try_read_frame() as far as bytes have arrived. Neither blocks:
 * both answer BATON_E_AGAIN, and conn_wait() sleeps on the socket until
 * either may progress or a deadline passes. Deadlines are absolute
 * CLOCK_MONOTONIC milliseconds (conn_now()). A partial frame read stays
 * buffered, so the next read resumes it.
 *
 * TLS: an SSL_write may need to read and an SSL_read may need to write
 * (write_wants_read, read_wants_write); conn_want_write() and conn_wait()
 * take both into account. Bytes OpenSSL has already decrypted are not
 * visible to poll(), so conn_try_read_frame() is always tried until it says
 * BATON_E_AGAIN before anyone sleeps on the socket.
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
	uint8_t		*out;		/* encoded frames not yet written */
	size_t		 out_off;	/* first byte of out not yet written */
	size_t		 out_len;	/* bytes in out */
	size_t		 out_cap;
	uint64_t	 out_queued;	/* bytes ever queued */
	uint64_t	 out_written;	/* bytes ever written */
	int		 write_wants_read; /* the last SSL_write needs input */
	int		 read_wants_write; /* the last SSL_read needs output */
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
 * Encodes f and appends it to the output queue. BATON_OK, BATON_E_TOO_LARGE
 * (nothing queued), BATON_E_NOMEM, or BATON_E_CLOSED.
 */
int	conn_queue_frame(struct conn *c, const Frame *f, baton_error *err);

/* Appends an already encoded frame (header included). As conn_queue_frame. */
int	conn_queue_bytes(struct conn *c, const uint8_t *buf, size_t len,
	    baton_error *err);

/*
 * Writes queued output as far as the socket takes it. BATON_OK (queue
 * empty), BATON_E_AGAIN (more left; see conn_want_write), or a fatal
 * BATON_E_CLOSED / BATON_E_TLS.
 */
int	conn_flush(struct conn *c, baton_error *err);

/*
 * Reads one frame if all of it has arrived. BATON_OK with *out
 * (frame_free()), BATON_E_AGAIN (partial frame kept), or a fatal
 * BATON_E_CLOSED / BATON_E_PROTOCOL / BATON_E_TLS / BATON_E_NOMEM.
 */
int	conn_try_read_frame(struct conn *c, Frame **out, baton_error *err);

/* 1 when the socket must be watched for writability too. */
int	conn_want_write(const struct conn *c);

/* 1 when output is queued and not yet written. */
int	conn_has_output(const struct conn *c);

/*
 * Waits until the socket is readable (always watched) or writable (when
 * conn_want_write), or the deadline. BATON_OK (try the I/O calls),
 * BATON_E_TIMEOUT, or a fatal BATON_E_CLOSED.
 */
int	conn_wait(struct conn *c, int64_t deadline, baton_error *err);

/* Best-effort close_notify, then frees everything. Safe to repeat. */
void	conn_close(struct conn *c);

#endif
