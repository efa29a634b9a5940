//! The MPU as the platform's [`MemoryProtection`], for either MPU flavour of `cortex-m-mpu`
//! (PMSAv7 on ARMv7-M, PMSAv8 on ARMv8-M).
//!
//! [`Mpu`] keeps what the platform has asked for (the live memory-slot front guards, by the
//! index the platform gives them, and whether the code pool is executable) and, on every
//! change, **replans the whole map** with the board's [`MemoryMap`] and applies it: the
//! registers always hold the plan of the current state, and a state whose plan is refused is
//! never entered (a guard that does not fit is `PlatformError::Exhausted`). The board supplies
//! its map (a function of the live guards), its code pool and its region budget; the flavour
//! ([`Flavour`]) supplies `plan` and `apply`.

use core::cell::RefCell;
use core::marker::PhantomData;

use cortex_m::interrupt::{self as interrupts, Mutex};
use cortex_m_mpu::{MemoryMap, PlanError, Range, v7, v8};
use device_runtime::platform::PlatformError;

use crate::platform::MemoryProtection;
use crate::{fault, println, semihosting};

/// An MPU flavour: how to plan a map and program the registers.
pub trait Flavour {
    /// A planned register set.
    type Plan;
    /// Plans `map` with the `published` code ranges in at most `available` regions.
    fn plan(
        map: &MemoryMap<'_>,
        published: &[Range],
        available: usize,
    ) -> Result<Self::Plan, PlanError>;
    /// Programs the MPU with `plan`.
    ///
    /// # Safety
    /// As `cortex_m_mpu::v7::apply`: the plan keeps the running firmware's code, stacks, data
    /// and peripherals accessible, and the caller relies on nothing it takes away.
    unsafe fn apply(plan: &Self::Plan) -> Result<(), PlanError>;
    /// Regions in a plan.
    fn regions(plan: &Self::Plan) -> usize;
}

/// PMSAv7 (ARMv7-M: Cortex-M4F, M7).
#[derive(Debug)]
pub enum Pmsav7 {}

impl Flavour for Pmsav7 {
    type Plan = v7::Plan;
    fn plan(
        map: &MemoryMap<'_>,
        published: &[Range],
        available: usize,
    ) -> Result<v7::Plan, PlanError> {
        v7::plan(map, published, available)
    }
    unsafe fn apply(plan: &v7::Plan) -> Result<(), PlanError> {
        // SAFETY: forwarded.
        unsafe { v7::apply(plan) }
    }
    fn regions(plan: &v7::Plan) -> usize {
        plan.regions().len()
    }
}

/// PMSAv8 (ARMv8-M: Cortex-M33, M55).
#[derive(Debug)]
pub enum Pmsav8 {}

impl Flavour for Pmsav8 {
    type Plan = v8::Plan;
    fn plan(
        map: &MemoryMap<'_>,
        published: &[Range],
        available: usize,
    ) -> Result<v8::Plan, PlanError> {
        v8::plan(map, published, available)
    }
    unsafe fn apply(plan: &v8::Plan) -> Result<(), PlanError> {
        // SAFETY: forwarded.
        unsafe { v8::apply(plan) }
    }
    fn regions(plan: &v8::Plan) -> usize {
        plan.regions().len()
    }
}

/// What the MPU enforces now.
#[derive(Clone, Copy)]
struct State<const GUARDS: usize> {
    guards: [Option<Range>; GUARDS],
    code_executable: bool,
}

/// A board's MPU as the platform's [`MemoryProtection`] (see the module documentation), with
/// at most `GUARDS` live front guards.
pub struct Mpu<F: Flavour, const GUARDS: usize> {
    state: Mutex<RefCell<State<GUARDS>>>,
    map: fn(&[Range]) -> MemoryMap<'_>,
    code_pool: Range,
    max_regions: usize,
    flavour: PhantomData<F>,
}

// SAFETY: the state is only reached inside `interrupts::free` through the `Mutex`; the other
// fields are immutable plain data and a function pointer.
unsafe impl<F: Flavour, const GUARDS: usize> Sync for Mpu<F, GUARDS> {}

