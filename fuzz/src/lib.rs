// SPDX-License-Identifier: GPL-2.0

//! Second models of the protocol crate for the fuzz targets' differential
//! checks. Each is written the plain way, from docs/PROTOCOL.md and the
//! Linux sources it follows, without sharing code with `src/proto`: index
//! loops instead of iterators, `i128` instead of wrapping arithmetic, whole
//! messages instead of streaming, the reference crates instead of the
//! `Crypto` traits.

// Plain index loops on purpose: the models must not share the idioms of
// the code they check.
#![allow(
    clippy::manual_memcpy,
    clippy::needless_range_loop,
    clippy::result_unit_err
)]

use blake2::digest::{Digest, Mac};
use core::hash::Hasher;

pub use tcp_stealth_proto as proto;
pub use tcp_stealth_proto::reference::{Ref, RefBlake2s};

// --- TCP option lists -------------------------------------------------------

/// One option of an option area: offset of its kind byte and its bytes.
pub type Opt = (usize, Vec<u8>);

/// A TCP option area walked as RFC 9293 says: the options before the end
/// (kind 0, or the end of the area), and whether the walk stopped at a
/// broken option (length byte missing, below 2, or past the end).
pub struct Walk {
    /// The options found, in order (NOPs not included).
    pub options: Vec<Opt>,
    /// The walk stopped at a broken option.
    pub broken: bool,
}

/// Walks `area` one option at a time.
pub fn walk(area: &[u8]) -> Walk {
    let mut options = Vec::new();
    let mut i = 0;
    while i < area.len() {
        let kind = area[i];
        if kind == 0 {
            break;
        }
        if kind == 1 {
            i += 1;
            continue;
        }
        if i + 1 >= area.len() {
            return Walk {
                options,
                broken: true,
            };
        }
        let len = area[i + 1] as usize;
        if len < 2 || i + len > area.len() {
            return Walk {
                options,
                broken: true,
            };
        }
        options.push((i, area[i..i + len].to_vec()));
        i += len;
    }
    Walk {
        options,
        broken: false,
    }
}

/// What `find_knock` should say: `Ok(Some(offset))`, `Ok(None)` (absent) or
/// `Err(())` (malformed).
pub fn knock_in(area: &[u8]) -> Result<Option<usize>, ()> {
    let w = walk(area);
    if w.broken {
        return Err(());
    }
    let ours: Vec<&Opt> = w
        .options
        .iter()
        .filter(|(_, o)| o[0] == 254 && o.len() >= 4 && o[2] == 0x4b && o[3] == 0x4e)
        .collect();
    match ours.as_slice() {
        [] => Ok(None),
        [(at, o)] if o.len() == 20 => Ok(Some(*at)),
        _ => Err(()),
    }
}

/// The last well-formed timestamp option before the walk ends or breaks:
/// (offset of TSval, TSval), as Linux's `tcp_parse_options()` keeps it.
pub fn tsval_in(area: &[u8]) -> Option<(usize, u32)> {
    let mut found = None;
    for (at, o) in walk(area).options {
        if o[0] == 8 && o.len() == 10 {
            found = Some((at + 2, u32::from_be_bytes([o[2], o[3], o[4], o[5]])));
        }
    }
    found
}

/// Linux 6.12's `tcp_do_parse_auth_options()` transcribed (pointer and
/// remaining length), then what TCP does with a listener or closed port that
/// has no keys: drop on a parse error or any MD5/AO option.
pub fn linux_drops_auth(area: &[u8], ao_enabled: bool) -> bool {
    let minlen: usize = if ao_enabled { 4 + 1 } else { 18 };
    let mut length = area.len();
    let mut ptr = 0;
    let mut md5 = false;
    let mut ao = false;
    while length >= minlen {
        let opcode = area[ptr];
        ptr += 1;
        match opcode {
            0 => break,
            1 => {
                length -= 1;
                continue;
            }
            _ => {
                let opsize = area[ptr] as usize;
                ptr += 1;
                if opsize < 2 || opsize > length {
                    return true; // -EINVAL
                }
                if opcode == 19 {
                    if opsize != 18 || md5 || ao {
                        return true; // -EINVAL, -EEXIST
                    }
                    md5 = true;
                } else if opcode == 29 {
                    if opsize <= 4 || md5 || ao {
                        return true;
                    }
                    ao = true;
                }
                ptr += opsize - 2;
                length -= opsize;
            }
        }
    }
    md5 || ao
}

// --- keys, MAC and verification -------------------------------------------

