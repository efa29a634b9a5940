//! WebAssembly function bodies to Cranelift IR.
//!
//! One [`translate_function`] call turns one validated-as-we-go function body into an
//! [`ir::Function`] in the wasm calling convention of `shared_types::vmoffsets` (Cranelift's
//! `tail` convention, parameters `(callee_vmctx, caller_vmctx, wasm params...)`). The driver
//! compiles it; this module never touches an ISA.
//!
//! # Shape of the translation
//!
//! The translator is a single forward pass over the operators. wasmparser's `FuncValidator`
//! sees every operator *before* it is translated, so the translator can rely on well-typed
//! input (arity of branches, types of operands, indices in range) and reports malformed or
//! invalid bodies as [`CompileError::Invalid`] with the function index and byte offset.
//!
//! * **Locals** are Cranelift `Variable`s; the frontend's SSA construction turns them into
//!   block parameters where control flow merges.
//! * **The operand stack** is a `Vec<Value>` mirroring the wasm value stack. Operators pop their
//!   operands and push their results; there is no spilling, Cranelift values are the stack.
//! * **The control stack** (`control.rs`) holds one frame per open `block`/`loop`/`if`, plus
//!   the implicit function-body block at the bottom. A live frame knows its *following* block
//!   (the Cranelift block after `end`, with one parameter per block result), for a loop its
//!   *header* (with one parameter per block parameter), the height of the operand stack below
//!   its parameters, and whether anything jumps to the following block. A `br` to a frame jumps
//!   to its header (loop) or following block (others) passing the top values of the stack as
//!   block arguments, so multi-value blocks need no special handling.
//! * **Memory, tables and globals** are reached through the vmctx (the first parameter, which
//!   dominates the whole function) with the offsets of [`shared_types::VmOffsets`]; memory
//!   accesses are checked explicitly against the current length (`memory.rs`).
//! * **Traps the translator decides** (bounds, `call_indirect` checks, `unreachable`, failed
//!   helpers) branch to one cold block per trap code that calls the `Trap` runtime helper and
//!   ends in a `trap` instruction. Traps Cranelift raises by itself (division, float-to-int,
//!   stack limit) stay Cranelift traps; the driver lists them in the image trap table.
//!
//! # Requirements on the Cranelift settings
//!
//! * `enable_multi_ret_implicit_sret = true`: wasm functions may return more values than fit
//!   in return registers (already 9 `i64` results exceed them on aarch64 and x86_64); with the
//!   setting Cranelift returns the rest through an implicit return area, otherwise it refuses
//!   the function.
//! * x86_64 needs `has_sse41` so `ceil`/`floor`/`trunc`/`nearest` are instructions, not
//!   libcalls (which would be relocations).
//!
//! # Unreachable code
//!
//! After `br`, `br_table`, `return` and `unreachable` the rest of the enclosing block is dead:
//! wasm still allows (and the validator checks) arbitrary operators there, with a polymorphic
//! stack. The translator tracks a `reachable` flag and, while it is false, translates nothing
//! except the structure: `block`/`loop`/`if` push a *dead* frame (no Cranelift blocks), `else`
//! and `end` of dead frames do nothing. `else` of a live `if` makes code reachable again (the
//! `if` itself was reachable), and `end` of a live frame makes the following code reachable
//! exactly when its following block has a predecessor: a fall-through from a reachable end of
//! the body, a branch to the frame, or (for an `if` without `else`) the implicit empty else.
//! When the following block has no predecessor it is never inserted, so Cranelift never sees an
//! unreachable block. Because the validator checks dead code, the operand stack is only ever
//! truncated back to a frame's base there, never read.

mod calls;
mod control;
mod fuel;
#[cfg(all(test, target_arch = "x86_64", target_os = "linux"))]
mod jit_tests;
mod memory;
mod numeric;
mod table;
#[cfg(test)]
pub(crate) mod tests;

use std::collections::HashMap;

use cranelift_codegen::ir::{
    self, AbiParam, ArgumentPurpose, Block, BlockArg, FuncRef, GlobalValueData, InstBuilder,
    MemFlagsData, SigRef, Signature, SourceLoc, Type, UserFuncName, Value, immediates::Offset32,
    types,
};
use cranelift_codegen::isa::{CallConv, TargetFrontendConfig};
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext, Variable};
use shared_types::{Libcall, TrapCode, ValType};
use wasmparser::{FuncValidator, FunctionBody, Operator, ValidatorResources};

