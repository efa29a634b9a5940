//! Execution tests: translate a module, compile it for the host (x86_64 Linux), lay it out
//! with Cranelift's text-section builder, map it executable and call functions through their
//! array-entry trampolines with a hand-built vmctx.
//!
//! This is a miniature of the real pipeline, independent of the driver and the device runtime,
//! so that translator semantics (control flow, multi-value, memory, calls, tables, globals,
//! host calls through the wasm-to-array trampoline) are tested where they are written. Traps
//! are not exercised here: the `Trap` helper unwinds, which needs the real runtime.

use std::ffi::c_void;

use cranelift_codegen::control::ControlPlane;
use cranelift_codegen::ir::{self, ExternalName};
use cranelift_codegen::isa::{self, CallConv, OwnedTargetIsa};
use cranelift_codegen::{Context, FinalizedRelocTarget, settings, settings::Configurable};
use shared_types::Libcall;
use shared_types::vmoffsets::MEMORY_LENGTH;
use wasmparser::FuncValidatorAllocations;

use super::tests::parse;
use super::translate_function;
use crate::cranelift::env::ModuleEnv;
use crate::cranelift::trampolines::{array_entry_trampoline, wasm_to_array_trampoline};

unsafe extern "C" {
    fn mmap(
        addr: *mut c_void,
        len: usize,
        prot: i32,
        flags: i32,
        fd: i32,
        offset: i64,
    ) -> *mut c_void;
}

const PROT_RWX: i32 = 7;
const MAP_PRIVATE_ANONYMOUS: i32 = 0x22;
const PAGE: usize = 65536;
const MAX_PAGES: usize = 4;

fn host_isa() -> OwnedTargetIsa {
    let mut flags = settings::builder();
    flags.set("opt_level", "speed").unwrap();
    flags.set("enable_multi_ret_implicit_sret", "true").unwrap();
    let mut builder = isa::lookup_by_name("x86_64-unknown-linux-gnu").unwrap();
    builder.enable("has_sse41").unwrap();
    builder.finish(settings::Flags::new(flags)).unwrap()
}

/// A host function callable from wasm: its context starts with the array-call pointer.
#[repr(C)]
struct HostContext {
    array_call: unsafe extern "C" fn(*mut u8, *mut u8, *mut u128, usize) -> u32,
}

/// Host import used by the tests: `(i32, i64) -> (i64, i32)` returning `(a + b, a * 2)`.
unsafe extern "C" fn host_add(
    _callee: *mut u8,
    _caller: *mut u8,
    values: *mut u128,
    count: usize,
) -> u32 {
    assert_eq!(count, 2);
    // SAFETY: the wasm-to-array trampoline passes a buffer of `count` slots.
    let slots = unsafe { std::slice::from_raw_parts_mut(values, count) };
    let a = slots[0] as u32 as i32 as i64;
    let b = slots[1] as u64 as i64;
    slots[0] = (a + b) as u64 as u128;
    slots[1] = (a * 2) as u32 as u128;
    0
}

unsafe extern "C" fn libcall_unimplemented() {
    eprintln!("unexpected runtime helper call in a JIT test");
    std::process::abort();
}

/// `MemoryGrow` for the single defined memory of a test module (capacity `MAX_PAGES`).
unsafe extern "C" fn libcall_memory_grow(vmctx: *mut u8, memory: u32, delta: u64) -> u64 {
    assert_eq!(memory, 0);
    let offset = VMCTX_MEMORY_OFFSET.with(|o| o.get());
    // SAFETY: `offset` is the defined memory's VMMemoryDefinition inside the live vmctx.
    unsafe {
        let length = vmctx.add(offset + MEMORY_LENGTH as usize) as *mut u64;
        let old = *length / PAGE as u64;
        if old + delta > MAX_PAGES as u64 {
            return u64::MAX;
        }
        *length += delta * PAGE as u64;
        old
    }
}

