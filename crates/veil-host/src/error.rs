//! Errors generating bindings.

/// Why bindings could not be generated.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The policy engine refused (unknown source, unknown user, …).
    #[error(transparent)]
    Policy(Box<veil_policy::Error>),
    /// A mask or rule the target cannot enforce faithfully; veil never
    /// substitutes a weaker one. The message names the policy, source and column.
    #[error("{target} cannot enforce {what}")]
    Unsupported {
        /// Target engine.
        target: &'static str,
        /// What, where, and what to do.
        what: String,
    },
    /// A name that cannot be used safely (a type name with odd characters, an
    /// empty identifier, a key id that is not plain).
    #[error("{0}")]
    Invalid(String),
}

impl From<veil_policy::Error> for Error {
    fn from(e: veil_policy::Error) -> Self {
        Error::Policy(Box::new(e))
    }
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
