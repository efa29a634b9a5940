//! i64 shifts, rotations and bit counts inline, and everything that calls the pure arithmetic
//! libcalls (DESIGN.md section 9): i64 division and remainder, conversions between floats and
//! i64, f64 on single-precision FPUs (soft-float) and f32 rounding without FPv5.
//!
//! A pure libcall is an AAPCS function of its operands' words (f32 as `u32`, i64 and f64 as
//! `u64` in r0:r1 / r2:r3, since no operand list here needs an odd register for a `u64`), with
//! its result in r0 (r0:r1). It is reached through the vmctx's libcall table like the other
//! helpers but gets no vmctx and never fails: the wasm traps (division by zero, signed
//! overflow, NaN and range of trapping conversions) are checked inline first, so the helper
//! always returns and the trap sites stay `udf`s (DESIGN.md section 7).

use shared_types::{Libcall, TrapCode};
use wasmparser::Operator;

use super::stack::{Entry, JOIN};
use super::{FunctionCompiler, Src};
use crate::error::CompileError;
use crate::thumb::asm::{Addr, Assembler, Cond, Flags, Operand, Reg, ShiftKind, Width};

/// Valid ranges of the trapping float-to-integer conversions, as limits on the magnitude's
/// bits: the truncation fits iff `|x|` (its bits, as an unsigned integer) is below the limit
/// of `x`'s sign. (Positive floats order like their bits; so do magnitudes.)
#[derive(Clone, Copy, Debug)]
pub(super) struct TruncRange {
    positive: u64,
    negative: u64,
}

impl TruncRange {
    /// f32 to i64: `|x| < 2^63`, or `x = -2^63`.
    pub(super) const F32_I64_S: TruncRange = TruncRange::new(0x5F00_0000, 0x5F00_0001);
    /// f32 to u64: `-1 < x < 2^64`.
    pub(super) const F32_I64_U: TruncRange = TruncRange::new(0x5F80_0000, 0x3F80_0000);
    /// f64 to i32: `-2^31 - 1 < x < 2^31`.
    pub(super) const F64_I32_S: TruncRange =
        TruncRange::new(0x41E0_0000_0000_0000, 0x41E0_0000_0020_0000);
    /// f64 to u32: `-1 < x < 2^32`.
    pub(super) const F64_I32_U: TruncRange =
        TruncRange::new(0x41F0_0000_0000_0000, 0x3FF0_0000_0000_0000);
    /// f64 to i64: `|x| < 2^63`, or `x = -2^63`.
    pub(super) const F64_I64_S: TruncRange =
        TruncRange::new(0x43E0_0000_0000_0000, 0x43E0_0000_0000_0001);
    /// f64 to u64: `-1 < x < 2^64`.
    pub(super) const F64_I64_U: TruncRange =
        TruncRange::new(0x43F0_0000_0000_0000, 0x3FF0_0000_0000_0000);

    const fn new(positive: u64, negative: u64) -> TruncRange {
        TruncRange { positive, negative }
    }
}

