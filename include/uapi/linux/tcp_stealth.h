/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * tcp_stealth: stealth port knocking for TCP.
 *
 * A listening socket with a secret accepts only connections whose SYN carries
 * a valid knock (a MAC in a TCP option, see docs/PROTOCOL.md). To everybody
 * else the port looks closed. A client socket with the same secret adds the
 * knock to its SYN.
 *
 * Server:
 *	int fd = socket(AF_INET6, SOCK_STREAM, 0);
 *	setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7);  // unpatched kernel
 *	setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, secret_len);
 *	bind(fd, ...); listen(fd, ...);
 *
 * Client:
 *	int fd = socket(AF_INET6, SOCK_STREAM, 0);
 *	setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7);  // unpatched kernel
 *	setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, secret_len);
 *	connect(fd, ...);
 *
 * On a kernel with the project's patch (patches/), the TCP_ULP call is not
 * needed: the first TCP_STEALTH* option attaches the ULP by itself.
 *
 * Errors of setsockopt() at level IPPROTO_TCP for these options:
 *	EINVAL		bad length, empty or over-long secret, unknown flags,
 *			integrity length out of range, unknown TCP_STEALTH_MODE
 *			value
 *	EISCONN		the socket is connected or connecting: set the secret
 *			(or the mode) before connect(), or on a listening
 *			socket
 *	ENOSPC		TCP_STEALTH_KEY_ADD with TCP_STEALTH_MAX_KEYS keys held
 *	ENOENT		TCP_STEALTH_KEY_DEL of a secret the socket does not hold
 *	ENOKEY		TCP_STEALTH_INTEGRITY_LEN > 0 on a socket without keys
 *			of its own (set TCP_STEALTH first)
 *	ENOMEM		no memory for the keys or, for the first secret in a
 *			network namespace, its hooks (or, on a listening
 *			socket, the namespace's replay cache; listen() of a
 *			socket with keys fails with ENOMEM for it too)
 *	EBUSY		the socket uses TCP-MD5, TCP-AO or a TCP Fast Open
 *			client, which leave no room for the knock in the SYN
 *	ENOPROTOOPT	the stealth ULP is not attached (unpatched kernel) or
 *			the module is not loaded (patched kernel)
 *	EFAULT		bad pointer
 * A failed call changes nothing.
 */
#ifndef _UAPI_LINUX_TCP_STEALTH_H
#define _UAPI_LINUX_TCP_STEALTH_H

#include <linux/types.h>

/* Name of the TCP upper-layer protocol, for setsockopt(TCP_ULP). */
#define TCP_STEALTH_ULP_NAME	"stealth"

/*
 * Socket options at level IPPROTO_TCP. They are far above mainline's own TCP
 * options (1..46 as of Linux 6.15), in a range the kernel patch reserves
 * (0x5354..0x535f), so they collide with nothing in mainline.
 */

/*
 * set: the secret, 1..TCP_STEALTH_SECRET_MAX bytes (the original Knock's form:
 *	any bytes, zero-padded to 64; "abc" and "abc\0" are the same secret).
 *	Replaces all keys of the socket with this one.
 * get: struct tcp_stealth_info. The secret is never read back.
 */
