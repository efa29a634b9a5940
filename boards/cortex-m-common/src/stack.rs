//! Runs the program on its own stack, the process stack (`PSP`), leaving the main stack
//! (`MSP`, where `cortex-m-rt` starts) to the exception handlers.
//!
//! Why: a board protects the lowest bytes of the program stack with an MPU guard region, so a
//! stack overflow faults. If handlers used the same stack, the core could not even stack the
//! exception frame for that fault (a lockup); with separate stacks the MemManage fault is taken
//! on the main stack and reported.

/// The stack switch, the only unsafe part.
mod switch {
    /// Sets `PSP` to `top` (its register is then reused for `CONTROL`), selects it for thread mode (`CONTROL.SPSEL`), and calls `program`
    /// on it; `program` never returns.
    ///
    /// # Safety
    /// `[.., top)` is memory reserved for this stack alone, `top` 8-aligned, and nothing of
    /// the current stack is used after the switch (the caller never resumes).
    pub unsafe fn run_on_process_stack(top: usize, program: extern "C" fn() -> !) -> ! {
        // SAFETY: guaranteed by the caller; the `isb` makes the new stack pointer selection
        // take effect before the call, which is the last instruction executed on MSP in
        // thread mode.
        unsafe {
            core::arch::asm!(
                "msr psp, {top}",
                "mrs {top}, control",
                "orr {top}, {top}, #2",
                "msr control, {top}",
                "isb",
                "blx {program}",
                "udf #0",
                top = in(reg) top,
                program = in(reg) program,
                options(noreturn),
            )
        }
    }
}

/// Runs `program` on the stack ending at `top` (see the module documentation).
///
/// # Safety
/// `[.., top)` is memory reserved for the program stack alone (large enough for the program,
/// its lowest bytes guarded if at all), `top` is 8-aligned, and this is called once, from
/// thread mode on the main stack.
pub unsafe fn run_on_process_stack(top: usize, program: extern "C" fn() -> !) -> ! {
    // SAFETY: forwarded.
    unsafe { switch::run_on_process_stack(top, program) }
}
