//! Image assembly: metadata + header + text -> the bytes a device loads.
//!
//! ```text
//! 0x00                 fixed header (shared_types::header, HEADER_SIZE bytes)
//! HEADER_SIZE          postcard-encoded shared_types::Metadata
//! ..                   zero padding up to TEXT_ALIGN
//! text offset          the text produced by `link`, relocation-free
//! ```
//!
//! The header is written with a zero digest, then [`shared_types::header::seal`] hashes the
//! whole image (padding included, the digest field excluded) and stores the digest. The
//! tunables digest in the header is the short SHA-256 of the postcard-encoded
//! [`Tunables`], so a runtime can refuse an image compiled with settings it cannot honour
//! before it decodes any metadata. [`inspect`] decodes an image again for the CLI.

pub mod ihex;
pub mod inspect;

use shared_types::header::{self, HEADER_SIZE, ImageHeader};
use shared_types::metadata::{
    self, ConstOp, FunctionEntry, GlobalDef, ImportKind as MetaImportKind, Metadata, TrapEntry,
    Tunables,
};
use shared_types::seq::{FixedTable, Seq};
use shared_types::{FuncType, Target};

use crate::error::CompileError;
use crate::module::{ElementItems, ImportKind, ModuleInfo, SegmentMode};

pub use inspect::{ImageSummary, InspectError, inspect};

/// The producer string recorded in every image header.
pub const PRODUCER: &str = concat!("host-compiler ", env!("CARGO_PKG_VERSION"));

/// What the backend produced, in the form the image needs.
#[derive(Clone, Debug)]
pub struct CodeInfo<'t> {
    /// One entry per defined function, in module order.
    pub functions: Vec<FunctionEntry>,
    /// Text offset of the wasm-to-array trampoline of each imported function type.
    pub wasm_to_array: Vec<(u32, u32)>,
    /// The trap table, sorted, one entry per offset.
    pub traps: &'t [TrapEntry],
}

/// The short digest of `tunables` recorded in the header.
pub fn tunables_digest(tunables: &Tunables) -> Result<u32, CompileError> {
    let bytes = postcard::to_allocvec(tunables)
        .map_err(|e| CompileError::Limit(format!("tunables: {e}")))?;
    Ok(header::short_digest(&bytes))
}

fn const_expr(ops: &[ConstOp]) -> metadata::ConstExpr<'static> {
    metadata::ConstExpr {
        ops: Seq::owned(ops.to_vec()),
    }
}

fn segment_mode(mode: &SegmentMode) -> metadata::SegmentMode<'static> {
    match mode {
        SegmentMode::Active { index, offset } => metadata::SegmentMode::Active {
            index: *index,
            offset: const_expr(offset),
        },
        SegmentMode::Passive => metadata::SegmentMode::Passive,
        SegmentMode::Declared => metadata::SegmentMode::Declared,
    }
}

/// Encodes the metadata of `module` compiled to `code`.
pub fn encode_metadata(
    module: &ModuleInfo<'_>,
    code: &CodeInfo<'_>,
    tunables: Tunables,
) -> Result<Vec<u8>, CompileError> {
    let sig_bytes: Vec<(Vec<u8>, Vec<u8>)> = module
        .types
        .iter()
        .map(|t| {
            (
                t.params.iter().map(|v| v.code()).collect(),
                t.results.iter().map(|v| v.code()).collect(),
            )
        })
        .collect();
    let types = sig_bytes
        .iter()
        .map(|(p, r)| FuncType {
            params: p,
            results: r,
        })
        .collect();

    let mut imports = Vec::with_capacity(module.imports.len());
    for import in &module.imports {
        let kind = match import.kind {
            ImportKind::Func(type_index) => {
                let trampoline = code
                    .wasm_to_array
                    .iter()
                    .find(|(t, _)| *t == type_index)
                    .map(|(_, o)| *o);
                let Some(wasm_to_array_trampoline) = trampoline else {
                    return Err(CompileError::Limit(format!(
                        "no wasm-to-array trampoline for type {type_index}"
                    )));
                };
                MetaImportKind::Func {
                    type_index,
                    wasm_to_array_trampoline,
                }
            }
            ImportKind::Table(t) => MetaImportKind::Table(t),
            ImportKind::Memory(m) => MetaImportKind::Memory(m),
            ImportKind::Global(g) => MetaImportKind::Global(g),
        };
        imports.push(metadata::Import {
            module: import.module,
            name: import.name,
            kind,
        });
    }

    let functions = FixedTable::<FunctionEntry>::encode(&code.functions);
    let traps = FixedTable::<TrapEntry>::encode(code.traps);
    let globals = module.globals[module.num_imported_globals as usize..]
        .iter()
        .zip(&module.global_inits)
        .map(|(ty, init)| GlobalDef {
            ty: *ty,
            init: const_expr(init),
        })
        .collect();
    let elements = module
        .elements
        .iter()
        .map(|e| metadata::ElementSegment {
            mode: segment_mode(&e.mode),
            element: e.element.code(),
            items: match &e.items {
                ElementItems::Functions(f) => {
                    metadata::ElementItems::Functions(Seq::owned(f.clone()))
                }
                ElementItems::Expressions(x) => metadata::ElementItems::Expressions(Seq::owned(
                    x.iter().map(|e| const_expr(e)).collect(),
                )),
            },
        })
        .collect();
    let data = module
        .data
        .iter()
        .map(|d| metadata::DataSegment {
            mode: segment_mode(&d.mode),
            bytes: d.bytes,
        })
        .collect();
    let exports = module
        .exports
        .iter()
        .map(|e| metadata::Export {
            name: e.name,
            kind: e.kind,
            index: e.index,
        })
        .collect();

    let meta = Metadata {
        types: Seq::owned(types),
        imports: Seq::owned(imports),
        functions: FixedTable::from_bytes(&functions),
        tables: Seq::owned(module.tables[module.num_imported_tables as usize..].to_vec()),
        memories: Seq::owned(module.memories[module.num_imported_memories as usize..].to_vec()),
        globals: Seq::owned(globals),
        exports: Seq::owned(exports),
        start: module.start,
        elements: Seq::owned(elements),
        data: Seq::owned(data),
        traps: FixedTable::from_bytes(&traps),
        counts: module.counts(),
        tunables,
    };
    postcard::to_allocvec(&meta).map_err(|e| CompileError::Limit(format!("metadata encoding: {e}")))
}

