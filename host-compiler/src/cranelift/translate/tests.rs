//! Translate + verify + compile tests on aarch64 and x86_64.
//!
//! Each test parses a module, builds a [`ModuleEnv`] by hand, translates every defined
//! function, runs the Cranelift verifier and compiles the result for both ISAs, checking that
//! the only relocations are colocated calls to user functions.

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::isa::{self, OwnedTargetIsa};
use cranelift_codegen::{
    Context, FinalizedRelocTarget, binemit::Reloc, settings, settings::Configurable,
};
use shared_types::metadata::{BoundsChecks, GlobalType, MemoryType, TableType};
use shared_types::vmoffsets::ModuleCounts;
use shared_types::{ValType, VmOffsets};
use wasmparser::{FuncValidatorAllocations, Parser, Payload, TypeRef, ValidPayload, Validator};

use super::translate_function;
use crate::cranelift::env::{FuncSig, ModuleEnv};
use crate::error::CompileError;

fn val_type(ty: wasmparser::ValType) -> ValType {
    match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) if r.is_func_ref() => ValType::FuncRef,
        wasmparser::ValType::Ref(_) => ValType::ExternRef,
    }
}

fn table_type(t: &wasmparser::TableType) -> TableType {
    let element = if t.element_type.is_func_ref() {
        ValType::FuncRef
    } else {
        ValType::ExternRef
    };
    TableType {
        element: element.code(),
        min: t.initial,
        max: t.maximum,
        index64: t.table64,
    }
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min: m.initial,
        max: m.maximum,
        index64: m.memory64,
        page_size_log2: m.page_size_log2() as u8,
        shared: m.shared,
    }
}

fn global_type(g: &wasmparser::GlobalType) -> GlobalType {
    GlobalType {
        ty: val_type(g.content_type).code(),
        mutable: g.mutable,
    }
}

/// Function bodies waiting for translation.
pub(crate) type Bodies<'a> = Vec<(
    u32,
    wasmparser::FunctionBody<'a>,
    wasmparser::FuncToValidate<wasmparser::ValidatorResources>,
)>;

