//! The store's stable state: an arena of zeroed bytes that never moves, holding the
//! `StoreInner` record itself, every vmctx, table element array, record and host context.
//!
//! ```text
//! arena: [StoreInner][bump-allocated: type entries, instance records, vmctxs, tables, ...]
//! ```
//!
//! Nothing is ever freed before the store is dropped, so a pointer into the arena is valid for
//! the store's whole life; that is the invariant every raw pointer in `crate::vm` relies on.
//! Linear memories live in platform slots, listed here (`memories`) so the store can free them.

use core::ptr::NonNull;

use shared_types::TrapCode;
use shared_types::metadata::{GlobalType, MemoryType, TableType};
use shared_types::vmoffsets::FUEL_SLICE_MAX;

use crate::arch::JmpBuf;
use crate::error::{Error, HostError, limit};
use crate::platform::{MemorySlot, Platform};
use crate::vm::epoch::EpochCounter;
use crate::vm::fiber::{Fiber, FiberPool, FiberRecord, LimitPolicy};
use crate::vm::vmctx::VMFuncRef;
use crate::vm::vmctx::{VMGlobalDefinition, VMMemoryDefinition, VMStoreContext, VMTableDefinition};

/// Bump allocator over a zeroed region.
#[derive(Debug)]
pub struct Arena {
    base: *mut u8,
    len: usize,
    next: usize,
}

impl Arena {
    /// An arena over `[base, base + len)`.
    ///
    /// # Safety
    /// The region is valid for reads and writes, exclusively ours, for as long as the arena and
    /// any pointer it hands out are used.
    pub unsafe fn new(base: *mut u8, len: usize) -> Arena {
        Arena { base, len, next: 0 }
    }

    /// `size` zeroed bytes aligned to `align` (a power of two).
    pub fn alloc_bytes(&mut self, size: usize, align: usize) -> Option<NonNull<u8>> {
        let addr = (self.base as usize).checked_add(self.next)?;
        let start = addr.checked_next_multiple_of(align)? - self.base as usize;
        let end = start.checked_add(size)?;
        if end > self.len {
            return None;
        }
        self.next = end;
        let p = self.base.wrapping_add(start);
        // SAFETY: `[start, end)` lies inside the region (checked above) and was never handed
        // out before (the bump pointer only moves forward).
        unsafe { core::ptr::write_bytes(p, 0, size) };
        NonNull::new(p)
    }

    /// Moves `value` into the arena.
    pub fn alloc<T>(&mut self, value: T) -> Option<NonNull<T>> {
        let p = self
            .alloc_bytes(core::mem::size_of::<T>(), core::mem::align_of::<T>())?
            .cast::<T>();
        // SAFETY: fresh, aligned, sized for `T`.
        unsafe { p.as_ptr().write(value) };
        Some(p)
    }

    /// `n` copies of `fill`, contiguous.
    pub fn alloc_array<T: Copy>(&mut self, n: usize, fill: T) -> Option<NonNull<T>> {
        let size = core::mem::size_of::<T>().checked_mul(n)?;
        let p = self
            .alloc_bytes(size, core::mem::align_of::<T>())?
            .cast::<T>();
        for i in 0..n {
            // SAFETY: `i < n` elements fit in the fresh allocation.
            unsafe { p.as_ptr().add(i).write(fill) };
        }
        Some(p)
    }

    /// Bytes still free (ignoring alignment).
    pub fn remaining(&self) -> usize {
        self.len - self.next
    }
}

/// A linear memory of the store.
#[derive(Debug)]
pub struct MemoryRecord {
    /// The definition compiled code reads (inline in the defining vmctx, or in the arena for a
    /// host-created memory).
    pub def: *mut VMMemoryDefinition,
    /// Type.
    pub ty: MemoryType,
    /// The slot; `None` only while being set up.
    pub slot: Option<MemorySlot>,
    /// Next record of the store (for freeing).
    pub next: *mut MemoryRecord,
}

/// A table of the store.
#[derive(Debug)]
pub struct TableRecord {
    /// The definition compiled code reads.
    pub def: *mut VMTableDefinition,
    /// Type.
    pub ty: TableType,
    /// Elements allocated at `def.base`.
    pub capacity: u32,
}

