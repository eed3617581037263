/*
 * audit_query.h - the AuditQuery frame: an auditor node reads the audit
 * log over its own mutual-TLS connection, and the answer streams back as
 * AuditChunk frames and one AuditDone.
 *
 * Who may: a node whose registry role is exactly "auditor" (the fixed rule
 * AUDIT_QUERY_ROLE; DESIGN.md ships that role as "reads the audit log
 * only"). The same rule refuses such a node a Pull (frames/dispatch.c),
 * so it never receives a handover body whatever the policy says; its
 * Submit, Decision and Status meet the policy's usual refusals (the
 * auditor role has no routes and may see no section).
 * Every query is recorded (audit_read, the auditor as actor, the filters
 * in reason, a person as subject_ref only); refusals are recorded as
 * status_refused, under the broker-wide limit on refusal records.
 *
 * Flow control: the answer is read from the log a page at a time
 * (state/audit_page.h) only while the session's output holds less than
 * the stream window (half of max-output, at most AUDIT_STREAM_WINDOW); it
 * resumes when the client has drained its output (the session's write
 * callback) and is bounded per pass, so the broker holds at most about a
 * window per query however long the export, and other sessions are served
 * in between.
 */
#ifndef BATON_AUDIT_QUERY_H
#define BATON_AUDIT_QUERY_H

#include "frame.h"
#include "session.h"

#define AUDIT_QUERY_ROLE	"auditor"
#define AUDIT_STREAM_WINDOW	(1024u * 1024u)	/* bytes queued per stream */
#define AUDIT_CHUNK_MAX		(32u * 1024u)	/* data bytes per AuditChunk */

/* 1 if the session's node has the auditor role (the fixed rule). */
int	audit_query_is_auditor(const struct session *s);

/* An AuditQuery from s (dispatch has checked the node and the version). */
void	audit_query_handle(struct session *s, const Baton__V1__AuditQuery *q);

/*
 * Sends more of s's answer while its output has room (the commit pass).
 * Returns 1 when it stopped only because its share of this pass was used
 * (the caller runs another pass), else 0.
 */
int	audit_query_pump(struct session *s);

/* s is closing or gone: drops its answer in progress, if any. */
void	audit_query_gone(struct session *s);

#endif
