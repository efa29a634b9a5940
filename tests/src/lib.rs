//! Integration tests of the toolchain: the spec-testsuite harness ([`harness`], driven over
//! the real compiler and runtime by `tests/spec.rs`), the expectations file format
//! ([`expectations`]) and the process-isolating suite runner ([`spec_runner`]).

pub mod bundle;
pub mod device;
pub mod expectations;
pub mod harness;
pub mod spec_runner;

pub use harness::{
    Backend, CallError, CompileError, FileReport, InstantiateError, Value, run_wast_file,
};

/// The target the toolchain runs on in this process (the native architecture). On 32-bit Arm
/// (the hosted runtime under `qemu-arm`) the Cortex-M profile comes from the environment
/// variable `TESTS_CORTEX_M` (`cortex-m7`, the default, `cortex-m4f`, `cortex-m33` or
/// `cortex-m55`: qemu-arm's default CPU runs the images of every profile).
pub fn native_target() -> shared_types::Target {
    if cfg!(target_arch = "aarch64") {
        shared_types::Target::Aarch64
    } else if cfg!(target_arch = "arm") {
        let name = std::env::var("TESTS_CORTEX_M").unwrap_or_else(|_| "cortex-m7".into());
        match shared_types::Target::from_name(&name) {
            Some(
                t @ (shared_types::Target::CortexM7
                | shared_types::Target::CortexM4F
                | shared_types::Target::CortexM33
                | shared_types::Target::CortexM55),
            ) => t,
            _ => panic!("TESTS_CORTEX_M={name:?}: not a Cortex-M profile"),
        }
    } else {
        shared_types::Target::X86_64Sim
    }
}
