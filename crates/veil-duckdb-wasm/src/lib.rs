//! `veil_wasm`: WebAssembly components as DuckDB scalar functions, beside the veil
//! extension.
//!
//! `LOAD 'veil_wasm.duckdb_extension'` reads the components file named by
//! `VEIL_COMPONENTS` ([`config`]), compiles each component with wasmtime (one with
//! imports is refused) and registers every callable export as `<prefix>_<name>`
//! ([`functions`]). A call runs the export's batch form once per chunk when it has
//! one, under per-row fuel and a per-instance memory limit; an error value, a
//! trap, running out of fuel or memory are query errors naming the function and
//! the kind (`… [fuel]`), never a crash.
//!
//! Loading is the operator's decision, made before any SQL runs: there is no SQL
//! function that loads a component, so a reader cannot add code, and a component
//! never replaces a function that exists (veil's `veil_*` included).
//!
//! Build the loadable file with `scripts/build-extension`.
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::error::Error;

use duckdb::{duckdb_entrypoint_c_api, Connection};

pub mod config;
mod functions;
#[allow(dead_code)]
#[path = "../../veil-duckdb/src/vector.rs"]
mod vector;

/// The entry point DuckDB calls on `LOAD`: registers the components' functions.
///
/// # Errors
/// When the components file or a component does not load, or a name is taken
/// (found before anything is registered).
#[duckdb_entrypoint_c_api(ext_name = "veil_wasm", min_duckdb_version = "v1.2.0")]
pub fn extension_entrypoint(con: Connection) -> Result<(), Box<dyn Error>> {
    let entries = config::from_env()?;
    functions::register(&con, &entries)
}
