//! Adapters between the array calling convention (host to wasm) and the Thumb wasm
//! convention: the array-entry trampoline (DESIGN.md section 6.4) and the wasm-to-array
//! trampoline (section 6.5), for every signature without v128. Result words past the fourth
//! travel in the return area above the stack arguments (section 6.1).

use shared_types::metadata::MemoryType;
use shared_types::vmoffsets::{
    HOST_CONTEXT_ARRAY_CALL, MEMORY_BASE, MEMORY_LENGTH, VAL_RAW_SIZE, VmOffsets,
};
use shared_types::{Libcall, TrapCode, ValType};

use super::asm::{Addr, AsmError, Assembler, Flags, Profile, Reg, RegList, Width};
use super::codegen::{CompiledFunction, Signature, memory_bound_bias, words_of};
use crate::error::CompileError;
use crate::link::Symbol;

/// Memory 0 of the module, for the instance registers: its type and whether it is imported.
#[derive(Clone, Copy, Debug)]
pub struct Memory0 {
    /// The memory's type.
    pub memory: MemoryType,
    /// Whether it is imported (the vmctx then holds a pointer to its definition).
    pub imported: bool,
}

/// The array-entry trampoline of defined function `func_index` with `signature`:
/// `extern "C" fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, count) -> u32`. It saves
/// every callee-saved register (the body changes the instance registers r7, r8, r10), sets the
/// instance registers from the vmctx, loads the arguments from `values[i]`, calls the body,
/// stores the results to `values[i]` and returns 0. A trap unwinds past it.
pub fn array_entry(
    profile: Profile,
    offsets: &VmOffsets,
    memory0: Option<Memory0>,
    func_index: u32,
    signature: &Signature,
) -> Result<CompiledFunction, CompileError> {
    let unsupported = |feature: &str| CompileError::Unsupported {
        location: crate::error::Location {
            func_index: Some(func_index),
            offset: 0,
        },
        feature: format!("Thumb-2 array-entry trampoline: {feature}"),
    };
    if words_of(&signature.params).is_none() || words_of(&signature.results).is_none() {
        return Err(unsupported("v128"));
    }
    let (param_words, _) = word_offsets(&signature.params);
    let (result_words, zero_results) = word_offsets(&signature.results);
    let params = param_words.len();
    let stack_args = params.saturating_sub(4) as u32;
    let return_area = 4 * result_words.len().saturating_sub(4) as u32;
    // Stack arguments, the return area, then the saved `values`; with the 9 pushed registers
    // (36 bytes) the total keeps sp 8-aligned at the call.
    let values_slot = 4 * stack_args + return_area;
    let frame = (36 + values_slot + 4).next_multiple_of(8) - 36;
    let emit = |a: &mut Assembler| -> Result<(), AsmError> {
        let saved = RegList::of(&[
            Reg::R4,
            Reg::R5,
            Reg::R6,
            Reg::R7,
            Reg::R8,
            Reg::R9,
            Reg::R10,
            Reg::R11,
            Reg::LR,
        ]);
        a.push(saved)?;
        a.sub(Flags::Any, Reg::SP, Reg::SP, frame)?;
        a.mov(Flags::Any, Reg::R10, Reg::R0)?;
        if let Some(m) = memory0 {
            load_instance_registers(a, offsets, m)?;
        }
        a.str(
            Width::W32,
            Reg::R2,
            Addr::Offset(Reg::SP, values_slot as i32),
        )?;
        a.mov(Flags::Any, Reg::R12, Reg::R2)?;
        let slot = |i: usize| Addr::Offset(Reg::R12, param_words[i]);
        for i in 4..params {
            a.ldr(Width::W32, Reg::R0, slot(i))?;
            a.str(
                Width::W32,
                Reg::R0,
                Addr::Offset(Reg::SP, 4 * (i as i32 - 4)),
            )?;
        }
        for i in 0..params.min(4) {
            a.ldr(Width::W32, Reg::new(i as u8).unwrap(), slot(i))?;
        }
        a.bl_call(Symbol::Function(func_index))?;
        a.ldr(
            Width::W32,
            Reg::R12,
            Addr::Offset(Reg::SP, values_slot as i32),
        )?;
        for (i, &at) in result_words.iter().enumerate() {
            let word = match Reg::new(i as u8).filter(|_| i < 4) {
                Some(r) => r,
                None => {
                    // r4 is ours to clobber (saved above).
                    let from = 4 * (stack_args as i32 + i as i32 - 4);
                    a.ldr(Width::W32, Reg::R4, Addr::Offset(Reg::SP, from))?;
                    Reg::R4
                }
            };
            a.str(Width::W32, word, Addr::Offset(Reg::R12, at))?;
        }
        a.mov(Flags::Any, Reg::R0, 0)?;
        for &at in &zero_results {
            a.str(Width::W32, Reg::R0, Addr::Offset(Reg::R12, at))?;
        }
        a.add(Flags::Any, Reg::SP, Reg::SP, frame)?;
        let mut restored = saved;
        restored.0 = (restored.0 & !(1 << 14)) | 1 << 15;
        a.pop(restored)
    };
    let mut a = Assembler::new(profile);
    emit(&mut a).map_err(|e| CompileError::Codegen {
        func_index,
        message: format!("array-entry trampoline: {e}"),
    })?;
    let out = a.finish().map_err(|e| CompileError::Codegen {
        func_index,
        message: format!("array-entry trampoline: {e}"),
    })?;
    Ok(CompiledFunction {
        code: out.code,
        traps: Vec::new(),
        calls: out.calls,
    })
}

