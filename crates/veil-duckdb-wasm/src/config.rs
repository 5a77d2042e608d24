//! Which components to load: the file `VEIL_COMPONENTS` names, read at `LOAD`.
//!
//! One component per line, `#` starts a comment:
//!
//! ```text
//! # prefix = path [fuel-per-call=<n>] [fuel-per-row=<n>] [fuel-per-byte=<n>] [memory=<MiB>]
//! iban = ../dist/masks/iban.wasm
//! w    = /opt/veil/veil.wasm fuel-per-row=100000000 memory=64
//! ```
//!
//! Each callable export `name` becomes the SQL function `<prefix>_<name>` (`-` as
//! `_`). A relative path is read from the file's folder; paths hold no spaces.
//! The process environment decides what is loaded, as for the keyring: SQL cannot
//! load a component, so a reader cannot add or replace a function.

use std::path::{Path, PathBuf};

use veil_component_host::runtime::Limits;

/// The environment variable naming the components file.
pub const COMPONENTS_ENV: &str = "VEIL_COMPONENTS";

/// One line of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The prefix of its SQL functions.
    pub prefix: String,
    /// The component file (made absolute against the components file's folder).
    pub path: PathBuf,
    /// Limits on its calls.
    pub limits: Limits,
    /// Where it is written, `file:line`, for messages.
    pub at: String,
}

/// Is `prefix` a lowercase SQL identifier that is not veil's own?
///
/// ```
/// use veil_wasm::config::check_prefix;
/// assert!(check_prefix("iban").is_ok());
/// assert!(check_prefix("veil").is_err());
/// assert!(check_prefix("Mask").is_err());
/// ```
///
/// # Errors
/// A message saying what a prefix may be.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let mut chars = prefix.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !well_formed {
        return Err(format!("prefix `{prefix}` must be a lowercase letter then lowercase letters, digits or `_`"));
    }
    if prefix.starts_with("veil") {
        return Err(format!("prefix `{prefix}`: names starting with `veil` belong to the veil extension"));
    }
    Ok(())
}

/// Parse the components file `text`, read from `path`.
///
/// # Errors
/// A message naming `path:line` and what is wrong.
pub fn parse(path: &Path, text: &str) -> Result<Vec<Entry>, String> {
    let folder = path.parent().unwrap_or(Path::new("."));
    let mut entries: Vec<Entry> = Vec::new();
    for (number, line) in text.lines().enumerate() {
        let at = format!("{}:{}", path.display(), number + 1);
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |what: String| {
            format!("{at}: {what}; a line is `<prefix> = <path> [fuel-per-call|fuel-per-row|fuel-per-byte=<n>] [memory=<MiB>]`")
        };
        let (prefix, rest) = line.split_once('=').ok_or_else(|| bad("no `=`".into()))?;
        let prefix = prefix.trim();
        check_prefix(prefix).map_err(|e| format!("{at}: {e}"))?;
        if let Some(first) = entries.iter().find(|e| e.prefix == prefix) {
            return Err(format!("{at}: prefix `{prefix}` is already used at {}", first.at));
        }
        let mut words = rest.split_whitespace();
        let file = words.next().ok_or_else(|| bad("no path".into()))?;
        let mut limits = Limits::DEFAULT;
        for option in words {
            let number = |v: &str| v.parse::<u64>().ok().filter(|n| *n > 0);
            match option.split_once('=') {
                Some((name @ ("fuel-per-call" | "fuel-per-row" | "fuel-per-byte"), v)) => {
                    let n = number(v).ok_or_else(|| bad(format!("bad {name} `{v}`")))?;
                    match name {
                        "fuel-per-call" => limits.fuel_per_call = n,
                        "fuel-per-row" => limits.fuel_per_row = n,
                        _ => limits.fuel_per_byte = n,
                    }
                }
                Some(("memory", v)) => {
                    let mib = number(v)
                        .filter(|n| *n <= 4096)
                        .ok_or_else(|| bad(format!("bad memory `{v}` (MiB, 1 to 4096)")))?;
                    limits.memory_bytes = usize::try_from(mib << 20).map_err(|_| bad(format!("bad memory `{v}`")))?;
                }
                _ => return Err(bad(format!("unknown option `{option}`"))),
            }
        }
        entries.push(Entry { prefix: prefix.to_owned(), path: folder.join(file), limits, at });
    }
    Ok(entries)
}

/// The entries of the file `VEIL_COMPONENTS` names; none when it is unset.
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn from_env() -> Result<Vec<Entry>, String> {
    let Some(path) = std::env::var_os(COMPONENTS_ENV) else { return Ok(Vec::new()) };
    let path = PathBuf::from(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the components file `{}` ({COMPONENTS_ENV}): {e}", path.display()))?;
    parse(&path, &text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_prefixes_paths_and_limits() {
        let text = "# masks\niban = masks/iban.wasm\n\nw = /abs/veil.wasm fuel-per-call=5 fuel-per-row=1000 fuel-per-byte=7 memory=16 # small\n";
        let entries = parse(Path::new("/etc/veil/components"), text).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].prefix, "iban");
        assert_eq!(entries[0].path, PathBuf::from("/etc/veil/masks/iban.wasm"));
        assert_eq!(entries[0].limits, Limits::DEFAULT);
        assert_eq!(entries[1].path, PathBuf::from("/abs/veil.wasm"));
        assert_eq!(
            entries[1].limits,
            Limits { fuel_per_call: 5, fuel_per_row: 1000, fuel_per_byte: 7, memory_bytes: 16 << 20 }
        );
        assert_eq!(entries[1].at, "/etc/veil/components:4");
    }

    #[test]
    fn mistakes_name_the_line() {
        let cases = [
            ("iban masks/iban.wasm", "components:1: no `=`"),
            ("veil_x = a.wasm", "components:1: prefix `veil_x`: names starting with `veil`"),
            ("Iban = a.wasm", "must be a lowercase letter"),
            ("a = ", "components:1: no path"),
            ("a = x.wasm fuel-per-row=0", "bad fuel-per-row `0`"),
            ("a = x.wasm fuel=9", "unknown option `fuel=9`"),
            ("a = x.wasm memory=9999", "bad memory `9999`"),
            ("a = x.wasm keys", "unknown option `keys`"),
            ("a = x.wasm\na = y.wasm", "components:2: prefix `a` is already used at components:1"),
        ];
        for (text, expected) in cases {
            let err = parse(Path::new("components"), text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
