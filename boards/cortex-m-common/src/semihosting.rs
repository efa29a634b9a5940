//! Arm semihosting (`bkpt 0xab` on M-profile), for the exit status.
//!
//! QEMU needs `-semihosting-config enable=on,target=native`; it then ends with the status
//! given to [`exit`]. Without a debugger or semihosting the `bkpt` would escalate to a
//! HardFault (M-profile has no halting debug here), so firmware that must run without it
//! should not call [`exit`].

/// `SYS_EXIT_EXTENDED`: exit with a reason and a subcode (the status) in a parameter block.
const SYS_EXIT_EXTENDED: u32 = 0x20;
/// `ADP_Stopped_ApplicationExit`: a normal exit; the subcode is the exit status.
const ADP_STOPPED_APPLICATION_EXIT: u32 = 0x2_0026;

/// The semihosting call, the only unsafe part.
mod call {
    /// Performs semihosting operation `operation` with parameter `parameter` (a pointer to
    /// its parameter block).
    ///
    /// # Safety
    /// `parameter` points to a parameter block valid for `operation` that lives across the
    /// call.
    pub unsafe fn semihosting(operation: u32, parameter: *const u32) -> u32 {
        // SAFETY: guaranteed by the caller; `bkpt 0xab` reads the block and writes only r0.
        unsafe { cortex_m::asm::semihosting_syscall(operation, parameter as u32) }
    }
}

/// Ends the emulation with `status` as QEMU's exit status.
pub fn exit(status: u32) -> ! {
    let block: [u32; 2] = [ADP_STOPPED_APPLICATION_EXIT, status];
    // SAFETY: SYS_EXIT_EXTENDED reads the two words of `block`, which live across the call.
    unsafe { call::semihosting(SYS_EXIT_EXTENDED, block.as_ptr()) };
    // Without semihosting the call returns (or faults): halt here.
    loop {
        cortex_m::asm::wfi();
    }
}
