// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for static inline kernel functions, macros and
 * fields that Rust cannot reach directly: the job rust/helpers/ does for the
 * kernel crate, which an out-of-tree module cannot extend. Each is named
 * after what it wraps and does nothing else. The C that is more than a
 * wrapper lives in one file per topic (see include/tcp_stealth_helpers.h).
 */
#include <crypto/blake2s.h>
#include <linux/bottom_half.h>
#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/net.h>
#include <linux/sched.h>
#include <linux/seq_file_net.h>
#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <net/netns/generic.h>
#include <net/secure_seq.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "tcp_stealth_helpers.h"

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

unsigned int tcp_stealth_skb_tailroom(const struct sk_buff *skb)
{
	return skb_tailroom(skb);
}

bool tcp_stealth_skb_cloned(const struct sk_buff *skb)
{
	return skb_cloned(skb);
}

int tcp_stealth_copy_from_sockptr(void *dst, sockptr_t src, size_t size)
{
	return copy_from_sockptr(dst, src, size);
}

/* blake2s_init() with the full digest size. */
void tcp_stealth_blake2s_init(struct blake2s_state *state)
{
	blake2s_init(state, BLAKE2S_HASH_SIZE);
}

/* blake2s_init_key() with the full digest size. */
void tcp_stealth_blake2s_init_key(struct blake2s_state *state, const u8 *key,
				  size_t keylen)
{
	blake2s_init_key(state, BLAKE2S_HASH_SIZE, key, keylen);
}

/* RCV_SHUTDOWN in sk->sk_shutdown, read as TCP reads it locklessly. */
bool tcp_stealth_rcv_shutdown(const struct sock *sk)
{
	return READ_ONCE(sk->sk_shutdown) & RCV_SHUTDOWN;
}

/* skb_queue_empty_lockless() of sk->sk_receive_queue. */
bool tcp_stealth_rcvq_empty(const struct sock *sk)
{
	return skb_queue_empty_lockless(&sk->sk_receive_queue);
}

/*
 * tcp_rsk(req)->rcv_isn + 1: the sequence number of the first byte the
 * connection made from @req receives (what tcp_create_openreq_child() sets
 * copied_seq to, after the ULP's clone callback ran).
 */
u32 tcp_stealth_req_rcv_start(const struct request_sock *req)
{
	return tcp_rsk(req)->rcv_isn + 1;
}

/* O_NONBLOCK in the flags of the file of @sock, if it has one. */
bool tcp_stealth_file_nonblock(const struct socket *sock)
{
	return sock->file && (sock->file->f_flags & O_NONBLOCK);
}

/*
 * seq_file_single_net() of a file made by proc_create_net_single_write():
 * it is opened with single_open_net(), so its seq_file (private_data) holds
 * the namespace, referenced while the file is open. The test-only
 * benchmark file (src/bench.rs) uses it.
 */
struct net *tcp_stealth_seq_file_single_net(struct file *file)
{
	return seq_file_single_net(file->private_data);
}

/* ns_capable() in the user namespace that owns @net. */
bool tcp_stealth_net_capable(const struct net *net, int cap)
{
	return ns_capable(net->user_ns, cap);
}

/* The kernel's own per-SYN SipHash: the ISN of a passive IPv4 connection. */
u32 tcp_stealth_secure_tcp_seq(__be32 saddr, __be32 daddr, __be16 sport,
			       __be16 dport)
{
	return secure_tcp_seq(saddr, daddr, sport, dport);
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
