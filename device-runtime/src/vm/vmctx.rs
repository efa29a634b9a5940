//! The `#[repr(C)]` records compiled code reads and writes, and raw access to a vmctx.
//!
//! Every layout here is fixed by [`shared_types::vmoffsets`]; the tests at the bottom check each
//! struct against [`VmOffsets`] for the native pointer size with `offset_of!`. The vmctx itself
//! is a byte region laid out by `VmOffsets`; [`Vmctx`] is the only way the runtime touches it.

use core::ptr::NonNull;

#[cfg(test)]
use shared_types::VmOffsets;

/// `VMStoreContext`: shared by every instance of a store (vmctx offset 0 points here).
/// `fuel` is at 8 on every pointer width (`VmOffsets::store_fuel`): 32-bit targets have 4
/// bytes of padding after `stack_limit`, and the record is 8-aligned so that its size is
/// `16 + P` rounded to 8.
#[repr(C, align(8))]
#[derive(Debug)]
pub struct VMStoreContext {
    /// Lowest stack pointer wasm code may use.
    pub stack_limit: usize,
    /// Padding up to offset 8 (none on 64-bit targets).
    pub _pad: [u8; 8 - core::mem::size_of::<usize>()],
    /// Fuel left in the current slice (the store keeps the rest of the budget).
    pub fuel: i32,
    /// Low 32 bits of the store's epoch deadline.
    pub epoch_deadline: u32,
    /// Pointer to the low 32 bits of the epoch counter.
    pub epoch_counter: *const u32,
}

/// A function reference: the record behind every funcref, imported or defined.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VMFuncRef {
    /// Code with the wasm calling convention.
    pub wasm_call: usize,
    /// Code with the array calling convention, or 0.
    pub array_call: usize,
    /// Callee vmctx, or the host function context.
    pub vmctx: *mut u8,
    /// Canonical type id in the store's registry.
    pub type_id: u32,
}

/// A linear memory as compiled code sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMMemoryDefinition {
    /// First byte.
    pub base: *mut u8,
    /// Current length in bytes.
    pub length: u64,
}

/// A table as compiled code sees it. Elements are pointer-sized.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct VMTableDefinition {
    /// First element.
    pub base: *mut usize,
    /// Current length in elements.
    pub length: u32,
}

/// A global's storage: same representation as [`ValRaw`].
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default)]
pub struct VMGlobalDefinition {
    /// The value.
    pub value: ValRaw,
}

/// One slot of the array calling convention: 16 little-endian bytes; i32/f32 in bytes 0..4,
/// i64/f64 in 0..8, references in 0..P.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ValRaw {
    bytes: [u8; 16],
}

impl ValRaw {
    /// A slot holding a 32-bit value (i32 or f32 bits).
    pub fn from_u32(v: u32) -> ValRaw {
        let mut r = ValRaw::default();
        r.bytes[..4].copy_from_slice(&v.to_le_bytes());
        r
    }
    /// A slot holding a 64-bit value (i64 or f64 bits).
    pub fn from_u64(v: u64) -> ValRaw {
        let mut r = ValRaw::default();
        r.bytes[..8].copy_from_slice(&v.to_le_bytes());
        r
    }
    /// A slot holding a pointer-sized reference.
    pub fn from_usize(v: usize) -> ValRaw {
        ValRaw::from_u64(v as u64)
    }
    /// The low 32 bits.
    pub fn u32(&self) -> u32 {
        u32::from_le_bytes([self.bytes[0], self.bytes[1], self.bytes[2], self.bytes[3]])
    }
    /// The low 64 bits.
    pub fn u64(&self) -> u64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&self.bytes[..8]);
        u64::from_le_bytes(b)
    }
    /// The low pointer-sized bits.
    pub fn usize(&self) -> usize {
        if usize::BITS == 32 {
            self.u32() as usize
        } else {
            self.u64() as usize
        }
    }
}

/// A vmctx: a pointer to `offsets.size()` bytes, 16-aligned, laid out by `offsets`.
#[derive(Clone, Copy, Debug)]
pub struct Vmctx {
    ptr: NonNull<u8>,
}

impl Vmctx {
    /// Wraps a vmctx pointer.
    pub fn new(ptr: NonNull<u8>) -> Vmctx {
        Vmctx { ptr }
    }

