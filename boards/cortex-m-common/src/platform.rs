//! The device runtime's [`Platform`] over three static pools, for boards without an MMU.
//!
//! * **Code memory** ([`StaticPlatform::code_alloc`]): runs of blocks of the code pool. The
//!   pool is one protection unit: [`MemoryProtection::code_writable`] makes the whole pool
//!   read-write and execute-never while the runtime copies a module's text in, and
//!   [`MemoryProtection::code_executable`] makes it read-only and executable again when the
//!   text is published (or a region is freed). So no byte of the pool is ever writable and
//!   executable at once (W^X), at the price that published code of other modules cannot run
//!   while a load is in progress (one core: nothing runs during a load).
//! * **Memory slots** ([`StaticPlatform::memory_alloc`]): `[front guard][linear memory ...
//!   reservation]`, a run of blocks of the memory pool. The front guard (at least one block)
//!   is made inaccessible by [`MemoryProtection::protect_guard`] and recorded in a
//!   [`GuardTable`] that the fault handler reads, so a store below a linear memory's base
//!   (only hand-made or miscompiled code does that: Cortex-M images check every access
//!   explicitly) becomes a `MemoryOutOfBounds` trap instead of corrupting the neighbour. There
//!   is no back guard: the next slot's front guard, or the end of the pool, follows the
//!   reservation, and explicit bounds checks never pass the current length. Each guard takes
//!   one MPU region, so [`MemoryProtection::guard_capacity`] bounds the live slots; one more is
//!   [`PlatformError::Exhausted`]. A protection with no guard capacity (a board without an
//!   MPU) gives unguarded slots. The boards' protection is [`crate::mpu::Mpu`].
//! * **Arenas** ([`StaticPlatform::arena_alloc`]): runs of blocks of the arena pool, zeroed on
//!   allocation.
//! * **Fiber stacks** ([`StaticPlatform::fiber_stack_alloc`], resumable calls): one block each
//!   of the fiber pool that a board gives with [`StaticPlatform::with_fiber_stacks`] (the
//!   block is the stack size; without a pool, `Unsupported("fiber stacks")`). No MPU region
//!   guards them: the PMSAv7 and PMSAv8 budgets (8 regions) go to the background, the code,
//!   the program stack's guard and the memory-slot front guards, and a store with a memory
//!   needs its slot's guard as much as its call needs a fiber, so a guard per fiber would
//!   halve the stores that can run. Wasm code on a fiber is kept above the base by the
//!   runtime's software stack limit (base + the pool's host reserve, checked in every
//!   function prologue); host code running there (libcalls, host functions) must stay within
//!   that reserve, which nothing in hardware enforces.
//!
//! Every region is zeroed or written before it is handed out, so the pools need not be zeroed
//! at boot (`.uninit` or memory outside the program image).

use core::ptr::NonNull;

use device_runtime::platform::{
    ArenaRegion, CodeRegion, FiberStack, MemorySlot, Platform, PlatformError,
};

use crate::lock::Lock;
use crate::pools::{BlockBitmap, GuardTable, MAX_BLOCKS};

/// A pool: `len` bytes from `start`, handed out in blocks of `block` bytes (a power of two
/// that divides `start`; at most [`MAX_BLOCKS`] blocks are used).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool {
    /// First byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
    /// Allocation unit in bytes.
    pub block: usize,
}

impl Pool {
    /// Blocks of the pool that are managed.
    pub const fn blocks(&self) -> usize {
        let blocks = self.len / self.block;
        if blocks < MAX_BLOCKS {
            blocks
        } else {
            MAX_BLOCKS
        }
    }

    /// Whether `address` lies in the pool.
    pub fn contains(&self, address: usize) -> bool {
        address
            .checked_sub(self.start)
            .is_some_and(|offset| offset < self.len)
    }

    /// Whether the pool is well formed: a power-of-two block that divides the start, and at
    /// least one block.
    pub const fn is_valid(&self) -> bool {
        self.block.is_power_of_two()
            && self.start.is_multiple_of(self.block)
            && self.len >= self.block
    }

    fn address(&self, block: usize) -> usize {
        self.start + block * self.block
    }

    fn block_of(&self, address: usize) -> usize {
        (address - self.start) / self.block
    }

    fn blocks_for(&self, bytes: u64) -> Option<usize> {
        usize::try_from(bytes.div_ceil(self.block as u64)).ok()
    }
}

