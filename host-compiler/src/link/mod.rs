//! Text layout: places compiled functions and trampolines one after another, resolves every
//! call between them, and produces one position-independent blob with no relocations left.
//!
//! # The problem
//!
//! A backend compiles each function on its own. A call to another function of the module is
//! emitted as a PC-relative branch-and-link (`bl` on AArch64, `call rel32` on x86_64) with a
//! zero displacement and a *relocation* saying "patch this with the distance to function N".
//! Images carry no relocations (the device only verifies and copies, it never patches code),
//! so every relocation must be resolved here, when the distance is known, and anything that
//! cannot be resolved is a compile error ([`CompileError::Relocation`]), never left for later.
//!
//! # Vocabulary
//!
//! * **label**: the number of a placed piece of code, in placement order. A relocation names
//!   its target by label, not by function index (the `Symbol` -> label map is built here).
//! * **fixup**: a pending use of a label at some offset, with the branch kind that decides how
//!   far it may reach (AArch64 `bl`: +/-128 MiB; x86_64 `call`: +/-2 GiB).
//! * **deadline**: the last text offset at which a forward fixup can still be patched directly:
//!   the use's offset plus the branch's forward range.
//! * **veneer**: a small stub that a too-short branch jumps to instead, which then reaches the
//!   real target with a longer sequence. AArch64's is 20 bytes: `ldrsw x16, [pc+16]; adr x17,
//!   pc+12; add x16, x16, x17; br x16; .word target - here` (+/-2 GiB). It clobbers only x16/x17,
//!   which the AArch64 procedure call standard leaves free at call boundaries, and since the
//!   original `bl` already set the link register the callee returns straight to the caller.
//! * **island**: a stretch of veneers (and constants) emitted *between* two pieces of code,
//!   where nothing falls through into it, so no jump around it is needed.
//!
//! The mechanics are the code generator's: for Cranelift, `TextSectionBuilder`
//! (`MachTextSectionBuilder` over a `MachBuffer`); a backend exposes it through
//! [`TextBuilder`]. Before each append the builder asks whether placing the next piece would
//! carry the text past the earliest pending deadline (counting the worst-case size of the
//! island itself); if so it first emits an island in which every fixup whose target is already
//! placed is patched directly and every other endangered fixup gets a veneer. A backward
//! reference that is too far is found when fixups are processed (at the next island or at
//! `finish`) and gets a veneer in that island, after the caller.
//!
//! # Invariants this module keeps
//!
//! 1. **Relocations of a piece are resolved right after that piece is appended**, before
//!    anything else is appended. Only then does the builder know the fixup's deadline in time to
//!    emit an island before a large gap; resolving later can leave a forward branch that no
//!    island covers (Cranelift then panics in `finish`).
//! 2. **Exactly one labeled append per piece**, in the order of the input slice, so label `k` is
//!    input piece `k`; padding is appended unlabeled. The builder was created for exactly
//!    `pieces.len()` labels.
//! 3. **Every resolution is checked**: a builder only accepts the relocation kinds it can patch
//!    (AArch64 `Arm64Call` with addend 0, x86_64 `X86CallPCRel4` with addend -4); any other
//!    answer is an error naming the piece, the kind and the text offset.
//! 4. **Alignment**: each piece is appended with the alignment its code needs (constant pools
//!    at the end of a function need 8 or 16 bytes on AArch64; the backend folds this into
//!    [`CompiledCode::align`]).
//! 5. **Trap sites become text-relative** (piece offset + offset within the piece) and the trap
//!    table is sorted by offset with duplicates removed, as the runtime binary-searches it.
//!
//! x86_64 has no veneers (`call rel32` already reaches +/-2 GiB), so padding tests that force
//! veneers only make sense on AArch64. Neither reaches further than 2 GiB, so the text is
//! limited to 2 GiB (checked before each append, since the builder panics past it).

use std::collections::HashMap;
use std::fmt;

use shared_types::TrapCode;
use shared_types::metadata::TrapEntry;

use crate::error::CompileError;

/// What a piece of code is, and what relocations refer to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Symbol {
    /// The body of function `index` (module index), wasm calling convention.
    Function(u32),
    /// The array-entry trampoline of function `index`.
    ArrayTrampoline(u32),
    /// The wasm-to-array trampoline for imported functions of type `index`.
    WasmToArray(u32),
}

