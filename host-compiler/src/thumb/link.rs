//! The Thumb-2 text-section builder: lays out functions for [`crate::link::lay_out`] and resolves
//! every `bl` between them, directly or through a veneer (DESIGN.md section 10).
//!
//! # Vocabulary
//!
//! As in [`crate::link`]: a *call* is a `bl` at a text offset naming a label (a placed or
//! future piece) plus an addend (a function's instance entry is skipped by direct calls); its
//! *reach* is +-16 MiB from its PC (the `bl`'s address + 4). A *veneer* is 12 bytes,
//!
//! ```text
//!     movw ip, #:lower16:d
//!     movt ip, #:upper16:d          ; d = (target + 1) - (address of the add + 4)
//!     add  ip, pc
//!     bx   ip
//! ```
//!
//! position independent, reaching +-2 GiB and clobbering only r12. An *island* is a run of
//! veneers placed between two pieces.
//!
//! # Invariants
//!
//! 1. **A call is patched directly when its target is placed and within reach**; otherwise it
//!    is patched to a veneer in an island, never left unresolved (`finish` fails loudly rather
//!    than emit a call to nowhere: [`ThumbTextBuilder::finish`] panics only on a violated
//!    `lay_out` contract, which `lay_out` itself rules out).
//! 2. **Deadlines**: a forward call whose target is not placed yet must get its veneer before the
//!    text passes `call PC + 16 MiB - 2`. Before each append the builder emits an island if the
//!    piece (plus its alignment and the worst-case island) could carry the text past the earliest
//!    deadline; the island takes every call whose deadline that append endangers.
//! 3. **Backward calls out of reach** (the callee is more than 16 MiB behind) get a veneer in an
//!    island right after the calling piece: the piece is at most 16 MiB (the assembler's limit),
//!    so the island is in reach.
//! 4. **Veneer targets** are patched when the target is placed (or immediately when it already
//!    is); the text is below 2 GiB, so a veneer always reaches.
//! 5. Islands and padding only go *between* pieces, so piece offsets, call sites and trap sites
//!    recorded by `lay_out` stay valid; every piece and veneer is 4-aligned.

use crate::link::TextBuilder;

/// The relocation the Thumb backend emits: a `bl` to another piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThumbReloc {
    /// `bl` (T1 encoding, +-16 MiB) at the relocation offset.
    Call,
}

/// Largest forward displacement of `bl`.
const BL_MAX: i64 = (1 << 24) - 2;
/// Smallest (backward) displacement of `bl`.
const BL_MIN: i64 = -(1 << 24);
/// Size of a veneer.
pub const VENEER_SIZE: u64 = 12;

#[derive(Clone, Copy, Debug)]
struct Call {
    /// Text offset of the `bl`.
    at: u64,
    label: usize,
    addend: i64,
}

#[derive(Clone, Copy, Debug)]
struct Veneer {
    /// Text offset of the veneer.
    at: u64,
    label: usize,
    addend: i64,
}

/// Builds the text of a Thumb image (see the module docs).
#[derive(Debug)]
pub struct ThumbTextBuilder {
    text: Vec<u8>,
    labels: Vec<Option<u64>>,
    next_label: usize,
    /// Calls whose target is not placed yet, and backward calls out of reach.
    pending: Vec<Call>,
    /// Veneers whose target is not placed yet.
    veneers: Vec<Veneer>,
    /// Veneers emitted.
    pub veneer_count: usize,
}

impl ThumbTextBuilder {
    /// A builder for `labels` labeled pieces (one per piece, in `lay_out` order).
    pub fn new(labels: usize) -> ThumbTextBuilder {
        ThumbTextBuilder {
            text: Vec::new(),
            labels: vec![None; labels],
            next_label: 0,
            pending: Vec::new(),
            veneers: Vec::new(),
            veneer_count: 0,
        }
    }

    fn deadline(call: &Call) -> u64 {
        (call.at as i64 + 4 + BL_MAX) as u64
    }

    fn write_bl(&mut self, at: u64, target: u64) -> bool {
        let d = target as i64 - (at as i64 + 4);
        if !(BL_MIN..=BL_MAX).contains(&d) {
            return false;
        }
        let d = d as u32;
        let s = (d >> 24) & 1;
        let j1 = (!(((d >> 23) & 1) ^ s)) & 1;
        let j2 = (!(((d >> 22) & 1) ^ s)) & 1;
        let hw1 = (0xF000 | s << 10 | ((d >> 12) & 0x3FF)) as u16;
        let hw2 = (0xD000 | j1 << 13 | j2 << 11 | ((d >> 1) & 0x7FF)) as u16;
        let at = at as usize;
        self.text[at..at + 2].copy_from_slice(&hw1.to_le_bytes());
        self.text[at + 2..at + 4].copy_from_slice(&hw2.to_le_bytes());
        true
    }

