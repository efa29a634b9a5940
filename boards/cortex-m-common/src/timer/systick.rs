//! SysTick itself (bare metal): the exception entry, the registers, the counters and the hook.
//!
//! The entry passes the stacked frame and `EXC_RETURN` to [`cortex_m_common_systick`]:
//!
//! ```text
//! tst lr, #4            ; EXC_RETURN bit 2: which stack holds the frame
//! ite eq
//! mrseq r0, msp
//! mrsne r0, psp
//! mov r1, lr            ; r1 = EXC_RETURN
//! push {r4, lr}         ; keeps the handler stack 8-aligned
//! bl cortex_m_common_systick
//! pop {r4, pc}          ; the exception return: restores the frame (and the FP state of an
//!                       ; extended frame, lazily saved if the handler used the FPU)
//! ```

use core::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use super::{Interrupted, TimerConfig, TimerError, reload_value};
use crate::fault::{ExcReturn, StackedFrame};

core::arch::global_asm!(
    ".syntax unified",
    ".section .text.SysTick.cortex_m_common, \"ax\"",
    ".thumb",
    ".p2align 2",
    ".globl SysTick",
    ".type SysTick, %function",
    ".thumb_func",
    "SysTick:",
    "    tst lr, #4",
    "    ite eq",
    "    mrseq r0, msp",
    "    mrsne r0, psp",
    "    mov r1, lr",
    "    push {{r4, lr}}",
    "    bl cortex_m_common_systick",
    "    pop {{r4, pc}}",
    ".size SysTick, . - SysTick",
);

unsafe extern "C" {
    fn SysTick();
}

static RUNNING: AtomicBool = AtomicBool::new(false);
static TICKS: AtomicU32 = AtomicU32::new(0);
static TICKS_IN_WASM: AtomicU32 = AtomicU32::new(0);
static TICKS_IN_WASM_WITH_FP: AtomicU32 = AtomicU32::new(0);

/// The running tick; dropping it (or [`TickTimer::stop`]) stops SysTick.
#[derive(Debug)]
pub struct TickTimer {
    reload: u32,
}

impl TickTimer {
    /// The reload value programmed (`SYST_RVR`): the period is one more core cycle.
    pub fn reload(&self) -> u32 {
        self.reload
    }

    /// `FPCCR` as found at start (bit 31 `ASPEN`, bit 30 `LSPEN`): how the core preserves the
    /// FP context of an interrupted thread.
    pub fn fp_context_control(&self) -> u32 {
        registers::fp_context_control()
    }

    /// `SYST_CALIB` (the board's 10 ms reference count in bits 0-23, if it gives one).
    pub fn calibration(&self) -> u32 {
        registers::calibration()
    }

    /// Stops the tick (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for TickTimer {
    fn drop(&mut self) {
        registers::stop();
        RUNNING.store(false, Ordering::Release);
    }
}

/// Starts SysTick at `config.tick_hz` from the core clock, at the lowest exception priority.
/// Refused if the rate cannot be programmed, if it runs already, or if the FPU is enabled and
/// the core does not preserve the interrupted FP context (`FPCCR.ASPEN`).
pub fn start(config: &TimerConfig) -> Result<TickTimer, TimerError> {
    let reload = reload_value(config.core_clock_hz, config.tick_hz)?;
    if registers::fpu_enabled() && registers::fp_context_control() & registers::FPCCR_ASPEN == 0 {
        return Err(TimerError::FpContextNotPreserved);
    }
    if RUNNING
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(TimerError::AlreadyRunning);
    }
    // The handler must be the one in the vector table: referencing it links this object in,
    // so its `SysTick` wins over cortex-m-rt's `PROVIDE`d default.
    core::hint::black_box(SysTick as unsafe extern "C" fn());
    registers::program(reload);
    Ok(TickTimer { reload })
}

/// Registers the function every tick calls (replacing the previous one), or none. See the
/// module documentation of [`crate::timer`] for what it may do.
pub fn set_tick_hook(hook: Option<fn()>) {
    hook::set(hook);
}

/// SysTick exceptions handled since boot (wrapping at 2^32).
pub fn ticks() -> u32 {
    TICKS.load(Ordering::Relaxed)
}

/// How many of them interrupted wasm code (thread mode, stacked PC in loaded wasm text).
pub fn ticks_in_wasm() -> u32 {
    TICKS_IN_WASM.load(Ordering::Relaxed)
}

/// How many of those had active FP state (the core stacked the extended frame).
pub fn ticks_in_wasm_with_fp_context() -> u32 {
    TICKS_IN_WASM_WITH_FP.load(Ordering::Relaxed)
}

