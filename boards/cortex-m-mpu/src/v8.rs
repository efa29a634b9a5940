//! PMSAv8 (ARMv8-M: Cortex-M33, Cortex-M55): plan and register values.
//!
//! Registers (ARMv8-M Architecture Reference Manual, B3.9 and D1.2):
//!
//! ```text
//! MPU_RBAR  [31:5] BASE (bits [4:0] of the base are 0)  [4:3] SH  [2:1] AP  [0] XN
//! MPU_RLAR  [31:5] LIMIT (bits [4:0] of the limit are 1)  [4] PXN (v8.1-M)  [3:1] AttrIndx
//!           [0] EN
//! AP: 00 RW privileged only, 01 RW any, 10 RO privileged only, 11 RO any (no "no access")
//! SH: 00 non-shareable, 10 outer shareable, 11 inner shareable
//! MPU_MAIR0 attribute n in bits [8n+7:8n]: 0b0000_dd00 Device (dd 01 = nGnRE),
//!           0xff Normal, outer and inner write-back non-transient read/write-allocate
//! MPU_CTRL  [2] PRIVDEFENA  [1] HFNMIENA  [0] ENABLE
//! ```
//!
//! An address that hits two enabled regions faults, and PRIVDEFENA is left clear so that
//! addresses hitting no region (guards, unlisted memory) fault: see the crate documentation.

use crate::MAX_REGIONS;
use crate::map::{Kind, MemoryMap, PlanError, Range, Segments};

/// Region granularity: base and limit + 1 are multiples of 32 bytes.
pub const GRANULE: u32 = 32;
/// `MPU_RBAR.XN`.
pub const RBAR_XN: u32 = 1 << 0;
/// `MPU_RBAR.AP` shift.
pub const RBAR_AP_SHIFT: u32 = 1;
/// `AP = 0b00`: read-write, privileged only.
pub const AP_PRIVILEGED_READ_WRITE: u32 = 0b00;
/// `AP = 0b10`: read-only, privileged only.
pub const AP_PRIVILEGED_READ_ONLY: u32 = 0b10;
/// `MPU_RLAR.AttrIndx` shift.
pub const RLAR_ATTR_SHIFT: u32 = 1;
/// `MPU_RLAR.EN`.
pub const RLAR_ENABLE: u32 = 1;
/// `MAIR0` index of normal write-back memory.
pub const ATTR_NORMAL: u32 = 0;
/// `MAIR0` index of Device-nGnRE memory.
pub const ATTR_DEVICE: u32 = 1;
/// The `MPU_MAIR0` value the plan's attribute indices refer to: attribute 0 = `0xff`
/// (normal, write-back read/write-allocate), attribute 1 = `0x04` (Device-nGnRE).
pub const MAIR0: u32 = 0xff | (0x04 << 8);
/// `MPU_CTRL.ENABLE`.
pub const CTRL_ENABLE: u32 = 1 << 0;

/// One region's `MPU_RBAR` and `MPU_RLAR` values; the region number is the index in the plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Region {
    /// `MPU_RBAR` value.
    pub rbar: u32,
    /// `MPU_RLAR` value.
    pub rlar: u32,
}

/// MPU register values for one state of the board: region `i` goes to region number `i`,
/// every further implemented region is disabled, `MPU_MAIR0` gets [`MAIR0`] and `MPU_CTRL`
/// [`Plan::ctrl`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plan {
    regions: [Region; MAX_REGIONS],
    len: usize,
}

impl Plan {
    /// The planned regions, in address order.
    pub fn regions(&self) -> &[Region] {
        &self.regions[..self.len]
    }

    /// `MPU_CTRL`: enabled, *no* background region (PRIVDEFENA clear: holes are the guards),
    /// MPU off in HardFault/NMI.
    pub const fn ctrl(&self) -> u32 {
        CTRL_ENABLE
    }

    /// `MPU_MAIR0`.
    pub const fn mair0(&self) -> u32 {
        MAIR0
    }
}

/// Plans the MPU for `map` with the code ranges `published` (read-only, executable), using at
/// most `available` regions (`MPU_TYPE.DREGION`: 8 or 16; capped at [`MAX_REGIONS`]).
pub fn plan(map: &MemoryMap<'_>, published: &[Range], available: usize) -> Result<Plan, PlanError> {
    map.validate(published)?;
    let mut segments = Segments::new();
    segments.cut(map, published)?;
    let available = available.min(MAX_REGIONS);
    let mut plan = Plan {
        regions: [Region { rbar: 0, rlar: 0 }; MAX_REGIONS],
        len: 0,
    };
    let mut needed = 0;
    for (start, end, kind) in segments.runs() {
        let rbar_attributes = match kind {
            Kind::Unlisted | Kind::Guard => continue,
            Kind::Code => AP_PRIVILEGED_READ_ONLY << RBAR_AP_SHIFT,
            Kind::Ram | Kind::Device => (AP_PRIVILEGED_READ_WRITE << RBAR_AP_SHIFT) | RBAR_XN,
        };
        let attribute = if kind == Kind::Device {
            ATTR_DEVICE
        } else {
            ATTR_NORMAL
        };
        for boundary in [start, end] {
            if boundary % u64::from(GRANULE) != 0 {
                return Err(PlanError::Misaligned {
                    address: boundary as u32,
                });
            }
        }
        needed += 1;
        if plan.len == available {
            continue;
        }
        plan.regions[plan.len] = Region {
            rbar: start as u32 | rbar_attributes,
            rlar: ((end - 1) as u32 & !(GRANULE - 1))
                | (attribute << RLAR_ATTR_SHIFT)
                | RLAR_ENABLE,
        };
        plan.len += 1;
    }
    if needed > available {
        return Err(PlanError::TooManyRegions {
            needed: needed as u16,
            available: available as u16,
        });
    }
    Ok(plan)
}

/// The result of the `TT` (Test Target) instruction for an address: what the MPU of the
/// current security state gives privileged code there (ARMv8-M ARM, `TT`, `TT_RESP`):
///
/// ```text
/// [7:0] MREGION  [16] MRVALID  [18] R  [19] RW  (other fields: SAU/IDAU, not used here)
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TestTarget(pub u32);

impl TestTarget {
    /// The MPU region the address hits, if exactly one does (`MRVALID`).
    pub fn region(self) -> Option<u8> {
        (self.0 & (1 << 16) != 0).then_some(self.0 as u8)
    }

    /// Whether a read by the current (privileged) code would be allowed (`R`).
    pub fn readable(self) -> bool {
        self.0 & (1 << 18) != 0
    }

    /// Whether a write would be allowed (`RW`).
    pub fn writable(self) -> bool {
        self.0 & (1 << 19) != 0
    }
}

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use crate::hw::apply_v8 as apply;
#[cfg(all(target_arch = "arm", target_os = "none", armv8m))]
pub use crate::hw::test_target;
