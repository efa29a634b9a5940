//! The spec harness driven over wasmi 2.0, the reference interpreter: checks the harness itself
//! (value and NaN matching, registration, link vs trap errors, text-only cases), so that a
//! failure `tests/spec.rs` counts against our toolchain is the toolchain's.
//!
//! `cargo test -p tests --test spec_reference`

use host_compiler::Proposals;
use tests::harness::{Backend, CallError, CompileError, InstantiateError, SPECTEST_WAT, Value};
use tests::spec_runner::{SpecConfig, main as spec_main};
use wasmi::{Engine, Extern, ExternRef, Func, Instance, Linker, Module, Nullable, Store, Val};

struct Wasmi {
    engine: Engine,
    store: Store<()>,
    linker: Linker<()>,
}

impl Wasmi {
    fn new() -> Wasmi {
        Wasmi::with_proposals(Proposals::NONE)
    }

    /// WebAssembly 2.0 plus `proposals`: later proposals change what is valid.
    fn with_proposals(proposals: Proposals) -> Wasmi {
        let mut config = wasmi::Config::default();
        config
            .wasm_multi_memory(proposals.multi_memory)
            .wasm_tail_call(false)
            .wasm_extended_const(proposals.extended_const)
            .wasm_memory64(proposals.memory64)
            .wasm_custom_page_sizes(proposals.custom_page_sizes)
            .wasm_wide_arithmetic(false);
        let engine = Engine::new(&config);
        let mut store = Store::new(&engine, ());
        let mut linker = Linker::new(&engine);
        linker.func_wrap("spectest", "print", || {}).unwrap();
        linker
            .func_wrap("spectest", "print_i32", |_: i32| {})
            .unwrap();
        linker
            .func_wrap("spectest", "print_i64", |_: i64| {})
            .unwrap();
        linker
            .func_wrap("spectest", "print_f32", |_: f32| {})
            .unwrap();
        linker
            .func_wrap("spectest", "print_f64", |_: f64| {})
            .unwrap();
        linker
            .func_wrap("spectest", "print_i32_f32", |_: i32, _: f32| {})
            .unwrap();
        linker
            .func_wrap("spectest", "print_f64_f64", |_: f64, _: f64| {})
            .unwrap();
        let wasm = wat::parse_str(SPECTEST_WAT).unwrap();
        let module = Module::new(&engine, &wasm).unwrap();
        let inst = linker.instantiate_and_start(&mut store, &module).unwrap();
        linker.instance(&mut store, "spectest", inst).unwrap();
        Wasmi {
            engine,
            store,
            linker,
        }
    }

    fn wasmi_val(&mut self, v: &Value) -> Val {
        match *v {
            Value::I32(x) => Val::I32(x),
            Value::I64(x) => Val::I64(x),
            Value::F32(b) => Val::F32(wasmi::F32::from_bits(b)),
            Value::F64(b) => Val::F64(wasmi::F64::from_bits(b)),
            Value::V128(_) => panic!("v128 argument"),
            Value::FuncRef(_) => Val::FuncRef(Nullable::Null),
            Value::ExternRef(None) => Val::ExternRef(Nullable::Null),
            Value::ExternRef(Some(id)) => {
                Val::ExternRef(Nullable::Val(ExternRef::new(&mut self.store, id)))
            }
        }
    }

    fn harness_value(&self, v: &Val) -> Value {
        match v {
            Val::I32(x) => Value::I32(*x),
            Val::I64(x) => Value::I64(*x),
            Val::F32(x) => Value::F32(x.to_bits()),
            Val::F64(x) => Value::F64(x.to_bits()),
            Val::V128(_) => Value::V128(0),
            Val::FuncRef(f) => Value::FuncRef(!f.is_null()),
            Val::ExternRef(e) => Value::ExternRef(e.val().map(|e| {
                *e.data(&self.store)
                    .downcast_ref::<u32>()
                    .expect("u32 externref")
            })),
        }
    }
}

fn trap_message(e: &wasmi::Error) -> Option<String> {
    e.as_trap_code().map(|c| match c {
        // wasmi's messages for these differ from the spec's; the harness only warns about
        // messages, so map them to keep the reference run's warning list meaningful.
        wasmi::TrapCode::IndirectCallToNull => "uninitialized element".to_string(),
        wasmi::TrapCode::TableOutOfBounds => {
            "undefined element: out of bounds table access".to_string()
        }
        c => c.to_string(),
    })
}

impl Backend for Wasmi {
    type Module = Module;
    type Instance = Instance;

    fn compile(&mut self, wasm: &[u8]) -> Result<Module, CompileError> {
        Module::new(&self.engine, wasm).map_err(|e| CompileError::Rejected(e.to_string()))
    }

    fn instantiate(&mut self, module: &Module) -> Result<Instance, InstantiateError> {
        self.linker
            .instantiate_and_start(&mut self.store, module)
            .map_err(|e| match trap_message(&e) {
                Some(m) => InstantiateError::Trap(m),
                None => match e.kind() {
                    // wasmi reports an element segment that does not fit as an instantiation error;
                    // the spec (and our runtime) trap.
                    wasmi::errors::ErrorKind::Instantiation(_)
                        if e.to_string().starts_with("out of bounds table access") =>
                    {
                        InstantiateError::Trap("out of bounds table access".into())
                    }
                    wasmi::errors::ErrorKind::Linker(_)
                    | wasmi::errors::ErrorKind::Instantiation(_) => {
                        InstantiateError::Link(e.to_string())
                    }
                    _ => InstantiateError::Other(e.to_string()),
                },
            })
    }

    fn register(&mut self, name: &str, instance: &Instance) -> Result<(), String> {
        self.linker
            .instance(&mut self.store, name, *instance)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn invoke(
        &mut self,
        instance: &Instance,
        func: &str,
        args: &[Value],
    ) -> Result<Vec<Value>, CallError> {
        let f: Func = instance
            .get_func(&self.store, func)
            .ok_or_else(|| CallError::Other(format!("no exported function {func:?}")))?;
        let params: Vec<Val> = args.iter().map(|a| self.wasmi_val(a)).collect();
        let ty = f.ty(&self.store);
        let mut results: Vec<Val> = ty
            .results()
            .iter()
            .map(|t| Val::default_for_ty(*t))
            .collect();
        match f.call(&mut self.store, &params, &mut results) {
            Ok(()) => Ok(results.iter().map(|v| self.harness_value(v)).collect()),
            Err(e) => Err(match trap_message(&e) {
                Some(m) => CallError::Trap(m),
                None => CallError::Other(e.to_string()),
            }),
        }
    }

    fn get_global(&mut self, instance: &Instance, global: &str) -> Result<Value, String> {
        match instance.get_export(&self.store, global) {
            Some(Extern::Global(g)) => Ok(self.harness_value(&g.get(&self.store))),
            _ => Err(format!("no exported global {global:?}")),
        }
    }

    fn set_proposals(&mut self, proposals: Proposals) {
        *self = Wasmi::with_proposals(proposals);
    }
}

fn main() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    spec_main(
        SpecConfig {
            label: "wasmi 2.0 reference".into(),
            expectations: dir.join("spec-expected-failures-wasmi.txt"),
            target_expectations: None,
        },
        Wasmi::new,
    );
}
