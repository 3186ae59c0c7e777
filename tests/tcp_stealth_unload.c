// SPDX-License-Identifier: GPL-2.0
/*
 * Unloading the module: refused while any socket points into it (its ULP,
 * its proto_ops on an accepted socket, its proto as the creator of a
 * connection or timewait socket), clean once none does, and safe while
 * connections, held connections and namespaces come and go.
 *
 * These tests unload and reload the module (the .ko next to the tests'
 * directory, or $TCP_STEALTH_MODULE), so they run alone, after all other
 * programs:
 */
/* run_all.sh: alone */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#define SECRET "unload test secret"
#define MODNAME "tcp_stealth"
#define PAYLOAD_LEN 8

#ifndef IPV6_ADDRFORM
#define IPV6_ADDRFORM 1
#endif

static int mod_loaded(void)
{
	return access("/sys/module/" MODNAME, F_OK) == 0;
}

/* delete_module() as rmmod does it: 0 or -errno (-EWOULDBLOCK: in use). */
static int mod_unload(void)
{
	return syscall(SYS_delete_module, MODNAME, O_NONBLOCK) ? -errno : 0;
}

/* Unload, waiting up to @ms for the last user to let go. */
static int mod_unload_wait(int ms)
{
	int ret;

	while ((ret = mod_unload()) == -EWOULDBLOCK && ms > 0) {
		usleep(50 * 1000);
		ms -= 50;
	}
	return ret;
}

/* The module file: $TCP_STEALTH_MODULE, or ../tcp_stealth.ko from here. */
static const char *mod_path(void)
{
	static char path[PATH_MAX];
	const char *env = getenv("TCP_STEALTH_MODULE");
	char exe[PATH_MAX];
	ssize_t n;

	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return MODNAME ".ko";
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s/../" MODNAME ".ko", dirname(exe));
	return path;
}

/* insmod: 0 or -errno (loaded already counts as success). */
static int mod_load(void)
{
	int fd = open(mod_path(), O_RDONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST)
		ret = -errno;
	close(fd);
	return ret;
}

/* Whether anything of the module is left in namespace @ns (NULL: here). */
static int leftovers(const char *ns)
{
	int saved = ns ? netns_enter(ns) : -1, n = 0;

	if (ns && saved < 0)
		return -1;
	n += mod_loaded();
	n += access("/proc/net/tcp_stealth_stats", F_OK) == 0;
	n += access("/proc/net/tcp_stealth_policy", F_OK) == 0;
	n += access("/proc/sys/net/tcp_stealth", F_OK) == 0;
	if (ns)
		netns_leave(saved);
	return n;
}

/* Sockets in @ns with local port @port (any state, timewait included). */
static int port_sockets(const char *ns, int port)
{
	int saved = netns_enter(ns), n = 0;
	char line[512], want[16];
	const char *files[] = { "/proc/net/tcp", "/proc/net/tcp6" };

	if (saved < 0)
		return -1;
	snprintf(want, sizeof(want), ":%04X ", port);
	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f)) {
			/* "  sl  local_address rem_address ...": local first. */
			char *local = strchr(line, ':');

			if (local && (local = strchr(local + 1, ':')) &&
			    !strncmp(local, want, strlen(want)))
				n++;
		}
		fclose(f);
	}
	netns_leave(saved);
	return n;
}

/* A socket in @ns bound to @addr:@port, listening (not yet: @listen 0). */
static int bound(const char *ns, int fam, const char *addr, int port, int dual)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, addr, port, &ss);
	int fd = sock_in(ns, fam), one = 1, zero = 0;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (fam == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, dual ? &zero : &one,
			   sizeof(int));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int set_ilen(int fd, int n)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)) ? -errno : 0;
}

/*
 * A listener that required integrity once and no longer does (n back to 0,
 * key removed): the sockets accept() makes for it get the module's
 * proto_ops, but are ordinary connections without the ULP.
 */
