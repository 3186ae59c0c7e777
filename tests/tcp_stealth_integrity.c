// SPDX-License-Identifier: GPL-2.0
/*
 * Payload integrity: a client commits its knock to its first bytes
 * (TCP_STEALTH_INTEGRITY), a listener requires that (TCP_STEALTH_INTEGRITY_LEN)
 * and its application never sees a byte before all n are verified.
 *
 * Namespaces a (client) and b (server) joined by veth, IPv4 and IPv6; the
 * NAT test adds a third. (The hijack test, which needs raw packets, is in
 * tcp_stealth_wire.c.)
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsi"
#include "pair_fixture.h"

#define PAYLOAD "SSH-2.0-tcp_stealth integrity test\r\n"
#define PAYLOAD_LEN ((int)sizeof(PAYLOAD) - 1)

#define int_listener(ns, fam, n) integrity_listener(ns, fam, SECRET, n)
#define int_client(ns, fam, commit, len, fd_out) \
	integrity_client(ns, fam, SECRET, commit, len, fd_out)

/* read() on a held socket: -errno it failed with, or the bytes it read. */
static int read_err(int fd, void *buf, int len)
{
	int n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

#define wait_ctr wait_counter

TEST_F_TIMEOUT(pair, matching_payload, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long ok = CTR(self->ns.b, "integrity_ok");
	char buf[PAYLOAD_LEN + 5];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	/* The committed bytes, and more: what follows is ordinary payload. */
	ASSERT_EQ(0, write_all(cfd, PAYLOAD "more!", PAYLOAD_LEN + 5));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD "more!", sizeof(buf)));
	ASSERT_EQ(0, write_all(afd, "hello", 5));
	ASSERT_EQ(0, read_all(cfd, buf, 5));
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
	close(afd);
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, one_byte_changed_is_reset, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long bad = CTR(self->ns.b, "integrity_mismatch");
	char sent[] = PAYLOAD, buf[64];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	sent[7] ^= 0x20;
	ASSERT_EQ(0, write_all(cfd, sent, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	/* The server application gets an error, never a byte. */
	EXPECT_EQ(-EBADMSG, read_err(afd, buf, sizeof(buf)));
	EXPECT_GE(0, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(bad + 1, CTR(self->ns.b, "integrity_mismatch"));
	/* The client is reset. */
	EXPECT_EQ(-ECONNRESET, read_err(cfd, buf, sizeof(buf)));
	close(afd);
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, short_payload_then_close, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long sh = CTR(self->ns.b, "integrity_short");
	char buf[64];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, 10));
	ASSERT_EQ(0, shutdown(cfd, SHUT_WR));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	EXPECT_EQ(-ECONNABORTED, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(sh + 1, CTR(self->ns.b, "integrity_short"));
	EXPECT_EQ(-ECONNRESET, read_err(cfd, buf, sizeof(buf)));
	close(afd);
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, bytes_never_come, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long to = CTR(self->ns.b, "integrity_timeout");
	long long t0;
	char buf[64];

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_timeout_secs", "1"));
	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, 3));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	t0 = now_ms();
	/* A blocking read waits for the verdict: the deadline, about 1 s. */
	EXPECT_EQ(-ETIMEDOUT, read_err(afd, buf, sizeof(buf)));
	EXPECT_LE(500, now_ms() - t0);
	EXPECT_EQ(to + 1, CTR(self->ns.b, "integrity_timeout"));
	EXPECT_EQ(-ECONNRESET, read_err(cfd, buf, sizeof(buf)));
	close(afd);
	close(cfd);
	close(lfd);
}

/* Segmentation is the sender's business: one byte per segment. */
TEST_F_TIMEOUT(pair, one_byte_at_a_time, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, one = 1, i;
	long long ok = CTR(self->ns.b, "integrity_ok");
	char buf[PAYLOAD_LEN];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	for (i = 0; i < PAYLOAD_LEN; i++) {
		ASSERT_EQ(0, write_all(cfd, PAYLOAD + i, 1));
		usleep(2000);
	}
	ASSERT_EQ(0, read_all(afd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, sizeof(buf)));
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
	close(afd);
	close(cfd);
	close(lfd);
}

/*
 * The first data segment is lost once: the next ones arrive out of order,
 * then the retransmission fills the hole.
 */
TEST_F_TIMEOUT(pair, lost_segment_retransmitted, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, n = 4000, i;
	long long ok = CTR(self->ns.b, "integrity_ok");
	char *data = malloc(n), *buf = malloc(n);

	ASSERT_TRUE(data && buf);
	for (i = 0; i < n; i++)
		data[i] = 'a' + i % 26;
	/* Real segments on the wire, not one GSO packet. */
	ASSERT_EQ(0, netns_system(self->ns.a, "ethtool -K veth0 tso off gso off >/dev/null"));
	/* Drops the first segment with payload, and only that one. */
	ASSERT_EQ(0, drop_big_segments(self->ns.b, 2000));
	lfd = int_listener(self->ns.b, fam, n);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, data, n, &cfd));
	ASSERT_EQ(0, write_all(cfd, data, n));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, n));
	EXPECT_EQ(0, memcmp(buf, data, n));
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
	/* The loss really happened. */
	EXPECT_EQ(0, dropped_segments(self->ns.b, 1));
	close(afd);
	close(cfd);
	close(lfd);
	free(data);
	free(buf);
}

