//! The tick interrupt: the EL1 physical generic timer (`CNTP_*_EL0`, non-secure physical timer
//! PPI, INTID [`INTID`] on the `virt` machine: its device tree lists the secure, non-secure,
//! virtual and hypervisor timers as PPIs 13, 14, 11, 10, i.e. INTIDs 29, 30, 27, 26) through
//! the GIC ([`crate::gic`]), at a configurable rate. It is the tick source of the runtime's
//! epochs: each interrupt counts one tick and calls the *tick hook*, a `fn()` registered with
//! [`set_tick_hook`] (for epochs: the function that increments the engine's epoch counter).
//!
//! # The interrupt path
//!
//! The program runs with IRQs masked until [`start`] unmasks them (`DAIF.I`); exception
//! handlers always run with them masked, so the only IRQ vector in use is "current EL with
//! `SP_EL0`" ([`crate::exceptions`]). That vector saves the whole interrupted context on the
//! exception stack (`SP_EL1`): x0-x30, `ELR_EL1`, `SPSR_EL1` (which holds NZCV), `FPCR`, `FPSR`
//! and all of q0-q31 (128 bits each: AAPCS64 preserves only the low halves of v8-v15 across a
//! call, and wasm code keeps values in every vector register), then calls
//! [`crate::exceptions`]' dispatcher, which acknowledges the interrupt (`GICC_IAR`), runs
//! [`on_interrupt`] for the timer, ends it (`GICC_EOIR`), and returns through `eret` into the
//! exact interrupted state. Any other interrupt ID is unexpected and fatal.
//!
//! [`on_interrupt`] re-arms before the end of interrupt (the timer's interrupt is
//! level-sensitive: it stays asserted while the compare condition holds), moving the compare
//! value one period on ([`crate::tick::next_deadline`]: no drift; late interrupts drop the
//! periods that passed instead of delivering a burst), then counts the tick and calls the
//! hook.
//!
//! # The hook's rules
//!
//! It runs in the interrupt handler, IRQs masked, on the exception stack (16 KiB, shared with
//! the handler's frames): it must be short, must not block or take a lock that the interrupted
//! program may hold (the console's, an allocator's), and must not panic. It may use floating
//! point and SIMD registers freely (they are restored on return).

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::gic;
use crate::tick::{self, TickError};

/// The interrupt ID of the EL1 non-secure physical timer (PPI 14).
pub const INTID: u32 = 30;
/// Its GIC priority (any value below [`gic::PRIORITY_MASK`]; it is the only interrupt).
const PRIORITY: u8 = 0x80;

/// The timer's configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimerConfig {
    /// Interrupts per second (default 1000: a 1 ms epoch tick).
    pub tick_hz: u32,
}

impl Default for TimerConfig {
    fn default() -> Self {
        TimerConfig { tick_hz: 1000 }
    }
}

impl TimerConfig {
    /// A configuration ticking `tick_hz` times per second.
    pub fn with_rate(tick_hz: u32) -> Self {
        TimerConfig { tick_hz }
    }
}

/// Why the timer did not start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimerError {
    /// It is already running (one [`TickTimer`] at a time).
    AlreadyRunning,
    /// The rate cannot be programmed.
    Rate(TickError),
}

impl core::fmt::Display for TimerError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TimerError::AlreadyRunning => f.write_str("the tick timer is already running"),
            TimerError::Rate(e) => write!(f, "tick rate: {e}"),
        }
    }
}

impl core::error::Error for TimerError {}

const _: () = assert!(core::mem::size_of::<TimerError>() <= 24);

/// The running timer; dropping it (or [`TickTimer::stop`]) stops the interrupts.
#[derive(Debug)]
pub struct TickTimer {
    period: u64,
    counter_hz: u64,
}

impl TickTimer {
    /// The period in counter steps.
    pub fn period(&self) -> u64 {
        self.period
    }

    /// The counter's frequency (`CNTFRQ_EL0`), in Hz.
    pub fn counter_hz(&self) -> u64 {
        self.counter_hz
    }

    /// Stops the interrupts (the same as dropping it).
    pub fn stop(self) {}
}

impl Drop for TickTimer {
    fn drop(&mut self) {
        registers::mask_irqs();
        registers::set_control(0);
        gic::disable_private(INTID);
        RUNNING.store(false, Ordering::Release);
    }
}

static RUNNING: AtomicBool = AtomicBool::new(false);
static PERIOD: AtomicU64 = AtomicU64::new(0);
static TICKS: AtomicU64 = AtomicU64::new(0);
static TICKS_IN_WASM: AtomicU64 = AtomicU64::new(0);
static DROPPED: AtomicU64 = AtomicU64::new(0);

/// Starts the tick interrupt at `config.tick_hz`: programs the first deadline one period from
/// now, enables the timer's PPI in the GIC and unmasks IRQs.
pub fn start(config: &TimerConfig) -> Result<TickTimer, TimerError> {
    if RUNNING
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(TimerError::AlreadyRunning);
    }
    let counter_hz = registers::frequency();
    let period = match tick::period(counter_hz, config.tick_hz) {
        Ok(period) => period,
        Err(e) => {
            RUNNING.store(false, Ordering::Release);
            return Err(TimerError::Rate(e));
        }
    };
    PERIOD.store(period, Ordering::Relaxed);
    gic::init();
    registers::set_compare(registers::now().saturating_add(period));
    registers::set_control(CONTROL_ENABLE);
    gic::enable_private(INTID, PRIORITY);
    registers::unmask_irqs();
    Ok(TickTimer { period, counter_hz })
}

