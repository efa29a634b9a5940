//! The core of the single-pass code generator: the register-cached value stack (DESIGN.md
//! section 3), locals, i32 arithmetic and structured control flow, emitted through the
//! assembler. [`super::backend`] compiles whole modules with it.
//!
//! It compiles all of WebAssembly 2.0 except SIMD, plus multi-memory, memory64, custom page
//! sizes, extended constant expressions (the last two need nothing here) and table64: `v128`
//! anywhere (signatures, locals, globals, block types, operators) is refused with
//! [`CompileError::Unsupported`], never with wrong code.
//! What it implements of the design:
//!
//! * types: every value outside the FP cache is one or two core-register *words* (DESIGN.md,
//!   "interim departure"):
//!   i32, f32 and references (pointer-sized, 0 for null) one, i64 and f64 two (low first), as
//!   parameters, results, locals and globals; any number of result words (the first four in
//!   r0-r3, the rest in the caller's return area, DESIGN.md section 6.1); block types with any
//!   number of parameter and result words (up to four in the join registers, more in the join
//!   slots of section 3.4; a loop's parameters live in their join locations at its header; an
//!   `if`'s else path restarts from the parameters' entries at entry);
//! * f32 in the FP register cache (DESIGN.md, "interim departure", section 3.2 invariants 7
//!   and 8): f32 operators work on FP registers in place and leave `FReg` entries in s16-s29
//!   (callee-saved, one `vpush`/`vpop` of s16 up to the highest used); f32 locals (and f64
//!   locals on double-precision cores, as the halves of one double register) have FP homes in
//!   up to eight single registers from s16, read in place and, for f32, written directly by a
//!   fused `local.set`/`tee`;
//!   an `FReg` entry becomes a word (`vmov r, s`) where the word convention holds (joins,
//!   calls, results, `select`, stores, globals, reinterpret, `min`/`max`, `copysign`), and a
//!   word becomes an FP register (`vmov s, r` or `vldr`) only when an FP operator needs it.
//!   On the double-precision cores an f64 result stays in a double register of d8-d14, its
//!   two word entries `FReg(s2n)`/`FReg(s2n+1)` (its halves), used in place by the next f64
//!   operator (`add`..`div`, compares, `sqrt`, `vrint`, `abs`/`neg`, `promote`, conversions
//!   from i32; the others work on the core words); f32 `abs`/`neg` are `vabs`/`vneg` (bit
//!   operations, NaN payloads kept), `copysign` and soft f64 `abs`/`neg` bit operations on
//!   core words; compares leave a condition that is
//!   false for unordered operands (`ne` true); `min`/`max` follow wasm's NaN and signed-zero
//!   rules; `ceil`/`floor`/`trunc`/`nearest` are `vrint` on FPv5 and pure libcalls on FPv4
//!   (Cortex-M4F); conversions from and to i32 (trapping ones check NaN and range first);
//! * i64: constants, `add`/`sub` (`adds`/`adc`), bitwise, `mul` (`umull` + two `mla`), `eqz`,
//!   compares (`cmp`/`sbcs`, or `cmp hi; it eq; cmp lo`), `wrap`, the extensions; shifts,
//!   rotations, `clz`/`ctz`/`popcnt` inline (module `wide`); `div`/`rem` through pure libcalls
//!   after inline zero and overflow checks; f64 on double-precision FPUs (Cortex-M7/M55):
//!   arithmetic, `sqrt`, `min`/`max`, compares, `vrint` rounding, `abs`/`neg`/`copysign` on the
//!   high word, conversions from and to i32 and f32, `f64.convert_i64_s/u` as
//!   `hi * 2^32 + lo` (both terms exact: one rounding); f64 on single-precision FPUs
//!   (Cortex-M4F/M33) through the pure soft-float libcalls, except `abs`/`neg`/`copysign`,
//!   which stay bit operations; conversions between floats and i64 (`trunc`, `trunc_sat`,
//!   `convert`) through pure libcalls, the trapping ones after an inline NaN and range check
//!   on the float's bits;
//!   64-bit loads and stores as two `ldr`/`str` after one 8-byte bounds check (never `ldrd`:
//!   wasm addresses may be unaligned), narrow i64 loads and stores through the i32 ones;
//! * operators: constants, locals, `drop`, `select`, every i32 arithmetic, bit, shift, compare and
//!   division operator, `nop`, `unreachable`, `block`, `loop`, `if`, `else`, `end`, `br`,
//!   `br_if`, `br_table` (`tbh`; targets at most 128 KiB ahead), `return`;
//! * locals: the four most used (loop-weighted, counted by a pre-scan) get home registers
//!   r4, r5, r6, r9 for the whole function, the others frame slots; the value-stack cache uses
//!   the rest of r0-r6, r9, r11. An arithmetic operator, a load, `select` or `rotl` followed
//!   by `local.set`/`local.tee` of a homed local writes its result straight into the home
//!   register;
//! * fused operators (decided by peeking at the next operator's opcode byte): a shift or
//!   rotation by a constant followed by `add`/`sub`/`and`/`or`/`xor` is one instruction with a
//!   shifted-register operand, `i32.mul; i32.add` is `mla`; multiplications by `2^n`,
//!   `2^n + 1` and `2^n - 1` are a shift or a shifted add/subtract;
//! * direct calls to functions of the module (`bl`, recorded as call sites) and calls to
//!   imports through their `VMFuncRef` (restoring r10 from a frame slot and r7/r8 after);
//!   `call_indirect` (length, null and type checks with `udf` traps, the `VMFuncRef` parked in a
//!   frame slot while the arguments move, then called like an import);
//! * references and tables: `ref.null`, `ref.is_null`, `ref.func` (the `VMFuncRef` in our vmctx),
//!   `table.get`/`table.set`/`table.size` inline, `table.grow`/`fill`/`copy`/`init` and
//!   `elem.drop` through the libcall table;
//! * memory 0 (32-bit index): i32 loads and stores of every width and `memory.size`, with the
//!   explicit bounds checks of DESIGN.md section 8 against r8 (`length - bias`,
//!   [`memory_bound_bias`]) and addresses from r7, folded per local, for constant addresses
//!   and for `local + k` sums covered by a fact about a nearby sum of the local, one check
//!   for a window of loads through one local (against the furthest of them), none for an
//!   index bounded by how it was computed (`x & m`, ...); the hottest bound and base
//!   of a function in the derived registers lr and r11 (DESIGN.md section 8); `memory.grow` (of a defined or an imported memory 0)
//!   through the vmctx's libcall table, which reloads r8; `memory.fill`/`copy`/`init` and `data.drop` through the libcall table (AAPCS
//!   `u64` arguments in r2:r3 or 8-aligned stack words), a non-zero status passed to `Trap`;
//! * other memories (multi-memory, DESIGN.md section 8, "Other memories"): every load and store
//!   loads the memory's length and base from its `VMMemoryDefinition` (inline in the vmctx, or
//!   through the imported pointer) into one scratch pool register and checks exactly, with no
//!   folding; `memory.size`, `memory.grow` (which reloads r8 whatever memory grew),
//!   `memory.fill`/`init` and `memory.copy` between any two memories pass the memory index
//!   to the same libcalls;
//! * memory64 (DESIGN.md section 8, "Memory64"): the index is a word pair; a nonzero high word
//!   traps (`cmp hi, #0; bne trap`, nothing for a constant 0 or a local word already checked
//!   on every path since it was written, `checked_zero`), an `offset + size` above 2^31
//!   (any offset of 2^32 or more) traps unconditionally, and the low word then takes the
//!   32-bit check of its memory, memory 0's derived registers and folding included;
//!   `memory.size`/`grow` and the bulk operators take and return i64 where the index type
//!   says (a `memory.copy` between a 32-bit and a 64-bit memory has an i32 length);
//! * table64 (DESIGN.md section 8, "Table64"): tables and their libcalls are 32-bit, so an
//!   i64 index, destination, source or length of a 64-bit table has its high word checked to
//!   be 0 (else `TableOutOfBounds`, `UndefinedElement` for `call_indirect`) and its low word
//!   used; `table.size` pushes a 0 high word, `table.grow` answers -1 for a delta of 2^32 or
//!   more without calling and sign-extends the 32-bit answer (old sizes stay below 2^31);
//! * i32 and reference globals, defined (on the vmctx) or imported (through the definition
//!   pointer).
//!
//! # Invariants kept here (DESIGN.md section 3.2)
//!
//! 1. A pool register is held by at most one stack entry (the value stack tracks which).
//! 2. Spilling takes the oldest register entry, so everything below a spilled entry is spilled,
//!    constant or a lazy local read.
//! 3. Before a local is written, every lazy read of it on the stack is materialised.
//! 4. Only the top entry may be a condition still in the flags; `flags_live` tells every
//!    emitting helper that the flags must be preserved (between producing a condition and
//!    consuming it in `select`/`br_if`/`if`).
//! 5. r12 holds no entry, nor do s0-s15 (s0-s5 are the FP operators' scratch).
//! 6. At `block`/`loop`/`if` entry every entry below the frame is *settled* (spilled or
//!    constant); a label's results are in the join registers r0.., or all in its join slots
//!    when it has more than four words (section 3.4).
//! 7. An `FReg` entry holds one FP cache register of s16-s29 (an f32, or one half of an f64's
//!    double register), never an FP home; the FP pool
//!    spills its own oldest `FReg` entry (`vstr`), so invariant 2 holds per pool.
//! 8. An f32 local with an FP home lives only there; its lazy reads are materialised into an
//!    FP cache register (or spilled) before it is written.

mod stack;
#[cfg(test)]
mod tests;
mod wide;

use shared_types::metadata::{GlobalType, MemoryType, TableType};
use shared_types::vmoffsets::{MEMORY_BASE, MEMORY_LENGTH, VmOffsets};
use shared_types::{Libcall, TrapCode, ValType};
use wasmparser::{BlockType, FuncValidator, FunctionBody, Operator, ValidatorResources};

use self::stack::{Entry, JOIN, POOL, ValueStack};
use self::wide::BitCount;
use super::asm::{
    Addr, AsmError, Assembler, Cond, FReg, Flags, Label, Operand, Profile, Reg, RegList, Rounding,
    ShiftKind, Width,
};
use crate::error::{CompileError, Location};
use crate::link::Symbol;
use crate::module::fuel::{FuelBlocks, ends_block};
use crate::module::loops::{Counter, loop_counter};

/// Machine code of one function, before layout.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompiledFunction {
    /// The code; place it at a 4-aligned text offset.
    pub code: Vec<u8>,
    /// Trap sites: offset of the faulting (`udf`) instruction and its code.
    pub traps: Vec<(u32, TrapCode)>,
    /// `bl` sites for the module linker.
    pub calls: Vec<(u32, Symbol)>,
}

/// The types of the function being compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signature {
    /// Parameters.
    pub params: Vec<ValType>,
    /// Results.
    pub results: Vec<ValType>,
}

/// Bytes of frame (pushes included) a function may use without a stack-limit check when it
/// makes no call: the runtime keeps `stack_limit` at least 256 bytes above the real end of the
/// stack (DESIGN.md section 5).
const UNCHECKED_LEAF_FRAME: u32 = 64;

/// The `udf` immediate of a trap: `0x80 + code`. Small immediates are taken on Linux, where
/// the hosted runtime runs Thumb code under `qemu-arm`: `udf #1` is the kernel's Thumb
/// breakpoint (SIGTRAP), `udf #2` kgdb's, `udf #0xfe` its `BUG()`.
pub const TRAP_UDF_BASE: u8 = 0x80;

fn trap_immediate(code: TrapCode) -> u8 {
    TRAP_UDF_BASE + code.as_u8()
}

/// Offset of `VMStoreContext*` in the vmctx and of `stack_limit` in it (pointer size 4).
const STORE_CONTEXT: i32 = 0;
const STACK_LIMIT: i32 = 0;

/// What a function body may refer to in its module.
#[derive(Clone, Copy, Debug)]
pub struct ModuleContext<'a> {
    /// The signature of every function, imports first.
    pub functions: &'a [Signature],
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Every memory, imports first.
    pub memories: &'a [MemoryType],
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Every global's type, imports first.
    pub globals: &'a [GlobalType],
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// The vmctx layout (pointer size 4).
    pub offsets: &'a VmOffsets,
    /// Every type of the module's type section (for `call_indirect`).
    pub types: &'a [Signature],
    /// Every table, imports first.
    pub tables: &'a [TableType],
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Whether bodies pay for their fuel blocks (DESIGN.md section 13).
    pub fuel: bool,
    /// Whether bodies check the epoch deadline at entry and loop headers (section 13).
    pub epochs: bool,
}

/// What r8 holds for memory 0: `length - bias` (DESIGN.md section 8). The bias is 4 when the
/// memory's minimum length is at least 4 bytes (the runtime loads r8 with this function).
pub fn memory_bound_bias(memory: &MemoryType) -> u32 {
    if memory.min.saturating_mul(memory.page_size()) >= 4 {
        4
    } else {
        0
    }
}

/// Compiles the body of function `func_index` of `module`, validating it with `validator` as it
/// goes.
pub fn compile_function(
    profile: Profile,
    module: ModuleContext<'_>,
    func_index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
) -> Result<CompiledFunction, CompileError> {
    let signature =
        module
            .functions
            .get(func_index as usize)
            .ok_or_else(|| CompileError::Codegen {
                func_index,
                message: format!("function {func_index} has no signature"),
            })?;
    let mut compiler =
        FunctionCompiler::new(profile, module, func_index, signature, body.range().start)?;
    // Text is 1.0-1.8x the code it comes from: one allocation for most bodies.
    compiler.asm.reserve(2 * body.as_bytes().len());
    let mut locals = body.get_locals_reader().map_err(|e| compiler.invalid(&e))?;
    for _ in 0..locals.get_count() {
        let offset = locals.original_position();
        let (count, ty) = locals.read().map_err(|e| compiler.invalid(&e))?;
        validator
            .define_locals(offset, count, ty)
            .map_err(|e| compiler.invalid(&e))?;
        compiler.offset = offset;
        compiler.declare_locals(count, ty)?;
    }
    let mut operators = locals.get_binary_reader();
    operators.set_features(*validator.features());
    let (scan, decoded) = prescan(
        operators,
        compiler.local_base.len(),
        module.num_imported_funcs,
    );
    let local_weights = &scan.weights;
    // Where loop counters are in range (section 8), and the bases of the sums through them
    // that need no check.
    let scopes = counter_scopes(&decoded.ops);
    let min_length = module
        .memories
        .first()
        .map_or(0, |m| m.min.saturating_mul(m.page_size()));
    let sum_bases = counter_sum_bases(&decoded.ops, &scopes, min_length);
    let (leaves_instance, indirect) = (scan.leaves_instance, scan.indirect);
    // Fuel blocks (DESIGN.md section 13): the cursor is advanced at the entry and after every
    // block-ending operator, reachable or not; the entry's charge and epoch check come first in
    // the body, right after the prologue's stack check. Epoch-only code takes the check points
    // from it and ignores the costs.
    let mut fuel = if module.fuel || module.epochs {
        Some(FuelBlocks::from_operators(func_index, &decoded.ops)?)
    } else {
        None
    };
    let sites = instrumented_sites(&decoded.ops, fuel.as_ref());
    // The pinned registers: when they pay, charges and epoch checks no longer read the store
    // context, so only those without count for a derived one.
    let pinned_savings = pinned_savings(&scan, sites, module.fuel, module.epochs);
    let charges_read_store = module.fuel && pinned_savings[Pinned::Fuel as usize] == 0;
    let checks_read_store = module.epochs
        && (pinned_savings[Pinned::EpochCounter as usize] == 0
            || pinned_savings[Pinned::EpochDeadline as usize] == 0);
    for (derived, reg) in choose_derived(
        &scan,
        sites,
        &sum_bases,
        module.memories.first(),
        charges_read_store,
        checks_read_store,
    )
    .into_iter()
    .zip(DERIVED_REGISTERS)
    {
        if reg != Reg::LR {
            compiler.stack.reserve(reg);
        }
        compiler.derived.push((reg, derived));
    }
    let mut pinned_weights = pinned_savings;
    if compiler.derived.len() < DERIVED_REGISTERS.len()
        && let Some(best) = (0..PINNED_KINDS)
            .filter(|&k| pinned_weights[k] > 0)
            .max_by_key(|&k| (pinned_weights[k], std::cmp::Reverse(k)))
    {
        // r11 is free of a derived value: the pinned value that saves the most takes it from
        // the value-stack cache; the others compete with the locals for homes.
        compiler.stack.reserve(Reg::R11);
        compiler.pinned[best] = Some(Reg::R11);
        pinned_weights[best] = 0;
    }
    let mut weights = vec![0u64; compiler.locals];
    for (i, &w) in local_weights.iter().enumerate() {
        let base = compiler.local_base[i] as usize;
        let end = compiler
            .local_base
            .get(i + 1)
            .map_or(compiler.locals, |&b| b as usize);
        for word in &mut weights[base..end] {
            *word = w;
        }
    }
    compiler.assign_homes(&weights, pinned_weights);
    if leaves_instance {
        // A slot for the vmctx, to restore r10 after calls into other instances.
        compiler.vmctx_slot = Some(4 * compiler.slots);
        compiler.slots += 1;
    }
    if indirect {
        // A slot for the callee's `VMFuncRef` of a `call_indirect` while its arguments move.
        compiler.callee_slot = Some(4 * compiler.slots);
        compiler.slots += 1;
    }
    compiler.start_fuel_block(fuel.as_mut())?;
    // The operators as the pre-scan decoded them: the main pass reads them from there (and
    // peeks at the next one to fuse it) instead of decoding the body a second time.
    let Decoded {
        ops,
        error: decode_error,
        reader: end_reader,
    } = decoded;
    let total_ops = ops.len();
    let mut scopes = scopes.into_iter().peekable();
    let mut ops = ops.into_iter();
    while let Some((op, offset)) = ops.next() {
        // The loop counters in range at this operator (its index in the body).
        let at = total_ops - ops.len() - 1;
        compiler.counters.retain(|c| c.3 > at);
        while let Some(scope) = scopes.next_if(|scope| scope.from <= at) {
            if let Ok((word, 1)) = compiler.local_words(scope.counter.local) {
                let c = scope.counter;
                compiler.counters.push((word, c.low, c.width, scope.to));
            }
        }
        // `drop` and untyped `select` take their operand's type from the validator (read before
        // it pops them).
        compiler.operand_words = match op {
            Operator::Drop => validator.get_operand_type(0),
            Operator::Select => validator.get_operand_type(1),
            Operator::TypedSelect { ty } => Some(Some(ty)),
            _ => None,
        }
        .flatten()
        .and_then(parser_words)
        .unwrap_or(1);
        validator
            .op(offset, &op)
            .map_err(|e| compiler.invalid(&e))?;
        compiler.offset = offset;
        // Before any fusion below takes the next operator (a fused `local.set` of the load's own
        // local ends its window).
        compiler.window = None;
        // The window and constant bases live for the operators of their spans.
        compiler.advance_bases();
        compiler.const_plan = None;
        if compiler.reachable {
            compiler.plan_window(&op, ops.as_slice());
            compiler.plan_const_window(&op, ops.as_slice());
        }
        // `i32.const n; shift; add/sub/and/or/xor` and `i32.mul; i32.add`: the second operator
        // is compiled as part of the first (a shifted register operand, `mla`).
        if compiler.reachable {
            let shift_by_constant =
                matches!(
                    op,
                    Operator::I32Shl
                        | Operator::I32ShrU
                        | Operator::I32ShrS
                        | Operator::I32Rotr
                        | Operator::I32Rotl
                ) && matches!(compiler.stack.entries.last(), Some(Entry::Const(_)));
            let multiply = matches!(op, Operator::I32Mul);
            let binary = match ops.as_slice().first() {
                Some((Operator::I32Add, _)) if shift_by_constant || multiply => Some(Binary::Add),
                Some((Operator::I32Sub, _)) if shift_by_constant => Some(Binary::Sub),
                Some((Operator::I32And, _)) if shift_by_constant => Some(Binary::And),
                Some((Operator::I32Or, _)) if shift_by_constant => Some(Binary::Or),
                Some((Operator::I32Xor, _)) if shift_by_constant => Some(Binary::Xor),
                _ => None,
            };
            if let Some(binary) = binary
                && let Some((next, next_offset)) = ops.next()
            {
                validator
                    .op(next_offset, &next)
                    .map_err(|e| compiler.invalid(&e))?;
                if shift_by_constant {
                    compiler.shift_into = Some(binary);
                } else {
                    compiler.multiply_add = true;
                }
            }
        }
        // `op; local.set/tee i` with a home register for `i`: the result goes straight there.
        let f32_result = writes_f32_register(&op);
        if compiler.reachable
            && (writes_result_register(&op) || f32_result)
            && (compiler.operand_words == 1
                || !matches!(op, Operator::Select | Operator::TypedSelect { .. }))
            && let Some((
                next @ (Operator::LocalSet { local_index } | Operator::LocalTee { local_index }),
                next_offset,
            )) = ops.as_slice().first()
            && compiler.word_local(*local_index, 0).is_some()
            && if f32_result {
                compiler
                    .fhome(compiler.local_base[*local_index as usize])
                    .is_some()
            } else {
                compiler
                    .home(compiler.local_base[*local_index as usize])
                    .is_some()
            }
        {
            validator
                .op(*next_offset, next)
                .map_err(|e| compiler.invalid(&e))?;
            let tee = matches!(next, Operator::LocalTee { .. });
            compiler.fused_set = Some((compiler.local_base[*local_index as usize], tee));
            ops.next();
            compiler.flags_for_test = tee
                && matches!(
                    ops.as_slice().first(),
                    Some((Operator::BrIf { .. } | Operator::If { .. }, _))
                );
        }
        // A sum's origin survives only operators that push above it without emitting code
        // (`i32.add` replaces it; an access uses it, then it dies).
        if compiler.sum_origin.is_some()
            && !matches!(
                op,
                Operator::LocalGet { .. } | Operator::I32Const { .. } | Operator::I32Add
            )
            && memory_access(&op).is_none()
        {
            compiler.sum_origin = None;
        }
        // The flags describe a local only for the operator right after the one that set them.
        compiler.flags_local = compiler.pending_flags_local.take();
        // `local.get p; i32.const k; i32.add; <load>` in a window with a base for `p`: one
        // `ldr` from the base register (the `i32.add` and the load compiled together).
        let window_load =
            if compiler.reachable && matches!(op, Operator::I32Add) && compiler.fused_set.is_none()
            {
                ops.as_slice()
                    .first()
                    .and_then(|(next, _)| compiler.window_load_at(next))
            } else {
                None
            };
        // `local.get l; i32.const k; i32.add; <access>` that needs no check: the sum, its
        // address and the access in one `ldr`/`str` from a base register.
        let sum_fused = if window_load.is_none()
            && compiler.reachable
            && matches!(op, Operator::I32Add)
            && compiler.fused_set.is_none()
        {
            compiler.sum_access_plan(ops.as_slice())?
        } else {
            None
        };
        let mut bound = if window_load.is_some() || sum_fused.is_some() {
            sum_fused.and_then(|plan| match plan.width {
                Width::U8 if !plan.store => Some(0xFF),
                Width::U16 if !plan.store => Some(0xFFFF),
                _ => None,
            })
        } else {
            compiler.result_bound(&op)
        };
        if let Some(plan) = sum_fused {
            // The access (and a store's value) are compiled here: through the validator first.
            // The load, or the store's value (the store itself is taken after it).
            let first = take_operator(&mut compiler, validator, &mut ops)?;
            if plan.store {
                take_operator(&mut compiler, validator, &mut ops)?;
            }
            compiler.sum_origin = None;
            if !plan.store {
                fuse_local_set(&mut compiler, validator, &mut ops)?;
                if compiler.fused_set.is_some() {
                    // The result goes to the local, not to a stack entry.
                    bound = None;
                }
            }
            compiler.sum_access(plan, &first)?;
        } else if let Some((at, width)) = window_load {
            let next = take_operator(&mut compiler, validator, &mut ops)?;
            compiler.sum_origin = None;
            if i32_load(&next).is_some() {
                fuse_local_set(&mut compiler, validator, &mut ops)?;
            }
            compiler.window_load(at, width)?;
        } else {
            compiler.operator(&op)?;
        }
        compiler.bounded = match bound {
            Some(b) if compiler.reachable => Some((compiler.stack.len() - 1, b)),
            _ if matches!(op, Operator::LocalGet { .. } | Operator::I32Const { .. }) => {
                compiler.bounded
            }
            _ => None,
        };
        compiler.flags_local = None;
        compiler.flags_for_test = false;
        // A call with a long tail after it (`module::fuel`): a check of cost 0.
        if module.fuel && fuel.as_ref().is_some_and(|f| f.checks_after(&op)) {
            compiler.instrument(0, true, false)?;
        }
        // Operators fused above never end a fuel block (arithmetic, shifts, `local.set/tee`),
        // so `op` is the only one that can.
        if ends_block(&op) {
            compiler.start_fuel_block(fuel.as_mut())?;
        }
        if compiler.sum_origin.is_some() && memory_access(&op).is_some() {
            compiler.sum_origin = None;
        }
        if compiler.fused_set.is_some() || compiler.shift_into.is_some() || compiler.multiply_add {
            return Err(compiler.internal("fused operator not consumed"));
        }
    }
    if let Some(e) = decode_error {
        return Err(compiler.invalid(&e));
    }
    if fuel.as_ref().is_some_and(|f| !f.is_finished()) {
        return Err(compiler.internal("fuel blocks left unvisited"));
    }
    // The reader's and the validator's end-of-function checks.
    let end = end_reader.original_position();
    compiler.offset = end;
    end_reader.finish().map_err(|e| compiler.invalid(&e))?;
    end_reader
        .get_binary_reader()
        .finish_expression(&validator.visitor(end))
        .map_err(|e| compiler.invalid(&e))?;
    compiler.finish()
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FrameKind {
    /// The function body: its end label is the epilogue.
    Function,
    Block,
    Loop,
    /// An `if` whose `else` has not been seen; `else_label` is where the false path goes.
    If {
        else_label: Label,
    },
    Else,
}

#[derive(Clone, Debug)]
struct Frame {
    kind: FrameKind,
    /// Where a branch to this frame goes: the end, or a loop's header.
    branch_target: Label,
    /// The label after `end`.
    end: Label,
    /// Stack height below the frame's values.
    height: usize,
    results: usize,
    /// Parameter words (a loop's branch arity).
    params: usize,
    /// An `if`'s parameter entries at entry (settled: slots or constants), for the else path.
    entry_params: Vec<Entry>,
    /// Whether code was reachable when the frame was entered.
    reachable_at_entry: bool,
    /// Whether a branch targets `end`.
    branched_to: bool,
}

struct FunctionCompiler<'m> {
    profile: Profile,
    module: ModuleContext<'m>,
    /// Whether the function calls anything: then it saves `lr`, keeps `sp` 8-aligned and
    /// always checks the stack limit.
    makes_calls: bool,
    /// Bytes `sp` is currently below its value after the prologue (outgoing arguments of a
    /// call being set up); every `sp`-relative offset adds it.
    sp_adjust: u32,
    func_index: u32,
    offset: u64,
    asm: Assembler,
    stack: ValueStack,
    params: usize,
    results: usize,
    /// Number of local words (parameters first; i64 and f64 locals are two); each has a 4-byte
    /// slot or a home register.
    locals: usize,
    /// The first word of each wasm local.
    local_base: Vec<u32>,
    /// The home register of each local that has one (DESIGN.md section 3.5).
    homes: Vec<Option<Reg>>,
    /// Whether each local word is an f32 local (a candidate for an FP home).
    f32_local: Vec<bool>,
    /// Whether each local word is the low word of an f64 local (with the next word, a
    /// candidate for a double FP home on double-precision cores).
    f64_local: Vec<bool>,
    /// The FP home register (s16..) of each f32 local that has one (DESIGN.md section 3.5).
    fhomes: Vec<Option<FReg>>,
    /// Position slots ever written: the frame holds this many.
    spill_height: usize,
    /// Frame offset of each local without a home register.
    slot_of: Vec<u32>,
    /// Locals with a frame slot.
    slots: u32,
    /// Frame offset of the saved vmctx, when the body calls imports or `call_indirect`s.
    vmctx_slot: Option<u32>,
    /// Frame offset of the callee's `VMFuncRef` during a `call_indirect`.
    callee_slot: Option<u32>,
    /// Words of the operand of the `drop` or `select` being compiled.
    operand_words: usize,
    /// A `local.set`/`local.tee` (local, tee) fused into the operator being compiled: its
    /// result is written to the local's home register directly.
    fused_set: Option<(u32, bool)>,
    /// Checked facts (DESIGN.md section 8), on every path to here since their local was last
    /// written. Memories never shrink, so a fact dies only when its local is written or at a
    /// join.
    checked: Vec<Fact>,
    /// `(position, bound)`: the entry at `position` is at most `bound` (unsigned), by how it was
    /// computed (`x & m`, a shift by a constant, `load8_u`, ...; DESIGN.md section 8, "Bounded
    /// indices"). Kept while only `local.get`s and `i32.const`s push above it.
    bounded: Option<(usize, u32)>,
    /// The access window of the load being compiled (DESIGN.md section 8, "Access windows"):
    /// `(local, k, extent, below)` when its index is `local + k` and the loads of `local + k'`
    /// that follow in the same window end at most `extent` bytes past `local + k` and start at
    /// most `below` bytes before it.
    window: Option<(u32, u32, u64, u32)>,
    /// How many operators after the load being compiled its window holds (with `window`), and
    /// whether any of them may call a helper.
    window_span: (usize, bool),
    /// Set by [`Self::bounds_check`] when the load being compiled was checked for its window:
    /// `(local, k)` of its index `local + k`.
    window_checked: Option<(u32, u32)>,
    /// The window's base register (DESIGN.md section 8, "Window base"): `(local, k, rW,
    /// operators left)` with `rW = r7 + (local + k)` for the current value of the local; a
    /// pool register held without an entry until the window ends.
    window_base: Option<(u32, u32, Reg, usize)>,
    /// The constant base (DESIGN.md section 8, "Constant bases"): `(at, rC, operators left)`
    /// with `rC = r7 + at`, held like a window base for the operators of its span.
    const_base: Option<(u32, Reg, usize)>,
    /// Set for the load being compiled when it should start a constant base: `(at, span,
    /// calls)` from [`const_window`].
    const_plan: Option<(u32, usize, bool)>,
    /// The largest `address + c` checked for a constant address on every path to here.
    checked_constant: u64,
    /// Local words checked to be 0 on every path to here since they were last written: the
    /// high words of memory64 addresses (DESIGN.md section 8, "Memory64"). They die as
    /// `checked` facts do.
    checked_zero: Vec<u32>,
    /// Loop counters in range (DESIGN.md section 8, "Loop counters"): `(word, low, width,
    /// to)`: the local word's value is in `low ..= low + width` (mod 2^32) up to the body's
    /// operator `to` (its first write, or the loop's `end`), from its [`CounterScope`].
    counters: Vec<(u32, u32, u32, usize)>,
    /// A binary operator fused into the shift by a constant being compiled: the shift becomes
    /// its shifted-register right operand (`eor.w rd, rn, rm, lsr #8`).
    shift_into: Option<Binary>,
    /// An `i32.add` fused into the `i32.mul` being compiled: `mla`.
    multiply_add: bool,
    /// The operator being compiled is fused with a `local.tee` that a `br_if` or `if` follows:
    /// an `add`/`sub`/`and`/`or`/`xor` sets the flags, so the test needs no compare.
    flags_for_test: bool,
    /// Set by such an operator: the local whose value the flags' N and Z describe.
    pending_flags_local: Option<u32>,
    /// During the operator right after it (the `br_if` or `if`): that local.
    flags_local: Option<u32>,
    /// `(position, local, k)`: the entry at `position` is `local + k` (mod 2^32), computed by
    /// the last `i32.add` (or, with `k = 0`, the register a `local.tee` of a local without a
    /// home stored) with only `local.get`s and constants since (the compile loop clears it
    /// after any other operator), so neither the entry nor the local changed.
    sum_origin: Option<(usize, u32, u32)>,
    /// The derived registers (DESIGN.md section 8) and what they hold throughout the body,
    /// chosen by the pre-scan: `lr` first, then `r11` (taken out of the pool).
    derived: Vec<(Reg, Derived)>,
    /// The callee-saved registers that hold a [`Pinned`] value throughout the body, indexed by
    /// `Pinned as usize`, when the pre-scan chose them (DESIGN.md section 13, "pinned
    /// registers"): loaded in the prologue and reloaded after every call out that may change
    /// them; the fuel slice is also written back before those calls, every trap and the return.
    pinned: [Option<Reg>; PINNED_KINDS],
    control: Vec<Frame>,
    reachable: bool,
    /// Whether the flags hold a condition that must survive the next emitted instructions.
    flags_live: bool,
    /// One cold `udf` per trap code branched to: `(code, label)`.
    trap_labels: Vec<(TrapCode, Label)>,
    /// `udf`s in the body and the cold tail: body offset and code.
    traps: Vec<(u32, TrapCode)>,
    /// The out-of-line calls of fuel charges and epoch checks, emitted in the cold tail.
    slow_paths: Vec<SlowPath>,
    /// The shared cold `Trap(vmctx, r0)` of the slow paths, once one exists.
    status_trap: Option<Label>,
}

/// The out-of-line part of a fuel charge or an epoch check (DESIGN.md section 13): saves the
/// live argument registers, calls the libcall, traps on a non-zero status, restores and goes
/// back.
#[derive(Clone, Copy, Debug)]
struct SlowPath {
    /// Where the inline check branches to.
    label: Label,
    /// Where the path resumes, right after the branch.
    back: Label,
    /// `Libcall::OutOfFuel` (with the block's cost) or `Libcall::EpochDeadline`.
    libcall: Libcall,
    cost: u32,
    /// r0-r3 entries live across the check (padded with ip to an even count: `sp` stays
    /// 8-aligned at the call), possibly empty.
    saved: RegList,
    /// Whether ip must hold the store context again at `back` (an epoch check follows).
    reload_store_context: bool,
}

/// A value of the store context kept in a callee-saved register throughout a body (DESIGN.md
/// section 13, "pinned registers").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pinned {
    /// The fuel slice (`VMStoreContext::fuel`): charges are `subs` on it. Written back
    /// before calls out, traps and the return, reloaded after calls.
    Fuel = 0,
    /// The address of the epoch counter (`VMStoreContext::epoch_counter`).
    EpochCounter = 1,
    /// The deadline word (`VMStoreContext::epoch_deadline`): only the runtime and the host
    /// write it, so it is current after a reload following every call out.
    EpochDeadline = 2,
}

