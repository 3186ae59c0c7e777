// SPDX-License-Identifier: GPL-2.0
/*
 * Knock core on the network: protected listeners and knocking clients,
 * refusals that look like a closed port, SYN retransmission, SYN cookies,
 * checksum offload, NAT on either side, and the counters behind each case.
 *
 * Every test makes its own namespaces: a (client side) and b (server side),
 * joined by veth; the NAT tests add a third.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsc"
#include "pair_fixture.h"

TEST_F_TIMEOUT(pair, valid_knock_connects, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long good = CTR(self->ns.b, "knock_good");
	long long sent = CTR(self->ns.a, "knock_sent");

	ASSERT_LE(0, good);
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	EXPECT_EQ(sent + 1, CTR(self->ns.a, "knock_sent"));
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, no_knock_is_refused, T_TIMEOUT)
{
	int fam = variant->family, lfd;
	long long missing = CTR(self->ns.b, "knock_missing");
	long long rst = CTR(self->ns.b, "rst_sent");

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	/* Exactly what a closed port answers: ECONNREFUSED, at once. */
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "knock_missing"));
	EXPECT_EQ(rst + 1, CTR(self->ns.b, "rst_sent"));
	close(lfd);
}

TEST_F_TIMEOUT(pair, wrong_secret_is_refused, T_TIMEOUT)
{
	int fam = variant->family, lfd;
	long long bad = CTR(self->ns.b, "knock_bad_mac");
	long long good = CTR(self->ns.b, "knock_good");

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(-ECONNREFUSED,
		  client(self->ns.a, fam, netns_addr_b(fam), "not the secret", NULL));
	EXPECT_EQ(bad + 1, CTR(self->ns.b, "knock_bad_mac"));
	EXPECT_EQ(good, CTR(self->ns.b, "knock_good"));
	close(lfd);
}

/* The administrator may prefer silence: then nothing answers at all. */
TEST_F_TIMEOUT(pair, drop_mode_is_silent, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd;
	long long dropped = CTR(self->ns.b, "dropped");

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.reject", "1"));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	/* An RST would come within milliseconds; wait 1.5 s for nothing. */
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(-ETIMEDOUT, connect_to(cfd, fam, netns_addr_b(fam), PORT, 1500));
	close(cfd);
	EXPECT_LE(dropped + 1, CTR(self->ns.b, "dropped"));
	/* Bad values are refused and change nothing. */
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.reject", "2"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.skew_secs", "0"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.skew_secs", "3601"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(1, netns_sysctl_get(self->ns.b, "net.tcp_stealth.reject"));
	EXPECT_EQ(120, netns_sysctl_get(self->ns.b, "net.tcp_stealth.skew_secs"));
	close(lfd);
}

/* An IPv6 listener without V6ONLY takes knocks from IPv4 clients too. */
TEST_F_TIMEOUT(pair, dual_stack_listener, T_TIMEOUT)
{
	int lfd, cfd = -1;

	if (variant->family != AF_INET)
		SKIP(return, "one run is enough");
	lfd = listener(self->ns.b, AF_INET6, "::", SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, AF_INET, NETNS_B_IP4, SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, AF_INET, NETNS_B_IP4, NULL, NULL));
	close(lfd);
}

/* The first SYN is lost; the retransmission (with a fresh knock) gets in. */
TEST_F_TIMEOUT(pair, syn_retransmit_connects, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, i, ret;
	long long sent = CTR(self->ns.a, "knock_sent");
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	struct pollfd pfd = { .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);

	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft 'add table inet t; "
		"add chain inet t in { type filter hook input priority -50; }; "
		"add rule inet t in tcp dport %d tcp flags syn counter drop'",
		PORT));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	ret = connect(cfd, (struct sockaddr *)&ss, len);
	ASSERT_TRUE(ret == 0 || errno == EINPROGRESS);
	/* Let the first SYN (or first few, the VM is slow) be dropped. */
	for (i = 0; i < 100; i++) {
		if (!netns_system(self->ns.b,
				  "nft list chain inet t in | grep -q 'packets [1-9]'"))
			break;
		usleep(20000);
	}
	ASSERT_LT(i, 100);
	ASSERT_EQ(0, netns_system(self->ns.b, "nft flush chain inet t in"));
	pfd.fd = cfd;
	/* Backoff doubles: up to four drops under load means 15 s. */
	ASSERT_EQ(1, poll(&pfd, 1, 30000));
	ASSERT_EQ(0, getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &elen));
	ASSERT_EQ(0, err);
	fcntl(cfd, F_SETFL, 0);
	sock_set_timeouts(cfd, NETNS_TIMEOUT_MS);
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_LE(sent + 2, CTR(self->ns.a, "knock_sent"));
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, syn_cookies, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies", "2"));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_LE(1, netstat_counter(self->ns.b, "TcpExt", "SyncookiesSent"));
	close(lfd);
}

