/*
 * nats_load.c - the NATS anchor (loader.h): JetStream publishes to
 * subject bench.t, stream BENCH with file storage, over TLS with a client
 * certificate (the server requires one); js_PublishAsync with MaxPending
 * --window per sender, each PubAck timed in the ack handler; one receiver
 * on a durable pull consumer that acks each message.
 */
#include <nats/nats.h>

#include "loader.h"

static natsStatus
connect_tls(struct lrun *r, natsConnection **nc)
{
	natsOptions *o = NULL;
	char url[300];
	natsStatus s;

	snprintf(url, sizeof(url), "tls://%s:%d", r->o.host, r->o.port);
	if ((s = natsOptions_Create(&o)) == NATS_OK)
		s = natsOptions_SetURL(o, url);
	if (s == NATS_OK)
		s = natsOptions_SetSecure(o, true);
	if (s == NATS_OK)
		s = natsOptions_LoadCATrustedCertificates(o, r->o.ca);
	if (s == NATS_OK)
		s = natsOptions_LoadCertificatesChain(o, r->o.cert, r->o.key);
	if (s == NATS_OK)
		s = natsConnection_Connect(nc, o);
	if (s != NATS_OK)
		fprintf(stderr, "nats_load: connect: %s\n", natsStatus_GetText(s));
	natsOptions_Destroy(o);
	return s;
}

static int
loader_setup(struct lrun *r)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsStreamConfig sc;
	jsErrCode je = 0;
	const char *subj[] = { "bench.t" };
	natsStatus s;

	if (connect_tls(r, &nc) != NATS_OK ||
	    natsConnection_JetStream(&js, nc, NULL) != NATS_OK)
		return -1;
	jsStreamConfig_Init(&sc);
	sc.Name = "BENCH";
	sc.Subjects = subj;
	sc.SubjectsLen = 1;
	sc.Storage = js_FileStorage;
	(void)js_DeleteStream(js, "BENCH", NULL, NULL);
	if ((s = js_AddStream(NULL, js, &sc, NULL, &je)) != NATS_OK) {
		fprintf(stderr, "nats_load: add stream: %s (%d)\n",
		    natsStatus_GetText(s), (int)je);
		return -1;
	}
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return 0;
}

static struct lrun *g_r;

static void
on_puback(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *cl)
{
	const uint8_t *d = (const uint8_t *)natsMsg_GetData(m);
	uint32_t i, q;

	(void)js;
	(void)cl;
	if (natsMsg_GetDataLength(m) >= 16) {
		memcpy(&i, d, 4);
		memcpy(&q, d + 4, 4);
		if ((int)i < g_r->o.senders && (long)q < g_r->o.count) {
			g_r->t_ack[(long)i * g_r->o.count + q] = now_ns();
			if (pae != NULL || pa == NULL)
				g_r->sh->refused[i]++;
			else
				g_r->sh->acked[i]++;
		}
	}
	natsMsg_Destroy(m);
}

static int
loader_sender(struct lrun *r, int idx)
{
	natsConnection *nc = NULL;
	jsCtx *js = NULL;
	jsOptions jo;
	uint8_t *buf = malloc((size_t)r->o.size);
	long q;

	g_r = r;
	jsOptions_Init(&jo);
	jo.PublishAsync.MaxPending = r->o.window;
	jo.PublishAsync.AckHandler = on_puback;
	jo.PublishAsync.StallWait = 10000;
	if (buf == NULL || connect_tls(r, &nc) != NATS_OK ||
	    natsConnection_JetStream(&js, nc, &jo) != NATS_OK)
		return 1;
	for (q = 0; q < r->o.count; q++) {
		msg_fill(buf, r->o.size, idx, q);
		r->t_sub[(long)idx * r->o.count + q] = now_ns();
		if (js_PublishAsync(js, "bench.t", buf, r->o.size, NULL) != NATS_OK)
			return 1;
	}
	(void)js_PublishAsyncComplete(js, NULL);
	while (r->sh->acked[idx] + r->sh->refused[idx] < r->o.count &&
	    now_ns() < r->sh->t_go + (int64_t)r->o.seconds * 1000000000)
		usleep(1000);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return r->sh->acked[idx] == r->o.count ? 0 : 1;
}

static int
loader_receiver(struct lrun *r, int ready_fd)
{
	natsConnection *nc = NULL;
	natsSubscription *sub = NULL;
	jsCtx *js = NULL;
	natsMsgList list;
	long n = r->o.senders * r->o.count;
	int64_t end = now_ns() + (int64_t)(r->o.seconds + 20) * 1000000000;
	int i;

	if (connect_tls(r, &nc) != NATS_OK ||
	    natsConnection_JetStream(&js, nc, NULL) != NATS_OK ||
	    js_PullSubscribe(&sub, js, "bench.t", "bench", NULL, NULL, NULL) !=
	    NATS_OK)
		return 1;
	if (write(ready_fd, "r", 1) != 1)
		return 1;
	while (r->sh->delivered < n && now_ns() < end) {
		if (natsSubscription_Fetch(&list, sub, 256, 200, NULL) != NATS_OK)
			continue;
		for (i = 0; i < list.Count; i++) {
			(void)msg_seen(r, natsMsg_GetData(list.Msgs[i]),
			    (size_t)natsMsg_GetDataLength(list.Msgs[i]));
			(void)natsMsg_Ack(list.Msgs[i], NULL);
		}
		natsMsgList_Destroy(&list);
	}
	natsConnection_Flush(nc);
	natsSubscription_Destroy(sub);
	jsCtx_Destroy(js);
	natsConnection_Destroy(nc);
	return r->sh->delivered == n ? 0 : 1;
}