/// Assembles a sealed image from encoded metadata and the text.
pub fn assemble(
    target: Target,
    tunables: &Tunables,
    metadata: &[u8],
    text: &[u8],
) -> Result<Vec<u8>, CompileError> {
    let too_big = |what: &str| CompileError::Limit(format!("{what} larger than 4 GiB"));
    let metadata_len = u32::try_from(metadata.len()).map_err(|_| too_big("metadata"))?;
    let text_len = u32::try_from(text.len()).map_err(|_| too_big("text"))?;
    let end = (HEADER_SIZE + metadata.len()).next_multiple_of(header::TEXT_ALIGN) as u64
        + text.len() as u64;
    if end > u32::MAX as u64 {
        return Err(too_big("image"));
    }
    let header = ImageHeader::new(
        target,
        PRODUCER,
        tunables_digest(tunables)?,
        metadata_len,
        text_len,
    );
    let mut image = Vec::with_capacity(header.image_len as usize);
    image.resize(HEADER_SIZE, 0);
    header.write(&mut image[..HEADER_SIZE]);
    image.extend_from_slice(metadata);
    image.resize(header.text.0 as usize, 0);
    image.extend_from_slice(text);
    debug_assert_eq!(image.len(), header.image_len as usize);
    header::seal(&mut image);
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared_types::metadata::NO_TRAMPOLINE;

    #[test]
    fn metadata_round_trips_and_validates() {
        let wasm = wat::parse_str(
            r#"(module
                (import "env" "f" (func (param i32)))
                (import "env" "t" (table 1 funcref))
                (memory 1)
                (global (mut i32) (i32.const 5))
                (func $a) (func $b)
                (export "a" (func $a))
                (elem (i32.const 0) $b)
                (data (i32.const 16) "abc"))"#,
        )
        .unwrap();
        let (module, _) = crate::module::parse(&wasm).unwrap();
        let text = [0u8; 64];
        let functions = vec![
            FunctionEntry {
                type_index: 1,
                offset: 0,
                len: 8,
                array_trampoline: 32,
            },
            FunctionEntry {
                type_index: 1,
                offset: 16,
                len: 8,
                array_trampoline: NO_TRAMPOLINE,
            },
        ];
        let traps = [TrapEntry { offset: 4, code: 8 }];
        let code = CodeInfo {
            functions: functions.clone(),
            wasm_to_array: vec![(0, 48)],
            traps: &traps,
        };
        let bytes = encode_metadata(&module, &code, Tunables::default()).unwrap();
        let meta = Metadata::decode(&bytes).unwrap();
        meta.validate(text.len() as u32).unwrap();
        assert_eq!(meta.functions.iter().collect::<Vec<_>>(), functions);
        assert_eq!(meta.traps.get(0), Some(traps[0]));
        assert_eq!(meta.imports.len(), 2);
        let first = meta.imports.get(0).unwrap();
        assert_eq!(
            first.kind,
            MetaImportKind::Func {
                type_index: 0,
                wasm_to_array_trampoline: 48
            }
        );
        assert_eq!(meta.data.get(0).unwrap().bytes, b"abc");
        assert_eq!(
            meta.globals.get(0).unwrap().init.ops.get(0),
            Some(ConstOp::I32Const(5))
        );
        assert_eq!(meta.exports.get(0).unwrap().name, "a");

        let image = assemble(Target::Aarch64, &Tunables::default(), &bytes, &text).unwrap();
        let header = ImageHeader::parse(&image).unwrap();
        header.verify_digest(&image).unwrap();
        assert_eq!(header.metadata_bytes(&image), &bytes[..]);
        assert_eq!(header.text_bytes(&image), &text[..]);
        assert_eq!(header.producer(), PRODUCER);
        assert_eq!(
            header.tunables_digest,
            tunables_digest(&Tunables::default()).unwrap()
        );
    }
}