/// A global of the store.
#[derive(Debug)]
pub struct GlobalRecord {
    /// The definition compiled code reads.
    pub def: *mut VMGlobalDefinition,
    /// Type.
    pub ty: GlobalType,
}

/// One canonical function type.
#[derive(Debug)]
pub struct TypeEntry {
    next: *mut TypeEntry,
    id: u32,
    params: *const u8,
    num_params: usize,
    results: *const u8,
    num_results: usize,
}

/// Process-unique store identities, so handles from one store are refused by another.
static NEXT_STORE_ID: core::sync::atomic::AtomicUsize = core::sync::atomic::AtomicUsize::new(1);

/// The part of a store that compiled code and libcalls reach through the vmctx.
#[repr(C)]
pub struct StoreInner {
    /// Read by compiled code through vmctx offset 0 (must stay the first field).
    pub vm: VMStoreContext,
    /// Identity.
    pub id: u64,
    /// Where everything else lives.
    pub arena: Arena,
    /// The board.
    pub platform: &'static dyn Platform,
    types: *mut TypeEntry,
    next_type_id: u32,
    /// Memories to free on drop.
    pub memories: *mut MemoryRecord,
    /// Innermost entry's jump buffer (null when no wasm runs).
    pub activation: *const JmpBuf,
    /// The public `Store<T>` while a call is in progress (null otherwise).
    pub store_ptr: *mut (),
    /// The error of the host function that failed last.
    pub host_error: Option<HostError>,
    /// Stack bytes wasm may use below the outermost entry.
    pub max_wasm_stack: usize,
    /// Bytes reserved per 32-bit memory with explicit bounds checks.
    pub memory_reservation: u64,
    /// Guard bytes around each memory slot.
    pub memory_guard: u64,
    /// The epoch counter deadlines are compared with: the engine's, or `own_epoch`
    /// (`vm.epoch_counter` points at its low word). Never null.
    pub epoch_counter: *const EpochCounter,
    /// This store's own counter, for engines without one.
    pub own_epoch: EpochCounter,
    /// The engine's fiber pool.
    pub fiber_pool: &'static FiberPool,
    /// The running fiber's record (null when no resumable call runs).
    pub fiber: *mut FiberRecord,
    /// The suspended resumable call, if any.
    pub suspended: Option<SuspendedCall>,
    /// Identity of the next resumable call.
    pub next_call_id: u64,
    /// What a fuel limit does.
    pub fuel_policy: LimitPolicy,
    /// What an epoch deadline does.
    pub epoch_policy: LimitPolicy,
    /// Fuel of the budget not in the slice (`vm.fuel`).
    pub fuel_reserve: u64,
    /// Fuel consumed and not paid for beyond what the slice shows: non-zero only in debt
    /// (after a call stopped on fuel with a deficit), with the slice at -1 and no reserve, so
    /// the debt is this plus 1 ([`StoreInner::fuel_debt`]).
    pub fuel_debt: u64,
    /// The full epoch deadline (`vm.epoch_deadline` is its low word, or the counter's when the
    /// deadline is more than 2^31 - 1 ticks ahead).
    pub epoch_deadline: u64,
}

/// A resumable call that suspended, kept by its store until it is resumed to its end or
/// cancelled.
#[derive(Debug)]
pub struct SuspendedCall {
    /// Identity (per store), named by the public handle.
    pub id: u64,
    /// The fiber holding the call's frames.
    pub fiber: Fiber,
    /// The function called (for its result types).
    pub func: NonNull<VMFuncRef>,
}

/// Limits copied from the engine configuration.
#[derive(Clone, Copy, Debug)]
pub struct StoreLimits {
    /// See [`StoreInner::max_wasm_stack`].
    pub max_wasm_stack: usize,
    /// See [`StoreInner::memory_reservation`].
    pub memory_reservation: u64,
    /// See [`StoreInner::memory_guard`].
    pub memory_guard: u64,
    /// The engine's counter (`None`: each store counts its own epochs).
    pub epoch_counter: Option<&'static EpochCounter>,
    /// See [`StoreInner::fiber_pool`].
    pub fiber_pool: &'static FiberPool,
}

