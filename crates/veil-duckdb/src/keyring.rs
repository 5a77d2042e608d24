//! The keyring: key ids to master keys, read from the file `VEIL_KEYRING` names.
//!
//! SQL only ever names a key id; the key itself stays in this file. Format, one
//! key per line, `#` starts a comment:
//!
//! ```text
//! # veil keyring
//! k1 = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
//! prod-2024 = 5f2c…(64 hex digits)
//! ```
//!
//! Ids are letters, digits, `_`, `-` and `.`. The file is read the first time a
//! function needs a key and then kept for the life of the process; a keyring that
//! fails to load is not kept, so fixing the file and re-running the query works.

use std::collections::HashMap;
use std::sync::OnceLock;

use veil_core::Key;

/// The environment variable naming the keyring file.
pub const KEYRING_ENV: &str = "VEIL_KEYRING";

/// Key ids and their keys, from one file.
pub struct Keyring {
    path: String,
    keys: HashMap<String, Key>,
}

impl Keyring {
    /// Parse keyring text read from `path` (used in messages only).
    ///
    /// ```
    /// use veil::keyring::Keyring;
    /// let ring = Keyring::parse("ring.txt", &format!("# test\nk1 = {}\n", "ab".repeat(32))).unwrap();
    /// assert!(ring.get("k1").is_ok());
    /// assert!(ring.get("k2").unwrap_err().contains("`k2`"));
    /// ```
    ///
    /// # Errors
    /// A message naming the file and line of the first bad line; it never
    /// repeats key material.
    pub fn parse(path: &str, text: &str) -> Result<Self, String> {
        let mut keys = HashMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(before, _)| before).trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("keyring `{path}` line {}", number + 1);
            let Some((id, hex)) = line.split_once('=') else {
                return Err(format!("{at}: expected `<key id> = <64 hex digits>`"));
            };
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                return Err(format!("{at}: a key id is letters, digits, `_`, `-` or `.`, got `{id}`"));
            }
            let key = Key::from_hex(hex.trim()).map_err(|e| format!("{at}: key `{id}`: {e}"))?;
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(format!("{at}: key id `{id}` appears twice"));
            }
        }
        Ok(Self { path: path.to_owned(), keys })
    }

    /// Read and parse the keyring file at `path`.
    ///
    /// # Errors
    /// When the file cannot be read or parsed.
    pub fn load(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read keyring `{path}`: {e}"))?;
        Self::parse(path, &text)
    }

    /// The key with id `id`.
    ///
    /// # Errors
    /// An unknown id, with the file it was looked up in.
    pub fn get(&self, id: &str) -> Result<&Key, String> {
        self.keys.get(id).ok_or_else(|| {
            let mut ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
            ids.sort_unstable();
            format!("unknown key id `{id}` in keyring `{}` (it holds: {})", self.path, ids.join(", "))
        })
    }
}

static KEYRING: OnceLock<Keyring> = OnceLock::new();

/// The process's keyring, loaded from `VEIL_KEYRING` on first use.
///
/// # Errors
/// When `VEIL_KEYRING` is unset or the file does not load.
pub fn global() -> Result<&'static Keyring, String> {
    if let Some(ring) = KEYRING.get() {
        return Ok(ring);
    }
    let path = std::env::var(KEYRING_ENV)
        .map_err(|_| format!("no keyring: set {KEYRING_ENV} to the path of a keyring file (`<key id> = <64 hex digits>` lines) before loading veil"))?;
    let ring = Keyring::load(&path)?;
    // Another thread may have loaded it first; either copy is the same file.
    Ok(KEYRING.get_or_init(|| ring))
}

/// The key with id `id` from the process's keyring.
///
/// # Errors
/// As [`global`] and [`Keyring::get`].
pub fn key(id: &str) -> Result<&'static Key, String> {
    global()?.get(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex() -> String {
        "0f".repeat(32)
    }

    #[test]
    fn parses_comments_blank_lines_and_spacing() {
        let text = format!("# ring\n\n  k1 = {}  # first\nprod-2024.a={}\n", hex(), hex());
        let ring = Keyring::parse("r", &text).unwrap_or_else(|e| unreachable!("{e}"));
        assert!(ring.get("k1").is_ok());
        assert!(ring.get("prod-2024.a").is_ok());
    }

    #[test]
    fn errors_name_the_place_and_never_the_key() {
        let bad = "k1 = 0011zz";
        let err = Keyring::parse("ring.txt", bad).err().unwrap_or_default();
        assert!(err.contains("ring.txt") && err.contains("line 1") && !err.contains("0011zz"), "{err}");
        let dup = format!("k1 = {h}\nk1 = {h}\n", h = hex());
        assert!(Keyring::parse("r", &dup).err().unwrap_or_default().contains("twice"));
        assert!(Keyring::parse("r", "just words").is_err());
        assert!(Keyring::parse("r", &format!("bad id = {}", hex())).is_err());
    }

    #[test]
    fn unknown_id_names_id_and_path() {
        let ring = Keyring::parse("/etc/veil/ring", &format!("k1 = {}", hex())).unwrap_or_else(|e| unreachable!("{e}"));
        let err = ring.get("nope").err().unwrap_or_default();
        assert!(err.contains("`nope`") && err.contains("/etc/veil/ring") && err.contains("k1"), "{err}");
    }
}
