//! The keyring file, checked before anything is applied.

use std::path::Path;

use veil_core::keyring::{Keyring, LINE_FORMAT};
use veil_core::Key;

use crate::{Error, Result};

/// How to make a keyring, for messages.
const MAKE_ONE: &str = "make one with `echo \"default = $(openssl rand -hex 32)\" > keyring.txt` and keep it secret";

/// Read the keyring at `path` and the key `key_id` from it.
///
/// ```
/// let dir = std::env::temp_dir().join(format!("veil-doc-ring-{}", std::process::id()));
/// std::fs::write(&dir, "default = 1234\n").unwrap();
/// let err = veil_cli::keyring::read(&dir, "default").err().unwrap().to_string();
/// assert!(err.contains("line 1") && err.contains("64 hex digits"));
/// std::fs::remove_file(&dir).unwrap();
/// ```
///
/// # Errors
/// [`Error::Input`] when the file is missing or unreadable, a line is malformed
/// (the message names the line, never the key), or `key_id` is not in it; each
/// message says how to fix it.
pub fn read(path: &Path, key_id: &str) -> Result<Key> {
    let shown = path.display().to_string();
    if path.as_os_str().is_empty() {
        return Err(Error::Input(format!("no keyring: give --keyring FILE or set VEIL_KEYRING; {MAKE_ONE}")));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Input(format!("cannot read keyring `{shown}`: {e}; give the right path with --keyring, or {MAKE_ONE}"))
    })?;
    let ring = Keyring::parse(&shown, &text)
        .map_err(|e| Error::Input(format!("{e}; each line is {LINE_FORMAT} ({MAKE_ONE})")))?;
    ring.get(key_id).cloned().map_err(|e| {
        Error::Input(format!("{e}; add a line `{key_id} = <64 hex digits>` or name another with --key-id"))
    })
}
