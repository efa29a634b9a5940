//! Build-script helper of the Cortex-M boards (included with `#[path]`): compiles every `*.wat`
//! of `cortex-m-common/wasm` (the modules of the firmware bodies this crate holds, such as
//! `memories_test`) for the board's core into `$OUT_DIR/<stem>.img`, with the default compiler
//! settings. Any compile error fails the build.

use std::path::Path;

use host_compiler::Target;
use host_compiler::build::Builder;

/// Compiles every `*.wat` of `dir` for `target` into `out/<stem>.img`.
pub fn compile_common_modules(
    dir: &Path,
    out: &Path,
    target: Target,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("wat") {
            println!("cargo:rerun-if-changed={}", path.display());
            Builder::new(&path).target(target).out_dir(out).compile()?;
        }
    }
    Ok(())
}
