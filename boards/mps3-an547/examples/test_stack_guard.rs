//! Stack-guard test firmware (run by `run-tests.sh`, expected exit status 3): firmware code
//! (not wasm) recurses until the program stack runs into its guard, the 1 KiB at the bottom
//! of DTCM that no MPU region covers. The push that reaches the guard faults (MemManage); the
//! handler runs on the main stack, so the fault is still reported: `fatal: MemManage ...` and
//! exit status 3 instead of silently overwriting whatever lies below the stack. Returning is a
//! failure (status 1).

#![no_std]
#![no_main]

use mps3_an547::memory_map::PROGRAM_STACK_GUARD;
use mps3_an547::{self as board, println};

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
    let guard = board::mpu_lookup(PROGRAM_STACK_GUARD.start as usize);
    println!(
        "program stack guard at {:#010x}: readable {}, writable {}",
        PROGRAM_STACK_GUARD.start,
        guard.readable(),
        guard.writable()
    );
    println!("recursing until the program stack reaches its guard...");
    let result = deeper(0);
    println!("FAIL: the recursion returned {result}");
    1
}
