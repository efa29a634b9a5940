//! Host tests of both planners: decoded register values against the policy at sampled
//! addresses, with small independent models of the architectures' lookup rules.

extern crate std;

use std::format;
use std::string::String;
use std::vec;
use std::vec::Vec;

use crate::{CodeRanges, MemoryMap, PlanError, Range, SlotPool, Stack, v7, v8};

/// What privileged code may do at an address, and whether the memory is device memory (only
/// compared where reads are allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Access {
    read: bool,
    write: bool,
    execute: bool,
    device: bool,
}

const NONE: Access = Access {
    read: false,
    write: false,
    execute: false,
    device: false,
};
const READ_WRITE: Access = Access {
    read: true,
    write: true,
    execute: false,
    device: false,
};
const READ_EXECUTE: Access = Access {
    read: true,
    write: false,
    execute: true,
    device: false,
};

fn same(a: Access, b: Access) -> bool {
    (a.read, a.write, a.execute) == (b.read, b.write, b.execute)
        && (!a.read || a.device == b.device)
}

fn in_ppb(address: u32) -> bool {
    (0xE000_0000..0xE010_0000).contains(&address)
}

fn in_default_normal_space(address: u32) -> bool {
    address < 0x4000_0000 || (0x6000_0000..0xA000_0000).contains(&address)
}

/// The ARMv7-M/ARMv8-M default memory map for privileged code.
fn default_map(address: u32) -> Access {
    let execute_never = (0x4000_0000..0x6000_0000).contains(&address) || address >= 0xA000_0000;
    Access {
        read: true,
        write: true,
        execute: !execute_never,
        device: !in_default_normal_space(address),
    }
}

/// PMSAv7 lookup for a privileged data access or fetch (ARMv7-M ARM B3.5): highest-numbered
/// enabled region containing the address wins unless its subregion is disabled; no hit: the
/// default map with PRIVDEFENA, else a fault. Reserved encodings are test failures.
fn decode_v7(regions: &[v7::Region], ctrl: u32, address: u32) -> Result<Access, String> {
    if in_ppb(address) || ctrl & 1 == 0 {
        return Ok(default_map(address));
    }
    for (number, region) in regions.iter().enumerate().rev() {
        if region.rasr & 1 == 0 {
            continue;
        }
        let size_field = (region.rasr >> 1) & 0x1f;
        if size_field < 4 {
            return Err(format!("region {number}: reserved SIZE {size_field}"));
        }
        let size = 1u64 << (size_field + 1);
        let base = u64::from(region.rbar & !0x1f);
        if base % size != 0 {
            return Err(format!(
                "region {number}: base {base:#x} not aligned to {size:#x}"
            ));
        }
        let disabled = (region.rasr >> 8) & 0xff;
        if size < 256 && disabled != 0 {
            return Err(format!("region {number}: SRD on a region under 256 bytes"));
        }
        let address64 = u64::from(address);
        if address64 < base || address64 >= base + size {
            continue;
        }
        if size >= 256 && (disabled >> ((address64 - base) / (size / 8))) & 1 == 1 {
            continue;
        }
        let (read, write) = match (region.rasr >> 24) & 0b111 {
            0b000 => (false, false),
            0b001..=0b011 => (true, true),
            0b101..=0b111 => (true, false),
            ap => return Err(format!("region {number}: reserved AP {ap:#b}")),
        };
        let execute_never = (region.rasr >> 28) & 1 == 1 || address >= 0xE000_0000;
        let tex_c_b = (region.rasr >> 16) & 0b111011;
        return Ok(Access {
            read,
            write,
            execute: read && !execute_never,
            // TEX = 000, C = 0: strongly ordered or device.
            device: tex_c_b & 0b111010 == 0,
        });
    }
    if ctrl & 0b100 != 0 {
        Ok(default_map(address))
    } else {
        Ok(NONE)
    }
}

