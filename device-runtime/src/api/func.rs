//! Functions: calling into wasm, typed calls, and host functions without an allocator.
//!
//! # Entering wasm
//!
//! [`Func::call`] converts the arguments into a `ValRaw` buffer and goes through
//! [`call_raw`]: it pushes an activation (jump buffer) onto the store's chain and the thread's
//! fault-hook slot, sets the stack limit on the outermost entry, and calls the function's
//! `array_call` through `arch::entry`. A trap unwinds to that entry, which returns the trap code.
//!
//! # Host functions
//!
//! A host function is called by compiled code through a wasm-to-array trampoline in the
//! importing image, with `callee_vmctx` pointing at a [`HostContext`] in the store arena whose
//! first word is the array-convention shim. Typed host functions ([`Linker::func_wrap`]) must be
//! zero-sized closures (checked at compile time): the monomorphized shim conjures the closure
//! from its type, so nothing needs to be stored or allocated. State lives in the store data,
//! reached through [`Caller::data_mut`].
//!
//! [`Linker::func_wrap`]: crate::Linker::func_wrap

use core::marker::PhantomData;
use core::ptr::NonNull;

use shared_types::{TrapCode, ValType};

use crate::api::externals::Extern;
use crate::api::instance::Instance;
use crate::api::store::Store;
use crate::api::values::{ExternRef, FuncType, MAX_FUNC_ARITY, Val};
use crate::arch::{self, ArrayCall, JmpBuf};
use crate::error::{Error, HostError, ResumeError, Trap};
use crate::vm::ValRaw;
use crate::vm::activation;
use crate::vm::fiber::{self, Command, YieldReason};
use crate::vm::libcalls::INVALID_TRAP_STATUS;
use crate::vm::store::StoreInner;
use crate::vm::vmctx::VMFuncRef;

/// A function of a store (defined in an instance, or a host function imported by one).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Func {
    store: u64,
    ptr: NonNull<VMFuncRef>,
}

impl Func {
    pub(crate) fn new(store: u64, ptr: NonNull<VMFuncRef>) -> Func {
        Func { store, ptr }
    }
    pub(crate) fn store_id(&self) -> u64 {
        self.store
    }
    pub(crate) fn raw(&self) -> usize {
        self.ptr.as_ptr() as usize
    }
    pub(crate) fn from_raw(store: u64, raw: usize) -> Option<Func> {
        NonNull::new(raw as *mut VMFuncRef).map(|ptr| Func { store, ptr })
    }
    pub(crate) fn func_ref(&self) -> VMFuncRef {
        // SAFETY: callers checked the store id against a live store; funcrefs live in its arena.
        unsafe { self.ptr.as_ptr().read() }
    }

    /// The function's type. A function of another store has the empty type `() -> ()`.
    pub fn ty<T>(&self, store: &Store<'_, T>) -> FuncType {
        self.try_ty(store).unwrap_or_else(|_| FuncType::new([], []))
    }

    pub(crate) fn try_ty<T>(&self, store: &Store<'_, T>) -> Result<FuncType, Error> {
        let inner = store.check(self.store)?;
        let id = self.func_ref().type_id;
        // SAFETY: the store is live and not running wasm that could mutate the registry
        // (we hold `&Store`).
        let (p, r) = unsafe { (*inner.as_ptr()).type_of(id) }.ok_or(Error::TypeMismatch)?;
        FuncType::from_codes(p, r).ok_or(Error::ResourceLimit {
            what: "function arity",
        })
    }

    /// Calls the function. `results` must have room for exactly the function's results.
    pub fn call<T>(
        &self,
        store: &mut Store<'_, T>,
        params: &[Val],
        results: &mut [Val],
    ) -> Result<(), Error> {
        let ty = self.try_ty(store)?;
        if params.len() != ty.param_types().len() || results.len() != ty.result_types().len() {
            return Err(Error::TypeMismatch);
        }
        let mut buf = [ValRaw::default(); MAX_FUNC_ARITY];
        let count = params.len().max(results.len());
        for ((slot, v), t) in buf.iter_mut().zip(params).zip(ty.params()) {
            *slot = v.to_raw(t, self.store).ok_or(Error::TypeMismatch)?;
        }
        call_raw(store, self.ptr, &mut buf[..count])?;
        for ((out, raw), t) in results.iter_mut().zip(buf.iter()).zip(ty.results()) {
            *out = Val::from_raw(*raw, t, self.store);
        }
        Ok(())
    }

