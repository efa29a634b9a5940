//! Instance records and instantiation (everything up to, not including, the start function).
//!
//! Order, as the specification prescribes: resolve and type-check imports; build the vmctx
//! (type ids, function references, memories, tables); evaluate global initialisers; evaluate
//! element items; apply active element segments (bounds check, copy, drop) and drop
//! declarative ones; apply active data segments. A failing bounds check is a trap: the writes
//! made by earlier segments into imported tables and memories stay, as the spec requires.

use core::ptr::NonNull;

use shared_types::metadata::{ElementItems, ImportKind, Metadata, NO_TRAMPOLINE, SegmentMode};
use shared_types::{TrapCode, VmOffsets};

use crate::error::{Error, InstantiationError, LinkError, error_name, limit, trap};
use crate::vm::ValRaw;
use crate::vm::const_expr;
use crate::vm::libcalls::LIBCALLS;
use crate::vm::ops::{self, Segment};
use crate::vm::store::{GlobalRecord, MemoryRecord, StoreInner, TableRecord};
use crate::vm::vmctx::{VMFuncRef, Vmctx};

/// What the linker found for an import, before type checking.
#[derive(Clone, Copy, Debug)]
pub enum Candidate {
    /// A function of this store: its funcref values are copied.
    Func(VMFuncRef),
    /// A host function: `ctx` is its host context (first word: `array_call`).
    HostFunc {
        /// Array-convention shim.
        array_call: usize,
        /// Host context.
        ctx: *mut u8,
        /// Canonical type id.
        type_id: u32,
    },
    /// A table of this store.
    Table(*mut TableRecord),
    /// A memory of this store.
    Memory(*mut MemoryRecord),
    /// A global of this store.
    Global(*mut GlobalRecord),
}

/// The runtime's view of one instance; the vmctx's `instance` field points here.
#[derive(Debug)]
pub struct InstanceRecord {
    /// The owning store.
    pub store: *mut StoreInner,
    /// The public `Module` this instantiates (type erased; the store borrows it for its life).
    pub module: *const (),
    /// The vmctx.
    pub vmctx: Vmctx,
    /// Its layout.
    pub offsets: VmOffsets,
    memories: *mut *mut MemoryRecord,
    num_memories: u32,
    tables: *mut *mut TableRecord,
    num_tables: u32,
    globals: *mut *mut GlobalRecord,
    num_globals: u32,
    data: *mut Segment<u8>,
    num_data: u32,
    elems: *mut Segment<usize>,
    num_elems: u32,
}

fn get<T: Copy>(base: *mut T, n: u32, index: u32) -> Option<T> {
    // SAFETY: arrays are allocated with `n` elements in the store arena and live as long as it.
    (index < n).then(|| unsafe { base.add(index as usize).read() })
}

fn set<T>(base: *mut T, n: u32, index: u32, value: T) {
    if index < n {
        // SAFETY: as in `get`.
        unsafe { base.add(index as usize).write(value) }
    }
}

impl InstanceRecord {
    /// Memory `index` (module index space).
    pub fn memory(&self, index: u32) -> Option<*mut MemoryRecord> {
        get(self.memories, self.num_memories, index).filter(|p| !p.is_null())
    }
    /// Table `index`.
    pub fn table(&self, index: u32) -> Option<*mut TableRecord> {
        get(self.tables, self.num_tables, index).filter(|p| !p.is_null())
    }
    /// Global `index`.
    pub fn global(&self, index: u32) -> Option<*mut GlobalRecord> {
        get(self.globals, self.num_globals, index).filter(|p| !p.is_null())
    }
    /// Remaining bytes of data segment `index`.
    pub fn data_segment(&self, index: u32) -> Option<Segment<u8>> {
        get(self.data, self.num_data, index)
    }
    /// Remaining items of element segment `index`.
    pub fn elem_segment(&self, index: u32) -> Option<Segment<usize>> {
        get(self.elems, self.num_elems, index)
    }
    /// `data.drop`.
    pub fn drop_data(&self, index: u32) {
        set(self.data, self.num_data, index, Segment::EMPTY)
    }
    /// `elem.drop`.
    pub fn drop_elem(&self, index: u32) {
        set(self.elems, self.num_elems, index, Segment::EMPTY)
    }
    /// The `VMFuncRef` of function `index`, if in range.
    pub fn func_ref(&self, index: u32) -> Option<NonNull<VMFuncRef>> {
        (index < self.offsets.counts.num_funcs())
            .then(|| NonNull::new(self.vmctx.field::<VMFuncRef>(self.offsets.func_ref(index))))
            .flatten()
    }
}

