//! Size probe: loads an image from a RAM buffer, instantiates it with one host function,
//! calls an export and reads memory and a global, the way a firmware uses the runtime.
//! Nothing here runs in CI; it exists to be linked and measured (`scripts/runtime-size.sh`).

#![no_std]
#![no_main]

use device_runtime::{Caller, Engine, Linker, Module, Store};

/// Where a flashing tool would place the image; filled at run time, so the optimizer cannot
/// know its contents and must keep every path of the loader.
static mut IMAGE: [u8; 4096] = [0; 4096];
static mut ARENA: [u8; 16384] = [0; 16384];

fn run() -> i32 {
    // SAFETY: single-threaded bare-metal program; nothing else references these statics.
    let (image, arena) = unsafe {
        (
            &*core::ptr::addr_of!(IMAGE),
            &mut *core::ptr::addr_of_mut!(ARENA),
        )
    };
    let image = core::hint::black_box(&image[..]);
    let mut config = device_runtime::EngineConfig::default();
    // A Cortex-M firmware names its core (without it the runtime refuses every image, and the
    // linker would drop everything past verification).
    if cfg!(target_arch = "arm") {
        config.core = Some(device_runtime::Target::CortexM4F);
    }
    let engine = Engine::new(&config);
    let Ok(module) = Module::new(&engine, image) else {
        return 1;
    };
    let Ok(mut store) = Store::with_arena(&engine, 0u32, arena) else {
        return 2;
    };
    let mut linker = Linker::<u32>::new(&engine);
    if linker
        .func_wrap("env", "log", |mut c: Caller<'_, '_, u32>, x: i32| {
            *c.data_mut() += x as u32
        })
        .is_err()
    {
        return 3;
    }
    let Ok(instance) = linker.instantiate(&mut store, &module) else {
        return 4;
    };
    let Ok(f) = instance.get_typed_func::<(i32, i32), i32>(&store, "add") else {
        return 5;
    };
    let Ok(sum) = f.call(&mut store, (1, 2)) else {
        return 6;
    };
    let memory_byte = instance
        .get_memory(&store, "memory")
        .map(|m| m.data(&store).first().copied().unwrap_or(0));
    let global = instance.get_global(&store, "g").map(|g| g.get(&store));
    sum + memory_byte.unwrap_or(0) as i32
        + matches!(global, Some(device_runtime::Val::I32(_))) as i32
}

/// Entry point named by the linker script.
#[unsafe(no_mangle)]
pub extern "C" fn probe_entry() -> ! {
    let status = run();
    core::hint::black_box(status);
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    loop {}
}
