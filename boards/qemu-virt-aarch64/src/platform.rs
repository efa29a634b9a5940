//! The device runtime's [`Platform`] on this board.
//!
//! * **Code memory** ([`CODE_POOL`](crate::memory_map::CODE_POOL)): `code_alloc` takes pages
//!   and maps them read-write, execute-never; `code_publish` remaps them read-execute (TLB
//!   invalidated), then cleans the data cache to the point of unification and invalidates the
//!   instruction cache over the range (`DC CVAU`, `DSB ISH`, `IC IVAU`, `DSB ISH`, `ISB`);
//!   `code_free` unmaps them. A page is never writable and executable.
//! * **Small memory slots** ([`MEMORY_POOL`](crate::memory_map::MEMORY_POOL)):
//!   `[front guard][memory ... reservation][back guard]`, a run of pages of the memory pool
//!   (reserved at link time, not zeroed at boot), identity-mapped. Guards are at least one
//!   page and never mapped; the reservation is mapped read-write (and zeroed) only as far as
//!   the memory is accessible, so an access past the current length, into the reserved growth
//!   or a guard faults.
//! * **Wide memory slots** (see [`crate::memory_map`], "Wide memory slots"): for a request
//!   whose reservation plus guards exceeds [`SMALL_SLOT_MAX`]; above all the 4 GiB + guard of
//!   guard-elided memories, and the memories of [`engine_config_large_memories`]. One of
//!   [`WIDE_SLOT_COUNT`] 8 GiB virtual ranges far above RAM; each accessible page is mapped to
//!   a physical page taken from the top of the memory pool (and zeroed through its new
//!   address); nothing else of the slot is ever mapped. `memory_grow` maps more pages and
//!   fails (so `memory.grow` returns -1) past the slot's window ([`WIDE_SLOT_WINDOW`], the
//!   whole pool) or when the pool has no free page left; nothing is half-grown. A ninth slot,
//!   or a guard wider than the slot's front guard, is a typed [`PlatformError`].
//! * **Arenas** ([`ARENA_POOL`](crate::memory_map::ARENA_POOL)): always-mapped pages, zeroed on
//!   allocation.
//! * **Fiber stacks** ([`FIBER_POOL`](crate::memory_map::FIBER_POOL)): [`FIBER_STACKS`] fixed
//!   slots of [`FIBER_STACK_SIZE`] bytes ([`crate::fiber_slots`]), each above a guard page that
//!   the boot plan leaves unmapped, like the page below the program stack: host code that
//!   overflows a fiber stack (a host function, a libcall) faults there and is reported instead
//!   of writing into the next stack down. Wasm code stays above the runtime's stack limit
//!   (base + [`FIBER_HOST_RESERVE`]). [`FIBERS`] is the runtime's matching
//!   [`FiberPool`], named by every configuration below.
//!
//! Why a size limit on small slots: a small slot holds the physical pages of its whole
//! reservation from creation (a contiguous run of the pool), a wide slot only those of its
//! accessible pages. [`SMALL_SLOT_MAX`] is 8 MiB, the small pool's former size, so every
//! request that took a small slot before the pool grew still takes one.
//!
//! Which engine configuration to use:
//!
//! * [`engine_config`]: explicit bounds checks only (the compiler's default). 1 MiB
//!   reservation, one-page guards: every memory takes a small slot. Its guard capacity
//!   (reservation + guard) is far below 4 GiB, so a guard-elided image is refused at load
//!   with `LoadError::GuardReservation`.
//! * [`engine_config_guard_elided`]: also runs guard-elided images compiled with the default
//!   64 KiB guard. 4 GiB reservation and 64 KiB guards, so guard-elided memories (and explicit
//!   ones without a small maximum) take wide slots; explicit memories whose maximum fits a
//!   small slot still take small ones. Images compiled with a larger `--guard-size` need
//!   `memory_guard` raised to match (up to the 1 GiB front guard of a wide slot).
//! * [`engine_config_large_memories`]: explicit bounds checks, memories that may grow as far as
//!   the pool can back. [`LARGE_MEMORY_RESERVATION`] (a wide slot's window, 64 MiB) and
//!   one-page guards: memories without a small maximum take wide slots. The reservation is
//!   the bound the board really has, so the same limits on another platform (the spec
//!   testsuite's hosted run) refuse the same growths. Guard-elided images are refused, as on
//!   [`engine_config`].
//!
//! The fault hook is the exception vector table, installed at boot ([`crate::exceptions`]); it
//! asks [`in_live_memory_slot`] whether a faulting address lies in a slot.

