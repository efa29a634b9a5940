//! Ahead-of-time WebAssembly compiler producing relocation-free images for embedded devices.
//!
//! The pipeline, one module per step:
//!
//! 1. [`module`]: parse and validate the binary (wasmparser) into a target-neutral description;
//!    function bodies are handed on unread.
//! 2. a [`Backend`] compiles every body (validating it as it translates) plus the trampolines
//!    the image needs, and lays the text out with [`link`] so that no relocation is left;
//!    [`cranelift`] is the backend for AArch64 and the x86_64 host simulation, [`thumb`] the
//!    single-pass backend for Cortex-M (WebAssembly 2.0 without SIMD, which it refuses with
//!    [`CompileError::Unsupported`]).
//! 3. [`image`]: metadata + header + text, sealed with a SHA-256 digest.
//!
//! ```no_run
//! use host_compiler::{Compiler, CompilerConfig, Target, wat_or_wasm};
//! let wasm = wat_or_wasm(b"(module (func (export \"f\") (result i32) i32.const 42))")?;
//! let compiler = Compiler::new(CompilerConfig::for_target(Target::Aarch64))?;
//! let image = compiler.compile(&wasm)?;
//! std::fs::write("f.img", &image.bytes)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Errors about the input name the function index (inside a body) and the byte offset
//! ([`CompileError`]).

#![deny(missing_docs)]

pub mod build;
#[cfg(feature = "cranelift")]
pub mod cranelift;
pub mod error;
pub mod image;
pub mod link;
pub mod module;
pub mod thumb;

use std::borrow::Cow;

pub use error::{CompileError, Location};
pub use shared_types::Target;
pub use shared_types::metadata::BoundsChecks;
use shared_types::metadata::{FunctionEntry, TrapEntry, Tunables};

pub use crate::module::Proposals;
use crate::module::{FunctionInput, ModuleInfo};

/// How hard the code generator optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum OptLevel {
    /// No optimisation: fastest compile.
    None,
    /// Optimise for speed (the default).
    Speed,
    /// Optimise for speed and code size.
    SpeedAndSize,
}

/// Compiler settings. Build one with [`CompilerConfig::for_target`], adjust with the setters;
/// [`Compiler::new`] checks the combination.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CompilerConfig {
    target: Target,
    opt_level: OptLevel,
    pad_between_functions: u32,
    bounds_checks: BoundsChecks,
    guard_size: u64,
    threads: usize,
    fuel: bool,
    epochs: bool,
    proposals: Proposals,
}

/// Bytes of virtual address space from a 32-bit memory's base that guard-elided code may touch
/// without a check: the whole 32-bit index space (4 GiB).
pub const GUARD_ELIDED_RESERVATION: u64 = 1 << 32;

/// Default guard behind the 4 GiB reservation for [`BoundsChecks::GuardElided`]: 64 KiB, the
/// same as the device runtime's default `EngineConfig::memory_guard`, so an image compiled with
/// the defaults runs on an engine with the defaults.
pub const DEFAULT_GUARD_SIZE: u64 = 64 << 10;

impl CompilerConfig {
    /// The defaults for `target`: [`OptLevel::Speed`], no padding, explicit bounds checks (the
    /// only strategy possible on MMU-less cores), a [`DEFAULT_GUARD_SIZE`] guard should
    /// guard-elided checks be chosen, and up to 2 compile threads.
    pub fn for_target(target: Target) -> CompilerConfig {
        CompilerConfig {
            target,
            opt_level: OptLevel::Speed,
            pad_between_functions: 0,
            bounds_checks: BoundsChecks::Explicit,
            guard_size: DEFAULT_GUARD_SIZE,
            threads: 2,
            fuel: false,
            epochs: false,
            proposals: Proposals::ALL,
        }
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.target
    }

