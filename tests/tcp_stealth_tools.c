// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace tools: the `knock` CLI (tools/knock, built with cargo into
 * target/release/knock) and the LD_PRELOAD shim (tools/shim/libtcpstealth.so),
 * run against the module with unmodified programs (python3's http.server,
 * curl, python3's urllib) where that is the point.
 *
 * Namespaces a (client side) and b (server side) joined by veth, IPv4 and
 * IPv6. The binaries are found from this file's place in the repo (the VM
 * sees the host's tree at the same path); TCP_STEALTH_KNOCK and
 * TCP_STEALTH_SHIM override them. A missing binary is a failure, not a
 * skip: build them with `make tools`.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <glob.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#define T_TIMEOUT 300
/* Generous: the guest runs under TCG and reads the binaries over 9p. */
#define IO_TIMEOUT_MS 30000
#define PY "/usr/bin/python3"
#define HELLO "hello from behind the knock\n"

static char knock_bin[512], shim_so[512];

/* Repo top from this file's absolute path (the Makefile compiles with it). */
static void repo_top(char *top, size_t size)
{
	char *p;

	snprintf(top, size, "%s", __FILE__);
	p = strstr(top, "/tests/tcp_stealth_tools.c");
	if (p)
		*p = '\0';
	else
		snprintf(top, size, "..");
}

static void find_tools(void)
{
	const char *k = getenv("TCP_STEALTH_KNOCK"), *s = getenv("TCP_STEALTH_SHIM");
	char top[400];

	repo_top(top, sizeof(top));
	snprintf(knock_bin, sizeof(knock_bin), "%s", k ? k : "");
	if (!k)
		snprintf(knock_bin, sizeof(knock_bin), "%s/target/release/knock", top);
	snprintf(shim_so, sizeof(shim_so), "%s", s ? s : "");
	if (!s)
		snprintf(shim_so, sizeof(shim_so), "%s/tools/shim/libtcpstealth.so", top);
}

/* Most tests run over IPv4 only (fixture tools); those where the family
 * matters run over both (fixture dual). Same data, same set-up. */
#define TOOLS_DATA							\
	struct netns_pair ns;						\
	char dir[64];		/* scratch directory */			\
	char key[128];		/* a good key file, as knock keygen makes */ \
	unsigned char secret[TCP_STEALTH_SECRET_MAX];			\
	int secret_len;

FIXTURE(tools) {
	TOOLS_DATA
};

FIXTURE(dual) {
	TOOLS_DATA
};

FIXTURE_VARIANT(dual) {
	int family;
};

FIXTURE_VARIANT_ADD(dual, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(dual, ipv6) {
	.family = AF_INET6,
};

/* Read a whole (small) file; its length or -1. NUL-terminated. */
static int slurp(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), n = 0, r;

	if (fd < 0)
		return -1;
	while ((size_t)n < size - 1 && (r = read(fd, buf + n, size - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n] = '\0';
	return n;
}

static int put(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len || fchmod(fd, mode)) {
		close(fd);
		return -1;
	}
	return close(fd);
}

/* Does file @path contain @needle? */
static int file_has(const char *path, const char *needle)
{
	static char buf[16384];

	return slurp(path, buf, sizeof(buf)) >= 0 && strstr(buf, needle);
}

/* nftw() callback of rm_tree(). */
static int rm_entry(const char *path, const struct stat *st, int type,
		    struct FTW *ftw)
{
	(void)st;
	(void)type;
	(void)ftw;
	return remove(path);
}

/* rm -rf @dir, in-process (every exec is slow under TCG): 0 or -1. */
static int rm_tree(const char *dir)
{
	if (access(dir, F_OK) && errno == ENOENT)
		return 0;
	return nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/*
 * Stop the server whose pid a test saved in @dir/server.pid (SIGTERM) and
 * remove that file: 0, or -1 if there is no such server.
 */
static int kill_server(const char *dir)
{
	char path[128], buf[32];
	long pid;

	snprintf(path, sizeof(path), "%s/server.pid", dir);
	if (slurp(path, buf, sizeof(buf)) <= 0)
		return -1;
	pid = strtol(buf, NULL, 10);
	if (pid <= 0 || kill(pid, SIGTERM))
		return -1;
	return unlink(path);
}

#define TOOLS_SETUP()							\
	do {								\
		find_tools();						\
		ASSERT_EQ(0, access(knock_bin, X_OK))			\
			TH_LOG("%s not built: make tools", knock_bin);	\
		ASSERT_EQ(0, access(shim_so, R_OK))			\
			TH_LOG("%s not built: make tools", shim_so);	\
		snprintf(self->dir, sizeof(self->dir), "/tmp/tstools-XXXXXX"); \
		ASSERT_NE(NULL, mkdtemp(self->dir));			\
		snprintf(self->key, sizeof(self->key), "%s/key", self->dir); \
		/* What knock keygen writes (its own test: plain.keygen_*), \
		 * made here without two execs per test. */		\
		self->secret_len = 32;					\
		ASSERT_EQ(32, getrandom(self->secret, 32, 0));		\
		ASSERT_EQ(0, put(self->key, self->secret, 32, 0600));	\
		ASSERT_EQ(0, netns_pair_create(&self->ns, "ttl"));	\
	} while (0)

#define TOOLS_TEARDOWN()						\
	do {								\
		/* A server left behind by a failed test. */		\
		kill_server(self->dir);					\
		if (rm_tree(self->dir))					\
			perror(self->dir);				\
		netns_pair_destroy(&self->ns);				\
	} while (0)

FIXTURE_SETUP(tools)
{
	TOOLS_SETUP();
}

FIXTURE_TEARDOWN_PARENT(tools)
{
	TOOLS_TEARDOWN();
}

FIXTURE_SETUP(dual)
{
	TOOLS_SETUP();
}

FIXTURE_TEARDOWN_PARENT(dual)
{
	TOOLS_TEARDOWN();
}

/* Give @fd the secret @s of @len bytes (ULP first, as on any kernel). */
static int protect(int fd, const void *s, int len)
{
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, s, len))
		return -errno;
	return 0;
}

/* A listener in @ns on PORT protected with @s; with @ilen > 0 it requires
 * that many committed bytes. */
static int key_listener(const char *ns, int fam, const void *s, int len, int ilen)
{
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	int fd = sock_in(ns, fam), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (protect(fd, s, len) ||
	    (ilen && setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &ilen, sizeof(ilen))) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One connection: read to EOF, answer "echo:" + what came, close. */
struct echo {
	int lfd;
	int rc;
	char got[1024];
	int n;
};

static void *echo_server(void *arg)
{
	struct echo *e = arg;
	int c = tcp_accept_timeout(e->lfd, IO_TIMEOUT_MS), r;

	if (c < 0) {
		e->rc = -1;
		return NULL;
	}
	sock_set_timeouts(c, IO_TIMEOUT_MS);
	while ((r = read(c, e->got + e->n, sizeof(e->got) - 1 - e->n)) > 0)
		e->n += r;
	if (r < 0)
		e->rc = -errno;
	if (write_all(c, "echo:", 5) || write_all(c, e->got, e->n))
		e->rc = e->rc ? e->rc : -EIO;
	close(c);
	return NULL;
}

/* The address as a URL host part. */
static const char *url_host(int fam)
{
	return fam == AF_INET ? NETNS_B_IP4 : "[" NETNS_B_IP6 "]";
}

/* Is a connection waiting on @lfd (within @ms)? */
static int pending(int lfd, int ms)
{
	struct pollfd p = { .fd = lfd, .events = POLLIN };

	return poll(&p, 1, ms);
}

/* ---- knock keygen and key files ------------------------------------- */

/* No namespaces, for the tests that need none (a fixture only for its
 * timeout: TEST() has the harness's 30 s default). */
FIXTURE(plain) {
	int unused;
};

FIXTURE_SETUP(plain)
{
	self->unused = 0;
}

FIXTURE_TEARDOWN(plain)
{
}

/* A scratch directory for the tests without namespaces. */
static int scratch(char *dir, size_t size)
{
	find_tools();
	if (access(knock_bin, X_OK)) {
		fprintf(stderr, "%s not built: make tools\n", knock_bin);
		return -1;
	}
	snprintf(dir, size, "/tmp/tstools-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

TEST_F_TIMEOUT(plain, keygen_private_and_no_overwrite, T_TIMEOUT)
{
	char dir[64], key[128], k2[128], err[160], before[80], after[80];
	struct stat st;

	ASSERT_EQ(0, scratch(dir, sizeof(dir)));
	snprintf(key, sizeof(key), "%s/key", dir);
	snprintf(k2, sizeof(k2), "%s/key2", dir);
	snprintf(err, sizeof(err), "%s/err", dir);
	/* 32 bytes, mode 0600, even with a permissive umask. */
	ASSERT_EQ(0, netns_system(NULL, "umask 000; %s keygen %s 2>%s", knock_bin, key, err));
	EXPECT_TRUE(file_has(err, "wrote a new 32-byte key"));
	ASSERT_EQ(0, stat(key, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	EXPECT_EQ(32, st.st_size);
	EXPECT_TRUE(S_ISREG(st.st_mode));
	/* Two keys differ. */
	ASSERT_EQ(0, netns_system(NULL, "%s keygen %s 2>/dev/null", knock_bin, k2));
	ASSERT_EQ(32, slurp(key, before, sizeof(before)));
	ASSERT_EQ(32, slurp(k2, after, sizeof(after)));
	EXPECT_NE(0, memcmp(after, before, 32));
	/* No overwrite: it fails, says why, and the key is unchanged. */
	EXPECT_EQ(1, netns_system(NULL, "%s keygen %s 2>%s", knock_bin, key, err));
	EXPECT_TRUE(file_has(err, "already exists"));
	ASSERT_EQ(32, slurp(key, after, sizeof(after)));
	EXPECT_EQ(0, memcmp(before, after, 32));
	ASSERT_EQ(0, stat(key, &st));
	EXPECT_EQ(0600, st.st_mode & 07777);
	/* Usage errors are clap's: status 2. */
	EXPECT_EQ(2, netns_system(NULL, "%s keygen 2>/dev/null", knock_bin));
	rm_tree(dir);
}

/* Bad key files are refused before anything goes on the wire. */
TEST_F_TIMEOUT(tools, connect_bad_key_files, T_TIMEOUT)
{
	int fam = AF_INET, lfd, i;
	char path[160], err[160], long_key[65];
	long long syn = CTR(self->ns.b, "syn_in"), sent = CTR(self->ns.a, "knock_sent");
	static const struct { const char *name; int len; mode_t mode; const char *msg; } bad[] = {
		{ "missing", -1, 0, "No such file" },
		{ "empty", 0, 0600, "empty" },
		{ "long", 65, 0600, "65 bytes" },
		{ "world", 16, 0604, "group or others" },
		{ "group", 16, 0640, "group or others" },
		{ "groupw", 16, 0620, "group or others" },
	};

	memset(long_key, 'k', sizeof(long_key));
	lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, 0);
	ASSERT_LE(0, lfd);
	snprintf(err, sizeof(err), "%s/err", self->dir);
	for (i = 0; i < (int)(sizeof(bad) / sizeof(bad[0])); i++) {
		snprintf(path, sizeof(path), "%s/%s", self->dir, bad[i].name);
		if (bad[i].len >= 0)
			ASSERT_EQ(0, put(path, long_key, bad[i].len, bad[i].mode));
		EXPECT_EQ(1, netns_system(self->ns.a, "echo hi | %s connect %s %d --key %s 2>%s",
					  knock_bin, netns_addr_b(fam), PORT, path, err))
			TH_LOG("key file %s", bad[i].name);
		EXPECT_TRUE(file_has(err, bad[i].msg)) TH_LOG("key file %s: no \"%s\"",
							    bad[i].name, bad[i].msg);
	}
	/* Nothing was sent, nothing arrived. */
	EXPECT_EQ(syn, CTR(self->ns.b, "syn_in"));
	EXPECT_EQ(sent, CTR(self->ns.a, "knock_sent"));
	EXPECT_EQ(0, pending(lfd, 100));
	close(lfd);
}

/* ---- knock connect -------------------------------------------------- */

TEST_F_TIMEOUT(dual, connect_round_trip, T_TIMEOUT)
{
	int fam = variant->family, lfd;
	struct echo e = { 0 };
	pthread_t t;
	char out[160], got[256];
	long long good = CTR(self->ns.b, "knock_good"), sent = CTR(self->ns.a, "knock_sent");

	lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, 0);
	ASSERT_LE(0, lfd);
	e.lfd = lfd;
	ASSERT_EQ(0, pthread_create(&t, NULL, echo_server, &e));
	snprintf(out, sizeof(out), "%s/out", self->dir);
	EXPECT_EQ(0, netns_system(self->ns.a, "printf 'ping over a knock' | %s connect %s %d --key %s >%s",
				  knock_bin, netns_addr_b(fam), PORT, self->key, out));
	pthread_join(t, NULL);
	EXPECT_EQ(0, e.rc);
	EXPECT_STREQ("ping over a knock", e.got);
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ("echo:ping over a knock", got);
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	EXPECT_EQ(sent + 1, CTR(self->ns.a, "knock_sent"));

	/* Another key: refused like a closed port, and knock says so. */
	snprintf(out, sizeof(out), "%s/err", self->dir);
	ASSERT_EQ(0, netns_system(NULL, "%s keygen %s/other", knock_bin, self->dir));
	EXPECT_EQ(1, netns_system(self->ns.a, "%s connect %s %d --key %s/other </dev/null 2>%s",
				  knock_bin, netns_addr_b(fam), PORT, self->dir, out));
	EXPECT_TRUE(file_has(out, "Connection refused"));
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	EXPECT_EQ(0, pending(lfd, 100));
	close(lfd);
}

TEST_F_TIMEOUT(tools, connect_integrity, T_TIMEOUT)
{
	int fam = AF_INET, lfd;
	struct echo e = { 0 };
	pthread_t t;
	char out[160], got[256], commit[160];
	long long ok = CTR(self->ns.b, "integrity_ok");
	long long missing = CTR(self->ns.b, "integrity_missing");

	/* The listener wants 11 committed bytes. */
	lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, 11);
	ASSERT_LE(0, lfd);
	snprintf(out, sizeof(out), "%s/out", self->dir);
	snprintf(commit, sizeof(commit), "%s/commit", self->dir);
	ASSERT_EQ(0, put(commit, "GREETING 1\n", 11, 0644));

	/* --integrity-file: those bytes go first, then stdin. */
	e.lfd = lfd;
	ASSERT_EQ(0, pthread_create(&t, NULL, echo_server, &e));
	EXPECT_EQ(0, netns_system(self->ns.a, "printf 'and the rest' | %s connect %s %d --key %s --integrity-file %s >%s",
				  knock_bin, netns_addr_b(fam), PORT, self->key, commit, out));
	pthread_join(t, NULL);
	EXPECT_EQ(0, e.rc);
	EXPECT_STREQ("GREETING 1\nand the rest", e.got);
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ("echo:GREETING 1\nand the rest", got);
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));

	/* --integrity-stdin-bytes: the first 11 bytes of stdin. */
	memset(&e, 0, sizeof(e));
	e.lfd = lfd;
	ASSERT_EQ(0, pthread_create(&t, NULL, echo_server, &e));
	EXPECT_EQ(0, netns_system(self->ns.a, "printf 'HELLO-WORLD and more' | %s connect %s %d --key %s --integrity-stdin-bytes 11 >%s",
				  knock_bin, netns_addr_b(fam), PORT, self->key, out));
	pthread_join(t, NULL);
	EXPECT_EQ(0, e.rc);
	EXPECT_STREQ("HELLO-WORLD and more", e.got);
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ("echo:HELLO-WORLD and more", got);
	EXPECT_EQ(ok + 2, CTR(self->ns.b, "integrity_ok"));

	/* stdin shorter than promised: refused before connecting. */
	EXPECT_EQ(1, netns_system(self->ns.a, "printf 'short' | %s connect %s %d --key %s --integrity-stdin-bytes 11 2>%s/err",
				  knock_bin, netns_addr_b(fam), PORT, self->key, self->dir));
	snprintf(got, sizeof(got), "%s/err", self->dir);
	EXPECT_TRUE(file_has(got, "stdin ended after 5 of the 11 bytes"));

	/* No commitment: this listener refuses the knock. */
	EXPECT_EQ(1, netns_system(self->ns.a, "printf x | %s connect %s %d --key %s 2>/dev/null",
				  knock_bin, netns_addr_b(fam), PORT, self->key));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "integrity_missing"));
	EXPECT_EQ(0, pending(lfd, 100));
	close(lfd);
}

