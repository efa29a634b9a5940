//! Load-cost benchmark: guest instructions from image bytes in flash to the first call's
//! return, by stage, counted exactly by the performance monitors (`INST_RETIRED`, QEMU with
//! `-icount shift=0`). `bench-load.sh` compiles the images, flashes them as raw binaries into
//! the image partition at [`SLOTS`] and boots this firmware; an empty slot (no image magic) is
//! skipped.
//!
//! For each image, both ways a board loads it: executed in place ([`board::xip::load`]:
//! verification, then mapping the text pages executable) and copied into code memory
//! ([`Module::new`]: verification, copy, publication with cache maintenance). Then
//! `Store::try_new`, instantiation and the first call of export `f0` (`(i32, i32) -> i32`).
//! Prints one line per image and way; exit status 0 unless something failed.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, Linker, Module, Store};
use qemu_virt_aarch64::pmu::InstructionCounter;
use qemu_virt_aarch64::{self as board, memory_map::IMAGE_PARTITION, println};

board::entry!(main);

/// Where `bench-load.sh` flashes the images (offsets into the image partition).
const SLOTS: [u64; 3] = [0, 0x10_0000, 0x40_0000];

fn main() -> u32 {
    let counter = match InstructionCounter::start() {
        Ok(c) => c,
        Err(e) => {
            println!("error: {e}");
            return 1;
        }
    };
    // The largest image (3000 functions) needs more than the default 64 KiB store arena for
    // its instance (function references, vmctx).
    let mut config = board::engine_config();
    config.store_arena_size = 256 << 10;
    let engine = Engine::new(&config);
    let mut failed = false;
    for offset in SLOTS {
        let Some(image) = board::xip::image_at(IMAGE_PARTITION.0 + offset) else {
            continue;
        };
        for in_place in [true, false] {
            let way = if in_place { "in place" } else { "copied" };
            let start = counter.now();
            let outcome = if in_place {
                match board::xip::load(&engine, image) {
                    Ok(module) => {
                        let load = counter.elapsed(start);
                        stages(&counter, &engine, &module, image.len(), way, load)
                            .map_err(|e| Message::from(&e))
                    }
                    Err(e) => Err(Message::from(&e)),
                }
            } else {
                match Module::new(&engine, image) {
                    Ok(module) => {
                        let load = counter.elapsed(start);
                        stages(&counter, &engine, &module, image.len(), way, load)
                            .map_err(|e| Message::from(&e))
                    }
                    Err(e) => Err(Message::from(&e)),
                }
            };
            if let Err(e) = outcome {
                println!("image {:>8} B {way:<8}: {}", image.len(), e.as_str());
                // Copies larger than the code pool are expected to be refused.
                failed |= in_place;
            }
        }
    }
    u32::from(failed)
}

/// An error message, formatted without an allocator (cut at 200 bytes).
struct Message {
    bytes: [u8; 200],
    len: usize,
}

impl Message {
    fn from(e: &dyn core::fmt::Display) -> Message {
        use core::fmt::Write;
        let mut m = Message {
            bytes: [0; 200],
            len: 0,
        };
        let _ = write!(m, "error: {e}");
        m
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("error")
    }
}

impl core::fmt::Write for Message {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        for c in s.chars() {
            let mut buf = [0; 4];
            let c = c.encode_utf8(&mut buf).as_bytes();
            if self.len + c.len() > self.bytes.len() {
                break;
            }
            self.bytes[self.len..self.len + c.len()].copy_from_slice(c);
            self.len += c.len();
        }
        Ok(())
    }
}

fn stages(
    counter: &InstructionCounter,
    engine: &Engine,
    module: &Module<'_>,
    image_len: usize,
    way: &str,
    load: u32,
) -> Result<(), Error> {
    let t = counter.now();
    let mut store = Store::try_new(engine, ())?;
    let store_new = counter.elapsed(t);
    let t = counter.now();
    let instance = Linker::<()>::new(engine).instantiate(&mut store, module)?;
    let instantiate = counter.elapsed(t);
    let t = counter.now();
    let result = instance
        .get_typed_func::<(i32, i32), i32>(&store, "f0")?
        .call(&mut store, (3, 4))?;
    let first_call = counter.elapsed(t);
    let total = load + store_new + instantiate + first_call;
    println!(
        "image {image_len:>8} B {way:<8}: load {load:>9} ({:>5.2}/B)  store {store_new:>6}  \
         instantiate {instantiate:>6}  first call {first_call:>6} (= {result})  total {total:>9} \
         instructions",
        load as f64 / image_len as f64
    );
    Ok(())
}
