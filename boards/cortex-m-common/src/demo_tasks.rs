//! The three-task epoch demo of the Cortex-M boards (issue 6, "Boards"): each board's
//! `examples/demo_tasks.rs` calls [`main`] with its [`DemoBoard`].
//!
//! Three wasm tasks time-sliced with epochs.
//!
//! SysTick ticks at 1 kHz (from the board's core clock) and its hook increments the engine's
//! epoch counter ([`EPOCH`]). Three stores, one per task, instantiate
//! `wasm-epochs/demo_tasks.wat` (compiled for the board's core with epoch checks) and run one
//! export each as a resumable call on a fiber from the board's pool (not MPU-guarded: see
//! [`crate::platform`]), with the yield policy at the epoch deadline:
//!
//! * `count`: [`COUNT_STEPS`] steps of a fold, result checked against the same fold here;
//! * `crc`: the CRC-32 of [`CRC_ROUNDS`] generated blocks, checked against a CRC computed here;
//! * `spin`: an infinite loop, the runaway.
//!
//! The scheduler is round robin: each runnable task gets a slice of [`SLICE_TICKS`] ticks
//! (`Store::set_epoch_deadline`) and runs until it suspends at its deadline or finishes. Every
//! slice is printed (task, ticks it ran, progress read from the task's memory). The runaway has
//! a budget of [`RUNAWAY_BUDGET_TICKS`] ticks in all; once spent, its call is cancelled
//! (`Store::cancel`) and it is reported as stopped on its deadline. Checks, each printed as
//! `[ok]` or `[FAIL]`:
//!
//! * both finite tasks finish with the expected results and progress, after being suspended
//!   several times (they really were time-sliced), and made progress while the runaway lived;
//! * the runaway made progress in its slices and was cancelled once its budget was spent, and
//!   its store still runs a call afterwards;
//! * fuel (the image is compiled with fuel metering too): `crc` as a typed resumable call with
//!   the yield policy on running out of fuel, refilled and resumed until it finishes, then the
//!   trap policy ([`demo::fuel_part`]);
//! * every fiber stack is back in the pool at the end.
//!
//! Prints a summary and `demo: passed`, and exits 0 only if every check passed.

use crate::timer::{self, TimerConfig};
use board_common::demo::{self, expected_count, expected_crc};
use device_runtime::{
    CallOutcome, Engine, EpochCounter, Error, Func, Instance, LimitPolicy, Linker, Memory, Module,
    ResumableCall, Store, Val, YieldReason,
};
use device_runtime::{EngineConfig, FiberPool};

use crate::println;

/// What the demo needs from a board.
#[derive(Debug)]
pub struct DemoBoard {
    /// The core clock SysTick counts, in Hz.
    pub core_clock_hz: u32,
    /// The board's engine configuration (platform, core, fiber pool); the demo adds its epoch
    /// counter.
    pub config: EngineConfig,
    /// `wasm-epochs/demo_tasks.wat` compiled for the board's core with epoch checks.
    pub image: &'static [u8],
    /// The engine's fiber pool (`config.fiber_pool`), and the board's stacks behind it.
    pub fibers: &'static FiberPool,
    /// Fiber stacks the board reserves, and the size of each.
    pub fiber_stacks: usize,
    /// Bytes of each fiber stack.
    pub fiber_stack_size: usize,
    /// Fiber stacks the board's platform has handed out and not taken back.
    pub fiber_stacks_in_use: fn() -> usize,
}

/// The engine's epoch counter, incremented by the tick hook.
static EPOCH: EpochCounter = EpochCounter::new();

/// Ticks per slice.
const SLICE_TICKS: u64 = 5;
/// Ticks the runaway may run in all before it is cancelled.
const RUNAWAY_BUDGET_TICKS: u64 = 60;
/// Steps of the `count` task.
const COUNT_STEPS: i32 = 6_000_000;
/// Rounds of the `crc` task.
const CRC_ROUNDS: i32 = 3_000;
/// Slices after which the scheduler gives up (a hang guard: the demo needs far fewer).
const MAX_SLICES: u32 = 5_000;

fn tick() {
    EPOCH.increment();
}

/// Runs the demo on `board` and returns the exit status (0 only if every check passed).
pub fn main(board: DemoBoard) -> u32 {
    match run(board) {
        Ok(true) => {
            println!("demo: passed");
            0
        }
        Ok(false) => {
            println!("demo: FAILED");
            1
        }
        Err(e) => {
            println!("demo: error: {e}");
            1
        }
    }
}

fn check(ok: bool, what: core::fmt::Arguments<'_>) -> bool {
    println!("[{}] {what}", if ok { "ok" } else { "FAIL" });
    ok
}

/// Where a task's call stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    NotStarted,
    Suspended(ResumableCall),
    Finished(i32),
    /// The runaway, cancelled once its budget was spent.
    Stopped,
}