/// PMSAv8 lookup (ARMv8-M ARM B3.9): an address in two enabled regions faults; in one, that
/// region's AP/XN (privileged code can always read); in none, the default map with PRIVDEFENA,
/// else a fault.
fn decode_v8(
    regions: &[v8::Region],
    mair0: u32,
    ctrl: u32,
    address: u32,
) -> Result<Access, String> {
    if in_ppb(address) || ctrl & 1 == 0 {
        return Ok(default_map(address));
    }
    let hits: Vec<&v8::Region> = regions
        .iter()
        .filter(|r| r.rlar & 1 == 1)
        .filter(|r| (r.rbar & !0x1f) <= address && address <= (r.rlar | 0x1f))
        .collect();
    match hits.as_slice() {
        [] if ctrl & 0b100 != 0 => Ok(default_map(address)),
        [] => Ok(NONE),
        [region] => {
            if (region.rbar >> 3) & 0b11 == 0b01 {
                return Err(format!("reserved SH in {region:?}"));
            }
            let index = (region.rlar >> 1) & 0b111;
            if index >= 4 {
                return Err(format!(
                    "attribute index {index} is in MAIR1, never programmed"
                ));
            }
            let attribute = (mair0 >> (8 * index)) & 0xff;
            let read_only = (region.rbar >> 2) & 1 == 1;
            let execute_never = region.rbar & 1 == 1 || address >= 0xE000_0000;
            Ok(Access {
                read: true,
                write: !read_only,
                execute: !execute_never,
                device: attribute & 0xf0 == 0,
            })
        }
        _ => Ok(NONE),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Arch {
    V7,
    V8,
}

/// The policy, computed from the map directly (not through the planner's segments).
fn intended(map: &MemoryMap<'_>, published: &[Range], address: u32, arch: Arch) -> Access {
    if in_ppb(address) {
        return default_map(address);
    }
    let stack_start = map.stack.range.start;
    let stack_guard = address < stack_start && address >= stack_start - map.stack.guard;
    let slots = &map.slots;
    let slot_guard = (0..slots.count).any(|i| {
        let start = slots.base + i * slots.stride;
        let end = start + slots.stride;
        (start..start + slots.front_guard).contains(&address)
            || (end - slots.back_guard..end).contains(&address)
    });
    let inside = |ranges: &[Range]| ranges.iter().any(|r| r.start <= address && address < r.end);
    if stack_guard || slot_guard || inside(map.guards) {
        NONE
    } else if inside(published) || inside(map.code) {
        READ_EXECUTE
    } else if inside(map.ram) {
        READ_WRITE
    } else if inside(map.devices) {
        Access {
            device: true,
            ..READ_WRITE
        }
    } else if arch == Arch::V7 {
        Access {
            device: !in_default_normal_space(address),
            ..READ_WRITE
        }
    } else {
        NONE
    }
}

/// Simple deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// Every boundary of the map and its neighbours, fixed architecture boundaries, and random
/// addresses (anywhere, and inside listed ranges).
fn samples(map: &MemoryMap<'_>, published: &[Range], rng: &mut Rng) -> Vec<u32> {
    let mut edges: Vec<u32> = vec![
        0,
        0x3fff_ffff,
        0x4000_0000,
        0x5fff_ffff,
        0x6000_0000,
        0x9fff_ffff,
        0xa000_0000,
        0xe000_0000,
        0xe000_ed90,
        0xe010_0000,
        0xffff_ffff,
    ];
    let mut ranges: Vec<Range> = Vec::new();
    ranges.extend_from_slice(map.code);
    ranges.extend_from_slice(map.ram);
    ranges.extend_from_slice(map.devices);
    ranges.extend_from_slice(published);
    ranges.push(map.stack.range);
    ranges.push(map.stack.guard_range());
    ranges.push(map.code_pool);
    ranges.extend_from_slice(map.guards);
    for i in 0..map.slots.count {
        if let Some(memory) = map.slots.memory(i) {
            ranges.push(memory);
            ranges.push(Range::new(
                memory.start - map.slots.front_guard,
                memory.end + map.slots.back_guard,
            ));
        }
    }
    let mut addresses = Vec::new();
    for range in &ranges {
        edges.push(range.start);
        edges.push(range.end);
        for _ in 0..4 {
            if !range.is_empty() {
                addresses.push(range.start + rng.below(u64::from(range.len())) as u32);
            }
        }
    }
    for edge in edges {
        for delta in [-33i64, -32, -31, -1, 0, 1, 31, 32] {
            addresses.push((i64::from(edge) + delta) as u32);
        }
    }
    for _ in 0..256 {
        addresses.push(rng.next() as u32);
    }
    addresses
}

/// Plans with PMSAv7 and compares every sample with the policy.
fn check_v7(
    map: &MemoryMap<'_>,
    published: &[Range],
    available: usize,
    rng: &mut Rng,
) -> Result<v7::Plan, PlanError> {
    let plan = v7::plan(map, published, available)?;
    assert!(plan.regions().len() <= available);
    if let Err(message) = compare_v7(map, published, plan.regions(), plan.ctrl(), rng) {
        panic!("{message}\nmap {map:#x?}\npublished {published:x?}\nplan {plan:#x?}");
    }
    Ok(plan)
}

fn compare_v7(
    map: &MemoryMap<'_>,
    published: &[Range],
    regions: &[v7::Region],
    ctrl: u32,
    rng: &mut Rng,
) -> Result<(), String> {
    for (number, region) in regions.iter().enumerate() {
        let writable = matches!((region.rasr >> 24) & 0b111, 0b001..=0b011);
        if writable && (region.rasr >> 28) & 1 == 0 {
            return Err(format!("region {number} is writable and executable"));
        }
    }
    for address in samples(map, published, rng) {
        let got = decode_v7(regions, ctrl, address)?;
        let want = intended(map, published, address, Arch::V7);
        if !same(got, want) {
            return Err(format!(
                "at {address:#010x}: planned {got:?}, intended {want:?}"
            ));
        }
    }
    Ok(())
}

/// Plans with PMSAv8 and compares every sample with the policy.
fn check_v8(
    map: &MemoryMap<'_>,
    published: &[Range],
    available: usize,
    rng: &mut Rng,
) -> Result<v8::Plan, PlanError> {
    let plan = v8::plan(map, published, available)?;
    assert!(plan.regions().len() <= available);
    if let Err(message) = compare_v8(
        map,
        published,
        plan.regions(),
        plan.mair0(),
        plan.ctrl(),
        rng,
    ) {
        panic!("{message}\nmap {map:#x?}\npublished {published:x?}\nplan {plan:#x?}");
    }
    Ok(plan)
}

fn compare_v8(
    map: &MemoryMap<'_>,
    published: &[Range],
    regions: &[v8::Region],
    mair0: u32,
    ctrl: u32,
    rng: &mut Rng,
) -> Result<(), String> {
    for (number, region) in regions.iter().enumerate() {
        let writable = (region.rbar >> 2) & 1 == 0;
        if writable && region.rbar & 1 == 0 {
            return Err(format!("region {number} is writable and executable"));
        }
    }
    for address in samples(map, published, rng) {
        let got = decode_v8(regions, mair0, ctrl, address)?;
        let want = intended(map, published, address, Arch::V8);
        if !same(got, want) {
            return Err(format!(
                "at {address:#010x}: planned {got:?}, intended {want:?}"
            ));
        }
    }
    Ok(())
}

const UART: [Range; 1] = [Range::new(0x4000_4000, 0x4000_5000)];

/// mps2-an386-shaped: 4 MiB code at 0, 4 MiB RAM at 0x2000_0000, UART0.
fn an386_map<'a>(code: &'a [Range], ram: &'a [Range], slots: SlotPool) -> MemoryMap<'a> {
    MemoryMap {
        code,
        ram,
        devices: &UART,
        stack: Stack {
            range: Range::new(0x2000_0400, 0x2001_0000),
            guard: 0x400,
        },
        code_pool: Range::new(0x2004_0000, 0x2008_0000),
        slots,
        guards: &[],
    }
}

const AN386_CODE: [Range; 1] = [Range::new(0, 0x40_0000)];
const AN386_RAM: [Range; 1] = [Range::new(0x2000_0000, 0x2040_0000)];
const AN386_SLOTS: SlotPool = SlotPool {
    base: 0x2010_0000,
    count: 4,
    stride: 0x2_0000,
    front_guard: 0x1000,
    back_guard: 0,
};

#[test]
fn an386_plan_fits_eight_regions_in_every_code_pool_state() {
    let mut rng = Rng(1);
    let map = an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS);
    let eighth = 0x8000;
    let pool = 0x2004_0000;
    let states: [&[Range]; 4] = [
        &[],
        &[Range::new(pool, pool + eighth)],
        &[Range::new(pool, pool + 3 * eighth)],
        &[
            Range::new(pool, pool + eighth),
            Range::new(pool + 2 * eighth, pool + 5 * eighth),
        ],
    ];
    for published in states {
        let plan = check_v7(&map, published, 8, &mut rng).unwrap();
        assert!(plan.regions().len() <= 8, "{plan:#x?}");
    }
    // A prefix of published eighths costs one region whatever its length.
    let none = v7::plan(&map, &[], 8).unwrap().regions().len();
    for eighths in 1..=8 {
        let published = [Range::new(pool, pool + eighths * eighth)];
        assert_eq!(
            v7::plan(&map, &published, 8).unwrap().regions().len(),
            none + 1
        );
    }
}

#[test]
fn v7_region_encodings() {
    let map = an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS);
    let plan = v7::plan(&map, &[], 8).unwrap();
    // Region 0: 4 GiB, XN, privileged RW, TEX=001 C=1 B=1, SRD=0xe4, SIZE=31, enabled.
    assert_eq!(
        plan.regions()[0],
        v7::Region {
            rbar: 0,
            rasr: 0x110b_e43f
        }
    );
    // Region 1: the 4 MiB of code, privileged RO, executable, SIZE=21.
    assert_eq!(
        plan.regions()[1],
        v7::Region {
            rbar: 0,
            rasr: 0x050b_002b
        }
    );
    // Then the stack guard: 1 KiB at 0x2000_0000, no access, XN, SIZE=9.
    assert_eq!(
        plan.regions()[2],
        v7::Region {
            rbar: 0x2000_0000,
            rasr: 0x100b_0013
        }
    );
    assert_eq!(plan.ctrl(), 0b101);
}