impl FunctionCompiler<'_> {
    // ---- pure libcalls ----

    /// Calls the pure helper `libcall` with the top `args` words as its AAPCS arguments
    /// (r0..r3) and pushes its `results` words (r0, r1).
    pub(super) fn pure_libcall(
        &mut self,
        libcall: Libcall,
        args: usize,
        results: usize,
    ) -> Result<(), CompileError> {
        self.materialize_cond()?;
        self.makes_calls = true;
        // Values below the arguments leave r0-r3 (the helper clobbers them), the arguments
        // move in.
        self.save_caller_saved(args)?;
        self.place_results(args)?;
        let libcalls = self.module.offsets.libcalls() as i32;
        let entry = libcall.table_offset(4) as i32;
        self.emit(|a| {
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R10, libcalls))?;
            a.ldr(Width::W32, Reg::R12, Addr::Offset(Reg::R12, entry))?;
            a.blx(Reg::R12)
        })?;
        self.restore_derived()?;
        self.truncate(self.stack.len() - args);
        for &r in &JOIN[..results] {
            self.stack.hold(r);
            self.push(Entry::Reg(r));
        }
        Ok(())
    }

    /// Whether the top two entries (a two-word value) are both constants: its value.
    fn constant_pair(&self) -> Option<u64> {
        let len = self.stack.len();
        match self.stack.entries[len - 2..] {
            [Entry::Const(lo), Entry::Const(hi)] => Some(u64::from(hi) << 32 | u64::from(lo)),
            _ => None,
        }
    }

    /// `i64.div_s/u`, `i64.rem_s/u`: the divisor is checked for zero (`IntegerDivisionByZero`)
    /// and, for `div_s`, `i64::MIN / -1` (`IntegerOverflow`) inline; the helper then divides.
    pub(super) fn i64_divide(&mut self, signed: bool, remainder: bool) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let divisor = self.constant_pair();
        let check_zero = divisor.is_none_or(|d| d == 0);
        let check_overflow = signed && !remainder && divisor.is_none_or(|d| d == u64::MAX);
        if check_zero || check_overflow {
            let (blo, bhi, sblo, sbhi) = self.pop_pair()?;
            let (alo, ahi, salo, sahi) = self.pop_pair()?;
            if check_zero {
                self.emit(|a| a.orr(Flags::Set, Reg::R12, blo, bhi))?;
                self.branch_to_trap(Cond::Eq, TrapCode::IntegerDivisionByZero)?;
            }
            if check_overflow {
                // Both divisor words all ones, the dividend's high word 0x8000_0000, its low 0.
                self.emit(|a| {
                    a.and(Flags::Any, Reg::R12, blo, bhi)?;
                    a.cmn(Reg::R12, 1)?;
                    a.it(Cond::Eq, &[true])?;
                    a.cmp(ahi, 0x8000_0000u32)?;
                    a.cmp(alo, 0u32)
                })?;
                self.branch_to_trap(Cond::Eq, TrapCode::IntegerOverflow)?;
            }
            for src in [salo, sahi, sblo, sbhi] {
                self.push_src(src);
            }
        }
        let libcall = match (signed, remainder) {
            (true, false) => Libcall::I64DivS,
            (false, false) => Libcall::I64DivU,
            (true, true) => Libcall::I64RemS,
            (false, true) => Libcall::I64RemU,
        };
        self.pure_libcall(libcall, 4, 2)
    }

    // ---- float to integer ----

    /// Traps unless the float on top of the stack (f32: one word, f64: two) truncates to an
    /// integer in `range`: `BadConversionToInteger` for a NaN, `IntegerOverflow` out of range.
    /// Works on the bits in core registers, so every profile uses it; the value stays on the
    /// stack.
    pub(super) fn check_trunc(
        &mut self,
        double: bool,
        range: TruncRange,
    ) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let bad = self.trap_label(TrapCode::BadConversionToInteger);
        let overflow = self.trap_label(TrapCode::IntegerOverflow);
        let (negative, done) = (self.asm.new_label(), self.asm.new_label());
        let high = self.pop_src(false)?;
        let low = if double {
            Some(self.pop_src(false)?)
        } else {
            None
        };
        let (Operand::Reg(hi), lo) = (high.operand(), low.map(Src::operand)) else {
            return Err(self.internal("float operand not in a register"));
        };
        let magnitude = self.allocate()?;
        self.emit(|a| {
            a.bic(Flags::Any, magnitude, hi, 0x8000_0000u32)?;
            match lo {
                Some(Operand::Reg(lo)) => {
                    // NaN: |x| >= 0x7FF0_0000_0000_0001, a 64-bit compare with cmp/sbcs.
                    a.mov(Flags::Any, Reg::R12, 0x7FF0_0000u32)?;
                    a.cmp(lo, 1u32)?;
                    a.sbc(Flags::Set, Reg::R12, magnitude, Reg::R12)?;
                    a.b(Cond::Hs, bad)?;
                    a.cmp(hi, 0u32)?;
                    a.b(Cond::Lt, negative)?;
                    for (limit, end) in [(range.positive, Some(done)), (range.negative, None)] {
                        a.mov(Flags::Any, Reg::R12, (limit >> 32) as u32)?;
                        a.cmp(lo, limit as u32)?;
                        a.sbc(Flags::Set, Reg::R12, magnitude, Reg::R12)?;
                        a.b(Cond::Hs, overflow)?;
                        if let Some(end) = end {
                            a.b(Cond::Al, end)?;
                            a.bind(negative)?;
                        }
                    }
                }
                _ => {
                    a.cmp(magnitude, 0x7F80_0000u32)?;
                    a.b(Cond::Hi, bad)?;
                    a.cmp(hi, 0u32)?;
                    a.b(Cond::Lt, negative)?;
                    for (limit, end) in [(range.positive, Some(done)), (range.negative, None)] {
                        a.mov(Flags::Any, Reg::R12, limit as u32)?;
                        a.cmp(magnitude, Reg::R12)?;
                        a.b(Cond::Hs, overflow)?;
                        if let Some(end) = end {
                            a.b(Cond::Al, end)?;
                            a.bind(negative)?;
                        }
                    }
                }
            }
            a.bind(done)
        })?;
        self.stack.release(magnitude);
        if let Some(low) = low {
            self.push_src(low);
        }
        self.push_src(high);
        Ok(())
    }

    /// A trapping `i64.trunc_f32/f64_s/u`: the range check, then the saturating helper.
    pub(super) fn i64_trunc(&mut self, double: bool, signed: bool) -> Result<(), CompileError> {
        let (range, libcall) = match (double, signed) {
            (false, true) => (TruncRange::F32_I64_S, Libcall::F32ToI64S),
            (false, false) => (TruncRange::F32_I64_U, Libcall::F32ToI64U),
            (true, true) => (TruncRange::F64_I64_S, Libcall::F64ToI64S),
            (true, false) => (TruncRange::F64_I64_U, Libcall::F64ToI64U),
        };
        self.check_trunc(double, range)?;
        self.pure_libcall(libcall, if double { 2 } else { 1 }, 2)
    }

    // ---- soft-float f64 (no double-precision FPU) ----

    /// The f64 operators of a profile without a double-precision FPU (Cortex-M4F, M33), or
    /// `None` for an operator that is not one of them (`abs`, `neg`, `copysign`, loads,
    /// stores, constants and reinterpretations work on the bits and need no FPU).
    pub(super) fn soft_f64_operator(
        &mut self,
        op: &Operator<'_>,
    ) -> Option<Result<(), CompileError>> {
        use Operator as O;
        let (libcall, args, results) = match *op {
            O::F64Add => (Libcall::F64Add, 4, 2),
            O::F64Sub => (Libcall::F64Sub, 4, 2),
            O::F64Mul => (Libcall::F64Mul, 4, 2),
            O::F64Div => (Libcall::F64Div, 4, 2),
            O::F64Min => (Libcall::F64Min, 4, 2),
            O::F64Max => (Libcall::F64Max, 4, 2),
            O::F64Sqrt => (Libcall::F64Sqrt, 2, 2),
            O::F64Ceil => (Libcall::F64Ceil, 2, 2),
            O::F64Floor => (Libcall::F64Floor, 2, 2),
            O::F64Trunc => (Libcall::F64Trunc, 2, 2),
            O::F64Nearest => (Libcall::F64Nearest, 2, 2),
            O::F64PromoteF32 => (Libcall::F64FromF32, 1, 2),
            O::F32DemoteF64 => (Libcall::F32FromF64, 2, 1),
            O::F64ConvertI64S => (Libcall::F64FromI64S, 2, 2),
            O::F64ConvertI64U => (Libcall::F64FromI64U, 2, 2),
            O::I32TruncSatF64S => (Libcall::F64ToI32S, 2, 1),
            O::I32TruncSatF64U => (Libcall::F64ToI32U, 2, 1),
            O::F64Eq => return Some(self.soft_f64_compare(SoftCompare::Eq)),
            O::F64Ne => return Some(self.soft_f64_compare(SoftCompare::Ne)),
            O::F64Lt => return Some(self.soft_f64_compare(SoftCompare::Lt)),
            O::F64Le => return Some(self.soft_f64_compare(SoftCompare::Le)),
            O::F64Gt => return Some(self.soft_f64_compare(SoftCompare::Gt)),
            O::F64Ge => return Some(self.soft_f64_compare(SoftCompare::Ge)),
            O::F64ConvertI32S => return Some(self.soft_f64_convert_i32(true)),
            O::F64ConvertI32U => return Some(self.soft_f64_convert_i32(false)),
            O::I32TruncF64S => return Some(self.soft_i32_trunc_f64(true)),
            O::I32TruncF64U => return Some(self.soft_i32_trunc_f64(false)),
            _ => return None,
        };
        Some(self.pure_libcall(libcall, args, results))
    }

    /// `f64.eq` ... `f64.ge` through `F64Compare` (-1, 0, 1, 2 for less, equal, greater,
    /// unordered): one compare of the result leaves the condition.
    pub(super) fn soft_f64_compare(&mut self, op: SoftCompare) -> Result<(), CompileError> {
        self.pure_libcall(Libcall::F64Compare, 4, 1)?;
        let r = self.pop_reg()?;
        let (against, cond) = match op {
            SoftCompare::Eq => (0, Cond::Eq),
            SoftCompare::Ne => (0, Cond::Ne),
            SoftCompare::Lt => (0, Cond::Lt),
            SoftCompare::Le => (0, Cond::Le),
            SoftCompare::Gt => (1, Cond::Eq),
            SoftCompare::Ge => (1, Cond::Ls),
        };
        self.emit(|a| a.cmp(r, against as u32))?;
        self.stack.release(r);
        self.push(Entry::Cond(cond));
        Ok(())
    }

    /// `f64.convert_i32_s/u` without a double-precision FPU: the i32 widened to an i64 (exact
    /// either way), then the i64 helper.
    pub(super) fn soft_f64_convert_i32(&mut self, signed: bool) -> Result<(), CompileError> {
        if signed {
            self.i64_sign_extend(None)?;
            self.pure_libcall(Libcall::F64FromI64S, 2, 2)
        } else {
            self.push(Entry::Const(0));
            self.pure_libcall(Libcall::F64FromI64U, 2, 2)
        }
    }

    /// A trapping `i32.trunc_f64_s/u` without a double-precision FPU: the range check, then
    /// the saturating helper (exact in range).
    pub(super) fn soft_i32_trunc_f64(&mut self, signed: bool) -> Result<(), CompileError> {
        let (range, libcall) = if signed {
            (TruncRange::F64_I32_S, Libcall::F64ToI32S)
        } else {
            (TruncRange::F64_I32_U, Libcall::F64ToI32U)
        };
        self.check_trunc(true, range)?;
        self.pure_libcall(libcall, 2, 1)
    }

    // ---- i64 shifts, rotations and bit counts (inline) ----

    /// Pops a two-word value into registers the operation owns: (low, high).
    fn pop_owned_pair(&mut self) -> Result<(Reg, Reg), CompileError> {
        let hi = self.pop_reg()?;
        let lo = self.pop_reg()?;
        Ok((lo, hi))
    }

    /// The amount of an i64 shift or rotation (its low word; wasm counts modulo 64).
    fn pop_shift_amount(&mut self) -> Result<Src, CompileError> {
        self.materialize_cond()?;
        self.truncate(self.stack.len() - 1);
        self.pop_src(true)
    }

    /// `i64.shl`, `i64.shr_u`, `i64.shr_s` (`kind` Lsl, Lsr, Asr).
    pub(super) fn i64_shift(&mut self, kind: ShiftKind) -> Result<(), CompileError> {
        let amount = self.pop_shift_amount()?;
        let (lo, hi) = self.pop_owned_pair()?;
        match amount {
            Src::Imm(n) => {
                let n = (n & 63) as u8;
                self.emit(|a| i64_shift_by_constant(a, kind, lo, hi, n))?;
            }
            Src::Owned(r) | Src::Home(r) => {
                let t = self.allocate()?;
                let ip = Reg::R12;
                self.emit(|a| {
                    a.and(Flags::Any, ip, r, 63u32)?;
                    // The word the bits leave (`from`) and the one they enter (`into`).
                    let (into, from, cross, same) = match kind {
                        ShiftKind::Lsl => (hi, lo, ShiftKind::Lsr, ShiftKind::Lsl),
                        _ => (lo, hi, ShiftKind::Lsl, ShiftKind::Lsr),
                    };
                    // Register shifts use the amount's bottom byte: 32 and more give 0 (lsl,
                    // lsr) or the sign (asr), and `32 - n`, `n - 32` below 0 are >= 224.
                    a.shift(same, Flags::Any, into, into, Operand::Reg(ip))?;
                    a.rsb(Flags::Any, t, ip, 32u32)?;
                    a.shift(cross, Flags::Any, t, from, Operand::Reg(t))?;
                    a.orr(Flags::Any, into, into, t)?;
                    if kind == ShiftKind::Asr {
                        // n >= 32: the low word is the high one shifted by n - 32.
                        a.sub(Flags::Set, t, ip, 32u32)?;
                        a.it(Cond::Ge, &[])?;
                        a.shift(ShiftKind::Asr, Flags::Preserve, lo, hi, Operand::Reg(t))?;
                    } else {
                        a.sub(Flags::Any, t, ip, 32u32)?;
                        a.shift(same, Flags::Any, t, from, Operand::Reg(t))?;
                        a.orr(Flags::Any, into, into, t)?;
                    }
                    a.shift(kind, Flags::Any, from, from, Operand::Reg(ip))
                })?;
                self.stack.release(t);
                if let Src::Owned(r) = amount {
                    self.stack.release(r);
                }
            }
        }
        self.push(Entry::Reg(lo));
        self.push(Entry::Reg(hi));
        Ok(())
    }

    /// `i64.rotl`/`i64.rotr`: a rotation by 32 or more swaps the words first, then both words
    /// take the bits the other one loses.
    pub(super) fn i64_rotate(&mut self, left: bool) -> Result<(), CompileError> {
        let amount = self.pop_shift_amount()?;
        let (lo, hi) = self.pop_owned_pair()?;
        match amount {
            Src::Imm(n) => {
                let k = if left {
                    n & 63
                } else {
                    64u32.wrapping_sub(n) & 63
                };
                let (lo, hi) = if k >= 32 { (hi, lo) } else { (lo, hi) };
                let k = (k & 31) as u8;
                if k == 0 {
                    self.push(Entry::Reg(lo));
                    self.push(Entry::Reg(hi));
                    return Ok(());
                }
                let t = self.allocate()?;
                self.emit(|a| {
                    a.shift(ShiftKind::Lsl, Flags::Any, t, hi, Operand::Imm(k.into()))?;
                    a.orr(
                        Flags::Any,
                        t,
                        t,
                        Operand::Shifted(lo, ShiftKind::Lsr, 32 - k),
                    )?;
                    a.shift(ShiftKind::Lsl, Flags::Any, lo, lo, Operand::Imm(k.into()))?;
                    a.orr(
                        Flags::Any,
                        lo,
                        lo,
                        Operand::Shifted(hi, ShiftKind::Lsr, 32 - k),
                    )
                })?;
                self.stack.release(hi);
                self.push(Entry::Reg(lo));
                self.push(Entry::Reg(t));
            }
            Src::Owned(r) | Src::Home(r) => {
                let t = self.allocate()?;
                let u = self.allocate()?;
                let ip = Reg::R12;
                self.emit(|a| {
                    // rotr(x, n) = rotl(x, -n) (mod 64).
                    let n = if left {
                        r
                    } else {
                        a.rsb(Flags::Any, ip, r, 0u32)?;
                        ip
                    };
                    a.tst(n, 32u32)?;
                    a.it(Cond::Ne, &[true, true])?;
                    a.mov(Flags::Preserve, t, lo)?;
                    a.mov(Flags::Preserve, lo, hi)?;
                    a.mov(Flags::Preserve, hi, t)?;
                    a.and(Flags::Any, ip, n, 31u32)?;
                    // 32 - k is 32 for k = 0: a register shift by 32 gives 0.
                    a.rsb(Flags::Any, u, ip, 32u32)?;
                    a.shift(ShiftKind::Lsr, Flags::Any, t, lo, Operand::Reg(u))?;
                    a.shift(ShiftKind::Lsr, Flags::Any, u, hi, Operand::Reg(u))?;
                    a.shift(ShiftKind::Lsl, Flags::Any, hi, hi, Operand::Reg(ip))?;
                    a.orr(Flags::Any, hi, hi, t)?;
                    a.shift(ShiftKind::Lsl, Flags::Any, lo, lo, Operand::Reg(ip))?;
                    a.orr(Flags::Any, lo, lo, u)
                })?;
                self.stack.release(t);
                self.stack.release(u);
                if let Src::Owned(r) = amount {
                    self.stack.release(r);
                }
                self.push(Entry::Reg(lo));
                self.push(Entry::Reg(hi));
            }
        }
        Ok(())
    }

    /// `i64.clz`, `i64.ctz`, `i64.popcnt`: the count in the low word, 0 in the high one.
    pub(super) fn i64_count(&mut self, op: BitCount) -> Result<(), CompileError> {
        self.materialize_cond()?;
        let (lo, hi) = self.pop_owned_pair()?;
        let result = self.emit(|a| match op {
            BitCount::Clz => {
                // The high word's count, or 32 plus the low word's when the high word is 0.
                a.cmp(hi, 0u32)?;
                a.clz(hi, hi)?;
                a.it(Cond::Eq, &[true])?;
                a.clz(hi, lo)?;
                a.add(Flags::Preserve, hi, hi, 32u32)?;
                Ok(hi)
            }
            BitCount::Ctz => {
                a.cmp(lo, 0u32)?;
                a.rbit(lo, lo)?;
                a.clz(lo, lo)?;
                a.it(Cond::Eq, &[true, true])?;
                a.rbit(hi, hi)?;
                a.clz(lo, hi)?;
                a.add(Flags::Preserve, lo, lo, 32u32)?;
                Ok(lo)
            }
            BitCount::Popcnt => {
                emit_popcount(a, lo)?;
                emit_popcount(a, hi)?;
                a.add(Flags::Any, lo, lo, hi)?;
                Ok(lo)
            }
        })?;
        let other = if result == lo { hi } else { lo };
        self.stack.release(other);
        self.push(Entry::Reg(result));
        self.push(Entry::Const(0));
        Ok(())
    }
}

