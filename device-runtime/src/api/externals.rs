//! Memories, tables, globals, and the `Extern` sum of everything an instance exports.
//!
//! Handles are `Copy` pairs of a store identity and a record pointer in that store's arena.
//! Every method checks the identity against the store it is given before dereferencing; an
//! item of another store is refused with [`Error::WrongStore`] (or reads as empty/zero where
//! the signature has no error).

use core::ptr::NonNull;

use shared_types::ValType;
pub use shared_types::metadata::{GlobalType, MemoryType, TableType};

use crate::api::func::Func;
use crate::api::store::Store;
use crate::api::values::Val;
use crate::error::{Error, limit};
use crate::vm::ops;
use crate::vm::store::{GlobalRecord, MemoryRecord, TableRecord};

/// Anything an instance can export or a linker can define.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extern {
    /// A function.
    Func(Func),
    /// A table.
    Table(Table),
    /// A memory.
    Memory(Memory),
    /// A global.
    Global(Global),
}

impl Extern {
    /// The function, if this is one.
    pub fn into_func(self) -> Option<Func> {
        if let Extern::Func(f) = self {
            Some(f)
        } else {
            None
        }
    }
    /// The table, if this is one.
    pub fn into_table(self) -> Option<Table> {
        if let Extern::Table(t) = self {
            Some(t)
        } else {
            None
        }
    }
    /// The memory, if this is one.
    pub fn into_memory(self) -> Option<Memory> {
        if let Extern::Memory(m) = self {
            Some(m)
        } else {
            None
        }
    }
    /// The global, if this is one.
    pub fn into_global(self) -> Option<Global> {
        if let Extern::Global(g) = self {
            Some(g)
        } else {
            None
        }
    }
    pub(crate) fn store_id(&self) -> u64 {
        match self {
            Extern::Func(f) => f.store_id(),
            Extern::Table(t) => t.store,
            Extern::Memory(m) => m.store,
            Extern::Global(g) => g.store,
        }
    }
}

impl From<Func> for Extern {
    fn from(f: Func) -> Self {
        Extern::Func(f)
    }
}
impl From<Table> for Extern {
    fn from(t: Table) -> Self {
        Extern::Table(t)
    }
}
impl From<Memory> for Extern {
    fn from(m: Memory) -> Self {
        Extern::Memory(m)
    }
}
impl From<Global> for Extern {
    fn from(g: Global) -> Self {
        Extern::Global(g)
    }
}

/// A linear memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Memory {
    pub(crate) store: u64,
    pub(crate) ptr: NonNull<MemoryRecord>,
}

impl Memory {
    /// A new memory of type `ty` in a platform slot.
    pub fn new<T>(store: &mut Store<'_, T>, ty: MemoryType) -> Result<Memory, Error> {
        let inner = store.inner_ptr()?;
        // SAFETY: no wasm runs (we hold `&mut Store`); the record is live.
        let ptr = unsafe { (*inner.as_ptr()).new_memory(ty, None, 0, None) }?;
        Ok(Memory {
            store: store.id(),
            ptr,
        })
    }

    fn def<T>(&self, store: &Store<'_, T>) -> Option<(*mut u8, u64)> {
        store.check(self.store).ok()?;
        // SAFETY: a record of this live store.
        let d = unsafe { *(*self.ptr.as_ptr()).def };
        Some((d.base, d.length))
    }

    /// The type (with the declared minimum, not the current size).
    pub fn ty<T>(&self, store: &Store<'_, T>) -> Option<MemoryType> {
        store.check(self.store).ok()?;
        // SAFETY: a record of this live store.
        Some(unsafe { (*self.ptr.as_ptr()).ty })
    }

    /// Current size in pages (0 for a memory of another store).
    pub fn size<T>(&self, store: &Store<'_, T>) -> u64 {
        let Some(ty) = self.ty(store) else { return 0 };
        self.data_size(store) >> ty.page_size_log2.min(63)
    }

    /// Current size in bytes.
    pub fn data_size<T>(&self, store: &Store<'_, T>) -> u64 {
        self.def(store).map_or(0, |(_, len)| len)
    }

