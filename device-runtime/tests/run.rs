//! End-to-end: compile WAT with the host compiler, load, instantiate and run on the hosted
//! runtime.

// These tests compile their modules with the host compiler for the runtime's own target
// (Cranelift: x86_64, aarch64). On 32-bit Arm the images are hand-assembled Thumb: `thumb.rs`.
#![cfg(all(
    feature = "hosted",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]

mod common;

use common::compile;
use device_runtime::*;

fn instantiate<'m>(store: &mut Store<'m, ()>, module: &'m Module<'_>) -> Instance {
    Linker::new(&Engine::default())
        .instantiate(store, module)
        .expect("instantiate")
}

#[test]
fn arithmetic_and_calls() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (func $sq (param i32) (result i32) local.get 0 local.get 0 i32.mul)
            (func (export "add") (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)
            (func (export "sumsq") (param i32 i32) (result i32)
                local.get 0 call $sq local.get 1 call $sq i32.add)
            (func (export "f64") (param f64 f64) (result f64) local.get 0 local.get 1 f64.div)
            (func (export "i64") (param i64) (result i64) local.get 0 i64.const 1 i64.shl))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = instantiate(&mut store, &module);
    let add = inst
        .get_typed_func::<(i32, i32), i32>(&store, "add")
        .unwrap();
    assert_eq!(add.call(&mut store, (2, 40)).unwrap(), 42);
    let sumsq = inst
        .get_typed_func::<(i32, i32), i32>(&store, "sumsq")
        .unwrap();
    assert_eq!(sumsq.call(&mut store, (3, 4)).unwrap(), 25);
    let div = inst.get_func(&store, "f64").unwrap();
    let mut out = [Val::F64(0)];
    div.call(
        &mut store,
        &[Val::from(1.0f64), Val::from(4.0f64)],
        &mut out,
    )
    .unwrap();
    assert_eq!(out[0], Val::from(0.25f64));
    let i64f = inst.get_typed_func::<i64, i64>(&store, "i64").unwrap();
    assert_eq!(i64f.call(&mut store, 1 << 40).unwrap(), 1 << 41);
    // Wrong types are typed errors.
    assert!(matches!(
        inst.get_typed_func::<i32, i32>(&store, "add"),
        Err(Error::TypeMismatch)
    ));
    assert!(matches!(
        div.call(&mut store, &[Val::I32(1), Val::I32(2)], &mut out),
        Err(Error::TypeMismatch)
    ));
}

