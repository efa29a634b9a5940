//! Resumable calls: a wasm call that runs on its own stack (a *fiber*) so that it can stop in
//! the middle (out of fuel, past its epoch deadline, or because a host function asked) and
//! return control to the host, which resumes it later or cancels it.
//!
//! # Vocabulary
//!
//! * **Host context**: the thread's own stack, where `Func::call_resumable`, `Store::resume`
//!   and `Store::cancel` run.
//! * **Fiber**: a stack from the engine's [`FiberPool`] (the platform hands it out), with a
//!   [`FiberRecord`] at its top. Its first frame is [`fiber_main`], which enters wasm through
//!   the ordinary `arch::entry` with the record's jump buffer, so a trap inside the fiber
//!   unwinds to that entry, inside the fiber, and the fiber then finishes normally with the
//!   trap's status.
//! * **Switch**: `arch::fiber_switch`, which saves the callee-saved registers and stack pointer
//!   of one context and loads another's. The host switches *in* ([`Fiber::run`]); the fiber
//!   switches *out* when it suspends ([`suspend`]) or finishes ([`fiber_main`]'s end).
//!
//! # The bookkeeping swapped at every switch
//!
//! Three values describe "the wasm activation running on this thread" and must be the
//! fiber's while the fiber runs and the host's while the host runs:
//!
//! * `StoreInner::activation`: the innermost entry's jump buffer, which the `Trap` libcall
//!   unwinds to;
//! * the thread's activation slot (`vm::activation`), which the fault hook reads;
//! * `VMStoreContext::stack_limit`: the fiber's limit is its stack's base plus the host
//!   reserve (room for libcalls, host functions and the runtime's frames below the last wasm
//!   frame), or `max_wasm_stack` below its top if that is higher.
//!
//! The record holds the other side's values, and [`swap_state`] exchanges them; each side
//! calls it right before switching away (the host in [`Fiber::run`], the fiber in [`suspend`]
//! and at its end), so whichever context runs always sees its own values. Initially the record
//! holds the fiber's: no activation (its entry sets one) and its stack limit.
//!
//! # Invariants
//!
//! * `StoreInner::fiber` is the running fiber's record while the fiber runs, null otherwise
//!   (set by `run` before switching in, cleared after switching back).
//! * A fiber suspends only when the innermost activation is its own entry
//!   ([`can_suspend`]): no host frame lies between the suspension point and the fiber's first
//!   frame except the host function that asked to yield, whose `Caller` re-derives its store
//!   reference after resuming (the `Store` may have moved meanwhile). A nested activation
//!   (host -> wasm -> host function -> wasm) holds `&mut Store` references in host frames that
//!   could not be fixed up, so suspending there is refused (fuel and epoch limits apply the
//!   trap policy, `Caller::yield_now` returns an error).
//! * A cancelled fiber never suspends again, and every suspension point returns a trap status
//!   to wasm when resumed with [`Command::Cancel`] (host functions: the shim turns their
//!   return into `Interrupted`), so resuming a cancelled fiber always runs it to its end
//!   through the ordinary trap path, and no frame is ever skipped but wasm frames.
//! * A finished fiber's stack is given back only after the host has switched back from it for
//!   the last time; frames left on it (`fiber_main`'s) own nothing.

use core::ptr::{NonNull, addr_of, addr_of_mut};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::arch::{self, JmpBuf};
use crate::error::{Error, limit};
use crate::platform::{FiberStack, Platform, PlatformError};
use crate::vm::ValRaw;
use crate::vm::activation;
use crate::vm::store::StoreInner;

/// Value slots a fiber keeps for arguments and results (the most any function has).
pub const FIBER_VALUES: usize = crate::api::values::MAX_FUNC_ARITY;

/// Bytes a fiber takes at the top of its stack before any code runs on it: its record
/// (context, swapped bookkeeping, entry jump buffer, [`FIBER_VALUES`] value slots) plus the
/// initial switch frame. The rest of the stack is for frames: wasm's down to the stack limit,
/// then the host reserve.
pub const FIBER_RECORD_BYTES: usize = core::mem::size_of::<FiberRecord>() + arch::FIBER_INIT_BYTES;

/// How many fiber stacks an engine may have out at once, and their size. Put one in a `static`
/// (or leak one) and name it in [`EngineConfig::fiber_pool`](crate::EngineConfig::fiber_pool);
/// engines naming the same pool share its count.
#[derive(Debug)]
pub struct FiberPool {
    capacity: usize,
    stack_size: usize,
    host_reserve: usize,
    in_use: AtomicUsize,
}

