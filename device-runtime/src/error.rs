//! Every way a runtime operation can fail. Small hand-written enums; no path panics.

#![forbid(unsafe_code)]

use core::fmt;

use shared_types::metadata::MetadataError;
use shared_types::{HeaderError, Target, TrapCode};

use crate::platform::PlatformError;

/// Capacity of the names kept in [`LinkError`].
pub const ERROR_NAME_CAPACITY: usize = 48;

/// A name kept in an error, truncated to [`ERROR_NAME_CAPACITY`] bytes at a character boundary.
pub type ErrorName = heapless::String<ERROR_NAME_CAPACITY>;

pub(crate) fn error_name(s: &str) -> ErrorName {
    let mut out = ErrorName::new();
    for c in s.chars() {
        if out.push(c).is_err() {
            break;
        }
    }
    out
}

/// Why an image was refused by [`Module::new`](crate::Module::new).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadError {
    /// The fixed header is malformed, or the digest does not match.
    Header(HeaderError),
    /// The image was compiled for another machine.
    WrongTarget {
        /// Target recorded in the image.
        image: Target,
        /// The core this runtime runs as, which refused the image (`EngineConfig::core` or the
        /// detected one; `None`: no core known, or this CPU runs no image target).
        runtime: Option<Target>,
    },
    /// The metadata does not decode or does not validate.
    Metadata(MetadataError),
    /// The module needs something this runtime or board does not provide.
    Unsupported(&'static str),
    /// The platform could not provide code memory.
    Platform(PlatformError),
    /// The runtime's table of loaded modules (used by the fault hook) is full.
    TooManyModules,
    /// The image was compiled with guard-elided bounds checks and needs more guarded virtual
    /// address space per 32-bit memory than this engine and platform provide
    /// (`min(EngineConfig::memory_reservation + EngineConfig::memory_guard,
    /// Platform::memory_guard_capacity())`; 0 on a platform without guard regions).
    GuardReservation {
        /// Bytes from a memory's base the image relies on being reserved (`Tunables::guard_reservation`).
        required: u64,
        /// Bytes the engine and platform provide.
        available: u64,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Header(e) => write!(f, "invalid image: {e}"),
            LoadError::WrongTarget {
                image,
                runtime: Some(r),
            } => {
                write!(f, "image compiled for {image}, this runtime runs {r} code")
            }
            LoadError::WrongTarget {
                image,
                runtime: None,
            } => {
                write!(
                    f,
                    "image compiled for {image}, this runtime runs no image target here \
                     (on 32-bit Arm bare metal, set EngineConfig::core to the firmware's core)"
                )
            }
            LoadError::Metadata(e) => write!(f, "invalid image: {e}"),
            LoadError::Unsupported(what) => write!(f, "image needs unsupported feature: {what}"),
            LoadError::Platform(e) => write!(f, "cannot load image: {e}"),
            LoadError::TooManyModules => f.write_str("too many modules loaded"),
            LoadError::GuardReservation {
                required,
                available,
            } => write!(
                f,
                "image uses guard-elided bounds checks needing {required} bytes of guarded \
                 reservation per memory; this engine and platform provide {available} \
                 (EngineConfig::memory_reservation + memory_guard)"
            ),
        }
    }
}

impl core::error::Error for LoadError {}

/// Why imports could not be resolved (the module is "unlinkable").
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// No definition for an import.
    MissingImport {
        /// Import module name.
        module: ErrorName,
        /// Import field name.
        name: ErrorName,
    },
    /// A definition exists but its type does not match the import.
    ImportTypeMismatch {
        /// Import module name.
        module: ErrorName,
        /// Import field name.
        name: ErrorName,
    },
    /// A name is defined twice in the linker.
    Duplicate {
        /// Module name.
        module: ErrorName,
        /// Field name.
        name: ErrorName,
    },
    /// A name is longer than [`crate::LINKER_NAME_CAPACITY`].
    NameTooLong,
    /// The linker holds [`crate::LINKER_CAPACITY`] definitions already.
    LinkerFull,
    /// An item from another store.
    WrongStore,
    /// A function type with more than [`crate::MAX_FUNC_ARITY`] parameters or results.
    TypeTooLarge,
}

impl fmt::Display for LinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LinkError::MissingImport { module, name } => {
                write!(f, "unknown import: `{module}::{name}`")
            }
            LinkError::ImportTypeMismatch { module, name } => {
                write!(f, "incompatible import type for `{module}::{name}`")
            }
            LinkError::Duplicate { module, name } => write!(f, "`{module}::{name}` defined twice"),
            LinkError::NameTooLong => f.write_str("name too long for the linker"),
            LinkError::LinkerFull => f.write_str("linker capacity exhausted"),
            LinkError::WrongStore => f.write_str("item belongs to another store"),
            LinkError::TypeTooLarge => {
                f.write_str("function type has too many parameters or results")
            }
        }
    }
}