#[test]
fn traps() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (memory 1)
            (func (export "unreachable") unreachable)
            (func (export "div") (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
            (func (export "load") (param i32) (result i32) local.get 0 i32.load)
            (func $rec (export "recurse") (param i32) (result i32)
                local.get 0 i32.const 1 i32.add call $rec)
            (func (export "trunc") (param f32) (result i32) local.get 0 i32.trunc_f32_s))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = instantiate(&mut store, &module);
    let code = |r: Result<i32, Error>| r.unwrap_err().trap_code();
    let unreachable = inst
        .get_typed_func::<(), ()>(&store, "unreachable")
        .unwrap();
    assert_eq!(
        unreachable.call(&mut store, ()).unwrap_err().trap_code(),
        Some(TrapCode::Unreachable)
    );
    let div = inst
        .get_typed_func::<(i32, i32), i32>(&store, "div")
        .unwrap();
    assert_eq!(
        code(div.call(&mut store, (1, 0))),
        Some(TrapCode::IntegerDivisionByZero)
    );
    assert_eq!(
        code(div.call(&mut store, (i32::MIN, -1))),
        Some(TrapCode::IntegerOverflow)
    );
    assert_eq!(div.call(&mut store, (7, 2)).unwrap(), 3);
    let load = inst.get_typed_func::<i32, i32>(&store, "load").unwrap();
    assert_eq!(
        code(load.call(&mut store, 65536)),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(
        code(load.call(&mut store, -1)),
        Some(TrapCode::MemoryOutOfBounds)
    );
    assert_eq!(load.call(&mut store, 65532).unwrap(), 0);
    let trunc = inst.get_typed_func::<f32, i32>(&store, "trunc").unwrap();
    assert_eq!(
        code(trunc.call(&mut store, f32::NAN)),
        Some(TrapCode::BadConversionToInteger)
    );
    assert_eq!(
        code(trunc.call(&mut store, 3e10)),
        Some(TrapCode::IntegerOverflow)
    );
    let rec = inst.get_typed_func::<i32, i32>(&store, "recurse").unwrap();
    assert_eq!(code(rec.call(&mut store, 0)), Some(TrapCode::StackOverflow));
    // Still usable after every trap.
    assert_eq!(div.call(&mut store, (9, 3)).unwrap(), 3);
}

#[test]
fn memory_grow_and_data() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (memory (export "mem") 1 4)
            (data (i32.const 16) "hello")
            (func (export "grow") (param i32) (result i32) local.get 0 memory.grow)
            (func (export "size") (result i32) memory.size)
            (func (export "store") (param i32 i32) local.get 0 local.get 1 i32.store)
            (func (export "fill") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.fill)
            (func (export "copy") (param i32 i32 i32) local.get 0 local.get 1 local.get 2 memory.copy))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = instantiate(&mut store, &module);
    let mem = inst.get_memory(&store, "mem").unwrap();
    assert_eq!(&mem.data(&store)[16..21], b"hello");
    let grow = inst.get_typed_func::<i32, i32>(&store, "grow").unwrap();
    let size = inst.get_typed_func::<(), i32>(&store, "size").unwrap();
    assert_eq!(grow.call(&mut store, 2).unwrap(), 1);
    assert_eq!(size.call(&mut store, ()).unwrap(), 3);
    assert_eq!(grow.call(&mut store, 2).unwrap(), -1);
    assert_eq!(mem.size(&store), 3);
    let st = inst
        .get_typed_func::<(i32, i32), ()>(&store, "store")
        .unwrap();
    st.call(&mut store, (3 * 65536 - 4, 0x01020304)).unwrap();
    assert_eq!(mem.data(&store)[3 * 65536 - 4], 4);
    let fill = inst
        .get_typed_func::<(i32, i32, i32), ()>(&store, "fill")
        .unwrap();
    fill.call(&mut store, (100, 0xAB, 10)).unwrap();
    assert_eq!(&mem.data(&store)[100..110], &[0xAB; 10]);
    assert_eq!(
        fill.call(&mut store, (3 * 65536 - 5, 0, 10))
            .unwrap_err()
            .trap_code(),
        Some(TrapCode::MemoryOutOfBounds)
    );
    let copy = inst
        .get_typed_func::<(i32, i32, i32), ()>(&store, "copy")
        .unwrap();
    copy.call(&mut store, (200, 16, 5)).unwrap();
    assert_eq!(&mem.data(&store)[200..205], b"hello");
    assert_eq!(mem.grow(&mut store, 1).unwrap(), 3);
    assert!(mem.grow(&mut store, 1).is_err());
}

