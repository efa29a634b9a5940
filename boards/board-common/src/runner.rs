//! The core of the runner firmwares behind `wasm-aot run --board`: reads a *run request* that
//! QEMU's loader placed in the board's memory before boot ([`request`]), and, once the board has
//! loaded its image (copied into code memory, or in place from flash where the board can),
//! calls the requested export with its arguments and prints the results one per line, exactly
//! as the hosted `wasm-aot-runner` does (`Val::parse`, `Val`'s `Display`) ([`call`]); errors
//! are printed as `error: ...` ([`finish`]). Exit status: 0 success, 134 trap, 1 any other
//! error.
//!
//! A request may carry a budget (`wasm-aot run --board ... --fuel N --epoch-deadline TICKS`):
//! the call then runs with that fuel (and `fuel consumed: N` is printed, whether it returned or
//! trapped) and with an epoch deadline that many ticks ahead, the board ticking [`EPOCH`] at
//! 1 kHz while the call runs; the image must be compiled with fuel metering or epoch checks, as
//! the hosted runner demands, in the same words.
//!
//! The request (little-endian, version 3), written by `wasm-aot`'s `board_request`:
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

// Errors carry a fixed 256-byte message (no allocator on the boards); they happen once per boot.
#![allow(clippy::result_large_err)]

use core::fmt::{self, Write};

use device_runtime::{
    Engine, EpochCounter, Linker, MAX_FUNC_ARITY, Module, ParseValError, Store, Val, ValType,
};

const MAGIC: &[u8; 8] = b"WAOTRUN\0";
const VERSION: u32 = 3;
const HEADER_LEN: usize = 52;
/// `flags` bits: execute the image in place, a fuel budget, an epoch deadline.
const FLAG_IN_PLACE: u32 = 1;
const FLAG_FUEL: u32 = 2;
const FLAG_EPOCH_DEADLINE: u32 = 4;

/// Exit status of a call that trapped.
pub const TRAP_EXIT_STATUS: u32 = 134;
/// Exit status of any other failure.
pub const ERROR_EXIT_STATUS: u32 = 1;

/// The runner's epoch counter: the board's engine config names it, and the board's timer calls
/// [`tick`] at 1 kHz while a call with a deadline runs.
pub static EPOCH: EpochCounter = EpochCounter::new();

/// The tick hook of the board's timer: advances [`EPOCH`].
pub fn tick() {
    EPOCH.increment();
}

/// A message of at most 256 bytes (longer messages are cut at a character boundary),
/// formatted without an allocator.
pub struct Message {
    bytes: [u8; 256],
    len: usize,
}

impl Message {
    /// Formats `args`.
    pub fn new(args: fmt::Arguments<'_>) -> Message {
        let mut m = Message {
            bytes: [0; 256],
            len: 0,
        };
        let _ = m.write_fmt(args);
        m
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        core::str::from_utf8(&self.bytes[..self.len]).unwrap_or("?")
    }
}

impl Write for Message {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = self.bytes.len() - self.len;
        let mut n = s.len().min(room);
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

macro_rules! message {
    ($($t:tt)*) => { Message::new(format_args!($($t)*)) };
}

/// Why a run did not produce results, with its exit status.
#[derive(Debug)]
pub struct Failure {
    /// What is printed after `error: `.
    pub message: Message,
    /// The exit status.
    pub status: u32,
}

/// A failure with [`ERROR_EXIT_STATUS`].
pub fn error(message: Message) -> Failure {
    Failure {
        message,
        status: ERROR_EXIT_STATUS,
    }
}

/// A failure with [`ERROR_EXIT_STATUS`] and a formatted message.
pub fn error_fmt(args: fmt::Arguments<'_>) -> Failure {
    error(Message::new(args))
}

/// The parts of a run request.
#[derive(Debug, PartialEq, Eq)]
pub struct Request<'a> {
    /// The export to call.
    pub name: &'a str,
    /// How many arguments there are.
    pub argc: usize,
    /// The arguments, each followed by a NUL.
    pub args: &'a [u8],
    /// The image.
    pub image: &'a [u8],
    /// Whether the image is to execute in place.
    pub in_place: bool,
    /// The fuel budget of the call, if any.
    pub fuel: Option<u64>,
    /// The epoch deadline of the call in ticks, if any.
    pub epoch_deadline: Option<u64>,
}

fn u32_at(bytes: &[u8], offset: usize) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[offset..offset + 4]);
    u32::from_le_bytes(word)
}

fn u64_at(bytes: &[u8], offset: usize) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[offset..offset + 8]);
    u64::from_le_bytes(word)
}

