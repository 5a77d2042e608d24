//! Entitlement matrix at scale: users × sources decisions over generated
//! policies, users and catalog with skewed (Zipf-like) tag distributions.
//!
//! ```text
//! cargo bench -p veil-policy --bench entitlements               # 100k × 10k × 1k, sampled users
//! VEIL_BENCH_USERS_EVAL=100000 cargo bench -p veil-policy --bench entitlements   # every pair
//! ```
//! Environment: `VEIL_BENCH_USERS` (100000), `VEIL_BENCH_SOURCES` (10000),
//! `VEIL_BENCH_POLICIES` (1000), `VEIL_BENCH_USERS_EVAL` (users whose full row
//! of the matrix is computed; default 10000).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::time::Instant;

use veil_policy::{decision_from, DataSource, Engine, Readers};

#[path = "support/gen.rs"]
mod gen;
use gen::{catalog, env, policies, users, Rng};

fn main() {
    let n_users = env("VEIL_BENCH_USERS", 100_000);
    let n_sources = env("VEIL_BENCH_SOURCES", 10_000);
    let n_policies = env("VEIL_BENCH_POLICIES", 1_000);
    let n_eval = env("VEIL_BENCH_USERS_EVAL", 10_000).min(n_users);
    let mut rng = Rng(0x5EED_1234_ABCD_0001);

    let t = Instant::now();
    let catalog = catalog(&mut rng, n_sources);
    let directory = users(&mut rng, n_users);
    let policies = policies(&mut rng, n_policies);
    println!("generate: {n_users} users, {n_sources} sources, {n_policies} policies in {:.2?}", t.elapsed());

    let naive_policies = policies.clone();
    let t = Instant::now();
    let engine = Engine::new(policies, directory, catalog).unwrap();
    println!("engine (index + validate every source): {:.2?}, {} warnings", t.elapsed(), engine.warnings().len());

    // Which policies reach each source: tag index vs a scan of every policy.
    let sources: Vec<&DataSource> = engine.catalog().sources().collect();
    let t = Instant::now();
    let indexed: usize = sources.iter().map(|s| engine.reaching(s).len()).sum();
    let indexed_time = t.elapsed();
    let t = Instant::now();
    let scanned: usize =
        sources.iter().map(|s| naive_policies.policies().iter().filter(|p| p.reaches(s)).count()).sum();
    let scan_time = t.elapsed();
    assert_eq!(indexed, scanned, "index and scan disagree");
    println!(
        "reach: {indexed} (source, policy) pairs; tag index {indexed_time:.2?}, full scan {scan_time:.2?} ({:.1}x)",
        scan_time.as_secs_f64() / indexed_time.as_secs_f64().max(1e-9)
    );

    // Merge each source's policies into one condition (once per source).
    let t = Instant::now();
    let access: Vec<_> = sources.iter().map(|s| engine.access(&s.name).unwrap()).collect();
    println!("access conditions for {} sources: {:.2?}", access.len(), t.elapsed());

    let subjects: Vec<_> =
        engine.directory().users().take(n_eval).map(|u| engine.directory().subject(&u.name, None).unwrap()).collect();

    // The matrix: every (user, source) decision.
    let t = Instant::now();
    let mut allowed = 0u64;
    for a in &access {
        for s in &subjects {
            allowed += u64::from(a.condition.eval(s));
        }
    }
    let elapsed = t.elapsed();
    let decisions = (access.len() * subjects.len()) as f64;
    let rate = decisions / elapsed.as_secs_f64();
    println!(
        "matrix: {} users x {} sources = {decisions:.0} decisions in {elapsed:.2?}: {:.1} M decisions/s, {:.2}% allowed",
        subjects.len(),
        access.len(),
        rate / 1e6,
        100.0 * allowed as f64 / decisions
    );
    let full = (n_users * access.len()) as f64;
    println!(
        "full matrix ({n_users} users x {} sources = {full:.0} decisions), one core, at that rate: {:.1} s",
        access.len(),
        full / rate
    );

    // The whole matrix over sets of readers: every user, every source, one core.
    let t = Instant::now();
    let everyone: Vec<_> =
        engine.directory().users().map(|u| engine.directory().subject(&u.name, None).unwrap()).collect();
    let subjects_time = t.elapsed();
    let t = Instant::now();
    let readers = Readers::new(&everyone);
    let index_time = t.elapsed();
    let t = Instant::now();
    let mut pairs = 0u64;
    engine.entitlements_each(&readers, |_, set| pairs += set.count() as u64);
    let sets_time = t.elapsed();
    let total = subjects_time + index_time + sets_time;
    println!(
        "matrix over reader sets: {} users x {} sources = {full:.0} decisions in {total:.2?} (subjects \
         {subjects_time:.2?}, index {index_time:.2?}, sets {sets_time:.2?}), {:.2}% allowed: {:.0}x the \
         reader-by-reader rate measured above",
        everyone.len(),
        access.len(),
        100.0 * pairs as f64 / full,
        (full / total.as_secs_f64()) / rate
    );
    // The same answers as the reader-by-reader loop above, for its readers (not timed).
    let mut mismatches = 0u64;
    let mut sample = access.iter();
    engine.entitlements_each(&readers, |source, set| {
        let a = sample.next().unwrap();
        assert_eq!(a.source, source);
        for (i, s) in subjects.iter().enumerate() {
            mismatches += u64::from(set.contains(i) != a.condition.eval(s));
        }
    });
    println!("sets vs eval: {mismatches} mismatches in {:.0} pairs", (subjects.len() * access.len()) as f64);
    assert_eq!(mismatches, 0, "sets and eval disagree");

    // Full decisions with reasons (what `veil decide` prints), for comparison.
    let t = Instant::now();
    let mut n = 0usize;
    for a in access.iter().take(1_000) {
        for s in subjects.iter().take(100) {
            n += decision_from(a, s).reasons.len();
        }
    }
    let reasons_elapsed = t.elapsed();
    println!(
        "decisions with reasons: {} in {reasons_elapsed:.2?} ({:.2} M/s; {n} reasons)",
        access.len().min(1_000) * subjects.len().min(100),
        (access.len().min(1_000) * subjects.len().min(100)) as f64 / reasons_elapsed.as_secs_f64() / 1e6
    );
}
