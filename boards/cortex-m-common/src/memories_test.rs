//! The Cortex-M boards' `test_memories` firmware (each board's `examples/test_memories.rs`
//! calls [`main`] with its [`MemoriesTestBoard`]): memories beyond WebAssembly 2.0 on bare
//! metal (issue 7).
//!
//! `wasm/memories.wat` (in this crate, compiled by each board's `build.rs` for its core)
//! declares a 300-byte memory of 1-byte pages (maximum 400) beside a one-page memory of 64 KiB
//! pages (maximum 2), and a 64-bit memory. The firmware
//!
//! * prints the RAM the slot planner takes for each memory type (`Memory::new` in a scratch
//!   store, counted in the board's memory-pool blocks, slot and front guard together), and
//!   checks the 1-byte-page memory takes less than the 64 KiB one;
//! * instantiates the module and checks, each printed as `[ok]`: sizes in each memory's own
//!   pages, data segments in their memories, each memory bounded by its own length (the
//!   small one traps at byte 300 where the big one does not), `memory.copy` between them,
//!   growth in 1-byte pages up to the maximum and `-1` past it without moving the memory,
//!   64-bit addresses above 4 GiB trapping (never wrapping on the 32-bit core), `memory.size`
//!   and `memory.grow` in 64 bits;
//! * checks that a memory64 minimum the board cannot hold (4 GiB + 64 KiB) is refused with
//!   the typed `MemoryTooLarge`, and that every memory-pool block is back afterwards.
//!
//! Prints `memories test: passed` and exits 0.

use device_runtime::{
    Engine, EngineConfig, Error, InstantiationError, Linker, Memory, MemoryType, Module, Store,
    TrapCode, TypedFunc,
};

use crate::println;

/// What the test needs from a board.
#[derive(Debug)]
pub struct MemoriesTestBoard {
    /// The board's engine configuration.
    pub config: EngineConfig,
    /// `wasm/memories.wat` compiled for the board's core.
    pub image: &'static [u8],
    /// Free blocks of the board's pools `(code, memory, arenas)`.
    pub free_blocks: fn() -> (usize, usize, usize),
    /// Bytes of one memory-pool block.
    pub memory_block: usize,
}

/// Runs the test; the exit status.
pub fn main(board: MemoriesTestBoard) -> u32 {
    match run(&board) {
        Ok(true) => {
            println!("memories test: passed");
            0
        }
        Ok(false) => {
            println!("memories test: FAILED");
            1
        }
        Err(e) => {
            println!("memories test: FAILED with {e}");
            1
        }
    }
}

/// Prints one check; whether it held.
fn check(ok: bool, what: &str) -> bool {
    println!("[{}] {what}", if ok { "ok" } else { "FAILED" });
    ok
}

/// Memory-pool bytes a memory of type `ty` takes (slot and front guard).
fn slot_bytes(board: &MemoriesTestBoard, engine: &Engine, ty: MemoryType) -> Result<usize, Error> {
    let free = || (board.free_blocks)().1;
    let before = free();
    let mut store = Store::new(engine, ());
    let memory = Memory::new(&mut store, ty)?;
    let taken = before.saturating_sub(free());
    println!(
        "slot planner: memory of {} pages of {} B (max {:?}): {} B accessible, {} B of RAM \
         ({} pool blocks of {} B, front guard included)",
        ty.min,
        ty.page_size(),
        ty.max,
        memory.data_size(&store),
        taken * board.memory_block,
        taken,
        board.memory_block
    );
    drop(store);
    Ok(taken * board.memory_block)
}

/// The trap of a failed call, if it was one.
fn trap_of<R>(result: Result<R, Error>) -> Option<TrapCode> {
    result.err().and_then(|e| e.trap_code())
}

