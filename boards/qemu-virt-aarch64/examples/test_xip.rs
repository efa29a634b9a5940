//! Execution in place from flash. `run-tests.sh` flashes, with QEMU's loader standing in for a
//! flash tool, two raw binaries written by `wasm-aot compile --format bin` from
//! `wasm/hello.wat` into the image partition:
//!
//! * at [`INTACT`]: the image as compiled;
//! * at [`CORRUPT`]: the same image with one byte of its text flipped.
//!
//! The firmware checks that the intact image runs from flash (its text inside the partition,
//! exactly its text pages executable, the pages around them not), that the pages return to
//! execute-never when the module is dropped, that the corrupt image is refused before anything
//! becomes executable, and that an image outside the partition (the same module built into the
//! firmware by `build.rs`) is refused for execution in place but runs when copied. Prints
//! `[ok] ...` per check and `xip test: passed`; exit status 0 only if every check passed.

#![no_std]
#![no_main]

use device_runtime::{Caller, Engine, Error, Extern, Linker, Module, Store};
use qemu_virt_aarch64::mmu::plan::{Attributes, PAGE_SIZE};
use qemu_virt_aarch64::xip::{self, XipError};
use qemu_virt_aarch64::{self as board, memory_map::IMAGE_PARTITION, mmu, println};

board::entry!(main);

/// Where `run-tests.sh` flashes the intact image (one page into the partition).
const INTACT: u64 = IMAGE_PARTITION.0 + 0x1000;
/// Where it flashes the corrupted copy.
const CORRUPT: u64 = IMAGE_PARTITION.0 + 0x80_0000;

fn main() -> u32 {
    let mut failures = 0;
    let mut check = |ok: bool, what: &str| {
        if ok {
            println!("[ok] {what}");
        } else {
            println!("[FAIL] {what}");
            failures += 1;
        }
    };
    let engine = Engine::new(&board::engine_config());

    let intact = xip::image_at(INTACT).unwrap_or(&[]);
    match xip::load(&engine, intact) {
        Ok(module) => {
            let text = module.text_range();
            check(
                text.start as u64 > INTACT && (text.end as u64) <= INTACT + intact.len() as u64,
                "text executes where it was flashed",
            );
            let first = (text.start as u64) & !(PAGE_SIZE - 1);
            let last = (text.end as u64 - 1) & !(PAGE_SIZE - 1);
            let executable = (first..=last)
                .step_by(PAGE_SIZE as usize)
                .all(|page| mmu::lookup(page) == Some(Attributes::CODE));
            check(executable, "every text page is read-execute");
            check(
                mmu::lookup(first - PAGE_SIZE) == Some(Attributes::READ_ONLY)
                    && mmu::lookup(last + PAGE_SIZE) == Some(Attributes::READ_ONLY),
                "the pages around the text stay read-only, execute-never",
            );
            match run(&engine, &module) {
                Ok(value) => check(value == 2880067194370816120, "fib(90) from flash"),
                Err(e) => {
                    println!("error: {e}");
                    check(false, "module runs from flash");
                }
            }
            drop(module);
            check(
                mmu::lookup(first) == Some(Attributes::READ_ONLY)
                    && mmu::lookup(last) == Some(Attributes::READ_ONLY),
                "text pages execute-never again once the module is dropped",
            );
        }
        Err(e) => {
            println!("error: {e}");
            check(false, "intact image loads in place");
        }
    }

    let corrupt = xip::image_at(CORRUPT).unwrap_or(&[]);
    let refused = match xip::load(&engine, corrupt) {
        Err(XipError::Load(e)) => {
            println!("corrupt image: {e}");
            true
        }
        Err(e) => {
            println!("corrupt image: unexpected error: {e}");
            false
        }
        Ok(_) => false,
    };
    check(refused, "corrupt image refused by verification");
    let partition_xn = (IMAGE_PARTITION.0..IMAGE_PARTITION.0 + IMAGE_PARTITION.1)
        .step_by(PAGE_SIZE as usize)
        .all(|page| mmu::lookup(page) == Some(Attributes::READ_ONLY));
    check(partition_xn, "no page of the partition is executable");

    let built_in = device_runtime::include_image!("hello.img").bytes();
    match xip::load(&engine, built_in) {
        Err(e @ XipError::OutsidePartition { .. }) => {
            println!("built-in image: {e}");
            check(true, "an image outside the partition is refused in place");
        }
        _ => check(false, "an image outside the partition is refused in place"),
    }
    let copied = Module::new(&engine, built_in)
        .map_err(Error::from)
        .and_then(|m| run(&engine, &m));
    check(
        matches!(copied, Ok(2880067194370816120)),
        "the same image copied into code memory runs",
    );

    if failures == 0 {
        println!("xip test: passed");
        0
    } else {
        println!("xip test: {failures} check(s) failed");
        1
    }
}

/// Instantiates hello.wat's module with its `env.print` host function, says hello and
/// returns `fib(90)`.
fn run(engine: &Engine, module: &Module<'_>) -> Result<i64, Error> {
    let mut store = Store::try_new(engine, ())?;
    let mut linker = Linker::<()>::new(engine);
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
    let instance = linker.instantiate(&mut store, module)?;
    instance
        .get_typed_func::<(), ()>(&store, "hello")?
        .call(&mut store, ())?;
    instance
        .get_typed_func::<i32, i64>(&store, "fib")?
        .call(&mut store, 90)
}
