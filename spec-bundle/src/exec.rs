//! The executor: runs a bundle's commands over the device runtime's public API, with no
//! allocator, the same code on a board and hosted.
//!
//! Each segment (see [`crate::format`]) gets a fresh [`Store`] (from the engine's platform),
//! a fresh [`Linker`] holding the `spectest` module (print functions as host functions; its
//! globals, table and memory created in the store and defined in the linker), and up to
//! [`MAX_SEGMENT_MODULES`] modules, each loaded with [`Module::new`] the first time a command
//! uses it. At the end of the segment the store is dropped first, then the modules, so every
//! platform resource (arena, memory slots, code memory, loaded-module slot) is returned; a
//! board checks its pools between files.
//!
//! Every case command produces one [`Outcome`]; nothing is skipped. Setup commands (the
//! re-creation of a registered module at the start of a segment, `FLAG_SETUP`) are not cases:
//! if one fails, every case of its segment fails with [`Failure::SetupFailed`]. A command the
//! bundle encodes badly fails with [`Failure::Format`].
//!
//! Limits are the same wherever it runs, so a hosted run fails exactly the commands a board
//! fails: at most [`MAX_SEGMENT_MODULES`] modules loaded per segment (the device runtime's
//! loaded-module registry on a board), [`MAX_NAMED_INSTANCES`] named instances per file; the
//! engine's configuration decides the rest (memory reservation, stack, arena).

use core::cell::OnceCell;
use core::fmt;

use device_runtime::{
    Engine, Error, ExternRef, Global, GlobalType, Instance, LinkError, Linker, LoadError,
    MAX_FUNC_ARITY, Memory, MemoryType, Module, Store, Table, TableType, TrapCode, Val, ValType,
};

use crate::format::{
    ActionKind, Bundle, CURRENT, CommandKind, CommandRecord, Expected, FileRecord, FormatError,
    MAX_ALTERNATIVES, MAX_NAMED_INSTANCES, MAX_SEGMENT_MODULES, ModuleRecord, NO_SLOT, Range,
    Value, ValueKind,
};

/// How a command ended.
#[derive(Clone, Debug, PartialEq)]
pub enum Outcome<'b> {
    /// As expected.
    Pass,
    /// A trap as expected, but with another message than the spec's (a pass, as in the hosted
    /// harness, reported as a warning).
    PassTrapMessageDiffers {
        /// The spec's message.
        expected: &'b str,
        /// The trap.
        got: TrapCode,
    },
    /// Not as expected.
    Fail(Failure<'b>),
}

impl Outcome<'_> {
    /// Whether the case passed.
    pub fn passed(&self) -> bool {
        !matches!(self, Outcome::Fail(_))
    }
}

impl fmt::Display for Outcome<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => f.write_str("pass"),
            Outcome::PassTrapMessageDiffers { expected, got } => {
                write!(
                    f,
                    "pass (trap message: expected {expected:?}, got {:?})",
                    got.message()
                )
            }
            Outcome::Fail(e) => write!(f, "FAIL {e}"),
        }
    }
}

/// What an expected result was, for a failure message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    /// One pattern.
    One(Expected),
    /// An `either` with this many alternatives.
    Either(u32),
}

