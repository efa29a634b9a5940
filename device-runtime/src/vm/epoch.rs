//! The engine-wide epoch counter that compiled code compares with each store's deadline.
//!
//! # Layout and readers
//!
//! An [`EpochCounter`] is a 64-bit count, little-endian, whose **low 32-bit word is at its
//! address**: compiled code reads only that word (through `VMStoreContext::epoch_counter`) and
//! compares it with the store's deadline word using wrapping 32-bit arithmetic; the runtime
//! reads the full 64-bit value ([`EpochCounter::get`]) when that comparison fires.
//!
//! # Writers
//!
//! [`EpochCounter::increment`] takes no lock and allocates nothing, so a timer interrupt may
//! call it (`Engine::increment_epoch`).
//!
//! * **With 64-bit atomics** (x86_64, aarch64, 32-bit Arm Linux, whose ARMv7-A has
//!   `ldrexd`/`strexd`): one `AtomicU64`; every read is a whole value.
//! * **Without** (`thumbv7em-none-eabihf` and the other ARMv7-M / ARMv8-M targets): two
//!   `AtomicU32` words, low then high. `increment` adds 1 to the low word with an atomic
//!   read-modify-write (`ldrex`/`strex`, so concurrent increments are never lost) and, only
//!   when that add wrapped the low word from `u32::MAX` to 0, then adds 1 to the high word.
//!   [`EpochCounter::get`] reads high, low, high and retries until both high reads agree. A
//!   reader can see a torn value only if it runs *between* the writer's two adds of a wrap
//!   (once every 2^32 ticks: 49 days at 1 kHz), and then sees a value 2^32 too small (a deadline
//!   looks not yet reached for that moment; nothing breaks, the next check is right). On a
//!   single core where the writer is the timer interrupt, the reader (thread-mode code or a
//!   lower-priority handler) can never run inside the handler, so it never sees a torn value
//!   at all. Compiled code reads only the low word, which is always whole.

#[cfg(not(target_has_atomic = "64"))]
use core::sync::atomic::AtomicU32;
#[cfg(target_has_atomic = "64")]
use core::sync::atomic::AtomicU64;
use core::sync::atomic::Ordering;

#[cfg(target_endian = "big")]
compile_error!("the epoch counter's low word must be at its address (little-endian targets)");

/// A 64-bit epoch count shared by an engine's stores (layout and tearing argument in the module
/// documentation). Put one in a `static` (or leak one) and name it in
/// [`EngineConfig::epoch_counter`](crate::EngineConfig::epoch_counter).
#[derive(Debug)]
#[repr(C, align(8))]
pub struct EpochCounter {
    #[cfg(target_has_atomic = "64")]
    value: AtomicU64,
    #[cfg(not(target_has_atomic = "64"))]
    low: AtomicU32,
    #[cfg(not(target_has_atomic = "64"))]
    high: AtomicU32,
}

impl EpochCounter {
    /// A counter at epoch 0.
    pub const fn new() -> EpochCounter {
        EpochCounter {
            #[cfg(target_has_atomic = "64")]
            value: AtomicU64::new(0),
            #[cfg(not(target_has_atomic = "64"))]
            low: AtomicU32::new(0),
            #[cfg(not(target_has_atomic = "64"))]
            high: AtomicU32::new(0),
        }
    }

    /// Advances the epoch by one tick (lock-free; callable from an interrupt handler).
    pub fn increment(&self) {
        #[cfg(target_has_atomic = "64")]
        {
            self.value.fetch_add(1, Ordering::AcqRel);
        }
        #[cfg(not(target_has_atomic = "64"))]
        {
            if self.low.fetch_add(1, Ordering::AcqRel) == u32::MAX {
                self.high.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// The current epoch.
    pub fn get(&self) -> u64 {
        #[cfg(target_has_atomic = "64")]
        {
            self.value.load(Ordering::Acquire)
        }
        #[cfg(not(target_has_atomic = "64"))]
        {
            loop {
                let high = self.high.load(Ordering::Acquire);
                let low = self.low.load(Ordering::Acquire);
                if self.high.load(Ordering::Acquire) == high {
                    return (u64::from(high) << 32) | u64::from(low);
                }
            }
        }
    }

    /// The address of the low 32-bit word, which compiled code reads.
    pub(crate) fn low_word(&self) -> *const u32 {
        (self as *const EpochCounter).cast::<u32>()
    }
}

impl Default for EpochCounter {
    fn default() -> Self {
        EpochCounter::new()
    }
}

/// A process-wide counter for firmware with one engine-wide epoch (name it in
/// `EngineConfig::epoch_counter` and increment it from the timer interrupt).
pub static DEFAULT_EPOCH_COUNTER: EpochCounter = EpochCounter::new();

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_exposes_the_low_word_at_its_address() {
        let c = EpochCounter::new();
        assert_eq!(c.get(), 0);
        for _ in 0..5 {
            c.increment();
        }
        assert_eq!(c.get(), 5);
        // SAFETY: the low word lies at the counter's address (layout in the module docs), and
        // the counter is alive and aligned.
        let low = unsafe { c.low_word().read_volatile() };
        assert_eq!(low, 5);
    }
}
