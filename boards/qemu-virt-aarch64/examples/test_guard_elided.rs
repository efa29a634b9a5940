//! Guard-elided test firmware (run by `run-tests.sh`): images compiled with
//! `--bounds-checks guard-elided` on the board's wide memory slots.
//!
//! * On [`board::engine_config`] (no 4 GiB reservation) the image is refused at load with
//!   `LoadError::GuardReservation`; on [`board::engine_config_guard_elided`] it loads.
//! * Its memories live in wide slots (64 GiB up), mapped page by page to physical pages of the
//!   memory pool that are not reachable at their own address; the front guard, the end of the
//!   memory and base + 4 GiB - 1 are unmapped.
//! * In-bounds loads and stores work; out-of-bounds stores (just past the end, straddling it,
//!   at 4 GiB - 1, with a static offset inside the guard) fault on unmapped pages and come back
//!   as `out of bounds memory access` through the exception vector; a store whose offset
//!   exceeds the guard keeps its explicit check.
//! * `memory.grow` maps and zeroes pages; it returns -1 when the pool cannot back the growth,
//!   without leaking a page.
//! * Victims (a guard-elided instance in another wide slot, an explicit one in a small slot)
//!   are bit-identical before and after.
//! * Exhausting the wide slots is a typed error; after the stores are dropped every page and
//!   slot is back, and a new instance gets a reused, zeroed slot.
//! * The same module with explicit checks on [`board::engine_config_large_memories`] gets a
//!   wide slot that grows to 803 wasm pages (50 MiB), traps past its end through the explicit
//!   check, refuses to grow past its reservation, and gives its pages back.
//!
//! Prints `guard-elided test: passed` and exits 0, or exits 1 after naming the failed check.

#![no_std]
#![no_main]

use device_runtime::platform::PlatformError;
use device_runtime::{
    Engine, Error, Instance, InstantiationError, LoadError, Memory, MemoryType, Module, Store,
    TrapCode,
};
use qemu_virt_aarch64::memory_map::{
    MEMORY_POOL, WIDE_SLOT_COUNT, WIDE_SLOT_WINDOW, WIDE_SLOTS_START,
};
use qemu_virt_aarch64::platform::{LARGE_MEMORY_RESERVATION, free_pages, free_wide_slots};
use qemu_virt_aarch64::{self as board, exceptions, mmu, println};

board::entry!(main);

const WASM_PAGE: u64 = 65536;

fn main() -> u32 {
    match run() {
        Ok(0) => {
            println!("guard-elided test: passed");
            0
        }
        Ok(failures) => {
            println!("guard-elided test: {failures} check(s) failed");
            1
        }
        Err(e) => {
            println!("guard-elided test: error: {e}");
            1
        }
    }
}

fn check(failures: &mut u32, ok: bool, what: &str) {
    println!("[{}] {what}", if ok { "ok" } else { "FAIL" });
    if !ok {
        *failures += 1;
    }
}

fn expect_trap(failures: &mut u32, what: &str, result: Result<(), Error>, via_fault: bool) {
    match result {
        Err(Error::Trap(trap)) => {
            println!("attacker {what}: {trap}");
            check(
                failures,
                trap.code == TrapCode::MemoryOutOfBounds,
                if via_fault {
                    "out-of-bounds trap through the guard fault"
                } else {
                    "out-of-bounds trap through the explicit check"
                },
            );
        }
        other => {
            println!("attacker {what}: {other:?}");
            check(failures, false, "expected a trap");
        }
    }
}

/// The memory's base address and whether its first 64 KiB hold exactly what `fill(seed)`
/// writes (the bit-identity check, without a 64 KiB copy on the stack), or are all zero
/// (`seed == None`).
fn inspect(
    instance: &Instance,
    store: &Store<()>,
    seed: Option<u32>,
) -> Result<(u64, bool), Error> {
    let memory = instance
        .get_memory(store, "memory")
        .ok_or(Error::MissingExport)?;
    let data = memory.data(store);
    let first = data.get(..65536).ok_or(Error::OutOfBounds)?;
    let intact = first.chunks_exact(4).enumerate().all(|(i, word)| {
        let expected = seed.map_or(0, |seed| {
            ((i as u32 * 4).wrapping_add(seed)).wrapping_mul(0x9e37_79b1)
        });
        word == expected.to_le_bytes()
    });
    Ok((data.as_ptr() as u64, intact))
}

