//! Spec bundles on the host: build them, and run them hosted.
//!
//! ```sh
//! # Build (natively): every WebAssembly 2.0 spec file, compiled for AArch64 (the default) or
//! # for a Cortex-M profile (--target cortex-m4f | cortex-m7 | cortex-m33 | cortex-m55).
//! cargo run -p tests --release --bin spec_bundle -- build OUT_DIR [--target NAME] \
//!     [--filter NAME] [--max-bytes N]
//! # Run the same bundles hosted (AArch64 bundles under qemu-aarch64 user mode, cortex-m7 and
//! # cortex-m4f bundles on armv7-unknown-linux-gnueabihf under qemu-arm), with the board's
//! # engine limits, printing exactly what the board firmware prints; then compare the failures
//! # with tests/spec-expected-failures.txt + spec-expected-failures-<target>.txt.
//! cargo run -p tests --release --target aarch64-unknown-linux-gnu --bin spec_bundle -- run OUT_DIR \
//!     [--expectations tests/spec-bundle-expected-failures-qemu-virt-aarch64.txt] [--default-engine]
//! # Check a board's report (its console lines) against the same expectations: for the cases a
//! # hosted run cannot reproduce (board-only limits), which the boards leave out of the
//! # line-by-line comparison.
//! cargo run -p tests --bin spec_bundle -- check BOARD_REPORT OUT_DIR [--expectations FILE]
//! ```
//!
//! The expectations are those of the hosted spec test for the bundles' target (the target is
//! recorded in every bundle header: `tests/spec-expected-failures.txt` merged with
//! `spec-expected-failures-<target>.txt`); anything board-specific goes in the board's own
//! `--expectations` file.
//!
//! `--engine "LINE"` takes the engine limits from the board's first report line (what
//! `spec-bundle.sh` passes, so both runs use the same limits); without it, the board's current
//! defaults below.
//! `--default-engine` runs with the hosted spec test's engine (`EngineConfig::default()`)
//! instead of the board's limits: the bundle itself must then pass exactly as the hosted spec
//! test does, which checks the segment planner (cuts, replays) end to end.
//!
//! `build` writes `OUT_DIR/spec-bundle-N.bin` (one per boot) and `OUT_DIR/host-failures.txt`
//! (`file:line reason` of host-side cases that failed), and prints the figures. `run` prints the
//! report of `spec_bundle::report` on stdout (byte-identical to the board's console lines) and
//! the expectations check on stderr; exit status 0 when the failures match the expectations.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use device_runtime::{Engine, EngineConfig};
use shared_types::Target;
use spec_bundle::report::{self, Totals};
use spec_bundle::{Bundle, Executor};
use tests::bundle::{MAX_BUNDLE_BYTES, compiler_config_for, generate_with};
use tests::expectations::Expectations;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("build") => build(&args[1..]),
        Some("run") => run(&args[1..]),
        Some("check") => check(&args[1..]),
        _ => Err(anyhow::anyhow!(
            "usage: spec_bundle build OUT_DIR [--target NAME] [--filter NAME] [--max-bytes N] | run DIR_OR_BUNDLES... | check BOARD_REPORT DIR_OR_BUNDLES..."
        )),
    };
    match result {
        Ok(true) => {}
        Ok(false) => std::process::exit(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(2);
        }
    }
}