    /// The raw pointer compiled code receives.
    pub fn as_ptr(self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// Address of the field at `offset` (no access is made).
    pub fn field<T>(self, offset: u32) -> *mut T {
        self.ptr.as_ptr().wrapping_add(offset as usize).cast()
    }

    /// Writes a pointer-sized word.
    ///
    /// # Safety
    /// `offset` must come from the `VmOffsets` this vmctx was allocated with, for an index
    /// within its counts, and no other reference to that field may be live.
    pub unsafe fn write_usize(self, offset: u32, value: usize) {
        // SAFETY: the caller guarantees the field lies inside this vmctx; vmctx fields are
        // pointer-aligned by construction of `VmOffsets`.
        unsafe { self.field::<usize>(offset).write(value) }
    }

    /// Writes a `u32`.
    ///
    /// # Safety
    /// As for [`Vmctx::write_usize`].
    pub unsafe fn write_u32(self, offset: u32, value: u32) {
        // SAFETY: see `write_usize`; u32 fields are 4-aligned.
        unsafe { self.field::<u32>(offset).write(value) }
    }

    /// Reads a `u32`.
    ///
    /// # Safety
    /// As for [`Vmctx::write_usize`].
    pub unsafe fn read_u32(self, offset: u32) -> u32 {
        // SAFETY: see `write_usize`.
        unsafe { self.field::<u32>(offset).read() }
    }
}

/// `VmOffsets` for the pointer size of the machine the runtime runs on.
#[cfg(test)]
pub fn native_offsets(counts: shared_types::vmoffsets::ModuleCounts) -> Option<VmOffsets> {
    VmOffsets::new(core::mem::size_of::<usize>() as u8, counts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::mem::{align_of, offset_of, size_of};
    use shared_types::vmoffsets::{
        GLOBAL_SIZE, MEMORY_BASE, MEMORY_DEFINITION_SIZE, MEMORY_LENGTH, ModuleCounts, VAL_RAW_SIZE,
    };

    fn offsets() -> VmOffsets {
        native_offsets(ModuleCounts {
            num_types: 1,
            num_defined_funcs: 1,
            ..Default::default()
        })
        .unwrap()
    }

    #[test]
    fn store_context_layout() {
        let o = offsets();
        assert_eq!(
            offset_of!(VMStoreContext, stack_limit) as u32,
            o.store_stack_limit()
        );
        assert_eq!(offset_of!(VMStoreContext, fuel) as u32, o.store_fuel());
        assert_eq!(
            offset_of!(VMStoreContext, epoch_deadline) as u32,
            o.store_epoch_deadline()
        );
        assert_eq!(
            offset_of!(VMStoreContext, epoch_counter) as u32,
            o.store_epoch_counter()
        );
        assert_eq!(size_of::<VMStoreContext>() as u32, o.store_context_size());
    }

    #[test]
    fn func_ref_layout() {
        let o = offsets();
        assert_eq!(
            offset_of!(VMFuncRef, wasm_call) as u32,
            o.func_ref_wasm_call()
        );
        assert_eq!(
            offset_of!(VMFuncRef, array_call) as u32,
            o.func_ref_array_call()
        );
        assert_eq!(offset_of!(VMFuncRef, vmctx) as u32, o.func_ref_vmctx());
        assert_eq!(offset_of!(VMFuncRef, type_id) as u32, o.func_ref_type_id());
        assert_eq!(size_of::<VMFuncRef>() as u32, o.func_ref_size());
        assert!(align_of::<VMFuncRef>() as u32 <= o.ptr);
    }

    #[test]
    fn memory_table_global_layout() {
        let o = offsets();
        assert_eq!(offset_of!(VMMemoryDefinition, base) as u32, MEMORY_BASE);
        assert_eq!(offset_of!(VMMemoryDefinition, length) as u32, MEMORY_LENGTH);
        assert_eq!(
            size_of::<VMMemoryDefinition>() as u32,
            MEMORY_DEFINITION_SIZE
        );
        assert_eq!(offset_of!(VMTableDefinition, base) as u32, o.table_base());
        assert_eq!(
            offset_of!(VMTableDefinition, length) as u32,
            o.table_length()
        );
        assert_eq!(
            size_of::<VMTableDefinition>() as u32,
            o.table_definition_size()
        );
        assert_eq!(size_of::<VMGlobalDefinition>() as u32, GLOBAL_SIZE);
        assert_eq!(size_of::<ValRaw>() as u32, VAL_RAW_SIZE);
    }

    #[test]
    fn val_raw_round_trips() {
        assert_eq!(ValRaw::from_u32(0xdead_beef).u32(), 0xdead_beef);
        assert_eq!(ValRaw::from_u64(u64::MAX - 1).u64(), u64::MAX - 1);
        assert_eq!(ValRaw::from_usize(1234).usize(), 1234);
    }
}
