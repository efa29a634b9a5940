//! W^X test firmware (run by `run-tests.sh`): loads a module, then writes into its published
//! code. The write must fault; the fault is in firmware code, not wasm, so the board reports
//! `fatal: synchronous exception ...` and exits with status 3. Reaching the end is a failure
//! (status 1).

#![no_std]
#![no_main]

use device_runtime::{Engine, Module};
use qemu_virt_aarch64::memory_map::CODE_POOL;
use qemu_virt_aarch64::mmu::{self, plan::Attributes};
use qemu_virt_aarch64::{self as board, println};

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
    let Some(code) = (0..CODE_POOL.pages() as u64)
        .map(|page| CODE_POOL.start() + page * 4096)
        .find(|&address| mmu::lookup(address) == Some(Attributes::CODE))
    else {
        println!("no published code page found");
        return 1;
    };
    println!("published code at {code:#x} is {:?}", mmu::lookup(code));
    println!("writing to published code...");
    // SAFETY: deliberately not upheld: the address is live wasm code. The write is expected to
    // fault (the page is read-execute), which ends the program before any code could see it.
    unsafe { core::ptr::write_volatile(code as *mut u32, 0xd400_0001) };
    println!("FAIL: the write to published code succeeded");
    drop(module);
    1
}
