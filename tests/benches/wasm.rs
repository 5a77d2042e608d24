//! ns/value of keyed hash, regex mask and FF1: veil-core natively vs the component
//! in wasmtime, batch (2048 values a call) and scalar (one call a value); plus the
//! bare cost of one scalar call (the boundary) for scale.
//!
//! `scripts/build-wasm && cargo bench -p veil-tests --bench wasm`; node's figures come
//! from `node tests/js/bench.mjs`. Results: crates/veil-component/BENCH_NOTES.md.
// A bench binary is not a test for clippy's allow-*-in-tests settings; failing loudly is right here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use veil_core::mask;
use veil_core::{Key, Scope};
use veil_tests::host::Host;

const BATCH: usize = 2048;
const KEY_HEX: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

fn column(f: impl Fn(usize) -> String) -> Vec<Option<String>> {
    (0..BATCH).map(|i| Some(f(i))).collect()
}

fn benches(c: &mut Criterion) {
    let mut h = Host::load().unwrap_or_else(|message| panic!("{message}"));
    let masks = h.veil.veil_udf_masks().clone();
    let rows = h.veil.veil_udf_rows().clone();
    let store = &mut h.store;
    let key = Key::from_hex(KEY_HEX).unwrap();

    let emails = column(|i| format!("user{i}@example.com"));
    let email_bytes: Vec<Option<&[u8]>> = emails.iter().map(|v| v.as_deref().map(str::as_bytes)).collect();
    let scope = Scope::parse("shop.customers");
    let mut g = c.benchmark_group("keyed_hash");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("native_batch", |b| b.iter(|| mask::keyed_hash_batch(&key, &scope, black_box(&email_bytes))));
    g.bench_function("wasmtime_batch", |b| {
        b.iter(|| masks.call_hash_batch(&mut *store, black_box(&emails), KEY_HEX, "shop.customers", None).unwrap())
    });
    g.bench_function("wasmtime_scalar", |b| {
        b.iter(|| {
            for e in emails.iter().flatten() {
                black_box(masks.call_hash(&mut *store, e, KEY_HEX, "shop.customers", None).unwrap().unwrap());
            }
        })
    });
    g.finish();

    let ips = column(|i| format!("164.16.{}.{}", i % 256, (i * 7) % 256));
    let ip_refs: Vec<Option<&str>> = ips.iter().map(|v| v.as_deref()).collect();
    let regex = mask::RegexMask::new(r"\d+$", "XXX").unwrap();
    let mut g = c.benchmark_group("regex_mask");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("native_batch", |b| b.iter(|| regex.apply_batch(black_box(&ip_refs))));
    g.bench_function("wasmtime_batch", |b| {
        b.iter(|| masks.call_mask_regex_batch(&mut *store, black_box(&ips), r"\d+$", "XXX").unwrap())
    });
    g.bench_function("wasmtime_scalar", |b| {
        b.iter(|| {
            for v in ips.iter().flatten() {
                black_box(masks.call_mask_regex(&mut *store, v, r"\d+$", "XXX").unwrap().unwrap());
            }
        })
    });
    g.finish();

    let cards = column(|i| format!("4111-1111-{:04}-{:04}", i % 10_000, (i * 7919) % 10_000));
    let card_refs: Vec<Option<&str>> = cards.iter().map(|v| v.as_deref()).collect();
    let payments = Scope::parse("shop.payments");
    let mut g = c.benchmark_group("ff1");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("native_batch", |b| {
        b.iter(|| mask::FormatPreserving::new(&key, &payments).encrypt_batch(black_box(&card_refs)).unwrap())
    });
    g.bench_function("wasmtime_batch", |b| {
        b.iter(|| masks.call_fpe_encrypt_batch(&mut *store, black_box(&cards), KEY_HEX, "shop.payments", None).unwrap())
    });
    g.bench_function("wasmtime_scalar", |b| {
        b.iter(|| {
            for v in cards.iter().flatten() {
                black_box(masks.call_fpe_encrypt(&mut *store, v, KEY_HEX, "shop.payments", None).unwrap().unwrap());
            }
        })
    });
    g.finish();

    // The boundary alone: a scalar call that does almost nothing.
    let mut g = c.benchmark_group("boundary");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("wasmtime_scalar_in_window", |b| {
        b.iter(|| {
            for i in 0..BATCH as i64 {
                black_box(rows.call_in_window(&mut *store, i, 1000, 500).unwrap());
            }
        })
    });
    g.bench_function("wasmtime_scalar_email_mask", |b| {
        b.iter(|| {
            for e in emails.iter().flatten() {
                black_box(masks.call_email_mask(&mut *store, e).unwrap());
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = wasm;
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(3)).warm_up_time(Duration::from_secs(1));
    targets = benches
}
criterion_main!(wasm);
