//! Parsing and validation: a wasm binary in, a target-neutral module description out.
//!
//! [`parse`] runs wasmparser's [`Parser`] and [`Validator`] over every section in one pass and
//! collects what the backends and the image writer need: types, imports, the type of every
//! function, tables, memories, globals (with their initialisers as [`ConstOp`] programs),
//! exports, the start function, element and data segments (data bytes are borrowed from the
//! input), and which functions *escape* the module. Function bodies are not looked at here:
//! each comes back as a [`FunctionInput`] (wasmparser's [`FuncToValidate`] plus the
//! [`FunctionBody`]), and the backend validates the body while it translates it, so every body
//! is read exactly once.
//!
//! # Accepted language
//!
//! WebAssembly 2.0 ([`WasmFeatures::WASM2`]: mutable globals, non-trapping float-to-int,
//! sign extension, reference types, multi-value, bulk memory, SIMD) plus the [`Proposals`]
//! enabled for the compilation (by default all of them): multi-memory, memory64 (memories and
//! tables with 64-bit indices), custom page sizes, and extended constant expressions, which
//! only change constant expressions and are evaluated by the runtime from the [`ConstOp`]
//! lists. SIMD validates so that a module using it gets a precise "unsupported" error from the
//! translator rather than a validation error. Everything else (threads, tail calls,
//! exceptions, GC, ...) is refused by the validator, so it is reported as invalid input with
//! its offset.
//!
//! # Escaping functions
//!
//! A defined function needs an array-entry trampoline when something outside compiled code can
//! get hold of it: it is exported, it is the start function, it appears in an element segment
//! (active, passive or declarative), or a `ref.func` names it in a global initialiser or a
//! segment expression. `ref.func` inside a function body needs no scan: validation requires
//! that its target is *declared* in one of those places (the spec's set `C.refs`; wasmparser
//! reports "undeclared function reference" otherwise), so the places above already cover it.

pub mod fuel;
pub mod loops;
pub mod operators;

use std::ops::Range;

use shared_types::ValType;
use shared_types::metadata::{ConstOp, ExternKind, GlobalType, MemoryType, TableType};
use wasmparser::{
    AbstractHeapType, CompositeInnerType, DataKind, ElementKind, ExternalKind, FuncToValidate,
    FunctionBody, HeapType, Operator, Parser, Payload, RefType, TableInit, TypeRef, ValidPayload,
    Validator, ValidatorResources, WasmFeatures,
};

use crate::error::CompileError;

/// A function signature with owned value types.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct FuncSig {
    /// Parameters.
    pub params: Vec<ValType>,
    /// Results.
    pub results: Vec<ValType>,
}

/// A constant expression, without its final `end`.
pub type ConstExpr = Vec<ConstOp>;

/// The kind of an import, with its type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    /// A function of this type index.
    Func(u32),
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// An import, in module order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Import<'a> {
    /// Module name.
    pub module: &'a str,
    /// Field name.
    pub name: &'a str,
    /// What is imported.
    pub kind: ImportKind,
}

/// An export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Export<'a> {
    /// Export name.
    pub name: &'a str,
    /// Kind of the exported entity.
    pub kind: ExternKind,
    /// Index in that kind's index space.
    pub index: u32,
}

/// When and where a segment is applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SegmentMode {
    /// Copied into table or memory `index` at `offset` during instantiation.
    Active {
        /// Table or memory index.
        index: u32,
        /// Offset expression.
        offset: ConstExpr,
    },
    /// Used by `table.init` / `memory.init`.
    Passive,
    /// Declarative element segment (only declares `ref.func` targets).
    Declared,
}

/// The items of an element segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ElementItems {
    /// Function indices.
    Functions(Vec<u32>),
    /// Constant expressions.
    Expressions(Vec<ConstExpr>),
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElementSegment {
    /// Mode.
    pub mode: SegmentMode,
    /// Element type ([`ValType::FuncRef`] or [`ValType::ExternRef`]).
    pub element: ValType,
    /// Items.
    pub items: ElementItems,
}

/// A data segment; the bytes borrow from the input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataSegment<'a> {
    /// Mode (never [`SegmentMode::Declared`]).
    pub mode: SegmentMode,
    /// Contents.
    pub bytes: &'a [u8],
}

/// A defined global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalDef {
    /// Type.
    pub ty: GlobalType,
    /// Initialiser.
    pub init: ConstExpr,
}