const PINNED_KINDS: usize = 3;

impl Pinned {
    const ALL: [Pinned; PINNED_KINDS] = [Pinned::Fuel, Pinned::EpochCounter, Pinned::EpochDeadline];

    /// Its word in the store context.
    fn offset(self, offsets: &VmOffsets) -> i32 {
        (match self {
            Pinned::Fuel => offsets.store_fuel(),
            Pinned::EpochCounter => offsets.store_epoch_counter(),
            Pinned::EpochDeadline => offsets.store_epoch_deadline(),
        }) as i32
    }
}

/// Where instrumented code reads the store context (DESIGN.md section 13), loop-weighted as
/// the pre-scan weighs operators: the starts of fuel blocks that charge something (`charges`)
/// and the check points (`checks`).
#[derive(Clone, Copy, Debug, Default)]
struct Sites {
    charges: u64,
    checks: u64,
}

/// The [`Sites`] of a body's fuel blocks; none without instrumentation.
fn instrumented_sites(ops: &[(Operator<'_>, u64)], blocks: Option<&FuelBlocks>) -> Sites {
    let mut sites = Sites::default();
    let Some(blocks) = blocks else {
        return sites;
    };
    let mut blocks = blocks.blocks().iter();
    let mut loops: Vec<bool> = Vec::new();
    let mut weigh = |sites: &mut Sites, depth: usize| {
        let weight = 1u64 << (3 * depth.min(3));
        let block = blocks.next().copied().unwrap_or_default();
        if block.cost > 0 {
            sites.charges += weight;
        }
        if block.check {
            sites.checks += weight;
        }
    };
    weigh(&mut sites, 0);
    for (op, _) in ops {
        match op {
            Operator::Loop { .. } => loops.push(true),
            Operator::Block { .. } | Operator::If { .. } => loops.push(false),
            Operator::End => {
                loops.pop();
            }
            _ => {}
        }
        // The next block starts inside a loop just entered, outside one just ended.
        if ends_block(op) {
            weigh(&mut sites, loops.iter().filter(|&&l| l).count());
        }
    }
    sites
}

/// The net loop-weighted saving of each pinned register, 0 when it does not pay: the fuel
/// register removes the `ldr` and `str` of every charge, each epoch register one load of every
/// check (both together also the store context's), against the reload after every call (two
/// instructions; the fuel register's write-back before it, two more) and saving the register.
fn pinned_savings(scan: &Prescan, sites: Sites, fuel: bool, epochs: bool) -> [u64; PINNED_KINDS] {
    let mut savings = [0; PINNED_KINDS];
    if fuel {
        savings[Pinned::Fuel as usize] = (2 * sites.charges).saturating_sub(4 * scan.calls + 2);
    }
    if epochs {
        let epoch = (3 * sites.checks / 2).saturating_sub(2 * scan.calls + 2);
        savings[Pinned::EpochCounter as usize] = epoch;
        savings[Pinned::EpochDeadline as usize] = epoch;
    }
    // A pinned register leaves the value-stack cache (r11, or a home register that a window
    // or constant base could otherwise take): only worth it when it saves at least one
    // instruction per iteration of the innermost loop, where the cache matters most. (Fuel
    // and epoch checks that a counted inner loop moved out to its entry do not.)
    savings.map(|s| if s < scan.innermost { 0 } else { s })
}

impl<'m> FunctionCompiler<'m> {
    fn new(
        profile: Profile,
        module: ModuleContext<'m>,
        func_index: u32,
        signature: &Signature,
        offset: u64,
    ) -> Result<FunctionCompiler<'m>, CompileError> {
        let mut asm = Assembler::new(profile);
        let epilogue = asm.new_label();
        let mut compiler = FunctionCompiler {
            profile,
            module,
            makes_calls: false,
            sp_adjust: 0,
            func_index,
            offset,
            asm,
            stack: ValueStack::default(),
            params: words_of(&signature.params).unwrap_or(0),
            results: words_of(&signature.results).unwrap_or(0),
            locals: words_of(&signature.params).unwrap_or(0),
            local_base: Vec::new(),
            homes: Vec::new(),
            f32_local: Vec::new(),
            f64_local: Vec::new(),
            fhomes: Vec::new(),
            spill_height: 0,
            slot_of: Vec::new(),
            slots: 0,
            vmctx_slot: None,
            callee_slot: None,
            operand_words: 1,
            fused_set: None,
            checked: Vec::new(),
            window: None,
            window_span: (0, false),
            window_checked: None,
            window_base: None,
            const_base: None,
            const_plan: None,
            bounded: None,
            checked_constant: 0,
            checked_zero: Vec::new(),
            counters: Vec::new(),
            derived: Vec::new(),
            pinned: [None; PINNED_KINDS],
            sum_origin: None,
            shift_into: None,
            multiply_add: false,
            flags_for_test: false,
            pending_flags_local: None,
            flags_local: None,
            control: Vec::new(),
            reachable: true,
            flags_live: false,
            trap_labels: Vec::new(),
            traps: Vec::new(),
            slow_paths: Vec::new(),
            status_trap: None,
        };
        if let Some(t) = signature
            .params
            .iter()
            .chain(&signature.results)
            .find(|t| words(**t).is_none())
        {
            return Err(compiler.unsupported(format!("{t:?} in a signature")));
        }
        let mut base = 0;
        for t in &signature.params {
            compiler.local_base.push(base);
            let n = words(*t).unwrap_or(1);
            base += n as u32;
            compiler
                .f32_local
                .extend(std::iter::repeat_n(*t == ValType::F32, n));
            compiler.f64_local.push(*t == ValType::F64);
            compiler.f64_local.extend(std::iter::repeat_n(false, n - 1));
        }
        compiler.control.push(Frame {
            kind: FrameKind::Function,
            branch_target: epilogue,
            end: epilogue,
            height: 0,
            results: compiler.results,
            params: 0,
            entry_params: Vec::new(),
            reachable_at_entry: true,
            branched_to: false,
        });
        Ok(compiler)
    }

    // ---- errors ----

    fn location(&self) -> Location {
        Location {
            func_index: Some(self.func_index),
            offset: usize::try_from(self.offset).unwrap_or(usize::MAX),
        }
    }

    fn invalid(&self, err: &wasmparser::BinaryReaderError) -> CompileError {
        CompileError::invalid(Some(self.func_index), err)
    }

    fn unsupported(&self, feature: impl Into<String>) -> CompileError {
        CompileError::Unsupported {
            location: self.location(),
            feature: format!("Thumb-2 backend: {}", feature.into()),
        }
    }

    fn internal(&self, message: impl Into<String>) -> CompileError {
        CompileError::Codegen {
            func_index: self.func_index,
            message: format!(
                "thumb code generator at offset {:#x}: {}",
                self.offset,
                message.into()
            ),
        }
    }

    fn asm_error(&self, err: AsmError) -> CompileError {
        self.internal(err.to_string())
    }

    /// Runs an assembler call, turning its error into a compile error.
    fn emit<T>(
        &mut self,
        f: impl FnOnce(&mut Assembler) -> Result<T, AsmError>,
    ) -> Result<T, CompileError> {
        f(&mut self.asm).map_err(|e| self.asm_error(e))
    }

    // ---- frame ----

    fn declare_locals(&mut self, count: u32, ty: wasmparser::ValType) -> Result<(), CompileError> {
        let Some(n) = parser_words(ty) else {
            return Err(self.unsupported(format!("{ty:?} locals")));
        };
        if self.locals + count as usize * n > 1 << 16 {
            return Err(CompileError::Limit(format!(
                "function {} has more than 65536 local words",
                self.func_index
            )));
        }
        for _ in 0..count {
            self.local_base.push(self.locals as u32);
            self.locals += n;
            self.f32_local
                .extend(std::iter::repeat_n(ty == wasmparser::ValType::F32, n));
            self.f64_local.push(ty == wasmparser::ValType::F64);
            self.f64_local.extend(std::iter::repeat_n(false, n - 1));
        }
        if self.locals > 1 << 16 {
            return Err(CompileError::Limit(format!(
                "function {} has more than 65536 locals",
                self.func_index
            )));
        }
        Ok(())
    }

    /// Gives the most used locals (by loop-weighted use count) home registers: at most four, low
    /// registers to the hottest, leaving r11 and r0-r3 to the value-stack cache. A parameter
    /// used at all qualifies (its home costs a `mov` from the argument register, a slot costs a
    /// store, a load and frame space); a declared local needs two uses (it also costs a zeroing).
    ///
    /// `pinned` holds the net savings of the pinned registers (section 13) not yet given r11:
    /// those above 0 compete with the locals for a home register on the same scale (a local's
    /// use saves about one instruction) and, among the four heaviest, take a home.
    fn assign_homes(&mut self, weights: &[u64], pinned: [u64; PINNED_KINDS]) {
        const HOMES: [Reg; 4] = [Reg::R4, Reg::R5, Reg::R6, Reg::R9];
        self.homes = vec![None; self.locals];
        let params = self.params;
        // Candidates: locals by index, pinned value `k` as `self.locals + k`.
        let locals = self.locals;
        let weight = |i: usize| {
            if i >= locals {
                pinned[i - locals]
            } else {
                weights[i]
            }
        };
        let qualifies = |i: usize| weights[i] >= if i < params { 1 } else { 2 };
        // f32 locals, and f64 locals on double-precision cores, compete for the FP homes only.
        let f32_local = self.f32_local.clone();
        let f64_local: Vec<bool> = if self.profile.has_double_precision() {
            self.f64_local.clone()
        } else {
            vec![false; self.locals]
        };
        let fp_word = |i: usize| f32_local[i] || f64_local[i] || (i > 0 && f64_local[i - 1]);
        let mut order: Vec<usize> = (0..self.locals)
            .filter(|&i| !fp_word(i) && qualifies(i))
            .chain(
                (0..PINNED_KINDS)
                    .filter(|&k| pinned[k] > 0)
                    .map(|k| locals + k),
            )
            .collect();
        // Stable: ties go to the lower index (parameters first, pinned values last).
        order.sort_by_key(|&i| std::cmp::Reverse(weight(i)));
        for (&candidate, &home) in order.iter().zip(&HOMES) {
            if candidate >= locals {
                self.pinned[candidate - locals] = Some(home);
            } else {
                self.homes[candidate] = Some(home);
            }
            self.stack.reserve(home);
        }
        // FP locals, the heaviest first, in s16..s16 + FP_HOMES (the rest of s16-s29 stays the
        // FP cache): an f32 local takes one free single, an f64 local (its low word `i`) the
        // two halves of a free double register, word `i` in the even one.
        self.fhomes = vec![None; self.locals];
        let mut fp_order: Vec<usize> = (0..self.locals)
            .filter(|&i| (f32_local[i] || f64_local[i]) && qualifies(i))
            .collect();
        fp_order.sort_by_key(|&i| std::cmp::Reverse(weights[i]));
        let mut taken = 0u32;
        for local in fp_order {
            let homes = 16u8..16 + FP_HOMES;
            if f64_local[local] {
                let Some(n) = homes.step_by(2).find(|n| taken & (3 << n) == 0) else {
                    continue;
                };
                taken |= 3 << n;
                for (w, half) in [(local, n), (local + 1, n + 1)] {
                    self.fhomes[w] = Some(FReg::S(half));
                    self.stack.reserve_fp(FReg::S(half));
                }
            } else if let Some(n) = homes.clone().find(|n| taken & (1 << n) == 0) {
                taken |= 1 << n;
                self.fhomes[local] = Some(FReg::S(n));
                self.stack.reserve_fp(FReg::S(n));
            }
        }
        let mut next = 0;
        self.slot_of = self
            .homes
            .iter()
            .zip(&self.fhomes)
            .map(|(home, fhome)| {
                let offset = 4 * next;
                next += u32::from(home.is_none() && fhome.is_none());
                offset
            })
            .collect();
        self.slots = next;
    }

    /// The first word and the word count of wasm local `index`.
    fn local_words(&self, index: u32) -> Result<(u32, u32), CompileError> {
        let base = *self
            .local_base
            .get(index as usize)
            .ok_or_else(|| self.internal(format!("no local {index}")))?;
        let end = self
            .local_base
            .get(index as usize + 1)
            .map_or(self.locals as u32, |&b| b);
        Ok((base, end - base))
    }

    /// Word `w` of wasm local `index`, if it exists.
    fn word_local(&self, index: u32, w: u32) -> Option<u32> {
        let (base, n) = self.local_words(index).ok()?;
        (w < n).then_some(base + w)
    }

    fn home(&self, index: u32) -> Option<Reg> {
        self.homes.get(index as usize).copied().flatten()
    }

    /// The FP home register of an f32 local, if it has one.
    fn fhome(&self, index: u32) -> Option<FReg> {
        self.fhomes.get(index as usize).copied().flatten()
    }

    /// `dst = local index`.
    fn read_local(&mut self, dst: Reg, index: u32) -> Result<(), CompileError> {
        if let Some(f) = self.fhome(index) {
            return self.emit(|a| a.vmov_from_s(dst, f));
        }
        match self.home(index) {
            Some(home) => {
                if home != dst {
                    self.emit(|a| a.mov(Flags::Preserve, dst, home))?;
                }
                Ok(())
            }
            None => {
                let offset = self.local_offset(index);
                self.emit(|a| a.ldr(Width::W32, dst, Addr::Offset(Reg::SP, offset)))
            }
        }
    }

    /// Bytes of local slots, rounded to 8 so position slots are 8-aligned.
    fn locals_size(&self) -> u32 {
        (4 * self.slots).next_multiple_of(8)
    }

    fn local_offset(&self, index: u32) -> i32 {
        (self.sp_adjust + self.slot_of[index as usize]) as i32
    }

    fn slot_offset(&self, position: usize) -> i32 {
        (self.sp_adjust + self.locals_size()) as i32 + 8 * position as i32
    }

    /// The flags behaviour emitting helpers may use.
    fn flags(&self) -> Flags {
        if self.flags_live {
            Flags::Preserve
        } else {
            Flags::Any
        }
    }

    // ---- the value stack ----

    fn push(&mut self, entry: Entry) {
        self.stack.push(entry);
    }

    /// Stores register entry `position` to its slot and frees the register.
    fn spill(&mut self, position: usize) -> Result<(), CompileError> {
        let offset = self.slot_offset(position);
        match self.stack.entries[position] {
            Entry::Reg(r) => {
                self.emit(|a| a.str(Width::W32, r, Addr::Offset(Reg::SP, offset)))?;
                self.stack.release(r);
            }
            Entry::FReg(f) => {
                self.emit(|a| a.vstr(f, Reg::SP, offset))?;
                self.stack.release_fp(f);
            }
            Entry::Local(index) if let Some(f) = self.fhome(index) => {
                self.emit(|a| a.vstr(f, Reg::SP, offset))?;
            }
            Entry::Local(index) => {
                let from = self.home(index).unwrap_or(Reg::R12);
                self.read_local(from, index)?;
                self.emit(|a| a.str(Width::W32, from, Addr::Offset(Reg::SP, offset)))?;
            }
            Entry::Cond(_) => {
                self.materialize_cond()?;
                return self.spill(position);
            }
            Entry::Const(_) | Entry::Spilled => return Ok(()),
        }
        self.stack.entries[position] = Entry::Spilled;
        self.spill_height = self.spill_height.max(position + 1);
        Ok(())
    }

    /// A free pool register, spilling the oldest register entry if none is free.
    fn allocate(&mut self) -> Result<Reg, CompileError> {
        loop {
            if let Some(r) = self.stack.take_free() {
                return Ok(r);
            }
            let Some(oldest) = self.stack.oldest_register_entry() else {
                // The window base's register is the last one to give up: the window's later
                // loads then compute their addresses as any other (their checks stay covered).
                if self.window_base.is_some() {
                    self.end_window_base();
                    continue;
                }
                if let Some((_, reg, _)) = self.const_base.take() {
                    self.stack.release(reg);
                    continue;
                }
                return Err(self.internal("no register to spill"));
            };
            self.spill(oldest)?;
        }
    }

    /// A free FP cache register, spilling the oldest FP register entry if none is free (the
    /// FP pool's own oldest-first rule, DESIGN.md section 3.2 invariant 2).
    fn allocate_fp(&mut self) -> Result<FReg, CompileError> {
        loop {
            if let Some(f) = self.stack.take_free_fp() {
                return Ok(f);
            }
            let oldest = self
                .stack
                .oldest_fp_entry()
                .ok_or_else(|| self.internal("no FP register to spill"))?;
            self.spill(oldest)?;
        }
    }

    /// A free double register of d8-d14, spilling the oldest FP register entries until one is
    /// free.
    fn allocate_dp(&mut self) -> Result<FReg, CompileError> {
        loop {
            if let Some(d) = self.stack.take_free_dp() {
                return Ok(d);
            }
            let oldest = self
                .stack
                .oldest_fp_entry()
                .ok_or_else(|| self.internal("no FP register pair to spill"))?;
            self.spill(oldest)?;
        }
    }

    /// Turns a condition on top of the stack into a 0/1 register value.
    fn materialize_cond(&mut self) -> Result<(), CompileError> {
        let Some(&Entry::Cond(cond)) = self.stack.entries.last() else {
            return Ok(());
        };
        // The flags are the value: keep them while allocating (a spill is a store).
        self.flags_live = true;
        let r = self.allocate()?;
        self.emit(|a| {
            a.it(cond, &[false])?;
            a.mov(Flags::Preserve, r, 1)?;
            a.mov(Flags::Preserve, r, 0)
        })?;
        self.flags_live = false;
        *self.stack.entries.last_mut().unwrap() = Entry::Reg(r);
        Ok(())
    }

    /// Loads `entry` (at `position`) into a register the caller owns afterwards.
    fn load(&mut self, entry: Entry, position: usize) -> Result<Reg, CompileError> {
        Ok(match entry {
            Entry::Reg(r) => r,
            Entry::FReg(f) => {
                // The word convention (DESIGN.md, "interim departure"): the bits to a core
                // register.
                let r = self.allocate()?;
                self.emit(|a| a.vmov_from_s(r, f))?;
                self.stack.release_fp(f);
                r
            }
            Entry::Const(value) => {
                let r = self.allocate()?;
                let flags = self.flags();
                self.emit(|a| a.mov(flags, r, value))?;
                r
            }
            Entry::Local(index) => {
                let r = self.allocate()?;
                self.read_local(r, index)?;
                r
            }
            Entry::Spilled => {
                let r = self.allocate()?;
                let offset = self.slot_offset(position);
                self.emit(|a| a.ldr(Width::W32, r, Addr::Offset(Reg::SP, offset)))?;
                r
            }
            Entry::Cond(_) => return Err(self.internal("condition below the top")),
        })
    }

    /// Pops the top entry into a register the caller owns (free it or push it).
    fn pop_reg(&mut self) -> Result<Reg, CompileError> {
        self.materialize_cond()?;
        let position = self.stack.len() - 1;
        // Keep the entry on the stack while loading, so a spill cannot take its position.
        let entry = self.stack.entries[position];
        if let Entry::Reg(_) = entry {
            self.stack.entries.pop();
            return self.load(entry, position);
        }
        self.stack.entries[position] = Entry::Spilled;
        let r = self.load(entry, position)?;
        self.stack.entries.pop();
        Ok(r)
    }

    /// Pops the top entry as an operand: a constant stays an immediate.
    fn pop_operand(&mut self) -> Result<Operand, CompileError> {
        match self.stack.entries.last() {
            Some(&Entry::Const(value)) => {
                self.stack.entries.pop();
                Ok(Operand::Imm(value))
            }
            Some(_) => Ok(Operand::Reg(self.pop_reg()?)),
            None => Err(self.internal("operand stack underflow")),
        }
    }

    /// Pops the top entry as a source operand: a constant stays an immediate when `immediate`,
    /// a local with a home register is read in place (borrowed, never written).
    fn pop_src(&mut self, immediate: bool) -> Result<Src, CompileError> {
        match self.stack.entries.last() {
            Some(&Entry::Const(value)) if immediate => {
                self.stack.entries.pop();
                Ok(Src::Imm(value))
            }
            Some(&Entry::Local(index)) if self.home(index).is_some() => {
                self.stack.entries.pop();
                Ok(Src::Home(self.home(index).unwrap()))
            }
            Some(_) => Ok(Src::Owned(self.pop_reg()?)),
            None => Err(self.internal("operand stack underflow")),
        }
    }

    /// The register a result goes to: the home of a fused `local.set`, an owned source's, else
    /// a new one.
    fn destination(&mut self, sources: &[Src]) -> Result<Reg, CompileError> {
        if let Some((local, _)) = self.fused_set {
            // Lazy reads of the old value still on the stack are taken first (invariant 3); the
            // sources were popped and the instruction reads them before it writes.
            self.materialize_local(local)?;
            self.forget_local(local);
            return self
                .home(local)
                .ok_or_else(|| self.internal("fused set without a home"));
        }
        match sources.iter().find_map(|s| match s {
            Src::Owned(r) => Some(*r),
            _ => None,
        }) {
            Some(r) => Ok(r),
            None => self.allocate(),
        }
    }

    /// Pushes the result of an operation that went through [`Self::destination`].
    fn push_result(&mut self, dst: Reg) {
        match self.fused_set.take() {
            Some((local, true)) => self.push(Entry::Local(local)),
            Some((_, false)) => {}
            None => self.push(Entry::Reg(dst)),
        }
    }

    /// Frees the owned sources except `keep`.
    fn release_sources(&mut self, sources: &[Src], keep: Reg) {
        for s in sources {
            if let Src::Owned(r) = s
                && *r != keep
            {
                self.stack.release(*r);
            }
        }
    }

    fn free_operand(&mut self, operand: Operand) {
        if let Operand::Reg(r) = operand {
            self.stack.release(r);
        }
    }

    /// Materialises every lazy read of local `index` (before the local is written).
    fn materialize_local(&mut self, index: u32) -> Result<(), CompileError> {
        for position in 0..self.stack.len() {
            if self.stack.entries[position] == Entry::Local(index) {
                if let Some(home) = self.fhome(index) {
                    match self.stack.take_free_fp() {
                        Some(f) => {
                            self.emit(|a| a.vmov(f, home))?;
                            self.stack.entries[position] = Entry::FReg(f);
                        }
                        None => self.spill(position)?,
                    }
                } else if let Some(r) = self.stack.take_free() {
                    self.read_local(r, index)?;
                    self.stack.entries[position] = Entry::Reg(r);
                } else {
                    self.spill(position)?;
                }
            }
        }
        Ok(())
    }

    /// Spills or keeps every entry so that none below the current height is in a register or
    /// a lazy local (a block boundary).
    fn settle(&mut self) -> Result<(), CompileError> {
        self.materialize_cond()?;
        for position in 0..self.stack.len() {
            if matches!(
                self.stack.entries[position],
                Entry::Reg(_) | Entry::FReg(_) | Entry::Local(_)
            ) {
                self.spill(position)?;
            }
        }
        Ok(())
    }

    /// Moves the top `count` entries into the join registers `JOIN[0..count]` (a parallel
    /// move), leaving them on the stack as register entries. Other holders of those registers
    /// are evacuated first. Preserves the flags (a pending condition is not among the values:
    /// the caller consumed it).
    fn place_results(&mut self, count: usize) -> Result<(), CompileError> {
        if count == 0 {
            return Ok(());
        }
        self.materialize_cond()?;
        let base = self.stack.len() - count;
        let targets = &JOIN[..count];
        // 1. Join registers held by entries that are not being placed move elsewhere.
        for &target in targets {
            if let Some(holder) = self.stack.holder(target)
                && holder < base
            {
                match self.stack.take_free_except(targets) {
                    Some(r) => {
                        self.emit(|a| a.mov(Flags::Preserve, r, target))?;
                        self.stack.entries[holder] = Entry::Reg(r);
                        self.stack.release(target);
                    }
                    None => self.spill(holder)?,
                }
            }
        }
        // 2. Register-to-register moves, never overwriting a pending source; a cycle parks one
        //    source in r12 (invariant 5: r12 holds no entry).
        let mut parked: Option<usize> = None;
        loop {
            let pending: Vec<(usize, Reg)> = (0..count)
                .filter(|&k| Some(k) != parked)
                .filter_map(|k| match self.stack.entries[base + k] {
                    Entry::Reg(r) if r != JOIN[k] => Some((k, r)),
                    _ => None,
                })
                .collect();
            if pending.is_empty() {
                break;
            }
            // Every holder of a join register is now a value being placed, so a target that is
            // held blocks its move until its holder has moved.
            let ready = pending
                .iter()
                .find(|(k, _)| self.stack.holder(JOIN[*k]).is_none())
                .copied();
            match ready {
                Some((k, source)) => {
                    self.emit(|a| a.mov(Flags::Preserve, JOIN[k], source))?;
                    self.stack.release(source);
                    self.stack.hold(JOIN[k]);
                    self.stack.entries[base + k] = Entry::Reg(JOIN[k]);
                }
                None if parked.is_none() => {
                    let (k, source) = pending[0];
                    self.emit(|a| a.mov(Flags::Preserve, Reg::R12, source))?;
                    self.stack.release(source);
                    parked = Some(k);
                }
                None => return Err(self.internal("two register cycles among four values")),
            }
        }
        if let Some(k) = parked {
            if self.stack.holder(JOIN[k]).is_some() {
                return Err(self.internal("join register still held after a cycle"));
            }
            self.emit(|a| a.mov(Flags::Preserve, JOIN[k], Reg::R12))?;
            self.stack.hold(JOIN[k]);
            self.stack.entries[base + k] = Entry::Reg(JOIN[k]);
        }
        // 3. Values not in registers are loaded straight into their (now free) join registers.
        let flags = self.flags();
        for (k, &target) in targets.iter().enumerate() {
            let offset = match self.stack.entries[base + k] {
                Entry::Reg(_) => continue,
                Entry::FReg(f) => {
                    self.stack.hold(target);
                    self.emit(|a| a.vmov_from_s(target, f))?;
                    self.stack.release_fp(f);
                    self.stack.entries[base + k] = Entry::Reg(target);
                    continue;
                }
                Entry::Const(value) => {
                    self.stack.hold(target);
                    self.emit(|a| a.mov(flags, target, value))?;
                    self.stack.entries[base + k] = Entry::Reg(target);
                    continue;
                }
                Entry::Local(index) => {
                    self.stack.hold(target);
                    self.read_local(target, index)?;
                    self.stack.entries[base + k] = Entry::Reg(target);
                    continue;
                }
                Entry::Spilled => self.slot_offset(base + k),
                Entry::Cond(_) => return Err(self.internal("condition among results")),
            };
            self.stack.hold(target);
            self.emit(|a| a.ldr(Width::W32, target, Addr::Offset(Reg::SP, offset)))?;
            self.stack.entries[base + k] = Entry::Reg(target);
        }
        Ok(())
    }

    /// Moves the top `count` words to the join locations of a label whose frame has base
    /// height `height` (DESIGN.md section 3.4): the join registers for up to four words, else
    /// the slots of positions `height..height + count`.
    fn place_join(&mut self, count: usize, height: usize) -> Result<(), CompileError> {
        if count > JOIN.len() {
            self.copy_to_slots(height, count)
        } else {
            self.place_results(count)
        }
    }

    /// Stores the top `count` words into the slots of positions `height..height + count`
    /// (`height` at most their own first position), leaving every entry as it was: only
    /// stores and r12 are used, so the flags survive, and the state stays valid for a path
    /// that does not take the branch being prepared. Ascending order is safe: the slot word
    /// `k` goes to is the source slot of a word below `k` only, which was already read.
    fn copy_to_slots(&mut self, height: usize, count: usize) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let base = self.stack.len() - count;
        let flags = self.flags();
        for k in 0..count {
            let (from, to) = (base + k, height + k);
            let target = Addr::Offset(Reg::SP, self.slot_offset(to));
            let word = match self.stack.entries[from] {
                Entry::Reg(r) => r,
                Entry::FReg(f) => {
                    let to = self.slot_offset(to);
                    self.emit(|a| a.vstr(f, Reg::SP, to))?;
                    continue;
                }
                Entry::Local(index) => match self.home(index) {
                    Some(home) => home,
                    None => {
                        self.read_local(Reg::R12, index)?;
                        Reg::R12
                    }
                },
                Entry::Const(value) => {
                    self.emit(|a| a.mov(flags, Reg::R12, value))?;
                    Reg::R12
                }
                Entry::Spilled if from == to => continue,
                Entry::Spilled => {
                    let source = Addr::Offset(Reg::SP, self.slot_offset(from));
                    self.emit(|a| a.ldr(Width::W32, Reg::R12, source))?;
                    Reg::R12
                }
                Entry::Cond(_) => return Err(self.internal("condition among join values")),
            };
            self.emit(|a| a.str(Width::W32, word, target))?;
        }
        self.spill_height = self.spill_height.max(height + count);
        Ok(())
    }

    /// Pushes the `count` values of a label just bound, in their join locations.
    fn push_join(&mut self, count: usize) {
        if count > JOIN.len() {
            for _ in 0..count {
                self.push(Entry::Spilled);
            }
            return;
        }
        for &join in &JOIN[..count] {
            self.stack.hold(join);
            self.push(Entry::Reg(join));
        }
    }

    /// Frees the register(s) an entry being dropped or overwritten holds.
    fn release_entry(&mut self, entry: Entry) {
        match entry {
            Entry::Reg(r) => self.stack.release(r),
            Entry::FReg(f) => self.stack.release_fp(f),
            _ => {}
        }
    }

    /// Drops entries down to `height`, freeing their registers.
    fn truncate(&mut self, height: usize) {
        while self.stack.len() > height {
            if let Some(entry) = self.stack.entries.pop() {
                self.release_entry(entry);
            }
        }
    }

    // ---- traps ----

    /// The cold `udf` label of `code` (created on first use).
    fn trap_label(&mut self, code: TrapCode) -> Label {
        if let Some(&(_, label)) = self.trap_labels.iter().find(|(c, _)| *c == code) {
            return label;
        }
        let label = self.asm.new_label();
        self.trap_labels.push((code, label));
        label
    }

    fn branch_to_trap(&mut self, cond: Cond, code: TrapCode) -> Result<(), CompileError> {
        let label = self.trap_label(code);
        self.emit(|a| a.b(cond, label))
    }

    // ---- fuel and epochs (DESIGN.md section 13) ----

    /// At the entry and after every operator that ends a fuel block: takes the next block
    /// from the cursor (always, so that it stays in step with the operators) and instruments
    /// its start: its charge with fuel, and at a check point the fuel and epoch checks.
    fn start_fuel_block(&mut self, blocks: Option<&mut FuelBlocks>) -> Result<(), CompileError> {
        let Some(block) = blocks.map(FuelBlocks::next_block) else {
            return Ok(());
        };
        let fuel = self.module.fuel;
        self.instrument(
            if fuel { block.cost } else { 0 },
            block.check && fuel,
            block.check && self.module.epochs,
        )
    }

    /// The start of a fuel block of `cost` (when `fuel_check`, a function entry or loop header
    /// that checks the fuel slice; when `epoch_check`, one that checks the epoch deadline):
    /// emits nothing in unreachable code or when there is nothing to do. Otherwise, with `sc`
    /// the store context (the derived register that holds it, else `ldr ip, [r10]` first) and
    /// `t` a free pool register:
    ///
    /// ```text
    ///     ldr  t, [sc, #fuel]           ; cost != 0 or fuel_check
    ///     subs t, t, #cost              ;   (`cmp t, #0` for cost 0)
    ///     str  t, [sc, #fuel]
    ///     bmi  fuel_slow                ; fuel_check: -> OutOfFuel(vmctx, cost), back to 1:
    /// 1:  ldr  t, [sc, #epoch_counter]  ; epoch_check
    ///     ldr  t, [t]
    ///     ldr  ip, [sc, #epoch_deadline]
    ///     cmp  t, ip
    ///     bpl  epoch_slow               ; -> EpochDeadline(vmctx), back to 2:
    /// 2:
    /// ```
    ///
    /// A block that is not a check point only subtracts its cost (`sub rF, rF, #cost` with the
    /// fuel register): the slice may go negative there, and the next check pays the debt.
    ///
    /// Entries keep their places: `t` is free (a spill to free one is an ordinary spill), the
    /// slow paths save the live ones of r0-r3 and every other register is callee-saved or
    /// recomputed (the derived registers). The flags are clobbered; no condition is pending at
    /// a block start (the operators that end blocks consume theirs), and one would be
    /// materialised first.
    fn instrument(
        &mut self,
        cost: u32,
        fuel_check: bool,
        epoch_check: bool,
    ) -> Result<(), CompileError> {
        // Something to do for the fuel slice: a charge, or the check of a check point.
        let fuel_op = cost > 0 || fuel_check;
        if !self.reachable || (!fuel_op && !epoch_check) {
            return Ok(());
        }
        self.materialize_cond()?;
        self.flags_live = false;
        self.makes_calls = true;
        let offsets = self.module.offsets;
        let fuel = offsets.store_fuel() as i32;
        let counter = offsets.store_epoch_counter() as i32;
        let deadline = offsets.store_epoch_deadline() as i32;
        // The pinned registers: a charge is `subs` and `bmi` on the fuel register, an epoch
        // check with both epoch registers `ldr ip, [counter]; cmp ip, deadline; bpl`. Neither
        // needs a pool register then.
        let in_register = self.pinned[Pinned::Fuel as usize];
        let counter_reg = self.pinned[Pinned::EpochCounter as usize];
        let deadline_reg = self.pinned[Pinned::EpochDeadline as usize];
        let check_reads_store = epoch_check && (counter_reg.is_none() || deadline_reg.is_none());
        let temp = if (fuel_op && in_register.is_none()) || (epoch_check && deadline_reg.is_none())
        {
            Some(self.allocate()?)
        } else {
            None
        };
        // A cost no `subs` immediate holds goes through a second register.
        let cost_reg = if cost > 255 {
            let r = self.allocate()?;
            self.emit(|a| a.mov(Flags::Any, r, cost))?;
            Some(r)
        } else {
            None
        };
        let mut saved = RegList::of(
            &JOIN
                .into_iter()
                .filter(|&r| {
                    Some(r) != temp && Some(r) != cost_reg && self.stack.holder(r).is_some()
                })
                .collect::<Vec<Reg>>(),
        );
        if saved.len() % 2 == 1 {
            saved.0 |= 1 << Reg::R12.num();
        }
        // The store context: a derived register when the pre-scan chose one, else ip (loaded
        // only when something here reads it).
        let sc = self.derived_reg(Derived::StoreContext).unwrap_or(Reg::R12);
        let reads_store = check_reads_store || (fuel_op && in_register.is_none());
        if sc == Reg::R12 && reads_store {
            self.emit(|a| a.ldr(Width::W32, sc, Addr::Offset(Reg::R10, STORE_CONTEXT)))?;
        }
        if fuel_op {
            // Only a check point sets the flags for its `bmi`.
            let flags = if fuel_check { Flags::Set } else { Flags::Any };
            self.emit(|a| {
                match in_register {
                    Some(f) => match (cost, cost_reg) {
                        (0, _) => a.cmp(f, 0u32)?,
                        (_, Some(r)) => a.sub(flags, f, f, r)?,
                        (_, None) => a.sub(flags, f, f, cost)?,
                    },
                    None => {
                        let t = temp.expect("a temporary without the fuel register");
                        a.ldr(Width::W32, t, Addr::Offset(sc, fuel))?;
                        match (cost, cost_reg) {
                            (0, _) => a.cmp(t, 0u32)?,
                            (_, Some(r)) => a.sub(flags, t, t, r)?,
                            (_, None) => a.sub(flags, t, t, cost)?,
                        }
                        if cost > 0 {
                            a.str(Width::W32, t, Addr::Offset(sc, fuel))?;
                        }
                    }
                }
                Ok(())
            })?;
        }
        if fuel_check {
            let label = self.asm.new_label();
            let back = self.asm.new_label();
            self.emit(|a| {
                a.b(Cond::Mi, label)?;
                a.bind(back)
            })?;
            self.slow_paths.push(SlowPath {
                label,
                back,
                libcall: Libcall::OutOfFuel,
                cost,
                saved,
                reload_store_context: check_reads_store && sc == Reg::R12,
            });
        }
        if let Some(r) = cost_reg {
            self.stack.release(r);
        }
        if epoch_check {
            let label = self.asm.new_label();
            let back = self.asm.new_label();
            // The counter's low word: in `temp`, or in ip when the deadline is in a register.
            let value = match deadline_reg {
                Some(_) => Reg::R12,
                None => temp.ok_or_else(|| self.internal("an epoch check without a register"))?,
            };
            self.emit(|a| {
                match counter_reg {
                    Some(c) => a.ldr(Width::W32, value, Addr::Offset(c, 0))?,
                    None => {
                        a.ldr(Width::W32, value, Addr::Offset(sc, counter))?;
                        a.ldr(Width::W32, value, Addr::Offset(value, 0))?;
                    }
                }
                match deadline_reg {
                    Some(d) => a.cmp(value, d)?,
                    None => {
                        a.ldr(Width::W32, Reg::R12, Addr::Offset(sc, deadline))?;
                        a.cmp(value, Reg::R12)?;
                    }
                }
                a.b(Cond::Pl, label)?;
                a.bind(back)
            })?;
            self.slow_paths.push(SlowPath {
                label,
                back,
                libcall: Libcall::EpochDeadline,
                cost: 0,
                saved,
                reload_store_context: false,
            });
        }
        if let Some(temp) = temp {
            self.stack.release(temp);
        }
        Ok(())
    }

    /// Writes the fuel register back to `VMStoreContext::fuel` (nothing without one): before
    /// every call that may read or change the slice, every trap and the return. Uses ip
    /// unless a derived register holds the store context; changes no flags.
    fn store_fuel(&mut self) -> Result<(), CompileError> {
        let Some(fuel) = self.pinned[Pinned::Fuel as usize] else {
            return Ok(());
        };
        let at = self.module.offsets.store_fuel() as i32;
        // Not `lr`: call sequences use it as a scratch before the call (`call_indirect`'s
        // checks, which branch to traps, and its callee), so it may not hold its value here.
        let sc = self
            .derived_reg(Derived::StoreContext)
            .filter(|&r| r != Reg::LR);
        self.emit(|a| store_fuel(a, fuel, sc, at))
    }

    /// Reloads the pinned registers (nothing without any): after every call
    /// [`Self::store_fuel`] came before, once the derived registers are back. Changes no
    /// flags.
    fn reload_pinned(&mut self) -> Result<(), CompileError> {
        let sc = self.derived_reg(Derived::StoreContext);
        let (pinned, offsets) = (self.pinned, self.module.offsets);
        self.emit(|a| load_pinned(a, pinned, sc, offsets))
    }

    /// The cold tail of the slow paths (after the epilogue).
    fn emit_slow_paths(&mut self) -> Result<(), CompileError> {
        let libcalls = self.module.offsets.libcalls() as i32;
        for path in std::mem::take(&mut self.slow_paths) {
            let status_trap = *self.status_trap.get_or_insert_with(|| self.asm.new_label());
            let entry = path.libcall.table_offset(4) as i32;
            self.emit(|a| {
                a.bind(path.label)?;
                if !path.saved.is_empty() {
                    a.push(path.saved)?;
                }
                Ok(())
            })?;
            // The libcall reads the slice (and may refill it, or change it while its fiber
            // is suspended).
            self.store_fuel()?;
            self.emit(|a| {
                a.mov(Flags::Any, Reg::R0, Reg::R10)?;
                if path.libcall == Libcall::OutOfFuel {
                    a.mov(Flags::Any, Reg::R1, path.cost)?;
                }
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, entry))?;
                a.blx(Reg::R12)?;
                a.cmp(Reg::R0, 0u32)?;
                a.b(Cond::Ne, status_trap)?;
                if !path.saved.is_empty() {
                    a.pop(path.saved)?;
                }
                Ok(())
            })?;
            // The call overwrote `lr` (and ip).
            self.restore_derived()?;
            self.reload_pinned()?;
            self.emit(|a| {
                if path.reload_store_context {
                    a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, STORE_CONTEXT))?;
                }
                a.b(Cond::Al, path.back)
            })?;
        }
        if let Some(label) = self.status_trap {
            // A non-zero status is a trap code: `Trap(vmctx, code)`, which does not return.
            let trap = Libcall::Trap.table_offset(4) as i32;
            self.emit(|a| {
                a.bind(label)?;
                a.mov(Flags::Any, Reg::R1, Reg::R0)?;
                a.mov(Flags::Any, Reg::R0, Reg::R10)?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, trap))?;
                a.blx(Reg::R12)
            })?;
        }
        Ok(())
    }

    // ---- linear memory (DESIGN.md section 8) ----

    /// Recomputes the derived register after a call (which overwrote `lr`) and after the
    /// instance registers were reloaded (DESIGN.md section 8). Changes no flags.
    fn restore_derived(&mut self) -> Result<(), CompileError> {
        for i in 0..self.derived.len() {
            let (reg, derived) = self.derived[i];
            self.emit(|a| derived.emit(a, reg))?;
        }
        Ok(())
    }

    /// The register holding `r7 + offset`, if one does (never for offset 0: that is r7).
    fn derived_base(&self, offset: u32) -> Option<Reg> {
        if offset == 0 {
            return None;
        }
        self.derived_reg(Derived::Base(offset))
    }

    /// The register holding `derived`, if one does.
    fn derived_reg(&self, derived: Derived) -> Option<Reg> {
        self.derived
            .iter()
            .find(|(_, d)| *d == derived)
            .map(|(r, _)| *r)
    }

    /// Memory `index` of the module (imports first), refusing GC array targets.
    fn memory_target(&self, target: wasmparser::MemArgTarget) -> Result<MemoryRef, CompileError> {
        match target {
            wasmparser::MemArgTarget::Memory(index) => self.memory(index),
            wasmparser::MemArgTarget::Array(_) => Err(self.unsupported("GC array access")),
        }
    }

    /// Memory `index` of the module (imports first): its type, and the bias of r8 for memory 0.
    fn memory(&self, index: u32) -> Result<MemoryRef, CompileError> {
        let ty = *self
            .module
            .memories
            .get(index as usize)
            .ok_or_else(|| self.internal(format!("no memory {index}")))?;
        Ok(MemoryRef {
            index,
            ty,
            bias: if index == 0 {
                memory_bound_bias(&ty)
            } else {
                0
            },
        })
    }

    /// Where the `VMMemoryDefinition` of `memory` is: `(vmctx offset, imported)`; an imported
    /// memory's offset holds a pointer to its definition.
    fn memory_definition(&self, memory: &MemoryRef) -> (i32, bool) {
        let offsets = self.module.offsets;
        let imported = self.module.num_imported_memories;
        if memory.index < imported {
            (offsets.imported_memory(memory.index) as i32, true)
        } else {
            (
                offsets.defined_memory(memory.index - imported) as i32,
                false,
            )
        }
    }

    /// Loads the word at `field` (`MEMORY_BASE`, or `MEMORY_LENGTH`: the low word of the u64
    /// length, which is the whole length on a 32-bit core) of `memory`'s definition into `dst`.
    fn load_memory_field(
        &mut self,
        memory: &MemoryRef,
        field: u32,
        dst: Reg,
    ) -> Result<(), CompileError> {
        let (at, imported) = self.memory_definition(memory);
        self.emit(|a| {
            if imported {
                a.ldr(Width::W32, dst, Addr::Offset(Reg::R10, at))?;
                a.ldr(Width::W32, dst, Addr::Offset(dst, field as i32))
            } else {
                a.ldr(Width::W32, dst, Addr::Offset(Reg::R10, at + field as i32))
            }
        })
    }

    /// Pops the index of an access to `memory`, with what it is known to be (for checked
    /// facts, memory 0 only; see [`Self::entry_local`]). A memory64 index is a pair: its high
    /// word must be 0 (an address of 2^32 or more is beyond any memory a 32-bit core holds, so
    /// it traps, never wraps), checked here; the low word is the index the 32-bit bounds
    /// check then sees.
    fn pop_index(&mut self, memory: &MemoryRef) -> Result<(Src, IndexOrigin), CompileError> {
        if memory.ty.index64 {
            self.pop_high_word(TrapCode::MemoryOutOfBounds)?;
        }
        let origin = if memory.index == 0 {
            IndexOrigin {
                local: self.entry_local(0),
                bound: self.entry_bound(0).filter(|_| !memory.ty.index64),
            }
        } else {
            IndexOrigin::default()
        };
        let index = self.pop_src(true)?;
        Ok((index, origin))
    }

    /// Pops the high word of a memory64 address or a table64 index, trapping with `code`
    /// unless it is 0: `cmp hi, #0; bne trap`, nothing for a constant 0 or for a local word in
    /// `checked_zero` (the fact is about the local's value, so it holds for any memory or
    /// table), an unconditional branch to the trap for another constant. A local word checked
    /// here joins `checked_zero`.
    fn pop_high_word(&mut self, code: TrapCode) -> Result<(), CompileError> {
        let high_local = match self.stack.entries.last() {
            Some(&Entry::Local(local)) => Some(local),
            _ => None,
        };
        if high_local.is_some_and(|l| self.checked_zero.contains(&l)) {
            // A lazy read: nothing to load, no register to free.
            self.stack.entries.pop();
            return Ok(());
        }
        let high = self.pop_src(true)?;
        match high {
            Src::Imm(0) => {}
            Src::Imm(_) => {
                let label = self.trap_label(code);
                self.emit(|a| a.b(Cond::Al, label))?;
            }
            Src::Owned(r) | Src::Home(r) => {
                self.emit(|a| a.cmp(r, 0u32))?;
                self.branch_to_trap(Cond::Ne, code)?;
                if let Some(local) = high_local {
                    self.checked_zero.push(local);
                }
            }
        }
        self.release_sources(&[high], Reg::R12);
        Ok(())
    }

    /// The bounds check and address of an access of `size` bytes at `index + offset` to a
    /// memory other than memory 0, which has no instance registers (DESIGN.md section 8,
    /// "Other memories"): the length and the base are loaded from the vmctx at each access (a
    /// call or `memory.grow` anywhere may change the length). Returns a register the caller
    /// owns and an immediate `at` (at most 4087, so `at + 4` still fits `ldr`'s 12 bits) with
    /// the access at `[reg, #at]`. Traps with `MemoryOutOfBounds`.
    fn other_memory_address(
        &mut self,
        memory: &MemoryRef,
        offset: u64,
        size: u32,
        index: Src,
    ) -> Result<(Reg, i32), CompileError> {
        const FOLDED: u64 = 4087;
        let code = TrapCode::MemoryOutOfBounds;
        let min_length = memory.ty.min.saturating_mul(memory.ty.page_size());
        let c = access_end(offset, size);
        let t = self.allocate()?;
        let total = match index {
            Src::Imm(k) => k as u64 + c,
            _ => c,
        };
        if total > 1 << 31 {
            // Beyond any Cortex-M memory (lengths stay below 2^31): traps when executed. What
            // follows is unreachable but stays well-formed.
            let label = self.trap_label(code);
            self.emit(|a| a.b(Cond::Al, label))?;
            return Ok((t, 0));
        }
        match index {
            Src::Imm(_) if total <= min_length => {}
            Src::Imm(_) => {
                // length >= k + c (a large constant goes through ip).
                self.load_memory_field(memory, MEMORY_LENGTH, t)?;
                self.emit(|a| a.cmp(t, total as u32))?;
                self.branch_to_trap(Cond::Lo, code)?;
            }
            Src::Owned(idx) | Src::Home(idx) => {
                self.load_memory_field(memory, MEMORY_LENGTH, t)?;
                if c <= min_length {
                    // length >= min_length >= c: length - c does not wrap.
                    self.emit(|a| {
                        a.sub(Flags::Any, t, t, c as u32)?;
                        a.cmp(idx, t)
                    })?;
                    self.branch_to_trap(Cond::Hi, code)?;
                } else {
                    // Exact for any length: t = length - idx (a borrow when idx is past it),
                    // then t >= c.
                    self.emit(|a| a.sub(Flags::Set, t, t, idx))?;
                    self.branch_to_trap(Cond::Lo, code)?;
                    self.emit(|a| a.cmp(t, c as u32))?;
                    self.branch_to_trap(Cond::Lo, code)?;
                }
            }
        }
        self.load_memory_field(memory, MEMORY_BASE, t)?;
        // In bounds: index + offset + size <= length < 2^31, so no sum below wraps.
        let at = match index {
            Src::Imm(k) => k as u64 + offset,
            Src::Owned(idx) | Src::Home(idx) => {
                self.emit(|a| a.add(Flags::Any, t, t, idx))?;
                offset
            }
        };
        if at <= FOLDED {
            return Ok((t, at as i32));
        }
        self.emit(|a| a.add(Flags::Any, t, t, at as u32))?;
        Ok((t, 0))
    }

    /// Checks that `index + offset + size <= length` for memory 0 (r8 = length - bias) and
    /// returns the address operand: the index register (to add to r7) or, for a constant index,
    /// `None` with the constant folded into the offset. Traps with `MemoryOutOfBounds`.
    /// `origin`: what the index is known to be (a local plus a constant, for checked facts and
    /// access windows; an upper bound).
    fn bounds_check(
        &mut self,
        memory: &MemoryRef,
        offset: u64,
        size: u32,
        index: Src,
        origin: IndexOrigin,
    ) -> Result<(), CompileError> {
        let (memory, bias) = (memory.ty, memory.bias);
        let min_length = memory.min.saturating_mul(memory.page_size());
        let mut c = access_end(offset, size);
        // A window's loads below the index: the check is of `index - below`, for `c + below`.
        let mut below = 0;
        // A bounded index: in bounds of the minimum length whatever its value.
        if origin
            .bound
            .is_some_and(|bound| u64::from(bound) + c <= min_length)
        {
            return Ok(());
        }
        // Folding: an earlier check on every path already covers this access.
        match (index, origin.local) {
            (Src::Imm(k), _) if k as u64 + c <= self.checked_constant => return Ok(()),
            (Src::Imm(k), _) if k as u64 + c <= 1 << 31 => {
                self.checked_constant = self.checked_constant.max(k as u64 + c);
            }
            (_, Some((local, k))) => {
                if self.checked.iter().any(|f| f.covers(local, k, c)) {
                    return Ok(());
                }
                // The load's window: one check for the loads of `local + k'` after it.
                if let Some((_, _, extent, lower)) =
                    self.window.filter(|&(l, w, _, _)| (l, w) == (local, k))
                    && !memory.index64
                    && matches!(index, Src::Owned(_) | Src::Home(_))
                    && c.max(extent) + u64::from(lower) <= 1 << 31
                {
                    below = lower;
                    c = c.max(extent) + u64::from(lower);
                    self.window_checked = Some((local, k));
                }
                if c <= 1 << 31 {
                    self.record_fact(Fact {
                        local,
                        low: k.wrapping_sub(below),
                        extent: c,
                    });
                    // A loop counter's range proves the fact: no code (memories never shrink).
                    if self
                        .counter_bound(local, k.wrapping_sub(below))
                        .is_some_and(|bound| u64::from(bound) + c <= min_length)
                    {
                        return Ok(());
                    }
                }
            }
            _ => {}
        }
        let code = TrapCode::MemoryOutOfBounds;
        if c > 1 << 31 {
            // Beyond any Cortex-M memory (lengths stay below 2^31): traps when executed.
            let label = self.trap_label(code);
            return self.emit(|a| a.b(Cond::Al, label));
        }
        match index {
            Src::Imm(k) => {
                let total = k as u64 + c;
                if total <= min_length {
                    return Ok(());
                }
                if total > 1 << 31 {
                    let label = self.trap_label(code);
                    return self.emit(|a| a.b(Cond::Al, label));
                }
                let limit = (total - bias as u64) as u32;
                self.emit(|a| a.cmp(Reg::R8, limit))?;
                self.branch_to_trap(Cond::Lo, code)
            }
            Src::Owned(index) | Src::Home(index) => {
                // `index - below` (mod 2^32): past the length when the lowest load's address
                // wraps (below <= 4095 < 2^32 - length).
                let lowest = if below > 0 {
                    let r = self.allocate()?;
                    self.emit(|a| a.sub(Flags::Any, r, index, below))?;
                    Some(r)
                } else {
                    None
                };
                let idx = lowest.unwrap_or(index);
                if bias == 4 && c as u32 == 4 {
                    self.emit(|a| a.cmp(idx, Reg::R8))?;
                } else if let Some(limit) = (bias == 4 && c <= min_length)
                    .then(|| self.derived_reg(Derived::Limit(c as u32)))
                    .flatten()
                {
                    self.emit(|a| a.cmp(idx, limit))?;
                } else if bias == 4 && c <= min_length {
                    // length >= min_length >= c: length - c does not wrap.
                    let c = c as u32;
                    self.emit(|a| {
                        if c > 4 {
                            a.sub(Flags::Any, Reg::R12, Reg::R8, c - 4)?;
                        } else {
                            a.add(Flags::Any, Reg::R12, Reg::R8, 4 - c)?;
                        }
                        a.cmp(idx, Reg::R12)
                    })?;
                } else {
                    // Exact for any length: ip = length - bias - idx (borrow when idx is past
                    // it), then ip >= c - bias.
                    let need = c as u32 - bias;
                    let limit = if super::asm::modified_immediate(need).is_some() {
                        Operand::Imm(need)
                    } else {
                        let r = self.allocate()?;
                        self.emit(|a| a.mov(Flags::Any, r, need))?;
                        Operand::Reg(r)
                    };
                    self.emit(|a| {
                        a.sub(Flags::Set, Reg::R12, Reg::R8, idx)?;
                        a.it(Cond::Hs, &[])?;
                        a.cmp(Reg::R12, limit)
                    })?;
                    self.free_operand(limit);
                    if let Some(r) = lowest {
                        self.stack.release(r);
                    }
                    return self.branch_to_trap(Cond::Lo, code);
                }
                if let Some(r) = lowest {
                    self.stack.release(r);
                }
                self.branch_to_trap(Cond::Hi, code)
            }
        }
    }

    /// The bound of the entry `depth` from the top, if [`Self::bounded`] describes it.
    fn entry_bound(&self, depth: usize) -> Option<u32> {
        let position = self.stack.len().checked_sub(depth + 1)?;
        if let Some(&Entry::Local(word)) = self.stack.entries.get(position)
            && let Some(bound) = self.counter_bound(word, 0)
        {
            return Some(bound);
        }
        self.bounded
            .filter(|&(p, _)| p == position)
            .map(|(_, bound)| bound)
    }

    /// The bound of the result `op` pushes, from what the operands on the stack are (before
    /// the operator is compiled): `x & m <= m`, `x >>u n <= 2^(32 - n) - 1`, `x << n` and
    /// `x + k` of a bounded `x` when they cannot wrap, `load8_u`, `load16_u`. `None` when the
    /// result goes to a local instead (a fused `local.set/tee`) or another operator is fused.
    fn result_bound(&self, op: &Operator<'_>) -> Option<u32> {
        if self.fused_set.is_some() || self.shift_into.is_some() || self.multiply_add {
            return None;
        }
        let constant = |depth: usize| match self.stack.len().checked_sub(depth + 1) {
            Some(p) => match self.stack.entries[p] {
                Entry::Const(k) => Some(k),
                _ => None,
            },
            None => None,
        };
        let bound = |depth: usize| constant(depth).or_else(|| self.entry_bound(depth));
        match *op {
            Operator::I32Load8U { .. } => Some(0xFF),
            Operator::I32Load16U { .. } => Some(0xFFFF),
            Operator::I32And => match (bound(1), bound(0)) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            Operator::I32ShrU => {
                let n = constant(0)? & 31;
                Some(bound(1).unwrap_or(u32::MAX) >> n)
            }
            Operator::I32Shl => {
                let n = constant(0)? & 31;
                u32::try_from(u64::from(bound(1)?) << n).ok()
            }
            Operator::I32Add => {
                let (a, b) = (bound(1)?, bound(0)?);
                a.checked_add(b)
            }
            _ => None,
        }
    }

    /// What a stack entry (`depth` from the top) is known to be: `(local, 0)` when it lazily
    /// reads a local, `(local, k)` when it is the sum `local + k` computed by the `i32.add`
    /// that [`Self::sum_origin`] describes.
    fn entry_local(&self, depth: usize) -> Option<(u32, u32)> {
        let position = self.stack.len().checked_sub(depth + 1)?;
        match self.stack.entries.get(position) {
            Some(&Entry::Local(index)) => Some((index, 0)),
            Some(_) => match self.sum_origin {
                Some((p, local, k)) if p == position => Some((local, k)),
                _ => None,
            },
            None => None,
        }
    }

    fn load_memory(
        &mut self,
        memarg: wasmparser::MemArg,
        width: Width,
    ) -> Result<(), CompileError> {
        let memory = self.memory_target(memarg.target)?;
        let (index, index_local) = self.pop_index(&memory)?;
        if memory.index != 0 {
            let (base, at) =
                self.other_memory_address(&memory, memarg.offset, width.bytes(), index)?;
            let sources = [index, Src::Owned(base)];
            let dst = self.destination(&sources)?;
            self.emit(|a| a.ldr(width, dst, Addr::Offset(base, at)))?;
            self.release_sources(&sources, dst);
            self.push_result(dst);
            return Ok(());
        }
        self.window_checked = None;
        self.bounds_check(&memory, memarg.offset, width.bytes(), index, index_local)?;
        let dst = self.destination(&[index])?;
        let offset = memarg.offset as u32;
        // The first load of a window: its address becomes the window's base register.
        if let (Some((local, k)), Src::Owned(idx) | Src::Home(idx)) =
            (self.window_checked.take(), index)
            && offset <= 4095
            && self.window_span.0 > 0
            && self.window_base.is_none()
            && let Some(base) = self.take_window_register(&[dst, idx], self.window_span.1)
        {
            self.emit(|a| {
                a.add(Flags::Any, base, Reg::R7, idx)?;
                a.ldr(width, dst, Addr::Offset(base, offset as i32))
            })?;
            self.window_base = Some((local, k, base, self.window_span.0));
            self.release_sources(&[index], dst);
            self.push_result(dst);
            return Ok(());
        }
        // A constant address from the constant base, or the first of a constant window.
        if let Src::Imm(k) = index
            && let Ok(at) = u32::try_from(u64::from(k) + u64::from(offset))
        {
            if let Some(d) = self.const_base_offset(at) {
                let (_, base, _) = self.const_base.unwrap_or((0, Reg::R7, 0));
                self.emit(|a| a.ldr(width, dst, Addr::Offset(base, d)))?;
                self.push_result(dst);
                return Ok(());
            }
            if let Some((planned, span, calls)) = self.const_plan.take()
                && planned == at
                && let Some(base) = self.take_base_register(&[dst], calls, true)
            {
                self.emit(|a| {
                    a.mov(Flags::Any, base, at)?;
                    a.add(Flags::Any, base, base, Reg::R7)?;
                    a.ldr(width, dst, Addr::Offset(base, 0))
                })?;
                self.const_base = Some((at, base, span));
                self.push_result(dst);
                return Ok(());
            }
        }
        let derived_base = self.derived_base(offset);
        self.emit(|a| match (index, derived_base) {
            (Src::Imm(k), Some(base)) if k <= 4095 => {
                a.ldr(width, dst, Addr::Offset(base, k as i32))
            }
            (Src::Owned(idx) | Src::Home(idx), Some(base)) => {
                a.ldr(width, dst, Addr::Indexed(base, idx, 0))
            }
            (index, _) => match index {
                Src::Imm(k) => {
                    let at = k.wrapping_add(offset);
                    if at <= 4095 {
                        a.ldr(width, dst, Addr::Offset(Reg::R7, at as i32))
                    } else {
                        a.mov(Flags::Any, dst, at)?;
                        a.ldr(width, dst, Addr::Indexed(Reg::R7, dst, 0))
                    }
                }
                Src::Owned(idx) | Src::Home(idx) => {
                    if offset == 0 {
                        a.ldr(width, dst, Addr::Indexed(Reg::R7, idx, 0))
                    } else {
                        a.add(Flags::Any, dst, Reg::R7, idx)?;
                        a.ldr(width, dst, Addr::Offset(dst, offset as i32))
                    }
                }
            },
        })?;
        self.release_sources(&[index], dst);
        self.push_result(dst);
        Ok(())
    }

    fn store_memory(
        &mut self,
        memarg: wasmparser::MemArg,
        width: Width,
    ) -> Result<(), CompileError> {
        let memory = self.memory_target(memarg.target)?;
        let value = self.pop_src(false)?;
        let (index, index_local) = self.pop_index(&memory)?;
        let Operand::Reg(v) = value.operand() else {
            return Err(self.internal("immediate stored value"));
        };
        if memory.index != 0 {
            let (base, at) =
                self.other_memory_address(&memory, memarg.offset, width.bytes(), index)?;
            self.emit(|a| a.str(width, v, Addr::Offset(base, at)))?;
            self.release_sources(&[value, index, Src::Owned(base)], Reg::R12);
            return Ok(());
        }
        self.bounds_check(&memory, memarg.offset, width.bytes(), index, index_local)?;
        let offset = memarg.offset as u32;
        let derived_base = self.derived_base(offset);
        let from_const_base = match index {
            Src::Imm(k) => u32::try_from(u64::from(k) + u64::from(offset))
                .ok()
                .and_then(|at| self.const_base_offset(at)),
            _ => None,
        };
        match index {
            Src::Imm(_) if from_const_base.is_some() => {
                let (_, base, _) = self.const_base.unwrap_or((0, Reg::R7, 0));
                let d = from_const_base.unwrap_or(0);
                self.emit(|a| a.str(width, v, Addr::Offset(base, d)))?;
            }
            Src::Imm(k) if derived_base.is_some() && k <= 4095 => {
                let base = derived_base.unwrap();
                self.emit(|a| a.str(width, v, Addr::Offset(base, k as i32)))?;
            }
            Src::Owned(idx) | Src::Home(idx) if derived_base.is_some() => {
                let base = derived_base.unwrap();
                self.emit(|a| a.str(width, v, Addr::Indexed(base, idx, 0)))?;
            }
            Src::Imm(k) => {
                let at = k.wrapping_add(offset);
                self.emit(|a| {
                    if at <= 4095 {
                        a.str(width, v, Addr::Offset(Reg::R7, at as i32))
                    } else {
                        a.mov(Flags::Any, Reg::R12, at)?;
                        a.str(width, v, Addr::Indexed(Reg::R7, Reg::R12, 0))
                    }
                })?;
            }
            Src::Owned(idx) | Src::Home(idx) => {
                if offset == 0 {
                    self.emit(|a| a.str(width, v, Addr::Indexed(Reg::R7, idx, 0)))?;
                } else if offset <= 4095 {
                    self.emit(|a| {
                        a.add(Flags::Any, Reg::R12, Reg::R7, idx)?;
                        a.str(width, v, Addr::Offset(Reg::R12, offset as i32))
                    })?;
                } else {
                    // The store's own offset fallback needs r12: the base goes elsewhere.
                    let base = self.allocate()?;
                    self.emit(|a| {
                        a.add(Flags::Any, base, Reg::R7, idx)?;
                        a.str(width, v, Addr::Offset(base, offset as i32))
                    })?;
                    self.stack.release(base);
                }
            }
        }
        self.release_sources(&[value, index], Reg::R12);
        Ok(())
    }

    /// Where global `index` is: `(vmctx offset, imported)`; an imported global's offset holds a
    /// pointer to its definition.
    fn global(&self, index: u32) -> Result<i32, CompileError> {
        let ty = self
            .module
            .globals
            .get(index as usize)
            .ok_or_else(|| self.internal(format!("no global {index}")))?;
        if ValType::from_code(ty.ty).is_none_or(|t| words(t).is_none()) {
            return Err(self.unsupported("v128 globals"));
        }
        if index < self.module.num_imported_globals {
            return Ok(-(self.module.offsets.imported_global(index) as i32) - 1);
        }
        let offset = self
            .module
            .offsets
            .defined_global(index - self.module.num_imported_globals);
        Ok(offset as i32)
    }

    /// The address of global `index` as `[base, #offset]`: the vmctx for a defined global, r12
    /// (loaded with the definition pointer) for an imported one.
    fn global_address(&mut self, index: u32) -> Result<Addr, CompileError> {
        let at = self.global(index)?;
        if at >= 0 {
            return Ok(Addr::Offset(Reg::R10, at));
        }
        let pointer = -(at + 1);
        self.emit(|a| a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, pointer)))?;
        Ok(Addr::Offset(Reg::R12, 0))
    }

    /// Words of global `index`.
    fn global_words(&self, index: u32) -> usize {
        self.module
            .globals
            .get(index as usize)
            .and_then(|g| ValType::from_code(g.ty))
            .and_then(words)
            .unwrap_or(1)
    }

    fn global_get(&mut self, index: u32) -> Result<(), CompileError> {
        let n = self.global_words(index);
        let mut regs = Vec::with_capacity(n);
        for _ in 0..n {
            regs.push(self.allocate()?);
        }
        let Addr::Offset(base, at) = self.global_address(index)? else {
            return Err(self.internal("global address"));
        };
        for (w, &r) in regs.iter().enumerate() {
            self.emit(|a| a.ldr(Width::W32, r, Addr::Offset(base, at + 4 * w as i32)))?;
            self.push(Entry::Reg(r));
        }
        Ok(())
    }

    fn global_set(&mut self, index: u32) -> Result<(), CompileError> {
        let n = self.global_words(index);
        let mut values = Vec::with_capacity(n);
        for _ in 0..n {
            values.push(self.pop_src(false)?);
        }
        values.reverse();
        let Addr::Offset(base, at) = self.global_address(index)? else {
            return Err(self.internal("global address"));
        };
        for (w, value) in values.iter().enumerate() {
            let Operand::Reg(v) = value.operand() else {
                return Err(self.internal("immediate global value"));
            };
            self.emit(|a| a.str(Width::W32, v, Addr::Offset(base, at + 4 * w as i32)))?;
        }
        self.release_sources(&values, Reg::R12);
        Ok(())
    }

    /// Moves values below the top `arguments` entries out of r0-r3 (into free callee-saved
    /// registers, else their slots): a call clobbers r0-r3.
    fn save_caller_saved(&mut self, arguments: usize) -> Result<(), CompileError> {
        let below = self.stack.len() - arguments;
        for position in 0..below {
            if let Entry::Reg(r) = self.stack.entries[position]
                && JOIN.contains(&r)
            {
                match self.stack.take_free_except(&JOIN) {
                    Some(to) => {
                        self.emit(|a| a.mov(Flags::Any, to, r))?;
                        self.stack.entries[position] = Entry::Reg(to);
                        self.stack.release(r);
                    }
                    None => self.spill(position)?,
                }
            }
        }
        Ok(())
    }

    /// `memory.grow` through the `MemoryGrow` libcall (DESIGN.md section 6.2):
    /// `(vmctx, mem: u32, delta_pages: u64) -> u64` in AAPCS registers (r0, r1, r2:r3 -> r0:r1),
    /// then r8 is reloaded from memory 0's new length (whichever memory grew: an imported
    /// memory may be memory 0 under another index too). The delta and the result are an i32
    /// (the low words) for a 32-bit memory, an i64 pair for a 64-bit one.
    fn memory_grow(&mut self, mem: u32) -> Result<(), CompileError> {
        let memory = self.memory(mem)?;
        let memory0 = self.memory(0)?;
        let wide = memory.ty.index64;
        self.makes_calls = true;
        self.save_caller_saved(if wide { 2 } else { 1 })?;
        // The delta goes to r2 (low word of the u64) and r3; everything else is fixed.
        let delta_high = if wide {
            Some(self.pop_src(true)?)
        } else {
            None
        };
        let delta = self.pop_src(true)?;
        for r in [Reg::R0, Reg::R1, Reg::R2, Reg::R3] {
            if self.stack.holder(r).is_some() {
                return Err(self.internal("argument register still held"));
            }
        }
        let libcalls = self.module.offsets.libcalls() as i32;
        let entry = Libcall::MemoryGrow.table_offset(4) as i32;
        let (definition, imported) = self.memory_definition(&memory0);
        let bias = memory0.bias;
        match delta_high {
            None => self.emit(|a| match delta.operand() {
                Operand::Reg(r) => a.mov(Flags::Any, Reg::R2, r),
                Operand::Imm(v) => a.mov(Flags::Any, Reg::R2, v),
                Operand::Shifted(..) => unreachable!("sources are registers or immediates"),
            })?,
            Some(high) => {
                self.parallel_move(vec![(Reg::R2, delta.operand()), (Reg::R3, high.operand())])?
            }
        }
        self.store_fuel()?;
        self.emit(|a| {
            a.mov(Flags::Any, Reg::R0, Reg::R10)?;
            a.mov(Flags::Any, Reg::R1, mem)?;
            if !wide {
                a.mov(Flags::Any, Reg::R3, 0)?;
            }
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, entry))?;
            a.blx(Reg::R12)?;
            // The instance register follows the new length (an imported memory's definition is
            // behind a pointer; its base never moves).
            if imported {
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, definition))?;
                a.ldr(
                    Width::W32,
                    Reg::R8,
                    Addr::Offset(Reg::R12, MEMORY_LENGTH as i32),
                )?;
            } else {
                a.ldr(
                    Width::W32,
                    Reg::R8,
                    Addr::Offset(Reg::R10, definition + MEMORY_LENGTH as i32),
                )?;
            }
            if bias > 0 {
                a.sub(Flags::Any, Reg::R8, Reg::R8, bias)?;
            }
            Ok(())
        })?;
        self.restore_derived()?;
        self.reload_pinned()?;
        self.release_sources(&[delta], Reg::R12);
        if let Some(high) = delta_high {
            self.release_sources(&[high], Reg::R12);
        }
        // The old size in pages, or -1: the low word of the u64, or all of it.
        self.stack.hold(Reg::R0);
        self.push(Entry::Reg(Reg::R0));
        if wide {
            self.stack.hold(Reg::R1);
            self.push(Entry::Reg(Reg::R1));
        }
        Ok(())
    }

    /// Moves each `(to, from)` at once (no move overwrites a source another still reads; a
    /// cycle goes through r12).
    fn parallel_move(&mut self, moves: Vec<(Reg, Operand)>) -> Result<(), CompileError> {
        let mut moves: Vec<(Reg, Operand)> = moves
            .into_iter()
            .filter(|&(to, from)| from != Operand::Reg(to))
            .collect();
        while !moves.is_empty() {
            // A move whose target no other pending move still reads.
            let ready = (0..moves.len()).find(|&i| {
                let to = moves[i].0;
                moves
                    .iter()
                    .enumerate()
                    .all(|(j, &(_, from))| j == i || from != Operand::Reg(to))
            });
            match ready {
                Some(i) => {
                    let (to, from) = moves.remove(i);
                    self.emit(|a| a.mov(Flags::Any, to, from))?;
                }
                None => {
                    let (_, from) = moves[0];
                    self.emit(|a| a.mov(Flags::Any, Reg::R12, from))?;
                    moves[0].1 = Operand::Reg(Reg::R12);
                }
            }
        }
        Ok(())
    }

    /// A bulk-memory libcall (DESIGN.md section 6.2): pops one i32 operand per entry of
    /// `operands` (bottom first) into its AAPCS word (a [`Word::HighZero`] is not passed: the
    /// high word of a narrowed table64 operand, checked to be 0 before anything else), writes
    /// `constants` (other arguments and the high words of `u64` ones), puts the vmctx in r0, calls through the libcall table and,
    /// when the helper returns a status (`checked`), passes a non-zero one to `Trap`. Operands
    /// going to registers are placed by a parallel move (a cycle goes through r12).
    fn bulk_libcall(
        &mut self,
        libcall: Libcall,
        operands: &[Word],
        constants: &[(Word, u32)],
        outgoing: u32,
        checked: bool,
    ) -> Result<(), CompileError> {
        self.makes_calls = true;
        self.save_caller_saved(operands.len())?;
        let mut sources = Vec::with_capacity(operands.len());
        for _ in operands {
            sources.push(self.pop_src(true)?);
        }
        sources.reverse();
        for (&source, &word) in sources.iter().zip(operands) {
            if let Word::HighZero(code) = word {
                self.check_zero(source, code)?;
            }
        }
        if outgoing > 0 {
            self.emit(|a| a.sub(Flags::Any, Reg::SP, Reg::SP, outgoing))?;
            self.sp_adjust = outgoing;
        }
        // Stack words first (their sources may be in r0-r3), then the register operand, then
        // constants into registers.
        for (&source, &word) in sources.iter().zip(operands) {
            if let Word::Stack(at) = word {
                self.emit(|a| {
                    let r = match source {
                        Src::Owned(r) | Src::Home(r) => r,
                        Src::Imm(v) => {
                            a.mov(Flags::Any, Reg::R12, v)?;
                            Reg::R12
                        }
                    };
                    a.str(Width::W32, r, Addr::Offset(Reg::SP, at as i32))
                })?;
            }
        }
        for &(word, value) in constants {
            if let Word::Stack(at) = word {
                self.emit(|a| {
                    a.mov(Flags::Any, Reg::R12, value)?;
                    a.str(Width::W32, Reg::R12, Addr::Offset(Reg::SP, at as i32))
                })?;
            }
        }
        let moves: Vec<(Reg, Operand)> = sources
            .iter()
            .zip(operands)
            .filter_map(|(&source, &word)| match word {
                Word::Reg(to) => Some((to, source.operand())),
                Word::Stack(_) | Word::HighZero(_) => None,
            })
            .collect();
        self.parallel_move(moves)?;
        for &(word, value) in constants {
            if let Word::Reg(to) = word {
                self.emit(|a| a.mov(Flags::Any, to, value))?;
            }
        }
        let libcalls = self.module.offsets.libcalls() as i32;
        let entry = libcall.table_offset(4) as i32;
        let trap = Libcall::Trap.table_offset(4) as i32;
        self.store_fuel()?;
        self.emit(|a| {
            a.mov(Flags::Any, Reg::R0, Reg::R10)?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, entry))?;
            a.blx(Reg::R12)
        })?;
        self.restore_derived()?;
        self.reload_pinned()?;
        if outgoing > 0 {
            self.emit(|a| a.add(Flags::Any, Reg::SP, Reg::SP, outgoing))?;
            self.sp_adjust = 0;
        }
        self.release_sources(&sources, Reg::R12);
        if checked {
            // A dynamic trap code: `Trap(vmctx, code)`, which does not return.
            let ok = self.asm.new_label();
            self.emit(|a| {
                a.cmp(Reg::R0, 0u32)?;
                a.b(Cond::Eq, ok)?;
                a.mov(Flags::Any, Reg::R1, Reg::R0)?;
                a.mov(Flags::Any, Reg::R0, Reg::R10)?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, trap))?;
                a.blx(Reg::R12)?;
                a.bind(ok)
            })?;
        }
        Ok(())
    }

    /// `memory.fill`: `MemoryFill(vmctx, mem r1, dst r2:r3, value [sp], len [sp + 8])`; the
    /// high words of `dst` and `len` are 0 for a 32-bit memory, the operands' for a 64-bit one.
    fn memory_fill(&mut self, mem: u32) -> Result<(), CompileError> {
        if self.memory(mem)?.ty.index64 {
            return self.bulk_libcall(
                Libcall::MemoryFill,
                &[
                    Word::Reg(Reg::R2),
                    Word::Reg(Reg::R3),
                    Word::Stack(0),
                    Word::Stack(8),
                    Word::Stack(12),
                ],
                &[(Word::Reg(Reg::R1), mem)],
                16,
                true,
            );
        }
        self.bulk_libcall(
            Libcall::MemoryFill,
            &[Word::Reg(Reg::R2), Word::Stack(0), Word::Stack(8)],
            &[
                (Word::Reg(Reg::R1), mem),
                (Word::Reg(Reg::R3), 0),
                (Word::Stack(12), 0),
            ],
            16,
            true,
        )
    }

    /// `memory.copy`: `MemoryCopy(vmctx, dst_mem r1, dst r2:r3, src_mem [sp], src [sp + 8],
    /// len [sp + 16])`. `dst` has the index type of `dst_mem`, `src` that of `src_mem`, `len`
    /// is an i64 only when both are 64-bit memories; every high word not popped is 0.
    fn memory_copy(&mut self, dst_mem: u32, src_mem: u32) -> Result<(), CompileError> {
        let dst_wide = self.memory(dst_mem)?.ty.index64;
        let src_wide = self.memory(src_mem)?.ty.index64;
        let len_wide = dst_wide && src_wide;
        let mut operands = Vec::with_capacity(6);
        let mut constants = vec![(Word::Reg(Reg::R1), dst_mem)];
        for (wide, low, high) in [
            (dst_wide, Word::Reg(Reg::R2), Word::Reg(Reg::R3)),
            (src_wide, Word::Stack(8), Word::Stack(12)),
            (len_wide, Word::Stack(16), Word::Stack(20)),
        ] {
            operands.push(low);
            if wide {
                operands.push(high);
            }
        }
        // In the order the 32-bit form always had: r3, src_mem, then the stack high words.
        if !dst_wide {
            constants.push((Word::Reg(Reg::R3), 0));
        }
        constants.push((Word::Stack(0), src_mem));
        if !src_wide {
            constants.push((Word::Stack(12), 0));
        }
        if !len_wide {
            constants.push((Word::Stack(20), 0));
        }
        self.bulk_libcall(Libcall::MemoryCopy, &operands, &constants, 24, true)
    }

    /// `memory.init`: `MemoryInit(vmctx, mem r1, data r2, dst [sp]:[sp + 4], src [sp + 8],
    /// len [sp + 12])` (the u64 skips r3: AAPCS rule C.3 puts it on the stack). `dst` is an
    /// i64 for a 64-bit memory; `src` and `len` are always i32.
    fn memory_init(&mut self, mem: u32, data: u32) -> Result<(), CompileError> {
        if self.memory(mem)?.ty.index64 {
            return self.bulk_libcall(
                Libcall::MemoryInit,
                &[
                    Word::Stack(0),
                    Word::Stack(4),
                    Word::Stack(8),
                    Word::Stack(12),
                ],
                &[(Word::Reg(Reg::R1), mem), (Word::Reg(Reg::R2), data)],
                16,
                true,
            );
        }
        self.bulk_libcall(
            Libcall::MemoryInit,
            &[Word::Stack(0), Word::Stack(8), Word::Stack(12)],
            &[
                (Word::Reg(Reg::R1), mem),
                (Word::Reg(Reg::R2), data),
                (Word::Stack(4), 0),
            ],
            16,
            true,
        )
    }

    /// The `VMTableDefinition` of `table`: `(base register, offset)`, the base being the vmctx
    /// or, for an imported table, `via` loaded with the definition pointer.
    fn table_definition(&mut self, table: u32, via: Reg) -> Result<(Reg, i32), CompileError> {
        let offsets = self.module.offsets;
        if table < self.module.num_imported_tables {
            let pointer = offsets.imported_table(table) as i32;
            self.emit(|a| a.ldr(Width::W32, via, Addr::Offset(Reg::R10, pointer)))?;
            Ok((via, 0))
        } else {
            let at = offsets.defined_table(table - self.module.num_imported_tables);
            Ok((Reg::R10, at as i32))
        }
    }

    /// Checks `index < length` of `table` (`TableOutOfBounds`) and leaves the table's base in
    /// r12, so the element is `[r12, index, lsl #2]`. `via` is a scratch register for an
    /// imported table's definition pointer (not `index`).
    fn table_element(&mut self, table: u32, index: Reg, via: Reg) -> Result<(), CompileError> {
        let (definition, at) = self.table_definition(table, via)?;
        let length = at + self.module.offsets.table_length() as i32;
        let base = at + self.module.offsets.table_base() as i32;
        let trap = self.trap_label(TrapCode::TableOutOfBounds);
        self.emit(|a| {
            a.ldr(Width::W32, Reg::R12, Addr::Offset(definition, length))?;
            a.cmp(index, Reg::R12)?;
            a.b(Cond::Hs, trap)?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(definition, base))
        })
    }

    /// `table.get`: the index (for a 64-bit table, its high word checked first) against the
    /// length, then the element.
    fn table_get(&mut self, table: u32) -> Result<(), CompileError> {
        if self.table_is_64(table)? {
            self.pop_high_word(TrapCode::TableOutOfBounds)?;
        }
        let index = self.pop_reg()?;
        let via = self.allocate()?;
        self.table_element(table, index, via)?;
        self.stack.release(via);
        self.emit(|a| a.ldr(Width::W32, index, Addr::Indexed(Reg::R12, index, 2)))?;
        self.push(Entry::Reg(index));
        Ok(())
    }

    fn table_set(&mut self, table: u32) -> Result<(), CompileError> {
        let value = self.pop_reg()?;
        if self.table_is_64(table)? {
            self.pop_high_word(TrapCode::TableOutOfBounds)?;
        }
        let index = self.pop_reg()?;
        let via = self.allocate()?;
        self.table_element(table, index, via)?;
        self.stack.release(via);
        self.emit(|a| a.str(Width::W32, value, Addr::Indexed(Reg::R12, index, 2)))?;
        self.stack.release(value);
        self.stack.release(index);
        Ok(())
    }

    fn table_size(&mut self, table: u32) -> Result<(), CompileError> {
        let dst = self.allocate()?;
        let (definition, at) = self.table_definition(table, dst)?;
        let length = at + self.module.offsets.table_length() as i32;
        self.emit(|a| a.ldr(Width::W32, dst, Addr::Offset(definition, length)))?;
        self.push(Entry::Reg(dst));
        if self.table_is_64(table)? {
            self.push(Entry::Const(0));
        }
        Ok(())
    }

    /// Whether `table` has 64-bit indices (table64).
    fn table_is_64(&self, table: u32) -> Result<bool, CompileError> {
        self.module
            .tables
            .get(table as usize)
            .map(|ty| ty.index64)
            .ok_or_else(|| self.internal(format!("no table {table}")))
    }

    /// The libcall words of a table operand: its low word goes to `low`; an i64 (`wide`) also
    /// has its high word checked to be 0 (`TableOutOfBounds`).
    fn table_operand(words: &mut Vec<Word>, low: Word, wide: bool) {
        words.push(low);
        if wide {
            words.push(Word::HighZero(TrapCode::TableOutOfBounds));
        }
    }

    /// Traps with `code` unless `source` is 0 (an unconditional branch for another constant).
    fn check_zero(&mut self, source: Src, code: TrapCode) -> Result<(), CompileError> {
        match source {
            Src::Imm(0) => Ok(()),
            Src::Imm(_) => {
                let label = self.trap_label(code);
                self.emit(|a| a.b(Cond::Al, label))
            }
            Src::Owned(r) | Src::Home(r) => {
                self.emit(|a| a.cmp(r, 0u32))?;
                self.branch_to_trap(Cond::Ne, code)
            }
        }
    }

    /// `table.grow` of a 64-bit table: `TableGrow(vmctx, table r1, init r2, delta r3) -> u32`
    /// on the delta's low word, the answer sign-extended into the i64 result (a table's old
    /// size stays below 2^31 on a 32-bit core, so only the failure `u32::MAX` becomes
    /// negative: -1). A delta of 2^32 or more, which no table takes, answers -1 without the
    /// call: `cmp hi, #0; bne fail` ahead of the call, whose path then jumps over `fail: mov
    /// r0, #-1`. Both paths meet with the same stack state: the values below the operands left
    /// r0-r3 and the operands are in registers before the branch (so the call's path loads and
    /// spills nothing), the call clobbers no callee-saved register, and `fail` skips only the
    /// reloads of derived registers it never clobbered.
    fn table64_grow(&mut self, table: u32) -> Result<(), CompileError> {
        self.save_caller_saved(3)?;
        let high = self.pop_src(true)?;
        let fail = match high {
            Src::Imm(0) => None,
            Src::Imm(_) => {
                // Always too big: no call.
                for _ in 0..2 {
                    let operand = self.pop_src(true)?;
                    self.release_sources(&[operand], Reg::R12);
                }
                self.push(Entry::Const(u32::MAX));
                self.push(Entry::Const(u32::MAX));
                return Ok(());
            }
            Src::Owned(r) | Src::Home(r) => {
                // The operands into registers first: nothing between the branch and the call
                // may load or spill (the `fail` path would skip it).
                let delta = self.pop_reg()?;
                let init = self.pop_reg()?;
                self.push(Entry::Reg(init));
                self.push(Entry::Reg(delta));
                let fail = self.asm.new_label();
                self.emit(|a| {
                    a.cmp(r, 0u32)?;
                    a.b(Cond::Ne, fail)
                })?;
                Some(fail)
            }
        };
        self.release_sources(&[high], Reg::R12);
        self.bulk_libcall(
            Libcall::TableGrow,
            &[Word::Reg(Reg::R2), Word::Reg(Reg::R3)],
            &[(Word::Reg(Reg::R1), table)],
            0,
            false,
        )?;
        if let Some(fail) = fail {
            let done = self.asm.new_label();
            self.emit(|a| {
                a.b(Cond::Al, done)?;
                a.bind(fail)?;
                a.mov(Flags::Any, Reg::R0, u32::MAX)?;
                a.bind(done)
            })?;
        }
        self.stack.hold(Reg::R0);
        self.push(Entry::Reg(Reg::R0));
        let high = self.allocate()?;
        self.emit(|a| a.shift(ShiftKind::Asr, Flags::Any, high, Reg::R0, Operand::Imm(31)))?;
        self.push(Entry::Reg(high));
        Ok(())
    }

    // ---- f32 (FP cache registers; DESIGN.md section 3.1 `FReg`) ----

    /// Pops the top entry, an f32, into an FP register: an `FReg` entry as is; a constant by
    /// `vmov.f32 #imm` when it is a VFP immediate, else through ip; a core word by `vmov`; a
    /// spilled value or a local in a slot by `vldr` (our own aligned frame).
    fn pop_f32(&mut self) -> Result<FSrc, CompileError> {
        let position = self
            .stack
            .len()
            .checked_sub(1)
            .ok_or_else(|| self.internal("operand stack underflow"))?;
        let entry = self.stack.entries[position];
        if let Entry::FReg(f) = entry {
            self.stack.entries.pop();
            return Ok(FSrc::Owned(f));
        }
        if let Entry::Local(index) = entry
            && let Some(home) = self.fhome(index)
        {
            self.stack.entries.pop();
            return Ok(FSrc::Home(home));
        }
        if let Entry::Cond(_) = entry {
            return Err(self.internal("condition as an f32"));
        }
        // Keep the position occupied while allocating (an FP spill cannot take it: it is not
        // an `FReg` entry, and a core register it holds stays held).
        self.stack.entries[position] = Entry::Spilled;
        let f = self.allocate_fp()?;
        let flags = self.flags();
        match entry {
            Entry::Reg(r) => {
                self.emit(|a| a.vmov_to_s(f, r))?;
                self.stack.release(r);
            }
            Entry::Const(bits) => match super::asm::vfp_immediate(u64::from(bits), false) {
                Some(_) => self.emit(|a| a.vmov_imm(f, u64::from(bits)))?,
                None => self.emit(|a| {
                    a.mov(flags, Reg::R12, bits)?;
                    a.vmov_to_s(f, Reg::R12)
                })?,
            },
            Entry::Local(index) => match self.home(index) {
                Some(home) => self.emit(|a| a.vmov_to_s(f, home))?,
                None => {
                    let offset = self.local_offset(index);
                    self.emit(|a| a.vldr(f, Reg::SP, offset))?;
                }
            },
            Entry::Spilled => {
                let offset = self.slot_offset(position);
                self.emit(|a| a.vldr(f, Reg::SP, offset))?;
            }
            Entry::FReg(_) | Entry::Cond(_) => unreachable!("handled above"),
        }
        self.stack.entries.pop();
        Ok(FSrc::Owned(f))
    }

    /// The FP register for a result computed from `sources`: the FP home of a fused
    /// `local.set`, an owned source's, else a new one.
    fn f32_destination(&mut self, sources: &[FSrc]) -> Result<FReg, CompileError> {
        if let Some((local, _)) = self.fused_set {
            // As in `destination`: lazy reads of the old value are taken first (invariant 3);
            // the instruction reads its popped sources before it writes.
            self.materialize_local(local)?;
            self.forget_local(local);
            return self
                .fhome(local)
                .ok_or_else(|| self.internal("fused f32 set without an FP home"));
        }
        match sources.iter().find_map(|s| match s {
            FSrc::Owned(f) => Some(*f),
            FSrc::Home(_) => None,
        }) {
            Some(f) => Ok(f),
            None => self.allocate_fp(),
        }
    }

    /// Pushes the result of an f32 operation that went through [`Self::f32_destination`].
    fn push_f32_result(&mut self, dst: FReg) {
        match self.fused_set.take() {
            Some((local, true)) => self.push(Entry::Local(local)),
            Some((_, false)) => {}
            None => self.push(Entry::FReg(dst)),
        }
    }

    /// Frees the owned f32 sources except `keep`.
    fn release_f32_sources(&mut self, sources: &[FSrc], keep: Option<FReg>) {
        for s in sources {
            if let FSrc::Owned(f) = *s
                && Some(f) != keep
            {
                self.stack.release_fp(f);
            }
        }
    }

    /// Pops the top two f32 operands: (left, right).
    fn pop_f32_pair(&mut self) -> Result<(FSrc, FSrc), CompileError> {
        let right = self.pop_f32()?;
        let left = self.pop_f32()?;
        Ok((left, right))
    }

    /// Pops the top two f32 operands as core words into s0 (left) and s1 (right): for the
    /// operators that work on the bits (`min`/`max`); returns their word sources.
    fn pop_f32_words(&mut self) -> Result<(Src, Src), CompileError> {
        let right = self.pop_src(false)?;
        let left = self.pop_src(false)?;
        let (Operand::Reg(l), Operand::Reg(r)) = (left.operand(), right.operand()) else {
            return Err(self.internal("f32 operand not in a register"));
        };
        self.emit(|a| {
            a.vmov_to_s(FReg::S(0), l)?;
            a.vmov_to_s(FReg::S(1), r)
        })?;
        Ok((left, right))
    }

    /// A register for a result computed from `sources`: an owned source's, else a new one.
    fn result_register(&mut self, sources: &[Src]) -> Result<Reg, CompileError> {
        match sources.iter().find_map(|s| match s {
            Src::Owned(r) => Some(*r),
            _ => None,
        }) {
            Some(r) => Ok(r),
            None => self.allocate(),
        }
    }

    /// `add`/`sub`/`mul`/`div`: one instruction on the operands in place; the result stays in
    /// an FP register (the left operand's when owned).
    fn f32_binary(
        &mut self,
        op: fn(&mut Assembler, FReg, FReg, FReg) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        let (left, right) = self.pop_f32_pair()?;
        let dst = self.f32_destination(&[left, right])?;
        self.emit(|a| op(a, dst, left.reg(), right.reg()))?;
        self.release_f32_sources(&[left, right], Some(dst));
        self.push_f32_result(dst);
        Ok(())
    }

    /// An f32 operation of one operand (`sqrt`, `vrint`, `abs`, `neg`) in FP registers.
    fn f32_unary_fp(
        &mut self,
        op: impl FnOnce(&mut Assembler, FReg, FReg) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        let value = self.pop_f32()?;
        let dst = self.f32_destination(&[value])?;
        self.emit(|a| op(a, dst, value.reg()))?;
        self.release_f32_sources(&[value], Some(dst));
        self.push_f32_result(dst);
        Ok(())
    }

    /// `f32.convert_i32_s/u`: the word to the result's FP register, `vcvt` in place.
    fn f32_convert_i32(&mut self, signed: bool) -> Result<(), CompileError> {
        let value = self.pop_src(false)?;
        let Operand::Reg(v) = value.operand() else {
            return Err(self.internal("i32 operand not in a register"));
        };
        let dst = self.allocate_fp()?;
        self.emit(|a| {
            a.vmov_to_s(dst, v)?;
            a.vcvt_from_int(signed, dst, dst)
        })?;
        self.release_sources(&[value], Reg::R12);
        self.push(Entry::FReg(dst));
        Ok(())
    }

    /// `i32.trunc_sat_f32_s/u`: `vcvt` (which saturates and gives 0 for NaN) into s0, then
    /// the word to a core register.
    fn i32_trunc_sat_f32(&mut self, signed: bool) -> Result<(), CompileError> {
        let value = self.pop_f32()?;
        self.release_f32_sources(&[value], None);
        let dst = self.allocate()?;
        self.emit(|a| {
            a.vcvt_to_int(signed, FReg::S(0), value.reg())?;
            a.vmov_from_s(dst, FReg::S(0))
        })?;
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `f32.min`/`f32.max` with wasm's NaN propagation and `-0 < +0`: a NaN operand gives the
    /// quieted NaN of `vadd`, equal operands (including `-0`/`+0`) combine their bits (`orr` for
    /// min, `and` for max), otherwise the smaller/larger one is taken.
    fn f32_min_max(&mut self, max: bool) -> Result<(), CompileError> {
        let (left, right) = self.pop_f32_words()?;
        let (Operand::Reg(l), Operand::Reg(r)) = (left.operand(), right.operand()) else {
            return Err(self.internal("f32 operand not in a register"));
        };
        // Not the right operand's register: the left one is copied into it first.
        let dst = match left {
            Src::Owned(reg) => reg,
            _ => self.allocate()?,
        };
        let (nan, equal, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.emit(|a| {
            a.vcmp(false, FReg::S(0), FReg::S(1))?;
            a.vmrs_apsr()?;
            a.b(Cond::Vs, nan)?;
            a.b(Cond::Eq, equal)?;
            if dst != l {
                a.mov(Flags::Preserve, dst, l)?;
            }
            // min: the right one when left > right; max: when left < right.
            let take_right = if max { Cond::Mi } else { Cond::Gt };
            a.it(take_right, &[])?;
            a.mov(Flags::Preserve, dst, r)?;
            a.b(Cond::Al, done)?;
            a.bind(equal)?;
            if max {
                a.and(Flags::Any, dst, l, r)?;
            } else {
                a.orr(Flags::Any, dst, l, r)?;
            }
            a.b(Cond::Al, done)?;
            a.bind(nan)?;
            a.vadd(FReg::S(0), FReg::S(0), FReg::S(1))?;
            a.vmov_from_s(dst, FReg::S(0))?;
            a.bind(done)
        })?;
        self.release_sources(&[left, right], dst);
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `f32.eq` ... `f32.ge`: `vcmp` and the flags as a condition that is false for unordered
    /// operands (`ne` true).
    fn f32_compare(&mut self, cond: Cond) -> Result<(), CompileError> {
        let (left, right) = self.pop_f32_pair()?;
        self.emit(|a| {
            a.vcmp(false, left.reg(), right.reg())?;
            a.vmrs_apsr()
        })?;
        self.release_f32_sources(&[left, right], None);
        self.push(Entry::Cond(cond));
        Ok(())
    }

    /// `abs`/`neg`: `vabs`/`vneg`, which only clear or flip the sign bit (no NaN processing,
    /// ARMv7-M ARM `FPAbs`/`FPNeg`), so NaN payloads stay exact.
    fn f32_sign(&mut self, negate: bool) -> Result<(), CompileError> {
        if negate {
            self.f32_unary_fp(|a, d, v| a.vneg(d, v))
        } else {
            self.f32_unary_fp(|a, d, v| a.vabs(d, v))
        }
    }

    fn f32_copysign(&mut self) -> Result<(), CompileError> {
        let sign = self.pop_src(false)?;
        let magnitude = self.pop_src(false)?;
        let (Operand::Reg(m), Operand::Reg(s)) = (magnitude.operand(), sign.operand()) else {
            return Err(self.internal("f32 operand not in a register"));
        };
        let dst = self.result_register(&[magnitude, sign])?;
        self.emit(|a| {
            a.and(Flags::Any, Reg::R12, s, 0x8000_0000u32)?;
            a.bic(Flags::Any, dst, m, 0x8000_0000u32)?;
            a.orr(Flags::Any, dst, dst, Reg::R12)
        })?;
        self.release_sources(&[magnitude, sign], dst);
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `ceil`/`floor`/`trunc`/`nearest`: `vrint` on FPv5; FPv4 (Cortex-M4F) has none and
    /// calls the pure helpers.
    fn f32_round(&mut self, rounding: Rounding) -> Result<(), CompileError> {
        if !self.profile.has_fpv5() {
            let libcall = match rounding {
                Rounding::PlusInfinity => Libcall::F32Ceil,
                Rounding::MinusInfinity => Libcall::F32Floor,
                Rounding::Zero => Libcall::F32Trunc,
                _ => Libcall::F32Nearest,
            };
            return self.pure_libcall(libcall, 1, 1);
        }
        self.f32_unary_fp(|a, d, v| a.vrint(rounding, d, v))
    }

    /// `i32.trunc_f32_s/u`: NaN traps with `BadConversionToInteger`, values whose truncation
    /// does not fit with `IntegerOverflow` (limits compared exactly in f32), then `vcvt`.
    fn i32_trunc_f32(&mut self, signed: bool) -> Result<(), CompileError> {
        let value = self.pop_f32()?;
        let v = value.reg();
        self.release_f32_sources(&[value], None);
        let dst = self.allocate()?;
        let bad = self.trap_label(TrapCode::BadConversionToInteger);
        let overflow = self.trap_label(TrapCode::IntegerOverflow);
        // Out of range: x >= 2^31 or x < -2^31 (signed); x >= 2^32 or x <= -1 (unsigned).
        let (upper, lower, below) = if signed {
            (0x4F00_0000u32, 0xCF00_0000u32, Cond::Mi)
        } else {
            (0x4F80_0000u32, 0xBF80_0000u32, Cond::Ls)
        };
        self.emit(|a| {
            a.vcmp(false, v, v)?;
            a.vmrs_apsr()?;
            a.b(Cond::Vs, bad)?;
            a.mov(Flags::Any, Reg::R12, upper)?;
            a.vmov_to_s(FReg::S(1), Reg::R12)?;
            a.vcmp(false, v, FReg::S(1))?;
            a.vmrs_apsr()?;
            a.b(Cond::Ge, overflow)?;
            a.mov(Flags::Any, Reg::R12, lower)?;
            a.vmov_to_s(FReg::S(1), Reg::R12)?;
            a.vcmp(false, v, FReg::S(1))?;
            a.vmrs_apsr()?;
            a.b(below, overflow)?;
            a.vcvt_to_int(signed, FReg::S(0), v)?;
            a.vmov_from_s(dst, FReg::S(0))
        })?;
        self.push(Entry::Reg(dst));
        Ok(())
    }

    // ---- i64 and f64: two words, low first ----

    /// Pops a two-word value as register sources: (low, high).
    fn pop_pair(&mut self) -> Result<(Reg, Reg, Src, Src), CompileError> {
        let hi = self.pop_src(false)?;
        let lo = self.pop_src(false)?;
        let (Operand::Reg(l), Operand::Reg(h)) = (lo.operand(), hi.operand()) else {
            return Err(self.internal("two-word operand not in registers"));
        };
        Ok((l, h, lo, hi))
    }

    /// An owned register among `candidates`, else a new one.
    fn pick(&mut self, candidates: &[Src]) -> Result<Reg, CompileError> {
        self.result_register(candidates)
    }

    /// `i64.add`/`i64.sub`: `adds`/`adc` or `subs`/`sbc`; the low result goes to a register
    /// only the low words occupied, the high one to one only the high words occupied.
    fn i64_carry(&mut self, subtract: bool) -> Result<(), CompileError> {
        let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
        let (alo, ahi, salo, sahi) = self.pop_pair()?;
        let dlo = self.pick(&[salo, sblo])?;
        let dhi = self.pick(&[sahi, sbhi])?;
        self.emit(|a| {
            if subtract {
                a.sub(Flags::Set, dlo, alo, blo)?;
                a.sbc(Flags::Any, dhi, ahi, bhi)
            } else {
                a.add(Flags::Set, dlo, alo, blo)?;
                a.adc(Flags::Any, dhi, ahi, bhi)
            }
        })?;
        self.release_sources(&[salo, sblo], dlo);
        self.release_sources(&[sahi, sbhi], dhi);
        self.push(Entry::Reg(dlo));
        self.push(Entry::Reg(dhi));
        Ok(())
    }

    fn i64_bitwise(&mut self, op: Binary) -> Result<(), CompileError> {
        let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
        let (alo, ahi, salo, sahi) = self.pop_pair()?;
        let dlo = self.pick(&[salo, sblo])?;
        let dhi = self.pick(&[sahi, sbhi])?;
        self.emit(|a| {
            for (d, x, y) in [(dlo, alo, blo), (dhi, ahi, bhi)] {
                match op {
                    Binary::And => a.and(Flags::Any, d, x, y)?,
                    Binary::Or => a.orr(Flags::Any, d, x, y)?,
                    _ => a.eor(Flags::Any, d, x, y)?,
                }
            }
            Ok(())
        })?;
        self.release_sources(&[salo, sblo], dlo);
        self.release_sources(&[sahi, sbhi], dhi);
        self.push(Entry::Reg(dlo));
        self.push(Entry::Reg(dhi));
        Ok(())
    }

    /// `i64.mul`: `umull` of the low words plus both cross products into the high word.
    fn i64_mul(&mut self) -> Result<(), CompileError> {
        let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
        let (alo, ahi, salo, sahi) = self.pop_pair()?;
        // Every source is read after umull writes: the results take fresh registers.
        let dlo = self.allocate()?;
        let dhi = self.allocate()?;
        self.emit(|a| {
            a.umull(dlo, dhi, alo, blo)?;
            a.mla(dhi, alo, bhi, dhi)?;
            a.mla(dhi, ahi, blo, dhi)
        })?;
        self.release_sources(&[salo, sblo, sahi, sbhi], Reg::R12);
        self.push(Entry::Reg(dlo));
        self.push(Entry::Reg(dhi));
        Ok(())
    }

    fn i64_eqz(&mut self) -> Result<(), CompileError> {
        let (lo, hi, slo, shi) = self.pop_pair()?;
        self.emit(|a| a.orr(Flags::Set, Reg::R12, lo, hi))?;
        self.release_sources(&[slo, shi], Reg::R12);
        self.push(Entry::Cond(Cond::Eq));
        Ok(())
    }

    /// Compares on pairs: equality with `cmp hi; it eq; cmpeq lo`, order with `cmp lo; sbcs
    /// hi` (valid for `lt`/`ge`/`lo`/`hs` only, so `gt`/`le` swap the operands).
    fn i64_compare(&mut self, cond: Cond, swap: bool) -> Result<(), CompileError> {
        let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
        let (alo, ahi, salo, sahi) = self.pop_pair()?;
        let ((xlo, xhi), (ylo, yhi)) = if swap {
            ((blo, bhi), (alo, ahi))
        } else {
            ((alo, ahi), (blo, bhi))
        };
        self.emit(|a| {
            if matches!(cond, Cond::Eq | Cond::Ne) {
                a.cmp(xhi, yhi)?;
                a.it(Cond::Eq, &[])?;
                a.cmp(xlo, ylo)
            } else {
                a.cmp(xlo, ylo)?;
                a.sbc(Flags::Set, Reg::R12, xhi, yhi)
            }
        })?;
        self.release_sources(&[salo, sblo, sahi, sbhi], Reg::R12);
        self.push(Entry::Cond(cond));
        Ok(())
    }

    /// `i64.extend_i32_s` (and the in-place extensions, after their high word was dropped):
    /// the low word, optionally narrowed first, and its sign in the high word.
    fn i64_sign_extend(&mut self, narrow: Option<Unary>) -> Result<(), CompileError> {
        let value = self.pop_src(false)?;
        let Operand::Reg(v) = value.operand() else {
            return Err(self.internal("operand not in a register"));
        };
        let lo = self.result_register(&[value])?;
        let hi = self.allocate()?;
        self.emit(|a| {
            match narrow {
                Some(Unary::Extend8) => a.sxtb(lo, v, 0)?,
                Some(Unary::Extend16) => a.sxth(lo, v, 0)?,
                _ if lo != v => a.mov(Flags::Any, lo, v)?,
                _ => {}
            }
            a.shift(ShiftKind::Asr, Flags::Any, hi, lo, Operand::Imm(31))
        })?;
        self.push(Entry::Reg(lo));
        self.push(Entry::Reg(hi));
        Ok(())
    }

    fn require_double(&self) -> Result<(), CompileError> {
        if self.profile.has_double_precision() {
            Ok(())
        } else {
            // Single-precision profiles take the soft-float path (`soft_f64_operator`) first.
            Err(self.internal("f64 on the FPU of a single-precision profile"))
        }
    }

    /// Pops the top f64 (two word entries) into a double register the caller owns: in place
    /// when the two words are the halves of one (`FReg(s2n)`, `FReg(s2n+1)`), else the words
    /// are moved into a new one (`vmov d, lo, hi`).
    fn pop_f64(&mut self) -> Result<FSrc, CompileError> {
        self.require_double()?;
        let len = self.stack.len();
        if let Some(src) = self.f64_on_top() {
            self.stack.entries.truncate(len - 2);
            return Ok(src);
        }
        let (lo, hi, slo, shi) = self.pop_pair()?;
        let d = self.allocate_dp()?;
        self.emit(|a| a.vmov_to_d(d, lo, hi))?;
        self.release_sources(&[slo, shi], Reg::R12);
        Ok(FSrc::Owned(d))
    }

    /// The double register of the f64 on top of the stack when it is in one: its two entries
    /// are the halves of an FP cache register (owned) or of an f64 local's FP home.
    fn f64_on_top(&self) -> Option<FSrc> {
        let len = self.stack.len();
        if len < 2 {
            return None;
        }
        let half = |e: Entry| match e {
            Entry::FReg(FReg::S(n)) => Some((n, true)),
            Entry::Local(i) => match self.fhome(i) {
                Some(FReg::S(n)) => Some((n, false)),
                _ => None,
            },
            _ => None,
        };
        let (lo, owned) = half(self.stack.entries[len - 2])?;
        let (hi, owned_hi) = half(self.stack.entries[len - 1])?;
        (lo % 2 == 0 && hi == lo + 1 && owned == owned_hi).then_some(if owned {
            FSrc::Owned(FReg::D(lo / 2))
        } else {
            FSrc::Home(FReg::D(lo / 2))
        })
    }

    /// The double register for an f64 result: an owned source's, else a new one.
    fn f64_destination(&mut self, sources: &[FSrc]) -> Result<FReg, CompileError> {
        match sources.iter().find_map(|s| match s {
            FSrc::Owned(f) => Some(*f),
            FSrc::Home(_) => None,
        }) {
            Some(f) => Ok(f),
            None => self.allocate_dp(),
        }
    }

    /// Pushes an f64 held in double register `d` as its two word entries.
    fn push_f64(&mut self, d: FReg) {
        let FReg::D(n) = d else {
            unreachable!("push_f64 of a single register")
        };
        self.push(Entry::FReg(FReg::S(2 * n)));
        self.push(Entry::FReg(FReg::S(2 * n + 1)));
    }

    /// Pops two f64 operands into d0 (left) and d1 (right).
    fn pop_f64_pair(&mut self) -> Result<[(Reg, Src); 4], CompileError> {
        self.require_double()?;
        let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
        let (alo, ahi, salo, sahi) = self.pop_pair()?;
        self.emit(|a| {
            a.vmov_to_d(FReg::D(0), alo, ahi)?;
            a.vmov_to_d(FReg::D(1), blo, bhi)
        })?;
        Ok([(alo, salo), (ahi, sahi), (blo, sblo), (bhi, sbhi)])
    }

    fn f64_binary(
        &mut self,
        op: fn(&mut Assembler, FReg, FReg, FReg) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        let right = self.pop_f64()?;
        let left = self.pop_f64()?;
        let dst = self.f64_destination(&[left, right])?;
        self.emit(|a| op(a, dst, left.reg(), right.reg()))?;
        self.release_f32_sources(&[left, right], Some(dst));
        self.push_f64(dst);
        Ok(())
    }

    /// `f64.min`/`f64.max` as [`Self::f32_min_max`], on pairs.
    fn f64_min_max(&mut self, max: bool) -> Result<(), CompileError> {
        let [(alo, salo), (ahi, sahi), (blo, sblo), (bhi, sbhi)] = self.pop_f64_pair()?;
        let dlo = match salo {
            Src::Owned(r) => r,
            _ => self.allocate()?,
        };
        let dhi = match sahi {
            Src::Owned(r) => r,
            _ => self.allocate()?,
        };
        let (nan, equal, done) = (
            self.asm.new_label(),
            self.asm.new_label(),
            self.asm.new_label(),
        );
        self.emit(|a| {
            a.vcmp(false, FReg::D(0), FReg::D(1))?;
            a.vmrs_apsr()?;
            a.b(Cond::Vs, nan)?;
            a.b(Cond::Eq, equal)?;
            if dlo != alo {
                a.mov(Flags::Preserve, dlo, alo)?;
            }
            if dhi != ahi {
                a.mov(Flags::Preserve, dhi, ahi)?;
            }
            let take_right = if max { Cond::Mi } else { Cond::Gt };
            a.it(take_right, &[true])?;
            a.mov(Flags::Preserve, dlo, blo)?;
            a.mov(Flags::Preserve, dhi, bhi)?;
            a.b(Cond::Al, done)?;
            a.bind(equal)?;
            if max {
                a.and(Flags::Any, dlo, alo, blo)?;
                a.and(Flags::Any, dhi, ahi, bhi)?;
            } else {
                a.orr(Flags::Any, dlo, alo, blo)?;
                a.orr(Flags::Any, dhi, ahi, bhi)?;
            }
            a.b(Cond::Al, done)?;
            a.bind(nan)?;
            a.vadd(FReg::D(0), FReg::D(0), FReg::D(1))?;
            a.vmov_from_d(dlo, dhi, FReg::D(0))?;
            a.bind(done)
        })?;
        self.release_sources(&[salo, sblo], dlo);
        self.release_sources(&[sahi, sbhi], dhi);
        self.push(Entry::Reg(dlo));
        self.push(Entry::Reg(dhi));
        Ok(())
    }

    fn f64_compare(&mut self, cond: Cond) -> Result<(), CompileError> {
        let right = self.pop_f64()?;
        let left = self.pop_f64()?;
        self.emit(|a| {
            a.vcmp(false, left.reg(), right.reg())?;
            a.vmrs_apsr()
        })?;
        self.release_f32_sources(&[left, right], None);
        self.push(Entry::Cond(cond));
        Ok(())
    }

    /// `f64.abs`/`f64.neg`: `vabs.f64`/`vneg.f64` in place when the value is in a double
    /// register, else the sign bit of the high word (the low word stays on the stack).
    fn f64_sign(&mut self, negate: bool) -> Result<(), CompileError> {
        if self.profile.has_double_precision() && self.f64_on_top().is_some() {
            return self.f64_unary(|a, d, v| if negate { a.vneg(d, v) } else { a.vabs(d, v) });
        }
        let value = self.pop_src(false)?;
        let Operand::Reg(v) = value.operand() else {
            return Err(self.internal("f64 high word not in a register"));
        };
        let dst = self.result_register(&[value])?;
        self.emit(|a| {
            if negate {
                a.eor(Flags::Any, dst, v, 0x8000_0000u32)
            } else {
                a.bic(Flags::Any, dst, v, 0x8000_0000u32)
            }
        })?;
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `f64.copysign`: the magnitude's high word with the sign's sign bit.
    fn f64_copysign(&mut self) -> Result<(), CompileError> {
        let sign_hi = self.pop_src(false)?;
        let sign_lo = self.pop_src(false)?;
        self.release_sources(&[sign_lo], Reg::R12);
        self.push_src(sign_hi);
        self.f32_copysign()
    }

    /// Pushes a source back as an entry.
    fn push_src(&mut self, src: Src) {
        match src {
            Src::Owned(r) => self.push(Entry::Reg(r)),
            Src::Home(r) => {
                let local = self.homes.iter().position(|h| *h == Some(r)).unwrap_or(0);
                self.push(Entry::Local(local as u32));
            }
            Src::Imm(v) => self.push(Entry::Const(v)),
        }
    }

    /// An FPU operation on one f64 in a double register: `op(dst, src)`.
    fn f64_unary(
        &mut self,
        op: impl FnOnce(&mut Assembler, FReg, FReg) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        let value = self.pop_f64()?;
        let dst = self.f64_destination(&[value])?;
        self.emit(|a| op(a, dst, value.reg()))?;
        self.release_f32_sources(&[value], Some(dst));
        self.push_f64(dst);
        Ok(())
    }

    fn f64_round(&mut self, rounding: Rounding) -> Result<(), CompileError> {
        if !self.profile.has_fpv5() {
            let libcall = match rounding {
                Rounding::PlusInfinity => Libcall::F64Ceil,
                Rounding::MinusInfinity => Libcall::F64Floor,
                Rounding::Zero => Libcall::F64Trunc,
                _ => Libcall::F64Nearest,
            };
            return self.pure_libcall(libcall, 2, 2);
        }
        self.f64_unary(|a, d, v| a.vrint(rounding, d, v))
    }

    // ---- 64-bit memory accesses and f64 conversions ----

    /// `r7 + index + offset` in a register the caller owns (the index's own when it owns it).
    fn access_address(&mut self, index: Src, offset: u32) -> Result<Reg, CompileError> {
        let base = match index {
            Src::Owned(r) => r,
            _ => self.allocate()?,
        };
        let derived_base = self.derived_base(offset);
        self.emit(|a| match index {
            Src::Owned(i) | Src::Home(i) if derived_base.is_some() => {
                a.add(Flags::Any, base, derived_base.unwrap(), i)
            }
            Src::Imm(k) => {
                a.mov(Flags::Any, base, k.wrapping_add(offset))?;
                a.add(Flags::Any, base, Reg::R7, base)
            }
            Src::Owned(i) | Src::Home(i) => {
                a.add(Flags::Any, base, Reg::R7, i)?;
                if offset != 0 {
                    a.add(Flags::Any, base, base, offset)?;
                }
                Ok(())
            }
        })?;
        Ok(base)
    }

    /// `i64.load`/`f64.load`: one bounds check for 8 bytes, two `ldr` (unaligned addresses are
    /// fine for `ldr`, not for `ldrd`: DESIGN.md section 1).
    fn load_memory64(&mut self, memarg: wasmparser::MemArg) -> Result<(), CompileError> {
        let memory = self.memory_target(memarg.target)?;
        let (index, index_local) = self.pop_index(&memory)?;
        let (base, at) = if memory.index != 0 {
            let (base, at) = self.other_memory_address(&memory, memarg.offset, 8, index)?;
            self.release_sources(&[index], base);
            (base, at)
        } else {
            self.bounds_check(&memory, memarg.offset, 8, index, index_local)?;
            (self.access_address(index, memarg.offset as u32)?, 0)
        };
        let hi = self.allocate()?;
        self.emit(|a| {
            a.ldr(Width::W32, hi, Addr::Offset(base, at + 4))?;
            a.ldr(Width::W32, base, Addr::Offset(base, at))
        })?;
        self.push(Entry::Reg(base));
        self.push(Entry::Reg(hi));
        Ok(())
    }

    /// `i64.store`/`f64.store`: one bounds check for 8 bytes, two `str`.
    fn store_memory64(&mut self, memarg: wasmparser::MemArg) -> Result<(), CompileError> {
        let memory = self.memory_target(memarg.target)?;
        let (lo, hi, slo, shi) = self.pop_pair()?;
        let (index, index_local) = self.pop_index(&memory)?;
        let (base, at) = if memory.index != 0 {
            let (base, at) = self.other_memory_address(&memory, memarg.offset, 8, index)?;
            self.release_sources(&[index], base);
            (base, at)
        } else {
            self.bounds_check(&memory, memarg.offset, 8, index, index_local)?;
            (self.access_address(index, memarg.offset as u32)?, 0)
        };
        self.emit(|a| {
            a.str(Width::W32, lo, Addr::Offset(base, at))?;
            a.str(Width::W32, hi, Addr::Offset(base, at + 4))
        })?;
        self.release_sources(&[slo, shi], Reg::R12);
        self.stack.release(base);
        Ok(())
    }

    /// A narrow `i64.load*`: the i32 load, then the high word (the sign, or 0).
    fn load_memory64_narrow(
        &mut self,
        memarg: wasmparser::MemArg,
        width: Width,
        signed: bool,
    ) -> Result<(), CompileError> {
        self.load_memory(memarg, width)?;
        if signed {
            self.i64_sign_extend(None)
        } else {
            self.push(Entry::Const(0));
            Ok(())
        }
    }

    /// A narrow `i64.store*`: the high word is not stored.
    fn store_memory64_narrow(
        &mut self,
        memarg: wasmparser::MemArg,
        width: Width,
    ) -> Result<(), CompileError> {
        self.truncate(self.stack.len() - 1);
        self.store_memory(memarg, width)
    }

    /// `f64.promote_f32` and `f64.convert_i32_s/u`: one word in s0, the result from d0.
    fn f64_from_word(
        &mut self,
        op: impl FnOnce(&mut Assembler) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        self.require_double()?;
        let value = self.pop_src(false)?;
        let Operand::Reg(v) = value.operand() else {
            return Err(self.internal("operand not in a register"));
        };
        let d = self.allocate_dp()?;
        self.emit(|a| {
            a.vmov_to_s(FReg::S(0), v)?;
            op(a)?;
            a.vmov(d, FReg::D(0))
        })?;
        self.release_sources(&[value], Reg::R12);
        self.push_f64(d);
        Ok(())
    }

    /// `f32.demote_f64` and the saturating `i32.trunc_sat_f64_s/u`: d0 in, one word from s0.
    fn word_from_f64(
        &mut self,
        op: impl FnOnce(&mut Assembler) -> Result<(), AsmError>,
    ) -> Result<(), CompileError> {
        let value = self.pop_f64()?;
        self.release_f32_sources(&[value], None);
        let d = value.reg();
        let dst = self.allocate()?;
        self.emit(|a| {
            a.vmov(FReg::D(0), d)?;
            op(a)?;
            a.vmov_from_s(dst, FReg::S(0))
        })?;
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `i32.trunc_f64_s/u`: NaN traps with `BadConversionToInteger`, out-of-range values with
    /// `IntegerOverflow` (x >= 2^31 or x <= -2^31 - 1; x >= 2^32 or x <= -1), then `vcvt`.
    fn i32_trunc_f64(&mut self, signed: bool) -> Result<(), CompileError> {
        self.require_double()?;
        let (lo, hi, slo, shi) = self.pop_pair()?;
        let dst = self.result_register(&[slo, shi])?;
        let temp = self.allocate()?;
        let bad = self.trap_label(TrapCode::BadConversionToInteger);
        let overflow = self.trap_label(TrapCode::IntegerOverflow);
        let (upper, lower): (u64, u64) = if signed {
            (0x41E0_0000_0000_0000, 0xC1E0_0000_0020_0000)
        } else {
            (0x41F0_0000_0000_0000, 0xBFF0_0000_0000_0000)
        };
        self.emit(|a| {
            a.vmov_to_d(FReg::D(0), lo, hi)?;
            a.vcmp(false, FReg::D(0), FReg::D(0))?;
            a.vmrs_apsr()?;
            a.b(Cond::Vs, bad)?;
            for (limit, cond) in [(upper, Cond::Ge), (lower, Cond::Ls)] {
                a.mov(Flags::Any, temp, limit as u32)?;
                a.mov(Flags::Any, Reg::R12, (limit >> 32) as u32)?;
                a.vmov_to_d(FReg::D(1), temp, Reg::R12)?;
                a.vcmp(false, FReg::D(0), FReg::D(1))?;
                a.vmrs_apsr()?;
                a.b(cond, overflow)?;
            }
            a.vcvt_to_int(signed, FReg::S(0), FReg::D(0))?;
            a.vmov_from_s(dst, FReg::S(0))
        })?;
        self.stack.release(temp);
        self.release_sources(&[slo, shi], dst);
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `f64.convert_i64_s/u` on a double-precision FPU: `hi * 2^32 + lo` with both terms exact
    /// in f64 (`hi` as s32 or u32, `lo` as u32), so the one rounding is the addition's: the
    /// correctly rounded result.
    fn f64_convert_i64(&mut self, signed: bool) -> Result<(), CompileError> {
        self.require_double()?;
        let (lo, hi, slo, shi) = self.pop_pair()?;
        let dlo = self.pick(&[slo])?;
        let dhi = self.pick(&[shi])?;
        self.emit(|a| {
            a.vmov_to_s(FReg::S(0), hi)?;
            a.vcvt_from_int(signed, FReg::D(1), FReg::S(0))?;
            a.vmov_to_s(FReg::S(0), lo)?;
            a.vcvt_from_int(false, FReg::D(2), FReg::S(0))?;
            a.mov(Flags::Any, Reg::R12, 0x41F0_0000u32)?;
            a.vmov_to_s(FReg::S(1), Reg::R12)?;
            a.mov(Flags::Any, Reg::R12, 0u32)?;
            a.vmov_to_s(FReg::S(0), Reg::R12)?;
            a.vmul(FReg::D(0), FReg::D(1), FReg::D(0))?;
            a.vadd(FReg::D(0), FReg::D(0), FReg::D(2))?;
            a.vmov_from_d(dlo, dhi, FReg::D(0))
        })?;
        self.push(Entry::Reg(dlo));
        self.push(Entry::Reg(dhi));
        Ok(())
    }

    /// `ref.func`: the address of the function's `VMFuncRef` in our vmctx.
    fn ref_func(&mut self, function_index: u32) -> Result<(), CompileError> {
        let offset = self.module.offsets.func_ref(function_index);
        let dst = self.allocate()?;
        self.emit(|a| a.add(Flags::Any, dst, Reg::R10, offset))?;
        self.push(Entry::Reg(dst));
        Ok(())
    }

    /// `memory.size`: memory 0's length is `r8 + bias`, another memory's is loaded from its
    /// definition; the size in pages is an i64 (high word 0) for a 64-bit memory.
    fn memory_size(&mut self, mem: u32) -> Result<(), CompileError> {
        let memory = self.memory(mem)?;
        let dst = self.allocate()?;
        let shift = memory.ty.page_size_log2 as u32;
        if memory.index == 0 {
            let bias = memory.bias;
            self.emit(|a| a.add(Flags::Any, dst, Reg::R8, bias))?;
        } else {
            self.load_memory_field(&memory, MEMORY_LENGTH, dst)?;
        }
        self.emit(|a| a.shift(ShiftKind::Lsr, Flags::Any, dst, dst, Operand::Imm(shift)))?;
        self.push(Entry::Reg(dst));
        if memory.ty.index64 {
            self.push(Entry::Const(0));
        }
        Ok(())
    }

    // ---- operators ----

    fn operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        if !self.reachable {
            return self.unreachable_operator(op);
        }
        use Operator as O;
        // Invariant 4: a condition in the flags is only ever the top entry, so an operator that
        // pushes without consuming it turns it into a register first.
        let consumes_condition = matches!(
            op,
            O::Select
                | O::TypedSelect { .. }
                | O::BrIf { .. }
                | O::If { .. }
                | O::I32Eqz
                | O::Drop
                | O::End
                | O::Else
                | O::Br { .. }
                | O::BrTable { .. }
                | O::Return
                | O::LocalSet { .. }
                | O::LocalTee { .. }
        );
        if !consumes_condition {
            self.materialize_cond()?;
        }
        if !self.profile.has_double_precision()
            && let Some(result) = self.soft_f64_operator(op)
        {
            return result;
        }
        match *op {
            O::Nop => Ok(()),
            O::Unreachable => {
                self.store_fuel()?;
                self.emit(|a| a.udf(trap_immediate(TrapCode::Unreachable)))?;
                let at = self.asm.last_instruction_offset();
                self.traps.push((at, TrapCode::Unreachable));
                self.reachable = false;
                Ok(())
            }
            O::I32Const { value } => {
                self.push(Entry::Const(value as u32));
                Ok(())
            }
            O::LocalGet { local_index } => {
                let (base, n) = self.local_words(local_index)?;
                for w in 0..n {
                    self.push(Entry::Local(base + w));
                }
                Ok(())
            }
            O::LocalSet { local_index } | O::LocalTee { local_index } => {
                let tee = matches!(op, O::LocalTee { .. });
                let (base, n) = self.local_words(local_index)?;
                if n == 1 {
                    return self.local_set(base, tee);
                }
                for w in (0..n).rev() {
                    self.local_set(base + w, false)?;
                }
                if tee {
                    for w in 0..n {
                        self.push(Entry::Local(base + w));
                    }
                }
                Ok(())
            }
            O::Drop => {
                self.materialize_cond()?;
                self.truncate(self.stack.len() - self.operand_words);
                Ok(())
            }
            O::Select | O::TypedSelect { .. } if self.operand_words == 2 => self.select_pair(),
            O::Select | O::TypedSelect { .. } => self.select(),

            O::I32Add => self.binary(Binary::Add),
            O::I32Sub => self.binary(Binary::Sub),
            O::I32Mul => self.binary(Binary::Mul),
            O::I32And => self.binary(Binary::And),
            O::I32Or => self.binary(Binary::Or),
            O::I32Xor => self.binary(Binary::Xor),
            O::I32Shl => self.shift(ShiftKind::Lsl),
            O::I32ShrU => self.shift(ShiftKind::Lsr),
            O::I32ShrS => self.shift(ShiftKind::Asr),
            O::I32Rotr => self.shift(ShiftKind::Ror),
            O::I32Rotl => self.rotl(),
            O::I32Clz => self.unary(Unary::Clz),
            O::I32Ctz => self.unary(Unary::Ctz),
            O::I32Popcnt => self.unary(Unary::Popcnt),
            O::I32Extend8S => self.unary(Unary::Extend8),
            O::I32Extend16S => self.unary(Unary::Extend16),
            O::I32DivU => self.divide(false, false),
            O::I32DivS => self.divide(true, false),
            O::I32RemU => self.divide(false, true),
            O::I32RemS => self.divide(true, true),
            O::I32Eqz => self.eqz(),
            O::I32Eq => self.compare(Cond::Eq),
            O::I32Ne => self.compare(Cond::Ne),
            O::I32LtS => self.compare(Cond::Lt),
            O::I32LtU => self.compare(Cond::Lo),
            O::I32GtS => self.compare(Cond::Gt),
            O::I32GtU => self.compare(Cond::Hi),
            O::I32LeS => self.compare(Cond::Le),
            O::I32LeU => self.compare(Cond::Ls),
            O::I32GeS => self.compare(Cond::Ge),
            O::I32GeU => self.compare(Cond::Hs),

            O::Block { blockty } => self.enter(FrameKind::Block, blockty),
            O::Loop { blockty } => self.enter(FrameKind::Loop, blockty),
            O::If { blockty } => self.enter_if(blockty),
            O::Else => self.else_(),
            O::End => self.end(),
            O::Br { relative_depth } => self.br(relative_depth),
            O::BrIf { relative_depth } => self.br_if(relative_depth),
            O::BrTable { ref targets } => self.br_table(targets),
            O::I32Load { memarg } => self.load_memory(memarg, Width::W32),
            O::I32Load8U { memarg } => self.load_memory(memarg, Width::U8),
            O::I32Load8S { memarg } => self.load_memory(memarg, Width::S8),
            O::I32Load16U { memarg } => self.load_memory(memarg, Width::U16),
            O::I32Load16S { memarg } => self.load_memory(memarg, Width::S16),
            O::I32Store { memarg } => self.store_memory(memarg, Width::W32),
            O::I32Store8 { memarg } => self.store_memory(memarg, Width::U8),
            O::I32Store16 { memarg } => self.store_memory(memarg, Width::U16),
            O::MemorySize { mem } => self.memory_size(mem),
            O::MemoryGrow { mem } => self.memory_grow(mem),
            O::MemoryFill { mem } => self.memory_fill(mem),
            O::MemoryCopy { dst_mem, src_mem } => self.memory_copy(dst_mem, src_mem),
            O::MemoryInit { data_index, mem } => self.memory_init(mem, data_index),
            O::F32Const { value } => {
                self.push(Entry::Const(value.bits()));
                Ok(())
            }
            O::F32Load { memarg } => self.load_memory(memarg, Width::W32),
            O::F32Store { memarg } => self.store_memory(memarg, Width::W32),
            O::F32ReinterpretI32 => Ok(()),
            // The bits as an i32 word: integer operators read `Reg` entries.
            O::I32ReinterpretF32 => {
                if let Some(Entry::FReg(_)) = self.stack.entries.last() {
                    let r = self.pop_reg()?;
                    self.push(Entry::Reg(r));
                }
                Ok(())
            }
            O::F32Add => self.f32_binary(Assembler::vadd),
            O::F32Sub => self.f32_binary(Assembler::vsub),
            O::F32Mul => self.f32_binary(Assembler::vmul),
            O::F32Div => self.f32_binary(Assembler::vdiv),
            O::F32Min => self.f32_min_max(false),
            O::F32Max => self.f32_min_max(true),
            O::F32Abs => self.f32_sign(false),
            O::F32Neg => self.f32_sign(true),
            O::F32Copysign => self.f32_copysign(),
            O::F32Sqrt => self.f32_unary_fp(|a, d, v| a.vsqrt(d, v)),
            O::F32Ceil => self.f32_round(Rounding::PlusInfinity),
            O::F32Floor => self.f32_round(Rounding::MinusInfinity),
            O::F32Trunc => self.f32_round(Rounding::Zero),
            O::F32Nearest => self.f32_round(Rounding::NearestEven),
            O::F32Eq => self.f32_compare(Cond::Eq),
            O::F32Ne => self.f32_compare(Cond::Ne),
            O::F32Lt => self.f32_compare(Cond::Mi),
            O::F32Le => self.f32_compare(Cond::Ls),
            O::F32Gt => self.f32_compare(Cond::Gt),
            O::F32Ge => self.f32_compare(Cond::Ge),
            O::F32ConvertI32S => self.f32_convert_i32(true),
            O::F32ConvertI32U => self.f32_convert_i32(false),
            O::I32TruncSatF32S => self.i32_trunc_sat_f32(true),
            O::I32TruncSatF32U => self.i32_trunc_sat_f32(false),
            O::I32TruncF32S => self.i32_trunc_f32(true),
            O::I32TruncF32U => self.i32_trunc_f32(false),
            O::I64Const { value } => {
                self.push(Entry::Const(value as u32));
                self.push(Entry::Const((value as u64 >> 32) as u32));
                Ok(())
            }
            O::F64Const { value } => {
                self.push(Entry::Const(value.bits() as u32));
                self.push(Entry::Const((value.bits() >> 32) as u32));
                Ok(())
            }
            O::I64ReinterpretF64 | O::F64ReinterpretI64 => Ok(()),
            O::I64Add => self.i64_carry(false),
            O::I64Sub => self.i64_carry(true),
            O::I64And => self.i64_bitwise(Binary::And),
            O::I64Or => self.i64_bitwise(Binary::Or),
            O::I64Xor => self.i64_bitwise(Binary::Xor),
            O::I64Mul => self.i64_mul(),
            O::I64Eqz => self.i64_eqz(),
            O::I64Eq => self.i64_compare(Cond::Eq, false),
            O::I64Ne => self.i64_compare(Cond::Ne, false),
            O::I64LtS => self.i64_compare(Cond::Lt, false),
            O::I64GeS => self.i64_compare(Cond::Ge, false),
            O::I64GtS => self.i64_compare(Cond::Lt, true),
            O::I64LeS => self.i64_compare(Cond::Ge, true),
            O::I64LtU => self.i64_compare(Cond::Lo, false),
            O::I64GeU => self.i64_compare(Cond::Hs, false),
            O::I64GtU => self.i64_compare(Cond::Lo, true),
            O::I64LeU => self.i64_compare(Cond::Hs, true),
            O::I32WrapI64 => {
                self.truncate(self.stack.len() - 1);
                Ok(())
            }
            O::I64ExtendI32U => {
                self.push(Entry::Const(0));
                Ok(())
            }
            O::I64ExtendI32S => self.i64_sign_extend(None),
            O::I64Extend32S => {
                self.truncate(self.stack.len() - 1);
                self.i64_sign_extend(None)
            }
            O::I64Extend8S => {
                self.truncate(self.stack.len() - 1);
                self.i64_sign_extend(Some(Unary::Extend8))
            }
            O::I64Extend16S => {
                self.truncate(self.stack.len() - 1);
                self.i64_sign_extend(Some(Unary::Extend16))
            }
            O::F64Add => self.f64_binary(Assembler::vadd),
            O::F64Sub => self.f64_binary(Assembler::vsub),
            O::F64Mul => self.f64_binary(Assembler::vmul),
            O::F64Div => self.f64_binary(Assembler::vdiv),
            O::F64Min => self.f64_min_max(false),
            O::F64Max => self.f64_min_max(true),
            O::F64Abs => self.f64_sign(false),
            O::F64Neg => self.f64_sign(true),
            O::F64Copysign => self.f64_copysign(),
            O::F64Sqrt => self.f64_unary(|a, d, v| a.vsqrt(d, v)),
            O::F64Ceil => self.f64_round(Rounding::PlusInfinity),
            O::F64Floor => self.f64_round(Rounding::MinusInfinity),
            O::F64Trunc => self.f64_round(Rounding::Zero),
            O::F64Nearest => self.f64_round(Rounding::NearestEven),
            O::F64Eq => self.f64_compare(Cond::Eq),
            O::F64Ne => self.f64_compare(Cond::Ne),
            O::F64Lt => self.f64_compare(Cond::Mi),
            O::F64Le => self.f64_compare(Cond::Ls),
            O::F64Gt => self.f64_compare(Cond::Gt),
            O::F64Ge => self.f64_compare(Cond::Ge),
            O::I64Load { memarg } | O::F64Load { memarg } => self.load_memory64(memarg),
            O::I64Store { memarg } | O::F64Store { memarg } => self.store_memory64(memarg),
            O::I64Load8S { memarg } => self.load_memory64_narrow(memarg, Width::S8, true),
            O::I64Load8U { memarg } => self.load_memory64_narrow(memarg, Width::U8, false),
            O::I64Load16S { memarg } => self.load_memory64_narrow(memarg, Width::S16, true),
            O::I64Load16U { memarg } => self.load_memory64_narrow(memarg, Width::U16, false),
            O::I64Load32S { memarg } => self.load_memory64_narrow(memarg, Width::W32, true),
            O::I64Load32U { memarg } => self.load_memory64_narrow(memarg, Width::W32, false),
            O::I64Store8 { memarg } => self.store_memory64_narrow(memarg, Width::U8),
            O::I64Store16 { memarg } => self.store_memory64_narrow(memarg, Width::U16),
            O::I64Store32 { memarg } => self.store_memory64_narrow(memarg, Width::W32),
            O::F64PromoteF32 => self.f64_from_word(|a| a.vcvt_float(FReg::D(0), FReg::S(0))),
            O::F64ConvertI32S => {
                self.f64_from_word(|a| a.vcvt_from_int(true, FReg::D(0), FReg::S(0)))
            }
            O::F64ConvertI32U => {
                self.f64_from_word(|a| a.vcvt_from_int(false, FReg::D(0), FReg::S(0)))
            }
            O::F32DemoteF64 => self.word_from_f64(|a| a.vcvt_float(FReg::S(0), FReg::D(0))),
            O::I32TruncSatF64S => {
                self.word_from_f64(|a| a.vcvt_to_int(true, FReg::S(0), FReg::D(0)))
            }
            O::I32TruncSatF64U => {
                self.word_from_f64(|a| a.vcvt_to_int(false, FReg::S(0), FReg::D(0)))
            }
            O::F64ConvertI64S => self.f64_convert_i64(true),
            O::F64ConvertI64U => self.f64_convert_i64(false),
            O::I64Shl => self.i64_shift(ShiftKind::Lsl),
            O::I64ShrU => self.i64_shift(ShiftKind::Lsr),
            O::I64ShrS => self.i64_shift(ShiftKind::Asr),
            O::I64Rotl => self.i64_rotate(true),
            O::I64Rotr => self.i64_rotate(false),
            O::I64Clz => self.i64_count(BitCount::Clz),
            O::I64Ctz => self.i64_count(BitCount::Ctz),
            O::I64Popcnt => self.i64_count(BitCount::Popcnt),
            O::I64DivS => self.i64_divide(true, false),
            O::I64DivU => self.i64_divide(false, false),
            O::I64RemS => self.i64_divide(true, true),
            O::I64RemU => self.i64_divide(false, true),
            O::I64TruncF32S => self.i64_trunc(false, true),
            O::I64TruncF32U => self.i64_trunc(false, false),
            O::I64TruncF64S => self.i64_trunc(true, true),
            O::I64TruncF64U => self.i64_trunc(true, false),
            O::I64TruncSatF32S => self.pure_libcall(Libcall::F32ToI64S, 1, 2),
            O::I64TruncSatF32U => self.pure_libcall(Libcall::F32ToI64U, 1, 2),
            O::I64TruncSatF64S => self.pure_libcall(Libcall::F64ToI64S, 2, 2),
            O::I64TruncSatF64U => self.pure_libcall(Libcall::F64ToI64U, 2, 2),
            O::F32ConvertI64S => self.pure_libcall(Libcall::F32FromI64S, 2, 1),
            O::F32ConvertI64U => self.pure_libcall(Libcall::F32FromI64U, 2, 1),
            O::I32TruncF64S => self.i32_trunc_f64(true),
            O::I32TruncF64U => self.i32_trunc_f64(false),
            O::RefNull { .. } => {
                self.push(Entry::Const(0));
                Ok(())
            }
            O::RefIsNull => self.eqz(),
            O::RefFunc { function_index } => self.ref_func(function_index),
            O::TableGet { table } => self.table_get(table),
            O::TableSet { table } => self.table_set(table),
            O::TableSize { table } => self.table_size(table),
            O::TableGrow { table } if self.table_is_64(table)? => self.table64_grow(table),
            O::TableGrow { table } => {
                // `TableGrow(vmctx, table r1, init r2, delta r3) -> u32`.
                self.bulk_libcall(
                    Libcall::TableGrow,
                    &[Word::Reg(Reg::R2), Word::Reg(Reg::R3)],
                    &[(Word::Reg(Reg::R1), table)],
                    0,
                    false,
                )?;
                self.stack.hold(Reg::R0);
                self.push(Entry::Reg(Reg::R0));
                Ok(())
            }
            O::TableFill { table } => {
                // `TableFill(vmctx, table r1, dst r2, value r3, len [sp])`.
                let wide = self.table_is_64(table)?;
                let mut words = Vec::with_capacity(5);
                Self::table_operand(&mut words, Word::Reg(Reg::R2), wide);
                words.push(Word::Reg(Reg::R3));
                Self::table_operand(&mut words, Word::Stack(0), wide);
                self.bulk_libcall(
                    Libcall::TableFill,
                    &words,
                    &[(Word::Reg(Reg::R1), table)],
                    8,
                    true,
                )
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                // `TableCopy(vmctx, dst_table r1, src_table r2, dst r3, src [sp], len [sp + 4])`.
                // Each address has its own table's index type; the length is an i64 only
                // between two 64-bit tables.
                let dst_wide = self.table_is_64(dst_table)?;
                let src_wide = self.table_is_64(src_table)?;
                let mut words = Vec::with_capacity(6);
                Self::table_operand(&mut words, Word::Reg(Reg::R3), dst_wide);
                Self::table_operand(&mut words, Word::Stack(0), src_wide);
                Self::table_operand(&mut words, Word::Stack(4), dst_wide && src_wide);
                self.bulk_libcall(
                    Libcall::TableCopy,
                    &words,
                    &[
                        (Word::Reg(Reg::R1), dst_table),
                        (Word::Reg(Reg::R2), src_table),
                    ],
                    8,
                    true,
                )
            }
            O::TableInit { elem_index, table } => {
                // `TableInit(vmctx, table r1, elem r2, dst r3, src [sp], len [sp + 4])`; only
                // `dst` has the table's index type.
                let mut words = Vec::with_capacity(4);
                Self::table_operand(&mut words, Word::Reg(Reg::R3), self.table_is_64(table)?);
                words.extend([Word::Stack(0), Word::Stack(4)]);
                self.bulk_libcall(
                    Libcall::TableInit,
                    &words,
                    &[
                        (Word::Reg(Reg::R1), table),
                        (Word::Reg(Reg::R2), elem_index),
                    ],
                    8,
                    true,
                )
            }
            O::ElemDrop { elem_index } => self.bulk_libcall(
                Libcall::ElemDrop,
                &[],
                &[(Word::Reg(Reg::R1), elem_index)],
                0,
                false,
            ),
            O::DataDrop { data_index } => self.bulk_libcall(
                Libcall::DataDrop,
                &[],
                &[(Word::Reg(Reg::R1), data_index)],
                0,
                false,
            ),
            O::GlobalGet { global_index } => self.global_get(global_index),
            O::GlobalSet { global_index } => self.global_set(global_index),
            O::Return => self.br(self.control.len() as u32 - 1),
            O::Call { function_index } => self.call(function_index),
            O::CallIndirect {
                type_index,
                table_index,
            } => self.call_indirect(type_index, table_index),
            ref other => Err(self.unsupported(operator_name(other))),
        }
    }

    /// Operators in unreachable code: only the control structure is followed.
    fn unreachable_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => {
                let end = self.asm.new_label();
                self.control.push(Frame {
                    kind: FrameKind::Block,
                    branch_target: end,
                    end,
                    height: self.stack.len(),
                    results: 0,
                    params: 0,
                    entry_params: Vec::new(),
                    reachable_at_entry: false,
                    branched_to: false,
                });
                Ok(())
            }
            Operator::Else => self.else_(),
            Operator::End => self.end(),
            _ => Ok(()),
        }
    }

    /// Binds a label where paths join: facts from one path do not hold on the others.
    fn bind_join(&mut self, label: Label) -> Result<(), CompileError> {
        self.checked.clear();
        self.checked_constant = 0;
        self.checked_zero.clear();
        self.emit(|a| a.bind(label))
    }

    /// A pool register for a window's base, held without an entry, when one is free (not in
    /// `avoid`; the base may take the last one: later allocations spill, and `allocate` ends
    /// the base when nothing is left to spill): callee-saved first; r0-r3 only when nothing in the
    /// window may call a helper (which would clobber them). `None` otherwise: the window goes
    /// without a base. ([`Self::allocate`] takes the register back when nothing else is left.)
    fn take_window_register(&mut self, avoid: &[Reg], calls: bool) -> Option<Reg> {
        self.take_base_register(avoid, calls, false)
    }

    /// [`Self::take_window_register`], trying r0-r3 first when `low_first` (a constant base:
    /// callee-saved registers stay for a window base that may start in its span, and so does
    /// the last free register).
    fn take_base_register(&mut self, avoid: &[Reg], calls: bool, low_first: bool) -> Option<Reg> {
        let free = |s: &ValueStack, r: Reg| s.is_free(r) && !avoid.contains(&r);
        // A constant base leaves one register for a window base, and gives its own to a window
        // base when none is left (a window base saves two instructions per access, it one).
        let needed = if low_first { 2 } else { 1 };
        if !low_first
            && POOL.iter().filter(|&&r| free(&self.stack, r)).count() < needed
            && let Some((_, reg, _)) = self.const_base.take()
        {
            self.stack.release(reg);
        }
        if POOL.iter().filter(|&&r| free(&self.stack, r)).count() < needed {
            return None;
        }
        let high = [Reg::R4, Reg::R5, Reg::R6, Reg::R9, Reg::R11];
        let low = [Reg::R3, Reg::R2, Reg::R1, Reg::R0]
            .into_iter()
            .filter(|_| !calls);
        let reg = if low_first {
            low.chain(high).find(|&r| free(&self.stack, r))?
        } else {
            high.into_iter()
                .chain(low)
                .find(|&r| free(&self.stack, r))?
        };
        self.stack.hold(reg);
        Some(reg)
    }

    /// One operator of the window and constant bases' spans has gone by: a base whose span
    /// is over ends (its register goes back to the pool).
    fn advance_bases(&mut self) {
        match self.window_base.as_mut() {
            Some((_, _, _, 0)) => self.end_window_base(),
            Some((_, _, _, left)) => *left -= 1,
            None => {}
        }
        match self.const_base {
            Some((_, reg, 0)) => {
                self.const_base = None;
                self.stack.release(reg);
            }
            Some((_, _, ref mut left)) => *left -= 1,
            None => {}
        }
    }

    /// Sets [`Self::const_plan`] for `op` when it is a load of memory 0 from a constant
    /// address `at` past the 12-bit immediate that no derived or constant base reaches, and at
    /// least two more constant-address accesses within `at - 255 ..= at + 4095` follow in its
    /// span ([`const_window`]).
    fn plan_const_window(&mut self, op: &Operator<'_>, rest: &[(Operator<'_>, u64)]) {
        let Some((memarg, _)) = load_access(op) else {
            return;
        };
        let Some(&Entry::Const(k)) = self.stack.entries.last() else {
            return;
        };
        let Ok(at) = u32::try_from(u64::from(k) + memarg.offset) else {
            return;
        };
        if !matches!(memarg.target, wasmparser::MemArgTarget::Memory(0))
            || at <= 4095
            || self.const_base_offset(at).is_some()
            || self.derived_base(memarg.offset as u32).is_some()
        {
            return;
        }
        let (count, span, calls) = const_window(rest, at);
        if count >= 2 {
            self.const_plan = Some((at, span, calls));
        }
    }

    /// The offset from the constant base of constant address `at`, when the base reaches it.
    fn const_base_offset(&self, at: u32) -> Option<i32> {
        let (base, _, _) = self.const_base?;
        let d = i64::from(at) - i64::from(base);
        (-255..=4095).contains(&d).then_some(d as i32)
    }

    /// Ends the window base, if any: its register goes back to the pool.
    fn end_window_base(&mut self) {
        if let Some((_, _, reg, _)) = self.window_base.take() {
            self.stack.release(reg);
        }
    }

    /// `local.get p; i32.const k; i32.add; <load offset=o>` in a window with a base for `p`
    /// (the `local.get` and `i32.const` are the top entries, the `i32.add` and the load are
    /// being compiled): `(at, width)` of the one `ldr rt, [rW, #at]` that replaces them, when
    /// a checked fact covers the access and `at = k - k0 + o` fits the load's immediate.
    fn window_load_at(&self, next: &Operator<'_>) -> Option<(i32, Width)> {
        let (local, low, _, left) = self.window_base?;
        // The load after the `i32.add` must be inside the window too.
        if left < 1 {
            return None;
        }
        let len = self.stack.len();
        let (Entry::Local(l), Entry::Const(k)) = (
            *self.stack.entries.get(len.checked_sub(2)?)?,
            *self.stack.entries.get(len - 1)?,
        ) else {
            return None;
        };
        let (memarg, width) = match *next {
            // An f32 load is a word into a core register here, as an `i32.load`.
            Operator::F32Load { memarg } => (memarg, Width::W32),
            ref load => i32_load(load)?,
        };
        if l != local || !matches!(memarg.target, wasmparser::MemArgTarget::Memory(0)) {
            return None;
        }
        let c = access_end(memarg.offset, width.bytes());
        if !self.checked.iter().any(|f| f.covers(local, k, c)) {
            return None;
        }
        // `k - k0` is within 2^30 either way (the window's loads), the offset below 2^32.
        let at = i64::from(k.wrapping_sub(low) as i32) + memarg.offset as i64;
        (-255..=4095).contains(&at).then_some((at as i32, width))
    }

    /// Compiles the `i32.add` and load that [`Self::window_load_at`] matched.
    fn window_load(&mut self, at: i32, width: Width) -> Result<(), CompileError> {
        let Some((_, _, base, _)) = self.window_base else {
            return Err(self.internal("window load without a base"));
        };
        // Both entries are lazy (a constant, a local read): no register to free.
        self.stack.entries.truncate(self.stack.len() - 2);
        let dst = self.destination(&[])?;
        self.emit(|a| a.ldr(width, dst, Addr::Offset(base, at)))?;
        self.push_result(dst);
        Ok(())
    }

    /// At an `i32.add` of `local.get l; i32.const k` (the top entries) followed by a sum access
    /// (`sum_access_operator` on `rest`, the operators after the `i32.add`): the plan of
    /// compiling them together, when the access needs no check (a fact covers it, or a loop
    /// counter keeps it within the minimum length) and a base reaches it in one instruction:
    /// a derived `r7 + k + o`, or `r7 + l` in ip with `k + o` as the immediate. A load that
    /// would start an access window (section 8) keeps the ordinary path unless the window's
    /// reach is in range too and `r7 + k` is a derived base (the window base is `rB + l`).
    fn sum_access_plan(
        &self,
        rest: &[(Operator<'_>, u64)],
    ) -> Result<Option<SumAccess>, CompileError> {
        let len = self.stack.len();
        let (Some(&Entry::Local(word)), Some(&Entry::Const(k))) = (
            self.stack.entries.get(len.wrapping_sub(2)),
            self.stack.entries.get(len.wrapping_sub(1)),
        ) else {
            return Ok(None);
        };
        let Some((memarg, width, store)) = sum_access_operator(rest) else {
            return Ok(None);
        };
        let memory = self.memory_target(memarg.target)?;
        if memory.index != 0 || memory.ty.index64 || self.home(word).is_none() {
            return Ok(None);
        }
        let min_length = memory.ty.min.saturating_mul(memory.ty.page_size());
        let c = access_end(memarg.offset, width.bytes());
        let covered = self.checked.iter().any(|f| f.covers(word, k, c));
        let in_range = |below: u32, c: u64| {
            self.counter_bound(word, k.wrapping_sub(below))
                .is_some_and(|bound| u64::from(bound) + c <= min_length)
        };
        if !covered && !in_range(0, c) {
            return Ok(None);
        }
        let Ok(at) = u32::try_from(u64::from(k) + memarg.offset) else {
            return Ok(None);
        };
        let base = self.derived_base(at);
        // A window this load would start (section 8): served by a window base `rB + l`.
        let mut window = None;
        if !store && !covered {
            let (extent, below, span, calls) =
                window_extent(&rest[1..], word, k, |index| self.local_words(index).ok());
            if extent > c || below > 0 {
                let reach = c.max(extent) + u64::from(below);
                if memarg.offset != 0 || base.is_none() || span == 0 || !in_range(below, reach) {
                    return Ok(None);
                }
                window = Some((below, reach, span, calls));
            }
        }
        if base.is_none() && at > 4095 {
            return Ok(None);
        }
        Ok(Some(SumAccess {
            word,
            k,
            at,
            c,
            width,
            store,
            base,
            window,
        }))
    }

    /// Compiles the `i32.add` and the access `plan` describes; `first` is the first operator
    /// it took (a store's value; the load itself otherwise).
    fn sum_access(&mut self, plan: SumAccess, first: &Operator<'_>) -> Result<(), CompileError> {
        // The constant is lazy: nothing to free. The local's register (its home) stays.
        self.stack.entries.truncate(self.stack.len() - 1);
        let local = self.pop_src(false)?;
        let Operand::Reg(rl) = local.operand() else {
            return Err(self.internal("sum access without a register"));
        };
        let value = if plan.store {
            self.operator(first)?;
            Some(self.pop_src(false)?)
        } else {
            None
        };
        let (low, extent) = match plan.window {
            Some((below, reach, _, _)) => (plan.k.wrapping_sub(below), reach),
            None => (plan.k, plan.c),
        };
        if !self
            .checked
            .iter()
            .any(|f| f.covers(plan.word, low, extent))
        {
            self.record_fact(Fact {
                local: plan.word,
                low,
                extent,
            });
        }
        let flags = self.flags();
        let address = |a: &mut Assembler| -> Result<Addr, AsmError> {
            Ok(match plan.base {
                Some(base) => Addr::Indexed(base, rl, 0),
                None => {
                    a.add(flags, Reg::R12, Reg::R7, rl)?;
                    Addr::Offset(Reg::R12, plan.at as i32)
                }
            })
        };
        if let Some(value) = value {
            let Operand::Reg(v) = value.operand() else {
                return Err(self.internal("immediate stored value"));
            };
            self.emit(|a| {
                let addr = address(a)?;
                a.str(plan.width, v, addr)
            })?;
            self.release_sources(&[value, local], Reg::R12);
            return Ok(());
        }
        let dst = self.destination(&[local])?;
        if let (Some((_, _, span, calls)), Some(base)) = (plan.window, plan.base) {
            self.window_span = (span, calls);
            if let Some(w) = self.take_window_register(&[dst, rl], calls) {
                self.emit(|a| {
                    a.add(flags, w, base, rl)?;
                    a.ldr(plan.width, dst, Addr::Offset(w, 0))
                })?;
                self.window_base = Some((plan.word, plan.k, w, span));
                self.release_sources(&[local], dst);
                self.push_result(dst);
                return Ok(());
            }
        }
        self.emit(|a| {
            let addr = address(a)?;
            a.ldr(plan.width, dst, addr)
        })?;
        self.release_sources(&[local], dst);
        self.push_result(dst);
        Ok(())
    }

    /// Records a checked fact, widening one about the same `local + low` (facts die at
    /// joins, so the list stays short; past [`MAX_FACTS`] the oldest goes).
    fn record_fact(&mut self, fact: Fact) {
        match self
            .checked
            .iter_mut()
            .find(|f| (f.local, f.low) == (fact.local, fact.low))
        {
            Some(f) => f.extent = f.extent.max(fact.extent),
            None => {
                if self.checked.len() == MAX_FACTS {
                    self.checked.remove(0);
                }
                self.checked.push(fact);
            }
        }
    }

    /// Sets [`Self::window`] for `op` when it is a load of memory 0 through `local + k` that no
    /// fact covers and loads of `local + k'` in its window reach further (DESIGN.md section 8,
    /// "Access windows"). `rest`: the operators after `op`.
    fn plan_window(&mut self, op: &Operator<'_>, rest: &[(Operator<'_>, u64)]) {
        let Some((memarg, size)) = load_access(op) else {
            return;
        };
        if !matches!(memarg.target, wasmparser::MemArgTarget::Memory(0)) {
            return;
        }
        let Some((local, k)) = self.entry_local(0) else {
            return;
        };
        let c = access_end(memarg.offset, size);
        if self.checked.iter().any(|f| f.covers(local, k, c)) {
            return;
        }
        let (extent, below, span, calls) =
            window_extent(rest, local, k, |index| self.local_words(index).ok());
        if extent > c || below > 0 {
            self.window = Some((local, k, extent, below));
            self.window_span = (span, calls);
        }
    }

    /// Local `index` is being written: facts about its old value die.
    fn forget_local(&mut self, index: u32) {
        self.checked.retain(|f| f.local != index);
        self.checked_zero.retain(|l| *l != index);
        self.counters.retain(|c| c.0 != index);
    }

    /// The largest value (unsigned) of `word + k` (mod 2^32) when the local word is a loop
    /// counter in range and the sum does not wrap within the range.
    fn counter_bound(&self, word: u32, k: u32) -> Option<u32> {
        let &(_, low, width, _) = self.counters.iter().find(|c| c.0 == word)?;
        let first = low.wrapping_add(k);
        first.checked_add(width)
    }

    fn local_set(&mut self, index: u32, tee: bool) -> Result<(), CompileError> {
        self.forget_local(index);
        if let Some(home) = self.fhome(index) {
            // An f32 local in an FP home: one `vmov` (none for `local.set` of its own value).
            let value = self.pop_f32()?;
            self.materialize_local(index)?;
            if value.reg() != home {
                self.emit(|a| a.vmov(home, value.reg()))?;
            }
            self.release_f32_sources(&[value], None);
            if tee {
                self.push(Entry::Local(index));
            }
            return Ok(());
        }
        // A local kept in its slot copied into a home register: one `ldr` into the home.
        if let (Some(home), Some(&Entry::Local(source))) =
            (self.home(index), self.stack.entries.last())
            && source != index
            && self.home(source).is_none()
            && self.fhome(source).is_none()
        {
            self.stack.entries.pop();
            self.materialize_local(index)?;
            let offset = self.local_offset(source);
            self.emit(|a| a.ldr(Width::W32, home, Addr::Offset(Reg::SP, offset)))?;
            if tee {
                self.push(Entry::Local(index));
            }
            return Ok(());
        }
        // The value first: a lazy read of this local as the value itself reads the old value.
        let value = self.pop_src(true)?;
        self.materialize_local(index)?;
        let flags = self.flags();
        match self.home(index) {
            Some(home) => {
                match value {
                    Src::Owned(r) => {
                        self.emit(|a| a.mov(Flags::Preserve, home, r))?;
                        self.stack.release(r);
                    }
                    Src::Home(h) if h != home => {
                        self.emit(|a| a.mov(Flags::Preserve, home, h))?;
                    }
                    Src::Home(_) => {}
                    Src::Imm(v) => self.emit(|a| a.mov(flags, home, v))?,
                }
                if tee {
                    self.push(Entry::Local(index));
                }
            }
            None => {
                let offset = self.local_offset(index);
                let (r, owned) = match value {
                    Src::Owned(r) => (r, true),
                    Src::Home(h) => (h, false),
                    Src::Imm(v) => {
                        self.emit(|a| a.mov(flags, Reg::R12, v))?;
                        (Reg::R12, false)
                    }
                };
                self.emit(|a| a.str(Width::W32, r, Addr::Offset(Reg::SP, offset)))?;
                match (tee, owned) {
                    (true, true) => {
                        self.push(Entry::Reg(r));
                        // The register is the local's value: facts and windows see `index + 0`.
                        self.sum_origin = Some((self.stack.len() - 1, index, 0));
                    }
                    (true, false) => self.push(Entry::Local(index)),
                    (false, true) => self.stack.release(r),
                    (false, false) => {}
                }
            }
        }
        Ok(())
    }

    /// The test for branching/selecting on the top entry: a pending comparison is used as is,
    /// a constant decides at compile time, any other value is compared with zero. Afterwards the
    /// flags are live when the test is [`Test::Flags`].
    fn pop_condition(&mut self) -> Result<Test, CompileError> {
        if let Some(&Entry::Local(index)) = self.stack.entries.last()
            && self.flags_local == Some(index)
        {
            // The operator before set the flags from this local's new value (nothing emitted
            // since): Z is clear iff it is non-zero.
            self.stack.entries.pop();
            self.flags_live = true;
            return Ok(Test::Flags(Cond::Ne));
        }
        if let Some(&Entry::Cond(cond)) = self.stack.entries.last() {
            self.stack.entries.pop();
            self.flags_live = true;
            return Ok(Test::Flags(cond));
        }
        if let Some(&Entry::Const(value)) = self.stack.entries.last() {
            self.stack.entries.pop();
            return Ok(if value != 0 {
                Test::Always
            } else {
                Test::Never
            });
        }
        // A local in its home register is compared in place.
        let value = self.pop_src(false)?;
        let Operand::Reg(r) = value.operand() else {
            return Err(self.internal("immediate condition"));
        };
        self.emit(|a| a.cmp(r, 0))?;
        self.release_sources(&[value], Reg::R12);
        self.flags_live = true;
        Ok(Test::Flags(Cond::Ne))
    }

    fn select(&mut self) -> Result<(), CompileError> {
        let test = self.pop_condition()?;
        // Homed locals are read in place; the flags stay live until the IT block.
        let mut if_false = self.pop_src(true)?;
        if let Src::Imm(v) = if_false
            && !single_instruction_constant(v)
        {
            // It goes inside a one-instruction IT block.
            let r = self.allocate()?;
            self.emit(|a| a.mov(Flags::Preserve, r, v))?;
            if_false = Src::Owned(r);
        }
        let if_true = self.pop_src(false)?;
        let dst = self.destination(&[if_true, if_false])?;
        let (Operand::Reg(t), f) = (if_true.operand(), if_false.operand()) else {
            return Err(self.internal("immediate select operand"));
        };
        self.emit(|a| match test {
            Test::Always if dst == t => Ok(()),
            Test::Always => a.mov(Flags::Preserve, dst, t),
            Test::Never => a.mov(Flags::Preserve, dst, f),
            Test::Flags(c) if dst == t => {
                a.it(c.invert(), &[])?;
                a.mov(Flags::Preserve, dst, f)
            }
            Test::Flags(c) if f == Operand::Reg(dst) => {
                a.it(c, &[])?;
                a.mov(Flags::Preserve, dst, t)
            }
            Test::Flags(c) => {
                a.mov(Flags::Preserve, dst, t)?;
                a.it(c.invert(), &[])?;
                a.mov(Flags::Preserve, dst, f)
            }
        })?;
        self.flags_live = false;
        self.release_sources(&[if_true, if_false], dst);
        self.push_result(dst);
        Ok(())
    }

    /// `select` of a two-word value: both words move under one IT block.
    fn select_pair(&mut self) -> Result<(), CompileError> {
        let test = self.pop_condition()?;
        let false_hi = self.pop_reg()?;
        let false_lo = self.pop_reg()?;
        let true_hi = self.pop_reg()?;
        let true_lo = self.pop_reg()?;
        self.flags_live = false;
        match test {
            Test::Always => {}
            Test::Never => self.emit(|a| {
                a.mov(Flags::Any, true_lo, false_lo)?;
                a.mov(Flags::Any, true_hi, false_hi)
            })?,
            Test::Flags(c) => self.emit(|a| {
                a.it(c.invert(), &[true])?;
                a.mov(Flags::Preserve, true_lo, false_lo)?;
                a.mov(Flags::Preserve, true_hi, false_hi)
            })?,
        }
        self.stack.release(false_lo);
        self.stack.release(false_hi);
        self.push(Entry::Reg(true_lo));
        self.push(Entry::Reg(true_hi));
        Ok(())
    }

    fn binary(&mut self, op: Binary) -> Result<(), CompileError> {
        self.materialize_cond()?;
        // A constant left operand of a commutative operation becomes the right one.
        let len = self.stack.len();
        if op.commutative()
            && matches!(self.stack.entries[len - 2], Entry::Const(_))
            && !matches!(self.stack.entries[len - 1], Entry::Const(_))
        {
            self.stack.entries.swap(len - 2, len - 1);
        }
        if op == Binary::Mul && self.multiply_add {
            self.multiply_add = false;
            return self.multiply_accumulate();
        }
        if op == Binary::Mul
            && let Entry::Const(k) = self.stack.entries[len - 1]
            && let Some(form) = ConstantMultiply::of(k)
        {
            self.stack.entries.pop();
            let value = self.pop_src(false)?;
            let dst = self.destination(&[value])?;
            let Operand::Reg(x) = value.operand() else {
                return Err(self.internal("immediate multiplicand"));
            };
            self.emit(|a| match form {
                ConstantMultiply::Shift(n) => {
                    a.shift(ShiftKind::Lsl, Flags::Any, dst, x, Operand::Imm(n as u32))
                }
                ConstantMultiply::ShiftAdd(n) => {
                    a.add(Flags::Any, dst, x, Operand::Shifted(x, ShiftKind::Lsl, n))
                }
                ConstantMultiply::ShiftSub(n) => {
                    a.rsb(Flags::Any, dst, x, Operand::Shifted(x, ShiftKind::Lsl, n))
                }
            })?;
            self.release_sources(&[value], dst);
            self.push_result(dst);
            return Ok(());
        }
        let sum = match (op, self.stack.entries[len - 2], self.stack.entries[len - 1]) {
            (Binary::Add, Entry::Local(local), Entry::Const(k)) if self.fused_set.is_none() => {
                Some((len - 2, local, k))
            }
            _ => None,
        };
        // `mul` has no immediate form.
        let rhs = self.pop_src(op != Binary::Mul)?;
        let lhs = self.pop_src(false)?;
        let dst = self.destination(&[lhs, rhs])?;
        let (l, r) = (lhs.operand(), rhs.operand());
        let Operand::Reg(l) = l else {
            return Err(self.internal("immediate left operand"));
        };
        // `x op y; local.tee i; br_if`: the flags of the operation are the test.
        let tested = match self.fused_set {
            Some((local, true)) if self.flags_for_test && op != Binary::Mul => Some(local),
            _ => None,
        };
        let flags = if tested.is_some() {
            Flags::Set
        } else {
            Flags::Any
        };
        self.emit(|a| match op {
            Binary::Add => a.add(flags, dst, l, r),
            Binary::Sub => a.sub(flags, dst, l, r),
            Binary::And => a.and(flags, dst, l, r),
            Binary::Or => a.orr(flags, dst, l, r),
            Binary::Xor => a.eor(flags, dst, l, r),
            Binary::Mul => match r {
                Operand::Reg(r) => a.mul(Flags::Any, dst, l, r),
                _ => unreachable!("mul operands are registers"),
            },
        })?;
        self.release_sources(&[lhs, rhs], dst);
        self.push_result(dst);
        if op == Binary::Add {
            self.sum_origin = sum;
        }
        self.pending_flags_local = tested;
        Ok(())
    }

    /// `acc + a * b` (an `i32.mul` fused with the `i32.add` after it): `mla`.
    fn multiply_accumulate(&mut self) -> Result<(), CompileError> {
        let b = self.pop_src(false)?;
        let a = self.pop_src(false)?;
        let acc = self.pop_src(false)?;
        let dst = self.destination(&[acc, a, b])?;
        let (Operand::Reg(rb), Operand::Reg(ra), Operand::Reg(racc)) =
            (b.operand(), a.operand(), acc.operand())
        else {
            return Err(self.internal("immediate mla operand"));
        };
        self.emit(|asm| asm.mla(dst, ra, rb, racc))?;
        self.release_sources(&[acc, a, b], dst);
        self.push_result(dst);
        Ok(())
    }

    /// A shift or rotation by a constant fused into the binary operator after it
    /// ([`Self::shift_into`]): `op rd, lhs, value, <shift> #n`.
    /// `rotate_left`: an `i32.rotl`, a rotation right by the complement.
    fn shifted_binary(
        &mut self,
        kind: ShiftKind,
        op: Binary,
        rotate_left: bool,
    ) -> Result<(), CompileError> {
        let Some(Entry::Const(n)) = self.stack.entries.pop() else {
            return Err(self.internal("fused shift without a constant amount"));
        };
        let n = if rotate_left {
            32u32.wrapping_sub(n)
        } else {
            n
        } & 31;
        let value = self.pop_src(false)?;
        let lhs = self.pop_src(false)?;
        let dst = self.destination(&[lhs, value])?;
        let (Operand::Reg(l), Operand::Reg(v)) = (lhs.operand(), value.operand()) else {
            return Err(self.internal("immediate operand of a fused shift"));
        };
        let rhs = if n == 0 {
            Operand::Reg(v)
        } else {
            Operand::Shifted(v, kind, n as u8)
        };
        self.emit(|a| match op {
            Binary::Add => a.add(Flags::Any, dst, l, rhs),
            Binary::Sub => a.sub(Flags::Any, dst, l, rhs),
            Binary::And => a.and(Flags::Any, dst, l, rhs),
            Binary::Or => a.orr(Flags::Any, dst, l, rhs),
            Binary::Xor => a.eor(Flags::Any, dst, l, rhs),
            Binary::Mul => unreachable!("mul is never fused into a shift"),
        })?;
        self.release_sources(&[lhs, value], dst);
        self.push_result(dst);
        Ok(())
    }

    fn shift(&mut self, kind: ShiftKind) -> Result<(), CompileError> {
        self.materialize_cond()?;
        if let Some(op) = self.shift_into.take() {
            return self.shifted_binary(kind, op, false);
        }
        let amount = self.pop_src(true)?;
        let value = self.pop_src(false)?;
        let dst = self.destination(&[value, amount])?;
        let Operand::Reg(source) = value.operand() else {
            return Err(self.internal("immediate shifted value"));
        };
        match amount {
            Src::Imm(n) => {
                let n = n & 31;
                self.emit(|a| a.shift(kind, Flags::Any, dst, source, Operand::Imm(n)))?;
            }
            Src::Owned(r) | Src::Home(r) => {
                // Wasm counts modulo 32; lsl/lsr/asr by register use the bottom byte.
                if kind == ShiftKind::Ror {
                    self.emit(|a| a.shift(kind, Flags::Any, dst, source, Operand::Reg(r)))?;
                } else {
                    self.emit(|a| {
                        a.and(Flags::Any, Reg::R12, r, 31)?;
                        a.shift(kind, Flags::Any, dst, source, Operand::Reg(Reg::R12))
                    })?;
                }
            }
        }
        self.release_sources(&[value, amount], dst);
        self.push_result(dst);
        Ok(())
    }

    fn rotl(&mut self) -> Result<(), CompileError> {
        self.materialize_cond()?;
        if let Some(op) = self.shift_into.take() {
            return self.shifted_binary(ShiftKind::Ror, op, true);
        }
        let amount = self.pop_src(true)?;
        let value = self.pop_src(false)?;
        let dst = self.destination(&[value, amount])?;
        let Operand::Reg(source) = value.operand() else {
            return Err(self.internal("immediate rotated value"));
        };
        match amount {
            Src::Imm(n) => {
                let n = 32u32.wrapping_sub(n) & 31;
                if n != 0 {
                    self.emit(|a| {
                        a.shift(ShiftKind::Ror, Flags::Any, dst, source, Operand::Imm(n))
                    })?;
                } else if dst != source {
                    self.emit(|a| a.mov(Flags::Any, dst, source))?;
                }
            }
            Src::Owned(r) | Src::Home(r) => {
                // rotl(x, n) = rotr(x, -n); ror by register takes the count modulo 32.
                self.emit(|a| {
                    a.rsb(Flags::Any, Reg::R12, r, 0)?;
                    a.shift(
                        ShiftKind::Ror,
                        Flags::Any,
                        dst,
                        source,
                        Operand::Reg(Reg::R12),
                    )
                })?;
            }
        }
        self.release_sources(&[value, amount], dst);
        self.push_result(dst);
        Ok(())
    }

    fn unary(&mut self, op: Unary) -> Result<(), CompileError> {
        let r = self.pop_reg()?;
        self.emit(|a| match op {
            Unary::Clz => a.clz(r, r),
            Unary::Ctz => {
                a.rbit(r, r)?;
                a.clz(r, r)
            }
            Unary::Extend8 => a.sxtb(r, r, 0),
            Unary::Extend16 => a.sxth(r, r, 0),
            Unary::Popcnt => wide::emit_popcount(a, r),
        })?;
        self.push(Entry::Reg(r));
        Ok(())
    }

    fn divide(&mut self, signed: bool, remainder: bool) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let divisor = self.pop_operand()?;
        let constant = match divisor {
            Operand::Imm(v) => Some(v),
            _ => None,
        };
        let divisor = match divisor {
            Operand::Reg(r) => r,
            Operand::Imm(v) => {
                let r = self.allocate()?;
                self.emit(|a| a.mov(Flags::Any, r, v))?;
                r
            }
            Operand::Shifted(..) => return Err(self.internal("shifted operand")),
        };
        let dividend = self.pop_reg()?;
        if constant.is_none() || constant == Some(0) {
            self.emit(|a| a.cmp(divisor, 0))?;
            self.branch_to_trap(Cond::Eq, TrapCode::IntegerDivisionByZero)?;
        }
        if signed && !remainder && (constant.is_none() || constant == Some(u32::MAX)) {
            // INT_MIN / -1 overflows: EQ after both compares.
            self.emit(|a| {
                a.cmn(divisor, 1)?;
                a.it(Cond::Eq, &[])?;
                a.cmp(dividend, 0x8000_0000)
            })?;
            self.branch_to_trap(Cond::Eq, TrapCode::IntegerOverflow)?;
        }
        self.emit(|a| {
            let quotient = if remainder { Reg::R12 } else { dividend };
            if signed {
                a.sdiv(quotient, dividend, divisor)?;
            } else {
                a.udiv(quotient, dividend, divisor)?;
            }
            if remainder {
                // dividend - quotient * divisor (INT_MIN rem -1 = INT_MIN - INT_MIN = 0).
                a.mls(dividend, Reg::R12, divisor, dividend)?;
            }
            Ok(())
        })?;
        self.stack.release(divisor);
        self.push(Entry::Reg(dividend));
        Ok(())
    }

    fn compare(&mut self, cond: Cond) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let len = self.stack.len();
        // `k op x` is `x op' k` with the operands swapped.
        let cond = if matches!(self.stack.entries[len - 2], Entry::Const(_))
            && !matches!(self.stack.entries[len - 1], Entry::Const(_))
        {
            self.stack.entries.swap(len - 2, len - 1);
            swapped(cond)
        } else {
            cond
        };
        let rhs = self.pop_src(true)?;
        let lhs = self.pop_src(false)?;
        let Operand::Reg(l) = lhs.operand() else {
            return Err(self.internal("immediate left operand"));
        };
        let r = rhs.operand();
        self.emit(|a| a.cmp(l, r))?;
        self.release_sources(&[lhs, rhs], Reg::R12);
        self.push(Entry::Cond(cond));
        Ok(())
    }

    fn eqz(&mut self) -> Result<(), CompileError> {
        if let Some(&Entry::Cond(cond)) = self.stack.entries.last() {
            // Integer conditions have exact inverses.
            *self.stack.entries.last_mut().unwrap() = Entry::Cond(cond.invert());
            return Ok(());
        }
        let value = self.pop_src(false)?;
        let Operand::Reg(r) = value.operand() else {
            return Err(self.internal("immediate operand"));
        };
        self.emit(|a| a.cmp(r, 0))?;
        self.release_sources(&[value], Reg::R12);
        self.push(Entry::Cond(Cond::Eq));
        Ok(())
    }

    // ---- control flow ----

    /// Parameter and result words of a block type (at most four each: the join registers).
    fn block_arity(&self, blockty: BlockType) -> Result<(usize, usize), CompileError> {
        let (params, results) = match blockty {
            BlockType::Empty => (0, 0),
            BlockType::Type(t) => (
                0,
                parser_words(t).ok_or_else(|| self.unsupported(format!("{t:?} block results")))?,
            ),
            BlockType::FuncType(t) => {
                let ty = self
                    .module
                    .types
                    .get(t as usize)
                    .ok_or_else(|| self.internal(format!("no type {t}")))?;
                match (words_of(&ty.params), words_of(&ty.results)) {
                    (Some(p), Some(r)) => (p, r),
                    _ => return Err(self.unsupported("v128 block types")),
                }
            }
        };
        Ok((params, results))
    }

    fn enter(&mut self, kind: FrameKind, blockty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_arity(blockty)?;
        self.settle()?;
        let end = self.asm.new_label();
        let branch_target = if kind == FrameKind::Loop {
            // A loop's parameters live in their join locations at its header, where back edges
            // put them too (DESIGN.md section 3.4).
            if params > JOIN.len() {
                let base = self.stack.len() - params;
                self.copy_to_slots(base, params)?;
                for position in base..self.stack.len() {
                    self.release_entry(self.stack.entries[position]);
                    self.stack.entries[position] = Entry::Spilled;
                }
            } else {
                self.place_results(params)?;
            }
            let header = self.asm.new_label();
            self.bind_join(header)?;
            header
        } else {
            end
        };
        self.control.push(Frame {
            kind,
            branch_target,
            end,
            height: self.stack.len() - params,
            results,
            params,
            entry_params: Vec::new(),
            reachable_at_entry: true,
            branched_to: false,
        });
        Ok(())
    }

    fn enter_if(&mut self, blockty: BlockType) -> Result<(), CompileError> {
        let (params, results) = self.block_arity(blockty)?;
        let test = self.pop_condition()?;
        self.settle()?;
        let height = self.stack.len() - params;
        let entry_params = self.stack.entries[height..].to_vec();
        let else_label = self.asm.new_label();
        let end = self.asm.new_label();
        match test {
            Test::Always => {}
            Test::Never => self.emit(|a| a.b(Cond::Al, else_label))?,
            Test::Flags(c) => self.emit(|a| a.b(c.invert(), else_label))?,
        }
        self.flags_live = false;
        self.control.push(Frame {
            kind: FrameKind::If { else_label },
            branch_target: end,
            end,
            height,
            results,
            params,
            entry_params,
            reachable_at_entry: true,
            branched_to: false,
        });
        Ok(())
    }

    fn else_(&mut self) -> Result<(), CompileError> {
        let frame = self
            .control
            .last()
            .cloned()
            .ok_or_else(|| self.internal("else without a frame"))?;
        let FrameKind::If { else_label } = frame.kind else {
            // A dead frame (pushed in unreachable code): stays dead.
            return Ok(());
        };
        if self.reachable {
            self.place_join(frame.results, frame.height)?;
            self.emit(|a| a.b(Cond::Al, frame.end))?;
            self.control.last_mut().unwrap().branched_to = true;
        }
        self.truncate(frame.height);
        self.bind_join(else_label)?;
        // The else path starts from the state at `if` entry.
        for &entry in &frame.entry_params {
            self.push(entry);
        }
        let top = self.control.last_mut().unwrap();
        top.kind = FrameKind::Else;
        self.reachable = frame.reachable_at_entry;
        Ok(())
    }

    fn end(&mut self) -> Result<(), CompileError> {
        let frame = self
            .control
            .pop()
            .ok_or_else(|| self.internal("end without a frame"))?;
        if self.reachable {
            self.place_join(frame.results, frame.height)?;
        }
        let mut reachable = self.reachable || frame.branched_to;
        if let FrameKind::If { else_label } = frame.kind {
            if frame.entry_params.is_empty() {
                // No `else`: the false path arrives here with no results (validation
                // guarantees there are none).
                self.bind_join(else_label)?;
            } else {
                // No `else`: the false path's results are the parameters, still where they
                // were at entry; they move to the join registers like the true path's.
                if self.reachable {
                    self.emit(|a| a.b(Cond::Al, frame.end))?;
                }
                self.truncate(frame.height);
                self.bind_join(else_label)?;
                for &entry in &frame.entry_params {
                    self.push(entry);
                }
                self.place_join(frame.results, frame.height)?;
            }
            reachable |= frame.reachable_at_entry;
        }
        self.truncate(frame.height);
        self.bind_join(frame.end)?;
        if frame.kind == FrameKind::Loop {
            // Only fall-through reaches the end of a loop.
            reachable = self.reachable;
        }
        self.reachable = reachable;
        if frame.kind == FrameKind::Function {
            return Ok(());
        }
        self.push_join(frame.results);
        Ok(())
    }

    fn br(&mut self, depth: u32) -> Result<(), CompileError> {
        let index = self.control.len() - 1 - depth as usize;
        let frame = self.control[index].clone();
        let arity = if frame.kind == FrameKind::Loop {
            frame.params
        } else {
            frame.results
        };
        self.place_join(arity, frame.height)?;
        self.emit(|a| a.b(Cond::Al, frame.branch_target))?;
        self.control[index].branched_to = true;
        let height = self.control.last().map_or(0, |f| f.height);
        self.truncate(height);
        self.reachable = false;
        Ok(())
    }

    fn br_if(&mut self, depth: u32) -> Result<(), CompileError> {
        let index = self.control.len() - 1 - depth as usize;
        let frame = self.control[index].clone();
        let arity = if frame.kind == FrameKind::Loop {
            frame.params
        } else {
            frame.results
        };
        let test = self.pop_condition()?;
        let cond = match test {
            Test::Never => return Ok(()),
            Test::Always => return self.br(depth),
            Test::Flags(c) => c,
        };
        if arity > JOIN.len() && self.stack.len() - arity != frame.height {
            // Join slots below the values are live on the fall-through path: only the branch
            // path copies the values there.
            let skip = self.asm.new_label();
            self.flags_live = false;
            self.emit(|a| a.b(cond.invert(), skip))?;
            self.copy_to_slots(frame.height, arity)?;
            self.emit(|a| {
                a.b(Cond::Al, frame.branch_target)?;
                a.bind(skip)
            })?;
            self.control[index].branched_to = true;
            return Ok(());
        }
        // Results go to their join locations on both paths (moves and stores preserve the
        // flags) and stay there as the fall-through path's entries.
        self.place_join(arity, frame.height)?;
        self.flags_live = false;
        self.emit(|a| a.b(cond, frame.branch_target))?;
        self.control[index].branched_to = true;
        Ok(())
    }

    fn br_table(&mut self, table: &wasmparser::BrTable<'_>) -> Result<(), CompileError> {
        let mut depths = table
            .targets()
            .collect::<Result<Vec<u32>, _>>()
            .map_err(|e| self.invalid(&e))?;
        depths.push(table.default());
        if depths.len() > 0x1_0000 {
            return Err(self.unsupported("br_table with more than 65535 targets"));
        }
        let default_frame = &self.control[self.control.len() - 1 - table.default() as usize];
        // Every target has the same arity (validation); a loop's is its parameters.
        let arity = if default_frame.kind == FrameKind::Loop {
            default_frame.params
        } else {
            default_frame.results
        };
        // The index must survive the result moves: keep it out of the join registers. A
        // local's home register is used as it is (the index is not written below).
        let (mut index, owned) = match self.pop_src(false)? {
            Src::Owned(r) => (r, true),
            Src::Home(r) => (r, false),
            Src::Imm(_) => return Err(self.internal("immediate br_table index")),
        };
        let in_slots = arity > JOIN.len();
        if !in_slots && JOIN[..arity].contains(&index) {
            let r = loop {
                if let Some(r) = self.stack.take_free_except(&JOIN[..arity]) {
                    break r;
                }
                let oldest = self
                    .stack
                    .oldest_register_entry()
                    .ok_or_else(|| self.internal("no register for the br_table index"))?;
                self.spill(oldest)?;
            };
            self.emit(|a| a.mov(Flags::Any, r, index))?;
            self.stack.release(index);
            index = r;
        }
        if !in_slots {
            self.place_results(arity)?;
        }
        let last = depths.len() as u32 - 1;
        // Forward targets are block ends; a loop header is behind, so its entry goes to a
        // stub after the table that branches back.
        let mut stubs: Vec<(usize, Label)> = Vec::new();
        let mut labels = Vec::with_capacity(depths.len());
        for &depth in &depths {
            let frame_index = self.control.len() - 1 - depth as usize;
            let frame = &self.control[frame_index];
            // Join slots depend on the target's height: each target then gets a stub that
            // copies the values there.
            let label = if frame.kind == FrameKind::Loop || in_slots {
                match stubs.iter().find(|(f, _)| *f == frame_index) {
                    Some(&(_, stub)) => stub,
                    None => {
                        let stub = self.asm.new_label();
                        stubs.push((frame_index, stub));
                        stub
                    }
                }
            } else {
                frame.end
            };
            self.control[frame_index].branched_to = true;
            labels.push(label);
        }
        // Out-of-range indices branch to the default (the last label); the table holds the
        // others.
        self.emit(|a| {
            if last == 0 {
                return a.b(Cond::Al, labels[0]);
            }
            a.cmp(index, last)?;
            a.b(Cond::Hs, labels[last as usize])?;
            a.tbh(index, &labels[..last as usize])
        })?;
        if owned {
            self.stack.release(index);
        }
        for (frame_index, stub) in stubs {
            let target = self.control[frame_index].branch_target;
            let height = self.control[frame_index].height;
            self.emit(|a| a.bind(stub))?;
            if in_slots {
                self.copy_to_slots(height, arity)?;
            }
            self.emit(|a| a.b(Cond::Al, target))?;
        }
        let height = self.control.last().map_or(0, |f| f.height);
        self.truncate(height);
        self.reachable = false;
        Ok(())
    }

    /// A direct call to a function of this module (DESIGN.md sections 3.6 and 6.1).
    fn call(&mut self, function_index: u32) -> Result<(), CompileError> {
        let callee = self
            .module
            .functions
            .get(function_index as usize)
            .ok_or_else(|| self.internal(format!("no function {function_index}")))?
            .clone();
        let how = if function_index < self.module.num_imported_funcs {
            Callee::Import(function_index)
        } else {
            Callee::Direct(function_index)
        };
        self.call_with(&callee, how)
    }

    /// `call_indirect`: the element at the index popped first, checked against the table's
    /// length (`UndefinedElement`), for null (`UninitializedElement`) and for its type
    /// (`IndirectCallTypeMismatch`), parked in the callee slot, then called like an import.
    fn call_indirect(&mut self, type_index: u32, table_index: u32) -> Result<(), CompileError> {
        let callee = self
            .module
            .types
            .get(type_index as usize)
            .ok_or_else(|| self.internal(format!("no type {type_index}")))?
            .clone();
        check_call_signature(self, &callee)?;
        let table = *self
            .module
            .tables
            .get(table_index as usize)
            .ok_or_else(|| self.internal(format!("no table {table_index}")))?;
        let slot = self
            .callee_slot
            .ok_or_else(|| self.internal("call_indirect without a callee slot"))?;
        self.makes_calls = true;
        let offsets = self.module.offsets;
        let imported = table_index < self.module.num_imported_tables;
        let definition = if imported {
            offsets.imported_table(table_index) as i32
        } else {
            offsets.defined_table(table_index - self.module.num_imported_tables) as i32
        };
        let base = offsets.table_base() as i32;
        let length = offsets.table_length() as i32;
        let type_id = offsets.func_ref_type_id() as i32;
        let expected = offsets.type_id(type_index) as i32;
        if table.index64 {
            // Past the end of any table, like an index past this one's.
            self.pop_high_word(TrapCode::UndefinedElement)?;
        }
        let index = self.pop_reg()?;
        let undefined = self.trap_label(TrapCode::UndefinedElement);
        let null = self.trap_label(TrapCode::UninitializedElement);
        let mismatch = self.trap_label(TrapCode::IndirectCallTypeMismatch);
        let at = (self.sp_adjust + slot) as i32;
        self.emit(|a| {
            // lr is free: the function calls, so the prologue saved it.
            let (table, base, length) = if imported {
                a.ldr(Width::W32, Reg::LR, Addr::Offset(Reg::R10, definition))?;
                (Reg::LR, base, length)
            } else {
                (Reg::R10, definition + base, definition + length)
            };
            a.ldr(Width::W32, Reg::R12, Addr::Offset(table, length))?;
            a.cmp(index, Reg::R12)?;
            a.b(Cond::Hs, undefined)?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(table, base))?;
            a.ldr(Width::W32, index, Addr::Indexed(Reg::R12, index, 2))?;
            a.cmp(index, 0u32)?;
            a.b(Cond::Eq, null)?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(index, type_id))?;
            a.ldr(Width::W32, Reg::LR, Addr::Offset(Reg::R10, expected))?;
            a.cmp(Reg::R12, Reg::LR)?;
            a.b(Cond::Ne, mismatch)?;
            a.str(Width::W32, index, Addr::Offset(Reg::SP, at))
        })?;
        self.stack.release(index);
        self.call_with(&callee, Callee::Indirect)
    }

    /// The call sequence of DESIGN.md section 3.6 for the arguments on top of the stack.
    fn call_with(&mut self, callee: &Signature, how: Callee) -> Result<(), CompileError> {
        check_call_signature(self, callee)?;
        let params = words_of(&callee.params).unwrap_or(0);
        let results = words_of(&callee.results).unwrap_or(0);
        self.makes_calls = true;
        let args_base = self.stack.len() - params;
        // 1. Values below the arguments in caller-saved registers move to free callee-saved
        //    ones, or to their slots.
        self.save_caller_saved(params)?;
        // 2. Stack arguments (those past the fourth), stored in order below the new `sp`.
        let stack_args = params.saturating_sub(JOIN.len());
        // Results past r0-r3 come back in the return area above the stack arguments (DESIGN.md
        // section 6.1).
        let return_area = 4 * results.saturating_sub(JOIN.len()) as u32;
        let outgoing = (4 * stack_args as u32 + return_area).next_multiple_of(8);
        if outgoing > 0 {
            self.emit(|a| a.sub(Flags::Any, Reg::SP, Reg::SP, outgoing))?;
            self.sp_adjust = outgoing;
            for k in (0..stack_args).rev() {
                let value = self.pop_src(true)?;
                let r = match value {
                    Src::Owned(r) | Src::Home(r) => r,
                    Src::Imm(v) => {
                        self.emit(|a| a.mov(Flags::Any, Reg::R12, v))?;
                        Reg::R12
                    }
                };
                let at = 4 * k as i32;
                self.emit(|a| a.str(Width::W32, r, Addr::Offset(Reg::SP, at)))?;
                self.release_sources(&[value], Reg::R12);
            }
        }
        // 3. Register arguments, as a parallel move into r0-r3.
        let in_registers = params - stack_args;
        self.place_results(in_registers)?;
        // The callee (or the host behind an import) consumes and reads the slice.
        self.store_fuel()?;
        match how {
            Callee::Direct(f) => self.emit(|a| a.bl_call(Symbol::Function(f)))?,
            Callee::Import(f) => self.call_func_ref(Some(f))?,
            Callee::Indirect => self.call_func_ref(None)?,
        }
        // After the instance registers (call_func_ref reloads r7/r8).
        self.restore_derived()?;
        self.reload_pinned()?;
        if results > JOIN.len() {
            // Every result word to the slot of its position (the values below are settled
            // next, keeping invariant 2).
            for k in 0..results {
                let to = self.slot_offset(args_base + k);
                let area = 4 * (stack_args + k) as i32 - 4 * JOIN.len() as i32;
                self.emit(|a| {
                    let word = match JOIN.get(k) {
                        Some(&r) => r,
                        None => {
                            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::SP, area))?;
                            Reg::R12
                        }
                    };
                    a.str(Width::W32, word, Addr::Offset(Reg::SP, to))
                })?;
            }
            self.spill_height = self.spill_height.max(args_base + results);
        }
        if outgoing > 0 {
            self.emit(|a| a.add(Flags::Any, Reg::SP, Reg::SP, outgoing))?;
            self.sp_adjust = 0;
        }
        self.truncate(args_base);
        if results > JOIN.len() {
            self.settle()?;
        }
        self.push_join(results);
        Ok(())
    }

    /// The call itself through a `VMFuncRef` (DESIGN.md section 6.1): an import's in the
    /// vmctx, or (`None`) the one `call_indirect` parked in the callee slot. The callee's vmctx
    /// goes in r10, ours in r12 (for a wasm-to-array trampoline), `blx`; then our instance
    /// registers back (the callee set its own).
    fn call_func_ref(&mut self, import: Option<u32>) -> Result<(), CompileError> {
        let offsets = self.module.offsets;
        let code = offsets.func_ref_wasm_call() as i32;
        let vmctx = offsets.func_ref_vmctx() as i32;
        let (func_ref, base) = match import {
            Some(f) => (offsets.func_ref(f) as i32, Reg::R10),
            None => {
                let slot = self
                    .callee_slot
                    .ok_or_else(|| self.internal("indirect call without a callee slot"))?;
                let at = (self.sp_adjust + slot) as i32;
                // lr is free here (the call overwrites it) and is not an argument register.
                self.emit(|a| a.ldr(Width::W32, Reg::LR, Addr::Offset(Reg::SP, at)))?;
                (0, Reg::LR)
            }
        };
        let code = func_ref + code;
        let vmctx = func_ref + vmctx;
        let slot = self
            .vmctx_slot
            .ok_or_else(|| self.internal("call leaving the instance without a vmctx slot"))?;
        let slot = (self.sp_adjust + slot) as i32;
        let memory = self.module.memories.first().copied();
        let imported_memory = self.module.num_imported_memories > 0;
        let bias = memory.as_ref().map_or(0, memory_bound_bias);
        self.emit(|a| {
            // lr is free here (the call overwrites it) and is not an argument register. The
            // base (r10 or lr) is read before it is overwritten.
            if base == Reg::R10 {
                a.ldr(Width::W32, Reg::LR, Addr::Offset(base, code))?;
                a.mov(Flags::Any, Reg::R12, Reg::R10)?;
                a.ldr(Width::W32, Reg::R10, Addr::Offset(base, vmctx))?;
            } else {
                a.mov(Flags::Any, Reg::R12, Reg::R10)?;
                a.ldr(Width::W32, Reg::R10, Addr::Offset(base, vmctx))?;
                a.ldr(Width::W32, Reg::LR, Addr::Offset(base, code))?;
            }
            a.blx(Reg::LR)?;
            a.ldr(Width::W32, Reg::R10, Addr::Offset(Reg::SP, slot))?;
            if memory.is_some() {
                let (definition, at) = if imported_memory {
                    a.ldr(
                        Width::W32,
                        Reg::R12,
                        Addr::Offset(Reg::R10, offsets.imported_memory(0) as i32),
                    )?;
                    (Reg::R12, 0)
                } else {
                    (Reg::R10, offsets.defined_memory(0) as i32)
                };
                a.ldr(Width::W32, Reg::R7, Addr::Offset(definition, at))?;
                a.ldr(
                    Width::W32,
                    Reg::R8,
                    Addr::Offset(definition, at + MEMORY_LENGTH as i32),
                )?;
                if bias > 0 {
                    a.sub(Flags::Any, Reg::R8, Reg::R8, bias)?;
                }
            }
            Ok(())
        })
    }

    // ---- prologue, epilogue ----

    fn finish(mut self) -> Result<CompiledFunction, CompileError> {
        if !self.control.is_empty() {
            return Err(self.internal("frames left open"));
        }
        // Results are in r0..; the epilogue label is bound (end of the function frame).
        let saved: Vec<Reg> = self.stack.used_callee_saved();
        // `lr` is pushed when anything is (so the return is one `pop`) and when the function
        // calls (which overwrites it).
        if self.results > JOIN.len() {
            // The epilogue reads the function's join slots even when no path reached them.
            self.spill_height = self.spill_height.max(self.results);
        }
        let push_lr = !saved.is_empty()
            || self.makes_calls
            || self.derived.iter().any(|(r, _)| *r == Reg::LR);
        // FP cache and home registers s16.. are saved by one `vpush` below the core registers
        // (DESIGN.md section 4).
        let fp_saved = self.stack.saved_fp_count();
        let pushed = 4 * (saved.len() as u32 + u32::from(push_lr) + u32::from(fp_saved));
        let mut frame = self.locals_size() + 8 * self.spill_height as u32;
        // `sp` is 8-aligned at calls (AAPCS); a leaf needs no alignment (the core aligns
        // exception frames itself).
        if self.makes_calls {
            frame = (pushed + frame).next_multiple_of(8) - pushed;
        }
        let mut list = RegList::of(&saved);
        if push_lr {
            list.0 |= 1 << Reg::PC.num();
        }
        // The caller reads the slice from memory.
        self.store_fuel()?;
        if self.results > JOIN.len() {
            // The results are in the slots of positions 0.. (the function's join slots): the
            // first four go to r0-r3, the rest to the caller's return area above our stack
            // arguments (DESIGN.md section 6.1).
            let area = (frame + pushed) as i32 + 4 * self.params.saturating_sub(JOIN.len()) as i32;
            for k in 0..self.results {
                let from = self.slot_offset(k);
                self.emit(|a| match JOIN.get(k) {
                    Some(&r) => a.ldr(Width::W32, r, Addr::Offset(Reg::SP, from)),
                    None => {
                        a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::SP, from))?;
                        let to = area + 4 * (k - JOIN.len()) as i32;
                        a.str(Width::W32, Reg::R12, Addr::Offset(Reg::SP, to))
                    }
                })?;
            }
        }
        self.emit(|a| {
            if frame > 0 {
                a.add(Flags::Any, Reg::SP, Reg::SP, frame)?;
            }
            if fp_saved > 0 {
                a.vpop(FReg::S(16), fp_saved)?;
            }
            if push_lr { a.pop(list) } else { a.bx(Reg::LR) }
        })?;
        // The cold tail.
        self.emit_slow_paths()?;
        for (code, label) in std::mem::take(&mut self.trap_labels) {
            // A trap leaves the slice as paid so far.
            self.emit(|a| a.bind(label))?;
            self.store_fuel()?;
            self.emit(|a| a.udf(trap_immediate(code)))?;
            let at = self.asm.last_instruction_offset();
            self.traps.push((at, code));
        }
        let body = std::mem::replace(&mut self.asm, Assembler::new(self.profile))
            .finish()
            .map_err(|e| self.asm_error(e))?;

        // The prologue, now that the frame is known.
        let mut prologue = Assembler::new(self.profile);
        let params = self.params;
        let locals = self.locals;
        let body_has_literals = body.pool_bytes > 0;
        let check_stack = self.makes_calls || pushed + frame > UNCHECKED_LEAF_FRAME;
        let homes = self.homes.clone();
        let fhomes = self.fhomes.clone();
        let vmctx_slot = self.vmctx_slot;
        let slot_of = self.slot_of.clone();
        let derived = self.derived.clone();
        let pinned = self.pinned;
        let offsets = self.module.offsets;
        let prologue_traps = (|| -> Result<Vec<(u32, TrapCode)>, AsmError> {
            let a = &mut prologue;
            let mut traps = Vec::new();
            if push_lr {
                let mut list = RegList::of(&saved);
                list.0 |= 1 << Reg::LR.num();
                a.push(list)?;
            }
            if fp_saved > 0 {
                a.vpush(FReg::S(16), fp_saved)?;
            }
            if frame > 0 {
                a.sub(Flags::Any, Reg::SP, Reg::SP, frame)?;
            }
            if check_stack {
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, STORE_CONTEXT))?;
                a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, STACK_LIMIT))?;
                a.cmp(Reg::SP, Reg::R12)?;
                let fine = a.new_label();
                a.b_near(Cond::Hs, fine)?;
                a.udf(trap_immediate(TrapCode::StackOverflow))?;
                traps.push((a.last_instruction_offset(), TrapCode::StackOverflow));
                a.bind(fine)?;
            }
            // Parameters to their homes or slots: r0-r3, then the caller's stack.
            let mut pair_done = false;
            for i in 0..params {
                if std::mem::take(&mut pair_done) {
                    continue;
                }
                // Two parameter words homed in the halves of one double register (an f64, or
                // two f32s), both in r0-r3: one `vmov d, r, r`.
                if let (Some(FReg::S(lo)), Some(Some(FReg::S(hi)))) = (fhomes[i], fhomes.get(i + 1))
                    && lo % 2 == 0
                    && *hi == lo + 1
                    && i + 1 < 4
                {
                    a.vmov_to_d(
                        FReg::D(lo / 2),
                        Reg::new(i as u8).unwrap(),
                        Reg::new(i as u8 + 1).unwrap(),
                    )?;
                    pair_done = true;
                    continue;
                }
                let slot = Addr::Offset(Reg::SP, slot_of[i] as i32);
                let incoming = Addr::Offset(Reg::SP, (frame + pushed) as i32 + 4 * (i as i32 - 4));
                if let Some(f) = fhomes[i] {
                    match i < 4 {
                        true => a.vmov_to_s(f, Reg::new(i as u8).unwrap())?,
                        false => {
                            let Addr::Offset(base, at) = incoming else {
                                unreachable!()
                            };
                            a.vldr(f, base, at)?
                        }
                    }
                    continue;
                }
                match (homes[i], i < 4) {
                    (Some(home), true) => a.mov(Flags::Any, home, Reg::new(i as u8).unwrap())?,
                    (Some(home), false) => a.ldr(Width::W32, home, incoming)?,
                    (None, true) => a.str(Width::W32, Reg::new(i as u8).unwrap(), slot)?,
                    (None, false) => {
                        a.ldr(Width::W32, Reg::R12, incoming)?;
                        a.str(Width::W32, Reg::R12, slot)?;
                    }
                }
            }
            if let Some(slot) = vmctx_slot {
                a.str(Width::W32, Reg::R10, Addr::Offset(Reg::SP, slot as i32))?;
            }
            // Declared locals start at zero.
            if (params..locals).any(|i| homes[i].is_none()) {
                a.mov(Flags::Any, Reg::R0, 0)?;
            }
            for (i, home) in homes.iter().enumerate().take(locals).skip(params) {
                match home {
                    Some(home) => a.mov(Flags::Any, *home, 0)?,
                    None if let Some(f) = fhomes[i] => a.vmov_to_s(f, Reg::R0)?,
                    None => a.str(
                        Width::W32,
                        Reg::R0,
                        Addr::Offset(Reg::SP, slot_of[i] as i32),
                    )?,
                }
            }
            // The derived registers (saved above), then the fuel register.
            for &(reg, derived) in &derived {
                derived.emit(a, reg)?;
            }
            let sc = derived
                .iter()
                .find(|(_, d)| *d == Derived::StoreContext)
                .map(|(r, _)| *r);
            load_pinned(a, pinned, sc, offsets)?;
            // Keep the body's 4-byte alignment when its PC-relative loads depend on it.
            if body_has_literals && !a.offset().is_multiple_of(4) {
                a.nop()?;
            }
            Ok(traps)
        })()
        .map_err(|e| self.asm_error(e))?;
        let prologue = prologue.finish().map_err(|e| self.asm_error(e))?;
        let shift = prologue.code.len() as u32;
        let mut code = prologue.code;
        code.extend_from_slice(&body.code);
        let mut traps = prologue_traps;
        traps.extend(self.traps.iter().map(|&(at, c)| (at + shift, c)));
        traps.sort_by_key(|t| t.0);
        Ok(CompiledFunction {
            code,
            traps,
            calls: body.calls.iter().map(|&(at, s)| (at + shift, s)).collect(),
        })
    }
}

