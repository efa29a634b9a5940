//! The runner firmware behind `wasm-aot run --board` on the Cortex-M boards: the run request and
//! the call are [`board_common::runner`]'s (its module documentation has the request format and
//! what is printed); this module gives it the console and SysTick, and loads the image by
//! copying its text into code memory ([`Module::new`]). The board's `examples/runner.rs`
//! provides the loader region and its addresses and returns [`main`]'s status through
//! semihosting: 0 success, 134 trap, 1 any other error. Execution in place (request flag bit
//! 0) is refused: it needs an image partition in flash, which these boards do not have.

// Errors carry a fixed 256-byte message (no allocator on the board); they happen once per boot.
#![allow(clippy::result_large_err)]

use board_common::runner::{self, Board, Failure, Message};
use device_runtime::{Engine, EngineConfig, Module};

use crate::println;
use crate::timer::{self, TickTimer, TimerConfig};

/// The epoch tick of a run with a deadline, as on the hosted runner (1 ms).
const TICK_HZ: u32 = 1000;

/// Where the request is, for error messages.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    /// The address the firmware reads the loader region at.
    pub read: usize,
    /// The address QEMU's loader writes it at (`-device loader,addr=`; differs from `read`
    /// where the firmware uses a Secure alias).
    pub loader: usize,
}

/// The console and SysTick, for the runner.
struct CortexM {
    core_clock_hz: u32,
    ticking: Option<TickTimer>,
}

impl Board for CortexM {
    fn println(&self, args: core::fmt::Arguments<'_>) {
        println!("{args}");
    }

    fn start_ticks(&mut self) -> Result<(), Message> {
        timer::set_tick_hook(Some(runner::tick));
        match timer::start(&TimerConfig::new(self.core_clock_hz, TICK_HZ)) {
            Ok(ticking) => {
                self.ticking = Some(ticking);
                Ok(())
            }
            Err(e) => {
                timer::set_tick_hook(None);
                Err(Message::new(format_args!("{e}")))
            }
        }
    }

    fn stop_ticks(&mut self) {
        if let Some(ticking) = self.ticking.take() {
            ticking.stop();
        }
        timer::set_tick_hook(None);
    }
}

/// Runs the request in `region` (the loader region's bytes) on an engine with `config` and
/// returns the exit status. `core_clock_hz` is the clock SysTick counts (for a deadline).
pub fn main(
    config: &EngineConfig,
    core_clock_hz: u32,
    region: &'static [u8],
    at: Addresses,
) -> u32 {
    let mut board = CortexM {
        core_clock_hz,
        ticking: None,
    };
    let outcome = run(&mut board, config, region, at);
    runner::finish(&board, outcome)
}

fn run(
    board: &mut CortexM,
    config: &EngineConfig,
    region: &'static [u8],
    at: Addresses,
) -> Result<(), Failure> {
    let request = runner::request(region, at.read, at.loader)?;
    if request.in_place {
        return Err(runner::error_fmt(format_args!(
            "execution in place asked for: it needs an image partition in flash, which this \
             board does not have"
        )));
    }
    let mut config = *config;
    config.epoch_counter = Some(&runner::EPOCH);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, request.image)
        .map_err(|e| runner::error_fmt(format_args!("cannot load image: {e}")))?;
    runner::call(board, &engine, &module, &request)
}
