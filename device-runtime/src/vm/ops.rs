//! Memory and table operations shared by the libcalls and the public API.
//!
//! Every function takes record pointers from a store arena and bounds-checks every index
//! against the current length before touching memory; failures are a [`TrapCode`] (or `None`
//! for a failed grow), never a panic.

use shared_types::TrapCode;

use crate::platform::Platform;
use crate::vm::store::{Arena, MemoryRecord, TableRecord};

/// A segment's remaining items (`len == 0` once dropped).
#[derive(Clone, Copy, Debug)]
pub struct Segment<T> {
    /// First item.
    pub ptr: *const T,
    /// Number of items.
    pub len: usize,
}

impl<T> Segment<T> {
    /// The empty (dropped) segment.
    pub const EMPTY: Segment<T> = Segment {
        ptr: core::ptr::null(),
        len: 0,
    };
}

fn in_bounds(offset: u64, len: u64, size: u64) -> bool {
    offset.checked_add(len).is_some_and(|end| end <= size)
}

/// Current length of a memory in bytes.
///
/// # Safety
/// `mem` points at a live record of a live store (this holds for every record pointer kept in
/// an instance record or handle of a live store).
pub unsafe fn memory_len(mem: *const MemoryRecord) -> u64 {
    // SAFETY: guaranteed by the caller.
    unsafe { (*(*mem).def).length }
}

/// `memory.grow`: the old size in pages, or `None` (beyond the maximum or the slot).
///
/// # Safety
/// As for [`memory_len`]; no slice of the memory is borrowed across the call.
pub unsafe fn memory_grow(
    platform: &dyn Platform,
    mem: *mut MemoryRecord,
    delta_pages: u64,
) -> Option<u64> {
    // SAFETY: guaranteed by the caller.
    let rec = unsafe { &mut *mem };
    let log2 = u32::from(rec.ty.page_size_log2);
    // SAFETY: the definition lives in the same store.
    let def = unsafe { &mut *rec.def };
    let old_pages = def.length >> log2;
    let new_pages = old_pages.checked_add(delta_pages)?;
    let absolute_max = if rec.ty.index64 {
        u64::MAX >> log2
    } else {
        (1u64 << 32) >> log2
    };
    let max = rec.ty.max.unwrap_or(absolute_max).min(absolute_max);
    if new_pages > max {
        return None;
    }
    let new_len = new_pages.checked_mul(1u64 << log2)?;
    let slot = rec.slot.as_ref()?;
    if new_len > slot.reservation {
        return None;
    }
    if new_len > def.length {
        // SAFETY: the slot came from this store's platform and is live.
        unsafe { platform.memory_grow(slot, def.length, new_len) }.ok()?;
        def.length = new_len;
    }
    Some(old_pages)
}

/// `memory.fill`.
///
/// # Safety
/// As for [`memory_len`].
pub unsafe fn memory_fill(
    mem: *const MemoryRecord,
    dst: u64,
    value: u8,
    len: u64,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let def = unsafe { *(*mem).def };
    if !in_bounds(dst, len, def.length) {
        return Err(TrapCode::MemoryOutOfBounds);
    }
    // SAFETY: `[dst, dst + len)` lies within the accessible length of the memory.
    unsafe { core::ptr::write_bytes(def.base.add(dst as usize), value, len as usize) };
    Ok(())
}