#[test]
fn globals_tables_call_indirect() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (type $t (func (result i32)))
            (global $g (export "g") (mut i32) (i32.const 10))
            (global (export "c") i64 (i64.const 7))
            (table (export "tab") 4 funcref)
            (elem (i32.const 0) $one $two)
            (func $one (result i32) i32.const 1)
            (func $two (result i32) i32.const 2)
            (func $three (param i32) (result i32) local.get 0)
            (elem declare func $three)
            (func (export "call") (param i32) (result i32) local.get 0 call_indirect (type $t))
            (func (export "inc") (result i32) global.get $g i32.const 1 i32.add global.set $g global.get $g)
            (func (export "tsize") (result i32) table.size)
            (func (export "tgrow") (param i32) (result i32) ref.null func local.get 0 table.grow))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let inst = instantiate(&mut store, &module);
    let call = inst.get_typed_func::<i32, i32>(&store, "call").unwrap();
    assert_eq!(call.call(&mut store, 0).unwrap(), 1);
    assert_eq!(call.call(&mut store, 1).unwrap(), 2);
    assert_eq!(
        call.call(&mut store, 2).unwrap_err().trap_code(),
        Some(TrapCode::UninitializedElement)
    );
    assert_eq!(
        call.call(&mut store, 9).unwrap_err().trap_code(),
        Some(TrapCode::UndefinedElement)
    );
    let g = inst.get_global(&store, "g").unwrap();
    let inc = inst.get_typed_func::<(), i32>(&store, "inc").unwrap();
    assert_eq!(inc.call(&mut store, ()).unwrap(), 11);
    assert_eq!(g.get(&store), Val::I32(11));
    g.set(&mut store, Val::I32(100)).unwrap();
    assert_eq!(inc.call(&mut store, ()).unwrap(), 101);
    let c = inst.get_global(&store, "c").unwrap();
    assert_eq!(c.get(&store), Val::I64(7));
    assert!(matches!(
        c.set(&mut store, Val::I64(1)),
        Err(Error::ImmutableGlobal)
    ));
    let tab = inst.get_table(&store, "tab").unwrap();
    assert_eq!(tab.size(&store), 4);
    // A funcref read from the table can be called from the host and put back elsewhere.
    let Some(Val::FuncRef(Some(two))) = tab.get(&store, 1) else {
        panic!("funcref")
    };
    let mut out = [Val::I32(0)];
    two.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(2));
    tab.set(&mut store, 3, Val::FuncRef(Some(two))).unwrap();
    assert_eq!(call.call(&mut store, 3).unwrap(), 2);
    let tgrow = inst.get_typed_func::<i32, i32>(&store, "tgrow").unwrap();
    assert_eq!(tgrow.call(&mut store, 100).unwrap(), 4);
    assert_eq!(tab.size(&store), 104);
    assert_eq!(call.call(&mut store, 3).unwrap(), 2);
}

#[derive(Default)]
struct Host {
    calls: u32,
    log: [i64; 4],
}

#[test]
fn host_functions() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (import "env" "pair" (func $pair (param i32) (result i32 i64)))
            (import "env" "log" (func $log (param i64)))
            (import "env" "fail" (func $fail (param i32) (result i32)))
            (import "env" "untyped" (func $untyped (param i32 f64) (result f64)))
            (memory (export "memory") 1)
            (func (export "run") (param i32) (result i64)
                (local i64)
                local.get 0 call $pair local.set 1 i64.extend_i32_s local.get 1 i64.add
                local.tee 1 call $log local.get 1)
            (func (export "fail") (param i32) (result i32) local.get 0 call $fail)
            (func (export "untyped") (param i32 f64) (result f64) local.get 0 local.get 1 call $untyped))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let mut linker = Linker::<Host>::new(&engine);
    linker
        .func_wrap(
            "env",
            "pair",
            |mut caller: Caller<'_, '_, Host>, x: i32| -> (i32, i64) {
                caller.data_mut().calls += 1;
                (x * 2, 1000)
            },
        )
        .unwrap();
    linker
        .func_wrap("env", "log", |mut caller: Caller<'_, '_, Host>, v: i64| {
            let i = caller.data().calls as usize % 4;
            caller.data_mut().log[i] = v;
            let mem = caller
                .get_export("memory")
                .and_then(Extern::into_memory)
                .unwrap();
            mem.data_mut(caller.as_store_mut())[0] = 42;
        })
        .unwrap();
    linker
        .func_wrap("env", "fail", |x: i32| -> Result<i32, HostError> {
            if x < 0 {
                Err(HostError::with_code("negative", 7))
            } else {
                Ok(x + 1)
            }
        })
        .unwrap();
    fn untyped(
        _c: Caller<'_, '_, Host>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), HostError> {
        let (Some(a), Some(b)) = (params[0].i32(), params[1].f64()) else {
            return Err(HostError::new("types"));
        };
        results[0] = Val::from(a as f64 + b);
        Ok(())
    }
    linker
        .func_new(
            "env",
            "untyped",
            FuncType::new([ValType::I32, ValType::F64], [ValType::F64]),
            untyped,
        )
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let run = inst.get_typed_func::<i32, i64>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, 21).unwrap(), 1042);
    assert_eq!(store.data().calls, 1);
    assert_eq!(store.data().log[1], 1042);
    let mem = inst.get_memory(&store, "memory").unwrap();
    assert_eq!(mem.data(&store)[0], 42);
    let fail = inst.get_typed_func::<i32, i32>(&store, "fail").unwrap();
    assert_eq!(fail.call(&mut store, 1).unwrap(), 2);
    let err = fail.call(&mut store, -1).unwrap_err();
    assert_eq!(err, Error::Host(HostError::with_code("negative", 7)));
    assert_eq!(err.trap_code(), None);
    let untyped = inst
        .get_typed_func::<(i32, f64), f64>(&store, "untyped")
        .unwrap();
    assert_eq!(untyped.call(&mut store, (2, 0.5)).unwrap(), 2.5);
}

