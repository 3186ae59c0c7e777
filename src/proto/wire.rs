// SPDX-License-Identifier: GPL-2.0

//! The knock option: layout, time window, MAC, building and verification.

use super::{Crypto, Error, KnockKey};

/// TCP option kind: RFC 6994 shared experimental option.
pub const OPT_KIND: u8 = 254;
/// Total length of the knock option in bytes.
pub const OPT_LEN: usize = 20;
/// RFC 6994 16-bit experiment identifier, ASCII "KN" (not IANA-registered).
pub const EXID: u16 = 0x4B4E;
/// Largest TCP option area (`doff` = 15).
pub const MAX_OPTION_SPACE: usize = 40;

/// `ctl` bit 15: an integrity commitment is present.
pub const CTL_INTEGRITY: u16 = 0x8000;
/// `ctl` bit 14: reserved, must be zero.
pub const CTL_RESERVED: u16 = 0x4000;
/// `ctl` bits 13..0: the client's UNIX time modulo 2^14.
pub const CTL_TIME_MASK: u16 = (1 << TIME_BITS) - 1;
/// Number of time bits carried in the option.
pub const TIME_BITS: u32 = 14;

/// First four bytes of the MAC word `a`: ASCII "TSK1".
pub const MAC_TAG: [u8; 4] = *b"TSK1";

/// Default allowed clock difference between client and server, in seconds.
pub const DEFAULT_SKEW_SECS: u32 = 120;
/// Largest allowed clock difference. Must stay below 2^13 so that the
/// reconstruction window of [`reconstruct_time`] covers it.
pub const MAX_SKEW_SECS: u32 = 3600;
/// Number of keys a listener may hold at once (for key rotation).
pub const MAX_KEYS: usize = 4;

const _: () = assert!(MAX_SKEW_SECS < 1 << (TIME_BITS - 1));
const _: () = assert!(OPT_LEN % 4 == 0 && OPT_LEN <= MAX_OPTION_SPACE);

/// Why a knock was not accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reject {
    /// Wrong kind, length or ExID, reserved bit set, or truncated.
    Malformed,
    /// The reconstructed time is outside the allowed skew.
    Stale,
    /// The MAC matches none of the keys.
    BadMac,
}

/// A validated clock skew of 1 to [`MAX_SKEW_SECS`] seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Skew(u32);

impl Skew {
    /// The default skew, [`DEFAULT_SKEW_SECS`].
    pub const DEFAULT: Skew = Skew(DEFAULT_SKEW_SECS);
    /// The largest skew, [`MAX_SKEW_SECS`].
    pub const MAX: Skew = Skew(MAX_SKEW_SECS);

    /// Validates `secs`.
    pub fn new(secs: u64) -> Result<Self, Error> {
        match u32::try_from(secs) {
            Ok(s @ 1..=MAX_SKEW_SECS) => Ok(Skew(s)),
            _ => Err(Error::SkewRange),
        }
    }

    /// The skew in seconds.
    pub fn secs(self) -> u64 {
        u64::from(self.0)
    }
}

/// The fields of a syntactically valid knock option.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Knock {
    /// The I bit: bytes 2..6 of `n48` are an integrity commitment.
    pub integrity: bool,
    /// The client's time modulo 2^14.
    pub t14: u16,
    /// Option bytes 6..12 (nonce, or 2 nonce bytes and the commitment).
    pub n48: [u8; 6],
    /// Option bytes 12..20, the MAC in little-endian byte order.
    pub mac: [u8; 8],
}

impl Knock {
    /// Parses a complete knock option (kind, length and ExID included).
    pub fn parse(opt: &[u8]) -> Result<Self, Reject> {
        let opt: &[u8; OPT_LEN] = opt.try_into().map_err(|_| Reject::Malformed)?;
        let ctl = u16::from_be_bytes([opt[4], opt[5]]);
        if opt[0] != OPT_KIND
            || usize::from(opt[1]) != OPT_LEN
            || opt[2..4] != EXID.to_be_bytes()
            || ctl & CTL_RESERVED != 0
        {
            return Err(Reject::Malformed);
        }
        // Indexed, not `copy_from_slice`: a SYN's verification stays free
        // of calls to `memcpy` for a few bytes.
        let [.., n0, n1, n2, n3, n4, n5, m0, m1, m2, m3, m4, m5, m6, m7] = *opt;
        Ok(Knock {
            integrity: ctl & CTL_INTEGRITY != 0,
            t14: ctl & CTL_TIME_MASK,
            n48: [n0, n1, n2, n3, n4, n5],
            mac: [m0, m1, m2, m3, m4, m5, m6, m7],
        })
    }