    /// The contents (empty for a memory of another store).
    pub fn data<'a, T>(&self, store: &'a Store<'_, T>) -> &'a [u8] {
        match self.def(store) {
            // SAFETY: `[base, base + len)` is accessible memory of the store, which the shared
            // borrow keeps from growing or running wasm.
            Some((base, len)) if len > 0 => unsafe {
                core::slice::from_raw_parts(base, len as usize)
            },
            _ => &[],
        }
    }

    /// The contents, mutably (empty for a memory of another store).
    pub fn data_mut<'a, T>(&self, store: &'a mut Store<'_, T>) -> &'a mut [u8] {
        match self.def(store) {
            // SAFETY: as in `data`, with the exclusive borrow of the store.
            Some((base, len)) if len > 0 => unsafe {
                core::slice::from_raw_parts_mut(base, len as usize)
            },
            _ => &mut [],
        }
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub fn read<T>(
        &self,
        store: &Store<'_, T>,
        offset: usize,
        buf: &mut [u8],
    ) -> Result<(), Error> {
        store.check(self.store)?;
        let data = self.data(store);
        let src = offset
            .checked_add(buf.len())
            .and_then(|end| data.get(offset..end))
            .ok_or(Error::OutOfBounds)?;
        buf.copy_from_slice(src);
        Ok(())
    }

    /// Writes `buf` at `offset`.
    pub fn write<T>(
        &self,
        store: &mut Store<'_, T>,
        offset: usize,
        buf: &[u8],
    ) -> Result<(), Error> {
        store.check(self.store)?;
        let data = self.data_mut(store);
        let dst = offset
            .checked_add(buf.len())
            .and_then(|end| data.get_mut(offset..end))
            .ok_or(Error::OutOfBounds)?;
        dst.copy_from_slice(buf);
        Ok(())
    }

    /// Grows by `delta` pages; returns the old size in pages.
    pub fn grow<T>(&self, store: &mut Store<'_, T>, delta: u64) -> Result<u64, Error> {
        let inner = store.check(self.store)?;
        // SAFETY: a record of this live store; no slice of the memory is borrowed (we hold
        // `&mut Store`).
        unsafe { ops::memory_grow((*inner.as_ptr()).platform, self.ptr.as_ptr(), delta) }
            .ok_or(Error::GrowFailed)
    }
}

/// A table of references.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) store: u64,
    pub(crate) ptr: NonNull<TableRecord>,
}

fn element_type(ty: &TableType) -> ValType {
    ValType::from_code(ty.element)
        .filter(|t| t.is_ref())
        .unwrap_or(ValType::FuncRef)
}

impl Table {
    /// A new table of type `ty`, every element `init`.
    pub fn new<T>(store: &mut Store<'_, T>, ty: TableType, init: Val) -> Result<Table, Error> {
        let inner = store.inner_ptr()?;
        let elem = ValType::from_code(ty.element)
            .filter(|t| t.is_ref())
            .ok_or(Error::TypeMismatch)?;
        let raw = init.to_raw(elem, store.id()).ok_or(Error::TypeMismatch)?;
        // SAFETY: no wasm runs; the record is live.
        let ptr = unsafe { (*inner.as_ptr()).new_table(ty, None, raw.usize()) }?;
        Ok(Table {
            store: store.id(),
            ptr,
        })
    }

    /// The type (declared limits).
    pub fn ty<T>(&self, store: &Store<'_, T>) -> Option<TableType> {
        store.check(self.store).ok()?;
        // SAFETY: a record of this live store.
        Some(unsafe { (*self.ptr.as_ptr()).ty })
    }

    /// Current length (0 for a table of another store).
    pub fn size<T>(&self, store: &Store<'_, T>) -> u64 {
        if store.check(self.store).is_err() {
            return 0;
        }
        // SAFETY: a record of this live store.
        unsafe { ops::table_len(self.ptr.as_ptr()) as u64 }
    }

    /// Element `index`, or `None` if out of bounds (or of another store).
    pub fn get<T>(&self, store: &Store<'_, T>, index: u64) -> Option<Val> {
        let ty = self.ty(store)?;
        let index = u32::try_from(index).ok()?;
        // SAFETY: a record of this live store.
        let raw = unsafe { ops::table_get(self.ptr.as_ptr(), index) }?;
        Some(Val::from_raw(
            crate::vm::ValRaw::from_usize(raw),
            element_type(&ty),
            self.store,
        ))
    }

