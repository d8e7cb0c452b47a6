//! # docket-guest-core
//!
//! The primitives every Docket plugin computes the same way, whoever wrote
//! it: the Rust SDK ([`docket-guest-sdk`]) calls them, and so does the
//! runtime the no-code compiler merges into every compiled rule document,
//! which is how a no-code rule and its hand-written Rust twin agree to the
//! last minor unit. `no_std` and allocation-free, so the no-code runtime
//! stays a few kilobytes.
//!
//! [`docket-guest-sdk`]: ../docket_guest_sdk/index.html
#![no_std]

pub mod money;
pub mod text;
pub mod time;
