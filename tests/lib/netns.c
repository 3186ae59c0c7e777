// SPDX-License-Identifier: GPL-2.0
/* Helpers for tcp_stealth selftests: see netns.h. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "netns.h"

#define warn(fmt, ...) fprintf(stderr, "# netns: " fmt "\n", ##__VA_ARGS__)

int netns_enter(const char *name)
{
	char path[128];
	int saved, fd;

	saved = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (saved < 0) {
		warn("open /proc/thread-self/ns/net: %s", strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		warn("open %s: %s", path, strerror(errno));
		close(saved);
		return -1;
	}
	if (setns(fd, CLONE_NEWNET)) {
		warn("setns %s: %s", path, strerror(errno));
		close(fd);
		close(saved);
		return -1;
	}
	close(fd);
	return saved;
}

int netns_leave(int saved_fd)
{
	int ret = 0;

	if (saved_fd < 0)
		return -1;
	if (setns(saved_fd, CLONE_NEWNET)) {
		warn("setns back: %s", strerror(errno));
		ret = -1;
	}
	close(saved_fd);
	return ret;
}

/* A command that needs no shell, split by split_plain(). */
struct plain_cmd {
	char *argv[64];
	char *env[8];		/* leading NAME=value words */
	char *redir[8];		/* <F >F 2>F >&2 2>&1 words, in order */
	int nenv, nredir;
};

/*
 * Split @cmd in place into @pc if it is a plain command: words separated by
 * blanks, '...' quoting allowed, leading NAME=value assignments, and the
 * redirections <FILE, >FILE, 2>FILE, >&2 and 2>&1 as words of their own.
 * Returns the argument count, or 0 if the command needs a shell (pipes,
 * lists, variables, globs, other quoting).
 */
static int split_plain(char *cmd, struct plain_cmd *pc)
{
	char *r = cmd, *w = cmd;
	int argc = 0;

	pc->nenv = pc->nredir = 0;
	for (;;) {
		char *word = w;
		int quoted = 0;

		while (*r == ' ' || *r == '\t')
			r++;
		if (!*r)
			break;
		while (*r && *r != ' ' && *r != '\t') {
			if (*r == '\'') {
				char *end = strchr(r + 1, '\'');

				if (!end)
					return 0;
				memmove(w, r + 1, end - r - 1);
				w += end - r - 1;
				r = end + 1;
				quoted = 1;
				continue;
			}
			if (strchr("|;()$`\\\"*?[~#\n{}", *r))
				return 0;
			*w++ = *r++;
		}
		/* The terminator of this word may be the next word's start. */
		if (*r)
			r++;
		*w++ = 0;
		if (!quoted && (word[0] == '<' || word[0] == '>' ||
				!strncmp(word, "2>", 2))) {
			if (pc->nredir == 8)
				return 0;
			pc->redir[pc->nredir++] = word;
		} else if (!quoted && strchr(word, '&')) {
			return 0;
		} else if (!argc && !quoted && strchr(word, '=')) {
			const char *c = word;

			if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') ||
			      (*c >= 'a' && *c <= 'z')) || pc->nenv == 8)
				return 0;
			while (*c != '=')
				if (!(*c == '_' || (*c >= 'A' && *c <= 'Z') ||
				      (*c >= 'a' && *c <= 'z') ||
				      (*c >= '0' && *c <= '9')))
					return 0;
				else
					c++;
			pc->env[pc->nenv++] = word;
		} else {
			if (argc == 63)
				return 0;
			pc->argv[argc++] = word;
		}
	}
	pc->argv[argc] = NULL;
	return argc;
}

