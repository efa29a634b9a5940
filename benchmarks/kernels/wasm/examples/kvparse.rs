//! The `kvparse` kernel alone, exported as `kvparse(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(kvparse);
