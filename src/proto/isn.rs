// SPDX-License-Identifier: GPL-2.0

//! The original TCP Stealth / Knock ISN scheme (Linux 3.x patch), for a
//! compatibility mode.
//!
//! There the 32-bit ISN of the SYN is the authenticator:
//!
//! 1. `IV` = 16 zero bytes; the destination address (4 or 16 bytes) is
//!    copied to its start; then `IV[4..6] ^= be16(IH)`,
//!    `IV[8..12] ^= be32(TSval)` and `IV[12..14] ^= be16(dport)`.
//! 2. One MD5 compression (no padding, no length) of the 64-byte
//!    zero-padded secret with `IV` as the chaining value, all words read
//!    little-endian.
//! 3. `ISN = h0 ^ h1 ^ h2 ^ h3`; with integrity its low 16 bits are
//!    replaced by `IH`.
//!
//! `IH` (0 without integrity) is the XOR of the eight big-endian 16-bit
//! words of `MD5(secret64 || payload[0..len])`. `TSval` is the SYN's TCP
//! timestamp value, or 0 if the SYN carries none.

use super::{ct_eq, Error, PayloadDigest, StreamVerifier, TcpOptions, MAX_SECRET_LEN};

const K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Per-round left rotations, indexed by `4 * round + step % 4`.
const ROT: [u32; 16] = [7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21];

const MD5_INIT: [u32; 4] = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];

