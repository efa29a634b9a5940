//! `wasm-aot`: compile WebAssembly into device images, inspect them, and run them.
//!
//! A thin layer over the `host_compiler` library (one struct per subcommand):
//!
//! * `wasm-aot compile INPUT -o IMAGE --target aarch64` compiles `.wasm` or `.wat`;
//!   `--format img|bin|hex [--address 0x...]` picks the output form (the image; the same bytes
//!   as a raw binary for a flash tool; Intel HEX placed at `--address`), and
//!   `--bounds-checks explicit|guard-elided [--guard-size BYTES]` the bounds-check strategy,
//!   `--fuel` and `--epoch` fuel metering and epoch checks;
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
//!   execution in place from flash (the default) or a copy into RAM. With `--board mps2-an386`
//!   a cortex-m4f image runs on the emulated Cortex-M4F board (`qemu-system-arm -M mps2-an386`,
//!   the request placed in PSRAM by QEMU's loader, the text copied into code memory), with the
//!   output and exit status of the hosted run under `qemu-arm`; with `--board mps3-an547` a
//!   cortex-m55 image likewise on the emulated Cortex-M55 board (`qemu-system-arm -M
//!   mps3-an547`, the request in ISRAM). The boards are rows of [`BOARDS`].
//!   `--fuel N` runs under a fuel budget and prints the fuel consumed on stderr (with the debt,
//!   when the blocks after the last fuel check ran beyond the budget),
//!   `--epoch-deadline TICKS` with an epoch deadline (1 ms ticks); both on every hosted
//!   executor and with `--board` (the budget travels in the run request; the board's timer
//!   ticks the epoch at 1 kHz).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Parser, Subcommand};
use host_compiler::{BoundsChecks, Compiler, CompilerConfig, Proposals, Target};
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
    /// Fuel metering: every basic block pays its cost (1 per operator, 0 for nop, drop, block,
    /// loop, else, end) from the store's fuel before it runs; a call stops with an out-of-fuel
    /// trap when the budget the device sets cannot pay (every target).
    #[arg(long)]
    fuel: bool,
    /// Epoch checks at function entries and loop headers: a call stops with an interrupt trap
    /// once the device's epoch reaches the store's deadline (every target).
    #[arg(long)]
    epoch: bool,
    /// Proposals beyond WebAssembly 2.0 the module may use: `all` (default: multi-memory,
    /// memory64, custom-page-sizes, extended-const), `none` (WebAssembly 2.0 exactly), or a
    /// comma-separated list of those names.
    #[arg(long, default_value = "all")]
    proposals: String,
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
    /// in `qemu-system-aarch64` with the image and the call flashed into its image partition;
    /// `mps2-an386` boots the Cortex-M4F board's runner in `qemu-system-arm` with them in PSRAM,
    /// `mps3-an547` the Cortex-M55 board's with them in ISRAM.
    #[arg(long)]
    board: Option<String>,
    /// With `--board`: execute the image in place from flash (`in-place`, the default where
    /// the board has an image partition), or copy its text into the board's code memory in RAM
    /// first (`copy`, the only way on boards without one).
    #[arg(long, value_enum, requires = "board")]
    load: Option<BoardLoad>,
    /// Run under a fuel budget and print the fuel consumed on stderr (`fuel consumed: N`, with
    /// `(debt D)` when the blocks after the last check ran D beyond the budget); the call traps
    /// with `all fuel consumed` when a check (function entry, loop header) finds the budget
    /// unable to pay. The image must be compiled with `--fuel` (a .wasm/.wat input is compiled
    /// with it).
    #[arg(long)]
    fuel: Option<u64>,
    /// Run with an epoch deadline this many ticks (1 ms each) after the call starts; the call
    /// traps with `interrupt` once it passes. The image must be compiled with `--epoch` (a
    /// .wasm/.wat input is compiled with it).
    #[arg(long)]
    epoch_deadline: Option<u64>,
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
    let proposals = Proposals::parse_list(&c.proposals).with_context(|| {
        format!(
            "unknown proposal list `{}` (all, none, or a comma-separated list of \
             multi-memory, memory64, custom-page-sizes, extended-const)",
            c.proposals
        )
    })?;
    let config = CompilerConfig::for_target(target)
        .pad_between_functions(c.pad_functions)
        .bounds_checks(bounds)
        .guard_size(c.guard_size)
        .fuel(c.fuel)
        .epochs(c.epoch)
        .proposals(proposals);
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

