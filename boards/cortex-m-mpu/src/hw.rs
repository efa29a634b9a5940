//! The MPU registers: the only unsafe code of the crate. Built for bare-metal Arm only.
//!
//! Both `apply` functions follow the same sequence, with interrupts masked so no other code
//! runs while regions are half-written: `DSB` (earlier accesses complete under the old
//! regions), `MPU_CTRL = 0`, every implemented region written (`MPU_RNR`, then `MPU_RBAR`,
//! then `MPU_RASR`/`MPU_RLAR`; unplanned regions disabled), `SHCSR.MEMFAULTENA` set so an MPU
//! fault is a MemManage exception rather than a HardFault, `MPU_CTRL` enabled, `DSB; ISB` so
//! the next access and instruction fetch see the new regions.

use crate::map::PlanError;
use crate::{v7, v8};

/// `MPU_TYPE`: `[15:8] DREGION`, the number of implemented regions.
const MPU_TYPE: *const u32 = 0xE000_ED90 as *const u32;
const MPU_CTRL: *mut u32 = 0xE000_ED94 as *mut u32;
const MPU_RNR: *mut u32 = 0xE000_ED98 as *mut u32;
const MPU_RBAR: *mut u32 = 0xE000_ED9C as *mut u32;
/// `MPU_RASR` (ARMv7-M) and `MPU_RLAR` (ARMv8-M) share this address.
const MPU_RASR_RLAR: *mut u32 = 0xE000_EDA0 as *mut u32;
/// ARMv8-M only.
const MPU_MAIR0: *mut u32 = 0xE000_EDC0 as *mut u32;
/// System Handler Control and State Register.
const SHCSR: *mut u32 = 0xE000_ED24 as *mut u32;
/// `SHCSR.MEMFAULTENA`.
const SHCSR_MEMFAULTENA: u32 = 1 << 16;

/// Number of MPU regions the core implements (`MPU_TYPE.DREGION`; 0 without an MPU).
pub fn region_count() -> usize {
    // SAFETY: MPU_TYPE is a read-only identification register of the System Control Space,
    // present on every ARMv7-M and ARMv8-M core; reading it has no side effect.
    let value = unsafe { MPU_TYPE.read_volatile() };
    ((value >> 8) & 0xff) as usize
}

/// Runs `body` with interrupts masked (PRIMASK set), restoring the previous PRIMASK.
fn with_interrupts_masked<R>(body: impl FnOnce() -> R) -> R {
    let primask: u32;
    // SAFETY: reads PRIMASK and sets it; no memory is accessed. Masking interrupts cannot
    // break any invariant of the interrupted code.
    unsafe {
        core::arch::asm!("mrs {0}, PRIMASK", "cpsid i", out(reg) primask, options(nostack, preserves_flags));
    }
    let result = body();
    // SAFETY: restores the PRIMASK value read above (interrupts stay masked if they were).
    unsafe {
        core::arch::asm!("msr PRIMASK, {0}", in(reg) primask, options(nostack, preserves_flags));
    }
    result
}

/// Data and instruction synchronisation barriers.
fn barriers() {
    // SAFETY: barriers only; no register or memory operand.
    unsafe { core::arch::asm!("dsb sy", "isb sy", options(nostack, preserves_flags)) };
}

