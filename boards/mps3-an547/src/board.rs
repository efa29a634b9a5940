//! The bare-metal part: boot, the MPU as the platform's memory protection, the platform and
//! the engine configuration.

use cortex_m_common::boot::{self, BootConfig};
use cortex_m_common::mpu::{Mpu, Pmsav8};
use cortex_m_common::platform::{Pool, StaticPlatform};
use cortex_m_mpu::v8;
use device_runtime::{EngineConfig, FiberPool, Target};

use crate::memory_map::{
    ARENA_BLOCK, ARENA_POOL, CODE_BLOCK, CODE_POOL, FIBER_POOL, FIBER_STACK_SIZE, FIBER_STACKS,
    GUARD_CAPACITY, MEMORY_BLOCK, MEMORY_POOL, MPU_REGIONS, PROGRAM_STACK, UART0, mpu_map,
};

pub use cortex_m_common::fault::vectors::{
    faults_turned_into_traps, guard_faults_turned_into_traps,
};
pub use cortex_m_common::{console, fault, print, println, semihosting};

/// The core this board declares to the runtime.
pub const CORE: Target = Target::CortexM55;
/// Linear-memory reservation of a memory without a smaller maximum (bounds its growth).
pub const MEMORY_RESERVATION: u64 = 1 << 20;
/// Front guard of each memory slot (one block of the memory pool, a hole in the MPU map).
pub const MEMORY_GUARD: u64 = MEMORY_BLOCK as u64;
/// Stack that wasm code may use below the host frame that calls it (of the 255 KiB program
/// stack).
pub const MAX_WASM_STACK: usize = 128 << 10;
/// Arena of each `Store::new`.
pub const STORE_ARENA_SIZE: usize = 64 << 10;

/// The board's MPU (PMSAv8) as the platform's memory protection: every change replans the
/// whole map (`memory_map::mpu_map` with the live guards, the code pool published or not) and
/// applies it (`cortex_m_mpu::v8::apply`); a state whose plan is refused is not entered. The
/// map covers everything the firmware uses (ITCM code read-only and executable; DTCM with the
/// stacks and data, the SRAM pools, the loader region and the DDR memory slots read-write;
/// UART0 device), as `Mpu::new` requires.
pub static MPU: Mpu<Pmsav8, GUARD_CAPACITY> = Mpu::new(mpu_map, CODE_POOL, MPU_REGIONS);

/// What the live MPU gives the running (privileged) code at `address` (the `TT`
/// instruction): for tests and diagnostics.
pub fn mpu_lookup(address: usize) -> v8::TestTarget {
    v8::test_target(address as u32)
}

/// Bytes at the bottom of each fiber stack that wasm code may not use: room for the libcalls,
/// host functions and runtime frames it calls (debug firmware has large frames).
pub const FIBER_HOST_RESERVE: usize = 4 << 10;

/// The runtime's view of the board's fiber stacks ([`memory_map::FIBER_POOL`]): as many as
/// the pool holds, of its stack size, with [`FIBER_HOST_RESERVE`].
///
/// [`memory_map::FIBER_POOL`]: crate::memory_map::FIBER_POOL
pub static FIBERS: FiberPool = FiberPool::new(FIBER_STACKS as usize, FIBER_STACK_SIZE as usize)
    .with_host_reserve(FIBER_HOST_RESERVE);

/// The board's platform: code memory in 1 KiB blocks, memory slots (DDR) in 16 KiB blocks,
/// store arenas in 4 KiB blocks, protected by [`MPU`]; fiber stacks of [`FIBER_STACK_SIZE`]
/// (not MPU-guarded).
pub static BOARD: StaticPlatform = StaticPlatform::new(
    Pool {
        start: CODE_POOL.start as usize,
        len: CODE_POOL.len() as usize,
        block: CODE_BLOCK as usize,
    },
    Pool {
        start: MEMORY_POOL.start as usize,
        len: MEMORY_POOL.len() as usize,
        block: MEMORY_BLOCK as usize,
    },
    Pool {
        start: ARENA_POOL.start as usize,
        len: ARENA_POOL.len() as usize,
        block: ARENA_BLOCK as usize,
    },
    &MPU,
)
.with_fiber_stacks(Pool {
    start: FIBER_POOL.start as usize,
    len: FIBER_POOL.len() as usize,
    block: FIBER_STACK_SIZE as usize,
});

/// The engine configuration for this board: the Cortex-M55 core, [`BOARD`], its fiber stacks
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

/// Linear-memory reservation of [`engine_config_large_memories`]: seven of them, with their
/// guards, fit in the 64 MiB memory pool (at most [`GUARD_CAPACITY`] memories are live).
pub const LARGE_MEMORY_RESERVATION: u64 = 7 << 20;

/// [`engine_config`] with a 7 MiB reservation for memories without a smaller maximum, for the
/// spec testsuite, whose memories grow beyond 1 MiB: the slot holds its whole reservation
/// from the start, so the reservation trades how far one memory grows against how many fit.
pub fn engine_config_large_memories() -> EngineConfig {
    let mut config = engine_config();
    config.memory_reservation = LARGE_MEMORY_RESERVATION;
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
    fn __mps3_an547_main() -> u32;
}

/// Runs on the program stack: the firmware's main, then exit with its status.
extern "C" fn program() -> ! {
    // SAFETY: `entry!` defines this symbol with exactly this signature; a firmware that does
    // not use `entry!` fails to link.
    let status = unsafe { __mps3_an547_main() };
    semihosting::exit(status)
}

#[cortex_m_rt::entry]
fn reset() -> ! {
    let config = BootConfig {
        uart_base: UART0.start as usize,
        platform: &BOARD,
        program_stack_top: PROGRAM_STACK.end as usize,
    };
    // SAFETY: called once, from the reset entry on the main stack; UART0 is this board's
    // CMSDK APB UART; the program stack region belongs to nothing else (memory_map.rs).
    unsafe { boot::start(&config, || MPU.init(), program) }
}
