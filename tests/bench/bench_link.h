/*
 * bench_link.h - one pipelined mutual-TLS connection to the broker that
 * speaks Baton frames itself (proto/frame.h), for the benchmark's raw
 * driver: frames are queued, written as the socket takes them and read as
 * they come, so a sender keeps a whole window of Submits in flight and a
 * receiver acks without waiting. It owns the socket, the TLS session and
 * the two buffers; it knows nothing of what the frames mean.
 */
#ifndef BENCH_LINK_H
#define BENCH_LINK_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

#include "frame.h"

struct link {
	int		 fd;
	SSL		*ssl;
	uint8_t		*in, *out;	/* read, not yet whole frames; queued */
	size_t		 in_len, in_cap, out_off, out_len, out_cap;
	uint32_t	 max_frame;	/* from the Welcome */
	uint32_t	 max_unacked;	/* from the Welcome */
};

/* Called for each frame read; return 0 to go on, -1 to stop reading. */
typedef int (*link_frame_cb)(void *arg, const Frame *f);

/* A client TLS 1.3 context with our certificate; NULL (and text) if not. */
SSL_CTX	*link_ctx(const char *ca, const char *cert, const char *key,
	    char *err, size_t errlen);

/*
 * Connects to host:port, handshakes (the broker must be named server_name)
 * and exchanges Hello/Welcome within timeout_ms. 0, or -1 with err set.
 */
int	link_open(struct link *l, SSL_CTX *ctx, const char *host,
	    const char *port, const char *server_name, int timeout_ms,
	    char *err, size_t errlen);

void	link_close(struct link *l);

/* Appends a frame to the output. 0, or -1 (too large, out of memory). */
int	link_queue(struct link *l, const Frame *f);

/* Writes what the socket takes now: 0 (maybe some left), -1 closed. */
int	link_flush(struct link *l);

/* Output still queued. */
int	link_pending(const struct link *l);

/*
 * Reads what has arrived and calls cb for each whole frame (Pings are
 * answered here). 0, or -1 if the connection ended or a frame was bad.
 */
int	link_read(struct link *l, link_frame_cb cb, void *arg);

/* Waits for input (and for room to write, if output is queued). */
void	link_wait(struct link *l, int timeout_ms);

#endif
