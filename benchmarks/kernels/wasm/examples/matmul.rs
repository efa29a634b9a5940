//! The `matmul` kernel alone, exported as `matmul(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(matmul);
