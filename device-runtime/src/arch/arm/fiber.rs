//! 32-bit Arm (AAPCS32) fiber switch, Thumb code in the common subset of ARMv7-A and ARMv7-M
//! (like `entry`/`unwind` in the parent module), so it serves the A32 Linux runtime under
//! `qemu-arm` and Cortex-M firmware alike.
//!
//! A switched-out context is a stack pointer: [`fiber_switch`] pushes the callee-saved
//! registers (r4-r11, r9 included, lr holding its return address, and s16-s31, AAPCS32
//! 6.1.2.1's callee-saved d8-d15, on soft-float builds too: see [`FP_WORDS`]) onto the
//! current stack, stores sp through `save_sp`, loads `load_sp`, pops the other context's
//! registers and returns to its lr with `value` in r0. r3 is pushed only to keep the frame a
//! multiple of 8 bytes (sp stays 8-aligned, AAPCS32 6.2.1.2). Every other register is
//! caller-saved. FPSCR is not switched: neither the runtime nor wasm code changes its control
//! bits.
//!
//! Saved frame (words from the saved sp): 0..16 s16-s31, 16 r3, 17..25 r4-r11, 25 lr (104
//! bytes).
//!
//! A new fiber's stack is prepared by [`fiber_init`] as a frame whose lr is the start stub
//! (a Thumb code pointer, bit 0 set), r4 the entry function and r5 its argument; the first
//! switch into the fiber "returns" into the stub, which calls `entry(arg, value)` with `blx`
//! (interworking: the entry is A32 code on the Linux runtime, Thumb on Cortex-M) and sp = top,
//! 8-aligned. `entry` never returns.

/// Words of FP registers in a saved frame: s16-s31 on every build, soft-float ones included.
/// A soft-float runtime has no FP state of its own, but the wasm code on a suspended fiber does:
/// the Thumb-2 backend keeps f32 values and locals in s16-s29 across calls (its DESIGN.md,
/// section 3), and the code another fiber runs in the meantime may leave its own values there
/// when it suspends. Every Cortex-M profile the compiler targets has an FPU that its images
/// use, so the FPU is enabled wherever images run, and `vpush`/`vpop` are safe here.
const FP_WORDS: usize = 16;

core::arch::global_asm!(
    ".syntax unified",
    ".text",
    ".thumb",
    ".p2align 2",
    ".globl device_runtime_arm_fiber_switch",
    ".type device_runtime_arm_fiber_switch,%function",
    ".thumb_func",
    "device_runtime_arm_fiber_switch:",
    // r0 = save_sp, r1 = load_sp, r2 = value.
    "push {{r3-r11, lr}}",
    ".fpu fpv4-sp-d16",
    "vpush {{s16-s31}}",
    "mov ip, sp",
    "str ip, [r0]",
    "mov sp, r1",
    "vpop {{s16-s31}}",
    "pop {{r3-r11, lr}}",
    "mov r0, r2",
    "bx lr",
    ".size device_runtime_arm_fiber_switch, . - device_runtime_arm_fiber_switch",
    "",
    ".p2align 2",
    ".globl device_runtime_arm_fiber_start",
    ".type device_runtime_arm_fiber_start,%function",
    ".thumb_func",
    "device_runtime_arm_fiber_start:",
    // Entered by the `bx lr` of the first switch into the fiber: r0 = value, r4 = entry,
    // r5 = arg, sp = top.
    "mov r1, r0",
    "mov r0, r5",
    "blx r4",
    "udf #0",
    ".size device_runtime_arm_fiber_start, . - device_runtime_arm_fiber_start",
);

unsafe extern "C" {
    fn device_runtime_arm_fiber_switch(
        save_sp: *mut *mut u8,
        load_sp: *mut u8,
        value: usize,
    ) -> usize;
    fn device_runtime_arm_fiber_start();
}

/// Bytes [`fiber_init`] uses below `top`.
pub const FIBER_INIT_BYTES: usize = (FP_WORDS + 10) * 4;

/// Prepares a fiber stack whose highest usable address is `top` so that the first
/// [`fiber_switch`] to the returned stack pointer calls `entry(arg, value)` on it.
///
/// # Safety
/// `top` is 8-aligned and the [`FIBER_INIT_BYTES`] below it are writable and belong to the
/// fiber stack; `entry` never returns.
pub unsafe fn fiber_init(
    top: *mut u8,
    entry: unsafe extern "C" fn(*mut u8, usize) -> !,
    arg: *mut u8,
) -> *mut u8 {
    let sp = top.wrapping_sub(FIBER_INIT_BYTES).cast::<usize>();
    for i in 0..FIBER_INIT_BYTES / 4 {
        let w = if i < FP_WORDS {
            0 // s16-s31
        } else {
            match i - FP_WORDS {
                1 => entry as usize,                                       // r4
                2 => arg as usize,                                         // r5
                9 => device_runtime_arm_fiber_start as *const () as usize, // lr (bit 0 set)
                _ => 0, // r3, r6-r11 (r7 = 0 ends frame chains)
            }
        };
        // SAFETY: the `FIBER_INIT_BYTES` below `top` are writable fiber stack (caller's
        // contract).
        unsafe { sp.add(i).write(w) };
    }
    sp.cast::<u8>()
}

/// Saves the current context (callee-saved registers and stack pointer) through `save_sp` and
/// resumes the one saved at `load_sp`, where the matching `fiber_switch` (or the fiber's
/// start) returns `value`. Returns when some context switches back to the one saved here.
///
/// # Safety
/// `load_sp` is a stack pointer saved by `fiber_switch` (or prepared by [`fiber_init`]) whose
/// context has not been resumed since, on a stack that is still allocated; `save_sp` is
/// writable. The caller keeps the runtime's bookkeeping (activation, stack limit) right for
/// the context it resumes.
pub unsafe fn fiber_switch(save_sp: *mut *mut u8, load_sp: *mut u8, value: usize) -> usize {
    // SAFETY: guaranteed by the caller; the assembly preserves every callee-saved register of
    // this context across the switch, as a call would, and switches between Thumb code only
    // (`bx lr` interworks back into A32 callers).
    unsafe { device_runtime_arm_fiber_switch(save_sp, load_sp, value) }
}
