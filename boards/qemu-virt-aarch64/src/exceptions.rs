//! Exception vectors (`VBAR_EL1`) and the synchronous exception handler.
//!
//! The program runs at EL1 on `SP_EL0`; an exception switches to `SP_EL1`, the exception
//! stack, so a fault on the program stack (its guard page, for instance) can still be handled.
//! Each vector saves x0-x30, `ELR_EL1` and `SPSR_EL1` into an [`ExceptionFrame`] on the
//! exception stack and calls [`board_exception`]; on return the (possibly modified) frame is
//! restored and `eret` resumes.
//!
//! A synchronous exception from the program ("current EL with SP0") becomes a wasm trap in two
//! cases, and only these:
//!
//! 1. **Listed trap site**: `ELR_EL1` is a trap site of loaded wasm code (per
//!    [`device_runtime::fault::redirect_for`]): resume in the runtime's unwind routine with
//!    the listed trap code, exactly as the hosted signal handler does.
//! 2. **Guard-region access from wasm code**: a data abort that is a *translation fault*
//!    (the page is not mapped; `ESR_EL1.EC` = 0x25, `DFSC` = 0b0001xx, `FAR_EL1` valid), with
//!    `ELR_EL1` anywhere in the text of a loaded module and `FAR_EL1` in a live memory slot
//!    ([`crate::platform::in_live_memory_slot`]: a small slot's pages or a wide slot's
//!    span). The only unmapped addresses of a live slot are its guards and the inaccessible
//!    part of its reservation, so this is an out-of-bounds linear-memory access that did not
//!    happen: resume in the unwind routine with `MemoryOutOfBounds`
//!    ([`device_runtime::fault::redirect_for_guard_fault`]), even if the PC is not listed (a
//!    hand-made or miscompiled image).
//!
//! Either way the wasm call returns `Err(Trap)` and the program keeps running. Every other
//! exception (a fault in firmware code, even on a guard; a fault in wasm code on an address
//! outside every slot or of another kind; a write to published code; an exception while
//! handling one; FIQ/SError) is printed with ESR, PC and FAR and ends the program with exit
//! status [`FATAL_EXIT_STATUS`]: it is never turned into a wasm trap.
//!
//! An IRQ from the program (the only IRQ vector that can be taken: handlers run with IRQs
//! masked, and the program unmasks them only with [`crate::timer::start`]) takes its own path:
//! the vector saves the whole interrupted context, general-purpose *and* floating-point/SIMD
//! ([`InterruptFrame`]), because the interrupted code may be anywhere in wasm or firmware code
//! and must resume exactly; [`board_irq`] acknowledges it at the GIC, lets [`crate::timer`]
//! handle the timer's interrupt, ends it, and the vector restores everything and `eret`s. Any
//! other interrupt ID is reported and ends the program with [`FATAL_EXIT_STATUS`].
//!
//! Floating-point registers are not saved: a redirected context continues in the unwind
//! routine, which restores the callee-saved d8-d15 from the entry's jump buffer (the Rust code
//! of the handler preserves them too), and a fatal exception never resumes.

use core::sync::atomic::{AtomicUsize, Ordering};

use crate::{console, println, semihosting};

static FAULTS_TURNED_INTO_TRAPS: AtomicUsize = AtomicUsize::new(0);
static GUARD_FAULTS_TURNED_INTO_TRAPS: AtomicUsize = AtomicUsize::new(0);

/// How many synchronous exceptions have been turned into wasm traps since boot (both rules).
pub fn faults_turned_into_traps() -> usize {
    FAULTS_TURNED_INTO_TRAPS.load(Ordering::Relaxed)
}

/// How many of them were guard-region accesses at a PC not listed in the trap table (rule 2).
pub fn guard_faults_turned_into_traps() -> usize {
    GUARD_FAULTS_TURNED_INTO_TRAPS.load(Ordering::Relaxed)
}

/// Whether `esr` is a data abort from the current exception level caused by a translation
/// fault (at any level) with a valid `FAR_EL1`.
pub fn is_translation_fault(esr: u64) -> bool {
    const DATA_ABORT_SAME_LEVEL: u64 = 0x25;
    const FAR_NOT_VALID: u64 = 1 << 10;
    let class = (esr >> 26) & 0x3f;
    let status = esr & 0x3f;
    class == DATA_ABORT_SAME_LEVEL && esr & FAR_NOT_VALID == 0 && status & 0b11_1100 == 0b00_0100
}

/// Exit status after an exception that is not a wasm trap.
pub const FATAL_EXIT_STATUS: u32 = 3;

