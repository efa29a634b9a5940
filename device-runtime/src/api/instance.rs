//! Instances and their exports.

use core::ptr::NonNull;

use shared_types::metadata::ExternKind;

use crate::api::externals::{Extern, Global, Memory, Table};
use crate::api::func::{Func, TypedFunc, WasmParams, WasmResults};
use crate::api::module::Module;
use crate::api::store::Store;
use crate::error::Error;
use crate::vm::instance::InstanceRecord;

/// An instance of a module in a store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instance {
    store: u64,
    ptr: NonNull<InstanceRecord>,
}

impl Instance {
    pub(crate) fn new(store: u64, ptr: NonNull<InstanceRecord>) -> Instance {
        Instance { store, ptr }
    }

    fn record<'s, T>(&self, store: &'s Store<'_, T>) -> Option<&'s InstanceRecord> {
        store.check(self.store).ok()?;
        // SAFETY: a record of this live store.
        Some(unsafe { &*self.ptr.as_ptr() })
    }

    pub(crate) fn store_id(&self) -> u64 {
        self.store
    }

    /// An export by name.
    pub fn get_export<T>(&self, store: &Store<'_, T>, name: &str) -> Option<Extern> {
        store.check(self.store).ok()?;
        // SAFETY: checked just above.
        unsafe { self.export_unchecked(name) }
    }

    /// An export by name, without checking the store.
    ///
    /// # Safety
    /// The instance's store is live.
    pub(crate) unsafe fn export_unchecked(&self, name: &str) -> Option<Extern> {
        // SAFETY: guaranteed by the caller.
        let rec = unsafe { &*self.ptr.as_ptr() };
        // SAFETY: the store borrows the module for its whole life ('m), so the module outlives
        // this use; `Module` is covariant, so shortening its lifetime is sound.
        let module = unsafe { &*(rec.module as *const Module<'_>) };
        let export = module
            .metadata()
            .exports
            .iter()
            .flatten()
            .find(|e| e.name == name)?;
        let id = self.store;
        Some(match export.kind {
            ExternKind::Func => Extern::Func(Func::new(id, rec.func_ref(export.index)?)),
            ExternKind::Table => Extern::Table(Table {
                store: id,
                ptr: NonNull::new(rec.table(export.index)?)?,
            }),
            ExternKind::Memory => Extern::Memory(Memory {
                store: id,
                ptr: NonNull::new(rec.memory(export.index)?)?,
            }),
            ExternKind::Global => Extern::Global(Global {
                store: id,
                ptr: NonNull::new(rec.global(export.index)?)?,
            }),
        })
    }

    /// An exported function.
    pub fn get_func<T>(&self, store: &Store<'_, T>, name: &str) -> Option<Func> {
        self.get_export(store, name)?.into_func()
    }

    /// An exported function with a checked static signature.
    pub fn get_typed_func<P: WasmParams, R: WasmResults>(
        &self,
        store: &Store<'_, impl Sized>,
        name: &str,
    ) -> Result<TypedFunc<P, R>, Error> {
        self.get_func(store, name)
            .ok_or(Error::MissingExport)?
            .typed(store)
    }

    /// An exported memory.
    pub fn get_memory<T>(&self, store: &Store<'_, T>, name: &str) -> Option<Memory> {
        self.get_export(store, name)?.into_memory()
    }

    /// An exported global.
    pub fn get_global<T>(&self, store: &Store<'_, T>, name: &str) -> Option<Global> {
        self.get_export(store, name)?.into_global()
    }

    /// An exported table.
    pub fn get_table<T>(&self, store: &Store<'_, T>, name: &str) -> Option<Table> {
        self.get_export(store, name)?.into_table()
    }

    /// Calls `f` with every export's name and item.
    pub fn for_each_export<T>(&self, store: &Store<'_, T>, mut f: impl FnMut(&str, Extern)) {
        let Some(rec) = self.record(store) else {
            return;
        };
        // SAFETY: as in `get_export`.
        let module = unsafe { &*(rec.module as *const Module<'_>) };
        for e in module.metadata().exports.iter().flatten() {
            if let Some(x) = self.get_export(store, e.name) {
                f(e.name, x);
            }
        }
    }
}
