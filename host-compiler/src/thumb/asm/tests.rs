//! Behaviour the golden table cannot show: immediate encoders against the architecture's
//! expansion functions, range errors, the literal pool, IT-block rules, profiles, `finish`.

use shared_types::Target;

use super::{
    Addr, AsmError, Assembler, Cond, FReg, Flags, Label, Profile, Reg, RegList, Width,
    modified_immediate, vfp_immediate,
};
use crate::link::Symbol;

fn m4f() -> Assembler {
    Assembler::new(Profile::for_target(Target::CortexM4F).unwrap())
}

fn halfword(code: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([code[at], code[at + 1]])
}

/// `ThumbExpandImm` of the ARMv7-M Architecture Reference Manual (A5.3.2).
fn thumb_expand_imm(imm12: u16) -> u32 {
    let imm8 = (imm12 & 0xFF) as u32;
    if imm12 >> 10 == 0 {
        match (imm12 >> 8) & 3 {
            0 => imm8,
            1 => imm8 << 16 | imm8,
            2 => imm8 << 24 | imm8 << 8,
            _ => imm8 * 0x0101_0101,
        }
    } else {
        let unrotated = 0x80 | (imm12 & 0x7F) as u32;
        unrotated.rotate_right((imm12 >> 7) as u32)
    }
}

#[test]
fn modified_immediates_round_trip_through_the_architectural_expansion() {
    let mut encodable = std::collections::HashSet::new();
    for imm12 in 0..4096u16 {
        // Patterns 1..3 with a zero byte are UNPREDICTABLE encodings.
        if imm12 >> 10 == 0 && (imm12 >> 8) & 3 != 0 && imm12 & 0xFF == 0 {
            continue;
        }
        let value = thumb_expand_imm(imm12);
        encodable.insert(value);
        let encoded = modified_immediate(value).expect("encodable value refused");
        assert_eq!(thumb_expand_imm(encoded), value, "{imm12:#x}");
    }
    // Values outside the set are refused; sample around every encodable value.
    for &v in &encodable {
        for probe in [v.wrapping_add(1), v ^ 0x0100_0001, v.rotate_left(3) | 1] {
            assert_eq!(
                modified_immediate(probe).is_some(),
                encodable.contains(&probe),
                "{probe:#x}"
            );
        }
    }
}

/// `VFPExpandImm` (A6.4.1) for 32- and 64-bit values.
fn vfp_expand_imm(imm8: u8, double: bool) -> u64 {
    let a = (imm8 >> 7) as u64;
    let b = ((imm8 >> 6) & 1) as u64;
    let cdefgh = (imm8 & 0x3F) as u64;
    if double {
        let exponent = ((b ^ 1) << 10) | (if b == 1 { 0xFF << 2 } else { 0 }) | (cdefgh >> 4);
        a << 63 | exponent << 52 | (cdefgh & 0xF) << 48
    } else {
        let exponent = ((b ^ 1) << 7) | (if b == 1 { 0x1F << 2 } else { 0 }) | (cdefgh >> 4);
        a << 31 | exponent << 23 | (cdefgh & 0xF) << 19
    }
}

#[test]
fn vfp_immediates_round_trip_through_the_architectural_expansion() {
    for double in [false, true] {
        for imm8 in 0..=255u8 {
            let bits = vfp_expand_imm(imm8, double);
            assert_eq!(
                vfp_immediate(bits, double),
                Some(imm8),
                "{imm8:#x} {double}"
            );
            assert_eq!(vfp_immediate(bits | 1, double), None);
        }
    }
    assert_eq!(vfp_immediate(1.0f32.to_bits() as u64, false), Some(0x70));
    assert_eq!(vfp_immediate(0.1f64.to_bits(), true), None);
    assert_eq!(vfp_immediate(0f32.to_bits() as u64, false), None);
    assert_eq!(vfp_immediate(32.0f64.to_bits(), true), None);
}

