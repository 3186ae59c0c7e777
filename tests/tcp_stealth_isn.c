// SPDX-License-Identifier: GPL-2.0
/*
 * The ISN mode (TCP_STEALTH_MODE_ISN): compatibility with the original Knock,
 * whose knock is the SYN's initial sequence number.
 *
 * The test computes the original's ISN itself, with its own MD5 compression
 * written from docs/PROTOCOL.md (section 13), checked first against the
 * original project's reference vectors. Then, in namespaces a (client) and b
 * (server) joined by veth:
 *  - hand-built SYNs (raw socket in a) with the right ISN get a SYN-ACK from
 *    an ISN-mode listener in b; wrong ISNs get exactly the closed port's
 *    answer (port Q, where nothing listens);
 *  - the SYNs of an ISN-mode client in a, captured on a's veth0 (AF_PACKET),
 *    carry the ISN the test computes from their own TSval and destination,
 *    on the first transmission and on a retransmission;
 *  - ISN-mode client and server talk; clients without the secret, with
 *    another secret or in option mode are refused;
 *  - the socket option's errors.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop
#include "netns.h"
#include "raw.h"
#include "stealth.h"
#include <linux/tcp_stealth.h>

#define T_TIMEOUT	300
#define PORT_P		PORT	/* ISN-mode listener */
#define PORT_Q		4243	/* nothing listens */
#define SECRET		"isn test secret"
#define SECRET2		"isn second secret"
#define REPLY_WAIT_MS	700

#define note(fmt, ...) fprintf(stderr, "# " fmt "\n", ##__VA_ARGS__)

/* ---- the original Knock's ISN, computed independently ------------------- */

