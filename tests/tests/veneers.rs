//! Calls between functions placed out of direct-branch range (AArch64 `bl`: +/-128 MiB) go
//! through veneers that the linker inserts; the image still has no relocation.
//!
//! The layout checks run on every host (they only compile for AArch64); the execution test
//! runs on AArch64 (`cargo test -p tests --test veneers --target aarch64-unknown-linux-gnu`,
//! under qemu-aarch64).

use host_compiler::{CompiledImage, Compiler, CompilerConfig};
use shared_types::Target;
use shared_types::header::ImageHeader;

const PAD: u32 = 130 << 20;

/// `$a` calls `$c` forward and `$c` calls `$a` backward; with the padding they are more than
/// 128 MiB apart. a(n) = 100 + c(n-1), c(n) = 1000 + a(n-1), a(0) = 1, c(0) = 2.
const MODULE: &str = r#"(module
  (func $a (export "a") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 1))
      (else (i32.add (i32.const 100) (call $c (i32.sub (local.get 0) (i32.const 1)))))))
  (func $c (export "c") (param i32) (result i32)
    (if (result i32) (i32.eqz (local.get 0))
      (then (i32.const 2))
      (else (i32.add (i32.const 1000) (call $a (i32.sub (local.get 0) (i32.const 1)))))))
)"#;

#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
fn expected_a(n: i32) -> i32 {
    if n == 0 { 1 } else { 100 + expected_c(n - 1) }
}
#[cfg_attr(not(target_arch = "aarch64"), allow(dead_code))]
fn expected_c(n: i32) -> i32 {
    if n == 0 { 2 } else { 1000 + expected_a(n - 1) }
}

fn compile(pad: u32) -> CompiledImage {
    let wasm = wat::parse_str(MODULE).expect("wat");
    let config = CompilerConfig::for_target(Target::Aarch64).pad_between_functions(pad);
    Compiler::new(config)
        .expect("compiler")
        .compile(&wasm)
        .expect("compile")
}

#[test]
fn padding_forces_veneers_and_leaves_no_relocation() {
    let plain = compile(0);
    let padded = compile(PAD);
    println!("unpadded: {:?}", plain.stats);
    println!("padded:   {:?}", padded.stats);
    assert_eq!(plain.stats.relocations_left, 0);
    assert_eq!(padded.stats.relocations_left, 0);
    assert!(
        padded.stats.padding_bytes >= PAD as u64,
        "padding not applied: {:?}",
        padded.stats
    );
    assert!(
        padded.stats.relocations_resolved >= 2,
        "the two calls were not resolved at layout: {:?}",
        padded.stats
    );
    // Veneers: the padded text has bytes that are neither code nor padding, beyond the
    // alignment the unpadded text already has.
    assert!(
        padded.stats.veneer_and_alignment_bytes > plain.stats.veneer_and_alignment_bytes,
        "no veneer bytes: padded {:?} vs unpadded {:?}",
        padded.stats,
        plain.stats
    );
    let h = ImageHeader::parse(&padded.bytes).expect("padded image header");
    h.verify_digest(&padded.bytes).expect("digest");
    assert!(h.text.1 as u64 > PAD as u64);
}

#[cfg(target_arch = "aarch64")]
#[test]
fn calls_across_the_padding_work_both_ways() {
    use device_runtime::{Engine, Linker, Module, Store, Val};
    let image = compile(PAD);
    let engine = Engine::default();
    let module = Module::new(&engine, &image.bytes).expect("load padded image");
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let inst = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    for (name, n, want) in [
        ("a", 0, expected_a(0)),
        ("a", 1, expected_a(1)), // forward a -> c
        ("c", 1, expected_c(1)), // backward c -> a
        ("a", 7, expected_a(7)), // both, repeatedly
        ("c", 8, expected_c(8)),
    ] {
        let f = inst.get_func(&store, name).expect(name);
        let mut out = [Val::I32(0)];
        f.call(&mut store, &[Val::I32(n)], &mut out)
            .unwrap_or_else(|e| panic!("{name}({n}): {e}"));
        match out[0] {
            Val::I32(v) => assert_eq!(v, want, "{name}({n})"),
            ref v => panic!("{name}({n}) returned {v:?}"),
        }
    }
}