/// Why a command failed.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Failure<'b> {
    /// The command's records are malformed.
    Format(FormatError),
    /// A command before the file's first segment marker.
    OutsideSegment,
    /// The command uses a module past the first [`MAX_SEGMENT_MODULES`] of its segment.
    TooManyModules(u32),
    /// The command names a module outside its segment.
    ModuleNotInSegment(u32),
    /// The host compiler refused the module.
    HostCompile(&'b str),
    /// `Module::new` refused the image.
    Load(LoadError),
    /// The segment's store or `spectest` module could not be created.
    Setup(Error),
    /// Defining `spectest` in the linker failed.
    SetupLink(LinkError),
    /// Instantiation failed where it should succeed.
    Instantiate(Error),
    /// No instance is bound to this slot (its module failed, or a bad slot).
    NoInstance(u32),
    /// No current instance (the last module failed).
    NoCurrentInstance,
    /// No exported function of that name.
    NoFunc(&'b str),
    /// No exported global of that name.
    NoGlobal(&'b str),
    /// More arguments than the runtime's [`MAX_FUNC_ARITY`], or an argument the bundle
    /// cannot express.
    Arguments,
    /// The call failed (trapped, or another error) where it should return.
    Call(Error),
    /// The number of results differs.
    ResultCount {
        /// Expected.
        expected: u32,
        /// Got.
        got: usize,
    },
    /// Result `index` does not match.
    Mismatch {
        /// Which result.
        index: usize,
        /// Expected.
        expected: Shown,
        /// Got.
        got: Val,
    },
    /// A trap was expected; the call returned.
    Returned,
    /// A trap was expected; another error happened.
    NotATrap(Error),
    /// Instantiation was expected to fail; it succeeded.
    Instantiated,
    /// A link error was expected; another error happened.
    NotALinkError(Error),
    /// `register` failed.
    Register(LinkError),
    /// A setup command of the segment (re-creating the registered module defined at this
    /// line) failed, so the segment's state is not what the file expects.
    SetupFailed(u32),
    /// The action does not fit the command (a `get` in `assert_trap`, ...).
    BadAction,
}

fn fmt_val(v: &Val, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match v {
        Val::I32(x) => write!(f, "i32:{x}"),
        Val::I64(x) => write!(f, "i64:{x}"),
        Val::F32(b) => write!(f, "f32:{b:#010x}"),
        Val::F64(b) => write!(f, "f64:{b:#018x}"),
        Val::FuncRef(None) => f.write_str("ref.null func"),
        Val::FuncRef(Some(_)) => f.write_str("ref.func"),
        Val::ExternRef(None) => f.write_str("ref.null extern"),
        Val::ExternRef(Some(r)) => write!(f, "ref.extern {}", r.id()),
    }
}

impl fmt::Display for Failure<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Format(e) => write!(f, "bad bundle command: {e}"),
            Failure::OutsideSegment => f.write_str("bad bundle: command outside a segment"),
            Failure::TooManyModules(n) => write!(
                f,
                "segment has {n} modules, at most {MAX_SEGMENT_MODULES} can be loaded at once \
                 (the device runtime's loaded-module registry)"
            ),
            Failure::ModuleNotInSegment(m) => write!(f, "bad bundle: module {m} not in segment"),
            Failure::HostCompile(e) => write!(f, "module did not compile on the host: {e}"),
            Failure::Load(e) => write!(f, "Module::new: {e}"),
            Failure::Setup(e) => write!(f, "cannot set up the store and spectest: {e}"),
            Failure::SetupLink(e) => write!(f, "cannot define spectest: {e}"),
            Failure::Instantiate(e) => write!(f, "instantiate: {e}"),
            Failure::NoInstance(s) => write!(f, "no instance in slot {s} (its module failed)"),
            Failure::NoCurrentInstance => f.write_str("no current instance (its module failed)"),
            Failure::NoFunc(n) => write!(f, "no exported function {n:?}"),
            Failure::NoGlobal(n) => write!(f, "no exported global {n:?}"),
            Failure::Arguments => f.write_str("arguments not supported"),
            Failure::Call(e) => write!(f, "call failed: {e}"),
            Failure::ResultCount { expected, got } => {
                write!(f, "expected {expected} results, got {got}")
            }
            Failure::Mismatch {
                index,
                expected,
                got,
            } => {
                write!(f, "result {index}: expected ")?;
                match expected {
                    Shown::One(e) => write!(f, "{e}")?,
                    Shown::Either(n) => write!(f, "one of {n} alternatives")?,
                }
                f.write_str(", got ")?;
                fmt_val(got, f)
            }
            Failure::Returned => f.write_str("expected a trap, returned"),
            Failure::NotATrap(e) => write!(f, "expected a trap, got error: {e}"),
            Failure::Instantiated => f.write_str("expected instantiation to fail, it succeeded"),
            Failure::NotALinkError(e) => write!(f, "expected a link error, got: {e}"),
            Failure::Register(e) => write!(f, "register: {e}"),
            Failure::SetupFailed(line) => write!(
                f,
                "segment setup failed: re-creating the registered module of line {line} failed"
            ),
            Failure::BadAction => f.write_str("bad bundle: action does not fit the command"),
        }
    }
}

impl<'b> From<FormatError> for Failure<'b> {
    fn from(e: FormatError) -> Self {
        Failure::Format(e)
    }
}

