//! Keys and scopes.
//!
//! veil never uses a master key directly. Every function derives its own key with
//! HKDF-SHA-256 (RFC 5869):
//!
//! ```text
//! prk = HKDF-Extract(salt = "veil/v1", ikm = master key)
//! okm = HKDF-Expand(prk, info = purpose ‖ 0x00 ‖ scope, L)
//! scope = kind ‖ 0x00 ‖ len32be(id) ‖ id [ ‖ 0x00 ‖ len32be(reader) ‖ reader ]
//! ```
//!
//! `purpose` is `hash`, `sample`, `ff1` or `token`; `kind` is `source` or `project`.
//! So a value hashed in one data source cannot be joined with the same value in
//! another, unless both are hashed under one project scope (masked joins).

use core::fmt;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::{Error, Result};

/// Salt of the HKDF extract step; changing it changes every masked value.
/// Public so that engines deriving keys in SQL use the same bytes.
pub const HKDF_SALT: &[u8] = b"veil/v1";

/// A master key (32 bytes), as held in a keyring under a key id.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A key from 64 hex digits.
    ///
    /// ```
    /// let key = veil_core::Key::from_hex(&"ab".repeat(32)).unwrap();
    /// assert!(veil_core::Key::from_hex("abc").is_err());
    /// ```
    ///
    /// # Errors
    /// [`Error::InvalidKey`] when the text is not 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(Error::InvalidKey(format!(
                "a key is 64 hex digits (32 bytes), got {} characters",
                text.chars().count()
            )));
        }
        let mut out = [0u8; 32];
        for (slot, pair) in out.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
            let (hi, lo) = match pair {
                [hi, lo] => (hex_digit(*hi), hex_digit(*lo)),
                _ => (None, None),
            };
            match (hi, lo) {
                (Some(hi), Some(lo)) => *slot = (hi << 4) | lo,
                _ => {
                    return Err(Error::InvalidKey("a key is 64 hex digits (0-9, a-f); found another character".into()))
                }
            }
        }
        Ok(Self(out))
    }

    /// Derive `N` bytes of key material for `purpose` within `scope`.
    pub fn derive_bytes<const N: usize>(&self, purpose: Purpose, scope: &Scope) -> [u8; N] {
        let hk = Hkdf::<Sha256>::new(Some(HKDF_SALT), &self.0);
        let info = derivation_info(purpose, scope);
        let mut out = [0u8; N];
        // N is at most 64 in this crate, far below HKDF's limit of 255 * 32 bytes.
        if hk.expand(&info, &mut out).is_err() {
            out = [0u8; N];
        }
        out
    }

    /// Derive a 32-byte key for `purpose` within `scope`.
    pub fn derive(&self, purpose: Purpose, scope: &Scope) -> [u8; 32] {
        self.derive_bytes::<32>(purpose, scope)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(..)")
    }
}

/// The HKDF `info` of a derivation: `purpose ‖ 0x00 ‖ scope` (see the module
/// docs), for engines that derive keys in SQL (one expand block appends `0x01`).
///
/// ```
/// use veil_core::{derivation_info, Purpose, Scope};
/// assert_eq!(derivation_info(Purpose::Hash, &Scope::source("s")), b"hash\0source\0\0\0\0\x01s");
/// ```
pub fn derivation_info(purpose: Purpose, scope: &Scope) -> Vec<u8> {
    let mut info = Vec::with_capacity(64);
    info.extend_from_slice(purpose.label().as_bytes());
    info.push(0);
    scope.encode_into(&mut info);
    info
}

fn hex_digit(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// What a derived key is for; part of the derivation, so keys never cross uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Purpose {
    /// Keyed hash masks.
    Hash,
    /// Reproducible row sampling.
    Sample,
    /// Format-preserving encryption (FF1).
    Ff1,
    /// Reversible tokens (AES-SIV).
    Token,
}

