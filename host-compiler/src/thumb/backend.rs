//! The Thumb-2 [`Backend`]: compiles every defined function with [`codegen`], the trampolines
//! with [`trampolines`], prefixes the functions reachable through a `VMFuncRef` with their
//! instance entry (DESIGN.md section 6.3) and lays the text out with [`ThumbTextBuilder`].
//!
//! Text order, as in the Cranelift backend: function bodies in module order, then array-entry
//! trampolines, then wasm-to-array trampolines by type index. Functions are compiled on up to
//! [`CompilerConfig::threads`] threads; results are put back in module order, so the image does
//! not depend on scheduling, and when several functions fail the error of the lowest-numbered
//! one is reported. Anything outside what [`codegen`] implements is a
//! [`CompileError::Unsupported`] naming the function and the offset of the operator.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use shared_types::Target;
use shared_types::vmoffsets::VmOffsets;
use wasmparser::FuncValidatorAllocations;

use super::asm::Profile;
use super::codegen::{self, CompiledFunction, ModuleContext, Signature};
use super::link::{ThumbReloc, ThumbTextBuilder};
use super::trampolines::{self, Memory0};
use crate::error::{CompileError, Location};
use crate::link::{self, CallReloc, CompiledCode, Symbol};
use crate::module::{FunctionInput, ModuleInfo};
use crate::{Backend, CompiledText, CompilerConfig};

/// The Thumb-2 backend for one Cortex-M profile.
#[derive(Debug)]
pub struct ThumbBackend {
    profile: Profile,
    pad_between_functions: u32,
    threads: usize,
    fuel: bool,
    epochs: bool,
}

impl ThumbBackend {
    /// The backend for `config`'s target, which must be a Cortex-M profile.
    pub fn new(config: &CompilerConfig) -> Result<ThumbBackend, CompileError> {
        let target = config.target();
        let profile = Profile::for_target(target).ok_or_else(|| {
            CompileError::Config(format!("the Thumb-2 backend has no profile for {target}"))
        })?;
        let available = std::thread::available_parallelism().map_or(1, |n| n.get());
        Ok(ThumbBackend {
            profile,
            pad_between_functions: config.pad_between_functions,
            threads: config.threads.clamp(1, available.max(1)),
            fuel: config.has_fuel(),
            epochs: config.has_epochs(),
        })
    }
}

/// One unit of work for a compile thread.
enum Job<'a> {
    Body(Box<FunctionInput<'a>>),
    ArrayTrampoline(u32),
    WasmToArray(u32),
}

/// What every job of one module needs.
struct ModuleJobs<'a, 'm> {
    profile: Profile,
    module: &'a ModuleInfo<'m>,
    signatures: Vec<Signature>,
    /// The type section.
    types: Vec<Signature>,
    offsets: VmOffsets,
    memory0: Option<Memory0>,
    /// The instance entry every function reachable through a `VMFuncRef` starts with (empty
    /// without memory 0).
    entry: Vec<u8>,
    /// Whether bodies are compiled with fuel metering and with epoch checks.
    fuel: bool,
    epochs: bool,
}

impl ModuleJobs<'_, '_> {
    fn context(&self) -> ModuleContext<'_> {
        ModuleContext {
            functions: &self.signatures,
            num_imported_funcs: self.module.num_imported_funcs,
            memories: &self.module.memories,
            num_imported_memories: self.module.num_imported_memories,
            globals: &self.module.globals,
            num_imported_globals: self.module.num_imported_globals,
            offsets: &self.offsets,
            types: &self.types,
            tables: &self.module.tables,
            num_imported_tables: self.module.num_imported_tables,
            fuel: self.fuel,
            epochs: self.epochs,
        }
    }

    /// Bytes a direct call to `symbol` skips: the callee's instance entry.
    fn addend(&self, symbol: Symbol) -> i64 {
        match symbol {
            Symbol::Function(f) if self.module.needs_array_trampoline(f) => self.entry.len() as i64,
            _ => 0,
        }
    }

    fn run(
        &self,
        job: Job<'_>,
        allocations: &mut FuncValidatorAllocations,
    ) -> Result<CompiledCode<ThumbReloc>, CompileError> {
        let (symbol, func_index, compiled) = match job {
            Job::Body(input) => {
                let input = *input;
                let index = input.index;
                let mut validator = input.validator.into_validator(std::mem::take(allocations));
                let compiled = codegen::compile_function(
                    self.profile,
                    self.context(),
                    index,
                    &input.body,
                    &mut validator,
                );
                *allocations = validator.into_allocations();
                let mut compiled = compiled?;
                if self.module.needs_array_trampoline(index) && !self.entry.is_empty() {
                    compiled = prefixed(&self.entry, compiled);
                }
                (Symbol::Function(index), index, compiled)
            }
            Job::ArrayTrampoline(f) => (
                Symbol::ArrayTrampoline(f),
                f,
                trampolines::array_entry(
                    self.profile,
                    &self.offsets,
                    self.memory0,
                    f,
                    &self.signatures[f as usize],
                )?,
            ),
            Job::WasmToArray(type_index) => {
                // Errors name the first import of this type.
                let func_index = self.module.func_types[..self.module.num_imported_funcs as usize]
                    .iter()
                    .position(|&t| t == type_index)
                    .unwrap_or(0) as u32;
                let ty = &self.module.types[type_index as usize];
                let signature = Signature {
                    params: ty.params.clone(),
                    results: ty.results.clone(),
                };
                let compiled =
                    trampolines::wasm_to_array(self.profile, &self.offsets, type_index, &signature)
                        .map_err(|e| match e {
                            CompileError::Unsupported { location, feature } => {
                                CompileError::Unsupported {
                                    location: Location {
                                        func_index: Some(func_index),
                                        offset: location.offset,
                                    },
                                    feature: format!("imported function {func_index}: {feature}"),
                                }
                            }
                            other => other,
                        })?;
                (Symbol::WasmToArray(type_index), func_index, compiled)
            }
        };
        Ok(CompiledCode {
            symbol,
            func_index,
            bytes: compiled.code,
            align: 4,
            relocs: compiled
                .calls
                .iter()
                .map(|&(offset, target)| CallReloc {
                    offset,
                    kind: ThumbReloc::Call,
                    addend: self.addend(target),
                    target,
                })
                .collect(),
            traps: compiled.traps,
        })
    }
}

