//! The per-function literal pool: constants loaded PC-relatively by `ldr`, `ldrd` and `vldr`.
//!
//! A load is emitted with a zero displacement and recorded as a *use* of a pending *entry*;
//! the entries are placed together (4-aligned, in order of first use) when the pool is emitted,
//! and every use is patched then. The *deadline* of a use is the last offset at which its entry
//! may be placed: `Align(PC, 4) + reach`, with reach 1020 for narrow `ldr` (forward only),
//! `ldrd` and `vldr`, and 4095 for wide `ldr`. See invariant 4 of the assembler for when the
//! pool is emitted; its consequence is that every use is in range when it is patched, which
//! `place` still checks (an error, not a panic, should that reasoning ever be wrong).

use super::fp::FReg;
use super::{AsmError, Assembler, Reg, operand_error};

/// How a literal is loaded, which decides its reach and how the use is patched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LoadKind {
    /// `ldr rt, [pc, #imm8*4]` (low `rt`, forward only, 0..=1020).
    LdrNarrow,
    /// `ldr.w rt, [pc, #+-imm12]`.
    LdrWide,
    /// `ldrd rt, rt2, [pc, #+-imm8*4]`.
    Ldrd,
    /// `vldr sd/dd, [pc, #+-imm8*4]`.
    Vldr,
}

impl LoadKind {
    fn range(self) -> (i64, i64) {
        match self {
            LoadKind::LdrNarrow => (0, 1020),
            LoadKind::LdrWide => (-4095, 4095),
            LoadKind::Ldrd | LoadKind::Vldr => (-1020, 1020),
        }
    }

    fn name(self) -> &'static str {
        match self {
            LoadKind::LdrNarrow => "narrow ldr literal",
            LoadKind::LdrWide => "ldr.w literal",
            LoadKind::Ldrd => "ldrd literal",
            LoadKind::Vldr => "vldr literal",
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    value: u64,
    size: u32,
}

#[derive(Clone, Copy, Debug)]
struct Use {
    at: u32,
    kind: LoadKind,
    entry: usize,
}

/// Pending and placed literals of one function.
#[derive(Clone, Debug, Default)]
pub(super) struct LiteralPool {
    pending: Vec<Entry>,
    uses: Vec<Use>,
    /// Constants already placed: `(value, size, offset)`, for backward reuse.
    placed: Vec<(u64, u32, u32)>,
    /// Bytes of pools emitted: constants, alignment and branches around them.
    pub(super) bytes_emitted: u32,
}

/// Room kept for one more entry added by the instruction after a check.
const ENTRY_MARGIN: u32 = 8;
/// A branch around the pool (wide) plus alignment.
const BRANCH_AND_ALIGN: u32 = 4 + 2;
/// At an unconditional branch, the pool is emitted when its deadline is this close.
const BARRIER_THRESHOLD: u32 = 512;

impl LiteralPool {
    pub(super) fn has_pending(&self) -> bool {
        !self.uses.is_empty()
    }

    fn pending_size(&self) -> u32 {
        self.pending.iter().map(|e| e.size).sum()
    }

    fn deadline(u: &Use) -> u32 {
        (((u.at + 4) & !3) as i64 + u.kind.range().1) as u32
    }

    fn earliest_deadline(&self) -> Option<u32> {
        self.uses.iter().map(Self::deadline).min()
    }

    pub(super) fn should_flush_at_barrier(&self, offset: u32) -> bool {
        match self.earliest_deadline() {
            Some(d) => offset + 2 + self.pending_size() + BARRIER_THRESHOLD > d,
            None => false,
        }
    }
}

impl Assembler {
    /// Emits the pool before an instruction of `size` bytes if waiting longer could carry the
    /// pool past the earliest deadline (invariant 4).
    pub(super) fn flush_pool_if_needed(&mut self, size: u32) -> Result<(), AsmError> {
        if let Some(deadline) = self.pool.earliest_deadline() {
            let end =
                self.offset() + size + BRANCH_AND_ALIGN + self.pool.pending_size() + ENTRY_MARGIN;
            if end > deadline {
                let with_branch = !self.after_barrier;
                self.emit_pool(with_branch)?;
            }
        }
        Ok(())
    }

