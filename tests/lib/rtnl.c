// SPDX-License-Identifier: GPL-2.0
/*
 * Namespace, link, address, route and sysctl set-up for the selftests, done
 * in-process over rtnetlink and /proc/sys instead of exec'ing ip(8) and
 * sysctl(8): under TCG with KASAN and lockdep every exec costs a quarter of
 * a second of guest CPU, and the fixtures used to run four per test.
 * See netns.h.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/nsfs.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <net/if.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "netns.h"

#define warn(fmt, ...) fprintf(stderr, "# netns: " fmt "\n", ##__VA_ARGS__)

#define NETNS_RUN_DIR "/run/netns"

/* One rtnetlink request under construction. */
struct nlreq {
	union {
		struct nlmsghdr nh;
		char buf[1024];
	};
};

static void *nl_tail(struct nlreq *r)
{
	return r->buf + NLMSG_ALIGN(r->nh.nlmsg_len);
}

static void nl_init(struct nlreq *r, int type, int flags, const void *hdr,
		    size_t hlen)
{
	memset(r, 0, sizeof(*r));
	r->nh.nlmsg_type = type;
	r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
	r->nh.nlmsg_len = NLMSG_LENGTH(hlen);
	memcpy(NLMSG_DATA(&r->nh), hdr, hlen);
}

/* Append attribute @type; returns it (for nesting), or NULL if full. */
static struct rtattr *nl_attr(struct nlreq *r, int type, const void *data,
			      size_t len)
{
	struct rtattr *rta = nl_tail(r);
	size_t need = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_SPACE(len);

	if (need > sizeof(r->buf)) {
		warn("rtnetlink request too large");
		return NULL;
	}
	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	if (len)
		memcpy(RTA_DATA(rta), data, len);
	r->nh.nlmsg_len = need;
	return rta;
}

/* Close a nest opened with nl_attr(r, type, NULL, 0). */
static void nl_nest_end(struct nlreq *r, struct rtattr *nest)
{
	nest->rta_len = (char *)nl_tail(r) - (char *)nest;
}

/* Send @r from a NETLINK_ROUTE socket in @ns (NULL: the caller's) and wait
 * for the kernel's ACK. 0, or -1 with the errno it gave in errno. */
static int nl_talk(const char *ns, struct nlreq *r, const char *what)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK };
	char reply[4096];
	int saved = -1, fd, err = 0;
	ssize_t n;

	if (ns) {
		saved = netns_enter(ns);
		if (saved < 0)
			return -1;
	}
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (ns && netns_leave(saved)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (fd < 0) {
		warn("netlink socket: %s", strerror(errno));
		return -1;
	}
	r->nh.nlmsg_seq = 1;
	if (sendto(fd, r->buf, r->nh.nlmsg_len, 0, (struct sockaddr *)&sa,
		   sizeof(sa)) < 0) {
		err = errno;
		goto out;
	}
	for (;;) {
		struct nlmsghdr *nh;

		n = recv(fd, reply, sizeof(reply), 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			err = errno;
			goto out;
		}
		for (nh = (struct nlmsghdr *)reply; NLMSG_OK(nh, n);
		     nh = NLMSG_NEXT(nh, n)) {
			if (nh->nlmsg_type == NLMSG_ERROR) {
				struct nlmsgerr *e = NLMSG_DATA(nh);

				err = -e->error;
				goto out;
			}
		}
	}
out:
	close(fd);
	if (err) {
		warn("%s%s%s: %s", what, ns ? " in " : "", ns ? ns : "",
		     strerror(err));
		errno = err;
		return -1;
	}
	return 0;
}

/* The ifindex of @ifname in @ns, or 0 (with a message). */
static int ifindex_in(const char *ns, const char *ifname)
{
	int saved, idx;

	saved = netns_enter(ns);
	if (saved < 0)
		return 0;
	idx = if_nametoindex(ifname);
	if (!idx)
		warn("no %s in %s: %s", ifname, ns, strerror(errno));
	if (netns_leave(saved))
		return 0;
	return idx;
}

/*
 * In the calling thread's namespace, orphaned connections (closed by their
 * application, still sending a FIN or data: FIN_WAIT1, CLOSING, LAST_ACK)
 * give up after one retransmission instead of the default's 8 with backoff.
 * A test that ends with such a connection to a peer namespace it deletes
 * would otherwise leave it retransmitting for minutes, and its socket holds
 * the module through the stealth ULP: the unload tests after it then find
 * the module in use (sockstat "orphan 1"). 0 or -1.
 */
