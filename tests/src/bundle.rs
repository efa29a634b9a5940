//! The host side of spec bundles (`spec_bundle` crate): walks the spec files the harness walks
//! ([`crate::spec_runner::spec_files`]), compiles every module for AArch64 with the settings of
//! the hosted spec test (`CompilerConfig::for_target(Target::Aarch64)`, explicit bounds checks),
//! checks the directives the host compiler alone decides (`assert_invalid`, `assert_malformed`),
//! and writes everything else as bundle commands for a device to execute.
//!
//! # Segments
//!
//! A board has fixed pools (code memory, 16 loaded-module slots, memory slots), so a file's
//! commands are cut into segments that each run in a fresh store (see `spec_bundle::format`).
//! A cut before directive `k` (a `module` directive) is allowed only if nothing from `k` on
//! depends on anything before `k`. For each directive `j`, `dep(j)` is the earliest directive
//! it depends on:
//!
//! * the latest definition of every instance name it uses (`invoke $M`, `get $M`,
//!   `register "n" $M`) and, if it uses the current instance, the latest `module` directive;
//! * for each module it instantiates, the latest `register` of every module name it imports
//!   (other than `spectest`);
//! * for each `spectest` table or memory it imports (mutable state shared through `spectest`)
//!   and may *observe*, the first earlier directive whose module imports the same item and may
//!   *change* that aspect of it. Contents: written by active segments, stores,
//!   `memory.fill`/`copy`/`init` (`table.set`/`fill`/`copy`/`init`), observed by loads and
//!   `memory.copy` (`table.get`, `call_indirect`, `table.copy`). Size: changed by
//!   `memory.grow` (`table.grow`), observed by every access, segment, `size` or `grow`. Until
//!   such a change has run, the item is as a fresh `spectest` makes it.
//!
//! The cut before `k` is allowed iff `min(dep(j) for j >= k) >= k`. Every allowed cut before a
//! `module` directive is taken, and an allowed cut before any other directive when the segment
//! would otherwise exceed `MAX_SEGMENT_MODULES`; a segment still above that fails on the device
//! with a clear error (and is reported by the generator).
//!
//! A registered module that is *replayable* (no imports, no start function, functions that
//! touch no memory, table or global) does not block a cut: importing from it depends only on
//! its exported memories, tables and mutable globals, tracked like `spectest`'s (a mutable
//! global: every importer may change and observe it), and the new segment re-creates it with
//! setup commands (`module` + `register`, not cases) before its first directive.

use std::collections::HashMap;
use std::fmt::Write as _;

use anyhow::{Context, Result, bail};
use host_compiler::{BoundsChecks, Compiler, CompilerConfig};
use spec_bundle::encode::{Action, BundleWriter, Command, ExpectedResult, HostCounts};
use spec_bundle::format::{Expected, Fnv64, MAX_NAMED_INSTANCES, MAX_SEGMENT_MODULES, Value};
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastDirective, WastExecute, WastInvoke, WastRet};

use crate::harness::{self, one_line};

/// The largest bundle one boot takes: QEMU's loader places it at `0x4c00_0000`, and RAM ends
/// 64 MiB later (see the board's `examples/spec_bundle.rs`).
pub const MAX_BUNDLE_BYTES: usize = 64 << 20;

/// The compiler settings of the hosted spec test (`tests::device::Device::new`), for AArch64.
pub fn compiler_config() -> CompilerConfig {
    compiler_config_for(shared_types::Target::Aarch64)
}

/// The compiler settings of the hosted spec test for `target`: explicit bounds checks (the only
/// kind the Cortex-M profiles have).
pub fn compiler_config_for(target: shared_types::Target) -> CompilerConfig {
    CompilerConfig::for_target(target).bounds_checks(BoundsChecks::Explicit)
}

/// A host-side case that failed: file, line, reason.
pub type HostFailure = (String, usize, String);

/// What [`generate`] produced.
#[derive(Debug, Default)]
pub struct Generated {
    /// The bundles, one per boot.
    pub bundles: Vec<Vec<u8>>,
    /// Host-side failures.
    pub host_failures: Vec<HostFailure>,
    /// Files.
    pub files: usize,
    /// Board cases (commands other than segment markers).
    pub board_cases: usize,
    /// Host-side cases.
    pub host_cases: usize,
    /// Modules (compiled or refused).
    pub modules: usize,
    /// Segments.
    pub segments: usize,
    /// Segments with more than `MAX_SEGMENT_MODULES` modules: (file, line of the first
    /// directive, modules).
    pub oversized_segments: Vec<(String, usize, usize)>,
}

/// One directive, planned.
struct Planned {
    line: usize,
    /// Board command, or `None` for a host-side case.
    command: Option<Command>,
    /// Host-side case outcome (when `command` is `None`).
    host: Option<Result<bool, String>>,
    /// A `module` directive (a candidate cut).
    is_module: bool,
    /// Instance names used, and whether it uses the current instance.
    uses: Vec<String>,
    uses_current: bool,
    /// Name this directive binds (a `module $M`).
    defines: Option<String>,
    /// Name this directive registers.
    registers: Option<String>,
    /// Imports of the modules it instantiates: (module, field).
    imports: Vec<(String, String)>,
    /// Whether those modules may write an imported memory / table.
    writes: Writes,
    /// Modules it adds.
    modules: usize,
    /// The module a directive instantiates (file-local index).
    module: Option<u32>,
    /// The instance a `register` registers: a name, or `None` for the current one.
    register_instance: Option<String>,
}

/// Per-file writer state: module images and named-instance slots.
struct FileState<'c> {
    compiler: &'c Compiler,
    slots: HashMap<String, u32>,
    /// Modules compiled for this file, in order: image or error.
    modules: Vec<std::result::Result<Vec<u8>, String>>,
    /// What the generator knows of each module.
    facts: Vec<ModuleFacts>,
}

