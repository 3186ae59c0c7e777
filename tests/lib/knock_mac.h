/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The knock MAC in plain C, independent of the module (docs/PROTOCOL.md,
 * sections 3-4, without integrity), for tools that send knocks of a known
 * K_mac on their own: tests/tcp_stealth_scale.c and bench/synflood.c. Both
 * check it on the test vector of section 12 before use.
 */
#ifndef TCP_STEALTH_TESTS_KNOCK_MAC_H
#define TCP_STEALTH_TESTS_KNOCK_MAC_H

#include <stdint.h>
#include <string.h>

/* K_mac of the secret "This is my magic ID." (PROTOCOL.md, section 12). */
static const uint8_t knock_vector_kmac[16] = {
	0x31, 0x79, 0xc1, 0x98, 0x2b, 0x8a, 0x1d, 0xd1,
	0x80, 0x46, 0xae, 0x47, 0x54, 0xc2, 0x38, 0xa0,
};

static inline uint64_t knock_le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static inline uint64_t knock_rotl(uint64_t x, int b)
{
	return x << b | x >> (64 - b);
}

#define KNOCK_SIPROUND do {							\
	v0 += v1; v1 = knock_rotl(v1, 13); v1 ^= v0; v0 = knock_rotl(v0, 32);	\
	v2 += v3; v3 = knock_rotl(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = knock_rotl(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = knock_rotl(v1, 17); v1 ^= v2; v2 = knock_rotl(v2, 32);	\
} while (0)

/* SipHash-2-4 of the 24 bytes le64(w[0]) || le64(w[1]) || le64(w[2]). */
static inline uint64_t knock_siphash24_3(const uint8_t key[16], const uint64_t w[3])
{
	uint64_t k0 = knock_le64(key), k1 = knock_le64(key + 8);
	uint64_t v0 = k0 ^ 0x736f6d6570736575ULL, v1 = k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ULL, v3 = k1 ^ 0x7465646279746573ULL;
	uint64_t last = (uint64_t)24 << 56;

	for (int i = 0; i < 3; i++) {
		v3 ^= w[i];
		KNOCK_SIPROUND; KNOCK_SIPROUND;
		v0 ^= w[i];
	}
	v3 ^= last;
	KNOCK_SIPROUND; KNOCK_SIPROUND;
	v0 ^= last;
	v2 ^= 0xff;
	KNOCK_SIPROUND; KNOCK_SIPROUND; KNOCK_SIPROUND; KNOCK_SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* The knock MAC (PROTOCOL.md, section 4) with @kmac, without integrity. */
static inline uint64_t knock_mac(const uint8_t kmac[16], uint16_t dport,
				 uint64_t t, const uint8_t n48[6])
{
	uint8_t a[8] = { 'T', 'S', 'K', '1', 0, 0, dport >> 8, dport & 0xff };
	uint8_t c[8] = { 0 };
	uint64_t w[3];

	memcpy(c, n48, 6);
	w[0] = knock_le64(a);
	w[1] = t;
	w[2] = knock_le64(c);
	return knock_siphash24_3(kmac, w);
}

/* A 20-byte knock option at @o (PROTOCOL.md, section 3) for @dport at time
 * @t with nonce @n48 and MAC @mac. */
static inline void knock_option(uint8_t *o, uint64_t t, const uint8_t n48[6],
				uint64_t mac)
{
	o[0] = 254;
	o[1] = 20;
	o[2] = 0x4b;
	o[3] = 0x4e;
	o[4] = (t & 0x3fff) >> 8;
	o[5] = t & 0xff;
	memcpy(o + 6, n48, 6);
	for (int i = 0; i < 8; i++)
		o[12 + i] = mac >> (8 * i);
}

#endif /* TCP_STEALTH_TESTS_KNOCK_MAC_H */
