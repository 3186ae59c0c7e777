// SPDX-License-Identifier: GPL-2.0
/*
 * Knock core: protected listeners, knocking clients, the socket option API
 * and its errors, key rotation, SYN retransmission, SYN cookies, NAT on
 * either side, and the counters behind each case.
 *
 * Every test makes its own namespaces: a (client side) and b (server side),
 * joined by veth; the NAT tests add a third.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include <linux/tcp_stealth.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define T_TIMEOUT 300
#define PORT 4242
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
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsc"));
}

FIXTURE_TEARDOWN_PARENT(core)
{
	netns_pair_destroy(&self->ns);
}

/* Attach the ULP (unless @single, which relies on the kernel patch). */
static int set_secret(int fd, const char *secret, int single)
{
	if (!single && setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7))
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, strlen(secret)))
		return -errno;
	return 0;
}

static int key_op(int fd, __u32 flags, const char *secret)
{
	struct tcp_stealth_key k = { .flags = flags };

	k.secret_len = strlen(secret);
	memcpy(k.secret, secret, k.secret_len);
	return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)) ? -errno : 0;
}

/* A TCP socket in namespace @ns. */
static int sock_in(const char *ns, int family)
{
	int saved = netns_enter(ns), fd;

	if (saved < 0)
		return -1;
	fd = socket(family, SOCK_STREAM, 0);
	netns_leave(saved);
	return fd;
}

/* A listener in @ns on @addr:PORT protected with @secret (NULL: plain). */
static int listener(const char *ns, int family, const char *addr,
		    const char *secret)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(family, addr, PORT, &ss);
	int fd = sock_in(ns, family), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((secret && set_secret(fd, secret, 0)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* connect() with a timeout: 0, or -errno (-ETIMEDOUT when nothing came). */
static int connect_to(int fd, int family, const char *addr, int port,
		      int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(family, addr, port, &ss);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		goto out;
	if (errno != EINPROGRESS)
		return -errno;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
		return -err;
out:
	fcntl(fd, F_SETFL, fl);
	sock_set_timeouts(fd, NETNS_TIMEOUT_MS);
	return 0;
}

/* A client in @ns with @secret (NULL: plain) connecting to @addr. */
static int client(const char *ns, int family, const char *addr,
		  const char *secret, int *fd_out)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -EBADF;
	if (secret && (ret = set_secret(fd, secret, 0))) {
		close(fd);
		return ret;
	}
	ret = connect_to(fd, family, addr, PORT, 4000);
	if (ret || !fd_out)
		close(fd);
	else
		*fd_out = fd;
	return ret;
}

/* Data flows both ways between a fresh connection's two ends. */
static int exchange(int cfd, int lfd)
{
	char buf[5];
	int afd = tcp_accept_timeout(lfd, 4000), ret = -1;

	if (afd < 0)
		return -1;
	if (!write_all(cfd, "knock", 5) && !read_all(afd, buf, 5) &&
	    !memcmp(buf, "knock", 5) && !write_all(afd, "hello", 5) &&
	    !read_all(cfd, buf, 5) && !memcmp(buf, "hello", 5))
		ret = 0;
	close(afd);
	return ret;
}

#define CTR(ns, name) stealth_counter(ns, name)

TEST_F_TIMEOUT(core, valid_knock_connects, T_TIMEOUT)
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

/* With the kernel patch, TCP_STEALTH alone attaches the ULP. */
TEST_F_TIMEOUT(core, single_setsockopt, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, one = 1;
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	char ulp[16] = "";
	socklen_t ulen = sizeof(ulp);

	lfd = sock_in(self->ns.b, fam);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, set_secret(lfd, SECRET, 1));
	ASSERT_EQ(0, getsockopt(lfd, IPPROTO_TCP, TCP_ULP, ulp, &ulen));
	EXPECT_STREQ("stealth", ulp);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(lfd, 4));

	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 1));
	ASSERT_EQ(0, connect_to(cfd, fam, netns_addr_b(fam), PORT, 4000));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(core, no_knock_is_refused, T_TIMEOUT)
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

