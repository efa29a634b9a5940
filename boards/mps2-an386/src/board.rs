//! The bare-metal part: boot, the MPU as the platform's memory protection, the platform and
//! the engine configuration.

use core::cell::RefCell;

use cortex_m::interrupt::{self as interrupts, Mutex};
use cortex_m_common::boot::{self, BootConfig};
use cortex_m_common::platform::{MemoryProtection, Pool, StaticPlatform};
use cortex_m_mpu::{PlanError, Range, v7};
use device_runtime::platform::PlatformError;
use device_runtime::{EngineConfig, Target};

use crate::memory_map::{
    ARENA_BLOCK, ARENA_POOL, CODE_BLOCK, CODE_POOL, CODE_POOL_RANGE, GUARD_CAPACITY, MEMORY_BLOCK,
    MEMORY_POOL, MPU_REGIONS, PROGRAM_STACK, UART0, mpu_map,
};

pub use cortex_m_common::fault::vectors::{
    faults_turned_into_traps, guard_faults_turned_into_traps, last_trap_exc_return,
};
pub use cortex_m_common::{console, fault, print, println, semihosting};

/// The core this board declares to the runtime.
pub const CORE: Target = Target::CortexM4F;
/// Linear-memory reservation of a memory without a smaller maximum (bounds its growth).
pub const MEMORY_RESERVATION: u64 = 1 << 20;
/// Front guard of each memory slot (one block of the memory pool, one MPU region).
pub const MEMORY_GUARD: u64 = MEMORY_BLOCK as u64;
/// Stack that wasm code may use below the host frame that calls it (of the 1 MiB program
/// stack; firmware frames holding copies of a 64 KiB memory need the rest in debug builds).
pub const MAX_WASM_STACK: usize = 256 << 10;
/// Arena of each `Store::new`.
pub const STORE_ARENA_SIZE: usize = 64 << 10;

/// What the MPU enforces: the live memory-slot front guards (by the platform's index) and
/// whether the code pool is executable (else writable).
#[derive(Clone, Copy)]
struct Protection {
    guards: [Option<Range>; GUARD_CAPACITY],
    code_executable: bool,
}

impl Protection {
    /// The PMSAv7 plan of this state.
    fn plan(&self) -> Result<v7::Plan, PlanError> {
        let mut guards = [Range::new(0, 0); GUARD_CAPACITY];
        let mut live = 0;
        for guard in self.guards.iter().flatten() {
            guards[live] = *guard;
            live += 1;
        }
        let published: &[Range] = if self.code_executable {
            &[CODE_POOL_RANGE]
        } else {
            &[]
        };
        let regions = cortex_m_mpu::region_count().min(MPU_REGIONS);
        v7::plan(&mpu_map(&guards[..live]), published, regions)
    }
}

/// The board's MPU as the platform's [`MemoryProtection`]. Every change replans the whole map
/// (`cortex_m_mpu::v7::plan`) and applies it, so the registers always hold the plan of the
/// current state; a state whose plan is refused is never entered.
pub struct Mpu {
    state: Mutex<RefCell<Protection>>,
}

/// The board's MPU.
pub static MPU: Mpu = Mpu {
    state: Mutex::new(RefCell::new(Protection {
        guards: [None; GUARD_CAPACITY],
        code_executable: true,
    })),
};

impl Mpu {
    /// Plans the state `change` makes and applies it, or changes nothing.
    fn update(&self, change: impl FnOnce(&mut Protection)) -> Result<(), PlanError> {
        interrupts::free(|cs| {
            let mut state = self.state.borrow(cs).borrow_mut();
            let mut next = *state;
            change(&mut next);
            let plan = next.plan()?;
            // SAFETY: the plan keeps everything the firmware uses accessible (memory_map.rs:
            // SSRAM1 code read-only and executable; SSRAM2/3 with data, stacks and pools, and
            // PSRAM read-write; UART0 and the System space left to the default map). It takes
            // away only a guard being protected (nothing uses it) or, with the code pool made
            // writable, execution in the pool, which the platform asks for only while a module
            // is being loaded, when no code of the pool runs.
            unsafe { v7::apply(&plan)? };
            *state = next;
            Ok(())
        })
    }

