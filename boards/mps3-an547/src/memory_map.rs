//! The board's memory map, and the MPU map derived from it.
//!
//! | range (Secure alias) | what | use |
//! |---|---|---|
//! | [`ITCM`] `0x1000_0000`, 512 KiB | ITCM | vector table, code, constants (`memory.x` `FLASH`): read-only, executable |
//! | [`PROGRAM_STACK_GUARD`] `0x3000_0000`, 1 KiB | DTCM | no access: the program stack overflows into it |
//! | [`PROGRAM_STACK`] `0x3000_0400` to `0x3004_0000` | DTCM | the program's stack (process stack) |
//! | [`LINKER_RAM`] `0x3004_0000`, 256 KiB | DTCM | `.data`, `.bss`, main stack (exceptions) (`memory.x` `RAM`) |
//! | [`CODE_POOL`] `0x1100_0000`, 512 KiB | SRAM | code memory: read-write while a module is copied in, read-only and executable once published |
//! | [`ARENA_POOL`] `0x1108_0000`, 960 KiB | SRAM | store arenas |
//! | [`FIBER_POOL`] `0x1117_0000`, 64 KiB | SRAM | [`FIBER_STACKS`] fiber stacks of [`FIBER_STACK_SIZE`] (resumable calls; no MPU guard: see `cortex_m_common::platform`) |
//! | [`LOADER_REGION`] `0x3100_0000`, 4 MiB | ISRAM 0/1 | left to QEMU's `-device loader` (spec bundles): read-write, execute-never |
//! | [`MEMORY_POOL`] `0x7000_0000`, 64 MiB | DDR | linear-memory slots, each below a no-access front guard |
//! | `0x1118_0000`, 512 KiB | SRAM | unused: no MPU region, every access faults |
//! | [`UART0`] `0x5930_3000` | CMSDK APB UART0 | console |
//!
//! Why the Secure aliases: the Cortex-M55 resets in Secure state and the firmware leaves the
//! SAU disabled, so every address is Secure; instruction fetches from an address the IDAU
//! calls Non-secure (bit 28 clear) would still work in QEMU, but on the FPGA only the Secure
//! aliases are Secure for both SAU and IDAU.
//!
//! The MPU ([`mpu_map`], planned by `cortex_m_mpu::v8`) has no background region: everything
//! above is covered by a region except the guards, so a guard, or any address not listed here,
//! faults. [`GUARD_CAPACITY`] live front guards fit in the 16 regions whatever the code pool's
//! state (`tests` checks the worst case): ITCM 1, DTCM 1, SRAM 2 (code pool and arenas differ
//! once code is published), loader region 1, UART 1, the memory pool one more than its guards.

use cortex_m_mpu::{MemoryMap, Range, SlotPool, Stack};

const KIB: u32 = 1 << 10;
const MIB: u32 = 1 << 20;

/// ITCM (Secure alias): the firmware image.
pub const ITCM: Range = Range::new(0x1000_0000, 0x1000_0000 + 512 * KIB);
/// SRAM (Secure alias).
pub const SRAM: Range = Range::new(0x1100_0000, 0x1100_0000 + 2 * MIB);
/// DTCM (Secure alias).
pub const DTCM: Range = Range::new(0x3000_0000, 0x3000_0000 + 512 * KIB);
/// ISRAM 0 and 1 (Secure alias).
pub const ISRAM: Range = Range::new(0x3100_0000, 0x3100_0000 + 4 * MIB);
/// DDR: the first 64 MiB of its Secure alias (QEMU models 2 GiB from `0x6000_0000` behind one
/// memory protection controller; on the FPGA `0x7000_0000` is the Secure alias).
pub const DDR: Range = Range::new(0x7000_0000, 0x7000_0000 + 64 * MIB);

