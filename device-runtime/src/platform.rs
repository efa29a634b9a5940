//! The trait a board implements: code memory, memory slots, store arenas, faults.
//!
//! Everything the runtime needs from the machine beyond the CPU goes through [`Platform`]. A
//! board implements it over its linker-placed statics (and MPU/MMU); the `hosted` feature
//! implements it on Linux with `mmap`/`mprotect` and signal handlers ([`hosted`]).
//!
//! Lifecycles:
//!
//! * **Code**: [`Platform::code_alloc`] returns writable memory; the runtime copies the text
//!   into it and calls [`Platform::code_publish`], which makes it executable and read-only (W^X)
//!   and performs the cache maintenance the architecture needs; [`Platform::code_free`] on
//!   module drop.
//! * **Linear memory slots**: `[front guard][memory ... reserved growth][back guard]`.
//!   [`Platform::memory_alloc`] reserves `reservation` bytes (plus guards) and makes the first
//!   `initial` bytes accessible, zeroed; [`Platform::memory_grow`] makes more accessible. Memory
//!   never moves.
//! * **Store arenas**: zeroed, 16-aligned byte regions the store lays out vmctxs, tables and
//!   records in; they never move while the store lives.
//! * **Fiber stacks** (resumable calls, `Func::call_resumable`): [`Platform::fiber_stack_alloc`]
//!   hands out a stack from the board's statically reserved pool (hosted: an `mmap` with a
//!   no-access guard page below it), [`Platform::fiber_stack_free`] takes it back once the call
//!   has finished or been cancelled. How many may be out at once is the engine's
//!   [`FiberPool`](crate::FiberPool); a platform without fiber stacks refuses with
//!   [`PlatformError::Unsupported`] (the default).

use core::fmt;
use core::ptr::NonNull;

#[cfg(feature = "hosted")]
pub mod hosted;

/// Why the platform could not provide a resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// The platform has no such resource (for example no code memory on an execute-in-place
    /// board, or the placeholder platform of a `no_std` build without a board).
    Unsupported(&'static str),
    /// The platform ran out of this resource.
    Exhausted(&'static str),
    /// A system call failed (hosted: `errno`).
    Os(i32),
}

impl fmt::Display for PlatformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlatformError::Unsupported(what) => write!(f, "platform does not provide {what}"),
            PlatformError::Exhausted(what) => write!(f, "platform out of {what}"),
            PlatformError::Os(errno) => write!(f, "system call failed (errno {errno})"),
        }
    }
}

impl core::error::Error for PlatformError {}

/// A region of code memory.
#[derive(Debug)]
pub struct CodeRegion {
    /// First byte.
    pub base: NonNull<u8>,
    /// Usable bytes (at least the requested length).
    pub len: usize,
}

/// A linear-memory slot: `base` is the first byte of linear memory, guards lie around it.
#[derive(Debug)]
pub struct MemorySlot {
    /// First byte of linear memory.
    pub base: NonNull<u8>,
    /// Bytes from `base` the memory may grow to (the back guard follows).
    pub reservation: u64,
    /// Platform bookkeeping: start of the whole mapping, guards included.
    pub mapping: NonNull<u8>,
    /// Platform bookkeeping: length of the whole mapping.
    pub mapping_len: usize,
}

impl MemorySlot {
    /// Bytes from `base` to the end of the mapping: the reservation plus the back guard, the
    /// span that guard-elided code may touch (anything beyond the current length faults).
    pub fn guarded_len(&self) -> u64 {
        let end = (self.mapping.as_ptr() as usize).saturating_add(self.mapping_len);
        end.saturating_sub(self.base.as_ptr() as usize) as u64
    }
}

/// A store arena: zeroed, 16-aligned, stable.
#[derive(Debug)]
pub struct ArenaRegion {
    /// First byte.
    pub base: NonNull<u8>,
    /// Length in bytes.
    pub len: usize,
}

/// A fiber stack: `[base, base + len)` readable and writable, 16-aligned at both ends. The
/// stack grows down from `base + len`; what lies below `base` should fault (a guard page, an
/// MPU region) so that host code overflowing it stops instead of corrupting memory. Wasm code
/// never gets near `base`: the runtime sets the fiber's stack limit above it.
#[derive(Debug)]
pub struct FiberStack {
    /// Lowest usable byte.
    pub base: NonNull<u8>,
    /// Usable bytes.
    pub len: usize,
}

/// What a board provides to the runtime.
///
/// # Safety
///
/// Implementations promise: regions returned by the `*_alloc` methods are valid for the stated
/// lengths, do not overlap any other live region, stay at the same address until freed, and
/// (arenas, memory slots) are zeroed; `code_publish` leaves the region executable with
/// instruction caches coherent with the bytes written; `memory_grow` leaves `[0, new_len)` of
/// the slot readable and writable with newly accessible bytes zeroed.
pub unsafe trait Platform: Sync {
    /// Allocates writable memory for `len` bytes of code.
    fn code_alloc(&self, len: usize) -> Result<CodeRegion, PlatformError>;

