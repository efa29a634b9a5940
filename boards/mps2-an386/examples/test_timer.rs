//! The tick interrupt (the epoch tick source) during a long wasm FPU computation: the test of
//! `cortex_m_common::timer_test` on this board, with SysTick from the 25 MHz core clock and
//! `wasm/timer.wat` compiled for the Cortex-M4F. Prints `timer test: passed` and exits 0.

#![no_std]
#![no_main]

use cortex_m_common::timer_test::{self, TimerTestBoard};
use mps2_an386 as board;

board::entry!(main);

fn main() -> u32 {
    timer_test::main(TimerTestBoard {
        core_clock_hz: board::CORE_CLOCK_HZ,
        config: board::engine_config(),
        image: device_runtime::include_image!("timer.img").bytes(),
    })
}
