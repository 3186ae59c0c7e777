// SPDX-License-Identifier: GPL-2.0
/*
 * On the wire, a protected port must look exactly like a closed one.
 *
 * Namespace a sends hand-built TCP segments (raw IPPROTO_RAW socket, our own
 * IP header and TCP checksum) to namespace b and captures the answers with an
 * AF_PACKET socket on its veth0. In b, port P has a listener protected with
 * a secret and port Q has no listener at all. Every probe goes to both, from
 * different source ports, and the two answers (or their absence, judged
 * once a segment sent after them is answered: see exchange()) must agree in
 * every field an observer can see, except the IPv6 flow label, which the
 * kernel chooses per flow (printed, not compared).
 * Sequence numbers are compared relative to the probe's.
 *
 * Next to the wire, each probe moves b's counters (/proc/net/tcp_stealth_stats)
 * by exactly what src/knock.rs says it should.
 *
 * Probe sets (test closed_port): scanner probes and broken knocks
 * (closed_port_probes), a nonzero DSCP (closed_port_dscp), options TCP
 * checks before it answers a closed port (closed_port_auth_options), bad
 * checksums
 * (closed_port_bad_checksum) and, for IPv6, whether there is a flow label
 * (closed_port_flowlabel). Also: a valid knock replayed from another source
 * port, or in the client's own SYN after its connection ended, a SYN the
 * network duplicated, a knock that went stale (net.tcp_stealth.skew_secs=1)
 * and silent-drop mode (net.tcp_stealth.reject=1).
 *
 * While b has a protected listener, the module answers Q itself too (issue
 * 13: so that both ports take as long to answer), so P and Q agreeing says
 * nothing of the kernel's answer: closed_port_kernel_reference holds both
 * to what TCP answers once b has no protected listener any more.
 *
 * tos_local: a SYN to an address that only a TOS-selected "local" route
 * makes b's own, which TCP's closed port does not answer (its reset has no
 * route): the module's answers, protected and closed port, must be the same.
 * policy_local: the same for an address that policy routing makes local
 * (fwmark rule, "local" route in its table, nft marking and TPROXY, as
 * transparent proxies set it up). userns_uid: in a namespace owned by a
 * user namespace whose root is uid 1000 outside, a uidrange rule sends
 * that uid's traffic to an unreachable route: TCP's reset, routed with
 * the namespace root's uid, gets none, and neither must the module's.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "counters.h"
#include "netns.h"
#include "raw.h"
#include <linux/tcp_stealth.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define T_TIMEOUT	300
#define PORT_P		4242	/* protected listener */
#define PORT_Q		4243	/* nothing listens */
#define SECRET		"wire test secret"
#define REPLY_WAIT_MS	700	/* how long "no answer" is waited for */
#define DEFAULT_SKEW	120

#define KNOCK_KIND	254
#define KNOCK_LEN	20
#define KNOCK_EXID	0x4B4E

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

/* ---- packets ------------------------------------------------------------ */

/*
 * Send @sp and @sq and capture the answers to both, with a fence after them
 * (exchange_fenced()): an ACK to the closed port, which gets the closed
 * port's RST (from the module, which counts it in closed_answered, while b
 * has protected listeners).
 */
static void exchange(struct wire *w, const struct seg *sp,
		     const struct seg *sq, struct reply *rp, struct reply *rq)
{
	exchange_fenced(w, sp, sq, PORT_Q, rp, rq, REPLY_WAIT_MS);
}

/* ---- printing and comparing --------------------------------------------- */

static void print_reply(const struct wire *w, const char *tag,
			const struct seg *s, const struct reply *r)
{
	char fl[40], opts[128] = "-";
	int i;

	if (!r->present) {
		note("    %s (port %u): no reply", tag, s->dport);
		return;
	}
	for (i = 0; i < r->optlen; i++)
		sprintf(opts + 2 * i, "%02x", r->opts[i]);
	note("    %s (port %u): %s seq=probe.ack%+d ack=%s%+d win=%u urg=%u "
	     "doff=%u opts=%s data=%d",
	     tag, s->dport, flag_str(r->flags, fl), (int32_t)(r->seq - s->ack),
	     r->flags & TH_ACK ? "probe.seq" : "", r->flags & TH_ACK ?
	     (int32_t)(r->ack - s->seq) : (int32_t)r->ack, r->win, r->urg,
	     r->doff, opts, r->datalen);
	if (w->family == AF_INET)
		note("        ip: tos=0x%02x ttl=%u df=%d frag=0x%04x id=%u ihl=%u",
		     r->tos, r->ttl, !!(r->frag & 0x4000), r->frag, r->id,
		     r->ihl);
	else
		note("        ip6: tclass=0x%02x hlim=%u flowlabel=0x%05x",
		     r->tos, r->ttl, r->flow);
}

/*
 * Compare the answers to the probes @sp (protected port) and @sq (closed
 * port). Returns 0 if an observer can't tell them apart; otherwise prints
 * both, field by field, and returns the number of differing fields.
 */
static int compare_replies(const struct wire *w, const char *what,
			   const struct seg *sp, const struct reply *rp,
			   const struct seg *sq, const struct reply *rq)
{
	char diff[256] = "";
	int n = 0;

#define DIFF(cond, name) do {				\
		if (cond) {				\
			strcat(diff, " " name);		\
			n++;				\
		}					\
	} while (0)

	DIFF(rp->present != rq->present, "presence");
	if (rp->present && rq->present) {
		DIFF(rp->flags != rq->flags, "flags");
		DIFF(rp->seq - sp->ack != rq->seq - sq->ack, "seq");
		if ((rp->flags & TH_ACK) && (rq->flags & TH_ACK))
			DIFF(rp->ack - sp->seq != rq->ack - sq->seq, "ack");
		else
			DIFF(rp->ack != rq->ack, "ack");
		DIFF(rp->win != rq->win, "window");
		DIFF(rp->urg != rq->urg, "urg");
		DIFF(rp->doff != rq->doff, "doff");
		DIFF(rp->optlen != rq->optlen ||
		     memcmp(rp->opts, rq->opts, rp->optlen), "options");
		DIFF(rp->datalen != rq->datalen, "data");
		DIFF(rp->tos != rq->tos, "tos/tclass");
		DIFF(rp->ttl != rq->ttl, "ttl/hoplimit");
		DIFF(rp->frag != rq->frag, "df/frag");
		DIFF(rp->id != rq->id, "ip-id");
		DIFF(rp->ihl != rq->ihl, "ihl");
		DIFF(w->check_flow && !rp->flow != !rq->flow,
		     "flowlabel-zero");
	}
#undef DIFF
	if (n) {
		note("%s: protected and closed port answer differently:%s",
		     what, diff);
		print_reply(w, "protected", sp, rp);
		print_reply(w, "closed   ", sq, rq);
	} else if (rp->present && rp->flow != rq->flow) {
		note("%s: equivalent; flow labels differ (0x%05x vs 0x%05x), "
		     "not compared", what, rp->flow, rq->flow);
	}
	return n;
}

/* ---- sockets and namespaces --------------------------------------------- */

static int write_sysctl(const char *ns, const char *name, int val)
{
	char path[128], buf[16];
	int saved, fd, len, ret = -1;

	snprintf(path, sizeof(path), "/proc/sys/net/tcp_stealth/%s", name);
	len = snprintf(buf, sizeof(buf), "%d\n", val);
	saved = netns_enter(ns);
	if (saved < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0 && write(fd, buf, len) == len)
		ret = 0;
	else
		note("write %d to %s in %s: %s", val, path, ns, strerror(errno));
	if (fd >= 0)
		close(fd);
	netns_leave(saved);
	return ret;
}

/* A socket of @type made in namespace @ns. */
static int socket_in_ns(const char *ns, int family, int type, int proto)
{
	int saved, fd;

	saved = netns_enter(ns);
	if (saved < 0)
		return -1;
	fd = socket(family, type | SOCK_CLOEXEC, proto);
	if (fd < 0)
		note("socket(%d, %d, %d): %s", family, type, proto,
		     strerror(errno));
	netns_leave(saved);
	return fd;
}