/* ---- knock connect as a byte pipe (ssh's ProxyCommand) --------------- */

/* Deterministic bytes of every value, newlines included: no line
 * structure a buffered pipe could lean on. */
static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	unsigned int x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		buf[i] = x >> 24;
	}
}

/*
 * Both directions at once over non-blocking fds: write all of @tx to @wfd
 * (then, if @eof_after, end it: shutdown(SHUT_WR) on a socket, close() on a
 * pipe) while reading @rfd until EOF into @rx (at most @cap bytes; more is
 * an error). -1 on an error or when nothing moved for @ms; else the number
 * of bytes read. @wfd may equal @rfd (a socket).
 */
static ssize_t duplex(int rfd, int *wfd, const unsigned char *tx, size_t txlen,
		      int eof_after, unsigned char *rx, size_t cap, int ms)
{
	size_t sent = 0, got = 0;
	int rdone = 0, wdone = !txlen && !eof_after, rfl, wfl = 0, w = *wfd;
	ssize_t ret = -1;

	rfl = fcntl(rfd, F_GETFL);
	fcntl(rfd, F_SETFL, rfl | O_NONBLOCK);
	if (w >= 0 && w != rfd) {
		wfl = fcntl(w, F_GETFL);
		fcntl(w, F_SETFL, wfl | O_NONBLOCK);
	}
	while (!rdone || !wdone) {
		struct pollfd p[2] = {
			{ .fd = rdone ? -1 : rfd, .events = POLLIN },
			{ .fd = wdone ? -1 : *wfd, .events = POLLOUT },
		};
		ssize_t n;
		int r = poll(p, 2, ms);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "duplex: %s after %zu of %zu bytes sent, %zu read\n",
				r ? strerror(errno) : "stalled", sent, txlen, got);
			goto out;
		}
		if (p[0].revents) {
			n = read(rfd, rx + got, got < cap ? cap - got : 1);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "duplex: read: %s\n", strerror(errno));
				goto out;
			}
			if (n == 0)
				rdone = 1;
			if (n > 0 && got + n > cap) {
				fprintf(stderr, "duplex: more than the %zu bytes expected\n", cap);
				goto out;
			}
			if (n > 0)
				got += n;
		}
		if (p[1].revents && sent < txlen) {
			n = send(*wfd, tx + sent, txlen - sent, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK)
				n = write(*wfd, tx + sent, txlen - sent);
			if (n < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "duplex: write: %s\n", strerror(errno));
				goto out;
			}
			if (n > 0)
				sent += n;
		}
		if (!wdone && sent == txlen) {
			if (eof_after && shutdown(*wfd, SHUT_WR) && errno == ENOTSOCK) {
				close(*wfd);
				*wfd = -1;
			}
			wdone = 1;
		}
	}
	ret = got;
out:
	/* Blocking again, for the caller's plain reads and writes. */
	fcntl(rfd, F_SETFL, rfl);
	if (*wfd >= 0 && *wfd != rfd)
		fcntl(*wfd, F_SETFL, wfl);
	return ret;
}

/* Run knock connect in @ns with its stdin and stdout on pipes (*@in: its
 * stdin, *@out: its stdout); the pid or -1. */
static pid_t spawn_knock(const char *ns, int *in, int *out, const char *const *args)
{
	int pin[2], pout[2];
	const char *argv[16] = { knock_bin };
	pid_t pid;
	int i;

	for (i = 0; args[i] && i < 14; i++)
		argv[i + 1] = args[i];
	if (pipe2(pin, O_CLOEXEC) || pipe2(pout, O_CLOEXEC))
		return -1;
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid == 0) {
		if (netns_enter(ns) < 0 || dup2(pin[0], 0) < 0 || dup2(pout[1], 1) < 0)
			_exit(126);
		execv(knock_bin, (char *const *)argv);
		_exit(127);
	}
	close(pin[0]);
	close(pout[1]);
	*in = pin[1];
	*out = pout[0];
	return pid;
}

