// SPDX-License-Identifier: GPL-2.0
/*
 * Closed-port resets: the RST that a rejected SYN (or any other segment the
 * module refuses) gets, built so that it cannot be told from the one TCP
 * sends for a port without a listener (tcp_v4_send_reset() and
 * tcp_v6_send_reset() called without a socket).
 *
 * Why not nf_send_reset() / nf_send_reset6() (net/ipv4/netfilter/
 * nf_reject_ipv4.c, net/ipv6/netfilter/nf_reject_ipv6.c), which the REJECT
 * targets use: their segment is the same as TCP's, but the IP header around
 * it is not, and a prober that compares a closed port's answer with ours
 * would see the difference. These functions build the reset from the same
 * nf_reject helpers (nf_reject_iphdr_put(), nf_reject_ip_tcphdr_put() and
 * their IPv6 twins) and differ from nf_send_reset()/nf_send_reset6() in:
 *
 * - which packets are answered: only those TCP answers, i.e. addressed to
 *   a local unicast address (RTN_LOCAL, ipv6_unicast_destination(); not an
 *   anycast one), with a TCP checksum that is right as TCP sums it
 *   (tcp_stealth_checksum() below), and for IPv6 at the TCP header the
 *   hook found by walking the extension headers as IPv6 will, not where
 *   nf_reject_ip6_tcphdr_get() finds it again;
 * - the IP header: the probe's TOS / traffic class is reflected (less
 *   ECN), IPv4 options are echoed as ip_send_unicast_reply() echoes them,
 *   the TTL is the reply route's, and an IPv6 reset carries TCP's flow
 *   label (the probe's with net.ipv6.flowlabel_reflect, else the automatic
 *   one); nf_reject_iphdr_put() sets TOS 0 and nf_send_reset6() no label;
 * - the route: TCP's flow key and lookup (ip_send_unicast_reply()'s,
 *   ip6_dst_lookup_flow()), not ip_route_me_harder()'s or one without an
 *   interface: with the uid of the namespace's root (uidrange rules), the
 *   IP protocol and ports, an L3 master (VRF) input device as the output
 *   one, and for IPv4 without FLOWI_FLAG_ANYSRC, so that a source address
 *   that is local for the probe only (by policy routing, as transparent
 *   proxies set it up, or a TOS-selected "local" route) gets no reset, as
 *   TCP sends none from it; an IPv6 reset to a
 *   link-local (strict) peer leaves by the interface the probe came in on,
 *   as TCP's does, not by the first link with a route to fe80::/64;
 * - what they leave out: the bridge path (the hook runs at LOCAL_IN, on
 *   routed packets only), filling in a missing route (LOCAL_IN packets
 *   have one) and nf_ct_set_closing() (TCP's own reset does not close the
 *   conntrack entry either);
 * - the result: whether a reset was sent, so that the caller can count it.
 *
 * This is C because it is made of the nf_reject helpers, routing and
 * struct ip_options, with inline accessors (ip_hdr(), IPCB(), skb_rtable(),
 * ip6_make_flowlabel()) that the 6.12 kernel crate does not wrap.
 */
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/xfrm.h>

#include "tcp_stealth_helpers.h"

/**
 * tcp_stealth_pkt_for_host() - whether the link layer addressed a packet to
 * this host
 * @skb: a received packet
 *
 * TCP discards everything else (tcp_v4_rcv(), tcp_v6_rcv()), even a unicast
 * IP packet in a broadcast or multicast frame, and so answers nothing else.
 *
 * Return: true if @skb->pkt_type is PACKET_HOST.
 */
bool tcp_stealth_pkt_for_host(const struct sk_buff *skb)
{
	return skb->pkt_type == PACKET_HOST;
}

