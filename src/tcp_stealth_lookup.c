// SPDX-License-Identifier: GPL-2.0
/*
 * Which socket a TCP segment seen at NF_INET_LOCAL_IN will reach, decided the
 * way tcp_v4_rcv()/tcp_v6_rcv() decide it, and the IPv6 reassembly that makes
 * the segment whole before the decision.
 *
 * The hook must judge a segment by the listener TCP will hand it to, not by
 * one it finds by other means: a socket assigned to the skb beforehand
 * (TPROXY, bpf_sk_assign(), early demux) wins over the hash tables, and in a
 * SO_REUSEPORT group the member is chosen by the same hash and the same BPF
 * program with the same view of the packet. TCP makes that choice with
 * skb->data at the TCP header, after ip_local_deliver_finish() (or the IPv6
 * extension header handlers) pulled the network headers; at LOCAL_IN
 * skb->data is still at the network header. So the lookup pulls the headers
 * for its duration and pushes them back, and a reuseport program sees exactly
 * the bytes it sees for TCP.
 *
 * It also says where IPv6 will take up the header chain after the hook, so
 * that a segment IPv6 is going to drop in an extension header is left to it
 * (a closed port never answers those), and whether the listener may answer
 * the SYN with a SYN cookie (the knock of a cookie's ACK is remembered only
 * then).
 *
 * This is C because TCP's own lookup is inline functions over the socket
 * hash tables (__inet_lookup_skb() and its parts, inet_steal_sock(),
 * inet_csk_reqsk_queue_len()), which the 6.12 kernel crate does not wrap.
 */
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/inet6_hashtables.h>
#include <net/inet_hashtables.h>
#include <net/ip.h>
#include <net/ipv6.h>
#include <net/addrconf.h>
#include <net/protocol.h>
#include <net/request_sock.h>
#include <net/tcp.h>
#if IS_ENABLED(CONFIG_IPV6)
#include <net/netfilter/ipv6/nf_defrag_ipv6.h>
#endif

#include "tcp_stealth_helpers.h"

/*
 * Without IPv6 reassembly before LOCAL_IN a SYN split across fragments would
 * reach TCP unseen by the hook (IPv6 reassembles in the fragment header
 * handler, after LOCAL_IN). Every kernel with IPv6 and netfilter
 * conntrack or socket matching has it; the module refuses to build without.
 */
#if IS_ENABLED(CONFIG_IPV6) && !IS_ENABLED(CONFIG_NF_DEFRAG_IPV6)
#error "tcp_stealth needs CONFIG_NF_DEFRAG_IPV6 (selected by NF_CONNTRACK or NF_SOCKET_IPV6)"
#endif

/**
 * tcp_stealth_assigned() - the socket TCP takes from a packet's skb->sk
 * @net: the namespace the packet arrived in
 * @skb: the packet, its data at the TCP header
 * @doff: the TCP header's length
 * @th: the TCP header
 * @ipv6: whether it is IPv6
 *
 * What inet_steal_sock()/inet6_steal_sock() make of a socket assigned to the
 * skb, without taking it from the skb: a prefetched listener in a reuseport
 * group is replaced by the group member the hash (or the group's BPF program)
 * selects.
 *
 * Context: under RCU.
 * Return: the socket, or NULL where TCP would find no socket.
 */
static struct sock *tcp_stealth_assigned(struct net *net, struct sk_buff *skb,
					 int doff, const struct tcphdr *th,
					 bool ipv6)
{
	struct sock *sk = skb->sk, *reuse;

	if (!skb_sk_is_prefetched(skb) || !sk_fullsock(sk) ||
	    sk->sk_protocol != IPPROTO_TCP || sk->sk_state != TCP_LISTEN)
		return sk;
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6)
		reuse = inet6_lookup_reuseport(net, sk, skb, doff,
					       &ipv6_hdr(skb)->saddr, th->source,
					       &ipv6_hdr(skb)->daddr,
					       ntohs(th->dest), inet6_ehashfn);
	else
