// SPDX-License-Identifier: GPL-2.0
/*
 * Ways past the knock that do not break the MAC: segments the input hook
 * cannot see whole, or judges by a socket other than the one TCP delivers
 * them to.
 *
 * Namespace a sends hand-built segments (tests/lib/raw.c) to namespace b, where
 * port P has a listener protected with a secret and port Q has none. Each
 * test shows an attack that worked before its fix: the protected port must
 * never answer a knockless SYN with a SYN-ACK, and never give a connection
 * to a peer that did not knock.
 *
 * - frag_syn_options_split: a knockless SYN as two fragments, the second
 *   holding the TCP options (IPv6 reassembled only after LOCAL_IN);
 * - frag_fin_probe: a fragmented FIN probe must get the closed port's RST;
 * - cookie_ack_without_knock: an ACK carrying a valid SYN cookie for a
 *   4-tuple that never knocked (net.ipv4.tcp_syncookies=2);
 * - cookie_ack_admitted_elsewhere: the same ACK from a peer that knocked
 *   on another address of the host, at a listener with another key;
 * - tproxy_assigned_listener: a SYN that nft's tproxy hands to a protected
 *   transparent listener on another port;
 * - reuseport_member: in a SO_REUSEPORT group with a protected and an open
 *   member, chosen by a classic BPF program over the segment's payload, a
 *   SYN is judged by the member TCP picks; reuseport_random_member: where
 *   the program picks at random, the member TCP gives a SYN to checks it
 *   with its own keys;
 * - fou_syn_without_knock: a knockless SYN carried in UDP to a Foo-over-UDP
 *   receive port, which hands it to TCP without NF_INET_LOCAL_IN for it:
 *   refused by the listener itself, as the closed port answers (and in drop
 *   mode, not at all); the same through a GUE port; fou_syn_isn_mode: the
 *   same to an ISN-mode listener;
 * - fou_syn_with_knock: a knocking SYN the same way gets its SYN-ACK, and
 *   the same knock from another source, through a GUE port, is refused as
 *   a replay;
 * - fou_cookie_ack_without_knock: cookie_ack_without_knock's ACK carried
 *   by a Foo-over-UDP port; fou_cookie_ack_after_knock: a knocking client's
 *   cookie ACK that way makes its connection.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/genetlink.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
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
#include "counters.h"
#include "knock_mac.h"
#include "netns.h"
#include "raw.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#ifndef IP_TRANSPARENT
#define IP_TRANSPARENT 19
#endif
#ifndef IPV6_TRANSPARENT
#define IPV6_TRANSPARENT 75
#endif
#ifndef SO_ATTACH_REUSEPORT_CBPF
#define SO_ATTACH_REUSEPORT_CBPF 51
#endif

#define T_TIMEOUT	120
#define PORT_P		4252	/* protected listener */
#define PORT_Q		4253	/* nothing listens */
#define PORT_R		4254	/* tproxied to P */
#define SECRET		"bypass test secret"
#define REPLY_WAIT_MS	3000	/* every probe here is answered */

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

/*
 * A listener in b on @port; with @secret protected, with @ulp the ULP
 * attached; @extra_opt (if not 0) at @extra_opt_level set to 1. -1 on
 * failure.
 */
