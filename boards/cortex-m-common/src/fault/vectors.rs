//! The fault exception handlers (bare metal): exception entry in assembly, the System Control
//! Block registers, and the stacked frame. The decisions are [`super::handle`]'s.
//!
//! `HardFault`, `MemoryManagement`, `BusFault` and `UsageFault` are defined here as global
//! symbols, so they replace `cortex-m-rt`'s `PROVIDE`d defaults in its vector table (the
//! `HardFault` entry points at the symbol `HardFault` itself); so is `DefaultHandler`, which
//! every other exception and interrupt reaches, and which reports it instead of spinning. Each loads its exception number
//! and branches to one common entry, which:
//!
//! ```text
//! tst lr, #4            ; EXC_RETURN bit 2: which stack holds the frame
//! ite eq
//! mrseq r0, msp         ; r0 = the stacked frame (basic or extended: same first 8 words)
//! mrsne r0, psp
//! mov r1, lr            ; r1 = EXC_RETURN
//! push {r4, lr}         ; keeps the handler stack 8-aligned
//! bl cortex_m_common_fault
//! pop {r4, pc}          ; pc = EXC_RETURN: the exception return (restores the frame, maybe
//!                       ; rewritten, and the FP state of an extended frame)
//! ```
//!
//! The frame pointer is taken before anything is pushed, so it is exactly where the core
//! stacked the frame; for a frame on the main stack the pushes go below it.

use core::fmt::Write;
use core::sync::atomic::{AtomicPtr, AtomicU32, AtomicUsize, Ordering};

use device_runtime::fault::FaultRedirect;

use super::{ExcReturn, Exception, FaultStatus, Outcome, Runtime, StackedFrame};
use crate::console::Console;
use crate::platform::StaticPlatform;
use crate::semihosting;

core::arch::global_asm!(
    ".syntax unified",
    ".section .HardFault.cortex_m_common, \"ax\"",
    ".thumb",
    ".p2align 2",
    ".globl HardFault",
    ".type HardFault, %function",
    ".thumb_func",
    "HardFault:",
    "    movs r2, #3",
    "    b cortex_m_common_fault_entry",
    ".size HardFault, . - HardFault",
    ".globl MemoryManagement",
    ".type MemoryManagement, %function",
    ".thumb_func",
    "MemoryManagement:",
    "    movs r2, #4",
    "    b cortex_m_common_fault_entry",
    ".size MemoryManagement, . - MemoryManagement",
    ".globl BusFault",
    ".type BusFault, %function",
    ".thumb_func",
    "BusFault:",
    "    movs r2, #5",
    "    b cortex_m_common_fault_entry",
    ".size BusFault, . - BusFault",
    ".globl UsageFault",
    ".type UsageFault, %function",
    ".thumb_func",
    "UsageFault:",
    "    movs r2, #6",
    "    b cortex_m_common_fault_entry",
    ".size UsageFault, . - UsageFault",
    // Every other exception and interrupt (NMI, SVCall, DebugMonitor, PendSV, SysTick, IRQs):
    // none is expected, so each is reported with its number from IPSR and ends the program.
    ".globl DefaultHandler",
    ".type DefaultHandler, %function",
    ".thumb_func",
    "DefaultHandler:",
    "    mrs r0, ipsr",
    "    b cortex_m_common_unexpected_exception",
    ".size DefaultHandler, . - DefaultHandler",
    ".thumb_func",
    "cortex_m_common_fault_entry:",
    "    tst lr, #4",
    "    ite eq",
    "    mrseq r0, msp",
    "    mrsne r0, psp",
    "    mov r1, lr",
    "    push {{r4, lr}}",
    "    bl cortex_m_common_fault",
    "    pop {{r4, pc}}",
);

unsafe extern "C" {
    fn HardFault();
    fn MemoryManagement();
    fn BusFault();
    fn UsageFault();
    fn DefaultHandler();
}

