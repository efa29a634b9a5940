//! Image verification and zero-copy parsing.
//!
//! Order matters: the fixed header is parsed and checked first, then the SHA-256 digest over
//! the whole image, and only then is the metadata decoded (borrowing from the image) and
//! validated against the text length. Then the target and the tunables are checked against
//! what this runtime can execute. Nothing here can panic on any input.

#![forbid(unsafe_code)]

use shared_types::metadata::{BoundsChecks, Metadata};
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

/// Verifies `image` for execution on `native` (the runtime's target, `None` if this runtime
/// cannot execute code).
pub fn verify(image: &[u8], native: Option<Target>) -> Result<VerifiedImage<'_>, LoadError> {
    let header = ImageHeader::parse(image).map_err(LoadError::Header)?;
    header
        .verify_digest_with(image, crate::arch::sha256_compress)
        .map_err(LoadError::Header)?;
    if native != Some(header.target) {
        return Err(LoadError::WrongTarget {
            image: header.target,
            runtime: native,
        });
    }
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
    if metadata.tunables.bounds_checks == BoundsChecks::GuardElided
        && core::mem::size_of::<usize>() < 8
    {
        return Err(LoadError::Unsupported(
            "guard-elided bounds checks need a 64-bit address space",
        ));
    }
    Ok(VerifiedImage {
        header,
        metadata,
        offsets,
        text,
    })
}