static int listen_on(const struct wire *w, uint16_t port, const char *secret,
		     bool ulp, int extra_opt_level, int extra_opt)
{
	struct sockaddr_storage ss;
	int fd, one = 1;
	socklen_t sl;

	fd = sock_in(w->nsb, w->family);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (w->family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (extra_opt &&
	    setsockopt(fd, extra_opt_level, extra_opt, &one, sizeof(one))) {
		note("setsockopt %d/%d: %s", extra_opt_level, extra_opt,
		     strerror(errno));
		goto fail;
	}
	if ((ulp || secret) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7)) {
		note("TCP_ULP: %s", strerror(errno));
		goto fail;
	}
	if (secret && set_secret(fd, secret, 1))
		goto fail;
	sl = netns_sockaddr(w->family, netns_addr_b(w->family), port, &ss);
	if (bind(fd, (struct sockaddr *)&ss, sl) || listen(fd, 16)) {
		note("bind/listen %u: %s", port, strerror(errno));
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static void base_seg(struct wire *w, struct seg *s, uint16_t dport,
		     uint8_t flags)
{
	static const uint8_t opts[] = {
		2, 4, 0x05, 0xb4,		/* MSS 1460 */
		4, 2, 1, 1,			/* SACK-permitted, NOP NOP */
		1, 3, 3, 7,			/* NOP, wscale 7 */
		1, 1, 1, 1,			/* NOPs */
	};

	memset(s, 0, sizeof(*s));
	s->sport = w->next_port++;
	s->dport = dport;
	s->seq = rand32();
	s->flags = flags;
	s->win = 64240;
	memcpy(s->opts, opts, sizeof(opts));
	s->optlen = sizeof(opts);
}

/*
 * Send @s as two fragments, the first carrying @first bytes (a multiple of
 * 8) of the TCP segment. IPv6: a fragment header; IPv4: MF and an offset.
 */
static int send_frags(const struct wire *w, const struct seg *s, int first)
{
	uint8_t whole[RAW_PACKET_MAX], frag[RAW_PACKET_MAX + 8];
	int iphl = w->family == AF_INET6 ? 40 : 20;
	int len = build_packet(w, s, whole), tlen = len - iphl, i;
	uint32_t id = rand32();
	struct sockaddr_storage ss;
	socklen_t sl;

	sl = netns_sockaddr(w->family, netns_addr_b(w->family), 0, &ss);
	for (i = 0; i < 2; i++) {
		int off = i ? first : 0, n = i ? tlen - first : first, flen;
		bool more = !i;

		if (w->family == AF_INET6) {
			memcpy(frag, whole, 40);
			frag[6] = 44;			/* next: fragment */
			put16(frag + 4, 8 + n);
			frag[40] = IPPROTO_TCP;
			frag[41] = 0;
			put16(frag + 42, (off / 8) << 3 | more);
			put32(frag + 44, id);
			memcpy(frag + 48, whole + 40 + off, n);
			flen = 48 + n;
		} else {
			memcpy(frag, whole, 20);
			put16(frag + 2, 20 + n);
			put16(frag + 4, id);
			put16(frag + 6, (more ? 0x2000 : 0) | off / 8);
			memcpy(frag + 20, whole + 20 + off, n);
			flen = 20 + n;
		}
		if (sendto(w->raw, frag, flen, 0, (struct sockaddr *)&ss,
			   sl) != flen) {
			note("sendto fragment %d: %s", i, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* Capture b's answer to @s (to its source port) within REPLY_WAIT_MS. */
static bool answer(const struct wire *w, const struct seg *s, struct reply *r)
{
	struct match m = { .sport = s->dport, .dport = s->sport, .out = r };

	r->present = false;
	return capture(w, &m, 1, REPLY_WAIT_MS) == 1;
}

/*
 * The ACK that completes the handshake @s (a SYN) began, to which b answered
 * @synack (with a SYN cookie): sent, and b's answer in @r. 0 or -1.
 */
static int send_cookie_ack(struct wire *w, struct seg *s, const struct reply *synack,
			   struct reply *r)
{
	s->flags = TH_ACK;
	s->optlen = 0;
	s->seq += 1;
	s->ack = synack->seq + 1;
	drain(w);
	if (send_seg(w, s))
		return -1;
	answer(w, s, r);
	return 0;
}

FIXTURE(bypass) {
	struct netns_pair ns;
	struct wire w;
	int lfd;
	char c[64];	/* a third namespace, if a test makes one */
};

FIXTURE_VARIANT(bypass) {
	int family;
};

FIXTURE_VARIANT_ADD(bypass, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(bypass, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(bypass)
{
	self->lfd = -1;
	self->w.raw = self->w.cap = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsy"));
	ASSERT_EQ(0, raw_wire_open(&self->w, &self->ns, variant->family));
}

FIXTURE_TEARDOWN_PARENT(bypass)
{
	if (self->c[0])
		netns_del(self->c);
	netns_pair_destroy(&self->ns);
}

/*
 * A knockless SYN whose options run into a second fragment. IPv6
 * reassembles in the fragment header handler, after LOCAL_IN: the hook saw
 * the first fragment, could not read the options and let it pass, and the
 * listener answered the reassembled SYN with a SYN-ACK. Now the hook sees
 * the reassembled SYN (nf_defrag_ipv6) and answers as the closed port.
 */
TEST_F_TIMEOUT(bypass, frag_syn_options_split, T_TIMEOUT)
{
	long long miss0, miss1;
	struct reply rp, rq;
	struct seg sp, sq;
	int first;

	self->lfd = listen_on(&self->w, PORT_P, SECRET, true, 0, 0);
	ASSERT_LE(0, self->lfd);
	/* Split after the TCP header + 0, 8 bytes of options (doff 36). */
	for (first = 24; first <= 32; first += 8) {
		base_seg(&self->w, &sp, PORT_P, TH_SYN);
		base_seg(&self->w, &sq, PORT_Q, TH_SYN);
		miss0 = stealth_counter(self->ns.b, "knock_missing");
		drain(&self->w);
		ASSERT_EQ(0, send_frags(&self->w, &sp, first));
		answer(&self->w, &sp, &rp);
		ASSERT_EQ(0, send_frags(&self->w, &sq, first));
		answer(&self->w, &sq, &rq);
		miss1 = stealth_counter(self->ns.b, "knock_missing");
		note("split at %d: protected %s flags 0x%02x, closed %s flags 0x%02x",
		     first, rp.present ? "answered" : "silent", rp.flags,
		     rq.present ? "answered" : "silent", rq.flags);
		ASSERT_TRUE(rq.present);
		EXPECT_EQ(TH_RST | TH_ACK, rq.flags);
		ASSERT_TRUE(rp.present) TH_LOG("no answer from the protected port");
		EXPECT_EQ(0, rp.flags & TH_SYN) TH_LOG("SYN-ACK without a knock");
		EXPECT_EQ(rq.flags, rp.flags);
		EXPECT_EQ(miss0 + 1, miss1);
	}
	EXPECT_EQ(-1, tcp_accept_timeout(self->lfd, 200));
	close(self->lfd);
}

/* A FIN probe in fragments: the listener ignores it, a closed port resets. */
TEST_F_TIMEOUT(bypass, frag_fin_probe, T_TIMEOUT)
{
	struct reply rp, rq;
	struct seg sp, sq;

	self->lfd = listen_on(&self->w, PORT_P, SECRET, true, 0, 0);
	ASSERT_LE(0, self->lfd);
	base_seg(&self->w, &sp, PORT_P, TH_FIN);
	base_seg(&self->w, &sq, PORT_Q, TH_FIN);
	drain(&self->w);
	ASSERT_EQ(0, send_frags(&self->w, &sp, 24));
	answer(&self->w, &sp, &rp);
	ASSERT_EQ(0, send_frags(&self->w, &sq, 24));
	answer(&self->w, &sq, &rq);
	ASSERT_TRUE(rq.present);
	EXPECT_TRUE(rp.present) TH_LOG("protected port silent to a FIN probe");
	EXPECT_EQ(rq.flags, rp.flags);
	close(self->lfd);
}

/*
 * SYN cookies. While cookies are in use, TCP keeps nothing for a SYN it
 * answers, and any ACK whose number is a valid cookie creates the
 * connection. The attacker here gets a real cookie for its 4-tuple while
 * the port is still open, then the port is protected, then the ACK comes
 * (with @fou_port, carried by that Foo-over-UDP port of b, past the input
 * hook): it must not make a connection (a blind attacker would guess the
 * cookie; this is the same ACK without the guessing), and gets a closed
 * port's RST.
 */
static void cookie_ack_attack(struct __test_metadata *_metadata,
			      FIXTURE_DATA(bypass) *self, uint16_t fou_port)
{
	struct reply synack, r;
	struct seg s;
	long long refused0;
	int afd;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies",
				      "2"));
	self->lfd = listen_on(&self->w, PORT_P, NULL, true, 0, 0);
	ASSERT_LE(0, self->lfd);
	base_seg(&self->w, &s, PORT_P, TH_SYN);
	drain(&self->w);
	ASSERT_EQ(0, send_seg(&self->w, &s));
	ASSERT_TRUE(answer(&self->w, &s, &synack));
	ASSERT_EQ(TH_SYN | TH_ACK, synack.flags);
	ASSERT_EQ(s.seq + 1, synack.ack);

	/* Now protect the port: the cookie is still good for two minutes. */
	ASSERT_EQ(0, set_secret(self->lfd, SECRET, 1));
	refused0 = stealth_counter(self->ns.b, "ack_refused");
	s.fou_port = fou_port;
	ASSERT_EQ(0, send_cookie_ack(&self->w, &s, &synack, &r));
	afd = tcp_accept_timeout(self->lfd, 500);
	EXPECT_EQ(-1, afd) TH_LOG("a cookie ACK without a knock got a connection%s",
				  fou_port ? " through FOU" : "");
	if (afd >= 0)
		close(afd);
	EXPECT_TRUE(r.present);
	EXPECT_EQ(TH_RST, r.flags & (TH_RST | TH_SYN));
	EXPECT_EQ(refused0 + 1, stealth_counter(self->ns.b, "ack_refused"));
	close(self->lfd);
}

TEST_F_TIMEOUT(bypass, cookie_ack_without_knock, T_TIMEOUT)
{
	cookie_ack_attack(_metadata, self, 0);
}

/*
 * Two IPv6 addresses of b whose four 32-bit words have the same XOR
 * (the last two swapped).
 */
#define ADDR1		"fd00::1:0:2"
#define ADDR2		"fd00::2:0:1"
#define SECRET2		"bypass second secret"

/*
 * The knock that admits a 4-tuple's cookie ACK is the knock to that
 * listener's address: a peer that knocked on one address (with the key of
 * the listener there) must not get its ACKs past the check of a listener
 * with another key on another address of the host. The table of admitted
 * peers keyed the destination address by the XOR of its four words, so
 * whoever knocked on ADDR1 was admitted on ADDR2 as well. Here the peer
 * holds the key of the listener on ADDR1 only, has a cookie from the one on
 * ADDR2 (taken while it was open, as in cookie_ack_without_knock: the same
 * ACK a blind attacker would guess), knocks on ADDR1 from its port, and
 * sends the cookie ACK to ADDR2: no connection there.
 */
TEST_F_TIMEOUT(bypass, cookie_ack_admitted_elsewhere, T_TIMEOUT)
{
	struct sockaddr_storage ss;
	struct reply synack, r;
	long long refused0;
	int l1, l2, cfd, afd;
	socklen_t sl;
	struct seg s;

	if (variant->family != AF_INET6)
		SKIP(return, "an IPv4 address is one word");
	ASSERT_EQ(0, netns_addr_add(self->ns.b, NETNS_IFNAME, ADDR1, 64));
	ASSERT_EQ(0, netns_addr_add(self->ns.b, NETNS_IFNAME, ADDR2, 64));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies", "2"));
	l1 = listener_on(self->ns.b, AF_INET6, ADDR1, PORT_P, SECRET, 16);
	l2 = listener_on(self->ns.b, AF_INET6, ADDR2, PORT_P, NULL, 16);
	ASSERT_LE(0, l1);
	ASSERT_LE(0, l2);

	/* A cookie from ADDR2 while it is open. */
	ASSERT_EQ(1, inet_pton(AF_INET6, ADDR2, self->w.addr_b));
	base_seg(&self->w, &s, PORT_P, TH_SYN);
	drain(&self->w);
	ASSERT_EQ(0, send_seg(&self->w, &s));
	ASSERT_TRUE(answer(&self->w, &s, &synack));
	ASSERT_EQ(TH_SYN | TH_ACK, synack.flags);
	ASSERT_EQ(0, set_secret(l2, SECRET2, 0));

	/* A knock on ADDR1 from the same address and port. */
	cfd = sock_in(self->ns.a, AF_INET6);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	sl = netns_sockaddr(AF_INET6, NETNS_A_IP6, s.sport, &ss);
	ASSERT_EQ(0, bind(cfd, (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, connect_to(cfd, AF_INET6, ADDR1, PORT_P, 4000));
	afd = tcp_accept_timeout(l1, 2000);
	ASSERT_LE(0, afd);
	close(afd);

	/* The cookie ACK to ADDR2. */
	refused0 = stealth_counter(self->ns.b, "ack_refused");
	ASSERT_EQ(0, send_cookie_ack(&self->w, &s, &synack, &r));
	afd = tcp_accept_timeout(l2, 500);
	EXPECT_EQ(-1, afd) TH_LOG("a knock on another address made the cookie ACK a connection");
	if (afd >= 0)
		close(afd);
	EXPECT_TRUE(r.present);
	EXPECT_EQ(TH_RST, r.flags & (TH_RST | TH_SYN));
	EXPECT_EQ(refused0 + 1, stealth_counter(self->ns.b, "ack_refused"));
	close(cfd);
	close(l1);
	close(l2);
}

/*
 * The same as cookie_ack_admitted_elsewhere, with the same address and port
 * on both sides: two listeners on b's address and PORT_P, one bound to
 * veth0 (the link to a) with the key the peer holds, the other bound to
 * veth1 (a link to a third namespace c, whose address is a's) with another
 * key, as two VRFs with the same addresses would have them. The peer has a
 * cookie from the veth1 listener (taken while it was open), knocks at the
 * veth0 listener from a with the cookie's 4-tuple, and sends the cookie ACK
 * from c over veth1. The admitted-peers tag named only the 4-tuple, so the
 * knock at one listener let the ACK make a connection at the other.
 */
TEST_F_TIMEOUT(bypass, cookie_ack_admitted_on_other_link, T_TIMEOUT)
{
	int fam = variant->family, six = fam == AF_INET6;
	struct netns_pair c_pair = { .created = 0 };
	struct sockaddr_storage ss;
	struct linger rst = { 1, 0 };
	struct reply synack, r;
	struct wire wc;
	long long refused0;
	int l0, l1, cfd, afd;
	socklen_t sl;
	struct seg s;

	/* c: veth0 <-> b's veth1, with a's addresses; static neighbours. */
	snprintf(self->c, sizeof(self->c), "tsyc-%d", (int)getpid());
	netns_del(self->c);
	ASSERT_EQ(0, netns_add(self->c));
	ASSERT_EQ(0, netns_link_up(self->c, "lo"));
	ASSERT_EQ(0, netns_veth_add(self->c, NETNS_IFNAME, self->ns.b, "veth1"));
	ASSERT_EQ(0, netns_addr_add(self->c, NETNS_IFNAME, netns_addr_a(fam), six ? 64 : 24));
	ASSERT_EQ(0, netns_link_up(self->c, NETNS_IFNAME));
	ASSERT_EQ(0, netns_link_up(self->ns.b, "veth1"));
	ASSERT_EQ(0, netns_link_wait(self->c, NETNS_IFNAME, 10000));
	ASSERT_EQ(0, netns_link_wait(self->ns.b, "veth1", 10000));
	ASSERT_EQ(0, netns_system(self->c,
		"ip %s neigh replace %s dev " NETNS_IFNAME " lladdr "
		"$(ip -n %s -br link show veth1 | awk '{print $3}')",
		six ? "-6" : "-4", netns_addr_b(fam), self->ns.b));
	ASSERT_EQ(0, netns_system(self->ns.b,
		"ip %s neigh replace %s dev veth1 lladdr "
		"$(ip -n %s -br link show " NETNS_IFNAME " | awk '{print $3}')",
		six ? "-6" : "-4", netns_addr_a(fam), self->c));
	/* b answers a SYN at the veth1 listener over veth1 (IPv6 wants a route). */
	if (six)
		ASSERT_EQ(0, netns_system(self->ns.b, "ip -6 route add %s/128 dev veth1",
					  netns_addr_a(fam)));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf.all.rp_filter", "0"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.conf.veth1.rp_filter", "0"));
	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies", "2"));
	snprintf(c_pair.a, sizeof(c_pair.a), "%s", self->c);
	snprintf(c_pair.b, sizeof(c_pair.b), "%s", self->ns.b);
	ASSERT_EQ(0, raw_wire_open(&wc, &c_pair, fam));

	l0 = listener_on_dev(self->ns.b, fam, netns_addr_b(fam), PORT_P, NETNS_IFNAME, NULL, 16);
	l1 = listener_on_dev(self->ns.b, fam, netns_addr_b(fam), PORT_P, "veth1", NULL, 16);
	ASSERT_LE(0, l0);
	ASSERT_LE(0, l1);
	ASSERT_EQ(0, set_secret(l0, SECRET, 0));

	/* A cookie from the veth1 listener while it is open, taken in c. */
	base_seg(&wc, &s, PORT_P, TH_SYN);
	s.sport = self->w.next_port++;
	drain(&wc);
	ASSERT_EQ(0, send_seg(&wc, &s));
	ASSERT_TRUE(answer(&wc, &s, &synack));
	ASSERT_EQ(TH_SYN | TH_ACK, synack.flags);
	ASSERT_EQ(0, set_secret(l1, SECRET2, 0));

	/* A knock at the veth0 listener from a, from the same port. */
	cfd = sock_in(self->ns.a, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	sl = netns_sockaddr(fam, netns_addr_a(fam), s.sport, &ss);
	ASSERT_EQ(0, bind(cfd, (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, connect_to(cfd, fam, netns_addr_b(fam), PORT_P, 4000));
	afd = tcp_accept_timeout(l0, 2000);
	ASSERT_LE(0, afd);
	/* Gone at once on both sides: no socket keeps the 4-tuple. */
	ASSERT_EQ(0, setsockopt(cfd, SOL_SOCKET, SO_LINGER, &rst, sizeof(rst)));
	close(cfd);
	close(afd);

	/* The cookie ACK from c, over veth1. */
	refused0 = stealth_counter(self->ns.b, "ack_refused");
	ASSERT_EQ(0, send_cookie_ack(&wc, &s, &synack, &r));
	afd = tcp_accept_timeout(l1, 500);
	EXPECT_EQ(-1, afd) TH_LOG("a knock at the veth0 listener made the cookie ACK "
				  "a connection at the veth1 listener");
	if (afd >= 0)
		close(afd);
	EXPECT_EQ(refused0 + 1, stealth_counter(self->ns.b, "ack_refused"));
	raw_wire_close(&wc);
	close(l0);
	close(l1);
}

/*
 * TPROXY hands a SYN for port R (nothing listens there) to the transparent
 * protected listener on P before LOCAL_IN. TCP delivers it to that socket
 * (skb->sk); the hook used to look up port R, find nothing and let it pass.
 */
TEST_F_TIMEOUT(bypass, tproxy_assigned_listener, T_TIMEOUT)
{
	int six = variant->family == AF_INET6;
	struct reply r;
	struct seg s;

	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft 'add table inet tsy; "
		"add chain inet tsy pre { type filter hook prerouting priority -150; }; "
		"add rule inet tsy pre meta l4proto tcp tcp dport %d tproxy %s to :%d'",
		PORT_R, six ? "ip6" : "ip", PORT_P));
	self->lfd = listen_on(&self->w, PORT_P, SECRET, true,
			      six ? IPPROTO_IPV6 : IPPROTO_IP,
			      six ? IPV6_TRANSPARENT : IP_TRANSPARENT);
	ASSERT_LE(0, self->lfd);
	base_seg(&self->w, &s, PORT_R, TH_SYN);
	drain(&self->w);
	ASSERT_EQ(0, send_seg(&self->w, &s));
	ASSERT_TRUE(answer(&self->w, &s, &r));
	note("SYN to %d tproxied to protected %d: flags 0x%02x", PORT_R,
	     PORT_P, r.flags);
	EXPECT_EQ(0, r.flags & TH_SYN) TH_LOG("SYN-ACK without a knock");
	EXPECT_EQ(TH_RST | TH_ACK, r.flags);
	EXPECT_EQ(-1, tcp_accept_timeout(self->lfd, 200));

	/* And a knocking client gets through the same way. */
	{
		int cfd = -1, afd;

		/* stealth.h's client() connects to port 4242; use our own. */
		cfd = sock_in(self->ns.a, variant->family);
		ASSERT_LE(0, cfd);
		ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
		EXPECT_EQ(0, connect_to(cfd, variant->family,
					netns_addr_b(variant->family), PORT_R,
					NETNS_TIMEOUT_MS)) {
			stealth_counters_log("b", self->ns.b);
		}
		afd = tcp_accept_timeout(self->lfd, NETNS_TIMEOUT_MS);
		EXPECT_LE(0, afd);
		if (afd >= 0)
			close(afd);
		close(cfd);
	}
	close(self->lfd);
}

/*
 * A reuseport group on P in b: member 0 (*@l0) with SECRET and the group's
 * classic BPF program @prog, member 1 (*@l1) with @secret1 (NULL: open,
 * without the ULP).
 */
static void reuseport_pair(struct __test_metadata *_metadata,
			   FIXTURE_DATA(bypass) *self, struct sock_fprog *prog,
			   const char *secret1, int *l0, int *l1)
{
	*l0 = listen_on(&self->w, PORT_P, SECRET, true, SOL_SOCKET,
			SO_REUSEPORT);
	ASSERT_LE(0, *l0);
	ASSERT_EQ(0, setsockopt(*l0, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF,
				prog, sizeof(*prog)));
	*l1 = listen_on(&self->w, PORT_P, secret1, secret1 != NULL, SOL_SOCKET,
			SO_REUSEPORT);
	ASSERT_LE(0, *l1);
}

/*
 * A reuseport group on P: member 0 protected, member 1 open; a classic BPF
 * program picks member (payload length & 1), over the bytes after the TCP
 * header as TCP's lookup presents them. A knockless SYN without data goes to
 * member 0 and must be refused; with one byte of data it goes to member 1,
 * which answers it.
 */
TEST_F_TIMEOUT(bypass, reuseport_member, T_TIMEOUT)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_LEN, 0),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 1),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { .len = 3, .filter = code };
	int l0, l1, i;

	reuseport_pair(_metadata, self, &prog, NULL, &l0, &l1);
	for (i = 0; i < 2; i++) {
		struct reply r;
		struct seg s;

		base_seg(&self->w, &s, PORT_P, TH_SYN);
		s.datalen = i;
		s.data[0] = 'x';
		drain(&self->w);
		ASSERT_EQ(0, send_seg(&self->w, &s));
		ASSERT_TRUE(answer(&self->w, &s, &r));
		note("SYN with %d data bytes: answer flags 0x%02x", i, r.flags);
		EXPECT_EQ(i ? TH_SYN | TH_ACK : TH_RST | TH_ACK, r.flags);
	}
	EXPECT_EQ(-1, tcp_accept_timeout(l0, 200));
	close(l0);
	close(l1);
}

/*
 * A reuseport group on P whose members have different secrets, and a
 * classic BPF program that picks one at random (SKF_AD_RANDOM): the input
 * hook runs it to find the listener it judges a SYN for, TCP runs it again
 * to find the one it gives the SYN to, and for about half the SYNs they
 * differ. Clients knock with member 0's secret. Member 1 must never get a
 * connection from them: a SYN the hook judged (and vouched for) at member
 * 0 is checked again by member 1 itself, with its own keys (syn_unhooked),
 * and refused.
 */
TEST_F_TIMEOUT(bypass, reuseport_random_member, T_TIMEOUT)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_RANDOM),
		BPF_STMT(BPF_ALU | BPF_AND | BPF_K, 1),
		BPF_STMT(BPF_RET | BPF_A, 0),
	};
	struct sock_fprog prog = { .len = 3, .filter = code };
	int fam = self->w.family, l0, l1, i, fd, made = 0, at0 = 0, at1 = 0;
	long long unhooked0;

	reuseport_pair(_metadata, self, &prog, SECRET2, &l0, &l1);
	unhooked0 = stealth_counter(self->ns.b, "syn_unhooked");
	for (i = 0; i < 24; i++) {
		fd = sock_in(self->ns.a, fam);
		ASSERT_LE(0, fd);
		ASSERT_EQ(0, set_secret(fd, SECRET, 0));
		if (!connect_to(fd, fam, netns_addr_b(fam), PORT_P, 2000))
			made++;
		close(fd);
	}
	while ((fd = tcp_accept_timeout(l0, 100)) >= 0) {
		at0++;
		close(fd);
	}
	while ((fd = tcp_accept_timeout(l1, 100)) >= 0) {
		at1++;
		close(fd);
	}
	note("24 knocks for member 0: %d connections, %d at member 0, %d at member 1, syn_unhooked +%lld",
	     made, at0, at1, stealth_counter(self->ns.b, "syn_unhooked") - unhooked0);
	EXPECT_EQ(0, at1) TH_LOG("member 1 took connections knocked with member 0's secret");
	EXPECT_LT(0, at0);
	close(l0);
	close(l1);
}

/* ---- Foo-over-UDP -------------------------------------------------------- */

#define PORT_FOU	5555	/* b's FOU receive port, ipproto 6 */
#define PORT_GUE	5556	/* b's GUE receive port */
/* docs/PROTOCOL.md, section 12: knock_mac.h has its K_mac. */
#define SECRET_V	"This is my magic ID."

/*
 * b's FOU and GUE ports (fou_port_add()) and a listener on PORT_P with SECRET_V:
 * its fd, or -1. @w reads the UDP-protocol answers of IPv4 TCP as TCP
 * (udp_as_tcp).
 */
static int fou_listener(struct wire *w)
{
	if (fou_port_add(w->nsb, w->family, PORT_FOU, false) ||
	    fou_port_add(w->nsb, w->family, PORT_GUE, true))
		return -1;
	w->udp_as_tcp = true;
	return listen_on(w, PORT_P, SECRET_V, true, 0, 0);
}

/*
 * A SYN to b's @dport, carried to b's FOU port (@gue: its GUE port); with
 * @knock a valid knock for SECRET_V after base_seg()'s options.
 */
static void fou_syn(struct wire *w, struct seg *s, uint16_t dport, bool knock,
		    bool gue)
{
	base_seg(w, s, dport, TH_SYN);
	s->fou_port = gue ? PORT_GUE : PORT_FOU;
	s->gue = gue;
	if (knock) {
		uint64_t t = time(NULL);
		uint8_t n48[6];

		rand_bytes(n48, sizeof(n48));
		knock_option(s->opts + s->optlen, t, n48,
			     knock_mac(knock_vector_kmac, dport, t, n48));
		s->optlen += 20;
	}
}

/* @r, b's answer to @s, on stderr, its numbers relative to @s's. */
static void print_answer(const char *tag, const struct seg *s,
			 const struct reply *r)
{
	char f[40];

	if (!r->present) {
		note("  %s (port %u): no answer", tag, s->dport);
		return;
	}
	note("  %s (port %u): IP protocol %u, %s seq=probe.ack%+d ack=probe.seq%+d win=%u optlen=%d data=%d",
	     tag, s->dport, r->proto, flag_str(r->flags, f),
	     (int32_t)(r->seq - s->ack), (int32_t)(r->ack - s->seq), r->win,
	     r->optlen, r->datalen);
}

/*
 * The protected port's answer @rp to @sp must be the closed port's @rq to
 * @sq: IP protocol, flags, numbers relative to the probe's, window,
 * options, data.
 * Returns the number of differences, each on stderr.
 */
static int compare_answers(const struct seg *sp, const struct reply *rp,
			   const struct seg *sq, const struct reply *rq)
{
	int bad = 0;

#define DIFF(what, a, b) do {						\
		if ((a) != (b)) {					\
			note("  %s differs: protected %lld, closed %lld",	\
			     what, (long long)(a), (long long)(b));	\
			bad++;						\
		}							\
	} while (0)
	DIFF("present", rp->present, rq->present);
	if (!rp->present || !rq->present)
		return bad;
	DIFF("IP protocol", rp->proto, rq->proto);
	DIFF("flags", rp->flags, rq->flags);
	DIFF("seq - probe.ack", (int32_t)(rp->seq - sp->ack),
	     (int32_t)(rq->seq - sq->ack));
	DIFF("ack - probe.seq", (int32_t)(rp->ack - sp->seq),
	     (int32_t)(rq->ack - sq->seq));
	DIFF("window", rp->win, rq->win);
	DIFF("option length", rp->optlen, rq->optlen);
	DIFF("data length", rp->datalen, rq->datalen);
#undef DIFF
	return bad;
}