/// The platform whose front guards the handler checks (set by [`install`]).
static PLATFORM: AtomicPtr<StaticPlatform> = AtomicPtr::new(core::ptr::null_mut());

static FAULTS_TURNED_INTO_TRAPS: AtomicUsize = AtomicUsize::new(0);
static GUARD_FAULTS_TURNED_INTO_TRAPS: AtomicUsize = AtomicUsize::new(0);
static LAST_TRAP_EXC_RETURN: AtomicU32 = AtomicU32::new(0);

/// How many faults have been turned into wasm traps since boot (both rules).
pub fn faults_turned_into_traps() -> usize {
    FAULTS_TURNED_INTO_TRAPS.load(Ordering::Relaxed)
}

/// How many of them were front-guard accesses (rule 2).
pub fn guard_faults_turned_into_traps() -> usize {
    GUARD_FAULTS_TURNED_INTO_TRAPS.load(Ordering::Relaxed)
}

/// The `EXC_RETURN` of the last fault turned into a trap (0 before the first): tells a test
/// whether the core stacked the basic or the extended (FP) frame.
pub fn last_trap_exc_return() -> ExcReturn {
    ExcReturn(LAST_TRAP_EXC_RETURN.load(Ordering::Relaxed))
}

/// The System Control Block registers of the fault handlers.
mod scb {
    use super::FaultStatus;
    use cortex_m::peripheral::SCB;

    /// `SHCSR` enable bits of MemManage, BusFault and UsageFault.
    const FAULT_ENABLES: u32 = (1 << 16) | (1 << 17) | (1 << 18);

    /// Reads `CFSR`, `HFSR`, `MMFAR`, `BFAR`.
    pub fn read() -> FaultStatus {
        // SAFETY: SCB::PTR is the architecturally defined System Control Block; reading these
        // registers has no side effect.
        unsafe {
            let scb = &*SCB::PTR;
            FaultStatus {
                cfsr: scb.cfsr.read(),
                hfsr: scb.hfsr.read(),
                mmfar: scb.mmfar.read(),
                bfar: scb.bfar.read(),
            }
        }
    }

    /// Clears the status bits of a fault that was handled (write one to clear), so the next
    /// fault's status is its own (`MMFAR`/`BFAR` become invalid with their valid bits).
    pub fn clear(status: &FaultStatus) {
        // SAFETY: writing ones to CFSR/HFSR bits only clears those sticky status bits.
        unsafe {
            let scb = &*SCB::PTR;
            scb.cfsr.write(status.cfsr);
            scb.hfsr.write(status.hfsr);
        }
    }

    /// Enables the MemManage, BusFault and UsageFault exceptions, so that they are taken as
    /// themselves instead of escalating to HardFault.
    pub fn enable_faults() {
        // SAFETY: setting the enable bits of SHCSR only routes these faults to their own
        // handlers, which are installed (this module's symbols are in the vector table).
        unsafe {
            let scb = &*SCB::PTR;
            scb.shcsr.modify(|v| v | FAULT_ENABLES);
        }
        cortex_m::asm::dsb();
        cortex_m::asm::isb();
    }
}

/// Enables the fault handlers and names the platform whose memory slots' front guards they
/// recognise. Called once at boot, before any wasm code runs.
pub fn install(platform: &'static StaticPlatform) {
    PLATFORM.store(
        platform as *const StaticPlatform as *mut StaticPlatform,
        Ordering::Release,
    );
    // The handlers must be the ones in the vector table: referencing them here links this
    // object in, so its symbols win over cortex-m-rt's `PROVIDE`d defaults.
    let handlers: [unsafe extern "C" fn(); 5] = [
        HardFault,
        MemoryManagement,
        BusFault,
        UsageFault,
        DefaultHandler,
    ];
    core::hint::black_box(handlers);
    scb::enable_faults();
}

/// The runtime and platform queries of a fault on this core.
struct Board;