#endif
		reuse = inet_lookup_reuseport(net, sk, skb, doff,
					      ip_hdr(skb)->saddr, th->source,
					      ip_hdr(skb)->daddr,
					      ntohs(th->dest), inet_ehashfn);
	if (IS_ERR(reuse))
		return NULL;
	return reuse ?: sk;
}

/**
 * tcp_stealth_assign() - give a socket from the established hash to a segment
 * @skb: the segment, which has no socket yet
 * @sk: what the established-hash lookup returned (with a reference), or NULL
 *
 * As early demux does (tcp_v4_early_demux(), tcp_v6_early_demux()): @skb
 * takes over the reference, TCP takes @sk from @skb (skb_steal_sock())
 * instead of looking it up again, and freeing @skb first drops it
 * (sock_edemux()).
 */
static void tcp_stealth_assign(struct sk_buff *skb, struct sock *sk)
{
	if (!sk)
		return;
	skb->sk = sk;
	skb->destructor = sock_edemux;
}

/**
 * tcp_stealth_established() - the established hash's socket for a 4-tuple
 * @net: the namespace
 * @ipv6: the addresses are IPv6
 * @saddr: the peer's address (IPv4: 4 bytes, IPv6: a struct in6_addr)
 * @sport: the peer's port
 * @daddr: the local address, as @saddr
 * @hnum: the local port, in host order
 * @dif: the input interface
 * @sdif: the L3 master's slave interface
 *
 * __inet_lookup_established() or __inet6_lookup_established(), as TCP
 * calls it for a segment. Context: under RCU.
 *
 * Return: a full, request or timewait socket with a reference, or NULL.
 */
static struct sock *tcp_stealth_established(struct net *net, bool ipv6,
					    const void *saddr, __be16 sport,
					    const void *daddr, u16 hnum,
					    int dif, int sdif)
{
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	__be32 s, d;

#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6)
		return __inet6_lookup_established(net, hinfo, saddr, sport,
						  daddr, hnum, dif, sdif);
#endif
	memcpy(&s, saddr, 4);
	memcpy(&d, daddr, 4);
	return __inet_lookup_established(net, hinfo, s, sport, d, hnum, dif,
					 sdif);
}

/**
 * tcp_stealth_lookup() - the socket a segment at LOCAL_IN will be given to
 * @net: the namespace of the hook
 * @skb: the segment; skb->data at its network header, under RCU
 * @thoff: offset of the TCP header from skb->data
 * @ipv6: the segment is IPv6
 * @listener_only: skip an assigned socket and the established hash, as TCP
 *	does for a SYN that finds a TIME_WAIT socket (TCP_TW_SYN)
 * @refcounted: set to true if the caller owns a reference on the result,
 *	to drop with sock_gen_put() (today never: see below)
 *
 * Mirrors __inet_lookup_skb()/__inet6_lookup_skb(): an assigned socket
 * first, then the established hash (full, request and timewait sockets),
 * then the listeners with reuseport selection. Listeners come without a
 * reference (they are freed after an RCU grace period), as do sockets
 * assigned to the skb, which the skb holds for the whole hook.
 *
 * A socket found in the established hash is assigned to the skb with the
 * reference the lookup took, as early demux does (tcp_v4_early_demux(),
 * tcp_v6_early_demux(): skb->sk, sock_edemux()), and comes without a
 * reference too: TCP takes it from the skb (skb_steal_sock()) instead of
 * looking it up a second time, and freeing the skb drops it. Early demux
 * does not run where the skb has a route already (loopback), nor with
 * net.ipv4.ip_early_demux=0; without this, every segment of every
 * connection in a namespace with protected listeners would pay two lookups
 * and two atomic reference counts.
 *
 * The headers up to the end of the TCP header are made linear (TCP does the
 * same right after). Context: softirq, or process context with BHs enabled
 * (NFQUEUE reinjection); rcu_read_lock() held.
 *
 * Return: the socket, or NULL if TCP would find none (or the TCP header is
 * shorter than the packet says, which TCP drops).
 */
