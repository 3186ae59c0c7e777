// SPDX-License-Identifier: GPL-2.0
/*
 * What a real port scanner sees. nmap (installed by scripts/setup.sh) runs
 * in namespace a against three ports of each of two namespaces, b and c,
 * both joined to a by their own veth:
 *
 *   P  a listener protected with a secret (TCP_ULP "stealth" + a key);
 *   Q  closed: nothing listens;
 *   F  filtered: nothing listens and an nft rule drops tcp dport F.
 *
 * b has the default policy (net.tcp_stealth.reject=0), c drop mode
 * (reject=1). Five of nmap's eight TCP scan types (-sS -sT -sW -sM -sX) run
 * once each over both hosts, its grepable output (-oG -) giving each port's
 * state. The other three make no claim of their own: -sA sends -sW's ACK
 * probe and reads less of the answer (a reset or none; -sW also reads the
 * reset's window), and -sN and -sF send -sX's probe with fewer flags (none,
 * FIN); tcp_stealth_hostile's probes.table sends all 64 combinations of
 * FIN/SYN/RST/PSH/ACK/URG to the protected port and compares each answer
 * with a closed port's (reject=0) and a filtered port's (reject=1). In b, P must be in the same state as Q for every scan
 * type; in c, the same as F. As a check that the three ports are told apart
 * at all, Q and F must differ for every scan type. nmap never knocks, so
 * knock_good stays where it was; after the scans a client with the secret
 * still connects to P on both hosts.
 *
 * nmap runs with short round-trip timeouts (veth answers in well under a
 * millisecond; under TCG in some); a scan whose states do not agree is run
 * again with nmap's own -T4 timing before the difference counts, so a
 * late answer on a loaded host is not taken for a filtered port.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "stealth.h"

#define T_TIMEOUT	600
#define PORT_P		4262	/* protected listener */
#define PORT_Q		4263	/* nothing listens */
#define PORT_F		4264	/* nothing listens, nft drops */
#define SECRET		"nmap test secret"
#define NMAP		"/usr/bin/nmap"
#define C_IP4		"10.0.2.2"	/* c, behind a's veth1 */
#define A_IP4_C		"10.0.2.1"
#define C_IP6		"fd02::2"
#define A_IP6_C		"fd02::1"

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

static const char *const scans[] = {
	"-sS", "-sT", "-sW", "-sM", "-sX",
};

/* The state nmap reported for each of P, Q, F ("" if none). */
struct states {
	char p[32], q[32], f[32];
};

/*
 * Fill @st from nmap's grepable output @out for host @addr: the "Ports:"
 * field of its "Host: ADDR ()" line lists
 * "PORT/STATE/PROTO/OWNER/SERVICE/RPC/VERSION/" entries, separated by
 * ", ". 0, or -1 if there is no such line.
 */
static int parse_grepable(const char *out, const char *addr,
			  struct states *st)
{
	const char *line, *next, *ports, *end;
	char host[64];

	memset(st, 0, sizeof(*st));
	snprintf(host, sizeof(host), "Host: %s ", addr);
	for (line = out; *line; line = next) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		next = *end ? end + 1 : end;
		ports = strstr(line, "Ports: ");
		if (strncmp(line, host, strlen(host)) || !ports || ports > end)
			continue;
		ports += 7;
		while (ports < end) {
			char state[32];
			int port, n = 0;

			if (sscanf(ports, "%d/%31[^/]/%n", &port, state, &n) != 2 || !n)
				break;
			if (port == PORT_P)
				strcpy(st->p, state);
			else if (port == PORT_Q)
				strcpy(st->q, state);
			else if (port == PORT_F)
				strcpy(st->f, state);
			ports = strstr(ports, ", ");
			if (!ports || ports > end)
				break;
			ports += 2;
		}
		return 0;
	}
	return -1;
}

/*
 * Run nmap with scan type @scan from namespace @ns against b's and c's
 * address for @family, ports P, Q, F, with short round-trip timeouts if
 * @quick; its grepable output goes to @out (@len bytes). nmap's exit
 * status, or -1.
 */
