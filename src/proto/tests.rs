// SPDX-License-Identifier: GPL-2.0

//! Host tests against the reference crates `siphasher` and `blake2`.

use super::*;
pub(super) use crate::reference::{Ref, RefBlake2s};

fn unhex<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [0u8; N];
    assert_eq!(s.len(), 2 * N);
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

/// Small deterministic PRNG (xorshift64*).
pub(super) struct XorShift(pub(super) u64);

impl XorShift {
    pub(super) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(super) fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub(super) fn fill(&mut self, buf: &mut [u8]) {
        buf.iter_mut().for_each(|b| *b = self.next() as u8);
    }
}

fn key(secret: &[u8]) -> KnockKey {
    KnockKey::derive(secret, &Ref).unwrap()
}

// The vectors of docs/PROTOCOL.md, computed by examples/gen_vectors.rs from
// the reference crates alone.
const V_SECRET: &[u8] = b"This is my magic ID.";
const V_DPORT: u16 = 22;
const V_T: u64 = 1_700_000_000;
const V_NONCE: [u8; 6] = [1, 2, 3, 4, 5, 6];
const V_PAYLOAD: &[u8] = b"SSH-2.0-OpenSSH_9.2\r\n";
const V_K: &str = "3179c1982b8a1dd18046ae4754c238a0e3d51e5b71da71176ce011f17e0f3ff3";
const V_OPT: &str = "fe144b4e3100010203040506a2474033bc60fc18";
const V_OPT_I: &str = "fe144b4eb100010231df25141c0a7c78323ac7bb";

#[test]
fn vectors() {
    let k = key(V_SECRET);
    let keys = [k.clone()];
    let kk: [u8; 32] = unhex(V_K);
    assert_eq!(k.mac_key()[..], kk[..16]);
    assert_eq!(k.integrity_key()[..], kk[16..]);

    assert_eq!(
        mac_words(false, V_DPORT, V_T, &V_NONCE),
        [0x16000000314b5354, 0x6553f100, 0x0000060504030201]
    );
    assert_eq!(
        compute_mac(&Ref, &k, false, V_DPORT, V_T, &V_NONCE),
        0x18fc60bc334047a2u64.to_le_bytes()
    );
    let opt = build(&Ref, &k, V_DPORT, V_T, V_NONCE, None);
    assert_eq!(opt, unhex(V_OPT));

    let c32 = commitment(&Ref, &k, V_PAYLOAD).unwrap();
    assert_eq!(c32, 0x31df2514);
    let n48 = [1, 2, 0x31, 0xdf, 0x25, 0x14];
    assert_eq!(
        mac_words(true, V_DPORT, V_T, &n48),
        [0x16000001314b5354, 0x6553f100, 0x00001425df310201]
    );
    assert_eq!(
        compute_mac(&Ref, &k, true, V_DPORT, V_T, &n48),
        0xbbc73a32787c0a1cu64.to_le_bytes()
    );
    let opt = build(&Ref, &k, V_DPORT, V_T, V_NONCE, Some(c32));
    assert_eq!(opt, unhex(V_OPT_I));

    // The receiver accepts both at any time within the skew.
    for now in [V_T - 120, V_T, V_T + 120] {
        let v = verify(&Ref, &keys, &unhex::<20>(V_OPT), 22, now, Skew::DEFAULT);
        assert_eq!(
            v,
            Ok(Verified {
                key_index: 0,
                t: V_T,
                mac: unhex(&V_OPT[24..]),
                integrity: None,
            })
        );
        let v = verify(&Ref, &keys, &unhex::<20>(V_OPT_I), 22, now, Skew::DEFAULT);
        assert_eq!(v.unwrap().integrity, Some(0x31df2514));
    }
}

#[test]
fn key_derivation() {
    assert_eq!(
        KnockKey::derive(b"", &Ref).unwrap_err(),
        Error::SecretLength
    );
    assert_eq!(
        KnockKey::derive(&[7; 65], &Ref).unwrap_err(),
        Error::SecretLength
    );
    // Trailing NULs are padding, as in the original.
    assert_eq!(key(b"abc").mac_key(), key(b"abc\0").mac_key());
    assert_eq!(
        key(b"abc").mac_key(),
        key(&[b'a', b'b', b'c', 0, 0, 0]).mac_key()
    );
    assert_ne!(key(b"abc").mac_key(), key(b"abd").mac_key());
    assert_ne!(key(&[7; 64]).mac_key(), key(&[7; 63]).mac_key());
    assert_eq!(std::format!("{:?}", key(b"x")), "KnockKey { .. }");
}

#[test]
fn skew_range() {
    assert_eq!(Skew::new(0), Err(Error::SkewRange));
    assert_eq!(Skew::new(1).unwrap().secs(), 1);
    assert_eq!(Skew::new(3600).unwrap().secs(), 3600);
    assert_eq!(Skew::new(3601), Err(Error::SkewRange));
    assert_eq!(Skew::new(u64::MAX), Err(Error::SkewRange));
    assert_eq!(Skew::DEFAULT.secs(), 120);
}

