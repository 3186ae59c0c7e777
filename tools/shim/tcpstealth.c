// SPDX-License-Identifier: GPL-2.0
/*
 * libtcpstealth.so: an LD_PRELOAD shim that makes unmodified programs use
 * tcp_stealth. TCP connects knock, TCP listeners want knocks.
 *
 * Environment (read once, when the library is loaded):
 *   TCP_STEALTH_KEY_FILE        the secret: the file's raw bytes, 1..64, the
 *                               file mode 0600 or stricter (required)
 *   TCP_STEALTH_PORTS           ports it applies to, e.g. "22,8000-8080"
 *                               (default: all). For connect() the peer's
 *                               port, for listen() the local port.
 *   TCP_STEALTH_INTEGRITY_FILE  clients: commit every knock to this file's
 *                               bytes (1..65535); the program must send
 *                               exactly these bytes first. The shim cannot
 *                               make it do so.
 *   TCP_STEALTH_INTEGRITY_LEN   listeners: require clients to commit to
 *                               their first N bytes (0..65535)
 *
 * Which sockets: the check is made on the socket itself when connect() or
 * listen() is called (SO_DOMAIN AF_INET/AF_INET6, SO_TYPE SOCK_STREAM,
 * SO_PROTOCOL IPPROTO_TCP), so it covers sockets made with protocol 0 or
 * IPPROTO_TCP, with SOCK_NONBLOCK/SOCK_CLOEXEC, by socket(), inherited or
 * passed over a UNIX socket alike.
 *
 * Failing closed: if the configuration is bad (no key file, a bad key file,
 * a bad variable) or setting an option fails, connect()/listen() on a
 * socket it applies to fail with that errno and a "libtcpstealth:" line on
 * stderr. A connection is never made without the knock. TCP Fast Open
 * (sendto/sendmsg with MSG_FASTOPEN on an unconnected socket) is refused
 * with EOPNOTSUPP, since it would connect without connect().
 *
 * Everything else (including a non-blocking connect's EINPROGRESS, and a
 * second connect() on a socket already connecting) is the real call's.
 * Not covered: connects made by a program's own syscalls (static binaries,
 * io_uring), which LD_PRELOAD cannot see.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/tcp_stealth.h>

#ifndef TCP_ULP
#define TCP_ULP 31
#endif

#define EXPORT __attribute__((visibility("default")))

static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static ssize_t (*real_sendto)(int, const void *, size_t, int,
			      const struct sockaddr *, socklen_t);
static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

static struct {
	int err;			/* 0, or the errno of a bad configuration */
	char why[512];			/* and what is wrong */
	unsigned char key[TCP_STEALTH_SECRET_MAX];
	size_t key_len;
	unsigned char commit[TCP_STEALTH_INTEGRITY_MAX];
	size_t commit_len;		/* 0: no integrity file */
	int integrity_len;		/* -1: not set */
	int all_ports;
	unsigned char ports[65536 / 8];
} cfg;

static pthread_once_t cfg_once = PTHREAD_ONCE_INIT;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[768];
	int n = snprintf(buf, sizeof(buf), "libtcpstealth: ");
	va_list ap;

	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* One write, so lines of several threads do not mix. */
	if (write(STDERR_FILENO, buf, n) < 0)
		return;
}

