//! Loads and stores of core registers: every width and signedness, immediate offsets
//! (positive, negative, pre- and post-indexed), register offsets, `ldrd`/`strd`.

use super::data::{Operand, ShiftKind};
use super::{AsmError, Assembler, Flags, Reg, operand_error};

/// Width and signedness of a core-register load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Width {
    /// Byte, zero-extended on load.
    U8,
    /// Byte, sign-extended on load (loads only).
    S8,
    /// Halfword, zero-extended on load.
    U16,
    /// Halfword, sign-extended on load (loads only).
    S16,
    /// Word.
    W32,
}

impl Width {
    /// Size in bytes.
    pub fn bytes(self) -> u32 {
        match self {
            Width::U8 | Width::S8 => 1,
            Width::U16 | Width::S16 => 2,
            Width::W32 => 4,
        }
    }

    /// The mnemonic suffix (`b`, `sb`, `h`, `sh`, empty).
    pub fn suffix(self) -> &'static str {
        match self {
            Width::U8 => "b",
            Width::S8 => "sb",
            Width::U16 => "h",
            Width::S16 => "sh",
            Width::W32 => "",
        }
    }

    /// First halfword of the wide immediate-12 form (T3), with `Rn` = 0.
    fn wide_base(self, load: bool) -> u16 {
        let base = match self {
            Width::U8 => 0xF880,
            Width::U16 => 0xF8A0,
            Width::W32 => 0xF8C0,
            Width::S8 => 0xF980,
            Width::S16 => 0xF9A0,
        };
        base | u16::from(load) << 4
    }

    /// The narrow register-offset form, with every register 0.
    fn narrow_register(self, load: bool) -> u16 {
        match (load, self) {
            (false, Width::W32) => 0x5000,
            (false, Width::U16 | Width::S16) => 0x5200,
            (false, Width::U8 | Width::S8) => 0x5400,
            (true, Width::S8) => 0x5600,
            (true, Width::W32) => 0x5800,
            (true, Width::U16) => 0x5A00,
            (true, Width::U8) => 0x5C00,
            (true, Width::S16) => 0x5E00,
        }
    }

    /// The narrow 5-bit-immediate form (unsigned widths only).
    fn narrow_immediate(self, load: bool) -> Option<u16> {
        let base = match self {
            Width::W32 => 0x6000,
            Width::U8 => 0x7000,
            Width::U16 => 0x8000,
            Width::S8 | Width::S16 => return None,
        };
        Some(base | u16::from(load) << 11)
    }
}

/// An address operand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addr {
    /// `[rn, #offset]`. Offsets no encoding holds go through a register.
    Offset(Reg, i32),
    /// `[rn, #offset]!`: `rn += offset` first (-255..=255).
    PreIndex(Reg, i32),
    /// `[rn], #offset`: `rn += offset` after (-255..=255).
    PostIndex(Reg, i32),
    /// `[rn, rm, lsl #shift]` (shift 0..=3).
    Indexed(Reg, Reg, u8),
}

impl Assembler {
    /// `ldr{width} rt, addr`.
    pub fn ldr(&mut self, width: Width, rt: Reg, addr: Addr) -> Result<(), AsmError> {
        self.load_store(true, width, rt, addr)
    }

    /// `str{width} rt, addr` (`S8`/`S16` are errors: stores have no signedness).
    pub fn str(&mut self, width: Width, rt: Reg, addr: Addr) -> Result<(), AsmError> {
        if matches!(width, Width::S8 | Width::S16) {
            return Err(operand_error("str", "stores have no signed forms"));
        }
        self.load_store(false, width, rt, addr)
    }

