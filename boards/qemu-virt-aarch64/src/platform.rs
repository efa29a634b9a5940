//! The device runtime's [`Platform`] on this board.
//!
//! * **Code memory** ([`CODE_POOL`](crate::memory_map::CODE_POOL)): `code_alloc` takes pages
//!   and maps them read-write, execute-never; `code_publish` remaps them read-execute (TLB
//!   invalidated), then cleans the data cache to the point of unification and invalidates the
//!   instruction cache over the range (`DC CVAU`, `DSB ISH`, `IC IVAU`, `DSB ISH`, `ISB`);
//!   `code_free` unmaps them. A page is never writable and executable.
//! * **Memory slots** ([`MEMORY_POOL`](crate::memory_map::MEMORY_POOL)):
//!   `[front guard][memory ... reservation][back guard]`, pages of a linker-placed static.
//!   Guards are at least one page and never mapped; the reservation is mapped read-write
//!   (and zeroed) only as far as the memory is accessible, so an access past the current
//!   length, into the reserved growth or a guard faults.
//! * **Arenas** ([`ARENA_POOL`](crate::memory_map::ARENA_POOL)): always-mapped pages, zeroed on
//!   allocation.
//!
//! The fault hook is the exception vector table, installed at boot ([`crate::exceptions`]).

use core::ptr::NonNull;

use device_runtime::EngineConfig;
use device_runtime::platform::{ArenaRegion, CodeRegion, MemorySlot, Platform, PlatformError};

use crate::lock::Lock;
use crate::memory_map::{ARENA_POOL, CODE_POOL, MEMORY_POOL};
use crate::mmu;
use crate::mmu::plan::{Attributes, PAGE_SIZE};
use crate::pages::PageBitmap;

/// Linear-memory reservation per memory without a smaller maximum (bounds its growth).
pub const MEMORY_RESERVATION: u64 = 1 << 20;
/// Stack that wasm code may use below the host frame that calls it (the program stack is
/// 512 KiB with an unmapped guard page below it).
pub const MAX_WASM_STACK: usize = 256 << 10;
/// Arena of each `Store::new`.
pub const STORE_ARENA_SIZE: usize = 64 << 10;

/// The board.
#[derive(Debug)]
pub struct Board;

/// The board's platform, for `EngineConfig::platform`.
pub static BOARD: Board = Board;

/// An engine configuration for this board: its platform, a one-page guard on each side of
/// every memory, [`MEMORY_RESERVATION`], [`MAX_WASM_STACK`], [`STORE_ARENA_SIZE`].
pub fn engine_config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config.platform = &BOARD;
    config.memory_guard = PAGE_SIZE;
    config.memory_reservation = MEMORY_RESERVATION;
    config.max_wasm_stack = MAX_WASM_STACK;
    config.store_arena_size = STORE_ARENA_SIZE;
    config
}

struct Pools {
    code: PageBitmap<{ CODE_POOL.pages().div_ceil(64) }>,
    memory: PageBitmap<{ MEMORY_POOL.pages().div_ceil(64) }>,
    arenas: PageBitmap<{ ARENA_POOL.pages().div_ceil(64) }>,
}

static POOLS: Lock<Pools> = Lock::new(Pools {
    code: PageBitmap::new(CODE_POOL.pages()),
    memory: PageBitmap::new(MEMORY_POOL.pages()),
    arenas: PageBitmap::new(ARENA_POOL.pages()),
});

const TABLES: PlatformError = PlatformError::Exhausted("page tables");

fn pages_for(bytes: u64) -> Option<usize> {
    usize::try_from(bytes.div_ceil(PAGE_SIZE)).ok()
}

fn pointer(address: u64) -> Result<NonNull<u8>, PlatformError> {
    NonNull::new(address as usize as *mut u8).ok_or(PlatformError::Exhausted("address space"))
}

/// Zeroes `[start, start + len)`, which the caller has just mapped read-write and owns.
fn zero(start: u64, len: u64) {
    // SAFETY: callers pass pages of a pool that their allocator gave to them alone and that
    // are mapped read-write.
    unsafe { core::ptr::write_bytes(start as usize as *mut u8, 0, len as usize) };
}

/// Occupancy of the pools, in pages: `(code, memory, arenas)` free.
pub fn free_pages() -> (usize, usize, usize) {
    POOLS.with(|p| {
        (
            p.code.free_pages(),
            p.memory.free_pages(),
            p.arenas.free_pages(),
        )
    })
}