#[test]
fn time_reconstruction() {
    const M: u64 = 1 << 14;
    const H: i64 = 1 << 13;
    let mut rng = XorShift(0x1234_5678_9abc_def0);
    for _ in 0..100_000 {
        let now = match rng.below(4) {
            0 => rng.below(3 * M),
            1 => u64::MAX - rng.below(3 * M),
            _ => rng.next(),
        };
        let t14 = rng.below(M) as u16;
        let t = reconstruct_time(now, t14);
        assert_eq!(t % M, u64::from(t14));
        let d = t.wrapping_sub(now) as i64;
        assert!((-H..H).contains(&d), "now {now} t14 {t14} t {t}");
    }
    // Exact window edges.
    assert_eq!(
        reconstruct_time(100_000, ((100_000 + 8191) % M) as u16),
        108_191
    );
    assert_eq!(
        reconstruct_time(100_000, ((100_000 - 8192) % M) as u16),
        91_808
    );
    // Near zero the window wraps below zero.
    assert_eq!(reconstruct_time(5, 3), 3);
    assert_eq!(reconstruct_time(5, (M - 1) as u16), u64::MAX);
    assert!(is_fresh(u64::MAX, 0, Skew::new(1).unwrap()));
    assert!(!is_fresh(u64::MAX - 1, 0, Skew::new(1).unwrap()));
}

#[test]
fn freshness_and_rejects() {
    let k = key(b"secret");
    let keys = [k.clone()];
    let now = 1_000_000u64;
    let skew = Skew::new(30).unwrap();
    for (t, ok) in [
        (now - 31, false),
        (now - 30, true),
        (now + 30, true),
        (now + 31, false),
    ] {
        let opt = build(&Ref, &k, 443, t, [9; 6], None);
        let v = verify(&Ref, &keys, &opt, 443, now, skew);
        assert_eq!(v.is_ok(), ok, "t = {t}");
        if !ok {
            assert_eq!(v, Err(Reject::Stale));
        }
    }
    // A knock replayed 2^14 s later has the same T14 but not the same t.
    let opt = build(&Ref, &k, 443, now, [9; 6], None);
    assert_eq!(
        verify(&Ref, &keys, &opt, 443, now + (1 << 14), skew),
        Err(Reject::BadMac)
    );
    // Bound to the destination port.
    assert_eq!(
        verify(&Ref, &keys, &opt, 444, now, skew),
        Err(Reject::BadMac)
    );
    // Every single-bit flip of the option is rejected.
    for bit in 0..OPT_LEN * 8 {
        let mut bad = opt;
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(
            verify(&Ref, &keys, &bad, 443, now, skew).is_err(),
            "bit {bit}"
        );
    }
    // Malformed shapes.
    let mut bad = opt;
    bad[4] |= 0x40;
    assert_eq!(
        verify(&Ref, &keys, &bad, 443, now, skew),
        Err(Reject::Malformed)
    );
    assert_eq!(
        verify(&Ref, &keys, &opt[..19], 443, now, skew),
        Err(Reject::Malformed)
    );
    assert_eq!(
        verify(&Ref, &keys, &[], 443, now, skew),
        Err(Reject::Malformed)
    );
    // No key, wrong key.
    assert_eq!(verify(&Ref, &[], &opt, 443, now, skew), Err(Reject::BadMac));
    assert_eq!(
        verify(&Ref, &[key(b"other")], &opt, 443, now, skew),
        Err(Reject::BadMac)
    );
}

#[test]
fn key_rotation() {
    let keys: std::vec::Vec<KnockKey> = (0u8..6).map(|i| key(&[b'k', i])).collect();
    let now = 1_700_000_000;
    for (i, k) in keys.iter().enumerate() {
        let opt = build(&Ref, k, 22, now, [i as u8; 6], None);
        let v = verify(&Ref, &keys, &opt, 22, now, Skew::DEFAULT);
        if i < MAX_KEYS {
            assert_eq!(v.unwrap().key_index, i);
        } else {
            // Only the first MAX_KEYS keys are tried.
            assert_eq!(v, Err(Reject::BadMac));
        }
    }
}

/// A [`Crypto`] that counts its SipHash calls.
struct Counting(core::cell::Cell<usize>);

impl Crypto for Counting {
    type Blake2s = RefBlake2s;

    fn siphash_3u64(&self, key: &[u8; 16], a: u64, b: u64, c: u64) -> u64 {
        self.0.set(self.0.get() + 1);
        Ref.siphash_3u64(key, a, b, c)
    }
}