use self::control::Frame;
use crate::cranelift::env::ModuleEnv;
use crate::error::{CompileError, Location};
use crate::module::fuel::{FuelBlocks, ends_block};

/// The wasm-convention signature of module type `type_index`:
/// `(callee_vmctx [VMContext], caller_vmctx, params...) -> results`, `CallConv::Tail`.
///
/// A type index out of range gives a signature with only the two vmctx parameters; the
/// validator rejects such modules before any function is translated. `v128` maps to `I8X16`
/// (functions using it are refused by [`translate_function`]).
pub fn wasm_signature(env: &ModuleEnv, type_index: u32) -> ir::Signature {
    let ptr = env.pointer_type;
    let mut sig = Signature::new(CallConv::Tail);
    sig.params
        .push(AbiParam::special(ptr, ArgumentPurpose::VMContext));
    sig.params.push(AbiParam::new(ptr));
    if let Some(ty) = env.types.get(type_index as usize) {
        sig.params
            .extend(ty.params.iter().map(|t| AbiParam::new(value_type(ptr, *t))));
        sig.returns.extend(
            ty.results
                .iter()
                .map(|t| AbiParam::new(value_type(ptr, *t))),
        );
    }
    sig
}

/// Translates the body of function `func_index` (imports included in the index space).
///
/// Every operator is passed to `validator` before it is translated; validation errors become
/// [`CompileError::Invalid`], features this compiler lacks (SIMD, tail calls, ...)
/// [`CompileError::Unsupported`].
pub fn translate_function(
    env: &ModuleEnv,
    func_index: u32,
    body: &FunctionBody<'_>,
    validator: &mut FuncValidator<ValidatorResources>,
) -> Result<ir::Function, CompileError> {
    let body_offset = body.range().start;
    let type_index = *env
        .func_types
        .get(func_index as usize)
        .ok_or_else(|| internal(func_index, format!("function {func_index} has no type")))?;
    let func_sig = env
        .types
        .get(type_index as usize)
        .ok_or_else(|| internal(func_index, format!("type {type_index} out of range")))?;
    if func_sig
        .params
        .iter()
        .chain(&func_sig.results)
        .any(|t| *t == ValType::V128)
    {
        return Err(CompileError::unsupported(
            Some(func_index),
            error_offset(body_offset),
            "SIMD (v128 in signature)",
        ));
    }

    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(0, func_index),
        wasm_signature(env, type_index),
    );
    let mut builder_context = FunctionBuilderContext::new();
    let builder = FunctionBuilder::new(&mut func, &mut builder_context);
    let mut translator = FuncTranslator::new(env, func_index, builder);
    translator.translate_body(body, validator)?;
    translator.builder.finalize(frontend_config(env));
    Ok(func)
}

/// The frontend configuration `FunctionBuilder::finalize` wants (only used for stack maps,
/// which we do not request).
pub(crate) fn frontend_config(env: &ModuleEnv) -> TargetFrontendConfig {
    let pointer_width = if env.pointer_type.bytes() == 4 {
        target_lexicon::PointerWidth::U32
    } else {
        target_lexicon::PointerWidth::U64
    };
    TargetFrontendConfig {
        default_call_conv: CallConv::SystemV,
        pointer_width,
        page_size_align_log2: 12,
    }
}

/// Cranelift type of a wasm value type; references are pointer-sized.
pub(crate) fn value_type(pointer_type: Type, ty: ValType) -> Type {
    match ty {
        ValType::I32 => types::I32,
        ValType::I64 => types::I64,
        ValType::F32 => types::F32,
        ValType::F64 => types::F64,
        ValType::V128 => types::I8X16,
        _ => pointer_type,
    }
}

