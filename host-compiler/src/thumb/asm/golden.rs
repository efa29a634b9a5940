//! Golden encodings from GNU `as`: every encoder form against a reference nobody here wrote.
//!
//! [`cases`] lists assembler calls with their GNU assembler text. `golden.txt` (beside this
//! file) holds, for each case text, what `arm-none-eabi-as` produced for each profile: the bytes
//! in memory order, or `-` when it refused the instruction. [`matches_gnu_as`] checks that the
//! assembler agrees on every case and profile: the same bytes, or an error where `as` refused.
//!
//! The table is regenerated (after adding cases) with binutils for Arm installed
//! (`apt-get install binutils-arm-none-eabi` on Debian) by
//! `scripts/thumb-golden.sh`, which runs the ignored test [`regenerate`] with
//! `THUMB_GOLDEN_REGENERATE=1`. The tests themselves never need binutils.
//!
//! `as` options per profile: cortex-m4f `-mcpu=cortex-m4 -mfpu=fpv4-sp-d16`, cortex-m7
//! `-mcpu=cortex-m7 -mfpu=fpv5-d16`, cortex-m33 `-mcpu=cortex-m33 -mfpu=fpv5-sp-d16`, cortex-m55
//! `-march=armv8.1-m.main+dsp+fp.dp` (binutils 2.40 has no `-mcpu=cortex-m55`; the FPU and DSP
//! are what matter here).

use std::collections::HashMap;
use std::fmt::Write as _;

use shared_types::Target;

use super::{
    Addr, AsmError, Assembler, Cond, FReg, Flags, Operand, Profile, Reg, RegList, Rounding,
    ShiftKind, Width,
};

type Build = Box<dyn Fn(&mut Assembler) -> Result<(), AsmError>>;

/// One case: GNU `as` text (statements separated by `;`) and the calls that should produce it.
pub(super) struct Case {
    pub text: String,
    pub build: Build,
}

const PROFILES: [Target; 4] = [
    Target::CortexM4F,
    Target::CortexM7,
    Target::CortexM33,
    Target::CortexM55,
];

fn as_options(target: Target) -> &'static [&'static str] {
    match target {
        Target::CortexM4F => &["-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16"],
        Target::CortexM7 => &["-mcpu=cortex-m7", "-mfpu=fpv5-d16"],
        Target::CortexM33 => &["-mcpu=cortex-m33", "-mfpu=fpv5-sp-d16"],
        _ => &["-march=armv8.1-m.main+dsp+fp.dp"],
    }
}

struct Cases(Vec<Case>);

impl Cases {
    fn add(
        &mut self,
        text: impl Into<String>,
        build: impl Fn(&mut Assembler) -> Result<(), AsmError> + 'static,
    ) {
        self.0.push(Case {
            text: text.into(),
            build: Box::new(build),
        });
    }
}

fn s_suffix(flags: Flags) -> &'static str {
    if flags == Flags::Set { "s" } else { "" }
}

const FLAGS: [Flags; 2] = [Flags::Set, Flags::Preserve];

type DataFn = fn(&mut Assembler, Flags, Reg, Reg, Operand) -> Result<(), AsmError>;

fn data_ops() -> Vec<(&'static str, DataFn)> {
    vec![
        ("add", |a, f, d, n, o| a.add(f, d, n, o)),
        ("sub", |a, f, d, n, o| a.sub(f, d, n, o)),
        ("adc", |a, f, d, n, o| a.adc(f, d, n, o)),
        ("sbc", |a, f, d, n, o| a.sbc(f, d, n, o)),
        ("rsb", |a, f, d, n, o| a.rsb(f, d, n, o)),
        ("and", |a, f, d, n, o| a.and(f, d, n, o)),
        ("orr", |a, f, d, n, o| a.orr(f, d, n, o)),
        ("eor", |a, f, d, n, o| a.eor(f, d, n, o)),
        ("bic", |a, f, d, n, o| a.bic(f, d, n, o)),
        ("orn", |a, f, d, n, o| a.orn(f, d, n, o)),
    ]
}

/// Immediates that some single instruction holds for every data-processing operation (a
/// modified immediate, or a 12-bit one for `add`/`sub`), plus edge cases of each encoding.
const IMMEDIATES: [u32; 16] = [
    0,
    1,
    7,
    8,
    255,
    256,
    508,
    1020,
    0xFF00,
    0x00AB_00AB,
    0xCD00_CD00,
    0xEFEF_EFEF,
    0x8000_0000,
    0xFF00_0000,
    0x0003_FC00,
    0x0000_01FE,
];

fn data_cases(c: &mut Cases) {
    let regs = [Reg::R0, Reg::R3, Reg::R8, Reg::SP, Reg::PC];
    for (name, op) in data_ops() {
        for flags in FLAGS {
            let s = s_suffix(flags);
            for rd in regs {
                for rn in regs {
                    for rm in regs {
                        c.add(format!("{name}{s} {rd}, {rn}, {rm}"), move |a| {
                            op(a, flags, rd, rn, Operand::Reg(rm))
                        });
                    }
                }
            }
            let triples = [
                (Reg::R0, Reg::R0, Reg::R1),
                (Reg::R1, Reg::R2, Reg::R3),
                (Reg::R9, Reg::R10, Reg::R11),
            ];
            let shifts = [
                (ShiftKind::Lsl, 1),
                (ShiftKind::Lsl, 31),
                (ShiftKind::Lsr, 1),
                (ShiftKind::Lsr, 32),
                (ShiftKind::Asr, 32),
                (ShiftKind::Ror, 1),
                (ShiftKind::Ror, 31),
            ];
            for (rd, rn, rm) in triples {
                for (kind, amount) in shifts {
                    c.add(
                        format!("{name}{s} {rd}, {rn}, {rm}, {} #{amount}", kind.mnemonic()),
                        move |a| op(a, flags, rd, rn, Operand::Shifted(rm, kind, amount)),
                    );
                }
            }
            let pairs = [
                (Reg::R0, Reg::R0),
                (Reg::R0, Reg::R1),
                (Reg::R7, Reg::R7),
                (Reg::R8, Reg::R8),
                (Reg::R1, Reg::R9),
                (Reg::SP, Reg::SP),
                (Reg::R0, Reg::SP),
                (Reg::R9, Reg::SP),
            ];
            for (rd, rn) in pairs {
                for imm in IMMEDIATES {
                    c.add(format!("{name}{s} {rd}, {rn}, #{imm:#x}"), move |a| {
                        op(a, flags, rd, rn, Operand::Imm(imm))
                    });
                }
            }
        }
    }
    // add/sub: 12-bit immediates and negated immediates.
    for imm in [4095u32, 4096 - 4, 0xFFFF_FFFC, 0xFFFF_F001] {
        let pairs = [(Reg::R0, Reg::R1), (Reg::R9, Reg::R9), (Reg::R8, Reg::SP)];
        for (rd, rn) in pairs {
            let neg = imm.wrapping_neg();
            // `as` takes the negative value and swaps the operation, as the assembler does.
            let shown = if imm > 0x8000_0000 {
                format!("-{neg:#x}")
            } else {
                format!("{imm:#x}")
            };
            c.add(format!("add {rd}, {rn}, #{shown}"), move |a| {
                a.add(Flags::Preserve, rd, rn, imm)
            });
            c.add(format!("sub {rd}, {rn}, #{shown}"), move |a| {
                a.sub(Flags::Preserve, rd, rn, imm)
            });
        }
    }
}

