//! Page-table planning: safe code that writes AArch64 translation-table descriptors into
//! memory it owns, testable on the host.
//!
//! # Vocabulary
//!
//! * **Granule**: 4 KiB pages. **VA size**: 39 bits (`TCR_EL1.T0SZ = 25`), so a walk starts at
//!   level 1: a level-1 entry covers 1 GiB, a level-2 entry 2 MiB (a *block*), a level-3 entry
//!   one 4 KiB *page*.
//! * **Identity map**: every virtual address maps to the same physical address. The boot map
//!   is one ([`TranslationTables::map`]), which keeps addresses the linker gave us valid with
//!   the MMU on or off. The board's *wide* memory slots are the exception: virtual ranges far
//!   above RAM whose accessible pages map to physical pages of the memory pool
//!   ([`TranslationTables::map_to`], [`TranslationTables::rewrite_pages`]).
//! * **Planned range**: a range whose level-3 tables exist (it was mapped, or unmapped, with
//!   [`Granularity::Pages`] at boot). Only planned ranges can be changed while the MMU is on.
//! * **Attributes** ([`Attributes`]): memory type ([`Memory::Normal`] write-back cacheable
//!   inner-shareable, or [`Memory::Device`] nGnRE) and access ([`Access`]). There is no
//!   writable-and-executable access: W^X holds by construction of the type, and device memory
//!   is never executable ([`PlanError::ExecutableDevice`]).
//!
//! # Structure
//!
//! [`TranslationTables`] owns `N` 4 KiB tables; table 0 is the level-1 root (`TTBR0_EL1`).
//! The level-1 root only ever holds table descriptors (no 1 GiB blocks); level-2 and level-3
//! tables are taken from the remaining ones on demand and never given back.
//!
//! [`TranslationTables::map`] sets the attributes (or removes the mapping, `None`) of a
//! page-aligned range. With [`Granularity::Blocks`] it writes a 2 MiB block wherever a whole
//! aligned block is covered and the level-2 entry is not already a table; everything else gets
//! level-3 pages. Mapping pages inside an existing block *splits* it: a fresh level-3 table
//! receives 512 pages with the block's attributes first, so nothing else in the block changes.
//!
//! # Invariants (what callers rely on)
//!
//! * After `map(va, len, a, _)` returns `Ok`, [`TranslationTables::lookup`] gives `a` for every
//!   page of the range and is unchanged for every page outside it.
//! * A failed `map` changes nothing it has not already completed: ranges are processed from low
//!   to high addresses, and the only failure after validation is running out of tables, which
//!   happens before the entries of the chunk that needed the table are written.
//! * A range first planned with [`Granularity::Pages`] is backed by level-3 tables for its
//!   whole extent, so later remaps of pages inside it (done while the MMU is on) only rewrite
//!   level-3 entries: no live block is ever split, which would need break-before-make.
//! * **Runtime remaps never create tables.** [`TranslationTables::rewrite_pages`], the only
//!   call the board makes once the MMU is on, takes no table and splits no block: it first
//!   checks that every page of the range already has its level-3 table (else
//!   [`PlanError::NotPlanned`], nothing written), then rewrites level-3 entries only. Taking a
//!   table at run time would mean zeroing it and linking it into a live walk (and possibly
//!   splitting a live block, which needs break-before-make) from inside a `Platform` call that
//!   may run in the `memory.grow` libcall of interrupted wasm code; planning every range that
//!   may ever change at boot keeps every runtime change to single, independent level-3 writes.
//!   Ranges never planned (a wide slot beyond its first window, its front guard) keep invalid
//!   level-1 or level-2 entries forever, so every access to them faults.
//! * No descriptor this module writes is both writable and executable at EL1 (tests scan for
//!   it).

use core::fmt;

/// Bytes per page (the 4 KiB granule).
pub const PAGE_SIZE: u64 = 4096;
/// Bytes per level-2 block.
pub const BLOCK_SIZE: u64 = 2 << 20;
/// Bytes per level-1 entry.
pub const LEVEL1_SIZE: u64 = 1 << 30;
/// Virtual address bits.
pub const VA_BITS: u32 = 39;
/// Physical address bits (`TCR_EL1.IPS` = 40 bits).
pub const PA_BITS: u32 = 40;
/// Entries per table.
pub const ENTRIES: usize = 512;

/// `MAIR_EL1` attribute index of device nGnRE memory.
pub const MAIR_DEVICE_INDEX: u64 = 0;
/// `MAIR_EL1` attribute index of normal write-back cacheable memory.
pub const MAIR_NORMAL_INDEX: u64 = 1;
/// The `MAIR_EL1` value the descriptors assume: attr0 = device nGnRE (0x04), attr1 = normal
/// inner/outer write-back read/write-allocate non-transient (0xff).
pub const MAIR_VALUE: u64 = 0x04 | (0xff << 8);

