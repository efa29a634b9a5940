//! Exact instruction counts from the performance monitors, for benchmarks.
//!
//! Event counter 0 counts `INST_RETIRED` (event 0x08) at EL0 and EL1. QEMU implements that
//! event only with `-icount` (it is then exact: every guest instruction executed); without it
//! the event is absent from `PMCEID0_EL0` and [`InstructionCounter::start`] says so instead of
//! reporting zeros. The counter is 32 bits wide: [`InstructionCounter::elapsed`] is right for
//! spans below 2^32 instructions.

use core::arch::asm;

/// Why counting is unavailable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PmuError {
    /// The core does not implement `INST_RETIRED` (under QEMU: started without `-icount`).
    NoInstructionEvent,
}

impl core::fmt::Display for PmuError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(
            "the INST_RETIRED event is not implemented (run QEMU with -icount shift=0 to count \
             instructions)",
        )
    }
}

/// The instruction counter, enabled.
#[derive(Debug)]
pub struct InstructionCounter(());

const INST_RETIRED: u64 = 0x08;

impl InstructionCounter {
    /// Enables event counter 0 on `INST_RETIRED`.
    pub fn start() -> Result<InstructionCounter, PmuError> {
        let events: u64;
        // SAFETY: reading PMCEID0_EL0 at EL1 has no side effect.
        unsafe { asm!("mrs {}, pmceid0_el0", out(reg) events, options(nomem, nostack)) };
        if events & (1 << INST_RETIRED) == 0 {
            return Err(PmuError::NoInstructionEvent);
        }
        // SAFETY: programs counter 0 to count retired instructions at EL0 and EL1 and enables
        // it (PMCR_EL0.E); only the performance monitors change, nothing the program relies on.
        unsafe {
            asm!(
                "msr pmevtyper0_el0, {ty}",
                "msr pmcntenset_el0, {one}",
                "mrs {tmp}, pmcr_el0",
                "orr {tmp}, {tmp}, #1",
                "msr pmcr_el0, {tmp}",
                "isb",
                ty = in(reg) INST_RETIRED,
                one = in(reg) 1u64,
                tmp = out(reg) _,
                options(nomem, nostack),
            )
        };
        Ok(InstructionCounter(()))
    }

    /// The counter's current value.
    pub fn now(&self) -> u32 {
        let value: u64;
        // SAFETY: reading PMEVCNTR0_EL0 at EL1 has no side effect; the ISB orders it after
        // the instructions before it.
        unsafe { asm!("isb", "mrs {}, pmevcntr0_el0", out(reg) value, options(nomem, nostack)) };
        value as u32
    }

    /// Instructions retired since `start` (a value of [`now`](Self::now)).
    pub fn elapsed(&self, start: u32) -> u32 {
        self.now().wrapping_sub(start)
    }
}
