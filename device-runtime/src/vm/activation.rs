//! The innermost host-to-wasm entry of the current thread, for the fault hook.
//!
//! The `Trap` libcall finds the entry through its store; a fault handler only has the
//! interrupted registers, so every entry also records its jump buffer here. Hosted, this is a
//! thread-local (tests run on many threads); on a bare-metal board, which runs wasm on one core,
//! a single atomic.

use crate::arch::JmpBuf;

#[cfg(feature = "std")]
mod imp {
    use super::JmpBuf;
    use std::cell::Cell;

    std::thread_local! {
        static CURRENT: Cell<*const JmpBuf> = const { Cell::new(core::ptr::null()) };
    }

    pub fn current() -> *const JmpBuf {
        CURRENT.with(|c| c.get())
    }

    pub fn replace(new: *const JmpBuf) -> *const JmpBuf {
        CURRENT.with(|c| c.replace(new))
    }
}

#[cfg(not(feature = "std"))]
mod imp {
    use super::JmpBuf;
    use core::sync::atomic::{AtomicPtr, Ordering};

    static CURRENT: AtomicPtr<JmpBuf> = AtomicPtr::new(core::ptr::null_mut());

    pub fn current() -> *const JmpBuf {
        CURRENT.load(Ordering::Acquire)
    }

    pub fn replace(new: *const JmpBuf) -> *const JmpBuf {
        CURRENT.swap(new.cast_mut(), Ordering::AcqRel)
    }
}

/// The jump buffer of the innermost entry on this thread (null outside wasm).
pub fn current() -> *const JmpBuf {
    imp::current()
}

/// Makes `new` the innermost entry and returns the previous one.
pub fn replace(new: *const JmpBuf) -> *const JmpBuf {
    imp::replace(new)
}