/// The signature of a runtime helper (see `shared_types::libcall`): `call_conv` (the C
/// convention) except for the register-preserving helpers, which use `CallConv::PreserveAll`.
pub(crate) fn libcall_signature(
    libcall: Libcall,
    pointer_type: Type,
    call_conv: CallConv,
) -> Signature {
    use types::{I32, I64};
    let ptr = pointer_type;
    let (params, returns): (&[Type], &[Type]) = match libcall {
        Libcall::Trap => (&[I32], &[]),
        Libcall::MemoryGrow => (&[I32, I64], &[I64]),
        Libcall::MemoryFill => (&[I32, I64, I32, I64], &[I32]),
        Libcall::MemoryCopy => (&[I32, I64, I32, I64, I64], &[I32]),
        Libcall::MemoryInit => (&[I32, I32, I64, I32, I32], &[I32]),
        Libcall::DataDrop | Libcall::ElemDrop => (&[I32], &[]),
        Libcall::OutOfFuel => (&[I32], &[I32]),
        Libcall::EpochDeadline => (&[], &[I32]),
        // Register-preserving: `CallConv::PreserveAll` whatever `call_conv` says.
        Libcall::OutOfFuelPreserving | Libcall::EpochDeadlinePreserving => {
            let mut sig = Signature::new(CallConv::PreserveAll);
            sig.params.push(AbiParam::new(ptr));
            if libcall == Libcall::OutOfFuelPreserving {
                sig.params.push(AbiParam::new(I32));
            }
            return sig;
        }
        // `init`/`value` are pointer-sized: patched below.
        Libcall::TableGrow => (&[I32, I64, I32], &[I32]),
        Libcall::TableFill => (&[I32, I32, I64, I32], &[I32]),
        Libcall::TableCopy | Libcall::TableInit => (&[I32, I32, I32, I32, I32], &[I32]),
        // The pure arithmetic helpers (used by the Thumb-2 backend only) take no vmctx.
        pure => {
            let (params, returns): (&[Type], &[Type]) = match pure {
                Libcall::F32FromI64S | Libcall::F32FromI64U | Libcall::F64ToI32S => {
                    (&[I64], &[I32])
                }
                Libcall::F64ToI32U | Libcall::F32FromF64 => (&[I64], &[I32]),
                Libcall::F32ToI64S | Libcall::F32ToI64U | Libcall::F64FromF32 => (&[I32], &[I64]),
                Libcall::F32Ceil | Libcall::F32Floor | Libcall::F32Trunc | Libcall::F32Nearest => {
                    (&[I32], &[I32])
                }
                Libcall::I64DivS
                | Libcall::I64DivU
                | Libcall::I64RemS
                | Libcall::I64RemU
                | Libcall::F64Add
                | Libcall::F64Sub
                | Libcall::F64Mul
                | Libcall::F64Div
                | Libcall::F64Min
                | Libcall::F64Max => (&[I64, I64], &[I64]),
                Libcall::F64Compare => (&[I64, I64], &[I32]),
                _ => (&[I64], &[I64]),
            };
            let mut sig = Signature::new(call_conv);
            sig.params.extend(params.iter().map(|t| AbiParam::new(*t)));
            sig.returns
                .extend(returns.iter().map(|t| AbiParam::new(*t)));
            return sig;
        }
    };
    let mut sig = Signature::new(call_conv);
    sig.params.push(AbiParam::new(ptr));
    for (i, ty) in params.iter().enumerate() {
        let pointer_sized = matches!(
            (libcall, i),
            (Libcall::TableGrow, 1) | (Libcall::TableFill, 2)
        );
        sig.params
            .push(AbiParam::new(if pointer_sized { ptr } else { *ty }));
    }
    sig.returns
        .extend(returns.iter().map(|t| AbiParam::new(*t)));
    sig
}

/// Calling convention of runtime helpers (the platform C convention; SystemV is AAPCS64 on
/// aarch64 Linux/none and the System V ABI on x86_64).
pub(crate) const LIBCALL_CALL_CONV: CallConv = CallConv::SystemV;

/// Flags for loads from the vmctx and runtime records: aligned, never trapping.
pub(crate) fn trusted() -> MemFlagsData {
    MemFlagsData::trusted()
}

/// Flags for loads of fields that never change while the function runs.
pub(crate) fn trusted_readonly() -> MemFlagsData {
    MemFlagsData::trusted().with_readonly().with_can_move()
}

/// An error that means the translator itself is wrong (never caused by the input alone).
pub(crate) fn internal(func_index: u32, message: impl Into<String>) -> CompileError {
    CompileError::Codegen {
        func_index,
        message: format!("translator invariant violated: {}", message.into()),
    }
}