/// Reads the instance record of a vmctx.
///
/// # Safety
/// `vmctx` is the vmctx of a live instance.
pub unsafe fn from_vmctx<'a>(vmctx: *mut u8) -> &'a InstanceRecord {
    // SAFETY: every vmctx stores its record pointer at offset 2P (`VmOffsets::instance`).
    unsafe {
        &*(vmctx
            .add(2 * core::mem::size_of::<usize>())
            .cast::<*const InstanceRecord>()
            .read())
    }
}

/// Builds an instance of `metadata` in `store`: imports through `resolve`, then everything up to
/// (not including) the start function.
///
/// # Safety
/// `store` is a live store inner not otherwise borrowed; `text_base` is the executable text the
/// metadata describes, validated against it; the metadata (and thus the image) outlives the
/// store; `module` is the erased pointer to the public module.
pub unsafe fn instantiate(
    store: *mut StoreInner,
    metadata: &Metadata<'_>,
    offsets: &VmOffsets,
    text_base: usize,
    module: *const (),
    guard_reservation: Option<u64>,
    resolve: &mut dyn FnMut(
        &mut StoreInner,
        &shared_types::metadata::Import<'_>,
    ) -> Result<Candidate, Error>,
) -> Result<NonNull<InstanceRecord>, Error> {
    // SAFETY: guaranteed by the caller.
    let s = unsafe { &mut *store };
    let c = offsets.counts;
    let arena_err = limit("store arena");
    let num_memories = c.num_imported_memories + c.num_defined_memories;
    let num_tables = c.num_imported_tables + c.num_defined_tables;
    let num_globals = c.num_imported_globals + c.num_defined_globals;
    let num_data = metadata.data.len() as u32;
    let num_elems = metadata.elements.len() as u32;

    let vmctx_ptr = s
        .arena
        .alloc_bytes(offsets.size() as usize, 16)
        .ok_or(arena_err.clone())?;
    let vmctx = Vmctx::new(vmctx_ptr);
    let record = InstanceRecord {
        store,
        module,
        vmctx,
        offsets: *offsets,
        memories: s
            .arena
            .alloc_array(num_memories as usize, core::ptr::null_mut())
            .ok_or(arena_err.clone())?
            .as_ptr(),
        num_memories,
        tables: s
            .arena
            .alloc_array(num_tables as usize, core::ptr::null_mut())
            .ok_or(arena_err.clone())?
            .as_ptr(),
        num_tables,
        globals: s
            .arena
            .alloc_array(num_globals as usize, core::ptr::null_mut())
            .ok_or(arena_err.clone())?
            .as_ptr(),
        num_globals,
        data: s
            .arena
            .alloc_array(num_data as usize, Segment::EMPTY)
            .ok_or(arena_err.clone())?
            .as_ptr(),
        num_data,
        elems: s
            .arena
            .alloc_array(num_elems as usize, Segment::EMPTY)
            .ok_or(arena_err.clone())?
            .as_ptr(),
        num_elems,
    };
    let rec_ptr = s.arena.alloc(record).ok_or(arena_err.clone())?;
    // SAFETY: just allocated; only read through shared references from here on.
    let rec = unsafe { &*rec_ptr.as_ptr() };

    // SAFETY (all vmctx writes below): offsets come from `offsets`, for indices below its
    // counts, and the vmctx was allocated with `offsets.size()` bytes.
    unsafe {
        vmctx.write_usize(offsets.store_context(), store as usize);
        vmctx.write_usize(offsets.libcalls(), &LIBCALLS as *const _ as usize);
        vmctx.write_usize(offsets.instance(), rec_ptr.as_ptr() as usize);
    }

    // Canonical type ids.
    for (i, ty) in metadata.types.iter().enumerate() {
        let ty = ty.map_err(|_| InstantiationError::BadConstExpr)?;
        let id = s.intern_type(ty.params, ty.results)?;
        // SAFETY: i < num_types.
        unsafe { vmctx.write_u32(offsets.type_id(i as u32), id) };
    }
    // SAFETY: index checked by metadata validation (type indices < num_types).
    let type_id = |index: u32| unsafe { vmctx.read_u32(offsets.type_id(index)) };

    // Imports.
    let (mut fi, mut ti, mut mi, mut gi) = (0u32, 0u32, 0u32, 0u32);
    for imp in metadata.imports.iter() {
        let imp = imp.map_err(|_| InstantiationError::BadConstExpr)?;
        let mismatch = || {
            Error::Link(LinkError::ImportTypeMismatch {
                module: error_name(imp.module),
                name: error_name(imp.name),
            })
        };
        let candidate = resolve(s, &imp)?;
        match (imp.kind, candidate) {
            (ImportKind::Func { type_index, .. }, Candidate::Func(f)) => {
                if f.type_id != type_id(type_index) {
                    return Err(mismatch());
                }
                write_func_ref(vmctx, offsets, fi, f);
                fi += 1;
            }
            (
                ImportKind::Func {
                    type_index,
                    wasm_to_array_trampoline,
                },
                Candidate::HostFunc {
                    array_call,
                    ctx,
                    type_id: id,
                },
            ) => {
                if id != type_id(type_index) {
                    return Err(mismatch());
                }
                let f = VMFuncRef {
                    wasm_call: crate::arch::code_pointer(text_base, wasm_to_array_trampoline),
                    array_call,
                    vmctx: ctx,
                    type_id: id,
                };
                write_func_ref(vmctx, offsets, fi, f);
                fi += 1;
            }
            (ImportKind::Table(ty), Candidate::Table(t)) => {
                // SAFETY: candidates are records of this store.
                let (actual, len) = unsafe { ((*t).ty, ops::table_len(t)) };
                let max_ok = match ty.max {
                    None => true,
                    Some(m) => actual.max.is_some_and(|am| am <= m),
                };
                if actual.element != ty.element
                    || actual.index64 != ty.index64
                    || (len as u64) < ty.min
                    || !max_ok
                {
                    return Err(mismatch());
                }
                // SAFETY: ti < num_imported_tables.
                unsafe { vmctx.write_usize(offsets.imported_table(ti), (*t).def as usize) };
                set(rec.tables, num_tables, ti, t);
                ti += 1;
            }
            (ImportKind::Memory(ty), Candidate::Memory(m)) => {
                // SAFETY: candidates are records of this store.
                let (actual, len, guarded) = unsafe {
                    (
                        (*m).ty,
                        ops::memory_len(m),
                        (*m).slot.as_ref().map_or(0, |s| s.guarded_len()),
                    )
                };
                let pages = len >> actual.page_size_log2.min(63);
                let max_ok = match ty.max {
                    None => true,
                    Some(mx) => actual.max.is_some_and(|am| am <= mx),
                };
                if actual.index64 != ty.index64
                    || actual.page_size_log2 != ty.page_size_log2
                    || actual.shared != ty.shared
                    || pages < ty.min
                    || !max_ok
                {
                    return Err(mismatch());
                }
                if let Some(required) = guard_reservation
                    .filter(|&g| guarded < g && !actual.index64 && actual.page_size_log2 == 16)
                {
                    return Err(InstantiationError::GuardReservation {
                        index: mi,
                        required,
                        available: guarded,
                    }
                    .into());
                }
                // SAFETY: mi < num_imported_memories.
                unsafe { vmctx.write_usize(offsets.imported_memory(mi), (*m).def as usize) };
                set(rec.memories, num_memories, mi, m);
                mi += 1;
            }
            (ImportKind::Global(ty), Candidate::Global(g)) => {
                // SAFETY: candidates are records of this store.
                let actual = unsafe { (*g).ty };
                if actual != ty {
                    return Err(mismatch());
                }
                // SAFETY: gi < num_imported_globals.
                unsafe { vmctx.write_usize(offsets.imported_global(gi), (*g).def as usize) };
                set(rec.globals, num_globals, gi, g);
                gi += 1;
            }
            _ => return Err(mismatch()),
        }
    }

    // Defined functions.
    for (i, f) in metadata.functions.iter().enumerate() {
        let index = c.num_imported_funcs + i as u32;
        let func_ref = VMFuncRef {
            wasm_call: crate::arch::code_pointer(text_base, f.offset),
            array_call: if f.array_trampoline == NO_TRAMPOLINE {
                0
            } else {
                crate::arch::code_pointer(text_base, f.array_trampoline)
            },
            vmctx: vmctx.as_ptr(),
            type_id: type_id(f.type_index),
        };
        write_func_ref(vmctx, offsets, index, func_ref);
    }

    // Defined memories, inline in the vmctx.
    for (i, ty) in metadata.memories.iter().enumerate() {
        let ty = ty.map_err(|_| InstantiationError::BadConstExpr)?;
        let def = vmctx.field(offsets.defined_memory(i as u32));
        let m = s.new_memory(
            ty,
            Some(def),
            guard_reservation.unwrap_or(0),
            Some(c.num_imported_memories + i as u32),
        )?;
        set(
            rec.memories,
            num_memories,
            c.num_imported_memories + i as u32,
            m.as_ptr(),
        );
    }

    // Defined tables, inline in the vmctx, null-initialised.
    for (i, ty) in metadata.tables.iter().enumerate() {
        let ty = ty.map_err(|_| InstantiationError::BadConstExpr)?;
        let def = vmctx.field(offsets.defined_table(i as u32));
        let t = s.new_table(ty, Some(def), 0)?;
        set(
            rec.tables,
            num_tables,
            c.num_imported_tables + i as u32,
            t.as_ptr(),
        );
    }

    let func_ref_addr = |f: u32| rec.func_ref(f).map(|p| p.as_ptr() as usize);
    let read_global = |g: u32| {
        // SAFETY: global records and definitions live in the store arena.
        rec.global(g).map(|r| unsafe { (*(*r).def).value })
    };

    // Defined globals.
    for (i, g) in metadata.globals.iter().enumerate() {
        let g = g.map_err(|_| InstantiationError::BadConstExpr)?;
        let value = const_expr::eval(g.init.ops.iter(), read_global, func_ref_addr)?;
        let def = vmctx.field(offsets.defined_global(i as u32));
        let r = s.new_global(g.ty, Some(def), value)?;
        set(
            rec.globals,
            num_globals,
            c.num_imported_globals + i as u32,
            r.as_ptr(),
        );
    }

    // Element segments: evaluate items, then apply active ones in order.
    for (i, seg) in metadata.elements.iter().enumerate() {
        let seg = seg.map_err(|_| InstantiationError::BadConstExpr)?;
        let len = match &seg.items {
            ElementItems::Functions(fs) => fs.len(),
            ElementItems::Expressions(es) => es.len(),
        };
        let items = s
            .arena
            .alloc_array::<usize>(len, 0)
            .ok_or(arena_err.clone())?;
        match &seg.items {
            ElementItems::Functions(fs) => {
                for (j, f) in fs.iter().enumerate().take(len) {
                    let f = f.map_err(|_| InstantiationError::BadConstExpr)?;
                    let p = func_ref_addr(f).ok_or(InstantiationError::BadConstExpr)?;
                    // SAFETY: j < len elements allocated.
                    unsafe { items.as_ptr().add(j).write(p) };
                }
            }
            ElementItems::Expressions(es) => {
                for (j, e) in es.iter().enumerate().take(len) {
                    let e = e.map_err(|_| InstantiationError::BadConstExpr)?;
                    let v = const_expr::eval(e.ops.iter(), read_global, func_ref_addr)?;
                    // SAFETY: j < len elements allocated.
                    unsafe { items.as_ptr().add(j).write(v.usize()) };
                }
            }
        }
        let segment = Segment {
            ptr: items.as_ptr().cast_const(),
            len,
        };
        match &seg.mode {
            SegmentMode::Passive => set(rec.elems, num_elems, i as u32, segment),
            SegmentMode::Declared => {}
            SegmentMode::Active { index, offset } => {
                let table = rec.table(*index).ok_or(InstantiationError::BadConstExpr)?;
                let off = const_expr::eval(offset.ops.iter(), read_global, func_ref_addr)?;
                // SAFETY: a record of this store.
                let index64 = unsafe { (*table).ty.index64 };
                let off = if index64 { off.u64() } else { off.u32() as u64 };
                let (Ok(off), Ok(n)) = (u32::try_from(off), u32::try_from(len)) else {
                    return Err(trap(TrapCode::TableOutOfBounds));
                };
                // SAFETY: table record of this store; items are funcref pointers of this
                // store or null (validation on the host guarantees the element type).
                unsafe { ops::table_init(table, segment, off, 0, n) }.map_err(trap)?;
            }
        }
    }

    // Data segments.
    for (i, seg) in metadata.data.iter().enumerate() {
        let seg = seg.map_err(|_| InstantiationError::BadConstExpr)?;
        let segment = Segment {
            ptr: seg.bytes.as_ptr(),
            len: seg.bytes.len(),
        };
        match &seg.mode {
            SegmentMode::Passive => set(rec.data, num_data, i as u32, segment),
            SegmentMode::Declared => {}
            SegmentMode::Active { index, offset } => {
                let mem = rec.memory(*index).ok_or(InstantiationError::BadConstExpr)?;
                let off = const_expr::eval(offset.ops.iter(), read_global, func_ref_addr)?;
                // SAFETY: a record of this store.
                let index64 = unsafe { (*mem).ty.index64 };
                let off = if index64 { off.u64() } else { off.u32() as u64 };
                // SAFETY: memory record of this store; the bytes borrow the image, which
                // outlives the store.
                unsafe { ops::memory_init(mem, segment, off, 0, segment.len as u64) }
                    .map_err(trap)?;
            }
        }
    }
    Ok(rec_ptr)
}

fn write_func_ref(vmctx: Vmctx, offsets: &VmOffsets, index: u32, f: VMFuncRef) {
    if index < offsets.counts.num_funcs() {
        // SAFETY: index < num_funcs, so the record lies inside the vmctx; VMFuncRef matches the
        // layout (tested in `vmctx`).
        unsafe { vmctx.field::<VMFuncRef>(offsets.func_ref(index)).write(f) };
    }
}

/// Reads a value of a global.
///
/// # Safety
/// `g` is a record of a live store.
pub unsafe fn global_value(g: *const GlobalRecord) -> ValRaw {
    // SAFETY: guaranteed by the caller.
    unsafe { (*(*g).def).value }
}