/// What the board's memory protection unit does for the platform.
///
/// # Safety
///
/// Implementations promise that each method's change is in effect when it returns (barriers
/// included), that `code_writable` leaves no byte of the code pool executable and
/// `code_executable` none writable, and that `protect_guard` makes `[start, start + len)`
/// inaccessible to every access from the program (a data access there raises a MemManage
/// fault with `MMFAR` = the address) until `unprotect_guard` with the same index.
pub unsafe trait MemoryProtection: Sync {
    /// Makes the code pool read-write and execute-never.
    fn code_writable(&self);
    /// Makes the code pool read-only and executable.
    fn code_executable(&self);
    /// How many front guards can be protected at once (0: none, slots are unguarded).
    fn guard_capacity(&self) -> usize;
    /// Makes guard `index` (`< guard_capacity()`), `[start, start + len)`, inaccessible.
    fn protect_guard(&self, index: usize, start: usize, len: usize) -> Result<(), PlatformError>;
    /// Makes guard `index` accessible again (its slot is freed).
    fn unprotect_guard(&self, index: usize);
}

struct State {
    code: BlockBitmap,
    memory: BlockBitmap,
    arenas: BlockBitmap,
    fibers: BlockBitmap,
}

/// The platform over static pools (see the module documentation).
pub struct StaticPlatform {
    code: Pool,
    memory: Pool,
    arenas: Pool,
    fibers: Option<Pool>,
    state: Lock<State>,
    guards: GuardTable,
    protection: &'static dyn MemoryProtection,
}

impl core::fmt::Debug for StaticPlatform {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StaticPlatform")
            .field("code", &self.code)
            .field("memory", &self.memory)
            .field("arenas", &self.arenas)
            .field("fibers", &self.fibers)
            .finish_non_exhaustive()
    }
}

impl StaticPlatform {
    /// A platform over the three pools (each must be [`Pool::is_valid`], checked at compile
    /// time when used in a `static`). The pools' memory must belong to the platform alone.
    pub const fn new(
        code: Pool,
        memory: Pool,
        arenas: Pool,
        protection: &'static dyn MemoryProtection,
    ) -> Self {
        assert!(code.is_valid() && memory.is_valid() && arenas.is_valid());
        StaticPlatform::build(code, memory, arenas, None, protection)
    }

    /// The same platform, also handing out fiber stacks: each one block of `fibers` (the
    /// block is the stack size, so the pool holds `len / block` stacks). The pool must be
    /// [`Pool::is_valid`] and belong to the platform alone.
    pub const fn with_fiber_stacks(self, fibers: Pool) -> Self {
        assert!(fibers.is_valid());
        StaticPlatform::build(
            self.code,
            self.memory,
            self.arenas,
            Some(fibers),
            self.protection,
        )
    }

    const fn build(
        code: Pool,
        memory: Pool,
        arenas: Pool,
        fibers: Option<Pool>,
        protection: &'static dyn MemoryProtection,
    ) -> Self {
        let fiber_blocks = match fibers {
            Some(pool) => pool.blocks(),
            None => 0,
        };
        StaticPlatform {
            code,
            memory,
            arenas,
            fibers,
            state: Lock::new(State {
                code: BlockBitmap::new(code.blocks()),
                memory: BlockBitmap::new(memory.blocks()),
                arenas: BlockBitmap::new(arenas.blocks()),
                fibers: BlockBitmap::new(fiber_blocks),
            }),
            guards: GuardTable::new(),
            protection,
        }
    }

    /// The fiber-stack pool, if the board gave one.
    pub fn fiber_pool(&self) -> Option<Pool> {
        self.fibers
    }

    /// Fiber stacks handed out.
    pub fn fiber_stacks_in_use(&self) -> usize {
        self.state
            .with(|s| s.fibers.blocks() - s.fibers.free_blocks())
    }

    /// The code pool.
    pub fn code_pool(&self) -> Pool {
        self.code
    }

    /// The memory-slot pool.
    pub fn memory_pool(&self) -> Pool {
        self.memory
    }

    /// The arena pool.
    pub fn arena_pool(&self) -> Pool {
        self.arenas
    }

    /// Free blocks `(code, memory, arenas)`: what a leak check compares.
    pub fn free_blocks(&self) -> (usize, usize, usize) {
        self.state.with(|s| {
            (
                s.code.free_blocks(),
                s.memory.free_blocks(),
                s.arenas.free_blocks(),
            )
        })
    }

    /// Whether `address` lies in the protected front guard of a live memory slot. Lock-free:
    /// what the fault handler asks about a MemManage fault's `MMFAR`.
    pub fn in_live_guard(&self, address: usize) -> bool {
        self.guards.contains(address)
    }

