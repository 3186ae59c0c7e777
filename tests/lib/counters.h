/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The module's per-namespace counters (TCP_STEALTH_STATS) as a whole: a
 * snapshot of all of them and a check of how each moved between two.
 * stealth_counter() (netns.h) reads a single one.
 */
#ifndef TCP_STEALTH_TESTS_COUNTERS_H
#define TCP_STEALTH_TESTS_COUNTERS_H

/*
 * Every counter of TCP_STEALTH_STATS in one namespace, with the names the
 * module gives them (src/stats.rs): the tests keep no list of their own.
 */
#define STEALTH_COUNTERS_MAX 64
struct stealth_counters {
	int n;
	char name[STEALTH_COUNTERS_MAX][32];
	long long val[STEALTH_COUNTERS_MAX];
};

/* Read all of @ns's counters into @c: 0, or -1 with a message. */
int stealth_counters_read(const char *ns, struct stealth_counters *c);

/* A counter's expected move, for stealth_counters_check(). */
struct counter_delta {
	const char *name;	/* NULL: entry unused */
	long long delta;	/* COUNTER_ANY: not checked */
};
#define COUNTER_ANY (-1000)

/*
 * Every counter (and gauge: stealth_sockets, the sockets that hold keys)
 * must have moved from @c0 to @c1 by what @exp (@nexp
 * entries) says (entries for the same name add up), all others not at all.
 * A name in @exp that the module does not have is a problem too, as are
 * snapshots that list different counters. Returns the number of problems,
 * each printed on stderr with @what.
 */
int stealth_counters_check(const char *what, const struct stealth_counters *c0,
			   const struct stealth_counters *c1,
			   const struct counter_delta *exp, int nexp);

/* Print every counter of @ns on stderr, with @what. */
void stealth_counters_log(const char *what, const char *ns);

#endif /* TCP_STEALTH_TESTS_COUNTERS_H */
