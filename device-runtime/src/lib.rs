//! `no_std` runtime that verifies, loads, instantiates and runs relocation-free WebAssembly
//! images produced by `host-compiler`.
//!
//! * `image`: header, digest (checked before anything else is decoded), metadata, target.
//! * `vm`: vmctx layout, the store arena, instances, const expressions, libcalls, traps.
//! * `arch`: the only assembly: entry/unwind per architecture (x86_64, AArch64, 32-bit Arm
//!   running Thumb-2 Cortex-M images).
//! * [`platform`]: what a board provides (code memory, memory slots, arenas, fault hook);
//!   feature `hosted` implements it on Linux.
//! * The public API (wasmtime-like): [`Engine`], [`Module`], [`Store`], [`Linker`],
//!   [`Instance`], [`Func`], [`TypedFunc`], [`Caller`], [`Memory`], [`Table`], [`Global`].
//!
//! No allocator is needed: stores lay everything out in a fixed arena, linkers hold a fixed
//! number of definitions, host functions are zero-sized closures or plain function pointers.
//! Every failure is a typed [`Error`]; no input image and no misuse of the API panics.
//!
//! Features: `hosted` (Linux platform; implies `std`), `std`.
//!
//! # Decisions
//!
//! * **One arena per store.** Every vmctx, table element array, record and host context is
//!   bump-allocated from a region that never moves or shrinks until the store is dropped, so
//!   the raw pointers compiled code and handles hold stay valid without reference counting.
//!   Handles (`Func`, `Memory`, ...) are `(store id, record pointer)` and are checked against
//!   the store on every use.
//! * **Linker names are copied** into fixed-capacity strings ([`LINKER_NAME_CAPACITY`]), so
//!   callers need not leak or keep them; `Linker::instance` stores the instance, not its
//!   exports, which are looked up at instantiation.
//! * **Typed host functions are zero-sized closures** (compile-time assertion): the
//!   monomorphized array shim rebuilds the closure from its type, so nothing is stored. State
//!   belongs in the store data. Untyped host functions are plain `fn` pointers ([`HostFn`]).
//! * **Traps**: the `Trap` libcall and the fault hook both unwind to the innermost entry's jump
//!   buffer; the entry returns the trap code. Libcalls that can fail return a code instead.
//! * **Stack limit**: set on the outermost entry to `sp - EngineConfig::max_wasm_stack`; nested
//!   entries (wasm -> host -> wasm) keep it and chain their jump buffers.
//! * **Which images load** is decided per core ([`EngineConfig::core`], [`Engine::runs`]): on
//!   aarch64 and x86_64 the runtime's own target; on 32-bit Arm Linux the Cortex-M profiles the
//!   CPU's HWCAPs show it can run; on 32-bit Arm bare metal the core the firmware declares.
//! * **Code pointers** into Thumb text carry bit 0 (formed in one place, `arch::code_pointer`).
//! * **Epochs** are counted per engine ([`EpochCounter`], `EngineConfig::epoch_counter`); a
//!   timer interrupt may increment it. Without one, each store counts its own. Deadlines are
//!   per store.
//! * **Resumable calls** ([`Func::call_resumable`]) run on fiber stacks from the engine's
//!   [`FiberPool`]; fuel and epoch limits trap or suspend them per store ([`LimitPolicy`]),
//!   host functions may suspend them ([`Caller::yield_now`]).

#![no_std]
#![deny(missing_docs)]

#[cfg(feature = "std")]
extern crate std;

mod aligned;
mod api;
mod arch;
mod error;
mod image;
pub mod platform;
mod vm;

pub use aligned::AlignedImage;
pub use api::engine::{Engine, EngineConfig};
pub use api::externals::{Extern, Global, GlobalType, Memory, MemoryType, Table, TableType};
pub use api::func::{
    Caller, Func, HostFn, HostReturn, IntoFunc, TypedFunc, WasmParams, WasmResults, WasmTy,
    WithCaller,
};
pub use api::instance::Instance;
pub use api::linker::{LINKER_CAPACITY, LINKER_NAME_CAPACITY, Linker};
pub use api::module::{ExportDesc, ImportDesc, Module};
pub use api::resumable::{CallOutcome, ResumableCall, TypedOutcome};
pub use api::store::Store;
pub use api::val_text::ParseValError;
pub use api::values::{ExternRef, FuncType, MAX_FUNC_ARITY, Val};
pub use error::{
    ERROR_NAME_CAPACITY, Error, ErrorName, HostError, InstantiationError, LinkError, LoadError,
    ResumeError, Trap,
};
pub use shared_types::metadata::{ExternKind, ImportKind};
pub use shared_types::{Target, TrapCode, ValType};
pub use vm::ValRaw;
pub use vm::code_registry::MAX_LOADED_MODULES;
pub use vm::epoch::{DEFAULT_EPOCH_COUNTER, EpochCounter};
pub use vm::fiber::{FIBER_RECORD_BYTES, FiberPool, LimitPolicy, YieldReason};

/// The target whose images this runtime executes when that is fixed at compile time (aarch64,
/// x86_64); `None` on 32-bit Arm, where the Cortex-M profiles a core runs are decided at load
/// ([`Engine::core`], [`Engine::runs`]), and on architectures without entry code.
pub const NATIVE_TARGET: Option<Target> = arch::NATIVE_TARGET;