    /// A typed view of this function, if its type is exactly `P -> R`.
    pub fn typed<P: WasmParams, R: WasmResults>(
        &self,
        store: &Store<'_, impl Sized>,
    ) -> Result<TypedFunc<P, R>, Error> {
        let ty = self.try_ty(store)?;
        if !P::matches(ty.param_types()) || !R::matches(ty.result_types()) {
            return Err(Error::TypeMismatch);
        }
        Ok(TypedFunc {
            func: *self,
            _marker: PhantomData,
        })
    }
}

/// Calls `func_ref`'s array entry with `values` (arguments in, results out).
pub(crate) fn call_raw<T>(
    store: &mut Store<'_, T>,
    func_ref: NonNull<VMFuncRef>,
    values: &mut [ValRaw],
) -> Result<(), Error> {
    if !arch::CAN_ENTER {
        return Err(Error::UnsupportedArch);
    }
    let inner: *mut StoreInner = store.inner_ptr()?.as_ptr();
    // SAFETY: the record is live; these fields change only on this thread.
    unsafe {
        if (*inner).suspended.is_some() {
            return Err(ResumeError::CallSuspended.into());
        }
        if fiber::cancelled(inner) {
            return Err(ResumeError::Cancelled.into());
        }
    }
    // SAFETY: the funcref lives in this store's arena (callers checked the store id).
    let f = unsafe { func_ref.as_ptr().read() };
    if f.array_call == 0 {
        return Err(Error::NotCallable);
    }
    let store_ptr = store as *mut Store<'_, T> as *mut ();
    let mut jmpbuf = JmpBuf::default();
    let jmpbuf_ptr: *mut JmpBuf = &mut jmpbuf;
    let stack_marker = 0u8;
    let sp = core::ptr::addr_of!(stack_marker) as usize;
    // From here until the entry returns, the store is only reached through raw pointers: wasm
    // code, libcalls and host shims use `inner` and `store_ptr` concurrently with this frame.
    // SAFETY: `inner` is the live store record; we restore every field we change.
    let status = unsafe {
        let prev_activation = (*inner).activation;
        let prev_store = (*inner).store_ptr;
        let prev_limit = (*inner).vm.stack_limit;
        if prev_activation.is_null() {
            (*inner).vm.stack_limit = sp.saturating_sub((*inner).max_wasm_stack);
            // Keep the deadline word within 2^31 ticks of the counter whenever wasm is entered.
            (*inner).sync_epoch_deadline();
        }
        (*inner).activation = jmpbuf_ptr;
        (*inner).store_ptr = store_ptr;
        let prev_thread = activation::replace(jmpbuf_ptr);
        // SAFETY: `array_call` is array-convention code of this store (a trampoline in a loaded
        // image or a host shim) and `values` has `max(params, results)` slots, checked by the
        // callers against the function type; `jmpbuf` stays in place until `entry` returns.
        let status = arch::entry(
            jmpbuf_ptr,
            f.array_call,
            f.vmctx,
            core::ptr::null_mut(),
            values.as_mut_ptr(),
            values.len(),
        );
        activation::replace(prev_thread);
        (*inner).activation = prev_activation;
        (*inner).store_ptr = prev_store;
        (*inner).vm.stack_limit = prev_limit;
        status
    };
    status_to_result(inner, status)
}