TEST_F_TIMEOUT(core, wrong_secret_is_refused, T_TIMEOUT)
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
TEST_F_TIMEOUT(core, drop_mode_is_silent, T_TIMEOUT)
{
	int fam = variant->family, lfd;
	long long dropped = CTR(self->ns.b, "dropped");

	ASSERT_EQ(0, netns_system(self->ns.b, "sysctl -qw net.tcp_stealth.reject=1"));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(-ETIMEDOUT, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_LE(dropped + 1, CTR(self->ns.b, "dropped"));
	/* Bad values are refused and change nothing. */
	EXPECT_NE(0, netns_system(self->ns.b, "sysctl -qw net.tcp_stealth.reject=2 2>/dev/null"));
	EXPECT_NE(0, netns_system(self->ns.b, "sysctl -qw net.tcp_stealth.skew_secs=0 2>/dev/null"));
	EXPECT_NE(0, netns_system(self->ns.b, "sysctl -qw net.tcp_stealth.skew_secs=3601 2>/dev/null"));
	EXPECT_EQ(0, netns_system(self->ns.b, "test $(sysctl -n net.tcp_stealth.reject) = 1"));
	EXPECT_EQ(0, netns_system(self->ns.b, "test $(sysctl -n net.tcp_stealth.skew_secs) = 120"));
	close(lfd);
}

/* An IPv6 listener without V6ONLY takes knocks from IPv4 clients too. */
TEST_F_TIMEOUT(core, dual_stack_listener, T_TIMEOUT)
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
TEST_F_TIMEOUT(core, syn_retransmit_connects, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, i, ret;
	long long sent = CTR(self->ns.a, "knock_sent");
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	struct pollfd pfd = { .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);

	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft add table inet t && "
		"nft add chain inet t in '{ type filter hook input priority -50; }' && "
		"nft add rule inet t in tcp dport %d tcp flags syn counter drop",
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
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	ASSERT_EQ(0, getsockopt(cfd, SOL_SOCKET, SO_ERROR, &err, &elen));
	ASSERT_EQ(0, err);
	fcntl(cfd, F_SETFL, 0);
	sock_set_timeouts(cfd, NETNS_TIMEOUT_MS);
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_LE(sent + 2, CTR(self->ns.a, "knock_sent"));
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(core, syn_cookies, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;

	ASSERT_EQ(0, netns_system(self->ns.b, "sysctl -qw net.ipv4.tcp_syncookies=2"));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(0, netns_system(self->ns.b,
		"nstat -az TcpExtSyncookiesSent | awk '/Syncookies/ { exit !($2 >= 1) }'"));
	close(lfd);
}

TEST_F_TIMEOUT(core, key_rotation, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	const char *b = netns_addr_b(fam);
	struct tcp_stealth_info info;
	socklen_t ilen = sizeof(info);

	lfd = listener(self->ns.b, fam, b, SECRET);
	ASSERT_LE(0, lfd);
	/* Both keys work while the new one is rolled out... */
	ASSERT_EQ(0, key_op(lfd, TCP_STEALTH_KEY_ADD, SECRET2));
	ASSERT_EQ(0, getsockopt(lfd, IPPROTO_TCP, TCP_STEALTH, &info, &ilen));
	EXPECT_EQ(2, (int)info.nkeys);
	EXPECT_EQ(TCP_STEALTH_INFO_ENABLED, (int)info.flags);
	ASSERT_EQ(0, client(self->ns.a, fam, b, SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	ASSERT_EQ(0, client(self->ns.a, fam, b, SECRET2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	/* ...then the old one is retired. */
	ASSERT_EQ(0, key_op(lfd, TCP_STEALTH_KEY_DEL, SECRET));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, b, SECRET, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, b, SECRET2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/* Every bad call fails with its errno and leaves the socket as it was. */
TEST_F_TIMEOUT(core, setsockopt_errors, T_TIMEOUT)
{
	int fam = variant->family, fd, cfd = -1, lfd, udp;
	char big[TCP_STEALTH_SECRET_MAX + 1];
	struct tcp_stealth_key k = { .flags = TCP_STEALTH_KEY_ADD, .secret_len = 3 };
	struct tcp_stealth_info info;
	socklen_t ilen = sizeof(info);
	int i;

	memset(big, 'x', sizeof(big));
	memcpy(k.secret, "abc", 3);
	fd = socket(fam, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	/* Without the ULP the option is TCP's own business: unknown. */
	EXPECT_EQ(-1, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH, &info, &ilen));
	EXPECT_EQ(ENOPROTOOPT, errno);
	ASSERT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	ilen = sizeof(info);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH, &info, &ilen));
	EXPECT_EQ(0, (int)info.flags);
	EXPECT_EQ(0, (int)info.nkeys);

	/* Lengths. */
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, big, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, big, sizeof(big)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k) - 1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, NULL, 8));
	EXPECT_EQ(EFAULT, errno);
	/* Flags: unknown bits, both, none. */
	k.flags = 1U << 7;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)));
	EXPECT_EQ(EINVAL, errno);
	k.flags = TCP_STEALTH_KEY_ADD | TCP_STEALTH_KEY_DEL;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)));
	EXPECT_EQ(EINVAL, errno);
	k.flags = TCP_STEALTH_KEY_ADD;
	k.secret_len = 0;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)));
	EXPECT_EQ(EINVAL, errno);
	k.secret_len = TCP_STEALTH_SECRET_MAX + 1;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)));
	EXPECT_EQ(EINVAL, errno);
	/* An option number in the module's range that means nothing. */
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, 0x535f, big, 4));
	EXPECT_EQ(ENOPROTOOPT, errno);
	/* None of that changed anything. */
	ilen = sizeof(info);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH, &info, &ilen));
	EXPECT_EQ(0, (int)info.nkeys);

	/* Key set limits. */
	EXPECT_EQ(-ENOENT, key_op(fd, TCP_STEALTH_KEY_DEL, "never added"));
	for (i = 0; i < TCP_STEALTH_MAX_KEYS; i++) {
		char s[8];

		snprintf(s, sizeof(s), "key%d", i);
		EXPECT_EQ(0, key_op(fd, TCP_STEALTH_KEY_ADD, s));
	}
	EXPECT_EQ(-ENOSPC, key_op(fd, TCP_STEALTH_KEY_ADD, "one too many"));
	EXPECT_EQ(-EEXIST, key_op(fd, TCP_STEALTH_KEY_ADD, "key0"));
	ilen = sizeof(info);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH, &info, &ilen));
	EXPECT_EQ(TCP_STEALTH_MAX_KEYS, (int)info.nkeys);
	/* Options that would crowd the knock out of the SYN. */
	{
		int on = 1;

		EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_FASTOPEN_CONNECT, &on, sizeof(on)));
		EXPECT_EQ(EBUSY, errno);
	}
	close(fd);

	/* Not a TCP socket: TCP options do not exist there. */
	udp = socket(fam, SOCK_DGRAM, 0);
	ASSERT_LE(0, udp);
	EXPECT_EQ(-1, setsockopt(udp, IPPROTO_TCP, TCP_STEALTH, "abc", 3));
	EXPECT_EQ(ENOPROTOOPT, errno);
	EXPECT_EQ(-1, setsockopt(udp, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	EXPECT_EQ(ENOPROTOOPT, errno);
	close(udp);

	/* Wrong state: after connect(), the SYN has gone. */
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	EXPECT_EQ(-1, setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	EXPECT_EQ(EISCONN, errno);
	EXPECT_EQ(-1, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH, "abc", 3));
	EXPECT_EQ(EISCONN, errno);
	close(cfd);
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	ASSERT_EQ(0, connect_to(cfd, fam, netns_addr_b(fam), PORT, 4000));
	EXPECT_EQ(-EISCONN, set_secret(cfd, SECRET, 1));
	close(cfd);
	close(lfd);
}

/*
 * A client behind masquerading NAT: its source address and port change on
 * the way, which the knock does not cover.
 */
TEST_F_TIMEOUT(core, client_behind_masquerade, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	char c[80];
	int six = fam == AF_INET6;

	snprintf(c, sizeof(c), "%sc-%d", "tsc", getpid());
	/* c -- veth1 -- a (router, masquerade) -- veth0 -- b (server) */
	ASSERT_EQ(0, netns_ip("netns add %s", c));
	ASSERT_EQ(0, netns_system(c, "ip link set lo up"));
	ASSERT_EQ(0, netns_system(self->ns.a,
		"ip link add veth1 type veth peer name veth1 netns %s && "
		"ip link set veth1 up && ip addr add 10.0.2.1/24 dev veth1 && "
		"ip addr add fd02::1/64 dev veth1 nodad && "
		"sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 && "
		"nft add table inet nat && "
		"nft add chain inet nat post '{ type nat hook postrouting priority 100; }' && "
		"nft add rule inet nat post oifname veth0 masquerade", c));
	ASSERT_EQ(0, netns_system(c,
		"ip link set veth1 up && ip addr add 10.0.2.2/24 dev veth1 && "
		"ip addr add fd02::2/64 dev veth1 nodad && "
		"ip route add default via 10.0.2.1 && ip -6 route add default via fd02::1"));
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
	netns_ip("netns del %s", c);
}

/*
 * A server behind destination NAT: the client dials b's public address, b
 * forwards the port to a private address of its own.
 */
TEST_F_TIMEOUT(core, server_behind_dnat, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	const char *priv = fam == AF_INET ? "10.9.9.9" : "fd09::9";

	ASSERT_EQ(0, netns_system(self->ns.b,
		"ip addr add %s%s dev lo %s && "
		"nft add table inet nat && "
		"nft add chain inet nat pre '{ type nat hook prerouting priority -100; }' && "
		"nft add rule inet nat pre %s daddr %s tcp dport %d dnat %s to %s",
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
TEST_F_TIMEOUT(core, knock_without_checksum_offload, T_TIMEOUT)
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
 * TCP-MD5 needs 20 bytes of the SYN's option space, as does the knock: the
 * two cannot be combined, whichever comes first.
 */
TEST_F_TIMEOUT(core, md5_and_knock_exclude_each_other, T_TIMEOUT)
{
	int fam = variant->family, fd;
	struct tcp_md5sig md5 = { .tcpm_keylen = 6 };

	memcpy(md5.tcpm_key, "md5key", 6);
	netns_sockaddr(fam, netns_addr_b(fam), 0, &md5.tcpm_addr);
	fd = socket(fam, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_secret(fd, SECRET, 0));
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md5, sizeof(md5)));
	EXPECT_EQ(EBUSY, errno);
	close(fd);

	fd = socket(fam, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &md5, sizeof(md5)));
	EXPECT_EQ(-EBUSY, set_secret(fd, SECRET, 0));
	close(fd);
}

/* A protected socket pins the module: rmmod is refused, nothing breaks. */
TEST_F_TIMEOUT(core, unload_refused_while_in_use, T_TIMEOUT)
{
	int fam = variant->family, lfd;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_NE(0, system("rmmod tcp_stealth 2>/dev/null"));
	EXPECT_EQ(0, system("grep -q '^tcp_stealth ' /proc/modules"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
}

TEST_HARNESS_MAIN