/// The little-endian `u32` at `buf[at..at + 4]` (0 past the end).
fn le32(buf: &[u8], at: usize) -> u32 {
    match buf.get(at..at + 4) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// The MD5 compression function (RFC 1321, section 3.4): processes one
/// 64-byte block into the chaining value `state`, like the kernel's
/// `md5_transform()` with the block read as little-endian words.
pub fn md5_compress(state: &mut [u32; 4], block: &[u8; 64]) {
    // Indexed loads rather than `zip(chunks_exact(4))`: the latter leaves
    // out-of-line iterator helpers that objtool flags in the kernel build.
    let mut m = [0u32; 16];
    for (i, w) in m.iter_mut().enumerate() {
        *w = le32(block, 4 * i);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    // Written out step by step, with the message word, the constant and the
    // rotation of each known at compile time: a loop over the 64 steps chose
    // them at run time and cost about four times as many instructions, and
    // the ISN mode computes four of these for every SYN it judges.
    macro_rules! step {
        ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $i:expr) => {
            $a = $b.wrapping_add(
                $f($b, $c, $d)
                    .wrapping_add($a)
                    .wrapping_add(K[$i])
                    .wrapping_add(m[msg_index($i)])
                    .rotate_left(ROT[$i / 16 * 4 + $i % 4]),
            );
        };
    }
    macro_rules! four {
        ($f:ident, $i:expr) => {
            step!($f, a, b, c, d, $i);
            step!($f, d, a, b, c, $i + 1);
            step!($f, c, d, a, b, $i + 2);
            step!($f, b, c, d, a, $i + 3);
        };
    }
    four!(md5_f, 0);
    four!(md5_f, 4);
    four!(md5_f, 8);
    four!(md5_f, 12);
    four!(md5_g, 16);
    four!(md5_g, 20);
    four!(md5_g, 24);
    four!(md5_g, 28);
    four!(md5_h, 32);
    four!(md5_h, 36);
    four!(md5_h, 40);
    four!(md5_h, 44);
    four!(md5_i, 48);
    four!(md5_i, 52);
    four!(md5_i, 56);
    four!(md5_i, 60);
    for (s, v) in state.iter_mut().zip([a, b, c, d]) {
        *s = s.wrapping_add(v);
    }
    // The block may be a secret (the ISN's key, the first block of IH).
    super::wipe(&mut m);
}

/// The message word step `i` (0 to 63) of MD5 adds.
const fn msg_index(i: usize) -> usize {
    match i / 16 {
        0 => i,
        1 => (5 * i + 1) % 16,
        2 => (3 * i + 5) % 16,
        _ => (7 * i) % 16,
    }
}

#[inline(always)]
fn md5_f(b: u32, c: u32, d: u32) -> u32 {
    (b & c) | (!b & d)
}

#[inline(always)]
fn md5_g(b: u32, c: u32, d: u32) -> u32 {
    (d & b) | (!d & c)
}

#[inline(always)]
fn md5_h(b: u32, c: u32, d: u32) -> u32 {
    b ^ c ^ d
}

#[inline(always)]
fn md5_i(b: u32, c: u32, d: u32) -> u32 {
    c ^ (b | !d)
}

/// Streaming MD5 (RFC 1321), built on [`md5_compress`]. Wiped when dropped:
/// in the ISN mode it hashes the secret first, so its buffer holds the
/// secret and its state a keyed digest.
#[derive(Clone)]
pub struct Md5 {
    state: [u32; 4],
    buf: [u8; 64],
    buf_len: usize,
    total: u64,
}

impl Default for Md5 {
    fn default() -> Self {
        Self::new()
    }
}

impl Md5 {
    /// Starts a new hash.
    pub fn new() -> Self {
        Self {
            state: MD5_INIT,
            buf: [0; 64],
            buf_len: 0,
            total: 0,
        }
    }

    /// Absorbs `data`.
    pub fn update(&mut self, mut data: &[u8]) {
        self.total = self.total.wrapping_add(data.len() as u64);
        while !data.is_empty() {
            let free = &mut self.buf[self.buf_len..];
            let (head, rest) = data.split_at(free.len().min(data.len()));
            free[..head.len()].copy_from_slice(head);
            self.buf_len += head.len();
            data = rest;
            if self.buf_len == self.buf.len() {
                md5_compress(&mut self.state, &self.buf);
                self.buf_len = 0;
                // The first block may be the secret: no copy of this
                // hash (it is moved around) keeps it once it is absorbed.
                super::wipe(&mut self.buf);
            }
        }
    }

    /// Pads and returns the 16-byte digest.
    pub fn finalize(mut self) -> [u8; 16] {
        let bits = self.total.wrapping_mul(8);
        self.update(&[0x80]);
        let zeros = [0u8; 64];
        let pad = (64 + 56 - self.buf_len) % 64;
        self.update(&zeros[..pad]);
        self.update(&bits.to_le_bytes());
        let mut out = [0u8; 16];
        for (o, s) in out.chunks_exact_mut(4).zip(self.state) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        out
    }
}

impl Drop for Md5 {
    fn drop(&mut self) {
        super::wipe(&mut self.state);
        super::wipe(&mut self.buf);
    }
}

/// An ISN-mode secret: 1 to 64 bytes, zero-padded to 64.
///
/// The original kernel silently truncated longer secrets; this refuses them.
#[derive(Clone)]
pub struct IsnSecret([u8; MAX_SECRET_LEN]);

impl IsnSecret {
    /// The all-zero secret, as [`IsnSecret::default`], usable in constant
    /// expressions (array fillers).
    pub const ZERO: Self = Self([0; MAX_SECRET_LEN]);

    /// Pads `secret` (1 to [`MAX_SECRET_LEN`] bytes) with zeros.
    pub fn new(secret: &[u8]) -> Result<Self, Error> {
        if secret.is_empty() || secret.len() > MAX_SECRET_LEN {
            return Err(Error::SecretLength);
        }
        let mut s = Self([0; MAX_SECRET_LEN]);
        s.0[..secret.len()].copy_from_slice(secret);
        Ok(s)
    }
}

impl Drop for IsnSecret {
    /// Wipes the secret, so that freed memory does not keep it.
    fn drop(&mut self) {
        super::wipe(&mut self.0);
    }
}

impl core::fmt::Debug for IsnSecret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("IsnSecret { .. }")
    }
}

impl Default for IsnSecret {
    /// The all-zero secret (the same as the one-byte secret `"\0"`): a
    /// filler for unused key slots, never used to knock.
    fn default() -> Self {
        Self::ZERO
    }
}

