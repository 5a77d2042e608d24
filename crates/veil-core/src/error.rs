//! The one error type of veil-core.

/// What went wrong. Messages never include the value being masked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Key material is malformed.
    #[error("invalid key: {0}")]
    InvalidKey(String),
    /// A keyring is malformed, empty, or lacks a key id.
    #[error("{0}")]
    InvalidKeyring(String),
    /// A regular expression does not compile.
    #[error("invalid regex `{pattern}`: {reason}")]
    InvalidRegex {
        /// The pattern as given.
        pattern: String,
        /// Why it was rejected.
        reason: String,
    },
    /// An argument of a mask or predicate is out of range or malformed.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// A constant does not fit the column type it replaces.
    #[error("constant `{constant}` does not fit column type {column_type}; use a {column_type} literal")]
    ConstantType {
        /// The constant as given.
        constant: String,
        /// The column type.
        column_type: String,
    },
    /// A value is too short for format-preserving encryption.
    #[error("format-preserving mask needs radix^length >= 1000000 for each character class; a value has {length} {class} (at least {minimum} needed)")]
    FpeDomain {
        /// Which characters: `digits` or `letters`.
        class: &'static str,
        /// How many the value has.
        length: usize,
        /// The fewest that FF1 accepts.
        minimum: usize,
    },
    /// A value holds characters a format-preserving mask cannot encrypt and must
    /// not pass through (kind `fpe_domain`, like a value too short to encrypt).
    #[error("format-preserving mask cannot encrypt a value: {reason}")]
    FpeUnsupported {
        /// Why, without the value.
        reason: &'static str,
    },
    /// A value cannot be parsed as the type a mask expects (a date, a number).
    #[error("cannot read {expected} from a value: {reason}")]
    Parse {
        /// What the mask expected, e.g. `an ISO-8601 date`.
        expected: &'static str,
        /// Why parsing failed.
        reason: String,
    },
    /// A reversible token was altered, truncated, or made under another key or scope.
    #[error("token does not authenticate: it was altered, or made under another key or scope")]
    TokenInvalid,
}

impl Error {
    /// A stable, machine-readable name for the kind of error (`invalid_regex`,
    /// `fpe_domain`, …), shared by every engine veil runs in.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InvalidKey(_) => "invalid_key",
            Error::InvalidKeyring(_) => "invalid_keyring",
            Error::InvalidRegex { .. } => "invalid_regex",
            Error::InvalidArgument(_) => "invalid_argument",
            Error::ConstantType { .. } => "constant_type",
            Error::FpeDomain { .. } | Error::FpeUnsupported { .. } => "fpe_domain",
            Error::Parse { .. } => "parse",
            Error::TokenInvalid => "token_invalid",
        }
    }
}

/// Result with [`Error`].
pub type Result<T> = core::result::Result<T, Error>;