/// Operators whose result register comes from [`FunctionCompiler::destination`], so a following
/// `local.set` can be fused into them.
fn writes_result_register(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::I32Add
            | Operator::I32Sub
            | Operator::I32Mul
            | Operator::I32And
            | Operator::I32Or
            | Operator::I32Xor
            | Operator::I32Shl
            | Operator::I32ShrU
            | Operator::I32ShrS
            | Operator::I32Rotr
            | Operator::I32Rotl
            | Operator::I32Load { .. }
            | Operator::I32Load8U { .. }
            | Operator::I32Load8S { .. }
            | Operator::I32Load16U { .. }
            | Operator::I32Load16S { .. }
            | Operator::F32Load { .. }
            | Operator::Select
            | Operator::TypedSelect { .. }
    )
}

/// f32 operators whose result goes through [`FunctionCompiler::f32_destination`], so a
/// following `local.set`/`local.tee` of an f32 local with an FP home writes the home directly.
fn writes_f32_register(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::F32Add
            | Operator::F32Sub
            | Operator::F32Mul
            | Operator::F32Div
            | Operator::F32Sqrt
            | Operator::F32Abs
            | Operator::F32Neg
    )
}

/// Core-register words of a value of type `t`: 1 for i32, f32 and references, 2 for i64 and
/// f64 (low word first, DESIGN.md section 6.1); `None` for v128.
pub(crate) fn words(t: ValType) -> Option<usize> {
    match t {
        ValType::I64 | ValType::F64 => Some(2),
        ValType::V128 => None,
        _ => Some(1),
    }
}

