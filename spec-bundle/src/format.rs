//! The bundle format (version 1) and its decoder.
//!
//! **Writer**: the host generator (`tests/src/bundle.rs`, through [`crate::encode`]).
//! **Readers**: [`crate::exec`] on the board firmware (`examples/spec_bundle.rs` of
//! `boards/qemu-virt-aarch64`) and hosted under qemu-aarch64 user mode (`tests` binary
//! `spec_bundle run`). Every integer is little-endian; every offset is relative to the first
//! byte of the bundle; every record has a fixed size, so the reader indexes tables directly and
//! needs no allocator.
//!
//! ```text
//! 0        80                                                         total_len
//! +--------+--------+----------+--------+---------+---------+ ... +------+------+---
//! | header | files  | commands | values | modules | strings |     | img0 | img1 | ...
//! +--------+--------+----------+--------+---------+---------+ ... +------+------+---
//!                                                                 ^ each image 64-byte aligned
//! ```
//!
//! # Header (80 bytes)
//!
//! | offset | field | |
//! |---|---|---|
//! | 0 | magic `b"WSPECBN\0"` | |
//! | 8 | `version` u32 | [`VERSION`] |
//! | 12 | `header_len` u32 | [`HEADER_LEN`] |
//! | 16 | `total_len` u32 | bytes of the bundle; a shorter buffer is [`FormatError::Truncated`] |
//! | 20 | `checksum` u32 | FNV-1a (32-bit) of bytes `[HEADER_LEN, total_len)` |
//! | 24 | `batch` u16, `batch_count` u16 | this bundle is batch `batch` of `batch_count` (one boot each) |
//! | 28 | `target` u32 | image target code (`shared_types::Target` header code; 1 = AArch64) |
//! | 32 | `files` [`Table`] | [`FileRecord`]s |
//! | 40 | `commands` [`Table`] | [`CommandRecord`]s |
//! | 48 | `values` [`Table`] | [`ValueRecord`]s (arguments and expected results) |
//! | 56 | `modules` [`Table`] | [`ModuleRecord`]s |
//! | 64 | `strings` offset u32, byte length u32 | UTF-8 pool that [`StrRef`]s point into |
//! | 72 | `settings` u64 | FNV-1a (64-bit) of the compiler settings' text, printed by readers |
//!
//! A [`Table`] is `offset` u32, `count` u32; its records lie at
//! `offset + i * RECORD_LEN` and must end inside the bundle. A [`Range`] (`first` u32, `count`
//! u32) selects records of a table; a [`StrRef`] (`offset` u32, `len` u32) selects bytes of the
//! string pool, relative to the pool's start.
//!
//! # Records
//!
//! [`FileRecord`] (48 bytes): one `.wast` file.
//!
//! | offset | field |
//! |---|---|
//! | 0 | `name` StrRef |
//! | 8 | `commands` Range: the file's commands, in order |
//! | 16 | `modules` Range: the file's modules (commands index them globally) |
//! | 24 | `host_passed` u32: host-side cases that passed (`assert_invalid`, `assert_malformed`) |
//! | 28 | `host_failed` u32: host-side cases that failed (details printed by the generator) |
//! | 32 | `host_text_only` u32: of `host_passed`, rejected already by the text parser |
//! | 36..48 | reserved, 0 |
//!
//! [`CommandRecord`] (56 bytes): one directive the board executes (one case each), or a
//! [`CommandKind::BeginSegment`] marker (not a case).
//!
//! | offset | field |
//! |---|---|
//! | 0 | `kind` u8 ([`CommandKind`]) |
//! | 1 | `action` u8 ([`ActionKind`]; assertions and `invoke`) |
//! | 2 | `flags` u8: bit 0 [`FLAG_SETUP`]; other bits 0 |
//! | 3 | reserved u8, 0 |
//! | 4 | `line` u32: 1-based line in the `.wast` file (0 for markers) |
//! | 8 | `instance` u32: named-instance slot, [`CURRENT`] for the current instance; for `module` the slot to bind or [`NO_SLOT`] |
//! | 12 | `module` u32: module index (`module`, `assert_unlinkable`, actions on modules); first module of a segment |
//! | 16 | `module_count` u32: modules of a segment |
//! | 20 | reserved u32, 0 |
//! | 24 | `name` StrRef: function or global name; name to register under |
//! | 32 | `message` StrRef: the expected trap or error text |
//! | 40 | `args` Range of values |
//! | 48 | `expected` Range of values (see [`ValueKind::Either`]) |
//!
//! [`ValueRecord`] (16 bytes): `kind` u32 ([`ValueKind`]), `extra` u32 (alternatives of an
//! `Either`), `bits` u64 (integers, float bits, extern ids; zero-extended).
//!
//! [`ModuleRecord`] (24 bytes): `image` offset u32 (multiple of 64), `image_len` u32,
//! `status` u32 (0 compiled, 1 the host compiler refused it: `error` says why, no image),
//! reserved u32, `error` StrRef.
//!
//! # Segments
//!
//! A file's commands are cut into *segments*, each opened by a `BeginSegment` marker that
//! names the modules it uses (a contiguous run). The reader runs each segment in a fresh store
//! with a fresh linker and `spectest` module and drops everything at its end, so the board's
//! fixed pools (code memory, loaded-module slots, memory slots) only ever hold one segment.
//! The writer starts a segment only where nothing later in the file can observe anything
//! earlier: no later reference to an earlier named instance or registration, no `spectest`
//! table or memory state shared across the cut (see `tests/src/bundle.rs`). A segment has at
//! most [`MAX_SEGMENT_MODULES`] modules; the reader refuses more.
//!
//! A segment may start with *setup* commands ([`FLAG_SETUP`]): a `module` and a `register`
//! that re-create, in the fresh store, a registered module that later commands import, when
//! the writer has shown that a fresh instance cannot be told apart from the original at that
//! point (no imports, no start function, functions that touch no memory, table or global,
//! exported memories, tables and mutable globals unchanged so far). Setup commands are not
//! cases; if one fails, every case of its segment fails with [`crate::Failure::SetupFailed`]
//! naming its line.

