/*
 * config.c - the broker's default settings (docs/limits.md).
 */
#include <string.h>

#include "config.h"
#include "frame.h"

void
broker_config_defaults(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen = "127.0.0.1:7400";
	cfg->max_frame = BATON_MAX_FRAME_DEFAULT;
	cfg->max_unacked = 64;
	cfg->max_credit = 1024;
	cfg->map_size = (size_t)1 << 30;
	cfg->max_connections = 1024;
	cfg->max_per_node = 8;
	cfg->handshake_timeout_s = 10;
	cfg->idle_timeout_s = 120;
	cfg->frame_timeout_s = 30;
	cfg->hello_timeout_s = 10;
	cfg->max_preauth_per_address = 16;
	cfg->max_buffered = (size_t)128 << 20;
	cfg->max_output = 16u * 1024u * 1024u;
}
