// SPDX-License-Identifier: GPL-2.0
/* Helpers for tcp_stealth selftests that use the module; see stealth.h. */
#include <errno.h>
#include <linux/fou.h>
#include <linux/genetlink.h>
#include <linux/netlink.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <linux/tcp_stealth.h>
#include "netns.h"
#include "stealth.h"

/* Attach the ULP (unless @single, which relies on the kernel patch). */
int set_secret(int fd, const char *secret, int single)
{
	if (!single && setsockopt(fd, IPPROTO_TCP, TCP_ULP, "stealth", 7))
		return -errno;
	if (setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, secret, strlen(secret)))
		return -errno;
	return 0;
}

int kernel_patched(void)
{
	const char *u = getenv("TCP_STEALTH_UNPATCHED");

	return !(u && strcmp(u, "1") == 0);
}

int key_op(int fd, __u32 flags, const char *secret)
{
	struct tcp_stealth_key k = { .flags = flags };

	k.secret_len = strlen(secret);
	memcpy(k.secret, secret, k.secret_len);
	return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_KEY, &k, sizeof(k)) ? -errno : 0;
}

/* A TCP socket in namespace @ns. */
int sock_in(const char *ns, int family)
{
	int saved = netns_enter(ns), fd;

	if (saved < 0)
		return -1;
	fd = socket(family, SOCK_STREAM, 0);
	netns_leave(saved);
	return fd;
}

/* A listener in @ns on @addr:@port protected with @secret (NULL: plain). */
int listener_on(const char *ns, int family, const char *addr, int port,
		const char *secret, int backlog)
{
	return listener_on_dev(ns, family, addr, port, NULL, secret, backlog);
}

int listener_on_dev(const char *ns, int family, const char *addr, int port,
		    const char *dev, const char *secret, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(family, addr, port, &ss);
	int fd = sock_in(ns, family), one = 1;

	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if ((dev && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, dev, strlen(dev) + 1)) ||
	    (secret && set_secret(fd, secret, 0)) ||
	    bind(fd, (struct sockaddr *)&ss, len) || listen(fd, backlog)) {
		close(fd);
		return -1;
	}
	return fd;
}

int listener(const char *ns, int family, const char *addr,
	     const char *secret)
{
	return listener_on(ns, family, addr, PORT, secret, 16);
}

/* connect() with a timeout: 0, or -errno (-ETIMEDOUT when nothing came). */
int connect_to(int fd, int family, const char *addr, int port,
		      int timeout_ms)
{
	struct sockaddr_storage ss;
	socklen_t len = netns_sockaddr(family, addr, port, &ss);
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof(err);
	int fl = fcntl(fd, F_GETFL);

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, (struct sockaddr *)&ss, len) == 0)
		goto out;
	if (errno != EINPROGRESS)
		return -errno;
	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) || err)
		return -err;
out:
	fcntl(fd, F_SETFL, fl);
	sock_set_timeouts(fd, NETNS_TIMEOUT_MS);
	return 0;
}

/* A client in @ns with @secret (NULL: plain) connecting to @addr. */
int client(const char *ns, int family, const char *addr,
		  const char *secret, int *fd_out)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -EBADF;
	if (secret && (ret = set_secret(fd, secret, 0))) {
		close(fd);
		return ret;
	}
	ret = connect_to(fd, family, addr, PORT, 4000);
	if (ret || !fd_out)
		close(fd);
	else
		*fd_out = fd;
	return ret;
}

/* Data flows both ways between a fresh connection's two ends. */
int exchange(int cfd, int lfd)
{
	char buf[5];
	int afd = tcp_accept_timeout(lfd, 4000), ret = -1;

	if (afd < 0)
		return -1;
	if (!write_all(cfd, "knock", 5) && !read_all(afd, buf, 5) &&
	    !memcmp(buf, "knock", 5) && !write_all(afd, "hello", 5) &&
	    !read_all(cfd, buf, 5) && !memcmp(buf, "hello", 5))
		ret = 0;
	close(afd);
	return ret;
}

/* ---- netlink ------------------------------------------------------------- */