/// Parses the request at the start of `region`. `read` is the address the firmware reads the
/// region at and `loader` the one QEMU's loader writes it at (they differ where the firmware
/// uses a Secure alias), for the message of a missing or malformed request.
pub fn request(region: &[u8], read: usize, loader: usize) -> Result<Request<'_>, Failure> {
    parse(region).map_err(|what| {
        error_fmt(format_args!(
            "no valid run request at {read:#x}: {what} (boot with \
             -device loader,file=REQUEST,addr={loader:#x},force-raw=on)"
        ))
    })
}

/// [`request`]'s parser: what is wrong, if anything.
fn parse(region: &[u8]) -> Result<Request<'_>, &'static str> {
    if region.len() < HEADER_LEN || &region[..8] != MAGIC {
        return Err("bad magic");
    }
    if u32_at(region, 8) != VERSION {
        return Err(
            "unsupported version (the runner firmware and wasm-aot must come from the same tree)",
        );
    }
    let field = |offset| u32_at(region, offset) as usize;
    let (name_len, argc, args_len) = (field(12), field(16), field(20));
    let (image_offset, image_len) = (field(24), field(28));
    let flags = u32_at(region, 32);
    if flags & !(FLAG_IN_PLACE | FLAG_FUEL | FLAG_EPOCH_DEADLINE) != 0 {
        return Err("unknown flags");
    }
    // Checked sums: usize is 32 bits on the Cortex-M boards and the fields come from outside.
    let args_start = HEADER_LEN.checked_add(name_len);
    let args_end = args_start.and_then(|s| s.checked_add(args_len));
    let image_end = image_offset.checked_add(image_len);
    let (Some(args_start), Some(args_end), Some(image_end)) = (args_start, args_end, image_end)
    else {
        return Err("bad lengths");
    };
    if !image_offset.is_multiple_of(64)
        || args_end > region.len()
        || image_offset < args_end
        || image_end > region.len()
    {
        return Err("bad lengths");
    }
    let name = core::str::from_utf8(&region[HEADER_LEN..args_start])
        .map_err(|_| "export name not UTF-8")?;
    let budget = |flag: u32, offset: usize| (flags & flag != 0).then(|| u64_at(region, offset));
    Ok(Request {
        name,
        argc,
        args: &region[args_start..args_end],
        image: &region[image_offset..image_end],
        in_place: flags & FLAG_IN_PLACE != 0,
        fuel: budget(FLAG_FUEL, 36),
        epoch_deadline: budget(FLAG_EPOCH_DEADLINE, 44),
    })
}