static int run_nmap(const char *ns, int family, const char *scan, bool quick,
		    char *out, size_t len)
{
	char ports[32];
	int pfd[2], status, saved;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	snprintf(ports, sizeof(ports), "%d,%d,%d", PORT_P, PORT_Q, PORT_F);
	if (pipe2(pfd, O_CLOEXEC))
		return -1;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	if (!pid) {
		const char *argv[] = {
			NMAP, scan, family == AF_INET6 ? "-6" : "-4",
			"-n", "-Pn", "--max-retries", "1", "--host-timeout",
			"30s", "-T4", "--reason", "-oG", "-", "-p", ports,
			netns_addr_b(family),
			family == AF_INET6 ? C_IP6 : C_IP4,
			/* quick: veth's round trips, with room for TCG */
			"--initial-rtt-timeout", "150ms", "--max-rtt-timeout",
			"300ms", "--min-rtt-timeout", "50ms", NULL,
		};
		int null = open("/dev/null", O_RDONLY);

		if (!quick)
			argv[ARRAY_SIZE(argv) - 7] = NULL;
		saved = netns_enter(ns);
		if (saved < 0)
			_exit(126);
		if (null >= 0)
			dup2(null, 0);
		dup2(pfd[1], 1);
		execv(NMAP, (char *const *)argv);
		fprintf(stderr, "exec %s: %s\n", NMAP, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	while (got + 1 < len && (n = read(pfd[0], out + got, len - 1 - got)) > 0)
		got += n;
	out[got] = 0;
	close(pfd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Whether the states nmap found are as they should be: P as Q in b
 * (reject=0), P as F in c (reject=1), Q and F apart in both.
 */
static bool states_ok(const struct states *b, const struct states *c)
{
	return !strcmp(b->p, b->q) && !strcmp(c->p, c->f) &&
	       strcmp(b->q, b->f) && strcmp(c->q, c->f);
}

/* Scan P, Q, F of b and c with @scan; the states into @sb, @sc. 0 or -1. */
static int scan_ports(const char *ns, int family, const char *scan,
		      bool quick, struct states *sb, struct states *sc)
{
	static char out[8192];
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_nmap(ns, family, scan, quick, out, sizeof(out));
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (rc != 0) {
		note("nmap %s: exit %d, output:\n%s", scan, rc, out);
		return -1;
	}
	if (parse_grepable(out, netns_addr_b(family), sb) ||
	    parse_grepable(out, family == AF_INET6 ? C_IP6 : C_IP4, sc) ||
	    !sb->p[0] || !sb->q[0] || !sb->f[0] ||
	    !sc->p[0] || !sc->q[0] || !sc->f[0]) {
		note("nmap %s: no state for every port in:\n%s", scan, out);
		return -1;
	}
	note("nmap %-4s%s %.1f s", scan, quick ? "" : " (-T4 timing)",
	     t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	note("  reject=0: P(protected) %-14s Q(closed) %-14s F(filtered) %-14s",
	     sb->p, sb->q, sb->f);
	note("  reject=1: P(protected) %-14s Q(closed) %-14s F(filtered) %-14s",
	     sc->p, sc->q, sc->f);
	return 0;
}

FIXTURE(nmap) {
	struct netns_pair ns;
	char c[64];
	int lfd, clfd;
};

FIXTURE_VARIANT(nmap) {
	int family;
};

FIXTURE_VARIANT_ADD(nmap, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(nmap, ipv6) {
	.family = AF_INET6,
};

/* In @ns: an nft rule that drops port F, and P protected on @addr. */
static int ports_in(const char *ns, int family, const char *addr)
{
	if (netns_system(ns,
		"nft 'add table inet f; "
		"add chain inet f in { type filter hook input priority 0; }; "
		"add rule inet f in tcp dport %d drop'", PORT_F))
		return -1;
	return listener_on(ns, family, addr, PORT_P, SECRET, 16);
}

/* Whether a plain connect from @ns to @addr:Q is refused (link is up). */
static int refused(const char *ns, int family, const char *addr)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -1;
	ret = connect_to(fd, family, addr, PORT_Q, NETNS_TIMEOUT_MS);
	close(fd);
	return ret == -ECONNREFUSED ? 0 : -1;
}

FIXTURE_SETUP(nmap)
{
	int family = variant->family;

	self->lfd = self->clfd = -1;
	ASSERT_EQ(0, access(NMAP, X_OK)) TH_LOG("%s missing: scripts/setup.sh installs it", NMAP);
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsn"));
	snprintf(self->c, sizeof(self->c), "tsnc-%d", (int)getpid());
	netns_del(self->c);
	ASSERT_EQ(0, netns_add(self->c));
	ASSERT_EQ(0, netns_link_up(self->c, "lo"));
	ASSERT_EQ(0, netns_veth_add(self->ns.a, "veth1", self->c, "veth1"));
	ASSERT_EQ(0, netns_addr_add(self->ns.a, "veth1", A_IP4_C, 24));
	ASSERT_EQ(0, netns_addr_add(self->ns.a, "veth1", A_IP6_C, 64));
	ASSERT_EQ(0, netns_addr_add(self->c, "veth1", C_IP4, 24));
	ASSERT_EQ(0, netns_addr_add(self->c, "veth1", C_IP6, 64));
	ASSERT_EQ(0, netns_link_up(self->ns.a, "veth1"));
	ASSERT_EQ(0, netns_link_up(self->c, "veth1"));

	self->lfd = ports_in(self->ns.b, family, netns_addr_b(family));
	ASSERT_LE(0, self->lfd);
	self->clfd = ports_in(self->c, family,
			      family == AF_INET6 ? C_IP6 : C_IP4);
	ASSERT_LE(0, self->clfd);
	ASSERT_EQ(0, netns_sysctl_set(self->c, "net.tcp_stealth.reject", "1"));
	ASSERT_EQ(1, netns_sysctl_get(self->c, "net.tcp_stealth.reject"));
	ASSERT_EQ(0, netns_sysctl_get(self->ns.b, "net.tcp_stealth.reject"));
	/* Both links carry, both neighbours are known. */
	ASSERT_EQ(0, refused(self->ns.a, family, netns_addr_b(family)));
	ASSERT_EQ(0, refused(self->ns.a, family,
			     family == AF_INET6 ? C_IP6 : C_IP4));
}

FIXTURE_TEARDOWN_PARENT(nmap)
{
	netns_pair_destroy(&self->ns);
	netns_del(self->c);
}

/* A client with the secret connects from @a to P of @ns at @addr. */
static void knock_in(struct __test_metadata *_metadata, const char *a,
		     const char *ns, int family, const char *addr, int lfd)
{
	long long good0 = stealth_counter(ns, "knock_good");
	int cfd, afd;

	cfd = sock_in(a, family);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	EXPECT_EQ(0, connect_to(cfd, family, addr, PORT_P, NETNS_TIMEOUT_MS));
	afd = tcp_accept_timeout(lfd, NETNS_TIMEOUT_MS);
	EXPECT_LE(0, afd);
	if (afd >= 0)
		close(afd);
	close(cfd);
	EXPECT_EQ(good0 + 1, stealth_counter(ns, "knock_good"));
	note("%s: knock_missing %lld probe_rejected %lld ack_refused %lld "
	     "rst_sent %lld dropped %lld", ns,
	     stealth_counter(ns, "knock_missing"),
	     stealth_counter(ns, "probe_rejected"),
	     stealth_counter(ns, "ack_refused"),
	     stealth_counter(ns, "rst_sent"),
	     stealth_counter(ns, "dropped"));
}

/*
 * Every scan type against both hosts: in b (the default policy) the
 * protected port is a closed port, in c (net.tcp_stealth.reject=1) a
 * filtered one.
 */
TEST_F_TIMEOUT(nmap, default_like_closed_reject_like_filtered, T_TIMEOUT)
{
	int family = variant->family;
	const char *caddr = family == AF_INET6 ? C_IP6 : C_IP4;
	long long good_b = stealth_counter(self->ns.b, "knock_good");
	long long good_c = stealth_counter(self->c, "knock_good");
	struct states sb, sc;
	size_t i;

	ASSERT_LE(0, good_b);
	ASSERT_LE(0, good_c);
	for (i = 0; i < ARRAY_SIZE(scans); i++) {
		ASSERT_EQ(0, scan_ports(self->ns.a, family, scans[i], true,
					&sb, &sc));
		/* A difference must hold with nmap's own timing too. */
		if (!states_ok(&sb, &sc))
			ASSERT_EQ(0, scan_ports(self->ns.a, family, scans[i],
						false, &sb, &sc));
		EXPECT_STRNE(sb.q, sb.f)
			TH_LOG("%s: closed and filtered ports look alike (b)",
			       scans[i]);
		EXPECT_STRNE(sc.q, sc.f)
			TH_LOG("%s: closed and filtered ports look alike (c)",
			       scans[i]);
		EXPECT_STREQ(sb.q, sb.p)
			TH_LOG("%s, reject=0: protected port %s, closed port %s",
			       scans[i], sb.p, sb.q);
		EXPECT_STREQ(sc.f, sc.p)
			TH_LOG("%s, reject=1: protected port %s, filtered port %s",
			       scans[i], sc.p, sc.f);
	}
	EXPECT_EQ(good_b, stealth_counter(self->ns.b, "knock_good"));
	EXPECT_EQ(good_c, stealth_counter(self->c, "knock_good"));

	/* All the while P was open to a client that knocks. */
	knock_in(_metadata, self->ns.a, self->ns.b, family,
		 netns_addr_b(family), self->lfd);
	knock_in(_metadata, self->ns.a, self->c, family, caddr, self->clfd);
}

TEST_HARNESS_MAIN
