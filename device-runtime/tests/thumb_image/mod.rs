//! Hand-made Cortex-M images, until the Thumb-2 code generator emits them.
//!
//! The module description (types, imports, exports, memories, tables, segments) is parsed from
//! WAT by the host compiler; the function bodies in the WAT are ignored and replaced by Thumb
//! code the test writes with the backend's assembler (`host_compiler::thumb::asm`), following
//! the register and calling conventions of `host-compiler/src/thumb/DESIGN.md` (sections 2, 6
//! and 7). This module adds what the code generator will add: an array-entry trampoline for every
//! escaping function (6.4) and a wasm-to-array trampoline for every imported function type
//! (6.5). The host compiler's image writer then encodes the metadata and seals the image.
//!
//! Shared by `device-runtime/tests/thumb.rs` (run under `qemu-arm`) and
//! `host-compiler/tests/run_cortex_m.rs` (`wasm-aot run` of such an image).

#![allow(dead_code, reason = "each including test uses a subset")]

use host_compiler::image::{CodeInfo, assemble, encode_metadata};
use host_compiler::module::{ImportKind, ModuleInfo};
use host_compiler::thumb::asm::{
    Addr, Assembler, FReg, Flags, Label, Profile, Reg, RegList, Width,
};
use shared_types::metadata::{FunctionEntry, NO_TRAMPOLINE, TrapEntry, Tunables};
use shared_types::vmoffsets::{HOST_CONTEXT_ARRAY_CALL, MEMORY_BASE, MEMORY_LENGTH};
use shared_types::{Libcall, Target, TrapCode, ValType, VmOffsets};

/// An image and where its pieces are.
pub struct BuiltImage {
    /// The sealed image.
    pub bytes: Vec<u8>,
    /// One entry per defined function, as recorded in the metadata.
    pub functions: Vec<FunctionEntry>,
    /// `(type index, text offset)` of each wasm-to-array trampoline.
    pub wasm_to_array: Vec<(u32, u32)>,
    /// The trap table.
    pub traps: Vec<TrapEntry>,
}

/// The text being written, with the module it implements.
pub struct Text<'m> {
    /// The assembler for the whole text (offset 0 = text start).
    pub asm: Assembler,
    /// The module description.
    pub module: &'m ModuleInfo<'m>,
    /// The vmctx layout (4-byte pointers).
    pub offsets: VmOffsets,
    bodies: Vec<Option<(Label, u32, u32)>>,
    traps: Vec<TrapEntry>,
    /// Test of the runtime's checks: the wasm-to-array trampolines hand the host an 8-aligned
    /// but not 16-aligned `ValRaw` buffer.
    pub misaligned_value_buffers: bool,
}

/// Where a value of the wasm calling convention lives (DESIGN 6.1): integers in r0-r3 (an i64
/// in the next two), f32 in the next free `s` register (back-filling), f64 in the next free
/// even pair. Enough for the signatures of the tests: anything that needs the stack panics.
#[derive(Clone, Copy, Debug)]
pub enum Loc {
    /// A core register.
    R(u8),
    /// A core register pair, low word first.
    Pair(u8, u8),
    /// `sN`.
    S(u8),
    /// `dN`.
    D(u8),
}

/// The register locations of `types` under the wasm convention.
pub fn assign(types: &[ValType]) -> Vec<Loc> {
    let mut next_r = 0u8;
    let mut s_used = [false; 16];
    types
        .iter()
        .map(|t| match t {
            ValType::I32 | ValType::FuncRef | ValType::ExternRef => {
                assert!(next_r < 4, "stack arguments are not needed by these tests");
                next_r += 1;
                Loc::R(next_r - 1)
            }
            ValType::I64 => {
                assert!(
                    next_r + 2 <= 4,
                    "stack arguments are not needed by these tests"
                );
                next_r += 2;
                Loc::Pair(next_r - 2, next_r - 1)
            }
            ValType::F32 => {
                let s = s_used.iter().position(|u| !u).expect("free s register");
                s_used[s] = true;
                Loc::S(s as u8)
            }
            ValType::F64 => {
                let d = (0..8)
                    .find(|d| !s_used[2 * d] && !s_used[2 * d + 1])
                    .expect("free d register");
                s_used[2 * d] = true;
                s_used[2 * d + 1] = true;
                Loc::D(d as u8)
            }
            other => panic!("{other:?} values are not needed by these tests"),
        })
        .collect()
}

/// `rN`.
pub fn r(n: u8) -> Reg {
    Reg::new(n).expect("register")
}

impl<'m> Text<'m> {
    /// Writes the body of defined function `index` (module index space).
    pub fn function(&mut self, index: u32, emit: impl FnOnce(&mut Self)) {
        let defined = (index - self.module.num_imported_funcs) as usize;
        let label = self.asm.new_label();
        self.asm.bind(label).unwrap();
        let start = self.asm.offset();
        emit(self);
        self.bodies[defined] = Some((label, start, self.asm.offset()));
    }

