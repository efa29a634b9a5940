//! The Cranelift backend: AArch64, and x86_64 for host simulation.
//!
//! The driver builds the ISA, turns the module description into a [`ModuleEnv`], translates
//! and compiles every defined function (`translate`), compiles the trampolines the image needs
//! (`trampolines`), and lays out the text with [`crate::link`] through Cranelift's
//! `TextSectionBuilder`.
//!
//! Every compiled piece is checked on the way out: the only relocation allowed is a colocated
//! call to another piece of this module (`Arm64Call`/`X86CallPCRel4`), and every trap site
//! must map to a [`shared_types::TrapCode`]. Functions are compiled on up to
//! [`CompilerConfig::threads`](crate::CompilerConfig::threads) threads; results are put back in
//! module order, so the image does not depend on scheduling, and when several functions fail
//! the error of the lowest-numbered one is reported.

pub mod env;
pub mod trampolines;
pub mod translate;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use cranelift_codegen::binemit::Reloc;
use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::isa::OwnedTargetIsa;
use cranelift_codegen::settings::{self, Configurable};
use cranelift_codegen::{Context, FinalizedRelocTarget, TextSectionBuilder};
use shared_types::metadata::BoundsChecks;
use shared_types::{Target, TrapCode};
use wasmparser::FuncValidatorAllocations;

use crate::error::CompileError;
use crate::link::{self, CallReloc, CompiledCode, Symbol, TextBuilder};
use crate::module::{FunctionInput, ModuleInfo};
use crate::{Backend, CompiledText, CompilerConfig, OptLevel};
use env::ModuleEnv;

/// The Cranelift backend for one target and configuration.
pub struct CraneliftBackend {
    isa: OwnedTargetIsa,
    target: Target,
    pad_between_functions: u32,
    bounds_checks: BoundsChecks,
    guard_size: u64,
    fuel: bool,
    epochs: bool,
    threads: usize,
}

/// Builds the Cranelift ISA for `config`'s target.
pub fn build_isa(config: &CompilerConfig) -> Result<OwnedTargetIsa, CompileError> {
    let cfg_err =
        |what: &str, e: &dyn std::fmt::Display| CompileError::Config(format!("{what}: {e}"));
    let mut flags = settings::builder();
    let opt_level = match config.opt_level {
        OptLevel::None => "none",
        OptLevel::Speed => "speed",
        OptLevel::SpeedAndSize => "speed_and_size",
    };
    let debug = if cfg!(debug_assertions) {
        "true"
    } else {
        "false"
    };
    for (name, value) in [
        ("opt_level", opt_level),
        ("enable_verifier", debug),
        ("is_pic", "false"),
        // Stack overflow is checked with `stack_limit` (a vmctx load); outline probestack
        // would emit a libcall relocation (and panics on AArch64).
        ("enable_probestack", "false"),
        // x86_64 `return_call` needs frame pointers; AArch64 keeps frameless leaf functions
        // (nothing walks wasm frames: traps unwind to the entry point's saved context).
        (
            "preserve_frame_pointers",
            if config.target == Target::X86_64Sim {
                "true"
            } else {
                "false"
            },
        ),
        // The image carries no unwind tables.
        ("unwind_info", "false"),
        // Multi-value functions may return more values than fit in registers: Cranelift then
        // returns the rest through a caller-provided area instead of refusing the signature.
        ("enable_multi_ret_implicit_sret", "true"),
    ] {
        flags.set(name, value).map_err(|e| cfg_err(name, &e))?;
    }
    let (triple, isa_flags): (&str, &[&str]) = match config.target {
        Target::Aarch64 => ("aarch64-unknown-none", &[]),
        // SSE4.1 makes ceil/floor/nearest/trunc native instead of libcalls (relocations).
        Target::X86_64Sim => (
            "x86_64-unknown-none",
            &[
                "has_sse3",
                "has_ssse3",
                "has_sse41",
                "has_sse42",
                "has_popcnt",
            ],
        ),
        other => {
            return Err(CompileError::Config(format!(
                "Cranelift has no backend for {other}"
            )));
        }
    };
    let mut builder =
        cranelift_codegen::isa::lookup_by_name(triple).map_err(|e| cfg_err(triple, &e))?;
    for flag in isa_flags {
        builder.enable(flag).map_err(|e| cfg_err(flag, &e))?;
    }
    builder
        .finish(settings::Flags::new(flags))
        .map_err(|e| cfg_err("ISA", &e))
}

impl CraneliftBackend {
    /// Sets up the backend (builds the ISA).
    pub fn new(config: &CompilerConfig) -> Result<CraneliftBackend, CompileError> {
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(CraneliftBackend {
            isa: build_isa(config)?,
            target: config.target,
            pad_between_functions: config.pad_between_functions,
            bounds_checks: config.bounds_checks,
            guard_size: config.guard_size,
            fuel: config.fuel,
            epochs: config.epochs,
            threads: config.threads.clamp(1, available.max(1)),
        })
    }