/*
 * @sp to the protected port and @sq to the closed one, each carried as it
 * says, fenced (over @w's link, from @w's namespace a to its b): the protected port must answer as the closed one does (no
 * SYN-ACK, the same RST), and b's counters move as @exp (@n entries) says.
 * @what names the case in the log.
 */
static void refused_as_closed(struct __test_metadata *_metadata,
			      struct wire *w, const struct seg *sp,
			      const struct seg *sq, const char *what,
			      struct counter_delta *exp, int n)
{
	struct stealth_counters c0, c1;
	struct reply rp, rq;

	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c0));
	exchange_fenced(w, sp, sq, PORT_Q, &rp, &rq, REPLY_WAIT_MS);
	ASSERT_EQ(0, stealth_counters_read(w->nsb, &c1));
	note("%s:", what);
	print_answer("protected", sp, &rp);
	print_answer("closed   ", sq, &rq);
	ASSERT_TRUE(rq.present) TH_LOG("%s: no RST from the closed port", what);
	EXPECT_EQ(0, rp.flags & TH_SYN) TH_LOG("%s: a SYN-ACK", what);
	EXPECT_EQ(0, compare_answers(sp, &rp, sq, &rq));
	EXPECT_EQ(0, stealth_counters_check(what, &c0, &c1, exp, n));
}