/// Where the memory operands of a bulk-memory operator break the WebAssembly 2.0 encoding.
///
/// Without multi-memory, `memory.init` (`0xfc 8 dataidx 0x00`), `memory.copy`
/// (`0xfc 10 0x00 0x00`) and `memory.fill` (`0xfc 11 0x00`) end in *reserved bytes* that must
/// each be exactly 0x00. wasmparser 0.263 reads them as LEB128 memory indices whatever the
/// features, so an over-long zero (`0x80 0x00`) would pass; `memory.size`/`memory.grow` are
/// checked by wasmparser itself when multi-memory is off. `encoding` is the operator's bytes;
/// returns the index in it of the first reserved byte that is not 0x00.
fn non_zero_reserved_byte(op: &Operator<'_>, encoding: &[u8]) -> Option<usize> {
    let (leb_fields, reserved) = match op {
        // Sub-opcode, data index.
        Operator::MemoryInit { .. } => (2, 1),
        // Sub-opcode.
        Operator::MemoryCopy { .. } => (1, 2),
        Operator::MemoryFill { .. } => (1, 1),
        _ => return None,
    };
    // Skip the 0xfc prefix and the LEB128 fields (each ends at a byte without continuation bit).
    let mut pos = 1;
    for _ in 0..leb_fields {
        while encoding.get(pos).is_some_and(|b| b & 0x80 != 0) {
            pos += 1;
        }
        pos += 1;
    }
    (pos..pos + reserved).find(|&i| encoding.get(i) != Some(&0))
}

/// A byte offset in the form `CompileError` locations use (whatever integer type that is).
pub(crate) fn error_offset<T: TryFrom<u64> + Default>(offset: u64) -> T {
    T::try_from(offset).unwrap_or_default()
}

/// Converts values to block-call arguments.
pub(crate) fn block_args(values: &[Value]) -> Vec<BlockArg> {
    values.iter().map(|v| BlockArg::Value(*v)).collect()
}

/// Per-function translation state. See the module documentation.
pub(crate) struct FuncTranslator<'a, 'f> {
    pub(crate) env: &'a ModuleEnv,
    pub(crate) func_index: u32,
    pub(crate) builder: FunctionBuilder<'f>,
    /// The callee vmctx (first parameter); defined in the entry block, so usable everywhere.
    pub(crate) vmctx: Value,
    /// Every local (parameters first) and its Cranelift type.
    pub(crate) locals: Vec<(Variable, Type)>,
    /// The wasm operand stack.
    pub(crate) stack: Vec<Value>,
    /// The wasm control stack; the bottom frame is the function body.
    pub(crate) control: Vec<Frame>,
    /// Whether the current position can execute (see the module documentation).
    pub(crate) reachable: bool,
    /// Byte offset of the operator being translated, for error messages.
    pub(crate) offset: u64,
    /// Shared cold blocks, one per trap code, filled at the end of the function.
    trap_blocks: Vec<(TrapCode, Block)>,
    /// Shared cold block taking a dynamic trap code (status of a failed helper) as parameter.
    status_trap_block: Option<Block>,
    /// Imported signatures of wasm types, by type index.
    wasm_sigs: HashMap<u32, SigRef>,
    /// Imported signatures of runtime helpers.
    libcall_sigs: HashMap<u32, SigRef>,
    /// Direct-call references to defined functions, by function index.
    direct_funcs: HashMap<u32, FuncRef>,
    /// The costs of the fuel blocks, when compiling with fuel (`fuel.rs`).
    fuel_blocks: Option<FuelBlocks>,
    /// The variable holding the fuel slice between calls, when compiling with fuel.
    fuel_variable: Option<Variable>,
    /// The variable holding the epoch deadline word, when compiling with epochs.
    deadline_variable: Option<Variable>,
    /// After a wasm call: the fuel variable has not been reloaded yet and memory holds its
    /// current value (`fuel.rs`, "Deferred reloads").
    fuel_stale: bool,
    /// The same for the deadline variable (which, unlike the slice, wasm code never writes).
    deadline_stale: bool,
}