thread_local! {
    static VMCTX_MEMORY_OFFSET: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An instantiated test module.
struct Instance {
    env: ModuleEnv,
    entries: Vec<usize>,
    vmctx: Vec<u128>,
    _code: *mut u8,
    _memory: Vec<u8>,
    _table: Vec<usize>,
    _store: Box<[usize; 8]>,
    _libcalls: Box<[usize; Libcall::COUNT]>,
    _host: Box<HostContext>,
}

impl Instance {
    fn new(wat: &str) -> Instance {
        let wasm = wat::parse_str(wat).unwrap();
        let (env, bodies) = parse(&wasm);
        let isa = host_isa();
        let num_imported = env.num_imported_funcs;
        let num_defined = env.func_types.len() as u32 - num_imported;
        let num_import_types = if num_imported > 0 { 1 } else { 0 };

        // Functions in layout order: bodies, array entries, wasm-to-array trampolines.
        let mut funcs: Vec<ir::Function> = Vec::new();
        for (index, body, to_validate) in bodies {
            let mut validator = to_validate.into_validator(FuncValidatorAllocations::default());
            funcs.push(translate_function(&env, index, &body, &mut validator).unwrap());
        }
        for index in num_imported..num_imported + num_defined {
            funcs.push(array_entry_trampoline(&env, index, CallConv::SystemV));
        }
        if num_imported > 0 {
            funcs.push(wasm_to_array_trampoline(
                &env,
                env.func_types[0],
                CallConv::SystemV,
            ));
        }

        let mut text = isa.text_section_builder(funcs.len());
        let mut control = ControlPlane::default();
        let mut offsets = Vec::new();
        for func in &funcs {
            let mut context = Context::for_function(func.clone());
            let code = context
                .compile(&*isa, &mut ControlPlane::default())
                .unwrap();
            let align = isa.function_alignment().minimum.max(code.buffer.alignment);
            let offset = text.append(true, code.code_buffer(), align, &mut control);
            for reloc in code.buffer.relocs() {
                let FinalizedRelocTarget::ExternalName(ExternalName::User(name)) = &reloc.target
                else {
                    panic!("unexpected reloc {reloc:?}");
                };
                let callee = func.params.user_named_funcs()[*name].index;
                let label = (callee - num_imported) as usize;
                assert!(text.resolve_reloc(
                    offset + u64::from(reloc.offset),
                    reloc.kind,
                    reloc.addend,
                    label
                ));
            }
            offsets.push(offset as usize);
        }
        let bytes = text.finish(&mut control);
        // SAFETY: anonymous private mapping; we copy the finished text into it.
        let code = unsafe {
            let p = mmap(
                std::ptr::null_mut(),
                bytes.len().max(1),
                PROT_RWX,
                MAP_PRIVATE_ANONYMOUS,
                -1,
                0,
            );
            assert!(!p.is_null() && p as isize != -1, "mmap failed");
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), p as *mut u8, bytes.len());
            p as *mut u8
        };
        let address = |label: usize| code as usize + offsets[label];

        let o = env.offsets;
        let mut vmctx = vec![0u128; o.size() as usize / 16];
        let base = vmctx.as_mut_ptr() as *mut u8;
        let write = |offset: u32, value: usize| {
            // SAFETY: every offset comes from `VmOffsets` and lies inside the vmctx.
            unsafe { (base.add(offset as usize) as *mut usize).write_unaligned(value) }
        };
        let write32 = |offset: u32, value: u32| {
            // SAFETY: as above.
            unsafe { (base.add(offset as usize) as *mut u32).write_unaligned(value) }
        };

        let store = Box::new([0usize; 8]); // stack_limit 0: never overflows
        write(o.store_context(), store.as_ptr() as usize);
        let mut libcalls = Box::new([libcall_unimplemented as *const () as usize; Libcall::COUNT]);
        libcalls[Libcall::MemoryGrow.index() as usize] = libcall_memory_grow as *const () as usize;
        write(o.libcalls(), libcalls.as_ptr() as usize);
        for t in 0..env.types.len() as u32 {
            write32(o.type_id(t), t);
        }
        let host = Box::new(HostContext {
            array_call: host_add,
        });
        for f in 0..env.func_types.len() as u32 {
            let r = o.func_ref(f);
            if f < num_imported {
                let trampoline = address(2 * num_defined as usize);
                write(r + o.func_ref_wasm_call(), trampoline);
                write(
                    r + o.func_ref_vmctx(),
                    &*host as *const HostContext as usize,
                );
            } else {
                let d = (f - num_imported) as usize;
                write(r + o.func_ref_wasm_call(), address(d));
                write(
                    r + o.func_ref_array_call(),
                    address(num_defined as usize + d),
                );
                write(r + o.func_ref_vmctx(), base as usize);
            }
            write32(r + o.func_ref_type_id(), env.func_types[f as usize]);
        }
        assert!(num_import_types <= 1);

        let mut memory = vec![0u8; PAGE * MAX_PAGES];
        if let Some(m) = env.memories.first() {
            write(o.defined_memory(0), memory.as_mut_ptr() as usize);
            write(o.defined_memory(0) + MEMORY_LENGTH, m.min as usize * PAGE);
            VMCTX_MEMORY_OFFSET.with(|c| c.set(o.defined_memory(0) as usize));
        }
        // Table 0 (if any): element i = funcref of function i.
        let mut table: Vec<usize> = (0..env.func_types.len() as u32)
            .map(|f| base as usize + o.func_ref(f) as usize)
            .collect();
        table.push(0); // a null entry at the end
        if !env.tables.is_empty() {
            write(
                o.defined_table(0) + o.table_base(),
                table.as_mut_ptr() as usize,
            );
            write32(o.defined_table(0) + o.table_length(), table.len() as u32);
        }

        let entries = (0..num_defined as usize)
            .map(|d| address(num_defined as usize + d))
            .collect();
        Instance {
            env,
            entries,
            vmctx,
            _code: code,
            _memory: memory,
            _table: table,
            _store: store,
            _libcalls: libcalls,
            _host: host,
        }
    }

    /// Calls function `index` with raw argument slots; returns the raw result slots.
    fn call(&mut self, index: u32, args: &[u128]) -> Vec<u128> {
        let sig = self.env.func_sig(index).clone();
        assert_eq!(sig.params.len(), args.len());
        let mut slots = vec![0u128; sig.params.len().max(sig.results.len())];
        slots[..args.len()].copy_from_slice(args);
        let entry = self.entries[(index - self.env.num_imported_funcs) as usize];
        // SAFETY: `entry` is the array-entry trampoline of `index` in the mapped text; the
        // vmctx is laid out for this module and outlives the call.
        let status = unsafe {
            let f: unsafe extern "C" fn(*mut u8, *mut u8, *mut u128, usize) -> u32 =
                std::mem::transmute(entry);
            let vmctx = self.vmctx.as_mut_ptr() as *mut u8;
            f(vmctx, vmctx, slots.as_mut_ptr(), slots.len())
        };
        assert_eq!(status, 0);
        slots.truncate(sig.results.len());
        slots
    }

    fn call_i32(&mut self, index: u32, args: &[i32]) -> i32 {
        let args: Vec<u128> = args.iter().map(|a| *a as u32 as u128).collect();
        self.call(index, &args)[0] as u32 as i32
    }

    fn call_i64(&mut self, index: u32, args: &[i64]) -> i64 {
        let args: Vec<u128> = args.iter().map(|a| *a as u64 as u128).collect();
        self.call(index, &args)[0] as u64 as i64
    }
}