void nl_put_attr(struct nlmsghdr *nh, int type, const void *data, int len)
{
	struct nlattr *a = (struct nlattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	a->nla_type = type;
	a->nla_len = NLA_HDRLEN + len;
	memcpy((char *)a + NLA_HDRLEN, data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + NLA_ALIGN(a->nla_len);
}

int nl_call(int fd, struct nlmsghdr *req)
{
	char buf[512];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	int n;

	req->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
	if (send(fd, req, req->nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	for (; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n))
		if (nh->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
	return -EPROTO;
}

struct genl_req {
	struct nlmsghdr nh;
	struct genlmsghdr gh;
	char attrs[256];
};

int genl_family_id(int fd, const char *name)
{
	struct genl_req r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
			.nlmsg_type = GENL_ID_CTRL, .nlmsg_flags = NLM_F_REQUEST },
		.gh = { .cmd = CTRL_CMD_GETFAMILY, .version = 1 },
	};
	char buf[4096];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;
	int n;

	nl_put_attr(&r.nh, CTRL_ATTR_FAMILY_NAME, name, strlen(name) + 1);
	if (send(fd, &r, r.nh.nlmsg_len, 0) < 0)
		return -errno;
	n = recv(fd, buf, sizeof(buf), 0);
	if (n < 0)
		return -errno;
	for (; NLMSG_OK(nh, n); nh = NLMSG_NEXT(nh, n)) {
		struct nlattr *a;
		int len;

		if (nh->nlmsg_type == NLMSG_ERROR)
			return ((struct nlmsgerr *)NLMSG_DATA(nh))->error;
		a = (struct nlattr *)((char *)NLMSG_DATA(nh) + GENL_HDRLEN);
		len = nh->nlmsg_len - NLMSG_LENGTH(GENL_HDRLEN);
		for (; len >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= len;
		     len -= NLA_ALIGN(a->nla_len),
		     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
			if (a->nla_type == CTRL_ATTR_FAMILY_ID)
				return *(__u16 *)((char *)a + NLA_HDRLEN);
	}
	return -ENOENT;
}

int genl_socket(const char *ns)
{
	int saved = netns_enter(ns), fd;

	if (saved < 0)
		return -EBADF;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_GENERIC);
	netns_leave(saved);
	if (fd < 0)
		return -errno;
	sock_set_timeouts(fd, 2000);
	return fd;
}

int policy_send(int fd, int cmd, int port, const void *secret, int len)
{
	struct genl_req r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) },
		.gh = { .cmd = cmd, .version = TCP_STEALTH_GENL_VERSION },
	};
	int id = genl_family_id(fd, TCP_STEALTH_GENL_NAME);
	__u16 p = port;

	if (id < 0)
		return id;
	r.nh.nlmsg_type = id;
	if (port >= 0)
		nl_put_attr(&r.nh, TCP_STEALTH_A_PORT, &p, sizeof(p));
	if (secret)
		nl_put_attr(&r.nh, TCP_STEALTH_A_SECRET, secret, len);
	return nl_call(fd, &r.nh);
}

int policy_call(const char *ns, int cmd, const struct policy_attr *attrs,
		int n, char *msg, int msglen)
{
	struct genl_req r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN),
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK },
		.gh = { .cmd = cmd, .version = TCP_STEALTH_GENL_VERSION },
	};
	int fd = genl_socket(ns), one = 1, id, len, ret = -EPROTO, i;
	char buf[1024];
	struct nlmsghdr *nh = (struct nlmsghdr *)buf;

	if (msg && msglen)
		msg[0] = 0;
	if (fd < 0)
		return fd;
	setsockopt(fd, SOL_NETLINK, NETLINK_EXT_ACK, &one, sizeof(one));
	setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof(one));
	id = genl_family_id(fd, TCP_STEALTH_GENL_NAME);
	if (id < 0) {
		close(fd);
		return id;
	}
	r.nh.nlmsg_type = id;
	for (i = 0; i < n; i++)
		nl_put_attr(&r.nh, attrs[i].type, attrs[i].data, attrs[i].len);
	if (send(fd, &r, r.nh.nlmsg_len, 0) < 0) {
		close(fd);
		return -errno;
	}
	len = recv(fd, buf, sizeof(buf), 0);
	close(fd);
	if (len < 0)
		return -errno;
	for (; NLMSG_OK(nh, len); nh = NLMSG_NEXT(nh, len)) {
		struct nlmsgerr *e = NLMSG_DATA(nh);
		struct nlattr *a;
		int left;

		if (nh->nlmsg_type != NLMSG_ERROR)
			continue;
		ret = e->error;
		/* With NETLINK_CAP_ACK the request comes back as its header. */
		a = (struct nlattr *)((char *)e + sizeof(*e));
		left = (int)nh->nlmsg_len - NLMSG_LENGTH(sizeof(*e));
		if (!(nh->nlmsg_flags & NLM_F_ACK_TLVS))
			left = 0;
		for (; left >= NLA_HDRLEN && a->nla_len >= NLA_HDRLEN && a->nla_len <= left;
		     left -= NLA_ALIGN(a->nla_len),
		     a = (struct nlattr *)((char *)a + NLA_ALIGN(a->nla_len)))
			if (a->nla_type == NLMSGERR_ATTR_MSG && msg && msglen) {
				snprintf(msg, msglen, "%.*s", a->nla_len - NLA_HDRLEN,
					 (char *)a + NLA_HDRLEN);
			}
		break;
	}
	return ret;
}

