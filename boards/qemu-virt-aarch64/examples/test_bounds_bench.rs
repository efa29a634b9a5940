//! The bounds-check cost kernel on the board (`wasm/kernel.wat`): one pass over an array of
//! `n` i32 in linear memory, each element read, updated and written back. `kernel.img` has
//! explicit bounds checks (small slot), `kernel_elided.img` guard-elided ones (wide slot), on the
//! same engine ([`board::engine_config_guard_elided`]).
//!
//! * With a semihosting command line `explicit N` or `elided N`
//!   (`-semihosting-config enable=on,target=native,arg=elided,arg=N`): loads that image, runs
//!   the kernel once over `N` elements, prints the result, exits 0. `scripts/board-bench.sh`
//!   boots it with `N` and `2N` under QEMU with the instruction-counting plugin and divides the
//!   difference by `N`: instructions per element, boot and load cancelled out.
//! * Without (`run-tests.sh`): a self-check that both images compute the expected sums, exits
//!   0 with `bounds bench self-check: passed`.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Module, Store};
use qemu_virt_aarch64::{self as board, println, semihosting};

board::entry!(main);

/// Elements the kernel's memory holds (16 wasm pages of i32).
const CAPACITY: u32 = 16 * 65536 / 4;

fn main() -> u32 {
    let mut buffer = [0u8; 128];
    let line = semihosting::command_line(&mut buffer).unwrap_or("");
    let mut words = line.split_ascii_whitespace();
    let variant = words.find(|w| *w == "explicit" || *w == "elided");
    let n = words.next().and_then(|w| w.parse::<u32>().ok());
    let result = match (variant, n) {
        (Some(variant), Some(n)) if n <= CAPACITY => measure(variant == "elided", n),
        (Some(_), _) => {
            println!("usage: explicit|elided N (N <= {CAPACITY})");
            return 2;
        }
        (None, _) => self_check(),
    };
    match result {
        Ok(()) => 0,
        Err(e) => {
            println!("bounds bench: error: {e}");
            1
        }
    }
}

/// The kernel's result on fresh (zeroed) memory: every element becomes `i`.
fn expected_sum(n: u32) -> i32 {
    (0..n).fold(0i32, |sum, i| sum.wrapping_add(i as i32))
}

fn image(elided: bool) -> &'static [u8] {
    if elided {
        device_runtime::include_image!("kernel_elided.img").bytes()
    } else {
        device_runtime::include_image!("kernel.img").bytes()
    }
}

/// Loads the image, instantiates it and runs the kernel once over `n` elements.
fn run_kernel(engine: &Engine, elided: bool, n: u32) -> Result<(u64, i32), Error> {
    let module = Module::new(engine, image(elided))?;
    let linker = device_runtime::Linker::<()>::new(engine);
    let mut store = Store::try_new(engine, ())?;
    let instance = linker.instantiate(&mut store, &module)?;
    let base = instance
        .get_memory(&store, "memory")
        .ok_or(Error::MissingExport)?
        .data(&store)
        .as_ptr() as u64;
    let sum = instance
        .get_typed_func::<i32, i32>(&store, "run")?
        .call(&mut store, n as i32)?;
    Ok((base, sum))
}

fn measure(elided: bool, n: u32) -> Result<(), Error> {
    let engine = Engine::new(&board::engine_config_guard_elided());
    let (base, sum) = run_kernel(&engine, elided, n)?;
    let name = if elided { "guard-elided" } else { "explicit" };
    println!("kernel {name} n={n} memory at {base:#x}: sum {sum}");
    if sum != expected_sum(n) {
        println!("kernel {name}: wrong sum, expected {}", expected_sum(n));
        return Err(Error::OutOfBounds);
    }
    Ok(())
}

fn self_check() -> Result<(), Error> {
    let engine = Engine::new(&board::engine_config_guard_elided());
    let mut agree = true;
    for n in [0, 1, 1000, CAPACITY] {
        let (explicit_base, explicit) = run_kernel(&engine, false, n)?;
        let (elided_base, elided) = run_kernel(&engine, true, n)?;
        println!(
            "n={n}: explicit {explicit} (memory at {explicit_base:#x}), guard-elided {elided} \
             (memory at {elided_base:#x}), expected {}",
            expected_sum(n)
        );
        agree &= explicit == expected_sum(n)
            && elided == expected_sum(n)
            && elided_base >= board::memory_map::WIDE_SLOTS_START
            && board::memory_map::MEMORY_POOL.contains(explicit_base);
    }
    println!(
        "[{}] explicit and guard-elided kernels agree",
        if agree { "ok" } else { "FAIL" }
    );
    if !agree {
        return Err(Error::OutOfBounds);
    }
    println!("bounds bench self-check: passed");
    Ok(())
}
