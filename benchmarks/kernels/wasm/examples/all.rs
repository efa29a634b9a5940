//! Every kernel in one module, each exported as `<kernel>(n: i32) -> i32`.
#![no_std]

bench_kernels_wasm::export!(crc32, sha256, matmul, heapsort, fir, kvparse);
