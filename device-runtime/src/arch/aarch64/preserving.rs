//! The register-preserving libcall stubs (`Libcall::OutOfFuelPreserving`,
//! `Libcall::EpochDeadlinePreserving`): Cranelift calls them with `CallConv::PreserveAll`, so
//! they must hand back every register as they found it except the link register the call
//! itself writes. Each saves what AAPCS64 lets a callee clobber (x0-x18, x30, and all 128 bits
//! of q0-q31, since a C callee preserves only the low halves of v8-v15) in a frame on the
//! current stack, calls the C helper (`vm::libcalls::*_or_trap`, arguments still in x0/w1) and
//! restores them. The condition flags are not preserved: Cranelift never keeps them live
//! across a call.
//!
//! The saved registers live in the stub's frame on the wasm stack (the main stack or a
//! fiber's), which is the only thing that makes the two cases below work:
//!
//! * the helper suspends the fiber (yield policy): the fiber's stack, frame included, is left
//!   untouched until it is resumed and the helper returns into the stub on the same stack;
//! * the helper traps: it unwinds to the entry's jump buffer and the frame is discarded with
//!   the wasm frames above the entry; it owns nothing.
//!
//! Frame (bytes from sp after the prologue): 0..152 x0-x18, 160..672 q0-q31, then the frame
//! record (x29, x30) at 672. 688 bytes in all, within the host reserve below the stack limit.

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_aarch64_out_of_fuel_preserving",
    ".type device_runtime_aarch64_out_of_fuel_preserving,%function",
    "device_runtime_aarch64_out_of_fuel_preserving:",
    "stp x29, x30, [sp, #-16]!",
    "mov x29, sp",
    "sub sp, sp, #672",
    "bl device_runtime_aarch64_preserving_save",
    "bl {out_of_fuel}",
    "b device_runtime_aarch64_preserving_restore",
    ".size device_runtime_aarch64_out_of_fuel_preserving, . - device_runtime_aarch64_out_of_fuel_preserving",
    "",
    ".p2align 4",
    ".globl device_runtime_aarch64_epoch_deadline_preserving",
    ".type device_runtime_aarch64_epoch_deadline_preserving,%function",
    "device_runtime_aarch64_epoch_deadline_preserving:",
    "stp x29, x30, [sp, #-16]!",
    "mov x29, sp",
    "sub sp, sp, #672",
    "bl device_runtime_aarch64_preserving_save",
    "bl {epoch_deadline}",
    "b device_runtime_aarch64_preserving_restore",
    ".size device_runtime_aarch64_epoch_deadline_preserving, . - device_runtime_aarch64_epoch_deadline_preserving",
    "",
    // Stores x0-x18 and q0-q31 into the frame at sp; returns with x30 (the stubs saved theirs
    // in the frame record first). Clobbers nothing else.
    ".p2align 4",
    ".type device_runtime_aarch64_preserving_save,%function",
    "device_runtime_aarch64_preserving_save:",
    "stp x0, x1, [sp, #0]",
    "stp x2, x3, [sp, #16]",
    "stp x4, x5, [sp, #32]",
    "stp x6, x7, [sp, #48]",
    "stp x8, x9, [sp, #64]",
    "stp x10, x11, [sp, #80]",
    "stp x12, x13, [sp, #96]",
    "stp x14, x15, [sp, #112]",
    "stp x16, x17, [sp, #128]",
    "str x18, [sp, #144]",
    "stp q0, q1, [sp, #160]",
    "stp q2, q3, [sp, #192]",
    "stp q4, q5, [sp, #224]",
    "stp q6, q7, [sp, #256]",
    "stp q8, q9, [sp, #288]",
    "stp q10, q11, [sp, #320]",
    "stp q12, q13, [sp, #352]",
    "stp q14, q15, [sp, #384]",
    "stp q16, q17, [sp, #416]",
    "stp q18, q19, [sp, #448]",
    "stp q20, q21, [sp, #480]",
    "stp q22, q23, [sp, #512]",
    "stp q24, q25, [sp, #544]",
    "stp q26, q27, [sp, #576]",
    "stp q28, q29, [sp, #608]",
    "stp q30, q31, [sp, #640]",
    "ret",
    ".size device_runtime_aarch64_preserving_save, . - device_runtime_aarch64_preserving_save",
    "",
    // Reloads what the save routine stored, pops the stub's frame and returns to the stub's
    // caller.
    ".p2align 4",
    ".type device_runtime_aarch64_preserving_restore,%function",
    "device_runtime_aarch64_preserving_restore:",
    "ldp x0, x1, [sp, #0]",
    "ldp x2, x3, [sp, #16]",
    "ldp x4, x5, [sp, #32]",
    "ldp x6, x7, [sp, #48]",
    "ldp x8, x9, [sp, #64]",
    "ldp x10, x11, [sp, #80]",
    "ldp x12, x13, [sp, #96]",
    "ldp x14, x15, [sp, #112]",
    "ldp x16, x17, [sp, #128]",
    "ldr x18, [sp, #144]",
    "ldp q0, q1, [sp, #160]",
    "ldp q2, q3, [sp, #192]",
    "ldp q4, q5, [sp, #224]",
    "ldp q6, q7, [sp, #256]",
    "ldp q8, q9, [sp, #288]",
    "ldp q10, q11, [sp, #320]",
    "ldp q12, q13, [sp, #352]",
    "ldp q14, q15, [sp, #384]",
    "ldp q16, q17, [sp, #416]",
    "ldp q18, q19, [sp, #448]",
    "ldp q20, q21, [sp, #480]",
    "ldp q22, q23, [sp, #512]",
    "ldp q24, q25, [sp, #544]",
    "ldp q26, q27, [sp, #576]",
    "ldp q28, q29, [sp, #608]",
    "ldp q30, q31, [sp, #640]",
    "add sp, sp, #672",
    "ldp x29, x30, [sp], #16",
    "ret",
    ".size device_runtime_aarch64_preserving_restore, . - device_runtime_aarch64_preserving_restore",
    out_of_fuel = sym crate::vm::libcalls::out_of_fuel_or_trap,
    epoch_deadline = sym crate::vm::libcalls::epoch_deadline_or_trap,
);

unsafe extern "C" {
    /// `Libcall::OutOfFuelPreserving` (see the module documentation).
    #[link_name = "device_runtime_aarch64_out_of_fuel_preserving"]
    pub fn out_of_fuel_preserving(vmctx: *mut u8, cost: u32);
    /// `Libcall::EpochDeadlinePreserving` (see the module documentation).
    #[link_name = "device_runtime_aarch64_epoch_deadline_preserving"]
    pub fn epoch_deadline_preserving(vmctx: *mut u8);
}