    /// The ISA.
    pub fn isa(&self) -> &dyn cranelift_codegen::isa::TargetIsa {
        &*self.isa
    }
}

/// One unit of work for a compile thread.
enum Job<'a> {
    Body(Box<FunctionInput<'a>>),
    ArrayTrampoline(u32),
    WasmToArray { type_index: u32, func_index: u32 },
}

impl Job<'_> {
    fn symbol(&self) -> Symbol {
        match self {
            Job::Body(input) => Symbol::Function(input.index),
            Job::ArrayTrampoline(f) => Symbol::ArrayTrampoline(*f),
            Job::WasmToArray { type_index, .. } => Symbol::WasmToArray(*type_index),
        }
    }

    fn func_index(&self) -> u32 {
        match self {
            Job::Body(input) => input.index,
            Job::ArrayTrampoline(f) => *f,
            Job::WasmToArray { func_index, .. } => *func_index,
        }
    }
}

/// Maps a Cranelift trap code to ours.
fn trap_code(code: ir::TrapCode) -> Option<TrapCode> {
    Some(match code {
        ir::TrapCode::STACK_OVERFLOW => TrapCode::StackOverflow,
        ir::TrapCode::HEAP_OUT_OF_BOUNDS => TrapCode::MemoryOutOfBounds,
        ir::TrapCode::INTEGER_OVERFLOW => TrapCode::IntegerOverflow,
        ir::TrapCode::INTEGER_DIVISION_BY_ZERO => TrapCode::IntegerDivisionByZero,
        ir::TrapCode::BAD_CONVERSION_TO_INTEGER => TrapCode::BadConversionToInteger,
        other => return TrapCode::from_u8(other.as_raw().get()),
    })
}

