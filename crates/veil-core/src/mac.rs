//! HMAC-SHA-256 (RFC 2104) with the keyed inner and outer states computed once.
//!
//! The `hmac` crate keys its states once too, but each message then pays for
//! cloning its buffers and for its generic finalisation. Here a message costs the
//! SHA-256 compressions of its own padded blocks plus one for the outer hash, run
//! through `sha2::compress256` (SHA-NI where the CPU has it). RFC 4231's vectors
//! and a property test against the `hmac` crate check it.

use sha2::digest::generic_array::GenericArray;
use sha2::{Digest, Sha256};

/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const IV: [u32; 8] = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const BLOCK: usize = 64;

type Block = GenericArray<u8, sha2::digest::consts::U64>;

/// HMAC-SHA-256 under one key.
#[derive(Clone)]
pub(crate) struct PreparedMac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl PreparedMac {
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut k0 = [0u8; BLOCK];
        if key.len() > BLOCK {
            let digest = Sha256::digest(key);
            k0.iter_mut().zip(digest.iter()).for_each(|(k, d)| *k = *d);
        } else {
            k0.iter_mut().zip(key).for_each(|(k, d)| *k = *d);
        }
        let keyed = |pad: u8| {
            let mut block = Block::default();
            block.iter_mut().zip(k0).for_each(|(b, k)| *b = k ^ pad);
            let mut state = IV;
            sha2::compress256(&mut state, core::slice::from_ref(&block));
            state
        };
        Self { inner: keyed(0x36), outer: keyed(0x5c) }
    }

    #[inline]
    pub(crate) fn digest(&self, message: &[u8]) -> [u8; 32] {
        let mut inner = self.inner;
        finish(&mut inner, BLOCK, message);
        // The outer message is always the 32-byte inner digest: one block.
        let block = outer_block(&inner);
        let mut outer = self.outer;
        sha2::compress256(&mut outer, core::slice::from_ref(Block::from_slice(&block)));
        let mut out = [0u8; 32];
        write_state(&outer, &mut out);
        out
    }
}

/// Two independent SHA-256 compressions, issued back to back: each is a
/// latency-bound chain (SHA-NI's `sha256rnds2`), and with no data flowing between
/// them the CPU runs the second while the first waits.
#[inline]
fn compress_both(states: &mut [[u32; 8]; 2], blocks: &[[u8; BLOCK]; 2]) {
    for (state, block) in states.iter_mut().zip(blocks) {
        sha2::compress256(state, core::slice::from_ref(Block::from_slice(block)));
    }
}

impl PreparedMac {
    /// [`PreparedMac::digest`] of two messages, their compressions issued in
    /// pairs ([`compress_both`]) while both have blocks left (all of them for
    /// messages under 56 bytes), the rest one at a time.
    pub(crate) fn digest_pair(&self, messages: [&[u8]; 2]) -> [[u8; 32]; 2] {
        let [a, b] = messages;
        let (count_a, count_b) = (padded_blocks(a.len()), padded_blocks(b.len()));
        let mut inner = [self.inner; 2];
        for i in 0..count_a.min(count_b) {
            compress_both(&mut inner, &[padded_block(a, i), padded_block(b, i)]);
        }
        let [inner_a, inner_b] = &mut inner;
        for i in count_b..count_a {
            sha2::compress256(inner_a, core::slice::from_ref(Block::from_slice(&padded_block(a, i))));
        }
        for i in count_a..count_b {
            sha2::compress256(inner_b, core::slice::from_ref(Block::from_slice(&padded_block(b, i))));
        }
        let mut outer = [self.outer; 2];
        compress_both(&mut outer, &inner.map(|state| outer_block(&state)));
        outer.map(|state| {
            let mut out = [0u8; 32];
            write_state(&state, &mut out);
            out
        })
    }
}

/// Blocks in the padded inner message: the opad-keyed block is already absorbed,
/// then the message, the 0x80 byte and the 8-byte length.
#[inline]
fn padded_blocks(len: usize) -> usize {
    (len + 9).div_ceil(BLOCK)
}

