// SPDX-License-Identifier: GPL-2.0
/*
 * What an unprivileged process makes the module allocate for its sockets
 * (the ULP context, keys, up to 64 KiB of committed bytes per socket) is
 * charged to the process's memory cgroup, so a container's memory.max
 * bounds it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "stealth.h"
#include <linux/tcp_stealth.h>

#ifndef CGROUP2_SUPER_MAGIC
#define CGROUP2_SUPER_MAGIC 0x63677270
#endif

#define NSOCK 200

static long long read_ll(const char *dir, const char *file)
{
	char path[512];
	long long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%lld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

FIXTURE(memcg) {
	char root[256];		/* the cgroup2 root */
	char cg[320];		/* our child cgroup */
	int mounted;
};

FIXTURE_SETUP(memcg)
{
	struct statfs sf;

	snprintf(self->root, sizeof(self->root), "/sys/fs/cgroup");
	if (statfs(self->root, &sf) || sf.f_type != CGROUP2_SUPER_MAGIC) {
		snprintf(self->root, sizeof(self->root), "/tmp/tsm-cg.%d", getpid());
		ASSERT_EQ(0, mkdir(self->root, 0700));
		ASSERT_EQ(0, mount("none", self->root, "cgroup2", 0, NULL))
			TH_LOG("mount cgroup2: %s", strerror(errno));
		self->mounted = 1;
	}
	/* The root's children get the memory controller. */
	ASSERT_EQ(0, write_str(self->root, "cgroup.subtree_control", "+memory"));
	snprintf(self->cg, sizeof(self->cg), "%s/tsm.%d", self->root, getpid());
	ASSERT_EQ(0, mkdir(self->cg, 0755));
}

FIXTURE_TEARDOWN_PARENT(memcg)
{
	/* The test's process has exited, so the cgroup is empty. */
	if (self->cg[0])
		rmdir(self->cg);
	if (self->mounted) {
		umount2(self->root, MNT_DETACH);
		rmdir(self->root);
	}
}

/*
 * NSOCK sockets, each with the ULP, a key and TCP_STEALTH_INTEGRITY_MAX
 * committed bytes, grow the cgroup's memory.current by at least the bytes.
 */
TEST_F(memcg, socket_state_is_charged)
{
	static char bytes[TCP_STEALTH_INTEGRITY_MAX];
	char pid[32];
	long long before, after;
	int fds[NSOCK], i;

	memset(bytes, 'x', sizeof(bytes));
	snprintf(pid, sizeof(pid), "%d", getpid());
	ASSERT_EQ(0, write_str(self->cg, "cgroup.procs", pid));
	before = read_ll(self->cg, "memory.current");
	ASSERT_LE(0, before);

	for (i = 0; i < NSOCK; i++) {
		fds[i] = socket(AF_INET, SOCK_STREAM, 0);
		ASSERT_LE(0, fds[i]);
		ASSERT_EQ(0, set_secret(fds[i], "memcg test secret", 0));
		ASSERT_EQ(0, setsockopt(fds[i], IPPROTO_TCP, TCP_STEALTH_INTEGRITY,
					bytes, sizeof(bytes)));
	}
	after = read_ll(self->cg, "memory.current");
	TH_LOG("memory.current: %lld -> %lld (+%lld KiB for %d sockets)",
	       before, after, (after - before) / 1024, NSOCK);
	EXPECT_LE((long long)NSOCK * TCP_STEALTH_INTEGRITY_MAX, after - before);

	for (i = 0; i < NSOCK; i++)
		close(fds[i]);
	/* Leave the cgroup, so the parent can remove it. */
	write_str(self->root, "cgroup.procs", pid);
}

TEST_HARNESS_MAIN
