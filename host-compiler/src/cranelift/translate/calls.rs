//! Calls: direct calls, calls to imports, `call_indirect`, and runtime helpers.
//!
//! * A defined callee is called directly (colocated `call`, the only relocation an image
//!   function may contain) with the caller's vmctx as both vmctx arguments.
//! * An imported callee is called through its `VMFuncRef` in the vmctx: `wasm_call` with
//!   `(funcref.vmctx, own vmctx, args...)`.
//! * `call_indirect` loads a `*const VMFuncRef` from the table after a bounds check
//!   (`UndefinedElement`), a null check (`UninitializedElement`) and a comparison of the
//!   canonical type ids (`IndirectCallTypeMismatch`), then calls like an import.
//! * Runtime helpers are loaded from the vmctx's helper table and called with the platform C
//!   convention, so the text never holds an address.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{
    ExtFuncData, ExternalName, FuncRef, Inst, InstBuilder, SigRef, UserExternalName, Value, types,
};
use shared_types::{Libcall, TrapCode};

use super::{
    FuncTranslator, LIBCALL_CALL_CONV, libcall_signature, trusted_readonly, wasm_signature,
};
use crate::error::CompileError;

impl FuncTranslator<'_, '_> {
    /// The imported signature of module type `type_index`.
    fn wasm_sig_ref(&mut self, type_index: u32) -> SigRef {
        if let Some(sig) = self.wasm_sigs.get(&type_index) {
            return *sig;
        }
        let sig = self
            .builder
            .import_signature(wasm_signature(self.env, type_index));
        self.wasm_sigs.insert(type_index, sig);
        sig
    }

    /// The direct-call reference of defined function `func_index`.
    fn direct_func_ref(&mut self, func_index: u32, sig: SigRef) -> FuncRef {
        if let Some(func) = self.direct_funcs.get(&func_index) {
            return *func;
        }
        let name = self
            .builder
            .func
            .declare_imported_user_function(UserExternalName::new(0, func_index));
        let func = self.builder.import_function(ExtFuncData {
            name: ExternalName::user(name),
            signature: sig,
            colocated: true,
            patchable: false,
        });
        self.direct_funcs.insert(func_index, func);
        func
    }

    fn push_results(&mut self, call: Inst) {
        let results = self.builder.inst_results(call).to_vec();
        self.stack.extend(results);
    }

    fn callee_type(&self, func_index: u32) -> Result<u32, CompileError> {
        self.env
            .func_types
            .get(func_index as usize)
            .copied()
            .ok_or_else(|| self.internal("callee out of range"))
    }

    pub(crate) fn translate_call(&mut self, func_index: u32) -> Result<(), CompileError> {
        let type_index = self.callee_type(func_index)?;
        let num_params = self
            .env
            .types
            .get(type_index as usize)
            .map_or(0, |t| t.params.len());
        let sig = self.wasm_sig_ref(type_index);
        let params = self.popn(num_params)?;
        self.fuel_to_memory();
        let call = if self.env.is_imported_func(func_index) {
            let func_ref = self
                .builder
                .ins()
                .iadd_imm_s(self.vmctx, i64::from(self.env.offsets.func_ref(func_index)));
            self.call_func_ref(sig, func_ref, &params)
        } else {
            let callee = self.direct_func_ref(func_index, sig);
            let mut args = Vec::with_capacity(params.len() + 2);
            args.extend([self.vmctx, self.vmctx]);
            args.extend(params);
            self.builder.ins().call(callee, &args)
        };
        self.defer_preemption_reload();
        self.push_results(call);
        Ok(())
    }

    /// Calls through a (non-null, type-checked) `VMFuncRef`.
    fn call_func_ref(&mut self, sig: SigRef, func_ref: Value, params: &[Value]) -> Inst {
        let ptr = self.ptr();
        let offsets = self.env.offsets;
        let code = self.builder.ins().load(
            ptr,
            trusted_readonly(),
            func_ref,
            offsets.func_ref_wasm_call() as i32,
        );
        let callee_vmctx = self.builder.ins().load(
            ptr,
            trusted_readonly(),
            func_ref,
            offsets.func_ref_vmctx() as i32,
        );
        let mut args = Vec::with_capacity(params.len() + 2);
        args.extend([callee_vmctx, self.vmctx]);
        args.extend_from_slice(params);
        self.builder.ins().call_indirect(sig, code, &args)
    }

