//! Memories beyond WebAssembly 2.0 through the embedder API: several memories in one module,
//! custom page sizes, memory64 addresses and limits, and reserved growth.
//!
//! Runs on every executor of the `tests` crate: x86_64, aarch64 under qemu-aarch64, and 32-bit
//! Arm under qemu-arm (Thumb-2 images for `TESTS_CORTEX_M`, default cortex-m7). The spec
//! harness covers the instructions case by case; these tests check what only the API shows
//! (`Memory::size`/`grow`/`data` per memory, in the memory's own pages, slots that never move)
//! and the typed errors. Instruction cases the proposal testsuites lack are in
//! `tests/wast/*.wast`, which the spec harness runs with them (`ours/...`).

use device_runtime::{
    Engine, EngineConfig, Error, Instance, InstantiationError, Linker, Module, Store, TrapCode, Val,
};
use host_compiler::{Compiler, CompilerConfig};

/// A 300-byte memory of 1-byte pages (growable to 400 bytes) beside a 64 KiB-page memory.
const TWO_MEMORIES: &str = r#"
(module
  (memory $small (export "small") 300 400 (pagesize 1))
  (memory $big (export "big") 1 2)
  (data (memory $small) (i32.const 296) "\01\02\03\04")
  (data (memory $big) (i32.const 65532) "\0a\0b\0c\0d")
  (func (export "load_small") (param i32) (result i32) (i32.load8_u $small (local.get 0)))
  (func (export "load_big") (param i32) (result i32) (i32.load8_u $big (local.get 0)))
  (func (export "store_small32") (param i32 i32) (i32.store $small (local.get 0) (local.get 1)))
  (func (export "size_small") (result i32) (memory.size $small))
  (func (export "size_big") (result i32) (memory.size $big))
  (func (export "grow_small") (param i32) (result i32) (memory.grow $small (local.get 0)))
  (func (export "copy_big_to_small") (param i32 i32 i32)
    (memory.copy $small $big (local.get 0) (local.get 1) (local.get 2)))
)
"#;

/// A 64-bit memory of one page, growable to three.
const MEMORY64: &str = r#"
(module
  (memory $m (export "m") i64 1 3)
  (data (i64.const 8) "\11\22\33\44\55\66\77\88")
  (func (export "load64") (param i64) (result i64) (i64.load (local.get 0)))
  (func (export "load8_off") (param i64) (result i32) (i32.load8_u offset=1 (local.get 0)))
  (func (export "store8") (param i64 i32) (i32.store8 (local.get 0) (local.get 1)))
  (func (export "size") (result i64) (memory.size))
  (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0)))
  (func (export "fill") (param i64 i32 i64) (memory.fill (local.get 0) (local.get 1) (local.get 2)))
)
"#;

fn compile(wat: &str) -> &'static [u8] {
    let wasm = host_compiler::wat_or_wasm(wat.as_bytes()).expect("wat");
    let compiler = Compiler::new(CompilerConfig::for_target(tests::native_target()))
        .expect("compiler for the native target");
    let image = compiler.compile(&wasm).expect("compiles").bytes;
    Box::leak(image.into_boxed_slice())
}

fn engine(config: &EngineConfig) -> &'static Engine {
    Box::leak(Box::new(Engine::new(config)))
}

fn instantiate(
    engine: &'static Engine,
    wat: &str,
) -> Result<(Store<'static, ()>, Instance), Error> {
    let module: &'static Module<'static> = Box::leak(Box::new(
        Module::new(engine, compile(wat)).expect("image loads"),
    ));
    let mut store = Store::new(engine, ());
    let linker = Linker::<()>::new(engine);
    let instance = linker.instantiate(&mut store, module)?;
    Ok((store, instance))
}

fn call(
    store: &mut Store<'static, ()>,
    instance: &Instance,
    name: &str,
    args: &[Val],
) -> Result<Val, Error> {
    let func = instance.get_func(store, name).expect("export");
    let mut results = [Val::I32(0)];
    let n = func.ty(store).results().len();
    func.call(store, args, &mut results[..n])?;
    Ok(results[0])
}

fn trap(result: Result<Val, Error>) -> Option<TrapCode> {
    result.err().and_then(|e| e.trap_code())
}

