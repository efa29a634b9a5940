//! Memories beyond WebAssembly 2.0 on the Cortex-M4F: the test of
//! `cortex_m_common::memories_test` on this board, with `../cortex-m-common/wasm/memories.wat`
//! compiled for the Cortex-M4F (`build.rs`). Prints the slot planner's RAM use of a 300-byte
//! memory of 1-byte pages and of a 64 KiB-page memory, every check, `memories test: passed`,
//! and exits 0.

#![no_std]
#![no_main]

use board::memory_map::MEMORY_BLOCK;
use cortex_m_common::memories_test::{self, MemoriesTestBoard};
use mps2_an386 as board;

board::entry!(main);

fn main() -> u32 {
    memories_test::main(MemoriesTestBoard {
        config: board::engine_config(),
        image: device_runtime::include_image!("memories.img").bytes(),
        free_blocks: board::free_blocks,
        memory_block: MEMORY_BLOCK,
    })
}
