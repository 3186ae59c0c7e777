// SPDX-License-Identifier: GPL-2.0
/*
 * The administrator's policy: a port protected through the generic netlink
 * family, for a listener that has no secret of its own (a plain program, no
 * ULP, no setsockopt), per network namespace; and bad requests.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsp"
#include "pair_fixture.h"

static int protect(const char *ns, int port, const char *secret)
{
	return policy_req(ns, TCP_STEALTH_CMD_PROTECT, port, secret, strlen(secret));
}

static int unprotect(const char *ns, int port)
{
	return policy_req(ns, TCP_STEALTH_CMD_UNPROTECT, port, NULL, 0);
}

/*
 * /proc/net/tcp_stealth_policy as namespace @ns sees it, read in this
 * process (a shell per check costs a good part of a second under TCG);
 * "" if it cannot be read.
 */
static const char *policy_text(const char *ns)
{
	static char buf[8192];
	int saved = netns_enter(ns), fd, n = 0, r;

	buf[0] = 0;
	if (saved < 0)
		return buf;
	fd = open("/proc/net/tcp_stealth_policy", O_RDONLY | O_CLOEXEC);
	netns_leave(saved);
	if (fd < 0)
		return buf;
	while (n < (int)sizeof(buf) - 1 && (r = read(fd, buf + n, sizeof(buf) - 1 - n)) > 0)
		n += r;
	buf[n] = 0;
	close(fd);
	return buf;
}

/* Whether the policy listing of @ns has the line @line. */
static int listed_as(const char *ns, const char *line)
{
	const char *t = policy_text(ns), *p;
	size_t len = strlen(line);

	for (p = t; (p = strstr(p, line)); p++)
		if ((p == t || p[-1] == '\n') && p[len] == '\n')
			return 1;
	return 0;
}

/* Whether the policy listing of @ns has port @port. */
static int listed(const char *ns, int port)
{
	char line[32];
	const char *t = policy_text(ns), *p;

	snprintf(line, sizeof(line), "port %d ", port);
	for (p = t; (p = strstr(p, line)); p++)
		if (p == t || p[-1] == '\n')
			return 1;
	return 0;
}

/* Lines in the policy listing of @ns. */
static int listed_count(const char *ns)
{
	const char *p;
	int n = 0;

	for (p = policy_text(ns); *p; p++)
		n += *p == '\n';
	return n;
}

#define SECRET3 "a third secret"
#define PAYLOAD "SSH-2.0-policy\r\n"
#define PAYLOAD_LEN ((int)sizeof(PAYLOAD) - 1)
#define OTHER "SSH-2.0-hijack\r\n"

#define ATTR(t, p, l) { .type = (t), .data = (p), .len = (l) }
#define A_PORT(p) ATTR(TCP_STEALTH_A_PORT, p, sizeof(__u16))
#define A_SECRET(s) ATTR(TCP_STEALTH_A_SECRET, s, strlen(s))
#define A_INT(n) ATTR(TCP_STEALTH_A_INTEGRITY_LEN, n, sizeof(__u32))
#define A_FAMILY(f) ATTR(TCP_STEALTH_A_FAMILY, f, sizeof(__u16))

/* Protect PORT in @ns with the @n secrets and integrity length @ilen. */
static int protect_keys(const char *ns, const char *const *secrets, int n, __u32 ilen)
{
	static __u16 port = PORT;
	struct policy_attr a[8] = { A_PORT(&port) };
	int i, k = 1;

	for (i = 0; i < n; i++)
		a[k++] = (struct policy_attr)A_SECRET(secrets[i]);
	if (ilen)
		a[k++] = (struct policy_attr)A_INT(&ilen);
	return policy_call(ns, TCP_STEALTH_CMD_PROTECT, a, k, NULL, 0);
}

/* read() on @fd: -errno, or the number of bytes read. */
static int read_err(int fd, void *buf, int len)
{
	int n = read(fd, buf, len);

	return n < 0 ? -errno : n;
}


