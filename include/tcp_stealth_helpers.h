/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Every C function of tcp_stealth that the Rust side calls (through
 * bindgen, include/tcp_stealth_bindings.h), by the file that defines it:
 *
 *   src/tcp_stealth_helpers.c  out-of-line wrappers of static inline kernel
 *                              functions, macros and fields, each named
 *                              after what it wraps (as rust/helpers/ does
 *                              for the kernel crate)
 *   src/tcp_stealth_reset.c    closed-port resets, as TCP builds them
 *   src/tcp_stealth_syn.c      a knocking client's SYN: option room, ISN
 *   src/tcp_stealth_ulp.c      the ULP's state on a socket
 *   src/tcp_stealth_hold.c     connections held until their first bytes
 *                              pass a check: queue walk, wait, deadline
 *   src/tcp_stealth_genl.c     the generic netlink family of the policy
 *   src/tcp_stealth_lookup.c   which socket a segment at LOCAL_IN reaches
 *   src/tcp_stealth_listen.c   a listener's own check of SYNs the input
 *                              hook did not see
 *
 * Everything that is more than a wrapper has its kernel-doc comment, with
 * its context and locking, in its file.
 */
#ifndef _TCP_STEALTH_HELPERS_H
#define _TCP_STEALTH_HELPERS_H

#include <linux/skbuff.h>
#include <linux/sockptr.h>
#include <linux/workqueue.h>
#include <net/net_namespace.h>

struct blake2s_state;
struct file;
struct netlink_ext_ack;
struct nlattr;
struct proto;
struct request_sock;
struct socket;
struct tcp_stealth_deadline;

/* src/tcp_stealth_helpers.c: thin wrappers. */
void *tcp_stealth_net_generic(const struct net *net, unsigned int id);
void *tcp_stealth_skb_header_pointer(const struct sk_buff *skb, int offset,
				     int len, void *buffer);
int tcp_stealth_skb_network_offset(const struct sk_buff *skb);
unsigned int tcp_stealth_skb_tailroom(const struct sk_buff *skb);
bool tcp_stealth_skb_cloned(const struct sk_buff *skb);
int tcp_stealth_copy_from_sockptr(void *dst, sockptr_t src, size_t size);
void tcp_stealth_blake2s_init(struct blake2s_state *state);
void tcp_stealth_blake2s_init_key(struct blake2s_state *state, const u8 *key,
				  size_t keylen);
bool tcp_stealth_rcv_shutdown(const struct sock *sk);
bool tcp_stealth_rcvq_empty(const struct sock *sk);
u32 tcp_stealth_req_rcv_start(const struct request_sock *req);
bool tcp_stealth_file_nonblock(const struct socket *sock);
struct net *tcp_stealth_seq_file_single_net(struct file *file);
bool tcp_stealth_net_capable(const struct net *net, int cap);
u32 tcp_stealth_secure_tcp_seq(__be32 saddr, __be32 daddr, __be16 sport,
			       __be16 dport);
void tcp_stealth_cond_resched(void);
void tcp_stealth_local_bh_disable(void);
void tcp_stealth_local_bh_enable(void);

/* src/tcp_stealth_reset.c: closed-port resets. */
bool tcp_stealth_pkt_for_host(const struct sk_buff *skb);
bool tcp_stealth_send_reset4(struct net *net, struct sk_buff *oldskb, int hook);
bool tcp_stealth_send_reset6(struct net *net, struct sk_buff *oldskb, int hook,
			     unsigned int thoff);
__sum16 tcp_stealth_checksum(struct sk_buff *skb, unsigned int hook,
			     unsigned int dataoff, bool ipv6);
bool tcp_stealth_xfrm_policy_ok(struct sock *sk, struct sk_buff *skb, bool ipv6);
bool tcp_stealth_send_reset_tcp(struct net *net, struct sk_buff *skb);

/* src/tcp_stealth_syn.c: a knocking client's SYN. */
bool tcp_stealth_syn_options_busy(const struct sock *sk);
bool tcp_stealth_syn_is_first(const struct sock *sk, u32 seq);
u8 tcp_stealth_syn_retransmits(const struct sock *sk);
int tcp_stealth_set_isn(struct sock *sk, u32 old, u32 isn);
int tcp_stealth_skb_open_gap(struct sk_buff *skb, unsigned int hdr,
			     unsigned int add);