/* A TCP socket in @ns that knocks with (or wants knocks for) @secret. */
static int stealth_socket(const char *ns, int family, const char *secret)
{
	int fd = socket_in_ns(ns, family, SOCK_STREAM, 0);

	if (fd < 0)
		return -1;
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7) ||
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, strlen(secret))) {
		note("stealth setsockopt: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int stealth_listen(struct wire *w, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t sl;
	int fd, one = 1;

	fd = stealth_socket(w->nsb, w->family, SECRET);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (w->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	sl = netns_sockaddr(w->family, netns_addr_b(w->family), port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		note("bind/listen port %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Start a knocking client's connection from a to b:@port and capture its SYN
 * as it leaves a (the knock is added at LOCAL_OUT, before the capture tap).
 * Returns the nonblocking socket, or -1.
 */
static int knock_connect(struct wire *w, uint16_t port, struct reply *syn)
{
	struct sockaddr_storage ss;
	struct match m = {
		.outgoing = true, .dport = port,
		.flags = TH_SYN, .mask = TH_SYN | TH_ACK, .out = syn,
	};
	socklen_t sl;
	int fd;

	fd = stealth_socket(w->nsa, w->family, SECRET);
	if (fd < 0)
		return -1;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	sl = netns_sockaddr(w->family, netns_addr_b(w->family), port, &ss);
	drain(w);
	if (connect(fd, (struct sockaddr *)&ss, sl) && errno != EINPROGRESS) {
		note("connect: %s", strerror(errno));
		close(fd);
		return -1;
	}
	sl = sizeof(ss);
	if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
		m.sport = ntohs(w->family == AF_INET6 ?
				((struct sockaddr_in6 *)&ss)->sin6_port :
				((struct sockaddr_in *)&ss)->sin_port);
	if (capture(w, &m, 1, 3000) != 1) {
		note("no SYN from the knocking client seen on a's veth0");
		close(fd);
		return -1;
	}
	return fd;
}

static int connect_wait(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t len = sizeof(int);
	int err = 0;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len))
		return -errno;
	return -err;
}

/* Where the 20-byte knock is in an option area, or -1. */
static int find_knock(const uint8_t *o, int len)
{
	int i = 0;

	while (i < len && o[i] != 0) {
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2)
			return -1;
		if (o[i] == KNOCK_KIND && o[i + 1] == KNOCK_LEN &&
		    i + KNOCK_LEN <= len && get16(o + i + 2) == KNOCK_EXID)
			return i;
		i += o[i + 1];
	}
	return -1;
}

/* ---- probes --------------------------------------------------------------- */

enum opt_kind {
	OPT_NONE,
	OPT_LINUX,		/* MSS, SACK-permitted, timestamps, wscale */
	OPT_GARBAGE,		/* our kind/length/ExID, 16 random bytes */
	OPT_TRUNC,		/* our kind and ExID, length 10 */
	OPT_BAD_MAC,		/* well-formed and fresh, random MAC */
	OPT_LINUX_BAD_MAC,	/* as a real client's SYN, random MAC */
	OPT_RBIT,		/* well-formed and fresh, but R set */
	OPT_BAD_OPTLEN,		/* an option with length 1, in 8 bytes (TCP
				 * checks only option areas of 5 bytes or more) */
	OPT_MD5,		/* TCP-MD5 signature (RFC 2385) */
	OPT_MD5_BADLEN,		/* TCP-MD5 kind with length 10 */
	OPT_AO,			/* TCP-AO (RFC 5925) */
	OPT_RAW,		/* caller supplies the bytes */
};

struct probe {
	const char *name;
	uint8_t flags, tos;
	enum opt_kind opt;
	int datalen;
	bool bad_csum;
	/*
	 * What the protected port counts for it (knock.rs): the reason it
	 * rejects the probe, or NULL if the probe passes on to TCP (ACK or
	 * RST set), "?" for OPT_GARBAGE (depends on the random bytes).
	 */
	const char *counter;
	/* Whether the closed port answers: 1 it must, 0 it must not, -1 any. */
	int q_reply;
};

static bool is_syn(uint8_t flags)
{
	return (flags & (TH_SYN | TH_ACK | TH_RST | TH_FIN)) == TH_SYN;
}

static uint16_t now_t14(void)
{
	return time(NULL) & 0x3fff;
}

/* A 20-byte knock at @o with control word @ctl and random nonce and MAC. */
static void put_knock(uint8_t *o, uint16_t ctl)
{
	o[0] = KNOCK_KIND;
	o[1] = KNOCK_LEN;
	put16(o + 2, KNOCK_EXID);
	put16(o + 4, ctl);
	rand_bytes(o + 6, 14);
}

/* Offset of the time of a knock with T14 @t14 from now (PROTOCOL.md §5). */
static int knock_age(uint16_t t14)
{
	int d = (t14 - now_t14()) & 0x3fff;

	return d >= 0x2000 ? d - 0x4000 : d;
}

/*
 * Random knock bytes with our kind, length and ExID. Which check rejects
 * them depends on R and T14; avoid T14 within 3 s of the skew boundary so the
 * answer can't change while the probe is under way.
 */
static const char *put_garbage_knock(uint8_t *o, int skew)
{
	int d;

	do {
		put_knock(o, 0);
		rand_bytes(o + 4, 2);
		d = abs(knock_age(get16(o + 4) & 0x3fff));
	} while (d >= skew - 3 && d <= skew + 3);
	if (o[4] & 0x40)
		return "knock_malformed";
	return d <= skew ? "knock_bad_mac" : "knock_stale";
}

/* Fill in @s's options; returns the counter a garbage knock hits. */
static const char *make_opts(struct seg *s, enum opt_kind kind)
{
	static const uint8_t linux_opts[] = {
		2, 4, 0x05, 0xb4,		/* MSS 1460 */
		4, 2, 8, 10, 0, 0, 0, 0, 0, 0, 0, 0, /* SACK-perm, TS */
		1, 3, 3, 7,			/* NOP, wscale 7 */
	};
	const char *counter = NULL;
	uint8_t *o = s->opts;

	switch (kind) {
	case OPT_NONE:
	case OPT_RAW:
		return NULL;
	case OPT_LINUX:
	case OPT_LINUX_BAD_MAC:
		memcpy(o, linux_opts, sizeof(linux_opts));
		put32(o + 8, rand32());
		s->optlen = sizeof(linux_opts);
		if (kind == OPT_LINUX_BAD_MAC) {
			put_knock(o + s->optlen, now_t14());
			s->optlen += KNOCK_LEN;
		}
		break;
	case OPT_GARBAGE:
		counter = put_garbage_knock(o, DEFAULT_SKEW);
		s->optlen = KNOCK_LEN;
		break;
	case OPT_TRUNC:
		put_knock(o, now_t14());
		o[1] = 10;
		o[10] = o[11] = 1;	/* NOP NOP */
		s->optlen = 12;
		break;
	case OPT_BAD_MAC:
		put_knock(o, now_t14());
		s->optlen = KNOCK_LEN;
		break;
	case OPT_RBIT:
		put_knock(o, 0x4000 | now_t14());
		s->optlen = KNOCK_LEN;
		break;
	case OPT_BAD_OPTLEN:
		memset(o, 0, 8);
		o[0] = 8;		/* "timestamps" of length 1 */
		o[1] = 1;
		s->optlen = 8;
		break;
	case OPT_MD5:
		o[0] = o[1] = 1;
		o[2] = 19;
		o[3] = 18;
		rand_bytes(o + 4, 16);
		s->optlen = 20;
		break;
	case OPT_MD5_BADLEN:
		o[0] = 19;
		o[1] = 10;
		rand_bytes(o + 2, 8);
		o[10] = o[11] = 1;
		s->optlen = 12;
		break;
	case OPT_AO:
		o[0] = 29;
		o[1] = 16;		/* keyid, rnextkeyid, 12-byte MAC */
		rand_bytes(o + 2, 14);
		s->optlen = 16;
		break;
	}
	return counter;
}

static void make_seg(struct wire *w, struct seg *s, const struct probe *pr,
		     uint16_t dport)
{
	memset(s, 0, sizeof(*s));
	s->sport = w->next_port++;
	s->dport = dport;
	s->seq = rand32();
	s->ack = pr->flags & TH_ACK ? rand32() : 0;
	s->flags = pr->flags;
	s->tos = pr->tos;
	s->win = 64240;
	s->urg = pr->flags & TH_URG ? 0x1234 : 0;
	s->datalen = pr->datalen;
	memset(s->data, 'x', s->datalen);
	s->bad_csum = pr->bad_csum;
}

/*
 * What closed_answered counts for a segment with @flags to the closed port,
 * and the fence after it (an ACK, see exchange()): the module answers (or
 * drops) both itself, as TCP would, on the path of a refused knock
 * (src/knock.rs, closed_port()), except an RST, which it leaves to TCP; in
 * drop mode (@drop) it leaves closed ports to TCP altogether.
 */
static int closed_answered(uint8_t flags, bool drop)
{
	if (drop)
		return 0;
	return 1 + !(flags & TH_RST);
}

/*
 * Send probe @pr to the protected and the closed port and check the answers
 * and b's counters. With @drop (net.tcp_stealth.reject=1), a probe the module
 * rejects must get no answer at all. @raw: options for OPT_RAW. Returns the
 * number of problems found (0: all fine), having printed each.
 */
static int run_probe(struct wire *w, const struct probe *pr, bool drop,
		     const struct reply *raw)
{
	struct stealth_counters c0, c1;
	const char *counter = pr->counter;
	struct seg sp, sq;
	struct reply rp, rq;
	int bad = 0;

	make_seg(w, &sp, pr, PORT_P);
	if (pr->opt == OPT_RAW) {
		memcpy(sp.opts, raw->opts, raw->optlen);
		sp.optlen = raw->optlen;
	} else if (pr->opt == OPT_GARBAGE) {
		counter = make_opts(&sp, pr->opt);
		note("%s: random knock, ctl 0x%04x (%+d s): expect %s",
		     pr->name, get16(sp.opts + 4), knock_age(get16(sp.opts + 4) &
							    0x3fff), counter);
	} else {
		make_opts(&sp, pr->opt);
	}
	/* The same options to both ports; only ports and numbers differ. */
	make_seg(w, &sq, pr, PORT_Q);
	memcpy(sq.opts, sp.opts, sp.optlen);
	sq.optlen = sp.optlen;

	if (stealth_counters_read(w->nsb, &c0))
		return 1;
	exchange(w, &sp, &sq, &rp, &rq);
	if (stealth_counters_read(w->nsb, &c1))
		return 1;

	if (pr->q_reply >= 0 && rq.present != pr->q_reply) {
		note("%s: the closed port %s", pr->name,
		     rq.present ? "answered" : "did not answer");
		bad++;
	}
	if (drop && counter) {
		/* Silent drop: the protected port looks filtered. */
		if (rp.present) {
			note("%s: answered in drop mode", pr->name);
			print_reply(w, "protected", &sp, &rp);
			bad++;
		}
	} else {
		bad += compare_replies(w, pr->name, &sp, &rp, &sq, &rq);
	}
	if (!bad) {
		note("%s: ok", pr->name);
		print_reply(w, drop && counter ? "protected" : "both     ",
			    &sp, &rp);
	}

	{
		/*
		 * knock.rs: syn_in for every SYN; a rejected probe counts its
		 * reason and then rst_sent or dropped. rst_sent must match
		 * whether the protected port really answered (nf_send_reset
		 * sends nothing for e.g. a bad checksum).
		 */
		struct counter_delta exp[] = {
			{ "syn_in", is_syn(pr->flags) ? 2 : 0 },
			{ counter, pr->bad_csum ? COUNTER_ANY : 1 },
			{ "rst_sent", counter && !drop ? rp.present : 0 },
			{ "dropped", counter && drop ? 1 : 0 },
			{ "closed_answered", closed_answered(pr->flags, drop) },
		};

		bad += stealth_counters_check(pr->name, &c0, &c1, exp, 5);
	}
	return bad;
}

/*
 * run_probe() for each of the @n @probes (@drop: in drop mode); each one
 * with a problem fails the test, and the others still run.
 */
static void run_probes(struct __test_metadata *_metadata, struct wire *w,
		       const struct probe *probes, size_t n, bool drop)
{
	for (size_t i = 0; i < n; i++) {
		EXPECT_EQ(0, run_probe(w, &probes[i], drop, NULL)) {
			TH_LOG("probe %s", probes[i].name);
		}
	}
}

/*
 * The client's captured SYN @syn sent again by the raw socket, from its
 * source port, with sequence number @seq (syn->seq: byte for byte the same
 * segment), to the protected port, and with its options from a fresh port to
 * the closed one. Fills in what was sent and the answers.
 */
static void resend_syn(struct wire *w, const struct reply *syn, uint32_t seq,
		       struct seg *sp, struct seg *sq, struct reply *rp,
		       struct reply *rq)
{
	static const struct probe syn_probe = { .name = "syn", .flags = TH_SYN };

	make_seg(w, sp, &syn_probe, PORT_P);
	sp->sport = syn->sport;
	sp->seq = seq;
	sp->flags = syn->flags;
	sp->tos = syn->tos;
	sp->win = syn->win;
	memcpy(sp->opts, syn->opts, syn->optlen);
	sp->optlen = syn->optlen;
	make_seg(w, sq, &syn_probe, PORT_Q);
	memcpy(sq->opts, syn->opts, syn->optlen);
	sq->optlen = syn->optlen;
	exchange(w, sp, sq, rp, rq);
}

/*
 * resend_syn(), and the protected port must answer as the closed port does
 * and count @counter (as a SYN the module rejects: syn_in for both, the
 * reason, rst_sent). Returns the number of problems, having printed each.
 */
static int resend_refused(struct wire *w, const char *what,
			  const struct reply *syn, uint32_t seq,
			  const char *counter)
{
	struct stealth_counters c0, c1;
	struct seg sp, sq;
	struct reply rp, rq;
	int bad;

	if (stealth_counters_read(w->nsb, &c0))
		return 1;
	resend_syn(w, syn, seq, &sp, &sq, &rp, &rq);
	if (stealth_counters_read(w->nsb, &c1))
		return 1;
	bad = !rq.present;
	if (bad)
		note("%s: no answer from the closed port", what);
	bad += compare_replies(w, what, &sp, &rp, &sq, &rq);
	if (!bad) {
		note("%s: ok", what);
		print_reply(w, "both     ", &sp, &rp);
	}
	{
		struct counter_delta exp[] = {
			{ "syn_in", 2 }, { counter, 1 }, { "rst_sent", 1 },
			{ "closed_answered", closed_answered(TH_SYN, false) },
		};

		bad += stealth_counters_check(what, &c0, &c1, exp, 4);
	}
	return bad;
}

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(wire) {
	struct netns_pair ns;
	struct wire w;
};

FIXTURE_VARIANT(wire) {
	int family;
};

FIXTURE_VARIANT_ADD(wire, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(wire, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(wire)
{
	struct wire *w = &self->w;

	w->raw = w->cap = w->lfd = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsw"));
	ASSERT_EQ(0, raw_wire_open(w, &self->ns, variant->family));
	w->lfd = stealth_listen(w, PORT_P);
	ASSERT_LE(0, w->lfd);
	ASSERT_EQ(0, raw_wire_check(w, PORT_Q));
}

FIXTURE_TEARDOWN_PARENT(wire)
{
	netns_pair_destroy(&self->ns);
}

/* ---- tests -------------------------------------------------------------- */

/*
 * The probes of a port scanner, and broken knocks: a protected port answers
 * each exactly as the closed port does. FIN, NULL, Xmas and SYN+FIN would be
 * silently ignored by a plain listener (RFC 9293), so the module answers
 * them itself; ACK and RST probes pass to TCP, whose listener answers as a
 * closed port.
 */
static void closed_port_probes(struct __test_metadata *_metadata,
                               FIXTURE_DATA(wire) *self)
{
	static const struct probe probes[] = {
		{ "syn", TH_SYN, 0, OPT_NONE, 0, false, "knock_missing", 1 },
		{ "syn_linux_opts", TH_SYN, 0, OPT_LINUX, 0, false,
		  "knock_missing", 1 },
		{ "syn_data", TH_SYN, 0, OPT_NONE, 16, false,
		  "knock_missing", 1 },
		{ "syn_ecn", TH_SYN | TH_ECE | TH_CWR, 0, OPT_NONE, 0, false,
		  "knock_missing", 1 },
		{ "syn_garbage_knock", TH_SYN, 0, OPT_GARBAGE, 0, false, "?", 1 },
		{ "syn_truncated_knock", TH_SYN, 0, OPT_TRUNC, 0, false,
		  "knock_malformed", 1 },
		{ "syn_reserved_bit", TH_SYN, 0, OPT_RBIT, 0, false,
		  "knock_malformed", 1 },
		{ "syn_wrong_key", TH_SYN, 0, OPT_BAD_MAC, 0, false,
		  "knock_bad_mac", 1 },
		{ "syn_linux_wrong_key", TH_SYN, 0, OPT_LINUX_BAD_MAC, 0, false,
		  "knock_bad_mac", 1 },
		{ "fin", TH_FIN, 0, OPT_NONE, 0, false, "probe_rejected", 1 },
		{ "null", 0, 0, OPT_NONE, 0, false, "probe_rejected", 1 },
		{ "xmas", TH_FIN | TH_PSH | TH_URG, 0, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
		{ "syn_fin", TH_SYN | TH_FIN, 0, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
		{ "ack", TH_ACK, 0, OPT_NONE, 0, false, "ack_refused", 1 },
		{ "fin_ack", TH_FIN | TH_ACK, 0, OPT_NONE, 0, false,
		  "ack_refused", 1 },
		{ "psh_ack_data", TH_PSH | TH_ACK, 0, OPT_NONE, 16, false,
		  "ack_refused", 1 },
		{ "syn_ack", TH_SYN | TH_ACK, 0, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
		{ "rst", TH_RST, 0, OPT_NONE, 0, false, NULL, 0 },
		{ "rst_ack", TH_RST | TH_ACK, 0, OPT_NONE, 0, false, NULL, 0 },
	};
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), false);
}

/*
 * A nonzero DSCP: TCP's RST reflects the probe's TOS / traffic class (less
 * the ECN bits), so the module's RST must as well.
 */
static void closed_port_dscp(struct __test_metadata *_metadata,
                             FIXTURE_DATA(wire) *self)
{
	static const struct probe probes[] = {
		{ "syn_dscp_af11", TH_SYN, 0x28, OPT_NONE, 0, false,
		  "knock_missing", 1 },
		{ "syn_dscp_ef_ect0", TH_SYN, 0xb8 | 0x02, OPT_NONE, 0, false,
		  "knock_missing", 1 },
		{ "fin_dscp_cs1", TH_FIN, 0x20, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
		{ "syn_ecn_ce_only", TH_SYN, 0x03, OPT_NONE, 0, false,
		  "knock_missing", 1 },
	};
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), false);
}

/*
 * SYNs with TCP options TCP itself looks at before it answers a closed port:
 * a malformed option list, TCP-MD5 and TCP-AO signatures. (Linux's closed
 * port sends no RST for these, tcp_v4_send_reset()/tcp_v6_send_reset(); the
 * protected port must do the same.)
 */
static void closed_port_auth_options(struct __test_metadata *_metadata,
                                     FIXTURE_DATA(wire) *self)
{
	static const struct probe probes[] = {
		{ "syn_bad_optlen", TH_SYN, 0, OPT_BAD_OPTLEN, 0, false,
		  "knock_malformed", -1 },
		{ "syn_md5", TH_SYN, 0, OPT_MD5, 0, false, "knock_missing", -1 },
		{ "syn_md5_badlen", TH_SYN, 0, OPT_MD5_BADLEN, 0, false,
		  "knock_missing", -1 },
		{ "syn_ao", TH_SYN, 0, OPT_AO, 0, false, "knock_missing", -1 },
	};
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), false);
}

/*
 * A bad TCP checksum: the closed port's TCP drops the segment, and so must
 * the protected port (nf_send_reset() checks the checksum). rst_sent must not
 * count an RST that was never sent; which reason is counted is not checked.
 */
static void closed_port_bad_checksum(struct __test_metadata *_metadata,
                                     FIXTURE_DATA(wire) *self)
{
	static const struct probe probes[] = {
		{ "syn_bad_csum", TH_SYN, 0, OPT_NONE, 0, true,
		  "knock_missing", 0 },
		{ "syn_wrong_key_bad_csum", TH_SYN, 0, OPT_BAD_MAC, 0, true,
		  "knock_bad_mac", 0 },
		{ "fin_bad_csum", TH_FIN, 0, OPT_NONE, 0, true,
		  "probe_rejected", 0 },
	};
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), false);
}