#[test]
fn v7_slot_guards_share_regions_through_subregions() {
    let mut rng = Rng(2);
    // Guards of 1 KiB at a stride of 2 KiB: a 8 KiB region (1 KiB subregions) holds 4 guards.
    let slots = SlotPool {
        base: 0x2020_0000,
        count: 8,
        stride: 0x800,
        front_guard: 0x400,
        back_guard: 0,
    };
    let map = an386_map(&AN386_CODE, &AN386_RAM, slots);
    let plan = check_v7(&map, &[], 8, &mut rng).unwrap();
    // Background, code, stack guard, two regions for the 8 slot guards.
    assert_eq!(plan.regions().len(), 5, "{plan:#x?}");
    // The same guards at a stride of 4 KiB: two per 8 KiB region.
    let slots = SlotPool {
        stride: 0x1000,
        ..slots
    };
    let map = an386_map(&AN386_CODE, &AN386_RAM, slots);
    assert_eq!(
        check_v7(&map, &[], 16, &mut rng).unwrap().regions().len(),
        3 + 4
    );
    // Front and back guards of adjacent slots merge into one guard between the memories.
    let slots = SlotPool {
        base: 0x2020_0000,
        count: 4,
        stride: 0x1_0000,
        front_guard: 0x800,
        back_guard: 0x800,
    };
    let map = an386_map(&AN386_CODE, &AN386_RAM, slots);
    check_v7(&map, &[], 16, &mut rng).unwrap();
}