    fn load_store(
        &mut self,
        load: bool,
        width: Width,
        rt: Reg,
        addr: Addr,
    ) -> Result<(), AsmError> {
        let name = if load { "ldr" } else { "str" };
        if rt == Reg::SP || rt == Reg::PC {
            return Err(operand_error(
                name,
                format!("{rt} as data register is not allowed"),
            ));
        }
        let base = match addr {
            Addr::Offset(rn, _)
            | Addr::PreIndex(rn, _)
            | Addr::PostIndex(rn, _)
            | Addr::Indexed(rn, _, _) => rn,
        };
        if base == Reg::PC {
            return Err(operand_error(
                name,
                "pc-relative loads go through the literal pool",
            ));
        }
        let size = width.bytes();
        match addr {
            Addr::Offset(rn, offset) => {
                if offset >= 0 {
                    let imm = offset as u32;
                    if let Some(narrow) = width.narrow_immediate(load)
                        && rt.is_low()
                        && rn.is_low()
                        && imm.is_multiple_of(size)
                        && imm / size <= 31
                    {
                        return self
                            .emit16(narrow | ((imm / size) as u16) << 6 | rn.n() << 3 | rt.n());
                    }
                    if width == Width::W32
                        && rn == Reg::SP
                        && rt.is_low()
                        && imm.is_multiple_of(4)
                        && imm <= 1020
                    {
                        let base = if load { 0x9800 } else { 0x9000 };
                        return self.emit16(base | rt.n() << 8 | (imm / 4) as u16);
                    }
                    if imm <= 4095 {
                        return self
                            .emit32(width.wide_base(load) | rn.n(), rt.n() << 12 | imm as u16);
                    }
                } else if offset >= -255 {
                    return self.emit32(
                        (width.wide_base(load) & !0x80) | rn.n(),
                        rt.n() << 12 | 0x0C00 | (-offset) as u16,
                    );
                }
                // Out of reach: materialise the offset and use the register form.
                let temp = if load && rt != rn {
                    rt
                } else {
                    self.temp_for(name, &[rt, rn])?
                };
                self.mov(Flags::Preserve, temp, Operand::Imm(offset as u32))?;
                self.load_store(load, width, rt, Addr::Indexed(rn, temp, 0))
            }
            Addr::PreIndex(rn, offset) | Addr::PostIndex(rn, offset) => {
                if rn == rt {
                    return Err(operand_error(name, "writeback to the data register"));
                }
                if !(-255..=255).contains(&offset) {
                    return Err(operand_error(
                        name,
                        format!("writeback offset {offset} outside -255..=255"),
                    ));
                }
                let p = u16::from(matches!(addr, Addr::PreIndex(..)));
                let u = u16::from(offset >= 0);
                self.emit32(
                    (width.wide_base(load) & !0x80) | rn.n(),
                    rt.n() << 12 | 0x0900 | p << 10 | u << 9 | offset.unsigned_abs() as u16,
                )
            }
            Addr::Indexed(rn, rm, shift) => {
                if rm == Reg::SP || rm == Reg::PC {
                    return Err(operand_error(name, format!("{rm} as index is not allowed")));
                }
                if shift > 3 {
                    return Err(operand_error(
                        name,
                        format!("index shift {shift} outside 0..=3"),
                    ));
                }
                if shift == 0 && rt.is_low() && rn.is_low() && rm.is_low() {
                    return self
                        .emit16(width.narrow_register(load) | rm.n() << 6 | rn.n() << 3 | rt.n());
                }
                self.emit32(
                    (width.wide_base(load) & !0x80) | rn.n(),
                    rt.n() << 12 | (shift as u16) << 4 | rm.n(),
                )
            }
        }
    }

    /// `ldrd rt, rt2, addr` (offsets multiples of 4; -1020..=1020).
    pub fn ldrd(&mut self, rt: Reg, rt2: Reg, addr: Addr) -> Result<(), AsmError> {
        self.load_store_dual(true, rt, rt2, addr)
    }

    /// `strd rt, rt2, addr` (offsets multiples of 4; -1020..=1020).
    pub fn strd(&mut self, rt: Reg, rt2: Reg, addr: Addr) -> Result<(), AsmError> {
        self.load_store_dual(false, rt, rt2, addr)
    }

    fn load_store_dual(
        &mut self,
        load: bool,
        rt: Reg,
        rt2: Reg,
        addr: Addr,
    ) -> Result<(), AsmError> {
        let name = if load { "ldrd" } else { "strd" };
        for r in [rt, rt2] {
            if r == Reg::SP || r == Reg::PC {
                return Err(operand_error(
                    name,
                    format!("{r} as data register is not allowed"),
                ));
            }
        }
        if load && rt == rt2 {
            return Err(operand_error(name, "the two data registers must differ"));
        }
        let (rn, offset, p, w) = match addr {
            Addr::Offset(rn, offset) => (rn, offset, 1, 0),
            Addr::PreIndex(rn, offset) => (rn, offset, 1, 1),
            Addr::PostIndex(rn, offset) => (rn, offset, 0, 1),
            Addr::Indexed(..) => return Err(operand_error(name, "no register-offset form")),
        };
        if rn == Reg::PC {
            return Err(operand_error(
                name,
                "pc-relative loads go through the literal pool",
            ));
        }
        if w == 1 && (rn == rt || rn == rt2) {
            return Err(operand_error(name, "writeback to a data register"));
        }
        if offset % 4 != 0 || !(-1020..=1020).contains(&offset) {
            if w == 0 && offset % 4 == 0 {
                let temp = self.temp_for(name, &[rt, rt2, rn])?;
                self.add(Flags::Preserve, temp, rn, Operand::Imm(offset as u32))?;
                return self.load_store_dual(load, rt, rt2, Addr::Offset(temp, 0));
            }
            return Err(operand_error(
                name,
                format!("offset {offset} is not a multiple of 4 in -1020..=1020"),
            ));
        }
        let u = u16::from(offset >= 0);
        self.emit32(
            0xE840 | p << 8 | u << 7 | w << 5 | u16::from(load) << 4 | rn.n(),
            rt.n() << 12 | rt2.n() << 8 | (offset.unsigned_abs() / 4) as u16,
        )
    }

    /// `rd = rn + (rm << shift)` as one instruction, for address arithmetic.
    pub fn add_shifted(&mut self, rd: Reg, rn: Reg, rm: Reg, shift: u8) -> Result<(), AsmError> {
        self.add(
            Flags::Any,
            rd,
            rn,
            Operand::Shifted(rm, ShiftKind::Lsl, shift),
        )
    }
}
