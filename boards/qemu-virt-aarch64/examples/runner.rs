//! Runner firmware behind `wasm-aot run --board qemu-virt-aarch64`: runs any image handed to
//! it in a *run request* flashed into the board's image partition before boot
//! (`-device loader,file=REQUEST,addr=0x4000000,force-raw=on`: QEMU's loader writes pflash1,
//! standing in for a flash tool).
//!
//! The request lies at the start of [`IMAGE_PARTITION`] and is at most its size (16 MiB); its
//! format, the call and what is printed are [`board_common::runner`]'s (budgets included: the
//! generic timer ticks the epoch at 1 kHz while a call with a deadline runs). With the request's
//! execute-in-place flag the image executes where it was flashed ([`board::xip::load`]:
//! verified, then exactly its text pages made executable); otherwise its text is copied into
//! code memory in RAM ([`Module::new`]). Exit status (semihosting): 0 success, 134 trap, 1 any
//! other error.

#![no_std]
#![no_main]
// Errors carry a fixed 256-byte message (no allocator on the board); they happen once per boot.
#![allow(clippy::result_large_err)]

use core::fmt;

use board::memory_map::IMAGE_PARTITION;
use board_common::runner::{self, Board, Failure, Message};
use device_runtime::{Engine, Module};
use qemu_virt_aarch64::timer::{self, TickTimer, TimerConfig};
use qemu_virt_aarch64::{self as board, println};

board::entry!(main);

/// Where QEMU's loader flashes the run request.
const REQUEST_ADDRESS: u64 = IMAGE_PARTITION.0;
/// Largest request: the partition.
const REQUEST_MAX: u64 = IMAGE_PARTITION.1;

/// The console and the generic timer (1 kHz), for the runner.
struct Virt {
    ticking: Option<TickTimer>,
}

impl Board for Virt {
    fn println(&self, args: fmt::Arguments<'_>) {
        println!("{args}");
    }

    fn start_ticks(&mut self) -> Result<(), Message> {
        timer::set_tick_hook(Some(runner::tick));
        match timer::start(&TimerConfig::default()) {
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

fn main() -> u32 {
    let mut virt = Virt { ticking: None };
    let outcome = run(&mut virt);
    runner::finish(&virt, outcome)
}

fn run(virt: &mut Virt) -> Result<(), Failure> {
    // SAFETY: [REQUEST_ADDRESS, +REQUEST_MAX) is the image partition in flash, mapped
    // read-only by the boot plan and written only by QEMU's loader before boot; nothing
    // writes it while these shared borrows live.
    let region = unsafe {
        core::slice::from_raw_parts(REQUEST_ADDRESS as usize as *const u8, REQUEST_MAX as usize)
    };
    let address = REQUEST_ADDRESS as usize;
    let request = runner::request(region, address, address)?;
    let mut config = board::engine_config();
    config.epoch_counter = Some(&runner::EPOCH);
    let engine = Engine::new(&config);
    let cannot_load =
        |e: &dyn fmt::Display| runner::error_fmt(format_args!("cannot load image: {e}"));
    if request.in_place {
        let module = board::xip::load(&engine, request.image).map_err(|e| cannot_load(&e))?;
        runner::call(virt, &engine, &module, &request)
    } else {
        let module = Module::new(&engine, request.image).map_err(|e| cannot_load(&e))?;
        runner::call(virt, &engine, &module, &request)
    }
}