TEST_F_TIMEOUT(pair, largest_n, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	int n = TCP_STEALTH_INTEGRITY_MAX, i;
	long long ok = CTR(self->ns.b, "integrity_ok");
	unsigned char *data = malloc(n + 1), *buf = malloc(n + 1);

	ASSERT_TRUE(data && buf);
	srand(getpid());
	for (i = 0; i <= n; i++)
		data[i] = rand();
	lfd = int_listener(self->ns.b, fam, n);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, data, n, &cfd));
	ASSERT_EQ(0, write_all(cfd, data, n + 1));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, n + 1));
	EXPECT_EQ(0, memcmp(buf, data, n + 1));
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
	close(afd);
	close(cfd);
	close(lfd);
	free(data);
	free(buf);
}

TEST_F_TIMEOUT(pair, client_behind_nat, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long ok = CTR(self->ns.b, "integrity_ok");
	char c[80], buf[PAYLOAD_LEN];

	ASSERT_EQ(0, netns_masq_client(self->ns.a, PAIR_NS_TAG, c, sizeof(c)));
	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(0, int_client(c, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	if (cfd >= 0) {
		EXPECT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
		afd = tcp_accept_timeout(lfd, 4000);
		EXPECT_LE(0, afd);
		EXPECT_EQ(0, read_all(afd, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, PAYLOAD, sizeof(buf)));
		EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
		close(afd);
		close(cfd);
	}
	close(lfd);
	netns_del(c);
}

/*
 * A non-blocking server with epoll: nothing is readable, by any measure,
 * until the last committed byte is in; then everything is.
 */
TEST_F_TIMEOUT(pair, epoll_sees_nothing_unverified, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, ep, inq = -1;
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP }, out;
	char buf[PAYLOAD_LEN];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	fcntl(afd, F_SETFL, fcntl(afd, F_GETFL) | O_NONBLOCK);
	ep = epoll_create1(0);
	ASSERT_LE(0, ep);
	ev.data.fd = afd;
	ASSERT_EQ(0, epoll_ctl(ep, EPOLL_CTL_ADD, afd, &ev));

	ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN - 1));
	/* All but one byte are in the server's queue: still nothing. */
	EXPECT_EQ(0, epoll_wait(ep, &out, 1, 700));
	EXPECT_EQ(-EAGAIN, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(-EAGAIN, (int)(recv(afd, buf, sizeof(buf), MSG_PEEK) < 0 ? -errno : 0));
	EXPECT_EQ(0, ioctl(afd, FIONREAD, &inq));
	EXPECT_EQ(0, inq);

	ASSERT_EQ(0, write_all(cfd, PAYLOAD + PAYLOAD_LEN - 1, 1));
	ASSERT_EQ(1, epoll_wait(ep, &out, 1, 4000));
	EXPECT_TRUE(out.events & EPOLLIN);
	EXPECT_EQ(0, ioctl(afd, FIONREAD, &inq));
	EXPECT_EQ(PAYLOAD_LEN, inq);
	EXPECT_EQ(PAYLOAD_LEN, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, sizeof(buf)));
	close(ep);
	close(afd);
	close(cfd);
	close(lfd);
}

