//! The writer of the bundle format (feature `encode`; needs an allocator). The layout is
//! documented in [`crate::format`]; the decoder there reads exactly what this writes.

use alloc::string::String;
use alloc::vec::Vec;

use crate::format::{
    ActionKind, CURRENT, CommandKind, Expected, HEADER_LEN, IMAGE_ALIGN, MAGIC, NO_SLOT, Range,
    StrRef, VERSION, Value, ValueKind, fnv1a32,
};

/// What a command acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Call `func` of an instance (`None`: the current one; `Some(slot)`: a named one).
    Invoke {
        /// Named-instance slot.
        instance: Option<u32>,
        /// Export name.
        func: String,
        /// Arguments.
        args: Vec<Value>,
    },
    /// Read exported global `global`.
    Get {
        /// Named-instance slot.
        instance: Option<u32>,
        /// Export name.
        global: String,
    },
    /// Instantiate module `0` (an index returned by [`BundleWriter::module`]).
    Instantiate(u32),
}

/// An expected result: one value pattern or a choice.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExpectedResult {
    /// One pattern.
    One(Expected),
    /// Any of these.
    Either(Vec<Expected>),
}

/// A command of a file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// Opens a segment using modules `first..first + count`.
    BeginSegment {
        /// First module.
        first: u32,
        /// Modules.
        count: u32,
    },
    /// Instantiates `module` as the current instance, bound to `slot` if any.
    Module {
        /// Module index.
        module: u32,
        /// Named-instance slot.
        slot: Option<u32>,
    },
    /// Registers an instance's exports under `name`.
    Register {
        /// Import module name.
        name: String,
        /// Named-instance slot (`None`: current).
        instance: Option<u32>,
    },
    /// Performs an action that must not fail.
    Action(Action),
    /// `assert_return`.
    AssertReturn(Action, Vec<ExpectedResult>),
    /// `assert_trap` (on a module: `assert_uninstantiable`).
    AssertTrap(Action, String),
    /// `assert_exhaustion`.
    AssertExhaustion(Action, String),
    /// `assert_unlinkable`.
    AssertUnlinkable(u32, String),
}

/// Host-side counts of a file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostCounts {
    /// Passed.
    pub passed: u32,
    /// Failed.
    pub failed: u32,
    /// Of `passed`: rejected by the text parser.
    pub text_only: u32,
}

struct FileEntry {
    name: StrRef,
    commands: Range,
    modules: Range,
    host: HostCounts,
}

enum ModuleEntry {
    Image(Vec<u8>),
    HostError(StrRef),
}

/// Builds one bundle.
#[derive(Default)]
pub struct BundleWriter {
    files: Vec<FileEntry>,
    commands: Vec<[u8; crate::format::COMMAND_RECORD_LEN]>,
    values: Vec<[u8; crate::format::VALUE_RECORD_LEN]>,
    modules: Vec<ModuleEntry>,
    strings: Vec<u8>,
    open: Option<(StrRef, u32, u32)>,
}

impl core::fmt::Debug for BundleWriter {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("BundleWriter")
            .field("files", &self.files.len())
            .field("commands", &self.commands.len())
            .field("modules", &self.modules.len())
            .finish_non_exhaustive()
    }
}