const VALID: u64 = 1 << 0;
/// Bit 1: "table" at levels 1-2, "page" at level 3 (a level-2 block has it clear).
const TABLE_OR_PAGE: u64 = 1 << 1;
const ATTR_INDEX_SHIFT: u32 = 2;
const ATTR_INDEX_MASK: u64 = 0b111 << ATTR_INDEX_SHIFT;
/// AP[2]: read-only at EL1 (AP[1] = 0: no EL0 access).
const AP_READ_ONLY: u64 = 1 << 7;
const SHAREABILITY_INNER: u64 = 0b11 << 8;
const ACCESS_FLAG: u64 = 1 << 10;
const PRIVILEGED_EXECUTE_NEVER: u64 = 1 << 53;
const UNPRIVILEGED_EXECUTE_NEVER: u64 = 1 << 54;
const OUTPUT_ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// Memory type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Memory {
    /// Normal memory, inner and outer write-back cacheable, inner shareable (RAM, flash).
    Normal,
    /// Device-nGnRE memory (peripheral registers).
    Device,
}

/// Access permissions at EL1 (EL0 never has access). No variant is writable and executable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read only, execute-never.
    ReadOnly,
    /// Read and write, execute-never.
    ReadWrite,
    /// Read and execute, not writable.
    ReadExecute,
}

/// What a mapped page is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Memory type.
    pub memory: Memory,
    /// Access permissions.
    pub access: Access,
}

impl Attributes {
    /// RAM data: normal, read-write, execute-never.
    pub const DATA: Attributes = Attributes {
        memory: Memory::Normal,
        access: Access::ReadWrite,
    };
    /// Constants: normal, read-only, execute-never.
    pub const READ_ONLY: Attributes = Attributes {
        memory: Memory::Normal,
        access: Access::ReadOnly,
    };
    /// Code: normal, read-execute.
    pub const CODE: Attributes = Attributes {
        memory: Memory::Normal,
        access: Access::ReadExecute,
    };
    /// Peripheral registers: device nGnRE, read-write, execute-never.
    pub const DEVICE: Attributes = Attributes {
        memory: Memory::Device,
        access: Access::ReadWrite,
    };
}

/// How [`TranslationTables::map`] may cover a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Granularity {
    /// 2 MiB blocks where possible, pages elsewhere.
    Blocks,
    /// Pages only, so that any page of the range can be remapped later without splitting.
    Pages,
}

/// Why a plan was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlanError {
    /// Start or length not a multiple of the page size.
    Misaligned {
        /// The offending start or length.
        value: u64,
    },
    /// The range ends beyond the 39-bit virtual (or 40-bit physical) address space, or
    /// overflows.
    OutOfRange {
        /// Start of the range.
        start: u64,
    },
    /// Device memory cannot be executable.
    ExecutableDevice,
    /// All `N` tables are in use.
    OutOfTables,
    /// A page of a runtime remap ([`TranslationTables::rewrite_pages`]) has no level-3 table:
    /// the range was not planned page by page at boot.
    NotPlanned {
        /// The first such address.
        address: u64,
    },
}

impl fmt::Display for PlanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PlanError::Misaligned { value } => write!(f, "{value:#x} is not page-aligned"),
            PlanError::OutOfRange { start } => {
                write!(
                    f,
                    "range at {start:#x} leaves the {VA_BITS}-bit virtual or {PA_BITS}-bit \
                     physical address space"
                )
            }
            PlanError::ExecutableDevice => write!(f, "device memory cannot be executable"),
            PlanError::OutOfTables => write!(f, "no translation table left"),
            PlanError::NotPlanned { address } => {
                write!(f, "{address:#x} was not planned page by page at boot")
            }
        }
    }
}

impl core::error::Error for PlanError {}

/// The descriptor of a block (`page == false`) or page mapping `address` with `attributes`.
pub fn leaf_descriptor(address: u64, attributes: Attributes, page: bool) -> u64 {
    let mut d = VALID | ACCESS_FLAG | (address & OUTPUT_ADDRESS_MASK) | UNPRIVILEGED_EXECUTE_NEVER;
    if page {
        d |= TABLE_OR_PAGE;
    }
    d |= match attributes.memory {
        Memory::Normal => (MAIR_NORMAL_INDEX << ATTR_INDEX_SHIFT) | SHAREABILITY_INNER,
        Memory::Device => MAIR_DEVICE_INDEX << ATTR_INDEX_SHIFT,
    };
    d |= match attributes.access {
        Access::ReadOnly => AP_READ_ONLY | PRIVILEGED_EXECUTE_NEVER,
        Access::ReadWrite => PRIVILEGED_EXECUTE_NEVER,
        Access::ReadExecute => AP_READ_ONLY,
    };
    d
}

