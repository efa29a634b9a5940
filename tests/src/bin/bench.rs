//! Benchmarks: compile throughput, image size against wasm size, and the cost of loading an
//! image with many call sites against one with few (our images carry no relocations, so it
//! should not depend on the number of calls).
//!
//! `cargo run -p tests --release --bin bench` (x86_64: times only)
//! `cargo run -p tests --release --bin bench --target aarch64-unknown-linux-gnu` (under
//! qemu-aarch64: also counts guest instructions per load with tools/qemu-insn-count, a
//! deterministic figure; times under QEMU are not meaningful).
//!
//! Times printed here are for information; no test asserts on them.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use device_runtime::{Engine, Linker, Module, Store};
use host_compiler::{CompiledImage, Compiler, CompilerConfig};
use shared_types::header::ImageHeader;
use tests::native_target;

fn compiler() -> Compiler {
    Compiler::new(CompilerConfig::for_target(native_target())).expect("compiler")
}

/// A module of `funcs` functions. With `calls`, each body is a chain of calls to earlier
/// functions (many call sites); without, the same amount of arithmetic and no call.
fn generated(funcs: usize, calls: bool) -> String {
    let mut w = String::from("(module (memory 1) (global $g (mut i32) (i32.const 0))\n");
    for k in 0..funcs {
        let _ = write!(
            w,
            "(func $f{k} (export \"f{k}\") (param i32 i32) (result i32) (local i32)\n"
        );
        for j in 0..12 {
            if calls && k > 0 {
                let callee = (k * 7 + j * 13) % k;
                let _ = write!(
                    w,
                    "  (local.set 2 (i32.add (local.get 2) (call $f{callee} (local.get 0) (i32.const {j}))))\n"
                );
            } else {
                let _ = write!(
                    w,
                    "  (local.set 2 (i32.add (local.get 2) (i32.xor (i32.mul (local.get 0) (i32.const {})) (i32.const {j}))))\n",
                    j * 31 + 1
                );
            }
        }
        let _ = write!(
            w,
            "  (block $b (loop $l (br_if $b (i32.eqz (local.get 1)))\n    (i32.store (i32.and (local.get 1) (i32.const 0xfffc)) (local.get 2))\n    (local.set 1 (i32.sub (local.get 1) (i32.const 1))) (br $l)))\n  (global.set $g (local.get 2)) (local.get 2))\n"
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

/// Under qemu-aarch64: guest instructions of `bench load-count IMAGE REPS` runs.
fn insn_count(image_path: &Path, reps: usize) -> Option<u64> {
    let plugin = plugin()?;
    let exe = std::env::current_exe().ok()?;
    let out = std::env::temp_dir().join(format!("bench-insn-{}-{reps}.txt", std::process::id()));
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
        .arg(&exe)
        .args([
            "load-count",
            &image_path.display().to_string(),
            &reps.to_string(),
        ])
        .output()
        .ok()?;
    if !status.status.success() {
        eprintln!(
            "load-count failed: {}",
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
        let ok = Command::new("gcc")
            .args(["-shared", "-fPIC", "-O2", "-o"])
            .arg(&so)
            .arg(&src)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            eprintln!("cannot build {} (gcc)", src.display());
            return None;
        }
    }
    Some(so)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("load-count") {
        let image = std::fs::read(&args[2]).expect("image");
        let reps: usize = args[3].parse().expect("reps");
        let engine = Engine::default();
        load_reps(&engine, &image, reps);
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
        if qemu {
            let path = std::env::temp_dir().join(format!(
                "bench-{}-{}.img",
                std::process::id(),
                name.replace([' ', ','], "_")
            ));
            std::fs::write(&path, &img.bytes).expect("write image");
            match (insn_count(&path, 0), insn_count(&path, 10)) {
                (Some(base), Some(ten)) => println!(
                    "  {:<24} guest instructions per load: {} ({:.1} per image byte)",
                    "",
                    (ten - base) / 10,
                    (ten - base) as f64 / 10.0 / img.bytes.len() as f64
                ),
                _ => println!(
                    "  {:<24} instruction count unavailable (qemu-aarch64 -plugin failed)",
                    ""
                ),
            }
            let _ = std::fs::remove_file(&path);
        }
    }
    if !qemu {
        println!(
            "  note: wall-clock times on the host; for a deterministic instruction count run the aarch64 build under qemu-aarch64 (see the file header)."
        );
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
