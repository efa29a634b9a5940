//! The spec-testsuite harness: executes every directive of a `.wast` file against a
//! [`Backend`] and counts one case per directive.
//!
//! The harness knows nothing about our compiler or runtime: those are behind [`Backend`]
//! (`crate::device` for the real toolchain). A reference backend (wasmi) is used by the
//! `spec_reference` test to check the harness itself, so a failure counted against our
//! toolchain is a failure of the toolchain and not of the harness.

use std::collections::{BTreeSet, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use host_compiler::Proposals;
use wast::core::{AbstractHeapType, HeapType, NanPattern, WastArgCore, WastRetCore};
use wast::parser::{self, ParseBuffer};
use wast::token::Id;
use wast::{QuoteWat, Wast, WastArg, WastDirective, WastExecute, WastInvoke, WastRet};

/// A value crossing the harness/backend boundary. Floats are kept as bits so NaN payloads
/// survive.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32` bits.
    F32(u32),
    /// `f64` bits.
    F64(u64),
    /// `v128` (only for completeness: SIMD files are excluded).
    V128(u128),
    /// A funcref; `true` when non-null (the harness cannot name functions across backends).
    FuncRef(bool),
    /// An externref: `None` is null, `Some(id)` the host value `ref.extern id`.
    ExternRef(Option<u32>),
}

/// Why instantiation failed.
#[derive(Clone, Debug)]
pub enum InstantiateError {
    /// Imports did not match (unknown import, wrong kind or type, limits).
    Link(String),
    /// A trap while running the start function or initialising segments.
    Trap(String),
    /// Anything else (resource limits, runtime errors): never what a spec assertion expects.
    Other(String),
}

/// Why a module did not compile.
#[derive(Clone, Debug)]
pub enum CompileError {
    /// The compiler refused the module (malformed or invalid): what `assert_invalid` and
    /// `assert_malformed` expect.
    Rejected(String),
    /// The compiler accepted the module but the result is unusable (for instance the runtime
    /// refuses the image): never an expected outcome.
    Broken(String),
}

impl std::fmt::Display for CompileError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompileError::Rejected(e) => write!(f, "rejected: {e}"),
            CompileError::Broken(e) => write!(f, "accepted but unusable: {e}"),
        }
    }
}

/// Why a call failed.
#[derive(Clone, Debug)]
pub enum CallError {
    /// The call trapped; the message is the backend's trap message.
    Trap(String),
    /// Anything else (no such export, wrong argument types, runtime error).
    Other(String),
}

/// An engine the harness drives. One backend value runs one `.wast` file; it must provide
/// the `spectest` module itself (see [`SPECTEST_WAT`]).
pub trait Backend {
    /// A compiled module.
    type Module;
    /// An instance handle.
    type Instance: Clone;
    /// Compiles (and validates) a binary module.
    fn compile(&mut self, wasm: &[u8]) -> Result<Self::Module, CompileError>;
    /// Instantiates against everything registered so far.
    fn instantiate(&mut self, module: &Self::Module) -> Result<Self::Instance, InstantiateError>;
    /// Makes the exports of `instance` importable under module name `name`.
    fn register(&mut self, name: &str, instance: &Self::Instance) -> Result<(), String>;
    /// Calls export `func` of `instance`.
    fn invoke(
        &mut self,
        instance: &Self::Instance,
        func: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, CallError>;
    /// Reads exported global `global` of `instance`.
    fn get_global(&mut self, instance: &Self::Instance, global: &str) -> Result<Value, String>;
    /// Validates later modules with WebAssembly 2.0 plus `proposals`: called before a file's
    /// first directive with what the file is written for ([`crate::spec_runner::file_proposals`]).
    fn set_proposals(&mut self, proposals: Proposals);
}

/// The `spectest` module every spec file may import from, except its functions (they print,
/// so backends define them as host functions): globals, a table and a memory, as the
/// reference interpreter defines them.
pub const SPECTEST_WAT: &str = r#"(module
  (global (export "global_i32") i32 (i32.const 666))
  (global (export "global_i64") i64 (i64.const 666))
  (global (export "global_f32") f32 (f32.const 666.6))
  (global (export "global_f64") f64 (f64.const 666.6))
  (table (export "table") 10 20 funcref)
  (memory (export "memory") 1 2)
)"#;