/// Decodes a leaf descriptor written by [`leaf_descriptor`] (`None` if invalid). A writable
/// executable descriptor (which this module never writes) decodes as `ReadWrite`;
/// [`is_writable_executable`] detects it.
pub fn decode_leaf(descriptor: u64) -> Option<Attributes> {
    if descriptor & VALID == 0 {
        return None;
    }
    let memory = if (descriptor & ATTR_INDEX_MASK) >> ATTR_INDEX_SHIFT == MAIR_DEVICE_INDEX {
        Memory::Device
    } else {
        Memory::Normal
    };
    let read_only = descriptor & AP_READ_ONLY != 0;
    let execute_never = descriptor & PRIVILEGED_EXECUTE_NEVER != 0;
    let access = match (read_only, execute_never) {
        (true, true) => Access::ReadOnly,
        (true, false) => Access::ReadExecute,
        (false, _) => Access::ReadWrite,
    };
    Some(Attributes { memory, access })
}

/// Whether a valid leaf descriptor is writable and executable at EL1.
pub fn is_writable_executable(descriptor: u64) -> bool {
    descriptor & VALID != 0
        && descriptor & AP_READ_ONLY == 0
        && descriptor & PRIVILEGED_EXECUTE_NEVER == 0
}

/// One translation table: 512 descriptors, 4 KiB-aligned as the hardware requires.
#[repr(C, align(4096))]
#[derive(Clone, Debug)]
pub struct Table(pub [u64; ENTRIES]);

/// `N` translation tables (table 0 is the level-1 root) and the count in use.
///
/// An empty set is all zero bytes (the count excludes the root), so a `static` of it lands in
/// `.bss` rather than taking `N` pages of the firmware file.
#[repr(C)]
#[derive(Debug)]
pub struct TranslationTables<const N: usize> {
    tables: [Table; N],
    children: usize,
}

impl<const N: usize> Default for TranslationTables<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> TranslationTables<N> {
    /// Empty tables: nothing mapped. `N` must be at least 1 (checked at compile time).
    pub const fn new() -> Self {
        const { assert!(N >= 1, "the level-1 root needs a table") };
        TranslationTables {
            tables: [const { Table([0; ENTRIES]) }; N],
            children: 0,
        }
    }

    /// Address of the level-1 table, for `TTBR0_EL1` (identity map: virtual = physical).
    pub fn root_address(&self) -> u64 {
        self.table_address(0)
    }

    /// Tables in use (root included).
    pub fn tables_used(&self) -> usize {
        self.children + 1
    }

    /// The tables, for scans in tests and for cache maintenance.
    pub fn tables(&self) -> &[Table] {
        &self.tables[..self.tables_used()]
    }

    fn table_address(&self, index: usize) -> u64 {
        &self.tables[index] as *const Table as u64
    }

    fn table_index(&self, address: u64) -> Option<usize> {
        let base = self.table_address(0);
        let offset = address.checked_sub(base)?;
        let index = usize::try_from(offset / PAGE_SIZE).ok()?;
        (offset.is_multiple_of(PAGE_SIZE) && index < self.tables_used()).then_some(index)
    }

    /// Sets `[start, start + len)` to `attributes` (identity-mapped), or unmaps it (`None`).
    pub fn map(
        &mut self,
        start: u64,
        len: u64,
        attributes: Option<Attributes>,
        granularity: Granularity,
    ) -> Result<(), PlanError> {
        self.map_to(start, start, len, attributes, granularity)
    }

    /// Maps `[virt, virt + len)` to the physical range `[phys, phys + len)` with `attributes`,
    /// or unmaps it (`None`; `phys` is then ignored). Takes tables as needed (planning, before
    /// the MMU is on); blocks are used only where both addresses are block-aligned.
    pub fn map_to(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        attributes: Option<Attributes>,
        granularity: Granularity,
    ) -> Result<(), PlanError> {
        let end = validate(virt, phys, len, attributes)?;
        let mut address = virt;
        while address < end {
            let output = phys.wrapping_add(address - virt);
            let level2 = self.next_table(0, level_index(address, 1), false)?;
            let level2_index = level_index(address, 2);
            let whole_block = address.is_multiple_of(BLOCK_SIZE)
                && output.is_multiple_of(BLOCK_SIZE)
                && end - address >= BLOCK_SIZE;
            let entry = self.tables[level2].0[level2_index];
            let is_table = entry & (VALID | TABLE_OR_PAGE) == VALID | TABLE_OR_PAGE;
            if granularity == Granularity::Blocks && whole_block && !is_table {
                self.tables[level2].0[level2_index] =
                    attributes.map_or(0, |a| leaf_descriptor(output, a, false));
                address += BLOCK_SIZE;
                continue;
            }
            let level3 = self.next_table(level2, level2_index, true)?;
            let block_end = (address | (BLOCK_SIZE - 1)) + 1;
            let stop = end.min(block_end);
            if attributes.is_none() && entry & VALID == 0 {
                // The level-3 table was just taken for an invalid entry, so all its entries are
                // invalid already (planning a wide slot's window writes no page entry).
                address = stop;
                continue;
            }
            while address < stop {
                let output = phys.wrapping_add(address - virt);
                self.tables[level3].0[level_index(address, 3)] =
                    attributes.map_or(0, |a| leaf_descriptor(output, a, true));
                address += PAGE_SIZE;
            }
        }
        Ok(())
    }