#[test]
fn backward_branches_take_the_narrowest_form_that_reaches() {
    for (nops, cond, size) in [
        (0, Cond::Al, 2),
        (1022, Cond::Al, 2),
        (1023, Cond::Al, 4),
        (126, Cond::Ne, 2),
        (127, Cond::Ne, 4),
    ] {
        let mut a = m4f();
        let l = a.new_label();
        a.bind(l).unwrap();
        for _ in 0..nops {
            a.nop().unwrap();
        }
        let before = a.offset();
        a.b(cond, l).unwrap();
        assert_eq!(a.offset() - before, size, "{nops} {cond:?}");
    }
}

#[test]
fn a_near_branch_bound_out_of_reach_is_an_error() {
    let mut a = m4f();
    let l = a.new_label();
    a.b_near(Cond::Eq, l).unwrap();
    for _ in 0..128 {
        a.nop().unwrap();
    }
    // Label at 258, distance 254: still in reach.
    let mut ok = a.clone();
    ok.bind(l).unwrap();
    a.nop().unwrap();
    let err = a.bind(l).unwrap_err();
    assert!(
        matches!(
            err,
            AsmError::OutOfRange {
                distance: 256,
                max: 254,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_wide_conditional_branch_reaches_one_mebibyte() {
    let mut a = m4f();
    let l = a.new_label();
    a.b(Cond::Lo, l).unwrap();
    // Target at 4 + 2 * n; displacement 2 * n.
    for _ in 0..(1 << 19) - 1 {
        a.nop().unwrap();
    }
    let mut ok = a.clone();
    ok.bind(l).unwrap();
    let code = ok.finish().unwrap().code;
    // Displacement 0xFFFFE: S=0, J2=J1=1, imm6 = 0x3F, imm11 = 0x7FF.
    assert_eq!((halfword(&code, 0), halfword(&code, 2)), (0xF0FF, 0xAFFF));
    a.nop().unwrap();
    let err = a.bind(l).unwrap_err();
    assert!(matches!(err, AsmError::OutOfRange { .. }), "{err}");
}

#[test]
fn compare_and_branch_is_forward_only_and_short() {
    let mut a = m4f();
    let back = a.new_label();
    a.bind(back).unwrap();
    assert!(matches!(
        a.cbz(false, Reg::R0, back),
        Err(AsmError::OutOfRange { .. })
    ));
    let l = a.new_label();
    a.cbz(true, Reg::R1, l).unwrap();
    assert!(matches!(
        a.cbz(false, Reg::R8, l),
        Err(AsmError::Operand { .. })
    ));
    for _ in 0..64 {
        a.nop().unwrap();
    }
    // Label at 130: distance 126, the farthest.
    let mut ok = a.clone();
    ok.bind(l).unwrap();
    a.nop().unwrap();
    assert!(matches!(a.bind(l), Err(AsmError::OutOfRange { .. })));
}

#[test]
fn adr_out_of_reach_is_an_error() {
    let mut a = m4f();
    let l = a.new_label();
    a.adr(Reg::R0, l).unwrap();
    for _ in 0..2046 {
        a.nop().unwrap();
    }
    // Align(PC, 4) = 4; the label at 4 + 4092 = 4096 is 4092 away.
    let mut ok = a.clone();
    ok.bind(l).unwrap();
    a.nop().unwrap();
    a.nop().unwrap();
    assert!(matches!(a.bind(l), Err(AsmError::OutOfRange { .. })));
}

#[test]
fn labels_are_bound_once_and_must_be_bound() {
    let mut a = m4f();
    let l = a.new_label();
    a.bind(l).unwrap();
    assert_eq!(a.bind(l), Err(AsmError::LabelBoundTwice(0)));
    let unbound = a.new_label();
    a.b(Cond::Al, unbound).unwrap();
    assert_eq!(a.finish().unwrap_err(), AsmError::UnboundLabel(1));
    let mut a = m4f();
    assert_eq!(a.b(Cond::Al, Label(7)), Err(AsmError::UnboundLabel(7)));
}

#[test]
fn immediate_forms_refuse_what_no_encoding_holds() {
    let mut a = m4f();
    a.set_scratch(None);
    // Needs a scratch register: rd is also the source.
    assert!(matches!(
        a.add(Flags::Preserve, Reg::R1, Reg::R1, 0x1234_5678),
        Err(AsmError::Operand { .. })
    ));
    // rd is free: no scratch needed.
    a.add(Flags::Preserve, Reg::R0, Reg::R1, 0x1234_5678)
        .unwrap();
    assert!(a.cmp(Reg::R0, 0x1234_5678).is_err());
    assert!(a.mov(Flags::Set, Reg::R0, 0x1234_5678).is_err());
    assert!(
        a.ldr(Width::W32, Reg::R0, Addr::PreIndex(Reg::R1, 256))
            .is_err()
    );
    assert!(a.ldrd(Reg::R0, Reg::R1, Addr::Offset(Reg::R2, 2)).is_err());
    assert!(a.vldr(FReg::S(0), Reg::R0, 2).is_err());
    assert!(a.str(Width::S8, Reg::R0, Addr::Offset(Reg::R1, 0)).is_err());
    assert!(
        a.shift(
            super::ShiftKind::Ror,
            Flags::Any,
            Reg::R0,
            Reg::R1,
            super::Operand::Imm(32)
        )
        .is_err()
    );
    assert!(a.sxtb(Reg::R0, Reg::R1, 4).is_err());
    assert!(a.push(RegList::default()).is_err());
    assert!(a.push(RegList::of(&[Reg::R0, Reg::SP])).is_err());
    assert!(a.pop(RegList::of(&[Reg::LR, Reg::PC, Reg::R8])).is_err());
    assert!(a.vpush(FReg::D(10), 7).is_err());
    assert!(a.vmov_imm(FReg::S(0), 0.1f32.to_bits() as u64).is_err());
    assert!(a.mul(Flags::Set, Reg::R8, Reg::R8, Reg::R1).is_err());
    // The scratch register as an operand of a fallback that needs it.
    let mut a = m4f();
    assert!(matches!(
        a.cmp(Reg::R12, 0x1234_5678),
        Err(AsmError::Operand { .. })
    ));
}

#[test]
fn profiles_refuse_what_the_core_lacks() {
    use FReg::{D, S};
    let target_of = |t| Assembler::new(Profile::for_target(t).unwrap());
    for t in [Target::CortexM4F, Target::CortexM33] {
        let mut a = target_of(t);
        let err = a.vadd(D(0), D(1), D(2)).unwrap_err();
        assert_eq!(
            err,
            AsmError::NotOnProfile {
                instruction: "vadd",
                target: t
            }
        );
        assert!(a.vcvt_float(D(0), S(0)).is_err());
        assert!(a.vcvt_to_int(true, S(0), D(1)).is_err());
        // Transfers of d registers exist everywhere.
        a.vldr(D(0), Reg::R0, 8).unwrap();
        a.vmov_from_d(Reg::R0, Reg::R1, D(0)).unwrap();
    }
    let mut a = target_of(Target::CortexM4F);
    assert!(matches!(
        a.vrint(super::Rounding::Zero, S(0), S(1)),
        Err(AsmError::NotOnProfile { .. })
    ));
    let mut a = target_of(Target::CortexM33);
    a.vrint(super::Rounding::Zero, S(0), S(1)).unwrap();
    assert!(a.vrint(super::Rounding::Zero, D(0), D(1)).is_err());
    for t in [Target::CortexM7, Target::CortexM55] {
        let mut a = target_of(t);
        a.vdiv(D(0), D(1), D(2)).unwrap();
        a.vrint(super::Rounding::MinusInfinity, D(0), D(1)).unwrap();
    }
    assert!(Profile::for_target(Target::Aarch64).is_none());
    // Registers that do not exist.
    let mut a = target_of(Target::CortexM7);
    assert!(a.vadd(S(32), S(0), S(0)).is_err());
    assert!(a.vadd(D(16), D(0), D(0)).is_err());
}

#[test]
fn it_blocks_choose_non_flag_setting_narrow_forms_and_reject_misuse() {
    let mut a = m4f();
    a.it(Cond::Eq, &[false]).unwrap();
    assert!(a.in_it_block());
    // Inside the block the narrow form preserves the flags.
    a.add(Flags::Preserve, Reg::R0, Reg::R0, 1).unwrap();
    // ... so a flag-setting one must be wide.
    a.add(Flags::Set, Reg::R1, Reg::R1, 1).unwrap();
    assert!(!a.in_it_block());
    let code = a.finish_for_test();
    assert_eq!(code.len(), 2 + 2 + 4);

    let mut a = m4f();
    a.it(Cond::Ne, &[true]).unwrap();
    let l = a.new_label();
    assert_eq!(
        a.b(Cond::Al, l),
        Err(AsmError::ItBlock("a branch must be the last instruction"))
    );
    assert!(a.it(Cond::Eq, &[]).is_err());
    assert!(a.cbz(false, Reg::R0, l).is_err());
    assert!(a.bind(l).is_err());
    a.nop().unwrap();
    assert!(a.b(Cond::Eq, l).is_err());
    assert!(a.vmaxnm(FReg::S(0), FReg::S(1), FReg::S(2)).is_err());
    a.nop().unwrap();
    assert!(!a.in_it_block());
    assert!(a.it(Cond::Al, &[false]).is_err());
    assert!(a.it(Cond::Eq, &[true, true, true, true]).is_err());
    a.it(Cond::Eq, &[]).unwrap();
    assert!(matches!(a.finish(), Err(AsmError::ItBlock(_))));
}

impl Assembler {
    fn finish_for_test(self) -> Vec<u8> {
        self.finish().unwrap().code
    }
}

/// The text offset a PC-relative literal load at `at` reads, and its size (2 or 4).
fn literal_target(code: &[u8], at: usize) -> (usize, usize) {
    let hw1 = halfword(code, at);
    let base = (at + 4) & !3;
    if hw1 & 0xF800 == 0x4800 {
        return (base + 4 * (hw1 & 0xFF) as usize, 2);
    }
    let hw2 = halfword(code, at + 2);
    let up = hw1 & 0x80 != 0;
    let magnitude = match hw1 & 0xFF7F {
        0xF85F => (hw2 & 0xFFF) as usize,
        0xE95F => 4 * (hw2 & 0xFF) as usize,
        _ if hw1 & 0xFF3F == 0xED1F => 4 * (hw2 & 0xFF) as usize,
        _ => panic!("not a literal load at {at}: {hw1:#x} {hw2:#x}"),
    };
    (
        if up {
            base + magnitude
        } else {
            base - magnitude
        },
        4,
    )
}

fn word(code: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(code[at..at + 4].try_into().unwrap())
}

#[test]
fn literals_are_deduplicated_and_placed_after_the_function() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 0xDEAD_BEEF).unwrap();
    let first = a.last_instruction_offset() as usize;
    a.ldr_literal(Reg::R9, 0xDEAD_BEEF).unwrap();
    let second = a.last_instruction_offset() as usize;
    a.ldrd_literal(Reg::R2, Reg::R3, 0x0123_4567_89AB_CDEF)
        .unwrap();
    let dual = a.last_instruction_offset() as usize;
    a.vldr_literal(FReg::D(1), 1.5f64.to_bits()).unwrap();
    let double = a.last_instruction_offset() as usize;
    a.vldr_literal(FReg::S(3), 2.5f32.to_bits() as u64).unwrap();
    let single = a.last_instruction_offset() as usize;
    a.bx(Reg::LR).unwrap();
    let end = a.offset() as usize;
    let out = a.finish().unwrap();
    let code = &out.code;
    assert_eq!((first, second), (0, 2), "narrow, then wide for r9");
    let (t0, _) = literal_target(code, first);
    let (t1, _) = literal_target(code, second);
    assert_eq!(t0, t1, "one entry for one value");
    assert!(t0 >= end && t0 % 4 == 0);
    assert_eq!(word(code, t0), 0xDEAD_BEEF);
    let (td, _) = literal_target(code, dual);
    assert_eq!(word(code, td), 0x89AB_CDEF);
    assert_eq!(word(code, td + 4), 0x0123_4567);
    let (tf, _) = literal_target(code, double);
    assert_eq!(
        u64::from(word(code, tf)) | u64::from(word(code, tf + 4)) << 32,
        1.5f64.to_bits()
    );
    let (ts, _) = literal_target(code, single);
    assert_eq!(word(code, ts), 2.5f32.to_bits());
    // 4 + 8 + 8 + 4 bytes of constants after the aligned end.
    assert_eq!(out.code.len(), end.next_multiple_of(4) + 24);
}

#[test]
fn a_function_with_pending_literals_must_end_in_a_branch() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 7).unwrap();
    a.nop().unwrap();
    assert_eq!(a.finish().unwrap_err(), AsmError::FallsIntoPool);
}