/*
 * A FOU receive port hands the TCP segment it carries to TCP from inside
 * UDP's handler: LOCAL_IN saw only the UDP datagram, and a knockless SYN
 * in it reached the protected listener, which answered with a SYN-ACK. The
 * listener now checks such a SYN itself (syn_unhooked): the answer is the
 * closed port's to the same FOU-carried SYN (TCP's own RST, not
 * encapsulated; over IPv4 under IP protocol 17, UDP, that of the packet it
 * answers), and in drop mode (net.tcp_stealth.reject=1) there is none.
 * The same through a GUE port, whose header names the protocol.
 * The counters: syn_unhooked, knock_missing, and rst_sent or dropped;
 * syn_in is the hook's count, left unchecked here.
 */
TEST_F_TIMEOUT(bypass, fou_syn_without_knock, T_TIMEOUT)
{
	int drop, gue;

	self->lfd = fou_listener(&self->w);
	ASSERT_LE(0, self->lfd);
	for (gue = 0; gue <= 1; gue++) {
		for (drop = 0; drop <= 1; drop++) {
			struct counter_delta exp[] = {
				{ "syn_unhooked", 1 },
				{ "knock_missing", 1 },
				{ "rst_sent", !drop },
				{ "dropped", drop },
				{ "syn_in", COUNTER_ANY },
			};
			const char *via = gue ? "GUE" : "FOU";
			struct stealth_counters c0, c1;
			struct reply rp, rq;
			struct seg sp, sq;

			ASSERT_EQ(0, netns_sysctl_set(self->ns.b,
						      "net.tcp_stealth.reject",
						      drop ? "1" : "0"));
			fou_syn(&self->w, &sp, PORT_P, false, gue);
			fou_syn(&self->w, &sq, PORT_Q, false, gue);
			ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c0));
			/* The fence goes the same way: past the hook, no
			 * counter. */
			exchange_fenced(&self->w, &sp, &sq, PORT_Q, &rp, &rq,
					REPLY_WAIT_MS);
			ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c1));
			note("knockless SYNs through %s port %d, reject=%d:", via,
			     sp.fou_port, drop);
			print_answer("protected", &sp, &rp);
			print_answer("closed   ", &sq, &rq);
			/* TCP got the carried SYN: the closed port's RST. */
			ASSERT_TRUE(rq.present) TH_LOG("no RST from the closed port through %s", via);
			EXPECT_EQ(TH_RST | TH_ACK, rq.flags);
			EXPECT_EQ(0, rp.flags & TH_SYN) TH_LOG("SYN-ACK without a knock through %s", via);
			if (drop) {
				EXPECT_FALSE(rp.present) TH_LOG("an answer in drop mode through %s", via);
			} else {
				EXPECT_EQ(0, compare_answers(&sp, &rp, &sq, &rq));
			}
			EXPECT_EQ(0, stealth_counters_check(drop ? "drop mode" : "reject=0",
							    &c0, &c1, exp, 5));
		}
	}
	close(self->lfd);
}

