/*
 * handlers.h - the thin handlers of the frames a session sends before and
 * after Hello (dispatch.c calls them once its shared checks have passed):
 * each turns a frame into changes of the state and a reply.
 */
#ifndef BATON_HANDLERS_H
#define BATON_HANDLERS_H

#include "frame.h"
#include "session.h"

void	handle_hello(struct session *s, const Baton__V1__Hello *h);
void	handle_submit(struct session *s, const Baton__V1__Submit *sub);
void	handle_pull(struct session *s, const Baton__V1__Pull *p);
void	handle_ack(struct session *s, const Baton__V1__Ack *a);
void	handle_ping(struct session *s, const Baton__V1__Ping *p);

#endif
