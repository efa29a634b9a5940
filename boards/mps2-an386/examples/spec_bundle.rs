//! Spec-testsuite firmware: runs a bundle of compiled WebAssembly spec-testsuite modules (for
//! the Cortex-M4F) and their assertions (format: `spec_bundle::format`) and reports pass/fail
//! counts.
//!
//! QEMU's loader places the bundle in the loader region in PSRAM before boot:
//! `-device loader,file=spec-bundle-0.bin,addr=0x21800000,force-raw=on` (at most 8 MiB, the
//! region's size; it stays read-write and execute-never: every image is copied into code
//! memory by `Module::new`).
//!
//! Engine: `engine_config()`, the board's limits (1 MiB reservations, 4 KiB guards). The
//! bundles are generated on the host by `cargo run -p tests --bin spec_bundle -- build DIR
//! --target cortex-m4f --max-bytes 8388608`; `spec-bundle.sh` boots this firmware once per
//! bundle and compares its console lines with the same executor run hosted under qemu-arm.
//!
//! Output: the engine limits, the bundle's figures, then per file every failing case
//! (`FAIL file:line reason`) and a summary line with a digest of every case's outcome, then the
//! totals (`spec_bundle::report`). After each file the board's pools (code memory, memory
//! slots, store arenas) must be back to their free block counts before the file; a difference
//! is printed as `LEAK` and fails the run. Exit status (semihosting): 0 when every case passed
//! (board and host-side) and nothing leaked, 1 otherwise, 2 for an unreadable bundle.

#![no_std]
#![no_main]

use device_runtime::Engine;
use mps2_an386::memory_map::LOADER_REGION;
use mps2_an386::{self as board, console::Console, println};
use spec_bundle::report::{self, Totals};
use spec_bundle::{Bundle, Executor};

board::entry!(main);

/// The loader region, the only unsafe part of this firmware.
mod loader_region {
    use super::LOADER_REGION;

    /// The bytes QEMU's loader placed in the loader region.
    pub fn bytes() -> &'static [u8] {
        // SAFETY: the loader region lies in PSRAM, readable (read-write for the MPU), used by
        // nothing of the firmware or its pools (memory_map.rs) and written only by QEMU's
        // loader before boot; nothing writes it while this shared borrow lives.
        unsafe { core::slice::from_raw_parts(LOADER_REGION.start as *const u8, LOADER_REGION.len) }
    }
}

fn main() -> u32 {
    let bundle = match Bundle::parse(loader_region::bytes()) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "spec-bundle: error: no valid bundle at {:#x}: {e} (boot with \
                 -device loader,file=BUNDLE,addr={:#x},force-raw=on)",
                LOADER_REGION.start, LOADER_REGION.start
            );
            return 2;
        }
    };
    let config = board::engine_config();
    let engine = Engine::new(&config);
    let executor = Executor::new(&engine);
    let mut out = Console;
    let _ = report::print_engine(&mut out, &config);
    let _ = report::print_header(&mut out, &bundle);
    let mut totals = Totals::default();
    let mut leaks = 0u32;
    for i in 0..bundle.file_count() {
        let before = board::free_blocks();
        let file = report::run_file(&executor, &bundle, i, &mut out, &mut totals);
        let after = board::free_blocks();
        if before != after {
            leaks += 1;
            let name = file.map_or("?", |(f, _)| f.name);
            println!(
                "LEAK {name}: free blocks (code, memory, arenas) {before:?} before the file, {after:?} after"
            );
        }
    }
    let _ = report::print_totals(&mut out, &bundle, &totals);
    if leaks > 0 {
        println!("spec-bundle: {leaks} file(s) leaked pool blocks");
    }
    if totals.all_passed() && leaks == 0 {
        0
    } else {
        1
    }
}
