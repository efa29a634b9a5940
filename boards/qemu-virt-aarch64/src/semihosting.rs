//! Arm semihosting (`HLT #0xF000` on AArch64), used for the exit status.
//!
//! QEMU needs `-semihosting`; it then ends with the status given to [`exit`].

const SYS_EXIT: u32 = 0x18;
const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x2_0026;

/// Ends the emulation with `status` as QEMU's exit status.
pub fn exit(status: u32) -> ! {
    // AArch64 SYS_EXIT takes a two-word parameter block: reason, subcode (the status).
    let block: [u64; 2] = [ADP_STOPPED_APPLICATION_EXIT, status as u64];
    // SAFETY: the semihosting call reads the two words of `block`, which live across the
    // instruction; w0 and x1 are its only inputs and it writes x0.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            inout("x0") SYS_EXIT as u64 => _,
            in("x1") block.as_ptr(),
            options(nostack, readonly),
        );
    }
    // Without semihosting the call does nothing (or faults): halt here.
    loop {
        // SAFETY: wait-for-event has no effect on memory.
        unsafe { core::arch::asm!("wfe", options(nomem, nostack)) };
    }
}