use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use device_runtime::platform::{
    ArenaRegion, CodeRegion, FiberStack, MemorySlot, Platform, PlatformError,
};
use device_runtime::{EngineConfig, FiberPool};

use crate::fiber_slots::{FiberSlots, SlotError};
use crate::lock::Lock;
use crate::memory_map::{
    ARENA_POOL, CODE_POOL, FIBER_GUARD_SIZE, FIBER_POOL, MEMORY_POOL, MEMORY_POOL_SIZE,
    WIDE_SLOT_COUNT, WIDE_SLOT_FRONT_GUARD, WIDE_SLOT_STRIDE, WIDE_SLOT_WINDOW, WIDE_SLOTS_START,
    wide_slot_base,
};
pub use crate::memory_map::{FIBER_STACK_SIZE, FIBER_STACKS};
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

/// Bytes at the bottom of each fiber stack that wasm code may not use: room for the libcalls,
/// host functions and runtime frames it calls (debug firmware has large frames).
pub const FIBER_HOST_RESERVE: usize = 8 << 10;

/// The runtime's view of the fiber-stack pool: as many stacks as the board reserves, of its
/// size, with [`FIBER_HOST_RESERVE`].
pub static FIBERS: FiberPool =
    FiberPool::new(FIBER_STACKS, FIBER_STACK_SIZE).with_host_reserve(FIBER_HOST_RESERVE);

/// The board.
#[derive(Debug)]
pub struct Board;

/// The board's platform, for `EngineConfig::platform`.
pub static BOARD: Board = Board;

/// An engine configuration for this board: its platform, a one-page guard on each side of
/// every memory, [`MEMORY_RESERVATION`], [`MAX_WASM_STACK`], [`STORE_ARENA_SIZE`], the
/// board's fiber stacks ([`FIBERS`]).
pub fn engine_config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config.platform = &BOARD;
    config.fiber_pool = &FIBERS;
    config.memory_guard = PAGE_SIZE;
    config.memory_reservation = MEMORY_RESERVATION;
    config.max_wasm_stack = MAX_WASM_STACK;
    config.store_arena_size = STORE_ARENA_SIZE;
    config
}

/// Reservation of [`engine_config_guard_elided`]: the 4 GiB a 32-bit index can reach.
pub const GUARD_ELIDED_RESERVATION: u64 = 4 << 30;
/// Guard of [`engine_config_guard_elided`]: the compiler's default guard size for
/// guard-elided images (`wasm-aot compile --guard-size`, 64 KiB).
pub const GUARD_ELIDED_GUARD: u64 = 64 << 10;

/// An engine configuration that also runs guard-elided images (compiled with guards up to
/// [`GUARD_ELIDED_GUARD`]): [`engine_config`] with a [`GUARD_ELIDED_RESERVATION`] reservation
/// and [`GUARD_ELIDED_GUARD`] guards, which memories without a small maximum get in wide
/// slots.
pub fn engine_config_guard_elided() -> EngineConfig {
    let mut config = engine_config();
    config.memory_reservation = GUARD_ELIDED_RESERVATION;
    config.memory_guard = GUARD_ELIDED_GUARD;
    config
}

/// Reservation of [`engine_config_large_memories`]: a wide slot's window, as far as any memory
/// of this board can grow (the whole memory pool).
pub const LARGE_MEMORY_RESERVATION: u64 = WIDE_SLOT_WINDOW;

/// An engine configuration for explicit-check images whose memories may grow as far as the
/// memory pool can back: [`engine_config`] with a [`LARGE_MEMORY_RESERVATION`] reservation,
/// which memories without a small maximum get in wide slots (physical pages only as they
/// grow). What the spec testsuite firmware runs on.
pub fn engine_config_large_memories() -> EngineConfig {
    let mut config = engine_config();
    config.memory_reservation = LARGE_MEMORY_RESERVATION;
    config
}

/// The largest small slot (reservation and both guards): a larger request takes a wide slot,
/// which holds physical pages only as its memory grows, rather than a contiguous run of the
/// pool for its whole reservation from the start.
pub const SMALL_SLOT_MAX: u64 = 8 << 20;

