//! Build-script helper of the Cortex-M boards (host code, not part of the `cortex-m-common`
//! library): makes *deliberately broken* images for the boards' fault tests by replacing the
//! machine code of an exported function of a Thumb image with hand-assembled instructions,
//! then re-sealing the image so that it loads.
//!
//! A board's `build.rs` includes it with
//! `#[path = "../cortex-m-common/build-support/broken_image.rs"] mod broken_image;`
//! and needs `shared-types` as a build dependency.
//!
//! Layout of the replaced function (its offset and length come from the image's function
//! table, so the code stays inside the function):
//!
//! ```text
//! offset 0    nop x 8          16 bytes over the instance entry (at most 16 bytes): callers
//!                              through a VMFuncRef start at offset 0, the array-entry
//!                              trampoline past the instance entry; both reach the code below
//! offset 16   prefix           the instructions before the faulting one
//!             nop x n          n >= 0 chosen so that the faulting instruction's offset is NOT
//!                              in the trap table: only the board's guard rule may turn its
//!                              fault into a trap, never a listed trap site
//!             faulting         the one instruction that must fault
//!             bx lr
//! ```
//!
//! At entry r10 holds the callee's vmctx (the Thumb backend's instance register), so the code
//! can find its linear memory: [`Context::memory_definition`] is the offset of memory 0's
//! `VMMemoryDefinition` in the vmctx, whose first word is the memory's base.

use shared_types::header::{ImageHeader, seal};
use shared_types::metadata::{ExternKind, Metadata};
use shared_types::vmoffsets::VmOffsets;

/// What the replacement code may depend on.
pub struct Context {
    /// Offset of memory 0's `VMMemoryDefinition` (its base first) in the vmctx.
    pub memory_definition: u32,
}

/// A Thumb instruction: one halfword (16-bit encoding) or two (32-bit, first halfword first).
pub type Instruction = Vec<u16>;

const NOP: u16 = 0xbf00;
const BX_LR: u16 = 0x4770;
/// Halfwords of `nop` over the instance entry.
const SLED: u32 = 8;

/// `ldr.w rt, [rn, #imm12]` (T3).
pub fn ldr_imm(rt: u16, rn: u16, imm12: u16) -> Instruction {
    vec![0xf8d0 | rn, (rt << 12) | (imm12 & 0xfff)]
}

/// `str.w rt, [rn, #-imm8]` (T4, P=1 U=0 W=0).
pub fn str_negative(rt: u16, rn: u16, imm8: u8) -> Instruction {
    vec![0xf840 | rn, (rt << 12) | 0xc00 | u16::from(imm8)]
}

/// `str.w rt, [rn, #imm12]` (T3).
pub fn str_imm(rt: u16, rn: u16, imm12: u16) -> Instruction {
    vec![0xf8c0 | rn, (rt << 12) | (imm12 & 0xfff)]
}

/// `movw rd, #imm16` (T3), or `movt` with `top`.
pub fn mov16(top: bool, rd: u16, imm16: u16) -> Instruction {
    let opcode: u16 = if top { 0xf2c0 } else { 0xf240 };
    vec![
        opcode | (((imm16 >> 11) & 1) << 10) | (imm16 >> 12),
        (((imm16 >> 8) & 0x7) << 12) | (rd << 8) | (imm16 & 0xff),
    ]
}

/// `movw` + `movt`: `rd = value`.
pub fn mov32(rd: u16, value: u32) -> Vec<Instruction> {
    vec![
        mov16(false, rd, value as u16),
        mov16(true, rd, (value >> 16) as u16),
    ]
}

/// Replaces the code of the exported function `export` (no imported functions in the image)
/// by `prefix`, then `faulting`, then `bx lr` (layout in the module documentation), and
/// re-seals the image.
pub fn replace_export(
    image: &[u8],
    export: &str,
    code: impl Fn(&Context) -> (Vec<Instruction>, Instruction),
) -> Result<Vec<u8>, String> {
    let header = ImageHeader::parse(image).map_err(|e| format!("header: {e:?}"))?;
    let metadata =
        Metadata::decode(header.metadata_bytes(image)).map_err(|e| format!("metadata: {e}"))?;
    if metadata.imports.iter().next().is_some() {
        return Err("images with imports are not supported".into());
    }
    let index = metadata
        .exports
        .iter()
        .filter_map(Result::ok)
        .find(|e| e.name == export && e.kind == ExternKind::Func)
        .ok_or_else(|| format!("no exported function {export}"))?
        .index;
    let function = metadata
        .functions
        .get(index as usize)
        .ok_or_else(|| format!("{export}: not in the function table"))?;
    let offsets = VmOffsets::new(4, metadata.counts).ok_or("vmctx layout")?;
    let (prefix, faulting) = code(&Context {
        memory_definition: offsets.defined_memory(0),
    });
    let prefix: Vec<u16> = prefix.into_iter().flatten().collect();
    let faulting_at = |nops: u32| function.offset + 2 * (SLED + prefix.len() as u32 + nops);
    let listed = |offset: u32| metadata.traps.iter().any(|t| t.offset == offset);
    let total = |nops: u32| 2 * (SLED + prefix.len() as u32 + nops + faulting.len() as u32 + 1);
    let nops = (0u32..)
        .take_while(|&n| total(n) <= function.len)
        .find(|&n| !listed(faulting_at(n)))
        .ok_or_else(|| format!("{export}: too short for the code, or no unlisted offset"))?;
    let mut halfwords = vec![NOP; SLED as usize];
    halfwords.extend(&prefix);
    halfwords.extend((0..nops).map(|_| NOP));
    halfwords.extend(&faulting);
    halfwords.push(BX_LR);
    let mut broken = image.to_vec();
    let start = (header.text.0 + function.offset) as usize;
    for (i, halfword) in halfwords.iter().enumerate() {
        broken[start + 2 * i..start + 2 * i + 2].copy_from_slice(&halfword.to_le_bytes());
    }
    seal(&mut broken);
    Ok(broken)
}