/// TCP option kind of the timestamp option (RFC 7323).
const TCPOPT_TIMESTAMP: u8 = 8;
/// Its length.
const TCPOLEN_TIMESTAMP: usize = 10;

/// The TCP timestamp option of a TCP option area (the `doff * 4 - 20` bytes
/// after the fixed header): `(offset, tsval)`, where `offset` is where the
/// 4-byte TSval starts in `opts`. `None` if there is none.
///
/// The list is walked as Linux's `tcp_parse_options()` does: kind 0 ends
/// it, kind 1 is a one-byte NOP, and an option whose length byte is
/// missing, below 2 or runs past the end stops the walk (keeping what was
/// found before). Options of kind 8 whose length is not 10 are ignored. If
/// there are several, the last one counts, as in Linux.
pub fn find_tsval(opts: &[u8]) -> Option<(usize, u32)> {
    TcpOptions::new(opts)
        .map_while(Result::ok)
        .filter(|(_, o)| o[0] == TCPOPT_TIMESTAMP && o.len() == TCPOLEN_TIMESTAMP)
        .map(|(i, o)| (i + 2, u32::from_be_bytes([o[2], o[3], o[4], o[5]])))
        .last()
}

/// The ISN mode's integrity digest: the folded `MD5(secret64 || payload)`
/// equals the `IH` the SYN's ISN carried (its low 16 bits).
#[derive(Clone)]
pub struct IsnDigest {
    md5: Md5,
    ih: u16,
}

impl PayloadDigest for IsnDigest {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
    }

    fn matches(self) -> bool {
        ct_eq(
            &fold_digest(&self.md5.finalize()).to_be_bytes(),
            &self.ih.to_be_bytes(),
        )
    }
}

/// Receiver side of the ISN mode's integrity check, over the first `n` bytes.
pub type IsnVerifier = StreamVerifier<IsnDigest>;

impl StreamVerifier<IsnDigest> {
    /// Starts checking `ih` over the first `n` (1 to 65535) payload bytes.
    pub fn new(secret: &IsnSecret, ih: u16, n: usize) -> Result<Self, Error> {
        let mut md5 = Md5::new();
        md5.update(&secret.0);
        Self::start(IsnDigest { md5, ih }, n)
    }
}

fn fold_digest(d: &[u8; 16]) -> u16 {
    d.chunks_exact(2)
        .fold(0, |acc, w| acc ^ u16::from_be_bytes([w[0], w[1]]))
}

/// The fields of a saved SYN (IP header and TCP header, as TCP_SAVED_SYN
/// keeps them) that the ISN mode's check needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynHeaders<'a> {
    /// Destination address: 4 or 16 bytes.
    pub daddr: &'a [u8],
    /// Destination port.
    pub dport: u16,
    /// Sequence number (the ISN).
    pub seq: u32,
    /// The TCP options.
    pub options: &'a [u8],
}

impl<'a> SynHeaders<'a> {
    /// Parses `ip_len` bytes of IPv4 or IPv6 header (extension headers
    /// included) followed by a TCP header. `None` if it does not fit.
    pub fn parse(headers: &'a [u8], ip_len: usize) -> Option<Self> {
        let daddr = match headers.first()? >> 4 {
            4 => headers.get(16..20)?,
            6 => headers.get(24..40)?,
            _ => return None,
        };
        let th = headers.get(ip_len..)?;
        let doff = usize::from(*th.get(12)? >> 4) * 4;
        Some(Self {
            daddr,
            dport: u16::from_be_bytes([*th.get(2)?, *th.get(3)?]),
            seq: u32::from_be_bytes(th.get(4..8)?.try_into().ok()?),
            options: th.get(20..doff)?,
        })
    }
}

/// The 16-bit integrity hash `IH` of the first bytes of the payload.
pub fn isn_integrity_hash(secret: &IsnSecret, payload: &[u8]) -> u16 {
    let mut h = Md5::new();
    h.update(&secret.0);
    h.update(payload);
    fold_digest(&h.finalize())
}

