/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The kselftest fixture shared by the knock test programs: namespaces a
 * (client side) and b (server side) joined by veth, run once for IPv4 and
 * once for IPv6. Define STEALTH_NS_TAG (a short prefix for the namespace
 * names) before including this.
 */
#ifndef TCP_STEALTH_TESTS_STEALTH_FIXTURE_H
#define TCP_STEALTH_TESTS_STEALTH_FIXTURE_H

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#define T_TIMEOUT 300
#define SECRET "core test secret"
#define SECRET2 "the next secret"

FIXTURE(core) {
	struct netns_pair ns;
};

FIXTURE_VARIANT(core) {
	int family;
};

FIXTURE_VARIANT_ADD(core, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(core, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(core)
{
	ASSERT_EQ(0, netns_pair_create(&self->ns, STEALTH_NS_TAG));
}

FIXTURE_TEARDOWN_PARENT(core)
{
	netns_pair_destroy(&self->ns);
}

#endif /* TCP_STEALTH_TESTS_STEALTH_FIXTURE_H */