/*
 * IPv6: the closed port's RST has a flow label (net.ipv6.auto_flowlabels,
 * a hash of the flow); its value can't be compared, but whether there is one
 * at all can.
 */
static void closed_port_flowlabel(struct __test_metadata *_metadata,
                                  FIXTURE_DATA(wire) *self, int family)
{
	static const struct probe probes[] = {
		{ "syn", TH_SYN, 0, OPT_NONE, 0, false, "knock_missing", 1 },
		{ "syn_wrong_key", TH_SYN, 0, OPT_BAD_MAC, 0, false,
		  "knock_bad_mac", 1 },
		{ "fin", TH_FIN, 0, OPT_NONE, 0, false, "probe_rejected", 1 },
		{ "ack", TH_ACK, 0, OPT_NONE, 0, false, "ack_refused", 1 },
	};
	if (family != AF_INET6)
		return;		/* flow labels are IPv6 only */
	self->w.check_flow = true;
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), false);
}

/*
 * A knock seen on the wire and sent again from another source port is a
 * replay: the closed port's answer, and knock_replay.
 */
TEST_F_TIMEOUT(wire, replay_from_other_source, T_TIMEOUT)
{
	struct wire *w = &self->w;
	static const struct probe replay = {
		"replayed_knock", TH_SYN, 0, OPT_RAW, 0, false,
		"knock_replay", 1,
	};
	struct stealth_counters a0, a1, b0, b1;
	struct reply syn;
	int cfd, afd;

	ASSERT_EQ(0, stealth_counters_read(w->nsa, &a0));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b0));
	cfd = knock_connect(w, PORT_P, &syn);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, connect_wait(cfd, 5000));
	afd = tcp_accept_timeout(w->lfd, 5000);
	ASSERT_LE(0, afd);
	ASSERT_LE(0, find_knock(syn.opts, syn.optlen)) {
		TH_LOG("the client's SYN carries no knock (%d option bytes)",
		       syn.optlen);
	}
	ASSERT_EQ(0, stealth_counters_read(w->nsa, &a1));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b1));
	{
		/* The client's socket holds a key (a gauge) while it is open. */
		struct counter_delta ea[] = {
			{ "knock_sent", 1 }, { "stealth_sockets", 1 },
		};
		struct counter_delta eb[] = { { "syn_in", 1 }, { "knock_good", 1 } };

		EXPECT_EQ(0, stealth_counters_check("client (a)", &a0, &a1,
						    ea, 2));
		EXPECT_EQ(0, stealth_counters_check("knocked (b)", &b0, &b1,
						    eb, 2));
	}
	note("client's SYN from port %u, %d option bytes, knock at %d",
	     syn.sport, syn.optlen, find_knock(syn.opts, syn.optlen));

	/* The connection stays up: the knock is still in the replay cache. */
	EXPECT_EQ(0, run_probe(w, &replay, false, &syn));
	close(afd);
	close(cfd);
}

