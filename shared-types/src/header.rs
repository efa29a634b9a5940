//! The fixed image header: the first bytes the device reads, before anything else is trusted.
//!
//! Written by the host compiler (`host-compiler/src/image`), read by the device runtime
//! (`device-runtime/src/image`). All integers are little-endian. Offsets are relative to the
//! first byte of the image.
//!
//! ```text
//! offset size field
//! 0x00   4    magic            b"WAOT"
//! 0x04   2    format version   FORMAT_VERSION (1); any other value is refused
//! 0x06   2    flags            must be 0 in version 1 (bit 0 is reserved for a signature block)
//! 0x08   1    target           Target::code(): architecture and core profile
//! 0x09   1    producer length  bytes used in the producer field (0..=32)
//! 0x0A   2    ABI version      ABI_VERSION: layout of the vmctx, libcalls and trampolines
//! 0x0C   4    tunables digest  first 4 bytes of SHA-256 over the postcard-encoded Tunables
//! 0x10   4    metadata offset  always HEADER_SIZE in version 1
//! 0x14   4    metadata length
//! 0x18   4    text offset      aligned to TEXT_ALIGN (64)
//! 0x1C   4    text length
//! 0x20   4    image length     total bytes, header included; trailing bytes are refused
//! 0x24   32   producer         compiler name and version, UTF-8, zero-padded
//! 0x44   32   digest           SHA-256 over bytes [0x00, 0x44) followed by [0x64, image length)
//! 0x64        end of header    (HEADER_SIZE = 100)
//! ```
//!
//! Between the end of the metadata and the text there are zero bytes of alignment padding; the
//! digest covers them, so the only bytes not covered by the digest are the digest itself.

use core::fmt;
use sha2::{Digest, Sha256};

use crate::Target;

/// The four bytes every image starts with.
pub const MAGIC: [u8; 4] = *b"WAOT";
/// The only container format this crate reads and writes.
pub const FORMAT_VERSION: u16 = 1;
/// Version of the code/runtime contract: vmctx layout, libcall table, trampolines, ValRaw.
/// Bump whenever [`crate::vmoffsets`] or [`crate::libcall`] change incompatibly. History: 2
/// appended the arithmetic helpers (`Libcall::I64DivS` to `Libcall::F32Nearest`) to the
/// libcall table, and Thumb-2 code returns results beyond four words in a return area that the
/// array-entry trampoline reserves. 3 narrowed `VMStoreContext`'s fuel and epoch fields to 32-bit
/// words and appended `Libcall::OutOfFuel` and `Libcall::EpochDeadline`. 4 appended
/// `Libcall::OutOfFuelPreserving` and `Libcall::EpochDeadlinePreserving` (register-preserving
/// variants, so that the Cranelift code keeps its loop values in caller-saved registers across
/// the cold fuel and epoch calls instead of spilling them around every check). 5 checks the
/// fuel slice only at function entry and loop headers (other blocks only subtract their cost,
/// so the slice may hold a debt of several blocks when `OutOfFuel` is called, with the cost
/// of the check point's block) and keeps the slice at most `vmoffsets::FUEL_SLICE_MAX`.
pub const ABI_VERSION: u16 = 5;
/// Bytes in the fixed header.
pub const HEADER_SIZE: usize = 0x64;
/// Alignment of the text section within the image (and the alignment the runtime needs the
/// image itself to have if the text is executed in place).
pub const TEXT_ALIGN: usize = 64;
/// Capacity of the producer field.
pub const PRODUCER_CAPACITY: usize = 32;
/// Offset of the SHA-256 digest field.
pub const DIGEST_OFFSET: usize = 0x44;
/// Size of the digest field.
pub const DIGEST_SIZE: usize = 32;

/// The decoded header. Every field has been checked for internal consistency by
/// [`ImageHeader::parse`]; the digest is checked by [`ImageHeader::verify_digest`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImageHeader {
    /// Format version (0x04).
    pub format_version: u16,
    /// Flags (0x06).
    pub flags: u16,
    /// Target (0x08).
    pub target: Target,
    /// ABI version (0x0A).
    pub abi_version: u16,
    /// Tunables digest (0x0C).
    pub tunables_digest: u32,
    /// Metadata offset and length (0x10, 0x14).
    pub metadata: (u32, u32),
    /// Text offset and length (0x18, 0x1C).
    pub text: (u32, u32),
    /// Total image length (0x20).
    pub image_len: u32,
    /// Producer bytes (0x24) and their used length (0x09).
    pub producer: [u8; PRODUCER_CAPACITY],
    /// Used bytes of `producer`.
    pub producer_len: u8,
    /// SHA-256 digest (0x44).
    pub digest: [u8; DIGEST_SIZE],
}