/// One task: its store, the export it runs, and what the scheduler has seen of it.
struct Task<'m> {
    name: &'static str,
    store: Store<'m, ()>,
    instance: Instance,
    memory: Memory,
    func: Func,
    params: [Val; 1],
    param_count: usize,
    result_count: usize,
    state: State,
    /// Ticks in all of its slices.
    ticks: u64,
    /// Ticks of its latest slice.
    last_slice_ticks: u64,
    slices: u32,
    /// Slices that ended suspended at the deadline.
    suspensions: u32,
    /// Slices in which its progress counter grew.
    slices_with_progress: u32,
    progress: u32,
    /// Ticks after which it is cancelled (the runaway).
    budget: Option<u64>,
}

impl Task<'_> {
    fn runnable(&self) -> bool {
        matches!(self.state, State::NotStarted | State::Suspended(_))
    }

    fn read_progress(&self) -> u32 {
        let data = self.memory.data(&self.store);
        data.get(..4)
            .and_then(|b| b.try_into().ok())
            .map_or(0, u32::from_le_bytes)
    }

    /// Runs one slice of `SLICE_TICKS` ticks; returns the ticks it took.
    fn run_slice(&mut self) -> Result<u64, Error> {
        self.store.set_epoch_deadline(SLICE_TICKS)?;
        let start = EPOCH.get();
        let mut results = [Val::I32(0)];
        let results = &mut results[..self.result_count];
        let outcome = match self.state {
            State::NotStarted => self.func.call_resumable(
                &mut self.store,
                &self.params[..self.param_count],
                results,
            )?,
            State::Suspended(call) => self.store.resume(call, results)?,
            State::Finished(_) | State::Stopped => return Ok(0),
        };
        let ticks = EPOCH.get() - start;
        self.state = match outcome {
            CallOutcome::Finished => match results.first() {
                Some(Val::I32(value)) => State::Finished(*value),
                _ => State::Finished(0),
            },
            CallOutcome::Suspended {
                call,
                reason: YieldReason::EpochDeadline,
            } => {
                self.suspensions += 1;
                State::Suspended(call)
            }
            CallOutcome::Suspended { call, reason } => {
                println!(
                    "{}: suspended for an unexpected reason: {reason:?}",
                    self.name
                );
                State::Suspended(call)
            }
        };
        self.slices += 1;
        self.ticks += ticks;
        self.last_slice_ticks = ticks;
        let progress = self.read_progress();
        if progress != self.progress {
            self.slices_with_progress += 1;
        }
        self.progress = progress;
        Ok(ticks)
    }
}

fn new_task<'m>(
    engine: &'m Engine,
    module: &'m Module,
    name: &'static str,
    param: Option<i32>,
    budget: Option<u64>,
) -> Result<Task<'m>, Error> {
    let mut store = Store::try_new(engine, ())?;
    store.on_epoch_deadline(LimitPolicy::Yield)?;
    let instance = Linker::<()>::new(engine).instantiate(&mut store, module)?;
    let memory = instance
        .get_memory(&store, "memory")
        .ok_or(Error::NotCallable)?;
    let func = instance.get_func(&store, name).ok_or(Error::NotCallable)?;
    Ok(Task {
        name,
        store,
        instance,
        memory,
        func,
        params: [Val::I32(param.unwrap_or(0))],
        param_count: usize::from(param.is_some()),
        result_count: usize::from(param.is_some()),
        state: State::NotStarted,
        ticks: 0,
        last_slice_ticks: 0,
        slices: 0,
        suspensions: 0,
        slices_with_progress: 0,
        progress: 0,
        budget,
    })
}

