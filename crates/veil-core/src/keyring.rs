//! Keyring text: key ids to master keys.
//!
//! SQL only ever names a key id; the key itself stays in a keyring file that each
//! engine host reads (the DuckDB extension, `veil apply`). This module parses the
//! text of such a file; reading it is the host's job. One key per line, `#`
//! starts a comment:
//!
//! ```text
//! # veil keyring
//! k1 = 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
//! prod-2024 = 5f2c…(64 hex digits)
//! ```
//!
//! Ids are letters, digits, `_`, `-` and `.`.

use std::collections::BTreeMap;

use crate::{Error, Key, Result};

/// The line format, for messages.
pub const LINE_FORMAT: &str = "`<key id> = <64 hex digits>`";

/// Key ids and their keys, from one file.
pub struct Keyring {
    path: String,
    keys: BTreeMap<String, Key>,
}

impl Keyring {
    /// Parse keyring text read from `path` (used in messages only).
    ///
    /// ```
    /// use veil_core::keyring::Keyring;
    /// let ring = Keyring::parse("ring.txt", &format!("# test\nk1 = {}\n", "ab".repeat(32))).unwrap();
    /// assert!(ring.get("k1").is_ok());
    /// assert!(ring.get("k2").unwrap_err().to_string().contains("`k2`"));
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKeyring`] naming the file and line of the first bad line
    /// (a missing `=`, a malformed id, a key that is not 64 hex digits, an id
    /// given twice) or an empty keyring; messages never repeat key material.
    pub fn parse(path: &str, text: &str) -> Result<Self> {
        let mut keys = BTreeMap::new();
        for (number, line) in text.lines().enumerate() {
            let line = line.split_once('#').map_or(line, |(before, _)| before).trim();
            if line.is_empty() {
                continue;
            }
            let at = format!("keyring `{path}` line {}", number + 1);
            let Some((id, hex)) = line.split_once('=') else {
                return Err(Error::InvalidKeyring(format!("{at}: expected {LINE_FORMAT}")));
            };
            let id = id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')) {
                return Err(Error::InvalidKeyring(format!(
                    "{at}: a key id is letters, digits, `_`, `-` or `.`, got `{}`",
                    id.escape_debug()
                )));
            }
            let key = Key::from_hex(hex.trim()).map_err(|e| Error::InvalidKeyring(format!("{at}: key `{id}`: {e}")))?;
            if keys.insert(id.to_owned(), key).is_some() {
                return Err(Error::InvalidKeyring(format!("{at}: key id `{id}` appears twice")));
            }
        }
        if keys.is_empty() {
            return Err(Error::InvalidKeyring(format!("keyring `{path}` holds no key: add a line {LINE_FORMAT}")));
        }
        Ok(Self { path: path.to_owned(), keys })
    }

    /// The key with id `id`.
    ///
    /// # Errors
    /// [`Error::InvalidKeyring`] for an unknown id, naming the file and the ids it holds.
    pub fn get(&self, id: &str) -> Result<&Key> {
        self.keys.get(id).ok_or_else(|| {
            let ids: Vec<&str> = self.keys.keys().map(String::as_str).collect();
            Error::InvalidKeyring(format!(
                "unknown key id `{id}` in keyring `{}` (it holds: {})",
                self.path,
                ids.join(", ")
            ))
        })
    }

    /// The key ids, sorted.
    pub fn ids(&self) -> impl Iterator<Item = &str> {
        self.keys.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex() -> String {
        "0f".repeat(32)
    }

    fn err(text: &str) -> String {
        Keyring::parse("ring.txt", text).err().map(|e| e.to_string()).unwrap_or_default()
    }

    #[test]
    fn parses_comments_blank_lines_and_spacing() {
        let text = format!("# ring\n\n  k1 = {}  # first\nprod-2024.a={}\n", hex(), hex());
        let ring = Keyring::parse("r", &text).unwrap();
        assert!(ring.get("k1").is_ok());
        assert!(ring.get("prod-2024.a").is_ok());
        assert_eq!(ring.ids().collect::<Vec<_>>(), ["k1", "prod-2024.a"]);
    }

    #[test]
    fn errors_name_the_place_and_never_the_key() {
        let bad = err("k1 = 0011zz");
        assert!(bad.contains("ring.txt") && bad.contains("line 1") && !bad.contains("0011zz"), "{bad}");
        let short = err("# four digits\ndefault = 1234");
        assert!(short.contains("line 2") && short.contains("64 hex digits") && !short.contains("1234"), "{short}");
        assert!(err(&format!("k1 = {h}\nk1 = {h}\n", h = hex())).contains("twice"));
        assert!(err("just words").contains("expected"));
        assert!(err(&format!("bad id = {}", hex())).contains("key id"));
        assert!(err("# nothing but comments\n\n").contains("holds no key"));
        assert!(err("").contains("holds no key"));
    }

    #[test]
    fn unknown_id_names_id_path_and_the_ids_held() {
        let ring = Keyring::parse("/etc/veil/ring", &format!("k1 = {}", hex())).unwrap();
        let err = ring.get("nope").err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err.contains("`nope`") && err.contains("/etc/veil/ring") && err.contains("k1"), "{err}");
    }
}