/// The kind of an export, as far as state is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExportKind {
    /// A function or an immutable global: no state.
    Stateless,
    /// A memory.
    Memory,
    /// A table.
    Table,
    /// A mutable global.
    MutableGlobal,
}

/// Facts about a module for the segment planner.
#[derive(Clone, Debug, Default)]
struct ModuleFacts {
    /// A fresh instance is indistinguishable from an earlier one whose exported memories,
    /// tables and mutable globals are unchanged: no imports, no start function, and functions
    /// that touch no memory, table or global and call no `call_indirect`.
    replayable: bool,
    /// Export name -> kind.
    exports: HashMap<String, ExportKind>,
    /// Element-precise access to the module's only imported table, if it has exactly one.
    table: Option<TableAccess>,
}

/// Which elements of its only imported table (table 0) a module writes while instantiating
/// and reads later, when that is known exactly: its active element segments for table 0 have
/// constant offsets, no instruction writes table 0, and every `call_indirect`/`table.get` on
/// table 0 takes its index from the `i32.const` right before it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct TableAccess {
    /// The import: (module, field).
    import: (String, String),
    /// Elements written by active segments, in order.
    writes: Vec<u32>,
    /// Elements read (`None`: any).
    reads: Option<std::collections::BTreeSet<u32>>,
}

/// The [`ModuleFacts`] of a binary module (an unreadable one is not replayable).
fn module_facts(wasm: &[u8]) -> ModuleFacts {
    use wasmparser::{ExternalKind, Operator, Payload};
    let mut facts = ModuleFacts {
        replayable: true,
        exports: HashMap::new(),
        table: None,
    };
    let mut global_mutability = Vec::new();
    let mut exports = Vec::new();
    let mut table_imports = Vec::new();
    let mut table_writes = Some(Vec::new());
    let mut table_reads = Some(std::collections::BTreeSet::new());
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            facts.replayable = false;
            continue;
        };
        match payload {
            Payload::ImportSection(reader) => {
                if reader.count() > 0 {
                    facts.replayable = false;
                }
                for import in reader.into_imports().flatten() {
                    if matches!(import.ty, wasmparser::TypeRef::Table(_)) {
                        table_imports.push((import.module.to_string(), import.name.to_string()));
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader.into_iter() {
                    let Ok(element) = element else {
                        table_writes = None;
                        continue;
                    };
                    let wasmparser::ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = element.kind
                    else {
                        continue;
                    };
                    if table_index.unwrap_or(0) != 0 {
                        continue;
                    }
                    let mut ops = offset_expr.get_operators_reader();
                    let offset = match (ops.read(), ops.read()) {
                        (Ok(Operator::I32Const { value }), Ok(Operator::End)) => Some(value as u32),
                        _ => None,
                    };
                    match (offset, table_writes.as_mut()) {
                        (Some(offset), Some(writes)) => {
                            let count = match &element.items {
                                wasmparser::ElementItems::Functions(r) => r.count(),
                                wasmparser::ElementItems::Expressions(_, r) => r.count(),
                            };
                            writes.extend((0..count).map(|i| offset.wrapping_add(i)));
                        }
                        _ => table_writes = None,
                    }
                }
            }
            Payload::StartSection { .. } => facts.replayable = false,
            Payload::GlobalSection(reader) => {
                for g in reader.into_iter() {
                    match g {
                        Ok(g) => global_mutability.push(g.ty.mutable),
                        Err(_) => facts.replayable = false,
                    }
                }
            }
            Payload::ExportSection(reader) => {
                for e in reader.into_iter() {
                    match e {
                        Ok(e) => exports.push((e.name.to_string(), e.kind, e.index)),
                        Err(_) => facts.replayable = false,
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let Ok(mut ops) = body.get_operators_reader() else {
                    facts.replayable = false;
                    continue;
                };
                let mut previous_const = None;
                while !ops.eof() {
                    let Ok(op) = ops.read() else {
                        facts.replayable = false;
                        table_reads = None;
                        break;
                    };
                    match &op {
                        Operator::CallIndirect { table_index, .. }
                        | Operator::ReturnCallIndirect { table_index, .. }
                            if *table_index == 0 =>
                        {
                            match (previous_const, table_reads.as_mut()) {
                                (Some(i), Some(reads)) => {
                                    reads.insert(i);
                                }
                                _ => table_reads = None,
                            }
                        }
                        Operator::TableGet { table } if *table == 0 => {
                            match (previous_const, table_reads.as_mut()) {
                                (Some(i), Some(reads)) => {
                                    reads.insert(i);
                                }
                                _ => table_reads = None,
                            }
                        }
                        Operator::TableCopy { src_table, .. } if *src_table == 0 => {
                            table_reads = None
                        }
                        Operator::TableSet { table }
                        | Operator::TableFill { table }
                        | Operator::TableGrow { table }
                            if *table == 0 =>
                        {
                            table_writes = None
                        }
                        Operator::TableCopy { dst_table, .. } if *dst_table == 0 => {
                            table_writes = None
                        }
                        Operator::TableInit { table, .. } if *table == 0 => table_writes = None,
                        _ => {}
                    }
                    previous_const = match op {
                        Operator::I32Const { value } => Some(value as u32),
                        _ => None,
                    };
                    let touches_state = matches!(
                        op,
                        Operator::GlobalGet { .. }
                            | Operator::GlobalSet { .. }
                            | Operator::CallIndirect { .. }
                            | Operator::ReturnCallIndirect { .. }
                            | Operator::MemorySize { .. }
                            | Operator::MemoryGrow { .. }
                            | Operator::MemoryFill { .. }
                            | Operator::MemoryCopy { .. }
                            | Operator::MemoryInit { .. }
                            | Operator::DataDrop { .. }
                            | Operator::TableGet { .. }
                            | Operator::TableSet { .. }
                            | Operator::TableSize { .. }
                            | Operator::TableGrow { .. }
                            | Operator::TableFill { .. }
                            | Operator::TableCopy { .. }
                            | Operator::TableInit { .. }
                            | Operator::ElemDrop { .. }
                    ) || op_accesses_memory(&op);
                    if touches_state {
                        facts.replayable = false;
                    }
                }
            }
            _ => {}
        }
    }
    if let ([import], Some(writes)) = (&table_imports[..], table_writes) {
        facts.table = Some(TableAccess {
            import: import.clone(),
            writes,
            reads: table_reads,
        });
    }
    for (name, kind, index) in exports {
        let kind = match kind {
            ExternalKind::Memory => ExportKind::Memory,
            ExternalKind::Table => ExportKind::Table,
            ExternalKind::Global => {
                // Without imports, global index = defined global index.
                match global_mutability.get(index as usize) {
                    Some(false) => ExportKind::Stateless,
                    _ => ExportKind::MutableGlobal,
                }
            }
            _ => ExportKind::Stateless,
        };
        facts.exports.insert(name, kind);
    }
    facts
}

/// Whether an instruction loads or stores.
fn op_accesses_memory(op: &wasmparser::Operator<'_>) -> bool {
    use wasmparser::Operator::*;
    matches!(
        op,
        I32Load { .. }
            | I64Load { .. }
            | F32Load { .. }
            | F64Load { .. }
            | I32Load8S { .. }
            | I32Load8U { .. }
            | I32Load16S { .. }
            | I32Load16U { .. }
            | I64Load8S { .. }
            | I64Load8U { .. }
            | I64Load16S { .. }
            | I64Load16U { .. }
            | I64Load32S { .. }
            | I64Load32U { .. }
            | I32Store { .. }
            | I64Store { .. }
            | F32Store { .. }
            | F64Store { .. }
            | I32Store8 { .. }
            | I32Store16 { .. }
            | I64Store8 { .. }
            | I64Store16 { .. }
            | I64Store32 { .. }
    )
}

impl FileState<'_> {
    fn slot(&mut self, id: &Option<Id<'_>>) -> Result<Option<u32>> {
        let Some(id) = id else { return Ok(None) };
        let n = self.slots.len() as u32;
        let slot = *self.slots.entry(id.name().to_string()).or_insert(n);
        if slot as usize >= MAX_NAMED_INSTANCES {
            bail!("more than {MAX_NAMED_INSTANCES} instance names in one file");
        }
        Ok(Some(slot))
    }

    /// Encodes and compiles a module; returns its file-local index, its imports and what it
    /// may write.
    fn module(&mut self, module: &mut QuoteWat<'_>) -> (u32, (Vec<(String, String)>, Writes)) {
        let compiled = match module.encode() {
            Err(e) => Err(format!("wast cannot encode the module: {e}")),
            Ok(wasm) => {
                let imports = imports(&wasm);
                self.facts.push(module_facts(&wasm));
                let image = self
                    .compiler
                    .compile(&wasm)
                    .map(|c| c.bytes)
                    .map_err(|e| one_line(&e.to_string()));
                self.modules.push(image);
                return ((self.modules.len() - 1) as u32, imports);
            }
        };
        self.modules.push(compiled);
        self.facts.push(ModuleFacts::default());
        (
            (self.modules.len() - 1) as u32,
            (Vec::new(), Writes::default()),
        )
    }
}

/// What a module may do to a memory or table it imports (an over-approximation from its
/// segments and instructions; an unreadable module does everything).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Effects {
    writes_contents: bool,
    reads_contents: bool,
    grows: bool,
    observes_size: bool,
}