fn move_cases(c: &mut Cases) {
    let regs = [Reg::R0, Reg::R1, Reg::R8, Reg::SP, Reg::PC];
    for flags in FLAGS {
        let s = s_suffix(flags);
        for rd in regs {
            for rm in regs {
                c.add(format!("mov{s} {rd}, {rm}"), move |a| a.mov(flags, rd, rm));
                c.add(format!("mvn{s} {rd}, {rm}"), move |a| a.mvn(flags, rd, rm));
            }
            for imm in IMMEDIATES
                .into_iter()
                .chain([0xFFFF_FF00, 0xFFFF_FFFF, 0x00FF_FFFF])
            {
                c.add(format!("mov{s} {rd}, #{imm:#x}"), move |a| {
                    a.mov(flags, rd, imm)
                });
                // `mvn` of a complement is a `mov` (narrow where possible; as keeps it wide).
                if super::modified_immediate(imm).is_some() {
                    c.add(format!("mvn{s} {rd}, #{imm:#x}"), move |a| {
                        a.mvn(flags, rd, imm)
                    });
                }
            }
        }
        c.add(format!("mvn{s} r1, r2, ror #3"), move |a| {
            a.mvn(flags, Reg::R1, Operand::Shifted(Reg::R2, ShiftKind::Ror, 3))
        });
    }
    for rd in [Reg::R0, Reg::R9, Reg::SP] {
        for imm in [0u16, 1, 0xFF, 0x1234, 0x8000, 0xFFFF] {
            c.add(format!("movw {rd}, #{imm:#x}"), move |a| a.movw(rd, imm));
            c.add(format!("movt {rd}, #{imm:#x}"), move |a| a.movt(rd, imm));
        }
    }
    // Constants no single instruction holds: movw + movt.
    c.add("movw r3, #0x5678; movt r3, #0x1234", |a| {
        a.mov(Flags::Any, Reg::R3, 0x1234_5678)
    });
    c.add("movw r10, #0xffff; movt r10, #0x1", |a| {
        a.mov(Flags::Preserve, Reg::R10, 0x1_FFFF)
    });
    c.add("movw r2, #0x1234", |a| {
        a.mov(Flags::Preserve, Reg::R2, 0x1234)
    });
}

fn shift_cases(c: &mut Cases) {
    let kinds = [
        ShiftKind::Lsl,
        ShiftKind::Lsr,
        ShiftKind::Asr,
        ShiftKind::Ror,
    ];
    let pairs = [
        (Reg::R0, Reg::R0),
        (Reg::R1, Reg::R2),
        (Reg::R8, Reg::R1),
        (Reg::R3, Reg::R12),
    ];
    for flags in FLAGS {
        let s = s_suffix(flags);
        for kind in kinds {
            let m = kind.mnemonic();
            for (rd, rn) in pairs {
                for amount in [1u32, 2, 31, 32] {
                    c.add(format!("{m}{s} {rd}, {rn}, #{amount}"), move |a| {
                        a.shift(kind, flags, rd, rn, Operand::Imm(amount))
                    });
                }
                for rm in [Reg::R0, Reg::R4, Reg::R9, Reg::SP] {
                    c.add(format!("{m}{s} {rd}, {rn}, {rm}"), move |a| {
                        a.shift(kind, flags, rd, rn, Operand::Reg(rm))
                    });
                }
            }
        }
    }
}

fn compare_cases(c: &mut Cases) {
    type CmpFn = fn(&mut Assembler, Reg, Operand) -> Result<(), AsmError>;
    let ops: [(&str, CmpFn); 4] = [
        ("cmp", |a, n, o| a.cmp(n, o)),
        ("cmn", |a, n, o| a.cmn(n, o)),
        ("tst", |a, n, o| a.tst(n, o)),
        ("teq", |a, n, o| a.teq(n, o)),
    ];
    let regs = [Reg::R0, Reg::R7, Reg::R8, Reg::SP, Reg::PC];
    for (name, op) in ops {
        for rn in regs {
            for rm in regs {
                c.add(format!("{name} {rn}, {rm}"), move |a| {
                    op(a, rn, Operand::Reg(rm))
                });
            }
            let extra: &[u32] = if matches!(name, "cmp" | "cmn") {
                &[0xFFFF_FFFF, 0xFFFF_FF00]
            } else {
                &[]
            };
            for imm in IMMEDIATES.into_iter().chain(extra.iter().copied()) {
                c.add(format!("{name} {rn}, #{imm:#x}"), move |a| {
                    op(a, rn, Operand::Imm(imm))
                });
            }
            c.add(format!("{name} {rn}, r2, lsl #3"), move |a| {
                op(a, rn, Operand::Shifted(Reg::R2, ShiftKind::Lsl, 3))
            });
            c.add(format!("{name} {rn}, r10, asr #32"), move |a| {
                op(a, rn, Operand::Shifted(Reg::R10, ShiftKind::Asr, 32))
            });
        }
    }
}

