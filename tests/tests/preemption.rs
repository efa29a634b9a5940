//! Preemption: resumable calls on fibers (host-requested yields, traps, cancellation, the fiber
//! pool), the engine-wide epoch counter, and (for targets whose compiler instruments them)
//! fuel and epoch limits that trap or yield.
//!
//! Runs on every executor of the `tests` crate: x86_64, aarch64 under qemu-aarch64, and 32-bit
//! Arm under qemu-arm (Thumb-2 images for `TESTS_CORTEX_M`, default cortex-m7).

use device_runtime::{
    CallOutcome, Caller, Engine, EngineConfig, EpochCounter, Error, FiberPool, Func, HostError,
    Instance, LimitPolicy, Linker, Module, ResumeError, Store, TrapCode, TypedOutcome, Val,
    YieldReason,
};
use host_compiler::{Compiler, CompilerConfig};

/// What the host functions record.
#[derive(Default, Debug)]
struct Log {
    yields: u32,
    yield_errors: Vec<ResumeError>,
}

const TASKS: &str = r#"
(module
  (import "host" "yield" (func $yield))
  (import "host" "nested" (func $nested))
  (func $count (export "count") (param $n i32) (result i32 f64)
    (local $i i32) (local $acc i32) (local $f f64)
    (loop $l
      (local.set $acc (i32.add (local.get $acc) (i32.mul (local.get $i) (i32.const 3))))
      (local.set $f (f64.add (f64.mul (local.get $f) (f64.const 1.5)) (f64.convert_i32_u (local.get $i))))
      (call $yield)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $acc) (local.get $f))
  (func (export "fcount") (param $n i32) (result f32)
    (local $i i32) (local $g f32) (local $h f32)
    (loop $l
      (local.set $g (f32.add (f32.mul (local.get $g) (f32.const 1.25)) (f32.convert_i32_u (local.get $i))))
      (local.set $h (f32.sub (local.get $h) (local.get $g)))
      (call $yield)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (f32.add (local.get $g) (f32.mul (local.get $h) (f32.const 0.5))))
  (func (export "trap_after_yield") (param $d i32) (result i32)
    (call $yield)
    (i32.div_u (i32.const 7) (local.get $d)))
  (func (export "unreachable_after_yield")
    (call $yield)
    unreachable)
  (func $deep (export "deep") (param $n i32) (result i32)
    (if (result i32) (i32.eqz (local.get $n))
      (then (call $yield) (i32.const 0))
      (else (i32.add (i32.const 1) (call $deep (i32.sub (local.get $n) (i32.const 1)))))))
  (func $forever (export "recurse_forever") (param $n i32) (result i32)
    (i32.add (i32.const 1) (call $forever (local.get $n))))
  (func (export "yield_then_recurse") (result i32)
    (call $yield)
    (call $forever (i32.const 0)))
  (func (export "nested_outer") (call $nested))
  (func (export "plain") (result i32) (i32.const 7))
)
"#;

/// `count(n)` computed in Rust: `(sum of 3i, f_n)` with `f <- f * 1.5 + i` for i in 0..n.
fn count_expected(n: u32) -> (i32, f64) {
    let mut acc = 0i32;
    let mut f = 0f64;
    for i in 0..n {
        acc = acc.wrapping_add((i * 3) as i32);
        f = f * 1.5 + f64::from(i);
    }
    (acc, f)
}

/// `fcount(n)` computed in Rust, in f32 like the wasm code.
fn fcount_expected(n: u32) -> f32 {
    let (mut g, mut h) = (0f32, 0f32);
    for i in 0..n {
        g = g * 1.25 + i as f32;
        h -= g;
    }
    g + h * 0.5
}

fn compile(wat: &str, config: CompilerConfig) -> Result<Vec<u8>, host_compiler::CompileError> {
    let wasm = host_compiler::wat_or_wasm(wat.as_bytes()).expect("wat");
    Ok(Compiler::new(config)?.compile(&wasm)?.bytes)
}

fn native() -> CompilerConfig {
    CompilerConfig::for_target(tests::native_target())
}

/// An engine with its own fiber pool and epoch counter, so tests running in parallel do not
/// share either.
fn engine(stacks: usize) -> Engine {
    let mut config = EngineConfig::default();
    config.fiber_pool = Box::leak(Box::new(FiberPool::new(stacks, 256 << 10)));
    config.epoch_counter = Some(Box::leak(Box::new(EpochCounter::new())));
    Engine::new(&config)
}

fn host_yield(mut caller: Caller<'_, '_, Log>) -> Result<(), HostError> {
    caller.data_mut().yields += 1;
    match caller.yield_now() {
        Ok(()) => Ok(()),
        Err(Error::Resume(ResumeError::Cancelled)) => {
            caller.data_mut().yield_errors.push(ResumeError::Cancelled);
            Err(HostError::new("cancelled"))
        }
        Err(Error::Resume(e)) => {
            // Not resumable here: carry on without yielding.
            caller.data_mut().yield_errors.push(e);
            Ok(())
        }
        Err(_) => Err(HostError::new("unexpected yield error")),
    }
}

fn host_nested(mut caller: Caller<'_, '_, Log>) -> Result<(), HostError> {
    let Some(device_runtime::Extern::Func(count)) = caller.get_export("count") else {
        return Err(HostError::new("no count export"));
    };
    let mut results = [Val::I32(0), Val::F64(0)];
    count
        .call(caller.as_store_mut(), &[Val::I32(2)], &mut results)
        .map_err(|_| HostError::new("nested call failed"))?;
    if results[0] != Val::I32(3) {
        return Err(HostError::new("nested call computed the wrong result"));
    }
    Ok(())
}

struct Task<'m> {
    store: Store<'m, Log>,
    instance: Instance,
}

