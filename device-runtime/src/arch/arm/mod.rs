//! 32-bit Arm (AAPCS32): entry into and unwinding out of Thumb-2 images, code pointers with
//! the Thumb bit, instruction-cache synchronisation, and which Cortex-M profiles this core runs
//! ([`cpu`]).
//!
//! Built for `target_arch = "arm"`: hosted on 32-bit Arm Linux (`armv7-unknown-linux-gnueabihf`,
//! whose Rust code is A32, under `qemu-arm` in CI) and bare metal (`thumbv7em-none-eabihf`,
//! `thumbv8m.main-none-eabihf`). Images always hold Thumb code (every Cortex-M profile is
//! Thumb-only). The two routines below are Thumb code too, written in the common subset of
//! ARMv7-A and ARMv7-M, so one source serves both; the linker turns the runtime's `bl` to them
//! into `blx` where the runtime is A32, and `blx`/`bx`/`pop {pc}` interwork on every core that
//! runs this (ARMv7 and later).
//!
//! # `JmpBuf` layout (bytes)
//!
//! ```text
//!  0..32   r4-r11      (AAPCS32 5.1.1: callee-saved; r9 included, the platform register is
//!                       callee-saved in every Rust target's variant)
//! 32       sp          at the call of `entry` (the caller's stack arguments start there)
//! 36       lr          return address into `entry`'s caller (bit 0 = its instruction set)
//! 40..104  s16-s31     (AAPCS32 6.1.2.1: callee-saved d8-d15)
//! ```
//!
//! Soft-float builds (`*-eabi`) save the FP registers too. The runtime has no FP state of its
//! own there, but wasm code that called the host may: the Thumb-2 backend keeps f32 values and
//! locals in s16-s29 across calls, and when the host function's own call into wasm traps, the
//! unwind skips the epilogues that would have restored them. Every Cortex-M profile the
//! compiler targets has an FPU its images use, so the FPU is enabled wherever images run.
//! `FPSCR` is not saved: wasm code never changes its control bits.
//!
//! # Code pointers
//!
//! Every code pointer the runtime forms into image text has bit 0 set ([`CODE_POINTER_TAG`],
//! applied only by [`super::code_pointer`]): `blx rm` takes the instruction set from bit 0 and
//! would switch to A32 (or, on M-profile, fault with INVSTATE) without it. Trap-table lookups
//! compare addresses without it ([`super::instruction_address`]).

pub mod cpu;

pub use self::cpu::detected_core;

/// The SHA-256 block function for image verification (portable on this architecture).
pub use shared_types::header::compress_portable as sha256_compress;

use crate::vm::ValRaw;

mod fiber;
pub use self::fiber::{FIBER_INIT_BYTES, fiber_init, fiber_switch};

/// No single target is fixed at compile time on 32-bit Arm: the Cortex-M profiles this core
/// runs are decided at load time ([`cpu::detected_core`] and `EngineConfig::core`).
pub const NATIVE_TARGET: Option<shared_types::Target> = None;

/// Whether [`entry`] can run code on this architecture.
pub const CAN_ENTER: bool = true;

/// Status never produced on this architecture (entry is supported).
pub const UNSUPPORTED_STATUS: u32 = u32::MAX;

/// Bit 0 of every code pointer into image text: Thumb state.
pub const CODE_POINTER_TAG: usize = 1;

/// Words in a [`JmpBuf`]: r4-r11, sp, lr, and s16-s31.
const JMPBUF_WORDS: usize = 26;

/// Saved context of one host-to-wasm entry (layout in the module documentation).
#[repr(C, align(8))]
#[derive(Debug)]
pub struct JmpBuf {
    regs: [usize; JMPBUF_WORDS],
}

impl Default for JmpBuf {
    fn default() -> Self {
        JmpBuf {
            regs: [0; JMPBUF_WORDS],
        }
    }
}

// The FP save and restore (on every build: see the module documentation). `vstmia`/`vldmia`
// of single registers exist on every VFP (FPv4-SP included), so no double-precision FPU is
// assumed.
// `.fpu fpv4-sp-d16` names the smallest such FPU for the assembler: module-level `global_asm!`
// does not always see the crate's target features (with LTO it is assembled with the link's
// default features, which have no FP registers).
macro_rules! save_fp {
    () => {
        ".fpu fpv4-sp-d16\n add.w ip, r0, #40\n vstmia ip, {{s16-s31}}"
    };
}
macro_rules! restore_fp {
    () => {
        ".fpu fpv4-sp-d16\n add.w ip, r0, #40\n vldmia ip, {{s16-s31}}"
    };
}

