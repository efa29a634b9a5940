//! The single source of truth shared by the host compiler and the device runtime.
//!
//! This crate holds everything both halves of the toolchain must agree on and nothing else:
//!
//! * [`header`]: the fixed, hardened image header (magic, version, target, offsets, digest),
//!   read first by the device before anything else is trusted;
//! * [`metadata`]: the postcard-encoded module description that follows the header, decoded in
//!   place on the device without an allocator ([`seq`] provides the zero-copy sequences);
//! * [`vmoffsets`]: the layout of the `VMContext` and of every record compiled code touches,
//!   computed by one function for any pointer width;
//! * [`trap`]: [`TrapCode`], the reason a call stopped;
//! * [`libcall`]: the table of runtime helpers compiled code calls through the vmctx, with the
//!   signature of each;
//! * [`target`]: the architectures and core profiles an image can be compiled for;
//! * [`types`]: value types and function signatures.
//!
//! The crate is `no_std`, has no unsafe code, and depends on no code generator or wasm parser.
//! The `alloc` feature adds the encoders the host compiler uses.

#![no_std]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;

pub mod header;
pub mod libcall;
pub mod metadata;
pub mod seq;
pub mod target;
pub mod trap;
pub mod types;
pub mod vmoffsets;

pub use header::{HeaderError, ImageHeader};
pub use libcall::Libcall;
pub use metadata::Metadata;
pub use target::Target;
pub use trap::TrapCode;
pub use types::{FuncType, ValType};
pub use vmoffsets::VmOffsets;