/// Registers the function every tick calls (replacing the previous one), or none. See the
/// module documentation for what it may do.
pub fn set_tick_hook(hook: Option<fn()>) {
    hook::set(hook);
}

/// Timer interrupts taken since boot.
pub fn ticks() -> u64 {
    TICKS.load(Ordering::Relaxed)
}

/// How many of them interrupted wasm code (the interrupted PC in the text of a loaded module).
pub fn ticks_in_wasm() -> u64 {
    TICKS_IN_WASM.load(Ordering::Relaxed)
}

/// Periods dropped because an interrupt was taken more than a period late.
pub fn dropped_ticks() -> u64 {
    DROPPED.load(Ordering::Relaxed)
}

/// The physical counter (`CNTPCT_EL0`), which the timer compares with.
pub fn counter() -> u64 {
    registers::now()
}

/// The counter's frequency in Hz (`CNTFRQ_EL0`).
pub fn counter_frequency() -> u64 {
    registers::frequency()
}

/// Handles a timer interrupt that interrupted the program at `interrupted_pc`: re-arm, count,
/// call the hook. `false` if the timer is not running (the interrupt is then unexpected).
/// Called by the IRQ dispatcher between acknowledge and end of interrupt.
pub(crate) fn on_interrupt(interrupted_pc: u64) -> bool {
    if !RUNNING.load(Ordering::Acquire) {
        return false;
    }
    let period = PERIOD.load(Ordering::Relaxed);
    let (next, dropped) = tick::next_deadline(registers::compare(), registers::now(), period);
    registers::set_compare(next);
    TICKS.fetch_add(1, Ordering::Relaxed);
    if dropped != 0 {
        DROPPED.fetch_add(dropped, Ordering::Relaxed);
    }
    if device_runtime::fault::in_wasm_text(interrupted_pc as usize) {
        TICKS_IN_WASM.fetch_add(1, Ordering::Relaxed);
    }
    hook::call();
    true
}

/// `CNTP_CTL_EL0.ENABLE` (with `IMASK` clear: the interrupt is asserted at the deadline).
const CONTROL_ENABLE: u64 = 1;

/// The tick hook: a `fn()` kept in an atomic pointer, so the interrupt reads it without a lock.
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
        // `fn()` converted to a data pointer, which has the same size on this target; turning
        // it back gives that same function.
        let hook = unsafe { core::mem::transmute::<*mut (), fn()>(pointer) };
        hook();
    }
}

/// The generic timer's system registers and the IRQ mask, the only unsafe part.
mod registers {
    use core::arch::asm;

    /// `CNTFRQ_EL0`.
    pub fn frequency() -> u64 {
        let value: u64;
        // SAFETY: reading CNTFRQ_EL0 has no side effect.
        unsafe { asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack)) };
        value
    }

    /// `CNTPCT_EL0`, read after the instructions before it (`isb`).
    pub fn now() -> u64 {
        let value: u64;
        // SAFETY: reading CNTPCT_EL0 has no side effect (EL1 may read it: QEMU's virt machine
        // has no EL2 by default, and the boot code enables EL1 access when it drops from EL2).
        unsafe { asm!("isb", "mrs {}, cntpct_el0", out(reg) value, options(nomem, nostack)) };
        value
    }

    /// `CNTP_CVAL_EL0`.
    pub fn compare() -> u64 {
        let value: u64;
        // SAFETY: reading CNTP_CVAL_EL0 has no side effect.
        unsafe { asm!("mrs {}, cntp_cval_el0", out(reg) value, options(nomem, nostack)) };
        value
    }

    /// Sets `CNTP_CVAL_EL0`: the timer condition holds once the counter reaches it.
    pub fn set_compare(value: u64) {
        // SAFETY: the compare value only decides when the timer asserts its interrupt.
        unsafe { asm!("msr cntp_cval_el0, {}", "isb", in(reg) value, options(nomem, nostack)) };
    }

    /// Sets `CNTP_CTL_EL0` (ENABLE, IMASK).
    pub fn set_control(value: u64) {
        // SAFETY: the control register only enables the timer and masks its interrupt.
        unsafe { asm!("msr cntp_ctl_el0, {}", "isb", in(reg) value, options(nomem, nostack)) };
    }

    /// Unmasks IRQs (`DAIF.I` clear): the timer's interrupt can be taken from here on.
    pub fn unmask_irqs() {
        // SAFETY: the IRQ vector saves and restores the whole interrupted context (the
        // interrupted code observes nothing), and the GIC has only the timer's interrupt
        // enabled, whose handler is installed. Not `nomem`: an interrupt handler may write
        // memory (the tick counters) from here on, so the compiler must not move accesses
        // across it.
        unsafe { asm!("msr daifclr, #2", "isb", options(nostack)) };
    }

    /// Masks IRQs (`DAIF.I` set).
    pub fn mask_irqs() {
        // SAFETY: masking interrupts only delays them. Not `nomem`, as above.
        unsafe { asm!("msr daifset, #2", "isb", options(nostack)) };
    }
}