static int wait_exit(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

#define PIPE_BULK (2 << 20)	/* each way */
#define PIPE_TAIL (256 << 10)	/* after the other side's EOF */
#define PIPE_MS 20000		/* nothing moved for this long: stalled */

struct pipe_server {
	int lfd;
	int client_eof_first;	/* which side ends its sending first */
	int rc;
	const unsigned char *tx, *tail;
	unsigned char *rx;
	ssize_t got;
};

/*
 * The server's side of pipe_connection(). Client EOF first: ping-pong, both
 * bulks at once, the client's EOF, then the server's tail after it.
 * Server EOF first: its bulk and EOF, then it reads the client's bulk and
 * tail until the client's EOF.
 */
static void *pipe_server(void *arg)
{
	struct pipe_server *s = arg;
	unsigned char ping[100], pong[100];
	int c = tcp_accept_timeout(s->lfd, IO_TIMEOUT_MS), i, j;

	s->rc = -1;
	if (c < 0)
		return NULL;
	if (s->client_eof_first) {
		/* Binary messages without a newline, each answered before the
		 * next: what ssh's key exchange does. */
		for (i = 0; i < 8; i++) {
			fill(ping, sizeof(ping), 100 + i);
			ping[sizeof(ping) - 1] = 0;	/* not '\n' */
			if (write_all(c, ping, sizeof(ping)) || read_all(c, pong, sizeof(pong)))
				goto out;
			for (j = 0; j < (int)sizeof(pong); j++)
				if (pong[j] != (unsigned char)~ping[j])
					goto out;
		}
		s->got = duplex(c, &c, s->tx, PIPE_BULK, 0, s->rx, PIPE_BULK, PIPE_MS);
		/* The client's EOF came, the connection is still open. */
		if (s->got == PIPE_BULK && !write_all(c, s->tail, PIPE_TAIL))
			s->rc = 0;
	} else {
		s->got = duplex(c, &c, s->tx, PIPE_BULK, 1, s->rx, PIPE_BULK + PIPE_TAIL, PIPE_MS);
		s->rc = 0;
	}
out:
	close(c);
	return NULL;
}

/*
 * One connection through knock connect with binary data both ways, several
 * MB each way, and one side ending its sending first while the other goes
 * on (half-close): a faithful byte pipe, as ssh's ProxyCommand needs.
 */
static void pipe_connection(struct __test_metadata *_metadata, FIXTURE_DATA(dual) *self,
			    int fam, int client_eof_first)
{
	unsigned char *up = malloc(PIPE_BULK + PIPE_TAIL), *down = malloc(PIPE_BULK + PIPE_TAIL);
	unsigned char *rx_srv = malloc(PIPE_BULK + PIPE_TAIL), *rx_cli = malloc(PIPE_BULK + PIPE_TAIL);
	struct pipe_server s = { .client_eof_first = client_eof_first };
	char port[8];
	const char *args[] = { "connect", netns_addr_b(fam), port, "--key", self->key, NULL };
	int in = -1, out = -1, i, j;
	unsigned char ping[100];
	pthread_t t;
	ssize_t n;
	pid_t pid;

	ASSERT_TRUE(up && down && rx_srv && rx_cli);
	fill(up, PIPE_BULK + PIPE_TAIL, 1 + client_eof_first);
	fill(down, PIPE_BULK + PIPE_TAIL, 3 + client_eof_first);
	snprintf(port, sizeof(port), "%d", PORT);
	s.lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, 0);
	ASSERT_LE(0, s.lfd);
	s.tx = down;
	s.tail = down + PIPE_BULK;
	s.rx = rx_srv;
	ASSERT_EQ(0, pthread_create(&t, NULL, pipe_server, &s));
	pid = spawn_knock(self->ns.a, &in, &out, args);
	ASSERT_LT(0, pid);

	if (client_eof_first) {
		for (i = 0; i < 8; i++) {
			/* Read exactly one ping (poll, then read what came). */
			for (n = 0; n < (ssize_t)sizeof(ping);) {
				struct pollfd p = { .fd = out, .events = POLLIN };
				ssize_t r;

				if (poll(&p, 1, PIPE_MS) != 1)
					break;
				r = read(out, ping + n, sizeof(ping) - n);
				if (r <= 0)
					break;
				n += r;
			}
			ASSERT_EQ(sizeof(ping), (size_t)n) TH_LOG("ping %d did not come through whole", i);
			for (j = 0; j < (int)sizeof(ping); j++)
				ping[j] = ~ping[j];
			ASSERT_EQ(sizeof(ping), (size_t)write(in, ping, sizeof(ping)));
		}
		/* Bulk both ways, then our EOF; the server's tail comes after it. */
		n = duplex(out, &in, up, PIPE_BULK, 1, rx_cli, PIPE_BULK + PIPE_TAIL, PIPE_MS);
		EXPECT_EQ(PIPE_BULK + PIPE_TAIL, n);
	} else {
		/* The server's bulk and its EOF first, with our stdin open ... */
		n = duplex(out, &in, NULL, 0, 0, rx_cli, PIPE_BULK + PIPE_TAIL, PIPE_MS);
		EXPECT_EQ(PIPE_BULK, n);
		/* ... then ours, all of it, and our EOF. */
		EXPECT_LE(0, duplex(out, &in, up, PIPE_BULK + PIPE_TAIL, 1, rx_cli + PIPE_BULK,
				    PIPE_TAIL, PIPE_MS));
	}
	if (in >= 0)
		close(in);
	EXPECT_EQ(0, wait_exit(pid));
	pthread_join(t, NULL);
	close(out);
	close(s.lfd);
	EXPECT_EQ(0, s.rc);
	if (client_eof_first) {
		EXPECT_EQ(PIPE_BULK, s.got);
		EXPECT_EQ(0, memcmp(rx_srv, up, PIPE_BULK));
		EXPECT_EQ(0, memcmp(rx_cli, down, PIPE_BULK + PIPE_TAIL));
	} else {
		EXPECT_EQ(PIPE_BULK + PIPE_TAIL, s.got);
		EXPECT_EQ(0, memcmp(rx_srv, up, PIPE_BULK + PIPE_TAIL));
		EXPECT_EQ(0, memcmp(rx_cli, down, PIPE_BULK));
	}
	free(up);
	free(down);
	free(rx_srv);
	free(rx_cli);
}

TEST_F_TIMEOUT(dual, connect_binary_pipe_half_close, T_TIMEOUT)
{
	signal(SIGPIPE, SIG_IGN);
	pipe_connection(_metadata, self, variant->family, 1);
	pipe_connection(_metadata, self, variant->family, 0);
}

/* ---- knock status and stats ----------------------------------------- */

TEST_F_TIMEOUT(plain, status_matches_kernel, T_TIMEOUT)
{
	char dir[64], out[160], line[160];
	int fd, loaded, patched, isn, one = TCP_STEALTH_MODE_ISN;

	/* What status should find, probed here independently. */
	loaded = access("/sys/module/tcp_stealth", F_OK) == 0;
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	patched = !setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, "probe", 5);
	/* The kernel vm-run booted: patched unless --unpatched. */
	if (loaded)
		ASSERT_EQ(kernel_patched(), patched);
	/* The patch's way: TCP_STEALTH attached the ULP itself. */
	if (patched) {
		char ulp[16] = "";
		socklen_t ulen = sizeof(ulp);

		ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulen));
		ASSERT_STREQ("stealth", ulp);
	}
	close(fd);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	ASSERT_LE(0, fd);
	isn = !setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7) &&
	      !setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &one, sizeof(one));
	close(fd);

	ASSERT_EQ(0, scratch(dir, sizeof(dir)));
	snprintf(out, sizeof(out), "%s/status", dir);
	ASSERT_EQ(0, netns_system(NULL, "%s status >%s", knock_bin, out));
	EXPECT_EQ(loaded, file_has(out, "module: loaded\n"));
	if (loaded) {
		EXPECT_EQ(patched, file_has(out, "kernel patch: yes"));
		EXPECT_EQ(!patched, file_has(out, "kernel patch: no"));
		EXPECT_EQ(patched, file_has(out, "kernel path: patched (TCP_STEALTH attaches"));
		EXPECT_EQ(!patched, file_has(out, "kernel path: TCP_ULP (no patch"));
		snprintf(line, sizeof(line), "modes: option%s\n", isn ? " isn" : "");
		EXPECT_TRUE(file_has(out, line)) TH_LOG("want \"%s\"", line);
	}
	rm_tree(dir);
}

TEST_F_TIMEOUT(tools, stats_shows_every_counter, T_TIMEOUT)
{
	int fam = AF_INET, lfd, cfd = -1, n = 0, width = -1;
	char out[160], name[64], file[160];
	long long v;
	FILE *f;

	/* Make some counters non-zero: one good knock, one missing. */
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), "stats secret");
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), "stats secret", &cfd));
	close(cfd);
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	ASSERT_LE(1, CTR(self->ns.b, "knock_good"));

	snprintf(out, sizeof(out), "%s/stats", self->dir);
	ASSERT_EQ(0, netns_system(NULL, "%s stats --netns %s >%s", knock_bin, self->ns.b, out));
	f = fopen(out, "r");
	ASSERT_NE(NULL, f);
	/* Every line "name value", the value equal to the module's, and
	 * aligned: every line equally long. */
	while (fgets(file, sizeof(file), f)) {
		ASSERT_EQ(2, sscanf(file, "%63s %lld", name, &v)) TH_LOG("line: %s", file);
		EXPECT_EQ(CTR(self->ns.b, name), v) TH_LOG("counter %s", name);
		if (width < 0)
			width = strlen(file);
		EXPECT_EQ(width, (int)strlen(file)) TH_LOG("not aligned: %s", file);
		n++;
	}
	fclose(f);
	/* As many lines as the file has. */
	{
		char buf[4096];
		int lines = 0;

		ASSERT_LT(0, netns_read_file(self->ns.b, TCP_STEALTH_STATS, buf, sizeof(buf)));
		for (const char *p = buf; (p = strchr(p, '\n')); p++)
			lines++;
		ASSERT_EQ(n, lines);
	}
	EXPECT_LE(20, n);
	/* The namespace matters: a's knock_good is not b's. */
	ASSERT_EQ(0, netns_system(NULL, "%s stats --netns %s >%s", knock_bin, self->ns.a, out));
	EXPECT_EQ(0, netns_system(NULL, "grep -Eq '^knock_sent +%lld$' %s",
				  CTR(self->ns.a, "knock_sent"), out));
	/* A namespace that does not exist is an error. */
	EXPECT_EQ(1, netns_system(NULL, "%s stats --netns no-such-ns-%d 2>%s", knock_bin, getpid(), out));
	EXPECT_TRUE(file_has(out, "no-such-ns"));
	close(lfd);
}

/* ---- the shim with unmodified programs ------------------------------ */

/* Is something in namespace @ns listening on TCP port @port? */
static int listening_in(const char *ns, int port)
{
	return tcp_port_state_in(ns, port, TCP_LISTEN) == 1;
}

