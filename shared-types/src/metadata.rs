//! The module description that follows the image header.
//!
//! Written by the host compiler (`host-compiler/src/image`) with postcard; read by the device
//! runtime in place, borrowing strings, signatures and segment bytes from the image (see
//! [`crate::seq`] for how lists decode without an allocator).
//!
//! Index spaces follow WebAssembly: function, table, memory and global indices count imports
//! first, then definitions. Lists named "defined" hold only the definitions, in index order.
//! Text offsets are relative to the first byte of the text section.

use core::fmt;
use serde::{Deserialize, Serialize};

use crate::seq::{FixedRecord, FixedTable, Seq, le_u32};
use crate::types::{FuncType, ValType};
use crate::vmoffsets::ModuleCounts;

/// The metadata record. Field order is the wire order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Metadata<'a> {
    /// Function types, indexed by the module's type index.
    #[serde(borrow)]
    pub types: Seq<'a, FuncType<'a>>,
    /// Imports in module order.
    #[serde(borrow)]
    pub imports: Seq<'a, Import<'a>>,
    /// Defined functions, in function-index order after the imported ones.
    #[serde(borrow)]
    pub functions: FixedTable<'a, FunctionEntry>,
    /// Defined tables.
    #[serde(borrow)]
    pub tables: Seq<'a, TableType>,
    /// Defined memories.
    #[serde(borrow)]
    pub memories: Seq<'a, MemoryType>,
    /// Defined globals with their initialisers.
    #[serde(borrow)]
    pub globals: Seq<'a, GlobalDef<'a>>,
    /// Exports.
    #[serde(borrow)]
    pub exports: Seq<'a, Export<'a>>,
    /// Start function index.
    pub start: Option<u32>,
    /// Element segments, by element index.
    #[serde(borrow)]
    pub elements: Seq<'a, ElementSegment<'a>>,
    /// Data segments, by data index.
    #[serde(borrow)]
    pub data: Seq<'a, DataSegment<'a>>,
    /// Trap table, sorted by text offset, no duplicate offsets.
    #[serde(borrow)]
    pub traps: FixedTable<'a, TrapEntry>,
    /// Entity counts the `VmOffsets` layout was computed from.
    pub counts: ModuleCounts,
    /// Code-generation settings the device must honour.
    pub tunables: Tunables,
}

/// An import.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Import<'a> {
    /// Module name.
    pub module: &'a str,
    /// Field name.
    pub name: &'a str,
    /// What is imported.
    pub kind: ImportKind,
}

/// The kind of an import.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ImportKind {
    /// A function of `type_index`. `wasm_to_array_trampoline` is the text offset of a trampoline
    /// with the wasm calling convention of that type that forwards to a host function through
    /// the array convention (see [`crate::vmoffsets`], "Calling conventions").
    Func {
        /// Type index.
        type_index: u32,
        /// Text offset of the wasm-to-array trampoline for this import's type.
        wasm_to_array_trampoline: u32,
    },
    /// A table.
    Table(TableType),
    /// A memory.
    Memory(MemoryType),
    /// A global.
    Global(GlobalType),
}

/// A defined function: fixed 16-byte record.
///
/// ```text
/// 0x0 u32 type index
/// 0x4 u32 text offset of the body (wasm calling convention)
/// 0x8 u32 length of the body in bytes
/// 0xC u32 text offset of its array-entry trampoline, or NO_TRAMPOLINE
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FunctionEntry {
    /// Type index.
    pub type_index: u32,
    /// Text offset of the body.
    pub offset: u32,
    /// Length of the body.
    pub len: u32,
    /// Text offset of the array-entry trampoline ([`NO_TRAMPOLINE`] if the function never
    /// escapes the module: not exported, not in a table, not referenced by `ref.func`, not start).
    pub array_trampoline: u32,
}

/// Marks a function without an array-entry trampoline.
pub const NO_TRAMPOLINE: u32 = u32::MAX;

