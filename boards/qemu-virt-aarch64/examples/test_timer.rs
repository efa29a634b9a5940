//! The tick interrupt (the epoch tick source): the EL1 physical generic timer through the GIC
//! at 1 kHz, interrupting a long wasm computation (`wasm/timer.wat`: f64, f32 through
//! subnormals, i64) whose result must be bit-identical to the same computation with the timer
//! off.
//!
//! The tick hook registered for the run is hostile on purpose: it overwrites all of v0-v31
//! and switches `FPCR` to round-towards-zero with flush-to-zero and default NaN, and does not
//! restore any of it. Only the IRQ path's save and restore of the whole context keeps the
//! interrupted wasm code's registers and rounding mode, so a missing save shows as a
//! different hash. Checks, each printed as `[ok]`:
//!
//! * impossible rates are typed errors, and a second start is refused while one runs;
//! * many ticks arrived during the computation, most of them with the PC in wasm text, the
//!   hook ran once per tick, and the tick count matches the counter's elapsed time (ticks +
//!   dropped periods = elapsed / period, within one, counting the periods on both sides of
//!   each counter sample so that a tick between the reads cannot fail it);
//! * the result is bit-identical to the timer-off run (and stable across two off runs);
//! * once stopped, no tick arrives;
//! * the firmware's own `FPCR` is the same before and after.
//!
//! Prints `timer test: passed` and exits 0.

#![no_std]
#![no_main]

use core::sync::atomic::{AtomicU64, Ordering};

use device_runtime::{Engine, Error, Linker, Module, Store, TypedFunc};
use qemu_virt_aarch64::tick::TickError;
use qemu_virt_aarch64::timer::{self, TimerConfig, TimerError};
use qemu_virt_aarch64::{self as board, println};

board::entry!(main);

/// Loop iterations of one `work` call (each about 70 instructions).
const ITERATIONS: i32 = 3_000_000;
/// Ticks the timer-on run must at least see (1 kHz).
const MIN_TICKS: u64 = 20;

static HOOK_CALLS: AtomicU64 = AtomicU64::new(0);

/// The tick hook of the run: counts, then clobbers every FP/SIMD register and `FPCR`.
fn hostile_hook() {
    HOOK_CALLS.fetch_add(1, Ordering::Relaxed);
    clobber::fp_state();
}

/// The hook's register clobbering and the `FPCR` read, the only unsafe part.
mod clobber {
    use core::arch::asm;

    /// Writes a pattern into all of v0-v31 and sets `FPCR.{RMode = RZ, FZ, DN}` (bits 22-25),
    /// leaving them so.
    pub fn fp_state() {
        // SAFETY: every register written is declared as an output (clobbered), so the
        // compiler preserves whatever it needs (d8-d15) around the block; changing FPCR
        // affects only floating-point code run afterwards in this interrupt handler, which
        // has none, and the IRQ path restores the interrupted FPCR before `eret`.
        unsafe {
            asm!(
                "mrs {tmp}, fpcr",
                "orr {tmp}, {tmp}, #0x3c00000",
                "msr fpcr, {tmp}",
                "movi v0.16b, #0xa5", "movi v1.16b, #0x5a", "movi v2.16b, #0xff",
                "movi v3.16b, #0x7f", "movi v4.16b, #0x80", "movi v5.16b, #0x01",
                "movi v6.16b, #0xa5", "movi v7.16b, #0x5a", "movi v8.16b, #0xff",
                "movi v9.16b, #0x7f", "movi v10.16b, #0x80", "movi v11.16b, #0x01",
                "movi v12.16b, #0xa5", "movi v13.16b, #0x5a", "movi v14.16b, #0xff",
                "movi v15.16b, #0x7f", "movi v16.16b, #0x80", "movi v17.16b, #0x01",
                "movi v18.16b, #0xa5", "movi v19.16b, #0x5a", "movi v20.16b, #0xff",
                "movi v21.16b, #0x7f", "movi v22.16b, #0x80", "movi v23.16b, #0x01",
                "movi v24.16b, #0xa5", "movi v25.16b, #0x5a", "movi v26.16b, #0xff",
                "movi v27.16b, #0x7f", "movi v28.16b, #0x80", "movi v29.16b, #0x01",
                "movi v30.16b, #0xa5", "movi v31.16b, #0x5a",
                tmp = out(reg) _,
                out("v0") _, out("v1") _, out("v2") _, out("v3") _,
                out("v4") _, out("v5") _, out("v6") _, out("v7") _,
                out("v8") _, out("v9") _, out("v10") _, out("v11") _,
                out("v12") _, out("v13") _, out("v14") _, out("v15") _,
                out("v16") _, out("v17") _, out("v18") _, out("v19") _,
                out("v20") _, out("v21") _, out("v22") _, out("v23") _,
                out("v24") _, out("v25") _, out("v26") _, out("v27") _,
                out("v28") _, out("v29") _, out("v30") _, out("v31") _,
                options(nomem, nostack),
            )
        };
    }

