// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for static inline kernel functions and macros, and
 * the few pieces of C that are only macros around kernel internals (socket
 * wait loops, work items); see include/tcp_stealth_helpers.h.
 */
#include <crypto/blake2s.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv6.h>
#include <net/inet_ecn.h>
#include <net/ip.h>
#include <net/ip6_route.h>
#include <net/ipv6.h>
#include <net/l3mdev.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include <net/netfilter/nf_conntrack.h>
#include <net/route.h>
#include <net/tcp.h>
#include <net/xfrm.h>
#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <linux/tcp.h>
#include <net/netns/generic.h>
#include <net/tcp.h>
#include <linux/capability.h>
#include <linux/seq_file_net.h>
#include <linux/timekeeping.h>
#include <net/secure_seq.h>

#include <net/genetlink.h>
#include <net/inet6_hashtables.h>
#include <net/inet_hashtables.h>

#include "tcp_stealth_helpers.h"
#include "uapi/linux/tcp_stealth.h"

void *tcp_stealth_net_generic(const struct net *net, unsigned int id)
{
	return net_generic(net, id);
}

void *tcp_stealth_skb_header_pointer(const struct sk_buff *skb, int offset,
				     int len, void *buffer)
{
	return skb_header_pointer(skb, offset, len, buffer);
}

int tcp_stealth_skb_network_offset(const struct sk_buff *skb)
{
	return skb_network_offset(skb);
}

int tcp_stealth_copy_from_sockptr(void *dst, sockptr_t src, size_t size)
{
	return copy_from_sockptr(dst, src, size);
}

bool tcp_stealth_syn_options_busy(const struct sock *sk)
{
	const struct tcp_sock *tp = tcp_sk(sk);

#ifdef CONFIG_TCP_MD5SIG
	if (rcu_access_pointer(tp->md5sig_info))
		return true;
#endif
#ifdef CONFIG_TCP_AO
	if (rcu_access_pointer(tp->ao_info))
		return true;
#endif
	return tp->fastopen_connect || tp->fastopen_req;
}

/*
 * ISN mode, client side: whether the SYN with sequence number @seq that @sk
 * is transmitting is its first transmission. tcp_connect() advances snd_nxt
 * past the SYN only after tcp_transmit_skb() returns, so while the first SYN
 * passes the output hooks snd_nxt is still its sequence number; for every
 * retransmission it is one more.
 */
bool tcp_stealth_syn_is_first(const struct sock *sk, u32 seq)
{
	return READ_ONCE(tcp_sk(sk)->snd_nxt) == seq;
}

/*
 * tcp_stealth_syn_retransmits() - retransmission timeouts of a connecting
 * socket
 * @sk: a full TCP socket, typically in SYN-SENT
 *
 * Return: icsk_retransmits, the RTOs that fired since the last progress:
 * in SYN-SENT, how often the SYN was sent again (0 before the first resend).
 */
u8 tcp_stealth_syn_retransmits(const struct sock *sk)
{
	return READ_ONCE(inet_csk(sk)->icsk_retransmits);
}

/*
 * ISN mode, client side: move the send sequence space of @sk from ISN @old
 * to @isn while its first SYN passes the output hooks, i.e. inside
 * tcp_connect(), called by connect() with the socket owned by the caller.
 * At that point tcp_connect_init() has set snd_una, snd_sml, snd_up and
 * snd_nxt to the ISN, and tcp_connect() has queued the SYN (seq @old,
 * end_seq @old + 1) on the retransmit queue and advanced write_seq to
 * @old + 1; pushed_seq and the final snd_nxt are derived from write_seq
 * after the transmission. Returns 0, or -EBUSY if the socket is not exactly
 * in that state (not in process context with the socket owned, Fast Open
 * data in the SYN, TCP-MD5/AO keys, anything else queued): then nothing is
 * changed.
 */