/*
 * An ISN-mode listener (the original Knock's mode, the knock in the
 * sequence number) checks a SYN carried by FOU too: a random ISN is no
 * knock, and the answer is the closed port's (isn_bad).
 */
TEST_F_TIMEOUT(bypass, fou_syn_isn_mode, T_TIMEOUT)
{
	struct counter_delta exp[] = {
		{ "syn_unhooked", 1 },
		{ "isn_bad", 1 },
		{ "rst_sent", 1 },
		{ "syn_in", COUNTER_ANY },
	};
	int mode = TCP_STEALTH_MODE_ISN;
	struct seg sp, sq;

	self->lfd = fou_listener(&self->w);
	ASSERT_LE(0, self->lfd);
	ASSERT_EQ(0, setsockopt(self->lfd, IPPROTO_TCP, TCP_STEALTH_MODE, &mode,
				sizeof(mode)));
	fou_syn(&self->w, &sp, PORT_P, false, false);
	fou_syn(&self->w, &sq, PORT_Q, false, false);
	refused_as_closed(_metadata, &self->w, &sp, &sq,
			  "a random ISN through FOU to an ISN-mode listener",
			  exp, 4);
	close(self->lfd);
}

/*
 * A client behind FOU that knocks is not refused: its SYN, carried the
 * same way with a valid knock, gets the listener's SYN-ACK, checked by the
 * listener (syn_unhooked) and counted as no refusal. knock_good and syn_in
 * are left unchecked: which of them the listener's own check counts is its
 * choice. The listener's check has the replay cache too: the same knock
 * from another source port, through GUE, gets the closed port's answer
 * (knock_replay).
 */
