//! Execution in place: an image flashed into the
//! [image partition](crate::memory_map::IMAGE_PARTITION) runs from flash, with nothing copied.
//!
//! The partition is mapped read-only and execute-never at boot, page by page. [`load`]
//! verifies the image (header, digest, target, metadata: [`Module::new_in_place`]) and only
//! then remaps the pages holding its text read-only and **executable**, invalidates their TLB
//! entries and synchronises the instruction cache. Flash is never writable through the MMU, so
//! W^X holds; the header and metadata stay execute-never unless they share a page with the
//! text (`wasm-aot run --board` places the image so that its text starts on a page).
//!
//! Pages are counted, so two images whose texts share a page can be loaded together; a page
//! returns to execute-never when the last [`InPlaceModule`] using it is dropped. A store
//! borrows the module, so no instance can outlive the mapping.

use core::fmt;
use core::ops::Deref;

use device_runtime::{Engine, LoadError, Module};

use crate::lock::Lock;
use crate::memory_map::IMAGE_PARTITION;
use crate::mmu;
use crate::mmu::plan::{Attributes, PAGE_SIZE};

const PAGES: usize = (IMAGE_PARTITION.1 / PAGE_SIZE) as usize;

/// How many loaded modules have text on each page of the partition.
static USERS: Lock<[u8; PAGES]> = Lock::new([0; PAGES]);

/// Why an image could not be executed in place.
#[derive(Debug)]
pub enum XipError {
    /// The image is not entirely inside the image partition.
    OutsidePartition {
        /// First byte of the image.
        start: u64,
        /// Its length.
        len: usize,
    },
    /// The runtime refused the image (verification, target, alignment, resources).
    Load(LoadError),
    /// A page of the text is already used by 255 loaded modules.
    TooManyUsers,
    /// The page tables could not be changed.
    Tables,
}

impl fmt::Display for XipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            XipError::OutsidePartition { start, len } => write!(
                f,
                "image at {start:#x} ({len} bytes) is not inside the image partition \
                 {:#x}..{:#x}: only images there execute in place",
                IMAGE_PARTITION.0,
                IMAGE_PARTITION.0 + IMAGE_PARTITION.1
            ),
            XipError::Load(e) => write!(f, "{e}"),
            XipError::TooManyUsers => f.write_str("too many in-place modules share a text page"),
            XipError::Tables => f.write_str("cannot map the image's text executable"),
        }
    }
}

/// A module executing in place; dereferences to the [`Module`].
pub struct InPlaceModule<'img> {
    module: Module<'img>,
    /// Page indices of the text within the partition.
    pages: core::ops::Range<usize>,
}

impl<'img> Deref for InPlaceModule<'img> {
    type Target = Module<'img>;
    fn deref(&self) -> &Module<'img> {
        &self.module
    }
}

impl Drop for InPlaceModule<'_> {
    fn drop(&mut self) {
        release(self.pages.clone());
    }
}

fn page_address(page: usize) -> u64 {
    IMAGE_PARTITION.0 + page as u64 * PAGE_SIZE
}

/// Drops one use of each page; pages nobody uses go back to read-only, execute-never.
fn release(pages: core::ops::Range<usize>) {
    USERS.with(|users| {
        for page in pages {
            users[page] -= 1;
            if users[page] == 0 {
                // The page was planned at boot, so remapping it only rewrites its entry and
                // cannot fail.
                let _ = mmu::remap(page_address(page), PAGE_SIZE, Some(Attributes::READ_ONLY));
            }
        }
    });
}

/// Verifies `image`, which lies in the image partition, and makes its text executable where
/// it is.
pub fn load<'img>(engine: &Engine, image: &'img [u8]) -> Result<InPlaceModule<'img>, XipError> {
    let start = image.as_ptr() as u64;
    let inside = start >= IMAGE_PARTITION.0
        && (start - IMAGE_PARTITION.0)
            .checked_add(image.len() as u64)
            .is_some_and(|end| end <= IMAGE_PARTITION.1);
    if !inside {
        return Err(XipError::OutsidePartition {
            start,
            len: image.len(),
        });
    }
    // SAFETY: the image lies in flash, which nothing writes while the board runs, and the
    // borrow keeps it for 'img; its text is made executable (with the instruction cache
    // synchronised) below, before this function returns and thus before any code of it runs.
    let module = unsafe { Module::new_in_place(engine, image) }.map_err(XipError::Load)?;
    let text = module.text_range();
    let first = ((text.start as u64 - IMAGE_PARTITION.0) / PAGE_SIZE) as usize;
    let end = ((text.end as u64 - IMAGE_PARTITION.0).div_ceil(PAGE_SIZE)) as usize;
    USERS.with(|users| {
        if users[first..end].contains(&u8::MAX) {
            return Err(XipError::TooManyUsers);
        }
        let range = page_address(first)..page_address(end);
        mmu::remap(range.start, range.end - range.start, Some(Attributes::CODE))
            .map_err(|_| XipError::Tables)?;
        for n in &mut users[first..end] {
            *n += 1;
        }
        Ok(())
    })?;
    // SAFETY: the text is mapped (read-execute) and readable.
    unsafe { device_runtime::fault::sync_icache(text.start as *mut u8, text.len()) };
    Ok(InPlaceModule {
        module,
        pages: first..end,
    })
}

/// The image flashed at `address` in the image partition, if one starts there (magic `WAOT`):
/// its length is the header's image length (offset 0x20), capped by the partition's end. The
/// bytes are not verified; [`load`] does that.
pub fn image_at(address: u64) -> Option<&'static [u8]> {
    let end = IMAGE_PARTITION.0 + IMAGE_PARTITION.1;
    if address < IMAGE_PARTITION.0 || end - address < 0x24 {
        return None;
    }
    // SAFETY: [address, end) lies in the image partition, flash mapped read-only at boot and
    // never written while the board runs.
    let all = unsafe {
        core::slice::from_raw_parts(address as usize as *const u8, (end - address) as usize)
    };
    if &all[..4] != b"WAOT" {
        return None;
    }
    let len = u32::from_le_bytes([all[0x20], all[0x21], all[0x22], all[0x23]]) as usize;
    Some(&all[..len.min(all.len())])
}