int tcp_stealth_set_isn(struct sock *sk, u32 old, u32 isn)
{
	struct tcp_sock *tp = tcp_sk(sk);
	struct sk_buff *syn;

	if (!in_task() || !sock_owned_by_user_nocheck(sk) ||
	    sk->sk_state != TCP_SYN_SENT)
		return -EBUSY;
	if (tcp_stealth_syn_options_busy(sk) || tp->repair)
		return -EBUSY;
	if (tp->write_seq != old + 1 || tp->snd_una != old ||
	    tp->snd_nxt != old || tp->snd_sml != old || tp->snd_up != old ||
	    tp->packets_out != 1 || tcp_send_head(sk))
		return -EBUSY;
	syn = tcp_rtx_queue_head(sk);
	if (!syn || skb_rb_next(syn) || TCP_SKB_CB(syn)->seq != old ||
	    TCP_SKB_CB(syn)->end_seq != old + 1 ||
	    !(TCP_SKB_CB(syn)->tcp_flags & TCPHDR_SYN))
		return -EBUSY;

	TCP_SKB_CB(syn)->seq = isn;
	TCP_SKB_CB(syn)->end_seq = isn + 1;
	WRITE_ONCE(tp->write_seq, isn + 1);
	WRITE_ONCE(tp->snd_una, isn);
	tp->snd_sml = isn;
	tp->snd_up = isn;
	WRITE_ONCE(tp->snd_nxt, isn);
	return 0;
}

void tcp_stealth_blake2s_init(struct blake2s_state *state)
{
	blake2s_init(state, BLAKE2S_HASH_SIZE);
}

void tcp_stealth_blake2s_init_key(struct blake2s_state *state, const u8 *key,
				  size_t keylen)
{
	blake2s_init_key(state, BLAKE2S_HASH_SIZE, key, keylen);
}

unsigned int tcp_stealth_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

bool tcp_stealth_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

/*
 * Make room for @add bytes right after the first @hdr bytes of @skb's data
 * (the IP header and the fixed TCP header) by moving those bytes @add
 * bytes into the headroom; what follows them stays where it is. Only the
 * header area is written, so a clone of TCP's transmit queue (whose header
 * area is its own: __skb_header_release()) is not copied, as it would be to
 * grow at the tail. The data must start at the network header. Returns 0,
 * or -ENOMEM if the headroom could not be had.
 */
int tcp_stealth_skb_open_gap(struct sk_buff *skb, unsigned int hdr,
			     unsigned int add)
{
	if (skb_network_offset(skb) != 0 || hdr > skb_headlen(skb))
		return -EINVAL;
	if (skb_cow_head(skb, add))
		return -ENOMEM;
	__skb_push(skb, add);
	memmove(skb->data, skb->data + add, hdr);
	skb->network_header -= add;
	skb->transport_header -= add;
	if (skb_mac_header_was_set(skb))
		skb->mac_header -= add;
	if (skb->ip_summed == CHECKSUM_PARTIAL)
		skb->csum_start -= add;
	return 0;
}

/*
 * Closed-port resets. nf_send_reset() and nf_send_reset6() build the same
 * segment as TCP does for a port without a listener, but TCP's reset also
 * reflects the probe's TOS / traffic class (less ECN), echoes its IPv4
 * options and, for IPv6, carries the automatic flow label of the reply's
 * flow; and TCP answers only packets addressed to a local unicast address
 * (tcp_v4_send_reset(), tcp_v6_send_reset() without a socket). These build
 * the reset from the same nf_reject helpers and do all of that as TCP does,
 * so that a rejected probe cannot be told from one to a closed port.
 */

/**
 * tcp_stealth_pkt_for_host() - whether the link layer addressed @skb to
 * this host: TCP discards everything else (tcp_v4_rcv(), tcp_v6_rcv()),
 * even a unicast IP packet in a broadcast or multicast frame.
 * @skb: a received packet.
 */
bool tcp_stealth_pkt_for_host(const struct sk_buff *skb)
{
	return skb->pkt_type == PACKET_HOST;
}

/**
 * tcp_stealth_local_unicast_dst() - whether received @skb is addressed to
 * a local unicast address (not a broadcast, multicast or anycast one), the
 * condition under which TCP answers a closed port.
 * @skb: a received packet, routed (LOCAL_IN).
 * @ipv6: whether it is IPv6.
 */
bool tcp_stealth_local_unicast_dst(const struct sk_buff *skb, bool ipv6)
{
	if (!skb_dst(skb))
		return false;
	if (ipv6)
		return ipv6_unicast_destination(skb);
	return skb_rtable(skb)->rt_type == RTN_LOCAL;
}

