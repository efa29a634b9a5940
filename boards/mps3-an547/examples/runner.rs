//! Runner firmware behind `wasm-aot run --board mps3-an547`: runs any Cortex-M55 image handed to
//! it in a *run request* that QEMU's loader places in the board's loader region in ISRAM
//! before boot (`-device loader,file=REQUEST,addr=0x21000000,force-raw=on`: QEMU's loader
//! writes ISRAM at its Non-secure address, the firmware reads it at the Secure alias
//! `0x3100_0000`, see `memory_map::LOADER_REGION`).
//!
//! The request lies at the start of [`LOADER_REGION`] and is at most its size (4 MiB). It is
//! the request of the `qemu-virt-aarch64` and `mps2-an386` runners (little-endian, version 2):
//!
//! | offset | field |
//! |---|---|
//! | 0 | magic `b"WAOTRUN\0"` |
//! | 8 | version `u32` = 2 |
//! | 12 | `name_len` `u32`: bytes of the export name |
//! | 16 | `argc` `u32` |
//! | 20 | `args_len` `u32`: bytes of the arguments, each UTF-8 text followed by a NUL |
//! | 24 | `image_offset` `u32`: multiple of 64, at or after the arguments |
//! | 28 | `image_len` `u32` |
//! | 32 | `flags` `u32`: must be 0 here (bit 0, execute in place, needs an image partition in flash, which this board does not have) |
//! | 36 | export name, then the arguments; the image at `image_offset` |
//!
//! The image's text is copied into code memory ([`Module::new`]). Arguments are parsed by the
//! export's parameter types and results printed one per line exactly as the hosted
//! `wasm-aot-runner` does (`Val::parse`, `Val`'s `Display`); errors are printed as `error: ...`.
//! Exit status (semihosting): 0 success, 134 trap, 1 any other error.

#![no_std]
#![no_main]
// Errors carry a fixed 256-byte message (no allocator on the board); they happen once per boot.
#![allow(clippy::result_large_err)]

use core::fmt::{self, Write};

use board::memory_map::{LOADER_ADDRESS, LOADER_REGION};
use device_runtime::{Engine, Linker, MAX_FUNC_ARITY, Module, ParseValError, Store, Val, ValType};
use mps3_an547::{self as board, println};

board::entry!(main);

/// Where the firmware reads the run request (the loader region's Secure alias).
const REQUEST_ADDRESS: usize = LOADER_REGION.start as usize;
/// Largest request: the loader region.
const REQUEST_MAX: usize = LOADER_REGION.len() as usize;
const MAGIC: &[u8; 8] = b"WAOTRUN\0";
const VERSION: u32 = 2;
const HEADER_LEN: usize = 36;

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
}

fn u32_at(bytes: &[u8], offset: usize) -> usize {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word) as usize
}

/// The loader region, the only unsafe part of the runner.
mod loader_region {
    use super::{REQUEST_ADDRESS, REQUEST_MAX};

    /// The bytes QEMU's loader placed in the loader region.
    pub fn bytes() -> &'static [u8] {
        // SAFETY: [REQUEST_ADDRESS, +REQUEST_MAX) is the loader region in ISRAM, readable
        // (read-write for the MPU), which the firmware and its pools never use (memory_map.rs)
        // and which only QEMU's loader writes, before boot; nothing writes it while these
        // shared borrows live.
        unsafe { core::slice::from_raw_parts(REQUEST_ADDRESS as *const u8, REQUEST_MAX) }
    }
}

fn request() -> Result<Request<'static>, Failure> {
    let region = loader_region::bytes();
    let bad = |what: &str| {
        error(message!(
            "no valid run request at {REQUEST_ADDRESS:#x}: {what} (boot with \
             -device loader,file=REQUEST,addr={LOADER_ADDRESS:#x},force-raw=on)"
        ))
    };
    if &region[..8] != MAGIC {
        return Err(bad("bad magic"));
    }
    if u32_at(region, 8) as u32 != VERSION {
        return Err(bad("unsupported version"));
    }
    let (name_len, argc, args_len) = (u32_at(region, 12), u32_at(region, 16), u32_at(region, 20));
    let (image_offset, image_len) = (u32_at(region, 24), u32_at(region, 28));
    if u32_at(region, 32) != 0 {
        return Err(bad(
            "flags other than 0 (execution in place needs an image partition in flash)",
        ));
    }
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
    })
}

fn run() -> Result<(), Failure> {
    let request = request()?;
    let engine = Engine::new(&board::engine_config());
    let module = Module::new(&engine, request.image)
        .map_err(|e| error(message!("cannot load image: {e}")))?;
    call(&engine, &module, &request)
}

/// Instantiates `module` and calls the requested export with the request's arguments.
fn call(engine: &Engine, module: &Module<'_>, request: &Request<'_>) -> Result<(), Failure> {
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
    let call = func.call(
        &mut store,
        &values[..params.len()],
        &mut results[..results_len],
    );
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
