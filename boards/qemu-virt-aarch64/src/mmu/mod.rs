//! The MMU: planning ([`plan`], safe, host-tested) and the board's live page tables.
//!
//! On the board, the tables are one static ([`TABLE_COUNT`] 4 KiB tables). [`init`] plans
//! the boot map ([`crate::memory_map::plan`]) and turns the MMU on; afterwards [`remap`],
//! [`map_page`] and [`unmap_page`] change pages of the pools (code, small memory slots, the
//! image partition) and of the wide slots' windows, which were all planned page by page at
//! boot, through [`plan::TranslationTables::rewrite_pages`]: a runtime change only ever
//! rewrites level-3 entries and never takes a table; a range that was not planned is refused
//! ([`plan::PlanError::NotPlanned`]), never planned late (see the invariants in [`plan`]).
//! The only unsafe code is the register and TLB work in `hw`.

pub mod plan;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hw;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use self::board::*;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod board {
    use super::hw;
    use super::plan::{Attributes, PAGE_SIZE, PlanError, TranslationTables};
    use crate::lock::Lock;

    /// Tables available to the board's plan (root included).
    /// The firmware's map needs at most 16 besides the memory pool; the memory pool, page by
    /// page, one level-3 table per 2 MiB and one more if it straddles a block boundary; the
    /// image partition's level-3 tables ([`crate::memory_map::IMAGE_PARTITION`], 16 MiB page by
    /// page) 8 more; each wide memory slot's window [`crate::memory_map::WIDE_SLOT_TABLES`]
    /// more.
    pub const TABLE_COUNT: usize = 16
        + (crate::memory_map::MEMORY_POOL_SIZE / super::plan::BLOCK_SIZE as usize + 1)
        + 8
        + crate::memory_map::WIDE_SLOT_COUNT * crate::memory_map::WIDE_SLOT_TABLES;

    static TABLES: Lock<TranslationTables<TABLE_COUNT>> = Lock::new(TranslationTables::new());

    /// Plans the boot map and enables the MMU; reports a bad plan and halts.
    pub(crate) fn init() {
        // SAFETY: called once from `board_start`, before the MMU is on, on the only core, with
        // interrupts masked.
        let planned = unsafe {
            TABLES.with_before_mmu(|tables| {
                crate::memory_map::plan(tables)?;
                Ok::<_, PlanError>((
                    tables.root_address(),
                    core::mem::size_of_val(tables.tables()),
                ))
            })
        };
        let (root, tables_len) = match planned {
            Ok(p) => p,
            Err(e) => {
                crate::println!("fatal: page-table plan refused: {e}");
                crate::semihosting::exit(crate::exceptions::FATAL_EXIT_STATUS);
            }
        };
        // SAFETY: the tables identity-map everything the program uses with the attributes its
        // sections need (text executable, stacks and data writable), so execution continues
        // unchanged once translation is on; `root` is the 4 KiB-aligned level-1 table and
        // the used tables are `[root, root + tables_len)`.
        unsafe { hw::enable(root, tables_len) };
    }

    /// Remaps the pages `[start, start + len)` of a pool that was planned page by page at boot
    /// and invalidates their TLB entries. After it returns, every access (data and
    /// instruction fetch) sees the new attributes.
    /// Identity mapping; refused (nothing changed) outside planned ranges.
    pub fn remap(start: u64, len: u64, attributes: Option<Attributes>) -> Result<(), PlanError> {
        TABLES.with(|tables| tables.rewrite_pages(start, start, len, attributes))?;
        hw::tlb_invalidate_range(start, len);
        Ok(())
    }

    /// Maps the page at `virt` (page-aligned, in a planned range) to the physical page
    /// `phys` with `attributes`; afterwards every access sees the new mapping.
    pub fn map_page(virt: u64, phys: u64, attributes: Attributes) -> Result<(), PlanError> {
        TABLES.with(|tables| tables.rewrite_pages(virt, phys, PAGE_SIZE, Some(attributes)))?;
        hw::tlb_invalidate_range(virt, PAGE_SIZE);
        Ok(())
    }

    /// Unmaps the page at `virt` (page-aligned, in a planned range) and returns the physical
    /// page it mapped (`None`, and nothing changed, if it was not mapped). When this returns,
    /// no access through `virt` can reach that physical page any more (TLB invalidated).
    pub fn unmap_page(virt: u64) -> Option<u64> {
        let physical = TABLES.with(|tables| {
            let (physical, _) = tables.translate(virt)?;
            tables.rewrite_pages(virt, 0, PAGE_SIZE, None).ok()?;
            Some(physical & !(PAGE_SIZE - 1))
        })?;
        hw::tlb_invalidate_range(virt, PAGE_SIZE);
        Some(physical)
    }

    /// The attributes `address` is mapped with now (`None` if unmapped).
    pub fn lookup(address: u64) -> Option<Attributes> {
        TABLES.with(|tables| tables.lookup(address))
    }

    /// The physical address `address` is mapped to now, with its attributes (`None` if
    /// unmapped).
    pub fn translate(address: u64) -> Option<(u64, Attributes)> {
        TABLES.with(|tables| tables.translate(address))
    }

    /// Number of translation tables the plan uses.
    pub fn tables_used() -> usize {
        TABLES.with(|tables| tables.tables_used())
    }
}