/// The ISN (host byte order) an ISN-mode client sends to `daddr` (4 or 16
/// bytes, network order; longer input is cut at 16) and `dport` with
/// timestamp value `tsval`, and integrity hash `ih` if any.
pub fn make_isn(secret: &IsnSecret, daddr: &[u8], dport: u16, tsval: u32, ih: Option<u16>) -> u32 {
    let mut iv = [0u8; 16];
    let n = daddr.len().min(iv.len());
    iv[..n].copy_from_slice(&daddr[..n]);
    let xor = |dst: &mut [u8], src: &[u8]| dst.iter_mut().zip(src).for_each(|(d, s)| *d ^= s);
    xor(&mut iv[4..6], &ih.unwrap_or(0).to_be_bytes());
    xor(&mut iv[8..12], &tsval.to_be_bytes());
    xor(&mut iv[12..14], &dport.to_be_bytes());

    let mut state = [0u32; 4];
    for (i, s) in state.iter_mut().enumerate() {
        *s = le32(&iv, 4 * i);
    }
    md5_compress(&mut state, &secret.0);
    let av = state.iter().fold(0, |acc, s| acc ^ s);
    // A keyed digest of which the ISN shows only the XOR.
    super::wipe(&mut state);
    match ih {
        Some(ih) => (av & 0xffff_0000) | u32::from(ih),
        None => av,
    }
}

/// Server side: whether the SYN's `isn` authenticates. With `integrity`,
/// `IH` is taken from the low 16 bits of `isn`, only the high 16 bits are
/// compared, and the caller must then check the payload against
/// `isn as u16` with [`isn_integrity_hash`].
pub fn check_isn(
    secret: &IsnSecret,
    isn: u32,
    daddr: &[u8],
    dport: u16,
    tsval: u32,
    integrity: bool,
) -> bool {
    let ih = integrity.then_some(isn as u16);
    let expect = make_isn(secret, daddr, dport, tsval, ih);
    ct_eq(&expect.to_be_bytes(), &isn.to_be_bytes())
}

