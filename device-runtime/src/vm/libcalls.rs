//! The runtime helpers compiled code calls through the vmctx, in [`Libcall`] table order and
//! with exactly the C signatures documented in `shared_types::libcall`.
//!
//! Each instance helper receives the calling instance's vmctx first; from it the instance record
//! and store are found (`vmctx + 2P`). The arithmetic helpers after `ElemDrop` are pure safe
//! functions of their operands, in [`arith`]. Helpers that can fail return 0 or a [`TrapCode`] byte and the
//! compiled code then calls [`Libcall::Trap`]; only `Trap` unwinds.
//!
//! [`Libcall`]: shared_types::Libcall
//! [`Libcall::Trap`]: shared_types::Libcall::Trap

use shared_types::TrapCode;

use crate::vm::arith;
use crate::vm::fiber::{self, Command, LimitPolicy, YieldReason};
use crate::vm::instance::{InstanceRecord, from_vmctx};
use crate::vm::ops;
use crate::vm::store::StoreInner;

/// The libcall table; `vmctx + P` points here. Field `i` is `Libcall` number `i`.
#[repr(C)]
#[derive(Debug)]
pub struct VMLibcalls {
    /// `Libcall::Trap`.
    pub trap: unsafe extern "C" fn(*mut u8, u32) -> !,
    /// `Libcall::MemoryGrow`.
    pub memory_grow: unsafe extern "C" fn(*mut u8, u32, u64) -> u64,
    /// `Libcall::MemoryFill`.
    pub memory_fill: unsafe extern "C" fn(*mut u8, u32, u64, u32, u64) -> u32,
    /// `Libcall::MemoryCopy`.
    pub memory_copy: unsafe extern "C" fn(*mut u8, u32, u64, u32, u64, u64) -> u32,
    /// `Libcall::MemoryInit`.
    pub memory_init: unsafe extern "C" fn(*mut u8, u32, u32, u64, u32, u32) -> u32,
    /// `Libcall::DataDrop`.
    pub data_drop: unsafe extern "C" fn(*mut u8, u32),
    /// `Libcall::TableGrow`.
    pub table_grow: unsafe extern "C" fn(*mut u8, u32, usize, u32) -> u32,
    /// `Libcall::TableFill`.
    pub table_fill: unsafe extern "C" fn(*mut u8, u32, u32, usize, u32) -> u32,
    /// `Libcall::TableCopy`.
    pub table_copy: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    /// `Libcall::TableInit`.
    pub table_init: unsafe extern "C" fn(*mut u8, u32, u32, u32, u32, u32) -> u32,
    /// `Libcall::ElemDrop`.
    pub elem_drop: unsafe extern "C" fn(*mut u8, u32),
    /// `Libcall::I64DivS` (pure, [`arith`]).
    pub i64_div_s: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::I64DivU` (pure, [`arith`]).
    pub i64_div_u: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::I64RemS` (pure, [`arith`]).
    pub i64_rem_s: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::I64RemU` (pure, [`arith`]).
    pub i64_rem_u: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F32FromI64S` (pure, [`arith`]).
    pub f32_from_i64_s: extern "C" fn(u64) -> u32,
    /// `Libcall::F32FromI64U` (pure, [`arith`]).
    pub f32_from_i64_u: extern "C" fn(u64) -> u32,
    /// `Libcall::F64FromI64S` (pure, [`arith`]).
    pub f64_from_i64_s: extern "C" fn(u64) -> u64,
    /// `Libcall::F64FromI64U` (pure, [`arith`]).
    pub f64_from_i64_u: extern "C" fn(u64) -> u64,
    /// `Libcall::F32ToI64S` (pure, [`arith`]).
    pub f32_to_i64_s: extern "C" fn(u32) -> u64,
    /// `Libcall::F32ToI64U` (pure, [`arith`]).
    pub f32_to_i64_u: extern "C" fn(u32) -> u64,
    /// `Libcall::F64ToI64S` (pure, [`arith`]).
    pub f64_to_i64_s: extern "C" fn(u64) -> u64,
    /// `Libcall::F64ToI64U` (pure, [`arith`]).
    pub f64_to_i64_u: extern "C" fn(u64) -> u64,
    /// `Libcall::F64ToI32S` (pure, [`arith`]).
    pub f64_to_i32_s: extern "C" fn(u64) -> u32,
    /// `Libcall::F64ToI32U` (pure, [`arith`]).
    pub f64_to_i32_u: extern "C" fn(u64) -> u32,
    /// `Libcall::F64FromF32` (pure, [`arith`]).
    pub f64_from_f32: extern "C" fn(u32) -> u64,
    /// `Libcall::F32FromF64` (pure, [`arith`]).
    pub f32_from_f64: extern "C" fn(u64) -> u32,
    /// `Libcall::F64Add` (pure, [`arith`]).
    pub f64_add: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Sub` (pure, [`arith`]).
    pub f64_sub: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Mul` (pure, [`arith`]).
    pub f64_mul: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Div` (pure, [`arith`]).
    pub f64_div: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Min` (pure, [`arith`]).
    pub f64_min: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Max` (pure, [`arith`]).
    pub f64_max: extern "C" fn(u64, u64) -> u64,
    /// `Libcall::F64Compare` (pure, [`arith`]).
    pub f64_compare: extern "C" fn(u64, u64) -> i32,
    /// `Libcall::F64Sqrt` (pure, [`arith`]).
    pub f64_sqrt: extern "C" fn(u64) -> u64,
    /// `Libcall::F64Ceil` (pure, [`arith`]).
    pub f64_ceil: extern "C" fn(u64) -> u64,
    /// `Libcall::F64Floor` (pure, [`arith`]).
    pub f64_floor: extern "C" fn(u64) -> u64,
    /// `Libcall::F64Trunc` (pure, [`arith`]).
    pub f64_trunc: extern "C" fn(u64) -> u64,
    /// `Libcall::F64Nearest` (pure, [`arith`]).
    pub f64_nearest: extern "C" fn(u64) -> u64,
    /// `Libcall::F32Ceil` (pure, [`arith`]).
    pub f32_ceil: extern "C" fn(u32) -> u32,
    /// `Libcall::F32Floor` (pure, [`arith`]).
    pub f32_floor: extern "C" fn(u32) -> u32,
    /// `Libcall::F32Trunc` (pure, [`arith`]).
    pub f32_trunc: extern "C" fn(u32) -> u32,
    /// `Libcall::F32Nearest` (pure, [`arith`]).
    pub f32_nearest: extern "C" fn(u32) -> u32,
    /// `Libcall::OutOfFuel`.
    pub out_of_fuel: unsafe extern "C" fn(*mut u8, u32) -> u32,
    /// `Libcall::EpochDeadline`.
    pub epoch_deadline: unsafe extern "C" fn(*mut u8) -> u32,
    /// `Libcall::OutOfFuelPreserving`: the register-saving stub of the architecture
    /// (`crate::arch`) around [`out_of_fuel_or_trap`], or that function itself on 32-bit Arm.
    pub out_of_fuel_preserving: unsafe extern "C" fn(*mut u8, u32),
    /// `Libcall::EpochDeadlinePreserving`: as `out_of_fuel_preserving`, around
    /// [`epoch_deadline_or_trap`].
    pub epoch_deadline_preserving: unsafe extern "C" fn(*mut u8),
}

/// The one libcall table every vmctx points at.
pub static LIBCALLS: VMLibcalls = VMLibcalls {
    trap,
    memory_grow,
    memory_fill,
    memory_copy,
    memory_init,
    data_drop,
    table_grow,
    table_fill,
    table_copy,
    table_init,
    elem_drop,
    i64_div_s: arith::i64_div_s,
    i64_div_u: arith::i64_div_u,
    i64_rem_s: arith::i64_rem_s,
    i64_rem_u: arith::i64_rem_u,
    f32_from_i64_s: arith::f32_from_i64_s,
    f32_from_i64_u: arith::f32_from_i64_u,
    f64_from_i64_s: arith::f64_from_i64_s,
    f64_from_i64_u: arith::f64_from_i64_u,
    f32_to_i64_s: arith::f32_to_i64_s,
    f32_to_i64_u: arith::f32_to_i64_u,
    f64_to_i64_s: arith::f64_to_i64_s,
    f64_to_i64_u: arith::f64_to_i64_u,
    f64_to_i32_s: arith::f64_to_i32_s,
    f64_to_i32_u: arith::f64_to_i32_u,
    f64_from_f32: arith::f64_from_f32,
    f32_from_f64: arith::f32_from_f64,
    f64_add: arith::f64_add,
    f64_sub: arith::f64_sub,
    f64_mul: arith::f64_mul,
    f64_div: arith::f64_div,
    f64_min: arith::f64_min,
    f64_max: arith::f64_max,
    f64_compare: arith::f64_compare,
    f64_sqrt: arith::f64_sqrt,
    f64_ceil: arith::f64_ceil,
    f64_floor: arith::f64_floor,
    f64_trunc: arith::f64_trunc,
    f64_nearest: arith::f64_nearest,
    f32_ceil: arith::f32_ceil,
    f32_floor: arith::f32_floor,
    f32_trunc: arith::f32_trunc,
    f32_nearest: arith::f32_nearest,
    out_of_fuel,
    epoch_deadline,
    out_of_fuel_preserving: PRESERVING.0,
    epoch_deadline_preserving: PRESERVING.1,
};

/// The register-preserving entries: the stubs of the architectures with Cranelift code, the
/// C functions elsewhere (Thumb-2 code calls `Libcall::OutOfFuel`/`EpochDeadline`).
#[cfg(any(target_arch = "aarch64", target_arch = "x86_64"))]
const PRESERVING: (
    unsafe extern "C" fn(*mut u8, u32),
    unsafe extern "C" fn(*mut u8),
) = (
    crate::arch::out_of_fuel_preserving,
    crate::arch::epoch_deadline_preserving,
);
#[cfg(not(any(target_arch = "aarch64", target_arch = "x86_64")))]
const PRESERVING: (
    unsafe extern "C" fn(*mut u8, u32),
    unsafe extern "C" fn(*mut u8),
) = (out_of_fuel_or_trap, epoch_deadline_or_trap);

/// Status for a trap libcall given a byte that is no [`TrapCode`] (never 0, which means success).
pub const INVALID_TRAP_STATUS: u32 = 0xFF;

fn status(r: Result<(), TrapCode>) -> u32 {
    match r {
        Ok(()) => 0,
        Err(code) => code.as_u8() as u32,
    }
}

/// # Safety
/// Called by compiled code with its own vmctx, inside an entry.
unsafe fn instance<'a>(vmctx: *mut u8) -> &'a InstanceRecord {
    // SAFETY: compiled code passes the vmctx of its live instance.
    unsafe { from_vmctx(vmctx) }
}

/// `fn(vmctx, code: u32) -> !`: unwinds to the innermost entry with `code`.
///
/// # Safety
/// Called by compiled code of a live instance, inside an entry (wasm code runs only there).
unsafe extern "C" fn trap(vmctx: *mut u8, code: u32) -> ! {
    let code = if TrapCode::from_u8(code.min(255) as u8).is_some() && code <= 255 {
        code
    } else {
        INVALID_TRAP_STATUS
    };
    // SAFETY: see the function contract.
    let store = unsafe { instance(vmctx).store };
    // SAFETY: the store outlives its instances; `activation` is set by every entry.
    let jmpbuf = unsafe { (*store).activation };
    if jmpbuf.is_null() {
        // Unreachable by construction: compiled code only runs inside an entry, and there is
        // no caller to return to. Halt rather than continue with corrupted control flow.
        #[allow(clippy::empty_loop, reason = "no context to return to")]
        loop {}
    }
    // SAFETY: the jump buffer belongs to the innermost live entry of this store on this
    // thread; the frames above it are wasm frames and this helper's, which owns nothing.
    unsafe { crate::arch::unwind(jmpbuf, code) }
}

/// `fn(vmctx, mem, delta_pages: u64) -> u64`: old size in pages or `u64::MAX`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn memory_grow(vmctx: *mut u8, mem: u32, delta: u64) -> u64 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let Some(m) = inst.memory(mem) else {
        return u64::MAX;
    };
    // SAFETY: the store and its records are live; no Rust slice of the memory exists while
    // wasm runs.
    unsafe { ops::memory_grow((*inst.store).platform, m, delta) }.unwrap_or(u64::MAX)
}

/// `fn(vmctx, mem, dst: u64, value: u32, len: u64) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn memory_fill(vmctx: *mut u8, mem: u32, dst: u64, value: u32, len: u64) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let Some(m) = inst.memory(mem) else {
        return TrapCode::MemoryOutOfBounds.as_u8() as u32;
    };
    // SAFETY: a live record.
    status(unsafe { ops::memory_fill(m, dst, value as u8, len) })
}

