//! The tick interrupt of the Cortex-M boards: SysTick at a configurable rate from the core
//! clock, the tick source of the runtime's epochs. Each SysTick exception counts one tick and
//! calls the *tick hook*, a `fn()` registered with [`set_tick_hook`] (for epochs: the function
//! that increments the engine's epoch counter).
//!
//! # Clock and period
//!
//! SysTick counts down from its reload value (`SYST_RVR`, 24 bits) at the core clock
//! (`SYST_CSR.CLKSOURCE` = 1), raising the exception when it wraps, so a tick of `tick_hz` on a
//! core at `core_clock_hz` needs `core_clock_hz / tick_hz - 1` in `SYST_RVR` ([`reload_value`]):
//! QEMU's mps2-an386 runs its core at 25 MHz and the mps3-an547 at 32 MHz, so 1 kHz is a reload
//! of 24 999 and 31 999, and the slowest rates are about 1.5 Hz and 1.9 Hz. QEMU drives SysTick
//! from its virtual clock (host time, or instruction counts with `-icount`). The reload is
//! automatic, so the rate does not drift with the interrupt latency; a tick that is still
//! pending when the next one is due is merged with it (SysTick's pending bit is one bit).
//!
//! # Entry and the floating-point context
//!
//! The exception entry is the hardware's: the core stacks r0-r3, r12, lr, the return address
//! and xPSR, and, if the interrupted context had active FP state (`CONTROL.FPCA`), reserves
//! room for s0-s15 and `FPSCR` (the extended frame) which it fills lazily, only if the handler
//! executes a floating-point instruction (`FPCCR.ASPEN` and `LSPEN`, set at reset; [`start`]
//! refuses to run without `ASPEN`). The handler is ordinary AAPCS code, which preserves r4-r11
//! and s16-s31 itself. So whatever the hook does with the caller-saved integer and FP
//! registers or `FPSCR`, the exception return restores the interrupted context exactly: wasm
//! code interrupted in the middle of float work resumes unchanged.
//!
//! The handler reads the stacked return address (to count ticks that interrupted wasm text)
//! from the frame on the stack `EXC_RETURN` names, as the fault handlers do. SysTick gets the
//! lowest priority, so the fault handlers preempt it and it never preempts them.
//!
//! # Expected only once started
//!
//! `SysTick` is defined here, replacing `cortex-m-rt`'s default (which is the fatal
//! `DefaultHandler` of [`crate::fault::vectors`]) as soon as a firmware uses [`start`]. Until
//! [`start`] and after the timer is stopped, a SysTick exception is still unexpected: reported
//! like any other and fatal.
//!
//! # The hook's rules
//!
//! It runs in handler mode on the main stack at the lowest exception priority: it must be
//! short, must not block or take a lock the interrupted program may hold (the console's, an
//! allocator's), and must not panic. It may use floating point.

use core::fmt;

/// The configuration of the tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerConfig {
    /// The core clock that SysTick counts, in Hz (the board's).
    pub core_clock_hz: u32,
    /// Interrupts per second (1000: a 1 ms epoch tick).
    pub tick_hz: u32,
}

impl TimerConfig {
    /// A tick of `tick_hz` on a core clocked at `core_clock_hz`.
    pub fn new(core_clock_hz: u32, tick_hz: u32) -> Self {
        TimerConfig {
            core_clock_hz,
            tick_hz,
        }
    }
}

/// The largest SysTick reload value (24 bits).
pub const MAX_RELOAD: u32 = 0x00ff_ffff;

/// Why the timer did not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// A tick rate of 0 Hz.
    ZeroRate,
    /// A period shorter than two core clock cycles (a reload of 0 would stop SysTick).
    RateTooHigh {
        /// The requested rate.
        tick_hz: u32,
        /// The core clock.
        core_clock_hz: u32,
    },
    /// A period longer than SysTick's 24-bit counter.
    RateTooLow {
        /// The requested rate.
        tick_hz: u32,
        /// The core clock.
        core_clock_hz: u32,
    },
    /// The tick is already running (one [`TickTimer`] at a time).
    AlreadyRunning,
    /// The FPU is enabled but the core does not preserve the FP context on exception entry
    /// (`FPCCR.ASPEN` clear): an interrupt could corrupt the interrupted float code.
    FpContextNotPreserved,
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TimerError::ZeroRate => f.write_str("a tick rate of 0 Hz"),
            TimerError::RateTooHigh {
                tick_hz,
                core_clock_hz,
            } => write!(
                f,
                "a tick rate of {tick_hz} Hz is too high for a {core_clock_hz} Hz core clock"
            ),
            TimerError::RateTooLow {
                tick_hz,
                core_clock_hz,
            } => write!(
                f,
                "a tick rate of {tick_hz} Hz needs a period beyond SysTick's 24 bits at \
                 {core_clock_hz} Hz"
            ),
            TimerError::AlreadyRunning => f.write_str("the tick timer is already running"),
            TimerError::FpContextNotPreserved => f.write_str(
                "the core does not preserve the FP context on exceptions (FPCCR.ASPEN clear)",
            ),
        }
    }
}