impl<'a, 'f> FuncTranslator<'a, 'f> {
    fn new(env: &'a ModuleEnv, func_index: u32, mut builder: FunctionBuilder<'f>) -> Self {
        let entry = builder.create_block();
        builder.append_block_params_for_function_params(entry);
        builder.switch_to_block(entry);
        builder.seal_block(entry);
        let vmctx = builder.block_params(entry)[0];
        FuncTranslator {
            env,
            func_index,
            builder,
            vmctx,
            locals: Vec::new(),
            stack: Vec::new(),
            control: Vec::new(),
            reachable: true,
            offset: 0,
            trap_blocks: Vec::new(),
            status_trap_block: None,
            wasm_sigs: HashMap::new(),
            libcall_sigs: HashMap::new(),
            direct_funcs: HashMap::new(),
            fuel_blocks: None,
            fuel_variable: None,
            deadline_variable: None,
            fuel_stale: false,
            deadline_stale: false,
        }
    }

    /// The pointer type of the target.
    pub(crate) fn ptr(&self) -> Type {
        self.env.pointer_type
    }

    /// An "unsupported" error at the current operator.
    pub(crate) fn unsupported(&self, feature: impl Into<String>) -> CompileError {
        CompileError::unsupported(Some(self.func_index), error_offset(self.offset), feature)
    }

    /// An internal-invariant error.
    pub(crate) fn internal(&self, message: impl Into<String>) -> CompileError {
        internal(
            self.func_index,
            format!("{} (offset {:#x})", message.into(), self.offset),
        )
    }

    fn invalid(&self, err: &wasmparser::BinaryReaderError) -> CompileError {
        CompileError::invalid(Some(self.func_index), err)
    }

    fn translate_body(
        &mut self,
        body: &FunctionBody<'_>,
        validator: &mut FuncValidator<ValidatorResources>,
    ) -> Result<(), CompileError> {
        let body_offset = body.range().start;
        self.offset = body_offset;
        self.set_stack_limit();
        self.declare_params()?;

        let mut locals = body.get_locals_reader().map_err(|e| self.invalid(&e))?;
        for _ in 0..locals.get_count() {
            let offset = locals.original_position();
            let (count, ty) = locals.read().map_err(|e| self.invalid(&e))?;
            validator
                .define_locals(offset, count, ty)
                .map_err(|e| self.invalid(&e))?;
            self.offset = offset;
            self.declare_locals(count, ty)?;
        }

        let results = self.func_results();
        self.push_body_frame(&results);
        if self.env.fuel || self.env.epochs {
            // Epoch-only code takes the check points from the cursor and ignores the costs.
            self.fuel_blocks = Some(FuelBlocks::new(self.func_index, body)?);
        }
        self.load_preemption_variables();
        // The entry's fuel charge and epoch check (the stack-limit check is in the prologue).
        self.start_fuel_block()?;

        // Decode with the validator's features, as `FuncValidator::validate` does: they fix
        // encodings such as the reserved zero byte of `memory.size`/`memory.grow` (a single
        // 0x00 in WebAssembly 2.0, a LEB128 memory index only with multi-memory).
        let mut operators = locals.get_binary_reader();
        operators.set_features(*validator.features());
        let check_reserved = !validator.features().multi_memory();
        let body_bytes = body.as_bytes();
        let mut reader = wasmparser::OperatorsReader::new(operators);
        while !reader.eof() {
            let (op, offset) = reader.read_with_offset().map_err(|e| self.invalid(&e))?;
            if check_reserved {
                let start = error_offset::<usize>(offset - body_offset);
                let end = error_offset::<usize>(reader.original_position() - body_offset);
                let encoding = body_bytes.get(start..end).unwrap_or_default();
                if let Some(at) = non_zero_reserved_byte(&op, encoding) {
                    return Err(CompileError::Invalid {
                        location: Location {
                            func_index: Some(self.func_index),
                            offset: error_offset(offset + at as u64),
                        },
                        message: "zero byte expected".to_string(),
                    });
                }
            }
            validator.op(offset, &op).map_err(|e| self.invalid(&e))?;
            self.offset = offset;
            self.builder
                .set_srcloc(SourceLoc::new(u32::try_from(offset).unwrap_or(u32::MAX)));
            self.translate_operator(&op)?;
            if self.env.fuel
                && self
                    .fuel_blocks
                    .as_ref()
                    .is_some_and(|b| b.checks_after(&op))
            {
                // A call with a long tail after it (`module::fuel`): a check of cost 0.
                self.check_fuel_after_call()?;
            }
            if ends_block(&op) {
                self.start_fuel_block()?;
            }
        }
        // End of the body: the reader's and the validator's end-of-function checks (a body
        // without its final `end` leaves frames open), both reported as invalid input.
        let end = reader.original_position();
        self.offset = end;
        reader.finish().map_err(|e| self.invalid(&e))?;
        reader
            .get_binary_reader()
            .finish_expression(&validator.visitor(end))
            .map_err(|e| self.invalid(&e))?;
        if !self.control.is_empty() {
            return Err(self.internal("control frames left after the last operator"));
        }
        if self.fuel_blocks.as_ref().is_some_and(|b| !b.is_finished()) {
            return Err(self.internal("fuel blocks left after the last operator"));
        }
        self.fill_trap_blocks();
        Ok(())
    }

