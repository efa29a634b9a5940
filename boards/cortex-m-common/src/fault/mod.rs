//! Fault handling: which Cortex-M faults become wasm traps, and how.
//!
//! The four fault exceptions (HardFault, MemManage, BusFault, UsageFault; the last three are
//! enabled in `SHCSR` at boot so they do not escalate) enter [`vectors`], which passes the
//! exception number, `EXC_RETURN` and the stacked exception frame to [`handle`], the safe
//! decision procedure below. A fault becomes a wasm trap in two cases only:
//!
//! 1. **Listed `udf` trap site**: a UsageFault with `UFSR.UNDEFINSTR` (or a HardFault it was
//!    escalated to: `HFSR.FORCED`) from thread mode whose stacked PC the runtime recognises
//!    as a trap site of loaded wasm text holding `udf #(0x80 + code)` for the listed code
//!    ([`device_runtime::fault::redirect_for_udf`]). This is how the Thumb backend's own
//!    checks (bounds, division, conversions, stack limit, `unreachable`, ...) trap.
//! 2. **Front-guard access from wasm code**: a MemManage data-access violation
//!    (`MMFSR.DACCVIOL` with `MMARVALID`, or a HardFault it was escalated to) from thread mode
//!    whose `MMFAR` lies in the protected front guard of a live memory slot and whose PC lies
//!    in loaded wasm text ([`device_runtime::fault::redirect_for_guard_fault`]): the access
//!    did not happen, and it is a `MemoryOutOfBounds` trap.
//!
//! A redirect rewrites the stacked frame ([`StackedFrame::redirect`]): `r0`/`r1` get the
//! runtime's arguments, the return address becomes `resume_at & !1` (an exception return to
//! an odd address is UNPREDICTABLE), and `xPSR` keeps its flags and its stack-alignment bit 9
//! but gets the Thumb bit set and the IT/ICI bits cleared (the unwind routine is not in an IT
//! block). The extended frame of a context with active FP state (`EXC_RETURN` bit 4 clear)
//! starts with the same eight words; its FP part (`s0-s15`, `FPSCR`, lazily saved or not) is
//! left as it is: the exception return restores it, and the unwind routine then restores the
//! callee-saved `s16-s31` from the entry's jump buffer. Every other fault (in handler mode, in
//! firmware code, on an address outside every guard, a stacking error, a bus fault, ...) is a
//! fatal report ([`write_report`]) followed by a semihosting exit with
//! [`FATAL_EXIT_STATUS`]: it is never turned into a trap.

use core::fmt;

use device_runtime::TrapCode;
use device_runtime::fault::FaultRedirect;

#[cfg(all(target_arch = "arm", target_os = "none"))]
pub mod vectors;

/// Exit status after a fault that is not a wasm trap.
pub const FATAL_EXIT_STATUS: u32 = 3;