/// Emits `count` literal loads of distinct values mixed with other code, then checks that every
/// load reads its value and that the code between the pools is intact.
#[test]
fn mid_function_pools_keep_every_literal_in_reach() {
    let mut a = m4f();
    let mut loads = Vec::new();
    let mut state = 0x1234_5678u32;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        state
    };
    let mut nops = 0;
    for i in 0..3000u32 {
        let value = next();
        match value % 7 {
            0 => {
                a.ldrd_literal(Reg::R4, Reg::R5, u64::from(value) << 32 | u64::from(i))
                    .unwrap();
                loads.push((
                    a.last_instruction_offset(),
                    u64::from(value) << 32 | u64::from(i),
                    8,
                ));
            }
            1 => {
                a.vldr_literal(FReg::S(i as u8 % 32), u64::from(value))
                    .unwrap();
                loads.push((a.last_instruction_offset(), u64::from(value), 4));
            }
            2 | 3 => {
                let r = Reg::new((value % 12) as u8).unwrap();
                // A few repeated values exercise reuse of placed constants.
                let v = if value % 5 == 0 { 42 } else { value };
                a.ldr_literal(r, v).unwrap();
                loads.push((a.last_instruction_offset(), u64::from(v), 4));
            }
            4 => {
                let l = a.new_label();
                a.b(Cond::Al, l).unwrap();
                a.bind(l).unwrap();
            }
            _ => {
                a.nop().unwrap();
                nops += 1;
            }
        }
    }
    a.bx(Reg::LR).unwrap();
    let out = a.finish().unwrap();
    let code = &out.code;
    for (at, value, size) in loads {
        let (target, _) = literal_target(code, at as usize);
        assert_eq!(target % 4, 0);
        let got = if size == 8 {
            u64::from(word(code, target)) | u64::from(word(code, target + 4)) << 32
        } else {
            u64::from(word(code, target))
        };
        assert_eq!(got, value, "load at {at:#x}");
    }
    assert!(out.pool_bytes > 0);
    // Pools never split code: every nop is still there (pool padding is zero, not nop).
    let found = (0..code.len() / 2)
        .filter(|i| halfword(code, 2 * i) == 0xBF00)
        .count();
    assert!(found >= nops, "{found} < {nops}");
}