TEST_F_TIMEOUT(bypass, fou_syn_with_knock, T_TIMEOUT)
{
	struct counter_delta exp[] = {
		{ "syn_unhooked", 1 },
		{ "knock_good", COUNTER_ANY },
		{ "syn_in", COUNTER_ANY },
	};
	struct counter_delta exp_plain[] = {
		{ "knock_good", 1 },
		{ "syn_in", 1 },
	};
	struct counter_delta exp_replay[] = {
		{ "syn_unhooked", 1 },
		{ "knock_replay", 1 },
		{ "rst_sent", 1 },
		{ "syn_in", COUNTER_ANY },
	};
	struct stealth_counters c0, c1;
	struct reply rp, rq;
	struct seg sp, sq;

	self->lfd = fou_listener(&self->w);
	ASSERT_LE(0, self->lfd);
	/*
	 * The knock is good: sent plain, through the hook, it gets a SYN-ACK,
	 * and the listener takes the hook's word for it (no syn_unhooked).
	 */
	fou_syn(&self->w, &sp, PORT_P, true, false);
	sp.fou_port = 0;
	drain(&self->w);
	ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c0));
	ASSERT_EQ(0, send_seg(&self->w, &sp));
	ASSERT_TRUE(answer(&self->w, &sp, &rp));
	ASSERT_EQ(TH_SYN | TH_ACK, rp.flags) TH_LOG("a plain SYN with the knock refused");
	ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c1));
	EXPECT_EQ(0, stealth_counters_check("knock through the hook", &c0, &c1,
					    exp_plain, 2));

	fou_syn(&self->w, &sp, PORT_P, true, false);
	fou_syn(&self->w, &sq, PORT_Q, false, false);
	ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c0));
	exchange_fenced(&self->w, &sp, &sq, PORT_Q, &rp, &rq, REPLY_WAIT_MS);
	ASSERT_EQ(0, stealth_counters_read(self->ns.b, &c1));
	note("knocking SYN through FOU port %d:", PORT_FOU);
	print_answer("protected", &sp, &rp);
	print_answer("closed   ", &sq, &rq);
	ASSERT_TRUE(rq.present) TH_LOG("no RST from the closed port through FOU");
	ASSERT_TRUE(rp.present) TH_LOG("no answer to a knocking SYN");
	EXPECT_EQ(TH_SYN | TH_ACK, rp.flags);
	EXPECT_EQ(IPPROTO_TCP, rp.proto);
	EXPECT_EQ(sp.seq + 1, rp.ack);
	EXPECT_EQ(0, stealth_counters_check("knock through FOU", &c0, &c1,
					    exp, 3));

	/* The same knock again, from another port, through GUE: a replay. */
	sp.sport = self->w.next_port++;
	sp.seq = rand32();
	sp.fou_port = PORT_GUE;
	sp.gue = true;
	fou_syn(&self->w, &sq, PORT_Q, false, true);
	refused_as_closed(_metadata, &self->w, &sp, &sq,
			  "the same knock replayed through GUE", exp_replay, 4);
	close(self->lfd);
}

