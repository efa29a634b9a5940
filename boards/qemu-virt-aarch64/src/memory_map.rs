//! The board's memory map: the `virt` machine's regions, the linker's sections
//! (`link.x`), the pools, and the boot plan of the page tables made from them.
//!
//! | range | what | mapping |
//! |---|---|---|
//! | `0x0000_0000..0x0800_0000` | flash | normal, read-only, XN, except: |
//! | [`IMAGE_PARTITION`] (`0x0400_0000`, 16 MiB of pflash1) | images flashed for execution in place | read-only, XN; the text of an image loaded in place read-execute ([`crate::xip`]) |
//! | `0x0800_0000..0x1000_0000` | GIC, PL011 UART, RTC, fw_cfg, virtio | device nGnRE, XN |
//! | `0x4000_0000..+RAM_SIZE` | RAM | normal, read-write, XN, except: |
//! | `__text_start..__text_end` | firmware code | read-execute |
//! | `__rodata_start..__rodata_end` | constants (built-in images too) | read-only |
//! | `__stack_guard` (one page) | below the program stack | unmapped |
//! | [`CODE_POOL`] | code memory | unmapped until allocated; RW, then RX once published |
//! | [`MEMORY_POOL`] | small linear-memory slots, and the physical pages behind wide slots | unmapped except the accessible part of each small-slot memory |
//! | [`ARENA_POOL`] | store arenas | read-write |
//! | [`FIBER_POOL`] | [`FIBER_STACKS`] fiber stacks of [`FIBER_STACK_SIZE`] (resumable calls), each above a guard page | read-write, except each guard page: unmapped |
//! | [`LOADER_REGION`] (`0x4c00_0000`, the last 64 MiB of RAM) | left to QEMU's loader (spec bundles, `examples/spec_bundle.rs`) | read-write |
//! | [`WIDE_SLOTS_START`]`..+`[`WIDE_SLOT_COUNT`]` x `[`WIDE_SLOT_STRIDE`] (64..128 GiB, virtual only) | wide memory slots | unmapped except the accessible pages of each memory, mapped to pages of [`MEMORY_POOL`] |
//!
//! # Wide memory slots
//!
//! Guard-elided code (compiled with `--bounds-checks guard-elided`) adds a 32-bit index and a
//! static offset to the memory base without any check, so every address from the base up to
//! 4 GiB + guard must fault unless it is accessible. The RAM of this machine cannot hold such a
//! span, but the 39-bit virtual address space can: slot `i` is the 8 GiB range from
//! `WIDE_SLOTS_START + i * WIDE_SLOT_STRIDE`,
//!
//! ```text
//! slot start       +1 GiB = memory base                              +8 GiB = next slot
//! | front guard     | window (64 MiB, planned) | never planned ...     |
//! | L1 entry invalid| L3 entries: accessible pages -> MEMORY_POOL   | L2/L1 entries invalid
//! ```
//!
//! The first [`WIDE_SLOT_WINDOW`] bytes from the base (as much as the physical pool could ever
//! back) are planned page by page at boot, one level-2 table and 32 level-3 tables per slot
//! (1 MiB of tables for the eight slots), all entries invalid; a memory's accessible pages are
//! mapped there to physical pages taken one by one from [`MEMORY_POOL`] (never identity: those
//! pages stay unmapped at their own address). Everything else in the slot has an invalid
//! level-1 or level-2 entry and is never planned, so the runtime never needs a new table. A
//! slot provides [`WIDE_SLOT_STRIDE`]` - `[`WIDE_SLOT_FRONT_GUARD`] (7 GiB) of guarded span
//! from its base.
//!
//! Why every slot gets the whole window rather than fewer large windows or shared tables: a
//! memory's growth limit must not depend on which free slot it happened to get (so fewer large
//! windows would need a placement policy that cannot know how far a memory will grow), and
//! two slots can share no level-3 table, since a table maps the same pages for every slot that
//! points to it; handing tables to slots on demand would mean taking a table at run time,
//! which the MMU's invariants exclude. The cost, 264 tables of 4 KiB, is 0.4% of the RAM.
//!
//! # Pools
//!
//! The pools are not Rust statics: a `global_asm!` block reserves them in a section of their
//! own (`.pools`, `%nobits`), which `link.x` places after `.bss` and in no loadable segment,
//! so neither QEMU's ELF loader nor the boot code clears their 65 MiB (only `.bss`, with the
//! page tables, is zeroed). Nothing needs them zeroed: every page is zeroed (memory slots,
//! arenas) or written (code) by the platform before it is handed out. Their sizes come from
//! the constants below, so the linker script holds no copy of them.

