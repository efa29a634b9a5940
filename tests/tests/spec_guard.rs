//! The WebAssembly 2.0 spec testsuite with guard-elided bounds checks: every module (the
//! `spectest` module included) is compiled with `BoundsChecks::GuardElided` for the native
//! target and run on the hosted runtime, whose memory slots reserve 4 GiB + 64 KiB of
//! `PROT_NONE` address space, so out-of-bounds accesses trap through the guard and the signal
//! handler instead of an explicit check. Same expectation files as `spec`.
//!
//! x86_64: `cargo test -p tests --test spec_guard`
//! AArch64: `cargo test -p tests --test spec_guard --target aarch64-unknown-linux-gnu`

use tests::device::Device;
use tests::spec_runner::{SpecConfig, main as spec_main};

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let target = tests::native_target();
    spec_main(
        SpecConfig {
            label: format!("host-compiler + device-runtime, {target}, guard-elided bounds checks"),
            expectations: dir.join("spec-expected-failures.txt"),
            target_expectations: Some(dir.join(format!("spec-expected-failures-{target}.txt"))),
        },
        Device::new_guard_elided,
    );
}