/* In the child: apply @pc's redirections and assignments, then exec it. */
static void exec_plain(struct plain_cmd *pc)
{
	int i;

	for (i = 0; i < pc->nredir; i++) {
		char *rd = pc->redir[i];
		int fd, target, flags;

		if (!strcmp(rd, ">&2")) {
			dup2(STDERR_FILENO, STDOUT_FILENO);
			continue;
		}
		if (!strcmp(rd, "2>&1")) {
			dup2(STDOUT_FILENO, STDERR_FILENO);
			continue;
		}
		if (rd[0] == '<') {
			target = STDIN_FILENO;
			flags = O_RDONLY;
			rd++;
		} else {
			target = rd[0] == '2' ? STDERR_FILENO : STDOUT_FILENO;
			flags = O_WRONLY | O_CREAT | O_TRUNC;
			rd += rd[0] == '2' ? 2 : 1;
		}
		fd = open(rd, flags, 0666);
		if (fd < 0) {
			fprintf(stderr, "# netns: %s: %s\n", rd, strerror(errno));
			_exit(1);
		}
		dup2(fd, target);
		close(fd);
	}
	for (i = 0; i < pc->nenv; i++)
		putenv(pc->env[i]);
	execvp(pc->argv[0], pc->argv);
	fprintf(stderr, "# netns: %s: %s\n", pc->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

/* fork + (setns) + CMD, with the command's stdout sent to stderr so that it
 * can't be mistaken for TAP output. A plain command is exec'd directly, any
 * other through sh -c: under TCG every exec costs a quarter of a second. */
static int run_cmd(const char *ns, const char *cmd)
{
	int status;
	pid_t pid;

	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0) {
		warn("fork: %s", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (ns && netns_enter(ns) < 0)
			_exit(127);
		struct plain_cmd pc;
		char copy[1024];

		dup2(STDERR_FILENO, STDOUT_FILENO);
		snprintf(copy, sizeof(copy), "%s", cmd);
		if (split_plain(copy, &pc))
			exec_plain(&pc);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) != pid) {
		warn("waitpid: %s", strerror(errno));
		return -1;
	}
	if (!WIFEXITED(status)) {
		warn("'%s' killed by signal %d", cmd, WTERMSIG(status));
		return -1;
	}
	return WEXITSTATUS(status);
}

static int vrun(const char *ns, const char *prefix, const char *fmt,
		va_list ap)
{
	char cmd[1024];
	size_t n;
	int ret;

	n = snprintf(cmd, sizeof(cmd), "%s", prefix);
	vsnprintf(cmd + n, sizeof(cmd) - n, fmt, ap);
	ret = run_cmd(ns, cmd);
	/* Plain failures are the caller's to report (it may be polling). */
	if (ret < 0 || ret >= 126)
		warn("'%s'%s%s returned %d", cmd, ns ? " in " : "", ns ? ns : "",
		     ret);
	return ret;
}

int netns_system(const char *name, const char *fmt, ...)
{
	va_list ap;
	int ret;

	va_start(ap, fmt);
	ret = vrun(name, "", fmt, ap);
	va_end(ap);
	return ret;
}

/* A socket created in namespace @ns (sockets keep their namespace). */
static int socket_in(const char *ns, int family, int type)
{
	int saved = -1, fd;

	if (ns) {
		saved = netns_enter(ns);
		if (saved < 0)
			return -1;
	}
	fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0)
		warn("socket: %s", strerror(errno));
	if (ns && netns_leave(saved)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* IFF_RUNNING: @ifname in @ns is up and has carrier (both ends up). */
static int link_running(const char *ns, const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = socket_in(ns, AF_INET, SOCK_DGRAM);
	if (fd < 0)
		return 0;
	strncpy(ifr.ifr_name, ifname, sizeof(ifr.ifr_name) - 1);
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) == 0)
		ret = !!(ifr.ifr_flags & IFF_RUNNING);
	close(fd);
	return ret;
}

int netns_link_wait(const char *ns, const char *ifname, int timeout_ms)
{
	int waited;

	for (waited = 0; waited < timeout_ms; waited += 20) {
		if (link_running(ns, ifname))
			return 0;
		usleep(20 * 1000);
	}
	warn("%s: %s did not come up", ns, ifname);
	return -1;
}

int netns_ifindex(const char *ns, const char *ifname)
{
	int saved = netns_enter(ns), idx;

	if (saved < 0)
		return -1;
	idx = if_nametoindex(ifname);
	if (!idx)
		warn("%s: no %s: %s", ns, ifname, strerror(errno));
	if (netns_leave(saved))
		return -1;
	return idx ? idx : -1;
}

