//! Runs on the host. Two jobs:
//!
//! 1. Linker script: when building for the board, put `link.x` on the linker path and pass it
//!    to binaries and examples only (never to host unit tests of the library).
//! 2. Wasm modules built into the firmware: every `wasm/*.wat` is compiled for AArch64 by the
//!    host compiler, used as a library, into `$OUT_DIR/<name>.img`; firmware includes it with
//!    `qemu_virt_aarch64::include_image!("<name>")`, which aligns it for execution in place.

use std::path::PathBuf;

use host_compiler::{Compiler, CompilerConfig, Target, wat_or_wasm};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var("OUT_DIR")?);
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?);
    let target = std::env::var("TARGET")?;

    println!("cargo:rerun-if-changed=link.x");
    println!("cargo:rerun-if-changed=build.rs");
    if target == "aarch64-unknown-none" {
        std::fs::copy(manifest.join("link.x"), out.join("link.x"))?;
        println!("cargo:rustc-link-search={}", out.display());
        println!("cargo:rustc-link-arg-examples=-Tlink.x");
    }

    let compiler = Compiler::new(CompilerConfig::for_target(Target::Aarch64))?;
    let wasm_dir = manifest.join("wasm");
    println!("cargo:rerun-if-changed={}", wasm_dir.display());
    let mut entries: Vec<_> = std::fs::read_dir(&wasm_dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.path());
    for entry in entries {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) != Some("wat") {
            continue;
        }
        println!("cargo:rerun-if-changed={}", path.display());
        let source = std::fs::read(&path)?;
        let wasm = wat_or_wasm(&source).map_err(|e| format!("{}: {e}", path.display()))?;
        let image = compiler
            .compile(&wasm)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let stem = path
            .file_stem()
            .ok_or("file name")?
            .to_string_lossy()
            .into_owned();
        std::fs::write(out.join(format!("{stem}.img")), &image.bytes)?;
    }
    Ok(())
}