core::arch::global_asm!(
    ".syntax unified",
    ".text",
    ".thumb",
    ".p2align 2",
    ".globl device_runtime_arm_entry",
    ".type device_runtime_arm_entry,%function",
    ".thumb_func",
    "device_runtime_arm_entry:",
    // r0 = jmpbuf, r1 = array_call (Thumb code pointer, bit 0 set), r2 = callee_vmctx,
    // r3 = caller_vmctx, [sp] = values, [sp + 4] = count. sp is 8-aligned (AAPCS32 6.2.1.2).
    "stmia r0, {{r4-r11}}",
    "str sp, [r0, #32]",
    "str lr, [r0, #36]",
    save_fp!(),
    // r4 keeps the 8-byte alignment of sp at the call; lr comes back as our return address.
    "push {{r4, lr}}",
    "mov ip, r1",
    "mov r0, r2",
    "mov r1, r3",
    "ldr r2, [sp, #8]",
    "ldr r3, [sp, #12]",
    "blx ip",
    "pop {{r4, pc}}",
    ".size device_runtime_arm_entry, . - device_runtime_arm_entry",
    "",
    ".p2align 2",
    ".globl device_runtime_arm_unwind",
    ".type device_runtime_arm_unwind,%function",
    ".thumb_func",
    "device_runtime_arm_unwind:",
    // r0 = jmpbuf, r1 = status (non-zero). Restores what `entry` saved and returns from that
    // `entry` to its caller with r0 = status.
    restore_fp!(),
    "ldr sp, [r0, #32]",
    "ldr lr, [r0, #36]",
    "ldmia r0, {{r4-r11}}",
    "mov r0, r1",
    "bx lr",
    ".size device_runtime_arm_unwind, . - device_runtime_arm_unwind",
);

unsafe extern "C" {
    fn device_runtime_arm_entry(
        jmpbuf: *mut JmpBuf,
        array_call: usize,
        callee_vmctx: *mut u8,
        caller_vmctx: *mut u8,
        values: *mut ValRaw,
        count: usize,
    ) -> u32;
    fn device_runtime_arm_unwind(jmpbuf: *const JmpBuf, status: u32) -> !;
}

/// Saves the context into `jmpbuf` and calls `array_call(callee_vmctx, caller_vmctx, values,
/// count)` with `blx`; returns its status, or the status passed to [`unwind`] with this
/// `jmpbuf`.
///
/// # Safety
/// `array_call` is a code pointer (Thumb code with bit 0 set, or a Rust function) with the
/// array calling convention that may use `values[0..count]`; `jmpbuf` stays valid and in place
/// until this function returns.
pub unsafe fn entry(
    jmpbuf: *mut JmpBuf,
    array_call: usize,
    callee_vmctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut ValRaw,
    count: usize,
) -> u32 {
    // SAFETY: the caller upholds the array convention; the assembly saves every callee-saved
    // register (r4-r11, sp, lr, s16-s31 on hard-float builds) before the call, which is an
    // interworking `blx` so the callee's instruction set comes from bit 0 of `array_call`.
    unsafe {
        device_runtime_arm_entry(
            jmpbuf,
            array_call,
            callee_vmctx,
            caller_vmctx,
            values,
            count,
        )
    }
}

/// Address of the unwind routine, a Thumb code pointer (bit 0 set), for fault handlers that
/// redirect an interrupted context: a handler resumes at `address & !1` in Thumb state
/// ([`fault::FaultRedirect`](crate::fault::FaultRedirect) documents this).
pub fn unwind_address() -> usize {
    device_runtime_arm_unwind as *const () as usize
}

/// Returns from the [`entry`] that filled `jmpbuf` with `status`.
///
/// # Safety
/// `jmpbuf` was filled by an `entry` that has not returned yet, on this thread, and every frame
/// above it may be discarded without running code.
pub unsafe fn unwind(jmpbuf: *const JmpBuf, status: u32) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { device_runtime_arm_unwind(jmpbuf, status) }
}