/// The spec's canonical NaN rule (sign ignored).
pub fn f32_is_canonical_nan(bits: u32) -> bool {
    bits & 0x7fff_ffff == 0x7fc0_0000
}
/// Arithmetic NaN: exponent all ones and the quiet bit set (payload and sign free).
pub fn f32_is_arithmetic_nan(bits: u32) -> bool {
    bits & 0x7fc0_0000 == 0x7fc0_0000
}
/// See [`f32_is_canonical_nan`].
pub fn f64_is_canonical_nan(bits: u64) -> bool {
    bits & 0x7fff_ffff_ffff_ffff == 0x7ff8_0000_0000_0000
}
/// See [`f32_is_arithmetic_nan`].
pub fn f64_is_arithmetic_nan(bits: u64) -> bool {
    bits & 0x7ff8_0000_0000_0000 == 0x7ff8_0000_0000_0000
}

/// Whether `got` matches `expected`.
pub fn matches(expected: &Expected, got: &Val) -> bool {
    match (expected, got) {
        (Expected::Exact(Value::I32(e)), Val::I32(g)) => e == g,
        (Expected::Exact(Value::I64(e)), Val::I64(g)) => e == g,
        (Expected::Exact(Value::F32(e)), Val::F32(g)) => e == g,
        (Expected::Exact(Value::F64(e)), Val::F64(g)) => e == g,
        (Expected::Exact(Value::FuncRefNull), Val::FuncRef(None)) => true,
        (Expected::Exact(Value::ExternRefNull), Val::ExternRef(None)) => true,
        (Expected::Exact(Value::ExternRef(e)), Val::ExternRef(Some(g))) => *e == g.id(),
        (Expected::F32CanonicalNan, Val::F32(g)) => f32_is_canonical_nan(*g),
        (Expected::F32ArithmeticNan, Val::F32(g)) => f32_is_arithmetic_nan(*g),
        (Expected::F64CanonicalNan, Val::F64(g)) => f64_is_canonical_nan(*g),
        (Expected::F64ArithmeticNan, Val::F64(g)) => f64_is_arithmetic_nan(*g),
        (Expected::RefNullAny, Val::FuncRef(None) | Val::ExternRef(None)) => true,
        (Expected::FuncRefNonNull, Val::FuncRef(Some(_))) => true,
        (Expected::ExternRefNonNull, Val::ExternRef(Some(_))) => true,
        _ => false,
    }
}

/// Whether a trap message matches the spec's (case-insensitive; either contains the other),
/// the rule of the hosted harness (`tests::harness::messages_agree`).
pub fn messages_agree(expected: &str, got: &str) -> bool {
    contains_ignore_case(got, expected) || (!got.is_empty() && contains_ignore_case(expected, got))
}

fn contains_ignore_case(haystack: &str, needle: &str) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n))
}

/// Counts of one file's run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Cases that passed.
    pub passed: u32,
    /// Cases that failed.
    pub failed: u32,
    /// Of `passed`: traps with another message.
    pub message_mismatches: u32,
    /// Segments run.
    pub segments: u32,
}

/// Runs bundles on an engine.
#[derive(Debug)]
pub struct Executor<'e> {
    engine: &'e Engine,
}

struct SegmentState {
    current: Option<Instance>,
    named: [Option<Instance>; MAX_NAMED_INSTANCES],
}

impl<'e> Executor<'e> {
    /// An executor creating its stores and modules on `engine`.
    pub fn new(engine: &'e Engine) -> Self {
        Executor { engine }
    }

