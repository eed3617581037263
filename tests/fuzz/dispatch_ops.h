/*
 * dispatch_ops.h - the input format of fuzz_dispatch, shared with the seed
 * generator (gen_dispatch_seeds.c).
 *
 * An input is a sequence of operations, each an op byte and its argument
 * bytes (missing bytes read as 0). The low three bits of the op byte say
 * which; SESSION is an index into the fuzzer's sessions (modulo their
 * number), PICK an index into the ids seen so far in this input (own ids,
 * references receipted, ids delivered, notice ids), NODE an index into the
 * node names the fuzzer knows (some unknown or disabled).
 *
 *   OP_RAW     SESSION LEN_HI LEN_LO BYTES...   a frame body as on the wire
 *   OP_HELLO   SESSION VERSION                  0: the protocol version
 *   OP_SUBMIT  SESSION ID NODE KIND RISK SECTIONS FLAGS
 *              (ID: own id "m<ID>"; SECTIONS: bit per optional section,
 *              its top three bits the safeguarding status plus one, mod 6;
 *              FLAGS bit 0: an invalid NHS number, bit 1: no subject)
 *   OP_PULL    SESSION CREDIT
 *   OP_ACK     SESSION PICK
 *   OP_DECIDE  SESSION PICK OUTCOME REASON NODE
 *   OP_STATUS  SESSION PICK WHICH               WHICH odd: a Ping instead
 *   OP_CTRL    WHAT ARG                         WHAT % 3: 0 a commit pass,
 *              1 reconnect session ARG, 2 time passes by (ARG + 1) x 15 min
 *
 * A commit pass also runs after every 8 frames and at the end.
 */
#ifndef BATON_DISPATCH_OPS_H
#define BATON_DISPATCH_OPS_H

enum dispatch_op {
	OP_RAW = 0,
	OP_HELLO,
	OP_SUBMIT,
	OP_PULL,
	OP_ACK,
	OP_DECIDE,
	OP_STATUS,
	OP_CTRL,
};

enum dispatch_ctrl {
	CTRL_PASS = 0,
	CTRL_RECONNECT,
	CTRL_TIME,
};

/* Optional sections of a submitted handover (SECTIONS bits). */
#define SUBMIT_SAFEGUARDING	0x01
#define SUBMIT_CRISIS_PLAN	0x02
#define SUBMIT_CONTACTS		0x04
#define SUBMIT_SUPPORT_PLAN	0x08
#define SUBMIT_MEDICATION	0x10

#define SUBMIT_BAD_NHS		0x01
#define SUBMIT_NO_SUBJECT	0x02

#endif