impl Effects {
    const ALL: Effects = Effects {
        writes_contents: true,
        reads_contents: true,
        grows: true,
        observes_size: true,
    };
}

/// [`Effects`] on memories and on tables.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Writes {
    memory: Effects,
    table: Effects,
}

impl Writes {
    const ALL: Writes = Writes {
        memory: Effects::ALL,
        table: Effects::ALL,
    };
}

/// Imports of a binary module, (module, field), and whether it may write memories or tables.
/// An unreadable module has no imports and writes everything (the compiler refuses it anyway).
fn imports(wasm: &[u8]) -> (Vec<(String, String)>, Writes) {
    use wasmparser::{DataKind, ElementKind, Operator, Payload};
    let mut out = Vec::new();
    let mut writes = Writes::default();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            writes = Writes::ALL;
            continue;
        };
        match payload {
            Payload::ImportSection(reader) => {
                for import in reader.into_imports().flatten() {
                    out.push((import.module.to_string(), import.name.to_string()));
                }
            }
            Payload::DataSection(reader) => {
                for data in reader.into_iter().flatten() {
                    if matches!(data.kind, DataKind::Active { .. }) {
                        writes.memory.writes_contents = true;
                        writes.memory.observes_size = true;
                    }
                }
            }
            Payload::ElementSection(reader) => {
                for element in reader.into_iter().flatten() {
                    if matches!(element.kind, ElementKind::Active { .. }) {
                        writes.table.writes_contents = true;
                        writes.table.observes_size = true;
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let Ok(mut ops) = body.get_operators_reader() else {
                    writes = Writes::ALL;
                    continue;
                };
                while !ops.eof() {
                    let Ok(op) = ops.read() else {
                        writes = Writes::ALL;
                        break;
                    };
                    let memory_write = matches!(
                        op,
                        Operator::I32Store { .. }
                            | Operator::I64Store { .. }
                            | Operator::F32Store { .. }
                            | Operator::F64Store { .. }
                            | Operator::I32Store8 { .. }
                            | Operator::I32Store16 { .. }
                            | Operator::I64Store8 { .. }
                            | Operator::I64Store16 { .. }
                            | Operator::I64Store32 { .. }
                            | Operator::MemoryFill { .. }
                            | Operator::MemoryCopy { .. }
                            | Operator::MemoryInit { .. }
                    );
                    let memory_read = matches!(
                        op,
                        Operator::I32Load { .. }
                            | Operator::I64Load { .. }
                            | Operator::F32Load { .. }
                            | Operator::F64Load { .. }
                            | Operator::I32Load8S { .. }
                            | Operator::I32Load8U { .. }
                            | Operator::I32Load16S { .. }
                            | Operator::I32Load16U { .. }
                            | Operator::I64Load8S { .. }
                            | Operator::I64Load8U { .. }
                            | Operator::I64Load16S { .. }
                            | Operator::I64Load16U { .. }
                            | Operator::I64Load32S { .. }
                            | Operator::I64Load32U { .. }
                            | Operator::MemoryCopy { .. }
                    );
                    let memory_grow = matches!(op, Operator::MemoryGrow { .. });
                    let memory_size = matches!(op, Operator::MemorySize { .. });
                    let m = &mut writes.memory;
                    m.writes_contents |= memory_write;
                    m.reads_contents |= memory_read;
                    m.grows |= memory_grow;
                    m.observes_size |= memory_write || memory_read || memory_grow || memory_size;
                    let table_write = matches!(
                        op,
                        Operator::TableSet { .. }
                            | Operator::TableFill { .. }
                            | Operator::TableCopy { .. }
                            | Operator::TableInit { .. }
                    );
                    let table_read = matches!(
                        op,
                        Operator::TableGet { .. }
                            | Operator::CallIndirect { .. }
                            | Operator::ReturnCallIndirect { .. }
                            | Operator::TableCopy { .. }
                    );
                    let table_grow = matches!(op, Operator::TableGrow { .. });
                    let table_size = matches!(op, Operator::TableSize { .. });
                    let t = &mut writes.table;
                    t.writes_contents |= table_write;
                    t.reads_contents |= table_read;
                    t.grows |= table_grow;
                    t.observes_size |= table_write || table_read || table_grow || table_size;
                }
            }
            _ => {}
        }
    }
    (out, writes)
}

