//! End-to-end tests of the library pipeline: config, parse, compile, layout, image.

use host_compiler::image::inspect;
use host_compiler::{
    BoundsChecks, CompileError, Compiler, CompilerConfig, OptLevel, Target, wat_or_wasm,
};
use shared_types::ImageHeader;
use shared_types::metadata::{Metadata, NO_TRAMPOLINE};

const TARGETS: [Target; 2] = [Target::Aarch64, Target::X86_64Sim];

const SAMPLE: &str = r#"(module
    (type $binop (func (param i32 i32) (result i32)))
    (import "env" "log" (func $log (param i32)))
    (import "env" "add" (func $host_add (type $binop)))
    (memory (export "mem") 1)
    (table 2 funcref)
    (global $counter (mut i32) (i32.const 0))
    (func $add (export "add") (type $binop)
        local.get 0 local.get 1 i32.add)
    (func $div (export "div") (param i64 i64) (result i64)
        local.get 0 local.get 1 i64.div_s)
    (func $fib (export "fib") (param i32) (result i32)
        local.get 0 i32.const 2 i32.lt_u
        if (result i32) local.get 0
        else
            local.get 0 i32.const 1 i32.sub call $fib
            local.get 0 i32.const 2 i32.sub call $fib
            i32.add
        end)
    (func $internal (param i32) (result i32)
        local.get 0 call $log
        global.get $counter i32.const 1 i32.add global.set $counter
        local.get 0 i32.load offset=4
        local.get 0 local.get 0 call $host_add i32.add)
    (func $user (export "user") (param f64) (result i32)
        local.get 0 i32.trunc_f64_s
        call $internal)
    (elem (i32.const 0) $add $fib)
    (data (i32.const 16) "\01\02\03\04"))"#;

fn compile(target: Target, wat: &str) -> Result<host_compiler::CompiledImage, CompileError> {
    let wasm = wat_or_wasm(wat.as_bytes())?;
    Compiler::new(CompilerConfig::for_target(target))?.compile(&wasm)
}

#[test]
fn sample_compiles_for_both_targets_without_relocations() {
    for target in TARGETS {
        let image = compile(target, SAMPLE).unwrap_or_else(|e| panic!("{target}: {e}"));
        let stats = image.stats;
        assert_eq!(stats.relocations_left, 0);
        assert_eq!(stats.functions, 5);
        // add, div, fib, user are exported; add and fib are in the table.
        assert_eq!(stats.array_trampolines, 4);
        // Two imported function types: (i32) and (i32 i32) -> i32.
        assert_eq!(stats.wasm_to_array_trampolines, 2);
        // fib calls itself twice, user calls internal, and every trampoline calls its body.
        assert!(stats.relocations_resolved >= 3 + 4, "{stats:?}");

        let header = ImageHeader::parse(&image.bytes).unwrap();
        header.verify_digest(&image.bytes).unwrap();
        assert_eq!(header.target, target);
        assert!(header.producer().starts_with("host-compiler "));
        assert_eq!(header.text.0 % 64, 0);
        assert_eq!(header.text.1 as usize, stats.text_bytes);
        assert_eq!(header.metadata.1 as usize, stats.metadata_bytes);

        let meta = Metadata::decode(header.metadata_bytes(&image.bytes)).unwrap();
        meta.validate(header.text.1).unwrap();
        assert_eq!(meta.counts.num_imported_funcs, 2);
        assert_eq!(meta.functions.len(), 5);
        let functions: Vec<_> = meta.functions.iter().collect();
        // Bodies do not overlap and come in order.
        for pair in functions.windows(2) {
            assert!(pair[0].offset + pair[0].len <= pair[1].offset);
        }
        // $internal (index 5) does not escape.
        assert_eq!(functions[3].array_trampoline, NO_TRAMPOLINE);
        assert!(
            functions
                .iter()
                .enumerate()
                .all(|(i, f)| i == 3 || f.array_trampoline != NO_TRAMPOLINE)
        );
        // The trap table is sorted and holds at least the division traps of $div.
        let traps: Vec<_> = meta.traps.iter().collect();
        assert!(traps.windows(2).all(|w| w[0].offset < w[1].offset));
        let div = functions[1];
        assert!(
            traps
                .iter()
                .any(|t| t.offset >= div.offset && t.offset < div.offset + div.len && t.code == 8),
            "{target}: no divide-by-zero trap in $div: {traps:?}"
        );

        let summary = inspect(&image.bytes).unwrap();
        assert_eq!(summary.functions.len(), 5);
        assert_eq!(summary.relocations, 0);
        assert_eq!(summary.exports.len(), 5);
        assert!(summary.to_string().contains("functions (5)"));
        println!("{summary}");
    }
}