/// The module, target-neutral. Index spaces count imports first; vectors named "all" hold
/// imported entities first, then defined ones.
#[derive(Clone, Debug, Default)]
pub struct ModuleInfo<'a> {
    /// Function types by type index.
    pub types: Vec<FuncSig>,
    /// Imports in module order.
    pub imports: Vec<Import<'a>>,
    /// Type index of every function (all).
    pub func_types: Vec<u32>,
    /// Number of imported functions.
    pub num_imported_funcs: u32,
    /// Every table (all).
    pub tables: Vec<TableType>,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Every memory (all).
    pub memories: Vec<MemoryType>,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Every global's type (all).
    pub globals: Vec<GlobalType>,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// Initialisers of the defined globals, in order.
    pub global_inits: Vec<ConstExpr>,
    /// Exports.
    pub exports: Vec<Export<'a>>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<ElementSegment>,
    /// Data segments.
    pub data: Vec<DataSegment<'a>>,
    /// For every function (all): whether it escapes the module (see the module docs).
    pub escapes: Vec<bool>,
    /// Bytes of the code section (the function bodies).
    pub code_bytes: usize,
}

impl ModuleInfo<'_> {
    /// Number of defined functions.
    pub fn num_defined_funcs(&self) -> u32 {
        self.func_types.len() as u32 - self.num_imported_funcs
    }

    /// Whether defined function `index` (module index) needs an array-entry trampoline.
    pub fn needs_array_trampoline(&self, index: u32) -> bool {
        index >= self.num_imported_funcs
            && self.escapes.get(index as usize).copied().unwrap_or(false)
    }

    /// Distinct type indices of the imported functions, ascending: one wasm-to-array trampoline
    /// is compiled for each.
    pub fn imported_func_types(&self) -> Vec<u32> {
        let mut types: Vec<u32> = self.func_types[..self.num_imported_funcs as usize].to_vec();
        types.sort_unstable();
        types.dedup();
        types
    }

    /// The entity counts the vmctx layout is computed from.
    pub fn counts(&self) -> shared_types::vmoffsets::ModuleCounts {
        shared_types::vmoffsets::ModuleCounts {
            num_types: self.types.len() as u32,
            num_imported_funcs: self.num_imported_funcs,
            num_defined_funcs: self.num_defined_funcs(),
            num_imported_tables: self.num_imported_tables,
            num_defined_tables: self.tables.len() as u32 - self.num_imported_tables,
            num_imported_memories: self.num_imported_memories,
            num_defined_memories: self.memories.len() as u32 - self.num_imported_memories,
            num_imported_globals: self.num_imported_globals,
            num_defined_globals: self.globals.len() as u32 - self.num_imported_globals,
        }
    }
}

/// A function body still to be validated and compiled.
pub struct FunctionInput<'a> {
    /// Function index (imports included).
    pub index: u32,
    /// The validator for this body (its resources are shared with the module validator).
    pub validator: FuncToValidate<ValidatorResources>,
    /// The body.
    pub body: FunctionBody<'a>,
}

impl std::fmt::Debug for FunctionInput<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FunctionInput")
            .field("index", &self.index)
            .field("range", &self.range())
            .finish()
    }
}

impl FunctionInput<'_> {
    /// Byte range of the body in the input.
    pub fn range(&self) -> Range<usize> {
        let r = self.body.range();
        r.start as usize..r.end as usize
    }
}

/// The post-2.0 proposals a compilation accepts on top of WebAssembly 2.0
/// ([`CompilerConfig::proposals`](crate::CompilerConfig::proposals)). Each one only widens
/// what is valid, so a module that does not use it compiles to the same image either way.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Proposals {
    /// Several memories per module, memory indices on every memory instruction.
    pub multi_memory: bool,
    /// 64-bit memory (and table) indices.
    pub memory64: bool,
    /// Memories with 1-byte pages (`(pagesize 1)`).
    pub custom_page_sizes: bool,
    /// `i32/i64.add/sub/mul` in constant expressions.
    pub extended_const: bool,
}

impl Proposals {
    /// WebAssembly 2.0 exactly: nothing beyond it.
    pub const NONE: Proposals = Proposals {
        multi_memory: false,
        memory64: false,
        custom_page_sizes: false,
        extended_const: false,
    };
    /// Every proposal this toolchain implements (the default).
    pub const ALL: Proposals = Proposals {
        multi_memory: true,
        memory64: true,
        custom_page_sizes: true,
        extended_const: true,
    };