/*
 * A client behind masquerading NAT: its source address and port change on
 * the way, which the knock does not cover.
 */
TEST_F_TIMEOUT(pair, client_behind_masquerade, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	char c[80];
	int six = fam == AF_INET6;

	/* c -- veth1 -- a (router, masquerade) -- veth0 -- b (server) */
	ASSERT_EQ(0, netns_masq_client(self->ns.a, "tsc", c, sizeof(c)));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(0, client(c, fam, netns_addr_b(fam), SECRET, &cfd));
	if (cfd >= 0) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		int afd = tcp_accept_timeout(lfd, 4000);

		ASSERT_LE(0, afd);
		ASSERT_EQ(0, getpeername(afd, (struct sockaddr *)&peer, &plen));
		struct sockaddr_storage router;

		netns_sockaddr(fam, netns_addr_a(fam), 0, &router);
		/* The server saw the router's address: NAT really happened. */
		if (six) {
			EXPECT_EQ(0, memcmp(&((struct sockaddr_in6 *)&peer)->sin6_addr,
					    &((struct sockaddr_in6 *)&router)->sin6_addr, 16));
		} else {
			EXPECT_EQ(((struct sockaddr_in *)&router)->sin_addr.s_addr,
				  ((struct sockaddr_in *)&peer)->sin_addr.s_addr);
		}
		EXPECT_EQ(0, write_all(cfd, "x", 1));
		close(afd);
		close(cfd);
	}
	EXPECT_EQ(-ECONNREFUSED, client(c, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
	netns_del(c);
}

/*
 * A server behind destination NAT: the client dials b's public address, b
 * forwards the port to a private address of its own.
 */
TEST_F_TIMEOUT(pair, server_behind_dnat, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	const char *priv = fam == AF_INET ? "10.9.9.9" : "fd09::9";

	ASSERT_EQ(0, netns_system(self->ns.b,
		"ip addr add %s%s dev lo %s && "
		"nft 'add table inet nat; "
		"add chain inet nat pre { type nat hook prerouting priority -100; }; "
		"add rule inet nat pre %s daddr %s tcp dport %d dnat %s to %s'",
		priv, fam == AF_INET ? "/32" : "/128", fam == AF_INET ? "" : "nodad",
		fam == AF_INET ? "ip" : "ip6", netns_addr_b(fam), PORT,
		fam == AF_INET ? "ip" : "ip6", priv));
	lfd = listener(self->ns.b, fam, priv, SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
}

/*
 * The knock is inserted on the output path with the TCP checksum either left
 * to offload (CHECKSUM_PARTIAL, veth's default) or computed in full: turn
 * transmit checksum offload off and the SYN must still verify.
 */
TEST_F_TIMEOUT(pair, knock_without_checksum_offload, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long good = CTR(self->ns.b, "knock_good");

	ASSERT_EQ(0, netns_system(self->ns.a, "ethtool -K veth0 tx off >/dev/null"));
	ASSERT_EQ(0, netns_system(self->ns.a,
		"ethtool -k veth0 | grep -q 'tx-checksumming: off'"));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	close(cfd);
	close(lfd);
}

/*
 * A knocking client whose SYN carries the most IP header a socket can ask
 * for: 40 bytes of IPv4 options (IP_OPTIONS, any user may set them), or
 * IPv6 hop-by-hop and destination options headers. The knock goes in after
 * them (the output hook finds the TCP header behind them and moves them
 * with it), and the server finds it there.
 */
TEST_F_TIMEOUT(pair, knock_behind_ip_options, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, ret;
	long long good = CTR(self->ns.b, "knock_good");
	uint8_t opts[40];

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	if (fam == AF_INET) {
		memset(opts, 1, sizeof(opts));		/* NOP ... */
		opts[sizeof(opts) - 1] = 0;		/* ... end of list */
		ASSERT_EQ(0, setsockopt(cfd, IPPROTO_IP, IP_OPTIONS, opts, sizeof(opts)));
	} else {
		/*
		 * Next header, length 1 (16 bytes), then an experimental option
		 * (0x1e, RFC 4727: skipped where unknown) over the rest (more
		 * than 7 bytes of padding in a row is invalid in Linux).
		 */
		static const uint8_t ext[16] = { 0, 1, 0x1e, 12 };

		ASSERT_EQ(0, setsockopt(cfd, IPPROTO_IPV6, IPV6_HOPOPTS, ext, sizeof(ext)));
		ASSERT_EQ(0, setsockopt(cfd, IPPROTO_IPV6, IPV6_DSTOPTS, ext, sizeof(ext)));
	}
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	ret = connect_to(cfd, fam, netns_addr_b(fam), PORT, 4000);
	ASSERT_EQ(0, ret) TH_LOG("connect: %s", strerror(-ret));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	close(cfd);
	close(lfd);
}

/*
 * A client socket bound to a fixed source port (SO_REUSEADDR), with @secret
 * (NULL: plain), connecting to b. 0 or -errno; the socket goes to @fd_out.
 */
static int client_from_port(const char *ns, int fam, int sport, const char *secret,
			    int *fd_out)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_a(fam), sport, &ss);
	int fd = sock_in(ns, fam), one = 1, ret;

	if (fd < 0)
		return -EBADF;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len))
		ret = -errno;
	else if (secret && (ret = set_secret(fd, secret, 0)))
		;
	else
		ret = connect_to(fd, fam, netns_addr_b(fam), PORT, 4000);
	if (ret)
		close(fd);
	else
		*fd_out = fd;
	return ret;
}

