//! Tables and references.
//!
//! A table element is pointer-sized: a funcref is `*const VMFuncRef`, an externref a host
//! value, 0 is null. `table.get`/`table.set`/`table.size` are inline (the base may move when
//! the table grows, so it is reloaded each time); the other table operators call runtime
//! helpers. `ref.func` is the address of the function's `VMFuncRef` in our own vmctx.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{InstBuilder, Value, types};
use shared_types::{Libcall, TrapCode};
use wasmparser::Operator;

use super::{FuncTranslator, trusted, trusted_readonly};
use crate::error::CompileError;

use types::{I32, I64};

impl FuncTranslator<'_, '_> {
    /// Refuses tables this translator cannot access (table64).
    fn check_table(&self, table: u32) -> Result<(), CompileError> {
        let ty = self
            .env
            .tables
            .get(table as usize)
            .ok_or_else(|| self.internal("table out of range"))?;
        if ty.index64 {
            return Err(self.unsupported("table64"));
        }
        Ok(())
    }

    /// The `VMTableDefinition` of `table` as (base pointer, constant offset).
    fn table_definition(&mut self, table: u32) -> Result<(Value, i32), CompileError> {
        self.check_table(table)?;
        let offsets = self.env.offsets;
        Ok(if table < self.env.num_imported_tables {
            let ptr = self.ptr();
            let definition = self.builder.ins().load(
                ptr,
                trusted_readonly(),
                self.vmctx,
                offsets.imported_table(table) as i32,
            );
            (definition, 0)
        } else {
            (
                self.vmctx,
                offsets.defined_table(table - self.env.num_imported_tables) as i32,
            )
        })
    }

    fn table_length(&mut self, definition: Value, offset: i32) -> Value {
        self.builder.ins().load(
            I32,
            trusted(),
            definition,
            offset + self.env.offsets.table_length() as i32,
        )
    }

    /// Address of element `index` (i32) of `table`, trapping with `code` when out of bounds.
    pub(crate) fn table_element_address(
        &mut self,
        table: u32,
        index: Value,
        code: TrapCode,
    ) -> Result<Value, CompileError> {
        let ptr = self.ptr();
        let (definition, offset) = self.table_definition(table)?;
        let length = self.table_length(definition, offset);
        let out_of_bounds =
            self.builder
                .ins()
                .icmp(IntCC::UnsignedGreaterThanOrEqual, index, length);
        self.trap_if(out_of_bounds, code);
        let base = self.builder.ins().load(
            ptr,
            trusted(),
            definition,
            offset + self.env.offsets.table_base() as i32,
        );
        let index = if ptr == I64 {
            self.builder.ins().uextend(I64, index)
        } else {
            index
        };
        let scaled = self
            .builder
            .ins()
            .imul_imm_s(index, i64::from(self.env.offsets.ptr));
        Ok(self.builder.ins().iadd(base, scaled))
    }

    fn table_index_const(&mut self, index: u32) -> Value {
        self.builder.ins().iconst(I32, i64::from(index))
    }

    /// Translates `op` if it is a table or reference operator; `Ok(false)` otherwise.
    pub(crate) fn translate_table_op(&mut self, op: &Operator<'_>) -> Result<bool, CompileError> {
        use Operator as O;
        let ptr = self.ptr();
        match op {
            O::RefNull { .. } => {
                let null = self.builder.ins().iconst(ptr, 0);
                self.push(null);
            }
            O::RefIsNull => {
                let value = self.pop()?;
                let is_null = self.builder.ins().icmp_imm_s(IntCC::Equal, value, 0);
                let is_null = self.builder.ins().uextend(I32, is_null);
                self.push(is_null);
            }
            O::RefFunc { function_index } => {
                let offset = self.env.offsets.func_ref(*function_index);
                let func_ref = self.builder.ins().iadd_imm_s(self.vmctx, i64::from(offset));
                self.push(func_ref);
            }
            O::TableGet { table } => {
                let index = self.pop()?;
                let address =
                    self.table_element_address(*table, index, TrapCode::TableOutOfBounds)?;
                let value = self.builder.ins().load(ptr, trusted(), address, 0);
                self.push(value);
            }
            O::TableSet { table } => {
                let (index, value) = self.pop2()?;
                let address =
                    self.table_element_address(*table, index, TrapCode::TableOutOfBounds)?;
                self.builder.ins().store(trusted(), value, address, 0);
            }
            O::TableSize { table } => {
                let (definition, offset) = self.table_definition(*table)?;
                let length = self.table_length(definition, offset);
                self.push(length);
            }
            O::TableGrow { table } => {
                self.check_table(*table)?;
                let (init, delta) = self.pop2()?;
                let table = self.table_index_const(*table);
                let old = self.call_libcall(Libcall::TableGrow, &[table, init, delta])?;
                self.push(old);
            }
            O::TableFill { table } => {
                self.check_table(*table)?;
                let (dst, value, len) = self.pop3()?;
                let table = self.table_index_const(*table);
                let status = self.call_libcall(Libcall::TableFill, &[table, dst, value, len])?;
                self.trap_if_status(status);
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                self.check_table(*dst_table)?;
                self.check_table(*src_table)?;
                let (dst, src, len) = self.pop3()?;
                let dst_table = self.table_index_const(*dst_table);
                let src_table = self.table_index_const(*src_table);
                let status =
                    self.call_libcall(Libcall::TableCopy, &[dst_table, src_table, dst, src, len])?;
                self.trap_if_status(status);
            }
            O::TableInit { elem_index, table } => {
                self.check_table(*table)?;
                let (dst, src, len) = self.pop3()?;
                let table = self.table_index_const(*table);
                let elem = self.table_index_const(*elem_index);
                let status =
                    self.call_libcall(Libcall::TableInit, &[table, elem, dst, src, len])?;
                self.trap_if_status(status);
            }
            O::ElemDrop { elem_index } => {
                let elem = self.table_index_const(*elem_index);
                self.call_libcall_void(Libcall::ElemDrop, &[elem]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
