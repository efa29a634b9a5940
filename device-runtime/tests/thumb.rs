//! Thumb-2 (Cortex-M) images on the hosted runtime for 32-bit Arm Linux, run under `qemu-arm`:
//! `cargo test -p device-runtime --features hosted --target armv7-unknown-linux-gnueabihf`.
//!
//! The code generator is not finished, so the images are made by hand (`thumb_image`): Thumb
//! code from the backend's assembler, the trampolines of the backend's design, metadata and
//! header from the host compiler's image writer. Covered: calls through array-entry
//! trampolines with i32/i64/f32/f64 arguments and results, host functions through a
//! wasm-to-array trampoline (results and errors), listed `udf` traps and listed faulting
//! stores as typed traps, the `Trap` libcall, code pointers with bit 0 in `VMFuncRef`s and
//! tables, the callee-saved state after a trap, and refusals (a profile this CPU cannot run,
//! guard-elided images). Faults that must *not* become traps (an unlisted `udf`, a `udf` of
//! another code, an unlisted faulting store) run in a child process, which must die of the
//! signal.

#![cfg(all(feature = "hosted", target_arch = "arm"))]

mod thumb_image;

use device_runtime::*;
use host_compiler::thumb::asm::{Addr, Cond, FReg, Flags, Reg, RegList, Width};
use shared_types::Libcall;
use shared_types::metadata::{BoundsChecks, Tunables};
use thumb_image::{BuiltImage, Text, answer_image, build_image, r};

/// Function indices of [`MAIN`] (the import is function 0).
mod f {
    pub const HOST: u32 = 0;
    pub const REENTER: u32 = 1;
    pub const IMPORTS: u32 = 2;
    pub const ARITH: u32 = 2;
    pub const ANSWER: u32 = 3;
    pub const CALL_HOST: u32 = 4;
    pub const CALL_TABLE: u32 = 5;
    pub const FUNCREF_CODE: u32 = 6;
    pub const TRAP_UDF: u32 = 7;
    pub const TRAP_LIBCALL: u32 = 8;
    pub const STORE_OOB: u32 = 9;
    pub const CLOBBER_AND_TRAP: u32 = 10;
    pub const UDF_UNLISTED: u32 = 11;
    pub const UDF_WRONG_CODE: u32 = 12;
    pub const STORE_UNLISTED: u32 = 13;
    pub const LOAD: u32 = 14;
    pub const PRESERVED_ACROSS_TRAP: u32 = 15;
}

const MAIN: &str = r#"(module
  (import "env" "host" (func $host (param i32 f32) (result i32)))
  (import "env" "reenter" (func $reenter (result i32)))

  (memory 1)
  (table 2 funcref)
  (elem (i32.const 0) $answer $host)
  (data (i32.const 16) "\2a\00\00\00")
  (func (export "arith") (param i32 i64 f32 f64) (result i64 f64 i32 f32) unreachable)
  (func $answer (export "answer") (result i32) unreachable)
  (func (export "call_host") (param i32 f32) (result i32) unreachable)
  (func (export "call_table") (param i32) (result i32) unreachable)
  (func (export "funcref_code") (param i32) (result i32 i32) unreachable)
  (func (export "trap_udf") unreachable)
  (func (export "trap_libcall") (param i32) unreachable)
  (func (export "store_oob") (param i32) unreachable)
  (func (export "clobber_and_trap") unreachable)
  (func (export "udf_unlisted") unreachable)
  (func (export "udf_wrong_code") unreachable)
  (func (export "store_unlisted") (param i32) unreachable)
  (func (export "load") (param i32) (result i32) unreachable)
  (func (export "preserved_across_trap") (result i32) unreachable))"#;

/// `movw`/`movt` of a 32-bit constant.
fn mov32(t: &mut Text<'_>, rd: Reg, value: u32) {
    t.asm.movw(rd, value as u16).unwrap();
    t.asm.movt(rd, (value >> 16) as u16).unwrap();
}