impl FixedRecord for FunctionEntry {
    const SIZE: usize = 16;
    fn decode(b: &[u8]) -> Self {
        FunctionEntry {
            type_index: le_u32(b, 0),
            offset: le_u32(b, 4),
            len: le_u32(b, 8),
            array_trampoline: le_u32(b, 12),
        }
    }
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.type_index.to_le_bytes());
        out[4..8].copy_from_slice(&self.offset.to_le_bytes());
        out[8..12].copy_from_slice(&self.len.to_le_bytes());
        out[12..16].copy_from_slice(&self.array_trampoline.to_le_bytes());
    }
}

/// A trap site: fixed 8-byte record `u32 text offset, u8 TrapCode, 3 zero bytes`. The offset is
/// that of the faulting instruction (the `udf`/`ud2`, or a load/store that may fault on a guard).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrapEntry {
    /// Text offset of the instruction.
    pub offset: u32,
    /// [`crate::TrapCode`] byte.
    pub code: u8,
}

impl FixedRecord for TrapEntry {
    const SIZE: usize = 8;
    fn decode(b: &[u8]) -> Self {
        TrapEntry {
            offset: le_u32(b, 0),
            code: b[4],
        }
    }
    fn encode(&self, out: &mut [u8]) {
        out[0..4].copy_from_slice(&self.offset.to_le_bytes());
        out[4] = self.code;
        out[5..8].fill(0);
    }
}

/// Table type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableType {
    /// Element type code ([`ValType::FuncRef`] or [`ValType::ExternRef`]).
    pub element: u8,
    /// Minimum size in elements.
    pub min: u64,
    /// Maximum size in elements.
    pub max: Option<u64>,
    /// 64-bit index type (table64).
    pub index64: bool,
}

/// How compiled code checks memory accesses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoundsChecks {
    /// Every access compares its end with the current length and traps explicitly.
    Explicit,
    /// No check: relies on a virtual reservation of `reservation` bytes plus a guard region,
    /// which the board must provide.
    GuardElided,
}

/// Memory type, plus how the compiled code accesses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryType {
    /// Minimum size in pages.
    pub min: u64,
    /// Maximum size in pages.
    pub max: Option<u64>,
    /// 64-bit index type (memory64).
    pub index64: bool,
    /// log2 of the page size (16 for 64 KiB pages).
    pub page_size_log2: u8,
    /// Shared memory (threads); refused by the runtime for now.
    pub shared: bool,
}

impl MemoryType {
    /// Page size in bytes.
    pub fn page_size(&self) -> u64 {
        1u64 << (self.page_size_log2.min(63))
    }
}

/// Global type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalType {
    /// Value type code.
    pub ty: u8,
    /// Whether `global.set` is allowed.
    pub mutable: bool,
}

/// A defined global.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct GlobalDef<'a> {
    /// Type.
    pub ty: GlobalType,
    /// Initialiser.
    #[serde(borrow)]
    pub init: ConstExpr<'a>,
}

/// A constant expression: a short program for a stack machine, evaluated at instantiation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ConstExpr<'a> {
    /// Operators in order; the result is the single value left on the stack.
    #[serde(borrow)]
    pub ops: Seq<'a, ConstOp>,
}

/// An operator allowed in a constant expression (WebAssembly 2.0 plus extended-const).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ConstOp {
    /// `i32.const`.
    I32Const(i32),
    /// `i64.const`.
    I64Const(i64),
    /// `f32.const` (bits).
    F32Const(u32),
    /// `f64.const` (bits).
    F64Const(u64),
    /// `ref.null` of a [`ValType`] code.
    RefNull(u8),
    /// `ref.func`.
    RefFunc(u32),
    /// `global.get` of an (imported, immutable) global.
    GlobalGet(u32),
    /// `i32.add`.
    I32Add,
    /// `i32.sub`.
    I32Sub,
    /// `i32.mul`.
    I32Mul,
    /// `i64.add`.
    I64Add,
    /// `i64.sub`.
    I64Sub,
    /// `i64.mul`.
    I64Mul,
}

/// What an export names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum ExternKind {
    /// A function.
    Func,
    /// A table.
    Table,
    /// A memory.
    Memory,
    /// A global.
    Global,
}

impl fmt::Display for ExternKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExternKind::Func => "func",
            ExternKind::Table => "table",
            ExternKind::Memory => "memory",
            ExternKind::Global => "global",
        })
    }
}