    /// Lists the instruction just emitted in the trap table with `code`.
    pub fn listed(&mut self, code: TrapCode) {
        let offset = self.asm.last_instruction_offset();
        self.traps.push(TrapEntry {
            offset,
            code: code.as_u8(),
        });
    }

    /// `udf #(0x80 + code)`, listed in the trap table (DESIGN 7).
    pub fn udf_trap(&mut self, code: TrapCode) {
        self.asm.udf(0x80 + code.as_u8()).unwrap();
        self.listed(code);
    }

    /// Offset of field `field` of the `VMFuncRef` of function `index` in the vmctx.
    pub fn func_ref_field(&self, index: u32, field: u32) -> i32 {
        (self.offsets.func_ref(index) + field) as i32
    }

    /// `ldr rt, [rn, #offset]`.
    pub fn ldr(&mut self, rt: Reg, rn: Reg, offset: i32) {
        self.asm
            .ldr(Width::W32, rt, Addr::Offset(rn, offset))
            .unwrap();
    }

    /// Loads memory 0's base into r7 and its bound (length - 4, DESIGN 8) into r8, from the
    /// vmctx in r10, when the module defines memory 0.
    fn instance_registers(&mut self) {
        if self.module.memories.is_empty() {
            return;
        }
        assert_eq!(
            self.module.num_imported_memories, 0,
            "defined memory 0 only"
        );
        let def = self.offsets.defined_memory(0) as i32;
        self.ldr(r(7), r(10), def + MEMORY_BASE as i32);
        self.ldr(r(8), r(10), def + MEMORY_LENGTH as i32);
        self.asm.sub(Flags::Any, r(8), r(8), 4u32).unwrap();
    }

    fn load_values(&mut self, base: Reg, types: &[ValType]) {
        for (i, loc) in assign(types).into_iter().enumerate() {
            let at = 16 * i as i32;
            match loc {
                Loc::R(n) => self.ldr(r(n), base, at),
                Loc::Pair(lo, hi) => self.asm.ldrd(r(lo), r(hi), Addr::Offset(base, at)).unwrap(),
                Loc::S(n) => self.asm.vldr(FReg::S(n), base, at).unwrap(),
                Loc::D(n) => self.asm.vldr(FReg::D(n), base, at).unwrap(),
            }
        }
    }

    fn store_values(&mut self, base: Reg, types: &[ValType]) {
        for (i, loc) in assign(types).into_iter().enumerate() {
            let at = 16 * i as i32;
            match loc {
                Loc::R(n) => self
                    .asm
                    .str(Width::W32, r(n), Addr::Offset(base, at))
                    .unwrap(),
                Loc::Pair(lo, hi) => self.asm.strd(r(lo), r(hi), Addr::Offset(base, at)).unwrap(),
                Loc::S(n) => self.asm.vstr(FReg::S(n), base, at).unwrap(),
                Loc::D(n) => self.asm.vstr(FReg::D(n), base, at).unwrap(),
            }
        }
    }

    /// The array-entry trampoline of a function (DESIGN 6.4): AAPCS
    /// `u32 (callee_vmctx r0, caller_vmctx r1, values r2, count r3)`.
    fn array_entry(&mut self, body: Label, params: &[ValType], results: &[ValType]) -> u32 {
        let a = &mut self.asm;
        let start = a.offset();
        // 9 registers (36 bytes) + 12: sp stays 8-aligned; [sp] keeps `values`.
        a.push(RegList::of(&[
            r(4),
            r(5),
            r(6),
            r(7),
            r(8),
            r(9),
            r(10),
            r(11),
            Reg::LR,
        ]))
        .unwrap();
        a.sub(Flags::Any, Reg::SP, Reg::SP, 12u32).unwrap();
        a.mov(Flags::Any, r(10), r(0)).unwrap();
        self.instance_registers();
        let a = &mut self.asm;
        a.str(Width::W32, r(2), Addr::Offset(Reg::SP, 0)).unwrap();
        a.mov(Flags::Any, Reg::R12, r(2)).unwrap();
        self.load_values(Reg::R12, params);
        self.asm.bl_label(body).unwrap();
        self.ldr(Reg::R12, Reg::SP, 0);
        self.store_values(Reg::R12, results);
        let a = &mut self.asm;
        a.mov(Flags::Any, r(0), 0u32).unwrap();
        a.add(Flags::Any, Reg::SP, Reg::SP, 12u32).unwrap();
        a.pop(RegList::of(&[
            r(4),
            r(5),
            r(6),
            r(7),
            r(8),
            r(9),
            r(10),
            r(11),
            Reg::PC,
        ]))
        .unwrap();
        start
    }

