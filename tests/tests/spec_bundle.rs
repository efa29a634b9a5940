//! Spec bundles: the generator's counts agree with the harness, the format round-trips, and no
//! truncated or corrupted bundle makes the decoder panic (every case is `Err` or a readable
//! record). Executing bundles needs AArch64: `boards/qemu-virt-aarch64/spec-bundle.sh` runs them
//! on the board and under qemu-aarch64 user mode.

use spec_bundle::Bundle;
use spec_bundle::encode::{Action, BundleWriter, Command, ExpectedResult, HostCounts};
use spec_bundle::format::{
    ActionKind, CURRENT, CommandKind, Expected, FormatError, HEADER_LEN, ModuleRecord, Value,
    ValueKind,
};

/// A buffer at a 64-byte aligned address holding `bytes`.
fn aligned(bytes: &[u8]) -> (Vec<u8>, usize) {
    let mut buffer = vec![0u8; bytes.len() + 64];
    let offset = buffer.as_ptr().align_offset(64);
    buffer[offset..offset + bytes.len()].copy_from_slice(bytes);
    (buffer, offset)
}

/// Reads every record of a bundle; returns the first error.
fn read_all(bundle: &Bundle<'_>) -> Result<usize, FormatError> {
    let mut n = 0;
    for i in 0..bundle.file_count() {
        let f = bundle.file(i)?;
        for c in f.commands.indices() {
            let c = bundle.command(c)?;
            for v in c.args.indices().chain(c.expected.indices()) {
                bundle.value(v)?;
            }
            n += 1;
        }
        for m in f.modules.indices() {
            bundle.module(m)?;
        }
    }
    Ok(n)
}

/// Setup commands of a bundle (not cases).
fn setup(bundle: &Bundle<'_>) -> usize {
    (0..bundle.command_count())
        .filter(|&i| bundle.command(i).unwrap().setup)
        .count()
}

fn sample() -> Vec<u8> {
    let mut w = BundleWriter::new();
    w.begin_file("a.wast");
    let m0 = w.module(vec![7u8; 100]);
    let m1 = w.module_error("refused: no");
    w.command(
        0,
        &Command::BeginSegment {
            first: m0,
            count: 2,
        },
    );
    w.command(
        3,
        &Command::Module {
            module: m0,
            slot: Some(0),
        },
    );
    w.command(
        4,
        &Command::Register {
            name: "M".into(),
            instance: Some(0),
        },
    );
    w.command(
        5,
        &Command::AssertReturn(
            Action::Invoke {
                instance: None,
                func: "f".into(),
                args: vec![
                    Value::I32(-1),
                    Value::F64(0x7ff8_0000_0000_0001),
                    Value::ExternRef(3),
                ],
            },
            vec![
                ExpectedResult::One(Expected::F32ArithmeticNan),
                ExpectedResult::Either(vec![Expected::Exact(Value::I64(-2)), Expected::RefNullAny]),
            ],
        ),
    );
    w.command(
        6,
        &Command::AssertTrap(Action::Instantiate(m1), "unreachable".into()),
    );
    w.end_file(HostCounts {
        passed: 4,
        failed: 1,
        text_only: 2,
    });
    w.finish(0, 1, 1, 0x1234_5678_9abc_def0)
}