/// Compiles one function with `isa` and checks its relocations and traps.
fn compile_function(
    isa: &dyn cranelift_codegen::isa::TargetIsa,
    func: ir::Function,
    symbol: Symbol,
    func_index: u32,
) -> Result<CompiledCode<Reloc>, CompileError> {
    let mut ctx = Context::for_function(func);
    if let Err(e) = ctx.compile(isa, &mut ControlPlane::default()) {
        let message = match &e.inner {
            cranelift_codegen::CodegenError::Verifier(errors) => {
                cranelift_codegen::print_errors::pretty_verifier_error(e.func, None, errors.clone())
            }
            other => other.to_string(),
        };
        return Err(CompileError::Codegen {
            func_index,
            message: format!("{symbol}: {message}"),
        });
    }
    let code = ctx.compiled_code().expect("compile succeeded");
    let names = ctx.func.params.user_named_funcs();
    let mut relocs = Vec::with_capacity(code.buffer.relocs().len());
    for r in code.buffer.relocs() {
        let target = match &r.target {
            FinalizedRelocTarget::ExternalName(ExternalName::User(name)) => {
                let name = &names[*name];
                match name.namespace {
                    0 => Some(Symbol::Function(name.index)),
                    1 => Some(Symbol::ArrayTrampoline(name.index)),
                    2 => Some(Symbol::WasmToArray(name.index)),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(target) = target else {
            return Err(CompileError::Relocation {
                func_index,
                kind: format!(
                    "{:?} to {} in {symbol}",
                    r.kind,
                    r.target.display(Some(&ctx.func.params))
                ),
                offset: r.offset as u64,
            });
        };
        relocs.push(CallReloc {
            offset: r.offset,
            kind: r.kind,
            addend: r.addend,
            target,
        });
    }
    let mut traps = Vec::with_capacity(code.buffer.traps().len());
    for t in code.buffer.traps() {
        let Some(code) = trap_code(t.code) else {
            return Err(CompileError::Codegen {
                func_index,
                message: format!(
                    "{symbol}: trap code {} at {:#x} has no image equivalent",
                    t.code, t.offset
                ),
            });
        };
        traps.push((t.offset, code));
    }
    Ok(CompiledCode {
        symbol,
        func_index,
        bytes: code.code_buffer().to_vec(),
        align: isa.function_alignment().minimum.max(code.buffer.alignment),
        relocs,
        traps,
    })
}

/// Cranelift's text-section builder behind [`TextBuilder`].
struct CraneliftText {
    builder: Box<dyn TextSectionBuilder>,
    ctrl: ControlPlane,
}

impl TextBuilder for CraneliftText {
    type RelocKind = Reloc;
    fn append(&mut self, labeled: bool, data: &[u8], align: u32) -> u64 {
        self.builder.append(labeled, data, align, &mut self.ctrl)
    }
    fn resolve(&mut self, offset: u64, kind: Reloc, addend: i64, label: usize) -> bool {
        self.builder.resolve_reloc(offset, kind, addend, label)
    }
    fn finish(&mut self) -> Vec<u8> {
        self.builder.finish(&mut self.ctrl)
    }
}

impl CraneliftBackend {
    fn run_job(
        &self,
        env: &ModuleEnv,
        job: Job<'_>,
        allocations: &mut FuncValidatorAllocations,
    ) -> Result<CompiledCode<Reloc>, CompileError> {
        let symbol = job.symbol();
        let func_index = job.func_index();
        let call_conv = self.isa.default_call_conv();
        let func = match job {
            Job::Body(input) => {
                let input = *input;
                let mut validator = input.validator.into_validator(std::mem::take(allocations));
                let func =
                    translate::translate_function(env, input.index, &input.body, &mut validator);
                *allocations = validator.into_allocations();
                func?
            }
            Job::ArrayTrampoline(f) => trampolines::array_entry_trampoline(env, f, call_conv),
            Job::WasmToArray { type_index, .. } => {
                trampolines::wasm_to_array_trampoline(env, type_index, call_conv)
            }
        };
        compile_function(&*self.isa, func, symbol, func_index)
    }

    /// Runs `jobs` on the worker threads; results in job order.
    fn run_jobs(
        &self,
        env: &ModuleEnv,
        jobs: Vec<Job<'_>>,
    ) -> Result<Vec<CompiledCode<Reloc>>, CompileError> {
        let count = jobs.len();
        let threads = self.threads.min(count).max(1);
        if threads == 1 {
            let mut allocations = FuncValidatorAllocations::default();
            return jobs
                .into_iter()
                .map(|job| self.run_job(env, job, &mut allocations))
                .collect();
        }
        let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
        let failed = AtomicBool::new(false);
        let mut results: Vec<(usize, Result<CompiledCode<Reloc>, CompileError>)> =
            std::thread::scope(|scope| {
                let workers: Vec<_> = (0..threads)
                    .map(|_| {
                        scope.spawn(|| {
                            let mut done = Vec::new();
                            let mut allocations = FuncValidatorAllocations::default();
                            while !failed.load(Ordering::Relaxed) {
                                let next =
                                    queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                                let Some((i, job)) = next else { break };
                                let result = self.run_job(env, job, &mut allocations);
                                if result.is_err() {
                                    failed.store(true, Ordering::Relaxed);
                                }
                                done.push((i, result));
                            }
                            done
                        })
                    })
                    .collect();
                workers
                    .into_iter()
                    .flat_map(|w| match w.join() {
                        Ok(done) => done,
                        Err(panic) => std::panic::resume_unwind(panic),
                    })
                    .collect()
            });
        results.sort_by_key(|(i, _)| *i);
        // With a failure some jobs never ran; the first error in job order is reported.
        results.into_iter().map(|(_, r)| r).collect()
    }
}

impl Backend for CraneliftBackend {
    fn target(&self) -> Target {
        self.target
    }

    fn compile_module(
        &self,
        module: &ModuleInfo<'_>,
        functions: Vec<FunctionInput<'_>>,
    ) -> Result<CompiledText, CompileError> {
        let mut env = ModuleEnv::new(
            module,
            self.isa.pointer_type(),
            self.bounds_checks,
            self.guard_size,
        )?;
        env.fuel = self.fuel;
        env.epochs = self.epochs;
        let num_imported = module.num_imported_funcs;
        let defined = module.num_defined_funcs();
        if functions.len() != defined as usize {
            return Err(CompileError::Limit(format!(
                "{} function bodies for {defined} declared functions",
                functions.len()
            )));
        }

        // Text order: bodies in module order, then array-entry trampolines, then
        // wasm-to-array trampolines by type index.
        let mut jobs: Vec<Job<'_>> = functions
            .into_iter()
            .map(|f| Job::Body(Box::new(f)))
            .collect();
        jobs.extend(
            (num_imported..num_imported + defined)
                .filter(|&f| module.needs_array_trampoline(f))
                .map(Job::ArrayTrampoline),
        );
        let imported_types = module.imported_func_types();
        for &type_index in &imported_types {
            let func_index = module.func_types[..num_imported as usize]
                .iter()
                .position(|&t| t == type_index)
                .unwrap_or(0) as u32;
            jobs.push(Job::WasmToArray {
                type_index,
                func_index,
            });
        }

        let pieces = self.run_jobs(&env, jobs)?;
        let builder = CraneliftText {
            builder: self.isa.text_section_builder(pieces.len()),
            ctrl: ControlPlane::default(),
        };
        let layout = link::lay_out(builder, &pieces, self.pad_between_functions)?;

        Ok(layout.into_compiled_text(module, &imported_types))
    }
}