impl FiberPool {
    /// A pool of `capacity` stacks of `stack_size` bytes each (rounded up to 16), with the
    /// default host reserve ([`FiberPool::DEFAULT_HOST_RESERVE`]).
    pub const fn new(capacity: usize, stack_size: usize) -> FiberPool {
        FiberPool {
            capacity,
            stack_size: stack_size.next_multiple_of(16),
            host_reserve: FiberPool::DEFAULT_HOST_RESERVE,
            in_use: AtomicUsize::new(0),
        }
    }

    /// Bytes at the bottom of every fiber stack that wasm code may not use, left for the
    /// libcalls and host functions it calls and the runtime's own frames: 32 KiB hosted (debug
    /// builds of Rust host code use large frames), 2 KiB otherwise.
    pub const DEFAULT_HOST_RESERVE: usize = if cfg!(feature = "std") {
        32 << 10
    } else {
        2 << 10
    };

    /// The same pool with `bytes` of host reserve (rounded up to 16).
    pub const fn with_host_reserve(mut self, bytes: usize) -> FiberPool {
        self.host_reserve = bytes.next_multiple_of(16);
        self
    }

    /// Stacks the pool may have out at once.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes of each stack.
    pub fn stack_size(&self) -> usize {
        self.stack_size
    }

    /// Stacks out now.
    pub fn in_use(&self) -> usize {
        self.in_use.load(Ordering::Acquire)
    }

    fn take(&self) -> Result<(), PlatformError> {
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .map(|_| ())
            .map_err(|_| PlatformError::Exhausted("fiber stacks"))
    }

    fn give_back(&self) {
        self.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The pool of engines whose configuration names none: 16 stacks of 1 MiB hosted (lazily
/// committed mappings), 4 stacks of 16 KiB otherwise (a board must also provide them through
/// `Platform::fiber_stack_alloc`).
pub static DEFAULT_FIBER_POOL: FiberPool = if cfg!(feature = "std") {
    FiberPool::new(16, 1 << 20)
} else {
    FiberPool::new(4, 16 << 10)
};

/// What a store does when a call reaches a fuel or epoch limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitPolicy {
    /// Stop the call with a trap: `TrapCode::OutOfFuel` or `TrapCode::Interrupted`. The
    /// default.
    #[default]
    Trap,
    /// Suspend a resumable call (`Func::call_resumable`) and return to the host, which may add
    /// fuel or extend the deadline and resume it. A call that cannot suspend (an ordinary
    /// `Func::call`, or a nested activation inside a resumable call) traps as with
    /// [`LimitPolicy::Trap`].
    Yield,
}

/// Why a resumable call suspended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum YieldReason {
    /// The fuel budget could not pay for the next block ([`LimitPolicy::Yield`]).
    OutOfFuel,
    /// The epoch reached the store's deadline ([`LimitPolicy::Yield`]).
    EpochDeadline,
    /// A host function called `Caller::yield_now`.
    Host,
}

/// What the host tells a suspended fiber when it switches in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Continue where it stopped.
    Resume,
    /// Stop: the suspension point returns a trap status and the fiber unwinds to its end.
    Cancel,
}

const COMMAND_RESUME: usize = 0;
const COMMAND_CANCEL: usize = 1;
const EXIT_SUSPENDED: usize = 0;
const EXIT_FINISHED: usize = 1;

/// How a fiber came back to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// It suspended, for this reason.
    Suspended(YieldReason),
    /// Its call finished with this status (0 or a trap code, as `arch::entry` returns).
    Finished(u32),
}

/// The record at the top of a fiber stack.
#[repr(C)]
pub struct FiberRecord {
    /// The fiber's stack pointer while it is switched out.
    fiber_sp: *mut u8,
    /// The host's stack pointer while the fiber runs.
    host_sp: *mut u8,
    /// The other side's `StoreInner::activation` (module docs).
    activation: *const JmpBuf,
    /// The other side's thread activation slot.
    thread_activation: *const JmpBuf,
    /// The other side's `VMStoreContext::stack_limit`.
    stack_limit: usize,
    store: *mut StoreInner,
    array_call: usize,
    callee_vmctx: *mut u8,
    count: usize,
    status: u32,
    reason: YieldReason,
    cancelled: bool,
    /// The fiber's entry: its innermost activation while no nested entry runs.
    jmpbuf: JmpBuf,
    values: [ValRaw; FIBER_VALUES],
}

/// A fiber stack holding a prepared or suspended call. Owned by one store at a time; given
/// back with [`Fiber::release`].
#[derive(Debug)]
pub struct Fiber {
    stack: FiberStack,
    record: NonNull<FiberRecord>,
}

