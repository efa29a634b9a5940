//! Resumable calls: [`Func::call_resumable`], [`Store::resume`], [`Store::cancel`].
//!
//! A resumable call runs on a fiber stack from the engine's
//! [`FiberPool`](crate::FiberPool) (`EngineConfig::fiber_pool`), so it can stop in the middle
//! and return to the host:
//!
//! * out of fuel, with [`Store::on_out_of_fuel`]`(LimitPolicy::Yield)` (images compiled with
//!   fuel);
//! * at the epoch deadline, with [`Store::on_epoch_deadline`]`(LimitPolicy::Yield)` (images
//!   compiled with epoch checks);
//! * when a host function calls [`Caller::yield_now`](crate::Caller::yield_now).
//!
//! It then returns [`CallOutcome::Suspended`] with a [`ResumableCall`] handle and the
//! [`YieldReason`]. While suspended, the host may run other stores, add fuel
//! ([`Store::set_fuel`], [`Store::add_fuel`]), move the deadline
//! ([`Store::set_epoch_deadline`]), change policies, and read or write memories and globals;
//! **other calls into the same store are refused** ([`ResumeError::CallSuspended`]) until the
//! call finishes or is cancelled. [`Store::resume`] continues it (a limit is checked again
//! first: still out of fuel or past the deadline, it suspends again at once);
//! [`Store::cancel`] ends it: the suspension point returns a trap to wasm, the fiber unwinds
//! through the ordinary trap path, and its stack goes back to the pool. Dropping the store
//! cancels a suspended call the same way. The handle is a plain `Copy` token: dropping it
//! cancels nothing (the call stays suspended until `cancel`, or the store's drop), and
//! resuming or cancelling a call that already finished or was cancelled is
//! [`ResumeError::NotSuspended`].
//!
//! A trap inside the fiber finishes the call with that trap (`Err(Error::Trap)`), like a plain
//! call; so does a limit reached where the call cannot suspend (a nested activation). A store
//! has at most one suspended call; each costs one fiber stack until it finishes
//! ([`PlatformError::Exhausted`](crate::platform::PlatformError)`("fiber stacks")` when the
//! pool has none left).

use core::ptr::NonNull;

use crate::api::func::{Func, TypedFunc, WasmParams, WasmResults, status_to_result};
use crate::api::store::Store;
use crate::api::values::{MAX_FUNC_ARITY, Val};
use crate::arch;
use crate::error::{Error, ResumeError};
use crate::vm::ValRaw;
use crate::vm::fiber::{Command, Exit, Fiber, YieldReason};
use crate::vm::store::{StoreInner, SuspendedCall};
use crate::vm::vmctx::VMFuncRef;

/// A suspended resumable call of one store, for [`Store::resume`] and [`Store::cancel`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResumableCall {
    store: u64,
    id: u64,
}

/// How a resumable call (or its resumption) came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum CallOutcome {
    /// The call returned; its results are in the `results` slice.
    Finished,
    /// The call is suspended.
    Suspended {
        /// Handle for [`Store::resume`] and [`Store::cancel`].
        call: ResumableCall,
        /// Why it stopped.
        reason: YieldReason,
    },
}

impl Func {
    /// Calls the function on a fiber so that it can suspend (module documentation of
    /// `resumable`): `Ok(Finished)` with `results` written, `Ok(Suspended)` with a handle, or
    /// the error of the call (a trap ends the call like [`Func::call`]).
    ///
    /// Errors before anything runs: [`ResumeError::CallSuspended`] if a call of this store is
    /// suspended, [`ResumeError::Reentrant`] from inside a running call of this store (a host
    /// function), [`Error::Platform`] when the fiber pool or the platform has no stack.
    pub fn call_resumable<T>(
        &self,
        store: &mut Store<'_, T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<CallOutcome, Error> {
        if !arch::CAN_ENTER {
            return Err(Error::UnsupportedArch);
        }
        let ty = self.try_ty(store)?;
        if params.len() != ty.param_types().len() || results.len() != ty.result_types().len() {
            return Err(Error::TypeMismatch);
        }
        let inner: *mut StoreInner = store.inner_ptr()?.as_ptr();
        check_idle(inner)?;
        let mut buf = [ValRaw::default(); MAX_FUNC_ARITY];
        let count = params.len().max(results.len());
        for ((slot, v), t) in buf.iter_mut().zip(params).zip(ty.params()) {
            *slot = v.to_raw(t, self.store_id()).ok_or(Error::TypeMismatch)?;
        }
        let func_ref = NonNull::new(self.raw() as *mut VMFuncRef).ok_or(Error::NotCallable)?;
        let f = self.func_ref();
        if f.array_call == 0 {
            return Err(Error::NotCallable);
        }
        // SAFETY: `inner` is this store's live record; `array_call` is array-convention code of
        // this store (the funcref lives in its arena, its store id was checked by `try_ty`) and
        // `buf[..count]` has `max(params, results)` slots.
        let fiber = unsafe {
            Fiber::new(
                (*inner).fiber_pool,
                (*inner).platform,
                inner,
                f.array_call,
                f.vmctx,
                &buf[..count],
            )
        }?;
        run(
            store,
            inner,
            fiber,
            func_ref,
            None,
            Command::Resume,
            results,
        )
    }
}