impl StoreInner {
    /// Lays out a `StoreInner` at the start of the arena region and returns it.
    ///
    /// # Safety
    /// As for [`Arena::new`].
    pub unsafe fn create(
        base: *mut u8,
        len: usize,
        platform: &'static dyn Platform,
        limits: StoreLimits,
    ) -> Result<NonNull<StoreInner>, Error> {
        // SAFETY: forwarded from the caller.
        let mut arena = unsafe { Arena::new(base, len) };
        let slot = arena
            .alloc_bytes(
                core::mem::size_of::<StoreInner>(),
                core::mem::align_of::<StoreInner>(),
            )
            .ok_or(limit("store arena"))?
            .cast::<StoreInner>();
        let inner = StoreInner {
            vm: VMStoreContext {
                stack_limit: 0,
                _pad: [0; 8 - core::mem::size_of::<usize>()],
                fuel: 0,
                epoch_deadline: 0,
                epoch_counter: core::ptr::null(),
            },
            id: NEXT_STORE_ID.fetch_add(1, core::sync::atomic::Ordering::Relaxed) as u64,
            arena,
            platform,
            types: core::ptr::null_mut(),
            next_type_id: 1,
            memories: core::ptr::null_mut(),
            activation: core::ptr::null(),
            store_ptr: core::ptr::null_mut(),
            host_error: None,
            max_wasm_stack: limits.max_wasm_stack,
            memory_reservation: limits.memory_reservation,
            memory_guard: limits.memory_guard,
            epoch_counter: core::ptr::null(),
            own_epoch: EpochCounter::new(),
            fiber_pool: limits.fiber_pool,
            fiber: core::ptr::null_mut(),
            suspended: None,
            next_call_id: 1,
            fuel_policy: LimitPolicy::Trap,
            epoch_policy: LimitPolicy::Trap,
            fuel_reserve: 0,
            fuel_debt: 0,
            epoch_deadline: u64::MAX,
        };
        // SAFETY: fresh, aligned, sized for StoreInner. The arena moved into the record still
        // describes the same region with its bump pointer past the record itself.
        unsafe {
            slot.as_ptr().write(inner);
            let p = slot.as_ptr();
            (*p).epoch_counter = match limits.epoch_counter {
                Some(counter) => counter,
                None => core::ptr::addr_of!((*p).own_epoch),
            };
            (*p).vm.epoch_counter = (*(*p).epoch_counter).low_word();
            (*p).set_fuel(u64::MAX);
            (*p).sync_epoch_deadline();
        }
        Ok(slot)
    }

    /// The epoch counter this store's deadline is compared with.
    pub fn epochs(&self) -> &EpochCounter {
        // SAFETY: `epoch_counter` points at a `'static` counter or at `own_epoch` inside this
        // record, which never moves (set in `create`).
        unsafe { &*self.epoch_counter }
    }

    /// The fuel balance: the reserve plus the slice minus the recorded debt. Compiled code
    /// checks the slice only at function entry and loop headers (host compiler
    /// `module::fuel`), so between checks the slice may be negative: the blocks run since the
    /// last check are consumed, and a negative balance is a debt.
    fn fuel_balance(&self) -> i128 {
        i128::from(self.fuel_reserve) + i128::from(self.vm.fuel) - i128::from(self.fuel_debt)
    }

    /// Makes `balance` the fuel balance: a positive one as much as fits in the slice (at most
    /// `FUEL_SLICE_MAX`), the rest in the reserve; a negative one as a debt with the slice at
    /// -1, so that the next check (which may be at a block of cost 0) calls `OutOfFuel`.
    /// Saturates at `u64::MAX` either way.
    fn set_fuel_balance(&mut self, balance: i128) {
        if balance >= 0 {
            let slice = balance.min(i128::from(FUEL_SLICE_MAX));
            self.vm.fuel = slice as i32;
            self.fuel_reserve = u64::try_from(balance - slice).unwrap_or(u64::MAX);
            self.fuel_debt = 0;
        } else {
            self.vm.fuel = -1;
            self.fuel_reserve = 0;
            self.fuel_debt = u64::try_from(-balance - 1).unwrap_or(u64::MAX);
        }
    }