    /// Runs every command of `file`, calling `report(line, outcome)` once per case in order.
    pub fn run_file<'b>(
        &self,
        bundle: &Bundle<'b>,
        file: &FileRecord<'b>,
        report: &mut dyn FnMut(u32, &Outcome<'b>),
    ) -> FileCounts {
        let mut counts = FileCounts::default();
        let mut tally = |line: u32, outcome: &Outcome<'b>| {
            match outcome {
                Outcome::Pass => counts.passed += 1,
                Outcome::PassTrapMessageDiffers { .. } => {
                    counts.passed += 1;
                    counts.message_mismatches += 1;
                }
                Outcome::Fail(_) => counts.failed += 1,
            }
            report(line, outcome);
        };
        let mut segments = 0;
        let end = file.commands.first.saturating_add(file.commands.count);
        let mut index = file.commands.first;
        while index < end {
            let begin = match bundle.command(index) {
                Ok(c) if c.kind == CommandKind::BeginSegment => c,
                Ok(c) => {
                    tally(c.line, &Outcome::Fail(Failure::OutsideSegment));
                    index += 1;
                    continue;
                }
                Err(e) => {
                    tally(0, &Outcome::Fail(Failure::Format(e)));
                    index += 1;
                    continue;
                }
            };
            let mut next = index + 1;
            while next < end
                && !matches!(bundle.command(next), Ok(c) if c.kind == CommandKind::BeginSegment)
            {
                next += 1;
            }
            segments += 1;
            self.run_segment(bundle, file, &begin, index + 1..next, &mut tally);
            index = next;
        }
        counts.segments = segments;
        counts
    }

    fn run_segment<'b>(
        &self,
        bundle: &Bundle<'b>,
        file: &FileRecord<'b>,
        begin: &CommandRecord<'b>,
        commands: core::ops::Range<u32>,
        report: &mut dyn FnMut(u32, &Outcome<'b>),
    ) {
        let fail_all = |report: &mut dyn FnMut(u32, &Outcome<'b>), why: Failure<'b>| {
            for i in commands.clone() {
                let line = match bundle.command(i) {
                    Ok(c) if c.setup => continue,
                    Ok(c) => c.line,
                    Err(_) => 0,
                };
                report(line, &Outcome::Fail(why.clone()));
            }
        };
        let modules = Range {
            first: begin.module,
            count: begin.module_count,
        };
        if modules.first < file.modules.first
            || u64::from(modules.first) + u64::from(modules.count)
                > u64::from(file.modules.first) + u64::from(file.modules.count)
        {
            return fail_all(
                report,
                Failure::Format(FormatError::OutOfBounds("segment modules")),
            );
        }
        // Declared before the store, so dropped after it: the store borrows them.
        let loaded: [OnceCell<Result<Module<'b>, Failure<'b>>>; MAX_SEGMENT_MODULES] =
            core::array::from_fn(|_| OnceCell::new());
        let mut store = match Store::try_new(self.engine, ()) {
            Ok(s) => s,
            Err(e) => return fail_all(report, Failure::Setup(e)),
        };
        let mut linker = Linker::<()>::new(self.engine);
        if let Err(e) = spectest(&mut store, &mut linker) {
            return fail_all(report, e);
        }
        let mut state = SegmentState {
            current: None,
            named: [None; MAX_NAMED_INSTANCES],
        };
        let segment = Segment {
            engine: self.engine,
            bundle,
            modules,
            loaded: &loaded,
        };
        // The line of the first setup command that failed: every case after it fails.
        let mut setup_failed = None;
        for i in commands {
            let (line, outcome) = match bundle.command(i) {
                Ok(c) if c.setup => {
                    let outcome = segment.command(&mut store, &mut linker, &mut state, &c);
                    if !outcome.passed() && setup_failed.is_none() {
                        setup_failed = Some(c.line);
                    }
                    continue;
                }
                Ok(c) => match setup_failed {
                    Some(line) => (c.line, Outcome::Fail(Failure::SetupFailed(line))),
                    None => (
                        c.line,
                        segment.command(&mut store, &mut linker, &mut state, &c),
                    ),
                },
                Err(e) => (0, Outcome::Fail(Failure::Format(e))),
            };
            report(line, &outcome);
        }
        drop(store);
    }
}

