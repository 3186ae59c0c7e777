/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Hand-built TCP segments for the wire-level selftests (tcp_stealth_wire,
 * tcp_stealth_isn): namespace a of a netns_pair sends them through a raw
 * IPPROTO_RAW socket (our own IP header and TCP checksum) to namespace b
 * and captures what crosses a's veth0 (or another link of a:
 * raw_wire_open_link()), both ways, with an AF_PACKET socket.
 */
#ifndef TCP_STEALTH_TESTS_RAW_H
#define TCP_STEALTH_TESTS_RAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netns.h"

#define TH_FIN	0x01
#define TH_SYN	0x02
#define TH_RST	0x04
#define TH_PSH	0x08
#define TH_ACK	0x10
#define TH_URG	0x20
#define TH_ECE	0x40
#define TH_CWR	0x80

/* A segment to send from a to b. */
struct seg {
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags, tos;	/* tos: IPv4 TOS or IPv6 traffic class */
	uint16_t win, urg;
	uint8_t opts[40];
	int optlen;		/* multiple of 4 */
	uint8_t data[32];
	int datalen;
	bool bad_csum;
	/*
	 * Not 0: sent as the payload of a UDP datagram to this port of b
	 * (Foo-over-UDP, `ip fou add port P ipproto 6`), from UDP port sport;
	 * the TCP checksum still covers the outer addresses, which TCP sees.
	 */
	uint16_t fou_port;
	/* With fou_port: a GUE header (version 0, naming TCP) first
	 * (`ip fou add port P gue`). */
	bool gue;
};

/* A captured TCP segment, with the IP fields an observer sees. */
struct reply {
	bool present;
	uint8_t proto;		/* IP protocol (IPv6: next header) */
	uint8_t tos, ttl;	/* IPv6: traffic class, hop limit */
	uint16_t frag;		/* IPv4 flags + fragment offset */
	uint16_t id;		/* IPv4 */
	uint8_t ihl;		/* IPv4, bytes */
	uint32_t flow;		/* IPv6 flow label */
	uint16_t sport, dport;
	uint32_t seq, ack;
	uint8_t flags, doff;	/* doff in bytes */
	uint16_t win, urg;
	uint8_t opts[40];
	int optlen, datalen;
};

/* What a test sends from and captures on (namespace a). */
struct wire {
	int family;
	const char *nsa, *nsb;
	uint8_t addr_a[16], addr_b[16];
	/*
	 * The index of a's interface that the capture socket is bound to;
	 * also the scope that send_seg() gives a link-local addr_b.
	 */
	int ifindex;
	int raw, cap, lfd;	/* lfd: the test's own, -1 if none */
	uint16_t next_port;	/* source ports handed out in turn */
	bool check_flow;	/* compare whether the flow labels are 0 */
	/*
	 * Read packets from b whose IP protocol is UDP as TCP too: IPv4 TCP
	 * sends the RST it answers a segment with under the IP protocol of
	 * that segment's packet (ip_send_unicast_reply()), UDP for one that
	 * came through a Foo-over-UDP port.
	 */
	bool udp_as_tcp;
};

/* What capture() waits for: a segment on the given ports (0: any). */
struct match {
	bool outgoing;		/* a -> b (else b -> a) */
	uint16_t sport, dport;
	uint8_t flags, mask;	/* (flags & mask) == flags */
	struct reply *out;
	/*
	 * The answer to a segment sent after the others: once it is in, the
	 * others' are too (send_segs_in_order()), and capture() waits only
	 * FENCE_GRACE_MS more.
	 */
	bool fence;
};

#define FENCE_GRACE_MS	30

/*
 * Fill @w for @family over the pair @ns (a sends, b answers) and open its
 * raw and capture sockets in a; lfd is -1. 0, or -1 with a message.
 * raw_wire_close() closes what is open.
 */
int raw_wire_open(struct wire *w, const struct netns_pair *ns, int family);
/*
 * The same over another link of a: @ifname in a, with a's address @addr_a
 * and b's @addr_b on it (textual; IPv6 link-local ones are scoped to
 * @ifname when sent to). 0, or -1 with a message.
 */
int raw_wire_open_link(struct wire *w, const struct netns_pair *ns, int family,
		       const char *ifname, const char *addr_a,
		       const char *addr_b);
void raw_wire_close(struct wire *w);
/*
 * A plain SYN from a to @closed_port, where nothing listens in b, must come
 * back as RST|ACK: proves that sending and capturing work (else "no answer"
 * everywhere would pass) and resolves the neighbours both ways. 0, or -1
 * with a message.
 */
int raw_wire_check(struct wire *w, uint16_t closed_port);

uint32_t rand32(void);
void rand_bytes(void *p, size_t len);
void put16(uint8_t *p, uint16_t v);
void put32(uint8_t *p, uint32_t v);
uint16_t get16(const uint8_t *p);
uint32_t get32(const uint8_t *p);
/* The Internet checksum: add @p to @sum, then fold (and invert) it. */
uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len);
uint16_t csum_fold(uint32_t sum);
/* Address length of @family: 4 or 16. */
int alen(int family);

/*
 * The offset of the first TCP option of @kind with length byte @optlen in
 * the option area @o of @len bytes, or -1 (also for a malformed list).
 */
int find_tcp_option(const uint8_t *o, int len, uint8_t kind, uint8_t optlen);

/* The most build_packet() writes. */
#define RAW_PACKET_MAX	160

/*
 * @s from a to b as an IP packet in @buf (RAW_PACKET_MAX bytes); returns its
 * length.
 */
int build_packet(const struct wire *w, const struct seg *s, uint8_t *buf);
/* Send @s from a to b (by w's link, for a link-local addr_b). 0 or -1. */
int send_seg(const struct wire *w, const struct seg *s);
/*
 * Send @s[0..@n-1] from a to b, in that order, from one CPU: the veth
 * queues them on that CPU's backlog, where b handles them and queues its
 * answers, so the answers come back in the same order. 0 or -1.
 */
int send_segs_in_order(const struct wire *w, const struct seg *const *s,
		       int n);
/*
 * Send @sp and @sq from a to b and capture b's answers to them in @rp and
 * @rq. A fence follows them: an ACK to @closed_port from a port of its own
 * (carried as @sq is: its fou_port), which b answers with an RST. The three
 * take the same queues in order (send_segs_in_order()), so once the fence's
 * answer is in, so are the others: silence costs a round trip, not
 * @timeout_ms.
 */
void exchange_fenced(struct wire *w, const struct seg *sp, const struct seg *sq,
		     uint16_t closed_port, struct reply *rp, struct reply *rq,
		     int timeout_ms);
/* Parse an IP packet from @src to @dst; false if not TCP of w's family. */
bool parse_packet(const struct wire *w, const uint8_t *p, int len,
		  const uint8_t *src, const uint8_t *dst, struct reply *r);
/* Read a's capture until each @m has its segment, or @timeout_ms passed,
 * or FENCE_GRACE_MS after a fence's; returns how many were found. */
int capture(const struct wire *w, struct match *m, int n, int timeout_ms);
/* Throw away whatever the capture socket has queued. */
void drain(const struct wire *w);
/* TCP flags @f as "SYN|ACK" ("none" for 0) in @buf (40 bytes). */
const char *flag_str(uint8_t f, char *buf);

#endif /* TCP_STEALTH_TESTS_RAW_H */
