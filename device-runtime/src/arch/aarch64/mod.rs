//! AArch64 (AAPCS64) entry and unwind, and instruction-cache maintenance.
//!
//! `JmpBuf` layout (bytes): 0..80 x19-x28, 80 x29, 88 x30 (return address), 96 sp,
//! 104..168 d8-d15.

use crate::vm::ValRaw;

mod fiber;
pub use self::fiber::{FIBER_INIT_BYTES, fiber_init, fiber_switch};

mod preserving;
pub use self::preserving::{epoch_deadline_preserving, out_of_fuel_preserving};

mod sha256;
pub use self::sha256::compress as sha256_compress;

/// The target whose images this runtime executes.
pub const NATIVE_TARGET: Option<shared_types::Target> = Some(shared_types::Target::Aarch64);

/// Whether [`entry`] can run code on this architecture.
pub const CAN_ENTER: bool = true;

/// Status never produced on this architecture (entry is supported).
pub const UNSUPPORTED_STATUS: u32 = u32::MAX;

/// Code pointers are plain addresses on this architecture.
pub const CODE_POINTER_TAG: usize = 0;

/// What this runtime runs: its own target.
pub fn detected_core() -> crate::image::targets::Detected {
    crate::image::targets::Detected::Core(shared_types::Target::Aarch64)
}

/// Saved context of one host-to-wasm entry.
#[repr(C)]
#[derive(Debug, Default)]
pub struct JmpBuf {
    regs: [usize; 21],
}

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_aarch64_entry",
    ".type device_runtime_aarch64_entry,%function",
    "device_runtime_aarch64_entry:",
    // x0 = jmpbuf, x1 = array_call, x2 = callee_vmctx, x3 = caller_vmctx, x4 = values,
    // x5 = count.
    "stp x19, x20, [x0, #0]",
    "stp x21, x22, [x0, #16]",
    "stp x23, x24, [x0, #32]",
    "stp x25, x26, [x0, #48]",
    "stp x27, x28, [x0, #64]",
    "stp x29, x30, [x0, #80]",
    "mov x9, sp",
    "str x9, [x0, #96]",
    "stp d8, d9, [x0, #104]",
    "stp d10, d11, [x0, #120]",
    "stp d12, d13, [x0, #136]",
    "stp d14, d15, [x0, #152]",
    "stp x29, x30, [sp, #-16]!",
    "mov x29, sp",
    "mov x9, x1",
    "mov x0, x2",
    "mov x1, x3",
    "mov x2, x4",
    "mov x3, x5",
    "blr x9",
    "ldp x29, x30, [sp], #16",
    "ret",
    ".size device_runtime_aarch64_entry, . - device_runtime_aarch64_entry",
    "",
    ".p2align 4",
    ".globl device_runtime_aarch64_unwind",
    ".type device_runtime_aarch64_unwind,%function",
    "device_runtime_aarch64_unwind:",
    // x0 = jmpbuf, w1 = status (non-zero).
    "ldp x19, x20, [x0, #0]",
    "ldp x21, x22, [x0, #16]",
    "ldp x23, x24, [x0, #32]",
    "ldp x25, x26, [x0, #48]",
    "ldp x27, x28, [x0, #64]",
    "ldp x29, x30, [x0, #80]",
    "ldr x9, [x0, #96]",
    "mov sp, x9",
    "ldp d8, d9, [x0, #104]",
    "ldp d10, d11, [x0, #120]",
    "ldp d12, d13, [x0, #136]",
    "ldp d14, d15, [x0, #152]",
    "mov w0, w1",
    "ret",
    ".size device_runtime_aarch64_unwind, . - device_runtime_aarch64_unwind",
);

unsafe extern "C" {
    fn device_runtime_aarch64_entry(
        jmpbuf: *mut JmpBuf,
        array_call: usize,
        callee_vmctx: *mut u8,
        caller_vmctx: *mut u8,
        values: *mut ValRaw,
        count: usize,
    ) -> u32;
    fn device_runtime_aarch64_unwind(jmpbuf: *const JmpBuf, status: u32) -> !;
}

