//! Runs one exported function of an image on the hosted device runtime and formats the outcome.
//!
//! This is the device half of `wasm-aot run`: the host CLI calls [`run_image`] in-process when
//! the image targets the machine it runs on, and starts the `wasm-aot-runner` binary (built for
//! the image's architecture) under QEMU user mode otherwise: `aarch64-unknown-linux-gnu` under
//! `qemu-aarch64` for aarch64 images, `armv7-unknown-linux-gnueabihf` under `qemu-arm` for
//! Cortex-M (Thumb-2) images, which the runtime accepts when the emulated CPU runs their
//! profile (`Engine::runs`). Both paths print the same text and
//! exit with the same status, so a script cannot tell them apart.
//!
//! Arguments are parsed by the parameter types of the export and results printed one per line,
//! both by the runtime's `Val` (`Val::parse`, `Display`), which the board runner firmware uses
//! too, so every executor reads and writes values the same way.

#![deny(missing_docs)]

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use device_runtime::{
    Engine, EngineConfig, EpochCounter, Error, Linker, Module, ParseValError, Store, Val, ValType,
};

/// Exit status for a call that trapped (as `wasmtime run`: 128 + SIGABRT).
pub const TRAP_EXIT_STATUS: i32 = 134;
/// Exit status for every other failure (bad image, bad arguments, missing export).
pub const ERROR_EXIT_STATUS: i32 = 1;

/// Why a run did not produce results.
#[derive(Debug)]
pub enum RunError {
    /// The image could not be loaded or instantiated, or the export is missing.
    Setup(String),
    /// An argument does not parse as its parameter type.
    BadArgument(String),
    /// The call trapped or failed.
    Call(Error),
}

impl fmt::Display for RunError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RunError::Setup(m) | RunError::BadArgument(m) => f.write_str(m),
            RunError::Call(e) => match e.trap_code() {
                Some(code) => write!(f, "wasm trap: {code}"),
                None => write!(f, "{e}"),
            },
        }
    }
}

impl RunError {
    /// The process exit status for this error.
    pub fn exit_status(&self) -> i32 {
        match self {
            RunError::Call(e) if e.trap_code().is_some() => TRAP_EXIT_STATUS,
            _ => ERROR_EXIT_STATUS,
        }
    }
}

/// Limits a run is held to (`wasm-aot run --fuel N --epoch-deadline T`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunLimits {
    /// Fuel budget of the call (the image must be compiled with fuel metering).
    pub fuel: Option<u64>,
    /// Epoch deadline in ticks of [`EPOCH_TICK`] after the call starts (the image must be
    /// compiled with epoch checks); a thread ticks the epoch while the call runs.
    pub epoch_deadline: Option<u64>,
}

/// The period of the epoch tick of a hosted run.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(1);

/// The epoch counter of hosted runs, ticked by a thread during a call with a deadline.
static EPOCH: EpochCounter = EpochCounter::new();

/// Loads `image`, instantiates it with no imports, calls export `name` with `args` and returns
/// the results formatted one per line.
pub fn run_image(image: &[u8], name: &str, args: &[String]) -> Result<Vec<String>, RunError> {
    run_image_with(image, name, args, RunLimits::default())
}