    /// The runtime remap: like [`map_to`](Self::map_to) with [`Granularity::Pages`], but never
    /// takes a table or splits a block. Every page of `[virt, virt + len)` must already have
    /// its level-3 table (a range planned page by page at boot); otherwise nothing is written
    /// and the first unplanned address is returned as [`PlanError::NotPlanned`]. On success
    /// only level-3 entries of the range have changed.
    pub fn rewrite_pages(
        &mut self,
        virt: u64,
        phys: u64,
        len: u64,
        attributes: Option<Attributes>,
    ) -> Result<(), PlanError> {
        let end = validate(virt, phys, len, attributes)?;
        // Check first, so that a refusal changes nothing.
        let mut address = virt;
        while address < end {
            self.level3_table(address)
                .ok_or(PlanError::NotPlanned { address })?;
            address = ((address | (BLOCK_SIZE - 1)) + 1).min(end);
        }
        let mut address = virt;
        while address < end {
            let level3 = self
                .level3_table(address)
                .ok_or(PlanError::NotPlanned { address })?;
            let stop = end.min((address | (BLOCK_SIZE - 1)) + 1);
            while address < stop {
                let output = phys.wrapping_add(address - virt);
                self.tables[level3].0[level_index(address, 3)] =
                    attributes.map_or(0, |a| leaf_descriptor(output, a, true));
                address += PAGE_SIZE;
            }
        }
        Ok(())
    }

    /// Index of the level-3 table that covers `address`, if there is one.
    fn level3_table(&self, address: u64) -> Option<usize> {
        if address >= 1 << VA_BITS {
            return None;
        }
        let level1 = self.tables[0].0[level_index(address, 1)];
        if level1 & (VALID | TABLE_OR_PAGE) != VALID | TABLE_OR_PAGE {
            return None;
        }
        let level2 = self.table_index(level1 & OUTPUT_ADDRESS_MASK)?;
        let entry = self.tables[level2].0[level_index(address, 2)];
        if entry & (VALID | TABLE_OR_PAGE) != VALID | TABLE_OR_PAGE {
            return None;
        }
        self.table_index(entry & OUTPUT_ADDRESS_MASK)
    }

    /// The table that entry `index` of table `parent` points to, created if the entry is not a
    /// table yet. A valid block entry (only at level 2, `splits_block`) is split into pages
    /// with the same attributes.
    fn next_table(
        &mut self,
        parent: usize,
        index: usize,
        splits_block: bool,
    ) -> Result<usize, PlanError> {
        let entry = self.tables[parent].0[index];
        if entry & (VALID | TABLE_OR_PAGE) == VALID | TABLE_OR_PAGE {
            return self
                .table_index(entry & OUTPUT_ADDRESS_MASK)
                .ok_or(PlanError::OutOfTables);
        }
        let child = self.tables_used();
        if child >= N {
            return Err(PlanError::OutOfTables);
        }
        self.children += 1;
        if splits_block && let Some(attributes) = decode_leaf(entry) {
            let block = entry & OUTPUT_ADDRESS_MASK & !(BLOCK_SIZE - 1);
            for (i, slot) in self.tables[child].0.iter_mut().enumerate() {
                *slot = leaf_descriptor(block + i as u64 * PAGE_SIZE, attributes, true);
            }
        } else {
            self.tables[child].0 = [0; ENTRIES];
        }
        self.tables[parent].0[index] = self.table_address(child) | VALID | TABLE_OR_PAGE;
        Ok(child)
    }

    /// The attributes `address` is mapped with (`None` if unmapped).
    pub fn lookup(&self, address: u64) -> Option<Attributes> {
        self.translate(address).map(|(_, attributes)| attributes)
    }

