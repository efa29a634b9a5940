//! Runtime helpers that compiled code calls through the vmctx ("libcalls").
//!
//! The vmctx holds a pointer to a table of `Libcall::COUNT` function pointers (offset
//! [`VmOffsets::libcalls`](crate::VmOffsets::libcalls)); entry `i` is the helper
//! `Libcall` with discriminant `i`. Compiled code loads the table pointer, loads the entry and
//! calls it indirectly, so the text never holds an address. Every helper uses the platform C
//! calling convention and takes the calling instance's vmctx first.
//!
//! Helpers that can fail return a `u32` that is 0 on success or a [`crate::TrapCode`] byte; the
//! compiled code then calls [`Libcall::Trap`] with that byte. `Trap` never returns: it unwinds
//! to the host entry point of the current call.
//!
//! `mem` and `table` arguments are module-level indices (imports first). Addresses and lengths
//! of memories are `u64` so that memory64 uses the same helpers.

/// The helpers, in table order. The order and signatures are part of the ABI
/// ([`crate::header::ABI_VERSION`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Libcall {
    /// `fn(vmctx, code: u32) -> !`: trap with a [`crate::TrapCode`] byte.
    Trap = 0,
    /// `fn(vmctx, mem: u32, delta_pages: u64) -> u64`: old size in pages, or `u64::MAX`.
    MemoryGrow = 1,
    /// `fn(vmctx, mem: u32, dst: u64, value: u32, len: u64) -> u32`.
    MemoryFill = 2,
    /// `fn(vmctx, dst_mem: u32, dst: u64, src_mem: u32, src: u64, len: u64) -> u32`.
    MemoryCopy = 3,
    /// `fn(vmctx, mem: u32, data: u32, dst: u64, src: u32, len: u32) -> u32`.
    MemoryInit = 4,
    /// `fn(vmctx, data: u32)`.
    DataDrop = 5,
    /// `fn(vmctx, table: u32, init: usize, delta: u32) -> u32`: old size, or `u32::MAX`.
    TableGrow = 6,
    /// `fn(vmctx, table: u32, dst: u32, value: usize, len: u32) -> u32`.
    TableFill = 7,
    /// `fn(vmctx, dst_table: u32, src_table: u32, dst: u32, src: u32, len: u32) -> u32`.
    TableCopy = 8,
    /// `fn(vmctx, table: u32, elem: u32, dst: u32, src: u32, len: u32) -> u32`.
    TableInit = 9,
    /// `fn(vmctx, elem: u32)`.
    ElemDrop = 10,
}

impl Libcall {
    /// Number of entries in the table.
    pub const COUNT: usize = 11;

    /// Every helper, in table order.
    pub const ALL: [Libcall; Libcall::COUNT] = [
        Libcall::Trap,
        Libcall::MemoryGrow,
        Libcall::MemoryFill,
        Libcall::MemoryCopy,
        Libcall::MemoryInit,
        Libcall::DataDrop,
        Libcall::TableGrow,
        Libcall::TableFill,
        Libcall::TableCopy,
        Libcall::TableInit,
        Libcall::ElemDrop,
    ];

    /// Index in the table.
    pub const fn index(self) -> u32 {
        self as u32
    }

    /// Byte offset of the entry in the table for pointer size `ptr`.
    pub const fn table_offset(self, ptr: u32) -> u32 {
        self as u32 * ptr
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_dense() {
        for (i, l) in Libcall::ALL.into_iter().enumerate() {
            assert_eq!(l.index() as usize, i);
        }
    }
}
