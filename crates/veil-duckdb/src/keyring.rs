//! The keyring: key ids to master keys, read from the file `VEIL_KEYRING` names.
//!
//! SQL only ever names a key id; the key itself stays in this file, in the format
//! [`veil_core::keyring`] parses (`<key id> = <64 hex digits>` lines). The file is
//! read the first time a function needs a key and then kept for the life of the
//! process; a keyring that fails to load is not kept, so fixing the file and
//! re-running the query works.

use std::sync::OnceLock;

use veil_core::keyring::Keyring;
use veil_core::Key;

/// The environment variable naming the keyring file.
pub const KEYRING_ENV: &str = "VEIL_KEYRING";

/// Read and parse the keyring file at `path` (format: [`veil_core::keyring`]).
///
/// # Errors
/// When the file cannot be read or parsed.
pub fn load(path: &str) -> Result<Keyring, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read keyring `{path}`: {e}"))?;
    Keyring::parse(path, &text).map_err(|e| e.to_string())
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
    let ring = load(&path)?;
    // Another thread may have loaded it first; either copy is the same file.
    Ok(KEYRING.get_or_init(|| ring))
}

/// The key with id `id` from the process's keyring.
///
/// # Errors
/// As [`global`] and [`Keyring::get`].
pub fn key(id: &str) -> Result<&'static Key, String> {
    global()?.get(id).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_names_a_missing_file_and_parses_a_present_one() {
        let missing = load("/nonexistent/veil/ring").err().unwrap_or_default();
        assert!(missing.contains("cannot read keyring `/nonexistent/veil/ring`"), "{missing}");
        let path = std::env::temp_dir().join(format!("veil-ring-{}", std::process::id()));
        std::fs::write(&path, format!("k1 = {}\n", "0f".repeat(32))).unwrap();
        let ring = load(path.to_str().unwrap()).unwrap();
        assert!(ring.get("k1").is_ok());
        std::fs::remove_file(path).unwrap();
    }
}
