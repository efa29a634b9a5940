//! Layout with functions out of direct-call range: the padding option must force veneers on
//! AArch64 in both call directions, and the result must have every call resolved. (Running the
//! veneers is tested under QEMU elsewhere; this checks the bytes.)

use host_compiler::{Compiler, CompilerConfig, Target, wat_or_wasm};
use shared_types::ImageHeader;
use shared_types::metadata::Metadata;

/// More than the +/-128 MiB a `bl` reaches.
const PAD: u32 = (128 << 20) + (64 << 10);

const MUTUAL: &str = r#"(module
    (func $a (export "a") (param i32) (result i32)
        local.get 0 i32.eqz
        if (result i32) i32.const 100
        else local.get 0 i32.const 1 i32.sub call $b end)
    (func $b (export "b") (param i32) (result i32)
        local.get 0 i32.eqz
        if (result i32) i32.const 200
        else local.get 0 i32.const 1 i32.sub call $a end))"#;

fn word(text: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(text[at..at + 4].try_into().unwrap())
}

/// Targets of every `bl` in `text[start..start + len]`.
fn bl_targets(text: &[u8], start: usize, len: usize) -> Vec<(usize, usize)> {
    (start..start + len)
        .step_by(4)
        .filter(|&at| word(text, at) & 0xFC00_0000 == 0x9400_0000)
        .map(|at| {
            let imm26 = word(text, at) & 0x03FF_FFFF;
            let delta = ((imm26 << 6) as i32 >> 6) as i64 * 4;
            (at, (at as i64 + delta) as usize)
        })
        .collect()
}

/// If `at` holds a 20-byte AArch64 veneer, where it branches to.
fn veneer_target(text: &[u8], at: usize) -> Option<usize> {
    let expected = [0x9800_0090u32, 0x1000_0071, 0x8B11_0210, 0xD61F_0200];
    if (0..4).any(|i| word(text, at + 4 * i) != expected[i]) {
        return None;
    }
    let rel = word(text, at + 16) as i32 as i64;
    Some((at as i64 + 16 + rel) as usize)
}

#[test]
fn aarch64_padding_forces_veneers_both_ways() {
    let wasm = wat_or_wasm(MUTUAL.as_bytes()).unwrap();
    let compiler =
        Compiler::new(CompilerConfig::for_target(Target::Aarch64).pad_between_functions(PAD))
            .unwrap();
    let image = compiler.compile(&wasm).unwrap();
    assert_eq!(image.stats.padding_bytes, PAD as u64);
    assert!(
        image.stats.veneer_and_alignment_bytes >= 2 * 20,
        "{:?}",
        image.stats
    );

    let header = ImageHeader::parse(&image.bytes).unwrap();
    header.verify_digest(&image.bytes).unwrap();
    let text = header.text_bytes(&image.bytes);
    let meta = Metadata::decode(header.metadata_bytes(&image.bytes)).unwrap();
    meta.validate(header.text.1).unwrap();
    let a = meta.functions.get(0).unwrap();
    let b = meta.functions.get(1).unwrap();
    assert!(
        b.offset - a.offset > 128 << 20,
        "functions not out of range: {a:?} {b:?}"
    );

    // a -> b (forward): the `bl` goes to a veneer in the island before the padding.
    let calls = bl_targets(text, a.offset as usize, a.len as usize);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (_, island) = calls[0];
    assert!(
        island >= (a.offset + a.len) as usize && island < b.offset as usize,
        "a={a:?} b={b:?} island={island:#x}"
    );
    assert_eq!(veneer_target(text, island), Some(b.offset as usize));

    // b -> a (backward): the `bl` goes to a veneer after b.
    let calls = bl_targets(text, b.offset as usize, b.len as usize);
    assert_eq!(calls.len(), 1, "{calls:?}");
    let (_, island) = calls[0];
    assert!(island >= (b.offset + b.len) as usize);
    assert_eq!(veneer_target(text, island), Some(a.offset as usize));

    // The array-entry trampoline of a sits after b, out of range of a, and reaches it too.
    let tramp = a.array_trampoline as usize;
    let calls = bl_targets(text, tramp, 64.min(text.len() - tramp));
    let (_, target) = calls[0];
    assert!(target == a.offset as usize || veneer_target(text, target) == Some(a.offset as usize));
}

#[test]
fn x86_64_padding_needs_no_veneers() {
    let wasm = wat_or_wasm(MUTUAL.as_bytes()).unwrap();
    let compiler =
        Compiler::new(CompilerConfig::for_target(Target::X86_64Sim).pad_between_functions(PAD))
            .unwrap();
    let image = compiler.compile(&wasm).unwrap();
    assert_eq!(image.stats.padding_bytes, PAD as u64);
    // Only alignment: x86_64 `call rel32` reaches +/-2 GiB.
    assert!(
        image.stats.veneer_and_alignment_bytes < 64,
        "{:?}",
        image.stats
    );
    let header = ImageHeader::parse(&image.bytes).unwrap();
    let text = header.text_bytes(&image.bytes);
    let meta = Metadata::decode(header.metadata_bytes(&image.bytes)).unwrap();
    let a = meta.functions.get(0).unwrap();
    let b = meta.functions.get(1).unwrap();
    // Find the `call rel32` (e8) in a whose target is b.
    let found = (a.offset as usize..(a.offset + a.len) as usize - 4).any(|at| {
        text[at] == 0xE8 && {
            let rel = i32::from_le_bytes(text[at + 1..at + 5].try_into().unwrap()) as i64;
            (at as i64 + 5 + rel) as u32 == b.offset
        }
    });
    assert!(found, "no direct call from a to b");
}