/// `fn(vmctx, dst_mem, dst: u64, src_mem, src: u64, len: u64) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn memory_copy(
    vmctx: *mut u8,
    dst_mem: u32,
    dst: u64,
    src_mem: u32,
    src: u64,
    len: u64,
) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let (Some(d), Some(s)) = (inst.memory(dst_mem), inst.memory(src_mem)) else {
        return TrapCode::MemoryOutOfBounds.as_u8() as u32;
    };
    // SAFETY: live records.
    status(unsafe { ops::memory_copy(d, dst, s, src, len) })
}

/// `fn(vmctx, mem, data, dst: u64, src: u32, len: u32) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn memory_init(
    vmctx: *mut u8,
    mem: u32,
    data: u32,
    dst: u64,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let (Some(m), Some(seg)) = (inst.memory(mem), inst.data_segment(data)) else {
        return TrapCode::MemoryOutOfBounds.as_u8() as u32;
    };
    // SAFETY: a live record; segment bytes borrow the image, which outlives the store.
    status(unsafe { ops::memory_init(m, seg, dst, src as u64, len as u64) })
}

/// `fn(vmctx, data)`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn data_drop(vmctx: *mut u8, data: u32) {
    // SAFETY: see the function contract.
    unsafe { instance(vmctx) }.drop_data(data);
}