/**
 * tcp_stealth_local_unicast_dst() - whether a packet is addressed to a local
 * unicast address
 * @skb: a received packet, routed (LOCAL_IN)
 * @ipv6: whether it is IPv6
 *
 * The condition under which TCP answers a closed port: not a broadcast,
 * multicast or anycast destination. nf_send_reset() only rules out
 * broadcast and multicast routes, nf_send_reset6() only non-unicast
 * address types (an anycast address is one).
 *
 * Return: true if @skb is for one of this host's unicast addresses.
 */
static bool tcp_stealth_local_unicast_dst(const struct sk_buff *skb, bool ipv6)
{
	if (!skb_dst(skb))
		return false;
	if (ipv6)
		return ipv6_unicast_destination(skb);
	return skb_rtable(skb)->rt_type == RTN_LOCAL;
}

/**
 * tcp_stealth_echo_opts() - the IPv4 options of the reset to a packet
 * @net: the namespace the packet arrived in
 * @skb: the packet, its IP header at its network header
 * @s: its options as IP parsed them (IPCB()->opt at LOCAL_IN; TCP keeps a
 * copy in TCP_SKB_CB()->header.h4)
 * @d: where the options of the reset go
 * @faddr: set to a reversed source route's first hop, if there is one
 *
 * Computed as TCP's reply path computes them (ip_send_unicast_reply() with
 * the received options; __ip_options_echo() is not exported): record route
 * and timestamps copied, with room claimed for this hop where the sender
 * left some, a source route reversed, CIPSO copied; padded with EOL to a
 * multiple of 4. nf_send_reset() sends no options at all.
 *
 * Return: 0, or -EINVAL where TCP sends no reset at all.
 */
static int tcp_stealth_echo_opts(struct net *net, const struct sk_buff *skb,
				 const struct ip_options *s,
				 struct ip_options *d, __be32 *faddr)
{
	const unsigned char *in = skb_network_header(skb);
	unsigned char *out = d->__data;
	int len, ptr;

	memset(d, 0, sizeof(*d));
	if (!s->optlen)
		return 0;
	if (s->rr) {
		len = in[s->rr + 1];
		ptr = in[s->rr + 2];
		memcpy(out + d->optlen, in + s->rr, len);
		d->rr = sizeof(struct iphdr) + d->optlen;
		if (s->rr_needaddr && ptr <= len) {
			/* A slot for our address: the next one. */
			if (ptr + 3 > len)
				return -EINVAL;
			out[d->optlen + 2] = ptr + 4;
			d->rr_needaddr = 1;
		}
		d->optlen += len;
	}
	if (s->ts) {
		unsigned char *ts = out + d->optlen;

		len = in[s->ts + 1];
		ptr = in[s->ts + 2];
		memcpy(ts, in + s->ts, len);
		d->ts = sizeof(struct iphdr) + d->optlen;
		if (ptr <= len) {
			if (s->ts_needaddr) {
				if (ptr + 3 > len)
					return -EINVAL;
				d->ts_needaddr = 1;
				ptr += 4;
			}
			if (s->ts_needtime) {
				if (ptr + 3 > len)
					return -EINVAL;
				if ((ts[3] & 0xf) != IPOPT_TS_PRESPEC) {
					d->ts_needtime = 1;
					ptr += 4;
				} else if (ptr + 7 <= len) {
					/* Prespecified: stamp only if the
					 * next address is not one of ours. */
					__be32 addr;

					memcpy(&addr, ts + ptr - 1, 4);
					if (inet_addr_type(net, addr) !=
					    RTN_UNICAST) {
						d->ts_needtime = 1;
						ptr += 8;
					}
				}
			}
			ts[2] = ptr;
		}
		d->optlen += len;
	}
	if (s->srr) {
		const unsigned char *sr = in + s->srr;
		unsigned char *o = out + d->optlen;
		int from, to = 0;

		len = sr[1];
		from = sr[2] > len ? len + 1 : sr[2];
		from -= 4;	/* the last address passed */
		if (from > 3) {
			memcpy(faddr, sr + from - 1, 4);
			/* The addresses passed, last first. */
			for (from -= 4, to = 4; from > 3; from -= 4, to += 4)
				memcpy(o + to - 1, sr + from - 1, 4);
			/* Not back through the sender itself (RFC 1812). */
			if (!memcmp(&ip_hdr(skb)->saddr, sr + from + 3, 4))
				to -= 4;
		}
		if (to > 3) {
			o[0] = sr[0];
			o[1] = to + 3;
			o[2] = 4;
			d->srr = sizeof(struct iphdr) + d->optlen;
			d->is_strictroute = s->is_strictroute;
			d->optlen += to + 3;
		}
	}
	if (s->cipso) {
		len = in[s->cipso + 1];
		memcpy(out + d->optlen, in + s->cipso, len);
		d->cipso = sizeof(struct iphdr) + d->optlen;
		d->optlen += len;
	}
	while (d->optlen & 3)
		out[d->optlen++] = IPOPT_END;
	return 0;
}