/// The `spectest` module of the reference interpreter: print functions (which print nothing
/// here), `global_{i32,i64,f32,f64}` = 666 / 666.6, `table` 10..20 funcref, `memory` 1..2.
fn spectest<'b>(store: &mut Store<'_, ()>, linker: &mut Linker<()>) -> Result<(), Failure<'b>> {
    let link = |r: Result<&mut Linker<()>, LinkError>| r.map(|_| ()).map_err(Failure::SetupLink);
    link(linker.func_wrap("spectest", "print", || {}))?;
    link(linker.func_wrap("spectest", "print_i32", |_: i32| {}))?;
    link(linker.func_wrap("spectest", "print_i64", |_: i64| {}))?;
    link(linker.func_wrap("spectest", "print_f32", |_: f32| {}))?;
    link(linker.func_wrap("spectest", "print_f64", |_: f64| {}))?;
    link(linker.func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {}))?;
    link(linker.func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {}))?;
    let globals = [
        ("global_i32", ValType::I32, Val::I32(666)),
        ("global_i64", ValType::I64, Val::I64(666)),
        ("global_f32", ValType::F32, Val::F32(666.6f32.to_bits())),
        ("global_f64", ValType::F64, Val::F64(666.6f64.to_bits())),
    ];
    for (name, ty, value) in globals {
        let ty = GlobalType {
            ty: ty.code(),
            mutable: false,
        };
        let g = Global::new(store, ty, value).map_err(Failure::Setup)?;
        link(linker.define(store, "spectest", name, g))?;
    }
    let table = TableType {
        element: ValType::FuncRef.code(),
        min: 10,
        max: Some(20),
        index64: false,
    };
    let table = Table::new(store, table, Val::FuncRef(None)).map_err(Failure::Setup)?;
    link(linker.define(store, "spectest", "table", table))?;
    let memory = MemoryType {
        min: 1,
        max: Some(2),
        index64: false,
        page_size_log2: 16,
        shared: false,
    };
    let memory = Memory::new(store, memory).map_err(Failure::Setup)?;
    link(linker.define(store, "spectest", "memory", memory))?;
    Ok(())
}

/// One segment's modules.
struct Segment<'a, 'b> {
    engine: &'a Engine,
    bundle: &'a Bundle<'b>,
    modules: Range,
    loaded: &'a [OnceCell<Result<Module<'b>, Failure<'b>>>; MAX_SEGMENT_MODULES],
}

/// Results of a call.
struct Results {
    values: [Val; MAX_FUNC_ARITY],
    len: usize,
}