use crate::mmu::plan::{
    Attributes, BLOCK_SIZE, Granularity, LEVEL1_SIZE, PAGE_SIZE, PlanError, TranslationTables,
};

/// Start of RAM.
pub const RAM_START: u64 = 0x4000_0000;
/// RAM size every QEMU command line of the board gives (`-m 256M`): the firmware with its
/// pools (`link.x` lets it grow up to [`LOADER_REGION`]), then [`LOADER_REGION`].
pub const RAM_SIZE: u64 = 256 << 20;
/// The end of RAM that the firmware leaves to QEMU's loader: data placed before boot with
/// `-device loader,file=...,addr=0x4c000000,force-raw=on` (spec bundles, at most 64 MiB).
/// `link.x` ends the firmware's RAM region at its start, so no firmware can overlap it.
pub const LOADER_REGION: (u64, u64) = (RAM_START + RAM_SIZE - (64 << 20), 64 << 20);
/// Flash banks (pflash0 and pflash1).
pub const FLASH: (u64, u64) = (0, 0x0800_0000);
/// The flash partition where images are flashed (QEMU's `-device loader` stands in for the
/// flash tool): the start of pflash1 and its first 16 MiB, planned page by page so that
/// [`crate::xip`] can make exactly the text of a verified image executable.
pub const IMAGE_PARTITION: (u64, u64) = (0x0400_0000, 16 << 20);
/// Peripherals.
pub const DEVICES: (u64, u64) = (0x0800_0000, 0x0800_0000);

/// A page-aligned region of RAM of `N` bytes reserved in section `.pools` (not zeroed at
/// boot; see "Pools" above). It is only ever used through its addresses.
pub struct Pool<const N: usize> {
    start: fn() -> u64,
}

impl<const N: usize> Pool<N> {
    const fn new(start: fn() -> u64) -> Self {
        const { assert!((N as u64).is_multiple_of(PAGE_SIZE)) };
        Pool { start }
    }

    /// First byte.
    pub fn start(&self) -> u64 {
        (self.start)()
    }

    /// Length in bytes.
    pub const fn len(&self) -> u64 {
        N as u64
    }

    /// Whether the pool has no bytes (never, for the board's pools).
    pub const fn is_empty(&self) -> bool {
        N == 0
    }

    /// Pages.
    pub const fn pages(&self) -> usize {
        N / PAGE_SIZE as usize
    }

    /// Whether `address` lies inside.
    pub fn contains(&self, address: u64) -> bool {
        address >= self.start() && address - self.start() < self.len()
    }
}

/// Bytes of code memory.
pub const CODE_POOL_SIZE: usize = 256 << 10;
/// Bytes of linear-memory slots (small slots' memories, their reserved growth and guards;
/// the pages behind wide slots): enough for the largest memory of the spec testsuite (803
/// wasm pages, 50 MiB) next to the small ones.
pub const MEMORY_POOL_SIZE: usize = 64 << 20;
/// Bytes of store arenas.
pub const ARENA_POOL_SIZE: usize = 512 << 10;
/// Fiber stacks (resumable calls) the pool holds.
pub const FIBER_STACKS: usize = 4;
/// Bytes of each fiber stack (the runtime's fiber record sits at its top).
pub const FIBER_STACK_SIZE: usize = 32 << 10;
/// Bytes of the never-mapped guard below each fiber stack.
pub const FIBER_GUARD_SIZE: usize = PAGE_SIZE as usize;
/// Bytes of the fiber-stack pool: [`FIBER_STACKS`] slots of guard + stack
/// ([`crate::fiber_slots`]).
pub const FIBER_POOL_SIZE: usize =
    crate::fiber_slots::FiberSlots::<FIBER_STACKS>::pool_bytes(FIBER_GUARD_SIZE, FIBER_STACK_SIZE);