    /// This set with the proposal named as in the testsuite's `proposals/<name>` directories
    /// and the CLI's `--proposals` list (`multi-memory`, `memory64`, `custom-page-sizes`,
    /// `extended-const`) enabled; `None` for an unknown name.
    pub fn with(mut self, name: &str) -> Option<Proposals> {
        match name {
            "multi-memory" => self.multi_memory = true,
            "memory64" => self.memory64 = true,
            "custom-page-sizes" => self.custom_page_sizes = true,
            "extended-const" => self.extended_const = true,
            _ => return None,
        }
        Some(self)
    }

    /// Parses the command line's list: `all`, `none` (WebAssembly 2.0 exactly), or proposal
    /// names separated by commas (`multi-memory,memory64`). `None` for an unknown name.
    pub fn parse_list(list: &str) -> Option<Proposals> {
        match list.trim() {
            "all" => Some(Proposals::ALL),
            "none" | "" => Some(Proposals::NONE),
            names => names
                .split(',')
                .try_fold(Proposals::NONE, |p, name| p.with(name.trim())),
        }
    }

    /// The wasmparser features for this set: WebAssembly 2.0 plus the enabled proposals.
    pub fn features(self) -> WasmFeatures {
        let mut f = WasmFeatures::WASM2;
        f.set(WasmFeatures::MULTI_MEMORY, self.multi_memory);
        f.set(WasmFeatures::MEMORY64, self.memory64);
        f.set(WasmFeatures::CUSTOM_PAGE_SIZES, self.custom_page_sizes);
        f.set(WasmFeatures::EXTENDED_CONST, self.extended_const);
        f
    }
}

impl Default for Proposals {
    fn default() -> Proposals {
        Proposals::ALL
    }
}

/// Parses and validates everything but the function bodies with every implemented proposal
/// enabled ([`parse_with`] with [`Proposals::ALL`]).
pub fn parse(wasm: &[u8]) -> Result<(ModuleInfo<'_>, Vec<FunctionInput<'_>>), CompileError> {
    parse_with(wasm, Proposals::ALL)
}

