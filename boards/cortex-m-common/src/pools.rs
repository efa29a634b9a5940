//! Bookkeeping of the static pools: which blocks are taken ([`BlockBitmap`]) and which front
//! guards are live ([`GuardTable`], read lock-free by the fault handler). Safe code, tested on
//! the host.

use core::sync::atomic::{AtomicUsize, Ordering};

/// Most blocks a pool may have: [`BlockBitmap`] capacity (4096 blocks of 4 KiB = 16 MiB).
pub const MAX_BLOCKS: usize = 4096;
const WORDS: usize = MAX_BLOCKS / 32;

/// First-fit allocator of runs of blocks, one bit per block (set = taken).
#[derive(Debug)]
pub struct BlockBitmap {
    bits: [u32; WORDS],
    blocks: usize,
}

impl BlockBitmap {
    /// A bitmap of `blocks` free blocks (at most [`MAX_BLOCKS`]; more are ignored).
    pub const fn new(blocks: usize) -> Self {
        BlockBitmap {
            bits: [0; WORDS],
            blocks: if blocks < MAX_BLOCKS {
                blocks
            } else {
                MAX_BLOCKS
            },
        }
    }

    /// Blocks managed.
    pub fn blocks(&self) -> usize {
        self.blocks
    }

    fn taken(&self, block: usize) -> bool {
        self.bits[block / 32] & (1 << (block % 32)) != 0
    }

    fn set(&mut self, first: usize, count: usize, taken: bool) {
        for block in first..first + count {
            let bit = 1 << (block % 32);
            if taken {
                self.bits[block / 32] |= bit;
            } else {
                self.bits[block / 32] &= !bit;
            }
        }
    }

    /// Takes the first run of `count` free blocks (`count` > 0); its first block index.
    pub fn alloc(&mut self, count: usize) -> Option<usize> {
        if count == 0 || count > self.blocks {
            return None;
        }
        let mut start = 0;
        while start + count <= self.blocks {
            match (start..start + count).find(|&b| self.taken(b)) {
                // Restart after the taken block.
                Some(taken) => start = taken + 1,
                None => {
                    self.set(start, count, true);
                    return Some(start);
                }
            }
        }
        None
    }

    /// Gives back `count` blocks from `first` (blocks outside the bitmap are ignored).
    pub fn free(&mut self, first: usize, count: usize) {
        let end = first.saturating_add(count).min(self.blocks);
        if first < end {
            self.set(first, end - first, false);
        }
    }

    /// Free blocks.
    pub fn free_blocks(&self) -> usize {
        (0..self.blocks).filter(|&b| !self.taken(b)).count()
    }
}

/// Most front guards live at once ([`GuardTable`] capacity); the MPU usually allows fewer.
pub const MAX_GUARDS: usize = 16;

/// The front guards of live memory slots, `[start, start + len)` each, in numbered entries
/// (an entry's index is the MPU region assignment of the guard). Read lock-free by the fault
/// handler ([`GuardTable::contains`]); written only by the platform, which sets an entry before
/// it protects the guard and hands out the slot, and clears it after the slot is freed.
///
/// An entry is live when its length is non-zero; the length is stored last when setting and
/// cleared first when clearing, so a reader never sees a live entry with a stale start (one
/// core: the fault handler interrupts the writer between two stores at most).
#[derive(Debug)]
pub struct GuardTable {
    start: [AtomicUsize; MAX_GUARDS],
    len: [AtomicUsize; MAX_GUARDS],
}

impl Default for GuardTable {
    fn default() -> Self {
        Self::new()
    }
}

impl GuardTable {
    /// An empty table.
    pub const fn new() -> Self {
        GuardTable {
            start: [const { AtomicUsize::new(0) }; MAX_GUARDS],
            len: [const { AtomicUsize::new(0) }; MAX_GUARDS],
        }
    }

    /// A free entry among the first `capacity`, if any.
    pub fn free_entry(&self, capacity: usize) -> Option<usize> {
        (0..capacity.min(MAX_GUARDS)).find(|&i| self.len[i].load(Ordering::Acquire) == 0)
    }