/// `K = BLAKE2s-256("tcp_stealth v1 key" || secret || 0^(64 - len))`, or
/// `None` for a secret that is empty or longer than 64 bytes.
pub fn key_bytes(secret: &[u8]) -> Option<[u8; 32]> {
    if secret.is_empty() || secret.len() > 64 {
        return None;
    }
    let mut input = b"tcp_stealth v1 key".to_vec();
    input.extend_from_slice(secret);
    input.resize(18 + 64, 0);
    Some(blake2::Blake2s256::digest(&input).into())
}

/// The knock MAC of PROTOCOL.md, section 5, built byte by byte.
pub fn mac(k: &[u8; 32], integrity: bool, dport: u16, t: u64, n48: &[u8; 6]) -> [u8; 8] {
    let mut msg = Vec::new();
    msg.extend_from_slice(b"TSK1");
    msg.push(integrity as u8);
    msg.push(0);
    msg.extend_from_slice(&dport.to_be_bytes());
    msg.extend_from_slice(&t.to_le_bytes());
    msg.extend_from_slice(n48);
    msg.extend_from_slice(&[0, 0]);
    let mut mac_key = [0u8; 16];
    mac_key.copy_from_slice(&k[..16]);
    let mut h = siphasher::sip::SipHasher24::new_with_key(&mac_key);
    h.write(&msg);
    h.finish().to_le_bytes()
}

/// The unique `t` with `t = t14 (mod 2^14)` and `now - 2^13 <= t < now +
/// 2^13`, computed over the integers (may be below 0 or above u64::MAX).
pub fn window_time(now: u64, t14: u16) -> i128 {
    let now = now as i128;
    let base = now - now.rem_euclid(1 << 14) + t14 as i128;
    for t in [base - (1 << 14), base, base + (1 << 14)] {
        if now - (1 << 13) <= t && t < now + (1 << 13) {
            return t;
        }
    }
    unreachable!("one of three consecutive candidates is in the window")
}

/// Why the model refuses a knock (mirrors `proto::Reject`).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Refused {
    /// Not a 20-byte knock option with our ExID and the reserved bit clear.
    Malformed,
    /// Outside the skew.
    Stale,
    /// No key matches.
    BadMac,
}

/// A knock the model accepts: key index, time, commitment.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub struct Accepted {
    /// Index of the first matching key.
    pub key_index: usize,
    /// The client's time.
    pub t: u64,
    /// `C32` if the I bit is set.
    pub integrity: Option<u32>,
}

/// PROTOCOL.md's receiver check, from scratch: syntax, freshness, then the
/// MAC against each of the first four keys (given as `K`).
pub fn verify_model(
    keys: &[[u8; 32]],
    opt: &[u8],
    dport: u16,
    now: u64,
    skew: u64,
) -> Result<Accepted, Refused> {
    if opt.len() != 20 || opt[0] != 254 || opt[1] != 20 || opt[2] != 0x4b || opt[3] != 0x4e {
        return Err(Refused::Malformed);
    }
    if opt[4] & 0x40 != 0 {
        return Err(Refused::Malformed);
    }
    let integrity = opt[4] & 0x80 != 0;
    let t14 = u16::from_be_bytes([opt[4] & 0x3f, opt[5]]);
    let t = window_time(now, t14);
    if (t - now as i128).abs() > skew as i128 {
        return Err(Refused::Stale);
    }
    // A time before 0 or after u64::MAX is taken modulo 2^64.
    let t = t.rem_euclid(1 << 64) as u64;
    let mut n48 = [0u8; 6];
    n48.copy_from_slice(&opt[6..12]);
    for (i, k) in keys.iter().take(4).enumerate() {
        if mac(k, integrity, dport, t, &n48)[..] == opt[12..20] {
            let integrity =
                integrity.then(|| u32::from_be_bytes([opt[8], opt[9], opt[10], opt[11]]));
            return Ok(Accepted {
                key_index: i,
                t,
                integrity,
            });
        }
    }
    Err(Refused::BadMac)
}

