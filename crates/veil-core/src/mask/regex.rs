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
    /// The replacement names no capture (no `$`): copied as is, captures unneeded.
    literal: bool,
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
        Ok(Self { regex, replacement: replacement.to_owned(), literal: !replacement.contains('$') })
    }

    /// Mask one value into `out` (cleared first, its allocation reused): `false`
    /// when nothing matched, and then the value is its own mask and `out` is
    /// left empty. The same text as [`RegexMask::apply`].
    ///
    /// ```
    /// use veil_core::mask::RegexMask;
    /// let ip = RegexMask::new(r"\d+$", "XXX").unwrap();
    /// let mut out = String::new();
    /// assert!(ip.apply_into("164.16.13.118", &mut out) && out == "164.16.13.XXX");
    /// assert!(!ip.apply_into("no digits at the end.", &mut out) && out.is_empty());
    /// ```
    pub fn apply_into(&self, value: &str, out: &mut String) -> bool {
        out.clear();
        let mut last = 0;
        let mut matched = false;
        if self.literal {
            for m in self.regex.find_iter(value) {
                out.push_str(value.get(last..m.start()).unwrap_or_default());
                out.push_str(&self.replacement);
                last = m.end();
                matched = true;
            }
        } else {
            for caps in self.regex.captures_iter(value) {
                let Some(m) = caps.get(0) else { continue };
                out.push_str(value.get(last..m.start()).unwrap_or_default());
                caps.expand(&self.replacement, out);
                last = m.end();
                matched = true;
            }
        }
        if !matched {
            return false;
        }
        out.push_str(value.get(last..).unwrap_or_default());
        true
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