#[test]
fn a_mid_function_pool_is_jumped_over() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 0xCAFE_F00D).unwrap();
    for _ in 0..600 {
        a.nop().unwrap();
    }
    a.bx(Reg::LR).unwrap();
    let code = a.finish().unwrap().code;
    let (target, _) = literal_target(&code, 0);
    assert!(target < 1024 + 4, "{target}");
    assert_eq!(word(&code, target), 0xCAFE_F00D);
    // Find the branch just before the pool: a narrow `b` over the constant (and padding).
    let branch = (2..target)
        .step_by(2)
        .rev()
        .find(|&i| halfword(&code, i) & 0xF800 == 0xE000)
        .unwrap();
    let distance = ((halfword(&code, branch) & 0x7FF) as usize) * 2;
    let after = branch + 4 + distance;
    assert_eq!(
        after,
        target + 4,
        "the branch lands right after the constant"
    );
    assert_eq!(halfword(&code, after), 0xBF00);
}

#[test]
fn the_pool_goes_after_an_unconditional_branch_when_due_soon() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 1234567).unwrap();
    for _ in 0..300 {
        a.nop().unwrap();
    }
    let l = a.new_label();
    let branch_at = a.offset();
    a.b(Cond::Al, l).unwrap();
    // The pool was emitted right after the (wide, forward) branch, with no branch of its own.
    let pool_at = (branch_at + 4).next_multiple_of(4);
    assert_eq!(a.offset(), pool_at + 4);
    assert_eq!(word(a.code(), pool_at as usize), 1234567);
    a.bind(l).unwrap();
    a.bx(Reg::LR).unwrap();
    let out = a.finish().unwrap();
    assert_eq!(out.pool_bytes, pool_at + 4 - (branch_at + 4));
}