/// Calls the `VMFuncRef` whose address is in `rf` (DESIGN 6.1), keeping our vmctx on the
/// stack; the arguments are already in place.
fn call_func_ref(t: &mut Text<'_>, rf: Reg, scratch: Reg) {
    let wasm_call = t.offsets.func_ref_wasm_call() as i32;
    let vmctx = t.offsets.func_ref_vmctx() as i32;
    t.ldr(scratch, rf, wasm_call);
    t.asm.mov(Flags::Any, Reg::R12, r(10)).unwrap();
    t.ldr(r(10), rf, vmctx);
    t.asm.blx(scratch).unwrap();
}

/// A body that calls import `import` with its own arguments and adds 1 to the i32 result.
fn call_import_plus_one(t: &mut Text<'_>, import: u32) {
    t.asm.push(RegList::of(&[r(10), Reg::LR])).unwrap();
    t.asm
        .add(Flags::Any, r(2), r(10), t.offsets.func_ref(import))
        .unwrap();
    call_func_ref(t, r(2), r(3));
    t.asm.add(Flags::Any, r(0), r(0), 1u32).unwrap();
    t.asm.pop(RegList::of(&[r(10), Reg::PC])).unwrap();
}

fn main_image(target: Target) -> BuiltImage {
    build_image(target, MAIN, Tunables::default(), |t| {
        // arith(a: i32 r0, b: i64 r1:r2, c: f32 s0, d: f64 d1)
        //   -> (b + 1: r0:r1, d + d: d0, a - 7: r2, c * c: s2)
        t.function(f::ARITH, |t| {
            let a = &mut t.asm;
            a.sub(Flags::Any, r(3), r(0), 7u32).unwrap();
            a.add(Flags::Set, r(0), r(1), 1u32).unwrap();
            a.adc(Flags::Any, r(1), r(2), 0u32).unwrap();
            a.mov(Flags::Any, r(2), r(3)).unwrap();
            a.vmul(FReg::S(4), FReg::S(0), FReg::S(0)).unwrap();
            a.vadd(FReg::D(0), FReg::D(1), FReg::D(1)).unwrap();
            a.vmov(FReg::S(2), FReg::S(4)).unwrap();
            a.bx(Reg::LR).unwrap();
        });
        t.function(f::ANSWER, |t| {
            t.asm.mov(Flags::Any, r(0), 42u32).unwrap();
            t.asm.bx(Reg::LR).unwrap();
        });
        // call_host(x, y) = host(x, y) + 1, through the import's VMFuncRef.
        t.function(f::CALL_HOST, |t| call_import_plus_one(t, f::HOST));
        // call_table(i) = table[i](5, 2.0): `answer` ignores its arguments, `host` computes.
        t.function(f::CALL_TABLE, |t| {
            t.asm.push(RegList::of(&[r(10), Reg::LR])).unwrap();
            let table = (t.offsets.defined_table(0) + t.offsets.table_base()) as i32;
            t.ldr(r(1), r(10), table);
            t.asm
                .ldr(Width::W32, r(1), Addr::Indexed(r(1), r(0), 2))
                .unwrap();
            t.asm.mov(Flags::Any, r(0), 5u32).unwrap();
            t.asm
                .vmov_imm(FReg::S(0), u64::from(2.0f32.to_bits()))
                .unwrap();
            call_func_ref(t, r(1), r(3));
            t.asm.pop(RegList::of(&[r(10), Reg::PC])).unwrap();
        });
        // funcref_code(offset) = (wasm_call, array_call) of the VMFuncRef at vmctx + offset.
        t.function(f::FUNCREF_CODE, |t| {
            let (wasm_call, array_call) = (
                t.offsets.func_ref_wasm_call() as i32,
                t.offsets.func_ref_array_call() as i32,
            );
            t.asm.add(Flags::Any, r(2), r(10), r(0)).unwrap();
            t.ldr(r(0), r(2), wasm_call);
            t.ldr(r(1), r(2), array_call);
            t.asm.bx(Reg::LR).unwrap();
        });
        t.function(f::TRAP_UDF, |t| t.udf_trap(TrapCode::Unreachable));
        // trap_libcall(code): Trap(vmctx, code), a dynamic trap code.
        t.function(f::TRAP_LIBCALL, |t| {
            t.asm.mov(Flags::Any, r(1), r(0)).unwrap();
            t.asm.mov(Flags::Any, r(0), r(10)).unwrap();
            let libcalls = t.offsets.libcalls() as i32;
            t.ldr(Reg::R12, r(10), libcalls);
            t.ldr(Reg::R12, Reg::R12, Libcall::Trap as i32 * 4);
            t.asm.blx(Reg::R12).unwrap();
            t.asm.udf(0).unwrap();
        });
        // store_oob(v): stores v at memory offset 65536, one past the end of the 1-page
        // memory, with the store listed as `MemoryOutOfBounds`.
        t.function(f::STORE_OOB, |t| {
            mov32(t, Reg::R12, 65536);
            t.asm
                .str(Width::W32, r(0), Addr::Indexed(r(7), Reg::R12, 0))
                .unwrap();
            t.listed(TrapCode::MemoryOutOfBounds);
            t.asm.bx(Reg::LR).unwrap();
        });
        // Overwrites every callee-saved register the AAPCS gives the host (r4-r11, s16-s31),
        // then traps: only the entry's jump buffer can give them back.
        t.function(f::CLOBBER_AND_TRAP, |t| {
            for n in 4..=11 {
                mov32(t, r(n), 0xdead_0000 + n as u32);
            }
            for s in 16..32 {
                t.asm.vmov_to_s(FReg::S(s), r(4 + s % 8)).unwrap();
            }
            t.udf_trap(TrapCode::Unreachable);
        });
        t.function(f::UDF_UNLISTED, |t| {
            t.asm.udf(0x80 + TrapCode::Unreachable.as_u8()).unwrap();
        });
        // Listed as `Unreachable`, but the instruction says `IntegerOverflow`.
        t.function(f::UDF_WRONG_CODE, |t| {
            t.asm.udf(0x80 + TrapCode::IntegerOverflow.as_u8()).unwrap();
            t.listed(TrapCode::Unreachable);
        });
        t.function(f::STORE_UNLISTED, |t| {
            mov32(t, Reg::R12, 65536);
            t.asm
                .str(Width::W32, r(0), Addr::Indexed(r(7), Reg::R12, 0))
                .unwrap();
            t.asm.bx(Reg::LR).unwrap();
        });
        // preserved_across_trap() = number of callee-saved registers (r4-r9, r11, s16-s31)
        // that differ after a call of `reenter`, a host function that calls
        // `clobber_and_trap`; 100 more if `reenter` did not see the trap. The values set here
        // pass untouched through the host function (AAPCS) into the inner entry's jump buffer;
        // only the unwind restores them after the inner wasm code overwrote them.
        t.function(f::PRESERVED_ACROSS_TRAP, |t| {
            let saved = [r(4), r(5), r(6), r(7), r(8), r(9), r(10), r(11), Reg::LR];
            t.asm.push(RegList::of(&saved)).unwrap();
            t.asm.vpush(FReg::D(8), 8).unwrap();
            let expected = |n: u8| 0x5a5a_0000 + u32::from(n);
            for n in [4, 5, 6, 7, 8, 9, 11] {
                mov32(t, r(n), expected(n));
            }
            for s in 16..32u8 {
                mov32(t, Reg::R12, expected(s + 16));
                t.asm.vmov_to_s(FReg::S(s), Reg::R12).unwrap();
            }
            t.asm.push(RegList::of(&[r(10), r(11)])).unwrap();
            t.asm
                .add(Flags::Any, r(2), r(10), t.offsets.func_ref(f::REENTER))
                .unwrap();
            call_func_ref(t, r(2), r(3));
            t.asm.pop(RegList::of(&[r(10), r(11)])).unwrap();
            // r0 = 1 when the inner call trapped: mismatches start at 100 * (1 - r0).
            t.asm.rsb(Flags::Any, r(0), r(0), 1u32).unwrap();
            t.asm.mov(Flags::Any, r(1), 100u32).unwrap();
            t.asm.mul(Flags::Any, r(0), r(0), r(1)).unwrap();
            for n in [4, 5, 6, 7, 8, 9, 11] {
                mov32(t, Reg::R12, expected(n));
                t.asm.cmp(r(n), Reg::R12).unwrap();
                t.asm.it(Cond::Ne, &[]).unwrap();
                t.asm.add(Flags::Any, r(0), r(0), 1u32).unwrap();
            }
            for s in 16..32u8 {
                mov32(t, Reg::R12, expected(s + 16));
                t.asm.vmov_from_s(r(1), FReg::S(s)).unwrap();
                t.asm.cmp(r(1), Reg::R12).unwrap();
                t.asm.it(Cond::Ne, &[]).unwrap();
                t.asm.add(Flags::Any, r(0), r(0), 1u32).unwrap();
            }
            t.asm.vpop(FReg::D(8), 8).unwrap();
            t.asm
                .pop(RegList::of(&[
                    r(4),
                    r(5),
                    r(6),
                    r(7),
                    r(8),
                    r(9),
                    r(10),
                    r(11),
                    Reg::PC,
                ]))
                .unwrap();
        });
        // load(address) = i32 at `address` of memory 0 (r7, set by the array-entry trampoline).
        t.function(f::LOAD, |t| {
            t.asm
                .ldr(Width::W32, r(0), Addr::Indexed(r(7), r(0), 0))
                .unwrap();
            t.asm.bx(Reg::LR).unwrap();
        });
    })
}

