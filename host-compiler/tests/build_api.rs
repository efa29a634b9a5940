//! `host_compiler::build::Builder` as a build script uses it, with a temporary OUT_DIR.

use host_compiler::Target;
use host_compiler::build::{BuildError, Builder};

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("host-compiler-build-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn writes_the_image_named_after_the_input() {
    let dir = temp_dir("ok");
    let input = dir.join("blink.wat");
    std::fs::write(
        &input,
        r#"(module (func (export "f") (result i32) i32.const 7))"#,
    )
    .unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let path = Builder::new(&input)
        .target(Target::Aarch64)
        .out_dir(&out)
        .compile()
        .expect("compile");
    assert_eq!(path, out.join("blink.img"));
    let bytes = std::fs::read(&path).unwrap();
    let summary = host_compiler::image::inspect(&bytes).expect("valid image");
    assert_eq!(summary.header.target, Target::Aarch64);
    assert_eq!(summary.exports.len(), 1);

    // Named explicitly, guard-elided.
    let path = Builder::new(&input)
        .target(Target::X86_64Sim)
        .out_dir(&out)
        .image_name("other.img")
        .bounds_checks(host_compiler::BoundsChecks::GuardElided)
        .emit_cargo_directives(false)
        .compile()
        .expect("compile");
    let summary = host_compiler::image::inspect(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        summary.tunables.bounds_checks,
        host_compiler::BoundsChecks::GuardElided
    );
}

#[test]
fn errors_are_typed() {
    let dir = temp_dir("err");
    let err = Builder::new(dir.join("missing.wat"))
        .target(Target::Aarch64)
        .out_dir(&dir)
        .compile()
        .unwrap_err();
    assert!(matches!(err, BuildError::Io { .. }), "{err}");
    let input = dir.join("bad.wat");
    std::fs::write(&input, "(module (func (result i32)))").unwrap();
    let err = Builder::new(&input)
        .target(Target::Aarch64)
        .out_dir(&dir)
        .compile()
        .unwrap_err();
    assert!(matches!(err, BuildError::Compile(_)), "{err}");
    let err = Builder::new(&input)
        .target(Target::CortexM4F)
        .out_dir(&dir)
        .compile()
        .unwrap_err();
    assert!(matches!(err, BuildError::Compile(_)), "{err}");
}

#[test]
fn the_build_script_environment_is_read() {
    // Run as a child process so that setting Cargo's variables does not race other tests.
    if std::env::var_os("BUILD_API_CHILD").is_some() {
        let path = Builder::new(std::env::var("BUILD_API_INPUT").unwrap())
            .target_from_env()
            .expect("target from env")
            .compile()
            .expect("compile");
        println!("IMAGE={}", path.display());
        return;
    }
    let dir = temp_dir("env");
    let input = dir.join("module.wat");
    std::fs::write(&input, "(module)").unwrap();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "the_build_script_environment_is_read",
            "--exact",
            "--nocapture",
        ])
        .env("BUILD_API_CHILD", "1")
        .env("BUILD_API_INPUT", &input)
        .env("OUT_DIR", &dir)
        .env("CARGO_CFG_TARGET_ARCH", "aarch64")
        .env("CARGO_CFG_TARGET_POINTER_WIDTH", "64")
        .env("TARGET", "aarch64-unknown-none")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("cargo:rerun-if-changed={}", input.display())),
        "{stdout}"
    );
    let image = dir.join("module.img");
    assert!(
        stdout.contains(&format!("IMAGE={}", image.display())),
        "{stdout}"
    );
    let summary = host_compiler::image::inspect(&std::fs::read(&image).unwrap()).unwrap();
    assert_eq!(summary.header.target, Target::Aarch64);
}
