//! A Thumb-2 assembler for ARMv7E-M and ARMv8-M Mainline with FPv4-SP / FPv5 floating point:
//! everything the single-pass wasm compiler emits, encoded directly into bytes.
//!
//! # Vocabulary
//!
//! * **narrow / wide**: the 16-bit and the 32-bit encodings. The assembler picks the narrow one
//!   whenever it exists for the operands *and* has the semantics asked for (see [`Flags`]):
//!   code size is a goal of the backend (text at most 1.6x the wasm code).
//! * **offset**: a byte offset from the start of the function being assembled. The function is
//!   placed at a 4-aligned text offset by the linker, so `offset % 4` is the address's `% 4`,
//!   which literal loads and `adr` depend on (their base is `Align(PC, 4)`).
//! * **PC**: in Thumb state, reading the PC gives the address of the instruction plus 4.
//! * **label**: a position in the function, bound once; branches to it before it is bound are
//!   *fixups*, patched when it is bound.
//! * **literal pool**: constants that `ldr`/`ldrd`/`vldr` (literal) load PC-relatively; one per
//!   function, emitted at the end or, when a load would otherwise be out of range, in the middle
//!   behind a branch (or after an unconditional branch, where nothing falls into it).
//! * **call site**: a `bl` to another piece of the module (function or trampoline), emitted with
//!   a zero displacement and recorded for the module linker, which patches it or routes it
//!   through a veneer once the layout is known.
//!
//! # Invariants
//!
//! 1. **Every emitted instruction exists on the profile.** An instruction (or operand form)
//!    the profile lacks, an illegal register (SP/PC where the architecture makes it
//!    UNPREDICTABLE) or an immediate no encoding can hold (when no fallback applies) is an
//!    [`AsmError`], never a panic and never a silently different instruction.
//! 2. **Flags**: an instruction asked to set the flags sets them; one asked to preserve them
//!    preserves them; [`Flags::Any`] lets the assembler choose (narrow forms set the flags outside
//!    an IT block and preserve them inside one).
//! 3. **Fixups are range checked when they are resolved**, backward references at emission
//!    (choosing the narrowest encoding that reaches), forward references when the label is bound
//!    (a forward branch is emitted wide unless the caller asked for a narrow one; a narrow one that
//!    does not reach is an error, never a silent truncation).
//! 4. **Literal pool**: each pending literal use has a *deadline*, the last offset at which its
//!    constant can be placed. Before an instruction is emitted, if emitting it plus the pool (with
//!    the branch around it and the alignment) could pass the earliest deadline, the pool is
//!    emitted first, behind a branch. After an unconditional branch the pool is emitted early
//!    when its earliest deadline is near, with no branch needed. No pool is ever emitted inside
//!    an IT block; [`Assembler::it`] makes room for the whole block first. Constants are
//!    deduplicated among the pending ones, and reused from an earlier pool when a wide load can
//!    reach back to it.
//! 5. **Scratch register**: fallbacks that need a register (an immediate that no encoding holds,
//!    a memory offset out of range) use the destination when that is safe and otherwise the
//!    scratch register ([`Assembler::scratch`], `r12` by default), which the code generator
//!    must never use for a live value. With no scratch register such a fallback is an error.

mod data;
mod fp;
mod memory;
mod pool;

#[cfg(test)]
mod golden;
#[cfg(test)]
mod tests;

use std::fmt;

use shared_types::Target;

use crate::link::Symbol;

pub use self::data::{Operand, ShiftKind, modified_immediate};
pub use self::fp::{FReg, Rounding, vfp_immediate};
pub use self::memory::{Addr, Width};

/// The architecture version of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arch {
    /// ARMv7E-M (Cortex-M4, Cortex-M7).
    V7EM,
    /// ARMv8-M Mainline (Cortex-M33).
    V8MMain,
    /// ARMv8.1-M Mainline (Cortex-M55).
    V81MMain,
}

/// The floating-point unit of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fpu {
    /// FPv4-SP-D16: single precision, 32 `s` registers (viewable as 16 `d` registers for
    /// transfers only).
    FpV4Sp,
    /// FPv5-SP-D16: FPv4 plus `vrint*`, `vmaxnm`/`vminnm`, single precision.
    FpV5Sp,
    /// FPv5-D16: FPv5 with double precision.
    FpV5Dp,
}

/// What instructions a core has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Profile {
    /// The target this profile describes.
    pub target: Target,
    /// Architecture version.
    pub arch: Arch,
    /// Floating-point unit.
    pub fpu: Fpu,
}

impl Profile {
    /// The profile of a Cortex-M target; `None` for other targets.
    pub fn for_target(target: Target) -> Option<Profile> {
        let (arch, fpu) = match target {
            Target::CortexM4F => (Arch::V7EM, Fpu::FpV4Sp),
            Target::CortexM7 => (Arch::V7EM, Fpu::FpV5Dp),
            Target::CortexM33 => (Arch::V8MMain, Fpu::FpV5Sp),
            Target::CortexM55 => (Arch::V81MMain, Fpu::FpV5Dp),
            _ => return None,
        };
        Some(Profile { target, arch, fpu })
    }

