// SPDX-License-Identifier: GPL-2.0
/*
 * The administrator's policy: a port protected through the generic netlink
 * family, for a listener that has no secret of its own (a plain program, no
 * ULP, no setsockopt), per network namespace; and bad requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define STEALTH_NS_TAG "tsp"
#include "stealth_fixture.h"

static int protect(const char *ns, int port, const char *secret)
{
	return policy_req(ns, TCP_STEALTH_CMD_PROTECT, port, secret, strlen(secret));
}

static int unprotect(const char *ns, int port)
{
	return policy_req(ns, TCP_STEALTH_CMD_UNPROTECT, port, NULL, 0);
}

/* Whether /proc/net/tcp_stealth_policy in @ns lists @port. */
static int listed(const char *ns, int port)
{
	return netns_system(ns, "grep -qx 'port %d' /proc/net/tcp_stealth_policy", port) == 0;
}

/* A daemon nobody touches: a plain listener, protected by policy alone. */
TEST_F_TIMEOUT(core, policy_protects_plain_listener, T_TIMEOUT)
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
TEST_F_TIMEOUT(core, policy_is_per_netns, T_TIMEOUT)
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
TEST_F_TIMEOUT(core, own_secret_wins, T_TIMEOUT)
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
TEST_F_TIMEOUT(core, policy_bad_requests, T_TIMEOUT)
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
	EXPECT_EQ(0, netns_system(b, "test $(wc -l < /proc/net/tcp_stealth_policy) = %d",
				  TCP_STEALTH_POLICY_MAX));

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

TEST_HARNESS_MAIN
