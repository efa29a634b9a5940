//! The layout of everything compiled code touches at run time, for any pointer width.
//!
//! The host compiler computes offsets with [`VmOffsets`] when it emits loads and stores; the
//! device runtime uses the same function to lay out the memory it hands to compiled code and
//! tests its `#[repr(C)]` structs against it. `P` below is the target pointer size (4 or 8).
//! All offsets are in bytes; all values are little-endian.
//!
//! # VMContext (one per instance)
//!
//! ```text
//! 0        store_context   *mut VMStoreContext   shared by every instance of a store
//! P        libcalls        *const [fn; Libcall::COUNT]  (see crate::libcall)
//! 2P       instance        runtime-private pointer; compiled code never reads it
//! 3P       reserved        zero
//! 4P       type_ids        [u32; num_types]           canonical id of each type, per store
//! ..(P)    func_refs       [VMFuncRef; num_funcs]      imported first, then defined
//! ..(P)    imported_memories [*mut VMMemoryDefinition; n]
//! ..(8)    defined_memories  [VMMemoryDefinition; n]
//! ..(P)    imported_tables   [*mut VMTableDefinition; n]
//! ..(P)    defined_tables    [VMTableDefinition; n]
//! ..(P)    imported_globals  [*mut VMGlobalDefinition; n]
//! ..(16)   defined_globals   [VMGlobalDefinition; n]
//! size rounded up to 16
//! ```
//! `..(A)` means: the previous end rounded up to A.
//!
//! # Records
//!
//! ```text
//! VMStoreContext      0   stack_limit  P    lowest stack pointer wasm code may use
//!                     8   fuel         i32  fuel left in the current slice (see below)
//!                     12  epoch_deadline u32  low 32 bits of the store's epoch deadline
//!                     16  epoch_counter P   *const u32: low 32 bits of the engine's epoch
//!                     size 16 + P rounded to 8
//! VMFuncRef           0   wasm_call    P    code, wasm calling convention
//!                     P   array_call   P    code, array calling convention (0 if none)
//!                     2P  vmctx        P    callee vmctx (or host function context)
//!                     3P  type_id      u32  canonical type id; padded to 4P
//! VMMemoryDefinition  0   base         P    first byte of linear memory
//!                     8   length       u64  current length in bytes
//!                     size 16
//! VMTableDefinition   0   base         P    first element; an element is P bytes
//!                     P   length       u32  current length in elements; padded to 2P
//! VMGlobalDefinition  0   value        16 bytes, same representation as ValRaw
//! ValRaw              16 bytes: i32/f32 in bytes 0..4, i64/f64 in 0..8, references in 0..P,
//!                     little-endian; other bytes unspecified
//! ```
//!
//! **Fuel and epochs** (images compiled with `Tunables::fuel` / `Tunables::epochs`; the cost
//! model and the places of the checks are the host compiler's `module::fuel`). Compiled code
//! sees fuel as a 32-bit *slice*: at the start of every basic block of non-zero cost it
//! subtracts the block's cost from `fuel`; only at function entry and at loop headers (also
//! for a block of cost 0 there) it then checks the sign and, if the slice is negative, calls
//! [`Libcall::OutOfFuel`](crate::Libcall::OutOfFuel) with the cost of the block that starts
//! there. The slice may thus be negative by more than one block's cost (a *debt* of the blocks
//! run since the last check), which the runtime pays from the rest of the budget (a `u64` kept
//! outside the slice) or, if it cannot, stops the call with. The runtime never puts more than
//! [`FUEL_SLICE_MAX`] in the slice, the compiler bounds a function's total cost and checks
//! after calls with a long tail, and the wasm stack is at most [`MAX_WASM_STACK`], so the
//! subtractions between two checks do not wrap (the argument is in `module::fuel`). `fuel` is
//! current at every call out of compiled code, which reloads it afterwards. Epochs are compared
//! on their low 32 bits with wrapping arithmetic: at function entry and at every loop header,
//! compiled code loads `*epoch_counter` and calls
//! [`Libcall::EpochDeadline`](crate::Libcall::EpochDeadline) when
//! `(counter - epoch_deadline) as i32 >= 0`; the runtime decides with the full 64-bit values
//! there (and keeps the deadline word within 2^31 - 1 ticks of the counter whenever wasm is
//! entered or resumed), so the narrow comparison is never wrong for long.
//!
//! Table elements: a funcref is `*const VMFuncRef` (0 = null); an externref is a pointer-sized
//! host value (0 = null).
//!
//! # Calling conventions
//!
//! * **wasm** (every function body, and `VMFuncRef::wasm_call`): Cranelift's `tail` convention on
//!   64-bit targets. Parameters `(callee_vmctx: P, caller_vmctx: P, wasm params...)`, results
//!   the wasm results. Calls inside a module are direct (`bl`) with `callee_vmctx` equal to
//!   the caller's; calls to imports and `call_indirect` load `wasm_call` and `vmctx` from a
//!   `VMFuncRef`.
//! * **array** (`VMFuncRef::array_call`, host functions): the platform C convention,
//!   `extern "C" fn(callee_vmctx: P, caller_vmctx: P, values: *mut ValRaw, count: P) -> u32`.
//!   Arguments are read from `values[0..params]`, results written to `values[0..results]`,
//!   `count = max(params, results)`. `values` is **16-byte aligned** (a `ValRaw` buffer; the
//!   runtime refuses a host call whose buffer is not, with `HostError`): a trampoline that
//!   builds the buffer on its stack aligns it to 16 itself, whatever the ABI's stack alignment
//!   (8 on 32-bit Arm). Returns 0, or a [`crate::TrapCode`] byte when the callee
//!   failed (a host function's error is kept by the store, with code `HostError`).
//! * **array-entry trampoline** (in the image, `FunctionEntry::array_trampoline`): array
//!   convention; loads the arguments, calls the body with `callee_vmctx == caller_vmctx ==`
//!   its own first argument... precisely: it passes its `callee_vmctx` as both, returns 0.
//! * **wasm-to-array trampoline** (in the image, one per imported function type): wasm
//!   convention; spills the arguments to a `ValRaw` buffer on its stack, loads the host
//!   function's `array_call` from `callee_vmctx + HOST_CONTEXT_ARRAY_CALL` and calls it with
//!   `(callee_vmctx, caller_vmctx, buffer, count)`; a non-zero status is passed to the
//!   `Trap` libcall of `caller_vmctx`; otherwise it loads the results and returns them.
//!
//! Runtime helpers ("libcalls") use the C convention; see [`crate::libcall`].

