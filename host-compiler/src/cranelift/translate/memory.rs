//! Linear memory: loads, stores, explicit bounds checks, `memory.size`/`memory.grow` and the
//! bulk-memory operators.
//!
//! # Bounds checks ([`BoundsChecks::Explicit`])
//!
//! For a memory32 access of `size` bytes at `index + offset` the check is
//!
//! ```text
//! end = zext64(index) + (offset + size)      // < 2^33 + 8: cannot overflow in 64 bits
//! if end > length { trap MemoryOutOfBounds }  // length: u64 bytes in VMMemoryDefinition
//! address = base + zext(index) + offset
//! ```
//!
//! For a memory64 access the index is already an `i64` and the static offset a `u64`, so the
//! sum can overflow and must trap rather than wrap around to a small address:
//!
//! ```text
//! bound = offset + size                        // computed here; > u64::MAX: always traps
//! end = index + bound                          // wrapping i64 add
//! if end < index { trap MemoryOutOfBounds }    // the add carried: the true end is >= 2^64
//! if end > length { trap MemoryOutOfBounds }
//! address = base + index + offset              // index + offset <= length: no wrap
//! ```
//!
//! Both branches go to the same cold trap block as the memory32 check (the `Trap` helper, not a
//! Cranelift trap instruction), so a memory64 bounds trap is reported exactly as a memory32 one
//! and needs no fuel flush before it. memory64 never takes the guard-elided path below.
//!
//! Cost on aarch64 (`bench mem64`, guest instructions per load in a loop): 7 against 6 for the
//! memory32 check (3 guard-elided). Cranelift rematerialises `end` in the second block, so the
//! check is `add; cmp; b.lo; add; cmp; b.hi`. Two alternatives measured worse, 8 each:
//! `uadd_overflow_trap` (it takes no immediate, so `mov; adds; b.hs; cmp; b.hi`, and its trap
//! would go through the trap table) and saturating `end` with a `select` before one compare.
//!
//! `length` is loaded at every access (it changes when the memory grows, possibly inside any
//! call); `base` never moves, so its load is `readonly` and Cranelift may share it. The access
//! itself is `notrap`: the check already guarantees it is in bounds.
//!
//! # Guard-elided accesses ([`BoundsChecks::GuardElided`])
//!
//! The device reserves 4 GiB + `guard_size` bytes from the memory's base, everything from the
//! current length (a multiple of 64 KiB) on inaccessible. For a memory32 with 64 KiB pages an
//! access whose `offset + size <= guard_size` ends at most at `2^32 - 1 + guard_size`, inside
//! that reservation, so it needs no check: `address = base + zext(index) + offset`, and the
//! load/store carries trap code `HEAP_OUT_OF_BOUNDS`, which puts it in the trap table as
//! `MemoryOutOfBounds`; the fault hook maps a fault at it to that trap. Accesses with a larger
//! offset, memories with custom page sizes (the length need not be page aligned) and memory64
//! keep the explicit check.

use cranelift_codegen::ir::condcodes::IntCC;
use cranelift_codegen::ir::{self, Endianness, InstBuilder, MemFlagsData, Type, Value, types};
use shared_types::metadata::{BoundsChecks, MemoryType};
use shared_types::vmoffsets::{MEMORY_BASE, MEMORY_LENGTH};
use shared_types::{Libcall, TrapCode};
use wasmparser::{MemArg, MemArgTarget, Operator};

use super::{FuncTranslator, trusted, trusted_readonly};
use crate::error::CompileError;

use types::{F32, F64, I32, I64};

/// How a load widens its value.
#[derive(Clone, Copy)]
enum Widen {
    None,
    Signed,
    Unsigned,
}

/// Flags of a wasm memory access: `notrap` when explicitly checked, otherwise the access may
/// fault on the guard and is recorded in the trap table.
fn heap_flags(checked: bool) -> MemFlagsData {
    let flags = MemFlagsData::new().with_endianness(Endianness::Little);
    if checked {
        flags.with_notrap()
    } else {
        flags.with_trap_code(Some(ir::TrapCode::HEAP_OUT_OF_BOUNDS))
    }
}

impl FuncTranslator<'_, '_> {
    fn memory_type(&self, memory: u32) -> Result<MemoryType, CompileError> {
        let ty = *self
            .env
            .memories
            .get(memory as usize)
            .ok_or_else(|| self.internal("memory out of range"))?;
        Ok(ty)
    }