    /// Serializes the option.
    pub fn to_bytes(self) -> [u8; OPT_LEN] {
        let mut ctl = self.t14 & CTL_TIME_MASK;
        if self.integrity {
            ctl |= CTL_INTEGRITY;
        }
        let mut opt = [0u8; OPT_LEN];
        opt[0] = OPT_KIND;
        opt[1] = OPT_LEN as u8;
        opt[2..4].copy_from_slice(&EXID.to_be_bytes());
        opt[4..6].copy_from_slice(&ctl.to_be_bytes());
        opt[6..12].copy_from_slice(&self.n48);
        opt[12..20].copy_from_slice(&self.mac);
        opt
    }

    /// The integrity commitment `C32` (big-endian option bytes 8..12), if
    /// the I bit is set.
    pub fn commitment(&self) -> Option<u32> {
        self.integrity
            .then(|| u32::from_be_bytes([self.n48[2], self.n48[3], self.n48[4], self.n48[5]]))
    }
}

/// Reconstructs the full client time from its low [`TIME_BITS`] bits.
///
/// Returns the unique `t` with `t mod 2^14 == t14` and
/// `now - 2^13 <= t < now + 2^13`. The arithmetic is modulo 2^64, so for
/// `now < 2^13` a `t` "before zero" wraps around to near `u64::MAX`; it then
/// fails the MAC, as no client has such a clock.
pub fn reconstruct_time(now: u64, t14: u16) -> u64 {
    now.wrapping_add_signed(time_offset(now, t14))
}

/// `t - now` for the reconstructed `t`, in `-2^13..2^13`.
fn time_offset(now: u64, t14: u16) -> i64 {
    // (t14 - now) mod 2^14, then shifted into -2^13..2^13.
    let d = (u64::from(t14).wrapping_sub(now) & u64::from(CTL_TIME_MASK)) as i64;
    if d >= 1 << (TIME_BITS - 1) {
        d - (1 << TIME_BITS)
    } else {
        d
    }
}

/// Freshness: `|t - now| <= skew`, the distance taken modulo 2^64.
pub fn is_fresh(t: u64, now: u64, skew: Skew) -> bool {
    (t.wrapping_sub(now) as i64).unsigned_abs() <= skew.secs()
}

/// The three SipHash input words `[a, b, c]`.
///
/// `a` = le64(`"TSK1"`, flags, 0, dport high, dport low) with flags bit 0 =
/// I, `b` = `t`, `c` = le64(`n48`, 0, 0).
pub fn mac_words(integrity: bool, dport: u16, t: u64, n48: &[u8; 6]) -> [u64; 3] {
    let [ph, pl] = dport.to_be_bytes();
    let [t0, t1, t2, t3] = MAC_TAG;
    let a = u64::from_le_bytes([t0, t1, t2, t3, u8::from(integrity), 0, ph, pl]);
    let [n0, n1, n2, n3, n4, n5] = *n48;
    let c = u64::from_le_bytes([n0, n1, n2, n3, n4, n5, 0, 0]);
    [a, t, c]
}

/// The knock MAC, `SipHash-2-4(K_mac, le64(a) || le64(b) || le64(c))`, in
/// wire (little-endian) byte order.
pub fn compute_mac<C: Crypto>(
    crypto: &C,
    key: &KnockKey,
    integrity: bool,
    dport: u16,
    t: u64,
    n48: &[u8; 6],
) -> [u8; 8] {
    let [a, b, c] = mac_words(integrity, dport, t, n48);
    crypto.siphash_3u64(key.mac_key(), a, b, c).to_le_bytes()
}

/// Builds the knock option for a SYN to `dport` sent at time `now`.
///
/// `nonce` must be fresh random bytes. With an integrity commitment
/// `Some(c32)` only `nonce[0..2]` is used and `c32` fills bytes 8..12.
pub fn build<C: Crypto>(
    crypto: &C,
    key: &KnockKey,
    dport: u16,
    now: u64,
    nonce: [u8; 6],
    integrity: Option<u32>,
) -> [u8; OPT_LEN] {
    let mut n48 = nonce;
    if let Some(c32) = integrity {
        n48[2..].copy_from_slice(&c32.to_be_bytes());
    }
    let is_int = integrity.is_some();
    Knock {
        integrity: is_int,
        t14: (now & u64::from(CTL_TIME_MASK)) as u16,
        n48,
        mac: compute_mac(crypto, key, is_int, dport, now, &n48),
    }
    .to_bytes()
}