impl core::error::Error for TimerError {}

const _: () = assert!(core::mem::size_of::<TimerError>() <= 12);

/// The SysTick reload value (`SYST_RVR`) of a `tick_hz` tick on a `core_clock_hz` core: the
/// period in core cycles (rounded down) minus one.
pub fn reload_value(core_clock_hz: u32, tick_hz: u32) -> Result<u32, TimerError> {
    if tick_hz == 0 {
        return Err(TimerError::ZeroRate);
    }
    let period = core_clock_hz / tick_hz;
    if period < 2 {
        Err(TimerError::RateTooHigh {
            tick_hz,
            core_clock_hz,
        })
    } else if period - 1 > MAX_RELOAD {
        Err(TimerError::RateTooLow {
            tick_hz,
            core_clock_hz,
        })
    } else {
        Ok(period - 1)
    }
}

/// What a SysTick exception interrupted, from its `EXC_RETURN` and whether the stacked
/// return address lies in wasm text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted {
    /// Thread-mode wasm code.
    pub wasm: bool,
    /// The interrupted context had active FP state (extended frame).
    pub fp_context: bool,
}

impl Interrupted {
    /// Classifies the interrupted context; `pc_in_wasm_text` is asked only for thread mode.
    pub fn classify(
        exc_return: crate::fault::ExcReturn,
        pc_in_wasm_text: impl FnOnce() -> bool,
    ) -> Interrupted {
        Interrupted {
            wasm: exc_return.from_thread_mode() && pc_in_wasm_text(),
            fp_context: exc_return.extended_frame(),
        }
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod systick;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use systick::{
    TickTimer, set_tick_hook, start, ticks, ticks_in_wasm, ticks_in_wasm_with_fp_context,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::ExcReturn;

    #[test]
    fn reload_of_the_boards_clocks() {
        assert_eq!(reload_value(25_000_000, 1000), Ok(24_999));
        assert_eq!(reload_value(32_000_000, 1000), Ok(31_999));
        assert_eq!(reload_value(25_000_000, 3), Ok(8_333_332));
        // The extremes: a period of 2 cycles, and of 2^24 cycles.
        assert_eq!(reload_value(2_000, 1000), Ok(1));
        assert_eq!(reload_value(MAX_RELOAD + 1, 1), Ok(MAX_RELOAD));
    }

    #[test]
    fn impossible_rates_are_errors() {
        assert_eq!(reload_value(25_000_000, 0), Err(TimerError::ZeroRate));
        assert_eq!(
            reload_value(1_999, 1000),
            Err(TimerError::RateTooHigh {
                tick_hz: 1000,
                core_clock_hz: 1_999
            })
        );
        assert_eq!(
            reload_value(25_000_000, 1),
            Err(TimerError::RateTooLow {
                tick_hz: 1,
                core_clock_hz: 25_000_000
            })
        );
        assert_eq!(reload_value(MAX_RELOAD + 2, 1).ok(), None);
    }

    #[test]
    fn classification_of_the_interrupted_context() {
        // Thread mode on the process stack, basic frame / extended frame.
        let basic = ExcReturn(0xffff_fffd);
        let extended = ExcReturn(0xffff_ffed);
        // Handler mode (another exception), extended frame.
        let handler = ExcReturn(0xffff_ffe1);
        assert_eq!(
            Interrupted::classify(basic, || true),
            Interrupted {
                wasm: true,
                fp_context: false
            }
        );
        assert_eq!(
            Interrupted::classify(extended, || true),
            Interrupted {
                wasm: true,
                fp_context: true
            }
        );
        assert_eq!(
            Interrupted::classify(extended, || false),
            Interrupted {
                wasm: false,
                fp_context: true
            }
        );
        let mut asked = false;
        let in_handler = Interrupted::classify(handler, || {
            asked = true;
            true
        });
        assert!(!in_handler.wasm && in_handler.fp_context && !asked);
    }
}
