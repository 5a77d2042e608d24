//! Golden scenario cases: each folder under `tests/cases/` holds
//! `policies.yaml`, `users.yaml`, `catalog.yaml` and `expected.yaml`; the
//! expectations are plain data, so a case reads as a scenario in words.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;
use veil_policy::{Catalog, Directory, Engine, PolicySet, RowPredicate};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    decisions: Vec<ExpectedDecision>,
    #[serde(default)]
    plans: Vec<ExpectedPlan>,
    #[serde(default)]
    warnings: Vec<String>,
    #[serde(default)]
    explain: Vec<ExpectedExplain>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedDecision {
    user: String,
    #[serde(default)]
    project: Option<String>,
    #[serde(default)]
    allowed: Vec<String>,
    #[serde(default)]
    denied: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedPlan {
    user: String,
    #[serde(default)]
    project: Option<String>,
    source: String,
    /// Column -> mask kinds of the reader's chain, in order (`[]`: shown as is).
    #[serde(default)]
    columns: BTreeMap<String, Vec<String>>,
    /// Row filters, rendered as `kind` or `value_in:col=a|b`.
    #[serde(default)]
    rows: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectedExplain {
    user: String,
    source: String,
    contains: Vec<String>,
}

fn row(p: &RowPredicate) -> String {
    match p {
        RowPredicate::ValueIn { column, values, .. } => format!("value_in:{column}={}", values.join("|")),
        RowPredicate::Sql { predicate } => format!("sql:{}", predicate.sql),
        RowPredicate::TimeWindow { column, seconds } => format!("time_window:{column}={seconds}"),
        RowPredicate::Sample { percent, key } => format!("sample:{}={percent}", key.join("+")),
        RowPredicate::Nothing => "nothing".into(),
        RowPredicate::MatchAttribute { .. } => "match_attribute".into(),
    }
}

fn run(dir: &Path) -> usize {
    let policies = PolicySet::load(dir.join("policies.yaml")).unwrap();
    let users = Directory::load(dir.join("users.yaml")).unwrap();
    let catalog = Catalog::load(dir.join("catalog.yaml")).unwrap();
    let engine = Engine::new(policies, users, catalog).unwrap_or_else(|e| panic!("{e}"));
    let text = std::fs::read_to_string(dir.join("expected.yaml")).unwrap();
    let expected: Expected = serde_saphyr::from_str(&text).unwrap();
    let mut checks = 0;
    for d in &expected.decisions {
        let subject = engine.directory().subject(&d.user, d.project.as_deref()).unwrap();
        for (sources, want) in [(&d.allowed, true), (&d.denied, false)] {
            for source in sources {
                let got = engine.decide(&subject, source).unwrap();
                assert_eq!(
                    got.allowed,
                    want,
                    "{}: {} reading {source}: expected allowed={want}\n{}",
                    dir.display(),
                    d.user,
                    engine.explain(&subject, source).unwrap()
                );
                checks += 1;
            }
        }
    }
    for p in &expected.plans {
        let subject = engine.directory().subject(&p.user, p.project.as_deref()).unwrap();
        let plan = engine.plan_for(&subject, &p.source).unwrap();
        for (column, want) in &p.columns {
            let c = plan
                .columns
                .iter()
                .find(|c| c.name == *column)
                .unwrap_or_else(|| panic!("{}: no column {column} for {}", dir.display(), p.user));
            let got: Vec<String> = c
                .chain
                .iter()
                .map(|m| match &m.rows {
                    Some(r) => format!("{} where {}", m.mask.kind(), r.sql),
                    None => m.mask.kind().to_string(),
                })
                .collect();
            assert_eq!(&got, want, "{}: {} column {column}", dir.display(), p.user);
            checks += 1;
        }
        if let Some(want) = &p.rows {
            let got: Vec<String> = plan.row_filters.iter().map(row).collect();
            assert_eq!(&got, want, "{}: {} rows of {}", dir.display(), p.user, p.source);
            checks += 1;
        }
    }
    let warnings: Vec<String> = engine.warnings().iter().map(|w| w.message.clone()).collect();
    assert_eq!(warnings.len(), expected.warnings.len(), "{}: warnings {warnings:#?}", dir.display());
    for (got, want) in warnings.iter().zip(&expected.warnings) {
        assert!(got.contains(want.as_str()), "{}: warning `{got}` lacks `{want}`", dir.display());
        checks += 1;
    }
    for e in &expected.explain {
        let subject = engine.directory().subject(&e.user, None).unwrap();
        let text = engine.explain(&subject, &e.source).unwrap();
        for want in &e.contains {
            assert!(text.contains(want.as_str()), "{}: explain lacks `{want}`:\n{text}", dir.display());
            checks += 1;
        }
    }
    checks
}

#[test]
fn golden_cases() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/cases");
    let mut dirs: Vec<_> =
        std::fs::read_dir(&root).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    assert!(dirs.len() >= 10, "expected the scenario folders, found {}", dirs.len());
    for dir in dirs {
        let checks = run(&dir);
        assert!(checks > 0, "{} checks nothing", dir.display());
    }
}
