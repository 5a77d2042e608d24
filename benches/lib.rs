//! Realistic generated inputs shared by veil's benches and `veil bench`.
//!
//! The benches themselves are in `benches/`; run them with
//! `cargo bench -p veil-benches`.

/// `n` e-mail-like strings of 8–40 bytes, deterministic (a fixed LCG).
pub fn emails(n: usize) -> Vec<String> {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = move || {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    };
    (0..n)
        .map(|i| {
            let user_len = 3 + (next() % 20) as usize;
            let user: String = (0..user_len).map(|_| char::from(b'a' + (next() % 26) as u8)).collect();
            let domain =
                ["example.com", "mail.org", "corp.io", "shop.co.uk"].get(i % 4).copied().unwrap_or("example.com");
            format!("{user}@{domain}")
        })
        .collect()
}

/// `n` 16-digit card numbers, deterministic.
pub fn card_numbers(n: usize) -> Vec<String> {
    (0..n as u64).map(|i| format!("{:016}", 4_000_000_000_000_000u64 + i.wrapping_mul(7_919_104_729))).collect()
}

/// `n` dotted IPv4 addresses, deterministic.
pub fn ip_addresses(n: usize) -> Vec<String> {
    (0..n as u32)
        .map(|i| {
            let x = i.wrapping_mul(2_654_435_761);
            format!("{}.{}.{}.{}", x >> 24, (x >> 16) & 255, (x >> 8) & 255, x & 255)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_have_realistic_lengths() {
        assert!(emails(1000).iter().all(|e| (8..=40).contains(&e.len()) && e.contains('@')));
        assert!(card_numbers(100).iter().all(|c| c.len() == 16 && c.bytes().all(|b| b.is_ascii_digit())));
        assert_eq!(ip_addresses(3)[0], "0.0.0.0");
    }
}

/// One measured function.
#[derive(Clone, Debug)]
pub struct Measurement {
    /// What ran, e.g. `keyed_hash (batch)`.
    pub name: &'static str,
    /// How many values it processed per repetition.
    pub values: usize,
    /// Best time per value over the repetitions, in nanoseconds.
    pub ns_per_value: f64,
    /// `ns_per_value` divided by the plain SHA-256 baseline measured in the same run.
    pub vs_sha256: f64,
}

impl Measurement {
    /// Values per second.
    pub fn per_second(&self) -> f64 {
        if self.ns_per_value > 0.0 {
            1e9 / self.ns_per_value
        } else {
            f64::INFINITY
        }
    }
}

/// Time `f` over `values` items `repeats` times; the best run, in ns per value.
fn best_ns<F: FnMut() -> usize>(values: usize, repeats: usize, mut f: F) -> f64 {
    let mut best = f64::INFINITY;
    for _ in 0..repeats.max(1) {
        let start = std::time::Instant::now();
        std::hint::black_box(f());
        best = best.min(start.elapsed().as_nanos() as f64 / values.max(1) as f64);
    }
    best
}

/// How many groups [`run_all`] measures (calls to its `progress`).
pub const GROUPS: usize = 8;

/// Measure every veil-core function on `n` generated values (plain SHA-256 first,
/// as the baseline every ratio refers to). `progress` is called before each
/// group of functions ([`GROUPS`] times).
pub fn run_all(n: usize, repeats: usize, mut progress: impl FnMut(&str)) -> Vec<Measurement> {
    use sha2::{Digest, Sha256};
    use veil_core::mask::{self, DateUnit, FloatBucket, FormatPreserving, Keep, KeyedHasher, RegexMask, Tokenizer};
    use veil_core::{rows, Key, Scope};

    let key = Key::from_bytes([7; 32]);
    let scope = Scope::source("bench.customers");
    let mails = emails(n);
    let mail_refs: Vec<Option<&str>> = mails.iter().map(|v| Some(v.as_str())).collect();
    let mail_bytes: Vec<Option<&[u8]>> = mails.iter().map(|v| Some(v.as_bytes())).collect();
    let cards = card_numbers(n);
    let card_refs: Vec<Option<&str>> = cards.iter().map(|v| Some(v.as_str())).collect();
    let ips = ip_addresses(n);
    let ip_refs: Vec<Option<&str>> = ips.iter().map(|v| Some(v.as_str())).collect();
    let ints: Vec<i64> = (0..n as i64).map(|i| i.wrapping_mul(7_919) - 300_000).collect();
    let floats: Vec<f64> = ints.iter().map(|&i| i as f64 / 7.0).collect();
    let micros: Vec<i64> = ints.iter().map(|&i| 1_700_000_000_000_000 + i * 123_456_789).collect();

    // Each function runs interleaved with the baseline, as many times as it, and
    // its ratio is to the baseline's best run beside it: a busy moment on a shared
    // machine then skews both sides alike.
    let baseline =
        || mails.iter().map(|v| usize::from(Sha256::digest(v.as_bytes()).first().copied().unwrap_or(0))).sum::<usize>();
    let mut out: Vec<Measurement> = Vec::new();
    macro_rules! measure {
        ($name:expr, $f:expr) => {{
            let (mut best, mut base) = (f64::INFINITY, f64::INFINITY);
            for _ in 0..repeats.max(1) {
                base = base.min(best_ns(n, 1, baseline));
                best = best.min(best_ns(n, 1, $f));
            }
            out.push(Measurement { name: $name, values: n, ns_per_value: best, vs_sha256: best / base });
        }};
    }
    let count_some = |v: Vec<Option<String>>| v.iter().filter(|x| x.is_some()).count();

    progress("sha256 (baseline)");
    measure!("sha256 baseline", baseline);

    progress("keyed hash");
    let hasher = KeyedHasher::new(&key, &scope);
    measure!("keyed_hash (batch, into buffer)", || {
        let mut buf = [0u8; 64];
        mails
            .iter()
            .map(|v| {
                hasher.hash_into(v.as_bytes(), &mut buf);
                usize::from(buf.first().copied().unwrap_or(0))
            })
            .sum()
    });
    measure!("keyed_hash (batch, strings)", || count_some(hasher.hash_batch(&mail_bytes)));

    progress("regex mask");
    if let Ok(regex) = RegexMask::new(r"\d+$", "XXX") {
        measure!("mask_regex \\d+$ (batch)", || count_some(regex.apply_batch(&ip_refs)));
    }

    progress("reveal and e-mail");
    measure!("reveal_last 4 (batch)", || count_some(mask::reveal_batch(&card_refs, Keep::Last(4), 'X')));
    measure!("mask_email (batch)", || count_some(mask::email_mask_batch(&mail_refs)));

    progress("format-preserving (FF1)");
    let fp = FormatPreserving::new(&key, &scope);
    measure!("fpe_encrypt 16 digits (batch)", || fp.encrypt_batch(&card_refs).map(count_some).unwrap_or(0));

    progress("reversible tokens");
    let tokens = Tokenizer::new(&key, &scope);
    measure!("token_mask (batch)", || count_some(tokens.mask_batch(&mail_bytes)));

    progress("rounding and dates");
    measure!("round_int width 10", || ints
        .iter()
        .filter_map(|&v| mask::round_int(std::hint::black_box(v), 10).ok())
        .filter(|&r| r > 0)
        .count());
    if let Ok(bucket) = FloatBucket::new(0.01) {
        measure!("round_float width 0.01", || floats
            .iter()
            .filter(|&&v| bucket.apply(std::hint::black_box(v)) > 0.0)
            .count());
    }
    measure!("trunc_timestamp month", || {
        micros.iter().filter(|&&t| mask::trunc_timestamp_micros(std::hint::black_box(t), DateUnit::Month) > 0).count()
    });

    progress("row predicates");
    let tags = ["Sports.Football.Quarterback", "Sports.Baseball", "Gym.Gymnastics", "Public"];
    measure!("tag_match", || {
        (0..n)
            .filter(|i| tags.get(i % 4).is_some_and(|t| rows::tag_matches(std::hint::black_box("Sports.Football"), t)))
            .count()
    });
    if let Ok(sampler) = rows::Sampler::new(&key, &scope, 10.0) {
        measure!("in_sample 10%", || mails.iter().filter(|m| sampler.contains(m.as_bytes())).count());
    }
    out
}