/* src/tcp_stealth_ulp.c: the ULP's state on a socket. */
void tcp_stealth_ulp_publish(struct sock *sk, void *data, struct proto *prot);
struct proto *tcp_stealth_sk_prot(const struct sock *sk);
void *tcp_stealth_ulp_data(const struct sock *sk);
void tcp_stealth_set_save_syn(struct sock *sk);
const u8 *tcp_stealth_req_syn(const struct request_sock *req, u32 *ip_len,
			      u32 *len);
void tcp_stealth_socket_set_ops(struct socket *sock,
				const struct proto_ops *ops);

/* src/tcp_stealth_hold.c: connections that must prove their first bytes. */
u32 tcp_stealth_rcvq_copy(struct sock *sk, u32 off, u8 *buf, u32 len);
bool tcp_stealth_rcv_urgent(const struct sock *sk, u32 start, u32 n);
int tcp_stealth_wait_state(struct sock *sk, const u32 *state, u32 pending,
			   bool nonblock);
int tcp_stealth_wq_init(void);
void tcp_stealth_wq_exit(void);
struct tcp_stealth_deadline *
tcp_stealth_deadline_new(struct sock *sk, int (*fn)(struct sock *sk),
			 gfp_t gfp);
void tcp_stealth_deadline_set(struct tcp_stealth_deadline *d,
			      unsigned long delay);
void tcp_stealth_deadline_cancel(struct tcp_stealth_deadline *d);
void tcp_stealth_deadline_stop(struct tcp_stealth_deadline *d);
void tcp_stealth_deadline_free(struct tcp_stealth_deadline *d);

/* src/tcp_stealth_genl.c: the administrator's per-port policy. */
typedef int (*tcp_stealth_policy_req_t)(struct net *net, u8 cmd,
					const u8 *attrs, u32 len,
					struct netlink_ext_ack *extack);
int tcp_stealth_genl_register(tcp_stealth_policy_req_t req);
void tcp_stealth_genl_error(struct netlink_ext_ack *extack,
			    const struct nlattr *attr, const char *msg);
void tcp_stealth_genl_unregister(void);

/* src/tcp_stealth_lookup.c: which socket a segment at LOCAL_IN reaches. */
struct sock *tcp_stealth_lookup(struct net *net, struct sk_buff *skb,
				unsigned int thoff, bool ipv6,
				bool listener_only, bool *refcounted);
bool tcp_stealth_skb_connected(const struct sk_buff *skb);
void tcp_stealth_skb_ifs(const struct sk_buff *skb, bool ipv6, int *dif,
			 int *sdif);
bool tcp_stealth_conn_alive(struct net *net, bool ipv6, const u8 *saddr,
			    u16 sport, const u8 *daddr, u16 dport, int dif,
			    int sdif);
int tcp_stealth_defrag_enable(struct net *net);
void tcp_stealth_defrag_disable(struct net *net);
/* Where IPv6 takes up a packet's header chain after LOCAL_IN. */
struct tcp_stealth_ipv6_resume {
	u16 offset;		/* of the transport header, from the network header */
	u32 avail;		/* bytes from there to the end of the packet */
	u8 nexthdr;		/* the byte at IP6CB(skb)->nhoff */
	int max_dst_opts_cnt;	/* net.ipv6.max_dst_opts_number */
	int max_dst_opts_len;	/* net.ipv6.max_dst_opts_length */
	bool seg6_enabled;	/* type 4 routing headers accepted here */
	bool rpl_seg_enabled;	/* type 3 routing headers accepted here */
	bool fragmented;	/* IP6SKB_FRAGMENTED: reassembled already */
	bool jumbo;		/* payload length 0 */
};
bool tcp_stealth_ipv6_resume(const struct sk_buff *skb,
			     struct tcp_stealth_ipv6_resume *res);
bool tcp_stealth_ipv6_handles(u8 nexthdr);
bool tcp_stealth_syncookies_possible(const struct sock *sk);

/* src/tcp_stealth_listen.c: a listener's own check of unhooked SYNs. */
struct inet_connection_sock_af_ops;
void tcp_stealth_vouch_clear(void);
void tcp_stealth_vouch(const struct sk_buff *skb, const struct sock *sk,
		       u32 seq);
bool tcp_stealth_vouched(const struct sk_buff *skb, const struct sock *sk);
bool tcp_stealth_cookie_ack(const struct sk_buff *skb);
const struct inet_connection_sock_af_ops *
tcp_stealth_af_ops(const struct sock *sk);
void tcp_stealth_set_af_ops(struct sock *sk,
			    const struct inet_connection_sock_af_ops *ops);
int tcp_stealth_tcp_skb_th(const struct sk_buff *skb, bool *ipv6);

#endif /* _TCP_STEALTH_HELPERS_H */