impl fmt::Display for Symbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Symbol::Function(i) => write!(f, "function {i}"),
            Symbol::ArrayTrampoline(i) => write!(f, "array-entry trampoline of function {i}"),
            Symbol::WasmToArray(t) => write!(f, "wasm-to-array trampoline of type {t}"),
        }
    }
}

/// A call relocation in a compiled piece.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallReloc<K> {
    /// Offset of the patched instruction within the piece.
    pub offset: u32,
    /// Backend-specific relocation kind.
    pub kind: K,
    /// Addend.
    pub addend: i64,
    /// Callee.
    pub target: Symbol,
}

/// One compiled function or trampoline, ready to be placed.
#[derive(Clone, Debug)]
pub struct CompiledCode<K> {
    /// What it is.
    pub symbol: Symbol,
    /// Function index errors are attributed to.
    pub func_index: u32,
    /// Machine code.
    pub bytes: Vec<u8>,
    /// Required alignment of the first byte (a power of two).
    pub align: u32,
    /// Calls to other pieces.
    pub relocs: Vec<CallReloc<K>>,
    /// Trap sites: offset within the piece and the trap.
    pub traps: Vec<(u32, TrapCode)>,
}

/// The backend's text-section builder (see the module docs for the contract).
pub trait TextBuilder {
    /// The relocation kind the backend emits.
    type RelocKind: Copy + fmt::Debug;
    /// Appends `data` aligned to `align`; returns its text offset. May first emit an island.
    fn append(&mut self, labeled: bool, data: &[u8], align: u32) -> u64;
    /// Resolves a relocation at text offset `offset` against label `label`; false when the
    /// builder cannot patch this kind.
    fn resolve(&mut self, offset: u64, kind: Self::RelocKind, addend: i64, label: usize) -> bool;
    /// Emits the final island and returns the text.
    fn finish(&mut self) -> Vec<u8>;
}

/// Where a piece ended up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Placed {
    /// The piece.
    pub symbol: Symbol,
    /// Text offset.
    pub offset: u32,
    /// Length in bytes.
    pub len: u32,
}

/// The laid-out text.
#[derive(Clone, Debug)]
pub struct Layout {
    /// The text, relocation-free.
    pub text: Vec<u8>,
    /// Every piece, in input order.
    pub placed: Vec<Placed>,
    /// Trap table, sorted by offset, one entry per offset.
    pub traps: Vec<TrapEntry>,
    /// Relocations resolved.
    pub relocations_resolved: usize,
    /// Zero padding inserted on request.
    pub padding_bytes: u64,
}

impl Layout {
    /// Text offset of `symbol`, if placed.
    pub fn offset_of(&self, symbol: Symbol) -> Option<u32> {
        self.placed
            .iter()
            .find(|p| p.symbol == symbol)
            .map(|p| p.offset)
    }

    /// Bytes the builder added beyond the pieces and the requested padding: alignment padding,
    /// islands and veneers.
    pub fn overhead_bytes(&self) -> u64 {
        let code: u64 = self.placed.iter().map(|p| p.len as u64).sum();
        (self.text.len() as u64).saturating_sub(code + self.padding_bytes)
    }

    /// The backend-independent result: the function table (the defined functions must be the
    /// first pieces, in module order) with their array-entry trampolines, and the wasm-to-array
    /// trampoline of each imported function type.
    pub fn into_compiled_text(
        self,
        module: &crate::module::ModuleInfo<'_>,
        imported_types: &[u32],
    ) -> crate::CompiledText {
        let num_imported = module.num_imported_funcs;
        let defined = module.num_defined_funcs();
        let offsets: HashMap<Symbol, u32> =
            self.placed.iter().map(|p| (p.symbol, p.offset)).collect();
        let functions = self
            .placed
            .iter()
            .take(defined as usize)
            .enumerate()
            .map(|(i, placed)| {
                let index = num_imported + i as u32;
                debug_assert_eq!(placed.symbol, Symbol::Function(index));
                shared_types::metadata::FunctionEntry {
                    type_index: module.func_types[index as usize],
                    offset: placed.offset,
                    len: placed.len,
                    array_trampoline: offsets
                        .get(&Symbol::ArrayTrampoline(index))
                        .copied()
                        .unwrap_or(shared_types::metadata::NO_TRAMPOLINE),
                }
            })
            .collect();
        let wasm_to_array = imported_types
            .iter()
            .filter_map(|&t| offsets.get(&Symbol::WasmToArray(t)).map(|&o| (t, o)))
            .collect();
        let overhead_bytes = self.overhead_bytes();
        crate::CompiledText {
            text: self.text,
            functions,
            wasm_to_array,
            traps: self.traps,
            relocations_resolved: self.relocations_resolved,
            padding_bytes: self.padding_bytes,
            overhead_bytes,
        }
    }
}

