//! Decoding an image for people: what `wasm-aot inspect` prints.
//!
//! [`inspect`] runs the same checks as the device (header, digest, metadata validation) and
//! returns an owned [`ImageSummary`]; its `Display` is a plain-text report.

use std::fmt;

use shared_types::header::{HeaderError, ImageHeader};
use shared_types::metadata::{
    ConstOp, ElementItems, ExternKind, GlobalType, ImportKind, MemoryType, Metadata, MetadataError,
    NO_TRAMPOLINE, SegmentMode, TableType, Tunables,
};
use shared_types::vmoffsets::ModuleCounts;
use shared_types::{TrapCode, ValType, VmOffsets};

/// Why an image could not be inspected.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InspectError {
    /// The fixed header is invalid.
    #[error("bad image header: {0}")]
    Header(HeaderError),
    /// The metadata does not decode or does not validate.
    #[error("bad image metadata: {0}")]
    Metadata(MetadataError),
}

/// An import.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportSummary {
    /// Module name.
    pub module: String,
    /// Field name.
    pub name: String,
    /// Kind and type.
    pub kind: ImportKind,
}

/// A defined function.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FunctionSummary {
    /// Function index (imports included).
    pub index: u32,
    /// Type index.
    pub type_index: u32,
    /// Text offset of the body.
    pub offset: u32,
    /// Length of the body.
    pub len: u32,
    /// Text offset of the array-entry trampoline, if it has one.
    pub array_trampoline: Option<u32>,
}

/// An export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExportSummary {
    /// Name.
    pub name: String,
    /// Kind.
    pub kind: ExternKind,
    /// Index.
    pub index: u32,
}

/// A defined global.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GlobalSummary {
    /// Type.
    pub ty: GlobalType,
    /// Initialiser.
    pub init: Vec<ConstOp>,
}

/// A segment, summarised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentSummary {
    /// `active (index N)`, `passive` or `declared`.
    pub mode: String,
    /// Items (elements) or bytes (data).
    pub size: usize,
}

/// Everything an image says about itself.
#[derive(Clone, Debug)]
pub struct ImageSummary {
    /// The fixed header.
    pub header: ImageHeader,
    /// Whether the SHA-256 digest matched (always true: a mismatch is an error).
    pub digest_ok: bool,
    /// Function types, formatted like `(i32 i32) -> (i64)`.
    pub types: Vec<String>,
    /// Imports.
    pub imports: Vec<ImportSummary>,
    /// Defined functions.
    pub functions: Vec<FunctionSummary>,
    /// Defined tables.
    pub tables: Vec<TableType>,
    /// Defined memories.
    pub memories: Vec<MemoryType>,
    /// Defined globals.
    pub globals: Vec<GlobalSummary>,
    /// Exports.
    pub exports: Vec<ExportSummary>,
    /// Start function.
    pub start: Option<u32>,
    /// Element segments.
    pub elements: Vec<SegmentSummary>,
    /// Data segments.
    pub data: Vec<SegmentSummary>,
    /// Trap table: text offset and code.
    pub traps: Vec<(u32, Option<TrapCode>)>,
    /// Entity counts.
    pub counts: ModuleCounts,
    /// Settings the device must honour.
    pub tunables: Tunables,
    /// Size of the vmctx this image expects.
    pub vmctx_size: u32,
    /// Relocations in the image: always 0 (the format has no way to express one).
    pub relocations: usize,
}

fn mode(m: &SegmentMode<'_>) -> String {
    match m {
        SegmentMode::Active { index, .. } => format!("active (index {index})"),
        SegmentMode::Passive => "passive".into(),
        SegmentMode::Declared => "declared".into(),
    }
}

