//! Build-script helper of the Cortex-M boards (included with `#[path]`): compiles every
//! `*.wat` of a directory with epoch checks (`CompilerConfig::epochs(true)`) into
//! `$OUT_DIR/<stem>.img`, the images of the boards' three-task demo (`examples/demo_tasks.rs`).
//!
//! If the compiler refuses epoch checks for the target while it accepts the same configuration
//! without them (a Thumb backend without epoch support), no image is written: the build sets
//! `cfg(epochs_unavailable)` and the environment variable `EPOCHS_UNAVAILABLE` (the compiler's
//! message) for the crate's code, so the demo firmware can say that it cannot run instead of
//! running something else. Any other error fails the build.

use std::path::Path;

use host_compiler::{CompileError, Compiler, CompilerConfig, Target};

/// Compiles every `*.wat` of `dir` for `target` with epoch checks into `out/<stem>.img` (see
/// the module documentation for a compiler without epoch support).
pub fn compile_epoch_modules(
    dir: &Path,
    out: &Path,
    target: Target,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo::rustc-check-cfg=cfg(epochs_unavailable)");
    println!("cargo:rerun-if-changed={}", dir.display());
    let config = CompilerConfig::for_target(target).epochs(true);
    let compiler = match Compiler::new(config) {
        Ok(compiler) => compiler,
        Err(CompileError::Config(message))
            if Compiler::new(CompilerConfig::for_target(target)).is_ok() =>
        {
            println!("cargo:warning=no epoch images for {target}: {message}");
            println!("cargo:rustc-cfg=epochs_unavailable");
            println!("cargo:rustc-env=EPOCHS_UNAVAILABLE={message}");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wat") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .ok_or("epoch modules: a file name that is not UTF-8")?;
        let source = std::fs::read(&path)?;
        let wasm = host_compiler::wat_or_wasm(&source)?;
        let image = compiler.compile(&wasm)?;
        std::fs::write(out.join(format!("{stem}.img")), &image.bytes)?;
    }
    Ok(())
}
