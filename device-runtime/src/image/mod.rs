//! Image verification and zero-copy parsing.
//!
//! Order matters: the fixed header is parsed and checked first, then the SHA-256 digest over
//! the whole image, and only then is the metadata decoded (borrowing from the image) and
//! validated against the text length. Then the target and the tunables are checked against
//! what this runtime can execute ([`targets`] decides which targets). Nothing here can panic
//! on any input.

#![forbid(unsafe_code)]

pub mod targets;

use shared_types::metadata::Metadata;
use shared_types::{ImageHeader, Target, VmOffsets};

use crate::error::LoadError;

/// A verified image: header, decoded and validated metadata, and the vmctx layout.
#[derive(Debug)]
pub struct VerifiedImage<'img> {
    /// The fixed header.
    pub header: ImageHeader,
    /// The metadata, borrowing from the image.
    pub metadata: Metadata<'img>,
    /// The vmctx layout for the native pointer size.
    pub offsets: VmOffsets,
    /// The text bytes.
    pub text: &'img [u8],
}

/// Verifies `image` for execution on this core: `declared` is the core the firmware names
/// (`EngineConfig::core`), combined with what the runtime detects ([`targets::check`]).
pub fn verify(image: &[u8], declared: Option<Target>) -> Result<VerifiedImage<'_>, LoadError> {
    let header = ImageHeader::parse(image).map_err(LoadError::Header)?;
    header
        .verify_digest_with(image, crate::arch::sha256_compress)
        .map_err(LoadError::Header)?;
    targets::check(header.target, crate::arch::detected_core(), declared)?;
    verify_contents(image, header)
}

/// Verifies everything after the header and digest checks (also used by tests that build
/// images for a foreign target).
pub fn verify_contents(image: &[u8], header: ImageHeader) -> Result<VerifiedImage<'_>, LoadError> {
    let metadata = Metadata::decode(header.metadata_bytes(image)).map_err(LoadError::Metadata)?;
    let text = header.text_bytes(image);
    metadata
        .validate(header.text.1)
        .map_err(LoadError::Metadata)?;
    let offsets = VmOffsets::new(header.target.pointer_size(), metadata.counts).ok_or(
        LoadError::Unsupported("module too large for the vmctx layout"),
    )?;
    if header.target.pointer_size() as usize != core::mem::size_of::<usize>() {
        return Err(LoadError::Unsupported(
            "pointer size differs from the runtime's",
        ));
    }
    for m in metadata.memories.iter().flatten() {
        if m.shared {
            return Err(LoadError::Unsupported("shared memory"));
        }
        if m.page_size_log2 > 16 {
            return Err(LoadError::Unsupported("page size"));
        }
    }
    Ok(VerifiedImage {
        header,
        metadata,
        offsets,
        text,
    })
}
