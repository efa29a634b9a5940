//! The harness backend over our toolchain: `host_compiler` compiles each module to an image for
//! the native target, `device_runtime` (hosted platform) loads, links and runs it.

use device_runtime::{Caller, Engine, ExternRef, Func, Instance, Linker, Module, Store, Val};
use host_compiler::{BoundsChecks, Compiler, CompilerConfig, Proposals};

use crate::harness::{Backend, CallError, CompileError, InstantiateError, SPECTEST_WAT, Value};

/// Images, modules and the engine are leaked so they outlive the store (one store per file;
/// each file runs in its own process).
pub struct Device {
    engine: &'static Engine,
    config: CompilerConfig,
    compiler: Compiler,
    store: Store<'static, ()>,
    linker: Linker<()>,
}

/// Compiles `wasm` for the native target.
pub fn compile_native(wasm: &[u8]) -> Result<Vec<u8>, String> {
    let compiler = Compiler::new(CompilerConfig::for_target(crate::native_target()))
        .map_err(|e| e.to_string())?;
    compiler
        .compile(wasm)
        .map(|c| c.bytes)
        .map_err(|e| e.to_string())
}

impl Device {
    /// A backend with the `spectest` module registered (explicit bounds checks).
    pub fn new() -> Device {
        Device::with_bounds_checks(BoundsChecks::Explicit)
    }

    /// A backend whose modules (spectest included) are compiled with guard-elided bounds
    /// checks (default 64 KiB guard) and run on an engine with the default reservation.
    pub fn new_guard_elided() -> Device {
        Device::with_bounds_checks(BoundsChecks::GuardElided)
    }

    /// A backend with the `spectest` module registered, compiling with `bounds`.
    pub fn with_bounds_checks(bounds: BoundsChecks) -> Device {
        Device::with_config(
            CompilerConfig::for_target(crate::native_target())
                .bounds_checks(bounds)
                .proposals(Proposals::NONE),
        )
    }

    /// A backend with the `spectest` module registered, compiling with `config` (its target
    /// must be the native one; the harness sets the proposals per file).
    pub fn with_config(config: CompilerConfig) -> Device {
        let engine: &'static Engine = Box::leak(Box::new(Engine::default()));
        let compiler = Compiler::new(config.clone()).expect("compiler for the native target");
        let store = Store::new(engine, ());
        let mut linker = Linker::<()>::new(engine);
        linker
            .func_wrap("spectest", "print", |_c: Caller<'_, '_, ()>| {})
            .expect("print");
        linker
            .func_wrap("spectest", "print_i32", |_c: Caller<'_, '_, ()>, _: i32| {})
            .expect("print_i32");
        linker
            .func_wrap("spectest", "print_i64", |_c: Caller<'_, '_, ()>, _: i64| {})
            .expect("print_i64");
        linker
            .func_wrap("spectest", "print_f32", |_c: Caller<'_, '_, ()>, _: f32| {})
            .expect("print_f32");
        linker
            .func_wrap("spectest", "print_f64", |_c: Caller<'_, '_, ()>, _: f64| {})
            .expect("print_f64");
        linker
            .func_wrap(
                "spectest",
                "print_i32_f32",
                |_c: Caller<'_, '_, ()>, _: i32, _: f32| {},
            )
            .expect("print_i32_f32");
        linker
            .func_wrap(
                "spectest",
                "print_f64_f64",
                |_c: Caller<'_, '_, ()>, _: f64, _: f64| {},
            )
            .expect("print_f64_f64");
        let mut d = Device {
            engine,
            config,
            compiler,
            store,
            linker,
        };
        let wasm = wat::parse_str(SPECTEST_WAT).expect("spectest wat");
        let m = d.compile(&wasm).expect("spectest compiles");
        let inst = d.instantiate(&m).expect("spectest instantiates");
        d.register("spectest", &inst).expect("register spectest");
        d
    }

    fn to_val(v: &Value) -> Val {
        match *v {
            Value::I32(x) => Val::I32(x),
            Value::I64(x) => Val::I64(x),
            Value::F32(b) => Val::F32(b),
            Value::F64(b) => Val::F64(b),
            Value::V128(_) => panic!("v128 arguments are not supported (SIMD files are excluded)"),
            Value::FuncRef(_) => Val::FuncRef(None),
            Value::ExternRef(None) => Val::ExternRef(None),
            Value::ExternRef(Some(id)) => Val::ExternRef(Some(ExternRef::new(id))),
        }
    }

    fn from_val(v: &Val) -> Value {
        match v {
            Val::I32(x) => Value::I32(*x),
            Val::I64(x) => Value::I64(*x),
            Val::F32(b) => Value::F32(*b),
            Val::F64(b) => Value::F64(*b),
            Val::FuncRef(f) => Value::FuncRef(f.is_some()),
            Val::ExternRef(e) => Value::ExternRef(e.as_ref().map(|e| e.id())),
        }
    }
}

impl Default for Device {
    fn default() -> Self {
        Device::new()
    }
}

fn trap_message(e: &device_runtime::Error) -> Option<String> {
    e.trap_code().map(|c| c.message().to_string())
}

impl Backend for Device {
    type Module = &'static Module<'static>;
    type Instance = Instance;

    fn compile(&mut self, wasm: &[u8]) -> Result<Self::Module, CompileError> {
        let image = self
            .compiler
            .compile(wasm)
            .map_err(|e| CompileError::Rejected(e.to_string()))?
            .bytes;
        let image: &'static [u8] = Box::leak(image.into_boxed_slice());
        let module = Module::new(self.engine, image)
            .map_err(|e| CompileError::Broken(format!("Module::new: {e}")))?;
        Ok(Box::leak(Box::new(module)))
    }

    fn instantiate(&mut self, module: &Self::Module) -> Result<Instance, InstantiateError> {
        self.linker
            .instantiate(&mut self.store, module)
            .map_err(|e| match e {
                device_runtime::Error::Link(l) => InstantiateError::Link(l.to_string()),
                e => match trap_message(&e) {
                    Some(m) => InstantiateError::Trap(m),
                    None => InstantiateError::Other(e.to_string()),
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
        let params: Vec<Val> = args.iter().map(Device::to_val).collect();
        let n = f.ty(&self.store).results().len();
        let mut results = vec![Val::I32(0); n];
        match f.call(&mut self.store, &params, &mut results) {
            Ok(()) => Ok(results.iter().map(Device::from_val).collect()),
            Err(e) => Err(match trap_message(&e) {
                Some(m) => CallError::Trap(m),
                None => CallError::Other(e.to_string()),
            }),
        }
    }

    fn get_global(&mut self, instance: &Instance, global: &str) -> Result<Value, String> {
        let g = instance
            .get_global(&self.store, global)
            .ok_or_else(|| format!("no exported global {global:?}"))?;
        Ok(Device::from_val(&g.get(&self.store)))
    }

    fn set_proposals(&mut self, proposals: Proposals) {
        self.config = self.config.clone().proposals(proposals);
        self.compiler = Compiler::new(self.config.clone()).expect("compiler for the native target");
    }
}
