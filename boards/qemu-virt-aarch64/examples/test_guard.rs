//! Guard test firmware (run by `run-tests.sh`): an attacker instance traps in every way it
//! can (out-of-bounds stores past the end and below the start of its memory, divide by zero,
//! stack exhaustion); each trap is typed, the firmware keeps running, and a victim instance's
//! memory is bit-identical before and after. Also checks that the MMU leaves the front and
//! back guard pages of the victim's memory unmapped.
//!
//! Prints `guard test: passed` and exits 0, or exits 1 after naming the failed check.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store, TrapCode};
use qemu_virt_aarch64::{self as board, exceptions, mmu, println};

board::entry!(main);

const PAGE: u64 = 4096;

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

fn run() -> Result<u32, Error> {
    let mut failures = 0;
    let image = device_runtime::include_image!("guard.img").bytes();
    let engine = Engine::new(&board::engine_config());
    let module = Module::new(&engine, image)?;
    let linker = device_runtime::Linker::<()>::new(&engine);

    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &module)?;
    victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, 0x1234)?;
    let memory = victim
        .get_memory(&victim_store, "memory")
        .ok_or(Error::MissingExport)?;
    let before: [u8; 65536] = memory
        .data(&victim_store)
        .try_into()
        .map_err(|_| Error::OutOfBounds)?;
    let base = memory.data(&victim_store).as_ptr() as u64;
    println!("victim memory at {base:#x}, 64 KiB");
    check(
        &mut failures,
        mmu::lookup(base - 1).is_none(),
        "front guard page unmapped",
    );
    check(
        &mut failures,
        mmu::lookup(base - PAGE).is_none(),
        "front guard page start unmapped",
    );
    check(&mut failures, mmu::lookup(base).is_some(), "memory mapped");
    check(
        &mut failures,
        mmu::lookup(base + 65535).is_some(),
        "last byte mapped",
    );
    check(
        &mut failures,
        mmu::lookup(base + 65536).is_none(),
        "back guard page unmapped",
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &module)?;
    let store = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store")?;
    let div = attacker.get_typed_func::<(i32, i32), i32>(&attacker_store, "div")?;
    let recurse = attacker.get_typed_func::<i32, i32>(&attacker_store, "recurse")?;
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
    let faults_before = exceptions::faults_turned_into_traps();
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
    let faults = exceptions::faults_turned_into_traps() - faults_before;
    println!("synchronous exceptions turned into traps: {faults}");
    check(
        &mut failures,
        faults >= 1,
        "faults in wasm code reached the trap path through the exception vector",
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

    let after = memory.data(&victim_store);
    check(
        &mut failures,
        after == &before[..],
        "victim memory bit-identical before and after",
    );
    let first = victim
        .get_typed_func::<i32, i32>(&victim_store, "load")?
        .call(&mut victim_store, 0)?;
    check(
        &mut failures,
        first == i32::from_le_bytes([before[0], before[1], before[2], before[3]]),
        "victim instance still runs",
    );
    Ok(failures)
}