#[derive(Default)]
struct Host {
    calls: u32,
}

fn host_linker(engine: &Engine) -> Linker<Host> {
    let mut linker = Linker::<Host>::new(engine);
    linker
        .func_wrap(
            "env",
            "host",
            |mut caller: Caller<'_, '_, Host>, x: i32, y: f32| -> Result<i32, HostError> {
                caller.data_mut().calls += 1;
                if x < 0 {
                    Err(HostError::with_code("negative", 9))
                } else {
                    Ok(x * 100 + y as i32)
                }
            },
        )
        .unwrap();
    linker
        .func_wrap(
            "env",
            "reenter",
            |mut caller: Caller<'_, '_, Host>| -> i32 {
                let inner = caller
                    .get_export("clobber_and_trap")
                    .and_then(Extern::into_func)
                    .unwrap();
                let result = inner.call(caller.as_store_mut(), &[], &mut []);
                i32::from(result.is_err_and(|e| e.trap_code() == Some(TrapCode::Unreachable)))
            },
        )
        .unwrap();
    linker
}

#[test]
fn this_cpu_runs_the_images_of_every_cortex_m_profile() {
    // qemu-arm's default CPU: ARMv8-A AArch32 with VFPv4 and Thumb divide (HWCAPs), which
    // behaves like cortex-m7 and cortex-m55 cores (named as the first).
    let engine = Engine::default();
    assert_eq!(engine.core(), Some(Target::CortexM7));
    assert!(engine.runs(Target::CortexM7) && engine.runs(Target::CortexM4F));
    assert!(engine.runs(Target::CortexM33) && engine.runs(Target::CortexM55));
    assert!(!engine.runs(Target::Aarch64) && !engine.runs(Target::X86_64Sim));
    // A declared core narrows it to one family.
    let mut config = EngineConfig::default();
    config.core = Some(Target::CortexM55);
    let m55 = Engine::new(&config);
    assert!(m55.runs(Target::CortexM55) && m55.runs(Target::CortexM33));
    assert!(!m55.runs(Target::CortexM7) && !m55.runs(Target::CortexM4F));
    assert_eq!(NATIVE_TARGET, None);
}

