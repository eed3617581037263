/*
 * decider.c - a partner system that decides without acknowledging.
 *
 * On ONE session it receives handovers and accepts each with a Decision,
 * never sending an Ack (a decision acknowledges too). It prints the
 * sender's own message id of each handover it accepted and exits 0 once it has COUNT, or 1 if
 * nothing more arrives within TIMEOUT seconds. With the broker's
 * --max-unacked 1 this proves a decision frees the delivery slot.
 *
 * usage: decider BROKER CA CERT KEY COUNT TIMEOUT
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "baton.h"

int
main(int argc, char **argv)
{
	baton_config cfg;
	baton_client *c;
	baton_incoming *in;
	baton_error e;
	int n = 0, count, timeout_ms;

	if (argc != 7) {
		fprintf(stderr, "usage: decider BROKER CA CERT KEY COUNT TIMEOUT\n");
		return 2;
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.broker = argv[1];
	cfg.ca_file = argv[2];
	cfg.cert_file = argv[3];
	cfg.key_file = argv[4];
	count = atoi(argv[5]);
	timeout_ms = atoi(argv[6]) * 1000;
	if (baton_connect(&cfg, &c, &e) != BATON_OK) {
		fprintf(stderr, "decider: %s\n", e.text);
		return 1;
	}
	while (n < count) {
		Baton__V1__Decision d = BATON__V1__DECISION__INIT;
		int rc = baton_next(c, timeout_ms, &in, &e);

		if (rc != BATON_OK) {
			fprintf(stderr, "decider: %d of %d accepted: %s\n", n, count,
			    e.text);
			baton_close(c);
			return 1;
		}
		if (in->type == BATON_INCOMING_HANDOVER) {
			/* a decision names the handover by its reference */
			d.message_id = (char *)in->reference;
			d.outcome = BATON__V1__DECISION_OUTCOME__DECISION_OUTCOME_ACCEPT;
			if (baton_decide(c, &d, &e) != BATON_OK) {
				fprintf(stderr, "decider: accept %s: %s\n",
				    in->message_id, e.text);
				baton_incoming_free(in);
				baton_close(c);
				return 1;
			}
			printf("%s\n", in->message_id);
			fflush(stdout);
			n++;
		}
		baton_incoming_free(in);
	}
	baton_close(c);
	return 0;
}