/**
 * tcp_stealth_build_opts() - fill in this hop's part of the echoed options
 * @nskb: the reset, IP header at its network header, routed
 * @d: its options, as tcp_stealth_echo_opts() made them
 *
 * What ip_options_build() does on output: our address in record route and
 * timestamps, the time where a timestamp is asked for.
 */
static void tcp_stealth_build_opts(struct sk_buff *nskb,
				   const struct ip_options *d)
{
	unsigned char *iph = skb_network_header(nskb);
	__be32 src = ip_hdr(nskb)->saddr, now;

	if (d->rr_needaddr)
		memcpy(iph + d->rr + iph[d->rr + 2] - 5, &src, 4);
	if (d->ts_needaddr)
		memcpy(iph + d->ts + iph[d->ts + 2] - 9, &src, 4);
	if (d->ts_needtime) {
		now = inet_current_timestamp();
		memcpy(iph + d->ts + iph[d->ts + 2] - 5, &now, 4);
	}
}

/**
 * tcp_stealth_route4() - route the reset of an IPv4 segment as TCP routes it
 * @net: the namespace it arrived in
 * @oldskb: the segment, IP header at its network header, routed
 * @oth: its TCP header
 * @protocol: the protocol field of its IP header
 * @daddr: where the reset goes: the segment's source, or the first hop of
 * the source route it echoes
 *
 * The flow key of ip_send_unicast_reply() for tcp_v4_send_reset() without a
 * socket, looked up the same way (ip_route_output_flow(), which also does
 * the IPsec lookup): no interface unless the segment came in through an L3
 * master (VRF) device, the reflected mark (net.ipv4.fwmark_reflect), the
 * DSCP of the segment, the segment's IP protocol and ports, the uid of the
 * namespace's root, and no FLOWI_FLAG_ANYSRC. Without that flag the source
 * must be an interface's address or local by the local table alone
 * (__ip_dev_find()); one that only policy routing (ip rule ... lookup T, a
 * "local" route in T, as transparent proxies use) or a TOS-selected "local"
 * route made local for the segment has no route, and TCP sends no reset
 * from it. ip_route_me_harder() would set the flag and send one.
 *
 * Context: BHs off, under RCU.
 * Return: the route (the caller puts it), or an ERR_PTR() where TCP's
 * reset has none.
 */
static struct rtable *tcp_stealth_route4(struct net *net,
					 struct sk_buff *oldskb,
					 const struct tcphdr *oth, u8 protocol,
					 __be32 daddr)
{
	const struct iphdr *oiph = ip_hdr(oldskb);
	struct flowi4 fl4;
	int oif = 0;

	if (netif_index_is_l3_master(net, oldskb->skb_iif))
		oif = oldskb->skb_iif;
	flowi4_init_output(&fl4, oif, IP4_REPLY_MARK(net, oldskb->mark),
			   oiph->tos & INET_DSCP_MASK, RT_SCOPE_UNIVERSE,
			   protocol, 0, daddr, oiph->daddr, oth->source,
			   oth->dest, sock_net_uid(net, NULL));
	security_skb_classify_flow(oldskb, flowi4_to_flowi_common(&fl4));
	return ip_route_output_flow(net, &fl4, NULL);
}