pub(crate) fn status_to_result(inner: *mut StoreInner, status: u32) -> Result<(), Error> {
    if status == 0 {
        return Ok(());
    }
    if status == arch::UNSUPPORTED_STATUS {
        return Err(Error::UnsupportedArch);
    }
    if status == TrapCode::HostError.as_u8() as u32 {
        // SAFETY: the store record is live; no wasm runs any more on this entry.
        if let Some(e) = unsafe { (*inner).host_error.take() } {
            return Err(Error::Host(e));
        }
    }
    if status == INVALID_TRAP_STATUS {
        return Err(Error::InvalidStatus(status));
    }
    match u8::try_from(status).ok().and_then(TrapCode::from_u8) {
        Some(code) => Err(Error::Trap(Trap { code })),
        None => Err(Error::InvalidStatus(status)),
    }
}

/// A function with a statically known signature: `P` parameters, `R` results.
#[derive(Debug)]
pub struct TypedFunc<P, R> {
    func: Func,
    _marker: PhantomData<fn(P) -> R>,
}

impl<P, R> Clone for TypedFunc<P, R> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<P, R> Copy for TypedFunc<P, R> {}

impl<P: WasmParams, R: WasmResults> TypedFunc<P, R> {
    /// Calls the function.
    pub fn call<T>(&self, store: &mut Store<'_, T>, params: P) -> Result<R, Error> {
        store.check(self.func.store)?;
        let mut buf = [ValRaw::default(); TYPED_SLOTS];
        let count = P::COUNT.max(R::COUNT);
        params.store(&mut buf);
        call_raw(store, self.func.ptr, &mut buf[..count])?;
        Ok(R::load(&buf))
    }

    /// The untyped function.
    pub fn func(&self) -> Func {
        self.func
    }
}

/// Slots of the value buffer typed calls use (arity is at most 8 on each side).
const TYPED_SLOTS: usize = 8;

/// A Rust type that is a WebAssembly value type.
pub trait WasmTy: Copy + 'static {
    /// The wasm type.
    const TYPE: ValType;
    /// To the array-convention slot.
    fn to_raw(self) -> ValRaw;
    /// From the array-convention slot.
    fn from_raw(raw: ValRaw) -> Self;
}

impl WasmTy for i32 {
    const TYPE: ValType = ValType::I32;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u32(self as u32)
    }
    fn from_raw(raw: ValRaw) -> Self {
        raw.u32() as i32
    }
}
impl WasmTy for u32 {
    const TYPE: ValType = ValType::I32;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u32(self)
    }
    fn from_raw(raw: ValRaw) -> Self {
        raw.u32()
    }
}
impl WasmTy for i64 {
    const TYPE: ValType = ValType::I64;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u64(self as u64)
    }
    fn from_raw(raw: ValRaw) -> Self {
        raw.u64() as i64
    }
}
impl WasmTy for u64 {
    const TYPE: ValType = ValType::I64;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u64(self)
    }
    fn from_raw(raw: ValRaw) -> Self {
        raw.u64()
    }
}
impl WasmTy for f32 {
    const TYPE: ValType = ValType::F32;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u32(self.to_bits())
    }
    fn from_raw(raw: ValRaw) -> Self {
        f32::from_bits(raw.u32())
    }
}
impl WasmTy for f64 {
    const TYPE: ValType = ValType::F64;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_u64(self.to_bits())
    }
    fn from_raw(raw: ValRaw) -> Self {
        f64::from_bits(raw.u64())
    }
}
impl WasmTy for Option<ExternRef> {
    const TYPE: ValType = ValType::ExternRef;
    fn to_raw(self) -> ValRaw {
        ValRaw::from_usize(ExternRef::to_raw(self))
    }
    fn from_raw(raw: ValRaw) -> Self {
        ExternRef::from_raw(raw.usize())
    }
}

/// A list of wasm values: `()`, a single [`WasmTy`], or a tuple of up to 8.
pub trait WasmParams: Sized {
    /// Number of values.
    const COUNT: usize;
    /// Whether the types are exactly `types`.
    fn matches(types: &[ValType]) -> bool;
    /// Appends the types.
    fn types(out: &mut heapless::Vec<ValType, MAX_FUNC_ARITY>);
    /// Writes the values to `slots[0..COUNT]` (`slots` has at least `COUNT` entries).
    fn store(self, slots: &mut [ValRaw]);
    /// Reads the values from `slots[0..COUNT]`.
    fn load(slots: &[ValRaw]) -> Self;
}