/*
 * The ACK that completes a SYN cookie, carried by a FOU port: the input
 * hook sees UDP, so the listener checks it itself (the 4-tuple must have
 * knocked, ack_refused otherwise), as cookie_ack_without_knock.
 */
TEST_F_TIMEOUT(bypass, fou_cookie_ack_without_knock, T_TIMEOUT)
{
	ASSERT_EQ(0, fou_port_add(self->w.nsb, self->w.family, PORT_FOU, false));
	self->w.udp_as_tcp = true;
	cookie_ack_attack(_metadata, self, PORT_FOU);
}

/*
 * A client behind FOU that knocks completes a SYN-cookie handshake the
 * same way: its knocked SYN (checked by the listener) gets a cookie, and
 * its ACK, which the listener checks too (the 4-tuple knocked), makes the
 * connection.
 */
TEST_F_TIMEOUT(bypass, fou_cookie_ack_after_knock, T_TIMEOUT)
{
	struct reply synack, r;
	struct seg s;
	long long refused0;
	int afd;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.ipv4.tcp_syncookies",
				      "2"));
	self->lfd = fou_listener(&self->w);
	ASSERT_LE(0, self->lfd);
	fou_syn(&self->w, &s, PORT_P, true, false);
	drain(&self->w);
	ASSERT_EQ(0, send_seg(&self->w, &s));
	ASSERT_TRUE(answer(&self->w, &s, &synack));
	ASSERT_EQ(TH_SYN | TH_ACK, synack.flags) TH_LOG("a knocking SYN through FOU refused");
	refused0 = stealth_counter(self->ns.b, "ack_refused");
	ASSERT_EQ(0, send_cookie_ack(&self->w, &s, &synack, &r));
	afd = tcp_accept_timeout(self->lfd, 2000);
	EXPECT_LE(0, afd) TH_LOG("the cookie ACK of a knocking client through FOU made no connection");
	if (afd >= 0)
		close(afd);
	EXPECT_EQ(refused0, stealth_counter(self->ns.b, "ack_refused"));
	close(self->lfd);
}