/* RFC 1321: the sines table and the per-round rotations. */
static const uint32_t md5_t[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a,
	0xa8304613, 0xfd469501, 0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be,
	0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821, 0xf61e2562, 0xc040b340,
	0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8,
	0x676f02d9, 0x8d2a4c8a, 0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c,
	0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70, 0x289b7ec6, 0xeaa127fa,
	0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92,
	0xffeff47d, 0x85845dd1, 0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1,
	0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const int md5_r[4][4] = {
	{ 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 },
};

static uint32_t rol(uint32_t x, int n)
{
	return x << n | x >> (32 - n);
}

static uint32_t le32(const uint8_t *p)
{
	return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24;
}

/* One MD5 compression of @block into @h (no padding, no length). */
static void md5_block(uint32_t h[4], const uint8_t block[64])
{
	uint32_t x[16], a = h[0], b = h[1], c = h[2], d = h[3];
	int i;

	for (i = 0; i < 16; i++)
		x[i] = le32(block + 4 * i);
	for (i = 0; i < 64; i++) {
		uint32_t f, t;
		int k, round = i / 16;

		switch (round) {
		case 0: f = (b & c) | (~b & d); k = i; break;
		case 1: f = (b & d) | (c & ~d); k = (5 * i + 1) % 16; break;
		case 2: f = b ^ c ^ d; k = (3 * i + 5) % 16; break;
		default: f = c ^ (b | ~d); k = (7 * i) % 16; break;
		}
		t = d;
		d = c;
		c = b;
		b = b + rol(a + f + md5_t[i] + x[k], md5_r[round][i % 4]);
		a = t;
	}
	h[0] += a;
	h[1] += b;
	h[2] += c;
	h[3] += d;
}

/*
 * The original's ISN: IV = daddr || zeros, IV[8..12] ^= be32(tsval),
 * IV[12..14] ^= be16(dport); one compression of the zero-padded secret with
 * IV as the chaining value (little-endian words); the four words XORed.
 */
static uint32_t knock_isn_ih(const char *secret, const uint8_t *daddr,
			     int alen, uint16_t dport, uint32_t tsval, int ih)
{
	uint8_t block[64] = { 0 }, iv[16] = { 0 };
	uint32_t h[4];
	int i;

	memcpy(block, secret, strlen(secret));
	memcpy(iv, daddr, alen);
	if (ih >= 0) {
		iv[4] ^= ih >> 8;
		iv[5] ^= ih;
	}
	iv[8] ^= tsval >> 24;
	iv[9] ^= tsval >> 16;
	iv[10] ^= tsval >> 8;
	iv[11] ^= tsval;
	iv[12] ^= dport >> 8;
	iv[13] ^= dport;
	for (i = 0; i < 4; i++)
		h[i] = le32(iv + 4 * i);
	md5_block(h, block);
	h[0] ^= h[1] ^ h[2] ^ h[3];
	return ih >= 0 ? (h[0] & 0xffff0000) | ih : h[0];
}

static uint32_t knock_isn(const char *secret, const uint8_t *daddr, int alen,
			  uint16_t dport, uint32_t tsval)
{
	return knock_isn_ih(secret, daddr, alen, dport, tsval, -1);
}

/*
 * The original's integrity hash: MD5 of the zero-padded 64-byte secret and
 * the first @len payload bytes (plain MD5, padded here by hand), its eight
 * big-endian 16-bit words XORed.
 */
static uint16_t knock_ih(const char *secret, const void *payload, size_t len)
{
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	size_t total = 64 + len, n = (total + 8) / 64 + 1, i;
	uint8_t *msg = calloc(n, 64), out[16];
	uint64_t bits = (uint64_t)total * 8;
	uint16_t ih = 0;

	if (!msg)
		return 0;
	memcpy(msg, secret, strlen(secret));
	memcpy(msg + 64, payload, len);
	msg[total] = 0x80;
	for (i = 0; i < 8; i++)
		msg[n * 64 - 8 + i] = bits >> (8 * i);
	for (i = 0; i < n; i++)
		md5_block(h, msg + 64 * i);
	free(msg);
	for (i = 0; i < 16; i++)
		out[i] = h[i / 4] >> (8 * (i % 4));
	for (i = 0; i < 16; i += 2)
		ih ^= out[i] << 8 | out[i + 1];
	return ih;
}

/* ---- packets ------------------------------------------------------------ */

/* A SYN from a to b:@dport with Linux's options and TSval @tsval. */
static void linux_syn(struct wire *w, struct seg *s, uint16_t dport,
		      uint32_t tsval)
{
	static const uint8_t opts[20] = {
		2, 4, 0x05, 0xb4,		/* MSS 1460 */
		4, 2, 8, 10, 0, 0, 0, 0,	/* SACK-permitted, TS */
		0, 0, 0, 0, 1, 3, 3, 7,		/* TSecr, NOP, wscale 7 */
	};

	memset(s, 0, sizeof(*s));
	s->sport = w->next_port++;
	s->dport = dport;
	s->flags = TH_SYN;
	s->win = 64240;
	memcpy(s->opts, opts, sizeof(opts));
	put32(s->opts + 8, tsval);
	s->optlen = sizeof(opts);
}

/* Send @s and capture b's answer (within @wait_ms). */
static void probe(const struct wire *w, const struct seg *s, struct reply *r,
		  int wait_ms)
{
	struct match m = { .sport = s->dport, .dport = s->sport, .out = r };

	r->present = false;
	drain(w);
	if (!send_seg(w, s))
		capture(w, &m, 1, wait_ms);
}

/* The TSval of a captured SYN's timestamp option; 0 without one. */
static uint32_t reply_tsval(const struct reply *r, bool *found)
{
	int i = find_tcp_option(r->opts, r->optlen, 8, 10);

	*found = i >= 0;
	return i >= 0 ? get32(r->opts + i + 2) : 0;
}

/*
 * The answers to the bad SYN @sp (protected port) and the plain SYN @sq
 * (closed port) must not differ in anything an observer sees. Returns the
 * number of differing fields (printed).
 */
static int compare_replies(const char *what, const struct seg *sp,
			   const struct reply *rp, const struct seg *sq,
			   const struct reply *rq)
{
	char diff[256] = "";
	int n = 0;

#define DIFF(cond, name) do {				\
		if (cond) {				\
			strcat(diff, " " name);		\
			n++;				\
		}					\
	} while (0)

	DIFF(!rp->present || !rq->present, "presence");
	if (rp->present && rq->present) {
		DIFF(rp->flags != rq->flags, "flags");
		DIFF(rp->seq != rq->seq, "seq");
		DIFF(rp->ack - sp->seq != rq->ack - sq->seq, "ack");
		DIFF(rp->win != rq->win, "window");
		DIFF(rp->urg != rq->urg, "urg");
		DIFF(rp->doff != rq->doff, "doff");
		DIFF(rp->optlen != rq->optlen ||
		     memcmp(rp->opts, rq->opts, rp->optlen), "options");
		DIFF(rp->datalen != rq->datalen, "data");
		DIFF(rp->tos != rq->tos, "tos/tclass");
		DIFF(rp->ttl != rq->ttl, "ttl/hoplimit");
		DIFF(rp->frag != rq->frag, "df/frag");
		DIFF(rp->id != rq->id, "ip-id");
		DIFF(rp->ihl != rq->ihl, "ihl");
	}
#undef DIFF
	if (n)
		note("%s: protected and closed port answer differently:%s "
		     "(present %d/%d flags 0x%02x/0x%02x)", what, diff,
		     rp->present, rq->present, rp->flags, rq->flags);
	return n;
}