    /// The physical address `address` translates to and its attributes (`None` if unmapped).
    pub fn translate(&self, address: u64) -> Option<(u64, Attributes)> {
        if address >= 1 << VA_BITS {
            return None;
        }
        let level1 = self.tables[0].0[level_index(address, 1)];
        if level1 & (VALID | TABLE_OR_PAGE) != VALID | TABLE_OR_PAGE {
            return None;
        }
        let level2 = &self.tables[self.table_index(level1 & OUTPUT_ADDRESS_MASK)?];
        let entry = level2.0[level_index(address, 2)];
        if entry & VALID == 0 {
            return None;
        }
        if entry & TABLE_OR_PAGE == 0 {
            let physical =
                (entry & OUTPUT_ADDRESS_MASK & !(BLOCK_SIZE - 1)) | (address & (BLOCK_SIZE - 1));
            return Some((physical, decode_leaf(entry)?));
        }
        let level3 = &self.tables[self.table_index(entry & OUTPUT_ADDRESS_MASK)?];
        let page = level3.0[level_index(address, 3)];
        if page & (VALID | TABLE_OR_PAGE) != VALID | TABLE_OR_PAGE {
            return None;
        }
        let physical = (page & OUTPUT_ADDRESS_MASK) | (address & (PAGE_SIZE - 1));
        Some((physical, decode_leaf(page)?))
    }
}

/// Checks a request of `map_to`/`rewrite_pages`; returns the end of the virtual range.
fn validate(
    virt: u64,
    phys: u64,
    len: u64,
    attributes: Option<Attributes>,
) -> Result<u64, PlanError> {
    for value in [virt, len] {
        if !value.is_multiple_of(PAGE_SIZE) {
            return Err(PlanError::Misaligned { value });
        }
    }
    let end = virt
        .checked_add(len)
        .filter(|&end| end <= 1 << VA_BITS)
        .ok_or(PlanError::OutOfRange { start: virt })?;
    if attributes.is_some() {
        if !phys.is_multiple_of(PAGE_SIZE) {
            return Err(PlanError::Misaligned { value: phys });
        }
        phys.checked_add(len)
            .filter(|&end| end <= 1 << PA_BITS)
            .ok_or(PlanError::OutOfRange { start: phys })?;
    }
    if attributes
        == Some(Attributes {
            memory: Memory::Device,
            access: Access::ReadExecute,
        })
    {
        return Err(PlanError::ExecutableDevice);
    }
    Ok(end)
}