/*
 * The IPv4 options of the reset to @skb, as TCP's reply path computes them
 * from the options IP parsed on input (ip_send_unicast_reply() with the
 * received options; __ip_options_echo() is not exported): record route and
 * timestamps copied, with room claimed for this hop where the sender left
 * some, a source route reversed (*@faddr: its first hop), CIPSO copied;
 * padded with EOL to a multiple of 4. Returns -EINVAL where TCP sends no
 * reset at all.
 */
static int tcp_stealth_echo_opts(struct net *net, const struct sk_buff *skb,
				 struct ip_options *d, __be32 *faddr)
{
	const struct ip_options *s = &IPCB(skb)->opt;
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

/*
 * Fill in what the echoed options @d of reset @nskb (IP header at its
 * network header, routed) claim for this hop, as ip_options_build() does
 * on output: our address in record route and timestamps, the time.
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
 * tcp_stealth_send_reset4() - answer IPv4 packet @oldskb as TCP answers it
 * for a closed port.
 * @net: the namespace it arrived in.
 * @oldskb: the packet, at LOCAL_IN.
 * @hook: the netfilter hook (for the checksum check).
 *
 * Return: whether a reset was sent (TCP sends none for a bad checksum, an
 * RST, a destination that is not a local unicast address or options it
 * cannot echo).
 */
bool tcp_stealth_send_reset4(struct net *net, struct sk_buff *oldskb, int hook)
{
	struct ip_options_data opts;
	const struct tcphdr *oth;
	struct tcphdr _oth;
	struct sk_buff *nskb;
	struct iphdr *niph;
	__be32 daddr, faddr = 0;

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
	if (tcp_stealth_echo_opts(net, oldskb, &opts.opt.opt, &faddr))
		return false;

	nskb = alloc_skb(LL_MAX_HEADER + sizeof(struct iphdr) +
			 opts.opt.opt.optlen + sizeof(struct tcphdr),
			 GFP_ATOMIC);
	if (!nskb)
		return false;
	skb_dst_set_noref(nskb, skb_dst(oldskb));
	nskb->mark = IP4_REPLY_MARK(net, oldskb->mark);
	skb_reserve(nskb, LL_MAX_HEADER);
	niph = nf_reject_iphdr_put(nskb, oldskb, IPPROTO_TCP,
				   ip4_dst_hoplimit(skb_dst(nskb)));
	niph->tos = ip_hdr(oldskb)->tos & ~INET_ECN_MASK;
	if (opts.opt.opt.optlen) {
		skb_put_data(nskb, opts.opt.opt.__data, opts.opt.opt.optlen);
		niph->ihl += opts.opt.opt.optlen / 4;
	}
	/* The checksum covers the final destination, the header names the
	 * source route's first hop, whose last slot gets the final one. */
	nf_reject_ip_tcphdr_put(nskb, oldskb, oth);
	if (opts.opt.opt.srr) {
		unsigned char *sr = (unsigned char *)niph + opts.opt.opt.srr;

		daddr = niph->daddr;
		memcpy(sr + sr[1] - 4, &daddr, 4);
		niph->daddr = faddr;
	}
	if (ip_route_me_harder(net, NULL, nskb, RTN_UNSPEC) ||
	    nskb->len > dst_mtu(skb_dst(nskb))) {
		kfree_skb(nskb);
		return false;
	}
	/* TCP's TTL is the route back's (ip route ... hoplimit N), not the
	 * input route's; ip_local_out() sums the header. */
	niph->ttl = ip4_dst_hoplimit(skb_dst(nskb));
	tcp_stealth_build_opts(nskb, &opts.opt.opt);
	nf_ct_attach(nskb, oldskb);
	ip_local_out(net, NULL, nskb);
	return true;
}

/**
 * tcp_stealth_send_reset6() - answer IPv6 packet @oldskb as TCP answers it
 * for a closed port.
 * @net: the namespace it arrived in.
 * @oldskb: the packet, at LOCAL_IN.
 * @hook: the netfilter hook (for the checksum check).
 * @thoff: where TCP reads the TCP header, from the network header, as the
 * input check found it by walking the extension headers the way IPv6 will
 * (nf_reject_ip6_tcphdr_get() would look for it again, from the fixed
 * header).
 *
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
	if (!oth || oth->rst || nf_ip6_checksum(oldskb, hook, thoff, IPPROTO_TCP))
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
	fl6.flowi6_oif = l3mdev_master_ifindex(skb_dst(oldskb)->dev);
	fl6.flowi6_mark = IP6_REPLY_MARK(net, oldskb->mark);
	dst = ip6_route_output(net, NULL, &fl6);
	if (dst->error) {
		dst_release(dst);
		return false;
	}
	dst = xfrm_lookup(net, dst, flowi6_to_flowi(&fl6), NULL, 0);
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
 * tcp_stealth_checksum() - check the TCP checksum of a received packet as
 * TCP will: 0 if it is right.
 * @skb: the packet, at LOCAL_IN (data at the network header).
 * @hook: the netfilter hook.
 * @dataoff: offset of the TCP header from @skb->data.
 * @ipv6: whether it is IPv6.
 *
 * nf_checksum() sums an IPv4 packet without a checksum from the device
 * (CHECKSUM_NONE) from its IP header, relying on that header to sum to
 * zero; but IP has already filled in record-route and timestamp options
 * for this hop without updating the header checksum. TCP sums from its own
 * header, and so does this.
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

/* --- Receive path of connections that must prove their first bytes ---- */

/* --- The ULP's context and proto, read locklessly by the hooks ---------- */

/**
 * tcp_stealth_ulp_publish() - give a socket the ULP's context and proto
 * @sk: a full TCP socket, locked by the caller
 * @data: the context, fully initialised
 * @prot: the ULP's proto
 *
 * The netfilter hooks read both without the socket lock, under RCU: first
 * the proto (tcp_stealth_sk_prot(): is the ULP there?), then the context
 * (tcp_stealth_ulp_data()). The context is published with
 * rcu_assign_pointer() and the proto after it with smp_store_release(), so
 * a reader that sees the proto also sees the context, and the context's
 * contents as they were initialised.
 */
void tcp_stealth_ulp_publish(struct sock *sk, void *data, struct proto *prot)
{
	rcu_assign_pointer(inet_csk(sk)->icsk_ulp_data, data);
	smp_store_release(&sk->sk_prot, prot);
}

/**
 * tcp_stealth_sk_prot() - a socket's proto, read locklessly
 * @sk: the socket
 *
 * Return: sk->sk_prot, with acquire ordering (pairs with
 * tcp_stealth_ulp_publish()).
 */
struct proto *tcp_stealth_sk_prot(const struct sock *sk)
{
	return smp_load_acquire(&sk->sk_prot);
}

/**
 * tcp_stealth_ulp_data() - a socket's ULP context
 * @sk: a full TCP socket whose proto the caller found to be the ULP's
 *
 * The caller is inside an RCU read-side section (the hooks), holds the
 * socket lock, or makes a socket call on the socket (whose file keeps it
 * from being destroyed); the context is freed after a grace period, once
 * the socket is destroyed.
 *
 * Return: icsk_ulp_data, read as rcu_dereference() does.
 */
void *tcp_stealth_ulp_data(const struct sock *sk)
{
	return rcu_dereference_check(inet_csk(sk)->icsk_ulp_data, 1);
}

void tcp_stealth_set_save_syn(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->save_syn)
		tp->save_syn = 1;
}