/// The spectest host functions: name and parameter types.
pub const SPECTEST_FUNCS: &[(&str, &[&str])] = &[
    ("print", &[]),
    ("print_i32", &["i32"]),
    ("print_i64", &["i64"]),
    ("print_f32", &["f32"]),
    ("print_f64", &["f64"]),
    ("print_i32_f32", &["i32", "f32"]),
    ("print_f64_f64", &["f64", "f64"]),
];

/// Outcome of one file.
#[derive(Clone, Debug, Default)]
pub struct FileReport {
    /// File name.
    pub name: String,
    /// Cases (directives) that passed.
    pub passed: usize,
    /// Cases that failed: (line, description).
    pub failed: Vec<(usize, String)>,
    /// Cases not run because the caller asked to skip their line.
    pub skipped: Vec<usize>,
    /// Of `passed`: `assert_malformed`/`assert_invalid` cases that passed only because the
    /// text could not be encoded (they never reached our compiler).
    pub text_only: usize,
    /// Passing `assert_trap`/`assert_exhaustion` cases whose trap message differs from the
    /// spec's: (line, expected, got).
    pub message_mismatches: Vec<(usize, String, String)>,
}

impl FileReport {
    /// Cases run (passed + failed).
    pub fn total(&self) -> usize {
        self.passed + self.failed.len()
    }
}

/// Progress events, for callers that need to know which case is running (the process-isolating
/// runner prints them so a crash can be attributed to a line).
pub trait Observer {
    /// About to run the directive at `line`.
    fn start(&mut self, _line: usize) {}
    /// The directive at `line` finished: `Ok(())` or the failure description.
    fn finish(&mut self, _line: usize, _outcome: &Result<(), String>) {}
}

/// An observer that does nothing.
#[derive(Debug)]
pub struct NoObserver;
impl Observer for NoObserver {}

/// Runs every directive of `contents` against `backend`, validating with the proposals of the
/// spec file `name` ([`crate::spec_runner::file_proposals`]). `name` labels the report.
pub fn run_wast_file<B: Backend>(name: &str, contents: &str, mut backend: B) -> FileReport {
    backend.set_proposals(crate::spec_runner::file_proposals(name));
    run_wast_file_with(name, contents, backend, &BTreeSet::new(), &mut NoObserver)
}

/// Runs every directive of `contents` against `backend` as it is configured (the caller sets
/// its proposals). `name` labels the report; lines in `skip` are not run (and are reported as
/// skipped); `observer` hears of every case.
pub fn run_wast_file_with<B: Backend>(
    name: &str,
    contents: &str,
    backend: B,
    skip: &BTreeSet<usize>,
    observer: &mut dyn Observer,
) -> FileReport {
    let mut report = FileReport {
        name: name.to_string(),
        ..FileReport::default()
    };
    let mut lexer = wast::lexer::Lexer::new(contents);
    lexer.allow_confusing_unicode(true);
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(b) => b,
        Err(e) => {
            report
                .failed
                .push((0, format!("harness: cannot lex file: {e}")));
            return report;
        }
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(w) => w,
        Err(e) => {
            report
                .failed
                .push((0, format!("harness: cannot parse file: {e}")));
            return report;
        }
    };
    let mut runner = Runner {
        backend,
        current: None,
        named: HashMap::new(),
        definitions: HashMap::new(),
    };
    for directive in wast.directives {
        let line = directive.span().linecol_in(contents).0 + 1;
        if skip.contains(&line) {
            report.skipped.push(line);
            continue;
        }
        observer.start(line);
        let outcome = match catch_unwind(AssertUnwindSafe(|| runner.directive(directive))) {
            Ok(o) => o,
            Err(payload) => {
                let msg = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "non-string panic".into());
                Err(format!("panic: {msg}"))
            }
        };
        let result = match outcome {
            Ok(Pass::Plain) => Ok(()),
            Ok(Pass::TextOnly) => {
                report.text_only += 1;
                Ok(())
            }
            Ok(Pass::MessageMismatch { expected, got }) => {
                report.message_mismatches.push((line, expected, got));
                Ok(())
            }
            Err(e) => Err(one_line(&e)),
        };
        observer.finish(line, &result);
        match result {
            Ok(()) => report.passed += 1,
            Err(e) => report.failed.push((line, e)),
        }
    }
    report
}

