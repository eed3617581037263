/*
 * checkin_frame.c - the CheckIn frame (see checkin_frame.h).
 */
#include "checkin.h"
#include "checkin_frame.h"
#include "frame.h"
#include "lifecycle.h"
#include "log.h"
#include "validate.h"

void
checkin_handle(struct session *s, const Baton__V1__CheckIn *ci)
{
	Frame f = BATON__V1__FRAME__INIT;
	Baton__V1__CheckInResult r = BATON__V1__CHECK_IN_RESULT__INIT;
	struct lc_result res;
	struct actor a;
	uint32_t index;

	session_actor(s, &a);
	lifecycle_checkin(&s->b->st, &a, ci, &res, &index);
	if (res.code != BATON__V1__CODE__CODE_OK)
		log_warnx("sid=%llu node=%s checkin id=%s refused code=%s",
		    (unsigned long long)s->id, s->node_id,
		    validate_message_id(ci->message_id) ? ci->message_id : "-",
		    frame_code_name(res.code));
	else
		log_info("sid=%llu node=%s checkin id=%s index=%u recorded",
		    (unsigned long long)s->id, s->node_id, ci->message_id,
		    index);
	r.message_id = (char *)(validate_message_id(ci->message_id) ?
	    ci->message_id : "");
	r.code = res.code;
	r.text = res.text;
	r.index = index;
	f.body_case = BATON__V1__FRAME__BODY_CHECK_IN_RESULT;
	f.check_in_result = &r;
	session_send(s, &f);
}
