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

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use veil_policy::dsl::{Expr, TagLevel};
use veil_policy::{
    decision_from, Catalog, Circumstance, Column, ColumnType, DataSource, Directory, Engine, Location, Merge, Operator,
    Policy, PolicyBody, PolicySet, Subscribers, User,
};

/// xorshift64*: deterministic, dependency-free.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    /// Skewed pick in 0..n: small indexes are much more common.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) - 1.0) as usize % n
    }
}

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

const DOMAINS: usize = 40;
const SUBS: usize = 8;
const LEAVES: usize = 6;
const GROUPS: usize = 400;
const COUNTRIES: &[&str] = &["US", "France", "Germany", "UK", "Japan", "Brazil", "India", "Canada"];
const LEVELS: &[&str] = &[
    "Strictly Confidential",
    "Strictly Confidential.Confidential",
    "Strictly Confidential.Confidential.Internal",
    "Strictly Confidential.Confidential.Internal.Public",
];

/// A tag at a random depth of a three-level hierarchy (`D3.S1.L4`).
fn tag(rng: &mut Rng, depth: usize) -> String {
    let d = rng.zipf(DOMAINS);
    match depth {
        0 => format!("D{d}"),
        1 => format!("D{d}.S{}", rng.zipf(SUBS)),
        _ => format!("D{d}.S{}.L{}", rng.zipf(SUBS), rng.below(LEAVES)),
    }
}

fn catalog(rng: &mut Rng, n: usize) -> Catalog {
    Catalog::from_sources((0..n).map(|i| {
        let mut tags: Vec<String> = (0..1 + rng.below(2)).map(|_| tag(rng, 2)).collect();
        tags.push(LEVELS[rng.below(LEVELS.len())].to_string());
        let columns = (0..5 + rng.below(15))
            .map(|c| Column {
                name: format!("c{c}"),
                column_type: ColumnType::Text,
                tags: if rng.below(3) == 0 { vec![tag(rng, 2)] } else { Vec::new() },
            })
            .collect();
        DataSource {
            name: format!("db.s{i}"),
            database: Some("db".into()),
            schema: Some(format!("schema{}", i % 20)),
            tags,
            columns,
        }
    }))
}

fn users(rng: &mut Rng, n: usize) -> Directory {
    Directory::from_users((0..n).map(|i| {
        let groups: BTreeSet<String> = (0..1 + rng.below(5)).map(|_| format!("g{}", rng.zipf(GROUPS))).collect();
        let mut attributes = BTreeMap::new();
        attributes.insert("Country".to_string(), BTreeSet::from([COUNTRIES[rng.zipf(COUNTRIES.len())].to_string()]));
        attributes.insert(
            "Access".to_string(),
            (0..1 + rng.below(3))
                .map(|_| {
                    let depth = rng.below(3);
                    tag(rng, depth)
                })
                .collect(),
        );
        attributes.insert("Classification".to_string(), BTreeSet::from([LEVELS[rng.below(LEVELS.len())].to_string()]));
        User { name: format!("u{i}"), groups, attributes, projects: BTreeSet::new() }
    }))
}

fn policies(rng: &mut Rng, n: usize) -> PolicySet {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let roll = rng.below(100);
        let depth = rng.below(3);
        let circumstance = if rng.below(4) == 0 {
            Circumstance::ColumnTag { tag: tag(rng, depth) }
        } else {
            Circumstance::Tag { tag: tag(rng, depth) }
        };
        let groups = |rng: &mut Rng| -> Vec<String> {
            (0..1 + rng.below(3)).map(|_| format!("g{}", rng.zipf(GROUPS))).collect()
        };
        let (merge, subscribers, circumstances) = match roll {
            // Org-wide RBAC by classification, as in the docs.
            0 => (
                Merge::Grant,
                Subscribers::Entitled {
                    expr: Expr::TagAsAttribute { key: "Classification".into(), level: TagLevel::DataSource },
                },
                vec![Circumstance::Tag { tag: LEVELS[0].into() }],
            ),
            1..=4 => (
                Merge::Grant,
                Subscribers::Entitled {
                    expr: Expr::TagAsAttribute { key: "Access".into(), level: TagLevel::DataSource },
                },
                vec![circumstance],
            ),
            5..=64 => (
                Merge::Grant,
                Subscribers::Entitled { expr: Expr::InGroups { groups: groups(rng) } },
                vec![circumstance],
            ),
            65..=84 => (
                Merge::Guardrail,
                Subscribers::Entitled {
                    expr: Expr::HasAttribute {
                        key: "Country".into(),
                        values: (0..1 + rng.below(3))
                            .map(|_| COUNTRIES[rng.below(COUNTRIES.len())].to_string())
                            .collect(),
                    },
                },
                vec![circumstance],
            ),
            85..=94 => (
                Merge::Guardrail,
                Subscribers::Entitled {
                    expr: Expr::Not {
                        of: Box::new(Expr::InGroups { groups: vec![format!("g{}", rng.below(GROUPS))] }),
                    },
                },
                vec![circumstance],
            ),
            _ => (Merge::Grant, Subscribers::Anyone, vec![circumstance]),
        };
        out.push(Policy {
            name: format!("p{i}"),
            key: format!("p{i}"),
            staged: false,
            circumstance_operator: Operator::Any,
            circumstances,
            body: PolicyBody::Subscription { merge, subscribers },
            location: Location::new("generated", i + 1, 1),
        });
    }
    PolicySet::from_policies(out).unwrap()
}

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
