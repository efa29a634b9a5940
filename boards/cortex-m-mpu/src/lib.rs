//! Cortex-M MPU planning and programming for the device runtime's boards.
//!
//! A board describes its memory ([`MemoryMap`]: firmware code, RAM, peripherals, the main
//! stack, the code pool where the runtime publishes wasm text, the memory-slot pool) and the
//! code ranges published so far; [`v7::plan`] (ARMv7-M, PMSAv7: Cortex-M4F on mps2-an386) or
//! [`v8::plan`] (ARMv8-M, PMSAv8: Cortex-M55 on mps3-an547) turns that into MPU register
//! values, or a typed [`PlanError`], never a panic. Planning is safe code, tested on the host
//! against an independent model of each architecture's lookup rules. Only `v7::apply` and
//! `v8::apply` (built for `target_arch = "arm"`, bare metal) write registers; they live in the
//! one unsafe module, `hw`.
//!
//! # The policy
//!
//! For privileged code (everything on our boards runs privileged, wasm included):
//!
//! * **Code is read-only and executable**: [`MemoryMap::code`] (flash, ITCM: the firmware's
//!   text and read-only data) and every *published* range of the code pool.
//! * **Guards are no-access**: [`Stack::guard`] bytes below the main stack, and each memory
//!   slot's front guard (and back guard, when the pool has one): either a fixed slot layout
//!   ([`SlotPool`]) or the guards of the slots live now ([`MemoryMap::guards`], for platforms
//!   that place slots anywhere in their pool, like `cortex-m-common`'s). A store below a
//!   linear memory (a broken image, or firmware code with a negative offset) faults instead of
//!   corrupting the neighbouring slot.
//! * **Everything else is execute-never**: RAM, the unpublished code pool and the slots are
//!   read-write; peripherals read-write device memory.
//! * **W^X**: no planned region is both writable and executable (tests check every plan).
//!
//! Addresses the map does not list differ by architecture: on PMSAv7 they keep the default
//! memory map's read/write access but are execute-never; on PMSAv8 they are not accessible at
//! all (see below why). The Private Peripheral Bus (`0xE000_0000..0xE010_0000`: SCB, NVIC,
//! SysTick, the MPU itself) is never subject to the MPU.
//!
//! # Code published at run time (W^X)
//!
//! The runtime writes wasm text into memory returned by `Platform::code_alloc`, then calls
//! `Platform::code_publish`. The board keeps the set of published ranges ([`CodeRanges`]),
//! adds the new one and **recomputes the whole plan** with `v7::plan`/`v8::plan`, then applies
//! it; `code_free` removes the range and replans. So a range of the pool is read-write and
//! execute-never until it is published, read-only and executable afterwards, and never both.
//! Replanning everything rather than reserving "the code region" keeps one invariant
//! ("the registers equal `plan(map, published)`") instead of per-region bookkeeping. Published
//! ranges must be representable: multiples of 32 bytes on PMSAv8; on PMSAv7 unions of
//! subregions (a pool of 2^k bytes aligned to its size, allocated in eighths of it, needs one
//! region for any prefix of published modules). The simplest use, what the boards do today
//! through `cortex-m-common`'s `MemoryProtection`, publishes the whole pool or nothing: the pool
//! is read-write while any module is being copied in and read-only executable otherwise.
//!
//! Firmware can check the live state: `v8::test_target` (the `TT` instruction, ARMv8-M only)
//! returns what the MPU gives the running code at an address, without touching it.
//!
//! # PMSAv7 (ARMv7-M): priorities, subregions, background
//!
//! A region is `2^n` bytes (32 B to 4 GiB) aligned to its size; regions of 256 B or more have 8
//! equal subregions, each of which can be disabled (`SRD`), letting the address fall through to
//! lower-numbered regions. Where enabled regions overlap, **the highest-numbered one wins**.
//! With `PRIVDEFENA`, privileged accesses that hit no region use the default memory map.
//!
//! The plan, lowest priority first:
//!
//! 1. Region 0 covers the 4 GiB address space, read-write, execute-never, normal memory, with
//!    the subregions of the Peripheral (`0x4000_0000`), Device (`0xA000_0000`, `0xC000_0000`)
//!    and System (`0xE000_0000`) spaces disabled, so peripherals keep their default device
//!    attributes (and the default map's execute-never). This is "everything else XN".
//! 2. Read-only executable regions covering the code ranges and published code exactly.
//! 3. No-access regions covering the guards exactly, on top of everything.
//!
//! Covering a set exactly ([`v7`]'s greedy cover): starting at the lowest uncovered address,
//! consider the regions that contain it; in each candidate enable exactly the subregions that
//! lie entirely inside the set, require the one holding the start address to be enabled, and
//! keep the candidate that covers the most still-uncovered bytes (ties: the smaller region).
//! Invariant: an enabled subregion never contains an address outside the set, so the cover is
//! exact whatever the choices; each step covers at least the start address's subregion, so it
//! terminates. The search is bounded without changing its result: the eighths holding the
//! start address nest as the region grows, so sizes stop where that eighth leaves the run of
//! the set around it; candidates are tried from the largest down, and since a region covers
//! at most its size, the search stops below the best score found. Slot guards share a region
//! when the pool is laid out for it: a guard of one subregion and a slot stride of 2 or 4
//! subregions put 4 or 2 guards in one region.
//!
//! # PMSAv8 (ARMv8-M): base/limit, no overlap, no background
//!
//! A region is `[base, limit]` at 32-byte granularity with one set of attributes (`AP`, `XN`,
//! an index into `MAIR0`). An address that hits **two enabled regions faults**, so regions never
//! overlap. PMSAv8's `AP` field has **no no-access encoding** (privileged code can always read
//! a region it hits), and with `PRIVDEFENA` an address that hits no region uses the default
//! map, fully accessible. A no-access guard is therefore a *hole*: the plan leaves `PRIVDEFENA`
//! clear and covers every listed range except the guards, so a guard (and any unlisted address)
//! hits no region and faults. The map is cut at every boundary into runs of one kind (code,
//! read-write RAM, device); each run is one region, RAM split around every guard and published
//! code range. Consequences: every peripheral the firmware touches must be in
//! [`MemoryMap::devices`], and each slot costs a region (RAM on both sides of a guard).
//! `MAIR0` attribute 0 is normal memory, write-back read/write-allocate; attribute 1 is
//! Device-nGnRE.
//!
//! # Invariants the tests check
//!
//! For random and board-shaped maps, at sampled addresses (every boundary and its neighbours,
//! plus random addresses): decoding the planned registers with a small model of the
//! architecture's lookup (PMSAv7: priority, subregions, background; PMSAv8: multiple hits
//! fault, no background) gives exactly the access the policy intends, computed from the map
//! directly; no region is writable and executable; invalid maps give the expected error.

#![no_std]

mod map;
pub mod v7;
pub mod v8;

#[cfg(all(target_arch = "arm", target_os = "none"))]
mod hw;
#[cfg(all(target_arch = "arm", target_os = "none"))]
pub use hw::region_count;

#[cfg(test)]
mod tests;

pub use map::{CodeRanges, MemoryMap, PlanError, Range, SlotPool, Stack};

/// The largest number of MPU regions a plan holds (the Cortex-M55 has 16 per security state).
pub const MAX_REGIONS: usize = 16;