#[test]
fn config_errors() {
    // Guard-elided checks: accepted on the 64-bit targets, refused elsewhere and with a guard
    // that is not a multiple of 64 KiB.
    for target in [Target::Aarch64, Target::X86_64Sim] {
        let config = CompilerConfig::for_target(target).bounds_checks(BoundsChecks::GuardElided);
        let tunables = config.tunables();
        assert_eq!(tunables.bounds_checks, BoundsChecks::GuardElided);
        assert_eq!(tunables.guard_reservation, (4 << 30) + (64 << 10));
        Compiler::new(config).expect("guard-elided accepted");
    }
    assert_eq!(
        CompilerConfig::for_target(Target::Aarch64)
            .tunables()
            .guard_reservation,
        0
    );
    let err = Compiler::new(
        CompilerConfig::for_target(Target::CortexM4F).bounds_checks(BoundsChecks::GuardElided),
    )
    .unwrap_err();
    assert!(
        matches!(err, CompileError::Config(ref m) if m.contains("MMU")),
        "{err}"
    );
    let err = Compiler::new(
        CompilerConfig::for_target(Target::Aarch64)
            .bounds_checks(BoundsChecks::GuardElided)
            .guard_size(4096),
    )
    .unwrap_err();
    assert!(matches!(err, CompileError::Config(_)), "{err}");
    let err = Compiler::new(CompilerConfig::for_target(Target::X86_64Sim).threads(0)).unwrap_err();
    assert!(matches!(err, CompileError::Config(_)), "{err}");
    let c = Compiler::new(CompilerConfig::for_target(Target::X86_64Sim).opt_level(OptLevel::None))
        .unwrap();
    assert_eq!(c.target(), Target::X86_64Sim);
}

#[test]
fn wat_errors_and_malformed_binaries() {
    assert!(matches!(
        wat_or_wasm(b"(module (func"),
        Err(CompileError::Wat(_))
    ));
    let c = Compiler::new(CompilerConfig::for_target(Target::Aarch64)).unwrap();
    let err = c.compile(b"\0asm\x01\0\0\0\x05\x03\x01").unwrap_err();
    assert!(
        matches!(err, CompileError::Invalid { location, .. } if location.func_index.is_none()),
        "{err}"
    );
}

#[test]
fn type_error_in_a_body_names_the_function_and_offset() {
    // Functions 0 and 1 are imported; body 1 (function 3) adds an i64 to an i32.
    let wasm = wat::parse_str(
        r#"(module
            (import "a" "b" (func))
            (import "a" "c" (func))
            (func $ok (result i32) i32.const 1)
            (func $bad (result i32) i32.const 1 i64.const 2 i32.add)
            (func $ok2))"#,
    )
    .unwrap();
    // Offset of the `i32.add` (0x6a) in the second body: after `i32.const 1 i64.const 2`.
    let body = wasm
        .windows(5)
        .position(|w| w == [0x41, 0x01, 0x42, 0x02, 0x6a])
        .unwrap();
    let expected_offset = body + 4;
    for target in TARGETS {
        let c = Compiler::new(CompilerConfig::for_target(target)).unwrap();
        let err = c.compile(&wasm).unwrap_err();
        let CompileError::Invalid { location, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(location.func_index, Some(3), "{err}");
        assert_eq!(location.offset, expected_offset, "{err}");
    }
}

#[test]
fn malformed_operator_in_a_body_names_the_function_and_offset() {
    // The Thumb-2 backend decodes a body once, ahead of compiling it: a decode error must
    // still come out where the operator is, and only after the operators before it (a type
    // error there wins), as on the other backends.
    let compile_error = |wasm: &[u8], target| {
        let c = Compiler::new(CompilerConfig::for_target(target)).unwrap();
        let err = c.compile(wasm).unwrap_err();
        let CompileError::Invalid { location, .. } = &err else {
            panic!("{target}: {err}")
        };
        (location.func_index, location.offset)
    };
    let mut wasm =
        wat::parse_str("(module (func) (func i32.const 7 drop nop i32.const 8 drop))").unwrap();
    let nop = wasm
        .windows(4)
        .position(|w| w == [0x41, 0x07, 0x1a, 0x01])
        .unwrap()
        + 3;
    wasm[nop] = 0x27; // no operator has this opcode
    let targets = TARGETS
        .into_iter()
        .chain([Target::CortexM4F, Target::CortexM55]);
    for target in targets.clone() {
        assert_eq!(compile_error(&wasm, target), (Some(1), nop), "{target}");
    }
    // `i32.eqz` of an i64, then the undecodable byte.
    let mut wasm = wat::parse_str("(module (func i64.const 2 i32.eqz drop nop))").unwrap();
    let eqz = wasm
        .windows(5)
        .position(|w| w == [0x42, 0x02, 0x45, 0x1a, 0x01])
        .unwrap();
    wasm[eqz + 4] = 0x27;
    for target in targets {
        assert_eq!(compile_error(&wasm, target), (Some(0), eqz + 2), "{target}");
    }
}