/// Registers saved by the vectors. Layout (bytes): 0..248 x0-x30, 248 ELR_EL1, 256 SPSR_EL1,
/// 264 padding (the frame keeps the stack 16-byte aligned).
#[repr(C)]
#[derive(Debug)]
pub struct ExceptionFrame {
    /// General-purpose registers x0-x30 at the exception.
    pub x: [u64; 31],
    /// Return address (`ELR_EL1`): the faulting instruction for a synchronous abort.
    pub elr: u64,
    /// Saved program status (`SPSR_EL1`).
    pub spsr: u64,
    padding: u64,
}

const _: () = assert!(core::mem::size_of::<ExceptionFrame>() == 272);

/// Which vector was taken (the value the vector passes in x0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub enum Vector {
    /// Synchronous exception from code running on `SP_EL0` (the program).
    ProgramSync = 0,
    /// Synchronous exception from code running on `SP_EL1` (an exception handler).
    HandlerSync = 1,
    /// FIQ or SError, or an IRQ while handling an exception (none is enabled).
    Asynchronous = 2,
    /// Any exception from a lower exception level (nothing runs at EL0).
    LowerLevel = 3,
}

core::arch::global_asm!(
    ".macro BOARD_VECTOR kind",
    ".balign 0x80",
    "    sub sp, sp, #272",
    "    stp x0, x1, [sp, #0]",
    "    mov x0, #\\kind",
    "    b board_exception_common",
    ".endm",
    ".macro BOARD_IRQ_VECTOR",
    ".balign 0x80",
    "    sub sp, sp, #800",
    "    stp x0, x1, [sp, #0]",
    "    b board_irq_common",
    ".endm",
    "",
    ".section .text.board_vectors, \"ax\"",
    ".balign 2048",
    ".globl board_vectors",
    "board_vectors:",
    // Current EL with SP_EL0: the program (synchronous, IRQ, FIQ, SError).
    "    BOARD_VECTOR 0",
    "    BOARD_IRQ_VECTOR",
    "    BOARD_VECTOR 2",
    "    BOARD_VECTOR 2",
    // Current EL with SP_EL1: an exception handler.
    "    BOARD_VECTOR 1",
    "    BOARD_VECTOR 2",
    "    BOARD_VECTOR 2",
    "    BOARD_VECTOR 2",
    // Lower EL, AArch64 and AArch32.
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "    BOARD_VECTOR 3",
    "",
    "board_exception_common:",
    "    stp x2, x3, [sp, #16]",
    "    stp x4, x5, [sp, #32]",
    "    stp x6, x7, [sp, #48]",
    "    stp x8, x9, [sp, #64]",
    "    stp x10, x11, [sp, #80]",
    "    stp x12, x13, [sp, #96]",
    "    stp x14, x15, [sp, #112]",
    "    stp x16, x17, [sp, #128]",
    "    stp x18, x19, [sp, #144]",
    "    stp x20, x21, [sp, #160]",
    "    stp x22, x23, [sp, #176]",
    "    stp x24, x25, [sp, #192]",
    "    stp x26, x27, [sp, #208]",
    "    stp x28, x29, [sp, #224]",
    "    mrs x1, elr_el1",
    "    stp x30, x1, [sp, #240]",
    "    mrs x1, spsr_el1",
    "    str x1, [sp, #256]",
    "    mov x1, sp",
    "    bl board_exception",
    "    ldr x1, [sp, #256]",
    "    msr spsr_el1, x1",
    "    ldp x30, x1, [sp, #240]",
    "    msr elr_el1, x1",
    "    ldp x28, x29, [sp, #224]",
    "    ldp x26, x27, [sp, #208]",
    "    ldp x24, x25, [sp, #192]",
    "    ldp x22, x23, [sp, #176]",
    "    ldp x20, x21, [sp, #160]",
    "    ldp x18, x19, [sp, #144]",
    "    ldp x16, x17, [sp, #128]",
    "    ldp x14, x15, [sp, #112]",
    "    ldp x12, x13, [sp, #96]",
    "    ldp x10, x11, [sp, #80]",
    "    ldp x8, x9, [sp, #64]",
    "    ldp x6, x7, [sp, #48]",
    "    ldp x4, x5, [sp, #32]",
    "    ldp x2, x3, [sp, #16]",
    "    ldp x0, x1, [sp, #0]",
    "    add sp, sp, #272",
    "    eret",
    "",
    // The IRQ path: the whole interrupted context (see `InterruptFrame`).
    "board_irq_common:",
    "    stp x2, x3, [sp, #16]",
    "    stp x4, x5, [sp, #32]",
    "    stp x6, x7, [sp, #48]",
    "    stp x8, x9, [sp, #64]",
    "    stp x10, x11, [sp, #80]",
    "    stp x12, x13, [sp, #96]",
    "    stp x14, x15, [sp, #112]",
    "    stp x16, x17, [sp, #128]",
    "    stp x18, x19, [sp, #144]",
    "    stp x20, x21, [sp, #160]",
    "    stp x22, x23, [sp, #176]",
    "    stp x24, x25, [sp, #192]",
    "    stp x26, x27, [sp, #208]",
    "    stp x28, x29, [sp, #224]",
    "    mrs x1, elr_el1",
    "    stp x30, x1, [sp, #240]",
    "    mrs x1, spsr_el1",
    "    mrs x2, fpcr",
    "    stp x1, x2, [sp, #256]",
    "    mrs x1, fpsr",
    "    str x1, [sp, #272]",
    "    add x1, sp, #288",
    "    stp q0, q1, [x1, #0]",
    "    stp q2, q3, [x1, #32]",
    "    stp q4, q5, [x1, #64]",
    "    stp q6, q7, [x1, #96]",
    "    stp q8, q9, [x1, #128]",
    "    stp q10, q11, [x1, #160]",
    "    stp q12, q13, [x1, #192]",
    "    stp q14, q15, [x1, #224]",
    "    stp q16, q17, [x1, #256]",
    "    stp q18, q19, [x1, #288]",
    "    stp q20, q21, [x1, #320]",
    "    stp q22, q23, [x1, #352]",
    "    stp q24, q25, [x1, #384]",
    "    stp q26, q27, [x1, #416]",
    "    stp q28, q29, [x1, #448]",
    "    stp q30, q31, [x1, #480]",
    "    mov x0, sp",
    "    bl board_irq",
    "    add x1, sp, #288",
    "    ldp q0, q1, [x1, #0]",
    "    ldp q2, q3, [x1, #32]",
    "    ldp q4, q5, [x1, #64]",
    "    ldp q6, q7, [x1, #96]",
    "    ldp q8, q9, [x1, #128]",
    "    ldp q10, q11, [x1, #160]",
    "    ldp q12, q13, [x1, #192]",
    "    ldp q14, q15, [x1, #224]",
    "    ldp q16, q17, [x1, #256]",
    "    ldp q18, q19, [x1, #288]",
    "    ldp q20, q21, [x1, #320]",
    "    ldp q22, q23, [x1, #352]",
    "    ldp q24, q25, [x1, #384]",
    "    ldp q26, q27, [x1, #416]",
    "    ldp q28, q29, [x1, #448]",
    "    ldp q30, q31, [x1, #480]",
    "    ldr x1, [sp, #272]",
    "    msr fpsr, x1",
    "    ldp x1, x2, [sp, #256]",
    "    msr spsr_el1, x1",
    "    msr fpcr, x2",
    "    ldp x30, x1, [sp, #240]",
    "    msr elr_el1, x1",
    "    ldp x28, x29, [sp, #224]",
    "    ldp x26, x27, [sp, #208]",
    "    ldp x24, x25, [sp, #192]",
    "    ldp x22, x23, [sp, #176]",
    "    ldp x20, x21, [sp, #160]",
    "    ldp x18, x19, [sp, #144]",
    "    ldp x16, x17, [sp, #128]",
    "    ldp x14, x15, [sp, #112]",
    "    ldp x12, x13, [sp, #96]",
    "    ldp x10, x11, [sp, #80]",
    "    ldp x8, x9, [sp, #64]",
    "    ldp x6, x7, [sp, #48]",
    "    ldp x4, x5, [sp, #32]",
    "    ldp x2, x3, [sp, #16]",
    "    ldp x0, x1, [sp, #0]",
    "    add sp, sp, #800",
    "    eret",
);