fn run() -> Result<u32, Error> {
    let mut failures = 0;
    let elided = device_runtime::include_image!("wide_elided.img").bytes();
    let explicit = device_runtime::include_image!("guard.img").bytes();
    let (_, pool_pages_at_start, _) = free_pages();

    // Refused without the capacity.
    let small_engine = Engine::new(&board::engine_config());
    match Module::new(&small_engine, elided) {
        Err(e @ LoadError::GuardReservation { .. }) => {
            println!("engine_config(): {e}");
            check(&mut failures, true, "refused with GuardReservation");
        }
        other => {
            println!("engine_config(): {:?}", other.map(|_| ()));
            check(&mut failures, false, "refused with GuardReservation");
        }
    }

    let engine = Engine::new(&board::engine_config_guard_elided());
    println!("guard capacity: {:#x} bytes", engine.guard_capacity());
    println!(
        "page tables: {} of {} used (every wide slot's {} MiB window planned at boot)",
        mmu::tables_used(),
        mmu::TABLE_COUNT,
        WIDE_SLOT_WINDOW >> 20
    );
    let module = Module::new(&engine, elided)?;
    let explicit_module = Module::new(&engine, explicit)?;
    // `poke` replaced by a hand-made store at memory base - 4 (see build.rs).
    let broken = Module::new(
        &engine,
        device_runtime::include_image!("wide_broken_elided.img").bytes(),
    )?;
    check(&mut failures, true, "guard-elided image loaded");
    let linker = device_runtime::Linker::<()>::new(&engine);

    // Victims: a guard-elided instance (wide slot) and an explicit one (small slot).
    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &module)?;
    victim
        .get_typed_func::<(i32, i32), ()>(&victim_store, "fill")?
        .call(&mut victim_store, (0x1234, 65536))?;
    let small_victim = linker.instantiate(&mut victim_store, &explicit_module)?;
    small_victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, 0x4321)?;
    let (victim_base, victim_before) = inspect(&victim, &victim_store, Some(0x1234))?;
    let (small_base, small_before) = inspect(&small_victim, &victim_store, Some(0x4321))?;
    check(
        &mut failures,
        victim_before && small_before,
        "victim memories hold their pattern",
    );
    println!("victim memories at {victim_base:#x} (wide) and {small_base:#x} (small)");
    check(
        &mut failures,
        victim_base >= WIDE_SLOTS_START && MEMORY_POOL.contains(small_base),
        "guard-elided memory in a wide slot, explicit memory in a small slot",
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &module)?;
    let (base, _) = inspect(&attacker, &attacker_store, None)?;
    let translated = mmu::translate(base);
    println!("attacker memory at {base:#x} -> physical {translated:x?}");
    check(
        &mut failures,
        base >= WIDE_SLOTS_START && base != victim_base,
        "attacker in another wide slot",
    );
    check(
        &mut failures,
        translated.is_some_and(|(physical, _)| {
            physical != base && MEMORY_POOL.contains(physical) && mmu::lookup(physical).is_none()
        }),
        "memory mapped to a pool page that is unmapped at its own address",
    );
    for (what, address) in [
        ("front guard (base - 1) unmapped", base - 1),
        ("end of memory (base + 64 KiB) unmapped", base + WASM_PAGE),
        ("base + 4 GiB - 1 unmapped", base + (4 << 30) - 1),
        (
            "base + 4 GiB + 64 KiB - 1 unmapped",
            base + (4 << 30) + WASM_PAGE - 1,
        ),
    ] {
        check(&mut failures, mmu::lookup(address).is_none(), what);
    }

    // In bounds.
    let store = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store")?;
    let store8 = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store8")?;
    let store_offset =
        attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store_offset")?;
    let store_far = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store_far")?;
    let load = attacker.get_typed_func::<i32, i32>(&attacker_store, "load")?;
    let load8 = attacker.get_typed_func::<i32, i32>(&attacker_store, "load8")?;
    let grow = attacker.get_typed_func::<i32, i32>(&attacker_store, "grow")?;
    let size = attacker.get_typed_func::<(), i32>(&attacker_store, "size")?;
    store.call(&mut attacker_store, (100, 42))?;
    store8.call(&mut attacker_store, (65535, 0xab))?;
    store_offset.call(&mut attacker_store, (0, 7))?;
    let in_bounds = (
        load.call(&mut attacker_store, 100)?,
        load8.call(&mut attacker_store, 65535)?,
        load.call(&mut attacker_store, 0xfff0)?,
    );
    println!("in-bounds loads: {in_bounds:?}");
    check(
        &mut failures,
        in_bounds == (42, 0xab, 7),
        "in-bounds loads and stores work",
    );

    // Out of bounds.
    let faults = exceptions::faults_turned_into_traps();
    for (what, address, with_offset) in [
        ("store(65536)", 65536, false),
        ("store(65533)", 65533, false),
        ("store(0xffff_ffff) (4 GiB - 1)", -1, false),
        ("store(0x8000_0000)", i32::MIN, false),
        ("store_offset(0x10) (offset 0xfff0)", 0x10, true),
        ("store_offset(0xffff_ffff) (offset 0xfff0)", -1, true),
    ] {
        let f = if with_offset { store_offset } else { store };
        expect_trap(
            &mut failures,
            what,
            f.call(&mut attacker_store, (address, -1)),
            true,
        );
    }
    let guard_traps = exceptions::faults_turned_into_traps() - faults;
    check(
        &mut failures,
        guard_traps == 6,
        "each of the 6 unchecked stores faulted and was turned into a trap",
    );
    let faults = exceptions::faults_turned_into_traps();
    expect_trap(
        &mut failures,
        "store_far(0) (offset 1 GiB)",
        store_far.call(&mut attacker_store, (0, -1)),
        false,
    );
    check(
        &mut failures,
        exceptions::faults_turned_into_traps() == faults,
        "the offset beyond the guard was checked explicitly (no fault)",
    );

    // memory.grow maps and zeroes; -1 when the pool cannot back it.
    let grown = grow.call(&mut attacker_store, 1)?;
    let new_page = (
        load.call(&mut attacker_store, 65536)?,
        load.call(&mut attacker_store, 2 * 65536 - 4)?,
    );
    store.call(&mut attacker_store, (65540, 99))?;
    let stored = load.call(&mut attacker_store, 65540)?;
    check(
        &mut failures,
        grown == 1
            && size.call(&mut attacker_store, ())? == 2
            && new_page == (0, 0)
            && stored == 99,
        "memory.grow(1) maps a zeroed page that is usable",
    );
    expect_trap(
        &mut failures,
        "store(131072) after growing",
        store.call(&mut attacker_store, (131072, -1)),
        true,
    );
    // To one wasm page past the slot's window (what the whole pool could back).
    let (_, pool_before, _) = free_pages();
    let beyond_window = (WIDE_SLOT_WINDOW / WASM_PAGE) as i32 - 1;
    let refused = grow.call(&mut attacker_store, beyond_window)?;
    let (_, pool_after, _) = free_pages();
    println!(
        "memory.grow({beyond_window}) = {refused}; pool pages free {pool_before} -> {pool_after}"
    );
    check(
        &mut failures,
        refused == -1 && pool_after == pool_before && size.call(&mut attacker_store, ())? == 2,
        "memory.grow beyond the physical pool returns -1 and keeps nothing",
    );
    // A growth inside the slot's window that the pool runs out of pages for half-way: the
    // pages mapped so far are given back.
    let (_, pool_before, _) = free_pages();
    let pages_wanted = (pool_before / 16 + 1) as i32;
    let refused = grow.call(&mut attacker_store, pages_wanted)?;
    let (_, pool_after, _) = free_pages();
    println!(
        "memory.grow({pages_wanted}) with {pool_before} pool pages free = {refused}; \
         afterwards {pool_after} free"
    );
    check(
        &mut failures,
        (2 + pages_wanted as u64) * WASM_PAGE <= WIDE_SLOT_WINDOW
            && refused == -1
            && pool_after == pool_before
            && size.call(&mut attacker_store, ())? == 2,
        "memory.grow that exhausts the pool half-way returns -1 and gives every page back",
    );
    check(
        &mut failures,
        load.call(&mut attacker_store, 65540)? == 99,
        "attacker still runs after its traps",
    );

    // A hand-made store below the memory base from a PC not in the trap table (rule 2 of the
    // exception handler, on a wide slot's front guard).
    let broken_instance = linker.instantiate(&mut attacker_store, &broken)?;
    let (broken_base, _) = inspect(&broken_instance, &attacker_store, None)?;
    let guard_faults = exceptions::guard_faults_turned_into_traps();
    let result = broken_instance
        .get_typed_func::<(), ()>(&attacker_store, "poke")?
        .call(&mut attacker_store, ());
    match &result {
        Err(Error::Trap(trap)) => println!(
            "broken poke (stores at {:#x}, wide front guard): {trap}",
            broken_base - 4
        ),
        other => println!("broken poke returned {other:?}"),
    }
    check(
        &mut failures,
        broken_base >= WIDE_SLOTS_START
            && matches!(result, Err(Error::Trap(ref t)) if t.code == TrapCode::MemoryOutOfBounds)
            && exceptions::guard_faults_turned_into_traps() == guard_faults + 1
            && mmu::lookup(broken_base - 4).is_none(),
        "an unlisted store on a wide slot's front guard is a trap (guard-region rule)",
    );

    // Victims untouched.
    let (_, victim_after) = inspect(&victim, &victim_store, Some(0x1234))?;
    let (_, small_after) = inspect(&small_victim, &victim_store, Some(0x4321))?;
    check(
        &mut failures,
        victim_before && victim_after,
        "wide victim memory bit-identical before and after",
    );
    check(
        &mut failures,
        small_before && small_after,
        "small victim memory bit-identical before and after",
    );

    // A memory whose initial size the pool cannot back (one wasm page more than the whole
    // pool) is a typed error at creation, with nothing kept.
    let mut crowd = Store::try_new(&engine, ())?;
    let (_, pool_before, _) = free_pages();
    let wide_before = free_wide_slots();
    let too_big_pages = MEMORY_POOL.len() / WASM_PAGE + 1;
    let too_big = Memory::new(
        &mut crowd,
        MemoryType {
            min: too_big_pages,
            max: None,
            index64: false,
            page_size_log2: 16,
            shared: false,
        },
    );
    match &too_big {
        Err(e) => println!("Memory::new({too_big_pages} pages): {e}"),
        Ok(_) => println!("Memory::new({too_big_pages} pages): created"),
    }
    check(
        &mut failures,
        matches!(
            too_big,
            Err(Error::Instantiate(InstantiationError::Platform(
                PlatformError::Exhausted(_)
            )))
        ) && free_pages().1 == pool_before
            && free_wide_slots() == wide_before,
        "a wide memory the pool cannot back is a typed error, nothing kept",
    );

    // Exhaust the wide slots.
    let mut placed = WIDE_SLOT_COUNT - free_wide_slots();
    let exhausted = loop {
        match linker.instantiate(&mut crowd, &module) {
            Ok(_) => placed += 1,
            Err(e) => break e,
        }
        if placed > WIDE_SLOT_COUNT {
            break Error::OutOfBounds;
        }
    };
    println!("after {placed} wide slots: {exhausted}");
    check(
        &mut failures,
        placed == WIDE_SLOT_COUNT
            && matches!(
                exhausted,
                Error::Instantiate(InstantiationError::Platform(PlatformError::Exhausted(_)))
            ),
        "a ninth wide slot is a typed error",
    );

    // Reuse after the stores are dropped.
    drop(crowd);
    drop(attacker_store);
    drop(victim_store);
    let (_, pool_end, _) = free_pages();
    check(
        &mut failures,
        pool_end == pool_pages_at_start && free_wide_slots() == WIDE_SLOT_COUNT,
        "every pool page and wide slot is back after the stores are dropped",
    );
    let mut again_store = Store::try_new(&engine, ())?;
    let again = linker.instantiate(&mut again_store, &module)?;
    let (again_base, zeroed) = inspect(&again, &again_store, None)?;
    check(
        &mut failures,
        again_base == victim_base && zeroed,
        "a reused wide slot starts zeroed",
    );
    let again_store_fn = again.get_typed_func::<(i32, i32), ()>(&again_store, "store")?;
    again_store_fn.call(&mut again_store, (8, 5))?;
    let five = again
        .get_typed_func::<i32, i32>(&again_store, "load")?
        .call(&mut again_store, 8)?;
    check(&mut failures, five == 5, "the reused slot works");
    expect_trap(
        &mut failures,
        "reused store(65536)",
        again_store_fn.call(&mut again_store, (65536, 1)),
        true,
    );
    drop(again_store);
    large_memories(&mut failures)?;
    Ok(failures)
}

