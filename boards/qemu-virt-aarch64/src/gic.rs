//! The interrupt controller: the GICv2 of QEMU's `virt` machine (its default, `gic-version=2`;
//! the device tree names it `arm,cortex-a15-gic` with the distributor at
//! [`DISTRIBUTOR`] and the CPU interface at [`CPU_INTERFACE`], 64 KiB each, inside the
//! device range that [`crate::memory_map::DEVICES`] maps as device nGnRE memory).
//!
//! Without `secure=on` the machine has no EL3 and its GIC no Security Extensions: every
//! interrupt is in Group 0 and, with `GICC_CTLR.FIQEn` clear, is signalled as an IRQ. Only
//! what the timer needs is programmed:
//!
//! | register | offset | written |
//! |---|---|---|
//! | `GICD_CTLR` | D+0x000 | 1: forward Group 0 interrupts to the CPU interfaces |
//! | `GICD_ISENABLER0` / `GICD_ICENABLER0` | D+0x100 / D+0x180 | enable / disable one SGI or PPI (banked per core) |
//! | `GICD_IPRIORITYR<n>` | D+0x400 + n | its priority (one byte per interrupt; a word read-modify-write here) |
//! | `GICC_CTLR` | C+0x000 | 1: signal Group 0 interrupts to the core |
//! | `GICC_PMR` | C+0x004 | [`PRIORITY_MASK`]: interrupts of a numerically lower priority pass |
//! | `GICC_IAR` | C+0x00c | read: acknowledge the highest pending interrupt (1023: none) |
//! | `GICC_EOIR` | C+0x010 | write the acknowledged value: end of interrupt |

/// Base address of the distributor (`GICD_*`).
pub const DISTRIBUTOR: usize = 0x0800_0000;
/// Base address of the CPU interface (`GICC_*`).
pub const CPU_INTERFACE: usize = 0x0801_0000;
/// The priority mask written to `GICC_PMR`.
pub const PRIORITY_MASK: u8 = 0xf0;
/// The interrupt ID `GICC_IAR` returns when no interrupt is pending (a spurious interrupt).
pub const SPURIOUS: u32 = 1023;

const GICD_CTLR: usize = 0x000;
const GICD_ISENABLER0: usize = 0x100;
const GICD_ICENABLER0: usize = 0x180;
const GICD_IPRIORITYR: usize = 0x400;
const GICC_CTLR: usize = 0x000;
const GICC_PMR: usize = 0x004;
const GICC_IAR: usize = 0x00c;
const GICC_EOIR: usize = 0x010;

/// The 32-bit register accesses, the only unsafe part.
mod registers {
    /// Reads the register at `address`.
    pub fn read(address: usize) -> u32 {
        debug_assert!(is_gic_register(address));
        // SAFETY: every caller passes a GICv2 register of the `virt` machine (a base above
        // plus a register offset, checked in debug builds), 4-aligned, mapped as device memory
        // by the board's page tables; reading these registers acts on the GIC only (reading
        // GICC_IAR acknowledges an interrupt, which its caller ends with GICC_EOIR).
        unsafe { core::ptr::read_volatile(address as *const u32) }
    }

    /// Writes `value` to the register at `address`.
    pub fn write(address: usize, value: u32) {
        debug_assert!(is_gic_register(address));
        // SAFETY: as in `read`; writing these registers changes which interrupts the GIC
        // signals to this core, never memory.
        unsafe { core::ptr::write_volatile(address as *mut u32, value) }
    }

    fn is_gic_register(address: usize) -> bool {
        address.is_multiple_of(4)
            && (super::DISTRIBUTOR..super::CPU_INTERFACE + 0x1_0000).contains(&address)
    }
}

/// Enables the distributor and this core's CPU interface for Group 0 interrupts, passing every
/// priority below [`PRIORITY_MASK`]. Idempotent; no interrupt is enabled by it.
pub fn init() {
    registers::write(DISTRIBUTOR + GICD_CTLR, 1);
    registers::write(CPU_INTERFACE + GICC_PMR, u32::from(PRIORITY_MASK));
    registers::write(CPU_INTERFACE + GICC_CTLR, 1);
}

/// Enables the private peripheral (or software-generated) interrupt `intid` (< 32) of this
/// core at `priority` (below [`PRIORITY_MASK`] to be signalled).
pub fn enable_private(intid: u32, priority: u8) {
    debug_assert!(intid < 32);
    let word = DISTRIBUTOR + GICD_IPRIORITYR + (intid as usize & !3);
    let shift = (intid % 4) * 8;
    let priorities = registers::read(word) & !(0xff << shift);
    registers::write(word, priorities | (u32::from(priority) << shift));
    registers::write(DISTRIBUTOR + GICD_ISENABLER0, 1 << (intid % 32));
}

/// Disables the private interrupt `intid` (< 32) of this core.
pub fn disable_private(intid: u32) {
    debug_assert!(intid < 32);
    registers::write(DISTRIBUTOR + GICD_ICENABLER0, 1 << (intid % 32));
}

/// An interrupt acknowledged by [`acknowledge`], to be ended by [`end_of_interrupt`].
#[derive(Debug)]
#[must_use = "an acknowledged interrupt must be ended with end_of_interrupt"]
pub struct Acknowledged(u32);

impl Acknowledged {
    /// Its interrupt ID.
    pub fn intid(&self) -> u32 {
        self.0 & 0x3ff
    }
}

/// Acknowledges the highest-priority pending interrupt (`GICC_IAR`); `None` for a spurious
/// interrupt (nothing to end).
pub fn acknowledge() -> Option<Acknowledged> {
    let iar = registers::read(CPU_INTERFACE + GICC_IAR);
    (iar & 0x3ff != SPURIOUS).then_some(Acknowledged(iar))
}

/// Ends an acknowledged interrupt (`GICC_EOIR`): the GIC may signal it again.
pub fn end_of_interrupt(interrupt: Acknowledged) {
    registers::write(CPU_INTERFACE + GICC_EOIR, interrupt.0);
}