/* ---- sockets ------------------------------------------------------------ */

static int set_mode(int fd, int mode)
{
	return setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &mode,
			  sizeof(mode)) ? -errno : 0;
}

static int get_mode(int fd)
{
	int mode = -1;
	socklen_t len = sizeof(mode);

	if (getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &mode, &len))
		return -errno;
	return len == sizeof(mode) ? mode : -EMSGSIZE;
}

/* An ISN-mode listener in b on PORT_P with @secret. */
static int isn_listener(const char *ns, int family, const char *secret)
{
	int fd = listener(ns, family, netns_addr_b(family), secret);

	if (fd >= 0 && set_mode(fd, TCP_STEALTH_MODE_ISN)) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * A client in @ns with @secret (NULL: plain) in @mode connecting to
 * b:PORT_P; the connected fd goes to @fd_out if not NULL. 0 or -errno.
 */
static int mode_client(const char *ns, int family, const char *secret,
		       int mode, int *fd_out)
{
	int fd = sock_in(ns, family), ret;

	if (fd < 0)
		return -EBADF;
	if (secret && ((ret = set_secret(fd, secret, 0)) ||
		       (ret = set_mode(fd, mode)))) {
		close(fd);
		return ret;
	}
	ret = connect_to(fd, family, netns_addr_b(family), PORT_P, 4000);
	if (ret || !fd_out)
		close(fd);
	else
		*fd_out = fd;
	return ret;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &sl))
		return 0;
	return ntohs(ss.ss_family == AF_INET6 ?
		     ((struct sockaddr_in6 *)&ss)->sin6_port :
		     ((struct sockaddr_in *)&ss)->sin_port);
}

/*
 * Wait for the nonblocking connect() on @fd to finish, then make @fd blocking
 * with the helpers' timeouts. 0, or -errno.
 */
static int wait_connected(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	socklen_t elen = sizeof(int);
	int err = 0;

	if (poll(&pfd, 1, timeout_ms) != 1)
		return -ETIMEDOUT;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen))
		return -errno;
	if (err)
		return -err;
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	sock_set_timeouts(fd, NETNS_TIMEOUT_MS);
	return 0;
}

/* ---- the reference vectors ---------------------------------------------- */

TEST(reference_vectors)
{
	/* MD5("abc") through the compression alone, padded by hand. */
	static const uint8_t abc[16] = {
		0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
		0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72,
	};
	uint32_t h[4] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 };
	uint8_t block[64] = { 'a', 'b', 'c', 0x80 }, v4[4], v6[16], out[16];
	int i;

	block[56] = 24;
	md5_block(h, block);
	for (i = 0; i < 16; i++)
		out[i] = h[i / 4] >> (8 * (i % 4));
	EXPECT_EQ(0, memcmp(abc, out, 16));

	/* The original project's values (docs/PROTOCOL.md, section 13). */
	ASSERT_EQ(1, inet_pton(AF_INET, "192.18.42.42", v4));
	ASSERT_EQ(1, inet_pton(AF_INET6, "2001:db8::2a:2a", v6));
	EXPECT_EQ(0xedea1325u,
		  knock_isn("Magic secret string", v4, 4, 4242, 0x11223344));
	EXPECT_EQ(0x4923a842u,
		  knock_isn("Magic secret string", v6, 16, 4242, 0x11223344));
	/* With integrity over the reference payload. */
	EXPECT_EQ(0xff96, knock_ih("Magic secret string", "Protected payload goes here.", 28));
	EXPECT_EQ(0x2153ff96u, knock_isn_ih("Magic secret string", v4, 4, 4242,
					    0x11223344, 0xff96));
	EXPECT_EQ(0x3ae5ff96u, knock_isn_ih("Magic secret string", v6, 16, 4242,
					    0x11223344, 0xff96));
	/* And every input matters. */
	EXPECT_NE(0xedea1325u,
		  knock_isn("Magic secret strinG", v4, 4, 4242, 0x11223344));
	EXPECT_NE(0xedea1325u,
		  knock_isn("Magic secret string", v4, 4, 4243, 0x11223344));
	EXPECT_NE(0xedea1325u,
		  knock_isn("Magic secret string", v4, 4, 4242, 0x11223345));
}

