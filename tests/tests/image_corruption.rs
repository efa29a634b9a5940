//! A corrupted, truncated, extended or foreign image is refused by `Module::new` with a typed
//! error: never a panic, never a successful load (so no code of it can ever run).
//!
//! `cargo test -p tests --test image_corruption` (also under qemu-aarch64 with
//! `--target aarch64-unknown-linux-gnu`).

use std::panic::{AssertUnwindSafe, catch_unwind};

use device_runtime::{Engine, EngineConfig, Error, Linker, LoadError, Module, Store, Val};
use shared_types::header::{DIGEST_OFFSET, DIGEST_SIZE, HEADER_SIZE, ImageHeader, seal};
use shared_types::{HeaderError, Target};
use tests::native_target;

/// A real module: several functions calling each other, a memory with data, a table with
/// elements, a global, a start function and exports of every kind.
const MODULE: &str = r#"(module
  (type $binop (func (param i32 i32) (result i32)))
  (memory (export "mem") 1 4)
  (data (i32.const 16) "corruption test data")
  (global $g (export "g") (mut i32) (i32.const 7))
  (table (export "tab") 4 funcref)
  (elem (i32.const 0) $add $sub $mul)
  (func $add (type $binop) (i32.add (local.get 0) (local.get 1)))
  (func $sub (type $binop) (i32.sub (local.get 0) (local.get 1)))
  (func $mul (type $binop) (i32.mul (local.get 0) (local.get 1)))
  (func $start (global.set $g (i32.add (global.get $g) (i32.const 1))))
  (start $start)
  (func (export "apply") (param $op i32) (param i32 i32) (result i32)
    (call_indirect (type $binop) (local.get 1) (local.get 2) (local.get $op)))
  (func (export "sum_data") (result i32) (local $i i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const 20)))
      (local.set $s (i32.add (local.get $s) (i32.load8_u offset=16 (local.get $i))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "fib") (param i32) (result i32)
    (if (result i32) (i32.lt_u (local.get 0) (i32.const 2))
      (then (local.get 0))
      (else (i32.add (call 6 (i32.sub (local.get 0) (i32.const 1)))
                     (call 6 (i32.sub (local.get 0) (i32.const 2)))))))
)"#;

fn compile_for(target: Target, wat: &str) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("wat");
    let compiler = host_compiler::Compiler::new(host_compiler::CompilerConfig::for_target(target))
        .expect("compiler");
    compiler.compile(&wasm).expect("compile").bytes
}

fn image() -> Vec<u8> {
    compile_for(native_target(), MODULE)
}

/// `Module::new` on `bytes`: `Ok(())` if it loaded, the error otherwise, a description if it
/// panicked.
fn load(engine: &Engine, bytes: &[u8]) -> Result<(), Result<LoadError, String>> {
    match catch_unwind(AssertUnwindSafe(|| Module::new(engine, bytes).map(|_| ()))) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(Ok(e)),
        Err(p) => Err(Err(p
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default())),
    }
}

fn expect_refused(engine: &Engine, bytes: &[u8], what: &str) -> LoadError {
    match load(engine, bytes) {
        Ok(()) => panic!("{what}: the corrupted image loaded"),
        Err(Err(panic)) => panic!("{what}: Module::new panicked: {panic}"),
        Err(Ok(e)) => e,
    }
}

#[test]
fn the_intact_image_loads_and_runs() {
    // The baseline every other test corrupts: it must load and compute the right answers.
    let engine = Engine::default();
    let img = image();
    let module = Module::new(&engine, &img).expect("intact image loads");
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let inst = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let call = |store: &mut Store<'_, ()>, name: &str, args: &[Val]| -> i32 {
        let f = inst.get_func(&*store, name).expect(name);
        let mut out = [Val::I32(0)];
        f.call(store, args, &mut out).expect(name);
        match out[0] {
            Val::I32(v) => v,
            ref v => panic!("{name} returned {v:?}"),
        }
    };
    assert_eq!(
        call(
            &mut store,
            "apply",
            &[Val::I32(0), Val::I32(40), Val::I32(2)]
        ),
        42
    );
    assert_eq!(
        call(
            &mut store,
            "apply",
            &[Val::I32(2), Val::I32(6), Val::I32(7)]
        ),
        42
    );
    assert_eq!(
        call(&mut store, "sum_data", &[]),
        b"corruption test data"
            .iter()
            .map(|&b| b as i32)
            .sum::<i32>()
    );
    assert_eq!(call(&mut store, "fib", &[Val::I32(20)]), 6765);
    match inst.get_global(&store, "g").expect("g").get(&store) {
        Val::I32(8) => {}
        v => panic!("start function did not run once: g = {v:?}"),
    }
}