    /// Sets element `index`.
    pub fn set<T>(&self, store: &mut Store<'_, T>, index: u64, value: Val) -> Result<(), Error> {
        store.check(self.store)?;
        let ty = self.ty(store).ok_or(Error::WrongStore)?;
        let raw = value
            .to_raw(element_type(&ty), self.store)
            .ok_or(Error::TypeMismatch)?;
        let index = u32::try_from(index).map_err(|_| Error::OutOfBounds)?;
        // SAFETY: a record of this live store; the value was type-checked for this store.
        unsafe { ops::table_set(self.ptr.as_ptr(), index, raw.usize()) }
            .map_err(|_| Error::OutOfBounds)
    }

    /// Grows by `delta` elements set to `init`; returns the old length.
    pub fn grow<T>(&self, store: &mut Store<'_, T>, delta: u64, init: Val) -> Result<u64, Error> {
        let inner = store.check(self.store)?;
        let ty = self.ty(store).ok_or(Error::WrongStore)?;
        let raw = init
            .to_raw(element_type(&ty), self.store)
            .ok_or(Error::TypeMismatch)?;
        let delta = u32::try_from(delta).map_err(|_| Error::GrowFailed)?;
        // SAFETY: a record of this live store; no wasm runs, so the arena is ours.
        unsafe {
            ops::table_grow(
                &mut (*inner.as_ptr()).arena,
                self.ptr.as_ptr(),
                raw.usize(),
                delta,
            )
        }
        .map(u64::from)
        .ok_or(Error::GrowFailed)
    }
}

/// A global variable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Global {
    pub(crate) store: u64,
    pub(crate) ptr: NonNull<GlobalRecord>,
}

impl Global {
    /// A new global of type `ty` holding `value`.
    pub fn new<T>(store: &mut Store<'_, T>, ty: GlobalType, value: Val) -> Result<Global, Error> {
        let inner = store.inner_ptr()?;
        let vt = ValType::from_code(ty.ty).ok_or(Error::TypeMismatch)?;
        let raw = value.to_raw(vt, store.id()).ok_or(Error::TypeMismatch)?;
        // SAFETY: no wasm runs; the record is live.
        let ptr = unsafe { (*inner.as_ptr()).new_global(ty, None, raw) }
            .map_err(|_| limit("store arena"))?;
        Ok(Global {
            store: store.id(),
            ptr,
        })
    }

    /// The type (`None` for a global of another store).
    pub fn ty<T>(&self, store: &Store<'_, T>) -> Option<GlobalType> {
        store.check(self.store).ok()?;
        // SAFETY: a record of this live store.
        Some(unsafe { (*self.ptr.as_ptr()).ty })
    }

    /// The value type (`None` for a global of another store).
    pub fn val_type<T>(&self, store: &Store<'_, T>) -> Option<ValType> {
        self.ty(store).and_then(|t| ValType::from_code(t.ty))
    }

    /// The value (`Val::I32(0)` for a global of another store).
    pub fn get<T>(&self, store: &Store<'_, T>) -> Val {
        let Some(vt) = self.val_type(store) else {
            return Val::I32(0);
        };
        // SAFETY: a record of this live store.
        let raw = unsafe { crate::vm::instance::global_value(self.ptr.as_ptr()) };
        Val::from_raw(raw, vt, self.store)
    }

    /// Sets the value of a mutable global.
    pub fn set<T>(&self, store: &mut Store<'_, T>, value: Val) -> Result<(), Error> {
        store.check(self.store)?;
        let ty = self.ty(store).ok_or(Error::WrongStore)?;
        if !ty.mutable {
            return Err(Error::ImmutableGlobal);
        }
        let vt = ValType::from_code(ty.ty).ok_or(Error::TypeMismatch)?;
        let raw = value.to_raw(vt, self.store).ok_or(Error::TypeMismatch)?;
        // SAFETY: a record of this live store; no wasm runs.
        unsafe { (*(*self.ptr.as_ptr()).def).value = raw };
        Ok(())
    }
}
