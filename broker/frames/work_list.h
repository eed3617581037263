/*
 * work_list.h - the WorkListRequest frame: a page of the node's outbox or
 * inbox (lifecycle/worklist.h) answered as one WorkList frame.
 */
#ifndef BATON_WORK_LIST_H
#define BATON_WORK_LIST_H

#include "frame.h"
#include "session.h"

void	worklist_handle(struct session *s, const Baton__V1__WorkListRequest *q);

#endif