    /// The `VMMemoryDefinition` of `memory` as (base pointer, constant offset).
    fn memory_definition(&mut self, memory: u32) -> (Value, i32) {
        let offsets = self.env.offsets;
        if memory < self.env.num_imported_memories {
            let ptr = self.ptr();
            let definition = self.builder.ins().load(
                ptr,
                trusted_readonly(),
                self.vmctx,
                offsets.imported_memory(memory) as i32,
            );
            (definition, 0)
        } else {
            (
                self.vmctx,
                offsets.defined_memory(memory - self.env.num_imported_memories) as i32,
            )
        }
    }

    /// Current length of `memory` in bytes (u64).
    fn memory_length(&mut self, memory: u32) -> Value {
        let (definition, offset) = self.memory_definition(memory);
        self.builder
            .ins()
            .load(I64, trusted(), definition, offset + MEMORY_LENGTH as i32)
    }

    /// Checks an access of `size` bytes at `index + offset` (explicitly, or by the guard when
    /// allowed) and returns its native address and whether it was checked explicitly.
    fn checked_address(
        &mut self,
        memory: u32,
        index: Value,
        offset: u64,
        size: u32,
    ) -> Result<(Value, bool), CompileError> {
        let ty = self.memory_type(memory)?;
        let ptr = self.ptr();
        let (definition, def_offset) = self.memory_definition(memory);
        let guarded = self.env.bounds_checks == BoundsChecks::GuardElided
            && ptr == I64
            && !ty.index64
            && ty.page_size_log2 == 16
            && offset + u64::from(size) <= self.env.guard_size;
        if guarded {
            // The access may fault on the guard: the fuel slice must be in memory then.
            self.fuel_to_memory();
            let base = self.builder.ins().load(
                ptr,
                trusted_readonly(),
                definition,
                def_offset + MEMORY_BASE as i32,
            );
            let index64 = self.builder.ins().uextend(I64, index);
            let address = self.builder.ins().iadd(base, index64);
            let address = if offset == 0 {
                address
            } else {
                self.builder.ins().iadd_imm_s(address, offset as i64)
            };
            return Ok((address, false));
        }
        let length = self.builder.ins().load(
            I64,
            trusted(),
            definition,
            def_offset + MEMORY_LENGTH as i32,
        );
        let base = self.builder.ins().load(
            ptr,
            trusted_readonly(),
            definition,
            def_offset + MEMORY_BASE as i32,
        );

        if ty.index64 {
            let address = self.memory64_checked_address(base, length, index, offset, size);
            return Ok((address, true));
        }

        // memory32: offset < 2^32 (validated), so offset + size fits in an i64 immediate.
        let index64 = self.builder.ins().uextend(I64, index);
        let end = self
            .builder
            .ins()
            .iadd_imm_s(index64, (offset + u64::from(size)) as i64);
        let out_of_bounds = self
            .builder
            .ins()
            .icmp(IntCC::UnsignedGreaterThan, end, length);
        self.trap_if(out_of_bounds, TrapCode::MemoryOutOfBounds);

        let index_ptr = if ptr == I64 { index64 } else { index };
        let address = self.builder.ins().iadd(base, index_ptr);
        let address = if offset == 0 {
            address
        } else {
            self.builder.ins().iadd_imm_s(address, offset as i64)
        };
        Ok((address, true))
    }

    /// The explicit check and address of a memory64 access (see the module documentation):
    /// `index` is the `i64` operand, `length` the current byte length, `base` the base pointer.
    fn memory64_checked_address(
        &mut self,
        base: Value,
        length: Value,
        index: Value,
        offset: u64,
        size: u32,
    ) -> Value {
        match offset.checked_add(u64::from(size)) {
            Some(bound) => {
                // The immediate holds the bit pattern of the unsigned 64-bit `bound`.
                let end = self.builder.ins().iadd_imm_u(index, bound as i64);
                let carried = self.builder.ins().icmp(IntCC::UnsignedLessThan, end, index);
                self.trap_if(carried, TrapCode::MemoryOutOfBounds);
                let out_of_bounds =
                    self.builder
                        .ins()
                        .icmp(IntCC::UnsignedGreaterThan, end, length);
                self.trap_if(out_of_bounds, TrapCode::MemoryOutOfBounds);
            }
            None => {
                // The access ends beyond 2^64 whatever the index: it always traps. The code
                // after the branch is never executed but still needs an address.
                let always = self.builder.ins().iconst(types::I8, 1);
                self.trap_if(always, TrapCode::MemoryOutOfBounds);
            }
        }
        let ptr = self.ptr();
        let index_ptr = if ptr == I64 {
            index
        } else {
            // In bounds, so below the length, which fits in a pointer.
            self.builder.ins().ireduce(ptr, index)
        };
        let address = self.builder.ins().iadd(base, index_ptr);
        if offset == 0 {
            address
        } else {
            self.builder.ins().iadd_imm_u(address, offset as i64)
        }
    }

