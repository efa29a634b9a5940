//! What the boards' three-task demos (`examples/demo_tasks.rs`) share: the expected results of
//! the tasks of `wasm-epochs/demo_tasks.wat`, computed here, and the demos' fuel part.

use core::fmt;

use device_runtime::{
    Engine, Error, LimitPolicy, Linker, Module, Store, TrapCode, TypedOutcome, YieldReason,
};

/// How a demo prints one line (the board's console; the newline is the board's to add).
pub type Println = fn(fmt::Arguments<'_>);

/// Prints `[ok] what` or `[FAIL] what` and returns `ok`.
pub fn check(println: Println, ok: bool, what: fmt::Arguments<'_>) -> bool {
    println(format_args!("[{}] {what}", if ok { "ok" } else { "FAIL" }));
    ok
}

/// The `count` export's fold.
pub fn expected_count(steps: i32) -> i32 {
    let mut acc: u32 = 0x811c_9dc5;
    for i in 0..steps as u32 {
        acc = (acc ^ i).wrapping_mul(0x0100_0193);
    }
    acc as i32
}

/// The `crc` export's CRC-32 (table-driven, unlike the task's bitwise loop).
pub fn expected_crc(rounds: i32) -> i32 {
    let mut table = [0u32; 256];
    for (n, entry) in table.iter_mut().enumerate() {
        let mut c = n as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                0xedb8_8320 ^ (c >> 1)
            } else {
                c >> 1
            };
        }
        *entry = c;
    }
    let mut crc = u32::MAX;
    for r in 0..rounds as u32 {
        for i in 0..256u32 {
            let byte = r.wrapping_add(i * 13) & 0xff;
            crc = table[((crc ^ byte) & 0xff) as usize] ^ (crc >> 8);
        }
    }
    (!crc) as i32
}

/// Rounds of `crc` in the fuel part.
pub const FUEL_CRC_ROUNDS: i32 = 4;
/// Fuel the host grants the fuel part's call at a time.
pub const FUEL_REFILL: u64 = 25_000;
/// Refills after which the fuel part gives up (a hang guard: it needs 7).
const MAX_REFILLS: u64 = 1_000;

/// The fuel part of the demos (`module` is `demo_tasks.wat` compiled with fuel metering):
/// `crc` of [`FUEL_CRC_ROUNDS`] rounds as a typed resumable call with the yield policy on
/// running out of fuel, granted [`FUEL_REFILL`] at a time: every time it suspends out of fuel
/// the host adds a refill and resumes it. Prints the suspensions and the fuel consumed (the
/// same on every target, by the shared cost model); then checks the result, and that the same
/// call with the trap policy and half that fuel traps out of fuel. Needs one fiber stack.
pub fn fuel_part(println: Println, engine: &Engine, module: &Module) -> Result<bool, Error> {
    let mut store = Store::try_new(engine, ())?;
    store.on_out_of_fuel(LimitPolicy::Yield)?;
    let instance = Linker::<()>::new(engine).instantiate(&mut store, module)?;
    let crc = instance.get_typed_func::<i32, i32>(&store, "crc")?;
    store.set_fuel(FUEL_REFILL)?;
    let mut outcome = crc.call_resumable(&mut store, FUEL_CRC_ROUNDS)?;
    let mut refills = 0u64;
    let result = loop {
        match outcome {
            TypedOutcome::Finished(value) => break Some(value),
            TypedOutcome::Suspended {
                call,
                reason: YieldReason::OutOfFuel,
            } if refills < MAX_REFILLS => {
                refills += 1;
                store.add_fuel(FUEL_REFILL)?;
                outcome = crc.resume(&mut store, call)?;
            }
            TypedOutcome::Suspended { call, reason } => {
                println(format_args!(
                    "fuel: crc suspended for {reason:?} after {refills} refills"
                ));
                store.cancel(call)?;
                break None;
            }
        }
    };
    // A call may end in debt (the blocks after its last fuel check ran beyond the budget).
    let consumed = (refills + 1) * FUEL_REFILL - store.get_fuel()? + store.fuel_debt()?;
    println(format_args!(
        "fuel: crc({FUEL_CRC_ROUNDS}) on refills of {FUEL_REFILL}: {refills} suspensions out \
         of fuel, {consumed} fuel consumed"
    ));
    let want = expected_crc(FUEL_CRC_ROUNDS);
    let mut passed = check(
        println,
        result == Some(want) && refills * FUEL_REFILL < consumed,
        format_args!(
            "crc suspended out of fuel {refills} times, was refilled and resumed, and finished: \
             CRC-32 {want:#010x}"
        ),
    );
    store.on_out_of_fuel(LimitPolicy::Trap)?;
    store.set_fuel(consumed / 2)?;
    let trapped = crc.call(&mut store, FUEL_CRC_ROUNDS);
    passed &= check(
        println,
        matches!(&trapped, Err(e) if e.trap_code() == Some(TrapCode::OutOfFuel)),
        format_args!("with the trap policy, half that fuel traps out of fuel ({trapped:?})"),
    );
    Ok(passed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_results_match_known_values() {
        // The figures the boards' demos print (run-tests.sh expects them).
        assert_eq!(expected_count(6_000_000) as u32, 0x9c93_9d45);
        assert_eq!(expected_crc(3_000) as u32, 0x93cf_5dbd);
        assert_eq!(expected_crc(FUEL_CRC_ROUNDS) as u32, 0xcc03_488a);
        // CRC-32 of nothing.
        assert_eq!(expected_crc(0), 0);
    }
}
