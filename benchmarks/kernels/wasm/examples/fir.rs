//! The `fir` kernel alone, exported as `fir(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(fir);
