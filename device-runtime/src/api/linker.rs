//! Name resolution for imports, without an allocator.
//!
//! A linker holds up to [`LINKER_CAPACITY`] definitions in a fixed array. Names are copied into
//! fixed-capacity strings of [`LINKER_NAME_CAPACITY`] bytes (longer names are refused with
//! [`LinkError::NameTooLong`]), so callers need not keep them alive or leak them.
//! [`Linker::instance`] records the instance itself, not a copy of each export: its exports are
//! looked up when an import names that module.

use shared_types::metadata::{BoundsChecks, Import};

use crate::api::engine::Engine;
use crate::api::externals::Extern;
use crate::api::func::{HostContext, HostFn, HostFuncDef, IntoFunc, untyped_def};
use crate::api::instance::Instance;
use crate::api::module::Module;
use crate::api::store::Store;
use crate::api::values::FuncType;
use crate::error::{Error, LinkError, error_name, limit};
use crate::vm::instance::{Candidate, instantiate};
use crate::vm::store::StoreInner;

/// Definitions a linker holds.
pub const LINKER_CAPACITY: usize = 128;
/// Bytes of a module or field name in a linker.
pub const LINKER_NAME_CAPACITY: usize = 64;

type Name = heapless::String<LINKER_NAME_CAPACITY>;

fn name(s: &str) -> Result<Name, LinkError> {
    let mut n = Name::new();
    n.push_str(s).map_err(|_| LinkError::NameTooLong)?;
    Ok(n)
}

enum Definition<T> {
    Host(HostFuncDef<T>),
    Extern(Extern),
    Instance(Instance),
}

struct Entry<T> {
    module: Name,
    name: Name,
    def: Definition<T>,
}

/// Resolves imports by `(module, name)` and instantiates modules.
pub struct Linker<T> {
    entries: heapless::Vec<Entry<T>, LINKER_CAPACITY>,
    allow_shadowing: bool,
}

impl<T> core::fmt::Debug for Linker<T> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Linker")
            .field("definitions", &self.entries.len())
            .finish_non_exhaustive()
    }
}

impl<T> Linker<T> {
    /// An empty linker.
    pub fn new(_engine: &Engine) -> Self {
        Linker {
            entries: heapless::Vec::new(),
            allow_shadowing: false,
        }
    }

    /// Whether a later definition of the same name replaces an earlier one (default: refused
    /// with [`LinkError::Duplicate`]).
    pub fn allow_shadowing(&mut self, allow: bool) -> &mut Self {
        self.allow_shadowing = allow;
        self
    }

    fn push(
        &mut self,
        module: &str,
        field: &str,
        def: Definition<T>,
    ) -> Result<&mut Self, LinkError> {
        let entry = Entry {
            module: name(module)?,
            name: name(field)?,
            def,
        };
        let is_instance = matches!(entry.def, Definition::Instance(_));
        if let Some(i) = self.entries.iter().position(|e| {
            e.module == entry.module
                && e.name == entry.name
                && !is_instance
                && !matches!(e.def, Definition::Instance(_))
        }) {
            if !self.allow_shadowing {
                return Err(LinkError::Duplicate {
                    module: error_name(module),
                    name: error_name(field),
                });
            }
            self.entries[i] = entry;
            return Ok(self);
        }
        self.entries
            .push(entry)
            .map_err(|_| LinkError::LinkerFull)?;
        Ok(self)
    }

    /// Defines a typed host function (a zero-sized closure; see [`IntoFunc`]).
    pub fn func_wrap<Params, Results>(
        &mut self,
        module: &str,
        name: &str,
        f: impl IntoFunc<T, Params, Results>,
    ) -> Result<&mut Self, LinkError> {
        let def = f.into_host_func();
        if def.ty.is_too_large() {
            return Err(LinkError::TypeTooLarge);
        }
        self.push(module, name, Definition::Host(def))
    }

    /// Defines an untyped host function of type `ty`.
    pub fn func_new(
        &mut self,
        module: &str,
        name: &str,
        ty: FuncType,
        f: HostFn<T>,
    ) -> Result<&mut Self, LinkError> {
        if ty.is_too_large() {
            return Err(LinkError::TypeTooLarge);
        }
        self.push(module, name, Definition::Host(untyped_def(ty, f)))
    }

    /// Defines an item of `store` (a function, table, memory or global).
    pub fn define(
        &mut self,
        store: &Store<'_, T>,
        module: &str,
        name: &str,
        item: impl Into<Extern>,
    ) -> Result<&mut Self, LinkError> {
        let item = item.into();
        if store.check(item.store_id()).is_err() {
            return Err(LinkError::WrongStore);
        }
        self.push(module, name, Definition::Extern(item))
    }

