//! The MMU: planning ([`plan`], safe, host-tested) and the board's live page tables.
//!
//! On the board, the tables are one static ([`TABLE_COUNT`] 4 KiB tables). [`init`] plans
//! the boot map ([`crate::memory_map::plan`]) and turns the MMU on; afterwards [`remap`]
//! changes pages of the pools (code, memory slots), which were planned page by page at boot,
//! so a remap only ever rewrites level-3 entries (see the invariants in [`plan`]). The only
//! unsafe code is the register and TLB work in `hw`.

pub mod plan;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod hw;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
pub use self::board::*;

#[cfg(all(target_arch = "aarch64", target_os = "none"))]
mod board {
    use super::hw;
    use super::plan::{Attributes, Granularity, PlanError, TranslationTables};
    use crate::lock::Lock;

    /// Tables available to the board's plan (root included).
    /// The firmware's map needs at most 16; the image partition's level-3 tables
    /// ([`crate::memory_map::IMAGE_PARTITION`], 16 MiB page by page) 8 more.
    pub const TABLE_COUNT: usize = 16 + 8;

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
    pub fn remap(start: u64, len: u64, attributes: Option<Attributes>) -> Result<(), PlanError> {
        TABLES.with(|tables| tables.map(start, len, attributes, Granularity::Pages))?;
        hw::tlb_invalidate_range(start, len);
        Ok(())
    }

    /// The attributes `address` is mapped with now (`None` if unmapped).
    pub fn lookup(address: u64) -> Option<Attributes> {
        TABLES.with(|tables| tables.lookup(address))
    }

    /// Number of translation tables the plan uses.
    pub fn tables_used() -> usize {
        TABLES.with(|tables| tables.tables_used())
    }
}
