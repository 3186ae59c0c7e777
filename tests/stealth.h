/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tcp_stealth selftests that use the module: protected
 * listeners, knocking clients, data exchange. Built on netns.h.
 */
#ifndef TCP_STEALTH_TESTS_STEALTH_H
#define TCP_STEALTH_TESTS_STEALTH_H

#include <linux/types.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

/* The port the tests' listeners use. */
#define PORT 4242

/* Attach the ULP (unless @single, which relies on the kernel patch) and set
 * @secret. 0, or -errno of the call that failed. */
int set_secret(int fd, const char *secret, int single);

/* TCP_STEALTH_KEY with @flags for @secret: 0 or -errno. */
int key_op(int fd, __u32 flags, const char *secret);

/* A TCP socket created in namespace @ns. */
int sock_in(const char *ns, int family);

/* A listener in @ns on @addr:PORT protected with @secret (NULL: plain). */
int listener(const char *ns, int family, const char *addr, const char *secret);

/* connect() with a timeout: 0, or -errno (-ETIMEDOUT when nothing came). */
int connect_to(int fd, int family, const char *addr, int port, int timeout_ms);

/* A client in @ns with @secret (NULL: plain) connecting to @addr:PORT; the
 * connected fd goes to @fd_out if not NULL. 0 or -errno. */
int client(const char *ns, int family, const char *addr, const char *secret,
	   int *fd_out);

/* Accept on @lfd and check data flows both ways: 0 on success. */
int exchange(int cfd, int lfd);

/* A generic netlink socket of namespace @ns, or -errno. */
int genl_socket(const char *ns);

/*
 * One policy request on @fd: @cmd with @port (-1: no port attribute) and
 * @secret of @len bytes (if not NULL). 0 or -errno.
 */
int policy_send(int fd, int cmd, int port, const void *secret, int len);

/* One policy request in namespace @ns (see policy_send). */
int policy_req(const char *ns, int cmd, int port, const void *secret, int len);

#define CTR(ns, name) stealth_counter(ns, name)

#endif /* TCP_STEALTH_TESTS_STEALTH_H */