/// `fn(vmctx, table, init: usize, delta: u32) -> u32`: old size or `u32::MAX`.
///
/// # Safety
/// Called by compiled code with its own vmctx; `init` is a valid element for the table.
unsafe extern "C" fn table_grow(vmctx: *mut u8, table: u32, init: usize, delta: u32) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let Some(t) = inst.table(table) else {
        return u32::MAX;
    };
    // SAFETY: the store is live and its arena not otherwise borrowed while wasm runs.
    unsafe { ops::table_grow(&mut (*inst.store).arena, t, init, delta) }.unwrap_or(u32::MAX)
}

/// `fn(vmctx, table, dst, value: usize, len) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx; `value` is a valid element for the table.
unsafe extern "C" fn table_fill(
    vmctx: *mut u8,
    table: u32,
    dst: u32,
    value: usize,
    len: u32,
) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let Some(t) = inst.table(table) else {
        return TrapCode::TableOutOfBounds.as_u8() as u32;
    };
    // SAFETY: a live record.
    status(unsafe { ops::table_fill(t, dst, value, len) })
}

/// `fn(vmctx, dst_table, src_table, dst, src, len) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn table_copy(
    vmctx: *mut u8,
    dst_table: u32,
    src_table: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let (Some(d), Some(s)) = (inst.table(dst_table), inst.table(src_table)) else {
        return TrapCode::TableOutOfBounds.as_u8() as u32;
    };
    // SAFETY: live records.
    status(unsafe { ops::table_copy(d, s, dst, src, len) })
}