/*
 * The server closed first, so it keeps the 4-tuple in TIME_WAIT, and TCP
 * would take a new SYN on that 4-tuple straight to the listener. Without a
 * knock it must still get the closed port's answer.
 */
TEST_F_TIMEOUT(pair, time_wait_reuse_needs_knock, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, sport = 40000 + getpid() % 20000, i;
	long long missing = CTR(self->ns.b, "knock_missing");
	char c;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client_from_port(self->ns.a, fam, sport, SECRET, &cfd));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	close(afd);			/* the server closes first */
	EXPECT_EQ(0, read(cfd, &c, 1));	/* the client sees the FIN */
	close(cfd);
	/* The server's side of the 4-tuple is in TIME_WAIT now. */
	for (i = 0; i < 50 && tcp_port_state_in(self->ns.b, sport, TCP_TIME_WAIT) != 1; i++)
		usleep(100 * 1000);
	ASSERT_EQ(1, tcp_port_state_in(self->ns.b, sport, TCP_TIME_WAIT))
		netns_system(self->ns.b, "ss -tan >&2");

	EXPECT_EQ(-ECONNREFUSED, client_from_port(self->ns.a, fam, sport, NULL, &cfd));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "knock_missing"));
	/* With the knock, the 4-tuple is usable again. */
	ASSERT_EQ(0, client_from_port(self->ns.a, fam, sport, SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/*
 * Two links between a and b, each with its own link-local addresses. The
 * server's routes to fe80::/64 are one per link, so a reset routed by its
 * destination alone leaves by whichever link's route comes first. TCP sends
 * a closed port's reset to a link-local peer out of the interface the probe
 * came in on; a protected port's must go the same way, or a prober on the
 * other link sees its SYNs go unanswered where a closed port's are refused.
 */
FIXTURE(links) {
	struct netns_pair ns;
};

FIXTURE_SETUP(links)
{
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsl"));
	ASSERT_EQ(0, netns_ll_links_add(&self->ns));
}

FIXTURE_TEARDOWN_PARENT(links)
{
	netns_pair_destroy(&self->ns);
}

TEST_F_TIMEOUT(links, link_local_refusal_leaves_by_the_probes_link, T_TIMEOUT)
{
	long long missing = CTR(self->ns.b, "knock_missing");
	long long rst = CTR(self->ns.b, "rst_sent");
	int lfd, cfd;

	lfd = listener(self->ns.b, AF_INET6, "::", SECRET);
	ASSERT_LE(0, lfd);
	for (unsigned int i = 0; i < NETNS_LL_LINKS; i++) {
		int idx = netns_ifindex(self->ns.a, netns_ll_links[i].ifname);
		char to[64];
		int fd;

		ASSERT_LT(0, idx);
		snprintf(to, sizeof(to), "%s%%%d", netns_ll_links[i].b, idx);
		/* The reference: a closed port answers on this link. */
		fd = sock_in(self->ns.a, AF_INET6);
		ASSERT_LE(0, fd);
		EXPECT_EQ(-ECONNREFUSED, connect_to(fd, AF_INET6, to, PORT + 1, 4000))
			TH_LOG("closed port over %s", netns_ll_links[i].ifname);
		close(fd);
		/* The protected port, without a knock: the same answer. */
		EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, AF_INET6, to, NULL, NULL))
			TH_LOG("protected port over %s: no reset came back",
			       netns_ll_links[i].ifname);
		/* With the knock, in. */
		cfd = -1;
		ASSERT_EQ(0, client(self->ns.a, AF_INET6, to, SECRET, &cfd))
			TH_LOG("knock over %s", netns_ll_links[i].ifname);
		EXPECT_EQ(0, exchange(cfd, lfd));
		close(cfd);
	}
	EXPECT_EQ(missing + NETNS_LL_LINKS, CTR(self->ns.b, "knock_missing"));
	EXPECT_EQ(rst + NETNS_LL_LINKS, CTR(self->ns.b, "rst_sent"));
	close(lfd);
}

TEST_HARNESS_MAIN
