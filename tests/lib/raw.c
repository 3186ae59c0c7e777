// SPDX-License-Identifier: GPL-2.0
/* Hand-built TCP segments and their capture: see raw.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "raw.h"

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

int raw_wire_open(struct wire *w, const struct netns_pair *ns, int family)
{
	return raw_wire_open_link(w, ns, family, NETNS_IFNAME,
				  netns_addr_a(family), netns_addr_b(family));
}

int raw_wire_open_link(struct wire *w, const struct netns_pair *ns, int family,
		       const char *ifname, const char *addr_a,
		       const char *addr_b)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	int saved;

	memset(w, 0, sizeof(*w));
	w->raw = w->cap = w->lfd = -1;
	w->family = family;
	w->nsa = ns->a;
	w->nsb = ns->b;
	w->next_port = 20000 + rand32() % 30000;
	if (inet_pton(family, addr_a, w->addr_a) != 1 ||
	    inet_pton(family, addr_b, w->addr_b) != 1) {
		note("bad address %s or %s", addr_a, addr_b);
		return -1;
	}

	saved = netns_enter(w->nsa);
	if (saved < 0)
		return -1;
	w->raw = socket(family, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_RAW);
	if (w->raw < 0)
		note("raw socket: %s", strerror(errno));
	w->cap = socket(AF_PACKET, SOCK_DGRAM | SOCK_CLOEXEC, htons(ETH_P_ALL));
	if (w->cap < 0)
		note("packet socket: %s", strerror(errno));
	w->ifindex = if_nametoindex(ifname);
	if (netns_leave(saved) || w->raw < 0 || w->cap < 0)
		goto fail;
	if (!w->ifindex) {
		note("no %s in %s", ifname, w->nsa);
		goto fail;
	}
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = w->ifindex;
	if (bind(w->cap, (struct sockaddr *)&sll, sizeof(sll))) {
		note("bind packet socket: %s", strerror(errno));
		goto fail;
	}
	return 0;
fail:
	raw_wire_close(w);
	return -1;
}

void raw_wire_close(struct wire *w)
{
	if (w->raw >= 0)
		close(w->raw);
	if (w->cap >= 0)
		close(w->cap);
	w->raw = w->cap = -1;
}

int raw_wire_check(struct wire *w, uint16_t closed_port)
{
	struct seg s = {
		.sport = w->next_port++, .dport = closed_port,
		.seq = rand32(), .flags = TH_SYN, .win = 64240,
	};
	struct reply r = { 0 };
	struct match m = {
		.sport = closed_port, .dport = s.sport, .out = &r,
	};
	char f[40];

	if (send_seg(w, &s))
		return -1;
	if (capture(w, &m, 1, 5000) != 1) {
		note("no answer from closed port %u: capture broken?",
		     closed_port);
		return -1;
	}
	if (r.flags != (TH_RST | TH_ACK)) {
		note("closed port %u answered a SYN with %s, not RST|ACK",
		     closed_port, flag_str(r.flags, f));
		return -1;
	}
	return 0;
}

uint32_t rand32(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = (uint32_t)random();
	return v;
}

void rand_bytes(void *p, size_t len)
{
	if (getrandom(p, len, 0) != (ssize_t)len)
		for (size_t i = 0; i < len; i++)
			((uint8_t *)p)[i] = random();
}

void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

uint32_t get32(const uint8_t *p)
{
	return (uint32_t)get16(p) << 16 | get16(p + 2);
}

uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (; len > 1; p += 2, len -= 2)
		sum += get16(p);
	if (len)
		sum += p[0] << 8;
	return sum;
}

uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

int alen(int family)
{
	return family == AF_INET6 ? 16 : 4;
}

int find_tcp_option(const uint8_t *o, int len, uint8_t kind, uint8_t optlen)
{
	int i = 0;

	while (i < len && o[i] != 0) {
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= len || o[i + 1] < 2 || i + o[i + 1] > len)
			return -1;
		if (o[i] == kind && o[i + 1] == optlen)
			return i;
		i += o[i + 1];
	}
	return -1;
}

/* The sum of the pseudo-header a -> b for @proto and @len bytes. */
static uint32_t pseudo_sum(const struct wire *w, uint8_t proto, int len)
{
	uint8_t pseudo[4];
	uint32_t sum;

	sum = csum_add(0, w->addr_a, alen(w->family));
	sum = csum_add(sum, w->addr_b, alen(w->family));
	put16(pseudo, proto);
	put16(pseudo + 2, len);
	return csum_add(sum, pseudo, 4);
}

