//! PMSAv7 (ARMv7-M: Cortex-M4F, Cortex-M7): plan and register values.
//!
//! Registers (ARMv7-M Architecture Reference Manual, B3.5):
//!
//! ```text
//! MPU_RBAR  [31:5] ADDR (region base, aligned to the region size)  [4] VALID  [3:0] REGION
//! MPU_RASR  [28] XN  [26:24] AP  [21:19] TEX  [18] S  [17] C  [16] B  [15:8] SRD
//!           [5:1] SIZE (region = 2^(SIZE+1) bytes, SIZE >= 4)  [0] ENABLE
//! AP (privileged / unprivileged): 000 none/none, 001 RW/none, 101 RO/none
//! MPU_CTRL  [2] PRIVDEFENA  [1] HFNMIENA  [0] ENABLE
//! ```
//!
//! The plan's layout and the greedy exact cover are described in the crate documentation.

use crate::MAX_REGIONS;
use crate::map::{Kind, MemoryMap, PlanError, Range, Segments};

/// `MPU_RASR.XN`: instruction fetches fault.
pub const RASR_XN: u32 = 1 << 28;
/// `MPU_RASR.AP` shift.
pub const RASR_AP_SHIFT: u32 = 24;
/// `AP = 0b000`: no access.
pub const AP_NO_ACCESS: u32 = 0b000;
/// `AP = 0b001`: privileged read-write, unprivileged none.
pub const AP_PRIVILEGED_READ_WRITE: u32 = 0b001;
/// `AP = 0b101`: privileged read-only, unprivileged none.
pub const AP_PRIVILEGED_READ_ONLY: u32 = 0b101;
/// `MPU_RASR` TEX/S/C/B for normal memory, outer and inner write-back write-allocate,
/// non-shareable (`TEX = 0b001, C = 1, B = 1`).
pub const RASR_NORMAL_WRITE_BACK: u32 = (0b001 << 19) | (1 << 17) | (1 << 16);
/// `MPU_RASR.SRD` shift.
pub const RASR_SRD_SHIFT: u32 = 8;
/// `MPU_RASR.SIZE` shift.
pub const RASR_SIZE_SHIFT: u32 = 1;
/// `MPU_RASR.ENABLE`.
pub const RASR_ENABLE: u32 = 1;
/// `MPU_CTRL.ENABLE`.
pub const CTRL_ENABLE: u32 = 1 << 0;
/// `MPU_CTRL.PRIVDEFENA`: the default memory map is the background for privileged accesses.
pub const CTRL_PRIVDEFENA: u32 = 1 << 2;

/// Smallest region: 32 bytes (`SIZE = 4`).
pub const MIN_REGION_LOG2: u32 = 5;
/// Smallest region with subregions: 256 bytes.
pub const MIN_SUBREGION_REGION_LOG2: u32 = 8;

/// Subregions of region 0 (512 MiB each) left to the default memory map: Peripheral
/// (`0x4000_0000`), Device (`0xA000_0000`, `0xC000_0000`), System (`0xE000_0000`).
pub const BACKGROUND_DISABLED_SUBREGIONS: u8 = 0b1110_0100;

/// One region: `rbar` is the base address (`MPU_RBAR` without `VALID`/`REGION`; the region
/// number is the index in the plan), `rasr` the attribute and size register.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// `MPU_RBAR` value (base address only).
    pub rbar: u32,
    /// `MPU_RASR` value.
    pub rasr: u32,
}

/// MPU register values for one state of the board: region `i` goes to region number `i`,
/// every further implemented region is disabled, and `MPU_CTRL` gets [`Plan::ctrl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl Plan {
    /// The planned regions, lowest priority first.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// `MPU_CTRL`: enabled, default map as privileged background, MPU off in HardFault/NMI.
    pub const fn ctrl(&self) -> u32 {
        CTRL_ENABLE | CTRL_PRIVDEFENA
    }

    fn push(&mut self, region: Region, available: usize) -> Result<(), PlanError> {
        if self.len == available {
            return Err(PlanError::TooManyRegions {
                needed: (self.len + 1) as u16,
                available: available as u16,
            });
        }
        self.regions[self.len] = region;
        self.len += 1;
        Ok(())
    }
}