/// Parses and validates everything but the function bodies, which are returned for the backend.
pub fn parse_with(
    wasm: &[u8],
    proposals: Proposals,
) -> Result<(ModuleInfo<'_>, Vec<FunctionInput<'_>>), CompileError> {
    let invalid = |e: wasmparser::BinaryReaderError| CompileError::invalid(None, &e);
    let features = proposals.features();
    let mut validator = Validator::new_with_features(features);
    let mut module = ModuleInfo::default();
    let mut bodies = Vec::new();
    let mut escapes: Vec<u32> = Vec::new();

    // The parser's features decide the *binary encoding* (independently of the validator's):
    // with the default (all features) wasmparser reads memory limits as u64 LEB128 (memory64)
    // and the reserved byte of `memory.size`/`memory.grow` as a LEB128 memory index
    // (multi-memory), so it would accept over-long encodings WebAssembly 2.0 forbids ("integer
    // representation too long", "zero byte expected"). Every function body's reader inherits
    // these features.
    let mut parser = Parser::new(0);
    parser.set_features(features);
    for payload in parser.parse_all(wasm) {
        let payload = payload.map_err(invalid)?;
        let valid = validator.payload(&payload).map_err(invalid)?;
        match payload {
            Payload::TypeSection(reader) => {
                for group in reader {
                    let group = group.map_err(invalid)?;
                    for (offset, sub) in group.into_types_and_offsets() {
                        let offset = offset as usize;
                        match &sub.composite_type.inner {
                            CompositeInnerType::Func(ft) => module.types.push(FuncSig {
                                params: val_types(ft.params(), offset)?,
                                results: val_types(ft.results(), offset)?,
                            }),
                            _ => {
                                return Err(CompileError::unsupported(
                                    None,
                                    offset,
                                    "non-function type",
                                ));
                            }
                        }
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.into_imports_with_offsets() {
                    let (offset, import) = import.map_err(invalid)?;
                    let offset = offset as usize;
                    let kind = match import.ty {
                        TypeRef::Func(type_index) => {
                            module.func_types.push(type_index);
                            module.num_imported_funcs += 1;
                            ImportKind::Func(type_index)
                        }
                        TypeRef::Table(t) => {
                            let t = table_type(&t, offset)?;
                            module.tables.push(t);
                            module.num_imported_tables += 1;
                            ImportKind::Table(t)
                        }
                        TypeRef::Memory(m) => {
                            let m = memory_type(&m);
                            module.memories.push(m);
                            module.num_imported_memories += 1;
                            ImportKind::Memory(m)
                        }
                        TypeRef::Global(g) => {
                            let g = global_type(&g, offset)?;
                            module.globals.push(g);
                            module.num_imported_globals += 1;
                            ImportKind::Global(g)
                        }
                        TypeRef::Tag(_) | TypeRef::FuncExact(_) => {
                            return Err(CompileError::unsupported(None, offset, "import kind"));
                        }
                    };
                    module.imports.push(Import {
                        module: import.module,
                        name: import.name,
                        kind,
                    });
                }
            }
            Payload::FunctionSection(reader) => {
                for type_index in reader {
                    module.func_types.push(type_index.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, table) = item.map_err(invalid)?;
                    let offset = offset as usize;
                    if let TableInit::Expr(_) = table.init {
                        return Err(CompileError::unsupported(
                            None,
                            offset,
                            "table initialiser expression",
                        ));
                    }
                    module.tables.push(table_type(&table.ty, offset)?);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    module.memories.push(memory_type(&memory.map_err(invalid)?));
                }
            }
            Payload::GlobalSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, global) = item.map_err(invalid)?;
                    let offset = offset as usize;
                    module.globals.push(global_type(&global.ty, offset)?);
                    let init = const_expr(&global.init_expr, &mut escapes)?;
                    module.global_inits.push(init);
                }
            }
            Payload::ExportSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, export) = item.map_err(invalid)?;
                    let offset = offset as usize;
                    let kind = match export.kind {
                        ExternalKind::Func => {
                            escapes.push(export.index);
                            ExternKind::Func
                        }
                        ExternalKind::Table => ExternKind::Table,
                        ExternalKind::Memory => ExternKind::Memory,
                        ExternalKind::Global => ExternKind::Global,
                        ExternalKind::Tag | ExternalKind::FuncExact => {
                            return Err(CompileError::unsupported(None, offset, "export kind"));
                        }
                    };
                    module.exports.push(Export {
                        name: export.name,
                        kind,
                        index: export.index,
                    });
                }
            }
            Payload::StartSection { func, .. } => {
                escapes.push(func);
                module.start = Some(func);
            }
            Payload::ElementSection(reader) => {
                for item in reader.into_iter_with_offsets() {
                    let (offset, element) = item.map_err(invalid)?;
                    let offset = offset as usize;
                    let mode = match element.kind {
                        ElementKind::Passive => SegmentMode::Passive,
                        ElementKind::Declared => SegmentMode::Declared,
                        ElementKind::Active {
                            table_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: table_index.unwrap_or(0),
                            offset: const_expr(&offset_expr, &mut escapes)?,
                        },
                    };
                    let (element_type, items) = match element.items {
                        wasmparser::ElementItems::Functions(reader) => {
                            let mut functions = Vec::new();
                            for f in reader {
                                let f = f.map_err(invalid)?;
                                escapes.push(f);
                                functions.push(f);
                            }
                            (ValType::FuncRef, ElementItems::Functions(functions))
                        }
                        wasmparser::ElementItems::Expressions(ty, reader) => {
                            let mut exprs = Vec::new();
                            for e in reader {
                                exprs.push(const_expr(&e.map_err(invalid)?, &mut escapes)?);
                            }
                            (ref_type(ty, offset)?, ElementItems::Expressions(exprs))
                        }
                    };
                    module.elements.push(ElementSegment {
                        mode,
                        element: element_type,
                        items,
                    });
                }
            }
            Payload::DataSection(reader) => {
                for data in reader {
                    let data = data.map_err(invalid)?;
                    let mode = match data.kind {
                        DataKind::Passive => SegmentMode::Passive,
                        DataKind::Active {
                            memory_index,
                            offset_expr,
                        } => SegmentMode::Active {
                            index: memory_index,
                            offset: const_expr(&offset_expr, &mut escapes)?,
                        },
                    };
                    module.data.push(DataSegment {
                        mode,
                        bytes: data.data,
                    });
                }
            }
            Payload::CodeSectionStart { size, .. } => {
                module.code_bytes = size as usize;
            }
            Payload::CodeSectionEntry(_) => {
                let ValidPayload::Func(validator, body) = valid else {
                    unreachable!(
                        "wasmparser returns ValidPayload::Func for every code section entry"
                    )
                };
                bodies.push(FunctionInput {
                    index: validator.index,
                    validator,
                    body,
                });
            }
            _ => {}
        }
    }

    module.escapes = vec![false; module.func_types.len()];
    for f in escapes {
        // Indices were validated; `get_mut` keeps a validator bug from becoming a panic.
        if let Some(e) = module.escapes.get_mut(f as usize) {
            *e = true;
        }
    }
    Ok((module, bodies))
}

