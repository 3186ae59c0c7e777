// SPDX-License-Identifier: GPL-2.0
/*
 * The ULP's state on a socket, where the 6.12 kernel crate has no socket
 * abstraction and the fields need the kernel's memory-ordering macros: the
 * context and proto the ULP publishes for the lockless netfilter hooks,
 * the saved SYN of a listener's children, and the proto_ops of a socket
 * being accepted (src/ffi/ulp.rs and src/ffi/ops.rs call these).
 */
#include <linux/module.h>
#include <linux/net.h>
#include <linux/tcp.h>
#include <net/inet_connection_sock.h>
#include <net/request_sock.h>
#include <net/sock.h>
#include <net/tcp.h>

#include "tcp_stealth_helpers.h"

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

/**
 * tcp_stealth_set_save_syn() - make TCP keep the SYN of new connections
 * @sk: a full TCP socket (a listener), locked by the caller
 *
 * What setsockopt(TCP_SAVE_SYN, 1) does, unless the socket asked for the
 * SYN's link-layer header too (save_syn 2), which it keeps.
 */
void tcp_stealth_set_save_syn(struct sock *sk)
{
	struct tcp_sock *tp = tcp_sk(sk);

	if (!tp->save_syn)
		tp->save_syn = 1;
}

/**
 * tcp_stealth_req_syn() - the SYN a request socket saved
 * @req: the request, with TCP_SAVE_SYN on its listener
 * @ip_len: set to the length of the saved IP headers
 * @len: set to the length of the saved IP and TCP headers
 *
 * Return: the saved IP header, followed by the TCP header, or NULL if
 * nothing was saved. Valid until @req is freed.
 */
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