    /// Records guard `index` as `[start, start + len)` (`len` > 0).
    pub fn set(&self, index: usize, start: usize, len: usize) {
        if let (Some(s), Some(l)) = (self.start.get(index), self.len.get(index)) {
            s.store(start, Ordering::Release);
            l.store(len, Ordering::Release);
        }
    }

    /// Clears entry `index`.
    pub fn clear(&self, index: usize) {
        if let Some(l) = self.len.get(index) {
            l.store(0, Ordering::Release);
        }
    }

    /// The entry whose guard starts at `start`, if live.
    pub fn entry_at(&self, start: usize) -> Option<usize> {
        (0..MAX_GUARDS).find(|&i| {
            self.len[i].load(Ordering::Acquire) != 0
                && self.start[i].load(Ordering::Acquire) == start
        })
    }

    /// Whether `address` lies in a live guard. Lock-free, for the fault handler.
    pub fn contains(&self, address: usize) -> bool {
        (0..MAX_GUARDS).any(|i| {
            let len = self.len[i].load(Ordering::Acquire);
            len != 0
                && address
                    .checked_sub(self.start[i].load(Ordering::Acquire))
                    .is_some_and(|offset| offset < len)
        })
    }

    /// Live guards.
    pub fn live(&self) -> usize {
        self.len
            .iter()
            .filter(|l| l.load(Ordering::Acquire) != 0)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_runs_and_reuse() {
        let mut b = BlockBitmap::new(10);
        assert_eq!(b.alloc(0), None);
        assert_eq!(b.alloc(11), None);
        assert_eq!(b.alloc(3), Some(0));
        assert_eq!(b.alloc(3), Some(3));
        assert_eq!(b.alloc(5), None, "only 4 left");
        assert_eq!(b.free_blocks(), 4);
        b.free(0, 3);
        assert_eq!(b.alloc(4), Some(6), "the hole at 0 holds only 3");
        assert_eq!(b.alloc(2), Some(0));
        assert_eq!(b.alloc(1), Some(2));
        assert_eq!(b.alloc(1), None);
        assert_eq!(b.free_blocks(), 0);
        b.free(5, 100);
        assert_eq!(
            b.free_blocks(),
            5,
            "blocks 5..10 freed, the rest past the end ignored"
        );
    }

    #[test]
    fn capacity_is_capped() {
        let b = BlockBitmap::new(MAX_BLOCKS + 5);
        assert_eq!(b.blocks(), MAX_BLOCKS);
        let mut b = BlockBitmap::new(MAX_BLOCKS);
        assert_eq!(b.alloc(MAX_BLOCKS), Some(0));
        assert_eq!(b.free_blocks(), 0);
    }

    #[test]
    fn guard_table_lookup() {
        let t = GuardTable::new();
        assert!(!t.contains(0x100));
        assert_eq!(t.free_entry(2), Some(0));
        t.set(0, 0x1000, 0x400);
        assert_eq!(t.free_entry(2), Some(1));
        assert!(t.contains(0x1000));
        assert!(t.contains(0x13ff));
        assert!(!t.contains(0x1400));
        assert!(!t.contains(0xfff));
        t.set(1, 0x8000, 0x20);
        assert_eq!(t.free_entry(2), None, "capacity 2 reached");
        assert_eq!(t.free_entry(3), Some(2));
        assert_eq!(t.entry_at(0x8000), Some(1));
        assert_eq!(t.live(), 2);
        t.clear(0);
        assert!(!t.contains(0x1000));
        assert_eq!(t.entry_at(0x1000), None);
        assert_eq!(t.free_entry(2), Some(0));
        // Out-of-range indices are ignored.
        t.set(MAX_GUARDS, 0, 10);
        t.clear(MAX_GUARDS);
        assert!(!t.contains(0));
        // A guard at the top of the address space.
        t.set(0, usize::MAX - 0xf, 0x10);
        assert!(t.contains(usize::MAX));
    }
}