/**
 * tcp_stealth_reset4() - send the reset of an IPv4 segment
 * @net: the namespace it arrived in
 * @oldskb: the segment, IP header at its network header, routed
 * @oth: its TCP header
 * @otcplen: its length from the TCP header on
 * @opt: its IP options as IP parsed them
 * @protocol: the protocol field of the reset's IP header
 *
 * The segment is one TCP answers (checked by the caller). The TCP header is
 * nf_reject_ip_tcphdr_put()'s, with the length given: that helper takes it
 * from the skb, which is right at LOCAL_IN only. TCP's reset names the
 * protocol of the segment's own IP header (ip_send_unicast_reply()): UDP
 * for a segment that Foo-over-UDP carried, whose IP header FOU leaves as it
 * was; the TCP checksum covers IPPROTO_TCP all the same. The route is
 * TCP's (tcp_stealth_route4()).
 *
 * Context: BHs off, under RCU.
 * Return: whether a reset was sent (none where TCP's could not be: options
 * it cannot echo, no route back, or no memory).
 */
static bool tcp_stealth_reset4(struct net *net, struct sk_buff *oldskb,
			       const struct tcphdr *oth, unsigned int otcplen,
			       const struct ip_options *opt, u8 protocol)
{
	__be32 daddr = ip_hdr(oldskb)->saddr, faddr = 0;
	struct ip_options_data opts;
	struct sk_buff *nskb;
	struct tcphdr *tcph;
	struct iphdr *niph;
	struct rtable *rt;

	if (tcp_stealth_echo_opts(net, oldskb, opt, &opts.opt.opt, &faddr))
		return false;
	rt = tcp_stealth_route4(net, oldskb, oth, protocol,
				opts.opt.opt.srr ? faddr : daddr);
	if (IS_ERR(rt))
		return false;

	nskb = alloc_skb(LL_MAX_HEADER + sizeof(struct iphdr) +
			 opts.opt.opt.optlen + sizeof(struct tcphdr),
			 GFP_ATOMIC);
	if (!nskb) {
		ip_rt_put(rt);
		return false;
	}
	skb_dst_set(nskb, &rt->dst);
	nskb->mark = IP4_REPLY_MARK(net, oldskb->mark);
	skb_reserve(nskb, LL_MAX_HEADER);
	/* TCP's TTL is the route back's (ip route ... hoplimit N). */
	niph = nf_reject_iphdr_put(nskb, oldskb, protocol,
				   ip4_dst_hoplimit(&rt->dst));
	niph->tos = ip_hdr(oldskb)->tos & ~INET_ECN_MASK;
	if (opts.opt.opt.optlen) {
		skb_put_data(nskb, opts.opt.opt.__data, opts.opt.opt.optlen);
		niph->ihl += opts.opt.opt.optlen / 4;
	}
	/* The checksum covers the final destination, the header names the
	 * source route's first hop, whose last slot gets the final one. */
	skb_reset_transport_header(nskb);
	tcph = skb_put_zero(nskb, sizeof(struct tcphdr));
	tcph->source = oth->dest;
	tcph->dest = oth->source;
	tcph->doff = sizeof(struct tcphdr) / 4;
	if (oth->ack) {
		tcph->seq = oth->ack_seq;
	} else {
		tcph->ack_seq = htonl(ntohl(oth->seq) + oth->syn + oth->fin +
				      otcplen - (oth->doff << 2));
		tcph->ack = 1;
	}
	tcph->rst = 1;
	if (protocol == IPPROTO_TCP) {
		tcph->check = ~tcp_v4_check(sizeof(struct tcphdr), niph->saddr,
					    niph->daddr, 0);
		nskb->ip_summed = CHECKSUM_PARTIAL;
		nskb->csum_start = (unsigned char *)tcph - nskb->head;
		nskb->csum_offset = offsetof(struct tcphdr, check);
	} else {
		/* Summed here, as TCP sums its own reply: a device that
		 * offloads the sum by the IP header's protocol would write a
		 * UDP one into the sequence number. */
		tcph->check = tcp_v4_check(sizeof(struct tcphdr), niph->saddr,
					   niph->daddr,
					   csum_partial(tcph, sizeof(*tcph), 0));
		nskb->ip_summed = CHECKSUM_NONE;
	}
	if (opts.opt.opt.srr) {
		unsigned char *sr = (unsigned char *)niph + opts.opt.opt.srr;

		memcpy(sr + sr[1] - 4, &daddr, 4);
		niph->daddr = faddr;
	}
	/* TCP's DF reply does not leave in fragments: none if it must. */
	if (nskb->len > dst_mtu(&rt->dst)) {
		kfree_skb(nskb);
		return false;
	}
	/* ip_local_out() sums the header. */
	tcp_stealth_build_opts(nskb, &opts.opt.opt);
	nf_ct_attach(nskb, oldskb);
	ip_local_out(net, NULL, nskb);
	return true;
}