/// Parses and validates (except bodies) a module, returning its environment and bodies.
pub(crate) fn parse<'a>(wasm: &'a [u8]) -> (ModuleEnv, Bodies<'a>) {
    let mut env = ModuleEnv {
        offsets: VmOffsets::new(8, ModuleCounts::default()).unwrap(),
        pointer_type: ir::types::I64,
        types: Vec::new(),
        func_types: Vec::new(),
        num_imported_funcs: 0,
        tables: Vec::new(),
        num_imported_tables: 0,
        memories: Vec::new(),
        num_imported_memories: 0,
        globals: Vec::new(),
        num_imported_globals: 0,
        bounds_checks: BoundsChecks::Explicit,
        guard_size: 0,
        fuel: false,
        epochs: false,
    };
    // The production feature set (WebAssembly 2.0 and every proposal the compiler accepts).
    let mut validator = Validator::new_with_features(crate::Proposals::ALL.features());
    let mut bodies = Vec::new();
    let mut next_func = 0;
    for payload in Parser::new(0).parse_all(wasm) {
        let payload = payload.unwrap();
        match &payload {
            Payload::TypeSection(reader) => {
                for ty in reader.clone().into_iter_err_on_gc_types() {
                    let ty = ty.unwrap();
                    env.types.push(FuncSig {
                        params: ty.params().iter().map(|t| val_type(*t)).collect(),
                        results: ty.results().iter().map(|t| val_type(*t)).collect(),
                    });
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    match import.unwrap().ty {
                        TypeRef::Func(t) => {
                            env.func_types.push(t);
                            env.num_imported_funcs += 1;
                        }
                        TypeRef::Table(t) => {
                            env.tables.push(table_type(&t));
                            env.num_imported_tables += 1;
                        }
                        TypeRef::Memory(m) => {
                            env.memories.push(memory_type(&m));
                            env.num_imported_memories += 1;
                        }
                        TypeRef::Global(g) => {
                            env.globals.push(global_type(&g));
                            env.num_imported_globals += 1;
                        }
                        _ => panic!("unexpected import"),
                    }
                }
                next_func = env.num_imported_funcs;
            }
            Payload::FunctionSection(reader) => {
                env.func_types
                    .extend(reader.clone().into_iter().map(|t| t.unwrap()));
            }
            Payload::TableSection(reader) => {
                env.tables.extend(
                    reader
                        .clone()
                        .into_iter()
                        .map(|t| table_type(&t.unwrap().ty)),
                );
            }
            Payload::MemorySection(reader) => {
                env.memories
                    .extend(reader.clone().into_iter().map(|m| memory_type(&m.unwrap())));
            }
            Payload::GlobalSection(reader) => {
                env.globals.extend(
                    reader
                        .clone()
                        .into_iter()
                        .map(|g| global_type(&g.unwrap().ty)),
                );
            }
            _ => {}
        }
        if let ValidPayload::Func(to_validate, body) = validator.payload(&payload).unwrap() {
            bodies.push((next_func, body, to_validate));
            next_func += 1;
        }
    }
    let counts = ModuleCounts {
        num_types: env.types.len() as u32,
        num_imported_funcs: env.num_imported_funcs,
        num_defined_funcs: env.func_types.len() as u32 - env.num_imported_funcs,
        num_imported_tables: env.num_imported_tables,
        num_defined_tables: env.tables.len() as u32 - env.num_imported_tables,
        num_imported_memories: env.num_imported_memories,
        num_defined_memories: env.memories.len() as u32 - env.num_imported_memories,
        num_imported_globals: env.num_imported_globals,
        num_defined_globals: env.globals.len() as u32 - env.num_imported_globals,
    };
    env.offsets = VmOffsets::new(8, counts).unwrap();
    (env, bodies)
}

/// The environment of a module given as text.
pub(crate) fn test_env(wat: &str) -> ModuleEnv {
    let wasm = wat::parse_str(wat).unwrap();
    parse(&wasm).0
}

/// Translates every defined function of a module.
fn translate_module(wat: &str) -> Result<Vec<ir::Function>, CompileError> {
    let wasm = wat::parse_str(wat).unwrap();
    let (env, bodies) = parse(&wasm);
    let mut out = Vec::new();
    for (index, body, to_validate) in bodies {
        let mut validator = to_validate.into_validator(FuncValidatorAllocations::default());
        out.push(translate_function(&env, index, &body, &mut validator)?);
    }
    Ok(out)
}

pub(crate) fn isas() -> Vec<OwnedTargetIsa> {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    // Functions with many results return part of them through an implicit return area.
    flags.set("enable_multi_ret_implicit_sret", "true").unwrap();
    let flags = settings::Flags::new(flags);
    let mut out = Vec::new();
    for name in ["aarch64-unknown-none", "x86_64-unknown-none"] {
        let mut builder = isa::lookup_by_name(name).unwrap();
        if name.starts_with("x86_64") {
            builder.enable("has_sse41").unwrap();
        }
        out.push(builder.finish(flags.clone()).unwrap());
    }
    out
}

/// Verifies and compiles `func` for aarch64 and x86_64; panics on any error or on a
/// relocation other than a colocated call to a user function.
pub(crate) fn compile_both(func: ir::Function) {
    for isa in isas() {
        if let Err(errors) = cranelift_codegen::verify_function(&func, &*isa) {
            panic!(
                "verifier errors on {}:\n{errors}\n{}",
                isa.name(),
                func.display()
            );
        }
        let mut context = Context::for_function(func.clone());
        let code = context
            .compile(&*isa, &mut ControlPlane::default())
            .unwrap_or_else(|e| {
                panic!(
                    "compile failed on {}: {:?}\n{}",
                    isa.name(),
                    e.inner,
                    func.display()
                )
            });
        for reloc in code.buffer.relocs() {
            assert!(
                matches!(reloc.kind, Reloc::Arm64Call | Reloc::X86CallPCRel4),
                "reloc {reloc:?}"
            );
            assert!(
                matches!(
                    reloc.target,
                    FinalizedRelocTarget::ExternalName(ExternalName::User(_))
                ),
                "reloc target {reloc:?}"
            );
        }
    }
}