/// Bits of the Configurable Fault Status Register (`CFSR`, 0xE000_ED28): MMFSR in bits 0-7,
/// BFSR in 8-15, UFSR in 16-31.
pub mod cfsr {
    /// MemManage: instruction access violation.
    pub const IACCVIOL: u32 = 1 << 0;
    /// MemManage: data access violation (`MMFAR` holds the address if `MMARVALID`).
    pub const DACCVIOL: u32 = 1 << 1;
    /// MemManage: fault on unstacking for an exception return.
    pub const MUNSTKERR: u32 = 1 << 3;
    /// MemManage: fault on stacking for exception entry.
    pub const MSTKERR: u32 = 1 << 4;
    /// MemManage: fault during lazy FP state preservation.
    pub const MLSPERR: u32 = 1 << 5;
    /// `MMFAR` holds the faulting address.
    pub const MMARVALID: u32 = 1 << 7;
    /// BusFault: instruction bus error.
    pub const IBUSERR: u32 = 1 << 8;
    /// BusFault: precise data bus error (`BFAR` valid if `BFARVALID`).
    pub const PRECISERR: u32 = 1 << 9;
    /// BusFault: imprecise data bus error.
    pub const IMPRECISERR: u32 = 1 << 10;
    /// BusFault: on unstacking.
    pub const UNSTKERR: u32 = 1 << 11;
    /// BusFault: on stacking.
    pub const STKERR: u32 = 1 << 12;
    /// BusFault: during lazy FP state preservation.
    pub const LSPERR: u32 = 1 << 13;
    /// `BFAR` holds the faulting address.
    pub const BFARVALID: u32 = 1 << 15;
    /// UsageFault: undefined instruction.
    pub const UNDEFINSTR: u32 = 1 << 16;
    /// UsageFault: invalid state (e.g. a branch to an even address: Thumb bit clear).
    pub const INVSTATE: u32 = 1 << 17;
    /// UsageFault: invalid `EXC_RETURN`.
    pub const INVPC: u32 = 1 << 18;
    /// UsageFault: coprocessor access (e.g. FP instruction with the FPU disabled).
    pub const NOCP: u32 = 1 << 19;
    /// UsageFault: stack limit (ARMv8-M only).
    pub const STKOF: u32 = 1 << 20;
    /// UsageFault: unaligned access (with `CCR.UNALIGN_TRP`).
    pub const UNALIGNED: u32 = 1 << 24;
    /// UsageFault: division by zero (with `CCR.DIV_0_TRP`).
    pub const DIVBYZERO: u32 = 1 << 25;

    /// Every MemManage error bit (not `MMARVALID`).
    pub const MEM_MANAGE_ERRORS: u32 = IACCVIOL | DACCVIOL | MUNSTKERR | MSTKERR | MLSPERR;
    /// Every BusFault error bit (not `BFARVALID`).
    pub const BUS_ERRORS: u32 = IBUSERR | PRECISERR | IMPRECISERR | UNSTKERR | STKERR | LSPERR;
    /// Every UsageFault error bit.
    pub const USAGE_ERRORS: u32 =
        UNDEFINSTR | INVSTATE | INVPC | NOCP | STKOF | UNALIGNED | DIVBYZERO;
}

/// Bits of the HardFault Status Register (`HFSR`, 0xE000_ED2C).
pub mod hfsr {
    /// Bus fault on a vector table read.
    pub const VECTTBL: u32 = 1 << 1;
    /// A configurable fault escalated to HardFault (disabled, or of too low priority).
    pub const FORCED: u32 = 1 << 30;
    /// A debug event.
    pub const DEBUGEVT: u32 = 1 << 31;
}

/// The fault exceptions (their exception numbers).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Exception {
    /// HardFault (3).
    HardFault = 3,
    /// MemManage (4).
    MemManage = 4,
    /// BusFault (5).
    BusFault = 5,
    /// UsageFault (6).
    UsageFault = 6,
}

impl Exception {
    /// The exception with number `number`, if it is a fault.
    pub fn from_number(number: u32) -> Option<Exception> {
        match number {
            3 => Some(Exception::HardFault),
            4 => Some(Exception::MemManage),
            5 => Some(Exception::BusFault),
            6 => Some(Exception::UsageFault),
            _ => None,
        }
    }

    /// Its name.
    pub fn name(self) -> &'static str {
        match self {
            Exception::HardFault => "HardFault",
            Exception::MemManage => "MemManage",
            Exception::BusFault => "BusFault",
            Exception::UsageFault => "UsageFault",
        }
    }
}

/// The fault status registers read at the fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FaultStatus {
    /// `CFSR`.
    pub cfsr: u32,
    /// `HFSR`.
    pub hfsr: u32,
    /// `MMFAR` (meaningful with `CFSR.MMARVALID`).
    pub mmfar: u32,
    /// `BFAR` (meaningful with `CFSR.BFARVALID`).
    pub bfar: u32,
}

impl FaultStatus {
    /// Whether `exception` was raised for this status, or is a HardFault escalated from it:
    /// a configurable fault is its own exception, a HardFault must be `FORCED` (not a vector
    /// table read or a debug event).
    fn escalated_or(&self, exception: Exception, wanted: Exception) -> bool {
        exception == wanted
            || (exception == Exception::HardFault
                && self.hfsr & (hfsr::VECTTBL | hfsr::DEBUGEVT) == 0
                && self.hfsr & hfsr::FORCED != 0)
    }

