//! `wasm-aot run` of a Cortex-M image without `--board`: the `wasm-aot-runner` built for
//! `armv7-unknown-linux-gnueabihf` runs it under `qemu-arm`, with the output and exit status of
//! every other executor (results one per line; 134 for a trap; 1 for other errors).
//!
//! The images are hand-made (the Thumb code generator is not finished): the builder shared with
//! `device-runtime/tests/thumb.rs`. The runner is `$WASM_AOT_RUNNER_ARMV7` if set, else built by
//! this test into its own target directory (`target/wasm-aot-run-cortex-m`), so it is never
//! stale and no lock of the outer build is needed.

#[path = "../../device-runtime/tests/thumb_image/mod.rs"]
mod thumb_image;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use host_compiler::thumb::asm::{FReg, Flags, Profile, Reg};
use shared_types::metadata::Tunables;
use shared_types::{Target, TrapCode};
use thumb_image::{build_image, r};

const MODULE: &str = r#"(module
  (func (export "arith") (param i32 i64 f32 f64) (result i64 f64 i32 f32) unreachable)
  (func (export "trap") (param i32) (result i32) unreachable))"#;

/// `arith(a, b, c, d) = (b + 1, d + d, a - 7, c * c)` (`d` instead of `d + d` on a
/// single-precision FPU); `trap(x)` is `udf`, listed as `IntegerDivisionByZero`.
fn image(target: Target) -> Vec<u8> {
    let double = Profile::for_target(target)
        .expect("Cortex-M")
        .has_double_precision();
    build_image(target, MODULE, Tunables::default(), |t| {
        t.function(0, |t| {
            let a = &mut t.asm;
            a.sub(Flags::Any, r(3), r(0), 7u32).unwrap();
            a.add(Flags::Set, r(0), r(1), 1u32).unwrap();
            a.adc(Flags::Any, r(1), r(2), 0u32).unwrap();
            a.mov(Flags::Any, r(2), r(3)).unwrap();
            a.vmul(FReg::S(4), FReg::S(0), FReg::S(0)).unwrap();
            if double {
                a.vadd(FReg::D(0), FReg::D(1), FReg::D(1)).unwrap();
            } else {
                a.vmov(FReg::S(0), FReg::S(2)).unwrap();
                a.vmov(FReg::S(1), FReg::S(3)).unwrap();
            }
            a.vmov(FReg::S(2), FReg::S(4)).unwrap();
            a.bx(Reg::LR).unwrap();
        });
        t.function(1, |t| t.udf_trap(TrapCode::IntegerDivisionByZero));
    })
    .bytes
}

/// The runner for 32-bit Arm Linux (module documentation).
fn armv7_runner() -> &'static Path {
    static RUNNER: OnceLock<PathBuf> = OnceLock::new();
    RUNNER.get_or_init(|| {
        if let Some(p) = std::env::var_os("WASM_AOT_RUNNER_ARMV7") {
            return PathBuf::from(p);
        }
        let wasm_aot = Path::new(env!("CARGO_BIN_EXE_wasm-aot"));
        let target_dir = wasm_aot
            .parent()
            .and_then(Path::parent)
            .expect("wasm-aot is in target/<profile>/");
        let own_dir = target_dir.join("wasm-aot-run-cortex-m");
        let status = Command::new(env!("CARGO"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "-q", "-p", "wasm-aot-runner"])
            .args(["--target", "armv7-unknown-linux-gnueabihf"])
            .arg("--target-dir")
            .arg(&own_dir)
            .status()
            .expect("cargo starts");
        assert!(status.success(), "building the armv7 runner failed");
        own_dir.join("armv7-unknown-linux-gnueabihf/debug/wasm-aot-runner")
    })
}

fn run(image: &[u8], name: &str, args: &[&str]) -> Output {
    run_on(None, image, name, args)
}

/// [`run`] with `QEMU_CPU` set to `cpu` (a CPU model of `qemu-arm`) when given.
fn run_on(cpu: Option<&str>, image: &[u8], name: &str, args: &[&str]) -> Output {
    let dir = std::env::temp_dir().join(format!(
        "wasm-aot-run-cortex-m-{}-{name}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.img"));
    std::fs::write(&path, image).unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_wasm-aot"));
    command
        .args(["run", "--invoke", name])
        .arg(&path)
        .args(args)
        .env("WASM_AOT_RUNNER_ARMV7", armv7_runner());
    if let Some(cpu) = cpu {
        command.env("QEMU_CPU", cpu);
    }
    let out = command.output().expect("wasm-aot starts");
    let _ = std::fs::remove_dir_all(&dir);
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn results_are_printed_one_per_line() {
    for (target, f64_result) in [
        (Target::CortexM7, "-0.5"),
        (Target::CortexM4F, "-0.25"),
        (Target::CortexM55, "-0.5"),
        (Target::CortexM33, "-0.25"),
    ] {
        let out = run(
            &image(target),
            "arith",
            &["50", "0x1ffffffff", "1.5", "-0.25"],
        );
        assert_eq!(
            out.status.code(),
            Some(0),
            "{target}: {}",
            text(&out.stderr)
        );
        let expected = format!("8589934592\n{f64_result}\n43\n2.25\n");
        assert_eq!(text(&out.stdout), expected, "{target}");
    }
}

#[test]
fn a_trap_exits_with_134() {
    let out = run(&image(Target::CortexM7), "trap", &["1"]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), "");
    assert!(
        text(&out.stderr).starts_with("error: wasm trap: "),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn other_errors_exit_with_1() {
    // A profile the CPU cannot run (a Cortex-A15 has no FPv5, so it behaves like a
    // cortex-m4f core): refused by the runtime, naming both targets.
    let out = run_on(
        Some("cortex-a15"),
        &image(Target::CortexM7),
        "arith",
        &["1", "2", "3", "4"],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("cortex-m7") && stderr.contains("cortex-m4f"),
        "{stderr}"
    );
    // A bad argument and a missing export.
    let out = run(&image(Target::CortexM7), "arith", &["x", "2", "3", "4"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let out = run(&image(Target::CortexM7), "missing", &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no exported function named `missing`"));
}
