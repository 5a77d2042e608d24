//! veil-core throughput, each function beside its baseline in the same group:
//! plain SHA-256 for the keyed hash, the `fpe` crate for FF1.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use sha2::{Digest, Sha256};
use veil_benches::{card_numbers, emails, ip_addresses};
use veil_core::mask::{self, DateUnit, FloatBucket, FormatPreserving, KeyedHasher, RegexMask, Tokenizer};
use veil_core::{rows, Key, Scope};

const N: usize = 100_000;

fn key() -> Key {
    Key::from_bytes([7; 32])
}

fn scope() -> Scope {
    Scope::source("shop.customers")
}

fn hash(c: &mut Criterion) {
    let values = emails(N);
    let mut g = c.benchmark_group("keyed_hash");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("baseline_sha256_hex", |b| {
        let mut out = [0u8; 64];
        b.iter(|| {
            for v in &values {
                let d: [u8; 32] = Sha256::digest(v.as_bytes()).into();
                for (pair, byte) in out.chunks_exact_mut(2).zip(d) {
                    pair.copy_from_slice(&[
                        b"0123456789abcdef"[usize::from(byte >> 4)],
                        b"0123456789abcdef"[usize::from(byte & 15)],
                    ]);
                }
                black_box(&out);
            }
        })
    });
    g.bench_function("baseline_sha256_digest", |b| {
        b.iter(|| {
            for v in &values {
                black_box(Sha256::digest(v.as_bytes()));
            }
        })
    });
    let hasher = KeyedHasher::new(&key(), &scope());
    g.bench_function("batch_into", |b| {
        let mut out = [0u8; 64];
        b.iter(|| {
            for v in &values {
                hasher.hash_into(v.as_bytes(), &mut out);
                black_box(&out);
            }
        })
    });
    let refs: Vec<Option<&[u8]>> = values.iter().map(|v| Some(v.as_bytes())).collect();
    g.bench_function("batch_strings", |b| b.iter(|| black_box(hasher.hash_batch(&refs))));
    g.sample_size(10);
    g.bench_function("scalar", |b| {
        b.iter(|| {
            for v in values.iter().take(N) {
                black_box(mask::keyed_hash(&key(), &scope(), v.as_bytes()));
            }
        })
    });
    g.finish();
}

fn ff1(c: &mut Criterion) {
    let cards = card_numbers(N / 10);
    let n = cards.len() as u64;
    let derived = [9u8; 32];
    let numerals: Vec<Vec<u16>> = cards.iter().map(|c| c.bytes().map(|b| u16::from(b - b'0')).collect()).collect();
    let mut g = c.benchmark_group("ff1_16_digits");
    g.throughput(Throughput::Elements(n));
    let peer = fpe::ff1::FF1::<aes::Aes256>::new(&derived, 10).unwrap();
    g.bench_function("baseline_fpe_crate", |b| {
        b.iter(|| {
            for x in &numerals {
                black_box(peer.encrypt(b"shop", &fpe::ff1::FlexibleNumeralString::from(x.clone())).unwrap());
            }
        })
    });
    let ours = mask::Ff1::new(&derived, 10).unwrap();
    g.bench_function("veil_ff1", |b| {
        b.iter(|| {
            for x in &numerals {
                black_box(ours.encrypt(b"shop", x).unwrap());
            }
        })
    });
    let fp = FormatPreserving::new(&key(), &scope());
    let refs: Vec<Option<&str>> = cards.iter().map(|c| Some(c.as_str())).collect();
    g.bench_function("format_preserving_batch", |b| b.iter(|| black_box(fp.encrypt_batch(&refs).unwrap())));
    g.finish();
}

fn text_masks(c: &mut Criterion) {
    let ips = ip_addresses(N);
    let ip_refs: Vec<Option<&str>> = ips.iter().map(|v| Some(v.as_str())).collect();
    let mails = emails(N);
    let mail_refs: Vec<Option<&str>> = mails.iter().map(|v| Some(v.as_str())).collect();
    let cards = card_numbers(N);
    let card_refs: Vec<Option<&str>> = cards.iter().map(|v| Some(v.as_str())).collect();
    let mut g = c.benchmark_group("text_masks");
    g.throughput(Throughput::Elements(N as u64));
    let regex = RegexMask::new(r"\d+$", "XXX").unwrap();
    g.bench_function("regex_batch", |b| b.iter(|| black_box(regex.apply_batch(&ip_refs))));
    g.sample_size(10);
    g.bench_function("regex_scalar_compiling_each_time", |b| {
        b.iter(|| {
            for v in ips.iter().take(N / 100) {
                black_box(mask::regex_mask(v, r"\d+$", "XXX").unwrap());
            }
        })
    });
    g.sample_size(100);
    g.bench_function("reveal_last4_batch", |b| {
        b.iter(|| black_box(mask::reveal_batch(&card_refs, mask::Keep::Last(4), 'X')))
    });
    g.bench_function("email_batch", |b| b.iter(|| black_box(mask::email_mask_batch(&mail_refs))));
    let tokens = Tokenizer::new(&key(), &scope());
    let byte_refs: Vec<Option<&[u8]>> = mails.iter().map(|v| Some(v.as_bytes())).collect();
    g.bench_function("token_batch", |b| b.iter(|| black_box(tokens.mask_batch(&byte_refs))));
    g.finish();
}

fn numbers_and_rows(c: &mut Criterion) {
    let ints: Vec<i64> = (0..N as i64).map(|i| i * 7_919 - 300_000).collect();
    let floats: Vec<f64> = ints.iter().map(|&i| i as f64 / 7.0).collect();
    let micros: Vec<i64> = ints.iter().map(|&i| 1_700_000_000_000_000 + i * 123_456_789).collect();
    let mut g = c.benchmark_group("numbers_dates_rows");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("round_int", |b| b.iter(|| ints.iter().map(|&v| mask::round_int(v, 10).unwrap()).sum::<i64>()));
    let bucket = FloatBucket::new(0.01).unwrap();
    g.bench_function("round_float_bucket", |b| b.iter(|| floats.iter().map(|&v| bucket.apply(v)).sum::<f64>()));
    g.bench_function("trunc_timestamp_month", |b| {
        b.iter(|| micros.iter().map(|&t| mask::trunc_timestamp_micros(t, DateUnit::Month)).sum::<i64>())
    });
    g.bench_function("trunc_timestamp_hour", |b| {
        b.iter(|| micros.iter().map(|&t| mask::trunc_timestamp_micros(t, DateUnit::Hour)).sum::<i64>())
    });
    let tags = ["Sports.Football.Quarterback", "Sports.Baseball", "Gym.Gymnastics", "Public"];
    g.bench_function("tag_match", |b| {
        b.iter(|| (0..N).filter(|i| rows::tag_matches("Sports.Football", tags[i % 4])).count())
    });
    let sampler = rows::Sampler::new(&key(), &scope(), 10.0).unwrap();
    let keys: Vec<[u8; 8]> = (0..N as u64).map(u64::to_le_bytes).collect();
    g.bench_function("in_sample", |b| b.iter(|| keys.iter().filter(|k| sampler.contains(&k[..])).count()));
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(std::time::Duration::from_millis(500)).measurement_time(std::time::Duration::from_secs(2));
    targets = hash, ff1, text_masks, numbers_and_rows
}
criterion_main!(benches);
