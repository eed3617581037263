/*
 * checkin_frame.h - the CheckIn frame: turned into a lifecycle call
 * (lifecycle/checkin.c owns the checks, the record, the missed-contact
 * protocol, history and audit) and its result into a CheckInResult and a
 * log line.
 */
#ifndef BATON_CHECKIN_FRAME_H
#define BATON_CHECKIN_FRAME_H

#include "session.h"

void	checkin_handle(struct session *s, const Baton__V1__CheckIn *ci);

#endif