/// A knock that passed [`verify`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verified {
    /// Index into the key list of the key that matched.
    pub key_index: usize,
    /// The reconstructed client time.
    pub t: u64,
    /// The MAC as on the wire (the replay-cache key).
    pub mac: [u8; 8],
    /// The integrity commitment `C32`, if the I bit was set.
    pub integrity: Option<u32>,
}

/// Verifies a knock option received at time `now` on destination port
/// `dport` against the first [`MAX_KEYS`] of `keys`.
///
/// The checks are done cheapest first: syntax, then freshness, then the MAC.
/// A knock that passes the freshness check and matches no key costs
/// [`MAX_KEYS`] MAC computations, whatever the number of keys (none at all
/// included: a closed port is judged with none): slots past the last key
/// are filled with [`KnockKey::ZERO`], whose matches never count. So the
/// time a refused knock takes tells neither how many keys the port has nor
/// whether it has any. A knock that matches stops at its key: only its
/// holder can make one, and the timing shows no more than which of the
/// keys it was. The comparisons are constant-time. Replay protection is
/// separate, see [`ReplayCache`](super::ReplayCache).
pub fn verify<C: Crypto>(
    crypto: &C,
    keys: &[KnockKey],
    option: &[u8],
    dport: u16,
    now: u64,
    skew: Skew,
) -> Result<Verified, Reject> {
    /// The filler of the slots past the last key (never dropped).
    static PAD: KnockKey = KnockKey::ZERO;
    let knock = Knock::parse(option)?;
    let t = reconstruct_time(now, knock.t14);
    if !is_fresh(t, now, skew) {
        return Err(Reject::Stale);
    }
    let [a, b, c] = mac_words(knock.integrity, dport, t, &knock.n48);
    let wire = u64::from_le_bytes(knock.mac);
    for key_index in 0..MAX_KEYS {
        let key = keys.get(key_index);
        let mac = crypto.siphash_3u64(key.unwrap_or(&PAD).mac_key(), a, b, c);
        // Compared as one word: the difference goes through `black_box`,
        // so no early exit on the first differing byte, and the filler's
        // MACs are computed all the same.
        if core::hint::black_box(mac ^ wire) == 0 && key.is_some() {
            return Ok(Verified {
                key_index,
                t,
                mac: knock.mac,
                integrity: knock.commitment(),
            });
        }
    }
    Err(Reject::BadMac)
}

/// Result of [`find_knock`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindResult<'a> {
    /// Exactly one knock option, at `offset` in the option area.
    Found {
        /// Offset of the option's kind byte.
        offset: usize,
        /// The complete option.
        option: &'a [u8; OPT_LEN],
    },
    /// The option list is well-formed and has no knock option.
    Absent,
    /// Broken option list, a knock option of the wrong length, or two knock
    /// options.
    Malformed,
}

/// Looks for the knock option in a TCP option area (the `doff * 4 - 20`
/// bytes after the fixed header), walking it as RFC 9293 describes.
///
/// Kind 0 ends the list, kind 1 is a one-byte NOP, every other option has a
/// length byte >= 2 that must not run past the end. Kind 254 options with
/// another ExID (e.g. TFO's 0xF989) are skipped. The whole list is checked
/// even after a knock is found.
pub fn find_knock(opts: &[u8]) -> FindResult<'_> {
    let mut found = None;
    for opt in TcpOptions::new(opts) {
        let Ok((offset, opt)) = opt else {
            return FindResult::Malformed;
        };
        if opt[0] == OPT_KIND && opt.get(2..4) == Some(&EXID.to_be_bytes()[..]) {
            match (found, opt.try_into()) {
                (None, Ok(option)) => found = Some((offset, option)),
                _ => return FindResult::Malformed,
            }
        }
    }
    match found {
        Some((offset, option)) => FindResult::Found { offset, option },
        None => FindResult::Absent,
    }
}