/// Saves the context into `jmpbuf` and calls `array_call(callee_vmctx, caller_vmctx, values,
/// count)`; returns its status, or the status passed to [`unwind`] with this `jmpbuf`.
///
/// # Safety
/// `array_call` is code with the array calling convention that may use `values[0..count]`;
/// `jmpbuf` stays valid and in place until this function returns.
pub unsafe fn entry(
    jmpbuf: *mut JmpBuf,
    array_call: usize,
    callee_vmctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut ValRaw,
    count: usize,
) -> u32 {
    // SAFETY: the caller upholds the array convention; the assembly saves every callee-saved
    // register (x19-x30, sp, d8-d15) before the call.
    unsafe {
        device_runtime_aarch64_entry(
            jmpbuf,
            array_call,
            callee_vmctx,
            caller_vmctx,
            values,
            count,
        )
    }
}

/// Address of the unwind routine (for fault handlers that redirect an interrupted context).
pub fn unwind_address() -> usize {
    device_runtime_aarch64_unwind as *const () as usize
}

/// Returns from the [`entry`] that filled `jmpbuf` with `status`.
///
/// # Safety
/// `jmpbuf` was filled by an `entry` that has not returned yet, on this thread, and every frame
/// above it may be discarded without running code.
pub unsafe fn unwind(jmpbuf: *const JmpBuf, status: u32) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { device_runtime_aarch64_unwind(jmpbuf, status) }
}

/// Makes instruction fetch see the bytes just written to `[start, start + len)`: clean the data
/// cache to the point of unification, invalidate the instruction cache, and synchronise.
///
/// # Safety
/// The range is mapped and readable.
pub unsafe fn sync_icache(start: *const u8, len: usize) {
    let ctr: u64;
    // SAFETY: CTR_EL0 is readable at EL0 on Linux and at EL1; no memory is touched.
    unsafe {
        core::arch::asm!("mrs {0}, ctr_el0", out(reg) ctr, options(nomem, nostack, preserves_flags))
    };
    let dline = 4usize << ((ctr >> 16) & 0xf);
    let iline = 4usize << (ctr & 0xf);
    let begin = start as usize;
    let end = begin.saturating_add(len);
    let mut addr = begin & !(dline - 1);
    while addr < end {
        // SAFETY: cache maintenance by address on mapped memory (guaranteed by the caller).
        unsafe {
            core::arch::asm!("dc cvau, {0}", in(reg) addr, options(nostack, preserves_flags))
        };
        addr += dline;
    }
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb ish", options(nostack, preserves_flags)) };
    let mut addr = begin & !(iline - 1);
    while addr < end {
        // SAFETY: as above.
        unsafe {
            core::arch::asm!("ic ivau, {0}", in(reg) addr, options(nostack, preserves_flags))
        };
        addr += iline;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}

/// Signal-context access for the hosted fault handler.
#[cfg(all(feature = "hosted", target_os = "linux"))]
pub mod signal {
    use super::JmpBuf;

    /// The program counter at the fault.
    ///
    /// # Safety
    /// `uc` is the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
    pub unsafe fn pc(uc: *mut libc::c_void) -> usize {
        let uc = uc.cast::<libc::ucontext_t>();
        // SAFETY: guaranteed by the caller.
        unsafe { (*uc).uc_mcontext.pc as usize }
    }

    /// Whether the fault really is the trap the trap table lists at its PC: always on this
    /// architecture, where every listed site is an instruction the code generator placed there
    /// to fault.
    ///
    /// # Safety
    /// As for [`pc`].
    pub unsafe fn confirms_trap(
        _uc: *mut libc::c_void,
        _sig: libc::c_int,
        _pc: usize,
        _code: shared_types::TrapCode,
    ) -> bool {
        true
    }

    /// Makes the interrupted context continue in `unwind(jmpbuf, status)` when the handler
    /// returns.
    ///
    /// # Safety
    /// As for [`pc`]; `jmpbuf` satisfies the contract of [`super::unwind`].
    pub unsafe fn redirect_to_unwind(uc: *mut libc::c_void, jmpbuf: *const JmpBuf, status: u32) {
        let uc = uc.cast::<libc::ucontext_t>();
        // SAFETY: guaranteed by the caller; the registers are plain integers in the context.
        unsafe {
            let m = &mut (*uc).uc_mcontext;
            m.regs[0] = jmpbuf as u64;
            m.regs[1] = status as u64;
            m.pc = super::device_runtime_aarch64_unwind as *const () as usize as u64;
        }
    }
}
