//! Runs on the host. Four jobs:
//!
//! 1. Linking: when building for the board, put `memory.x` on the linker path (cortex-m-rt's
//!    `link.x` includes it) and pass `-Tlink.x` to examples only (never to host unit tests).
//! 2. Wasm modules built into the firmware: every `wasm/*.wat` is compiled for the Cortex-M4F
//!    by `host_compiler::build::Builder` into `$OUT_DIR/<name>.img`; firmware includes it
//!    with `device_runtime::include_image!("<name>.img")`. For the guard test also:
//!    `guard_cortex_m7.img` and `guard_aarch64.img` (images for profiles this board must
//!    refuse) and `guard_corrupt.img` (one text byte flipped, digest not re-sealed). For the
//!    front-guard test: `front_guard_broken.img`, whose `poke` is hand-assembled Thumb-2
//!    storing at its memory base - 4, and `front_guard_wild.img`, storing at
//!    [`WILD_ADDRESS`], outside every memory slot (both made and re-sealed by
//!    `../cortex-m-common/build-support/broken_image.rs`, so they load).
//! 3. The modules of the firmware bodies in `cortex-m-common` (`../cortex-m-common/wasm/*.wat`,
//!    e.g. `memories.img` for `examples/test_memories.rs`), compiled the same way by
//!    `../cortex-m-common/build-support/common_modules.rs`.
//! 4. Wasm modules with epoch checks and fuel metering: every `wasm-epochs/*.wat` is compiled
//!    for the Cortex-M4F with `CompilerConfig::epochs(true).fuel(true)` into
//!    `$OUT_DIR/<name>.img` (the tasks of `examples/demo_tasks.rs`) by
//!    `../cortex-m-common/build-support/epoch_images.rs`.

#[path = "../cortex-m-common/build-support/broken_image.rs"]
mod broken_image;
#[path = "../cortex-m-common/build-support/common_modules.rs"]
mod common_modules;
#[path = "../cortex-m-common/build-support/epoch_images.rs"]
mod epoch_images;

use std::path::PathBuf;

use broken_image::{Context, Instruction, ldr_imm, mov32, replace_export, str_imm, str_negative};
use host_compiler::Target;
use host_compiler::build::Builder;

/// Where `front_guard_wild.img` stores: an address in no memory slot where QEMU's AN386 has
/// nothing at all (past PSRAM and the bit-band alias, below the peripherals), so the store is a
/// precise bus error: the MPU allows it (read-write, execute-never by region 0).
const WILD_ADDRESS: u32 = 0x3000_0000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let target = std::env::var("TARGET")?;

    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/broken_image.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/epoch_images.rs");
    println!("cargo:rerun-if-changed=../cortex-m-common/build-support/common_modules.rs");
    if target.starts_with("thumbv7em-") {
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
            .target(Target::CortexM4F)
            .out_dir(&out)
            .compile()?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if stem == "guard" {
            for (other, name) in [
                (Target::CortexM7, "guard_cortex_m7.img"),
                (Target::Aarch64, "guard_aarch64.img"),
            ] {
                Builder::new(&path)
                    .target(other)
                    .image_name(name)
                    .out_dir(&out)
                    .compile()?;
            }
            let mut corrupt = std::fs::read(&image)?;
            let header = shared_types::header::ImageHeader::parse(&corrupt)
                .map_err(|e| format!("guard header: {e:?}"))?;
            corrupt[header.text.0 as usize + 2] ^= 0x01;
            std::fs::write(out.join("guard_corrupt.img"), corrupt)?;
        }
        if stem == "front_guard" {
            let intact = std::fs::read(&image)?;
            let broken = replace_export(&intact, "poke", below_memory_base)
                .map_err(|e| format!("front_guard_broken.img: {e}"))?;
            std::fs::write(out.join("front_guard_broken.img"), broken)?;
            let wild = replace_export(&intact, "poke", outside_every_slot)
                .map_err(|e| format!("front_guard_wild.img: {e}"))?;
            std::fs::write(out.join("front_guard_wild.img"), wild)?;
        }
    }
    common_modules::compile_common_modules(
        &manifest.join("../cortex-m-common/wasm"),
        &out,
        Target::CortexM4F,
    )?;
    epoch_images::compile_epoch_modules(&manifest.join("wasm-epochs"), &out, Target::CortexM4F)?;
    Ok(())
}

const R0: u16 = 0;
const R1: u16 = 1;
const R10: u16 = 10;

/// `poke` of `front_guard_broken.img`: stores below its linear memory, on the front guard.
/// At entry r10 is the callee's vmctx (the Thumb backend's instance register); the memory
/// definition is inline in it, its base first.
///
/// ```text
/// ldr.w  r0, [r10, #defined_memory(0)]   ; r0 = VMMemoryDefinition::base
/// movw   r1, #0x5a5a
/// movt   r1, #0x5a5a
/// str.w  r1, [r0, #-4]                   ; base - 4: the front guard   (the faulting store)
/// ```
fn below_memory_base(context: &Context) -> (Vec<Instruction>, Instruction) {
    // The build fails here rather than emit a wrong offset (ldr.w's immediate has 12 bits).
    assert!(
        context.memory_definition < 4096,
        "front_guard: memory definition at vmctx offset {} is beyond ldr.w's reach",
        context.memory_definition
    );
    let mut prefix = vec![ldr_imm(R0, R10, context.memory_definition as u16)];
    prefix.extend(mov32(R1, 0x5a5a_5a5a));
    (prefix, str_negative(R1, R0, 4))
}

/// `poke` of `front_guard_wild.img`: stores at [`WILD_ADDRESS`], outside every memory slot.
///
/// ```text
/// movw/movt r0, #WILD_ADDRESS
/// movw/movt r1, #0x5a5a5a5a
/// str.w  r1, [r0, #0]                    ; (the faulting store)
/// ```
fn outside_every_slot(_: &Context) -> (Vec<Instruction>, Instruction) {
    let mut prefix = mov32(R0, WILD_ADDRESS);
    prefix.extend(mov32(R1, 0x5a5a_5a5a));
    (prefix, str_imm(R1, R0, 0))
}