/// Issue 13: a fresh knock that matches no key costs MAX_KEYS MACs whatever
/// the number of keys (none, for a closed port); one that matches stops at
/// its key; the zero key that fills the empty slots never lets a knock in.
#[test]
fn verify_constant_mac_count() {
    let keys: std::vec::Vec<KnockKey> = (0u8..5).map(|i| key(&[b'c', i])).collect();
    let now = 1_700_000_000;
    let crypto = Counting(core::cell::Cell::new(0));
    let bad = build(&Ref, &key(b"nobody"), 22, now, [7; 6], None);
    let zero = build(&Ref, &KnockKey::ZERO, 22, now, [7; 6], None);
    for n in 0..=keys.len() {
        for opt in [&bad, &zero] {
            crypto.0.set(0);
            assert_eq!(
                verify(&crypto, &keys[..n], opt, 22, now, Skew::DEFAULT),
                Err(Reject::BadMac),
                "{n} keys"
            );
            assert_eq!(crypto.0.get(), MAX_KEYS, "{n} keys");
        }
        for (i, k) in keys[..n.min(MAX_KEYS)].iter().enumerate() {
            let good = build(&Ref, k, 22, now, [i as u8; 6], None);
            crypto.0.set(0);
            let v = verify(&crypto, &keys[..n], &good, 22, now, Skew::DEFAULT);
            assert_eq!(v.unwrap().key_index, i, "{n} keys");
            assert_eq!(crypto.0.get(), i + 1, "{n} keys, key {i}");
        }
    }
    // The first of two equal keys is the one that matched.
    let twice = [keys[1].clone(), keys[0].clone(), keys[0].clone()];
    let good = build(&Ref, &keys[0], 22, now, [1; 6], None);
    let v = verify(&Ref, &twice, &good, 22, now, Skew::DEFAULT);
    assert_eq!(v.unwrap().key_index, 1);
    // A stale knock costs no MAC at all, at any port.
    let stale = build(&Ref, &keys[0], 22, now - 1000, [1; 6], None);
    crypto.0.set(0);
    assert_eq!(
        verify(&crypto, &keys[..1], &stale, 22, now, Skew::DEFAULT),
        Err(Reject::Stale)
    );
    assert_eq!(crypto.0.get(), 0);
}

#[test]
fn knock_roundtrip() {
    let opt = build(
        &Ref,
        &key(b"s"),
        80,
        100_000,
        [1, 2, 3, 4, 5, 6],
        Some(0xa1b2c3d4),
    );
    let k = Knock::parse(&opt).unwrap();
    assert!(k.integrity);
    assert_eq!(k.t14, (100_000 % (1 << 14)) as u16);
    assert_eq!(k.n48, [1, 2, 0xa1, 0xb2, 0xc3, 0xd4]);
    assert_eq!(k.commitment(), Some(0xa1b2c3d4));
    assert_eq!(k.to_bytes(), opt);
}

#[test]
fn find_option() {
    let knock = build(&Ref, &key(b"s"), 80, 1, [0; 6], None);
    let mss = [2, 4, 5, 0xb4];
    let sack_ts = [4, 2, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0];
    let tfo = [254, 4, 0xf9, 0x89];
    let ws = [1, 3, 3, 7];

    let mut area = std::vec::Vec::new();
    area.extend_from_slice(&mss);
    area.extend_from_slice(&tfo);
    area.extend_from_slice(&knock);
    area.extend_from_slice(&ws);
    assert_eq!(
        find_knock(&area),
        FindResult::Found {
            offset: 8,
            option: &knock
        }
    );

    let mut typical = std::vec::Vec::new();
    typical.extend_from_slice(&mss);
    typical.extend_from_slice(&sack_ts);
    typical.extend_from_slice(&ws);
    assert_eq!(find_knock(&typical), FindResult::Absent);
    assert!(option_fits(typical.len()));
    typical.extend_from_slice(&knock);
    assert_eq!(typical.len(), MAX_OPTION_SPACE);
    assert!(matches!(
        find_knock(&typical),
        FindResult::Found { offset: 20, .. }
    ));

    assert_eq!(find_knock(&[]), FindResult::Absent);
    assert_eq!(find_knock(&[1, 1, 0, 0xff, 0xff]), FindResult::Absent);
    // Knock after EOL is ignored.
    let mut after_eol = std::vec![0u8];
    after_eol.extend_from_slice(&knock);
    assert_eq!(find_knock(&after_eol), FindResult::Absent);
    // Broken lists.
    assert_eq!(find_knock(&[2]), FindResult::Malformed);
    assert_eq!(find_knock(&[2, 1, 0, 0]), FindResult::Malformed);
    assert_eq!(find_knock(&[2, 0, 0, 0]), FindResult::Malformed);
    assert_eq!(find_knock(&[2, 5, 0, 0]), FindResult::Malformed);
    let mut trailing = knock.to_vec();
    trailing.extend_from_slice(&[8, 10, 0]);
    assert_eq!(find_knock(&trailing), FindResult::Malformed);
    // Our ExID with the wrong length, or twice.
    assert_eq!(find_knock(&[254, 4, 0x4b, 0x4e]), FindResult::Malformed);
    let mut long = knock.to_vec();
    long[1] = 24;
    long.extend_from_slice(&[0; 4]);
    assert_eq!(find_knock(&long), FindResult::Malformed);
    let twice = [knock, knock].concat();
    assert_eq!(find_knock(&twice), FindResult::Malformed);
    // Experimental options too short for an ExID are someone else's.
    assert_eq!(
        find_knock(&[254, 2, 254, 3, 0x4b, 1, 1, 1]),
        FindResult::Absent
    );
}

/// The output hook's decision for a SYN that passes it a second time: the
/// knock it got the first time stays, alone.
#[test]
fn knock_added_once() {
    let knock = build(&Ref, &key(b"s"), 80, 1, [0; 6], None);
    let mss = [2, 4, 5, 0xb4];
    let tfo = [254, 4, 0xf9, 0x89];
    let mut syn = std::vec::Vec::new();
    syn.extend_from_slice(&mss);
    syn.extend_from_slice(&tfo);
    assert!(needs_knock(&syn));
    assert!(needs_knock(&[]));
    syn.extend_from_slice(&knock);
    assert!(!needs_knock(&syn));
    // Broken lists are left to the old path (the receiver refuses them).
    assert!(needs_knock(&[2, 5, 0, 0]));
}

