/*
 * amqp_load.c - the RabbitMQ anchor (loader.h): persistent messages
 * (delivery_mode 2) to the durable classic queue "bench" through the
 * default exchange, publisher confirms on, at most --window unconfirmed
 * per sender, over TLS with a client certificate (the server requires
 * one; TLS 1.3 is enforced on the server side); one receiver consuming
 * with manual acks (prefetch 256).
 */
#include <amqp.h>
#include <amqp_ssl_socket.h>
#include <amqp_framing.h>

#include "loader.h"

static amqp_connection_state_t
open_conn(struct lrun *r)
{
	amqp_connection_state_t c = amqp_new_connection();
	amqp_socket_t *s = amqp_ssl_socket_new(c);
	amqp_rpc_reply_t rr;
	int st = AMQP_STATUS_SOCKET_ERROR;

	if (s == NULL ||
	    (st = amqp_ssl_socket_set_cacert(s, r->o.ca)) != AMQP_STATUS_OK ||
	    (st = amqp_ssl_socket_set_key(s, r->o.cert, r->o.key)) != AMQP_STATUS_OK ||
	    (st = amqp_ssl_socket_set_ssl_versions(s, AMQP_TLSv1_2,
	    AMQP_TLSvLATEST)) != AMQP_STATUS_OK ||
	    (st = amqp_socket_open(s, r->o.host, r->o.port)) != AMQP_STATUS_OK) {
		fprintf(stderr, "amqp_load: cannot open TLS to %s:%d: %s\n",
		    r->o.host, r->o.port, amqp_error_string2(st));
		return NULL;
	}
	rr = amqp_login(c, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest",
	    "guest");
	if (rr.reply_type != AMQP_RESPONSE_NORMAL ||
	    amqp_channel_open(c, 1) == NULL) {
		fprintf(stderr, "amqp_load: login or channel failed\n");
		return NULL;
	}
	return c;
}

static int
loader_setup(struct lrun *r)
{
	amqp_connection_state_t c = open_conn(r);

	if (c == NULL || amqp_queue_declare(c, 1, amqp_cstring_bytes("bench"), 0,
	    1, 0, 0, amqp_empty_table) == NULL)
		return -1;
	amqp_queue_purge(c, 1, amqp_cstring_bytes("bench"));
	amqp_channel_close(c, 1, AMQP_REPLY_SUCCESS);
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return 0;
}

/* Reads one frame (waiting up to ms); confirms mark messages acked. */
static int
read_confirms(struct lrun *r, amqp_connection_state_t c, int idx,
    uint64_t *confirmed, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	amqp_frame_t f;
	uint64_t tag, t;
	int multiple, nack, rc;

	rc = amqp_simple_wait_frame_noblock(c, &f, &tv);
	if (rc == AMQP_STATUS_TIMEOUT)
		return 0;
	if (rc != AMQP_STATUS_OK)
		return -1;
	if (f.frame_type != AMQP_FRAME_METHOD)
		return 0;
	if (f.payload.method.id == AMQP_BASIC_ACK_METHOD) {
		amqp_basic_ack_t *a = f.payload.method.decoded;

		tag = a->delivery_tag, multiple = a->multiple, nack = 0;
	} else if (f.payload.method.id == AMQP_BASIC_NACK_METHOD) {
		amqp_basic_nack_t *a = f.payload.method.decoded;

		tag = a->delivery_tag, multiple = a->multiple, nack = 1;
	} else
		return 0;
	for (t = multiple ? *confirmed + 1 : tag; t <= tag; t++) {
		r->t_ack[(long)idx * r->o.count + (long)t - 1] = now_ns();
		if (nack)
			r->sh->refused[idx]++;
		else
			r->sh->acked[idx]++;
	}
	if (tag > *confirmed)
		*confirmed = tag;
	return 0;
}

static int
loader_sender(struct lrun *r, int idx)
{
	amqp_connection_state_t c = open_conn(r);
	amqp_basic_properties_t p;
	uint8_t *buf = malloc((size_t)r->o.size);
	uint64_t confirmed = 0, q = 0;
	amqp_bytes_t body;
	int64_t end = r->sh->t_go + (int64_t)r->o.seconds * 1000000000;

	if (c == NULL || buf == NULL || amqp_confirm_select(c, 1) == NULL)
		return 1;
	memset(&p, 0, sizeof(p));
	p._flags = AMQP_BASIC_DELIVERY_MODE_FLAG;
	p.delivery_mode = 2;
	body.bytes = buf;
	body.len = (size_t)r->o.size;
	while (r->sh->acked[idx] + r->sh->refused[idx] < r->o.count &&
	    now_ns() < end) {
		while (q < (uint64_t)r->o.count &&
		    q - (uint64_t)(r->sh->acked[idx] + r->sh->refused[idx]) <
		    (uint64_t)r->o.window) {
			msg_fill(buf, r->o.size, idx, (long)q);
			r->t_sub[(long)idx * r->o.count + (long)q] = now_ns();
			if (amqp_basic_publish(c, 1, amqp_empty_bytes,
			    amqp_cstring_bytes("bench"), 0, 0, &p, body) !=
			    AMQP_STATUS_OK)
				return 1;
			q++;
		}
		if (read_confirms(r, c, idx, &confirmed, 100) != 0)
			return 1;
	}
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return r->sh->acked[idx] == r->o.count ? 0 : 1;
}

static int
loader_receiver(struct lrun *r, int ready_fd)
{
	amqp_connection_state_t c = open_conn(r);
	long n = r->o.senders * r->o.count;
	int64_t end = now_ns() + (int64_t)(r->o.seconds + 20) * 1000000000;
	struct timeval tv;
	amqp_envelope_t e;
	amqp_rpc_reply_t rr;

	if (c == NULL || amqp_basic_qos(c, 1, 0, 256, 0) == NULL ||
	    amqp_basic_consume(c, 1, amqp_cstring_bytes("bench"), amqp_empty_bytes,
	    0, 0, 0, amqp_empty_table) == NULL)
		return 1;
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	while (r->sh->delivered < n && now_ns() < end) {
		tv.tv_sec = 0;
		tv.tv_usec = 200000;
		amqp_maybe_release_buffers(c);
		rr = amqp_consume_message(c, &e, &tv, 0);
		if (rr.reply_type != AMQP_RESPONSE_NORMAL)
			continue;
		(void)msg_seen(r, e.message.body.bytes, e.message.body.len);
		(void)amqp_basic_ack(c, 1, e.delivery_tag, 0);
		amqp_destroy_envelope(&e);
	}
	amqp_connection_close(c, AMQP_REPLY_SUCCESS);
	amqp_destroy_connection(c);
	return r->sh->delivered == n ? 0 : 1;
}
