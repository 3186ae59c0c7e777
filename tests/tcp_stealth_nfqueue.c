// SPDX-License-Identifier: GPL-2.0
/*
 * The input hook in process context. An NFQUEUE verdict from userspace
 * reinjects the packet (nf_reinject()): the hooks after the queueing one,
 * the module's among them, run in the verdict sender's process context with
 * BHs enabled. Here an nft rule (input, priority 0, before the module's 10)
 * queues everything to PORT, a small verdict loop in the test accepts it,
 * and several clients knock on PORT through it while others knock on
 * PORT + 1, which is not queued, so their SYNs reach the hook in softirq
 * context. (And the same with the queue after the module's hook, whose
 * reinjected SYNs the listener checks again.) Both kinds take the namespace's replay-cache lock. Taken with
 * BHs on, lockdep reports an "inconsistent lock state" (in real life a
 * softirq on the same CPU spins forever on the lock it interrupted), which
 * fails the VM run.
 *
 * The verdict loop talks nfnetlink itself (no libnetfilter_queue): bind
 * queue QNUM, copy metadata only, NF_ACCEPT every packet.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netlink.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define PAIR_NS_TAG "tsq"
#include "pair_fixture.h"

#define QNUM		7
#define CLIENTS		4	/* threads per port */
#define CONNECTS	4	/* connections per thread */

struct nfq_req {
	struct nlmsghdr nh;
	struct nfgenmsg nfg;
	char attrs[64];
};

static void nfq_init(struct nfq_req *r, int type)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_len = NLMSG_LENGTH(sizeof(struct nfgenmsg));
	r->nh.nlmsg_type = NFNL_SUBSYS_QUEUE << 8 | type;
	r->nh.nlmsg_flags = NLM_F_REQUEST;
	r->nfg.nfgen_family = AF_UNSPEC;
	r->nfg.version = NFNETLINK_V0;
	r->nfg.res_id = htons(QNUM);
}

/* An nfnetlink socket in @ns bound to queue QNUM, metadata only; or -1. */
static int nfq_open(const char *ns)
{
	struct nfqnl_msg_config_cmd cmd = { .command = NFQNL_CFG_CMD_BIND };
	struct nfqnl_msg_config_params params = {
		.copy_range = htonl(0), .copy_mode = NFQNL_COPY_META,
	};
	struct nfq_req r;
	int saved = netns_enter(ns), fd, err;

	if (saved < 0)
		return -1;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_NETFILTER);
	netns_leave(saved);
	if (fd < 0) {
		perror("socket(NETLINK_NETFILTER)");
		return -1;
	}
	sock_set_timeouts(fd, 200);
	nfq_init(&r, NFQNL_MSG_CONFIG);
	nl_put_attr(&r.nh, NFQA_CFG_CMD, &cmd, sizeof(cmd));
	err = nl_call(fd, &r.nh);
	if (!err) {
		nfq_init(&r, NFQNL_MSG_CONFIG);
		nl_put_attr(&r.nh, NFQA_CFG_PARAMS, &params, sizeof(params));
		err = nl_call(fd, &r.nh);
	}
	if (err) {
		fprintf(stderr, "# nfqueue config: %s\n", strerror(-err));
		close(fd);
		return -1;
	}
	return fd;
}

/* The packet id of an NFQNL_MSG_PACKET, or -1. */
static long long nfq_packet_id(struct nlmsghdr *nh)
{
	struct nlattr *a;
	int len;

	if (nh->nlmsg_type != (NFNL_SUBSYS_QUEUE << 8 | NFQNL_MSG_PACKET))
		return -1;
	a = (struct nlattr *)((char *)NLMSG_DATA(nh) + NLMSG_ALIGN(sizeof(struct nfgenmsg)));
	len = nh->nlmsg_len - NLMSG_LENGTH(sizeof(struct nfgenmsg));
	for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
	     len -= NLA_ALIGN(a->nla_len),
	     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len))) {
		struct nfqnl_msg_packet_hdr ph;

		if ((a->nla_type & NLA_TYPE_MASK) != NFQA_PACKET_HDR ||
		    a->nla_len < NLA_HDRLEN + sizeof(ph))
			continue;
		memcpy(&ph, (char *)a + NLA_HDRLEN, sizeof(ph));
		return ntohl(ph.packet_id);
	}
	return -1;
}

struct verdict_loop {
	int fd;
	atomic_int stop;
	atomic_int accepted;
	atomic_int errors;
};

/* Accept every queued packet until told to stop. */
static void *verdict_loop(void *arg)
{
	struct verdict_loop *v = arg;
	char buf[8192];

	while (!atomic_load(&v->stop)) {
		struct nlmsghdr *nh = (struct nlmsghdr *)buf;
		int n = recv(v->fd, buf, sizeof(buf), 0);

		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				atomic_fetch_add(&v->errors, 1);
			continue;
		}
		for (; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
			struct nfqnl_msg_verdict_hdr vh = { .verdict = htonl(NF_ACCEPT) };
			long long id = nfq_packet_id(nh);
			struct nfq_req r;

			if (id < 0)
				continue;
			vh.id = htonl(id);
			nfq_init(&r, NFQNL_MSG_VERDICT);
			nl_put_attr(&r.nh, NFQA_VERDICT_HDR, &vh, sizeof(vh));
			/* Here, in this thread's system call, the rest of the
			 * input hooks run. */
			if (send(v->fd, &r, r.nh.nlmsg_len, 0) < 0)
				atomic_fetch_add(&v->errors, 1);
			else
				atomic_fetch_add(&v->accepted, 1);
		}
	}
	return NULL;
}