/* Mode mismatch 1: the client commits, the listener does not check. */
TEST_F_TIMEOUT(pair, commit_to_plain_listener, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long un = CTR(self->ns.b, "integrity_unchecked");

	lfd = int_listener(self->ns.b, fam, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_EQ(un + 1, CTR(self->ns.b, "integrity_unchecked"));
	close(cfd);
	close(lfd);
}

/* Mode mismatch 2: the listener requires a commitment the client lacks. */
TEST_F_TIMEOUT(pair, no_commitment_is_refused, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long miss = CTR(self->ns.b, "integrity_missing");
	long long rst = CTR(self->ns.b, "rst_sent");

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	/* A closed port's answer. */
	EXPECT_EQ(-ECONNREFUSED, int_client(self->ns.a, fam, NULL, 0, &cfd));
	EXPECT_EQ(miss + 1, CTR(self->ns.b, "integrity_missing"));
	EXPECT_EQ(rst + 1, CTR(self->ns.b, "rst_sent"));
	close(lfd);
}

/* The server's n must equal the client's: n is part of the commitment. */
TEST_F_TIMEOUT(pair, different_n_is_reset, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long bad = CTR(self->ns.b, "integrity_mismatch");
	char buf[64];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN - 1);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, int_client(self->ns.a, fam, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	EXPECT_EQ(-EBADMSG, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(bad + 1, wait_ctr(self->ns.b, "integrity_mismatch", bad + 1));
	close(afd);
	close(cfd);
	close(lfd);
}

/* Bad arguments get a clear errno and change nothing. */
TEST_F_TIMEOUT(pair, integrity_sockopt_errors, T_TIMEOUT)
{
	int fam = variant->family, fd, lfd, v, cfd = -1;
	socklen_t len = sizeof(v);
	static char big[TCP_STEALTH_INTEGRITY_MAX + 1];

	fd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_secret(fd, SECRET, 0));
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, big, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, big, sizeof(big)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, (void *)8, 4));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, &v, &len));
	EXPECT_EQ(0, v);
	EXPECT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, big,
				TCP_STEALTH_INTEGRITY_MAX));
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, &v, &len));
	EXPECT_EQ(TCP_STEALTH_INTEGRITY_MAX, v);

	v = -1;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v, sizeof(v)));
	EXPECT_EQ(EINVAL, errno);
	v = TCP_STEALTH_INTEGRITY_MAX + 1;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v, sizeof(v)));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v, 2));
	EXPECT_EQ(EINVAL, errno);
	close(fd);

	/* A listener does not commit; its n reads back. */
	lfd = int_listener(self->ns.b, fam, 77);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(-1, setsockopt(lfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, "x", 1));
	EXPECT_EQ(EINVAL, errno);
	len = sizeof(v);
	ASSERT_EQ(0, getsockopt(lfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v, &len));
	EXPECT_EQ(77, v);

	/* The deadline setting refuses what it cannot mean. */
	EXPECT_EQ(10, netns_sysctl_get(self->ns.b, "net.tcp_stealth.integrity_timeout_secs"));
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_timeout_secs", "0"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_timeout_secs", "601"));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(10, netns_sysctl_get(self->ns.b, "net.tcp_stealth.integrity_timeout_secs"));

	/* Too late once connected. */
	ASSERT_EQ(0, int_client(self->ns.a, fam, "x", 1, &cfd));
	EXPECT_EQ(-1, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, "y", 1));
	EXPECT_EQ(EISCONN, errno);
	v = 1;
	EXPECT_EQ(-1, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v, sizeof(v)));
	EXPECT_EQ(EISCONN, errno);
	close(cfd);
	close(lfd);
}

/*
 * A listener without keys of its own (an administrator's policy port, or
 * none at all) cannot check a commitment: TCP_STEALTH_INTEGRITY_LEN is
 * refused with ENOKEY instead of being accepted and ignored.
 */
TEST_F_TIMEOUT(pair, integrity_len_needs_own_keys, T_TIMEOUT)
{
	int fam = variant->family, fd, n = PAYLOAD_LEN, len = sizeof(n);

	fd = sock_in(self->ns.b, fam);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	EXPECT_EQ(ENOKEY, errno);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, (socklen_t *)&len));
	EXPECT_EQ(0, n);
	/* Turning it off needs no key; with a key it is taken. */
	n = 0;
	EXPECT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	ASSERT_EQ(0, set_secret(fd, SECRET, 1));	/* the ULP is there */
	n = PAYLOAD_LEN;
	EXPECT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	close(fd);
}

/*
 * The listener's keys are removed while it still requires integrity: it
 * wants no knock any more, but connections are not let through unchecked.
 * Each one fails as one without a commitment (EBADMSG) and is reset.
 */
TEST_F_TIMEOUT(pair, keys_removed_fails_closed, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd;
	long long lost = CTR(self->ns.b, "integrity_lost");
	char buf[64];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, key_op(lfd, TCP_STEALTH_KEY_DEL, SECRET));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	EXPECT_EQ(-EBADMSG, read_err(afd, buf, sizeof(buf)));
	EXPECT_EQ(lost + 1, wait_ctr(self->ns.b, "integrity_lost", lost + 1));
	EXPECT_EQ(-ECONNRESET, read_err(cfd, buf, sizeof(buf)));
	close(afd);
	close(cfd);
	close(lfd);
}

/*
 * A listener keeps, per key, where the check of each connection starts, made
 * for its length: changing the length and adding a key afterwards must leave
 * every key checking the new length (and neither the old length nor another
 * key's start).
 */
TEST_F_TIMEOUT(pair, length_and_keys_changed_on_listener, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1, afd, n = PAYLOAD_LEN, i;
	long long ok = CTR(self->ns.b, "integrity_ok");
	static const char *const secrets[] = { SECRET, "a second key" };
	char buf[PAYLOAD_LEN];

	lfd = int_listener(self->ns.b, fam, PAYLOAD_LEN - 1);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	ASSERT_EQ(0, key_op(lfd, TCP_STEALTH_KEY_ADD, secrets[1]));
	for (i = 0; i < 2; i++) {
		ASSERT_EQ(0, integrity_client(self->ns.a, fam, secrets[i], PAYLOAD, PAYLOAD_LEN,
					      &cfd));
		ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
		afd = tcp_accept_timeout(lfd, 4000);
		ASSERT_LE(0, afd);
		ASSERT_EQ(0, read_all(afd, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, PAYLOAD, sizeof(buf)));
		EXPECT_EQ(ok + i + 1, CTR(self->ns.b, "integrity_ok"));
		close(afd);
		close(cfd);
	}
	close(lfd);
}

TEST_HARNESS_MAIN
