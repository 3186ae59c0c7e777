// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress: for RUN_SECS, threads race every way of changing the
 * module's state against each other and against the packets it handles,
 * on a small set of shared sockets:
 *   - in namespace a, clients: TCP_ULP, TCP_STEALTH, TCP_STEALTH_KEY add and
 *     remove, TCP_STEALTH_MODE, TCP_STEALTH_INTEGRITY, TCP_STEALTH_INTEGRITY_LEN,
 *     getsockopt, connect, send, shutdown, disconnect (AF_UNSPEC) and close
 *     (dup2() of a fresh socket over the slot's descriptor, so the number
 *     always names one of the slot's sockets while others use it);
 *   - in namespace b, the same on listeners, plus bind/listen, accept, read
 *     and close of accepted connections;
 *   - in b, the administrator: generic netlink protect/unprotect of the
 *     ports, net.tcp_stealth.skew_secs and reject, and reading the /proc
 *     files.
 * Under lockdep and KASAN the VM run fails on any report; the module must
 * still work afterwards (a knocked connection) and unload (vm-run).
 * Errors of the calls themselves are expected (EISCONN, ENOENT, ...), except
 * those that mean the test or the module lost track of something.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#define RUN_SECS	15
#define SLOTS		12	/* shared sockets per namespace */
#define PORTS		4	/* PORT .. PORT + PORTS - 1 */
#define CLIENT_THREADS	3
#define SERVER_THREADS	3

static const char *const secrets[] = { "race one", "race two", "race three" };
#define NSECRETS (int)(sizeof(secrets) / sizeof(secrets[0]))

enum op {
	OP_ULP, OP_SECRET, OP_KEY_ADD, OP_KEY_DEL, OP_MODE, OP_INTEGRITY,
	OP_INTEGRITY_LEN, OP_GET, OP_CONNECT, OP_SEND, OP_SHUTDOWN,
	OP_DISCONNECT, OP_REPLACE, OP_KNOCK, OP_LISTEN, OP_ACCEPT, OP_PROTECT,
	OP_UNPROTECT, OP_SYSCTL, OP_PROC, NOPS,
};

static const char *const op_names[NOPS] = {
	"ulp", "secret", "key_add", "key_del", "mode", "integrity",
	"integrity_len", "get", "connect", "send", "shutdown", "disconnect",
	"replace", "knock", "listen", "accept", "protect", "unprotect",
	"sysctl", "proc",
};

struct race {
	const char *nsa, *nsb;
	int cslot[SLOTS], sslot[SLOTS];	/* fixed descriptor numbers */
	atomic_int stop;
	atomic_long ok[NOPS], failed[NOPS], unexpected;
};

struct worker {
	struct race *r;
	unsigned int seed;
	bool server;
};

static unsigned int rnd(unsigned int *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static int slot_family(int i)
{
	return i % 2 ? AF_INET6 : AF_INET;
}

/*
 * Errors no call here may return: the descriptors always name a socket, and
 * every buffer is valid.
 */
static bool unexpected(int err)
{
	return err == EBADF || err == ENOTSOCK || err == EFAULT;
}

static void count(struct race *r, enum op op, int ret)
{
	if (ret >= 0) {
		atomic_fetch_add(&r->ok[op], 1);
		return;
	}
	atomic_fetch_add(&r->failed[op], 1);
	if (unexpected(errno) && atomic_fetch_add(&r->unexpected, 1) < 5)
		fprintf(stderr, "# %s: %s\n", op_names[op], strerror(errno));
}

/* A fresh nonblocking TCP socket of @family in the thread's namespace
 * replaces the one behind @fd. */
static int replace(int fd, int family)
{
	int nfd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int ret;

	if (nfd < 0)
		return -1;
	ret = dup3(nfd, fd, O_CLOEXEC);
	close(nfd);
	return ret < 0 ? -1 : 0;
}

static int sockaddr_b(int family, int port, struct sockaddr_storage *ss)
{
	return netns_sockaddr(family, netns_addr_b(family), port, ss);
}

/* One of the operations every socket gets, on @fd; -1 with errno. */
static int socket_op(enum op op, int fd, int family, unsigned int *s)
{
	struct tcp_stealth_key k = { 0 };
	struct sockaddr_storage ss;
	const char *sec = secrets[rnd(s) % NSECRETS];
	char buf[128];
	socklen_t len;
	int v;

	switch (op) {
	case OP_ULP:
		return setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7);
	case OP_SECRET:
		return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, sec, strlen(sec));
	case OP_KEY_ADD:
	case OP_KEY_DEL:
		k.flags = op == OP_KEY_ADD ? TCP_STEALTH_KEY_ADD : TCP_STEALTH_KEY_DEL;
		k.secret_len = strlen(sec);
		memcpy(k.secret, sec, k.secret_len);
		return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k));
	case OP_MODE:
		v = rnd(s) % 3;	/* 2 is invalid */
		return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &v, sizeof(v));
	case OP_INTEGRITY:
		memset(buf, 'i', sizeof(buf));
		v = rnd(s) % 8 ? 1 + rnd(s) % sizeof(buf) : 0;	/* 0: invalid */
		return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, buf, v);
	case OP_INTEGRITY_LEN:
		v = rnd(s) % 4 ? rnd(s) % 64 : 70000;	/* 0 and 70000 invalid */
		return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &v,
				  sizeof(v));
	case OP_GET:
		len = sizeof(buf);
		if (getsockopt(fd, IPPROTO_TCP, TCP_STEALTH, buf, &len))
			return -1;
		len = sizeof(v);
		return getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &v, &len);
	case OP_CONNECT:
		/* Nonblocking: EINPROGRESS is a connect under way. */
		len = sockaddr_b(family, PORT + rnd(s) % PORTS, &ss);
		if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS)
			return -1;
		return 0;
	case OP_SEND:
		memset(buf, 'i', sizeof(buf));
		return send(fd, buf, 1 + rnd(s) % 64, MSG_DONTWAIT | MSG_NOSIGNAL);
	case OP_SHUTDOWN:
		return shutdown(fd, SHUT_RDWR);
	case OP_DISCONNECT:
		memset(&ss, 0, sizeof(ss));
		ss.ss_family = AF_UNSPEC;
		return connect(fd, (struct sockaddr *)&ss, sizeof(ss));
	case OP_REPLACE:
		return replace(fd, family);
	case OP_KNOCK:
		/* A fresh socket that knocks (or not) right away. */
		if (replace(fd, family))
			return -1;
		if (rnd(s) % 4 && (socket_op(OP_ULP, fd, family, s) ||
				   socket_op(OP_SECRET, fd, family, s)))
			return -1;
		if (rnd(s) % 4 == 0)
			socket_op(rnd(s) % 2 ? OP_MODE : OP_INTEGRITY, fd, family, s);
		return socket_op(OP_CONNECT, fd, family, s);
	case OP_LISTEN:
		v = 1;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &v, sizeof(v));
		if (rnd(s) % 2)
			setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &v, sizeof(v));
		len = sockaddr_b(family, PORT + rnd(s) % PORTS, &ss);
		if (bind(fd, (struct sockaddr *)&ss, len) && errno != EINVAL)
			return -1;
		return listen(fd, 8);
	case OP_ACCEPT:
		v = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (v < 0)
			return -1;
		(void)!read(v, buf, sizeof(buf));
		(void)!send(v, "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL);
		close(v);
		return 0;
	default:
		errno = EINVAL;
		return -1;
	}
}

