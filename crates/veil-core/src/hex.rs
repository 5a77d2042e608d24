//! Lowercase hex encoding with a lookup table.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Encode 32 bytes as 64 lowercase hex digits into `out`.
#[inline]
#[allow(clippy::indexing_slicing)] // a nibble is always < 16
pub(crate) fn encode32(bytes: &[u8; 32], out: &mut [u8; 64]) {
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = DIGITS[usize::from(byte >> 4)];
            *lo = DIGITS[usize::from(byte & 0x0f)];
        }
    }
}
