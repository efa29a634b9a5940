//! Engine configuration.

#![forbid(unsafe_code)]

use shared_types::Target;

use crate::error::Error;
use crate::image::targets;
use crate::platform::{Platform, default_platform};
use crate::vm::epoch::EpochCounter;
use crate::vm::fiber::{DEFAULT_FIBER_POOL, FiberPool};

/// Runtime settings. Plain public fields with documented defaults; construct with
/// `EngineConfig::default()` and override fields.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub struct EngineConfig {
    /// Stack bytes wasm code may use below the host frame that calls into it (enforced by the
    /// stack-limit check compiled into every function). Default 512 KiB; at most 64 MiB
    /// (`shared_types::vmoffsets::MAX_WASM_STACK`): a larger value acts as 64 MiB, because
    /// the bound that keeps compiled code's fuel slice from wrapping counts the frames that
    /// fit in it.
    pub max_wasm_stack: usize,
    /// Bytes of address space reserved for each linear memory, bounding its growth (a memory's
    /// maximum, if smaller, wins; guard-elided images need at least their recorded
    /// reservation). Default 4 GiB on 64-bit targets, 16 MiB otherwise.
    pub memory_reservation: u64,
    /// Inaccessible bytes before and after each memory slot. Default 64 KiB.
    pub memory_guard: u64,
    /// Bytes of the arena each `Store::new` takes from the platform (vmctxs, tables, globals,
    /// records). Default 16 MiB hosted (lazily committed), 64 KiB otherwise.
    pub store_arena_size: usize,
    /// The board. Default: the hosted Linux platform with feature `hosted`, otherwise
    /// [`crate::platform::NoPlatform`] (every request fails with a typed error).
    pub platform: &'static dyn Platform,
    /// The core this firmware runs on, which decides the image targets it accepts
    /// ([`Target::CortexM7`] runs cortex-m7 and cortex-m4f images, for example; the table is
    /// in [`Engine::runs`]). Default `None`: what the runtime detects by itself (its own target
    /// on aarch64 and x86_64; on 32-bit Arm Linux the Cortex-M core the CPU behaves like, from
    /// its HWCAPs). **32-bit Arm bare-metal firmware must set it**: the runtime cannot tell
    /// which Cortex-M it runs on, and refuses every image without it
    /// ([`LoadError::WrongTarget`](crate::LoadError::WrongTarget) with `runtime: None`).
    /// Where the runtime detects a core, a declared one can only narrow what it accepts.
    pub core: Option<Target>,
    /// The engine-wide epoch counter this engine's stores compare their deadlines with
    /// ([`Engine::increment_epoch`]; a timer interrupt may call [`EpochCounter::increment`]
    /// on it directly, for example on [`DEFAULT_EPOCH_COUNTER`](crate::DEFAULT_EPOCH_COUNTER)).
    /// Default `None`: each store counts its own epochs (`Store::increment_epoch`), so that
    /// independent engines (tests running in parallel, say) never see each other's ticks.
    pub epoch_counter: Option<&'static EpochCounter>,
    /// The fiber stacks resumable calls run on (`Func::call_resumable`): how many may be out
    /// at once and their size; the platform provides them (`Platform::fiber_stack_alloc`).
    /// Default: one process-wide pool, 16 stacks of 1 MiB hosted, 4 of 16 KiB otherwise.
    pub fiber_pool: &'static FiberPool,
}

impl Default for EngineConfig {
    fn default() -> Self {
        let wide = core::mem::size_of::<usize>() >= 8;
        EngineConfig {
            max_wasm_stack: 512 * 1024,
            memory_reservation: if wide { 4 << 30 } else { 16 << 20 },
            memory_guard: 64 * 1024,
            store_arena_size: if cfg!(feature = "hosted") {
                16 << 20
            } else {
                64 << 10
            },
            platform: default_platform(),
            core: None,
            epoch_counter: None,
            fiber_pool: &DEFAULT_FIBER_POOL,
        }
    }
}

impl core::fmt::Debug for EngineConfig {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EngineConfig")
            .field("max_wasm_stack", &self.max_wasm_stack)
            .field("memory_reservation", &self.memory_reservation)
            .field("memory_guard", &self.memory_guard)
            .field("store_arena_size", &self.store_arena_size)
            .field("core", &self.core)
            .field("epoch_counter", &self.epoch_counter)
            .field("fiber_pool", &self.fiber_pool)
            .finish_non_exhaustive()
    }
}

/// Shared configuration of modules and stores.
#[derive(Clone, Debug)]
pub struct Engine {
    pub(crate) config: EngineConfig,
}

impl Engine {
    /// An engine with `config`; installs the platform's fault hook.
    pub fn new(config: &EngineConfig) -> Engine {
        config.platform.install_fault_hook();
        Engine { config: *config }
    }

    /// The configuration.
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// The core this engine runs images for: [`EngineConfig::core`] if set, else the one the
    /// runtime detects (`None`: unknown, or this CPU runs no image target).
    pub fn core(&self) -> Option<Target> {
        targets::effective_core(crate::arch::detected_core(), self.config.core)
    }

    /// Whether this engine loads images compiled for `image`. A core runs images of its own
    /// target and, conservatively, those of a profile whose instructions are a subset of its
    /// own within the same architecture family: cortex-m7 also runs cortex-m4f images,
    /// cortex-m55 also runs cortex-m33 images; nothing else (`device-runtime/src/image/targets.rs`
    /// gives the reasons). Both the detected core and [`EngineConfig::core`] must run it.
    pub fn runs(&self, image: Target) -> bool {
        targets::check(image, crate::arch::detected_core(), self.config.core).is_ok()
    }

    /// Advances the engine's epoch by one tick (lock-free, no allocation: callable from a timer
    /// interrupt, as is [`EpochCounter::increment`] on [`EngineConfig::epoch_counter`]).
    /// [`Error::NoEpochCounter`] if the configuration names no counter (each store then
    /// counts its own epochs).
    pub fn increment_epoch(&self) -> Result<(), Error> {
        self.config
            .epoch_counter
            .ok_or(Error::NoEpochCounter)?
            .increment();
        Ok(())
    }

    /// The engine's current epoch (`None` without an engine-wide counter).
    pub fn epoch(&self) -> Option<u64> {
        self.config.epoch_counter.map(EpochCounter::get)
    }

    /// Bytes of guarded reservation every memory slot of this engine can provide to
    /// guard-elided code: `memory_reservation + memory_guard`, capped by the platform's
    /// `memory_guard_capacity` (0 without guard support).
    pub fn guard_capacity(&self) -> u64 {
        self.config
            .memory_reservation
            .saturating_add(self.config.memory_guard)
            .min(self.config.platform.memory_guard_capacity())
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new(&EngineConfig::default())
    }
}
