//! Architectures without entry code (neither x86_64, aarch64 nor 32-bit Arm): every call
//! reports that it cannot run.

/// The SHA-256 block function for image verification (portable on this architecture).
pub use shared_types::header::compress_portable as sha256_compress;

use crate::vm::ValRaw;

/// The native target of this runtime: none, this architecture cannot run images yet.
pub const NATIVE_TARGET: Option<shared_types::Target> = None;

/// Whether [`entry`] can run code on this architecture.
pub const CAN_ENTER: bool = false;

/// Code pointers are plain addresses.
pub const CODE_POINTER_TAG: usize = 0;

/// This architecture runs no image target.
pub fn detected_core() -> crate::image::targets::Detected {
    crate::image::targets::Detected::Nothing
}

/// Placeholder context: nothing is ever saved into it.
#[repr(C)]
#[derive(Debug, Default)]
pub struct JmpBuf {
    _unused: usize,
}

/// Never enters: this architecture has no entry code. Callers check [`CAN_ENTER`] first and
/// return `Error::UnsupportedArch`; this function exists so the rest of the runtime builds.
///
/// # Safety
/// None needed; it does nothing but report [`UNSUPPORTED_STATUS`].
pub unsafe fn entry(
    _jmpbuf: *mut JmpBuf,
    _array_call: usize,
    _callee_vmctx: *mut u8,
    _caller_vmctx: *mut u8,
    _values: *mut ValRaw,
    _count: usize,
) -> u32 {
    UNSUPPORTED_STATUS
}

/// Status reported by [`entry`] on an architecture without entry code.
pub const UNSUPPORTED_STATUS: u32 = u32::MAX;

/// Never called: no wasm code runs on this architecture, so nothing can trap.
///
/// # Safety
/// Must not be called; it halts.
pub unsafe fn unwind(_jmpbuf: *const JmpBuf, _status: u32) -> ! {
    #[allow(
        clippy::empty_loop,
        reason = "unreachable halt on an architecture that runs no wasm"
    )]
    loop {}
}

/// Flushes caches for new code: nothing can execute on this architecture yet.
///
/// # Safety
/// None.
pub unsafe fn sync_icache(_start: *const u8, _len: usize) {}

/// No unwind routine exists on this architecture.
pub fn unwind_address() -> usize {
    0
}

/// Bytes a fiber's initial frame takes (no fibers on this architecture).
pub const FIBER_INIT_BYTES: usize = 0;

/// Never called: resumable calls check [`CAN_ENTER`] first.
///
/// # Safety
/// None; it returns `top` unchanged.
pub unsafe fn fiber_init(
    top: *mut u8,
    _entry: unsafe extern "C" fn(*mut u8, usize) -> !,
    _arg: *mut u8,
) -> *mut u8 {
    top
}

/// Never called: resumable calls check [`CAN_ENTER`] first.
///
/// # Safety
/// Must not be called; it halts.
pub unsafe fn fiber_switch(_save_sp: *mut *mut u8, _load_sp: *mut u8, _value: usize) -> usize {
    #[allow(
        clippy::empty_loop,
        reason = "unreachable halt on an architecture that runs no wasm"
    )]
    loop {}
}
