//! MPU cost benchmark firmware (run by `bench-mpu.sh`): how many instructions one change of
//! the MPU state costs, the full replan (`cortex_m_mpu::v8::plan`) plus `v8::apply`, which
//! the platform does twice per module load (code pool writable, then executable) and once per
//! memory slot allocated or freed.
//!
//! The iteration count N is a little-endian `u32` that QEMU's loader puts at the start of the
//! loader region (`-device loader,addr=0x21000000,data=N,data-len=4`), the mode the next word
//! (`addr=0x21000004`): 0 measures state changes (`MPU.code_writable()` then
//! `code_executable()`: two replans and applies per iteration), 1 only the planning
//! (`v8::plan` of the same two states, nothing applied), 2 the PMSAv7 planner (`v7::plan`)
//! on the same map, for the figure of the Cortex-M4F board's planner (pure code: the same
//! instructions on either core, nothing applied). `bench-mpu.sh` runs N and 2N under
//! the instruction-count plugin and prints the difference per change. Two memory slots are
//! live (two guards in the plan), as in the guard tests.

#![no_std]
#![no_main]

use cortex_m_common::platform::MemoryProtection;
use cortex_m_mpu::{Range, v7, v8};
use device_runtime::platform::Platform;
use mps3_an547::memory_map::{CODE_POOL, LOADER_REGION, MPU_REGIONS, mpu_map};
use mps3_an547::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    // SAFETY: the first word of the loader region, readable RAM written only by QEMU's loader
    // before boot.
    let iterations =
        unsafe { core::ptr::read_volatile(LOADER_REGION.start as usize as *const u32) };
    // SAFETY: the second word, as above.
    let mode =
        unsafe { core::ptr::read_volatile((LOADER_REGION.start as usize + 4) as *const u32) };
    let slots = [
        board::BOARD.memory_alloc(65536, board::MEMORY_GUARD, 65536),
        board::BOARD.memory_alloc(65536, board::MEMORY_GUARD, 65536),
    ];
    if slots.iter().any(Result::is_err) {
        println!("bench-mpu: memory slots refused");
        return 1;
    }
    let guards: [Range; 2] = core::array::from_fn(|i| {
        let start = slots[i].as_ref().map_or(0, |s| s.mapping.as_ptr() as u32);
        Range::new(start, start + board::MEMORY_GUARD as u32)
    });
    let mut planned = 0usize;
    for _ in 0..iterations {
        if mode == 0 {
            board::MPU.code_writable();
            board::MPU.code_executable();
        } else {
            for published in [&[][..], &[CODE_POOL][..]] {
                let map = mpu_map(&guards);
                planned += if mode == 1 {
                    let plan = v8::plan(&map, published, MPU_REGIONS);
                    plan.map_or(0, |p| core::hint::black_box(p).regions().len())
                } else {
                    let plan = v7::plan(&map, published, MPU_REGIONS);
                    plan.map_or(0, |p| core::hint::black_box(p).regions().len())
                };
            }
        }
    }
    println!(
        "bench-mpu: {iterations} iterations of 2 MPU {}, {} live guards ({planned} regions planned)",
        ["state changes", "v8 plans", "v7 plans"][mode.min(2) as usize],
        board::BOARD.live_guards()
    );
    for slot in slots.into_iter().flatten() {
        // SAFETY: the slots came from memory_alloc above and nothing uses them.
        unsafe { board::BOARD.memory_free(slot) };
    }
    0
}
