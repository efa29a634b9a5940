//! The benchmark kernels as WebAssembly modules (`cargo build --release --target
//! wasm32-unknown-unknown --examples`): `examples/<kernel>.rs` exports one kernel, so a kernel
//! the Thumb-2 backend refuses does not take the others with it, and `examples/all.rs` exports
//! all of them (the larger module for the compile-throughput figure).
//!
//! [`export!`] defines `<kernel>(n: i32) -> i32` as the kernel's `run` (wasm has no unsigned
//! types: the bits are the same). A panic (a kernel bug; none is reachable) is `unreachable`,
//! a trap.

#![no_std]

pub use bench_kernels;

/// Exports each named kernel of `bench_kernels` as `<kernel>(n: i32) -> i32`.
#[macro_export]
macro_rules! export {
    ($($kernel:ident),+ $(,)?) => {
        $(
            #[doc = concat!("The `", stringify!($kernel), "` kernel: `n` iterations, returns the checksum.")]
            #[unsafe(no_mangle)]
            pub extern "C" fn $kernel(n: i32) -> i32 {
                $crate::bench_kernels::$kernel::run(n as u32) as i32
            }
        )+
    };
}

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    core::arch::wasm32::unreachable()
}
