//! The bare-metal part: boot, the MPU as the platform's memory protection, the platform and
//! the engine configuration.

use cortex_m_common::boot::{self, BootConfig};
use cortex_m_common::mpu::{Mpu, Pmsav7};
use cortex_m_common::platform::{Pool, StaticPlatform};
use device_runtime::{EngineConfig, FiberPool, Target};

use crate::memory_map::{
    ARENA_BLOCK, ARENA_POOL, CODE_BLOCK, CODE_POOL, CODE_POOL_RANGE, FIBER_POOL, FIBER_STACK_SIZE,
    FIBER_STACKS, GUARD_CAPACITY, MEMORY_BLOCK, MEMORY_POOL, MPU_REGIONS, PROGRAM_STACK, UART0,
    mpu_map,
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

/// The board's MPU (PMSAv7) as the platform's memory protection: every change replans the
/// whole map (`memory_map::mpu_map` with the live guards, the code pool published or not) and
/// applies it.
pub static MPU: Mpu<Pmsav7, GUARD_CAPACITY> = Mpu::new(mpu_map, CODE_POOL_RANGE, MPU_REGIONS);

/// Bytes at the bottom of each fiber stack that wasm code may not use: room for the libcalls,
/// host functions and runtime frames it calls (debug firmware has large frames).
pub const FIBER_HOST_RESERVE: usize = 4 << 10;

/// The runtime's view of the board's fiber stacks ([`memory_map::FIBER_POOL`]): as many as
/// the pool holds, of its stack size, with [`FIBER_HOST_RESERVE`].
///
/// [`memory_map::FIBER_POOL`]: crate::memory_map::FIBER_POOL
pub static FIBERS: FiberPool =
    FiberPool::new(FIBER_STACKS, FIBER_STACK_SIZE).with_host_reserve(FIBER_HOST_RESERVE);

/// The board's platform: code memory in 1 KiB blocks, memory slots and arenas in 4 KiB
/// blocks, protected by [`MPU`]; fiber stacks of [`FIBER_STACK_SIZE`] (not MPU-guarded).
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
)
.with_fiber_stacks(Pool {
    start: FIBER_POOL.start,
    len: FIBER_POOL.len,
    block: FIBER_STACK_SIZE,
});

/// The engine configuration for this board: the Cortex-M4F core, [`BOARD`], its fiber stacks
/// ([`FIBERS`]), and the limits above.
pub fn engine_config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config.core = Some(CORE);
    config.platform = &BOARD;
    config.fiber_pool = &FIBERS;
    config.memory_reservation = MEMORY_RESERVATION;
    config.memory_guard = MEMORY_GUARD;
    config.max_wasm_stack = MAX_WASM_STACK;
    config.store_arena_size = STORE_ARENA_SIZE;
    config
}

/// Fiber stacks handed out.
pub fn fiber_stacks_in_use() -> usize {
    BOARD.fiber_stacks_in_use()
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