use core::fmt;

/// First bytes of every bundle.
pub const MAGIC: [u8; 8] = *b"WSPECBN\0";
/// Format version this crate reads and writes.
pub const VERSION: u32 = 1;
/// Bytes of the header.
pub const HEADER_LEN: usize = 80;
/// Alignment of each image, relative to the bundle (the bundle itself must be placed at a
/// 64-byte aligned address: images are read in place).
pub const IMAGE_ALIGN: usize = 64;
/// Bytes of a [`FileRecord`].
pub const FILE_RECORD_LEN: usize = 48;
/// Bytes of a [`CommandRecord`].
pub const COMMAND_RECORD_LEN: usize = 56;
/// Bytes of a [`ValueRecord`].
pub const VALUE_RECORD_LEN: usize = 16;
/// Bytes of a [`ModuleRecord`].
pub const MODULE_RECORD_LEN: usize = 24;
/// Command flag: a setup command of its segment (not a case).
pub const FLAG_SETUP: u8 = 1;
/// `instance` of a command that acts on the current instance.
pub const CURRENT: u32 = u32::MAX;
/// `instance` of a `module` command that binds no name.
pub const NO_SLOT: u32 = u32::MAX;
/// Named-instance slots per file.
pub const MAX_NAMED_INSTANCES: usize = 64;
/// Modules per segment: what the device runtime can hold loaded at once on a board
/// ([`device_runtime::MAX_LOADED_MODULES`] without the `hosted` feature). Part of the format:
/// the reader refuses a segment with more.
pub const MAX_SEGMENT_MODULES: usize = 16;
const _: () = assert!(MAX_SEGMENT_MODULES <= device_runtime::MAX_LOADED_MODULES);
/// Alternatives of one `Either` expectation.
pub const MAX_ALTERNATIVES: usize = 8;