    fn memarg_memory(&self, memarg: &MemArg) -> Result<u32, CompileError> {
        match memarg.target {
            MemArgTarget::Memory(index) => Ok(index),
            MemArgTarget::Array(_) => Err(self.unsupported("GC array access")),
        }
    }

    /// Load of `size` bytes producing `ty`.
    fn load(
        &mut self,
        memarg: &MemArg,
        ty: Type,
        size: u32,
        extend: Widen,
    ) -> Result<(), CompileError> {
        let memory = self.memarg_memory(memarg)?;
        let index = self.pop()?;
        let (address, checked) = self.checked_address(memory, index, memarg.offset, size)?;
        let flags = heap_flags(checked);
        let ins = self.builder.ins();
        let value = match (extend, size) {
            (Widen::None, _) => ins.load(ty, flags, address, 0),
            (Widen::Signed, 1) => ins.sload8(ty, flags, address, 0),
            (Widen::Unsigned, 1) => ins.uload8(ty, flags, address, 0),
            (Widen::Signed, 2) => ins.sload16(ty, flags, address, 0),
            (Widen::Unsigned, 2) => ins.uload16(ty, flags, address, 0),
            (Widen::Signed, _) => ins.sload32(flags, address, 0),
            (Widen::Unsigned, _) => ins.uload32(flags, address, 0),
        };
        self.push(value);
        Ok(())
    }

    /// Store of the low `size` bytes of the top value.
    fn store(&mut self, memarg: &MemArg, size: u32, value_size: u32) -> Result<(), CompileError> {
        let memory = self.memarg_memory(memarg)?;
        let (index, value) = self.pop2()?;
        let (address, checked) = self.checked_address(memory, index, memarg.offset, size)?;
        let flags = heap_flags(checked);
        let ins = self.builder.ins();
        match size {
            1 => ins.istore8(flags, value, address, 0),
            2 => ins.istore16(flags, value, address, 0),
            4 if value_size == 8 => ins.istore32(flags, value, address, 0),
            _ => ins.store(flags, value, address, 0),
        };
        Ok(())
    }

    /// Pops an i32 index operand of a bulk operator and widens it to the helper's u64.
    fn pop_u64(&mut self) -> Result<Value, CompileError> {
        let value = self.pop()?;
        Ok(self.builder.ins().uextend(I64, value))
    }

    /// Pops an address, length or page-count operand whose type is `i64` when `index64` (a
    /// memory64 operand, passed as it is) and `i32` otherwise (widened), as the helpers' u64.
    fn pop_index_u64(&mut self, index64: bool) -> Result<Value, CompileError> {
        if index64 { self.pop() } else { self.pop_u64() }
    }

    fn index_const(&mut self, index: u32) -> Value {
        self.builder.ins().iconst(I32, i64::from(index))
    }