    /// Whether the FPU computes in double precision.
    pub fn has_double_precision(&self) -> bool {
        self.fpu == Fpu::FpV5Dp
    }

    /// Whether the FPU has the FPv5 additions (`vrint*`, `vmaxnm`, `vminnm`).
    pub fn has_fpv5(&self) -> bool {
        matches!(self.fpu, Fpu::FpV5Sp | Fpu::FpV5Dp)
    }
}

/// A core register `r0`..`r15`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reg(u8);

impl Reg {
    /// `r0`.
    pub const R0: Reg = Reg(0);
    /// `r1`.
    pub const R1: Reg = Reg(1);
    /// `r2`.
    pub const R2: Reg = Reg(2);
    /// `r3`.
    pub const R3: Reg = Reg(3);
    /// `r4`.
    pub const R4: Reg = Reg(4);
    /// `r5`.
    pub const R5: Reg = Reg(5);
    /// `r6`.
    pub const R6: Reg = Reg(6);
    /// `r7`.
    pub const R7: Reg = Reg(7);
    /// `r8`.
    pub const R8: Reg = Reg(8);
    /// `r9`.
    pub const R9: Reg = Reg(9);
    /// `r10`.
    pub const R10: Reg = Reg(10);
    /// `r11`.
    pub const R11: Reg = Reg(11);
    /// `r12` (`ip`), the default scratch register.
    pub const R12: Reg = Reg(12);
    /// `sp`.
    pub const SP: Reg = Reg(13);
    /// `lr`.
    pub const LR: Reg = Reg(14);
    /// `pc`.
    pub const PC: Reg = Reg(15);

    /// Register `n`, `None` for `n > 15`.
    pub const fn new(n: u8) -> Option<Reg> {
        if n < 16 { Some(Reg(n)) } else { None }
    }

    /// The register number.
    pub const fn num(self) -> u8 {
        self.0
    }

    /// `r0`..`r7`, reachable by most narrow encodings.
    pub const fn is_low(self) -> bool {
        self.0 < 8
    }

    fn n(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Debug for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Reg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            13 => f.write_str("sp"),
            14 => f.write_str("lr"),
            15 => f.write_str("pc"),
            n => write!(f, "r{n}"),
        }
    }
}

/// A set of core registers for `push`/`pop`, bit `n` = `rn`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct RegList(pub u16);

impl RegList {
    /// The set of `regs`.
    pub fn of(regs: &[Reg]) -> RegList {
        RegList(regs.iter().fold(0, |acc, r| acc | 1 << r.0))
    }

    /// Whether `reg` is in the set.
    pub fn contains(self, reg: Reg) -> bool {
        self.0 & (1 << reg.0) != 0
    }

    /// Number of registers.
    pub fn len(self) -> u32 {
        self.0.count_ones()
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

/// A condition, with its 4-bit encoding.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Cond {
    /// Equal (Z).
    Eq = 0,
    /// Not equal.
    Ne = 1,
    /// Carry set / unsigned higher or same.
    Hs = 2,
    /// Carry clear / unsigned lower.
    Lo = 3,
    /// Negative.
    Mi = 4,
    /// Positive or zero.
    Pl = 5,
    /// Overflow.
    Vs = 6,
    /// No overflow.
    Vc = 7,
    /// Unsigned higher.
    Hi = 8,
    /// Unsigned lower or same.
    Ls = 9,
    /// Signed greater or equal.
    Ge = 10,
    /// Signed less.
    Lt = 11,
    /// Signed greater.
    Gt = 12,
    /// Signed less or equal.
    Le = 13,
    /// Always.
    Al = 14,
}

impl Cond {
    /// Every condition, in encoding order.
    pub const ALL: [Cond; 15] = [
        Cond::Eq,
        Cond::Ne,
        Cond::Hs,
        Cond::Lo,
        Cond::Mi,
        Cond::Pl,
        Cond::Vs,
        Cond::Vc,
        Cond::Hi,
        Cond::Ls,
        Cond::Ge,
        Cond::Lt,
        Cond::Gt,
        Cond::Le,
        Cond::Al,
    ];

    /// The opposite condition (`Al` has none and maps to itself).
    pub fn invert(self) -> Cond {
        if self == Cond::Al {
            return self;
        }
        Cond::ALL[(self as usize) ^ 1]
    }

    /// The assembler suffix (`eq`, `ne`, ...; empty for `Al`).
    pub fn suffix(self) -> &'static str {
        [
            "eq", "ne", "hs", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "",
        ][self as usize]
    }
}