    /// Optimisation level. Default: [`OptLevel::Speed`].
    pub fn opt_level(mut self, level: OptLevel) -> Self {
        self.opt_level = level;
        self
    }

    /// Zero bytes inserted between consecutive function bodies (rounded up to a multiple of 4),
    /// so tests can place functions out of direct-call range and force veneers. Default: 0.
    pub fn pad_between_functions(mut self, bytes: u32) -> Self {
        self.pad_between_functions = bytes;
        self
    }

    /// How memory accesses are checked. Default: [`BoundsChecks::Explicit`].
    ///
    /// [`BoundsChecks::GuardElided`] (64-bit targets only: `aarch64` and the `x86_64` host
    /// simulation) relies on the device reserving, for every 32-bit memory with 64 KiB pages,
    /// [`GUARD_ELIDED_RESERVATION`] (4 GiB) plus [`guard_size`](Self::guard_size) bytes of
    /// virtual address space from the memory's base, everything beyond the current length
    /// inaccessible. An access of `size` bytes at `index + offset` (index < 2^32) then needs no
    /// check when `offset + size <= guard_size`: its end is at most 4 GiB + guard. Accesses with
    /// a larger static offset, memory64 memories and memories with custom page sizes keep the
    /// explicit check. Unchecked accesses are listed in the trap table
    /// (`MemoryOutOfBounds`), so the device's fault hook turns a guard fault into that trap.
    /// The image records the reservation (`Tunables::guard_reservation` = 4 GiB + guard);
    /// a device that cannot provide it refuses the image.
    pub fn bounds_checks(mut self, strategy: BoundsChecks) -> Self {
        self.bounds_checks = strategy;
        self
    }

    /// Guard bytes behind the 4 GiB reservation that guard-elided code relies on (see
    /// [`bounds_checks`](Self::bounds_checks)). Default: [`DEFAULT_GUARD_SIZE`] (64 KiB).
    /// Larger guards (Wasmtime uses 32 MiB or 2 GiB) leave more large-offset accesses
    /// unchecked but need the device's `EngineConfig::memory_guard` to match. A multiple of
    /// 64 KiB, at most 4 GiB. Ignored with explicit checks.
    pub fn guard_size(mut self, bytes: u64) -> Self {
        self.guard_size = bytes;
        self
    }

    /// Threads compiling functions in parallel (at least 1). Default: 2, capped by the
    /// machine's available parallelism.
    pub fn threads(mut self, threads: usize) -> Self {
        self.threads = threads;
        self
    }

    /// Fuel metering: every basic block pays its cost from the store's fuel before it runs
    /// (cost model and placement in [`module::fuel`]). Default: off.
    pub fn fuel(mut self, on: bool) -> Self {
        self.fuel = on;
        self
    }

    /// Epoch checks at function entry and loop headers ([`module::fuel`]). Default: off.
    pub fn epochs(mut self, on: bool) -> Self {
        self.epochs = on;
        self
    }

    /// The proposals beyond WebAssembly 2.0 the compiler accepts. Default: [`Proposals::ALL`]
    /// (multi-memory, memory64, custom page sizes, extended constant expressions);
    /// [`Proposals::NONE`] validates WebAssembly 2.0 exactly.
    pub fn proposals(mut self, proposals: Proposals) -> Self {
        self.proposals = proposals;
        self
    }

    /// Whether fuel metering is compiled in.
    pub fn has_fuel(&self) -> bool {
        self.fuel
    }

    /// Whether epoch checks are compiled in.
    pub fn has_epochs(&self) -> bool {
        self.epochs
    }

    /// The tunables recorded in images compiled with this configuration.
    pub fn tunables(&self) -> Tunables {
        Tunables {
            bounds_checks: self.bounds_checks,
            guard_reservation: match self.bounds_checks {
                BoundsChecks::Explicit => 0,
                BoundsChecks::GuardElided => GUARD_ELIDED_RESERVATION + self.guard_size,
            },
            fuel: self.fuel,
            epochs: self.epochs,
        }
    }