impl Fiber {
    /// Takes a stack from `pool` and prepares a call of `array_call(callee_vmctx, null, values,
    /// values.len())` on it.
    ///
    /// # Safety
    /// `inner` is the live store record the call belongs to; `array_call` is array-convention
    /// code of that store and `values` has `max(params, results)` slots for it.
    pub unsafe fn new(
        pool: &'static FiberPool,
        platform: &'static dyn Platform,
        inner: *mut StoreInner,
        array_call: usize,
        callee_vmctx: *mut u8,
        values: &[ValRaw],
    ) -> Result<Fiber, Error> {
        if values.len() > FIBER_VALUES {
            return Err(Error::TypeMismatch);
        }
        pool.take().map_err(Error::Platform)?;
        let stack = match platform.fiber_stack_alloc(pool.stack_size) {
            Ok(s) => s,
            Err(e) => {
                pool.give_back();
                return Err(Error::Platform(e));
            }
        };
        let base = stack.base.as_ptr() as usize;
        let end = base.saturating_add(stack.len);
        let record_at = end.saturating_sub(core::mem::size_of::<FiberRecord>()) & !15;
        let lowest_frame = record_at.saturating_sub(arch::FIBER_INIT_BYTES);
        // SAFETY: the store record is live (caller's contract).
        let max_wasm_stack = unsafe { (*inner).max_wasm_stack };
        let stack_limit = base
            .saturating_add(pool.host_reserve)
            .max(record_at.saturating_sub(max_wasm_stack));
        if stack.len < core::mem::size_of::<FiberRecord>() || lowest_frame <= stack_limit {
            // SAFETY: the stack came from this platform and nothing ran on it.
            unsafe { platform.fiber_stack_free(stack) };
            pool.give_back();
            return Err(limit(
                "fiber stack size (below the record and the host reserve)",
            ));
        }
        let record = record_at as *mut FiberRecord;
        let mut slots = [ValRaw::default(); FIBER_VALUES];
        slots[..values.len()].copy_from_slice(values);
        // SAFETY: `record_at` is 16-aligned (`FiberRecord`'s alignment is at most that of
        // `ValRaw`, 16) and the record lies inside the stack, which is ours and writable.
        // `fiber_init` writes its frame right below the record, inside the stack (checked
        // above), and `fiber_main` never returns.
        unsafe {
            record.write(FiberRecord {
                fiber_sp: core::ptr::null_mut(),
                host_sp: core::ptr::null_mut(),
                activation: core::ptr::null(),
                thread_activation: core::ptr::null(),
                stack_limit,
                store: inner,
                array_call,
                callee_vmctx,
                count: values.len(),
                status: 0,
                reason: YieldReason::Host,
                cancelled: false,
                jmpbuf: JmpBuf::default(),
                values: slots,
            });
            (*record).fiber_sp = arch::fiber_init(record.cast::<u8>(), fiber_main, record.cast());
        }
        let record = NonNull::new(record).ok_or(limit("fiber stack"))?;
        Ok(Fiber { stack, record })
    }

    /// Switches to the fiber with `command` and returns when it suspends or finishes.
    ///
    /// # Safety
    /// `inner` is the live record of the store the fiber belongs to, no wasm of that store runs
    /// on this thread (`activation` is null) and `store_ptr` is the `&mut Store` that host
    /// functions called by the fiber may use until this returns. The fiber has not finished.
    pub unsafe fn run(&self, inner: *mut StoreInner, store_ptr: *mut (), command: Command) -> Exit {
        let r = self.record.as_ptr();
        // SAFETY: the record lives at the top of our stack, the store record is live (caller's
        // contract). The switch resumes the fiber's saved context (prepared by `fiber_init` or
        // saved by `suspend`), with the bookkeeping swapped to the fiber's values right before.
        unsafe {
            let prev_store = (*inner).store_ptr;
            (*inner).store_ptr = store_ptr;
            (*inner).fiber = r;
            if command == Command::Cancel {
                (*r).cancelled = true;
            }
            // Keep the deadline word within 2^31 ticks of the counter whenever wasm resumes.
            (*inner).sync_epoch_deadline();
            swap_state(r, inner);
            let value = match command {
                Command::Resume => COMMAND_RESUME,
                Command::Cancel => COMMAND_CANCEL,
            };
            let exit = arch::fiber_switch(addr_of_mut!((*r).host_sp), (*r).fiber_sp, value);
            (*inner).fiber = core::ptr::null_mut();
            (*inner).store_ptr = prev_store;
            if exit == EXIT_FINISHED {
                Exit::Finished((*r).status)
            } else {
                Exit::Suspended((*r).reason)
            }
        }
    }

    /// The value slots: arguments before the first run, results after the call finished.
    pub fn values(&self) -> &[ValRaw] {
        // SAFETY: the record is live while we own the stack; the fiber is not running (we hold
        // `&self` outside `run`).
        unsafe {
            let r = self.record.as_ptr();
            let values: &[ValRaw; FIBER_VALUES] = &(*r).values;
            &values[..(*r).count]
        }
    }