/// What an instruction may do to the condition flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flags {
    /// Must set N, Z (and C, V where the operation defines them): the `s` forms.
    Set,
    /// Must leave the flags unchanged.
    Preserve,
    /// Either; the assembler picks the shortest encoding.
    Any,
}

/// A position in the function, bound once with [`Assembler::bind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label(u32);

/// Why an instruction could not be assembled.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AsmError {
    /// The instruction or operand form does not exist on the profile.
    #[error("{instruction} does not exist on {target}")]
    NotOnProfile {
        /// The instruction.
        instruction: &'static str,
        /// The target.
        target: Target,
    },
    /// An operand that no encoding accepts (register, immediate, combination).
    #[error("{instruction}: {reason}")]
    Operand {
        /// The instruction.
        instruction: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A PC-relative reference that its encoding cannot reach.
    #[error(
        "{what} at offset {at:#x} cannot reach offset {target:#x}: distance {distance} outside {min}..={max}"
    )]
    OutOfRange {
        /// The instruction form.
        what: &'static str,
        /// Offset of the instruction.
        at: u32,
        /// Offset of the target.
        target: u32,
        /// The displacement needed.
        distance: i64,
        /// Smallest displacement the encoding holds.
        min: i64,
        /// Largest displacement the encoding holds.
        max: i64,
    },
    /// A label used by a branch but never bound.
    #[error("label {0} is used but never bound")]
    UnboundLabel(u32),
    /// A label bound twice.
    #[error("label {0} is bound twice")]
    LabelBoundTwice(u32),
    /// Misuse of an IT block.
    #[error("IT block: {0}")]
    ItBlock(&'static str),
    /// The function's code would exceed what a function may hold (16 MiB).
    #[error("function code over 16 MiB")]
    TooLarge,
    /// The code falls through into the literal pool at the end of the function.
    #[error("the function does not end in an unconditional branch but has literals after it")]
    FallsIntoPool,
}

fn operand_error(instruction: &'static str, reason: impl Into<String>) -> AsmError {
    AsmError::Operand {
        instruction,
        reason: reason.into(),
    }
}

/// The largest function the assembler produces: the reach of a wide unconditional branch, so
/// that any branch within a function can be encoded.
pub const MAX_FUNCTION_SIZE: u32 = 16 << 20;

/// The output of [`Assembler::finish`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Assembled {
    /// Machine code, to be placed at a 4-aligned text offset.
    pub code: Vec<u8>,
    /// `bl` sites to patch at layout: offset of the `bl` and its callee.
    pub calls: Vec<(u32, Symbol)>,
    /// Bytes of literal pools (constants, alignment and branches around mid-function pools).
    pub pool_bytes: u32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BranchKind {
    /// `b<c>` T1: +-256.
    CondNarrow,
    /// `b` T2: +-2 KiB.
    Narrow,
    /// `b<c>.w` T3: +-1 MiB.
    CondWide,
    /// `b.w` T4: +-16 MiB.
    Wide,
    /// `bl`: +-16 MiB.
    Link,
    /// `cbz`/`cbnz`: 0..=126 forward.
    CompareZero,
    /// `adr.w`: +-4095 from `Align(PC, 4)`.
    Adr,
}

