//! Runs on the host. Two jobs:
//!
//! 1. Linker script: when building for the board, put `link.x` on the linker path and pass it
//!    to binaries and examples only (never to host unit tests of the library).
//! 2. Wasm modules built into the firmware: every `wasm/*.wat` is compiled for AArch64 by
//!    `host_compiler::build::Builder` into `$OUT_DIR/<name>.img`; firmware includes it with
//!    `device_runtime::include_image!("<name>.img")`, which aligns it to 64 bytes. The modules
//!    in [`GUARD_ELIDED`] are also compiled with guard-elided bounds checks into
//!    `<name>_elided.img`. Also writes the deliberately broken images of the front-guard test:
//!    `front_guard_broken.img` (stores at memory base - 4) and `front_guard_wild.img` (stores
//!    at an unmapped address outside every memory slot), and `wide_broken_elided.img`, the
//!    guard-elided `wide` image whose `poke` stores at memory base - 4 (a wide slot's front
//!    guard).
//! 3. Wasm modules with epoch checks and fuel metering: every `wasm-epochs/*.wat` is compiled
//!    for AArch64 with `CompilerConfig::epochs(true).fuel(true)` (checks at function entry and
//!    loop headers, the fuel charged per block) into
//!    `$OUT_DIR/<name>.img`: the tasks of the time-slicing demo (`examples/demo_tasks.rs`).

use std::path::PathBuf;

use std::path::Path;

use host_compiler::build::Builder;
use host_compiler::{BoundsChecks, Compiler, CompilerConfig, Target};

/// Modules also compiled with guard-elided bounds checks (`<name>_elided.img`, default 64 KiB
/// guard): the wide-slot test's module and the bounds-check cost kernel.
const GUARD_ELIDED: &[&str] = &["wide", "kernel"];

/// Where `front_guard_wild.img` stores: an address in no memory slot and not mapped (between
/// the peripherals, which end at 0x1000_0000, and RAM at 0x4000_0000).
const WILD_ADDRESS: u32 = 0x1000_0000;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let target = std::env::var("TARGET")?;

    println!("cargo:rerun-if-changed=link.x");
    println!("cargo:rerun-if-changed=build.rs");
    if target == "aarch64-unknown-none" {
        std::fs::copy(manifest.join("link.x"), out.join("link.x"))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-examples=-Tlink.x");
    }

    // Always AArch64, also when the build script runs for the host unit tests of the library
    // (the images are only included by the firmware).
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
            .target(Target::Aarch64)
            .out_dir(&out)
            .compile()?;
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        if GUARD_ELIDED.contains(&stem) {
            Builder::new(&path)
                .target(Target::Aarch64)
                .bounds_checks(BoundsChecks::GuardElided)
                .image_name(format!("{stem}_elided.img"))
                .out_dir(&out)
                .compile()?;
        }
        if stem == "wide" {
            let elided = std::fs::read(out.join("wide_elided.img"))?;
            let broken = replace_poke(&elided, below_memory_base)?;
            std::fs::write(out.join("wide_broken_elided.img"), broken)?;
        }
        if stem == "front_guard" {
            let intact = std::fs::read(&image)?;
            let broken = replace_poke(&intact, below_memory_base)?;
            std::fs::write(out.join("front_guard_broken.img"), broken)?;
            let wild = replace_poke(&intact, outside_every_slot)?;
            std::fs::write(out.join("front_guard_wild.img"), wild)?;
        }
    }
    compile_epoch_modules(&manifest.join("wasm-epochs"), &out)?;
    Ok(())
}

/// Compiles every `*.wat` of `dir` with epoch checks and fuel metering into `out/<stem>.img`.
fn compile_epoch_modules(dir: &Path, out: &Path) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wat") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("wasm-epochs: a file name that is not UTF-8")?;
        let source = std::fs::read(&path)?;
        let wasm = host_compiler::wat_or_wasm(&source)?;
        let config = CompilerConfig::for_target(Target::Aarch64)
            .epochs(true)
            .fuel(true);
        let image = Compiler::new(config)?.compile(&wasm)?;
        std::fs::write(out.join(format!("{stem}.img")), &image.bytes)?;
    }
    Ok(())
}