/// Results of a typed function: the same shapes as [`WasmParams`].
pub trait WasmResults: WasmParams {}
impl<X: WasmParams> WasmResults for X {}

impl WasmParams for () {
    const COUNT: usize = 0;
    fn matches(types: &[ValType]) -> bool {
        types.is_empty()
    }
    fn types(_out: &mut heapless::Vec<ValType, MAX_FUNC_ARITY>) {}
    fn store(self, _slots: &mut [ValRaw]) {}
    fn load(_slots: &[ValRaw]) -> Self {}
}

impl<A: WasmTy> WasmParams for A {
    const COUNT: usize = 1;
    fn matches(types: &[ValType]) -> bool {
        types == [A::TYPE]
    }
    fn types(out: &mut heapless::Vec<ValType, MAX_FUNC_ARITY>) {
        let _ = out.push(A::TYPE);
    }
    fn store(self, slots: &mut [ValRaw]) {
        if let Some(s) = slots.first_mut() {
            *s = self.to_raw();
        }
    }
    fn load(slots: &[ValRaw]) -> Self {
        A::from_raw(slots.first().copied().unwrap_or_default())
    }
}

macro_rules! impl_wasm_params_tuple {
    ($n:expr; $($A:ident $i:tt)*) => {
        impl<$($A: WasmTy),*> WasmParams for ($($A,)*) {
            const COUNT: usize = $n;
            fn matches(types: &[ValType]) -> bool {
                types == [$($A::TYPE),*]
            }
            fn types(out: &mut heapless::Vec<ValType, MAX_FUNC_ARITY>) {
                $(let _ = out.push($A::TYPE);)*
            }
            fn store(self, slots: &mut [ValRaw]) {
                $(if let Some(s) = slots.get_mut($i) { *s = self.$i.to_raw(); })*
            }
            fn load(slots: &[ValRaw]) -> Self {
                ($($A::from_raw(slots.get($i).copied().unwrap_or_default()),)*)
            }
        }
    };
}

impl_wasm_params_tuple!(1; A0 0);
impl_wasm_params_tuple!(2; A0 0 A1 1);
impl_wasm_params_tuple!(3; A0 0 A1 1 A2 2);
impl_wasm_params_tuple!(4; A0 0 A1 1 A2 2 A3 3);
impl_wasm_params_tuple!(5; A0 0 A1 1 A2 2 A3 3 A4 4);
impl_wasm_params_tuple!(6; A0 0 A1 1 A2 2 A3 3 A4 4 A5 5);
impl_wasm_params_tuple!(7; A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6);
impl_wasm_params_tuple!(8; A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7);

/// What a typed host function may return: results, or results or a [`HostError`].
pub trait HostReturn {
    /// The results.
    type Results: WasmResults;
    /// Splits into results or an error.
    fn into_result(self) -> Result<Self::Results, HostError>;
}

impl<R: WasmResults> HostReturn for R {
    type Results = R;
    fn into_result(self) -> Result<R, HostError> {
        Ok(self)
    }
}

impl<R: WasmResults> HostReturn for Result<R, HostError> {
    type Results = R;
    fn into_result(self) -> Result<R, HostError> {
        self
    }
}

/// The calling context of a host function: the store's data and the calling instance.
pub struct Caller<'a, 'm, T> {
    store: &'a mut Store<'m, T>,
    caller_vmctx: *mut u8,
}

impl<T> core::fmt::Debug for Caller<'_, '_, T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Caller").finish_non_exhaustive()
    }
}

impl<'a, 'm, T> Caller<'a, 'm, T> {
    /// The store's data.
    pub fn data(&self) -> &T {
        self.store.data()
    }

    /// The store's data, mutably.
    pub fn data_mut(&mut self) -> &mut T {
        self.store.data_mut()
    }