int build_packet(const struct wire *w, const struct seg *s, uint8_t *buf)
{
	int iphl = w->family == AF_INET6 ? 40 : 20;
	int udpl = s->fou_port ? 8 + (s->gue ? 4 : 0) : 0;
	int tlen = 20 + s->optlen + s->datalen;
	uint8_t *th = buf + iphl + udpl;
	uint8_t proto = udpl ? IPPROTO_UDP : IPPROTO_TCP;
	uint32_t sum;

	memset(buf, 0, iphl + udpl + tlen);
	if (w->family == AF_INET) {
		buf[0] = 0x45;
		buf[1] = s->tos;
		put16(buf + 2, iphl + udpl + tlen);
		put16(buf + 4, rand32() | 1);
		put16(buf + 6, 0x4000);		/* DF, as Linux sends */
		buf[8] = 64;
		buf[9] = proto;
		memcpy(buf + 12, w->addr_a, 4);
		memcpy(buf + 16, w->addr_b, 4);
		/* The kernel fills in the header checksum (IP_HDRINCL). */
	} else {
		put32(buf, 6u << 28 | (uint32_t)s->tos << 20 |
			   (rand32() & 0xfffff));
		put16(buf + 4, udpl + tlen);
		buf[6] = proto;
		buf[7] = 64;
		memcpy(buf + 8, w->addr_a, 16);
		memcpy(buf + 24, w->addr_b, 16);
	}
	put16(th, s->sport);
	put16(th + 2, s->dport);
	put32(th + 4, s->seq);
	put32(th + 8, s->ack);
	th[12] = (20 + s->optlen) / 4 << 4;
	th[13] = s->flags;
	put16(th + 14, s->win);
	put16(th + 18, s->urg);
	memcpy(th + 20, s->opts, s->optlen);
	memcpy(th + 20 + s->optlen, s->data, s->datalen);

	sum = csum_add(pseudo_sum(w, IPPROTO_TCP, tlen), th, tlen);
	put16(th + 16, csum_fold(sum) ^ (s->bad_csum ? 0x5a5a : 0));
	if (udpl) {
		uint8_t *uh = buf + iphl;
		uint16_t c;

		put16(uh, s->sport);
		put16(uh + 2, s->fou_port);
		put16(uh + 4, udpl + tlen);
		if (s->gue)
			uh[9] = IPPROTO_TCP;	/* GUE: version 0, no options */
		sum = csum_add(pseudo_sum(w, IPPROTO_UDP, udpl + tlen), uh,
			       udpl + tlen);
		c = csum_fold(sum);
		put16(uh + 6, c ? c : 0xffff);	/* 0 means none */
	}
	return iphl + udpl + tlen;
}

int send_seg(const struct wire *w, const struct seg *s)
{
	struct sockaddr_storage ss = { 0 };
	uint8_t buf[RAW_PACKET_MAX];
	socklen_t sl;
	int len;

	len = build_packet(w, s, buf);
	if (w->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, w->addr_b, 16);
		/* A link-local address means nothing without its link. */
		if (IN6_IS_ADDR_LINKLOCAL(&sin6->sin6_addr))
			sin6->sin6_scope_id = w->ifindex;
		sl = sizeof(*sin6);
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, w->addr_b, 4);
		sl = sizeof(*sin);
	}
	if (sendto(w->raw, buf, len, 0, (struct sockaddr *)&ss, sl) != len) {
		note("sendto: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int send_segs_in_order(const struct wire *w, const struct seg *const *s,
		       int n)
{
	cpu_set_t all, one;
	int i, ret = 0;

	if (sched_getaffinity(0, sizeof(all), &all))
		return -1;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one)) {
		note("sched_setaffinity: %s", strerror(errno));
		return -1;
	}
	for (i = 0; i < n && !ret; i++)
		ret = send_seg(w, s[i]);
	sched_setaffinity(0, sizeof(all), &all);
	return ret;
}

void exchange_fenced(struct wire *w, const struct seg *sp, const struct seg *sq,
		     uint16_t closed_port, struct reply *rp, struct reply *rq,
		     int timeout_ms)
{
	struct seg f = {
		.sport = w->next_port++, .dport = closed_port, .seq = rand32(),
		.ack = rand32(), .flags = TH_ACK, .win = 64240,
		.fou_port = sq->fou_port, .gue = sq->gue,
	};
	const struct seg *segs[] = { sp, sq, &f };
	struct reply rf;
	struct match m[3] = {
		{ .sport = sp->dport, .dport = sp->sport, .out = rp },
		{ .sport = sq->dport, .dport = sq->sport, .out = rq },
		{ .sport = closed_port, .dport = f.sport, .out = &rf,
		  .fence = true },
	};

	rp->present = rq->present = false;
	drain(w);
	if (send_segs_in_order(w, segs, 3))
		return;
	if (capture(w, m, 3, timeout_ms) < 3 && !rf.present)
		note("no answer to the fence segment in %d ms", timeout_ms);
}

