//! Stack-guard test firmware (run by `run-tests.sh`, expected exit status 3): firmware code
//! (not wasm) recurses until the program stack runs into its guard, the MPU no-access region
//! over the lowest 1 KiB of the program stack. The store that reaches the guard faults
//! (MemManage), and so does the core's stacking of the exception frame on the same stack
//! (`MSTKERR`); the handler runs on the main stack, so the fault is still reported — without
//! the frame, which was never written — as `fatal: MemManage ...` with exit status 3, instead
//! of silently overwriting what lies below the stack. Returning is a failure (status 1).

#![no_std]
#![no_main]

use mps2_an386::memory_map::PROGRAM_STACK_GUARD;
use mps2_an386::{self as board, println};

board::entry!(main);

/// Recurses with a 256-byte frame per level until something stops it.
#[inline(never)]
fn deeper(level: u32) -> u32 {
    let mut frame = [level; 64];
    core::hint::black_box(&mut frame);
    if level == u32::MAX {
        return frame[1];
    }
    deeper(level + 1).wrapping_add(frame[level as usize % 64])
}

fn main() -> u32 {
    println!(
        "program stack guard at {:#010x}..{:#010x}",
        PROGRAM_STACK_GUARD.start,
        PROGRAM_STACK_GUARD.end()
    );
    println!("recursing until the program stack reaches its guard...");
    let result = deeper(0);
    println!("FAIL: the recursion returned {result}");
    1
}
