//! Unexpected-exception test firmware (run by `run-tests.sh`, expected exit status 3): the
//! firmware executes `svc #0`. The boards use no SVCall (nor PendSV, SysTick or interrupts),
//! so it reaches `cortex_m_common`'s `DefaultHandler`, which must report it by number and end
//! the program instead of spinning in an endless loop. Returning is a failure (status 1).

#![no_std]
#![no_main]

use mps2_an386::{self as board, println};

board::entry!(main);

/// The supervisor call, the only unsafe part.
mod supervisor_call {
    /// Executes `svc #0`.
    pub fn svc() {
        // SAFETY: `svc` only raises the SVCall exception; its handler (DefaultHandler) reports
        // it and never returns, so nothing after it runs.
        unsafe { core::arch::asm!("svc #0", options(nomem, nostack)) };
    }
}

fn main() -> u32 {
    println!("raising SVCall...");
    supervisor_call::svc();
    println!("FAIL: the SVCall returned");
    1
}
