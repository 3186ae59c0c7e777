// SPDX-License-Identifier: GPL-2.0

//! Per network namespace counters, shown in `/proc/net/tcp_stealth_stats`.

use crate::ffi::percpu::PerCpuCounters;
use core::fmt::Write;
use kernel::prelude::*;

/// Generates the counter enum, its names and the table in one place, so that
/// they can never disagree.
macro_rules! counters {
    ($($variant:ident => $name:literal: $doc:literal,)*) => {
        /// A counter of the module, per network namespace.
        #[derive(Clone, Copy, Debug)]
        #[repr(usize)]
        pub(crate) enum Counter {
            $(#[doc = $doc] $variant,)*
        }

        const NAMES: &[&str] = &[$($name,)*];
    };
}

counters! {
    SynIn => "syn_in": "TCP SYNs addressed to this namespace.",
    KnockGood => "knock_good": "SYNs to a protected listener with a valid knock.",
    KnockRetransmit => "knock_retransmit": "Valid knocks again in a duplicate of their SYN (accepted).",
    KnockMissing => "knock_missing": "SYNs to a protected listener without a knock.",
    KnockMalformed => "knock_malformed": "SYNs with a malformed knock option or option list.",
    KnockBadMac => "knock_bad_mac": "Knocks whose MAC matches none of the listener's keys.",
    KnockStale => "knock_stale": "Knocks whose time is outside the allowed skew.",
    KnockReplay => "knock_replay": "Valid knocks replayed from another source, or too old to tell.",
    KnockReplayFull => "knock_replay_full": "Valid knocks refused: the replay cache had no room for them (net.tcp_stealth.replay_key_max / replay_max).",
    ProbeRejected => "probe_rejected": "FIN, NULL, Xmas and SYN+FIN probes to a protected listener.",
    RstSent => "rst_sent": "Rejected packets answered with a closed port's RST.",
    Dropped => "dropped": "Rejected packets dropped silently (net.tcp_stealth.reject=1).",
    KnockSent => "knock_sent": "SYNs sent with a knock.",
    KnockNoSpace => "knock_no_space": "SYNs dropped because the knock did not fit.",
    IntegrityMissing => "integrity_missing": "Valid knocks without a commitment to a listener that requires one (refused).",
    IntegrityUnchecked => "integrity_unchecked": "Valid knocks with a commitment to a listener that does not check it (accepted).",
    IntegrityOk => "integrity_ok": "Connections whose first bytes matched the commitment.",
    IntegrityMismatch => "integrity_mismatch": "Connections reset: first bytes differ from the commitment.",
    IntegrityShort => "integrity_short": "Connections reset: the peer closed before sending the committed bytes.",
    IntegrityTimeout => "integrity_timeout": "Connections reset: the committed bytes did not come in time.",
    IntegrityLost => "integrity_lost": "Connections reset: no commitment to check (SYN cookie, or no saved SYN).",
    IsnGood => "isn_good": "SYNs to an ISN-mode listener with a valid ISN.",
    IsnBad => "isn_bad": "SYNs to an ISN-mode listener whose ISN matches none of its keys.",
    IsnSent => "isn_sent": "First SYNs sent with an ISN-mode knock.",
    IsnResent => "isn_resent": "Retransmitted ISN-mode SYNs (first TSval restored).",
    IsnFailed => "isn_failed": "ISN-mode SYNs dropped because the ISN could not be applied.",
    AckRefused => "ack_refused": "ACKs to a protected listener from a 4-tuple that did not knock (RST, or dropped).",
    FragmentDropped => "fragment_dropped": "IPv6 fragments that reached the hook unreassembled (dropped).",
    RefusalHidden => "refusal_hidden": "Client side: first RSTs answering a SYN whose knock commits to the payload, dropped so that TCP resends it with a fresh knock (nonce collisions).",
    TruncatedDropped => "truncated_dropped": "TCP packets whose headers run past their end (dropped, as TCP does).",
    ClosedAnswered => "closed_answered": "Segments to a port without a socket that the module answered itself as TCP would (an RST, or nothing), on the path of a refused knock, so that a protected port and a closed one take as long to answer.",
    SynUnhooked => "syn_unhooked": "SYNs that reached a protected listener with the ULP without the input hook's check (carried by Foo-over-UDP or GUE, or reinjected by NFQUEUE on another CPU), checked at the listener; refusals are counted by their reason as well.",
}

/// The counters of one namespace, one copy per CPU: every packet bumps
/// one, and a shared atomic would bounce its cache line between the CPUs.
pub(crate) struct Counters(PerCpuCounters<{ NAMES.len() }>);

impl Counters {
    /// All counters at zero.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self(PerCpuCounters::new()?))
    }

    /// Adds one to `c`.
    pub(crate) fn inc(&self, c: Counter) {
        self.0.inc(c as usize);
    }

    /// Writes `name value` lines, one per counter (summed over the CPUs).
    pub(crate) fn show(&self, w: &mut impl Write) {
        for (i, name) in NAMES.iter().enumerate() {
            let _ = writeln!(w, "{} {}", name, self.0.sum(i));
        }
    }
}