/// The `ValRaw` byte offset of each core-register word of `types` (an i64 or f64 is two words
/// of one 16-byte slot, low word first) and the offsets of the high words that must be
/// zeroed (references: the host reads 8 bytes of a pointer-sized value).
fn word_offsets(types: &[ValType]) -> (Vec<i32>, Vec<i32>) {
    let mut words = Vec::new();
    let mut zero = Vec::new();
    for (i, &t) in types.iter().enumerate() {
        let at = (VAL_RAW_SIZE as usize * i) as i32;
        words.push(at);
        match words_of(&[t]) {
            Some(2) => words.push(at + 4),
            _ if matches!(t, ValType::FuncRef | ValType::ExternRef) => zero.push(at + 4),
            _ => {}
        }
    }
    (words, zero)
}

/// Loads the instance registers r7 (base of memory 0) and r8 (`length - bias`, DESIGN.md
/// section 8) from the vmctx in r10; clobbers r12 when the memory is imported.
pub fn load_instance_registers(
    a: &mut Assembler,
    offsets: &VmOffsets,
    m: Memory0,
) -> Result<(), AsmError> {
    let (definition, at) = if m.imported {
        a.ldr(
            Width::W32,
            Reg::R12,
            Addr::Offset(Reg::R10, offsets.imported_memory(0) as i32),
        )?;
        (Reg::R12, 0)
    } else {
        (Reg::R10, offsets.defined_memory(0) as i32)
    };
    a.ldr(
        Width::W32,
        Reg::R7,
        Addr::Offset(definition, at + MEMORY_BASE as i32),
    )?;
    a.ldr(
        Width::W32,
        Reg::R8,
        Addr::Offset(definition, at + MEMORY_LENGTH as i32),
    )?;
    let bias = memory_bound_bias(&m.memory);
    if bias > 0 {
        a.sub(Flags::Any, Reg::R8, Reg::R8, bias)?;
    }
    Ok(())
}

/// The instance entry of a function reachable through a `VMFuncRef` (DESIGN.md section 6.3):
/// the instance registers from r10, then the body follows. Padded to a multiple of 4 bytes so
/// the body's PC-relative loads keep their alignment; direct calls skip it (their addend is its
/// length, the same for every function of a module).
pub fn instance_entry(
    profile: Profile,
    offsets: &VmOffsets,
    memory0: Memory0,
) -> Result<Vec<u8>, CompileError> {
    let failure = |e: AsmError| CompileError::Codegen {
        func_index: 0,
        message: format!("instance entry: {e}"),
    };
    let mut a = Assembler::new(profile);
    load_instance_registers(&mut a, offsets, memory0).map_err(failure)?;
    while !a.offset().is_multiple_of(4) {
        a.nop().map_err(failure)?;
    }
    let out = a.finish().map_err(failure)?;
    Ok(out.code)
}