#[test]
fn arguments_and_results_of_every_type_cross_the_array_entry() {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    assert_eq!(module.target(), Target::CortexM7);
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let arith = inst
        .get_typed_func::<(i32, i64, f32, f64), (i64, f64, i32, f32)>(&store, "arith")
        .unwrap();
    for (a, b, c, d) in [
        (50, 0x1_ffff_ffff_i64, 1.5f32, 0.25f64),
        (-3, -1, -2.0, -1e300),
        (i32::MIN, i64::MAX - 1, 0.0, 3.5),
    ] {
        let got = arith.call(&mut store, (a, b, c, d)).unwrap();
        assert_eq!(got, (b + 1, d + d, a.wrapping_sub(7), c * c));
    }
    let answer = inst.get_typed_func::<(), i32>(&store, "answer").unwrap();
    assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
    // r7 (memory 0's base) comes from the trampoline: the data segment is visible.
    let load = inst.get_typed_func::<i32, i32>(&store, "load").unwrap();
    assert_eq!(load.call(&mut store, 16).unwrap(), 42);
    let mem = inst.get_memory(&store, "memory");
    assert!(mem.is_none(), "memory is not exported");
    // Untyped calls go through the same trampoline.
    let mut results = [Val::I32(0)];
    inst.get_func(&store, "answer")
        .unwrap()
        .call(&mut store, &[], &mut results)
        .unwrap();
    assert_eq!(results[0], Val::I32(42));
}