    pub(crate) fn translate_call_indirect(
        &mut self,
        type_index: u32,
        table_index: u32,
    ) -> Result<(), CompileError> {
        let num_params = self
            .env
            .types
            .get(type_index as usize)
            .map(|t| t.params.len())
            .ok_or_else(|| self.internal("call_indirect type out of range"))?;
        let index = self.pop()?;
        let params = self.popn(num_params)?;
        let sig = self.wasm_sig_ref(type_index);
        let ptr = self.ptr();
        let offsets = self.env.offsets;

        let slot = self.table_element_address(table_index, index, TrapCode::UndefinedElement)?;
        let func_ref = self.builder.ins().load(ptr, super::trusted(), slot, 0);
        let is_null = self.builder.ins().icmp_imm_s(IntCC::Equal, func_ref, 0);
        self.trap_if(is_null, TrapCode::UninitializedElement);

        let actual = self.builder.ins().load(
            types::I32,
            trusted_readonly(),
            func_ref,
            offsets.func_ref_type_id() as i32,
        );
        let expected = self.builder.ins().load(
            types::I32,
            trusted_readonly(),
            self.vmctx,
            offsets.type_id(type_index) as i32,
        );
        let mismatch = self.builder.ins().icmp(IntCC::NotEqual, actual, expected);
        self.trap_if(mismatch, TrapCode::IndirectCallTypeMismatch);

        self.fuel_to_memory();
        let call = self.call_func_ref(sig, func_ref, &params);
        self.defer_preemption_reload();
        self.push_results(call);
        Ok(())
    }

    pub(crate) fn libcall_sig_ref(&mut self, libcall: Libcall) -> SigRef {
        if let Some(sig) = self.libcall_sigs.get(&libcall.index()) {
            return *sig;
        }
        let sig = self.builder.import_signature(libcall_signature(
            libcall,
            self.ptr(),
            LIBCALL_CALL_CONV,
        ));
        self.libcall_sigs.insert(libcall.index(), sig);
        sig
    }

    /// Calls a runtime helper with `(vmctx, args...)` and returns the call instruction; with
    /// fuel, the slice is stored before the call and reloaded after it.
    fn emit_libcall(&mut self, libcall: Libcall, args: &[Value]) -> Inst {
        self.fuel_to_memory();
        let call = self.emit_libcall_only(libcall, args);
        self.reload_preemption_variables();
        call
    }

    fn emit_libcall_only(&mut self, libcall: Libcall, args: &[Value]) -> Inst {
        let ptr = self.ptr();
        let sig = self.libcall_sig_ref(libcall);
        let table = self.builder.ins().load(
            ptr,
            trusted_readonly(),
            self.vmctx,
            self.env.offsets.libcalls() as i32,
        );
        let entry = libcall.table_offset(self.env.offsets.ptr) as i32;
        let function = self
            .builder
            .ins()
            .load(ptr, trusted_readonly(), table, entry);
        let mut all_args = Vec::with_capacity(args.len() + 1);
        all_args.push(self.vmctx);
        all_args.extend_from_slice(args);
        self.builder.ins().call_indirect(sig, function, &all_args)
    }

    /// Calls a helper that returns one value.
    pub(crate) fn call_libcall(
        &mut self,
        libcall: Libcall,
        args: &[Value],
    ) -> Result<Value, CompileError> {
        let call = self.emit_libcall(libcall, args);
        self.builder
            .inst_results(call)
            .first()
            .copied()
            .ok_or_else(|| self.internal("libcall without result"))
    }

    /// Calls a helper that returns nothing.
    pub(crate) fn call_libcall_void(&mut self, libcall: Libcall, args: &[Value]) {
        self.emit_libcall(libcall, args);
    }
}