/// `fn(vmctx, table, elem, dst, src, len) -> u32`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn table_init(
    vmctx: *mut u8,
    table: u32,
    elem: u32,
    dst: u32,
    src: u32,
    len: u32,
) -> u32 {
    // SAFETY: see the function contract.
    let inst = unsafe { instance(vmctx) };
    let (Some(t), Some(seg)) = (inst.table(table), inst.elem_segment(elem)) else {
        return TrapCode::TableOutOfBounds.as_u8() as u32;
    };
    // SAFETY: a live record; segment items are elements of this store.
    status(unsafe { ops::table_init(t, seg, dst, src, len) })
}

/// `fn(vmctx, elem)`.
///
/// # Safety
/// Called by compiled code with its own vmctx.
unsafe extern "C" fn elem_drop(vmctx: *mut u8, elem: u32) {
    // SAFETY: see the function contract.
    unsafe { instance(vmctx) }.drop_elem(elem);
}

/// `fn(vmctx, cost) -> u32`: at a check point (function entry or loop header), the slice is
/// negative after subtracting the cost of the block that starts there. Pays the deficit (the
/// blocks since the last check and this one) from the reserve, or applies the store's fuel
/// policy: the trap code, or (yield policy, in a resumable call that can suspend) suspends
/// and, once resumed, charges the block again against whatever budget the host set
/// meanwhile (which must first pay any debt), suspending again while it cannot pay.
///
/// # Safety
/// As for [`trap`].
unsafe extern "C" fn out_of_fuel(vmctx: *mut u8, cost: u32) -> u32 {
    // SAFETY: see the function contract.
    let store = unsafe { instance(vmctx).store };
    // SAFETY: the store outlives its instances; while wasm runs, compiled code and the
    // libcalls it calls are the only users of the record, one at a time (while the fiber is
    // suspended the host may change the budget, and the loop reads it again after resuming).
    unsafe {
        let mut paid = (*store).pay_block(cost);
        while paid.is_err() && may_yield(store, (*store).fuel_policy) {
            if fiber::suspend(store, YieldReason::OutOfFuel) == Command::Cancel {
                break;
            }
            paid = (*store).charge_again(cost);
        }
        status(paid)
    }
}