const _: () = assert!(FIBER_STACK_SIZE.is_multiple_of(PAGE_SIZE as usize));

/// Virtual address of the first wide memory slot (64 GiB; nothing is mapped from there on
/// except the accessible pages of wide-slot memories).
pub const WIDE_SLOTS_START: u64 = 64 << 30;
/// Distance between wide slots: the span of one slot, front guard included.
pub const WIDE_SLOT_STRIDE: u64 = 8 << 30;
/// Number of wide slots (each holds one memory).
pub const WIDE_SLOT_COUNT: usize = 8;
/// Bytes below each wide slot's memory base that are never mapped (one level-1 entry).
pub const WIDE_SLOT_FRONT_GUARD: u64 = LEVEL1_SIZE;
/// Bytes from a wide slot's base that are planned page by page at boot (so they can be mapped
/// at run time): what the physical pool can back at most.
pub const WIDE_SLOT_WINDOW: u64 = MEMORY_POOL_SIZE as u64;
/// Translation tables each wide slot's window takes at boot: one level-2 table and one level-3
/// table per 2 MiB.
pub const WIDE_SLOT_TABLES: usize = 1 + (WIDE_SLOT_WINDOW / BLOCK_SIZE) as usize;

const _: () = {
    // The window fits the level-1 entry that starts at the (1 GiB-aligned) base, and the
    // slots stay inside the 39-bit address space.
    assert!(WIDE_SLOT_WINDOW.is_multiple_of(BLOCK_SIZE) && WIDE_SLOT_WINDOW <= LEVEL1_SIZE);
    assert!(WIDE_SLOT_FRONT_GUARD.is_multiple_of(LEVEL1_SIZE));
    assert!(WIDE_SLOT_STRIDE >= WIDE_SLOT_FRONT_GUARD + (4 << 30) + (64 << 10));
    assert!(
        WIDE_SLOTS_START + WIDE_SLOT_COUNT as u64 * WIDE_SLOT_STRIDE
            <= 1 << crate::mmu::plan::VA_BITS
    );
};

/// The memory base of wide slot `index` (`index < WIDE_SLOT_COUNT`).
pub const fn wide_slot_base(index: usize) -> u64 {
    WIDE_SLOTS_START + index as u64 * WIDE_SLOT_STRIDE + WIDE_SLOT_FRONT_GUARD
}

// The pools: section `.pools` (no file bytes; `link.x` places it after `.bss`, so the boot
// code does not zero it), each pool page-aligned, with the sizes of the constants above.
core::arch::global_asm!(
    ".pushsection .pools, \"aw\", %nobits",
    ".p2align 12",
    ".globl __code_pool",
    "__code_pool:",
    ".skip {code}",
    ".p2align 12",
    ".globl __memory_pool",
    "__memory_pool:",
    ".skip {memory}",
    ".p2align 12",
    ".globl __arena_pool",
    "__arena_pool:",
    ".skip {arenas}",
    ".p2align 12",
    ".globl __fiber_pool",
    "__fiber_pool:",
    ".skip {fibers}",
    ".popsection",
    code = const CODE_POOL_SIZE,
    memory = const MEMORY_POOL_SIZE,
    arenas = const ARENA_POOL_SIZE,
    fibers = const FIBER_POOL_SIZE,
);