/// What the runner needs of the board.
pub trait Board {
    /// Prints one line on the console (the newline is the board's to add).
    fn println(&self, args: fmt::Arguments<'_>);
    /// Starts calling [`tick`] at 1 kHz.
    fn start_ticks(&mut self) -> Result<(), Message>;
    /// Stops the ticks [`Board::start_ticks`] started.
    fn stop_ticks(&mut self);
}

/// Refuses a budget the image was not compiled for, in the hosted runner's words.
pub fn check_budget(module: &Module<'_>, request: &Request<'_>) -> Result<(), Failure> {
    let tunables = module.tunables();
    if request.fuel.is_some() && !tunables.fuel {
        return Err(error_fmt(format_args!(
            "--fuel needs an image compiled with fuel metering (wasm-aot compile --fuel)"
        )));
    }
    if request.epoch_deadline.is_some() && !tunables.epochs {
        return Err(error_fmt(format_args!(
            "--epoch-deadline needs an image compiled with epoch checks (wasm-aot compile --epoch)"
        )));
    }
    Ok(())
}

/// Instantiates `module` (loaded by the board from `request.image`) with no imports, calls the
/// requested export with the request's arguments under its budget ([`check_budget`] first),
/// and prints the results, one per line.
pub fn call(
    board: &mut dyn Board,
    engine: &Engine,
    module: &Module<'_>,
    request: &Request<'_>,
) -> Result<(), Failure> {
    check_budget(module, request)?;
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
        board
            .start_ticks()
            .map_err(|e| error(message!("cannot start the epoch tick: {}", e.as_str())))?;
    }
    let call = func.call(
        &mut store,
        &values[..params.len()],
        &mut results[..results_len],
    );
    if request.epoch_deadline.is_some() {
        board.stop_ticks();
    }
    if let Some(fuel) = request.fuel {
        // Blocks after the last fuel check may run beyond the budget: a debt, consumed too.
        let left = store.get_fuel().unwrap_or(fuel);
        let debt = store.fuel_debt().unwrap_or(0);
        let consumed = (fuel - left.min(fuel)).saturating_add(debt);
        if debt > 0 {
            board.println(format_args!("fuel consumed: {consumed} (debt {debt})"));
        } else {
            board.println(format_args!("fuel consumed: {consumed}"));
        }
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
        board.println(format_args!("{v}"));
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

/// The exit status of a run, printing `error: ...` for a failure.
pub fn finish(board: &dyn Board, outcome: Result<(), Failure>) -> u32 {
    match outcome {
        Ok(()) => 0,
        Err(f) => {
            board.println(format_args!("error: {}", f.message.as_str()));
            f.status
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as `wasm-aot` writes it (its `board_request`, copy mode).
    fn request_bytes(
        name: &str,
        args: &[&str],
        image: &[u8],
        flags: u32,
        budget: [u64; 2],
    ) -> Vec<u8> {
        let mut arg_bytes = Vec::new();
        for a in args {
            arg_bytes.extend_from_slice(a.as_bytes());
            arg_bytes.push(0);
        }
        let offset = (HEADER_LEN + name.len() + arg_bytes.len()).next_multiple_of(64);
        let mut r = Vec::new();
        r.extend_from_slice(MAGIC);
        for field in [
            VERSION,
            name.len() as u32,
            args.len() as u32,
            arg_bytes.len() as u32,
            offset as u32,
            image.len() as u32,
            flags,
        ] {
            r.extend_from_slice(&field.to_le_bytes());
        }
        for b in budget {
            r.extend_from_slice(&b.to_le_bytes());
        }
        r.extend_from_slice(name.as_bytes());
        r.extend_from_slice(&arg_bytes);
        r.resize(offset, 0);
        r.extend_from_slice(image);
        r
    }

    #[test]
    fn parses_a_request_with_and_without_a_budget() {
        let r = request_bytes("div", &["7", "-1"], &[0xab; 100], 0, [0, 0]);
        let parsed = parse(&r).unwrap();
        assert_eq!(parsed.name, "div");
        assert_eq!(parsed.argc, 2);
        assert_eq!(parsed.args, b"7\0-1\0");
        assert_eq!(parsed.image, &[0xab; 100][..]);
        assert_eq!(
            (parsed.in_place, parsed.fuel, parsed.epoch_deadline),
            (false, None, None)
        );
        let r = request_bytes("f", &[], &[1; 64], 1 | 2 | 4, [u64::MAX, 7]);
        let parsed = parse(&r).unwrap();
        assert_eq!(
            (parsed.in_place, parsed.fuel, parsed.epoch_deadline),
            (true, Some(u64::MAX), Some(7))
        );
        // A budget field without its flag is not a budget.
        let r = request_bytes("f", &[], &[1; 64], 2, [5, 9]);
        assert_eq!(parse(&r).unwrap().epoch_deadline, None);
    }

    #[test]
    fn refuses_malformed_requests_without_panicking() {
        let good = request_bytes("f", &["1"], &[1; 64], 0, [0, 0]);
        assert_eq!(parse(&good[..HEADER_LEN - 1]), Err("bad magic"));
        let mut bad = good.clone();
        bad[0] = b'X';
        assert_eq!(parse(&bad), Err("bad magic"));
        let mut old = good.clone();
        old[8] = 2;
        assert!(parse(&old).unwrap_err().starts_with("unsupported version"));
        let mut flags = good.clone();
        flags[32] = 8;
        assert_eq!(parse(&flags), Err("unknown flags"));
        // Lengths past the region, overflowing sums, a misaligned or overlapping image.
        for (offset, value) in [
            (12, u32::MAX),
            (20, u32::MAX - 60),
            (24, u32::MAX),
            (28, u32::MAX),
            (24, 65),
            (24, 0),
            (28, 65),
        ] {
            let mut r = good.clone();
            r[offset..offset + 4].copy_from_slice(&value.to_le_bytes());
            assert_eq!(parse(&r), Err("bad lengths"), "field at {offset} = {value}");
        }
        let mut name = good.clone();
        name[HEADER_LEN] = 0xff;
        assert_eq!(parse(&name), Err("export name not UTF-8"));
        let failure = request(&bad, 0x100, 0x200).unwrap_err();
        assert_eq!(failure.status, ERROR_EXIT_STATUS);
        assert_eq!(
            failure.message.as_str(),
            "no valid run request at 0x100: bad magic (boot with -device \
             loader,file=REQUEST,addr=0x200,force-raw=on)"
        );
    }

    #[test]
    fn messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(200);
        let m = Message::new(format_args!("{long}"));
        assert_eq!(m.as_str().len(), 256);
        let m = Message::new(format_args!("x{long}"));
        assert_eq!(m.as_str().len(), 255);
        assert!(m.as_str().ends_with('é'));
    }
}
