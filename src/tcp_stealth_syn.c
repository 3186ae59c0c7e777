// SPDX-License-Identifier: GPL-2.0
/*
 * The SYN of a knocking client, as it passes the output hooks inside
 * tcp_connect(): whether it can carry the knock option at all, making room
 * for the option in the segment, and the ISN mode's move of the connection
 * to the sequence number that carries the knock.
 *
 * These read and write struct tcp_sock and the skb's header area, whose
 * accessors are static inline functions and macros that the Rust side cannot
 * call; each function checks that the socket or packet is in exactly the
 * state it expects and changes nothing otherwise.
 */
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/tcp.h>

#include "tcp_stealth_helpers.h"
/**
 * tcp_stealth_syn_options_busy() - whether TCP fills the SYN's option space
 * with something else
 * @sk: a full TCP socket, locked by the caller
 *
 * A TCP-MD5 or TCP-AO signature, or a Fast Open cookie request, leaves no
 * room for the knock option (and the ISN mode cannot move a SYN that
 * carries data or a signature over the old sequence number).
 *
 * Return: true if @sk has TCP-MD5 or TCP-AO keys, or asks for Fast Open.
 */
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

/**
 * tcp_stealth_syn_is_first() - whether a SYN passes the output hooks for the
 * first time
 * @sk: the connecting full TCP socket
 * @seq: the SYN's sequence number
 *
 * ISN mode, client side. tcp_connect() advances snd_nxt past the SYN only
 * after tcp_transmit_skb() returns, so while the first SYN passes the
 * output hooks snd_nxt is still its sequence number; for every
 * retransmission it is one more.
 *
 * Return: true if the SYN with @seq that @sk is transmitting is its first
 * transmission.
 */
bool tcp_stealth_syn_is_first(const struct sock *sk, u32 seq)
{
	return READ_ONCE(tcp_sk(sk)->snd_nxt) == seq;
}

/**
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

/**
 * tcp_stealth_set_isn() - move a connecting socket to another ISN
 * @sk: the connecting full TCP socket
 * @old: the ISN TCP chose
 * @isn: the ISN that carries the knock
 *
 * ISN mode, client side: moves the send sequence space of @sk from @old to
 * @isn while its first SYN passes the output hooks, i.e. inside
 * tcp_connect(), called by connect() with the socket owned by the caller.
 * At that point tcp_connect_init() has set snd_una, snd_sml, snd_up and
 * snd_nxt to the ISN, and tcp_connect() has queued the SYN (seq @old,
 * end_seq @old + 1) on the retransmit queue and advanced write_seq to
 * @old + 1; pushed_seq and the final snd_nxt are derived from write_seq
 * after the transmission.
 *
 * Context: process context, @sk owned by the caller (connect()).
 * Return: 0, or -EBUSY if the socket is not exactly in that state (not in
 * process context with the socket owned, Fast Open data in the SYN,
 * TCP-MD5/AO keys, anything else queued): then nothing is changed.
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

/**
 * tcp_stealth_skb_open_gap() - make room for an option after a packet's
 * headers
 * @skb: an outgoing packet whose data starts at its network header
 * @hdr: bytes of headers to move (the IP header and the fixed TCP header)
 * @add: bytes of room to make right after them
 *
 * Moves the first @hdr bytes of @skb's data @add bytes into the headroom;
 * what follows them stays where it is. Only the header area is written, so
 * a clone of TCP's transmit queue (whose header area is its own:
 * __skb_header_release()) is not copied, as it would be to grow at the
 * tail.
 *
 * Return: 0; -EINVAL if the data does not start at the network header or
 * @hdr is beyond the linear area; -ENOMEM if the headroom could not be had.
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
