/*
 * baton.h - libbaton, the client library partner systems link to talk to
 * a Baton broker.
 *
 * One baton_client is one mutually authenticated TLS 1.3 connection to the
 * broker. Every call blocks, bounded by a timeout; none prints, exits or
 * raises a signal (writes use MSG_NOSIGNAL, so a vanished broker is an
 * error return, not SIGPIPE). A baton_client is not thread-safe: use one
 * per thread, or serialise calls on it.
 *
 * Every function that can fail returns BATON_OK (0) or one of the
 * BATON_E_* codes below, and fills an optional baton_error (err may be
 * NULL) with the same code, the broker's code when the broker said no, and
 * a one-line text that says what to do about it.
 *
 * Connection state. After BATON_E_TIMEOUT from a request (submit, ack,
 * decide, status) or any of BATON_E_CLOSED, BATON_E_PROTOCOL,
 * BATON_E_BROKER, BATON_E_TLS, the connection is closed and every later
 * call on it returns BATON_E_CLOSED: baton_close() it and connect again.
 * Resubmitting with the same message id is safe (the broker answers an
 * identical resubmission with the original receipt), and deliveries that
 * were not acknowledged are delivered again. BATON_E_TIMEOUT from
 * baton_next() is the exception: nothing arrived, the connection is fine.
 * BATON_E_REFUSED (the broker refused one request), BATON_E_INVALID_ARG,
 * BATON_E_JSON and BATON_E_TOO_LARGE leave the connection usable.
 */
#ifndef BATON_CLIENT_H
#define BATON_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

