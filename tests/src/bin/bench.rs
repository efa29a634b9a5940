//! Benchmarks: compile throughput, image size against wasm size, and the cost of loading an
//! image with many call sites against one with few (our images carry no relocations, so it
//! should not depend on the number of calls).
//!
//! `cargo run -p tests --release --bin bench` (x86_64: times only)
//! `cargo run -p tests --release --bin bench --target aarch64-unknown-linux-gnu` (under
//! qemu-aarch64: also counts guest instructions per load with tools/qemu-insn-count, a
//! deterministic figure; times under QEMU are not meaningful).
//!
//! Section 4 splits the load cost into stages (header + digest, metadata, code placement,
//! instantiation, first call, and `Module::new_in_place`), counting guest instructions of an
//! aarch64 build of this binary run in `load-stage` mode under qemu-aarch64 with
//! tools/qemu-insn-count. From an x86_64 host the aarch64 runner is built with cargo
//! (`--target aarch64-unknown-linux-gnu`) and the images are compiled natively for aarch64.
//!
//! Section 5 measures the Thumb-2 backend (Cortex-M) on the host: compile throughput and text
//! size against wasm code size, the goals of issue 5 (`bench thumb [FUNCS]` runs only it).
//! `bench thumb-modules FILE...` gives the same two figures for given `.wasm` files, the
//! rustc-built kernels of `scripts/thumb-bench.sh`.
//!
//! Section 6 (`bench preemption [FILE.wasm...]` runs only it) measures the cost of fuel
//! metering and epoch checks in the Cranelift code: guest instructions of the kernels of
//! `tests/fuel/kernels.wat` (and of given `.wasm` files exporting their file stem as
//! `(i32) -> i32`, e.g. the rustc-built kernels of `benchmarks/kernels`) compiled for aarch64
//! without instrumentation, with fuel, with epochs and with both, counted under qemu-aarch64
//! with tools/qemu-insn-count in `preemption-run` mode of an aarch64 build of this binary.
//!
//! Section 7 (`bench mem64` runs only it) compares one memory64 load with one 32-bit load in
//! the Cranelift code for aarch64: guest instructions of a loop doing one load per iteration
//! against the same loop doing two, counted like section 6 (`preemption-run` mode).
//!
//! Times printed here are for information; no test asserts on them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use device_runtime::{Engine, Linker, Module, Store};
use host_compiler::{CompiledImage, Compiler, CompilerConfig};
use shared_types::header::ImageHeader;
use shared_types::{Target, VmOffsets, metadata::Metadata};
use tests::native_target;

fn compiler() -> Compiler {
    Compiler::new(CompilerConfig::for_target(native_target())).expect("compiler")
}

/// A module of `funcs` functions. With `calls`, each body is a chain of calls to earlier
/// functions (many call sites); without, the same amount of arithmetic and no call.
fn generated(funcs: usize, calls: bool) -> String {
    let mut w = String::from("(module (memory 1) (global $g (mut i32) (i32.const 0))\n");
    for k in 0..funcs {
        let _ = writeln!(
            w,
            "(func $f{k} (export \"f{k}\") (param i32 i32) (result i32) (local i32)"
        );
        for j in 0..12 {
            if calls && k > 0 {
                let callee = (k * 7 + j * 13) % k;
                let _ = writeln!(
                    w,
                    "  (local.set 2 (i32.add (local.get 2) (call $f{callee} (local.get 0) (i32.const {j}))))"
                );
            } else {
                let _ = writeln!(
                    w,
                    "  (local.set 2 (i32.add (local.get 2) (i32.xor (i32.mul (local.get 0) (i32.const {})) (i32.const {j}))))",
                    j * 31 + 1
                );
            }
        }
        let _ = writeln!(
            w,
            "  (block $b (loop $l (br_if $b (i32.eqz (local.get 1)))\n    (i32.store (i32.and (local.get 1) (i32.const 0xfffc)) (local.get 2))\n    (local.set 1 (i32.sub (local.get 1) (i32.const 1))) (br $l)))\n  (global.set $g (local.get 2)) (local.get 2))"
        );
    }
    w.push(')');
    w
}