/* netns_pair_create(), with b owned by a user namespace if @b_uid >= 0. */
static int pair_create(struct netns_pair *p, const char *tag, long long b_uid)
{
	memset(p, 0, sizeof(*p));
	snprintf(p->a, sizeof(p->a), "%sa-%d", tag, (int)getpid());
	snprintf(p->b, sizeof(p->b), "%sb-%d", tag, (int)getpid());
	/* Leftovers from an earlier process with the same pid. */
	netns_del(p->a);
	netns_del(p->b);

	if (netns_add(p->a))
		goto fail;
	p->created |= 1;
	if (b_uid < 0 ? netns_add(p->b) : netns_add_userns(p->b, b_uid))
		goto fail;
	p->created |= 2;
	if (netns_link_up(p->a, "lo") || netns_link_up(p->b, "lo") ||
	    netns_veth_add(p->a, NETNS_IFNAME, p->b, NETNS_IFNAME) ||
	    netns_addr_add(p->a, NETNS_IFNAME, NETNS_A_IP4, 24) ||
	    netns_addr_add(p->a, NETNS_IFNAME, NETNS_A_IP6, 64) ||
	    netns_addr_add(p->b, NETNS_IFNAME, NETNS_B_IP4, 24) ||
	    netns_addr_add(p->b, NETNS_IFNAME, NETNS_B_IP6, 64) ||
	    netns_link_up(p->a, NETNS_IFNAME) ||
	    netns_link_up(p->b, NETNS_IFNAME)) {
		warn("setting up %s and %s failed", p->a, p->b);
		goto fail;
	}
	if (netns_link_wait(p->a, NETNS_IFNAME, 10000) ||
	    netns_link_wait(p->b, NETNS_IFNAME, 10000))
		goto fail;
	return 0;
fail:
	netns_pair_destroy(p);
	return -1;
}

int netns_pair_create(struct netns_pair *p, const char *tag)
{
	return pair_create(p, tag, -1);
}

int netns_pair_create_userns(struct netns_pair *p, const char *tag,
			     unsigned int b_uid)
{
	return pair_create(p, tag, b_uid);
}

const struct netns_ll_link netns_ll_links[NETNS_LL_LINKS] = {
	{ NETNS_IFNAME, "fe80::a:1", "fe80::a:2" },
	{ "veth1", "fe80::b:1", "fe80::b:2" },
};

int netns_ll_links_add(const struct netns_pair *p)
{
	if (netns_veth_add(p->a, "veth1", p->b, "veth1"))
		return -1;
	for (int i = 0; i < NETNS_LL_LINKS; i++) {
		const struct netns_ll_link *l = &netns_ll_links[i];

		if (netns_addr_add(p->a, l->ifname, l->a, 64) ||
		    netns_addr_add(p->b, l->ifname, l->b, 64) ||
		    netns_link_up(p->a, l->ifname) ||
		    netns_link_up(p->b, l->ifname) ||
		    netns_link_wait(p->a, l->ifname, 10000) ||
		    netns_link_wait(p->b, l->ifname, 10000))
			return -1;
	}
	return 0;
}

void netns_pair_destroy(struct netns_pair *p)
{
	if (p->created & 1)
		netns_del(p->a);
	if (p->created & 2)
		netns_del(p->b);
	p->created = 0;
}

const char *netns_addr_a(int family)
{
	return family == AF_INET6 ? NETNS_A_IP6 : NETNS_A_IP4;
}

const char *netns_addr_b(int family)
{
	return family == AF_INET6 ? NETNS_B_IP6 : NETNS_B_IP4;
}

socklen_t netns_sockaddr(int family, const char *addr, uint16_t port,
			 struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;

		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
			goto bad;
		return sizeof(*sin);
	}
	if (family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

		const char *scope = strchr(addr, '%');
		char plain[INET6_ADDRSTRLEN];
		char *end;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		if (scope) {
			/* "ADDR%INDEX": a scoped (link-local) address */
			if (scope - addr >= (long)sizeof(plain))
				goto bad;
			memcpy(plain, addr, scope - addr);
			plain[scope - addr] = 0;
			errno = 0;
			sin6->sin6_scope_id = strtoul(scope + 1, &end, 10);
			if (errno || end == scope + 1 || *end)
				goto bad;
			addr = plain;
		}
		if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
			goto bad;
		return sizeof(*sin6);
	}
bad:
	warn("bad address %s for family %d", addr, family);
	return (socklen_t)-1;
}

int sock_set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = {
		.tv_sec = timeout_ms / 1000,
		.tv_usec = (timeout_ms % 1000) * 1000,
	};

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv))) {
		warn("setsockopt timeouts: %s", strerror(errno));
		return -1;
	}
	return 0;
}