/* Whether @proto, a packet's IP protocol, is one to read as TCP. */
static bool tcp_proto(const struct wire *w, uint8_t proto)
{
	return proto == IPPROTO_TCP || (w->udp_as_tcp && proto == IPPROTO_UDP);
}

bool parse_packet(const struct wire *w, const uint8_t *p, int len,
			 const uint8_t *src, const uint8_t *dst, struct reply *r)
{
	int off, tlen;
	const uint8_t *th;

	memset(r, 0, sizeof(*r));
	if (w->family == AF_INET) {
		if (len < 20 || p[0] >> 4 != 4 || !tcp_proto(w, p[9]))
			return false;
		r->proto = p[9];
		r->ihl = (p[0] & 15) * 4;
		off = r->ihl;
		tlen = get16(p + 2) - off;
		r->tos = p[1];
		r->id = get16(p + 4);
		r->frag = get16(p + 6);
		r->ttl = p[8];
		if (memcmp(p + 12, src, 4) || memcmp(p + 16, dst, 4))
			return false;
	} else {
		if (len < 40 || p[0] >> 4 != 6 || !tcp_proto(w, p[6]))
			return false;
		r->proto = p[6];
		off = 40;
		tlen = get16(p + 4);
		r->tos = get32(p) >> 20;
		r->flow = get32(p) & 0xfffff;
		r->ttl = p[7];
		if (memcmp(p + 8, src, 16) || memcmp(p + 24, dst, 16))
			return false;
	}
	if (tlen < 20 || off + tlen > len)
		return false;
	th = p + off;
	r->sport = get16(th);
	r->dport = get16(th + 2);
	r->seq = get32(th + 4);
	r->ack = get32(th + 8);
	r->doff = (th[12] >> 4) * 4;
	r->flags = th[13];
	r->win = get16(th + 14);
	r->urg = get16(th + 18);
	if (r->doff < 20 || r->doff > tlen)
		return false;
	r->optlen = r->doff - 20;
	memcpy(r->opts, th + 20, r->optlen);
	r->datalen = tlen - r->doff;
	r->present = true;
	return true;
}

int capture(const struct wire *w, struct match *m, int n, int timeout_ms)
{
	struct timespec t0, t;
	long deadline = timeout_ms;
	int found = 0, i;

	for (i = 0; i < n; i++)
		m[i].out->present = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (found < n) {
		struct pollfd pfd = { .fd = w->cap, .events = POLLIN };
		struct sockaddr_ll sll;
		socklen_t sl = sizeof(sll);
		uint8_t buf[2048];
		struct reply r;
		long left;
		ssize_t len;

		clock_gettime(CLOCK_MONOTONIC, &t);
		left = deadline - ((t.tv_sec - t0.tv_sec) * 1000 +
				   (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (left <= 0 || poll(&pfd, 1, left) <= 0)
			break;
		len = recvfrom(w->cap, buf, sizeof(buf), MSG_DONTWAIT,
			       (struct sockaddr *)&sll, &sl);
		if (len <= 0)
			continue;
		for (i = 0; i < n; i++) {
			bool out = sll.sll_pkttype == PACKET_OUTGOING;

			if (m[i].out->present || out != m[i].outgoing)
				continue;
			if (!parse_packet(w, buf, len,
					  out ? w->addr_a : w->addr_b,
					  out ? w->addr_b : w->addr_a, &r))
				break;
			if ((m[i].sport && r.sport != m[i].sport) ||
			    (m[i].dport && r.dport != m[i].dport) ||
			    (r.flags & m[i].mask) != m[i].flags)
				continue;
			*m[i].out = r;
			found++;
			if (m[i].fence) {
				clock_gettime(CLOCK_MONOTONIC, &t);
				left = (t.tv_sec - t0.tv_sec) * 1000 +
				       (t.tv_nsec - t0.tv_nsec) / 1000000 +
				       FENCE_GRACE_MS;
				if (left < deadline)
					deadline = left;
			}
			break;
		}
	}
	return found;
}

void drain(const struct wire *w)
{
	uint8_t buf[2048];

	while (recv(w->cap, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

const char *flag_str(uint8_t f, char *buf)
{
	static const char names[][4] = { "FIN", "SYN", "RST", "PSH", "ACK",
					 "URG", "ECE", "CWR" };

	buf[0] = 0;
	for (int i = 0; i < 8; i++) {
		if (!(f & 1 << i))
			continue;
		if (buf[0])
			strcat(buf, "|");
		strcat(buf, names[i]);
	}
	if (!buf[0])
		strcpy(buf, "none");
	return buf;
}
