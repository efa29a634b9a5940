//! Bookkeeping of the fiber-stack pool: which of its fixed slots are handed out, and where
//! each slot's guard and stack lie. Safe and host-testable; the platform
//! ([`crate::platform`]) turns the addresses into [`device_runtime::platform::FiberStack`]s.
//!
//! The pool is `N` equal slots laid out back to back from the pool's (page-aligned) start:
//!
//! ```text
//! slot i:  start + i * (guard + stack)
//!          | guard (never mapped) | stack (read-write, grows down from its end) |
//! ```
//!
//! The guard below each stack is what makes an overflow of host code running on a fiber (a
//! host function, a libcall) fault instead of writing into the stack below; wasm code never
//! gets near it (the runtime's stack limit keeps it above the host reserve).

/// `N` fiber-stack slots of `stack` bytes, each above a `guard` of never-mapped bytes.
#[derive(Clone, Debug)]
pub struct FiberSlots<const N: usize> {
    used: [bool; N],
    guard: usize,
    stack: usize,
}

/// Why a request for a fiber stack was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The request is larger than a slot's stack.
    TooLarge,
    /// Every slot is handed out.
    Exhausted,
}

impl<const N: usize> FiberSlots<N> {
    /// All slots free.
    pub const fn new(guard: usize, stack: usize) -> Self {
        FiberSlots {
            used: [false; N],
            guard,
            stack,
        }
    }

    /// Bytes of the whole pool (guards included).
    pub const fn pool_bytes(guard: usize, stack: usize) -> usize {
        N * (guard + stack)
    }

    /// Takes the lowest free slot for a stack of at least `len` bytes; returns its index.
    pub fn take(&mut self, len: usize) -> Result<usize, SlotError> {
        if len > self.stack {
            return Err(SlotError::TooLarge);
        }
        let index = self
            .used
            .iter()
            .position(|used| !used)
            .ok_or(SlotError::Exhausted)?;
        self.used[index] = true;
        Ok(index)
    }

    /// Gives slot `index` back; `false` (and nothing changed) if it was not handed out.
    pub fn give_back(&mut self, index: usize) -> bool {
        match self.used.get_mut(index) {
            Some(used) if *used => {
                *used = false;
                true
            }
            _ => false,
        }
    }

    /// Slots handed out.
    pub fn in_use(&self) -> usize {
        self.used.iter().filter(|used| **used).count()
    }

    /// Address of slot `index`'s guard, for a pool starting at `start`.
    pub fn guard_start(&self, start: u64, index: usize) -> u64 {
        start + (index * (self.guard + self.stack)) as u64
    }

    /// Lowest address of slot `index`'s stack, for a pool starting at `start`.
    pub fn stack_base(&self, start: u64, index: usize) -> u64 {
        self.guard_start(start, index) + self.guard as u64
    }

    /// The slot whose stack starts at `base` (`None` for any other address).
    pub fn index_of(&self, start: u64, base: u64) -> Option<usize> {
        let offset = usize::try_from(base.checked_sub(start)?).ok()?;
        let stride = self.guard + self.stack;
        let index = offset / stride;
        (index < N && offset % stride == self.guard).then_some(index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GUARD: usize = 4096;
    const STACK: usize = 32 << 10;
    const START: u64 = 0x4010_0000;

    #[test]
    fn slots_are_disjoint_with_a_guard_below_each_stack() {
        let slots = FiberSlots::<4>::new(GUARD, STACK);
        for i in 0..4 {
            let base = slots.stack_base(START, i);
            assert_eq!(base - slots.guard_start(START, i), GUARD as u64);
            assert_eq!(base % 4096, 0);
            if i > 0 {
                // The previous stack ends exactly where this slot's guard starts.
                let previous_end = slots.stack_base(START, i - 1) + STACK as u64;
                assert_eq!(previous_end, slots.guard_start(START, i));
            }
        }
        let end = slots.stack_base(START, 3) + STACK as u64;
        assert_eq!(
            end - START,
            FiberSlots::<4>::pool_bytes(GUARD, STACK) as u64
        );
    }

    #[test]
    fn take_until_exhausted_then_reuse() {
        let mut slots = FiberSlots::<3>::new(GUARD, STACK);
        assert_eq!(slots.take(STACK), Ok(0));
        assert_eq!(slots.take(16), Ok(1));
        assert_eq!(slots.take(STACK), Ok(2));
        assert_eq!(slots.in_use(), 3);
        assert_eq!(slots.take(16), Err(SlotError::Exhausted));
        assert!(slots.give_back(1));
        assert!(!slots.give_back(1), "a slot given back twice");
        assert!(!slots.give_back(7), "no such slot");
        assert_eq!(slots.take(16), Ok(1));
        assert_eq!(slots.in_use(), 3);
    }

    #[test]
    fn too_large_is_refused_without_taking() {
        let mut slots = FiberSlots::<2>::new(GUARD, STACK);
        assert_eq!(slots.take(STACK + 16), Err(SlotError::TooLarge));
        assert_eq!(slots.in_use(), 0);
    }

    #[test]
    fn index_of_accepts_only_stack_bases() {
        let slots = FiberSlots::<4>::new(GUARD, STACK);
        for i in 0..4 {
            assert_eq!(slots.index_of(START, slots.stack_base(START, i)), Some(i));
            assert_eq!(slots.index_of(START, slots.guard_start(START, i)), None);
            assert_eq!(slots.index_of(START, slots.stack_base(START, i) + 16), None);
        }
        assert_eq!(slots.index_of(START, START - 4096), None);
        assert_eq!(slots.index_of(START, slots.stack_base(START, 4)), None);
    }
}