struct sock *tcp_stealth_lookup(struct net *net, struct sk_buff *skb,
				unsigned int thoff, bool ipv6,
				bool listener_only, bool *refcounted)
{
	struct inet_hashinfo *hinfo = net->ipv4.tcp_death_row.hashinfo;
	const struct tcphdr *th;
	struct sock *sk;
	int doff;

	*refcounted = false;
	if (!pskb_may_pull(skb, thoff + sizeof(*th)))
		return NULL;
	th = (const struct tcphdr *)(skb->data + thoff);
	doff = __tcp_hdrlen(th);
	if (doff < sizeof(*th) || !pskb_may_pull(skb, thoff + doff))
		return NULL;
	th = (const struct tcphdr *)(skb->data + thoff);

	__skb_pull(skb, thoff);
	if (!listener_only && skb->sk) {
		sk = tcp_stealth_assigned(net, skb, doff, th, ipv6);
#if IS_ENABLED(CONFIG_IPV6)
	} else if (ipv6) {
		const struct ipv6hdr *ip6h = ipv6_hdr(skb);

		sk = NULL;
		if (!listener_only) {
			sk = tcp_stealth_established(net, true, &ip6h->saddr,
						     th->source, &ip6h->daddr,
						     ntohs(th->dest),
						     inet6_iif(skb),
						     inet6_sdif(skb));
			tcp_stealth_assign(skb, sk);
		}
		if (!sk)
			sk = inet6_lookup_listener(net, hinfo, skb, doff,
						   &ip6h->saddr, th->source,
						   &ip6h->daddr,
						   ntohs(th->dest),
						   inet6_iif(skb),
						   inet6_sdif(skb));
#endif
	} else {
		const struct iphdr *iph = ip_hdr(skb);

		sk = NULL;
		if (!listener_only) {
			sk = tcp_stealth_established(net, false, &iph->saddr,
						     th->source, &iph->daddr,
						     ntohs(th->dest),
						     inet_iif(skb),
						     inet_sdif(skb));
			tcp_stealth_assign(skb, sk);
		}
		if (!sk)
			sk = __inet_lookup_listener(net, hinfo, skb, doff,
						    iph->saddr, th->source,
						    iph->daddr,
						    ntohs(th->dest),
						    inet_iif(skb),
						    inet_sdif(skb));
	}
	__skb_push(skb, thoff);
	if (IS_ERR(sk))
		return NULL;
	return sk;
}

/**
 * tcp_stealth_skb_ifs() - the interfaces TCP matches a segment's connection by
 * @skb: a TCP segment at LOCAL_IN
 * @ipv6: it is IPv6
 * @dif: set to the input interface (inet_iif()/inet6_iif())
 * @sdif: set to the L3 master's slave interface (inet_sdif()/inet6_sdif())
 *
 * What tcp_stealth_lookup() passes to the established hash for @skb, kept
 * for tcp_stealth_conn_alive() to look up the same connection later.
 */
void tcp_stealth_skb_ifs(const struct sk_buff *skb, bool ipv6, int *dif,
			 int *sdif)
{
#if IS_ENABLED(CONFIG_IPV6)
	if (ipv6) {
		*dif = inet6_iif(skb);
		*sdif = inet6_sdif(skb);
		return;
	}
#endif
	*dif = inet_iif(skb);
	*sdif = inet_sdif(skb);
}