/// Called by the entry above with the stacked frame and `EXC_RETURN`.
// SAFETY: the symbol name is unique in the firmware (crate-prefixed) and only the SysTick entry
// above calls it, with the argument types of this signature.
#[unsafe(no_mangle)]
extern "C" fn cortex_m_common_systick(frame: *const StackedFrame, exc_return: u32) {
    if !RUNNING.load(Ordering::Acquire) {
        crate::fault::vectors::cortex_m_common_unexpected_exception(15);
    }
    let interrupted = Interrupted::classify(ExcReturn(exc_return), || {
        // SAFETY: the entry passes the stack pointer that was current when the core stacked
        // this exception's frame (selected by EXC_RETURN bit 2); the handler is running, so
        // stacking succeeded and the frame's eight words (the first eight of an extended
        // frame too) are there, unchanged until the exception returns.
        let pc = unsafe { core::ptr::addr_of!((*frame).pc).read_volatile() };
        device_runtime::fault::in_wasm_text(pc as usize)
    });
    TICKS.fetch_add(1, Ordering::Relaxed);
    if interrupted.wasm {
        TICKS_IN_WASM.fetch_add(1, Ordering::Relaxed);
        if interrupted.fp_context {
            TICKS_IN_WASM_WITH_FP.fetch_add(1, Ordering::Relaxed);
        }
    }
    hook::call();
}

/// The tick hook: a `fn()` kept in an atomic pointer, so the handler reads it without a lock.
mod hook {
    use core::sync::atomic::{AtomicPtr, Ordering};

    static HOOK: AtomicPtr<()> = AtomicPtr::new(core::ptr::null_mut());

    pub fn set(hook: Option<fn()>) {
        let pointer = hook.map_or(core::ptr::null_mut(), |f| f as *mut ());
        HOOK.store(pointer, Ordering::Release);
    }

    pub fn call() {
        let pointer = HOOK.load(Ordering::Acquire);
        if pointer.is_null() {
            return;
        }
        // SAFETY: `set` is the only writer, and it stores either null (excluded above) or a
        // `fn()` converted to a data pointer (same size, Thumb bit kept); turning it back
        // gives that same function.
        let hook = unsafe { core::mem::transmute::<*mut (), fn()>(pointer) };
        hook();
    }
}

/// The System Control Space registers of SysTick, the only unsafe part.
mod registers {
    /// `SYST_CSR`: bit 0 ENABLE, bit 1 TICKINT, bit 2 CLKSOURCE (1: the core clock).
    const SYST_CSR: usize = 0xe000_e010;
    /// `SYST_RVR`: the reload value.
    const SYST_RVR: usize = 0xe000_e014;
    /// `SYST_CVR`: the current value (any write clears it and the COUNTFLAG).
    const SYST_CVR: usize = 0xe000_e018;
    /// `SYST_CALIB`.
    const SYST_CALIB: usize = 0xe000_e01c;
    /// `ICSR`: bit 25 PENDSTCLR.
    const ICSR: usize = 0xe000_ed04;
    /// `SHPR3` byte 3: SysTick's priority.
    const SHPR3_SYSTICK: usize = 0xe000_ed23;
    /// `CPACR`: CP10/CP11 access in bits 20-23.
    const CPACR: usize = 0xe000_ed88;
    /// `FPCCR`.
    const FPCCR: usize = 0xe000_ef34;

    const CSR_ENABLE_INTERRUPT_CORE_CLOCK: u32 = 0b111;
    const ICSR_PENDSTCLR: u32 = 1 << 25;
    /// The lowest priority (the implemented high bits of it).
    const LOWEST_PRIORITY: u8 = 0xff;
    /// `FPCCR.ASPEN`: the core sets `CONTROL.FPCA` on FP use and stacks the FP context.
    pub const FPCCR_ASPEN: u32 = 1 << 31;

    fn read(address: usize) -> u32 {
        // SAFETY: every caller passes one of the architecturally defined System Control Space
        // registers above (word-aligned, always present on ARMv7-M and ARMv8-M Mainline with
        // the FP extension these boards have); reading them has no side effect.
        unsafe { core::ptr::read_volatile(address as *const u32) }
    }

    /// Whether the FPU is enabled (`CPACR` CP10 or CP11 access not "denied").
    pub fn fpu_enabled() -> bool {
        read(CPACR) & (0xf << 20) != 0
    }

    /// `FPCCR`.
    pub fn fp_context_control() -> u32 {
        read(FPCCR)
    }

    /// `SYST_CALIB`.
    pub fn calibration() -> u32 {
        read(SYST_CALIB)
    }

    /// Programs and starts SysTick: stopped, reload, counter cleared, lowest priority, then
    /// enabled with its exception on the core clock.
    pub fn program(reload: u32) {
        // SAFETY: these are SysTick's and the System Handler Priority's registers; the writes
        // configure and start SysTick, whose handler (`SysTick` above) is linked in and
        // expects it (the caller set RUNNING first). Nothing else changes.
        unsafe {
            core::ptr::write_volatile(SYST_CSR as *mut u32, 0);
            core::ptr::write_volatile(SYST_RVR as *mut u32, reload);
            core::ptr::write_volatile(SYST_CVR as *mut u32, 0);
            core::ptr::write_volatile(SHPR3_SYSTICK as *mut u8, LOWEST_PRIORITY);
            core::ptr::write_volatile(SYST_CSR as *mut u32, CSR_ENABLE_INTERRUPT_CORE_CLOCK);
        }
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }

    /// Stops SysTick and clears a pending SysTick exception.
    pub fn stop() {
        // SAFETY: disabling SysTick and clearing its pending bit only withdraw its exception.
        unsafe {
            core::ptr::write_volatile(SYST_CSR as *mut u32, 0);
            core::ptr::write_volatile(ICSR as *mut u32, ICSR_PENDSTCLR);
        }
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}