    /// The store (to read memories and globals, or to call back into wasm).
    pub fn as_store(&self) -> &Store<'m, T> {
        self.store
    }

    /// The store, mutably (to write memories, call functions, instantiate modules).
    pub fn as_store_mut(&mut self) -> &mut Store<'m, T> {
        self.store
    }

    /// The instance whose code called this host function (`None` when called from the host).
    pub fn instance(&self) -> Option<Instance> {
        if self.caller_vmctx.is_null() {
            return None;
        }
        // SAFETY: a non-null caller vmctx is passed by a wasm-to-array trampoline of a live
        // instance of this store.
        let rec = unsafe { crate::vm::instance::from_vmctx(self.caller_vmctx) };
        Some(Instance::new(self.store.id(), NonNull::from(rec)))
    }

    /// An export of the calling instance.
    pub fn get_export(&mut self, name: &str) -> Option<Extern> {
        let instance = self.instance()?;
        instance.get_export(self.store, name)
    }

    /// Suspends the resumable call this host function runs in and returns to the host
    /// (`Func::call_resumable` or `Store::resume` returns
    /// [`CallOutcome::Suspended`](crate::CallOutcome) with
    /// [`YieldReason::Host`](crate::YieldReason)); returns `Ok` once the call is resumed.
    ///
    /// Errors ([`Error::Resume`]): [`ResumeError::NotResumable`] outside a resumable call (an
    /// ordinary `Func::call`), [`ResumeError::Nested`] in a nested activation (this host
    /// function was called by wasm that a host function called), and
    /// [`ResumeError::Cancelled`] when the host cancelled the call instead of resuming it (or
    /// had before): the host function should return at once; whatever it returns, the call
    /// then ends with [`TrapCode::Interrupted`] without running more wasm.
    pub fn yield_now(&mut self) -> Result<(), Error> {
        let inner = self.store.inner_ptr()?.as_ptr();
        // SAFETY: the store record is live for the whole call.
        unsafe { fiber::can_suspend(inner) }.map_err(|e| match e {
            fiber::CannotSuspend::NotResumable => ResumeError::NotResumable,
            fiber::CannotSuspend::Nested => ResumeError::Nested,
            fiber::CannotSuspend::Cancelled => ResumeError::Cancelled,
        })?;
        // SAFETY: `can_suspend` holds; this frame and the ones below it up to the fiber's
        // entry stay on the fiber stack until it finishes.
        let command = unsafe { fiber::suspend(inner, YieldReason::Host) };
        // The `Store` may have moved while suspended: `Store::resume` (or `cancel`) set
        // `store_ptr` to where it is now, for the duration of the run.
        // SAFETY: `store_ptr` is the `&mut Store<'m, T>` of the resume that switched back in,
        // unused by its frame until the fiber switches out again; no borrow derived from the
        // old reference is alive (this method holds `&mut self`).
        self.store = unsafe { &mut *(*inner).store_ptr.cast::<Store<'m, T>>() };
        match command {
            Command::Resume => Ok(()),
            Command::Cancel => Err(ResumeError::Cancelled.into()),
        }
    }
}

/// An untyped host function (a plain function pointer, so it can be stored without an
/// allocator). `params` and `results` have the lengths of the declared type; results are
/// checked against it.
pub type HostFn<T> =
    for<'a, 'm, 'p, 'r> fn(Caller<'a, 'm, T>, &'p [Val], &'r mut [Val]) -> Result<(), HostError>;

/// The host context a host function's `VMFuncRef::vmctx` points at. First word: the array
/// call (`HOST_CONTEXT_ARRAY_CALL == 0`).
#[repr(C)]
pub(crate) struct HostContext<T> {
    pub(crate) array_call: ArrayCall,
    pub(crate) store: *mut StoreInner,
    pub(crate) untyped: Option<HostFn<T>>,
    pub(crate) ty: FuncType,
}

/// A host function ready to be imported: its array-convention shim and type.
pub struct HostFuncDef<T> {
    pub(crate) array_call: ArrayCall,
    pub(crate) untyped: Option<HostFn<T>>,
    pub(crate) ty: FuncType,
}

