//! Integer data processing: arithmetic, logic, shifts, compares, moves, multiplies, divides,
//! bit and byte operations, with the narrowest encoding that has the requested semantics.

use super::{AsmError, Assembler, Flags, Reg, operand_error};

/// A shift applied to a register operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShiftKind {
    /// Logical shift left (0..=31).
    Lsl = 0,
    /// Logical shift right (1..=32).
    Lsr = 1,
    /// Arithmetic shift right (1..=32).
    Asr = 2,
    /// Rotate right (1..=31).
    Ror = 3,
}

impl ShiftKind {
    /// The assembler mnemonic.
    pub fn mnemonic(self) -> &'static str {
        ["lsl", "lsr", "asr", "ror"][self as usize]
    }

    fn amount_ok(self, amount: u8) -> bool {
        match self {
            ShiftKind::Lsl => amount <= 31,
            ShiftKind::Lsr | ShiftKind::Asr => (1..=32).contains(&amount),
            ShiftKind::Ror => (1..=31).contains(&amount),
        }
    }
}

/// The second operand of a data-processing instruction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// An immediate; encodings that cannot hold it fall back to a register.
    Imm(u32),
    /// A register.
    Reg(Reg),
    /// A register shifted by a constant.
    Shifted(Reg, ShiftKind, u8),
}

impl From<Reg> for Operand {
    fn from(r: Reg) -> Operand {
        Operand::Reg(r)
    }
}

impl From<u32> for Operand {
    fn from(v: u32) -> Operand {
        Operand::Imm(v)
    }
}

/// The T32 "modified immediate" encoding of `value` as the 12 bits `i:imm3:imm8`, if any:
/// an 8-bit value, one of the byte patterns `00XY00XY`, `XY00XY00`, `XYXYXYXY`, or an 8-bit value
/// with its top bit set rotated right by 8..=31.
pub fn modified_immediate(value: u32) -> Option<u16> {
    if value <= 0xFF {
        return Some(value as u16);
    }
    let b = value & 0xFF;
    if value == b * 0x0001_0001 {
        return Some(0x100 | b as u16);
    }
    let b1 = (value >> 8) & 0xFF;
    if value == b1 * 0x0100_0100 {
        return Some(0x200 | b1 as u16);
    }
    if value == b * 0x0101_0101 {
        return Some(0x300 | b as u16);
    }
    // `value` is `x` rotated right by `r` in 8..=31, with `x` in 0x80..=0xFF: for such `r` the
    // eight bits of `x` land at bits `32 - r ..= 39 - r` without wrapping, so bit 7 of `x` is
    // the top set bit of `value` and fixes `r` (`value > 0xFF` here, so `r >= 8`). It fits when
    // rotating back leaves nothing above bit 7.
    let rotation = 8 + value.leading_zeros();
    let x = value.rotate_left(rotation);
    (x <= 0xFF).then_some((rotation << 7) as u16 | (x & 0x7F) as u16)
}

/// The two halfwords of a wide instruction with a modified immediate.
fn with_imm12(hw1: u16, hw2: u16, imm12: u16) -> (u16, u16) {
    (
        hw1 | (imm12 >> 11) << 10,
        hw2 | ((imm12 >> 8) & 7) << 12 | (imm12 & 0xFF),
    )
}

/// The wide data-processing operations (`op` field of the modified-immediate and
/// shifted-register encodings).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    And = 0,
    Bic = 1,
    Orr = 2,
    Orn = 3,
    Eor = 4,
    Add = 8,
    Adc = 10,
    Sbc = 11,
    Sub = 13,
    Rsb = 14,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::And => "and",
            Op::Bic => "bic",
            Op::Orr => "orr",
            Op::Orn => "orn",
            Op::Eor => "eor",
            Op::Add => "add",
            Op::Adc => "adc",
            Op::Sbc => "sbc",
            Op::Sub => "sub",
            Op::Rsb => "rsb",
        }
    }

    /// The opcode of the narrow two-register form `op Rdn, Rm`, if any.
    fn narrow_two_register(self) -> Option<u16> {
        Some(match self {
            Op::And => 0,
            Op::Eor => 1,
            Op::Adc => 5,
            Op::Sbc => 6,
            Op::Orr => 12,
            Op::Bic => 14,
            _ => return None,
        })
    }

    fn commutative(self) -> bool {
        matches!(self, Op::And | Op::Orr | Op::Eor | Op::Adc | Op::Add)
    }
}