/* ---- the fixture -------------------------------------------------------- */

FIXTURE(isn) {
	struct netns_pair ns;
	struct wire w;
};

FIXTURE_VARIANT(isn) {
	int family;
};

FIXTURE_VARIANT_ADD(isn, ipv4) {
	.family = AF_INET,
};

FIXTURE_VARIANT_ADD(isn, ipv6) {
	.family = AF_INET6,
};

FIXTURE_SETUP(isn)
{
	struct wire *w = &self->w;

	w->raw = w->cap = w->lfd = -1;
	ASSERT_EQ(0, netns_pair_create(&self->ns, "tsi"));
	ASSERT_EQ(0, raw_wire_open(w, &self->ns, variant->family));
	ASSERT_EQ(0, raw_wire_check(w, PORT_Q));
}

FIXTURE_TEARDOWN_PARENT(isn)
{
	netns_pair_destroy(&self->ns);
}

/* ---- the server --------------------------------------------------------- */

/* SYNs with the original's ISN get a SYN-ACK, with or without a TSval. */
TEST_F_TIMEOUT(isn, raw_syn_valid_isn, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, i;
	long long good = CTR(w->nsb, "isn_good");
	long long bad = CTR(w->nsb, "isn_bad");
	struct reply r = { 0 };
	struct seg s;

	ASSERT_LE(0, good);
	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	for (i = 0; i < 2; i++) {
		uint32_t tsval = i ? 0 : rand32() | 1;

		linux_syn(w, &s, PORT_P, tsval);
		if (i)
			s.optlen = 0;	/* no timestamp: TSval 0 */
		s.seq = knock_isn(SECRET, w->addr_b, alen(fam), PORT_P, tsval);
		probe(w, &s, &r, 3000);
		ASSERT_TRUE(r.present) {
			TH_LOG("no answer to a valid ISN (tsval %u)", tsval);
		}
		EXPECT_EQ(TH_SYN | TH_ACK, r.flags);
		EXPECT_EQ(s.seq + 1, r.ack);
	}
	EXPECT_EQ(good + 2, CTR(w->nsb, "isn_good"));
	EXPECT_EQ(bad, CTR(w->nsb, "isn_bad"));
	close(lfd);
}

/* Every wrong ISN gets exactly what the closed port answers. */
TEST_F_TIMEOUT(isn, raw_syn_wrong_isn_like_closed_port, T_TIMEOUT)
{
	static const char *const what[] = {
		"isn+1", "other secret", "other tsval", "other dport",
		"other daddr", "tsval dropped", "random seq",
	};
	struct wire *w = &self->w;
	int fam = w->family, lfd, i, n = ARRAY_SIZE(what);
	long long bad = CTR(w->nsb, "isn_bad");
	long long good = CTR(w->nsb, "isn_good");
	long long rst = CTR(w->nsb, "rst_sent");

	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	for (i = 0; i < n; i++) {
		uint32_t tsval = rand32() | 1;
		struct reply rp = { 0 }, rq = { 0 };
		struct seg sp, sq;

		linux_syn(w, &sp, PORT_P, tsval);
		switch (i) {
		case 0:
			sp.seq = knock_isn(SECRET, w->addr_b, alen(fam), PORT_P,
					   tsval) + 1;
			break;
		case 1:
			sp.seq = knock_isn(SECRET2, w->addr_b, alen(fam),
					   PORT_P, tsval);
			break;
		case 2:
			sp.seq = knock_isn(SECRET, w->addr_b, alen(fam), PORT_P,
					   tsval + 1);
			break;
		case 3:
			sp.seq = knock_isn(SECRET, w->addr_b, alen(fam), PORT_Q,
					   tsval);
			break;
		case 4:
			sp.seq = knock_isn(SECRET, w->addr_a, alen(fam), PORT_P,
					   tsval);
			break;
		case 5:
			sp.seq = knock_isn(SECRET, w->addr_b, alen(fam), PORT_P,
					   tsval);
			sp.optlen = 0;
			break;
		default:
			sp.seq = rand32();
			break;
		}
		linux_syn(w, &sq, PORT_Q, tsval);
		sq.seq = rand32();
		sq.optlen = sp.optlen;
		probe(w, &sp, &rp, REPLY_WAIT_MS + 2000);
		probe(w, &sq, &rq, REPLY_WAIT_MS + 2000);
		EXPECT_EQ(0, compare_replies(what[i], &sp, &rp, &sq, &rq));
		EXPECT_EQ(TH_RST | TH_ACK, rp.flags) {
			TH_LOG("%s", what[i]);
		}
	}
	EXPECT_EQ(bad + n, CTR(w->nsb, "isn_bad"));
	EXPECT_EQ(rst + n, CTR(w->nsb, "rst_sent"));
	EXPECT_EQ(good, CTR(w->nsb, "isn_good"));
	close(lfd);
}