/*
 * A valid knock that was never used (its SYN dropped by nft before the
 * module saw it), sent again from the same source port after it went stale.
 */
TEST_F_TIMEOUT(wire, stale_knock, T_TIMEOUT)
{
	struct wire *w = &self->w;
	struct stealth_counters b0, b1;
	struct reply syn, syn2;
	int cfd, afd;

	ASSERT_EQ(0, write_sysctl(w->nsb, "skew_secs", 1));
	ASSERT_EQ(0, netns_system(w->nsb,
		"nft 'add table inet tsw; "
		"add chain inet tsw in { type filter hook input priority -10; }; "
		"add rule inet tsw in tcp dport %u tcp flags & (syn|ack) == syn drop'",
		PORT_P));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b0));
	cfd = knock_connect(w, PORT_P, &syn);
	ASSERT_LE(0, cfd);
	close(cfd);	/* in SYN-SENT: goes away without a word */
	ASSERT_EQ(0, netns_system(w->nsb, "nft delete table inet tsw"));
	ASSERT_LE(0, find_knock(syn.opts, syn.optlen));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b1));
	{
		/* nft ran first: the module never saw the knock. */
		struct counter_delta none[] = { { NULL, 0 } };

		ASSERT_EQ(0, stealth_counters_check("dropped by nft", &b0, &b1,
						    none, 1));
	}

	/* t counts whole seconds: now at least 2 more than t; skew is 1 s */
	sleep(2);

	/* The captured SYN again, same source port and sequence number. */
	EXPECT_EQ(0, resend_refused(w, "stale_knock", &syn, syn.seq,
				    "knock_stale"));

	/* A fresh knock still gets in with a 1 s skew. */
	cfd = knock_connect(w, PORT_P, &syn2);
	ASSERT_LE(0, cfd);
	EXPECT_EQ(0, connect_wait(cfd, 5000));
	afd = tcp_accept_timeout(w->lfd, 5000);
	EXPECT_LE(0, afd);
	if (afd >= 0)
		close(afd);
	close(cfd);
}

/*
 * An on-path attacker has seen the client's SYN. Once the client's connection
 * is over, the server's TCP has nothing for that 4-tuple any more and the
 * module sees the knock again: the identical SYN, sent from the client's
 * address and port while the knock is still fresh, is a replay, answered as a
 * closed port (PROTOCOL.md section 8). It used to be taken for the client's
 * retransmission and get a SYN-ACK, for the knock's whole lifetime.
 */
TEST_F_TIMEOUT(wire, replay_same_syn_after_close, T_TIMEOUT)
{
	struct wire *w = &self->w;
	struct reply syn;
	char c;
	int cfd, afd;

	cfd = knock_connect(w, PORT_P, &syn);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, connect_wait(cfd, 5000));
	afd = tcp_accept_timeout(w->lfd, 5000);
	ASSERT_LE(0, afd);
	ASSERT_LE(0, find_knock(syn.opts, syn.optlen));
	/*
	 * The client closes first, so the server's side goes through LAST-ACK
	 * to CLOSED (no TIME-WAIT there to catch the SYN).
	 */
	close(cfd);
	ASSERT_EQ(0, sock_set_timeouts(afd, 5000));
	EXPECT_EQ(0, read(afd, &c, 1));
	close(afd);
	/* Past the 2 s in which the network's duplicates are accepted. */
	sleep(3);
	EXPECT_EQ(0, resend_refused(w, "same_syn_after_close", &syn, syn.seq,
				    "knock_replay"));
}

/*
 * A SYN the network duplicated is accepted again, once: same source address,
 * port and sequence number, within 2 s. Anything else carrying its knock is
 * a replay. With SYN cookies (net.ipv4.tcp_syncookies=2) the server keeps
 * no request socket, so the module sees every copy; the client's namespace
 * drops the SYN-ACKs, so its SYN is seen first and answered by nobody.
 */