static void bad_config(int err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void bad_config(int err, const char *fmt, ...)
{
	va_list ap;

	if (cfg.err)
		return;		/* keep the first problem */
	cfg.err = err;
	va_start(ap, fmt);
	vsnprintf(cfg.why, sizeof(cfg.why), fmt, ap);
	va_end(ap);
}

/*
 * Read a whole file of @min..@max bytes into @buf. @private: refuse a file
 * group or others may read or write. Returns its length, or 0 after
 * recording the problem.
 */
static size_t read_file(const char *var, const char *path, unsigned char *buf,
			size_t min, size_t max, int private)
{
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

	if (fd < 0) {
		bad_config(errno, "%s=%s: %s", var, path, strerror(errno));
		return 0;
	}
	if (fstat(fd, &st)) {
		bad_config(errno, "%s=%s: %s", var, path, strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		bad_config(EINVAL, "%s=%s: not a regular file", var, path);
		goto out;
	}
	if (private && (st.st_mode & 077)) {
		bad_config(EACCES, "%s=%s: mode %04o lets group or others read or write it (chmod 600)",
			   var, path, (unsigned int)(st.st_mode & 07777));
		goto out;
	}
	/* Read one byte more than allowed to notice a longer file. */
	for (;;) {
		unsigned char extra;

		if (len < max)
			n = read(fd, buf + len, max - len);
		else
			n = read(fd, &extra, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			bad_config(errno, "%s=%s: %s", var, path, strerror(errno));
			len = 0;
			goto out;
		}
		if (n == 0)
			break;
		if (len >= max) {
			bad_config(EINVAL, "%s=%s: longer than %zu bytes", var, path, max);
			len = 0;
			goto out;
		}
		len += n;
	}
	if (len < min) {
		bad_config(EINVAL, "%s=%s: empty (want %zu to %zu bytes)", var, path, min, max);
		len = 0;
	}
out:
	close(fd);
	return len;
}

/* "22,80,8000-8080" into cfg.ports; 0 on success. */
static int parse_ports(const char *s)
{
	const char *p = s;

	if (!*p)
		return -1;
	for (;;) {
		char *end;
		unsigned long a, b;

		if (*p < '0' || *p > '9')
			return -1;
		a = b = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				return -1;
			b = strtoul(p, &end, 10);
		}
		if (a == 0 || a > 65535 || b == 0 || b > 65535 || a > b)
			return -1;
		for (unsigned long i = a; i <= b; i++)
			cfg.ports[i / 8] |= 1u << (i % 8);
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		p = end + 1;
	}
}

static void load_config(void)
{
	const char *key = getenv("TCP_STEALTH_KEY_FILE");
	const char *ports = getenv("TCP_STEALTH_PORTS");
	const char *ifile = getenv("TCP_STEALTH_INTEGRITY_FILE");
	const char *ilen = getenv("TCP_STEALTH_INTEGRITY_LEN");

	real_connect = dlsym(RTLD_NEXT, "connect");
	real_listen = dlsym(RTLD_NEXT, "listen");
	real_sendto = dlsym(RTLD_NEXT, "sendto");
	real_sendmsg = dlsym(RTLD_NEXT, "sendmsg");
	cfg.integrity_len = -1;

	if (!key || !*key)
		bad_config(EINVAL, "TCP_STEALTH_KEY_FILE is not set");
	else
		cfg.key_len = read_file("TCP_STEALTH_KEY_FILE", key, cfg.key, 1,
					sizeof(cfg.key), 1);
	if (!ports || !*ports)
		cfg.all_ports = 1;
	else if (parse_ports(ports)) {
		/* Fail closed: every TCP socket gets the error. */
		cfg.all_ports = 1;
		bad_config(EINVAL, "TCP_STEALTH_PORTS=%s: want ports or ranges like 22,8000-8080",
			   ports);
	}
	if (ifile && *ifile)
		cfg.commit_len = read_file("TCP_STEALTH_INTEGRITY_FILE", ifile,
					   cfg.commit, 1, sizeof(cfg.commit), 0);
	if (ilen && *ilen) {
		char *end;
		unsigned long n = strtoul(ilen, &end, 10);

		if (*ilen < '0' || *ilen > '9' || *end || n > TCP_STEALTH_INTEGRITY_MAX)
			bad_config(EINVAL, "TCP_STEALTH_INTEGRITY_LEN=%s: want 0 to %d",
				   ilen, TCP_STEALTH_INTEGRITY_MAX);
		else
			cfg.integrity_len = n;
	}
	/* Never keep a half-good configuration around. */
	if (cfg.err) {
		memset(cfg.key, 0, sizeof(cfg.key));
		cfg.key_len = 0;
	}
}

__attribute__((constructor)) static void shim_init(void)
{
	/* Early, so the key is read before the program chroots or drops
	 * privileges. */
	pthread_once(&cfg_once, load_config);
}

static void init(void)
{
	pthread_once(&cfg_once, load_config);
}

static int sockopt_int(int fd, int level, int name, int *val)
{
	socklen_t len = sizeof(*val);

	return getsockopt(fd, level, name, val, &len);
}

/* Is @fd a TCP socket over IPv4 or IPv6? Leaves errno alone. */
static int is_tcp(int fd)
{
	int saved = errno, dom, type, proto, ok;

	ok = !sockopt_int(fd, SOL_SOCKET, SO_DOMAIN, &dom) &&
	     (dom == AF_INET || dom == AF_INET6) &&
	     !sockopt_int(fd, SOL_SOCKET, SO_TYPE, &type) && type == SOCK_STREAM &&
	     !sockopt_int(fd, SOL_SOCKET, SO_PROTOCOL, &proto) && proto == IPPROTO_TCP;
	errno = saved;
	return ok;
}

/* The TCP state of @fd (TCP_CLOSE is 7), or -1. Leaves errno alone. */
static int tcp_state(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	int saved = errno, ret;

	ret = getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) ? -1 : ti.tcpi_state;
	errno = saved;
	return ret;
}

#define STATE_CLOSE 7

static int port_wanted(int port)
{
	if (cfg.all_ports)
		return 1;
	if (port <= 0 || port > 65535)
		return 0;
	return !!(cfg.ports[port / 8] & (1u << (port % 8)));
}

static int addr_port(const struct sockaddr *sa, socklen_t len)
{
	if (!sa)
		return -1;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in))
		return ntohs(((const struct sockaddr_in *)sa)->sin_port);
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6))
		return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
	return -1;
}