/// An export.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Export<'a> {
    /// Export name.
    pub name: &'a str,
    /// Kind.
    pub kind: ExternKind,
    /// Index in the kind's index space.
    pub index: u32,
}

/// When and where a segment is applied.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum SegmentMode<'a> {
    /// Applied at instantiation to `index` (table or memory) at `offset`, then dropped.
    Active {
        /// Table or memory index.
        index: u32,
        /// Offset expression.
        #[serde(borrow)]
        offset: ConstExpr<'a>,
    },
    /// Used by `table.init` / `memory.init` until dropped.
    Passive,
    /// Declarative (elements only): dropped at instantiation.
    Declared,
}

/// The items of an element segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ElementItems<'a> {
    /// Function indices.
    #[serde(borrow)]
    Functions(Seq<'a, u32>),
    /// Constant expressions of the segment's element type.
    #[serde(borrow)]
    Expressions(Seq<'a, ConstExpr<'a>>),
}

/// An element segment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ElementSegment<'a> {
    /// Mode.
    #[serde(borrow)]
    pub mode: SegmentMode<'a>,
    /// Element type code.
    pub element: u8,
    /// Items.
    #[serde(borrow)]
    pub items: ElementItems<'a>,
}

/// A data segment; `bytes` borrow from the image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DataSegment<'a> {
    /// Mode (never `Declared`).
    #[serde(borrow)]
    pub mode: SegmentMode<'a>,
    /// Contents.
    #[serde(borrow)]
    pub bytes: &'a [u8],
}

/// Code-generation settings recorded in the image, which the device must be able to honour.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tunables {
    /// How memory accesses are checked.
    pub bounds_checks: BoundsChecks,
    /// For [`BoundsChecks::GuardElided`]: virtual bytes each 32-bit memory needs reserved
    /// (linear memory plus the guard behind it).
    pub guard_reservation: u64,
    /// Fuel metering compiled in.
    pub fuel: bool,
    /// Epoch checks compiled in.
    pub epochs: bool,
}

impl Default for Tunables {
    fn default() -> Self {
        Tunables {
            bounds_checks: BoundsChecks::Explicit,
            guard_reservation: 0,
            fuel: false,
            epochs: false,
        }
    }
}

/// Why metadata was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MetadataError {
    /// Postcard decoding failed, or bytes were left over.
    Malformed,
    /// A list's elements are malformed.
    BadList(&'static str),
    /// An index points outside its index space.
    IndexOutOfRange(&'static str),
    /// A text offset or range lies outside the text section.
    TextRange(&'static str),
    /// The trap table is not sorted.
    UnsortedTraps,
    /// An invalid value-type byte.
    BadValType,
    /// The recorded counts disagree with the lists.
    CountMismatch,
    /// The tunables contradict each other (guard-elided checks with a reservation that does
    /// not cover the 4 GiB a 32-bit index reaches).
    BadTunables,
}

impl fmt::Display for MetadataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MetadataError::Malformed => f.write_str("malformed metadata"),
            MetadataError::BadList(what) => write!(f, "malformed metadata list: {what}"),
            MetadataError::IndexOutOfRange(what) => {
                write!(f, "metadata index out of range: {what}")
            }
            MetadataError::TextRange(what) => {
                write!(f, "metadata text range outside the text: {what}")
            }
            MetadataError::UnsortedTraps => f.write_str("trap table not sorted"),
            MetadataError::BadValType => f.write_str("invalid value type in metadata"),
            MetadataError::CountMismatch => f.write_str("metadata counts disagree with its lists"),
            MetadataError::BadTunables => f.write_str(
                "guard-elided bounds checks recorded with a guard reservation of 4 GiB or less",
            ),
        }
    }
}

impl core::error::Error for MetadataError {}

