//! Shared helpers: compile WAT for the native target with the host compiler.

#![allow(dead_code, reason = "each test file uses a subset")]

use device_runtime::{NATIVE_TARGET, Target};

pub fn native() -> Target {
    NATIVE_TARGET.expect("hosted tests run on x86_64 or aarch64")
}

pub fn compile(wat: &str) -> Vec<u8> {
    compile_for(wat, native())
}

pub fn compile_for(wat: &str, target: Target) -> Vec<u8> {
    let wasm = host_compiler::wat_or_wasm(wat.as_bytes()).expect("wat");
    host_compiler::Compiler::new(host_compiler::CompilerConfig::for_target(target))
        .expect("compiler")
        .compile(&wasm)
        .expect("compile")
        .bytes
}
