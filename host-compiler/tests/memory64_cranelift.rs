//! memory64 in the Cranelift backend, end to end: modules compiled for the machine the test
//! runs on (the x86_64 host simulation natively, AArch64 when the tests run under
//! qemu-aarch64 with `--target aarch64-unknown-linux-gnu`) and run on the hosted device
//! runtime through `wasm_aot_runner::run_image`.
//!
//! Each case is chosen so that a plausible mistake in the translation gives a wrong answer
//! instead of a trap or the reverse: an address computation that wraps at 2^64, an operand
//! truncated to 32 bits, a result narrowed to `i32`, or the length of a copy between a 32-bit
//! and a 64-bit memory read with the wrong type.

use host_compiler::{BoundsChecks, Compiler, CompilerConfig, Target, wat_or_wasm};
use wasm_aot_runner::{RunError, run_image};

const OUT_OF_BOUNDS: &str = "out of bounds memory access";

fn native_target() -> Target {
    if cfg!(target_arch = "aarch64") {
        Target::Aarch64
    } else {
        Target::X86_64Sim
    }
}

fn compile_with(config: CompilerConfig, wat: &str) -> Vec<u8> {
    let wasm = wat_or_wasm(wat.as_bytes()).unwrap();
    Compiler::new(config)
        .unwrap()
        .compile(&wasm)
        .unwrap_or_else(|e| panic!("compile failed: {e}"))
        .bytes
}

fn compile(wat: &str) -> Vec<u8> {
    compile_with(CompilerConfig::for_target(native_target()), wat)
}

/// Calls export `name` with `args`; the results, one string per value.
fn call(image: &[u8], name: &str, args: &[&str]) -> Result<Vec<String>, RunError> {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    run_image(image, name, &args)
}

fn returns(image: &[u8], name: &str, args: &[&str], expected: &[&str]) {
    match call(image, name, args) {
        Ok(results) => assert_eq!(results, expected, "{name}{args:?}"),
        Err(e) => panic!("{name}{args:?}: expected {expected:?}, got the error {e}"),
    }
}

fn traps_out_of_bounds(image: &[u8], name: &str, args: &[&str]) {
    match call(image, name, args) {
        Err(e @ RunError::Call(_)) => {
            let message = e.to_string();
            assert!(message.contains(OUT_OF_BOUNDS), "{name}{args:?}: {message}");
        }
        other => panic!("{name}{args:?}: expected an out-of-bounds trap, got {other:?}"),
    }
}

/// One 64 KiB page; every access width, with static offsets up to `u64::MAX`. Every call runs
/// on a fresh instance, so the store functions read back what they wrote.
const ACCESS: &str = r#"(module
  (memory i64 1)
  (data (i64.const 0) "\01\02\03\04\05\06\07\08")
  (data (i64.const 65528) "\f1\f2\f3\f4\f5\f6\f7\f8")
  (func (export "load32") (param i64) (result i32) (i32.load (local.get 0)))
  (func (export "load32_off16") (param i64) (result i32) (i32.load offset=16 (local.get 0)))
  (func (export "load8_s_off_max") (param i64) (result i32)
    (i32.load8_s offset=0xffffffffffffffff (local.get 0)))
  (func (export "load64_off_4g") (param i64) (result i64)
    (i64.load offset=0x100000000 (local.get 0)))
  (func (export "load16_u") (param i64) (result i32) (i32.load16_u (local.get 0)))
  (func (export "load64_32_s") (param i64) (result i64) (i64.load32_s (local.get 0)))
  (func (export "f64_load") (param i64) (result f64) (f64.load (local.get 0)))
  (func (export "store64_off8") (param i64 i64) (result i64)
    (i64.store offset=8 (local.get 0) (local.get 1))
    (i64.load offset=8 (local.get 0)))
  (func (export "store8") (param i64 i32) (result i32)
    (i32.store8 (local.get 0) (local.get 1))
    (i32.load8_u (local.get 0)))
  (func (export "store16_off1_then_load32") (param i64 i32) (result i32)
    (i32.store16 offset=1 (local.get 0) (local.get 1))
    (i32.load (local.get 0)))
  (func (export "f32_roundtrip") (param i64 f32) (result f32)
    (f32.store (local.get 0) (local.get 1))
    (f32.load (local.get 0))))"#;