const u8 *tcp_stealth_req_syn(const struct request_sock *req, u32 *ip_len,
				u32 *len)
{
	const struct saved_syn *syn = req->saved_syn;

	if (!syn)
		return NULL;
	*ip_len = syn->network_hdrlen;
	*len = syn->network_hdrlen + syn->tcp_hdrlen;
	return syn->data + syn->mac_hdrlen;
}

u32 tcp_stealth_rcvq_copy(struct sock *sk, u32 off, u8 *buf, u32 len)
{
	u32 seq = tcp_sk(sk)->copied_seq + off, done = 0;
	struct sk_buff *skb;

	skb_queue_walk(&sk->sk_receive_queue, skb) {
		u32 start = TCP_SKB_CB(skb)->seq, skip, n;

		/* A Fast Open SYN's data starts one after its sequence number. */
		if (TCP_SKB_CB(skb)->tcp_flags & TCPHDR_SYN)
			start++;
		if (before(seq, start))
			break;
		skip = seq - start;
		if (skip >= skb->len)
			continue;
		n = min(skb->len - skip, len - done);
		if (skb_copy_bits(skb, skip, buf + done, n))
			break;
		done += n;
		seq += n;
		if (done == len)
			break;
	}
	return done;
}

bool tcp_stealth_rcv_shutdown(const struct sock *sk)
{
	return READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN;
}