/* Start python3 -m http.server in b, on PORT, serving self->dir/www, with
 * @env before it (the shim's variables); wait until it listens. */
static int start_http(struct __test_metadata *_metadata, const char *nsb,
		      const char *dir, int fam, const char *env)
{
	int i;

	if (netns_system(nsb, "mkdir -p %s/www && printf '" HELLO "' >%s/www/hello.txt && "
			 "cd %s/www && %s " PY " -S -m http.server --bind %s %d >%s/server.log 2>&1 & "
			 "echo $! >%s/server.pid", dir, dir, dir, env,
			 netns_addr_b(fam), PORT, dir, dir))
		return -1;
	for (i = 0; i < 600; i++) {
		if (listening_in(nsb, PORT))
			return 0;
		usleep(100000);
	}
	TH_LOG("http.server did not start");
	netns_system(NULL, "cat %s/server.log >&2", dir);
	return -1;
}

static void stop_http(const char *dir)
{
	kill_server(dir);
}

TEST_F_TIMEOUT(dual, shim_http_server_and_clients, T_TIMEOUT)
{
	int fam = variant->family;
	char env[1200], out[160], got[256];
	long long good = CTR(self->ns.b, "knock_good");
	long long missing = CTR(self->ns.b, "knock_missing");

	snprintf(env, sizeof(env), "LD_PRELOAD=%s TCP_STEALTH_KEY_FILE=%s", shim_so, self->key);
	ASSERT_EQ(0, start_http(_metadata, self->ns.b, self->dir, fam, env));
	snprintf(out, sizeof(out), "%s/got", self->dir);

	/* The listener is protected: a plain client sees a closed port. */
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "knock_missing"));

	/* curl (non-blocking connect, IPPROTO_TCP) with the shim gets in. */
	EXPECT_EQ(0, netns_system(self->ns.a, "%s curl -sSg --max-time 20 -o %s http://%s:%d/hello.txt",
				  env, out, url_host(fam), PORT));
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ(HELLO, got);
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));

	/* python3's urllib (blocking connect, protocol 0, SOCK_CLOEXEC). */
	unlink(out);
	EXPECT_EQ(0, netns_system(self->ns.a, "%s " PY " -S -c 'import sys, urllib.request; "
				  "sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=20).read().decode())' "
				  "http://%s:%d/hello.txt >%s", env, url_host(fam), PORT, out));
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ(HELLO, got);
	EXPECT_EQ(good + 2, CTR(self->ns.b, "knock_good"));
	/* The rest does not depend on the family: IPv4 only (time). */
	if (fam != AF_INET)
		goto out;

	/* knock exec sets the same up. */
	unlink(out);
	EXPECT_EQ(0, netns_system(self->ns.a, "%s exec --key %s -- curl -sSg --max-time 20 -o %s http://%s:%d/hello.txt",
				  knock_bin, self->key, out, url_host(fam), PORT));
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ(HELLO, got);
	EXPECT_EQ(good + 3, CTR(self->ns.b, "knock_good"));

	/* knock connect talks to the shim's listener too. */
	EXPECT_EQ(0, netns_system(self->ns.a, "printf 'GET /hello.txt HTTP/1.0\\r\\n\\r\\n' | %s connect %s %d --key %s >%s",
				  knock_bin, netns_addr_b(fam), PORT, self->key, out));
	EXPECT_TRUE(file_has(out, HELLO));
	EXPECT_EQ(good + 4, CTR(self->ns.b, "knock_good"));

	/* TCP_STEALTH_PORTS without this port: curl connects unknocked. */
	EXPECT_EQ(7, netns_system(self->ns.a, "%s TCP_STEALTH_PORTS=1-%d,%d-65535 curl -sg --max-time 20 http://%s:%d/",
				  env, PORT - 1, PORT + 1, url_host(fam), PORT));
	EXPECT_EQ(missing + 2, CTR(self->ns.b, "knock_missing"));
	/* ... and with it, knocked. */
	EXPECT_EQ(0, netns_system(self->ns.a, "%s TCP_STEALTH_PORTS=80,%d curl -sg --max-time 20 -o /dev/null http://%s:%d/hello.txt",
				  env, PORT, url_host(fam), PORT));
	EXPECT_EQ(good + 5, CTR(self->ns.b, "knock_good"));
out:
	stop_http(self->dir);
}

/* Integrity through the shim: the server wants the first 14 bytes
 * committed; curl's request starts with them. */
TEST_F_TIMEOUT(tools, shim_integrity, T_TIMEOUT)
{
	int fam = AF_INET;
	char env[1200], commit[160], out[160], got[256];
	long long ok = CTR(self->ns.b, "integrity_ok");
	long long mismatch = CTR(self->ns.b, "integrity_mismatch");
	long long missing = CTR(self->ns.b, "integrity_missing");

	snprintf(env, sizeof(env), "LD_PRELOAD=%s TCP_STEALTH_KEY_FILE=%s TCP_STEALTH_INTEGRITY_LEN=14",
		 shim_so, self->key);
	ASSERT_EQ(0, start_http(_metadata, self->ns.b, self->dir, fam, env));
	snprintf(commit, sizeof(commit), "%s/commit", self->dir);
	snprintf(out, sizeof(out), "%s/got", self->dir);
	ASSERT_EQ(0, put(commit, "GET /hello.txt", 14, 0644));

	EXPECT_EQ(0, netns_system(self->ns.a, "%s exec --key %s --integrity-file %s -- curl -sSg --max-time 20 -o %s http://%s:%d/hello.txt",
				  knock_bin, self->key, commit, out, url_host(fam), PORT));
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ(HELLO, got);
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));

	/* Committed to other bytes than it sends: reset, never served. */
	ASSERT_EQ(0, put(commit, "GET /other.txt", 14, 0644));
	unlink(out);
	EXPECT_NE(0, netns_system(self->ns.a, "%s exec --key %s --integrity-file %s -- curl -sg --max-time 20 -o %s http://%s:%d/hello.txt",
				  knock_bin, self->key, commit, out, url_host(fam), PORT));
	EXPECT_FALSE(file_has(out, HELLO));
	EXPECT_EQ(mismatch + 1, CTR(self->ns.b, "integrity_mismatch"));

	/* Knocked without a commitment: refused. */
	EXPECT_EQ(7, netns_system(self->ns.a, "%s exec --key %s -- curl -sg --max-time 20 http://%s:%d/hello.txt",
				  knock_bin, self->key, url_host(fam), PORT));
	EXPECT_EQ(missing + 1, CTR(self->ns.b, "integrity_missing"));
	stop_http(self->dir);
}

/*
 * A bad configuration fails the application's connect(): even to an
 * unprotected listener, where an unknocked connect would succeed.
 */
TEST_F_TIMEOUT(tools, shim_fails_closed, T_TIMEOUT)
{
	int fam = AF_INET, lfd, i, cfd = -1;
	char err[160], bad[160], env[1200];
	static const struct { const char *file; int len; mode_t mode; const char *extra; const char *msg; } cases[] = {
		{ NULL, 0, 0, "", "No such file" },
		{ "world", 16, 0644, "", "group or others" },
		{ "long", 65, 0600, "", "longer than 64" },
		{ "empty", 0, 0600, "", "empty" },
		{ "good", 16, 0600, "TCP_STEALTH_PORTS=22,x", "TCP_STEALTH_PORTS" },
		{ "good", 16, 0600, "TCP_STEALTH_INTEGRITY_FILE=/nonexistent", "TCP_STEALTH_INTEGRITY_FILE" },
	};
	char junk[65];

	memset(junk, 'j', sizeof(junk));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	snprintf(err, sizeof(err), "%s/err", self->dir);
	/* The unprotected listener takes a plain connection (the control). */
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	close(cfd);
	cfd = tcp_accept_timeout(lfd, 1000);
	EXPECT_LE(0, cfd);
	if (cfd >= 0)
		close(cfd);

	for (i = 0; i < (int)(sizeof(cases) / sizeof(cases[0])); i++) {
		if (cases[i].file) {
			snprintf(bad, sizeof(bad), "%s/%s", self->dir, cases[i].file);
			ASSERT_EQ(0, put(bad, junk, cases[i].len, cases[i].mode));
		} else {
			snprintf(bad, sizeof(bad), "%s/missing", self->dir);
		}
		snprintf(env, sizeof(env), "LD_PRELOAD=%s TCP_STEALTH_KEY_FILE=%s %s",
			 shim_so, bad, cases[i].extra);
		/* curl (7: could not connect) once; then bash's /dev/tcp
		 * (1: the redirection failed), which starts faster. */
		if (i == 0) {
			EXPECT_EQ(7, netns_system(self->ns.a, "%s curl -sSg --max-time 5 http://%s:%d/ 2>%s",
						  env, url_host(fam), PORT, err));
		} else {
			EXPECT_EQ(1, netns_system(self->ns.a, "%s bash -c 'echo x >/dev/tcp/%s/%d' 2>%s",
						  env, netns_addr_b(fam), PORT, err))
				TH_LOG("case %d", i);
		}
		EXPECT_TRUE(file_has(err, "libtcpstealth:")) TH_LOG("case %d", i);
		EXPECT_TRUE(file_has(err, cases[i].msg)) TH_LOG("case %d: no \"%s\"", i, cases[i].msg);
		EXPECT_EQ(0, pending(lfd, 100)) TH_LOG("case %d: an unknocked connection got through", i);
	}
	/* A server with a bad key does not listen unprotected either. */
	EXPECT_NE(0, netns_system(self->ns.b, "LD_PRELOAD=%s TCP_STEALTH_KEY_FILE=%s/missing " PY
				  " -S -c 'import socket; s = socket.socket(); s.bind((\"\", 4243)); s.listen()' 2>%s",
				  shim_so, self->dir, err));
	EXPECT_TRUE(file_has(err, "listen on port 4243 refused"));
	close(lfd);
}

/*
 * The shim's connect() in this process (dlopen), in a child so that its
 * configuration is fresh: a non-blocking connect on a socket made with
 * protocol 0, SOCK_NONBLOCK and SOCK_CLOEXEC behaves as usual
 * (EINPROGRESS, then writable, then connect() again: 0 once, then EISCONN) and
 * knocks; a socket whose knock cannot be set (TCP-MD5 is on) fails with
 * the setsockopt's EBUSY and never connects.
 */