#[test]
fn host_functions_through_the_wasm_to_array_trampoline() {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let call_host = inst
        .get_typed_func::<(i32, f32), i32>(&store, "call_host")
        .unwrap();
    assert_eq!(call_host.call(&mut store, (3, 4.5)).unwrap(), 305);
    assert_eq!(store.data().calls, 1);
    // The host's error comes back through the trampoline's `Trap` libcall call.
    let err = call_host.call(&mut store, (-1, 0.0)).unwrap_err();
    assert_eq!(err, Error::Host(HostError::with_code("negative", 9)));
    assert_eq!(store.data().calls, 2);
    // The store still works after the unwind.
    assert_eq!(call_host.call(&mut store, (7, 0.0)).unwrap(), 701);
}

#[test]
fn a_misaligned_value_buffer_is_a_host_error_not_undefined_behaviour() {
    // `ValRaw` is 16-byte aligned; a trampoline that passes a buffer with less alignment gets
    // a typed error from the host shim instead of a misaligned slice.
    let image = build_image(
        Target::CortexM7,
        r#"(module
            (import "env" "host" (func (param i32 f32) (result i32)))
            (func (export "call_host") (param i32 f32) (result i32) unreachable))"#,
        Tunables::default(),
        |t| {
            t.misaligned_value_buffers = true;
            t.function(1, |t| call_import_plus_one(t, 0));
        },
    );
    let engine = Engine::default();
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let call_host = inst
        .get_typed_func::<(i32, f32), i32>(&store, "call_host")
        .unwrap();
    let err = call_host.call(&mut store, (3, 4.0)).unwrap_err();
    let Error::Host(e) = err else {
        panic!("expected a host error, got {err:?}");
    };
    assert!(e.message.contains("not 16-byte aligned"), "{e:?}");
    assert_eq!(store.data().calls, 0, "the host function did not run");
}