#[test]
fn link_errors() {
    let engine = Engine::default();
    let image =
        compile(r#"(module (import "env" "f" (func (param i32))) (import "env" "m" (memory 2)))"#);
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        matches!(err, Error::Link(LinkError::MissingImport { .. })),
        "{err}"
    );
    linker.func_wrap("env", "f", |_: i64| {}).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        matches!(err, Error::Link(LinkError::ImportTypeMismatch { .. })),
        "{err}"
    );
    let mut linker = Linker::<()>::new(&engine);
    linker.func_wrap("env", "f", |_: i32| {}).unwrap();
    assert!(matches!(
        linker.func_wrap("env", "f", |_: i32| {}),
        Err(LinkError::Duplicate { .. })
    ));
    let small = Memory::new(
        &mut store,
        MemoryType {
            min: 1,
            max: None,
            index64: false,
            page_size_log2: 16,
            shared: false,
        },
    )
    .unwrap();
    linker.define(&store, "env", "m", small).unwrap();
    let err = linker.instantiate(&mut store, &module).unwrap_err();
    assert!(
        matches!(err, Error::Link(LinkError::ImportTypeMismatch { .. })),
        "{err}"
    );
    small.grow(&mut store, 1).unwrap();
    linker.instantiate(&mut store, &module).unwrap();
}

#[test]
fn cross_instance_imports() {
    let engine = Engine::default();
    let a = compile(
        r#"(module
            (memory (export "mem") 1)
            (table (export "tab") 2 funcref)
            (global (export "g") (mut i32) (i32.const 5))
            (func $get (export "get") (result i32) i32.const 0 i32.load)
            (elem (i32.const 0) $get))"#,
    );
    let b = compile(
        r#"(module
            (import "a" "mem" (memory 1))
            (import "a" "tab" (table 2 funcref))
            (import "a" "g" (global $g (mut i32)))
            (import "a" "get" (func $get (result i32)))
            (type $t (func (result i32)))
            (data (i32.const 0) "\2a")
            (func $mine (result i32) global.get $g)
            (elem (i32.const 1) $mine)
            (func (export "run") (result i32)
                call $get
                i32.const 0 call_indirect (type $t) i32.add
                i32.const 1 call_indirect (type $t) i32.add))"#,
    );
    let ma = Module::new(&engine, &a).unwrap();
    let mb = Module::new(&engine, &b).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    let ia = linker.instantiate(&mut store, &ma).unwrap();
    linker.instance(&mut store, "a", ia).unwrap();
    let ib = linker.instantiate(&mut store, &mb).unwrap();
    let run = ib.get_typed_func::<(), i32>(&store, "run").unwrap();
    assert_eq!(run.call(&mut store, ()).unwrap(), 42 + 42 + 5);
    // The element written by b is visible through a's table and callable from the host.
    let tab = ia.get_table(&store, "tab").unwrap();
    let Some(Val::FuncRef(Some(f))) = tab.get(&store, 1) else {
        panic!("funcref")
    };
    let mut out = [Val::I32(0)];
    f.call(&mut store, &[], &mut out).unwrap();
    assert_eq!(out[0], Val::I32(5));
}