fn multiply_and_misc_cases(c: &mut Cases) {
    let regs = [Reg::R0, Reg::R1, Reg::R9, Reg::SP];
    for flags in FLAGS {
        let s = s_suffix(flags);
        for rd in regs {
            for rn in regs {
                for rm in regs {
                    c.add(format!("mul{s} {rd}, {rn}, {rm}"), move |a| {
                        a.mul(flags, rd, rn, rm)
                    });
                }
            }
        }
    }
    let quads = [
        (Reg::R0, Reg::R1, Reg::R2, Reg::R3),
        (Reg::R9, Reg::R10, Reg::R11, Reg::R12),
        (Reg::R0, Reg::R0, Reg::R1, Reg::R2),
        (Reg::R0, Reg::SP, Reg::R1, Reg::R2),
        (Reg::R0, Reg::R1, Reg::R2, Reg::PC),
    ];
    for (w, x, y, z) in quads {
        c.add(format!("mla {w}, {x}, {y}, {z}"), move |a| {
            a.mla(w, x, y, z)
        });
        c.add(format!("mls {w}, {x}, {y}, {z}"), move |a| {
            a.mls(w, x, y, z)
        });
        c.add(format!("umull {w}, {x}, {y}, {z}"), move |a| {
            a.umull(w, x, y, z)
        });
        c.add(format!("smull {w}, {x}, {y}, {z}"), move |a| {
            a.smull(w, x, y, z)
        });
        c.add(format!("umlal {w}, {x}, {y}, {z}"), move |a| {
            a.umlal(w, x, y, z)
        });
        c.add(format!("smlal {w}, {x}, {y}, {z}"), move |a| {
            a.smlal(w, x, y, z)
        });
        c.add(format!("sdiv {w}, {x}, {y}"), move |a| a.sdiv(w, x, y));
        c.add(format!("udiv {w}, {x}, {y}"), move |a| a.udiv(w, x, y));
    }
    type Unary = fn(&mut Assembler, Reg, Reg) -> Result<(), AsmError>;
    let unary: [(&str, Unary); 5] = [
        ("clz", |a, d, m| a.clz(d, m)),
        ("rbit", |a, d, m| a.rbit(d, m)),
        ("rev", |a, d, m| a.rev(d, m)),
        ("rev16", |a, d, m| a.rev16(d, m)),
        ("revsh", |a, d, m| a.revsh(d, m)),
    ];
    type Extend = fn(&mut Assembler, Reg, Reg, u8) -> Result<(), AsmError>;
    let extends: [(&str, Extend); 4] = [
        ("sxtb", |a, d, m, r| a.sxtb(d, m, r)),
        ("sxth", |a, d, m, r| a.sxth(d, m, r)),
        ("uxtb", |a, d, m, r| a.uxtb(d, m, r)),
        ("uxth", |a, d, m, r| a.uxth(d, m, r)),
    ];
    let pairs = [
        (Reg::R0, Reg::R1),
        (Reg::R7, Reg::R7),
        (Reg::R8, Reg::R1),
        (Reg::R2, Reg::R12),
        (Reg::R0, Reg::SP),
        (Reg::PC, Reg::R0),
    ];
    for (rd, rm) in pairs {
        for (name, f) in unary {
            c.add(format!("{name} {rd}, {rm}"), move |a| f(a, rd, rm));
        }
        for (name, f) in extends {
            for rotation in [0u8, 8, 16, 24] {
                let text = if rotation == 0 {
                    format!("{name} {rd}, {rm}")
                } else {
                    format!("{name} {rd}, {rm}, ror #{rotation}")
                };
                c.add(text, move |a| f(a, rd, rm, rotation));
            }
        }
    }
}

