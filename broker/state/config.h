/*
 * config.h - the broker's settings, as plain data (every layer reads
 * them; batond.c fills them from the command line).
 */
#ifndef BATON_CONFIG_H
#define BATON_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct broker_config {
	const char	*listen;		/* ADDR:PORT; port 0 = ephemeral */
	const char	*port_file;		/* written with the bound port */
	const char	*data_dir;
	const char	*ca_file;
	const char	*cert_file;
	const char	*key_file;
	const char	*crl_file;		/* optional */
	const char	*policy_file;		/* policy.conf; required */
	const char	*broker_id;		/* for Welcome; default host name */
	uint32_t	 max_frame;		/* bytes; default 4 MiB */
	uint32_t	 max_unacked;		/* deliveries in flight per session */
	uint32_t	 max_credit;		/* credit a session may hold */
	size_t		 map_size;		/* LMDB map bytes */
	unsigned	 max_connections;	/* total live connections */
	unsigned	 max_per_node;		/* live connections per node id */
	int		 handshake_timeout_s;
	int		 idle_timeout_s;
	int		 frame_timeout_s;	/* a frame must arrive whole within */
	int		 hello_timeout_s;	/* Hello must follow the handshake within */
	unsigned	 max_preauth_per_address; /* sessions not yet past Hello, per IP */
	size_t		 max_buffered;		/* all partial frames together, bytes */
	size_t		 max_output;		/* bytes queued to one client */
	int		 allow_tls12;
	const char	*user;			/* run as this user (start as root) */
	uid_t		 key_owner;		/* who must own key_file */
};

/* Fills cfg with the defaults above. */
void	broker_config_defaults(struct broker_config *cfg);

#endif
