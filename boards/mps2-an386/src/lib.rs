//! Board support for QEMU's MPS2 AN386 (`qemu-system-arm -M mps2-an386`): a Cortex-M4F with
//! FPv4-SP and a PMSAv7 MPU, bare metal.
//!
//! What the board does, in boot order:
//!
//! 1. `cortex-m-rt`'s reset handler zeroes `.bss`, copies `.data` and enables the FPU
//!    (`CPACR`, on the `eabihf` target) before any Rust code runs, then calls this crate's
//!    `#[entry]` function on the main stack.
//! 2. [`cortex_m_common::boot::start`]: the console on UART0 ([`memory_map::UART0`]), the
//!    fault handlers ([`cortex_m_common::fault`]: `udf` trap sites and front-guard accesses
//!    of wasm code become typed traps, anything else is a fatal report and exit status 3),
//!    then the firmware's `main` (see [`entry!`]) on the program stack ([`memory_map`]); its
//!    return value is the semihosting exit status.
//!
//! [`BOARD`] is the device runtime's platform over the board's static pools
//! ([`cortex_m_common::platform::StaticPlatform`]); [`engine_config`] declares the Cortex-M4F
//! core, without which the runtime refuses every image on bare metal.
//!
//! Only [`memory_map`] builds for the host, so that `cargo test --lib --target
//! x86_64-unknown-linux-gnu` checks it.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod memory_map;

/// The core clock SysTick counts: QEMU runs the mps2-an386 Cortex-M4F at 25 MHz.
pub const CORE_CLOCK_HZ: u32 = 25_000_000;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod board;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use board::*;

/// Declares the firmware's main function: `fn() -> u32`, whose result is the exit status QEMU
/// reports (0 = success). A panic prints its message and exits with status 101.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "__mps2_an386_main")]
        fn __mps2_an386_main() -> u32 {
            let main: fn() -> u32 = $main;
            main()
        }
    };
}
