// SPDX-License-Identifier: GPL-2.0
/*
 * The listener's own check (src/ffi/listen.rs): a SYN that reaches a
 * listener with the ULP without having been judged by the module's input
 * hook, and the ACK that completes a SYN cookie there. A receive port of
 * Foo-over-UDP or GUE hands the TCP segment it carries straight to TCP,
 * without NF_INET_LOCAL_IN for it; such a SYN is checked in the listener's
 * conn_request(), such an ACK in its syn_recv_sock(), which the ULP's copy
 * of the listener's inet_connection_sock_af_ops overrides.
 *
 * The input hook vouches for the SYNs it lets through to such a listener
 * with a valid knock, so that the listener does not verify them twice: a
 * per-CPU word naming the packet, the listener and the SYN's sequence
 * number, which the hook clears for every packet it sees and sets for the
 * one it vouches for, and which the listener clears as it reads it. The
 * word is written and trusted only in the NET_RX softirq itself
 * (in_serving_softirq()): there TCP takes a packet from LOCAL_IN to the
 * listener on the same CPU, in the same softirq, without another packet's
 * hook in between (a listener has no backlog), so the word read at the
 * listener is the hook's verdict on that very packet, or clear, for a
 * packet the hook saw as something else (the UDP datagram that carried
 * it). Elsewhere a packet may reach TCP on another CPU than the one its
 * hook ran on, where an old word names a freed packet's address: an
 * NFQUEUE verdict reinjects in process context, threaded NAPI and
 * PREEMPT_RT process packets in tasks. There the listener verifies every
 * SYN itself (the hook's own SYN is then a duplicate in the replay cache,
 * which passes): the word saves work, it never lets a packet through.
 * ACKs are never vouched for: the listener's check of a cookie's ACK is a
 * table lookup.
 */
#include <linux/interrupt.h>
#include <linux/percpu.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/request_sock.h>
#include <net/sock.h>

#include "tcp_stealth_helpers.h"

struct tcp_stealth_vouch {
	const struct sk_buff *skb;
	const struct sock *sk;
	u32 seq;
};

static DEFINE_PER_CPU(struct tcp_stealth_vouch, tcp_stealth_vouch_word);

/**
 * tcp_stealth_vouch_clear() - forget this CPU's vouch
 *
 * Context: the input hook (softirq, or process context when an NFQUEUE
 * verdict reinjects a packet: a migration in between leaves a word that
 * matches nothing).
 */
void tcp_stealth_vouch_clear(void)
{
	this_cpu_write(tcp_stealth_vouch_word.skb, NULL);
}

/**
 * tcp_stealth_vouch() - vouch for a SYN the input hook lets through
 * @skb: the SYN, judged and accepted
 * @sk: the listener it was judged for
 * @seq: its sequence number
 *
 * Only in the NET_RX softirq (see above); elsewhere it does nothing.
 *
 * Context: the input hook, after tcp_stealth_vouch_clear() for the same
 * packet.
 */
void tcp_stealth_vouch(const struct sk_buff *skb, const struct sock *sk,
		       u32 seq)
{
	if (!in_serving_softirq())
		return;
	this_cpu_write(tcp_stealth_vouch_word.sk, sk);
	this_cpu_write(tcp_stealth_vouch_word.seq, seq);
	this_cpu_write(tcp_stealth_vouch_word.skb, skb);
}

/**
 * tcp_stealth_vouched() - whether the input hook vouched for a SYN, and
 * forget it
 * @skb: the SYN, in TCP's hands (its TCP header at the transport header)
 * @sk: the listener TCP gives it to
 *
 * Context: conn_request() (BHs off, under RCU).
 * Return: true if this runs in the NET_RX softirq and this CPU's word
 * names @skb, @sk and @skb's sequence number.
 */
bool tcp_stealth_vouched(const struct sk_buff *skb, const struct sock *sk)
{
	bool ok = in_serving_softirq() &&
		  this_cpu_read(tcp_stealth_vouch_word.skb) == skb &&
		  this_cpu_read(tcp_stealth_vouch_word.sk) == sk &&
		  this_cpu_read(tcp_stealth_vouch_word.seq) ==
			  ntohl(tcp_hdr(skb)->seq);

	this_cpu_write(tcp_stealth_vouch_word.skb, NULL);
	return ok;
}

/**
 * tcp_stealth_cookie_ack() - whether a child comes from a SYN cookie's ACK
 * @skb: the segment TCP makes the child from, in TCP's hands
 *
 * syn_recv_sock() without a request to unhash makes a child from a SYN
 * cookie's ACK (cookie_v4_check(), cookie_v6_check()), or from a SYN
 * (Fast Open, inside conn_request(), which checked it). Both kinds of
 * cookie count: the kernel's, and one that a BPF program at tc ingress
 * validated and assigned its request socket to the packet for
 * (bpf_sk_assign_tcp_reqsk(), req->syncookie). The input hook leaves the
 * latter's ACK to TCP, as it leaves every packet that already has a socket;
 * and its SYN was answered by the program, never seen by the hook. So it
 * passes only from a 4-tuple that knocked, like a kernel cookie's ACK: a
 * protected listener behind BPF SYN cookies fails closed
 * (docs/PROTOCOL.md).
 *
 * Return: true for the ACK of a SYN cookie.
 */
bool tcp_stealth_cookie_ack(const struct sk_buff *skb)
{
	return !tcp_hdr(skb)->syn;
}

/**
 * tcp_stealth_af_ops() - a socket's inet_connection_sock_af_ops
 * @sk: a full TCP socket
 *
 * Return: icsk_af_ops, read once (TCP's receive path reads it without the
 * socket lock).
 */
const struct inet_connection_sock_af_ops *
tcp_stealth_af_ops(const struct sock *sk)
{
	return READ_ONCE(inet_csk(sk)->icsk_af_ops);
}

/**
 * tcp_stealth_set_af_ops() - give a socket other inet_connection_sock_af_ops
 * @sk: a full TCP socket, locked by the caller (or not yet visible)
 * @ops: the table, which must outlive every use by the socket
 *
 * A lockless reader (a listener's receive path) sees the old table or the
 * new one, and, since the ULP's copies are filled at run time, with
 * release ordering the new one's contents too (the reader's loads through
 * the pointer depend on it).
 */
void tcp_stealth_set_af_ops(struct sock *sk,
			    const struct inet_connection_sock_af_ops *ops)
{
	smp_store_release(&inet_csk(sk)->icsk_af_ops, ops);
}

/**
 * tcp_stealth_tcp_skb_th() - where TCP found the TCP header of a segment
 * @skb: a segment in TCP's hands (tcp_v4_rcv(), tcp_v6_rcv())
 * @ipv6: set to whether its IP header is IPv6 (a segment from an IPv4 peer
 * reaches an IPv6 listener as IPv4)
 *
 * Return: the TCP header's offset from the network header (past the UDP
 * header of Foo-over-UDP, say), or a negative value if it is not after it.
 */
int tcp_stealth_tcp_skb_th(const struct sk_buff *skb, bool *ipv6)
{
	*ipv6 = skb->protocol == htons(ETH_P_IPV6);
	return skb_transport_header(skb) - skb_network_header(skb);
}