static int child_connect(const char *ns, int fam, const char *key, int md5)
{
	int (*shim_connect)(int, const struct sockaddr *, socklen_t);
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(fam, netns_addr_b(fam), PORT, &ss);
	struct pollfd p = { .events = POLLOUT };
	int fd, err = 0, saved, status;
	socklen_t elen = sizeof(err);
	void *h;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid) {
		if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
			return -1;
		return WEXITSTATUS(status);
	}
	setenv("TCP_STEALTH_KEY_FILE", key, 1);
	h = dlopen(shim_so, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		_exit(100);
	shim_connect = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(h, "connect");
	if (!shim_connect)
		_exit(101);
	saved = netns_enter(ns);
	if (saved < 0)
		_exit(102);
	fd = socket(fam, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	netns_leave(saved);
	if (fd < 0)
		_exit(103);
	if (md5) {
		struct tcp_md5sig m = { .tcpm_keylen = 4 };

		memcpy(&m.tcpm_addr, &ss, len);
		memcpy(m.tcpm_key, "md5!", 4);
		if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &m, sizeof(m)))
			_exit(104);
		if (shim_connect(fd, (struct sockaddr *)&ss, len) == 0)
			_exit(105);
		_exit(errno);	/* the test wants EBUSY */
	}
	if (shim_connect(fd, (struct sockaddr *)&ss, len) == 0 || errno != EINPROGRESS)
		_exit(106);
	p.fd = fd;
	if (poll(&p, 1, IO_TIMEOUT_MS) != 1 || !(p.revents & POLLOUT))
		_exit(107);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
		_exit(108);
	/* Again, as the real one: Linux reports success once, then EISCONN. */
	if (shim_connect(fd, (struct sockaddr *)&ss, len) && errno != EISCONN)
		_exit(109);
	if (shim_connect(fd, (struct sockaddr *)&ss, len) == 0 || errno != EISCONN)
		_exit(110);
	if (write(fd, "nb", 2) != 2)
		_exit(111);
	close(fd);
	dlclose(h);
	_exit(0);
}

TEST_F_TIMEOUT(dual, shim_nonblocking_and_setsockopt_errors, T_TIMEOUT)
{
	int fam = variant->family, lfd, cfd;
	char buf[3] = { 0 };
	long long good = CTR(self->ns.b, "knock_good");

	lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, 0);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(0, child_connect(self->ns.a, fam, self->key, 0));
	cfd = tcp_accept_timeout(lfd, IO_TIMEOUT_MS);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(0, read_all(cfd, buf, 2));
	EXPECT_STREQ("nb", buf);
	close(cfd);
	EXPECT_EQ(good + 1, CTR(self->ns.b, "knock_good"));
	close(lfd);

	/* TCP-MD5 leaves no room for the knock: EBUSY, and no connection even
	 * to an unprotected listener. */
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(EBUSY, child_connect(self->ns.a, fam, self->key, 1));
	EXPECT_EQ(0, pending(lfd, 200));
	close(lfd);
}

/* The lines of /proc/net/tcp_stealth_policy in @ns (into @buf), or -1. */
static int policy_lines(const char *ns, char *buf, size_t size)
{
	int n = 0;

	if (netns_read_file(ns, "/proc/net/tcp_stealth_policy", buf, size) < 0)
		return -1;
	for (const char *p = buf; (p = strchr(p, '\n')); p++)
		n++;
	return n;
}

/*
 * Whether /proc/net/tcp_stealth_policy in @ns has a line @line, or (with
 * @prefix) a line that is @line or starts with @line and a blank.
 */
static int policy_line(const char *ns, const char *line, bool prefix)
{
	char buf[4096];
	size_t len = strlen(line);

	if (policy_lines(ns, buf, sizeof(buf)) < 0)
		return 0;
	for (const char *p = buf; *p; p = strchr(p, '\n') + 1) {
		if (!strncmp(p, line, len) &&
		    (p[len] == '\n' || !p[len] || (prefix && p[len] == ' ')))
			return 1;
		if (!strchr(p, '\n'))
			break;
	}
	return 0;
}

/* Whether /proc/net/tcp_stealth_policy in @ns has the line @line. */
static int policy_has(const char *ns, const char *line)
{
	return policy_line(ns, line, false);
}

/* Whether /proc/net/tcp_stealth_policy in @ns has an entry for @port. */
static int policy_has_port(const char *ns, int port)
{
	char line[32];

	snprintf(line, sizeof(line), "port %d", port);
	return policy_line(ns, line, true);
}

/* The number of lines of /proc/net/tcp_stealth_policy in @ns, or -1. */
static int policy_count(const char *ns)
{
	char buf[4096];

	return policy_lines(ns, buf, sizeof(buf));
}

/*
 * knock protect / unprotect: the administrator's policy for a plain
 * listener, with the key file checks of the other subcommands.
 */
TEST_F_TIMEOUT(tools, protect_unprotect, T_TIMEOUT)
{
	const int fam = AF_INET;
	char err[300], bad[300];
	int lfd, cfd = -1;

	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);
	snprintf(err, sizeof(err), "%s/err", self->dir);
	ASSERT_EQ(0, netns_system(NULL, "%s protect %d --key %s --netns %s",
				  knock_bin, PORT, self->key, self->ns.b));
	EXPECT_TRUE(policy_has_port(self->ns.b, PORT));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	/* knock connect runs until the server closes: in the background. */
	EXPECT_EQ(0, netns_system(self->ns.a,
				  "printf x | timeout 30 %s connect %s %d --key %s >/dev/null 2>&1 &",
				  knock_bin, netns_addr_b(fam), PORT, self->key));
	cfd = tcp_accept_timeout(lfd, 10000);
	EXPECT_LE(0, cfd);
	close(cfd);

	/* A world-readable key file is refused, and nothing changes. */
	snprintf(bad, sizeof(bad), "%s/badkey", self->dir);
	ASSERT_EQ(0, put(bad, "0123456789", 10, 0644));
	EXPECT_EQ(1, netns_system(NULL, "%s protect %d --key %s --netns %s 2>%s",
				  knock_bin, PORT + 1, bad, self->ns.b, err));
	EXPECT_TRUE(file_has(err, bad));
	EXPECT_FALSE(policy_has_port(self->ns.b, PORT + 1));
	/* Bad requests: port 0, a port that is not protected. */
	EXPECT_EQ(2, netns_system(NULL, "%s protect 0 --key %s 2>/dev/null", knock_bin, self->key));
	EXPECT_EQ(1, netns_system(NULL, "%s unprotect %d --netns %s 2>%s",
				  knock_bin, PORT + 1, self->ns.b, err));
	EXPECT_TRUE(file_has(err, "not protected"));

	ASSERT_EQ(0, netns_system(NULL, "%s unprotect %d --netns %s", knock_bin, PORT, self->ns.b));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/*
 * knock apply: a policy file protects its ports; applying a changed file
 * updates them and removes the ports it no longer lists; a bad file is
 * refused with its line number and changes nothing; unprotect --all ends it.
 */
