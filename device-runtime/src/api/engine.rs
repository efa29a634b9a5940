//! Engine configuration.

#![forbid(unsafe_code)]

use crate::platform::{Platform, default_platform};

/// Runtime settings. Plain public fields with documented defaults; construct with
/// `EngineConfig::default()` and override fields.
#[non_exhaustive]
#[derive(Clone, Copy)]
pub struct EngineConfig {
    /// Stack bytes wasm code may use below the host frame that calls into it (enforced by the
    /// stack-limit check compiled into every function). Default 512 KiB.
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