fn no_sp_pc(instruction: &'static str, regs: &[Reg]) -> Result<(), AsmError> {
    match regs.iter().find(|r| **r == Reg::SP || **r == Reg::PC) {
        Some(r) => Err(operand_error(instruction, format!("{r} is not allowed"))),
        None => Ok(()),
    }
}

/// Normalises a shift: amount 0 is "no shift" (LSL #0).
fn normalise_shift(
    instruction: &'static str,
    kind: ShiftKind,
    amount: u8,
) -> Result<(ShiftKind, u8), AsmError> {
    if amount == 0 {
        return Ok((ShiftKind::Lsl, 0));
    }
    if !kind.amount_ok(amount) {
        return Err(operand_error(
            instruction,
            format!("{} #{amount} is out of range", kind.mnemonic()),
        ));
    }
    Ok((kind, amount))
}

/// The second halfword bits of a shifted register operand: `imm3:..:imm2:type:Rm`.
fn shift_bits(rm: Reg, kind: ShiftKind, amount: u8) -> u16 {
    let n = (amount & 31) as u16;
    (n >> 2) << 12 | (n & 3) << 6 | (kind as u16) << 4 | rm.n()
}

impl Assembler {
    fn wide_imm(&mut self, op: Op, s: u16, rd: Reg, rn: Reg, imm12: u16) -> Result<(), AsmError> {
        let (h1, h2) = with_imm12(
            0xF000 | (op as u16) << 5 | s << 4 | rn.n(),
            rd.n() << 8,
            imm12,
        );
        self.emit32(h1, h2)
    }

    #[allow(clippy::too_many_arguments, reason = "one operand per encoding field")]
    fn wide_reg(
        &mut self,
        op: Op,
        s: u16,
        rd: Reg,
        rn: Reg,
        rm: Reg,
        kind: ShiftKind,
        amount: u8,
    ) -> Result<(), AsmError> {
        self.emit32(
            0xEA00 | (op as u16) << 5 | s << 4 | rn.n(),
            rd.n() << 8 | shift_bits(rm, kind, amount),
        )
    }

    /// The register a fallback materialises an immediate in: `rd` when it is not also a source
    /// (and is an ordinary register), else the scratch register.
    fn immediate_temp(
        &self,
        instruction: &'static str,
        rd: Reg,
        sources: &[Reg],
    ) -> Result<Reg, AsmError> {
        if rd != Reg::SP && rd != Reg::PC && !sources.contains(&rd) {
            Ok(rd)
        } else {
            self.temp_for(instruction, sources)
        }
    }

    /// Flags for materialising a constant before an instruction with `flags`.
    fn flags_before(flags: Flags) -> Flags {
        if flags == Flags::Preserve {
            Flags::Preserve
        } else {
            Flags::Any
        }
    }

    fn data(
        &mut self,
        op: Op,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        operand: Operand,
    ) -> Result<(), AsmError> {
        match operand {
            Operand::Imm(imm) => self.data_imm(op, flags, rd, rn, imm, true),
            Operand::Reg(rm) => self.data_reg(op, flags, rd, rn, rm, ShiftKind::Lsl, 0),
            Operand::Shifted(rm, kind, amount) => {
                let (kind, amount) = normalise_shift(op.name(), kind, amount)?;
                self.data_reg(op, flags, rd, rn, rm, kind, amount)
            }
        }
    }

    fn check_add_sub_regs(op: Op, rd: Reg, rn: Reg) -> Result<(), AsmError> {
        if rd == Reg::PC || rn == Reg::PC {
            return Err(operand_error(op.name(), "pc is not allowed (use adr)"));
        }
        if rd == Reg::SP && rn != Reg::SP {
            return Err(operand_error(
                op.name(),
                "sp as destination needs sp as first operand",
            ));
        }
        Ok(())
    }