    /// Live protected front guards.
    pub fn live_guards(&self) -> usize {
        self.guards.live()
    }
}

fn pointer(address: usize, what: &'static str) -> Result<NonNull<u8>, PlatformError> {
    NonNull::new(address as *mut u8).ok_or(PlatformError::Exhausted(what))
}

/// Zeroing pool memory, the only unsafe operation of the platform.
mod zero {
    /// Zeroes `[start, start + len)`.
    ///
    /// # Safety
    /// The range lies in a pool of the platform, is readable and writable, and belongs to the
    /// caller alone (blocks the allocator just gave it).
    pub unsafe fn zero(start: usize, len: usize) {
        // SAFETY: guaranteed by the caller.
        unsafe { core::ptr::write_bytes(start as *mut u8, 0, len) };
    }
}

// SAFETY: every region is a run of blocks that the pool's bitmap gave out and takes back only
// on free, so regions never overlap and never move; memory slots and arenas are zeroed before
// they are handed out and `memory_grow` zeroes what it makes accessible; `code_publish` leaves
// the pool executable through `MemoryProtection::code_executable` (whose implementation
// promises the barriers) and then synchronises instruction fetch with `sync_icache`; a fiber
// stack is one block of the fiber pool, taken from and given back to its own bitmap.
unsafe impl Platform for StaticPlatform {
    fn code_alloc(&self, len: usize) -> Result<CodeRegion, PlatformError> {
        let exhausted = PlatformError::Exhausted("code memory");
        let blocks = self.code.blocks_for(len.max(1) as u64).ok_or(exhausted)?;
        let first = self.state.with(|s| s.code.alloc(blocks)).ok_or(exhausted)?;
        self.protection.code_writable();
        Ok(CodeRegion {
            base: pointer(self.code.address(first), "code memory")?,
            len: blocks * self.code.block,
        })
    }

    unsafe fn code_publish(&self, region: &CodeRegion) -> Result<(), PlatformError> {
        self.protection.code_executable();
        // SAFETY: the region lies in the code pool, which is readable.
        unsafe { device_runtime::fault::sync_icache(region.base.as_ptr(), region.len) };
        Ok(())
    }

    unsafe fn code_free(&self, region: CodeRegion) {
        let start = region.base.as_ptr() as usize;
        if self.code.contains(start) {
            let first = self.code.block_of(start);
            self.state
                .with(|s| s.code.free(first, region.len / self.code.block));
        }
        // A load that failed between `code_alloc` and `code_publish` leaves the pool writable:
        // published code of other modules must run again.
        self.protection.code_executable();
    }

