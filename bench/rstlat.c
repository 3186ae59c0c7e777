// SPDX-License-Identifier: GPL-2.0
/*
 * rstlat: how long a server takes to answer a knockless SYN with a RST, at a
 * protected port and at a closed port. Only for `make bench`, inside the
 * test VM's own namespaces; run in the client's namespace.
 *
 *   rstlat SRC DST PROTECTED_PORT CLOSED_PORT COUNT [knock [TAG] | plain TAG]
 *
 * Sends COUNT plain IPv4 SYNs (MSS option, no knock; with "knock", also a
 * well-formed, fresh knock option with a random MAC, which the protected
 * port verifies against its keys before it answers) to each port, one at a
 * time, the two ports taking turns in pairs whose order is drawn at random.
 * An AF_PACKET socket on SRC's interface captures both the outgoing SYN and
 * the incoming RST; a probe's time is the difference of their kernel receive
 * timestamps (SO_TIMESTAMPNS), i.e. from the moment the SYN left the client
 * device to the moment the RST reached it. 50 probes of each port are sent
 * first and not counted.
 *
 * Prints the per-port medians and quartiles (microseconds), the lost
 * probes, and a Mann-Whitney U test of the two samples (U of the protected
 * port, its z-score with the tie correction, the two-sided normal p-value,
 * and U / (n1 n2), the probability that a protected probe takes longer than
 * a closed one):
 *
 *   rstlat[_knock|TAG] n_p N n_q N lost_p N lost_q N median_p_us X q1_p_us X q3_p_us X
 *     median_q_us X q1_q_us X q3_q_us X U X z X p X auc X
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <math.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define WARMUP		50
#define TIMEOUT_MS	1000
#define SYN_LEN		44	/* IPv4 20 + TCP 20 + MSS 4 */
#define KNOCK_LEN	20	/* kind 254, length 20, ExID, control, MAC */

static struct in_addr src, dst;
static int snd, cap, syn_len = SYN_LEN;
static const char *tag = "rstlat";

static uint16_t csum(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += p[len - 1] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static uint32_t rnd(void)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), 0) != sizeof(v))
		v = rand();
	return v;
}

/*
 * A SYN from src:@sport to dst:@dport into @p, of syn_len bytes: with a
 * knock (T14 of now, R clear, random nonce and MAC) if that is longer.
 */
static void build_syn(uint8_t *p, uint16_t sport, uint16_t dport)
{
	uint8_t *t = p + 20, pseudo[12];
	uint32_t sum = 0;

	memset(p, 0, syn_len);
	p[0] = 0x45;
	put16(p + 2, syn_len);
	p[6] = 0x40;			/* DF */
	p[8] = 64;
	p[9] = IPPROTO_TCP;
	memcpy(p + 12, &src, 4);
	memcpy(p + 16, &dst, 4);
	put16(t, sport);
	put16(t + 2, dport);
	put32(t + 4, rnd());
	t[12] = (syn_len - 20) / 4 << 4;	/* data offset */
	t[13] = 0x02;			/* SYN */
	put16(t + 14, 64240);
	t[20] = 2;			/* MSS 1460 */
	t[21] = 4;
	put16(t + 22, 1460);
	if (syn_len > SYN_LEN) {
		uint8_t *k = t + 24;

		k[0] = 254;
		k[1] = KNOCK_LEN;
		put16(k + 2, 0x4B4E);
		put16(k + 4, time(NULL) & 0x3fff);
		for (int i = 6; i < KNOCK_LEN; i += 2)
			put16(k + i, rnd());
	}
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	put16(pseudo + 10, syn_len - 20);
	for (int i = 0; i < 12; i += 2)
		sum += pseudo[i] << 8 | pseudo[i + 1];
	put16(t + 16, csum(sum, t, syn_len - 20));
}

/*
 * One probe to @dport from @sport: its time in microseconds, or -1 if no
 * RST came (or the capture missed the SYN) within TIMEOUT_MS.
 */