/// Squashes a message onto one line (the expectations file is line-based).
pub fn one_line(s: &str) -> String {
    let s: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

enum Pass {
    Plain,
    TextOnly,
    MessageMismatch { expected: String, got: String },
}

struct Runner<B: Backend> {
    backend: B,
    current: Option<B::Instance>,
    named: HashMap<String, B::Instance>,
    definitions: HashMap<String, B::Module>,
}

fn id_name(id: &Option<Id<'_>>) -> Option<String> {
    id.as_ref().map(|i| i.name().to_string())
}

impl<B: Backend> Runner<B> {
    fn instance(&self, id: &Option<Id<'_>>) -> Result<B::Instance, String> {
        match id {
            Some(id) => self
                .named
                .get(id.name())
                .cloned()
                .ok_or_else(|| format!("no instance named ${}", id.name())),
            None => self
                .current
                .clone()
                .ok_or_else(|| "no current instance (its module failed)".to_string()),
        }
    }

    fn compile_quote(&mut self, module: &mut QuoteWat<'_>) -> Result<B::Module, String> {
        let wasm = module
            .encode()
            .map_err(|e| format!("harness: wast cannot encode the module: {e}"))?;
        self.backend
            .compile(&wasm)
            .map_err(|e| format!("compile error: {e}"))
    }

    fn directive(&mut self, directive: WastDirective<'_>) -> Result<Pass, String> {
        match directive {
            WastDirective::Module(mut module) => {
                let name = id_name(&module.name());
                // A failed module leaves no current instance, so the assertions that follow fail
                // rather than run against a stale instance.
                self.current = None;
                let compiled = self.compile_quote(&mut module)?;
                let instance = self
                    .backend
                    .instantiate(&compiled)
                    .map_err(|e| format!("instantiate: {e:?}"))?;
                if let Some(name) = name {
                    self.named.insert(name, instance.clone());
                }
                self.current = Some(instance);
                Ok(Pass::Plain)
            }
            WastDirective::ModuleDefinition(mut module) => {
                let name = id_name(&module.name());
                let compiled = self.compile_quote(&mut module)?;
                if let Some(name) = name {
                    self.definitions.insert(name, compiled);
                }
                Ok(Pass::Plain)
            }
            WastDirective::ModuleInstance {
                instance, module, ..
            } => {
                self.current = None;
                let def = id_name(&module).ok_or("module instance without a module name")?;
                let compiled = self
                    .definitions
                    .get(&def)
                    .ok_or_else(|| format!("no module definition ${def}"))?;
                let inst = self
                    .backend
                    .instantiate(compiled)
                    .map_err(|e| format!("instantiate: {e:?}"))?;
                if let Some(name) = id_name(&instance) {
                    self.named.insert(name, inst.clone());
                }
                self.current = Some(inst);
                Ok(Pass::Plain)
            }
            WastDirective::Register { name, module, .. } => {
                let inst = self.instance(&module)?;
                self.backend.register(name, &inst)?;
                Ok(Pass::Plain)
            }
            WastDirective::Invoke(invoke) => {
                self.invoke(&invoke)
                    .map_err(|e| format!("invoke {:?}: {e:?}", invoke.name))?;
                Ok(Pass::Plain)
            }
            WastDirective::AssertReturn { exec, results, .. } => {
                let got = match exec {
                    WastExecute::Invoke(invoke) => self
                        .invoke(&invoke)
                        .map_err(|e| format!("invoke {:?}: {e:?}", invoke.name))?,
                    WastExecute::Get { module, global, .. } => {
                        let inst = self.instance(&module)?;
                        vec![
                            self.backend
                                .get_global(&inst, global)
                                .map_err(|e| format!("get {global:?}: {e}"))?,
                        ]
                    }
                    WastExecute::Wat(mut wat) => {
                        let wasm = wat
                            .encode()
                            .map_err(|e| format!("harness: cannot encode: {e}"))?;
                        let m = self
                            .backend
                            .compile(&wasm)
                            .map_err(|e| format!("compile error: {e}"))?;
                        self.backend
                            .instantiate(&m)
                            .map_err(|e| format!("instantiate: {e:?}"))?;
                        Vec::new()
                    }
                };
                check_results(&results, &got)?;
                Ok(Pass::Plain)
            }
            WastDirective::AssertTrap { exec, message, .. } => {
                let trap = match exec {
                    WastExecute::Invoke(invoke) => match self.invoke(&invoke) {
                        Ok(values) => {
                            return Err(format!("expected trap {message:?}, returned {values:?}"));
                        }
                        Err(CallError::Trap(m)) => m,
                        Err(CallError::Other(e)) => {
                            return Err(format!("expected trap {message:?}, got error {e}"));
                        }
                    },
                    WastExecute::Get { .. } => return Err("harness: assert_trap on get".into()),
                    // assert_uninstantiable: compiles, then traps while instantiating.
                    WastExecute::Wat(mut wat) => {
                        let wasm = wat
                            .encode()
                            .map_err(|e| format!("harness: cannot encode: {e}"))?;
                        let m = self
                            .backend
                            .compile(&wasm)
                            .map_err(|e| format!("compile error: {e}"))?;
                        match self.backend.instantiate(&m) {
                            Ok(_) => {
                                return Err(format!(
                                    "expected instantiation to trap {message:?}, it succeeded"
                                ));
                            }
                            Err(InstantiateError::Trap(m)) => m,
                            Err(e) => {
                                return Err(format!(
                                    "expected instantiation to trap {message:?}, got {e:?}"
                                ));
                            }
                        }
                    }
                };
                Ok(trap_pass(message, trap))
            }
            WastDirective::AssertExhaustion { call, message, .. } => match self.invoke(&call) {
                Ok(values) => Err(format!(
                    "expected exhaustion {message:?}, returned {values:?}"
                )),
                Err(CallError::Trap(m)) => Ok(trap_pass(message, m)),
                Err(CallError::Other(e)) => {
                    Err(format!("expected exhaustion {message:?}, got error {e}"))
                }
            },
            WastDirective::AssertInvalid {
                mut module,
                message,
                ..
            }
            | WastDirective::AssertMalformed {
                mut module,
                message,
                ..
            } => {
                let wasm = match module.encode() {
                    Ok(w) => w,
                    // The text itself is rejected (malformed text, or invalid in a way the text
                    // format cannot express): nothing reaches our compiler.
                    Err(_) => return Ok(Pass::TextOnly),
                };
                match self.backend.compile(&wasm) {
                    Ok(_) => Err(format!("compiled, expected rejection {message:?}")),
                    Err(CompileError::Rejected(_)) => Ok(Pass::Plain),
                    Err(e @ CompileError::Broken(_)) => {
                        Err(format!("expected rejection {message:?}, got {e}"))
                    }
                }
            }
            WastDirective::AssertUnlinkable {
                mut module,
                message,
                ..
            } => {
                let wasm = module
                    .encode()
                    .map_err(|e| format!("harness: cannot encode: {e}"))?;
                let m = self
                    .backend
                    .compile(&wasm)
                    .map_err(|e| format!("compile error: {e}"))?;
                match self.backend.instantiate(&m) {
                    Ok(_) => Err(format!("expected link error {message:?}, instantiated")),
                    Err(InstantiateError::Link(_)) => Ok(Pass::Plain),
                    Err(e) => Err(format!("expected link error {message:?}, got {e:?}")),
                }
            }
            other => Err(format!("harness: unsupported directive {other:?}")
                .chars()
                .take(120)
                .collect()),
        }
    }

    fn invoke(&mut self, invoke: &WastInvoke<'_>) -> Result<Vec<Value>, CallError> {
        let inst = self.instance(&invoke.module).map_err(CallError::Other)?;
        let args = invoke
            .args
            .iter()
            .map(arg_value)
            .collect::<Result<Vec<_>, _>>()
            .map_err(CallError::Other)?;
        self.backend.invoke(&inst, invoke.name, &args)
    }
}

/// Trap messages are compared loosely: a pass is a trap; a different message is a warning.
fn trap_pass(expected: &str, got: String) -> Pass {
    if messages_agree(expected, &got) {
        Pass::Plain
    } else {
        Pass::MessageMismatch {
            expected: expected.to_string(),
            got,
        }
    }
}

/// Whether a trap message matches the spec's expected message (prefix either way, or one
/// contains the other).
pub fn messages_agree(expected: &str, got: &str) -> bool {
    let (e, g) = (expected.to_ascii_lowercase(), got.to_ascii_lowercase());
    g.contains(&e) || e.contains(&g) && !g.is_empty()
}

/// A wast argument as a [`Value`] (also used by the bundle generator, `crate::bundle`).
pub fn arg_value(arg: &WastArg<'_>) -> Result<Value, String> {
    let WastArg::Core(core) = arg else {
        return Err("harness: component argument".into());
    };
    Ok(match core {
        WastArgCore::I32(v) => Value::I32(*v),
        WastArgCore::I64(v) => Value::I64(*v),
        WastArgCore::F32(v) => Value::F32(v.bits),
        WastArgCore::F64(v) => Value::F64(v.bits),
        WastArgCore::V128(v) => Value::V128(u128::from_le_bytes(v.to_le_bytes())),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Func,
            ..
        }) => Value::FuncRef(false),
        WastArgCore::RefNull(HeapType::Abstract {
            ty: AbstractHeapType::Extern,
            ..
        }) => Value::ExternRef(None),
        WastArgCore::RefExtern(id) => Value::ExternRef(Some(*id)),
        other => return Err(format!("harness: unsupported argument {other:?}")),
    })
}

