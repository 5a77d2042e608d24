//! Regex replace masks.

use std::borrow::Cow;

use regex::Regex;

use crate::{Error, Result};

/// Largest compiled program accepted, so a hostile pattern cannot exhaust memory.
const SIZE_LIMIT: usize = 1 << 20;

/// A compiled regex mask: every match of `pattern` is replaced by `replacement`
/// (`$1`, `${name}` refer to captures; `$$` is a literal `$`).
///
/// ```
/// use veil_core::mask::RegexMask;
/// let ip = RegexMask::new(r"\d+$", "XXX").unwrap();
/// assert_eq!(ip.apply("164.16.13.118"), "164.16.13.XXX");
/// let swap = RegexMask::new(r"(\w+)@(\w+)", "$2 at $1").unwrap();
/// assert_eq!(swap.apply("jane@example"), "example at jane");
/// assert!(RegexMask::new("(", "x").is_err());
/// ```
#[derive(Clone, Debug)]
pub struct RegexMask {
    regex: Regex,
    replacement: String,
}

impl RegexMask {
    /// Compile the mask; an invalid pattern is an error here, never at row time.
    ///
    /// # Errors
    /// [`Error::InvalidRegex`] naming the pattern and the reason.
    pub fn new(pattern: &str, replacement: &str) -> Result<Self> {
        let regex = regex::RegexBuilder::new(pattern)
            .size_limit(SIZE_LIMIT)
            .build()
            .map_err(|e| Error::InvalidRegex { pattern: pattern.to_owned(), reason: e.to_string() })?;
        Ok(Self { regex, replacement: replacement.to_owned() })
    }

    /// Mask one value; borrows when nothing matched.
    pub fn apply<'a>(&self, value: &'a str) -> Cow<'a, str> {
        self.regex.replace_all(value, self.replacement.as_str())
    }

    /// Batch form: NULLs stay NULL.
    pub fn apply_batch(&self, values: &[Option<&str>]) -> Vec<Option<String>> {
        values.iter().map(|v| v.map(|v| self.apply(v).into_owned())).collect()
    }
}

/// Scalar regex mask.
///
/// # Errors
/// [`Error::InvalidRegex`] when the pattern does not compile.
pub fn regex_mask(value: &str, pattern: &str, replacement: &str) -> Result<String> {
    Ok(RegexMask::new(pattern, replacement)?.apply(value).into_owned())
}