/// Why a bundle (or a part of it) cannot be read. Every offset and length is checked before it
/// is used; no input makes the decoder panic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FormatError {
    /// The buffer is shorter than the header or than `total_len`.
    Truncated {
        /// Bytes needed.
        needed: u64,
        /// Bytes present.
        len: usize,
    },
    /// The first bytes are not [`MAGIC`].
    BadMagic,
    /// Another format version.
    Version(u32),
    /// `header_len` is not [`HEADER_LEN`].
    HeaderLen(u32),
    /// The checksum does not match the contents.
    Checksum {
        /// Recorded.
        recorded: u32,
        /// Computed.
        computed: u32,
    },
    /// The bundle does not start at a 64-byte aligned address.
    Misaligned,
    /// A table, range or string lies (partly) outside the bundle or its table.
    OutOfBounds(&'static str),
    /// A record has a field value this version does not define.
    BadRecord(&'static str),
    /// A string is not UTF-8.
    NotUtf8,
}

impl fmt::Display for FormatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormatError::Truncated { needed, len } => {
                write!(f, "truncated bundle: {len} bytes, {needed} needed")
            }
            FormatError::BadMagic => f.write_str("not a spec bundle (bad magic)"),
            FormatError::Version(v) => {
                write!(f, "bundle format version {v}, this reader reads {VERSION}")
            }
            FormatError::HeaderLen(n) => write!(f, "bad header length {n}"),
            FormatError::Checksum { recorded, computed } => write!(
                f,
                "bundle checksum mismatch: recorded {recorded:#010x}, computed {computed:#010x}"
            ),
            FormatError::Misaligned => {
                f.write_str("bundle not placed at a 64-byte aligned address")
            }
            FormatError::OutOfBounds(what) => write!(f, "{what} out of bounds"),
            FormatError::BadRecord(what) => write!(f, "bad {what}"),
            FormatError::NotUtf8 => f.write_str("string not UTF-8"),
        }
    }
}

impl core::error::Error for FormatError {}

/// FNV-1a, 32-bit, of `bytes` (the bundle checksum).
pub fn fnv1a32(bytes: &[u8]) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// FNV-1a, 64-bit (settings digest, outcome digests).
#[derive(Clone, Copy, Debug)]
pub struct Fnv64(pub u64);

impl Default for Fnv64 {
    fn default() -> Self {
        Fnv64(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv64 {
    /// Adds bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= u64::from(b);
            self.0 = self.0.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
}

impl fmt::Write for Fnv64 {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.update(s.as_bytes());
        Ok(())
    }
}

/// `offset`, `count` of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Table {
    /// Offset of the first record.
    pub offset: u32,
    /// Records.
    pub count: u32,
}

/// `first`, `count` records of a table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Range {
    /// First record.
    pub first: u32,
    /// Records.
    pub count: u32,
}

impl Range {
    /// Record indices.
    pub fn indices(&self) -> core::ops::Range<u32> {
        self.first..self.first.saturating_add(self.count)
    }
}

/// `offset`, `len` bytes of the string pool.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StrRef {
    /// Offset in the pool.
    pub offset: u32,
    /// Bytes.
    pub len: u32,
}

/// What a command does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum CommandKind {
    /// Opens a segment: a fresh store for `module_count` modules from `module` on.
    BeginSegment = 0,
    /// `(module $name? ...)`: instantiate `module`, make it current, bind `instance` if a slot.
    Module = 1,
    /// `(register "name" $instance?)`.
    Register = 2,
    /// A bare `(invoke ...)`: must not fail (a trap fails the case).
    Action = 3,
    /// `(assert_return ACTION RESULT*)`.
    AssertReturn = 4,
    /// `(assert_trap ACTION "message")`; an action on a module is `assert_uninstantiable`.
    AssertTrap = 5,
    /// `(assert_exhaustion ACTION "message")`.
    AssertExhaustion = 6,
    /// `(assert_unlinkable MODULE "message")`.
    AssertUnlinkable = 7,
}

impl CommandKind {
    fn from_u8(b: u8) -> Option<CommandKind> {
        Some(match b {
            0 => CommandKind::BeginSegment,
            1 => CommandKind::Module,
            2 => CommandKind::Register,
            3 => CommandKind::Action,
            4 => CommandKind::AssertReturn,
            5 => CommandKind::AssertTrap,
            6 => CommandKind::AssertExhaustion,
            7 => CommandKind::AssertUnlinkable,
            _ => return None,
        })
    }
}

/// The action of a command.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ActionKind {
    /// No action (markers, `module`, `register`, `assert_unlinkable`).
    None = 0,
    /// Call export `name` of `instance` with `args`.
    Invoke = 1,
    /// Read exported global `name` of `instance`.
    Get = 2,
    /// Instantiate `module` (not made current).
    Instantiate = 3,
}

impl ActionKind {
    fn from_u8(b: u8) -> Option<ActionKind> {
        Some(match b {
            0 => ActionKind::None,
            1 => ActionKind::Invoke,
            2 => ActionKind::Get,
            3 => ActionKind::Instantiate,
            _ => return None,
        })
    }
}

