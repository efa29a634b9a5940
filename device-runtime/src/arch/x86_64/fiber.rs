//! x86_64 (System V) fiber switch.
//!
//! A switched-out context is a stack pointer: [`fiber_switch`] pushes the callee-saved
//! registers (rbp, rbx, r12-r15; the return address is already on the stack) onto the current
//! stack, stores rsp through `save_sp`, loads `load_sp`, pops the other context's registers and
//! returns into it with `value` in rax. Every other register is caller-saved in the System V
//! ABI, so the Rust or wasm code that called the switch does not expect it preserved. MXCSR and
//! the x87 control word are callee-saved too but are not switched: neither the runtime nor wasm
//! code ever changes them, so both contexts always hold the same values.
//!
//! Saved frame (from the saved sp up): r15, r14, r13, r12, rbx, rbp, return address.
//!
//! A new fiber's stack is prepared by [`fiber_init`] as if it had switched out right at the
//! start of `device_runtime_x86_64_fiber_start`: that frame's return address is the start
//! stub, rbx holds the entry function and r12 its argument, and the first switch into the
//! fiber "returns" into the stub, which calls `entry(arg, value)` with rsp 16-aligned at the
//! call. `entry` never returns.

core::arch::global_asm!(
    ".text",
    ".p2align 4",
    ".globl device_runtime_x86_64_fiber_switch",
    ".type device_runtime_x86_64_fiber_switch,@function",
    "device_runtime_x86_64_fiber_switch:",
    // rdi = save_sp, rsi = load_sp, rdx = value.
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "mov [rdi], rsp",
    "mov rsp, rsi",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "mov rax, rdx",
    "ret",
    ".size device_runtime_x86_64_fiber_switch, . - device_runtime_x86_64_fiber_switch",
    "",
    ".p2align 4",
    ".globl device_runtime_x86_64_fiber_start",
    ".type device_runtime_x86_64_fiber_start,@function",
    "device_runtime_x86_64_fiber_start:",
    // Entered by the `ret` of the first switch into the fiber: rax = value, rbx = entry,
    // r12 = arg, rsp 16-aligned.
    "mov rdi, r12",
    "mov rsi, rax",
    "call rbx",
    "ud2",
    ".size device_runtime_x86_64_fiber_start, . - device_runtime_x86_64_fiber_start",
);

unsafe extern "C" {
    fn device_runtime_x86_64_fiber_switch(
        save_sp: *mut *mut u8,
        load_sp: *mut u8,
        value: usize,
    ) -> usize;
    fn device_runtime_x86_64_fiber_start();
}

/// Bytes [`fiber_init`] uses below `top`.
pub const FIBER_INIT_BYTES: usize = 72;

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
    // A switched-out frame (module docs) plus two words above it, so that after the pops and
    // the `ret` into the stub rsp is `top - 16`: 16-aligned at the stub's `call`.
    let sp = top.wrapping_sub(FIBER_INIT_BYTES).cast::<usize>();
    let words: [usize; 9] = [
        0,                                                       // r15
        0,                                                       // r14
        0,                                                       // r13
        arg as usize,                                            // r12
        entry as usize,                                          // rbx
        0,                                                       // rbp: ends frame chains
        device_runtime_x86_64_fiber_start as *const () as usize, // return address
        0,
        0,
    ];
    for (i, w) in words.iter().enumerate() {
        // SAFETY: the `FIBER_INIT_BYTES` below `top` are writable fiber stack (caller's
        // contract).
        unsafe { sp.add(i).write(*w) };
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
    unsafe { device_runtime_x86_64_fiber_switch(save_sp, load_sp, value) }
}
