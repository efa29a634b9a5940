//! A first-fit allocator of contiguous page runs over a fixed bitmap: the bookkeeping of the
//! board's code, memory-slot and arena pools. Safe and host-testable; it hands out page
//! indices, and the platform turns them into addresses inside its pool.

/// Tracks `pages` pages (at most `64 * WORDS`); bit set = page in use.
#[derive(Clone, Debug)]
pub struct PageBitmap<const WORDS: usize> {
    used: [u64; WORDS],
    pages: usize,
}

impl<const WORDS: usize> PageBitmap<WORDS> {
    /// All `pages` free (clamped to the bitmap's capacity).
    pub const fn new(pages: usize) -> Self {
        let capacity = WORDS * 64;
        PageBitmap {
            used: [0; WORDS],
            pages: if pages < capacity { pages } else { capacity },
        }
    }

    /// Pages tracked.
    pub fn pages(&self) -> usize {
        self.pages
    }

    fn is_used(&self, page: usize) -> bool {
        self.used[page / 64] & (1 << (page % 64)) != 0
    }

    fn set(&mut self, page: usize, used: bool) {
        let bit = 1u64 << (page % 64);
        if used {
            self.used[page / 64] |= bit;
        } else {
            self.used[page / 64] &= !bit;
        }
    }

    /// Takes the lowest run of `count` free pages; returns its first page (`None` if no run is
    /// long enough or `count` is 0).
    pub fn alloc(&mut self, count: usize) -> Option<usize> {
        if count == 0 || count > self.pages {
            return None;
        }
        let mut run_start = 0;
        let mut run_len = 0;
        for page in 0..self.pages {
            if self.is_used(page) {
                run_len = 0;
                run_start = page + 1;
                continue;
            }
            run_len += 1;
            if run_len == count {
                for p in run_start..run_start + count {
                    self.set(p, true);
                }
                return Some(run_start);
            }
        }
        None
    }

    /// Takes the highest free page (`None` if none is free). Single pages for the wide memory
    /// slots come from the top of the pool so that the contiguous runs of small slots, taken
    /// first-fit from the bottom, stay unfragmented for as long as possible.
    pub fn alloc_highest(&mut self) -> Option<usize> {
        // Word by word from the top, so that a full top of the pool costs one test per 64
        // pages; bits past `pages` in the last word count as used.
        for word in (0..self.pages.div_ceil(64)).rev() {
            let valid = (self.pages - word * 64).min(64);
            let mask = if valid == 64 {
                u64::MAX
            } else {
                (1 << valid) - 1
            };
            let free = !self.used[word] & mask;
            if free != 0 {
                let page = word * 64 + (63 - free.leading_zeros() as usize);
                self.set(page, true);
                return Some(page);
            }
        }
        None
    }

    /// Gives back `count` pages from `first` (pages outside the bitmap are ignored).
    pub fn free(&mut self, first: usize, count: usize) {
        let end = first.saturating_add(count).min(self.pages);
        for page in first.min(end)..end {
            self.set(page, false);
        }
    }

    /// Free pages in total.
    pub fn free_pages(&self) -> usize {
        (0..self.pages).filter(|&p| !self.is_used(p)).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_and_reuse() {
        let mut b = PageBitmap::<2>::new(100);
        assert_eq!(b.pages(), 100);
        assert_eq!(b.alloc(0), None);
        assert_eq!(b.alloc(10), Some(0));
        assert_eq!(b.alloc(60), Some(10));
        assert_eq!(b.alloc(31), None);
        assert_eq!(b.alloc(30), Some(70));
        assert_eq!(b.free_pages(), 0);
        b.free(10, 60);
        assert_eq!(b.alloc(5), Some(10));
        assert_eq!(b.alloc(55), Some(15));
        assert_eq!(b.alloc(1), None);
    }

    #[test]
    fn runs_cross_word_boundaries_and_skip_holes() {
        let mut b = PageBitmap::<2>::new(128);
        assert_eq!(b.alloc(63), Some(0));
        assert_eq!(b.alloc(2), Some(63));
        b.free(0, 63);
        // 63 free pages on each side of the 2-page run: 64 do not fit anywhere.
        assert_eq!(b.alloc(64), None);
        assert_eq!(b.alloc(63), Some(0));
        assert_eq!(b.alloc(63), Some(65));
        assert_eq!(b.free_pages(), 0);
    }

    #[test]
    fn single_pages_come_from_the_top() {
        let mut b = PageBitmap::<2>::new(100);
        assert_eq!(b.alloc_highest(), Some(99));
        assert_eq!(b.alloc_highest(), Some(98));
        assert_eq!(b.alloc(98), Some(0));
        assert_eq!(b.alloc_highest(), None);
        b.free(99, 1);
        b.free(5, 1);
        assert_eq!(b.alloc_highest(), Some(99));
        assert_eq!(b.alloc_highest(), Some(5));
        assert_eq!(b.free_pages(), 0);
        // Whole words and a partial last word.
        let mut b = PageBitmap::<3>::new(130);
        for expected in (0..130).rev() {
            assert_eq!(b.alloc_highest(), Some(expected));
        }
        assert_eq!(b.alloc_highest(), None);
        b.free(64, 1);
        assert_eq!(b.alloc_highest(), Some(64));
    }

    #[test]
    fn out_of_range_is_ignored_and_capacity_clamped() {
        let mut b = PageBitmap::<1>::new(1000);
        assert_eq!(b.pages(), 64);
        b.free(60, 100);
        b.free(usize::MAX, 2);
        assert_eq!(b.free_pages(), 64);
        assert_eq!(b.alloc(65), None);
        assert_eq!(b.alloc(64), Some(0));
    }
}