/// `memory.copy` (overlap allowed).
///
/// # Safety
/// As for [`memory_len`], for both records.
pub unsafe fn memory_copy(
    dst_mem: *const MemoryRecord,
    dst: u64,
    src_mem: *const MemoryRecord,
    src: u64,
    len: u64,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let (d, s) = unsafe { (*(*dst_mem).def, *(*src_mem).def) };
    if !in_bounds(dst, len, d.length) || !in_bounds(src, len, s.length) {
        return Err(TrapCode::MemoryOutOfBounds);
    }
    // SAFETY: both ranges lie within accessible memory; `copy` allows overlap.
    unsafe {
        core::ptr::copy(
            s.base.add(src as usize),
            d.base.add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}

/// `memory.init` (also used for active data segments).
///
/// # Safety
/// As for [`memory_len`]; `seg` points at `seg.len` readable bytes.
pub unsafe fn memory_init(
    mem: *const MemoryRecord,
    seg: Segment<u8>,
    dst: u64,
    src: u64,
    len: u64,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let d = unsafe { *(*mem).def };
    if !in_bounds(dst, len, d.length) || !in_bounds(src, len, seg.len as u64) {
        return Err(TrapCode::MemoryOutOfBounds);
    }
    if len == 0 {
        return Ok(());
    }
    // SAFETY: both ranges checked above; segment bytes (image) never overlap linear memory.
    unsafe {
        core::ptr::copy_nonoverlapping(
            seg.ptr.add(src as usize),
            d.base.add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}

/// Current length of a table.
///
/// # Safety
/// As for [`memory_len`].
pub unsafe fn table_len(table: *const TableRecord) -> u32 {
    // SAFETY: guaranteed by the caller.
    unsafe { (*(*table).def).length }
}

/// Element `index`.
///
/// # Safety
/// As for [`memory_len`].
pub unsafe fn table_get(table: *const TableRecord, index: u32) -> Option<usize> {
    // SAFETY: guaranteed by the caller; the index is checked against the length.
    unsafe {
        let def = *(*table).def;
        (index < def.length).then(|| def.base.add(index as usize).read())
    }
}

/// Sets element `index`.
///
/// # Safety
/// As for [`memory_len`]; `value` is a valid element for the table's type in this store.
pub unsafe fn table_set(
    table: *const TableRecord,
    index: u32,
    value: usize,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller; the index is checked against the length.
    unsafe {
        let def = *(*table).def;
        if index >= def.length {
            return Err(TrapCode::TableOutOfBounds);
        }
        def.base.add(index as usize).write(value);
    }
    Ok(())
}

/// `table.grow`: the old length, or `None`.
///
/// # Safety
/// As for [`memory_len`]; `arena` is the arena of the table's store.
pub unsafe fn table_grow(
    arena: &mut Arena,
    table: *mut TableRecord,
    init: usize,
    delta: u32,
) -> Option<u32> {
    // SAFETY: guaranteed by the caller.
    let rec = unsafe { &mut *table };
    // SAFETY: the definition lives in the same store.
    let def = unsafe { &mut *rec.def };
    let old = def.length;
    let new = old.checked_add(delta)?;
    let max = rec
        .ty
        .max
        .map_or(u32::MAX, |m| u32::try_from(m).unwrap_or(u32::MAX));
    if new > max {
        return None;
    }
    if new > rec.capacity {
        let capacity = new.max(rec.capacity.saturating_mul(2)).min(max).max(new);
        let base = arena.alloc_array::<usize>(capacity as usize, 0)?;
        // SAFETY: the old array holds `old` elements; the new one has room for `capacity`.
        unsafe { core::ptr::copy_nonoverlapping(def.base, base.as_ptr(), old as usize) };
        def.base = base.as_ptr();
        rec.capacity = capacity;
    }
    for i in old..new {
        // SAFETY: `i < new <= capacity`.
        unsafe { def.base.add(i as usize).write(init) };
    }
    def.length = new;
    Some(old)
}

/// `table.fill`.
///
/// # Safety
/// As for [`table_set`].
pub unsafe fn table_fill(
    table: *const TableRecord,
    dst: u32,
    value: usize,
    len: u32,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let def = unsafe { *(*table).def };
    if !in_bounds(dst as u64, len as u64, def.length as u64) {
        return Err(TrapCode::TableOutOfBounds);
    }
    for i in dst..dst + len {
        // SAFETY: checked above.
        unsafe { def.base.add(i as usize).write(value) };
    }
    Ok(())
}

/// `table.copy` (overlap allowed).
///
/// # Safety
/// As for [`memory_len`], for both tables (of the same element type).
pub unsafe fn table_copy(
    dst_table: *const TableRecord,
    src_table: *const TableRecord,
    dst: u32,
    src: u32,
    len: u32,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let (d, s) = unsafe { (*(*dst_table).def, *(*src_table).def) };
    if !in_bounds(dst as u64, len as u64, d.length as u64)
        || !in_bounds(src as u64, len as u64, s.length as u64)
    {
        return Err(TrapCode::TableOutOfBounds);
    }
    // SAFETY: both ranges checked; `copy` allows overlap.
    unsafe {
        core::ptr::copy(
            s.base.add(src as usize),
            d.base.add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}

/// `table.init` (also used for active element segments).
///
/// # Safety
/// As for [`table_set`]; `seg` points at `seg.len` elements valid for the table's type.
pub unsafe fn table_init(
    table: *const TableRecord,
    seg: Segment<usize>,
    dst: u32,
    src: u32,
    len: u32,
) -> Result<(), TrapCode> {
    // SAFETY: guaranteed by the caller.
    let d = unsafe { *(*table).def };
    if !in_bounds(dst as u64, len as u64, d.length as u64)
        || !in_bounds(src as u64, len as u64, seg.len as u64)
    {
        return Err(TrapCode::TableOutOfBounds);
    }
    if len == 0 {
        return Ok(());
    }
    // SAFETY: both ranges checked; segment arrays are separate arena allocations.
    unsafe {
        core::ptr::copy_nonoverlapping(
            seg.ptr.add(src as usize),
            d.base.add(dst as usize),
            len as usize,
        )
    };
    Ok(())
}