fn memory_cases(c: &mut Cases) {
    let widths = [Width::U8, Width::S8, Width::U16, Width::S16, Width::W32];
    let pairs = [
        (Reg::R0, Reg::R1),
        (Reg::R7, Reg::R7),
        (Reg::R1, Reg::R9),
        (Reg::R10, Reg::R2),
        (Reg::R3, Reg::SP),
        (Reg::SP, Reg::R0),
        (Reg::PC, Reg::R0),
    ];
    for width in widths {
        let sfx = width.suffix();
        for load in [true, false] {
            if !load && matches!(width, Width::S8 | Width::S16) {
                continue;
            }
            let name = if load { "ldr" } else { "str" };
            for (rt, rn) in pairs {
                let build = move |a: &mut Assembler, addr: Addr| {
                    if load {
                        a.ldr(width, rt, addr)
                    } else {
                        a.str(width, rt, addr)
                    }
                };
                for offset in [0, 1, 2, 4, 31, 62, 124, 128, 1020, 1024, 4095, -1, -4, -255] {
                    c.add(format!("{name}{sfx} {rt}, [{rn}, #{offset}]"), move |a| {
                        build(a, Addr::Offset(rn, offset))
                    });
                }
                for offset in [1, 255, -8, -255] {
                    c.add(format!("{name}{sfx} {rt}, [{rn}, #{offset}]!"), move |a| {
                        build(a, Addr::PreIndex(rn, offset))
                    });
                    c.add(format!("{name}{sfx} {rt}, [{rn}], #{offset}"), move |a| {
                        build(a, Addr::PostIndex(rn, offset))
                    });
                }
                for (rm, shift) in [
                    (Reg::R2, 0u8),
                    (Reg::R2, 2),
                    (Reg::R11, 0),
                    (Reg::R3, 3),
                    (Reg::SP, 0),
                ] {
                    let text = if shift == 0 {
                        format!("{name}{sfx} {rt}, [{rn}, {rm}]")
                    } else {
                        format!("{name}{sfx} {rt}, [{rn}, {rm}, lsl #{shift}]")
                    };
                    c.add(text, move |a| build(a, Addr::Indexed(rn, rm, shift)));
                }
            }
        }
    }
    let duals = [
        (Reg::R0, Reg::R1, Reg::R2),
        (Reg::R8, Reg::R9, Reg::SP),
        (Reg::R2, Reg::R3, Reg::R2),
        (Reg::R0, Reg::R0, Reg::R1),
        (Reg::R0, Reg::SP, Reg::R1),
    ];
    for (rt, rt2, rn) in duals {
        for offset in [0, 4, 1020, -4, -1020] {
            c.add(format!("ldrd {rt}, {rt2}, [{rn}, #{offset}]"), move |a| {
                a.ldrd(rt, rt2, Addr::Offset(rn, offset))
            });
            c.add(format!("strd {rt}, {rt2}, [{rn}, #{offset}]"), move |a| {
                a.strd(rt, rt2, Addr::Offset(rn, offset))
            });
            c.add(format!("ldrd {rt}, {rt2}, [{rn}, #{offset}]!"), move |a| {
                a.ldrd(rt, rt2, Addr::PreIndex(rn, offset))
            });
            c.add(format!("strd {rt}, {rt2}, [{rn}], #{offset}"), move |a| {
                a.strd(rt, rt2, Addr::PostIndex(rn, offset))
            });
        }
    }
    let lists: [&[Reg]; 8] = [
        &[Reg::R0],
        &[Reg::R4, Reg::R5, Reg::R6, Reg::R7, Reg::LR],
        &[Reg::R8],
        &[Reg::R4, Reg::R8, Reg::R9, Reg::R10, Reg::R11, Reg::LR],
        &[Reg::LR],
        &[
            Reg::R0,
            Reg::R1,
            Reg::R2,
            Reg::R3,
            Reg::R4,
            Reg::R5,
            Reg::R6,
            Reg::R7,
        ],
        &[Reg::R1, Reg::R12],
        &[Reg::R4, Reg::LR, Reg::PC],
    ];
    for list in lists {
        let text: Vec<String> = list.iter().map(|r| r.to_string()).collect();
        let regs = RegList::of(list);
        c.add(format!("push {{{}}}", text.join(", ")), move |a| {
            a.push(regs)
        });
        let mut pop = regs;
        if pop.contains(Reg::LR) && !pop.contains(Reg::PC) {
            pop.0 = (pop.0 & !(1 << 14)) | 1 << 15;
        }
        let pop_text: Vec<String> = (0..16u8)
            .filter(|n| pop.0 & (1 << n) != 0)
            .map(|n| Reg::new(n).unwrap().to_string())
            .collect();
        c.add(format!("pop {{{}}}", pop_text.join(", ")), move |a| {
            a.pop(pop)
        });
    }
    c.add("pop {r4, r8, lr}", |a| {
        a.pop(RegList::of(&[Reg::R4, Reg::R8, Reg::LR]))
    });
}

fn nops(a: &mut Assembler, n: u32) -> Result<(), AsmError> {
    for _ in 0..n {
        a.nop()?;
    }
    Ok(())
}

fn branch_cases(c: &mut Cases) {
    for cond in Cond::ALL {
        let cc = cond.suffix();
        // Backward: the narrowest encoding that reaches.
        for n in [0u32, 126, 127, 1022, 1023, 5000] {
            c.add(format!("1: .rept {n}; nop; .endr; b{cc} 1b"), move |a| {
                let l = a.new_label();
                a.bind(l)?;
                nops(a, n)?;
                a.b(cond, l)
            });
        }
        // Forward: wide unless asked for narrow.
        for n in [0u32, 2, 600] {
            c.add(format!("b{cc}.w 1f; .rept {n}; nop; .endr; 1:"), move |a| {
                let l = a.new_label();
                a.b(cond, l)?;
                nops(a, n)?;
                a.bind(l)
            });
        }
        c.add(format!("b{cc}.n 1f; .rept 100; nop; .endr; 1:"), move |a| {
            let l = a.new_label();
            a.b_near(cond, l)?;
            nops(a, 100)?;
            a.bind(l)
        });
    }
    for n in [1u32, 3, 62] {
        for nonzero in [false, true] {
            let name = if nonzero { "cbnz" } else { "cbz" };
            c.add(
                format!("{name} r3, 1f; .rept {n}; nop; .endr; 1:"),
                move |a| {
                    let l = a.new_label();
                    a.cbz(nonzero, Reg::R3, l)?;
                    nops(a, n)?;
                    a.bind(l)
                },
            );
        }
    }
    for n in [0u32, 1, 3, 1000] {
        c.add(format!("1: .rept {n}; nop; .endr; bl 1b"), move |a| {
            let l = a.new_label();
            a.bind(l)?;
            nops(a, n)?;
            a.bl_label(l)
        });
        c.add(format!("bl 1f; .rept {n}; nop; .endr; 1:"), move |a| {
            let l = a.new_label();
            a.bl_label(l)?;
            nops(a, n)?;
            a.bind(l)
        });
        for rd in [Reg::R0, Reg::R11] {
            c.add(
                format!("adr.w {rd}, 1f; .rept {n}; nop; .endr; 1:"),
                move |a| {
                    let l = a.new_label();
                    a.adr(rd, l)?;
                    nops(a, n)?;
                    a.bind(l)
                },
            );
            c.add(
                format!("nop; 1: .rept {n}; nop; .endr; adr.w {rd}, 1b"),
                move |a| {
                    let l = a.new_label();
                    a.nop()?;
                    a.bind(l)?;
                    nops(a, n)?;
                    a.adr(rd, l)
                },
            );
        }
    }
    for r in [Reg::R0, Reg::R9, Reg::LR] {
        c.add(format!("bx {r}"), move |a| a.bx(r));
        c.add(format!("blx {r}"), move |a| a.blx(r));
    }
    for imm in [0u8, 1, 255] {
        c.add(format!("udf #{imm}"), move |a| a.udf(imm));
        c.add(format!("bkpt #{imm}"), move |a| a.bkpt(imm));
    }
    for imm in [256u16, 0x1234, 0xFFFF] {
        c.add(format!("udf.w #{imm}"), move |a| a.udf_w(imm));
    }
    c.add("nop", |a| a.nop());
    for (index, count) in [(Reg::R1, 2u32), (Reg::R9, 300)] {
        c.add(
            format!(
                "tbh [pc, {index}, lsl #1]; 1: .hword (2f-1b)/2; .hword (3f-1b)/2; \
                 .hword (3f-1b)/2; 2: .rept {count}; nop; .endr; 3: nop"
            ),
            move |a| {
                let (two, three) = (a.new_label(), a.new_label());
                a.tbh(index, &[two, three, three])?;
                a.bind(two)?;
                nops(a, count)?;
                a.bind(three)?;
                a.nop()
            },
        );
    }
    for imm in [0u8, 255] {
        c.add(format!("svc #{imm}"), move |a| a.svc(imm));
    }
}

