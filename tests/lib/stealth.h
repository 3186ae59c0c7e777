/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tcp_stealth selftests that use the module: protected
 * listeners, knocking clients, data exchange. Built on netns.h.
 */
#ifndef TCP_STEALTH_TESTS_STEALTH_H
#define TCP_STEALTH_TESTS_STEALTH_H

#include <linux/types.h>
#include <stdbool.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* The port the tests' listeners use. */
#define PORT 4242

/* Attach the ULP (unless @single, which relies on the kernel patch) and set
 * @secret. 0, or -errno of the call that failed. */
int set_secret(int fd, const char *secret, int single);
/* 1 on the patched kernel, 0 where vm-run --unpatched booted the kernel
 * built without patches/ (TCP_STEALTH_UNPATCHED=1): there, an application
 * must attach the ULP with TCP_ULP before the first TCP_STEALTH option.
 */
int kernel_patched(void);

/* TCP_STEALTH_KEY with @flags for @secret: 0 or -errno. */
int key_op(int fd, __u32 flags, const char *secret);

/* A TCP socket created in namespace @ns. */
int sock_in(const char *ns, int family);

/* A listener in @ns on @addr:PORT protected with @secret (NULL: plain). */
int listener(const char *ns, int family, const char *addr, const char *secret);

/* The same on @port, with accept queue @backlog. */
int listener_on(const char *ns, int family, const char *addr, int port,
		const char *secret, int backlog);
/* listener_on() bound to interface @dev first (SO_BINDTODEVICE, e.g. a VRF
 * device; NULL: none). */
int listener_on_dev(const char *ns, int family, const char *addr, int port,
		    const char *dev, const char *secret, int backlog);

/* connect() with a timeout: 0, or -errno (-ETIMEDOUT when nothing came). */
int connect_to(int fd, int family, const char *addr, int port, int timeout_ms);

/* A client in @ns with @secret (NULL: plain) connecting to @addr:PORT; the
 * connected fd goes to @fd_out if not NULL. 0 or -errno. */
int client(const char *ns, int family, const char *addr, const char *secret,
	   int *fd_out);

/* Accept on @lfd and check data flows both ways: 0 on success. */
int exchange(int cfd, int lfd);

/* A listener like listener() on b's address that requires @n committed
 * bytes (TCP_STEALTH_INTEGRITY_LEN; none if 0). */
int integrity_listener(const char *ns, int family, const char *secret, int n);

/* A client in @ns with @secret that commits to @len bytes of @commit (none
 * if NULL), connected to b's address. 0 or -errno; the socket goes to
 * @fd_out. */
int integrity_client(const char *ns, int family, const char *secret,
		     const void *commit, int len, int *fd_out);

/* The same to b's @port. */
int integrity_client_to(const char *ns, int family, int port, const char *secret,
			const void *commit, int len, int *fd_out);

/* In @ns, drop TCP segments to PORT longer than 200 bytes until they add up
 * to @bytes (nft table inet t). 0 or -1. */
int drop_big_segments(const char *ns, int bytes);

/* 0 if drop_big_segments() in @ns dropped exactly @packets segments, else -1
 * (and the chain on stderr). */
int dropped_segments(const char *ns, int packets);

/* Writes the string @s to @dir/@file: 0 or -errno. */
int write_str(const char *dir, const char *file, const char *s);

/* Wait (up to 5 s) until counter @name in @ns reaches @want; its value. */
long long wait_counter(const char *ns, const char *name, long long want);

#define CTR(ns, name) stealth_counter(ns, name)

struct nlmsghdr;
/* Append attribute @type (@len bytes of @data) to the netlink message @nh,
 * which must have room for it. */
void nl_put_attr(struct nlmsghdr *nh, int type, const void *data, int len);
/* Send request @nh on netlink socket @fd with NLM_F_ACK and return the
 * kernel's answer: 0 or -errno. */
int nl_call(int fd, struct nlmsghdr *nh);
/* The id of generic netlink family @name, asked on @fd; -errno. */
int genl_family_id(int fd, const char *name);
/* A generic netlink socket of namespace @ns (2 s timeouts), or -errno. */
int genl_socket(const char *ns);
/*
 * A Foo-over-UDP receive port @port of @family in @ns that hands what it
 * carries to TCP, through the "fou" generic netlink family: with @gue
 * `ip fou add port PORT gue [-6]` (the GUE header names the protocol),
 * else `ip fou add port PORT ipproto 6 [-6]`. 0 or -errno.
 */
int fou_port_add(const char *ns, int family, int port, bool gue);
/*
 * One tcp_stealth policy request on @fd: @cmd with @port (-1: no port
 * attribute) and @secret of @len bytes (if not NULL). 0 or -errno.
 */
int policy_send(int fd, int cmd, int port, const void *secret, int len);
/* An attribute of policy_call(). */
struct policy_attr {
	int type;
	const void *data;
	int len;
};
/*
 * One policy request @cmd in namespace @ns with the @n attributes @attrs,
 * in order: 0 or -errno, and the extended ACK's message in @msg (@msglen
 * bytes, "" without one) if @msg is not NULL.
 */
int policy_call(const char *ns, int cmd, const struct policy_attr *attrs,
		int n, char *msg, int msglen);
/* One policy request in namespace @ns (see policy_send). */
int policy_req(const char *ns, int cmd, int port, const void *secret, int len);

#endif /* TCP_STEALTH_TESTS_STEALTH_H */