/* A daemon nobody touches: a plain listener, protected by policy alone. */
TEST_F_TIMEOUT(pair, policy_protects_plain_listener, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;
	long long missing = CTR(self->ns.b, "knock_missing");
	long long good = CTR(self->ns.b, "knock_good");

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);

	ASSERT_EQ(0, protect(self->ns.b, PORT, SECRET));
	EXPECT_TRUE(listed(self->ns.b, PORT));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "knock_missing"));
	EXPECT_EQ(-ECONNREFUSED,
		  client(self->ns.a, fam, netns_addr_b(fam), SECRET2, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));

	/* A new secret replaces the old one. */
	ASSERT_EQ(0, protect(self->ns.b, PORT, SECRET2));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), SECRET, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);

	/* Off again: the daemon is reachable as before. */
	ASSERT_EQ(0, unprotect(self->ns.b, PORT));
	EXPECT_FALSE(listed(self->ns.b, PORT));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/* Policy belongs to one namespace: the other one is not affected. */
TEST_F_TIMEOUT(pair, policy_is_per_netns, T_TIMEOUT)
{
	int fam = variant->family, la, lb;

	la = listener(self->ns.a, fam, netns_addr_a(fam), NULL);
	lb = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, la);
	ASSERT_LE(0, lb);
	ASSERT_EQ(0, protect(self->ns.b, PORT, SECRET));
	EXPECT_FALSE(listed(self->ns.a, PORT));
	/* b's port is closed to a plain client; a's port is not. */
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(0, client(self->ns.b, fam, netns_addr_a(fam), NULL, NULL));
	close(la);
	close(lb);
}