/// How a [`TypedFunc::call_resumable`] (or [`TypedFunc::resume`]) came back: [`CallOutcome`]
/// with the results in place.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use]
pub enum TypedOutcome<R> {
    /// The call returned these results.
    Finished(R),
    /// The call is suspended.
    Suspended {
        /// Handle for [`TypedFunc::resume`], [`Store::resume`] and [`Store::cancel`].
        call: ResumableCall,
        /// Why it stopped.
        reason: YieldReason,
    },
}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// [`Func::call_resumable`] with typed parameters and results; the same errors.
    pub fn call_resumable<T>(
        &self,
        store: &mut Store<'_, T>,
        params: P,
    ) -> Result<TypedOutcome<R>, Error> {
        let func = self.func();
        let mut raw = [ValRaw::default(); MAX_FUNC_ARITY];
        params.store(&mut raw);
        let mut types = heapless::Vec::new();
        P::types(&mut types);
        let mut args = [Val::I32(0); MAX_FUNC_ARITY];
        for ((arg, raw), ty) in args.iter_mut().zip(raw).zip(types) {
            *arg = Val::from_raw(raw, ty, func.store_id());
        }
        let mut results = [Val::I32(0); MAX_FUNC_ARITY];
        let outcome = func.call_resumable(store, &args[..P::COUNT], &mut results[..R::COUNT])?;
        typed_outcome(func, outcome, &results[..R::COUNT])
    }

    /// [`Store::resume`] of a call of this function with typed results; the same errors, and
    /// [`Error::TypeMismatch`] (the call staying suspended) when `call` is a suspended call of
    /// another function.
    pub fn resume<T>(
        &self,
        store: &mut Store<'_, T>,
        call: ResumableCall,
    ) -> Result<TypedOutcome<R>, Error> {
        let func = self.func();
        let inner: *mut StoreInner = store.inner_ptr()?.as_ptr();
        // SAFETY: the record is live; these fields change only on this thread.
        let suspended = unsafe { (*inner).suspended.as_ref().map(|s| (s.id, s.func)) };
        if let Some((id, suspended_func)) = suspended
            && call.store == store.id()
            && id == call.id
            && suspended_func.as_ptr() as usize != func.raw()
        {
            return Err(Error::TypeMismatch);
        }
        let mut results = [Val::I32(0); MAX_FUNC_ARITY];
        let outcome = store.resume(call, &mut results[..R::COUNT])?;
        typed_outcome(func, outcome, &results[..R::COUNT])
    }
}

/// The typed form of `outcome`, the results read from `results`.
fn typed_outcome<R: WasmResults>(
    func: Func,
    outcome: CallOutcome,
    results: &[Val],
) -> Result<TypedOutcome<R>, Error> {
    Ok(match outcome {
        CallOutcome::Finished => {
            let mut raw = [ValRaw::default(); MAX_FUNC_ARITY];
            for (slot, v) in raw.iter_mut().zip(results) {
                *slot = v
                    .to_raw(v.ty(), func.store_id())
                    .ok_or(Error::TypeMismatch)?;
            }
            TypedOutcome::Finished(R::load(&raw))
        }
        CallOutcome::Suspended { call, reason } => TypedOutcome::Suspended { call, reason },
    })
}

impl<'m, T> Store<'m, T> {
    /// Resumes a suspended call (see [`Func::call_resumable`]): `results` must have room for
    /// exactly the function's results. [`ResumeError::NotSuspended`] if `call` is not this
    /// store's suspended call (it finished, was cancelled, or belongs to another store).
    pub fn resume(
        &mut self,
        call: ResumableCall,
        results: &mut [Val],
    ) -> Result<CallOutcome, Error> {
        let inner: *mut StoreInner = self.inner_ptr()?.as_ptr();
        let suspended = take_suspended(self, inner, call)?;
        let func = Func::new(self.id(), suspended.func);
        let fits = matches!(func.try_ty(self), Ok(ty) if ty.result_types().len() == results.len());
        if !fits {
            // Not resumed: the call stays suspended.
            // SAFETY: the record is live; we took the call out just above.
            unsafe { (*inner).suspended = Some(suspended) };
            return Err(Error::TypeMismatch);
        }
        run(
            self,
            inner,
            suspended.fiber,
            suspended.func,
            Some(suspended.id),
            Command::Resume,
            results,
        )
    }

