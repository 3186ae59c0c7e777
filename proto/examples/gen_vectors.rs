// SPDX-License-Identifier: GPL-2.0

//! Computes the test vectors of docs/PROTOCOL.md straight from the reference
//! crates (`blake2`, `siphasher`), without using the protocol crate, so that
//! the vectors are an independent check of it.
//!
//! Run with `cargo run -p tcp-stealth-proto --example gen_vectors`.

use blake2::digest::{Digest, Mac};
use blake2::{Blake2s256, Blake2sMac256};
use core::hash::Hasher;
use siphasher::sip::SipHasher24;

const SECRET: &[u8] = b"This is my magic ID.";
const DPORT: u16 = 22;
const T: u64 = 1_700_000_000;
const NONCE: [u8; 6] = [1, 2, 3, 4, 5, 6];
const PAYLOAD: &[u8] = b"SSH-2.0-OpenSSH_9.2\r\n";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn knock(k_mac: &[u8; 16], c32: Option<[u8; 4]>) {
    let flags = u8::from(c32.is_some());
    let [ph, pl] = DPORT.to_be_bytes();
    let a_bytes = [0x54, 0x53, 0x4b, 0x31, flags, 0, ph, pl];
    let mut n48 = NONCE;
    if let Some(c) = c32 {
        n48[2..].copy_from_slice(&c);
    }
    let mut c_bytes = [0u8; 8];
    c_bytes[..6].copy_from_slice(&n48);

    let mut sip = SipHasher24::new_with_key(k_mac);
    sip.write(&a_bytes);
    sip.write(&T.to_le_bytes());
    sip.write(&c_bytes);
    let mac = sip.finish();

    let ctl = (T % (1 << 14)) as u16 | if c32.is_some() { 0x8000 } else { 0 };
    let mut opt = vec![254, 20, 0x4b, 0x4e];
    opt.extend_from_slice(&ctl.to_be_bytes());
    opt.extend_from_slice(&n48);
    opt.extend_from_slice(&mac.to_le_bytes());

    println!(
        "a      = 0x{:016x}  (bytes {})",
        u64::from_le_bytes(a_bytes),
        hex(&a_bytes)
    );
    println!("b      = 0x{T:016x}  (bytes {})", hex(&T.to_le_bytes()));
    println!(
        "c      = 0x{:016x}  (bytes {})",
        u64::from_le_bytes(c_bytes),
        hex(&c_bytes)
    );
    println!("ctl    = 0x{ctl:04x}");
    println!(
        "MAC    = 0x{mac:016x}  (wire bytes {})",
        hex(&mac.to_le_bytes())
    );
    println!("option = {}", hex(&opt));
}

fn main() {
    let mut s = [0u8; 64];
    s[..SECRET.len()].copy_from_slice(SECRET);
    let mut h = Blake2s256::new();
    h.update(b"tcp_stealth v1 key");
    h.update(s);
    let k: [u8; 32] = h.finalize().into();
    let k_mac: [u8; 16] = k[..16].try_into().unwrap();
    let k_int = &k[16..];
    println!("K      = {}", hex(&k));
    println!("K_mac  = {}", hex(&k_mac));
    println!("K_int  = {}", hex(k_int));

    println!("\n# without integrity");
    knock(&k_mac, None);

    let n = PAYLOAD.len() as u16;
    let mut m = Blake2sMac256::new_from_slice(k_int).unwrap();
    m.update(&n.to_be_bytes());
    m.update(PAYLOAD);
    let d = m.finalize().into_bytes();
    println!("\n# with integrity, n = {n}");
    println!("D      = {}", hex(&d));
    println!("C32    = {}", hex(&d[..4]));
    knock(&k_mac, Some(d[..4].try_into().unwrap()));
}
