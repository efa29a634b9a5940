//! The machinery under the public API: vmctx layout, the store's arena and records, const
//! expressions, libcalls (the pure arithmetic ones in `arith`), traps and the activation chain.
//!
//! Everything here works on raw pointers into a store arena; the public API in `crate::api`
//! checks store identity and types and then calls into this module.

pub mod activation;
pub mod arith;
pub mod code_registry;
pub mod const_expr;
pub mod epoch;
pub mod fiber;
pub mod instance;
pub mod libcalls;
pub mod ops;
pub mod store;
pub mod vmctx;

pub use vmctx::ValRaw;