#[test]
fn start_and_instantiation_traps() {
    let engine = Engine::default();
    let a = compile(r#"(module (memory (export "mem") 1) (table (export "tab") 1 funcref))"#);
    // Writes the first data segment, then fails on the second: the write stays (spec).
    let b = compile(
        r#"(module (import "a" "mem" (memory 1))
            (data (i32.const 0) "\01")
            (data (i32.const 65536) "\02"))"#,
    );
    let c = compile(
        r#"(module (import "a" "tab" (table 1 funcref)) (func $f) (elem (i32.const 1) $f))"#,
    );
    let d = compile(
        r#"(module (import "a" "mem" (memory 1))
            (func $start i32.const 8 i32.const 99 i32.store)
            (start $start))"#,
    );
    let e = compile(r#"(module (func $start unreachable) (start $start))"#);
    let (ma, mb, mc, md, me) = (
        Module::new(&engine, &a).unwrap(),
        Module::new(&engine, &b).unwrap(),
        Module::new(&engine, &c).unwrap(),
        Module::new(&engine, &d).unwrap(),
        Module::new(&engine, &e).unwrap(),
    );
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    let ia = linker.instantiate(&mut store, &ma).unwrap();
    linker.instance(&mut store, "a", ia).unwrap();
    let err = linker.instantiate(&mut store, &mb).unwrap_err();
    assert_eq!(err.trap_code(), Some(TrapCode::MemoryOutOfBounds));
    let mem = ia.get_memory(&store, "mem").unwrap();
    assert_eq!(mem.data(&store)[0], 1);
    let err = linker.instantiate(&mut store, &mc).unwrap_err();
    assert_eq!(err.trap_code(), Some(TrapCode::TableOutOfBounds));
    linker.instantiate(&mut store, &md).unwrap();
    assert_eq!(mem.data(&store)[8], 99);
    let err = linker.instantiate(&mut store, &me).unwrap_err();
    assert_eq!(err.trap_code(), Some(TrapCode::Unreachable));
}

#[test]
fn nested_calls_and_traps_through_host() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (import "env" "back" (func $back (param i32) (result i32)))
            (func (export "outer") (param i32) (result i32) local.get 0 call $back i32.const 1 i32.add)
            (func (export "inner") (param i32) (result i32)
                local.get 0 i32.eqz if unreachable end local.get 0 i32.const 10 i32.mul))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let mut linker = Linker::<()>::new(&engine);
    linker
        .func_wrap(
            "env",
            "back",
            |mut caller: Caller<'_, '_, ()>, x: i32| -> Result<i32, HostError> {
                let inner = caller
                    .get_export("inner")
                    .and_then(Extern::into_func)
                    .ok_or(HostError::new("no inner"))?;
                let mut out = [Val::I32(0)];
                match inner.call(caller.as_store_mut(), &[Val::I32(x)], &mut out) {
                    Ok(()) => Ok(out[0].i32().unwrap_or(0)),
                    Err(_) => Err(HostError::new("inner trapped")),
                }
            },
        )
        .unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let outer = inst.get_typed_func::<i32, i32>(&store, "outer").unwrap();
    assert_eq!(outer.call(&mut store, 4).unwrap(), 41);
    assert_eq!(
        outer.call(&mut store, 0).unwrap_err(),
        Error::Host(HostError::new("inner trapped"))
    );
    assert_eq!(outer.call(&mut store, 5).unwrap(), 51);
}

#[test]
fn many_threads() {
    let image = compile(
        r#"(module (func $f (export "f") (param i32) (result i32)
            local.get 0 i32.eqz if (result i32) i32.const 1 i32.const 0 i32.div_u
            else local.get 0 i32.const 1 i32.sub call $f end))"#,
    );
    std::thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let engine = Engine::default();
                let module = Module::new(&engine, &image).unwrap();
                for n in 0..20 {
                    let mut store = Store::new(&engine, ());
                    let inst = instantiate(&mut store, &module);
                    let f = inst.get_typed_func::<i32, i32>(&store, "f").unwrap();
                    assert_eq!(
                        f.call(&mut store, n).unwrap_err().trap_code(),
                        Some(TrapCode::IntegerDivisionByZero)
                    );
                }
            });
        }
    });
}

