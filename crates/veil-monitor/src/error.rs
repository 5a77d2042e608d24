//! Errors reading snapshots.

/// What went wrong reading a snapshot.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Not JSON of the snapshot's shape.
    #[error("{origin}: not a veil catalog snapshot: {message}\n  help: write snapshots with `veil snapshot`")]
    Json {
        /// Where the snapshot came from.
        origin: String,
        /// What the parser said.
        message: String,
    },
    /// A snapshot format this version of veil does not read.
    #[error("{origin}: snapshot format `{found}` is not supported; veil reads format {}\n  help: take the snapshot again with this version of veil", crate::FORMAT_VERSION)]
    Version {
        /// Where the snapshot came from.
        origin: String,
        /// The `veil_snapshot` value found.
        found: String,
    },
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
