//! Reversible tokens: deterministic authenticated encryption (AES-SIV, RFC 5297).
//!
//! A token is `vt1.` followed by the unpadded base64url of SIV ‖ ciphertext. The
//! AES-SIV-CMAC-256 key is derived for the scope and the scope's encoding is the
//! associated data, so a token only opens in the scope that made it, and any
//! change to it is detected.

use aes_siv::siv::Aes128Siv;
use aes_siv::KeyInit;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::key::{Key, Purpose, Scope};
use crate::{Error, Result};

/// The prefix of every reversible token (format version 1).
pub const TOKEN_PREFIX: &str = "vt1.";

/// Makes and opens reversible tokens for one scope.
///
/// ```
/// use veil_core::{Key, Scope, mask::Tokenizer};
/// let t = Tokenizer::new(&Key::from_bytes([7; 32]), &Scope::source("hr.employees"));
/// let token = t.mask(b"123-45-6789");
/// assert!(token.starts_with("vt1."));
/// assert_eq!(token, t.mask(b"123-45-6789"));
/// assert_eq!(t.unmask(&token).unwrap(), b"123-45-6789");
/// let mut forged = token.clone();
/// forged.push('A');
/// assert!(t.unmask(&forged).is_err());
/// ```
#[derive(Clone)]
pub struct Tokenizer {
    key: [u8; 32],
    associated: Vec<u8>,
}

impl Tokenizer {
    /// Derive the token key for `scope`.
    pub fn new(key: &Key, scope: &Scope) -> Self {
        Self::from_derived(&key.derive(Purpose::Token, scope), scope)
    }

    /// The tokenizer for a key already derived for `scope` (`key.derive(Purpose::Token,
    /// scope)`), for engines that store derived keys and never the master key.
    ///
    /// ```
    /// use veil_core::{Key, Purpose, Scope, mask::Tokenizer};
    /// let (key, scope) = (Key::from_bytes([7; 32]), Scope::source("hr.employees"));
    /// let derived = Tokenizer::from_derived(&key.derive(Purpose::Token, &scope), &scope);
    /// assert_eq!(derived.mask(b"x"), Tokenizer::new(&key, &scope).mask(b"x"));
    /// ```
    pub fn from_derived(derived: &[u8; 32], scope: &Scope) -> Self {
        Self { key: *derived, associated: scope.encode() }
    }

    /// Tokenize one value.
    pub fn mask(&self, value: &[u8]) -> String {
        let sealed = seal(&self.key, &[&self.associated], value);
        let mut out = String::with_capacity(TOKEN_PREFIX.len() + sealed.len().div_ceil(3) * 4);
        out.push_str(TOKEN_PREFIX);
        URL_SAFE_NO_PAD.encode_string(&sealed, &mut out);
        out
    }

    /// Recover the value of a token made by [`Tokenizer::mask`] in this scope.
    ///
    /// # Errors
    /// [`Error::TokenInvalid`] for a token that is malformed, altered, or made
    /// under another key or scope.
    pub fn unmask(&self, token: &str) -> Result<Vec<u8>> {
        let body = token.strip_prefix(TOKEN_PREFIX).ok_or(Error::TokenInvalid)?;
        let sealed = URL_SAFE_NO_PAD.decode(body).map_err(|_| Error::TokenInvalid)?;
        open(&self.key, &[&self.associated], &sealed)
    }

    /// Batch form of [`Tokenizer::mask`]: NULLs stay NULL.
    pub fn mask_batch(&self, values: &[Option<&[u8]>]) -> Vec<Option<String>> {
        let mut cipher = Aes128Siv::new(&self.key.into());
        values
            .iter()
            .map(|v| {
                v.map(|v| {
                    let sealed = cipher.encrypt([&self.associated], v).unwrap_or_default();
                    let mut out = String::from(TOKEN_PREFIX);
                    URL_SAFE_NO_PAD.encode_string(&sealed, &mut out);
                    out
                })
            })
            .collect()
    }

    /// Batch form of [`Tokenizer::unmask`]; the first bad token fails the batch.
    ///
    /// # Errors
    /// As [`Tokenizer::unmask`].
    pub fn unmask_batch(&self, tokens: &[Option<&str>]) -> Result<Vec<Option<Vec<u8>>>> {
        tokens.iter().map(|t| t.map(|t| self.unmask(t)).transpose()).collect()
    }
}

