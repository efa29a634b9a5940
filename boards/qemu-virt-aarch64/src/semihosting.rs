//! Arm semihosting (`HLT #0xF000` on AArch64), used for the exit status and the command line.
//!
//! QEMU needs `-semihosting`; it then ends with the status given to [`exit`], and
//! [`command_line`] returns the arguments of `-semihosting-config enable=on,arg=A,arg=B`.

const SYS_EXIT: u32 = 0x18;
const SYS_GET_CMDLINE: u64 = 0x15;

/// The command line the debugger (QEMU) gives the program, as UTF-8 in `buffer`: QEMU joins
/// the `arg=` values of `-semihosting-config` with spaces. `None` if the call fails or the
/// text is not UTF-8.
pub fn command_line(buffer: &mut [u8]) -> Option<&str> {
    // Parameter block: buffer address, buffer length (updated to the length written).
    let mut block: [u64; 2] = [buffer.as_mut_ptr() as u64, buffer.len() as u64];
    let status: u64;
    // SAFETY: SYS_GET_CMDLINE writes at most `block[1]` bytes (the buffer's length, NUL
    // included) into the buffer and updates `block[1]`; both live across the instruction,
    // and x0 (status) is its only register output.
    unsafe {
        core::arch::asm!(
            "hlt #0xf000",
            inout("x0") SYS_GET_CMDLINE => status,
            in("x1") block.as_mut_ptr(),
            options(nostack),
        );
    }
    if status != 0 {
        return None;
    }
    let len = usize::try_from(block[1]).ok()?.min(buffer.len());
    core::str::from_utf8(&buffer[..len]).ok()
}
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
