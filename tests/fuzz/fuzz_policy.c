/*
 * fuzz_policy.c - libFuzzer target for the policy.conf parser
 * (broker/policy.c), the broker's other untrusted text input.
 *
 * Any input either parses, giving a policy whose every route names a
 * declared role and whose section masks are within the dataset, or is
 * refused with at least one "name:line: reason" error. Queries on a parsed
 * policy must not fault for any role name.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[4096];
	struct policy *p;
	int i, j;

	p = policy_parse("fuzz.conf", (const char *)data, size, err, sizeof(err));
	if (p == NULL) {
		if (strncmp(err, "fuzz.conf:", 10) != 0)
			abort();
		return 0;
	}
	for (i = 0; i < p->nroles; i++) {
		const struct policy_role *r = &p->roles[i];

		if ((r->receive & ~SECTIONS_ALL) != 0)
			abort();
		if (policy_role(p, r->name) != r)
			abort();
		for (j = 0; j < r->nroutes; j++) {
			if (policy_role(p, r->routes[j].to_role) == NULL)
				abort();
			(void)policy_route_allowed(p, r->name, r->routes[j].to_role, 3);
		}
	}
	(void)policy_sections(p, "");
	(void)policy_route_allowed(p, "", "", 0);
	policy_free(p);
	return 0;
}