    /// The wasm-to-array trampoline of an imported function type (DESIGN 6.5): wasm
    /// convention, the host context in r10 and the caller's vmctx in r12. The `ValRaw` buffer
    /// is 16-aligned, as Rust's `ValRaw` is.
    fn wasm_to_array(&mut self, params: &[ValType], results: &[ValType]) -> u32 {
        let slots = params.len().max(results.len()).max(1) as u32;
        let failed = self.asm.new_label();
        let a = &mut self.asm;
        let start = a.offset();
        a.push(RegList::of(&[r(4), r(5), r(6), Reg::LR])).unwrap();
        a.mov(Flags::Any, r(4), Reg::R12).unwrap();
        a.mov(Flags::Any, r(6), Reg::SP).unwrap();
        a.sub(Flags::Any, Reg::SP, Reg::SP, 16 * slots).unwrap();
        a.mov(Flags::Any, r(5), Reg::SP).unwrap();
        a.bic(Flags::Any, r(5), r(5), 15u32).unwrap();
        a.mov(Flags::Any, Reg::SP, r(5)).unwrap();
        if self.misaligned_value_buffers {
            a.sub(Flags::Any, Reg::SP, Reg::SP, 8u32).unwrap();
        }
        self.store_values(Reg::SP, params);
        let a = &mut self.asm;
        a.mov(Flags::Any, r(0), r(10)).unwrap();
        a.mov(Flags::Any, r(1), r(4)).unwrap();
        a.mov(Flags::Any, r(2), Reg::SP).unwrap();
        a.mov(Flags::Any, r(3), slots).unwrap();
        self.ldr(Reg::R12, r(10), HOST_CONTEXT_ARRAY_CALL as i32);
        let a = &mut self.asm;
        a.blx(Reg::R12).unwrap();
        a.cbz(true, r(0), failed).unwrap();
        self.load_values(Reg::SP, results);
        let a = &mut self.asm;
        a.mov(Flags::Any, Reg::SP, r(6)).unwrap();
        a.pop(RegList::of(&[r(4), r(5), r(6), Reg::PC])).unwrap();
        // A non-zero status is a dynamic trap code: the caller's `Trap` libcall.
        a.bind(failed).unwrap();
        a.mov(Flags::Any, r(1), r(0)).unwrap();
        a.mov(Flags::Any, r(0), r(4)).unwrap();
        let libcalls = self.offsets.libcalls() as i32;
        self.ldr(Reg::R12, r(4), libcalls);
        self.ldr(Reg::R12, Reg::R12, Libcall::Trap as i32 * 4);
        self.asm.blx(Reg::R12).unwrap();
        // `Trap` never returns; nothing is listed here, so reaching this would be reported.
        self.asm.udf(0).unwrap();
        start
    }
}

/// Builds an image for `target` from the module `wat` (bodies ignored) and the Thumb code
/// `write` emits for its defined functions.
pub fn build_image(
    target: Target,
    wat: &str,
    tunables: Tunables,
    write: impl FnOnce(&mut Text<'_>),
) -> BuiltImage {
    let wasm = host_compiler::wat_or_wasm(wat.as_bytes()).expect("wat");
    let (module, _) = host_compiler::module::parse(&wasm).expect("module");
    let profile = Profile::for_target(target).expect("a Cortex-M target");
    let offsets = VmOffsets::new(4, module.counts()).expect("layout");
    let mut text = Text {
        asm: Assembler::new(profile),
        module: &module,
        offsets,
        bodies: vec![None; module.num_defined_funcs() as usize],
        traps: Vec::new(),
        misaligned_value_buffers: false,
    };
    write(&mut text);

    let mut functions = Vec::new();
    for (defined, body) in text.bodies.clone().into_iter().enumerate() {
        let index = module.num_imported_funcs + defined as u32;
        let (label, start, end) = body.unwrap_or_else(|| panic!("no body for function {index}"));
        let sig = &module.types[module.func_types[index as usize] as usize];
        let array_trampoline = if module.needs_array_trampoline(index) {
            text.array_entry(label, &sig.params, &sig.results)
        } else {
            NO_TRAMPOLINE
        };
        functions.push(FunctionEntry {
            type_index: module.func_types[index as usize],
            offset: start,
            len: end - start,
            array_trampoline,
        });
    }
    let mut wasm_to_array = Vec::new();
    for import in &module.imports {
        if let ImportKind::Func(type_index) = import.kind
            && !wasm_to_array.iter().any(|(t, _)| *t == type_index)
        {
            let sig = &module.types[type_index as usize];
            let offset = text.wasm_to_array(&sig.params, &sig.results);
            wasm_to_array.push((type_index, offset));
        }
    }
    let mut traps = text.traps.clone();
    traps.sort_by_key(|t| t.offset);
    let code = text.asm.finish().expect("assemble").code;
    let info = CodeInfo {
        functions: functions.clone(),
        wasm_to_array: wasm_to_array.clone(),
        traps: &traps,
    };
    let metadata = encode_metadata(&module, &info, tunables).expect("metadata");
    let bytes = assemble(target, &tunables, &metadata, &code).expect("image");
    BuiltImage {
        bytes,
        functions,
        wasm_to_array,
        traps,
    }
}

/// A module with one exported function `answer` returning 42: the smallest image that runs.
pub fn answer_image(target: Target, tunables: Tunables) -> BuiltImage {
    build_image(
        target,
        r#"(module (func (export "answer") (result i32) unreachable))"#,
        tunables,
        |t| {
            t.function(0, |t| {
                t.asm.mov(Flags::Any, r(0), 42u32).unwrap();
                t.asm.bx(Reg::LR).unwrap();
            })
        },
    )
}