    /// `FPCR`.
    pub fn fpcr() -> u64 {
        let value: u64;
        // SAFETY: reading FPCR has no side effect.
        unsafe { asm!("mrs {}, fpcr", out(reg) value, options(nomem, nostack)) };
        value
    }
}

fn main() -> u32 {
    match run() {
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

fn run() -> Result<bool, Error> {
    let mut passed = true;
    let fpcr_before = clobber::fpcr();

    passed &= check(
        timer::start(&TimerConfig::with_rate(0)).err()
            == Some(TimerError::Rate(TickError::ZeroRate)),
        format_args!("a 0 Hz rate is refused"),
    );
    let too_fast = timer::start(&TimerConfig::with_rate(u32::MAX));
    passed &= check(
        matches!(
            too_fast,
            Err(TimerError::Rate(TickError::RateAboveCounter { .. }))
        ),
        format_args!(
            "a rate above the counter frequency ({} Hz) is refused",
            timer::counter_frequency()
        ),
    );

    let engine = Engine::new(&board::engine_config());
    let module = Module::new(&engine, device_runtime::include_image!("timer.img").bytes())?;
    let mut store = Store::try_new(&engine, ())?;
    let instance = Linker::<()>::new(&engine).instantiate(&mut store, &module)?;
    let work: TypedFunc<i32, i64> = instance.get_typed_func(&store, "work")?;

    // The reference: timer off (twice: the computation itself is deterministic).
    let reference = work.call(&mut store, ITERATIONS)?;
    let again = work.call(&mut store, ITERATIONS)?;
    passed &= check(
        reference == again && timer::ticks() == 0,
        format_args!("timer off: work({ITERATIONS}) = {reference:#018x}, twice, no tick"),
    );

    timer::set_tick_hook(Some(hostile_hook));
    let ticking = match timer::start(&TimerConfig::default()) {
        Ok(ticking) => ticking,
        Err(e) => {
            println!("[FAIL] timer start: {e}");
            return Ok(false);
        }
    };
    passed &= check(
        timer::start(&TimerConfig::default()).err() == Some(TimerError::AlreadyRunning),
        format_args!("a second start is refused while the timer runs"),
    );
    // Periods accounted for so far (ticks taken and periods dropped), read on both sides of
    // each counter sample: a tick may land between the two reads (and a host that stalls QEMU
    // may make it a late one, dropping many periods), so the periods of the measured counter
    // time lie between the bracketing differences.
    let periods = || timer::ticks() + timer::dropped_ticks();
    let (ticks0, in_wasm0, dropped0) = (
        timer::ticks(),
        timer::ticks_in_wasm(),
        timer::dropped_ticks(),
    );
    let before0 = periods();
    let counter0 = timer::counter();
    let after0 = periods();
    let result = work.call(&mut store, ITERATIONS)?;
    let before1 = periods();
    let counter1 = timer::counter();
    let after1 = periods();
    let ticks = timer::ticks() - ticks0;
    let in_wasm = timer::ticks_in_wasm() - in_wasm0;
    let dropped = timer::dropped_ticks() - dropped0;
    let period = ticking.period();
    let counter_hz = ticking.counter_hz();
    ticking.stop();
    timer::set_tick_hook(None);
    let hook_calls = HOOK_CALLS.load(Ordering::Relaxed);

    let elapsed = counter1 - counter0;
    let expected = elapsed / period;
    println!(
        "timer on: {ticks} ticks at 1 kHz ({counter_hz} Hz counter, period {period}) during \
         work({ITERATIONS}), {in_wasm} in wasm code, {dropped} dropped; {} ms of counter time",
        elapsed * 1000 / counter_hz
    );
    passed &= check(
        result == reference,
        format_args!("timer on: work({ITERATIONS}) = {result:#018x}, bit-identical"),
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
        hook_calls == timer::ticks(),
        format_args!("the hook ran once per tick ({hook_calls})"),
    );
    let (fewest, most) = (before1 - after0, after1 - before0);
    passed &= check(
        fewest <= expected + 1 && expected <= most + 1,
        format_args!(
            "ticks + dropped periods ({fewest}..={most}) = counter time / period ({expected}), \
             within one"
        ),
    );

    // Stopped: a while of counter time, no tick.
    let stopped_at = timer::ticks();
    let quiet = work.call(&mut store, ITERATIONS / 10)?;
    passed &= check(
        timer::ticks() == stopped_at,
        format_args!(
            "no tick once stopped (work({}) = {quiet:#x})",
            ITERATIONS / 10
        ),
    );
    passed &= check(
        clobber::fpcr() == fpcr_before,
        format_args!("the firmware's FPCR is unchanged ({fpcr_before:#x})"),
    );
    Ok(passed)
}
