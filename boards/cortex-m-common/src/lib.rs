//! Support shared by the Cortex-M boards (`mps2-an386`, Cortex-M4F; `mps3-an547`, Cortex-M55).
//!
//! A board crate supplies what differs between boards (memory map, UART base address, the
//! MPU flavour and its region plan, the core it declares to the runtime) and uses this crate
//! for the rest:
//!
//! * [`fault`]: the decision logic of the fault handlers, safe and tested on the host: decode
//!   `CFSR`/`HFSR`, decide whether a fault may become a wasm trap (an undefined instruction in
//!   thread mode, or an MPU data-access violation on a live memory slot's front guard), rewrite
//!   the stacked exception frame to resume in the runtime's unwind routine, or format the
//!   fatal report. [`fault::vectors`] (bare metal only) holds the four handlers themselves
//!   (`HardFault`, `MemoryManagement`, `BusFault`, `UsageFault`, overriding `cortex-m-rt`'s
//!   defaults) and the System Control Block accesses they need.
//! * [`pools`]: a block allocator over a bitmap and the lock-free table of live front guards
//!   that the fault handler reads; safe, host-tested.
//! * [`platform`]: the device runtime's [`Platform`](device_runtime::platform::Platform) over
//!   three static pools (code memory, memory slots with a front guard each, store arenas),
//!   with memory protection behind the [`platform::MemoryProtection`] trait that the board
//!   implements with its MPU. Safe apart from zeroing pool memory; host-tested over a heap
//!   buffer.
//! * [`timer`]: the tick interrupt, SysTick at a configurable rate from the core clock, the
//!   epoch tick source (each tick calls a registered hook); the reload arithmetic is safe and
//!   host-tested, the handler and registers are bare metal only.
//! * Bare metal only: [`boot`] (console, fault handlers, the board's protection, then the
//!   program on its own stack), [`mpu`] (either MPU flavour of `cortex-m-mpu` as the platform's
//!   memory protection: every change replans the board's whole map), [`console`] (CMSDK APB UART, base address given by the board),
//!   [`semihosting`] (exit status), [`stack`] (runs the program on its own stack, the process
//!   stack, so that a fault on it can still be reported from the main stack), and the panic
//!   handler (prints the message, exits with status 101).
//!
//! Every `unsafe` block lives in a small named module: `console::registers`,
//! `semihosting::call`, `stack::switch`, `fault::vectors` (exception entry, `scb`, the stacked
//! frame), `timer::systick` (its entry, `registers`, the `hook` pointer, the stacked PC), `mpu`
//! (the call that applies a plan), and `platform::zero`.

#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod fault;
mod lock;
pub mod platform;
pub mod pools;
pub mod timer;

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod boot;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod console;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod demo_tasks;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod memories_test;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod mpu;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod runner;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod semihosting;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod stack;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod timer_test;

/// Exit status of a panic.
pub const PANIC_EXIT_STATUS: u32 = 101;

#[cfg(all(target_arch = "arm", target_os = "none"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    console::print_fmt(format_args!("panic: {info}\n"));
    semihosting::exit(PANIC_EXIT_STATUS)
}
