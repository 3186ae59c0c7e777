/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers for tcp_stealth selftests: a pair of network namespaces joined by
 * a veth link, TCP sockets with timeouts, and the module's per-netns
 * counters.
 *
 * Topology made by netns_pair_create():
 *
 *   netns "<tag>a-<pid>"  veth0 10.0.1.1/24 fd00::1/64
 *            |
 *   netns "<tag>b-<pid>"  veth0 10.0.1.2/24 fd00::2/64
 *
 * Namespaces are created the way `ip netns add` does it (bind-mounted under
 * /run/netns, so `ip -n NAME` works on them) but in-process, over
 * rtnetlink (tests/lib/rtnl.c), and destroyed with netns_pair_destroy(). Every function that enters a namespace returns to
 * the namespace the caller was in.
 *
 * Functions return 0 (or a fd / value >= 0) on success and -1 on failure,
 * with a message on stderr saying what failed.
 */
#ifndef TCP_STEALTH_TESTS_NETNS_H
#define TCP_STEALTH_TESTS_NETNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <sys/socket.h>

#define NETNS_A_IP4 "10.0.1.1"
#define NETNS_B_IP4 "10.0.1.2"
#define NETNS_A_IP6 "fd00::1"
#define NETNS_B_IP6 "fd00::2"
#define NETNS_IFNAME "veth0"

/* Where the module publishes its counters (per network namespace). */
#define TCP_STEALTH_STATS "/proc/net/tcp_stealth_stats"

/* Default timeout for socket operations in the helpers, in milliseconds. */
#define NETNS_TIMEOUT_MS 5000

struct netns_pair {
	char a[64];	/* name under /run/netns */
	char b[64];
	int created;	/* bit 0: a exists, bit 1: b exists */
};

/*
 * Create two fresh namespaces named "<tag>a-<pid>" and "<tag>b-<pid>",
 * bring up lo in each, and join them with veth0 <-> veth0 carrying the
 * addresses above (IPv6 with nodad, so usable at once); returns once both
 * ends are operationally up. On failure, anything already created is
 * removed again.
 */
int netns_pair_create(struct netns_pair *p, const char *tag);

/*
 * The same, but b is owned by a user namespace of its own whose root is
 * @b_uid outside (netns_add_userns()): there, sock_net_uid(net, NULL), the
 * uid that the kernel's own replies (TCP's resets) are routed with, is
 * @b_uid, not 0. The test itself stays root in the initial namespace and
 * can do anything in b.
 */
int netns_pair_create_userns(struct netns_pair *p, const char *tag,
			     unsigned int b_uid);

/* Delete both namespaces (safe to call twice or after a failed create). */
void netns_pair_destroy(struct netns_pair *p);

/*
 * Move the calling thread into namespace @name. Returns a fd for the
 * namespace the thread was in before (give it to netns_leave()), or -1.
 */
int netns_enter(const char *name);

/* Go back to the namespace saved by netns_enter() and close @saved_fd. */
int netns_leave(int saved_fd);

/*
 * Run a shell command inside namespace @name (fork, setns, sh -c CMD).
 * Returns the command's exit status, or -1 if it could not be run or was
 * killed by a signal. Only the latter (and 126/127) print a message, so it
 * can be used to poll for a condition.
 */