/* A listener's own secret wins over the policy for its port. */
TEST_F_TIMEOUT(pair, own_secret_wins, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd = -1;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, protect(self->ns.b, PORT, SECRET2));
	EXPECT_EQ(-ECONNREFUSED,
		  client(self->ns.a, fam, netns_addr_b(fam), SECRET2, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/* Bad requests get a clear errno and change nothing. */
TEST_F_TIMEOUT(pair, policy_bad_requests, T_TIMEOUT)
{
	static char big[TCP_STEALTH_SECRET_MAX + 1];
	const char *b = self->ns.b;
	int i, status, fd;
	pid_t pid;

	EXPECT_EQ(-EINVAL, policy_req(b, TCP_STEALTH_CMD_PROTECT, -1, SECRET, 5));
	EXPECT_EQ(-EINVAL, policy_req(b, TCP_STEALTH_CMD_PROTECT, PORT, NULL, 0));
	EXPECT_EQ(-ERANGE, policy_req(b, TCP_STEALTH_CMD_PROTECT, 0, SECRET, 5));
	EXPECT_EQ(-EINVAL, policy_req(b, TCP_STEALTH_CMD_PROTECT, PORT, big, 0));
	EXPECT_EQ(-ERANGE, policy_req(b, TCP_STEALTH_CMD_PROTECT, PORT, big, sizeof(big)));
	EXPECT_EQ(-EINVAL, policy_req(b, TCP_STEALTH_CMD_UNPROTECT, -1, NULL, 0));
	EXPECT_EQ(-ENOENT, unprotect(b, PORT));
	EXPECT_EQ(-EOPNOTSUPP, policy_req(b, 99, PORT, NULL, 0));
	EXPECT_FALSE(listed(b, PORT));

	/* Up to TCP_STEALTH_POLICY_MAX ports, then ENOSPC. */
	for (i = 0; i < TCP_STEALTH_POLICY_MAX; i++)
		ASSERT_EQ(0, protect(b, 1000 + i, SECRET));
	EXPECT_EQ(-ENOSPC, protect(b, 999, SECRET));
	EXPECT_EQ(0, protect(b, 1000, SECRET2));	/* replacing still works */
	EXPECT_EQ(TCP_STEALTH_POLICY_MAX, listed_count(b));

	/* Without CAP_NET_ADMIN (a socket of the namespace, used by nobody). */
	fd = genl_socket(b);
	ASSERT_LE(0, fd);
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		if (setgid(65534) || setuid(65534))
			_exit(2);
		_exit(policy_send(fd, TCP_STEALTH_CMD_PROTECT, 4000, SECRET, 5) == -EPERM ? 0 : 1);
	}
	close(fd);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	EXPECT_FALSE(listed(b, 4000));
}

/* Key rotation: a port with two keys takes knocks made with either. */
TEST_F_TIMEOUT(pair, policy_two_keys, T_TIMEOUT)
{
	const char *const keys[] = { SECRET2, SECRET };
	int fam = variant->family, lfd, cfd = -1;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, protect_keys(self->ns.b, keys, 2, 0));
	EXPECT_TRUE(listed_as(self->ns.b, "port 4242 keys 2 integrity 0"));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), SECRET3, NULL));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));

	/* The old key retired: one key left. */
	ASSERT_EQ(0, protect_keys(self->ns.b, keys, 1, 0));
	EXPECT_TRUE(listed_as(self->ns.b, "port 4242 keys 1 integrity 0"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), SECRET, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/*
 * A policy port with integrity length n, for a plain listener: a client
 * must commit to its first n bytes; the right bytes reach the application,
 * other bytes reset the connection before it reads any of them.
 */
TEST_F_TIMEOUT(pair, policy_integrity, T_TIMEOUT)
{
	const char *const keys[] = { SECRET2, SECRET };
	int fam = variant->family, lfd, cfd = -1, afd;
	long long missing = CTR(self->ns.b, "integrity_missing");
	long long ok = CTR(self->ns.b, "integrity_ok");
	long long bad = CTR(self->ns.b, "integrity_mismatch");
	char buf[64];
	int one = 1;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, protect_keys(self->ns.b, keys, 2, PAYLOAD_LEN));
	EXPECT_TRUE(listed_as(self->ns.b, "port 4242 keys 2 integrity 16"));

	/* A knock without a commitment: closed. */
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), SECRET, NULL));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "integrity_missing"));

	/* The right bytes, with either key: read by the application. */
	ASSERT_EQ(0, integrity_client(self->ns.a, fam, SECRET, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD "more", PAYLOAD_LEN + 4));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, PAYLOAD_LEN + 4));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD "more", PAYLOAD_LEN + 4));
	close(afd);
	close(cfd);
	EXPECT_EQ(ok + 1, wait_counter(self->ns.b, "integrity_ok", ok + 1));
	ASSERT_EQ(0, integrity_client(self->ns.a, fam, SECRET2, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, PAYLOAD_LEN));
	close(afd);
	close(cfd);
	EXPECT_EQ(ok + 2, wait_counter(self->ns.b, "integrity_ok", ok + 2));

	/*
	 * The first bytes in two segments: both are dropped (nothing is read
	 * unchecked) until the client's TCP sends them again in one.
	 */
	ASSERT_EQ(0, integrity_client(self->ns.a, fam, SECRET, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, 6));
	usleep(20000);
	ASSERT_EQ(0, write_all(cfd, PAYLOAD + 6, PAYLOAD_LEN - 6));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, PAYLOAD_LEN));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, PAYLOAD_LEN));
	close(afd);
	close(cfd);
	EXPECT_EQ(ok + 3, wait_counter(self->ns.b, "integrity_ok", ok + 3));

	/* Other bytes than committed to: both ends reset, nothing read. */
	ASSERT_EQ(0, integrity_client(self->ns.a, fam, SECRET, PAYLOAD, PAYLOAD_LEN, &cfd));
	ASSERT_EQ(0, write_all(cfd, OTHER, PAYLOAD_LEN));
	sock_set_timeouts(cfd, 4000);
	EXPECT_EQ(-ECONNRESET, read_err(cfd, buf, sizeof(buf)));
	EXPECT_EQ(bad + 1, wait_counter(self->ns.b, "integrity_mismatch", bad + 1));
	afd = tcp_accept_timeout(lfd, 300);
	if (afd >= 0) {
		EXPECT_EQ(-ECONNRESET, read_err(afd, buf, sizeof(buf)));
		close(afd);
	}
	close(cfd);
	close(lfd);
}

/*
 * Connections whose first bytes a namespace checks at a time
 * (net.tcp_stealth.integrity_max_conns, tcp_stealth(7)): the tests below set
 * a small room, so that filling it takes few connections under TCG.
 */
