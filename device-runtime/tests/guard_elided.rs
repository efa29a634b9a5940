//! Guard-elided bounds checks on the hosted platform: out-of-bounds accesses fault on the
//! `PROT_NONE` part of the slot, the signal handler turns the fault into `MemoryOutOfBounds`,
//! other instances are untouched, and an engine that cannot provide the recorded reservation
//! refuses the image with a typed error. Runs natively on x86_64 and under qemu-aarch64
//! (`cargo test -p device-runtime --features hosted --target aarch64-unknown-linux-gnu`).

// These tests compile their modules with the host compiler for the runtime's own target
// (Cranelift: x86_64, aarch64). On 32-bit Arm the images are hand-assembled Thumb: `thumb.rs`.
#![cfg(all(
    feature = "hosted",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use common::native;
use device_runtime::*;
use host_compiler::{BoundsChecks, CompilerConfig};
use shared_types::TrapCode;

const PAGE: u64 = 65536;
const GIB: u64 = 1 << 30;

fn compile_with(wat: &str, config: CompilerConfig) -> Vec<u8> {
    let wasm = host_compiler::wat_or_wasm(wat.as_bytes()).expect("wat");
    host_compiler::Compiler::new(config)
        .expect("compiler")
        .compile(&wasm)
        .expect("compile")
        .bytes
}

fn guarded(wat: &str) -> Vec<u8> {
    compile_with(
        wat,
        CompilerConfig::for_target(native()).bounds_checks(BoundsChecks::GuardElided),
    )
}