fn id_name(id: &Option<Id<'_>>) -> Option<String> {
    id.as_ref().map(|i| i.name().to_string())
}

fn value(arg: &wast::WastArg<'_>) -> std::result::Result<Value, String> {
    Ok(match harness::arg_value(arg)? {
        harness::Value::I32(v) => Value::I32(v),
        harness::Value::I64(v) => Value::I64(v),
        harness::Value::F32(b) => Value::F32(b),
        harness::Value::F64(b) => Value::F64(b),
        harness::Value::FuncRef(false) => Value::FuncRefNull,
        harness::Value::ExternRef(None) => Value::ExternRefNull,
        harness::Value::ExternRef(Some(id)) => Value::ExternRef(id),
        other => return Err(format!("argument {other:?} not supported by bundles")),
    })
}

fn expected_one(r: &WastRetCore<'_>) -> std::result::Result<Expected, String> {
    let nan32 = |p: &NanPattern<wast::token::F32>| match p {
        NanPattern::CanonicalNan => Expected::F32CanonicalNan,
        NanPattern::ArithmeticNan => Expected::F32ArithmeticNan,
        NanPattern::Value(v) => Expected::Exact(Value::F32(v.bits)),
    };
    let nan64 = |p: &NanPattern<wast::token::F64>| match p {
        NanPattern::CanonicalNan => Expected::F64CanonicalNan,
        NanPattern::ArithmeticNan => Expected::F64ArithmeticNan,
        NanPattern::Value(v) => Expected::Exact(Value::F64(v.bits)),
    };
    Ok(match r {
        WastRetCore::I32(v) => Expected::Exact(Value::I32(*v)),
        WastRetCore::I64(v) => Expected::Exact(Value::I64(*v)),
        WastRetCore::F32(p) => nan32(p),
        WastRetCore::F64(p) => nan64(p),
        WastRetCore::RefNull(None) => Expected::RefNullAny,
        WastRetCore::RefNull(Some(HeapType::Abstract {
            ty: AbstractHeapType::Func,
            ..
        })) => Expected::Exact(Value::FuncRefNull),
        WastRetCore::RefNull(Some(HeapType::Abstract {
            ty: AbstractHeapType::Extern,
            ..
        })) => Expected::Exact(Value::ExternRefNull),
        WastRetCore::RefExtern(None) => Expected::ExternRefNonNull,
        WastRetCore::RefExtern(Some(id)) => Expected::Exact(Value::ExternRef(*id)),
        WastRetCore::RefFunc(_) => Expected::FuncRefNonNull,
        other => {
            return Err(
                format!("expected result {other:?} not supported by bundles")
                    .chars()
                    .take(120)
                    .collect(),
            );
        }
    })
}