/// `compiled` behind `entry` (a multiple of 4 bytes, so literal-pool alignment is kept).
fn prefixed(entry: &[u8], compiled: CompiledFunction) -> CompiledFunction {
    let shift = entry.len() as u32;
    let mut code = Vec::with_capacity(entry.len() + compiled.code.len());
    code.extend_from_slice(entry);
    code.extend_from_slice(&compiled.code);
    CompiledFunction {
        code,
        traps: compiled
            .traps
            .iter()
            .map(|&(at, c)| (at + shift, c))
            .collect(),
        calls: compiled
            .calls
            .iter()
            .map(|&(at, s)| (at + shift, s))
            .collect(),
    }
}

impl ThumbBackend {
    /// Runs `jobs` on the worker threads; results in job order, the first error in job order
    /// reported.
    fn run_jobs(
        &self,
        module: &ModuleJobs<'_, '_>,
        jobs: Vec<Job<'_>>,
    ) -> Result<Vec<CompiledCode<ThumbReloc>>, CompileError> {
        let threads = self.threads.min(jobs.len()).max(1);
        if threads == 1 {
            let mut allocations = FuncValidatorAllocations::default();
            return jobs
                .into_iter()
                .map(|job| module.run(job, &mut allocations))
                .collect();
        }
        let queue = Mutex::new(jobs.into_iter().enumerate().collect::<VecDeque<_>>());
        let failed = AtomicBool::new(false);
        let mut results: Vec<(usize, Result<CompiledCode<ThumbReloc>, CompileError>)> =
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
                                let result = module.run(job, &mut allocations);
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

impl Backend for ThumbBackend {
    fn target(&self) -> Target {
        self.profile.target
    }

    fn compile_module(
        &self,
        module: &ModuleInfo<'_>,
        functions: Vec<FunctionInput<'_>>,
    ) -> Result<CompiledText, CompileError> {
        let num_imported = module.num_imported_funcs;
        let defined = module.num_defined_funcs();
        if functions.len() != defined as usize {
            return Err(CompileError::Limit(format!(
                "{} function bodies for {defined} declared functions",
                functions.len()
            )));
        }
        let offsets = VmOffsets::new(4, module.counts()).ok_or_else(|| {
            CompileError::Limit(format!(
                "more than {} entities of one kind",
                shared_types::vmoffsets::MAX_ENTITIES - 1
            ))
        })?;
        let signatures = module
            .func_types
            .iter()
            .map(|&t| Signature {
                params: module.types[t as usize].params.clone(),
                results: module.types[t as usize].results.clone(),
            })
            .collect();
        let memory0 = module.memories.first().map(|&memory| Memory0 {
            memory,
            imported: module.num_imported_memories > 0,
        });
        let entry = match memory0 {
            Some(m) => trampolines::instance_entry(self.profile, &offsets, m)?,
            None => Vec::new(),
        };
        let jobs_context = ModuleJobs {
            profile: self.profile,
            module,
            signatures,
            types: module
                .types
                .iter()
                .map(|t| Signature {
                    params: t.params.clone(),
                    results: t.results.clone(),
                })
                .collect(),
            offsets,
            memory0,
            entry,
            fuel: self.fuel,
            epochs: self.epochs,
        };

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
        jobs.extend(imported_types.iter().map(|&t| Job::WasmToArray(t)));

        let pieces = self.run_jobs(&jobs_context, jobs)?;
        let layout = link::lay_out(
            ThumbTextBuilder::new(pieces.len()),
            &pieces,
            self.pad_between_functions,
        )?;

        Ok(layout.into_compiled_text(module, &imported_types))
    }
}