    /// Checks the combination of settings (called by [`Compiler::new`]).
    pub fn validate(&self) -> Result<(), CompileError> {
        if self.bounds_checks == BoundsChecks::GuardElided {
            if !matches!(self.target, Target::Aarch64 | Target::X86_64Sim) {
                return Err(CompileError::Config(format!(
                    "guard-elided bounds checks need a 64-bit target with an MMU \
                     (aarch64, x86_64-sim), not {}",
                    self.target
                )));
            }
            if !self.guard_size.is_multiple_of(64 << 10)
                || self.guard_size > GUARD_ELIDED_RESERVATION
            {
                return Err(CompileError::Config(format!(
                    "guard size {} is not a multiple of 64 KiB up to 4 GiB",
                    self.guard_size
                )));
            }
        }
        // The Cranelift backend (aarch64, x86_64-sim) and the Thumb-2 backend (the Cortex-M
        // profiles, `thumb/DESIGN.md` section 13) instrument fuel and epochs.
        let instrumented = matches!(
            self.target,
            Target::Aarch64
                | Target::X86_64Sim
                | Target::CortexM4F
                | Target::CortexM7
                | Target::CortexM33
                | Target::CortexM55
        );
        if (self.fuel || self.epochs) && !instrumented {
            return Err(CompileError::Config(format!(
                "fuel metering and epoch checks are not implemented yet for {}",
                self.target
            )));
        }
        if self.threads == 0 {
            return Err(CompileError::Config("threads must be at least 1".into()));
        }
        Ok(())
    }
}

/// What a backend hands back for one module: the laid-out text and where everything is in it.
#[derive(Clone, Debug)]
pub struct CompiledText {
    /// The text, relocation-free.
    pub text: Vec<u8>,
    /// One entry per defined function, in module order.
    pub functions: Vec<FunctionEntry>,
    /// `(type index, text offset)` of the wasm-to-array trampoline of each imported function type.
    pub wasm_to_array: Vec<(u32, u32)>,
    /// The trap table, sorted by offset, one entry per offset.
    pub traps: Vec<TrapEntry>,
    /// Call relocations resolved during layout.
    pub relocations_resolved: usize,
    /// Zero padding inserted on request.
    pub padding_bytes: u64,
    /// Bytes of alignment, islands and veneers.
    pub overhead_bytes: u64,
}

/// A code generator: one implementation per family of targets ("one compiler trait, two
/// implementations": Cranelift for AArch64 and the x86_64 simulation, [`thumb::backend`], a
/// single-pass Thumb-2 compiler, for Cortex-M).
///
/// A backend validates every function body while it compiles it (reporting
/// [`CompileError::Invalid`] with the function index and offset), compiles an array-entry
/// trampoline for every function for which [`ModuleInfo::needs_array_trampoline`] holds and a
/// wasm-to-array trampoline for every type in [`ModuleInfo::imported_func_types`], and lays
/// out the text with no relocation left.
pub trait Backend: Send + Sync {
    /// The target this backend generates code for.
    fn target(&self) -> Target;

    /// Compiles `functions` (every defined function, in module order) of `module`.
    fn compile_module(
        &self,
        module: &ModuleInfo<'_>,
        functions: Vec<FunctionInput<'_>>,
    ) -> Result<CompiledText, CompileError>;
}

/// Numbers about one compilation.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompileStats {
    /// Bytes of the wasm code section.
    pub wasm_code_bytes: usize,
    /// Bytes of text.
    pub text_bytes: usize,
    /// Bytes of encoded metadata.
    pub metadata_bytes: usize,
    /// Defined functions compiled.
    pub functions: usize,
    /// Array-entry trampolines compiled.
    pub array_trampolines: usize,
    /// Wasm-to-array trampolines compiled.
    pub wasm_to_array_trampolines: usize,
    /// Call relocations resolved at layout.
    pub relocations_resolved: usize,
    /// Zero padding requested with [`CompilerConfig::pad_between_functions`].
    pub padding_bytes: u64,
    /// Text bytes that are neither code nor requested padding: alignment, islands, veneers.
    pub veneer_and_alignment_bytes: u64,
    /// Relocations left in the image: always 0 (otherwise compilation fails).
    pub relocations_left: usize,
}

