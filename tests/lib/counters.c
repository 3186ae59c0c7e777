// SPDX-License-Identifier: GPL-2.0
/*
 * Snapshots of the module's counters, read from TCP_STEALTH_STATS with the
 * names the module gives them, and checks of how they moved.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "counters.h"
#include "netns.h"

int stealth_counters_read(const char *ns, struct stealth_counters *c)
{
	char key[sizeof(c->name[0]) + 1];
	long long val;
	int ret = 0;
	FILE *f = netns_fopen(ns, TCP_STEALTH_STATS);

	c->n = 0;
	if (!f) {
		fprintf(stderr, "# open " TCP_STEALTH_STATS " in %s: %s\n", ns,
			strerror(errno));
		return -1;
	}
	/* %32s: one more than a name may have, to catch a long one. */
	while (fscanf(f, "%32s %lld", key, &val) == 2) {
		if (strlen(key) >= sizeof(c->name[0]) ||
		    c->n == STEALTH_COUNTERS_MAX) {
			fprintf(stderr, "# %s: counter '%s' (or more than %d): "
				"the tests' table is too small\n", ns, key,
				STEALTH_COUNTERS_MAX);
			ret = -1;
			break;
		}
		/* The cache's size in bytes, not a count of events: it moves
		 * when a namespace first needs the cache (tcp_stealth_sockopt's
		 * replay_cache_when_needed checks it). */
		if (!strcmp(key, "replay_cache_bytes"))
			continue;
		strcpy(c->name[c->n], key);
		c->val[c->n++] = val;
	}
	if (!ret && (!feof(f) || !c->n)) {
		fprintf(stderr, "# %s: cannot parse " TCP_STEALTH_STATS
			" after %d counters\n", ns, c->n);
		ret = -1;
	}
	fclose(f);
	return ret;
}

/* The index of @name in @c, or -1. */
static int counter_index(const struct stealth_counters *c, const char *name)
{
	for (int i = 0; i < c->n; i++)
		if (!strcmp(c->name[i], name))
			return i;
	return -1;
}

int stealth_counters_check(const char *what, const struct stealth_counters *c0,
			   const struct stealth_counters *c1,
			   const struct counter_delta *exp, int nexp)
{
	int i, j, bad = 0;

	for (j = 0; j < nexp; j++) {
		if (exp[j].name && counter_index(c1, exp[j].name) < 0) {
			fprintf(stderr, "# %s: the module has no counter '%s' "
				"(" TCP_STEALTH_STATS ")\n", what, exp[j].name);
			bad++;
		}
	}
	if (c0->n != c1->n) {
		fprintf(stderr, "# %s: %d counters before, %d after\n", what,
			c0->n, c1->n);
		bad++;
	}
	for (i = 0; i < c1->n; i++) {
		int k = counter_index(c0, c1->name[i]);
		long long want = 0, got;
		bool any = false;

		if (k < 0) {
			fprintf(stderr, "# %s: counter %s appeared\n", what,
				c1->name[i]);
			bad++;
			continue;
		}
		got = c1->val[i] - c0->val[k];
		for (j = 0; j < nexp; j++) {
			if (!exp[j].name || strcmp(exp[j].name, c1->name[i]))
				continue;
			if (exp[j].delta == COUNTER_ANY)
				any = true;
			else
				want += exp[j].delta;
		}
		if (any) {
			if (got)
				fprintf(stderr, "# %s: %s moved by %lld (not "
					"checked)\n", what, c1->name[i], got);
		} else if (got != want) {
			fprintf(stderr, "# %s: counter %s moved by %lld, "
				"expected %lld\n", what, c1->name[i], got, want);
			bad++;
		}
	}
	return bad;
}

void stealth_counters_log(const char *what, const char *ns)
{
	struct stealth_counters c;

	if (stealth_counters_read(ns, &c))
		return;
	for (int i = 0; i < c.n; i++)
		fprintf(stderr, "# %s: %s %s %lld\n", what, ns, c.name[i],
			c.val[i]);
}