#[test]
fn option_space() {
    assert!(option_fits(0));
    assert!(option_fits(20));
    assert!(!option_fits(24));
    // MSS + TCP-MD5 (18, padded to 20): 24, no room.
    assert!(!option_fits(4 + 20));
}

#[test]
fn integrity_streaming() {
    let k = key(V_SECRET);
    let c32 = commitment(&Ref, &k, V_PAYLOAD).unwrap();
    let n = V_PAYLOAD.len();

    // Every split of the payload, followed by more data.
    for split in 0..=n {
        let mut v = IntegrityVerifier::<RefBlake2s>::new(&k, c32, n).unwrap();
        assert_eq!(v.feed(&V_PAYLOAD[..split]), split);
        assert_eq!(v.remaining(), n - split);
        let mut rest = V_PAYLOAD[split..].to_vec();
        rest.extend_from_slice(b"more data");
        if split < n {
            assert_eq!(v.status(), IntegrityStatus::Pending);
        }
        assert_eq!(v.feed(&rest), n - split);
        assert_eq!(v.status(), IntegrityStatus::Match);
        assert_eq!(v.feed(b"x"), 0);
        assert_eq!(v.status(), IntegrityStatus::Match);
    }

    // Wrong data, wrong commitment, wrong length, wrong key.
    let mut bad = V_PAYLOAD.to_vec();
    bad[3] ^= 1;
    let cases = [
        (key(V_SECRET), c32, n, &bad[..]),
        (key(V_SECRET), c32 ^ 1, n, V_PAYLOAD),
        (key(V_SECRET), c32, n - 1, V_PAYLOAD),
        (key(b"other"), c32, n, V_PAYLOAD),
    ];
    for (k, c, n, data) in cases {
        let mut v = IntegrityVerifier::<RefBlake2s>::new(&k, c, n).unwrap();
        v.feed(data);
        assert_eq!(v.status(), IntegrityStatus::Mismatch);
    }

    // A check resumed from a prepared start, cloned as a listener does for
    // each connection, decides as one made from the key: every case above.
    let start = CommitStart::<RefBlake2s>::new(&k, n).unwrap();
    assert_eq!(start.covers(), n);
    for split in [0, 1, n / 2, n] {
        let mut v = IntegrityVerifier::resume(start.clone(), c32);
        v.feed(&V_PAYLOAD[..split]);
        v.feed(&V_PAYLOAD[split..]);
        assert_eq!(v.status(), IntegrityStatus::Match);
    }
    for (k, c, n, data) in [
        (key(V_SECRET), c32, n, &bad[..]),
        (key(V_SECRET), c32 ^ 1, n, V_PAYLOAD),
        (key(V_SECRET), c32, n - 1, V_PAYLOAD),
        (key(b"other"), c32, n, V_PAYLOAD),
    ] {
        let mut v = IntegrityVerifier::resume(CommitStart::<RefBlake2s>::new(&k, n).unwrap(), c);
        v.feed(data);
        assert_eq!(v.status(), IntegrityStatus::Mismatch);
    }
    assert!(CommitStart::<RefBlake2s>::new(&k, 0).is_err());
    assert!(CommitStart::<RefBlake2s>::new(&k, 65536).is_err());

    assert!(IntegrityVerifier::<RefBlake2s>::new(&k, 0, 0).is_err());
    assert!(IntegrityVerifier::<RefBlake2s>::new(&k, 0, 65536).is_err());
    assert_eq!(commitment(&Ref, &k, b""), Err(Error::IntegrityLength));
    let big = std::vec![0xa5u8; MAX_INTEGRITY_LEN];
    let c = commitment(&Ref, &k, &big).unwrap();
    let mut v = IntegrityVerifier::<RefBlake2s>::new(&k, c, big.len()).unwrap();
    for chunk in big.chunks(1460) {
        v.feed(chunk);
    }
    assert_eq!(v.status(), IntegrityStatus::Match);
    assert_eq!(
        commitment(&Ref, &k, &[0; MAX_INTEGRITY_LEN + 1]),
        Err(Error::IntegrityLength)
    );
}

#[test]
fn constant_time_eq() {
    assert!(ct_eq(b"", b""));
    assert!(ct_eq(b"abc", b"abc"));
    assert!(!ct_eq(b"abc", b"abd"));
    assert!(!ct_eq(b"abc", b"ab"));
    assert!(!ct_eq(&[0x80], &[0]));
}

