//! Compute kernels typical of firmware, written once and built twice by
//! `scripts/thumb-bench.sh`: for `wasm32-unknown-unknown` (then compiled by `wasm-aot` for
//! Cortex-M) and natively for `thumbv7em-none-eabihf`, to compare the guest instructions of the
//! Thumb-2 backend's code with rustc's on the same source.
//!
//! Every kernel is `run(n: u32) -> u32`: set up its buffers, then run `n` *iterations*, each a
//! whole kernel invocation (one CRC over a buffer, one SHA-256 block, one matrix product, ...),
//! and return a checksum. Each iteration feeds on the previous one's result, so no compiler can
//! hoist or merge iterations, and the checksum proves both builds computed the same thing. The
//! benchmark counts a run with `n` and one with `2n` iterations: the setup cancels out of the
//! difference, which is `n` iterations exactly.
//!
//! Buffers live in one static [`Scratch`] (linear memory in the wasm build, `.bss` natively);
//! nothing allocates. Integer arithmetic wraps explicitly. The f32 kernel uses only `+` and `*`
//! on finite values (no fused multiply-add: rustc never contracts), so its results are
//! bit-identical on both sides. No f64 and no 64-bit division, which the cortex-m4f backend may
//! refuse.

#![no_std]

pub mod crc32;
pub mod fir;
pub mod heapsort;
pub mod kvparse;
pub mod matmul;
pub mod scratch;
pub mod sha256;

pub use scratch::Scratch;

/// A kernel: its name (the wasm export and the native command-line name) and its entry point.
#[derive(Clone, Copy, Debug)]
pub struct Kernel {
    /// Export name of the kernel in the wasm module, and its name on the native command line.
    pub name: &'static str,
    /// Runs `n` iterations and returns the checksum.
    pub run: fn(u32) -> u32,
}

/// Every kernel, in the order the benchmark prints them.
pub const KERNELS: [Kernel; 6] = [
    Kernel {
        name: "crc32",
        run: crc32::run,
    },
    Kernel {
        name: "sha256",
        run: sha256::run,
    },
    Kernel {
        name: "matmul",
        run: matmul::run,
    },
    Kernel {
        name: "heapsort",
        run: heapsort::run,
    },
    Kernel {
        name: "fir",
        run: fir::run,
    },
    Kernel {
        name: "kvparse",
        run: kvparse::run,
    },
];

/// A 32-bit xorshift generator: deterministic test data without tables.
#[derive(Clone, Copy, Debug)]
pub struct XorShift32(u32);

impl XorShift32 {
    /// A generator; a zero seed is replaced (xorshift would stay at zero).
    pub fn new(seed: u32) -> Self {
        XorShift32(if seed == 0 { 0x9e37_79b9 } else { seed })
    }

    /// The next value.
    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}
