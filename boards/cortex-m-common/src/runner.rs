//! The runner firmware behind `wasm-aot run --board` on the Cortex-M boards: reads a *run
//! request* that QEMU's loader placed in the board's loader region before boot, loads its image
//! (copied into code memory, [`Module::new`]), calls the requested export with its arguments and
//! prints the results one per line, exactly as the hosted `wasm-aot-runner` does (`Val::parse`,
//! `Val`'s `Display`); errors are printed as `error: ...`. The board's `examples/runner.rs`
//! provides the region and its addresses and returns [`main`]'s status through semihosting:
//! 0 success, 134 trap, 1 any other error.
//!
//! A request may carry a budget (`wasm-aot run --board ... --fuel N --epoch-deadline TICKS`):
//! the call then runs with that fuel (and `fuel consumed: N` is printed, whether it returned or
//! trapped) and with an epoch deadline that many ticks ahead, SysTick ticking the engine's
//! epoch at 1 kHz from the board's core clock while the call runs; the image must be compiled
//! with fuel metering or epoch checks, as the hosted runner demands, in the same words.
//!
//! The request is the `qemu-virt-aarch64` runner's (little-endian, version 3):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `b"WAOTRUN\0"` |
//! | 8 | version `u32` = 3 |
//! | 12 | `name_len` `u32`: bytes of the export name |
//! | 16 | `argc` `u32` |
//! | 20 | `args_len` `u32`: bytes of the arguments, each UTF-8 text followed by a NUL |
//! | 24 | `image_offset` `u32`: multiple of 64, at or after the arguments |
//! | 28 | `image_len` `u32` |
//! | 32 | `flags` `u32`: bit 1 a fuel budget, bit 2 an epoch deadline; bit 0 (execute in place) must be 0 here: it needs an image partition in flash, which these boards do not have |
//! | 36 | `fuel` `u64`: the fuel budget when bit 1 is set, else 0 |
//! | 44 | `epoch_deadline` `u64`: ticks (1 ms) when bit 2 is set, else 0 |
//! | 52 | export name, then the arguments; the image at `image_offset` |

// Errors carry a fixed 256-byte message (no allocator on the board); they happen once per boot.
#![allow(clippy::result_large_err)]

use core::fmt::{self, Write};

use device_runtime::{
    Engine, EngineConfig, EpochCounter, Linker, MAX_FUNC_ARITY, Module, ParseValError, Store, Val,
    ValType,
};

use crate::println;
use crate::timer::{self, TimerConfig};

const MAGIC: &[u8; 8] = b"WAOTRUN\0";
const VERSION: u32 = 3;
const HEADER_LEN: usize = 52;
/// `flags` bits.
const FLAG_IN_PLACE: usize = 1;
const FLAG_FUEL: usize = 2;
const FLAG_EPOCH_DEADLINE: usize = 4;
/// The epoch tick of a run with a deadline, as on the hosted runner (1 ms).
const TICK_HZ: u32 = 1000;

/// The engine's epoch counter, ticked by SysTick while a call with a deadline runs.
static EPOCH: EpochCounter = EpochCounter::new();

fn tick() {
    EPOCH.increment();
}

const TRAP_EXIT_STATUS: u32 = 134;
const ERROR_EXIT_STATUS: u32 = 1;

/// Where the request is, for error messages.
#[derive(Clone, Copy, Debug)]
pub struct Addresses {
    /// The address the firmware reads the loader region at.
    pub read: usize,
    /// The address QEMU's loader writes it at (`-device loader,addr=`; differs from `read`
    /// where the firmware uses a Secure alias).
    pub loader: usize,
}

/// Runs the request in `region` (the loader region's bytes) on an engine with `config` and
/// returns the exit status. `core_clock_hz` is the clock SysTick counts (for a deadline).
pub fn main(
    config: &EngineConfig,
    core_clock_hz: u32,
    region: &'static [u8],
    at: Addresses,
) -> u32 {
    match run(config, core_clock_hz, region, at) {
        Ok(()) => 0,
        Err(f) => {
            println!("error: {}", f.message.as_str());
            f.status
        }
    }
}

