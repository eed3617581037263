/*
 * mosq_load.c - the Mosquitto anchor (loader.h): QoS 1 publishes to topic
 * bench/t over TLS 1.3 with a client certificate, at most --window
 * unacknowledged (PUBACK) per sender; one receiver with a persistent
 * session (clean_session false) subscribed at QoS 1.
 */
#include <mosquitto.h>

#include "loader.h"

struct msender {
	struct lrun	*r;
	int		 idx;
	int		 connected;	/* CONNACK came */
	long		 inflight;
	long		*seq_of_mid;	/* by mid % 65536 */
};

static int
tls_client(struct lrun *r, struct mosquitto **out, const char *id, int clean,
    void *obj)
{
	struct mosquitto *m = mosquitto_new(id, clean, obj);

	if (m == NULL ||
	    mosquitto_tls_set(m, r->o.ca, NULL, r->o.cert, r->o.key, NULL) ||
	    mosquitto_tls_opts_set(m, 1, "tlsv1.3", NULL) ||
	    mosquitto_int_option(m, MOSQ_OPT_TCP_NODELAY, 1) ||
	    mosquitto_max_inflight_messages_set(m, (unsigned)r->o.window) ||
	    mosquitto_connect(m, r->o.host, r->o.port, 60)) {
		fprintf(stderr, "mosq_load: cannot connect %s\n", id);
		return -1;
	}
	*out = m;
	return 0;
}

static int
loader_setup(struct lrun *r)
{
	(void)r;
	return mosquitto_lib_init() == MOSQ_ERR_SUCCESS ? 0 : -1;
}

static void
on_publish(struct mosquitto *m, void *obj, int mid)
{
	struct msender *s = obj;
	long q = s->seq_of_mid[mid & 0xffff];

	(void)m;
	if (q >= 0) {
		s->r->t_ack[(long)s->idx * s->r->o.count + q] = now_ns();
		s->r->sh->acked[s->idx]++;
		s->seq_of_mid[mid & 0xffff] = -1;
	}
	s->inflight--;
}

static void
on_sender_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)m;
	((struct msender *)obj)->connected = rc == 0;
}

static int
loader_sender(struct lrun *r, int idx)
{
	struct msender s = { .r = r, .idx = idx };
	struct mosquitto *m;
	uint8_t *buf = malloc((size_t)r->o.size);
	char id[32];
	long q = 0, i;
	int mid;

	s.seq_of_mid = malloc(65536 * sizeof(long));
	if (buf == NULL || s.seq_of_mid == NULL)
		return 1;
	for (i = 0; i < 65536; i++)
		s.seq_of_mid[i] = -1;
	snprintf(id, sizeof(id), "bench-s%d", idx);
	if (tls_client(r, &m, id, 1, &s) != 0)
		return 1;
	mosquitto_publish_callback_set(m, on_publish);
	mosquitto_connect_callback_set(m, on_sender_connect);
	for (i = 0; i < 100 && !s.connected; i++)	/* publish after CONNACK */
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			return 1;
	while (r->sh->acked[idx] < r->o.count &&
	    now_ns() < r->sh->t_go + (int64_t)r->o.seconds * 1000000000) {
		while (q < r->o.count && s.inflight < r->o.window) {
			msg_fill(buf, r->o.size, idx, q);
			int prc = mosquitto_publish(m, &mid, "bench/t", r->o.size,
			    buf, 1, false);

			if (prc != MOSQ_ERR_SUCCESS) {
				fprintf(stderr, "mosq_load: publish: %s\n",
				    mosquitto_strerror(prc));
				return 1;
			}
			r->t_sub[(long)idx * r->o.count + q] = now_ns();
			s.seq_of_mid[mid & 0xffff] = q++;
			s.inflight++;
		}
		if ((i = mosquitto_loop(m, 100, 1)) != MOSQ_ERR_SUCCESS) {
			fprintf(stderr, "mosq_load: %s\n", mosquitto_strerror((int)i));
			return 1;
		}
	}
	mosquitto_disconnect(m);
	return r->sh->acked[idx] == r->o.count ? 0 : 1;
}

static void
on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *msg)
{
	(void)m;
	(void)msg_seen(obj, msg->payload, (size_t)msg->payloadlen);
}

static int subscribed;

static void
on_sub(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
	(void)m;
	(void)obj;
	(void)mid;
	(void)n;
	(void)q;
	subscribed = 1;
}

static void
on_connect(struct mosquitto *m, void *obj, int rc)
{
	(void)obj;
	if (rc == 0)
		(void)mosquitto_subscribe(m, NULL, "bench/t", 1);
}

static int
loader_receiver(struct lrun *r, int ready_fd)
{
	struct mosquitto *m;
	long n = r->o.senders * r->o.count;
	int said = 0;

	if (tls_client(r, &m, "bench-r", 0, r) != 0)
		return 1;
	mosquitto_message_callback_set(m, on_message);
	mosquitto_subscribe_callback_set(m, on_sub);
	mosquitto_connect_callback_set(m, on_connect);
	while (r->sh->delivered < n) {
		if (mosquitto_loop(m, 100, 1) != MOSQ_ERR_SUCCESS)
			return 1;
		if (subscribed && !said) {
			said = write(ready_fd, "r", 1) == 1;
		}
		if (said && now_ns() > r->sh->t_go + (int64_t)r->o.seconds *
		    1000000000 && r->sh->t_go != 0)
			return 1;
	}
	/* let the last PUBACKs go out */
	for (int i = 0; i < 5; i++)
		mosquitto_loop(m, 20, 1);
	mosquitto_disconnect(m);
	return 0;
}