    /// Makes `region` executable and read-only and synchronises the instruction cache.
    ///
    /// # Safety
    /// `region` came from `code_alloc` on this platform and is not yet published.
    unsafe fn code_publish(&self, region: &CodeRegion) -> Result<(), PlatformError>;

    /// Frees a code region.
    ///
    /// # Safety
    /// `region` came from `code_alloc` on this platform and no code in it runs or will run.
    unsafe fn code_free(&self, region: CodeRegion);

    /// Reserves a memory slot of `reservation` bytes with `guard` bytes of inaccessible memory
    /// before and after it, and makes the first `initial` bytes accessible.
    fn memory_alloc(
        &self,
        reservation: u64,
        guard: u64,
        initial: u64,
    ) -> Result<MemorySlot, PlatformError>;

    /// Makes `[old_len, new_len)` of the slot accessible (`new_len <= slot.reservation`).
    ///
    /// # Safety
    /// `slot` came from `memory_alloc` on this platform and is not freed.
    unsafe fn memory_grow(
        &self,
        slot: &MemorySlot,
        old_len: u64,
        new_len: u64,
    ) -> Result<(), PlatformError>;

    /// Frees a memory slot.
    ///
    /// # Safety
    /// `slot` came from `memory_alloc` on this platform; nothing accesses it any more.
    unsafe fn memory_free(&self, slot: MemorySlot);

    /// Allocates a zeroed, 16-aligned arena of `len` bytes for a store.
    fn arena_alloc(&self, len: usize) -> Result<ArenaRegion, PlatformError>;

    /// Frees an arena.
    ///
    /// # Safety
    /// `region` came from `arena_alloc` on this platform; nothing uses it any more.
    unsafe fn arena_free(&self, region: ArenaRegion);

    /// Installs the fault hook (hosted: signal handlers). Called once per engine.
    fn install_fault_hook(&self) {}

    /// Bytes from a memory slot's base up to which this platform can make every byte beyond
    /// the current length fault (reservation plus back guard), with the fault hook turning a
    /// fault at a listed PC into a trap: what guard-elided images rely on. Default 0: no guard
    /// support, so guard-elided images are refused with `LoadError::GuardReservation`.
    fn memory_guard_capacity(&self) -> u64 {
        0
    }

    /// Hands out a fiber stack of at least `len` usable bytes (a multiple of 16). Default:
    /// [`PlatformError::Unsupported`]`("fiber stacks")`.
    fn fiber_stack_alloc(&self, len: usize) -> Result<FiberStack, PlatformError> {
        let _ = len;
        Err(PlatformError::Unsupported("fiber stacks"))
    }

    /// Takes a fiber stack back.
    ///
    /// # Safety
    /// `stack` came from `fiber_stack_alloc` on this platform and no code runs on it any more.
    unsafe fn fiber_stack_free(&self, stack: FiberStack) {
        let _ = stack;
    }
}

/// The platform of a `no_std` build with no board: every request fails with
/// [`PlatformError::Unsupported`]. Boards pass their own platform in `EngineConfig::platform`;
/// stores can also be given caller-provided arenas (`Store::with_arena`).
#[derive(Debug)]
pub struct NoPlatform;

// SAFETY: `NoPlatform` never returns a region, so it cannot break any of the promises.
unsafe impl Platform for NoPlatform {
    fn code_alloc(&self, _len: usize) -> Result<CodeRegion, PlatformError> {
        Err(PlatformError::Unsupported("code memory"))
    }
    unsafe fn code_publish(&self, _region: &CodeRegion) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported("code memory"))
    }
    unsafe fn code_free(&self, _region: CodeRegion) {}
    fn memory_alloc(
        &self,
        _reservation: u64,
        _guard: u64,
        _initial: u64,
    ) -> Result<MemorySlot, PlatformError> {
        Err(PlatformError::Unsupported("memory slots"))
    }
    unsafe fn memory_grow(
        &self,
        _slot: &MemorySlot,
        _old: u64,
        _new: u64,
    ) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported("memory slots"))
    }
    unsafe fn memory_free(&self, _slot: MemorySlot) {}
    fn arena_alloc(&self, _len: usize) -> Result<ArenaRegion, PlatformError> {
        Err(PlatformError::Unsupported("store arenas"))
    }
    unsafe fn arena_free(&self, _region: ArenaRegion) {}
}

/// The platform used when `EngineConfig::platform` is left at its default.
pub fn default_platform() -> &'static dyn Platform {
    #[cfg(feature = "hosted")]
    {
        &hosted::HostedPlatform
    }
    #[cfg(not(feature = "hosted"))]
    {
        &NoPlatform
    }
}
