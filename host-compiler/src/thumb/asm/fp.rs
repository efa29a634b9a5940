//! Floating point (FPv4-SP, FPv5-SP, FPv5-DP with 16 `d` / 32 `s` registers).
//!
//! Profile rules: data processing on `d` registers needs a double-precision FPU; transfers of
//! `d` registers (`vldr`, `vstr`, `vpush`, `vpop`, `vmov` to and from a core register pair)
//! exist on every FPU; `vrint*`, `vmaxnm` and `vminnm` need FPv5.

use super::data::Operand;
use super::{AsmError, Assembler, Flags, Reg, operand_error};

/// A floating-point register: `s0`..`s31` or `d0`..`d15`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum FReg {
    /// Single-precision register `sN`.
    S(u8),
    /// Double-precision register `dN` (`s2N`, `s2N+1`).
    D(u8),
}

impl FReg {
    fn is_double(self) -> bool {
        matches!(self, FReg::D(_))
    }

    fn valid(self) -> bool {
        match self {
            FReg::S(n) => n < 32,
            FReg::D(n) => n < 16,
        }
    }

    /// `(extra bit, 4-bit field, sz)` of the register: `Vd = n >> 1, D = n & 1` for `s`,
    /// `Vd = n & 15, D = n >> 4` for `d`.
    pub(super) fn fields(self) -> (u16, u16, u16) {
        match self {
            FReg::S(n) => ((n & 1) as u16, (n >> 1) as u16, 0),
            FReg::D(n) => ((n >> 4) as u16, (n & 15) as u16, 1),
        }
    }
}

impl std::fmt::Display for FReg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FReg::S(n) => write!(f, "s{n}"),
            FReg::D(n) => write!(f, "d{n}"),
        }
    }
}

/// The 8-bit `vmov` immediate encoding of a float bit pattern (`f32` bits in the low word when
/// `!double`), if it has one: `+-(16..=31)/16 * 2^(-3..=4)`.
pub fn vfp_immediate(bits: u64, double: bool) -> Option<u8> {
    let (sign, exponent, fraction, exponent_bits, fraction_bits) = if double {
        (
            bits >> 63,
            (bits >> 52) & 0x7FF,
            bits & ((1 << 52) - 1),
            11,
            52,
        )
    } else {
        let b = bits & 0xFFFF_FFFF;
        (b >> 31, (b >> 23) & 0xFF, b & ((1 << 23) - 1), 8, 23)
    };
    // Only the top 4 fraction bits may be set.
    if fraction & ((1 << (fraction_bits - 4)) - 1) != 0 {
        return None;
    }
    // Exponent: NOT(b) : b repeated (exponent_bits - 3) times : c : d.
    let top = exponent >> (exponent_bits - 1);
    let b = top ^ 1;
    let repeated = (exponent >> 2) & ((1 << (exponent_bits - 3)) - 1);
    let expected = if b == 1 {
        (1 << (exponent_bits - 3)) - 1
    } else {
        0
    };
    if repeated != expected {
        return None;
    }
    let cd = exponent & 3;
    let efgh = fraction >> (fraction_bits - 4);
    Some((sign << 7 | b << 6 | cd << 4 | efgh) as u8)
}

/// The rounding of `vrint`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Toward zero (`vrintz`, wasm `trunc`).
    Zero,
    /// To nearest, ties to even (`vrintn`, wasm `nearest`).
    NearestEven,
    /// Toward +infinity (`vrintp`, wasm `ceil`).
    PlusInfinity,
    /// Toward -infinity (`vrintm`, wasm `floor`).
    MinusInfinity,
    /// To nearest, ties away from zero (`vrinta`).
    NearestAway,
    /// The FPSCR rounding mode (`vrintr`).
    Fpscr,
    /// The FPSCR rounding mode, signalling inexact (`vrintx`).
    FpscrExact,
}

impl Rounding {
    /// The mnemonic suffix.
    pub fn suffix(self) -> &'static str {
        match self {
            Rounding::Zero => "z",
            Rounding::NearestEven => "n",
            Rounding::PlusInfinity => "p",
            Rounding::MinusInfinity => "m",
            Rounding::NearestAway => "a",
            Rounding::Fpscr => "r",
            Rounding::FpscrExact => "x",
        }
    }
}

fn no_sp_pc(instruction: &'static str, regs: &[Reg]) -> Result<(), AsmError> {
    match regs.iter().find(|r| **r == Reg::SP || **r == Reg::PC) {
        Some(r) => Err(operand_error(instruction, format!("{r} is not allowed"))),
        None => Ok(()),
    }
}

impl Assembler {
    fn check_fregs(&self, name: &'static str, regs: &[FReg]) -> Result<(), AsmError> {
        if let Some(r) = regs.iter().find(|r| !r.valid()) {
            return Err(operand_error(name, format!("{r:?} does not exist")));
        }
        Ok(())
    }