/// Why an image was refused. Every variant is a precise, recoverable error: the device never
/// panics and never runs code from an image that fails any check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer bytes than the fixed header, or than the header says the image has.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes present.
        actual: usize,
    },
    /// The first four bytes are not `WAOT`.
    BadMagic,
    /// A format version this runtime does not read.
    UnsupportedVersion(u16),
    /// Flags set that version 1 does not define.
    UnsupportedFlags(u16),
    /// An unknown target byte.
    UnknownTarget(u8),
    /// A different ABI version than this runtime implements.
    AbiMismatch {
        /// In the image.
        image: u16,
        /// In this runtime.
        runtime: u16,
    },
    /// Section offsets or lengths overlap, leave the image, or are misaligned.
    BadLayout,
    /// More bytes than the header says the image has.
    TrailingBytes,
    /// The SHA-256 digest does not match the contents.
    DigestMismatch,
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::Truncated { needed, actual } => {
                write!(f, "image truncated: {actual} bytes, need {needed}")
            }
            HeaderError::BadMagic => f.write_str("not an image: bad magic"),
            HeaderError::UnsupportedVersion(v) => write!(f, "unsupported image format version {v}"),
            HeaderError::UnsupportedFlags(v) => write!(f, "unsupported image flags {v:#06x}"),
            HeaderError::UnknownTarget(t) => write!(f, "unknown target code {t}"),
            HeaderError::AbiMismatch { image, runtime } => {
                write!(f, "image ABI version {image}, runtime implements {runtime}")
            }
            HeaderError::BadLayout => f.write_str("image sections overlap or leave the image"),
            HeaderError::TrailingBytes => f.write_str("bytes after the end of the image"),
            HeaderError::DigestMismatch => {
                f.write_str("image digest mismatch: the image is corrupted")
            }
        }
    }
}

impl core::error::Error for HeaderError {}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl ImageHeader {
    /// Parses and checks the fixed header of `image` (everything except the digest, which
    /// needs a pass over the whole image: [`ImageHeader::verify_digest`]).
    pub fn parse(image: &[u8]) -> Result<ImageHeader, HeaderError> {
        if image.len() < HEADER_SIZE {
            // Check the magic on what we have first, so a non-image says so.
            if image.len() >= 4 && image[..4] != MAGIC {
                return Err(HeaderError::BadMagic);
            }
            return Err(HeaderError::Truncated {
                needed: HEADER_SIZE,
                actual: image.len(),
            });
        }
        if image[..4] != MAGIC {
            return Err(HeaderError::BadMagic);
        }
        let format_version = u16_at(image, 0x04);
        if format_version != FORMAT_VERSION {
            return Err(HeaderError::UnsupportedVersion(format_version));
        }
        let flags = u16_at(image, 0x06);
        if flags != 0 {
            return Err(HeaderError::UnsupportedFlags(flags));
        }
        let target =
            Target::from_code(image[0x08]).ok_or(HeaderError::UnknownTarget(image[0x08]))?;
        let producer_len = image[0x09];
        if producer_len as usize > PRODUCER_CAPACITY {
            return Err(HeaderError::BadLayout);
        }
        let abi_version = u16_at(image, 0x0A);
        if abi_version != ABI_VERSION {
            return Err(HeaderError::AbiMismatch {
                image: abi_version,
                runtime: ABI_VERSION,
            });
        }
        let tunables_digest = u32_at(image, 0x0C);
        let metadata = (u32_at(image, 0x10), u32_at(image, 0x14));
        let text = (u32_at(image, 0x18), u32_at(image, 0x1C));
        let image_len = u32_at(image, 0x20);
        let mut producer = [0u8; PRODUCER_CAPACITY];
        producer.copy_from_slice(&image[0x24..0x24 + PRODUCER_CAPACITY]);
        let mut digest = [0u8; DIGEST_SIZE];
        digest.copy_from_slice(&image[DIGEST_OFFSET..DIGEST_OFFSET + DIGEST_SIZE]);

        // Layout: header | metadata | zero padding | text == image_len.
        let meta_end = (metadata.0 as u64) + (metadata.1 as u64);
        let text_end = (text.0 as u64) + (text.1 as u64);
        let layout_ok = metadata.0 as usize == HEADER_SIZE
            && meta_end <= text.0 as u64
            && (text.0 as usize).is_multiple_of(TEXT_ALIGN)
            && text_end == image_len as u64;
        if !layout_ok {
            return Err(HeaderError::BadLayout);
        }
        if (image.len() as u64) < image_len as u64 {
            return Err(HeaderError::Truncated {
                needed: image_len as usize,
                actual: image.len(),
            });
        }
        if image.len() as u64 > image_len as u64 {
            return Err(HeaderError::TrailingBytes);
        }
        Ok(ImageHeader {
            format_version,
            flags,
            target,
            abi_version,
            tunables_digest,
            metadata,
            text,
            image_len,
            producer,
            producer_len,
            digest,
        })
    }

