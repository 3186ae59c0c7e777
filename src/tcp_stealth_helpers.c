// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for static inline kernel functions; see
 * include/tcp_stealth_helpers.h.
 */
#include <crypto/blake2s.h>
#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <linux/tcp.h>
#include <net/netns/generic.h>

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