/*
 * fou_syn_without_knock over a second link, to link-local addresses. b has
 * a route to fe80::/64 on each of its two links, and a reset routed by its
 * destination alone leaves by the first one's. TCP answers a link-local
 * peer through the interface the segment came in on (tcp_v6_send_response()
 * with tcp_v6_iif()); the listener's refusal of a SYN that FOU carried to
 * it must too, or a prober on the second link gets no answer from the
 * protected port where the closed port's RST comes back.
 */
FIXTURE(fou_links) {
	struct netns_pair ns;
	struct wire w;
	int lfd;
};

FIXTURE_SETUP(fou_links)
{
	self->lfd = -1;
	self->w.raw = self->w.cap = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsk"));
	ASSERT_EQ(0, netns_ll_links_add(&self->ns));
	/* Send and capture on the second link. */
	ASSERT_EQ(0, raw_wire_open_link(&self->w, &self->ns, AF_INET6,
					netns_ll_links[1].ifname,
					netns_ll_links[1].a,
					netns_ll_links[1].b));
}

FIXTURE_TEARDOWN_PARENT(fou_links)
{
	netns_pair_destroy(&self->ns);
}

TEST_F_TIMEOUT(fou_links, fou_syn_without_knock_link_local, T_TIMEOUT)
{
	struct counter_delta exp[] = {
		{ "syn_unhooked", 1 },
		{ "knock_missing", 1 },
		{ "rst_sent", 1 },
		{ "syn_in", COUNTER_ANY },
	};
	struct seg sp, sq;

	/*
	 * TCP's closed port answers over this link: the capture works. (Before
	 * any secret in b: after, the module's hook answers closed ports.)
	 */
	ASSERT_EQ(0, raw_wire_check(&self->w, PORT_Q));
	ASSERT_EQ(0, fou_port_add(self->ns.b, AF_INET6, PORT_FOU, false));
	/* On every address of b, with the key docs/PROTOCOL.md's K_mac has. */
	self->lfd = listener_on(self->ns.b, AF_INET6, "::", PORT_P, SECRET_V, 16);
	ASSERT_LE(0, self->lfd);
	fou_syn(&self->w, &sp, PORT_P, false, false);
	fou_syn(&self->w, &sq, PORT_Q, false, false);
	refused_as_closed(_metadata, &self->w, &sp, &sq,
			  "knockless SYNs through FOU to b's link-local address on veth1",
			  exp, 4);
	close(self->lfd);
}

TEST_HARNESS_MAIN