#define POLICY_FLOWS 16

/* Room for POLICY_FLOWS connections being checked in @ns: 0 or -1. */
static int small_room(const char *ns)
{
	return netns_sysctl_set(ns, "net.tcp_stealth.integrity_max_conns", "%d", POLICY_FLOWS);
}

/* Protect @port in @ns with @secret and integrity length @ilen. */
static int protect_port(const char *ns, __u16 port, const char *secret, __u32 ilen)
{
	struct policy_attr a[] = { A_PORT(&port), A_SECRET(secret), A_INT(&ilen) };

	return policy_call(ns, TCP_STEALTH_CMD_PROTECT, a, 3, NULL, 0);
}

/*
 * In b, with integrity_timeout_secs @timeout: plain listeners on PORT
 * (*@la, room for every connection the namespace checks) and PORT + 1
 * (*@lb), protected by policy with SECRET and SECRET2, each with integrity.
 * 0 or -1.
 */
static int two_ports(const struct netns_pair *ns, int fam, const char *timeout, int *la,
		     int *lb)
{
	if (netns_sysctl_set(ns->b, "net.tcp_stealth.integrity_timeout_secs", "%s", timeout) ||
	    small_room(ns->b))
		return -1;
	*la = listener_on(ns->b, fam, netns_addr_b(fam), PORT, NULL, 2 * POLICY_FLOWS);
	*lb = listener_on(ns->b, fam, netns_addr_b(fam), PORT + 1, NULL, 16);
	if (*la < 0 || *lb < 0)
		return -1;
	if (protect_port(ns->b, PORT, SECRET, PAYLOAD_LEN) ||
	    protect_port(ns->b, PORT + 1, SECRET2, PAYLOAD_LEN))
		return -1;
	return 0;
}

/* Closes the @n connections in @held and two_ports()' listeners. */
static void close_two_ports(const int *held, int n, int la, int lb)
{
	for (int i = 0; i < n; i++)
		close(held[i]);
	close(la);
	close(lb);
}

/*
 * Two ports with integrity, each with a key of its own. Whoever holds the
 * first port's key (one of its clients) opens connections to it that
 * never send their first bytes, as many as it can: the second port's
 * clients must still get in. (The namespace's slots for connections
 * being checked were one pool for all ports: that many such knocks, from any
 * source addresses the holder likes, refused every client of every other
 * port with integrity for integrity_timeout_secs.)
 */
TEST_F_TIMEOUT(pair, policy_integrity_ports_apart, T_TIMEOUT)
{
	int fam = variant->family, la, lb, cfd = -1, afd, n, ret = 0;
	int held[POLICY_FLOWS];
	char buf[64];

	if (fam == AF_INET6)
		SKIP(return, "the flows' pool does not depend on the family (ipv4 tests it)");
	ASSERT_EQ(0, two_ports(&self->ns, fam, "120", &la, &lb));

	for (n = 0; n < POLICY_FLOWS; n++) {
		ret = integrity_client_to(self->ns.a, fam, PORT, SECRET, PAYLOAD, PAYLOAD_LEN, &held[n]);
		if (ret)
			break;
	}
	TH_LOG("%d connections to the first port wait for their first bytes (then %s)", n,
	       ret ? strerror(-ret) : "stopped");

	/* A client of the second port: in, and its bytes read. */
	ASSERT_EQ(0, integrity_client_to(self->ns.a, fam, PORT + 1, SECRET2, PAYLOAD, PAYLOAD_LEN,
					 &cfd));
	ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lb, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, buf, PAYLOAD_LEN));
	EXPECT_EQ(0, memcmp(buf, PAYLOAD, PAYLOAD_LEN));
	close(afd);
	close(cfd);

	/*
	 * The room cannot shrink below the connections being checked (their
	 * bytes would go unchecked): EBUSY, and the setting stays. It can grow,
	 * and the first port's share with it.
	 */
	errno = 0;
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_max_conns", "2"));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(POLICY_FLOWS, netns_sysctl_get(self->ns.b, "net.tcp_stealth.integrity_max_conns"));
	errno = 0;
	EXPECT_EQ(-1, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_max_conns", "0"));
	EXPECT_EQ(EINVAL, errno);
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_max_conns", "%d",
				      2 * POLICY_FLOWS));
	ASSERT_EQ(0, integrity_client_to(self->ns.a, fam, PORT, SECRET, PAYLOAD, PAYLOAD_LEN, &cfd))
		TH_LOG("the first port's share did not grow with the room");
	close(cfd);
	close_two_ports(held, n, la, lb);
}