#[test]
fn no_pool_inside_an_it_block() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 99).unwrap();
    // Fill up to just before the point where the pool would be due.
    while a.offset() < 990 {
        a.nop().unwrap();
    }
    let before = a.offset();
    a.it(Cond::Eq, &[true, true, true]).unwrap();
    let it_at = a.last_instruction_offset();
    for _ in 0..4 {
        a.mov(Flags::Preserve, Reg::R1, 0x1234_5678 & 0xFFFF)
            .unwrap();
    }
    // The pool came before the IT instruction, and the block is contiguous.
    assert!(it_at > before);
    assert_eq!(a.offset(), it_at + 2 + 4 * 4);
    a.bx(Reg::LR).unwrap();
    let code = a.finish().unwrap().code;
    let (target, _) = literal_target(&code, 0);
    assert_eq!(word(&code, target), 99);
    assert!(target < it_at as usize);
}

#[test]
fn call_sites_are_recorded_for_the_linker() {
    let mut a = m4f();
    a.push(RegList::of(&[Reg::R4, Reg::LR])).unwrap();
    a.bl_call(Symbol::Function(3)).unwrap();
    a.bl_call(Symbol::WasmToArray(1)).unwrap();
    a.pop(RegList::of(&[Reg::R4, Reg::PC])).unwrap();
    let out = a.finish().unwrap();
    assert_eq!(
        out.calls,
        vec![(2, Symbol::Function(3)), (6, Symbol::WasmToArray(1))]
    );
    // A bl to itself + 4 (zero displacement) until the linker patches it.
    assert_eq!(
        (halfword(&out.code, 2), halfword(&out.code, 4)),
        (0xF000, 0xF800)
    );
}