    /// The only error bit set is `UNDEFINSTR`.
    fn only_undefined_instruction(&self) -> bool {
        let errors = self.cfsr & (cfsr::MEM_MANAGE_ERRORS | cfsr::BUS_ERRORS | cfsr::USAGE_ERRORS);
        errors == cfsr::UNDEFINSTR
    }

    /// The faulting data address of a MemManage data-access violation that is the only error
    /// bit set (no stacking or lazy FP error), if `MMFAR` is valid.
    fn only_data_access_violation(&self) -> Option<u32> {
        let errors = self.cfsr & (cfsr::MEM_MANAGE_ERRORS | cfsr::BUS_ERRORS | cfsr::USAGE_ERRORS);
        (errors == cfsr::DACCVIOL && self.cfsr & cfsr::MMARVALID != 0).then_some(self.mmfar)
    }

    /// Whether the core failed to stack the exception frame (`MSTKERR`/`STKERR`: the stack
    /// pointer was in a guard or unmapped memory), so the frame must not be read: the fault is
    /// fatal and reported without it.
    pub fn frame_not_stacked(&self) -> bool {
        self.cfsr & (cfsr::MSTKERR | cfsr::STKERR) != 0
    }

    /// A short description of the error bits set (for the fatal report).
    pub fn describe(&self) -> FaultBits {
        FaultBits(self.cfsr, self.hfsr)
    }
}

/// The names of the fault status bits that are set (`Display`).
#[derive(Clone, Copy, Debug)]
pub struct FaultBits(u32, u32);

impl fmt::Display for FaultBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const CFSR_NAMES: [(u32, &str); 20] = [
            (cfsr::IACCVIOL, "IACCVIOL"),
            (cfsr::DACCVIOL, "DACCVIOL"),
            (cfsr::MUNSTKERR, "MUNSTKERR"),
            (cfsr::MSTKERR, "MSTKERR"),
            (cfsr::MLSPERR, "MLSPERR"),
            (cfsr::MMARVALID, "MMARVALID"),
            (cfsr::IBUSERR, "IBUSERR"),
            (cfsr::PRECISERR, "PRECISERR"),
            (cfsr::IMPRECISERR, "IMPRECISERR"),
            (cfsr::UNSTKERR, "UNSTKERR"),
            (cfsr::STKERR, "STKERR"),
            (cfsr::LSPERR, "LSPERR"),
            (cfsr::BFARVALID, "BFARVALID"),
            (cfsr::UNDEFINSTR, "UNDEFINSTR"),
            (cfsr::INVSTATE, "INVSTATE"),
            (cfsr::INVPC, "INVPC"),
            (cfsr::NOCP, "NOCP"),
            (cfsr::STKOF, "STKOF"),
            (cfsr::UNALIGNED, "UNALIGNED"),
            (cfsr::DIVBYZERO, "DIVBYZERO"),
        ];
        const HFSR_NAMES: [(u32, &str); 3] = [
            (hfsr::VECTTBL, "VECTTBL"),
            (hfsr::FORCED, "FORCED"),
            (hfsr::DEBUGEVT, "DEBUGEVT"),
        ];
        let mut first = true;
        let cfsr = CFSR_NAMES.iter().filter(|(bit, _)| self.0 & bit != 0);
        let hfsr = HFSR_NAMES.iter().filter(|(bit, _)| self.1 & bit != 0);
        for (_, name) in cfsr.chain(hfsr) {
            if !first {
                f.write_str(" ")?;
            }
            f.write_str(name)?;
            first = false;
        }
        if first {
            f.write_str("no status bits")?;
        }
        Ok(())
    }
}

/// The `EXC_RETURN` value the core put in `lr` on exception entry (ARMv7-M and ARMv8-M
/// Mainline without the Security Extension).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExcReturn(pub u32);

impl ExcReturn {
    /// The exception interrupted thread mode (bit 3).
    pub fn from_thread_mode(self) -> bool {
        self.0 & (1 << 3) != 0
    }

