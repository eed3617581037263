/*
 * exchange.h - what baton.c lends the version 3 calls in baton_gov.c:
 * one request and its answers on the blocking path, without the rest of
 * the client's insides. Internal: none of these is exported from
 * libbaton.so (libbaton.map keeps only baton_*).
 */
#ifndef BATON_EXCHANGE_H
#define BATON_EXCHANGE_H

#include "baton.h"
#include "frame.h"

/* The protocol version the broker's Welcome answered with. */
unsigned client_protocol(const baton_client *c);

/* The connection's per-request timeout. */
int	client_timeout_ms(const baton_client *c);

/*
 * BATON_OK if a blocking exchange may start: the connection is live and
 * no pipelined request is outstanding (BATON_E_INVALID_ARG otherwise).
 */
int	client_check_idle(baton_client *c, baton_error *err);

/*
 * Sends f and waits for its first answer, a frame of type want or alt
 * (alt 0: want only), within the timeout. BATON_OK with *out (free with
 * frame_free), or a connection error (the connection is then dead).
 */
int	client_request(baton_client *c, const Frame *f,
	    Baton__V1__Frame__BodyCase want, Baton__V1__Frame__BodyCase alt,
	    const char *what, Frame **out, baton_error *err);

/* The next answer of a stream, as client_request without sending. */
int	client_await(baton_client *c, Baton__V1__Frame__BodyCase want,
	    Baton__V1__Frame__BodyCase alt, const char *what, Frame **out,
	    baton_error *err);

/* Closes the connection after err (already set) and returns rc. */
int	client_fail(baton_client *c, int rc, baton_error *err);

void	client_clear_err(baton_error *err);

#endif