    /// `func.stack_limit = *(*(vmctx + store_context) + stack_limit)`: Cranelift checks it in
    /// every prologue that allocates a frame.
    fn set_stack_limit(&mut self) {
        let ptr = self.ptr();
        let offsets = self.env.offsets;
        let flags = self
            .builder
            .func
            .dfg
            .mem_flags
            .insert_unchecked(MemFlagsData::trusted().with_readonly());
        let vmctx = self.builder.create_global_value(GlobalValueData::VMContext);
        let store = self.builder.create_global_value(GlobalValueData::Load {
            base: vmctx,
            offset: Offset32::new(offsets.store_context() as i32),
            global_type: ptr,
            flags,
        });
        let limit = self.builder.create_global_value(GlobalValueData::Load {
            base: store,
            offset: Offset32::new(offsets.store_stack_limit() as i32),
            global_type: ptr,
            flags,
        });
        self.builder.func.stack_limit = Some(limit);
    }

    fn func_results(&self) -> Vec<Type> {
        self.env
            .func_sig(self.func_index)
            .results
            .iter()
            .map(|t| value_type(self.ptr(), *t))
            .collect()
    }

    fn declare_params(&mut self) -> Result<(), CompileError> {
        let params = self.env.func_sig(self.func_index).params.clone();
        let entry = self
            .builder
            .current_block()
            .ok_or_else(|| self.internal("no entry block"))?;
        let values: Vec<Value> = self.builder.block_params(entry)[2..].to_vec();
        for (ty, value) in params.iter().zip(values) {
            let ty = value_type(self.ptr(), *ty);
            let var = self.builder.declare_var(ty);
            self.builder.def_var(var, value);
            self.locals.push((var, ty));
        }
        Ok(())
    }

    fn declare_locals(&mut self, count: u32, ty: wasmparser::ValType) -> Result<(), CompileError> {
        let ty = self.wasm_type(ty)?;
        for _ in 0..count {
            let zero = self.zero(ty);
            let var = self.builder.declare_var(ty);
            self.builder.def_var(var, zero);
            self.locals.push((var, ty));
        }
        Ok(())
    }

    /// Zero (or null) of a type.
    pub(crate) fn zero(&mut self, ty: Type) -> Value {
        match ty {
            types::F32 => self.builder.ins().f32const(0.0),
            types::F64 => self.builder.ins().f64const(0.0),
            _ => self.builder.ins().iconst(ty, 0),
        }
    }

    /// Cranelift type of a wasmparser value type; `v128` is unsupported.
    pub(crate) fn wasm_type(&self, ty: wasmparser::ValType) -> Result<Type, CompileError> {
        Ok(match ty {
            wasmparser::ValType::I32 => types::I32,
            wasmparser::ValType::I64 => types::I64,
            wasmparser::ValType::F32 => types::F32,
            wasmparser::ValType::F64 => types::F64,
            wasmparser::ValType::V128 => return Err(self.unsupported("SIMD (v128)")),
            wasmparser::ValType::Ref(_) => self.ptr(),
        })
    }

    // ---- operand stack -------------------------------------------------------------------

    pub(crate) fn push(&mut self, value: Value) {
        self.stack.push(value);
    }

    pub(crate) fn pop(&mut self) -> Result<Value, CompileError> {
        self.stack
            .pop()
            .ok_or_else(|| self.internal("operand stack underflow"))
    }

    pub(crate) fn pop2(&mut self) -> Result<(Value, Value), CompileError> {
        let b = self.pop()?;
        let a = self.pop()?;
        Ok((a, b))
    }

    pub(crate) fn pop3(&mut self) -> Result<(Value, Value, Value), CompileError> {
        let c = self.pop()?;
        let (a, b) = self.pop2()?;
        Ok((a, b, c))
    }