/// Programs a PMSAv7 MPU with `plan` and enables it (`v7::apply`).
///
/// Refused with [`PlanError::NotEnoughHardwareRegions`], nothing written, if the core has
/// fewer regions than the plan.
///
/// # Safety
/// The plan must describe the running firmware: its code (the code executing this function
/// included) read-only and executable, its stack, data and the peripherals it uses accessible.
/// Otherwise the first access after the MPU is enabled faults. The caller must also not rely
/// on any memory that the new plan makes inaccessible (a published code range being freed, a
/// guard).
pub unsafe fn apply_v7(plan: &v7::Plan) -> Result<(), PlanError> {
    let implemented = region_count();
    let regions = plan.regions();
    if regions.len() > implemented {
        return Err(PlanError::NotEnoughHardwareRegions {
            planned: regions.len() as u16,
            implemented: implemented as u16,
        });
    }
    with_interrupts_masked(|| {
        barriers();
        // SAFETY: the MPU registers are memory-mapped registers of the System Control Space
        // at their architectural addresses; with interrupts masked nothing else programs the
        // MPU. Disabling the MPU while reprogramming gives privileged code the default memory
        // map, a superset of any plan's permissions, so nothing running here can fault; the
        // caller guarantees that the plan enabled at the end lets the firmware continue.
        unsafe {
            MPU_CTRL.write_volatile(0);
            for number in 0..implemented {
                let region = regions
                    .get(number)
                    .copied()
                    .unwrap_or(v7::Region { rbar: 0, rasr: 0 });
                MPU_RNR.write_volatile(number as u32);
                MPU_RBAR.write_volatile(region.rbar & !0x1f);
                MPU_RASR_RLAR.write_volatile(region.rasr);
            }
            SHCSR.write_volatile(SHCSR.read_volatile() | SHCSR_MEMFAULTENA);
            MPU_CTRL.write_volatile(plan.ctrl());
        }
        barriers();
    });
    Ok(())
}

/// Programs a PMSAv8 MPU (the MPU of the current security state) with `plan` and enables it
/// (`v8::apply`).
///
/// Refused with [`PlanError::NotEnoughHardwareRegions`], nothing written, if the core has
/// fewer regions than the plan.
///
/// # Safety
/// As for `v7::apply`: the plan must keep the running firmware's code, stack, data and
/// peripherals accessible (on PMSAv8 there is no background region, so anything not planned
/// faults), and the caller must not rely on memory the plan makes inaccessible.
pub unsafe fn apply_v8(plan: &v8::Plan) -> Result<(), PlanError> {
    let implemented = region_count();
    let regions = plan.regions();
    if regions.len() > implemented {
        return Err(PlanError::NotEnoughHardwareRegions {
            planned: regions.len() as u16,
            implemented: implemented as u16,
        });
    }
    with_interrupts_masked(|| {
        barriers();
        // SAFETY: as in `apply_v7`: architectural System Control Space registers, written
        // with interrupts masked while the MPU is disabled (default map for privileged code,
        // so nothing here faults); MPU_MAIR0 exists on every ARMv8-M MPU.
        unsafe {
            MPU_CTRL.write_volatile(0);
            MPU_MAIR0.write_volatile(plan.mair0());
            for number in 0..implemented {
                let region = regions
                    .get(number)
                    .copied()
                    .unwrap_or(v8::Region { rbar: 0, rlar: 0 });
                MPU_RNR.write_volatile(number as u32);
                // Disable first, so the region never briefly has the new base and old limit.
                MPU_RASR_RLAR.write_volatile(0);
                MPU_RBAR.write_volatile(region.rbar);
                MPU_RASR_RLAR.write_volatile(region.rlar);
            }
            SHCSR.write_volatile(SHCSR.read_volatile() | SHCSR_MEMFAULTENA);
            MPU_CTRL.write_volatile(plan.ctrl());
        }
        barriers();
    });
    Ok(())
}

/// Asks the core what the MPU gives the current code at `address` (the `TT` instruction;
/// ARMv8-M only): `v8::test_target`. A way for firmware to check the live MPU state, guards
/// included, without touching the address.
#[cfg(armv8m)]
pub fn test_target(address: u32) -> v8::TestTarget {
    let result: u32;
    // SAFETY: `TT` only looks the address up in the MPU and SAU and returns what it found;
    // it accesses no memory and changes no state.
    unsafe {
        core::arch::asm!(
            "tt {result}, {address}",
            result = lateout(reg) result,
            address = in(reg) address,
            options(nomem, nostack, preserves_flags),
        );
    }
    v8::TestTarget(result)
}