use serde::{Deserialize, Serialize};

/// Size of a `ValRaw` slot in the array calling convention.
pub const VAL_RAW_SIZE: u32 = 16;
/// The most fuel the runtime puts in `VMStoreContext::fuel` (the rest of a budget stays in
/// the store's reserve): half the `i32` range, so that the blocks compiled code subtracts
/// between two checks leave room before the slice could wrap (host compiler `module::fuel`).
pub const FUEL_SLICE_MAX: i32 = i32::MAX / 2;
/// The most stack wasm code may use below the host frame that calls into it, whatever the
/// engine's configuration asks for (the runtime clamps `EngineConfig::max_wasm_stack` to it):
/// 64 MiB. It bounds the number of frames that can return between two fuel checks, which the
/// argument that the slice cannot wrap needs (host compiler `module::fuel`).
pub const MAX_WASM_STACK: u32 = 64 << 20;
/// Size of a `VMGlobalDefinition`.
pub const GLOBAL_SIZE: u32 = 16;
/// Size of a `VMMemoryDefinition`.
pub const MEMORY_DEFINITION_SIZE: u32 = 16;
/// Offset of `base` in `VMMemoryDefinition`.
pub const MEMORY_BASE: u32 = 0;
/// Offset of `length` (u64, bytes) in `VMMemoryDefinition`.
pub const MEMORY_LENGTH: u32 = 8;
/// Offset of the array-call pointer in a host function context (the `vmctx` a host function's
/// `VMFuncRef` carries).
pub const HOST_CONTEXT_ARRAY_CALL: u32 = 0;

/// How many entities of each kind a module has: the input of the layout.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModuleCounts {
    /// Function types.
    pub num_types: u32,
    /// Imported functions.
    pub num_imported_funcs: u32,
    /// Defined functions.
    pub num_defined_funcs: u32,
    /// Imported tables.
    pub num_imported_tables: u32,
    /// Defined tables.
    pub num_defined_tables: u32,
    /// Imported memories.
    pub num_imported_memories: u32,
    /// Defined memories.
    pub num_defined_memories: u32,
    /// Imported globals.
    pub num_imported_globals: u32,
    /// Defined globals.
    pub num_defined_globals: u32,
}

impl ModuleCounts {
    /// All functions, imported and defined.
    pub fn num_funcs(&self) -> u32 {
        self.num_imported_funcs
            .saturating_add(self.num_defined_funcs)
    }
}

