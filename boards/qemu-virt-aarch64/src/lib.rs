//! Board support for QEMU's AArch64 `virt` machine (`-M virt -cpu cortex-a53`), bare metal.
//!
//! What the board does, in boot order:
//!
//! 1. [`boot`]: `_start` drops from EL2 to EL1 if QEMU started there, installs the exception
//!    vectors (`VBAR_EL1`), enables FP/SIMD, zeroes `.bss` (not the pools), and runs on two
//!    stacks: the program on `SP_EL0` (with an unmapped guard page below it) and exceptions
//!    on `SP_EL1`, so that a fault on the program stack can still be reported.
//! 2. [`mmu`]: 4 KiB-granule page tables in a static (identity-mapped except the wide memory
//!    slots' pages), planned by safe code
//!    ([`mmu::plan`], unit-tested on the host) from the linker's section symbols
//!    ([`memory_map`]): RAM normal cacheable, devices nGnRE, firmware text read-execute,
//!    everything else execute-never, and no page ever writable and executable (W^X; the
//!    hardware's `SCTLR_EL1.WXN` backs the plan up).
//! 3. The firmware's `main` (see [`entry!`]) runs; its return value is the exit status that
//!    [`semihosting::exit`] hands to QEMU.
//!
//! [`platform::Board`] is the device runtime's [`device_runtime::platform::Platform`]: code
//! memory written while read-write, then remapped read-execute with cache maintenance; linear
//! memories in a pool reserved at link time, each between an unmapped front and back guard
//! page, or, for large reservations (guard-elided images: [`engine_config_guard_elided`];
//! memories that may grow as far as the pool can back: [`engine_config_large_memories`]), in
//! wide virtual slots of up to 7 GiB whose accessible pages are mapped to pages of that pool.
//! [`xip`] executes an image flashed into the image partition in place, making exactly its
//! text executable once it is verified.
//! [`exceptions`] turns a synchronous exception at a trap site of wasm code into the typed trap
//! through [`device_runtime::fault::redirect_for`], and a translation fault from wasm code on a
//! live memory slot's guard or inaccessible reservation into `MemoryOutOfBounds`
//! ([`device_runtime::fault::redirect_for_guard_fault`]); any other exception is reported on
//! the console and ends the program with a non-zero status.
//! [`timer`] is the tick interrupt (the EL1 physical generic timer through the GIC, [`gic`]) at
//! a configurable rate, the epoch tick source: each tick calls a registered hook, and the IRQ
//! path restores the interrupted context exactly, floating-point and SIMD registers included.
//!
//! Only the planning modules ([`mmu::plan`], [`pages`], [`fiber_slots`], [`tick`]) build for the host, so that
//! `cargo test --lib --target x86_64-unknown-linux-gnu` runs their tests.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod fiber_slots;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod lock;
pub mod mmu;
pub mod pages;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod boot;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod console;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod exceptions;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod gic;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod memory_map;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod platform;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod pmu;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod semihosting;
pub mod tick;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod timer;
#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub mod xip;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use platform::{
    BOARD, engine_config, engine_config_guard_elided, engine_config_large_memories,
};

/// Declares the firmware's main function: `fn() -> u32`, whose result is the exit status QEMU
/// reports (0 = success). A panic prints its message and exits with status 101.
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[unsafe(export_name = "__qemu_virt_aarch64_main")]
        fn __qemu_virt_aarch64_main() -> u32 {
            let main: fn() -> u32 = $main;
            main()
        }
    };
}
