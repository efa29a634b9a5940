//! `wasm-aot`: compile WebAssembly into device images, inspect them, and run them.
//!
//! A thin layer over the `host_compiler` library (one struct per subcommand):
//!
//! * `wasm-aot compile INPUT -o IMAGE --target aarch64` compiles `.wasm` or `.wat`;
//!   `--format img|bin|hex [--address 0x...]` picks the output form (the image; the same bytes
//!   as a raw binary for a flash tool; Intel HEX placed at `--address`), and
//!   `--bounds-checks explicit|guard-elided [--guard-size BYTES]` the bounds-check strategy;
//! * `wasm-aot inspect IMAGE` prints the header, functions, imports, exports, memories, tables,
//!   globals, the trap table and the relocation count;
//! * `wasm-aot run IMAGE --invoke NAME [ARGS...]` instantiates the image and calls an export.
//!   An image for this machine runs in-process on the hosted device runtime; an `aarch64` image
//!   on another host runs in `wasm-aot-runner` under `qemu-aarch64`, a Cortex-M image (without
//!   `--board`) in `wasm-aot-runner` built for `armv7-unknown-linux-gnueabihf` under `qemu-arm`.
//!   With
//!   `--board qemu-virt-aarch64` an aarch64 image runs on the emulated bare-metal board instead
//!   (the board's runner firmware booted in `qemu-system-aarch64`, the image flashed into its
//!   image partition), with the same output and exit status; `--load in-place|copy` picks
//!   execution in place from flash (the default) or a copy into RAM.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use host_compiler::{BoundsChecks, Compiler, CompilerConfig, Target};
use shared_types::ImageHeader;

#[derive(Parser)]
#[command(
    name = "wasm-aot",
    version,
    about = "Ahead-of-time WebAssembly compiler for embedded devices"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compile a .wasm or .wat module into a relocation-free image.
    Compile(CompileCmd),
    /// Print what an image contains.
    Inspect(InspectCmd),
    /// Call an exported function of an image (or of a module, compiled first) and print its results.
    Run(RunCmd),
}

#[derive(Args)]
struct CompileCmd {
    /// Input module, binary (.wasm) or text (.wat).
    input: PathBuf,
    /// Output image; defaults to the input name with the extension `.img`.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// Target: aarch64 or x86_64 (host simulation).
    #[arg(long, default_value = "aarch64")]
    target: String,
    /// Zero bytes inserted between functions (to exercise branch veneers).
    #[arg(long, default_value_t = 0)]
    pad_functions: u32,
    /// Output format: `img` (the image), `bin` (the same bytes, a raw binary for a flash tool
    /// that places it at an address you give the tool), `hex` (Intel HEX at `--address`).
    #[arg(long, value_enum, default_value_t = Format::Img)]
    format: Format,
    /// Load address of the image in the device's address space (required for `hex`), e.g.
    /// `0x40100000`.
    #[arg(long, value_parser = parse_address)]
    address: Option<u32>,
    /// Bounds checks: `explicit` (default) or `guard-elided` (aarch64/x86_64 with an MMU; the
    /// device must reserve 4 GiB + guard per 32-bit memory).
    #[arg(long, default_value = "explicit")]
    bounds_checks: String,
    /// Guard bytes behind the 4 GiB reservation for `guard-elided` (multiple of 64 KiB).
    #[arg(long, default_value_t = host_compiler::DEFAULT_GUARD_SIZE)]
    guard_size: u64,
}

/// What `compile` writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Format {
    /// The image.
    Img,
    /// The image bytes unchanged, as a raw binary for a flash tool.
    Bin,
    /// Intel HEX records at `--address`.
    Hex,
}

fn parse_address(s: &str) -> Result<u32, String> {
    let s = s.replace('_', "");
    let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16),
        None => s.parse::<u32>(),
    };
    parsed.map_err(|e| format!("`{s}` is not a 32-bit address: {e}"))
}

#[derive(Args)]
struct InspectCmd {
    /// Image to inspect.
    image: PathBuf,
}

#[derive(Args)]
struct RunCmd {
    /// Exported function to call.
    #[arg(long)]
    invoke: String,
    /// Image, or a .wasm/.wat module compiled for this machine first.
    image: PathBuf,
    /// Run on an emulated board instead: `qemu-virt-aarch64` boots the board's runner firmware
    /// in `qemu-system-aarch64` with the image and the call flashed into its image partition.
    #[arg(long)]
    board: Option<String>,
    /// With `--board`: execute the image in place from flash (`in-place`, the default), or
    /// copy its text into the board's code memory in RAM first (`copy`).
    #[arg(long, value_enum, requires = "board")]
    load: Option<BoardLoad>,
    /// Arguments, parsed by the function's parameter types.
    #[arg(allow_hyphen_values = true)]
    args: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compile(c) => compile(c).map(|()| 0),
        Command::Inspect(c) => inspect(c).map(|()| 0),
        Command::Run(c) => run(c),
    };
    match result {
        Ok(status) => ExitCode::from(status as u8),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(wasm_aot_runner::ERROR_EXIT_STATUS as u8)
        }
    }
}