/// The wasm-to-array trampoline of imported function type `type_index` (DESIGN.md section
/// 6.5): called like a wasm function with r10 = the host function's context and r12 = the
/// caller's vmctx, it spills the arguments to a `ValRaw` buffer on its stack, calls the host's
/// `array_call` (from the context) with `(context, caller vmctx, buffer, count)`, passes a
/// non-zero status to the caller's `Trap` libcall, and otherwise loads the results.
pub fn wasm_to_array(
    profile: Profile,
    offsets: &VmOffsets,
    type_index: u32,
    signature: &Signature,
) -> Result<CompiledFunction, CompileError> {
    let failure = |message: String| CompileError::Codegen {
        func_index: 0,
        message: format!("wasm-to-array trampoline of type {type_index}: {message}"),
    };
    let (param_words, zero_params) = word_offsets(&signature.params);
    let (result_words, _) = word_offsets(&signature.results);
    if words_of(&signature.params).is_none() || words_of(&signature.results).is_none() {
        return Err(CompileError::Unsupported {
            location: crate::error::Location {
                func_index: None,
                offset: 0,
            },
            feature: format!(
                "Thumb-2 wasm-to-array trampoline of type {type_index}: v128 in the signature"
            ),
        });
    }
    let params = param_words.len();
    let results = result_words.len();
    let count = signature.params.len().max(signature.results.len()) as u32;
    // The host reads the buffer as `ValRaw`s, which are 16-byte aligned: the buffer goes at the
    // next 16-byte boundary below sp (wasm keeps sp only 8-aligned), and r5 keeps the entry sp.
    let buffer = VAL_RAW_SIZE * count.max(1);
    let param_slot = |i: usize| Addr::Offset(Reg::SP, param_words[i]);
    let result_slot = |i: usize| Addr::Offset(Reg::SP, result_words[i]);
    let emit = |a: &mut Assembler| -> Result<(), AsmError> {
        let failed = a.new_label();
        a.push(RegList::of(&[Reg::R4, Reg::R5, Reg::LR]))?;
        a.mov(Flags::Any, Reg::R4, Reg::R12)?;
        a.mov(Flags::Any, Reg::R5, Reg::SP)?;
        a.sub(Flags::Any, Reg::R12, Reg::SP, buffer)?;
        a.bic(Flags::Any, Reg::R12, Reg::R12, 15)?;
        a.mov(Flags::Any, Reg::SP, Reg::R12)?;
        for i in 0..params.min(4) {
            a.str(Width::W32, Reg::new(i as u8).unwrap(), param_slot(i))?;
        }
        for i in 4..params {
            // Above the three pushed words.
            let incoming = 12 + 4 * (i as i32 - 4);
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R5, incoming))?;
            a.str(Width::W32, Reg::R12, param_slot(i))?;
        }
        // References are pointer-sized: the host reads 8 bytes, the high word must be 0.
        if !zero_params.is_empty() {
            a.mov(Flags::Any, Reg::R12, 0)?;
        }
        for &at in &zero_params {
            a.str(Width::W32, Reg::R12, Addr::Offset(Reg::SP, at))?;
        }
        a.mov(Flags::Any, Reg::R0, Reg::R10)?;
        a.mov(Flags::Any, Reg::R1, Reg::R4)?;
        a.mov(Flags::Any, Reg::R2, Reg::SP)?;
        a.mov(Flags::Any, Reg::R3, count)?;
        a.ldr(
            Width::W32,
            Reg::R12,
            Addr::Offset(Reg::R10, HOST_CONTEXT_ARRAY_CALL as i32),
        )?;
        a.blx(Reg::R12)?;
        a.cbz(true, Reg::R0, failed)?;
        // Words past the fourth go to the caller's return area, above its stack arguments.
        for i in 4..results {
            let to = 12 + 4 * (params.saturating_sub(4) + i - 4) as i32;
            a.ldr(Width::W32, Reg::R12, result_slot(i))?;
            a.str(Width::W32, Reg::R12, Addr::Offset(Reg::R5, to))?;
        }
        for i in 0..results.min(4) {
            a.ldr(Width::W32, Reg::new(i as u8).unwrap(), result_slot(i))?;
        }
        a.mov(Flags::Any, Reg::SP, Reg::R5)?;
        a.pop(RegList::of(&[Reg::R4, Reg::R5, Reg::PC]))?;
        // A dynamic trap code: the caller's `Trap` libcall, which does not return.
        a.bind(failed)?;
        a.mov(Flags::Any, Reg::R1, Reg::R0)?;
        a.mov(Flags::Any, Reg::R0, Reg::R4)?;
        a.ldr(
            Width::W32,
            Reg::R12,
            Addr::Offset(Reg::R4, offsets.libcalls() as i32),
        )?;
        a.ldr(
            Width::W32,
            Reg::R12,
            Addr::Offset(Reg::R12, Libcall::Trap.table_offset(4) as i32),
        )?;
        a.blx(Reg::R12)?;
        a.udf(super::codegen::TRAP_UDF_BASE + TrapCode::HostError.as_u8())
    };
    let mut a = Assembler::new(profile);
    emit(&mut a).map_err(|e| failure(e.to_string()))?;
    let out = a.finish().map_err(|e| failure(e.to_string()))?;
    let at = out.code.len() as u32 - 2;
    Ok(CompiledFunction {
        code: out.code,
        traps: vec![(at, TrapCode::HostError)],
        calls: out.calls,
    })
}