fn expected(results: &[WastRet<'_>]) -> std::result::Result<Vec<ExpectedResult>, String> {
    results
        .iter()
        .map(|r| {
            let WastRet::Core(r) = r else {
                return Err("component result".to_string());
            };
            Ok(match r {
                WastRetCore::Either(options) => ExpectedResult::Either(
                    options
                        .iter()
                        .map(expected_one)
                        .collect::<std::result::Result<_, _>>()?,
                ),
                r => ExpectedResult::One(expected_one(r)?),
            })
        })
        .collect()
}

impl Planned {
    fn host(line: usize, outcome: Result<bool, String>) -> Planned {
        Planned {
            line,
            command: None,
            host: Some(outcome),
            is_module: false,
            uses: Vec::new(),
            uses_current: false,
            defines: None,
            registers: None,
            imports: Vec::new(),
            writes: Writes::default(),
            modules: 0,
            module: None,
            register_instance: None,
        }
    }

    fn board(line: usize, command: Command) -> Planned {
        Planned {
            line,
            command: Some(command),
            host: None,
            is_module: false,
            uses: Vec::new(),
            uses_current: false,
            defines: None,
            registers: None,
            imports: Vec::new(),
            writes: Writes::default(),
            modules: 0,
            module: None,
            register_instance: None,
        }
    }
}

fn invoke_action(
    state: &mut FileState<'_>,
    invoke: &WastInvoke<'_>,
    planned_uses: &mut (Vec<String>, bool),
) -> std::result::Result<Action, String> {
    use_instance(&invoke.module, planned_uses);
    let args = invoke
        .args
        .iter()
        .map(value)
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(Action::Invoke {
        instance: state.slot(&invoke.module).map_err(|e| e.to_string())?,
        func: invoke.name.to_string(),
        args,
    })
}

fn use_instance(id: &Option<Id<'_>>, uses: &mut (Vec<String>, bool)) {
    match id_name(id) {
        Some(n) => uses.0.push(n),
        None => uses.1 = true,
    }
}

/// Plans one directive (compiling its modules).
fn plan(state: &mut FileState<'_>, line: usize, directive: WastDirective<'_>) -> Planned {
    let mut uses = (Vec::new(), false);
    let mut imports = Vec::new();
    let mut writes = Writes::default();
    let modules_before = state.modules.len();
    let mut is_module = false;
    let mut defines = None;
    let mut registers = None;
    let mut module_index = None;
    let mut register_instance = None;
    let result: std::result::Result<Command, String> = (|| {
        Ok(match directive {
            WastDirective::Module(mut module) => {
                is_module = true;
                defines = id_name(&module.name());
                let slot = state.slot(&module.name()).map_err(|e| e.to_string())?;
                let (index, i) = state.module(&mut module);
                (imports, writes) = i;
                module_index = Some(index);
                Command::Module {
                    module: index,
                    slot,
                }
            }
            WastDirective::Register { name, module, .. } => {
                use_instance(&module, &mut uses);
                registers = Some(name.to_string());
                register_instance = id_name(&module);
                Command::Register {
                    name: name.to_string(),
                    instance: state.slot(&module).map_err(|e| e.to_string())?,
                }
            }
            WastDirective::Invoke(invoke) => {
                Command::Action(invoke_action(state, &invoke, &mut uses)?)
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let expected = expected(&results)?;
                let action = match exec {
                    WastExecute::Invoke(invoke) => invoke_action(state, &invoke, &mut uses)?,
                    WastExecute::Get { module, global, .. } => {
                        use_instance(&module, &mut uses);
                        Action::Get {
                            instance: state.slot(&module).map_err(|e| e.to_string())?,
                            global: global.to_string(),
                        }
                    }
                    WastExecute::Wat(wat) => {
                        let mut quote = QuoteWat::Wat(wat);
                        let (index, i) = state.module(&mut quote);
                        (imports, writes) = i;
                        module_index = Some(index);
                        Action::Instantiate(index)
                    }
                };
                Command::AssertReturn(action, expected)
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let action = match exec {
                    WastExecute::Invoke(invoke) => invoke_action(state, &invoke, &mut uses)?,
                    WastExecute::Wat(wat) => {
                        let mut quote = QuoteWat::Wat(wat);
                        let (index, i) = state.module(&mut quote);
                        (imports, writes) = i;
                        module_index = Some(index);
                        Action::Instantiate(index)
                    }
                    WastExecute::Get { .. } => return Err("assert_trap on get".to_string()),
                };
                Command::AssertTrap(action, message.to_string())
            }
            WastDirective::AssertExhaustion { call, message, .. } => Command::AssertExhaustion(
                invoke_action(state, &call, &mut uses)?,
                message.to_string(),
            ),
            WastDirective::AssertUnlinkable {
                module, message, ..
            } => {
                let mut quote = QuoteWat::Wat(module);
                let (index, i) = state.module(&mut quote);
                (imports, writes) = i;
                module_index = Some(index);
                Command::AssertUnlinkable(index, message.to_string())
            }
            WastDirective::AssertInvalid { .. } | WastDirective::AssertMalformed { .. } => {
                return Err("host-side directive planned as a board command".to_string());
            }
            other => {
                return Err(format!("unsupported directive {other:?}")
                    .chars()
                    .take(120)
                    .collect());
            }
        })
    })();
    match result {
        Ok(command) => {
            let mut p = Planned::board(line, command);
            p.is_module = is_module;
            p.uses = uses.0;
            p.uses_current = uses.1;
            p.defines = defines;
            p.registers = registers;
            p.imports = imports;
            p.writes = writes;
            p.module = module_index;
            p.register_instance = register_instance;
            p.modules = state.modules.len() - modules_before;
            p
        }
        Err(e) => {
            // Modules compiled before the failure are not referenced by any command.
            state.modules.truncate(modules_before);
            state.facts.truncate(modules_before);
            Planned::host(line, Err(e))
        }
    }
}

/// `assert_invalid` / `assert_malformed`: `Ok(true)` when rejected by the text format itself.
fn host_rejection(
    compiler: &Compiler,
    module: &mut QuoteWat<'_>,
    message: &str,
) -> Result<bool, String> {
    let Ok(wasm) = module.encode() else {
        return Ok(true);
    };
    match compiler.compile(&wasm) {
        Ok(_) => Err(format!("compiled, expected rejection {message:?}")),
        Err(_) => Ok(false),
    }
}

/// The host-side outcome of a `module definition`: it must encode and compile.
fn host_definition(compiler: &Compiler, module: &mut QuoteWat<'_>) -> Result<bool, String> {
    let wasm = module.encode().map_err(|e| format!("cannot encode: {e}"))?;
    compiler
        .compile(&wasm)
        .map(|_| false)
        .map_err(|e| format!("compile error: {e}"))
}

/// A registered module re-created at the start of a segment (setup commands).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Replay {
    /// The name it is registered under.
    name: String,
    /// Its module (file-local index).
    module: u32,
    /// Line of the `register` directive.
    line: usize,
}

