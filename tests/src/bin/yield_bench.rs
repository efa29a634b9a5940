//! The cost of one yield-and-resume of a resumable call, in guest instructions, and the RAM of
//! one fiber.
//!
//! Difference method, as `scripts/board-bench.sh`: the same program runs a wasm loop of `n`
//! iterations, each calling a host function, on a fiber (`Func::call_resumable`); in mode
//! `yield` the host function calls `Caller::yield_now` and the host resumes the call every
//! time, in mode `call` it returns at once. `(count(2n) - count(n)) / n` per mode cancels
//! start-up, compilation, loading and the fiber's creation; the difference between the two
//! modes is the cost of one suspend + resume (both switches, the bookkeeping and the
//! `Store::resume` API around them).
//!
//! ```text
//! # aarch64 (from an x86_64 host):
//! cargo build -p tests --release --bin yield_bench --target aarch64-unknown-linux-gnu
//! cargo run -p tests --release --bin yield_bench -- measure qemu-aarch64 /usr/aarch64-linux-gnu \
//!     target/aarch64-unknown-linux-gnu/release/yield_bench
//! # 32-bit Arm (Thumb-2 cortex-m7 images under qemu-arm):
//! cargo build -p tests --release --bin yield_bench --target armv7-unknown-linux-gnueabihf
//! cargo run -p tests --release --bin yield_bench -- measure qemu-arm /usr/arm-linux-gnueabihf \
//!     target/armv7-unknown-linux-gnueabihf/release/yield_bench
//! ```
//!
//! `yield_bench run yield|call N` is the measured program (also runnable natively).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use device_runtime::{
    CallOutcome, Caller, Engine, EngineConfig, FIBER_RECORD_BYTES, FiberPool, HostError, Linker,
    Module, Store, Val,
};
use host_compiler::{Compiler, CompilerConfig};

const LOOP: &str = r#"
(module
  (import "host" "step" (func $step))
  (func (export "run") (param $n i32) (result i32)
    (local $i i32)
    (loop $l
      (call $step)
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (local.get $n))))
    (local.get $i)))
"#;

fn step(mut caller: Caller<'_, '_, bool>) -> Result<(), HostError> {
    if *caller.data() {
        caller
            .yield_now()
            .map_err(|_| HostError::new("yield refused"))?;
    }
    Ok(())
}

/// Runs the loop `n` times on a fiber, yielding at every step when `yields`.
fn run(yields: bool, n: i32) -> Result<u32> {
    let wasm = host_compiler::wat_or_wasm(LOOP.as_bytes())?;
    let image = Compiler::new(CompilerConfig::for_target(tests::native_target()))?
        .compile(&wasm)?
        .bytes;
    let mut config = EngineConfig::default();
    config.fiber_pool = Box::leak(Box::new(FiberPool::new(1, 64 << 10)));
    let engine = Engine::new(&config);
    let module = Module::new(&engine, &image).map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut store = Store::new(&engine, yields);
    let mut linker = Linker::<bool>::new(&engine);
    linker
        .func_wrap("host", "step", step)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let f = instance.get_func(&store, "run").context("run export")?;
    let mut r = [Val::I32(0)];
    let mut outcome = f
        .call_resumable(&mut store, &[Val::I32(n)], &mut r)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let mut suspensions = 0u32;
    while let CallOutcome::Suspended { call, .. } = outcome {
        suspensions += 1;
        outcome = store
            .resume(call, &mut r)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
    }
    if r[0] != Val::I32(n) {
        bail!("wrong result {:?}", r[0]);
    }
    Ok(suspensions)
}

fn plugin(root: &Path) -> Result<PathBuf> {
    let so = root.join("target/libinsn_count.so");
    if !so.exists() {
        let status = Command::new("cc")
            .args(["-O2", "-shared", "-fPIC", "-o"])
            .arg(&so)
            .arg(root.join("tools/qemu-insn-count/insn_count.c"))
            .status()?;
        if !status.success() {
            bail!("building the plugin failed");
        }
    }
    Ok(so)
}

/// Guest instructions of `exe run mode n` under `qemu -L sysroot`.
fn count(qemu: &str, sysroot: &str, exe: &str, mode: &str, n: u32) -> Result<u64> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let so = plugin(&root)?;
    let out = std::env::temp_dir().join(format!("yield-bench-{}-{mode}-{n}", std::process::id()));
    let status = Command::new(qemu)
        .args(["-L", sysroot, "-plugin"])
        .arg(format!("{},out={}", so.display(), out.display()))
        .args(["-d", "plugin", exe, "run", mode, &n.to_string()])
        .status()?;
    if !status.success() {
        bail!("{qemu} {exe} run {mode} {n} failed");
    }
    let text = std::fs::read_to_string(&out)?;
    let _ = std::fs::remove_file(&out);
    text.trim()
        .strip_prefix("insn_count:")
        .and_then(|c| c.trim().parse().ok())
        .context("no insn_count line")
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["run", mode, n] => {
            let yields = match *mode {
                "yield" => true,
                "call" => false,
                _ => bail!("mode is yield or call"),
            };
            let n: i32 = n.parse()?;
            let s = run(yields, n)?;
            if yields && s != n as u32 {
                bail!("{s} suspensions for {n} steps");
            }
            Ok(())
        }
        ["measure", qemu, sysroot, exe] => {
            const N: u32 = 2000;
            println!("== yield-and-resume cost under {qemu} ({exe})");
            println!("   per step = (count(2N) - count(N)) / N, N = {N}, tools/qemu-insn-count");
            let mut per = Vec::new();
            for mode in ["call", "yield"] {
                let one = count(qemu, sysroot, exe, mode, N)?;
                let two = count(qemu, sysroot, exe, mode, 2 * N)?;
                let p = (two as f64 - one as f64) / f64::from(N);
                println!("{mode:>6}: count(N) {one:>12}  count(2N) {two:>12}  per step {p:>9.1}");
                per.push(p);
            }
            println!(
                "one yield-and-resume (suspend in Caller::yield_now, Store::resume): {:.1} instructions",
                per[1] - per[0]
            );
            Ok(())
        }
        [] => {
            println!("fiber record + initial frame: {FIBER_RECORD_BYTES} bytes");
            let t = std::time::Instant::now();
            let n = 100_000;
            run(true, n)?;
            let yields = t.elapsed();
            let t = std::time::Instant::now();
            run(false, n)?;
            let calls = t.elapsed();
            println!(
                "native: {n} steps with yields {yields:?}, without {calls:?} (includes compiling)"
            );
            Ok(())
        }
        _ => bail!("usage: yield_bench [run yield|call N | measure QEMU SYSROOT EXE]"),
    }
}
