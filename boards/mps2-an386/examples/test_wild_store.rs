//! Wild-store test firmware (run by `run-tests.sh`, which expects exit status 3): a broken
//! image (`front_guard_wild.img`, built by `build.rs`) whose `poke` is hand-made Thumb-2
//! storing at 0x3000_0000, an address outside every memory slot where the AN386 has no memory.
//! The store raises a precise BusFault from wasm text; it is neither a listed trap site nor a
//! front-guard access, so the fault handler must report it (`fatal: BusFault ... BFAR=
//! 0x30000000 ...`) and end the program with status 3, never turn it into a wasm trap.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store};
use mps2_an386::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    match run() {
        Ok(()) => {
            println!("wild poke returned: the store was not stopped");
            1
        }
        Err(e) => {
            println!("wild store test: error: {e}");
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
    let poke = instance.get_typed_func::<(), ()>(&store, "poke")?;
    println!("calling the wild poke (stores at 0x30000000, outside every slot)...");
    let result = poke.call(&mut store, ());
    println!("wild poke returned {result:?}");
    result
}
