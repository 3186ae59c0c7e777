// SPDX-License-Identifier: GPL-2.0

//! Payload integrity, server side: a connection accepted by a listener that
//! requires it is held until its first `n` bytes match the commitment its
//! knock carried (docs/PROTOCOL.md, section 7), or in ISN mode the integrity
//! hash in its ISN (section 13.3).
//!
//! The knock was checked on input, before TCP saw the SYN. TCP keeps a copy
//! of the SYN's headers for the new connection (the listener has
//! `TCP_SAVE_SYN` on), so the child finds the commitment there when it is
//! made ([`Ulp::clone_check`](crate::ffi::ulp::Ulp::clone_check)), and
//! [`ffi::hold`](crate::ffi::hold) feeds it the bytes as they arrive.

use crate::ffi::{
    crypto::KernelBlake2s,
    hold::{Failure, HoldCheck, Outcome, RxQueue},
    now_secs,
};
use crate::keys::KeySet;
use crate::proto::{
    self, FindResult, IntegrityStatus, IntegrityVerifier, IsnVerifier, PayloadVerifier, Skew,
    SynHeaders,
};
use crate::stats::Counter;

/// What a held connection must prove.
pub(crate) enum Check {
    /// The commitment of its knock, over its first `n` bytes.
    Commit {
        verifier: IntegrityVerifier<KernelBlake2s>,
        n: usize,
    },
    /// ISN mode: the integrity hash in the low 16 bits of its SYN's ISN.
    Isn { verifier: IsnVerifier, n: usize },
    /// Nothing to check against: the SYN (or its commitment) is gone, as
    /// with a SYN cookie, or the listener has no keys any more. Fails as
    /// soon as it is looked at.
    Lost,
}

/// The counter of a failed check.
fn failure_counter(f: Failure) -> Counter {
    match f {
        Failure::Mismatch | Failure::Urgent => Counter::IntegrityMismatch,
        Failure::Short => Counter::IntegrityShort,
        Failure::Timeout => Counter::IntegrityTimeout,
        Failure::Lost => Counter::IntegrityLost,
    }
}
/// ISN mode: the check of the first `n` bytes against the integrity hash in
/// `syn`'s ISN, with the first of `secrets` whose token that ISN carries;
/// `None` if none does.
pub(crate) fn from_isn(
    secrets: &[proto::IsnSecret],
    syn: &SynHeaders<'_>,
    n: usize,
) -> Option<Check> {
    let tsval = proto::find_tsval(syn.options).map_or(0, |(_, v)| v);
    let secret = secrets
        .iter()
        .find(|s| proto::check_isn(s, syn.seq, syn.daddr, syn.dport, tsval, true))?;
    let verifier = IsnVerifier::new(secret, syn.seq as u16, n).ok()?;
    Some(Check::Isn { verifier, n })
}

/// The check of the first `n` bytes against the commitment of `syn`'s
/// knock, with the one of `set`'s keys that made it; `None` without a valid
/// knock that commits.
pub(crate) fn from_knock(set: &KeySet, syn: &SynHeaders<'_>, n: usize) -> Option<Check> {
    let keys = set.keys();
    let dport = syn.dport;
    let FindResult::Found { option, .. } = proto::find_knock(syn.options) else {
        return None;
    };
    // The input hook checked this knock already, freshness included; here it
    // only tells which key made it, however long the handshake took.
    let v = proto::verify(
        &crate::ffi::crypto::KernelCrypto,
        keys,
        option,
        dport,
        now_secs(),
        Skew::MAX,
    )
    .ok()?;
    let c32 = v.integrity?;
    // From the listener's prepared start if it has one for `n`: one BLAKE2s
    // compression (about 1800 instructions) fewer per connection.
    let verifier = match set.commit_start(v.key_index, n) {
        Some(start) => IntegrityVerifier::resume(start.clone(), c32),
        None => IntegrityVerifier::new(&keys[v.key_index], c32, n).ok()?,
    };
    Some(Check::Commit { verifier, n })
}

impl HoldCheck for Check {
    /// Feeds the check with the bytes that arrived since the last call, and
    /// counts the outcome.
    fn advance(&mut self, rx: &RxQueue<'_>, deadline: bool) -> Outcome {
        let outcome = match self {
            Check::Lost => Outcome::Failed(Failure::Lost),
            Check::Commit { verifier, n } => feed(verifier, *n, rx, deadline),
            Check::Isn { verifier, n } => feed(verifier, *n, rx, deadline),
        };
        let counters = &rx.sock().net().state::<crate::netns::NetState>().counters;
        match outcome {
            Outcome::Pending => {}
            Outcome::Verified => counters.inc(Counter::IntegrityOk),
            Outcome::Failed(f) => counters.inc(failure_counter(f)),
        }
        outcome
    }
}

/// Feeds `verifier` (of the first `n` bytes) from the receive queue.
fn feed(
    verifier: &mut impl PayloadVerifier,
    n: usize,
    rx: &RxQueue<'_>,
    deadline: bool,
) -> Outcome {
    if rx.urgent(n) {
        return Outcome::Failed(Failure::Urgent);
    }
    let mut buf = [0u8; 256];
    while verifier.status() == IntegrityStatus::Pending {
        let off = n - verifier.remaining();
        let want = verifier.remaining().min(buf.len());
        let got = rx.copy(off, &mut buf[..want]);
        if got == 0 {
            break;
        }
        verifier.feed(&buf[..got]);
    }
    match verifier.status() {
        IntegrityStatus::Match => Outcome::Verified,
        IntegrityStatus::Mismatch => Outcome::Failed(Failure::Mismatch),
        IntegrityStatus::Pending if rx.peer_closed() => Outcome::Failed(Failure::Short),
        IntegrityStatus::Pending if deadline => Outcome::Failed(Failure::Timeout),
        IntegrityStatus::Pending => Outcome::Pending,
    }
}