/// Offsets of every vmctx field for one module on one pointer width.
///
/// Every method is pure arithmetic on the counts, computed with `u32` that cannot overflow for
/// counts below 2^24 ([`VmOffsets::new`] refuses larger ones).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VmOffsets {
    /// Pointer size (4 or 8).
    pub ptr: u32,
    /// The counts.
    pub counts: ModuleCounts,
    type_ids: u32,
    func_refs: u32,
    imported_memories: u32,
    defined_memories: u32,
    imported_tables: u32,
    defined_tables: u32,
    imported_globals: u32,
    defined_globals: u32,
    size: u32,
}

const fn align(x: u32, a: u32) -> u32 {
    (x + a - 1) & !(a - 1)
}

/// Largest count of any entity kind [`VmOffsets::new`] accepts.
pub const MAX_ENTITIES: u32 = 1 << 24;

impl VmOffsets {
    /// Computes the layout; `None` for a pointer size other than 4 or 8 or a count of
    /// [`MAX_ENTITIES`] or more.
    pub fn new(pointer_size: u8, counts: ModuleCounts) -> Option<VmOffsets> {
        let ptr = pointer_size as u32;
        if ptr != 4 && ptr != 8 {
            return None;
        }
        let c = counts;
        let all = [
            c.num_types,
            c.num_imported_funcs,
            c.num_defined_funcs,
            c.num_imported_tables,
            c.num_defined_tables,
            c.num_imported_memories,
            c.num_defined_memories,
            c.num_imported_globals,
            c.num_defined_globals,
        ];
        if all.iter().any(|&n| n >= MAX_ENTITIES) {
            return None;
        }
        let func_ref_size = 4 * ptr;
        let type_ids = 4 * ptr;
        let func_refs = align(type_ids + 4 * c.num_types, ptr);
        let imported_memories = align(func_refs + func_ref_size * c.num_funcs(), ptr);
        let defined_memories = align(imported_memories + ptr * c.num_imported_memories, 8);
        let imported_tables = align(
            defined_memories + MEMORY_DEFINITION_SIZE * c.num_defined_memories,
            ptr,
        );
        let defined_tables = align(imported_tables + ptr * c.num_imported_tables, ptr);
        let imported_globals = align(defined_tables + 2 * ptr * c.num_defined_tables, ptr);
        let defined_globals = align(imported_globals + ptr * c.num_imported_globals, 16);
        let size = align(defined_globals + GLOBAL_SIZE * c.num_defined_globals, 16);
        Some(VmOffsets {
            ptr,
            counts,
            type_ids,
            func_refs,
            imported_memories,
            defined_memories,
            imported_tables,
            defined_tables,
            imported_globals,
            defined_globals,
            size,
        })
    }

    /// Total size of the vmctx in bytes (a multiple of 16; the vmctx must be 16-aligned).
    pub fn size(&self) -> u32 {
        self.size
    }

    /// `store_context` pointer.
    pub fn store_context(&self) -> u32 {
        0
    }
    /// `libcalls` table pointer.
    pub fn libcalls(&self) -> u32 {
        self.ptr
    }
    /// Runtime-private instance pointer.
    pub fn instance(&self) -> u32 {
        2 * self.ptr
    }

    /// Canonical type id (u32) of module type `index`.
    pub fn type_id(&self, index: u32) -> u32 {
        self.type_ids + 4 * index
    }

    /// Size of a `VMFuncRef`.
    pub fn func_ref_size(&self) -> u32 {
        4 * self.ptr
    }
    /// The `VMFuncRef` of function `index` (imported or defined).
    pub fn func_ref(&self, index: u32) -> u32 {
        self.func_refs + self.func_ref_size() * index
    }
    /// Offset of `wasm_call` within a `VMFuncRef`.
    pub fn func_ref_wasm_call(&self) -> u32 {
        0
    }
    /// Offset of `array_call` within a `VMFuncRef`.
    pub fn func_ref_array_call(&self) -> u32 {
        self.ptr
    }
    /// Offset of `vmctx` within a `VMFuncRef`.
    pub fn func_ref_vmctx(&self) -> u32 {
        2 * self.ptr
    }
    /// Offset of `type_id` within a `VMFuncRef`.
    pub fn func_ref_type_id(&self) -> u32 {
        3 * self.ptr
    }

    /// Pointer to the `VMMemoryDefinition` of imported memory `index`.
    pub fn imported_memory(&self, index: u32) -> u32 {
        self.imported_memories + self.ptr * index
    }
    /// Inline `VMMemoryDefinition` of defined memory `defined_index`.
    pub fn defined_memory(&self, defined_index: u32) -> u32 {
        self.defined_memories + MEMORY_DEFINITION_SIZE * defined_index
    }