/// The same module compiled with explicit checks (`wide.img`: memory of 1 page, maximum 4 GiB)
/// on `engine_config_large_memories()`: a wide slot that grows far past a small slot, to the
/// spec testsuite's largest memory, and refuses to grow past its reservation (the window).
fn large_memories(failures: &mut u32) -> Result<(), Error> {
    let (_, pool_at_start, _) = free_pages();
    let engine = Engine::new(&board::engine_config_large_memories());
    let module = Module::new(&engine, device_runtime::include_image!("wide.img").bytes())?;
    let linker = device_runtime::Linker::<()>::new(&engine);
    let mut store = Store::try_new(&engine, ())?;
    let instance = linker.instantiate(&mut store, &module)?;
    let (base, _) = inspect(&instance, &store, None)?;
    let grow = instance.get_typed_func::<i32, i32>(&store, "grow")?;
    let size = instance.get_typed_func::<(), i32>(&store, "size")?;
    let load = instance.get_typed_func::<i32, i32>(&store, "load")?;
    let store_fn = instance.get_typed_func::<(i32, i32), ()>(&store, "store")?;
    // 803 wasm pages (50 MiB): memory_grow.wast's largest memory.
    let grown = grow.call(&mut store, 802)?;
    let last = (803 * WASM_PAGE - 4) as i32;
    let was_zero = load.call(&mut store, last)? == 0;
    store_fn.call(&mut store, (last, 77))?;
    println!(
        "large-memory engine: memory at {base:#x}, memory.grow(802) = {grown}, {} pages",
        size.call(&mut store, ())?
    );
    check(
        failures,
        base >= WIDE_SLOTS_START
            && grown == 1
            && was_zero
            && load.call(&mut store, last)? == 77
            && mmu::translate(base + 803 * WASM_PAGE - 4)
                .is_some_and(|(physical, _)| MEMORY_POOL.contains(physical)),
        "explicit memory of engine_config_large_memories() in a wide slot grows to 803 pages (50 MiB), zeroed",
    );
    expect_trap(
        failures,
        "large store(803 pages)",
        store_fn.call(&mut store, ((803 * WASM_PAGE) as i32, 1)),
        false,
    );
    let (_, pool_before, _) = free_pages();
    let past_reservation = (LARGE_MEMORY_RESERVATION / WASM_PAGE) as i32 - 803 + 1;
    let refused = grow.call(&mut store, past_reservation)?;
    check(
        failures,
        refused == -1 && size.call(&mut store, ())? == 803 && free_pages().1 == pool_before,
        "memory.grow past LARGE_MEMORY_RESERVATION returns -1 and keeps nothing",
    );
    drop(store);
    check(
        failures,
        free_pages().1 == pool_at_start && free_wide_slots() == WIDE_SLOT_COUNT,
        "its 50 MiB of pool pages and its wide slot are back after the store is dropped",
    );
    Ok(())
}
