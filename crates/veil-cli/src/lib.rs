//! The logic behind the `veil` command: loading a project, running DuckDB,
//! verifying enforcement. `main.rs` only parses arguments and prints.

pub mod access;
pub mod apply;
pub mod config;
pub mod discover;
pub mod duckdb;
pub mod expectations;
pub mod keyring;
pub mod load;
pub mod locate;
pub mod monitor;
pub mod pg;
pub mod progress;
pub mod report;
pub mod spark;
pub mod verify;

/// Why a command failed. Each message names the file, reader, source or column.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Policies, users or catalog are invalid.
    #[error(transparent)]
    Policy(Box<veil_policy::Error>),
    /// dbt artifacts could not be read.
    #[error(transparent)]
    Dbt(#[from] veil_dbt::Error),
    /// Bindings could not be generated.
    #[error(transparent)]
    Bind(#[from] veil_host::Error),
    /// An input file (keyring, database, extension) is missing, unreadable or
    /// malformed, or the database lacks what the catalog declares; the message
    /// says how to fix it. Nothing was changed.
    #[error("{0}")]
    Input(String),
    /// The engine failed or could not be run.
    #[error("{0}")]
    Engine(String),
    /// Enforcement does not match the plan.
    #[error("verification failed: {0} problem(s) found")]
    Verify(usize),
    /// Arguments that do not fit together.
    #[error("{0}")]
    Usage(String),
    /// Inputs that load but are refused (e.g. warnings under `--strict`).
    #[error("{0}")]
    Invalid(String),
    /// The target is unsafe to apply to as it stands; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// The reader may not read what was asked (`veil query`, `veil explain`):
    /// enforcement working, not a failure of the engine.
    #[error("{0}")]
    Denied(String),
}

impl From<veil_policy::Error> for Error {
    fn from(e: veil_policy::Error) -> Self {
        Error::Policy(Box::new(e))
    }
}

impl Error {
    /// The process exit code: 1 for invalid inputs or failed verification,
    /// 2 for usage errors, 3 when the engine fails, 4 when the reader is denied.
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Usage(_) => 2,
            Error::Engine(_) => 3,
            Error::Denied(_) => DENIED,
            _ => 1,
        }
    }

    /// The error's kind, as `veil … --format json` reports it.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Policy(_) => "policy",
            Error::Dbt(_) => "dbt",
            Error::Bind(_) => "bind",
            Error::Input(_) => "input",
            Error::Engine(_) => "engine",
            Error::Verify(_) => "verify",
            Error::Usage(_) => "usage",
            Error::Invalid(_) => "invalid",
            Error::Refused(_) => "refused",
            Error::Denied(_) => "denied",
        }
    }
}

/// The exit code when a reader is denied (`veil query`, `veil explain`).
pub const DENIED: u8 = 4;

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