impl<'m> Task<'m> {
    fn new(engine: &Engine, module: &'m Module) -> Task<'m> {
        let mut store = Store::new(engine, Log::default());
        let mut linker = Linker::<Log>::new(engine);
        linker
            .func_wrap("host", "yield", host_yield)
            .expect("yield");
        linker
            .func_wrap("host", "nested", host_nested)
            .expect("nested");
        let instance = linker.instantiate(&mut store, module).expect("instantiate");
        Task { store, instance }
    }

    fn func(&mut self, name: &str) -> Func {
        self.instance
            .get_func(&self.store, name)
            .unwrap_or_else(|| panic!("export {name}"))
    }
}

/// Loads an image, leaked so the module may be `'static`.
fn load(engine: &Engine, image: Vec<u8>) -> Module<'static> {
    let image: &'static [u8] = Box::leak(image.into_boxed_slice());
    Module::new(engine, image).expect("load")
}

fn tasks_module(engine: &Engine) -> Module<'static> {
    load(engine, compile(TASKS, native()).expect("compile"))
}

#[test]
fn host_yields_interleave_two_stores_and_preserve_state() {
    let engine = engine(2);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let mut b = Task::new(&engine, &module);
    let (count_a, count_b) = (a.func("count"), b.func("count"));
    let mut ra = [Val::I32(0), Val::F64(0)];
    let mut rb = [Val::I32(0), Val::F64(0)];
    let mut oa = count_a
        .call_resumable(&mut a.store, &[Val::I32(6)], &mut ra)
        .expect("start a");
    let mut ob = count_b
        .call_resumable(&mut b.store, &[Val::I32(9)], &mut rb)
        .expect("start b");
    assert_eq!(engine.config().fiber_pool.in_use(), 2);
    let mut rounds = 0;
    while oa != CallOutcome::Finished || ob != CallOutcome::Finished {
        rounds += 1;
        assert!(rounds < 20, "too many rounds");
        if let CallOutcome::Suspended { call, reason } = oa {
            assert_eq!(reason, YieldReason::Host);
            // Another call in another store between the suspension and the resume.
            let plain = b.func("plain");
            if ob == CallOutcome::Finished {
                let mut r = [Val::I32(0)];
                plain.call(&mut b.store, &[], &mut r).expect("plain");
                assert_eq!(r[0], Val::I32(7));
            }
            oa = a.store.resume(call, &mut ra).expect("resume a");
        }
        if let CallOutcome::Suspended { call, reason } = ob {
            assert_eq!(reason, YieldReason::Host);
            ob = b.store.resume(call, &mut rb).expect("resume b");
        }
    }
    let (acc, f) = count_expected(6);
    assert_eq!(ra, [Val::I32(acc), Val::F64(f.to_bits())]);
    let (acc, f) = count_expected(9);
    assert_eq!(rb, [Val::I32(acc), Val::F64(f.to_bits())]);
    assert_eq!(a.store.data().yields, 6);
    assert_eq!(b.store.data().yields, 9);
    assert!(a.store.data().yield_errors.is_empty());
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

#[test]
fn f32_values_survive_interleaved_suspensions() {
    // The Thumb-2 code keeps f32 locals and values in s16-s29 across calls, so the other
    // store's call, which uses the same registers, runs while each one is suspended: the fiber
    // switch must carry them.
    let engine = engine(2);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let mut b = Task::new(&engine, &module);
    let (fcount_a, fcount_b) = (a.func("fcount"), b.func("fcount"));
    let (mut ra, mut rb) = ([Val::F32(0)], [Val::F32(0)]);
    let mut oa = fcount_a
        .call_resumable(&mut a.store, &[Val::I32(7)], &mut ra)
        .expect("start a");
    let mut ob = fcount_b
        .call_resumable(&mut b.store, &[Val::I32(11)], &mut rb)
        .expect("start b");
    let mut rounds = 0;
    while oa != CallOutcome::Finished || ob != CallOutcome::Finished {
        rounds += 1;
        assert!(rounds < 20, "too many rounds");
        if let CallOutcome::Suspended { call, .. } = oa {
            oa = a.store.resume(call, &mut ra).expect("resume a");
        }
        if let CallOutcome::Suspended { call, .. } = ob {
            ob = b.store.resume(call, &mut rb).expect("resume b");
        }
    }
    assert_eq!(ra, [Val::F32(fcount_expected(7).to_bits())]);
    assert_eq!(rb, [Val::F32(fcount_expected(11).to_bits())]);
    assert_eq!((a.store.data().yields, b.store.data().yields), (7, 11));
}

#[test]
fn typed_resumable_calls_yield_resume_and_refuse_another_functions_call() {
    let engine = engine(2);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let count = a
        .func("count")
        .typed::<i32, (i32, f64)>(&a.store)
        .expect("count is (i32) -> (i32, f64)");
    let deep = a
        .func("deep")
        .typed::<i32, i32>(&a.store)
        .expect("deep is (i32) -> i32");
    let mut outcome = count.call_resumable(&mut a.store, 5).expect("start");
    let mut rounds = 0;
    let results = loop {
        match outcome {
            TypedOutcome::Finished(results) => break results,
            TypedOutcome::Suspended { call, reason } => {
                assert_eq!(reason, YieldReason::Host);
                rounds += 1;
                assert!(rounds <= 5, "more suspensions than host calls");
                // A typed handle of another function must not resume this call (its results
                // have other types), and the call stays suspended.
                assert!(matches!(
                    deep.resume(&mut a.store, call),
                    Err(Error::TypeMismatch)
                ));
                assert_eq!(a.store.suspended_call(), Some(call));
                outcome = count.resume(&mut a.store, call).expect("resume");
            }
        }
    };
    let (acc, f) = count_expected(5);
    assert_eq!(results, (acc, f));
    assert_eq!(rounds, 5);
    assert_eq!(a.store.data().yields, 5);
    // Finished: the handle is spent.
    assert!(a.store.suspended_call().is_none());
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
    // A call that never yields finishes at once.
    let plain = a.func("plain").typed::<(), i32>(&a.store).expect("plain");
    assert_eq!(
        plain.call_resumable(&mut a.store, ()).expect("plain"),
        TypedOutcome::Finished(7)
    );
}

#[test]
fn a_store_moved_while_suspended_resumes_through_its_new_place() {
    let engine = engine(1);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let count = a.func("count");
    let mut r = [Val::I32(0), Val::F64(0)];
    let mut outcome = count
        .call_resumable(&mut a.store, &[Val::I32(4)], &mut r)
        .expect("start");
    // Move the store between two places before every resume: the host function suspended in
    // `yield_now` must see the store where it is now.
    let mut places: [Option<Task<'_>>; 2] = [Some(a), None];
    let mut at = 0;
    while let CallOutcome::Suspended { call, .. } = outcome {
        let task = places[at].take().expect("task");
        at = 1 - at;
        let task = places[at].insert(task);
        outcome = task.store.resume(call, &mut r).expect("resume");
    }
    let task = places[at].as_ref().expect("task");
    let (acc, f) = count_expected(4);
    assert_eq!(r, [Val::I32(acc), Val::F64(f.to_bits())]);
    assert_eq!(task.store.data().yields, 4);
}

#[test]
fn yield_outside_a_resumable_call_is_an_error_and_the_call_goes_on() {
    let engine = engine(1);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let count = a.func("count");
    let mut r = [Val::I32(0), Val::F64(0)];
    count
        .call(&mut a.store, &[Val::I32(3)], &mut r)
        .expect("plain call");
    assert_eq!(r[0], Val::I32(count_expected(3).0));
    assert_eq!(
        a.store.data().yield_errors,
        vec![ResumeError::NotResumable; 3]
    );
}

#[test]
fn traps_inside_a_fiber_finish_the_call_and_release_the_stack() {
    let engine = engine(1);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    // A trap the code generator lists (division by zero: a fault on x86_64, a checked trap
    // elsewhere), after a yield.
    let f = a.func("trap_after_yield");
    let mut r = [Val::I32(0)];
    let CallOutcome::Suspended { call, .. } = f
        .call_resumable(&mut a.store, &[Val::I32(0)], &mut r)
        .expect("start")
    else {
        panic!("expected a yield");
    };
    let err = a.store.resume(call, &mut r).expect_err("traps");
    assert_eq!(err.trap_code(), Some(TrapCode::IntegerDivisionByZero));
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
    // The same function completes when it does not trap.
    let CallOutcome::Suspended { call, .. } = f
        .call_resumable(&mut a.store, &[Val::I32(2)], &mut r)
        .expect("start")
    else {
        panic!("expected a yield");
    };
    assert_eq!(a.store.resume(call, &mut r), Ok(CallOutcome::Finished));
    assert_eq!(r[0], Val::I32(3));
    // `unreachable` (the Trap libcall) after a yield.
    let f = a.func("unreachable_after_yield");
    let CallOutcome::Suspended { call, .. } =
        f.call_resumable(&mut a.store, &[], &mut []).expect("start")
    else {
        panic!("expected a yield");
    };
    let err = a.store.resume(call, &mut []).expect_err("traps");
    assert_eq!(err.trap_code(), Some(TrapCode::Unreachable));
    // The store is usable afterwards.
    let plain = a.func("plain");
    let mut r = [Val::I32(0)];
    plain.call(&mut a.store, &[], &mut r).expect("plain");
    assert_eq!(r[0], Val::I32(7));
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

#[test]
fn deep_recursion_on_a_fiber_yields_and_overflow_traps_at_the_fiber_limit() {
    let engine = engine(1);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let deep = a.func("deep");
    let mut r = [Val::I32(0)];
    let CallOutcome::Suspended { call, .. } = deep
        .call_resumable(&mut a.store, &[Val::I32(500)], &mut r)
        .expect("start")
    else {
        panic!("expected a yield at the bottom");
    };
    assert_eq!(a.store.resume(call, &mut r), Ok(CallOutcome::Finished));
    assert_eq!(r[0], Val::I32(500));
    // Unbounded recursion stops at the fiber's stack limit with a trap, not a crash.
    let f = a.func("yield_then_recurse");
    let CallOutcome::Suspended { call, .. } =
        f.call_resumable(&mut a.store, &[], &mut r).expect("start")
    else {
        panic!("expected a yield");
    };
    let err = a.store.resume(call, &mut r).expect_err("overflows");
    assert_eq!(err.trap_code(), Some(TrapCode::StackOverflow));
    // Straight away, without a yield first.
    let f = a.func("recurse_forever");
    let err = f
        .call_resumable(&mut a.store, &[Val::I32(0)], &mut r)
        .expect_err("overflows");
    assert_eq!(err.trap_code(), Some(TrapCode::StackOverflow));
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

#[test]
fn cancel_and_drop_release_fibers_and_the_pool_never_leaks() {
    const STACKS: usize = 3;
    let engine = engine(STACKS);
    let module = tasks_module(&engine);
    for round in 0..4 {
        let mut tasks: Vec<Task<'_>> = (0..STACKS).map(|_| Task::new(&engine, &module)).collect();
        let mut handles = Vec::new();
        for t in tasks.iter_mut() {
            let count = t.func("count");
            let mut r = [Val::I32(0), Val::F64(0)];
            match count
                .call_resumable(&mut t.store, &[Val::I32(100)], &mut r)
                .expect("start")
            {
                CallOutcome::Suspended { call, .. } => handles.push(call),
                CallOutcome::Finished => panic!("expected a yield"),
            }
        }
        assert_eq!(engine.config().fiber_pool.in_use(), STACKS);
        // The whole pool is out: one more resumable call is refused with a typed error, and
        // does not disturb the others.
        let mut extra = Task::new(&engine, &module);
        let count = extra.func("count");
        let mut r = [Val::I32(0), Val::F64(0)];
        assert_eq!(
            count.call_resumable(&mut extra.store, &[Val::I32(1)], &mut r),
            Err(Error::Platform(
                device_runtime::platform::PlatformError::Exhausted("fiber stacks")
            ))
        );
        // Release them three ways: cancel, drop the store, resume to the end.
        let mut t0 = tasks.remove(0);
        t0.store.cancel(handles[0]).expect("cancel");
        assert_eq!(
            t0.store.data().yield_errors,
            vec![ResumeError::Cancelled],
            "round {round}: the host function saw the cancellation"
        );
        assert_eq!(t0.store.data().yields, 1, "no wasm ran after the cancel");
        // The store stays usable, and the cancelled call cannot be resumed or cancelled again.
        let plain = t0.func("plain");
        let mut one = [Val::I32(0)];
        plain.call(&mut t0.store, &[], &mut one).expect("plain");
        assert_eq!(one[0], Val::I32(7));
        assert_eq!(
            t0.store.resume(handles[0], &mut r),
            Err(Error::Resume(ResumeError::NotSuspended))
        );
        assert_eq!(
            t0.store.cancel(handles[0]),
            Err(Error::Resume(ResumeError::NotSuspended))
        );
        let t1 = tasks.remove(0);
        drop(t1);
        let mut t2 = tasks.remove(0);
        let mut outcome = CallOutcome::Suspended {
            call: handles[2],
            reason: YieldReason::Host,
        };
        while let CallOutcome::Suspended { call, .. } = outcome {
            outcome = t2.store.resume(call, &mut r).expect("resume");
        }
        assert_eq!(r[0], Val::I32(count_expected(100).0));
        assert_eq!(
            t2.store.resume(handles[2], &mut r),
            Err(Error::Resume(ResumeError::NotSuspended)),
            "resuming a finished call"
        );
        assert_eq!(engine.config().fiber_pool.in_use(), 0, "round {round}");
    }
}

#[test]
fn a_suspended_call_blocks_other_calls_of_its_store_but_not_fuel_or_deadline() {
    let engine = engine(2);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    let mut b = Task::new(&engine, &module);
    let count = a.func("count");
    let plain = a.func("plain");
    let mut r = [Val::I32(0), Val::F64(0)];
    let CallOutcome::Suspended { call, .. } = count
        .call_resumable(&mut a.store, &[Val::I32(2)], &mut r)
        .expect("start")
    else {
        panic!("expected a yield");
    };
    assert_eq!(a.store.suspended_call(), Some(call));
    let mut one = [Val::I32(0)];
    assert_eq!(
        plain.call(&mut a.store, &[], &mut one),
        Err(Error::Resume(ResumeError::CallSuspended))
    );
    assert_eq!(
        plain.call_resumable(&mut a.store, &[], &mut one),
        Err(Error::Resume(ResumeError::CallSuspended))
    );
    // A handle of another store is not this store's call.
    assert_eq!(
        b.store.resume(call, &mut r),
        Err(Error::Resume(ResumeError::NotSuspended))
    );
    // Results of the wrong arity: refused, the call stays suspended.
    assert_eq!(a.store.resume(call, &mut one), Err(Error::TypeMismatch));
    a.store.set_fuel(1_000).expect("fuel while suspended");
    a.store.add_fuel(500).expect("add fuel while suspended");
    assert_eq!(a.store.get_fuel(), Ok(1_500));
    a.store
        .set_epoch_deadline(10)
        .expect("deadline while suspended");
    let mut outcome = a.store.resume(call, &mut r).expect("resume");
    while let CallOutcome::Suspended { call, .. } = outcome {
        outcome = a.store.resume(call, &mut r).expect("resume");
    }
    assert_eq!(r[0], Val::I32(count_expected(2).0));
    assert_eq!(a.store.suspended_call(), None);
    plain
        .call(&mut a.store, &[], &mut one)
        .expect("callable again");
}

#[test]
fn yield_in_a_nested_activation_is_a_typed_error() {
    let engine = engine(1);
    let module = tasks_module(&engine);
    let mut a = Task::new(&engine, &module);
    // host -> wasm (resumable) -> host `nested` -> wasm `count(2)` -> host `yield`: refused
    // with `Nested` each time, and the nested call completes.
    let f = a.func("nested_outer");
    assert_eq!(
        f.call_resumable(&mut a.store, &[], &mut []),
        Ok(CallOutcome::Finished)
    );
    assert_eq!(
        a.store.data().yield_errors,
        vec![ResumeError::Nested, ResumeError::Nested]
    );
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

#[test]
fn fuel_additions_never_overflow_silently() {
    let engine = engine(1);
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX - 5).expect("set");
    assert_eq!(store.add_fuel(5), Ok(()));
    assert_eq!(store.get_fuel(), Ok(u64::MAX));
    assert!(matches!(
        store.add_fuel(1),
        Err(Error::ResourceLimit { .. })
    ));
    assert_eq!(
        store.get_fuel(),
        Ok(u64::MAX),
        "unchanged after the refusal"
    );
}

#[test]
fn the_epoch_counter_is_the_engines() {
    let engine = engine(1);
    let mut s1 = Store::new(&engine, ());
    let s2 = Store::new(&engine, ());
    assert_eq!(engine.epoch(), Some(0));
    engine.increment_epoch().expect("engine-wide counter");
    s1.increment_epoch()
        .expect("store increments the engine's counter");
    assert_eq!(engine.epoch(), Some(2));
    drop((s1, s2));
    // Another engine with its own counter is independent.
    let other = self::engine(1);
    assert_eq!(other.epoch(), Some(0));
    // Without an engine-wide counter, each store counts its own.
    let plain = Engine::default();
    assert_eq!(plain.epoch(), None);
    assert_eq!(plain.increment_epoch(), Err(Error::NoEpochCounter));
    let mut s3 = Store::new(&plain, ());
    s3.increment_epoch().expect("the store's own counter");
}

// ---- fuel and epoch limits (images compiled with fuel / epoch checks) ---------------------

const LIMITS: &str = r#"
(module
  (memory (export "mem") 1)
  ;; Adds 1 to the word at `slot * 4`, `n` times; returns `n`.
  (func (export "spin") (param $slot i32) (param $n i32) (result i32)
    (local $i i32) (local $addr i32)
    (local.set $addr (i32.mul (local.get $slot) (i32.const 4)))
    (loop $l
      (i32.store (local.get $addr) (i32.add (i32.load (local.get $addr)) (i32.const 1)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
      ;; Costs nothing, but the back edge is no longer last in the body, so the header does not
      ;; pay for the blocks after it (module::fuel, "Loops left only by their back edge"): they
      ;; stay unchecked charges that can run into debt.
      (nop))
    (local.get $i))
  ;; The runaway task: a tight loop with no call, stopped only by a limit.
  (func (export "forever")
    (loop $l (br $l)))
  ;; `n` iterations of 28 fuel, of which only the loop header's block (6) is checked; the
  ;; other 22 (nine `local.get if` blocks of 2, and `local.get local.get i32.lt_u br_if`)
  ;; run unchecked and can leave a debt; 1 after the loop: 28 n + 1.
  (func (export "debtor") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
    (if (local.get $n) (then (nop)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n)))
      ;; Costs nothing, but the back edge is no longer last in the body, so the header does not
      ;; pay for the blocks after it (module::fuel, "Loops left only by their back edge"): they
      ;; stay unchecked charges that can run into debt.
      (nop))
    (local.get $i))
)
"#;

/// The [`LIMITS`] image compiled with fuel and epoch checks for this process's target (every
/// backend instruments both).
fn limits_image() -> Vec<u8> {
    compile(LIMITS, native().fuel(true).epochs(true)).expect("compile with fuel and epochs")
}

fn limits_store<'m>(engine: &Engine, module: &'m Module<'_>) -> (Store<'m, ()>, Instance) {
    let mut store = Store::new(engine, ());
    let linker = Linker::<()>::new(engine);
    let instance = linker.instantiate(&mut store, module).expect("instantiate");
    (store, instance)
}

fn word(store: &Store<'_, ()>, instance: Instance, slot: usize) -> u32 {
    let memory = instance.get_memory(store, "mem").expect("mem");
    let mut bytes = [0u8; 4];
    memory.read(store, slot * 4, &mut bytes).expect("read");
    u32::from_le_bytes(bytes)
}

#[test]
fn out_of_fuel_yields_and_resumes_after_the_host_adds_fuel() {
    let image = limits_image();
    let engine = engine(1);
    let module = load(&engine, image);
    let (mut store, instance) = limits_store(&engine, &module);
    store.on_out_of_fuel(LimitPolicy::Yield).expect("policy");
    store.set_fuel(500).expect("fuel");
    let spin = instance.get_func(&store, "spin").expect("spin");
    let mut r = [Val::I32(0)];
    let mut outcome = spin
        .call_resumable(&mut store, &[Val::I32(0), Val::I32(1000)], &mut r)
        .expect("start");
    let mut yields = 0;
    let mut progress = Vec::new();
    while let CallOutcome::Suspended { call, reason } = outcome {
        assert_eq!(reason, YieldReason::OutOfFuel);
        yields += 1;
        let before = word(&store, instance, 0);
        progress.push(before);
        if yields == 2 {
            // Resumed without more fuel: the block is charged again and it suspends at once,
            // having run nothing.
            let again = store.resume(call, &mut r).expect("resume");
            let CallOutcome::Suspended { call, reason } = again else {
                panic!("finished without fuel");
            };
            assert_eq!(reason, YieldReason::OutOfFuel);
            assert_eq!(word(&store, instance, 0), before);
            store.add_fuel(500).expect("fuel");
            outcome = store.resume(call, &mut r).expect("resume");
            continue;
        }
        store.add_fuel(500).expect("fuel");
        outcome = store.resume(call, &mut r).expect("resume");
    }
    assert_eq!(r[0], Val::I32(1000));
    assert_eq!(word(&store, instance, 0), 1000);
    assert!(yields >= 2, "{yields} yields");
    assert!(
        progress.windows(2).all(|w| w[0] < w[1]),
        "progress between yields: {progress:?}"
    );
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
    // The trap policy (default) inside a resumable call: the call ends with the trap.
    store.on_out_of_fuel(LimitPolicy::Trap).expect("policy");
    store.set_fuel(100).expect("fuel");
    let forever = instance.get_func(&store, "forever").expect("forever");
    let err = forever
        .call_resumable(&mut store, &[], &mut [])
        .expect_err("out of fuel");
    assert_eq!(err.trap_code(), Some(TrapCode::OutOfFuel));
    // The yield policy in a plain call cannot suspend: it traps.
    store.on_out_of_fuel(LimitPolicy::Yield).expect("policy");
    store.set_fuel(100).expect("fuel");
    let err = forever.call(&mut store, &[], &mut []).expect_err("traps");
    assert_eq!(err.trap_code(), Some(TrapCode::OutOfFuel));
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

#[test]
fn a_yield_in_debt_resumes_only_once_the_debt_and_the_block_are_paid() {
    let image = limits_image();
    let engine = engine(1);
    let module = load(&engine, image);
    let (mut store, instance) = limits_store(&engine, &module);
    store.on_out_of_fuel(LimitPolicy::Yield).expect("policy");
    let fuel = |store: &Store<'_, ()>| (store.get_fuel().unwrap(), store.fuel_debt().unwrap());
    // 100: three iterations (84), the fourth header passes with 10 left, its unchecked 22 run
    // (-12), and the fifth header cannot pay: a debt of 12, and the header's 6 not run.
    store.set_fuel(100).expect("fuel");
    let debtor = instance.get_func(&store, "debtor").expect("debtor");
    let mut r = [Val::I32(0)];
    let outcome = debtor
        .call_resumable(&mut store, &[Val::I32(10)], &mut r)
        .expect("start");
    let CallOutcome::Suspended { call, reason } = outcome else {
        panic!("finished on 100 fuel");
    };
    assert_eq!(reason, YieldReason::OutOfFuel);
    assert_eq!(fuel(&store), (0, 12));
    // Not enough to pay the debt and the header: it suspends again at once.
    store.add_fuel(10).expect("fuel");
    assert_eq!(fuel(&store), (0, 2));
    let CallOutcome::Suspended { call, reason } = store.resume(call, &mut r).expect("resume")
    else {
        panic!("finished in debt");
    };
    assert_eq!(reason, YieldReason::OutOfFuel);
    assert_eq!(fuel(&store), (0, 2));
    // 18 left after the debt: the header (6) runs, the unchecked 22 leave a debt of 10 at the
    // next header.
    store.add_fuel(20).expect("fuel");
    assert_eq!(fuel(&store), (18, 0));
    let CallOutcome::Suspended { call, reason } = store.resume(call, &mut r).expect("resume")
    else {
        panic!("finished on too little fuel");
    };
    assert_eq!(reason, YieldReason::OutOfFuel);
    assert_eq!(fuel(&store), (0, 10));
    // Enough: it finishes, having consumed exactly its cost over all the budgets.
    store.add_fuel(1_000_000).expect("fuel");
    let outcome = store.resume(call, &mut r).expect("resume");
    assert!(matches!(outcome, CallOutcome::Finished));
    assert_eq!(r[0], Val::I32(10));
    let given = 100 + 10 + 20 + 1_000_000;
    assert_eq!(given - store.get_fuel().unwrap(), 28 * 10 + 1);
    assert_eq!(store.fuel_debt().unwrap(), 0);
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
}

/// Increments an engine's epoch counter every millisecond until dropped.
struct Ticker {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Ticker {
    fn start(counter: &'static EpochCounter) -> Ticker {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(1));
                counter.increment();
            }
        });
        Ticker {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[test]
fn three_tasks_time_sliced_by_epochs_with_one_runaway() {
    let image = limits_image();
    let engine = engine(3);
    let counter = engine.config().epoch_counter.expect("counter");
    let module = load(&engine, image);
    // Two finite tasks and one infinite loop, each in its own store, all yielding at their
    // epoch deadline; fuel is plentiful (`u64::MAX`).
    let mut tasks: Vec<(Store<'_, ()>, Instance)> =
        (0..3).map(|_| limits_store(&engine, &module)).collect();
    for (store, _) in tasks.iter_mut() {
        store.on_epoch_deadline(LimitPolicy::Yield).expect("policy");
        store.set_epoch_deadline(1).expect("deadline");
    }
    const WORK: [i32; 2] = [2_000_000, 3_000_000];
    let _ticker = Ticker::start(counter);
    let mut outcomes = Vec::new();
    let mut results = [[Val::I32(0)]; 3];
    for (i, (store, instance)) in tasks.iter_mut().enumerate() {
        let outcome = if i < 2 {
            let spin = instance.get_func(store, "spin").expect("spin");
            spin.call_resumable(
                store,
                &[Val::I32(i as i32), Val::I32(WORK[i])],
                &mut results[i],
            )
        } else {
            let forever = instance.get_func(store, "forever").expect("forever");
            forever.call_resumable(store, &[], &mut [])
        }
        .expect("start");
        outcomes.push(outcome);
    }
    let mut slices = [0u32; 3];
    let mut seen_progress = [Vec::new(), Vec::new()];
    let mut rounds = 0;
    while outcomes[..2].iter().any(|o| *o != CallOutcome::Finished) {
        rounds += 1;
        assert!(rounds < 100_000, "the finite tasks never finished");
        for i in 0..3 {
            let CallOutcome::Suspended { call, reason } = outcomes[i] else {
                continue;
            };
            assert_eq!(reason, YieldReason::EpochDeadline);
            slices[i] += 1;
            let (store, instance) = &mut tasks[i];
            if i < 2 {
                seen_progress[i].push(word(store, *instance, i));
            }
            store.set_epoch_deadline(1).expect("deadline");
            let out: &mut [Val] = if i < 2 { &mut results[i] } else { &mut [] };
            outcomes[i] = store.resume(call, out).expect("resume");
        }
    }
    for i in 0..2 {
        assert_eq!(results[i][0], Val::I32(WORK[i]));
        assert_eq!(word(&tasks[i].0, tasks[i].1, i), WORK[i] as u32);
        assert!(
            seen_progress[i].windows(2).all(|w| w[0] <= w[1]),
            "task {i}: {:?}",
            seen_progress[i]
        );
    }
    // The runaway task was stopped at its deadline every slice (at least once: it is
    // suspended now) and is still suspended: cancel it, which gives its fiber back.
    let CallOutcome::Suspended { call, .. } = outcomes[2] else {
        panic!("the infinite loop finished");
    };
    eprintln!("slices per task: {slices:?} over {rounds} rounds");
    tasks[2].0.cancel(call).expect("cancel");
    assert_eq!(engine.config().fiber_pool.in_use(), 0);
    // With the trap policy the runaway task stops with `Interrupted`.
    let (store, instance) = &mut tasks[2];
    store.on_epoch_deadline(LimitPolicy::Trap).expect("policy");
    store.set_epoch_deadline(2).expect("deadline");
    let forever = instance.get_func(store, "forever").expect("forever");
    let err = forever.call(store, &[], &mut []).expect_err("interrupted");
    assert_eq!(err.trap_code(), Some(TrapCode::Interrupted));
}