    /// Checks a data-processing instruction: registers exist, all of one precision, and double
    /// precision only on a double-precision FPU.
    fn check_arith(&self, name: &'static str, regs: &[FReg]) -> Result<u16, AsmError> {
        self.check_fregs(name, regs)?;
        let double = regs[0].is_double();
        if regs.iter().any(|r| r.is_double() != double) {
            return Err(operand_error(name, "operands of different precision"));
        }
        if double && !self.profile.has_double_precision() {
            return Err(AsmError::NotOnProfile {
                instruction: name,
                target: self.profile.target,
            });
        }
        Ok(u16::from(double))
    }

    fn check_fpv5(&self, name: &'static str) -> Result<(), AsmError> {
        if !self.profile.has_fpv5() {
            return Err(AsmError::NotOnProfile {
                instruction: name,
                target: self.profile.target,
            });
        }
        if self.in_it_block() {
            return Err(AsmError::ItBlock("FPv5 instructions cannot be conditional"));
        }
        Ok(())
    }

    fn fp_three(
        &mut self,
        name: &'static str,
        hw1: u16,
        op: u16,
        fd: FReg,
        fn_: FReg,
        fm: FReg,
    ) -> Result<(), AsmError> {
        let sz = self.check_arith(name, &[fd, fn_, fm])?;
        let (d, vd, _) = fd.fields();
        let (n, vn, _) = fn_.fields();
        let (m, vm, _) = fm.fields();
        self.emit32(
            hw1 | d << 6 | vn,
            vd << 12 | 0xA00 | sz << 8 | n << 7 | op << 6 | m << 5 | vm,
        )
    }

    fn fp_two(
        &mut self,
        name: &'static str,
        hw1: u16,
        hw2: u16,
        fd: FReg,
        fm: FReg,
    ) -> Result<(), AsmError> {
        let sz = self.check_arith(name, &[fd, fm])?;
        let (d, vd, _) = fd.fields();
        let (m, vm, _) = fm.fields();
        self.emit32(hw1 | d << 6, vd << 12 | hw2 | sz << 8 | m << 5 | vm)
    }

    /// `vadd.f32/.f64 fd, fn, fm`.
    pub fn vadd(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_three("vadd", 0xEE30, 0, fd, fn_, fm)
    }

    /// `vsub.f32/.f64 fd, fn, fm`.
    pub fn vsub(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_three("vsub", 0xEE30, 1, fd, fn_, fm)
    }

    /// `vmul.f32/.f64 fd, fn, fm`.
    pub fn vmul(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_three("vmul", 0xEE20, 0, fd, fn_, fm)
    }

    /// `vdiv.f32/.f64 fd, fn, fm`.
    pub fn vdiv(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_three("vdiv", 0xEE80, 0, fd, fn_, fm)
    }

    /// `vmaxnm.f32/.f64 fd, fn, fm` (FPv5; a quiet NaN operand loses against a number).
    pub fn vmaxnm(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.check_fpv5("vmaxnm")?;
        self.fp_three("vmaxnm", 0xFE80, 0, fd, fn_, fm)
    }

    /// `vminnm.f32/.f64 fd, fn, fm` (FPv5).
    pub fn vminnm(&mut self, fd: FReg, fn_: FReg, fm: FReg) -> Result<(), AsmError> {
        self.check_fpv5("vminnm")?;
        self.fp_three("vminnm", 0xFE80, 1, fd, fn_, fm)
    }

    /// `vabs.f32/.f64 fd, fm`.
    pub fn vabs(&mut self, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_two("vabs", 0xEEB0, 0xAC0, fd, fm)
    }

    /// `vneg.f32/.f64 fd, fm`.
    pub fn vneg(&mut self, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_two("vneg", 0xEEB1, 0xA40, fd, fm)
    }

    /// `vsqrt.f32/.f64 fd, fm`.
    pub fn vsqrt(&mut self, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_two("vsqrt", 0xEEB1, 0xAC0, fd, fm)
    }

    /// `vmov.f32/.f64 fd, fm`.
    pub fn vmov(&mut self, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_two("vmov", 0xEEB0, 0xA40, fd, fm)
    }

    /// `vcmp{e}.f32/.f64 fd, fm` (`e`: signal on quiet NaN too). Follow with [`Self::vmrs_apsr`].
    pub fn vcmp(&mut self, signal_all_nans: bool, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        self.fp_two(
            "vcmp",
            0xEEB4,
            0xA40 | u16::from(signal_all_nans) << 7,
            fd,
            fm,
        )
    }