/// The kind of a [`ValueRecord`]. Kinds 1-7 are values (arguments or exact results); the
/// others only appear as expected results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ValueKind {
    /// `i32` in the low 32 bits.
    I32 = 1,
    /// `i64`.
    I64 = 2,
    /// `f32` bits in the low 32 bits.
    F32 = 3,
    /// `f64` bits.
    F64 = 4,
    /// `ref.null func`.
    FuncRefNull = 5,
    /// `ref.null extern`.
    ExternRefNull = 6,
    /// `ref.extern N`: `bits` = N.
    ExternRef = 7,
    /// `nan:canonical` f32.
    F32CanonicalNan = 8,
    /// `nan:arithmetic` f32.
    F32ArithmeticNan = 9,
    /// `nan:canonical` f64.
    F64CanonicalNan = 10,
    /// `nan:arithmetic` f64.
    F64ArithmeticNan = 11,
    /// `ref.null` of any type.
    RefNullAny = 12,
    /// `ref.func`: any non-null funcref.
    FuncRefNonNull = 13,
    /// `ref.extern` without an id: any non-null externref.
    ExternRefNonNull = 14,
    /// `either`: the next `extra` records are alternatives (none of them `Either`); the
    /// result matches if it matches one of them.
    Either = 15,
}

impl ValueKind {
    fn from_u32(k: u32) -> Option<ValueKind> {
        Some(match k {
            1 => ValueKind::I32,
            2 => ValueKind::I64,
            3 => ValueKind::F32,
            4 => ValueKind::F64,
            5 => ValueKind::FuncRefNull,
            6 => ValueKind::ExternRefNull,
            7 => ValueKind::ExternRef,
            8 => ValueKind::F32CanonicalNan,
            9 => ValueKind::F32ArithmeticNan,
            10 => ValueKind::F64CanonicalNan,
            11 => ValueKind::F64ArithmeticNan,
            12 => ValueKind::RefNullAny,
            13 => ValueKind::FuncRefNonNull,
            14 => ValueKind::ExternRefNonNull,
            15 => ValueKind::Either,
            _ => return None,
        })
    }
}

/// An argument or an exact result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// `i32`.
    I32(i32),
    /// `i64`.
    I64(i64),
    /// `f32` bits.
    F32(u32),
    /// `f64` bits.
    F64(u64),
    /// `ref.null func`.
    FuncRefNull,
    /// `ref.null extern`.
    ExternRefNull,
    /// `ref.extern N`.
    ExternRef(u32),
}

/// One expected result (an alternative of `either` included).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// Exactly this value (floats bit for bit).
    Exact(Value),
    /// A canonical NaN (sign free).
    F32CanonicalNan,
    /// An arithmetic NaN (quiet bit set; sign and payload free).
    F32ArithmeticNan,
    /// See [`Expected::F32CanonicalNan`].
    F64CanonicalNan,
    /// See [`Expected::F32ArithmeticNan`].
    F64ArithmeticNan,
    /// A null reference of any type.
    RefNullAny,
    /// A non-null funcref.
    FuncRefNonNull,
    /// A non-null externref.
    ExternRefNonNull,
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::I32(v) => write!(f, "i32:{v}"),
            Value::I64(v) => write!(f, "i64:{v}"),
            Value::F32(b) => write!(f, "f32:{b:#010x}"),
            Value::F64(b) => write!(f, "f64:{b:#018x}"),
            Value::FuncRefNull => f.write_str("ref.null func"),
            Value::ExternRefNull => f.write_str("ref.null extern"),
            Value::ExternRef(id) => write!(f, "ref.extern {id}"),
        }
    }
}

impl fmt::Display for Expected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expected::Exact(v) => v.fmt(f),
            Expected::F32CanonicalNan => f.write_str("f32:nan:canonical"),
            Expected::F32ArithmeticNan => f.write_str("f32:nan:arithmetic"),
            Expected::F64CanonicalNan => f.write_str("f64:nan:canonical"),
            Expected::F64ArithmeticNan => f.write_str("f64:nan:arithmetic"),
            Expected::RefNullAny => f.write_str("ref.null"),
            Expected::FuncRefNonNull => f.write_str("ref.func"),
            Expected::ExternRefNonNull => f.write_str("ref.extern"),
        }
    }
}