#[test]
fn v7_too_many_slots_is_a_typed_error() {
    let slots = SlotPool {
        stride: 0x1_0000,
        count: 16,
        ..AN386_SLOTS
    };
    let map = an386_map(&AN386_CODE, &AN386_RAM, slots);
    assert!(matches!(
        v7::plan(&map, &[], 8),
        Err(PlanError::TooManyRegions { available: 8, .. })
    ));
}

/// mps3-an547-shaped: code in ITCM, RAM in SRAM and DTCM, UART0 at its secure alias.
const AN547_CODE: [Range; 1] = [Range::new(0x0000_0000, 0x0004_0000)];
const AN547_RAM: [Range; 2] = [
    Range::new(0x0100_0000, 0x0120_0000),
    Range::new(0x2000_0000, 0x2008_0000),
];
const AN547_DEVICES: [Range; 1] = [Range::new(0x5930_3000, 0x5930_4000)];

fn an547_map(slots: SlotPool) -> MemoryMap<'static> {
    MemoryMap {
        code: &AN547_CODE,
        ram: &AN547_RAM,
        devices: &AN547_DEVICES,
        stack: Stack {
            range: Range::new(0x2000_0400, 0x2001_0000),
            guard: 0x400,
        },
        code_pool: Range::new(0x0100_0000, 0x0104_0000),
        slots,
        guards: &[],
    }
}

const AN547_SLOTS: SlotPool = SlotPool {
    base: 0x0110_0000,
    count: 4,
    stride: 0x2_0000,
    front_guard: 0x100,
    back_guard: 0,
};

#[test]
fn an547_plan_in_every_code_pool_state() {
    let mut rng = Rng(3);
    let map = an547_map(AN547_SLOTS);
    let pool = 0x0100_0000;
    let states: [&[Range]; 4] = [
        &[],
        &[Range::new(pool, pool + 0x1000)],
        &[
            Range::new(pool, pool + 0x1000),
            Range::new(pool + 0x1000, pool + 0x3020),
        ],
        &[Range::new(pool + 0x2000, pool + 0x2040)],
    ];
    for published in states {
        check_v8(&map, published, 16, &mut rng).unwrap();
    }
    // ITCM code, SRAM [pool .. first guard), 4 slot memories, DTCM above the stack guard, UART.
    assert_eq!(v8::plan(&map, &[], 16).unwrap().regions().len(), 8);
    // Publishing a prefix of the pool splits its RAM region in two.
    let published = [Range::new(pool, pool + 0x1000)];
    assert_eq!(v8::plan(&map, &published, 16).unwrap().regions().len(), 9);
    // Adjacent published ranges merge into one region.
    let published = [
        Range::new(pool, pool + 0x1000),
        Range::new(pool + 0x1000, pool + 0x2000),
    ];
    assert_eq!(v8::plan(&map, &published, 16).unwrap().regions().len(), 9);
}

#[test]
fn v8_region_encodings() {
    let map = an547_map(AN547_SLOTS);
    let plan = v8::plan(&map, &[], 16).unwrap();
    let regions = plan.regions();
    // ITCM code: base 0, privileged read-only (AP=10), executable; limit 0x3ffe0, attr 0.
    assert_eq!(
        regions[0],
        v8::Region {
            rbar: 0x0000_0004,
            rlar: 0x0003_ffe1
        }
    );
    // SRAM up to slot 0's front guard: privileged RW (AP=00), XN.
    assert_eq!(
        regions[1],
        v8::Region {
            rbar: 0x0100_0001,
            rlar: 0x010f_ffe1
        }
    );
    // Slot 0's memory starts after its 256-byte guard.
    assert_eq!(
        regions[2],
        v8::Region {
            rbar: 0x0110_0101,
            rlar: 0x0111_ffe1
        }
    );
    // UART0: device (attribute 1), RW, XN.
    assert_eq!(
        *regions.last().unwrap(),
        v8::Region {
            rbar: 0x5930_3001,
            rlar: 0x5930_3fe3
        }
    );
    assert_eq!(plan.mair0(), 0x04ff);
    assert_eq!(plan.ctrl(), 1);
}