/**
 * tcp_stealth_conn_alive() - whether TCP still has a connection for a 4-tuple
 * @net: the namespace
 * @ipv6: the addresses are IPv6
 * @saddr: the peer's address, 16 bytes (IPv4: IPv4-mapped, its last 4)
 * @sport: the peer's port
 * @daddr: the local address, 16 bytes (IPv4: its first 4)
 * @dport: the local port
 * @dif: the input interface tcp_stealth_skb_ifs() gave for the connection's SYN
 * @sdif: the L3 slave interface it gave
 *
 * Looks up the established hash as TCP does for a segment of that
 * connection. Context: under RCU (a netfilter hook), BHs off or on.
 *
 * Return: true if it holds a request socket, or a full socket that is not
 * closed, for the 4-tuple: a segment of the connection would still reach
 * it (a TIME_WAIT socket, or none, gives false).
 */
bool tcp_stealth_conn_alive(struct net *net, bool ipv6, const u8 *saddr,
			    u16 sport, const u8 *daddr, u16 dport, int dif,
			    int sdif)
{
	/* IPv4: the last 4 bytes of the mapped peer, the first 4 of ours. */
	struct sock *sk = tcp_stealth_established(net, ipv6,
						  ipv6 ? saddr : saddr + 12,
						  htons(sport), daddr, dport,
						  dif, sdif);
	bool alive;

	if (!sk)
		return false;
	/* A request socket (TCP_NEW_SYN_RECV) counts as there. */
	alive = sk->sk_state != TCP_TIME_WAIT && sk->sk_state != TCP_CLOSE;
	sock_gen_put(sk);
	return alive;
}

/**
 * tcp_stealth_skb_connected() - whether a segment already has a connection
 * @skb: a TCP segment at LOCAL_IN
 *
 * True if the stack assigned @skb a full TCP socket past its handshake
 * (early demux, as on every packet from a device; or TPROXY or
 * bpf_sk_assign() with such a socket): TCP takes that socket from the skb
 * (skb_steal_sock()) without a lookup, so the segment reaches no listener,
 * and is no refused client's either (not SYN_SENT). Context: rcu_read_lock()
 * held; the skb holds the socket for as long as it lives.
 *
 * Return: true if so; false if @skb has no socket yet, or another kind.
 */
bool tcp_stealth_skb_connected(const struct sk_buff *skb)
{
	const struct sock *sk = skb->sk;

	return sk && sk_fullsock(sk) && sk->sk_protocol == IPPROTO_TCP &&
	       ((1 << READ_ONCE(sk->sk_state)) &
		(TCPF_ESTABLISHED | TCPF_FIN_WAIT1 | TCPF_FIN_WAIT2 |
		 TCPF_CLOSE_WAIT | TCPF_CLOSING | TCPF_LAST_ACK));
}

/**
 * tcp_stealth_defrag_enable() - reassemble IPv6 before LOCAL_IN in @net
 * @net: the namespace
 *
 * Registers (or takes another reference on) nf_defrag_ipv6's hooks in @net,
 * as the socket and TPROXY matches do, so that the LOCAL_IN hook sees whole
 * IPv6 packets. Context: process, may sleep.
 *
 * Return: 0 or a negative errno.
 */
int tcp_stealth_defrag_enable(struct net *net)
{
#if IS_ENABLED(CONFIG_IPV6)
	return nf_defrag_ipv6_enable(net);
#else
	return 0;
#endif
}

/**
 * tcp_stealth_defrag_disable() - drop the reference of
 * tcp_stealth_defrag_enable()
 * @net: the namespace
 */
void tcp_stealth_defrag_disable(struct net *net)
{
#if IS_ENABLED(CONFIG_IPV6)
	nf_defrag_ipv6_disable(net);
#endif
}

/**
 * tcp_stealth_ipv6_resume() - where IPv6 takes up @skb's header chain after
 * NF_INET_LOCAL_IN, and its limits for destination options there
 * @skb: an IPv6 packet at LOCAL_IN (routed, skb->dev set)
 * @res: filled in when the function returns true
 *
 * ip6_protocol_deliver_rcu() does not start at the fixed header: it resumes
 * at the transport header, with the next header found at IP6CB(skb)->nhoff.
 * ip6_rcv_core() has moved both past a leading hop-by-hop header. The
 * caller models the walk from exactly this point. Context: a netfilter
 * hook (RCU read side, for the device's inet6_dev); reads the skb and the
 * namespace's and device's sysctls only.
 *
 * Return: false if the resume point is not inside the linear headers (the
 * caller then judges the segment as TCP's).
 */