/// Translates, verifies and compiles every function of a module; returns how many there were.
fn check(wat: &str) -> usize {
    let funcs = translate_module(wat).unwrap_or_else(|e| panic!("translation failed: {e}"));
    let n = funcs.len();
    for func in funcs {
        compile_both(func);
    }
    n
}

#[test]
fn integer_ops() {
    check(
        "(module
          (func (param i32 i32) (result i32)
            local.get 0 local.get 1 i32.add local.get 1 i32.sub local.get 0 i32.mul
            local.get 1 i32.div_s local.get 1 i32.div_u local.get 1 i32.rem_s local.get 1 i32.rem_u
            local.get 1 i32.and local.get 1 i32.or local.get 1 i32.xor local.get 1 i32.shl
            local.get 1 i32.shr_s local.get 1 i32.shr_u local.get 1 i32.rotl local.get 1 i32.rotr
            i32.clz i32.ctz i32.popcnt i32.eqz i32.extend8_s i32.extend16_s
            local.get 1 i32.lt_s local.get 1 i32.le_u local.get 1 i32.ge_s local.get 1 i32.gt_u
            local.get 1 i32.eq local.get 1 i32.ne)
          (func (param i64 i64) (result i64)
            local.get 0 local.get 1 i64.add local.get 1 i64.div_s local.get 1 i64.rem_s
            local.get 1 i64.rem_u local.get 1 i64.rotr i64.clz i64.extend32_s i64.extend8_s
            local.get 1 i64.lt_u i64.extend_i32_u i64.const -1 i64.xor
            i32.wrap_i64 i64.extend_i32_s))",
    );
}

#[test]
fn float_ops() {
    check(
        "(module
          (func (param f32 f64) (result f32 f64 i32 i64)
            local.get 0 f32.abs f32.neg f32.ceil f32.floor f32.trunc f32.nearest f32.sqrt
            f32.const 1.5 f32.add f32.const 3 f32.min f32.const -0 f32.max f32.const 2 f32.copysign
            local.get 1 f64.abs f64.neg f64.ceil f64.floor f64.trunc f64.nearest f64.sqrt
            f64.const 0.1 f64.div local.get 1 f64.min local.get 1 f64.max local.get 1 f64.copysign
            local.get 0 f32.const 0 f32.lt local.get 1 local.get 1 f64.ne i32.add
            local.get 1 i64.trunc_f64_s local.get 0 i64.trunc_sat_f32_u i64.add)
          (func (param f32 f64 i32 i64) (result i32)
            local.get 0 i32.trunc_f32_s local.get 1 i32.trunc_f64_u i32.add
            local.get 0 i32.trunc_sat_f32_s i32.add local.get 1 i32.trunc_sat_f64_u i32.add
            local.get 2 f32.convert_i32_u local.get 3 f32.convert_i64_u f32.add
            local.get 2 f64.convert_i32_s local.get 3 f64.convert_i64_u f64.add
            f32.demote_f64 f32.add i32.reinterpret_f32 i32.add
            local.get 0 f64.promote_f32 i64.reinterpret_f64 f64.reinterpret_i64 f32.demote_f64
            i32.reinterpret_f32 i32.add local.get 2 f32.reinterpret_i32 i32.trunc_sat_f32_s i32.add))",
    );
}