/// Hooks for a board's exception handlers (the hosted platform uses them from its signal
/// handler).
pub mod fault {
    use shared_types::TrapCode;

    /// How to turn a fault into a trap: resume the interrupted context at `resume_at` with the
    /// first two argument registers set to `arg0` and `arg1` (the architecture's unwind
    /// routine, the innermost entry's jump buffer, and the trap code).
    ///
    /// On 32-bit Arm `resume_at` is a Thumb code pointer (bit 0 set): a Cortex-M fault handler
    /// writes `resume_at & !1` to the stacked return address, keeps xPSR.T set and clears the
    /// stacked IT/ICI bits (an exception return to an odd address is UNPREDICTABLE).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FaultRedirect {
        /// Address to resume at.
        pub resume_at: usize,
        /// First argument register.
        pub arg0: usize,
        /// Second argument register.
        pub arg1: usize,
        /// The trap.
        pub code: TrapCode,
    }

    /// For a fault at `pc`: the redirect if `pc` is a trap site of loaded wasm code and a wasm
    /// call is active on this core; `None` for any other fault, which must not be turned into
    /// a trap.
    pub fn redirect_for(pc: usize) -> Option<FaultRedirect> {
        let code = crate::vm::code_registry::trap_at(pc)?;
        let jmpbuf = crate::vm::activation::current();
        if jmpbuf.is_null() || !crate::arch::CAN_ENTER {
            return None;
        }
        Some(FaultRedirect {
            resume_at: crate::arch::unwind_address(),
            arg0: jmpbuf as usize,
            arg1: code.as_u8() as usize,
            code,
        })
    }

    /// For an undefined-instruction fault at `pc` in Thumb code (a Cortex-M UsageFault with
    /// `UFSR.UNDEFINSTR`, or a HardFault it escalated to): the redirect if `pc` is a trap site
    /// of loaded wasm text, a wasm call is active on this core, **and** the instruction there is
    /// `udf #(0x80 + code)` for the code the trap table lists (Thumb backend design, section
    /// 7). `None` otherwise: a listed site holding anything else, or a `udf` of another code,
    /// is a broken image, reported rather than turned into a trap.
    ///
    /// # Safety
    /// `pc` is the address of the instruction that raised the fault (bit 0 ignored), as the
    /// core stacked it.
    #[cfg(target_arch = "arm")]
    pub unsafe fn redirect_for_udf(pc: usize) -> Option<FaultRedirect> {
        let redirect = redirect_for(pc)?;
        // SAFETY: `redirect_for` found `pc` in registered text, which stays mapped and readable
        // while registered.
        unsafe { crate::arch::udf_encodes(pc, redirect.code) }.then_some(redirect)
    }

    /// Whether `pc` lies in the text of a loaded module (listed in its trap table or not).
    /// Lock-free, for fault handlers.
    pub fn in_wasm_text(pc: usize) -> bool {
        crate::vm::code_registry::contains(pc)
    }

    /// For a fault at `pc` that the platform has recognised as a guard-region access: the
    /// redirect to the [`TrapCode::MemoryOutOfBounds`] trap if `pc` lies in the text of a
    /// loaded module and a wasm call is active on this core, whether or not `pc` is listed in
    /// the trap table (`None` otherwise; the fault must then not be turned into a trap).
    ///
    /// This is the design's second trap-from-fault rule: compiled code only ever reaches a
    /// memory slot's guard or inaccessible reservation through a linear-memory access that is
    /// out of bounds, listed (guard-elided checks) or not (code that computed an address the
    /// compiler did not foresee, like a hand-made image). Either way the access did not happen.
    ///
    /// Resuming at the redirect is sound at any instruction of wasm text, listed or not: wasm
    /// frames own nothing (no destructors, no locks; the store's records live in its arena),
    /// and the unwind routine restores the stack pointer and every callee-saved register from
    /// the innermost entry's jump buffer, which that entry set before calling into the text
    /// and which stays valid until it returns. Host frames are never skipped: a host function
    /// called from wasm runs outside the text, so a fault there is not in wasm text.
    ///
    /// # Safety
    /// The caller is the platform's fault hook for a synchronous data abort raised on this
    /// core by the instruction at `pc` (the interrupted context is the one that faulted, and
    /// resuming it at the redirect replaces the faulting instruction), and it has established
    /// that the faulting address lies in the guard or the inaccessible reservation of a live
    /// memory slot of this platform (for example: a translation fault on an address of a slot
    /// the platform handed out), so that the access read and wrote nothing.
    pub unsafe fn redirect_for_guard_fault(pc: usize) -> Option<FaultRedirect> {
        if !crate::vm::code_registry::contains(pc) {
            return None;
        }
        let jmpbuf = crate::vm::activation::current();
        if jmpbuf.is_null() || !crate::arch::CAN_ENTER {
            return None;
        }
        let code = TrapCode::MemoryOutOfBounds;
        Some(FaultRedirect {
            resume_at: crate::arch::unwind_address(),
            arg0: jmpbuf as usize,
            arg1: code.as_u8() as usize,
            code,
        })
    }

    /// Makes instruction fetch see newly written code in `[start, start + len)` (data cache
    /// clean + instruction cache invalidate where the architecture needs it).
    ///
    /// # Safety
    /// The range is mapped and readable.
    pub unsafe fn sync_icache(start: *const u8, len: usize) {
        // SAFETY: forwarded.
        unsafe { crate::arch::sync_icache(start, len) }
    }
}