#[test]
fn v8_too_many_regions_and_misalignment_are_typed_errors() {
    let map = an547_map(SlotPool {
        count: 13,
        stride: 0x1_0000,
        ..AN547_SLOTS
    });
    assert_eq!(
        v8::plan(&map, &[], 16),
        Err(PlanError::TooManyRegions {
            needed: 16 + 1,
            available: 16
        })
    );
    let map = an547_map(SlotPool {
        front_guard: 0x30,
        ..AN547_SLOTS
    });
    assert_eq!(
        v8::plan(&map, &[], 16),
        Err(PlanError::Misaligned {
            address: 0x0110_0030
        })
    );
    let map = an547_map(AN547_SLOTS);
    let published = [Range::new(0x0100_0000, 0x0100_0010)];
    assert_eq!(
        v8::plan(&map, &published, 16),
        Err(PlanError::Misaligned {
            address: 0x0100_0010
        })
    );
}

#[test]
fn v7_misaligned_guards_are_typed_errors() {
    let map = MemoryMap {
        stack: Stack {
            range: Range::new(0x2000_0400, 0x2001_0000),
            guard: 0x30,
        },
        ..an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS)
    };
    assert_eq!(
        v7::plan(&map, &[], 16),
        Err(PlanError::Misaligned {
            address: 0x2000_03d0
        })
    );
    // A published range that is not a union of 32-byte blocks.
    let map = an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS);
    let published = [Range::new(0x2004_0000, 0x2004_0010)];
    assert_eq!(
        v7::plan(&map, &published, 16),
        Err(PlanError::Misaligned {
            address: 0x2004_0000
        })
    );
}

#[test]
fn invalid_maps_are_refused_by_both_planners() {
    let base = an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS);
    let overlapping_code = [Range::new(0x2000_0000, 0x2000_1000)];
    let outside_ram = [Range::new(0x2100_0000, 0x2200_0000)];
    let empty = [Range::new(0x10, 0x10)];
    let cases: Vec<(MemoryMap<'_>, Vec<Range>, PlanError)> = vec![
        (
            MemoryMap {
                code: &overlapping_code,
                ..base
            },
            vec![],
            PlanError::Overlap {
                first: overlapping_code[0],
                second: AN386_RAM[0],
            },
        ),
        (
            MemoryMap {
                code: &empty,
                ..base
            },
            vec![],
            PlanError::InvalidRange { range: empty[0] },
        ),
        (
            MemoryMap {
                ram: &outside_ram,
                ..base
            },
            vec![],
            PlanError::Outside {
                range: Range::new(0x2000_0000, 0x2001_0000),
            },
        ),
        (
            MemoryMap {
                stack: Stack {
                    guard: 0,
                    ..base.stack
                },
                ..base
            },
            vec![],
            PlanError::InvalidRange {
                range: base.stack.range,
            },
        ),
        (
            MemoryMap {
                code_pool: Range::new(0x2000_8000, 0x2001_8000),
                ..base
            },
            vec![],
            PlanError::Overlap {
                first: Range::new(0x2000_0000, 0x2001_0000),
                second: Range::new(0x2000_8000, 0x2001_8000),
            },
        ),
        (
            MemoryMap {
                slots: SlotPool {
                    front_guard: 0,
                    ..AN386_SLOTS
                },
                ..base
            },
            vec![],
            PlanError::InvalidRange {
                range: Range::new(0x2010_0000, 0x2018_0000),
            },
        ),
        (
            MemoryMap {
                slots: SlotPool {
                    front_guard: 0x1_0000,
                    back_guard: 0x1_0000,
                    ..AN386_SLOTS
                },
                ..base
            },
            vec![],
            PlanError::InvalidRange {
                range: Range::new(0x2010_0000, 0x2018_0000),
            },
        ),
        (
            MemoryMap {
                slots: SlotPool {
                    count: 0x8000,
                    ..AN386_SLOTS
                },
                ..base
            },
            vec![],
            PlanError::InvalidRange {
                range: Range::new(0x2010_0000, 0x2010_0000),
            },
        ),
        (
            base,
            vec![Range::new(0x2008_0000, 0x2008_1000)],
            PlanError::Outside {
                range: Range::new(0x2008_0000, 0x2008_1000),
            },
        ),
        (
            base,
            vec![
                Range::new(0x2004_0000, 0x2004_2000),
                Range::new(0x2004_1000, 0x2004_3000),
            ],
            PlanError::Overlap {
                first: Range::new(0x2004_0000, 0x2004_2000),
                second: Range::new(0x2004_1000, 0x2004_3000),
            },
        ),
    ];
    let guard_outside = [Range::new(0x2100_0000, 0x2100_1000)];
    let guards_overlapping = [
        Range::new(0x2010_0000, 0x2010_1000),
        Range::new(0x2010_0800, 0x2010_2000),
    ];
    let guard_on_pool = [Range::new(0x2004_0000, 0x2004_1000)];
    let empty_guard = [Range::new(0x2010_0000, 0x2010_0000)];
    let cases: Vec<(MemoryMap<'_>, Vec<Range>, PlanError)> = cases
        .into_iter()
        .chain([
            (
                MemoryMap {
                    guards: &guard_outside,
                    ..base
                },
                vec![],
                PlanError::Outside {
                    range: guard_outside[0],
                },
            ),
            (
                MemoryMap {
                    guards: &guards_overlapping,
                    ..base
                },
                vec![],
                PlanError::Overlap {
                    first: guards_overlapping[0],
                    second: guards_overlapping[1],
                },
            ),
            (
                MemoryMap {
                    guards: &guard_on_pool,
                    ..base
                },
                vec![],
                PlanError::Overlap {
                    first: guard_on_pool[0],
                    second: base.code_pool,
                },
            ),
            (
                MemoryMap {
                    guards: &empty_guard,
                    ..base
                },
                vec![],
                PlanError::InvalidRange {
                    range: empty_guard[0],
                },
            ),
        ])
        .collect();
    for (map, published, error) in cases {
        assert_eq!(v7::plan(&map, &published, 16), Err(error), "{map:#x?}");
        assert_eq!(v8::plan(&map, &published, 16), Err(error), "{map:#x?}");
    }
}