static double probe(uint16_t sport, uint16_t dport)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr = dst };
	struct timespec t_syn = { 0 }, t_rst = { 0 }, deadline, now;
	uint8_t pkt[SYN_LEN + KNOCK_LEN], buf[256];
	char ctl[256];

	build_syn(pkt, sport, dport);
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += TIMEOUT_MS / 1000;
	if (sendto(snd, pkt, syn_len, 0, (struct sockaddr *)&sin,
		   sizeof(sin)) != syn_len) {
		perror("rstlat: sendto");
		exit(1);
	}
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr m = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = ctl, .msg_controllen = sizeof(ctl),
		};
		struct pollfd pfd = { .fd = cap, .events = POLLIN };
		struct timespec *ts = NULL;
		struct cmsghdr *c;
		const uint8_t *t;
		int left, n, ihl;

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = (deadline.tv_sec - now.tv_sec) * 1000 +
		       (deadline.tv_nsec - now.tv_nsec) / 1000000;
		if (left <= 0 || poll(&pfd, 1, left) != 1)
			return -1;
		n = recvmsg(cap, &m, 0);
		if (n < 40)
			continue;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
			if (c->cmsg_level == SOL_SOCKET &&
			    c->cmsg_type == SCM_TIMESTAMPNS)
				ts = (struct timespec *)CMSG_DATA(c);
		ihl = (buf[0] & 15) * 4;
		if ((buf[0] >> 4) != 4 || buf[9] != IPPROTO_TCP || !ts ||
		    n < ihl + 20)
			continue;
		t = buf + ihl;
		if (!memcmp(buf + 12, &src, 4) && get16(t) == sport &&
		    get16(t + 2) == dport && (t[13] & 0x02))
			t_syn = *ts;
		else if (!memcmp(buf + 12, &dst, 4) && get16(t) == dport &&
			 get16(t + 2) == sport && (t[13] & 0x04))
			t_rst = *ts;
		if (t_rst.tv_sec && !t_syn.tv_sec)
			return -1;	/* the capture lost the SYN */
		if (t_rst.tv_sec)
			return (t_rst.tv_sec - t_syn.tv_sec) * 1e6 +
			       (t_rst.tv_nsec - t_syn.tv_nsec) / 1e3;
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* The @q quantile of sorted @v[@n] (linear between order statistics). */
static double quantile(const double *v, int n, double q)
{
	double pos = q * (n - 1);
	int i = (int)pos;

	return i + 1 < n ? v[i] + (pos - i) * (v[i + 1] - v[i]) : v[n - 1];
}

struct obs {
	double v;
	int first;	/* from sample 1 */
};

static int cmp_obs(const void *a, const void *b)
{
	return cmp_double(&((const struct obs *)a)->v,
			  &((const struct obs *)b)->v);
}

/*
 * Mann-Whitney U of sample @a[@n1] against @b[@n2]: U of @a (pairs in which
 * @a's value is the larger, ties counting one half) into *@u, and its
 * z-score under the normal approximation with the tie correction.
 */
static double mann_whitney(const double *a, int n1, const double *b, int n2,
			   double *u)
{
	int n = n1 + n2, i, j;
	struct obs *o = calloc(n, sizeof(*o));
	double r1 = 0, ties = 0, sigma;

	if (!o)
		exit(1);
	for (i = 0; i < n1; i++)
		o[i] = (struct obs){ a[i], 1 };
	for (i = 0; i < n2; i++)
		o[n1 + i] = (struct obs){ b[i], 0 };
	qsort(o, n, sizeof(*o), cmp_obs);
	for (i = 0; i < n; i = j) {
		double rank, t;

		for (j = i + 1; j < n && o[j].v == o[i].v; j++)
			;
		rank = (i + 1 + j) / 2.0;	/* mean of ranks i+1..j */
		t = j - i;
		ties += t * t * t - t;
		for (int k = i; k < j; k++)
			if (o[k].first)
				r1 += rank;
	}
	free(o);
	*u = r1 - n1 * (n1 + 1) / 2.0;
	sigma = sqrt((double)n1 * n2 / 12.0 *
		     ((n + 1) - ties / ((double)n * (n - 1))));
	return sigma > 0 ? (*u - n1 * (double)n2 / 2) / sigma : 0;
}

