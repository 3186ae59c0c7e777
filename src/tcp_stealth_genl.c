// SPDX-License-Identifier: GPL-2.0
/*
 * The generic netlink family "tcp_stealth" of the administrator's per-port
 * policy (include/uapi/linux/tcp_stealth.h): its attribute policy, which
 * checks the attribute types, and its two commands, whose attribute
 * streams the Rust side parses (src/ffi/genl.rs, src/policy.rs).
 *
 * This stays C because the 6.12 kernel crate has no generic netlink
 * abstraction, and the family, its operations and its policy are static
 * tables built with the kernel's macros (NLA_POLICY_MIN() and the like).
 */
#include <net/genetlink.h>
#include <net/netlink.h>

#include "tcp_stealth_helpers.h"
#include "uapi/linux/tcp_stealth.h"

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

/**
 * tcp_stealth_nl_request() - the doit of both commands
 * @skb: the request
 * @info: its parsed header and attributes
 *
 * Hands the whole attribute stream to the Rust side: only it sees repeated
 * TCP_STEALTH_A_SECRET attributes (@info->attrs keeps the last).
 *
 * Return: 0 or a negative errno, as the Rust side decides.
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

/**
 * tcp_stealth_genl_register() - register the family
 * @req: what handles its requests; stays valid until
 *       tcp_stealth_genl_unregister() returns
 *
 * Context: module init, once: the family is a single static.
 * Return: 0 or the errno of genl_register_family().
 */
int tcp_stealth_genl_register(tcp_stealth_policy_req_t req)
{
	tcp_stealth_policy_req = req;
	return genl_register_family(&tcp_stealth_nl_family);
}

/**
 * tcp_stealth_genl_unregister() - unregister the family
 *
 * Waits for requests being handled (genl_unregister_family()).
 */
void tcp_stealth_genl_unregister(void)
{
	genl_unregister_family(&tcp_stealth_nl_family);
}