/// Largest text laid out: the longest reach of any call or veneer is +/-2 GiB (x86_64
/// `call rel32`, the AArch64 veneer's `PCRel32`), and Cranelift's builder panics beyond it.
const MAX_TEXT: u64 = i32::MAX as u64;

/// Lays out `pieces` in order with `builder`, which must have been created for exactly
/// `pieces.len()` labels. When `pad_between_functions` is non-zero, that many zero bytes
/// (rounded up to a multiple of 4) go between every two consecutive function bodies, to force
/// veneers in tests.
pub fn lay_out<B: TextBuilder>(
    mut builder: B,
    pieces: &[CompiledCode<B::RelocKind>],
    pad_between_functions: u32,
) -> Result<Layout, CompileError> {
    let function_gaps = pieces
        .windows(2)
        .filter(|w| w.iter().all(|p| matches!(p.symbol, Symbol::Function(_))))
        .count();
    if pad_between_functions as u64 * function_gaps as u64 > MAX_TEXT {
        return Err(CompileError::Limit(format!(
            "{function_gaps} gaps of {pad_between_functions} bytes of padding exceed the 2 GiB text limit"
        )));
    }
    let labels: HashMap<Symbol, usize> = pieces
        .iter()
        .enumerate()
        .map(|(i, p)| (p.symbol, i))
        .collect();
    // Whole instructions: an island the builder emits right after the padding must be aligned.
    let padding = vec![0u8; (pad_between_functions as usize).next_multiple_of(4)];
    let total_relocs: u64 = pieces.iter().map(|p| p.relocs.len() as u64).sum();
    // Islands hold at most one veneer (20 bytes on AArch64) per relocation.
    let island_margin = 32 * total_relocs + 4096;
    let mut placed = Vec::with_capacity(pieces.len());
    let mut traps = Vec::new();
    let mut relocations_resolved = 0;
    let mut padding_bytes = 0u64;
    let mut end = 0u64;

    for (i, piece) in pieces.iter().enumerate() {
        let after_function = i > 0 && matches!(pieces[i - 1].symbol, Symbol::Function(_));
        if pad_between_functions > 0
            && after_function
            && matches!(piece.symbol, Symbol::Function(_))
        {
            builder.append(false, &padding, 4);
            padding_bytes += padding.len() as u64;
        }
        let len = piece.bytes.len() as u64;
        // Checked before appending: offsets and the builder's own arithmetic are 32-bit.
        if end + padding.len() as u64 + len + piece.align as u64 + island_margin > MAX_TEXT {
            return Err(CompileError::Limit(format!(
                "text section over 4 GiB at {}",
                piece.symbol
            )));
        }
        let offset = builder.append(true, &piece.bytes, piece.align);
        end = offset + len;
        // Invariant 1: resolve this piece's relocations before appending anything else.
        for r in &piece.relocs {
            let at = offset + r.offset as u64;
            let unresolved = || CompileError::Relocation {
                func_index: piece.func_index,
                kind: format!(
                    "{:?} (addend {}) to {} in {}",
                    r.kind, r.addend, r.target, piece.symbol
                ),
                offset: at,
            };
            let label = *labels.get(&r.target).ok_or_else(unresolved)?;
            if !builder.resolve(at, r.kind, r.addend, label) {
                return Err(unresolved());
            }
            relocations_resolved += 1;
        }
        for &(trap_offset, code) in &piece.traps {
            traps.push(TrapEntry {
                offset: (offset + trap_offset as u64) as u32,
                code: code.as_u8(),
            });
        }
        placed.push(Placed {
            symbol: piece.symbol,
            offset: offset as u32,
            len: len as u32,
        });
    }
    let text = builder.finish();
    if text.len() as u64 > MAX_TEXT {
        return Err(CompileError::Limit("text section over 2 GiB".into()));
    }

    traps.sort_by_key(|t| t.offset);
    // Two records at one offset can only come from one instruction; keep the first.
    traps.dedup_by_key(|t| t.offset);
    Ok(Layout {
        text,
        placed,
        traps,
        relocations_resolved,
        padding_bytes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A builder that places pieces back to back and patches `u32` displacements, to test the
    /// bookkeeping independently of any code generator.
    #[derive(Default)]
    struct Flat {
        text: Vec<u8>,
        labels: Vec<u64>,
        fixups: Vec<(u64, usize)>,
    }

    impl TextBuilder for Flat {
        type RelocKind = u8;
        fn append(&mut self, labeled: bool, data: &[u8], align: u32) -> u64 {
            let offset = (self.text.len() as u64).next_multiple_of(align as u64);
            self.text.resize(offset as usize, 0);
            self.text.extend_from_slice(data);
            if labeled {
                self.labels.push(offset);
            }
            offset
        }
        fn resolve(&mut self, offset: u64, kind: u8, _addend: i64, label: usize) -> bool {
            if kind != 1 {
                return false;
            }
            self.fixups.push((offset, label));
            true
        }
        fn finish(&mut self) -> Vec<u8> {
            for &(at, label) in &self.fixups {
                let value = self.labels[label] as u32;
                self.text[at as usize..at as usize + 4].copy_from_slice(&value.to_le_bytes());
            }
            std::mem::take(&mut self.text)
        }
    }

    fn piece(
        symbol: Symbol,
        len: usize,
        relocs: Vec<CallReloc<u8>>,
        traps: Vec<(u32, TrapCode)>,
    ) -> CompiledCode<u8> {
        CompiledCode {
            symbol,
            func_index: 0,
            bytes: vec![0xAA; len],
            align: 4,
            relocs,
            traps,
        }
    }

    #[test]
    fn places_pads_resolves_and_sorts_traps() {
        let call = |offset, target| CallReloc {
            offset,
            kind: 1u8,
            addend: 0,
            target,
        };
        let pieces = vec![
            piece(
                Symbol::Function(1),
                10,
                vec![call(4, Symbol::Function(2))],
                vec![(8, TrapCode::IntegerDivisionByZero)],
            ),
            piece(
                Symbol::Function(2),
                8,
                vec![call(0, Symbol::Function(1))],
                vec![(4, TrapCode::StackOverflow), (0, TrapCode::IntegerOverflow)],
            ),
            piece(
                Symbol::ArrayTrampoline(1),
                8,
                vec![call(0, Symbol::Function(1))],
                vec![],
            ),
        ];
        let layout = lay_out(Flat::default(), &pieces, 100).unwrap();
        assert_eq!(layout.offset_of(Symbol::Function(1)), Some(0));
        // 10 bytes, 100 bytes of padding, aligned to 4.
        assert_eq!(layout.offset_of(Symbol::Function(2)), Some(112));
        // No padding before a trampoline.
        assert_eq!(layout.offset_of(Symbol::ArrayTrampoline(1)), Some(120));
        assert_eq!(layout.padding_bytes, 100);
        assert_eq!(layout.relocations_resolved, 3);
        assert_eq!(&layout.text[4..8], &112u32.to_le_bytes());
        assert_eq!(&layout.text[112..116], &0u32.to_le_bytes());
        let offsets: Vec<u32> = layout.traps.iter().map(|t| t.offset).collect();
        assert_eq!(offsets, vec![8, 112, 116]);
        assert_eq!(layout.overhead_bytes(), 2);
    }

    #[test]
    fn padding_beyond_the_text_limit_is_an_error() {
        let pieces: Vec<_> = (0..3)
            .map(|i| piece(Symbol::Function(i), 8, vec![], vec![]))
            .collect();
        let err = lay_out(Flat::default(), &pieces, 1 << 30).unwrap_err();
        assert!(matches!(err, CompileError::Limit(_)), "{err}");
    }

    #[test]
    fn unknown_kinds_and_targets_are_errors() {
        let bad_kind = vec![piece(
            Symbol::Function(0),
            8,
            vec![CallReloc {
                offset: 0,
                kind: 9,
                addend: 0,
                target: Symbol::Function(0),
            }],
            vec![],
        )];
        let err = lay_out(Flat::default(), &bad_kind, 0).unwrap_err();
        assert!(
            matches!(err, CompileError::Relocation { offset: 0, .. }),
            "{err}"
        );
        let missing = vec![piece(
            Symbol::Function(0),
            8,
            vec![CallReloc {
                offset: 4,
                kind: 1,
                addend: 0,
                target: Symbol::Function(7),
            }],
            vec![],
        )];
        let err = lay_out(Flat::default(), &missing, 0).unwrap_err();
        assert!(
            matches!(err, CompileError::Relocation { offset: 4, .. }),
            "{err}"
        );
    }
}