/// `fn(vmctx) -> u32`: the epoch counter's low word reached the deadline word. Continues if
/// the full 64-bit deadline is not reached; otherwise applies the store's epoch policy like
/// [`out_of_fuel`], checking the (possibly extended) deadline again after every resume.
///
/// # Safety
/// As for [`trap`].
unsafe extern "C" fn epoch_deadline(vmctx: *mut u8) -> u32 {
    // SAFETY: see the function contract.
    let store = unsafe { instance(vmctx).store };
    // SAFETY: as in `out_of_fuel`.
    unsafe {
        let mut reached = (*store).epoch_reached();
        while reached && may_yield(store, (*store).epoch_policy) {
            if fiber::suspend(store, YieldReason::EpochDeadline) == Command::Cancel {
                break;
            }
            reached = (*store).epoch_reached();
        }
        status(if reached {
            Err(TrapCode::Interrupted)
        } else {
            Ok(())
        })
    }
}

/// `fn(vmctx, cost)`: [`out_of_fuel`], raising its trap instead of returning it. Called by the
/// architecture's register-preserving stub (`Libcall::OutOfFuelPreserving`).
///
/// # Safety
/// As for [`trap`].
pub(crate) unsafe extern "C" fn out_of_fuel_or_trap(vmctx: *mut u8, cost: u32) {
    // SAFETY: see the function contract.
    let status = unsafe { out_of_fuel(vmctx, cost) };
    if status != 0 {
        // SAFETY: see the function contract; the frames above the entry are wasm frames, the
        // stub's (which owns nothing but saved registers) and this one.
        unsafe { trap(vmctx, status) }
    }
}

/// `fn(vmctx)`: [`epoch_deadline`], raising its trap instead of returning it
/// (`Libcall::EpochDeadlinePreserving`).
///
/// # Safety
/// As for [`trap`].
pub(crate) unsafe extern "C" fn epoch_deadline_or_trap(vmctx: *mut u8) {
    // SAFETY: see the function contract.
    let status = unsafe { epoch_deadline(vmctx) };
    if status != 0 {
        // SAFETY: as in `out_of_fuel_or_trap`.
        unsafe { trap(vmctx, status) }
    }
}

