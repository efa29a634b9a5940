//! Front-guard test firmware (run by `run-tests.sh`): a deliberately broken image, whose `poke`
//! function is hand-made Thumb-2 (built by `build.rs` from `wasm/front_guard.wat`, re-sealed)
//! that stores at its linear memory's base - 4, is stopped by the MPU: the front guard is a
//! hole in the PMSAv8 map, so the store raises a MemManage fault (DACCVIOL, MMFAR = the
//! address) and writes nothing. The store's PC is in wasm text but not in the image's trap
//! table; the address lies in a live slot's front guard, so the fault handler's guard rule
//! (`cortex_m_common::fault`) turns it into `out of bounds memory access`, and the board keeps
//! running: another instance is called successfully afterwards, its memory is bit-identical,
//! the guard is still inaccessible and the attacker instance itself still works.
//!
//! Prints `front guard test: passed` and exits 0; exits 1 after naming a failed check.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store, TrapCode};
use mps3_an547::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    match run() {
        Ok(0) => {
            println!("front guard test: passed");
            0
        }
        Ok(failures) => {
            println!("front guard test: {failures} check(s) failed");
            1
        }
        Err(e) => {
            println!("front guard test: error: {e}");
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

/// Seed of the victim's `fill`.
const SEED: u32 = 0x1234;

/// The word `fill(seed)` writes at `address` (the module's formula).
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

fn run() -> Result<u32, Error> {
    let mut failures = 0;
    let engine = Engine::new(&board::engine_config());
    let intact = Module::new(
        &engine,
        device_runtime::include_image!("front_guard.img").bytes(),
    )?;
    let broken = Module::new(
        &engine,
        device_runtime::include_image!("front_guard_broken.img").bytes(),
    )?;
    println!("broken image loaded (re-sealed digest accepted)");
    let linker = device_runtime::Linker::<()>::new(&engine);

    // The intact `poke` stores in bounds.
    let mut control_store = Store::try_new(&engine, ())?;
    let control = linker.instantiate(&mut control_store, &intact)?;
    control
        .get_typed_func::<(), ()>(&control_store, "poke")?
        .call(&mut control_store, ())?;
    let value = control
        .get_typed_func::<i32, i32>(&control_store, "load")?
        .call(&mut control_store, 0)?;
    println!("intact poke stored {value:#x} at address 0");
    check(&mut failures, value as u32 == 0x5a5a_5a5a, "intact poke");

    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &intact)?;
    victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, SEED as i32)?;
    let victim_memory = victim
        .get_memory(&victim_store, "memory")
        .ok_or(Error::MissingExport)?;
    let victim_base = victim_memory.data(&victim_store).as_ptr() as usize;
    println!("victim memory at {victim_base:#x}");
    check(
        &mut failures,
        filled_with(victim_memory.data(&victim_store), SEED),
        "victim memory holds the pattern of fill()",
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &broken)?;
    let memory = attacker
        .get_memory(&attacker_store, "memory")
        .ok_or(Error::MissingExport)?;
    let base = memory.data(&attacker_store).as_ptr() as usize;
    println!("attacker memory at {base:#x}");
    let target = base - 4;
    let guard_inaccessible = || {
        let lookup = board::mpu_lookup(target);
        !lookup.readable() && !lookup.writable()
    };
    check(
        &mut failures,
        guard_inaccessible(),
        "front guard below the attacker's memory inaccessible (MPU)",
    );
    println!("calling the broken poke (stores at memory base - 4, MMFAR={target:#010x})...");
    let faults = board::faults_turned_into_traps();
    let guard_faults = board::guard_faults_turned_into_traps();
    let result = attacker
        .get_typed_func::<(), ()>(&attacker_store, "poke")?
        .call(&mut attacker_store, ());
    match &result {
        Err(Error::Trap(trap)) => println!("broken poke: {trap}"),
        other => println!("broken poke returned {other:?}"),
    }
    check(
        &mut failures,
        matches!(result, Err(Error::Trap(ref t)) if t.code == TrapCode::MemoryOutOfBounds),
        "the unlisted store below the memory is a typed out-of-bounds trap",
    );
    check(
        &mut failures,
        board::faults_turned_into_traps() == faults + 1
            && board::guard_faults_turned_into_traps() == guard_faults + 1,
        "it went through the MemManage handler's guard rule",
    );

    // The board keeps running: another instance works and is untouched.
    let first = victim
        .get_typed_func::<i32, i32>(&victim_store, "load")?
        .call(&mut victim_store, 0)?;
    check(
        &mut failures,
        first as u32 == pattern(0, SEED),
        "another instance called successfully after the trap",
    );
    check(
        &mut failures,
        filled_with(victim_memory.data(&victim_store), SEED),
        "victim memory bit-identical before and after",
    );
    check(
        &mut failures,
        guard_inaccessible(),
        "front guard still inaccessible",
    );
    let zero = attacker
        .get_typed_func::<i32, i32>(&attacker_store, "load")?
        .call(&mut attacker_store, 0)?;
    check(
        &mut failures,
        zero == 0,
        "attacker instance still runs (its memory untouched)",
    );
    Ok(failures)
}
