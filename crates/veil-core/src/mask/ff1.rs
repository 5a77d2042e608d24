//! FF1 format-preserving encryption (NIST SP 800-38G Rev. 1) over AES.
//!
//! When every intermediate number fits in 128 bits (b <= 12 bytes, i.e. up to 56
//! decimal digits or 36 base-36 characters) the rounds run on `u128` with one AES
//! call each: the CBC-MAC over `P ‖ Q` is precomputed up to `Q`'s last block,
//! which is the only block that changes between rounds. Longer inputs use the
//! `fpe` crate (big integers). Both are checked against the NIST samples and
//! against each other.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes192, Aes256, Block};
use fpe::ff1::{FlexibleNumeralString, FF1 as PeerFf1};

use crate::{Error, Result};

/// The smallest domain (radix^length) NIST SP 800-38G Rev. 1 allows.
pub const MIN_DOMAIN: u128 = 1_000_000;

/// Largest `b` (bytes of NUM(B)) handled on the `u128` path: then `d <= 16`.
const FAST_MAX_B: usize = 12;

#[derive(Clone)]
enum Cipher {
    Aes128(Aes128),
    Aes192(Aes192),
    Aes256(Aes256),
}

impl Cipher {
    #[inline]
    fn encrypt(&self, block: &mut Block) {
        match self {
            Cipher::Aes128(c) => c.encrypt_block(block),
            Cipher::Aes192(c) => c.encrypt_block(block),
            Cipher::Aes256(c) => c.encrypt_block(block),
        }
    }
}

/// FF1 under one AES key (16, 24 or 32 bytes) and one radix (2..=65536).
///
/// ```
/// use veil_core::mask::Ff1;
/// // NIST SP 800-38G sample 1 (AES-128, radix 10, empty tweak).
/// let key = [0x2B, 0x7E, 0x15, 0x16, 0x28, 0xAE, 0xD2, 0xA6, 0xAB, 0xF7, 0x15, 0x88, 0x09, 0xCF, 0x4F, 0x3C];
/// let ff1 = Ff1::new(&key, 10).unwrap();
/// let x = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
/// let y = ff1.encrypt(&[], &x).unwrap();
/// assert_eq!(y, [2, 4, 3, 3, 4, 7, 7, 4, 8, 4]);
/// assert_eq!(ff1.decrypt(&[], &y).unwrap(), x);
/// ```
#[derive(Clone)]
pub struct Ff1 {
    cipher: Cipher,
    key: Vec<u8>,
    radix: u32,
}

/// Per-length set-up: everything that depends on the tweak and the length only.
#[derive(Clone)]
pub(crate) struct Prepared {
    n: usize,
    u: usize,
    b: usize,
    d: usize,
    pow_u: u128,
    pow_v: u128,
    /// CBC-MAC state after `P` and every block of `Q` but the last.
    state: Block,
    /// `Q`'s last block with the round number and NUM(B) still zero.
    last: Block,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Encrypt,
    Decrypt,
}

impl Ff1 {
    /// Key FF1.
    ///
    /// # Errors
    /// [`Error::InvalidKey`] for a key that is not 16, 24 or 32 bytes;
    /// [`Error::InvalidArgument`] for a radix outside 2..=65536.
    pub fn new(key: &[u8], radix: u32) -> Result<Self> {
        if !(2..=65_536).contains(&radix) {
            return Err(Error::InvalidArgument(format!("FF1 radix must be 2..=65536, got {radix}")));
        }
        let bad_key = |_| Error::InvalidKey(format!("an AES key is 16, 24 or 32 bytes, got {}", key.len()));
        let bad_key = |e: aes::cipher::InvalidLength| bad_key(e);
        let cipher = match key.len() {
            16 => Cipher::Aes128(Aes128::new_from_slice(key).map_err(bad_key)?),
            24 => Cipher::Aes192(Aes192::new_from_slice(key).map_err(bad_key)?),
            32 => Cipher::Aes256(Aes256::new_from_slice(key).map_err(bad_key)?),
            _ => return Err(bad_key(aes::cipher::InvalidLength)),
        };
        Ok(Self { cipher, key: key.to_vec(), radix })
    }

    /// FF1 under an AES-256 key; `radix` must be in 2..=65536 (callers pass constants).
    pub(crate) fn aes256(key: &[u8; 32], radix: u32) -> Self {
        Self { cipher: Cipher::Aes256(Aes256::new(key.into())), key: key.to_vec(), radix: radix.clamp(2, 65_536) }
    }