impl core::error::Error for LinkError {}

/// Why instantiation failed for a reason other than unresolved imports or a trap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstantiationError {
    /// A constant expression is ill-formed (stack underflow or overflow, wrong types).
    BadConstExpr,
    /// The module needs something this runtime or board does not provide.
    Unsupported(&'static str),
    /// The platform refused a memory slot.
    Platform(PlatformError),
    /// The module belongs to another engine configuration (pointer size mismatch).
    WrongEngine,
    /// A linear memory's minimum size does not fit the slot it would be placed in (bounded by
    /// `EngineConfig::memory_reservation`). Nothing is overcommitted: the memory is not created.
    MemoryTooLarge {
        /// Index of the memory in the module's memory index space (`None`: a memory created by
        /// the host with `Memory::new`).
        index: Option<u32>,
        /// Bytes the memory needs at instantiation (minimum pages times the page size).
        minimum: u64,
        /// Bytes of address space its slot may hold.
        reservation: u64,
    },
    /// Guard-elided code imports a memory whose slot does not provide the guarded reservation
    /// the code relies on (a memory created with a smaller reservation or guard).
    GuardReservation {
        /// Index of the memory in the module's memory index space.
        index: u32,
        /// Bytes from the memory's base the code relies on being reserved.
        required: u64,
        /// Bytes the memory's slot provides (reservation plus back guard).
        available: u64,
    },
}

impl fmt::Display for InstantiationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InstantiationError::BadConstExpr => f.write_str("malformed constant expression"),
            InstantiationError::Unsupported(what) => write!(f, "unsupported: {what}"),
            InstantiationError::Platform(e) => write!(f, "cannot instantiate: {e}"),
            InstantiationError::WrongEngine => f.write_str("module does not match the engine"),
            InstantiationError::MemoryTooLarge {
                index,
                minimum,
                reservation,
            } => {
                match index {
                    Some(i) => write!(f, "memory {i}")?,
                    None => f.write_str("memory")?,
                }
                write!(
                    f,
                    " needs {minimum} bytes initially, more than its {reservation}-byte reservation (EngineConfig::memory_reservation)"
                )
            }
            InstantiationError::GuardReservation {
                index,
                required,
                available,
            } => write!(
                f,
                "memory {index} provides {available} bytes of guarded reservation; the \
                 guard-elided code needs {required}"
            ),
        }
    }
}

impl core::error::Error for InstantiationError {}

/// An error returned by a host function. The message is static so that no allocator is needed;
/// `code` is free for the embedder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HostError {
    /// What went wrong.
    pub message: &'static str,
    /// Embedder-defined code.
    pub code: u32,
}

impl HostError {
    /// A host error with a message and code 0.
    pub const fn new(message: &'static str) -> HostError {
        HostError { message, code: 0 }
    }
    /// A host error with a message and a code.
    pub const fn with_code(message: &'static str, code: u32) -> HostError {
        HostError { message, code }
    }
}

impl fmt::Display for HostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code == 0 {
            f.write_str(self.message)
        } else {
            write!(f, "{} (code {})", self.message, self.code)
        }
    }
}

impl core::error::Error for HostError {}

/// A wasm trap: the call stopped for `code`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trap {
    /// Why.
    pub code: TrapCode,
}

impl fmt::Display for Trap {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "wasm trap: {}", self.code)
    }
}

impl core::error::Error for Trap {}

/// Why a resumable-call operation (`Func::call_resumable`, `Store::resume`,
/// `Store::cancel`, `Caller::yield_now`) was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResumeError {
    /// The handle names no suspended call of this store: the call finished, was cancelled, or
    /// belongs to another store.
    NotSuspended,
    /// A call of this store is suspended: until it finishes or is cancelled, the store accepts
    /// no other call into wasm (its frames may hold state of the instances, such as cached
    /// memory bounds, that another call could change). Fuel, deadline, policies, memories and
    /// globals may still be changed from the host.
    CallSuspended,
    /// A resumable call, resume or cancel was attempted from inside a running call of the same
    /// store (a host function): it must happen from the host, outside wasm.
    Reentrant,
    /// `yield_now` outside a resumable call.
    NotResumable,
    /// `yield_now` from a nested activation (host -> wasm -> host function -> wasm -> host
    /// function): the host frames between would be suspended holding references to the store.
    Nested,
    /// The call was cancelled while this host function was suspended in `yield_now`: return
    /// (any result); the call then ends with [`TrapCode::Interrupted`] without running more
    /// wasm.
    Cancelled,
}

