//! The `heapsort` kernel alone, exported as `heapsort(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(heapsort);
