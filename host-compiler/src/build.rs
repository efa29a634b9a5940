//! Compiling modules from a firmware's `build.rs`.
//!
//! ```no_run
//! // build.rs of a firmware crate (host-compiler as a build-dependency)
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let image = host_compiler::build::Builder::new("src/module.wat")
//!         .target_from_env()?
//!         .compile()?;
//!     // image == $OUT_DIR/module.img; `cargo:rerun-if-changed=src/module.wat` was printed.
//!     let _ = image;
//!     Ok(())
//! }
//! ```
//!
//! and in the firmware: `static IMAGE: &device_runtime::AlignedImage =
//! device_runtime::include_image!("module.img");`.
//!
//! The target comes from the variables Cargo sets for build scripts: `CARGO_CFG_TARGET_ARCH`
//! `aarch64` is [`Target::Aarch64`], `x86_64` is [`Target::X86_64Sim`]; an `arm` target whose
//! triple (`TARGET`) starts with `thumbv` is a Cortex-M core, which the triple does not name
//! (`thumbv7em-none-eabihf` is a Cortex-M4F or a Cortex-M7): refused with
//! [`BuildError::UnsupportedTarget`]; name the core with [`Builder::target`].

use std::path::{Path, PathBuf};

use crate::{BoundsChecks, CompileError, Compiler, CompilerConfig, Target};

/// Why a build-script compilation failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum BuildError {
    /// A variable Cargo sets for build scripts is missing (not running under Cargo?).
    MissingEnv(&'static str),
    /// The Cargo target does not determine a backend target: a `thumbv*` triple (it does not
    /// name the Cortex-M core; use [`Builder::target`]), or an architecture we never generate
    /// code for.
    UnsupportedTarget {
        /// The target triple, or the architecture when the triple is unknown.
        target: String,
        /// Why.
        reason: &'static str,
    },
    /// Reading the input or writing the image failed.
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        error: std::io::Error,
    },
    /// The input's file name gives no image name.
    BadInputName(PathBuf),
    /// The compiler refused the configuration or the module.
    Compile(CompileError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::MissingEnv(var) => {
                write!(
                    f,
                    "{var} is not set: run from a Cargo build script, or set the target explicitly"
                )
            }
            BuildError::UnsupportedTarget { target, reason } => {
                write!(
                    f,
                    "cannot compile wasm for Cargo target `{target}`: {reason}"
                )
            }
            BuildError::Io { path, error } => write!(f, "{}: {error}", path.display()),
            BuildError::BadInputName(p) => {
                write!(f, "{}: no file name to name the image after", p.display())
            }
            BuildError::Compile(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BuildError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BuildError::Io { error, .. } => Some(error),
            BuildError::Compile(e) => Some(e),
            _ => None,
        }
    }
}

impl From<CompileError> for BuildError {
    fn from(e: CompileError) -> Self {
        BuildError::Compile(e)
    }
}

/// The image target for a Cargo target described by build-script variables, read through
/// `var` (`std::env::var` in a build script): `CARGO_CFG_TARGET_ARCH`, and `TARGET` for the
/// Cortex-M cores.
pub fn target_from_cargo_env(var: impl Fn(&str) -> Option<String>) -> Result<Target, BuildError> {
    let arch =
        var("CARGO_CFG_TARGET_ARCH").ok_or(BuildError::MissingEnv("CARGO_CFG_TARGET_ARCH"))?;
    let triple = var("TARGET").unwrap_or_else(|| arch.clone());
    match arch.as_str() {
        "aarch64" => {
            if var("CARGO_CFG_TARGET_POINTER_WIDTH").is_some_and(|w| w != "64") {
                return Err(BuildError::UnsupportedTarget {
                    target: triple,
                    reason: "images need 64-bit AArch64 (ILP32 is not supported)",
                });
            }
            Ok(Target::Aarch64)
        }
        "x86_64" => Ok(Target::X86_64Sim),
        "arm" if triple.starts_with("thumbv") => Err(BuildError::UnsupportedTarget {
            target: triple,
            reason: "the triple does not say which Cortex-M core the Thumb-2 image is for: \
                     name it with Builder::target (cortex-m4f, cortex-m7, cortex-m33, cortex-m55)",
        }),
        _ => Err(BuildError::UnsupportedTarget {
            target: triple,
            reason: "no backend for this architecture (aarch64, x86_64; Cortex-M later)",
        }),
    }
}

/// Compiles one module into `OUT_DIR` from a build script. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Builder {
    input: PathBuf,
    target: Option<Target>,
    out_dir: Option<PathBuf>,
    name: Option<String>,
    bounds_checks: BoundsChecks,
    guard_size: u64,
    emit_cargo_directives: bool,
}

impl Builder {
    /// A builder for `input` (`.wat` or `.wasm`, relative to the crate root as Cargo runs build
    /// scripts there).
    pub fn new(input: impl AsRef<Path>) -> Builder {
        Builder {
            input: input.as_ref().to_path_buf(),
            target: None,
            out_dir: None,
            name: None,
            bounds_checks: BoundsChecks::Explicit,
            guard_size: crate::DEFAULT_GUARD_SIZE,
            emit_cargo_directives: true,
        }
    }