#[test]
fn round_trip() {
    let bytes = sample();
    let (buffer, offset) = aligned(&bytes);
    let b = Bundle::parse(&buffer[offset..offset + bytes.len()]).expect("valid bundle");
    assert_eq!((b.batch, b.batch_count, b.target), (0, 1, 1));
    assert_eq!(b.settings, 0x1234_5678_9abc_def0);
    assert_eq!(
        (b.file_count(), b.command_count(), b.module_count()),
        (1, 5, 2)
    );
    let f = b.file(0).unwrap();
    assert_eq!(f.name, "a.wast");
    assert_eq!((f.host_passed, f.host_failed, f.host_text_only), (4, 1, 2));
    let ModuleRecord::Image(image) = b.module(0).unwrap() else {
        panic!("image expected")
    };
    assert_eq!(image, &[7u8; 100][..]);
    assert_eq!(
        (image.as_ptr() as usize) % 64,
        0,
        "images are 64-byte aligned"
    );
    assert_eq!(b.module(1).unwrap(), ModuleRecord::HostError("refused: no"));
    let seg = b.command(0).unwrap();
    assert_eq!(
        (seg.kind, seg.module, seg.module_count),
        (CommandKind::BeginSegment, 0, 2)
    );
    let m = b.command(1).unwrap();
    assert_eq!(
        (m.kind, m.line, m.module, m.instance),
        (CommandKind::Module, 3, 0, 0)
    );
    let r = b.command(2).unwrap();
    assert_eq!(
        (r.kind, r.name, r.instance),
        (CommandKind::Register, "M", 0)
    );
    let a = b.command(3).unwrap();
    assert_eq!(
        (a.kind, a.action, a.name, a.instance),
        (CommandKind::AssertReturn, ActionKind::Invoke, "f", CURRENT)
    );
    let args: Vec<Value> = a
        .args
        .indices()
        .map(|i| b.value(i).unwrap().value().unwrap())
        .collect();
    assert_eq!(
        args,
        [
            Value::I32(-1),
            Value::F64(0x7ff8_0000_0000_0001),
            Value::ExternRef(3)
        ]
    );
    let kinds: Vec<ValueKind> = a
        .expected
        .indices()
        .map(|i| b.value(i).unwrap().kind)
        .collect();
    assert_eq!(
        kinds,
        [
            ValueKind::F32ArithmeticNan,
            ValueKind::Either,
            ValueKind::I64,
            ValueKind::RefNullAny
        ]
    );
    assert_eq!(b.value(a.expected.first + 1).unwrap().extra, 2);
    let t = b.command(4).unwrap();
    assert_eq!(
        (t.kind, t.action, t.module, t.message),
        (
            CommandKind::AssertTrap,
            ActionKind::Instantiate,
            1,
            "unreachable"
        )
    );
    assert_eq!(
        read_all(&b),
        Ok(5),
        "every command, the segment marker included"
    );
}

#[test]
fn truncated_and_corrupted_bundles_are_errors() {
    let bytes = sample();
    for len in 0..bytes.len() {
        let (buffer, offset) = aligned(&bytes[..len]);
        let r = Bundle::parse(&buffer[offset..offset + len]);
        assert!(
            matches!(r, Err(FormatError::Truncated { .. })),
            "prefix of {len} bytes: {r:?}"
        );
    }
    // Any flipped byte past the header breaks the checksum.
    for at in HEADER_LEN..bytes.len() {
        let mut bad = bytes.clone();
        bad[at] ^= 0x41;
        let (buffer, offset) = aligned(&bad);
        let r = Bundle::parse(&buffer[offset..offset + bad.len()]);
        assert!(
            matches!(r, Err(FormatError::Checksum { .. })),
            "byte {at}: {r:?}"
        );
    }
    // With the checksum re-sealed, every corruption decodes to an error or to records, never a
    // panic: offsets, lengths, kinds and ranges are all checked.
    for at in 0..bytes.len() {
        for flip in [0x01u8, 0x80, 0xff] {
            let mut bad = bytes.clone();
            bad[at] ^= flip;
            if at >= HEADER_LEN || !(16..24).contains(&at) {
                let checksum = spec_bundle::format::fnv1a32(&bad[HEADER_LEN..]);
                bad[20..24].copy_from_slice(&checksum.to_le_bytes());
            }
            let (buffer, offset) = aligned(&bad);
            if let Ok(b) = Bundle::parse(&buffer[offset..offset + bad.len()]) {
                let _ = read_all(&b);
            }
        }
    }
    // Misplaced in memory: refused, not read unaligned.
    let mut buffer = vec![0u8; bytes.len() + 65];
    let offset = buffer.as_ptr().align_offset(64) + 1;
    buffer[offset..offset + bytes.len()].copy_from_slice(&bytes);
    assert_eq!(
        Bundle::parse(&buffer[offset..offset + bytes.len()]).err(),
        Some(FormatError::Misaligned)
    );
}