/// Words of a parameter or result list, `None` when a type has no word representation.
pub(crate) fn words_of(types: &[ValType]) -> Option<usize> {
    types.iter().map(|&t| words(t)).sum()
}

/// [`words`] of a wasmparser type.
fn parser_words(t: wasmparser::ValType) -> Option<usize> {
    match t {
        wasmparser::ValType::I64 | wasmparser::ValType::F64 => Some(2),
        wasmparser::ValType::V128 => None,
        _ => Some(1),
    }
}

/// How a call reaches its callee.
#[derive(Clone, Copy, Debug)]
enum Callee {
    /// `bl` to a function of the module.
    Direct(u32),
    /// Through the `VMFuncRef` of an imported function.
    Import(u32),
    /// Through the `VMFuncRef` `call_indirect` parked in the callee slot.
    Indirect,
}

/// Refuses the signatures calls do not support yet.
fn check_call_signature(
    compiler: &FunctionCompiler<'_>,
    callee: &Signature,
) -> Result<(), CompileError> {
    if let Some(t) = callee
        .params
        .iter()
        .chain(&callee.results)
        .find(|t| words(**t).is_none())
    {
        return Err(compiler.unsupported(format!("calls with {t:?} in the signature")));
    }
    Ok(())
}

/// Where a word of a libcall's arguments goes: an argument register or an offset from `sp`
/// in the outgoing area.
#[derive(Clone, Copy, Debug)]
enum Word {
    Reg(Reg),
    Stack(u32),
    /// Not an argument: the high word of a table64 operand, trapping with its code unless 0.
    HighZero(TrapCode),
}