int tcp_listen_in(const char *ns, int family, const char *addr, uint16_t port,
		  uint16_t *port_out)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd, one = 1;

	len = netns_sockaddr(family, addr, port, &ss);
	if (len == (socklen_t)-1)
		return -1;
	fd = socket_in(ns, family, SOCK_STREAM);
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, len)) {
		warn("bind %s port %u: %s", addr, port, strerror(errno));
		goto fail;
	}
	if (listen(fd, 16)) {
		warn("listen: %s", strerror(errno));
		goto fail;
	}
	if (port_out) {
		len = sizeof(ss);
		if (getsockname(fd, (struct sockaddr *)&ss, &len)) {
			warn("getsockname: %s", strerror(errno));
			goto fail;
		}
		*port_out = ntohs(family == AF_INET6 ?
				  ((struct sockaddr_in6 *)&ss)->sin6_port :
				  ((struct sockaddr_in *)&ss)->sin_port);
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int set_nonblock(int fd, int on)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0)
		return -1;
	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

int tcp_connect_in(const char *ns, int family, const char *addr, uint16_t port,
		   int timeout_ms)
{
	struct sockaddr_storage ss;
	struct pollfd pfd;
	socklen_t len;
	int fd, err = 0, n;

	len = netns_sockaddr(family, addr, port, &ss);
	if (len == (socklen_t)-1)
		return -1;
	fd = socket_in(ns, family, SOCK_STREAM);
	if (fd < 0)
		return -1;
	if (set_nonblock(fd, 1))
		goto fail;
	if (connect(fd, (struct sockaddr *)&ss, len) && errno != EINPROGRESS) {
		warn("connect %s port %u: %s", addr, port, strerror(errno));
		goto fail;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	n = poll(&pfd, 1, timeout_ms);
	if (n <= 0) {
		warn("connect %s port %u: %s", addr, port,
		     n ? strerror(errno) : "timed out");
		goto fail;
	}
	len = sizeof(err);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err) {
		warn("connect %s port %u: %s", addr, port, strerror(err));
		goto fail;
	}
	if (set_nonblock(fd, 0) || sock_set_timeouts(fd, timeout_ms))
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

int tcp_accept_timeout(int lfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = lfd, .events = POLLIN };
	int n, fd;

	n = poll(&pfd, 1, timeout_ms);
	if (n <= 0) {
		warn("accept: %s", n ? strerror(errno) : "timed out");
		return -1;
	}
	fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		warn("accept: %s", strerror(errno));
		return -1;
	}
	if (sock_set_timeouts(fd, timeout_ms)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* send() (@out) or recv() exactly @len bytes at @p: 0, or -1 with a message. */
static int move_all(int fd, char *p, size_t len, bool out)
{
	while (len) {
		ssize_t n = out ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			warn("%s: %s", out ? "send" : "recv",
			     n ? strerror(errno) : out ? "wrote nothing" : "unexpected EOF");
			return -1;
		}
		p += n;
		len -= n;
	}
	return 0;
}

int write_all(int fd, const void *buf, size_t len)
{
	return move_all(fd, (char *)buf, len, true);
}

int read_all(int fd, void *buf, size_t len)
{
	return move_all(fd, buf, len, false);
}

long long stealth_counter(const char *ns, const char *name)
{
	char key[128];
	long long val, ret = -2;
	FILE *f = netns_fopen(ns, TCP_STEALTH_STATS);

	if (!f) {
		ret = errno == ENOENT ? -1 : -2;
		warn("open " TCP_STEALTH_STATS "%s%s: %s", ns ? " in " : "",
		     ns ? ns : "", strerror(errno));
		return ret;
	}
	while (fscanf(f, "%127s %lld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			ret = val;
			break;
		}
	}
	if (ret == -2)
		warn("no counter '%s' in " TCP_STEALTH_STATS, name);
	fclose(f);
	return ret;
}

int tcp_port_state_in(const char *ns, int port, int state)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	int found = 0, read_any = 0;
	char line[256];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]) && !found; i++) {
		FILE *f = netns_fopen(ns, files[i]);

		if (!f)
			continue;
		read_any = 1;
		/* "  sl  local_address rem_address   st ...": hex fields */
		while (!found && fgets(line, sizeof(line), f)) {
			unsigned int lport, rport, st;

			if (sscanf(line, " %*d: %*[0-9A-Fa-f]:%x %*[0-9A-Fa-f]:%x %x",
				   &lport, &rport, &st) == 3 &&
			    (int)st == state &&
			    ((int)lport == port || (int)rport == port))
				found = 1;
		}
		fclose(f);
	}
	return read_any ? found : -1;
}