    /// Writes veneer `at`'s displacement to `target`.
    fn write_veneer(&mut self, at: u64, target: u64) {
        // The add is the third instruction; its PC reads as its address + 4.
        let d = (target as i64 + 1 - (at as i64 + 8 + 4)) as u32;
        let (lo, hi) = ((d & 0xFFFF) as u16, (d >> 16) as u16);
        let words = [move_wide(0xF240, lo), move_wide(0xF2C0, hi)];
        let at = at as usize;
        for (i, (hw1, hw2)) in words.into_iter().enumerate() {
            self.text[at + 4 * i..at + 4 * i + 2].copy_from_slice(&hw1.to_le_bytes());
            self.text[at + 4 * i + 2..at + 4 * i + 4].copy_from_slice(&hw2.to_le_bytes());
        }
        // add ip, pc; bx ip
        self.text[at + 8..at + 10].copy_from_slice(&0x44FCu16.to_le_bytes());
        self.text[at + 10..at + 12].copy_from_slice(&0x4760u16.to_le_bytes());
    }

    fn align(&mut self, align: u64) {
        let aligned = (self.text.len() as u64).next_multiple_of(align.max(4));
        self.text.resize(aligned as usize, 0);
    }

    /// Emits an island with a veneer for every pending call that `through` endangers (its
    /// deadline is before `through`), or for every pending call when `all`.
    fn island(&mut self, through: u64, all: bool) {
        let (endangered, kept): (Vec<Call>, Vec<Call>) = std::mem::take(&mut self.pending)
            .into_iter()
            .partition(|c| all || Self::deadline(c) < through || self.labels[c.label].is_some());
        self.pending = kept;
        if endangered.is_empty() {
            return;
        }
        self.align(4);
        // One veneer per (label, addend) in this island.
        let mut made: Vec<(usize, i64, u64)> = Vec::new();
        for call in endangered {
            let veneer = match made
                .iter()
                .find(|(l, a, _)| *l == call.label && *a == call.addend)
            {
                Some(&(_, _, at)) => at,
                None => {
                    let at = self.text.len() as u64;
                    self.text.resize((at + VENEER_SIZE) as usize, 0);
                    self.veneer_count += 1;
                    match self.labels[call.label] {
                        Some(target) => self.write_veneer(at, (target as i64 + call.addend) as u64),
                        None => self.veneers.push(Veneer {
                            at,
                            label: call.label,
                            addend: call.addend,
                        }),
                    }
                    made.push((call.label, call.addend, at));
                    at
                }
            };
            let patched = self.write_bl(call.at, veneer);
            debug_assert!(patched, "island placed out of reach of its call");
        }
    }

    /// Worst-case size of an island for the pending calls.
    fn island_bound(&self) -> u64 {
        4 + VENEER_SIZE * self.pending.len() as u64
    }
}

/// The two halfwords of `movw`/`movt ip, #imm16`.
fn move_wide(base: u16, imm: u16) -> (u16, u16) {
    (
        base | ((imm >> 11) & 1) << 10 | imm >> 12,
        ((imm >> 8) & 7) << 12 | 12 << 8 | (imm & 0xFF),
    )
}

impl TextBuilder for ThumbTextBuilder {
    type RelocKind = ThumbReloc;

    fn append(&mut self, labeled: bool, data: &[u8], align: u32) -> u64 {
        // Invariant 3: backward calls out of reach from the previous piece, right behind it.
        if self.pending.iter().any(|c| self.labels[c.label].is_some()) {
            let end = self.text.len() as u64;
            self.island(end, false);
        }
        // Invariant 2.
        if let Some(deadline) = self.pending.iter().map(Self::deadline).min() {
            let end = self.text.len() as u64 + align as u64 + data.len() as u64;
            if end + self.island_bound() > deadline {
                self.island(end + self.island_bound(), false);
            }
        }
        self.align(align as u64);
        let offset = self.text.len() as u64;
        self.text.extend_from_slice(data);
        if labeled {
            let label = self.next_label;
            self.next_label += 1;
            self.labels[label] = Some(offset);
            // Calls and veneers waiting for this piece.
            let waiting: Vec<Call> = self
                .pending
                .iter()
                .copied()
                .filter(|c| c.label == label)
                .collect();
            self.pending.retain(|c| c.label != label);
            for call in waiting {
                let target = (offset as i64 + call.addend) as u64;
                if !self.write_bl(call.at, target) {
                    // Cannot happen (forward calls get veneers before their deadline); keep the
                    // call pending so the next island routes it.
                    self.pending.push(call);
                }
            }
            let veneers: Vec<Veneer> = self
                .veneers
                .iter()
                .copied()
                .filter(|v| v.label == label)
                .collect();
            self.veneers.retain(|v| v.label != label);
            for veneer in veneers {
                self.write_veneer(veneer.at, (offset as i64 + veneer.addend) as u64);
            }
        }
        offset
    }

