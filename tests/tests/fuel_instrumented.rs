//! Fuel and epochs against the runtime on every executor: the instrumentation of the backend
//! under test (Cranelift for x86_64 and aarch64, `host-compiler/src/cranelift/translate/fuel.rs`;
//! the single-pass Thumb-2 backend under `qemu-arm`, `host-compiler/src/thumb/DESIGN.md`
//! section 13) with the runtime's `OutOfFuel` / `EpochDeadline` libcalls: exact consumption,
//! refills, deadlines, and spec modules behaving the same with and without instrumentation.
//!
//! `cargo test -p tests --test fuel_instrumented` (x86_64), `... --target
//! aarch64-unknown-linux-gnu` (qemu-aarch64), `TESTS_CORTEX_M=cortex-m4f ... --target
//! armv7-unknown-linux-gnueabihf` (the profile defaults to cortex-m7).

use device_runtime::{Engine, Linker, Module, Store, Val};
use host_compiler::{Compiler, CompilerConfig};
use shared_types::TrapCode;
use tests::device::Device;
use tests::harness::run_wast_file;

/// Compiles `wat` for the profile under test with fuel and epochs as asked.
fn image(wat: &str, fuel: bool, epochs: bool) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("wat");
    let config = CompilerConfig::for_target(tests::native_target())
        .fuel(fuel)
        .epochs(epochs);
    Compiler::new(config)
        .expect("fuel and epochs are accepted for every target")
        .compile(&wasm)
        .expect("compiles")
        .bytes
}

/// What one call did: its results or its trap, and the fuel left.
#[derive(Debug, PartialEq)]
struct Run {
    results: Result<Vec<i32>, TrapCode>,
    fuel_left: u64,
    /// `Store::fuel_debt` after the call.
    fuel_debt: u64,
}

/// Instantiates `image` in a fresh store with `fuel` and, when given, an epoch deadline
/// `deadline` ticks ahead, and calls export `name`.
fn call(image: &[u8], name: &str, args: &[i32], fuel: u64, deadline: Option<u64>) -> Run {
    let engine = Engine::default();
    let module = Module::new(&engine, image).expect("loads");
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiates");
    store.set_fuel(fuel).unwrap();
    if let Some(ticks) = deadline {
        store.set_epoch_deadline(ticks).unwrap();
    }
    let f = instance.get_func(&store, name).expect("export");
    let params: Vec<Val> = args.iter().map(|&a| Val::I32(a)).collect();
    let mut results = vec![Val::I32(0); f.ty(&store).results().len()];
    let results = match f.call(&mut store, &params, &mut results) {
        Ok(()) => Ok(results
            .iter()
            .map(|v| match v {
                Val::I32(x) => *x,
                other => panic!("unexpected result {other:?}"),
            })
            .collect()),
        Err(e) => Err(e.trap_code().unwrap_or_else(|| panic!("not a trap: {e}"))),
    };
    Run {
        results,
        fuel_left: store.get_fuel().unwrap(),
        fuel_debt: store.fuel_debt().unwrap(),
    }
}

/// `sum(n)`: 9 fuel per iteration (the loop header's block, checked), 1 after the loop (not
/// checked); `spin`: a loop
/// that never ends, 1 fuel per iteration; `nested` calls `sum` twice (calls end no block: the
/// callee pays for its own).
const KERNELS: &str = r#"(module
  (func $sum (export "sum") (param $n i32) (result i32) (local $s i32)
    loop
      local.get $s local.get $n i32.add local.set $s
      local.get $n i32.const 1 i32.sub local.tee $n
      br_if 0
    end
    local.get $s)
  (func (export "spin")
    loop br 0 end)
  (func (export "nested") (param i32) (result i32)
    local.get 0 call $sum
    local.get 0 call $sum
    i32.add))"#;