/// A memory an operator accesses.
#[derive(Clone, Copy, Debug)]
struct MemoryRef {
    /// Module-level index (imports first); memory 0 has the instance registers r7/r8.
    index: u32,
    ty: MemoryType,
    /// For memory 0, `length - r8` ([`memory_bound_bias`]); 0 for the others.
    bias: u32,
}

/// An f32 operand in an FP register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FSrc {
    /// A cache register the operator owns (free it or push it).
    Owned(FReg),
    /// An f32 local's home register, read in place (never written).
    Home(FReg),
}

impl FSrc {
    fn reg(self) -> FReg {
        match self {
            FSrc::Owned(f) | FSrc::Home(f) => f,
        }
    }
}

/// FP home registers at most (single registers from s16 up, two for an f64 local): the rest of
/// s16-s29 stays the FP cache.
const FP_HOMES: u8 = 8;

/// A source operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Src {
    /// A register the operation owns (it may write it, and frees or pushes it).
    Owned(Reg),
    /// A local's home register: read only.
    Home(Reg),
    /// An immediate.
    Imm(u32),
}

impl Src {
    fn operand(self) -> Operand {
        match self {
            Src::Owned(r) | Src::Home(r) => Operand::Reg(r),
            Src::Imm(v) => Operand::Imm(v),
        }
    }
}

