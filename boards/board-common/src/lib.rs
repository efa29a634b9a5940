//! Board firmware parts that do not depend on the architecture, shared by every board crate
//! (`qemu-virt-aarch64` directly, `mps2-an386` and `mps3-an547` through `cortex-m-common`):
//! the runner behind `wasm-aot run --board` ([`runner`]) and what the three-task demos share
//! ([`demo`]). No unsafe code and no hardware access: the boards give their console, timer and
//! image loading. `cargo test --target x86_64-unknown-linux-gnu` runs the tests on the host.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod demo;
pub mod runner;
