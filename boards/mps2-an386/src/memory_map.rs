//! The board's memory map: the AN386 regions as QEMU models them, and how the board uses them.
//!
//! | range | what | use |
//! |---|---|---|
//! | [`FIRMWARE_CODE`] `0x0000_0000`, 2 MiB | ZBT SSRAM1 ([`SSRAM1`]), lower half | vector table, code, constants (`memory.x` `FLASH`) |
//! | [`CODE_POOL`] `0x0020_0000`, 2 MiB | ZBT SSRAM1, upper half | code memory |
//! | `0x2000_0000..0x2010_0000` | SSRAM2/3, first MiB ([`LINKER_RAM`]) | `.data`, `.bss`, main stack (exceptions) (`memory.x` `RAM`) |
//! | [`PROGRAM_STACK`] `0x2010_0000`, 1 MiB | SSRAM2/3 | the program's stack (process stack), its lowest [`PROGRAM_STACK_GUARD`] bytes a guard |
//! | [`ARENA_POOL`] `0x2020_0000`, 1984 KiB | SSRAM2/3 | store arenas |
//! | [`FIBER_POOL`] `0x203f_0000`, 64 KiB | SSRAM2/3 | [`FIBER_STACKS`] fiber stacks of [`FIBER_STACK_SIZE`] (resumable calls; no MPU guard: see `cortex_m_common::platform`) |
//! | [`MEMORY_POOL`] `0x2100_0000`, 8 MiB | PSRAM | linear-memory slots |
//! | [`LOADER_REGION`] `0x2180_0000`, 8 MiB | PSRAM | left to QEMU's `-device loader` (run requests, spec bundles) |
//! | [`UART0`] `0x4000_4000` | CMSDK APB UART0 | console |
//!
//! Nothing but the linker's `RAM` is zeroed or loaded at boot: the platform zeroes or writes
//! every pool block before handing it out, and the loader region holds what QEMU put there.
//!
//! # MPU (PMSAv7, 8 regions)
//!
//! [`mpu_map`] describes this map to `cortex_m_mpu::v7::plan`: the firmware's half of SSRAM1
//! is code (read-only, executable), the code pool (SSRAM1's other half), SSRAM2/3 and PSRAM are
//! RAM (read-write, execute-never), the code pool is read-only and executable while published,
//! and the program stack's guard and the front guard of every live memory slot are no-access.
//! Regions: 1 background (everything execute-never), 1 for the code (2 MiB, or all 4 MiB of
//! SSRAM1 with the code pool published: why the pool sits next to the firmware), 1 for the stack
//! guard, which leaves [`GUARD_CAPACITY`] = 5 for memory-slot guards (one 4 KiB region each
//! wherever the platform places the slot; the tests plan the worst cases).

use cortex_m_mpu::{MemoryMap, Range, SlotPool, Stack};

/// A range of the address space.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// First byte.
    pub start: usize,
    /// Length in bytes.
    pub len: usize,
}

impl Region {
    /// One past the last byte.
    pub const fn end(&self) -> usize {
        self.start + self.len
    }

    /// Whether `other` lies inside this region.
    pub const fn contains_region(&self, other: &Region) -> bool {
        other.start >= self.start && other.end() <= self.end()
    }

    /// Whether the two regions share a byte.
    pub const fn overlaps(&self, other: &Region) -> bool {
        self.start < other.end() && other.start < self.end()
    }

    /// Whether a PMSAv7 MPU region can cover exactly this range: a power-of-two size of at
    /// least 32 bytes, and a start aligned to it.
    pub const fn is_pmsav7_region(&self) -> bool {
        self.len >= 32 && self.len.is_power_of_two() && self.start.is_multiple_of(self.len)
    }
}

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;