/// Server side: whether `isn` authenticates under any of the first
/// [`MAX_KEYS`](super::MAX_KEYS) of `secrets` (as [`check_isn`]).
///
/// It always computes [`MAX_KEYS`](super::MAX_KEYS) ISNs, the slots past the
/// last secret filled with [`IsnSecret::ZERO`], whose matches never count,
/// and never stops at a match: the time it takes tells neither how many
/// secrets there are, nor which matched, nor whether there are any. With
/// none it is the work a port that is not in ISN mode does for a SYN in a
/// namespace where some are, so that the two answer in the same time.
pub fn check_isn_any(
    secrets: &[IsnSecret],
    isn: u32,
    daddr: &[u8],
    dport: u16,
    tsval: u32,
    integrity: bool,
) -> bool {
    const PAD: IsnSecret = IsnSecret::ZERO;
    (0..super::MAX_KEYS).fold(false, |ok, i| {
        let secret = secrets.get(i);
        let hit = check_isn(secret.unwrap_or(&PAD), isn, daddr, dport, tsval, integrity);
        // No `&&`: the filler's ISNs are computed and compared all the same.
        ok | (core::hint::black_box(hit) & secret.is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn md5(data: &[u8]) -> [u8; 16] {
        let mut h = Md5::new();
        h.update(data);
        h.finalize()
    }

    fn hex(s: &str) -> [u8; 16] {
        let mut out = [0u8; 16];
        for (o, i) in out.iter_mut().zip((0..32).step_by(2)) {
            *o = u8::from_str_radix(&s[i..i + 2], 16).unwrap();
        }
        out
    }

    #[test]
    fn rfc1321_suite() {
        let cases: [(&[u8], &str); 7] = [
            (b"", "d41d8cd98f00b204e9800998ecf8427e"),
            (b"a", "0cc175b9c0f1b6a831c399e269772661"),
            (b"abc", "900150983cd24fb0d6963f7d28e17f72"),
            (b"message digest", "f96b697d7cb7938d525a2f31aaf161d0"),
            (
                b"abcdefghijklmnopqrstuvwxyz",
                "c3fcd3d76192e4007dfb496cca67e13b",
            ),
            (
                b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                "d174ab98d277d9f5a5611c2c9f419d9f",
            ),
            (
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
                "57edf4a22be3c955ac49da2e2107b67a",
            ),
        ];
        for (msg, digest) in cases {
            assert_eq!(md5(msg), hex(digest));
            // Same result when fed byte by byte.
            let mut h = Md5::new();
            msg.iter().for_each(|b| h.update(&[*b]));
            assert_eq!(h.finalize(), hex(digest));
        }
    }

    #[test]
    fn compress_single_block() {
        // "abc" padded by hand: the compression alone yields MD5("abc").
        let mut block = [0u8; 64];
        block[..4].copy_from_slice(b"abc\x80");
        block[56] = 24;
        let mut state = MD5_INIT;
        md5_compress(&mut state, &block);
        let mut out = [0u8; 16];
        for (o, s) in out.chunks_exact_mut(4).zip(state) {
            o.copy_from_slice(&s.to_le_bytes());
        }
        assert_eq!(out, hex("900150983cd24fb0d6963f7d28e17f72"));
    }

    // Reference values of the original project (isn_algorithm/
    // gen_rfc_ref_vals.sh of kirschju/tcp-stealth): secret "Magic secret
    // string", dport 4242, TSval 0x11223344, integrity over the 28 bytes
    // "Protected payload goes here.".
    const SECRET: &[u8] = b"Magic secret string";
    const PAYLOAD: &[u8] = b"Protected payload goes here.";
    const V6: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x2a, 0, 0x2a,
    ];
    const V4: [u8; 4] = [192, 18, 42, 42];

    #[test]
    fn original_vectors() {
        let s = IsnSecret::new(SECRET).unwrap();
        let ih = isn_integrity_hash(&s, PAYLOAD);
        assert_eq!(ih, 0xff96);
        assert_eq!(make_isn(&s, &V6, 4242, 0x11223344, None), 0x4923a842);
        assert_eq!(make_isn(&s, &V6, 4242, 0x11223344, Some(ih)), 0x3ae5ff96);
        assert_eq!(make_isn(&s, &V4, 4242, 0x11223344, None), 0xedea1325);
        assert_eq!(make_isn(&s, &V4, 4242, 0x11223344, Some(ih)), 0x2153ff96);
    }

    #[test]
    fn check_isn_accepts_the_reference_isns() {
        let s = IsnSecret::new(SECRET).unwrap();
        assert!(check_isn(&s, 0x4923a842, &V6, 4242, 0x11223344, false));
        assert!(check_isn(&s, 0x3ae5ff96, &V6, 4242, 0x11223344, true));
        assert!(check_isn(&s, 0xedea1325, &V4, 4242, 0x11223344, false));
        assert!(check_isn(&s, 0x2153ff96, &V4, 4242, 0x11223344, true));
        // Any changed input fails.
        assert!(!check_isn(&s, 0x4923a843, &V6, 4242, 0x11223344, false));
        assert!(!check_isn(&s, 0x4923a842, &V6, 4243, 0x11223344, false));
        assert!(!check_isn(&s, 0x4923a842, &V6, 4242, 0x11223345, false));
        assert!(!check_isn(&s, 0x2153ff96, &V6, 4242, 0x11223344, true));
        // With integrity the low half is IH, so a wrong IH changes the high
        // half of the expected value.
        assert!(!check_isn(&s, 0x2153ff97, &V4, 4242, 0x11223344, true));
    }

    #[test]
    fn tsval_in_options() {
        // A Linux SYN: MSS, SACK-permitted + timestamps, NOP + window scale.
        let linux = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert_eq!(find_tsval(&linux), Some((8, 0x11223344)));
        // NOP NOP TS, as on established segments.
        let nopnop = [1, 1, 8, 10, 0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1];
        assert_eq!(find_tsval(&nopnop), Some((4, 0xdeadbeef)));
        // None at all, empty, or only after the end of the list.
        assert_eq!(find_tsval(&[2, 4, 0x05, 0xb4]), None);
        assert_eq!(find_tsval(&[]), None);
        assert_eq!(find_tsval(&[0, 0, 8, 10, 1, 2, 3, 4, 5, 6, 7, 8]), None);
        // Wrong length: ignored; truncated: not there.
        assert_eq!(find_tsval(&[8, 6, 1, 2, 3, 4, 1, 1]), None);
        assert_eq!(find_tsval(&[1, 1, 8, 10, 1, 2, 3, 4, 5]), None);
        // A malformed option stops the walk but keeps what came before.
        assert_eq!(
            find_tsval(&[8, 10, 0, 0, 0, 9, 0, 0, 0, 0, 3, 1, 8, 10]),
            Some((2, 9))
        );
        assert_eq!(find_tsval(&[3, 0, 8, 10, 0, 0, 0, 9, 0, 0, 0, 0]), None);
        assert_eq!(find_tsval(&[3]), None);
        // The last one counts.
        let two = [8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 8, 10, 0, 0, 0, 2, 0, 0, 0, 0];
        assert_eq!(find_tsval(&two), Some((12, 2)));
        // Unknown options are skipped by their length.
        let unknown = [254, 4, 0xf9, 0x89, 8, 10, 0, 0, 1, 0, 0, 0, 0, 0];
        assert_eq!(find_tsval(&unknown), Some((6, 256)));
    }

    #[test]
    fn default_secret_is_nul() {
        // The slot filler is the secret "\0", distinct from real secrets.
        let d = IsnSecret::default();
        let nul = IsnSecret::new(&[0]).unwrap();
        let other = IsnSecret::new(SECRET).unwrap();
        assert_eq!(
            make_isn(&d, &V4, 4242, 1, None),
            make_isn(&nul, &V4, 4242, 1, None)
        );
        assert_ne!(
            make_isn(&d, &V4, 4242, 1, None),
            make_isn(&other, &V4, 4242, 1, None)
        );
    }

    #[test]
    fn secret_lengths() {
        assert_eq!(IsnSecret::new(b"").unwrap_err(), Error::SecretLength);
        assert_eq!(IsnSecret::new(&[1; 65]).unwrap_err(), Error::SecretLength);
        assert!(IsnSecret::new(&[1; 64]).is_ok());
    }

    extern crate std;
    use super::super::{IntegrityStatus, PayloadVerifier};
    use std::{vec, vec::Vec};

    #[test]
    fn isn_verifier_streams_the_reference_payload() {
        let secret = IsnSecret::new(SECRET).unwrap();
        for chunk in [1, 5, 28] {
            let mut v = IsnVerifier::new(&secret, 0xff96, PAYLOAD.len()).unwrap();
            for c in PAYLOAD.chunks(chunk) {
                assert_eq!(v.status(), IntegrityStatus::Pending);
                assert_eq!(v.feed(c), c.len());
            }
            assert_eq!(v.status(), IntegrityStatus::Match, "chunks of {chunk}");
            assert_eq!(v.remaining(), 0);
            assert_eq!(v.feed(b"more"), 0);
        }
    }

    #[test]
    fn check_isn_any_ignores_the_filler() {
        let daddr = [10, 0, 0, 2];
        let secrets: [IsnSecret; 5] =
            core::array::from_fn(|i| IsnSecret::new(&[b'k', i as u8]).unwrap());
        for integrity in [false, true] {
            let ih = integrity.then_some(0x1234);
            // The all-zero secret's ISN: what the filler computes. It must
            // never let a SYN in, with any number of secrets.
            let zero = make_isn(&IsnSecret::ZERO, &daddr, 22, 99, ih);
            for n in 0..=secrets.len() {
                assert!(!check_isn_any(
                    &secrets[..n],
                    zero,
                    &daddr,
                    22,
                    99,
                    integrity
                ));
                for (i, s) in secrets[..n].iter().enumerate() {
                    let isn = make_isn(s, &daddr, 22, 99, ih);
                    // Secrets past MAX_KEYS are not tried.
                    let want = i < super::super::MAX_KEYS;
                    assert_eq!(
                        check_isn_any(&secrets[..n], isn, &daddr, 22, 99, integrity),
                        want,
                        "{n} secrets, secret {i}, integrity {integrity}"
                    );
                    // Another port, another ISN.
                    assert!(!check_isn_any(
                        &secrets[..n],
                        isn,
                        &daddr,
                        23,
                        99,
                        integrity
                    ));
                }
            }
        }
    }

    #[test]
    fn isn_verifier_mismatches() {
        let secret = IsnSecret::new(SECRET).unwrap();
        let mut tampered = PAYLOAD.to_vec();
        tampered[3] ^= 1;
        let mut v = IsnVerifier::new(&secret, 0xff96, PAYLOAD.len()).unwrap();
        // Only the first n bytes count; the rest is left over.
        tampered.extend_from_slice(b"tail");
        assert_eq!(v.feed(&tampered), PAYLOAD.len());
        assert_eq!(v.status(), IntegrityStatus::Mismatch);
        let mut v = IsnVerifier::new(&secret, 0xff97, PAYLOAD.len()).unwrap();
        v.feed(PAYLOAD);
        assert_eq!(v.status(), IntegrityStatus::Mismatch);
        assert!(IsnVerifier::new(&secret, 0, 0).is_err());
        assert!(IsnVerifier::new(&secret, 0, 65536).is_err());
    }

    fn tcp_header(dport: u16, seq: u32, opts: &[u8]) -> Vec<u8> {
        let mut th = vec![0u8; 20];
        th[2..4].copy_from_slice(&dport.to_be_bytes());
        th[4..8].copy_from_slice(&seq.to_be_bytes());
        th[12] = (((20 + opts.len()) / 4) as u8) << 4;
        th.extend_from_slice(opts);
        th
    }

    #[test]
    fn syn_headers_parse() {
        let ts = [1, 1, 8, 10, 0x11, 0x22, 0x33, 0x44, 0, 0, 0, 0];
        let mut v4 = vec![0x45u8; 1];
        v4.resize(20, 0);
        v4[16..20].copy_from_slice(&V4);
        v4.extend(tcp_header(4242, 0x2153ff96, &ts));
        let h = SynHeaders::parse(&v4, 20).unwrap();
        assert_eq!(h.daddr, &[192, 18, 42, 42]);
        assert_eq!((h.dport, h.seq), (4242, 0x2153ff96));
        assert_eq!(find_tsval(h.options), Some((4, 0x11223344)));
        let secret = IsnSecret::new(SECRET).unwrap();
        assert!(check_isn(
            &secret, h.seq, h.daddr, h.dport, 0x11223344, true
        ));

        let mut v6 = vec![0x60u8; 1];
        v6.resize(40, 0);
        v6[24] = 0x20;
        v6.extend(tcp_header(22, 7, &[]));
        let h = SynHeaders::parse(&v6, 40).unwrap();
        assert_eq!(h.daddr.len(), 16);
        assert_eq!(h.daddr[0], 0x20);
        assert_eq!((h.dport, h.seq, h.options.len()), (22, 7, 0));

        // Truncated anywhere, or not IP: nothing.
        for cut in [0, 10, 25, 39, 50] {
            assert!(SynHeaders::parse(&v4[..cut], 20).is_none(), "cut at {cut}");
        }
        assert!(SynHeaders::parse(&v4, 60).is_none());
        let mut bad = v4.clone();
        bad[0] = 0x55;
        assert!(SynHeaders::parse(&bad, 20).is_none());
    }
}