    /// The frame was pushed on the process stack (bit 2), else on the main stack.
    pub fn process_stack(self) -> bool {
        self.0 & (1 << 2) != 0
    }

    /// The frame is the extended one with FP state (bit 4 clear: the interrupted context had
    /// active FP state; 26 words, lazily filled).
    pub fn extended_frame(self) -> bool {
        self.0 & (1 << 4) == 0
    }
}

/// The basic exception frame the core stacks (the first eight words of the extended frame
/// too). Layout (bytes): 0 r0, 4 r1, 8 r2, 12 r3, 16 r12, 20 lr, 24 return address, 28 xPSR.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StackedFrame {
    /// r0-r3.
    pub r: [u32; 4],
    /// r12.
    pub r12: u32,
    /// lr of the interrupted context.
    pub lr: u32,
    /// Return address: for these faults, the instruction that faulted.
    pub pc: u32,
    /// Program status of the interrupted context (bit 9: the core padded the stack to 8).
    pub xpsr: u32,
}

const _: () = assert!(core::mem::size_of::<StackedFrame>() == 32);

/// `xPSR.T`: Thumb state.
pub const XPSR_THUMB: u32 = 1 << 24;
/// The IT/ICI bits of `xPSR` (`[26:25]` and `[15:10]`).
pub const XPSR_IT_ICI: u32 = (0b11 << 25) | (0b11_1111 << 10);

impl StackedFrame {
    /// Rewrites the frame so that the exception return resumes at the redirect with its two
    /// arguments, in Thumb state, outside any IT block.
    pub fn redirect(&mut self, redirect: &FaultRedirect) {
        self.r[0] = redirect.arg0 as u32;
        self.r[1] = redirect.arg1 as u32;
        self.pc = (redirect.resume_at as u32) & !1;
        self.xpsr = (self.xpsr & !XPSR_IT_ICI) | XPSR_THUMB;
    }
}

/// What a fault may be, before the runtime is asked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Candidate {
    /// An undefined instruction at `pc` in thread mode: a trap if it is a listed `udf` site.
    UndefinedInstruction {
        /// Address of the instruction.
        pc: u32,
    },
    /// A data access at `address` refused by the MPU, by the instruction at `pc` in thread
    /// mode: a trap if `address` is in a live front guard and `pc` in wasm text.
    DataAccessViolation {
        /// Address of the instruction.
        pc: u32,
        /// The faulting data address (`MMFAR`).
        address: u32,
    },
    /// Never a trap.
    Fatal,
}

/// Classifies a fault (safe, pure: see the module documentation for the rules).
pub fn classify(
    exception: Exception,
    status: &FaultStatus,
    exc_return: ExcReturn,
    frame: &StackedFrame,
) -> Candidate {
    if !exc_return.from_thread_mode() {
        return Candidate::Fatal;
    }
    if status.escalated_or(exception, Exception::UsageFault) && status.only_undefined_instruction()
    {
        return Candidate::UndefinedInstruction { pc: frame.pc };
    }
    if status.escalated_or(exception, Exception::MemManage)
        && let Some(address) = status.only_data_access_violation()
    {
        return Candidate::DataAccessViolation {
            pc: frame.pc,
            address,
        };
    }
    Candidate::Fatal
}

/// What the fault handler asks the runtime and the platform.
pub trait Runtime {
    /// The redirect for an undefined instruction at `pc`, if it is a listed `udf` trap site
    /// of loaded wasm text and a wasm call is active
    /// ([`device_runtime::fault::redirect_for_udf`]).
    fn udf_redirect(&self, pc: u32) -> Option<FaultRedirect>;
    /// Whether `address` lies in the protected front guard of a live memory slot.
    fn in_live_guard(&self, address: u32) -> bool;
    /// The redirect for a guard fault at `pc`, if `pc` lies in loaded wasm text and a wasm
    /// call is active ([`device_runtime::fault::redirect_for_guard_fault`]); asked only for
    /// a data-access violation on a live guard.
    fn guard_redirect(&self, pc: u32) -> Option<FaultRedirect>;
    /// Whether `pc` lies in loaded wasm text (for the report).
    fn in_wasm_text(&self, pc: u32) -> bool;
}