#[test]
fn a_conditional_return_is_no_place_for_the_pool() {
    let mut a = m4f();
    a.ldr_literal(Reg::R0, 5).unwrap();
    for _ in 0..400 {
        a.nop().unwrap();
    }
    a.it(Cond::Eq, &[]).unwrap();
    let bx_at = a.offset();
    a.bx(Reg::LR).unwrap();
    // Not after the conditional return, which falls through when the condition fails ...
    assert_eq!(a.offset(), bx_at + 2);
    a.bx(Reg::LR).unwrap();
    // ... but after the unconditional one.
    assert!(a.offset() > bx_at + 4);
    let code = a.finish().unwrap().code;
    assert_eq!(word(&code, literal_target(&code, 0).0), 5);
}

#[test]
fn table_branches_are_forward_and_bounded() {
    let mut a = m4f();
    let back = a.new_label();
    a.bind(back).unwrap();
    let ahead = a.new_label();
    assert!(matches!(
        a.tbh(Reg::R0, &[ahead, back]),
        Err(AsmError::OutOfRange { .. })
    ));
    assert!(a.tbh(Reg::SP, &[ahead]).is_err());
    assert!(a.tbh(Reg::R0, &[]).is_err());
    a.tbh(Reg::R0, &[ahead]).unwrap();
    // The table starts after the 4-byte tbh; 2 * 65535 bytes past it is the farthest entry.
    let base = 4;
    while a.offset() < base + 2 * 0xFFFF {
        a.nop().unwrap();
    }
    let mut ok = a.clone();
    ok.bind(ahead).unwrap();
    assert_eq!(halfword(ok.code(), base as usize), 0xFFFF);
    a.nop().unwrap();
    assert!(matches!(a.bind(ahead), Err(AsmError::OutOfRange { .. })));
    let mut a = m4f();
    let never = a.new_label();
    a.tbh(Reg::R0, &[never]).unwrap();
    assert_eq!(a.finish().unwrap_err(), AsmError::UnboundLabel(0));
}