/// Makes instruction fetch see the bytes just written to `[start, start + len)`.
///
/// * Linux: the ARM private `cacheflush(start, end, 0)` system call (`__ARM_NR_cacheflush`),
///   the only way user mode can clean the data cache and invalidate the instruction cache by
///   address on 32-bit Arm; it also synchronises the instruction stream of this thread.
/// * Bare metal: `dsb` then `isb`, which order the copy before any later instruction fetch.
///   That is all a core without caches needs (Cortex-M4, M33 and M55 without caches in front of
///   the code memory). **A core with caches (Cortex-M7, an M55 with its optional caches) needs
///   the board's `Platform::code_publish` to clean the data cache and invalidate the
///   instruction cache over the range (SCB `DCCMVAC`/`ICIMVAU`, or `ICIALLU`) before calling
///   this**: the runtime does not know the board's cache configuration.
///
/// # Safety
/// The range is mapped and readable.
pub unsafe fn sync_icache(start: *const u8, len: usize) {
    #[cfg(target_os = "linux")]
    {
        const ARM_NR_CACHEFLUSH: usize = 0x000f_0002;
        let end = (start as usize).saturating_add(len);
        // SAFETY: `cacheflush` only performs cache maintenance on the caller's mapped range
        // (guaranteed by the caller) and returns an error for anything else. r7 carries the
        // system call number; it is the frame pointer in Thumb code, so it is saved and
        // restored around the call instead of being named as an operand. The push and pop
        // touch only our own stack below sp.
        unsafe {
            core::arch::asm!(
                "push {{r7}}",
                "mov r7, {nr}",
                "svc #0",
                "pop {{r7}}",
                nr = in(reg) ARM_NR_CACHEFLUSH,
                inlateout("r0") start as usize => _,
                in("r1") end,
                in("r2") 0usize,
            )
        };
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = (start, len);
        // SAFETY: barriers only; no memory or register is changed.
        unsafe { core::arch::asm!("dsb", "isb", options(nostack, preserves_flags)) };
    }
}

/// Decodes a Thumb `udf` from the halfwords at an instruction address: `udf #imm8` (T1,
/// `0xDExx`) or `udf.w #imm16` (T2, `0xF7Fx 0xAxxx`). Returns the immediate; `None` for any
/// other instruction.
pub fn decode_udf(first: u16, second: u16) -> Option<u16> {
    if first & 0xff00 == 0xde00 {
        return Some(first & 0x00ff);
    }
    if first & 0xfff0 == 0xf7f0 && second & 0xf000 == 0xa000 {
        return Some(((first & 0xf) << 12) | (second & 0x0fff));
    }
    None
}

/// The trap code a `udf` immediate stands for: compile-time traps are `udf #(0x80 + code)`
/// (Thumb backend design, section 7). `None` for immediates below 0x80 (reserved: Linux gives
/// `udf #1` a meaning) or beyond the trap codes.
pub fn udf_trap_code(imm: u16) -> Option<shared_types::TrapCode> {
    let code = imm.checked_sub(0x80)?;
    shared_types::TrapCode::from_u8(u8::try_from(code).ok()?)
}

/// Whether the instruction at `pc` is a Thumb `udf` whose immediate encodes `code`
/// ([`udf_trap_code`]). Bit 0 of `pc` is ignored.
///
/// # Safety
/// `pc` lies in readable text (code memory is mapped read-execute; in-place text is part of
/// the image): the 2 bytes at it, and the 2 after them when they start a 32-bit encoding
/// (functions hold whole instructions, so those lie in the text too).
pub unsafe fn udf_encodes(pc: usize, code: shared_types::TrapCode) -> bool {
    let at = pc & !CODE_POINTER_TAG;
    // SAFETY: `at` is 2-aligned (Thumb instructions are) and readable (guaranteed by the
    // caller).
    let first = unsafe { (at as *const u16).read_volatile() };
    let second = if first & 0xf800 >= 0xe800 {
        // SAFETY: the second halfword of the same 32-bit instruction, as above.
        unsafe { ((at + 2) as *const u16).read_volatile() }
    } else {
        0
    };
    decode_udf(first, second).and_then(udf_trap_code) == Some(code)
}

/// Signal-context access for the hosted fault handler (32-bit Arm Linux `ucontext_t`).
#[cfg(all(feature = "hosted", target_os = "linux"))]
pub mod signal {
    use super::JmpBuf;

    /// CPSR bit 5: Thumb state.
    const CPSR_T: libc::c_ulong = 1 << 5;
    /// CPSR IT[7:2] (bits 15:10) and IT[1:0] (bits 26:25): the IT-block state.
    const CPSR_IT: libc::c_ulong = (0x3f << 10) | (0x3 << 25);

    /// The program counter at the fault (the faulting instruction's address; bit 0 clear).
    ///
    /// # Safety
    /// `uc` is the `ucontext_t` the kernel passed to an `SA_SIGINFO` handler.
    pub unsafe fn pc(uc: *mut libc::c_void) -> usize {
        let uc = uc.cast::<libc::ucontext_t>();
        // SAFETY: guaranteed by the caller.
        unsafe { (*uc).uc_mcontext.arm_pc as usize }
    }