/// What the pre-scan of a body found (it reads operators without validating them; a malformed
/// body stops the scan, and the main pass reports it).
struct Prescan {
    /// Loop-weighted use counts of each local: every `local.get`/`set`/`tee` counts 8^depth
    /// (depth in loops, at most 3).
    weights: Vec<u64>,
    /// Whether the body calls an import (which may run another instance's code).
    leaves_instance: bool,
    /// Whether the body has a `call_indirect`.
    indirect: bool,
    /// Loop-weighted count of each `(offset, size)` of memory-0 accesses: the first
    /// [`PRESCAN_ACCESS_KINDS`] distinct ones (a bounded search per access keeps the scan
    /// linear).
    accesses: Vec<((u64, u32), u64)>,
    /// Loop-weighted count of calls, `memory.grow` and bulk-memory and table operators (the
    /// libcalls a body certainly makes; soft-float and i64 division helpers are not counted).
    calls: u64,
    /// The weight of an operator in the innermost loop (1 without loops).
    innermost: u64,
}

/// A body's operators, decoded once by the pre-scan for both passes.
struct Decoded<'a> {
    /// Every operator before the first that does not decode, with its offset in the module.
    ops: Vec<(Operator<'a>, u64)>,
    /// Why decoding stopped early: the main pass reports it once it has compiled (and
    /// validated) every operator before that point.
    error: Option<wasmparser::BinaryReaderError>,
    /// The reader after the last operator, for the end-of-body checks after the main pass.
    reader: wasmparser::OperatorsReader<'a>,
}

