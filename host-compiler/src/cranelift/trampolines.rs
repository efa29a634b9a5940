//! Adapters between the wasm calling convention and the array calling convention.
//!
//! Both conventions are specified in `shared_types::vmoffsets`; in short:
//!
//! * **array-entry** (`UserFuncName::user(1, func_index)`), how the host calls into wasm:
//!   `extern "C" fn(callee_vmctx, caller_vmctx, values: *mut ValRaw, count) -> u32`. Loads the
//!   parameters from `values[i]` (16-byte slots, value at offset 0, little-endian), calls the
//!   body `user(0, func_index)` directly with `callee_vmctx` as both vmctx arguments, stores
//!   the results to `values[i]` and returns 0. A trap inside the body unwinds past it.
//! * **wasm-to-array** (`UserFuncName::user(2, type_index)`), how wasm calls a host function:
//!   the wasm signature of the type. Spills the parameters to a `ValRaw` buffer in its own
//!   frame (`max(params, results)` slots), calls the host's `array_call` (loaded from
//!   `callee_vmctx + HOST_CONTEXT_ARRAY_CALL`), and on a non-zero status calls the `Trap`
//!   helper of `caller_vmctx` with it; otherwise loads the results from the buffer.

use cranelift_codegen::ir::{
    self, AbiParam, Endianness, ExtFuncData, ExternalName, InstBuilder, MemFlagsData, Signature,
    StackSlotData, StackSlotKind, Type, UserExternalName, UserFuncName, Value, types,
};
use cranelift_codegen::isa::CallConv;
use cranelift_frontend::{FunctionBuilder, FunctionBuilderContext};
use shared_types::vmoffsets::{HOST_CONTEXT_ARRAY_CALL, VAL_RAW_SIZE};
use shared_types::{Libcall, TrapCode};

use super::env::ModuleEnv;
use super::translate::{
    LIBCALL_CALL_CONV, frontend_config, libcall_signature, trusted_readonly, value_type,
    wasm_signature,
};

/// Flags for `ValRaw` slots: aligned, in bounds, little-endian.
fn val_raw_flags() -> MemFlagsData {
    MemFlagsData::trusted().with_endianness(Endianness::Little)
}

/// The array-convention signature `(callee_vmctx, caller_vmctx, values, count) -> u32`.
fn array_signature(pointer_type: Type, call_conv: CallConv) -> Signature {
    let mut sig = Signature::new(call_conv);
    sig.params.extend([AbiParam::new(pointer_type); 4]);
    sig.returns.push(AbiParam::new(types::I32));
    sig
}

fn types_of(env: &ModuleEnv, list: &[shared_types::ValType]) -> Vec<Type> {
    list.iter()
        .map(|t| value_type(env.pointer_type, *t))
        .collect()
}

/// Loads `types[i]` from slot `i` of the `ValRaw` array at `values`.
fn load_slots(builder: &mut FunctionBuilder<'_>, values: Value, types: &[Type]) -> Vec<Value> {
    types
        .iter()
        .enumerate()
        .map(|(i, ty)| {
            builder.ins().load(
                *ty,
                val_raw_flags(),
                values,
                (i as u32 * VAL_RAW_SIZE) as i32,
            )
        })
        .collect()
}

/// Stores `values_to_store[i]` to slot `i` of the `ValRaw` array at `values`.
fn store_slots(builder: &mut FunctionBuilder<'_>, values: Value, values_to_store: &[Value]) {
    for (i, value) in values_to_store.iter().enumerate() {
        builder.ins().store(
            val_raw_flags(),
            *value,
            values,
            (i as u32 * VAL_RAW_SIZE) as i32,
        );
    }
}

/// The array-entry trampoline of defined function `func_index`, in the platform C convention
/// `call_conv`.
pub fn array_entry_trampoline(
    env: &ModuleEnv,
    func_index: u32,
    call_conv: CallConv,
) -> ir::Function {
    let ptr = env.pointer_type;
    let type_index = env
        .func_types
        .get(func_index as usize)
        .copied()
        .unwrap_or(0);
    let (params, results) = match env.types.get(type_index as usize) {
        Some(sig) => (types_of(env, &sig.params), types_of(env, &sig.results)),
        None => (Vec::new(), Vec::new()),
    };

    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(1, func_index),
        array_signature(ptr, call_conv),
    );
    let mut context = FunctionBuilderContext::new();
    let mut builder = FunctionBuilder::new(&mut func, &mut context);
    let entry = builder.create_block();
    builder.append_block_params_for_function_params(entry);
    builder.switch_to_block(entry);
    builder.seal_block(entry);
    let [callee_vmctx, _caller_vmctx, values, _count] = *builder.block_params(entry) else {
        unreachable!("the array signature has four parameters")
    };

    let mut args = vec![callee_vmctx, callee_vmctx];
    args.extend(load_slots(&mut builder, values, &params));
    let body_sig = builder.import_signature(wasm_signature(env, type_index));
    let name = builder
        .func
        .declare_imported_user_function(UserExternalName::new(0, func_index));
    let body = builder.import_function(ExtFuncData {
        name: ExternalName::user(name),
        signature: body_sig,
        colocated: true,
        patchable: false,
    });
    let call = builder.ins().call(body, &args);
    let returned = builder.inst_results(call).to_vec();
    debug_assert_eq!(returned.len(), results.len());
    store_slots(&mut builder, values, &returned);
    let ok = builder.ins().iconst(types::I32, 0);
    builder.ins().return_(&[ok]);
    builder.finalize(frontend_config(env));
    func
}

