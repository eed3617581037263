/*
 * listener.h - accepting connections: the bound socket, the total
 * connection limit and a TLS bufferevent per accepted connection.
 */
#ifndef BATON_LISTENER_H
#define BATON_LISTENER_H

#include <stddef.h>

#include "broker.h"

/*
 * Binds cfg->listen, starts accepting, and writes the bound port to
 * cfg->port_file when set. Returns 0, or -1 with err set.
 */
int	listener_start(struct broker *b, char *err, size_t errlen);

/* Stops accepting (for a graceful stop). */
void	listener_stop(struct broker *b);

#endif
