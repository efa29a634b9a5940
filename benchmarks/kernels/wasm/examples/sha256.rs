//! The `sha256` kernel alone, exported as `sha256(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(sha256);
