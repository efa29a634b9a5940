//! Tables and references.
//!
//! A table element is pointer-sized: a funcref is `*const VMFuncRef`, an externref a host
//! value, 0 is null. `table.get`/`table.set`/`table.size` are inline (the base may move when
//! the table grows, so it is reloaded each time); the other table operators call runtime
//! helpers. `ref.func` is the address of the function's `VMFuncRef` in our own vmctx.
//!
//! **table64.** Tables and the table helpers are 32-bit (no table holds 2^32 elements), so
//! an i64 index, destination, source or length of a 64-bit table is narrowed
//! ([`FuncTranslator::narrow_table_operand`]): a nonzero high word traps (the index is past
//! any table's end, a length runs past it), otherwise the low word goes on as the 32-bit
//! operand. `table.size` is zero-extended; `table.grow` answers -1 for a delta of 2^32 or
//! more without calling the helper, and widens the helper's 32-bit answer (`u32::MAX`, the
//! failure, becomes -1).

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{BlockArg, InstBuilder, Value, types};
use shared_types::{Libcall, TrapCode};
use wasmparser::Operator;

use super::{FuncTranslator, trusted, trusted_readonly};
use crate::error::CompileError;

use types::{I32, I64};

impl FuncTranslator<'_, '_> {
    /// Whether `table` has 64-bit indices (table64).
    fn table_is_64(&self, table: u32) -> Result<bool, CompileError> {
        self.env
            .tables
            .get(table as usize)
            .map(|ty| ty.index64)
            .ok_or_else(|| self.internal("table out of range"))
    }

    /// An index, destination, source or length operand of a table as the 32-bit value the
    /// table code and helpers take: an i32 as it is; an i64 (`wide`) traps with `code` when
    /// its high word is nonzero (at least 2^32: past the end of any table), else its low word.
    pub(crate) fn narrow_table_operand(
        &mut self,
        value: Value,
        wide: bool,
        code: TrapCode,
    ) -> Value {
        if !wide {
            return value;
        }
        let too_big =
            self.builder
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThan, value, i64::from(u32::MAX));
        self.trap_if(too_big, code);
        self.builder.ins().ireduce(I32, value)
    }

    /// The `VMTableDefinition` of `table` as (base pointer, constant offset).
    fn table_definition(&mut self, table: u32) -> Result<(Value, i32), CompileError> {
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

    /// Address of element `index` of `table` (an i32, or an i64 for a 64-bit table),
    /// trapping with `code` when out of bounds.
    pub(crate) fn table_element_address(
        &mut self,
        table: u32,
        index: Value,
        code: TrapCode,
    ) -> Result<Value, CompileError> {
        let ptr = self.ptr();
        let wide = self.table_is_64(table)?;
        let index = self.narrow_table_operand(index, wide, code);
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

    /// `table.grow` of a 64-bit table (`table` the index constant, `delta` an i64): -1 for a
    /// delta of 2^32 or more, which no table can take, without calling the helper; otherwise
    /// the helper on the low word, its `u32::MAX` (failure) widened to -1 and any other old
    /// size zero-extended.
    fn table64_grow(
        &mut self,
        table: Value,
        init: Value,
        delta: Value,
    ) -> Result<Value, CompileError> {
        let call = self.builder.create_block();
        let done = self.builder.create_block();
        self.builder.append_block_param(done, I64);
        let too_big =
            self.builder
                .ins()
                .icmp_imm_s(IntCC::UnsignedGreaterThan, delta, i64::from(u32::MAX));
        let failed = self.builder.ins().iconst(I64, -1);
        self.builder
            .ins()
            .brif(too_big, done, &[BlockArg::Value(failed)], call, &[]);
        self.builder.switch_to_block(call);
        self.builder.seal_block(call);
        let low = self.builder.ins().ireduce(I32, delta);
        let old = self.call_libcall(Libcall::TableGrow, &[table, init, low])?;
        let old_failed = self.builder.ins().icmp_imm_s(IntCC::Equal, old, -1);
        let widened = self.builder.ins().uextend(I64, old);
        let minus_one = self.builder.ins().iconst(I64, -1);
        let result = self.builder.ins().select(old_failed, minus_one, widened);
        self.builder.ins().jump(done, &[BlockArg::Value(result)]);
        self.builder.switch_to_block(done);
        self.builder.seal_block(done);
        Ok(self.builder.block_params(done)[0])
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
                let size = if self.table_is_64(*table)? {
                    self.builder.ins().uextend(I64, length)
                } else {
                    length
                };
                self.push(size);
            }
            O::TableGrow { table } => {
                let wide = self.table_is_64(*table)?;
                let (init, delta) = self.pop2()?;
                let table = self.table_index_const(*table);
                let old = if wide {
                    self.table64_grow(table, init, delta)?
                } else {
                    self.call_libcall(Libcall::TableGrow, &[table, init, delta])?
                };
                self.push(old);
            }
            O::TableFill { table } => {
                let wide = self.table_is_64(*table)?;
                let (dst, value, len) = self.pop3()?;
                let code = TrapCode::TableOutOfBounds;
                let dst = self.narrow_table_operand(dst, wide, code);
                let len = self.narrow_table_operand(len, wide, code);
                let table = self.table_index_const(*table);
                let status = self.call_libcall(Libcall::TableFill, &[table, dst, value, len])?;
                self.trap_if_status(status);
            }
            O::TableCopy {
                dst_table,
                src_table,
            } => {
                let dst_wide = self.table_is_64(*dst_table)?;
                let src_wide = self.table_is_64(*src_table)?;
                let (dst, src, len) = self.pop3()?;
                // Each address has its own table's index type; the length is an i64 only
                // between two 64-bit tables.
                let code = TrapCode::TableOutOfBounds;
                let dst = self.narrow_table_operand(dst, dst_wide, code);
                let src = self.narrow_table_operand(src, src_wide, code);
                let len = self.narrow_table_operand(len, dst_wide && src_wide, code);
                let dst_table = self.table_index_const(*dst_table);
                let src_table = self.table_index_const(*src_table);
                let status =
                    self.call_libcall(Libcall::TableCopy, &[dst_table, src_table, dst, src, len])?;
                self.trap_if_status(status);
            }
            O::TableInit { elem_index, table } => {
                let wide = self.table_is_64(*table)?;
                let (dst, src, len) = self.pop3()?;
                // Only the destination has the table's index type; `src` and `len` are i32.
                let dst = self.narrow_table_operand(dst, wide, TrapCode::TableOutOfBounds);
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