static void *socket_worker(void *arg)
{
	static const enum op client_ops[] = {
		OP_ULP, OP_SECRET, OP_KEY_ADD, OP_KEY_DEL, OP_MODE, OP_INTEGRITY,
		OP_INTEGRITY_LEN, OP_GET, OP_CONNECT, OP_SEND, OP_SHUTDOWN,
		OP_DISCONNECT, OP_REPLACE, OP_KNOCK, OP_KNOCK, OP_KNOCK, OP_KNOCK,
	};
	static const enum op server_ops[] = {
		OP_ULP, OP_SECRET, OP_KEY_ADD, OP_KEY_DEL, OP_MODE,
		OP_INTEGRITY_LEN, OP_GET, OP_LISTEN, OP_LISTEN, OP_ACCEPT,
		OP_ACCEPT, OP_ACCEPT, OP_SHUTDOWN, OP_DISCONNECT, OP_REPLACE,
	};
	struct worker *w = arg;
	struct race *r = w->r;
	const enum op *ops = w->server ? server_ops : client_ops;
	int nops = w->server ? ARRAY_SIZE(server_ops) : ARRAY_SIZE(client_ops);
	int *slots = w->server ? r->sslot : r->cslot;

	if (netns_enter(w->server ? r->nsb : r->nsa) < 0) {
		atomic_fetch_add(&r->unexpected, 1);
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		int i = rnd(&w->seed) % SLOTS;
		enum op op = ops[rnd(&w->seed) % nops];

		count(r, op, socket_op(op, slots[i], slot_family(i), &w->seed));
	}
	return NULL;
}

