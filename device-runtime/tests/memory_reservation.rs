//! `EngineConfig::memory_reservation` bounds every linear memory: a minimum that does not fit
//! is a typed instantiation error (nothing is overcommitted), and `memory.grow` past the
//! reservation returns -1.

// These tests compile their modules with the host compiler for the runtime's own target
// (Cranelift: x86_64, aarch64). On 32-bit Arm the images are hand-assembled Thumb: `thumb.rs`.
#![cfg(all(
    feature = "hosted",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use common::compile;
use device_runtime::*;

const MIB: u64 = 1 << 20;
const PAGE: u64 = 65536;

fn engine(reservation: u64) -> Engine {
    let mut config = EngineConfig::default();
    config.memory_reservation = reservation;
    Engine::new(&config)
}

fn try_instantiate(engine: &Engine, image: &[u8]) -> Result<(), Error> {
    let module = Module::new(engine, image)?;
    let mut store = Store::new(engine, ());
    Linker::new(engine)
        .instantiate(&mut store, &module)
        .map(|_| ())
}

#[test]
fn a_minimum_larger_than_the_reservation_is_refused() {
    let image = compile(
        r#"(module (memory (export "m") 1000) (func (export "f") (result i32) memory.size))"#,
    );
    let err = try_instantiate(&engine(16 * MIB), &image).unwrap_err();
    assert_eq!(
        err,
        Error::Instantiate(InstantiationError::MemoryTooLarge {
            index: Some(0),
            minimum: 1000 * PAGE,
            reservation: 16 * MIB,
        })
    );
    let text = err.to_string();
    assert!(
        text.contains("memory 0") && text.contains("65536000") && text.contains("16777216"),
        "{text}"
    );
    // The same module fits the default (4 GiB on 64-bit) reservation.
    try_instantiate(&Engine::default(), &image).expect("1000 pages fit the default reservation");
}

#[test]
fn a_minimum_equal_to_the_reservation_fits() {
    let image = compile("(module (memory 256))");
    try_instantiate(&engine(16 * MIB), &image).expect("256 pages = 16 MiB fit exactly");
    let image = compile("(module (memory 257))");
    assert!(matches!(
        try_instantiate(&engine(16 * MIB), &image),
        Err(Error::Instantiate(InstantiationError::MemoryTooLarge { minimum, .. })) if minimum == 257 * PAGE
    ));
}

#[test]
fn host_created_memories_obey_the_reservation() {
    let engine = engine(MIB);
    let mut store = Store::new(&engine, ());
    let ty = |min| MemoryType {
        min,
        max: None,
        index64: false,
        page_size_log2: 16,
        shared: false,
    };
    assert_eq!(
        Memory::new(&mut store, ty(17)).unwrap_err(),
        Error::Instantiate(InstantiationError::MemoryTooLarge {
            index: None,
            minimum: 17 * PAGE,
            reservation: MIB
        })
    );
    let mem = Memory::new(&mut store, ty(15)).unwrap();
    assert_eq!(mem.grow(&mut store, 1).unwrap(), 15);
    assert_eq!(mem.grow(&mut store, 1), Err(Error::GrowFailed));
    assert_eq!(mem.size(&store), 16);
}

#[test]
fn memory_grow_beyond_the_reservation_returns_minus_one() {
    // No maximum: only the 16 MiB reservation (256 pages) bounds the memory.
    let image = compile(
        r#"(module (memory (export "m") 1)
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
            (func (export "size") (result i32) memory.size)
            (func (export "poke") (param i32) local.get 0 i32.const 0x5a i32.store8)
            (func (export "peek") (param i32) (result i32) local.get 0 i32.load8_u))"#,
    );
    let engine = engine(16 * MIB);
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let grow = inst.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let size = inst.get_typed_func::<(), i32>(&store, "size").unwrap();
    let poke = inst.get_typed_func::<i32, ()>(&store, "poke").unwrap();
    let peek = inst.get_typed_func::<i32, i32>(&store, "peek").unwrap();
    assert_eq!(
        grow.call(&mut store, 256).unwrap(),
        -1,
        "1 + 256 pages exceed 16 MiB"
    );
    assert_eq!(grow.call(&mut store, 1000).unwrap(), -1);
    assert_eq!(
        size.call(&mut store, ()).unwrap(),
        1,
        "a failed grow changes nothing"
    );
    assert_eq!(
        grow.call(&mut store, 255).unwrap(),
        1,
        "up to exactly 16 MiB grows"
    );
    assert_eq!(size.call(&mut store, ()).unwrap(), 256);
    let last = (16 * MIB - 1) as i32;
    poke.call(&mut store, last).unwrap();
    assert_eq!(peek.call(&mut store, last).unwrap(), 0x5a);
    assert_eq!(grow.call(&mut store, 1).unwrap(), -1);
    assert_eq!(grow.call(&mut store, 0).unwrap(), 256);
    assert_eq!(
        peek.call(&mut store, 16 * MIB as i32)
            .unwrap_err()
            .trap_code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
    let mem = inst.get_memory(&store, "m").unwrap();
    assert_eq!(mem.grow(&mut store, 1), Err(Error::GrowFailed));
}