/// The interrupted context the IRQ vector saves on the exception stack and restores before
/// `eret`. Layout (bytes): 0..248 x0-x30, 248 `ELR_EL1`, 256 `SPSR_EL1`, 264 `FPCR`, 272
/// `FPSR`, 280 padding, 288..800 q0-q31 (16 bytes each, little-endian).
#[repr(C)]
#[derive(Debug)]
pub struct InterruptFrame {
    /// General-purpose registers x0-x30.
    pub x: [u64; 31],
    /// Where the program resumes (`ELR_EL1`): the interrupted instruction.
    pub elr: u64,
    /// Saved program status (`SPSR_EL1`: NZCV, masks, the stack pointer selection).
    pub spsr: u64,
    /// Floating-point control register (rounding mode, flush-to-zero, default NaN).
    pub fpcr: u64,
    /// Floating-point status register (cumulative exception flags).
    pub fpsr: u64,
    padding: u64,
    /// The SIMD and floating-point registers, whole.
    pub q: [u128; 32],
}

const _: () = {
    assert!(core::mem::size_of::<InterruptFrame>() == 800);
    assert!(core::mem::offset_of!(InterruptFrame, elr) == 248);
    assert!(core::mem::offset_of!(InterruptFrame, fpcr) == 264);
    assert!(core::mem::offset_of!(InterruptFrame, fpsr) == 272);
    assert!(core::mem::offset_of!(InterruptFrame, q) == 288);
};

