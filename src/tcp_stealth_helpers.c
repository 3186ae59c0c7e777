// SPDX-License-Identifier: GPL-2.0
/*
 * Out-of-line wrappers for static inline kernel functions; see
 * include/tcp_stealth_helpers.h.
 */
#include <linux/skbuff.h>
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