    /// Pointer to the `VMTableDefinition` of imported table `index`.
    pub fn imported_table(&self, index: u32) -> u32 {
        self.imported_tables + self.ptr * index
    }
    /// Inline `VMTableDefinition` of defined table `defined_index`.
    pub fn defined_table(&self, defined_index: u32) -> u32 {
        self.defined_tables + 2 * self.ptr * defined_index
    }
    /// Size of a `VMTableDefinition`.
    pub fn table_definition_size(&self) -> u32 {
        2 * self.ptr
    }
    /// Offset of `base` within a `VMTableDefinition`.
    pub fn table_base(&self) -> u32 {
        0
    }
    /// Offset of `length` (u32) within a `VMTableDefinition`.
    pub fn table_length(&self) -> u32 {
        self.ptr
    }

    /// Pointer to the `VMGlobalDefinition` of imported global `index`.
    pub fn imported_global(&self, index: u32) -> u32 {
        self.imported_globals + self.ptr * index
    }
    /// Inline `VMGlobalDefinition` of defined global `defined_index`.
    pub fn defined_global(&self, defined_index: u32) -> u32 {
        self.defined_globals + GLOBAL_SIZE * defined_index
    }

    /// `VMStoreContext::stack_limit`.
    pub fn store_stack_limit(&self) -> u32 {
        0
    }
    /// `VMStoreContext::fuel` (i32: fuel left in the current slice).
    pub fn store_fuel(&self) -> u32 {
        8
    }
    /// `VMStoreContext::epoch_deadline` (u32: low word of the deadline).
    pub fn store_epoch_deadline(&self) -> u32 {
        12
    }
    /// `VMStoreContext::epoch_counter` (pointer to the u32 low word of the epoch counter).
    pub fn store_epoch_counter(&self) -> u32 {
        16
    }
    /// Size of `VMStoreContext`.
    pub fn store_context_size(&self) -> u32 {
        align(16 + self.ptr, 8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts() -> ModuleCounts {
        ModuleCounts {
            num_types: 3,
            num_imported_funcs: 2,
            num_defined_funcs: 5,
            num_imported_tables: 1,
            num_defined_tables: 2,
            num_imported_memories: 1,
            num_defined_memories: 1,
            num_imported_globals: 1,
            num_defined_globals: 3,
        }
    }

    #[test]
    fn layout_64() {
        let o = VmOffsets::new(8, counts()).unwrap();
        assert_eq!(o.type_id(0), 32);
        assert_eq!(o.func_ref(0), 48);
        assert_eq!(o.func_ref(7), 48 + 7 * 32);
        assert_eq!(o.imported_memory(0), 48 + 7 * 32);
        assert_eq!(o.defined_memory(0), 280);
        assert_eq!(o.imported_table(0), 296);
        assert_eq!(o.defined_table(1), 304 + 16);
        assert_eq!(o.imported_global(0), 336);
        assert_eq!(o.defined_global(0), 352);
        assert_eq!(o.size(), 400);
    }

    #[test]
    fn layout_32() {
        let o = VmOffsets::new(4, counts()).unwrap();
        assert_eq!(o.type_id(0), 16);
        assert_eq!(o.func_ref(0), 28);
        assert_eq!(o.func_ref_size(), 16);
        assert_eq!(o.defined_memory(0) % 8, 0);
        assert_eq!(o.defined_global(0) % 16, 0);
        assert_eq!(o.size() % 16, 0);
    }

    #[test]
    fn fields_do_not_overlap() {
        for ptr in [4u8, 8] {
            let o = VmOffsets::new(ptr, counts()).unwrap();
            let regions = [
                (o.type_id(0), 4 * 3),
                (o.func_ref(0), o.func_ref_size() * 7),
                (o.imported_memory(0), o.ptr),
                (o.defined_memory(0), 16),
                (o.imported_table(0), o.ptr),
                (o.defined_table(0), 2 * o.table_definition_size()),
                (o.imported_global(0), o.ptr),
                (o.defined_global(0), 48),
            ];
            let mut end = 4 * o.ptr;
            for (start, len) in regions {
                assert!(start >= end, "{ptr}: {start} < {end}");
                end = start + len;
            }
            assert!(end <= o.size());
        }
    }

    #[test]
    fn refuses_bad_inputs() {
        assert!(VmOffsets::new(2, counts()).is_none());
        let mut c = counts();
        c.num_defined_funcs = MAX_ENTITIES;
        assert!(VmOffsets::new(8, c).is_none());
    }
}