    /// Fuel left: the balance, 0 while in debt.
    pub fn fuel(&self) -> u64 {
        u64::try_from(self.fuel_balance().max(0)).unwrap_or(u64::MAX)
    }

    /// Fuel consumed and not paid for: the deficit of the balance, 0 unless in debt.
    pub fn fuel_debt(&self) -> u64 {
        u64::try_from((-self.fuel_balance()).max(0)).unwrap_or(u64::MAX)
    }

    /// Makes `fuel` the whole budget (and clears any debt).
    pub fn set_fuel(&mut self, fuel: u64) {
        self.set_fuel_balance(i128::from(fuel));
    }

    /// `Libcall::OutOfFuel`: at a check point (function entry or loop header) the slice,
    /// after subtracting the cost of the block that starts there, is negative. Pays the whole
    /// deficit (that block and the blocks run since the last check) from the reserve if it
    /// can (`Ok`). Otherwise the block of the check point is not run: its cost is given back
    /// and the balance of the blocks that did run is kept, a debt if negative (`Err`).
    pub fn pay_block(&mut self, cost: u32) -> Result<(), TrapCode> {
        let after = self.fuel_balance();
        if after >= 0 {
            self.set_fuel_balance(after);
            return Ok(());
        }
        self.set_fuel_balance(after + i128::from(cost));
        Err(TrapCode::OutOfFuel)
    }

    /// Charges the block of `cost` of a check point again after a suspension in
    /// `Libcall::OutOfFuel` (the balance was left as it was before the block, and the host may
    /// have changed it since): runs it if the balance pays it and any debt, else leaves the
    /// balance as it is (`Err`).
    pub fn charge_again(&mut self, cost: u32) -> Result<(), TrapCode> {
        let after = self.fuel_balance() - i128::from(cost);
        if after >= 0 {
            self.set_fuel_balance(after);
            Ok(())
        } else {
            Err(TrapCode::OutOfFuel)
        }
    }

    /// Adds `fuel` to the budget, paying any debt first; `Err` (nothing changed) if the
    /// budget would exceed `u64::MAX`.
    pub fn add_fuel(&mut self, fuel: u64) -> Result<(), ()> {
        let total = self.fuel_balance() + i128::from(fuel);
        if total > i128::from(u64::MAX) {
            return Err(());
        }
        self.set_fuel_balance(total);
        Ok(())
    }

    /// Sets the deadline word compiled code compares with the counter's low word: the
    /// deadline's own low word when it is less than 2^31 ticks ahead (so the wrapping 32-bit
    /// comparison is exact), otherwise a word 2^31 - 1 ticks ahead, at which compiled code asks
    /// [`StoreInner::epoch_reached`] and this is recomputed.
    pub fn sync_epoch_deadline(&mut self) {
        let now = self.epochs().get();
        let ahead = self.epoch_deadline.saturating_sub(now).min(i32::MAX as u64);
        self.vm.epoch_deadline = now.wrapping_add(ahead) as u32;
    }

    /// `Libcall::EpochDeadline`: whether the full deadline is reached; if not, the deadline
    /// word is recomputed.
    pub fn epoch_reached(&mut self) -> bool {
        if self.epochs().get() >= self.epoch_deadline {
            return true;
        }
        self.sync_epoch_deadline();
        false
    }

    /// The canonical id of a function type, registering it on first sight.
    pub fn intern_type(&mut self, params: &[u8], results: &[u8]) -> Result<u32, Error> {
        if let Some(id) = self.find_type(params, results) {
            return Ok(id);
        }
        let p = self
            .arena
            .alloc_bytes(params.len(), 1)
            .ok_or(limit("store arena"))?;
        let r = self
            .arena
            .alloc_bytes(results.len(), 1)
            .ok_or(limit("store arena"))?;
        // SAFETY: fresh allocations of exactly these lengths.
        unsafe {
            core::ptr::copy_nonoverlapping(params.as_ptr(), p.as_ptr(), params.len());
            core::ptr::copy_nonoverlapping(results.as_ptr(), r.as_ptr(), results.len());
        }
        let id = self.next_type_id;
        self.next_type_id = id.checked_add(1).ok_or(limit("type registry"))?;
        let entry = TypeEntry {
            next: self.types,
            id,
            params: p.as_ptr(),
            num_params: params.len(),
            results: r.as_ptr(),
            num_results: results.len(),
        };
        self.types = self
            .arena
            .alloc(entry)
            .ok_or(limit("store arena"))?
            .as_ptr();
        Ok(id)
    }

