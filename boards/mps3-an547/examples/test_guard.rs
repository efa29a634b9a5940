//! Guard test firmware (run by `run-tests.sh`): an attacker instance traps in every way it
//! can (out-of-bounds stores past the end and below the start of its memory, divide by zero,
//! stack exhaustion); each trap is typed, the firmware keeps running, and a victim instance's
//! memory is bit-identical before and after. Also asks the live MPU (the `TT` instruction)
//! that the victim's front guard and the program stack's guard are inaccessible and the
//! memory read-write.
//!
//! Prints `guard test: passed` and exits 0, or exits 1 after naming the failed check.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store, TrapCode};
use mps3_an547::memory_map::PROGRAM_STACK_GUARD;
use mps3_an547::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    match run() {
        Ok(0) => {
            println!("guard test: passed");
            0
        }
        Ok(failures) => {
            println!("guard test: {failures} check(s) failed");
            1
        }
        Err(e) => {
            println!("guard test: error: {e}");
            1
        }
    }
}

fn check(failures: &mut u32, ok: bool, what: &str) {
    println!("[{}] {what}", if ok { "ok" } else { "FAIL" });
    if !ok {
        *failures += 1;
    }
}

fn expect_trap(
    failures: &mut u32,
    what: &str,
    result: Result<impl core::fmt::Debug, Error>,
    code: TrapCode,
) {
    match result {
        Err(Error::Trap(trap)) => {
            println!("attacker {what}: {trap}");
            check(failures, trap.code == code, "typed trap as expected");
        }
        other => {
            println!("attacker {what}: {other:?}");
            check(failures, false, "expected a trap");
        }
    }
}

/// Seed of the victim's `fill`.
const SEED: u32 = 0x1234;

/// The word `fill(seed)` writes at `address` (the module's formula, recomputed here so that
/// the comparison needs no 64 KiB copy on the stack).
fn pattern(address: u32, seed: u32) -> u32 {
    address.wrapping_add(seed).wrapping_mul(0x9e37_79b1)
}

/// Whether `memory` (64 KiB) holds exactly what `fill(seed)` wrote, byte for byte.
fn filled_with(memory: &[u8], seed: u32) -> bool {
    memory.len() == 65536
        && memory
            .chunks_exact(4)
            .zip((0u32..).step_by(4))
            .all(|(word, address)| word == pattern(address, seed).to_le_bytes())
}

/// Whether the live MPU refuses every access at `address`.
fn inaccessible(address: usize) -> bool {
    let lookup = board::mpu_lookup(address);
    !lookup.readable() && !lookup.writable() && lookup.region().is_none()
}

/// Whether the live MPU allows reads and writes at `address`.
fn read_write(address: usize) -> bool {
    let lookup = board::mpu_lookup(address);
    lookup.readable() && lookup.writable()
}

fn run() -> Result<u32, Error> {
    let mut failures = 0;
    let image = device_runtime::include_image!("guard.img").bytes();
    let engine = Engine::new(&board::engine_config());
    let module = Module::new(&engine, image)?;
    let linker = device_runtime::Linker::<()>::new(&engine);

    check(
        &mut failures,
        inaccessible(PROGRAM_STACK_GUARD.start as usize)
            && inaccessible(PROGRAM_STACK_GUARD.end as usize - 1),
        "program stack guard inaccessible (MPU)",
    );

    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &module)?;
    victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, SEED as i32)?;
    let memory = victim
        .get_memory(&victim_store, "memory")
        .ok_or(Error::MissingExport)?;
    check(
        &mut failures,
        filled_with(memory.data(&victim_store), SEED),
        "victim memory holds the pattern of fill()",
    );
    let base = memory.data(&victim_store).as_ptr() as usize;
    println!("victim memory at {base:#x}, 64 KiB");
    check(
        &mut failures,
        inaccessible(base - 1),
        "front guard below the memory inaccessible (MPU)",
    );
    check(
        &mut failures,
        inaccessible(base - board::MEMORY_GUARD as usize),
        "front guard start inaccessible (MPU)",
    );
    check(
        &mut failures,
        read_write(base) && read_write(base + 65535),
        "memory read-write (MPU)",
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &module)?;
    let store = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store")?;
    let div = attacker.get_typed_func::<(i32, i32), i32>(&attacker_store, "div")?;
    let recurse = attacker.get_typed_func::<i32, i32>(&attacker_store, "recurse")?;
    let faults_before = board::faults_turned_into_traps();
    for (what, address) in [
        ("store(65536)", 65536),
        ("store(65533)", 65533),
        ("store(-4)", -4),
        ("store(0x7fff_fffc)", 0x7fff_fffc),
    ] {
        expect_trap(
            &mut failures,
            what,
            store.call(&mut attacker_store, (address, -1)),
            TrapCode::MemoryOutOfBounds,
        );
    }
    expect_trap(
        &mut failures,
        "div(1, 0)",
        div.call(&mut attacker_store, (1, 0)),
        TrapCode::IntegerDivisionByZero,
    );
    expect_trap(
        &mut failures,
        "recurse(0)",
        recurse.call(&mut attacker_store, 0),
        TrapCode::StackOverflow,
    );
    let faults = board::faults_turned_into_traps() - faults_before;
    println!("faults turned into traps: {faults}");
    check(
        &mut failures,
        faults >= 1,
        "faults in wasm code (udf trap sites) reached the trap path through the fault handlers",
    );

    // The attacker still works after its traps.
    store.call(&mut attacker_store, (0, 7))?;
    let seven = attacker
        .get_typed_func::<i32, i32>(&attacker_store, "load")?
        .call(&mut attacker_store, 0)?;
    check(
        &mut failures,
        seven == 7,
        "attacker instance still runs after its traps",
    );

    check(
        &mut failures,
        filled_with(memory.data(&victim_store), SEED),
        "victim memory bit-identical before and after",
    );
    let first = victim
        .get_typed_func::<i32, i32>(&victim_store, "load")?
        .call(&mut victim_store, 0)?;
    check(
        &mut failures,
        first as u32 == pattern(0, SEED),
        "victim instance still runs",
    );
    Ok(failures)
}