TEST_F_TIMEOUT(tools, apply_policy_file, T_TIMEOUT)
{
	static const char s1[] = "apply test key one", s2[] = "apply test key two";
	const int fam = AF_INET;
	char conf[200], k1[200], k2[200], err[300], text[700];
	int lfd, cfd = -1;

	snprintf(conf, sizeof(conf), "%s/policy.conf", self->dir);
	snprintf(k1, sizeof(k1), "%s/one.key", self->dir);
	snprintf(k2, sizeof(k2), "%s/two.key", self->dir);
	snprintf(err, sizeof(err), "%s/err", self->dir);
	ASSERT_EQ(0, put(k1, s1, strlen(s1), 0600));
	ASSERT_EQ(0, put(k2, s2, strlen(s2), 0600));
	lfd = listener(self->ns.b, fam, netns_addr_b(fam), NULL);
	ASSERT_LE(0, lfd);

	/* Relative key paths are relative to the file's directory. */
	snprintf(text, sizeof(text),
		 "# test policy\n\nport %d key one.key   # sshd\n"
		 "port %d key %s key two.key integrity 16\n", PORT, PORT + 1, k1);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0644));
	ASSERT_EQ(0, netns_system(NULL, "%s apply --check -c %s 2>/dev/null", knock_bin, conf));
	EXPECT_EQ(0, policy_count(self->ns.b));
	ASSERT_EQ(0, netns_system(NULL, "%s apply -q -c %s --netns %s", knock_bin, conf, self->ns.b));
	EXPECT_TRUE(policy_has(self->ns.b, "port 4242 keys 1 integrity 0"));
	EXPECT_TRUE(policy_has(self->ns.b, "port 4243 keys 2 integrity 16"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), s2, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), s1, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);

	/* Changed: 4242 moves to key two, 4243 goes. */
	snprintf(text, sizeof(text), "port %d key two.key\n", PORT);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0600));
	ASSERT_EQ(0, netns_system(NULL, "%s apply -c %s --netns %s 2>%s",
				  knock_bin, conf, self->ns.b, err));
	EXPECT_TRUE(file_has(err, "updated port 4242"));
	EXPECT_TRUE(file_has(err, "removed port 4243"));
	EXPECT_TRUE(policy_has(self->ns.b, "port 4242 keys 1 integrity 0"));
	EXPECT_EQ(1, policy_count(self->ns.b));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), s1, NULL));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), s2, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);

	/* A bad line: refused with its number, nothing changes. */
	snprintf(text, sizeof(text), "port %d key one.key\nprot 22 key one.key\n", PORT + 2);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0600));
	EXPECT_EQ(1, netns_system(NULL, "%s apply -c %s --netns %s 2>%s",
				  knock_bin, conf, self->ns.b, err));
	EXPECT_TRUE(file_has(err, "policy.conf:2: unknown keyword \"prot\""));
	EXPECT_EQ(1, policy_count(self->ns.b));
	/* A key file others can read: refused too. */
	ASSERT_EQ(0, chmod(k1, 0644));
	snprintf(text, sizeof(text), "port %d key one.key\n", PORT);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0600));
	EXPECT_EQ(1, netns_system(NULL, "%s apply --check -c %s 2>%s", knock_bin, conf, err));
	EXPECT_TRUE(file_has(err, "policy.conf:1: key file"));
	EXPECT_TRUE(policy_has(self->ns.b, "port 4242 keys 1 integrity 0"));

	ASSERT_EQ(0, netns_system(NULL, "%s unprotect --all --netns %s 2>/dev/null",
				  knock_bin, self->ns.b));
	EXPECT_EQ(0, policy_count(self->ns.b));
	ASSERT_EQ(0, client(self->ns.a, fam, netns_addr_b(fam), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/*
 * The command of line @key= (ExecStart, ExecReload, ExecStop) of unit file
 * @unit into @out: 0, or -1 (no such line, too long).
 */
static int unit_command(const char *unit, const char *key, char *out, size_t size)
{
	static char text[8192];
	const char *line, *end;
	size_t klen = strlen(key);

	if (slurp(unit, text, sizeof(text)) < 0)
		return -1;
	for (line = text; *line; line = *end ? end + 1 : end) {
		end = strchrnul(line, '\n');
		if (strncmp(line, key, klen) || line[klen] != '=')
			continue;
		line += klen + 1;
		if ((size_t)(end - line) >= size)
			return -1;
		memcpy(out, line, end - line);
		out[end - line] = '\0';
		return 0;
	}
	return -1;
}

/*
 * The tools package (make deb-tools, build/deb/tcp-stealth-tools_*.deb, or
 * $TCP_STEALTH_TOOLS_DEB), installed for real with dpkg -i: the guest's
 * /usr, /etc and /var are throwaway overlays over the host's root (dpkg
 * keeps its records in a directory of the test's, so as not to read the
 * host's whole database under TCG). The systemd unit's commands run as
 * they are written (ExecStartPre's modprobe aside: the module is loaded
 * already) in the server's namespace, with the installed
 * /etc/tcp-stealth/policy.conf: ExecStart applies a port protected for IPv4
 * only (the port stays open over IPv6), ExecReload the file changed to both
 * families, ExecStop removes the policy. In between, the installed knock
 * exec finds the installed shim by itself and gets an unmodified client
 * through. dpkg -r then removes it, all but the changed conffile.
 */
TEST_F_TIMEOUT(tools, installed_package, T_TIMEOUT)
{
	static const char unit[] = "/lib/systemd/system/tcp-stealth.service";
	static const char conf[] = "/etc/tcp-stealth/policy.conf";
	const char *env = getenv("TCP_STEALTH_TOOLS_DEB");
	char deb[500], admin[200], text[300], cmd[600];
	int l4, l6, cfd = -1;
	glob_t g;

	if (env) {
		snprintf(deb, sizeof(deb), "%s", env);
	} else {
		repo_top(deb, sizeof(deb) - 64);
		strcat(deb, "/build/deb/tcp-stealth-tools_*.deb");
		if (glob(deb, 0, NULL, &g) == 0) {
			snprintf(deb, sizeof(deb), "%s", g.gl_pathv[g.gl_pathc - 1]);
			globfree(&g);
		}
	}
	if (access(deb, R_OK))
		SKIP(return, "no package %s: make deb-tools (scripts/pkg-check.sh) builds it", deb);
	ASSERT_NE(0, access("/usr/bin/knock", F_OK)) TH_LOG("/usr/bin/knock is there before dpkg -i");
	snprintf(admin, sizeof(admin), "%s/dpkg", self->dir);
	ASSERT_EQ(0, netns_system(NULL, "mkdir -p %s/info %s/updates && : >%s/status",
				  admin, admin, admin));
	/*
	 * The guest's overlays refuse to rename a new directory (EXDEV), which
	 * is how dpkg puts one in place: the package's new directories are
	 * made first, with its modes (a real root has no such limit).
	 */
	ASSERT_EQ(0, netns_system(NULL, "dpkg-deb --fsys-tarfile %s | tar -tv | awk '$1 ~ /^d/ { "
				  "p = substr($1, 2); m = 0; for (i = 1; i <= 9; i++) "
				  "m = m * 2 + (substr(p, i, 1) != \"-\"); printf \"%%o %%s\\n\", m, $6 }' | "
				  "while read -r m d; do d=${d#.}; [ -e \"$d\" ] || mkdir -m \"$m\" \"$d\" || "
				  "exit 1; done", deb));
	/* (Its dependencies are the host's, not in these records.) */
	ASSERT_EQ(0, netns_system(NULL, "dpkg --admindir=%s --log=/dev/null --force-depends -i %s "
				  ">%s/dpkg.log 2>&1 || { cat %s/dpkg.log; exit 1; }",
				  admin, deb, self->dir, self->dir));
	ASSERT_EQ(0, access("/usr/bin/knock", X_OK));
	ASSERT_EQ(0, access(conf, R_OK));
	ASSERT_EQ(0, unit_command(unit, "ExecStartPre", cmd, sizeof(cmd)));
	EXPECT_STREQ("/sbin/modprobe tcp_stealth", cmd);

	l4 = listener(self->ns.b, AF_INET, netns_addr_b(AF_INET), NULL);
	l6 = listener(self->ns.b, AF_INET6, netns_addr_b(AF_INET6), NULL);
	ASSERT_LE(0, l4);
	ASSERT_LE(0, l6);
	snprintf(text, sizeof(text), "port %d key %s family ipv4\n", PORT, self->key);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0644));
	ASSERT_EQ(0, unit_command(unit, "ExecStart", cmd, sizeof(cmd)));
	ASSERT_EQ(0, netns_system(self->ns.b, "%s 2>/dev/null", cmd)) TH_LOG("ExecStart: %s", cmd);
	EXPECT_TRUE(policy_has(self->ns.b, "port 4242 keys 1 integrity 0 family ipv4"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, AF_INET, netns_addr_b(AF_INET), NULL, NULL));
	ASSERT_EQ(0, client(self->ns.a, AF_INET6, netns_addr_b(AF_INET6), NULL, &cfd));
	EXPECT_EQ(0, exchange(cfd, l6));
	close(cfd);

	/* The shim as knock exec finds it, not as the other tests give it. */
	EXPECT_EQ(0, netns_system(self->ns.a, "env -u TCP_STEALTH_SHIM /usr/bin/knock exec --key %s -- "
				  "bash -c 'echo pkg >/dev/tcp/%s/%d'",
				  self->key, netns_addr_b(AF_INET), PORT));
	cfd = tcp_accept_timeout(l4, IO_TIMEOUT_MS);
	EXPECT_LE(0, cfd);
	if (cfd >= 0)
		close(cfd);

	snprintf(text, sizeof(text), "port %d key %s\n", PORT, self->key);
	ASSERT_EQ(0, put(conf, text, strlen(text), 0644));
	ASSERT_EQ(0, unit_command(unit, "ExecReload", cmd, sizeof(cmd)));
	ASSERT_EQ(0, netns_system(self->ns.b, "%s 2>/dev/null", cmd)) TH_LOG("ExecReload: %s", cmd);
	EXPECT_TRUE(policy_has(self->ns.b, "port 4242 keys 1 integrity 0"));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, AF_INET6, netns_addr_b(AF_INET6), NULL, NULL));

	ASSERT_EQ(0, unit_command(unit, "ExecStop", cmd, sizeof(cmd)));
	ASSERT_EQ(0, netns_system(self->ns.b, "%s 2>/dev/null", cmd)) TH_LOG("ExecStop: %s", cmd);
	EXPECT_EQ(0, policy_count(self->ns.b));
	close(l4);
	close(l6);

	/* (Purging, scripts/pkg-check.sh tries: here dpkg's empty records
	 * would have it remove /etc, which the guest cannot.) */
	EXPECT_EQ(0, netns_system(NULL, "dpkg --admindir=%s --log=/dev/null -r tcp-stealth-tools "
				  ">/dev/null 2>&1", admin));
	EXPECT_NE(0, access("/usr/bin/knock", F_OK));
	EXPECT_NE(0, access("/usr/lib/tcp-stealth/libtcpstealth.so", F_OK));
	EXPECT_TRUE(file_has(conf, "family") == 0 && file_has(conf, "port 4242"));
}

/*
 * An unmodified client whose committed bytes leave in pieces: send(),
 * sendmsg() with two buffers, writev() and sendfile(). The shim only sets
 * the commitment before connect(); the kernel checks however the bytes come.
 */
TEST_F_TIMEOUT(tools, shim_integrity_split_writes, T_TIMEOUT)
{
	static const char first[] = "AAAA-BBBBCCCC-DDDDEEEE-FFFFFFFF";	/* 31 bytes */
	const int fam = AF_INET, n = sizeof(first) - 1;
	char commit[160], rest[160], got[64];
	long long ok = CTR(self->ns.b, "integrity_ok");
	int lfd, afd;

	lfd = key_listener(self->ns.b, fam, self->secret, self->secret_len, n);
	ASSERT_LE(0, lfd);
	snprintf(commit, sizeof(commit), "%s/commit", self->dir);
	snprintf(rest, sizeof(rest), "%s/rest", self->dir);
	ASSERT_EQ(0, put(commit, first, n, 0644));
	ASSERT_EQ(0, put(rest, first + 23, n - 23, 0644));
	EXPECT_EQ(0, netns_system(self->ns.a,
		"%s exec --key %s --integrity-file %s -- " PY " -S -c '"
		"import os, socket, time\n"
		"s = socket.create_connection((\"%s\", %d), timeout=10)\n"
		"s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)\n"
		"s.send(b\"AAAA-\"); time.sleep(0.05)\n"
		"s.sendmsg([b\"BBBB\", b\"CCCC-\"]); time.sleep(0.05)\n"
		"os.writev(s.fileno(), [b\"DDDD\", b\"EEEE-\"]); time.sleep(0.05)\n"
		"s.sendfile(open(\"%s\", \"rb\"))\n"
		"s.close()'",
		knock_bin, self->key, commit, netns_addr_b(fam), PORT, rest));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, read_all(afd, got, n));
	EXPECT_EQ(0, memcmp(got, first, n));
	EXPECT_EQ(ok + 1, CTR(self->ns.b, "integrity_ok"));
	close(afd);
	close(lfd);
}

/* ---- OpenSSH through the knock --------------------------------------- */

/*
 * The real programs: OpenSSH's sshd in b, untouched, protected by `knock
 * protect` (the administrator's policy) or run under the shim (`knock exec
 * sshd`); ssh and scp in a through `ProxyCommand='knock connect %h %p'` and
 * under the shim (`knock exec ssh`, `knock exec scp`). A throwaway ed25519
 * host key and client key in the scratch directory, sshd as root with its
 * own configuration file. Skipped when OpenSSH is not installed
 * (scripts/setup.sh installs it).
 */
#define SSHD "/usr/sbin/sshd"
#define SCP_SIZE (2 << 20)

FIXTURE(ssh) {
	TOOLS_DATA
	char opts[600];		/* ssh's options, the port excepted */
	char proxy[700];	/* -o ProxyCommand=... */
	char big[128];		/* SCP_SIZE bytes to copy */
	char scp_host[64];	/* root@ADDR: or root@[ADDR]: */
};