/// Block `i` of the padded inner message (FIPS 180-4, 5.1.1), after the one
/// keyed block.
#[inline]
fn padded_block(message: &[u8], i: usize) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    let start = i * BLOCK;
    let rest = message.get(start..).unwrap_or_default();
    block.iter_mut().zip(rest).for_each(|(t, m)| *t = *m);
    if let Some(b) = message.len().checked_sub(start).and_then(|at| block.get_mut(at)) {
        *b = 0x80;
    }
    if i + 1 == padded_blocks(message.len()) {
        let bit_len = ((BLOCK + message.len()) as u64).wrapping_mul(8).to_be_bytes();
        block.iter_mut().skip(BLOCK - 8).zip(bit_len).for_each(|(t, b)| *t = b);
    }
    block
}

/// The outer hash's one block: the 32-byte inner digest, padded.
#[inline]
fn outer_block(inner: &[u32; 8]) -> [u8; BLOCK] {
    let mut block = [0u8; BLOCK];
    for (chunk, word) in block.chunks_exact_mut(4).zip(inner) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    if let Some(b) = block.get_mut(32) {
        *b = 0x80;
    }
    block.iter_mut().skip(BLOCK - 8).zip(OUTER_BIT_LEN.to_be_bytes()).for_each(|(t, b)| *t = b);
    block
}

/// Bit length of the outer hash input: the opad block and a 32-byte digest.
const OUTER_BIT_LEN: u64 = ((BLOCK + 32) * 8) as u64;

/// Hash `message` into `state`, which has already absorbed `prefix_len` bytes
/// (a whole number of blocks), and apply SHA-256's final padding.
#[inline]
fn finish(state: &mut [u32; 8], prefix_len: usize, message: &[u8]) {
    let full = message.len() / BLOCK * BLOCK;
    let (blocks, rest) = message.split_at(full);
    for block in blocks.chunks_exact(BLOCK) {
        sha2::compress256(state, core::slice::from_ref(Block::from_slice(block)));
    }
    let bit_len = ((prefix_len + message.len()) as u64).wrapping_mul(8).to_be_bytes();
    let mut last = Block::default();
    last.iter_mut().zip(rest).for_each(|(t, r)| *t = *r);
    // rest.len() < 64: the 0x80 byte always fits in this block.
    if let Some(b) = last.get_mut(rest.len()) {
        *b = 0x80;
    }
    if rest.len() >= BLOCK - 8 {
        // No room for the length: it goes in a block of its own.
        sha2::compress256(state, core::slice::from_ref(&last));
        last = Block::default();
    }
    last.iter_mut().skip(BLOCK - 8).zip(bit_len).for_each(|(t, b)| *t = b);
    sha2::compress256(state, core::slice::from_ref(&last));
}

#[inline]
fn write_state(state: &[u32; 8], out: &mut [u8; 32]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};
    use proptest::prelude::*;

    fn reference(key: &[u8], message: &[u8]) -> [u8; 32] {
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn every_padding_boundary_matches_the_hmac_crate() {
        let key = [0x5a; 32];
        let mac = PreparedMac::new(&key);
        for len in 0..=200 {
            let message: Vec<u8> = (0..len).map(|i| i as u8).collect();
            assert_eq!(mac.digest(&message), reference(&key, &message), "length {len}");
        }
    }

    #[test]
    fn pairs_match_single_digests_at_every_padding_boundary() {
        let mac = PreparedMac::new(&[0x5a; 32]);
        let messages: Vec<Vec<u8>> = (0..=140).map(|len| (0..len).map(|i| (i * 7) as u8).collect()).collect();
        for a in &messages {
            for b in messages.iter().step_by(3) {
                let pair = mac.digest_pair([a, b]);
                assert_eq!(pair, [mac.digest(a), mac.digest(b)], "lengths {} and {}", a.len(), b.len());
            }
        }
    }

    proptest! {
        #[test]
        fn pairs_match_the_hmac_crate(key in prop::collection::vec(any::<u8>(), 0..100), a in prop::collection::vec(any::<u8>(), 0..200), b in prop::collection::vec(any::<u8>(), 0..200)) {
            let pair = PreparedMac::new(&key).digest_pair([&a, &b]);
            prop_assert_eq!(pair, [reference(&key, &a), reference(&key, &b)]);
        }

        #[test]
        fn matches_the_hmac_crate(key in prop::collection::vec(any::<u8>(), 0..150), message in prop::collection::vec(any::<u8>(), 0..300)) {
            prop_assert_eq!(PreparedMac::new(&key).digest(&message), reference(&key, &message));
        }
    }
}