fn run(board: DemoBoard) -> Result<bool, Error> {
    let mut config = board.config;
    config.epoch_counter = Some(&EPOCH);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, board.image)?;
    println!(
        "demo: 3 tasks, slices of {SLICE_TICKS} ticks at 1 kHz, runaway budget \
     {RUNAWAY_BUDGET_TICKS} ticks; fiber pool {} x {} KiB stacks",
        board.fiber_stacks,
        board.fiber_stack_size >> 10
    );
    let mut tasks = [
        new_task(&engine, &module, "count", Some(COUNT_STEPS), None)?,
        new_task(&engine, &module, "crc", Some(CRC_ROUNDS), None)?,
        new_task(&engine, &module, "spin", None, Some(RUNAWAY_BUDGET_TICKS))?,
    ];

    timer::set_tick_hook(Some(tick));
    let ticking = match timer::start(&TimerConfig::new(board.core_clock_hz, 1000)) {
        Ok(ticking) => ticking,
        Err(e) => {
            println!("[FAIL] timer start: {e}");
            return Ok(false);
        }
    };
    let mut passed = true;
    let mut slice = 0u32;
    // Progress of the finite tasks while the runaway was alive (before and after its slices).
    let mut progress_while_runaway_alive = [0u32; 2];
    let mut stopped_runaway = false;
    while tasks.iter().any(Task::runnable) && slice < MAX_SLICES {
        for task in tasks.iter_mut().filter(|t| t.runnable()) {
            slice += 1;
            let ticks = task.run_slice()?;
            let state = match task.state {
                State::Suspended(_) => "suspended at its deadline",
                State::Finished(_) => "finished",
                _ => "",
            };
            println!(
                "slice {slice:4}: {:5} ran {ticks:2} ticks, progress {:8}, {state}",
                task.name, task.progress
            );
            if let (Some(budget), State::Suspended(call)) = (task.budget, task.state)
                && task.ticks >= budget
            {
                task.store.cancel(call)?;
                task.state = State::Stopped;
                stopped_runaway = true;
                println!(
                    "{}: stopped on its deadline: cancelled after {} ticks in {} slices \
                 (budget {budget}), progress {}",
                    task.name, task.ticks, task.slices, task.progress
                );
            }
        }
        if !stopped_runaway {
            progress_while_runaway_alive = [tasks[0].progress, tasks[1].progress];
        }
    }
    ticking.stop();
    timer::set_tick_hook(None);

    println!("summary:");
    for task in &tasks {
        let outcome = match task.state {
            State::Finished(value) => ResultText::Result(value),
            State::Stopped => ResultText::Stopped,
            _ => ResultText::Unfinished,
        };
        println!(
            "  {:5}: {:4} slices, {:5} ticks, {:4} suspensions, progress {:8}, {outcome}",
            task.name, task.slices, task.ticks, task.suspensions, task.progress
        );
    }

    passed &= check(
        slice < MAX_SLICES,
        format_args!("the demo ended in {slice} slices"),
    );
    let [count, crc, spin] = &mut tasks;
    let want_count = expected_count(COUNT_STEPS);
    passed &= check(
        count.state == State::Finished(want_count) && count.progress == COUNT_STEPS as u32,
        format_args!("count finished: result {want_count:#010x}, {COUNT_STEPS} steps"),
    );
    let want_crc = expected_crc(CRC_ROUNDS);
    passed &= check(
        crc.state == State::Finished(want_crc) && crc.progress == CRC_ROUNDS as u32,
        format_args!("crc finished: CRC-32 {want_crc:#010x}, {CRC_ROUNDS} rounds"),
    );
    for task in [&*count, &*crc, &*spin] {
        passed &= check(
            task.suspensions >= 3 && task.slices_with_progress * 2 >= task.slices,
            format_args!(
                "{} was time-sliced ({} suspensions at its deadline) and made progress in \
             {} of {} slices",
                task.name, task.suspensions, task.slices_with_progress, task.slices
            ),
        );
    }
    passed &= check(
        progress_while_runaway_alive[0] > 0 && progress_while_runaway_alive[1] > 0,
        format_args!(
            "count and crc made progress while the runaway ran ({} steps, {} rounds)",
            progress_while_runaway_alive[0], progress_while_runaway_alive[1]
        ),
    );
    passed &= check(
        spin.state == State::Stopped
            && spin.ticks >= RUNAWAY_BUDGET_TICKS
            && spin.ticks - spin.last_slice_ticks < RUNAWAY_BUDGET_TICKS,
        format_args!(
            "spin stopped on its deadline: cancelled after {} ticks, at the end of the first \
             slice that reached its budget of {RUNAWAY_BUDGET_TICKS}",
            spin.ticks
        ),
    );
    // The runaway's store is still usable: a short `count` in it, as an ordinary call.
    spin.store.set_epoch_deadline(u64::MAX / 2)?;
    let after = spin
        .instance
        .get_typed_func::<i32, i32>(&spin.store, "count")?
        .call(&mut spin.store, 1000);
    passed &= check(
        matches!(after, Ok(v) if v == expected_count(1000)),
        format_args!("the runaway's store runs a call after the cancel ({after:?})"),
    );
    passed &= demo::fuel_part(|line| println!("{line}"), &engine, &module)?;
    passed &= check(
        board.fibers.in_use() == 0 && (board.fiber_stacks_in_use)() == 0,
        format_args!("every fiber stack is back in the pool"),
    );
    Ok(passed)
}

/// How a task ended, for the summary.
enum ResultText {
    Result(i32),
    Stopped,
    Unfinished,
}

impl core::fmt::Display for ResultText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ResultText::Result(value) => write!(f, "result {value:#010x}"),
            ResultText::Stopped => f.write_str("stopped on its deadline"),
            ResultText::Unfinished => f.write_str("UNFINISHED"),
        }
    }
}