static const char *opt_name(int opt)
{
	switch (opt) {
	case TCP_STEALTH: return "TCP_STEALTH";
	case TCP_STEALTH_INTEGRITY: return "TCP_STEALTH_INTEGRITY";
	case TCP_STEALTH_INTEGRITY_LEN: return "TCP_STEALTH_INTEGRITY_LEN";
	default: return "setsockopt";
	}
}

/*
 * A stealth option: alone first (enough on a patched kernel), then, on
 * ENOPROTOOPT, after attaching the ULP. 0, or -1 with errno set and the
 * reason said.
 */
static int set_stealth(int fd, int opt, const void *val, socklen_t len, const char *what)
{
	int err;

	if (!setsockopt(fd, IPPROTO_TCP, opt, val, len))
		return 0;
	if (errno != ENOPROTOOPT)
		goto fail;
	if (setsockopt(fd, IPPROTO_TCP, TCP_ULP, TCP_STEALTH_ULP_NAME,
		       sizeof(TCP_STEALTH_ULP_NAME) - 1)) {
		err = errno;
		say("%s refused: cannot attach the stealth ULP: %s (is the tcp_stealth module loaded?)",
		    what, strerror(err));
		errno = err;
		return -1;
	}
	if (!setsockopt(fd, IPPROTO_TCP, opt, val, len))
		return 0;
fail:
	err = errno;
	say("%s refused: cannot set %s: %s", what, opt_name(opt), strerror(err));
	errno = err;
	return -1;
}

/* Give @fd the key, and for a client the commitment. 0 or -1 (errno). */
static int arm(int fd, int client, const char *what)
{
	if (cfg.err) {
		say("%s refused: %s", what, cfg.why);
		errno = cfg.err;
		return -1;
	}
	if (set_stealth(fd, TCP_STEALTH, cfg.key, cfg.key_len, what))
		return -1;
	if (client && cfg.commit_len &&
	    set_stealth(fd, TCP_STEALTH_INTEGRITY, cfg.commit, cfg.commit_len, what))
		return -1;
	if (!client && cfg.integrity_len >= 0 &&
	    set_stealth(fd, TCP_STEALTH_INTEGRITY_LEN, &cfg.integrity_len,
			sizeof(cfg.integrity_len), what))
		return -1;
	return 0;
}

EXPORT int connect(int fd, const struct sockaddr *addr, socklen_t len)
{
	int port = addr_port(addr, len);
	char what[64];

	init();
	if (!real_connect) {
		errno = ENOSYS;
		return -1;
	}
	/* Only a TCP socket that is still closed: a second connect() on a
	 * connecting socket goes straight to the kernel (EALREADY, EISCONN). */
	if (port >= 0 && port_wanted(port) && is_tcp(fd) &&
	    tcp_state(fd) == STATE_CLOSE) {
		snprintf(what, sizeof(what), "connect to port %d", port);
		if (arm(fd, 1, what))
			return -1;
	}
	return real_connect(fd, addr, len);
}

EXPORT int listen(int fd, int backlog)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int saved = errno, port = 0;
	char what[64];

	init();
	if (!real_listen) {
		errno = ENOSYS;
		return -1;
	}
	if (is_tcp(fd)) {
		if (!getsockname(fd, (struct sockaddr *)&ss, &len))
			port = addr_port((struct sockaddr *)&ss, len);
		errno = saved;
		/* Port 0 (not bound yet): only if every port is wanted. */
		if (port_wanted(port)) {
			snprintf(what, sizeof(what), "listen on port %d", port);
			if (arm(fd, 0, what))
				return -1;
		}
	}
	return real_listen(fd, backlog);
}

/* TCP Fast Open connects from sendto()/sendmsg(): no room for the knock. */
static int fastopen_refused(int fd, int flags, const struct sockaddr *addr, socklen_t len)
{
	int port = addr_port(addr, len);

	if (!(flags & MSG_FASTOPEN) || port < 0 || !port_wanted(port) ||
	    !is_tcp(fd) || tcp_state(fd) != STATE_CLOSE)
		return 0;
	say("TCP Fast Open connect to port %d refused: it cannot carry the knock", port);
	errno = EOPNOTSUPP;
	return 1;
}

EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags,
		      const struct sockaddr *addr, socklen_t len)
{
	init();
	if (!real_sendto) {
		errno = ENOSYS;
		return -1;
	}
	if (fastopen_refused(fd, flags, addr, len))
		return -1;
	return real_sendto(fd, buf, n, flags, addr, len);
}

EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	init();
	if (!real_sendmsg) {
		errno = ENOSYS;
		return -1;
	}
	if (msg && fastopen_refused(fd, flags, msg->msg_name, msg->msg_namelen))
		return -1;
	return real_sendmsg(fd, msg, flags);
}
