//! AArch64 (AAPCS64) fiber switch.
//!
//! A switched-out context is a stack pointer: [`fiber_switch`] stores the callee-saved
//! registers (x19-x28, the frame pointer x29, the link register x30 holding its return
//! address, and d8-d15, the low halves of v8-v15 that AAPCS64 6.1.2 makes callee-saved) in a
//! 160-byte frame on the current stack, stores sp through `save_sp`, loads `load_sp`, reloads
//! the other context's registers from its frame and returns to its x30 with `value` in x0.
//! Every other register is caller-saved, so the code that called the switch does not expect it
//! preserved. FPCR is not switched: neither the runtime nor wasm code changes it.
//!
//! Saved frame (bytes from the saved sp): 0..80 x19-x28, 80 x29, 88 x30, 96..160 d8-d15.
//! sp stays 16-aligned (the frame is 160 bytes).
//!
//! A new fiber's stack is prepared by [`fiber_init`] as a frame whose x30 is the start stub,
//! x19 the entry function and x20 its argument; the first switch into the fiber "returns"
//! into the stub, which calls `entry(arg, value)` with sp = top (16-aligned). `entry` never
//! returns.

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_aarch64_fiber_switch",
    ".type device_runtime_aarch64_fiber_switch,%function",
    "device_runtime_aarch64_fiber_switch:",
    // x0 = save_sp, x1 = load_sp, x2 = value.
    "sub sp, sp, #160",
    "stp x19, x20, [sp, #0]",
    "stp x21, x22, [sp, #16]",
    "stp x23, x24, [sp, #32]",
    "stp x25, x26, [sp, #48]",
    "stp x27, x28, [sp, #64]",
    "stp x29, x30, [sp, #80]",
    "stp d8, d9, [sp, #96]",
    "stp d10, d11, [sp, #112]",
    "stp d12, d13, [sp, #128]",
    "stp d14, d15, [sp, #144]",
    "mov x9, sp",
    "str x9, [x0]",
    "mov sp, x1",
    "ldp x19, x20, [sp, #0]",
    "ldp x21, x22, [sp, #16]",
    "ldp x23, x24, [sp, #32]",
    "ldp x25, x26, [sp, #48]",
    "ldp x27, x28, [sp, #64]",
    "ldp x29, x30, [sp, #80]",
    "ldp d8, d9, [sp, #96]",
    "ldp d10, d11, [sp, #112]",
    "ldp d12, d13, [sp, #128]",
    "ldp d14, d15, [sp, #144]",
    "add sp, sp, #160",
    "mov x0, x2",
    "ret",
    ".size device_runtime_aarch64_fiber_switch, . - device_runtime_aarch64_fiber_switch",
    "",
    ".p2align 4",
    ".globl device_runtime_aarch64_fiber_start",
    ".type device_runtime_aarch64_fiber_start,%function",
    "device_runtime_aarch64_fiber_start:",
    // Entered by the `ret` of the first switch into the fiber: x0 = value, x19 = entry,
    // x20 = arg, sp = top.
    "mov x1, x0",
    "mov x0, x20",
    "blr x19",
    "brk #0x1",
    ".size device_runtime_aarch64_fiber_start, . - device_runtime_aarch64_fiber_start",
);

unsafe extern "C" {
    fn device_runtime_aarch64_fiber_switch(
        save_sp: *mut *mut u8,
        load_sp: *mut u8,
        value: usize,
    ) -> usize;
    fn device_runtime_aarch64_fiber_start();
}

/// Bytes [`fiber_init`] uses below `top`.
pub const FIBER_INIT_BYTES: usize = 160;

/// Prepares a fiber stack whose highest usable address is `top` so that the first
/// [`fiber_switch`] to the returned stack pointer calls `entry(arg, value)` on it.
///
/// # Safety
/// `top` is 16-aligned and the [`FIBER_INIT_BYTES`] below it are writable and belong to the
/// fiber stack; `entry` never returns.
pub unsafe fn fiber_init(
    top: *mut u8,
    entry: unsafe extern "C" fn(*mut u8, usize) -> !,
    arg: *mut u8,
) -> *mut u8 {
    let sp = top.wrapping_sub(FIBER_INIT_BYTES).cast::<usize>();
    for i in 0..FIBER_INIT_BYTES / 8 {
        let w = match i {
            0 => entry as usize,                                            // x19
            1 => arg as usize,                                              // x20
            11 => device_runtime_aarch64_fiber_start as *const () as usize, // x30
            _ => 0, // x29 = 0 ends frame-record chains
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
    // this context across the switch, as a call would.
    unsafe { device_runtime_aarch64_fiber_switch(save_sp, load_sp, value) }
}