    /// The producer string (lossy: invalid UTF-8 gives `"?"`).
    pub fn producer(&self) -> &str {
        core::str::from_utf8(&self.producer[..self.producer_len as usize]).unwrap_or("?")
    }

    /// Checks the SHA-256 digest over the whole image. `image` must be the bytes `parse` accepted.
    pub fn verify_digest(&self, image: &[u8]) -> Result<(), HeaderError> {
        self.verify_digest_with(image, compress_portable)
    }

    /// [`verify_digest`](Self::verify_digest) with the SHA-256 block function `compress` (for
    /// instance one using the CPU's SHA-256 instructions).
    pub fn verify_digest_with(&self, image: &[u8], compress: Compress) -> Result<(), HeaderError> {
        if compute_digest_with(image, compress) == self.digest {
            Ok(())
        } else {
            Err(HeaderError::DigestMismatch)
        }
    }

    /// The metadata bytes of `image` (already bounds-checked by `parse`).
    pub fn metadata_bytes<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        let start = self.metadata.0 as usize;
        image
            .get(start..start + self.metadata.1 as usize)
            .unwrap_or(&[])
    }

    /// The text bytes of `image` (already bounds-checked by `parse`).
    pub fn text_bytes<'a>(&self, image: &'a [u8]) -> &'a [u8] {
        let start = self.text.0 as usize;
        image
            .get(start..start + self.text.1 as usize)
            .unwrap_or(&[])
    }

    /// Writes the header into `out[..HEADER_SIZE]` with a zero digest; call [`seal`] after the
    /// rest of the image is in place.
    pub fn write(&self, out: &mut [u8]) {
        out[0x00..0x04].copy_from_slice(&MAGIC);
        out[0x04..0x06].copy_from_slice(&self.format_version.to_le_bytes());
        out[0x06..0x08].copy_from_slice(&self.flags.to_le_bytes());
        out[0x08] = self.target.code();
        out[0x09] = self.producer_len;
        out[0x0A..0x0C].copy_from_slice(&self.abi_version.to_le_bytes());
        out[0x0C..0x10].copy_from_slice(&self.tunables_digest.to_le_bytes());
        out[0x10..0x14].copy_from_slice(&self.metadata.0.to_le_bytes());
        out[0x14..0x18].copy_from_slice(&self.metadata.1.to_le_bytes());
        out[0x18..0x1C].copy_from_slice(&self.text.0.to_le_bytes());
        out[0x1C..0x20].copy_from_slice(&self.text.1.to_le_bytes());
        out[0x20..0x24].copy_from_slice(&self.image_len.to_le_bytes());
        out[0x24..0x44].copy_from_slice(&self.producer);
        out[DIGEST_OFFSET..DIGEST_OFFSET + DIGEST_SIZE].fill(0);
    }

    /// Builds a header for a new image (host side).
    pub fn new(
        target: Target,
        producer: &str,
        tunables_digest: u32,
        metadata_len: u32,
        text_len: u32,
    ) -> ImageHeader {
        let mut p = [0u8; PRODUCER_CAPACITY];
        let n = producer.len().min(PRODUCER_CAPACITY);
        p[..n].copy_from_slice(&producer.as_bytes()[..n]);
        let text_offset = (HEADER_SIZE + metadata_len as usize).next_multiple_of(TEXT_ALIGN) as u32;
        ImageHeader {
            format_version: FORMAT_VERSION,
            flags: 0,
            target,
            abi_version: ABI_VERSION,
            tunables_digest,
            metadata: (HEADER_SIZE as u32, metadata_len),
            text: (text_offset, text_len),
            image_len: text_offset + text_len,
            producer: p,
            producer_len: n as u8,
            digest: [0; DIGEST_SIZE],
        }
    }
}

/// A SHA-256 block function: folds whole 64-byte blocks into the eight-word state, in order.
/// [`compress_portable`] is the portable one; a runtime may pass one that uses the CPU's SHA-256
/// instructions ([`ImageHeader::verify_digest_with`]).
pub type Compress = fn(&mut [u32; 8], &[[u8; 64]]);

/// The portable block function (the `sha2` crate's software implementation).
pub fn compress_portable(state: &mut [u32; 8], blocks: &[[u8; 64]]) {
    for block in blocks {
        let block = sha2::digest::generic_array::GenericArray::from_slice(block);
        sha2::compress256(state, core::slice::from_ref(block));
    }
}

