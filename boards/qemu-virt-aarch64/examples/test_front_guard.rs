//! Front-guard test firmware (run by `run-tests.sh`): a deliberately broken image, whose `poke`
//! function is hand-made A64 code (built by `build.rs` from `wasm/front_guard.wat`, re-sealed)
//! that stores at its linear memory's base - 4, must be stopped by the unmapped front guard
//! page. The store's PC is not in the image's trap table, so the fault is not a wasm trap: the
//! board reports `fatal: ... FAR=<base - 4>` and exits with status 3. Reaching the end of `main`
//! is a failure (status 1).
//!
//! Before the call the firmware prints the expected fault address and checksums of a victim
//! instance's memory and of the mapped page(s) just below the attacker's slot; a data abort is
//! precise (the faulting store writes nothing), and `run-tests.sh` checks that the reported FAR
//! is the expected address.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store};
use qemu_virt_aarch64::{self as board, mmu, println};

board::entry!(main);

const PAGE: u64 = 4096;

fn main() -> u32 {
    match run() {
        Ok(()) => {
            println!("FAIL: the store below linear memory returned");
            1
        }
        Err(e) => {
            println!("FAIL: {e}");
            1
        }
    }
}

/// FNV-1a, 64 bits.
fn checksum(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ b as u64).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

fn run() -> Result<(), Error> {
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
    if value as u32 != 0x5a5a_5a5a {
        return Err(Error::OutOfBounds);
    }

    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &intact)?;
    victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, 0x1234)?;
    let victim_memory = victim
        .get_memory(&victim_store, "memory")
        .ok_or(Error::MissingExport)?;
    let victim_base = victim_memory.data(&victim_store).as_ptr() as u64;
    println!(
        "victim memory at {victim_base:#x}: checksum {:#018x}",
        checksum(victim_memory.data(&victim_store))
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &broken)?;
    let memory = attacker
        .get_memory(&attacker_store, "memory")
        .ok_or(Error::MissingExport)?;
    let base = memory.data(&attacker_store).as_ptr() as u64;
    println!("attacker memory at {base:#x}");
    let target = base - 4;
    let unmapped = mmu::lookup(target).is_none() && mmu::lookup(base - PAGE).is_none();
    println!(
        "[{}] front guard page below the attacker's memory unmapped",
        if unmapped { "ok" } else { "FAIL" }
    );
    if !unmapped {
        return Err(Error::OutOfBounds);
    }
    // Whatever lies below the front guard: checksum it if mapped (so a corrupted byte would show
    // as a different value on a rerun with the fault hook disabled).
    let mut below = base - PAGE;
    while mmu::lookup(below - 1).is_none() && below > PAGE {
        below -= PAGE;
    }
    let below_page = below - PAGE;
    if mmu::lookup(below_page).is_some() {
        // SAFETY: the page is mapped (checked in the live tables) and only read.
        let bytes = unsafe { core::slice::from_raw_parts(below_page as *const u8, PAGE as usize) };
        println!(
            "page below the attacker's slot at {below_page:#x}: checksum {:#018x}",
            checksum(bytes)
        );
    } else {
        println!("no mapped page below the attacker's slot");
    }
    println!("expected fault: FAR={target:#018x}");
    println!("calling the broken poke (stores at memory base - 4)...");
    let result = attacker
        .get_typed_func::<(), ()>(&attacker_store, "poke")?
        .call(&mut attacker_store, ());
    println!("broken poke returned {result:?}");
    Ok(())
}