/// Operands no single instruction holds: the sequences the assembler falls back to, with the
/// destination or the scratch register `r12` holding the constant.
fn fallback_cases(c: &mut Cases) {
    c.add("movw r0, #0x5678; movt r0, #0x1234; add r0, r1, r0", |a| {
        a.add(Flags::Preserve, Reg::R0, Reg::R1, 0x1234_5678)
    });
    c.add(
        "movw r12, #0x5678; movt r12, #0x1234; add r1, r1, r12",
        |a| a.add(Flags::Preserve, Reg::R1, Reg::R1, 0x1234_5678),
    );
    c.add("movw r0, #0x5678; movt r0, #0x1234; adds r0, r1, r0", |a| {
        a.add(Flags::Set, Reg::R0, Reg::R1, 0x1234_5678)
    });
    c.add("movw r2, #0x2345; movt r2, #0x1; and.w r2, r3, r2", |a| {
        a.and(Flags::Preserve, Reg::R2, Reg::R3, 0x1_2345)
    });
    c.add("movw r0, #0x2345; movt r0, #0x1; sub.w r0, r0, r1", |a| {
        a.rsb(Flags::Preserve, Reg::R0, Reg::R1, 0x1_2345)
    });
    c.add("movw r12, #0x2345; movt r12, #0x1; cmp r0, r12", |a| {
        a.cmp(Reg::R0, 0x1_2345)
    });
    c.add("movw r12, #0x2345; movt r12, #0x1; tst r9, r12", |a| {
        a.tst(Reg::R9, 0x1_2345)
    });
    c.add("mov.w r0, #4096; ldr r0, [r1, r0]", |a| {
        a.ldr(Width::W32, Reg::R0, Addr::Offset(Reg::R1, 4096))
    });
    c.add("movw r12, #5000; ldr.w r0, [r0, r12]", |a| {
        a.ldr(Width::W32, Reg::R0, Addr::Offset(Reg::R0, 5000))
    });
    c.add("mvn r12, #255; strh.w r0, [r1, r12]", |a| {
        a.str(Width::U16, Reg::R0, Addr::Offset(Reg::R1, -256))
    });
    c.add("add.w r12, r2, #1024; ldrd r0, r1, [r12]", |a| {
        a.ldrd(Reg::R0, Reg::R1, Addr::Offset(Reg::R2, 1024))
    });
    c.add("add.w r12, r1, #2048; vldr s0, [r12]", |a| {
        a.vldr(FReg::S(0), Reg::R1, 2048)
    });
    c.add("sub.w r12, sp, #2048; vstr d1, [r12]", |a| {
        a.vstr(FReg::D(1), Reg::SP, -2048)
    });
    c.add("sub.w r0, r1, #4", |a| {
        a.add(Flags::Preserve, Reg::R0, Reg::R1, (-4i32) as u32)
    });
    c.add("subs r0, r1, #4", |a| {
        a.add(Flags::Any, Reg::R0, Reg::R1, (-4i32) as u32)
    });
    c.add("sub sp, #8", |a| {
        a.add(Flags::Preserve, Reg::SP, Reg::SP, (-8i32) as u32)
    });
    c.add("cmn.w r3, #256", |a| a.cmp(Reg::R3, 0xFFFF_FF00));
    c.add("bic r0, r1, #255", |a| {
        a.and(Flags::Preserve, Reg::R0, Reg::R1, 0xFFFF_FF00)
    });
    c.add("movs r0, #255", |a| a.mvn(Flags::Any, Reg::R0, 0xFFFF_FF00));
    // Flags::Any takes the narrow form whichever flag behaviour it has.
    c.add("adds r0, r1, r2", |a| {
        a.add(Flags::Any, Reg::R0, Reg::R1, Reg::R2)
    });
    c.add("add r8, r1", |a| {
        a.add(Flags::Any, Reg::R8, Reg::R8, Reg::R1)
    });
    c.add("ands r0, r1", |a| {
        a.and(Flags::Any, Reg::R0, Reg::R1, Reg::R0)
    });
    c.add("muls r0, r1, r0", |a| {
        a.mul(Flags::Any, Reg::R0, Reg::R0, Reg::R1)
    });
    c.add("mov r0, r1", |a| a.mov(Flags::Any, Reg::R0, Reg::R1));
    c.add("movs r0, #0", |a| a.mov(Flags::Any, Reg::R0, 0));
    c.add("lsls r1, r2, #3", |a| {
        a.mov(
            Flags::Any,
            Reg::R1,
            Operand::Shifted(Reg::R2, ShiftKind::Lsl, 3),
        )
    });
}