/**
 * tcp_stealth_rcvq_empty() - whether nothing is queued to read
 * @sk: a TCP socket
 *
 * Return: true if @sk's receive queue is empty.
 */
bool tcp_stealth_rcvq_empty(const struct sock *sk)
{
	return skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/**
 * tcp_stealth_req_rcv_start() - where a new connection's bytes start
 * @req: the request the connection is made from
 *
 * Return: the sequence number of the first byte the connection made from
 * @req receives, its peer's ISN plus one (what tcp_create_openreq_child()
 * sets copied_seq to, after the ULP's clone callback ran).
 */
u32 tcp_stealth_req_rcv_start(const struct request_sock *req)
{
	return tcp_rsk(req)->rcv_isn + 1;
}

/**
 * tcp_stealth_rcv_urgent() - whether urgent data touches the held bytes
 * @sk: a held connection, locked
 * @start: the sequence number of its first byte
 * @n: how many bytes are held
 *
 * Without SO_OOBINLINE a read skips the urgent byte, and a second urgent
 * pointer makes TCP drop an unread urgent byte from the receive queue
 * (tcp_check_urg()); either would change the bytes the application reads
 * from those that were checked. TCP takes an urgent pointer only at or after
 * rcv_nxt, so once all @n bytes are in, no new one can point into them.
 *
 * Return: true if an urgent pointer points into the @n bytes from @start, or
 * bytes were taken from the receive queue (nobody may read them yet).
 */
bool tcp_stealth_rcv_urgent(const struct sock *sk, u32 start, u32 n)
{
	const struct tcp_sock *tp = tcp_sk(sk);

	return READ_ONCE(tp->copied_seq) != start ||
	       (READ_ONCE(tp->urg_data) && READ_ONCE(tp->urg_seq) - start < n);
}

/**
 * tcp_stealth_socket_set_ops() - give a socket other proto_ops
 * @sock: a socket that nobody else can use yet (being accepted)
 * @ops: its new ops
 *
 * Moves the module reference that sock_release() drops with the ops from
 * the old ops' owner to the new ones'.
 */
void tcp_stealth_socket_set_ops(struct socket *sock,
				const struct proto_ops *ops)
{
	const struct proto_ops *old = sock->ops;

	__module_get(ops->owner);
	WRITE_ONCE(sock->ops, ops);
	module_put(old->owner);
}

int tcp_stealth_wait_state(struct sock *sk, const u32 *state, u32 pending,
			   bool nonblock)
{
	DEFINE_WAIT_FUNC(wait, woken_wake_function);
	long timeo = sock_rcvtimeo(sk, nonblock);
	int err = 0;

	lock_sock(sk);
	add_wait_queue(sk_sleep(sk), &wait);
	while (READ_ONCE(*state) == pending) {
		if (sk->sk_err) {
			err = sock_error(sk);
			break;
		}
		if (sk->sk_state == TCP_CLOSE) {
			err = -ECONNRESET;
			break;
		}
		if (!timeo) {
			err = -EAGAIN;
			break;
		}
		if (signal_pending(current)) {
			err = sock_intr_errno(timeo);
			break;
		}
		sk_wait_event(sk, &timeo,
			      READ_ONCE(*state) != pending || sk->sk_err ||
			      sk->sk_state == TCP_CLOSE, &wait);
	}
	remove_wait_queue(sk_sleep(sk), &wait);
	release_sock(sk);
	return err;
}

static struct workqueue_struct *tcp_stealth_wq;
/* Deadlines allocated and not freed yet (see tcp_stealth_wq_exit()). */
static atomic_t tcp_stealth_deadlines = ATOMIC_INIT(0);

int tcp_stealth_wq_init(void)
{
	tcp_stealth_wq = alloc_workqueue("tcp_stealth", 0, 0);
	return tcp_stealth_wq ? 0 : -ENOMEM;
}

/**
 * tcp_stealth_wq_exit() - destroy the deadlines' workqueue at module unload
 *
 * Called once no socket holds a reference on the module and after an RCU
 * barrier, so every ULP context has been freed, and with it the owner's
 * reference on each deadline. No deadline is pending then: a socket's ULP
 * stops its deadline (tcp_stealth_deadline_stop(), which also keeps a
 * running one from queueing itself again) before it drops its module
 * reference. A deadline may still be running, holding the last references
 * on its socket and on itself; destroy_workqueue() waits for it. After
 * that no deadline may be left: one would be a timer that fires into freed
 * module memory, which the warning reports.
 */
void tcp_stealth_wq_exit(void)
{
	destroy_workqueue(tcp_stealth_wq);
	WARN_ON_ONCE(atomic_read(&tcp_stealth_deadlines));
}

/*
 * A deadline of one socket: delayed work on the module's workqueue that
 * calls fn(sk) with the socket locked as TCP's receive path locks it (bh
 * lock, not owned by a user), and resets the connection with the errno fn
 * returns, if any. It is refcounted apart from the socket's ULP context,
 * because the ULP context goes away when TCP destroys the socket, which may
 * happen while the work runs: the owner holds one reference, queued or
 * running work another (and one on the socket).
 *
 * @dead is set by tcp_stealth_deadline_stop() when TCP destroys the socket;
 * from then on the deadline is never queued again. It is written and read
 * under the socket's bh lock, or with the socket owned by the writer or
 * reader (who then cannot run at the same time as a holder of the bh lock
 * that checks ownership first, as the work does).
 *
 * Why not lock_sock() and tcp_abort(): the socket may still sit in its
 * listener's accept queue, and inet_csk_listen_stop() warns about a child
 * that a user owns.
 */
struct tcp_stealth_deadline {
	struct delayed_work work;
	struct sock *sk;
	int (*fn)(struct sock *sk);
	refcount_t ref;
	bool dead;
};

static void tcp_stealth_deadline_put(struct tcp_stealth_deadline *d)
{
	if (refcount_dec_and_test(&d->ref)) {
		kfree(d);
		atomic_dec(&tcp_stealth_deadlines);
	}
}

static void tcp_stealth_deadline_fn(struct work_struct *work)
{
	struct tcp_stealth_deadline *d =
		container_of(to_delayed_work(work), struct tcp_stealth_deadline,
			     work);
	struct sock *sk = d->sk;
	int err;

	local_bh_disable();
	bh_lock_sock(sk);
	if (READ_ONCE(d->dead)) {
		/* The socket is destroyed: nothing to check, no more work. */
	} else if (sock_owned_by_user(sk)) {
		/* In a socket call right now: look again shortly. */
		tcp_stealth_deadline_set(d, 1 + HZ / 50);
	} else {
		err = d->fn(sk);
		if (err && !sock_flag(sk, SOCK_DEAD) &&
		    sk->sk_state != TCP_CLOSE) {
			/* RST to the peer, queues purged; then the error. */
			tcp_disconnect(sk, 0);
			WRITE_ONCE(sk->sk_err, err);
			tcp_done(sk);
			sk_error_report(sk);
		}
	}
	bh_unlock_sock(sk);
	local_bh_enable();
	sock_put(sk);
	tcp_stealth_deadline_put(d);
}

/**
 * tcp_stealth_deadline_new() - a deadline for @sk, not armed yet
 * @sk: the socket (a child being cloned); the deadline keeps a pointer and
 *      takes a reference whenever it is queued
 * @fn: called when the deadline fires, socket locked; returns 0 or the
 *      errno to reset the connection with
 * @gfp: allocation flags
 *
 * Return: the deadline, with one reference for the caller, or NULL.
 */
struct tcp_stealth_deadline *
tcp_stealth_deadline_new(struct sock *sk, int (*fn)(struct sock *sk),
			 gfp_t gfp)
{
	struct tcp_stealth_deadline *d = kzalloc(sizeof(*d), gfp);

	if (!d)
		return NULL;
	INIT_DELAYED_WORK(&d->work, tcp_stealth_deadline_fn);
	d->sk = sk;
	d->fn = fn;
	refcount_set(&d->ref, 1);
	atomic_inc(&tcp_stealth_deadlines);
	return d;
}

/**
 * tcp_stealth_deadline_set() - (re)arm a deadline to fire in @delay jiffies
 * @d: the deadline
 * @delay: jiffies from now
 *
 * The socket must be locked (bh lock or owned) by the caller. Does nothing
 * once the deadline is stopped.
 */
void tcp_stealth_deadline_set(struct tcp_stealth_deadline *d,
			      unsigned long delay)
{
	if (READ_ONCE(d->dead))
		return;
	refcount_inc(&d->ref);
	sock_hold(d->sk);
	/* Already queued: it holds its references, drop the new ones. */
	if (mod_delayed_work(tcp_stealth_wq, &d->work, delay)) {
		__sock_put(d->sk);	/* the queued work holds another */
		refcount_dec(&d->ref);
	}
}

/**
 * tcp_stealth_deadline_cancel() - disarm a deadline, if it is pending
 * @d: the deadline
 *
 * A deadline that is running already is not waited for; it does not queue
 * itself again after tcp_stealth_deadline_stop() only.
 */
void tcp_stealth_deadline_cancel(struct tcp_stealth_deadline *d)
{
	if (cancel_delayed_work(&d->work)) {
		/* Not necessarily the last reference: sock_put(), not the
		 * __sock_put() that would leak the socket if it were. */
		sock_put(d->sk);
		tcp_stealth_deadline_put(d);
	}
}

/**
 * tcp_stealth_deadline_stop() - the socket is being destroyed: disarm the
 * deadline for good
 * @d: the deadline
 *
 * Called with the socket locked (bh lock), from the ULP's release. A
 * deadline running at the same time waits for the bh lock and then sees
 * @dead: it neither checks nor queues itself again.
 */
void tcp_stealth_deadline_stop(struct tcp_stealth_deadline *d)
{
	WRITE_ONCE(d->dead, true);
	tcp_stealth_deadline_cancel(d);
}

/**
 * tcp_stealth_deadline_free() - drop the owner's reference on a deadline
 * @d: the deadline, stopped already (nothing is pending)
 */
void tcp_stealth_deadline_free(struct tcp_stealth_deadline *d)
{
	WARN_ON_ONCE(!READ_ONCE(d->dead) && delayed_work_pending(&d->work));
	tcp_stealth_deadline_cancel(d);
	tcp_stealth_deadline_put(d);
}

unsigned long tcp_stealth_secs_to_jiffies(unsigned int secs)
{
	return secs * HZ;
}

bool tcp_stealth_file_nonblock(const struct socket *sock)
{
	return sock->file && (sock->file->f_flags & O_NONBLOCK);
}

/* --- Generic netlink: the administrator's per-port policy ---------------- */

static tcp_stealth_policy_req_t tcp_stealth_policy_req;

/* A first check of the types; the Rust side parses the whole request. */
static const struct nla_policy tcp_stealth_nl_policy[TCP_STEALTH_A_MAX + 1] = {
	[TCP_STEALTH_A_PORT] = NLA_POLICY_MIN(NLA_U16, 1),
	[TCP_STEALTH_A_SECRET] = { .type = NLA_BINARY,
				   .len = TCP_STEALTH_SECRET_MAX },
	[TCP_STEALTH_A_INTEGRITY_LEN] =
		NLA_POLICY_MAX(NLA_U32, TCP_STEALTH_POLICY_INTEGRITY_MAX),
	[TCP_STEALTH_A_FAMILY] = { .type = NLA_U16 },
};

/*
 * Both commands hand the whole attribute stream to the Rust side: only it
 * sees repeated TCP_STEALTH_A_SECRET attributes (info->attrs keeps the last).
 */
static int tcp_stealth_nl_request(struct sk_buff *skb, struct genl_info *info)
{
	return tcp_stealth_policy_req(genl_info_net(info), info->genlhdr->cmd,
				      genlmsg_data(info->genlhdr),
				      genlmsg_len(info->genlhdr), info->extack);
}

/**
 * tcp_stealth_genl_error() - say in the extended ACK why a request failed
 * @extack: the request's extended ACK, or NULL
 * @attr: the attribute at fault, inside the request, or NULL
 * @msg: a static string (netlink keeps the pointer)
 *
 * What NL_SET_ERR_MSG_ATTR() does, for a message that is not a literal.
 */
void tcp_stealth_genl_error(struct netlink_ext_ack *extack,
			    const struct nlattr *attr, const char *msg)
{
	if (!extack)
		return;
	extack->_msg = msg;
	extack->bad_attr = attr;
}

static const struct genl_small_ops tcp_stealth_nl_ops[] = {
	{
		.cmd = TCP_STEALTH_CMD_PROTECT,
		.doit = tcp_stealth_nl_request,
		.flags = GENL_UNS_ADMIN_PERM,
	},
	{
		.cmd = TCP_STEALTH_CMD_UNPROTECT,
		.doit = tcp_stealth_nl_request,
		.flags = GENL_UNS_ADMIN_PERM,
	},
};

static struct genl_family tcp_stealth_nl_family = {
	.name = TCP_STEALTH_GENL_NAME,
	.version = TCP_STEALTH_GENL_VERSION,
	.maxattr = TCP_STEALTH_A_MAX,
	.policy = tcp_stealth_nl_policy,
	.netnsok = true,
	.module = THIS_MODULE,
	.small_ops = tcp_stealth_nl_ops,
	.n_small_ops = ARRAY_SIZE(tcp_stealth_nl_ops),
	.resv_start_op = __TCP_STEALTH_CMD_MAX,
};

int tcp_stealth_genl_register(tcp_stealth_policy_req_t req)
{
	tcp_stealth_policy_req = req;
	return genl_register_family(&tcp_stealth_nl_family);
}

void tcp_stealth_genl_unregister(void)
{
	genl_unregister_family(&tcp_stealth_nl_family);
}

/**
 * tcp_stealth_syncookies_possible() - whether @sk may answer a SYN with a cookie
 * @sk: a listener, under RCU
 *
 * tcp_conn_request() answers with a SYN cookie when
 * net.ipv4.tcp_syncookies is 2, or when the SYN queue is full; the cookie
 * ACK is taken while a cookie was sent recently (tcp_synq_no_recent_overflow()).
 * This errs towards yes: from half a full queue on, a concurrent SYN may fill
 * it before TCP decides.
 */
bool tcp_stealth_syncookies_possible(const struct sock *sk)
{
	int mode = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_syncookies);

	if (!mode)
		return false;
	return mode == 2 || !tcp_synq_no_recent_overflow(sk) ||
	       2 * inet_csk_reqsk_queue_len(sk) >= READ_ONCE(sk->sk_max_ack_backlog);
}

/*
 * The test-only benchmark file (src/bench.rs). A file made by
 * proc_create_net_single_write() is opened with single_open_net(), so its
 * seq_file (file->private_data) holds the namespace, referenced while the
 * file is open.
 */
struct net *tcp_stealth_file_net(struct file *file)
{
	return seq_file_single_net(file->private_data);
}

/* Whether the caller may administer @net's networking. */
bool tcp_stealth_net_admin(const struct net *net)
{
	return ns_capable(net->user_ns, CAP_NET_ADMIN);
}

/* The kernel's own per-SYN SipHash: the ISN of a passive IPv4 connection. */
u32 tcp_stealth_secure_tcp_seq(__be32 saddr, __be32 daddr, __be16 sport,
			       __be16 dport)
{
	return secure_tcp_seq(saddr, daddr, sport, dport);
}

u64 tcp_stealth_ktime_ns(void)
{
	return ktime_get_ns();
}

void tcp_stealth_cond_resched(void)
{
	cond_resched();
}

void tcp_stealth_local_bh_disable(void)
{
	local_bh_disable();
}

void tcp_stealth_local_bh_enable(void)
{
	local_bh_enable();
}
