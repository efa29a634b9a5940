//! The only assembly in the runtime: entering wasm with a saved context and unwinding to it.
//!
//! Also the SHA-256 block function image verification uses (`sha256_compress`: the Armv8
//! SHA-256 instructions on aarch64 when present).
//!
//! [`entry`] saves the callee-saved registers, the stack pointer and the return address into a
//! [`JmpBuf`] and calls an array-convention function; it returns that function's status (0 or a
//! trap code). [`unwind`] restores a `JmpBuf` and makes the `entry` that filled it return the
//! given non-zero status. Frames between the two are skipped without running any code: they are
//! wasm frames, the `Trap` libcall's frame (which owns nothing) or, for a fault, the frame the
//! signal handler redirected.
//!
//! One submodule per architecture; Thumb has none yet and [`entry`] reports
//! [`crate::Error::UnsupportedArch`] through `Unsupported` there.

#[cfg(target_arch = "x86_64")]
mod x86_64;
#[cfg(target_arch = "x86_64")]
pub use self::x86_64::*;

#[cfg(target_arch = "aarch64")]
mod aarch64;
#[cfg(target_arch = "aarch64")]
pub use self::aarch64::*;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
mod unsupported;
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
pub use self::unsupported::*;

/// Signature of array-convention code: `(callee_vmctx, caller_vmctx, values, count) -> status`.
pub type ArrayCall = unsafe extern "C" fn(*mut u8, *mut u8, *mut crate::vm::ValRaw, usize) -> u32;