int policy_req(const char *ns, int cmd, int port, const void *secret, int len)
{
	int fd = genl_socket(ns), ret;

	if (fd < 0)
		return fd;
	ret = policy_send(fd, cmd, port, secret, len);
	close(fd);
	return ret;
}

int integrity_listener(const char *ns, int family, const char *secret, int n)
{
	int fd = listener(ns, family, netns_addr_b(family), secret);

	if (fd >= 0 && n &&
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n))) {
		close(fd);
		return -1;
	}
	return fd;
}

int integrity_client(const char *ns, int family, const char *secret,
		     const void *commit, int len, int *fd_out)
{
	return integrity_client_to(ns, family, PORT, secret, commit, len, fd_out);
}

int integrity_client_to(const char *ns, int family, int port, const char *secret,
			const void *commit, int len, int *fd_out)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -EBADF;
	ret = set_secret(fd, secret, 0);
	if (!ret && commit &&
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, commit, len))
		ret = -errno;
	if (!ret)
		ret = connect_to(fd, family, netns_addr_b(family), port, 4000);
	if (ret)
		close(fd);
	else
		*fd_out = fd;
	return ret;
}

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000LL + t.tv_nsec / 1000000;
}

long long wait_counter(const char *ns, const char *name, long long want)
{
	long long end = now_ms() + 5000, v;

	while ((v = stealth_counter(ns, name)) < want && now_ms() < end)
		usleep(20000);
	return v;
}

int drop_big_segments(const char *ns, int bytes)
{
	return netns_system(ns,
		"nft 'add table inet t; "
		"add chain inet t in { type filter hook input priority -50; }; "
		"add rule inet t in tcp dport %d meta length gt 200 "
		"quota until %d bytes counter drop'", PORT, bytes) ? -1 : 0;
}

int dropped_segments(const char *ns, int packets)
{
	return netns_system(ns,
			    "nft list chain inet t in | grep -q 'packets %d ' || "
			    "{ nft list chain inet t in >&2; false; }", packets) ? -1 : 0;
}

int write_str(const char *dir, const char *file, const char *s)
{
	char path[512];
	int fd, ret = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* `ip fou add port PORT [ipproto 6 | gue]` in @ns: see stealth.h. */
int fou_port_add(const char *ns, int family, int port, bool gue)
{
	struct {
		struct nlmsghdr nh;
		struct genlmsghdr gh;
		char attrs[64];
	} r = {
		.nh = { .nlmsg_len = NLMSG_LENGTH(GENL_HDRLEN) },
		.gh = { .cmd = FOU_CMD_ADD, .version = FOU_GENL_VERSION },
	};
	uint8_t af = family, proto = IPPROTO_TCP;
	uint8_t type = gue ? FOU_ENCAP_GUE : FOU_ENCAP_DIRECT;
	uint16_t nport = htons(port);
	int fd = genl_socket(ns), id, ret;

	if (fd < 0)
		return fd;
	id = genl_family_id(fd, FOU_GENL_NAME);
	if (id < 0) {
		fprintf(stderr, "# generic netlink family " FOU_GENL_NAME
			": %s\n", strerror(-id));
		close(fd);
		return id;
	}
	r.nh.nlmsg_type = id;
	nl_put_attr(&r.nh, FOU_ATTR_PORT, &nport, sizeof(nport));
	nl_put_attr(&r.nh, FOU_ATTR_AF, &af, sizeof(af));
	nl_put_attr(&r.nh, FOU_ATTR_IPPROTO, &proto, sizeof(proto));
	nl_put_attr(&r.nh, FOU_ATTR_TYPE, &type, sizeof(type));
	ret = nl_call(fd, &r.nh);
	if (ret)
		fprintf(stderr, "# fou add port %d: %s\n", port,
			strerror(-ret));
	close(fd);
	return ret;
}