/// A constant i64 shift by `n` (0..=63) of the pair `lo`, `hi` in place.
fn i64_shift_by_constant(
    a: &mut Assembler,
    kind: ShiftKind,
    lo: Reg,
    hi: Reg,
    n: u8,
) -> Result<(), crate::thumb::asm::AsmError> {
    let imm = |k: u8| Operand::Imm(k.into());
    match (kind, n) {
        (_, 0) => Ok(()),
        (ShiftKind::Lsl, 1..=31) => {
            a.shift(ShiftKind::Lsl, Flags::Any, hi, hi, imm(n))?;
            a.orr(
                Flags::Any,
                hi,
                hi,
                Operand::Shifted(lo, ShiftKind::Lsr, 32 - n),
            )?;
            a.shift(ShiftKind::Lsl, Flags::Any, lo, lo, imm(n))
        }
        (ShiftKind::Lsl, _) => {
            a.shift(ShiftKind::Lsl, Flags::Any, hi, lo, imm(n - 32))?;
            a.mov(Flags::Any, lo, 0u32)
        }
        (_, 1..=31) => {
            a.shift(ShiftKind::Lsr, Flags::Any, lo, lo, imm(n))?;
            a.orr(
                Flags::Any,
                lo,
                lo,
                Operand::Shifted(hi, ShiftKind::Lsl, 32 - n),
            )?;
            a.shift(kind, Flags::Any, hi, hi, imm(n))
        }
        (ShiftKind::Asr, _) => {
            a.shift(ShiftKind::Asr, Flags::Any, lo, hi, imm(n - 32))?;
            a.shift(ShiftKind::Asr, Flags::Any, hi, hi, imm(31))
        }
        _ => {
            a.shift(ShiftKind::Lsr, Flags::Any, lo, hi, imm(n - 32))?;
            a.mov(Flags::Any, hi, 0u32)
        }
    }
}