#[test]
fn funcref_code_pointers_have_the_thumb_bit() {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let text = module.text_range().start;
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let funcref_code = inst
        .get_typed_func::<i32, (i32, i32)>(&store, "funcref_code")
        .unwrap();
    let offsets = shared_types::VmOffsets::new(4, {
        let wasm = host_compiler::wat_or_wasm(MAIN.as_bytes()).unwrap();
        host_compiler::module::parse(&wasm).unwrap().0.counts()
    })
    .unwrap();
    let code = |store: &mut Store<'_, Host>, index: u32| {
        let (wasm_call, array_call) = funcref_code
            .call(store, offsets.func_ref(index) as i32)
            .unwrap();
        (wasm_call as u32 as usize, array_call as u32 as usize)
    };
    // Defined functions: body and array-entry trampoline, text base + offset + 1.
    for (i, entry) in image.functions.iter().enumerate() {
        let (wasm_call, array_call) = code(&mut store, f::IMPORTS + i as u32);
        assert_eq!(wasm_call, text + entry.offset as usize + 1, "function {i}");
        assert_eq!(array_call, text + entry.array_trampoline as usize + 1);
    }
    // The imports: the wasm-to-array trampoline of their type.
    for (import, w2a) in [f::HOST, f::REENTER].into_iter().zip(&image.wasm_to_array) {
        let (wasm_call, _) = code(&mut store, import);
        assert_eq!(wasm_call, text + w2a.1 as usize + 1);
    }
    // Table entries point at those records: calling through them works (a `blx` to an even
    // address would switch to A32 and fault).
    let call_table = inst
        .get_typed_func::<i32, i32>(&store, "call_table")
        .unwrap();
    assert_eq!(call_table.call(&mut store, 0).unwrap(), 42);
    assert_eq!(call_table.call(&mut store, 1).unwrap(), 502);
}

#[test]
fn listed_traps_become_typed_traps() {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let trap_udf = inst.get_typed_func::<(), ()>(&store, "trap_udf").unwrap();
    let err = trap_udf.call(&mut store, ()).unwrap_err();
    assert_eq!(err.trap_code(), Some(TrapCode::Unreachable));

    let store_oob = inst.get_typed_func::<i32, ()>(&store, "store_oob").unwrap();
    let err = store_oob.call(&mut store, 1).unwrap_err();
    assert_eq!(err.trap_code(), Some(TrapCode::MemoryOutOfBounds));

    let trap_libcall = inst
        .get_typed_func::<i32, ()>(&store, "trap_libcall")
        .unwrap();
    for code in [TrapCode::IntegerOverflow, TrapCode::TableOutOfBounds] {
        let err = trap_libcall
            .call(&mut store, code.as_u8() as i32)
            .unwrap_err();
        assert_eq!(err.trap_code(), Some(code));
    }
    // A byte that is no trap code is reported as such, not as some trap.
    let err = trap_libcall.call(&mut store, 0xee).unwrap_err();
    assert!(matches!(err, Error::InvalidStatus(_)), "{err:?}");

    // After every unwind the store keeps working.
    let answer = inst.get_typed_func::<(), i32>(&store, "answer").unwrap();
    assert_eq!(answer.call(&mut store, ()).unwrap(), 42);
}

#[test]
fn a_trap_restores_every_callee_saved_register_of_the_entrys_caller() {
    // Deterministic: wasm code is the caller of a host function that re-enters wasm, which
    // clobbers r4-r11 and s16-s31 and traps (see `preserved_across_trap`).
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let preserved = inst
        .get_typed_func::<(), i32>(&store, "preserved_across_trap")
        .unwrap();
    assert_eq!(preserved.call(&mut store, ()).unwrap(), 0);
}

