/*
 * jsonl.h - one line of `baton send --jsonl` input: a handover in JSON, on
 * its own or in an envelope naming its recipient and message id.
 *
 * A line is either the protobuf JSON mapping of baton.v1.Handover, or an
 * object {"to": NODE, "message_id": ID, "handover": {...}} in which "to"
 * and "message_id" may be left out ("to" then comes from --to, the id from
 * --id-prefix or a new UUID). An object with a "handover" key is an
 * envelope (a Handover has no such field), so the two never mix up.
 * Input is untrusted: lines are bounded (BATON_JSON_MAX_DOC) and errors
 * name the JSON path but never echo a value.
 */
#ifndef BATON_JSONL_H
#define BATON_JSONL_H

#include <stddef.h>

#include "baton.pb-c.h"

struct jsonl_item {
	Baton__V1__Handover	*handover;	/* free with jsonl_item_clear */
	char			 to[65];	/* "" when the line names none */
	char			 message_id[129]; /* "" when none */
};

/*
 * Parses one line (len bytes, no newline needed). Returns 0 with *out set,
 * 1 for a blank line (nothing set), -1 with err set ("$.handover.subject:
 * ..."; "to"/"message_id" that are not a node id / own id are refused).
 */
int	baton_jsonl_parse(const char *line, size_t len, struct jsonl_item *out,
	    char *err, size_t errlen);

/* Frees what baton_jsonl_parse set. */
void	baton_jsonl_clear(struct jsonl_item *it);

#endif
