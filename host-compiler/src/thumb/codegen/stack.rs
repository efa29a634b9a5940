//! The compile-time value stack and the register pool it caches values in (DESIGN.md
//! section 3). This module keeps the bookkeeping; emitting moves and spills is the
//! generator's.

use crate::thumb::asm::{Cond, Reg};

/// Where a wasm value is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// A constant not yet in a register.
    Const(u32),
    /// In a pool register, held by this entry.
    Reg(Reg),
    /// The current value of a local, read lazily from its slot.
    Local(u32),
    /// In the frame slot of its stack position.
    Spilled,
    /// 1 if the flags satisfy the condition, else 0 (top entry only).
    Cond(Cond),
}

/// The cache registers, in allocation order: caller-saved first (free to use in any
/// function), then callee-saved ones (pushed by the prologue once used).
pub(super) const POOL: [Reg; 9] = [
    Reg::R0,
    Reg::R1,
    Reg::R2,
    Reg::R3,
    Reg::R4,
    Reg::R5,
    Reg::R6,
    Reg::R9,
    Reg::R11,
];

/// Join registers: result `k` of a label is in `JOIN[k]` (DESIGN.md section 3.4).
pub(super) const JOIN: [Reg; 4] = [Reg::R0, Reg::R1, Reg::R2, Reg::R3];

fn bit(r: Reg) -> u16 {
    1 << r.num()
}

const CALLEE_SAVED: u16 = 1 << 4 | 1 << 5 | 1 << 6 | 1 << 9 | 1 << 11;

/// The entries and which pool registers they hold.
#[derive(Clone, Debug, Default)]
pub(super) struct ValueStack {
    /// Bottom first; the index of an entry is its stack position.
    pub(super) entries: Vec<Entry>,
    /// Pool registers held by an entry (invariant 1: by exactly one).
    held: u16,
    /// Callee-saved pool registers ever held: the prologue saves them.
    used: u16,
    /// Pool registers that are locals' homes for the whole function: never allocated.
    reserved: u16,
}

impl ValueStack {
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn push(&mut self, entry: Entry) {
        self.entries.push(entry);
    }

    /// Takes `reg` out of the pool for the whole function (a local's home register).
    pub(super) fn reserve(&mut self, reg: Reg) {
        self.reserved |= bit(reg);
        self.used |= bit(reg) & CALLEE_SAVED;
    }

    /// Marks `reg` held (the caller is about to store an entry's value in it).
    pub(super) fn hold(&mut self, reg: Reg) {
        debug_assert!(POOL.contains(&reg), "{reg} is not a pool register");
        debug_assert!(self.reserved & bit(reg) == 0, "{reg} is a local's home");
        self.held |= bit(reg);
        self.used |= bit(reg) & CALLEE_SAVED;
    }

    /// Frees `reg`.
    pub(super) fn release(&mut self, reg: Reg) {
        self.held &= !bit(reg);
    }

    /// A free pool register, now held, in allocation order.
    pub(super) fn take_free(&mut self) -> Option<Reg> {
        self.take_free_except(&[])
    }

    /// A free pool register not in `avoid`, now held.
    pub(super) fn take_free_except(&mut self, avoid: &[Reg]) -> Option<Reg> {
        let r = POOL
            .into_iter()
            .find(|r| (self.held | self.reserved) & bit(*r) == 0 && !avoid.contains(r))?;
        self.hold(r);
        Some(r)
    }

    /// The position of the entry holding `reg`, if any.
    pub(super) fn holder(&self, reg: Reg) -> Option<usize> {
        if self.held & bit(reg) == 0 {
            return None;
        }
        self.entries.iter().position(|e| *e == Entry::Reg(reg))
    }

    /// The oldest entry in a register: the one to spill (invariant 2).
    pub(super) fn oldest_register_entry(&self) -> Option<usize> {
        self.entries.iter().position(|e| matches!(e, Entry::Reg(_)))
    }

    /// Callee-saved registers used so far, ascending.
    pub(super) fn used_callee_saved(&self) -> Vec<Reg> {
        POOL.into_iter()
            .filter(|r| self.used & bit(*r) != 0)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_order_holding_and_callee_saved_use() {
        let mut s = ValueStack::default();
        let taken: Vec<Reg> = (0..9).map(|_| s.take_free().unwrap()).collect();
        assert_eq!(taken, POOL.to_vec());
        assert_eq!(s.take_free(), None);
        s.release(Reg::R2);
        assert_eq!(s.take_free_except(&[Reg::R2]), None);
        assert_eq!(s.take_free(), Some(Reg::R2));
        assert_eq!(
            s.used_callee_saved(),
            vec![Reg::R4, Reg::R5, Reg::R6, Reg::R9, Reg::R11]
        );
        let mut s = ValueStack::default();
        s.push(Entry::Const(1));
        let r = s.take_free().unwrap();
        s.push(Entry::Reg(r));
        s.push(Entry::Spilled);
        assert_eq!(s.holder(r), Some(1));
        assert_eq!(s.oldest_register_entry(), Some(1));
        assert!(s.used_callee_saved().is_empty());
        s.reserve(Reg::R9);
        assert_eq!(s.used_callee_saved(), vec![Reg::R9]);
        let free: Vec<Reg> = std::iter::from_fn(|| s.take_free()).collect();
        assert!(!free.contains(&Reg::R9) && !free.contains(&r));
        assert_eq!(free.len(), 7);
    }
}
