// SPDX-License-Identifier: GPL-2.0

//! Host build of the tcp_stealth protocol logic.
//!
//! The code lives in `src/proto/` and is compiled unchanged into the kernel
//! module (`mod proto;` in `src/tcp_stealth_main.rs`). This crate only exists
//! so that it can be unit-tested, linted and formatted with cargo.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(rust_2018_idioms, unreachable_pub)]

#[cfg(test)]
extern crate std;

#[path = "../src/proto/mod.rs"]
mod proto;

pub use proto::*;

#[cfg(any(test, feature = "reference"))]
pub mod reference;