    /// Programs the MPU for the boot state (code pool executable, no slot guard).
    fn init(&self) {
        if let Err(e) = self.update(|_| {}) {
            fatal(e);
        }
    }

    /// The MPU regions in use now.
    pub fn regions_in_use(&self) -> usize {
        interrupts::free(|cs| {
            self.state
                .borrow(cs)
                .borrow()
                .plan()
                .map_or(0, |p| p.regions().len())
        })
    }
}

/// A refused plan where the platform cannot report it (the host tests of `memory_map` plan
/// every state the platform can ask for): report and stop.
fn fatal(error: PlanError) -> ! {
    println!("fatal: MPU plan refused: {error}");
    semihosting::exit(fault::FATAL_EXIT_STATUS)
}

// SAFETY: every method applies the plan of the new state before returning (`v7::apply` ends
// with DSB/ISB); the planner gives the code pool a read-write execute-never region when
// `code_executable` is false and a read-only executable one when true (no region is ever
// writable and executable); a protected guard is covered by a no-access region of the highest
// priority, so any access there raises a MemManage data-access violation with MMFAR set until
// it is unprotected.
unsafe impl MemoryProtection for Mpu {
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
        GUARD_CAPACITY
    }

    fn protect_guard(&self, index: usize, start: usize, len: usize) -> Result<(), PlatformError> {
        let refused = PlatformError::Exhausted("MPU regions for front guards");
        let end = start.checked_add(len).ok_or(refused)?;
        let guard = Range::new(
            u32::try_from(start).map_err(|_| refused)?,
            u32::try_from(end).map_err(|_| refused)?,
        );
        if index >= GUARD_CAPACITY {
            return Err(refused);
        }
        self.update(|s| s.guards[index] = Some(guard))
            .map_err(|_| refused)
    }

    fn unprotect_guard(&self, index: usize) {
        if index < GUARD_CAPACITY
            && let Err(e) = self.update(|s| s.guards[index] = None)
        {
            fatal(e);
        }
    }
}

/// The board's platform: code memory in 1 KiB blocks, memory slots and arenas in 4 KiB
/// blocks, protected by [`MPU`].
pub static BOARD: StaticPlatform = StaticPlatform::new(
    Pool {
        start: CODE_POOL.start,
        len: CODE_POOL.len,
        block: CODE_BLOCK,
    },
    Pool {
        start: MEMORY_POOL.start,
        len: MEMORY_POOL.len,
        block: MEMORY_BLOCK,
    },
    Pool {
        start: ARENA_POOL.start,
        len: ARENA_POOL.len,
        block: ARENA_BLOCK,
    },
    &MPU,
);

/// The engine configuration for this board: the Cortex-M4F core, [`BOARD`], and the limits
/// above.
pub fn engine_config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config.core = Some(CORE);
    config.platform = &BOARD;
    config.memory_reservation = MEMORY_RESERVATION;
    config.memory_guard = MEMORY_GUARD;
    config.max_wasm_stack = MAX_WASM_STACK;
    config.store_arena_size = STORE_ARENA_SIZE;
    config
}

/// Free blocks of the pools `(code, memory, arenas)`.
pub fn free_blocks() -> (usize, usize, usize) {
    BOARD.free_blocks()
}

/// Whether the FPU is enabled (cortex-m-rt enables it before `main`).
pub fn fpu_enabled() -> bool {
    boot::fpu_enabled()
}

unsafe extern "Rust" {
    /// Defined by the firmware with [`crate::entry!`].
    fn __mps2_an386_main() -> u32;
}

/// Runs on the program stack: the firmware's main, then exit with its status.
extern "C" fn program() -> ! {
    // SAFETY: `entry!` defines this symbol with exactly this signature; a firmware that does
    // not use `entry!` fails to link.
    let status = unsafe { __mps2_an386_main() };
    semihosting::exit(status)
}

#[cortex_m_rt::entry]
fn reset() -> ! {
    let config = BootConfig {
        uart_base: UART0,
        platform: &BOARD,
        program_stack_top: PROGRAM_STACK.end(),
    };
    // SAFETY: called once, from the reset entry on the main stack; UART0 is this board's
    // CMSDK APB UART; the program stack region belongs to nothing else (memory_map.rs).
    unsafe { boot::start(&config, || MPU.init(), program) }
}