impl Purpose {
    /// The purpose's name in derivations (`hash`, `sample`, `ff1`, `token`).
    pub fn label(self) -> &'static str {
        match self {
            Purpose::Hash => "hash",
            Purpose::Sample => "sample",
            Purpose::Ff1 => "ff1",
            Purpose::Token => "token",
        }
    }
}

/// Where masked values must be consistent: one data source, or one project
/// (masked joins across the project's sources); optionally per reader.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Scope {
    kind: ScopeKind,
    id: String,
    reader: Option<String>,
}

/// The kind of a [`Scope`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ScopeKind {
    /// One data source (table or view).
    Source,
    /// One project: values hash alike in every source of the project.
    Project,
}

impl Scope {
    /// The scope of one data source.
    pub fn source(id: impl Into<String>) -> Self {
        Self { kind: ScopeKind::Source, id: id.into(), reader: None }
    }

    /// The scope of one project (for masked joins).
    pub fn project(id: impl Into<String>) -> Self {
        Self { kind: ScopeKind::Project, id: id.into(), reader: None }
    }

    /// The same scope, specialised to one reader (per-user hashes).
    pub fn for_reader(mut self, reader: impl Into<String>) -> Self {
        self.reader = Some(reader.into());
        self
    }

    /// Parse the text form used by SQL functions: `project:<id>`, `source:<id>`,
    /// or a bare data source id.
    ///
    /// ```
    /// use veil_core::Scope;
    /// assert_eq!(Scope::parse("project:growth"), Scope::project("growth"));
    /// assert_eq!(Scope::parse("shop.customers"), Scope::source("shop.customers"));
    /// assert_eq!(Scope::parse("source:project:x"), Scope::source("project:x"));
    /// ```
    pub fn parse(text: &str) -> Self {
        if let Some(id) = text.strip_prefix("project:") {
            Self::project(id)
        } else if let Some(id) = text.strip_prefix("source:") {
            Self::source(id)
        } else {
            Self::source(text)
        }
    }

    /// The kind of scope.
    pub fn kind(&self) -> ScopeKind {
        self.kind
    }

    /// The data source or project id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The reader, for per-user scopes.
    pub fn reader(&self) -> Option<&str> {
        self.reader.as_deref()
    }

    /// The bytes that identify this scope inside a key derivation (also used as
    /// the FF1 tweak and AES-SIV associated data).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + self.id.len());
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(match self.kind {
            ScopeKind::Source => b"source",
            ScopeKind::Project => b"project",
        });
        out.push(0);
        push_prefixed(out, self.id.as_bytes());
        if let Some(reader) = &self.reader {
            out.push(0);
            push_prefixed(out, reader.as_bytes());
        }
    }
}

fn push_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u32::try_from(bytes.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_separates_purposes_scopes_and_readers() {
        let key = Key::from_bytes([1; 32]);
        let a = key.derive(Purpose::Hash, &Scope::source("a"));
        assert_ne!(a, key.derive(Purpose::Sample, &Scope::source("a")));
        assert_ne!(a, key.derive(Purpose::Hash, &Scope::source("b")));
        assert_ne!(a, key.derive(Purpose::Hash, &Scope::project("a")));
        assert_ne!(a, key.derive(Purpose::Hash, &Scope::source("a").for_reader("bob")));
        assert_eq!(a, key.derive(Purpose::Hash, &Scope::source("a")));
    }

    #[test]
    fn length_prefix_prevents_ambiguous_scopes() {
        // "ab" + reader "c" must differ from "a" + reader "bc".
        let one = Scope::source("ab").for_reader("c").encode();
        let two = Scope::source("a").for_reader("bc").encode();
        assert_ne!(one, two);
    }

    #[test]
    fn hex_keys_parse_and_reject() {
        assert!(Key::from_hex(&"0F".repeat(32)).is_ok());
        assert!(Key::from_hex(&"zz".repeat(32)).is_err());
        assert!(Key::from_hex("").is_err());
        assert!(Key::from_hex(&"é".repeat(32)).is_err());
    }
}