    /// Cancels a suspended call: the point where it stopped returns a trap to its wasm code,
    /// which unwinds to the call's entry, and the fiber stack goes back to the pool. The store
    /// stays usable. [`ResumeError::NotSuspended`] if `call` is not this store's suspended call.
    pub fn cancel(&mut self, call: ResumableCall) -> Result<(), Error> {
        let inner: *mut StoreInner = self.inner_ptr()?.as_ptr();
        let suspended = take_suspended(self, inner, call)?;
        cancel_fiber(self, inner, suspended.fiber);
        Ok(())
    }

    /// The suspended call of this store, if any.
    pub fn suspended_call(&self) -> Option<ResumableCall> {
        let inner = self.inner_ptr().ok()?;
        // SAFETY: the record is live.
        let id = unsafe { (*inner.as_ptr()).suspended.as_ref() }?.id;
        Some(ResumableCall {
            store: self.id(),
            id,
        })
    }

    /// Cancels the suspended call, if any (for the store's drop).
    pub(crate) fn cancel_suspended(&mut self) {
        let Some(call) = self.suspended_call() else {
            return;
        };
        let _ = self.cancel(call);
    }
}

/// Refuses to start or resume while a call of the store is suspended or running.
fn check_idle(inner: *mut StoreInner) -> Result<(), Error> {
    // SAFETY: the record is live; these fields change only on this thread.
    unsafe {
        if !(*inner).activation.is_null() || !(*inner).fiber.is_null() {
            return Err(ResumeError::Reentrant.into());
        }
        if (*inner).suspended.is_some() {
            return Err(ResumeError::CallSuspended.into());
        }
    }
    Ok(())
}

fn take_suspended<T>(
    store: &Store<'_, T>,
    inner: *mut StoreInner,
    call: ResumableCall,
) -> Result<SuspendedCall, Error> {
    // SAFETY: the record is live; these fields change only on this thread.
    unsafe {
        if !(*inner).activation.is_null() || !(*inner).fiber.is_null() {
            return Err(ResumeError::Reentrant.into());
        }
        match &(*inner).suspended {
            Some(s) if call.store == store.id() && s.id == call.id => {}
            _ => return Err(ResumeError::NotSuspended.into()),
        }
        (*inner)
            .suspended
            .take()
            .ok_or(ResumeError::NotSuspended.into())
    }
}

/// Runs `fiber` with `command` until it suspends (kept in the store under `id`, or a fresh id)
/// or finishes (results written, stack released).
fn run<T>(
    store: &mut Store<'_, T>,
    inner: *mut StoreInner,
    fiber: Fiber,
    func: NonNull<VMFuncRef>,
    id: Option<u64>,
    command: Command,
    results: &mut [Val],
) -> Result<CallOutcome, Error> {
    let store_ptr = store as *mut Store<'_, T> as *mut ();
    // SAFETY: `inner` is the live record of this store, idle (checked by the callers), and
    // `store_ptr` is our `&mut Store`, not used by this frame until `run` returns. The fiber
    // belongs to this store and has not finished (finished fibers are released below and
    // never kept).
    let exit = unsafe { fiber.run(inner, store_ptr, command) };
    match exit {
        Exit::Suspended(reason) => {
            // SAFETY: the record is live; the fiber is switched out.
            let id = id.unwrap_or_else(|| unsafe {
                let id = (*inner).next_call_id;
                (*inner).next_call_id += 1;
                id
            });
            // SAFETY: as above.
            unsafe { (*inner).suspended = Some(SuspendedCall { id, fiber, func }) };
            Ok(CallOutcome::Suspended {
                call: ResumableCall {
                    store: store.id(),
                    id,
                },
                reason,
            })
        }
        Exit::Finished(status) => {
            let func = Func::new(store.id(), func);
            let ty = func.try_ty(store);
            let mut raw = [ValRaw::default(); MAX_FUNC_ARITY];
            let n = fiber.values().len();
            raw[..n].copy_from_slice(fiber.values());
            // SAFETY: the fiber finished: its last switch back happened.
            unsafe { fiber.release((*inner).fiber_pool, (*inner).platform) };
            status_to_result(inner, status)?;
            let ty = ty?;
            for ((out, raw), t) in results.iter_mut().zip(raw.iter()).zip(ty.results()) {
                *out = Val::from_raw(*raw, t, store.id());
            }
            Ok(CallOutcome::Finished)
        }
    }
}

/// Resumes `fiber` with [`Command::Cancel`] until it finishes (it never suspends again once
/// cancelled), then releases its stack.
fn cancel_fiber<T>(store: &mut Store<'_, T>, inner: *mut StoreInner, fiber: Fiber) {
    let store_ptr = store as *mut Store<'_, T> as *mut ();
    loop {
        // SAFETY: as in `run`.
        match unsafe { fiber.run(inner, store_ptr, Command::Cancel) } {
            Exit::Finished(_) => break,
            Exit::Suspended(_) => continue,
        }
    }
    // SAFETY: the record is live; the host error of the cancelled call is not reported.
    unsafe { (*inner).host_error = None };
    // SAFETY: the fiber finished: its last switch back happened.
    unsafe { fiber.release((*inner).fiber_pool, (*inner).platform) };
}