FILE *netns_fopen(const char *ns, const char *path)
{
	static const char proc_net[] = "/proc/net/";
	char thread_path[256];
	int saved = -1, err;
	FILE *f;

	/* /proc/net is /proc/self/net: the thread group leader's namespace. */
	if (!strncmp(path, proc_net, strlen(proc_net))) {
		snprintf(thread_path, sizeof(thread_path), "/proc/thread-self/net/%s",
			 path + strlen(proc_net));
		path = thread_path;
	}
	if (ns) {
		saved = netns_enter(ns);
		if (saved < 0)
			return NULL;
	}
	f = fopen(path, "re");
	err = errno;
	if (ns && netns_leave(saved)) {
		if (f)
			fclose(f);
		return NULL;
	}
	errno = err;
	return f;
}

int netns_read_file(const char *ns, const char *path, char *buf, size_t size)
{
	FILE *f = netns_fopen(ns, path);
	size_t len;

	if (!f) {
		warn("open %s%s%s: %s", path, ns ? " in " : "", ns ? ns : "",
		     strerror(errno));
		return -1;
	}
	len = fread(buf, 1, size - 1, f);
	buf[len] = 0;
	fclose(f);
	return len;
}

long long netstat_counter(const char *ns, const char *group, const char *name)
{
	char names[4096], values[4096], *n, *v, *sn, *sv;
	size_t glen = strlen(group);
	long long ret = -1;
	FILE *f = netns_fopen(ns, "/proc/net/netstat");

	if (!f)
		return -1;
	/* Pairs of lines: "TcpExt: Name1 Name2 ..." then "TcpExt: 1 2 ...". */
	while (ret < 0 && fgets(names, sizeof(names), f) &&
	       fgets(values, sizeof(values), f)) {
		if (strncmp(names, group, glen) || names[glen] != ':')
			continue;
		n = strtok_r(names + glen + 1, " \n", &sn);
		v = strtok_r(values + glen + 1, " \n", &sv);
		while (n && v) {
			if (!strcmp(n, name)) {
				ret = strtoll(v, NULL, 10);
				break;
			}
			n = strtok_r(NULL, " \n", &sn);
			v = strtok_r(NULL, " \n", &sv);
		}
	}
	fclose(f);
	if (ret < 0)
		warn("no %s%s in /proc/net/netstat%s%s", group, name,
		     ns ? " in " : "", ns ? ns : "");
	return ret;
}

/*
 * A third namespace @c (named @tag-c-PID) behind @router, which masquerades
 * what @c sends out of its veth0:
 *	c -- veth1 -- router -- veth0 -- (the pair's other side)
 * Its addresses are 10.0.2.2 and fd02::2. 0, or -1 (with @c deleted).
 */
int netns_masq_client(const char *router, const char *tag, char *c, size_t clen)
{
	snprintf(c, clen, "%sc-%d", tag, getpid());
	if (netns_add(c))
		return -1;
	if (netns_link_up(c, "lo") ||
	    netns_veth_add(router, "veth1", c, "veth1") ||
	    netns_link_up(router, "veth1") ||
	    netns_addr_add(router, "veth1", "10.0.2.1", 24) ||
	    netns_addr_add(router, "veth1", "fd02::1", 64) ||
	    netns_sysctl_set(router, "net.ipv4.ip_forward", "1") ||
	    netns_sysctl_set(router, "net.ipv6.conf.all.forwarding", "1") ||
	    netns_system(router, "nft 'add table inet nat; "
		"add chain inet nat post { type nat hook postrouting priority 100; }; "
		"add rule inet nat post oifname veth0 masquerade'") ||
	    netns_link_up(c, "veth1") ||
	    netns_addr_add(c, "veth1", "10.0.2.2", 24) ||
	    netns_addr_add(c, "veth1", "fd02::2", 64) ||
	    netns_route_add(c, NULL, 0, "10.0.2.1") ||
	    netns_route_add(c, NULL, 0, "fd02::1")) {
		warn("setting up %s behind %s failed", c, router);
		netns_del(c);
		return -1;
	}
	return 0;
}