const KERNEL: &str = r#"(module
  (memory (export "mem") 1 4)
  (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
  (func (export "load") (param i32) (result i32) local.get 0 i32.load)
  (func (export "store_far") (param i32 i32) local.get 0 local.get 1 i32.store offset=0x20000)
  (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
  (func (export "fill") (param i32)
    (local i32)
    (loop
      local.get 1 local.get 0 i32.store
      local.get 1 i32.const 4 i32.add local.tee 1
      i32.const 65536 i32.lt_u br_if 0)))"#;

fn oob(r: Result<(), Error>) {
    assert_eq!(
        r.expect_err("out of bounds").trap_code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
}

#[test]
fn guard_elided_accesses_are_in_the_trap_table() {
    let image = guarded(KERNEL);
    let summary = host_compiler::image::inspect::inspect(&image).expect("inspect");
    assert_eq!(summary.tunables.bounds_checks, BoundsChecks::GuardElided);
    assert_eq!(summary.tunables.guard_reservation, 4 * GIB + 64 * 1024);
    let count = |image: &[u8]| {
        host_compiler::image::inspect::inspect(image)
            .expect("inspect")
            .traps
            .iter()
            .filter(|(_, c)| *c == Some(TrapCode::MemoryOutOfBounds))
            .count()
    };
    // One function, five accesses: with explicit checks one shared cold trap block (one
    // listed `trap`); guard-elided, four unchecked accesses each listed, and the access whose
    // offset (128 KiB) exceeds the 64 KiB guard keeps its explicit check (plus its block).
    let five = r#"(module (memory 1)
      (func (export "f") (param i32) (result i32)
        local.get 0 i32.load
        local.get 0 i32.load offset=4
        i32.add
        local.get 0 i32.load8_u offset=65532
        i32.add
        local.get 0 i64.load offset=65528
        i32.wrap_i64
        i32.add
        local.get 0 i32.load offset=0x20000
        i32.add))"#;
    let explicit = count(&compile_with(five, CompilerConfig::for_target(native())));
    let elided = count(&guarded(five));
    assert_eq!((explicit, elided), (1, 5));
}

#[test]
fn out_of_bounds_store_traps_and_other_instances_are_untouched() {
    let image = guarded(KERNEL);
    let engine = Engine::default();
    let module = Module::new(&engine, &image).expect("load");
    let mut store = Store::new(&engine, ());
    let linker = Linker::new(&engine);
    let a = linker.instantiate(&mut store, &module).expect("a");
    let b = linker.instantiate(&mut store, &module).expect("b");

    let fill = b.get_typed_func::<i32, ()>(&store, "fill").expect("fill");
    fill.call(&mut store, 0x5a5a_1234).expect("fill b");
    let mem_b = b.get_memory(&store, "mem").expect("mem b");
    let before = mem_b.data(&store).to_vec();

    let store_a = a
        .get_typed_func::<(i32, i32), ()>(&store, "store")
        .expect("store");
    let load_a = a.get_typed_func::<i32, i32>(&store, "load").expect("load");
    let far_a = a
        .get_typed_func::<(i32, i32), ()>(&store, "store_far")
        .expect("store_far");
    let grow_a = a.get_typed_func::<i32, i32>(&store, "grow").expect("grow");

    store_a
        .call(&mut store, (65532, 7))
        .expect("last word in bounds");
    assert_eq!(load_a.call(&mut store, 65532).expect("load"), 7);
    // Just past the length, straddling it, far inside the reservation, at its very end.
    for index in [65536u32, 65534, 0x1000_0000, 0xffff_fffc, 0xffff_ffff] {
        oob(store_a.call(&mut store, (index as i32, -1)));
        assert_eq!(
            load_a
                .call(&mut store, index as i32)
                .unwrap_err()
                .trap_code(),
            Some(TrapCode::MemoryOutOfBounds)
        );
    }
    // The explicitly checked large-offset access traps with the same code.
    oob(far_a.call(&mut store, (0, 1)));
    // Growing makes the next page accessible, and only that page.
    assert_eq!(grow_a.call(&mut store, 1).expect("grow"), 1);
    store_a.call(&mut store, (65536, 9)).expect("grown page");
    oob(far_a.call(&mut store, (0, 3))); // ends at 128 KiB + 4 > 128 KiB
    oob(store_a.call(&mut store, (2 * 65536, 1)));
    // The store still runs after traps: the wasm side is intact.
    assert_eq!(load_a.call(&mut store, 65536).expect("load"), 9);

    assert_eq!(
        mem_b.data(&store),
        &before[..],
        "instance b's memory changed"
    );
    assert_eq!(mem_b.data_size(&store), PAGE);
}

#[test]
fn an_engine_without_the_reservation_refuses_the_image() {
    let image = guarded("(module (memory 1) (func (export \"f\")))");
    let required = 4 * GIB + 64 * 1024;

    let mut small_guard = EngineConfig::default();
    small_guard.memory_guard = 4096;
    let err = Module::new(&Engine::new(&small_guard), &image).unwrap_err();
    assert_eq!(
        err,
        LoadError::GuardReservation {
            required,
            available: 4 * GIB + 4096,
        }
    );
    let text = err.to_string();
    assert!(text.contains(&required.to_string()), "{text}");

    let mut small_reservation = EngineConfig::default();
    small_reservation.memory_reservation = 16 << 20;
    assert_eq!(
        Module::new(&Engine::new(&small_reservation), &image).unwrap_err(),
        LoadError::GuardReservation {
            required,
            available: (16 << 20) + 64 * 1024,
        }
    );

    // A platform without guard support provides nothing.
    let mut no_platform = EngineConfig::default();
    no_platform.platform = &platform::NoPlatform;
    assert_eq!(
        Module::new(&Engine::new(&no_platform), &image).unwrap_err(),
        LoadError::GuardReservation {
            required,
            available: 0,
        }
    );

    // A 2 GiB guard (Wasmtime's classic choice) needs an engine guard to match.
    let big = compile_with(
        "(module (memory 1))",
        CompilerConfig::for_target(native())
            .bounds_checks(BoundsChecks::GuardElided)
            .guard_size(2 * GIB),
    );
    assert!(matches!(
        Module::new(&Engine::default(), &big),
        Err(LoadError::GuardReservation { required, .. }) if required == 6 * GIB
    ));
    let mut wide = EngineConfig::default();
    wide.memory_guard = 2 * GIB;
    let engine = Engine::new(&wide);
    let module = Module::new(&engine, &big).expect("2 GiB guard provided");
    let mut store = Store::new(&engine, ());
    Linker::new(&engine)
        .instantiate(&mut store, &module)
        .expect("instantiate");
}

#[test]
fn an_imported_memory_without_the_reservation_is_refused() {
    let image = guarded(
        r#"(module (import "env" "m" (memory 1)) (func (export "f") (param i32) (result i32) local.get 0 i32.load))"#,
    );
    let engine = Engine::default();
    let module = Module::new(&engine, &image).expect("load");

    // A host memory with a small maximum gets a small slot: refused, typed.
    let mut store = Store::new(&engine, ());
    let ty = shared_types::metadata::MemoryType {
        min: 1,
        max: Some(2),
        index64: false,
        page_size_log2: 16,
        shared: false,
    };
    let small = Memory::new(&mut store, ty).expect("memory");
    let mut linker = Linker::new(&engine);
    linker.define(&store, "env", "m", small).expect("define");
    match linker.instantiate(&mut store, &module) {
        Err(Error::Instantiate(InstantiationError::GuardReservation {
            index: 0,
            required,
            available,
        })) => {
            assert_eq!(required, 4 * GIB + 64 * 1024);
            assert!(available < required);
        }
        other => panic!("expected GuardReservation, got {other:?}"),
    }

    // Without a maximum the slot is the whole reservation: accepted, and guarded.
    let mut store = Store::new(&engine, ());
    let ty = shared_types::metadata::MemoryType { max: None, ..ty };
    let full = Memory::new(&mut store, ty).expect("memory");
    let mut linker = Linker::new(&engine);
    linker.define(&store, "env", "m", full).expect("define");
    let inst = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let f = inst.get_typed_func::<i32, i32>(&store, "f").expect("f");
    assert_eq!(f.call(&mut store, 0).expect("in bounds"), 0);
    assert_eq!(
        f.call(&mut store, 65536).unwrap_err().trap_code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
}
