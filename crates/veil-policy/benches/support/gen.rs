//! The generated catalog, users and policies of the entitlement benchmark: one
//! seed, skewed (Zipf-like) tag distributions. Shared by
//! `crates/veil-policy/benches/entitlements.rs` and the Cedar peer
//! (`benches/cedar-peer`), so both decide on the same data.
#![allow(clippy::unwrap_used, dead_code)]

use std::collections::{BTreeMap, BTreeSet};

use veil_policy::dsl::{Expr, TagLevel};
use veil_policy::{
    Catalog, Circumstance, Column, ColumnType, DataSource, Directory, Location, Merge, Operator, Policy, PolicyBody,
    PolicySet, Subscribers, User,
};

/// xorshift64*: deterministic, dependency-free.
pub struct Rng(pub u64);

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

pub fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

pub const DOMAINS: usize = 40;
pub const SUBS: usize = 8;
pub const LEAVES: usize = 6;
pub const GROUPS: usize = 400;
pub const COUNTRIES: &[&str] = &["US", "France", "Germany", "UK", "Japan", "Brazil", "India", "Canada"];
pub const LEVELS: &[&str] = &[
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

pub fn catalog(rng: &mut Rng, n: usize) -> Catalog {
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
            identifier: format!("s{i}"),
            kind: veil_policy::RelationKind::Table,
            tags,
            columns,
        }
    }))
}

pub fn users(rng: &mut Rng, n: usize) -> Directory {
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

pub fn policies(rng: &mut Rng, n: usize) -> PolicySet {
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