#[test]
fn generated_cases_match_the_harness_count() {
    // Small files with modules, registrations, traps and host-side cases.
    let files: Vec<_> = tests::spec_runner::spec_files()
        .into_iter()
        .filter(|(n, _)| ["linking.wast", "i32.wast", "binary.wast"].contains(&n.as_str()))
        .collect();
    assert_eq!(files.len(), 3);
    let generated = tests::bundle::generate(&files, tests::bundle::MAX_BUNDLE_BYTES, 2).unwrap();
    assert!(
        generated.host_failures.is_empty(),
        "{:?}",
        generated.host_failures
    );
    // One case per directive, as the harness counts them.
    let mut directives = 0;
    for (_, contents) in &files {
        let buf = wast::parser::ParseBuffer::new(contents).unwrap();
        directives += wast::parser::parse::<wast::Wast>(&buf)
            .unwrap()
            .directives
            .len();
    }
    assert_eq!(generated.board_cases + generated.host_cases, directives);
    assert_eq!(generated.bundles.len(), 1);
    let bytes = &generated.bundles[0];
    let (buffer, offset) = aligned(bytes);
    let b = Bundle::parse(&buffer[offset..offset + bytes.len()]).unwrap();
    assert_eq!(
        read_all(&b).unwrap(),
        generated.board_cases + generated.segments + setup(&b)
    );
    // linking.wast registers modules that later segments re-create.
    assert!(setup(&b) > 0);
}

/// The files whose segments need the planner's cuts, replays and table model.
const PLANNER_FILES: [&str; 6] = [
    "linking.wast",
    "imports.wast",
    "elem.wast",
    "table_copy.wast",
    "data.wast",
    "memory_grow.wast",
];

fn native_bundle(names: &[&str]) -> (Vec<u8>, tests::bundle::Generated) {
    let files: Vec<_> = tests::spec_runner::spec_files()
        .into_iter()
        .filter(|(n, _)| names.contains(&n.as_str()))
        .collect();
    assert_eq!(files.len(), names.len());
    let config = host_compiler::CompilerConfig::for_target(tests::native_target());
    let mut generated =
        tests::bundle::generate_with(config, &files, tests::bundle::MAX_BUNDLE_BYTES, 2).unwrap();
    assert!(generated.oversized_segments.is_empty());
    (generated.bundles.remove(0), generated)
}

/// The executor, hosted on the native target with the hosted spec test's engine: every case of
/// the files that need segment cuts, replays and the table model passes, as in the spec test.
#[test]
fn planned_segments_pass_like_the_spec_test() {
    let (bytes, generated) = native_bundle(&PLANNER_FILES);
    let (buffer, offset) = aligned(&bytes);
    let b = Bundle::parse(&buffer[offset..offset + bytes.len()]).unwrap();
    let engine = device_runtime::Engine::default();
    let executor = spec_bundle::Executor::new(&engine);
    let mut out = String::new();
    let mut totals = spec_bundle::report::Totals::default();
    for i in 0..b.file_count() {
        spec_bundle::report::run_file(&executor, &b, i, &mut out, &mut totals);
    }
    assert!(totals.all_passed(), "{out}");
    assert_eq!(totals.passed as usize, generated.board_cases);
    assert!(setup(&b) > 0 && generated.segments > PLANNER_FILES.len());
}

/// A command the bundle encodes badly fails that case with a clear error; the others run.
#[test]
fn a_bad_command_fails_its_case_only() {
    let (mut bytes, _) = native_bundle(&["i32.wast"]);
    let (buffer, offset) = aligned(&bytes);
    let b = Bundle::parse(&buffer[offset..offset + bytes.len()]).unwrap();
    // The last command: an assertion. Give it an undefined kind and re-seal the checksum.
    let last = b.command_count() - 1;
    let commands_at = u32::from_le_bytes(bytes[40..44].try_into().unwrap()) as usize;
    bytes[commands_at + last as usize * 56] = 0xee;
    let checksum = spec_bundle::format::fnv1a32(&bytes[HEADER_LEN..]);
    bytes[20..24].copy_from_slice(&checksum.to_le_bytes());
    let (buffer, offset) = aligned(&bytes);
    let b = Bundle::parse(&buffer[offset..offset + bytes.len()]).unwrap();
    let engine = device_runtime::Engine::default();
    let executor = spec_bundle::Executor::new(&engine);
    let mut out = String::new();
    let mut totals = spec_bundle::report::Totals::default();
    spec_bundle::report::run_file(&executor, &b, 0, &mut out, &mut totals);
    assert_eq!(totals.failed, 1, "{out}");
    assert!(
        out.contains("FAIL i32.wast:0 bad bundle command: bad command kind"),
        "{out}"
    );
    assert!(totals.passed > 300);
}