/*
 * A connection whose first bytes come too late is cut, however many knocks
 * came meanwhile. Its room used to go to the next knock that found none
 * free once its time was up; its bytes then found nothing to check them and
 * reached the application. Here a client of the second port goes silent
 * past integrity_timeout_secs (an on-path attacker holding its first
 * segment back), the holder of the first port's key fills the room twice
 * over, and then other bytes come on the silent connection: they must
 * reset it, not be read.
 */
TEST_F_TIMEOUT(pair, policy_integrity_late_bytes_cut, T_TIMEOUT)
{
	int fam = variant->family, la, lb, cfd = -1, afd, n = 0, i, round, ret;
	int held[POLICY_FLOWS];
	char buf[64];

	if (fam == AF_INET6)
		SKIP(return, "the flows' pool does not depend on the family (ipv4 tests it)");
	ASSERT_EQ(0, two_ports(&self->ns, fam, "1", &la, &lb));

	ASSERT_EQ(0, integrity_client_to(self->ns.a, fam, PORT + 1, SECRET2, PAYLOAD, PAYLOAD_LEN,
					 &cfd));
	afd = tcp_accept_timeout(lb, 4000);
	ASSERT_LE(0, afd);
	usleep(1500 * 1000);
	/* Connections to the first port that send nothing, twice its room. */
	for (round = 0; round < 2; round++) {
		for (i = 0; i < POLICY_FLOWS / 2 && n < POLICY_FLOWS; i++, n++) {
			ret = integrity_client_to(self->ns.a, fam, PORT, SECRET, PAYLOAD,
						  PAYLOAD_LEN, &held[n]);
			if (ret)
				break;
		}
		usleep(1500 * 1000);
	}
	TH_LOG("%d connections to the first port", n);

	ASSERT_EQ(0, write_all(cfd, OTHER, PAYLOAD_LEN));
	sock_set_timeouts(afd, 3000);
	ret = read_err(afd, buf, sizeof(buf));
	EXPECT_EQ(-ECONNRESET, ret) TH_LOG("the late bytes were read (%d)", ret);
	close(afd);
	close(cfd);
	close_two_ports(held, n, la, lb);
}

#define VICTIM_PORT 40123

/*
 * The same with SYN cookies: the silent client's handshake is not complete
 * at the server (its ACK is held back too), so TCP has no connection for it
 * while its time runs out; but the ACK may still make one from the cookie
 * (its knock admitted it), and then its late bytes must be cut as well.
 * The connection's room used to go to the next knock then.
 */