fn option(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn build(args: &[String]) -> Result<bool> {
    let out = PathBuf::from(args.first().context("build OUT_DIR")?);
    let filter = option(args, "--filter");
    let max_bytes = match option(args, "--max-bytes") {
        Some(n) => n.parse().context("--max-bytes")?,
        None => MAX_BUNDLE_BYTES,
    };
    let target = match option(args, "--target") {
        Some(name) => {
            Target::from_name(&name).with_context(|| format!("unknown target {name:?}"))?
        }
        None => Target::Aarch64,
    };
    let jobs = std::thread::available_parallelism().map_or(2, |n| n.get());
    let start = Instant::now();
    let files: Vec<_> = tests::spec_runner::spec_files()
        .into_iter()
        .filter(|(n, _)| filter.as_deref().is_none_or(|f| n.contains(f)))
        .collect();
    // Files the expectations exclude (SIMD) are not bundled, as the hosted spec test does not
    // run them.
    let expected = expectations_with(target, &[])?;
    let files: Vec<_> = files
        .into_iter()
        .filter(|(n, _)| expected.exclusion(n).is_none())
        .collect();
    let generated = generate_with(compiler_config_for(target), &files, max_bytes, jobs)?;
    std::fs::create_dir_all(&out).with_context(|| out.display().to_string())?;
    for old in std::fs::read_dir(&out)?.flatten() {
        if old
            .file_name()
            .to_string_lossy()
            .starts_with("spec-bundle-")
        {
            std::fs::remove_file(old.path())?;
        }
    }
    let mut bytes = 0;
    for (i, b) in generated.bundles.iter().enumerate() {
        let path = out.join(format!("spec-bundle-{i}.bin"));
        std::fs::write(&path, b).with_context(|| path.display().to_string())?;
        bytes += b.len();
    }
    let mut failures = String::new();
    for (f, l, why) in &generated.host_failures {
        failures.push_str(&format!("{f}:{l} {why}\n"));
    }
    std::fs::write(out.join("host-failures.txt"), &failures)?;
    println!(
        "spec bundles ({target}): {} files, {} board cases ({} segments, {} modules), {} host-side cases ({} failed), {} bundle(s) = {} boot(s), {} bytes, built in {:.1}s into {}",
        generated.files,
        generated.board_cases,
        generated.segments,
        generated.modules,
        generated.host_cases,
        generated.host_failures.len(),
        generated.bundles.len(),
        generated.bundles.len(),
        bytes,
        start.elapsed().as_secs_f64(),
        out.display()
    );
    for (f, l, why) in &generated.host_failures {
        println!("HOST FAIL {f}:{l} {why}");
    }
    for (f, l, m) in &generated.oversized_segments {
        println!(
            "warning: {f}: the segment starting at line {l} has {m} modules (a device loads at most {})",
            spec_bundle::format::MAX_SEGMENT_MODULES
        );
    }
    Ok(true)
}

/// The hosted spec test's expectations for `target`, merged with `extra` files (the board's
/// limits).
fn expectations_with(target: Target, extra: &[PathBuf]) -> Result<Expectations> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut e =
        Expectations::load(&dir.join("spec-expected-failures.txt")).map_err(anyhow::Error::msg)?;
    let name = target.name();
    let path = dir.join(format!("spec-expected-failures-{name}.txt"));
    if path.exists() {
        let t = Expectations::load(&path).map_err(anyhow::Error::msg)?;
        e.merge(&t);
    }
    for path in extra {
        if !path.exists() {
            bail!("{}: no such expectations file", path.display());
        }
        let x = Expectations::load(path).map_err(anyhow::Error::msg)?;
        e.merge(&x);
    }
    Ok(e)
}

/// The board's engine limits (`qemu_virt_aarch64::engine_config_large_memories()`: 64 MiB
/// memory reservation, one 4 KiB guard page, 256 KiB of wasm stack, 64 KiB store arenas) on
/// the hosted platform, so that results that depend on them (a `memory.grow` past the
/// reservation) are the same. Both runners print these figures in their first lines, so a
/// change on one side shows in the comparison.
fn board_like_config() -> EngineConfig {
    let mut config = EngineConfig::default();
    config.memory_reservation = 64 << 20;
    config.memory_guard = 4096;
    config.max_wasm_stack = 256 << 10;
    config.store_arena_size = 64 << 10;
    config
}

/// An engine configuration with the limits a board printed (`spec-bundle: engine
/// memory_reservation=N memory_guard=N max_wasm_stack=N store_arena_size=N`, the first line
/// of `spec_bundle::report::print_engine`), on the hosted platform.
fn engine_from_line(line: &str) -> Result<EngineConfig> {
    let mut config = EngineConfig::default();
    let fields = line
        .trim()
        .strip_prefix("spec-bundle: engine ")
        .unwrap_or(line.trim());
    let mut seen = 0;
    for field in fields.split_whitespace() {
        let (key, value) = field
            .split_once('=')
            .with_context(|| format!("bad engine field {field:?}"))?;
        let value: u64 = value
            .parse()
            .with_context(|| format!("bad engine value {field:?}"))?;
        match key {
            "memory_reservation" => config.memory_reservation = value,
            "memory_guard" => config.memory_guard = value,
            "max_wasm_stack" => config.max_wasm_stack = usize::try_from(value)?,
            "store_arena_size" => config.store_arena_size = usize::try_from(value)?,
            _ => bail!("unknown engine field {key:?}"),
        }
        seen += 1;
    }
    if seen != 4 {
        bail!("engine line {line:?}: expected 4 fields");
    }
    Ok(config)
}