TEST_F_TIMEOUT(wire, duplicate_syn, T_TIMEOUT)
{
	struct wire *w = &self->w;
	struct stealth_counters b0, b1;
	struct seg sp, sq;
	struct reply syn, rp, rq;
	int cfd;

	ASSERT_EQ(0, netns_sysctl_set(w->nsb, "net.ipv4.tcp_syncookies", "2"));
	ASSERT_EQ(0, netns_system(w->nsa,
		"nft 'add table inet tsw; "
		"add chain inet tsw in { type filter hook input priority 0; }; "
		"add rule inet tsw in tcp sport %u tcp flags & (syn|ack) == syn|ack drop'",
		PORT_P));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b0));
	cfd = knock_connect(w, PORT_P, &syn);
	ASSERT_LE(0, cfd);
	close(cfd);	/* in SYN-SENT: goes away without a word */
	ASSERT_LE(0, find_knock(syn.opts, syn.optlen));

	/* The same segment again at once: the network duplicated it. */
	resend_syn(w, &syn, syn.seq, &sp, &sq, &rp, &rq);
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &b1));
	EXPECT_TRUE(rp.present && rp.flags == (TH_SYN | TH_ACK)) {
		print_reply(w, "protected", &sp, &rp);
	}
	{
		struct counter_delta exp[] = {
			{ "syn_in", 3 }, { "knock_good", 1 },
			{ "knock_retransmit", 1 },
			{ "closed_answered", closed_answered(TH_SYN, false) },
		};

		EXPECT_EQ(0, stealth_counters_check("duplicate", &b0, &b1, exp, 4));
	}

	/* Its knock from the same port with another sequence number. */
	EXPECT_EQ(0, resend_refused(w, "other_isn", &syn, syn.seq + 1,
				    "knock_replay"));
	/* The same segment after the 2 s. */
	sleep(3);
	EXPECT_EQ(0, resend_refused(w, "late_duplicate", &syn, syn.seq,
				    "knock_replay"));
}

/*
 * net.tcp_stealth.reject=1: the rejected probes get no answer at all, while
 * the closed port still answers with an RST. So in drop mode the protected
 * port looks filtered, not closed: that is the administrator's choice (it
 * suits hosts that drop everything else too, e.g. behind a default-drop
 * firewall). ACK probes still reach TCP and get its RST.
 */
static void drop_mode(struct __test_metadata *_metadata,
		      FIXTURE_DATA(wire) *self)
{
	static const struct probe probes[] = {
		{ "syn", TH_SYN, 0, OPT_NONE, 0, false, "knock_missing", 1 },
		{ "syn_wrong_key", TH_SYN, 0, OPT_BAD_MAC, 0, false,
		  "knock_bad_mac", 1 },
		{ "syn_truncated_knock", TH_SYN, 0, OPT_TRUNC, 0, false,
		  "knock_malformed", 1 },
		{ "fin", TH_FIN, 0, OPT_NONE, 0, false, "probe_rejected", 1 },
		{ "xmas", TH_FIN | TH_PSH | TH_URG, 0, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
		/*
		 * TCP answers these for a listener: in drop mode they must be
		 * as silent as for a port an nft rule drops.
		 */
		{ "ack", TH_ACK, 0, OPT_NONE, 0, false, "ack_refused", 1 },
		{ "fin_ack", TH_FIN | TH_ACK, 0, OPT_NONE, 0, false,
		  "ack_refused", 1 },
		{ "syn_ack", TH_SYN | TH_ACK, 0, OPT_NONE, 0, false,
		  "probe_rejected", 1 },
	};

	ASSERT_EQ(0, write_sysctl(self->w.nsb, "reject", 1));
	run_probes(_metadata, &self->w, probes, ARRAY_SIZE(probes), true);
}

/*
 * The stateless probe sets: closed_port_probes() to closed_port_flowlabel(),
 * then drop_mode() (it sets net.tcp_stealth.reject=1), one after the other
 * in one namespace pair (a pair costs seconds under TCG).
 */
TEST_F_TIMEOUT(wire, closed_port, T_TIMEOUT)
{
	closed_port_probes(_metadata, self);
	closed_port_dscp(_metadata, self);
	closed_port_auth_options(_metadata, self);
	closed_port_bad_checksum(_metadata, self);
	closed_port_flowlabel(_metadata, self, variant->family);
	drop_mode(_metadata, self);
}

/*
 * Issue 13: while b has a protected listener, the module answers segments to
 * b's closed port itself, on the path of a refused knock, so that both take
 * the same time to answer. Its answers must be exactly the kernel's: each
 * probe goes to the protected and the closed port while b has the listener
 * (answered by the module: closed_answered counts the closed port's, and
 * TCP's own OutRsts does not move), then, the listener closed, twice to the
 * closed port again (answered by TCP: closed_answered still, OutRsts counts
 * its RSTs). Both answers of the first round must agree with the kernel's
 * in every field compare_replies() looks at (IPv6: flow label present or
 * not): the other tests compare the protected port with a closed port that
 * the module answers too.
 */
#define KREF_PROBES 22

/* TCP's counter @name of /proc/net/snmp in namespace @ns, or -1. */
static long long tcp_mib(const char *ns, const char *name)
{
	char hdr[1024], val[1024], *hs, *vs, *h, *v;
	long long ret = -1;
	int saved = netns_enter(ns);
	FILE *f;

	if (saved < 0)
		return -1;
	f = fopen("/proc/net/snmp", "re");
	netns_leave(saved);
	if (!f)
		return -1;
	while (fgets(hdr, sizeof(hdr), f)) {
		if (strncmp(hdr, "Tcp:", 4) || !fgets(val, sizeof(val), f))
			continue;
		for (h = strtok_r(hdr, " \n", &hs), v = strtok_r(val, " \n", &vs);
		     h && v;
		     h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs))
			if (!strcmp(h, name))
				ret = atoll(v);
		break;
	}
	fclose(f);
	return ret;
}

