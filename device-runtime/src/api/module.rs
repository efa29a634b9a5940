//! Loaded modules: a verified image whose text is in executable memory.

use shared_types::metadata::{BoundsChecks, ExternKind, ImportKind, Metadata};
use shared_types::{Target, VmOffsets};

use crate::api::engine::Engine;
use crate::error::LoadError;
use crate::image::{VerifiedImage, verify};
use crate::platform::{CodeRegion, Platform};
use crate::vm::code_registry::{self, Registration};

/// An import of a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ImportDesc<'a> {
    /// Module name.
    pub module: &'a str,
    /// Field name.
    pub name: &'a str,
    /// What is imported, with its type.
    pub kind: ImportKind,
}

/// An export of a module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExportDesc<'a> {
    /// Export name.
    pub name: &'a str,
    /// Kind.
    pub kind: ExternKind,
    /// Index in the kind's index space.
    pub index: u32,
}

/// A verified image with its text published in executable memory.
///
/// `Module::new` verifies the image (header, digest, target, metadata), copies the text into
/// fresh code memory from the platform and publishes it (writable, then read-execute; never
/// both). The module registers its text and trap table with the fault hook until dropped.
pub struct Module<'img> {
    pub(crate) image: VerifiedImage<'img>,
    code: Option<CodeRegion>,
    pub(crate) text_base: usize,
    platform: &'static dyn Platform,
    registration: Option<Registration>,
}

impl core::fmt::Debug for Module<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Module")
            .field("target", &self.image.header.target)
            .field("text_base", &(self.text_base as *const u8))
            .field("text_len", &self.image.text.len())
            .finish_non_exhaustive()
    }
}

impl<'img> Module<'img> {
    /// Verifies `image` and loads its text into code memory.
    pub fn new(engine: &Engine, image: &'img [u8]) -> Result<Module<'img>, LoadError> {
        let verified = verify(image, engine.config.core)?;
        let platform = engine.config.platform;
        check_guard_reservation(engine, &verified)?;
        let text = verified.text;
        let region = platform
            .code_alloc(text.len())
            .map_err(LoadError::Platform)?;
        // SAFETY: the platform returned `region.len >= text.len()` writable bytes that nothing
        // else uses; the text is a separate buffer.
        unsafe { core::ptr::copy_nonoverlapping(text.as_ptr(), region.base.as_ptr(), text.len()) };
        // SAFETY: the region came from this platform's `code_alloc` and is not published yet.
        if let Err(e) = unsafe { platform.code_publish(&region) } {
            // SAFETY: nothing runs in it.
            unsafe { platform.code_free(region) };
            return Err(LoadError::Platform(e));
        }
        let text_base = region.base.as_ptr() as usize;
        let traps = verified.metadata.traps.as_bytes();
        // SAFETY: the trap table borrows the image for 'img; the registration is removed in
        // `Drop` before the module (and thus the borrow) ends.
        let registration = unsafe { code_registry::register(text_base, text.len(), traps) };
        let Some(registration) = registration else {
            // SAFETY: nothing runs in it.
            unsafe { platform.code_free(region) };
            return Err(LoadError::TooManyModules);
        };
        Ok(Module {
            image: verified,
            code: Some(region),
            text_base,
            platform,
            registration: Some(registration),
        })
    }

    /// Verifies `image` and executes its text where it lies (execute in place: an image in
    /// flash, or one the board already copied into executable RAM). Nothing is copied.
    ///
    /// # Safety
    /// The bytes of `image` do not change while the module lives, and before any of its code
    /// runs (instantiation runs the start function) its text ([`Module::text_range`]) is in
    /// memory the CPU can execute, with instruction caches coherent with it.
    pub unsafe fn new_in_place(
        engine: &Engine,
        image: &'img [u8],
    ) -> Result<Module<'img>, LoadError> {
        let verified = verify(image, engine.config.core)?;
        check_guard_reservation(engine, &verified)?;
        let text = verified.text;
        let text_base = text.as_ptr() as usize;
        if !text_base.is_multiple_of(shared_types::header::TEXT_ALIGN) {
            return Err(LoadError::Unsupported(
                "image not aligned for execution in place",
            ));
        }
        let traps = verified.metadata.traps.as_bytes();
        // SAFETY: the trap table borrows the image for 'img; the registration is removed in
        // `Drop` before the borrow ends.
        let registration = unsafe { code_registry::register(text_base, text.len(), traps) }
            .ok_or(LoadError::TooManyModules)?;
        Ok(Module {
            image: verified,
            code: None,
            text_base,
            platform: &crate::platform::NoPlatform,
            registration: Some(registration),
        })
    }

    /// Where the module's text executes: its first byte's address and its length. For a
    /// module loaded with [`Module::new`] this is the platform's code memory; for one loaded
    /// with [`Module::new_in_place`], the text inside the image itself (a board that executes
    /// in place uses it to make exactly these bytes executable).
    pub fn text_range(&self) -> core::ops::Range<usize> {
        self.text_base..self.text_base + self.image.text.len()
    }

    /// The target the image was compiled for.
    pub fn target(&self) -> Target {
        self.image.header.target
    }

    /// The code-generation settings the image was compiled with (bounds checks, fuel
    /// metering, epoch checks).
    pub fn tunables(&self) -> shared_types::metadata::Tunables {
        self.image.metadata.tunables
    }

    /// The producer recorded in the image header.
    pub fn producer(&self) -> &str {
        self.image.header.producer()
    }

    /// The imports, in module order.
    pub fn imports(&self) -> impl Iterator<Item = ImportDesc<'img>> + '_ {
        self.image
            .metadata
            .imports
            .iter()
            .flatten()
            .map(|i| ImportDesc {
                module: i.module,
                name: i.name,
                kind: i.kind,
            })
    }

    /// The exports.
    pub fn exports(&self) -> impl Iterator<Item = ExportDesc<'img>> + '_ {
        self.image
            .metadata
            .exports
            .iter()
            .flatten()
            .map(|e| ExportDesc {
                name: e.name,
                kind: e.kind,
                index: e.index,
            })
    }

    pub(crate) fn metadata(&self) -> &Metadata<'img> {
        &self.image.metadata
    }

    pub(crate) fn offsets(&self) -> &VmOffsets {
        &self.image.offsets
    }
}

/// Refuses a guard-elided image whose guarded reservation the engine and platform cannot
/// provide (on a 32-bit address space: none).
fn check_guard_reservation(engine: &Engine, verified: &VerifiedImage<'_>) -> Result<(), LoadError> {
    let tunables = verified.metadata.tunables;
    if tunables.bounds_checks == BoundsChecks::GuardElided {
        let available = engine.guard_capacity();
        if tunables.guard_reservation > available {
            return Err(LoadError::GuardReservation {
                required: tunables.guard_reservation,
                available,
            });
        }
    }
    Ok(())
}

// SAFETY: after `new` the module is immutable: its text is published read-execute and its
// metadata borrows the image; the only mutation (unregistering and freeing the code) happens in
// `Drop`, which needs exclusive ownership. Sharing or sending a module between threads is
// therefore sound.
unsafe impl Send for Module<'_> {}
// SAFETY: see `Send`.
unsafe impl Sync for Module<'_> {}

impl Drop for Module<'_> {
    fn drop(&mut self) {
        if let Some(r) = self.registration.take() {
            code_registry::unregister(r);
        }
        if let Some(region) = self.code.take() {
            // SAFETY: stores borrow their modules, so none is alive and no code of this module
            // can run.
            unsafe { self.platform.code_free(region) };
        }
    }
}
