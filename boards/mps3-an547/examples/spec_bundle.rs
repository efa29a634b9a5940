//! Spec-testsuite firmware: runs a bundle of compiled WebAssembly spec-testsuite modules
//! (compiled for cortex-m55) and their assertions (format: `spec_bundle::format`) and reports
//! pass/fail counts.
//!
//! QEMU's loader places the bundle in ISRAM before boot:
//! `-device loader,file=spec-bundle-0.bin,addr=0x21000000,force-raw=on` (the board's
//! `LOADER_REGION`, 4 MiB, read by the firmware at its Secure alias `0x3100_0000`; read-write
//! and execute-never in the MPU map: every image is copied into code memory by `Module::new`).
//!
//! Engine: `engine_config_large_memories()` (7 MiB reservations in the 64 MiB DDR pool).
//! The bundle is generated on the host by `spec_bundle build DIR --target cortex-m55`;
//! `spec-bundle.sh` boots this firmware once per bundle, checks its console lines against the
//! expected failures with `spec_bundle check`, and compares them line by line with the same
//! executor run hosted under `qemu-arm` with the engine limits printed here.
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
use mps3_an547::memory_map::{LOADER_ADDRESS, LOADER_REGION};
use mps3_an547::{self as board, console::Console, println};
use spec_bundle::report::{self, Totals};
use spec_bundle::{Bundle, Executor};

board::entry!(main);

fn main() -> u32 {
    // SAFETY: the loader region is ISRAM that only QEMU's loader writes, before boot; the MPU
    // map keeps it readable; nothing writes it while this shared borrow lives.
    let region = unsafe {
        core::slice::from_raw_parts(
            LOADER_REGION.start as usize as *const u8,
            LOADER_REGION.len() as usize,
        )
    };
    let bundle = match Bundle::parse(region) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "spec-bundle: error: no valid bundle at {:#x}: {e} (boot with -device \
                 loader,file=BUNDLE,addr={LOADER_ADDRESS:#x},force-raw=on)",
                LOADER_REGION.start
            );
            return 2;
        }
    };
    let config = board::engine_config_large_memories();
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