/// Random and mutated inputs never panic the parsers, and whatever they
/// accept is consistent.
#[test]
fn parsers_are_total() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let k = key(b"fuzz");
    let keys = [k.clone(), key(b"fuzz2")];
    let good = build(&Ref, &k, 22, 1_700_000_000, [3; 6], None);
    let mut buf = [0u8; 64];
    for i in 0..300_000u32 {
        let len = rng.below(buf.len() as u64 + 1) as usize;
        let data = &mut buf[..len];
        rng.fill(data);
        // Bias towards interesting shapes: our header, valid knocks, NOPs.
        match i % 4 {
            0 if len >= 4 => data[..4].copy_from_slice(&[254, rng.below(32) as u8, 0x4b, 0x4e]),
            1 if len >= 20 => {
                let at = rng.below((len - 19) as u64) as usize;
                data[at..at + 20].copy_from_slice(&good);
                data[rng.below(len as u64) as usize] ^= 1 << rng.below(8);
            }
            2 => data.iter_mut().for_each(|b| *b %= 4),
            _ => {}
        }
        let data = &buf[..len];
        if let FindResult::Found { offset, option } = find_knock(data) {
            assert_eq!(&data[offset..offset + OPT_LEN], &option[..]);
            assert_eq!(option[..4], [254, 20, 0x4b, 0x4e]);
        }
        let now = match rng.below(2) {
            0 => 1_700_000_000 - 50 + rng.below(100),
            _ => rng.next(),
        };
        let skew = Skew::new(1 + rng.below(3600)).unwrap();
        if let Ok(knock) = Knock::parse(data) {
            assert_eq!(knock.to_bytes()[..], data[..]);
        }
        if let Ok(v) = verify(&Ref, &keys, data, 22, now, skew) {
            // Only possible for the genuine knock at a matching time.
            assert_eq!(data, &good[..]);
            assert_eq!(v.t, 1_700_000_000);
        }
        let mut iv = IntegrityVerifier::<RefBlake2s>::new(&k, now as u32, 1 + len / 2).unwrap();
        let used = iv.feed(data);
        assert!(used <= len && used + iv.remaining() == 1 + len / 2);
    }
}

/// Build/verify round trip over random parameters.
#[test]
fn roundtrip_random() {
    let mut rng = XorShift(42);
    let keys = [key(b"a"), key(b"b"), key(b"c")];
    for _ in 0..20_000 {
        let ki = rng.below(3) as usize;
        let dport = rng.next() as u16;
        let t = (1u64 << 14) + rng.below(1 << 40);
        let skew = Skew::new(1 + rng.below(3600)).unwrap();
        let now = t.wrapping_add_signed(rng.below(2 * skew.secs() + 1) as i64 - skew.secs() as i64);
        let mut nonce = [0u8; 6];
        rng.fill(&mut nonce);
        let int = (rng.below(2) == 0).then(|| rng.next() as u32);
        let opt = build(&Ref, &keys[ki], dport, t, nonce, int);
        let v = verify(&Ref, &keys, &opt, dport, now, skew).unwrap();
        assert_eq!((v.key_index, v.t, v.integrity), (ki, t, int));
        assert_eq!(v.mac[..], opt[12..]);
    }
}

mod auth_options {
    use crate::proto::tcp_drops_auth_options as drops;

    #[test]
    fn clean_lists_pass() {
        assert!(!drops(&[], true));
        // MSS, SACK-permitted + timestamps, NOP + window scale.
        let linux_syn = [
            2, 4, 5, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        assert!(!drops(&linux_syn, true));
        assert!(!drops(&linux_syn, false));
        // EOL stops the walk, whatever follows.
        assert!(!drops(&[0, 19, 18, 0, 0, 0, 0], true));
    }

    #[test]
    fn md5_and_ao_are_dropped() {
        let mut md5 = [1u8; 20];
        md5[0] = 19;
        md5[1] = 18;
        assert!(drops(&md5, true));
        assert!(drops(&md5, false));
        // TCP-MD5 with a wrong length.
        md5[1] = 10;
        assert!(drops(&md5, true));
        let ao = [29, 8, 1, 1, 0, 0, 0, 0];
        assert!(drops(&ao, true));
    }

    #[test]
    fn bad_lengths_depend_on_the_walk() {
        // Length past the end, in an 8-byte area: refused with TCP-AO built in.
        let bad = [254, 30, 0, 0, 1, 1, 1, 1];
        assert!(drops(&bad, true));
        // Without TCP-AO, TCP does not walk areas shorter than 18 bytes.
        assert!(!drops(&bad, false));
        // Length below 2.
        assert!(drops(&[8, 1, 0, 0, 0], true));
        // Too short to be walked at all.
        assert!(!drops(&[8, 1, 0, 0], true));
    }

    #[test]
    fn never_panics() {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..20_000 {
            let mut buf = [0u8; 40];
            let len = (x % 41) as usize;
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = x as u8;
            }
            let _ = drops(&buf[..len], x & 1 == 0);
        }
    }
}

#[test]
fn wipe_zeroes() {
    let mut k = [0xa5u8; 64];
    super::wipe(&mut k);
    assert!(k.iter().all(|&b| b == 0));
}

/// Found by the `replay` fuzz target (against the set-associative cache
/// of before): an evicted knock that expires after `u32::MAX` (a clock past
/// 2106) came back as new. The cache keeps all its times in 32 bits and
/// refuses every knock it cannot store; up to that point a dropped knock
/// stays refused.
#[test]
fn replay_floor_saturated_refuses() {
    let a = SynSource {
        addr: [1; 16],
        port: 1,
        isn: 1,
    };
    let b = SynSource {
        addr: [2; 16],
        port: 2,
        isn: 2,
    };
    let skew = Skew::DEFAULT;
    let key = KnockKey::from_bytes(&[3; 32]);
    // The last knock times the cache can store.
    let now = u64::from(u32::MAX) - u64::from(MAX_SKEW_SECS);
    let limits = ReplayLimits::new(MIN_KEY_ENTRIES, MIN_KEY_ENTRIES).unwrap();
    let mut slots = std::vec![Slot::EMPTY; limits.slots()];
    let mut c = ReplayCache::new(&mut slots[..], limits, [9; 16]).unwrap();
    let v = c.check_and_insert(&Ref, &key, &[0; 8], &a, now - 200, now - 200, skew);
    assert_eq!(v, ReplayVerdict::Fresh);
    // Knock 0 expires and is dropped to make room; under a wider skew it
    // would verify again: never new again.
    let v = c.check_and_insert(&Ref, &key, &[1; 8], &a, now, now, skew);
    assert_eq!(v, ReplayVerdict::Fresh);
    let wide = Skew::new(600).unwrap();
    let v = c.check_and_insert(&Ref, &key, &[0; 8], &b, now - 200, now, wide);
    assert_eq!(v, ReplayVerdict::Replay);
    // Past that, no knock is new.
    for now in [now + 1, 5_000_000_000] {
        let v = c.check_and_insert(&Ref, &key, &[9; 8], &b, now, now, skew);
        assert_eq!(v, ReplayVerdict::Replay);
    }
}