/// First module of a spec testsuite file, encoded.
fn spec_module(file: &str) -> Option<Vec<u8>> {
    let (_, contents) = tests::spec_runner::spec_files()
        .into_iter()
        .find(|(n, _)| n == file)?;
    let buf = wast::parser::ParseBuffer::new(contents).ok()?;
    let wast = wast::parser::parse::<wast::Wast>(&buf).ok()?;
    for d in wast.directives {
        if let wast::WastDirective::Module(mut m) = d {
            return m.encode().ok();
        }
    }
    None
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Loads `image` (Module::new + Store::new + instantiate) `reps` times.
fn load_reps(engine: &Engine, image: &[u8], reps: usize) -> Vec<Duration> {
    let linker = Linker::<()>::new(engine);
    (0..reps)
        .map(|_| {
            let t = Instant::now();
            let module = Module::new(engine, image).expect("load");
            let mut store = Store::new(engine, ());
            let inst = linker
                .instantiate(&mut store, &module)
                .expect("instantiate");
            std::hint::black_box(&inst);
            let d = t.elapsed();
            drop(store);
            drop(module);
            d
        })
        .collect()
}

/// Guest instructions of one run of the aarch64 program `exe` with `args` under qemu-aarch64,
/// counted by tools/qemu-insn-count.
fn count_insns(exe: &Path, args: &[String]) -> Option<u64> {
    static RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let plugin = plugin()?;
    let n = RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let out = std::env::temp_dir().join(format!("bench-insn-{}-{n}.txt", std::process::id()));
    let prefix =
        std::env::var("QEMU_LD_PREFIX").unwrap_or_else(|_| "/usr/aarch64-linux-gnu".into());
    let status = Command::new("qemu-aarch64")
        .args([
            "-L",
            &prefix,
            "-plugin",
            &format!("{},out={}", plugin.display(), out.display()),
            "-d",
            "plugin",
        ])
        .arg(exe)
        .args(args)
        .output()
        .ok()?;
    if !status.status.success() {
        eprintln!(
            "{} {}: failed: {}",
            exe.display(),
            args.join(" "),
            String::from_utf8_lossy(&status.stderr)
        );
        return None;
    }
    let text = std::fs::read_to_string(&out).ok()?;
    let _ = std::fs::remove_file(&out);
    text.trim().strip_prefix("insn_count:")?.trim().parse().ok()
}

/// Builds the instruction-counting QEMU plugin into the target directory (once).
fn plugin() -> Option<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent()?;
    let src = root.join("tools/qemu-insn-count/insn_count.c");
    let so = root.join("target/libinsn_count.so");
    if !so.exists() {
        let ok = Command::new("cc")
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot build {} (cc)", src.display());
            return None;
        }
    }
    Some(so)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("load-stage") {
        load_stage(&args[2], &args[3], args[4].parse().expect("reps"));
        return;
    }
    if args.get(1).map(String::as_str) == Some("load-count") {
        let image = std::fs::read(&args[2]).expect("image");
        let reps: usize = args[3].parse().expect("reps");
        let engine = Engine::default();
        load_reps(&engine, &image, reps);
        return;
    }
    if args.get(1).map(String::as_str) == Some("thumb-modules") {
        thumb_modules(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("preemption-run") {
        preemption_run(&args[2], &args[3], args[4].parse().expect("n"));
        return;
    }
    if args.get(1).map(String::as_str) == Some("preemption") {
        preemption(&args[2..]);
        return;
    }
    if args.get(1).map(String::as_str) == Some("mem64") {
        memory64_loads();
        return;
    }
    if args.get(1).map(String::as_str) == Some("thumb") {
        thumb_backend(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3000));
        return;
    }
    let funcs: usize = args.get(1).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let target = native_target();
    println!(
        "bench: target {target}{}",
        if cfg!(debug_assertions) {
            " (DEBUG BUILD: use --release)"
        } else {
            ""
        }
    );

    // 1. Compile throughput.
    println!("\n== compile throughput ({funcs} generated functions)");
    let c = compiler();
    let mut images: Vec<(String, usize, CompiledImage)> = Vec::new();
    for calls in [false, true] {
        let wasm = wat::parse_str(generated(funcs, calls)).expect("generated wat");
        let t = Instant::now();
        let img = c.compile(&wasm).expect("compile");
        let dt = t.elapsed();
        println!(
            "  {:<28} {:>9} wasm bytes ({:>8} code) -> {:>9} image bytes in {:>7.3}s: {:>6.2} MB/s of wasm",
            if calls {
                "many call sites"
            } else {
                "few call sites"
            },
            wasm.len(),
            img.stats.wasm_code_bytes,
            img.bytes.len(),
            dt.as_secs_f64(),
            wasm.len() as f64 / 1e6 / dt.as_secs_f64()
        );
        images.push((
            if calls {
                "generated, many calls"
            } else {
                "generated, no calls"
            }
            .into(),
            wasm.len(),
            img,
        ));
    }
    let threads = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    println!("  (compiler threads: default config, machine has {threads})");

    // 2. Image size against wasm size.
    println!("\n== image size vs wasm size");
    let mut samples: Vec<(String, Vec<u8>)> = Vec::new();
    let primes = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/primes.wat");
    if let Ok(w) = wat::parse_file(&primes) {
        samples.push(("examples/primes.wat".into(), w));
    }
    for f in [
        "fac.wast",
        "i32.wast",
        "i64.wast",
        "f64.wast",
        "conversions.wast",
        "memory_copy.wast",
        "call_indirect.wast",
        "br_table.wast",
    ] {
        if let Some(w) = spec_module(f) {
            samples.push((format!("{f} (first module)"), w));
        }
    }
    println!(
        "  {:<34} {:>10} {:>10} {:>8} {:>10} {:>10} {:>8}",
        "module", "wasm", "image", "ratio", "text", "metadata", "text/code"
    );
    let mut rows: Vec<(String, usize, CompiledImage)> = samples
        .into_iter()
        .filter_map(|(n, w)| match c.compile(&w) {
            Ok(img) => Some((n, w.len(), img)),
            Err(e) => {
                println!("  {n:<34} does not compile: {e}");
                None
            }
        })
        .collect();
    rows.extend(images.iter().cloned());
    for (name, wasm_len, img) in &rows {
        println!(
            "  {:<34} {:>10} {:>10} {:>7.2}x {:>10} {:>10} {:>7.2}x",
            name,
            wasm_len,
            img.bytes.len(),
            img.bytes.len() as f64 / *wasm_len as f64,
            img.stats.text_bytes,
            img.stats.metadata_bytes,
            img.stats.text_bytes as f64 / img.stats.wasm_code_bytes.max(1) as f64
        );
    }

    // 3. Load cost: many call sites vs few.
    println!("\n== load cost (Module::new + Store::new + instantiate)");
    let engine = Engine::default();
    let qemu = cfg!(target_arch = "aarch64") && under_qemu();
    for (name, _, img) in &images {
        let h = ImageHeader::parse(&img.bytes).expect("header");
        let reps = if qemu { 5 } else { 50 };
        let t = median(load_reps(&engine, &img.bytes, reps));
        println!(
            "  {:<24} image {:>9} B, text {:>9} B, {:>6} calls (incl. trampolines) resolved at compile time, 0 at load; median {:>9.1} us = {:.2} ns per image byte{}",
            name,
            img.bytes.len(),
            h.text.1,
            img.stats.relocations_resolved,
            t.as_secs_f64() * 1e6,
            t.as_secs_f64() * 1e9 / img.bytes.len() as f64,
            if qemu {
                " (under QEMU: time not meaningful)"
            } else {
                ""
            }
        );
        println!(
            "  {:<24} deterministic work: {} bytes hashed (whole image) + {} bytes of text copied; 0 relocations applied",
            "",
            img.bytes.len(),
            h.text.1
        );
    }
    if !qemu {
        println!(
            "  note: wall-clock times on the host; deterministic instruction counts per stage follow."
        );
    }

    // 4. Load cost by stage, in guest instructions under qemu-aarch64.
    load_breakdown(funcs);

    // 5. The Thumb-2 backend (runs on the host like every compiler).
    thumb_backend(funcs);

    // 6. Fuel and epoch instrumentation, in guest instructions under qemu-aarch64.
    preemption(&[]);

    // 7. A memory64 load against a 32-bit load, in guest instructions under qemu-aarch64.
    memory64_loads();
}