TEST_F_TIMEOUT(wire, closed_port_kernel_reference, T_TIMEOUT)
{
	/* counter: unused here; q_reply: whether the closed port answers. */
	static const struct probe probes[KREF_PROBES] = {
		{ "syn", TH_SYN, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "syn_linux_opts", TH_SYN, 0, OPT_LINUX, 0, false, NULL, 1 },
		{ "syn_data", TH_SYN, 0, OPT_NONE, 16, false, NULL, 1 },
		{ "syn_ecn_dscp", TH_SYN | TH_ECE | TH_CWR, 0xb8 | 0x02,
		  OPT_NONE, 0, false, NULL, 1 },
		{ "syn_wrong_key", TH_SYN, 0, OPT_BAD_MAC, 0, false, NULL, 1 },
		{ "syn_linux_wrong_key", TH_SYN, 0, OPT_LINUX_BAD_MAC, 0, false,
		  NULL, 1 },
		{ "syn_truncated_knock", TH_SYN, 0, OPT_TRUNC, 0, false, NULL, 1 },
		{ "syn_bad_optlen", TH_SYN, 0, OPT_BAD_OPTLEN, 0, false, NULL, -1 },
		{ "syn_md5", TH_SYN, 0, OPT_MD5, 0, false, NULL, -1 },
		{ "syn_ao", TH_SYN, 0, OPT_AO, 0, false, NULL, -1 },
		{ "ack", TH_ACK, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "ack_linux_opts", TH_ACK, 0, OPT_LINUX, 0, false, NULL, 1 },
		{ "psh_ack_data", TH_PSH | TH_ACK, 0, OPT_NONE, 16, false, NULL, 1 },
		{ "fin", TH_FIN, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "fin_ack", TH_FIN | TH_ACK, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "null", 0, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "xmas", TH_FIN | TH_PSH | TH_URG, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "syn_ack", TH_SYN | TH_ACK, 0, OPT_NONE, 0, false, NULL, 1 },
		{ "syn_bad_csum", TH_SYN, 0, OPT_NONE, 0, true, NULL, 0 },
		{ "ack_bad_csum", TH_ACK, 0, OPT_NONE, 0, true, NULL, 0 },
		{ "syn_wrong_key_bad_csum", TH_SYN, 0, OPT_BAD_MAC, 0, true,
		  NULL, 0 },
		{ "rst", TH_RST, 0, OPT_NONE, 0, false, NULL, 0 },
	};
	struct wire *w = &self->w;
	struct seg sm[KREF_PROBES], sp[KREF_PROBES], sk, spare;
	struct reply rm[KREF_PROBES], rp[KREF_PROBES], rk, rspare;
	struct stealth_counters c0, c1;
	long long rst0, rst1;
	int i, syns = 0, answered = 0, taken = 0, bad;

	w->check_flow = w->family == AF_INET6;
	for (i = 0; i < KREF_PROBES; i++) {
		syns += is_syn(probes[i].flags);
		taken += !(probes[i].flags & TH_RST);
	}

	/* Round 1: b has a protected listener; the module answers. */
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c0));
	rst0 = tcp_mib(w->nsb, "OutRsts");
	ASSERT_LE(0, rst0);
	for (i = 0; i < KREF_PROBES; i++) {
		make_seg(w, &sm[i], &probes[i], PORT_Q);
		make_opts(&sm[i], probes[i].opt);
		make_seg(w, &sp[i], &probes[i], PORT_P);
		memcpy(sp[i].opts, sm[i].opts, sm[i].optlen);
		sp[i].optlen = sm[i].optlen;
		exchange(w, &sp[i], &sm[i], &rp[i], &rm[i]);
	}
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c1));
	rst1 = tcp_mib(w->nsb, "OutRsts");
	{
		/*
		 * The closed port's segments and the fences; the protected
		 * port's reasons are the other tests' business.
		 */
		struct counter_delta exp[] = {
			{ "syn_in", 2 * syns },
			{ "closed_answered", taken + KREF_PROBES },
			{ "rst_sent", COUNTER_ANY },
			{ "knock_missing", COUNTER_ANY },
			{ "knock_malformed", COUNTER_ANY },
			{ "knock_bad_mac", COUNTER_ANY },
			{ "probe_rejected", COUNTER_ANY },
			{ "ack_refused", COUNTER_ANY },
		};

		EXPECT_EQ(0, stealth_counters_check("module's round", &c0, &c1,
						    exp, ARRAY_SIZE(exp)));
	}
	EXPECT_EQ(rst0, rst1) {
		TH_LOG("TCP sent %lld RSTs of its own while b had a protected listener",
		       rst1 - rst0);
	}

	/* Round 2: no socket in b holds keys any more; TCP answers. */
	close(w->lfd);
	w->lfd = -1;
	for (i = 0; i < 100 && stealth_counter(w->nsb, "stealth_sockets"); i++)
		usleep(20000);
	ASSERT_EQ(0, stealth_counter(w->nsb, "stealth_sockets"));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c0));
	rst0 = tcp_mib(w->nsb, "OutRsts");
	for (i = 0; i < KREF_PROBES; i++) {
		const struct probe *pr = &probes[i];

		make_seg(w, &sk, pr, PORT_Q);
		memcpy(sk.opts, sm[i].opts, sm[i].optlen);
		sk.optlen = sm[i].optlen;
		make_seg(w, &spare, pr, PORT_Q);
		memcpy(spare.opts, sm[i].opts, sm[i].optlen);
		spare.optlen = sm[i].optlen;
		exchange(w, &sk, &spare, &rk, &rspare);
		bad = compare_replies(w, pr->name, &sm[i], &rm[i], &sk, &rk);
		bad += compare_replies(w, pr->name, &sp[i], &rp[i], &sk, &rk);
		if (pr->q_reply >= 0 && rk.present != pr->q_reply) {
			note("%s: the kernel's closed port %s", pr->name,
			     rk.present ? "answered" : "did not answer");
			bad++;
		}
		EXPECT_EQ(0, bad) {
			TH_LOG("probe %s: a module's answer (first) is not the kernel's",
			       pr->name);
		}
		if (!bad) {
			note("%s: same answer", pr->name);
			print_reply(w, "module   ", &sm[i], &rm[i]);
		}
		answered += rk.present + rspare.present;
	}
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c1));
	rst1 = tcp_mib(w->nsb, "OutRsts");
	{
		struct counter_delta exp[] = { { "syn_in", 2 * syns } };

		EXPECT_EQ(0, stealth_counters_check("kernel's round", &c0, &c1,
						    exp, 1));
	}
	/* TCP answered the probes and the fences itself. */
	EXPECT_EQ(answered + KREF_PROBES, rst1 - rst0);
}

/*
 * net.tcp_stealth.answer_closed=0: the administrator leaves closed ports to
 * TCP. A SYN to the closed port is answered by TCP's own RST (OutRsts,
 * closed_answered unmoved), the same as the module's at the protected
 * port; with answer_closed back at 1, the module answers it again.
 */
TEST_F_TIMEOUT(wire, answer_closed_off, T_TIMEOUT)
{
	static const struct probe syn = {
		"syn", TH_SYN, 0, OPT_NONE, 0, false, NULL, 1
	};
	struct wire *w = &self->w;
	struct stealth_counters c0, c1;
	struct seg sp, sq;
	struct reply rp, rq;
	long long rst0, rst1;

	ASSERT_EQ(0, netns_sysctl_set(w->nsb, "net.tcp_stealth.answer_closed", "0"));
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c0));
	rst0 = tcp_mib(w->nsb, "OutRsts");
	ASSERT_LE(0, rst0);
	make_seg(w, &sp, &syn, PORT_P);
	make_seg(w, &sq, &syn, PORT_Q);
	exchange(w, &sp, &sq, &rp, &rq);
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c1));
	rst1 = tcp_mib(w->nsb, "OutRsts");
	EXPECT_TRUE(rp.present);
	EXPECT_TRUE(rq.present);
	EXPECT_EQ(0, compare_replies(w, "syn", &sp, &rp, &sq, &rq));
	{
		struct counter_delta exp[] = {
			{ "syn_in", 2 }, { "knock_missing", 1 }, { "rst_sent", 1 },
		};

		EXPECT_EQ(0, stealth_counters_check("answer_closed=0", &c0, &c1,
						    exp, ARRAY_SIZE(exp)));
	}
	/* The SYN's and the fence's (see exchange()). */
	EXPECT_EQ(rst0 + 2, rst1);

	ASSERT_EQ(0, netns_sysctl_set(w->nsb, "net.tcp_stealth.answer_closed", "1"));
	EXPECT_NE(0, netns_sysctl_set(w->nsb, "net.tcp_stealth.answer_closed", "2"));
	c0 = c1;
	rst0 = rst1;
	make_seg(w, &sp, &syn, PORT_P);
	make_seg(w, &sq, &syn, PORT_Q);
	exchange(w, &sp, &sq, &rp, &rq);
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c1));
	EXPECT_TRUE(rq.present);
	{
		struct counter_delta exp[] = {
			{ "syn_in", 2 }, { "knock_missing", 1 }, { "rst_sent", 1 },
			{ "closed_answered", 2 },	/* the SYN, the fence */
		};

		EXPECT_EQ(0, stealth_counters_check("answer_closed=1", &c0, &c1,
						    exp, ARRAY_SIZE(exp)));
	}
	EXPECT_EQ(rst0, tcp_mib(w->nsb, "OutRsts"));
}

/*
 * Hijack attempt against payload integrity. A third namespace m, joined to
 * b by its own veth, has seen the handshake (here: a's capture) and injects
 * a data segment with the client's address, ports and exactly the next
 * sequence numbers, ahead of the client's own first bytes. TCP takes it as
 * the connection's first bytes; they do not match the knock's commitment,
 * so the connection is reset and the server application never reads them.
 */
/* The MAC address of veth2 in @ns as "xx:xx:xx:xx:xx:xx": 0 or -1. */
static int veth2_mac(const char *ns, char *out)
{
	struct ifreq ifr = { 0 };
	int fd = socket_in_ns(ns, AF_INET, SOCK_DGRAM, 0), ret = -1;
	const unsigned char *m = (const unsigned char *)ifr.ifr_hwaddr.sa_data;

	if (fd < 0)
		return -1;
	strcpy(ifr.ifr_name, "veth2");
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) == 0) {
		snprintf(out, 18, "%02x:%02x:%02x:%02x:%02x:%02x",
			 m[0], m[1], m[2], m[3], m[4], m[5]);
		ret = 0;
	} else {
		note("SIOCGIFHWADDR veth2 in %s: %s", ns, strerror(errno));
	}
	close(fd);
	return ret;
}

