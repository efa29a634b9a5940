//! Wild-store test firmware (run by `run-tests.sh`, expected exit status 3): a broken image
//! (`front_guard_wild.img`, built by `build.rs`) whose `poke` stores from wasm code at an
//! address outside every memory slot: the unused tail of SRAM, real memory that no MPU region
//! covers. The MPU refuses the store (MemManage, DACCVIOL), but the address is no live slot's
//! front guard and the PC no listed trap site, so the fault handler must not turn it into a
//! trap: it prints a fatal report naming the address and exits with status 3.
//!
//! Reaching the end of `main` (or a trap) is a failure: exit status 1.

#![no_std]
#![no_main]

use device_runtime::{Engine, Module, Store};
use mps3_an547::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    let engine = Engine::new(&board::engine_config());
    let result = (|| {
        let module = Module::new(
            &engine,
            device_runtime::include_image!("front_guard_wild.img").bytes(),
        )?;
        let mut store = Store::try_new(&engine, ())?;
        let instance =
            device_runtime::Linker::<()>::new(&engine).instantiate(&mut store, &module)?;
        let poke = instance.get_typed_func::<(), ()>(&store, "poke")?;
        let wild = board::mpu_lookup(0x111f_fff0);
        println!(
            "MPU at the wild address: readable {}, writable {}",
            wild.readable(),
            wild.writable()
        );
        println!("calling the wild poke (stores at 0x111ffff0, outside every slot)...");
        poke.call(&mut store, ())
    })();
    println!("wild poke returned {result:?}: the store was not stopped as a fatal fault");
    1
}