impl<'a> Metadata<'a> {
    /// Decodes metadata in place. Bytes after the record are refused.
    pub fn decode(bytes: &'a [u8]) -> Result<Metadata<'a>, MetadataError> {
        let (m, rest) = postcard::take_from_bytes::<Metadata<'a>>(bytes)
            .map_err(|_| MetadataError::Malformed)?;
        if !rest.is_empty() {
            return Err(MetadataError::Malformed);
        }
        Ok(m)
    }

    /// Checks every cross-reference, so the runtime can index with the result without further
    /// checks failing: lists decode, indices are in range, text ranges lie within `text_len`,
    /// the trap table is sorted, and the counts match the lists.
    pub fn validate(&self, text_len: u32) -> Result<(), MetadataError> {
        let list =
            |r: Result<(), crate::seq::SeqError>, what| r.map_err(|_| MetadataError::BadList(what));
        list(self.types.check(), "types")?;
        list(self.imports.check(), "imports")?;
        list(self.functions.check(), "functions")?;
        list(self.tables.check(), "tables")?;
        list(self.memories.check(), "memories")?;
        list(self.globals.check(), "globals")?;
        list(self.exports.check(), "exports")?;
        list(self.elements.check(), "elements")?;
        list(self.data.check(), "data")?;
        list(self.traps.check(), "traps")?;
        // Unchecked accesses reach up to 4 GiB + offset + size past a memory's base; the
        // reservation the device provides is the only thing that makes them safe.
        if self.tunables.bounds_checks == BoundsChecks::GuardElided
            && self.tunables.guard_reservation <= 1 << 32
        {
            return Err(MetadataError::BadTunables);
        }

        let num_types = self.types.len() as u32;
        for t in self.types.iter().flatten() {
            if !t.is_well_formed() {
                return Err(MetadataError::BadValType);
            }
        }
        let c = &self.counts;
        let (mut fi, mut ti, mut mi, mut gi) = (0u32, 0u32, 0u32, 0u32);
        for imp in self.imports.iter().flatten() {
            match imp.kind {
                ImportKind::Func {
                    type_index,
                    wasm_to_array_trampoline,
                } => {
                    if type_index >= num_types {
                        return Err(MetadataError::IndexOutOfRange("import type"));
                    }
                    if wasm_to_array_trampoline >= text_len {
                        return Err(MetadataError::TextRange("import trampoline"));
                    }
                    fi += 1;
                }
                ImportKind::Table(t) => {
                    check_ref_type(t.element)?;
                    ti += 1
                }
                ImportKind::Memory(_) => mi += 1,
                ImportKind::Global(g) => {
                    check_val_type(g.ty)?;
                    gi += 1
                }
            }
        }
        let counts_match = c.num_types == num_types
            && c.num_imported_funcs == fi
            && c.num_imported_tables == ti
            && c.num_imported_memories == mi
            && c.num_imported_globals == gi
            && c.num_defined_funcs as usize == self.functions.len()
            && c.num_defined_tables as usize == self.tables.len()
            && c.num_defined_memories as usize == self.memories.len()
            && c.num_defined_globals as usize == self.globals.len();
        if !counts_match {
            return Err(MetadataError::CountMismatch);
        }
        for f in self.functions.iter() {
            if f.type_index >= num_types {
                return Err(MetadataError::IndexOutOfRange("function type"));
            }
            let end = f.offset as u64 + f.len as u64;
            if end > text_len as u64
                || (f.array_trampoline != NO_TRAMPOLINE && f.array_trampoline >= text_len)
            {
                return Err(MetadataError::TextRange("function"));
            }
        }
        for t in self.tables.iter().flatten() {
            check_ref_type(t.element)?;
        }
        let num_funcs = c.num_funcs();
        let num_globals = c.num_imported_globals + c.num_defined_globals;
        for g in self.globals.iter().flatten() {
            check_val_type(g.ty.ty)?;
            check_expr(&g.init, num_funcs, num_globals)?;
        }
        for e in self.exports.iter().flatten() {
            let limit = match e.kind {
                ExternKind::Func => num_funcs,
                ExternKind::Table => c.num_imported_tables + c.num_defined_tables,
                ExternKind::Memory => c.num_imported_memories + c.num_defined_memories,
                ExternKind::Global => num_globals,
            };
            if e.index >= limit {
                return Err(MetadataError::IndexOutOfRange("export"));
            }
        }
        if self.start.is_some_and(|s| s >= num_funcs) {
            return Err(MetadataError::IndexOutOfRange("start"));
        }
        for seg in self.elements.iter().flatten() {
            check_ref_type(seg.element)?;
            if let SegmentMode::Active { index, offset } = &seg.mode {
                if *index >= c.num_imported_tables + c.num_defined_tables {
                    return Err(MetadataError::IndexOutOfRange("element table"));
                }
                check_expr(offset, num_funcs, num_globals)?;
            }
            match &seg.items {
                ElementItems::Functions(fs) => {
                    list(fs.check(), "element functions")?;
                    if fs.iter().flatten().any(|f| f >= num_funcs) {
                        return Err(MetadataError::IndexOutOfRange("element function"));
                    }
                }
                ElementItems::Expressions(es) => {
                    list(es.check(), "element expressions")?;
                    for e in es.iter().flatten() {
                        check_expr(&e, num_funcs, num_globals)?;
                    }
                }
            }
        }
        for seg in self.data.iter().flatten() {
            match &seg.mode {
                SegmentMode::Active { index, offset } => {
                    if *index >= c.num_imported_memories + c.num_defined_memories {
                        return Err(MetadataError::IndexOutOfRange("data memory"));
                    }
                    check_expr(offset, num_funcs, num_globals)?;
                }
                SegmentMode::Passive => {}
                SegmentMode::Declared => {
                    return Err(MetadataError::BadList("declared data segment"));
                }
            }
        }
        let mut last: Option<u32> = None;
        for t in self.traps.iter() {
            if t.offset >= text_len {
                return Err(MetadataError::TextRange("trap"));
            }
            if last.is_some_and(|l| l >= t.offset) {
                return Err(MetadataError::UnsortedTraps);
            }
            last = Some(t.offset);
        }
        Ok(())
    }

    /// The trap code recorded for text offset `offset`, if any.
    pub fn trap_at(&self, offset: u32) -> Option<crate::TrapCode> {
        self.traps
            .binary_search_by_key(&offset, |t| t.offset)
            .and_then(|t| crate::TrapCode::from_u8(t.code))
    }
}

fn check_val_type(code: u8) -> Result<(), MetadataError> {
    ValType::from_code(code)
        .map(|_| ())
        .ok_or(MetadataError::BadValType)
}

fn check_ref_type(code: u8) -> Result<(), MetadataError> {
    match ValType::from_code(code) {
        Some(t) if t.is_ref() => Ok(()),
        _ => Err(MetadataError::BadValType),
    }
}

fn check_expr(e: &ConstExpr<'_>, num_funcs: u32, num_globals: u32) -> Result<(), MetadataError> {
    e.ops
        .check()
        .map_err(|_| MetadataError::BadList("constant expression"))?;
    for op in e.ops.iter().flatten() {
        match op {
            ConstOp::RefFunc(f) if f >= num_funcs => {
                return Err(MetadataError::IndexOutOfRange("ref.func"));
            }
            ConstOp::GlobalGet(g) if g >= num_globals => {
                return Err(MetadataError::IndexOutOfRange("global.get"));
            }
            ConstOp::RefNull(t) => check_ref_type(t)?,
            _ => {}
        }
    }
    Ok(())
}

#[cfg(all(test, feature = "alloc"))]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn expr(ops: Vec<ConstOp>) -> ConstExpr<'static> {
        ConstExpr {
            ops: Seq::owned(ops),
        }
    }

    fn sample_bytes() -> Vec<u8> {
        let functions = FixedTable::<FunctionEntry>::encode(&[
            FunctionEntry {
                type_index: 0,
                offset: 0,
                len: 16,
                array_trampoline: 32,
            },
            FunctionEntry {
                type_index: 0,
                offset: 16,
                len: 16,
                array_trampoline: NO_TRAMPOLINE,
            },
        ]);
        let traps = FixedTable::<TrapEntry>::encode(&[
            TrapEntry {
                offset: 4,
                code: crate::TrapCode::Unreachable.as_u8(),
            },
            TrapEntry {
                offset: 20,
                code: crate::TrapCode::StackOverflow.as_u8(),
            },
        ]);
        let meta = Metadata {
            types: Seq::owned(vec![FuncType {
                params: &[0, 1],
                results: &[0],
            }]),
            imports: Seq::owned(vec![Import {
                module: "env",
                name: "g",
                kind: ImportKind::Global(GlobalType {
                    ty: 0,
                    mutable: false,
                }),
            }]),
            functions: FixedTable::from_bytes(&functions),
            tables: Seq::owned(vec![TableType {
                element: 5,
                min: 1,
                max: None,
                index64: false,
            }]),
            memories: Seq::owned(vec![MemoryType {
                min: 1,
                max: Some(2),
                index64: false,
                page_size_log2: 16,
                shared: false,
            }]),
            globals: Seq::owned(vec![GlobalDef {
                ty: GlobalType {
                    ty: 0,
                    mutable: true,
                },
                init: expr(vec![
                    ConstOp::GlobalGet(0),
                    ConstOp::I32Const(2),
                    ConstOp::I32Add,
                ]),
            }]),
            exports: Seq::owned(vec![Export {
                name: "f",
                kind: ExternKind::Func,
                index: 0,
            }]),
            start: None,
            elements: Seq::owned(vec![ElementSegment {
                mode: SegmentMode::Active {
                    index: 0,
                    offset: expr(vec![ConstOp::I32Const(0)]),
                },
                element: 5,
                items: ElementItems::Functions(Seq::owned(vec![1, 0])),
            }]),
            data: Seq::owned(vec![DataSegment {
                mode: SegmentMode::Passive,
                bytes: b"hello",
            }]),
            traps: FixedTable::from_bytes(&traps),
            counts: ModuleCounts {
                num_types: 1,
                num_defined_funcs: 2,
                num_defined_tables: 1,
                num_defined_memories: 1,
                num_imported_globals: 1,
                num_defined_globals: 1,
                ..ModuleCounts::default()
            },
            tunables: Tunables::default(),
        };
        postcard::to_allocvec(&meta).unwrap()
    }

    #[test]
    fn round_trips_and_validates() {
        let bytes = sample_bytes();
        let m = Metadata::decode(&bytes).unwrap();
        m.validate(64).unwrap();
        assert_eq!(m.types.get(0).unwrap().params, &[0, 1]);
        assert_eq!(m.functions.get(1).unwrap().offset, 16);
        assert_eq!(m.trap_at(20), Some(crate::TrapCode::StackOverflow));
        assert_eq!(m.trap_at(21), None);
        let DataSegment { bytes: data, .. } = m.data.get(0).unwrap();
        assert_eq!(data, b"hello");
        // A text too short for the recorded functions is refused.
        assert_eq!(m.validate(20), Err(MetadataError::TextRange("function")));
        // Re-encoding the decoded (borrowed) form gives the same bytes.
        assert_eq!(postcard::to_allocvec(&m).unwrap(), bytes);
    }

    #[test]
    fn guard_elided_needs_more_than_4_gib_reserved() {
        let bytes = sample_bytes();
        let mut m = Metadata::decode(&bytes).unwrap();
        m.tunables.bounds_checks = BoundsChecks::GuardElided;
        for (reservation, ok) in [(0, false), (1 << 32, false), ((1 << 32) + 65536, true)] {
            m.tunables.guard_reservation = reservation;
            assert_eq!(
                m.validate(64).is_ok(),
                ok,
                "guard-elided with {reservation} bytes reserved"
            );
        }
        assert_eq!(
            {
                m.tunables.guard_reservation = 4096;
                m.validate(64)
            },
            Err(MetadataError::BadTunables)
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let good = sample_bytes();
        // Deterministic xorshift so a failure reproduces.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..20_000 {
            let mut bytes = good.clone();
            if round % 4 == 0 {
                let len = (next() % 200) as usize;
                bytes = (0..len).map(|_| next() as u8).collect();
            } else {
                for _ in 0..=(round % 3) {
                    let i = (next() as usize) % bytes.len();
                    bytes[i] = next() as u8;
                }
                bytes.truncate(bytes.len() - (next() % 3) as usize);
            }
            if let Ok(m) = Metadata::decode(&bytes) {
                let _ = m.validate(64);
                for g in m.globals.iter().flatten() {
                    let _ = g.init.ops.iter().count();
                }
            }
        }
    }
}