/// A message of at most 256 bytes (longer messages are cut), formatted without an allocator.
struct Message {
    bytes: [u8; 256],
    len: usize,
}

impl Message {
    fn new(args: fmt::Arguments<'_>) -> Message {
        let mut m = Message {
            bytes: [0; 256],
            len: 0,
        };
        let _ = m.write_fmt(args);
        m
    }
    fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        // Cut at a character boundary.
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

macro_rules! message {
    ($($t:tt)*) => { Message::new(format_args!($($t)*)) };
}

/// Why a run did not produce results, with its exit status.
struct Failure {
    message: Message,
    status: u32,
}

fn error(message: Message) -> Failure {
    Failure {
        message,
        status: ERROR_EXIT_STATUS,
    }
}

/// The request's parts.
struct Request<'a> {
    name: &'a str,
    argc: usize,
    args: &'a [u8],
    image: &'a [u8],
    /// The fuel budget of the call, if any.
    fuel: Option<u64>,
    /// The epoch deadline of the call in ticks, if any.
    epoch_deadline: Option<u64>,
}

fn u32_at(bytes: &[u8], offset: usize) -> usize {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word) as usize
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

fn request(region: &'static [u8], at: Addresses) -> Result<Request<'static>, Failure> {
    let bad = |what: &str| {
        error(message!(
            "no valid run request at {:#x}: {what} (boot with \
             -device loader,file=REQUEST,addr={:#x},force-raw=on)",
            at.read,
            at.loader
        ))
    };
    if region.len() < HEADER_LEN || &region[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    if u32_at(region, 8) as u32 != VERSION {
        return Err(bad(
            "unsupported version (the runner firmware and wasm-aot must come from the same tree)",
        ));
    }
    let (name_len, argc, args_len) = (u32_at(region, 12), u32_at(region, 16), u32_at(region, 20));
    let (image_offset, image_len) = (u32_at(region, 24), u32_at(region, 28));
    let flags = u32_at(region, 32);
    if flags & FLAG_IN_PLACE != 0 {
        return Err(bad(
            "execution in place asked for (it needs an image partition in flash)",
        ));
    }
    if flags & !(FLAG_FUEL | FLAG_EPOCH_DEADLINE) != 0 {
        return Err(bad("unknown flags"));
    }
    let budget = |flag: usize, offset: usize| (flags & flag != 0).then(|| u64_at(region, offset));
    // Checked sums: usize is 32 bits here and the fields come from outside.
    let args_start = HEADER_LEN.checked_add(name_len);
    let args_end = args_start.and_then(|s| s.checked_add(args_len));
    let image_end = image_offset.checked_add(image_len);
    let (Some(args_start), Some(args_end), Some(image_end)) = (args_start, args_end, image_end)
    else {
        return Err(bad("bad lengths"));
    };
    if !image_offset.is_multiple_of(64)
        || args_end > region.len()
        || image_offset < args_end
        || image_end > region.len()
    {
        return Err(bad("bad lengths"));
    }
    let name = core::str::from_utf8(&region[HEADER_LEN..args_start])
        .map_err(|_| bad("export name not UTF-8"))?;
    Ok(Request {
        name,
        argc,
        args: &region[args_start..args_end],
        image: &region[image_offset..image_end],
        fuel: budget(FLAG_FUEL, 36),
        epoch_deadline: budget(FLAG_EPOCH_DEADLINE, 44),
    })
}

fn run(
    config: &EngineConfig,
    core_clock_hz: u32,
    region: &'static [u8],
    at: Addresses,
) -> Result<(), Failure> {
    let request = request(region, at)?;
    let mut config = *config;
    config.epoch_counter = Some(&EPOCH);
    let engine = Engine::new(&config);
    let module = Module::new(&engine, request.image)
        .map_err(|e| error(message!("cannot load image: {e}")))?;
    let tunables = module.tunables();
    if request.fuel.is_some() && !tunables.fuel {
        return Err(error(message!(
            "--fuel needs an image compiled with fuel metering (wasm-aot compile --fuel)"
        )));
    }
    if request.epoch_deadline.is_some() && !tunables.epochs {
        return Err(error(message!(
            "--epoch-deadline needs an image compiled with epoch checks (wasm-aot compile --epoch)"
        )));
    }
    call(&engine, &module, &request, core_clock_hz)
}

/// Instantiates `module` and calls the requested export with the request's arguments.
fn call(
    engine: &Engine,
    module: &Module<'_>,
    request: &Request<'_>,
    core_clock_hz: u32,
) -> Result<(), Failure> {
    let mut store = Store::try_new(engine, ()).map_err(|e| error(message!("{e}")))?;
    let linker = Linker::<()>::new(engine);
    let instance = linker
        .instantiate(&mut store, module)
        .map_err(|e| error(message!("cannot instantiate: {e}")))?;
    let name = request.name;
    let func = instance
        .get_func(&store, name)
        .ok_or_else(|| error(message!("no exported function named `{name}`")))?;
    let ty = func.ty(&store);
    let params = ty.param_types();
    let results_len = ty.result_types().len();
    if params.len() != request.argc {
        return Err(error(message!(
            "`{name}` takes {} argument(s), {} given",
            params.len(),
            request.argc
        )));
    }
    let mut values = [Val::I32(0); MAX_FUNC_ARITY];
    let mut args = request.args.split(|&b| b == 0);
    for (slot, ty) in values.iter_mut().zip(params) {
        let arg = args.next().unwrap_or(&[]);
        let arg = core::str::from_utf8(arg).map_err(|_| error(message!("argument not UTF-8")))?;
        *slot = parse_arg(*ty, arg)?;
    }
    let mut results = [Val::I32(0); MAX_FUNC_ARITY];
    if let Some(fuel) = request.fuel {
        store
            .set_fuel(fuel)
            .map_err(|e| error(message!("cannot set fuel: {e}")))?;
    }
    if let Some(ticks) = request.epoch_deadline {
        store
            .set_epoch_deadline(ticks)
            .map_err(|e| error(message!("cannot set the epoch deadline: {e}")))?;
    }
    let ticking = match request.epoch_deadline {
        Some(_) => {
            timer::set_tick_hook(Some(tick));
            let ticking = timer::start(&TimerConfig::new(core_clock_hz, TICK_HZ))
                .map_err(|e| error(message!("cannot start the epoch tick: {e}")))?;
            Some(ticking)
        }
        None => None,
    };
    let call = func.call(
        &mut store,
        &values[..params.len()],
        &mut results[..results_len],
    );
    if let Some(ticking) = ticking {
        ticking.stop();
        timer::set_tick_hook(None);
    }
    if let Some(fuel) = request.fuel {
        let left = store.get_fuel().unwrap_or(fuel);
        println!("fuel consumed: {}", fuel - left.min(fuel));
    }
    if let Err(e) = call {
        return Err(match e.trap_code() {
            Some(code) => Failure {
                message: message!("wasm trap: {code}"),
                status: TRAP_EXIT_STATUS,
            },
            None => error(message!("{e}")),
        });
    }
    for v in &results[..results_len] {
        println!("{v}");
    }
    Ok(())
}

/// Parses an argument by its parameter type with [`Val::parse`], reporting errors in the
/// hosted runner's words.
fn parse_arg(ty: ValType, arg: &str) -> Result<Val, Failure> {
    Val::parse(ty, arg).map_err(|e| match e {
        ParseValError::Invalid(_) => error(message!("`{arg}` is not a valid {ty}")),
        _ => error(message!("{e}")),
    })
}