/// A compiled image.
#[derive(Clone, Debug)]
pub struct CompiledImage {
    /// The image, ready for a device.
    pub bytes: Vec<u8>,
    /// Numbers about the compilation.
    pub stats: CompileStats,
}

/// Compiles modules for one target with one configuration.
pub struct Compiler {
    config: CompilerConfig,
    backend: Box<dyn Backend>,
}

impl std::fmt::Debug for Compiler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiler")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Compiler {
    /// Checks `config` and sets up the backend for its target.
    pub fn new(config: CompilerConfig) -> Result<Compiler, CompileError> {
        config.validate()?;
        let backend: Box<dyn Backend> = match config.target {
            #[cfg(feature = "cranelift")]
            Target::Aarch64 | Target::X86_64Sim => {
                Box::new(cranelift::CraneliftBackend::new(&config)?)
            }
            #[cfg(not(feature = "cranelift"))]
            Target::Aarch64 | Target::X86_64Sim => {
                return Err(CompileError::Config(format!(
                    "no backend for target {}: this host-compiler was built without its \
                     `cranelift` feature (only the Thumb-2 backend for Cortex-M is present)",
                    config.target
                )));
            }
            Target::CortexM4F | Target::CortexM7 | Target::CortexM33 | Target::CortexM55 => {
                Box::new(thumb::backend::ThumbBackend::new(&config)?)
            }
            other => {
                return Err(CompileError::Config(format!(
                    "no backend for target {other}"
                )));
            }
        };
        Ok(Compiler { config, backend })
    }

    /// The target.
    pub fn target(&self) -> Target {
        self.config.target
    }

    /// The configuration.
    pub fn config(&self) -> &CompilerConfig {
        &self.config
    }

    /// Compiles a wasm binary (use [`wat_or_wasm`] first for text) into an image.
    pub fn compile(&self, wasm: &[u8]) -> Result<CompiledImage, CompileError> {
        let (module, functions) = module::parse_with(wasm, self.config.proposals)?;
        let compiled = self.backend.compile_module(&module, functions)?;
        let tunables = self.config.tunables();
        let code = image::CodeInfo {
            functions: compiled.functions.clone(),
            wasm_to_array: compiled.wasm_to_array.clone(),
            traps: &compiled.traps,
        };
        let metadata = image::encode_metadata(&module, &code, tunables)?;
        let bytes = image::assemble(self.config.target, &tunables, &metadata, &compiled.text)?;
        let stats = CompileStats {
            wasm_code_bytes: module.code_bytes,
            text_bytes: compiled.text.len(),
            metadata_bytes: metadata.len(),
            functions: compiled.functions.len(),
            array_trampolines: compiled
                .functions
                .iter()
                .filter(|f| f.array_trampoline != shared_types::metadata::NO_TRAMPOLINE)
                .count(),
            wasm_to_array_trampolines: compiled.wasm_to_array.len(),
            relocations_resolved: compiled.relocations_resolved,
            padding_bytes: compiled.padding_bytes,
            veneer_and_alignment_bytes: compiled.overhead_bytes,
            relocations_left: 0,
        };
        Ok(CompiledImage { bytes, stats })
    }
}

/// Accepts WebAssembly text or binary; text is converted to binary.
pub fn wat_or_wasm(input: &[u8]) -> Result<Cow<'_, [u8]>, CompileError> {
    wat::parse_bytes(input).map_err(|e| CompileError::Wat(e.to_string()))
}
