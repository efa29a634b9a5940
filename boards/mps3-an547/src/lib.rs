//! Board support for QEMU's MPS3 AN547 (`qemu-system-arm -M mps3-an547`): a Cortex-M55
//! (ARMv8.1-M Mainline, FPv5-D16 double-precision FPU, MVE) with a PMSAv8 MPU, bare metal,
//! running in Secure state.
//!
//! What the board does, in boot order:
//!
//! 1. `cortex-m-rt`'s reset handler zeroes `.bss`, copies `.data` and enables the FPU
//!    (`CPACR`, on the `eabihf` target) before any Rust code runs, then calls this crate's
//!    `#[entry]` function on the main stack.
//! 2. [`cortex_m_common::boot::start`]: the console on UART0 ([`memory_map::UART0`]), the
//!    fault handlers ([`cortex_m_common::fault`]: `udf` trap sites and front-guard accesses
//!    of wasm code become typed traps, anything else is a fatal report and exit status 3),
//!    then the MPU ([`MPU`], a [`cortex_m_common::mpu::Mpu`] with the PMSAv8 plan of
//!    [`cortex_m_mpu::v8`] over [`memory_map::mpu_map`]: ITCM read-only and executable, RAM
//!    and UART execute-never, no background region, so the program stack's guard, each live
//!    memory slot's front guard and every unlisted address fault), then the firmware's `main` (see [`entry!`]) on the
//!    program stack; its return value is the semihosting exit status.
//!
//! [`BOARD`] is the device runtime's platform over the board's static pools
//! ([`cortex_m_common::platform::StaticPlatform`]) with [`MPU`] as its memory protection:
//! the code pool is read-write and execute-never while a module's text is copied in, read-only
//! and executable once published (W^X), and each memory slot's front guard is a hole in the
//! MPU map while the slot lives. [`engine_config`] declares the Cortex-M55 core, without which
//! the runtime refuses every image on bare metal.
//!
//! Only [`memory_map`] builds for the host, so that `cargo test --lib --target
//! x86_64-unknown-linux-gnu` checks it and the MPU plan's worst case.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod memory_map;

/// The core clock SysTick counts: QEMU runs the mps3-an547 Cortex-M55 at 32 MHz.
pub const CORE_CLOCK_HZ: u32 = 32_000_000;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod board;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use board::*;

/// Declares the firmware's main function: `fn() -> u32`, whose result is the exit status QEMU
/// reports (0 = success). A panic prints its message and exits with status 101.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "__mps3_an547_main")]
        fn __mps3_an547_main() -> u32 {
            let main: fn() -> u32 = $main;
            main()
        }
    };
}
