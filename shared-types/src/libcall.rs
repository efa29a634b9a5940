//! Runtime helpers that compiled code calls through the vmctx ("libcalls").
//!
//! The vmctx holds a pointer to a table of `Libcall::COUNT` function pointers (offset
//! [`VmOffsets::libcalls`](crate::VmOffsets::libcalls)); entry `i` is the helper
//! `Libcall` with discriminant `i`. Compiled code loads the table pointer, loads the entry and
//! calls it indirectly, so the text never holds an address. Every helper uses the platform C
//! calling convention, except the two `*Preserving` helpers at the end (see
//! [`Libcall::OutOfFuelPreserving`]). The instance helpers (`Trap` to `ElemDrop`, and
//! `OutOfFuel` to `EpochDeadlinePreserving` at the end) take the calling instance's vmctx
//! first; the *arithmetic helpers* between them (`I64DivS` to `F32Nearest`) are pure
//! functions of their operands, take no vmctx and cannot fail (the compiled code checks the
//! wasm traps first). They pass floats as their IEEE bit patterns in integers (`u32` for f32, `u64` for
//! f64), so their signatures are integer-only and the same whatever the floating-point ABI
//! of the runtime (on 32-bit Arm, AAPCS puts a `u64` in an even/odd core-register pair: the
//! first operand in r0:r1, the second in r2:r3, a `u64` result in r0:r1). The Thumb-2 backend
//! calls them for i64 division, conversions between floats and i64, f64 on single-precision
//! FPUs and f32 rounding without FPv5; the Cranelift backend does not use them. Float results
//! follow the WebAssembly NaN rules: a NaN result is quiet, and canonical when every NaN
//! operand was.
//!
//! Helpers that can fail return a `u32` that is 0 on success or a [`crate::TrapCode`] byte; the
//! compiled code then calls [`Libcall::Trap`] with that byte. `Trap` never returns: it unwinds
//! to the host entry point of the current call.
//!
//! `mem` and `table` arguments are module-level indices (imports first). Addresses and lengths
//! of memories are `u64` so that memory64 uses the same helpers.