/// Address spaces of the default memory map that region 0 makes execute-never (normal memory,
/// the subregions it enables); RAM must lie in them and devices outside them.
const BACKGROUND_NORMAL: [Range; 2] = [
    Range::new(0x0000_0000, 0x4000_0000),
    Range::new(0x6000_0000, 0xA000_0000),
];

/// Plans the MPU for `map` with the code ranges `published` (read-only, executable), using at
/// most `available` regions (`MPU_TYPE.DREGION`, 8 on the Cortex-M4F; capped at
/// [`MAX_REGIONS`]).
pub fn plan(map: &MemoryMap<'_>, published: &[Range], available: usize) -> Result<Plan, PlanError> {
    map.validate(published)?;
    for ram in map.ram {
        if !BACKGROUND_NORMAL
            .iter()
            .any(|space| space.start <= ram.start && ram.end <= space.end)
        {
            return Err(PlanError::Unsupported { range: *ram });
        }
    }
    for device in map.devices {
        if BACKGROUND_NORMAL
            .iter()
            .any(|space| space.start < device.end && device.start < space.end)
        {
            return Err(PlanError::Unsupported { range: *device });
        }
    }
    let mut segments = Segments::new();
    segments.cut(map, published)?;
    let available = available.min(MAX_REGIONS);
    let mut plan = Plan {
        regions: [Region { rbar: 0, rasr: 0 }; MAX_REGIONS],
        len: 0,
    };
    // 1. Everything execute-never and read-write (normal memory spaces only).
    plan.push(
        region(
            0,
            32,
            BACKGROUND_DISABLED_SUBREGIONS,
            RASR_XN | (AP_PRIVILEGED_READ_WRITE << RASR_AP_SHIFT) | RASR_NORMAL_WRITE_BACK,
        ),
        available,
    )?;
    // 2. Code, read-only and executable, above it.
    cover(
        &segments,
        Kind::Code,
        (AP_PRIVILEGED_READ_ONLY << RASR_AP_SHIFT) | RASR_NORMAL_WRITE_BACK,
        &mut plan,
        available,
    )?;
    // 3. Guards, no access, above everything.
    cover(
        &segments,
        Kind::Guard,
        RASR_XN | (AP_NO_ACCESS << RASR_AP_SHIFT) | RASR_NORMAL_WRITE_BACK,
        &mut plan,
        available,
    )?;
    Ok(plan)
}

/// A region of `2^size_log2` bytes at `base` with subregions `disabled` and `attributes`
/// (`XN | AP | TEX/S/C/B`).
fn region(base: u64, size_log2: u32, disabled: u8, attributes: u32) -> Region {
    Region {
        rbar: base as u32,
        rasr: attributes
            | (u32::from(disabled) << RASR_SRD_SHIFT)
            | ((size_log2 - 1) << RASR_SIZE_SHIFT)
            | RASR_ENABLE,
    }
}

/// Most pieces the not-yet-covered part of one kind may be split into while covering.
const MAX_PIECES: usize = crate::map::MAX_BOUNDARIES;

