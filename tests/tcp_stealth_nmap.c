// SPDX-License-Identifier: GPL-2.0
/*
 * What a real port scanner sees. nmap (installed by scripts/setup.sh) runs
 * in namespace a against three ports of namespace b:
 *
 *   P  a listener protected with a secret (TCP_ULP "stealth" + a key);
 *   Q  closed: nothing listens;
 *   F  filtered: nothing listens and an nft rule in b drops tcp dport F.
 *
 * Each of nmap's eight TCP scan types (-sS -sT -sA -sW -sM -sN -sF -sX)
 * runs once over the three ports, its grepable output (-oG -) giving each
 * port's state. With net.tcp_stealth.reject=0 (the default) P must be in
 * the same state as Q for every scan type; with reject=1, the same as F.
 * As a check that the three ports are told apart at all, Q and F must
 * differ for every scan type. nmap never knocks, so b's knock_good stays
 * 0; after the scans a client with the secret still connects to P.
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

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

static const char *const scans[] = {
	"-sS", "-sT", "-sA", "-sW", "-sM", "-sN", "-sF", "-sX",
};

/* The state nmap reported for each of P, Q, F ("" if none). */
struct states {
	char p[32], q[32], f[32];
};

/*
 * Fill @st from nmap's grepable output @out: the "Ports:" field of the
 * "Host:" line lists "PORT/STATE/PROTO/OWNER/SERVICE/RPC/VERSION/" entries,
 * separated by ", ". 0, or -1 if there is no such line.
 */
static int parse_grepable(const char *out, struct states *st)
{
	const char *line, *next, *ports, *end;

	memset(st, 0, sizeof(*st));
	for (line = out; *line; line = next) {
		end = strchr(line, '\n');
		if (!end)
			end = line + strlen(line);
		next = *end ? end + 1 : end;
		ports = strstr(line, "Ports: ");
		if (strncmp(line, "Host:", 5) || !ports || ports > end)
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
 * Run nmap with scan type @scan from namespace @ns against b's address for
 * @family, ports P, Q, F; its grepable output goes to @out (@len bytes).
 * nmap's exit status, or -1.
 */
static int run_nmap(const char *ns, int family, const char *scan, char *out,
		    size_t len)
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
			netns_addr_b(family), NULL,
		};
		int null = open("/dev/null", O_RDONLY);

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

/* Scan P, Q, F with @scan; the states into @st. 0 or -1. */
static int scan_ports(const char *ns, int family, const char *scan,
		      struct states *st)
{
	static char out[8192];
	struct timespec t0, t1;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_nmap(ns, family, scan, out, sizeof(out));
	clock_gettime(CLOCK_MONOTONIC, &t1);

	if (rc != 0) {
		note("nmap %s: exit %d, output:\n%s", scan, rc, out);
		return -1;
	}
	if (parse_grepable(out, st) || !st->p[0] || !st->q[0] || !st->f[0]) {
		note("nmap %s: no state for every port in:\n%s", scan, out);
		return -1;
	}
	note("nmap %-4s P(protected) %-14s Q(closed) %-14s F(filtered) %-14s %.1f s",
	     scan, st->p, st->q, st->f,
	     t1.tv_sec - t0.tv_sec + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	return 0;
}

FIXTURE(nmap) {
	struct netns_pair ns;
	int lfd;
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

FIXTURE_SETUP(nmap)
{
	self->lfd = -1;
	ASSERT_EQ(0, access(NMAP, X_OK)) TH_LOG("%s missing: scripts/setup.sh installs it", NMAP);
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsn"));
	ASSERT_EQ(0, netns_system(self->ns.b,
		"nft 'add table inet f; "
		"add chain inet f in { type filter hook input priority 0; }; "
		"add rule inet f in tcp dport %d drop'", PORT_F));
	self->lfd = listener_on(self->ns.b, variant->family,
				netns_addr_b(variant->family), PORT_P, SECRET,
				16);
	ASSERT_LE(0, self->lfd);
}

FIXTURE_TEARDOWN_PARENT(nmap)
{
	netns_pair_destroy(&self->ns);
}

/*
 * Every scan type with net.tcp_stealth.reject set to @reject: P must look
 * like Q (reject 0) or like F (reject 1), and Q must differ from F.
 */
static void scan_all(struct __test_metadata *_metadata,
		     FIXTURE_DATA(nmap) *self, int family, int reject)
{
	long long good0 = stealth_counter(self->ns.b, "knock_good");
	struct states st;
	int cfd, afd;
	size_t i;

	ASSERT_EQ(0, netns_sysctl_set(self->ns.b, "net.tcp_stealth.reject",
				      "%d", reject));
	ASSERT_EQ(reject, netns_sysctl_get(self->ns.b,
					   "net.tcp_stealth.reject"));
	for (i = 0; i < ARRAY_SIZE(scans); i++) {
		ASSERT_EQ(0, scan_ports(self->ns.a, family, scans[i], &st));
		EXPECT_STRNE(st.q, st.f)
			TH_LOG("%s: closed and filtered ports look alike",
			       scans[i]);
		if (reject) {
			EXPECT_STREQ(st.f, st.p)
				TH_LOG("%s: protected port %s, filtered port %s",
				       scans[i], st.p, st.f);
		} else {
			EXPECT_STREQ(st.q, st.p)
				TH_LOG("%s: protected port %s, closed port %s",
				       scans[i], st.p, st.q);
		}
	}
	EXPECT_EQ(good0, stealth_counter(self->ns.b, "knock_good"));

	/* All the while P was open to a client that knocks. */
	cfd = sock_in(self->ns.a, family);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	EXPECT_EQ(0, connect_to(cfd, family, netns_addr_b(family), PORT_P,
				NETNS_TIMEOUT_MS));
	afd = tcp_accept_timeout(self->lfd, NETNS_TIMEOUT_MS);
	EXPECT_LE(0, afd);
	if (afd >= 0)
		close(afd);
	close(cfd);
	EXPECT_EQ(good0 + 1, stealth_counter(self->ns.b, "knock_good"));
	note("b: knock_missing %lld probe_rejected %lld rst_sent %lld dropped %lld",
	     stealth_counter(self->ns.b, "knock_missing"),
	     stealth_counter(self->ns.b, "probe_rejected"),
	     stealth_counter(self->ns.b, "rst_sent"),
	     stealth_counter(self->ns.b, "dropped"));
}

/* The default policy: the protected port is a closed port to every scan. */
TEST_F_TIMEOUT(nmap, default_like_closed, T_TIMEOUT)
{
	scan_all(_metadata, self, variant->family, 0);
}

/* net.tcp_stealth.reject=1: the protected port is a filtered port. */
TEST_F_TIMEOUT(nmap, reject_like_filtered, T_TIMEOUT)
{
	scan_all(_metadata, self, variant->family, 1);
}

TEST_HARNESS_MAIN
