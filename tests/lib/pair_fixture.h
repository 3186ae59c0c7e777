/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest fixture most test programs share, FIXTURE(pair): two fresh
 * network namespaces, a (client side) and b (server side), joined by veth
 * (netns_pair_create()), with the variants ipv4 and ipv6 (variant->family).
 * Each test makes its own listeners and clients in them.
 *
 * Define PAIR_NS_TAG (a short prefix for the namespace names, one per
 * program) before including this. run_all.sh splits a program that includes
 * this header into one unit per variant.
 */
#ifndef TCP_STEALTH_TESTS_PAIR_FIXTURE_H
#define TCP_STEALTH_TESTS_PAIR_FIXTURE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#ifndef PAIR_NS_TAG
#error "define PAIR_NS_TAG before including pair_fixture.h"
#endif

#define T_TIMEOUT 300
#define SECRET "pair test secret"
#define SECRET2 "the next secret"

FIXTURE(pair) {
	struct netns_pair ns;
};

FIXTURE_VARIANT(pair) {
	int family;
};

FIXTURE_VARIANT_ADD(pair, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(pair, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(pair)
{
	/* netns_pair_create() cleans up after itself if it fails. */
	ASSERT_EQ(0, netns_pair_create(&self->ns, PAIR_NS_TAG));
}

/*
 * In the parent: it runs even if the test process crashed, and the 6.12
 * harness skips a child-side teardown after a failed ASSERT at -O2 (its
 * "child" local is clobbered by longjmp).
 */
FIXTURE_TEARDOWN_PARENT(pair)
{
	netns_pair_destroy(&self->ns);
}

#endif /* TCP_STEALTH_TESTS_PAIR_FIXTURE_H */