#[test]
fn accesses_read_and_write_at_64_bit_indices() {
    let image = compile(ACCESS);
    returns(&image, "load32", &["0"], &["67305985"]); // 0x04030201
    returns(&image, "load32", &["65532"], &["-117967115"]); // 0xf8f7f6f5
    returns(&image, "load16_u", &["65534"], &["63735"]); // 0xf8f7
    returns(&image, "load64_32_s", &["65528"], &["-185339151"]); // 0xf4f3f2f1
    returns(&image, "load32_off16", &["65516"], &["-117967115"]);
    returns(&image, "f32_roundtrip", &["100", "2.5"], &["2.5"]);
    // The last 8 bytes of the page, written through a static offset.
    returns(&image, "store64_off8", &["65520", "-2"], &["-2"]);
    returns(&image, "store8", &["65535", "7"], &["7"]);
    // Bytes 1 and 2 of 01 02 03 04 become bb aa: 0x04aabb01.
    returns(
        &image,
        "store16_off1_then_load32",
        &["0", "43707"],
        &["78297857"],
    );
}

#[test]
fn accesses_past_the_end_trap() {
    let image = compile(ACCESS);
    traps_out_of_bounds(&image, "load32", &["65533"]);
    traps_out_of_bounds(&image, "load32", &["65536"]);
    traps_out_of_bounds(&image, "load32_off16", &["65517"]);
    traps_out_of_bounds(&image, "f64_load", &["65529"]);
    traps_out_of_bounds(&image, "store64_off8", &["65521", "0"]);
    traps_out_of_bounds(&image, "store8", &["65536", "0"]);
    traps_out_of_bounds(&image, "store16_off1_then_load32", &["65534", "0"]);
    // Indices with high bits set are out of bounds, never truncated to their low 32 bits.
    traps_out_of_bounds(&image, "load32", &["4294967296"]);
    traps_out_of_bounds(&image, "store8", &["4294967296", "0"]);
    traps_out_of_bounds(&image, "load64_off_4g", &["0"]);
}

#[test]
fn index_near_2_pow_64_with_an_offset_traps_instead_of_wrapping() {
    let image = compile(ACCESS);
    // index + 16 wraps to 0..15 in 64-bit arithmetic: a wrapping check would read bytes 0..4.
    traps_out_of_bounds(&image, "load32_off16", &["-16"]);
    traps_out_of_bounds(&image, "load32_off16", &["-8"]);
    traps_out_of_bounds(&image, "load32_off16", &["-1"]);
    // index + size wraps (no offset).
    traps_out_of_bounds(&image, "load32", &["-2"]);
    traps_out_of_bounds(&image, "store64_off8", &["-8", "0"]);
    traps_out_of_bounds(&image, "store64_off8", &["-16", "0"]);
    traps_out_of_bounds(&image, "store16_off1_then_load32", &["-2", "0"]);
    // offset + size itself exceeds 2^64: every index traps, 0 included.
    traps_out_of_bounds(&image, "load8_s_off_max", &["0"]);
    traps_out_of_bounds(&image, "load8_s_off_max", &["1"]);
}

#[test]
fn guard_elided_configuration_still_checks_memory64_explicitly() {
    // Guard elision covers 32-bit memories only; a memory64 access must keep its check (the
    // guard reservation cannot cover 2^64), so these trap through the explicit check.
    let config =
        CompilerConfig::for_target(native_target()).bounds_checks(BoundsChecks::GuardElided);
    let image = compile_with(config, ACCESS);
    returns(&image, "load32", &["0"], &["67305985"]);
    traps_out_of_bounds(&image, "load32_off16", &["-16"]);
    traps_out_of_bounds(&image, "load32", &["4294967296"]);
    traps_out_of_bounds(&image, "load8_s_off_max", &["0"]);
}