/// Every module of every spec testsuite file, encoded (quoted and binary modules included).
fn all_spec_modules() -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, contents) in tests::spec_runner::spec_files() {
        let Ok(buf) = wast::parser::ParseBuffer::new(contents) else {
            continue;
        };
        let Ok(wast) = wast::parser::parse::<wast::Wast>(&buf) else {
            continue;
        };
        for d in wast.directives {
            if let wast::WastDirective::Module(mut m) = d
                && let Ok(bytes) = m.encode()
            {
                out.push((name.clone(), bytes));
            }
        }
    }
    out
}

/// Section 5: compile throughput of the Thumb-2 backend (MB of wasm per second; goal >= 20)
/// and its text size against the wasm code size (goal <= 1.6x), on the generated modules and on
/// every spec-testsuite module inside the subset it compiles so far.
fn thumb_backend(funcs: usize) {
    println!("\n== Thumb-2 backend (Cortex-M): compile throughput and text size");
    let spec = all_spec_modules();
    for target in [Target::CortexM7, Target::CortexM4F] {
        for threads in [1, 2] {
            let c = Compiler::new(CompilerConfig::for_target(target).threads(threads))
                .expect("Thumb-2 compiler");
            for calls in [false, true] {
                let wasm = wat::parse_str(generated(funcs, calls)).expect("generated wat");
                // Best of 5: the figure is the compiler's speed, not the machine's noise.
                let mut best = Duration::MAX;
                let mut img = None;
                for _ in 0..5 {
                    let t = Instant::now();
                    img = Some(c.compile(&wasm).expect("generated module compiles"));
                    best = best.min(t.elapsed());
                }
                let img = img.expect("compiled");
                println!(
                    "  {target:<10} {threads} thread(s) {:<16} {:>9} wasm bytes ({:>8} code) in {:>7.2} ms: {:>7.2} MB/s of wasm; text {:>9} B = {:.2}x the code",
                    if calls {
                        "many call sites"
                    } else {
                        "few call sites"
                    },
                    wasm.len(),
                    img.stats.wasm_code_bytes,
                    best.as_secs_f64() * 1e3,
                    wasm.len() as f64 / 1e6 / best.as_secs_f64(),
                    img.stats.text_bytes,
                    img.stats.text_bytes as f64 / img.stats.wasm_code_bytes.max(1) as f64
                );
            }
        }
        let c = Compiler::new(CompilerConfig::for_target(target)).expect("Thumb-2 compiler");
        let (mut compiled, mut refused) = (0usize, 0usize);
        let (mut wasm_bytes, mut code, mut text) = (0usize, 0usize, 0usize);
        let t = Instant::now();
        for (_, w) in &spec {
            match c.compile(w) {
                Ok(img) => {
                    compiled += 1;
                    wasm_bytes += w.len();
                    code += img.stats.wasm_code_bytes;
                    text += img.stats.text_bytes;
                }
                Err(_) => refused += 1,
            }
        }
        let dt = t.elapsed();
        println!(
            "  {target:<10} spec-testsuite modules: {compiled} compile ({refused} refused or invalid), {wasm_bytes} wasm bytes ({code} code) -> {text} text bytes = {:.2}x the code, {:.2} MB/s of wasm over all {} modules (many tiny ones: per-module costs dominate)",
            text as f64 / code.max(1) as f64,
            spec.iter().map(|(_, w)| w.len()).sum::<usize>() as f64 / 1e6 / dt.as_secs_f64(),
            spec.len()
        );
    }
}