#[test]
fn every_truncation_is_refused() {
    let engine = Engine::default();
    let img = image();
    for n in 0..img.len() {
        let e = expect_refused(
            &engine,
            &img[..n],
            &format!("truncated to {n} of {} bytes", img.len()),
        );
        assert!(
            matches!(
                e,
                LoadError::Header(HeaderError::Truncated { .. } | HeaderError::BadMagic)
            ),
            "truncated to {n}: unexpected error {e:?}"
        );
    }
}

#[test]
fn trailing_bytes_are_refused() {
    let engine = Engine::default();
    for extra in [&[0u8][..], &[0; 64], b"WAOT"] {
        let mut img = image();
        img.extend_from_slice(extra);
        let e = expect_refused(&engine, &img, &format!("{} trailing bytes", extra.len()));
        assert!(
            matches!(e, LoadError::Header(HeaderError::TrailingBytes)),
            "unexpected error {e:?}"
        );
    }
}

#[test]
fn every_bit_flip_is_refused_before_anything_is_decoded() {
    // Every bit of the whole image (header, metadata, padding, text). The digest is checked
    // before the metadata is read, so a flip anywhere outside the fixed header fields must
    // surface as a digest mismatch.
    let engine = Engine::default();
    let img = image();
    let header = ImageHeader::parse(&img).expect("header");
    // Every byte of a small image; past 16 KiB, every header byte and an even sample of the rest.
    let stride = (img.len() / 16384).max(1);
    let bytes: Vec<usize> = (0..img.len())
        .filter(|&b| b < HEADER_SIZE || b % stride == 0)
        .collect();
    let mut flips = 0;
    let mut bad = img.clone();
    for &byte in &bytes {
        for bit in 0..8 {
            bad[byte] ^= 1 << bit;
            let e = expect_refused(
                &engine,
                &bad,
                &format!("bit {bit} of byte {byte:#x} flipped"),
            );
            if byte >= HEADER_SIZE || (DIGEST_OFFSET..DIGEST_OFFSET + DIGEST_SIZE).contains(&byte) {
                assert!(
                    matches!(e, LoadError::Header(HeaderError::DigestMismatch)),
                    "bit {bit} of byte {byte:#x} (outside the header fields): {e:?}"
                );
            } else {
                assert!(
                    matches!(e, LoadError::Header(_)),
                    "bit {bit} of header byte {byte:#x}: {e:?}"
                );
            }
            bad[byte] ^= 1 << bit;
            flips += 1;
        }
    }
    assert_eq!(bad, img);
    println!(
        "{flips} single-bit flips in {} of {} bytes (metadata {} bytes, text {} bytes): all refused",
        bytes.len(),
        img.len(),
        header.metadata.1,
        header.text.1
    );
}

#[test]
fn resealed_metadata_corruption_never_panics() {
    // An attacker (or a buggy tool) that re-seals the digest gets past the integrity check: the
    // metadata decoder and validator must then refuse or accept without panicking. Every bit
    // of the metadata, re-sealed. An accepted flip is allowed (e.g. a letter of an export name)
    // but no code is run here.
    let engine = Engine::default();
    let img = image();
    let header = ImageHeader::parse(&img).expect("header");
    let (start, len) = (header.metadata.0 as usize, header.metadata.1 as usize);
    let (mut refused, mut accepted) = (0, 0);
    for byte in start..start + len {
        for bit in 0..8 {
            let mut bad = img.clone();
            bad[byte] ^= 1 << bit;
            seal(&mut bad);
            match load(&engine, &bad) {
                Ok(()) => accepted += 1,
                Err(Ok(_)) => refused += 1,
                Err(Err(p)) => panic!(
                    "re-sealed flip of bit {bit} of metadata byte {:#x}: Module::new panicked: {p}",
                    byte - start
                ),
            }
        }
    }
    println!(
        "re-sealed metadata flips: {refused} refused, {accepted} accepted (valid metadata), 0 panics"
    );
    assert!(
        refused > 0,
        "no re-sealed metadata flip was refused: is the metadata validated?"
    );
}

