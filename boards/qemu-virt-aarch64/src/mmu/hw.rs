//! MMU registers and TLB maintenance: the only unsafe part of the MMU.

use super::plan::{MAIR_VALUE, PAGE_SIZE, VA_BITS};

/// TCR_EL1: T0SZ = 64 - 39, walks inner/outer write-back cacheable and inner shareable,
/// 4 KiB granule for TTBR0, TTBR1 walks disabled (EPD1), 40-bit physical addresses (IPS).
const TCR_VALUE: u64 = (64 - VA_BITS as u64) // T0SZ
    | (0b01 << 8) // IRGN0: write-back read/write-allocate
    | (0b01 << 10) // ORGN0: write-back read/write-allocate
    | (0b11 << 12) // SH0: inner shareable
    | (1 << 23) // EPD1: no TTBR1 walks (TG0 = 0b00: 4 KiB granule)
    | (0b010 << 32); // IPS: 40-bit physical addresses

const SCTLR_M: u64 = 1 << 0;
const SCTLR_A: u64 = 1 << 1;
const SCTLR_C: u64 = 1 << 2;
const SCTLR_SA: u64 = 1 << 3;
const SCTLR_I: u64 = 1 << 12;
/// Write implies execute-never: the hardware's own W^X, backing up the plan.
const SCTLR_WXN: u64 = 1 << 19;

/// Programs MAIR/TCR/TTBR0, invalidates stale TLB entries and turns on translation and the
/// caches (`SCTLR_EL1.M`, `C`, `I`, `WXN`; alignment checking off so wasm code may do
/// unaligned accesses to normal memory).
///
/// # Safety
/// `root` is a level-1 table of valid tables (`[root, root + tables_len)`) that identity-maps
/// the code, stack and data in use, so execution can continue when translation turns on; the
/// MMU is off.
pub unsafe fn enable(root: u64, tables_len: usize) {
    // The tables were written with the data cache off; make sure no stale line covers them
    // before walks start looking in the cache.
    let mut line = root;
    while line < root + tables_len as u64 {
        // SAFETY: clean+invalidate of lines of our own tables: no architectural effect on
        // their contents.
        unsafe {
            core::arch::asm!("dc civac, {0}", in(reg) line, options(nostack, preserves_flags))
        };
        line += 64;
    }
    // SAFETY: the caller guarantees the tables identity-map everything in use, so the
    // instruction after the final ISB is fetched from the same address with translation on.
    unsafe {
        core::arch::asm!(
            "dsb sy",
            "msr mair_el1, {mair}",
            "msr tcr_el1, {tcr}",
            "msr ttbr0_el1, {root}",
            "isb",
            "tlbi vmalle1",
            "dsb ish",
            "isb",
            "mrs {tmp}, sctlr_el1",
            "orr {tmp}, {tmp}, {set}",
            "bic {tmp}, {tmp}, {clear}",
            "msr sctlr_el1, {tmp}",
            "isb",
            mair = in(reg) MAIR_VALUE,
            tcr = in(reg) TCR_VALUE,
            root = in(reg) root,
            set = in(reg) SCTLR_M | SCTLR_C | SCTLR_I | SCTLR_SA | SCTLR_WXN,
            clear = in(reg) SCTLR_A,
            tmp = out(reg) _,
            options(nostack),
        );
    }
}

/// Makes descriptor changes for `[start, start + len)` take effect: DSB (the table writes
/// reach the walker), TLBI VAE1IS per page, DSB, ISB. Safe: invalidating TLB entries never
/// changes what memory holds, only forces fresh walks.
pub fn tlb_invalidate_range(start: u64, len: u64) {
    // SAFETY: barrier only.
    unsafe { core::arch::asm!("dsb ishst", options(nostack, preserves_flags)) };
    let mut page = start & !(PAGE_SIZE - 1);
    let end = start.saturating_add(len);
    while page < end {
        // SAFETY: TLB invalidation by virtual address; no memory is accessed.
        unsafe {
            core::arch::asm!("tlbi vae1is, {0}", in(reg) page >> 12, options(nostack, preserves_flags))
        };
        page += PAGE_SIZE;
    }
    // SAFETY: barriers only.
    unsafe { core::arch::asm!("dsb ish", "isb", options(nostack, preserves_flags)) };
}
