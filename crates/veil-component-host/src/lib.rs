//! Wasm components as SQL functions.
//!
//! [`inspect`] reads a component's exports from its own WIT and sorts them into
//! those a SQL host can call (every parameter and the result of a [`ValueType`],
//! failures as a `result` with veil's `error`) and the rest, with reasons.
//! [`mask`] checks an export against the `veil:mask` contract (`wit/mask/mask.wit`)
//! and a policy's parameters against its signature. With feature `runtime`,
//! [`runtime::Module`] compiles a component with wasmtime and calls its exports
//! under fuel and memory limits: the DuckDB loader (`crates/veil-duckdb-wasm`).
//!
//! A component with imports is refused: what a component can reach is exactly
//! its arguments (no files, clocks, network or randomness).
//!
//! ```no_run
//! let bytes = std::fs::read("dist/veil.wasm").unwrap();
//! let exports = veil_component_host::inspect(&bytes).unwrap();
//! for f in &exports.functions {
//!     println!("{} {}", f.sql_name("w"), f.wit());
//! }
//! ```
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

pub mod mask;
#[cfg(feature = "runtime")]
pub mod runtime;
mod signature;

pub use signature::{inspect, ErrorType, Exports, Function, InspectError, Param, Returns, Skipped, ValueType};
