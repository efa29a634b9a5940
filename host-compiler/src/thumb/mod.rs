#![doc = include_str!("DESIGN.md")]

pub mod asm;
pub mod backend;
pub mod codegen;
pub mod link;
pub mod trampolines;