/// What the handler did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The frame now resumes in the runtime's unwind routine with this trap.
    Trap {
        /// The trap.
        code: TrapCode,
        /// Whether it came from a front-guard access (rule 2) rather than a `udf` site.
        guard: bool,
    },
    /// Not a trap: report and stop.
    Fatal,
}

/// Decides a fault and, for a trap, rewrites `frame` (the handler then returns).
pub fn handle(
    exception: Exception,
    status: &FaultStatus,
    exc_return: ExcReturn,
    frame: &mut StackedFrame,
    runtime: &impl Runtime,
) -> Outcome {
    let (redirect, guard) = match classify(exception, status, exc_return, frame) {
        Candidate::UndefinedInstruction { pc } => (runtime.udf_redirect(pc), false),
        Candidate::DataAccessViolation { pc, address } if runtime.in_live_guard(address) => {
            (runtime.guard_redirect(pc), true)
        }
        Candidate::DataAccessViolation { .. } | Candidate::Fatal => (None, false),
    };
    match redirect {
        Some(redirect) => {
            frame.redirect(&redirect);
            Outcome::Trap {
                code: redirect.code,
                guard,
            }
        }
        None => Outcome::Fatal,
    }
}

/// Writes the fatal report: exception, status registers and their bits, the stacked PC, lr
/// and xPSR (`frame`: `None` when the core could not stack it, see
/// [`FaultStatus::frame_not_stacked`]), and whether the PC is in wasm text.
pub fn write_report(
    out: &mut impl fmt::Write,
    exception: Exception,
    status: &FaultStatus,
    exc_return: ExcReturn,
    frame: Option<&StackedFrame>,
    in_wasm_text: bool,
) -> fmt::Result {
    write!(
        out,
        "fatal: {} CFSR={:#010x} HFSR={:#010x} MMFAR={:#010x} BFAR={:#010x} ",
        exception.name(),
        status.cfsr,
        status.hfsr,
        status.mmfar,
        status.bfar,
    )?;
    match frame {
        Some(frame) => write!(
            out,
            "PC={:#010x} LR={:#010x} xPSR={:#010x} ",
            frame.pc, frame.lr, frame.xpsr
        )?,
        None => write!(out, "(no frame: stacking failed) ")?,
    }
    writeln!(
        out,
        "EXC_RETURN={:#010x} ({})",
        exc_return.0,
        status.describe()
    )?;
    if !exc_return.from_thread_mode() {
        writeln!(out, "the fault was raised in handler mode")?;
    }
    if in_wasm_text {
        writeln!(
            out,
            "the faulting PC is in wasm text: not a listed trap site, not a guard-region access"
        )?;
    }
    Ok(())
}