impl<T> Clone for HostFuncDef<T> {
    fn clone(&self) -> Self {
        HostFuncDef {
            array_call: self.array_call,
            untyped: self.untyped,
            ty: self.ty.clone(),
        }
    }
}

impl<T> core::fmt::Debug for HostFuncDef<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("HostFuncDef")
            .field("ty", &self.ty)
            .finish_non_exhaustive()
    }
}

/// Marker for host closures that take a [`Caller`] first.
#[derive(Debug)]
pub struct WithCaller;

/// A Rust closure usable as a host function: `Fn(Caller<'_, '_, T>, A1, .., An) -> R` or
/// `Fn(A1, .., An) -> R`, `n <= 8`, zero-sized (no captures), where `R` is `()`, a value, a
/// tuple, or `Result<_, HostError>` of those.
pub trait IntoFunc<T, Params, Results>: Send + Sync + 'static {
    /// The shim and type.
    #[doc(hidden)]
    fn into_host_func(self) -> HostFuncDef<T>;
}

/// Reads the store pointer of a running call from a host context.
///
/// # Safety
/// `ctx` is a `HostContext<T>` of a live store, called inside an entry of that store with a
/// `Store<'_, T>` of the same `T`.
unsafe fn host_store<'a, 'm, T>(ctx: *mut u8) -> &'a mut Store<'m, T> {
    // SAFETY: guaranteed by the caller; `store_ptr` is the `&mut Store` the outermost
    // `call_raw` turned into a raw pointer and does not use until the entry returns.
    unsafe {
        let ctx = ctx.cast::<HostContext<T>>();
        &mut *(*(*ctx).store).store_ptr.cast::<Store<'m, T>>()
    }
}

/// The status a host function's shim returns instead of its results when the resumable call
/// it runs in was cancelled (while it was suspended in `Caller::yield_now`): the call must end
/// without running more wasm.
fn cancelled_status<T>(store: &Store<'_, T>) -> Option<u32> {
    let inner = store.inner_ptr().ok()?;
    // SAFETY: the store record is live.
    unsafe { fiber::cancelled(inner.as_ptr()) }.then_some(TrapCode::Interrupted.as_u8() as u32)
}

fn host_error<T>(store: &mut Store<'_, T>, e: HostError) -> u32 {
    if let Ok(inner) = store.inner_ptr() {
        // SAFETY: the record is live; only this shim touches `host_error` now.
        unsafe { (*inner.as_ptr()).host_error = Some(e) };
    }
    TrapCode::HostError.as_u8() as u32
}

/// The error of a host function called with a `ValRaw` buffer that is not 16-byte aligned
/// (`ValRaw`'s alignment): a broken wasm-to-array trampoline. Reported instead of reading
/// the buffer, which would be undefined behaviour.
const MISALIGNED_BUFFER: &str =
    "ValRaw buffer not 16-byte aligned (broken wasm-to-array trampoline)";