    fn find_type(&self, params: &[u8], results: &[u8]) -> Option<u32> {
        let mut e = self.types;
        while !e.is_null() {
            // SAFETY: type entries live in the arena for the store's life.
            let entry = unsafe { &*e };
            let (p, r) = entry_types(entry);
            if p == params && r == results {
                return Some(entry.id);
            }
            e = entry.next;
        }
        None
    }

    /// Parameter and result type codes of a canonical id.
    pub fn type_of(&self, id: u32) -> Option<(&[u8], &[u8])> {
        let mut e = self.types;
        while !e.is_null() {
            // SAFETY: as in `find_type`.
            let entry = unsafe { &*e };
            if entry.id == id {
                return Some(entry_types(entry));
            }
            e = entry.next;
        }
        None
    }

    /// Creates a memory of type `ty` in a platform slot, recorded for freeing on drop.
    ///
    /// The slot holds `min(maximum, memory_reservation)` bytes; for a 32-bit memory with 64 KiB
    /// pages and a nonzero `min_reservation` (the bytes guard-elided code relies on: reservation
    /// plus back guard) at least `min_reservation - memory_guard`, refused with
    /// `InstantiationError::GuardReservation` if that exceeds `memory_reservation`. A memory whose minimum does not fit is refused
    /// with [`InstantiationError::MemoryTooLarge`](crate::error::InstantiationError) before
    /// anything is reserved; `index` names it in that error.
    pub fn new_memory(
        &mut self,
        ty: MemoryType,
        def: Option<*mut VMMemoryDefinition>,
        min_reservation: u64,
        index: Option<u32>,
    ) -> Result<NonNull<MemoryRecord>, Error> {
        use crate::error::InstantiationError as IE;
        if ty.shared {
            return Err(IE::Unsupported("shared memory").into());
        }
        if ty.page_size_log2 > 16 {
            return Err(IE::Unsupported("page size").into());
        }
        let page = ty.page_size();
        let absolute_max_bytes: u64 = if ty.index64 { u64::MAX } else { 1u64 << 32 };
        let initial = ty
            .min
            .checked_mul(page)
            .filter(|b| *b <= absolute_max_bytes)
            .ok_or(limit("memory size"))?;
        let max_bytes = ty
            .max
            .and_then(|m| m.checked_mul(page))
            .unwrap_or(absolute_max_bytes)
            .min(absolute_max_bytes);
        // Guard-elided code needs `min_reservation` bytes from the base to be reservation or
        // back guard; `Module::new` checked that it fits the engine's reservation + guard, so
        // the slot never grows past `memory_reservation`. Memory64 and custom page sizes are
        // always explicitly checked.
        let needs_guard = min_reservation > 0 && !ty.index64 && ty.page_size_log2 == 16;
        let mut reservation = max_bytes.min(self.memory_reservation);
        if needs_guard {
            let needed = min_reservation.saturating_sub(self.memory_guard);
            if needed > self.memory_reservation {
                return Err(IE::GuardReservation {
                    index: index.unwrap_or(0),
                    required: min_reservation,
                    available: self.memory_reservation.saturating_add(self.memory_guard),
                }
                .into());
            }
            reservation = reservation.max(needed);
        }
        if initial > reservation {
            // Never widen the slot past the configured reservation for a large minimum: on a
            // device that would overcommit the address space (or RAM) the board budgeted.
            return Err(IE::MemoryTooLarge {
                index,
                minimum: initial,
                reservation,
            }
            .into());
        }
        let slot = self
            .platform
            .memory_alloc(reservation, self.memory_guard, initial)
            .map_err(|e| Error::Instantiate(IE::Platform(e)))?;
        let def = match def {
            Some(d) => d,
            None => match self.arena.alloc(VMMemoryDefinition {
                base: core::ptr::null_mut(),
                length: 0,
            }) {
                Some(d) => d.as_ptr(),
                None => {
                    // SAFETY: the slot is ours and unused.
                    unsafe { self.platform.memory_free(slot) };
                    return Err(limit("store arena"));
                }
            },
        };
        // SAFETY: `def` points at a definition inside this store's arena (a vmctx or fresh).
        unsafe {
            def.write(VMMemoryDefinition {
                base: slot.base.as_ptr(),
                length: initial,
            })
        };
        let record = MemoryRecord {
            def,
            ty,
            slot: Some(slot),
            next: self.memories,
        };
        match self.arena.alloc(record) {
            Some(r) => {
                self.memories = r.as_ptr();
                Ok(r)
            }
            None => Err(limit("store arena")),
        }
    }