#[test]
fn v7_refuses_ram_in_peripheral_space_and_devices_in_normal_space() {
    let ram = [Range::new(0x4000_0000, 0x4040_0000)];
    let map = MemoryMap {
        stack: Stack {
            range: Range::new(0x4000_0400, 0x4001_0000),
            guard: 0x400,
        },
        code_pool: Range::new(0x4004_0000, 0x4008_0000),
        slots: SlotPool {
            base: 0x4010_0000,
            ..AN386_SLOTS
        },
        devices: &[],
        ..an386_map(&AN386_CODE, &ram, AN386_SLOTS)
    };
    assert_eq!(
        v7::plan(&map, &[], 16),
        Err(PlanError::Unsupported { range: ram[0] })
    );
    let devices = [Range::new(0x2100_0000, 0x2100_1000)];
    let map = MemoryMap {
        devices: &devices,
        ..an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS)
    };
    assert_eq!(
        v7::plan(&map, &[], 16),
        Err(PlanError::Unsupported { range: devices[0] })
    );
}

#[test]
fn too_many_boundaries_is_a_typed_error() {
    let slots = SlotPool {
        count: 100,
        stride: 0x800,
        front_guard: 0x400,
        ..AN386_SLOTS
    };
    let map = an386_map(&AN386_CODE, &AN386_RAM, slots);
    assert_eq!(v7::plan(&map, &[], 16), Err(PlanError::TooComplex));
    assert_eq!(v8::plan(&map, &[], 16), Err(PlanError::TooComplex));
}

#[test]
fn the_comparison_catches_wrong_registers() {
    // The models and the comparison must be able to fail: break correct plans and check that
    // the sampled comparison notices.
    let mut rng = Rng(4);
    let map = an386_map(&AN386_CODE, &AN386_RAM, AN386_SLOTS);
    let plan = v7::plan(&map, &[], 8).unwrap();
    let mut regions = plan.regions().to_vec();
    compare_v7(&map, &[], &regions, plan.ctrl(), &mut rng).unwrap();
    // A guard made read-write.
    let last = regions.len() - 1;
    regions[last].rasr |= 0b001 << 24;
    assert!(compare_v7(&map, &[], &regions, plan.ctrl(), &mut rng).is_err());
    // The background region missing: RAM becomes executable.
    let regions = plan.regions()[1..].to_vec();
    assert!(compare_v7(&map, &[], &regions, plan.ctrl(), &mut rng).is_err());
    // Subregions ignored: region 0 covering the peripherals as normal memory.
    let mut regions = plan.regions().to_vec();
    regions[0].rasr &= !(0xff << 8);
    assert!(compare_v7(&map, &[], &regions, plan.ctrl(), &mut rng).is_err());
    // Priority reversed: the background region last hides code and guards.
    let mut regions = plan.regions().to_vec();
    regions.rotate_left(1);
    assert!(compare_v7(&map, &[], &regions, plan.ctrl(), &mut rng).is_err());

    let map = an547_map(AN547_SLOTS);
    let plan = v8::plan(&map, &[], 16).unwrap();
    compare_v8(
        &map,
        &[],
        plan.regions(),
        plan.mair0(),
        plan.ctrl(),
        &mut rng,
    )
    .unwrap();
    // PRIVDEFENA set: guards fall back to the default map and become accessible.
    assert!(
        compare_v8(
            &map,
            &[],
            plan.regions(),
            plan.mair0(),
            plan.ctrl() | 0b100,
            &mut rng
        )
        .is_err()
    );
    // Two overlapping regions fault where they overlap.
    let mut regions = plan.regions().to_vec();
    regions[1].rlar = regions[2].rlar;
    assert!(compare_v8(&map, &[], &regions, plan.mair0(), plan.ctrl(), &mut rng).is_err());
    // A writable code region is refused as W^X.
    let mut regions = plan.regions().to_vec();
    regions[0].rbar &= !(1 << 2);
    assert!(compare_v8(&map, &[], &regions, plan.mair0(), plan.ctrl(), &mut rng).is_err());
    // The device attribute swapped for normal memory.
    assert!(compare_v8(&map, &[], plan.regions(), 0xffff, plan.ctrl(), &mut rng).is_err());
}