const _: () = {
    assert!(SMALL_SLOT_MAX <= MEMORY_POOL_SIZE as u64);
    // Every memory of the large-memory configuration is wide unless its maximum is small.
    assert!(LARGE_MEMORY_RESERVATION > SMALL_SLOT_MAX);
};

const MEMORY_POOL_WORDS: usize = MEMORY_POOL.pages().div_ceil(64);

struct Pools {
    code: PageBitmap<{ CODE_POOL.pages().div_ceil(64) }>,
    memory: PageBitmap<MEMORY_POOL_WORDS>,
    arenas: PageBitmap<{ ARENA_POOL.pages().div_ceil(64) }>,
    /// Bytes mapped from the base of each wide slot (`None`: the slot is free).
    wide: [Option<u64>; WIDE_SLOT_COUNT],
    fibers: FiberSlots<FIBER_STACKS>,
}

static POOLS: Lock<Pools> = Lock::new(Pools {
    code: PageBitmap::new(CODE_POOL.pages()),
    memory: PageBitmap::new(MEMORY_POOL.pages()),
    arenas: PageBitmap::new(ARENA_POOL.pages()),
    wide: [None; WIDE_SLOT_COUNT],
    fibers: FiberSlots::new(FIBER_GUARD_SIZE, FIBER_STACK_SIZE),
});

/// Which memory-pool pages belong to a live small slot (guards and reservation included),
/// and which wide slots are live: what the fault hook reads, without a lock. Set before a
/// slot is handed out, cleared after it is unmapped, always while `POOLS`' bookkeeping of
/// the same slot is being changed (one core: the exception handler only ever sees a
/// consistent value, as each flag is one atomic).
static SMALL_SLOT_PAGES: [AtomicU64; MEMORY_POOL_WORDS] =
    [const { AtomicU64::new(0) }; MEMORY_POOL_WORDS];
static WIDE_SLOT_LIVE: [AtomicBool; WIDE_SLOT_COUNT] =
    [const { AtomicBool::new(false) }; WIDE_SLOT_COUNT];

fn mark_small_slot(first: usize, pages: usize, live: bool) {
    for page in first..first + pages {
        if let Some(word) = SMALL_SLOT_PAGES.get(page / 64) {
            let bit = 1u64 << (page % 64);
            if live {
                word.fetch_or(bit, Ordering::Release);
            } else {
                word.fetch_and(!bit, Ordering::Release);
            }
        }
    }
}

/// Whether `address` lies in a live memory slot: a page of a small slot (front guard,
/// memory, reserved growth or back guard) or anywhere in a wide slot's 8 GiB span. The
/// exception handler combines it with a translation fault (the page is not mapped) to
/// recognise an access to a guard or to the inaccessible part of a reservation. Lock-free.
pub fn in_live_memory_slot(address: u64) -> bool {
    if MEMORY_POOL.contains(address) {
        let page = ((address - MEMORY_POOL.start()) / PAGE_SIZE) as usize;
        return SMALL_SLOT_PAGES
            .get(page / 64)
            .is_some_and(|word| word.load(Ordering::Acquire) & (1 << (page % 64)) != 0);
    }
    let Some(offset) = address.checked_sub(WIDE_SLOTS_START) else {
        return false;
    };
    usize::try_from(offset / WIDE_SLOT_STRIDE)
        .ok()
        .and_then(|index| WIDE_SLOT_LIVE.get(index))
        .is_some_and(|live| live.load(Ordering::Acquire))
}

/// Free wide memory slots.
pub fn free_wide_slots() -> usize {
    POOLS.with(|p| p.wide.iter().filter(|w| w.is_none()).count())
}

/// Bytes of guarded span a wide slot provides from its memory base: up to the next slot,
/// whose front guard is never mapped.
pub const WIDE_SLOT_CAPACITY: u64 = WIDE_SLOT_STRIDE - WIDE_SLOT_FRONT_GUARD;

fn is_wide(base: u64) -> bool {
    base >= WIDE_SLOTS_START
}