/// `BLAKE2s(K_int, be16(n) || payload)[0..4]` as a big-endian `u32`, where
/// `n = payload.len()` (1..=65535).
pub fn commitment_model(k: &[u8; 32], payload: &[u8]) -> u32 {
    let mut h = <blake2::Blake2sMac256 as Mac>::new_from_slice(&k[16..]).expect("16-byte key");
    let mut msg = (payload.len() as u16).to_be_bytes().to_vec();
    msg.extend_from_slice(payload);
    Mac::update(&mut h, &msg);
    let d = h.finalize().into_bytes();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

// --- the original Knock's ISN mode ------------------------------------------

/// RFC 1321's MD5 compression of one block, spelled out round by round with
/// its functions F, G, H, I, message index formulas and rotation table.
pub fn md5_block(state: [u32; 4], block: &[u8]) -> [u32; 4] {
    assert_eq!(block.len(), 64);
    let mut x = [0u32; 16];
    for j in 0..16 {
        x[j] = u32::from_le_bytes([
            block[4 * j],
            block[4 * j + 1],
            block[4 * j + 2],
            block[4 * j + 3],
        ]);
    }
    const S: [[u32; 4]; 4] = [
        [7, 12, 17, 22],
        [5, 9, 14, 20],
        [4, 11, 16, 23],
        [6, 10, 15, 21],
    ];
    let (mut a, mut b, mut c, mut d) = (state[0], state[1], state[2], state[3]);
    for i in 0..64u32 {
        let round = (i / 16) as usize;
        let (f, k) = match round {
            0 => ((b & c) | (!b & d), i),
            1 => ((b & d) | (c & !d), (5 * i + 1) % 16),
            2 => (b ^ c ^ d, (3 * i + 5) % 16),
            _ => (c ^ (b | !d), (7 * i) % 16),
        };
        // T[i] = floor(2^32 * |sin(i + 1)|), as RFC 1321 defines it.
        let t = ((i as f64 + 1.0).sin().abs() * 4294967296.0) as u32;
        let sum = a
            .wrapping_add(f)
            .wrapping_add(x[k as usize])
            .wrapping_add(t);
        let new_b = b.wrapping_add(sum.rotate_left(S[round][(i % 4) as usize]));
        a = d;
        d = c;
        c = b;
        b = new_b;
    }
    [
        state[0].wrapping_add(a),
        state[1].wrapping_add(b),
        state[2].wrapping_add(c),
        state[3].wrapping_add(d),
    ]
}

/// The whole MD5 of `msg`: padded up front, then block by block.
pub fn md5_model(msg: &[u8]) -> [u8; 16] {
    let mut m = msg.to_vec();
    m.push(0x80);
    while m.len() % 64 != 56 {
        m.push(0);
    }
    m.extend_from_slice(&((msg.len() as u64).wrapping_mul(8)).to_le_bytes());
    let mut s = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
    for block in m.chunks(64) {
        s = md5_block(s, block);
    }
    let mut out = [0u8; 16];
    for i in 0..4 {
        out[4 * i..4 * i + 4].copy_from_slice(&s[i].to_le_bytes());
    }
    out
}

/// An ISN-mode secret zero-padded to 64 bytes (`None` if 0 or > 64 bytes).
pub fn secret64(secret: &[u8]) -> Option<[u8; 64]> {
    if secret.is_empty() || secret.len() > 64 {
        return None;
    }
    let mut s = [0u8; 64];
    s[..secret.len()].copy_from_slice(secret);
    Some(s)
}

/// `IH`: the XOR of the eight big-endian 16-bit words of
/// `MD5(secret64 || payload)`.
pub fn ih_model(secret64: &[u8; 64], payload: &[u8]) -> u16 {
    let mut m = secret64.to_vec();
    m.extend_from_slice(payload);
    let d = md5_model(&m);
    let mut ih = 0;
    for i in 0..8 {
        ih ^= u16::from_be_bytes([d[2 * i], d[2 * i + 1]]);
    }
    ih
}

/// The original Knock's ISN (PROTOCOL.md, section 13).
pub fn isn_model(
    secret64: &[u8; 64],
    daddr: &[u8],
    dport: u16,
    tsval: u32,
    ih: Option<u16>,
) -> u32 {
    let mut iv = [0u8; 16];
    for i in 0..daddr.len().min(16) {
        iv[i] = daddr[i];
    }
    let ihb = ih.unwrap_or(0).to_be_bytes();
    iv[4] ^= ihb[0];
    iv[5] ^= ihb[1];
    let tb = tsval.to_be_bytes();
    for i in 0..4 {
        iv[8 + i] ^= tb[i];
    }
    let pb = dport.to_be_bytes();
    iv[12] ^= pb[0];
    iv[13] ^= pb[1];
    let mut h = [0u32; 4];
    for i in 0..4 {
        h[i] = u32::from_le_bytes([iv[4 * i], iv[4 * i + 1], iv[4 * i + 2], iv[4 * i + 3]]);
    }
    let h = md5_block(h, secret64);
    let isn = h[0] ^ h[1] ^ h[2] ^ h[3];
    match ih {
        Some(ih) => (isn & 0xffff_0000) | ih as u32,
        None => isn,
    }
}

// --- helpers ----------------------------------------------------------------

/// Cuts `data` into pieces at the given cut points (taken modulo the length
/// and sorted), for feeding a streaming verifier.
pub fn pieces<'a>(data: &'a [u8], cuts: &[u16]) -> Vec<&'a [u8]> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|&c| c as usize % (data.len() + 1))
        .collect();
    at.push(0);
    at.push(data.len());
    at.sort_unstable();
    at.windows(2).map(|w| &data[w[0]..w[1]]).collect()
}