/// One randomly generated board: owned ranges plus whether every boundary is 32-byte aligned.
struct RandomBoard {
    code: Vec<Range>,
    ram: Vec<Range>,
    devices: Vec<Range>,
    stack: Stack,
    code_pool: Range,
    slots: SlotPool,
    published: Vec<Range>,
    guards: Vec<Range>,
    aligned: bool,
}

impl RandomBoard {
    fn map(&self) -> MemoryMap<'_> {
        MemoryMap {
            code: &self.code,
            ram: &self.ram,
            devices: &self.devices,
            stack: self.stack,
            code_pool: self.code_pool,
            slots: self.slots,
            guards: &self.guards,
        }
    }
}

fn round_up(value: u32, to: u32) -> u32 {
    value.div_ceil(to) * to
}

fn random_board(rng: &mut Rng) -> RandomBoard {
    let mut aligned = true;
    let mut misalign = |rng: &mut Rng, value: u32| -> u32 {
        if rng.below(16) == 0 {
            aligned = false;
            value + rng.pick(&[4, 8, 16, 48])
        } else {
            value
        }
    };
    let code_size = 1 << rng.pick(&[16, 18, 20, 22]);
    let code_base = rng.pick(&[0, 0x1000_0000]);
    let mut code = vec![Range::new(code_base, code_base + code_size)];
    if rng.below(3) == 0 {
        let extra = 0x0080_0000 + 32 * rng.below(1024) as u32;
        code.push(Range::new(extra, extra + 32 * (1 + rng.below(512)) as u32));
    }
    let ram_base = rng.pick(&[0x0100_0000, 0x2000_0000, 0x2100_0000, 0x6000_0000]);
    let ram_size: u32 = 1 << rng.pick(&[20, 21, 22]);
    let ram = vec![Range::new(ram_base, ram_base + ram_size)];
    let devices = (0..rng.below(3))
        .map(|i| {
            let start = 0x4000_0000 + 0x1000 * (rng.below(64) as u32 + 64 * i as u32);
            Range::new(start, start + 0x1000)
        })
        .collect();

    let mut cursor = ram_base + 32 * rng.below(4) as u32;
    let guard = rng.pick(&[32, 64, 256, 1024, 4096]);
    let guard = misalign(rng, guard);
    let stack_start = round_up(cursor + guard, 32);
    let stack_len = 32 * (64 + rng.below(512)) as u32;
    let stack_end = misalign(rng, stack_start + stack_len);
    let stack = Stack {
        range: Range::new(stack_start, stack_end),
        guard: stack_start - cursor,
    };
    cursor = stack_end + 32 * rng.below(64) as u32;

    let pool_size: u32 = 1 << rng.pick(&[12, 14, 16]);
    let pool_start = round_up(cursor, if rng.below(4) == 0 { 32 } else { pool_size });
    let code_pool = Range::new(pool_start, pool_start + pool_size);
    let unit = pool_size / 8;
    let mut published = Vec::new();
    let mut at = 0;
    while at < 8 {
        let len = 1 + rng.below(3) as u32;
        if rng.below(2) == 0 && at + len <= 8 {
            let end = misalign(rng, pool_start + (at + len) * unit).min(pool_start + pool_size);
            published.push(Range::new(pool_start + at * unit, end));
        }
        at += len + rng.below(2) as u32;
    }
    cursor = code_pool.end;

    let stride: u32 = if rng.below(2) == 0 {
        1 << rng.pick(&[9, 10, 11, 12, 14, 16])
    } else {
        32 * (16 + rng.below(2048) as u32)
    };
    let divisor = rng.pick(&[2, 4, 8, 16]);
    let front_guard = misalign(rng, (stride / divisor).max(32) & !31);
    let back_guard = if rng.below(3) == 0 { front_guard } else { 0 };
    let slots_base = round_up(
        cursor,
        if rng.below(2) == 0 {
            32
        } else {
            stride.next_power_of_two()
        },
    );
    let room = (ram_base + ram_size).saturating_sub(slots_base) / stride;
    let mut slots = SlotPool {
        base: slots_base,
        count: (rng.below(9) as u32).min(room),
        stride,
        front_guard,
        back_guard,
    };
    // Half the boards place their slots at run time: the same front guards as a list, some
    // slots freed (their guards gone).
    let mut guards = Vec::new();
    if rng.below(2) == 0 {
        for i in 0..slots.count {
            if rng.below(4) != 0 {
                let start = slots.base + i * slots.stride;
                guards.push(Range::new(start, start + slots.front_guard));
            }
        }
        slots.count = 0;
    }
    RandomBoard {
        code,
        ram,
        devices,
        stack,
        code_pool,
        slots,
        published,
        guards,
        aligned,
    }
}