FIXTURE_VARIANT(ssh) {
	int family;
};

FIXTURE_VARIANT_ADD(ssh, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(ssh, ipv6) {
	.family = AF_INET6,
};

/*
 * A mount namespace of this test's own (each test runs in a child of the
 * harness), where files can be replaced by bind mounts that only this test
 * and its children see. Slave: the harness's later unmounts (of the network
 * namespaces) still reach it.
 */
static int private_mounts(void)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		perror("private_mounts");
		return -1;
	}
	return 0;
}

static int bind_over(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND, NULL)) {
		fprintf(stderr, "bind %s over %s: %s\n", src, dst, strerror(errno));
		return -1;
	}
	return 0;
}

/* Host names for b in a private /etc/hosts: tsb.test (both families),
 * tsb4.test (IPv4 only), TSB-Other.test (both, for another name). */
static int private_hosts(const char *dir)
{
	char hosts[160];
	static const char text[] =
		NETNS_B_IP4 " tsb.test tsb4.test TSB-Other.test\n"
		NETNS_B_IP6 " tsb.test TSB-Other.test\n";

	snprintf(hosts, sizeof(hosts), "%s/hosts", dir);
	if (put(hosts, text, sizeof(text) - 1, 0644))
		return -1;
	return bind_over(hosts, "/etc/hosts");
}

/*
 * For sshd: root with an empty home and a password field sshd does not
 * call locked, in a private mount namespace. Without PAM, sshd refuses a
 * key to an account whose password is "*" (Debian's root); and bash, run
 * by sshd, would source root's ~/.bashrc, whatever it starts (seconds
 * under TCG).
 */
static int private_root_account(const char *dir)
{
	char home[160], shadow[160], line[1024];
	FILE *in, *out;
	int ok = 1;

	snprintf(home, sizeof(home), "%s/home", dir);
	snprintf(shadow, sizeof(shadow), "%s/shadow", dir);
	if (mkdir(home, 0700))
		return -1;
	in = fopen("/etc/shadow", "r");
	out = fopen(shadow, "w");
	while (in && out && fgets(line, sizeof(line), in)) {
		char *rest;

		/* root:<password>:rest -> root:unusable-not-locked:rest */
		if (!strncmp(line, "root:", 5) && (rest = strchr(line + 5, ':')))
			ok &= fprintf(out, "root:unusable-not-locked%s", rest) > 0;
		else
			ok &= fputs(line, out) >= 0;
	}
	if (!in || !out || !ok) {
		if (in)
			fclose(in);
		if (out)
			fclose(out);
		return -1;
	}
	fclose(in);
	if (fchmod(fileno(out), 0640) || fclose(out))
		return -1;
	if (private_mounts() || bind_over(home, "/root") || bind_over(shadow, "/etc/shadow"))
		return -1;
	return 0;
}

FIXTURE_SETUP(ssh)
{
	char path[160], conf[1024];
	const char *d;
	unsigned char *big;
	int n;

	if (access(SSHD, X_OK) || access("/usr/bin/ssh", X_OK) || access("/usr/bin/scp", X_OK) ||
	    access("/usr/bin/ssh-keygen", X_OK))
		SKIP(return, "OpenSSH (sshd, ssh, scp, ssh-keygen) is not installed: "
		     "apt-get install openssh-server openssh-client (scripts/setup.sh does)");
	TOOLS_SETUP();
	d = self->dir;
	/* Two execs, not a shell: the rest is done in-process. */
	ASSERT_EQ(0, netns_system(NULL, "ssh-keygen -q -t ed25519 -N '' -C tstools-host -f %s/host_key",
				  d));
	ASSERT_EQ(0, netns_system(NULL, "ssh-keygen -q -t ed25519 -N '' -C tstools-client -f %s/id",
				  d));
	snprintf(path, sizeof(path), "%s/id.pub", d);
	n = slurp(path, conf, sizeof(conf));
	ASSERT_LT(0, n);
	snprintf(path, sizeof(path), "%s/authorized_keys", d);
	ASSERT_EQ(0, put(path, conf, n, 0644));
	ASSERT_TRUE(!mkdir("/run/sshd", 0755) || errno == EEXIST);
	/* Both families on PORT, keys only, no PAM, no DNS, only the
	 * scratch files. */
	n = snprintf(conf, sizeof(conf), "Port %d\nHostKey %s/host_key\n"
		     "AuthorizedKeysFile %s/authorized_keys\nUsePAM no\nStrictModes no\n"
		     "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
		     "PermitRootLogin prohibit-password\nUseDNS no\nPidFile none\n"
		     "Subsystem sftp internal-sftp\nLogLevel ERROR\n", PORT, d, d);
	ASSERT_GT((int)sizeof(conf), n);
	snprintf(path, sizeof(path), "%s/sshd_config", d);
	ASSERT_EQ(0, put(path, conf, n, 0644));
	snprintf(self->opts, sizeof(self->opts),
		 "-F /dev/null -i %s/id -o IdentitiesOnly=yes -o UserKnownHostsFile=%s/known_hosts "
		 "-o StrictHostKeyChecking=no -o BatchMode=yes -o ConnectTimeout=30 -o LogLevel=ERROR "
		 /* Not the default sntrup761 hybrid: costly under TCG. */
		 "-o KexAlgorithms=curve25519-sha256",
		 d, d);
	snprintf(self->proxy, sizeof(self->proxy), "-o 'ProxyCommand=%s connect %%h %%p --key %s'",
		 knock_bin, self->key);
	snprintf(self->scp_host, sizeof(self->scp_host), "root@%s:", url_host(variant->family));
	snprintf(self->big, sizeof(self->big), "%s/big", d);
	big = malloc(SCP_SIZE);
	ASSERT_NE(NULL, big);
	fill(big, SCP_SIZE, 7);
	ASSERT_EQ(0, put(self->big, big, SCP_SIZE, 0644));
	free(big);
	ASSERT_EQ(0, private_root_account(d));
}

FIXTURE_TEARDOWN_PARENT(ssh)
{
	if (self->dir[0])
		TOOLS_TEARDOWN();
}

/* Start sshd in b, after @prefix (a wrapper command or ""); wait until it
 * listens on PORT. */
static int start_sshd(struct __test_metadata *_metadata, FIXTURE_DATA(ssh) *self,
		      const char *prefix)
{
	int i;

	if (netns_system(self->ns.b, "%s " SSHD " -D -e -f %s/sshd_config 2>%s/sshd.log & "
			 "echo $! >%s/server.pid", prefix, self->dir, self->dir, self->dir))
		return -1;
	for (i = 0; i < 300; i++) {
		if (listening_in(self->ns.b, PORT))
			return 0;
		usleep(100000);
	}
	TH_LOG("sshd did not start");
	netns_system(NULL, "cat %s/sshd.log >&2", self->dir);
	return -1;
}

/* Stop the sshd start_sshd() started; wait until its port is closed. */
static int stop_sshd(FIXTURE_DATA(ssh) *self)
{
	int i;

	if (kill_server(self->dir))
		return -1;
	for (i = 0; i < 300 && listening_in(self->ns.b, PORT); i++)
		usleep(50000);
	return listening_in(self->ns.b, PORT) ? -1 : 0;
}

/* Is file @path byte for byte the test's SCP_SIZE bytes? (In-process: an
 * exec costs more than the compare under TCG.) */
static int same_as_big(const char *path)
{
	unsigned char *want = malloc(SCP_SIZE), *got = malloc(SCP_SIZE + 1);
	int fd = open(path, O_RDONLY | O_CLOEXEC), same = 0;
	size_t n = 0;
	ssize_t r = 0;

	if (want && got && fd >= 0) {
		fill(want, SCP_SIZE, 7);
		while (n <= SCP_SIZE && (r = read(fd, got + n, SCP_SIZE + 1 - n)) > 0)
			n += r;
		same = r == 0 && n == SCP_SIZE && !memcmp(want, got, SCP_SIZE);
	}
	if (fd >= 0)
		close(fd);
	free(want);
	free(got);
	return same;
}

/* A plain ssh, without the knock, finds a closed port. */
static void ssh_refused(struct __test_metadata *_metadata, FIXTURE_DATA(ssh) *self, int fam)
{
	char err[160];

	snprintf(err, sizeof(err), "%s/err", self->dir);
	EXPECT_EQ(255, netns_system(self->ns.a, "ssh %s -p %d root@%s true 2>%s",
				    self->opts, PORT, netns_addr_b(fam), err));
	EXPECT_TRUE(file_has(err, "Connection refused"));
}

/* A command through ProxyCommand='knock connect ...': its output came. */
static void ssh_proxy_command(struct __test_metadata *_metadata, FIXTURE_DATA(ssh) *self, int fam)
{
	char out[160], got[64];

	snprintf(out, sizeof(out), "%s/out", self->dir);
	unlink(out);
	EXPECT_EQ(0, netns_system(self->ns.a, "ssh %s %s -p %d root@%s 'echo proxied-$((6*7))' >%s",
				  self->opts, self->proxy, PORT, netns_addr_b(fam), out));
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_STREQ("proxied-42\n", got);
}

/*
 * sshd untouched, its port protected by the administrator's policy: a
 * plain ssh is refused; a command through ProxyCommand, an scp of 2 MB up
 * through it, a command under the shim (IPv4) get in. Then sshd under the
 * shim (`knock exec sshd`), the policy gone: a plain connection is
 * refused; a command through ProxyCommand (IPv4) and an scp of 2 MB down
 * under the shim (scp runs ssh, which inherits it) get in. One test, so
 * that the keys are made once (every exec costs under TCG).
 */