/// Adds regions with `attributes` that cover exactly the addresses of `kind`: every enabled
/// subregion lies entirely inside `kind`, and every address of `kind` is in one.
fn cover(
    segments: &Segments,
    kind: Kind,
    attributes: u32,
    plan: &mut Plan,
    available: usize,
) -> Result<(), PlanError> {
    // Uncovered pieces, sorted and disjoint.
    let mut pieces = [(0u64, 0u64); MAX_PIECES];
    let mut count = 0;
    for (start, end, _) in segments.runs().filter(|run| run.2 == kind) {
        pieces[count] = (start, end);
        count += 1;
    }
    while count > 0 {
        let at = pieces[0].0;
        // The largest region with subregions whose eighth holding `at` lies inside `kind`,
        // that is inside the run of `kind` holding `at` (runs are maximal): those eighths
        // nest as the size grows, so the first that does not fit ends the search.
        let (run_start, run_end) = segments.run_at(at);
        let mut largest = MIN_SUBREGION_REGION_LOG2 - 1;
        for size_log2 in MIN_SUBREGION_REGION_LOG2..=32 {
            let unit = 1u64 << (size_log2 - 3);
            let holder = at & !(unit - 1);
            if holder < run_start || holder + unit > run_end {
                break;
            }
            largest = size_log2;
        }
        // Candidates from the largest down, then the 32..128-byte regions (one unit each).
        // A region covers at most its size, so the search stops below the best score; ties
        // go to the smaller region (`>=`, later candidates are smaller).
        let candidates = (MIN_SUBREGION_REGION_LOG2..=largest)
            .rev()
            .chain((MIN_REGION_LOG2..MIN_SUBREGION_REGION_LOG2).rev());
        let mut best: Option<(u64, u64, u32, u8)> = None; // (score, base, log2, disabled)
        for size_log2 in candidates {
            let size = 1u64 << size_log2;
            if best.is_some_and(|(best_score, ..)| size < best_score) {
                break;
            }
            let base = at & !(size - 1);
            let subregions = size_log2 >= MIN_SUBREGION_REGION_LOG2;
            let (units, unit) = if subregions { (8, size / 8) } else { (1, size) };
            if !subregions && segments.uniform(base, base + size) != Some(kind) {
                continue;
            }
            let mut disabled = 0u8;
            let mut score = 0;
            for i in 0..units {
                let start = base + i * unit;
                if segments.uniform(start, start + unit) == Some(kind) {
                    score += overlap(&pieces[..count], start, start + unit);
                } else {
                    disabled |= 1 << i;
                }
            }
            if best.is_none_or(|(best_score, ..)| score >= best_score) {
                best = Some((score, base, size_log2, disabled));
            }
        }
        let Some((_, base, size_log2, disabled)) = best else {
            return Err(PlanError::Misaligned { address: at as u32 });
        };
        plan.push(region(base, size_log2, disabled, attributes), available)?;
        let size = 1u64 << size_log2;
        let unit = if size_log2 < MIN_SUBREGION_REGION_LOG2 {
            size
        } else {
            size / 8
        };
        for i in 0..size / unit {
            if disabled & (1 << i) == 0 {
                let start = base + i * unit;
                count = subtract(&mut pieces, count, start, start + unit)?;
            }
        }
    }
    Ok(())
}

/// Bytes of `pieces` inside `[start, end)`.
fn overlap(pieces: &[(u64, u64)], start: u64, end: u64) -> u64 {
    pieces
        .iter()
        .map(|&(s, e)| e.min(end).saturating_sub(s.max(start)))
        .sum()
}

/// Removes `[start, end)` from the sorted pieces; returns the new count.
fn subtract(
    pieces: &mut [(u64, u64); MAX_PIECES],
    mut count: usize,
    start: u64,
    end: u64,
) -> Result<usize, PlanError> {
    let mut i = 0;
    while i < count {
        let (s, e) = pieces[i];
        if e <= start || end <= s {
            i += 1;
            continue;
        }
        match (s < start, end < e) {
            (false, false) => {
                pieces.copy_within(i + 1..count, i);
                count -= 1;
            }
            (true, false) => {
                pieces[i].1 = start;
                i += 1;
            }
            (false, true) => {
                pieces[i].0 = end;
                i += 1;
            }
            (true, true) => {
                if count == MAX_PIECES {
                    return Err(PlanError::TooComplex);
                }
                pieces.copy_within(i + 1..count, i + 2);
                pieces[i] = (s, start);
                pieces[i + 1] = (end, e);
                count += 1;
                i += 2;
            }
        }
    }
    Ok(count)
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use crate::hw::apply_v7 as apply;