#[test]
fn random_boards_get_the_intended_access_or_a_typed_error() {
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let (mut v7_ok, mut v8_ok, mut invalid) = (0, 0, 0);
    const BOARDS: usize = 600;
    for _ in 0..BOARDS {
        let board = random_board(&mut rng);
        let map = board.map();
        if map.validate(&board.published).is_err() {
            // Guards that fill the stride, a published piece rounded past the pool: both
            // planners must refuse alike.
            invalid += 1;
            let error = map.validate(&board.published).unwrap_err();
            assert_eq!(v7::plan(&map, &board.published, 16), Err(error));
            assert_eq!(v8::plan(&map, &board.published, 16), Err(error));
            continue;
        }
        for available in [8, 16] {
            match check_v7(&map, &board.published, available, &mut rng) {
                Ok(_) => v7_ok += 1,
                Err(PlanError::TooManyRegions { available: a, .. }) => {
                    assert_eq!(usize::from(a), available)
                }
                Err(PlanError::Misaligned { .. }) if !board.aligned => {}
                Err(e) => panic!("unexpected {e:?} for {map:#x?}"),
            }
            match check_v8(&map, &board.published, available, &mut rng) {
                Ok(_) => v8_ok += 1,
                Err(PlanError::TooManyRegions { available: a, .. }) => {
                    assert_eq!(usize::from(a), available)
                }
                Err(PlanError::Misaligned { .. }) if !board.aligned => {}
                Err(e) => panic!("unexpected {e:?} for {map:#x?}"),
            }
        }
    }
    // The generator must exercise the planners, not only their refusals.
    assert!(
        v7_ok > BOARDS / 2,
        "v7 planned only {v7_ok} of {} cases",
        2 * BOARDS
    );
    assert!(
        v8_ok > BOARDS / 2,
        "v8 planned only {v8_ok} of {} cases",
        2 * BOARDS
    );
    assert!(invalid < BOARDS / 4, "{invalid} invalid boards");
}

#[test]
fn code_ranges_stay_sorted_and_disjoint() {
    let mut set = CodeRanges::<3>::new();
    set.insert(Range::new(0x300, 0x400)).unwrap();
    set.insert(Range::new(0x100, 0x200)).unwrap();
    set.insert(Range::new(0x200, 0x300)).unwrap();
    assert_eq!(
        set.as_slice(),
        &[
            Range::new(0x100, 0x200),
            Range::new(0x200, 0x300),
            Range::new(0x300, 0x400)
        ]
    );
    assert_eq!(
        set.insert(Range::new(0x500, 0x600)),
        Err(PlanError::TooComplex)
    );
    assert!(set.remove(Range::new(0x200, 0x300)));
    assert!(!set.remove(Range::new(0x200, 0x300)));
    assert_eq!(
        set.insert(Range::new(0x180, 0x280)),
        Err(PlanError::Overlap {
            first: Range::new(0x100, 0x200),
            second: Range::new(0x180, 0x280)
        })
    );
    assert_eq!(
        set.insert(Range::new(0x280, 0x280)),
        Err(PlanError::InvalidRange {
            range: Range::new(0x280, 0x280)
        })
    );
    set.insert(Range::new(0x200, 0x300)).unwrap();
    assert_eq!(set.as_slice().len(), 3);
}

#[test]
fn dynamic_guards_split_ram_on_v8_and_sit_on_top_on_v7() {
    let mut rng = Rng(5);
    let guards = [
        Range::new(0x0110_0000, 0x0110_1000),
        Range::new(0x0113_0000, 0x0113_1000),
    ];
    let map = MemoryMap {
        slots: SlotPool {
            count: 0,
            ..AN547_SLOTS
        },
        guards: &guards,
        ..an547_map(AN547_SLOTS)
    };
    // ITCM, SRAM below the first guard, between the guards, above the second, DTCM, UART.
    assert_eq!(
        check_v8(&map, &[], 16, &mut rng).unwrap().regions().len(),
        6
    );
    let guards = [
        Range::new(0x2010_0000, 0x2010_1000),
        Range::new(0x2013_0000, 0x2013_1000),
    ];
    let map = MemoryMap {
        guards: &guards,
        ..an386_map(
            &AN386_CODE,
            &AN386_RAM,
            SlotPool {
                count: 0,
                ..AN386_SLOTS
            },
        )
    };
    // Background, code, stack guard, one region per guard.
    assert_eq!(check_v7(&map, &[], 8, &mut rng).unwrap().regions().len(), 5);
}

#[test]
fn test_target_fields() {
    let hit = v8::TestTarget((1 << 16) | (1 << 18) | 3);
    assert_eq!(
        (hit.region(), hit.readable(), hit.writable()),
        (Some(3), true, false)
    );
    let hole = v8::TestTarget(0);
    assert_eq!(
        (hole.region(), hole.readable(), hole.writable()),
        (None, false, false)
    );
}

#[test]
fn plan_error_is_small() {
    assert!(core::mem::size_of::<PlanError>() <= 20);
}