    fn data_imm(
        &mut self,
        op: Op,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        imm: u32,
        may_negate: bool,
    ) -> Result<(), AsmError> {
        let name = op.name();
        let s = Self::s_bit(flags);
        match op {
            Op::Add | Op::Sub => {
                Self::check_add_sub_regs(op, rd, rn)?;
                let add = op == Op::Add;
                if flags != Flags::Set && imm.is_multiple_of(4) {
                    if rd == Reg::SP && rn == Reg::SP && imm <= 508 {
                        let base = if add { 0xB000 } else { 0xB080 };
                        return self.emit16(base | (imm / 4) as u16);
                    }
                    if add && rd.is_low() && rn == Reg::SP && imm <= 1020 {
                        return self.emit16(0xA800 | rd.n() << 8 | (imm / 4) as u16);
                    }
                }
                if rd.is_low() && rn.is_low() && self.narrow_flags_ok(flags) {
                    if rd == rn && imm <= 255 {
                        let base = if add { 0x3000 } else { 0x3800 };
                        return self.emit16(base | rd.n() << 8 | imm as u16);
                    }
                    if imm <= 7 {
                        let base = if add { 0x1C00 } else { 0x1E00 };
                        return self.emit16(base | (imm as u16) << 6 | rn.n() << 3 | rd.n());
                    }
                }
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(op, s, rd, rn, imm12);
                }
                if flags != Flags::Set && imm <= 4095 {
                    let base = if add { 0xF200 } else { 0xF2A0 };
                    let (h1, h2) = with_imm12(base | rn.n(), rd.n() << 8, imm as u16);
                    return self.emit32(h1, h2);
                }
                // x + (-k) and x - k agree in every flag unless k is 0 or 0x8000_0000.
                if may_negate && imm != 0 && imm != 0x8000_0000 {
                    let other = if add { Op::Sub } else { Op::Add };
                    let negated = imm.wrapping_neg();
                    if modified_immediate(negated).is_some()
                        || (flags != Flags::Set && negated <= 4095)
                    {
                        return self.data_imm(other, flags, rd, rn, negated, false);
                    }
                }
            }
            Op::Rsb => {
                no_sp_pc(name, &[rd, rn])?;
                if imm == 0 && rd.is_low() && rn.is_low() && self.narrow_flags_ok(flags) {
                    return self.emit16(0x4240 | rn.n() << 3 | rd.n());
                }
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(op, s, rd, rn, imm12);
                }
                let temp = self.immediate_temp(name, rd, &[rn])?;
                self.mov(Self::flags_before(flags), temp, Operand::Imm(imm))?;
                return self.data_reg(Op::Sub, flags, rd, temp, rn, ShiftKind::Lsl, 0);
            }
            _ => {
                no_sp_pc(name, &[rd, rn])?;
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(op, s, rd, rn, imm12);
                }
                // Equivalent operations on the complement (as GNU as substitutes them). The
                // carry a flag-setting logical operation leaves is then that of the complement's
                // encoding: code generators must not read C after `ands`/`orrs`/... with an
                // immediate (the wasm compiler never does).
                let complement = match op {
                    Op::And => Some(Op::Bic),
                    Op::Bic => Some(Op::And),
                    Op::Orr => Some(Op::Orn),
                    Op::Orn => Some(Op::Orr),
                    // adc x, #k == sbc x, #!k, flags included (x + k + C = x + !!k + C).
                    Op::Adc => Some(Op::Sbc),
                    Op::Sbc => Some(Op::Adc),
                    _ => None,
                };
                if let Some(other) = complement
                    && let Some(imm12) = modified_immediate(!imm)
                {
                    return self.wide_imm(other, s, rd, rn, imm12);
                }
            }
        }
        // No encoding holds the immediate: materialise it.
        let temp = self.immediate_temp(name, rd, &[rn])?;
        self.mov(Self::flags_before(flags), temp, Operand::Imm(imm))?;
        self.data_reg(op, flags, rd, rn, temp, ShiftKind::Lsl, 0)
    }

    #[allow(clippy::too_many_arguments, reason = "one operand per encoding field")]
    fn data_reg(
        &mut self,
        op: Op,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        rm: Reg,
        kind: ShiftKind,
        amount: u8,
    ) -> Result<(), AsmError> {
        let name = op.name();
        let s = Self::s_bit(flags);
        let unshifted = amount == 0;
        match op {
            Op::Add | Op::Sub => {
                if [rd, rn, rm].contains(&Reg::PC) {
                    return Err(operand_error(name, "pc is not allowed (use adr)"));
                }
                if unshifted {
                    if rd.is_low() && rn.is_low() && rm.is_low() && self.narrow_flags_ok(flags) {
                        let base = if op == Op::Add { 0x1800 } else { 0x1A00 };
                        return self.emit16(base | rm.n() << 6 | rn.n() << 3 | rd.n());
                    }
                    // `add rdn, rm` (T2): any registers but pc, sp at most once as a source.
                    if op == Op::Add
                        && flags != Flags::Set
                        && (rd == rn || rd == rm)
                        && !(rn == Reg::SP && rm == Reg::SP)
                    {
                        let other = if rd == rn { rm } else { rn };
                        return self
                            .emit16(0x4400 | (rd.n() >> 3) << 7 | other.n() << 3 | (rd.n() & 7));
                    }
                }
                Self::check_add_sub_regs(op, rd, rn)?;
                no_sp_pc(name, &[rm])?;
                if rd == Reg::SP && (kind != ShiftKind::Lsl || amount > 3) {
                    return Err(operand_error(name, "sp destination allows only lsl #0..3"));
                }
            }
            _ => {
                no_sp_pc(name, &[rd, rn, rm])?;
                if unshifted
                    && rd.is_low()
                    && rn.is_low()
                    && rm.is_low()
                    && self.narrow_flags_ok(flags)
                    && let Some(opc) = op.narrow_two_register()
                {
                    if rd == rn {
                        return self.emit16(0x4000 | opc << 6 | rm.n() << 3 | rd.n());
                    }
                    if rd == rm && op.commutative() {
                        return self.emit16(0x4000 | opc << 6 | rn.n() << 3 | rd.n());
                    }
                }
            }
        }
        self.wide_reg(op, s, rd, rn, rm, kind, amount)
    }

    /// `add{s} rd, rn, op`. `sp` may be `rn` (and `rd` when `rn` is `sp`).
    pub fn add(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Add, flags, rd, rn, op.into())
    }

    /// `sub{s} rd, rn, op`. `sp` may be `rn` (and `rd` when `rn` is `sp`).
    pub fn sub(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Sub, flags, rd, rn, op.into())
    }

    /// `adc{s} rd, rn, op`.
    pub fn adc(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Adc, flags, rd, rn, op.into())
    }

    /// `sbc{s} rd, rn, op`.
    pub fn sbc(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Sbc, flags, rd, rn, op.into())
    }

    /// `rsb{s} rd, rn, op` (`op - rn`).
    pub fn rsb(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Rsb, flags, rd, rn, op.into())
    }

    /// `and{s} rd, rn, op`.
    pub fn and(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::And, flags, rd, rn, op.into())
    }

    /// `orr{s} rd, rn, op`.
    pub fn orr(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Orr, flags, rd, rn, op.into())
    }

    /// `eor{s} rd, rn, op`.
    pub fn eor(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Eor, flags, rd, rn, op.into())
    }

    /// `bic{s} rd, rn, op` (`rn & !op`).
    pub fn bic(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Bic, flags, rd, rn, op.into())
    }

    /// `orn{s} rd, rn, op` (`rn | !op`; wide only).
    pub fn orn(
        &mut self,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        op: impl Into<Operand>,
    ) -> Result<(), AsmError> {
        self.data(Op::Orn, flags, rd, rn, op.into())
    }

    /// `mov{s} rd, op`. An immediate no single instruction holds becomes `movw`+`movt` (which
    /// cannot set the flags: an error with [`Flags::Set`]). A shifted register is the shift
    /// instruction.
    pub fn mov(&mut self, flags: Flags, rd: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        let s = Self::s_bit(flags);
        match op.into() {
            Operand::Imm(imm) => {
                no_sp_pc("mov", &[rd])?;
                if rd.is_low() && imm <= 255 && self.narrow_flags_ok(flags) {
                    return self.emit16(0x2000 | rd.n() << 8 | imm as u16);
                }
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(Op::Orr, s, rd, Reg::PC, imm12);
                }
                // The complement with `mvn` (C as for the complement's encoding, see `data_imm`).
                if let Some(imm12) = modified_immediate(!imm) {
                    return self.wide_imm(Op::Orn, s, rd, Reg::PC, imm12);
                }
                if flags == Flags::Set {
                    return Err(operand_error(
                        "movs",
                        format!("#{imm:#x} has no flag-setting encoding"),
                    ));
                }
                self.movw(rd, imm as u16)?;
                if imm > 0xFFFF {
                    self.movt(rd, (imm >> 16) as u16)?;
                }
                Ok(())
            }
            Operand::Reg(rm) => {
                if rd == Reg::PC || rm == Reg::PC {
                    return Err(operand_error("mov", "pc is not allowed"));
                }
                if flags != Flags::Set {
                    return self.emit16(0x4600 | (rd.n() >> 3) << 7 | rm.n() << 3 | (rd.n() & 7));
                }
                if rd.is_low() && rm.is_low() && !self.in_it_block() {
                    return self.emit16(rm.n() << 3 | rd.n());
                }
                no_sp_pc("movs", &[rd, rm])?;
                self.wide_reg(Op::Orr, 1, rd, Reg::PC, rm, ShiftKind::Lsl, 0)
            }
            Operand::Shifted(rm, kind, amount) => {
                self.shift(kind, flags, rd, rm, Operand::Imm(amount as u32))
            }
        }
    }

    /// `mvn{s} rd, op` (`!op`).
    pub fn mvn(&mut self, flags: Flags, rd: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        let s = Self::s_bit(flags);
        match op.into() {
            Operand::Imm(imm) => {
                no_sp_pc("mvn", &[rd])?;
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(Op::Orn, s, rd, Reg::PC, imm12);
                }
                self.mov(flags, rd, Operand::Imm(!imm))
            }
            Operand::Reg(rm) => self.mvn_shifted(flags, rd, rm, ShiftKind::Lsl, 0),
            Operand::Shifted(rm, kind, amount) => {
                let (kind, amount) = normalise_shift("mvn", kind, amount)?;
                self.mvn_shifted(flags, rd, rm, kind, amount)
            }
        }
    }

    fn mvn_shifted(
        &mut self,
        flags: Flags,
        rd: Reg,
        rm: Reg,
        kind: ShiftKind,
        amount: u8,
    ) -> Result<(), AsmError> {
        no_sp_pc("mvn", &[rd, rm])?;
        if amount == 0 && rd.is_low() && rm.is_low() && self.narrow_flags_ok(flags) {
            return self.emit16(0x43C0 | rm.n() << 3 | rd.n());
        }
        self.wide_reg(Op::Orn, Self::s_bit(flags), rd, Reg::PC, rm, kind, amount)
    }

    /// `lsl`/`lsr`/`asr`/`ror{s} rd, rn, amount`: `amount` is an immediate (shift by a constant)
    /// or a register (shift by its bottom byte).
    pub fn shift(
        &mut self,
        kind: ShiftKind,
        flags: Flags,
        rd: Reg,
        rn: Reg,
        amount: Operand,
    ) -> Result<(), AsmError> {
        let name = kind.mnemonic();
        match amount {
            Operand::Imm(n) => {
                no_sp_pc(name, &[rd, rn])?;
                if n > 32 || !kind.amount_ok(n as u8) {
                    if n == 0 {
                        return self.mov(flags, rd, Operand::Reg(rn));
                    }
                    return Err(operand_error(name, format!("#{n} is out of range")));
                }
                if kind != ShiftKind::Ror
                    && rd.is_low()
                    && rn.is_low()
                    && self.narrow_flags_ok(flags)
                {
                    let base = [0x0000, 0x0800, 0x1000][kind as usize];
                    return self.emit16(base | ((n & 31) as u16) << 6 | rn.n() << 3 | rd.n());
                }
                self.wide_reg(Op::Orr, Self::s_bit(flags), rd, Reg::PC, rn, kind, n as u8)
            }
            Operand::Reg(rm) => {
                no_sp_pc(name, &[rd, rn, rm])?;
                if rd == rn && rd.is_low() && rm.is_low() && self.narrow_flags_ok(flags) {
                    let opc = [2, 3, 4, 7][kind as usize];
                    return self.emit16(0x4000 | opc << 6 | rm.n() << 3 | rd.n());
                }
                self.emit32(
                    0xFA00 | (kind as u16) << 5 | Self::s_bit(flags) << 4 | rn.n(),
                    0xF000 | rd.n() << 8 | rm.n(),
                )
            }
            Operand::Shifted(..) => Err(operand_error(name, "shift amount cannot be shifted")),
        }
    }

    fn compare(
        &mut self,
        name: &'static str,
        op: Op,
        rn: Reg,
        operand: Operand,
    ) -> Result<(), AsmError> {
        // cmp = subs, cmn = adds, tst = ands, teq = eors, with Rd = pc (discarded).
        let narrow_reg = match op {
            Op::Sub => Some(0x4280),
            Op::Add => Some(0x42C0),
            Op::And => Some(0x4200),
            _ => None,
        };
        match operand {
            Operand::Imm(imm) => {
                if rn == Reg::PC || (rn == Reg::SP && !matches!(op, Op::Add | Op::Sub)) {
                    return Err(operand_error(name, format!("{rn} is not allowed")));
                }
                if op == Op::Sub && rn.is_low() && imm <= 255 {
                    return self.emit16(0x2800 | rn.n() << 8 | imm as u16);
                }
                if let Some(imm12) = modified_immediate(imm) {
                    return self.wide_imm(op, 1, Reg::PC, rn, imm12);
                }
                // cmp x, #k == cmn x, #-k in every flag unless k is 0 or 0x8000_0000.
                if matches!(op, Op::Add | Op::Sub)
                    && imm != 0x8000_0000
                    && let Some(imm12) = modified_immediate(imm.wrapping_neg())
                {
                    let other = if op == Op::Sub { Op::Add } else { Op::Sub };
                    return self.wide_imm(other, 1, Reg::PC, rn, imm12);
                }
                let temp = self.temp_for(name, &[rn])?;
                self.mov(Flags::Any, temp, Operand::Imm(imm))?;
                self.compare(name, op, rn, Operand::Reg(temp))
            }
            Operand::Reg(rm) | Operand::Shifted(rm, _, 0) => {
                if rn == Reg::PC || rm == Reg::PC {
                    return Err(operand_error(name, "pc is not allowed"));
                }
                if let Some(base) = narrow_reg
                    && rn.is_low()
                    && rm.is_low()
                {
                    return self.emit16(base | rm.n() << 3 | rn.n());
                }
                if op == Op::Sub {
                    return self.emit16(0x4500 | (rn.n() >> 3) << 7 | rm.n() << 3 | (rn.n() & 7));
                }
                // cmn/cmp take sp as first operand; tst/teq do not.
                if op == Op::Add {
                    no_sp_pc(name, &[rm])?;
                } else {
                    no_sp_pc(name, &[rn, rm])?;
                }
                self.wide_reg(op, 1, Reg::PC, rn, rm, ShiftKind::Lsl, 0)
            }
            Operand::Shifted(rm, kind, amount) => {
                let (kind, amount) = normalise_shift(name, kind, amount)?;
                no_sp_pc(name, &[rm])?;
                if rn == Reg::PC || (rn == Reg::SP && !matches!(op, Op::Add | Op::Sub)) {
                    return Err(operand_error(name, format!("{rn} is not allowed")));
                }
                self.wide_reg(op, 1, Reg::PC, rn, rm, kind, amount)
            }
        }
    }

    /// `cmp rn, op`.
    pub fn cmp(&mut self, rn: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        self.compare("cmp", Op::Sub, rn, op.into())
    }

    /// `cmn rn, op`.
    pub fn cmn(&mut self, rn: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        self.compare("cmn", Op::Add, rn, op.into())
    }

    /// `tst rn, op`.
    pub fn tst(&mut self, rn: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        self.compare("tst", Op::And, rn, op.into())
    }

    /// `teq rn, op` (wide only).
    pub fn teq(&mut self, rn: Reg, op: impl Into<Operand>) -> Result<(), AsmError> {
        self.compare("teq", Op::Eor, rn, op.into())
    }

    /// `movw rd, #imm16` (zero-extends; flags unchanged).
    pub fn movw(&mut self, rd: Reg, imm: u16) -> Result<(), AsmError> {
        self.move_wide(0xF240, "movw", rd, imm)
    }

    /// `movt rd, #imm16` (sets the top half, keeps the bottom).
    pub fn movt(&mut self, rd: Reg, imm: u16) -> Result<(), AsmError> {
        self.move_wide(0xF2C0, "movt", rd, imm)
    }

    fn move_wide(
        &mut self,
        base: u16,
        name: &'static str,
        rd: Reg,
        imm: u16,
    ) -> Result<(), AsmError> {
        no_sp_pc(name, &[rd])?;
        self.emit32(
            base | ((imm >> 11) & 1) << 10 | imm >> 12,
            ((imm >> 8) & 7) << 12 | rd.n() << 8 | (imm & 0xFF),
        )
    }

    /// `mul{s} rd, rn, rm`. Only the narrow form (low registers, `rd` one of the sources) sets the
    /// flags: [`Flags::Set`] with other operands is an error.
    pub fn mul(&mut self, flags: Flags, rd: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        no_sp_pc("mul", &[rd, rn, rm])?;
        if rd.is_low() && rn.is_low() && rm.is_low() && self.narrow_flags_ok(flags) {
            if rd == rm {
                return self.emit16(0x4340 | rn.n() << 3 | rd.n());
            }
            if rd == rn {
                return self.emit16(0x4340 | rm.n() << 3 | rd.n());
            }
        }
        if flags == Flags::Set {
            return Err(operand_error(
                "muls",
                "only low registers with rd a source can set the flags",
            ));
        }
        self.emit32(0xFB00 | rn.n(), 0xF000 | rd.n() << 8 | rm.n())
    }

    /// `mla rd, rn, rm, ra` (`ra + rn * rm`).
    pub fn mla(&mut self, rd: Reg, rn: Reg, rm: Reg, ra: Reg) -> Result<(), AsmError> {
        no_sp_pc("mla", &[rd, rn, rm, ra])?;
        self.emit32(0xFB00 | rn.n(), ra.n() << 12 | rd.n() << 8 | rm.n())
    }

    /// `mls rd, rn, rm, ra` (`ra - rn * rm`).
    pub fn mls(&mut self, rd: Reg, rn: Reg, rm: Reg, ra: Reg) -> Result<(), AsmError> {
        no_sp_pc("mls", &[rd, rn, rm, ra])?;
        self.emit32(0xFB00 | rn.n(), ra.n() << 12 | rd.n() << 8 | 0x10 | rm.n())
    }

    fn long_multiply(
        &mut self,
        name: &'static str,
        base: u16,
        lo: Reg,
        hi: Reg,
        rn: Reg,
        rm: Reg,
    ) -> Result<(), AsmError> {
        no_sp_pc(name, &[lo, hi, rn, rm])?;
        if lo == hi {
            return Err(operand_error(name, "the two destinations must differ"));
        }
        self.emit32(base | rn.n(), lo.n() << 12 | hi.n() << 8 | rm.n())
    }

    /// `umull lo, hi, rn, rm` (unsigned 32x32->64).
    pub fn umull(&mut self, lo: Reg, hi: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        self.long_multiply("umull", 0xFBA0, lo, hi, rn, rm)
    }

    /// `smull lo, hi, rn, rm` (signed 32x32->64).
    pub fn smull(&mut self, lo: Reg, hi: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        self.long_multiply("smull", 0xFB80, lo, hi, rn, rm)
    }

    /// `umlal lo, hi, rn, rm` (`hi:lo += rn * rm`, unsigned).
    pub fn umlal(&mut self, lo: Reg, hi: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        self.long_multiply("umlal", 0xFBE0, lo, hi, rn, rm)
    }

    /// `smlal lo, hi, rn, rm` (`hi:lo += rn * rm`, signed).
    pub fn smlal(&mut self, lo: Reg, hi: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        self.long_multiply("smlal", 0xFBC0, lo, hi, rn, rm)
    }

    /// `sdiv rd, rn, rm` (division by zero gives 0; no trap).
    pub fn sdiv(&mut self, rd: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        no_sp_pc("sdiv", &[rd, rn, rm])?;
        self.emit32(0xFB90 | rn.n(), 0xF0F0 | rd.n() << 8 | rm.n())
    }

    /// `udiv rd, rn, rm` (division by zero gives 0; no trap).
    pub fn udiv(&mut self, rd: Reg, rn: Reg, rm: Reg) -> Result<(), AsmError> {
        no_sp_pc("udiv", &[rd, rn, rm])?;
        self.emit32(0xFBB0 | rn.n(), 0xF0F0 | rd.n() << 8 | rm.n())
    }

    /// `clz rd, rm`.
    pub fn clz(&mut self, rd: Reg, rm: Reg) -> Result<(), AsmError> {
        no_sp_pc("clz", &[rd, rm])?;
        self.emit32(0xFAB0 | rm.n(), 0xF080 | rd.n() << 8 | rm.n())
    }

    /// `rbit rd, rm`.
    pub fn rbit(&mut self, rd: Reg, rm: Reg) -> Result<(), AsmError> {
        no_sp_pc("rbit", &[rd, rm])?;
        self.emit32(0xFA90 | rm.n(), 0xF0A0 | rd.n() << 8 | rm.n())
    }

    /// `rev rd, rm` (byte swap).
    pub fn rev(&mut self, rd: Reg, rm: Reg) -> Result<(), AsmError> {
        self.byte_reverse("rev", 0xBA00, 0xF080, rd, rm)
    }

    /// `rev16 rd, rm` (byte swap in each halfword).
    pub fn rev16(&mut self, rd: Reg, rm: Reg) -> Result<(), AsmError> {
        self.byte_reverse("rev16", 0xBA40, 0xF090, rd, rm)
    }

    /// `revsh rd, rm` (byte swap of the bottom halfword, sign-extended).
    pub fn revsh(&mut self, rd: Reg, rm: Reg) -> Result<(), AsmError> {
        self.byte_reverse("revsh", 0xBAC0, 0xF0B0, rd, rm)
    }

    fn byte_reverse(
        &mut self,
        name: &'static str,
        narrow: u16,
        wide2: u16,
        rd: Reg,
        rm: Reg,
    ) -> Result<(), AsmError> {
        no_sp_pc(name, &[rd, rm])?;
        if rd.is_low() && rm.is_low() {
            return self.emit16(narrow | rm.n() << 3 | rd.n());
        }
        self.emit32(0xFA90 | rm.n(), wide2 | rd.n() << 8 | rm.n())
    }

    fn extend(
        &mut self,
        name: &'static str,
        narrow: u16,
        wide1: u16,
        rd: Reg,
        rm: Reg,
        rotation: u8,
    ) -> Result<(), AsmError> {
        no_sp_pc(name, &[rd, rm])?;
        if !matches!(rotation, 0 | 8 | 16 | 24) {
            return Err(operand_error(
                name,
                format!("ror #{rotation} is not 0, 8, 16 or 24"),
            ));
        }
        if rotation == 0 && rd.is_low() && rm.is_low() {
            return self.emit16(narrow | rm.n() << 3 | rd.n());
        }
        self.emit32(
            wide1,
            0xF080 | rd.n() << 8 | ((rotation / 8) as u16) << 4 | rm.n(),
        )
    }

    /// `sxtb rd, rm, ror #rotation` (rotation 0, 8, 16 or 24).
    pub fn sxtb(&mut self, rd: Reg, rm: Reg, rotation: u8) -> Result<(), AsmError> {
        self.extend("sxtb", 0xB240, 0xFA4F, rd, rm, rotation)
    }

    /// `sxth rd, rm, ror #rotation`.
    pub fn sxth(&mut self, rd: Reg, rm: Reg, rotation: u8) -> Result<(), AsmError> {
        self.extend("sxth", 0xB200, 0xFA0F, rd, rm, rotation)
    }

    /// `uxtb rd, rm, ror #rotation`.
    pub fn uxtb(&mut self, rd: Reg, rm: Reg, rotation: u8) -> Result<(), AsmError> {
        self.extend("uxtb", 0xB2C0, 0xFA5F, rd, rm, rotation)
    }

    /// `uxth rd, rm, ror #rotation`.
    pub fn uxth(&mut self, rd: Reg, rm: Reg, rotation: u8) -> Result<(), AsmError> {
        self.extend("uxth", 0xB280, 0xFA1F, rd, rm, rotation)
    }
}