impl<F: Flavour, const GUARDS: usize> Mpu<F, GUARDS> {
    /// The MPU of a board whose map with the live guards is `map(guards)`, whose code pool
    /// (published as one range) is `code_pool`, using at most `max_regions` regions (the
    /// core's count caps it too). Boot state: code pool executable, no guard.
    pub const fn new(
        map: fn(&[Range]) -> MemoryMap<'_>,
        code_pool: Range,
        max_regions: usize,
    ) -> Self {
        Mpu {
            state: Mutex::new(RefCell::new(State {
                guards: [None; GUARDS],
                code_executable: true,
            })),
            map,
            code_pool,
            max_regions,
            flavour: PhantomData,
        }
    }

    /// The plan of `state`.
    fn plan(&self, state: &State<GUARDS>) -> Result<F::Plan, PlanError> {
        let mut guards = [Range::new(0, 0); GUARDS];
        let mut live = 0;
        for guard in state.guards.iter().flatten() {
            guards[live] = *guard;
            live += 1;
        }
        let code_pool = [self.code_pool];
        let published: &[Range] = if state.code_executable {
            &code_pool
        } else {
            &[]
        };
        let regions = cortex_m_mpu::region_count().min(self.max_regions);
        F::plan(&(self.map)(&guards[..live]), published, regions)
    }

    /// Plans the state `change` makes and applies it, or changes nothing.
    fn update(&self, change: impl FnOnce(&mut State<GUARDS>)) -> Result<(), PlanError> {
        interrupts::free(|cs| {
            let mut state = self.state.borrow(cs).borrow_mut();
            let mut next = *state;
            change(&mut next);
            let plan = self.plan(&next)?;
            // SAFETY: `map` describes the whole firmware (the board's contract for `new`:
            // code read-only and executable, stacks, data, pools and used peripherals
            // accessible), so execution continues once the plan is enabled. The plan takes
            // away only a guard being protected (nothing uses it) or, with the code pool made
            // writable, execution in the pool, which the platform asks for only while a module
            // is being loaded, when no code of the pool runs.
            unsafe { F::apply(&plan)? };
            *state = next;
            Ok(())
        })
    }

    /// Programs the MPU for the boot state; a refused plan is fatal.
    pub fn init(&self) {
        if let Err(e) = self.update(|_| {}) {
            fatal(e);
        }
    }

    /// The MPU regions the current state's plan uses.
    pub fn regions_in_use(&self) -> usize {
        interrupts::free(|cs| {
            self.plan(&self.state.borrow(cs).borrow())
                .map_or(0, |plan| F::regions(&plan))
        })
    }
}

/// A refused plan where the platform cannot report it (a board's host tests plan every state
/// the platform can ask for): report and stop.
fn fatal(error: PlanError) -> ! {
    println!("fatal: MPU plan refused: {error}");
    semihosting::exit(fault::FATAL_EXIT_STATUS)
}

// SAFETY: every method applies the plan of the new state before returning (both `apply`s end
// with DSB/ISB); the planners give the code pool read-write execute-never coverage when `code_executable` is false and read-only executable coverage when
// true, never writable and executable; a protected guard is no-access (PMSAv7: a no-access
// region of the highest priority; PMSAv8: a hole with PRIVDEFENA clear), so any access there
// raises a MemManage data-access violation with MMFAR set until it is unprotected.
unsafe impl<F: Flavour, const GUARDS: usize> MemoryProtection for Mpu<F, GUARDS> {
    fn code_writable(&self) {
        if let Err(e) = self.update(|s| s.code_executable = false) {
            fatal(e);
        }
    }

    fn code_executable(&self) {
        if let Err(e) = self.update(|s| s.code_executable = true) {
            fatal(e);
        }
    }

    fn guard_capacity(&self) -> usize {
        GUARDS
    }

    fn protect_guard(&self, index: usize, start: usize, len: usize) -> Result<(), PlatformError> {
        let refused = PlatformError::Exhausted("MPU regions for front guards");
        if index >= GUARDS {
            return Err(refused);
        }
        let end = start.checked_add(len).ok_or(refused)?;
        let guard = Range::new(
            u32::try_from(start).map_err(|_| refused)?,
            u32::try_from(end).map_err(|_| refused)?,
        );
        self.update(|s| s.guards[index] = Some(guard))
            .map_err(|_| refused)
    }

    fn unprotect_guard(&self, index: usize) {
        if index < GUARDS
            && let Err(e) = self.update(|s| s.guards[index] = None)
        {
            fatal(e);
        }
    }
}
