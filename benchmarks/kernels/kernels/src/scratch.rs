//! The kernels' buffers: one static, handed out as `&mut` to one caller at a time.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Every buffer the kernels use (about 7 KiB). Zero-initialised, so it costs no data segment in
/// the wasm module and no file bytes natively (`.bss`).
#[derive(Debug)]
pub struct Scratch {
    /// `crc32`: the buffer checksummed each iteration.
    pub bytes: [u8; crate::crc32::LEN],
    /// `sha256`: the message block compressed each iteration.
    pub block: [u8; 64],
    /// `matmul`: the operands and the product.
    pub a: [[i32; crate::matmul::DIM]; crate::matmul::DIM],
    /// `matmul`: second operand.
    pub b: [[i32; crate::matmul::DIM]; crate::matmul::DIM],
    /// `matmul`: product.
    pub c: [[i32; crate::matmul::DIM]; crate::matmul::DIM],
    /// `heapsort`: the values sorted each iteration.
    pub values: [u32; crate::heapsort::LEN],
    /// `fir`: input samples (with the filter's history in front).
    pub samples: [f32; crate::fir::SAMPLES + crate::fir::TAPS],
    /// `fir`: filter coefficients.
    pub taps: [f32; crate::fir::TAPS],
    /// `fir`: output samples.
    pub output: [f32; crate::fir::SAMPLES],
    /// `kvparse`: the text parsed each iteration.
    pub text: [u8; crate::kvparse::LEN],
}

struct Shared(UnsafeCell<Scratch>);

// SAFETY: the cell's contents are only reached through `with_scratch`, which hands out one
// `&mut` at a time (guarded by `BUSY`), so sharing the static between threads is sound.
unsafe impl Sync for Shared {}

static SCRATCH: Shared = Shared(UnsafeCell::new(Scratch {
    bytes: [0; crate::crc32::LEN],
    block: [0; 64],
    a: [[0; crate::matmul::DIM]; crate::matmul::DIM],
    b: [[0; crate::matmul::DIM]; crate::matmul::DIM],
    c: [[0; crate::matmul::DIM]; crate::matmul::DIM],
    values: [0; crate::heapsort::LEN],
    samples: [0.0; crate::fir::SAMPLES + crate::fir::TAPS],
    taps: [0.0; crate::fir::TAPS],
    output: [0.0; crate::fir::SAMPLES],
    text: [0; crate::kvparse::LEN],
}));

/// Set while a caller holds the scratch buffers.
static BUSY: AtomicBool = AtomicBool::new(false);

/// Runs `f` with exclusive access to the scratch buffers; `None` if they are already in use (a
/// kernel called from inside another: none does).
pub fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> Option<R> {
    if BUSY.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: `BUSY` was false and this call set it, so no other reference to the contents
    // exists until it is cleared below, after `f` (which cannot keep the borrow) returns.
    let result = f(unsafe { &mut *SCRATCH.0.get() });
    BUSY.store(false, Ordering::Release);
    Some(result)
}
