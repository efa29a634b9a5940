//! Spec-testsuite bundles: the WebAssembly spec testsuite, compiled on the host, executed on a
//! device.
//!
//! * [`format`]: the binary bundle format (version 1, little-endian, fixed-size records,
//!   64-byte aligned images) and its decoder, which checks every offset and length and never
//!   panics on bad input.
//! * [`exec`]: the executor, which runs a bundle's commands (`module`, `register`, `invoke`,
//!   `assert_return`, `assert_trap`, `assert_exhaustion`, `assert_unlinkable`,
//!   `assert_uninstantiable`) over the device runtime's public API with the reference
//!   interpreter's `spectest` module, without an allocator.
//! * [`report`]: the text a runner prints (per-file counts and digests, failing cases), shared
//!   by the board firmware and the hosted runner so their outputs compare byte for byte.
//! * `encode` (feature `encode`, needs `alloc`): the writer, used by the host generator
//!   (`tests/src/bundle.rs`).
//!
//! `assert_invalid` and `assert_malformed` are decided by the host compiler alone: the
//! generator checks them while building the bundle and records only their counts.
//!
//! Features: `encode`. No `unsafe` code.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "encode")]
extern crate alloc;

#[cfg(feature = "encode")]
pub mod encode;
pub mod exec;
pub mod format;
pub mod report;

pub use exec::{Executor, Failure, FileCounts, Outcome};
pub use format::{Bundle, FormatError};