fn bundle_paths(args: &[String]) -> Result<Vec<PathBuf>> {
    let mut paths = Vec::new();
    for a in args {
        let p = PathBuf::from(a);
        if p.is_dir() {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&p)?
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("spec-bundle-"))
                })
                .collect();
            found.sort_by_key(|p| {
                p.file_stem()
                    .and_then(|s| s.to_string_lossy().rsplit('-').next()?.parse::<u32>().ok())
            });
            paths.extend(found);
        } else {
            paths.push(p);
        }
    }
    if paths.is_empty() {
        bail!("no bundles given");
    }
    Ok(paths)
}

/// The bundle's bytes at a 64-byte aligned address (images are read in place).
fn aligned(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut buffer = vec![0u8; bytes.len() + 64];
    let offset = buffer.as_ptr().align_offset(64);
    buffer[offset..offset + bytes.len()].copy_from_slice(bytes);
    (buffer, offset)
}

fn run(args: &[String]) -> Result<bool> {
    let mut extra = Vec::new();
    let mut default_engine = false;
    let mut engine_line = None;
    let mut positional = Vec::new();
    let mut args_iter = args.iter();
    while let Some(a) = args_iter.next() {
        if a == "--default-engine" {
            default_engine = true;
        } else if a == "--engine" {
            engine_line = Some(args_iter.next().context("--engine LIMITS")?.clone());
        } else if a == "--expectations" {
            extra.push(PathBuf::from(
                args_iter.next().context("--expectations FILE")?,
            ));
        } else {
            positional.push(a.clone());
        }
    }
    let paths = bundle_paths(&positional)?;
    // `--default-engine`: the hosted spec test's engine (4 GiB reservations), which checks the
    // bundle itself (segments, replays) against the spec expectations without board limits.
    let config = match (default_engine, engine_line) {
        (true, _) => EngineConfig::default(),
        (false, Some(line)) => engine_from_line(&line)?,
        (false, None) => board_like_config(),
    };
    let engine = Engine::new(&config);
    let executor = Executor::new(&engine);
    let mut failures = Failures::new();
    let mut readable = true;
    let start = Instant::now();
    for path in &paths {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let (buffer, offset) = aligned(&bytes);
        let bundle = match Bundle::parse(&buffer[offset..offset + bytes.len()]) {
            Ok(b) => b,
            Err(e) => {
                println!("spec-bundle: {}: {e}", path.display());
                readable = false;
                continue;
            }
        };
        let mut out = String::new();
        let _ = report::print_engine(&mut out, &config);
        let _ = report::print_header(&mut out, &bundle);
        let mut totals = Totals::default();
        for i in 0..bundle.file_count() {
            let mut file_out = String::new();
            report::run_file(&executor, &bundle, i, &mut file_out, &mut totals);
            collect_failures(&file_out, &mut failures);
            out.push_str(&file_out);
        }
        let _ = report::print_totals(&mut out, &bundle, &totals);
        print!("{out}");
        readable &= totals.bad_files == 0;
    }
    add_host_failures(&paths, &mut failures);
    let (target, files) = bundle_files(&paths)?;
    let mismatches = compare(&failures, &files, target, &extra)?;
    eprintln!(
        "spec-bundle hosted run: {} bundle(s) in {:.1}s; {} failures; expectations (tests/spec-expected-failures*.txt, {}): {}",
        paths.len(),
        start.elapsed().as_secs_f64(),
        failures.len(),
        target,
        if mismatches.is_empty() {
            "agree".to_string()
        } else {
            format!("{} DISAGREEMENTS", mismatches.len())
        }
    );
    for m in &mismatches {
        eprintln!("{m}");
    }
    Ok(mismatches.is_empty() && readable)
}

/// Failing cases: `file:line` to reason.
type Failures = BTreeMap<(String, usize), String>;

/// Adds the `FAIL file:line reason` lines of a report to `failures`.
fn collect_failures(report: &str, failures: &mut Failures) {
    for line in report.lines() {
        if let Some(rest) = line.strip_prefix("FAIL ") {
            add_failure(rest, failures);
        }
    }
}