/// `poke` of `front_guard_broken.img`: stores below its linear memory, on the front guard.
///
/// ```text
/// ldr  x8, [x0, #defined_memory(0)]   ; x0 = callee vmctx; x8 = VMMemoryDefinition::base
/// movz w9, #0x5a5a
/// movk w9, #0x5a5a, lsl #16
/// stur w9, [x8, #-4]                  ; base - 4: the front guard page
/// ret
/// ```
fn below_memory_base(memory: u32) -> [u32; 5] {
    [
        0xf940_0000 | ((memory / 8) << 10) | 8, // ldr  x8, [x0, #memory]
        0x5280_0000 | (0x5a5a << 5) | 9,        // movz w9, #0x5a5a
        0x72a0_0000 | (0x5a5a << 5) | 9,        // movk w9, #0x5a5a, lsl #16
        0xb800_0000 | (0x1fc << 12) | (8 << 5) | 9, // stur w9, [x8, #-4]
        0xd65f_03c0,                            // ret
    ]
}

/// `poke` of `front_guard_wild.img`: stores at [`WILD_ADDRESS`], outside every memory slot.
///
/// ```text
/// movz x8, #0x1000, lsl #16           ; x8 = 0x1000_0000
/// movz w9, #0x5a5a
/// movk w9, #0x5a5a, lsl #16
/// str  w9, [x8]
/// ret
/// ```
fn outside_every_slot(_memory: u32) -> [u32; 5] {
    [
        0xd2a0_0000 | ((WILD_ADDRESS >> 16) << 5) | 8, // movz x8, #0x1000, lsl #16
        0x5280_0000 | (0x5a5a << 5) | 9,               // movz w9, #0x5a5a
        0x72a0_0000 | (0x5a5a << 5) | 9,               // movk w9, #0x5a5a, lsl #16
        0xb900_0000 | (8 << 5) | 9,                    // str  w9, [x8]
        0xd65f_03c0,                                   // ret
    ]
}

/// A deliberately broken copy of `front_guard.img`: its exported `poke` function is replaced
/// by hand-assembled A64 code (`code(offset of the memory definition in the vmctx)`, whose
/// fourth instruction is the store), re-sealed so that it loads. The store's PC is checked not
/// to be in the trap table: the fault it causes is not a listed trap site, so only the board's
/// guard-region rule may turn it into a trap (below the memory base), and nothing may when it
/// lies outside every slot.
fn replace_poke(
    image: &[u8],
    code: fn(u32) -> [u32; 5],
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use shared_types::header::{ImageHeader, seal};
    use shared_types::metadata::{ExternKind, Metadata};
    use shared_types::vmoffsets::VmOffsets;

    let mut broken = image.to_vec();
    let header = ImageHeader::parse(image).map_err(|e| format!("front_guard header: {e:?}"))?;
    let metadata = Metadata::decode(header.metadata_bytes(image))
        .map_err(|e| format!("front_guard metadata: {e}"))?;
    let poke = metadata
        .exports
        .iter()
        .filter_map(Result::ok)
        .find(|e| e.name == "poke" && e.kind == ExternKind::Func)
        .ok_or("front_guard: no exported function poke")?;
    // No imported functions: the function index is the defined index.
    let function = metadata
        .functions
        .get(poke.index as usize)
        .ok_or("front_guard: poke not in the function table")?;
    let offsets = VmOffsets::new(8, metadata.counts).ok_or("front_guard: vmctx layout")?;
    let memory = offsets.defined_memory(0);
    if memory % 8 != 0 || memory / 8 >= 4096 {
        return Err("front_guard: memory definition offset not encodable".into());
    }
    // The store (the fourth instruction) must not be a listed trap site: `nop`s go before it
    // until its offset is unlisted (guard-elided images list their own stores).
    let code = code(memory);
    let listed = |offset: u32| metadata.traps.iter().any(|t| t.offset == offset);
    let padding = (0u32..)
        .take_while(|nops| (code.len() as u32 + nops) * 4 <= function.len)
        .find(|nops| !listed(function.offset + 12 + 4 * nops))
        .ok_or("poke: no unlisted offset for the broken store within the function")?;
    const NOP: u32 = 0xd503_201f;
    let words: Vec<u32> = code[..3]
        .iter()
        .copied()
        .chain((0..padding).map(|_| NOP))
        .chain(code[3..].iter().copied())
        .collect();
    if listed(function.offset + 12 + 4 * padding) {
        return Err("poke: the broken store's PC is in the trap table".into());
    }
    let start = (header.text.0 + function.offset) as usize;
    for (i, word) in words.iter().enumerate() {
        broken[start + 4 * i..start + 4 * i + 4].copy_from_slice(&word.to_le_bytes());
    }
    seal(&mut broken);
    Ok(broken)
}
