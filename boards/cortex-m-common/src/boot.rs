//! The board-independent part of boot, after `cortex-m-rt`'s reset handler (which zeroed
//! `.bss`, copied `.data` and enabled the FPU in `CPACR` on `eabihf` targets) called the
//! board's `#[entry]` function on the main stack.

use crate::platform::StaticPlatform;
use crate::{console, fault, stack};

/// What a board hands to [`start`].
#[derive(Debug)]
pub struct BootConfig {
    /// Base address of the console's CMSDK APB UART.
    pub uart_base: usize,
    /// The platform whose front guards the fault handlers recognise.
    pub platform: &'static StaticPlatform,
    /// One past the highest byte of the program stack (8-aligned).
    pub program_stack_top: usize,
}

/// Initialises the console and the fault handlers, then runs `program` on the program stack.
///
/// The board applies its memory protection between this call's console and stack steps by
/// passing `protect` (called after the fault handlers are installed, so a protection fault
/// during boot is reported).
///
/// # Safety
/// Called once, from the board's `#[entry]` function (thread mode, main stack); `uart_base`
/// is the board's console UART; `[.., program_stack_top)` is reserved for the program stack.
pub unsafe fn start(
    config: &BootConfig,
    protect: impl FnOnce(),
    program: extern "C" fn() -> !,
) -> ! {
    // SAFETY: guaranteed by the caller.
    unsafe { console::init(config.uart_base) };
    fault::vectors::install(config.platform);
    protect();
    // SAFETY: guaranteed by the caller; called once, on the main stack, never returns.
    unsafe { stack::run_on_process_stack(config.program_stack_top, program) }
}

/// Whether the FPU is enabled for privileged and unprivileged code (`CPACR` CP10/CP11 full
/// access), as `cortex-m-rt` leaves it on `eabihf` targets.
pub fn fpu_enabled() -> bool {
    matches!(
        cortex_m::peripheral::SCB::fpu_access_mode(),
        cortex_m::peripheral::scb::FpuAccessMode::Enabled
    )
}