/// Array-convention shim of untyped host functions.
///
/// # Safety
/// Called through a `VMFuncRef` built by the linker: `ctx` is a `HostContext<T>`, `values` has
/// `count` slots.
unsafe extern "C" fn untyped_shim<T>(
    ctx: *mut u8,
    caller_vmctx: *mut u8,
    values: *mut ValRaw,
    count: usize,
) -> u32 {
    // SAFETY: see the function contract.
    let (f, ty) = unsafe {
        let c = ctx.cast::<HostContext<T>>();
        ((*c).untyped, (*c).ty.clone())
    };
    // SAFETY: see the function contract.
    let store = unsafe { host_store::<T>(ctx) };
    let Some(f) = f else {
        return host_error(store, HostError::new("host function missing"));
    };
    let np = ty.param_types().len();
    let nr = ty.result_types().len();
    if count < np.max(nr) {
        return host_error(store, HostError::new("value buffer too small"));
    }
    if !values.is_aligned() {
        return host_error(store, HostError::new(MISALIGNED_BUFFER));
    }
    // SAFETY: the trampoline passes `count` slots.
    let slots = unsafe { core::slice::from_raw_parts_mut(values, count) };
    let id = store.id();
    let mut params = [Val::I32(0); MAX_FUNC_ARITY];
    let mut results = [Val::I32(0); MAX_FUNC_ARITY];
    for ((p, raw), t) in params.iter_mut().zip(slots.iter()).zip(ty.params()) {
        *p = Val::from_raw(*raw, t, id);
    }
    for (r, t) in results.iter_mut().zip(ty.results()) {
        *r = Val::default_for(t).unwrap_or(Val::I32(0));
    }
    let outcome = f(
        Caller {
            store: &mut *store,
            caller_vmctx,
        },
        &params[..np],
        &mut results[..nr],
    );
    // SAFETY: as above. Derived again: the store may have moved while the host function was
    // suspended in `Caller::yield_now`.
    let store = unsafe { host_store::<T>(ctx) };
    if let Some(status) = cancelled_status(store) {
        return status;
    }
    if let Err(e) = outcome {
        return host_error(store, e);
    }
    for ((slot, v), t) in slots.iter_mut().zip(results[..nr].iter()).zip(ty.results()) {
        match v.to_raw(t, id) {
            Some(raw) => *slot = raw,
            None => {
                return host_error(
                    store,
                    HostError::new("host function returned a value of the wrong type"),
                );
            }
        }
    }
    0
}

pub(crate) fn untyped_def<T>(ty: FuncType, f: HostFn<T>) -> HostFuncDef<T> {
    HostFuncDef {
        array_call: untyped_shim::<T>,
        untyped: Some(f),
        ty,
    }
}

/// Conjures the zero-sized closure `F`.
///
/// # Safety
/// `F` is zero-sized and inhabited (a value was handed to `func_wrap`), and `Copy`, so
/// creating one from no bytes is creating a copy of that value.
unsafe fn conjure<F: Copy>() -> F {
    // SAFETY: reading a zero-sized type from a dangling, aligned pointer reads no memory.
    unsafe { NonNull::<F>::dangling().as_ptr().read() }
}