/* Writes @val to /proc/sys/net/tcp_stealth/@name (the thread's namespace). */
static int sysctl_write(const char *name, int val)
{
	char path[96], buf[16];
	int fd, len, ret;

	snprintf(path, sizeof(path), "/proc/sys/net/tcp_stealth/%s", name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	len = snprintf(buf, sizeof(buf), "%d\n", val);
	ret = write(fd, buf, len) == len ? 0 : -1;
	close(fd);
	return ret;
}

static int proc_read(const char *path)
{
	char buf[4096];
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	close(fd);
	return 0;
}

/* The administrator of namespace b. */
static void *admin_worker(void *arg)
{
	struct worker *w = arg;
	struct race *r = w->r;
	int fd;

	if (netns_enter(r->nsb) < 0) {
		atomic_fetch_add(&r->unexpected, 1);
		return NULL;
	}
	fd = genl_socket(r->nsb);
	if (fd < 0) {
		atomic_fetch_add(&r->unexpected, 1);
		return NULL;
	}
	while (!atomic_load(&r->stop)) {
		int port = PORT + rnd(&w->seed) % PORTS, ret;
		const char *sec = secrets[rnd(&w->seed) % NSECRETS];

		switch (rnd(&w->seed) % 6) {
		case 0:
		case 1:
			ret = policy_send(fd, TCP_STEALTH_CMD_PROTECT, port, sec,
					  strlen(sec));
			errno = -ret;
			count(r, OP_PROTECT, ret);
			break;
		case 2:
			ret = policy_send(fd, TCP_STEALTH_CMD_UNPROTECT, port,
					  NULL, 0);
			errno = -ret;
			count(r, OP_UNPROTECT, ret);
			break;
		case 3:
			/* Mostly the default, sometimes 1 s or much more. */
			ret = rnd(&w->seed) % 3;
			count(r, OP_SYSCTL, sysctl_write("skew_secs",
				ret == 0 ? 1 : ret == 1 ? 120 : 3600));
			break;
		case 4:
			count(r, OP_SYSCTL, sysctl_write("reject",
							 rnd(&w->seed) % 4 == 0));
			break;
		default:
			count(r, OP_PROC, proc_read("/proc/net/tcp_stealth_policy"));
			count(r, OP_PROC, proc_read(TCP_STEALTH_STATS));
			break;
		}
	}
	close(fd);
	return NULL;
}

FIXTURE(race) {
	struct netns_pair ns;
};

FIXTURE_SETUP(race)
{
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsr"));
}

FIXTURE_TEARDOWN_PARENT(race)
{
	netns_pair_destroy(&self->ns);
}

TEST_F_TIMEOUT(race, everything_at_once, 180)
{
	struct race *r = calloc(1, sizeof(*r));
	struct worker w[CLIENT_THREADS + SERVER_THREADS + 1];
	pthread_t t[ARRAY_SIZE(w)];
	int i, n = 0, lfd, cfd;
	long total = 0;

	ASSERT_NE(NULL, r);
	r->nsa = self->ns.a;
	r->nsb = self->ns.b;
	for (i = 0; i < SLOTS; i++) {
		r->cslot[i] = sock_in(r->nsa, slot_family(i));
		r->sslot[i] = sock_in(r->nsb, slot_family(i));
		ASSERT_LE(0, r->cslot[i]);
		ASSERT_LE(0, r->sslot[i]);
		fcntl(r->cslot[i], F_SETFL, O_NONBLOCK);
		fcntl(r->sslot[i], F_SETFL, O_NONBLOCK);
	}
	for (i = 0; i < (int)ARRAY_SIZE(w); i++) {
		w[i] = (struct worker){
			.r = r, .seed = 0x9e3779b9u * (i + 1) ^ getpid(),
			.server = i >= CLIENT_THREADS,
		};
		if (pthread_create(&t[i], NULL,
				   i == ARRAY_SIZE(w) - 1 ? admin_worker : socket_worker,
				   &w[i]))
			break;
		n++;
	}
	sleep(RUN_SECS);
	atomic_store(&r->stop, 1);
	for (i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	for (i = 0; i < SLOTS; i++) {
		close(r->cslot[i]);
		close(r->sslot[i]);
	}
	for (i = 0; i < NOPS; i++) {
		long ok = atomic_load(&r->ok[i]), failed = atomic_load(&r->failed[i]);

		TH_LOG("%-14s %7ld ok %7ld failed", op_names[i], ok, failed);
		total += ok + failed;
		/*
		 * Every operation was tried, and those that need no connection
		 * made in time (send, accept) also worked.
		 */
		EXPECT_LT(0, ok + failed);
		if (i != OP_SEND && i != OP_ACCEPT)
			EXPECT_LT(0, ok) {
				TH_LOG("%s never succeeded", op_names[i]);
			}
	}
	TH_LOG("%ld operations in %d s, %lld knocks accepted", total, RUN_SECS,
	       CTR(r->nsb, "knock_good"));
	EXPECT_EQ((int)ARRAY_SIZE(w), n);
	EXPECT_EQ(0, atomic_load(&r->unexpected));

	/* Afterwards the module still works. */
	ASSERT_EQ(0, netns_sysctl_set(r->nsb, "net.tcp_stealth.skew_secs", "120"));
	ASSERT_EQ(0, netns_sysctl_set(r->nsb, "net.tcp_stealth.reject", "0"));
	lfd = listener(r->nsb, AF_INET, netns_addr_b(AF_INET), "after the race");
	ASSERT_LE(0, lfd);
	EXPECT_EQ(-ECONNREFUSED,
		  client(r->nsa, AF_INET, netns_addr_b(AF_INET), NULL, NULL));
	ASSERT_EQ(0, client(r->nsa, AF_INET, netns_addr_b(AF_INET),
			    "after the race", &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
	free(r);
}

TEST_HARNESS_MAIN