/// Called by the IRQ vector with the saved context (on the exception stack, IRQs masked): the
/// timer's interrupt is handled by [`crate::timer`]; any other is fatal.
// SAFETY: no other symbol of the firmware is named `board_irq`; only the IRQ vectors call it,
// with a pointer to the frame they saved on the exception stack.
#[unsafe(no_mangle)]
extern "C" fn board_irq(frame: &mut InterruptFrame) {
    let Some(interrupt) = crate::gic::acknowledge() else {
        // Spurious (withdrawn before the acknowledge): nothing to end.
        return;
    };
    let intid = interrupt.intid();
    if intid == crate::timer::INTID && crate::timer::on_interrupt(frame.elr) {
        crate::gic::end_of_interrupt(interrupt);
        return;
    }
    console::write_bytes(b"\n");
    println!(
        "fatal: unexpected interrupt INTID {intid} at PC={:#018x}",
        frame.elr
    );
    semihosting::exit(FATAL_EXIT_STATUS)
}

/// Reads the syndrome and fault address registers.
mod syndrome {
    /// `(ESR_EL1, FAR_EL1)`.
    pub fn read() -> (u64, u64) {
        let esr: u64;
        let far: u64;
        // SAFETY: reading ESR_EL1 and FAR_EL1 at EL1 has no side effects.
        unsafe {
            core::arch::asm!(
                "mrs {esr}, esr_el1",
                "mrs {far}, far_el1",
                esr = out(reg) esr,
                far = out(reg) far,
                options(nomem, nostack, preserves_flags),
            )
        };
        (esr, far)
    }
}

/// A short name for the exception class (`ESR_EL1.EC`).
pub fn exception_class_name(esr: u64) -> &'static str {
    match (esr >> 26) & 0x3f {
        0x00 => "unknown instruction",
        0x07 => "FP/SIMD access",
        0x15 => "SVC",
        0x18 => "system register access",
        0x20 | 0x21 => "instruction abort",
        0x22 => "PC alignment",
        0x24 | 0x25 => "data abort",
        0x26 => "SP alignment",
        0x2c => "floating-point exception",
        0x30..=0x35 => "debug",
        0x3c => "BRK",
        _ => "other",
    }
}

/// Called by the vectors with the saved frame (on the exception stack).
#[unsafe(no_mangle)]
extern "C" fn board_exception(vector: u64, frame: &mut ExceptionFrame) {
    let (esr, far) = syndrome::read();
    if vector == Vector::ProgramSync as u64 {
        let pc = frame.elr as usize;
        let redirect = match device_runtime::fault::redirect_for(pc) {
            Some(listed) => Some(listed),
            None if is_translation_fault(esr) && crate::platform::in_live_memory_slot(far) => {
                // SAFETY: this is the synchronous exception the instruction at `pc` raised on
                // this (only) core, and the frame is that context; it is a translation fault,
                // so the page at FAR is not mapped, and FAR lies in a memory slot the platform
                // handed out and has not freed, whose only unmapped pages are its guards and
                // the inaccessible part of its reservation: the access read and wrote nothing.
                let guard = unsafe { device_runtime::fault::redirect_for_guard_fault(pc) };
                if guard.is_some() {
                    GUARD_FAULTS_TURNED_INTO_TRAPS.fetch_add(1, Ordering::Relaxed);
                }
                guard
            }
            None => None,
        };
        if let Some(redirect) = redirect {
            // Continue in the runtime's unwind routine, as the hosted signal handler does:
            // the innermost wasm entry returns the trap code.
            frame.x[0] = redirect.arg0 as u64;
            frame.x[1] = redirect.arg1 as u64;
            frame.elr = redirect.resume_at as u64;
            FAULTS_TURNED_INTO_TRAPS.fetch_add(1, Ordering::Relaxed);
            return;
        }
    }
    let what = match vector {
        0 => "synchronous exception",
        1 => "synchronous exception in an exception handler",
        2 => "asynchronous exception",
        _ => "exception from a lower exception level",
    };
    console::write_bytes(b"\n");
    println!(
        "fatal: {what} ESR={esr:#010x} at PC={:#018x} FAR={far:#018x} ({})",
        frame.elr,
        exception_class_name(esr)
    );
    if device_runtime::fault::in_wasm_text(frame.elr as usize) {
        println!(
            "the faulting PC is in wasm text: not a listed trap site, not a guard-region access"
        );
    }
    semihosting::exit(FATAL_EXIT_STATUS)
}