/* ---- the client --------------------------------------------------------- */

/* The SYN on the wire carries the original's ISN for its own TSval. */
TEST_F_TIMEOUT(isn, client_isn_on_wire, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd;
	long long sent = CTR(w->nsa, "isn_sent");
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT_P, &ss);
	struct reply syn;
	struct match m = {
		.outgoing = true, .dport = PORT_P,
		.flags = TH_SYN, .mask = TH_SYN | TH_ACK, .out = &syn,
	};
	bool has_ts;
	uint32_t tsval;

	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	cfd = sock_in(w->nsa, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	ASSERT_EQ(0, set_mode(cfd, TCP_STEALTH_MODE_ISN));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	drain(w);
	ASSERT_TRUE(connect(cfd, (struct sockaddr *)&ss, sl) == 0 ||
		    errno == EINPROGRESS);
	m.sport = local_port(cfd);
	ASSERT_EQ(1, capture(w, &m, 1, 3000));
	tsval = reply_tsval(&syn, &has_ts);
	EXPECT_TRUE(has_ts);
	EXPECT_EQ(knock_isn(SECRET, w->addr_b, alen(fam), PORT_P, tsval),
		  syn.seq) {
		TH_LOG("tsval %u", tsval);
	}
	/* The socket follows the new ISN: the handshake completes, data flows. */
	ASSERT_EQ(0, wait_connected(cfd, 5000));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_EQ(sent + 1, CTR(w->nsa, "isn_sent"));
	close(cfd);
	close(lfd);
}

/*
 * Without TCP timestamps the original takes TSval 0; and with transmit
 * checksum offload off the rewritten SYN still has a valid checksum (b's
 * stack would drop it silently otherwise).
 */