fn val_types(types: &[wasmparser::ValType], offset: usize) -> Result<Vec<ValType>, CompileError> {
    types.iter().map(|t| val_type(*t, offset)).collect()
}

/// Converts a wasmparser value type.
pub fn val_type(ty: wasmparser::ValType, offset: usize) -> Result<ValType, CompileError> {
    Ok(match ty {
        wasmparser::ValType::I32 => ValType::I32,
        wasmparser::ValType::I64 => ValType::I64,
        wasmparser::ValType::F32 => ValType::F32,
        wasmparser::ValType::F64 => ValType::F64,
        wasmparser::ValType::V128 => ValType::V128,
        wasmparser::ValType::Ref(r) => ref_type(r, offset)?,
    })
}

fn ref_type(ty: RefType, offset: usize) -> Result<ValType, CompileError> {
    match ty.heap_type() {
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Func,
        } if ty.is_nullable() => Ok(ValType::FuncRef),
        HeapType::Abstract {
            shared: false,
            ty: AbstractHeapType::Extern,
        } if ty.is_nullable() => Ok(ValType::ExternRef),
        _ => Err(CompileError::unsupported(
            None,
            offset,
            format!("reference type {ty}"),
        )),
    }
}

fn table_type(t: &wasmparser::TableType, offset: usize) -> Result<TableType, CompileError> {
    Ok(TableType {
        element: ref_type(t.element_type, offset)?.code(),
        min: t.initial,
        max: t.maximum,
        index64: t.table64,
    })
}

fn memory_type(m: &wasmparser::MemoryType) -> MemoryType {
    MemoryType {
        min: m.initial,
        max: m.maximum,
        index64: m.memory64,
        page_size_log2: m.page_size_log2.map_or(16, |p| p as u8),
        shared: m.shared,
    }
}

fn global_type(g: &wasmparser::GlobalType, offset: usize) -> Result<GlobalType, CompileError> {
    Ok(GlobalType {
        ty: val_type(g.content_type, offset)?.code(),
        mutable: g.mutable,
    })
}