impl Value {
    #[cfg(feature = "encode")]
    pub(crate) fn record(&self) -> (ValueKind, u64) {
        match *self {
            Value::I32(v) => (ValueKind::I32, u64::from(v as u32)),
            Value::I64(v) => (ValueKind::I64, v as u64),
            Value::F32(b) => (ValueKind::F32, u64::from(b)),
            Value::F64(b) => (ValueKind::F64, b),
            Value::FuncRefNull => (ValueKind::FuncRefNull, 0),
            Value::ExternRefNull => (ValueKind::ExternRefNull, 0),
            Value::ExternRef(id) => (ValueKind::ExternRef, u64::from(id)),
        }
    }
}

impl Expected {
    #[cfg(feature = "encode")]
    pub(crate) fn record(&self) -> (ValueKind, u64) {
        match self {
            Expected::Exact(v) => v.record(),
            Expected::F32CanonicalNan => (ValueKind::F32CanonicalNan, 0),
            Expected::F32ArithmeticNan => (ValueKind::F32ArithmeticNan, 0),
            Expected::F64CanonicalNan => (ValueKind::F64CanonicalNan, 0),
            Expected::F64ArithmeticNan => (ValueKind::F64ArithmeticNan, 0),
            Expected::RefNullAny => (ValueKind::RefNullAny, 0),
            Expected::FuncRefNonNull => (ValueKind::FuncRefNonNull, 0),
            Expected::ExternRefNonNull => (ValueKind::ExternRefNonNull, 0),
        }
    }
}

/// A decoded [`ValueRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueRecord {
    /// Kind.
    pub kind: ValueKind,
    /// Alternatives that follow an `Either`.
    pub extra: u32,
    /// Payload.
    pub bits: u64,
}

impl ValueRecord {
    /// As an argument or exact value (`None` for expectation-only kinds).
    pub fn value(&self) -> Option<Value> {
        let bits = self.bits;
        Some(match self.kind {
            ValueKind::I32 => Value::I32(u32::try_from(bits).ok()? as i32),
            ValueKind::I64 => Value::I64(bits as i64),
            ValueKind::F32 => Value::F32(u32::try_from(bits).ok()?),
            ValueKind::F64 => Value::F64(bits),
            ValueKind::FuncRefNull => Value::FuncRefNull,
            ValueKind::ExternRefNull => Value::ExternRefNull,
            ValueKind::ExternRef => Value::ExternRef(u32::try_from(bits).ok()?),
            _ => return None,
        })
    }

    /// As an expected result (`None` for `Either`).
    pub fn expected(&self) -> Option<Expected> {
        Some(match self.kind {
            ValueKind::F32CanonicalNan => Expected::F32CanonicalNan,
            ValueKind::F32ArithmeticNan => Expected::F32ArithmeticNan,
            ValueKind::F64CanonicalNan => Expected::F64CanonicalNan,
            ValueKind::F64ArithmeticNan => Expected::F64ArithmeticNan,
            ValueKind::RefNullAny => Expected::RefNullAny,
            ValueKind::FuncRefNonNull => Expected::FuncRefNonNull,
            ValueKind::ExternRefNonNull => Expected::ExternRefNonNull,
            ValueKind::Either => return None,
            _ => Expected::Exact(self.value()?),
        })
    }
}

/// A decoded [`FileRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileRecord<'b> {
    /// The `.wast` file name.
    pub name: &'b str,
    /// Its commands.
    pub commands: Range,
    /// Its modules.
    pub modules: Range,
    /// Host-side cases that passed.
    pub host_passed: u32,
    /// Host-side cases that failed.
    pub host_failed: u32,
    /// Of `host_passed`: rejected by the text parser already.
    pub host_text_only: u32,
}

/// A decoded [`CommandRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandRecord<'b> {
    /// Kind.
    pub kind: CommandKind,
    /// A setup command ([`FLAG_SETUP`]), not a case.
    pub setup: bool,
    /// Action.
    pub action: ActionKind,
    /// Line in the `.wast` file.
    pub line: u32,
    /// Named-instance slot, [`CURRENT`] or [`NO_SLOT`].
    pub instance: u32,
    /// Module index.
    pub module: u32,
    /// Modules of a segment.
    pub module_count: u32,
    /// Function, global or registration name.
    pub name: &'b str,
    /// Expected message.
    pub message: &'b str,
    /// Arguments.
    pub args: Range,
    /// Expected results.
    pub expected: Range,
}