impl<'a, 'b> Segment<'a, 'b> {
    /// Module `index`, loaded on first use.
    fn module(&self, index: u32) -> Result<&'a Module<'b>, Failure<'b>> {
        if !self.modules.indices().contains(&index) {
            return Err(Failure::ModuleNotInSegment(index));
        }
        // The device runtime registers at most 16 loaded modules on a board; the limit is
        // enforced here too, so a hosted run fails the same commands.
        let cell = self
            .loaded
            .get((index - self.modules.first) as usize)
            .ok_or(Failure::TooManyModules(self.modules.count))?;
        let loaded = cell.get_or_init(|| match self.bundle.module(index)? {
            ModuleRecord::Image(image) => Module::new(self.engine, image).map_err(Failure::Load),
            ModuleRecord::HostError(e) => Err(Failure::HostCompile(e)),
        });
        loaded.as_ref().map_err(Clone::clone)
    }

    fn instance(&self, state: &SegmentState, slot: u32) -> Result<Instance, Failure<'b>> {
        if slot == CURRENT {
            return state.current.ok_or(Failure::NoCurrentInstance);
        }
        state
            .named
            .get(slot as usize)
            .copied()
            .flatten()
            .ok_or(Failure::NoInstance(slot))
    }

    fn instantiate(
        &self,
        store: &mut Store<'a, ()>,
        linker: &Linker<()>,
        module: u32,
    ) -> Result<Result<Instance, Error>, Failure<'b>> {
        let module = self.module(module)?;
        Ok(linker.instantiate(store, module))
    }

    fn invoke(
        &self,
        store: &mut Store<'a, ()>,
        state: &SegmentState,
        c: &CommandRecord<'b>,
    ) -> Result<Result<Results, Error>, Failure<'b>> {
        let instance = self.instance(state, c.instance)?;
        let func = instance
            .get_func(store, c.name)
            .ok_or(Failure::NoFunc(c.name))?;
        let mut args = [Val::I32(0); MAX_FUNC_ARITY];
        if c.args.count as usize > MAX_FUNC_ARITY {
            return Err(Failure::Arguments);
        }
        for (slot, i) in args.iter_mut().zip(c.args.indices()) {
            let value = self.bundle.value(i)?.value().ok_or(Failure::Arguments)?;
            *slot = match value {
                Value::I32(v) => Val::I32(v),
                Value::I64(v) => Val::I64(v),
                Value::F32(b) => Val::F32(b),
                Value::F64(b) => Val::F64(b),
                Value::FuncRefNull => Val::FuncRef(None),
                Value::ExternRefNull => Val::ExternRef(None),
                Value::ExternRef(id) => Val::ExternRef(Some(ExternRef::new(id))),
            };
        }
        let len = func.ty(store).result_types().len();
        let mut results = Results {
            values: [Val::I32(0); MAX_FUNC_ARITY],
            len,
        };
        let out = results.values.get_mut(..len).ok_or(Failure::Arguments)?;
        Ok(func
            .call(store, &args[..c.args.count as usize], out)
            .map(|()| results))
    }

    fn command(
        &self,
        store: &mut Store<'a, ()>,
        linker: &mut Linker<()>,
        state: &mut SegmentState,
        c: &CommandRecord<'b>,
    ) -> Outcome<'b> {
        match self.try_command(store, linker, state, c) {
            Ok(outcome) => outcome,
            Err(failure) => Outcome::Fail(failure),
        }
    }

    fn try_command(
        &self,
        store: &mut Store<'a, ()>,
        linker: &mut Linker<()>,
        state: &mut SegmentState,
        c: &CommandRecord<'b>,
    ) -> Result<Outcome<'b>, Failure<'b>> {
        let trap = |expected: &'b str, code: TrapCode| {
            if messages_agree(expected, code.message()) {
                Outcome::Pass
            } else {
                Outcome::PassTrapMessageDiffers {
                    expected,
                    got: code,
                }
            }
        };
        match c.kind {
            CommandKind::BeginSegment => Err(Failure::OutsideSegment),
            CommandKind::Module => {
                // A failed module leaves no current instance, so what follows fails rather
                // than runs against a stale instance (as in the hosted harness).
                state.current = None;
                let instance = self
                    .instantiate(store, linker, c.module)?
                    .map_err(Failure::Instantiate)?;
                if c.instance != NO_SLOT {
                    let slot = state
                        .named
                        .get_mut(c.instance as usize)
                        .ok_or(Failure::Format(FormatError::BadRecord("instance slot")))?;
                    *slot = Some(instance);
                }
                state.current = Some(instance);
                Ok(Outcome::Pass)
            }
            CommandKind::Register => {
                let instance = self.instance(state, c.instance)?;
                linker
                    .instance(store, c.name, instance)
                    .map_err(Failure::Register)?;
                Ok(Outcome::Pass)
            }
            CommandKind::Action => match c.action {
                ActionKind::Invoke => {
                    self.invoke(store, state, c)?.map_err(Failure::Call)?;
                    Ok(Outcome::Pass)
                }
                _ => Err(Failure::BadAction),
            },
            CommandKind::AssertReturn => {
                let mut got = Results {
                    values: [Val::I32(0); MAX_FUNC_ARITY],
                    len: 0,
                };
                match c.action {
                    ActionKind::Invoke => {
                        got = self.invoke(store, state, c)?.map_err(Failure::Call)?
                    }
                    ActionKind::Get => {
                        let instance = self.instance(state, c.instance)?;
                        let global = instance
                            .get_global(store, c.name)
                            .ok_or(Failure::NoGlobal(c.name))?;
                        got.values[0] = global.get(store);
                        got.len = 1;
                    }
                    ActionKind::Instantiate => {
                        self.instantiate(store, linker, c.module)?
                            .map_err(Failure::Instantiate)?;
                    }
                    ActionKind::None => return Err(Failure::BadAction),
                }
                self.check_results(c.expected, &got.values[..got.len])?;
                Ok(Outcome::Pass)
            }
            CommandKind::AssertTrap | CommandKind::AssertExhaustion => {
                let result = match c.action {
                    ActionKind::Invoke => self.invoke(store, state, c)?.map(|_| ()),
                    ActionKind::Instantiate if c.kind == CommandKind::AssertTrap => {
                        match self.instantiate(store, linker, c.module)? {
                            Ok(_) => return Err(Failure::Instantiated),
                            Err(e) => Err(e),
                        }
                    }
                    _ => return Err(Failure::BadAction),
                };
                match result {
                    Ok(()) => Err(Failure::Returned),
                    Err(e) => match e.trap_code() {
                        Some(code) => Ok(trap(c.message, code)),
                        None => Err(Failure::NotATrap(e)),
                    },
                }
            }
            CommandKind::AssertUnlinkable => match self.instantiate(store, linker, c.module)? {
                Ok(_) => Err(Failure::Instantiated),
                Err(Error::Link(_)) => Ok(Outcome::Pass),
                Err(e) => Err(Failure::NotALinkError(e)),
            },
        }
    }

    /// Checks results against the expected records (an `Either` record is followed by its
    /// alternatives).
    fn check_results(&self, expected: Range, got: &[Val]) -> Result<(), Failure<'b>> {
        let mut index = 0usize;
        let mut record = expected.first;
        let end = expected.first.saturating_add(expected.count);
        let mut results = 0u32;
        while record < end {
            let r = self.bundle.value(record)?;
            record += 1;
            let (ok, shown) = if r.kind == ValueKind::Either {
                if r.extra as usize > MAX_ALTERNATIVES || record.saturating_add(r.extra) > end {
                    return Err(FormatError::BadRecord("either").into());
                }
                let mut ok = false;
                for alt in record..record + r.extra {
                    let e = self
                        .bundle
                        .value(alt)?
                        .expected()
                        .ok_or(FormatError::BadRecord("either alternative"))?;
                    ok |= got.get(index).is_some_and(|g| matches(&e, g));
                }
                record += r.extra;
                (ok, Shown::Either(r.extra))
            } else {
                let e = r
                    .expected()
                    .ok_or(FormatError::BadRecord("expected value"))?;
                (
                    got.get(index).is_some_and(|g| matches(&e, g)),
                    Shown::One(e),
                )
            };
            results += 1;
            if let Some(g) = got.get(index)
                && !ok
            {
                return Err(Failure::Mismatch {
                    index,
                    expected: shown,
                    got: *g,
                });
            }
            index += 1;
        }
        if results as usize != got.len() {
            return Err(Failure::ResultCount {
                expected: results,
                got: got.len(),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_stay_small() {
        // A failure is at most the runtime's error plus a tag: outcomes are passed by reference
        // per case, never stored.
        assert!(core::mem::size_of::<Failure<'_>>() <= core::mem::size_of::<Error>() + 8);
        assert!(core::mem::size_of::<FormatError>() <= 24);
    }

    #[test]
    fn trap_messages_agree_loosely() {
        assert!(messages_agree("unreachable", "unreachable"));
        assert!(messages_agree("unreachable executed", "unreachable"));
        assert!(messages_agree(
            "Out Of Bounds memory access",
            "out of bounds memory access"
        ));
        assert!(!messages_agree(
            "integer overflow",
            "integer divide by zero"
        ));
        assert!(!messages_agree("integer overflow", ""));
    }

    #[test]
    fn expectations_match_by_bits_and_nan_rules() {
        assert!(matches(
            &Expected::Exact(Value::F32(0x8000_0000)),
            &Val::F32(0x8000_0000)
        ));
        assert!(!matches(
            &Expected::Exact(Value::F32(0x8000_0000)),
            &Val::F32(0)
        ));
        assert!(matches(&Expected::F32CanonicalNan, &Val::F32(0xffc0_0000)));
        assert!(!matches(&Expected::F32CanonicalNan, &Val::F32(0x7fc0_0001)));
        assert!(matches(&Expected::F32ArithmeticNan, &Val::F32(0x7fc0_0001)));
        assert!(!matches(
            &Expected::F32ArithmeticNan,
            &Val::F32(0x7fa0_0000)
        ));
        assert!(matches(
            &Expected::F64CanonicalNan,
            &Val::F64(0xfff8_0000_0000_0000)
        ));
        assert!(!matches(
            &Expected::F64ArithmeticNan,
            &Val::F64(0x7ff4_0000_0000_0000)
        ));
        assert!(matches(&Expected::RefNullAny, &Val::ExternRef(None)));
        assert!(matches(&Expected::RefNullAny, &Val::FuncRef(None)));
        assert!(!matches(
            &Expected::Exact(Value::FuncRefNull),
            &Val::ExternRef(None)
        ));
        assert!(matches(
            &Expected::Exact(Value::ExternRef(7)),
            &Val::ExternRef(Some(ExternRef::new(7)))
        ));
        assert!(!matches(&Expected::ExternRefNonNull, &Val::ExternRef(None)));
        assert!(!matches(&Expected::Exact(Value::I32(1)), &Val::I64(1)));
    }
}