/// ZBT SSRAM1: code.
pub const SSRAM1: Region = Region {
    start: 0x0000_0000,
    len: 4 * MIB,
};
/// The firmware's code and constants: the lower half of SSRAM1 (`memory.x` `FLASH`).
pub const FIRMWARE_CODE: Region = Region {
    start: 0x0000_0000,
    len: 2 * MIB,
};
/// ZBT SSRAM2 and 3: data.
pub const SSRAM23: Region = Region {
    start: 0x2000_0000,
    len: 4 * MIB,
};
/// PSRAM (QEMU's `mps.ram`).
pub const PSRAM: Region = Region {
    start: 0x2100_0000,
    len: 16 * MIB,
};
/// The part of SSRAM2/3 given to the linker (`memory.x` `RAM`).
pub const LINKER_RAM: Region = Region {
    start: 0x2000_0000,
    len: MIB,
};
/// The program stack (the process stack).
pub const PROGRAM_STACK: Region = Region {
    start: 0x2010_0000,
    len: MIB,
};
/// The guard at the bottom of the program stack (an MPU region without access).
pub const PROGRAM_STACK_GUARD: Region = Region {
    start: PROGRAM_STACK.start,
    len: KIB,
};
/// Store arenas.
pub const ARENA_POOL: Region = Region {
    start: 0x2020_0000,
    len: 2 * MIB - FIBER_POOL.len,
};
/// Bytes of each fiber stack (the runtime's fiber record sits at its top).
pub const FIBER_STACK_SIZE: usize = 16 * KIB;
/// Fiber stacks of the pool.
pub const FIBER_STACKS: usize = 4;
/// Fiber stacks (resumable calls): the top of SSRAM2/3, after the arenas.
pub const FIBER_POOL: Region = Region {
    start: SSRAM23.end() - FIBER_STACKS * FIBER_STACK_SIZE,
    len: FIBER_STACKS * FIBER_STACK_SIZE,
};
/// Code memory: the upper half of SSRAM1, so that published code and the firmware's code are
/// one MPU region.
pub const CODE_POOL: Region = Region {
    start: 0x0020_0000,
    len: 2 * MIB,
};
/// Linear-memory slots.
pub const MEMORY_POOL: Region = Region {
    start: 0x2100_0000,
    len: 8 * MIB,
};
/// Left to QEMU's loader: `-device loader,file=F,addr=0x21800000,force-raw=on`.
pub const LOADER_REGION: Region = Region {
    start: 0x2180_0000,
    len: 8 * MIB,
};
/// CMSDK APB UART0.
pub const UART0: usize = 0x4000_4000;

/// Allocation unit of the code pool.
pub const CODE_BLOCK: usize = KIB;
/// Allocation unit of the memory pool, and the size of each slot's front guard.
pub const MEMORY_BLOCK: usize = 4 * KIB;
/// Allocation unit of the arena pool.
pub const ARENA_BLOCK: usize = 4 * KIB;
/// MPU regions of the Cortex-M4F (`MPU_TYPE.DREGION` on QEMU's model too).
pub const MPU_REGIONS: usize = 8;
/// Memory-slot front guards the MPU holds at once (see the module documentation).
pub const GUARD_CAPACITY: usize = 5;

const fn range(region: Region) -> Range {
    Range::new(region.start as u32, region.end() as u32)
}

/// Firmware code and constants.
const CODE: [Range; 1] = [range(FIRMWARE_CODE)];
/// RAM: the code pool (until published), SSRAM2/3 and PSRAM.
const RAM: [Range; 3] = [range(CODE_POOL), range(SSRAM23), range(PSRAM)];
/// Peripherals the firmware uses (PMSAv7 leaves them to the default memory map).
const DEVICES: [Range; 1] = [Range::new(UART0 as u32, UART0 as u32 + 0x1000)];

/// The MPU map with the live memory-slot front `guards` (`cortex_m_mpu::v7::plan` adds the
/// published code).
pub fn mpu_map(guards: &[Range]) -> MemoryMap<'_> {
    MemoryMap {
        code: &CODE,
        ram: &RAM,
        devices: &DEVICES,
        stack: Stack {
            range: Range::new(PROGRAM_STACK_GUARD.end() as u32, PROGRAM_STACK.end() as u32),
            guard: PROGRAM_STACK_GUARD.len as u32,
        },
        code_pool: range(CODE_POOL),
        // Slots are placed at run time by the platform: their guards come in `guards`.
        slots: SlotPool {
            base: MEMORY_POOL.start as u32,
            count: 0,
            stride: MEMORY_BLOCK as u32,
            front_guard: MEMORY_BLOCK as u32,
            back_guard: 0,
        },
        guards,
    }
}

/// The code pool as one published range (the platform publishes the whole pool at once).
pub const CODE_POOL_RANGE: Range = range(CODE_POOL);