static int ops_listener(const char *ns, int fam, const char *addr, int dual)
{
	int fd = bound(ns, fam, addr, PORT, dual);

	if (fd < 0)
		return -1;
	if (set_secret(fd, SECRET, 0) || set_ilen(fd, 16) || set_ilen(fd, 0) ||
	    key_op(fd, TCP_STEALTH_KEY_DEL, SECRET) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

FIXTURE(unload) {
	struct netns_pair ns;
};

FIXTURE_SETUP(unload)
{
	ASSERT_TRUE(mod_loaded()) TH_LOG("the module must be loaded");
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsu"));
}

FIXTURE_TEARDOWN_PARENT(unload)
{
	netns_pair_destroy(&self->ns);
	/* Whatever happened, leave the module loaded for what comes next. */
	if (!mod_loaded() && mod_load())
		fprintf(stderr, "# cannot load %s again: %s\n", mod_path(), strerror(errno));
}

/*
 * The accepted socket of a listener that once required integrity has the
 * module's proto_ops (poll, splice_read, ...). With only that socket left,
 * rmmod must be refused; the socket keeps working; once it is closed the
 * module unloads without leaving anything and loads again.
 */
TEST_F_TIMEOUT(unload, accepted_socket_pins_module, 120)
{
	int lfd, cfd, afd;
	struct pollfd p;
	char c;

	lfd = ops_listener(self->ns.b, AF_INET, NETNS_B_IP4, 0);
	ASSERT_LE(0, lfd);
	cfd = tcp_connect_in(self->ns.a, AF_INET, NETNS_B_IP4, PORT, 5000);
	ASSERT_LE(0, cfd);
	afd = tcp_accept_timeout(lfd, 5000);
	ASSERT_LE(0, afd);
	close(lfd);

	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	EXPECT_TRUE(mod_loaded());
	/* The socket layer calls through the ops: they must still be there. */
	p = (struct pollfd){ .fd = afd, .events = POLLIN };
	EXPECT_EQ(0, poll(&p, 1, 0));
	EXPECT_EQ(-1, recv(afd, &c, 1, MSG_DONTWAIT));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(1, write(cfd, "x", 1));
	EXPECT_EQ(1, read(afd, &c, 1));
	close(afd);
	close(cfd);

	ASSERT_EQ(0, mod_unload_wait(10000));
	EXPECT_EQ(0, leftovers(NULL));
	EXPECT_EQ(0, leftovers(self->ns.b));
	ASSERT_EQ(0, mod_load());
	EXPECT_EQ(0, access("/proc/net/tcp_stealth_stats", F_OK));
}

/*
 * Two ways an accepted socket could lose the module's ops but keep the
 * module reference that came with them (pinning the module forever), or
 * lend them to another layer: IPV6_ADDRFORM (gives the socket IPv4 ops)
 * and another ULP (kTLS keeps a copy of the socket's ops). The first keeps
 * the module's IPv4 ops, the second is refused.
 */
TEST_F_TIMEOUT(unload, accepted_socket_keeps_ops, 120)
{
	int lfd, cfd, afd, v4 = AF_INET;
	char c;

	lfd = ops_listener(self->ns.b, AF_INET6, "::", 1);
	ASSERT_LE(0, lfd);
	cfd = tcp_connect_in(self->ns.a, AF_INET, NETNS_B_IP4, PORT, 5000);
	ASSERT_LE(0, cfd);
	afd = tcp_accept_timeout(lfd, 5000);
	ASSERT_LE(0, afd);
	close(lfd);

	EXPECT_EQ(-1, setsockopt(afd, IPPROTO_TCP, TCP_ULP, "tls", 3));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, setsockopt(afd, IPPROTO_IPV6, IPV6_ADDRFORM, &v4, sizeof(v4)));
	EXPECT_EQ(-EWOULDBLOCK, mod_unload());
	EXPECT_EQ(1, write(cfd, "y", 1));
	EXPECT_EQ(1, read(afd, &c, 1));
	close(afd);
	close(cfd);

	ASSERT_EQ(0, mod_unload_wait(10000));
	EXPECT_EQ(0, leftovers(NULL));
	ASSERT_EQ(0, mod_load());
}

/*
 * Children of a listener with the ULP are allocated for its proto (the
 * module's copy of TCP's), which stays their creator: after the listener
 * and the accepted socket are closed, the connection lives on as a
 * timewait socket. Once it may unload, the module unloads; when the
 * timewait socket dies after that, nothing of it may point into the
 * unloaded module.
 */
TEST_F_TIMEOUT(unload, timewait_outlives_module, 120)
{
	int lfd, cfd, afd, one = 1, i;

	lfd = bound(self->ns.b, AF_INET, NETNS_B_IP4, PORT, 0);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_ULP, "stealth", 7));
	ASSERT_EQ(0, listen(lfd, 16));
	cfd = tcp_connect_in(self->ns.a, AF_INET, NETNS_B_IP4, PORT, 5000);
	ASSERT_LE(0, cfd);
	afd = tcp_accept_timeout(lfd, 5000);
	ASSERT_LE(0, afd);
	close(lfd);
	/* The server closes first; its orphan ends in a short timewait. */
	ASSERT_EQ(0, setsockopt(afd, IPPROTO_TCP, TCP_LINGER2, &one, sizeof(one)));
	close(afd);
	for (i = 0; i < 100 && port_sockets(self->ns.b, PORT) > 0; i++) {
		/* Unloaded while the timewait socket lives, if it can. */
		if (mod_loaded() && !mod_unload())
			break;
		usleep(100 * 1000);
	}
	if (mod_loaded())
		ASSERT_EQ(0, mod_unload_wait(15000));
	EXPECT_EQ(0, leftovers(NULL));
	/* Let the timewait socket die before the module is back. */
	for (i = 0; i < 300 && port_sockets(self->ns.b, PORT) > 0; i++)
		usleep(100 * 1000);
	EXPECT_EQ(0, port_sockets(self->ns.b, PORT));
	close(cfd);
	ASSERT_EQ(0, mod_load());
}

TEST_HARNESS_MAIN