    /// Places every pending constant here (behind a branch over them when `with_branch`) and
    /// patches their uses.
    pub(super) fn emit_pool(&mut self, with_branch: bool) -> Result<(), AsmError> {
        let start = self.offset();
        let total = self.pool.pending_size();
        let branch_at = self.offset();
        // The branch target is at most `total + 2` past the branch's PC.
        let narrow_branch = total + 2 <= 2046;
        if with_branch {
            let placeholder: &[u8] = if narrow_branch {
                &[0, 0]
            } else {
                &[0, 0, 0, 0]
            };
            self.code.extend_from_slice(placeholder);
        }
        while !self.code.len().is_multiple_of(4) {
            self.code.extend_from_slice(&[0, 0]);
        }
        let mut offsets = Vec::with_capacity(self.pool.pending.len());
        for e in &self.pool.pending {
            let at = self.code.len() as u32;
            offsets.push(at);
            self.code
                .extend_from_slice(&e.value.to_le_bytes()[..e.size as usize]);
            self.pool.placed.push((e.value, e.size, at));
        }
        let uses = std::mem::take(&mut self.pool.uses);
        self.pool.pending.clear();
        for u in uses {
            self.patch_literal(u.at, u.kind, offsets[u.entry])?;
        }
        if with_branch {
            let kind = if narrow_branch {
                super::BranchKind::Narrow
            } else {
                super::BranchKind::Wide
            };
            let here = self.offset();
            self.patch_branch(branch_at, kind, here)?;
        }
        self.pool.bytes_emitted += self.offset() - start;
        Ok(())
    }

    fn patch_literal(&mut self, at: u32, kind: LoadKind, target: u32) -> Result<(), AsmError> {
        let base = (at + 4) & !3;
        let distance = target as i64 - base as i64;
        let (min, max) = kind.range();
        if distance < min || distance > max || distance % 4 != 0 && kind != LoadKind::LdrWide {
            return Err(AsmError::OutOfRange {
                what: kind.name(),
                at,
                target,
                distance,
                min,
                max,
            });
        }
        let hw1 = self.read16(at);
        let magnitude = distance.unsigned_abs() as u16;
        let u = u16::from(distance >= 0) << 7;
        match kind {
            LoadKind::LdrNarrow => self.write16(at, (hw1 & 0xFF00) | (magnitude / 4)),
            LoadKind::LdrWide => {
                let hw2 = self.read16(at + 2);
                self.write16(at, (hw1 & !0x80) | u);
                self.write16(at + 2, (hw2 & 0xF000) | magnitude);
            }
            LoadKind::Ldrd | LoadKind::Vldr => {
                let hw2 = self.read16(at + 2);
                self.write16(at, (hw1 & !0x80) | u);
                self.write16(at + 2, (hw2 & 0xFF00) | (magnitude / 4));
            }
        }
        Ok(())
    }

    /// Records a use of the constant `value` (`size` 4 or 8) by the load about to be emitted at
    /// the current offset: reuses a placed constant within backward reach (returning its
    /// offset) or a pending one, or adds an entry.
    fn literal_use(&mut self, kind: LoadKind, value: u64, size: u32) -> Option<u32> {
        let at = self.offset();
        let base = ((at + 4) & !3) as i64;
        let (min, _) = kind.range();
        if let Some(&(_, _, offset)) = self
            .pool
            .placed
            .iter()
            .rev()
            .find(|(v, s, o)| *v == value && *s == size && *o as i64 - base >= min)
        {
            return Some(offset);
        }
        let entry = match self
            .pool
            .pending
            .iter()
            .position(|e| e.value == value && e.size == size)
        {
            Some(i) => i,
            None => {
                self.pool.pending.push(Entry { value, size });
                self.pool.pending.len() - 1
            }
        };
        self.pool.uses.push(Use { at, kind, entry });
        None
    }