/// `bench thumb-modules FILE...` (run by `scripts/thumb-bench.sh` on the rustc-built kernel
/// modules): for each module and each of cortex-m4f and cortex-m7, the Thumb-2 backend's compile
/// throughput on one thread (MB of the whole `.wasm` file per second, best single compile of at
/// least 50 runs and 0.3 s: the figure is the compiler's speed, not the machine's noise) and the
/// image's text against the module's code section; a module the backend refuses is printed with
/// the compiler's error. Totals over every module that compiled come last.
fn thumb_modules(files: &[String]) {
    println!(
        "  {:<10} {:<16} {:>8} {:>8} {:>8} {:>9} {:>10} {:>10}",
        "target", "module", "wasm B", "code B", "text B", "text/code", "best us", "MB/s"
    );
    for target in [Target::CortexM4F, Target::CortexM7] {
        let c =
            Compiler::new(CompilerConfig::for_target(target).threads(1)).expect("Thumb-2 compiler");
        let (mut wasm_total, mut code_total, mut text_total) = (0usize, 0usize, 0usize);
        let mut time_total = Duration::ZERO;
        for file in files {
            let name = Path::new(file)
                .file_stem()
                .map_or(file.clone(), |s| s.to_string_lossy().into_owned());
            let wasm = std::fs::read(file).unwrap_or_else(|e| panic!("cannot read {file}: {e}"));
            let img = match c.compile(&wasm) {
                Ok(img) => img,
                Err(e) => {
                    println!("  {target:<10} {name:<16} refused: {e}");
                    continue;
                }
            };
            let mut best = Duration::MAX;
            let started = Instant::now();
            let mut runs = 0;
            while runs < 50 || started.elapsed() < Duration::from_millis(300) {
                let t = Instant::now();
                std::hint::black_box(c.compile(&wasm).expect("compiled once already"));
                best = best.min(t.elapsed());
                runs += 1;
            }
            let (code, text) = (img.stats.wasm_code_bytes, img.stats.text_bytes);
            println!(
                "  {target:<10} {name:<16} {:>8} {code:>8} {text:>8} {:>8.2}x {:>10.1} {:>10.2}",
                wasm.len(),
                text as f64 / code.max(1) as f64,
                best.as_secs_f64() * 1e6,
                wasm.len() as f64 / 1e6 / best.as_secs_f64()
            );
            wasm_total += wasm.len();
            code_total += code;
            text_total += text;
            time_total += best;
        }
        if wasm_total > 0 {
            println!(
                "  {target:<10} {:<16} {wasm_total:>8} {code_total:>8} {text_total:>8} {:>8.2}x {:>10.1} {:>10.2}",
                "(every module)",
                text_total as f64 / code_total.max(1) as f64,
                time_total.as_secs_f64() * 1e6,
                wasm_total as f64 / 1e6 / time_total.as_secs_f64()
            );
        }
    }
}

/// Whether this aarch64 process runs under QEMU user mode (the host CPU is not aarch64).
fn under_qemu() -> bool {
    // Without binfmt_misc, the host kernel cannot exec an aarch64 binary: a direct exec of
    // ourselves fails with ENOEXEC exactly when we are emulated.
    let Ok(exe) = std::env::current_exe() else {
        return false;
    };
    match Command::new(&exe)
        .arg("load-count")
        .arg("/dev/null")
        .arg("0")
        .output()
    {
        Ok(out) => !out.status.success(), // exit 127: a binfmt handler without the sysroot
        Err(e) => e.raw_os_error() == Some(8),
    }
}

/// The stages a `load-stage` run stops after, in pipeline order. Each run first reads the image,
/// creates the engine and loads, instantiates and calls it once (warm-up: one-time costs such
/// as lazy symbol binding and installing the fault hook), then repeats the pipeline up to its
/// stage `reps` times, keeping (leaking) everything it creates so no drop is counted.
const STAGES: [&str; 10] = [
    "base",
    "header",
    "digest",
    "metadata",
    "module",
    "instance",
    "call",
    "inplace-setup",
    "inplace-module",
    "inplace-call",
];

/// The export every stage run calls: `f0` of the generated modules, (i32, i32) -> i32, which
/// makes no call and, with a second argument 0, does not loop.
const FIRST_CALL: &str = "f0";

/// Store + instantiate + first call of `module`, all leaked.
fn instantiate_and_call(engine: &'static Engine, module: &'static Module<'static>, call: bool) {
    let linker = Linker::<()>::new(engine);
    let mut store = Store::new(engine, ());
    let inst = linker.instantiate(&mut store, module).expect("instantiate");
    if call {
        let f = inst
            .get_typed_func::<(i32, i32), i32>(&store, FIRST_CALL)
            .expect("f0");
        std::hint::black_box(f.call(&mut store, (1, 0)).expect("call"));
    }
    std::hint::black_box(&inst);
    std::mem::forget(store);
}

