//! Images built into the firmware: [`AlignedImage`] and [`include_image!`](crate::include_image).

#![forbid(unsafe_code)]

/// Image bytes aligned to 64 bytes, as `include_image!` places them in the firmware (the header
/// and metadata are read in place, so the image must not sit at an arbitrary byte address).
#[repr(C, align(64))]
#[derive(Debug)]
pub struct AlignedImage<B: ?Sized = [u8]> {
    /// The image.
    pub bytes: B,
}

impl AlignedImage {
    /// The image bytes, to hand to [`Module::new`](crate::Module::new).
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl core::ops::Deref for AlignedImage {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

/// Includes an image written by `host_compiler::build::Builder` from the firmware's `build.rs`
/// as a 64-byte-aligned `&'static AlignedImage`:
///
/// ```ignore
/// static IMAGE: &device_runtime::AlignedImage = device_runtime::include_image!("module.img");
/// let module = device_runtime::Module::new(&engine, IMAGE.bytes())?;
/// ```
///
/// The one-argument form reads `$OUT_DIR/NAME`; `include_image!(DIR, NAME)` reads `DIR/NAME`
/// (`DIR` a string literal or a macro such as `env!(...)`). No `unsafe`, no allocator.
#[macro_export]
macro_rules! include_image {
    ($name:expr) => {
        $crate::include_image!(env!("OUT_DIR"), $name)
    };
    ($dir:expr, $name:expr) => {{
        static IMAGE: &$crate::AlignedImage = &$crate::AlignedImage {
            bytes: *include_bytes!(concat!($dir, "/", $name)),
        };
        IMAGE
    }};
}

#[cfg(test)]
mod tests {
    #[test]
    fn included_bytes_are_aligned_and_complete() {
        let image: &'static crate::AlignedImage =
            crate::include_image!(env!("CARGO_MANIFEST_DIR"), "Cargo.toml");
        assert_eq!(image.bytes.as_ptr() as usize % 64, 0);
        assert_eq!(image.bytes(), include_bytes!("../Cargo.toml"));
        assert!(image.starts_with(b"[package]") || !image.is_empty());
    }
}
