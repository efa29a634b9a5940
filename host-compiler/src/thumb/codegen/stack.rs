//! The compile-time value stack and the register pools it caches values in (DESIGN.md
//! section 3): the core pool and the FP pool s16-s29 of `FReg` entries (f32), each with its
//! own held, used and reserved (home) sets. This module keeps the bookkeeping; emitting moves
//! and spills is the generator's.

use crate::thumb::asm::{Cond, FReg, Reg};

/// Where a wasm value is now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    /// A constant not yet in a register.
    Const(u32),
    /// In a pool register, held by this entry.
    Reg(Reg),
    /// A word in an FP cache register (`FReg::S`, one of [`FPOOL`]), held by this entry: an
    /// f32, or one half of an f64 in a double register (the entries of `dn` are `s2n` and
    /// `s2n+1`, low word first).
    FReg(FReg),
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

/// The FP cache registers, in allocation order: s16-s29, callee-saved (DESIGN.md section 3.3:
/// not s0-s15, which the operators' scratch registers s0-s5, every call and the fuel and epoch
/// slow paths clobber; s30/s31 are the d15 scratch). The prologue saves s16 up to the highest
/// one used with one `vpush`.
pub(super) const FPOOL: [u8; 14] = [16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29];

/// Join registers: result `k` of a label is in `JOIN[k]` (DESIGN.md section 3.4).
pub(super) const JOIN: [Reg; 4] = [Reg::R0, Reg::R1, Reg::R2, Reg::R3];

fn bit(r: Reg) -> u16 {
    1 << r.num()
}

fn fbit(s: FReg) -> u32 {
    match s {
        FReg::S(n) => 1 << n,
        FReg::D(n) => 3 << (2 * n),
    }
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
    /// FP cache registers (`1 << n` for `sn`) held by an entry.
    fheld: u32,
    /// FP registers ever held or reserved: the prologue saves s16 up to the highest.
    fused: u32,
    /// FP registers that are f32 locals' homes.
    freserved: u32,
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

    /// Whether pool register `reg` is neither held nor reserved.
    pub(super) fn is_free(&self, reg: Reg) -> bool {
        POOL.contains(&reg) && (self.held | self.reserved) & bit(reg) == 0
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

    /// Takes `sn` out of the FP pool for the whole function (an f32 local's home register).
    pub(super) fn reserve_fp(&mut self, s: FReg) {
        self.freserved |= fbit(s);
        self.fused |= fbit(s);
    }

    /// A free FP cache register, now held, in allocation order.
    pub(super) fn take_free_fp(&mut self) -> Option<FReg> {
        let n = FPOOL
            .into_iter()
            .find(|n| (self.fheld | self.freserved) & (1 << n) == 0)?;
        self.fheld |= 1 << n;
        self.fused |= 1 << n;
        Some(FReg::S(n))
    }

    /// A free double register of d8-d14 (both of its halves free), now held: an f64 value,
    /// whose two word entries are `FReg(s2n)` and `FReg(s2n+1)`.
    pub(super) fn take_free_dp(&mut self) -> Option<FReg> {
        let taken = self.fheld | self.freserved;
        let n = (8u8..15).find(|d| taken & (3 << (2 * d)) == 0)?;
        self.fheld |= 3 << (2 * n);
        self.fused |= 3 << (2 * n);
        Some(FReg::D(n))
    }

    /// Frees FP cache register `s`.
    pub(super) fn release_fp(&mut self, s: FReg) {
        self.fheld &= !fbit(s);
    }

    /// The oldest entry in an FP cache register: the one to spill when the FP pool is empty.
    pub(super) fn oldest_fp_entry(&self) -> Option<usize> {
        self.entries
            .iter()
            .position(|e| matches!(e, Entry::FReg(_)))
    }

    /// How many FP registers from s16 the prologue saves: up to the highest one used.
    pub(super) fn saved_fp_count(&self) -> u8 {
        (16..32u8)
            .rev()
            .find(|n| self.fused & (1 << n) != 0)
            .map_or(0, |n| n - 15)
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

    #[test]
    fn fp_pool_allocation_homes_and_saved_count() {
        let mut s = ValueStack::default();
        assert_eq!(s.saved_fp_count(), 0);
        s.reserve_fp(FReg::S(16));
        assert_eq!(s.saved_fp_count(), 1);
        assert_eq!(s.take_free_fp(), Some(FReg::S(17)));
        assert_eq!(s.take_free_fp(), Some(FReg::S(18)));
        assert_eq!(s.saved_fp_count(), 3);
        s.release_fp(FReg::S(17));
        assert_eq!(s.take_free_fp(), Some(FReg::S(17)));
        let rest: Vec<FReg> = std::iter::from_fn(|| s.take_free_fp()).collect();
        assert_eq!(rest.len(), 11);
        assert!(!rest.contains(&FReg::S(16)));
        assert_eq!(rest.last(), Some(&FReg::S(29)));
        assert_eq!(s.saved_fp_count(), 14);
        s.push(Entry::Reg(Reg::R0));
        s.push(Entry::FReg(FReg::S(20)));
        s.push(Entry::FReg(FReg::S(18)));
        assert_eq!(s.oldest_fp_entry(), Some(1));
        // Doubles need both halves free: s17 and s18 held leave d8 and d9 out.
        let mut s = ValueStack::default();
        s.reserve_fp(FReg::S(16));
        assert_eq!(s.take_free_fp(), Some(FReg::S(17)));
        assert_eq!(s.take_free_fp(), Some(FReg::S(18)));
        assert_eq!(s.take_free_dp(), Some(FReg::D(10)));
        assert_eq!(s.take_free_fp(), Some(FReg::S(19)));
        assert_eq!(s.saved_fp_count(), 6);
        s.release_fp(FReg::D(10));
        assert_eq!(s.take_free_fp(), Some(FReg::S(20)));
        assert_eq!(s.take_free_dp(), Some(FReg::D(11)));
        for _ in 0..3 {
            assert!(s.take_free_dp().is_some());
        }
        assert_eq!(s.take_free_dp(), None);
    }
}