    fn memory_alloc(
        &self,
        reservation: u64,
        guard: u64,
        initial: u64,
    ) -> Result<MemorySlot, PlatformError> {
        let exhausted = PlatformError::Exhausted("memory pool");
        if initial > reservation {
            return Err(exhausted);
        }
        let pool = self.memory;
        let guard_blocks = pool.blocks_for(guard.max(1)).ok_or(exhausted)?;
        let memory_blocks = pool.blocks_for(reservation).ok_or(exhausted)?;
        let total = guard_blocks.checked_add(memory_blocks).ok_or(exhausted)?;
        let guarded = self.protection.guard_capacity() > 0;
        let entry = if guarded {
            Some(
                self.guards
                    .free_entry(self.protection.guard_capacity())
                    .ok_or(PlatformError::Exhausted("MPU regions for front guards"))?,
            )
        } else {
            None
        };
        let first = self
            .state
            .with(|s| s.memory.alloc(total))
            .ok_or(exhausted)?;
        let mapping = pool.address(first);
        let guard_len = guard_blocks * pool.block;
        let base = mapping + guard_len;
        if let Some(index) = entry {
            // Recorded before it is protected: from now on a fault there is this slot's.
            self.guards.set(index, mapping, guard_len);
            if let Err(e) = self.protection.protect_guard(index, mapping, guard_len) {
                self.guards.clear(index);
                self.state.with(|s| s.memory.free(first, total));
                return Err(e);
            }
        }
        let accessible = usize::try_from(initial).map_err(|_| exhausted)?;
        // SAFETY: `[base, base + initial)` lies in the blocks just taken (initial <=
        // reservation), readable and writable (only the guard before it is protected).
        unsafe { zero::zero(base, accessible) };
        Ok(MemorySlot {
            base: pointer(base, "memory pool")?,
            reservation: (memory_blocks * pool.block) as u64,
            mapping: pointer(mapping, "memory pool")?,
            mapping_len: total * pool.block,
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
        if new_len <= old_len {
            return Ok(());
        }
        let exhausted = PlatformError::Exhausted("memory reservation");
        let from = usize::try_from(old_len).map_err(|_| exhausted)?;
        let len = usize::try_from(new_len - old_len).map_err(|_| exhausted)?;
        // SAFETY: `[base + old, base + new)` lies in the slot's reservation (new <=
        // reservation), which belongs to this slot alone and is readable and writable.
        unsafe { zero::zero(slot.base.as_ptr() as usize + from, len) };
        Ok(())
    }

    unsafe fn memory_free(&self, slot: MemorySlot) {
        let mapping = slot.mapping.as_ptr() as usize;
        if let Some(index) = self.guards.entry_at(mapping) {
            self.protection.unprotect_guard(index);
            self.guards.clear(index);
        }
        if self.memory.contains(mapping) {
            let first = self.memory.block_of(mapping);
            let blocks = slot.mapping_len / self.memory.block;
            self.state.with(|s| s.memory.free(first, blocks));
        }
    }

    fn arena_alloc(&self, len: usize) -> Result<ArenaRegion, PlatformError> {
        let exhausted = PlatformError::Exhausted("arena pool");
        let blocks = self.arenas.blocks_for(len.max(1) as u64).ok_or(exhausted)?;
        let first = self
            .state
            .with(|s| s.arenas.alloc(blocks))
            .ok_or(exhausted)?;
        let start = self.arenas.address(first);
        let bytes = blocks * self.arenas.block;
        // SAFETY: the blocks were just taken from the arena pool, which is readable and
        // writable.
        unsafe { zero::zero(start, bytes) };
        Ok(ArenaRegion {
            base: pointer(start, "arena pool")?,
            len: bytes,
        })
    }

    unsafe fn arena_free(&self, region: ArenaRegion) {
        let start = region.base.as_ptr() as usize;
        if self.arenas.contains(start) {
            let first = self.arenas.block_of(start);
            self.state
                .with(|s| s.arenas.free(first, region.len / self.arenas.block));
        }
    }

    fn fiber_stack_alloc(&self, len: usize) -> Result<FiberStack, PlatformError> {
        let pool = self
            .fibers
            .ok_or(PlatformError::Unsupported("fiber stacks"))?;
        if len > pool.block {
            return Err(PlatformError::Unsupported("fiber stacks this large"));
        }
        let block = self
            .state
            .with(|s| s.fibers.alloc(1))
            .ok_or(PlatformError::Exhausted("fiber stacks"))?;
        Ok(FiberStack {
            base: pointer(pool.address(block), "fiber stacks")?,
            len: pool.block,
        })
    }

    unsafe fn fiber_stack_free(&self, stack: FiberStack) {
        let start = stack.base.as_ptr() as usize;
        if let Some(pool) = self.fibers
            && pool.contains(start)
        {
            let block = pool.block_of(start);
            self.state.with(|s| s.fibers.free(block, 1));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what the platform asked of the protection unit; refuses guards when `refuse`.
    struct Recorder {
        capacity: usize,
        refuse: bool,
        log: Mutex<Vec<String>>,
    }

    // SAFETY: test double; nothing relies on real protection in these tests.
    unsafe impl MemoryProtection for Recorder {
        fn code_writable(&self) {
            self.log.lock().unwrap().push("code rw".into());
        }
        fn code_executable(&self) {
            self.log.lock().unwrap().push("code rx".into());
        }
        fn guard_capacity(&self) -> usize {
            self.capacity
        }
        fn protect_guard(
            &self,
            index: usize,
            start: usize,
            len: usize,
        ) -> Result<(), PlatformError> {
            if self.refuse {
                return Err(PlatformError::Exhausted("MPU regions for front guards"));
            }
            self.log
                .lock()
                .unwrap()
                .push(format!("guard {index} {start:#x}+{len:#x}"));
            Ok(())
        }
        fn unprotect_guard(&self, index: usize) {
            self.log.lock().unwrap().push(format!("unguard {index}"));
        }
    }

    fn recorder(capacity: usize) -> &'static Recorder {
        Box::leak(Box::new(Recorder {
            capacity,
            refuse: false,
            log: Mutex::new(Vec::new()),
        }))
    }

    /// A pool over leaked heap memory, aligned to `block`, filled with 0xAA.
    fn pool(len: usize, block: usize) -> Pool {
        let buffer = Box::leak(vec![0xAAu8; len + block].into_boxed_slice());
        let start = (buffer.as_ptr() as usize).next_multiple_of(block);
        Pool { start, len, block }
    }

    fn platform(capacity: usize) -> (StaticPlatform, &'static Recorder) {
        let protection = recorder(capacity);
        (
            StaticPlatform::new(
                pool(16 << 10, 1024),
                pool(256 << 10, 4096),
                pool(64 << 10, 4096),
                protection,
            ),
            protection,
        )
    }

    fn bytes(start: *const u8, len: usize) -> &'static [u8] {
        // SAFETY: test pools are leaked heap buffers, valid forever.
        unsafe { std::slice::from_raw_parts(start, len) }
    }

    #[test]
    fn code_pool_is_never_writable_and_executable() {
        let (p, rec) = platform(2);
        let region = p.code_alloc(1500).unwrap();
        assert_eq!(region.len, 2048);
        assert_eq!(rec.log.lock().unwrap().as_slice(), ["code rw"]);
        // SAFETY: the region came from code_alloc.
        unsafe { p.code_publish(&region).unwrap() };
        assert_eq!(rec.log.lock().unwrap().last().unwrap(), "code rx");
        let second = p.code_alloc(10).unwrap();
        assert_eq!(
            second.base.as_ptr() as usize,
            region.base.as_ptr() as usize + 2048
        );
        // A load that fails before publishing: freeing makes the pool executable again.
        // SAFETY: regions from code_alloc, nothing runs in them.
        unsafe { p.code_free(second) };
        assert_eq!(rec.log.lock().unwrap().last().unwrap(), "code rx");
        // SAFETY: from code_alloc; nothing runs in it.
        unsafe { p.code_free(region) };
        assert_eq!(p.free_blocks().0, 16);
        assert!(p.code_alloc(17 << 10).is_err());
    }

    #[test]
    fn memory_slots_have_protected_front_guards() {
        let (p, rec) = platform(2);
        let a = p.memory_alloc(64 << 10, 4096, 64 << 10).unwrap();
        let mapping = a.mapping.as_ptr() as usize;
        assert_eq!(mapping, p.memory_pool().start);
        assert_eq!(a.base.as_ptr() as usize, mapping + 4096);
        assert_eq!(a.mapping_len, 68 << 10);
        assert_eq!(a.reservation, 64 << 10);
        assert!(bytes(a.base.as_ptr(), 64 << 10).iter().all(|&b| b == 0));
        assert_eq!(
            rec.log.lock().unwrap().as_slice(),
            [format!("guard 0 {mapping:#x}+0x1000")]
        );
        assert!(p.in_live_guard(mapping));
        assert!(p.in_live_guard(mapping + 4095));
        assert!(
            !p.in_live_guard(mapping + 4096),
            "the memory is not a guard"
        );
        // Growth zeroes only what becomes accessible: the rest of a 128 KiB reservation.
        let b = p.memory_alloc(128 << 10, 100, 0).unwrap();
        assert_eq!(b.base.as_ptr() as usize, mapping + (68 << 10) + 4096);
        assert!(bytes(b.base.as_ptr(), 1).iter().all(|&x| x == 0xAA));
        // SAFETY: b came from memory_alloc.
        unsafe { p.memory_grow(&b, 0, 65536).unwrap() };
        assert!(bytes(b.base.as_ptr(), 65536).iter().all(|&x| x == 0));
        assert_eq!(bytes(b.base.as_ptr(), 65537)[65536], 0xAA);
        // SAFETY: b came from memory_alloc and is not freed.
        assert!(unsafe { p.memory_grow(&b, 65536, (128 << 10) + 1) }.is_err());
        // Guard capacity 2: a third slot is a typed error and takes nothing.
        let free = p.free_blocks();
        assert_eq!(
            p.memory_alloc(4096, 4096, 0).unwrap_err(),
            PlatformError::Exhausted("MPU regions for front guards")
        );
        assert_eq!(p.free_blocks(), free);
        // SAFETY: slots from memory_alloc, nothing accesses them.
        unsafe { p.memory_free(a) };
        assert!(!p.in_live_guard(mapping));
        assert_eq!(rec.log.lock().unwrap().last().unwrap(), "unguard 0");
        let c = p.memory_alloc(4096, 4096, 4096).unwrap();
        assert_eq!(
            c.mapping.as_ptr() as usize,
            mapping,
            "first fit reuses the hole"
        );
        // SAFETY: slots from memory_alloc, nothing accesses them.
        unsafe { p.memory_free(b) };
        // SAFETY: as above.
        unsafe { p.memory_free(c) };
        assert_eq!(p.free_blocks().1, 64);
        assert_eq!(p.live_guards(), 0);
    }

    #[test]
    fn a_refused_guard_takes_nothing() {
        let protection: &'static Recorder = Box::leak(Box::new(Recorder {
            capacity: 2,
            refuse: true,
            log: Mutex::new(Vec::new()),
        }));
        let p = StaticPlatform::new(
            pool(16 << 10, 1024),
            pool(256 << 10, 4096),
            pool(64 << 10, 4096),
            protection,
        );
        let free = p.free_blocks();
        assert_eq!(
            p.memory_alloc(8192, 4096, 0).unwrap_err(),
            PlatformError::Exhausted("MPU regions for front guards")
        );
        assert_eq!(p.free_blocks(), free, "the slot's blocks are back");
        assert_eq!(p.live_guards(), 0, "the guard entry is cleared");
    }

    #[test]
    fn slots_without_protection_are_unguarded() {
        let (p, rec) = platform(0);
        let a = p.memory_alloc(8192, 4096, 8192).unwrap();
        assert!(!p.in_live_guard(a.mapping.as_ptr() as usize));
        assert!(rec.log.lock().unwrap().is_empty());
        assert!(
            p.memory_alloc(1 << 20, 4096, 0).is_err(),
            "larger than the pool"
        );
        assert!(
            p.memory_alloc(4096, 4096, 8192).is_err(),
            "initial above reservation"
        );
        // SAFETY: from memory_alloc.
        unsafe { p.memory_free(a) };
    }

    #[test]
    fn arenas_are_zeroed_and_reused() {
        let (p, _) = platform(0);
        let a = p.arena_alloc(5000).unwrap();
        assert_eq!(a.len, 8192);
        assert!(bytes(a.base.as_ptr(), a.len).iter().all(|&b| b == 0));
        // SAFETY: the arena belongs to this test.
        unsafe { std::ptr::write_bytes(a.base.as_ptr(), 0x55, a.len) };
        let start = a.base.as_ptr();
        // SAFETY: from arena_alloc; nothing uses it any more.
        unsafe { p.arena_free(a) };
        let b = p.arena_alloc(100).unwrap();
        assert_eq!(b.base.as_ptr(), start);
        assert!(bytes(b.base.as_ptr(), b.len).iter().all(|&x| x == 0));
        assert!(p.arena_alloc(1 << 20).is_err());
    }

    #[test]
    fn fiber_stacks_are_blocks_of_their_pool() {
        let (p, _) = platform(2);
        assert_eq!(
            p.fiber_stack_alloc(4096).unwrap_err(),
            PlatformError::Unsupported("fiber stacks"),
            "no fiber pool given"
        );
        let fibers = pool(3 * (16 << 10), 16 << 10);
        let p = p.with_fiber_stacks(fibers);
        assert_eq!(
            p.fiber_stack_alloc((16 << 10) + 16).unwrap_err(),
            PlatformError::Unsupported("fiber stacks this large")
        );
        let stacks: Vec<FiberStack> = (0..3)
            .map(|_| p.fiber_stack_alloc(16 << 10).unwrap())
            .collect();
        assert_eq!(p.fiber_stacks_in_use(), 3);
        for (i, stack) in stacks.iter().enumerate() {
            assert_eq!(stack.base.as_ptr() as usize, fibers.start + i * (16 << 10));
            assert_eq!(stack.len, 16 << 10);
        }
        assert_eq!(
            p.fiber_stack_alloc(1024).unwrap_err(),
            PlatformError::Exhausted("fiber stacks")
        );
        let mut stacks = stacks.into_iter();
        let first = stacks.next().unwrap();
        let first_base = first.base;
        // SAFETY: the stack came from this platform and nothing runs on it.
        unsafe { p.fiber_stack_free(first) };
        assert_eq!(p.fiber_stacks_in_use(), 2);
        let again = p.fiber_stack_alloc(1024).unwrap();
        assert_eq!(again.base, first_base, "the freed stack is reused");
        for stack in stacks.chain([again]) {
            // SAFETY: as above.
            unsafe { p.fiber_stack_free(stack) };
        }
        assert_eq!(p.fiber_stacks_in_use(), 0);
        // Other pools are untouched by fiber stacks.
        assert_eq!(p.free_blocks(), (16, 64, 16));
    }
}