/// Code memory.
pub static CODE_POOL: Pool<CODE_POOL_SIZE> = Pool::new(|| address(&raw const __code_pool));
/// Linear-memory slots.
pub static MEMORY_POOL: Pool<MEMORY_POOL_SIZE> = Pool::new(|| address(&raw const __memory_pool));
/// Store arenas.
pub static ARENA_POOL: Pool<ARENA_POOL_SIZE> = Pool::new(|| address(&raw const __arena_pool));
/// Fiber stacks, each above an unmapped guard page.
pub static FIBER_POOL: Pool<FIBER_POOL_SIZE> = Pool::new(|| address(&raw const __fiber_pool));

fn address(p: *const u8) -> u64 {
    p as u64
}

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __rw_start: u8;
    static __rw_end: u8;
    static __stack_guard: u8;
    static __code_pool: u8;
    static __memory_pool: u8;
    static __arena_pool: u8;
    static __fiber_pool: u8;
}

/// A linker-defined section boundary.
#[derive(Clone, Copy, Debug)]
pub struct Sections {
    /// Firmware code.
    pub text: (u64, u64),
    /// Constants.
    pub rodata: (u64, u64),
    /// Data, `.bss`, the pools, stacks.
    pub read_write: (u64, u64),
    /// The unmapped page below the program stack.
    pub stack_guard: u64,
}

/// The linker's section boundaries.
pub fn sections() -> Sections {
    Sections {
        text: (
            address(&raw const __text_start),
            address(&raw const __text_end),
        ),
        rodata: (
            address(&raw const __rodata_start),
            address(&raw const __rodata_end),
        ),
        read_write: (address(&raw const __rw_start), address(&raw const __rw_end)),
        stack_guard: address(&raw const __stack_guard),
    }
}

fn round_up(x: u64) -> u64 {
    x.next_multiple_of(PAGE_SIZE)
}

/// The boot plan (see the table in the module documentation). Later entries override
/// earlier ones.
pub fn plan<const N: usize>(tables: &mut TranslationTables<N>) -> Result<(), PlanError> {
    let s = sections();
    tables.map(
        FLASH.0,
        FLASH.1,
        Some(Attributes::READ_ONLY),
        Granularity::Blocks,
    )?;
    tables.map(
        IMAGE_PARTITION.0,
        IMAGE_PARTITION.1,
        Some(Attributes::READ_ONLY),
        Granularity::Pages,
    )?;
    tables.map(
        DEVICES.0,
        DEVICES.1,
        Some(Attributes::DEVICE),
        Granularity::Blocks,
    )?;
    tables.map(
        RAM_START,
        RAM_SIZE,
        Some(Attributes::DATA),
        Granularity::Blocks,
    )?;
    tables.map(
        s.text.0,
        round_up(s.text.1 - s.text.0),
        Some(Attributes::CODE),
        Granularity::Pages,
    )?;
    tables.map(
        s.rodata.0,
        round_up(s.rodata.1 - s.rodata.0),
        Some(Attributes::READ_ONLY),
        Granularity::Pages,
    )?;
    tables.map(s.stack_guard, PAGE_SIZE, None, Granularity::Pages)?;
    tables.map(CODE_POOL.start(), CODE_POOL.len(), None, Granularity::Pages)?;
    tables.map(
        MEMORY_POOL.start(),
        MEMORY_POOL.len(),
        None,
        Granularity::Pages,
    )?;
    for index in 0..FIBER_STACKS {
        let guard = FIBER_POOL.start() + (index * (FIBER_GUARD_SIZE + FIBER_STACK_SIZE)) as u64;
        tables.map(guard, FIBER_GUARD_SIZE as u64, None, Granularity::Pages)?;
    }
    for index in 0..WIDE_SLOT_COUNT {
        tables.map(
            wide_slot_base(index),
            WIDE_SLOT_WINDOW,
            None,
            Granularity::Pages,
        )?;
    }
    Ok(())
}