    /// Sets the target explicitly.
    pub fn target(mut self, target: Target) -> Builder {
        self.target = Some(target);
        self
    }

    /// Sets the target from Cargo's build-script environment ([`target_from_cargo_env`]).
    pub fn target_from_env(self) -> Result<Builder, BuildError> {
        let target = target_from_cargo_env(|k| std::env::var(k).ok())?;
        Ok(self.target(target))
    }

    /// Output directory. Default: `$OUT_DIR`.
    pub fn out_dir(mut self, dir: impl AsRef<Path>) -> Builder {
        self.out_dir = Some(dir.as_ref().to_path_buf());
        self
    }

    /// Image file name. Default: the input's file stem with `.img` (`src/module.wat` ->
    /// `module.img`).
    pub fn image_name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Bounds-check strategy (see [`CompilerConfig::bounds_checks`]). Default explicit.
    pub fn bounds_checks(mut self, strategy: BoundsChecks) -> Builder {
        self.bounds_checks = strategy;
        self
    }

    /// Guard size for guard-elided checks (see [`CompilerConfig::guard_size`]).
    pub fn guard_size(mut self, bytes: u64) -> Builder {
        self.guard_size = bytes;
        self
    }

    /// Whether to print `cargo:rerun-if-changed=<input>` (default: yes).
    pub fn emit_cargo_directives(mut self, emit: bool) -> Builder {
        self.emit_cargo_directives = emit;
        self
    }

    /// Compiles the input and writes the image; returns its path. Without an explicit target,
    /// the target is read from Cargo's environment.
    pub fn compile(self) -> Result<PathBuf, BuildError> {
        if self.emit_cargo_directives {
            println!("cargo:rerun-if-changed={}", self.input.display());
        }
        let target = match self.target {
            Some(t) => t,
            None => target_from_cargo_env(|k| std::env::var(k).ok())?,
        };
        let out_dir = match self.out_dir {
            Some(d) => d,
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(BuildError::MissingEnv("OUT_DIR"))?,
        };
        let name = match self.name {
            Some(n) => n,
            None => {
                let stem = self
                    .input
                    .file_stem()
                    .and_then(|s| s.to_str())
                    .ok_or_else(|| BuildError::BadInputName(self.input.clone()))?;
                format!("{stem}.img")
            }
        };
        let source = std::fs::read(&self.input).map_err(|error| BuildError::Io {
            path: self.input.clone(),
            error,
        })?;
        let wasm = crate::wat_or_wasm(&source)?;
        let config = CompilerConfig::for_target(target)
            .bounds_checks(self.bounds_checks)
            .guard_size(self.guard_size);
        let image = Compiler::new(config)?.compile(&wasm)?;
        let path = out_dir.join(name);
        std::fs::write(&path, &image.bytes).map_err(|error| BuildError::Io {
            path: path.clone(),
            error,
        })?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn aarch64_and_x86_64() {
        let t = target_from_cargo_env(env(&[
            ("CARGO_CFG_TARGET_ARCH", "aarch64"),
            ("CARGO_CFG_TARGET_POINTER_WIDTH", "64"),
            ("TARGET", "aarch64-unknown-none"),
        ]));
        assert_eq!(t.unwrap(), Target::Aarch64);
        let t = target_from_cargo_env(env(&[
            ("CARGO_CFG_TARGET_ARCH", "x86_64"),
            ("TARGET", "x86_64-unknown-linux-gnu"),
        ]));
        assert_eq!(t.unwrap(), Target::X86_64Sim);
    }

    #[test]
    fn cortex_m_is_a_clear_error() {
        for triple in [
            "thumbv7em-none-eabihf",
            "thumbv8m.main-none-eabihf",
            "thumbv6m-none-eabi",
        ] {
            let err =
                target_from_cargo_env(env(&[("CARGO_CFG_TARGET_ARCH", "arm"), ("TARGET", triple)]))
                    .unwrap_err();
            let text = err.to_string();
            assert!(text.contains(triple) && text.contains("Thumb-2"), "{text}");
        }
    }

    #[test]
    fn other_and_missing() {
        let err = target_from_cargo_env(env(&[("CARGO_CFG_TARGET_ARCH", "riscv32")])).unwrap_err();
        assert!(matches!(err, BuildError::UnsupportedTarget { .. }), "{err}");
        let err = target_from_cargo_env(env(&[
            ("CARGO_CFG_TARGET_ARCH", "aarch64"),
            ("CARGO_CFG_TARGET_POINTER_WIDTH", "32"),
        ]))
        .unwrap_err();
        assert!(matches!(err, BuildError::UnsupportedTarget { .. }), "{err}");
        assert!(matches!(
            target_from_cargo_env(env(&[])),
            Err(BuildError::MissingEnv("CARGO_CFG_TARGET_ARCH"))
        ));
    }
}