TEST_F_TIMEOUT(wire, hijack_first_segment, T_TIMEOUT)
{
	static const char genuine[] = "GENUINE-CLIENT-1", forged[] = "FORGED-ATTACKER!";
	const int n = sizeof(genuine) - 1, port = PORT_Q + 1;
	struct wire *w = &self->w, wm;
	struct sockaddr_storage ss;
	struct reply ack;
	struct match m = {
		.outgoing = true, .dport = port,
		.flags = TH_ACK, .mask = TH_ACK | TH_SYN | TH_FIN | TH_RST | TH_PSH,
		.out = &ack,
	};
	char mns[80], buf[64], mac[18];
	long long bad;
	socklen_t sl;
	int lfd, cfd, afd, got;
	struct seg s;

	snprintf(mns, sizeof(mns), "tswm-%d", getpid());
	ASSERT_EQ(0, netns_add(mns));
	ASSERT_EQ(0, netns_veth_add(self->ns.b, "veth2", mns, "veth2"));
	ASSERT_EQ(0, netns_link_up(self->ns.b, "veth2"));
	ASSERT_EQ(0, netns_addr_add(self->ns.b, "veth2", "10.0.3.1", 24));
	ASSERT_EQ(0, netns_addr_add(self->ns.b, "veth2", "fd03::1", 64));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf.all.rp_filter", "0"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf.veth2.rp_filter", "0"));
	ASSERT_EQ(0, netns_link_up(mns, "lo"));
	ASSERT_EQ(0, netns_link_up(mns, "veth2"));
	ASSERT_EQ(0, netns_addr_add(mns, "veth2", "10.0.3.2", 24));
	ASSERT_EQ(0, netns_addr_add(mns, "veth2", "fd03::2", 64));
	ASSERT_EQ(0, netns_route_add(mns, "10.0.1.0", 24, "10.0.3.1"));
	ASSERT_EQ(0, netns_route_add(mns, "fd00::", 64, "fd03::1"));
	/*
	 * b's veth2 as a permanent neighbour of m: the forged segment must
	 * not wait for (or, on a loaded host, be lost with) address
	 * resolution.
	 */
	ASSERT_EQ(0, veth2_mac(self->ns.b, mac));
	ASSERT_EQ(0, netns_system(mns, "ip neigh replace %s lladdr %s dev veth2 nud permanent",
				  w->family == AF_INET6 ? "fd03::1" : "10.0.3.1", mac));
	wm = *w;
	wm.raw = socket_in_ns(mns, w->family, SOCK_RAW, IPPROTO_RAW);
	ASSERT_LE(0, wm.raw);

	lfd = stealth_listen(w, port);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, setsockopt(lfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n)));
	cfd = stealth_socket(w->nsa, w->family, SECRET);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, setsockopt(cfd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, genuine, n));
	sl = netns_sockaddr(w->family, netns_addr_b(w->family), port, &ss);
	drain(w);
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, sock_set_timeouts(cfd, 5000));
	/* The handshake's last ACK tells the next sequence numbers. */
	ASSERT_EQ(1, capture(w, &m, 1, 3000));
	afd = tcp_accept_timeout(lfd, 5000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, sock_set_timeouts(afd, 5000));

	bad = stealth_counter(w->nsb, "integrity_mismatch");
	memset(&s, 0, sizeof(s));
	s.sport = ack.sport;
	s.dport = port;
	s.seq = ack.seq;
	s.ack = ack.ack;
	s.flags = TH_ACK | TH_PSH;
	s.win = ack.win;
	memcpy(s.opts, ack.opts, ack.optlen);	/* timestamps, as the client */
	s.optlen = ack.optlen;
	/*
	 * A TSval a little ahead of the client's: on a loaded host the
	 * SYN-ACK may have been sent again, and the client's answer to it
	 * carried a newer TSval than the ACK captured here, which PAWS would
	 * then hold against the forged segment.
	 */
	{
		int ts = find_tcp_option(s.opts, s.optlen, 8, 10);

		if (ts >= 0)
			put32(s.opts + ts + 2, get32(s.opts + ts + 2) + 100000);
	}
	memcpy(s.data, forged, n);
	s.datalen = n;
	ASSERT_EQ(0, send_seg(&wm, &s));

	/* The server application: an error, never the forged bytes. */
	got = read(afd, buf, sizeof(buf));
	EXPECT_EQ(-1, got);
	EXPECT_EQ(EBADMSG, errno);
	EXPECT_EQ(bad + 1, stealth_counter(w->nsb, "integrity_mismatch"));
	/* The real client finds its connection reset. */
	EXPECT_EQ(-1, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(ECONNRESET, errno);
	close(afd);
	close(cfd);
	close(lfd);
	close(wm.raw);
	netns_del(mns);
}

/*
 * An IPv4 source address that is local for the probe but not for the
 * reset. TCP answers a closed port from the address the probe went to,
 * routed without FLOWI_FLAG_ANYSRC (ip_send_unicast_reply()): the source
 * must be an address of an interface or one the local table makes local
 * on its own. Where only policy (ip rule ... lookup T with a "local"
 * route, as transparent proxies set up) or, here, a TOS-selected "local"
 * route makes it local, TCP's reset has no route, and nothing answers the
 * probe. The module routed its reset as ip_route_me_harder() does, with
 * that flag, and answered: a protected port told from a closed one.
 * (policy_local below has the policy routing case.)
 */
#define LOCAL_TOS	0x10
#define LOCAL_NET	"10.0.9.0"
#define LOCAL_ADDR	"10.0.9.7"

FIXTURE(tos_local) {
	struct netns_pair ns;
	struct wire w;
};

FIXTURE_SETUP(tos_local)
{
	self->w.raw = self->w.cap = self->w.lfd = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tst"));
	ASSERT_EQ(0, netns_route_add_local(self->ns.b, LOCAL_NET, 24, LOCAL_TOS,
					   "lo"));
	ASSERT_EQ(0, netns_route_add(self->ns.a, LOCAL_NET, 24, NETNS_B_IP4));
	ASSERT_EQ(0, raw_wire_open_link(&self->w, &self->ns, AF_INET,
					NETNS_IFNAME, NETNS_A_IP4, LOCAL_ADDR));
}

FIXTURE_TEARDOWN_PARENT(tos_local)
{
	netns_pair_destroy(&self->ns);
}

/* Send @s and capture b's answer to it within REPLY_WAIT_MS. */
static void probe_once(struct wire *w, const struct seg *s, struct reply *r)
{
	struct match m = { .sport = s->dport, .dport = s->sport, .out = r };

	drain(w);
	r->present = false;
	if (!send_seg(w, s))
		capture(w, &m, 1, REPLY_WAIT_MS);
}

TEST_F_TIMEOUT(tos_local, refusal_from_an_address_local_by_tos, T_TIMEOUT)
{
	static const struct probe syn = {
		"syn", TH_SYN, LOCAL_TOS, OPT_NONE, 0, false, NULL, 1
	};
	struct sockaddr_in any = {
		.sin_family = AF_INET, .sin_port = htons(PORT_P),
	};
	struct wire *w = &self->w;
	long long in0, rst0;
	struct reply rk, rp, rq;
	struct seg sk, sp, sq;
	int one = 1;

	/* TCP's closed port: it takes the SYN, and its reset has no route. */
	in0 = tcp_mib(w->nsb, "InSegs");
	rst0 = tcp_mib(w->nsb, "OutRsts");
	ASSERT_LE(0, in0);
	make_seg(w, &sk, &syn, PORT_Q);
	probe_once(w, &sk, &rk);
	EXPECT_EQ(in0 + 1, tcp_mib(w->nsb, "InSegs"));
	EXPECT_EQ(rst0 + 1, tcp_mib(w->nsb, "OutRsts"));
	note("the kernel's closed port at %s, TOS 0x%02x: %s", LOCAL_ADDR,
	     LOCAL_TOS, rk.present ? "answered" : "no answer");

	/* A protected listener on every address: the module answers. */
	w->lfd = stealth_socket(w->nsb, AF_INET, SECRET);
	ASSERT_LE(0, w->lfd);
	setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ASSERT_EQ(0, bind(w->lfd, (struct sockaddr *)&any, sizeof(any)));
	ASSERT_EQ(0, listen(w->lfd, 16));
	make_seg(w, &sp, &syn, PORT_P);
	probe_once(w, &sp, &rp);
	make_seg(w, &sq, &syn, PORT_Q);
	probe_once(w, &sq, &rq);
	EXPECT_EQ(0, compare_replies(w, "protected port (first) vs the kernel's closed port", &sp, &rp, &sk, &rk));
	EXPECT_EQ(0, compare_replies(w, "the module's closed port (first) vs the kernel's", &sq, &rq, &sk, &rk));
	close(w->lfd);
	w->lfd = -1;
}

/*
 * Policy routing, as a transparent proxy sets it up: nft marks what goes
 * to 10.0.8.0/24 (fd00:8::/64), none of b's addresses, and hands port
 * PORT_R there to the transparent listener on PORT_P (TPROXY); "ip rule
 * add fwmark 1 lookup 100" and "ip route add local 0.0.0.0/0 dev lo table
 * 100" make every address local for marked packets.
 * TCP's closed-port reset is routed without the mark (fwmark_reflect is
 * off) and, for IPv4, without FLOWI_FLAG_ANYSRC: its source, an address
 * that neither an interface nor the local table holds, has no route
 * (__ip_dev_find()), and TCP stays silent. The module's reset, routed as
 * ip_route_me_harder() routes (FLOWI_FLAG_ANYSRC), went out until 71bc0a4.
 * IPv6 has no such check (ip6_dst_lookup_flow() takes any source): TCP
 * and the module both answer, and must answer alike.
 */
#define POLICY_MARK	1
#define POLICY_TABLE	100
#define PORT_R		4244	/* TPROXY to PORT_P */

FIXTURE(policy_local) {
	struct netns_pair ns;
	struct wire w;
};

FIXTURE_VARIANT(policy_local) {
	int family;
	const char *net, *addr, *any;
	int prefixlen;
	const char *nft_family;
};