/// An executable, page-aligned copy of `image` (as a board would have it in flash or
/// executable RAM), for `Module::new_in_place`.
fn executable_copy(image: &[u8]) -> &'static [u8] {
    use device_runtime::platform::Platform;
    let platform = device_runtime::platform::hosted::HostedPlatform;
    let region = platform.code_alloc(image.len()).expect("code memory");
    // SAFETY: `region` holds at least `image.len()` writable bytes nothing else uses; publishing
    // a region fresh from `code_alloc` is what the runtime itself does. The region is leaked, so
    // the slice stays valid and unchanged for the rest of the process.
    unsafe {
        std::ptr::copy_nonoverlapping(image.as_ptr(), region.base.as_ptr(), image.len());
        platform.code_publish(&region).expect("publish");
        std::slice::from_raw_parts(region.base.as_ptr(), image.len())
    }
}

/// `bench load-stage STAGE IMAGE REPS` (the aarch64 runner the breakdown counts).
fn load_stage(stage: &str, image_path: &str, reps: usize) {
    assert!(STAGES.contains(&stage), "unknown stage {stage}");
    let image: &'static [u8] =
        Box::leak(std::fs::read(image_path).expect("image").into_boxed_slice());
    let engine: &'static Engine = Box::leak(Box::new(Engine::default()));
    let upto = |s: &str| {
        STAGES.iter().position(|x| *x == s).unwrap()
            <= STAGES.iter().position(|x| *x == stage).unwrap()
    };
    // Warm-up, identical in every run.
    let module: &'static Module<'static> =
        Box::leak(Box::new(Module::new(engine, image).expect("load")));
    instantiate_and_call(engine, module, true);

    if stage.starts_with("inplace") {
        let copies: Vec<&'static [u8]> = (0..reps).map(|_| executable_copy(image)).collect();
        // Warm-up of the in-place path on a copy of its own.
        let warm = executable_copy(image);
        // SAFETY: `executable_copy` returns executable memory, coherent, never changed.
        let m = Box::leak(Box::new(
            unsafe { Module::new_in_place(engine, warm) }.expect("in place"),
        ));
        instantiate_and_call(engine, m, true);
        if stage == "inplace-setup" {
            return;
        }
        for copy in copies {
            // SAFETY: as above.
            let m: &'static Module<'static> = Box::leak(Box::new(
                unsafe { Module::new_in_place(engine, copy) }.expect("in place"),
            ));
            if stage == "inplace-call" {
                instantiate_and_call(engine, m, true);
            }
        }
        return;
    }
    for _ in 0..reps {
        if stage == "base" {
            break;
        }
        if !upto("module") {
            // The calls `device_runtime`'s image verification makes, in its order.
            let h = ImageHeader::parse(image).expect("header");
            if upto("digest") {
                h.verify_digest(image).expect("digest");
            }
            if upto("metadata") {
                let md = Metadata::decode(h.metadata_bytes(image)).expect("metadata");
                md.validate(h.text.1).expect("validate");
                std::hint::black_box(VmOffsets::new(h.target.pointer_size(), md.counts));
                std::hint::black_box(&md);
            }
            std::hint::black_box(&h);
            continue;
        }
        let m: &'static Module<'static> =
            Box::leak(Box::new(Module::new(engine, image).expect("load")));
        if upto("instance") {
            instantiate_and_call(engine, m, upto("call"));
        }
    }
}

/// The aarch64 program to count: this binary on aarch64, otherwise its aarch64 release build
/// (built here with cargo).
fn stage_runner() -> Option<PathBuf> {
    aarch64_runner(true)
}