fn it_cases(c: &mut Cases) {
    for cond in Cond::ALL {
        if cond == Cond::Al {
            continue;
        }
        let t = cond.suffix();
        let e = cond.invert().suffix();
        c.add(format!("it {t}; mov{t} r0, #1"), move |a| {
            a.it(cond, &[])?;
            a.mov(Flags::Any, Reg::R0, 1)
        });
        c.add(format!("ite {t}; mov{t} r0, #1; mov{e} r0, #0"), move |a| {
            a.it(cond, &[false])?;
            a.mov(Flags::Preserve, Reg::R0, 1)?;
            a.mov(Flags::Preserve, Reg::R0, 0)
        });
        c.add(
            format!("itet {t}; add{t} r0, r0, r1; sub{e} r2, r2, #1; lsl{t} r3, r3, #2"),
            move |a| {
                a.it(cond, &[false, true])?;
                a.add(Flags::Preserve, Reg::R0, Reg::R0, Reg::R1)?;
                a.sub(Flags::Preserve, Reg::R2, Reg::R2, 1)?;
                a.shift(
                    ShiftKind::Lsl,
                    Flags::Preserve,
                    Reg::R3,
                    Reg::R3,
                    Operand::Imm(2),
                )
            },
        );
        c.add(format!("ittee {t}; add{t}s r0, r0, r1; mov{t} r8, r9; ldr{e} r0, [r1]; str{e} r0, [r1, #-4]"), move |a| {
            a.it(cond, &[true, false, false])?;
            a.add(Flags::Set, Reg::R0, Reg::R0, Reg::R1)?;
            a.mov(Flags::Any, Reg::R8, Reg::R9)?;
            a.ldr(Width::W32, Reg::R0, Addr::Offset(Reg::R1, 0))?;
            a.str(Width::W32, Reg::R0, Addr::Offset(Reg::R1, -4))
        });
        c.add(format!("it {t}; b{t} 1f; nop; 1:"), move |a| {
            let l = a.new_label();
            a.it(cond, &[])?;
            a.b_near(Cond::Al, l)?;
            a.nop()?;
            a.bind(l)
        });
    }
}

fn fp_cases(c: &mut Cases) {
    use FReg::{D, S};
    let singles = [
        (S(0), S(1), S(2)),
        (S(31), S(15), S(16)),
        (S(3), S(3), S(30)),
    ];
    let doubles = [(D(0), D(1), D(2)), (D(15), D(7), D(8)), (D(3), D(3), D(14))];
    type Three = fn(&mut Assembler, FReg, FReg, FReg) -> Result<(), AsmError>;
    let three: [(&str, Three); 6] = [
        ("vadd", |a, d, n, m| a.vadd(d, n, m)),
        ("vsub", |a, d, n, m| a.vsub(d, n, m)),
        ("vmul", |a, d, n, m| a.vmul(d, n, m)),
        ("vdiv", |a, d, n, m| a.vdiv(d, n, m)),
        ("vmaxnm", |a, d, n, m| a.vmaxnm(d, n, m)),
        ("vminnm", |a, d, n, m| a.vminnm(d, n, m)),
    ];
    type Two = fn(&mut Assembler, FReg, FReg) -> Result<(), AsmError>;
    let two: [(&str, Two); 13] = [
        ("vabs", |a, d, m| a.vabs(d, m)),
        ("vneg", |a, d, m| a.vneg(d, m)),
        ("vsqrt", |a, d, m| a.vsqrt(d, m)),
        ("vmov", |a, d, m| a.vmov(d, m)),
        ("vcmp", |a, d, m| a.vcmp(false, d, m)),
        ("vcmpe", |a, d, m| a.vcmp(true, d, m)),
        ("vrintz", |a, d, m| a.vrint(Rounding::Zero, d, m)),
        ("vrintn", |a, d, m| a.vrint(Rounding::NearestEven, d, m)),
        ("vrintp", |a, d, m| a.vrint(Rounding::PlusInfinity, d, m)),
        ("vrintm", |a, d, m| a.vrint(Rounding::MinusInfinity, d, m)),
        ("vrinta", |a, d, m| a.vrint(Rounding::NearestAway, d, m)),
        ("vrintr", |a, d, m| a.vrint(Rounding::Fpscr, d, m)),
        ("vrintx", |a, d, m| a.vrint(Rounding::FpscrExact, d, m)),
    ];
    for (regs, ty) in [(singles, "f32"), (doubles, "f64")] {
        for (d, n, m) in regs {
            for (name, f) in three {
                c.add(format!("{name}.{ty} {d}, {n}, {m}"), move |a| f(a, d, n, m));
            }
            for (name, f) in two {
                c.add(format!("{name}.{ty} {d}, {m}"), move |a| f(a, d, m));
            }
            c.add(format!("vcmp.{ty} {d}, #0"), move |a| a.vcmp_zero(false, d));
            c.add(format!("vcmpe.{ty} {d}, #0"), move |a| a.vcmp_zero(true, d));
            for (rn, offset) in [
                (Reg::R0, 0),
                (Reg::R9, 1020),
                (Reg::SP, -1020),
                (Reg::R1, 8),
            ] {
                c.add(format!("vldr {d}, [{rn}, #{offset}]"), move |a| {
                    a.vldr(d, rn, offset)
                });
                c.add(format!("vstr {d}, [{rn}, #{offset}]"), move |a| {
                    a.vstr(d, rn, offset)
                });
            }
        }
    }
    // Mixed precision is refused by `as` too.
    c.add("vadd.f32 s0, s1, d2", |a| a.vadd(S(0), S(1), D(2)));
    for (s, rt) in [(S(0), Reg::R0), (S(31), Reg::R12), (S(7), Reg::SP)] {
        c.add(format!("vmov {s}, {rt}"), move |a| a.vmov_to_s(s, rt));
        c.add(format!("vmov {rt}, {s}"), move |a| a.vmov_from_s(rt, s));
    }
    for (d, rt, rt2) in [
        (D(0), Reg::R0, Reg::R1),
        (D(15), Reg::R10, Reg::R3),
        (D(1), Reg::R2, Reg::R2),
        (D(2), Reg::R0, Reg::PC),
    ] {
        c.add(format!("vmov {d}, {rt}, {rt2}"), move |a| {
            a.vmov_to_d(d, rt, rt2)
        });
        c.add(format!("vmov {rt}, {rt2}, {d}"), move |a| {
            a.vmov_from_d(rt, rt2, d)
        });
    }
    for (first, count) in [(S(16), 16u8), (S(0), 1), (D(8), 8), (D(0), 16), (D(15), 1)] {
        let last = match first {
            S(n) => S(n + count - 1),
            D(n) => D(n + count - 1),
        };
        let text = if count == 1 {
            format!("{{{first}}}")
        } else {
            format!("{{{first}-{last}}}")
        };
        c.add(format!("vpush {text}"), move |a| a.vpush(first, count));
        c.add(format!("vpop {text}"), move |a| a.vpop(first, count));
    }
    c.add("vmrs APSR_nzcv, fpscr", |a| a.vmrs_apsr());
    // Conversions.
    for (sd, fm) in [(S(0), S(1)), (S(31), S(0)), (S(4), D(2)), (S(1), D(15))] {
        let ty = if matches!(fm, D(_)) { "f64" } else { "f32" };
        c.add(format!("vcvt.s32.{ty} {sd}, {fm}"), move |a| {
            a.vcvt_to_int(true, sd, fm)
        });
        c.add(format!("vcvt.u32.{ty} {sd}, {fm}"), move |a| {
            a.vcvt_to_int(false, sd, fm)
        });
        c.add(format!("vcvt.{ty}.s32 {fm}, {sd}"), move |a| {
            a.vcvt_from_int(true, fm, sd)
        });
        c.add(format!("vcvt.{ty}.u32 {fm}, {sd}"), move |a| {
            a.vcvt_from_int(false, fm, sd)
        });
    }
    for (d, s) in [(D(0), S(1)), (D(15), S(31)), (D(7), S(14))] {
        c.add(format!("vcvt.f64.f32 {d}, {s}"), move |a| {
            a.vcvt_float(d, s)
        });
        c.add(format!("vcvt.f32.f64 {s}, {d}"), move |a| {
            a.vcvt_float(s, d)
        });
    }
    // Immediates: 1.0, 0.5, -2.0, 31.0, 0.125, 1.9375, -15.5.
    for value in [1.0f64, 0.5, -2.0, 31.0, 0.125, 1.9375, -15.5] {
        let s_bits = (value as f32).to_bits() as u64;
        let d_bits = value.to_bits();
        c.add(format!("vmov.f32 s3, #{value:?}"), move |a| {
            a.vmov_imm(S(3), s_bits)
        });
        c.add(format!("vmov.f64 d5, #{value:?}"), move |a| {
            a.vmov_imm(D(5), d_bits)
        });
    }
}