/// Converts a (validated) constant expression, recording `ref.func` targets in `escapes`.
fn const_expr(
    expr: &wasmparser::ConstExpr<'_>,
    escapes: &mut Vec<u32>,
) -> Result<ConstExpr, CompileError> {
    let mut reader = expr.get_operators_reader();
    let mut ops = Vec::new();
    loop {
        let (op, offset) = reader
            .read_with_offset()
            .map_err(|e| CompileError::invalid(None, &e))?;
        let offset = offset as usize;
        ops.push(match op {
            Operator::End => break,
            Operator::I32Const { value } => ConstOp::I32Const(value),
            Operator::I64Const { value } => ConstOp::I64Const(value),
            Operator::F32Const { value } => ConstOp::F32Const(value.bits()),
            Operator::F64Const { value } => ConstOp::F64Const(value.bits()),
            Operator::RefNull { hty } => {
                let ty = match hty {
                    HeapType::Abstract {
                        shared: false,
                        ty: AbstractHeapType::Func,
                    } => ValType::FuncRef,
                    HeapType::Abstract {
                        shared: false,
                        ty: AbstractHeapType::Extern,
                    } => ValType::ExternRef,
                    _ => {
                        return Err(CompileError::unsupported(
                            None,
                            offset,
                            "ref.null of this heap type",
                        ));
                    }
                };
                ConstOp::RefNull(ty.code())
            }
            Operator::RefFunc { function_index } => {
                escapes.push(function_index);
                ConstOp::RefFunc(function_index)
            }
            Operator::GlobalGet { global_index } => ConstOp::GlobalGet(global_index),
            Operator::I32Add => ConstOp::I32Add,
            Operator::I32Sub => ConstOp::I32Sub,
            Operator::I32Mul => ConstOp::I32Mul,
            Operator::I64Add => ConstOp::I64Add,
            Operator::I64Sub => ConstOp::I64Sub,
            Operator::I64Mul => ConstOp::I64Mul,
            other => {
                return Err(CompileError::unsupported(
                    None,
                    offset,
                    format!("constant expression operator {other:?}"),
                ));
            }
        });
    }
    Ok(ops)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_wat(wat: &str) -> (ModuleInfo<'static>, usize) {
        let wasm: &'static [u8] = Box::leak(wat::parse_str(wat).unwrap().into_boxed_slice());
        let (m, bodies) = parse(wasm).unwrap();
        (m, bodies.len())
    }

    #[test]
    fn collects_sections_and_escaping_functions() {
        let (m, n) = parse_wat(
            r#"(module
                (type $t (func (param i32) (result i32)))
                (import "env" "f" (func $imp (type $t)))
                (import "env" "g" (global $g i32))
                (import "env" "h" (func (param i64)))
                (table 4 funcref)
                (memory 1 2)
                (global $x (mut i64) (i64.const 7))
                (global $y funcref (ref.func $c))
                (func $a (type $t) local.get 0)
                (func $b (type $t) local.get 0)
                (func $c (type $t) local.get 0)
                (func $d (type $t) local.get 0)
                (func $e (type $t) local.get 0)
                (func $s)
                (export "a" (func $a))
                (start $s)
                (elem (i32.const 1) $b)
                (elem declare func $d)
                (data (i32.const 8) "hello")
                (data "passive"))"#,
        );
        assert_eq!(n, 6);
        assert_eq!(m.num_imported_funcs, 2);
        assert_eq!(m.func_types, vec![0, 1, 0, 0, 0, 0, 0, 2]);
        assert_eq!(m.imported_func_types(), vec![0, 1]);
        assert_eq!(
            m.global_inits,
            vec![vec![ConstOp::I64Const(7)], vec![ConstOp::RefFunc(4)]]
        );
        assert_eq!(m.globals.len(), 3);
        assert_eq!(m.memories[0].max, Some(2));
        assert_eq!(m.memories[0].page_size_log2, 16);
        assert_eq!(m.start, Some(7));
        // a (exported), b (active elem), c (global ref.func), d (declared), s (start); not e.
        let escaping: Vec<u32> = (0..8).filter(|&i| m.needs_array_trampoline(i)).collect();
        assert_eq!(escaping, vec![2, 3, 4, 5, 7]);
        assert_eq!(m.data[0].bytes, b"hello");
        assert_eq!(m.data[1].mode, SegmentMode::Passive);
        assert_eq!(
            m.elements[0].mode,
            SegmentMode::Active {
                index: 0,
                offset: vec![ConstOp::I32Const(1)]
            }
        );
        assert_eq!(m.elements[1].mode, SegmentMode::Declared);
        assert_eq!(m.counts().num_defined_globals, 2);
    }

    #[test]
    fn extended_const_is_accepted() {
        let (m, _) = parse_wat(
            r#"(module (import "a" "g" (global $g i32)) (global i32 (i32.add (global.get $g) (i32.const 2))))"#,
        );
        assert_eq!(
            m.global_inits[0],
            vec![ConstOp::GlobalGet(0), ConstOp::I32Const(2), ConstOp::I32Add]
        );
    }

    #[test]
    fn undeclared_ref_func_in_a_body_is_invalid() {
        // Justifies not scanning bodies for `ref.func`: validation rejects undeclared targets.
        let wasm =
            wat::parse_str(r#"(module (func $f) (func (result funcref) ref.func $f))"#).unwrap();
        let (_, bodies) = parse(&wasm).unwrap();
        let mut failed = false;
        for input in bodies {
            let mut v = input.validator.into_validator(Default::default());
            let mut reader = input.body.get_operators_reader().unwrap();
            while !reader.eof() {
                let (op, offset) = reader.read_with_offset().unwrap();
                if let Err(e) = v.op(offset, &op) {
                    assert!(
                        e.message().contains("undeclared function reference"),
                        "{}",
                        e.message()
                    );
                    failed = true;
                    break;
                }
            }
        }
        assert!(failed);
    }

    #[test]
    fn proposal_lists() {
        assert_eq!(Proposals::parse_list("all"), Some(Proposals::ALL));
        assert_eq!(Proposals::parse_list("none"), Some(Proposals::NONE));
        assert_eq!(
            Proposals::parse_list("memory64, multi-memory"),
            Some(Proposals {
                memory64: true,
                multi_memory: true,
                ..Proposals::NONE
            })
        );
        assert_eq!(
            Proposals::parse_list("multi-memory,memory64,custom-page-sizes,extended-const"),
            Some(Proposals::ALL)
        );
        assert_eq!(Proposals::parse_list("memory64,threads"), None);
    }

    #[test]
    fn proposals_outside_the_accepted_set_are_invalid() {
        // Each proposal is refused when it is off (alone, or with every other one on), and
        // what no proposal enables is refused always.
        let all_but_memory64 = Proposals {
            memory64: false,
            ..Proposals::ALL
        };
        let all_but_multi_memory = Proposals {
            multi_memory: false,
            ..Proposals::ALL
        };
        let all_but_page_sizes = Proposals {
            custom_page_sizes: false,
            ..Proposals::ALL
        };
        for (wat, proposals) in [
            ("(module (memory i64 1))", Proposals::NONE),
            ("(module (memory i64 1))", all_but_memory64),
            ("(module (memory 1) (memory 1))", Proposals::NONE),
            ("(module (memory 1) (memory 1))", all_but_multi_memory),
            ("(module (memory 1 (pagesize 1)))", Proposals::NONE),
            ("(module (memory 1 (pagesize 1)))", all_but_page_sizes),
            ("(module (func (return_call 0)))", Proposals::NONE),
            ("(module (func (return_call 0)))", Proposals::ALL),
        ] {
            let wasm = wat::parse_str(wat).unwrap();
            let r = parse_with(&wasm, proposals).and_then(|(_, bodies)| {
                for input in bodies {
                    let mut v = input.validator.into_validator(Default::default());
                    let mut reader = input.body.get_operators_reader().unwrap();
                    while !reader.eof() {
                        let (op, offset) = reader.read_with_offset().unwrap();
                        v.op(offset, &op)
                            .map_err(|e| CompileError::invalid(Some(input.index), &e))?;
                    }
                }
                Ok(())
            });
            assert!(
                matches!(r, Err(CompileError::Invalid { .. })),
                "{wat}: {r:?}"
            );
        }
    }

    /// `\0asm` version 1 followed by one section.
    fn with_section(id: u8, contents: &[u8]) -> Vec<u8> {
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(id);
        wasm.push(u8::try_from(contents.len()).unwrap());
        wasm.extend_from_slice(contents);
        wasm
    }

    /// `wasm` is invalid WebAssembly 2.0 ([`Proposals::NONE`]).
    fn expect_invalid(wasm: &[u8], offset: usize, message: &str) {
        match parse_with(wasm, Proposals::NONE) {
            Err(CompileError::Invalid {
                location,
                message: m,
            }) => {
                assert_eq!(location.func_index, None, "{m}");
                assert_eq!(location.offset, offset, "{m}");
                assert!(m.contains(message), "{m:?} does not contain {message:?}");
            }
            other => panic!("expected invalid ({message}), got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn memory_limits_are_u32_leb128() {
        // 5-byte encodings of 2 are fine.
        let wasm = with_section(5, b"\x01\x01\x82\x80\x80\x80\x00\x82\x80\x80\x80\x00");
        let (m, _) = parse(&wasm).unwrap();
        assert_eq!((m.memories[0].min, m.memories[0].max), (2, Some(2)));
        // WebAssembly 2.0 limits are u32: a 6th byte is too long (memory64 would read u64).
        // Section contents start at offset 10; the error is at the last byte of the LEB128.
        let wasm = with_section(5, b"\x01\x00\x82\x80\x80\x80\x80\x00");
        expect_invalid(&wasm, 16, "integer representation too long");
        let wasm = with_section(5, b"\x01\x01\x82\x00\x82\x80\x80\x80\x80\x00");
        expect_invalid(&wasm, 18, "integer representation too long");
        // The same for an imported memory: `(import "" "" (memory 2))` with a 6-byte minimum.
        let wasm = with_section(2, b"\x01\x00\x00\x02\x00\x82\x80\x80\x80\x80\x00");
        expect_invalid(&wasm, 19, "integer representation too long");
    }

    #[test]
    fn malformed_input_reports_an_offset() {
        let err = parse(b"\0asm\x01\0\0\0\x01\x05").unwrap_err();
        let CompileError::Invalid { location, .. } = err else {
            panic!("{err:?}")
        };
        assert_eq!(location.func_index, None);
        assert!(location.offset >= 8);
    }
}