#[test]
fn a_trap_restores_the_hosts_callee_saved_registers() {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let clobber = inst
        .get_typed_func::<(), ()>(&store, "clobber_and_trap")
        .unwrap();
    // Values the compiler may keep in r4-r11 and d8-d15 across the calls.
    let ints: [u32; 8] = std::hint::black_box([1, 2, 3, 4, 5, 6, 7, 8]);
    let floats: [f64; 8] = std::hint::black_box([0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
    let (mut isum, mut fsum) = (0u32, 0f64);
    for round in 0..4u32 {
        let err = clobber.call(&mut store, ()).unwrap_err();
        assert_eq!(err.trap_code(), Some(TrapCode::Unreachable));
        isum = isum.wrapping_add(ints.iter().map(|i| i * (round + 1)).sum::<u32>());
        fsum += floats.iter().map(|f| f * f64::from(round + 1)).sum::<f64>();
    }
    assert_eq!(isum, 36 * 10);
    assert_eq!(fsum, 32.0 * 10.0);
    let arith = inst
        .get_typed_func::<(i32, i64, f32, f64), (i64, f64, i32, f32)>(&store, "arith")
        .unwrap();
    assert_eq!(
        arith.call(&mut store, (8, 9, 3.0, 4.0)).unwrap(),
        (10, 8.0, 1, 9.0)
    );
}

/// Runs this test binary's test `test` in a child process with `DEVICE_RUNTIME_CHILD=case`
/// (through `qemu-arm` when the binary cannot be executed directly) and returns how it ended.
fn run_child(test: &str, case: &str) -> std::process::Output {
    use std::process::{Command, Stdio};
    let exe = std::env::current_exe().expect("current_exe");
    let direct = Command::new(&exe)
        .arg("--list")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let prefix =
        std::env::var("QEMU_LD_PREFIX").unwrap_or_else(|_| "/usr/arm-linux-gnueabihf".into());
    // No core file for the expected crash: `ulimit -c 0` in a shell that then execs.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "ulimit -c 0; exec \"$@\"", "sh"]);
    if !direct {
        cmd.args(["qemu-arm", "-L", &prefix]);
    }
    cmd.arg(&exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env("DEVICE_RUNTIME_CHILD", case)
        .stdin(Stdio::null())
        .output()
        .expect("spawn the child")
}

/// In the child: calls export `name` of the main image with `args`, which must never return.
fn child_calls(name: &str, args: &[Val]) {
    let engine = Engine::default();
    let image = main_image(Target::CortexM7);
    let module = Module::new(&engine, &image.bytes).unwrap();
    let mut store = Store::new(&engine, Host::default());
    let inst = host_linker(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    let func = inst.get_func(&store, name).unwrap();
    eprintln!("child: calling {name}");
    let result = func.call(&mut store, args, &mut []);
    // Reaching this line is the failure the parent checks for.
    println!("child: {name} returned {result:?}");
    std::process::exit(0);
}

fn expect_killed_by(test: &str, case: &str, signal: i32) {
    use std::os::unix::process::ExitStatusExt;
    let out = run_child(test, case);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("child: calling {case}")),
        "the child did not get to the call: {stderr}"
    );
    assert!(
        !stdout.contains("returned"),
        "the fault became a result: {stdout}"
    );
    assert_eq!(
        out.status.signal(),
        Some(signal),
        "child status {:?}; stderr: {stderr}",
        out.status
    );
}

#[test]
fn an_unlisted_udf_is_reported_not_trapped() {
    match std::env::var("DEVICE_RUNTIME_CHILD").as_deref() {
        Ok("udf_unlisted") => child_calls("udf_unlisted", &[]),
        Ok(_) => {}
        Err(_) => expect_killed_by(
            "an_unlisted_udf_is_reported_not_trapped",
            "udf_unlisted",
            4, // SIGILL
        ),
    }
}

#[test]
fn a_udf_of_another_code_than_listed_is_reported_not_trapped() {
    match std::env::var("DEVICE_RUNTIME_CHILD").as_deref() {
        Ok("udf_wrong_code") => child_calls("udf_wrong_code", &[]),
        Ok(_) => {}
        Err(_) => expect_killed_by(
            "a_udf_of_another_code_than_listed_is_reported_not_trapped",
            "udf_wrong_code",
            4, // SIGILL
        ),
    }
}

#[test]
fn an_unlisted_faulting_store_is_reported_not_trapped() {
    match std::env::var("DEVICE_RUNTIME_CHILD").as_deref() {
        Ok("store_unlisted") => child_calls("store_unlisted", &[Val::I32(1)]),
        Ok(_) => {}
        Err(_) => expect_killed_by(
            "an_unlisted_faulting_store_is_reported_not_trapped",
            "store_unlisted",
            11, // SIGSEGV
        ),
    }
}

#[test]
fn cortex_m4f_images_run_and_a_declared_core_narrows() {
    let image = answer_image(Target::CortexM4F, Tunables::default());
    for core in [None, Some(Target::CortexM4F), Some(Target::CortexM7)] {
        let engine = Engine::new(&{
            let mut c = EngineConfig::default();
            c.core = core;
            c
        });
        let module = Module::new(&engine, &image.bytes).unwrap();
        let mut store = Store::new(&engine, ());
        let inst = Linker::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let answer = inst.get_typed_func::<(), i32>(&store, "answer").unwrap();
        assert_eq!(answer.call(&mut store, ()).unwrap(), 42, "core {core:?}");
    }
    // A firmware that says it is an M4F refuses M7 images even though this CPU runs them.
    let mut config = EngineConfig::default();
    config.core = Some(Target::CortexM4F);
    let engine = Engine::new(&config);
    let m7 = answer_image(Target::CortexM7, Tunables::default());
    assert_eq!(
        Module::new(&engine, &m7.bytes).unwrap_err(),
        LoadError::WrongTarget {
            image: Target::CortexM7,
            runtime: Some(Target::CortexM4F)
        }
    );
}

#[test]
fn armv8_m_images_run_here_and_a_declared_core_narrows_what_runs() {
    // The ARMv8-M profiles' images check the stack in software like the others, and use no
    // instruction an ARMv8-A core lacks: this CPU runs them (`arch::arm::cpu`).
    let engine = Engine::default();
    for target in [Target::CortexM33, Target::CortexM55] {
        let image = answer_image(target, Tunables::default());
        let module = Module::new(&engine, &image.bytes).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Linker::<()>::new(&engine)
            .instantiate(&mut store, &module)
            .unwrap();
        let answer = instance
            .get_typed_func::<(), i32>(&store, "answer")
            .unwrap();
        assert_eq!(answer.call(&mut store, ()).unwrap(), 42, "{target}");
    }
    // Declaring an M55 makes the engine refuse what an M55 does not run, naming the M55.
    let mut config = EngineConfig::default();
    config.core = Some(Target::CortexM55);
    let engine = Engine::new(&config);
    let image = answer_image(Target::CortexM7, Tunables::default());
    let err = Module::new(&engine, &image.bytes).unwrap_err();
    assert_eq!(
        err,
        LoadError::WrongTarget {
            image: Target::CortexM7,
            runtime: Some(Target::CortexM55)
        }
    );
    let message = err.to_string();
    assert!(
        message.contains("cortex-m7") && message.contains("cortex-m55"),
        "{message}"
    );
}

#[test]
fn guard_elided_images_are_refused_on_a_32_bit_address_space() {
    let tunables = Tunables {
        bounds_checks: BoundsChecks::GuardElided,
        guard_reservation: (4 << 30) + (64 << 10),
        ..Tunables::default()
    };
    let image = answer_image(Target::CortexM7, tunables);
    let engine = Engine::default();
    let refused = LoadError::GuardReservation {
        required: (4 << 30) + (64 << 10),
        available: 0,
    };
    assert_eq!(Module::new(&engine, &image.bytes).unwrap_err(), refused);
    // Executing in place too: the image is refused before any of its code could run.
    // SAFETY: the bytes do not change during the call, and nothing of the image executes.
    let in_place = unsafe { Module::new_in_place(&engine, &image.bytes) };
    assert_eq!(in_place.unwrap_err(), refused);
}