/// The helpers, in table order. The order and signatures are part of the ABI
/// ([`crate::header::ABI_VERSION`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Libcall {
    /// `fn(vmctx, code: u32) -> !`: trap with a [`crate::TrapCode`] byte.
    Trap = 0,
    /// `fn(vmctx, mem: u32, delta_pages: u64) -> u64`: old size in pages, or `u64::MAX`.
    MemoryGrow = 1,
    /// `fn(vmctx, mem: u32, dst: u64, value: u32, len: u64) -> u32`.
    MemoryFill = 2,
    /// `fn(vmctx, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> u32`.
    MemoryCopy = 3,
    /// `fn(vmctx, mem: u32, data: u32, dst: u64, src: u32, len: u32) -> u32`.
    MemoryInit = 4,
    /// `fn(vmctx, data: u32)`.
    DataDrop = 5,
    /// `fn(vmctx, table: u32, init: usize, delta: u32) -> u32`: old size, or `u32::MAX`.
    TableGrow = 6,
    /// `fn(vmctx, table: u32, dst: u32, value: usize, len: u32) -> u32`.
    TableFill = 7,
    /// `fn(vmctx, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) -> u32`.
    TableCopy = 8,
    /// `fn(vmctx, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32`.
    TableInit = 9,
    /// `fn(vmctx, elem: u32)`.
    ElemDrop = 10,
    /// `fn(a: u64, b: u64) -> u64`: `i64.div_s`; `b` is neither 0 nor, with `a = i64::MIN`, -1.
    I64DivS = 11,
    /// `fn(a: u64, b: u64) -> u64`: `i64.div_u`; `b` is not 0.
    I64DivU = 12,
    /// `fn(a: u64, b: u64) -> u64`: `i64.rem_s` (`i64::MIN rem -1` is 0); `b` is not 0.
    I64RemS = 13,
    /// `fn(a: u64, b: u64) -> u64`: `i64.rem_u`; `b` is not 0.
    I64RemU = 14,
    /// `fn(x: u64) -> u32`: `f32.convert_i64_s` (round to nearest, ties to even).
    F32FromI64S = 15,
    /// `fn(x: u64) -> u32`: `f32.convert_i64_u`.
    F32FromI64U = 16,
    /// `fn(x: u64) -> u64`: `f64.convert_i64_s`.
    F64FromI64S = 17,
    /// `fn(x: u64) -> u64`: `f64.convert_i64_u`.
    F64FromI64U = 18,
    /// `fn(x: u32) -> u64`: `i64.trunc_sat_f32_s` (saturating, NaN to 0).
    F32ToI64S = 19,
    /// `fn(x: u32) -> u64`: `i64.trunc_sat_f32_u`.
    F32ToI64U = 20,
    /// `fn(x: u64) -> u64`: `i64.trunc_sat_f64_s`.
    F64ToI64S = 21,
    /// `fn(x: u64) -> u64`: `i64.trunc_sat_f64_u`.
    F64ToI64U = 22,
    /// `fn(x: u64) -> u32`: `i32.trunc_sat_f64_s`.
    F64ToI32S = 23,
    /// `fn(x: u64) -> u32`: `i32.trunc_sat_f64_u`.
    F64ToI32U = 24,
    /// `fn(x: u32) -> u64`: `f64.promote_f32`.
    F64FromF32 = 25,
    /// `fn(x: u64) -> u32`: `f32.demote_f64`.
    F32FromF64 = 26,
    /// `fn(a: u64, b: u64) -> u64`: `f64.add`.
    F64Add = 27,
    /// `fn(a: u64, b: u64) -> u64`: `f64.sub`.
    F64Sub = 28,
    /// `fn(a: u64, b: u64) -> u64`: `f64.mul`.
    F64Mul = 29,
    /// `fn(a: u64, b: u64) -> u64`: `f64.div`.
    F64Div = 30,
    /// `fn(a: u64, b: u64) -> u64`: `f64.min` (a NaN operand gives a NaN, `-0 < +0`).
    F64Min = 31,
    /// `fn(a: u64, b: u64) -> u64`: `f64.max`.
    F64Max = 32,
    /// `fn(a: u64, b: u64) -> i32`: -1 when `a < b`, 0 when equal, 1 when `a > b`, 2 when
    /// unordered (a NaN operand). One `cmp` of the result then decides every wasm compare:
    /// `eq`/`ne` against 0, `lt`/`le` signed against 0, `gt` equal to 1, `ge` unsigned at most 1.
    F64Compare = 33,
    /// `fn(x: u64) -> u64`: `f64.sqrt` (correctly rounded).
    F64Sqrt = 34,
    /// `fn(x: u64) -> u64`: `f64.ceil`.
    F64Ceil = 35,
    /// `fn(x: u64) -> u64`: `f64.floor`.
    F64Floor = 36,
    /// `fn(x: u64) -> u64`: `f64.trunc`.
    F64Trunc = 37,
    /// `fn(x: u64) -> u64`: `f64.nearest` (ties to even).
    F64Nearest = 38,
    /// `fn(x: u32) -> u32`: `f32.ceil`.
    F32Ceil = 39,
    /// `fn(x: u32) -> u32`: `f32.floor`.
    F32Floor = 40,
    /// `fn(x: u32) -> u32`: `f32.trunc`.
    F32Trunc = 41,
    /// `fn(x: u32) -> u32`: `f32.nearest`.
    F32Nearest = 42,
    /// `fn(vmctx, cost: u32) -> u32`: at a fuel check point (function entry or loop header),
    /// `VMStoreContext::fuel` is negative after subtracting the `cost` of the block that starts
    /// there (by more than `cost` when the blocks since the previous check overran it: a debt).
    /// The runtime pays the whole deficit from the store's reserve (refilling the slice) and
    /// returns 0, or, when the budget cannot pay it, applies the store's policy: returns
    /// [`crate::TrapCode::OutOfFuel`] (the block of the check point is not run and its cost is
    /// given back; the blocks that ran stay consumed, a debt if beyond the budget), or
    /// suspends the call and returns 0 once it is resumed with enough fuel for the debt and the
    /// block. Compiled code reloads the slice after the call.
    OutOfFuel = 43,
    /// `fn(vmctx) -> u32`: the low word of the epoch counter reached the deadline word. The
    /// runtime compares the full 64-bit epoch and deadline: not reached (the low words only
    /// wrapped), it rewrites the deadline word and returns 0; reached, it applies the store's
    /// policy: returns [`crate::TrapCode::Interrupted`], or suspends the call and returns 0 once
    /// resumed (with a later deadline).
    EpochDeadline = 44,
    /// `fn(vmctx, cost: u32)` that preserves every register: [`Libcall::OutOfFuel`] for code
    /// that keeps values in caller-saved registers across the cold call (the Cranelift backend
    /// calls it with `CallConv::PreserveAll`). The arguments are passed as in the C convention;
    /// the helper saves every register the platform ABI lets a callee clobber (on aarch64
    /// x0-x18, x30 and all of q0-q31, on x86_64 the caller-saved GPRs and all of xmm0-xmm15),
    /// returns nothing and restores them, and when the budget cannot pay the block it does not
    /// return at all: it raises [`crate::TrapCode::OutOfFuel`] itself, as [`Libcall::Trap`]
    /// would (the caller has stored the fuel slice before the call, as for every call out).
    /// On 32-bit Arm, whose Thumb-2 code calls [`Libcall::OutOfFuel`] instead, the entry is the
    /// plain C-convention function with the same effect.
    OutOfFuelPreserving = 45,
    /// `fn(vmctx)` that preserves every register: [`Libcall::EpochDeadline`] with the
    /// convention of [`Libcall::OutOfFuelPreserving`]; raises
    /// [`crate::TrapCode::Interrupted`] itself instead of returning it.
    EpochDeadlinePreserving = 46,
}