#[test]
fn results_do_not_depend_on_threads() {
    let wasm = wat_or_wasm(SAMPLE.as_bytes()).unwrap();
    for target in TARGETS {
        let one = Compiler::new(CompilerConfig::for_target(target).threads(1))
            .unwrap()
            .compile(&wasm)
            .unwrap();
        let two = Compiler::new(CompilerConfig::for_target(target).threads(2))
            .unwrap()
            .compile(&wasm)
            .unwrap();
        assert_eq!(one.bytes, two.bytes, "{target}");
    }
}

#[test]
fn simd_validates_but_is_unsupported() {
    let wasm = wat::parse_str(
        r#"(module (func) (func (param i32) (result i32)
            local.get 0 i32x4.splat i32x4.extract_lane 1))"#,
    )
    .unwrap();
    for target in TARGETS {
        let err = Compiler::new(CompilerConfig::for_target(target))
            .unwrap()
            .compile(&wasm)
            .unwrap_err();
        let CompileError::Unsupported { location, .. } = &err else {
            panic!("{err}")
        };
        assert_eq!(location.func_index, Some(1), "{err}");
    }
}

#[test]
fn empty_module_compiles() {
    for target in TARGETS {
        let image = compile(target, "(module)").unwrap();
        assert_eq!(image.stats.functions, 0);
        let summary = inspect(&image.bytes).unwrap();
        assert_eq!(summary.header.text.1, 0);
    }
}

/// The Thumb-2 backend compiles its subset for every Cortex-M profile and refuses the rest with
/// an error naming the function, the operator's offset and the operator.
#[test]
fn cortex_m_compiles_the_thumb_subset_and_refuses_the_rest() {
    const SUBSET: &str = r#"(module
        (import "host" "log" (func $log (param i32)))
        (memory 1)
        (global $counter (mut i32) (i32.const 0))
        (func $fib (export "fib") (param i32) (result i32)
            local.get 0 i32.const 2 i32.lt_u
            if (result i32) local.get 0
            else
                local.get 0 i32.const 1 i32.sub call $fib
                local.get 0 i32.const 2 i32.sub call $fib i32.add
            end)
        (func (export "run") (param i32) (result i32)
            local.get 0 call $log
            global.get $counter i32.const 1 i32.add global.set $counter
            local.get 0 i32.load offset=4
            local.get 0 call $fib i32.add)
        (data (i32.const 16) "\01\02\03\04"))"#;
    for target in [
        Target::CortexM4F,
        Target::CortexM7,
        Target::CortexM33,
        Target::CortexM55,
    ] {
        let image = compile(target, SUBSET).unwrap_or_else(|e| panic!("{target}: {e}"));
        let stats = image.stats;
        assert_eq!(stats.relocations_left, 0);
        assert_eq!(
            (stats.functions, stats.array_trampolines),
            (2, 2),
            "{stats:?}"
        );
        assert_eq!(stats.wasm_to_array_trampolines, 1, "{stats:?}");
        // fib calls itself twice, run calls fib, each trampoline calls its body.
        assert_eq!(stats.relocations_resolved, 5, "{stats:?}");
        let summary = inspect(&image.bytes).unwrap();
        assert_eq!(summary.header.target, target);

        let wasm = wat_or_wasm(
            br#"(module (func (param i32) (result i32) local.get 0)
                (func (param i32) (result i32) local.get 0 i32x4.splat i32x4.extract_lane 1))"#,
        )
        .unwrap();
        let err = Compiler::new(CompilerConfig::for_target(target))
            .unwrap()
            .compile(&wasm)
            .unwrap_err();
        let CompileError::Unsupported { location, feature } = &err else {
            panic!("{target}: {err}")
        };
        assert_eq!(location.func_index, Some(1), "{err}");
        assert!(location.offset > 0, "{err}");
        assert!(feature.contains("Thumb-2"), "{err}");
    }
}
