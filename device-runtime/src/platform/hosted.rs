//! The Linux platform (feature `hosted`): x86_64 natively, AArch64 under `qemu-aarch64`, 32-bit
//! Arm (Thumb-2 Cortex-M images) under `qemu-arm`.
//!
//! * Code memory: an anonymous `mmap`, written while read-write, then `mprotect`ed to
//!   read-execute (never writable and executable at once) and the instruction cache
//!   synchronised.
//! * Memory slots: one `PROT_NONE` mapping `[guard][reservation][guard]` per linear memory;
//!   the accessible prefix grows with `mprotect`.
//! * Faults: handlers for SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGTRAP. When the faulting PC lies
//!   in the text of a loaded module and is listed in its trap table, the handler rewrites the
//!   interrupted context so that it continues in the architecture's unwind routine with the
//!   current thread's innermost entry and the trap code (on 32-bit Arm a `SIGILL` must also
//!   come from a Thumb `udf #(0x80 + code)` encoding the listed code, `arch::signal::
//!   confirms_trap`). Any other fault goes to the handler
//!   that was installed before ours (Rust's stack-overflow reporter, for example) or, if there
//!   was none, the default action is restored and the fault happens again.

use core::ptr::NonNull;
use std::cell::UnsafeCell;
use std::mem::MaybeUninit;
use std::sync::Once;

use super::{ArenaRegion, CodeRegion, FiberStack, MemorySlot, Platform, PlatformError};

/// The hosted Linux platform.
#[derive(Debug)]
pub struct HostedPlatform;

fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let p = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    if p <= 0 { 4096 } else { p as usize }
}