#[test]
fn wipe_words() {
    let mut m = [0xdead_beefu32; 16];
    super::wipe(&mut m);
    assert_eq!(m, [0; 16]);
}

/// The verifiers' states hold key material (the keyed BLAKE2s state, the MD5
/// of the raw secret): they must be dropped, and so wiped, both when the
/// last committed byte is checked and when a connection dies before that.
#[test]
fn verifier_states_are_dropped() {
    use core::sync::atomic::{AtomicUsize, Ordering::Relaxed};
    static DROPS: AtomicUsize = AtomicUsize::new(0);

    /// A [`Blake2s`] that counts its drops.
    struct Counting(Option<RefBlake2s>);
    impl Blake2s for Counting {
        fn init() -> Self {
            Self(Some(RefBlake2s::init()))
        }
        fn init_key(key: &[u8; 16]) -> Self {
            Self(Some(RefBlake2s::init_key(key)))
        }
        fn update(&mut self, data: &[u8]) {
            self.0.as_mut().unwrap().update(data);
        }
        fn finalize(mut self) -> [u8; 32] {
            self.0.take().unwrap().finalize()
        }
    }
    impl Drop for Counting {
        fn drop(&mut self) {
            DROPS.fetch_add(1, Relaxed);
        }
    }

    let k = key(V_SECRET);
    let c32 = commitment(&Ref, &k, V_PAYLOAD).unwrap();
    let n = V_PAYLOAD.len();
    // Abandoned half-way.
    let mut v = IntegrityVerifier::<Counting>::new(&k, c32, n).unwrap();
    v.feed(&V_PAYLOAD[..5]);
    assert_eq!(DROPS.load(Relaxed), 0);
    drop(v);
    assert_eq!(DROPS.load(Relaxed), 1);
    // Complete: the state is gone as soon as the verdict is known.
    let mut v = IntegrityVerifier::<Counting>::new(&k, c32, n).unwrap();
    v.feed(V_PAYLOAD);
    assert_eq!(v.status(), IntegrityStatus::Match);
    assert_eq!(DROPS.load(Relaxed), 2);
    drop(v);
    assert_eq!(DROPS.load(Relaxed), 2);

    // The ISN mode's MD5 has a Drop that wipes it (proto/tests/wipe.rs
    // reads the memory), and the ISN-mode verifier holds one.
    assert!(core::mem::needs_drop::<Md5>());
    assert!(core::mem::needs_drop::<IsnVerifier>());
}

#[test]
fn key_requests() {
    let req = |flags: u32, len: u32| {
        let mut raw = [0xa5u8; KEY_REQUEST_LEN];
        raw[..4].copy_from_slice(&flags.to_ne_bytes());
        raw[4..8].copy_from_slice(&len.to_ne_bytes());
        raw
    };
    let r = req(KEY_ADD, 3);
    assert_eq!(parse_key_request(&r), Ok((KeyOp::Add, &[0xa5; 3][..])));
    let r = req(KEY_DEL, 64);
    assert_eq!(parse_key_request(&r), Ok((KeyOp::Del, &[0xa5; 64][..])));
    for (flags, len) in [
        (0, 3),
        (KEY_ADD | KEY_DEL, 3),
        (1 << 2, 3),
        (KEY_ADD, 0),
        (KEY_ADD, 65),
        (KEY_DEL, u32::MAX),
    ] {
        let r = req(flags, len);
        assert_eq!(
            parse_key_request(&r),
            Err(Error::KeyRequest),
            "{flags} {len}"
        );
    }
    let r = req(KEY_ADD, 3);
    assert_eq!(parse_key_request(&r[..71]), Err(Error::KeyRequest));
    assert_eq!(parse_key_request(&[0; 73]), Err(Error::KeyRequest));
    assert_eq!(parse_key_request(&[]), Err(Error::KeyRequest));
}

/// Attributes as netlink lays them out: native-endian length and type,
/// payload, padding to 4 bytes.
fn nla(out: &mut std::vec::Vec<u8>, ty: u16, payload: &[u8]) {
    out.extend_from_slice(&((4 + payload.len()) as u16).to_ne_bytes());
    out.extend_from_slice(&ty.to_ne_bytes());
    out.extend_from_slice(payload);
    while out.len() % 4 != 0 {
        out.push(0);
    }
}

