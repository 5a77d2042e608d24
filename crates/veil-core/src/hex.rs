//! Lowercase hex encoding with a lookup table.

/// Two hex digits for every byte value.
#[allow(clippy::indexing_slicing)] // const evaluation: an out-of-range index fails the build
const PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    table
};

/// Encode 32 bytes as 64 lowercase hex digits into `out`.
#[inline]
pub(crate) fn encode32(bytes: &[u8; 32], out: &mut [u8; 64]) {
    for (pair, &byte) in out.chunks_exact_mut(2).zip(bytes) {
        #[allow(clippy::indexing_slicing)] // a u8 always indexes a 256-entry table
        pair.copy_from_slice(&PAIRS[usize::from(byte)]);
    }
}