/// This binary on aarch64, otherwise its aarch64 build in the release or dev profile (built
/// here with cargo).
fn aarch64_runner(release: bool) -> Option<PathBuf> {
    if cfg!(target_arch = "aarch64") {
        return std::env::current_exe().ok();
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()?
        .to_path_buf();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let triple = "aarch64-unknown-linux-gnu";
    let profile = if release { "release" } else { "debug" };
    println!(
        "  building the aarch64 runner: cargo build{} -p tests --bin bench --target {triple}",
        if release { " --release" } else { "" }
    );
    let mut build = Command::new(cargo);
    build.current_dir(&root).arg("build");
    if release {
        build.arg("--release");
    }
    let status = build
        .args(["-q", "-p", "tests", "--bin", "bench", "--target", triple])
        .status()
        .ok()?;
    if !status.success() {
        println!(
            "  cannot build the aarch64 runner (needs the {triple} target and aarch64-linux-gnu-gcc)"
        );
        return None;
    }
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    Some(target_dir.join(triple).join(profile).join("bench"))
}

/// Section 4: load cost by stage for generated images with few and many call sites, of two sizes.
fn load_breakdown(funcs: usize) {
    const REPS: usize = 4;
    println!(
        "\n== load cost by stage (aarch64 guest instructions per load, qemu-aarch64 + tools/qemu-insn-count)"
    );
    let Some(runner) = stage_runner() else {
        println!("  skipped: no aarch64 runner");
        return;
    };
    if plugin().is_none() {
        println!("  skipped: cannot build tools/qemu-insn-count (cc)");
        return;
    }
    let c = match Compiler::new(CompilerConfig::for_target(Target::Aarch64)) {
        Ok(c) => c,
        Err(e) => {
            println!("  skipped: no aarch64 compiler: {e}");
            return;
        }
    };
    // Image sizes of both shapes at `funcs` functions, to pick a many-calls function count whose
    // image is about as large as the no-calls one: same size, ~13x the call sites.
    let size_of = |n: usize, calls: bool| {
        c.compile(&wat::parse_str(generated(n, calls)).expect("generated wat"))
            .map(|i| i.bytes.len())
            .unwrap_or(1)
    };
    let (few_size, many_size) = (size_of(funcs, false), size_of(funcs, true));
    let matched = ((funcs as f64 * few_size as f64 / many_size as f64).round() as usize).max(1);
    let small = (funcs / 10).max(1);
    let small_matched = (matched / 10).max(1);
    let cases = [
        (format!("{funcs} fn, no calls"), funcs, false),
        (format!("{matched} fn, many calls"), matched, true),
        (format!("{small} fn, no calls"), small, false),
        (
            format!("{small_matched} fn, many calls"),
            small_matched,
            true,
        ),
    ];
    struct Col {
        name: String,
        image: usize,
        text: u64,
        metadata: u64,
        calls: usize,
        counts: Vec<u64>,
    }
    let mut cols: Vec<Col> = Vec::new();
    for (name, n, calls) in cases {
        let wasm = wat::parse_str(generated(n, calls)).expect("generated wat");
        let img = c.compile(&wasm).expect("compile");
        let h = ImageHeader::parse(&img.bytes).expect("header");
        let path = std::env::temp_dir().join(format!(
            "bench-stage-{}-{n}-{calls}.img",
            std::process::id()
        ));
        std::fs::write(&path, &img.bytes).expect("write image");
        let mut counts = Vec::new();
        for stage in STAGES {
            match count_insns(
                &runner,
                &[
                    "load-stage".into(),
                    stage.into(),
                    path.display().to_string(),
                    REPS.to_string(),
                ],
            ) {
                Some(n) => counts.push(n),
                None => {
                    println!("  {name}: stage {stage} could not be counted");
                    let _ = std::fs::remove_file(&path);
                    return;
                }
            }
        }
        let _ = std::fs::remove_file(&path);
        cols.push(Col {
            name,
            image: img.bytes.len(),
            text: u64::from(h.text.1),
            metadata: u64::from(h.metadata.1),
            calls: img.stats.relocations_resolved,
            counts,
        });
    }
    let at = |c: &Col, s: &str| c.counts[STAGES.iter().position(|x| *x == s).unwrap()] as i64;
    let per = |c: &Col, to: &str, from: &str| (at(c, to) - at(c, from)) as f64 / REPS as f64;
    println!(
        "  method: each figure is (count of a run stopping after the stage - count of a run stopping before it) / {REPS};"
    );
    println!(
        "  every run reads the image, creates the engine and does one full load + call first (warm-up), then {REPS} loads up to its stage;"
    );
    println!(
        "  nothing is dropped. mmap/mprotect run in the kernel (not guest instructions); the icache maintenance loop is counted."
    );
    let w = 20;
    print!("  {:<44}", "");
    for c in &cols {
        print!(" {:>w$}", c.name);
    }
    println!();
    type Cell<'a, T> = (&'a str, &'a dyn Fn(&Col) -> T);
    let info: [Cell<'_, String>; 4] = [
        ("image bytes", &|c| c.image.to_string()),
        ("  of which text bytes", &|c| c.text.to_string()),
        ("  of which metadata bytes", &|c| c.metadata.to_string()),
        ("call sites resolved at compile time", &|c| {
            c.calls.to_string()
        }),
    ];
    for (label, f) in info {
        print!("  {label:<44}");
        for c in &cols {
            print!(" {:>w$}", f(c));
        }
        println!();
    }
    let rows: [(&str, &str, &str); 9] = [
        ("header parse", "header", "base"),
        ("SHA-256 digest over the whole image", "digest", "header"),
        ("metadata decode + validate", "metadata", "digest"),
        (
            "code placement (copy + publish + register)",
            "module",
            "metadata",
        ),
        (
            "instantiation (Store::new, vmctx, segments)",
            "instance",
            "module",
        ),
        ("first call (export lookup + f0(1, 0))", "call", "instance"),
        ("= Module::new", "module", "base"),
        ("= load to first result", "call", "base"),
        (
            "Module::new_in_place (no copy)",
            "inplace-module",
            "inplace-setup",
        ),
    ];
    for (i, (label, to, from)) in rows.iter().enumerate() {
        if i == 6 {
            println!("  {}", "-".repeat(44 + cols.len() * (w + 1)));
        }
        print!("  {label:<44}");
        for c in &cols {
            print!(" {:>w$.0}", per(c, to, from));
        }
        println!();
    }
    print!("  {:<44}", "in place, load to first result");
    for c in &cols {
        print!(" {:>w$.0}", per(c, "inplace-call", "inplace-setup"));
    }
    println!();
    println!("  per byte:");
    let ratios: [Cell<'_, f64>; 5] = [
        ("digest / image byte", &|c| {
            per(c, "digest", "header") / c.image as f64
        }),
        ("metadata / metadata byte", &|c| {
            per(c, "metadata", "digest") / c.metadata.max(1) as f64
        }),
        ("placement / text byte", &|c| {
            per(c, "module", "metadata") / c.text.max(1) as f64
        }),
        ("Module::new / image byte", &|c| {
            per(c, "module", "base") / c.image as f64
        }),
        ("new_in_place / image byte", &|c| {
            per(c, "inplace-module", "inplace-setup") / c.image as f64
        }),
    ];
    for (label, f) in ratios {
        print!("  {label:<44}");
        for c in &cols {
            print!(" {:>w$.2}", f(c));
        }
        println!();
    }
    if let [a, b, c, d] = &cols[..] {
        println!(
            "  columns 1-2 and 3-4: images of about the same size, the second with {:.1}x / {:.1}x the call sites; 3-4 are {:.1}x smaller than 1-2.",
            b.calls as f64 / a.calls.max(1) as f64,
            d.calls as f64 / c.calls.max(1) as f64,
            a.image as f64 / c.image as f64
        );
    }
    println!(
        "  no stage applies relocations: cost follows image size (digest), metadata size (decode) and text size (copy), not the call count."
    );
}

/// Kernels of `tests/fuel/kernels.wat` for section 6: export, small and large argument. Each
/// figure is `count(large) - count(small)`, so process start, image load and instantiation
/// cancel.
const PREEMPTION_KERNELS: &[(&str, i32, i32)] = &[
    ("fib", 10, 22),
    ("sieve", 100, 30000),
    ("crc32", 16, 2048),
    ("matmul", 4, 24),
    ("interp", 100, 20000),
    ("sort", 16, 400),
    ("float", 10, 5000),
];

/// Section 6: guest instructions of compute kernels compiled for aarch64 without
/// instrumentation, with fuel, with epochs and with both (goals of issue 6: fuel at most 8%,
/// epochs at most 4% more instructions).
fn preemption(extra_files: &[String]) {
    println!(
        "\n== fuel and epoch instrumentation (aarch64 guest instructions, qemu-aarch64 + tools/qemu-insn-count)"
    );
    let Some(runner) = aarch64_runner(!cfg!(debug_assertions)) else {
        println!("  skipped: no aarch64 runner");
        return;
    };
    if plugin().is_none() {
        println!("  skipped: cannot build tools/qemu-insn-count (cc)");
        return;
    }
    let kernels_wat = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuel/kernels.wat");
    let kernels = wat::parse_file(&kernels_wat).expect("tests/fuel/kernels.wat");
    let mut cases: Vec<(String, Vec<u8>, String, i32, i32)> = PREEMPTION_KERNELS
        .iter()
        .map(|(name, small, large)| {
            (
                format!("{name} ({small}..{large})"),
                kernels.clone(),
                (*name).to_string(),
                *small,
                *large,
            )
        })
        .collect();
    for file in extra_files {
        let path = Path::new(file);
        let stem = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        match std::fs::read(path) {
            Ok(wasm) => cases.push((format!("{stem} (10..20)"), wasm, stem, 10, 20)),
            Err(e) => println!("  {file}: {e}"),
        }
    }
    let variants = [
        ("plain", false, false),
        ("fuel", true, false),
        ("epochs", false, true),
        ("both", true, true),
    ];
    println!("  figure per kernel: count(large) - count(small); overhead against the plain build");
    println!(
        "  {:<22} {:>12} {:>20} {:>20} {:>20}",
        "kernel", "plain", "fuel", "epochs", "fuel + epochs"
    );
    // Sums of log ratios and kernels measured: all, the kernels of `kernels.wat` (the first
    // cases) and the given files.
    let mut log_ratios = [[0f64; 3]; 3];
    let mut measured = [0usize; 3];
    for (index, (label, wasm, export, small, large)) in cases.iter().enumerate() {
        let group = if index < PREEMPTION_KERNELS.len() {
            1
        } else {
            2
        };
        let mut figures = Vec::new();
        for (variant, fuel, epochs) in variants {
            let config = CompilerConfig::for_target(Target::Aarch64)
                .fuel(fuel)
                .epochs(epochs);
            let image = match Compiler::new(config).and_then(|c| c.compile(wasm)) {
                Ok(image) => image,
                Err(e) => {
                    println!("  {label}: does not compile ({variant}): {e}");
                    break;
                }
            };
            let path = std::env::temp_dir().join(format!(
                "bench-preemption-{}-{export}-{variant}.img",
                std::process::id()
            ));
            std::fs::write(&path, &image.bytes).expect("write image");
            let count = |n: i32| {
                count_insns(
                    &runner,
                    &[
                        "preemption-run".into(),
                        path.display().to_string(),
                        export.clone(),
                        n.to_string(),
                    ],
                )
            };
            let figure = match (count(*small), count(*large)) {
                (Some(a), Some(b)) => b.saturating_sub(a),
                _ => {
                    println!("  {label}: run failed ({variant})");
                    break;
                }
            };
            let _ = std::fs::remove_file(&path);
            figures.push(figure);
        }
        if figures.len() != variants.len() {
            continue;
        }
        let plain = figures[0] as f64;
        let column = |i: usize| {
            format!(
                "{} ({:+.1}%)",
                figures[i],
                (figures[i] as f64 / plain - 1.0) * 100.0
            )
        };
        println!(
            "  {:<22} {:>12} {:>20} {:>20} {:>20}",
            label,
            figures[0],
            column(1),
            column(2),
            column(3)
        );
        for g in [0, group] {
            for (i, log) in log_ratios[g].iter_mut().enumerate() {
                *log += (figures[i + 1] as f64 / plain).ln();
            }
            measured[g] += 1;
        }
    }
    let names = ["geometric mean", "  of kernels.wat", "  of the given files"];
    for (g, name) in names.iter().enumerate() {
        if measured[g] == 0 || (g > 0 && measured[g] == measured[0]) {
            continue;
        }
        let mean = |i: usize| ((log_ratios[g][i] / measured[g] as f64).exp() - 1.0) * 100.0;
        println!(
            "  {:<22} {:>12} {:>19.1}% {:>19.1}% {:>19.1}%",
            name,
            "",
            mean(0),
            mean(1),
            mean(2)
        );
    }
}

/// `bench preemption-run IMAGE EXPORT N`: loads the image, instantiates it (no imports) and
/// calls `EXPORT(N)` once, with the store's default (unlimited) fuel and no epoch deadline.
fn preemption_run(image_path: &str, export: &str, n: i32) {
    let image = std::fs::read(image_path).expect("image");
    let engine = Engine::default();
    let module = Module::new(&engine, &image).expect("load");
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let instance = linker
        .instantiate(&mut store, &module)
        .expect("instantiate");
    let func = instance.get_func(&store, export).expect("export");
    let mut results = vec![device_runtime::Val::I32(0); func.ty(&store).results().len()];
    func.call(&mut store, &[device_runtime::Val::I32(n)], &mut results)
        .expect("call");
    std::hint::black_box(&results);
}

/// The loop kernels of section 7 for a memory with index type `index` (`i32` or `i64`):
/// `one(n)` and `two(n)` run `n` iterations (n >= 1) of the same loop, doing one and two
/// `i32.load`s per iteration at an index that walks the first 64 KiB.
fn memory_load_kernels(index: &str) -> String {
    let memory = if index == "i64" { "i64 1" } else { "1" };
    let body = |loads: &str| {
        format!(
            "(param $n i32) (result i32) (local $i {index}) (local $sum i32)
              (loop $l
                {loads}
                (local.set $i ({index}.and ({index}.add (local.get $i) ({index}.const 8))
                                           ({index}.const 0xfff8)))
                (br_if $l (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
              (local.get $sum)"
        )
    };
    let load = |offset: u32| {
        format!(
            "(local.set $sum (i32.add (local.get $sum) (i32.load offset={offset} (local.get $i))))"
        )
    };
    format!(
        "(module (memory {memory})
           (func (export \"one\") {})
           (func (export \"two\") {}))",
        body(&load(0)),
        body(&format!("{} {}", load(0), load(4)))
    )
}

/// Section 7: guest instructions per load on aarch64 for a 32-bit memory (explicit and
/// guard-elided checks) and a 64-bit memory (always explicit), from loops of N and 2N loads.
fn memory64_loads() {
    println!(
        "\n== memory64 load vs 32-bit load (aarch64 guest instructions, qemu-aarch64 + tools/qemu-insn-count)"
    );
    let Some(runner) = aarch64_runner(!cfg!(debug_assertions)) else {
        println!("  skipped: no aarch64 runner");
        return;
    };
    if plugin().is_none() {
        println!("  skipped: cannot build tools/qemu-insn-count (cc)");
        return;
    }
    const SMALL: i32 = 1_000;
    const LARGE: i32 = 21_000;
    println!(
        "  per iteration: count(n = {LARGE}) - count(n = {SMALL}), divided by {}; per load: two loads - one load",
        LARGE - SMALL
    );
    println!(
        "  {:<36} {:>16} {:>16} {:>10}",
        "memory and bounds checks", "1 load / iter", "2 loads / iter", "per load"
    );
    let variants = [
        (
            "memory32, explicit checks",
            "i32",
            host_compiler::BoundsChecks::Explicit,
        ),
        (
            "memory32, guard-elided",
            "i32",
            host_compiler::BoundsChecks::GuardElided,
        ),
        (
            "memory64, explicit checks",
            "i64",
            host_compiler::BoundsChecks::Explicit,
        ),
    ];
    for (label, index, checks) in variants {
        let wasm = wat::parse_str(memory_load_kernels(index)).expect("kernel wat");
        let config = CompilerConfig::for_target(Target::Aarch64).bounds_checks(checks);
        let image = match Compiler::new(config).and_then(|c| c.compile(&wasm)) {
            Ok(image) => image,
            Err(e) => {
                println!("  {label}: does not compile: {e}");
                continue;
            }
        };
        let path = std::env::temp_dir().join(format!(
            "bench-mem64-{}-{index}-{checks:?}.img",
            std::process::id()
        ));
        std::fs::write(&path, &image.bytes).expect("write image");
        let per_iteration = |export: &str| {
            let count = |n: i32| {
                count_insns(
                    &runner,
                    &[
                        "preemption-run".into(),
                        path.display().to_string(),
                        export.into(),
                        n.to_string(),
                    ],
                )
            };
            Some((count(LARGE)?.checked_sub(count(SMALL)?)?) as f64 / f64::from(LARGE - SMALL))
        };
        match (per_iteration("one"), per_iteration("two")) {
            (Some(one), Some(two)) => {
                println!("  {label:<36} {one:>16.2} {two:>16.2} {:>10.2}", two - one)
            }
            _ => println!("  {label}: run failed"),
        }
        let _ = std::fs::remove_file(&path);
    }
}