const GROW: &str = r#"(module
  (memory i64 1 3)
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "grow_shifted") (param i64) (result i64)
    (i64.shr_u (memory.grow (local.get 0)) (i64.const 32)))
  ;; Grows, then writes and reads the last byte of the grown memory.
  (func (export "grow_then_use_last_byte") (param i64) (result i64 i64 i32)
    (local $last i64)
    (memory.grow (local.get 0))
    (memory.size)
    (local.set $last (i64.sub (i64.mul (memory.size) (i64.const 65536)) (i64.const 1)))
    (i32.store8 (local.get $last) (i32.const 9))
    (i32.load8_u (local.get $last))))"#;

#[test]
fn memory_grow_and_size_are_i64() {
    let image = compile(GROW);
    returns(&image, "size", &[], &["1"]);
    returns(&image, "grow", &["0"], &["1"]);
    returns(&image, "grow", &["2"], &["1"]);
    returns(&image, "grow", &["3"], &["-1"]);
    // A delta with high bits set fails; truncated to 32 bits it would be 0 or 1 and succeed.
    returns(&image, "grow", &["4294967296"], &["-1"]);
    returns(&image, "grow", &["4294967297"], &["-1"]);
    returns(&image, "grow", &["-1"], &["-1"]);
    // Failure is the i64 -1, all 64 bits set: shifted right by 32 it is 0xffffffff.
    returns(&image, "grow_shifted", &["3"], &["4294967295"]);
    returns(&image, "grow_shifted", &["1"], &["0"]);
    returns(&image, "grow_then_use_last_byte", &["2"], &["1", "3", "9"]);
    returns(&image, "grow_then_use_last_byte", &["0"], &["1", "1", "9"]);
    returns(
        &image,
        "grow_then_use_last_byte",
        &["4294967297"],
        &["-1", "1", "9"],
    );
}

/// Memory 0 is 32-bit, memory 1 64-bit, memory 2 64-bit with 1-byte pages. Each bulk function
/// returns the byte at `probe` of its destination memory afterwards.
const BULK: &str = r#"(module
  (memory $m32 1)
  (memory $m64 i64 1)
  (memory $tiny i64 16 16 (pagesize 1))
  (data (memory $m32) (i32.const 0) "abcdefgh")
  (data (memory $m64) (i64.const 0) "ABCDEFGH")
  (data $seg "0123456789")
  ;; 64-bit destination, 32-bit source: the length is i32.
  (func (export "copy_32_to_64") (param $dst i64) (param $src i32) (param $len i32) (param $probe i64) (result i32)
    (memory.copy $m64 $m32 (local.get $dst) (local.get $src) (local.get $len))
    (i32.load8_u $m64 (local.get $probe)))
  ;; 32-bit destination, 64-bit source: the length is i32.
  (func (export "copy_64_to_32") (param $dst i32) (param $src i64) (param $len i32) (param $probe i32) (result i32)
    (memory.copy $m32 $m64 (local.get $dst) (local.get $src) (local.get $len))
    (i32.load8_u $m32 (local.get $probe)))
  ;; Both 64-bit: the length is i64.
  (func (export "copy_64_to_64") (param $dst i64) (param $src i64) (param $len i64) (param $probe i64) (result i32)
    (memory.copy $m64 $m64 (local.get $dst) (local.get $src) (local.get $len))
    (i32.load8_u $m64 (local.get $probe)))
  (func (export "copy_64_to_tiny") (param $dst i64) (param $src i64) (param $len i64) (param $probe i64) (result i32)
    (memory.copy $tiny $m64 (local.get $dst) (local.get $src) (local.get $len))
    (i32.load8_u $tiny (local.get $probe)))
  (func (export "fill64") (param $dst i64) (param $value i32) (param $len i64) (param $probe i64) (result i32)
    (memory.fill $m64 (local.get $dst) (local.get $value) (local.get $len))
    (i32.load8_u $m64 (local.get $probe)))
  ;; The destination is i64, the segment offset and length i32.
  (func (export "init64") (param $dst i64) (param $src i32) (param $len i32) (param $probe i64) (result i32)
    (memory.init $m64 $seg (local.get $dst) (local.get $src) (local.get $len))
    (i32.load8_u $m64 (local.get $probe)))
  (func (export "size_tiny") (result i64) (memory.size $tiny)))"#;