#[test]
fn control_flow() {
    check(
        "(module
          (func (param i32) (result i32)
            (local i32 i64)
            block (result i32)
              loop (result i32)
                local.get 0 i32.const 1 i32.sub local.tee 0
                br_if 0
                local.get 1
              end
            end
            if (result i32) i32.const 1 else i32.const 2 end
            block
              local.get 0 br_table 0 0 0
            end
            local.get 0 if local.get 0 local.set 1 end
            block (result i32)
              i32.const 7 local.get 0 br_table 0 1 1
            end
            i32.add)
          (func (param i32) (result i32 i64)
            local.get 0
            (block (param i32) (result i32 i64)
              i64.const 3 local.get 0 br_if 0 drop i64.const 4)
            (loop (param i32 i64) (result i32 i64) local.get 0 br_if 0))
          (func (param i32) (result i32)
            block unreachable i32.add br 0 end
            local.get 0 if (result i32) local.get 0 return else i32.const 5 br 0 end
            local.get 0 local.get 0 select)
          (func (param i32) (result i32)
            local.get 0 if (result i32) unreachable else i32.const 1 end
            block (result i32) i32.const 1 br 0 i32.const 2 if nop else nop end end
            i32.add return)
          (func (param i32 i32) (result i32)
            local.get 0 local.get 1 if (param i32) (result i32) i32.const 1 i32.add end)
          (func unreachable))",
    );
}

#[test]
fn memory_ops() {
    check(
        "(module
          (memory 1)
          (data \"abc\")
          (func (param i32) (result i64)
            local.get 0 i32.load offset=4
            local.get 0 i32.load8_s local.get 0 i32.load16_u i32.add i32.add
            local.get 0 local.get 0 i32.store offset=0xfffffff0
            local.get 0 i64.const 1 i64.store32 offset=8
            local.get 0 f64.const 2 f64.store
            local.get 0 i32.const 3 i32.store8
            memory.size i32.add memory.grow drop
            local.get 0 i32.const 0 i32.const 4 memory.fill
            local.get 0 i32.const 0 i32.const 4 memory.copy
            local.get 0 i32.const 0 i32.const 3 memory.init 0
            data.drop 0
            local.get 0 i64.load32_s local.get 0 i64.load offset=1 i64.add))",
    );
}