/// Adds one `file:line reason` to `failures`.
fn add_failure(entry: &str, failures: &mut Failures) {
    if let Some((key, why)) = entry.split_once(' ')
        && let Some((file, line)) = key.rsplit_once(':')
    {
        failures.insert((file.to_string(), line.parse().unwrap_or(0)), why.into());
    }
}

/// Adds the host-side failures `spec_bundle build` recorded next to the bundles.
fn add_host_failures(paths: &[PathBuf], failures: &mut Failures) {
    let mut dirs: Vec<&Path> = paths
        .iter()
        .map(|p| p.parent().unwrap_or(Path::new(".")))
        .collect();
    dirs.dedup();
    for dir in dirs {
        if let Ok(text) = std::fs::read_to_string(dir.join("host-failures.txt")) {
            for l in text.lines() {
                add_failure(l, failures);
            }
        }
    }
}

/// The target the bundles were compiled for (all the same) and the names of the files they
/// hold.
fn bundle_files(paths: &[PathBuf]) -> Result<(Target, std::collections::BTreeSet<String>)> {
    let mut target = None;
    let mut files = std::collections::BTreeSet::new();
    for path in paths {
        let bytes = std::fs::read(path).with_context(|| path.display().to_string())?;
        let (buffer, offset) = aligned(&bytes);
        let b = Bundle::parse(&buffer[offset..offset + bytes.len()])
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let t = u8::try_from(b.target)
            .ok()
            .and_then(Target::from_code)
            .with_context(|| format!("{}: unknown target code", path.display()))?;
        if target.is_some_and(|seen| seen != t) {
            bail!("{}: bundles for different targets", path.display());
        }
        target = Some(t);
        files
            .extend((0..b.file_count()).filter_map(|i| b.file(i).ok().map(|f| f.name.to_string())));
    }
    Ok((target.context("no bundles")?, files))
}

/// Same rule as the hosted spec test: every failure must be listed, every listed case of a
/// bundled file must fail. Returns the disagreements.
fn compare(
    failures: &Failures,
    files: &std::collections::BTreeSet<String>,
    target: Target,
    extra: &[PathBuf],
) -> Result<Vec<String>> {
    let expected = expectations_with(target, extra)?;
    let mut mismatches = Vec::new();
    for (key, why) in failures {
        if !expected.failures.contains_key(key) {
            mismatches.push(format!("  unexpected failure {}:{} {why}", key.0, key.1));
        }
    }
    for (key, why) in &expected.failures {
        if files.contains(&key.0) && !failures.contains_key(key) {
            mismatches.push(format!(
                "  listed as failing, passed: {}:{} {why}",
                key.0, key.1
            ));
        }
    }
    Ok(mismatches)
}

/// `check BOARD_REPORT DIR_OR_BUNDLES... [--expectations FILE]`: the failures a board reported
/// (its `FAIL` lines) and the host-side ones, against the expectations of the bundles' target.
/// For the failures a hosted run cannot reproduce (a board's own limits), which the boards
/// leave out of the line-by-line comparison.
fn check(args: &[String]) -> Result<bool> {
    let mut extra = Vec::new();
    let mut positional = Vec::new();
    let mut args_iter = args.iter();
    while let Some(a) = args_iter.next() {
        if a == "--expectations" {
            extra.push(PathBuf::from(
                args_iter.next().context("--expectations FILE")?,
            ));
        } else {
            positional.push(a.clone());
        }
    }
    let (report_path, bundles) = positional.split_first().context("check BOARD_REPORT DIR")?;
    let report = std::fs::read_to_string(report_path).with_context(|| report_path.to_string())?;
    let paths = bundle_paths(bundles)?;
    let mut failures = Failures::new();
    collect_failures(&report, &mut failures);
    add_host_failures(&paths, &mut failures);
    let (target, files) = bundle_files(&paths)?;
    let mismatches = compare(&failures, &files, target, &extra)?;
    eprintln!(
        "spec-bundle check of {report_path}: {} failures; expectations (tests/spec-expected-failures*.txt, {}): {}",
        failures.len(),
        target,
        if mismatches.is_empty() {
            "agree".to_string()
        } else {
            format!("{} DISAGREEMENTS", mismatches.len())
        }
    );
    for m in &mismatches {
        eprintln!("{m}");
    }
    Ok(mismatches.is_empty())
}
