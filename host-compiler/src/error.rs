//! Errors of the host compiler. Every error about the input names the function index (when
//! the problem is inside a function body) and the byte offset in the wasm binary.

use std::fmt;

/// Where in the input an error was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// Function index (imports included) when the error is inside a function body.
    pub func_index: Option<u32>,
    /// Byte offset in the wasm binary.
    pub offset: usize,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.func_index {
            Some(i) => write!(f, "function {i}, offset {:#x}", self.offset),
            None => write!(f, "offset {:#x}", self.offset),
        }
    }
}

/// Why a module could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The input is not well-formed WebAssembly text.
    #[error("invalid WebAssembly text: {0}")]
    Wat(String),
    /// The binary is malformed or fails validation.
    #[error("invalid wasm at {location}: {message}")]
    Invalid {
        /// Where.
        location: Location,
        /// wasmparser's reason.
        message: String,
    },
    /// Valid wasm that uses something this compiler does not support yet.
    #[error("unsupported at {location}: {feature}")]
    Unsupported {
        /// Where.
        location: Location,
        /// What is missing.
        feature: String,
    },
    /// Cranelift failed on a function (a compiler bug, reported rather than panicking).
    #[error("code generation failed for function {func_index}: {message}")]
    Codegen {
        /// Function index.
        func_index: u32,
        /// Cranelift's message.
        message: String,
    },
    /// Layout left a relocation that the text-section builder could not resolve. Images never
    /// carry relocations, so this is an error, never a silent patch.
    #[error("unresolvable relocation {kind} at text offset {offset:#x} in function {func_index}")]
    Relocation {
        /// Function whose code holds the relocation.
        func_index: u32,
        /// Relocation kind.
        kind: String,
        /// Text offset.
        offset: u64,
    },
    /// The module exceeds a format limit (text over 4 GiB, too many entities, ...).
    #[error("limit exceeded: {0}")]
    Limit(String),
    /// The target has no code generator in this build.
    #[error("unsupported target {target}: {reason}")]
    UnsupportedTarget {
        /// The target.
        target: shared_types::Target,
        /// Why, and what would be needed.
        reason: String,
    },
    /// Invalid compiler configuration.
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl CompileError {
    /// A validation error from wasmparser, attributed to `func_index` when inside a body.
    pub fn invalid(func_index: Option<u32>, err: &wasmparser::BinaryReaderError) -> Self {
        CompileError::Invalid {
            location: Location {
                func_index,
                offset: usize::try_from(err.offset()).unwrap_or(usize::MAX),
            },
            message: err.message().to_string(),
        }
    }

    /// An unsupported feature at a location.
    pub fn unsupported(func_index: Option<u32>, offset: usize, feature: impl Into<String>) -> Self {
        CompileError::Unsupported {
            location: Location { func_index, offset },
            feature: feature.into(),
        }
    }
}
