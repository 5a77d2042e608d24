//! veil-host: turns veil-policy's plans into SQL a target engine runs.
//!
//! The generated SQL gives readers a schema of secure views. Each view names its
//! columns explicitly (a column added to a base table later stays invisible until
//! veil binds again), wraps every column in its mask chain and filters rows.
//! Two modes:
//! - [`Mode::Dynamic`]: one set of views for every reader; the reader is named at
//!   query time (in DuckDB, `SET VARIABLE veil_user = '…'`) and the facts about
//!   readers live in tables veil creates. An unset or unknown reader sees nothing.
//! - [`Mode::Reader`]: views specialised to one reader, every condition folded
//!   away (a masked sandbox for a developer).
//!
//! Key material never appears in SQL: masks name a key id that the engine
//! resolves from its keyring. Policy strings reach SQL only as escaped literals
//! or quoted identifiers.
//!
//! A target engine is one file in [`targets`] implementing [`targets::Target`]
//! (and listed in [`targets::ENGINES`]); every engine goes through the one
//! [`bind`] of [`pipeline`], and the logic shared by every target (conditions,
//! chains, filters, views) is in [`render`].

mod error;
pub mod pipeline;
pub mod predicate;
pub mod render;
pub mod targets;

pub use error::{Error, Result};
pub use pipeline::bind;
pub use render::{BindOptions, Bindings, Mode, Statement, StatementKind};