#[test]
fn fuel_is_consumed_exactly_and_traps_at_the_first_check_it_cannot_pay() {
    let image = image(KERNELS, true, false);
    let n = 100;
    let exact = 9 * n as u64 + 1;
    // Enough: exactly the cost is consumed.
    let run = call(&image, "sum", &[n], 10_000, None);
    assert_eq!(run.results, Ok(vec![5050]));
    assert_eq!(run.fuel_left, 10_000 - exact);
    let run = call(&image, "sum", &[n], exact, None);
    assert_eq!((run.results, run.fuel_left), (Ok(vec![5050]), 0));
    // One short: the last block (cost 1) is not a check point: it runs, and the call returns
    // in debt.
    let run = call(&image, "sum", &[n], exact - 1, None);
    assert_eq!(
        (run.results, run.fuel_left, run.fuel_debt),
        (Ok(vec![5050]), 0, 1)
    );
    // Ten short: the last iteration's block (9, a loop header) cannot be paid after the
    // others ran; the budget is left as it was before it.
    let run = call(&image, "sum", &[n], exact - 10, None);
    assert_eq!(
        (run.results, run.fuel_left, run.fuel_debt),
        (Err(TrapCode::OutOfFuel), 0, 0)
    );
    let run = call(&image, "sum", &[n], exact - 14, None);
    assert_eq!(
        (run.results, run.fuel_left, run.fuel_debt),
        (Err(TrapCode::OutOfFuel), 5, 0)
    );
    // Calls: the caller's entry block (`local.get`, `call`, `local.get`, `call`, `i32.add`: 5)
    // and both callees.
    let run = call(&image, "nested", &[n], 10_000, None);
    assert_eq!(run.results, Ok(vec![10_100]));
    assert_eq!(run.fuel_left, 10_000 - 5 - 2 * exact);
    // An infinite loop stops within its budget.
    let run = call(&image, "spin", &[], 1_000, None);
    assert_eq!((run.results, run.fuel_left), (Err(TrapCode::OutOfFuel), 0));
}

/// `burn(k)`: `k` iterations of a block costing 1005 (1000 `i32.const; drop` pairs compile to
/// nothing but cost 1 each), so a call consumes more than the 2^31 - 1 fuel a slice holds in a
/// few million guest instructions.
fn burn_wat() -> String {
    let mut body = String::new();
    for _ in 0..1000 {
        body.push_str("i32.const 0 drop ");
    }
    format!(
        r#"(module (func (export "burn") (param $k i32)
             loop {body}
               local.get $k i32.const 1 i32.sub local.tee $k
               br_if 0
             end))"#
    )
}

#[test]
fn fuel_refills_the_slice_from_the_reserve() {
    let image = image(&burn_wat(), true, false);
    let k = 2_200_000;
    let consumed = 1005 * k as u64;
    assert!(consumed > i32::MAX as u64);
    // The slice runs out mid-call and OutOfFuel refills it from the reserve: the call goes on
    // and exactly its cost is taken from the whole budget.
    let budget = 3 * i32::MAX as u64;
    let run = call(&image, "burn", &[k], budget, None);
    assert_eq!(
        (run.results, run.fuel_left),
        (Ok(vec![]), budget - consumed)
    );
    // A budget above the slice but short of the call: the refill happens, then the block
    // the rest cannot pay traps with the budget left as it was before that block.
    let short = consumed - 1;
    let run = call(&image, "burn", &[k], short, None);
    assert_eq!(run.results, Err(TrapCode::OutOfFuel));
    assert_eq!(run.fuel_left, 1005 - 1);
}