    /// Gives the stack back to the platform and the pool.
    ///
    /// # Safety
    /// The fiber has finished (its last switch back happened), or never ran.
    pub unsafe fn release(self, pool: &'static FiberPool, platform: &'static dyn Platform) {
        // SAFETY: nothing runs on the stack any more (caller's contract).
        unsafe { platform.fiber_stack_free(self.stack) };
        pool.give_back();
    }
}

/// Exchanges the activation bookkeeping between the store/thread and the record (module docs).
///
/// # Safety
/// `r` and `inner` are live.
unsafe fn swap_state(r: *mut FiberRecord, inner: *mut StoreInner) {
    // SAFETY: guaranteed by the caller.
    unsafe {
        core::mem::swap(&mut (*inner).activation, &mut (*r).activation);
        core::mem::swap(&mut (*inner).vm.stack_limit, &mut (*r).stack_limit);
        (*r).thread_activation = activation::replace((*r).thread_activation);
    }
}

/// The fiber's first frame: enters wasm with the record's jump buffer, records the status and
/// switches back to the host for the last time.
///
/// # Safety
/// Called only by the start stub of a stack prepared in [`Fiber::new`], with its record.
unsafe extern "C" fn fiber_main(record: *mut u8, _command: usize) -> ! {
    let r = record.cast::<FiberRecord>();
    // SAFETY: the record and its store are live while the fiber runs (the host switched in
    // from `Fiber::run`, which swapped the bookkeeping to the fiber's values: no activation).
    // The entry's jump buffer lives in the record, which stays in place until the stack is
    // released after the final switch below.
    unsafe {
        let inner = (*r).store;
        let jmpbuf = addr_of_mut!((*r).jmpbuf);
        (*inner).activation = jmpbuf;
        activation::replace(jmpbuf);
        let status = arch::entry(
            jmpbuf,
            (*r).array_call,
            (*r).callee_vmctx,
            core::ptr::null_mut(),
            addr_of_mut!((*r).values).cast::<ValRaw>(),
            (*r).count,
        );
        (*r).status = status;
        (*inner).activation = core::ptr::null();
        activation::replace(core::ptr::null());
        swap_state(r, inner);
        arch::fiber_switch(addr_of_mut!((*r).fiber_sp), (*r).host_sp, EXIT_FINISHED);
    }
    // Never resumed: the host releases the stack after this switch.
    #[allow(
        clippy::empty_loop,
        reason = "a finished fiber is never switched to again"
    )]
    loop {}
}

/// Why the running code cannot suspend.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CannotSuspend {
    /// No resumable call is running.
    NotResumable,
    /// The innermost activation is a nested entry, not the fiber's own.
    Nested,
    /// The call was cancelled.
    Cancelled,
}

/// Whether the code running now may suspend its fiber.
///
/// # Safety
/// `inner` is a live store record.
pub unsafe fn can_suspend(inner: *const StoreInner) -> Result<(), CannotSuspend> {
    // SAFETY: guaranteed by the caller; a non-null `fiber` is the running fiber's record.
    unsafe {
        let r = (*inner).fiber;
        if r.is_null() {
            return Err(CannotSuspend::NotResumable);
        }
        if (*r).cancelled {
            return Err(CannotSuspend::Cancelled);
        }
        if (*inner).activation != addr_of!((*r).jmpbuf) {
            return Err(CannotSuspend::Nested);
        }
    }
    Ok(())
}

/// Whether the running fiber (if any) was cancelled.
///
/// # Safety
/// `inner` is a live store record.
pub unsafe fn cancelled(inner: *const StoreInner) -> bool {
    // SAFETY: guaranteed by the caller.
    unsafe {
        let r = (*inner).fiber;
        !r.is_null() && (*r).cancelled
    }
}

/// Suspends the running fiber for `reason` and returns the host's command once switched back
/// in.
///
/// # Safety
/// `inner` is a live store record and [`can_suspend`] holds; the caller's frames (up to the
/// fiber's entry) stay valid while suspended, which they do: the stack is not released before
/// the fiber finishes.
pub unsafe fn suspend(inner: *mut StoreInner, reason: YieldReason) -> Command {
    // SAFETY: guaranteed by the caller; `fiber` is the running fiber's record, whose
    // `host_sp` is the host context `run` saved.
    unsafe {
        let r = (*inner).fiber;
        (*r).reason = reason;
        swap_state(r, inner);
        let command = arch::fiber_switch(addr_of_mut!((*r).fiber_sp), (*r).host_sp, EXIT_SUSPENDED);
        if command == COMMAND_CANCEL {
            Command::Cancel
        } else {
            Command::Resume
        }
    }
}
