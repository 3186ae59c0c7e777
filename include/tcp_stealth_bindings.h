/* SPDX-License-Identifier: GPL-2.0 */
/*
 * C APIs of the kernel that tcp_stealth uses and the Rust `kernel` crate of
 * Linux 6.12 does not wrap. bindgen turns this header into
 * src/ffi/bindings_generated.rs; src/ffi/bindgen_parameters limits the output
 * to what the module actually calls.
 */
#include <linux/capability.h>
#include <linux/netfilter.h>
#include <linux/netfilter_ipv4.h>
#include <linux/netfilter_ipv6.h>
#include <linux/proc_fs.h>
#include <linux/seq_file.h>
#include <linux/skbuff.h>
#include <linux/tcp.h>
#include <net/net_namespace.h>
#include <net/netns/generic.h>

#include "tcp_stealth_helpers.h"
#include "tcp_stealth_percpu.h"
#include "uapi/linux/tcp_stealth.h"
#include <net/ipv6.h>
#include <crypto/blake2s.h>
#include <linux/siphash.h>
#include <linux/sysctl.h>
#include <net/inet_connection_sock.h>
#include <net/ip.h>
#include <net/netfilter/nf_socket.h>
#include <net/netfilter/ipv4/nf_reject.h>
#include <net/netfilter/ipv6/nf_reject.h>
#include <net/net_namespace.h>
#include <net/tcp.h>
#include <net/transp_v6.h>

/* Macros bindgen cannot expand; it evaluates these constants instead. */
const gfp_t TCP_STEALTH_GFP_ATOMIC = GFP_ATOMIC;