macro_rules! impl_into_func {
    ($($A:ident $i:tt)*) => {
        #[allow(non_snake_case, reason = "type names double as argument names in the macro")]
        impl<T, F, $($A: WasmTy,)* R: HostReturn> IntoFunc<T, (WithCaller, $($A,)*), R> for F
        where
            F: Fn(Caller<'_, '_, T>, $($A),*) -> R + Copy + Send + Sync + 'static,
        {
            fn into_host_func(self) -> HostFuncDef<T> {
                const { assert!(core::mem::size_of::<F>() == 0, "host closures must not capture: keep state in the store data") };
                #[allow(non_snake_case, reason = "type names double as argument names in the macro")]
                unsafe extern "C" fn shim<T, F, $($A: WasmTy,)* R: HostReturn>(
                    ctx: *mut u8,
                    caller_vmctx: *mut u8,
                    values: *mut ValRaw,
                    count: usize,
                ) -> u32
                where
                    F: Fn(Caller<'_, '_, T>, $($A),*) -> R + Copy + 'static,
                {
                    // SAFETY: called through a funcref the linker built for this `T`.
                    let store = unsafe { host_store::<T>(ctx) };
                    let n: usize = 0 $(+ { let _ = $i; 1 })*;
                    if count < n.max(<R::Results as WasmParams>::COUNT) {
                        return host_error(store, HostError::new("value buffer too small"));
                    }
                    if !values.is_aligned() {
                        return host_error(store, HostError::new(MISALIGNED_BUFFER));
                    }
                    // SAFETY: the trampoline passes `count` slots.
                    let slots = unsafe { core::slice::from_raw_parts_mut(values, count) };
                    $(let $A = $A::from_raw(slots[$i]);)*
                    // SAFETY: F is zero-sized (asserted in `into_host_func`), Copy and inhabited.
                    let f: F = unsafe { conjure::<F>() };
                    let outcome = f(Caller { store: &mut *store, caller_vmctx }, $($A),*).into_result();
                    // SAFETY: as above. Derived again: the store may have moved while the host
                    // function was suspended in `Caller::yield_now`.
                    let store = unsafe { host_store::<T>(ctx) };
                    if let Some(status) = cancelled_status(store) {
                        return status;
                    }
                    match outcome {
                        Ok(r) => {
                            r.store(slots);
                            0
                        }
                        Err(e) => host_error(store, e),
                    }
                }
                #[allow(unused_mut, reason = "unused for arity 0")]
                let mut params: heapless::Vec<ValType, MAX_FUNC_ARITY> = heapless::Vec::new();
                let mut results: heapless::Vec<ValType, MAX_FUNC_ARITY> = heapless::Vec::new();
                $(let _ = params.push($A::TYPE);)*
                <R::Results as WasmParams>::types(&mut results);
                HostFuncDef {
                    array_call: shim::<T, F, $($A,)* R>,
                    untyped: None,
                    ty: FuncType::new(params, results),
                }
            }
        }

        #[allow(non_snake_case, reason = "type names double as argument names in the macro")]
        impl<T, F, $($A: WasmTy,)* R: HostReturn> IntoFunc<T, ($($A,)*), R> for F
        where
            F: Fn($($A),*) -> R + Copy + Send + Sync + 'static,
        {
            fn into_host_func(self) -> HostFuncDef<T> {
                const { assert!(core::mem::size_of::<F>() == 0, "host closures must not capture: keep state in the store data") };
                #[allow(non_snake_case, reason = "type names double as argument names in the macro")]
                unsafe extern "C" fn shim<T, F, $($A: WasmTy,)* R: HostReturn>(
                    ctx: *mut u8,
                    _caller_vmctx: *mut u8,
                    values: *mut ValRaw,
                    count: usize,
                ) -> u32
                where
                    F: Fn($($A),*) -> R + Copy + 'static,
                {
                    // SAFETY: called through a funcref the linker built for this `T`.
                    let store = unsafe { host_store::<T>(ctx) };
                    let n: usize = 0 $(+ { let _ = $i; 1 })*;
                    if count < n.max(<R::Results as WasmParams>::COUNT) {
                        return host_error(store, HostError::new("value buffer too small"));
                    }
                    if !values.is_aligned() {
                        return host_error(store, HostError::new(MISALIGNED_BUFFER));
                    }
                    // SAFETY: the trampoline passes `count` slots.
                    let slots = unsafe { core::slice::from_raw_parts_mut(values, count) };
                    $(let $A = $A::from_raw(slots[$i]);)*
                    // SAFETY: F is zero-sized (asserted in `into_host_func`), Copy and inhabited.
                    let f: F = unsafe { conjure::<F>() };
                    let outcome = f($($A),*).into_result();
                    if let Some(status) = cancelled_status(store) {
                        return status;
                    }
                    match outcome {
                        Ok(r) => {
                            r.store(slots);
                            0
                        }
                        Err(e) => host_error(store, e),
                    }
                }
                #[allow(unused_mut, reason = "unused for arity 0")]
                let mut params: heapless::Vec<ValType, MAX_FUNC_ARITY> = heapless::Vec::new();
                let mut results: heapless::Vec<ValType, MAX_FUNC_ARITY> = heapless::Vec::new();
                $(let _ = params.push($A::TYPE);)*
                <R::Results as WasmParams>::types(&mut results);
                HostFuncDef {
                    array_call: shim::<T, F, $($A,)* R>,
                    untyped: None,
                    ty: FuncType::new(params, results),
                }
            }
        }
    };
}

impl_into_func!();
impl_into_func!(A0 0);
impl_into_func!(A0 0 A1 1);
impl_into_func!(A0 0 A1 1 A2 2);
impl_into_func!(A0 0 A1 1 A2 2 A3 3);
impl_into_func!(A0 0 A1 1 A2 2 A3 3 A4 4);
impl_into_func!(A0 0 A1 1 A2 2 A3 3 A4 4 A5 5);
impl_into_func!(A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6);
impl_into_func!(A0 0 A1 1 A2 2 A3 3 A4 4 A5 5 A6 6 A7 7);