TEST_F_TIMEOUT(ssh, sshd_by_policy_then_under_shim, T_TIMEOUT)
{
	int fam = variant->family, n = 2;
	char out[160], got[64], path[160], prefix[700];
	long long good = CTR(self->ns.b, "knock_good");

	ASSERT_EQ(0, netns_system(NULL, "%s protect %d --key %s --netns %s",
				  knock_bin, PORT, self->key, self->ns.b));
	ASSERT_EQ(0, start_sshd(_metadata, self, ""));
	ssh_refused(_metadata, self, fam);
	ssh_proxy_command(_metadata, self, fam);

	snprintf(path, sizeof(path), "%s/big.up", self->dir);
	EXPECT_EQ(0, netns_system(self->ns.a, "scp -q %s %s -P %d %s %s%s",
				  self->opts, self->proxy, PORT, self->big, self->scp_host, path));
	EXPECT_TRUE(same_as_big(path));

	/* A client under the shim: over IPv6 in the scp below only. */
	if (fam == AF_INET) {
		snprintf(out, sizeof(out), "%s/out", self->dir);
		unlink(out);
		EXPECT_EQ(0, netns_system(self->ns.a, "%s exec --key %s -- ssh %s -p %d root@%s 'echo shimmed-$((6*7))' >%s",
					  knock_bin, self->key, self->opts, PORT, netns_addr_b(fam), out));
		ASSERT_LE(0, slurp(out, got, sizeof(got)));
		EXPECT_STREQ("shimmed-42\n", got);
		n++;
	}
	/* Every connection knocked. */
	EXPECT_EQ(good + n, CTR(self->ns.b, "knock_good"));
	ASSERT_EQ(0, stop_sshd(self));
	ASSERT_EQ(0, netns_system(NULL, "%s unprotect %d --netns %s", knock_bin, PORT, self->ns.b));

	/* The same sshd under the shim. */
	good = CTR(self->ns.b, "knock_good");
	n = 1;
	snprintf(prefix, sizeof(prefix), "%s exec --key %s --", knock_bin, self->key);
	ASSERT_EQ(0, start_sshd(_metadata, self, prefix));
	EXPECT_EQ(-ECONNREFUSED, client(self->ns.a, fam, netns_addr_b(fam), NULL, NULL));
	if (fam == AF_INET) {
		ssh_proxy_command(_metadata, self, fam);
		n++;
	}
	snprintf(path, sizeof(path), "%s/big.down", self->dir);
	EXPECT_EQ(0, netns_system(self->ns.a, "%s exec --key %s -- scp -q %s -P %d %s%s %s",
				  knock_bin, self->key, self->opts, PORT, self->scp_host, self->big, path));
	EXPECT_TRUE(same_as_big(path));
	EXPECT_EQ(good + n, CTR(self->ns.b, "knock_good"));
}

/* ---- knock connect with host names, -4 and -6 ------------------------ */

/*
 * Names from a private /etc/hosts: -4 and -6 pick the family of a name
 * with both, without either one of them is taken; a name without an
 * address of the wanted family, and a name that does not resolve, are
 * errors that say so.
 */
TEST_F_TIMEOUT(tools, connect_host_names_and_families, T_TIMEOUT)
{
	static const struct { const char *flag, *data; int fam; } runs[] = {
		{ "-4", "over v4", AF_INET }, { "-6", "over v6", AF_INET6 }, { "", "", 0 },
	};
	int lfd[2], i, k;
	struct echo e[2];
	pthread_t t;
	char out[160];
	long long good = CTR(self->ns.b, "knock_good");

	ASSERT_EQ(0, private_mounts());
	ASSERT_EQ(0, private_hosts(self->dir));
	lfd[0] = key_listener(self->ns.b, AF_INET, self->secret, self->secret_len, 0);
	lfd[1] = key_listener(self->ns.b, AF_INET6, self->secret, self->secret_len, 0);
	ASSERT_LE(0, lfd[0]);
	ASSERT_LE(0, lfd[1]);
	snprintf(out, sizeof(out), "%s/out", self->dir);
	for (i = 0; i < 3; i++) {
		int want = runs[i].fam == AF_INET6;

		if (!runs[i].fam) {
			/* No flag: either family, whichever getaddrinfo() put
			 * first; one connection, not one to each. */
			EXPECT_EQ(0, netns_system(self->ns.a, "printf any | %s connect tsb.test %d --key %s >%s &",
						  knock_bin, PORT, self->key, out));
			struct pollfd p[2] = {
				{ .fd = lfd[0], .events = POLLIN },
				{ .fd = lfd[1], .events = POLLIN },
			};

			EXPECT_EQ(1, poll(p, 2, IO_TIMEOUT_MS));
			for (k = 0; k < 2; k++)
				if (p[k].revents)
					close(tcp_accept_timeout(lfd[k], 100));
			continue;
		}
		memset(e, 0, sizeof(e));
		for (k = 0; k < 2; k++) {
			e[k].lfd = lfd[k];
			e[k].rc = 1;	/* set by the server that got it */
		}
		e[want].rc = 0;
		ASSERT_EQ(0, pthread_create(&t, NULL, echo_server, &e[want]));
		EXPECT_EQ(0, netns_system(self->ns.a, "printf '%s' | %s connect %s tsb.test %d --key %s >%s",
					  runs[i].data, knock_bin, runs[i].flag, PORT, self->key, out));
		pthread_join(t, NULL);
		EXPECT_EQ(0, e[want].rc) TH_LOG("%s", runs[i].flag);
		EXPECT_STREQ(runs[i].data, e[want].got);
		EXPECT_EQ(0, pending(lfd[!want], 100)) TH_LOG("%s reached the other family", runs[i].flag);
	}
	EXPECT_EQ(good + 3, CTR(self->ns.b, "knock_good"));

	/* A name without the wanted family, and one that does not resolve. */
	EXPECT_EQ(1, netns_system(self->ns.a, "%s connect -6 tsb4.test %d --key %s </dev/null 2>%s",
				  knock_bin, PORT, self->key, out));
	EXPECT_TRUE(file_has(out, "tsb4.test: no address of the wanted family"));
	EXPECT_EQ(1, netns_system(self->ns.a, "%s connect no-such-host.invalid %d --key %s </dev/null 2>%s",
				  knock_bin, PORT, self->key, out));
	EXPECT_TRUE(file_has(out, "no-such-host.invalid"));
	EXPECT_EQ(good + 3, CTR(self->ns.b, "knock_good"));
	close(lfd[0]);
	close(lfd[1]);
}

/* ---- fleets: per-server keys from a master --------------------------- */

/* Run one knocking client (@cmd, in a) against an echo server on @lfd:
 * what the server got, into @got; 0 if the command succeeded and the
 * server got something. */
static int echo_through(FIXTURE_DATA(tools) *self, int lfd, const char *cmd, char *got, size_t size)
{
	struct echo e = { .lfd = lfd };
	pthread_t t;
	int rc;

	if (pthread_create(&t, NULL, echo_server, &e))
		return -1;
	rc = netns_system(self->ns.a, "%s", cmd);
	pthread_join(t, NULL);
	if ((size_t)e.n >= size)
		e.n = size - 1;
	memcpy(got, e.got, e.n);
	got[e.n] = '\0';
	/* The echo back may fail: a client like bash's /dev/tcp is gone. */
	return rc || e.n <= 0 ? -1 : 0;
}

/*
 * A server holding only the key derived for its name (knock derive)
 * accepts clients that derive it on the fly from the master and the name
 * they typed (knock connect --master, knock exec --master --name), and
 * refuses keys derived for another name, and the master itself.
 */
TEST_F_TIMEOUT(tools, fleet_derived_keys, T_TIMEOUT)
{
	const int fam = AF_INET;
	char master[160], skey[160], cmd[1200], got[128], hex[80], out[160];
	unsigned char s[TCP_STEALTH_SECRET_MAX + 1];
	long long good = CTR(self->ns.b, "knock_good");
	int lfd, n, i;

	ASSERT_EQ(0, private_mounts());
	ASSERT_EQ(0, private_hosts(self->dir));
	snprintf(master, sizeof(master), "%s/master", self->dir);
	snprintf(skey, sizeof(skey), "%s/server.key", self->dir);
	snprintf(out, sizeof(out), "%s/out", self->dir);
	ASSERT_EQ(0, netns_system(NULL, "%s keygen %s 2>/dev/null && %s derive --master %s --name tsb.test --out %s 2>/dev/null",
				  knock_bin, master, knock_bin, master, skey));
	n = slurp(skey, (char *)s, sizeof(s));
	ASSERT_EQ(32, n);
	/* The hex form names the same key; case and a final dot do not count. */
	ASSERT_EQ(0, netns_system(NULL, "%s derive --master %s --name TSB.Test. >%s", knock_bin, master, out));
	for (i = 0; i < n; i++)
		snprintf(hex + 2 * i, sizeof(hex) - 2 * i, "%02x", s[i]);
	ASSERT_LE(0, slurp(out, got, sizeof(got)));
	EXPECT_EQ(0, strncmp(got, hex, 64)) TH_LOG("%s vs %s", got, hex);

	lfd = key_listener(self->ns.b, fam, s, n, 0);
	ASSERT_LE(0, lfd);
	/* Derived on the fly from the name typed, from --name, under the shim. */
	snprintf(cmd, sizeof(cmd), "printf typed | %s connect -4 tsb.test %d --master %s >/dev/null",
		 knock_bin, PORT, master);
	EXPECT_EQ(0, echo_through(self, lfd, cmd, got, sizeof(got)));
	EXPECT_STREQ("typed", got);
	snprintf(cmd, sizeof(cmd), "printf named | %s connect %s %d --master %s --name TSB.TEST >/dev/null",
		 knock_bin, NETNS_B_IP4, PORT, master);
	EXPECT_EQ(0, echo_through(self, lfd, cmd, got, sizeof(got)));
	EXPECT_STREQ("named", got);
	snprintf(cmd, sizeof(cmd), "%s exec --master %s --name tsb.test -- bash -c 'echo shim >/dev/tcp/%s/%d'",
		 knock_bin, master, NETNS_B_IP4, PORT);
	EXPECT_EQ(0, echo_through(self, lfd, cmd, got, sizeof(got)));
	EXPECT_STREQ("shim\n", got);
	EXPECT_EQ(good + 3, CTR(self->ns.b, "knock_good"));

	/* Another name's key (the same address), the master itself: refused
	 * like a closed port. */
	EXPECT_EQ(1, netns_system(self->ns.a, "%s connect -4 TSB-Other.test %d --master %s </dev/null 2>%s",
				  knock_bin, PORT, master, out));
	EXPECT_TRUE(file_has(out, "Connection refused"));
	EXPECT_EQ(1, netns_system(self->ns.a, "%s exec --master %s --name other.test -- bash -c 'echo x >/dev/tcp/%s/%d' 2>%s",
				  knock_bin, master, NETNS_B_IP4, PORT, out));
	EXPECT_TRUE(file_has(out, "Connection refused"));
	EXPECT_EQ(1, netns_system(self->ns.a, "%s connect -4 tsb.test %d --key %s </dev/null 2>%s",
				  knock_bin, PORT, master, out));
	EXPECT_TRUE(file_has(out, "Connection refused"));
	EXPECT_EQ(good + 3, CTR(self->ns.b, "knock_good"));
	EXPECT_EQ(0, pending(lfd, 100));
	close(lfd);
}

TEST_HARNESS_MAIN