    /// Translates `op` if it is a memory operator; `Ok(false)` otherwise.
    pub(crate) fn translate_memory_op(&mut self, op: &Operator<'_>) -> Result<bool, CompileError> {
        use Operator as O;
        use Widen::{None as Plain, Signed, Unsigned};
        match op {
            O::I32Load { memarg } => self.load(memarg, I32, 4, Plain)?,
            O::I64Load { memarg } => self.load(memarg, I64, 8, Plain)?,
            O::F32Load { memarg } => self.load(memarg, F32, 4, Plain)?,
            O::F64Load { memarg } => self.load(memarg, F64, 8, Plain)?,
            O::I32Load8S { memarg } => self.load(memarg, I32, 1, Signed)?,
            O::I32Load8U { memarg } => self.load(memarg, I32, 1, Unsigned)?,
            O::I32Load16S { memarg } => self.load(memarg, I32, 2, Signed)?,
            O::I32Load16U { memarg } => self.load(memarg, I32, 2, Unsigned)?,
            O::I64Load8S { memarg } => self.load(memarg, I64, 1, Signed)?,
            O::I64Load8U { memarg } => self.load(memarg, I64, 1, Unsigned)?,
            O::I64Load16S { memarg } => self.load(memarg, I64, 2, Signed)?,
            O::I64Load16U { memarg } => self.load(memarg, I64, 2, Unsigned)?,
            O::I64Load32S { memarg } => self.load(memarg, I64, 4, Signed)?,
            O::I64Load32U { memarg } => self.load(memarg, I64, 4, Unsigned)?,
            O::I32Store { memarg } | O::F32Store { memarg } => self.store(memarg, 4, 4)?,
            O::I64Store { memarg } | O::F64Store { memarg } => self.store(memarg, 8, 8)?,
            O::I32Store8 { memarg } => self.store(memarg, 1, 4)?,
            O::I32Store16 { memarg } => self.store(memarg, 2, 4)?,
            O::I64Store8 { memarg } => self.store(memarg, 1, 8)?,
            O::I64Store16 { memarg } => self.store(memarg, 2, 8)?,
            O::I64Store32 { memarg } => self.store(memarg, 4, 8)?,

            O::MemorySize { mem } => {
                let ty = self.memory_type(*mem)?;
                let length = self.memory_length(*mem);
                let pages = self
                    .builder
                    .ins()
                    .ushr_imm_u(length, i64::from(ty.page_size_log2));
                let pages = if ty.index64 {
                    pages
                } else {
                    self.builder.ins().ireduce(I32, pages)
                };
                self.push(pages);
            }
            O::MemoryGrow { mem } => {
                let ty = self.memory_type(*mem)?;
                let delta = self.pop_index_u64(ty.index64)?;
                let memory = self.index_const(*mem);
                let old = self.call_libcall(Libcall::MemoryGrow, &[memory, delta])?;
                // u64::MAX (failure) is -1 as an i64, and wraps to -1 as an i32.
                let old = if ty.index64 {
                    old
                } else {
                    self.builder.ins().ireduce(I32, old)
                };
                self.push(old);
            }
            O::MemoryFill { mem } => {
                let ty = self.memory_type(*mem)?;
                let len = self.pop_index_u64(ty.index64)?;
                let value = self.pop()?;
                let dst = self.pop_index_u64(ty.index64)?;
                let memory = self.index_const(*mem);
                let status = self.call_libcall(Libcall::MemoryFill, &[memory, dst, value, len])?;
                self.trap_if_status(status);
            }
            O::MemoryCopy { dst_mem, src_mem } => {
                // Each address has its own memory's index type; the length is i64 only when
                // both memories are 64-bit (the memory64 proposal).
                let dst_ty = self.memory_type(*dst_mem)?;
                let src_ty = self.memory_type(*src_mem)?;
                let len = self.pop_index_u64(dst_ty.index64 && src_ty.index64)?;
                let src = self.pop_index_u64(src_ty.index64)?;
                let dst = self.pop_index_u64(dst_ty.index64)?;
                let dst_memory = self.index_const(*dst_mem);
                let src_memory = self.index_const(*src_mem);
                let status = self.call_libcall(
                    Libcall::MemoryCopy,
                    &[dst_memory, dst, src_memory, src, len],
                )?;
                self.trap_if_status(status);
            }
            O::MemoryInit { data_index, mem } => {
                // The destination has the memory's index type; the segment offset and the
                // length are always i32.
                let ty = self.memory_type(*mem)?;
                let len = self.pop()?;
                let src = self.pop()?;
                let dst = self.pop_index_u64(ty.index64)?;
                let memory = self.index_const(*mem);
                let data = self.index_const(*data_index);
                let status =
                    self.call_libcall(Libcall::MemoryInit, &[memory, data, dst, src, len])?;
                self.trap_if_status(status);
            }
            O::DataDrop { data_index } => {
                let data = self.index_const(*data_index);
                self.call_libcall_void(Libcall::DataDrop, &[data]);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}