struct knocker {
	const char *ns;
	int family, port;
	int fds[CONNECTS];
	int ok;
};

/* CONNECTS knocking connections to b:port, one after the other. */
static void *knocker(void *arg)
{
	struct knocker *k = arg;
	int i;

	for (i = 0; i < CONNECTS; i++)
		if (connect_to(k->fds[i], k->family, netns_addr_b(k->family),
			       k->port, 10000) == 0)
			k->ok++;
	return NULL;
}

/*
 * The clients' knocks to PORT through a queue in an nft input chain of
 * @prio, to PORT + 1 without: every connection must be made, each knock
 * counted good once.
 */
static void knock_through_queue(struct __test_metadata *_metadata,
				FIXTURE_DATA(pair) *self, int fam, int prio)
{
	int lq, ls, i, j, started = 0, ok = 0;
	struct knocker k[2 * CLIENTS];
	pthread_t kt[2 * CLIENTS], vt;
	struct verdict_loop v = { .fd = -1 };
	long long good = CTR(self->ns.b, "knock_good");

	lq = listener_on(self->ns.b, fam, netns_addr_b(fam), PORT, SECRET,
			 4 * CLIENTS * CONNECTS);
	ASSERT_LE(0, lq);
	ls = listener_on(self->ns.b, fam, netns_addr_b(fam), PORT + 1, SECRET,
			 4 * CLIENTS * CONNECTS);
	ASSERT_LE(0, ls);
	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft 'add table inet tsq; "
		"add chain inet tsq in { type filter hook input priority %d; }; "
		"add rule inet tsq in tcp dport %d queue num %d'", prio, PORT,
		QNUM));
	v.fd = nfq_open(self->ns.b);
	ASSERT_LE(0, v.fd);
	ASSERT_EQ(0, pthread_create(&vt, NULL, verdict_loop, &v));

	for (i = 0; i < 2 * CLIENTS; i++) {
		k[i] = (struct knocker){
			.ns = self->ns.a, .family = fam,
			.port = i % 2 ? PORT + 1 : PORT,
		};
		for (j = 0; j < CONNECTS; j++) {
			k[i].fds[j] = sock_in(self->ns.a, fam);
			ASSERT_LE(0, k[i].fds[j]);
			ASSERT_EQ(0, set_secret(k[i].fds[j], SECRET, 0));
		}
	}
	for (i = 0; i < 2 * CLIENTS; i++)
		if (pthread_create(&kt[i], NULL, knocker, &k[i]) == 0)
			started++;
		else
			break;
	for (i = 0; i < started; i++) {
		pthread_join(kt[i], NULL);
		if (k[i].ok != CONNECTS)
			TH_LOG("port %d: %d of %d connections", k[i].port,
			       k[i].ok, CONNECTS);
		ok += k[i].ok;
		for (j = 0; j < CONNECTS; j++)
			close(k[i].fds[j]);
	}
	atomic_store(&v.stop, 1);
	pthread_join(vt, NULL);
	close(v.fd);
	close(lq);
	close(ls);

	TH_LOG("%d of %d connections, %d packets accepted by the verdict loop",
	       ok, 2 * CLIENTS * CONNECTS, atomic_load(&v.accepted));
	EXPECT_EQ(2 * CLIENTS, started);
	EXPECT_EQ(2 * CLIENTS * CONNECTS, ok) {
		netns_system(self->ns.b, "cat " TCP_STEALTH_STATS " >&2");
	}
	EXPECT_EQ(0, atomic_load(&v.errors));
	/* Every SYN to PORT came through the queue. */
	EXPECT_LE(CLIENTS * CONNECTS, atomic_load(&v.accepted));
	EXPECT_EQ(good + 2 * CLIENTS * CONNECTS, CTR(self->ns.b, "knock_good"));
	ASSERT_EQ(0, netns_system(self->ns.b, "nft delete table inet tsq"));
}

TEST_F_TIMEOUT(pair, knocks_through_nfqueue, T_TIMEOUT)
{
	knock_through_queue(_metadata, self, variant->family, 0);
}

/*
 * The queue after the module's hook (priority 20): the hook judges each SYN
 * when it arrives, and the verdict reinjects it later, in process context,
 * where the listener trusts no vouch and checks it again (syn_unhooked):
 * its knock is then a duplicate of itself in the replay cache, which
 * passes. No knock may be refused for that.
 */
TEST_F_TIMEOUT(pair, knocks_through_nfqueue_after_hook, T_TIMEOUT)
{
	knock_through_queue(_metadata, self, variant->family, 20);
}

TEST_HARNESS_MAIN