TEST_F_TIMEOUT(pair, policy_integrity_late_cookie_cut, T_TIMEOUT)
{
	int fam = variant->family, la, cfd, afd, n, ret, i;
	int held[POLICY_FLOWS];
	struct pollfd p = { .events = POLLIN };
	struct sockaddr_storage ss;
	long long cut;
	socklen_t sl;
	char buf[64];

	if (fam == AF_INET6)
		SKIP(return, "the flows' pool does not depend on the family (ipv4 tests it)");
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies", "2"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.integrity_timeout_secs", "1"));
	ASSERT_EQ(0, small_room(self->ns.b));
	la = listener_on(self->ns.b, fam, netns_addr_b(fam), PORT, NULL, 2 * POLICY_FLOWS);
	ASSERT_LE(0, la);
	ASSERT_EQ(0, protect_port(self->ns.b, PORT, SECRET, PAYLOAD_LEN));

	/* Everything but the SYN of the silent client is held back. */
	ASSERT_EQ(0, netns_system(self->ns.a,
		"nft 'add table inet hold; "
		"add chain inet hold out { type filter hook output priority 0; }; "
		"add rule inet hold out tcp sport %d tcp flags & (syn | ack) == ack drop'",
		VICTIM_PORT));
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	sl = netns_sockaddr(fam, netns_addr_a(fam), VICTIM_PORT, &ss);
	ASSERT_EQ(0, bind(cfd, (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, PAYLOAD, PAYLOAD_LEN));
	ASSERT_EQ(0, connect_to(cfd, fam, netns_addr_b(fam), PORT, 4000));
	ASSERT_EQ(0, write_all(cfd, OTHER, PAYLOAD_LEN));

	/* Other clients of the port fill its room, wait, and one more knocks. */
	for (n = 0; n < POLICY_FLOWS - 1; n++)
		if (integrity_client_to(self->ns.a, fam, PORT, SECRET, PAYLOAD, PAYLOAD_LEN,
					&held[n]))
			break;
	usleep(1500 * 1000);
	ret = integrity_client_to(self->ns.a, fam, PORT, SECRET, PAYLOAD, PAYLOAD_LEN, &held[n]);
	TH_LOG("%d connections, then %s", n, ret ? strerror(-ret) : "one more");
	if (!ret)
		n++;
	while ((afd = tcp_accept_timeout(la, 300)) >= 0)
		close(afd);

	/* The silent client's ACK and bytes come now (its next retransmission). */
	cut = CTR(self->ns.b, "integrity_timeout");
	ASSERT_EQ(0, netns_system(self->ns.a, "nft delete table inet hold"));
	for (i = 0; i < 150 && CTR(self->ns.b, "integrity_timeout") == cut; i++) {
		p.fd = la;
		if (poll(&p, 1, 100) > 0)
			break;
	}
	usleep(300 * 1000);
	p.fd = la;
	afd = poll(&p, 1, 0) > 0 ? tcp_accept_timeout(la, 1000) : -1;
	if (afd >= 0) {
		sock_set_timeouts(afd, 2000);
		ret = read_err(afd, buf, sizeof(buf));
		EXPECT_NE(PAYLOAD_LEN, ret) TH_LOG("the late bytes were read");
		close(afd);
	}
	EXPECT_EQ(cut + 1, CTR(self->ns.b, "integrity_timeout"));
	close(cfd);
	for (i = 0; i < n; i++)
		close(held[i]);
	close(la);
}

/* Bad attributes: a clear errno, and the extended ACK says why. */
/*
 * A port protected for the variant's family only (TCP_STEALTH_A_FAMILY)
 * wants the knock over that family and stays open over the other; protected
 * again without the attribute, it wants it over both.
 */
