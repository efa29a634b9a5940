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

/// The target the toolchain runs on in this process (the native architecture).
pub fn native_target() -> shared_types::Target {
    if cfg!(target_arch = "aarch64") {
        shared_types::Target::Aarch64
    } else {
        shared_types::Target::X86_64Sim
    }
}
