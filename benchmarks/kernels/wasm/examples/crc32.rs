//! The `crc32` kernel alone, exported as `crc32(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(crc32);