impl BranchKind {
    fn name(self) -> &'static str {
        match self {
            BranchKind::CondNarrow => "conditional narrow branch",
            BranchKind::Narrow => "narrow branch",
            BranchKind::CondWide => "conditional wide branch",
            BranchKind::Wide => "wide branch",
            BranchKind::Link => "bl",
            BranchKind::CompareZero => "cbz/cbnz",
            BranchKind::Adr => "adr",
        }
    }

    fn range(self) -> (i64, i64) {
        match self {
            BranchKind::CondNarrow => (-256, 254),
            BranchKind::Narrow => (-2048, 2046),
            BranchKind::CondWide => (-(1 << 20), (1 << 20) - 2),
            BranchKind::Wide | BranchKind::Link => (-(1 << 24), (1 << 24) - 2),
            BranchKind::CompareZero => (0, 126),
            BranchKind::Adr => (-4095, 4095),
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Fixup {
    at: u32,
    kind: BranchKind,
    label: Label,
}

/// The assembler for one function (or trampoline).
#[derive(Clone, Debug)]
pub struct Assembler {
    profile: Profile,
    code: Vec<u8>,
    labels: Vec<Option<u32>>,
    fixups: Vec<Fixup>,
    /// Pending `tbh` table entries: `(entry offset, table base, target)`.
    table_entries: Vec<(u32, u32, Label)>,
    pool: pool::LiteralPool,
    /// Instructions left in the current IT block.
    it_remaining: u8,
    scratch: Option<Reg>,
    calls: Vec<(u32, Symbol)>,
    /// Whether the last instruction never falls through (`b`, `bx`, `pop {pc}`, `udf`).
    after_barrier: bool,
    /// Offset of the last instruction emitted.
    last_instruction: u32,
    /// Whether the last instruction was conditional (in an IT block): then it may fall through
    /// even when it is a branch.
    last_conditional: bool,
}

impl Assembler {
    /// An empty function for `profile`, with `r12` as scratch register.
    pub fn new(profile: Profile) -> Assembler {
        Assembler {
            profile,
            code: Vec::new(),
            labels: Vec::new(),
            fixups: Vec::new(),
            table_entries: Vec::new(),
            pool: pool::LiteralPool::default(),
            it_remaining: 0,
            scratch: Some(Reg::R12),
            calls: Vec::new(),
            after_barrier: false,
            last_instruction: 0,
            last_conditional: false,
        }
    }

    /// The profile.
    pub fn profile(&self) -> Profile {
        self.profile
    }

    /// The scratch register fallbacks may clobber (`r12` unless changed).
    pub fn scratch(&self) -> Option<Reg> {
        self.scratch
    }

    /// Sets the scratch register; `None` makes every fallback that needs one an error.
    pub fn set_scratch(&mut self, scratch: Option<Reg>) {
        self.scratch = scratch;
    }

    /// Offset of the next instruction.
    pub fn offset(&self) -> u32 {
        self.code.len() as u32
    }

    /// Offset of the last instruction emitted: where a trap-table entry for a faulting
    /// instruction points (the literal pool may have been emitted just before it, so the offset
    /// before the call is not reliable).
    pub fn last_instruction_offset(&self) -> u32 {
        self.last_instruction
    }

    /// The code emitted so far (pending literals not included).
    pub fn code(&self) -> &[u8] {
        &self.code
    }

    /// Whether an IT block is open.
    pub fn in_it_block(&self) -> bool {
        self.it_remaining > 0
    }

    /// A new, unbound label.
    pub fn new_label(&mut self) -> Label {
        self.labels.push(None);
        Label(self.labels.len() as u32 - 1)
    }

    /// Offset of `label` if bound.
    pub fn label_offset(&self, label: Label) -> Option<u32> {
        self.labels.get(label.0 as usize).copied().flatten()
    }

    /// Binds `label` to the current offset and resolves every branch to it.
    pub fn bind(&mut self, label: Label) -> Result<(), AsmError> {
        if self.in_it_block() {
            return Err(AsmError::ItBlock("a label inside an IT block"));
        }
        let here = self.offset();
        let slot = self
            .labels
            .get_mut(label.0 as usize)
            .ok_or(AsmError::UnboundLabel(label.0))?;
        if slot.is_some() {
            return Err(AsmError::LabelBoundTwice(label.0));
        }
        *slot = Some(here);
        // A label is a join point: code may arrive here by a branch.
        self.after_barrier = false;
        let mut i = 0;
        while i < self.fixups.len() {
            if self.fixups[i].label == label {
                let fixup = self.fixups.swap_remove(i);
                self.patch_branch(fixup.at, fixup.kind, here)?;
            } else {
                i += 1;
            }
        }
        let mut i = 0;
        while i < self.table_entries.len() {
            let (at, base, target) = self.table_entries[i];
            if target == label {
                self.table_entries.swap_remove(i);
                let distance = here as i64 - base as i64;
                if !(0..=2 * 0xFFFF).contains(&distance) {
                    return Err(AsmError::OutOfRange {
                        what: "tbh entry",
                        at,
                        target: here,
                        distance,
                        min: 0,
                        max: 2 * 0xFFFF,
                    });
                }
                self.write16(at, (distance / 2) as u16);
            } else {
                i += 1;
            }
        }
        Ok(())
    }

    /// Emits the pending literals, checks that every used label is bound and returns the code.
    pub fn finish(mut self) -> Result<Assembled, AsmError> {
        if self.in_it_block() {
            return Err(AsmError::ItBlock("the function ends inside an IT block"));
        }
        if let Some(f) = self.fixups.first() {
            return Err(AsmError::UnboundLabel(f.label.0));
        }
        if let Some(&(_, _, label)) = self.table_entries.first() {
            return Err(AsmError::UnboundLabel(label.0));
        }
        if self.pool.has_pending() {
            if !self.after_barrier {
                return Err(AsmError::FallsIntoPool);
            }
            self.emit_pool(false)?;
        }
        if self.code.len() as u64 > MAX_FUNCTION_SIZE as u64 {
            return Err(AsmError::TooLarge);
        }
        Ok(Assembled {
            code: self.code,
            calls: self.calls,
            pool_bytes: self.pool.bytes_emitted,
        })
    }

    // ---- emission ----

    /// Prepares for an instruction of `size` bytes: flushes the literal pool behind a branch if
    /// the instruction could otherwise push it past a deadline, and records where it starts.
    fn begin(&mut self, size: u32) -> Result<(), AsmError> {
        if self.it_remaining == 0 {
            self.flush_pool_if_needed(size)?;
        }
        if self.code.len() as u64 + size as u64 > MAX_FUNCTION_SIZE as u64 {
            return Err(AsmError::TooLarge);
        }
        self.last_instruction = self.offset();
        Ok(())
    }

    fn finish_instruction(&mut self) {
        self.after_barrier = false;
        self.last_conditional = self.it_remaining > 0;
        if self.it_remaining > 0 {
            self.it_remaining -= 1;
        }
    }

    /// Makes room for `bytes` more bytes of code without growing the buffer again.
    pub fn reserve(&mut self, bytes: usize) {
        self.code.reserve(bytes);
    }

    fn emit16(&mut self, hw: u16) -> Result<(), AsmError> {
        self.begin(2)?;
        self.code.extend_from_slice(&hw.to_le_bytes());
        self.finish_instruction();
        Ok(())
    }

    fn emit32(&mut self, hw1: u16, hw2: u16) -> Result<(), AsmError> {
        self.begin(4)?;
        self.code.extend_from_slice(&hw1.to_le_bytes());
        self.code.extend_from_slice(&hw2.to_le_bytes());
        self.finish_instruction();
        Ok(())
    }

    /// Marks the last instruction as one that never falls through, and emits the literal pool
    /// here if its deadline is near (no branch around it is needed).
    fn barrier(&mut self) -> Result<(), AsmError> {
        if self.last_conditional {
            return Ok(());
        }
        self.after_barrier = true;
        if self.it_remaining == 0 && self.pool.should_flush_at_barrier(self.offset()) {
            self.emit_pool(false)?;
            self.after_barrier = true;
        }
        Ok(())
    }

    fn read16(&self, at: u32) -> u16 {
        u16::from_le_bytes([self.code[at as usize], self.code[at as usize + 1]])
    }

    fn write16(&mut self, at: u32, hw: u16) {
        self.code[at as usize..at as usize + 2].copy_from_slice(&hw.to_le_bytes());
    }

    /// Whether a narrow data-processing form (which sets the flags outside an IT block and
    /// preserves them inside one) satisfies `flags`.
    fn narrow_flags_ok(&self, flags: Flags) -> bool {
        match flags {
            Flags::Any => true,
            Flags::Set => !self.in_it_block(),
            Flags::Preserve => self.in_it_block(),
        }
    }

    /// The `S` bit of a wide form for `flags`.
    fn s_bit(flags: Flags) -> u16 {
        u16::from(flags == Flags::Set)
    }

    fn temp_for(&self, instruction: &'static str, avoid: &[Reg]) -> Result<Reg, AsmError> {
        match self.scratch {
            Some(s) if !avoid.contains(&s) => Ok(s),
            Some(s) => Err(operand_error(
                instruction,
                format!("needs the scratch register {s}, which is an operand"),
            )),
            None => Err(operand_error(
                instruction,
                "needs a scratch register and none is configured",
            )),
        }
    }

    // ---- branches ----

    fn encode_branch(
        kind: BranchKind,
        cond: Cond,
        hw1: u16,
        hw2: u16,
        distance: i64,
    ) -> (u16, u16) {
        let d = distance as u32;
        match kind {
            BranchKind::CondNarrow => (0xD000 | (cond as u16) << 8 | ((d >> 1) & 0xFF) as u16, 0),
            BranchKind::Narrow => (0xE000 | ((d >> 1) & 0x7FF) as u16, 0),
            BranchKind::CompareZero => {
                let i = ((d >> 6) & 1) as u16;
                let imm5 = ((d >> 1) & 0x1F) as u16;
                ((hw1 & !0x02F8) | i << 9 | imm5 << 3, 0)
            }
            BranchKind::CondWide => {
                let s = ((d >> 20) & 1) as u16;
                let j2 = ((d >> 19) & 1) as u16;
                let j1 = ((d >> 18) & 1) as u16;
                let imm6 = ((d >> 12) & 0x3F) as u16;
                let imm11 = ((d >> 1) & 0x7FF) as u16;
                (
                    0xF000 | s << 10 | (cond as u16) << 6 | imm6,
                    0x8000 | j1 << 13 | j2 << 11 | imm11,
                )
            }
            BranchKind::Wide | BranchKind::Link => {
                let s = ((d >> 24) & 1) as u16;
                let i1 = ((d >> 23) & 1) as u16;
                let i2 = ((d >> 22) & 1) as u16;
                let j1 = (!(i1 ^ s)) & 1;
                let j2 = (!(i2 ^ s)) & 1;
                let imm10 = ((d >> 12) & 0x3FF) as u16;
                let imm11 = ((d >> 1) & 0x7FF) as u16;
                let link = if kind == BranchKind::Link { 0x4000 } else { 0 };
                (
                    0xF000 | s << 10 | imm10,
                    0x9000 | link | j1 << 13 | j2 << 11 | imm11,
                )
            }
            BranchKind::Adr => {
                // hw1 carries the register; the sign picks ADD (T3) or SUB (T2).
                let rd = (hw2 >> 8) & 0xF;
                let (op, mag) = if distance < 0 {
                    (0xF2AF, (-distance) as u16)
                } else {
                    (0xF20F, distance as u16)
                };
                let _ = hw1;
                (
                    op | ((mag >> 11) & 1) << 10,
                    ((mag >> 8) & 7) << 12 | rd << 8 | (mag & 0xFF),
                )
            }
        }
    }

    /// The displacement a PC-relative branch at `at` needs to reach `target`.
    fn branch_distance(kind: BranchKind, at: u32, target: u32) -> i64 {
        let pc = at as i64 + 4;
        let base = if kind == BranchKind::Adr { pc & !3 } else { pc };
        target as i64 - base
    }

    fn check_range(kind: BranchKind, at: u32, target: u32) -> Result<i64, AsmError> {
        let distance = Self::branch_distance(kind, at, target);
        let (min, max) = kind.range();
        if distance < min || distance > max {
            return Err(AsmError::OutOfRange {
                what: kind.name(),
                at,
                target,
                distance,
                min,
                max,
            });
        }
        Ok(distance)
    }

    fn patch_branch(&mut self, at: u32, kind: BranchKind, target: u32) -> Result<(), AsmError> {
        let distance = Self::check_range(kind, at, target)?;
        let hw1 = self.read16(at);
        let narrow = matches!(
            kind,
            BranchKind::CondNarrow | BranchKind::Narrow | BranchKind::CompareZero
        );
        let hw2 = if narrow { 0 } else { self.read16(at + 2) };
        let cond = match kind {
            BranchKind::CondNarrow => Cond::ALL[((hw1 >> 8) & 0xF) as usize],
            BranchKind::CondWide => Cond::ALL[((hw1 >> 6) & 0xF) as usize],
            _ => Cond::Al,
        };
        let (n1, n2) = Self::encode_branch(kind, cond, hw1, hw2, distance);
        self.write16(at, n1);
        if !narrow {
            self.write16(at + 2, n2);
        }
        Ok(())
    }

    /// Emits a branch of `kind` to `label`: resolved now when bound, else a fixup.
    fn branch_to(
        &mut self,
        kind: BranchKind,
        cond: Cond,
        hw1: u16,
        hw2: u16,
        label: Label,
    ) -> Result<(), AsmError> {
        let narrow = matches!(
            kind,
            BranchKind::CondNarrow | BranchKind::Narrow | BranchKind::CompareZero
        );
        let size = if narrow { 2 } else { 4 };
        // Flush first, so the offset used for the displacement is the final one.
        self.begin(size)?;
        let at = self.offset();
        let target = self.label_offset(label);
        let (n1, n2) = match target {
            Some(t) => {
                let distance = Self::check_range(kind, at, t)?;
                Self::encode_branch(kind, cond, hw1, hw2, distance)
            }
            None => {
                if (label.0 as usize) >= self.labels.len() {
                    return Err(AsmError::UnboundLabel(label.0));
                }
                self.fixups.push(Fixup { at, kind, label });
                Self::encode_branch(kind, cond, hw1, hw2, 0)
            }
        };
        self.code.extend_from_slice(&n1.to_le_bytes());
        if !narrow {
            self.code.extend_from_slice(&n2.to_le_bytes());
        }
        self.finish_instruction();
        Ok(())
    }

    /// `b<cond> label`. A bound (backward) label gets the narrowest encoding that reaches; an
    /// unbound one the wide encoding (+-1 MiB conditional, +-16 MiB unconditional).
    pub fn b(&mut self, cond: Cond, label: Label) -> Result<(), AsmError> {
        self.check_branch_in_it(cond)?;
        let unconditional = cond == Cond::Al || self.in_it_block();
        let (narrow, wide) = if unconditional {
            (BranchKind::Narrow, BranchKind::Wide)
        } else {
            (BranchKind::CondNarrow, BranchKind::CondWide)
        };
        // Flush a due pool first (for the larger size), so the offset the choice is made at is
        // the offset the branch is emitted at.
        if !self.in_it_block() {
            self.flush_pool_if_needed(4)?;
        }
        let kind = match self.label_offset(label) {
            Some(target) if Self::check_range(narrow, self.offset(), target).is_ok() => narrow,
            _ => wide,
        };
        self.branch_to(kind, cond, 0, 0, label)?;
        if cond == Cond::Al {
            self.barrier()?;
        }
        Ok(())
    }

    /// `b<cond>.n label` for a label the caller knows to be near (a forward branch over a few
    /// instructions): 2 bytes. Binding the label out of reach (-256..=254 conditional,
    /// -2048..=2046 unconditional) is an error.
    pub fn b_near(&mut self, cond: Cond, label: Label) -> Result<(), AsmError> {
        self.check_branch_in_it(cond)?;
        let kind = if cond == Cond::Al || self.in_it_block() {
            BranchKind::Narrow
        } else {
            BranchKind::CondNarrow
        };
        self.branch_to(kind, cond, 0, 0, label)?;
        if cond == Cond::Al {
            self.barrier()?;
        }
        Ok(())
    }

    fn check_branch_in_it(&self, cond: Cond) -> Result<(), AsmError> {
        if self.in_it_block() {
            if self.it_remaining != 1 {
                return Err(AsmError::ItBlock("a branch must be the last instruction"));
            }
            if cond != Cond::Al {
                return Err(AsmError::ItBlock(
                    "a branch inside an IT block takes its condition from the IT",
                ));
            }
        }
        Ok(())
    }

    /// `bl label` to a label of this function.
    pub fn bl_label(&mut self, label: Label) -> Result<(), AsmError> {
        self.check_branch_in_it(Cond::Al)?;
        self.branch_to(BranchKind::Link, Cond::Al, 0, 0, label)
    }

    /// `bl` to another piece of the module, patched by the module linker: recorded in
    /// [`Assembled::calls`] with a zero displacement.
    pub fn bl_call(&mut self, callee: Symbol) -> Result<(), AsmError> {
        self.check_branch_in_it(Cond::Al)?;
        self.begin(4)?;
        let at = self.offset();
        self.calls.push((at, callee));
        let (h1, h2) = Self::encode_branch(BranchKind::Link, Cond::Al, 0, 0, 0);
        self.code.extend_from_slice(&h1.to_le_bytes());
        self.code.extend_from_slice(&h2.to_le_bytes());
        self.finish_instruction();
        Ok(())
    }

    /// `cbz rn, label` (`nonzero`: `cbnz`): forward only, 0..=126 bytes past the PC.
    pub fn cbz(&mut self, nonzero: bool, rn: Reg, label: Label) -> Result<(), AsmError> {
        let name = if nonzero { "cbnz" } else { "cbz" };
        if self.in_it_block() {
            return Err(AsmError::ItBlock("cbz/cbnz is not allowed in an IT block"));
        }
        if !rn.is_low() {
            return Err(operand_error(name, format!("{rn} is not a low register")));
        }
        if let Some(target) = self.label_offset(label) {
            return Err(AsmError::OutOfRange {
                what: BranchKind::CompareZero.name(),
                at: self.offset(),
                target,
                distance: Self::branch_distance(BranchKind::CompareZero, self.offset(), target),
                min: 0,
                max: 126,
            });
        }
        let hw1 = 0xB100 | u16::from(nonzero) << 11 | rn.n();
        self.branch_to(BranchKind::CompareZero, Cond::Al, hw1, 0, label)
    }

    /// `bx rm`.
    pub fn bx(&mut self, rm: Reg) -> Result<(), AsmError> {
        self.check_branch_in_it(Cond::Al)?;
        self.emit16(0x4700 | rm.n() << 3)?;
        self.barrier()
    }

    /// `blx rm`.
    pub fn blx(&mut self, rm: Reg) -> Result<(), AsmError> {
        self.check_branch_in_it(Cond::Al)?;
        if rm == Reg::PC {
            return Err(operand_error("blx", "pc is not allowed"));
        }
        self.emit16(0x4780 | rm.n() << 3)
    }

    /// `adr rd, label` (wide, +-4095 from `Align(PC, 4)`).
    pub fn adr(&mut self, rd: Reg, label: Label) -> Result<(), AsmError> {
        if rd == Reg::SP || rd == Reg::PC {
            return Err(operand_error("adr", format!("{rd} is not allowed")));
        }
        self.branch_to(BranchKind::Adr, Cond::Al, 0, rd.n() << 8, label)
    }

    /// `it<pattern> first`: the next `1 + then_else.len()` instructions (at most 4) are
    /// conditional; `then_else[i]` is true for a `t` (condition `first`), false for an `e`
    /// (the inverse).
    pub fn it(&mut self, first: Cond, then_else: &[bool]) -> Result<(), AsmError> {
        if self.in_it_block() {
            return Err(AsmError::ItBlock("IT inside an IT block"));
        }
        if then_else.len() > 3 {
            return Err(AsmError::ItBlock("at most 4 instructions"));
        }
        if first == Cond::Al && then_else.iter().any(|t| !t) {
            return Err(AsmError::ItBlock("AL has no else"));
        }
        let fc0 = first as u16 & 1;
        let mut mask = 0u16;
        for (i, &then) in then_else.iter().enumerate() {
            let bit = if then { fc0 } else { fc0 ^ 1 };
            mask |= bit << (3 - i);
        }
        mask |= 1 << (3 - then_else.len());
        // Make room for the whole block: no pool may be emitted inside it.
        self.flush_pool_if_needed(2 + 4 * (then_else.len() as u32 + 1))?;
        self.emit16(0xBF00 | (first as u16) << 4 | mask)?;
        self.it_remaining = then_else.len() as u8 + 1;
        Ok(())
    }

    /// `tbh [pc, index, lsl #1]` followed by its table: jumps to `targets[index]`. Targets must
    /// be forward (not yet bound) and at most 128 KiB past the table; the caller bounds the
    /// index. The table is data: no pool goes inside it, and after it nothing falls through.
    pub fn tbh(&mut self, index: Reg, targets: &[Label]) -> Result<(), AsmError> {
        if index == Reg::SP || index == Reg::PC {
            return Err(operand_error(
                "tbh",
                format!("{index} as index is not allowed"),
            ));
        }
        if self.in_it_block() {
            return Err(AsmError::ItBlock("tbh with its table in an IT block"));
        }
        if targets.is_empty() {
            return Err(operand_error("tbh", "empty table"));
        }
        for &label in targets {
            match self.labels.get(label.0 as usize) {
                None => return Err(AsmError::UnboundLabel(label.0)),
                Some(Some(target)) => {
                    return Err(AsmError::OutOfRange {
                        what: "tbh entry",
                        at: self.offset(),
                        target: *target,
                        distance: *target as i64 - (self.offset() as i64 + 4),
                        min: 0,
                        max: 2 * 0xFFFF,
                    });
                }
                Some(None) => {}
            }
        }
        let size = 4 + 2 * targets.len() as u32;
        self.begin(size)?;
        let base = self.offset() + 4;
        self.code.extend_from_slice(&0xE8DFu16.to_le_bytes());
        self.code
            .extend_from_slice(&(0xF010 | index.n()).to_le_bytes());
        for (i, &label) in targets.iter().enumerate() {
            self.table_entries.push((base + 2 * i as u32, base, label));
            self.code.extend_from_slice(&[0, 0]);
        }
        self.finish_instruction();
        self.barrier()
    }

    /// `udf #imm8` (narrow).
    pub fn udf(&mut self, imm: u8) -> Result<(), AsmError> {
        self.emit16(0xDE00 | imm as u16)?;
        self.barrier()
    }

    /// `udf.w #imm16`.
    pub fn udf_w(&mut self, imm: u16) -> Result<(), AsmError> {
        self.emit32(0xF7F0 | imm >> 12, 0xA000 | (imm & 0xFFF))?;
        self.barrier()
    }

    /// `svc #imm8` (supervisor call; used by test harnesses running code under Linux).
    pub fn svc(&mut self, imm: u8) -> Result<(), AsmError> {
        self.emit16(0xDF00 | imm as u16)
    }

    /// `nop`.
    pub fn nop(&mut self) -> Result<(), AsmError> {
        self.emit16(0xBF00)
    }

    /// `bkpt #imm8`.
    pub fn bkpt(&mut self, imm: u8) -> Result<(), AsmError> {
        self.emit16(0xBE00 | imm as u16)
    }

    /// `push {list}`: narrow for `r0`-`r7` and `lr`, else `stmdb sp!` (or `str rt, [sp, #-4]!`
    /// for a single register).
    pub fn push(&mut self, list: RegList) -> Result<(), AsmError> {
        if list.is_empty() {
            return Err(operand_error("push", "empty register list"));
        }
        if list.0 & 0x40FF == list.0 {
            let m = u16::from(list.contains(Reg::LR));
            return self.emit16(0xB400 | m << 8 | (list.0 & 0xFF));
        }
        if list.contains(Reg::SP) || list.contains(Reg::PC) {
            return Err(operand_error("push", "sp and pc cannot be pushed"));
        }
        if list.len() == 1 {
            let rt = list.0.trailing_zeros() as u16;
            return self.emit32(0xF84D, rt << 12 | 0x0D04);
        }
        self.emit32(0xE92D, list.0)
    }

    /// `pop {list}`: narrow for `r0`-`r7` and `pc`, else `ldmia sp!` (or `ldr rt, [sp], #4`).
    /// Popping `pc` ends the instruction stream like a branch.
    pub fn pop(&mut self, list: RegList) -> Result<(), AsmError> {
        if list.is_empty() {
            return Err(operand_error("pop", "empty register list"));
        }
        let returns = list.contains(Reg::PC);
        if returns {
            self.check_branch_in_it(Cond::Al)?;
        }
        if list.0 & 0x80FF == list.0 {
            let p = u16::from(returns);
            self.emit16(0xBC00 | p << 8 | (list.0 & 0xFF))?;
        } else if list.contains(Reg::SP) {
            return Err(operand_error("pop", "sp cannot be popped"));
        } else if list.contains(Reg::LR) && returns {
            return Err(operand_error("pop", "lr and pc cannot both be popped"));
        } else if list.len() == 1 {
            let rt = list.0.trailing_zeros() as u16;
            self.emit32(0xF85D, rt << 12 | 0x0B04)?;
        } else {
            self.emit32(0xE8BD, list.0)?;
        }
        if returns { self.barrier() } else { Ok(()) }
    }
}