// --- Policy requests (generic netlink) ---------------------------------------

/// What a policy request should give: (port, secrets, integrity length,
/// family: 0 for both, else `AF_INET` or `AF_INET6`), or the reason and the
/// offset of the attribute at fault.
pub type PolicyModel = Result<(u16, Vec<Vec<u8>>, u16, u16), (proto::PolicyReject, Option<usize>)>;

/// The policy request parser written from the uapi header's description:
/// the attributes are split first, then each one judged in order.
pub fn policy_model(protect: bool, attrs: &[u8]) -> PolicyModel {
    use proto::PolicyReject as R;
    // Split into (offset, type word, payload); a broken header ends the
    // list with type `None`, judged (refused) when its turn comes: faults
    // are reported in the order of the stream.
    let mut list: Vec<(usize, Option<u16>, Vec<u8>)> = Vec::new();
    let mut i = 0;
    while i < attrs.len() {
        let len = if attrs.len() - i < 4 {
            0
        } else {
            u16::from_ne_bytes([attrs[i], attrs[i + 1]]) as usize
        };
        if len < 4 || len > attrs.len() - i {
            list.push((i, None, Vec::new()));
            break;
        }
        let ty = u16::from_ne_bytes([attrs[i + 2], attrs[i + 3]]);
        list.push((i, Some(ty), attrs[i + 4..i + len].to_vec()));
        i += len.div_ceil(4) * 4;
    }
    let mut port: Option<u16> = None;
    let mut secrets: Vec<Vec<u8>> = Vec::new();
    let mut integrity: Option<u16> = None;
    let mut family: Option<u16> = None;
    for (at, ty, p) in list {
        let at = Some(at);
        let Some(ty) = ty else {
            return Err((R::Malformed, at));
        };
        if ty >= 0x4000 {
            return Err((R::AttributeFlags, at));
        }
        if ty == 1 {
            if port.is_some() {
                return Err((R::Twice, at));
            }
            if p.len() != 2 {
                return Err((R::PortSize, at));
            }
            let v = u16::from_ne_bytes([p[0], p[1]]);
            if v == 0 {
                return Err((R::PortZero, at));
            }
            port = Some(v);
        } else if ty == 2 || ty == 3 || ty == 4 {
            if !protect {
                return Err((R::NotForCommand, at));
            }
            if ty == 2 {
                if p.is_empty() {
                    return Err((R::SecretEmpty, at));
                }
                if p.len() > 64 {
                    return Err((R::SecretLong, at));
                }
                if secrets.len() == 4 {
                    return Err((R::TooManySecrets, at));
                }
                let mut padded = [0u8; 64];
                padded[..p.len()].copy_from_slice(&p);
                for s in &secrets {
                    let mut other = [0u8; 64];
                    other[..s.len()].copy_from_slice(s);
                    if other == padded {
                        return Err((R::SameSecret, at));
                    }
                }
                secrets.push(p);
            } else if ty == 4 {
                if family.is_some() {
                    return Err((R::Twice, at));
                }
                if p.len() != 2 {
                    return Err((R::FamilySize, at));
                }
                let f = u16::from_ne_bytes([p[0], p[1]]);
                // AF_INET, AF_INET6.
                if f != 2 && f != 10 {
                    return Err((R::FamilyValue, at));
                }
                family = Some(f);
            } else {
                if integrity.is_some() {
                    return Err((R::Twice, at));
                }
                if p.len() != 4 {
                    return Err((R::IntegritySize, at));
                }
                let n = u32::from_ne_bytes([p[0], p[1], p[2], p[3]]) as u64;
                if n > 512 {
                    return Err((R::IntegrityRange, at));
                }
                integrity = Some(n as u16);
            }
        } else {
            return Err((R::UnknownAttribute, at));
        }
    }
    let Some(port) = port else {
        return Err((R::NoPort, None));
    };
    if protect && secrets.is_empty() {
        return Err((R::NoSecret, None));
    }
    Ok((port, secrets, integrity.unwrap_or(0), family.unwrap_or(0)))
}