/// Checks and decodes `image`.
pub fn inspect(image: &[u8]) -> Result<ImageSummary, InspectError> {
    let header = ImageHeader::parse(image).map_err(InspectError::Header)?;
    header.verify_digest(image).map_err(InspectError::Header)?;
    let meta = Metadata::decode(header.metadata_bytes(image)).map_err(InspectError::Metadata)?;
    meta.validate(header.text.1)
        .map_err(InspectError::Metadata)?;
    // After `validate` every list decodes, so `flatten` drops nothing.
    let num_imported_funcs = meta.counts.num_imported_funcs;
    let functions = meta
        .functions
        .iter()
        .enumerate()
        .map(|(i, f)| FunctionSummary {
            index: num_imported_funcs + i as u32,
            type_index: f.type_index,
            offset: f.offset,
            len: f.len,
            array_trampoline: (f.array_trampoline != NO_TRAMPOLINE).then_some(f.array_trampoline),
        })
        .collect();
    let vmctx_size =
        VmOffsets::new(header.target.pointer_size(), meta.counts).map_or(0, |o| o.size());
    Ok(ImageSummary {
        header,
        digest_ok: true,
        types: meta.types.iter().flatten().map(|t| t.to_string()).collect(),
        imports: meta
            .imports
            .iter()
            .flatten()
            .map(|i| ImportSummary {
                module: i.module.into(),
                name: i.name.into(),
                kind: i.kind,
            })
            .collect(),
        functions,
        tables: meta.tables.iter().flatten().collect(),
        memories: meta.memories.iter().flatten().collect(),
        globals: meta
            .globals
            .iter()
            .flatten()
            .map(|g| GlobalSummary {
                ty: g.ty,
                init: g.init.ops.iter().flatten().collect(),
            })
            .collect(),
        exports: meta
            .exports
            .iter()
            .flatten()
            .map(|e| ExportSummary {
                name: e.name.into(),
                kind: e.kind,
                index: e.index,
            })
            .collect(),
        start: meta.start,
        elements: meta
            .elements
            .iter()
            .flatten()
            .map(|e| SegmentSummary {
                mode: mode(&e.mode),
                size: match &e.items {
                    ElementItems::Functions(f) => f.len(),
                    ElementItems::Expressions(x) => x.len(),
                },
            })
            .collect(),
        data: meta
            .data
            .iter()
            .flatten()
            .map(|d| SegmentSummary {
                mode: mode(&d.mode),
                size: d.bytes.len(),
            })
            .collect(),
        traps: meta
            .traps
            .iter()
            .map(|t| (t.offset, TrapCode::from_u8(t.code)))
            .collect(),
        counts: meta.counts,
        tunables: meta.tunables,
        vmctx_size,
        relocations: 0,
    })
}

fn val_type(code: u8) -> String {
    ValType::from_code(code).map_or_else(|| format!("?{code}"), |t| t.to_string())
}

fn limits(min: u64, max: Option<u64>) -> String {
    match max {
        Some(max) => format!("{min}..={max}"),
        None => format!("{min}.."),
    }
}