    /// Emits a literal load: `hw1`/`hw2` with a zero displacement (`hw2` ignored when narrow),
    /// then resolves it against an earlier constant or records the use.
    fn literal_load(
        &mut self,
        kind: LoadKind,
        hw1: u16,
        hw2: u16,
        value: u64,
        size: u32,
    ) -> Result<(), AsmError> {
        let narrow = kind == LoadKind::LdrNarrow;
        // Flush first, then record the use and emit with no further check, so that the offset
        // the use is recorded at is the instruction's.
        self.begin(if narrow { 2 } else { 4 })?;
        let at = self.offset();
        let placed = self.literal_use(kind, value, size);
        self.code.extend_from_slice(&hw1.to_le_bytes());
        if !narrow {
            self.code.extend_from_slice(&hw2.to_le_bytes());
        }
        self.finish_instruction();
        if let Some(target) = placed {
            self.patch_literal(at, kind, target)?;
        }
        Ok(())
    }

    /// `ldr rt, =value`: loads a 32-bit constant from the literal pool.
    pub fn ldr_literal(&mut self, rt: Reg, value: u32) -> Result<(), AsmError> {
        if rt == Reg::SP || rt == Reg::PC {
            return Err(operand_error(
                "ldr",
                format!("{rt} as data register is not allowed"),
            ));
        }
        if rt.is_low() && !self.placed_in_reach(LoadKind::LdrWide, value as u64, 4) {
            return self.literal_load(
                LoadKind::LdrNarrow,
                0x4800 | rt.n() << 8,
                0,
                value as u64,
                4,
            );
        }
        self.literal_load(LoadKind::LdrWide, 0xF8DF, rt.n() << 12, value as u64, 4)
    }

    /// Whether a load of `kind` emitted now could reuse a constant placed behind it. A narrow
    /// `ldr` reaches forward only: when a wide one could reuse a constant, the wide one (4 bytes)
    /// is smaller than the narrow one plus a new entry (2 + 4 bytes).
    fn placed_in_reach(&self, kind: LoadKind, value: u64, size: u32) -> bool {
        let base = ((self.offset() + 4) & !3) as i64;
        let (min, _) = kind.range();
        self.pool
            .placed
            .iter()
            .any(|(v, s, o)| *v == value && *s == size && *o as i64 - base >= min)
    }

    /// `ldrd rt, rt2, =value`: `rt` gets the low word, `rt2` the high word.
    pub fn ldrd_literal(&mut self, rt: Reg, rt2: Reg, value: u64) -> Result<(), AsmError> {
        for r in [rt, rt2] {
            if r == Reg::SP || r == Reg::PC {
                return Err(operand_error(
                    "ldrd",
                    format!("{r} as data register is not allowed"),
                ));
            }
        }
        if rt == rt2 {
            return Err(operand_error("ldrd", "the two data registers must differ"));
        }
        self.literal_load(
            LoadKind::Ldrd,
            0xE9DF,
            rt.n() << 12 | rt2.n() << 8,
            value,
            8,
        )
    }

    /// `vldr sd, =bits` / `vldr dd, =bits`: a float constant (its bit pattern) from the pool.
    pub fn vldr_literal(&mut self, fd: FReg, bits: u64) -> Result<(), AsmError> {
        let (d, vd, size) = fd.fields();
        let (value, bytes) = if size == 1 {
            (bits, 8)
        } else {
            (bits & 0xFFFF_FFFF, 4)
        };
        self.literal_load(
            LoadKind::Vldr,
            0xED1F | d << 6,
            vd << 12 | 0xA00 | size << 8,
            value,
            bytes,
        )
    }
}
