//! W^X test firmware (run by `run-tests.sh`, expected exit status 3): loads a module, then
//! writes into its published code. The code pool is a read-only executable MPU region once
//! the text is published, so the write faults (MemManage, DACCVIOL); the faulting PC is
//! firmware code, not wasm, so the board reports `fatal: MemManage ...` and exits with status
//! 3. Reaching the end is a failure (status 1).

#![no_std]
#![no_main]

use device_runtime::{Engine, Module};
use mps3_an547::memory_map::CODE_POOL;
use mps3_an547::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    let engine = Engine::new(&board::engine_config());
    let module = match Module::new(&engine, device_runtime::include_image!("hello.img").bytes()) {
        Ok(m) => m,
        Err(e) => {
            println!("load failed: {e}");
            return 1;
        }
    };
    // The first module's text is at the start of the code pool.
    let code = CODE_POOL.start as usize;
    let lookup = board::mpu_lookup(code);
    println!(
        "published code at {code:#x}: MPU region {:?}, readable {}, writable {}",
        lookup.region(),
        lookup.readable(),
        lookup.writable()
    );
    if lookup.writable() || !lookup.readable() {
        println!("FAIL: published code is not read-only");
        return 1;
    }
    println!("writing to published code...");
    // SAFETY: deliberately not upheld: the address is live wasm code. The write is expected to
    // fault (the region is read-only), which ends the program before any code could see it.
    unsafe { core::ptr::write_volatile(code as *mut u32, 0xdead_beef) };
    println!("FAIL: the write to published code succeeded");
    drop(module);
    1
}