    /// Removes the top `n` values, bottom first.
    pub(crate) fn popn(&mut self, n: usize) -> Result<Vec<Value>, CompileError> {
        let len = self.stack.len();
        if n > len {
            return Err(self.internal("operand stack underflow"));
        }
        Ok(self.stack.split_off(len - n))
    }

    /// The top `n` values, bottom first, left on the stack.
    pub(crate) fn peekn(&self, n: usize) -> Result<Vec<Value>, CompileError> {
        let len = self.stack.len();
        if n > len {
            return Err(self.internal("operand stack underflow"));
        }
        Ok(self.stack[len - n..].to_vec())
    }

    // ---- traps -----------------------------------------------------------------------------

    /// The shared cold block that raises `code`.
    pub(crate) fn trap_block(&mut self, code: TrapCode) -> Block {
        if let Some((_, block)) = self.trap_blocks.iter().find(|(c, _)| *c == code) {
            return *block;
        }
        let block = self.builder.create_block();
        self.builder.set_cold_block(block);
        self.trap_blocks.push((code, block));
        block
    }

    /// Traps with `code` when `condition` is non-zero; continues in a fresh block otherwise.
    pub(crate) fn trap_if(&mut self, condition: Value, code: TrapCode) {
        let trap = self.trap_block(code);
        let next = self.builder.create_block();
        self.builder.ins().brif(condition, trap, &[], next, &[]);
        self.builder.switch_to_block(next);
        self.builder.seal_block(next);
    }

    /// Traps with the helper's status when it is non-zero.
    pub(crate) fn trap_if_status(&mut self, status: Value) {
        let trap = self.status_trap_block();
        let next = self.builder.create_block();
        self.builder
            .ins()
            .brif(status, trap, &[BlockArg::Value(status)], next, &[]);
        self.builder.switch_to_block(next);
        self.builder.seal_block(next);
    }

    /// The shared cold block that traps with the status (an `i32` parameter) of a failed
    /// helper.
    pub(crate) fn status_trap_block(&mut self) -> Block {
        match self.status_trap_block {
            Some(block) => block,
            None => {
                let block = self.builder.create_block();
                self.builder.append_block_param(block, types::I32);
                self.builder.set_cold_block(block);
                self.status_trap_block = Some(block);
                block
            }
        }
    }

    /// Emits the bodies of the cold trap blocks: `Trap(vmctx, code)` then a `trap` terminator
    /// (never executed: the helper unwinds).
    fn fill_trap_blocks(&mut self) {
        for (code, block) in std::mem::take(&mut self.trap_blocks) {
            self.builder.switch_to_block(block);
            self.builder.seal_block(block);
            let code_value = self
                .builder
                .ins()
                .iconst(types::I32, i64::from(code.as_u8()));
            self.call_libcall_void(Libcall::Trap, &[code_value]);
            self.builder
                .ins()
                .trap(ir::TrapCode::unwrap_user(code.as_u8()));
        }
        if let Some(block) = self.status_trap_block.take() {
            self.builder.switch_to_block(block);
            self.builder.seal_block(block);
            let status = self.builder.block_params(block)[0];
            self.call_libcall_void(Libcall::Trap, &[status]);
            self.builder
                .ins()
                .trap(ir::TrapCode::unwrap_user(TrapCode::HostError.as_u8()));
        }
    }

    // ---- operators -------------------------------------------------------------------------

