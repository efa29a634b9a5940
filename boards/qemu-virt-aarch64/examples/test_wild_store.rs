//! Fatal-path test firmware (run by `run-tests.sh`): a deliberately broken image whose `poke`
//! is hand-made A64 code (`build.rs`, `front_guard_wild.img`) storing at 0x1000_0000, an
//! unmapped address outside every memory slot. The PC is in wasm text but not in the trap
//! table, and the address is no slot's guard, so neither rule of the exception handler applies:
//! the board must report `fatal: ... FAR=0x0000000010000000 (data abort)` and halt with status
//! 3. Reaching the end of `main` is a failure (status 1).

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store};
use qemu_virt_aarch64::{self as board, mmu, println};

board::entry!(main);

const WILD_ADDRESS: u64 = 0x1000_0000;

fn main() -> u32 {
    match run() {
        Ok(()) => {
            println!("FAIL: the wild store returned");
            1
        }
        Err(e) => {
            println!("FAIL: {e}");
            1
        }
    }
}

fn run() -> Result<(), Error> {
    let engine = Engine::new(&board::engine_config());
    let wild = Module::new(
        &engine,
        device_runtime::include_image!("front_guard_wild.img").bytes(),
    )?;
    println!("wild image loaded (re-sealed digest accepted)");
    let linker = device_runtime::Linker::<()>::new(&engine);
    let mut store = Store::try_new(&engine, ())?;
    let instance = linker.instantiate(&mut store, &wild)?;
    if mmu::lookup(WILD_ADDRESS).is_some() {
        println!("FAIL: {WILD_ADDRESS:#x} is mapped");
        return Err(Error::OutOfBounds);
    }
    println!("expected fault: FAR={WILD_ADDRESS:#018x}");
    println!("calling the wild poke (stores at {WILD_ADDRESS:#x}, outside every slot)...");
    let result = instance
        .get_typed_func::<(), ()>(&store, "poke")?
        .call(&mut store, ());
    println!("wild poke returned {result:?}");
    Ok(())
}