#define TCP_STEALTH		0x5354
/*
 * Payload integrity (docs/PROTOCOL.md, section 7): the knock also commits to
 * the first n bytes (1..TCP_STEALTH_INTEGRITY_MAX) the client will send, so
 * that nobody who sees the handshake can take the connection over.
 *
 * TCP_STEALTH_INTEGRITY, client, before connect(); set: the n bytes. The
 *	application must then send exactly these bytes first. get: int n (0:
 *	none). Setting it on a listener is EINVAL.
 * TCP_STEALTH_INTEGRITY_LEN, listener (before or after listen()); set/get:
 *	int n, 0 to turn the check off. From then on a SYN whose knock does not
 *	commit to any bytes gets the closed-port answer, and every accepted
 *	connection is held until its first n bytes match the commitment:
 *	read(), recv(), splice() and TCP_ZEROCOPY_RECEIVE wait (or fail with
 *	EAGAIN), poll()/epoll report no EPOLLIN and SIOCINQ reports 0 until
 *	then. Segments may arrive split, reordered or retransmitted.
 *	The listener must hold n bytes in its receive buffer without the
 *	application reading: the default (net.ipv4.tcp_rmem) does for n up to
 *	65535; a smaller SO_RCVBUF may not.
 *	It uses TCP_SAVE_SYN, which it turns on if it is off: the application
 *	may read TCP_SAVED_SYN as usual, but must not turn TCP_SAVE_SYN off.
 *	A client that commits to bytes the listener does not check still gets
 *	in (the commitment is ignored).
 *	Only the listener's own keys can check a commitment: n > 0 on a socket
 *	without keys (none set yet, or only an administrator's policy key for
 *	its port) fails with ENOKEY. If all its keys are removed while n > 0,
 *	the listener wants no knock any more, but no connection gets through
 *	unchecked: each one fails as having no commitment (EBADMSG below).
 *	Sockets accepted from a listener that has set n (even back to 0) use
 *	the module's socket operations: they keep the module loaded until they
 *	are closed, and setsockopt(TCP_ULP) on them (kTLS included) fails with
 *	EBUSY (EEXIST on a held connection, which has the module's ULP).
 *
 * On failure the connection is reset (the peer gets an RST) and reads of the
 * accepted socket fail with:
 *	EBADMSG		the first n bytes differ from the commitment (or n
 *			differs), or the connection has no commitment to check
 *			(it was made from a SYN cookie, or the listener has
 *			no keys any more)
 *	ECONNABORTED	the peer closed before sending n bytes
 *	ETIMEDOUT	the n bytes did not come within
 *			net.tcp_stealth.integrity_timeout_secs (default 10)
 *	ENOMEM		no memory for the check when the connection was made
 */
#define TCP_STEALTH_INTEGRITY		0x5355
#define TCP_STEALTH_INTEGRITY_LEN	0x5356
#define TCP_STEALTH_INTEGRITY_MAX	65535

/* set: struct tcp_stealth_key, to add or remove one key (key rotation). */
#define TCP_STEALTH_KEY		0x5357
/*
 * set/get: an int, where the knock goes (TCP_STEALTH_MODE_*). Like the keys,
 * it can only be set on a closed or listening socket; the keys and the mode
 * may be set in either order.
 */
#define TCP_STEALTH_MODE	0x5358

/* The default: the knock is a MAC in a TCP option (docs/PROTOCOL.md). */
#define TCP_STEALTH_MODE_OPTION	0
/*
 * Compatibility with the original Knock / TCP Stealth (Linux 3.x patch,
 * FreeBSD port, OpenSSH and GNUnet builds): the knock is the SYN's 32-bit
 * initial sequence number, an MD5-compression hash of the socket's first
 * (newest) secret, zero-padded to 64 bytes, the destination address and
 * port and the SYN's TCP timestamp value. A listener accepts the ISN for any
 * of its secrets. With TCP_STEALTH_INTEGRITY (client) and
 * TCP_STEALTH_INTEGRITY_LEN (listener) the ISN's low 16 bits are the
 * original's integrity hash of the first n bytes instead, checked as in the
 * option mode: the application reads nothing before they match.
 * This mode is WEAKER than the default:
 *	- the token is only 32 bits (16 with payload integrity), so it can be
 *	  guessed by brute force far more easily than the 64-bit MAC;
 *	- there is no freshness and no replay protection: whoever sees a SYN
 *	  can send it again, from any source, and be let in;
 *	- it covers the destination address, so a DNAT or port forward in front
 *	  of the server breaks it, and it does not cover the source address.
 * Use it only to talk to peers that run the original.
 */
#define TCP_STEALTH_MODE_ISN	1

#define TCP_STEALTH_SECRET_MAX	64
/* A listener holds up to this many keys; a knock with any of them passes. */
#define TCP_STEALTH_MAX_KEYS	4

/* The MAC key is derived from the zero-padded secret S as
 *	K = BLAKE2s-256("tcp_stealth v1 key" || S)
 * with K[0..16] the SipHash-2-4 key of the knock (docs/PROTOCOL.md).
 */

struct tcp_stealth_key {
	__u32	flags;		/* TCP_STEALTH_KEY_ADD or TCP_STEALTH_KEY_DEL */
	__u32	secret_len;	/* 1..TCP_STEALTH_SECRET_MAX */
	__u8	secret[TCP_STEALTH_SECRET_MAX];
};

/* Add this key to the ones the socket holds (a client sends its newest). */
#define TCP_STEALTH_KEY_ADD	(1U << 0)
/* Remove the key with this secret. */
#define TCP_STEALTH_KEY_DEL	(1U << 1)

