//! x86_64 (System V) entry and unwind, for host simulation.
//!
//! `JmpBuf` layout (bytes): 0 rbx, 8 rbp, 16 r12, 24 r13, 32 r14, 40 r15, 48 rsp after return,
//! 56 return address.

/// The SHA-256 block function for image verification (portable on this architecture).
pub use shared_types::header::compress_portable as sha256_compress;

use crate::vm::ValRaw;

mod fiber;
pub use self::fiber::{FIBER_INIT_BYTES, fiber_init, fiber_switch};

mod preserving;
pub use self::preserving::{epoch_deadline_preserving, out_of_fuel_preserving};

/// The target whose images this runtime executes.
pub const NATIVE_TARGET: Option<shared_types::Target> = Some(shared_types::Target::X86_64Sim);

/// Whether [`entry`] can run code on this architecture.
pub const CAN_ENTER: bool = true;

/// Status never produced on this architecture (entry is supported).
pub const UNSUPPORTED_STATUS: u32 = u32::MAX;

/// Code pointers are plain addresses on this architecture.
pub const CODE_POINTER_TAG: usize = 0;

/// What this runtime runs: its own target.
pub fn detected_core() -> crate::image::targets::Detected {
    crate::image::targets::Detected::Core(shared_types::Target::X86_64Sim)
}

/// Saved context of one host-to-wasm entry.
#[repr(C)]
#[derive(Debug, Default)]
pub struct JmpBuf {
    regs: [usize; 8],
}

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_x86_64_entry",
    ".type device_runtime_x86_64_entry,@function",
    "device_runtime_x86_64_entry:",
    // rdi = jmpbuf, rsi = array_call, rdx = callee_vmctx, rcx = caller_vmctx, r8 = values,
    // r9 = count.
    "mov [rdi], rbx",
    "mov [rdi + 8], rbp",
    "mov [rdi + 16], r12",
    "mov [rdi + 24], r13",
    "mov [rdi + 32], r14",
    "mov [rdi + 40], r15",
    "lea rax, [rsp + 8]",
    "mov [rdi + 48], rax",
    "mov rax, [rsp]",
    "mov [rdi + 56], rax",
    // A frame of our own keeps the stack 16-aligned at the call.
    "push rbp",
    "mov rbp, rsp",
    "mov rax, rsi",
    "mov rdi, rdx",
    "mov rsi, rcx",
    "mov rdx, r8",
    "mov rcx, r9",
    "call rax",
    "pop rbp",
    "ret",
    ".size device_runtime_x86_64_entry, . - device_runtime_x86_64_entry",
    "",
    ".p2align 4",
    ".globl device_runtime_x86_64_unwind",
    ".type device_runtime_x86_64_unwind,@function",
    "device_runtime_x86_64_unwind:",
    // rdi = jmpbuf, esi = status (non-zero).
    "mov rbx, [rdi]",
    "mov rbp, [rdi + 8]",
    "mov r12, [rdi + 16]",
    "mov r13, [rdi + 24]",
    "mov r14, [rdi + 32]",
    "mov r15, [rdi + 40]",
    "mov rsp, [rdi + 48]",
    "mov eax, esi",
    "jmp qword ptr [rdi + 56]",
    ".size device_runtime_x86_64_unwind, . - device_runtime_x86_64_unwind",
);

unsafe extern "C" {
    fn device_runtime_x86_64_entry(
        jmpbuf: *mut JmpBuf,
        array_call: usize,
        callee_vmctx: *mut u8,
        caller_vmctx: *mut u8,
        values: *mut ValRaw,
        count: usize,
    ) -> u32;
    fn device_runtime_x86_64_unwind(jmpbuf: *const JmpBuf, status: u32) -> !;
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
    // SAFETY: the caller upholds the contract of the array convention; the assembly saves
    // every callee-saved register before the call and restores the stack on return.
    unsafe {
        device_runtime_x86_64_entry(
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
    device_runtime_x86_64_unwind as *const () as usize
}

/// Returns from the [`entry`] that filled `jmpbuf` with `status`.
///
/// # Safety
/// `jmpbuf` was filled by an `entry` that has not returned yet, called on this thread, and
/// every frame above it may be discarded without running code (wasm frames and helpers that
/// own nothing).
pub unsafe fn unwind(jmpbuf: *const JmpBuf, status: u32) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { device_runtime_x86_64_unwind(jmpbuf, status) }
}

/// x86 keeps instruction and data caches coherent.
///
/// # Safety
/// None.
pub unsafe fn sync_icache(_start: *const u8, _len: usize) {}

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
        unsafe { (*uc).uc_mcontext.gregs[libc::REG_RIP as usize] as usize }
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
            let g = &mut (*uc).uc_mcontext.gregs;
            g[libc::REG_RDI as usize] = jmpbuf as i64;
            g[libc::REG_RSI as usize] = status as i64;
            g[libc::REG_RIP as usize] =
                super::device_runtime_x86_64_unwind as *const () as usize as i64;
        }
    }
}
