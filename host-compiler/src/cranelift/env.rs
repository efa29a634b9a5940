//! What the function translator and the trampoline builders need to know about the module.
//!
//! Built by the Cranelift driver (`cranelift/mod.rs`) from the parsed module; read by
//! `translate/` and `trampolines.rs`. Target-neutral except for the pointer type.

use cranelift_codegen::ir;
use shared_types::VmOffsets;
use shared_types::metadata::{BoundsChecks, GlobalType, MemoryType, TableType};

use crate::error::CompileError;
pub use crate::module::FuncSig;
use crate::module::ModuleInfo;

/// The module as the translator sees it. Index spaces count imports first.
#[derive(Clone, Debug)]
pub struct ModuleEnv {
    /// vmctx layout for this module on this target.
    pub offsets: VmOffsets,
    /// Pointer type of the target (`I64` on aarch64 and x86_64).
    pub pointer_type: ir::Type,
    /// Function types by type index.
    pub types: Vec<FuncSig>,
    /// Type index of every function.
    pub func_types: Vec<u32>,
    /// Number of imported functions (they come first in `func_types`).
    pub num_imported_funcs: u32,
    /// Every table.
    pub tables: Vec<TableType>,
    /// Number of imported tables.
    pub num_imported_tables: u32,
    /// Every memory.
    pub memories: Vec<MemoryType>,
    /// Number of imported memories.
    pub num_imported_memories: u32,
    /// Every global's type.
    pub globals: Vec<GlobalType>,
    /// Number of imported globals.
    pub num_imported_globals: u32,
    /// How memory accesses are checked.
    pub bounds_checks: BoundsChecks,
    /// With [`BoundsChecks::GuardElided`]: guard bytes behind the 4 GiB reservation; an access
    /// with `offset + size` up to this needs no explicit check.
    pub guard_size: u64,
    /// Whether fuel metering is compiled in (see `translate/fuel.rs`).
    pub fuel: bool,
    /// Whether epoch checks are compiled in (see `translate/fuel.rs`).
    pub epochs: bool,
}

impl ModuleEnv {
    /// The environment of `module` for a target with `pointer_type`, without fuel or epoch
    /// instrumentation (set [`ModuleEnv::fuel`] and [`ModuleEnv::epochs`] to add it).
    pub fn new(
        module: &ModuleInfo<'_>,
        pointer_type: ir::Type,
        bounds_checks: BoundsChecks,
        guard_size: u64,
    ) -> Result<ModuleEnv, CompileError> {
        let offsets =
            VmOffsets::new(pointer_type.bytes() as u8, module.counts()).ok_or_else(|| {
                CompileError::Limit(format!(
                    "more than {} entities of one kind",
                    shared_types::vmoffsets::MAX_ENTITIES - 1
                ))
            })?;
        Ok(ModuleEnv {
            offsets,
            pointer_type,
            types: module.types.clone(),
            func_types: module.func_types.clone(),
            num_imported_funcs: module.num_imported_funcs,
            tables: module.tables.clone(),
            num_imported_tables: module.num_imported_tables,
            memories: module.memories.clone(),
            num_imported_memories: module.num_imported_memories,
            globals: module.globals.clone(),
            num_imported_globals: module.num_imported_globals,
            bounds_checks,
            guard_size,
            fuel: false,
            epochs: false,
        })
    }

    /// Whether function `index` is imported.
    pub fn is_imported_func(&self, index: u32) -> bool {
        index < self.num_imported_funcs
    }
    /// Signature of function `index`.
    pub fn func_sig(&self, index: u32) -> &FuncSig {
        &self.types[self.func_types[index as usize] as usize]
    }
}