impl fmt::Display for ResumeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResumeError::NotSuspended => "no such suspended call (finished, cancelled or foreign)",
            ResumeError::CallSuspended => "a call of this store is suspended",
            ResumeError::Reentrant => "resumable calls must start or resume outside wasm",
            ResumeError::NotResumable => "not inside a resumable call",
            ResumeError::Nested => "cannot yield from a nested wasm activation",
            ResumeError::Cancelled => "the call was cancelled",
        })
    }
}

impl core::error::Error for ResumeError {}

/// Any failure of the public API.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Wasm code trapped (during a call, or during instantiation: segment bounds, start).
    Trap(Trap),
    /// An image was refused.
    Load(LoadError),
    /// Imports could not be resolved.
    Link(LinkError),
    /// Instantiation failed.
    Instantiate(InstantiationError),
    /// A host function returned an error.
    Host(HostError),
    /// A fixed capacity (store arena, type registry, value buffer, ...) was exceeded.
    ResourceLimit {
        /// Which capacity.
        what: &'static str,
    },
    /// Values of the wrong number or types were passed or requested.
    TypeMismatch,
    /// An item (function, memory, ...) from another store.
    WrongStore,
    /// A global that is immutable was set.
    ImmutableGlobal,
    /// An index was out of range of a table or memory (host-side access).
    OutOfBounds,
    /// A table or memory could not grow.
    GrowFailed,
    /// The function cannot be called from the host: it has no array-entry trampoline.
    NotCallable,
    /// No export of that name and kind.
    MissingExport,
    /// This runtime has no entry code for the architecture it was built for (neither x86_64,
    /// aarch64 nor 32-bit Arm).
    UnsupportedArch,
    /// The platform failed.
    Platform(PlatformError),
    /// Wasm code returned a status that is not a trap code (a broken trampoline or image).
    InvalidStatus(u32),
    /// A resumable-call operation was refused.
    Resume(ResumeError),
    /// `Engine::increment_epoch` on an engine whose configuration names no epoch counter.
    NoEpochCounter,
}

impl Error {
    /// The trap code if this error is a trap.
    pub fn trap_code(&self) -> Option<TrapCode> {
        match self {
            Error::Trap(t) => Some(t.code),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Trap(t) => t.fmt(f),
            Error::Load(e) => e.fmt(f),
            Error::Link(e) => e.fmt(f),
            Error::Instantiate(e) => e.fmt(f),
            Error::Host(e) => write!(f, "host function error: {e}"),
            Error::ResourceLimit { what } => write!(f, "resource limit exceeded: {what}"),
            Error::TypeMismatch => f.write_str("type mismatch"),
            Error::WrongStore => f.write_str("item belongs to another store"),
            Error::ImmutableGlobal => f.write_str("global is immutable"),
            Error::OutOfBounds => f.write_str("index out of bounds"),
            Error::GrowFailed => f.write_str("failed to grow"),
            Error::NotCallable => f.write_str("function has no host entry trampoline"),
            Error::MissingExport => f.write_str("no such export"),
            Error::UnsupportedArch => {
                f.write_str("this runtime cannot call wasm code on this architecture yet")
            }
            Error::Platform(e) => e.fmt(f),
            Error::InvalidStatus(s) => write!(f, "wasm code returned invalid status {s}"),
            Error::Resume(e) => e.fmt(f),
            Error::NoEpochCounter => {
                f.write_str("the engine has no epoch counter (EngineConfig::epoch_counter)")
            }
        }
    }
}

impl core::error::Error for Error {}

impl From<Trap> for Error {
    fn from(t: Trap) -> Self {
        Error::Trap(t)
    }
}
impl From<LoadError> for Error {
    fn from(e: LoadError) -> Self {
        Error::Load(e)
    }
}
impl From<LinkError> for Error {
    fn from(e: LinkError) -> Self {
        Error::Link(e)
    }
}
impl From<InstantiationError> for Error {
    fn from(e: InstantiationError) -> Self {
        Error::Instantiate(e)
    }
}
impl From<ResumeError> for Error {
    fn from(e: ResumeError) -> Self {
        Error::Resume(e)
    }
}
impl From<HostError> for Error {
    fn from(e: HostError) -> Self {
        Error::Host(e)
    }
}

pub(crate) fn trap(code: TrapCode) -> Error {
    Error::Trap(Trap { code })
}

pub(crate) const fn limit(what: &'static str) -> Error {
    Error::ResourceLimit { what }
}