/// The wasm-to-array trampoline of module type `type_index`; `call_conv` is the platform C
/// convention of host functions and runtime helpers.
pub fn wasm_to_array_trampoline(
    env: &ModuleEnv,
    type_index: u32,
    call_conv: CallConv,
) -> ir::Function {
    let ptr = env.pointer_type;
    let (params, results) = match env.types.get(type_index as usize) {
        Some(sig) => (types_of(env, &sig.params), types_of(env, &sig.results)),
        None => (Vec::new(), Vec::new()),
    };
    let slots = params.len().max(results.len()).max(1) as u32;

    let mut func = ir::Function::with_name_signature(
        UserFuncName::user(2, type_index),
        wasm_signature(env, type_index),
    );
    let mut context = FunctionBuilderContext::new();
    let mut builder = FunctionBuilder::new(&mut func, &mut context);
    let entry = builder.create_block();
    builder.append_block_params_for_function_params(entry);
    builder.switch_to_block(entry);
    builder.seal_block(entry);
    let entry_params = builder.block_params(entry).to_vec();
    let (callee_vmctx, caller_vmctx) = (entry_params[0], entry_params[1]);

    let slot = builder.create_sized_stack_slot(StackSlotData::new(
        StackSlotKind::ExplicitSlot,
        slots.saturating_mul(VAL_RAW_SIZE),
        4, // 16-byte alignment
    ));
    let buffer = builder.ins().stack_addr(ptr, slot, 0);
    store_slots(&mut builder, buffer, &entry_params[2..]);

    let array_call = builder.ins().load(
        ptr,
        trusted_readonly(),
        callee_vmctx,
        HOST_CONTEXT_ARRAY_CALL as i32,
    );
    let array_sig = builder.import_signature(array_signature(ptr, call_conv));
    let count = builder
        .ins()
        .iconst(ptr, i64::from(params.len().max(results.len()) as u32));
    let call = builder.ins().call_indirect(
        array_sig,
        array_call,
        &[callee_vmctx, caller_vmctx, buffer, count],
    );
    let status = builder.inst_results(call)[0];

    let failed = builder.create_block();
    let done = builder.create_block();
    builder.set_cold_block(failed);
    builder.ins().brif(status, failed, &[], done, &[]);

    // Failure: Trap(caller_vmctx, status) through the caller's helper table; never returns.
    builder.switch_to_block(failed);
    builder.seal_block(failed);
    let trap_sig =
        builder.import_signature(libcall_signature(Libcall::Trap, ptr, LIBCALL_CALL_CONV));
    let table = builder.ins().load(
        ptr,
        trusted_readonly(),
        caller_vmctx,
        env.offsets.libcalls() as i32,
    );
    let trap_fn = builder.ins().load(
        ptr,
        trusted_readonly(),
        table,
        Libcall::Trap.table_offset(env.offsets.ptr) as i32,
    );
    builder
        .ins()
        .call_indirect(trap_sig, trap_fn, &[caller_vmctx, status]);
    builder
        .ins()
        .trap(ir::TrapCode::unwrap_user(TrapCode::HostError.as_u8()));

    builder.switch_to_block(done);
    builder.seal_block(done);
    let returned = load_slots(&mut builder, buffer, &results);
    builder.ins().return_(&returned);
    builder.finalize(frontend_config(env));
    func
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cranelift::translate::tests::{compile_both, test_env};

    #[test]
    fn trampolines_verify_and_compile() {
        let env = test_env(
            "(module
               (type (func (param i32 i64 f32 f64 externref) (result f64 i32)))
               (import \"h\" \"f\" (func (type 0)))
               (func (type 0) f64.const 1 i32.const 2))",
        );
        compile_both(array_entry_trampoline(&env, 1, CallConv::SystemV));
        compile_both(wasm_to_array_trampoline(&env, 0, CallConv::SystemV));
    }
}