pub(super) fn cases() -> Vec<Case> {
    let mut c = Cases(Vec::new());
    data_cases(&mut c);
    move_cases(&mut c);
    shift_cases(&mut c);
    compare_cases(&mut c);
    multiply_and_misc_cases(&mut c);
    memory_cases(&mut c);
    branch_cases(&mut c);
    it_cases(&mut c);
    fallback_cases(&mut c);
    fp_cases(&mut c);
    c.0
}

/// What the assembler produces for `case` on `target`: bytes, or `None` on an error.
fn assemble(case: &Case, target: Target) -> Result<Vec<u8>, AsmError> {
    let mut a = Assembler::new(Profile::for_target(target).unwrap());
    (case.build)(&mut a)?;
    if a.in_it_block() {
        return Err(AsmError::ItBlock("case ends inside an IT block"));
    }
    Ok(a.code().to_vec())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// How a case's bytes are written in the table: hex, or for long cases (runs of `nop`s around a
/// branch) the length with the first and last 16 bytes, which hold everything but `nop`s.
fn render(bytes: &[u8]) -> String {
    if bytes.len() <= 48 {
        hex(bytes)
    } else {
        format!(
            "{}:{}..{}",
            bytes.len(),
            hex(&bytes[..16]),
            hex(&bytes[bytes.len() - 16..])
        )
    }
}

const GOLDEN: &str = include_str!("golden.txt");

/// `text -> [per profile: Some(rendered bytes) | None]`.
fn parse_golden(table: &str) -> HashMap<&str, Vec<Option<&str>>> {
    let mut map = HashMap::new();
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let mut fields = line.split('\t');
        let text = fields.next().unwrap();
        let results = fields.map(|f| (f != "-").then_some(f)).collect::<Vec<_>>();
        assert_eq!(results.len(), PROFILES.len(), "{line}");
        map.insert(text, results);
    }
    map
}

/// Why the assembler refuses, on purpose, a case that `as` accepts: UNPREDICTABLE operand
/// combinations `as` lets through, forms compiled code never needs (sp/pc as a load's data
/// register, pc arithmetic), and instructions `as` accepts on an FPU that lacks them.
fn deliberate_refusal(text: &str, target: Target) -> Option<&'static str> {
    let mut words = text
        .split([' ', ',', '[', ']', '{', '}'])
        .filter(|w| !w.is_empty());
    let mnemonic = words.next()?;
    let operands: Vec<&str> = words.collect();
    let has = |r: &str| operands.contains(&r);
    let double = text.contains(".f64");
    let single_precision_fpu = matches!(target, Target::CortexM4F | Target::CortexM33);
    if (mnemonic.starts_with("ldr") || mnemonic.starts_with("str"))
        && !mnemonic.ends_with('d')
        && matches!(operands.first(), Some(&"sp") | Some(&"pc"))
    {
        return Some("sp/pc as data register (a stack switch or a branch)");
    }
    if (mnemonic == "mov" || mnemonic == "add") && has("pc") {
        return Some("pc arithmetic (adr and branches do that)");
    }
    if mnemonic == "add" && operands.iter().filter(|r| **r == "sp").count() == 3 {
        return Some("sp + sp");
    }
    if matches!(mnemonic, "umull" | "smull" | "umlal" | "smlal") && operands[0] == operands[1] {
        return Some("UNPREDICTABLE: RdLo == RdHi");
    }
    if mnemonic == "ldrd" && operands[0] == operands[1] {
        return Some("UNPREDICTABLE: Rt == Rt2");
    }
    if matches!(mnemonic, "ldrd" | "strd")
        && (text.ends_with('!') || text.contains("],"))
        && (operands[2] == operands[0] || operands[2] == operands[1])
    {
        return Some("UNPREDICTABLE: writeback to a data register");
    }
    if mnemonic == "vmov" && (has("sp") || has("pc")) {
        return Some("UNPREDICTABLE: sp/pc in a core transfer");
    }
    if mnemonic == "vmov" && operands.len() == 3 && operands[0] == operands[1] {
        return Some("UNPREDICTABLE: the same core register twice");
    }
    if matches!(mnemonic, "vmaxnm.f32" | "vminnm.f32") && target == Target::CortexM4F {
        return Some("FPv5 instruction; as accepts it with -mfpu=fpv4-sp-d16");
    }
    if mnemonic.starts_with("vcmp") && double && single_precision_fpu {
        return Some("double-precision compare; as accepts it with #0 on single-precision FPUs");
    }
    None
}