/// A decoded [`ModuleRecord`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModuleRecord<'b> {
    /// The image (64-byte aligned in the bundle).
    Image(&'b [u8]),
    /// The host compiler refused the module.
    HostError(&'b str),
}

/// `bytes[start..start + len]`, without overflow.
fn slice<'a>(
    bytes: &'a [u8],
    start: usize,
    len: usize,
    what: &'static str,
) -> Result<&'a [u8], FormatError> {
    start
        .checked_add(len)
        .and_then(|end| bytes.get(start..end))
        .ok_or(FormatError::OutOfBounds(what))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32, FormatError> {
    let b = slice(bytes, at, 4, "field")?;
    Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], at: usize) -> Result<u64, FormatError> {
    Ok(u64::from(u32_at(bytes, at)?) | (u64::from(u32_at(bytes, at + 4)?) << 32))
}

/// A validated bundle: the header is checked (magic, version, length, checksum) and every
/// table lies inside the bundle. Records are decoded (and their references checked) when read.
#[derive(Clone, Copy, Debug)]
pub struct Bundle<'b> {
    bytes: &'b [u8],
    /// Batch index.
    pub batch: u16,
    /// Batches in the suite.
    pub batch_count: u16,
    /// Image target code.
    pub target: u32,
    /// Digest of the compiler settings.
    pub settings: u64,
    files: Table,
    commands: Table,
    values: Table,
    modules: Table,
    strings: (u32, u32),
}

impl<'b> Bundle<'b> {
    /// Checks the header of `bytes` (which may extend past the bundle: `total_len` says where
    /// it ends) and the extents of its tables.
    pub fn parse(bytes: &'b [u8]) -> Result<Bundle<'b>, FormatError> {
        if bytes.len() < HEADER_LEN {
            return Err(FormatError::Truncated {
                needed: HEADER_LEN as u64,
                len: bytes.len(),
            });
        }
        if bytes[..8] != MAGIC {
            return Err(FormatError::BadMagic);
        }
        let version = u32_at(bytes, 8)?;
        if version != VERSION {
            return Err(FormatError::Version(version));
        }
        let header_len = u32_at(bytes, 12)?;
        if header_len as usize != HEADER_LEN {
            return Err(FormatError::HeaderLen(header_len));
        }
        if !(bytes.as_ptr() as usize).is_multiple_of(IMAGE_ALIGN) {
            return Err(FormatError::Misaligned);
        }
        let total = u32_at(bytes, 16)? as usize;
        if total < HEADER_LEN {
            return Err(FormatError::BadRecord("total length"));
        }
        let bytes = bytes.get(..total).ok_or(FormatError::Truncated {
            needed: total as u64,
            len: bytes.len(),
        })?;
        let recorded = u32_at(bytes, 20)?;
        let computed = fnv1a32(&bytes[HEADER_LEN..]);
        if recorded != computed {
            return Err(FormatError::Checksum { recorded, computed });
        }
        let batch_word = u32_at(bytes, 24)?;
        let table = |at: usize, record: usize, what: &'static str| -> Result<Table, FormatError> {
            let t = Table {
                offset: u32_at(bytes, at)?,
                count: u32_at(bytes, at + 4)?,
            };
            let end = u64::from(t.offset) + u64::from(t.count) * record as u64;
            if (t.offset as usize) < HEADER_LEN || end > total as u64 {
                return Err(FormatError::OutOfBounds(what));
            }
            Ok(t)
        };
        let files = table(32, FILE_RECORD_LEN, "file table")?;
        let commands = table(40, COMMAND_RECORD_LEN, "command table")?;
        let values = table(48, VALUE_RECORD_LEN, "value table")?;
        let modules = table(56, MODULE_RECORD_LEN, "module table")?;
        let strings = table(64, 1, "string pool")?;
        Ok(Bundle {
            bytes,
            batch: batch_word as u16,
            batch_count: (batch_word >> 16) as u16,
            target: u32_at(bytes, 28)?,
            settings: u64_at(bytes, 72)?,
            files,
            commands,
            values,
            modules,
            strings: (strings.offset, strings.count),
        })
    }

    /// Bytes of the bundle.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether the bundle has no bytes (never: the header is there).
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Files.
    pub fn file_count(&self) -> u32 {
        self.files.count
    }

    /// Commands (all files).
    pub fn command_count(&self) -> u32 {
        self.commands.count
    }

    /// Modules (all files).
    pub fn module_count(&self) -> u32 {
        self.modules.count
    }

