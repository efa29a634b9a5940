//! The board's memory map: the `virt` machine's regions, the linker's sections
//! (`link.x`), the pools, and the boot plan of the page tables made from them.
//!
//! | range | what | mapping |
//! |---|---|---|
//! | `0x0000_0000..0x0800_0000` | flash | normal, read-only, XN |
//! | `0x0800_0000..0x1000_0000` | GIC, PL011 UART, RTC, fw_cfg, virtio | device nGnRE, XN |
//! | `0x4000_0000..+RAM_SIZE` | RAM | normal, read-write, XN, except: |
//! | `__text_start..__text_end` | firmware code | read-execute |
//! | `__rodata_start..__rodata_end` | constants (built-in images too) | read-only |
//! | `__stack_guard` (one page) | below the program stack | unmapped |
//! | [`CODE_POOL`] | code memory | unmapped until allocated; RW, then RX once published |
//! | [`MEMORY_POOL`] | linear-memory slots | unmapped except the accessible part of each memory |
//! | [`ARENA_POOL`] | store arenas | read-write |

use core::cell::UnsafeCell;

use crate::mmu::plan::{Attributes, Granularity, PAGE_SIZE, PlanError, TranslationTables};

/// Start of RAM.
pub const RAM_START: u64 = 0x4000_0000;
/// RAM size the runner gives QEMU (`-m 128M`).
pub const RAM_SIZE: u64 = 128 << 20;
/// Flash banks (pflash0 and pflash1).
pub const FLASH: (u64, u64) = (0, 0x0800_0000);
/// Peripherals.
pub const DEVICES: (u64, u64) = (0x0800_0000, 0x0800_0000);

/// A page-aligned region of RAM reserved by the linker (in `.bss`, zeroed at boot).
#[repr(C, align(4096))]
pub struct Pool<const N: usize>(UnsafeCell<[u8; N]>);

// SAFETY: the pool's bytes are only reached through raw addresses handed out by the
// platform's allocators, which give each byte to one owner at a time.
unsafe impl<const N: usize> Sync for Pool<N> {}

impl<const N: usize> Pool<N> {
    const fn new() -> Self {
        const { assert!((N as u64).is_multiple_of(PAGE_SIZE)) };
        Pool(UnsafeCell::new([0; N]))
    }

    /// First byte.
    pub fn start(&self) -> u64 {
        self.0.get() as u64
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
/// Bytes of linear-memory slots (memories, their reserved growth and guards).
pub const MEMORY_POOL_SIZE: usize = 8 << 20;
/// Bytes of store arenas.
pub const ARENA_POOL_SIZE: usize = 512 << 10;

/// Code memory.
pub static CODE_POOL: Pool<CODE_POOL_SIZE> = Pool::new();
/// Linear-memory slots.
pub static MEMORY_POOL: Pool<MEMORY_POOL_SIZE> = Pool::new();
/// Store arenas.
pub static ARENA_POOL: Pool<ARENA_POOL_SIZE> = Pool::new();

unsafe extern "C" {
    static __text_start: u8;
    static __text_end: u8;
    static __rodata_start: u8;
    static __rodata_end: u8;
    static __rw_start: u8;
    static __rw_end: u8;
    static __stack_guard: u8;
}

/// A linker-defined section boundary.
#[derive(Clone, Copy, Debug)]
pub struct Sections {
    /// Firmware code.
    pub text: (u64, u64),
    /// Constants.
    pub rodata: (u64, u64),
    /// Data, `.bss` (pools included), stacks.
    pub read_write: (u64, u64),
    /// The unmapped page below the program stack.
    pub stack_guard: u64,
}

/// The linker's section boundaries.
pub fn sections() -> Sections {
    let address = |p: *const u8| p as u64;
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
    Ok(())
}