/// Maps and zeroes `[from, to)` of wide slot `index` (page-aligned offsets from its base),
/// one physical page at a time; on failure unmaps what it mapped and changes nothing.
fn wide_map(index: usize, from: u64, to: u64) -> Result<(), PlatformError> {
    let exhausted = PlatformError::Exhausted("memory pool pages");
    if to > WIDE_SLOT_WINDOW {
        return Err(exhausted);
    }
    let base = wide_slot_base(index);
    let mut offset = from;
    while offset < to {
        let Some(page) = POOLS.with(|p| p.memory.alloc_highest()) else {
            wide_unmap(base, from, offset);
            return Err(exhausted);
        };
        let physical = MEMORY_POOL.start() + page as u64 * PAGE_SIZE;
        if mmu::map_page(base + offset, physical, Attributes::DATA).is_err() {
            POOLS.with(|p| p.memory.free(page, 1));
            wide_unmap(base, from, offset);
            return Err(TABLES);
        }
        zero(base + offset, PAGE_SIZE);
        offset += PAGE_SIZE;
    }
    POOLS.with(|p| {
        if let Some(mapped) = p.wide[index].as_mut() {
            *mapped = (*mapped).max(to);
        }
    });
    Ok(())
}

/// Unmaps `[from, to)` from a wide slot's `base` and gives the physical pages back to the
/// pool (each only after its TLB entry is gone).
fn wide_unmap(base: u64, from: u64, to: u64) {
    let mut offset = from;
    while offset < to {
        if let Some(physical) = mmu::unmap_page(base + offset)
            && MEMORY_POOL.contains(physical)
        {
            let page = ((physical - MEMORY_POOL.start()) / PAGE_SIZE) as usize;
            POOLS.with(|p| p.memory.free(page, 1));
        }
        offset += PAGE_SIZE;
    }
}

/// A wide slot for `reservation` bytes after a front guard of at least `guard` and before a
/// back guard of at least `guard`, with `accessible` bytes mapped.
fn wide_alloc(reservation: u64, guard: u64, accessible: u64) -> Result<MemorySlot, PlatformError> {
    if guard > WIDE_SLOT_FRONT_GUARD
        || reservation
            .checked_add(guard)
            .is_none_or(|span| span > WIDE_SLOT_CAPACITY)
    {
        return Err(PlatformError::Unsupported(
            "a memory slot wider than 7 GiB or guards over 1 GiB",
        ));
    }
    let index = POOLS
        .with(|p| {
            let index = p.wide.iter().position(Option::is_none)?;
            p.wide[index] = Some(0);
            Some(index)
        })
        .ok_or(PlatformError::Exhausted("wide memory slots"))?;
    WIDE_SLOT_LIVE[index].store(true, Ordering::Release);
    if let Err(e) = wide_map(index, 0, accessible) {
        WIDE_SLOT_LIVE[index].store(false, Ordering::Release);
        POOLS.with(|p| p.wide[index] = None);
        return Err(e);
    }
    let start = wide_slot_base(index) - WIDE_SLOT_FRONT_GUARD;
    Ok(MemorySlot {
        base: pointer(wide_slot_base(index))?,
        reservation,
        mapping: pointer(start)?,
        mapping_len: WIDE_SLOT_STRIDE as usize,
    })
}

fn wide_index(base: u64) -> Option<usize> {
    let index = usize::try_from((base.checked_sub(WIDE_SLOTS_START)?) / WIDE_SLOT_STRIDE).ok()?;
    (index < WIDE_SLOT_COUNT && wide_slot_base(index) == base).then_some(index)
}

const TABLES: PlatformError = PlatformError::Exhausted("page tables");

fn pages_for(bytes: u64) -> Option<usize> {
    usize::try_from(bytes.div_ceil(PAGE_SIZE)).ok()
}

fn pointer(address: u64) -> Result<NonNull<u8>, PlatformError> {
    NonNull::new(address as usize as *mut u8).ok_or(PlatformError::Exhausted("address space"))
}

/// Zeroes `[start, start + len)`, which the caller has just mapped read-write and owns.
fn zero(start: u64, len: u64) {
    // SAFETY: callers pass pages that are mapped read-write and belong to them alone: pages
    // of a pool that its allocator gave to them (identity-mapped), or a page of a wide slot
    // they own, just mapped to a memory-pool page that the allocator gave to them.
    unsafe { core::ptr::write_bytes(start as usize as *mut u8, 0, len as usize) };
}