fn parse_target(name: &str) -> anyhow::Result<Target> {
    Target::from_name(name).with_context(|| {
        let names: Vec<_> = Target::ALL.iter().map(|t| t.name()).collect();
        format!("unknown target `{name}` (known: {})", names.join(", "))
    })
}

fn compile_file(
    input: &Path,
    config: CompilerConfig,
) -> anyhow::Result<host_compiler::CompiledImage> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let wasm = host_compiler::wat_or_wasm(&bytes)?;
    let compiler = Compiler::new(config)?;
    compiler
        .compile(&wasm)
        .with_context(|| format!("cannot compile {}", input.display()))
}

fn compile(c: CompileCmd) -> anyhow::Result<()> {
    let target = parse_target(&c.target)?;
    let bounds = match c.bounds_checks.as_str() {
        "explicit" => BoundsChecks::Explicit,
        "guard-elided" | "guard" => BoundsChecks::GuardElided,
        other => bail!("unknown bounds-check strategy `{other}` (explicit, guard-elided)"),
    };
    if c.format == Format::Hex && c.address.is_none() {
        bail!("--format hex needs --address (where the image is placed, e.g. 0x40100000)");
    }
    let config = CompilerConfig::for_target(target)
        .pad_between_functions(c.pad_functions)
        .bounds_checks(bounds)
        .guard_size(c.guard_size);
    let image = compile_file(&c.input, config)?;
    let extension = match c.format {
        Format::Img => "img",
        Format::Bin => "bin",
        Format::Hex => "hex",
    };
    let output = c
        .output
        .unwrap_or_else(|| c.input.with_extension(extension));
    let contents = match c.format {
        Format::Img | Format::Bin => image.bytes.clone(),
        Format::Hex => {
            host_compiler::image::ihex::encode(&image.bytes, c.address.unwrap_or(0))?.into_bytes()
        }
    };
    std::fs::write(&output, &contents)
        .with_context(|| format!("cannot write {}", output.display()))?;
    let s = &image.stats;
    eprintln!(
        "{}: {} bytes ({} of text for {} bytes of wasm code), target {target}, 0 relocations{}",
        output.display(),
        image.bytes.len(),
        s.text_bytes,
        s.wasm_code_bytes,
        match (c.format, c.address) {
            (Format::Hex, Some(a)) => format!(", Intel HEX at {a:#010x}"),
            (Format::Bin, Some(a)) => format!(", raw binary for {a:#010x}"),
            _ => String::new(),
        }
    );
    Ok(())
}

fn inspect(c: InspectCmd) -> anyhow::Result<()> {
    let image =
        std::fs::read(&c.image).with_context(|| format!("cannot read {}", c.image.display()))?;
    let summary = host_compiler::image::inspect(&image)
        .with_context(|| format!("{} is not a valid image", c.image.display()))?;
    println!("image        {} ({} bytes)", c.image.display(), image.len());
    print!("{summary}");
    Ok(())
}

/// The target images for this machine are compiled for.
fn native_target() -> Target {
    if cfg!(target_arch = "aarch64") {
        Target::Aarch64
    } else {
        Target::X86_64Sim
    }
}

