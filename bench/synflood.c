// SPDX-License-Identifier: GPL-2.0
/*
 * synflood: a bounded flood of IPv4 SYNs carrying a knock option, sent from a
 * raw socket with sendmmsg() in batches. Only for `make bench`, inside the
 * test VM's own namespaces.
 *
 *   synflood SRC DST DPORT COUNT SECONDS MODE
 *
 * Sends COUNT SYNs from SRC (source ports 1024..65023, cycling) to DST:DPORT,
 * or stops after SECONDS, whichever comes first. Every SYN has one 20-byte
 * knock option (docs/PROTOCOL.md, section 3) with the current time, so it
 * passes the syntax and freshness checks. MODE says what its MAC is:
 *   badmac  random: fails the MAC check (wrong MAC)
 *   valid   a valid MAC over a fresh random nonce: every SYN a distinct knock
 *   replay  one valid knock, the same in every SYN (only the source port and
 *           sequence number change): the first is fresh, the rest replays
 *   edge    as valid, but every knock's time is 119 s ahead: at the far edge
 *           of the default skew's window, where a knock is remembered longest
 * Valid MACs use K_mac of the secret "This is my magic ID." (PROTOCOL.md,
 * section 12); the SipHash-2-4 below is checked on that section's vector
 * first. Prints "sent N seconds S" on success.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../tests/lib/knock_mac.h"

#define BATCH 64
#define PKT_LEN 60	/* IPv4 20 + TCP 20 + knock 20 */

/* Fills a 20-byte knock option. */
static void put_knock(uint8_t *o, uint16_t dport, uint64_t t,
		      const uint8_t n48[6], int valid)
{
	uint64_t mac;

	if (valid)
		mac = knock_mac(knock_vector_kmac, dport, t, n48);
	else if (getrandom(&mac, sizeof(mac), 0) != sizeof(mac))
		mac = 0x5a5a5a5a5a5a5a5aULL;
	knock_option(o, t, n48, mac);
}

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* Builds the IPv4 header and TCP SYN around the option already at p+40. */
static void build(uint8_t *p, struct in_addr src, struct in_addr dst,
		  uint16_t sport, uint16_t dport, uint32_t seq)
{
	uint8_t *ip = p, *th = p + 20, pseudo[12];
	uint32_t sum;

	memset(p, 0, 40);
	ip[0] = 0x45;
	ip[2] = PKT_LEN >> 8;
	ip[3] = PKT_LEN & 0xff;
	ip[6] = 0x40;		/* DF */
	ip[8] = 64;
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	sum = csum_fold(csum_add(0, ip, 20));
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;

	th[0] = sport >> 8;
	th[1] = sport & 0xff;
	th[2] = dport >> 8;
	th[3] = dport & 0xff;
	th[4] = seq >> 24;
	th[5] = seq >> 16;
	th[6] = seq >> 8;
	th[7] = seq;
	th[12] = 10 << 4;	/* doff: 40 bytes */
	th[13] = 0x02;		/* SYN */
	th[14] = 0xff;		/* window 65535 */
	th[15] = 0xff;
	memcpy(pseudo, &src, 4);
	memcpy(pseudo + 4, &dst, 4);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	pseudo[10] = 0;
	pseudo[11] = 40;
	sum = csum_fold(csum_add(csum_add(0, pseudo, 12), th, 40));
	th[16] = sum >> 8;
	th[17] = sum & 0xff;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t pkts[BATCH][PKT_LEN];
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct in_addr src, dst;
	uint8_t n48[6], replay_opt[20];
	unsigned long count, sent = 0;
	double secs, t0, t;
	uint32_t seq;
	uint16_t dport;
	int fd, mode, one = 1;
	static const uint8_t vec_n48[6] = { 1, 2, 3, 4, 5, 6 };

	if (argc != 7) {
		fprintf(stderr, "usage: %s SRC DST DPORT COUNT SECONDS badmac|valid|replay|edge\n",
			argv[0]);
		return 2;
	}
	if (inet_pton(AF_INET, argv[1], &src) != 1 ||
	    inet_pton(AF_INET, argv[2], &dst) != 1) {
		fprintf(stderr, "synflood: bad address\n");
		return 2;
	}
	dport = atoi(argv[3]);
	count = strtoul(argv[4], NULL, 10);
	secs = atof(argv[5]);
	if (!strcmp(argv[6], "badmac"))
		mode = 0;
	else if (!strcmp(argv[6], "valid"))
		mode = 1;
	else if (!strcmp(argv[6], "replay"))
		mode = 2;
	else if (!strcmp(argv[6], "edge"))
		mode = 3;
	else {
		fprintf(stderr, "synflood: unknown mode %s\n", argv[6]);
		return 2;
	}
	/* PROTOCOL.md, section 12: dport 22, t 1700000000, nonce 01..06. */
	if (knock_mac(knock_vector_kmac, 22, 1700000000, vec_n48) != 0x18fc60bc334047a2ULL) {
		fprintf(stderr, "synflood: SipHash does not match the test vector\n");
		return 1;
	}

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0 || setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one))) {
		perror("synflood: raw socket");
		return 1;
	}
	sin.sin_addr = dst;
	for (int i = 0; i < BATCH; i++) {
		iov[i].iov_base = pkts[i];
		iov[i].iov_len = PKT_LEN;
		memset(&msgs[i], 0, sizeof(msgs[i]));
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sin;
		msgs[i].msg_hdr.msg_namelen = sizeof(sin);
	}
	if (getrandom(&seq, sizeof(seq), 0) != sizeof(seq) ||
	    getrandom(n48, sizeof(n48), 0) != sizeof(n48))
		return 1;
	put_knock(replay_opt, dport, time(NULL), n48, 1);

	t0 = now_s();
	t = t0;
	while (sent < count && t - t0 < secs) {
		unsigned int n = count - sent < BATCH ? count - sent : BATCH;
		uint64_t unix_now = time(NULL) + (mode == 3 ? 119 : 0);
		int r;

		for (unsigned int i = 0; i < n; i++) {
			uint8_t *p = pkts[i];
			unsigned long k = sent + i;

			if (mode == 2) {
				memcpy(p + 40, replay_opt, 20);
			} else {
				/* A counter in the nonce keeps every knock distinct. */
				memcpy(n48, &k, 4);
				put_knock(p + 40, dport, unix_now, n48, mode != 0);
			}
			build(p, src, dst, 1024 + k % 64000, dport, seq + k * 7919);
		}
		r = sendmmsg(fd, msgs, n, 0);
		if (r < 0) {
			if (errno == ENOBUFS || errno == EAGAIN)
				continue;
			perror("synflood: sendmmsg");
			return 1;
		}
		sent += r;
		t = now_s();
	}
	printf("sent %lu seconds %.3f\n", sent, now_s() - t0);
	return 0;
}
