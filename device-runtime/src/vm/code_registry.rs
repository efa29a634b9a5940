//! Process-wide table of loaded text ranges and their trap tables, read by the fault hook.
//!
//! A fault handler cannot take locks, so the table is a fixed array of slots published with
//! atomics: a slot is claimed (`FREE -> BUSY`), filled, then published (`READY`, release); the
//! handler reads only `READY` slots (acquire). Unregistering reverses this. A module registers
//! when its code is published and unregisters before its code memory is freed.

use core::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use shared_types::TrapCode;
use shared_types::metadata::TrapEntry;
use shared_types::seq::FixedTable;

/// Modules that can be loaded at once (each registers its text here): 16 on bare metal, where
/// the table is a static the fault hook scans, 4096 hosted. One more is
/// [`LoadError::TooManyModules`](crate::LoadError::TooManyModules).
#[cfg(feature = "hosted")]
pub const MAX_LOADED_MODULES: usize = 4096;
/// Modules that can be loaded at once (each registers its text here): 16 on bare metal, where
/// the table is a static the fault hook scans, 4096 hosted. One more is
/// [`LoadError::TooManyModules`](crate::LoadError::TooManyModules).
#[cfg(not(feature = "hosted"))]
pub const MAX_LOADED_MODULES: usize = 16;
const SLOTS: usize = MAX_LOADED_MODULES;

const FREE: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

struct Slot {
    state: AtomicU8,
    start: AtomicUsize,
    end: AtomicUsize,
    traps: AtomicUsize,
    traps_len: AtomicUsize,
}

impl Slot {
    const fn new() -> Slot {
        Slot {
            state: AtomicU8::new(FREE),
            start: AtomicUsize::new(0),
            end: AtomicUsize::new(0),
            traps: AtomicUsize::new(0),
            traps_len: AtomicUsize::new(0),
        }
    }
}

static REGISTRY: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];

/// A registration; give it back to [`unregister`] before the text or trap table goes away.
#[derive(Debug)]
pub struct Registration(usize);

/// Registers text `[start, start + len)` with the encoded trap table `traps`.
///
/// # Safety
/// `traps` stays valid and unchanged until [`unregister`] is called with the result.
pub unsafe fn register(start: usize, len: usize, traps: &[u8]) -> Option<Registration> {
    for (i, slot) in REGISTRY.iter().enumerate() {
        if slot
            .state
            .compare_exchange(FREE, BUSY, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            slot.start.store(start, Ordering::Relaxed);
            slot.end.store(start.saturating_add(len), Ordering::Relaxed);
            slot.traps.store(traps.as_ptr() as usize, Ordering::Relaxed);
            slot.traps_len.store(traps.len(), Ordering::Relaxed);
            slot.state.store(READY, Ordering::Release);
            return Some(Registration(i));
        }
    }
    None
}

/// Removes a registration.
pub fn unregister(registration: Registration) {
    if let Some(slot) = REGISTRY.get(registration.0) {
        slot.state.store(BUSY, Ordering::Release);
        slot.start.store(0, Ordering::Relaxed);
        slot.end.store(0, Ordering::Relaxed);
        slot.state.store(FREE, Ordering::Release);
    }
}

/// Whether `pc` lies in the registered text of a loaded module (bit 0 of a Thumb code pointer
/// ignored). Async-signal-safe.
pub fn contains(pc: usize) -> bool {
    let pc = crate::arch::instruction_address(pc);
    REGISTRY.iter().any(|slot| {
        slot.state.load(Ordering::Acquire) == READY
            && pc >= slot.start.load(Ordering::Relaxed)
            && pc < slot.end.load(Ordering::Relaxed)
    })
}

/// The trap code for a faulting `pc`, if `pc` is in registered text and listed in its trap
/// table (compared without bit 0 of a Thumb code pointer: trap-table offsets are instruction
/// addresses). Async-signal-safe: no locks, no allocation.
pub fn trap_at(pc: usize) -> Option<TrapCode> {
    let pc = crate::arch::instruction_address(pc);
    for slot in REGISTRY.iter() {
        if slot.state.load(Ordering::Acquire) != READY {
            continue;
        }
        let start = slot.start.load(Ordering::Relaxed);
        let end = slot.end.load(Ordering::Relaxed);
        if pc < start || pc >= end {
            continue;
        }
        let ptr = slot.traps.load(Ordering::Relaxed) as *const u8;
        let len = slot.traps_len.load(Ordering::Relaxed);
        let bytes: &[u8] = if len == 0 || ptr.is_null() {
            &[]
        } else {
            // SAFETY: `register`'s caller keeps the table valid while the slot is READY.
            unsafe { core::slice::from_raw_parts(ptr, len) }
        };
        let table = FixedTable::<TrapEntry>::from_bytes(bytes);
        let offset = u32::try_from(pc - start).ok()?;
        return table
            .binary_search_by_key(&offset, |t| t.offset)
            .and_then(|t| TrapCode::from_u8(t.code));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::seq::FixedRecord;

    #[test]
    fn lookup_finds_registered_traps_only() {
        let mut bytes = [0u8; 16];
        TrapEntry {
            offset: 4,
            code: TrapCode::Unreachable.as_u8(),
        }
        .encode(&mut bytes[0..8]);
        TrapEntry {
            offset: 10,
            code: TrapCode::IntegerDivisionByZero.as_u8(),
        }
        .encode(&mut bytes[8..16]);
        // Aligned like real text, so that a code pointer's tag bit is the only odd bit.
        #[repr(align(64))]
        struct Text([u8; 32]);
        let text = Text([0; 32]);
        let text = &text.0;
        let start = text.as_ptr() as usize;
        // SAFETY: `bytes` outlives the registration.
        let reg = unsafe { register(start, text.len(), &bytes) }.unwrap();
        assert_eq!(trap_at(start + 4), Some(TrapCode::Unreachable));
        assert_eq!(trap_at(start + 10), Some(TrapCode::IntegerDivisionByZero));
        // A code pointer to a site (bit 0 set on Thumb) finds the same entry.
        assert_eq!(
            trap_at(crate::arch::code_pointer(start, 10)),
            Some(TrapCode::IntegerDivisionByZero)
        );
        assert_eq!(trap_at(start + 6), None);
        assert_eq!(trap_at(start + 32), None);
        assert!(contains(start) && contains(start + 5) && contains(start + 31));
        assert!(!contains(start + 32) && !contains(start.wrapping_sub(1)));
        // The guard-fault rule needs wasm text *and* an active wasm call on this thread:
        // neither holds outside a call, so nothing is redirected.
        // SAFETY: only the lookups run; no context is resumed.
        assert_eq!(
            unsafe { crate::fault::redirect_for_guard_fault(start + 5) },
            None
        );
        assert!(crate::fault::in_wasm_text(start + 5));
        unregister(reg);
        assert_eq!(trap_at(start + 4), None);
        assert!(!contains(start + 4));
        // SAFETY: as above.
        assert_eq!(
            unsafe { crate::fault::redirect_for_guard_fault(start + 5) },
            None
        );
    }
}