    /// `vcmp{e}.f32/.f64 fd, #0`.
    pub fn vcmp_zero(&mut self, signal_all_nans: bool, fd: FReg) -> Result<(), AsmError> {
        let sz = self.check_arith("vcmp", &[fd])?;
        let (d, vd, _) = fd.fields();
        self.emit32(
            0xEEB5 | d << 6,
            vd << 12 | 0xA40 | sz << 8 | u16::from(signal_all_nans) << 7,
        )
    }

    /// `vmrs APSR_nzcv, fpscr`: copies the FP comparison flags to the core flags.
    pub fn vmrs_apsr(&mut self) -> Result<(), AsmError> {
        self.emit32(0xEEF1, 0xFA10)
    }

    /// `vrint<r>.f32/.f64 fd, fm` (FPv5).
    pub fn vrint(&mut self, rounding: Rounding, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        let name = "vrint";
        let (hw1, hw2) = match rounding {
            Rounding::Zero => (0xEEB6, 0xAC0),
            Rounding::Fpscr => (0xEEB6, 0xA40),
            Rounding::FpscrExact => (0xEEB7, 0xA40),
            Rounding::NearestAway => (0xFEB8, 0xA40),
            Rounding::NearestEven => (0xFEB9, 0xA40),
            Rounding::PlusInfinity => (0xFEBA, 0xA40),
            Rounding::MinusInfinity => (0xFEBB, 0xA40),
        };
        self.check_fpv5(name)?;
        self.fp_two(name, hw1, hw2, fd, fm)
    }

    /// `vcvt.f64.f32 dd, sm` or `vcvt.f32.f64 sd, dm` (needs double precision).
    pub fn vcvt_float(&mut self, fd: FReg, fm: FReg) -> Result<(), AsmError> {
        let name = "vcvt";
        self.check_fregs(name, &[fd, fm])?;
        if fd.is_double() == fm.is_double() {
            return Err(operand_error(name, "converts between precisions"));
        }
        if !self.profile.has_double_precision() {
            return Err(AsmError::NotOnProfile {
                instruction: name,
                target: self.profile.target,
            });
        }
        let (d, vd, _) = fd.fields();
        let (m, vm, sz) = fm.fields();
        self.emit32(0xEEB7 | d << 6, vd << 12 | 0xAC0 | sz << 8 | m << 5 | vm)
    }

    /// `vcvt.s32/.u32.f32/.f64 sd, fm`, rounding toward zero (saturating; NaN gives 0).
    pub fn vcvt_to_int(&mut self, signed: bool, sd: FReg, fm: FReg) -> Result<(), AsmError> {
        let name = "vcvt";
        if sd.is_double() {
            return Err(operand_error(name, "the integer is in an s register"));
        }
        self.check_fregs(name, &[sd])?;
        let sz = self.check_arith(name, &[fm])?;
        let (d, vd, _) = sd.fields();
        let (m, vm, _) = fm.fields();
        self.emit32(
            0xEEBC | u16::from(signed) | d << 6,
            vd << 12 | 0xAC0 | sz << 8 | m << 5 | vm,
        )
    }

    /// `vcvt.f32/.f64.s32/.u32 fd, sm`.
    pub fn vcvt_from_int(&mut self, signed: bool, fd: FReg, sm: FReg) -> Result<(), AsmError> {
        let name = "vcvt";
        if sm.is_double() {
            return Err(operand_error(name, "the integer is in an s register"));
        }
        self.check_fregs(name, &[sm])?;
        let sz = self.check_arith(name, &[fd])?;
        let (d, vd, _) = fd.fields();
        let (m, vm, _) = sm.fields();
        self.emit32(
            0xEEB8 | d << 6,
            vd << 12 | 0xA40 | sz << 8 | u16::from(signed) << 7 | m << 5 | vm,
        )
    }

    /// `vmov.f32/.f64 fd, #value` for a bit pattern [`vfp_immediate`] encodes; an error otherwise
    /// (use [`Self::vldr_literal`]).
    pub fn vmov_imm(&mut self, fd: FReg, bits: u64) -> Result<(), AsmError> {
        let sz = self.check_arith("vmov", &[fd])?;
        let imm = vfp_immediate(bits, sz == 1)
            .ok_or_else(|| operand_error("vmov", format!("{bits:#x} is not a VFP immediate")))?
            as u16;
        let (d, vd, _) = fd.fields();
        self.emit32(
            0xEEB0 | d << 6 | imm >> 4,
            vd << 12 | 0xA00 | sz << 8 | (imm & 0xF),
        )
    }

    /// `vmov sn, rt` (core to single).
    pub fn vmov_to_s(&mut self, sn: FReg, rt: Reg) -> Result<(), AsmError> {
        self.core_single(false, sn, rt)
    }

    /// `vmov rt, sn` (single to core).
    pub fn vmov_from_s(&mut self, rt: Reg, sn: FReg) -> Result<(), AsmError> {
        self.core_single(true, sn, rt)
    }