fn level_index(address: u64, level: u32) -> usize {
    let shift = 12 + 9 * (3 - level);
    ((address >> shift) as usize) & (ENTRIES - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAM: u64 = 0x4000_0000;
    const UART: u64 = 0x0900_0000;

    fn boxed<const N: usize>() -> Box<TranslationTables<N>> {
        // The tables are large (a board's worth is more than 1 MiB); keep them on the heap,
        // built on a thread whose stack has room for the value before it is boxed.
        std::thread::Builder::new()
            .stack_size(16 << 20)
            .spawn(Box::default)
            .unwrap()
            .join()
            .unwrap()
    }

    fn assert_no_writable_executable<const N: usize>(t: &TranslationTables<N>) {
        for table in t.tables() {
            for &d in &table.0 {
                // Table descriptors are not leaves; they carry no permission bits.
                let is_table_pointer =
                    d & 3 == 3 && t.table_index(d & OUTPUT_ADDRESS_MASK).is_some();
                assert!(
                    is_table_pointer || !is_writable_executable(d),
                    "W+X descriptor {d:#x}"
                );
            }
        }
    }

    #[test]
    fn descriptor_encoding() {
        assert_eq!(
            leaf_descriptor(RAM, Attributes::DATA, true),
            0x0060_0000_4000_0707
        );
        assert_eq!(
            leaf_descriptor(RAM, Attributes::CODE, true),
            0x0040_0000_4000_0787
        );
        assert_eq!(
            leaf_descriptor(RAM, Attributes::READ_ONLY, false),
            0x0060_0000_4000_0785
        );
        assert_eq!(
            leaf_descriptor(UART, Attributes::DEVICE, true),
            0x0060_0000_0900_0403
        );
        for a in [
            Attributes::DATA,
            Attributes::CODE,
            Attributes::READ_ONLY,
            Attributes::DEVICE,
        ] {
            assert_eq!(decode_leaf(leaf_descriptor(RAM, a, true)), Some(a));
            assert!(!is_writable_executable(leaf_descriptor(RAM, a, true)));
        }
    }

    #[test]
    fn board_like_plan() {
        let mut t = boxed::<16>();
        t.map(
            0x0800_0000,
            0x0800_0000,
            Some(Attributes::DEVICE),
            Granularity::Blocks,
        )
        .unwrap();
        t.map(RAM, 128 << 20, Some(Attributes::DATA), Granularity::Blocks)
            .unwrap();
        // Firmware at RAM + 512 KiB: 3 pages of text, 1 of constants, the rest data.
        let text = RAM + 0x8_0000;
        t.map(
            text,
            3 * PAGE_SIZE,
            Some(Attributes::CODE),
            Granularity::Pages,
        )
        .unwrap();
        t.map(
            text + 3 * PAGE_SIZE,
            PAGE_SIZE,
            Some(Attributes::READ_ONLY),
            Granularity::Pages,
        )
        .unwrap();
        // A pool whose pages start unmapped.
        let pool = RAM + 0x40_0000;
        t.map(pool, 4 << 20, None, Granularity::Pages).unwrap();

        assert_eq!(t.lookup(UART), Some(Attributes::DEVICE));
        assert_eq!(t.lookup(0x0), None);
        assert_eq!(t.lookup(RAM), Some(Attributes::DATA));
        assert_eq!(t.lookup(text - 1), Some(Attributes::DATA));
        assert_eq!(t.lookup(text), Some(Attributes::CODE));
        assert_eq!(t.lookup(text + 3 * PAGE_SIZE - 1), Some(Attributes::CODE));
        assert_eq!(t.lookup(text + 3 * PAGE_SIZE), Some(Attributes::READ_ONLY));
        assert_eq!(t.lookup(text + 4 * PAGE_SIZE), Some(Attributes::DATA));
        assert_eq!(t.lookup(pool - 1), Some(Attributes::DATA));
        assert_eq!(t.lookup(pool), None);
        assert_eq!(t.lookup(pool + (4 << 20) - 1), None);
        assert_eq!(t.lookup(pool + (4 << 20)), Some(Attributes::DATA));
        assert_eq!(t.lookup(RAM + (128 << 20)), None);
        // Root, two level-2 tables, one split block (firmware), two level-3 tables (pool).
        assert_eq!(t.tables_used(), 6);
        assert_no_writable_executable(&t);
    }

    #[test]
    fn guard_pages_around_a_slot_stay_unmapped_while_it_grows() {
        let mut t = boxed::<8>();
        let pool = RAM + BLOCK_SIZE;
        t.map(pool, BLOCK_SIZE, None, Granularity::Pages).unwrap();
        let front_guard = pool;
        let memory = pool + PAGE_SIZE;
        let reservation = 16 * PAGE_SIZE;
        let back_guard = memory + reservation;
        let tables_before = t.tables_used();
        t.map(
            memory,
            PAGE_SIZE,
            Some(Attributes::DATA),
            Granularity::Pages,
        )
        .unwrap();
        t.map(
            memory + PAGE_SIZE,
            15 * PAGE_SIZE,
            Some(Attributes::DATA),
            Granularity::Pages,
        )
        .unwrap();
        // Remaps inside a page-planned range never take a new table.
        assert_eq!(t.tables_used(), tables_before);
        assert_eq!(t.lookup(front_guard), None);
        assert_eq!(t.lookup(front_guard + PAGE_SIZE - 1), None);
        assert_eq!(t.lookup(memory), Some(Attributes::DATA));
        assert_eq!(t.lookup(back_guard - 1), Some(Attributes::DATA));
        assert_eq!(t.lookup(back_guard), None);
        t.map(memory, reservation, None, Granularity::Pages)
            .unwrap();
        assert_eq!(t.lookup(memory), None);
    }

    #[test]
    fn code_is_published_read_execute_and_never_writable() {
        let mut t = boxed::<8>();
        let code = RAM;
        t.map(code, BLOCK_SIZE, None, Granularity::Pages).unwrap();
        t.map(
            code,
            2 * PAGE_SIZE,
            Some(Attributes::DATA),
            Granularity::Pages,
        )
        .unwrap();
        assert_no_writable_executable(&t);
        t.map(
            code,
            2 * PAGE_SIZE,
            Some(Attributes::CODE),
            Granularity::Pages,
        )
        .unwrap();
        assert_eq!(t.lookup(code), Some(Attributes::CODE));
        assert_eq!(t.lookup(code + 2 * PAGE_SIZE), None);
        assert_no_writable_executable(&t);
    }

    #[test]
    fn splitting_a_block_keeps_its_other_pages() {
        let mut t = boxed::<8>();
        t.map(
            RAM,
            BLOCK_SIZE,
            Some(Attributes::READ_ONLY),
            Granularity::Blocks,
        )
        .unwrap();
        assert_eq!(t.tables_used(), 2);
        t.map(RAM + 5 * PAGE_SIZE, PAGE_SIZE, None, Granularity::Blocks)
            .unwrap();
        assert_eq!(t.tables_used(), 3);
        for page in 0..512u64 {
            let expected = if page == 5 {
                None
            } else {
                Some(Attributes::READ_ONLY)
            };
            assert_eq!(t.lookup(RAM + page * PAGE_SIZE), expected, "page {page}");
        }
    }

    #[test]
    fn refusals() {
        let mut t = boxed::<2>();
        assert_eq!(
            t.map(
                RAM + 1,
                PAGE_SIZE,
                Some(Attributes::DATA),
                Granularity::Pages
            ),
            Err(PlanError::Misaligned { value: RAM + 1 })
        );
        assert_eq!(
            t.map(RAM, 100, Some(Attributes::DATA), Granularity::Pages),
            Err(PlanError::Misaligned { value: 100 })
        );
        assert_eq!(
            t.map(
                (1 << VA_BITS) - PAGE_SIZE,
                2 * PAGE_SIZE,
                None,
                Granularity::Pages
            ),
            Err(PlanError::OutOfRange {
                start: (1 << VA_BITS) - PAGE_SIZE
            })
        );
        assert_eq!(
            t.map(u64::MAX - 4095, PAGE_SIZE, None, Granularity::Pages),
            Err(PlanError::OutOfRange {
                start: u64::MAX - 4095
            })
        );
        let executable_device = Attributes {
            memory: Memory::Device,
            access: Access::ReadExecute,
        };
        assert_eq!(
            t.map(
                UART & !(PAGE_SIZE - 1),
                PAGE_SIZE,
                Some(executable_device),
                Granularity::Pages
            ),
            Err(PlanError::ExecutableDevice)
        );
        // Root + one level-2 table fit; a level-3 table does not.
        assert_eq!(
            t.map(RAM, PAGE_SIZE, Some(Attributes::DATA), Granularity::Pages),
            Err(PlanError::OutOfTables)
        );
        assert_eq!(t.lookup(RAM), None);
        assert_eq!(
            t.map(RAM, BLOCK_SIZE, Some(Attributes::DATA), Granularity::Blocks),
            Ok(())
        );
        assert_eq!(t.lookup(RAM + BLOCK_SIZE - 1), Some(Attributes::DATA));
    }

    /// A wide slot as the board plans it: a 1 GiB front guard (an invalid level-1 entry), the
    /// memory at +1 GiB with a first window planned page by page, the rest never planned.
    const WIDE: u64 = 64 << 30;
    const WIDE_BASE: u64 = WIDE + LEVEL1_SIZE;
    const WINDOW: u64 = 64 << 20;

    #[test]
    fn non_identity_pages_in_a_planned_window() {
        let mut t = boxed::<40>();
        t.map(WIDE_BASE, WINDOW, None, Granularity::Pages).unwrap();
        // One level-2 table and 32 level-3 tables for the 64 MiB window.
        assert_eq!(t.tables_used(), 34);
        let tables = t.tables_used();
        // Three pages of the window backed by scattered physical pages of a pool in RAM.
        let pool = RAM + (16 << 20);
        for (page, physical) in [
            (0, pool + 7 * PAGE_SIZE),
            (1, pool),
            (600, pool + PAGE_SIZE),
        ] {
            t.rewrite_pages(
                WIDE_BASE + page * PAGE_SIZE,
                physical,
                PAGE_SIZE,
                Some(Attributes::DATA),
            )
            .unwrap();
        }
        assert_eq!(t.tables_used(), tables, "runtime remaps take no table");
        assert_eq!(
            t.translate(WIDE_BASE + 5),
            Some((pool + 7 * PAGE_SIZE + 5, Attributes::DATA))
        );
        assert_eq!(
            t.translate(WIDE_BASE + PAGE_SIZE + 4095),
            Some((pool + 4095, Attributes::DATA))
        );
        assert_eq!(
            t.translate(WIDE_BASE + 600 * PAGE_SIZE),
            Some((pool + PAGE_SIZE, Attributes::DATA))
        );
        assert_eq!(t.translate(WIDE_BASE + 2 * PAGE_SIZE), None);
        // The physical pages are not reachable at their own (identity) addresses.
        assert_eq!(t.translate(pool), None);
        // Front guard, end of the window, 4 GiB from the base, the next slot: unmapped.
        for address in [
            WIDE,
            WIDE_BASE - 1,
            WIDE_BASE + WINDOW,
            WIDE_BASE + (4 << 30) - 1,
            WIDE_BASE + (4 << 30) + (64 << 10),
            WIDE + (8 << 30),
        ] {
            assert_eq!(t.translate(address), None, "{address:#x}");
        }
        // Unmapping returns the page to "no mapping".
        t.rewrite_pages(WIDE_BASE, 0, PAGE_SIZE, None).unwrap();
        assert_eq!(t.translate(WIDE_BASE), None);
        assert_eq!(
            t.translate(WIDE_BASE + PAGE_SIZE),
            Some((pool, Attributes::DATA))
        );
        assert_no_writable_executable(&t);
    }

    #[test]
    fn rewrite_outside_the_plan_is_refused_and_changes_nothing() {
        let mut t = boxed::<40>();
        t.map(WIDE_BASE, WINDOW, None, Granularity::Pages).unwrap();
        let tables = t.tables_used();
        // Straddles the end of the window: refused before the planned pages are written.
        assert_eq!(
            t.rewrite_pages(
                WIDE_BASE + WINDOW - PAGE_SIZE,
                RAM,
                2 * PAGE_SIZE,
                Some(Attributes::DATA)
            ),
            Err(PlanError::NotPlanned {
                address: WIDE_BASE + WINDOW
            })
        );
        assert_eq!(t.translate(WIDE_BASE + WINDOW - PAGE_SIZE), None);
        // The front guard and the rest of the reservation have no tables at all.
        assert_eq!(
            t.rewrite_pages(WIDE, RAM, PAGE_SIZE, Some(Attributes::DATA)),
            Err(PlanError::NotPlanned { address: WIDE })
        );
        assert_eq!(
            t.rewrite_pages(WIDE_BASE + (1 << 30), RAM, PAGE_SIZE, None),
            Err(PlanError::NotPlanned {
                address: WIDE_BASE + (1 << 30)
            })
        );
        // A 2 MiB block is not a planned range either (no split at run time).
        t.map(RAM, BLOCK_SIZE, Some(Attributes::DATA), Granularity::Blocks)
            .unwrap();
        let tables_with_block = t.tables_used();
        assert_eq!(
            t.rewrite_pages(RAM, RAM, PAGE_SIZE, None),
            Err(PlanError::NotPlanned { address: RAM })
        );
        assert_eq!(t.lookup(RAM), Some(Attributes::DATA));
        assert_eq!(t.tables_used(), tables_with_block);
        assert!(tables_with_block == tables + 1);
    }

    #[test]
    fn eight_wide_slots_fit_their_table_budget() {
        // Per slot: one level-2 table and WINDOW / 2 MiB level-3 tables.
        let per_slot = 1 + (WINDOW / BLOCK_SIZE) as usize;
        let mut t = boxed::<{ 1 + 8 * 33 }>();
        for slot in 0..8u64 {
            let base = WIDE + slot * (8 << 30) + LEVEL1_SIZE;
            t.map(base, WINDOW, None, Granularity::Pages).unwrap();
        }
        assert_eq!(t.tables_used(), 1 + 8 * per_slot);
        // Slot 7's last window page can be mapped; a ninth slot cannot be planned.
        let last = WIDE + 7 * (8 << 30) + LEVEL1_SIZE + WINDOW - PAGE_SIZE;
        t.rewrite_pages(last, RAM, PAGE_SIZE, Some(Attributes::DATA))
            .unwrap();
        assert_eq!(t.translate(last), Some((RAM, Attributes::DATA)));
        assert_eq!(
            t.map(
                WIDE + 8 * (8 << 30) + LEVEL1_SIZE,
                PAGE_SIZE,
                None,
                Granularity::Pages
            ),
            Err(PlanError::OutOfTables)
        );
    }

    #[test]
    fn non_identity_blocks_need_aligned_physical_addresses() {
        let mut t = boxed::<8>();
        // Physical start not 2 MiB-aligned: pages, not a block.
        t.map_to(
            WIDE_BASE,
            RAM + PAGE_SIZE,
            BLOCK_SIZE,
            Some(Attributes::READ_ONLY),
            Granularity::Blocks,
        )
        .unwrap();
        assert_eq!(t.tables_used(), 3);
        assert_eq!(
            t.translate(WIDE_BASE + BLOCK_SIZE - 1),
            Some((RAM + PAGE_SIZE + BLOCK_SIZE - 1, Attributes::READ_ONLY))
        );
        // Aligned: one block.
        t.map_to(
            WIDE_BASE + BLOCK_SIZE,
            RAM,
            BLOCK_SIZE,
            Some(Attributes::READ_ONLY),
            Granularity::Blocks,
        )
        .unwrap();
        assert_eq!(t.tables_used(), 3);
        assert_eq!(
            t.translate(WIDE_BASE + BLOCK_SIZE + 12345),
            Some((RAM + 12345, Attributes::READ_ONLY))
        );
        assert_eq!(
            t.map_to(
                WIDE_BASE,
                RAM + 1,
                PAGE_SIZE,
                Some(Attributes::DATA),
                Granularity::Pages
            ),
            Err(PlanError::Misaligned { value: RAM + 1 })
        );
        assert_eq!(
            t.map_to(
                WIDE_BASE,
                (1 << PA_BITS) - PAGE_SIZE,
                2 * PAGE_SIZE,
                Some(Attributes::DATA),
                Granularity::Pages
            ),
            Err(PlanError::OutOfRange {
                start: (1 << PA_BITS) - PAGE_SIZE
            })
        );
    }

    #[test]
    fn tables_are_page_aligned() {
        let t = boxed::<3>();
        assert_eq!(t.root_address() % PAGE_SIZE, 0);
        assert_eq!(core::mem::size_of::<Table>(), PAGE_SIZE as usize);
    }
}
