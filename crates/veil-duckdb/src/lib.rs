//! veil as a DuckDB loadable extension.
//!
//! `LOAD 'veil.duckdb_extension'` registers every enforcement function of
//! [`veil_core`] as a vectorised `veil_*` SQL function (see `docs/functions.md`).
//! Functions take a key **id**, never a key: ids resolve through the keyring file
//! named by `VEIL_KEYRING` ([`keyring`]). Every failure (unknown key id, bad regex,
//! FF1 domain, tampered token) is returned to DuckDB as a query error; nothing
//! panics across the FFI boundary.
//!
//! Build the loadable file with `scripts/build-extension` (release build plus
//! DuckDB's metadata footer).
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing))]

use std::error::Error;

use duckdb::{duckdb_entrypoint_c_api, Connection};

mod functions;
pub mod keyring;
mod vector;

/// The entry point DuckDB calls on `LOAD`: registers the `veil_*` functions.
///
/// # Errors
/// When DuckDB refuses a registration.
#[duckdb_entrypoint_c_api(ext_name = "veil", min_duckdb_version = "v1.2.0")]
pub fn extension_entrypoint(con: Connection) -> Result<(), Box<dyn Error>> {
    functions::register(&con)
}
