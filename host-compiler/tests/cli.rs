//! The `wasm-aot` command line, end to end on the host (x86_64 images run in-process).

use std::path::PathBuf;
use std::process::{Command, Output};

fn wasm_aot(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_wasm-aot"))
        .args(args)
        .output()
        .expect("wasm-aot starts")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wasm-aot-cli-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const MODULE: &str = r#"(module
  (func (export "add") (param i32 i32) (result i32) (i32.add (local.get 0) (local.get 1)))
  (func (export "pair") (param i64 f64) (result f64 i64) (local.get 1) (local.get 0))
  (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1))))"#;

fn native() -> &'static str {
    if cfg!(target_arch = "aarch64") {
        "aarch64"
    } else {
        "x86_64"
    }
}

#[test]
fn compile_inspect_run() {
    let dir = scratch("run");
    let wat = dir.join("m.wat");
    let img = dir.join("m.img");
    std::fs::write(&wat, MODULE).unwrap();
    let out = wasm_aot(&[
        "compile",
        wat.to_str().unwrap(),
        "--target",
        native(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = wasm_aot(&["inspect", img.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(native()), "{text}");
    assert!(text.contains("add"), "{text}");

    // Both argument orders of `run` work.
    let out = wasm_aot(&["run", "--invoke", "add", img.to_str().unwrap(), "40", "2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "42\n");
    let out = wasm_aot(&["run", img.to_str().unwrap(), "--invoke", "add", "-1", "-2"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "-3\n");
    let out = wasm_aot(&["run", "--invoke", "pair", img.to_str().unwrap(), "7", "2.5"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2.5\n7\n");

    // A trap: message on stderr, status 134.
    let out = wasm_aot(&["run", "--invoke", "div", img.to_str().unwrap(), "1", "0"]);
    assert_eq!(out.status.code(), Some(134));
    assert!(String::from_utf8_lossy(&out.stderr).contains("integer divide by zero"));

    // A .wat file runs directly (compiled for this machine first).
    let out = wasm_aot(&["run", "--invoke", "add", wat.to_str().unwrap(), "1", "1"]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "2\n");

    // Bad arguments and missing exports are errors with status 1.
    assert_eq!(
        wasm_aot(&["run", "--invoke", "add", img.to_str().unwrap(), "x", "1"])
            .status
            .code(),
        Some(1)
    );
    assert_eq!(
        wasm_aot(&["run", "--invoke", "nope", img.to_str().unwrap()])
            .status
            .code(),
        Some(1)
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn invalid_wasm_names_function_and_offset() {
    let dir = scratch("invalid");
    let wat = dir.join("bad.wat");
    // Function 1 adds an i64 to an i32.
    std::fs::write(
        &wat,
        "(module (func) (func (result i32) (i32.add (i32.const 1) (i64.const 2))))",
    )
    .unwrap();
    let out = wasm_aot(&[
        "compile",
        wat.to_str().unwrap(),
        "--target",
        "aarch64",
        "-o",
        dir.join("x.img").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("function 1") && err.contains("offset 0x"),
        "{err}"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn corrupted_image_is_refused() {
    let dir = scratch("corrupt");
    let wat = dir.join("m.wat");
    let img = dir.join("m.img");
    std::fs::write(&wat, MODULE).unwrap();
    assert!(
        wasm_aot(&[
            "compile",
            wat.to_str().unwrap(),
            "--target",
            native(),
            "-o",
            img.to_str().unwrap()
        ])
        .status
        .success()
    );
    let mut bytes = std::fs::read(&img).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&img, &bytes).unwrap();
    for args in [
        vec!["inspect", img.to_str().unwrap()],
        vec!["run", "--invoke", "add", img.to_str().unwrap(), "1", "2"],
    ] {
        let out = wasm_aot(&args);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("digest"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn output_formats_img_bin_hex() {
    let dir = scratch("formats");
    let wat = dir.join("m.wat");
    std::fs::write(&wat, MODULE).unwrap();
    let compile = |extra: &[&str]| {
        let mut args = vec!["compile", wat.to_str().unwrap(), "--target", "aarch64"];
        args.extend_from_slice(extra);
        wasm_aot(&args)
    };
    let ok = |out: Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    ok(compile(&[]));
    let img = std::fs::read(dir.join("m.img")).unwrap();
    ok(compile(&["--format", "bin", "--address", "0x40100000"]));
    assert_eq!(
        std::fs::read(dir.join("m.bin")).unwrap(),
        img,
        "bin = img bytes"
    );
    ok(compile(&["--format", "hex", "--address", "0x4010_0000"]));
    let hex = std::fs::read_to_string(dir.join("m.hex")).unwrap();
    assert!(hex.starts_with(":020000044010AA\n"), "{hex}");
    assert!(hex.ends_with(":00000001FF\n"));
    let segs = host_compiler::image::ihex::decode(&hex).unwrap();
    assert_eq!(segs.len(), 1);
    assert_eq!(segs[0].address, 0x4010_0000);
    assert_eq!(segs[0].data, img);

    // hex without an address is refused.
    let out = compile(&["--format", "hex"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--address"));

    // Guard-elided images record their reservation.
    ok(compile(&[
        "--bounds-checks",
        "guard-elided",
        "-o",
        dir.join("g.img").to_str().unwrap(),
    ]));
    let out = wasm_aot(&["inspect", dir.join("g.img").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("GuardElided") && text.contains("4295032832"),
        "{text}"
    );
}

/// `run --board` refuses what the board cannot run before booting anything (so no emulator is
/// needed here; `boards/qemu-virt-aarch64/run-tests.sh` runs images on the board).
#[test]
fn run_on_board_refuses_other_targets_and_unknown_boards() {
    let dir = scratch("board");
    let wat = dir.join("m.wat");
    let img = dir.join("m.img");
    std::fs::write(&wat, MODULE).unwrap();
    let compiled = wasm_aot(&[
        "compile",
        wat.to_str().unwrap(),
        "--target",
        "x86_64",
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(compiled.status.success());
    let img = img.to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &[
                "run",
                "--board",
                "qemu-virt-aarch64",
                img,
                "--invoke",
                "add",
                "1",
                "2",
            ],
            "board qemu-virt-aarch64 runs only aarch64 images",
        ),
        (
            &["run", "--board", "nope", img, "--invoke", "add", "1", "2"],
            "unknown board `nope`",
        ),
        (
            &[
                "run",
                "--board",
                "qemu-virt-aarch64",
                wat.to_str().unwrap(),
                "--invoke",
                "add",
            ],
            "WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64 names",
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(env!("CARGO_BIN_EXE_wasm-aot"))
            .args(args)
            .env(
                "WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64",
                dir.join("missing"),
            )
            .output()
            .expect("wasm-aot starts");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    std::fs::remove_dir_all(dir).ok();
}

const LOOPS: &str = r#"(module
  (func (export "sum") (param $n i32) (result i32) (local $i i32) (local $s i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (local.set $s (i32.add (local.get $s) (local.get $i)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $s))
  (func (export "forever") (loop $l (br $l))))"#;

/// `run --fuel N` and `--epoch-deadline T`: a .wat input is compiled with the instrumentation,
/// the fuel consumed is printed on stderr, running out of either is a trap (134), and an image
/// compiled without the instrumentation or a board run is refused (1).
#[test]
fn run_under_fuel_and_epoch_limits() {
    let dir = scratch("limits");
    let wat = dir.join("loops.wat");
    std::fs::write(&wat, LOOPS).unwrap();
    let wat = wat.to_str().unwrap();
    let text = |out: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    };

    // sum(10): the loop header block (4) and body block (9) ten times, the last header (4), the
    // block after the loop (`local.get $s` and `end`: 1) = 135 (`module::fuel`'s cost model).
    let out = wasm_aot(&["run", "--invoke", "sum", "--fuel", "1000", wat, "10"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "45\n");
    assert!(text(&out).contains("fuel consumed: 135"), "{}", text(&out));

    // 50 fuel pays the first three iterations (39) and the fourth header (4, checked); its body
    // (9) is not checked and runs, 2 beyond the budget: the fifth header cannot pay that debt.
    let out = wasm_aot(&["run", "--invoke", "sum", "--fuel", "50", wat, "10"]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out));
    assert!(
        text(&out).contains("fuel consumed: 52 (debt 2)"),
        "{}",
        text(&out)
    );
    assert!(text(&out).contains("all fuel consumed"), "{}", text(&out));

    let out = wasm_aot(&["run", "--invoke", "forever", "--epoch-deadline", "5", wat]);
    assert_eq!(out.status.code(), Some(134), "{}", text(&out));
    assert!(text(&out).contains("interrupt"), "{}", text(&out));

    let img = dir.join("plain.img");
    let compiled = wasm_aot(&[
        "compile",
        wat,
        "--target",
        native(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(compiled.status.success(), "{}", text(&compiled));
    let img = img.to_str().unwrap();
    let out = wasm_aot(&["run", "--invoke", "sum", "--fuel", "5", img, "3"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("compiled with fuel metering"),
        "{}",
        text(&out)
    );
    let out = wasm_aot(&["run", "--invoke", "forever", "--epoch-deadline", "5", img]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("compiled with epoch checks"),
        "{}",
        text(&out)
    );

    // With --board the budget goes to the board's runner firmware (boards/*/run-tests.sh run
    // it and compare with the hosted run): the flags are accepted, and what stops this run is
    // the missing firmware, named by the variable.
    let missing = scratch("no-firmware").join("runner");
    let out = Command::new(env!("CARGO_BIN_EXE_wasm-aot"))
        .args([
            "run",
            "--board",
            "mps2-an386",
            "--invoke",
            "sum",
            "--fuel",
            "5",
            "--epoch-deadline",
            "10",
            wat,
            "3",
        ])
        .env("WASM_AOT_BOARD_RUNNER_MPS2_AN386", &missing)
        .output()
        .expect("wasm-aot starts");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        text(&out).contains("WASM_AOT_BOARD_RUNNER_MPS2_AN386 names")
            && text(&out).contains("which is not a file"),
        "{}",
        text(&out)
    );
}

#[test]
fn inspect_reports_each_memory_and_its_slot_reserve() {
    let dir = scratch("memories");
    let wat = dir.join("m.wat");
    let img = dir.join("m.img");
    std::fs::write(
        &wat,
        r#"(module
  (import "env" "io" (memory 1 4))
  (memory (export "small") 300 400 (pagesize 1))
  (memory 1)
  (memory i64 2 70000))"#,
    )
    .unwrap();
    let out = wasm_aot(&[
        "compile",
        wat.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = wasm_aot(&["inspect", img.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for line in [
        "env.io: memory i32 1..=4 pages of 64 KiB (64 KiB..256 KiB)\n",
        "memories (3)\n",
        "  i32 300..=400 pages of 1 B (300 B..400 B); slot reserve 400 B (its maximum, capped by the engine's memory_reservation)\n",
        "  i32 1.. pages of 64 KiB (64 KiB..); slot reserve the engine's memory_reservation (no maximum)\n",
        "  i64 2..=70000 pages of 64 KiB (128 KiB..4375 MiB); slot reserve 4375 MiB (its maximum, capped by the engine's memory_reservation)\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[test]
fn compile_proposals_option() {
    let dir = scratch("proposals");
    let wat = dir.join("m.wat");
    std::fs::write(&wat, "(module (memory 1) (memory i64 1))").unwrap();
    let compile = |list: &str| {
        let img = dir.join(format!("{list}.img"));
        wasm_aot(&[
            "compile",
            wat.to_str().unwrap(),
            "--proposals",
            list,
            "-o",
            img.to_str().unwrap(),
        ])
    };
    assert!(compile("all").status.success());
    assert!(compile("multi-memory,memory64").status.success());
    for refused in ["none", "memory64", "multi-memory"] {
        let out = compile(refused);
        assert!(!out.status.success(), "--proposals {refused} compiled");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("invalid wasm"), "{err}");
    }
    let out = compile("memory64,threads");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("unknown proposal list"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