#[test]
fn epoch_deadlines_interrupt_at_entry_and_loop_headers() {
    let image = image(KERNELS, false, true);
    // A deadline already reached: the entry check calls EpochDeadline, which traps.
    let run = call(&image, "sum", &[10], 0, Some(0));
    assert_eq!(run.results, Err(TrapCode::Interrupted));
    // A far deadline: the kernel runs (fuel is not metered in this image).
    let run = call(&image, "sum", &[10], 0, Some(1_000));
    assert_eq!(run.results, Ok(vec![55]));
    // No deadline at all.
    let run = call(&image, "sum", &[10], 0, None);
    assert_eq!(run.results, Ok(vec![55]));
    // The infinite loop with a deadline reached only by an increment: the runtime's epoch
    // cannot advance during a call on this hosted test, so it is reached before the call.
    let engine = Engine::default();
    let module = Module::new(&engine, &image).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Linker::<()>::new(&engine)
        .instantiate(&mut store, &module)
        .unwrap();
    store.set_epoch_deadline(2).unwrap();
    let sum = instance
        .get_typed_func::<i32, i32>(&store, "sum")
        .expect("sum");
    assert_eq!(sum.call(&mut store, 10).unwrap(), 55);
    store.increment_epoch().unwrap();
    assert_eq!(sum.call(&mut store, 10).unwrap(), 55);
    store.increment_epoch().unwrap();
    let e = sum.call(&mut store, 10).unwrap_err();
    assert_eq!(e.trap_code(), Some(TrapCode::Interrupted));
    let spin = instance.get_typed_func::<(), ()>(&store, "spin").unwrap();
    let e = spin.call(&mut store, ()).unwrap_err();
    assert_eq!(e.trap_code(), Some(TrapCode::Interrupted));
}

/// The spec harness's device backend compiling with fuel and epochs as asked.
fn configured(fuel: bool, epochs: bool) -> Device {
    Device::with_config(
        CompilerConfig::for_target(tests::native_target())
            .fuel(fuel)
            .epochs(epochs),
    )
}

/// Spec files whose modules exercise control flow, calls, locals and memory: with fuel and
/// epochs on (a store's default budget of u64::MAX, no deadline) every case must end exactly
/// as without them. `FUEL_SPEC=all` compares every spec file instead.
const SPEC_SELECTION: &[&str] = &[
    "block",
    "br",
    "br_if",
    "br_table",
    "call",
    "call_indirect",
    "fac",
    "forward",
    "func",
    "i32",
    "i64",
    "if",
    "labels",
    "left-to-right",
    "local_get",
    "local_set",
    "local_tee",
    "loop",
    "memory",
    "memory_grow",
    "nop",
    "return",
    "select",
    "stack",
    "switch",
    "unreachable",
    "unwind",
    "f32",
    "f64",
    "conversions",
    "address",
    "load",
    "store",
    "global",
    "bulk",
    "memory_fill",
    "memory_copy",
    "table_get",
    "table_set",
    "ref_func",
];

#[test]
fn spec_modules_behave_the_same_with_fuel_and_epochs() {
    let files = tests::spec_runner::spec_files();
    // `FUEL_SPEC=all`: every spec file (SIMD excluded, as the spec runner does).
    let all = std::env::var("FUEL_SPEC").is_ok_and(|v| v == "all");
    let selection: Vec<(&String, &str)> = if all {
        files
            .iter()
            .filter(|(f, _)| !f.starts_with("simd_"))
            .map(|(f, c)| (f, *c))
            .collect()
    } else {
        SPEC_SELECTION
            .iter()
            .map(|&name| {
                files
                    .iter()
                    .find(|(f, _)| f.trim_end_matches(".wast") == name)
                    .map(|(f, c)| (f, *c))
                    .unwrap_or_else(|| panic!("no spec file {name}"))
            })
            .collect()
    };
    let mut compared = 0;
    let mut cases = 0;
    let mut failed = 0;
    for (file, contents) in selection.iter().copied() {
        let plain = run_wast_file(file, contents, configured(false, false));
        let metered = run_wast_file(file, contents, configured(true, true));
        assert!(plain.total() > 0, "{file}: no case ran");
        assert_eq!(
            (plain.passed, &plain.failed),
            (metered.passed, &metered.failed),
            "{file}: fuel and epochs changed the outcome"
        );
        compared += 1;
        cases += plain.total();
        failed += plain.failed.len();
    }
    assert_eq!(compared, selection.len());
    eprintln!(
        "{compared} spec files, {cases} cases each way ({failed} failing both ways), identical"
    );
}