fn check_results(expected: &[WastRet<'_>], got: &[Value]) -> Result<(), String> {
    if expected.len() != got.len() {
        return Err(format!("expected {} results, got {got:?}", expected.len()));
    }
    for (i, (e, g)) in expected.iter().zip(got).enumerate() {
        let WastRet::Core(e) = e else {
            return Err("harness: component result".into());
        };
        if !matches_ret(e, g) {
            return Err(format!(
                "result {i}: expected {}, got {}",
                describe_ret(e),
                describe_value(g)
            ));
        }
    }
    Ok(())
}

/// The canonical NaN bit rules of the spec (sign ignored).
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

fn matches_ret(expected: &WastRetCore<'_>, got: &Value) -> bool {
    match (expected, got) {
        (WastRetCore::I32(e), Value::I32(g)) => e == g,
        (WastRetCore::I64(e), Value::I64(g)) => e == g,
        (WastRetCore::F32(p), Value::F32(g)) => match p {
            NanPattern::CanonicalNan => f32_is_canonical_nan(*g),
            NanPattern::ArithmeticNan => f32_is_arithmetic_nan(*g),
            NanPattern::Value(v) => v.bits == *g,
        },
        (WastRetCore::F64(p), Value::F64(g)) => match p {
            NanPattern::CanonicalNan => f64_is_canonical_nan(*g),
            NanPattern::ArithmeticNan => f64_is_arithmetic_nan(*g),
            NanPattern::Value(v) => v.bits == *g,
        },
        (WastRetCore::RefNull(ty), Value::FuncRef(nonnull)) => {
            !*nonnull
                && matches!(
                    ty,
                    None | Some(HeapType::Abstract {
                        ty: AbstractHeapType::Func,
                        ..
                    })
                )
        }
        (WastRetCore::RefNull(ty), Value::ExternRef(v)) => {
            v.is_none()
                && matches!(
                    ty,
                    None | Some(HeapType::Abstract {
                        ty: AbstractHeapType::Extern,
                        ..
                    })
                )
        }
        (WastRetCore::RefExtern(e), Value::ExternRef(Some(g))) => e.is_none_or(|e| e == *g),
        (WastRetCore::RefFunc(_), Value::FuncRef(nonnull)) => *nonnull,
        (WastRetCore::Either(options), g) => options.iter().any(|o| matches_ret(o, g)),
        _ => false,
    }
}

fn describe_ret(r: &WastRetCore<'_>) -> String {
    match r {
        WastRetCore::I32(v) => format!("i32:{v}"),
        WastRetCore::I64(v) => format!("i64:{v}"),
        WastRetCore::F32(NanPattern::Value(v)) => {
            format!("f32:{:#010x}({})", v.bits, f32::from_bits(v.bits))
        }
        WastRetCore::F64(NanPattern::Value(v)) => {
            format!("f64:{:#018x}({})", v.bits, f64::from_bits(v.bits))
        }
        WastRetCore::F32(p) => format!(
            "f32:{}",
            if matches!(p, NanPattern::CanonicalNan) {
                "nan:canonical"
            } else {
                "nan:arithmetic"
            }
        ),
        WastRetCore::F64(p) => format!(
            "f64:{}",
            if matches!(p, NanPattern::CanonicalNan) {
                "nan:canonical"
            } else {
                "nan:arithmetic"
            }
        ),
        other => format!("{other:?}").chars().take(80).collect(),
    }
}

fn describe_value(v: &Value) -> String {
    match v {
        Value::I32(v) => format!("i32:{v}"),
        Value::I64(v) => format!("i64:{v}"),
        Value::F32(b) => format!("f32:{b:#010x}({})", f32::from_bits(*b)),
        Value::F64(b) => format!("f64:{b:#018x}({})", f64::from_bits(*b)),
        other => format!("{other:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nan_rules() {
        assert!(f32_is_canonical_nan(0x7fc0_0000));
        assert!(f32_is_canonical_nan(0xffc0_0000));
        assert!(!f32_is_canonical_nan(0x7fc0_0001));
        assert!(f32_is_arithmetic_nan(0x7fc0_0001));
        assert!(
            !f32_is_arithmetic_nan(0x7fa0_0000),
            "signalling NaN is not arithmetic"
        );
        assert!(!f32_is_arithmetic_nan(0x3fc0_0000));
        assert!(f64_is_canonical_nan(0xfff8_0000_0000_0000));
        assert!(!f64_is_canonical_nan(0x7ff8_0000_0000_0001));
        assert!(f64_is_arithmetic_nan(0x7ff8_0000_0000_0001));
        assert!(!f64_is_arithmetic_nan(0x7ff4_0000_0000_0000));
    }

    #[test]
    fn messages() {
        assert!(messages_agree(
            "out of bounds memory access",
            "out of bounds memory access"
        ));
        assert!(messages_agree("unreachable", "unreachable executed"));
        assert!(!messages_agree(
            "integer overflow",
            "integer divide by zero"
        ));
    }
}