    fn record(&self, table: Table, index: u32, len: usize) -> Result<&'b [u8], FormatError> {
        if index >= table.count {
            return Err(FormatError::OutOfBounds("record index"));
        }
        let start = (index as usize)
            .checked_mul(len)
            .and_then(|o| o.checked_add(table.offset as usize))
            .ok_or(FormatError::OutOfBounds("record"))?;
        slice(self.bytes, start, len, "record")
    }

    fn check_range(
        &self,
        range: Range,
        table: Table,
        what: &'static str,
    ) -> Result<Range, FormatError> {
        if u64::from(range.first) + u64::from(range.count) > u64::from(table.count) {
            return Err(FormatError::OutOfBounds(what));
        }
        Ok(range)
    }

    fn range(
        &self,
        r: &[u8],
        at: usize,
        table: Table,
        what: &'static str,
    ) -> Result<Range, FormatError> {
        let range = Range {
            first: u32_at(r, at)?,
            count: u32_at(r, at + 4)?,
        };
        self.check_range(range, table, what)
    }

    /// The string at `at` of record `r`.
    fn string(&self, r: &[u8], at: usize) -> Result<&'b str, FormatError> {
        let (offset, len) = (u32_at(r, at)?, u32_at(r, at + 4)?);
        if u64::from(offset) + u64::from(len) > u64::from(self.strings.1) {
            return Err(FormatError::OutOfBounds("string"));
        }
        let start = (self.strings.0 as usize)
            .checked_add(offset as usize)
            .ok_or(FormatError::OutOfBounds("string"))?;
        let bytes = slice(self.bytes, start, len as usize, "string")?;
        core::str::from_utf8(bytes).map_err(|_| FormatError::NotUtf8)
    }

    /// File `index`.
    pub fn file(&self, index: u32) -> Result<FileRecord<'b>, FormatError> {
        let r = self.record(self.files, index, FILE_RECORD_LEN)?;
        Ok(FileRecord {
            name: self.string(r, 0)?,
            commands: self.range(r, 8, self.commands, "file commands")?,
            modules: self.range(r, 16, self.modules, "file modules")?,
            host_passed: u32_at(r, 24)?,
            host_failed: u32_at(r, 28)?,
            host_text_only: u32_at(r, 32)?,
        })
    }

    /// Command `index`.
    pub fn command(&self, index: u32) -> Result<CommandRecord<'b>, FormatError> {
        let r = self.record(self.commands, index, COMMAND_RECORD_LEN)?;
        Ok(CommandRecord {
            kind: CommandKind::from_u8(r[0]).ok_or(FormatError::BadRecord("command kind"))?,
            setup: match r[2] {
                0 => false,
                FLAG_SETUP => true,
                _ => return Err(FormatError::BadRecord("command flags")),
            },
            action: ActionKind::from_u8(r[1]).ok_or(FormatError::BadRecord("action kind"))?,
            line: u32_at(r, 4)?,
            instance: u32_at(r, 8)?,
            module: u32_at(r, 12)?,
            module_count: u32_at(r, 16)?,
            name: self.string(r, 24)?,
            message: self.string(r, 32)?,
            args: self.range(r, 40, self.values, "arguments")?,
            expected: self.range(r, 48, self.values, "expected results")?,
        })
    }

    /// Value record `index`.
    pub fn value(&self, index: u32) -> Result<ValueRecord, FormatError> {
        let r = self.record(self.values, index, VALUE_RECORD_LEN)?;
        Ok(ValueRecord {
            kind: ValueKind::from_u32(u32_at(r, 0)?).ok_or(FormatError::BadRecord("value kind"))?,
            extra: u32_at(r, 4)?,
            bits: u64_at(r, 8)?,
        })
    }

    /// Module `index`.
    pub fn module(&self, index: u32) -> Result<ModuleRecord<'b>, FormatError> {
        let r = self.record(self.modules, index, MODULE_RECORD_LEN)?;
        let (offset, len, status) = (u32_at(r, 0)?, u32_at(r, 4)?, u32_at(r, 8)?);
        match status {
            0 => {
                if !(offset as usize).is_multiple_of(IMAGE_ALIGN) || (offset as usize) < HEADER_LEN
                {
                    return Err(FormatError::BadRecord("image offset"));
                }
                slice(self.bytes, offset as usize, len as usize, "image").map(ModuleRecord::Image)
            }
            1 => Ok(ModuleRecord::HostError(self.string(r, 16)?)),
            _ => Err(FormatError::BadRecord("module status")),
        }
    }
}