/// Whether a limit with `policy` suspends the running code rather than trapping.
///
/// # Safety
/// `store` is a live store record.
unsafe fn may_yield(store: *const StoreInner, policy: LimitPolicy) -> bool {
    // SAFETY: guaranteed by the caller.
    policy == LimitPolicy::Yield && unsafe { fiber::can_suspend(store) }.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{offset_of, size_of};
    use shared_types::Libcall;

    #[test]
    fn table_matches_libcall_order() {
        let p = size_of::<usize>() as u32;
        let fields = [
            (Libcall::Trap, offset_of!(VMLibcalls, trap)),
            (Libcall::MemoryGrow, offset_of!(VMLibcalls, memory_grow)),
            (Libcall::MemoryFill, offset_of!(VMLibcalls, memory_fill)),
            (Libcall::MemoryCopy, offset_of!(VMLibcalls, memory_copy)),
            (Libcall::MemoryInit, offset_of!(VMLibcalls, memory_init)),
            (Libcall::DataDrop, offset_of!(VMLibcalls, data_drop)),
            (Libcall::TableGrow, offset_of!(VMLibcalls, table_grow)),
            (Libcall::TableFill, offset_of!(VMLibcalls, table_fill)),
            (Libcall::TableCopy, offset_of!(VMLibcalls, table_copy)),
            (Libcall::TableInit, offset_of!(VMLibcalls, table_init)),
            (Libcall::ElemDrop, offset_of!(VMLibcalls, elem_drop)),
            (Libcall::I64DivS, offset_of!(VMLibcalls, i64_div_s)),
            (Libcall::I64DivU, offset_of!(VMLibcalls, i64_div_u)),
            (Libcall::I64RemS, offset_of!(VMLibcalls, i64_rem_s)),
            (Libcall::I64RemU, offset_of!(VMLibcalls, i64_rem_u)),
            (Libcall::F32FromI64S, offset_of!(VMLibcalls, f32_from_i64_s)),
            (Libcall::F32FromI64U, offset_of!(VMLibcalls, f32_from_i64_u)),
            (Libcall::F64FromI64S, offset_of!(VMLibcalls, f64_from_i64_s)),
            (Libcall::F64FromI64U, offset_of!(VMLibcalls, f64_from_i64_u)),
            (Libcall::F32ToI64S, offset_of!(VMLibcalls, f32_to_i64_s)),
            (Libcall::F32ToI64U, offset_of!(VMLibcalls, f32_to_i64_u)),
            (Libcall::F64ToI64S, offset_of!(VMLibcalls, f64_to_i64_s)),
            (Libcall::F64ToI64U, offset_of!(VMLibcalls, f64_to_i64_u)),
            (Libcall::F64ToI32S, offset_of!(VMLibcalls, f64_to_i32_s)),
            (Libcall::F64ToI32U, offset_of!(VMLibcalls, f64_to_i32_u)),
            (Libcall::F64FromF32, offset_of!(VMLibcalls, f64_from_f32)),
            (Libcall::F32FromF64, offset_of!(VMLibcalls, f32_from_f64)),
            (Libcall::F64Add, offset_of!(VMLibcalls, f64_add)),
            (Libcall::F64Sub, offset_of!(VMLibcalls, f64_sub)),
            (Libcall::F64Mul, offset_of!(VMLibcalls, f64_mul)),
            (Libcall::F64Div, offset_of!(VMLibcalls, f64_div)),
            (Libcall::F64Min, offset_of!(VMLibcalls, f64_min)),
            (Libcall::F64Max, offset_of!(VMLibcalls, f64_max)),
            (Libcall::F64Compare, offset_of!(VMLibcalls, f64_compare)),
            (Libcall::F64Sqrt, offset_of!(VMLibcalls, f64_sqrt)),
            (Libcall::F64Ceil, offset_of!(VMLibcalls, f64_ceil)),
            (Libcall::F64Floor, offset_of!(VMLibcalls, f64_floor)),
            (Libcall::F64Trunc, offset_of!(VMLibcalls, f64_trunc)),
            (Libcall::F64Nearest, offset_of!(VMLibcalls, f64_nearest)),
            (Libcall::F32Ceil, offset_of!(VMLibcalls, f32_ceil)),
            (Libcall::F32Floor, offset_of!(VMLibcalls, f32_floor)),
            (Libcall::F32Trunc, offset_of!(VMLibcalls, f32_trunc)),
            (Libcall::F32Nearest, offset_of!(VMLibcalls, f32_nearest)),
            (Libcall::OutOfFuel, offset_of!(VMLibcalls, out_of_fuel)),
            (
                Libcall::EpochDeadline,
                offset_of!(VMLibcalls, epoch_deadline),
            ),
            (
                Libcall::OutOfFuelPreserving,
                offset_of!(VMLibcalls, out_of_fuel_preserving),
            ),
            (
                Libcall::EpochDeadlinePreserving,
                offset_of!(VMLibcalls, epoch_deadline_preserving),
            ),
        ];
        assert_eq!(fields.len(), Libcall::COUNT);
        for (l, off) in fields {
            assert_eq!(off as u32, l.table_offset(p), "{l:?}");
        }
        assert_eq!(size_of::<VMLibcalls>(), Libcall::COUNT * p as usize);
    }
}