/* The index of the interface that holds @addr. */
static int ifindex_of(struct in_addr addr)
{
	struct ifaddrs *ifa, *i;
	int idx = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr ==
		    addr.s_addr)
			idx = if_nametoindex(i->ifa_name);
	freeifaddrs(ifa);
	return idx;
}

int main(int argc, char **argv)
{
	struct sockaddr_ll sll = { .sll_family = AF_PACKET };
	double *tp, *tq, u, z;
	int count, np = 0, nq = 0, lostp = 0, lostq = 0, one = 1;
	uint16_t pport, qport, sport = 20000;

	if (argc != 6 && !((argc == 7 || argc == 8) && !strcmp(argv[6], "knock")) &&
	    !(argc == 8 && !strcmp(argv[6], "plain"))) {
		fprintf(stderr,
			"usage: %s SRC DST PROTECTED_PORT CLOSED_PORT COUNT [knock [TAG] | plain TAG]\n",
			argv[0]);
		return 2;
	}
	if (argc == 8 && !strcmp(argv[6], "plain")) {
		tag = argv[7];
	} else if (argc >= 7) {
		syn_len = SYN_LEN + KNOCK_LEN;
		tag = argc == 8 ? argv[7] : "rstlat_knock";
	}
	if (inet_pton(AF_INET, argv[1], &src) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "rstlat: bad address\n");
		return 2;
	}
	pport = atoi(argv[3]);
	qport = atoi(argv[4]);
	count = atoi(argv[5]);
	if (!pport || !qport || count < 2 || count > 1000000) {
		fprintf(stderr, "rstlat: bad port or count (2..1000000)\n");
		return 2;
	}
	tp = calloc(count, sizeof(*tp));
	tq = calloc(count, sizeof(*tq));
	if (!tp || !tq)
		return 1;

	snd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (snd < 0) {
		perror("rstlat: raw socket");
		return 1;
	}
	/* ETH_P_ALL: only such taps see outgoing packets. */
	cap = socket(AF_PACKET, SOCK_DGRAM, htons(ETH_P_ALL));
	sll.sll_protocol = htons(ETH_P_ALL);
	sll.sll_ifindex = ifindex_of(src);
	if (cap < 0 || !sll.sll_ifindex ||
	    bind(cap, (struct sockaddr *)&sll, sizeof(sll)) ||
	    setsockopt(cap, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one))) {
		fprintf(stderr, "rstlat: capture socket on the interface of %s: %s\n",
			argv[1], strerror(errno));
		return 1;
	}

	for (int i = 0; i < WARMUP; i++) {
		probe(sport++, pport);
		probe(sport++, qport);
	}
	for (int i = 0; i < count; i++) {
		int p_first = rnd() & 1;

		for (int k = 0; k < 2; k++) {
			int is_p = (k == 0) == p_first;
			double t;

			if (sport < 20000)
				sport = 20000;
			t = probe(sport++, is_p ? pport : qport);
			if (t < 0)
				is_p ? lostp++ : lostq++;
			else if (is_p)
				tp[np++] = t;
			else
				tq[nq++] = t;
		}
	}
	if (np < 2 || nq < 2) {
		fprintf(stderr, "rstlat: too few answers (protected %d, closed %d)\n",
			np, nq);
		return 1;
	}
	z = mann_whitney(tp, np, tq, nq, &u);
	qsort(tp, np, sizeof(*tp), cmp_double);
	qsort(tq, nq, sizeof(*tq), cmp_double);
	printf("%s n_p %d n_q %d lost_p %d lost_q %d"
	       " median_p_us %.3f q1_p_us %.3f q3_p_us %.3f"
	       " median_q_us %.3f q1_q_us %.3f q3_q_us %.3f"
	       " U %.1f z %.2f p %.3g auc %.3f\n",
	       tag, np, nq, lostp, lostq,
	       quantile(tp, np, 0.5), quantile(tp, np, 0.25), quantile(tp, np, 0.75),
	       quantile(tq, nq, 0.5), quantile(tq, nq, 0.25), quantile(tq, nq, 0.75),
	       u, z, erfc(fabs(z) / sqrt(2)), u / ((double)np * nq));
	return 0;
}
