//! Runs on the host. Two jobs:
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
//!    [`WILD_ADDRESS`], outside every memory slot (both re-sealed, so they load).

use std::path::PathBuf;

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
            let broken = replace_poke(&intact, below_memory_base)?;
            std::fs::write(out.join("front_guard_broken.img"), broken)?;
            let wild = replace_poke(&intact, outside_every_slot)?;
            std::fs::write(out.join("front_guard_wild.img"), wild)?;
        }
    }
    Ok(())
}

/// `movw`/`movt` of `value`'s half `imm16` into `rd` (T3/T1 encodings share the layout).
fn mov_imm16(top: bool, rd: u16, imm16: u16) -> [u16; 2] {
    let opcode: u16 = if top { 0xf2c0 } else { 0xf240 };
    [
        opcode | ((imm16 >> 11) & 1) << 10 | (imm16 >> 12),
        ((imm16 >> 8) & 0x7) << 12 | rd << 8 | (imm16 & 0xff),
    ]
}

const R0: u16 = 0;
const R1: u16 = 1;
const R10: u16 = 10;
const BX_LR: u16 = 0x4770;

/// `poke` of `front_guard_broken.img`: stores below its linear memory, on the front guard.
/// At entry r10 is the callee's vmctx (the Thumb backend's instance register); the memory
/// definition is inline in it, its base first.
///
/// ```text
/// ldr.w  r0, [r10, #defined_memory(0)]   ; r0 = VMMemoryDefinition::base
/// movw   r1, #0x5a5a
/// movt   r1, #0x5a5a
/// str.w  r1, [r0, #-4]                   ; base - 4: the front guard   (the store)
/// bx     lr
/// ```
fn below_memory_base(memory: u32) -> Vec<[u16; 2]> {
    let memory = memory as u16;
    vec![
        [0xf8d0 | R10, R0 << 12 | memory], // ldr.w r0, [r10, #memory] (T3, imm12)
        mov_imm16(false, R1, 0x5a5a),
        mov_imm16(true, R1, 0x5a5a),
        [0xf840 | R0, R1 << 12 | 0xc04], // str.w r1, [r0, #-4] (T4: P=1 U=0 W=0)
    ]
}

/// `poke` of `front_guard_wild.img`: stores at [`WILD_ADDRESS`], outside every memory slot.
///
/// ```text
/// movw   r0, #lo(WILD_ADDRESS)
/// movt   r0, #hi(WILD_ADDRESS)
/// movw   r1, #0x5a5a
/// str.w  r1, [r0, #0]                    ; (the store)
/// bx     lr
/// ```
fn outside_every_slot(_memory: u32) -> Vec<[u16; 2]> {
    vec![
        mov_imm16(false, R0, WILD_ADDRESS as u16),
        mov_imm16(true, R0, (WILD_ADDRESS >> 16) as u16),
        mov_imm16(false, R1, 0x5a5a),
        [0xf8c0 | R0, R1 << 12], // str.w r1, [r0, #0] (T3, imm12)
    ]
}

/// A deliberately broken copy of `front_guard.img`: its exported `poke` function is replaced
/// by hand-assembled Thumb-2 (a `nop` sled over the instance entry, then `code(offset of the
/// memory definition in the vmctx)`: 32-bit instructions, the last one the store, then
/// `bx lr`), re-sealed so that it loads. `nop`s go
/// before the store until its offset is not in the trap table: only the board's guard rule may
/// turn its fault into a trap (below the memory base), and nothing may outside every slot.
fn replace_poke(
    image: &[u8],
    code: fn(u32) -> Vec<[u16; 2]>,
) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    use shared_types::header::{ImageHeader, seal};
    use shared_types::metadata::{ExternKind, Metadata};
    use shared_types::vmoffsets::VmOffsets;

    const NOP: u16 = 0xbf00;
    // The host enters `poke` through its array-entry trampoline, which calls the body past
    // the function's instance entry (at most 16 bytes; a `VMFuncRef` call would start at the
    // function's offset): 16 bytes of `nop`s first, so both land on the hand-made code.
    const SLED: u32 = 8;
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
    let offsets = VmOffsets::new(4, metadata.counts).ok_or("front_guard: vmctx layout")?;
    let memory = offsets.defined_memory(0);
    if memory >= 4096 {
        return Err("front_guard: memory definition offset not encodable".into());
    }
    let code = code(memory);
    let (store, before) = code.split_last().ok_or("empty code")?;
    let store_offset = |nops: u32| function.offset + 2 * SLED + 4 * before.len() as u32 + 2 * nops;
    let listed = |offset: u32| metadata.traps.iter().any(|t| t.offset == offset);
    let fits = |nops: u32| 2 * SLED + 4 * code.len() as u32 + 2 * nops + 2 <= function.len;
    let padding = (0u32..)
        .take_while(|&nops| fits(nops))
        .find(|&nops| !listed(store_offset(nops)))
        .ok_or("poke: too short for the broken code, or no unlisted offset for its store")?;
    let mut halfwords: Vec<u16> = vec![NOP; SLED as usize];
    halfwords.extend(before.iter().flatten().copied());
    halfwords.extend((0..padding).map(|_| NOP));
    halfwords.extend_from_slice(store);
    halfwords.push(BX_LR);
    let mut broken = image.to_vec();
    let start = (header.text.0 + function.offset) as usize;
    for (i, halfword) in halfwords.iter().enumerate() {
        broken[start + 2 * i..start + 2 * i + 2].copy_from_slice(&halfword.to_le_bytes());
    }
    seal(&mut broken);
    Ok(broken)
}