#[test]
fn small_page_memory_beside_a_large_one() {
    let engine = engine(&EngineConfig::default());
    let (mut store, inst) = instantiate(engine, TWO_MEMORIES).expect("instantiates");
    let small = inst.get_memory(&store, "small").expect("small");
    let big = inst.get_memory(&store, "big").expect("big");

    // Sizes in each memory's own pages; the data is exactly the declared bytes.
    assert_eq!(small.ty(&store).map(|t| t.page_size()), Some(1));
    assert_eq!(small.size(&store), 300);
    assert_eq!(small.data(&store).len(), 300);
    assert_eq!(big.size(&store), 1);
    assert_eq!(big.data(&store).len(), 65536);
    assert_eq!(
        call(&mut store, &inst, "size_small", &[]).unwrap(),
        Val::I32(300)
    );
    assert_eq!(
        call(&mut store, &inst, "size_big", &[]).unwrap(),
        Val::I32(1)
    );

    // Data segments landed in their own memories.
    assert_eq!(&small.data(&store)[296..], &[1, 2, 3, 4]);
    assert_eq!(&big.data(&store)[65532..], &[10, 11, 12, 13]);
    assert_eq!(
        call(&mut store, &inst, "load_small", &[Val::I32(299)]).unwrap(),
        Val::I32(4)
    );
    assert_eq!(
        call(&mut store, &inst, "load_big", &[Val::I32(65535)]).unwrap(),
        Val::I32(13)
    );

    // Each memory is checked against its own length: byte 300 of the small one is out of
    // bounds although the big one has it; a 4-byte store ending at 300 fits, at 297 not.
    assert_eq!(
        trap(call(&mut store, &inst, "load_small", &[Val::I32(300)])),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        call(&mut store, &inst, "load_big", &[Val::I32(300)]).unwrap(),
        Val::I32(0)
    );
    call(
        &mut store,
        &inst,
        "store_small32",
        &[Val::I32(296), Val::I32(0x0403_0201)],
    )
    .unwrap();
    assert_eq!(
        trap(call(
            &mut store,
            &inst,
            "store_small32",
            &[Val::I32(297), Val::I32(-1)]
        )),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        &small.data(&store)[296..],
        &[1, 2, 3, 4],
        "a trapping store writes nothing"
    );

    // memory.copy between the two memories.
    call(
        &mut store,
        &inst,
        "copy_big_to_small",
        &[Val::I32(0), Val::I32(65532), Val::I32(4)],
    )
    .unwrap();
    assert_eq!(&small.data(&store)[..4], &[10, 11, 12, 13]);
    assert_eq!(
        trap(call(
            &mut store,
            &inst,
            "copy_big_to_small",
            &[Val::I32(297), Val::I32(0), Val::I32(4)],
        )),
        Some(TrapCode::MemoryOutOfBounds)
    );

    // Growth in 1-byte pages, up to the declared maximum and never past it; the memory never
    // moves.
    let base = small.data(&store).as_ptr();
    assert_eq!(
        call(&mut store, &inst, "grow_small", &[Val::I32(50)]).unwrap(),
        Val::I32(300)
    );
    assert_eq!(small.grow(&mut store, 50).expect("grow to 400"), 350);
    assert_eq!(small.size(&store), 400);
    assert_eq!(
        call(&mut store, &inst, "grow_small", &[Val::I32(1)]).unwrap(),
        Val::I32(-1)
    );
    assert!(matches!(small.grow(&mut store, 1), Err(Error::GrowFailed)));
    assert_eq!(small.data(&store).as_ptr(), base);
    assert_eq!(
        call(&mut store, &inst, "load_small", &[Val::I32(399)]).unwrap(),
        Val::I32(0)
    );
    assert_eq!(
        big.size(&store),
        1,
        "growing one memory leaves the other alone"
    );
}