fn run(board: &MemoriesTestBoard) -> Result<bool, Error> {
    let mut ok = true;
    let engine = Engine::new(&board.config);
    let free_before = (board.free_blocks)();

    let small_ty = MemoryType {
        min: 300,
        max: Some(400),
        index64: false,
        page_size_log2: 0,
        shared: false,
    };
    let big_ty = MemoryType {
        min: 1,
        max: Some(2),
        index64: false,
        page_size_log2: 16,
        shared: false,
    };
    let small_ram = slot_bytes(board, &engine, small_ty)?;
    let big_ram = slot_bytes(board, &engine, big_ty)?;
    ok &= check(
        small_ram < big_ram,
        "a 1-byte-page memory takes less RAM than a 64 KiB-page one",
    );

    let module = Module::new(&engine, board.image)?;
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new(&engine).instantiate(&mut store, &module)?;
    let memory = |name: &str| instance.get_memory(&store, name).ok_or(Error::TypeMismatch);
    let (small, big, wide) = (memory("small")?, memory("big")?, memory("wide")?);

    ok &= check(
        small.size(&store) == 300
            && small.data(&store).len() == 300
            && big.size(&store) == 1
            && big.data(&store).len() == 65536
            && wide.size(&store) == 1,
        "sizes in each memory's own pages (300 x 1 B, 1 x 64 KiB, 1 x 64 KiB)",
    );
    ok &= check(
        small.data(&store)[296..] == [1, 2, 3, 4] && big.data(&store)[65532..] == [10, 11, 12, 13],
        "data segments landed in their own memories",
    );

    let load_small: TypedFunc<i32, i32> = instance.get_typed_func(&store, "load_small")?;
    let load_big: TypedFunc<i32, i32> = instance.get_typed_func(&store, "load_big")?;
    let grow_small: TypedFunc<i32, i32> = instance.get_typed_func(&store, "grow_small")?;
    let copy: TypedFunc<(i32, i32, i32), ()> =
        instance.get_typed_func(&store, "copy_big_to_small")?;
    ok &= check(
        load_small.call(&mut store, 299)? == 4
            && trap_of(load_small.call(&mut store, 300)) == Some(TrapCode::MemoryOutOfBounds)
            && load_big.call(&mut store, 300)? == 0,
        "each memory is bounded by its own length (byte 300: small traps, big reads)",
    );
    copy.call(&mut store, (0, 65532, 4))?;
    ok &= check(
        small.data(&store)[..4] == [10, 11, 12, 13]
            && trap_of(copy.call(&mut store, (297, 0, 4))) == Some(TrapCode::MemoryOutOfBounds),
        "memory.copy from the big memory into the small one, bounds of each checked",
    );
    let base = small.data(&store).as_ptr();
    ok &= check(
        grow_small.call(&mut store, 100)? == 300
            && small.size(&store) == 400
            && grow_small.call(&mut store, 1)? == -1
            && small.data(&store).as_ptr() == base
            && load_small.call(&mut store, 399)? == 0,
        "memory.grow in 1-byte pages to the maximum, -1 past it, the memory never moves",
    );

    let load64: TypedFunc<i64, i64> = instance.get_typed_func(&store, "load64")?;
    let size64: TypedFunc<(), i64> = instance.get_typed_func(&store, "size64")?;
    let grow64: TypedFunc<i64, i64> = instance.get_typed_func(&store, "grow64")?;
    let wraps = [1i64 << 32, (1i64 << 32) + 8, -1, -8];
    let mut all_trap = true;
    for address in wraps {
        all_trap &= trap_of(load64.call(&mut store, address)) == Some(TrapCode::MemoryOutOfBounds);
    }
    ok &= check(
        load64.call(&mut store, 8)? == 0x0807_0605_0403_0201 && all_trap,
        "memory64: addresses above 4 GiB trap, never wrap, on the 32-bit core",
    );
    ok &= check(
        size64.call(&mut store, ())? == 1
            && grow64.call(&mut store, 1)? == 1
            && grow64.call(&mut store, 1)? == -1
            && grow64.call(&mut store, 1 << 40)? == -1
            && size64.call(&mut store, ())? == 2,
        "memory64: memory.size and memory.grow in 64 bits, the maximum holds",
    );
    drop(store);

    // A memory64 minimum of 4 GiB + 64 KiB cannot be held by any slot on this board.
    let mut store = Store::new(&engine, ());
    let too_large = MemoryType {
        min: 65537,
        max: None,
        index64: true,
        page_size_log2: 16,
        shared: false,
    };
    ok &= check(
        matches!(
            Memory::new(&mut store, too_large),
            Err(Error::Instantiate(
                InstantiationError::MemoryTooLarge { .. }
            ))
        ),
        "a memory64 minimum above 4 GiB is refused with MemoryTooLarge",
    );
    drop(store);
    let free_after = (board.free_blocks)();
    ok &= check(
        (free_after.1, free_after.2) == (free_before.1, free_before.2),
        "every memory-pool and arena block is back once the stores are dropped",
    );
    Ok(ok)
}
