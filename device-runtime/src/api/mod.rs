//! The public API: `Engine`, `Module`, `Store`, `Linker`, `Instance`, `Func`, `TypedFunc`,
//! `Caller`, memories, tables, globals and values. Everything here is safe code over the raw
//! machinery of `crate::vm`; handles carry their store's identity and are checked on every use.

pub mod engine;
pub mod externals;
pub mod func;
pub mod instance;
pub mod linker;
pub mod module;
pub mod resumable;
pub mod store;
pub mod val_text;
pub mod values;