/// The no-access guard below the program stack.
pub const PROGRAM_STACK_GUARD: Range = Range::new(DTCM.start, DTCM.start + KIB);
/// The program stack (the process stack); it grows down towards its guard.
pub const PROGRAM_STACK: Range = Range::new(PROGRAM_STACK_GUARD.end, DTCM.start + 256 * KIB);
/// The part of DTCM given to the linker (`memory.x` `RAM`).
pub const LINKER_RAM: Range = Range::new(PROGRAM_STACK.end, DTCM.end);
/// Code memory.
pub const CODE_POOL: Range = Range::new(SRAM.start, SRAM.start + 512 * KIB);
/// Store arenas.
pub const ARENA_POOL: Range = Range::new(CODE_POOL.end, FIBER_POOL.start);
/// Bytes of each fiber stack (the runtime's fiber record sits at its top).
pub const FIBER_STACK_SIZE: u32 = 16 * KIB;
/// Fiber stacks of the pool.
pub const FIBER_STACKS: u32 = 4;
/// Fiber stacks (resumable calls): the last 64 KiB of the arenas' former megabyte.
pub const FIBER_POOL: Range = Range::new(
    CODE_POOL.end + MIB - FIBER_STACKS * FIBER_STACK_SIZE,
    CODE_POOL.end + MIB,
);
/// Linear-memory slots.
pub const MEMORY_POOL: Range = DDR;
/// Left to QEMU's loader (`-device loader,file=F,addr=0x21000000,force-raw=on`: QEMU's loader
/// writes through the system address space, where ISRAM is plain RAM at its Non-secure
/// address, while SRAM and DDR sit behind memory protection controllers that refuse it; the
/// firmware reads it at the Secure alias `0x3100_0000`).
pub const LOADER_REGION: Range = ISRAM;
/// Where QEMU's loader writes [`LOADER_REGION`] (its Non-secure alias).
pub const LOADER_ADDRESS: u32 = 0x2100_0000;
/// CMSDK APB UART0 (Secure alias).
pub const UART0: Range = Range::new(0x5930_3000, 0x5930_4000);

/// Block size of the memory pool: front guards and memories are multiples of it, so every
/// guard boundary is a valid PMSAv8 region boundary (32-byte granularity). 64 MiB in 4096
/// blocks, the most the platform's bitmap manages.
pub const MEMORY_BLOCK: u32 = 16 * KIB;
/// Block size of the code pool.
pub const CODE_BLOCK: u32 = KIB;
/// Block size of the arena pool.
pub const ARENA_BLOCK: u32 = 4 * KIB;

/// MPU regions of the Cortex-M55 in QEMU (`MPU_TYPE.DREGION`, per security state).
pub const MPU_REGIONS: usize = 16;
/// Live front guards the MPU can protect at once (one more memory slot is refused with
/// `PlatformError::Exhausted`).
pub const GUARD_CAPACITY: usize = 8;

/// Read-only executable memory.
pub const CODE: [Range; 1] = [ITCM];
/// Read-write, execute-never memory: DTCM, the pools of SRAM (code, arenas, fiber stacks) (not its last 512 KiB, which
/// the board does not use: no region covers it, so an access there faults), the loader
/// region, the memory pool.
pub const RAM: [Range; 4] = [
    DTCM,
    Range::new(CODE_POOL.start, FIBER_POOL.end),
    LOADER_REGION,
    MEMORY_POOL,
];
/// Peripherals the firmware uses.
pub const DEVICES: [Range; 1] = [UART0];

/// The MPU map with the live front `guards` (`cortex_m_mpu::v8::plan` adds the published code).
pub fn mpu_map(guards: &[Range]) -> MemoryMap<'_> {
    MemoryMap {
        code: &CODE,
        ram: &RAM,
        devices: &DEVICES,
        stack: Stack {
            range: PROGRAM_STACK,
            guard: PROGRAM_STACK_GUARD.len(),
        },
        code_pool: CODE_POOL,
        // Slots are placed at run time by the platform: their guards come in `guards`.
        slots: SlotPool {
            base: MEMORY_POOL.start,
            count: 0,
            stride: MEMORY_BLOCK,
            front_guard: MEMORY_BLOCK,
            back_guard: 0,
        },
        guards,
    }
}