#[test]
fn an_image_for_another_architecture_is_refused() {
    let engine = Engine::default();
    let other = match native_target() {
        Target::Aarch64 => Target::X86_64Sim,
        _ => Target::Aarch64,
    };
    let img = compile_for(other, MODULE);
    let e = expect_refused(&engine, &img, &format!("{other} image"));
    match e {
        LoadError::WrongTarget { image, runtime } => {
            assert_eq!(image, other);
            assert_eq!(runtime, Some(native_target()));
        }
        e => panic!(
            "{other} image on {}: expected WrongTarget, got {e:?}",
            native_target()
        ),
    }
}

#[test]
fn an_unknown_target_byte_is_refused() {
    let engine = Engine::default();
    let mut img = image();
    for code in [0u8, 3, 15, 20, 0xff] {
        img[0x08] = code;
        seal(&mut img);
        let e = expect_refused(&engine, &img, &format!("target byte {code}"));
        assert!(
            matches!(e, LoadError::Header(HeaderError::UnknownTarget(c)) if c == code),
            "{e:?}"
        );
    }
}

#[test]
fn a_memory_larger_than_the_reservation_is_a_typed_error() {
    // A device-sized engine: 16 MiB of address space per memory. A module whose memory starts at
    // 1000 pages (62.5 MiB) is valid wasm but cannot be placed: instantiation must fail with a
    // typed error, not a trap, not a panic. The same module fits the default hosted engine.
    let mut config = EngineConfig::default();
    config.memory_reservation = 16 << 20;
    let small = Engine::new(&config);
    let img = compile_for(
        native_target(),
        r#"(module (memory (export "m") 1000) (func (export "f") (result i32) (memory.size)))"#,
    );
    let attempt = |engine: &Engine| {
        catch_unwind(AssertUnwindSafe(|| {
            let module = Module::new(engine, &img).map_err(Error::Load)?;
            let mut store = Store::new(engine, ());
            let linker = Linker::<()>::new(engine);
            linker.instantiate(&mut store, &module).map(|_| ())
        }))
        .unwrap_or_else(|_| panic!("instantiating a 1000-page memory panicked"))
    };
    attempt(&Engine::default()).expect("1000 pages fit the default 4 GiB reservation");
    match attempt(&small) {
        Ok(()) => panic!("a 1000-page memory was instantiated in a 16 MiB reservation"),
        Err(e) => {
            assert!(
                e.trap_code().is_none(),
                "expected a resource error, got a trap: {e:?}"
            );
            assert!(
                matches!(
                    e,
                    Error::ResourceLimit { .. }
                        | Error::Instantiate(_)
                        | Error::Load(LoadError::Unsupported(_))
                ),
                "expected a typed resource-limit error, got {e:?}"
            );
            println!("1000-page memory, 16 MiB reservation: {e} ({e:?})");
        }
    }
}

#[test]
fn more_entities_than_the_store_arena_holds_is_a_typed_error() {
    // A store over a small caller-provided arena: instantiating a module with 200
    // globals and a 10000-entry table, four times over, must run out of arena with ResourceLimit, not corrupt it.
    let engine = Engine::default();
    let mut wat = String::from("(module (table 10000 funcref)");
    for i in 0..200 {
        wat.push_str(&format!(
            " (global (export \"g{i}\") (mut i64) (i64.const {i}))"
        ));
    }
    wat.push(')');
    let img = compile_for(native_target(), &wat);
    let module = Module::new(&engine, &img).expect("load");
    let mut arena = vec![0u8; 16 << 10];
    let mut store =
        Store::with_arena(&engine, (), &mut arena).expect("a 16 KiB arena holds a store");
    let linker = Linker::<()>::new(&engine);
    let mut outcome = Ok(());
    for _ in 0..4 {
        outcome = catch_unwind(AssertUnwindSafe(|| {
            linker.instantiate(&mut store, &module).map(|_| ())
        }))
        .unwrap_or_else(|_| panic!("instantiate panicked when the arena ran out"));
        if outcome.is_err() {
            break;
        }
    }
    match outcome {
        Err(Error::ResourceLimit { what }) => println!("arena exhausted: {what}"),
        other => panic!("expected ResourceLimit from a 16 KiB arena, got {other:?}"),
    }
}