    fn resolve(&mut self, offset: u64, kind: ThumbReloc, addend: i64, label: usize) -> bool {
        let ThumbReloc::Call = kind;
        if label >= self.labels.len() || offset + 4 > self.text.len() as u64 {
            return false;
        }
        let call = Call {
            at: offset,
            label,
            addend,
        };
        let placed = self.labels[label];
        match placed {
            Some(target) if self.write_bl(offset, (target as i64 + addend) as u64) => {}
            // Placed but out of reach (backward), or not placed yet: the veneer goes in an
            // island after this piece, which must still be in reach (a piece can only be too
            // big for that if it is nearly 16 MiB).
            _ => {
                let island_end = self.text.len() as u64 + self.island_bound() + VENEER_SIZE;
                if island_end > Self::deadline(&call) {
                    return false;
                }
                self.pending.push(call);
            }
        }
        true
    }

    fn finish(&mut self) -> Vec<u8> {
        let end = self.text.len() as u64;
        self.island(end, true);
        assert!(
            self.veneers.is_empty(),
            "lay_out contract: every label is placed before finish"
        );
        std::mem::take(&mut self.text)
    }
}

#[cfg(test)]
mod tests {
    use shared_types::TrapCode;

    use super::*;
    use crate::link::{CallReloc, CompiledCode, Symbol, lay_out};

    /// A function of `len` bytes (4-aligned) calling `callees` with `bl`s at its start.
    fn piece(index: u32, callees: &[u32], len: usize) -> CompiledCode<ThumbReloc> {
        let mut bytes = vec![0u8; len.max(4 * callees.len())];
        // Recognisable filler: `nop`s.
        for hw in bytes.chunks_mut(2) {
            hw.copy_from_slice(&0xBF00u16.to_le_bytes());
        }
        CompiledCode {
            symbol: Symbol::Function(index),
            func_index: index,
            bytes,
            align: 4,
            relocs: callees
                .iter()
                .enumerate()
                .map(|(i, &callee)| CallReloc {
                    offset: 4 * i as u32,
                    kind: ThumbReloc::Call,
                    addend: 0,
                    target: Symbol::Function(callee),
                })
                .collect(),
            traps: vec![(0, TrapCode::Unreachable)],
        }
    }

    fn halfword(text: &[u8], at: u64) -> u32 {
        u16::from_le_bytes([text[at as usize], text[at as usize + 1]]) as u32
    }

    /// Where the `bl` at `at` goes.
    fn bl_target(text: &[u8], at: u64) -> u64 {
        let (hw1, hw2) = (halfword(text, at), halfword(text, at + 2));
        assert_eq!((hw1 & 0xF800, hw2 & 0xD000), (0xF000, 0xD000), "not a bl");
        let s = (hw1 >> 10) & 1;
        let i1 = !((hw2 >> 13) & 1 ^ s) & 1;
        let i2 = !((hw2 >> 11) & 1 ^ s) & 1;
        let imm = s << 24 | i1 << 23 | i2 << 22 | (hw1 & 0x3FF) << 12 | (hw2 & 0x7FF) << 1;
        let d = ((imm << 7) as i32 >> 7) as i64;
        (at as i64 + 4 + d) as u64
    }

    /// Where control ends up from the `bl` at `at`: the target itself or, through a veneer,
    /// the veneer's target. Also returns whether a veneer was used.
    fn final_target(text: &[u8], at: u64) -> (u64, bool) {
        let t = bl_target(text, at);
        if halfword(text, t) & 0xFBF0 == 0xF240 {
            // movw/movt ip; add ip, pc; bx ip
            let imm16 = |at: u64| {
                let (hw1, hw2) = (halfword(text, at), halfword(text, at + 2));
                (hw1 & 0xF) << 12 | ((hw1 >> 10) & 1) << 11 | ((hw2 >> 12) & 7) << 8 | (hw2 & 0xFF)
            };
            assert_eq!(halfword(text, t + 4) & 0xFBF0, 0xF2C0);
            assert_eq!(halfword(text, t + 8), 0x44FC);
            assert_eq!(halfword(text, t + 10), 0x4760);
            let d = (imm16(t) | imm16(t + 4) << 16) as i32 as i64;
            let destination = t as i64 + 12 + d;
            assert_eq!(destination & 1, 1, "Thumb bit");
            return ((destination - 1) as u64, true);
        }
        (t, false)
    }