static int orphan_retries_low(void)
{
	if (netns_sysctl_set(NULL, "net.ipv4.tcp_orphan_retries", "1")) {
		warn("net.ipv4.tcp_orphan_retries: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int netns_add(const char *name)
{
	char path[128];
	int saved, fd, ret = -1;

	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST) {
		warn("mkdir " NETNS_RUN_DIR ": %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		warn("create %s: %s", path, strerror(errno));
		return -1;
	}
	close(fd);
	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		warn("open /proc/thread-self/ns/net: %s", strerror(errno));
		goto out;
	}
	if (unshare(CLONE_NEWNET)) {
		warn("unshare(CLONE_NEWNET): %s", strerror(errno));
		goto out;
	}
	if (mount("/proc/thread-self/ns/net", path, "none", MS_BIND, NULL))
		warn("bind-mount netns on %s: %s", path, strerror(errno));
	else
		ret = orphan_retries_low();
	if (setns(saved, CLONE_NEWNET)) {
		warn("setns back: %s", strerror(errno));
		ret = -1;
	}
out:
	if (saved >= 0)
		close(saved);
	if (ret)
		netns_del(name);
	return ret;
}

/* Write @text to /proc/@pid/@file. 0, or -1 with a message. */
static int proc_write(pid_t pid, const char *file, const char *text)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		warn("open %s: %s", path, strerror(errno));
		return -1;
	}
	n = write(fd, text, strlen(text));
	if (n != (ssize_t)strlen(text))
		warn("write %s: %s", path, n < 0 ? strerror(errno) : "short");
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/*
 * A child that makes a user namespace and a network namespace owned by it
 * (unshare(), as `unshare -Un` does), says so on @up (one byte, 0 if it
 * worked) and then holds both until @down closes. Never returns.
 */
static void __attribute__((noreturn)) userns_child(int up, int down)
{
	char c = 0;

	if (unshare(CLONE_NEWUSER | CLONE_NEWNET)) {
		warn("unshare(CLONE_NEWUSER | CLONE_NEWNET): %s",
		     strerror(errno));
		c = 1;
	}
	if (write(up, &c, 1) == 1)
		while (read(down, &c, 1) < 0 && errno == EINTR)
			;
	_exit(0);
}

int netns_add_userns(const char *name, unsigned int uid)
{
	int up[2] = { -1, -1 }, down[2] = { -1, -1 }, ret = -1, fd;
	char path[128], src[64], map[32];
	pid_t pid = -1;
	char c = 1;

	if (mkdir(NETNS_RUN_DIR, 0755) && errno != EEXIST) {
		warn("mkdir " NETNS_RUN_DIR ": %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	if (pipe2(up, O_CLOEXEC) || pipe2(down, O_CLOEXEC)) {
		warn("pipe: %s", strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		warn("fork: %s", strerror(errno));
		goto out;
	}
	if (!pid) {
		close(up[0]);
		close(down[1]);
		userns_child(up[1], down[0]);
	}
	close(up[1]);
	up[1] = -1;
	if (read(up[0], &c, 1) != 1 || c)
		goto out;
	/*
	 * The child's root is @uid outside. Written from here: mapping
	 * another uid takes CAP_SETUID in the parent user namespace, which
	 * the child, inside its own, does not have.
	 */
	snprintf(map, sizeof(map), "0 %u 1\n", uid);
	if (proc_write(pid, "uid_map", map) || proc_write(pid, "gid_map", map))
		goto out;
	fd = open(path, O_RDONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0);
	if (fd < 0) {
		warn("create %s: %s", path, strerror(errno));
		goto out;
	}
	close(fd);
	snprintf(src, sizeof(src), "/proc/%d/ns/net", (int)pid);
	if (mount(src, path, "none", MS_BIND, NULL)) {
		warn("bind-mount %s on %s: %s", src, path, strerror(errno));
		unlink(path);
		goto out;
	}
	/* See orphan_retries_low(). */
	ret = netns_sysctl_set(name, "net.ipv4.tcp_orphan_retries", "1");
	if (ret) {
		warn("net.ipv4.tcp_orphan_retries in %s: %s", name,
		     strerror(errno));
		netns_del(name);
	}
out:
	for (int i = 0; i < 2; i++) {
		if (up[i] >= 0)
			close(up[i]);
		if (down[i] >= 0)
			close(down[i]);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return ret;
}

int netns_del(const char *name)
{
	char path[128];

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", name);
	if (access(path, F_OK))
		return 0;
	if (umount2(path, MNT_DETACH) && errno != EINVAL)
		warn("umount %s: %s", path, strerror(errno));
	if (unlink(path)) {
		warn("unlink %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

int netns_link_up(const char *ns, const char *ifname)
{
	struct ifinfomsg ifi = {
		.ifi_family = AF_UNSPEC,
		.ifi_flags = IFF_UP,
		.ifi_change = IFF_UP,
	};
	struct nlreq r;
	char what[96];

	ifi.ifi_index = ifindex_in(ns, ifname);
	if (!ifi.ifi_index)
		return -1;
	nl_init(&r, RTM_NEWLINK, 0, &ifi, sizeof(ifi));
	snprintf(what, sizeof(what), "set %s up", ifname);
	return nl_talk(ns, &r, what);
}

int netns_veth_add(const char *ns, const char *ifname, const char *peer_ns,
		   const char *peer_ifname)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	struct rtattr *linkinfo, *data, *peer;
	char path[128], what[160];
	struct nlreq r;
	int peer_fd, ret = -1;

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", peer_ns);
	peer_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (peer_fd < 0) {
		warn("open %s: %s", path, strerror(errno));
		return -1;
	}
	nl_init(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, &ifi, sizeof(ifi));
	if (!nl_attr(&r, IFLA_IFNAME, ifname, strlen(ifname) + 1))
		goto out;
	linkinfo = nl_attr(&r, IFLA_LINKINFO, NULL, 0);
	if (!linkinfo || !nl_attr(&r, IFLA_INFO_KIND, "veth", 5))
		goto out;
	data = nl_attr(&r, IFLA_INFO_DATA, NULL, 0);
	if (!data)
		goto out;
	/* VETH_INFO_PEER holds a struct ifinfomsg, then the peer's attrs. */
	peer = nl_attr(&r, VETH_INFO_PEER, &ifi, sizeof(ifi));
	if (!peer ||
	    !nl_attr(&r, IFLA_IFNAME, peer_ifname, strlen(peer_ifname) + 1) ||
	    !nl_attr(&r, IFLA_NET_NS_FD, &peer_fd, sizeof(peer_fd)))
		goto out;
	nl_nest_end(&r, peer);
	nl_nest_end(&r, data);
	nl_nest_end(&r, linkinfo);
	snprintf(what, sizeof(what), "add veth %s (peer %s in %s)", ifname,
		 peer_ifname, peer_ns);
	ret = nl_talk(ns, &r, what);
out:
	close(peer_fd);
	return ret;
}

/* Parse a v4 or v6 address into @bin; returns its family, or 0. */
static int parse_addr(const char *addr, unsigned char bin[16], size_t *alen)
{
	if (inet_pton(AF_INET, addr, bin) == 1) {
		*alen = 4;
		return AF_INET;
	}
	if (inet_pton(AF_INET6, addr, bin) == 1) {
		*alen = 16;
		return AF_INET6;
	}
	warn("not an address: %s", addr);
	return 0;
}

int netns_addr_add(const char *ns, const char *ifname, const char *addr,
		   int prefixlen)
{
	struct ifaddrmsg ifa = { .ifa_prefixlen = prefixlen };
	unsigned char bin[16];
	size_t alen;
	struct nlreq r;
	char what[128];

	ifa.ifa_family = parse_addr(addr, bin, &alen);
	if (!ifa.ifa_family)
		return -1;
	/* Usable at once: no duplicate address detection. */
	if (ifa.ifa_family == AF_INET6)
		ifa.ifa_flags = IFA_F_NODAD;
	ifa.ifa_index = ifindex_in(ns, ifname);
	if (!ifa.ifa_index)
		return -1;
	nl_init(&r, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, &ifa, sizeof(ifa));
	if (!nl_attr(&r, IFA_LOCAL, bin, alen) ||
	    !nl_attr(&r, IFA_ADDRESS, bin, alen))
		return -1;
	snprintf(what, sizeof(what), "add %s/%d to %s", addr, prefixlen,
		 ifname);
	return nl_talk(ns, &r, what);
}

int netns_route_add(const char *ns, const char *dst, int prefixlen,
		    const char *gateway)
{
	struct rtmsg rtm = {
		.rtm_table = RT_TABLE_MAIN,
		.rtm_protocol = RTPROT_BOOT,
		.rtm_scope = RT_SCOPE_UNIVERSE,
		.rtm_type = RTN_UNICAST,
	};
	unsigned char gw[16], net[16];
	size_t alen;
	struct nlreq r;
	char what[128];

	rtm.rtm_family = parse_addr(gateway, gw, &alen);
	if (!rtm.rtm_family)
		return -1;
	if (dst && inet_pton(rtm.rtm_family, dst, net) != 1) {
		warn("not an address of the gateway's family: %s", dst);
		return -1;
	}
	rtm.rtm_dst_len = dst ? prefixlen : 0;
	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtm, sizeof(rtm));
	if ((dst && !nl_attr(&r, RTA_DST, net, alen)) ||
	    !nl_attr(&r, RTA_GATEWAY, gw, alen))
		return -1;
	snprintf(what, sizeof(what), "add route to %s/%d via %s",
		 dst ? dst : "default", rtm.rtm_dst_len, gateway);
	return nl_talk(ns, &r, what);
}

/*
 * A route of @type (no gateway) to DST/PREFIXLEN with TOS @tos in @table,
 * by @ifname (NULL: none, as for "unreachable"); @what names it in a
 * message.
 */
static int route_add_typed(const char *ns, int type, const char *dst,
			   int prefixlen, int tos, unsigned int table,
			   const char *ifname, const char *what)
{
	struct rtmsg rtm = {
		.rtm_tos = tos,
		.rtm_table = table < 256 ? table : RT_TABLE_UNSPEC,
		.rtm_protocol = RTPROT_BOOT,
		/* As ip(8) sets it: host for local routes, else universe. */
		.rtm_scope = type == RTN_LOCAL ? RT_SCOPE_HOST :
			RT_SCOPE_UNIVERSE,
		.rtm_type = type,
		.rtm_dst_len = prefixlen,
	};
	unsigned char net[16];
	size_t alen;
	struct nlreq r;
	int oif = 0;

	rtm.rtm_family = parse_addr(dst, net, &alen);
	if (!rtm.rtm_family)
		return -1;
	if (ifname) {
		oif = ifindex_in(ns, ifname);
		if (!oif)
			return -1;
	}
	nl_init(&r, RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, &rtm, sizeof(rtm));
	if (!nl_attr(&r, RTA_DST, net, alen) ||
	    (oif && !nl_attr(&r, RTA_OIF, &oif, sizeof(oif))) ||
	    !nl_attr(&r, RTA_TABLE, &table, sizeof(table)))
		return -1;
	return nl_talk(ns, &r, what);
}

int netns_route_add_local(const char *ns, const char *dst, int prefixlen,
			  int tos, const char *ifname)
{
	char what[128];

	snprintf(what, sizeof(what), "add local route %s/%d tos 0x%02x dev %s",
		 dst, prefixlen, tos, ifname);
	return route_add_typed(ns, RTN_LOCAL, dst, prefixlen, tos,
			       RT_TABLE_LOCAL, ifname, what);
}

int netns_route_add_table(const char *ns, int type, const char *dst,
			  int prefixlen, unsigned int table, const char *ifname)
{
	char what[160];

	snprintf(what, sizeof(what), "add route type %d %s/%d%s%s table %u",
		 type, dst, prefixlen, ifname ? " dev " : "",
		 ifname ? ifname : "", table);
	return route_add_typed(ns, type, dst, prefixlen, 0, table, ifname,
			       what);
}

/*
 * nl_talk() in @ns from the user namespace that owns @ns: the kernel takes
 * a rule's uid range only from a sender in that user namespace (its uids
 * are read there), not from root of an ancestor. From a child that joins
 * it (and @ns) where that is not the caller's own.
 */
static int nl_talk_as_owner(const char *ns, struct nlreq *r, const char *what)
{
	struct stat own, owner;
	char path[128];
	int nsfd, userfd = -1, ret = -1, status;
	pid_t pid;

	snprintf(path, sizeof(path), NETNS_RUN_DIR "/%s", ns);
	nsfd = open(path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		warn("open %s: %s", path, strerror(errno));
		return -1;
	}
	userfd = ioctl(nsfd, NS_GET_USERNS);
	if (userfd < 0 || fstat(userfd, &owner) ||
	    stat("/proc/self/ns/user", &own)) {
		warn("the user namespace owning %s: %s", ns, strerror(errno));
		goto out;
	}
	if (own.st_dev == owner.st_dev && own.st_ino == owner.st_ino) {
		ret = nl_talk(ns, r, what);
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		warn("fork: %s", strerror(errno));
		goto out;
	}
	if (!pid) {
		if (setns(userfd, CLONE_NEWUSER) || setns(nsfd, CLONE_NEWNET)) {
			warn("join %s and its user namespace: %s", ns,
			     strerror(errno));
			_exit(1);
		}
		_exit(nl_talk(NULL, r, what) ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
	    !WEXITSTATUS(status))
		ret = 0;
out:
	if (userfd >= 0)
		close(userfd);
	close(nsfd);
	return ret;
}

int netns_rule_add(const char *ns, const struct netns_rule *rule)
{
	struct fib_rule_hdr frh = {
		.family = rule->family,
		.action = FR_ACT_TO_TBL,
		.table = rule->table < 256 ? rule->table : RT_TABLE_UNSPEC,
	};
	struct fib_rule_uid_range uids = {
		.start = rule->uid_start, .end = rule->uid_end,
	};
	struct nlreq r;
	char what[160];

	nl_init(&r, RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, &frh, sizeof(frh));
	if ((rule->priority &&
	     !nl_attr(&r, FRA_PRIORITY, &rule->priority,
		      sizeof(rule->priority))) ||
	    (rule->fwmark &&
	     !nl_attr(&r, FRA_FWMARK, &rule->fwmark, sizeof(rule->fwmark))) ||
	    (rule->uidrange && !nl_attr(&r, FRA_UID_RANGE, &uids, sizeof(uids))) ||
	    !nl_attr(&r, FRA_TABLE, &rule->table, sizeof(rule->table)))
		return -1;
	snprintf(what, sizeof(what),
		 "add %s rule pref %u fwmark %#x uidrange %s%u-%u lookup %u",
		 rule->family == AF_INET6 ? "IPv6" : "IPv4", rule->priority,
		 rule->fwmark, rule->uidrange ? "" : "(none) ", rule->uid_start,
		 rule->uid_end, rule->table);
	return rule->uidrange ? nl_talk_as_owner(ns, &r, what) :
		nl_talk(ns, &r, what);
}

/* /proc/sys/<key with dots as slashes>, opened in @ns. */
static int sysctl_open(const char *ns, const char *key, int flags)
{
	char path[256];
	int saved = -1, fd, i, n;

	n = snprintf(path, sizeof(path), "/proc/sys/%s", key);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		warn("sysctl name too long: %s", key);
		errno = ENAMETOOLONG;
		return -1;
	}
	for (i = strlen("/proc/sys/"); path[i]; i++)
		if (path[i] == '.')
			path[i] = '/';
	if (ns) {
		saved = netns_enter(ns);
		if (saved < 0)
			return -1;
	}
	/* /proc/sys/net follows the netns of the opener. */
	fd = open(path, flags | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		if (ns)
			netns_leave(saved);
		errno = e;
		return -1;
	}
	if (ns && netns_leave(saved)) {
		close(fd);
		return -1;
	}
	return fd;
}

int netns_sysctl_set(const char *ns, const char *key, const char *fmt, ...)
{
	char val[128];
	va_list ap;
	ssize_t n;
	int fd, len, e;

	va_start(ap, fmt);
	len = vsnprintf(val, sizeof(val), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(val)) {
		errno = EINVAL;
		return -1;
	}
	fd = sysctl_open(ns, key, O_WRONLY);
	if (fd < 0)
		return -1;
	n = write(fd, val, len);
	e = errno;
	close(fd);
	if (n != len) {
		errno = n < 0 ? e : EIO;
		return -1;
	}
	return 0;
}

long long netns_sysctl_get(const char *ns, const char *key)
{
	char val[64];
	ssize_t n;
	char *end;
	long long v;
	int fd;

	fd = sysctl_open(ns, key, O_RDONLY);
	if (fd < 0) {
		warn("read %s%s%s: %s", key, ns ? " in " : "", ns ? ns : "",
		     strerror(errno));
		return -1;
	}
	n = read(fd, val, sizeof(val) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	val[n] = 0;
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno || end == val || (*end && *end != '\n'))
		return -1;
	return v;
}
