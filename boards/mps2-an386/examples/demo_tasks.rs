//! Three wasm tasks time-sliced with epochs (issue 6, "Boards"): the demo of
//! `cortex_m_common::demo_tasks` on this board, with SysTick from the 25 MHz core clock,
//! `wasm-epochs/demo_tasks.wat` compiled for the Cortex-M4F with epoch checks (`build.rs`) and the
//! board's fiber pool. Prints every slice, a summary and `demo: passed`, and exits 0 only if
//! every check passed.

#![no_std]
#![no_main]

use board::memory_map::{FIBER_STACK_SIZE, FIBER_STACKS};
use cortex_m_common::demo_tasks::{self, DemoBoard};
use mps2_an386 as board;

board::entry!(main);

fn main() -> u32 {
    demo_tasks::main(DemoBoard {
        core_clock_hz: board::CORE_CLOCK_HZ,
        config: board::engine_config(),
        image: device_runtime::include_image!("demo_tasks.img").bytes(),
        fibers: &board::FIBERS,
        fiber_stacks: FIBER_STACKS,
        fiber_stack_size: FIBER_STACK_SIZE,
        fiber_stacks_in_use: board::fiber_stacks_in_use,
    })
}