TEST_F_TIMEOUT(isn, client_no_timestamps_no_offload, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd;
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT_P, &ss);
	struct reply syn;
	struct match m = {
		.outgoing = true, .dport = PORT_P,
		.flags = TH_SYN, .mask = TH_SYN | TH_ACK, .out = &syn,
	};
	bool has_ts;

	ASSERT_EQ(0, netns_sysctl_set(w->nsa, "net.ipv4.tcp_timestamps", "0"));
	ASSERT_EQ(0, netns_system(w->nsa, "ethtool -K veth0 tx off >/dev/null"));
	ASSERT_EQ(0, netns_system(w->nsa,
		"ethtool -k veth0 | grep -q 'tx-checksumming: off'"));
	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	cfd = sock_in(w->nsa, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	ASSERT_EQ(0, set_mode(cfd, TCP_STEALTH_MODE_ISN));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	drain(w);
	ASSERT_TRUE(connect(cfd, (struct sockaddr *)&ss, sl) == 0 ||
		    errno == EINPROGRESS);
	m.sport = local_port(cfd);
	ASSERT_EQ(1, capture(w, &m, 1, 3000));
	EXPECT_EQ(0, reply_tsval(&syn, &has_ts));
	EXPECT_FALSE(has_ts);
	EXPECT_EQ(knock_isn(SECRET, w->addr_b, alen(fam), PORT_P, 0), syn.seq);
	ASSERT_EQ(0, wait_connected(cfd, 5000));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/*
 * The first SYN is dropped at b: the retransmission carries the same ISN,
 * and that ISN is still right for the retransmission's own TSval.
 */
TEST_F_TIMEOUT(isn, client_isn_retransmit, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd, i;
	long long resent = CTR(w->nsa, "isn_resent");
	long long good = CTR(w->nsb, "isn_good");
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT_P, &ss);
	struct reply syn[2];
	struct match m = {
		.outgoing = true, .dport = PORT_P,
		.flags = TH_SYN, .mask = TH_SYN | TH_ACK,
	};
	bool has_ts;

	ASSERT_EQ(0, netns_system(w->nsb,
		"nft 'add table inet t; "
		"add chain inet t in { type filter hook input priority -50; }; "
		"add rule inet t in tcp dport %d tcp flags syn counter drop'",
		PORT_P));
	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	cfd = sock_in(w->nsa, fam);
	ASSERT_LE(0, cfd);
	ASSERT_EQ(0, set_secret(cfd, SECRET, 0));
	ASSERT_EQ(0, set_mode(cfd, TCP_STEALTH_MODE_ISN));
	fcntl(cfd, F_SETFL, O_NONBLOCK);
	drain(w);
	ASSERT_TRUE(connect(cfd, (struct sockaddr *)&ss, sl) == 0 ||
		    errno == EINPROGRESS);
	m.sport = local_port(cfd);
	m.out = &syn[0];
	ASSERT_EQ(1, capture(w, &m, 1, 3000));
	/* Wait until b has dropped it, then let the next one through. */
	for (i = 0; i < 100; i++) {
		if (!netns_system(w->nsb,
				  "nft list chain inet t in | grep -q 'packets [1-9]'"))
			break;
		usleep(20000);
	}
	ASSERT_LT(i, 100);
	ASSERT_EQ(0, netns_system(w->nsb, "nft flush chain inet t in"));
	m.out = &syn[1];
	ASSERT_EQ(1, capture(w, &m, 1, 8000)) {
		TH_LOG("no retransmitted SYN");
	}
	for (i = 0; i < 2; i++) {
		uint32_t tsval = reply_tsval(&syn[i], &has_ts);

		EXPECT_TRUE(has_ts);
		EXPECT_EQ(knock_isn(SECRET, w->addr_b, alen(fam), PORT_P, tsval),
			  syn[i].seq) {
			TH_LOG("transmission %d, tsval %u", i + 1, tsval);
		}
	}
	EXPECT_EQ(syn[0].seq, syn[1].seq);
	ASSERT_EQ(0, wait_connected(cfd, 10000));
	EXPECT_EQ(0, exchange(cfd, lfd));
	EXPECT_LE(resent + 1, CTR(w->nsa, "isn_resent"));
	EXPECT_EQ(good + 1, CTR(w->nsb, "isn_good"));
	close(cfd);
	close(lfd);
}

/* ---- client and server -------------------------------------------------- */

