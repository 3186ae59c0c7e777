// SPDX-License-Identifier: GPL-2.0
/*
 * The socket option API: the single-call path of the kernel patch, key
 * rotation, every error path of setsockopt/getsockopt, exclusion with
 * TCP-MD5, and unloading while sockets use the module.
 *
 * Every test makes its own namespaces: a (client side) and b (server side),
 * joined by veth.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define PAIR_NS_TAG "tso"
#include "pair_fixture.h"

/* With the kernel patch, TCP_STEALTH alone attaches the ULP. Without it,
 * TCP_STEALTH alone fails with ENOPROTOOPT and attaches nothing, and
 * TCP_ULP first is the way.
 */
TEST_F_TIMEOUT(pair, single_setsockopt, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd, one = 1, patched = kernel_patched();
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	char ulp[16] = "";
	socklen_t ulen = sizeof(ulp);

	lfd = sock_in(self->ns.b, fam);
	ASSERT_LE(0, lfd);
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!patched) {
		ASSERT_EQ(-ENOPROTOOPT, set_secret(lfd, SECRET, 1));
		ASSERT_EQ(0, getsockopt(lfd, IPPROTO_TCP, TCP_ULP, ulp, &ulen));
		EXPECT_STREQ("", ulp);
		ulen = sizeof(ulp);
	}
	ASSERT_EQ(0, set_secret(lfd, SECRET, patched));
	ASSERT_EQ(0, getsockopt(lfd, IPPROTO_TCP, TCP_ULP, ulp, &ulen));
	EXPECT_STREQ("stealth", ulp);
	ASSERT_EQ(0, bind(lfd, (struct sockaddr *)&ss, len));
	ASSERT_EQ(0, listen(lfd, 4));

	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, patched));
	ASSERT_EQ(0, connect_to(cfd, fam, netns_addr_b(fam), PORT, 4000));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

TEST_F_TIMEOUT(pair, key_rotation, T_TIMEOUT)
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
TEST_F_TIMEOUT(pair, setsockopt_errors, T_TIMEOUT)
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
	/* The patch's attach fails as TCP_ULP does. Unpatched, TCP itself
	 * refuses an option value shorter than an int before it looks at the
	 * option's number.
	 */
	EXPECT_EQ(-1, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH, "abc", 3));
	EXPECT_EQ(kernel_patched() ? EISCONN : EINVAL, errno);
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
 * TCP-MD5 needs 20 bytes of the SYN's option space, as does the knock: the
 * two cannot be combined, whichever comes first.
 */
TEST_F_TIMEOUT(pair, md5_and_knock_exclude_each_other, T_TIMEOUT)
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
TEST_F_TIMEOUT(pair, unload_refused_while_in_use, T_TIMEOUT)
{
	int fam = variant->family, lfd;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_NE(0, system("rmmod tcp_stealth 2>/dev/null"));
	EXPECT_EQ(0, system("grep -q '^tcp_stealth ' /proc/modules"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	close(lfd);
}

/*
 * /proc/net/tcp_stealth_stats counts the sockets that hold keys in the
 * namespace (the input hook skips its socket lookup while there are none):
 * setting, deleting and closing move it, and nothing leaks.
 */
TEST_F_TIMEOUT(pair, stealth_sockets_gauge, T_TIMEOUT)
{
	int fam = variant->family, fd, fd2, i;
	long long n0 = CTR(self->ns.b, "stealth_sockets");

	ASSERT_EQ(0, n0);
	fd = sock_in(self->ns.b, fam);
	fd2 = sock_in(self->ns.b, fam);
	ASSERT_LE(0, fd);
	ASSERT_LE(0, fd2);
	ASSERT_EQ(0, set_secret(fd, SECRET, 0));
	EXPECT_EQ(1, CTR(self->ns.b, "stealth_sockets"));
	/* A second secret on the same socket is no second socket. */
	ASSERT_EQ(0, set_secret(fd, SECRET2, 1));
	EXPECT_EQ(1, CTR(self->ns.b, "stealth_sockets"));
	ASSERT_EQ(0, set_secret(fd2, SECRET, 0));
	EXPECT_EQ(2, CTR(self->ns.b, "stealth_sockets"));
	/* Deleting the last key disables the socket. */
	ASSERT_EQ(0, key_op(fd2, TCP_STEALTH_KEY_DEL, SECRET));
	EXPECT_EQ(1, CTR(self->ns.b, "stealth_sockets"));
	/* The other namespace is not affected. */
	EXPECT_EQ(0, CTR(self->ns.a, "stealth_sockets"));
	close(fd2);
	close(fd);
	for (i = 0; i < 50 && CTR(self->ns.b, "stealth_sockets"); i++)
		usleep(20000);
	EXPECT_EQ(0, CTR(self->ns.b, "stealth_sockets"));
}

/*
 * A namespace gets its replay cache (436928 bytes by default) when it first
 * needs one: when a socket with a secret listens, or a port is protected by
 * policy. A socket with a secret that only connects needs none (it used to
 * bring one). Before that, every namespace had one from its creation, used
 * or not. A write of the limits resizes it once it exists, and it stays
 * until the namespace goes.
 */
TEST_F_TIMEOUT(pair, replay_cache_when_needed, T_TIMEOUT)
{
	int fam = variant->family, fd;
	long long bytes;

	EXPECT_EQ(0, CTR(self->ns.b, "replay_cache_bytes"));
	EXPECT_EQ(0, CTR(self->ns.a, "replay_cache_bytes"));
	/* A limit written before there is a cache applies to it. */
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.replay_max",
				      "4096"));
	EXPECT_EQ(0, CTR(self->ns.b, "replay_cache_bytes"));
	fd = sock_in(self->ns.b, fam);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_secret(fd, SECRET, 0));
	/* A socket with a secret may still only connect: no cache yet. */
	EXPECT_EQ(0, CTR(self->ns.b, "replay_cache_bytes"));
	ASSERT_EQ(0, listen(fd, 1));
	bytes = CTR(self->ns.b, "replay_cache_bytes");
	EXPECT_LT(0, bytes);
	EXPECT_EQ(0, CTR(self->ns.a, "replay_cache_bytes"));
	/* Larger limits, a larger cache. */
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.replay_max",
				      "16384"));
	EXPECT_LT(bytes, CTR(self->ns.b, "replay_cache_bytes"));
	bytes = CTR(self->ns.b, "replay_cache_bytes");
	close(fd);
	EXPECT_EQ(bytes, CTR(self->ns.b, "replay_cache_bytes"));
	/* A port protected by policy needs one too. */
	ASSERT_EQ(0, policy_req(self->ns.a, TCP_STEALTH_CMD_PROTECT, PORT,
				SECRET, strlen(SECRET)));
	EXPECT_LT(0, CTR(self->ns.a, "replay_cache_bytes"));
}