    /// Defines every export of `instance` under `module_name`.
    pub fn instance(
        &mut self,
        store: &mut Store<'_, T>,
        module_name: &str,
        instance: Instance,
    ) -> Result<&mut Self, LinkError> {
        if instance.store_id() != store.id() {
            return Err(LinkError::WrongStore);
        }
        if self.allow_shadowing {
            // A re-registered module name hides every earlier definition under it.
            self.entries.retain(|e| e.module.as_str() != module_name);
        }
        self.push(module_name, "", Definition::Instance(instance))
    }

    /// The definition of `module::name`, if any.
    pub fn get(&self, store: &Store<'_, T>, module: &str, name: &str) -> Option<Extern> {
        for e in self.entries.iter().rev() {
            if e.module.as_str() != module {
                continue;
            }
            match &e.def {
                Definition::Extern(x) if e.name.as_str() == name => return Some(*x),
                Definition::Instance(i) => {
                    if let Some(x) = i.get_export(store, name) {
                        return Some(x);
                    }
                }
                _ => {}
            }
        }
        None
    }

    fn resolve(
        &self,
        store_id: u64,
        s: &mut StoreInner,
        imp: &Import<'_>,
    ) -> Result<Candidate, Error> {
        let missing = || {
            Error::Link(LinkError::MissingImport {
                module: error_name(imp.module),
                name: error_name(imp.name),
            })
        };
        for e in self.entries.iter().rev() {
            if e.module.as_str() != imp.module {
                continue;
            }
            let found = match &e.def {
                Definition::Extern(x) if e.name.as_str() == imp.name => Some(*x),
                Definition::Instance(i) => instance_export(s, store_id, *i, imp.name),
                Definition::Host(def) if e.name.as_str() == imp.name => {
                    return host_candidate(s, def);
                }
                _ => None,
            };
            let Some(x) = found else { continue };
            if x.store_id() != store_id {
                return Err(Error::Link(LinkError::WrongStore));
            }
            return Ok(match x {
                Extern::Func(f) => Candidate::Func(f.func_ref()),
                Extern::Table(t) => Candidate::Table(t.ptr.as_ptr()),
                Extern::Memory(m) => Candidate::Memory(m.ptr.as_ptr()),
                Extern::Global(g) => Candidate::Global(g.ptr.as_ptr()),
            });
        }
        Err(missing())
    }

    /// Instantiates `module` in `store`, resolving its imports here, and runs its start
    /// function.
    ///
    /// Errors: [`Error::Link`] when an import is missing or has the wrong type (nothing was
    /// written); [`Error::Trap`] when a segment is out of bounds or the start function traps
    /// (earlier segments may already have written into imported tables and memories, as the
    /// specification requires).
    pub fn instantiate<'m>(
        &self,
        store: &mut Store<'m, T>,
        module: &'m Module<'_>,
    ) -> Result<Instance, Error> {
        let inner = store.inner_ptr()?;
        let store_id = store.id();
        let md = module.metadata();
        let guard = (md.tunables.bounds_checks == BoundsChecks::GuardElided)
            .then_some(md.tunables.guard_reservation);
        let mut resolve = |s: &mut StoreInner, imp: &Import<'_>| self.resolve(store_id, s, imp);
        // SAFETY: `inner` is this store's live record, not borrowed elsewhere (we hold
        // `&mut Store`); the text was published for this metadata by `Module::new`; the store
        // borrows the module (and its image) for 'm.
        let rec = unsafe {
            instantiate(
                inner.as_ptr(),
                md,
                module.offsets(),
                module.text_base,
                module as *const Module<'_> as *const (),
                guard,
                &mut resolve,
            )
        }?;
        let instance = Instance::new(store_id, rec);
        if let Some(start) = md.start {
            // SAFETY: the record was just created in this store.
            let f = unsafe { (*rec.as_ptr()).func_ref(start) }.ok_or(Error::NotCallable)?;
            crate::api::func::call_raw(store, f, &mut [])?;
        }
        Ok(instance)
    }
}

fn instance_export(
    s: &mut StoreInner,
    store_id: u64,
    instance: Instance,
    name: &str,
) -> Option<Extern> {
    if instance.store_id() != store_id || s.id != store_id {
        return None;
    }
    // SAFETY: the instance belongs to the store whose record we hold.
    unsafe { instance.export_unchecked(name) }
}

fn host_candidate<T>(s: &mut StoreInner, def: &HostFuncDef<T>) -> Result<Candidate, Error> {
    let (p, r) = def.ty.codes();
    let np = def.ty.param_types().len();
    let nr = def.ty.result_types().len();
    let type_id = s.intern_type(&p[..np], &r[..nr])?;
    let store_ptr: *mut StoreInner = s;
    let ctx = HostContext {
        array_call: def.array_call,
        store: store_ptr,
        untyped: def.untyped,
        ty: def.ty.clone(),
    };
    let ctx = s.arena.alloc(ctx).ok_or(limit("store arena"))?;
    Ok(Candidate::HostFunc {
        array_call: def.array_call as usize,
        ctx: ctx.as_ptr().cast(),
        type_id,
    })
}