/// Whether a sender should add a knock to a SYN with option area `opts`:
/// not if it carries one already. A SYN can pass the sender's output path
/// twice (Linux runs the LOCAL_OUT hooks of a SYN sent through a VRF device
/// once for that device and once for the real one); a second knock would
/// not fit (the SYN would be dropped) or make it malformed. A broken option list gets its knock as any other SYN (the
/// receiver refuses it either way).
pub fn needs_knock(opts: &[u8]) -> bool {
    !matches!(find_knock(opts), FindResult::Found { .. })
}

/// The options of a TCP option area, walked as RFC 9293 describes: kind 0
/// ends the list, kind 1 is a one-byte NOP (skipped), every other option has
/// a length byte >= 2 that must not run past the end. Yields each option
/// (kind byte first) with its offset in the area, and ends with one
/// `Err(())` where the list breaks those rules.
pub struct TcpOptions<'a> {
    opts: &'a [u8],
    pos: usize,
}

impl<'a> TcpOptions<'a> {
    /// Walks `opts`, the `doff * 4 - 20` bytes after the fixed header.
    pub fn new(opts: &'a [u8]) -> Self {
        Self { opts, pos: 0 }
    }
}

impl<'a> Iterator for TcpOptions<'a> {
    type Item = Result<(usize, &'a [u8]), ()>;

    fn next(&mut self) -> Option<Self::Item> {
        let i = self.pos;
        let item = match self.opts.get(i)? {
            0 => None,
            1 => {
                self.pos += 1;
                return self.next();
            }
            _ => Some(
                self.opts
                    .get(i + 1)
                    .filter(|&&len| len >= 2)
                    .and_then(|&len| self.opts.get(i..i + usize::from(len)))
                    .map(|opt| (i, opt))
                    .ok_or(()),
            ),
        };
        // Stop after the end, or a broken option; else step over it.
        self.pos = match item {
            Some(Ok((_, opt))) => i + opt.len(),
            _ => self.opts.len(),
        };
        item
    }
}

/// Whether the knock option fits next to `existing_len` bytes of other SYN
/// options (already padded to a multiple of 4, as Linux's
/// `tcp_syn_options()` returns them): `existing_len + 20 <= 40`.
///
/// When it does not (e.g. TCP-MD5, TCP-AO or a TFO cookie take the room),
/// the client must fail the connect with `EMSGSIZE` rather than send an
/// unauthenticated SYN.
pub const fn option_fits(existing_len: usize) -> bool {
    existing_len <= MAX_OPTION_SPACE - OPT_LEN
}

/// TCP option kind of TCP-MD5 (RFC 2385).
const TCPOPT_MD5SIG: u8 = 19;
/// Length of the TCP-MD5 option.
const TCPOLEN_MD5SIG: usize = 18;
/// TCP option kind of TCP-AO (RFC 5925).
const TCPOPT_AO: u8 = 29;
/// Size of the fixed TCP-AO option header (kind, length, key ids).
const TCP_AO_HDR: usize = 4;

/// Whether Linux's TCP drops a segment with these options without any answer
/// because of its authentication options, both at a closed port and at a
/// listener without keys: an option list that its TCP-MD5/TCP-AO parser
/// refuses, or a TCP-MD5 or TCP-AO option at all.
///
/// This follows the parser of Linux 6.12 (`tcp_do_parse_auth_options()`):
/// it only walks the options while at least `minlen` bytes remain, where
/// `minlen` is 5 on kernels with TCP-AO and 18 without (`ao_enabled`).
pub fn tcp_drops_auth_options(opts: &[u8], ao_enabled: bool) -> bool {
    let minlen = if ao_enabled {
        TCP_AO_HDR + 1
    } else {
        TCPOLEN_MD5SIG
    };
    let mut i = 0;
    while opts.len().saturating_sub(i) >= minlen {
        let remaining = opts.len() - i;
        match opts[i] {
            0 => return false,
            1 => i += 1,
            kind => {
                let Some(&size) = opts.get(i + 1) else {
                    return true;
                };
                let size = usize::from(size);
                if size < 2 || size > remaining {
                    return true;
                }
                if kind == TCPOPT_MD5SIG || kind == TCPOPT_AO {
                    // Malformed, or well-formed but unexpected: either way
                    // dropped, as no key is configured.
                    return true;
                }
                i += size;
            }
        }
    }
    false
}