    #[test]
    fn near_calls_are_direct() {
        let pieces = vec![
            piece(0, &[1, 2], 64),
            piece(1, &[0, 2], 64),
            piece(2, &[2], 64),
        ];
        let layout = lay_out(ThumbTextBuilder::new(3), &pieces, 0).unwrap();
        let at = |i| layout.offset_of(Symbol::Function(i)).unwrap() as u64;
        assert_eq!(final_target(&layout.text, at(0)), (at(1), false));
        assert_eq!(final_target(&layout.text, at(0) + 4), (at(2), false));
        assert_eq!(final_target(&layout.text, at(1)), (at(0), false));
        assert_eq!(final_target(&layout.text, at(2)), (at(2), false));
        assert_eq!(layout.overhead_bytes(), 0);
    }

    #[test]
    fn far_calls_go_through_veneers_both_ways() {
        // 9 MiB of padding between functions: 0 -> 2 and 2 -> 0 are 18 MiB apart.
        let pad = 9 << 20;
        let pieces = vec![
            piece(0, &[1, 2, 2], 64),
            piece(1, &[0], 64),
            piece(2, &[0, 1, 2], 64),
        ];
        let layout = lay_out(ThumbTextBuilder::new(3), &pieces, pad).unwrap();
        let at = |i| layout.offset_of(Symbol::Function(i)).unwrap() as u64;
        let text = &layout.text;
        assert_eq!(final_target(text, at(0)), (at(1), false));
        let (to2, veneered) = final_target(text, at(0) + 4);
        assert_eq!((to2, veneered), (at(2), true));
        // The two calls 0 -> 2 share one veneer.
        assert_eq!(bl_target(text, at(0) + 4), bl_target(text, at(0) + 8));
        assert_eq!(final_target(text, at(1)), (at(0), false));
        assert_eq!(final_target(text, at(2)), (at(0), true));
        assert_eq!(final_target(text, at(2) + 4), (at(1), false));
        assert_eq!(final_target(text, at(2) + 8), (at(2), false));
        // Veneers are the only overhead.
        assert!(layout.overhead_bytes() >= 2 * VENEER_SIZE);
        assert!(layout.overhead_bytes() < 4 * VENEER_SIZE + 16);
        // Trap sites stay where the pieces put them.
        assert!(
            layout
                .traps
                .iter()
                .all(|t| [at(0), at(1), at(2)].contains(&(t.offset as u64)))
        );
    }

    #[test]
    fn chains_of_far_forward_calls_meet_every_deadline() {
        // Each function calls the next two and the first; pieces are 9 MiB apart, so calls
        // two ahead (18 MiB) need veneers placed before their deadlines, in islands between
        // pieces, and calls back to the first from the third on need veneers after the caller.
        let n = 6;
        let pieces: Vec<_> = (0..n)
            .map(|i| piece(i, &[(i + 1) % n, (i + 2) % n, 0], 32))
            .collect();
        let layout = lay_out(ThumbTextBuilder::new(n as usize), &pieces, 9 << 20).unwrap();
        let at = |i: u32| layout.offset_of(Symbol::Function(i)).unwrap() as u64;
        let mut veneered = 0;
        for i in 0..n {
            for (k, callee) in [(i + 1) % n, (i + 2) % n, 0].into_iter().enumerate() {
                let (target, through_veneer) = final_target(&layout.text, at(i) + 4 * k as u64);
                assert_eq!(target, at(callee), "call {k} of function {i}");
                let distance = at(callee).abs_diff(at(i));
                assert_eq!(
                    through_veneer,
                    distance > 16 << 20,
                    "call {k} of function {i}"
                );
                veneered += usize::from(through_veneer);
            }
        }
        assert!(veneered >= 8, "{veneered}");
    }

    #[test]
    fn only_calls_are_resolved() {
        let mut builder = ThumbTextBuilder::new(1);
        builder.append(true, &[0; 8], 4);
        assert!(!builder.resolve(8, ThumbReloc::Call, 0, 0), "past the text");
        assert!(!builder.resolve(0, ThumbReloc::Call, 0, 5), "unknown label");
        assert!(builder.resolve(4, ThumbReloc::Call, 0, 0));
        assert_eq!(bl_target(&builder.finish(), 4), 0);
    }
}
