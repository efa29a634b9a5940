//! Spec-testsuite firmware: runs a bundle of compiled WebAssembly spec-testsuite modules and
//! their assertions (format: `spec_bundle::format`) and reports pass/fail counts.
//!
//! QEMU's loader places the bundle in RAM before boot:
//! `-device loader,file=spec-bundle-0.bin,addr=0x4c000000,force-raw=on` (the board's
//! `LOADER_REGION`, the last 64 MiB of RAM, past the firmware, its pools and stacks; at most
//! 64 MiB; the region stays read-write and execute-never: every image is copied into code
//! memory by `Module::new`).
//!
//! Engine: `engine_config_large_memories()`, so memories without a small maximum take wide
//! slots and grow as far as the memory pool can back (the testsuite's largest is 50 MiB),
//! holding physical pages only as they grow.
//! The bundle is generated on the host by `cargo run -p tests --bin spec_bundle -- build DIR`;
//! `run-tests.sh` boots this firmware once per bundle and compares its console lines with the
//! same executor run hosted under qemu-aarch64 user mode.
//!
//! Output: the engine limits, the bundle's figures, then per file every failing case
//! (`FAIL file:line reason`) and a summary line with a digest of every case's outcome, then the
//! totals (`spec_bundle::report`). After each file the board's pools (code memory, memory
//! slots, store arenas) must be back to their free page counts before the file; a difference
//! is printed as `LEAK` and fails the run. Exit status (semihosting): 0 when every case passed
//! (board and host-side) and nothing leaked, 1 otherwise, 2 for an unreadable bundle.

#![no_std]
#![no_main]

use device_runtime::Engine;
use qemu_virt_aarch64::{self as board, console::Console, println};
use spec_bundle::report::{self, Totals};
use spec_bundle::{Bundle, Executor};

board::entry!(main);

/// Where QEMU's loader places the bundle.
const BUNDLE_ADDRESS: u64 = board::memory_map::LOADER_REGION.0;
/// Largest bundle: the whole loader region, to the end of RAM.
const BUNDLE_MAX: u64 = board::memory_map::LOADER_REGION.1;

fn main() -> u32 {
    let firmware_end = board::memory_map::sections().read_write.1;
    if firmware_end > BUNDLE_ADDRESS {
        println!(
            "spec-bundle: error: bundle address {BUNDLE_ADDRESS:#x} overlaps the firmware (ends at {firmware_end:#x})"
        );
        return 2;
    }
    // SAFETY: [BUNDLE_ADDRESS, +BUNDLE_MAX) is RAM past everything the firmware uses (checked
    // above), mapped read-write by the boot plan and written only by QEMU's loader before
    // boot; nothing writes it while this shared borrow lives.
    let region = unsafe {
        core::slice::from_raw_parts(BUNDLE_ADDRESS as usize as *const u8, BUNDLE_MAX as usize)
    };
    let bundle = match Bundle::parse(region) {
        Ok(b) => b,
        Err(e) => {
            println!(
                "spec-bundle: error: no valid bundle at {BUNDLE_ADDRESS:#x}: {e} (boot with \
                 -device loader,file=BUNDLE,addr={BUNDLE_ADDRESS:#x},force-raw=on)"
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
        let before = board::platform::free_pages();
        let file = report::run_file(&executor, &bundle, i, &mut out, &mut totals);
        let after = board::platform::free_pages();
        if before != after {
            leaks += 1;
            let name = file.map_or("?", |(f, _)| f.name);
            println!(
                "LEAK {name}: free pages (code, memory, arenas) {before:?} before the file, {after:?} after"
            );
        }
    }
    let _ = report::print_totals(&mut out, &bundle, &totals);
    if leaks > 0 {
        println!("spec-bundle: {leaks} file(s) leaked pool pages");
    }
    if totals.all_passed() && leaks == 0 {
        0
    } else {
        1
    }
}
