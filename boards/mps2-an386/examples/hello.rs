//! The board example: boots, loads a wasm module built into the firmware (compiled for the
//! Cortex-M4F by `build.rs` from `wasm/hello.wat`), gives it a host function that prints guest
//! memory on the UART, and runs two computations (one on the FPU). `cargo run --example hello`
//! boots it in QEMU.

#![no_std]
#![no_main]

use device_runtime::{Caller, Engine, Extern, Linker, Module, Store};
use mps2_an386::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    println!(
        "hello from the Cortex-M4F board (FPU enabled: {})",
        board::fpu_enabled()
    );
    match run() {
        Ok(()) => 0,
        Err(e) => {
            println!("error: {e}");
            1
        }
    }
}

fn run() -> Result<(), device_runtime::Error> {
    let image = device_runtime::include_image!("hello.img").bytes();
    let (code_free, memory_free, _) = board::free_blocks();
    let engine = Engine::new(&board::engine_config());
    let module = Module::new(&engine, image)?;
    let mut store = Store::try_new(&engine, ())?;
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap(
        "env",
        "print",
        |mut caller: Caller<'_, '_, ()>, ptr: i32, len: i32| {
            let Some(memory) = caller.get_export("memory").and_then(Extern::into_memory) else {
                return;
            };
            let data = memory.data(caller.as_store());
            let (start, len) = (ptr as u32 as usize, len as u32 as usize);
            if let Some(bytes) = start.checked_add(len).and_then(|end| data.get(start..end)) {
                board::console::write_bytes(bytes);
            }
        },
    )?;
    let instance = linker.instantiate(&mut store, &module)?;
    instance
        .get_typed_func::<(), ()>(&store, "hello")?
        .call(&mut store, ())?;
    let fib = instance.get_typed_func::<i32, i32>(&store, "fib")?;
    let n = 40;
    println!("fib({n}) = {}", fib.call(&mut store, n)?);
    let hypot = instance.get_typed_func::<(f32, f32), f32>(&store, "hypot")?;
    println!("hypot(3, 4) = {}", hypot.call(&mut store, (3.0, 4.0))?);
    println!(
        "MPU: {} of 8 regions in use with one memory slot guarded",
        board::MPU.regions_in_use()
    );
    let (code_now, memory_now, _) = board::free_blocks();
    println!(
        "resources: image {} bytes, code memory {} KiB, memory slot {} KiB (guard included), \
         store arena {} of {} bytes used",
        image.len(),
        code_free - code_now,
        (memory_free - memory_now) * 4,
        board::STORE_ARENA_SIZE - store.arena_remaining(),
        board::STORE_ARENA_SIZE,
    );
    Ok(())
}
