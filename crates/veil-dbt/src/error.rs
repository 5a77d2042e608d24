//! Errors reading dbt artifacts.

use std::path::PathBuf;

/// What went wrong reading a dbt artifact.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}\n  help: run `dbt compile` (or `dbt build`) first; it writes target/manifest.json")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not JSON of the expected shape.
    #[error("{path}:{line}:{column}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        message: String,
    },
    /// The artifact's schema version is one veil does not read.
    #[error("{path}: dbt {kind} schema `{found}` is not supported; veil reads {kind} {supported}\n  help: build the project with dbt-core 1.5 or newer")]
    Version {
        /// The file.
        path: PathBuf,
        /// `manifest` or `catalog`.
        kind: &'static str,
        /// The version found.
        found: String,
        /// What veil reads.
        supported: &'static str,
    },
    /// Two dbt nodes that cannot both stand for their relation.
    #[error("{path}: {message}\n  help: {help}")]
    Conflict {
        /// The manifest.
        path: PathBuf,
        /// Both nodes and what differs.
        message: String,
        /// What to do.
        help: String,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn json(path: &std::path::Path, e: &serde_json::Error) -> Self {
        Error::Json { path: path.to_path_buf(), line: e.line(), column: e.column(), message: e.to_string() }
    }
}