bool tcp_stealth_ipv6_resume(const struct sk_buff *skb,
			     struct tcp_stealth_ipv6_resume *res)
{
#if IS_ENABLED(CONFIG_IPV6)
	int thoff = skb_transport_header(skb) - skb_network_header(skb);
	unsigned int nhoff = IP6CB(skb)->nhoff;
	const struct inet6_dev *idev;
	const struct net *net;

	if (!skb->dev || !skb_transport_header_was_set(skb) ||
	    thoff < (int)sizeof(struct ipv6hdr) || thoff > U16_MAX ||
	    nhoff >= thoff ||
	    skb_network_offset(skb) + thoff > skb_headlen(skb))
		return false;
	net = dev_net(skb->dev);
	res->offset = thoff;
	res->avail = skb->len - (skb_network_offset(skb) + thoff);
	res->nexthdr = skb_network_header(skb)[nhoff];
	res->max_dst_opts_cnt = READ_ONCE(net->ipv6.sysctl.max_dst_opts_cnt);
	res->max_dst_opts_len = READ_ONCE(net->ipv6.sysctl.max_dst_opts_len);
	res->fragmented = IP6CB(skb)->flags & IP6SKB_FRAGMENTED;
	res->jumbo = ipv6_hdr(skb)->payload_len == 0;
	/* As ipv6_srh_rcv() and ipv6_rpl_srh_rcv() decide: all and device. */
	idev = __in6_dev_get(skb->dev);
	res->seg6_enabled = idev &&
		min(READ_ONCE(net->ipv6.devconf_all->seg6_enabled),
		    READ_ONCE(idev->cnf.seg6_enabled)) > 0;
	res->rpl_seg_enabled = idev &&
		min(READ_ONCE(net->ipv6.devconf_all->rpl_seg_enabled),
		    READ_ONCE(idev->cnf.rpl_seg_enabled)) > 0;
	return true;
#else
	return false;
#endif
}

/**
 * tcp_stealth_ipv6_handles() - whether IPv6 has a handler for a next header
 * @nexthdr: the next header value
 *
 * An IPv6 packet whose chain names a next header without a handler
 * (inet6_protos[]) is dropped after LOCAL_IN, with a parameter problem
 * unless a raw socket takes it; TCP never sees what follows. Context: any
 * (only the pointer's presence is read).
 *
 * Return: true if a handler is registered.
 */
bool tcp_stealth_ipv6_handles(u8 nexthdr)
{
#if IS_ENABLED(CONFIG_IPV6)
	return rcu_access_pointer(inet6_protos[nexthdr]) != NULL;
#else
	return false;
#endif
}

/**
 * tcp_stealth_syncookies_possible() - whether a listener may use SYN cookies
 * @sk: a listener, under RCU
 *
 * tcp_conn_request() answers with a SYN cookie when
 * net.ipv4.tcp_syncookies is 2, or when the SYN queue is full; the cookie
 * ACK is taken while a cookie was sent recently (tcp_synq_no_recent_overflow()).
 * This errs towards yes: from half a full queue on, a concurrent SYN may fill
 * it before TCP decides.
 *
 * Return: true if TCP may answer a SYN to @sk with a cookie now, or take a
 * cookie ACK.
 */
bool tcp_stealth_syncookies_possible(const struct sock *sk)
{
	int mode = READ_ONCE(sock_net(sk)->ipv4.sysctl_tcp_syncookies);

	if (!mode)
		return false;
	return mode == 2 || !tcp_synq_no_recent_overflow(sk) ||
	       2 * inet_csk_reqsk_queue_len(sk) >= READ_ONCE(sk->sk_max_ack_backlog);
}
