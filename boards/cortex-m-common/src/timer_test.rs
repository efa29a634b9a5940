//! The Cortex-M boards' `test_timer` firmware (each board's `examples/test_timer.rs` calls
//! [`main`] with its [`TimerTestBoard`]).
//!
//! The tick interrupt (the epoch tick source): SysTick at 1 kHz from the board's core clock,
//! interrupting a long wasm computation that is mostly FPU work (`wasm/timer.wat`: f32
//! division, square root, values through subnormals, and an i32 hash) whose result must be
//! bit-identical to the same computation with the timer off.
//!
//! The tick hook registered for the run is hostile on purpose: it overwrites s0-s15 and
//! switches `FPSCR` to round-towards-zero with flush-to-zero and default NaN, and restores
//! none of it. Only the hardware's preservation of the interrupted FP context (the extended
//! frame, lazily stacked on the hook's first FP instruction, restored by the exception return)
//! keeps the wasm code's registers and rounding mode, so a broken one shows as a different
//! hash. Checks, each printed as `[ok]`:
//!
//! * impossible rates are typed errors, and a second start is refused while one runs;
//! * the core preserves the FP context (`FPCCR.ASPEN`, `LSPEN`);
//! * many ticks arrived during the computation, most of them in wasm code with active FP
//!   state (extended frame), and the hook ran once per tick;
//! * the result is bit-identical to the timer-off run (and stable across two off runs);
//! * once stopped, no tick arrives; the firmware's own `FPSCR` control bits are unchanged.
//!
//! Prints `timer test: passed` and exits 0.

use core::sync::atomic::{AtomicU32, Ordering};

use device_runtime::{Engine, EngineConfig, Error, Linker, Module, Store, TypedFunc};

use crate::println;
use crate::timer::{self, TimerConfig, TimerError};

/// What the test needs from a board.
#[derive(Debug)]
pub struct TimerTestBoard {
    /// The core clock SysTick counts, in Hz.
    pub core_clock_hz: u32,
    /// The board's engine configuration.
    pub config: EngineConfig,
    /// `wasm/timer.wat` compiled for the board's core.
    pub image: &'static [u8],
}
/// Loop iterations of one `work` call.
const ITERATIONS: i32 = 1_000_000;
/// Ticks the timer-on run must at least see (1 kHz).
const MIN_TICKS: u32 = 20;

/// The control bits of `FPSCR`: AHP (26), DN (25), FZ (24), RMode (22-23).
const FPSCR_CONTROL: u32 = 0b1_1111 << 22;

static HOOK_CALLS: AtomicU32 = AtomicU32::new(0);

/// The tick hook of the run: counts, then clobbers s0-s15 and `FPSCR`.
fn hostile_hook() {
    HOOK_CALLS.fetch_add(1, Ordering::Relaxed);
    clobber::fp_state();
}

/// The hook's register clobbering and the `FPSCR` read, the only unsafe part.
mod clobber {
    use core::arch::asm;

    /// Writes values into s0-s15 and sets `FPSCR.{RMode = RZ, FZ, DN}` (bits 22-25), leaving
    /// them so.
    pub fn fp_state() {
        // SAFETY: every register written is declared as an output (clobbered); changing FPSCR
        // affects only floating-point code run afterwards in this exception handler, which
        // has none, and the exception return restores the interrupted context's FPSCR (or the
        // next FP context starts from FPDSCR).
        unsafe {
            asm!(
                "vmrs {tmp}, fpscr",
                "orr {tmp}, {tmp}, #0x3c00000",
                "vmsr fpscr, {tmp}",
                "vmov.f32 s0, #-1.5", "vmov.f32 s1, #31.0", "vmov.f32 s2, #0.125",
                "vmov.f32 s3, #-2.0", "vmov.f32 s4, #1.0", "vmov.f32 s5, #-1.5",
                "vmov.f32 s6, #31.0", "vmov.f32 s7, #0.125", "vmov.f32 s8, #-2.0",
                "vmov.f32 s9, #1.0", "vmov.f32 s10, #-1.5", "vmov.f32 s11, #31.0",
                "vmov.f32 s12, #0.125", "vmov.f32 s13, #-2.0", "vmov.f32 s14, #1.0",
                "vmov.f32 s15, #-1.5",
                tmp = out(reg) _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                options(nomem, nostack),
            )
        };
    }

    /// `FPSCR`.
    pub fn fpscr() -> u32 {
        let value: u32;
        // SAFETY: reading FPSCR has no side effect (the FPU is enabled at reset by
        // cortex-m-rt on this eabihf target).
        unsafe { asm!("vmrs {}, fpscr", out(reg) value, options(nomem, nostack)) };
        value
    }
}

/// Runs the test on `board` and returns the exit status (0 only if every check passed).
pub fn main(board: TimerTestBoard) -> u32 {
    match run(&board) {
        Ok(true) => {
            println!("timer test: passed");
            0
        }
        Ok(false) => {
            println!("timer test: FAILED");
            1
        }
        Err(e) => {
            println!("timer test: error: {e}");
            1
        }
    }
}