/// Whether a directive's instantiation writes its active segments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum InstantiationWrites {
    /// Always (`module`, `assert_return` of a module): it is expected to succeed.
    Definite,
    /// Perhaps some (`assert_trap` of a module: segments before the trapping one).
    Maybe,
    /// Never (`assert_unlinkable`: linking fails before anything is written).
    None,
}

/// The elements a directive's instantiation writes into a table item, and how surely.
type ElementWrites = (Vec<u32>, InstantiationWrites);

fn instantiation_writes(p: &Planned) -> InstantiationWrites {
    match &p.command {
        Some(Command::Module { .. }) | Some(Command::AssertReturn(Action::Instantiate(_), _)) => {
            InstantiationWrites::Definite
        }
        Some(Command::AssertUnlinkable(..)) => InstantiationWrites::None,
        _ => InstantiationWrites::Maybe,
    }
}

/// Which directives start a segment, and the registered modules each such segment re-creates
/// (see the module documentation).
fn cuts(planned: &[Planned], facts: &[ModuleFacts]) -> Vec<Option<Vec<Replay>>> {
    let n = planned.len();
    let mut dep: Vec<usize> = (0..n).collect();
    // Replayable registrations each directive imports from: (register directive, name).
    let mut needs: Vec<Vec<(usize, String)>> = vec![Vec::new(); n];
    let mut last_def: HashMap<&str, usize> = HashMap::new();
    let mut last_register: HashMap<&str, usize> = HashMap::new();
    // The replayable module a `register` directive registered.
    let mut registered_module: HashMap<usize, u32> = HashMap::new();
    // First change of a mutable item: (item, aspect) -> directive. Items are `spectest/FIELD`
    // or `REGISTER_DIRECTIVE/FIELD` (an export of a replayable registered module).
    let mut first_change: HashMap<(String, &str), usize> = HashMap::new();
    let mut last_module: Option<usize> = None;
    // Element-precise model of table items: element -> the directives that may have written it
    // last (`None`: a writer was not precise, only the coarse rule applies).
    let mut elements: HashMap<String, Option<HashMap<u32, Vec<usize>>>> = HashMap::new();
    let mut module_of_def: HashMap<&str, u32> = HashMap::new();
    let mut last_module_index: Option<u32> = None;
    for (j, p) in planned.iter().enumerate() {
        let mut d = j;
        for name in &p.uses {
            if let Some(&i) = last_def.get(name.as_str()) {
                d = d.min(i);
            }
        }
        if p.uses_current
            && let Some(i) = last_module
        {
            d = d.min(i);
        }
        let mut changes: Vec<(String, &str)> = Vec::new();
        let mut element_updates: Vec<(String, Option<ElementWrites>)> = Vec::new();
        for (module, field) in &p.imports {
            // The item and its kind, for state shared through an import.
            let item = if module == "spectest" {
                match field.as_str() {
                    "memory" => Some((format!("spectest/{field}"), ExportKind::Memory)),
                    "table" => Some((format!("spectest/{field}"), ExportKind::Table)),
                    _ => None,
                }
            } else if let Some(&r) = last_register.get(module.as_str()) {
                match registered_module.get(&r) {
                    Some(&m) => {
                        needs[j].push((r, module.clone()));
                        let kind = facts[m as usize]
                            .exports
                            .get(field)
                            .copied()
                            .unwrap_or(ExportKind::Stateless);
                        (kind != ExportKind::Stateless).then(|| (format!("{r}/{field}"), kind))
                    }
                    None => {
                        d = d.min(r);
                        None
                    }
                }
            } else {
                None
            };
            let Some((item, kind)) = item else { continue };
            let effects = match kind {
                ExportKind::Memory => p.writes.memory,
                ExportKind::Table => p.writes.table,
                // `global.set` on an import is not tracked per global: every importer of a
                // mutable global may change and observe it.
                _ => Effects::ALL,
            };
            // Element-precise access to this table, if the module's only table import is it.
            let access = p
                .module
                .and_then(|m| facts[m as usize].table.as_ref())
                .filter(|t| {
                    kind == ExportKind::Table && t.import == (module.clone(), field.clone())
                });
            let own_writes: Vec<u32> = match (access, instantiation_writes(p)) {
                (Some(t), InstantiationWrites::Definite) => t.writes.clone(),
                _ => Vec::new(),
            };
            let precise_reads = match (access.and_then(|t| t.reads.as_ref()), elements.get(&item)) {
                (Some(reads), Some(Some(model))) => {
                    for n in reads.iter().filter(|n| !own_writes.contains(n)) {
                        for &w in model.get(n).into_iter().flatten() {
                            d = d.min(w);
                        }
                    }
                    true
                }
                _ => false,
            };
            for (observes, aspect) in [
                (effects.reads_contents && !precise_reads, "contents"),
                (effects.observes_size, "size"),
            ] {
                if observes && let Some(&i) = first_change.get(&(item.clone(), aspect)) {
                    d = d.min(i);
                }
            }
            if effects.writes_contents {
                changes.push((item.clone(), "contents"));
                let update = access.map(|t| (t.writes.clone(), instantiation_writes(p)));
                element_updates.push((item.clone(), update));
            }
            if effects.grows {
                changes.push((item, "size"));
            }
        }
        dep[j] = d;
        for change in changes {
            first_change.entry(change).or_insert(j);
        }
        for (item, update) in element_updates {
            let model = elements.entry(item).or_insert_with(|| Some(HashMap::new()));
            match (update, model.as_mut()) {
                (Some((writes, how)), Some(model)) => {
                    for n in writes {
                        match how {
                            InstantiationWrites::Definite => {
                                model.insert(n, vec![j]);
                            }
                            InstantiationWrites::Maybe => model.entry(n).or_default().push(j),
                            InstantiationWrites::None => {}
                        }
                    }
                }
                _ => *model = None,
            }
        }
        if let (Some(n), Some(m)) = (&p.defines, p.module) {
            module_of_def.insert(n, m);
        }
        if let Some(n) = &p.defines {
            last_def.insert(n, j);
        }
        if let Some(r) = &p.registers {
            last_register.insert(r, j);
            let module = match &p.register_instance {
                Some(name) => module_of_def.get(name.as_str()).copied(),
                None => last_module_index,
            };
            if let Some(m) = module.filter(|&m| facts[m as usize].replayable) {
                registered_module.insert(j, m);
            }
        }
        if p.is_module {
            last_module = Some(j);
            last_module_index = p.module;
        }
    }
    let mut cut = vec![None; n];
    let mut suffix_min = usize::MAX;
    for k in (0..n).rev() {
        suffix_min = suffix_min.min(dep[k]);
        if planned[k].command.is_some() && suffix_min >= k {
            // Re-create every replayable registration from before `k` that a directive from
            // `k` on still imports through.
            let mut replays: Vec<Replay> = Vec::new();
            for need in &needs[k..] {
                for (r, name) in need {
                    if *r < k && !replays.iter().any(|x| x.line == planned[*r].line) {
                        replays.push(Replay {
                            name: name.clone(),
                            module: registered_module[r],
                            line: planned[*r].line,
                        });
                    }
                }
            }
            replays.sort_by_key(|r| r.line);
            cut[k] = Some(replays);
        }
    }
    cut
}