impl Runtime for Board {
    fn udf_redirect(&self, pc: u32) -> Option<FaultRedirect> {
        // SAFETY: `pc` is the stacked return address of an undefined-instruction fault, which
        // for UsageFault is the address of the instruction that raised it.
        unsafe { device_runtime::fault::redirect_for_udf(pc as usize) }
    }

    fn in_live_guard(&self, address: u32) -> bool {
        let platform = PLATFORM.load(Ordering::Acquire);
        // SAFETY: `install` stores a `&'static StaticPlatform`, or nothing.
        unsafe { platform.as_ref() }.is_some_and(|p| p.in_live_guard(address as usize))
    }

    fn guard_redirect(&self, pc: u32) -> Option<FaultRedirect> {
        // SAFETY: asked by `handle` only for a MemManage data-access violation (precise: the
        // stacked PC is the instruction that faulted, on this only core, and the frame is its
        // context) whose MMFAR lies in a protected front guard of a live slot of the platform:
        // the MPU refused the access, so it read and wrote nothing.
        unsafe { device_runtime::fault::redirect_for_guard_fault(pc as usize) }
    }

    fn in_wasm_text(&self, pc: u32) -> bool {
        device_runtime::fault::in_wasm_text(pc as usize)
    }
}

/// Called by the entry above with the stacked frame, `EXC_RETURN` and the exception number.
#[unsafe(no_mangle)]
extern "C" fn cortex_m_common_fault(frame: *mut StackedFrame, exc_return: u32, number: u32) {
    let status = scb::read();
    let exc_return = ExcReturn(exc_return);
    let exception = Exception::from_number(number).unwrap_or(Exception::HardFault);
    if status.frame_not_stacked() {
        // The stack pointer points into a guard (a stack overflow) or nowhere: the frame is
        // not there, and reading it would fault again.
        fatal(exception, &status, exc_return, None);
    }
    // SAFETY: the entry passes the stack pointer that was current when the core stacked the
    // exception frame (selected by EXC_RETURN bit 2), and stacking succeeded (checked above),
    // so it points at that frame's eight words, which nothing else accesses until the
    // exception returns.
    let frame = unsafe { &mut *frame };
    match super::handle(exception, &status, exc_return, frame, &Board) {
        Outcome::Trap { guard, .. } => {
            scb::clear(&status);
            LAST_TRAP_EXC_RETURN.store(exc_return.0, Ordering::Relaxed);
            FAULTS_TURNED_INTO_TRAPS.fetch_add(1, Ordering::Relaxed);
            if guard {
                GUARD_FAULTS_TURNED_INTO_TRAPS.fetch_add(1, Ordering::Relaxed);
            }
        }
        Outcome::Fatal => fatal(exception, &status, exc_return, Some(frame)),
    }
}

/// Called by `DefaultHandler` with the exception number (`IPSR`): any exception or interrupt
/// the boards do not use, or a SysTick while the tick timer ([`crate::timer`]) is not running.
/// Reported, never resumed.
#[unsafe(no_mangle)]
pub(crate) extern "C" fn cortex_m_common_unexpected_exception(ipsr: u32) -> ! {
    let _ = Console.write_str("\n");
    let _ = super::write_unexpected(&mut Console, ipsr);
    semihosting::exit(super::FATAL_EXIT_STATUS)
}

/// Prints the fatal report and exits with [`super::FATAL_EXIT_STATUS`].
fn fatal(
    exception: Exception,
    status: &FaultStatus,
    exc_return: ExcReturn,
    frame: Option<&StackedFrame>,
) -> ! {
    let in_text = frame.is_some_and(|f| Board.in_wasm_text(f.pc));
    let _ = Console.write_str("\n");
    let _ = super::write_report(&mut Console, exception, status, exc_return, frame, in_text);
    semihosting::exit(super::FATAL_EXIT_STATUS)
}