fn check(ok: bool, what: core::fmt::Arguments<'_>) -> bool {
    println!("[{}] {what}", if ok { "ok" } else { "FAIL" });
    ok
}

fn run(board: &TimerTestBoard) -> Result<bool, Error> {
    let mut passed = true;
    let fpscr_before = clobber::fpscr();

    passed &= check(
        timer::start(&TimerConfig::new(board.core_clock_hz, 0)).err() == Some(TimerError::ZeroRate),
        format_args!("a 0 Hz rate is refused"),
    );
    passed &= check(
        matches!(
            timer::start(&TimerConfig::new(board.core_clock_hz, 1)),
            Err(TimerError::RateTooLow { .. })
        ),
        format_args!(
            "a 1 Hz rate (beyond 24 bits at {} MHz) is refused",
            board.core_clock_hz / 1_000_000
        ),
    );

    let engine = Engine::new(&board.config);
    let module = Module::new(&engine, board.image)?;
    let mut store = Store::try_new(&engine, ())?;
    let instance = Linker::<()>::new(&engine).instantiate(&mut store, &module)?;
    let work: TypedFunc<i32, i32> = instance.get_typed_func(&store, "work")?;

    // The reference: timer off (twice: the computation itself is deterministic).
    let reference = work.call(&mut store, ITERATIONS)?;
    let again = work.call(&mut store, ITERATIONS)?;
    passed &= check(
        reference == again && timer::ticks() == 0,
        format_args!("timer off: work({ITERATIONS}) = {reference:#010x}, twice, no tick"),
    );

    timer::set_tick_hook(Some(hostile_hook));
    let ticking = match timer::start(&TimerConfig::new(board.core_clock_hz, 1000)) {
        Ok(ticking) => ticking,
        Err(e) => {
            println!("[FAIL] timer start: {e}");
            return Ok(false);
        }
    };
    passed &= check(
        timer::start(&TimerConfig::new(board.core_clock_hz, 1000)).err()
            == Some(TimerError::AlreadyRunning),
        format_args!("a second start is refused while the timer runs"),
    );
    let fpccr = ticking.fp_context_control();
    passed &= check(
        fpccr & (0b11 << 30) == 0b11 << 30,
        format_args!("FP context preserved on exceptions, lazily (FPCCR = {fpccr:#010x})"),
    );
    let (ticks0, in_wasm0, with_fp0) = (
        timer::ticks(),
        timer::ticks_in_wasm(),
        timer::ticks_in_wasm_with_fp_context(),
    );
    let result = work.call(&mut store, ITERATIONS)?;
    let ticks = timer::ticks() - ticks0;
    let in_wasm = timer::ticks_in_wasm() - in_wasm0;
    let with_fp = timer::ticks_in_wasm_with_fp_context() - with_fp0;
    let reload = ticking.reload();
    let calibration = ticking.calibration();
    ticking.stop();
    timer::set_tick_hook(None);
    let hook_calls = HOOK_CALLS.load(Ordering::Relaxed);

    println!(
        "timer on: {ticks} ticks at 1 kHz (SysTick reload {reload}, SYST_CALIB {calibration:#010x}) \
         during work({ITERATIONS}), {in_wasm} in wasm code, {with_fp} of them with FP state"
    );
    passed &= check(
        result == reference,
        format_args!("timer on: work({ITERATIONS}) = {result:#010x}, bit-identical"),
    );
    passed &= check(
        ticks >= MIN_TICKS,
        format_args!("at least {MIN_TICKS} ticks during the computation"),
    );
    passed &= check(
        in_wasm * 2 >= ticks && in_wasm > 0,
        format_args!("most ticks interrupted wasm code"),
    );
    passed &= check(
        with_fp * 2 >= in_wasm && with_fp > 0,
        format_args!("most of those interrupted it with active FP state (extended frame)"),
    );
    passed &= check(
        hook_calls == timer::ticks(),
        format_args!("the hook ran once per tick ({hook_calls})"),
    );

    // Stopped: a while of computation, no tick.
    let stopped_at = timer::ticks();
    let quiet = work.call(&mut store, ITERATIONS / 10)?;
    passed &= check(
        timer::ticks() == stopped_at,
        format_args!(
            "no tick once stopped (work({}) = {quiet:#x})",
            ITERATIONS / 10
        ),
    );
    // The control bits (AHP, DN, FZ, RMode: 22-26); the cumulative exception flags (0-7) are
    // the wasm computations' own (inexact, underflow).
    let fpscr_after = clobber::fpscr();
    passed &= check(
        fpscr_after & FPSCR_CONTROL == fpscr_before & FPSCR_CONTROL,
        format_args!(
            "the firmware's FPSCR control bits are unchanged ({fpscr_before:#010x}, \
             {fpscr_after:#010x} with the flags)"
        ),
    );
    Ok(passed)
}