fn policy_attrs(list: &[(u16, &[u8])]) -> std::vec::Vec<u8> {
    let mut out = std::vec::Vec::new();
    for (t, p) in list {
        nla(&mut out, *t, p);
    }
    out
}

#[test]
fn policy_request_good() {
    let port = 22u16.to_ne_bytes();
    let a = policy_attrs(&[(POLICY_A_PORT, &port), (POLICY_A_SECRET, b"abc")]);
    let r = parse_policy_request(PolicyCmd::Protect, &a).unwrap();
    assert_eq!(
        (r.port, r.secrets(), r.integrity_len),
        (22, &[&b"abc"[..]][..], 0)
    );
    // Four keys, the integrity length anywhere, the last padding missing.
    let n = 32u32.to_ne_bytes();
    let mut a = policy_attrs(&[
        (POLICY_A_SECRET, b"k1"),
        (POLICY_A_INTEGRITY_LEN, &n),
        (POLICY_A_SECRET, b"k2"),
        (POLICY_A_SECRET, &[7; 64]),
        (POLICY_A_PORT, &port),
        (POLICY_A_SECRET, b"k4"),
    ]);
    a.truncate(a.len() - 2);
    let r = parse_policy_request(PolicyCmd::Protect, &a).unwrap();
    assert_eq!(r.integrity_len, 32);
    assert_eq!(r.secrets(), &[&b"k1"[..], b"k2", &[7; 64], b"k4"][..]);
    let max = (MAX_POLICY_INTEGRITY_LEN as u32).to_ne_bytes();
    let a = policy_attrs(&[
        (POLICY_A_PORT, &port),
        (POLICY_A_SECRET, b"x"),
        (POLICY_A_INTEGRITY_LEN, &max),
    ]);
    assert_eq!(
        parse_policy_request(PolicyCmd::Protect, &a)
            .unwrap()
            .integrity_len,
        512
    );
    let a = policy_attrs(&[(POLICY_A_PORT, &65535u16.to_ne_bytes())]);
    let r = parse_policy_request(PolicyCmd::Unprotect, &a).unwrap();
    assert_eq!((r.port, r.secrets().len()), (65535, 0));
    assert_eq!(r.family, PolicyFamily::Both);
}

#[test]
fn policy_request_family() {
    let port = 22u16.to_ne_bytes();
    let family = |af: Option<u16>| {
        let af = af.map(u16::to_ne_bytes);
        let mut list = std::vec![(POLICY_A_PORT, &port[..]), (POLICY_A_SECRET, &b"k"[..])];
        if let Some(af) = &af {
            list.insert(1, (POLICY_A_FAMILY, &af[..]));
        }
        parse_policy_request(PolicyCmd::Protect, &policy_attrs(&list))
            .unwrap()
            .family
    };
    assert_eq!(family(None), PolicyFamily::Both);
    assert_eq!(family(Some(2)), PolicyFamily::Ipv4);
    assert_eq!(family(Some(10)), PolicyFamily::Ipv6);
    // Which segments each covers (true: IPv6), and how the listing says it.
    let f = [PolicyFamily::Both, PolicyFamily::Ipv4, PolicyFamily::Ipv6];
    let covers: std::vec::Vec<_> = f
        .iter()
        .map(|f| (f.covers(false), f.covers(true)))
        .collect();
    assert_eq!(covers, [(true, true), (true, false), (false, true)]);
    let suffix: std::vec::Vec<_> = f.iter().map(|f| f.listing_suffix()).collect();
    assert_eq!(suffix, ["", " family ipv4", " family ipv6"]);
    assert_eq!(
        PolicyReject::FamilyValue.message(),
        "family must be AF_INET or AF_INET6"
    );
    assert_eq!(PolicyReject::FamilyValue.errno(), PolicyErrno::Inval);
}