    /// Creates a table of type `ty` filled with `init`.
    pub fn new_table(
        &mut self,
        ty: TableType,
        def: Option<*mut VMTableDefinition>,
        init: usize,
    ) -> Result<NonNull<TableRecord>, Error> {
        let min = u32::try_from(ty.min).map_err(|_| limit("table size"))?;
        let base = self
            .arena
            .alloc_array::<usize>(min as usize, init)
            .ok_or(limit("store arena"))?;
        let def = match def {
            Some(d) => d,
            None => self
                .arena
                .alloc(VMTableDefinition {
                    base: core::ptr::null_mut(),
                    length: 0,
                })
                .ok_or(limit("store arena"))?
                .as_ptr(),
        };
        // SAFETY: `def` points at a definition inside this store's arena.
        unsafe {
            def.write(VMTableDefinition {
                base: base.as_ptr(),
                length: min,
            })
        };
        self.arena
            .alloc(TableRecord {
                def,
                ty,
                capacity: min,
            })
            .ok_or(limit("store arena"))
    }

    /// Creates a global record over `def` (or fresh storage) holding `value`.
    pub fn new_global(
        &mut self,
        ty: GlobalType,
        def: Option<*mut VMGlobalDefinition>,
        value: crate::vm::ValRaw,
    ) -> Result<NonNull<GlobalRecord>, Error> {
        let def = match def {
            Some(d) => d,
            None => self
                .arena
                .alloc(VMGlobalDefinition::default())
                .ok_or(limit("store arena"))?
                .as_ptr(),
        };
        // SAFETY: `def` points at a definition inside this store's arena.
        unsafe { def.write(VMGlobalDefinition { value }) };
        self.arena
            .alloc(GlobalRecord { def, ty })
            .ok_or(limit("store arena"))
    }

    /// Frees every memory slot. Called once, when the store is dropped.
    ///
    /// # Safety
    /// No wasm code of this store runs or will run, and no memory handle is used afterwards.
    pub unsafe fn free_memories(&mut self) {
        let mut m = self.memories;
        while !m.is_null() {
            // SAFETY: records live in the arena; the caller guarantees the slots are unused.
            unsafe {
                if let Some(slot) = (*m).slot.take() {
                    self.platform.memory_free(slot);
                }
                m = (*m).next;
            }
        }
        self.memories = core::ptr::null_mut();
    }
}