int netns_system(const char *name, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * In-process set-up (tests/lib/rtnl.c), each 0 or -1 with a message and errno:
 *   netns_add()            a new named namespace, like `ip netns add NAME`;
 *   netns_add_userns()     the same, owned by a new user namespace whose
 *                          root (uid and gid 0) is @uid outside, like
 *                          `unshare -Un` with that mapping and a bind mount
 *                          of its /proc/PID/ns/net;
 *   netns_del()            remove it again (0 if it does not exist);
 *   netns_link_up()        `ip -n NS link set IFNAME up`;
 *   netns_veth_add()       a veth pair, IFNAME in @ns and PEER in @peer_ns;
 *   netns_addr_add()       ADDR/PREFIXLEN on IFNAME (IPv6 with nodad);
 *   netns_route_add()      a route to DST/PREFIXLEN (DST NULL: the default
 *                          route) via GATEWAY (v4 or v6);
 *   netns_route_add_local() `ip route add local DST/PREFIXLEN tos TOS dev
 *                          IFNAME`: every address in it is the host's own
 *                          (AnyIP) for packets with that TOS (0: any),
 *                          though no interface holds it;
 *   netns_route_add_table() a route of TYPE (RTN_LOCAL, RTN_UNREACHABLE,
 *                          ...) to DST/PREFIXLEN in TABLE, by IFNAME (NULL:
 *                          none): `ip route add local 0.0.0.0/0 dev lo
 *                          table 100`, `ip route add unreachable
 *                          10.0.1.1/32 table 100`;
 *   netns_rule_add()       a policy routing rule (struct netns_rule): `ip
 *                          rule add [pref P] [fwmark M] [uidrange A-B]
 *                          lookup T`;
 *   netns_sysctl_set()     write a sysctl ("net.ipv4.ip_forward") as seen
 *                          in @ns; no message, so errors can be expected.
 * netns_sysctl_get() returns the sysctl's integer value, or -1.
 * @ns NULL means the caller's namespace.
 */
int netns_add(const char *name);
int netns_add_userns(const char *name, unsigned int uid);
int netns_del(const char *name);
int netns_link_up(const char *ns, const char *ifname);
int netns_veth_add(const char *ns, const char *ifname, const char *peer_ns,
		   const char *peer_ifname);
int netns_addr_add(const char *ns, const char *ifname, const char *addr,
		   int prefixlen);
int netns_route_add(const char *ns, const char *dst, int prefixlen,
		    const char *gateway);
int netns_route_add_local(const char *ns, const char *dst, int prefixlen,
			  int tos, const char *ifname);
int netns_route_add_table(const char *ns, int type, const char *dst,
			  int prefixlen, unsigned int table, const char *ifname);
/* What netns_rule_add() adds; what is 0 (uidrange: false) is left out. */
struct netns_rule {
	int family;		/* AF_INET or AF_INET6 */
	unsigned int priority;	/* 0: the kernel picks one */
	unsigned int fwmark;	/* mask: all bits */
	/*
	 * uid_start-uid_end, uids of the user namespace that owns the
	 * network namespace (0: its root), as `ip rule` run there says them:
	 * the kernel takes a uid range from there only, and netns_rule_add()
	 * sends it from there.
	 */
	bool uidrange;
	unsigned int uid_start, uid_end;
	unsigned int table;
};
int netns_rule_add(const char *ns, const struct netns_rule *rule);
int netns_sysctl_set(const char *ns, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
long long netns_sysctl_get(const char *ns, const char *key);

/* Wait until @ifname in @ns is running (up, with carrier). 0 or -1. */
int netns_link_wait(const char *ns, const char *ifname, int timeout_ms);

/* The index of @ifname in @ns, or -1 with a message. */
int netns_ifindex(const char *ns, const char *ifname);

/*
 * Two links between a and b, each with link-local addresses of its own:
 * netns_ll_links_add() adds a second veth pair (veth1 on both sides) to a
 * pair from netns_pair_create() and gives both links the addresses of
 * netns_ll_links[] (/64, no DAD), up and running. b then has a route to
 * fe80::/64 on each link: a reply routed by its destination alone leaves by
 * the first. 0, or -1 with a message.
 */
#define NETNS_LL_LINKS	2
struct netns_ll_link {
	const char *ifname, *a, *b;	/* a's and b's address on that link */
};
extern const struct netns_ll_link netns_ll_links[NETNS_LL_LINKS];
int netns_ll_links_add(const struct netns_pair *p);

/* The address of side a or b for @family (AF_INET or AF_INET6). */
const char *netns_addr_a(int family);
const char *netns_addr_b(int family);

/*
 * Fill @ss with @addr:@port for @family; returns the length, or -1. An IPv6
 * @addr may end in "%INDEX", the interface index of its scope.
 */
socklen_t netns_sockaddr(int family, const char *addr, uint16_t port,
			 struct sockaddr_storage *ss);

/* Set SO_RCVTIMEO and SO_SNDTIMEO on @fd. */
int sock_set_timeouts(int fd, int timeout_ms);

/*
 * A TCP listener on @addr:@port (port 0: any free port) in namespace @ns
 * (NULL: the caller's). Returns the fd; *@port_out gets the bound port if
 * not NULL.
 */
int tcp_listen_in(const char *ns, int family, const char *addr, uint16_t port,
		  uint16_t *port_out);

/*
 * A TCP connection from namespace @ns (NULL: the caller's) to
 * @addr:@port, giving up after @timeout_ms. The socket gets the same send
 * and receive timeouts. Returns the fd, or -1.
 */
int tcp_connect_in(const char *ns, int family, const char *addr, uint16_t port,
		   int timeout_ms);

/* accept() on @lfd with a timeout; the new fd gets send/receive timeouts. */
int tcp_accept_timeout(int lfd, int timeout_ms);

/* Write all of @buf; 0 on success, -1 on error or timeout. */
int write_all(int fd, const void *buf, size_t len);

/* Read exactly @len bytes; 0 on success, -1 on error, EOF or timeout. */
int read_all(int fd, void *buf, size_t len);

/*
 * Read counter @name from /proc/net/tcp_stealth_stats as seen in
 * namespace @ns (NULL: the caller's). Returns the value (>= 0), -1 if the
 * file doesn't exist (module not loaded), -2 if the counter isn't in it or
 * the file can't be parsed.
 */
long long stealth_counter(const char *ns, const char *name);

/*
 * Whether namespace @ns (NULL: the caller's) has a TCP socket in state
 * @state (TCP_LISTEN, TCP_TIME_WAIT, ... of <netinet/tcp.h>) with @port as
 * its local or remote port, from /proc/net/tcp and tcp6 as seen there (no
 * ss to spawn: every exec is slow under TCG). 1, 0, or -1 if unreadable.
 */
int tcp_port_state_in(const char *ns, int port, int state);

/*
 * fopen(@path, "re") from namespace @ns (NULL: the caller's): a /proc/net
 * file then shows that namespace (a path under /proc/net/ is opened under
 * /proc/thread-self/net/, which follows the calling thread's namespace).
 * The stream, or NULL with errno set.
 */
FILE *netns_fopen(const char *ns, const char *path);

/*
 * Read file @path as netns_fopen() opens it into @buf, NUL-terminated: its
 * length, or -1 with a message.
 */
int netns_read_file(const char *ns, const char *path, char *buf, size_t size);

/*
 * Counter @name of group @group ("TcpExt", "IpExt") in /proc/net/netstat
 * as seen in namespace @ns (what nstat shows as GROUPNAME), or -1.
 */
long long netstat_counter(const char *ns, const char *group, const char *name);

/*
 * A third namespace (its name into @c) behind @router, which masquerades it
 * out of veth0: c (10.0.2.2, fd02::2) -- router -- peer. 0 or -1.
 */
int netns_masq_client(const char *router, const char *tag, char *c, size_t clen);

#endif /* TCP_STEALTH_TESTS_NETNS_H */