fn round_up(x: u64, to: usize) -> Option<u64> {
    x.checked_next_multiple_of(to as u64)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn map(len: usize, prot: libc::c_int) -> Result<NonNull<u8>, PlatformError> {
    // SAFETY: an anonymous private mapping at an address of the kernel's choosing touches no
    // existing memory.
    let p = unsafe {
        libc::mmap(
            core::ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(PlatformError::Os(errno()));
    }
    NonNull::new(p.cast::<u8>()).ok_or(PlatformError::Exhausted("address space"))
}

fn protect(start: *mut u8, len: usize, prot: libc::c_int) -> Result<(), PlatformError> {
    if len == 0 {
        return Ok(());
    }
    // SAFETY: callers pass page-aligned ranges inside mappings they own.
    let r = unsafe { libc::mprotect(start.cast(), len, prot) };
    if r == 0 {
        Ok(())
    } else {
        Err(PlatformError::Os(errno()))
    }
}

// SAFETY: every region comes from a fresh anonymous mapping (zeroed, non-overlapping, never
// moved until `munmap`); publish switches to read-execute and synchronises the instruction
// cache; grow makes the requested prefix read-write (new pages of an anonymous mapping are zero).
unsafe impl Platform for HostedPlatform {
    fn code_alloc(&self, len: usize) -> Result<CodeRegion, PlatformError> {
        let len = round_up(len.max(1) as u64, page_size())
            .ok_or(PlatformError::Exhausted("code memory"))? as usize;
        let base = map(len, libc::PROT_READ | libc::PROT_WRITE)?;
        Ok(CodeRegion { base, len })
    }

    unsafe fn code_publish(&self, region: &CodeRegion) -> Result<(), PlatformError> {
        protect(
            region.base.as_ptr(),
            region.len,
            libc::PROT_READ | libc::PROT_EXEC,
        )?;
        // SAFETY: the region is mapped and readable.
        unsafe { crate::arch::sync_icache(region.base.as_ptr(), region.len) };
        Ok(())
    }

    unsafe fn code_free(&self, region: CodeRegion) {
        // SAFETY: the region is a mapping we created; the caller guarantees no code in it runs.
        unsafe { libc::munmap(region.base.as_ptr().cast(), region.len) };
    }

    fn memory_alloc(
        &self,
        reservation: u64,
        guard: u64,
        initial: u64,
    ) -> Result<MemorySlot, PlatformError> {
        let page = page_size();
        let too_big = PlatformError::Exhausted("address space");
        let reservation = round_up(reservation, page).ok_or(too_big)?;
        let guard = round_up(guard, page).ok_or(too_big)?;
        let total = guard
            .checked_mul(2)
            .and_then(|g| g.checked_add(reservation))
            .ok_or(too_big)?;
        let total = usize::try_from(total).map_err(|_| too_big)?;
        if initial > reservation {
            return Err(too_big);
        }
        let mapping = map(total, libc::PROT_NONE)?;
        let base_ptr = mapping.as_ptr().wrapping_add(guard as usize);
        let accessible = round_up(initial, page).ok_or(too_big)? as usize;
        if let Err(e) = protect(base_ptr, accessible, libc::PROT_READ | libc::PROT_WRITE) {
            // SAFETY: our own fresh mapping.
            unsafe { libc::munmap(mapping.as_ptr().cast(), total) };
            return Err(e);
        }
        let base = NonNull::new(base_ptr).ok_or(too_big)?;
        Ok(MemorySlot {
            base,
            reservation,
            mapping,
            mapping_len: total,
        })
    }

    unsafe fn memory_grow(
        &self,
        slot: &MemorySlot,
        old_len: u64,
        new_len: u64,
    ) -> Result<(), PlatformError> {
        let page = page_size();
        if new_len > slot.reservation {
            return Err(PlatformError::Exhausted("memory reservation"));
        }
        let from = round_up(old_len, page).ok_or(PlatformError::Exhausted("memory"))?;
        let to = round_up(new_len, page).ok_or(PlatformError::Exhausted("memory"))?;
        if to <= from {
            return Ok(());
        }
        protect(
            slot.base.as_ptr().wrapping_add(from as usize),
            (to - from) as usize,
            libc::PROT_READ | libc::PROT_WRITE,
        )
    }

    unsafe fn memory_free(&self, slot: MemorySlot) {
        // SAFETY: the mapping is ours; the caller guarantees nothing accesses it.
        unsafe { libc::munmap(slot.mapping.as_ptr().cast(), slot.mapping_len) };
    }

    fn arena_alloc(&self, len: usize) -> Result<ArenaRegion, PlatformError> {
        let len = round_up(len.max(1) as u64, page_size())
            .ok_or(PlatformError::Exhausted("arena"))? as usize;
        let base = map(len, libc::PROT_READ | libc::PROT_WRITE)?;
        Ok(ArenaRegion { base, len })
    }

    unsafe fn arena_free(&self, region: ArenaRegion) {
        // SAFETY: the mapping is ours; the caller guarantees nothing uses it.
        unsafe { libc::munmap(region.base.as_ptr().cast(), region.len) };
    }

    /// An anonymous mapping of `len` bytes (rounded up to pages) plus one no-access guard page
    /// below it.
    fn fiber_stack_alloc(&self, len: usize) -> Result<FiberStack, PlatformError> {
        let page = page_size();
        let too_big = PlatformError::Exhausted("address space");
        let len = round_up(len.max(1) as u64, page).ok_or(too_big)? as usize;
        let total = len.checked_add(page).ok_or(too_big)?;
        let mapping = map(total, libc::PROT_NONE)?;
        let base_ptr = mapping.as_ptr().wrapping_add(page);
        if let Err(e) = protect(base_ptr, len, libc::PROT_READ | libc::PROT_WRITE) {
            // SAFETY: our own fresh mapping.
            unsafe { libc::munmap(mapping.as_ptr().cast(), total) };
            return Err(e);
        }
        let base = NonNull::new(base_ptr).ok_or(too_big)?;
        Ok(FiberStack { base, len })
    }

    unsafe fn fiber_stack_free(&self, stack: FiberStack) {
        let page = page_size();
        let mapping = stack.base.as_ptr().wrapping_sub(page);
        // SAFETY: `fiber_stack_alloc` mapped the guard page and the stack as one mapping starting
        // one page below `base`; the caller guarantees nothing runs on it any more.
        unsafe { libc::munmap(mapping.cast(), stack.len + page) };
    }

    fn install_fault_hook(&self) {
        install_signal_handlers();
    }

    /// 64 TiB on 64-bit hosts (slots are `PROT_NONE` reservations, inaccessible from the
    /// current length on, with the signal handler installed); none on 32-bit hosts, whose
    /// address space cannot hold a 4 GiB reservation per memory (guard-elided images are
    /// refused there with `LoadError::GuardReservation`).
    fn memory_guard_capacity(&self) -> u64 {
        if core::mem::size_of::<usize>() >= 8 {
            1 << 46
        } else {
            0
        }
    }
}

const SIGNALS: [libc::c_int; 5] = [
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGILL,
    libc::SIGFPE,
    libc::SIGTRAP,
];

/// The actions that were installed before ours, written once before our handlers go in.
struct PreviousActions(UnsafeCell<[MaybeUninit<libc::sigaction>; 5]>);

// SAFETY: written only inside `INSTALL.call_once` before any of our handlers can run, read-only
// afterwards.
unsafe impl Sync for PreviousActions {}

static PREVIOUS: PreviousActions = PreviousActions(UnsafeCell::new([MaybeUninit::uninit(); 5]));
static INSTALL: Once = Once::new();

fn install_signal_handlers() {
    INSTALL.call_once(|| {
        for (i, &sig) in SIGNALS.iter().enumerate() {
            // SAFETY: `sigaction` is plain data; we fill every field we rely on. The previous
            // action is stored before the new handler is installed, and `PREVIOUS` is not read
            // until a handler runs.
            unsafe {
                let mut action: libc::sigaction = core::mem::zeroed();
                action.sa_sigaction = handler as *const () as usize;
                action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
                libc::sigemptyset(&mut action.sa_mask);
                let prev = (*PREVIOUS.0.get())[i].as_mut_ptr();
                libc::sigaction(sig, &action, prev);
            }
        }
    });
}

extern "C" fn handler(sig: libc::c_int, info: *mut libc::siginfo_t, uc: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid ucontext to an SA_SIGINFO handler.
    let pc = unsafe { crate::arch::signal::pc(uc) };
    if let Some(code) = crate::vm::code_registry::trap_at(pc) {
        let jmpbuf = crate::vm::activation::current();
        // SAFETY: the kernel's ucontext; `pc` is in registered (readable) text.
        if !jmpbuf.is_null() && unsafe { crate::arch::signal::confirms_trap(uc, sig, pc, code) } {
            // SAFETY: the PC is in wasm text listed in a trap table, and wasm code runs only
            // inside an entry on this thread, whose jump buffer is the innermost activation.
            // The frames between the fault and the entry are wasm frames.
            unsafe { crate::arch::signal::redirect_to_unwind(uc, jmpbuf, code.as_u8() as u32) };
            return;
        }
    }
    let Some(i) = SIGNALS.iter().position(|&s| s == sig) else {
        return;
    };
    // SAFETY: written before our handler was installed (see `install_signal_handlers`).
    let prev = unsafe { (*PREVIOUS.0.get())[i].assume_init_ref() };
    let target = prev.sa_sigaction;
    if target == libc::SIG_DFL || target == libc::SIG_IGN {
        // Not a wasm trap: restore the default action; returning re-executes the faulting
        // instruction, which now terminates the process as it would have without us.
        // SAFETY: installing the default action has no preconditions.
        unsafe {
            let mut dfl: libc::sigaction = core::mem::zeroed();
            dfl.sa_sigaction = libc::SIG_DFL;
            libc::sigemptyset(&mut dfl.sa_mask);
            libc::sigaction(sig, &dfl, core::ptr::null_mut());
        }
    } else if prev.sa_flags & libc::SA_SIGINFO != 0 {
        // SAFETY: the previous handler was installed with SA_SIGINFO, so it has this signature.
        let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
            unsafe { core::mem::transmute::<usize, _>(target) };
        f(sig, info, uc);
    } else {
        // SAFETY: the previous handler was installed without SA_SIGINFO: the one-argument form.
        let f: extern "C" fn(libc::c_int) = unsafe { core::mem::transmute::<usize, _>(target) };
        f(sig);
    }
}