fn entry_types(entry: &TypeEntry) -> (&[u8], &[u8]) {
    // SAFETY: the entry's byte arrays were copied into the arena by `intern_type` with these
    // lengths and are never written again.
    unsafe {
        (
            core::slice::from_raw_parts(entry.params, entry.num_params),
            core::slice::from_raw_parts(entry.results, entry.num_results),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::NoPlatform;

    #[repr(C, align(16))]
    struct Buf([u8; 8192]);

    fn limits() -> StoreLimits {
        StoreLimits {
            max_wasm_stack: 1 << 16,
            memory_reservation: 1 << 20,
            memory_guard: 0,
            epoch_counter: None,
            fiber_pool: &crate::vm::fiber::DEFAULT_FIBER_POOL,
        }
    }

    #[test]
    fn registry_is_structural() {
        let mut buf = Buf([0xAA; 8192]);
        // SAFETY: the buffer outlives the store inner.
        let inner =
            unsafe { StoreInner::create(buf.0.as_mut_ptr(), buf.0.len(), &NoPlatform, limits()) }
                .unwrap();
        // SAFETY: exclusively ours for this test.
        let inner = unsafe { &mut *inner.as_ptr() };
        let a = inner.intern_type(&[0, 1], &[0]).unwrap();
        let b = inner.intern_type(&[0, 1], &[0]).unwrap();
        let c = inner.intern_type(&[0], &[0, 1]).unwrap();
        let d = inner.intern_type(&[], &[]).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(c, d);
        assert_eq!(inner.type_of(c), Some((&[0u8][..], &[0u8, 1][..])));
        assert_eq!(inner.type_of(999), None);
    }

    #[test]
    fn arena_exhaustion_is_an_error() {
        let mut buf = Buf([0; 8192]);
        // SAFETY: the buffer outlives the store inner.
        let inner =
            unsafe { StoreInner::create(buf.0.as_mut_ptr(), 1024, &NoPlatform, limits()) }.unwrap();
        // SAFETY: exclusively ours for this test.
        let inner = unsafe { &mut *inner.as_ptr() };
        let big = [0u8; 600];
        assert!(matches!(
            inner.intern_type(&big, &big),
            Err(Error::ResourceLimit { .. })
        ));
        assert!(inner.arena.alloc_bytes(usize::MAX, 8).is_none());
        let ty = TableType {
            element: 5,
            min: 1 << 20,
            max: None,
            index64: false,
        };
        assert!(matches!(
            inner.new_table(ty, None, 0),
            Err(Error::ResourceLimit { .. })
        ));
    }

    #[test]
    fn a_memory_minimum_beyond_the_reservation_is_refused_before_the_platform_is_asked() {
        use crate::error::InstantiationError;
        let mut buf = Buf([0; 8192]);
        // SAFETY: the buffer outlives the store inner.
        let inner =
            unsafe { StoreInner::create(buf.0.as_mut_ptr(), buf.0.len(), &NoPlatform, limits()) }
                .unwrap();
        // SAFETY: exclusively ours for this test.
        let inner = unsafe { &mut *inner.as_ptr() };
        let ty = |min: u64, max: Option<u64>| MemoryType {
            min,
            max,
            index64: false,
            page_size_log2: 16,
            shared: false,
        };
        // 1 MiB reservation (see `limits`): 17 pages do not fit, with or without a maximum, and
        // the slot is never widened to the minimum (NoPlatform would say "Unsupported").
        for max in [None, Some(100), Some(17)] {
            assert_eq!(
                inner.new_memory(ty(17, max), None, 0, Some(3)).unwrap_err(),
                Error::Instantiate(InstantiationError::MemoryTooLarge {
                    index: Some(3),
                    minimum: 17 << 16,
                    reservation: 1 << 20,
                })
            );
        }
        // A guard reservation (guard-elided code) never widens the slot past the reservation
        // plus guard: refused with the typed error naming both.
        assert_eq!(
            inner.new_memory(ty(1, Some(1)), None, 2 << 20, Some(0)),
            Err(Error::Instantiate(InstantiationError::GuardReservation {
                index: 0,
                required: 2 << 20,
                available: 1 << 20,
            }))
        );
        // One that fits widens a small-maximum slot to it: the platform is asked.
        assert!(matches!(
            inner.new_memory(ty(1, Some(1)), None, 1 << 20, None),
            Err(Error::Instantiate(InstantiationError::Platform(_)))
        ));
        // 16 pages fit exactly: the platform is asked (and, here, refuses).
        assert!(matches!(
            inner.new_memory(ty(16, None), None, 0, None),
            Err(Error::Instantiate(InstantiationError::Platform(_)))
        ));
        // An overflowing minimum is a resource limit, not a panic.
        assert!(matches!(
            inner.new_memory(ty(u64::MAX, None), None, 0, None),
            Err(Error::ResourceLimit { .. })
        ));
    }
}