/// Distinct `(offset, size)` pairs the pre-scan counts.
const PRESCAN_ACCESS_KINDS: usize = 16;

/// The pre-scan of a body (section 3.5): local weights, calls, memory accesses; and the
/// operators it decoded on the way, which the main pass compiles.
fn prescan(
    reader: wasmparser::BinaryReader<'_>,
    locals: usize,
    imported_funcs: u32,
) -> (Prescan, Decoded<'_>) {
    let mut scan = Prescan {
        weights: vec![0u64; locals],
        leaves_instance: false,
        indirect: false,
        accesses: Vec::new(),
        calls: 0,
        innermost: 1,
    };
    let mut loops: Vec<bool> = Vec::new();
    let mut loop_depth = 0u32;
    // About one operator per two bytes of body in compiled code; the vector grows if not.
    let mut ops = Vec::with_capacity(reader.bytes_remaining() / 2 + 1);
    let mut error = None;
    let mut reader = wasmparser::OperatorsReader::new(reader);
    while !reader.eof() {
        let (op, offset) = match reader.read_with_offset() {
            Ok(read) => read,
            Err(e) => {
                error = Some(e);
                break;
            }
        };
        let depth = loop_depth.min(3);
        let weight = 1u64 << (3 * depth);
        match op {
            Operator::Loop { .. } => {
                loops.push(true);
                loop_depth += 1;
                scan.innermost = scan.innermost.max(1u64 << (3 * loop_depth.min(3)));
            }
            Operator::Block { .. } | Operator::If { .. } => loops.push(false),
            Operator::Call { function_index } => {
                scan.calls += weight;
                if function_index < imported_funcs {
                    scan.leaves_instance = true;
                }
            }
            Operator::CallIndirect { .. } => {
                scan.calls += weight;
                scan.leaves_instance = true;
                scan.indirect = true;
            }
            Operator::MemoryGrow { .. }
            | Operator::MemoryFill { .. }
            | Operator::MemoryCopy { .. }
            | Operator::MemoryInit { .. }
            | Operator::TableGrow { .. }
            | Operator::TableFill { .. }
            | Operator::TableCopy { .. }
            | Operator::TableInit { .. } => scan.calls += weight,
            Operator::End => {
                if loops.pop() == Some(true) {
                    loop_depth -= 1;
                }
            }
            Operator::LocalGet { local_index }
            | Operator::LocalSet { local_index }
            | Operator::LocalTee { local_index } => {
                if let Some(w) = scan.weights.get_mut(local_index as usize) {
                    *w += weight;
                }
            }
            _ => {
                if let Some((memarg, size)) = memory_access(&op)
                    && matches!(memarg.target, wasmparser::MemArgTarget::Memory(0))
                {
                    let key = (memarg.offset, size);
                    let kinds = scan.accesses.len();
                    match scan.accesses.iter_mut().find(|(k, _)| *k == key) {
                        Some((_, w)) => *w += weight,
                        None if kinds < PRESCAN_ACCESS_KINDS => {
                            scan.accesses.push((key, weight));
                        }
                        None => {}
                    }
                }
            }
        }
        ops.push((op, offset));
    }
    (scan, Decoded { ops, error, reader })
}

