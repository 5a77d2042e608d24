//! The crate's one error type, and where in a file an error points.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// A place in an input file: 1-based line and column (columns count characters).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct Location {
    /// The file, as it was given to the loader (`<input>` for a string).
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

impl Location {
    /// A location in `file` at `line`:`column`.
    ///
    /// ```
    /// let at = veil_policy::Location::new("policies/a.yaml", 3, 7);
    /// assert_eq!(at.to_string(), "policies/a.yaml:3:7");
    /// ```
    pub fn new(file: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self { file: file.into(), line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.column)
    }
}

/// Everything that can go wrong in veil-policy.
///
/// Errors in input files carry a [`Location`] and a help line saying what to do.
/// Callers must treat any error as "deny": nothing here ever falls back to access.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Malformed YAML, or YAML that does not have the expected shape.
    #[error("{location}: {message}\n  help: {help}")]
    Yaml {
        /// Where.
        location: Location,
        /// What the YAML parser or the schema said.
        message: String,
        /// What to do about it.
        help: String,
    },
    /// Well-formed YAML whose meaning is wrong: a DSL expression that does not
    /// parse, a mask that does not fit its column, an invalid WHERE clause, …
    #[error("{location}: {message}\n  help: {help}")]
    Invalid {
        /// Where.
        location: Location,
        /// What is wrong, naming the offending input in backticks.
        message: String,
        /// What to do about it.
        help: String,
    },
    /// Several errors, all reported at once so a user can fix them in one pass.
    #[error("{}", join(.0))]
    Many(Vec<Error>),
    /// A user name that the directory does not know.
    #[error("unknown user `{0}`")]
    UnknownUser(String),
    /// A data source name that the catalog does not know.
    #[error("unknown data source `{0}`")]
    UnknownSource(String),
    /// A project the user is not a member of, or that does not exist.
    #[error("user `{user}` cannot act under project `{project}`: {reason}")]
    Project {
        /// The user.
        user: String,
        /// The project.
        project: String,
        /// Why not.
        reason: String,
    },
}

fn join(errors: &[Error]) -> String {
    let parts: Vec<String> = errors.iter().map(ToString::to_string).collect();
    parts.join("\n")
}

impl Error {
    /// An [`Error::Invalid`] at `location`.
    pub(crate) fn invalid(location: Location, message: impl Into<String>, help: impl Into<String>) -> Self {
        Self::Invalid { location, message: message.into(), help: help.into() }
    }

    /// The location this error points at, if it points at one.
    pub fn location(&self) -> Option<&Location> {
        match self {
            Self::Yaml { location, .. } | Self::Invalid { location, .. } => Some(location),
            Self::Many(errors) => errors.first().and_then(Self::location),
            _ => None,
        }
    }

    /// Flatten a list into one error (or none).
    pub(crate) fn collect(mut errors: Vec<Error>) -> Result<()> {
        match errors.len() {
            0 => Ok(()),
            1 => Err(errors.remove(0)),
            _ => Err(Self::Many(errors)),
        }
    }
}

/// Result with [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