/// Writes the report of an exception the boards never expect (`DefaultHandler`), by its
/// exception number (`IPSR`): 2 NMI, 11 SVCall, 12 DebugMonitor, 14 PendSV, 15 SysTick, 16 and
/// up interrupt `n - 16`.
pub fn write_unexpected(out: &mut impl fmt::Write, ipsr: u32) -> fmt::Result {
    let number = ipsr & 0x1ff;
    let name = match number {
        2 => "NMI",
        11 => "SVCall",
        12 => "DebugMonitor",
        14 => "PendSV",
        15 => "SysTick",
        16.. => "interrupt",
        _ => "reserved exception",
    };
    if number >= 16 {
        writeln!(
            out,
            "fatal: unexpected {name} {} (exception {number})",
            number - 16
        )
    } else {
        writeln!(out, "fatal: unexpected {name} (exception {number})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    const THREAD_MSP: ExcReturn = ExcReturn(0xffff_fff9);
    const THREAD_PSP: ExcReturn = ExcReturn(0xffff_fffd);
    const THREAD_PSP_FP: ExcReturn = ExcReturn(0xffff_ffed);
    const HANDLER: ExcReturn = ExcReturn(0xffff_fff1);

    const TEXT: std::ops::Range<u32> = 0x2000_0000..0x2000_1000;
    const GUARD: std::ops::Range<u32> = 0x2100_0000..0x2100_1000;
    const UNWIND: usize = 0x0000_4321;

    /// A runtime with wasm text at TEXT, a udf trap site at TEXT.start + 0x10 (division by
    /// zero) and a live guard at GUARD.
    struct FakeRuntime {
        active: bool,
        asked_guard: Cell<bool>,
    }

    fn redirect(code: TrapCode) -> FaultRedirect {
        FaultRedirect {
            resume_at: UNWIND,
            arg0: 0x2003_fff0,
            arg1: code.as_u8() as usize,
            code,
        }
    }

    impl Runtime for FakeRuntime {
        fn udf_redirect(&self, pc: u32) -> Option<FaultRedirect> {
            (self.active && pc == TEXT.start + 0x10)
                .then(|| redirect(TrapCode::IntegerDivisionByZero))
        }
        fn in_live_guard(&self, address: u32) -> bool {
            GUARD.contains(&address)
        }
        fn guard_redirect(&self, pc: u32) -> Option<FaultRedirect> {
            self.asked_guard.set(true);
            (self.active && TEXT.contains(&pc)).then(|| redirect(TrapCode::MemoryOutOfBounds))
        }
        fn in_wasm_text(&self, pc: u32) -> bool {
            TEXT.contains(&pc)
        }
    }

    fn runtime() -> FakeRuntime {
        FakeRuntime {
            active: true,
            asked_guard: Cell::new(false),
        }
    }

    fn frame(pc: u32, xpsr: u32) -> StackedFrame {
        StackedFrame {
            r: [1, 2, 3, 4],
            r12: 12,
            lr: 0x14,
            pc,
            xpsr,
        }
    }

    fn udf_status() -> FaultStatus {
        FaultStatus {
            cfsr: cfsr::UNDEFINSTR,
            ..Default::default()
        }
    }

    fn guard_status(address: u32) -> FaultStatus {
        FaultStatus {
            cfsr: cfsr::DACCVIOL | cfsr::MMARVALID,
            mmfar: address,
            ..Default::default()
        }
    }

    #[test]
    fn udf_at_listed_site_redirects_and_fixes_xpsr() {
        // In an IT block (IT bits set), with the alignment bit 9 and flags set.
        let xpsr = 0xf000_0000 | XPSR_THUMB | (0b01 << 25) | (0b10_1100 << 10) | (1 << 9);
        let mut f = frame(TEXT.start + 0x10, xpsr);
        let outcome = handle(
            Exception::UsageFault,
            &udf_status(),
            THREAD_PSP,
            &mut f,
            &runtime(),
        );
        assert_eq!(
            outcome,
            Outcome::Trap {
                code: TrapCode::IntegerDivisionByZero,
                guard: false
            }
        );
        assert_eq!(f.r, [0x2003_fff0, 8, 3, 4]);
        assert_eq!(f.pc, 0x4320, "bit 0 cleared");
        assert_eq!(f.xpsr, 0xf000_0000 | XPSR_THUMB | (1 << 9));
        assert_eq!((f.r12, f.lr), (12, 0x14), "the rest untouched");
    }

    #[test]
    fn escalated_udf_is_handled_like_a_usage_fault() {
        let status = FaultStatus {
            hfsr: hfsr::FORCED,
            ..udf_status()
        };
        let mut f = frame(TEXT.start + 0x10, XPSR_THUMB);
        assert!(matches!(
            handle(
                Exception::HardFault,
                &status,
                THREAD_MSP,
                &mut f,
                &runtime()
            ),
            Outcome::Trap { .. }
        ));
        // Not forced (a vector table read): fatal.
        let status = FaultStatus {
            hfsr: hfsr::VECTTBL,
            ..udf_status()
        };
        let mut f = frame(TEXT.start + 0x10, XPSR_THUMB);
        assert_eq!(
            handle(
                Exception::HardFault,
                &status,
                THREAD_MSP,
                &mut f,
                &runtime()
            ),
            Outcome::Fatal
        );
    }

    #[test]
    fn udf_elsewhere_or_without_active_call_is_fatal_and_frame_untouched() {
        for (pc, active) in [
            (TEXT.start + 0x12, true),
            (0x100, true),
            (TEXT.start + 0x10, false),
        ] {
            let mut f = frame(pc, XPSR_THUMB);
            let before = f;
            let rt = FakeRuntime {
                active,
                asked_guard: Cell::new(false),
            };
            assert_eq!(
                handle(
                    Exception::UsageFault,
                    &udf_status(),
                    THREAD_PSP,
                    &mut f,
                    &rt
                ),
                Outcome::Fatal
            );
            assert_eq!(f, before);
        }
    }

    #[test]
    fn faults_in_handler_mode_are_fatal() {
        let mut f = frame(TEXT.start + 0x10, XPSR_THUMB);
        assert_eq!(
            classify(Exception::UsageFault, &udf_status(), HANDLER, &f),
            Candidate::Fatal
        );
        let rt = runtime();
        assert_eq!(
            handle(
                Exception::MemManage,
                &guard_status(GUARD.start),
                HANDLER,
                &mut f,
                &rt
            ),
            Outcome::Fatal
        );
        assert!(!rt.asked_guard.get());
    }

    #[test]
    fn other_usage_faults_are_fatal() {
        for bits in [
            cfsr::INVSTATE,
            cfsr::NOCP,
            cfsr::UNDEFINSTR | cfsr::INVPC,
            cfsr::DIVBYZERO,
            cfsr::UNALIGNED,
        ] {
            let status = FaultStatus {
                cfsr: bits,
                ..Default::default()
            };
            let f = frame(TEXT.start + 0x10, XPSR_THUMB);
            assert_eq!(
                classify(Exception::UsageFault, &status, THREAD_PSP, &f),
                Candidate::Fatal,
                "{bits:#x}"
            );
        }
    }

    #[test]
    fn guard_violation_from_wasm_text_is_out_of_bounds() {
        let mut f = frame(TEXT.start + 0x40, XPSR_THUMB);
        let outcome = handle(
            Exception::MemManage,
            &guard_status(GUARD.end - 4),
            THREAD_PSP_FP,
            &mut f,
            &runtime(),
        );
        assert_eq!(
            outcome,
            Outcome::Trap {
                code: TrapCode::MemoryOutOfBounds,
                guard: true
            }
        );
        assert_eq!(f.r[1], TrapCode::MemoryOutOfBounds.as_u8() as u32);
        assert_eq!(f.pc, UNWIND as u32 & !1);
    }

    #[test]
    fn guard_violation_rules() {
        let rt = runtime();
        // Outside every guard: fatal, the runtime is not even asked.
        let mut f = frame(TEXT.start + 0x40, XPSR_THUMB);
        assert_eq!(
            handle(
                Exception::MemManage,
                &guard_status(GUARD.end),
                THREAD_PSP,
                &mut f,
                &rt
            ),
            Outcome::Fatal
        );
        assert!(!rt.asked_guard.get());
        // On a guard but from firmware code: fatal.
        let mut f = frame(0x0000_1000, XPSR_THUMB);
        assert_eq!(
            handle(
                Exception::MemManage,
                &guard_status(GUARD.start),
                THREAD_PSP,
                &mut f,
                &rt
            ),
            Outcome::Fatal
        );
        // MMFAR not valid, or a stacking error as well: fatal.
        for status in [
            FaultStatus {
                cfsr: cfsr::DACCVIOL,
                mmfar: GUARD.start,
                ..Default::default()
            },
            FaultStatus {
                cfsr: cfsr::DACCVIOL | cfsr::MSTKERR | cfsr::MMARVALID,
                mmfar: GUARD.start,
                ..Default::default()
            },
            FaultStatus {
                cfsr: cfsr::IACCVIOL | cfsr::MMARVALID,
                mmfar: GUARD.start,
                ..Default::default()
            },
        ] {
            let f = frame(TEXT.start + 0x40, XPSR_THUMB);
            assert_eq!(
                classify(Exception::MemManage, &status, THREAD_PSP, &f),
                Candidate::Fatal
            );
        }
        // Escalated to HardFault: same rule.
        let status = FaultStatus {
            hfsr: hfsr::FORCED,
            ..guard_status(GUARD.start)
        };
        let mut f = frame(TEXT.start + 0x40, XPSR_THUMB);
        assert!(matches!(
            handle(Exception::HardFault, &status, THREAD_MSP, &mut f, &rt),
            Outcome::Trap { guard: true, .. }
        ));
        // A bus fault is never a guard fault, even at a guard address.
        let status = FaultStatus {
            cfsr: cfsr::PRECISERR | cfsr::BFARVALID,
            bfar: GUARD.start,
            ..Default::default()
        };
        let f = frame(TEXT.start + 0x40, XPSR_THUMB);
        assert_eq!(
            classify(Exception::BusFault, &status, THREAD_PSP, &f),
            Candidate::Fatal
        );
    }

    #[test]
    fn exc_return_bits() {
        assert!(THREAD_PSP.from_thread_mode() && THREAD_PSP.process_stack());
        assert!(!THREAD_PSP.extended_frame());
        assert!(THREAD_PSP_FP.extended_frame() && THREAD_PSP_FP.process_stack());
        assert!(THREAD_MSP.from_thread_mode() && !THREAD_MSP.process_stack());
        assert!(!HANDLER.from_thread_mode());
        assert_eq!(Exception::from_number(4), Some(Exception::MemManage));
        assert_eq!(Exception::from_number(7), None);
    }

    #[test]
    fn unexpected_exceptions_are_named() {
        let text = |ipsr| {
            let mut out = String::new();
            write_unexpected(&mut out, ipsr).unwrap();
            out
        };
        assert_eq!(text(11), "fatal: unexpected SVCall (exception 11)\n");
        assert_eq!(text(15), "fatal: unexpected SysTick (exception 15)\n");
        assert_eq!(
            text(16 + 7),
            "fatal: unexpected interrupt 7 (exception 23)\n"
        );
        assert_eq!(text(2), "fatal: unexpected NMI (exception 2)\n");
    }

    #[test]
    fn report_names_registers_and_bits() {
        let status = FaultStatus {
            cfsr: cfsr::DACCVIOL | cfsr::MMARVALID,
            hfsr: 0,
            mmfar: 0x1234_5678,
            bfar: 0,
        };
        let mut out = String::new();
        write_report(
            &mut out,
            Exception::MemManage,
            &status,
            THREAD_PSP,
            Some(&frame(0x2000_0040, XPSR_THUMB)),
            true,
        )
        .unwrap();
        assert!(
            out.starts_with("fatal: MemManage CFSR=0x00000082 HFSR=0x00000000 MMFAR=0x12345678")
        );
        assert!(out.contains("PC=0x20000040"));
        assert!(out.contains("(DACCVIOL MMARVALID)"));
        assert!(out.contains("the faulting PC is in wasm text"));
        let mut out = String::new();
        write_report(
            &mut out,
            Exception::HardFault,
            &FaultStatus::default(),
            HANDLER,
            Some(&frame(0, 0)),
            false,
        )
        .unwrap();
        assert!(out.contains("(no status bits)"));
        assert!(out.contains("handler mode"));
        // A stack overflow into a guard: the frame could not be stacked and is not read.
        let status = FaultStatus {
            cfsr: cfsr::DACCVIOL | cfsr::MSTKERR | cfsr::MMARVALID,
            mmfar: 0x2010_03f8,
            ..Default::default()
        };
        assert!(status.frame_not_stacked());
        assert!(!guard_status(0).frame_not_stacked());
        let mut out = String::new();
        write_report(
            &mut out,
            Exception::MemManage,
            &status,
            THREAD_PSP,
            None,
            false,
        )
        .unwrap();
        assert!(out.contains("(no frame: stacking failed)"));
        assert!(out.contains("MSTKERR"));
    }
}
