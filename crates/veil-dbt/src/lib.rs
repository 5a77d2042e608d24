//! veil-dbt: dbt's artifacts as veil facts.
//!
//! Reads `target/manifest.json` (schema v10 to v12) and, when present,
//! `target/catalog.json` into a [`veil_policy::Catalog`]:
//! - models, seeds, snapshots and sources become data sources named
//!   `<schema>.<alias>` (sources: `<schema>.<identifier>`), with their database;
//! - table tags come from `tags` (which dbt merges from `config.tags`) and from
//!   `meta.veil.tags`; column tags from each column's `tags` and `meta.veil.tags`;
//! - every source also gets `dbt.resource.<type>` and `dbt.path.<folder>.<…>`
//!   (from the file's folder, e.g. `dbt.path.marts.finance`), so policies can
//!   target parts of a project;
//! - column types come from `catalog.json` (every column the engine has, in
//!   order); without it, from the manifest's `data_type` where documented;
//! - exposures become [`Project`]s, with purposes from `meta.veil.purposes`.
//!
//! See `docs/dbt.md` for the details users rely on.

mod error;
mod manifest;
pub mod select;

pub use error::{Error, Result};
pub use manifest::{from_texts, load, load_files, DbtArtifacts, Node, Project, Relation, SUPPORTED_MANIFEST_VERSIONS};
pub use select::{select, Selection};