/// [`run_image`] under `limits`. With a fuel budget, the fuel the call consumed is printed on
/// stderr (`fuel consumed: N`) whether it returned or trapped; running out is the trap
/// `all fuel consumed`, passing the deadline the trap `interrupt`.
pub fn run_image_with(
    image: &[u8],
    name: &str,
    args: &[String],
    limits: RunLimits,
) -> Result<Vec<String>, RunError> {
    let mut config = EngineConfig::default();
    config.epoch_counter = Some(&EPOCH);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, image)
        .map_err(|e| RunError::Setup(format!("cannot load image: {e}")))?;
    let tunables = module.tunables();
    if limits.fuel.is_some() && !tunables.fuel {
        return Err(RunError::Setup(
            "--fuel needs an image compiled with fuel metering (wasm-aot compile --fuel)".into(),
        ));
    }
    if limits.epoch_deadline.is_some() && !tunables.epochs {
        return Err(RunError::Setup(
            "--epoch-deadline needs an image compiled with epoch checks (wasm-aot compile --epoch)"
                .into(),
        ));
    }
    let mut store = Store::new(&engine, ());
    let linker = Linker::<()>::new(&engine);
    let instance = linker
        .instantiate(&mut store, &module)
        .map_err(|e| RunError::Setup(format!("cannot instantiate: {e}")))?;
    let func = instance
        .get_func(&store, name)
        .ok_or_else(|| RunError::Setup(format!("no exported function named `{name}`")))?;
    let ty = func.ty(&store);
    let params: Vec<ValType> = ty.params().collect();
    let results_len = ty.results().count();
    if params.len() != args.len() {
        return Err(RunError::BadArgument(format!(
            "`{name}` takes {} argument(s), {} given",
            params.len(),
            args.len()
        )));
    }
    let values = params
        .iter()
        .zip(args)
        .map(|(ty, arg)| parse_arg(*ty, arg))
        .collect::<Result<Vec<_>, _>>()?;
    let mut results = vec![Val::I32(0); results_len];
    if let Some(fuel) = limits.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| RunError::Setup(format!("cannot set fuel: {e}")))?;
    }
    if let Some(ticks) = limits.epoch_deadline {
        store
            .set_epoch_deadline(ticks)
            .map_err(|e| RunError::Setup(format!("cannot set the epoch deadline: {e}")))?;
    }
    let done = AtomicBool::new(false);
    let outcome = std::thread::scope(|scope| {
        if limits.epoch_deadline.is_some() {
            scope.spawn(|| {
                while !done.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    EPOCH.increment();
                }
            });
        }
        let outcome = func.call(&mut store, &values, &mut results);
        done.store(true, Ordering::Relaxed);
        outcome
    });
    if let Some(fuel) = limits.fuel {
        // Blocks after the last fuel check may run beyond the budget: a debt, consumed too.
        let left = store.get_fuel().unwrap_or(fuel);
        let debt = store.fuel_debt().unwrap_or(0);
        let consumed = (fuel - left.min(fuel)).saturating_add(debt);
        if debt > 0 {
            eprintln!("fuel consumed: {consumed} (debt {debt})");
        } else {
            eprintln!("fuel consumed: {consumed}");
        }
    }
    outcome.map_err(RunError::Call)?;
    Ok(results.iter().map(format_val).collect())
}

/// Parses a command-line argument as a value of type `ty` ([`Val::parse`]).
pub fn parse_arg(ty: ValType, arg: &str) -> Result<Val, RunError> {
    Val::parse(ty, arg).map_err(|e| match e {
        ParseValError::Invalid(_) => RunError::BadArgument(format!("`{arg}` is not a valid {ty}")),
        _ => RunError::BadArgument(e.to_string()),
    })
}

/// Formats a result the way `wasmtime run --invoke` prints it (`Val`'s `Display`).
pub fn format_val(v: &Val) -> String {
    v.to_string()
}

/// Runs the command line `[--fuel N] [--epoch-deadline T] IMAGE NAME [ARGS...]`: prints
/// results on stdout, errors (and the fuel consumed) on stderr, and returns the exit status.
pub fn main_with_args(args: &[String]) -> i32 {
    const USAGE: &str =
        "usage: wasm-aot-runner [--fuel N] [--epoch-deadline TICKS] IMAGE EXPORT [ARGS...]";
    let mut limits = RunLimits::default();
    let mut args = args;
    loop {
        let (slot, flag) = match args.first().map(String::as_str) {
            Some("--fuel") => (&mut limits.fuel, "--fuel"),
            Some("--epoch-deadline") => (&mut limits.epoch_deadline, "--epoch-deadline"),
            _ => break,
        };
        match args.get(1).map(|v| v.parse::<u64>()) {
            Some(Ok(v)) => *slot = Some(v),
            _ => {
                eprintln!("error: {flag} takes an unsigned 64-bit number\n{USAGE}");
                return ERROR_EXIT_STATUS;
            }
        }
        args = &args[2..];
    }
    let [image_path, name, rest @ ..] = args else {
        eprintln!("{USAGE}");
        return ERROR_EXIT_STATUS;
    };
    let image = match std::fs::read(image_path) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("error: cannot read {image_path}: {e}");
            return ERROR_EXIT_STATUS;
        }
    };
    match run_image_with(&image, name, rest, limits) {
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
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_arguments_by_type() {
        assert_eq!(parse_arg(ValType::I32, "-5").unwrap(), Val::I32(-5));
        assert_eq!(parse_arg(ValType::I32, "0xffffffff").unwrap(), Val::I32(-1));
        assert_eq!(parse_arg(ValType::I64, "-0x10").unwrap(), Val::I64(-16));
        assert_eq!(
            parse_arg(ValType::F32, "1.5").unwrap(),
            Val::F32(1.5f32.to_bits())
        );
        assert_eq!(
            parse_arg(ValType::F64, "inf").unwrap(),
            Val::F64(f64::INFINITY.to_bits())
        );
        assert!(parse_arg(ValType::I32, "4294967296").is_err());
        assert!(parse_arg(ValType::I32, "x").is_err());
    }

    #[test]
    fn formats_results() {
        assert_eq!(format_val(&Val::I32(-3)), "-3");
        assert_eq!(format_val(&Val::F64(2.5f64.to_bits())), "2.5");
        assert_eq!(format_val(&Val::F32(f32::NAN.to_bits())), "NaN");
    }
}