const _: () = {
    // Everything the board owns lies in one RAM and outside the linker's part.
    assert!(DTCM.start <= PROGRAM_STACK_GUARD.start && LINKER_RAM.end == DTCM.end);
    assert!(SRAM.start <= CODE_POOL.start && FIBER_POOL.end <= SRAM.end);
    assert!(ARENA_POOL.end == FIBER_POOL.start);
    assert!(
        FIBER_POOL.start.is_multiple_of(FIBER_STACK_SIZE) && FIBER_STACK_SIZE.is_power_of_two()
    );
    assert!(CODE_POOL.end <= ARENA_POOL.start);
    assert!(PROGRAM_STACK.end.is_multiple_of(8));
    assert!(CODE_POOL.start.is_multiple_of(CODE_BLOCK));
    assert!(ARENA_POOL.start.is_multiple_of(ARENA_BLOCK));
    assert!(MEMORY_POOL.start.is_multiple_of(MEMORY_BLOCK) && MEMORY_BLOCK.is_multiple_of(32));
};

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;
    use cortex_m_mpu::v8;

    #[test]
    fn memory_x_agrees() {
        let memory_x = include_str!("../memory.x");
        assert!(memory_x.contains("FLASH : ORIGIN = 0x10000000, LENGTH = 512K"));
        assert!(memory_x.contains("RAM   : ORIGIN = 0x30040000, LENGTH = 256K"));
        assert_eq!(ITCM.len(), 512 << 10);
        assert_eq!(
            LINKER_RAM,
            Range::new(0x3004_0000, 0x3004_0000 + (256 << 10))
        );
    }

    /// The worst case for the region count: every guard live, none adjacent to another or to
    /// the pool's start, with the code pool in both states.
    #[test]
    fn the_worst_case_fits_the_mpu() {
        let guards: Vec<Range> = (0..GUARD_CAPACITY as u32)
            .map(|i| {
                let start = MEMORY_POOL.start + MEMORY_BLOCK + i * 3 * MEMORY_BLOCK;
                Range::new(start, start + MEMORY_BLOCK)
            })
            .collect();
        let map = mpu_map(&guards);
        for published in [&[][..], &[CODE_POOL][..]] {
            let plan = v8::plan(&map, published, MPU_REGIONS).unwrap();
            assert!(plan.regions().len() <= MPU_REGIONS);
        }
        // One guard more than the capacity still fits: the capacity keeps a margin, so the
        // published-code state can never make a live plan fail.
        let mut more = guards.clone();
        let start = MEMORY_POOL.start + MEMORY_BLOCK + GUARD_CAPACITY as u32 * 3 * MEMORY_BLOCK;
        more.push(Range::new(start, start + MEMORY_BLOCK));
        assert!(v8::plan(&mpu_map(&more), &[CODE_POOL], MPU_REGIONS).is_ok());
    }

    /// What the firmware touches is accessible in every state, the guards are not.
    #[test]
    fn the_firmware_stays_accessible() {
        let guard = Range::new(MEMORY_POOL.start, MEMORY_POOL.start + MEMORY_BLOCK);
        let guards = [guard];
        let plan = v8::plan(&mpu_map(&guards), &[], MPU_REGIONS).unwrap();
        let covered = |address: u32| {
            plan.regions().iter().any(|r| {
                r.rlar & 1 == 1 && (r.rbar & !0x1f) <= address && address <= (r.rlar | 0x1f)
            })
        };
        for address in [
            ITCM.start,
            ITCM.end - 1,
            PROGRAM_STACK.start,
            LINKER_RAM.end - 1,
            CODE_POOL.start,
            ARENA_POOL.end - 1,
            guard.end,
            UART0.start,
        ] {
            assert!(covered(address), "{address:#x} not covered");
        }
        for address in [
            PROGRAM_STACK_GUARD.start,
            PROGRAM_STACK_GUARD.end - 1,
            guard.start,
            guard.end - 1,
        ] {
            assert!(!covered(address), "guard {address:#x} covered");
        }
    }
}