struct tcp_stealth_info {
	__u32	flags;		/* TCP_STEALTH_INFO_* */
	__u32	nkeys;		/* keys held, 0..TCP_STEALTH_MAX_KEYS */
};

/* The socket has at least one key: it knocks (client) or wants knocks. */
#define TCP_STEALTH_INFO_ENABLED	(1U << 0)

/*
 * Administrator's policy: protect a port with a secret for every listener of
 * a network namespace that has no secret of its own (a daemon nobody wants to
 * touch), through generic netlink family TCP_STEALTH_GENL_NAME. Requests act
 * on the sender's network namespace and need CAP_NET_ADMIN in it. The ports
 * protected are listed (without secrets) in /proc/net/tcp_stealth_policy.
 *
 * TCP_STEALTH_CMD_PROTECT: TCP_STEALTH_A_PORT, TCP_STEALTH_A_SECRET once per
 *	key (1 to TCP_STEALTH_MAX_KEYS, e.g. the current key and the next one
 *	while clients move over; a knock made with any of them is accepted),
 *	and optionally TCP_STEALTH_A_INTEGRITY_LEN and TCP_STEALTH_A_FAMILY:
 *	protects the port, or replaces its keys, integrity length and family.
 * TCP_STEALTH_CMD_UNPROTECT: TCP_STEALTH_A_PORT.
 *
 * TCP_STEALTH_A_FAMILY (AF_INET or AF_INET6) restricts the protection to
 * segments of that family: the port of the other family stays open as if
 * it were not protected. Without it, both families are protected (as by
 * modules older than the attribute, which refuse it as unknown). The policy
 * listing ends a restricted port's line with "family ipv4" or "family ipv6".
 *
 * With an integrity length n > 0, a client's knock must commit to its first
 * n bytes (TCP_STEALTH_INTEGRITY); knocks without a commitment are refused.
 * The module checks those bytes on input, in the segment that carries all
 * n of them (n is at most TCP_STEALTH_POLICY_INTEGRITY_MAX, which fits in
 * one segment on every path, even at IPv4's default MSS of 536); data
 * before that segment is dropped and sent again by the client's TCP. Bytes that differ from the commitment, or that
 * come after net.tcp_stealth.integrity_timeout_secs, reset the connection
 * both ways: the server's application never reads an unchecked byte of
 * them. At most 128 connections per namespace are checked at a time; a
 * knock that finds no room is refused (integrity_lost counter).
 *
 * Errors: EINVAL (missing, repeated or malformed attribute, empty secret,
 * attribute the command does not take, a family other than AF_INET or
 * AF_INET6), ERANGE (port 0, secret over
 * TCP_STEALTH_SECRET_MAX bytes, integrity length over
 * TCP_STEALTH_POLICY_INTEGRITY_MAX), E2BIG (more than TCP_STEALTH_MAX_KEYS
 * secrets), EEXIST (two secrets giving the same key), ENOENT (unprotect of
 * a port that is not protected), ENOSPC (more than TCP_STEALTH_POLICY_MAX
 * ports), EPERM (no CAP_NET_ADMIN). The extended ACK says which attribute
 * and why.
 */
#define TCP_STEALTH_GENL_NAME		"tcp_stealth"
#define TCP_STEALTH_GENL_VERSION	1
#define TCP_STEALTH_POLICY_MAX		64
#define TCP_STEALTH_POLICY_INTEGRITY_MAX	512

enum {
	TCP_STEALTH_CMD_UNSPEC,
	TCP_STEALTH_CMD_PROTECT,
	TCP_STEALTH_CMD_UNPROTECT,
	__TCP_STEALTH_CMD_MAX,
};

enum {
	TCP_STEALTH_A_UNSPEC,
	TCP_STEALTH_A_PORT,	/* u16, host byte order */
	TCP_STEALTH_A_SECRET,	/* binary, 1..TCP_STEALTH_SECRET_MAX bytes */
	TCP_STEALTH_A_INTEGRITY_LEN, /* u32, 0..TCP_STEALTH_POLICY_INTEGRITY_MAX */
	TCP_STEALTH_A_FAMILY,	/* u16, AF_INET or AF_INET6; absent: both */
	__TCP_STEALTH_A_MAX,
};
#define TCP_STEALTH_A_MAX	(__TCP_STEALTH_A_MAX - 1)

#endif /* _UAPI_LINUX_TCP_STEALTH_H */
