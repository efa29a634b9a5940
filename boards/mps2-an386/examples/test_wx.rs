//! W^X test firmware (run by `run-tests.sh`, which expects exit status 3): loads a module, runs
//! it once, then writes into its published code. The code pool is read-only and executable
//! once published (a PMSAv7 region of the MPU plan), so the write raises a MemManage fault; the
//! fault is in firmware code, not wasm, so the board reports `fatal: MemManage ...` and exits
//! with status 3. Reaching the end is a failure (status 1).

#![no_std]
#![no_main]

use device_runtime::{Engine, Module, Store};
use mps2_an386::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    let engine = Engine::new(&board::engine_config());
    let module = match Module::new(&engine, device_runtime::include_image!("guard.img").bytes()) {
        Ok(m) => m,
        Err(e) => {
            println!("load failed: {e}");
            return 1;
        }
    };
    let linker = device_runtime::Linker::<()>::new(&engine);
    let ran = Store::try_new(&engine, ())
        .and_then(|mut store| {
            let instance = linker.instantiate(&mut store, &module)?;
            instance
                .get_typed_func::<(i32, i32), i32>(&store, "div")?
                .call(&mut store, (42, 6))
        })
        .map_err(|e| println!("call failed: {e}"));
    println!("published code runs: div(42, 6) = {ran:?}");
    let code = module.text_range().start;
    println!("writing to published code at {code:#x}...");
    // SAFETY: deliberately not upheld: the address is live wasm code. The write is expected to
    // fault (the MPU makes the published code pool read-only), which ends the program before
    // any code could see it.
    unsafe { core::ptr::write_volatile(code as *mut u32, 0xdeb0_dead) };
    println!("FAIL: the write to published code succeeded");
    1
}
