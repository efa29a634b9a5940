//! Heapsort of 256 u32 values: in place, no recursion, no allocation, bounded time, the sort
//! firmware reaches for (median filters, event queues).

use crate::XorShift32;
use crate::scratch::with_scratch;

/// Values sorted per iteration.
pub const LEN: usize = 256;

/// Moves `v[root]` down the max-heap `v[..end]` to its place.
fn sift_down(v: &mut [u32], mut root: usize, end: usize) {
    loop {
        let mut child = 2 * root + 1;
        if child >= end {
            return;
        }
        if child + 1 < end && v[child] < v[child + 1] {
            child += 1;
        }
        if v[root] >= v[child] {
            return;
        }
        v.swap(root, child);
        root = child;
    }
}

/// Sorts `v` in ascending order.
pub fn sort(v: &mut [u32]) {
    for start in (0..v.len() / 2).rev() {
        sift_down(v, start, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

/// `n` iterations: each fills the buffer from a generator seeded by the previous checksum, sorts
/// it and checksums the order.
pub fn run(n: u32) -> u32 {
    with_scratch(|s| {
        let mut check = 1u32;
        for _ in 0..n {
            let mut rng = XorShift32::new(check);
            for v in s.values.iter_mut() {
                *v = rng.next_u32() >> 8;
            }
            sort(&mut s.values);
            for (i, &v) in s.values.iter().enumerate() {
                check = check.wrapping_mul(31).wrapping_add(v ^ i as u32);
            }
        }
        check
    })
    .unwrap_or(0)
}