fn run(c: RunCmd) -> anyhow::Result<i32> {
    let bytes =
        std::fs::read(&c.image).with_context(|| format!("cannot read {}", c.image.display()))?;
    let is_image = bytes.starts_with(&shared_types::header::MAGIC);
    if let Some(board) = &c.board {
        if board != QEMU_VIRT_AARCH64 {
            bail!("unknown board `{board}` (known: {QEMU_VIRT_AARCH64})");
        }
        let image = if is_image {
            let target = ImageHeader::parse(&bytes)?.target;
            if target != Target::Aarch64 {
                bail!(
                    "{} is an image for {target}; board {board} runs only {} images",
                    c.image.display(),
                    Target::Aarch64
                );
            }
            bytes
        } else {
            compile_file(&c.image, CompilerConfig::for_target(Target::Aarch64))?.bytes
        };
        return run_on_board(&c, &image);
    }
    let (image, target) = if is_image {
        let target = ImageHeader::parse(&bytes)?.target;
        (bytes, target)
    } else {
        let target = native_target();
        (
            compile_file(&c.image, CompilerConfig::for_target(target))?.bytes,
            target,
        )
    };
    if target == native_target() {
        return Ok(
            match wasm_aot_runner::run_image(&image, &c.invoke, &c.args) {
                Ok(lines) => {
                    for l in lines {
                        println!("{l}");
                    }
                    0
                }
                Err(e) => {
                    eprintln!("error: {e}");
                    e.exit_status()
                }
            },
        );
    }
    match target {
        Target::Aarch64 => run_under_qemu(&c, &image, &AARCH64_USER),
        Target::CortexM4F | Target::CortexM7 | Target::CortexM33 | Target::CortexM55 => {
            run_under_qemu(&c, &image, &ARM_USER)
        }
        other => bail!(
            "images for {other} cannot run on this machine yet (no emulated executor for that target)"
        ),
    }
}

/// A Linux user-mode emulator that runs `wasm-aot-runner` built for another architecture.
struct UserModeExecutor {
    /// The Rust target the runner is built for.
    rust_target: &'static str,
    /// Environment variable that overrides where the runner is.
    runner_env: &'static str,
    /// The QEMU user-mode emulator and its sysroot.
    qemu: &'static str,
    sysroot: &'static str,
}

/// AArch64 images: the hosted runtime for aarch64 Linux under `qemu-aarch64`.
const AARCH64_USER: UserModeExecutor = UserModeExecutor {
    rust_target: "aarch64-unknown-linux-gnu",
    runner_env: "WASM_AOT_RUNNER_AARCH64",
    qemu: "qemu-aarch64",
    sysroot: "/usr/aarch64-linux-gnu",
};

/// Cortex-M (Thumb-2) images: the hosted runtime for 32-bit Arm Linux under `qemu-arm`, whose
/// default CPU (ARMv8-A in AArch32 state) runs cortex-m7 and cortex-m4f images; the runtime
/// refuses the others itself, with the same message as on any core that cannot run them.
const ARM_USER: UserModeExecutor = UserModeExecutor {
    rust_target: "armv7-unknown-linux-gnueabihf",
    runner_env: "WASM_AOT_RUNNER_ARMV7",
    qemu: "qemu-arm",
    sysroot: "/usr/arm-linux-gnueabihf",
};

/// Finds the `wasm-aot-runner` built for `executor`'s target: `$<runner_env>`, or next to this
/// executable's target directory (`target/<rust target>/<profile>/`).
fn user_mode_runner(executor: &UserModeExecutor) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os(executor.runner_env) {
        return Ok(PathBuf::from(p));
    }
    let exe = std::env::current_exe()?;
    let profile_dir = exe.parent().context("executable has no directory")?;
    let target_dir = profile_dir
        .parent()
        .context("executable is not in a cargo target directory")?;
    for profile in [
        profile_dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("release"),
        "release",
        "debug",
    ] {
        let candidate = target_dir
            .join(executor.rust_target)
            .join(profile)
            .join("wasm-aot-runner");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no {target} runner found: build it with `cargo build --release -p wasm-aot-runner --target {target}` \
         or point {env} at it",
        target = executor.rust_target,
        env = executor.runner_env,
    )
}