    /// Whether the fault really is the trap the trap table lists at `pc`. For `SIGILL` the
    /// instruction must be a Thumb `udf` whose immediate encodes `code`
    /// ([`super::udf_trap_code`]): a listed site holding anything else, or a `udf` of another
    /// code, is a broken image and is reported rather than turned into a trap. Faults on memory
    /// (`SIGSEGV`, `SIGBUS`) at a listed site are the access the table lists.
    ///
    /// # Safety
    /// As for [`pc`]; `pc` lies in registered wasm text (readable: code memory is mapped
    /// read-execute, and in-place text is part of the image), at least 2 bytes before its end.
    pub unsafe fn confirms_trap(
        uc: *mut libc::c_void,
        sig: libc::c_int,
        pc: usize,
        code: shared_types::TrapCode,
    ) -> bool {
        let uc = uc.cast::<libc::ucontext_t>();
        // SAFETY: guaranteed by the caller.
        let thumb = unsafe { (*uc).uc_mcontext.arm_cpsr } & CPSR_T != 0;
        if sig != libc::SIGILL {
            return sig == libc::SIGSEGV || sig == libc::SIGBUS;
        }
        // SAFETY: `pc` is in readable registered text (guaranteed by the caller).
        thumb && unsafe { super::udf_encodes(pc, code) }
    }

    /// Makes the interrupted context continue in `unwind(jmpbuf, status)` when the handler
    /// returns: r0/r1 are the arguments, the PC is the routine's address without bit 0, CPSR's
    /// T bit is bit 0 of that address and the IT state is cleared (a `udf` inside an IT block
    /// must not make the first instructions of the unwind routine conditional).
    ///
    /// # Safety
    /// As for [`pc`]; `jmpbuf` satisfies the contract of [`super::unwind`].
    pub unsafe fn redirect_to_unwind(uc: *mut libc::c_void, jmpbuf: *const JmpBuf, status: u32) {
        let uc = uc.cast::<libc::ucontext_t>();
        let target = super::unwind_address();
        // SAFETY: guaranteed by the caller; the registers are plain integers in the context,
        // which the kernel (or qemu-arm) validates and restores at `sigreturn`.
        unsafe {
            let m = &mut (*uc).uc_mcontext;
            m.arm_r0 = jmpbuf as libc::c_ulong;
            m.arm_r1 = status as libc::c_ulong;
            m.arm_pc = (target & !super::CODE_POINTER_TAG) as libc::c_ulong;
            let mut cpsr = m.arm_cpsr & !(CPSR_IT | CPSR_T);
            if target & super::CODE_POINTER_TAG != 0 {
                cpsr |= CPSR_T;
            }
            m.arm_cpsr = cpsr;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::TrapCode;

    #[test]
    fn udf_encodings_decode() {
        // Encodings from `arm-none-eabi-as -mthumb -march=armv7e-m`:
        // udf #0x80 = de80, udf #0xff = deff, udf.w #0x1234 = f7f1 a234, udf.w #0x85 = f7f0 a085.
        assert_eq!(decode_udf(0xde80, 0), Some(0x80));
        assert_eq!(decode_udf(0xdeff, 0), Some(0xff));
        assert_eq!(decode_udf(0xf7f1, 0xa234), Some(0x1234));
        assert_eq!(decode_udf(0xf7f0, 0xa085), Some(0x85));
        // Not udf: svc #0x80 (df80), bl (f000 f800), nop (bf00).
        assert_eq!(decode_udf(0xdf80, 0), None);
        assert_eq!(decode_udf(0xf000, 0xf800), None);
        assert_eq!(decode_udf(0xbf00, 0), None);
    }

    #[test]
    fn udf_immediates_map_to_trap_codes() {
        for code in 0..=255u8 {
            let Some(trap) = TrapCode::from_u8(code) else {
                continue;
            };
            assert_eq!(udf_trap_code(0x80 + code as u16), Some(trap));
        }
        assert_eq!(udf_trap_code(0x01), None);
        assert_eq!(udf_trap_code(0x7f), None);
        assert_eq!(udf_trap_code(0x80 + 0x100), None);
    }

    #[test]
    fn routines_are_thumb_code_pointers() {
        assert_eq!(unwind_address() & 1, 1);
        assert_eq!(
            device_runtime_arm_entry as *const () as usize & 1,
            1,
            "entry is Thumb code"
        );
    }
}