/// SHA-256 of `parts` concatenated, padding and length done here, block work by `compress`.
pub fn sha256_with(parts: &[&[u8]], compress: Compress) -> [u8; DIGEST_SIZE] {
    const INITIAL: [u32; 8] = [
        0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
        0x5be0cd19,
    ];
    let mut state = INITIAL;
    let mut pending = [0u8; 64];
    let mut filled = 0;
    let mut total: u64 = 0;
    for part in parts {
        let mut bytes = *part;
        total = total.wrapping_add(bytes.len() as u64);
        if filled > 0 {
            let take = (64 - filled).min(bytes.len());
            pending[filled..filled + take].copy_from_slice(&bytes[..take]);
            filled += take;
            bytes = &bytes[take..];
            if filled < 64 {
                continue;
            }
            compress(&mut state, core::slice::from_ref(&pending));
        }
        let (blocks, rest) = bytes.as_chunks::<64>();
        compress(&mut state, blocks);
        pending[..rest.len()].copy_from_slice(rest);
        filled = rest.len();
    }
    // Padding: 0x80, zeros, then the length in bits (big-endian) in the last 8 bytes.
    pending[filled] = 0x80;
    pending[filled + 1..].fill(0);
    if filled >= 56 {
        compress(&mut state, core::slice::from_ref(&pending));
        pending.fill(0);
    }
    pending[56..].copy_from_slice(&total.wrapping_mul(8).to_be_bytes());
    compress(&mut state, core::slice::from_ref(&pending));
    let mut digest = [0u8; DIGEST_SIZE];
    for (out, word) in digest.chunks_exact_mut(4).zip(state) {
        out.copy_from_slice(&word.to_be_bytes());
    }
    digest
}

/// SHA-256 over the image with the digest field skipped.
pub fn compute_digest(image: &[u8]) -> [u8; DIGEST_SIZE] {
    compute_digest_with(image, compress_portable)
}

/// [`compute_digest`] with the block function `compress`.
pub fn compute_digest_with(image: &[u8], compress: Compress) -> [u8; DIGEST_SIZE] {
    let end = DIGEST_OFFSET.min(image.len());
    let rest = image.get(DIGEST_OFFSET + DIGEST_SIZE..).unwrap_or(&[]);
    sha256_with(&[&image[..end], rest], compress)
}

/// Computes the digest of a complete image and stores it in the digest field (host side).
pub fn seal(image: &mut [u8]) {
    let d = compute_digest(image);
    image[DIGEST_OFFSET..DIGEST_OFFSET + DIGEST_SIZE].copy_from_slice(&d);
}

/// First four bytes of SHA-256 over `bytes`, little-endian (the tunables digest).
pub fn short_digest(bytes: &[u8]) -> u32 {
    let d: [u8; 32] = Sha256::digest(bytes).into();
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> [u8; 256] {
        let mut img = [0u8; 256];
        let h = ImageHeader::new(Target::Aarch64, "test", 7, 20, 256 - 128);
        assert_eq!(h.text.0, 128);
        h.write(&mut img);
        for (i, b) in img[128..].iter_mut().enumerate() {
            *b = i as u8;
        }
        seal(&mut img);
        img
    }

    #[test]
    fn round_trip() {
        let img = sample();
        let h = ImageHeader::parse(&img).unwrap();
        h.verify_digest(&img).unwrap();
        assert_eq!(h.target, Target::Aarch64);
        assert_eq!(h.producer(), "test");
        assert_eq!(h.text_bytes(&img).len(), 128);
        assert_eq!(h.metadata_bytes(&img).len(), 20);
    }

    /// Our padding and streaming against the `sha2` crate's complete SHA-256, for every
    /// length around the block and padding boundaries and every split into two parts.
    #[test]
    fn sha256_with_matches_the_reference() {
        let data: [u8; 300] = core::array::from_fn(|i| (i * 7 + 3) as u8);
        for len in 0..data.len() {
            let expected: [u8; 32] = Sha256::digest(&data[..len]).into();
            for split in [0, 1, len / 3, len.saturating_sub(1), len] {
                let split = split.min(len);
                let parts: [&[u8]; 2] = [&data[..split], &data[split..len]];
                assert_eq!(
                    sha256_with(&parts, compress_portable),
                    expected,
                    "length {len}, split at {split}"
                );
            }
        }
        // The empty message (FIPS 180-4 example value).
        assert_eq!(
            sha256_with(&[], compress_portable)[..4],
            [0xe3, 0xb0, 0xc4, 0x42]
        );
    }

    #[test]
    fn every_truncation_is_an_error() {
        let img = sample();
        for n in 0..img.len() {
            assert!(ImageHeader::parse(&img[..n]).is_err(), "truncated to {n}");
        }
    }

    #[test]
    fn every_bit_flip_is_detected() {
        let img = sample();
        for byte in 0..img.len() {
            for bit in 0..8 {
                let mut bad = img;
                bad[byte] ^= 1 << bit;
                let ok = ImageHeader::parse(&bad).and_then(|h| h.verify_digest(&bad));
                assert!(ok.is_err(), "flip of bit {bit} in byte {byte} not detected");
            }
        }
    }
}
