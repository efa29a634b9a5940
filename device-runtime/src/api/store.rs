//! The store: owner of instances, memories, tables, globals and the embedder's data.

use core::marker::PhantomData;
use core::ptr::NonNull;

use crate::api::engine::Engine;
use crate::error::Error;
use crate::platform::{ArenaRegion, Platform};
use crate::vm::store::{StoreInner, StoreLimits};

/// Everything instantiated from modules borrowed for `'m`, plus embedder data `T`.
///
/// Without an allocator the store's records live in one arena that never moves: taken from the
/// platform by [`Store::new`] (hosted: a lazily committed mapping of
/// `EngineConfig::store_arena_size` bytes) or provided by the caller with
/// [`Store::with_arena`] (a board's static buffer). Linear memories live in platform slots.
/// Exhausting the arena is [`Error::ResourceLimit`].
pub struct Store<'m, T> {
    inner: Option<NonNull<StoreInner>>,
    owned_arena: Option<ArenaRegion>,
    platform: &'static dyn Platform,
    data: T,
    _marker: PhantomData<(&'m (), *mut ())>,
}

impl<T: core::fmt::Debug> core::fmt::Debug for Store<'_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Store")
            .field("id", &self.id())
            .field("data", &self.data)
            .finish_non_exhaustive()
    }
}

fn limits(engine: &Engine) -> StoreLimits {
    StoreLimits {
        // Clamped: the fuel slice's no-wrap bound counts the frames this much stack holds.
        max_wasm_stack: engine
            .config
            .max_wasm_stack
            .min(shared_types::vmoffsets::MAX_WASM_STACK as usize),
        memory_reservation: engine.config.memory_reservation,
        memory_guard: engine.config.memory_guard,
        epoch_counter: engine.config.epoch_counter,
        fiber_pool: engine.config.fiber_pool,
    }
}

impl<'m, T> Store<'m, T> {
    /// A store with an arena from the engine's platform. If the platform cannot provide one,
    /// the store is unusable and every operation on it returns [`Error::ResourceLimit`]; use
    /// [`Store::try_new`] to see that error at once.
    pub fn new(engine: &Engine, data: T) -> Self {
        match Store::<T>::try_new_inner(engine) {
            Ok((inner, region)) => Store {
                inner: Some(inner),
                owned_arena: Some(region),
                platform: engine.config.platform,
                data,
                _marker: PhantomData,
            },
            Err(_) => Store {
                inner: None,
                owned_arena: None,
                platform: engine.config.platform,
                data,
                _marker: PhantomData,
            },
        }
    }

    /// Like [`Store::new`], reporting a platform failure.
    pub fn try_new(engine: &Engine, data: T) -> Result<Self, Error> {
        let (inner, region) = Store::<T>::try_new_inner(engine)?;
        Ok(Store {
            inner: Some(inner),
            owned_arena: Some(region),
            platform: engine.config.platform,
            data,
            _marker: PhantomData,
        })
    }

    fn try_new_inner(engine: &Engine) -> Result<(NonNull<StoreInner>, ArenaRegion), Error> {
        let platform = engine.config.platform;
        let region = platform
            .arena_alloc(engine.config.store_arena_size)
            .map_err(Error::Platform)?;
        // SAFETY: the platform hands out a fresh region exclusively ours until `arena_free`,
        // which happens in `Drop` after the last use.
        match unsafe {
            StoreInner::create(region.base.as_ptr(), region.len, platform, limits(engine))
        } {
            Ok(inner) => Ok((inner, region)),
            Err(e) => {
                // SAFETY: nothing uses the region.
                unsafe { platform.arena_free(region) };
                Err(e)
            }
        }
    }

    /// A store over a caller-provided arena (for example a `static mut` buffer on a board).
    pub fn with_arena(engine: &Engine, data: T, arena: &'m mut [u8]) -> Result<Self, Error> {
        // SAFETY: the exclusive borrow lasts for 'm, which outlives the store.
        let inner = unsafe {
            StoreInner::create(
                arena.as_mut_ptr(),
                arena.len(),
                engine.config.platform,
                limits(engine),
            )
        }?;
        Ok(Store {
            inner: Some(inner),
            owned_arena: None,
            platform: engine.config.platform,
            data,
            _marker: PhantomData,
        })
    }

