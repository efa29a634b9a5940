//! The register-preserving libcall stubs (`Libcall::OutOfFuelPreserving`,
//! `Libcall::EpochDeadlinePreserving`): Cranelift calls them with `CallConv::PreserveAll`, so
//! they must hand back every register as they found it. Each saves what the System V ABI lets
//! a callee clobber (rax, rcx, rdx, rsi, rdi, r8-r11 and all of xmm0-xmm15) in a frame on the
//! current stack, calls the C helper (`vm::libcalls::*_or_trap`, arguments still in rdi/esi)
//! and restores them. The flags are not preserved: Cranelift never keeps them live across a
//! call.
//!
//! The saved registers live in the stub's frame on the wasm stack (the main stack or a
//! fiber's): when the helper suspends the fiber (yield policy) that stack is left untouched
//! until the helper returns into the stub on it; when the helper traps, the frame is discarded
//! with the wasm frames above the entry and owns nothing.
//!
//! Frame below the saved rbp: the nine GPRs at rbp - 80..rbp, xmm0-xmm15 at rbp - 352..rbp - 96
//! (= rsp + 0..256 at the call of the helper). 368 bytes in all with rbp and the return address,
//! within the host reserve below the stack limit.

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_x86_64_out_of_fuel_preserving",
    ".type device_runtime_x86_64_out_of_fuel_preserving,@function",
    "device_runtime_x86_64_out_of_fuel_preserving:",
    "push rbp",
    "mov rbp, rsp",
    "call device_runtime_x86_64_preserving_save",
    "call {out_of_fuel}",
    "jmp device_runtime_x86_64_preserving_restore",
    ".size device_runtime_x86_64_out_of_fuel_preserving, . - device_runtime_x86_64_out_of_fuel_preserving",
    "",
    ".p2align 4",
    ".globl device_runtime_x86_64_epoch_deadline_preserving",
    ".type device_runtime_x86_64_epoch_deadline_preserving,@function",
    "device_runtime_x86_64_epoch_deadline_preserving:",
    "push rbp",
    "mov rbp, rsp",
    "call device_runtime_x86_64_preserving_save",
    "call {epoch_deadline}",
    "jmp device_runtime_x86_64_preserving_restore",
    ".size device_runtime_x86_64_epoch_deadline_preserving, . - device_runtime_x86_64_epoch_deadline_preserving",
    "",
    // Stores the GPRs at rbp - 80..rbp (rax at rbp - 80, its return address taken off the
    // stack first) and the vector registers at rbp - 352..rbp - 96, then returns with
    // rsp = rbp - 352, 16-aligned for the call (rbp is: the stub's caller called it with
    // rsp 16-aligned). On entry rsp = rbp - 8; the stores below rsp stay within the red zone.
    ".p2align 4",
    ".type device_runtime_x86_64_preserving_save,@function",
    "device_runtime_x86_64_preserving_save:",
    "mov [rbp - 80], rax",
    "pop rax",
    "mov [rbp - 8], rcx",
    "mov [rbp - 16], rdx",
    "mov [rbp - 24], rsi",
    "mov [rbp - 32], rdi",
    "mov [rbp - 40], r8",
    "mov [rbp - 48], r9",
    "mov [rbp - 56], r10",
    "mov [rbp - 64], r11",
    "lea rsp, [rbp - 352]",
    "movdqu [rsp + 0], xmm0",
    "movdqu [rsp + 16], xmm1",
    "movdqu [rsp + 32], xmm2",
    "movdqu [rsp + 48], xmm3",
    "movdqu [rsp + 64], xmm4",
    "movdqu [rsp + 80], xmm5",
    "movdqu [rsp + 96], xmm6",
    "movdqu [rsp + 112], xmm7",
    "movdqu [rsp + 128], xmm8",
    "movdqu [rsp + 144], xmm9",
    "movdqu [rsp + 160], xmm10",
    "movdqu [rsp + 176], xmm11",
    "movdqu [rsp + 192], xmm12",
    "movdqu [rsp + 208], xmm13",
    "movdqu [rsp + 224], xmm14",
    "movdqu [rsp + 240], xmm15",
    "push rax",
    "mov rax, [rbp - 80]",
    "ret",
    ".size device_runtime_x86_64_preserving_save, . - device_runtime_x86_64_preserving_save",
    "",
    ".p2align 4",
    ".type device_runtime_x86_64_preserving_restore,@function",
    "device_runtime_x86_64_preserving_restore:",
    "movdqu xmm0, [rsp + 0]",
    "movdqu xmm1, [rsp + 16]",
    "movdqu xmm2, [rsp + 32]",
    "movdqu xmm3, [rsp + 48]",
    "movdqu xmm4, [rsp + 64]",
    "movdqu xmm5, [rsp + 80]",
    "movdqu xmm6, [rsp + 96]",
    "movdqu xmm7, [rsp + 112]",
    "movdqu xmm8, [rsp + 128]",
    "movdqu xmm9, [rsp + 144]",
    "movdqu xmm10, [rsp + 160]",
    "movdqu xmm11, [rsp + 176]",
    "movdqu xmm12, [rsp + 192]",
    "movdqu xmm13, [rsp + 208]",
    "movdqu xmm14, [rsp + 224]",
    "movdqu xmm15, [rsp + 240]",
    "mov rcx, [rbp - 8]",
    "mov rdx, [rbp - 16]",
    "mov rsi, [rbp - 24]",
    "mov rdi, [rbp - 32]",
    "mov r8, [rbp - 40]",
    "mov r9, [rbp - 48]",
    "mov r10, [rbp - 56]",
    "mov r11, [rbp - 64]",
    "mov rax, [rbp - 80]",
    "mov rsp, rbp",
    "pop rbp",
    "ret",
    ".size device_runtime_x86_64_preserving_restore, . - device_runtime_x86_64_preserving_restore",
    out_of_fuel = sym crate::vm::libcalls::out_of_fuel_or_trap,
    epoch_deadline = sym crate::vm::libcalls::epoch_deadline_or_trap,
);

unsafe extern "C" {
    /// `Libcall::OutOfFuelPreserving` (see the module documentation).
    #[link_name = "device_runtime_x86_64_out_of_fuel_preserving"]
    pub fn out_of_fuel_preserving(vmctx: *mut u8, cost: u32);
    /// `Libcall::EpochDeadlinePreserving` (see the module documentation).
    #[link_name = "device_runtime_x86_64_epoch_deadline_preserving"]
    pub fn epoch_deadline_preserving(vmctx: *mut u8);
}
