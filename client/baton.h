/*
 * baton.h - libbaton, the client library partner systems link to talk to
 * a Baton broker.
 *
 * One baton_client is one mutually authenticated TLS 1.3 connection to the
 * broker. The request calls block, bounded by a timeout (the pipelined
 * calls below never block, and baton_wait/baton_drain only up to the
 * timeout they are given); none prints, exits or
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
 * BATON_E_JSON, BATON_E_TOO_LARGE and BATON_E_AGAIN leave the connection
 * usable.
 *
 * Pipelining. Beside the blocking calls, which wait for their answer, the
 * *_async calls queue a submit or an ack and return at once; their answers
 * come back, matched to the request by message id, as baton_result items
 * from baton_poll_result(). Nothing is written or read until
 * baton_process(), baton_wait(), baton_drain() or any blocking call runs
 * the connection, so a partner system can drive it from its own event loop
 * with baton_fd() and baton_want_write() (see "Pipelined calls" below).
 * Blocking and asynchronous calls may be mixed on one connection.
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
#define BATON_DEFAULT_WINDOW		256
#define BATON_MAX_WINDOW		1024
#define BATON_DEFAULT_PIPELINE		64	/* submits outstanding */
#define BATON_MAX_PIPELINE		4096
#define BATON_MAX_ACKS_OUTSTANDING	4096

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
	BATON_E_AGAIN,		/* pipelined calls: nothing now without
				   waiting (window full, no result yet) */
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
 * Submits a corrected version of one of our own handovers (protocol 4):
 * replaces names the version it corrects, by our own message id or its
 * reference, and must be the latest one. The broker sends it to the team
 * that holds the case (the earlier version's current recipient): before
 * a decision the earlier one is withdrawn (superseded; the recipient that
 * already had it gets the new one with envelope->replaces set), after
 * acceptance it arrives as an update. Redaction, routes and deadlines
 * apply to it as to any handover; out->text says where it went. Returns
 * as baton_submit; refusals include UNKNOWN_MESSAGE (no such handover of
 * ours), NOT_PERMITTED (another sender's), NOT_LATEST_VERSION (already
 * corrected: correct the latest) and LIMIT_EXCEEDED (the chain is at its
 * most, 16 versions); BATON_E_PROTOCOL if the broker speaks an older
 * protocol.
 */
int	baton_correct(baton_client *c, const char *replaces,
	    const Baton__V1__Handover *h, const char *message_id,
	    baton_receipt *out, baton_error *err);

/* Same as baton_correct, with the handover as JSON (as baton_submit_json). */
int	baton_correct_json(baton_client *c, const char *replaces,
	    const char *json, size_t len, const char *message_id,
	    baton_receipt *out, baton_error *err);

/*
 * Returns the next delivery or notice, waiting up to timeout_ms (0: only
 * what is already here or arrives at once, never waiting: the form for an
 * event loop, after baton_process). The first call grants the broker
 * `window` deliveries of credit, later calls top it up. Returns:
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
 * Records a check-in of a handover we accepted (protocol 4): ci->message_id
 * its reference, ci->index the check-in (0: the earliest pending one; see
 * Status.checkins), ci->outcome MADE, MISSED (the broker then tells the
 * lead and the sender, and by its policy the escalation nodes) or
 * RESCHEDULED (to ci->rescheduled_to_ms, in the future), ci->note at most
 * 1,024 bytes. *index (may be NULL) gets the check-in recorded. Returns
 * BATON_OK, BATON_E_REFUSED with the broker's code (NOT_RECIPIENT: not the
 * team that accepted it; ALREADY_DECIDED: already recorded; INVALID,
 * UNKNOWN_MESSAGE), BATON_E_PROTOCOL if the broker speaks an older
 * protocol, BATON_E_INVALID_ARG, or a connection error as for baton_ack.
 */
int	baton_checkin(baton_client *c, const Baton__V1__CheckIn *ci,
	    uint32_t *index, baton_error *err);

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

/* ------------------------------------------------------------------------
 * Protocol version 3: work lists, and audit queries for auditor nodes
 *
 * Both need a broker that speaks version 3 (its Welcome says so); with an
 * older one they return BATON_E_PROTOCOL and leave the connection usable.
 * Neither consumes anything: deliveries, acks and decisions are untouched.
 * Both are blocking requests and may not start while pipelined requests
 * are outstanding (BATON_E_INVALID_ARG).
 * ---------------------------------------------------------------------- */

#define BATON_WORK_LIST_MAX	100	/* items per page */
#define BATON_WORK_CURSOR_MAX	512	/* characters of a next_cursor */

/*
 * One page of the handovers this node sent (its outbox), with their
 * current state, recipient and deadline: undecided != 0 keeps those not
 * yet accepted, rejected or expired; since_ms (0: any time) those received
 * at or after it. cursor is NULL or "" for the first page, else the
 * previous page's next_cursor (opaque: at most BATON_WORK_CURSOR_MAX
 * characters, good for this node until the broker restarts); limit
 * 1..BATON_WORK_LIST_MAX (0: 50). Items come in reference order, and
 * each page's after the last page's. The
 * broker reads a bounded number of records per page, so a page may hold
 * fewer than limit items (even none) and still have a next_cursor: call
 * again until next_cursor is "". Each handover is on exactly one page.
 * Returns BATON_OK with *out (free with baton_work_list_free),
 * BATON_E_REFUSED (INVALID: a bad cursor or limit), BATON_E_INVALID_ARG,
 * BATON_E_PROTOCOL (the broker is older), or a connection error as for
 * baton_ack. Each item's deadline_in_ms (has_deadline set) is the time to
 * the acceptance deadline, negative once overdue.
 */
int	baton_outbox(baton_client *c, int undecided, int64_t since_ms,
	    const char *cursor, unsigned limit, Baton__V1__WorkList **out,
	    baton_error *err);

/*
 * One page of the handovers delivered to this node and not yet decided
 * (accepted, rejected or redirected), with risk level and time to
 * deadline; paged and returned as baton_outbox.
 */
int	baton_inbox(baton_client *c, const char *cursor, unsigned limit,
	    Baton__V1__WorkList **out, baton_error *err);

void	baton_work_list_free(Baton__V1__WorkList *wl);

/* What an audit query asks for (baton_audit_query). */
enum baton_audit_kind {
	BATON_AUDIT_LIST = 1,	/* matching records as a table for people */
	BATON_AUDIT_EXPORT,	/* matching records as CSV or JSON Lines */
	BATON_AUDIT_TRAIL,	/* a person's or handover's timeline */
	BATON_AUDIT_REPORT,	/* the governance report over a period */
	BATON_AUDIT_HEAD,	/* the chain head, one line "SEQ:HASH" */
};

enum baton_audit_format {
	BATON_AUDIT_FORMAT_DEFAULT = 0,	/* list: table; export: jsonl */
	BATON_AUDIT_FORMAT_TABLE,
	BATON_AUDIT_FORMAT_CSV,
	BATON_AUDIT_FORMAT_JSONL,
	BATON_AUDIT_FORMAT_JSON,
	BATON_AUDIT_FORMAT_HTML,
};

/*
 * Filters are ANDed; 0 (or no values) leaves one out. A field given
 * several values (nodes, message_ids, events) matches a record that has
 * any one of them, as batonctl audit's repeated options do.
 */
#define BATON_AUDIT_FILTER_MAX	16	/* values of one field */
typedef struct baton_audit_request {
	enum baton_audit_kind	 kind;
	enum baton_audit_format	 format;
	int64_t			 since_ms;	/* Unix ms; 0: no bound */
	int64_t			 until_ms;
	const char *const	*nodes;		/* actor or other node */
	size_t			 n_nodes;
	const char *const	*message_ids;	/* handovers' references */
	size_t			 n_message_ids;
	const char *const	*events;	/* audit event names */
	size_t			 n_events;
	/* the person (NULL: any): sent to the broker, which matches
	   records by its pseudonymous reference; never logged or stored
	   as such */
	const char		*nhs_number;
} baton_audit_request;

/*
 * Parses a UTC time as batonctl audit takes it, into Unix ms: a date
 * "YYYY-MM-DD", or "YYYY-MM-DDTHH:MM[:SS[.mmm]][Z]" (a space may stand for
 * the T). With end_of set a date alone means its last millisecond (for an
 * upper bound). Returns BATON_OK, or BATON_E_INVALID_ARG if s is not such
 * a time.
 */
int	baton_parse_time(const char *s, int end_of, int64_t *out_ms);

typedef struct baton_audit_summary {
	uint64_t	records;	/* records that matched */
	uint64_t	head_seq;	/* the chain head when the query ran */
	char		head_hash[65];
} baton_audit_summary;

/*
 * Receives the answer's bytes in order, a chunk (at most 64 KiB) at a
 * time; return 0 to go on, non-zero to stop.
 */
typedef int (*baton_chunk_fn)(void *arg, const void *data, size_t len);

/*
 * Queries the broker's audit log as this node, which must have the role
 * "auditor": the answer (text in the format asked for: what batonctl
 * audit list/export/head print) streams back and is handed to chunk as it
 * arrives, so memory stays bounded however long the answer; the broker
 * sends only as fast as we read. The query itself is recorded in the log.
 * Each wait for the next chunk is bounded by the connection's timeout.
 * Returns BATON_OK with *out (may be NULL) filled once the whole answer
 * was handed over; BATON_E_REFUSED with the broker's code (NOT_PERMITTED:
 * this node is not an auditor; INVALID: a bad filter, NHS number or
 * format, or a kind an older broker does not answer; STORE_FULL: the
 * query could not be recorded, so it was not run; INTERNAL: the log could
 * not be read, text says why - then the chunks handed over so far are
 * not the whole answer); BATON_E_INVALID_ARG; BATON_E_PROTOCOL (the
 * broker is older); or a connection error as for baton_ack (the answer is
 * then incomplete too). When chunk stops it, the rest of the answer is
 * still on its way, so the connection is closed and BATON_E_CLOSED
 * returned.
 */
int	baton_audit_query(baton_client *c, const baton_audit_request *q,
	    baton_chunk_fn chunk, void *arg, baton_audit_summary *out,
	    baton_error *err);

/* ------------------------------------------------------------------------
 * Pipelined calls
 *
 * A submit or ack queued with a *_async call is "outstanding" from the call
 * until its result is taken with baton_poll_result(); a connection holds
 * at most its pipeline window of submits (baton_set_pipeline, default
 * BATON_DEFAULT_PIPELINE) and BATON_MAX_ACKS_OUTSTANDING acks. A full
 * window makes the *_async call return BATON_E_AGAIN at once, never block:
 * run the connection (baton_process, or baton_wait to sleep until a result
 * is in), take results, and call again. One message id may have one submit
 * (and one item one ack) in flight, queued or sent but not yet answered, at
 * a time.
 *
 * Every outstanding request yields exactly one result. When the connection
 * dies (a broker Error, a lost connection, a timeout of a blocking call),
 * each request still waiting gets a result with that status
 * (BATON_E_CLOSED, BATON_E_BROKER, ...) and a text saying what to do: a
 * submit may or may not have been accepted (resubmit it with the same
 * message id on a new connection, which is safe); an ack may or may not
 * have been committed (the item comes again unless it was). Results are
 * kept after the connection died until taken. baton_close() abandons
 * whatever is still outstanding: drain first (baton_drain), or
 * baton_disconnect() to turn it into results.
 *
 * Event loop: watch baton_fd() for reading always, and for writing while
 * baton_want_write() is 1; when it is ready (or after queueing requests),
 * call baton_process(), then take results with baton_poll_result() and
 * deliveries with baton_next(c, 0, ...). baton_process() reads until the
 * TLS layer has nothing buffered, so readiness of the fd is all a loop
 * needs to watch. Nothing is called back; a result's times let a caller
 * measure latency.
 * ---------------------------------------------------------------------- */

enum baton_result_kind {
	BATON_RESULT_RECEIPT = 1,	/* a submit's outcome */
	BATON_RESULT_ACK = 2,		/* an ack's outcome */
};

/* The outcome of one asynchronous request. */
typedef struct baton_result {
	enum baton_result_kind kind;
	/* BATON_OK (accepted; acknowledged), BATON_E_REFUSED (the broker
	   said no: error.broker_code), or why no answer came
	   (BATON_E_CLOSED, BATON_E_BROKER, BATON_E_TIMEOUT, ...) */
	int		 status;
	void		*user;		/* as given to the *_async call */
	/* RECEIPT: as baton_submit fills it; message_id is always set
	   (the generated one when the call gave none) */
	baton_receipt	 receipt;
	/* ACK: the ack_id and attempt acknowledged */
	char		 ack_id[BATON_REFERENCE_LEN];
	uint32_t	 attempt;
	baton_error	 error;		/* status != BATON_OK: why */
	/* CLOCK_MONOTONIC microseconds (baton_monotonic_us): the call,
	   the frame's last byte handed to TLS, and the answer read; 0
	   when it did not happen */
	int64_t		 queued_us;
	int64_t		 sent_us;
	int64_t		 answered_us;
} baton_result;

/* CLOCK_MONOTONIC in microseconds, the clock of baton_result's times. */
int64_t	baton_monotonic_us(void);

/*
 * Sets how many submits may be outstanding (1..BATON_MAX_PIPELINE; default
 * BATON_DEFAULT_PIPELINE). A smaller window than what is outstanding only
 * holds back new submits. Returns BATON_OK or BATON_E_INVALID_ARG.
 */
int	baton_set_pipeline(baton_client *c, unsigned window);

/*
 * Queues a submit of handover h to node `to` under our own message_id
 * (NULL: a new UUIDv4, reported in the result) and returns without
 * waiting; h is encoded now and may be freed on return. `user` comes back
 * in the result. Returns:
 *  BATON_OK		queued; exactly one result will follow;
 *  BATON_E_AGAIN	the pipeline window is full: run the connection and
 *			take results first; nothing queued;
 *  BATON_E_INVALID_ARG	bad `to` or message id, h NULL, or a submit of
 *			the same id is still in flight;
 *  BATON_E_TOO_LARGE	the submit exceeds the broker's max_frame;
 *  BATON_E_CLOSED, BATON_E_NOMEM.
 * BATON_E_AGAIN, BATON_E_INVALID_ARG and BATON_E_TOO_LARGE leave the
 * connection usable.
 */
int	baton_submit_async(baton_client *c, const char *to,
	    const Baton__V1__Handover *h, const char *message_id, void *user,
	    baton_error *err);

/*
 * As baton_submit_async, with the handover as JSON (as baton_submit_json;
 * BATON_E_JSON when it does not map).
 */
int	baton_submit_json_async(baton_client *c, const char *to,
	    const char *json, size_t len, const char *message_id, void *user,
	    baton_error *err);

/*
 * As baton_submit_async, with the handover already packed (len bytes of a
 * serialised baton.v1.Handover, e.g. from baton__v1__handover__pack). The
 * bytes are not unpacked: they get the broker's own linear wire check
 * (well-formed, known fields, no field twice, bounded tags) and go out as
 * they are, so a bad encoding is BATON_E_INVALID_ARG here rather than a
 * closed connection; the content is checked by the broker (a refusal
 * INVALID in the result). Returns as baton_submit_async.
 */
int	baton_submit_packed_async(baton_client *c, const char *to,
	    const void *handover, size_t len, const char *message_id,
	    void *user, baton_error *err);

/*
 * The blocking form of baton_submit_packed_async: submits and waits for
 * the Receipt. Returns as baton_submit, and BATON_E_INVALID_ARG for bytes
 * that fail the wire check.
 */
int	baton_submit_packed(baton_client *c, const char *to,
	    const void *handover, size_t len, const char *message_id,
	    baton_receipt *out, baton_error *err);

/*
 * Queues an Ack of an item from baton_next() (its ack_id and attempt) and
 * returns without waiting for the AckResult; `in` may be freed on return.
 * The result (kind BATON_RESULT_ACK) says BATON_OK when the broker removed
 * the item from our queue, BATON_E_REFUSED with its code otherwise.
 * Returns BATON_OK (queued), BATON_E_AGAIN (BATON_MAX_ACKS_OUTSTANDING
 * acks outstanding; nothing queued), BATON_E_INVALID_ARG (no item, or an
 * ack of it still in flight), BATON_E_CLOSED or BATON_E_NOMEM.
 */
int	baton_ack_async(baton_client *c, const baton_incoming *in, void *user,
	    baton_error *err);

/*
 * Takes the oldest result of an asynchronous request into *out. Returns
 * BATON_OK, BATON_E_AGAIN when none is ready (run the connection), or
 * BATON_E_INVALID_ARG. After the connection died it still returns the
 * results of what was outstanding, then BATON_E_AGAIN.
 */
int	baton_poll_result(baton_client *c, baton_result *out);

/*
 * Closes the connection now but keeps c: every request still outstanding
 * gets its result (BATON_E_CLOSED, "closed by this program") for
 * baton_poll_result; later calls return BATON_E_CLOSED. For giving up on a
 * broker that stopped answering, e.g. after BATON_E_TIMEOUT from
 * baton_wait or baton_drain. Then baton_close(c). NULL ok.
 */
void	baton_disconnect(baton_client *c);

/* Asynchronous requests whose results have not been taken yet. */
unsigned	baton_outstanding(const baton_client *c);

/*
 * The connection's socket, to watch for reading (always) and writing
 * (while baton_want_write); -1 once the connection is closed. Never read,
 * write or close it directly.
 */
int	baton_fd(const baton_client *c);

/*
 * 1 when baton_process() has output to write (or TLS needs to write to
 * read) and the socket should be watched for writing, else 0.
 */
int	baton_want_write(const baton_client *c);

/*
 * Processes what is ready, never waiting: writes queued requests as far as
 * the socket takes them; reads and dispatches every frame that has
 * arrived, all of it, TLS-buffered bytes included (results to
 * baton_poll_result, deliveries to baton_next, Pings answered). Returns
 * BATON_OK, or the error that killed the connection (BATON_E_CLOSED,
 * BATON_E_BROKER, BATON_E_PROTOCOL, BATON_E_TLS, BATON_E_NOMEM), after
 * which every outstanding request has a result.
 */
int	baton_process(baton_client *c, baton_error *err);

/*
 * Runs the connection, waiting up to timeout_ms (0: not at all), until a
 * result can be taken or a delivery is waiting for baton_next(). Returns
 * BATON_OK (something is ready), BATON_E_TIMEOUT (nothing yet; the
 * connection is fine, requests stay outstanding), or an error as for
 * baton_process.
 */
int	baton_wait(baton_client *c, int timeout_ms, baton_error *err);

/*
 * Runs the connection until every asynchronous request has been answered
 * (its result ready to take) and all queued output is written, waiting up
 * to timeout_ms. Returns BATON_OK, BATON_E_TIMEOUT (some still in flight;
 * the connection is fine), or an error as for baton_process (every
 * outstanding request then has a result).
 */
int	baton_drain(baton_client *c, int timeout_ms, baton_error *err);

#ifdef __cplusplus
}
#endif

#endif
