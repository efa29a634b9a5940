//! Tick arithmetic of the timer interrupt ([`crate::timer`]): the compare-value period for a
//! tick rate, and the next deadline after an interrupt. Safe, and tested on the host.
//!
//! The timer is programmed with an absolute compare value (`CNTP_CVAL_EL0`), not a countdown,
//! so that the tick rate does not drift by the interrupt latency: each interrupt moves the
//! deadline exactly one period on. If the interrupt was taken so late that the next deadline
//! has already passed (interrupts masked for a long time, or, under QEMU without `-icount`, a
//! host that did not run the guest for a while), the periods that passed are *dropped*, not
//! delivered as a burst of back-to-back interrupts: the next deadline is the first one still in
//! the future. An epoch counter driven by the ticks then advances at most once per interrupt.

/// Why a tick rate cannot be programmed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum TickError {
    /// A tick rate of 0 Hz.
    ZeroRate,
    /// The counter frequency (`CNTFRQ_EL0`) reads 0: firmware did not set it.
    NoCounterFrequency,
    /// A tick rate above the counter frequency (a period below one counter step).
    RateAboveCounter {
        /// The requested rate.
        tick_hz: u32,
        /// The counter's frequency.
        counter_hz: u64,
    },
}

impl core::fmt::Display for TickError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TickError::ZeroRate => f.write_str("a tick rate of 0 Hz"),
            TickError::NoCounterFrequency => {
                f.write_str("the generic timer's frequency (CNTFRQ_EL0) is 0")
            }
            TickError::RateAboveCounter {
                tick_hz,
                counter_hz,
            } => write!(
                f,
                "a tick rate of {tick_hz} Hz is above the counter frequency ({counter_hz} Hz)"
            ),
        }
    }
}

impl core::error::Error for TickError {}

/// The period in counter steps of a `tick_hz` tick on a counter running at `counter_hz`
/// (rounded down: the tick is at most one counter step fast).
pub fn period(counter_hz: u64, tick_hz: u32) -> Result<u64, TickError> {
    if tick_hz == 0 {
        return Err(TickError::ZeroRate);
    }
    if counter_hz == 0 {
        return Err(TickError::NoCounterFrequency);
    }
    match counter_hz / u64::from(tick_hz) {
        0 => Err(TickError::RateAboveCounter {
            tick_hz,
            counter_hz,
        }),
        period => Ok(period),
    }
}

/// After an interrupt for the deadline `previous` taken at counter value `now`: the next
/// deadline, the first of `previous + k * period` (k >= 1) after `now`, and how many periods
/// were dropped (`k - 1`). `period` is not 0.
pub fn next_deadline(previous: u64, now: u64, period: u64) -> (u64, u64) {
    let period = period.max(1);
    let elapsed = now.saturating_sub(previous);
    let steps = elapsed / period + 1;
    (
        previous.saturating_add(steps.saturating_mul(period)),
        steps - 1,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_of_a_rate() {
        // QEMU 7.2's virt machine: 62.5 MHz.
        assert_eq!(period(62_500_000, 1000), Ok(62_500));
        assert_eq!(period(62_500_000, 3), Ok(20_833_333));
        assert_eq!(period(1000, 1000), Ok(1));
    }

    #[test]
    fn impossible_rates_are_errors() {
        assert_eq!(period(62_500_000, 0), Err(TickError::ZeroRate));
        assert_eq!(period(0, 1000), Err(TickError::NoCounterFrequency));
        assert_eq!(
            period(999, 1000),
            Err(TickError::RateAboveCounter {
                tick_hz: 1000,
                counter_hz: 999
            })
        );
    }

    #[test]
    fn an_interrupt_on_time_moves_the_deadline_one_period() {
        // Taken at the deadline or a little after: no drift, nothing dropped.
        assert_eq!(next_deadline(1000, 1000, 100), (1100, 0));
        assert_eq!(next_deadline(1000, 1099, 100), (1100, 0));
        // Taken "before" the deadline (a counter read racing the compare): still one period.
        assert_eq!(next_deadline(1000, 900, 100), (1100, 0));
    }

    #[test]
    fn a_late_interrupt_drops_the_periods_that_passed() {
        assert_eq!(next_deadline(1000, 1100, 100), (1200, 1));
        assert_eq!(next_deadline(1000, 1150, 100), (1200, 1));
        assert_eq!(next_deadline(1000, 10_000, 100), (10_100, 90));
        // The next deadline is always in the future.
        for now in 1000..1500 {
            let (next, dropped) = next_deadline(1000, now, 100);
            assert!(next > now);
            assert_eq!(next, 1000 + (dropped + 1) * 100);
        }
    }

    #[test]
    fn no_overflow_at_the_end_of_the_counter() {
        let (next, _) = next_deadline(u64::MAX - 10, u64::MAX, 100);
        assert_eq!(next, u64::MAX);
        // A zero period is taken as one counter step.
        assert_eq!(next_deadline(5, 10, 0), (11, 5));
    }
}