/**
 * tcp_stealth_send_reset4() - answer an IPv4 packet as TCP answers it for a
 * closed port
 * @net: the namespace it arrived in
 * @oldskb: the packet, at LOCAL_IN
 * @hook: the netfilter hook (for the checksum check)
 *
 * Context: softirq (the netfilter hook), under RCU.
 * Return: whether a reset was sent (TCP sends none for a bad checksum, an
 * RST, a destination that is not a local unicast address or options it
 * cannot echo).
 */
bool tcp_stealth_send_reset4(struct net *net, struct sk_buff *oldskb, int hook)
{
	const struct tcphdr *oth;
	struct tcphdr _oth;

	if (!tcp_stealth_local_unicast_dst(oldskb, false))
		return false;
	/* As nf_reject_ip_tcphdr_get(), with TCP's view of the checksum. */
	if (ip_hdr(oldskb)->frag_off & htons(IP_OFFSET) ||
	    ip_hdr(oldskb)->protocol != IPPROTO_TCP)
		return false;
	oth = skb_header_pointer(oldskb, ip_hdrlen(oldskb), sizeof(_oth), &_oth);
	if (!oth || oth->rst ||
	    tcp_stealth_checksum(oldskb, hook, ip_hdrlen(oldskb), false))
		return false;
	return tcp_stealth_reset4(net, oldskb, oth,
				  oldskb->len - ip_hdrlen(oldskb),
				  &IPCB(oldskb)->opt, IPPROTO_TCP);
}

/**
 * tcp_stealth_send_reset6() - answer an IPv6 packet as TCP answers it for a
 * closed port
 * @net: the namespace it arrived in
 * @oldskb: the packet, at LOCAL_IN
 * @hook: the netfilter hook (for the checksum check), or -1 for a packet
 * in TCP's hands, whose checksum TCP verified
 * @thoff: where TCP reads the TCP header, from the network header, as the
 * input check found it by walking the extension headers the way IPv6 will
 * (nf_reject_ip6_tcphdr_get() would look for it again, from the fixed
 * header).
 *
 * Context: softirq (the netfilter hook), or BHs off in TCP; under RCU.
 * Return: whether a reset was sent (none for a bad checksum, an RST, or a
 * destination that is not a local unicast address, e.g. an anycast one).
 */