FIXTURE_VARIANT_ADD(policy_local, ipv4) {
	.family = AF_INET, .net = "10.0.8.0", .addr = "10.0.8.7",
	.any = "0.0.0.0", .prefixlen = 24, .nft_family = "ip",
};

FIXTURE_VARIANT_ADD(policy_local, ipv6) {
	.family = AF_INET6, .net = "fd00:8::", .addr = "fd00:8::7",
	.any = "::", .prefixlen = 64, .nft_family = "ip6",
};

FIXTURE_SETUP(policy_local)
{
	const struct netns_rule rule = {
		.family = variant->family, .fwmark = POLICY_MARK,
		.table = POLICY_TABLE,
	};
	const char *nf = variant->nft_family;

	self->w.raw = self->w.cap = self->w.lfd = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tpl"));
	ASSERT_EQ(0, raw_wire_open(&self->w, &self->ns, variant->family));
	/* Capture works, and b's own address gets TCP's reset. */
	ASSERT_EQ(0, raw_wire_check(&self->w, PORT_Q));
	ASSERT_EQ(0, netns_rule_add(self->ns.b, &rule));
	ASSERT_EQ(0, netns_route_add_table(self->ns.b, RTN_LOCAL, variant->any,
					   0, POLICY_TABLE, "lo"));
	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft 'add table inet tpl; "
		"add chain inet tpl pre { type filter hook prerouting priority mangle; }; "
		"add rule inet tpl pre %s daddr %s/%d tcp dport %d tproxy %s to :%d meta mark set %d accept; "
		"add rule inet tpl pre %s daddr %s/%d meta mark set %d'",
		nf, variant->net, variant->prefixlen, PORT_R, nf, PORT_P,
		POLICY_MARK, nf, variant->net, variant->prefixlen,
		POLICY_MARK));
	ASSERT_EQ(0, netns_route_add(self->ns.a, variant->net,
				     variant->prefixlen,
				     netns_addr_b(variant->family)));
	/* From now on, probes go to the address local by policy. */
	ASSERT_EQ(1, inet_pton(variant->family, variant->addr,
			       self->w.addr_b));
}

FIXTURE_TEARDOWN_PARENT(policy_local)
{
	netns_pair_destroy(&self->ns);
}

/*
 * A SYN to the closed port @port of b's address, taken by TCP (InSegs), and
 * TCP's answer to it in @r: the reference, while b has no secret.
 */
static void kernel_reference(struct __test_metadata *_metadata,
			     struct wire *w, const struct probe *syn,
			     uint16_t port, struct seg *s, struct reply *r)
{
	long long in0 = tcp_mib(w->nsb, "InSegs");

	ASSERT_LE(0, in0);
	make_seg(w, s, syn, port);
	probe_once(w, s, r);
	EXPECT_EQ(in0 + 1, tcp_mib(w->nsb, "InSegs"))
		TH_LOG("the probe did not reach TCP in b");
	note("the kernel's closed port %u: %s", port,
	     r->present ? "answered" : "no answer");
	if (r->present)
		print_reply(w, "kernel   ", s, r);
}

/* A protected listener on every address of b, transparent (TPROXY). */
static int transparent_listener(struct wire *w, uint16_t port)
{
	struct sockaddr_storage ss;
	int fd, one = 1, six = w->family == AF_INET6;
	socklen_t sl;

	fd = stealth_socket(w->nsb, w->family, SECRET);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (six)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	sl = netns_sockaddr(w->family, six ? "::" : "0.0.0.0", port, &ss);
	if (setsockopt(fd, six ? IPPROTO_IPV6 : IPPROTO_IP,
		       six ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
		       sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		note("transparent listener on %u: %s", port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

TEST_F_TIMEOUT(policy_local, refusal_from_an_address_local_by_policy,
	       T_TIMEOUT)
{
	static const struct probe syn = {
		"syn", TH_SYN, 0, OPT_NONE, 0, false, NULL, 1
	};
	static const struct {
		const char *what;
		uint16_t port;
	} ports[] = {
		{ "protected port (marked)", PORT_P },
		{ "protected port (TPROXY from R)", PORT_R },
		{ "the module's closed port", PORT_Q },
	};
	struct wire *w = &self->w;
	struct reply rk, r;
	struct seg sk, s;

	/* TCP: IPv4 sends nothing (no route from that source), IPv6 a RST. */
	kernel_reference(_metadata, w, &syn, PORT_Q, &sk, &rk);
	EXPECT_EQ(variant->family == AF_INET6, rk.present)
		TH_LOG("TCP's closed port at %s %s: the test's premise is off",
		       variant->addr, rk.present ? "answered" : "is silent");

	w->lfd = transparent_listener(w, PORT_P);
	ASSERT_LE(0, w->lfd);
	for (size_t i = 0; i < sizeof(ports) / sizeof(ports[0]); i++) {
		make_seg(w, &s, &syn, ports[i].port);
		probe_once(w, &s, &r);
		EXPECT_EQ(0, compare_replies(w, ports[i].what, &s, &r, &sk,
					     &rk))
			TH_LOG("%s at %s differs from TCP's closed port",
			       ports[i].what, variant->addr);
	}
	close(w->lfd);
	w->lfd = -1;
}

/*
 * The uid TCP routes its reset with: sock_net_uid(net, NULL), the uid of
 * the root of the user namespace that owns the network namespace. b is
 * owned by one whose root is USERNS_ROOT_UID outside, and "ip rule add
 * uidrange 0-0 lookup 100", said in that user namespace (uid 1000
 * outside), sends that uid's traffic to table 100,
 * where a is unreachable: TCP's closed port in b cannot answer a. The
 * module's reset was routed with uid 0 until 71bc0a4 (both families:
 * ip_route_me_harder() sets no uid, and the IPv6 key was zeroed), missed
 * the rule and answered.
 */
#define USERNS_ROOT_UID	1000
#define UID_RULE_PREF	100

FIXTURE(userns_uid) {
	struct netns_pair ns;
	struct wire w;
};

FIXTURE_VARIANT(userns_uid) {
	int family, hostlen;
};

FIXTURE_VARIANT_ADD(userns_uid, ipv4) {
	.family = AF_INET, .hostlen = 32,
};

FIXTURE_VARIANT_ADD(userns_uid, ipv6) {
	.family = AF_INET6, .hostlen = 128,
};

FIXTURE_SETUP(userns_uid)
{
	const struct netns_rule rule = {
		.family = variant->family, .priority = UID_RULE_PREF,
		/* b's root: USERNS_ROOT_UID outside. */
		.uidrange = true, .uid_start = 0, .uid_end = 0,
		.table = POLICY_TABLE,
	};

	self->w.raw = self->w.cap = self->w.lfd = -1;
	ASSERT_EQ(0, netns_pair_create_userns(&self->ns, "tug",
					      USERNS_ROOT_UID));
	ASSERT_EQ(0, raw_wire_open(&self->w, &self->ns, variant->family));
	/* Without the rule, TCP's closed port in b answers. */
	ASSERT_EQ(0, raw_wire_check(&self->w, PORT_Q));
	/*
	 * The reverse path check of a's packets would meet the rule too (it
	 * looks a up with the same uid) and drop them with rp_filter on.
	 */
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf.all.rp_filter",
				      "0"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf."
				      NETNS_IFNAME ".rp_filter", "0"));
	ASSERT_EQ(0, netns_rule_add(self->ns.b, &rule));
	ASSERT_EQ(0, netns_route_add_table(self->ns.b, RTN_UNREACHABLE,
					   netns_addr_a(variant->family),
					   variant->hostlen, POLICY_TABLE,
					   NULL));
}

FIXTURE_TEARDOWN_PARENT(userns_uid)
{
	netns_pair_destroy(&self->ns);
}

TEST_F_TIMEOUT(userns_uid, reset_routed_with_the_namespace_root_uid,
	       T_TIMEOUT)
{
	static const struct probe syn = {
		"syn", TH_SYN, 0, OPT_NONE, 0, false, NULL, 1
	};
	struct wire *w = &self->w;
	struct reply rk, rp, rq;
	struct seg sk, sp, sq;

	kernel_reference(_metadata, w, &syn, PORT_Q, &sk, &rk);
	EXPECT_FALSE(rk.present)
		TH_LOG("TCP's reset missed the uidrange rule: the test's "
		       "premise is off");

	w->lfd = stealth_listen(w, PORT_P);
	ASSERT_LE(0, w->lfd);
	make_seg(w, &sp, &syn, PORT_P);
	probe_once(w, &sp, &rp);
	make_seg(w, &sq, &syn, PORT_Q);
	probe_once(w, &sq, &rq);
	EXPECT_EQ(0, compare_replies(w, "protected port vs the kernel's "
				     "closed port", &sp, &rp, &sk, &rk));
	EXPECT_EQ(0, compare_replies(w, "the module's closed port vs the "
				     "kernel's", &sq, &rq, &sk, &rk));
	close(w->lfd);
	w->lfd = -1;
}

TEST_HARNESS_MAIN