/// memory64: every access width with 64-bit indices and offsets (up to `u64::MAX`, where the
/// access always traps), `memory.size`/`memory.grow` in i64 (a result narrowed to i32 would fail
/// the verifier at the `i64.add`/return), bulk operators with i64 operands, and `memory.copy`
/// between a 32-bit and a 64-bit memory (i32 length) in both directions.
#[test]
fn memory64_ops() {
    let n = check(
        "(module
          (import \"m\" \"mem64\" (memory $imp i64 1))
          (memory $m64 i64 1 10)
          (memory $m32 1)
          (memory $tiny i64 16 16 (pagesize 1))
          (data $d \"abc\")
          (func (param i64) (result i64)
            local.get 0 i32.load offset=4
            local.get 0 i32.load8_s local.get 0 i32.load16_u i32.add i32.add
            local.get 0 i32.load8_u offset=0xffffffffffffffff i32.add
            local.get 0 i32.load16_s offset=0x100000000 i32.add
            i64.extend_i32_u
            local.get 0 i64.load8_s i64.add local.get 0 i64.load8_u $imp i64.add
            local.get 0 i64.load16_s $m64 i64.add local.get 0 i64.load16_u i64.add
            local.get 0 i64.load32_s i64.add local.get 0 i64.load32_u offset=0xfffffffffffffff8 i64.add
            local.get 0 i64.load $tiny offset=8 i64.add
            local.get 0 f32.load i32.reinterpret_f32 i64.extend_i32_u i64.add
            local.get 0 f64.load offset=16 i64.reinterpret_f64 i64.add)
          (func (param i64 i32)
            local.get 0 local.get 1 i32.store offset=0xfffffff0
            local.get 0 local.get 1 i32.store8 $tiny
            local.get 0 local.get 1 i32.store16 $imp offset=2
            local.get 0 i64.const 1 i64.store8
            local.get 0 i64.const 1 i64.store16
            local.get 0 i64.const 1 i64.store32 offset=8
            local.get 0 i64.const 1 i64.store offset=0xffffffffffffffff
            local.get 0 f32.const 1 f32.store
            local.get 0 f64.const 2 f64.store $m64)
          (func (param i64) (result i64)
            local.get 0 memory.grow $m64 memory.size $m64 i64.add
            memory.size $imp i64.add memory.size $tiny i64.add
            i64.const 1 memory.grow $tiny i64.add
            memory.size $m32 i64.extend_i32_u i64.add)
          (func (param i64 i32)
            local.get 0 local.get 1 i64.const 4 memory.fill $m64
            local.get 0 i64.const 0 i64.const 4 memory.copy $m64 $imp
            local.get 0 local.get 1 i32.const 4 memory.copy $m64 $m32
            local.get 1 local.get 0 i32.const 4 memory.copy $m32 $m64
            local.get 1 local.get 1 i32.const 4 memory.copy $m32 $m32
            local.get 0 i32.const 0 i32.const 3 memory.init $tiny $d
            local.get 1 i32.const 0 i32.const 3 memory.init $m32 $d
            data.drop $d))",
    );
    assert_eq!(n, 4);
}

#[test]
fn imported_memory_and_globals() {
    check(
        "(module
          (import \"m\" \"mem\" (memory 1))
          (import \"m\" \"g\" (global $g (mut i64)))
          (global $h (mut f32) (f32.const 1))
          (global $r (mut externref) (ref.null extern))
          (func (result i64)
            i32.const 0 global.get $g i64.store
            global.get $h f32.const 1 f32.add global.set $h
            global.get $r global.set $r
            i32.const 8 i64.load global.get $g i64.add))",
    );
}

#[test]
fn calls_and_tables() {
    check(
        "(module
          (type $t (func (param i32) (result i32)))
          (import \"h\" \"f\" (func $imp (type $t)))
          (table $a 2 funcref)
          (table $b 2 externref)
          (elem declare func $f)
          (elem $e funcref (ref.func $f))
          (func $f (type $t) local.get 0 call $imp call $f)
          (func (param i32 externref) (result i32)
            i32.const 1 local.get 0 call_indirect $a (type $t)
            i32.const 0 local.get 1 table.set $b
            i32.const 0 table.get $b ref.is_null i32.add
            ref.func $f i32.const 1 table.grow $a i32.add
            table.size $b i32.add
            i32.const 0 ref.null func i32.const 1 table.fill $a
            i32.const 0 i32.const 1 i32.const 1 table.copy $a $a
            i32.const 0 i32.const 0 i32.const 1 table.init $a $e
            elem.drop $e)
          (func (param i32) (result i32)
            local.get 0 i32.const 0 i32.const 1 i32.const 2 i32.const 3 i32.const 4 i32.const 5
            i32.const 6 i32.const 7 i32.const 8 i32.const 9 i32.const 10 i32.const 11 i32.const 12
            call 3 drop drop drop drop drop drop drop drop drop drop drop drop drop)
          (func (param i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
                (result i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32)
            local.get 0 local.get 1 local.get 2 local.get 3 local.get 4 local.get 5 local.get 6
            local.get 7 local.get 8 local.get 9 local.get 10 local.get 11 local.get 12 local.get 13))",
    );
}

#[test]
fn malformed_and_unsupported_bodies_are_errors() {
    // Invalid: type mismatch inside a body; reported with the function index.
    let wasm = wat::parse_str("(module (func (result i32) i64.const 1))").unwrap();
    let (env, bodies) = parse(&wasm);
    for (index, body, to_validate) in bodies {
        let mut validator = to_validate.into_validator(FuncValidatorAllocations::default());
        match translate_function(&env, index, &body, &mut validator) {
            Err(CompileError::Invalid { location, .. }) => assert_eq!(location.func_index, Some(0)),
            other => panic!("expected an invalid-body error, got {other:?}"),
        }
    }
    // SIMD is refused.
    match translate_module("(module (func (local v128)))") {
        Err(CompileError::Unsupported { .. }) => {}
        other => panic!("expected unsupported, got {:?}", other.map(|f| f.len())),
    }
    match translate_module("(module (func (result i32) v128.const i64x2 0 0 i32x4.extract_lane 0))")
    {
        Err(CompileError::Unsupported { .. }) => {}
        other => panic!("expected unsupported, got {:?}", other.map(|f| f.len())),
    }
}

/// table64 (64-bit table indices): every table operator translates with i64 operands of a
/// 64-bit table, including copies between a 32-bit and a 64-bit table (their trapping above
/// 2^32 is run by `tests/wast/table64.wast`).
#[test]
fn table64_operators_translate() {
    for body in [
        "i64.const 0 table.get $t drop",
        "i64.const 0 ref.null func table.set $t",
        "table.size $t drop",
        "i32.const 0 i64.const 0 call_indirect $t (param i32)",
        "ref.null func i64.const 1 table.grow $t drop",
        "i64.const 0 ref.null func i64.const 1 table.fill $t",
        "i64.const 0 i64.const 0 i64.const 1 table.copy $t $t",
        "i32.const 0 i64.const 0 i32.const 1 table.copy $u $t",
        "i64.const 0 i32.const 0 i32.const 1 table.copy $t $u",
        "i64.const 0 i32.const 0 i32.const 0 table.init $t $e",
    ] {
        let wat = format!(
            "(module (table $t i64 1 funcref) (table $u 1 funcref) (elem $e func)
               (func (param i32)) (func {body}))"
        );
        if let Err(e) = translate_module(&wat) {
            panic!("{body}: {e:?}");
        }
    }
}

/// A module with one `() -> ()` function, one memory `(memory 1)`, one empty passive data
/// segment and the given body (locals vector included, without the size prefix). Returns the
/// binary and the body's offset.
fn one_function_module(body: &[u8]) -> (Vec<u8>, usize) {
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    wasm.extend_from_slice(b"\x01\x04\x01\x60\x00\x00"); // type section: () -> ()
    wasm.extend_from_slice(b"\x03\x02\x01\x00"); // function section
    wasm.extend_from_slice(b"\x05\x03\x01\x00\x01"); // memory section: (memory 1)
    wasm.extend_from_slice(b"\x0c\x01\x01"); // data count section: 1
    let entry_len = u8::try_from(body.len()).unwrap();
    wasm.extend_from_slice(&[0x0a, entry_len + 2, 0x01, entry_len]);
    let body_offset = wasm.len();
    wasm.extend_from_slice(body);
    wasm.extend_from_slice(b"\x0b\x03\x01\x01\x00"); // data section: (data "")
    (wasm, body_offset)
}

/// Parses with the production parser validating WebAssembly 2.0 exactly
/// ([`crate::module::parse_with`] and [`Proposals::NONE`](crate::Proposals::NONE): the
/// reserved-byte rules below do not exist with multi-memory) and translates every body, as the
/// driver does.
fn translate_binary(wasm: &[u8]) -> Result<Vec<ir::Function>, CompileError> {
    let (module, bodies) = crate::module::parse_with(wasm, crate::Proposals::NONE)?;
    let env = ModuleEnv::new(&module, ir::types::I64, BoundsChecks::Explicit, 0)?;
    let mut out = Vec::new();
    for input in bodies {
        let mut validator = input
            .validator
            .into_validator(FuncValidatorAllocations::default());
        out.push(translate_function(
            &env,
            input.index,
            &input.body,
            &mut validator,
        )?);
    }
    Ok(out)
}

fn expect_invalid(wasm: &[u8], offset: usize, message: &str) {
    match translate_binary(wasm) {
        Err(CompileError::Invalid {
            location,
            message: m,
        }) => {
            assert_eq!(location.func_index, Some(0), "{m}");
            assert_eq!(location.offset, offset, "{m}");
            assert!(m.contains(message), "{m:?} does not contain {message:?}");
        }
        other => panic!(
            "expected invalid ({message}), got {:?}",
            other.map(|f| f.len())
        ),
    }
}

#[test]
fn memory_size_and_grow_reserved_byte_is_a_single_zero() {
    // Well-formed: `i32.const 0 memory.grow 0 drop memory.size 0 drop end`.
    let (wasm, _) = one_function_module(b"\x00\x41\x00\x40\x00\x1a\x3f\x00\x1a\x0b");
    assert_eq!(translate_binary(&wasm).unwrap().len(), 1);
    // WebAssembly 2.0 (no multi-memory): the reserved byte is exactly 0x00, not a LEB128 zero
    // of 2..5 bytes and not a memory index.
    for reserved in [&b"\x80\x00"[..], b"\x80\x80\x80\x80\x00", b"\x01"] {
        let mut grow = b"\x00\x41\x00\x40".to_vec();
        grow.extend_from_slice(reserved);
        grow.extend_from_slice(b"\x1a\x0b");
        let (wasm, body) = one_function_module(&grow);
        expect_invalid(&wasm, body + 4, "zero byte expected");

        let mut size = b"\x00\x3f".to_vec();
        size.extend_from_slice(reserved);
        size.extend_from_slice(b"\x1a\x0b");
        let (wasm, body) = one_function_module(&size);
        expect_invalid(&wasm, body + 2, "zero byte expected");
    }
}

#[test]
fn bulk_memory_reserved_bytes_are_single_zeros() {
    // `i32.const 0 ×3 memory.fill 0x80 0x00 end` and the same for `memory.copy`'s bytes.
    let (wasm, body) = one_function_module(b"\x00\x41\x00\x41\x00\x41\x00\xfc\x0b\x80\x00\x0b");
    expect_invalid(&wasm, body + 9, "zero byte expected");
    let (wasm, body) = one_function_module(b"\x00\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x80\x00\x0b");
    expect_invalid(&wasm, body + 10, "zero byte expected");
    // `memory.init 0` with an over-long reserved byte, after an (allowed) over-long data index.
    let (wasm, body) =
        one_function_module(b"\x00\x41\x00\x41\x00\x41\x00\xfc\x08\x80\x00\x80\x00\x0b");
    expect_invalid(&wasm, body + 11, "zero byte expected");
    // Well-formed: over-long sub-opcode and data index are LEB128 fields and allowed.
    let (wasm, _) = one_function_module(
        b"\x00\x41\x00\x41\x00\x41\x00\xfc\x0a\x00\x00\
          \x41\x00\x41\x00\x41\x00\xfc\x8b\x00\x00\
          \x41\x00\x41\x00\x41\x00\xfc\x08\x80\x00\x00\x0b",
    );
    assert_eq!(translate_binary(&wasm).unwrap().len(), 1);
}

#[test]
fn body_without_final_end_is_invalid() {
    // `nop` and no `end`: the body ends with the function frame still open.
    let (wasm, body) = one_function_module(b"\x00\x01");
    expect_invalid(&wasm, body + 2, "control frames remain");
    // No operators at all.
    let (wasm, body) = one_function_module(b"\x00");
    expect_invalid(&wasm, body + 1, "control frames remain");
    // A nested block closed, the function's own `end` missing.
    let (wasm, body) = one_function_module(b"\x00\x02\x40\x0b");
    expect_invalid(&wasm, body + 4, "control frames remain");
    // An operator after the final `end`.
    let (wasm, body) = one_function_module(b"\x00\x0b\x01");
    match translate_binary(&wasm) {
        Err(CompileError::Invalid { location, .. }) => {
            assert_eq!(location.func_index, Some(0));
            assert!(location.offset > body, "{location:?}");
        }
        other => panic!("expected invalid, got {:?}", other.map(|f| f.len())),
    }
}