/// The budget `--fuel` and `--epoch-deadline` ask for.
fn run_limits(c: &RunCmd) -> wasm_aot_runner::RunLimits {
    wasm_aot_runner::RunLimits {
        fuel: c.fuel,
        epoch_deadline: c.epoch_deadline,
    }
}

fn run(c: RunCmd) -> anyhow::Result<i32> {
    let bytes =
        std::fs::read(&c.image).with_context(|| format!("cannot read {}", c.image.display()))?;
    let is_image = bytes.starts_with(&shared_types::header::MAGIC);
    let instrument = |config: CompilerConfig| {
        config
            .fuel(c.fuel.is_some())
            .epochs(c.epoch_deadline.is_some())
    };
    if let Some(name) = &c.board {
        let board = BOARDS.iter().find(|b| b.name == name).with_context(|| {
            let names: Vec<_> = BOARDS.iter().map(|b| b.name).collect();
            format!("unknown board `{name}` (known: {})", names.join(", "))
        })?;
        let image = if is_image {
            let target = ImageHeader::parse(&bytes)?.target;
            if target != board.target {
                bail!(
                    "{} is an image for {target}; board {name} runs only {} images",
                    c.image.display(),
                    board.target
                );
            }
            bytes
        } else {
            compile_file(
                &c.image,
                instrument(CompilerConfig::for_target(board.target)),
            )?
            .bytes
        };
        return run_on_board(board, &c, &image);
    }
    let (image, target) = if is_image {
        let target = ImageHeader::parse(&bytes)?.target;
        (bytes, target)
    } else {
        let target = native_target();
        (
            compile_file(&c.image, instrument(CompilerConfig::for_target(target)))?.bytes,
            target,
        )
    };
    if target == native_target() {
        return Ok(
            match wasm_aot_runner::run_image_with(&image, &c.invoke, &c.args, run_limits(&c)) {
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
    let mut limits = Vec::new();
    if let Some(fuel) = c.fuel {
        limits.extend(["--fuel".to_string(), fuel.to_string()]);
    }
    if let Some(ticks) = c.epoch_deadline {
        limits.extend(["--epoch-deadline".to_string(), ticks.to_string()]);
    }
    let status = std::process::Command::new(executor.qemu)
        .arg("-L")
        .arg(executor.sysroot)
        .arg(&runner)
        .args(&limits)
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

/// An emulated board `wasm-aot run --board` boots: how to find its runner firmware, how to
/// start QEMU, and where the runner expects the run request (see the board crates'
/// `examples/runner.rs`). A new board is a new row of [`BOARDS`].
struct Board {
    /// `--board` name, also the board crate's directory under `boards/`.
    name: &'static str,
    /// The image target it runs (and compiles `.wasm`/`.wat` inputs for).
    target: Target,
    /// The Rust target its firmware is built for (`boards/<name>/target/<rust_target>/`).
    rust_target: &'static str,
    /// Environment variable naming the runner firmware explicitly.
    runner_env: &'static str,
    /// The QEMU system emulator and its arguments before `-kernel FIRMWARE`.
    qemu: &'static str,
    qemu_args: &'static [&'static str],
    /// Where QEMU's loader places the run request, and its largest size.
    request_address: u64,
    request_max: usize,
    /// Whether the board can execute an image in place (an image partition in flash).
    in_place: bool,
    /// Debian package with the emulator, for the error message.
    qemu_package: &'static str,
}

/// The boards `wasm-aot run --board` knows.
const BOARDS: &[Board] = &[
    Board {
        name: "qemu-virt-aarch64",
        target: Target::Aarch64,
        rust_target: "aarch64-unknown-none",
        runner_env: "WASM_AOT_BOARD_RUNNER_QEMU_VIRT_AARCH64",
        qemu: "qemu-system-aarch64",
        qemu_args: &[
            "-M",
            "virt",
            "-cpu",
            "cortex-a53",
            "-m",
            "256M",
            "-nographic",
            "-semihosting",
        ],
        // The start of the board's image partition in flash (pflash1).
        request_address: 0x0400_0000,
        request_max: 16 << 20,
        in_place: true,
        qemu_package: "qemu-system-arm",
    },
    Board {
        name: "mps2-an386",
        target: Target::CortexM4F,
        rust_target: "thumbv7em-none-eabihf",
        runner_env: "WASM_AOT_BOARD_RUNNER_MPS2_AN386",
        qemu: "qemu-system-arm",
        qemu_args: &[
            "-M",
            "mps2-an386",
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
        ],
        // The board's loader region in PSRAM (boards/mps2-an386/src/memory_map.rs).
        request_address: 0x2180_0000,
        request_max: 8 << 20,
        in_place: false,
        qemu_package: "qemu-system-arm",
    },
    Board {
        name: "mps3-an547",
        target: Target::CortexM55,
        rust_target: "thumbv8m.main-none-eabihf",
        runner_env: "WASM_AOT_BOARD_RUNNER_MPS3_AN547",
        qemu: "qemu-system-arm",
        qemu_args: &[
            "-M",
            "mps3-an547",
            "-nographic",
            "-semihosting-config",
            "enable=on,target=native",
        ],
        // The board's loader region, ISRAM, at its Non-secure address: QEMU's loader writes
        // through the system address space, where ISRAM is plain RAM there; the runner reads
        // it at the Secure alias 0x3100_0000 (boards/mps3-an547/src/memory_map.rs).
        request_address: 0x2100_0000,
        request_max: 4 << 20,
        in_place: false,
        qemu_package: "qemu-system-arm",
    },
];

/// The page size of boards that execute in place: an image executed in place has its text
/// start on a page.
const BOARD_PAGE_SIZE: usize = 4096;

/// How `wasm-aot run --board` has the board load the image.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BoardLoad {
    /// Execute the text where it was flashed.
    InPlace,
    /// Copy the text into code memory in RAM.
    Copy,
}

/// Version of the run request [`board_request`] writes; the runner firmwares accept exactly
/// this one (they are built from the same tree).
const REQUEST_VERSION: u32 = 3;
/// Bytes of the run request's header.
const REQUEST_HEADER_LEN: usize = 52;
/// Run request `flags` bits: execute in place, a fuel budget, an epoch deadline.
const REQUEST_IN_PLACE: u32 = 1;
const REQUEST_FUEL: u32 = 2;
const REQUEST_EPOCH_DEADLINE: u32 = 4;

/// The run request for the board's runner firmware (version 3): header (magic, version,
/// lengths, flags, fuel budget, epoch deadline), export name, arguments (each followed by a
/// NUL), then the image at a 64-byte aligned offset; for `BoardLoad::InPlace` the offset also
/// puts the image's text at the start of a page, so that only text pages become executable.
/// The budget fields are meaningful only where their `flags` bit is set (0 otherwise).
fn board_request(
    board: &Board,
    name: &str,
    args: &[String],
    image: &[u8],
    load: BoardLoad,
    limits: wasm_aot_runner::RunLimits,
) -> anyhow::Result<Vec<u8>> {
    let mut arg_bytes = Vec::new();
    for a in args {
        if a.contains('\0') {
            bail!("argument `{a}` contains a NUL byte");
        }
        arg_bytes.extend_from_slice(a.as_bytes());
        arg_bytes.push(0);
    }
    let args_end = REQUEST_HEADER_LEN + name.len() + arg_bytes.len();
    let image_offset = match load {
        BoardLoad::Copy => args_end.next_multiple_of(64),
        BoardLoad::InPlace => {
            let header =
                ImageHeader::parse(image).map_err(|e| anyhow::anyhow!("invalid image: {e}"))?;
            let text = header.text.0 as usize;
            (args_end + text).next_multiple_of(BOARD_PAGE_SIZE) - text
        }
    };
    if image_offset + image.len() > board.request_max {
        bail!(
            "the image ({} bytes) and the call do not fit the {} MiB the board {} leaves to the run request",
            image.len(),
            board.request_max >> 20,
            board.name
        );
    }
    let len = |n: usize| u32::try_from(n).context("run request too large");
    let mut r = Vec::with_capacity(image_offset + image.len());
    let mut flags = 0;
    if load == BoardLoad::InPlace {
        flags |= REQUEST_IN_PLACE;
    }
    if limits.fuel.is_some() {
        flags |= REQUEST_FUEL;
    }
    if limits.epoch_deadline.is_some() {
        flags |= REQUEST_EPOCH_DEADLINE;
    }
    r.extend_from_slice(b"WAOTRUN\0");
    for field in [
        REQUEST_VERSION,
        len(name.len())?,
        len(args.len())?,
        len(arg_bytes.len())?,
        len(image_offset)?,
        len(image.len())?,
        flags,
    ] {
        r.extend_from_slice(&field.to_le_bytes());
    }
    for budget in [limits.fuel, limits.epoch_deadline] {
        r.extend_from_slice(&budget.unwrap_or(0).to_le_bytes());
    }
    debug_assert_eq!(r.len(), REQUEST_HEADER_LEN);
    r.extend_from_slice(name.as_bytes());
    r.extend_from_slice(&arg_bytes);
    r.resize(image_offset, 0);
    r.extend_from_slice(image);
    Ok(r)
}

/// The start of the line in which a runner reports the fuel a call consumed.
const FUEL_CONSUMED: &str = "fuel consumed: ";

/// Finds the board's runner firmware: `$<runner_env>`, or the board crate's build output
/// (release first, then debug).
fn board_runner(board: &Board) -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os(board.runner_env) {
        let p = PathBuf::from(p);
        if !p.is_file() {
            bail!(
                "{} names {}, which is not a file",
                board.runner_env,
                p.display()
            );
        }
        return Ok(p);
    }
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../boards")
        .join(board.name);
    for profile in ["release", "debug"] {
        let candidate = crate_dir
            .join("target")
            .join(board.rust_target)
            .join(profile)
            .join("examples/runner");
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    bail!(
        "no runner firmware for board {name}: build it with \
         `cd boards/{name} && cargo build --release --example runner`, \
         or point {env} at it",
        name = board.name,
        env = board.runner_env,
    )
}

/// How the board loads the image: as asked, else in place where the board can.
fn board_load(board: &Board, requested: Option<BoardLoad>) -> anyhow::Result<BoardLoad> {
    let load = match requested {
        Some(load) => load,
        None if board.in_place => BoardLoad::InPlace,
        None => BoardLoad::Copy,
    };
    if load == BoardLoad::InPlace && !board.in_place {
        bail!(
            "board {} has no image partition to execute in place from: use --load copy",
            board.name
        );
    }
    Ok(load)
}

/// Boots the board's runner firmware with the run request placed by QEMU's loader (standing
/// in for a flash tool) where the runner expects it. The firmware prints results (success) or
/// `error: ...` lines (failure) on its UART and exits through semihosting with the hosted
/// runner's status: its output goes to stdout when the status is 0 (the `fuel consumed: N`
/// line to stderr) and to stderr otherwise, as the hosted `run` does.
fn run_on_board(board: &Board, c: &RunCmd, image: &[u8]) -> anyhow::Result<i32> {
    let load = board_load(board, c.load)?;
    let firmware = board_runner(board)?;
    let dir = std::env::temp_dir().join(format!("wasm-aot-board-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let request_path = dir.join("request.bin");
    std::fs::write(
        &request_path,
        board_request(board, &c.invoke, &c.args, image, load, run_limits(c))?,
    )?;
    let output = std::process::Command::new(board.qemu)
        .args(board.qemu_args)
        .arg("-kernel")
        .arg(&firmware)
        .arg("-device")
        .arg(format!(
            "loader,file={},addr={:#x},force-raw=on",
            request_path.display(),
            board.request_address
        ))
        .stdin(std::process::Stdio::null())
        .output();
    let _ = std::fs::remove_dir_all(&dir);
    let output = output.with_context(|| {
        format!(
            "cannot start {} (install the Debian package {})",
            board.qemu, board.qemu_package
        )
    })?;
    let status = output
        .status
        .code()
        .unwrap_or(wasm_aot_runner::ERROR_EXIT_STATUS);
    let console = String::from_utf8_lossy(&output.stdout).replace('\r', "");
    if status == 0 {
        // As the hosted run does: results on stdout, the fuel consumed on stderr.
        for line in console.lines() {
            if line.starts_with(FUEL_CONSUMED) {
                eprintln!("{line}");
            } else {
                println!("{line}");
            }
        }
    } else {
        eprint!("{console}");
        eprint!("{}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(status)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn board(name: &str) -> &'static Board {
        BOARDS.iter().find(|b| b.name == name).unwrap()
    }

    #[test]
    fn compile_fuel_and_epoch_flags_reach_the_image_tunables() {
        let dir = std::env::temp_dir().join(format!("wasm-aot-fuel-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let input = dir.join("m.wat");
        std::fs::write(&input, "(module (func (export \"f\") (loop (br 0))))").unwrap();
        for (flags, fuel, epochs) in [
            (&[][..], false, false),
            (&["--fuel"][..], true, false),
            (&["--epoch"][..], false, true),
            (&["--fuel", "--epoch"][..], true, true),
        ] {
            let output = dir.join("m.img");
            let mut args = vec!["wasm-aot", "compile", input.to_str().unwrap(), "-o"];
            args.push(output.to_str().unwrap());
            args.extend(["--target", "aarch64"]);
            args.extend(flags);
            let Command::Compile(c) = Cli::try_parse_from(&args).unwrap().command else {
                panic!("not a compile command");
            };
            compile(c).unwrap();
            let image = std::fs::read(&output).unwrap();
            let summary = host_compiler::image::inspect(&image).unwrap();
            assert_eq!(
                (summary.tunables.fuel, summary.tunables.epochs),
                (fuel, epochs),
                "{flags:?}"
            );
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn board_table_is_consistent() {
        for (i, b) in BOARDS.iter().enumerate() {
            assert!(
                BOARDS[..i].iter().all(|other| other.name != b.name),
                "{} twice",
                b.name
            );
            assert!(b.runner_env.starts_with("WASM_AOT_BOARD_RUNNER_"));
            assert!(b.request_address.is_multiple_of(64));
            assert!(b.request_max > 0);
        }
        assert_eq!(board("mps2-an386").target, Target::CortexM4F);
        assert_eq!(board("mps3-an547").target, Target::CortexM55);
        assert_eq!(board("mps3-an547").rust_target, "thumbv8m.main-none-eabihf");
        assert_eq!(board("qemu-virt-aarch64").target, Target::Aarch64);
    }

    #[test]
    fn load_defaults_to_in_place_only_where_possible() {
        let an386 = board("mps2-an386");
        let virt = board("qemu-virt-aarch64");
        assert_eq!(board_load(virt, None).unwrap(), BoardLoad::InPlace);
        assert_eq!(
            board_load(virt, Some(BoardLoad::Copy)).unwrap(),
            BoardLoad::Copy
        );
        assert_eq!(board_load(an386, None).unwrap(), BoardLoad::Copy);
        let refused = board_load(an386, Some(BoardLoad::InPlace)).unwrap_err();
        assert!(refused.to_string().contains("no image partition"));
        let an547 = board("mps3-an547");
        assert_eq!(board_load(an547, None).unwrap(), BoardLoad::Copy);
        let refused = board_load(an547, Some(BoardLoad::InPlace)).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("mps3-an547 has no image partition")
        );
    }

    #[test]
    fn request_layout() {
        let an386 = board("mps2-an386");
        let image = vec![0xabu8; 100];
        let args = ["7".to_string(), "-1".to_string()];
        let none = wasm_aot_runner::RunLimits::default();
        let r = board_request(an386, "div", &args, &image, BoardLoad::Copy, none).unwrap();
        let word = |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap());
        let dword = |at: usize| u64::from_le_bytes(r[at..at + 8].try_into().unwrap());
        assert_eq!(&r[..8], b"WAOTRUN\0");
        assert_eq!(word(8), 3);
        assert_eq!((word(12), word(16), word(20)), (3, 2, 5));
        let offset = word(24) as usize;
        assert_eq!(offset % 64, 0);
        assert_eq!(word(28), 100);
        assert_eq!(word(32), 0, "copy, no budget: no flags");
        assert_eq!((dword(36), dword(44)), (0, 0));
        assert_eq!(&r[52..55], b"div");
        assert_eq!(&r[55..60], b"7\0-1\0");
        assert_eq!(&r[offset..], &image[..]);
        let too_big = vec![0u8; an386.request_max];
        assert!(board_request(an386, "f", &[], &too_big, BoardLoad::Copy, none).is_err());
    }

    #[test]
    fn request_carries_the_budget() {
        let an386 = board("mps2-an386");
        let image = vec![0u8; 64];
        let word = |r: &[u8], at: usize| u32::from_le_bytes(r[at..at + 4].try_into().unwrap());
        let dword = |r: &[u8], at: usize| u64::from_le_bytes(r[at..at + 8].try_into().unwrap());
        let budgets = [
            (Some(u64::MAX), None, 2, u64::MAX, 0),
            (None, Some(7), 4, 0, 7),
            (Some(0), Some(u64::MAX), 6, 0, u64::MAX),
        ];
        for (fuel, epoch_deadline, flags, fuel_field, deadline_field) in budgets {
            let limits = wasm_aot_runner::RunLimits {
                fuel,
                epoch_deadline,
            };
            let r = board_request(an386, "f", &[], &image, BoardLoad::Copy, limits).unwrap();
            assert_eq!(word(&r, 32), flags);
            assert_eq!((dword(&r, 36), dword(&r, 44)), (fuel_field, deadline_field));
        }
    }

    #[test]
    fn an547_request_fits_its_4_mib_loader_region() {
        let an547 = board("mps3-an547");
        assert_eq!(an547.request_max, 4 << 20);
        let name = "f";
        // Header 52 + name 1 = 53, rounded up to 64 for the image.
        let largest = vec![0u8; an547.request_max - 64];
        let none = wasm_aot_runner::RunLimits::default();
        let r = board_request(an547, name, &[], &largest, BoardLoad::Copy, none).unwrap();
        assert_eq!(r.len(), an547.request_max);
        assert_eq!(u32::from_le_bytes(r[24..28].try_into().unwrap()), 64);
        let too_big = vec![0u8; an547.request_max - 63];
        let refused = board_request(an547, name, &[], &too_big, BoardLoad::Copy, none).unwrap_err();
        assert!(
            refused
                .to_string()
                .contains("the 4 MiB the board mps3-an547")
        );
    }
}
