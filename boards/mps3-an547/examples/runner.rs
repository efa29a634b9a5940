//! Runner firmware behind `wasm-aot run --board mps3-an547`: runs any Cortex-M55 image handed to
//! it in a *run request* that QEMU's loader places in the board's loader region in ISRAM
//! before boot (`-device loader,file=REQUEST,addr=0x21000000,force-raw=on`: QEMU's loader
//! writes ISRAM at its Non-secure address, the firmware reads it at the Secure alias
//! `0x3100_0000`, see `memory_map::LOADER_REGION`). The request lies at the start of
//! [`LOADER_REGION`] and is at most its size (4 MiB); its format and what the runner prints
//! are those of [`cortex_m_common::runner`], which this board shares with mps2-an386.

#![no_std]
#![no_main]

use board::memory_map::{LOADER_ADDRESS, LOADER_REGION};
use cortex_m_common::runner::{self, Addresses};
use mps3_an547 as board;

board::entry!(main);

fn main() -> u32 {
    let at = Addresses {
        read: LOADER_REGION.start as usize,
        loader: LOADER_ADDRESS as usize,
    };
    runner::main(
        &board::engine_config(),
        board::CORE_CLOCK_HZ,
        loader_region::bytes(),
        at,
    )
}

/// The loader region, the only unsafe part of the runner.
mod loader_region {
    use super::LOADER_REGION;

    /// The bytes QEMU's loader placed in the loader region.
    pub fn bytes() -> &'static [u8] {
        // SAFETY: the loader region in ISRAM is readable (read-write for the MPU), the
        // firmware and its pools never use it (memory_map.rs), and only QEMU's loader writes
        // it, before boot; nothing writes it while these shared borrows live.
        unsafe {
            core::slice::from_raw_parts(
                LOADER_REGION.start as usize as *const u8,
                LOADER_REGION.len() as usize,
            )
        }
    }
}