    fn core_single(&mut self, to_core: bool, sn: FReg, rt: Reg) -> Result<(), AsmError> {
        no_sp_pc("vmov", &[rt])?;
        self.check_fregs("vmov", &[sn])?;
        if sn.is_double() {
            return Err(operand_error(
                "vmov",
                "a single core register pairs with an s register",
            ));
        }
        let (n, vn, _) = sn.fields();
        self.emit32(
            0xEE00 | u16::from(to_core) << 4 | vn,
            rt.n() << 12 | 0xA10 | n << 7,
        )
    }

    /// `vmov dm, rt, rt2` (core pair to double: `rt` low word).
    pub fn vmov_to_d(&mut self, dm: FReg, rt: Reg, rt2: Reg) -> Result<(), AsmError> {
        self.core_pair(false, dm, rt, rt2)
    }

    /// `vmov rt, rt2, dm` (double to core pair: `rt` low word).
    pub fn vmov_from_d(&mut self, rt: Reg, rt2: Reg, dm: FReg) -> Result<(), AsmError> {
        self.core_pair(true, dm, rt, rt2)
    }

    fn core_pair(&mut self, to_core: bool, dm: FReg, rt: Reg, rt2: Reg) -> Result<(), AsmError> {
        no_sp_pc("vmov", &[rt, rt2])?;
        self.check_fregs("vmov", &[dm])?;
        if !dm.is_double() {
            return Err(operand_error(
                "vmov",
                "a core register pair pairs with a d register",
            ));
        }
        if to_core && rt == rt2 {
            return Err(operand_error("vmov", "the two core registers must differ"));
        }
        let (m, vm, _) = dm.fields();
        self.emit32(
            0xEC40 | u16::from(to_core) << 4 | rt2.n(),
            rt.n() << 12 | 0xB10 | m << 5 | vm,
        )
    }

    /// `vldr fd, [rn, #offset]` (offset a multiple of 4; out of -1020..=1020 goes through the
    /// scratch register).
    pub fn vldr(&mut self, fd: FReg, rn: Reg, offset: i32) -> Result<(), AsmError> {
        self.vload_store(true, fd, rn, offset)
    }

    /// `vstr fd, [rn, #offset]`.
    pub fn vstr(&mut self, fd: FReg, rn: Reg, offset: i32) -> Result<(), AsmError> {
        self.vload_store(false, fd, rn, offset)
    }

    fn vload_store(&mut self, load: bool, fd: FReg, rn: Reg, offset: i32) -> Result<(), AsmError> {
        let name = if load { "vldr" } else { "vstr" };
        self.check_fregs(name, &[fd])?;
        if rn == Reg::PC {
            return Err(operand_error(
                name,
                "pc-relative loads go through the literal pool",
            ));
        }
        if offset % 4 != 0 {
            return Err(operand_error(
                name,
                format!("offset {offset} is not a multiple of 4"),
            ));
        }
        if !(-1020..=1020).contains(&offset) {
            let temp = self.temp_for(name, &[rn])?;
            self.add(Flags::Preserve, temp, rn, Operand::Imm(offset as u32))?;
            return self.vload_store(load, fd, temp, 0);
        }
        let (d, vd, sz) = fd.fields();
        let u = u16::from(offset >= 0);
        self.emit32(
            0xED00 | u << 7 | d << 6 | u16::from(load) << 4 | rn.n(),
            vd << 12 | 0xA00 | sz << 8 | (offset.unsigned_abs() / 4) as u16,
        )
    }

    /// `vpush {first..first+count-1}` (consecutive `s` or `d` registers).
    pub fn vpush(&mut self, first: FReg, count: u8) -> Result<(), AsmError> {
        self.vpush_pop(false, first, count)
    }

    /// `vpop {first..first+count-1}`.
    pub fn vpop(&mut self, first: FReg, count: u8) -> Result<(), AsmError> {
        self.vpush_pop(true, first, count)
    }

    fn vpush_pop(&mut self, pop: bool, first: FReg, count: u8) -> Result<(), AsmError> {
        let name = if pop { "vpop" } else { "vpush" };
        let (limit, words) = match first {
            FReg::S(n) => (32u32, n as u32 + count as u32),
            FReg::D(n) => (16, n as u32 + count as u32),
        };
        if count == 0 || words > limit || (first.is_double() && count > 16) {
            return Err(operand_error(
                name,
                format!("{count} registers from {first:?}"),
            ));
        }
        let (d, vd, sz) = first.fields();
        let imm8 = if sz == 1 {
            2 * count as u16
        } else {
            count as u16
        };
        let hw1 = if pop { 0xECBD } else { 0xED2D };
        self.emit32(hw1 | d << 6, vd << 12 | 0xA00 | sz << 8 | imm8)
    }
}