/// Where fiber-stack slot `index` lies: `(guard page, stack base)` (`None` past the pool).
pub fn fiber_slot(index: usize) -> Option<(u64, u64)> {
    (index < FIBER_STACKS).then(|| {
        POOLS.with(|p| {
            (
                p.fibers.guard_start(FIBER_POOL.start(), index),
                p.fibers.stack_base(FIBER_POOL.start(), index),
            )
        })
    })
}

/// Fiber stacks handed out.
pub fn fiber_stacks_in_use() -> usize {
    POOLS.with(|p| p.fibers.in_use())
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
// regions never overlap and never move until freed; a wide slot is one of fixed, disjoint
// virtual ranges claimed by index, and each of its mapped pages is a distinct memory-pool page
// taken from the same allocator (unmapped at its own address, so no small slot can reach it),
// given back only after its mapping and TLB entry are gone; memory slots and arenas are zeroed
// when pages become accessible; `code_publish` leaves the pages read-execute with the TLB and
// instruction cache synchronised; `memory_grow` maps and zeroes `[old, new)` or, failing,
// leaves the slot as it was; a fiber stack is one of the fiber pool's fixed, disjoint slots,
// claimed by index and given back by the same index.
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
        // The routing rule: a slot larger than `SMALL_SLOT_MAX` is wide.
        let Some(total) = guard
            .checked_mul(2)
            .and_then(|g| g.checked_add(reservation))
            .filter(|&t| t <= SMALL_SLOT_MAX)
        else {
            return wide_alloc(reservation, guard, accessible);
        };
        let pages = pages_for(total).ok_or(exhausted)?;
        let first = POOLS.with(|p| p.memory.alloc(pages)).ok_or(exhausted)?;
        let mapping = MEMORY_POOL.start() + first as u64 * PAGE_SIZE;
        let base = mapping + guard;
        if mmu::remap(base, accessible, Some(Attributes::DATA)).is_err() {
            let _ = mmu::remap(base, accessible, None);
            POOLS.with(|p| p.memory.free(first, pages));
            return Err(TABLES);
        }
        mark_small_slot(first, pages, true);
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
        let base = slot.base.as_ptr() as u64;
        if is_wide(base) {
            let index = wide_index(base).ok_or(PlatformError::Exhausted("wide memory slots"))?;
            return wide_map(index, from, to);
        }
        let start = base + from;
        mmu::remap(start, to - from, Some(Attributes::DATA)).map_err(|_| TABLES)?;
        zero(start, to - from);
        Ok(())
    }

    unsafe fn memory_free(&self, slot: MemorySlot) {
        let base = slot.base.as_ptr() as u64;
        if is_wide(base) {
            let Some(index) = wide_index(base) else {
                return;
            };
            let mapped = POOLS.with(|p| p.wide[index]).unwrap_or(0);
            wide_unmap(base, 0, mapped);
            WIDE_SLOT_LIVE[index].store(false, Ordering::Release);
            POOLS.with(|p| p.wide[index] = None);
            return;
        }
        let _ = mmu::remap(base, slot.reservation, None);
        let first = ((slot.mapping.as_ptr() as u64 - MEMORY_POOL.start()) / PAGE_SIZE) as usize;
        let pages = slot.mapping_len / PAGE_SIZE as usize;
        mark_small_slot(first, pages, false);
        POOLS.with(|p| p.memory.free(first, pages));
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

    /// A wide slot's span from its base (7 GiB): what guard-elided memories get.
    fn memory_guard_capacity(&self) -> u64 {
        WIDE_SLOT_CAPACITY
    }

    fn fiber_stack_alloc(&self, len: usize) -> Result<FiberStack, PlatformError> {
        let index = POOLS.with(|p| p.fibers.take(len)).map_err(|e| match e {
            SlotError::TooLarge => PlatformError::Unsupported("fiber stacks this large"),
            SlotError::Exhausted => PlatformError::Exhausted("fiber stacks"),
        })?;
        let base = POOLS.with(|p| p.fibers.stack_base(FIBER_POOL.start(), index));
        Ok(FiberStack {
            base: pointer(base)?,
            len: FIBER_STACK_SIZE,
        })
    }

    unsafe fn fiber_stack_free(&self, stack: FiberStack) {
        let base = stack.base.as_ptr() as u64;
        POOLS.with(|p| {
            if let Some(index) = p.fibers.index_of(FIBER_POOL.start(), base) {
                p.fibers.give_back(index);
            }
        });
    }
}