TEST_F_TIMEOUT(isn, client_server, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd = -1;
	long long good = CTR(w->nsb, "isn_good");
	long long bad = CTR(w->nsb, "isn_bad");
	long long failed = CTR(w->nsa, "isn_failed");

	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_ISN, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(good + 1, CTR(w->nsb, "isn_good"));

	/* Without the secret, with another one, or in option mode: refused. */
	EXPECT_EQ(-ECONNREFUSED, mode_client(w->nsa, fam, NULL, 0, NULL));
	EXPECT_EQ(-ECONNREFUSED,
		  mode_client(w->nsa, fam, SECRET2, TCP_STEALTH_MODE_ISN, NULL));
	EXPECT_EQ(-ECONNREFUSED,
		  mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_OPTION, NULL));
	EXPECT_EQ(bad + 3, CTR(w->nsb, "isn_bad"));
	EXPECT_EQ(good + 1, CTR(w->nsb, "isn_good"));

	/* Key rotation: a listener accepts the ISN of any of its keys. */
	ASSERT_EQ(0, key_op(lfd, TCP_STEALTH_KEY_ADD, SECRET2));
	ASSERT_EQ(0, mode_client(w->nsa, fam, SECRET2, TCP_STEALTH_MODE_ISN, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	ASSERT_EQ(0, mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_ISN, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(good + 3, CTR(w->nsb, "isn_good"));
	EXPECT_EQ(failed, CTR(w->nsa, "isn_failed"));

	/* Back to option mode, the listener refuses ISN knocks again. */
	ASSERT_EQ(0, set_mode(lfd, TCP_STEALTH_MODE_OPTION));
	EXPECT_EQ(-ECONNREFUSED,
		  mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_ISN, NULL));
	ASSERT_EQ(0, mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_OPTION, &cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	close(lfd);
}

/* ---- integrity: IH in the ISN's low 16 bits ------------------------------ */

#define PAYLOAD "Protected payload goes here."
#define PAYLOAD_LEN ((int)sizeof(PAYLOAD) - 1)

/*
 * An ISN-mode client in a committing to PAYLOAD; 0 or -errno. With
 * mode_last, the mode is set after the bytes (the commitment is recomputed
 * for the new mode).
 */
static int isn_int_client(const struct wire *w, int nonblock, bool mode_last,
			  int *fd_out)
{
	int fd = sock_in(w->nsa, w->family), ret;

	if (fd < 0)
		return -EBADF;
	if ((ret = set_secret(fd, SECRET, 0)) ||
	    (!mode_last && (ret = set_mode(fd, TCP_STEALTH_MODE_ISN))) ||
	    (setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY, PAYLOAD,
			PAYLOAD_LEN) && (ret = -errno)) ||
	    (mode_last && (ret = set_mode(fd, TCP_STEALTH_MODE_ISN)))) {
		close(fd);
		return ret;
	}
	if (nonblock)
		fcntl(fd, F_SETFL, O_NONBLOCK);
	*fd_out = fd;
	return 0;
}

static int isn_int_listener(const struct wire *w)
{
	int fd = isn_listener(w->nsb, w->family, SECRET), n = PAYLOAD_LEN;

	if (fd >= 0 &&
	    setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_INTEGRITY_LEN, &n, sizeof(n))) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The client's ISN carries IH, computed here from the payload, and the
 * connection's first bytes are checked against it; the same with the mode
 * set after the bytes.
 */
TEST_F_TIMEOUT(isn, integrity_round_trip, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd, afd;
	long long ok = CTR(w->nsb, "integrity_ok");
	bool mode_last;
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT_P, &ss);
	struct reply syn;
	struct match m = {
		.outgoing = true, .dport = PORT_P,
		.flags = TH_SYN, .mask = TH_SYN | TH_ACK, .out = &syn,
	};
	uint16_t ih = knock_ih(SECRET, PAYLOAD, PAYLOAD_LEN);
	char buf[PAYLOAD_LEN];
	bool has_ts;

	lfd = isn_int_listener(w);
	ASSERT_LE(0, lfd);
	for (mode_last = false; ; mode_last = true) {
		ASSERT_EQ(0, isn_int_client(w, 1, mode_last, &cfd));
		drain(w);
		ASSERT_TRUE(connect(cfd, (struct sockaddr *)&ss, sl) == 0 ||
			    errno == EINPROGRESS);
		m.sport = local_port(cfd);
		ASSERT_EQ(1, capture(w, &m, 1, 3000));
		EXPECT_EQ(knock_isn_ih(SECRET, w->addr_b, alen(fam), PORT_P,
				       reply_tsval(&syn, &has_ts), ih), syn.seq) {
			TH_LOG("ih %04x", ih);
		}
		ASSERT_EQ(0, wait_connected(cfd, 5000));
		ASSERT_EQ(0, write_all(cfd, PAYLOAD, PAYLOAD_LEN));
		afd = tcp_accept_timeout(lfd, 4000);
		ASSERT_LE(0, afd);
		ASSERT_EQ(0, read_all(afd, buf, sizeof(buf)));
		EXPECT_EQ(0, memcmp(buf, PAYLOAD, sizeof(buf)));
		EXPECT_EQ(++ok, CTR(w->nsb, "integrity_ok"));
		close(afd);
		close(cfd);
		if (mode_last)
			break;
	}
	close(lfd);
}

TEST_F_TIMEOUT(isn, integrity_tampered, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, lfd, cfd, afd;
	long long bad = CTR(w->nsb, "integrity_mismatch");
	char sent[] = PAYLOAD, buf[64];
	struct sockaddr_storage ss;
	socklen_t sl = netns_sockaddr(fam, netns_addr_b(fam), PORT_P, &ss);

	lfd = isn_int_listener(w);
	ASSERT_LE(0, lfd);
	ASSERT_EQ(0, isn_int_client(w, 0, false, &cfd));
	ASSERT_EQ(0, connect(cfd, (struct sockaddr *)&ss, sl));
	ASSERT_EQ(0, sock_set_timeouts(cfd, 5000));
	sent[0] ^= 0x20;
	ASSERT_EQ(0, write_all(cfd, sent, PAYLOAD_LEN));
	afd = tcp_accept_timeout(lfd, 4000);
	ASSERT_LE(0, afd);
	ASSERT_EQ(0, sock_set_timeouts(afd, 5000));
	EXPECT_EQ(-1, read(afd, buf, sizeof(buf)));
	EXPECT_EQ(EBADMSG, errno);
	EXPECT_EQ(bad + 1, CTR(w->nsb, "integrity_mismatch"));
	EXPECT_EQ(-1, read(cfd, buf, sizeof(buf)));
	EXPECT_EQ(ECONNRESET, errno);
	close(afd);
	close(cfd);
	close(lfd);
}