/// `n` bytes, in the largest binary unit that divides it exactly.
fn bytes(n: u64) -> String {
    const UNITS: [(&str, u32); 4] = [("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)];
    UNITS
        .iter()
        .find(|(_, shift)| n >= 1 << shift && n.is_multiple_of(1 << shift))
        .map_or_else(
            || format!("{n} B"),
            |(unit, shift)| format!("{} {unit}", n >> shift),
        )
}

/// `pages` of `m` in bytes.
fn memory_bytes(m: &MemoryType, pages: u64) -> String {
    pages
        .checked_mul(m.page_size())
        .map_or("2^64 B or more".into(), bytes)
}

/// A memory's index type and limits, in its own pages and in bytes.
fn memory_type(m: &MemoryType) -> String {
    let size = match m.max {
        Some(max) => format!("{}..{}", memory_bytes(m, m.min), memory_bytes(m, max)),
        None => format!("{}..", memory_bytes(m, m.min)),
    };
    format!(
        "{} {} pages of {} ({size}){}",
        if m.index64 { "i64" } else { "i32" },
        limits(m.min, m.max),
        bytes(m.page_size()),
        if m.shared { ", shared" } else { "" },
    )
}

/// The slot the device reserves for a defined memory: its maximum when it has one (the
/// engine's `memory_reservation` caps it), else that reservation. Growth stays inside the slot,
/// so memory never moves; a `memory.grow` beyond it returns -1.
fn memory_reserve(m: &MemoryType, t: &Tunables) -> String {
    if t.guard_reservation != 0 && !m.index64 && m.page_size_log2 == 16 {
        return format!(
            "{} of address space (guard-elided checks)",
            bytes(t.guard_reservation)
        );
    }
    match m.max {
        Some(max) => format!(
            "{} (its maximum, capped by the engine's memory_reservation)",
            memory_bytes(m, max)
        ),
        None => "the engine's memory_reservation (no maximum)".into(),
    }
}

impl fmt::Display for ImageSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = &self.header;
        writeln!(f, "target        {}", h.target)?;
        writeln!(
            f,
            "format        v{} (ABI v{}), flags {:#06x}",
            h.format_version, h.abi_version, h.flags
        )?;
        writeln!(f, "producer      {}", h.producer())?;
        writeln!(f, "image         {} bytes, digest ok", h.image_len)?;
        writeln!(
            f,
            "metadata      {} bytes at {:#x}",
            h.metadata.1, h.metadata.0
        )?;
        writeln!(f, "text          {} bytes at {:#x}", h.text.1, h.text.0)?;
        let t = &self.tunables;
        writeln!(
            f,
            "tunables      {:#010x}: bounds checks {:?}, fuel {}, epochs {}",
            h.tunables_digest, t.bounds_checks, t.fuel, t.epochs
        )?;
        if t.guard_reservation != 0 {
            writeln!(
                f,
                "              guard reservation {} bytes per 32-bit memory",
                t.guard_reservation
            )?;
        }
        writeln!(f, "vmctx         {} bytes", self.vmctx_size)?;
        writeln!(f, "relocations   {}", self.relocations)?;
        writeln!(f, "types ({})", self.types.len())?;
        for (i, t) in self.types.iter().enumerate() {
            writeln!(f, "  {i:>4}  {t}")?;
        }
        writeln!(f, "imports ({})", self.imports.len())?;
        for i in &self.imports {
            let kind = match i.kind {
                ImportKind::Func {
                    type_index,
                    wasm_to_array_trampoline,
                } => {
                    format!("func type {type_index}, trampoline at {wasm_to_array_trampoline:#x}")
                }
                ImportKind::Table(t) => {
                    format!("table {} {}", val_type(t.element), limits(t.min, t.max))
                }
                ImportKind::Memory(m) => format!("memory {}", memory_type(&m)),
                ImportKind::Global(g) => format!(
                    "global {}{}",
                    if g.mutable { "mut " } else { "" },
                    val_type(g.ty)
                ),
            };
            writeln!(f, "  {}.{}: {kind}", i.module, i.name)?;
        }
        writeln!(f, "functions ({})", self.functions.len())?;
        for func in &self.functions {
            write!(
                f,
                "  {:>4}  type {:<3} at {:#08x} len {:>6}",
                func.index, func.type_index, func.offset, func.len
            )?;
            match func.array_trampoline {
                Some(o) => writeln!(f, "  array entry at {o:#08x}")?,
                None => writeln!(f)?,
            }
        }
        writeln!(f, "tables ({})", self.tables.len())?;
        for t in &self.tables {
            writeln!(f, "  {} {}", val_type(t.element), limits(t.min, t.max))?;
        }
        writeln!(f, "memories ({})", self.memories.len())?;
        for m in &self.memories {
            writeln!(
                f,
                "  {}; slot reserve {}",
                memory_type(m),
                memory_reserve(m, t)
            )?;
        }
        writeln!(f, "globals ({})", self.globals.len())?;
        for g in &self.globals {
            writeln!(
                f,
                "  {}{} = {:?}",
                if g.ty.mutable { "mut " } else { "" },
                val_type(g.ty.ty),
                g.init
            )?;
        }
        writeln!(f, "exports ({})", self.exports.len())?;
        for e in &self.exports {
            writeln!(f, "  {:?} -> {} {}", e.name, e.kind, e.index)?;
        }
        if let Some(s) = self.start {
            writeln!(f, "start         function {s}")?;
        }
        writeln!(f, "elements ({})", self.elements.len())?;
        for e in &self.elements {
            writeln!(f, "  {}, {} items", e.mode, e.size)?;
        }
        writeln!(f, "data ({})", self.data.len())?;
        for d in &self.data {
            writeln!(f, "  {}, {} bytes", d.mode, d.size)?;
        }
        writeln!(f, "traps ({})", self.traps.len())?;
        for (offset, code) in &self.traps {
            match code {
                Some(c) => writeln!(f, "  {offset:#08x}  {c:?}")?,
                None => writeln!(f, "  {offset:#08x}  unknown code")?,
            }
        }
        Ok(())
    }
}