    /// The embedder's data.
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The embedder's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        &mut self.data
    }

    /// Consumes the store and returns the data.
    pub fn into_data(self) -> T
    where
        T: Default,
    {
        let mut s = self;
        core::mem::take(&mut s.data)
    }

    /// Bytes left in the arena.
    pub fn arena_remaining(&self) -> usize {
        // SAFETY: the inner record lives as long as the store.
        self.inner
            .map_or(0, |i| unsafe { (*i.as_ptr()).arena.remaining() })
    }

    /// Sets the fuel available to code of images compiled with fuel metering (a new store
    /// has `u64::MAX`), replacing the budget and clearing any debt ([`Store::fuel_debt`]).
    ///
    /// Compiled code charges every basic block its cost but checks the budget only at
    /// function entries and loop headers. A call stops with
    /// [`TrapCode::OutOfFuel`](shared_types::TrapCode) (or suspends, with
    /// [`LimitPolicy::Yield`](crate::LimitPolicy)) at the first check that finds the budget
    /// unable to pay for everything run since the previous check plus the block that starts
    /// there; that block is not run. The blocks that ran are consumed all the same: when they
    /// cost more than the budget, [`Store::get_fuel`] shows 0 and the rest is a debt.
    pub fn set_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        let inner = self.inner_ptr()?;
        // SAFETY: no wasm runs (we hold `&mut self`), so nothing else accesses the record.
        unsafe { (*inner.as_ptr()).set_fuel(fuel) };
        Ok(())
    }

    /// Fuel left (0 while in debt).
    pub fn get_fuel(&self) -> Result<u64, Error> {
        let inner = self.inner_ptr()?;
        // SAFETY: as in `set_fuel`.
        Ok(unsafe { (*inner.as_ptr()).fuel() })
    }

    /// The fuel consumed beyond the budget and not paid yet: after a call stopped on fuel
    /// whose blocks since the last check cost more than the budget left (see
    /// [`Store::set_fuel`]); 0 otherwise. [`Store::add_fuel`] pays it first,
    /// [`Store::set_fuel`] clears it. A resumable call suspended on fuel resumes only once the
    /// debt and the block it stopped at are paid.
    pub fn fuel_debt(&self) -> Result<u64, Error> {
        let inner = self.inner_ptr()?;
        // SAFETY: as in `set_fuel`.
        Ok(unsafe { (*inner.as_ptr()).fuel_debt() })
    }

    /// Adds `fuel` to the budget: it pays the debt first ([`Store::fuel_debt`]), the rest
    /// becomes budget. [`Error::ResourceLimit`] (and the budget unchanged) if the budget would
    /// exceed `u64::MAX`.
    pub fn add_fuel(&mut self, fuel: u64) -> Result<(), Error> {
        let inner = self.inner_ptr()?;
        // SAFETY: as in `set_fuel`.
        unsafe { (*inner.as_ptr()).add_fuel(fuel) }.map_err(|()| Error::ResourceLimit {
            what: "fuel (u64 overflow)",
        })
    }

    /// Sets the epoch deadline `ticks` epochs after the current epoch (the engine's counter,
    /// or the store's own if the engine has none): code of images
    /// compiled with epoch checks stops at the first function entry or loop header that sees
    /// the epoch at or past it, with [`TrapCode::Interrupted`](shared_types::TrapCode) or, with
    /// [`LimitPolicy::Yield`](crate::LimitPolicy), by suspending a resumable call. A new store
    /// has no deadline. Allowed while a call of this store is suspended (it then applies when
    /// the call resumes).
    pub fn set_epoch_deadline(&mut self, ticks: u64) -> Result<(), Error> {
        let inner = self.inner_ptr()?.as_ptr();
        // SAFETY: as in `set_fuel`.
        unsafe {
            (*inner).epoch_deadline = (*inner).epochs().get().saturating_add(ticks);
            (*inner).sync_epoch_deadline();
        }
        Ok(())
    }

    /// Advances the epoch this store's deadline is compared with by one tick: the engine's
    /// counter if [`EngineConfig::epoch_counter`](crate::EngineConfig::epoch_counter) names one
    /// (every store of the engine sees the tick), else this store's own.
    pub fn increment_epoch(&mut self) -> Result<(), Error> {
        let inner = self.inner_ptr()?.as_ptr();
        // SAFETY: as in `set_fuel`.
        unsafe { (*inner).epochs().increment() };
        Ok(())
    }

    /// What a call that runs out of fuel does: trap (the default) or suspend a resumable call
    /// ([`LimitPolicy`](crate::LimitPolicy)).
    pub fn on_out_of_fuel(&mut self, policy: crate::LimitPolicy) -> Result<(), Error> {
        let inner = self.inner_ptr()?.as_ptr();
        // SAFETY: as in `set_fuel`.
        unsafe { (*inner).fuel_policy = policy };
        Ok(())
    }

    /// What a call that reaches the epoch deadline does: trap (the default) or suspend a
    /// resumable call ([`LimitPolicy`](crate::LimitPolicy)).
    pub fn on_epoch_deadline(&mut self, policy: crate::LimitPolicy) -> Result<(), Error> {
        let inner = self.inner_ptr()?.as_ptr();
        // SAFETY: as in `set_fuel`.
        unsafe { (*inner).epoch_policy = policy };
        Ok(())
    }

    pub(crate) fn inner_ptr(&self) -> Result<NonNull<StoreInner>, Error> {
        self.inner.ok_or(Error::ResourceLimit {
            what: "store arena",
        })
    }

    /// The store's identity (0 for an unusable store).
    pub(crate) fn id(&self) -> u64 {
        // SAFETY: the inner record lives as long as the store.
        self.inner.map_or(0, |i| unsafe { (*i.as_ptr()).id })
    }

    /// Checks that an item belongs to this store.
    pub(crate) fn check(&self, store_id: u64) -> Result<NonNull<StoreInner>, Error> {
        let inner = self.inner_ptr()?;
        if self.id() != store_id {
            return Err(Error::WrongStore);
        }
        Ok(inner)
    }
}

