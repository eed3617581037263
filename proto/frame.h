/*
 * frame.h - the length-prefixed frame codec shared by broker and client.
 *
 * A frame on the wire is a 4-byte big-endian length N followed by N bytes
 * of a packed baton.v1.Frame. The codec owns only the byte format: it never
 * touches sockets, so both libevent (broker) and blocking I/O (client) use
 * it. Invariant: a length is checked against max_frame before anything is
 * allocated for the body.
 */
#ifndef BATON_FRAME_H
#define BATON_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "baton.pb-c.h"

#define BATON_FRAME_HDR		4
#define BATON_MAX_FRAME_DEFAULT	(4u * 1024u * 1024u)
/*
 * 2: message ids belong to their sender; handovers are named by reference.
 * 3: AuditQuery/AuditChunk/AuditDone (auditor nodes), WorkListRequest/
 * WorkList.
 * 4: Transition.lawful_basis, CODE_NO_AGREEMENT, CODE_NO_LAWFUL_BASIS,
 * NOTICE_KIND_HELD (frame_for_version keeps them from older sessions).
 * The broker speaks BATON_PROTOCOL_MIN to BATON_PROTOCOL_VERSION.
 */
#define BATON_PROTOCOL_VERSION	4
#define BATON_PROTOCOL_MIN	2

/*
 * Field tags one frame may carry in all, nested ones included. A handover
 * that passes validation (at most 256 entries per repeated field) has at
 * most about 6,700: Subject 263, RiskSummary 1,027, Safeguarding and
 * CrisisPlan 514 each, Contacts 256 x 6, SupportPlan 770,
 * MedicationAndPhysicalHealth 2,050, Transition 5, plus the sections and
 * envelope (test_maximal_handover_within_budget builds one); a Status
 * carries at most 128 events of 8. So 65,536 is ten times anything
 * legitimate, and it bounds what protobuf-c allocates for a frame: without
 * it 4 MiB of empty two-byte Contact entries would be 2 million small
 * allocations.
 */
#define BATON_FRAME_MAX_TAGS	65536u

typedef Baton__V1__Frame Frame;

enum frame_status {
	FRAME_OK = 0,
	FRAME_NEED_MORE = 1,	/* not enough bytes yet */
	FRAME_TOO_LARGE = -1,	/* declared length over max_frame */
	FRAME_EMPTY = -2,	/* zero-length frame */
	FRAME_MALFORMED = -3,	/* body does not decode as a Frame */
	FRAME_NO_BODY = -4,	/* decodes, but the oneof is unset */
	FRAME_NOMEM = -5,
	/* refused by the wire check before unpacking (wire_check.h) */
	FRAME_REPEATED_FIELD = -6,	/* a singular field occurs twice */
	FRAME_ONEOF_CONFLICT = -7,	/* two members of one oneof are set */
	FRAME_UNKNOWN_FIELD = -8,	/* a field number the schema lacks */
	FRAME_TOO_MANY_TAGS = -9,	/* over BATON_FRAME_MAX_TAGS tags */
	FRAME_TOO_DEEP = -10,		/* nested past WIRE_MAX_DEPTH */
};

/*
 * Reads the length prefix from hdr (at least avail bytes available).
 * Returns FRAME_OK, FRAME_TOO_LARGE or FRAME_EMPTY with *len set to the
 * declared length (for the error text), or FRAME_NEED_MORE when avail < 4.
 */
int	frame_parse_header(const uint8_t *hdr, size_t avail, uint32_t max_frame,
	    uint32_t *len);

/*
 * Decodes one frame body of len bytes (already bounded by the header check)
 * in time linear in len: the bytes are checked against the schema first
 * (wire_check), so protobuf-c never sees what it would merge at quadratic
 * cost. Returns the frame (free with frame_free) or NULL, with *status set
 * to a negative FRAME_* value saying why.
 */
Frame	*frame_decode(const uint8_t *body, size_t len, int *status);

/*
 * A new buffer (free()) for a frame of n body bytes, its header written:
 * the body goes at BATON_FRAME_HDR. NULL on out of memory.
 */
uint8_t	*frame_buffer(size_t n);

/*
 * Encodes f as header + body into a new buffer (*out, *outlen; free()).
 * Returns FRAME_OK, FRAME_TOO_LARGE when the packed body exceeds max_frame,
 * or FRAME_NOMEM.
 */
int	frame_encode(const Frame *f, uint32_t max_frame, uint8_t **out,
	    size_t *outlen);

/*
 * Encodes a Deliver frame whose envelope is already packed: env[0..envlen)
 * (a stored handover's bytes, sent as they are) goes in as the envelope,
 * followed by d's other fields (d->envelope must be NULL). The same
 * results as frame_encode.
 */
int	frame_encode_deliver(const Baton__V1__Deliver *d, const uint8_t *env,
	    size_t envlen, uint32_t max_frame, uint8_t **out, size_t *outlen);

/*
 * Makes f, about to go to a session of protocol version proto, say only
 * what that version knows (in place: f is a reply built to be sent and
 * freed). Before 4: CODE_NO_AGREEMENT and CODE_NO_LAWFUL_BASIS become
 * CODE_ROUTE_NOT_ALLOWED (the text still says which), NOTICE_KIND_HELD
 * and _CONTACT_MISSED become NOTICE_KIND_UNSPECIFIED (the note says what
 * happened), a delivered handover loses transition.lawful_basis,
 * support_plan.lead_node and replaces (a Deliver's envelope must have
 * been unpacked with pbarena), a Status its versions and check-ins (the
 * counts are set to 0: the caller frees by its own), and
 * CODE_NOT_LATEST_VERSION becomes CODE_INVALID.
 */
void	frame_for_version(Frame *f, uint32_t proto);

void	frame_free(Frame *f);

/* Short, stable name of a frame's body ("submit", "deliver", ...). */
const char	*frame_name(const Frame *f);

/* Short, stable name for a frame_status value, for logs and errors. */
const char	*frame_status_text(int status);

/* Name of a baton.v1.Code without the CODE_ prefix ("ROUTE_NOT_ALLOWED"). */
const char	*frame_code_name(int code);

/* Parses a code name with or without the CODE_ prefix; -1 if unknown. */
int	frame_code_from_name(const char *name);

#endif