impl Libcall {
    /// Number of entries in the table.
    pub const COUNT: usize = 47;

    /// Every helper, in table order.
    pub const ALL: [Libcall; Libcall::COUNT] = [
        Libcall::Trap,
        Libcall::MemoryGrow,
        Libcall::MemoryFill,
        Libcall::MemoryCopy,
        Libcall::MemoryInit,
        Libcall::DataDrop,
        Libcall::TableGrow,
        Libcall::TableFill,
        Libcall::TableCopy,
        Libcall::TableInit,
        Libcall::ElemDrop,
        Libcall::I64DivS,
        Libcall::I64DivU,
        Libcall::I64RemS,
        Libcall::I64RemU,
        Libcall::F32FromI64S,
        Libcall::F32FromI64U,
        Libcall::F64FromI64S,
        Libcall::F64FromI64U,
        Libcall::F32ToI64S,
        Libcall::F32ToI64U,
        Libcall::F64ToI64S,
        Libcall::F64ToI64U,
        Libcall::F64ToI32S,
        Libcall::F64ToI32U,
        Libcall::F64FromF32,
        Libcall::F32FromF64,
        Libcall::F64Add,
        Libcall::F64Sub,
        Libcall::F64Mul,
        Libcall::F64Div,
        Libcall::F64Min,
        Libcall::F64Max,
        Libcall::F64Compare,
        Libcall::F64Sqrt,
        Libcall::F64Ceil,
        Libcall::F64Floor,
        Libcall::F64Trunc,
        Libcall::F64Nearest,
        Libcall::F32Ceil,
        Libcall::F32Floor,
        Libcall::F32Trunc,
        Libcall::F32Nearest,
        Libcall::OutOfFuel,
        Libcall::EpochDeadline,
        Libcall::OutOfFuelPreserving,
        Libcall::EpochDeadlinePreserving,
    ];

    /// Index in the table.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// Byte offset of the entry in the table for pointer size `ptr`.
    pub const fn table_offset(self, ptr: u32) -> u32 {
        self as u32 * ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense() {
        for (i, l) in Libcall::ALL.into_iter().enumerate() {
            assert_eq!(l.index() as usize, i);
        }
    }
}