#ifdef __cplusplus
extern "C" {
#endif

#define BATON_CLIENT_NAME		"libbaton/0.1"
#define BATON_DEFAULT_TIMEOUT_MS	10000
#define BATON_DEFAULT_WINDOW		32
#define BATON_MAX_WINDOW		1024

/* Return codes. */
enum baton_rc {
	BATON_OK = 0,
	BATON_E_INVALID_ARG,	/* NULL, bad message or node id, ... */
	BATON_E_NOMEM,		/* out of memory */
	BATON_E_CONFIG,		/* cannot read or use CA, certificate, key */
	BATON_E_CONNECT,	/* name lookup or TCP connect failed */
	BATON_E_TLS,		/* handshake failed: broker not trusted or
				   wrongly named, or it refused our cert */
	BATON_E_TIMEOUT,	/* nothing within the timeout */
	BATON_E_CLOSED,		/* connection closed or lost */
	BATON_E_PROTOCOL,	/* broker sent something we cannot use */
	BATON_E_BROKER,		/* broker sent an Error frame and closed
				   the connection; see broker_code */
	BATON_E_REFUSED,	/* broker refused this request; see
				   broker_code */
	BATON_E_JSON,		/* JSON does not map to the dataset (text
				   has the JSON path) */
	BATON_E_TOO_LARGE,	/* frame would exceed the broker's max_frame */
};

/* Why a call failed. */
typedef struct baton_error {
	int	status;		/* the BATON_E_* code returned */
	int	broker_code;	/* baton.v1.Code from the broker, or 0 */
	char	code_name[40];	/* "ROUTE_NOT_ALLOWED", or "" */
	char	text[512];	/* one line, actionable; no dataset content */
	char	broker_text[256]; /* the broker's own text, or "" */
} baton_error;

/* Where and as whom to connect. Unset (0/NULL) fields take defaults. */
typedef struct baton_config {
	/* "host:port", "192.0.2.1:port" or "[2001:db8::1]:port" */
	const char	*broker;
	/* PEM CA certificate(s) the broker certificate must chain to */
	const char	*ca_file;
	/* PEM client certificate (chain) and its unencrypted private key */
	const char	*cert_file;
	const char	*key_file;
	/* name (DNS or IP) the broker certificate must carry; default:
	   the host part of broker */
	const char	*server_name;
	/* for the broker's logs; default BATON_CLIENT_NAME */
	const char	*client_name;
	/* connect+handshake+Welcome, and each request; default
	   BATON_DEFAULT_TIMEOUT_MS */
	int		 timeout_ms;
	/* deliveries requested ahead (credit); default
	   BATON_DEFAULT_WINDOW, at most BATON_MAX_WINDOW */
	unsigned	 window;
} baton_config;

typedef struct baton_client baton_client;

/*
 * Message ids belong to their sender (protocol 2): a node submits under its
 * own id, unique among its own handovers only, and everyone names the
 * handover by its reference, "<sender node id>/<own id>". baton_ack,
 * baton_decide and baton_status take a reference, or a plain own id for
 * one of this node's own handovers.
 */
#define BATON_REFERENCE_LEN	194	/* a reference and its NUL */

/* Outcome of a submit. */
typedef struct baton_receipt {
	char		 message_id[129];	/* our own id, as submitted */
	/* accepted: "<our node id>/<message_id>", how the recipient, Status
	   and notices name it; "" if refused */
	char		 reference[BATON_REFERENCE_LEN];
	int		 code;		/* baton.v1.Code; CODE_OK: accepted */
	const char	*code_name;	/* "OK", "ROUTE_NOT_ALLOWED" (static) */
	char		 text[512];	/* the broker's text, may be empty */
	int		 duplicate;	/* 1: the original receipt of an
					   identical earlier submit */
	int64_t		 received_at_ms; /* broker commit time, Unix ms */
} baton_receipt;

enum baton_incoming_type {
	BATON_INCOMING_HANDOVER = 1,	/* a Deliver: a handover for us */
	BATON_INCOMING_NOTICE = 2,	/* a Notice about one we sent */
};

/*
 * One item received from the broker. All pointers point into the item and
 * live until baton_incoming_free(); strings are never NULL (may be "").
 */
typedef struct baton_incoming {
	enum baton_incoming_type type;
	/* what baton_ack() acknowledges: the reference or the notice id */
	const char	*ack_id;
	/* the handover's reference, "<sender>/<sender's own id>", what
	   baton_decide() and baton_status() take (notice: the reference of
	   the handover it is about) */
	const char	*reference;
	/* the sender's own id, the part of reference after its '/' */
	const char	*message_id;
	/* sender and recipient nodes (notice: the handover's sender and
	   current recipient) */
	const char	*from;
	const char	*to;
	uint32_t	 attempt;	/* 1 on first delivery, +1 after */
	/* handover: when the broker received it; notice: when the event
	   happened (Unix ms) */
	int64_t		 at_ms;
	/* BATON_INCOMING_HANDOVER only (NULL otherwise); the handover is
	   redacted for our role and may be NULL */
	const Baton__V1__Envelope *envelope;
	const Baton__V1__Handover *handover;
	size_t		 n_withheld;	/* sections removed by policy */
	char * const	*withheld;
	/* BATON_INCOMING_NOTICE only (NULL otherwise) */
	const Baton__V1__Notice *notice;
	void		*priv;		/* owned by the library */
} baton_incoming;

/* Static English text of a BATON_* code; never NULL. */
const char	*baton_strerror(int status);

/*
 * Formats a Unix time in milliseconds as "2026-11-24T02:40:35.123Z" into
 * buf (at least 32 bytes). Returns buf, or "" in buf if ms is out of range.
 */
char	*baton_format_time(int64_t ms, char *buf, size_t len);

/*
 * Connects, verifies the broker (certificate signed by ca_file and naming
 * server_name or the broker host; IP hosts are checked against IP SANs),
 * presents cert_file/key_file, and exchanges Hello/Welcome.
 * Returns BATON_OK and sets *out, or:
 *  BATON_E_INVALID_ARG	missing/malformed field in cfg;
 *  BATON_E_CONFIG		CA, certificate or key unreadable or mismatched;
 *  BATON_E_CONNECT		name does not resolve, or TCP connect failed;
 *  BATON_E_TLS		handshake failed (text says which side refused why);
 *  BATON_E_TIMEOUT		no connection or Welcome within timeout_ms;
 *  BATON_E_BROKER		broker refused the node (UNKNOWN_NODE,
 *				NODE_DISABLED, ...: see err->broker_code);
 *  BATON_E_CLOSED, BATON_E_PROTOCOL, BATON_E_NOMEM.
 */
int	baton_connect(const baton_config *cfg, baton_client **out,
	    baton_error *err);

/* Closes the connection (best-effort close_notify) and frees c. NULL ok. */
void	baton_close(baton_client *c);

/* Identity and limits from the broker's Welcome; strings never NULL. */
const char	*baton_node_id(const baton_client *c);
const char	*baton_role(const baton_client *c);
const char	*baton_organisation(const baton_client *c);
uint32_t	 baton_max_frame(const baton_client *c);

/*
 * Writes a random UUIDv4 message id ("xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx")
 * into buf (at least 37 bytes). Returns BATON_OK, or BATON_E_INVALID_ARG
 * if len is too small, BATON_E_NOMEM if the random generator failed.
 */
int	baton_new_message_id(char *buf, size_t len);

/*
 * Submits handover h to node `to`, under our own message_id (NULL: a new
 * UUIDv4), and waits for the Receipt. *out (may be NULL) is filled whenever a
 * Receipt arrived, accepted or not. Returns:
 *  BATON_OK		accepted and durable (out->duplicate: resubmission;
 *			out->reference: how others name it);
 *  BATON_E_REFUSED	refused: err->broker_code / out->code say why
 *			(UNKNOWN_RECIPIENT, ROUTE_NOT_ALLOWED, INVALID,
 *			DUPLICATE, STORE_FULL, ...); connection still usable;
 *  BATON_E_INVALID_ARG	bad `to` or message id, or h NULL;
 *  BATON_E_TOO_LARGE	the submit exceeds the broker's max_frame;
 *  BATON_E_TIMEOUT	no Receipt in time: connection closed; the handover
 *			may or may not have been accepted: resubmit it with
 *			the same message id after reconnecting;
 *  BATON_E_CLOSED, BATON_E_BROKER, BATON_E_PROTOCOL, BATON_E_NOMEM.
 * Deliveries and notices that arrive meanwhile are kept for baton_next().
 */
int	baton_submit(baton_client *c, const char *to,
	    const Baton__V1__Handover *h, const char *message_id,
	    baton_receipt *out, baton_error *err);

/*
 * Same as baton_submit, with the handover given as JSON (len bytes, need
 * not be NUL-terminated) in the protobuf JSON mapping of baton.v1.Handover.
 * Returns BATON_E_JSON, with the JSON path in err->text, when it does not
 * map; otherwise as baton_submit.
 */
int	baton_submit_json(baton_client *c, const char *to, const char *json,
	    size_t len, const char *message_id, baton_receipt *out,
	    baton_error *err);

/*
 * Returns the next delivery or notice, waiting up to timeout_ms (0: only
 * what is already here or arrives at once). The first call grants the
 * broker `window` deliveries of credit, later calls top it up. Returns:
 *  BATON_OK		*out set; free it with baton_incoming_free(), after
 *			baton_ack() once it is safely stored;
 *  BATON_E_TIMEOUT	nothing arrived; the connection is fine;
 *  BATON_E_CLOSED, BATON_E_BROKER, BATON_E_PROTOCOL, BATON_E_NOMEM.
 */
int	baton_next(baton_client *c, int timeout_ms, baton_incoming **out,
	    baton_error *err);

/* Frees an item from baton_next(). NULL ok. */
void	baton_incoming_free(baton_incoming *in);

/*
 * Acknowledges an item (its ack_id and attempt) and waits for the broker's
 * AckResult. Returns:
 *  BATON_OK		the broker durably removed it from our queue;
 *  BATON_E_REFUSED	broker refused (UNKNOWN_MESSAGE, NOT_RECIPIENT, ...);
 *  BATON_E_TIMEOUT	no AckResult in time: connection closed; the item
 *			will be delivered again unless the ack was committed;
 *  BATON_E_INVALID_ARG, BATON_E_CLOSED, BATON_E_BROKER, BATON_E_PROTOCOL,
 *  BATON_E_NOMEM.
 */
int	baton_ack(baton_client *c, const baton_incoming *in, baton_error *err);

/*
 * The `baton recv` line for an item: a compact JSON object without a
 * newline, {"type":"handover","reference":...,"message_id":...,"from":...,
 * "to":...,"attempt":N,"received_at":"ISO","handover":{...},
 * "withheld":[...]} or {"type":"notice","at":"ISO",<the Notice's fields>,
 * "reference":...} where message_id is the sender's own id and reference
 * names the handover. Returns malloc'd text (free()), or NULL on out of
 * memory.
 */
char	*baton_incoming_to_json(const baton_incoming *in);

/*
 * Recipient's decision on a delivered handover (accept, reject with a
 * reason, or redirect to another node), waiting for the DecisionResult.
 * d->message_id is the handover's reference (baton_incoming.reference).
 * Returns BATON_OK when recorded, BATON_E_REFUSED with the broker's code
 * (NOT_RECIPIENT, ALREADY_DECIDED, NOT_DELIVERED, INVALID, ...),
 * BATON_E_INVALID_ARG, or a connection error as for baton_ack.
 */
int	baton_decide(baton_client *c, const Baton__V1__Decision *d,
	    baton_error *err);

/*
 * Asks for a handover's lifecycle: message_id is its reference, or our own
 * id for one we sent. Returns BATON_OK with *out set (free
 * with baton_status_free()), BATON_E_REFUSED with the broker's code
 * (NOT_PERMITTED for one that is not ours or does not exist, ...),
 * BATON_E_INVALID_ARG, or a
 * connection error as for baton_ack.
 */
int	baton_status(baton_client *c, const char *message_id,
	    Baton__V1__Status **out, baton_error *err);

void	baton_status_free(Baton__V1__Status *s);

#ifdef __cplusplus
}
#endif

#endif