#[test]
fn matches_gnu_as() {
    let golden = parse_golden(GOLDEN);
    let cases = cases();
    let mut failures = Vec::new();
    let mut compared = 0;
    let mut deliberate = 0;
    for case in &cases {
        let Some(expected) = golden.get(case.text.as_str()) else {
            failures.push(format!("{}: not in golden.txt (regenerate)", case.text));
            continue;
        };
        for (target, want) in PROFILES.into_iter().zip(expected) {
            compared += 1;
            let got = assemble(case, target);
            match (want, &got) {
                (Some(w), Ok(g)) if *w == render(g) => {}
                (None, Err(_)) => {}
                (Some(_), Err(_)) if deliberate_refusal(&case.text, target).is_some() => {
                    deliberate += 1;
                }
                _ => failures.push(format!(
                    "{target}: {}: as {} / we {}",
                    case.text,
                    want.unwrap_or("refuses"),
                    match &got {
                        Ok(g) => render(g),
                        Err(e) => format!("refuse: {e}"),
                    }
                )),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {compared} disagree:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(compared > 10_000, "only {compared} comparisons");
    // The exceptions stay exceptions.
    assert!(
        deliberate < compared / 20,
        "{deliberate} deliberate refusals"
    );
}

/// Regenerates `golden.txt` with GNU `as` (see the module docs).
#[test]
#[ignore = "needs binutils-arm-none-eabi; run by scripts/thumb-golden.sh"]
fn regenerate() {
    if std::env::var_os("THUMB_GOLDEN_REGENERATE").is_none() {
        return;
    }
    let cases = cases();
    let dir = std::env::temp_dir().join(format!("thumb-golden-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut columns: Vec<Vec<Option<Vec<u8>>>> = Vec::new();
    for target in PROFILES {
        columns.push(run_gnu_as(&dir, &cases, as_options(target)));
    }
    let mut out = String::from(
        "# Golden Thumb-2 encodings from GNU as (binutils-arm-none-eabi), generated by\n\
         # scripts/thumb-golden.sh; do not edit. Columns: case, then the bytes (memory order)\n\
         # or - (refused) for cortex-m4f, cortex-m7, cortex-m33, cortex-m55.\n",
    );
    for (i, case) in cases.iter().enumerate() {
        out.push_str(&case.text);
        for column in &columns {
            out.push('\t');
            match &column[i] {
                Some(bytes) => out.push_str(&render(bytes)),
                None => out.push('-'),
            }
        }
        out.push('\n');
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/thumb/asm/golden.txt");
    std::fs::write(path, out).unwrap();
    std::fs::remove_dir_all(&dir).ok();
}

/// Assembles every case with `as` and returns each case's bytes, `None` for refused ones.
fn run_gnu_as(dir: &std::path::Path, cases: &[Case], options: &[&str]) -> Vec<Option<Vec<u8>>> {
    use std::process::Command;
    let source = |included: &dyn Fn(usize) -> bool| {
        let mut s = String::from(".syntax unified\n.thumb\n.text\n");
        let mut lines = HashMap::new();
        let mut line = 3;
        for (i, case) in cases.iter().enumerate() {
            if !included(i) {
                continue;
            }
            writeln!(s, ".p2align 2\nc{i}:\n{}\ne{i}:", case.text).unwrap();
            lines.insert(line + 3, i);
            line += 4;
        }
        (s, lines)
    };
    let assemble = |text: &str| {
        let src = dir.join("cases.s");
        let obj = dir.join("cases.o");
        std::fs::write(&src, text).unwrap();
        let output = Command::new("arm-none-eabi-as")
            .args(options)
            .arg(&src)
            .arg("-o")
            .arg(&obj)
            .output()
            .expect("arm-none-eabi-as");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
            obj,
        )
    };
    // Pass 1: which cases does `as` refuse?
    let (text, lines) = source(&|_| true);
    let (_, stderr, _) = assemble(&text);
    let mut refused = std::collections::HashSet::new();
    for message in stderr.lines() {
        let mut parts = message.splitn(3, ':');
        let (Some(_), Some(line), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        if let (Ok(line), true) = (line.parse::<usize>(), rest.contains("Error")) {
            refused.insert(lines[&line]);
        }
    }
    // Pass 2: the accepted ones, delimited by labels.
    let (text, _) = source(&|i| !refused.contains(&i));
    let (ok, stderr, obj) = assemble(&text);
    assert!(ok, "{stderr}");
    let bin = dir.join("cases.bin");
    let status = Command::new("arm-none-eabi-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&obj)
        .arg(&bin)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&bin).unwrap();
    let nm = Command::new("arm-none-eabi-nm").arg(&obj).output().unwrap();
    let mut symbols = HashMap::new();
    for line in String::from_utf8_lossy(&nm.stdout).lines() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if let [address, _, name] = fields[..] {
            symbols.insert(
                name.to_string(),
                usize::from_str_radix(address, 16).unwrap(),
            );
        }
    }
    (0..cases.len())
        .map(|i| {
            (!refused.contains(&i)).then(|| {
                let start = symbols[&format!("c{i}")];
                let end = symbols[&format!("e{i}")];
                bytes[start..end].to_vec()
            })
        })
        .collect()
}