/// `offset + size` of an access, capped at 2^33: any value above 2^31 is out of bounds on every
/// Cortex-M (lengths stay below 2^31) and the cap keeps sums with a 32-bit index exact in u64
/// (a memory64 offset may be as large as 2^64 - 1).
fn access_end(offset: u64, size: u32) -> u64 {
    offset.saturating_add(u64::from(size)).min(1 << 33)
}

/// What is known about the index of an access to memory 0 (DESIGN.md section 8).
#[derive(Clone, Copy, Debug, Default)]
struct IndexOrigin {
    /// `(local, k)`: the index is `local + k` (mod 2^32); see [`FunctionCompiler::entry_local`].
    local: Option<(u32, u32)>,
    /// The index is at most this (unsigned); see [`FunctionCompiler::bounded`].
    bound: Option<u32>,
}

/// A checked fact (DESIGN.md section 8): `(local + low) mod 2^32 + extent <= length` was
/// checked for the current value of the local word `local`.
#[derive(Clone, Copy, Debug)]
struct Fact {
    local: u32,
    low: u32,
    extent: u64,
}

impl Fact {
    /// Whether an access of `c` bytes past `local + k` (mod 2^32) is in bounds by this fact.
    /// With `s = local + low` (mod 2^32) and `d = k - low` (mod 2^32): `s + extent <= length <
    /// 2^31` and `d < 2^31` make `s + d` exact in 32 bits, so the access's index is `s + d` and
    /// it ends at `s + d + c <= s + extent` when `d + c <= extent`.
    fn covers(&self, local: u32, k: u32, c: u64) -> bool {
        let d = k.wrapping_sub(self.low);
        local == self.local && d < 1 << 31 && u64::from(d) + c <= self.extent
    }
}

/// At most this many checked facts are kept at once.
const MAX_FACTS: usize = 16;

/// At most this many operators after a load are searched for its window.
const WINDOW_OPERATORS: usize = 512;

/// `(extent, below, span, calls)` of the access window of a load through `local + k`
/// (DESIGN.md section 8, "Access windows"): how far past `local + k` the loads of memory 0
/// through `local + k'` in it reach, relative to `local + k` (0 when none does); how far below
/// it the lowest of them starts (at most [`MAX_BELOW`]; 0 when none does); how many operators
/// it holds when a window base would serve a later `local + k'` sum (else 0); whether any of
/// them may call a helper. `rest` are the operators after that load; `words` gives a wasm local's
/// words `(first, count)`.
///
/// The window is the run of operators that cannot trap with any other code than a load's
/// (`MemoryOutOfBounds`), branch, call out, or change anything a trap leaves observable:
/// arithmetic that cannot trap, constants, `local.get`, `global.get`, `local.set/tee` of other
/// locals, `select`, `drop` and loads. A load of `local + k'` is matched on the operators
/// `local.get local; i32.const k'; i32.add` (or `local.get local` alone, `k' = 0`) right before
/// it; `k' - k` (mod 2^32) must be below 2^30 and the reach below 2^20, or `k - k'` at most
/// [`MAX_BELOW`], so the reach is exact arithmetic.
fn window_extent(
    rest: &[(Operator<'_>, u64)],
    local: u32,
    k: u32,
    words: impl Fn(u32) -> Option<(u32, u32)>,
) -> (u64, u32, usize, bool) {
    let is_local = |index: u32| words(index) == Some((local, 1));
    let mut extent = 0;
    let mut below = 0;
    let mut calls = false;
    let mut sums = false;
    let mut span = 0;
    for (i, (op, _)) in rest.iter().take(WINDOW_OPERATORS).enumerate() {
        if let Some((memarg, size)) = load_access(op) {
            let origin = match (i.checked_sub(3).map(|j| &rest[j..i]), i.checked_sub(1)) {
                (
                    Some(
                        [
                            (Operator::LocalGet { local_index }, _),
                            (Operator::I32Const { value }, _),
                            (Operator::I32Add, _),
                        ],
                    ),
                    _,
                ) if is_local(*local_index) => Some((*value as u32, true)),
                (_, Some(j)) if matches!(rest[j].0, Operator::LocalGet { local_index } if is_local(local_index)) => {
                    Some((0, false))
                }
                _ => None,
            };
            if let Some((k2, sum)) = origin
                && matches!(memarg.target, wasmparser::MemArgTarget::Memory(0))
            {
                let end = access_end(memarg.offset, size);
                let reach = u64::from(k2.wrapping_sub(k)) + end;
                let under = k.wrapping_sub(k2);
                if k2.wrapping_sub(k) < 1 << 30 && reach < 1 << 20 {
                    extent = extent.max(reach);
                    // A later sum the window base would turn into one `ldr`.
                    sums |= sum && reach - u64::from(size) <= 4095;
                } else if under <= MAX_BELOW && end < 1 << 20 {
                    // A load below `local + k`: it starts `under` bytes before it.
                    below = below.max(under);
                    extent = extent.max(end.saturating_sub(u64::from(under)));
                    // Its `ldr` from the base reaches back at most 255 bytes.
                    sums |= sum && memarg.offset + 255 >= u64::from(under) && end <= 4095;
                }
            }
            span = i + 1;
            continue;
        }
        match *op {
            Operator::LocalSet { local_index } | Operator::LocalTee { local_index } => {
                match words(local_index) {
                    Some((first, n)) if (first..first + n).contains(&local) => break,
                    Some(_) => {}
                    None => break,
                }
            }
            ref op if cannot_trap_or_branch(op) => calls |= may_call_a_helper(op),
            _ => break,
        }
        span = i + 1;
    }
    (extent, below, if sums { span } else { 0 }, calls)
}

/// After an `i32` load the compile loop took along with the operator it compiles (a window
/// load, a sum access): a `local.set/tee` of a local with a home register right after it is
/// fused too, as after any load (the result goes straight to the home).
fn fuse_local_set(
    compiler: &mut FunctionCompiler<'_>,
    validator: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    ops: &mut std::vec::IntoIter<(Operator<'_>, u64)>,
) -> Result<(), CompileError> {
    let Some((Operator::LocalSet { local_index } | Operator::LocalTee { local_index }, _)) =
        ops.as_slice().first()
    else {
        return Ok(());
    };
    let local_index = *local_index;
    if compiler.word_local(local_index, 0).is_none()
        || compiler
            .home(compiler.local_base[local_index as usize])
            .is_none()
    {
        return Ok(());
    }
    let set = take_operator(compiler, validator, ops)?;
    let tee = matches!(set, Operator::LocalTee { .. });
    compiler.fused_set = Some((compiler.local_base[local_index as usize], tee));
    Ok(())
}

/// Takes the next operator for the one being compiled (a fused access, a local.set): through
/// the validator, and counted against the window and constant bases' spans.
fn take_operator<'a>(
    compiler: &mut FunctionCompiler<'_>,
    validator: &mut wasmparser::FuncValidator<wasmparser::ValidatorResources>,
    ops: &mut std::vec::IntoIter<(Operator<'a>, u64)>,
) -> Result<Operator<'a>, CompileError> {
    let (op, offset) = ops
        .next()
        .ok_or_else(|| compiler.internal("a fused operator is missing"))?;
    validator
        .op(offset, &op)
        .map_err(|e| compiler.invalid(&e))?;
    compiler.advance_bases();
    Ok(op)
}

/// A sum access the compile loop compiles with its `i32.add` ([`FunctionCompiler::
/// sum_access_plan`]).
#[derive(Clone, Copy, Debug)]
struct SumAccess {
    /// The local word `l` and the constant `k` of the sum.
    word: u32,
    k: u32,
    /// `k + o`: the derived base's value, or the immediate from `r7 + l`.
    at: u32,
    /// The access's end past `l + k`.
    c: u64,
    width: Width,
    store: bool,
    base: Option<Reg>,
    /// A window it starts: `(below, reach from l + k - below, span, calls)`.
    window: Option<(u32, u64, usize, bool)>,
}

/// Where a loop's counter is in range: the body's operators `from..to` (indices into the
/// decoded operators), from the loop's header to the first write of the counter (its step)
/// or the loop's `end`.
#[derive(Clone, Copy, Debug)]
struct CounterScope {
    from: usize,
    to: usize,
    counter: Counter,
}

/// The scopes of every loop counter of a body ([`loop_counter`]), in operator order.
fn counter_scopes(ops: &[(Operator<'_>, u64)]) -> Vec<CounterScope> {
    let mut scopes = Vec::new();
    for (j, (op, _)) in ops.iter().enumerate() {
        if !matches!(op, Operator::Loop { .. }) {
            continue;
        }
        let Some(counter) = loop_counter(ops, j) else {
            continue;
        };
        // `loop_counter` found the step before the loop's `end`: the first write is there or
        // earlier (it accepts no other write in the body).
        let to = ops[j + 1..]
            .iter()
            .position(|(op, _)| {
                matches!(op, Operator::LocalSet { local_index } | Operator::LocalTee { local_index }
                    if *local_index == counter.local)
            })
            .map_or(ops.len(), |p| j + 1 + p);
        scopes.push(CounterScope {
            from: j + 1,
            to,
            counter,
        });
    }
    scopes
}

/// What the sum accesses through loop counters in range change for the derived registers
/// (section 8, "Sum accesses"), loop-weighted: `bases`, the uses of each `k + o` as a base by
/// accesses `local.get l; i32.const k; i32.add; <load offset=o>` (or a store with one
/// `local.get`/`i32.const` value between) whose counter `l` keeps them within `min_length`
/// (the main pass compiles them to one `ldr`/`str` from such a base; a load that starts an
/// access window counts, the window's later loads, served by the window base, do not); and
/// `unchecked`, those accesses and those through a masked index within `min_length`, by
/// `(offset, size)`: they need no limit register.
#[derive(Clone, Debug, Default)]
struct CounterAccesses {
    bases: Vec<(u32, u64)>,
    unchecked: Vec<((u64, u32), u64)>,
}

fn counter_sum_bases(
    ops: &[(Operator<'_>, u64)],
    scopes: &[CounterScope],
    min_length: u64,
) -> CounterAccesses {
    let mut found = CounterAccesses::default();
    // The local and the last operator of the window the last counted load starts.
    let mut window: Option<(u32, usize)> = None;
    let mut depth = 0u32;
    let mut loops = Vec::new();
    for (i, (op, _)) in ops.iter().enumerate() {
        match op {
            Operator::Loop { .. } => {
                loops.push(true);
                depth += 1;
            }
            Operator::Block { .. } | Operator::If { .. } => loops.push(false),
            // The guard pops the frame of every `end`; only a loop's lowers the depth.
            Operator::End if loops.pop() == Some(true) => depth -= 1,
            _ => {}
        }
        // A masked index (`i32.const m; i32.and`, optionally `i32.const s; i32.shl`) within
        // the minimum length: no check either (the bounded-index rule's common case).
        if let Some((memarg, size)) = memory_access(op)
            && matches!(memarg.target, wasmparser::MemArgTarget::Memory(0))
        {
            let mask = match ops.get(i.saturating_sub(4)..i) {
                Some(
                    [
                        (Operator::I32Const { value: m }, _),
                        (Operator::I32And, _),
                        (Operator::I32Const { value: s }, _),
                        (Operator::I32Shl, _),
                    ],
                ) => u64::from(*m as u32).checked_shl(*s as u32 & 31),
                Some(
                    [
                        ..,
                        (Operator::I32Const { value: m }, _),
                        (Operator::I32And, _),
                    ],
                ) => Some(u64::from(*m as u32)),
                _ => None,
            };
            if mask.is_some_and(|m| m + access_end(memarg.offset, size) <= min_length) {
                let weight = 1u64 << (3 * depth.min(3));
                add_weight(&mut found.unchecked, (memarg.offset, size), weight);
            }
        }
        let Some((local, k, memarg, size)) = sum_access(&ops[i..]) else {
            continue;
        };
        let c = access_end(memarg.offset, size);
        let in_range = scopes.iter().any(|scope| {
            scope.counter.local == local
                && (scope.from..scope.to).contains(&i)
                && scope
                    .counter
                    .low
                    .wrapping_add(k)
                    .checked_add(scope.counter.width)
                    .is_some_and(|bound| u64::from(bound) + c <= min_length)
        });
        let Some(base) = u32::try_from(u64::from(k) + memarg.offset).ok() else {
            continue;
        };
        if !in_range {
            continue;
        }
        let weight = 1u64 << (3 * depth.min(3));
        add_weight(&mut found.unchecked, (memarg.offset, size), weight);
        if window.is_some_and(|(l, last)| l == local && i <= last) {
            continue;
        }
        add_weight(&mut found.bases, base, weight);
        // A load (after `local.get`, `i32.const`, `i32.add`) that starts a window.
        if let Some(after) = ops.get(i + 4..)
            && load_access(&ops[i + 3].0).is_some()
        {
            let (_, _, span, _) = window_extent(after, local, k, |index| Some((index, 1)));
            if span > 0 {
                window = Some((local, i + 3 + span));
            }
        }
    }
    found
}

/// Adds `weight` to `key`'s entry of `counts`, or a new entry while there are fewer than
/// [`PRESCAN_ACCESS_KINDS`].
fn add_weight<K: PartialEq>(counts: &mut Vec<(K, u64)>, key: K, weight: u64) {
    let kinds = counts.len();
    match counts.iter_mut().find(|(k, _)| *k == key) {
        Some((_, w)) => *w += weight,
        None if kinds < PRESCAN_ACCESS_KINDS => counts.push((key, weight)),
        None => {}
    }
}

/// `local.get l; i32.const k; i32.add` at the start of `ops`, then a load of memory 0, or one
/// `local.get`/`i32.const` and an `i32.store*` to memory 0: `(l, k, memarg, size)`.
fn sum_access<'a>(ops: &[(Operator<'a>, u64)]) -> Option<(u32, u32, wasmparser::MemArg, u32)> {
    let [
        (Operator::LocalGet { local_index }, _),
        (Operator::I32Const { value }, _),
        (Operator::I32Add, _),
        rest @ ..,
    ] = ops
    else {
        return None;
    };
    let (memarg, width, _) = sum_access_operator(rest)?;
    Some((*local_index, *value as u32, memarg, width.bytes()))
}

/// The memory argument and width of an `i32.load*`.
fn i32_load(op: &Operator<'_>) -> Option<(wasmparser::MemArg, Width)> {
    use Operator as O;
    Some(match *op {
        O::I32Load { memarg } => (memarg, Width::W32),
        O::I32Load8U { memarg } => (memarg, Width::U8),
        O::I32Load8S { memarg } => (memarg, Width::S8),
        O::I32Load16U { memarg } => (memarg, Width::U16),
        O::I32Load16S { memarg } => (memarg, Width::S16),
        _ => return None,
    })
}

/// What may follow `local.get l; i32.const k; i32.add` to make a sum access ([`sum_access`]):
/// an `i32.load*` of memory 0, or one `local.get`/`i32.const` and an `i32.store*` to memory 0
/// (the value). `(memarg, width, store)`.
fn sum_access_operator(rest: &[(Operator<'_>, u64)]) -> Option<(wasmparser::MemArg, Width, bool)> {
    use Operator as O;
    let (memarg, width, store) = match rest {
        [(load, _), ..] if i32_load(load).is_some() => {
            let (memarg, width) = i32_load(load)?;
            (memarg, width, false)
        }
        [(O::LocalGet { .. } | O::I32Const { .. }, _), (store, _), ..] => match *store {
            O::I32Store { memarg } => (memarg, Width::W32, true),
            O::I32Store8 { memarg } => (memarg, Width::U8, true),
            O::I32Store16 { memarg } => (memarg, Width::U16, true),
            _ => return None,
        },
        _ => return None,
    };
    matches!(memarg.target, wasmparser::MemArgTarget::Memory(0)).then_some((memarg, width, store))
}

/// `(count, span, calls)` of the constant window after a load from constant address `at`
/// (DESIGN.md section 8, "Constant bases"): how many accesses of memory 0 from a constant
/// address within `at - 255 ..= at + 4095` (`i32.const k` right before a load or store
/// whose `k + offset` is there) the run of operators holds that branch, call and trap
/// nowhere but in memory accesses (those of [`window_extent`], plus stores and writes to any
/// local), how many operators long the run is up to the last of them, and whether any
/// operator in it may call a helper.
fn const_window(rest: &[(Operator<'_>, u64)], at: u32) -> (usize, usize, bool) {
    let mut count = 0;
    let mut span = 0;
    let mut calls = false;
    for (i, (op, _)) in rest.iter().take(WINDOW_OPERATORS).enumerate() {
        if let Some((memarg, _)) = memory_access(op) {
            let constant = match (i.checked_sub(1).map(|j| &rest[j].0), load_access(op)) {
                (Some(Operator::I32Const { value }), Some(_)) => Some(*value as u32),
                // A store's address is below its value: `i32.const k; <value>; store`, with a
                // one-operator value.
                (_, None) => match i.checked_sub(2).map(|j| &rest[j].0) {
                    Some(Operator::I32Const { value }) => Some(*value as u32),
                    _ => None,
                },
                _ => None,
            };
            if let Some(k) = constant
                && matches!(memarg.target, wasmparser::MemArgTarget::Memory(0))
                && let Ok(at2) = u32::try_from(u64::from(k) + memarg.offset)
                && (-255..=4095).contains(&(i64::from(at2) - i64::from(at)))
            {
                count += 1;
                span = i + 1;
            }
            continue;
        }
        match op {
            Operator::LocalSet { .. } | Operator::LocalTee { .. } => {}
            op if cannot_trap_or_branch(op) => calls |= may_call_a_helper(op),
            _ => break,
        }
    }
    (count, span, calls)
}

/// The furthest a window's load may start below the load that checks for it: `index - below`
/// is one `sub` with a 12-bit immediate, and wraps past any length when the lowest address
/// does.
const MAX_BELOW: u32 = 4095;

/// Whether the Thumb-2 code of a window operator may call a helper on some profile (soft-float
/// f64, f32 rounding, i64 conversions), clobbering r0-r3: every operator of a window but the
/// integer ones, the f32 arithmetic the FPU does, loads, and reads of locals and globals.
fn may_call_a_helper(op: &Operator<'_>) -> bool {
    use Operator as O;
    !(crate::module::operators::is_plain_integer_operator(op)
        || load_access(op).is_some()
        || matches!(
            op,
            O::Nop
                | O::Drop
                | O::Select
                | O::TypedSelect { .. }
                | O::LocalGet { .. }
                | O::LocalSet { .. }
                | O::LocalTee { .. }
                | O::GlobalGet { .. }
                | O::F32Add
                | O::F32Sub
                | O::F32Mul
                | O::F32Div
                | O::F32Abs
                | O::F32Neg
                | O::F32Sqrt
                | O::F32Eq
                | O::F32Ne
                | O::F32Lt
                | O::F32Gt
                | O::F32Le
                | O::F32Ge
                | O::F32ReinterpretI32
                | O::I32ReinterpretF32
        ))
}

/// Operators that neither trap, branch, call out nor store (the inside of an access window).
fn cannot_trap_or_branch(op: &Operator<'_>) -> bool {
    use Operator as O;
    crate::module::operators::is_plain_integer_operator(op)
        || matches!(
            op,
            O::Nop
                | O::Drop
                | O::Select
                | O::TypedSelect { .. }
                | O::LocalGet { .. }
                | O::GlobalGet { .. }
                | O::MemorySize { .. }
                | O::RefNull { .. }
                | O::RefIsNull
                | O::RefFunc { .. }
                | O::F32Eq
                | O::F32Ne
                | O::F32Lt
                | O::F32Gt
                | O::F32Le
                | O::F32Ge
                | O::F64Eq
                | O::F64Ne
                | O::F64Lt
                | O::F64Gt
                | O::F64Le
                | O::F64Ge
                | O::F32Abs
                | O::F32Neg
                | O::F32Ceil
                | O::F32Floor
                | O::F32Trunc
                | O::F32Nearest
                | O::F32Sqrt
                | O::F32Add
                | O::F32Sub
                | O::F32Mul
                | O::F32Div
                | O::F32Min
                | O::F32Max
                | O::F32Copysign
                | O::F64Abs
                | O::F64Neg
                | O::F64Ceil
                | O::F64Floor
                | O::F64Trunc
                | O::F64Nearest
                | O::F64Sqrt
                | O::F64Add
                | O::F64Sub
                | O::F64Mul
                | O::F64Div
                | O::F64Min
                | O::F64Max
                | O::F64Copysign
                | O::F32ConvertI32S
                | O::F32ConvertI32U
                | O::F32ConvertI64S
                | O::F32ConvertI64U
                | O::F32DemoteF64
                | O::F64ConvertI32S
                | O::F64ConvertI32U
                | O::F64ConvertI64S
                | O::F64ConvertI64U
                | O::F64PromoteF32
                | O::I32ReinterpretF32
                | O::I64ReinterpretF64
                | O::F32ReinterpretI32
                | O::F64ReinterpretI64
                | O::I32TruncSatF32S
                | O::I32TruncSatF32U
                | O::I32TruncSatF64S
                | O::I32TruncSatF64U
                | O::I64TruncSatF32S
                | O::I64TruncSatF32U
                | O::I64TruncSatF64S
                | O::I64TruncSatF64U
        )
}

/// The memory argument and access size of a load (not a store).
fn load_access(op: &Operator<'_>) -> Option<(wasmparser::MemArg, u32)> {
    use Operator as O;
    match op {
        O::I32Store8 { .. }
        | O::I64Store8 { .. }
        | O::I32Store16 { .. }
        | O::I64Store16 { .. }
        | O::I32Store { .. }
        | O::F32Store { .. }
        | O::I64Store32 { .. }
        | O::I64Store { .. }
        | O::F64Store { .. } => None,
        _ => memory_access(op),
    }
}

/// The memory argument and access size of a load or store.
fn memory_access(op: &Operator<'_>) -> Option<(wasmparser::MemArg, u32)> {
    use Operator as O;
    Some(match *op {
        O::I32Load8U { memarg }
        | O::I32Load8S { memarg }
        | O::I32Store8 { memarg }
        | O::I64Load8U { memarg }
        | O::I64Load8S { memarg }
        | O::I64Store8 { memarg } => (memarg, 1),
        O::I32Load16U { memarg }
        | O::I32Load16S { memarg }
        | O::I32Store16 { memarg }
        | O::I64Load16U { memarg }
        | O::I64Load16S { memarg }
        | O::I64Store16 { memarg } => (memarg, 2),
        O::I32Load { memarg }
        | O::I32Store { memarg }
        | O::F32Load { memarg }
        | O::F32Store { memarg }
        | O::I64Load32U { memarg }
        | O::I64Load32S { memarg }
        | O::I64Store32 { memarg } => (memarg, 4),
        O::I64Load { memarg }
        | O::I64Store { memarg }
        | O::F64Load { memarg }
        | O::F64Store { memarg } => (memarg, 8),
        _ => return None,
    })
}

/// A value derived from the instance registers that `lr` holds throughout a function (DESIGN.md
/// section 8, "the derived register").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Derived {
    /// `lr = r8 - (c - 4)` (`r8 + (4 - c)` when `c < 4`): the bound of accesses whose
    /// `offset + size` is `c` (bias 4, `c <= min_length`).
    Limit(u32),
    /// `lr = r7 + offset`: the base of accesses with this static offset.
    Base(u32),
    /// `lr = [r10]`: the `VMStoreContext` pointer, for fuel charges and epoch checks (section
    /// 13).
    StoreContext,
}

impl Derived {
    /// Instructions it saves per access: a limit the one or two that compute it into ip, a
    /// base `add rd, r7, idx` and, past the 4095 of `ldr`'s immediate, the offset's `movw`.
    fn saving(self) -> u64 {
        match self {
            Derived::Limit(_) => self.cost(),
            Derived::Base(k) if k <= 4095 => 1,
            Derived::Base(_) => 2,
            Derived::StoreContext => 1,
        }
    }

    /// Instructions that compute it.
    fn cost(self) -> u64 {
        let immediate = match self {
            Derived::Limit(c) => c.abs_diff(4),
            Derived::Base(k) => k,
            Derived::StoreContext => 0,
        };
        if immediate <= 4095 || super::asm::modified_immediate(immediate).is_some() {
            1
        } else {
            2
        }
    }

    /// Computes it into `reg`, changing no flags.
    fn emit(self, a: &mut Assembler, reg: Reg) -> Result<(), AsmError> {
        match self {
            Derived::Limit(c) if c >= 4 => a.sub(Flags::Preserve, reg, Reg::R8, c - 4),
            Derived::Limit(c) => a.add(Flags::Preserve, reg, Reg::R8, 4 - c),
            Derived::Base(k) => a.add(Flags::Preserve, reg, Reg::R7, k),
            Derived::StoreContext => a.ldr(Width::W32, reg, Addr::Offset(Reg::R10, STORE_CONTEXT)),
        }
    }
}

/// `str fuel, [sc, #at]`, the store context from `sc` or else loaded into ip (DESIGN.md section
/// 13, "the fuel register").
fn store_fuel(a: &mut Assembler, fuel: Reg, sc: Option<Reg>, at: i32) -> Result<(), AsmError> {
    let sc = match sc {
        Some(sc) => sc,
        None => {
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, STORE_CONTEXT))?;
            Reg::R12
        }
    };
    a.str(Width::W32, fuel, Addr::Offset(sc, at))
}

/// Loads every pinned register from its word of the store context: from `sc`, or else each
/// loads the store context into itself first.
fn load_pinned(
    a: &mut Assembler,
    pinned: [Option<Reg>; PINNED_KINDS],
    sc: Option<Reg>,
    offsets: &VmOffsets,
) -> Result<(), AsmError> {
    for kind in Pinned::ALL {
        let Some(reg) = pinned[kind as usize] else {
            continue;
        };
        let base = match sc {
            Some(sc) => sc,
            None => {
                a.ldr(Width::W32, reg, Addr::Offset(Reg::R10, STORE_CONTEXT))?;
                reg
            }
        };
        a.ldr(Width::W32, reg, Addr::Offset(base, kind.offset(offsets)))?;
    }
    Ok(())
}

/// Registers that hold derived values, in order of use (DESIGN.md section 8).
const DERIVED_REGISTERS: [Reg; 2] = [Reg::LR, Reg::R11];

/// A second derived register costs the value-stack cache r11: only worth it when it saves at
/// least this many loop-weighted instructions (one use in a doubly nested loop).
const SECOND_DERIVED_SAVING: u64 = 64;

/// The derived registers worth having for a body (DESIGN.md section 8), best first: the
/// candidates that save the most loop-weighted instructions over their cost (computing them in
/// the prologue and after every call, and saving the register).
fn choose_derived(
    scan: &Prescan,
    sites: Sites,
    counters: &CounterAccesses,
    memory: Option<&MemoryType>,
    fuel: bool,
    epochs: bool,
) -> Vec<Derived> {
    let mut savings: Vec<(Derived, u64)> = Vec::new();
    // `ldr ip, [r10]` at every fuel charge and epoch check becomes nothing.
    let checks = if fuel { sites.charges } else { 0 } + if epochs { sites.checks } else { 0 };
    if checks > 0 {
        savings.push((
            Derived::StoreContext,
            checks * Derived::StoreContext.saving(),
        ));
    }
    // A memory64 memory 0 too: its accesses check the index's high word, then the low word
    // exactly as a 32-bit index (DESIGN.md section 8, "Memory64").
    let bias = memory.map_or(0, memory_bound_bias);
    let min_length = memory.map_or(0, |m| m.min.saturating_mul(m.page_size()));
    let mut add = |d: Derived, saved: u64| match savings.iter_mut().find(|(k, _)| *k == d) {
        Some((_, s)) => *s += saved,
        None => savings.push((d, saved)),
    };
    let accesses: &[((u64, u32), u64)] = if memory.is_some() {
        &scan.accesses
    } else {
        &[]
    };
    for &((offset, size), weight) in accesses {
        let c = access_end(offset, size);
        if c > 1 << 31 {
            continue;
        }
        // Accesses through loop counters in range have no check.
        let unchecked = counters
            .unchecked
            .iter()
            .find(|(key, _)| *key == (offset, size))
            .map_or(0, |(_, w)| *w);
        let checked = weight.saturating_sub(unchecked);
        if bias == 4 && c != 4 && c <= min_length {
            // `sub ip, r8, #(c - 4)` (one or two instructions) becomes nothing.
            let limit = Derived::Limit(c as u32);
            add(limit, checked * limit.saving());
        }
        if offset != 0 {
            // `add rd, r7, idx` (and `movw ip, #offset`) becomes nothing.
            let base = Derived::Base(offset as u32);
            add(base, weight * base.saving());
        }
    }
    // `local.get l; i32.const k; i32.add; <access offset=o>` through a loop counter in range:
    // with `r7 + k + o` in a register, the sum's `movw`/`add` and the base `add` become
    // nothing (`ldr rt, [rB, rl]`).
    if memory.is_some() {
        for &(base, weight) in &counters.bases {
            add(Derived::Base(base), weight * 2);
        }
    }
    let mut ranked: Vec<(Derived, u64)> = savings
        .into_iter()
        .map(|(d, saved)| {
            let cost = d.cost() * (1 + scan.calls) + 2;
            (d, saved.saturating_sub(cost))
        })
        .filter(|&(_, net)| net > 0)
        .collect();
    // Deterministic: the largest net saving first, ties to limits, then the smaller value.
    ranked.sort_by_key(|&(d, net)| {
        let key = match d {
            Derived::Limit(c) => (0, c),
            Derived::Base(k) => (1, k),
            Derived::StoreContext => (2, 0),
        };
        (std::cmp::Reverse(net), key)
    });
    ranked
        .into_iter()
        .enumerate()
        .take_while(|&(i, (_, net))| i == 0 || net >= SECOND_DERIVED_SAVING)
        .take(DERIVED_REGISTERS.len())
        .map(|(_, (d, _))| d)
        .collect()
}

/// What a branch or `select` tests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Test {
    /// A constant true condition.
    Always,
    /// A constant false condition.
    Never,
    /// A condition of the flags (never `Al`).
    Flags(Cond),
}

/// Whether `mov rd, #value` is one instruction (so it can sit alone in an IT block).
fn single_instruction_constant(value: u32) -> bool {
    value <= 0xFFFF
        || super::asm::modified_immediate(value).is_some()
        || super::asm::modified_immediate(!value).is_some()
}

/// A multiplication by a constant as one shift or shifted add/subtract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ConstantMultiply {
    /// `x << n` (`2^n`).
    Shift(u8),
    /// `x + (x << n)` (`2^n + 1`).
    ShiftAdd(u8),
    /// `(x << n) - x` (`2^n - 1`).
    ShiftSub(u8),
}

impl ConstantMultiply {
    /// The form of multiplying by `k` (mod 2^32), if one instruction does it.
    fn of(k: u32) -> Option<ConstantMultiply> {
        if k.is_power_of_two() {
            return Some(ConstantMultiply::Shift(k.trailing_zeros() as u8));
        }
        let below = k.wrapping_sub(1);
        if below.is_power_of_two() && below > 1 {
            return Some(ConstantMultiply::ShiftAdd(below.trailing_zeros() as u8));
        }
        let above = k.wrapping_add(1);
        if above.is_power_of_two() && above > 2 {
            return Some(ConstantMultiply::ShiftSub(above.trailing_zeros() as u8));
        }
        None
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Binary {
    Add,
    Sub,
    Mul,
    And,
    Or,
    Xor,
}

impl Binary {
    fn commutative(self) -> bool {
        !matches!(self, Binary::Sub)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Unary {
    Clz,
    Ctz,
    Popcnt,
    Extend8,
    Extend16,
}

/// The condition of `b op a` given that of `a op b`.
fn swapped(cond: Cond) -> Cond {
    match cond {
        Cond::Lt => Cond::Gt,
        Cond::Gt => Cond::Lt,
        Cond::Le => Cond::Ge,
        Cond::Ge => Cond::Le,
        Cond::Lo => Cond::Hi,
        Cond::Hi => Cond::Lo,
        Cond::Ls => Cond::Hs,
        Cond::Hs => Cond::Ls,
        other => other,
    }
}

fn operator_name(op: &Operator<'_>) -> String {
    let name = format!("{op:?}");
    name.split([' ', '{', '('])
        .next()
        .unwrap_or("operator")
        .to_string()
}
