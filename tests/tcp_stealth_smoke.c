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
 * One connection from a to b; the change of b's and a's syn_in it caused.
 */
static int connect_once(struct __test_metadata *_metadata, const char *a,
			const char *b, int fam, long long *da, long long *db)
{
	long long a0, b0;
	int lfd, cfd, afd;
	uint16_t port;

	lfd = tcp_listen_in(b, fam, netns_addr_b(fam), 0, &port);
	if (lfd < 0)
		return -1;
	a0 = stealth_counter(a, "syn_in");
	b0 = stealth_counter(b, "syn_in");
	if (a0 == -1 || b0 == -1)
		TH_LOG(TCP_STEALTH_STATS " missing: is tcp_stealth loaded?");
	cfd = tcp_connect_in(a, fam, netns_addr_b(fam), port, NETNS_TIMEOUT_MS);
	afd = cfd < 0 ? -1 : tcp_accept_timeout(lfd, NETNS_TIMEOUT_MS);
	if (afd >= 0 && (transfer(cfd, afd, "hello from a") ||
			 transfer(afd, cfd, "hello from b")))
		afd = (close(afd), -1);
	*da = stealth_counter(a, "syn_in") - a0;
	*db = stealth_counter(b, "syn_in") - b0;
	TH_LOG("syn_in changed by a %lld, b %lld", *da, *db);
	if (afd >= 0)
		close(afd);
	if (cfd >= 0)
		close(cfd);
	close(lfd);
	return a0 < 0 || b0 < 0 || afd < 0 ? -1 : 0;
}

/*
 * The module's hooks come to a namespace with its first socket with a secret
 * (or port protected by policy): before that, its packets never pass them,
 * and b's syn_in does not move for a plain connection (it used to: the hooks
 * were in every namespace from its creation, and parsed every TCP segment).
 * From then on the hook sees every SYN to b, plain listener or not (once, or
 * a few times if retransmitted); a, which has none, still sees nothing.
 */
TEST_F_TIMEOUT(pair, syn_in_counts_once_stealth_is_used, SMOKE_TIMEOUT)
{
	int fam = variant->family, sfd;
	long long da, db;

	ASSERT_EQ(0, connect_once(_metadata, self->ns.a, self->ns.b, fam, &da, &db));
	EXPECT_EQ(0, db);
	EXPECT_EQ(0, da);

	/* A socket with a secret in b, on no port at all. */
	sfd = sock_in(self->ns.b, fam);
	ASSERT_LE(0, sfd);
	ASSERT_EQ(0, set_secret(sfd, "smoke secret", 0));

	ASSERT_EQ(0, connect_once(_metadata, self->ns.a, self->ns.b, fam, &da, &db));
	EXPECT_LE(1, db);
	EXPECT_GE(3, db);
	EXPECT_EQ(0, da);

	/* The hooks stay when the last such socket is gone. */
	close(sfd);
	ASSERT_EQ(0, connect_once(_metadata, self->ns.a, self->ns.b, fam, &da, &db));
	EXPECT_LE(1, db);
	EXPECT_EQ(0, da);
}

TEST_HARNESS_MAIN
