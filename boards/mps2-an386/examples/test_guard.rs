//! Guard test firmware (run by `run-tests.sh`): an attacker instance traps in every way it
//! can (out-of-bounds stores past the end and below the start of its memory, divide by zero,
//! stack exhaustion; the Thumb backend's checks end in `udf` trap sites, which the UsageFault
//! handler turns into typed traps); the firmware keeps running, and a victim instance's memory
//! is bit-identical before and after. Images for other profiles (cortex-m7, aarch64) are
//! refused with `WrongTarget`, and an image with one flipped text byte by its digest.
//!
//! Prints `guard test: passed` and exits 0, or exits 1 after naming the failed check.

#![no_std]
#![no_main]

use device_runtime::{Engine, Error, LoadError, Module, Store, Target, TrapCode};
use mps2_an386::{self as board, println};

board::entry!(main);

fn main() -> u32 {
    match run() {
        Ok(0) => {
            println!("guard test: passed");
            0
        }
        Ok(failures) => {
            println!("guard test: {failures} check(s) failed");
            1
        }
        Err(e) => {
            println!("guard test: error: {e}");
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

fn expect_trap(
    failures: &mut u32,
    what: &str,
    result: Result<impl core::fmt::Debug, Error>,
    code: TrapCode,
) {
    match result {
        Err(Error::Trap(trap)) => {
            println!("attacker {what}: {trap}");
            check(failures, trap.code == code, "typed trap as expected");
        }
        other => {
            println!("attacker {what}: {other:?}");
            check(failures, false, "expected a trap");
        }
    }
}

/// The AAPCS callee-saved FP registers across a call, the only unsafe code of this firmware.
mod fp_registers {
    /// Loads a pattern into s16-s31, calls `body` (through an AAPCS function, so `body` must
    /// preserve them, traps included), and returns a mask of the registers that changed (bit
    /// `i` = s(16 + i)).
    pub fn callee_saved_survive(body: &mut dyn FnMut()) -> u32 {
        extern "C" fn call(body: *mut &mut dyn FnMut()) {
            // SAFETY: `body` points at the caller's `&mut dyn FnMut()`, alive for the call.
            let body = unsafe { &mut *body };
            body();
        }
        let pattern: [u32; 16] = core::array::from_fn(|i| 0x4049_0fdb ^ (i as u32 * 0x0101_0101));
        let mut after = [0u32; 16];
        let mut body = body;
        let body_ptr: *mut &mut dyn FnMut() = &mut body;
        let function: extern "C" fn(*mut &mut dyn FnMut()) = call;
        // SAFETY: the block reads 16 words from `pattern` and writes 16 to `after` (both live
        // arrays; r4/r5 are preserved by the AAPCS call in between), calls an `extern "C"`
        // function with its argument in r0 (every register the call may change is declared
        // clobbered),
        // and declares s16-s31, which it overwrites, as clobbered so the compiler keeps nothing
        // of its own there.
        unsafe {
            core::arch::asm!(
                "vldmia r4, {{s16-s31}}",
                "blx r1",
                "vstmia r5, {{s16-s31}}",
                in("r4") pattern.as_ptr(),
                in("r5") after.as_mut_ptr(),
                inout("r0") body_ptr => _,
                inout("r1") function => _,
                // What an AAPCS call may change (`clobber_abi("C")` would name d16-d31, which
                // FPv4-SP does not have), then s16-s31, which the block itself overwrites.
                out("r2") _, out("r3") _, out("r12") _, out("lr") _,
                out("s0") _, out("s1") _, out("s2") _, out("s3") _,
                out("s4") _, out("s5") _, out("s6") _, out("s7") _,
                out("s8") _, out("s9") _, out("s10") _, out("s11") _,
                out("s12") _, out("s13") _, out("s14") _, out("s15") _,
                out("s16") _, out("s17") _, out("s18") _, out("s19") _,
                out("s20") _, out("s21") _, out("s22") _, out("s23") _,
                out("s24") _, out("s25") _, out("s26") _, out("s27") _,
                out("s28") _, out("s29") _, out("s30") _, out("s31") _,
            );
        }
        (0..16).fold(0, |mask, i| mask | (u32::from(pattern[i] != after[i]) << i))
    }
}

fn run() -> Result<u32, Error> {
    let mut failures = 0;
    let engine = Engine::new(&board::engine_config());
    let image = device_runtime::include_image!("guard.img").bytes();
    let module = Module::new(&engine, image)?;
    let linker = device_runtime::Linker::<()>::new(&engine);

    let mut victim_store = Store::try_new(&engine, ())?;
    let victim = linker.instantiate(&mut victim_store, &module)?;
    victim
        .get_typed_func::<i32, ()>(&victim_store, "fill")?
        .call(&mut victim_store, 0x1234)?;
    let memory = victim
        .get_memory(&victim_store, "memory")
        .ok_or(Error::MissingExport)?;
    let before: [u8; 65536] = memory
        .data(&victim_store)
        .try_into()
        .map_err(|_| Error::OutOfBounds)?;
    let base = memory.data(&victim_store).as_ptr() as usize;
    println!("victim memory at {base:#x}, 64 KiB");
    check(
        &mut failures,
        board::BOARD.in_live_guard(base - 1) && board::BOARD.in_live_guard(base - 4096),
        "front guard below the victim's memory is live",
    );
    check(
        &mut failures,
        !board::BOARD.in_live_guard(base),
        "the memory itself is not a guard",
    );

    let mut attacker_store = Store::try_new(&engine, ())?;
    let attacker = linker.instantiate(&mut attacker_store, &module)?;
    let store = attacker.get_typed_func::<(i32, i32), ()>(&attacker_store, "store")?;
    let div = attacker.get_typed_func::<(i32, i32), i32>(&attacker_store, "div")?;
    let recurse = attacker.get_typed_func::<i32, i32>(&attacker_store, "recurse")?;
    let faults_before = board::faults_turned_into_traps();
    for (what, address) in [
        ("store(65536)", 65536),
        ("store(65533)", 65533),
        ("store(-4)", -4),
        ("store(0x7fff_fffc)", 0x7fff_fffc),
    ] {
        expect_trap(
            &mut failures,
            what,
            store.call(&mut attacker_store, (address, -1)),
            TrapCode::MemoryOutOfBounds,
        );
    }
    expect_trap(
        &mut failures,
        "div(1, 0)",
        div.call(&mut attacker_store, (1, 0)),
        TrapCode::IntegerDivisionByZero,
    );
    expect_trap(
        &mut failures,
        "div(i32::MIN, -1)",
        div.call(&mut attacker_store, (i32::MIN, -1)),
        TrapCode::IntegerOverflow,
    );
    expect_trap(
        &mut failures,
        "recurse(0)",
        recurse.call(&mut attacker_store, 0),
        TrapCode::StackOverflow,
    );
    let faults = board::faults_turned_into_traps() - faults_before;
    println!("faults turned into traps: {faults}");
    check(
        &mut failures,
        faults == 7,
        "every trap went through the UsageFault handler (a udf trap site each)",
    );

    // A trap taken with FP state active: the core stacks the extended frame (lazily), the
    // handler rewrites its first eight words only, and the unwind restores s16-s31.
    let fp_trap = attacker.get_typed_func::<f32, f32>(&attacker_store, "fp_trap")?;
    let mut fp_result = None;
    let changed = fp_registers::callee_saved_survive(&mut || {
        fp_result = Some(fp_trap.call(&mut attacker_store, 2.0));
    });
    match fp_result {
        Some(result) => expect_trap(&mut failures, "fp_trap(2.0)", result, TrapCode::Unreachable),
        None => check(&mut failures, false, "fp_trap was called"),
    }
    let exc_return = board::last_trap_exc_return();
    println!(
        "fp_trap: EXC_RETURN={:#010x}, s16-s31 changed: {changed:#06x}",
        exc_return.0
    );
    check(
        &mut failures,
        exc_return.extended_frame(),
        "the trap was taken with the extended (FP) exception frame",
    );
    check(
        &mut failures,
        changed == 0,
        "s16-s31 intact across the trap (AAPCS callee-saved FP registers)",
    );

    // The attacker still works after its traps.
    store.call(&mut attacker_store, (0, 7))?;
    let seven = attacker
        .get_typed_func::<i32, i32>(&attacker_store, "load")?
        .call(&mut attacker_store, 0)?;
    check(
        &mut failures,
        seven == 7,
        "attacker instance still runs after its traps",
    );

    let after = memory.data(&victim_store);
    check(
        &mut failures,
        after == &before[..],
        "victim memory bit-identical before and after",
    );
    let first = victim
        .get_typed_func::<i32, i32>(&victim_store, "load")?
        .call(&mut victim_store, 0)?;
    check(
        &mut failures,
        first == i32::from_le_bytes([before[0], before[1], before[2], before[3]]),
        "victim instance still runs",
    );

    // Images this board must refuse, with a typed error and nothing loaded.
    let (code_free, _, _) = board::free_blocks();
    for (name, image, target) in [
        (
            "cortex-m7 image",
            device_runtime::include_image!("guard_cortex_m7.img").bytes(),
            Target::CortexM7,
        ),
        (
            "aarch64 image",
            device_runtime::include_image!("guard_aarch64.img").bytes(),
            Target::Aarch64,
        ),
    ] {
        match Module::new(&engine, image) {
            Err(e @ LoadError::WrongTarget { image, runtime }) => {
                println!("{name}: {e}");
                check(
                    &mut failures,
                    image == target && runtime == Some(board::CORE),
                    "refused with WrongTarget",
                );
            }
            Err(e) => {
                println!("{name}: {e}");
                check(&mut failures, false, "refused with WrongTarget");
            }
            Ok(_) => check(&mut failures, false, "refused with WrongTarget"),
        }
    }
    match Module::new(
        &engine,
        device_runtime::include_image!("guard_corrupt.img").bytes(),
    ) {
        Err(e @ LoadError::Header(_)) => {
            println!("corrupt image: {e}");
            check(&mut failures, true, "corrupt image refused by its digest");
        }
        Err(e) => {
            println!("corrupt image: {e}");
            check(&mut failures, false, "corrupt image refused by its digest");
        }
        Ok(_) => check(&mut failures, false, "corrupt image refused by its digest"),
    }
    check(
        &mut failures,
        board::free_blocks().0 == code_free,
        "refused images took no code memory",
    );
    Ok(failures)
}