    /// The radix.
    pub fn radix(&self) -> u32 {
        self.radix
    }

    /// Encrypt a numeral string (each numeral < radix).
    ///
    /// # Errors
    /// [`Error::FpeDomain`]-style [`Error::InvalidArgument`] when radix^length is
    /// below 1,000,000, or a numeral is out of range.
    pub fn encrypt(&self, tweak: &[u8], numerals: &[u16]) -> Result<Vec<u16>> {
        let mut out = numerals.to_vec();
        self.crypt_in_place(tweak, &mut out, Direction::Encrypt, &mut None)?;
        Ok(out)
    }

    /// Decrypt a numeral string.
    ///
    /// # Errors
    /// As [`Ff1::encrypt`].
    pub fn decrypt(&self, tweak: &[u8], numerals: &[u16]) -> Result<Vec<u16>> {
        let mut out = numerals.to_vec();
        self.crypt_in_place(tweak, &mut out, Direction::Decrypt, &mut None)?;
        Ok(out)
    }

    /// Encrypt in place, reusing per-length set-up kept in `cache` across calls
    /// with the same tweak.
    pub(crate) fn encrypt_cached(&self, tweak: &[u8], x: &mut [u16], cache: &mut Option<Prepared>) -> Result<()> {
        self.crypt_in_place(tweak, x, Direction::Encrypt, cache)
    }

    /// Decrypt in place; see [`Ff1::encrypt_cached`].
    pub(crate) fn decrypt_cached(&self, tweak: &[u8], x: &mut [u16], cache: &mut Option<Prepared>) -> Result<()> {
        self.crypt_in_place(tweak, x, Direction::Decrypt, cache)
    }

    /// The numeral count below which radix^n < 1,000,000.
    pub fn min_len(&self) -> usize {
        let mut n = 1usize;
        let mut domain = u128::from(self.radix);
        while domain < MIN_DOMAIN {
            domain *= u128::from(self.radix);
            n += 1;
        }
        n.max(2)
    }

    fn crypt_in_place(&self, tweak: &[u8], x: &mut [u16], dir: Direction, cache: &mut Option<Prepared>) -> Result<()> {
        let n = x.len();
        if n < self.min_len() {
            return Err(Error::InvalidArgument(format!(
                "FF1 needs radix^length >= 1000000: at radix {} that is at least {} numerals, got {n}",
                self.radix,
                self.min_len()
            )));
        }
        if x.iter().any(|&c| u32::from(c) >= self.radix) {
            return Err(Error::InvalidArgument(format!("a numeral is not below the radix {}", self.radix)));
        }
        if cache.as_ref().map(|p| p.n) != Some(n) {
            *cache = self.prepare(tweak, n);
        }
        match cache {
            Some(prepared) => {
                self.rounds_u128(prepared, x, dir);
                Ok(())
            }
            None => self.peer(tweak, x, dir),
        }
    }

    /// Per-length set-up for the `u128` path; `None` when the length needs big integers.
    fn prepare(&self, tweak: &[u8], n: usize) -> Option<Prepared> {
        let radix = u128::from(self.radix);
        let u = n / 2;
        let v = n - u;
        let pow_u = radix.checked_pow(u32::try_from(u).ok()?)?;
        let pow_v = radix.checked_pow(u32::try_from(v).ok()?)?;
        // b = ceil(ceil(v * log2(radix)) / 8) = bytes of (radix^v - 1).
        let bits = 128 - (pow_v - 1).leading_zeros() as usize;
        let b = bits.div_ceil(8);
        if b > FAST_MAX_B {
            return None;
        }
        let d = 4 * b.div_ceil(4) + 4;
        let t = tweak.len();
        let n32 = u32::try_from(n).ok()?;
        let t32 = u32::try_from(t).ok()?;

        let r = self.radix.to_be_bytes();
        let [n0, n1, n2, n3] = n32.to_be_bytes();
        let [t0, t1, t2, t3] = t32.to_be_bytes();
        let [_, r1, r2, r3] = r;
        let mut state = Block::from([1, 2, 1, r1, r2, r3, 10, (u % 256) as u8, n0, n1, n2, n3, t0, t1, t2, t3]);
        self.cipher.encrypt(&mut state);

        // Q = T ‖ 0^pad ‖ [i] ‖ NUM(B)^b, a whole number of blocks.
        let pad = (16 - (t + b + 1) % 16) % 16;
        let mut prefix = Vec::with_capacity(t + pad);
        prefix.extend_from_slice(tweak);
        prefix.resize(t + pad, 0);
        let tail_len = 16 - 1 - b;
        let full = prefix.len() - tail_len;
        let (head, tail) = prefix.split_at(full);
        for chunk in head.chunks_exact(16) {
            xor_into(&mut state, chunk);
            self.cipher.encrypt(&mut state);
        }
        let mut last = Block::default();
        for (slot, byte) in last.iter_mut().zip(tail) {
            *slot = *byte;
        }
        Some(Prepared { n, u, b, d, pow_u, pow_v, state, last })
    }