#[test]
fn host_created_items_and_caller_provided_arena() {
    let engine = Engine::default();
    let image = compile(
        r#"(module
            (import "host" "g" (global $g i32))
            (import "host" "t" (table 10 funcref))
            (import "host" "m" (memory 1))
            (func (export "f") (result i32) global.get $g table.size i32.add i32.const 0 i32.load8_u i32.add))"#,
    );
    let module = Module::new(&engine, &image).unwrap();
    let mut arena = vec![0u8; 256 * 1024];
    let mut store = Store::with_arena(&engine, (), &mut arena).unwrap();
    let g = Global::new(
        &mut store,
        GlobalType {
            ty: ValType::I32.code(),
            mutable: false,
        },
        Val::I32(600),
    )
    .unwrap();
    let t = Table::new(
        &mut store,
        TableType {
            element: ValType::FuncRef.code(),
            min: 10,
            max: Some(20),
            index64: false,
        },
        Val::FuncRef(None),
    )
    .unwrap();
    let m = Memory::new(
        &mut store,
        MemoryType {
            min: 1,
            max: None,
            index64: false,
            page_size_log2: 16,
            shared: false,
        },
    )
    .unwrap();
    m.write(&mut store, 0, &[50]).unwrap();
    assert!(matches!(
        Global::new(
            &mut store,
            GlobalType {
                ty: ValType::I32.code(),
                mutable: false
            },
            Val::I64(1)
        ),
        Err(Error::TypeMismatch)
    ));
    let mut linker = Linker::new(&engine);
    linker.define(&store, "host", "g", g).unwrap();
    linker.define(&store, "host", "t", t).unwrap();
    linker.define(&store, "host", "m", m).unwrap();
    let inst = linker.instantiate(&mut store, &module).unwrap();
    let f = inst.get_typed_func::<(), i32>(&store, "f").unwrap();
    assert_eq!(f.call(&mut store, ()).unwrap(), 660);
    assert_eq!(t.grow(&mut store, 5, Val::FuncRef(None)).unwrap(), 10);
    assert!(t.grow(&mut store, 6, Val::FuncRef(None)).is_err());
    assert_eq!(f.call(&mut store, ()).unwrap(), 665);
    // Handles of one store are refused by another.
    let mut other = Store::new(&engine, ());
    assert_eq!(g.get(&other), Val::I32(0));
    assert!(matches!(f.call(&mut other, ()), Err(Error::WrongStore)));
    assert!(
        Linker::<()>::new(&engine)
            .define(&other, "x", "g", g)
            .is_err()
    );
}

#[test]
fn arena_exhaustion_is_a_typed_error() {
    let engine = Engine::default();
    let image =
        compile(r#"(module (table 100000 funcref) (func (export "f") (result i32) i32.const 7))"#);
    let module = Module::new(&engine, &image).unwrap();
    let mut arena = vec![0u8; 64 * 1024];
    let mut store = Store::with_arena(&engine, (), &mut arena).unwrap();
    let err = Linker::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap_err();
    assert!(matches!(err, Error::ResourceLimit { .. }), "{err}");
    let mut tiny = [0u8; 16];
    assert!(matches!(
        Store::with_arena(&engine, (), &mut tiny),
        Err(Error::ResourceLimit { .. })
    ));
}

#[test]
fn execute_in_place() {
    let engine = Engine::default();
    let image = compile(
        r#"(module (func (export "f") (param i32) (result i32) local.get 0 i32.const 3 i32.mul))"#,
    );
    let platform = engine.config().platform;
    let region = platform.code_alloc(image.len()).unwrap();
    // SAFETY: the region is fresh, writable and large enough; it is published before use.
    let in_place = unsafe {
        core::ptr::copy_nonoverlapping(image.as_ptr(), region.base.as_ptr(), image.len());
        platform.code_publish(&region).unwrap();
        core::slice::from_raw_parts(region.base.as_ptr(), image.len())
    };
    {
        // SAFETY: the image lies in published (read-execute) memory that outlives the module.
        let module = unsafe { Module::new_in_place(&engine, in_place) }.unwrap();
        let mut store = Store::new(&engine, ());
        let inst = instantiate(&mut store, &module);
        let f = inst.get_typed_func::<i32, i32>(&store, "f").unwrap();
        assert_eq!(f.call(&mut store, 14).unwrap(), 42);
    }
    // SAFETY: the module and store are gone.
    unsafe { platform.code_free(region) };
}
