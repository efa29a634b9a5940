//! The text both runners print (the board firmware and the hosted runner), produced by one
//! function so that the two outputs can be compared byte for byte.
//!
//! ```text
//! spec-bundle: batch 1/1, 95 files, 24000 commands, 2100 modules, 30000000 bytes, settings 0123456789abcdef
//! FAIL memory_grow.wast:42 result 0: expected i32:3, got i32:-1
//! file memory_grow.wast: board 80 passed 1 failed, host 12 passed 0 failed, 3 segments, digest 0123456789abcdef
//! spec-bundle: batch 1/1 total: board 24000 passed 0 failed (2 trap-message mismatches), host 4000 passed 0 failed
//! ```
//!
//! The per-file digest is FNV-1a (64-bit) over `"{ordinal} {line} {outcome}\n"` of every case in
//! order, with the outcome as [`Outcome`]'s `Display` prints it (`pass`, `pass (trap message:
//! ...)`, `FAIL reason`): equal digests mean identical per-case outcomes, failure texts
//! included.

use core::fmt::{self, Write};

use crate::exec::{Executor, FileCounts, Outcome};
use crate::format::{Bundle, CommandKind, FileRecord, Fnv64};

/// Totals of a batch.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// Board cases passed.
    pub passed: u64,
    /// Board cases failed.
    pub failed: u64,
    /// Of `passed`: trap-message mismatches.
    pub message_mismatches: u64,
    /// Host-side cases passed.
    pub host_passed: u64,
    /// Host-side cases failed.
    pub host_failed: u64,
    /// Files whose record could not be read.
    pub bad_files: u64,
}

impl Totals {
    /// Whether every case (board and host) passed and every file was readable.
    pub fn all_passed(&self) -> bool {
        self.failed == 0 && self.host_failed == 0 && self.bad_files == 0
    }
}

/// Prints the engine limits that decide resource-dependent results (first line of a run).
pub fn print_engine(out: &mut dyn Write, config: &device_runtime::EngineConfig) -> fmt::Result {
    writeln!(
        out,
        "spec-bundle: engine memory_reservation={} memory_guard={} max_wasm_stack={} store_arena_size={}",
        config.memory_reservation,
        config.memory_guard,
        config.max_wasm_stack,
        config.store_arena_size
    )
}

/// Prints the bundle's first line.
pub fn print_header(out: &mut dyn Write, bundle: &Bundle<'_>) -> fmt::Result {
    writeln!(
        out,
        "spec-bundle: batch {}/{}, {} files, {} commands, {} modules, {} bytes, settings {:016x}",
        u32::from(bundle.batch) + 1,
        bundle.batch_count,
        bundle.file_count(),
        bundle.command_count(),
        bundle.module_count(),
        bundle.len(),
        bundle.settings
    )
}

/// Runs file `index` of `bundle`, printing each failing case and the file's summary line, and
/// adds its counts to `totals`. A file record that cannot be read is printed as `BAD FILE` and
/// counted in [`Totals::bad_files`] (`None`).
pub fn run_file<'b>(
    executor: &Executor<'_>,
    bundle: &Bundle<'b>,
    index: u32,
    out: &mut dyn Write,
    totals: &mut Totals,
) -> Option<(FileRecord<'b>, FileCounts)> {
    let file = match bundle.file(index) {
        Ok(f) => f,
        Err(e) => {
            let _ = writeln!(out, "BAD FILE {index}: {e}");
            totals.bad_files += 1;
            return None;
        }
    };
    let mut digest = Fnv64::default();
    let mut ordinal = 0u32;
    let counts = executor.run_file(bundle, &file, &mut |line: u32, outcome: &Outcome<'b>| {
        let _ = writeln!(digest, "{ordinal} {line} {outcome}");
        ordinal += 1;
        if let Outcome::Fail(why) = outcome {
            let _ = writeln!(out, "FAIL {}:{line} {why}", file.name);
        }
    });
    let _ = writeln!(
        out,
        "file {}: board {} passed {} failed, host {} passed {} failed, {} segments, digest {:016x}",
        file.name,
        counts.passed,
        counts.failed,
        file.host_passed,
        file.host_failed,
        counts.segments,
        digest.0
    );
    // Every case command must have produced exactly one outcome.
    let cases = file
        .commands
        .indices()
        .filter(|&c| {
            bundle
                .command(c)
                .map_or(true, |c| !c.setup && c.kind != CommandKind::BeginSegment)
        })
        .count();
    if cases != (counts.passed + counts.failed) as usize {
        let _ = writeln!(
            out,
            "BAD FILE {}: {cases} cases, {} outcomes",
            file.name,
            counts.passed + counts.failed
        );
        totals.bad_files += 1;
    }
    totals.passed += u64::from(counts.passed);
    totals.failed += u64::from(counts.failed);
    totals.message_mismatches += u64::from(counts.message_mismatches);
    totals.host_passed += u64::from(file.host_passed);
    totals.host_failed += u64::from(file.host_failed);
    Some((file, counts))
}

/// Prints the batch's last line.
pub fn print_totals(out: &mut dyn Write, bundle: &Bundle<'_>, totals: &Totals) -> fmt::Result {
    writeln!(
        out,
        "spec-bundle: batch {}/{} total: board {} passed {} failed ({} trap-message mismatches), host {} passed {} failed{}",
        u32::from(bundle.batch) + 1,
        bundle.batch_count,
        totals.passed,
        totals.failed,
        totals.message_mismatches,
        totals.host_passed,
        totals.host_failed,
        if totals.bad_files > 0 {
            ", UNREADABLE FILES"
        } else {
            ""
        }
    )
}