// SAFETY: the arena and memory slots behind the raw pointers are owned by this store alone
// and only reached through `&Store`/`&mut Store` (or by wasm running inside a call, which
// borrows the store mutably); no activation outlives a call, so moving the store to another
// thread between calls moves everything it owns.
unsafe impl<T: Send> Send for Store<'_, T> {}

impl<T> Drop for Store<'_, T> {
    fn drop(&mut self) {
        // A suspended call's fiber is cancelled (it unwinds through the trap path) and its
        // stack given back before anything is freed.
        self.cancel_suspended();
        let Some(inner) = self.inner.take() else {
            return;
        };
        // SAFETY: the record lives in the arena, which is still allocated.
        let active = unsafe { !(*inner.as_ptr()).activation.is_null() };
        if active {
            // The store was moved out from under a running call (`mem::replace` through a
            // `Caller`): wasm frames still use its arena and memories, so leak them.
            return;
        }
        // SAFETY: no wasm of this store runs; handles cannot outlive the store's data in any
        // way that is dereferenced without `&Store`, which no longer exists.
        unsafe { (*inner.as_ptr()).free_memories() };
        if let Some(region) = self.owned_arena.take() {
            // SAFETY: the arena came from this platform and nothing uses it any more.
            unsafe { self.platform.arena_free(region) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::engine::EngineConfig;

    #[test]
    fn max_wasm_stack_is_clamped_to_the_bound_the_fuel_slice_needs() {
        let cap = shared_types::vmoffsets::MAX_WASM_STACK as usize;
        for (asked, got) in [(4096, 4096), (cap, cap), (cap + 1, cap), (usize::MAX, cap)] {
            let config = EngineConfig {
                max_wasm_stack: asked,
                ..EngineConfig::default()
            };
            let engine = Engine::new(&config);
            assert_eq!(limits(&engine).max_wasm_stack, got, "asked for {asked}");
        }
    }
}