#[test]
fn policy_request_refused() {
    use PolicyReject as R;
    let port = 22u16.to_ne_bytes();
    let p = (POLICY_A_PORT, &port[..]);
    let s = (POLICY_A_SECRET, &b"abc"[..]);
    let big = 513u32.to_ne_bytes();
    let huge = 0x1_0020u32.to_ne_bytes();
    let n = 16u32.to_ne_bytes();
    type Case<'a> = (PolicyCmd, &'a [(u16, &'a [u8])], R, Option<usize>);
    let cases: &[Case<'_>] = &[
        (PolicyCmd::Protect, &[s], R::NoPort, None),
        (PolicyCmd::Protect, &[p], R::NoSecret, None),
        (PolicyCmd::Unprotect, &[], R::NoPort, None),
        (PolicyCmd::Protect, &[p, p, s], R::Twice, Some(8)),
        (
            PolicyCmd::Protect,
            &[(POLICY_A_PORT, &[22]), s],
            R::PortSize,
            Some(0),
        ),
        (
            PolicyCmd::Protect,
            &[(POLICY_A_PORT, &[0, 0]), s],
            R::PortZero,
            Some(0),
        ),
        (
            PolicyCmd::Protect,
            &[p, (POLICY_A_SECRET, &[])],
            R::SecretEmpty,
            Some(8),
        ),
        (
            PolicyCmd::Protect,
            &[p, (POLICY_A_SECRET, &[1; 65])],
            R::SecretLong,
            Some(8),
        ),
        (
            PolicyCmd::Protect,
            &[
                p,
                (POLICY_A_SECRET, b"a"),
                (POLICY_A_SECRET, b"b"),
                (POLICY_A_SECRET, b"c"),
                (POLICY_A_SECRET, b"d"),
                (POLICY_A_SECRET, b"e"),
            ],
            R::TooManySecrets,
            Some(40),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_SECRET, b"abc")],
            R::SameSecret,
            Some(16),
        ),
        // The key pads the secret with zeros: "abc\0" is "abc".
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_SECRET, b"abc\0")],
            R::SameSecret,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_INTEGRITY_LEN, &[1, 0])],
            R::IntegritySize,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_INTEGRITY_LEN, &big)],
            R::IntegrityRange,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_INTEGRITY_LEN, &huge)],
            R::IntegrityRange,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[
                p,
                s,
                (POLICY_A_INTEGRITY_LEN, &n),
                (POLICY_A_INTEGRITY_LEN, &n),
            ],
            R::Twice,
            Some(24),
        ),
        (PolicyCmd::Unprotect, &[p, s], R::NotForCommand, Some(8)),
        (
            PolicyCmd::Unprotect,
            &[p, (POLICY_A_INTEGRITY_LEN, &n)],
            R::NotForCommand,
            Some(8),
        ),
        // The first type after TCP_STEALTH_A_FAMILY.
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_FAMILY + 1, &[])],
            R::UnknownAttribute,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_FAMILY, &[2])],
            R::FamilySize,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (POLICY_A_FAMILY, &2u32.to_ne_bytes())],
            R::FamilySize,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[
                p,
                s,
                (POLICY_A_FAMILY, &2u16.to_ne_bytes()),
                (POLICY_A_FAMILY, &2u16.to_ne_bytes()),
            ],
            R::Twice,
            Some(24),
        ),
        (
            PolicyCmd::Unprotect,
            &[p, (POLICY_A_FAMILY, &2u16.to_ne_bytes())],
            R::NotForCommand,
            Some(8),
        ),
        (
            PolicyCmd::Protect,
            &[p, s, (0, &[])],
            R::UnknownAttribute,
            Some(16),
        ),
        (
            PolicyCmd::Protect,
            &[(POLICY_A_PORT | 0x8000, &port), s],
            R::AttributeFlags,
            Some(0),
        ),
        (
            PolicyCmd::Protect,
            &[(POLICY_A_PORT | 0x4000, &port), s],
            R::AttributeFlags,
            Some(0),
        ),
    ];
    for (cmd, list, reason, offset) in cases {
        let a = policy_attrs(list);
        assert_eq!(
            parse_policy_request(*cmd, &a),
            Err(PolicyError {
                reason: *reason,
                offset: *offset
            }),
            "{list:?}"
        );
    }
    // AF_UNSPEC, AF_UNIX, AF_PACKET: only AF_INET and AF_INET6.
    for af in [0u16, 1, 17] {
        let a = policy_attrs(&[p, s, (POLICY_A_FAMILY, &af.to_ne_bytes())]);
        let e = parse_policy_request(PolicyCmd::Protect, &a).unwrap_err();
        assert_eq!((e.reason, e.offset), (R::FamilyValue, Some(16)), "{af}");
    }
    // Broken headers: cut short, length below 4, length past the end.
    let good = policy_attrs(&[p, s]);
    for cut in [1, 2, 3, 9, 10, 11, 13, 14] {
        let r = parse_policy_request(PolicyCmd::Protect, &good[..cut]);
        assert_eq!(r.map_err(|e| e.reason), Err(R::Malformed), "cut at {cut}");
    }
    let mut short = good.clone();
    short[8..10].copy_from_slice(&3u16.to_ne_bytes());
    assert_eq!(
        parse_policy_request(PolicyCmd::Protect, &short),
        Err(PolicyError {
            reason: R::Malformed,
            offset: Some(8)
        })
    );
    let mut long = good.clone();
    long[8..10].copy_from_slice(&17u16.to_ne_bytes());
    assert_eq!(
        parse_policy_request(PolicyCmd::Protect, &long),
        Err(PolicyError {
            reason: R::Malformed,
            offset: Some(8)
        })
    );
}

#[test]
fn policy_reject_messages() {
    use PolicyReject as R;
    for r in [
        R::Malformed,
        R::UnknownAttribute,
        R::AttributeFlags,
        R::NotForCommand,
        R::Twice,
        R::NoPort,
        R::PortSize,
        R::PortZero,
        R::NoSecret,
        R::SecretEmpty,
        R::SecretLong,
        R::TooManySecrets,
        R::SameSecret,
        R::IntegritySize,
        R::IntegrityRange,
        R::FamilySize,
        R::FamilyValue,
    ] {
        let m = r.message_nul();
        // One NUL, at the end: the kernel hands it on as a C string.
        assert_eq!(m.iter().position(|&b| b == 0), Some(m.len() - 1), "{r:?}");
        assert!(!r.message().is_empty());
    }
    assert_eq!(R::PortZero.errno(), PolicyErrno::Range);
    assert_eq!(R::TooManySecrets.errno(), PolicyErrno::TooBig);
    assert_eq!(R::SameSecret.errno(), PolicyErrno::Exists);
    assert_eq!(R::NoSecret.errno(), PolicyErrno::Inval);
    // The message of TooManySecrets names the limit.
    assert_eq!(MAX_KEYS, 4);
}