bool tcp_stealth_send_reset6(struct net *net, struct sk_buff *oldskb, int hook,
			     unsigned int thoff)
{
	const struct ipv6hdr *oip6h = ipv6_hdr(oldskb);
	const struct tcphdr *oth;
	struct tcphdr _oth;
	unsigned int otcplen;
	struct dst_entry *dst;
	struct sk_buff *nskb;
	struct ipv6hdr *ip6h;
	struct flowi6 fl6;
	__be32 label = 0;

	if (!(ipv6_addr_type(&oip6h->saddr) & IPV6_ADDR_UNICAST) ||
	    !tcp_stealth_local_unicast_dst(oldskb, true))
		return false;
	thoff += skb_network_offset(oldskb);
	if (thoff > oldskb->len ||
	    oldskb->len - thoff < sizeof(struct tcphdr))
		return false;
	otcplen = oldskb->len - thoff;
	oth = skb_header_pointer(oldskb, thoff, sizeof(_oth), &_oth);
	if (!oth || oth->rst ||
	    (hook >= 0 && nf_ip6_checksum(oldskb, hook, thoff, IPPROTO_TCP)))
		return false;

	/* As tcp_v6_send_reset() without a socket: the probe's own flow
	 * label with net.ipv6.flowlabel_reflect bit 2, else a hash. */
	if (READ_ONCE(net->ipv6.sysctl.flowlabel_reflect) &
	    FLOWLABEL_REFLECT_TCP_RESET)
		label = ip6_flowlabel(oip6h);

	memset(&fl6, 0, sizeof(fl6));
	fl6.flowlabel = label;
	fl6.flowi6_proto = IPPROTO_TCP;
	fl6.saddr = oip6h->daddr;
	fl6.daddr = oip6h->saddr;
	fl6.fl6_sport = oth->dest;
	fl6.fl6_dport = oth->source;
	/*
	 * As tcp_v6_send_response() without a socket: a link-local (or other
	 * strict) peer is answered through the interface its packet came in
	 * on. Routed with no interface, the reset would take the first link
	 * with a route to fe80::/64, which on a host with several links need
	 * not be the peer's: it would get no answer where a closed port's
	 * comes back. At LOCAL_IN that interface is in IP6CB(); TCP has moved
	 * the control block to TCP_SKB_CB() by the time it calls a listener.
	 * Any other peer is routed with no interface, unless the packet came
	 * in through an L3 master (VRF) device.
	 */
	if (rt6_need_strict(&fl6.daddr))
		fl6.flowi6_oif = hook >= 0 ? IP6CB(oldskb)->iif :
			tcp_v6_iif(oldskb);
	else if (netif_index_is_l3_master(net, oldskb->skb_iif))
		fl6.flowi6_oif = oldskb->skb_iif;
	fl6.flowi6_mark = IP6_REPLY_MARK(net, oldskb->mark);
	/* The uid of TCP's control socket: uidrange rules apply to it. */
	fl6.flowi6_uid = sock_net_uid(net, NULL);
	security_skb_classify_flow(oldskb, flowi6_to_flowi_common(&fl6));
	/*
	 * TCP's lookup, route and IPsec (its control socket, which it passes,
	 * has no binding and no policy of its own).
	 */
	dst = ip6_dst_lookup_flow(net, NULL, &fl6, NULL);
	if (IS_ERR(dst))
		return false;

	nskb = alloc_skb(LL_MAX_HEADER + sizeof(struct ipv6hdr) +
			 sizeof(struct tcphdr) + dst->trailer_len, GFP_ATOMIC);
	if (!nskb) {
		dst_release(dst);
		return false;
	}
	skb_dst_set(nskb, dst);
	nskb->mark = fl6.flowi6_mark;
	skb_reserve(nskb, LL_MAX_HEADER);
	ip6h = nf_reject_ip6hdr_put(nskb, oldskb, IPPROTO_TCP,
				    ip6_dst_hoplimit(dst));
	ip6_flow_hdr(ip6h, ipv6_get_dsfield(oip6h) & ~INET_ECN_MASK,
		     ip6_make_flowlabel(net, nskb, label,
					ip6_default_np_autolabel(net), &fl6));
	nf_reject_ip6_tcphdr_put(nskb, oldskb, oth, otcplen);
	nf_ct_attach(nskb, oldskb);
	ip6_local_out(net, NULL, nskb);
	return true;
}