#[test]
fn recursion_loops_and_locals() {
    let mut m = Instance::new(
        "(module
          (func $fac (param i64) (result i64)
            local.get 0 i64.eqz if (result i64) i64.const 1
            else local.get 0 local.get 0 i64.const 1 i64.sub call $fac i64.mul end)
          (func $sum (param i32) (result i32) (local i32)
            block loop
              local.get 0 i32.eqz br_if 1
              local.get 1 local.get 0 i32.add local.set 1
              local.get 0 i32.const 1 i32.sub local.set 0
              br 0
            end end
            local.get 1))",
    );
    assert_eq!(m.call_i64(0, &[20]), 2_432_902_008_176_640_000);
    assert_eq!(m.call_i32(1, &[100]), 5050);
}

#[test]
fn br_table_and_multi_value_blocks() {
    let mut m = Instance::new(
        "(module
          (func (param i32) (result i32)
            block (result i32) block (result i32) block (result i32)
              i32.const 10 local.get 0 br_table 0 1 2
            end i32.const 1 i32.add end i32.const 2 i32.add end)
          (func (param i32) (result i32 i32)
            i32.const 1 i32.const 2
            local.get 0
            if (param i32 i32) (result i32 i32) i32.add i32.const 100 else i32.sub i32.const 200 end)
          (func (param i32) (result i32)
            i32.const 0
            loop (param i32) (result i32)
              i32.const 3 i32.add
              local.get 0 i32.const 1 i32.sub local.tee 0
              br_if 0
            end)
          (func (param i32) (result i32)
            block (result i32)
              i32.const 5 local.get 0 br_if 0 drop i32.const 6
            end)
          (func (param i32) (result i32)
            local.get 0 if (result i32) i32.const 1 return else i32.const 2 end
            i32.const 40 i32.add))",
    );
    assert_eq!(m.call_i32(0, &[0]), 13);
    assert_eq!(m.call_i32(0, &[1]), 12);
    assert_eq!(m.call_i32(0, &[2]), 10);
    assert_eq!(m.call_i32(0, &[77]), 10);
    let r = m.call(1, &[1]);
    assert_eq!((r[0] as u32, r[1] as u32), (3, 100));
    let r = m.call(1, &[0]);
    assert_eq!((r[0] as u32 as i32, r[1] as u32), (-1, 200));
    assert_eq!(m.call_i32(2, &[4]), 12);
    assert_eq!(m.call_i32(3, &[1]), 5);
    assert_eq!(m.call_i32(3, &[0]), 6);
    assert_eq!(m.call_i32(4, &[1]), 1);
    assert_eq!(m.call_i32(4, &[0]), 42);
}