fn run_under_qemu(c: &RunCmd, image: &[u8], executor: &UserModeExecutor) -> anyhow::Result<i32> {
    let runner = user_mode_runner(executor)?;
    let dir = std::env::temp_dir().join(format!("wasm-aot-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let image_path = dir.join("image.img");
    std::fs::write(&image_path, image)?;
    let status = std::process::Command::new(executor.qemu)
        .arg("-L")
        .arg(executor.sysroot)
        .arg(&runner)
        .arg(&image_path)
        .arg(&c.invoke)
        .args(&c.args)
        .status()
        .with_context(|| {
            format!(
                "cannot start {} (install the Debian package qemu-user)",
                executor.qemu
            )
        })?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(status.code().unwrap_or(wasm_aot_runner::ERROR_EXIT_STATUS))
}

/// The emulated board `wasm-aot run --board` knows.
const QEMU_VIRT_AARCH64: &str = "qemu-virt-aarch64";
/// Where the board's runner firmware expects the run request: the start of the board's image
/// partition in flash (see `boards/qemu-virt-aarch64/examples/runner.rs`).
const BOARD_REQUEST_ADDRESS: u64 = 0x0400_0000;
/// Largest run request: the image partition's size.
const BOARD_REQUEST_MAX: usize = 16 << 20;
/// The board's page size: an image executed in place has its text start on a page.
const BOARD_PAGE_SIZE: usize = 4096;

/// How `wasm-aot run --board` has the board load the image.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
enum BoardLoad {
    /// Execute the text where it was flashed.
    #[default]
    InPlace,
    /// Copy the text into code memory in RAM.
    Copy,
}

/// The run request for the board's runner firmware (version 2): header (magic, version,
/// lengths, flags), export name, arguments (each followed by a NUL), then the image at a
/// 64-byte aligned offset; for `BoardLoad::InPlace` the offset also puts the image's text at
/// the start of a page, so that only text pages become executable.
fn board_request(
    name: &str,
    args: &[String],
    image: &[u8],
    load: BoardLoad,
) -> anyhow::Result<Vec<u8>> {
    let mut arg_bytes = Vec::new();
    for a in args {
        if a.contains('\0') {
            bail!("argument `{a}` contains a NUL byte");
        }
        arg_bytes.extend_from_slice(a.as_bytes());
        arg_bytes.push(0);
    }
    let args_end = 36 + name.len() + arg_bytes.len();
    let image_offset = match load {
        BoardLoad::Copy => args_end.next_multiple_of(64),
        BoardLoad::InPlace => {
            let header =
                ImageHeader::parse(image).map_err(|e| anyhow::anyhow!("invalid image: {e}"))?;
            let text = header.text.0 as usize;
            (args_end + text).next_multiple_of(BOARD_PAGE_SIZE) - text
        }
    };
    if image_offset + image.len() > BOARD_REQUEST_MAX {
        bail!(
            "the image ({} bytes) and the call do not fit the board's {} MiB image partition",
            image.len(),
            BOARD_REQUEST_MAX >> 20
        );
    }
    let len = |n: usize| u32::try_from(n).context("run request too large");
    let mut r = Vec::with_capacity(image_offset + image.len());
    r.extend_from_slice(b"WAOTRUN\0");
    for field in [
        2,
        len(name.len())?,
        len(args.len())?,
        len(arg_bytes.len())?,
        len(image_offset)?,
        len(image.len())?,
        u32::from(load == BoardLoad::InPlace),
    ] {
        r.extend_from_slice(&field.to_le_bytes());
    }
    r.extend_from_slice(name.as_bytes());
    r.extend_from_slice(&arg_bytes);
    r.resize(image_offset, 0);
    r.extend_from_slice(image);
    Ok(r)
}

/// Finds the board's runner firmware: `$WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64`, or the
/// board crate's build output (release first, then debug).
fn board_runner() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64") {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!(
                "WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64 names {}, which is not a file",
                p.display()
            );
        }
        return Ok(p);
    }
    let board = Path::new(env!("CARGO_MANIFEST_DIR")).join("../boards/qemu-virt-aarch64");
    for profile in ["release", "debug"] {
        let candidate = board
            .join("target/aarch64-unknown-none")
            .join(profile)
            .join("examples/runner");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no runner firmware for board {QEMU_VIRT_AARCH64}: build it with \
         `cd boards/qemu-virt-aarch64 && cargo build --release --example runner`, \
         or point WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64 at it"
    )
}

/// Boots the board's runner firmware in `qemu-system-aarch64` with the run request flashed by
/// QEMU's loader (standing in for a flash tool) into the board's image partition. The firmware prints results (success) or `error: ...` lines (failure)
/// on the UART and exits through semihosting with the hosted runner's status: its output goes
/// to stdout when the status is 0 and to stderr otherwise, as the hosted `run` does.
fn run_on_board(c: &RunCmd, image: &[u8]) -> anyhow::Result<i32> {
    let firmware = board_runner()?;
    let dir = std::env::temp_dir().join(format!("wasm-aot-board-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let request_path = dir.join("request.bin");
    std::fs::write(
        &request_path,
        board_request(&c.invoke, &c.args, image, c.load.unwrap_or_default())?,
    )?;
    let output = std::process::Command::new("qemu-system-aarch64")
        .args(["-M", "virt", "-cpu", "cortex-a53", "-m", "256M"])
        .args(["-nographic", "-semihosting", "-kernel"])
        .arg(&firmware)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={BOARD_REQUEST_ADDRESS:#x},force-raw=on",
            request_path.display()
        ))
        .stdin(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = output
        .context("cannot start qemu-system-aarch64 (install the Debian package qemu-system-arm)")?;
    let status = output
        .status
        .code()
        .unwrap_or(wasm_aot_runner::ERROR_EXIT_STATUS);
    let console = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    if status == 0 {
        print!("{console}");
    } else {
        eprint!("{console}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(status)
}