#[test]
fn copy_between_32_and_64_bit_memories() {
    let image = compile(BULK);
    returns(&image, "copy_32_to_64", &["100", "2", "3", "100"], &["99"]); // 'c'
    returns(&image, "copy_32_to_64", &["100", "2", "3", "102"], &["101"]); // 'e'
    returns(&image, "copy_32_to_64", &["100", "2", "3", "103"], &["0"]);
    returns(&image, "copy_64_to_32", &["200", "1", "2", "200"], &["66"]); // 'B'
    returns(&image, "copy_64_to_32", &["200", "1", "2", "201"], &["67"]); // 'C'
    returns(&image, "copy_64_to_32", &["200", "1", "2", "202"], &["0"]);
    returns(
        &image,
        "copy_64_to_64",
        &["65530", "0", "6", "65535"],
        &["70"],
    ); // 'F'
    returns(&image, "copy_64_to_tiny", &["10", "0", "6", "15"], &["70"]);
    returns(&image, "size_tiny", &[], &["16"]);
    // Zero-length copies at the end are allowed, one past it trap.
    returns(&image, "copy_32_to_64", &["65536", "0", "0", "0"], &["65"]);
    traps_out_of_bounds(&image, "copy_32_to_64", &["65537", "0", "0", "0"]);
    // High bits of a 64-bit address or length are not dropped.
    traps_out_of_bounds(&image, "copy_32_to_64", &["4294967296", "0", "1", "0"]);
    traps_out_of_bounds(&image, "copy_64_to_32", &["0", "4294967296", "1", "0"]);
    traps_out_of_bounds(&image, "copy_64_to_64", &["0", "0", "4294967297", "0"]);
    traps_out_of_bounds(&image, "copy_64_to_64", &["-1", "0", "2", "0"]);
    traps_out_of_bounds(&image, "copy_64_to_tiny", &["11", "0", "6", "0"]);
    // A 32-bit length is zero-extended: 0xffffffff bytes do not fit.
    traps_out_of_bounds(&image, "copy_64_to_32", &["0", "0", "-1", "0"]);
    traps_out_of_bounds(&image, "copy_32_to_64", &["0", "0", "-1", "0"]);
}

#[test]
fn fill_and_init_take_64_bit_destinations() {
    let image = compile(BULK);
    returns(&image, "fill64", &["300", "122", "2", "301"], &["122"]);
    returns(&image, "fill64", &["300", "122", "2", "302"], &["0"]);
    returns(&image, "fill64", &["65535", "122", "1", "65535"], &["122"]);
    returns(&image, "init64", &["400", "3", "4", "400"], &["51"]); // '3'
    returns(&image, "init64", &["400", "3", "4", "403"], &["54"]); // '6'
    returns(&image, "init64", &["400", "3", "4", "404"], &["0"]);
    traps_out_of_bounds(&image, "fill64", &["4294967296", "1", "1", "0"]);
    traps_out_of_bounds(&image, "fill64", &["0", "1", "4294967296", "0"]);
    traps_out_of_bounds(&image, "fill64", &["-1", "1", "2", "0"]);
    traps_out_of_bounds(&image, "init64", &["4294967296", "0", "1", "0"]);
    traps_out_of_bounds(&image, "init64", &["-1", "0", "2", "0"]);
}