#[test]
fn memory_globals_and_grow() {
    let mut m = Instance::new(
        "(module
          (memory 1)
          (global $g (mut i64) (i64.const 0))
          (func (param i32 i64) (result i64)
            local.get 0 local.get 1 i64.store offset=3
            local.get 0 i32.const 0xff i32.store8 offset=3
            local.get 0 i64.load offset=3 global.set $g
            global.get $g)
          (func (param i32) (result i32)
            local.get 0 i32.load16_s offset=3)
          (func (param i32) (result i32)
            memory.size local.get 0 memory.grow i32.add memory.size i32.add))",
    );
    assert_eq!(
        m.call_i64(0, &[8, 0x1122_3344_5566_7788]),
        0x1122_3344_5566_77ff
    );
    assert_eq!(m.call_i32(1, &[8]), 0x77ff_u16 as i16 as i32);
    // size 1 + grow(2) returns 1 + new size 3 = 5
    assert_eq!(m.call_i32(2, &[2]), 5);
    // grow beyond the maximum fails with -1: 3 + -1 + 3
    assert_eq!(m.call_i32(2, &[5]), 5);
}

#[test]
fn many_params_and_results() {
    let mut m = Instance::new(
        "(module
          (func $many (param i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32 i64 f32 f64 i32)
                (result i64 f64 i32 f32 i64 f64 i32 f32 i64 f64 i32 f32 i64 f64 i32 f32 i32)
            local.get 1 local.get 3 local.get 0 local.get 2
            local.get 5 local.get 7 local.get 4 local.get 6
            local.get 9 local.get 11 local.get 8 local.get 10
            local.get 13 local.get 15 local.get 12 local.get 14 local.get 16)
          (func (result i32) (local i32)
            i32.const 1 i64.const 2 f32.const 3 f64.const 4 i32.const 5 i64.const 6 f32.const 7
            f64.const 8 i32.const 9 i64.const 10 f32.const 11 f64.const 12 i32.const 13
            i64.const 14 f32.const 15 f64.const 16 i32.const 17
            call $many
            local.set 0 drop drop drop drop drop drop drop drop drop drop drop drop drop
            i32.const 1000 i32.mul local.get 0 i32.add local.set 0 drop drop local.get 0))",
    );
    let args: Vec<u128> = (1..=17u32)
        .map(|i| match (i - 1) % 4 {
            0 => i as u128,
            1 => i as u128,
            2 => (i as f32).to_bits() as u128,
            _ => (i as f64).to_bits() as u128,
        })
        .collect();
    let r = m.call(0, &args);
    assert_eq!(r.len(), 17);
    assert_eq!(r[0] as u64, 2);
    assert_eq!(f64::from_bits(r[1] as u64), 4.0);
    assert_eq!(r[2] as u32, 1);
    assert_eq!(f32::from_bits(r[3] as u32), 3.0);
    assert_eq!(f64::from_bits(r[13] as u64), 16.0);
    assert_eq!(r[16] as u32, 17);
    assert_eq!(m.call_i32(1, &[]), 1017);
}