/// What one file contributes.
struct PlannedFile {
    name: String,
    planned: Vec<Planned>,
    modules: Vec<std::result::Result<Vec<u8>, String>>,
    facts: Vec<ModuleFacts>,
    host: HostCounts,
    host_failures: Vec<HostFailure>,
}

fn plan_file(compiler: &Compiler, name: &str, contents: &str) -> Result<PlannedFile> {
    let mut lexer = wast::lexer::Lexer::new(contents);
    lexer.allow_confusing_unicode(true);
    let buf = ParseBuffer::new_with_lexer(lexer).with_context(|| format!("{name}: lex"))?;
    let wast = parser::parse::<Wast>(&buf).with_context(|| format!("{name}: parse"))?;
    let mut state = FileState {
        compiler,
        slots: HashMap::new(),
        modules: Vec::new(),
        facts: Vec::new(),
    };
    let mut planned = Vec::new();
    let mut host = HostCounts::default();
    let mut host_failures = Vec::new();
    for directive in wast.directives {
        let line = directive.span().linecol_in(contents).0 + 1;
        let p = match directive {
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => Planned::host(line, host_rejection(compiler, &mut module, message)),
            // A definition only (no `module instance` of it follows in the files the bundle
            // carries; one would be refused by `plan`): it must compile.
            WastDirective::ModuleDefinition(mut module) => {
                Planned::host(line, host_definition(compiler, &mut module))
            }
            d => plan(&mut state, line, d),
        };
        if let Some(outcome) = &p.host {
            match outcome {
                Ok(text_only) => {
                    host.passed += 1;
                    host.text_only += u32::from(*text_only);
                }
                Err(e) => {
                    host.failed += 1;
                    host_failures.push((name.to_string(), line, e.clone()));
                }
            }
        }
        planned.push(p);
    }
    Ok(PlannedFile {
        name: name.to_string(),
        planned,
        modules: state.modules,
        facts: state.facts,
        host,
        host_failures,
    })
}

/// Adds a planned file to `writer`; returns (segments, board cases, oversized segments).
fn write_file(
    writer: &mut BundleWriter,
    file: &PlannedFile,
) -> (usize, usize, Vec<(usize, usize)>) {
    let cut = cuts(&file.planned, &file.facts);
    writer.begin_file(&file.name);
    // Group board commands into segments: a segment starts at a cut (or the first command).
    let mut segments: Vec<(usize, Vec<Replay>, Vec<&Planned>)> = Vec::new();
    for (k, p) in file.planned.iter().enumerate() {
        if p.command.is_none() {
            continue;
        }
        // Cut at every allowed `module` directive; at other allowed points only when the
        // segment would otherwise hold more modules than a device loads.
        let loaded = segments.last().map_or(0, |(_, replays, commands)| {
            replays.len() + commands.iter().map(|p| p.modules).sum::<usize>()
        });
        match &cut[k] {
            Some(replays)
                if p.is_module
                    || segments.is_empty()
                    || loaded + p.modules > MAX_SEGMENT_MODULES =>
            {
                segments.push((p.line, replays.clone(), Vec::new()))
            }
            None if segments.is_empty() => segments.push((p.line, Vec::new(), Vec::new())),
            _ => {}
        }
        segments.last_mut().expect("a segment").2.push(p);
    }
    let add = |writer: &mut BundleWriter, m: u32| match &file.modules[m as usize] {
        Ok(image) => writer.module(image.clone()),
        Err(e) => writer.module_error(e),
    };
    let mut next_own = 0u32;
    let mut cases = 0;
    let mut oversized = Vec::new();
    let count = segments.len();
    for (line, replays, commands) in segments {
        let own: u32 = commands.iter().map(|p| p.modules as u32).sum();
        let total = own as usize + replays.len();
        if total > MAX_SEGMENT_MODULES {
            oversized.push((line, total));
        }
        // The segment's modules: copies of the re-created registered modules, then its own.
        let first = writer.modules_len();
        for r in &replays {
            add(writer, r.module);
        }
        for m in next_own..next_own + own {
            add(writer, m);
        }
        writer.command(
            0,
            &Command::BeginSegment {
                first,
                count: total as u32,
            },
        );
        for (i, r) in replays.iter().enumerate() {
            let line = r.line as u32;
            let module = first + i as u32;
            writer.setup_command(line, &Command::Module { module, slot: None });
            writer.setup_command(
                line,
                &Command::Register {
                    name: r.name.clone(),
                    instance: None,
                },
            );
        }
        let own_first = next_own;
        let map = |m: u32| first + replays.len() as u32 + (m - own_first);
        for p in commands {
            let command = rebase(p.command.as_ref().expect("board command"), &map);
            writer.command(p.line as u32, &command);
            cases += 1;
        }
        next_own += own;
    }
    writer.end_file(file.host);
    (count, cases, oversized)
}