/* ---- the socket option -------------------------------------------------- */

TEST_F_TIMEOUT(isn, sockopt_errors, T_TIMEOUT)
{
	struct wire *w = &self->w;
	int fam = w->family, fd, lfd, cfd = -1, v;
	char ulp[16] = "";
	socklen_t len, ulen;

	fd = sock_in(w->nsa, fam);
	ASSERT_LE(0, fd);
	/* Without the ULP, reading the option is TCP's own business: unknown. */
	EXPECT_EQ(-ENOPROTOOPT, get_mode(fd));
	/* With the kernel patch, setting it attaches the ULP. */
	EXPECT_EQ(0, set_mode(fd, TCP_STEALTH_MODE_ISN));
	ulen = sizeof(ulp);
	ASSERT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_ULP, ulp, &ulen));
	EXPECT_STREQ("stealth", ulp);
	EXPECT_EQ(TCP_STEALTH_MODE_ISN, get_mode(fd));
	EXPECT_EQ(0, set_mode(fd, TCP_STEALTH_MODE_OPTION));
	EXPECT_EQ(TCP_STEALTH_MODE_OPTION, get_mode(fd));

	/* Unknown values, short values, bad pointers: nothing changes. */
	EXPECT_EQ(-EINVAL, set_mode(fd, 2));
	EXPECT_EQ(-EINVAL, set_mode(fd, -1));
	v = TCP_STEALTH_MODE_ISN;
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &v, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, NULL, 4));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(TCP_STEALTH_MODE_OPTION, get_mode(fd));
	/* getsockopt truncates to the caller's buffer, like the info. */
	v = -1;
	len = 0;
	EXPECT_EQ(0, getsockopt(fd, IPPROTO_TCP, TCP_STEALTH_MODE, &v, &len));
	EXPECT_EQ(0, (int)len);

	/* Either order with the keys; back and forth. */
	EXPECT_EQ(0, set_mode(fd, TCP_STEALTH_MODE_ISN));
	EXPECT_EQ(TCP_STEALTH_MODE_ISN, get_mode(fd));
	EXPECT_EQ(0, setsockopt(fd, IPPROTO_TCP, TCP_STEALTH, SECRET, strlen(SECRET)));
	EXPECT_EQ(TCP_STEALTH_MODE_ISN, get_mode(fd));
	EXPECT_EQ(0, set_mode(fd, TCP_STEALTH_MODE_OPTION));
	EXPECT_EQ(TCP_STEALTH_MODE_OPTION, get_mode(fd));
	close(fd);

	/* On a listener it can change; on a connected socket it cannot. */
	lfd = isn_listener(w->nsb, fam, SECRET);
	ASSERT_LE(0, lfd);
	EXPECT_EQ(TCP_STEALTH_MODE_ISN, get_mode(lfd));
	ASSERT_EQ(0, mode_client(w->nsa, fam, SECRET, TCP_STEALTH_MODE_ISN, &cfd));
	EXPECT_EQ(-EISCONN, set_mode(cfd, TCP_STEALTH_MODE_OPTION));
	EXPECT_EQ(-EISCONN, set_mode(cfd, TCP_STEALTH_MODE_ISN));
	EXPECT_EQ(-EINVAL, set_mode(cfd, 7));
	EXPECT_EQ(TCP_STEALTH_MODE_ISN, get_mode(cfd));
	EXPECT_EQ(0, exchange(cfd, lfd));
	close(cfd);
	EXPECT_EQ(0, set_mode(lfd, TCP_STEALTH_MODE_OPTION));
	EXPECT_EQ(TCP_STEALTH_MODE_OPTION, get_mode(lfd));
	close(lfd);
}

TEST_HARNESS_MAIN