fn put32(r: &mut [u8], at: usize, v: u32) {
    r[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

fn put_range(r: &mut [u8], at: usize, range: Range) {
    put32(r, at, range.first);
    put32(r, at + 4, range.count);
}

fn put_str(r: &mut [u8], at: usize, s: StrRef) {
    put32(r, at, s.offset);
    put32(r, at + 4, s.len);
}

fn count(n: usize) -> u32 {
    u32::try_from(n).expect("bundle tables are limited to u32 entries")
}

impl BundleWriter {
    /// An empty bundle.
    pub fn new() -> BundleWriter {
        BundleWriter::default()
    }

    fn string(&mut self, s: &str) -> StrRef {
        let r = StrRef {
            offset: count(self.strings.len()),
            len: count(s.len()),
        };
        self.strings.extend_from_slice(s.as_bytes());
        r
    }

    /// Bytes of images added so far (to decide batches).
    pub fn image_bytes(&self) -> usize {
        self.modules
            .iter()
            .map(|m| match m {
                ModuleEntry::Image(i) => i.len().next_multiple_of(IMAGE_ALIGN),
                ModuleEntry::HostError(_) => 0,
            })
            .sum()
    }

    /// Bytes [`BundleWriter::finish`] would produce now.
    pub fn encoded_len(&self) -> usize {
        use crate::format::{
            COMMAND_RECORD_LEN, FILE_RECORD_LEN, MODULE_RECORD_LEN, VALUE_RECORD_LEN,
        };
        let mut len = HEADER_LEN
            + self.files.len() * FILE_RECORD_LEN
            + self.commands.len() * COMMAND_RECORD_LEN
            + self.values.len() * VALUE_RECORD_LEN
            + self.modules.len() * MODULE_RECORD_LEN
            + self.strings.len();
        for m in &self.modules {
            if let ModuleEntry::Image(image) = m {
                len = len.next_multiple_of(IMAGE_ALIGN) + image.len();
            }
        }
        len
    }

    /// Starts a file; commands and modules added until [`BundleWriter::end_file`] are its own.
    pub fn begin_file(&mut self, name: &str) {
        assert!(self.open.is_none(), "begin_file inside a file");
        let name = self.string(name);
        self.open = Some((name, count(self.commands.len()), count(self.modules.len())));
    }

    /// Adds a compiled module; returns its index.
    pub fn module(&mut self, image: Vec<u8>) -> u32 {
        self.modules.push(ModuleEntry::Image(image));
        count(self.modules.len() - 1)
    }

    /// Adds a module the host compiler refused (every command using it fails with `error`).
    pub fn module_error(&mut self, error: &str) -> u32 {
        let e = self.string(error);
        self.modules.push(ModuleEntry::HostError(e));
        count(self.modules.len() - 1)
    }

    /// Modules added so far.
    pub fn modules_len(&self) -> u32 {
        count(self.modules.len())
    }

    fn values(&mut self, values: impl IntoIterator<Item = (ValueKind, u32, u64)>) -> Range {
        let first = count(self.values.len());
        for (kind, extra, bits) in values {
            let mut r = [0; crate::format::VALUE_RECORD_LEN];
            put32(&mut r, 0, kind as u32);
            put32(&mut r, 4, extra);
            r[8..16].copy_from_slice(&bits.to_le_bytes());
            self.values.push(r);
        }
        Range {
            first,
            count: count(self.values.len()) - first,
        }
    }

    /// Adds a command at `line` of the open file.
    pub fn command(&mut self, line: u32, command: &Command) {
        self.command_with(line, command, false);
    }

    /// Adds a setup command (`FLAG_SETUP`: not a case) at `line` of the open file.
    pub fn setup_command(&mut self, line: u32, command: &Command) {
        self.command_with(line, command, true);
    }

    fn command_with(&mut self, line: u32, command: &Command, setup: bool) {
        assert!(self.open.is_some(), "command outside a file");
        let mut r = [0u8; crate::format::COMMAND_RECORD_LEN];
        let slot = |s: Option<u32>| s.unwrap_or(CURRENT);
        let (kind, action) = match command {
            Command::BeginSegment { .. } => (CommandKind::BeginSegment, None),
            Command::Module { .. } => (CommandKind::Module, None),
            Command::Register { .. } => (CommandKind::Register, None),
            Command::Action(a) => (CommandKind::Action, Some(a)),
            Command::AssertReturn(a, _) => (CommandKind::AssertReturn, Some(a)),
            Command::AssertTrap(a, _) => (CommandKind::AssertTrap, Some(a)),
            Command::AssertExhaustion(a, _) => (CommandKind::AssertExhaustion, Some(a)),
            Command::AssertUnlinkable(..) => (CommandKind::AssertUnlinkable, None),
        };
        r[0] = kind as u8;
        r[2] = if setup { crate::format::FLAG_SETUP } else { 0 };
        put32(&mut r, 4, line);
        put32(&mut r, 8, CURRENT);
        match command {
            Command::BeginSegment { first, count } => {
                put32(&mut r, 4, 0);
                put32(&mut r, 12, *first);
                put32(&mut r, 16, *count);
            }
            Command::Module { module, slot } => {
                put32(&mut r, 8, slot.unwrap_or(NO_SLOT));
                put32(&mut r, 12, *module);
            }
            Command::Register { name, instance } => {
                put32(&mut r, 8, slot(*instance));
                let name = self.string(name);
                put_str(&mut r, 24, name);
            }
            Command::AssertUnlinkable(module, message) => {
                put32(&mut r, 12, *module);
                let message = self.string(message);
                put_str(&mut r, 32, message);
            }
            _ => {}
        }
        if let Some(action) = action {
            match action {
                Action::Invoke {
                    instance,
                    func,
                    args,
                } => {
                    r[1] = ActionKind::Invoke as u8;
                    put32(&mut r, 8, slot(*instance));
                    let name = self.string(func);
                    put_str(&mut r, 24, name);
                    let args = self.values(args.iter().map(|v| {
                        let (k, b) = v.record();
                        (k, 0, b)
                    }));
                    put_range(&mut r, 40, args);
                }
                Action::Get { instance, global } => {
                    r[1] = ActionKind::Get as u8;
                    put32(&mut r, 8, slot(*instance));
                    let name = self.string(global);
                    put_str(&mut r, 24, name);
                }
                Action::Instantiate(module) => {
                    r[1] = ActionKind::Instantiate as u8;
                    put32(&mut r, 12, *module);
                }
            }
        }
        match command {
            Command::AssertReturn(_, expected) => {
                let mut records = Vec::new();
                for e in expected {
                    match e {
                        ExpectedResult::One(e) => {
                            let (k, b) = e.record();
                            records.push((k, 0, b));
                        }
                        ExpectedResult::Either(options) => {
                            records.push((ValueKind::Either, count(options.len()), 0));
                            for o in options {
                                let (k, b) = o.record();
                                records.push((k, 0, b));
                            }
                        }
                    }
                }
                let range = self.values(records);
                put_range(&mut r, 48, range);
            }
            Command::AssertTrap(_, message) | Command::AssertExhaustion(_, message) => {
                let message = self.string(message);
                put_str(&mut r, 32, message);
            }
            _ => {}
        }
        self.commands.push(r);
    }

    /// Ends the open file with its host-side counts.
    pub fn end_file(&mut self, host: HostCounts) {
        let (name, first_command, first_module) =
            self.open.take().expect("end_file without a file");
        self.files.push(FileEntry {
            name,
            commands: Range {
                first: first_command,
                count: count(self.commands.len()) - first_command,
            },
            modules: Range {
                first: first_module,
                count: count(self.modules.len()) - first_module,
            },
            host,
        });
    }

    /// Files ended so far.
    pub fn files_len(&self) -> usize {
        self.files.len()
    }

    /// Commands added so far.
    pub fn commands_len(&self) -> usize {
        self.commands.len()
    }

    /// The bundle: batch `batch` of `batch_count`, images for `target` (header code), compiled
    /// with settings whose digest is `settings`.
    pub fn finish(self, batch: u16, batch_count: u16, target: u32, settings: u64) -> Vec<u8> {
        assert!(self.open.is_none(), "finish inside a file");
        use crate::format::{
            COMMAND_RECORD_LEN, FILE_RECORD_LEN, MODULE_RECORD_LEN, VALUE_RECORD_LEN,
        };
        let files_at = HEADER_LEN;
        let commands_at = files_at + self.files.len() * FILE_RECORD_LEN;
        let values_at = commands_at + self.commands.len() * COMMAND_RECORD_LEN;
        let modules_at = values_at + self.values.len() * VALUE_RECORD_LEN;
        let strings_at = modules_at + self.modules.len() * MODULE_RECORD_LEN;
        let mut out = Vec::with_capacity(strings_at + self.strings.len() + self.image_bytes() + 64);
        out.resize(strings_at, 0);
        out[..8].copy_from_slice(&MAGIC);
        put32(&mut out, 8, VERSION);
        put32(&mut out, 12, count(HEADER_LEN));
        put32(
            &mut out,
            24,
            u32::from(batch) | (u32::from(batch_count) << 16),
        );
        put32(&mut out, 28, target);
        put32(&mut out, 32, count(files_at));
        put32(&mut out, 36, count(self.files.len()));
        put32(&mut out, 40, count(commands_at));
        put32(&mut out, 44, count(self.commands.len()));
        put32(&mut out, 48, count(values_at));
        put32(&mut out, 52, count(self.values.len()));
        put32(&mut out, 56, count(modules_at));
        put32(&mut out, 60, count(self.modules.len()));
        put32(&mut out, 64, count(strings_at));
        put32(&mut out, 68, count(self.strings.len()));
        out[72..80].copy_from_slice(&settings.to_le_bytes());
        for (i, f) in self.files.iter().enumerate() {
            let r = &mut out[files_at + i * FILE_RECORD_LEN..][..FILE_RECORD_LEN];
            put_str(r, 0, f.name);
            put_range(r, 8, f.commands);
            put_range(r, 16, f.modules);
            put32(r, 24, f.host.passed);
            put32(r, 28, f.host.failed);
            put32(r, 32, f.host.text_only);
        }
        for (i, c) in self.commands.iter().enumerate() {
            out[commands_at + i * COMMAND_RECORD_LEN..][..COMMAND_RECORD_LEN].copy_from_slice(c);
        }
        for (i, v) in self.values.iter().enumerate() {
            out[values_at + i * VALUE_RECORD_LEN..][..VALUE_RECORD_LEN].copy_from_slice(v);
        }
        out.extend_from_slice(&self.strings);
        let mut module_records = Vec::with_capacity(self.modules.len());
        for m in &self.modules {
            let mut r = [0u8; MODULE_RECORD_LEN];
            match m {
                ModuleEntry::Image(image) => {
                    out.resize(out.len().next_multiple_of(IMAGE_ALIGN), 0);
                    put32(&mut r, 0, count(out.len()));
                    put32(&mut r, 4, count(image.len()));
                    out.extend_from_slice(image);
                }
                ModuleEntry::HostError(e) => {
                    put32(&mut r, 8, 1);
                    put_str(&mut r, 16, *e);
                }
            }
            module_records.push(r);
        }
        for (i, r) in module_records.iter().enumerate() {
            out[modules_at + i * MODULE_RECORD_LEN..][..MODULE_RECORD_LEN].copy_from_slice(r);
        }
        let total = count(out.len());
        put32(&mut out, 16, total);
        let checksum = fnv1a32(&out[HEADER_LEN..]);
        put32(&mut out, 20, checksum);
        out
    }
}
