//! Runner firmware behind `wasm-aot run --board qemu-virt-aarch64`: runs any image handed to
//! it in a *run request* flashed into the board's image partition before boot
//! (`-device loader,file=REQUEST,addr=0x4000000,force-raw=on`: QEMU's loader writes pflash1,
//! standing in for a flash tool).
//!
//! The request lies at the start of [`IMAGE_PARTITION`] and is at most its size (16 MiB).
//! Little-endian layout (version 3):
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
//! | 32 | `flags` `u32`: bit 0 execute in place, bit 1 a fuel budget, bit 2 an epoch deadline; other bits 0 |
//! | 36 | `fuel` `u64`: the fuel budget when bit 1 is set, else 0 |
//! | 44 | `epoch_deadline` `u64`: ticks (1 ms) when bit 2 is set, else 0 |
//! | 52 | export name, then the arguments; the image at `image_offset` |
//!
//! With bit 0 set the image executes where it was flashed ([`board::xip::load`]: verified,
//! then exactly its text pages made executable); otherwise its text is copied into code memory
//! in RAM ([`Module::new`]). Arguments are parsed by the export's parameter types and results
//! printed one per line exactly as the hosted `wasm-aot-runner` does; errors are printed as
//! `error: ...`. Exit status (semihosting): 0 success, 134 trap, 1 any other error.
//!
//! With a budget (`wasm-aot run --board qemu-virt-aarch64 --fuel N --epoch-deadline TICKS`)
//! the call runs with that fuel (and `fuel consumed: N` is printed, whether it returned or
//! trapped) and with an epoch deadline that many ticks ahead, the generic timer ticking the
//! engine's epoch at 1 kHz while the call runs; the image must be compiled with fuel metering
//! or epoch checks, as the hosted runner demands, in the same words.

#![no_std]
#![no_main]
// Errors carry a fixed 256-byte message (no allocator on the board); they happen once per boot.
#![allow(clippy::result_large_err)]

use core::fmt::{self, Write};

use board::memory_map::IMAGE_PARTITION;
use device_runtime::{
    Engine, EpochCounter, Linker, MAX_FUNC_ARITY, Module, ParseValError, Store, Val, ValType,
};
use qemu_virt_aarch64::timer::{self, TimerConfig};
use qemu_virt_aarch64::{self as board, println};

board::entry!(main);

/// Where QEMU's loader flashes the run request.
const REQUEST_ADDRESS: u64 = IMAGE_PARTITION.0;
/// Largest request: the partition.
const REQUEST_MAX: u64 = IMAGE_PARTITION.1;
const MAGIC: &[u8; 8] = b"WAOTRUN\0";
const VERSION: u32 = 3;
const HEADER_LEN: usize = 52;
/// `flags` bits: execute the image in place, a fuel budget, an epoch deadline.
const FLAG_IN_PLACE: usize = 1;
const FLAG_FUEL: usize = 2;
const FLAG_EPOCH_DEADLINE: usize = 4;

/// The engine's epoch counter, ticked by the generic timer (1 kHz) while a call with a
/// deadline runs.
static EPOCH: EpochCounter = EpochCounter::new();

fn tick() {
    EPOCH.increment();
}

const TRAP_EXIT_STATUS: u32 = 134;
const ERROR_EXIT_STATUS: u32 = 1;

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

fn main() -> u32 {
    match run() {
        Ok(()) => 0,
        Err(f) => {
            println!("error: {}", f.message.as_str());
            f.status
        }
    }
}

/// The request's parts.
struct Request<'a> {
    name: &'a str,
    argc: usize,
    args: &'a [u8],
    image: &'a [u8],
    in_place: bool,
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

fn request() -> Result<Request<'static>, Failure> {
    // SAFETY: [REQUEST_ADDRESS, +REQUEST_MAX) is the image partition in flash, mapped
    // read-only by the boot plan and written only by QEMU's loader before boot; nothing
    // writes it while these shared borrows live.
    let region = unsafe {
        core::slice::from_raw_parts(REQUEST_ADDRESS as usize as *const u8, REQUEST_MAX as usize)
    };
    let bad = |what: &str| {
        error(message!(
            "no valid run request at {REQUEST_ADDRESS:#x}: {what} (boot with \
             -device loader,file=REQUEST,addr={REQUEST_ADDRESS:#x},force-raw=on)"
        ))
    };
    if &region[..8] != MAGIC {
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
    if flags & !(FLAG_IN_PLACE | FLAG_FUEL | FLAG_EPOCH_DEADLINE) != 0 {
        return Err(bad("unknown flags"));
    }
    // Every field is below 2^32, so these sums cannot overflow a 64-bit usize.
    let args_start = HEADER_LEN + name_len;
    let args_end = args_start + args_len;
    if !image_offset.is_multiple_of(64)
        || args_end > region.len()
        || image_offset < args_end
        || image_offset + image_len > region.len()
    {
        return Err(bad("bad lengths"));
    }
    let name = core::str::from_utf8(&region[HEADER_LEN..args_start])
        .map_err(|_| bad("export name not UTF-8"))?;
    Ok(Request {
        name,
        argc,
        args: &region[args_start..args_end],
        image: &region[image_offset..image_offset + image_len],
        in_place: flags & FLAG_IN_PLACE != 0,
        fuel: (flags & FLAG_FUEL != 0).then(|| u64_at(region, 36)),
        epoch_deadline: (flags & FLAG_EPOCH_DEADLINE != 0).then(|| u64_at(region, 44)),
    })
}

fn run() -> Result<(), Failure> {
    let request = request()?;
    let mut config = board::engine_config();
    config.epoch_counter = Some(&EPOCH);
    let engine = Engine::new(&config);
    let cannot_load = |e: &dyn fmt::Display| error(message!("cannot load image: {e}"));
    if request.in_place {
        let module = board::xip::load(&engine, request.image).map_err(|e| cannot_load(&e))?;
        call(&engine, &module, &request)
    } else {
        let module = Module::new(&engine, request.image).map_err(|e| cannot_load(&e))?;
        call(&engine, &module, &request)
    }
}

/// Instantiates `module` and calls the requested export with the request's arguments.
fn call(engine: &Engine, module: &Module<'_>, request: &Request<'_>) -> Result<(), Failure> {
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
            let ticking = timer::start(&TimerConfig::default())
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
        print_val(v);
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

/// Prints a result with `Val`'s `Display`, as the hosted runner does.
fn print_val(v: &Val) {
    println!("{v}");
}