const _: () = {
    // Everything the board owns lies in the RAMs and outside the linker's part.
    let owned = [
        PROGRAM_STACK,
        ARENA_POOL,
        FIBER_POOL,
        CODE_POOL,
        MEMORY_POOL,
        LOADER_REGION,
    ];
    let mut i = 0;
    while i < owned.len() {
        assert!(
            SSRAM23.contains_region(&owned[i])
                || PSRAM.contains_region(&owned[i])
                || (SSRAM1.contains_region(&owned[i]) && !FIRMWARE_CODE.overlaps(&owned[i]))
        );
        assert!(!LINKER_RAM.overlaps(&owned[i]));
        let mut j = i + 1;
        while j < owned.len() {
            assert!(!owned[i].overlaps(&owned[j]));
            j += 1;
        }
        i += 1;
    }
    assert!(SSRAM23.contains_region(&LINKER_RAM));
    assert!(PROGRAM_STACK.contains_region(&PROGRAM_STACK_GUARD));
    // What the MPU covers with one region each.
    assert!(CODE_POOL.is_pmsav7_region());
    assert!(PROGRAM_STACK_GUARD.is_pmsav7_region());
    assert!(SSRAM1.is_pmsav7_region() && FIRMWARE_CODE.is_pmsav7_region());
    assert!(FIRMWARE_CODE.end() == CODE_POOL.start && CODE_POOL.end() == SSRAM1.end());
    assert!(PROGRAM_STACK.end().is_multiple_of(8));
    assert!(CODE_POOL.start.is_multiple_of(CODE_BLOCK));
    assert!(MEMORY_POOL.start.is_multiple_of(MEMORY_BLOCK));
    assert!(ARENA_POOL.start.is_multiple_of(ARENA_BLOCK));
    assert!(
        FIBER_POOL.start.is_multiple_of(FIBER_STACK_SIZE) && FIBER_STACK_SIZE.is_power_of_two()
    );
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_predicates() {
        let a = Region {
            start: 0x1000,
            len: 0x1000,
        };
        assert!(a.is_pmsav7_region());
        assert!(
            !Region {
                start: 0x1800,
                len: 0x1000
            }
            .is_pmsav7_region()
        );
        assert!(
            !Region {
                start: 0,
                len: 0x3000
            }
            .is_pmsav7_region()
        );
        assert!(
            !Region { start: 0, len: 16 }.is_pmsav7_region(),
            "below the 32-byte minimum"
        );
        assert!(a.overlaps(&Region {
            start: 0x1fff,
            len: 1
        }));
        assert!(!a.overlaps(&Region {
            start: 0x2000,
            len: 1
        }));
        assert!(!SSRAM23.contains_region(&a));
    }

    /// Front guards where the platform may put them: any block of the memory pool.
    fn guard(block: usize) -> Range {
        let start = (MEMORY_POOL.start + block * MEMORY_BLOCK) as u32;
        Range::new(start, start + MEMORY_BLOCK as u32)
    }

    #[test]
    fn mpu_plans_fit_the_cortex_m4f() {
        use cortex_m_mpu::v7;
        let pool_blocks = MEMORY_POOL.len / MEMORY_BLOCK;
        // Boot (no guard), code pool writable or executable.
        for published in [&[][..], &[CODE_POOL_RANGE][..]] {
            let plan = v7::plan(&mpu_map(&[]), published, MPU_REGIONS).unwrap();
            assert!(plan.regions().len() <= MPU_REGIONS - GUARD_CAPACITY);
        }
        // GUARD_CAPACITY guards anywhere in the pool (first, last, adjacent, spread), with the
        // code pool published: always plannable.
        let layouts: [[usize; GUARD_CAPACITY]; 4] = [
            [0, 17, 34, 51, 68],
            [0, 1, 2, 3, 4],
            [pool_blocks - 1, pool_blocks - 18, 5, 1000, 1500],
            [3, 7, 11, 15, 19],
        ];
        for layout in layouts {
            let guards: Vec<Range> = layout.iter().map(|&b| guard(b)).collect();
            for published in [&[][..], &[CODE_POOL_RANGE][..]] {
                v7::plan(&mpu_map(&guards), published, MPU_REGIONS)
                    .unwrap_or_else(|e| panic!("{layout:?}: {e}"));
            }
        }
        // The code is one region in both states: the firmware's half of SSRAM1, or all of it.
        for (published, code_len) in [(&[][..], 2 << 20), (&[CODE_POOL_RANGE][..], 4 << 20)] {
            let plan = v7::plan(&mpu_map(&[]), published, MPU_REGIONS).unwrap();
            let executable: Vec<u32> = plan
                .regions()
                .iter()
                .filter(|r| r.rasr & v7::RASR_XN == 0)
                .map(|r| 1 << (((r.rasr >> v7::RASR_SIZE_SHIFT) & 0x1f) + 1))
                .collect();
            assert_eq!(executable, [code_len]);
        }
    }

    #[test]
    fn memory_x_agrees() {
        // memory.x gives the linker FLASH = FIRMWARE_CODE and RAM = LINKER_RAM.
        let memory_x = include_str!("../memory.x");
        assert!(memory_x.contains("FLASH : ORIGIN = 0x00000000, LENGTH = 2M"));
        assert!(memory_x.contains("RAM   : ORIGIN = 0x20000000, LENGTH = 1M"));
        assert_eq!(FIRMWARE_CODE.len, 2 << 20);
        assert_eq!(LINKER_RAM.len, 1 << 20);
    }
}
