//! Runs on the host. Four jobs:
//!
//! 1. Linking: when building for the board, put `memory.x` on the linker path (cortex-m-rt's
//!    `link.x` includes it) and pass `-Tlink.x` to examples only (never to host unit tests).
//! 2. Wasm modules built into the firmware: every `wasm/*.wat` is compiled for the Cortex-M55
//!    by `host_compiler::build::Builder` into `$OUT_DIR/<name>.img`; firmware includes it with
//!    `device_runtime::include_image!("<name>.img")`. From `front_guard.img` also two
//!    deliberately broken, re-sealed images (`../cortex-m-common/build-support/
//!    broken_image.rs`) whose `poke` is hand-assembled Thumb-2: `front_guard_broken.img`
//!    stores at its memory base - 4 (on the MPU front guard), `front_guard_wild.img` at
//!    [`WILD_ADDRESS`], outside every memory slot.
//! 3. The modules of the firmware bodies in `cortex-m-common` (`../cortex-m-common/wasm/*.wat`,
//!    e.g. `memories.img` for `examples/test_memories.rs`), compiled the same way by
//!    `../cortex-m-common/build-support/common_modules.rs`.
//! 4. Wasm modules with epoch checks and fuel metering: every `wasm-epochs/*.wat` is compiled
//!    for the Cortex-M55 with `CompilerConfig::epochs(true).fuel(true)` into
//!    `$OUT_DIR/<name>.img` (the tasks of `examples/demo_tasks.rs`) by
//!    `../cortex-m-common/build-support/epoch_images.rs`.

#[path = "../cortex-m-common/build-support/broken_image.rs"]
mod broken_image;
#[path = "../cortex-m-common/build-support/common_modules.rs"]
mod common_modules;
#[path = "../cortex-m-common/build-support/epoch_images.rs"]
mod epoch_images;

use std::path::PathBuf;

use broken_image::{Instruction, ldr_imm, mov32, replace_export, str_imm, str_negative};
use host_compiler::Target;
use host_compiler::build::Builder;

/// Where `front_guard_wild.img` stores: the last bytes of SRAM's Secure alias, outside every
/// pool and listed range of the board but backed by memory, so only the MPU (no region there:
/// no background) stops it.
const WILD_ADDRESS: u32 = 0x111f_fff0;

const R0: u16 = 0;
const R1: u16 = 1;
const R10: u16 = 10;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let target = std::env::var("TARGET")?;

    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/broken_image.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/epoch_images.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/common_modules.rs");
    if target.starts_with("thumbv8m") {
        std::fs::copy(manifest.join("memory.x"), out.join("memory.x"))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-examples=-Tlink.x");
    }

    let wasm_dir = manifest.join("wasm");
    println!("cargo:rerun-if-changed={}", wasm_dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&wasm_dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wat") {
            continue;
        }
        let image = Builder::new(&path)
            .target(Target::CortexM55)
            .out_dir(&out)
            .compile()?;
        if path.file_stem().and_then(|s| s.to_str()) == Some("front_guard") {
            let intact = std::fs::read(&image)?;
            // ldr.w r0, [r10, #memory]; movw/movt r1, #0x5a5a5a5a; str.w r1, [r0, #-4]
            let broken = replace_export(&intact, "poke", |context| {
                let mut prefix: Vec<Instruction> =
                    vec![ldr_imm(R0, R10, context.memory_definition as u16)];
                prefix.extend(mov32(R1, 0x5a5a_5a5a));
                (prefix, str_negative(R1, R0, 4))
            })?;
            std::fs::write(out.join("front_guard_broken.img"), broken)?;
            // movw/movt r0, #WILD_ADDRESS; movw/movt r1, #0x5a5a5a5a; str.w r1, [r0]
            let wild = replace_export(&intact, "poke", |_| {
                let mut prefix = mov32(R0, WILD_ADDRESS);
                prefix.extend(mov32(R1, 0x5a5a_5a5a));
                (prefix, str_imm(R1, R0, 0))
            })?;
            std::fs::write(out.join("front_guard_wild.img"), wild)?;
        }
    }
    common_modules::compile_common_modules(
        &manifest.join("../cortex-m-common/wasm"),
        &out,
        Target::CortexM55,
    )?;
    epoch_images::compile_epoch_modules(&manifest.join("wasm-epochs"), &out, Target::CortexM55)?;
    Ok(())
}