/// A 64-bit table (table64): `table.get`, `table.size` and `call_indirect` with i64 indices
/// below 2^32 reach the same elements as through a 32-bit table.
#[test]
fn table64_get_size_and_call_indirect() {
    let mut m = Instance::new(
        "(module
          (type $u (func (param i32) (result i32)))
          (table i64 8 funcref)
          (func $double (type $u) local.get 0 i32.const 2 i32.mul)
          (func $square (type $u) local.get 0 local.get 0 i32.mul)
          (func (param i64 i32) (result i32)
            local.get 1 local.get 0 call_indirect (type $u))
          (func (param i64) (result i64)
            local.get 0 table.get 0 ref.is_null i64.extend_i32_u
            table.size 0 i64.add))",
    );
    // Element i is function i: 0 = $double, 1 = $square; 4 functions + 1 null = 5 entries.
    assert_eq!(m.call(2, &[0, 21])[0] as u32, 42);
    assert_eq!(m.call(2, &[1, 9])[0] as u32, 81);
    assert_eq!(m.call(3, &[0])[0] as u64, 5);
    assert_eq!(m.call(3, &[4])[0] as u64, 6);
}

#[test]
fn indirect_and_host_calls() {
    let mut m = Instance::new(
        "(module
          (type $h (func (param i32 i64) (result i64 i32)))
          (type $u (func (param i32) (result i32)))
          (import \"env\" \"add\" (func $add (type $h)))
          (table 8 funcref)
          (func $double (type $u) local.get 0 i32.const 2 i32.mul)
          (func $square (type $u) local.get 0 local.get 0 i32.mul)
          (func (param i32 i32) (result i32)
            local.get 1 local.get 0 call_indirect (type $u))
          (func (param i32 i64) (result i64)
            local.get 0 local.get 1 call $add i64.extend_i32_s i64.add)
          (func (param i32) (result i32)
            local.get 0 table.get 0 ref.is_null
            table.size 0 i32.add))",
    );
    // Table element i is function i: 1 = $double, 2 = $square.
    assert_eq!(m.call_i32(3, &[1, 21]), 42);
    assert_eq!(m.call_i32(3, &[2, 9]), 81);
    // host: (a + b) + a * 2
    let r = m.call(4, &[5, 100]);
    assert_eq!(r[0] as u64, 115);
    // table has 6 funcs + 1 null = 7 entries
    assert_eq!(m.call_i32(5, &[0]), 7);
    assert_eq!(m.call_i32(5, &[6]), 8);
}