    fn rounds_u128(&self, p: &Prepared, x: &mut [u16], dir: Direction) {
        let radix = u128::from(self.radix);
        let (left, right) = x.split_at_mut(p.u);
        let mut a = num(left, radix);
        let mut b = num(right, radix);
        let round_fn = |i: u8, source: u128| -> u128 {
            let mut block = p.last;
            let bytes = source.to_be_bytes();
            let at = 16 - 1 - p.b;
            if let Some(slot) = block.get_mut(at) {
                *slot = i;
            }
            for (slot, byte) in block.iter_mut().skip(at + 1).zip(bytes.iter().skip(16 - p.b)) {
                *slot = *byte;
            }
            xor_into(&mut block, &p.state);
            self.cipher.encrypt(&mut block);
            // y = NUM(S), S = the first d bytes of R (d <= 16 on this path).
            let mut y = 0u128;
            for byte in block.iter().take(p.d) {
                y = (y << 8) | u128::from(*byte);
            }
            y
        };
        match dir {
            Direction::Encrypt => {
                for i in 0..10u8 {
                    let modulus = if i % 2 == 0 { p.pow_u } else { p.pow_v };
                    let y = round_fn(i, b) % modulus;
                    let c = (a + y) % modulus;
                    a = b;
                    b = c;
                }
            }
            Direction::Decrypt => {
                for i in (0..10u8).rev() {
                    let modulus = if i % 2 == 0 { p.pow_u } else { p.pow_v };
                    let y = round_fn(i, a) % modulus;
                    let c = (b + modulus - y) % modulus;
                    b = a;
                    a = c;
                }
            }
        }
        write_numerals(left, a, radix);
        write_numerals(right, b, radix);
    }

    /// The big-integer path, for lengths whose numbers exceed 128 bits.
    fn peer(&self, tweak: &[u8], x: &mut [u16], dir: Direction) -> Result<()> {
        let input = FlexibleNumeralString::from(x.to_vec());
        let failed = |e: fpe::ff1::NumeralStringError| Error::InvalidArgument(format!("FF1: {e}"));
        let output: Vec<u16> = match (&self.cipher, dir) {
            (Cipher::Aes128(_), d) => run_peer::<Aes128>(&self.key, self.radix, tweak, &input, d),
            (Cipher::Aes192(_), d) => run_peer::<Aes192>(&self.key, self.radix, tweak, &input, d),
            (Cipher::Aes256(_), d) => run_peer::<Aes256>(&self.key, self.radix, tweak, &input, d),
        }
        .map_err(failed)?
        .into();
        for (slot, value) in x.iter_mut().zip(output) {
            *slot = value;
        }
        Ok(())
    }
}

fn run_peer<C>(
    key: &[u8],
    radix: u32,
    tweak: &[u8],
    input: &FlexibleNumeralString,
    dir: Direction,
) -> core::result::Result<FlexibleNumeralString, fpe::ff1::NumeralStringError>
where
    C: aes::cipher::BlockCipher + BlockEncrypt + Clone + KeyInit,
{
    let ff1 = PeerFf1::<C>::new(key, radix).map_err(|_| fpe::ff1::NumeralStringError::InvalidForRadix(radix))?;
    match dir {
        Direction::Encrypt => ff1.encrypt(tweak, input),
        Direction::Decrypt => ff1.decrypt(tweak, input),
    }
}

#[inline]
fn xor_into(block: &mut Block, other: &[u8]) {
    for (a, b) in block.iter_mut().zip(other) {
        *a ^= *b;
    }
}

#[inline]
fn num(numerals: &[u16], radix: u128) -> u128 {
    numerals.iter().fold(0u128, |acc, &c| acc * radix + u128::from(c))
}

#[inline]
fn write_numerals(out: &mut [u16], mut value: u128, radix: u128) {
    for slot in out.iter_mut().rev() {
        // value % radix < radix <= 65536, so it fits in u16... except radix 65536 itself.
        *slot = u16::try_from(value % radix).unwrap_or(u16::MAX);
        value /= radix;
    }
}