// SAFETY: every region comes from a page allocator over a pool reserved for that use, so
// regions never overlap and never move until freed; memory slots and arenas are zeroed when
// pages become accessible; `code_publish` leaves the pages read-execute with the TLB and
// instruction cache synchronised; `memory_grow` maps and zeroes `[old, new)`.
unsafe impl Platform for Board {
    fn code_alloc(&self, len: usize) -> Result<CodeRegion, PlatformError> {
        let exhausted = PlatformError::Exhausted("code memory");
        let pages = pages_for(len.max(1) as u64).ok_or(exhausted)?;
        let first = POOLS.with(|p| p.code.alloc(pages)).ok_or(exhausted)?;
        let start = CODE_POOL.start() + first as u64 * PAGE_SIZE;
        let bytes = pages as u64 * PAGE_SIZE;
        if mmu::remap(start, bytes, Some(Attributes::DATA)).is_err() {
            POOLS.with(|p| p.code.free(first, pages));
            return Err(TABLES);
        }
        Ok(CodeRegion {
            base: pointer(start)?,
            len: bytes as usize,
        })
    }

    unsafe fn code_publish(&self, region: &CodeRegion) -> Result<(), PlatformError> {
        let start = region.base.as_ptr() as u64;
        mmu::remap(start, region.len as u64, Some(Attributes::CODE)).map_err(|_| TABLES)?;
        // SAFETY: the region is mapped (read-execute) and readable.
        unsafe { device_runtime::fault::sync_icache(region.base.as_ptr(), region.len) };
        Ok(())
    }

    unsafe fn code_free(&self, region: CodeRegion) {
        let start = region.base.as_ptr() as u64;
        let _ = mmu::remap(start, region.len as u64, None);
        let first = ((start - CODE_POOL.start()) / PAGE_SIZE) as usize;
        POOLS.with(|p| p.code.free(first, region.len / PAGE_SIZE as usize));
    }

    fn memory_alloc(
        &self,
        reservation: u64,
        guard: u64,
        initial: u64,
    ) -> Result<MemorySlot, PlatformError> {
        let exhausted = PlatformError::Exhausted("memory pool");
        let reservation = reservation
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(exhausted)?;
        let guard = guard
            .max(PAGE_SIZE)
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(exhausted)?;
        let accessible = initial
            .checked_next_multiple_of(PAGE_SIZE)
            .ok_or(exhausted)?;
        if accessible > reservation {
            return Err(exhausted);
        }
        let total = guard
            .checked_mul(2)
            .and_then(|g| g.checked_add(reservation))
            .filter(|&t| t <= MEMORY_POOL.len())
            .ok_or(exhausted)?;
        let pages = pages_for(total).ok_or(exhausted)?;
        let first = POOLS.with(|p| p.memory.alloc(pages)).ok_or(exhausted)?;
        let mapping = MEMORY_POOL.start() + first as u64 * PAGE_SIZE;
        let base = mapping + guard;
        if mmu::remap(base, accessible, Some(Attributes::DATA)).is_err() {
            let _ = mmu::remap(base, accessible, None);
            POOLS.with(|p| p.memory.free(first, pages));
            return Err(TABLES);
        }
        zero(base, accessible);
        Ok(MemorySlot {
            base: pointer(base)?,
            reservation,
            mapping: pointer(mapping)?,
            mapping_len: total as usize,
        })
    }

    unsafe fn memory_grow(
        &self,
        slot: &MemorySlot,
        old_len: u64,
        new_len: u64,
    ) -> Result<(), PlatformError> {
        if new_len > slot.reservation {
            return Err(PlatformError::Exhausted("memory reservation"));
        }
        let from = old_len.next_multiple_of(PAGE_SIZE);
        let to = new_len.next_multiple_of(PAGE_SIZE);
        if to <= from {
            return Ok(());
        }
        let start = slot.base.as_ptr() as u64 + from;
        mmu::remap(start, to - from, Some(Attributes::DATA)).map_err(|_| TABLES)?;
        zero(start, to - from);
        Ok(())
    }

    unsafe fn memory_free(&self, slot: MemorySlot) {
        let _ = mmu::remap(slot.base.as_ptr() as u64, slot.reservation, None);
        let first = ((slot.mapping.as_ptr() as u64 - MEMORY_POOL.start()) / PAGE_SIZE) as usize;
        POOLS.with(|p| p.memory.free(first, slot.mapping_len / PAGE_SIZE as usize));
    }

    fn arena_alloc(&self, len: usize) -> Result<ArenaRegion, PlatformError> {
        let exhausted = PlatformError::Exhausted("arena pool");
        let pages = pages_for(len.max(1) as u64).ok_or(exhausted)?;
        let first = POOLS.with(|p| p.arenas.alloc(pages)).ok_or(exhausted)?;
        let start = ARENA_POOL.start() + first as u64 * PAGE_SIZE;
        let bytes = pages as u64 * PAGE_SIZE;
        zero(start, bytes);
        Ok(ArenaRegion {
            base: pointer(start)?,
            len: bytes as usize,
        })
    }

    unsafe fn arena_free(&self, region: ArenaRegion) {
        let first = ((region.base.as_ptr() as u64 - ARENA_POOL.start()) / PAGE_SIZE) as usize;
        POOLS.with(|p| p.arenas.free(first, region.len / PAGE_SIZE as usize));
    }
}
