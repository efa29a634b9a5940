//! The single-pass WebAssembly to Thumb-2 backend for Cortex-M (ARMv7E-M, ARMv8-M Mainline).
//!
//! [`asm`] is the Thumb-2 assembler the code generator emits through.

pub mod asm;
