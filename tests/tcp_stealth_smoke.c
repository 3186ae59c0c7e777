// SPDX-License-Identifier: GPL-2.0
/*
 * Smoke tests for tcp_stealth: the per-netns counters exist and a plain
 * TCP handshake between two namespaces is seen by the module.
 *
 * Needs root and the module loaded (scripts/vm-run does both); without the
 * module, the tests that read counters fail, they don't skip.
 */
#include <string.h>
#include <unistd.h>

#define PAIR_NS_TAG "tss"
#include "pair_fixture.h"

/* Generous: TCG + KASAN + lockdep makes every fork/exec slow. */
#define SMOKE_TIMEOUT 120

/* busybox ping's flag for @family. */
static const char *ping_flag(int family)
{
	return family == AF_INET6 ? "-6" : "-4";
}

/* Send @msg over @from and check it arrives on @to. */
static int transfer(int from, int to, const char *msg)
{
	char buf[64] = { 0 };
	size_t len = strlen(msg);

	if (write_all(from, msg, len) || read_all(to, buf, len))
		return -1;
	return memcmp(buf, msg, len) ? -1 : 0;
}

/*
 * The test plumbing alone, no module needed: both sides answer pings and a
 * TCP connection carries data both ways.
 */
TEST_F_TIMEOUT(pair, veth_plumbing, SMOKE_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, afd;
	uint16_t port;

	ASSERT_EQ(0, netns_system(self->ns.a, "busybox ping %s -c 1 -W 5 %s",
				  ping_flag(fam), netns_addr_b(fam)));
	ASSERT_EQ(0, netns_system(self->ns.b, "busybox ping %s -c 1 -W 5 %s",
				  ping_flag(fam), netns_addr_a(fam)));

	lfd = tcp_listen_in(self->ns.b, fam, netns_addr_b(fam), 0, &port);
	ASSERT_LE(0, lfd);
	cfd = tcp_connect_in(self->ns.a, fam, netns_addr_b(fam), port,
			     NETNS_TIMEOUT_MS);
	ASSERT_LE(0, cfd);
	afd = tcp_accept_timeout(lfd, NETNS_TIMEOUT_MS);
	ASSERT_LE(0, afd);
	EXPECT_EQ(0, transfer(cfd, afd, "ping"));
	EXPECT_EQ(0, transfer(afd, cfd, "pong"));
	close(afd);
	close(cfd);
	close(lfd);
}

/* Every fresh namespace gets its own readable counters. */
TEST_F_TIMEOUT(pair, stats_present, SMOKE_TIMEOUT)
{
	long long a, b;

	a = stealth_counter(self->ns.a, "syn_in");
	b = stealth_counter(self->ns.b, "syn_in");
	if (a == -1 || b == -1)
		TH_LOG(TCP_STEALTH_STATS " missing: is tcp_stealth loaded?");
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);
}

/*
 * A connection from a to b: b's hook sees the SYN (once, or a few times if
 * retransmitted), a's sees only a SYN-ACK, which isn't counted.
 */
TEST_F_TIMEOUT(pair, syn_in_counts_incoming_syn, SMOKE_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, afd;
	long long a0, b0, a1, b1;
	uint16_t port;

	lfd = tcp_listen_in(self->ns.b, fam, netns_addr_b(fam), 0, &port);
	ASSERT_LE(0, lfd);

	a0 = stealth_counter(self->ns.a, "syn_in");
	b0 = stealth_counter(self->ns.b, "syn_in");
	if (a0 == -1 || b0 == -1)
		TH_LOG(TCP_STEALTH_STATS " missing: is tcp_stealth loaded?");
	ASSERT_LE(0, a0);
	ASSERT_LE(0, b0);

	cfd = tcp_connect_in(self->ns.a, fam, netns_addr_b(fam), port,
			     NETNS_TIMEOUT_MS);
	ASSERT_LE(0, cfd);
	afd = tcp_accept_timeout(lfd, NETNS_TIMEOUT_MS);
	ASSERT_LE(0, afd);
	EXPECT_EQ(0, transfer(cfd, afd, "hello from a"));
	EXPECT_EQ(0, transfer(afd, cfd, "hello from b"));

	a1 = stealth_counter(self->ns.a, "syn_in");
	b1 = stealth_counter(self->ns.b, "syn_in");
	TH_LOG("syn_in: a %lld -> %lld, b %lld -> %lld", a0, a1, b0, b1);
	EXPECT_LE(b0 + 1, b1);
	EXPECT_GE(b0 + 3, b1);
	EXPECT_EQ(a0, a1);

	close(afd);
	close(cfd);
	close(lfd);
}

TEST_HARNESS_MAIN
