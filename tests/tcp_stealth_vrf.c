// SPDX-License-Identifier: GPL-2.0
/*
 * Protected listeners in a VRF: b's veth0 is a slave of the VRF device
 * "red" (table 10), the way a management VRF holds sshd's interface. TCP
 * finds a listener there by the VRF (SO_BINDTODEVICE to the VRF, or an
 * unbound listener with net.ipv4.tcp_l3mdev_accept), so the module's
 * lookup must too; its closed-port RST is routed in the VRF's table, and
 * an IPv6 reset to a link-local peer leaves by the slave it came in on.
 * Each case also checks the answer a closed port in the VRF gives, so a
 * reset lost in the wrong table shows as a difference.
 */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsv"
#include "pair_fixture.h"

#define VRF "red"
#define POLICY_SECRET "vrf policy secret"
/* Link-local addresses on the veth link (IPv6). */
#define LL_A "fe80::a:1"
#define LL_B "fe80::a:2"
/* The listeners' address: any (the VRF binding picks the domain). */
#define ANY(family) ((family) == AF_INET ? "0.0.0.0" : "::")

/* b's veth0 into the VRF, its addresses (IPv6's go with the link cycle). */
static int vrf_setup(const struct netns_pair *ns)
{
	if (netns_system(ns->b,
			 "ip link add " VRF " type vrf table 10 && ip link set " VRF " up && "
			 "ip link set " NETNS_IFNAME " master " VRF " && "
			 "ip addr replace " NETNS_B_IP4 "/24 dev " NETNS_IFNAME " && "
			 "ip addr replace " NETNS_B_IP6 "/64 dev " NETNS_IFNAME " nodad && "
			 "ip addr replace " LL_B "/64 dev " NETNS_IFNAME " nodad"))
		return -1;
	if (netns_addr_add(ns->a, NETNS_IFNAME, LL_A, 64))
		return -1;
	return netns_link_wait(ns->b, NETNS_IFNAME, 10000);
}

/* A plain client in @ns connecting to @addr:@port: 0 or -errno. */
static int plain_connect(const char *ns, int family, const char *addr, int port)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -EBADF;
	ret = connect_to(fd, family, addr, port, 4000);
	close(fd);
	return ret;
}

/*
 * The listener @lfd on PORT in b: a closed port (PORT + 1) and the
 * listener without a knock or with the wrong secret are refused alike,
 * each with a reset; @secret gets in. Over b's global address, and for
 * IPv6 over its link-local one too.
 */
static void refuses_as_closed(struct __test_metadata *_metadata,
			      const struct netns_pair *ns, int family, int lfd,
			      const char *secret)
{
	long long missing = CTR(ns->b, "knock_missing");
	long long bad = CTR(ns->b, "knock_bad_mac");
	long long rst = CTR(ns->b, "rst_sent");
	long long good = CTR(ns->b, "knock_good");
	char ll[64];
	const char *to[2] = { netns_addr_b(family), NULL };
	int n = 1, cfd;

	if (family == AF_INET6) {
		int idx = netns_ifindex(ns->a, NETNS_IFNAME);

		ASSERT_LT(0, idx);
		snprintf(ll, sizeof(ll), LL_B "%%%d", idx);
		to[n++] = ll;
	}
	for (int i = 0; i < n; i++) {
		EXPECT_EQ(-ECONNREFUSED, plain_connect(ns->a, family, to[i], PORT + 1))
			TH_LOG("closed port in the VRF, to %s", to[i]);
		EXPECT_EQ(-ECONNREFUSED, client(ns->a, family, to[i], NULL, NULL))
			TH_LOG("no knock, to %s", to[i]);
		EXPECT_EQ(-ECONNREFUSED, client(ns->a, family, to[i], SECRET2, NULL))
			TH_LOG("wrong secret, to %s", to[i]);
		cfd = -1;
		ASSERT_EQ(0, client(ns->a, family, to[i], secret, &cfd))
			TH_LOG("knock to %s", to[i]);
		EXPECT_EQ(0, exchange(cfd, lfd));
		close(cfd);
	}
	EXPECT_EQ(missing + n, CTR(ns->b, "knock_missing"));
	EXPECT_EQ(bad + n, CTR(ns->b, "knock_bad_mac"));
	EXPECT_EQ(rst + 2 * n, CTR(ns->b, "rst_sent"));
	EXPECT_EQ(good + n, CTR(ns->b, "knock_good"));
}

/*
 * b's veth0 in the VRF, a listener on PORT bound to @dev (NULL: none) with
 * @secret (NULL: plain, and the administrator protects PORT with
 * POLICY_SECRET instead), checked as refuses_as_closed() checks it.
 */
static void vrf_case(struct __test_metadata *_metadata, const struct netns_pair *ns,
		     int family, const char *dev, const char *secret)
{
	int lfd;

	ASSERT_EQ(0, vrf_setup(ns));
	lfd = listener_on_dev(ns->b, family, ANY(family), PORT, dev, secret, 16);
	ASSERT_LE(0, lfd);
	if (!secret)
		ASSERT_EQ(0, policy_req(ns->b, TCP_STEALTH_CMD_PROTECT, PORT,
					POLICY_SECRET, strlen(POLICY_SECRET)));
	refuses_as_closed(_metadata, ns, family, lfd, secret ? secret : POLICY_SECRET);
	close(lfd);
}

/* A listener bound to the VRF device, as `ip vrf exec red` makes it. */
TEST_F_TIMEOUT(pair, vrf_bound_listener, T_TIMEOUT)
{
	vrf_case(_metadata, &self->ns, variant->family, VRF, SECRET);
}

/* An unbound listener that takes the VRF's connections too. */
TEST_F_TIMEOUT(pair, vrf_l3mdev_accept_listener, T_TIMEOUT)
{
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_l3mdev_accept", "1"));
	vrf_case(_metadata, &self->ns, variant->family, NULL, SECRET);
}

/* sshd in a management VRF, protected by the administrator's policy. */
TEST_F_TIMEOUT(pair, vrf_policy_port, T_TIMEOUT)
{
	vrf_case(_metadata, &self->ns, variant->family, VRF, NULL);
}

/*
 * SYN cookies in the VRF: the knock admits its 4-tuple's cookie ACK, which
 * the hook finds at the same listener.
 */
TEST_F_TIMEOUT(pair, vrf_syn_cookies, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long refused = CTR(self->ns.b, "ack_refused");

	ASSERT_EQ(0, vrf_setup(&self->ns));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies", "2"));
	lfd = listener_on_dev(self->ns.b, fam, ANY(fam), PORT, VRF, SECRET, 16);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(refused, CTR(self->ns.b, "ack_refused"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
}

TEST_HARNESS_MAIN
