//! A spin lock for the board's shared state (page tables, pool bitmaps).
//!
//! The board runs on one core and exception handlers never take it, so it is never
//! contended; it exists so that the state can live in a `static` and be reached from the
//! `Platform` methods (`&self`) without `static mut`.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// A value behind a spin lock.
pub struct Lock<T> {
    locked: AtomicBool,
    value: UnsafeCell<T>,
}

// SAFETY: access to `value` is serialised by `locked` (see `with`), or happens before any
// other code runs (`with_before_mmu`).
unsafe impl<T: Send> Sync for Lock<T> {}

impl<T> Lock<T> {
    /// A lock holding `value`.
    pub const fn new(value: T) -> Self {
        Lock {
            locked: AtomicBool::new(false),
            value: UnsafeCell::new(value),
        }
    }

    /// Runs `f` with exclusive access to the value.
    pub fn with<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            core::hint::spin_loop();
        }
        // SAFETY: the flag was false and is now ours, so no other `&mut` to the value exists
        // until we release it below.
        let result = f(unsafe { &mut *self.value.get() });
        self.locked.store(false, Ordering::Release);
        result
    }

    /// Runs `f` with the value without touching the atomic flag: exclusive accesses (the
    /// atomics) are not guaranteed to work on device memory, which is what all memory is
    /// while the MMU is off.
    ///
    /// # Safety
    /// Called only during boot, before the MMU is on, with nothing else running (one core,
    /// interrupts masked) and no `with` in progress.
    pub unsafe fn with_before_mmu<R>(&self, f: impl FnOnce(&mut T) -> R) -> R {
        // SAFETY: guaranteed by the caller: nothing else can hold a reference.
        f(unsafe { &mut *self.value.get() })
    }
}