TEST_F_TIMEOUT(pair, policy_one_family, T_TIMEOUT)
{
	static __u16 port = PORT;
	int fam = variant->family, other = fam == AF_INET ? AF_INET6 : AF_INET;
	__u16 af = fam;
	struct policy_attr a[] = { A_PORT(&port), A_SECRET(SECRET), A_FAMILY(&af) };
	int lfd, lo, cfd = -1;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	lo = listener(self->ns.b, other, netns_addr_b(other), NULL);
	ASSERT_LE(0, lfd);
	ASSERT_LE(0, lo);
	ASSERT_EQ(0, policy_call(self->ns.b, TCP_STEALTH_CMD_PROTECT, a, 3, NULL, 0));
	EXPECT_TRUE(listed_as(self->ns.b, fam == AF_INET ?
			      "port 4242 keys 1 integrity 0 family ipv4" :
			      "port 4242 keys 1 integrity 0 family ipv6"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	ASSERT_EQ(0, client(self->ns.a, other, netns_addr_b(other), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, lo));
	close(cfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), SECRET, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);

	ASSERT_EQ(0, protect(self->ns.b, PORT, SECRET));
	EXPECT_TRUE(listed_as(self->ns.b, "port 4242 keys 1 integrity 0"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, other, netns_addr_b(other), NULL, NULL));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
	close(lo);
}

TEST_F_TIMEOUT(pair, policy_bad_attributes, T_TIMEOUT)
{
	static __u16 port = PORT, zero, af_bad = 99, af4 = AF_INET;
	static __u32 n16 = 16, n_big = TCP_STEALTH_POLICY_INTEGRITY_MAX + 1;
	const char *b = self->ns.b;
	char msg[128];
	struct policy_attr five[] = {
		A_PORT(&port), A_SECRET("k1"), A_SECRET("k2"), A_SECRET("k3"),
		A_SECRET("k4"), A_SECRET("k5"),
	};
	struct policy_attr same[] = { A_PORT(&port), A_SECRET("k1"), A_SECRET("k1") };
	struct policy_attr twice[] = { A_PORT(&port), A_PORT(&port), A_SECRET("k1") };
	struct policy_attr big[] = { A_PORT(&port), A_SECRET("k1"), A_INT(&n_big) };
	struct policy_attr ints[] = { A_PORT(&port), A_SECRET("k1"), A_INT(&n16), A_INT(&n16) };
	struct policy_attr unp[] = { A_PORT(&port), A_INT(&n16) };
	struct policy_attr zport[] = { A_PORT(&zero), A_SECRET("k1") };
	struct policy_attr empty[] = { A_PORT(&port), A_SECRET("k1"), ATTR(TCP_STEALTH_A_SECRET, "", 0) };
	struct policy_attr fbad[] = { A_PORT(&port), A_SECRET("k1"), A_FAMILY(&af_bad) };
	struct policy_attr funp[] = { A_PORT(&port), A_FAMILY(&af4) };
	struct policy_attr four[] = {
		A_PORT(&port), A_SECRET("k1"), A_SECRET("k2"), A_SECRET("k3"),
		A_SECRET("k4"), A_INT(&n16),
	};
	const struct {
		int cmd, err, n;
		const struct policy_attr *a;
		const char *msg;	/* NULL: any message, but one */
	} cases[] = {
		{ TCP_STEALTH_CMD_PROTECT, -E2BIG, 6, five, "more secrets than a port can hold (4)" },
		{ TCP_STEALTH_CMD_PROTECT, -EEXIST, 3, same, "the same secret twice" },
		{ TCP_STEALTH_CMD_PROTECT, -EINVAL, 3, twice, "attribute given twice" },
		{ TCP_STEALTH_CMD_PROTECT, -ERANGE, 3, big, NULL },
		{ TCP_STEALTH_CMD_PROTECT, -EINVAL, 4, ints, "attribute given twice" },
		{ TCP_STEALTH_CMD_UNPROTECT, -EINVAL, 2, unp, "attribute not taken by this command" },
		{ TCP_STEALTH_CMD_PROTECT, -EINVAL, 2, unp, "no secret" },
		{ TCP_STEALTH_CMD_PROTECT, -ERANGE, 2, zport, NULL },
		{ TCP_STEALTH_CMD_PROTECT, -EINVAL, 3, empty, "empty secret" },
		{ TCP_STEALTH_CMD_UNPROTECT, -ENOENT, 1, unp, "port is not protected" },
		{ TCP_STEALTH_CMD_PROTECT, -EINVAL, 3, fbad, "family must be AF_INET or AF_INET6" },
		{ TCP_STEALTH_CMD_UNPROTECT, -EINVAL, 2, funp, "attribute not taken by this command" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT_EQ(cases[i].err, policy_call(b, cases[i].cmd, cases[i].a, cases[i].n,
						    msg, sizeof(msg))) TH_LOG("case %u", i);
		if (cases[i].msg) {
			EXPECT_STREQ(cases[i].msg, msg) TH_LOG("case %u", i);
		} else {
			EXPECT_NE(0, msg[0]) TH_LOG("case %u", i);
		}
	}
	EXPECT_FALSE(listed(b, PORT));

	/* The limits themselves are fine. */
	EXPECT_EQ(0, policy_call(b, TCP_STEALTH_CMD_PROTECT, four, 6, msg, sizeof(msg)));
	EXPECT_TRUE(listed_as(b, "port 4242 keys 4 integrity 16"));
}

TEST_HARNESS_MAIN
