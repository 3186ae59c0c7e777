/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Out-of-line wrappers for static inline kernel functions that Rust cannot
 * call directly (the same job rust/helpers/ does for the kernel crate, which an
 * out-of-tree module cannot extend). Each one only forwards its arguments.
 */
#ifndef _TCP_STEALTH_HELPERS_H
#define _TCP_STEALTH_HELPERS_H

#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <net/net_namespace.h>

void *tcp_stealth_net_generic(const struct net *net, unsigned int id);
struct blake2s_state;

int tcp_stealth_copy_from_sockptr(void *dst, sockptr_t src, size_t size);
bool tcp_stealth_syn_options_busy(const struct sock *sk);
bool tcp_stealth_syn_is_first(const struct sock *sk, u32 seq);
int tcp_stealth_set_isn(struct sock *sk, u32 old, u32 isn);
void tcp_stealth_blake2s_init(struct blake2s_state *state);
void tcp_stealth_blake2s_init_key(struct blake2s_state *state, const u8 *key,
				  size_t keylen);
unsigned int tcp_stealth_skb_tailroom(const struct sk_buff *skb);
bool tcp_stealth_skb_cloned(const struct sk_buff *skb);
void tcp_stealth_send_reset4(struct net *net, struct sk_buff *oldskb, int hook);
void tcp_stealth_send_reset6(struct net *net, struct sk_buff *oldskb, int hook);
__sum16 tcp_stealth_checksum(struct sk_buff *skb, unsigned int hook,
			     unsigned int dataoff, bool ipv6);
int tcp_stealth_skb_network_offset(const struct sk_buff *skb);
void *tcp_stealth_skb_header_pointer(const struct sk_buff *skb, int offset,
				     int len, void *buffer);

#endif /* _TCP_STEALTH_HELPERS_H */