    fn translate_operator(&mut self, op: &Operator<'_>) -> Result<(), CompileError> {
        self.preemption_before_operator(op);
        // Structure is tracked even in dead code; everything else is skipped there.
        match op {
            Operator::Block { blockty } => return self.translate_block(*blockty),
            Operator::Loop { blockty } => return self.translate_loop(*blockty),
            Operator::If { blockty } => return self.translate_if(*blockty),
            Operator::Else => return self.translate_else(),
            Operator::End => return self.translate_end(),
            _ => {}
        }
        if !self.reachable {
            return Ok(());
        }
        self.fuel_before_operator(op);
        match op {
            Operator::Unreachable => {
                let trap = self.trap_block(TrapCode::Unreachable);
                self.builder.ins().jump(trap, &[]);
                self.reachable = false;
            }
            Operator::Nop => {}
            Operator::Br { relative_depth } => self.translate_br(*relative_depth)?,
            Operator::BrIf { relative_depth } => self.translate_br_if(*relative_depth)?,
            Operator::BrTable { targets } => self.translate_br_table(targets)?,
            Operator::Return => self.translate_return()?,
            Operator::Call { function_index } => self.translate_call(*function_index)?,
            Operator::CallIndirect {
                type_index,
                table_index,
            } => self.translate_call_indirect(*type_index, *table_index)?,
            Operator::ReturnCall { .. }
            | Operator::ReturnCallIndirect { .. }
            | Operator::ReturnCallRef { .. } => {
                return Err(self.unsupported("tail calls"));
            }
            Operator::Drop => {
                self.pop()?;
            }
            Operator::Select | Operator::TypedSelect { .. } => {
                let (a, b, cond) = self.pop3()?;
                let value = self.builder.ins().select(cond, a, b);
                self.push(value);
            }
            Operator::TypedSelectMulti { tys } if tys.len() == 1 => {
                let (a, b, cond) = self.pop3()?;
                let value = self.builder.ins().select(cond, a, b);
                self.push(value);
            }
            Operator::LocalGet { local_index } => {
                let (var, _) = self.local(*local_index)?;
                let value = self.builder.use_var(var);
                self.push(value);
            }
            Operator::LocalSet { local_index } => {
                let (var, _) = self.local(*local_index)?;
                let value = self.pop()?;
                self.builder.def_var(var, value);
            }
            Operator::LocalTee { local_index } => {
                let (var, _) = self.local(*local_index)?;
                let value = *self
                    .stack
                    .last()
                    .ok_or_else(|| self.internal("operand stack underflow"))?;
                self.builder.def_var(var, value);
            }
            Operator::GlobalGet { global_index } => self.translate_global_get(*global_index)?,
            Operator::GlobalSet { global_index } => self.translate_global_set(*global_index)?,
            _ => {
                if !(self.translate_numeric(op)?
                    || self.translate_memory_op(op)?
                    || self.translate_table_op(op)?)
                {
                    return Err(self.unsupported(unsupported_name(op)));
                }
            }
        }
        Ok(())
    }

    fn local(&self, index: u32) -> Result<(Variable, Type), CompileError> {
        self.locals
            .get(index as usize)
            .copied()
            .ok_or_else(|| self.internal(format!("local {index} out of range")))
    }

    // ---- globals ---------------------------------------------------------------------------

    /// Address of global `index`'s value as (base, constant offset).
    fn global_address(&mut self, index: u32) -> (Value, i32) {
        let offsets = self.env.offsets;
        if index < self.env.num_imported_globals {
            let ptr = self.ptr();
            let definition = self.builder.ins().load(
                ptr,
                trusted_readonly(),
                self.vmctx,
                offsets.imported_global(index) as i32,
            );
            (definition, 0)
        } else {
            (
                self.vmctx,
                offsets.defined_global(index - self.env.num_imported_globals) as i32,
            )
        }
    }

    fn global_type(&self, index: u32) -> Result<(Type, bool), CompileError> {
        let global = self
            .env
            .globals
            .get(index as usize)
            .ok_or_else(|| self.internal("global out of range"))?;
        let ty =
            ValType::from_code(global.ty).ok_or_else(|| self.internal("bad global type code"))?;
        if ty == ValType::V128 {
            return Err(self.unsupported("SIMD (v128 global)"));
        }
        Ok((value_type(self.ptr(), ty), global.mutable))
    }

    fn translate_global_get(&mut self, index: u32) -> Result<(), CompileError> {
        let (ty, mutable) = self.global_type(index)?;
        let (base, offset) = self.global_address(index);
        let flags = if mutable {
            trusted()
        } else {
            trusted_readonly()
        };
        let value = self.builder.ins().load(ty, flags, base, offset);
        self.push(value);
        Ok(())
    }

    fn translate_global_set(&mut self, index: u32) -> Result<(), CompileError> {
        self.global_type(index)?;
        let value = self.pop()?;
        let (base, offset) = self.global_address(index);
        self.builder.ins().store(trusted(), value, base, offset);
        Ok(())
    }
}

/// A short description of an operator this translator does not handle.
fn unsupported_name(op: &Operator<'_>) -> String {
    let name = format!("{op:?}");
    let name = name
        .split([' ', '{', '('])
        .next()
        .unwrap_or("operator")
        .to_string();
    format!("operator {name}")
}
