//! Build-script helper of the Cortex-M boards (included with `#[path]`): compiles every
//! `*.wat` of a directory with epoch checks and fuel metering (`CompilerConfig::epochs(true)
//! .fuel(true)`) into `$OUT_DIR/<stem>.img`, the images of the boards' three-task demo
//! (`examples/demo_tasks.rs`, whose fuel part needs the metering).
//! Any compile error fails the build.

use std::path::Path;

use host_compiler::{Compiler, CompilerConfig, Target};

/// Compiles every `*.wat` of `dir` for `target` with epoch checks and fuel metering into
/// `out/<stem>.img`.
pub fn compile_epoch_modules(
    dir: &Path,
    out: &Path,
    target: Target,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let config = CompilerConfig::for_target(target).epochs(true).fuel(true);
    let compiler = Compiler::new(config)?;
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