#[test]
fn memory64_addresses_and_growth() {
    let engine = engine(&EngineConfig::default());
    let (mut store, inst) = instantiate(engine, MEMORY64).expect("instantiates");
    let m = inst.get_memory(&store, "m").expect("m");
    assert!(m.ty(&store).is_some_and(|t| t.index64));
    assert_eq!(
        call(&mut store, &inst, "load64", &[Val::I64(8)]).unwrap(),
        Val::I64(0x8877_6655_4433_2211_u64 as i64)
    );
    assert_eq!(call(&mut store, &inst, "size", &[]).unwrap(), Val::I64(1));

    // Addresses whose low 32 bits are in bounds but whose high bits are not: always a trap,
    // never a wrapped access (on 32-bit cores too). The offset is added without wrapping.
    for address in [
        1u64 << 32,
        (1u64 << 32) + 8,
        0xffff_ffff_0000_0008,
        u64::MAX,
        u64::MAX - 1,
    ] {
        assert_eq!(
            trap(call(
                &mut store,
                &inst,
                "load64",
                &[Val::I64(address as i64)]
            )),
            Some(TrapCode::MemoryOutOfBounds),
            "load64 at {address:#x}"
        );
        assert_eq!(
            trap(call(
                &mut store,
                &inst,
                "load8_off",
                &[Val::I64(address as i64)]
            )),
            Some(TrapCode::MemoryOutOfBounds),
            "load8 offset=1 at {address:#x}"
        );
        assert_eq!(
            trap(call(
                &mut store,
                &inst,
                "store8",
                &[Val::I64(address as i64), Val::I32(1)]
            )),
            Some(TrapCode::MemoryOutOfBounds),
            "store8 at {address:#x}"
        );
    }
    assert!(
        m.data(&store).iter().take(8).all(|&b| b == 0),
        "no trapping store wrote"
    );
    assert_eq!(
        call(&mut store, &inst, "load8_off", &[Val::I64(65534)]).unwrap(),
        Val::I32(0)
    );
    assert_eq!(
        trap(call(&mut store, &inst, "load8_off", &[Val::I64(65535)])),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        trap(call(
            &mut store,
            &inst,
            "fill",
            &[Val::I64(1 << 32), Val::I32(7), Val::I64(1)],
        )),
        Some(TrapCode::MemoryOutOfBounds)
    );

    // memory.grow and memory.size in 64 bits; the maximum (3 pages) holds.
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I64(2)]).unwrap(),
        Val::I64(1)
    );
    assert_eq!(call(&mut store, &inst, "size", &[]).unwrap(), Val::I64(3));
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I64(1)]).unwrap(),
        Val::I64(-1)
    );
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I64(1 << 40)]).unwrap(),
        Val::I64(-1)
    );
    assert_eq!(m.size(&store), 3);
    call(
        &mut store,
        &inst,
        "store8",
        &[Val::I64(3 * 65536 - 1), Val::I32(9)],
    )
    .unwrap();
    assert_eq!(m.data(&store)[3 * 65536 - 1], 9);
}

#[test]
fn memory64_limits_beyond_the_reservation_are_refused() {
    // A minimum of 4 GiB + 64 KiB: more than any slot here holds (16 MiB on 32-bit hosts, 4 GiB
    // on 64-bit ones), refused with a typed error naming the memory, before anything runs.
    let engine = engine(&EngineConfig::default());
    let Err(err) = instantiate(engine, "(module (memory i64 65537))") else {
        panic!("a 4 GiB + 64 KiB minimum instantiated");
    };
    match err {
        Error::Instantiate(InstantiationError::MemoryTooLarge { index, minimum, .. }) => {
            assert_eq!(index, Some(0));
            assert_eq!(minimum, 65537 * 65536);
        }
        other => panic!("expected MemoryTooLarge, got {other:?}"),
    }
    // A maximum beyond 4 GiB with a small minimum instantiates: the slot reserves what the
    // engine allows and growth past it returns -1.
    let (mut store, inst) = instantiate(
        engine,
        r#"(module (memory (export "m") i64 1 100000)
             (func (export "grow") (param i64) (result i64) (memory.grow (local.get 0))))"#,
    )
    .expect("a large maximum is fine");
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I64(70000)]).unwrap(),
        Val::I64(-1)
    );
    assert_eq!(inst.get_memory(&store, "m").unwrap().size(&store), 1);
}

#[test]
fn growth_is_reserved_and_never_moves_memory() {
    // An engine reserving 4 pages per memory: a memory without a maximum grows in place up to
    // the reservation, then memory.grow returns -1 (as the spec allows) and nothing moved.
    let mut config = EngineConfig::default();
    config.memory_reservation = 4 * 65536;
    let engine = engine(&config);
    let (mut store, inst) = instantiate(
        engine,
        r#"(module (memory (export "m") 1)
             (func (export "grow") (param i32) (result i32) (memory.grow (local.get 0))))"#,
    )
    .expect("instantiates");
    let m = inst.get_memory(&store, "m").unwrap();
    let base = m.data(&store).as_ptr();
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I32(3)]).unwrap(),
        Val::I32(1)
    );
    assert_eq!(
        call(&mut store, &inst, "grow", &[Val::I32(1)]).unwrap(),
        Val::I32(-1)
    );
    assert_eq!(m.size(&store), 4);
    assert_eq!(m.data(&store).as_ptr(), base);
    // A minimum above the reservation is refused up front.
    let Err(err) = instantiate(engine, "(module (memory 5))") else {
        panic!("a minimum above the reservation instantiated");
    };
    assert!(
        matches!(
            err,
            Error::Instantiate(InstantiationError::MemoryTooLarge { index: Some(0), .. })
        ),
        "{err:?}"
    );
}