/*
 * A write of the limits in a namespace without a replay cache allocates
 * nothing: the limits wait for the first cache. It used to allocate a cache
 * of the new size and free it at once; the largest (replay_max 67108864,
 * 1.4 GB) then failed with ENOMEM on a machine with less memory (the test
 * VM has 1 GiB), though nothing needed the memory.
 */
TEST_F_TIMEOUT(pair, replay_limits_without_cache, T_TIMEOUT)
{
	int fd;

	ASSERT_EQ(0, CTR(self->ns.b, "replay_cache_bytes"));
	EXPECT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.replay_max",
				      "67108864")) {
		TH_LOG("write replay_max: %s", strerror(errno));
	}
	EXPECT_EQ(0, CTR(self->ns.b, "replay_cache_bytes"));
	/* The first cache has the limits in force when it is made: 16384
	 * knocks, 2048 of one key, 27308 slots of 16 bytes. */
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.replay_max",
				      "16384"));
	fd = sock_in(self->ns.b, variant->family);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, set_secret(fd, SECRET, 0));
	ASSERT_EQ(0, listen(fd, 1));
	EXPECT_EQ(436928, CTR(self->ns.b, "replay_cache_bytes"));
	close(fd);
}

/*
 * The replay cache's limits bound the host's memory (up to 1.4 GB per
 * namespace) and the time its full scans take with bottom halves off. The
 * root of a network namespace owned by a user namespace (a container's,
 * which any user may make) may write the other settings there, but not
 * these: EPERM. Before, it could set replay_max to 67108864 and have the
 * host allocate and scan a cache of that size.
 */
TEST(container_root_cannot_size_the_replay_cache)
{
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (pid == 0) {
		int r;

		/* Root of a user namespace of its own, then a netns it owns. */
		if (unshare(CLONE_NEWUSER) ||
		    write_str("/proc/self", "setgroups", "deny") ||
		    write_str("/proc/self", "uid_map", "0 0 1") ||
		    write_str("/proc/self", "gid_map", "0 0 1") ||
		    unshare(CLONE_NEWNET))
			_exit(100);
		if (netns_sysctl_set(NULL, "net.tcp_stealth.skew_secs", "60"))
			_exit(101);
		r = netns_sysctl_set(NULL, "net.tcp_stealth.replay_max", "67108864");
		if (r == 0 || errno != EPERM)
			_exit(r ? 103 : 102);
		r = netns_sysctl_set(NULL, "net.tcp_stealth.replay_key_max", "1024");
		if (r == 0 || errno != EPERM)
			_exit(r ? 105 : 104);
		r = netns_sysctl_set(NULL, "net.tcp_stealth.integrity_max_conns", "4096");
		if (r == 0 || errno != EPERM)
			_exit(r ? 107 : 106);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* 100: no user namespace; 101: skew_secs refused; 102, 104, 106: the
	 * limits written; 103, 105, 107: refused otherwise than with EPERM. */
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