/**
 * tcp_stealth_send_reset_tcp() - answer a segment in TCP's hands as TCP
 * answers it for a closed port
 * @net: the namespace it arrived in
 * @skb: the segment, as TCP passes it to a listener's conn_request(): its
 * TCP header at the transport header (past a Foo-over-UDP or GUE header,
 * say), its checksum verified, and TCP's control block filled in (which
 * keeps IP's in TCP_SKB_CB()->header)
 *
 * The same reset as tcp_stealth_send_reset4() and tcp_stealth_send_reset6()
 * send for the packet at LOCAL_IN, and as tcp_v4_send_reset() and
 * tcp_v6_send_reset() without a socket send for it here (for IPv4, with
 * the protocol of the segment's IP header: see tcp_stealth_reset4()).
 *
 * Context: BHs off, under RCU (conn_request()).
 * Return: whether a reset was sent.
 */
bool tcp_stealth_send_reset_tcp(struct net *net, struct sk_buff *skb)
{
	int thoff = skb_transport_header(skb) - skb_network_header(skb);
	const struct tcphdr *th = tcp_hdr(skb);

	if (thoff < 0 || th->rst)
		return false;
	if (skb->protocol == htons(ETH_P_IPV6))
		return tcp_stealth_send_reset6(net, skb, -1, thoff);
	if (!tcp_stealth_local_unicast_dst(skb, false))
		return false;
	return tcp_stealth_reset4(net, skb, th, skb->len,
				  &TCP_SKB_CB(skb)->header.h4.opt,
				  ip_hdr(skb)->protocol);
}

/**
 * tcp_stealth_checksum() - check the TCP checksum of a received packet as
 * TCP will
 * @skb: the packet, at LOCAL_IN (data at the network header)
 * @hook: the netfilter hook
 * @dataoff: offset of the TCP header from @skb->data
 * @ipv6: whether it is IPv6
 *
 * nf_checksum() sums an IPv4 packet without a checksum from the device
 * (CHECKSUM_NONE) from its IP header, relying on that header to sum to
 * zero; but IP has already filled in record-route and timestamp options
 * for this hop without updating the header checksum. TCP sums from its own
 * header, and so does this.
 *
 * Return: 0 if the checksum is right (or was verified already).
 */
__sum16 tcp_stealth_checksum(struct sk_buff *skb, unsigned int hook,
			     unsigned int dataoff, bool ipv6)
{
	if (!ipv6 && skb->ip_summed == CHECKSUM_NONE && dataoff <= skb->len) {
		unsigned int len = skb->len - dataoff;

		return csum_tcpudp_magic(ip_hdr(skb)->saddr, ip_hdr(skb)->daddr,
					 len, IPPROTO_TCP,
					 skb_checksum(skb, dataoff, len, 0));
	}
	return nf_checksum(skb, hook, dataoff, IPPROTO_TCP,
			   ipv6 ? NFPROTO_IPV6 : NFPROTO_IPV4);
}

/**
 * tcp_stealth_xfrm_policy_ok() - whether the IPsec policy lets a packet reach
 * TCP
 * @sk: the listener TCP will give the packet to, or NULL for none
 * @skb: a received TCP packet, at LOCAL_IN
 * @ipv6: whether it is IPv6
 *
 * TCP checks the inbound policy, with the socket it found (a listener's own
 * policy may allow what the namespace's refuses) or with none, before it
 * answers a segment (tcp_v4_rcv(), tcp_v6_rcv()), and drops what the policy
 * refuses without an answer; so does the module before it judges a segment
 * at a protected listener or answers one as a closed port. A refusal is
 * counted (LINUX_MIB_XFRMIN*) as TCP's own check would count it.
 *
 * Context: softirq (the netfilter hook), under RCU, which keeps a listener.
 * Return: true if the packet may be answered (always without CONFIG_XFRM).
 */
bool tcp_stealth_xfrm_policy_ok(struct sock *sk, struct sk_buff *skb, bool ipv6)
{
	if (ipv6)
		return xfrm6_policy_check(sk, XFRM_POLICY_IN, skb);
	return xfrm4_policy_check(sk, XFRM_POLICY_IN, skb);
}