/// Population count of `r` in place (SWAR: pairs, nibbles, bytes, then a multiply sums the
/// bytes into the top one); clobbers r12.
pub(super) fn emit_popcount(a: &mut Assembler, r: Reg) -> Result<(), crate::thumb::asm::AsmError> {
    let ip = Reg::R12;
    a.shift(ShiftKind::Lsr, Flags::Any, ip, r, Operand::Imm(1))?;
    a.and(Flags::Any, ip, ip, 0x5555_5555u32)?;
    a.sub(Flags::Any, r, r, ip)?;
    a.and(Flags::Any, ip, r, 0x3333_3333u32)?;
    a.shift(ShiftKind::Lsr, Flags::Any, r, r, Operand::Imm(2))?;
    a.and(Flags::Any, r, r, 0x3333_3333u32)?;
    a.add(Flags::Any, r, r, ip)?;
    a.add(Flags::Any, r, r, Operand::Shifted(r, ShiftKind::Lsr, 4))?;
    a.and(Flags::Any, r, r, 0x0F0F_0F0Fu32)?;
    a.mov(Flags::Any, ip, 0x0101_0101u32)?;
    a.mul(Flags::Any, r, r, ip)?;
    a.shift(ShiftKind::Lsr, Flags::Any, r, r, Operand::Imm(24))
}

/// The bit counts of [`FunctionCompiler::i64_count`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum BitCount {
    Clz,
    Ctz,
    Popcnt,
}

/// The f64 compares of [`FunctionCompiler::soft_f64_compare`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SoftCompare {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}