/// File-local module indices to bundle indices.
fn rebase(c: &Command, map: &dyn Fn(u32) -> u32) -> Command {
    let action = |a: &Action| match a {
        Action::Instantiate(m) => Action::Instantiate(map(*m)),
        other => other.clone(),
    };
    match c {
        Command::Module { module, slot } => Command::Module {
            module: map(*module),
            slot: *slot,
        },
        Command::Action(a) => Command::Action(action(a)),
        Command::AssertReturn(a, e) => Command::AssertReturn(action(a), e.clone()),
        Command::AssertTrap(a, m) => Command::AssertTrap(action(a), m.clone()),
        Command::AssertExhaustion(a, m) => Command::AssertExhaustion(action(a), m.clone()),
        Command::AssertUnlinkable(module, m) => Command::AssertUnlinkable(map(*module), m.clone()),
        other => other.clone(),
    }
}

/// Digest of the compiler settings (recorded in every bundle header).
pub fn settings_digest(config: &CompilerConfig) -> u64 {
    let mut h = Fnv64::default();
    let _ = write!(h, "{config:?}");
    h.0
}

/// Builds bundles of `files` (each at most `max_bytes`) for AArch64 ([`compiler_config`]),
/// compiling on `jobs` threads.
pub fn generate(files: &[(String, &str)], max_bytes: usize, jobs: usize) -> Result<Generated> {
    generate_with(compiler_config(), files, max_bytes, jobs)
}

/// [`generate`] with other compiler settings (tests run bundles for the native target).
pub fn generate_with(
    config: CompilerConfig,
    files: &[(String, &str)],
    max_bytes: usize,
    jobs: usize,
) -> Result<Generated> {
    let target = u32::from(config.target().code());
    let settings = settings_digest(&config);
    // One compiler per proposal set: a file validates with the proposals it is written for.
    let mut compilers = std::collections::HashMap::new();
    for (name, _) in files {
        let proposals = crate::spec_runner::file_proposals(name);
        if let std::collections::hash_map::Entry::Vacant(e) = compilers.entry(proposals) {
            e.insert(
                Compiler::new(config.clone().proposals(proposals))
                    .context("compiler for the bundle's target")?,
            );
        }
    }
    let compilers = &compilers;
    // Plan (and compile) files in parallel, keeping their order.
    let next = std::sync::atomic::AtomicUsize::new(0);
    let mut planned: Vec<Option<Result<PlannedFile>>> = (0..files.len()).map(|_| None).collect();
    let results = std::sync::Mutex::new(&mut planned);
    std::thread::scope(|s| {
        for _ in 0..jobs.max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some((name, contents)) = files.get(i) else {
                        break;
                    };
                    let compiler = &compilers[&crate::spec_runner::file_proposals(name)];
                    let p = plan_file(compiler, name, contents);
                    results.lock().expect("results")[i] = Some(p);
                }
            });
        }
    });
    let mut out = Generated::default();
    let mut batches: Vec<BundleWriter> = vec![BundleWriter::new()];
    for p in planned {
        let file = p.expect("every file planned")?;
        // What the file adds to a bundle: written alone, less the header, plus alignment slack
        // for each image.
        let mut alone = BundleWriter::new();
        write_file(&mut alone, &file);
        let bytes = alone.encoded_len() - spec_bundle::format::HEADER_LEN
            + file.modules.len() * spec_bundle::format::IMAGE_ALIGN;
        if bytes + spec_bundle::format::HEADER_LEN > max_bytes {
            bail!("{}: {bytes} bytes do not fit in one bundle", file.name);
        }
        let current = batches.last().expect("a batch");
        if current.files_len() > 0 && current.encoded_len() + bytes > max_bytes {
            batches.push(BundleWriter::new());
        }
        out.files += 1;
        out.modules += file.modules.len();
        out.host_cases += (file.host.passed + file.host.failed) as usize;
        out.host_failures.extend(file.host_failures.iter().cloned());
        let name = file.name.clone();
        let (segments, cases, oversized) = write_file(batches.last_mut().expect("a batch"), &file);
        out.segments += segments;
        out.board_cases += cases;
        out.oversized_segments
            .extend(oversized.into_iter().map(|(l, m)| (name.clone(), l, m)));
    }
    let count = batches.len() as u16;
    for (i, w) in batches.into_iter().enumerate() {
        let bundle = w.finish(i as u16, count, target, settings);
        if bundle.len() > max_bytes {
            bail!(
                "bundle {i} is {} bytes, more than {max_bytes}",
                bundle.len()
            );
        }
        out.bundles.push(bundle);
    }
    Ok(out)
}