/// AES-SIV-CMAC-256 seal (RFC 5297): SIV ‖ ciphertext.
fn seal(key: &[u8; 32], headers: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
    // Encryption only fails for more than 126 headers; veil passes one or two.
    Aes128Siv::new(key.into()).encrypt(headers, plaintext).unwrap_or_default()
}

fn open(key: &[u8; 32], headers: &[&[u8]], sealed: &[u8]) -> Result<Vec<u8>> {
    Aes128Siv::new(key.into()).decrypt(headers, sealed).map_err(|_| Error::TokenInvalid)
}

/// Scalar: tokenize `value` in `scope`.
pub fn reversible_mask(key: &Key, scope: &Scope, value: &[u8]) -> String {
    Tokenizer::new(key, scope).mask(value)
}

/// Scalar: recover the value of `token` made in `scope`.
///
/// # Errors
/// As [`Tokenizer::unmask`].
pub fn reversible_unmask(key: &Key, scope: &Scope, token: &str) -> Result<Vec<u8>> {
    Tokenizer::new(key, scope).unmask(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
    }

    /// RFC 5297 appendix A.1: deterministic authenticated encryption.
    #[test]
    fn rfc5297_a1() {
        let key: [u8; 32] =
            hex("fffefdfc fbfaf9f8 f7f6f5f4 f3f2f1f0 f0f1f2f3 f4f5f6f7 f8f9fafb fcfdfeff").try_into().unwrap();
        let ad = hex("10111213 14151617 18191a1b 1c1d1e1f 20212223 24252627");
        let pt = hex("11223344 55667788 99aabbcc ddee");
        let expected = hex("85632d07 c6e8f37f 950acd32 0a2ecc93 40c02b96 90c4dc04 daef7f6a fe5c");
        let sealed = seal(&key, &[&ad], &pt);
        assert_eq!(sealed, expected);
        assert_eq!(open(&key, &[&ad], &sealed).unwrap(), pt);
    }

    /// RFC 5297 appendix A.2: nonce-based, several associated data items.
    #[test]
    fn rfc5297_a2() {
        let key: [u8; 32] =
            hex("7f7e7d7c 7b7a7978 77767574 73727170 40414243 44454647 48494a4b 4c4d4e4f").try_into().unwrap();
        let ad1 = hex("00112233 44556677 8899aabb ccddeeff deaddada deaddada ffeeddcc bbaa9988 77665544 33221100");
        let ad2 = hex("10203040 50607080 90a0");
        let nonce = hex("09f91102 9d74e35b d84156c5 635688c0");
        let pt = hex(
            "74686973 20697320 736f6d65 20706c61 696e7465 78742074 6f20656e 63727970 74207573 696e6720 5349562d 414553",
        );
        let expected = hex(
            "7bdb6e3b 432667eb 06f4d14b ff2fbd0f cb900f2f ddbe4043 26601965 c889bf17 dba77ceb 094fa663 b7a3f748 ba8af829 ea64ad54 4a272e9c 485b62a3 fd5c0d",
        );
        let sealed = seal(&key, &[&ad1, &ad2, &nonce], &pt);
        assert_eq!(sealed, expected);
        assert_eq!(open(&key, &[&ad1, &ad2, &nonce], &sealed).unwrap(), pt);
    }

    #[test]
    fn tokens_do_not_cross_scopes() {
        let key = Key::from_bytes([3; 32]);
        let a = Tokenizer::new(&key, &Scope::source("a"));
        let b = Tokenizer::new(&key, &Scope::source("b"));
        let token = a.mask(b"secret");
        assert_eq!(b.unmask(&token), Err(Error::TokenInvalid));
        assert_eq!(a.unmask("vt1.!!"), Err(Error::TokenInvalid));
        assert_eq!(a.unmask("secret"), Err(Error::TokenInvalid));
        assert_eq!(a.unmask_batch(&[Some(&token), None]).unwrap(), vec![Some(b"secret".to_vec()), None]);
        assert_eq!(a.mask_batch(&[Some(b"secret"), None]), vec![Some(token), None]);
    }
}
