//! One meaning per policy: the plan folded for one reader (`Engine::plan_for`, the
//! per-reader views, `explain`) is the dynamic plan (`Engine::plan`, the dynamic
//! views) evaluated for that reader.
//!
//! Random policy sets (every mask kind, `exceptFor`, `everyoneWho`/`otherwise`,
//! conditional masks, row rules, projects and purposes, approvals, staged
//! policies), users and catalogs. For every reader (with and without each of
//! their projects) and every source, a model walks the dynamic chain the way the
//! dynamic view's `CASE` does, treating each row predicate as an opaque boolean and
//! trying every assignment, and must agree with the reader's folded chain; row
//! filters, the decision and the explanation must agree too.
//!
//! `PROPTEST_CASES` sets the number of cases (default 256); `scripts/proptest-long`
//! runs many more.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]

use std::collections::BTreeSet;
use std::fmt::Write;

use proptest::prelude::*;
use proptest::sample::{select, subsequence};
use veil_core::rows::tag_matches;
use veil_policy::{
    describe_mask, Catalog, ColumnPlan, Condition, Directory, Engine, HashScope, Mask, PolicySet, ReaderColumn,
    RowPredicate, Subject,
};

const GROUPS: [&str; 4] = ["Legal", "Ops", "Analysts", "Admins"];
const USERS: [&str; 5] = ["u0", "u1", "u2", "u3", "u4"];
const REGIONS: [&str; 4] = ["EU", "EU.FR", "US", "EU.FR.Paris"];
const PROJECTS: [&str; 3] = ["fraud-team", "growth", "both"];
const SOURCES: [&str; 3] = ["main.s0", "main.s1", "main.s2"];
const TABLE_TAGS: [&str; 4] = ["Sales", "EU", "EU.FR", "HR"];
const TEXT_TAGS: [&str; 4] = ["PII", "PII.Email", "PII.SSN", "Legal.Docs"];
const ROW_CONDITIONS: [&str; 3] = ["amount > 10", "region = 'EU'", "id < 5"];

// ------------------------------------------------------------------ generators

/// A "who": entitlements or an advanced expression, as a YAML flow mapping.
fn who() -> impl Strategy<Value = String> {
    prop_oneof![
        subsequence(GROUPS.to_vec(), 1..=2).prop_map(|g| format!("{{groups: [{}]}}", g.join(", "))),
        subsequence(GROUPS.to_vec(), 2..=2).prop_map(|g| format!("{{operator: all, groups: [{}]}}", g.join(", "))),
        select(REGIONS.to_vec()).prop_map(|r| format!("{{attributes: [{{name: Region, value: {r}}}]}}")),
        select(vec!["Fraud", "Marketing"]).prop_map(|p| format!("{{purposes: [{p}]}}")),
        select(USERS.to_vec()).prop_map(|u| format!("{{users: [{u}]}}")),
        select(vec![
            "@hasTagAsAttribute('Region', 'dataSource')",
            "not @isInGroups('Ops')",
            "@hasAttribute('Region', 'EU') or @isActingUnder('Fraud')",
            "@hasTagAsGroup('column')",
            "@isInGroups('Legal') and not @isUser('u1')",
        ])
        .prop_map(|a| format!("{{advanced: \"{a}\"}}")),
    ]
}

/// Which columns a mask rule targets, and masks that fit them.
#[derive(Clone, Copy, Debug)]
enum Target {
    Text,
    Money,
    When,
}

fn mask(target: Target) -> BoxedStrategy<String> {
    let any_type = prop_oneof![
        Just("{type: null}".to_string()),
        (select(vec!["source", "project"]), any::<bool>())
            .prop_map(|(s, r)| format!("{{type: hash, scope: {s}, perReader: {r}}}")),
        prop::option::of(who()).prop_map(|w| match w {
            Some(w) => format!("{{type: reversible, unmaskers: {w}}}"),
            None => "{type: reversible}".into(),
        }),
    ];
    match target {
        Target::Text => prop_oneof![
            any_type,
            Just("{type: constant, value: REDACTED}".to_string()),
            Just(r"{type: regex, pattern: '\d', replacement: '#'}".to_string()),
            (select(vec!["first", "last"]), 1u32..6).prop_map(|(end, n)| format!("{{type: reveal, {end}: {n}}}")),
            Just("{type: email}".to_string()),
            Just("{type: format_preserving}".to_string()),
        ]
        .boxed(),
        Target::Money => prop_oneof![
            any_type,
            Just("{type: constant, value: 0}".to_string()),
            Just("{type: round, width: 10}".to_string()),
            Just("{type: round, places: -1}".to_string()),
        ]
        .boxed(),
        Target::When => prop_oneof![
            any_type,
            Just("{type: constant, value: '1970-01-01 00:00:00'}".to_string()),
            select(vec!["day", "month", "year"]).prop_map(|u| format!("{{type: trunc, unit: {u}}}")),
        ]
        .boxed(),
    }
}

fn columns(target: Target) -> BoxedStrategy<String> {
    match target {
        Target::Text => prop_oneof![
            subsequence(TEXT_TAGS.to_vec(), 1..=2).prop_map(|t| format!("{{tags: [{}]}}", t.join(", "))),
            Just("{names: [note]}".to_string()),
        ]
        .boxed(),
        Target::Money => {
            prop_oneof![Just("{tags: [Money]}".to_string()), Just("{names: [amount]}".to_string())].boxed()
        }
        Target::When => Just("{tags: [When]}".to_string()).boxed(),
    }
}

fn mask_rule() -> impl Strategy<Value = String> {
    select(vec![Target::Text, Target::Money, Target::When]).prop_flat_map(|target| {
        let single = (mask(target), prop::option::of(who())).prop_map(|(m, except)| {
            let mut s = format!("    mask: {m}\n");
            if let Some(w) = except {
                let _ = writeln!(s, "    exceptFor: {w}");
            }
            s
        });
        let cases = (prop::collection::vec((who(), mask(target)), 1..=3), mask(target)).prop_map(|(cases, other)| {
            let mut s = "    everyoneWho:\n".to_string();
            for (w, m) in cases {
                let _ = writeln!(s, "      - {{when: {w}, mask: {m}}}");
            }
            let _ = writeln!(s, "    otherwise: {other}");
            s
        });
        (columns(target), prop_oneof![single, cases], prop::option::weighted(0.3, select(ROW_CONDITIONS.to_vec())))
            .prop_map(|(cols, body, rows)| {
                let mut s = format!("  - type: mask\n    columns: {cols}\n{body}");
                if let Some(r) = rows {
                    let _ = writeln!(s, "    where: \"{r}\"");
                }
                s
            })
    })
}

fn row_rule() -> impl Strategy<Value = String> {
    let rule = prop_oneof![
        any::<bool>().prop_map(|h| format!(
            "  - type: matchAttribute\n    attribute: Region\n    column: region\n    hierarchical: {h}\n"
        )),
        select(vec!["amount >= 0", "region <> 'US'"]).prop_map(|w| format!("  - type: where\n    sql: \"{w}\"\n")),
        Just("  - type: timeWindow\n    column: ts\n    within: 30d\n".to_string()),
        select(vec![25.0, 50.0]).prop_map(|p| format!("  - type: sample\n    percent: {p}\n    key: [id]\n")),
    ];
    (rule, prop::option::of((any::<bool>(), who()))).prop_map(|(rule, applies)| match applies {
        Some((true, w)) => format!("{rule}    exceptFor: {w}\n"),
        Some((false, w)) => format!("{rule}    onlyFor: {w}\n"),
        None => rule,
    })
}

fn circumstances() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        select(TABLE_TAGS.to_vec()).prop_map(|t| format!("circumstances: [{{type: tags, tag: {t}}}]\n")),
        select(vec!["PII", "Money", "When", "Legal"])
            .prop_map(|t| format!("circumstances: [{{type: columnTags, columnTag: {t}}}]\n")),
        select(SOURCES.to_vec()).prop_map(|s| format!("circumstances: [{{type: dataSource, name: {s}}}]\n")),
    ]
}

fn subscription() -> impl Strategy<Value = String> {
    let actions = prop_oneof![
        Just("{type: anyone}".to_string()),
        Just("{type: approval, approvers: {users: [u0], groups: [Admins]}}".to_string()),
        subsequence(USERS.to_vec(), 1..=3).prop_map(|u| format!("{{type: users, users: [{}]}}", u.join(", "))),
        who().prop_map(|w| format!("{{type: grant, entitlements: {w}}}")),
        who().prop_map(|w| format!("{{type: guardrail, entitlements: {w}}}")),
    ];
    (actions, circumstances(), prop::bool::weighted(0.1))
        .prop_map(|(a, c, staged)| format!("type: subscription\nstaged: {staged}\nactions: {a}\n{c}"))
}

fn data_policy() -> impl Strategy<Value = String> {
    let rule = prop_oneof![3 => mask_rule(), 1 => row_rule()];
    (prop::collection::vec(rule, 1..=3), circumstances(), prop::bool::weighted(0.1))
        .prop_map(|(rules, c, staged)| format!("type: data\nstaged: {staged}\n{c}rules:\n{}", rules.concat()))
}

fn policies() -> impl Strategy<Value = String> {
    (prop::collection::vec(subscription(), 1..=3), prop::collection::vec(data_policy(), 1..=4)).prop_map(|(s, d)| {
        s.iter()
            .chain(d.iter())
            .enumerate()
            .map(|(i, body)| format!("name: p{i}\n{body}"))
            .collect::<Vec<_>>()
            .join("---\n")
    })
}

fn users() -> impl Strategy<Value = String> {
    let user = (
        subsequence(GROUPS.to_vec(), 0..=2),
        subsequence(REGIONS.to_vec(), 0..=2),
        subsequence(PROJECTS.to_vec(), 0..=2),
    );
    let approvals =
        prop::collection::vec((select(USERS.to_vec()), select(SOURCES.to_vec()), select(USERS.to_vec())), 0..3);
    (prop::collection::vec(user, 2..=USERS.len()), approvals).prop_map(|(users, approvals)| {
        let mut s = "users:\n".to_string();
        for (i, (groups, regions, projects)) in users.iter().enumerate() {
            let _ = writeln!(
                s,
                "  - {{name: u{i}, groups: [{}], attributes: {{Region: [{}]}}, projects: [{}]}}",
                groups.join(", "),
                regions.join(", "),
                projects.join(", ")
            );
        }
        s.push_str("projects:\n  - {name: fraud-team, purposes: [Fraud]}\n  - {name: growth, purposes: [Marketing]}\n");
        s.push_str("  - {name: both, purposes: [Fraud, Marketing]}\n");
        if !approvals.is_empty() {
            s.push_str("approvals:\n");
            for (user, source, by) in approvals {
                let _ = writeln!(s, "  - {{user: {user}, source: {source}, approvedBy: {by}}}");
            }
        }
        s
    })
}

fn catalog() -> impl Strategy<Value = String> {
    let source = (
        subsequence(TABLE_TAGS.to_vec(), 0..=2),
        subsequence(TEXT_TAGS.to_vec(), 0..=2),
        subsequence(TEXT_TAGS.to_vec(), 0..=1),
        any::<bool>(),
        any::<bool>(),
    );
    prop::collection::vec(source, 1..=SOURCES.len()).prop_map(|sources| {
        let mut s = "sources:\n".to_string();
        for (i, (tags, name_tags, note_tags, money, when)) in sources.into_iter().enumerate() {
            let tag_list = |t: &[&str]| t.join(", ");
            let _ = writeln!(
                s,
                "  - name: {}\n    schema: main\n    tags: [{}]\n    columns:",
                SOURCES[i],
                tag_list(&tags)
            );
            let _ = writeln!(s, "      - {{name: id, type: integer}}");
            let _ = writeln!(s, "      - {{name: name, type: text, tags: [{}]}}", tag_list(&name_tags));
            let _ = writeln!(s, "      - {{name: note, type: text, tags: [{}]}}", tag_list(&note_tags));
            let _ =
                writeln!(s, "      - {{name: amount, type: integer, tags: [{}]}}", if money { "Money" } else { "" });
            let _ = writeln!(s, "      - {{name: ts, type: timestamp, tags: [{}]}}", if when { "When" } else { "" });
            let _ = writeln!(s, "      - {{name: region, type: text}}");
        }
        s
    })
}

// ------------------------------------------------------------------ the model

/// What a reader sees of one value.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    Shown,
    Masked { mask: Mask, policy: String },
}

/// The mask the dynamic view computes for this reader: reader conditions inside
/// it decided, a project-scoped hash without a project is the hash of a NULL
/// scope, which is NULL.
fn dynamic_mask(mask: &Mask, reader: &Subject) -> Mask {
    match mask {
        Mask::Reversible { .. } => Mask::Reversible { unmaskers: Condition::Never },
        Mask::Hash { scope: HashScope::Project, .. } if reader.project.is_none() => Mask::Null,
        m => m.clone(),
    }
}

/// The dynamic view's `CASE` for one reader and one row: the first case whose
/// reader condition holds, whose reversible token the reader may not unmask (an
/// unmasker goes on to the next case), and whose row predicate holds.
fn dynamic(column: &ColumnPlan, reader: &Subject, holds: &dyn Fn(&str) -> bool) -> Outcome {
    for case in &column.chain {
        if !case.when.eval(reader) {
            continue;
        }
        if let Mask::Reversible { unmaskers } = &case.mask {
            if unmaskers.eval(reader) {
                continue;
            }
        }
        if case.rows.as_ref().is_some_and(|r| !holds(&r.sql)) {
            continue;
        }
        return Outcome::Masked { mask: dynamic_mask(&case.mask, reader), policy: case.policy.clone() };
    }
    Outcome::Shown
}

/// The per-reader view's expression for one row: the first step whose rows hold.
fn folded(column: &ReaderColumn, holds: &dyn Fn(&str) -> bool) -> Outcome {
    for step in &column.chain {
        if step.rows.as_ref().is_none_or(|r| holds(&r.sql)) {
            return Outcome::Masked { mask: step.mask.clone(), policy: step.policy.clone() };
        }
    }
    Outcome::Shown
}

/// Does a `matchAttribute` filter keep a row whose column holds `value`, as the
/// dynamic view decides it from the reader's attribute values?
fn matches_attribute(reader: &Subject, attribute: &str, hierarchical: bool, value: &str) -> bool {
    reader
        .attributes
        .get(attribute)
        .is_some_and(|values| values.iter().any(|a| if hierarchical { tag_matches(a, value) } else { a == value }))
}

/// The same for a folded predicate.
fn keeps(predicate: &RowPredicate, value: &str) -> Option<bool> {
    match predicate {
        RowPredicate::ValueIn { values, hierarchical, .. } => {
            Some(values.iter().any(|a| if *hierarchical { tag_matches(a, value) } else { a == value }))
        }
        RowPredicate::Nothing => Some(false),
        _ => None,
    }
}

fn check(engine: &Engine, reader: &Subject, source: &str) -> Result<(), TestCaseError> {
    let plan = engine.plan(source).unwrap();
    let mine = engine.plan_for(reader, source).unwrap();
    let decision = engine.decide(reader, source).unwrap();
    let at = format!("reader {} (project {:?}) on {source}", reader.name, reader.project);
    let allowed = plan.access.condition.eval(reader);
    prop_assert_eq!(mine.allowed, allowed, "access: {}", at);
    prop_assert_eq!(decision.allowed, allowed, "decision: {}", at);
    for r in &decision.reasons {
        prop_assert_eq!(r.satisfied, r.condition.eval(reader), "reason {}: {}", r.policy, at);
    }
    let explanation = engine.explanation(reader, source).unwrap();
    prop_assert_eq!(&explanation.plan, &mine, "explanation plan: {}", at);
    prop_assert_eq!(&explanation.decision, &decision, "explanation decision: {}", at);
    let text = engine.explain(reader, source).unwrap();
    if !allowed {
        prop_assert!(mine.columns.is_empty() && mine.row_filters.is_empty(), "denied with a plan: {}", at);
        prop_assert!(text.contains("access: DENIED") && !text.contains("columns:"), "{}:\n{}", at, text);
        return Ok(());
    }
    prop_assert!(text.contains("access: ALLOWED"), "{}:\n{}", at, text);

    // Columns: every assignment of the chain's row predicates.
    prop_assert_eq!(mine.columns.len(), plan.columns.len());
    for (column, reader_column) in plan.columns.iter().zip(&mine.columns) {
        prop_assert_eq!(&column.name, &reader_column.name);
        prop_assert_eq!(&column.output_type, &reader_column.output_type, "{} column {}", at, column.name);
        let predicates: Vec<&str> = column
            .chain
            .iter()
            .filter_map(|c| c.rows.as_ref().map(|r| r.sql.as_str()))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        for assignment in 0u32..(1 << predicates.len()) {
            let holds =
                |sql: &str| predicates.iter().position(|p| *p == sql).is_some_and(|i| assignment & (1 << i) != 0);
            let want = dynamic(column, reader, &holds);
            let got = folded(reader_column, &holds);
            prop_assert_eq!(
                &got,
                &want,
                "{} column {}, rows {:?} hold: {:?}",
                at,
                column.name,
                predicates
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| assignment & (1 << i) != 0)
                    .map(|(_, p)| p)
                    .collect::<Vec<_>>(),
                column.chain
            );
        }
        explains(&text, reader_column, &at)?;
    }

    // Row filters: the ones that apply to the reader, resolved for the reader.
    let applying: Vec<&RowPredicate> =
        plan.row_filters.iter().filter(|f| f.applies_to.eval(reader)).map(|f| &f.keep).collect();
    prop_assert_eq!(applying.len(), mine.row_filters.len(), "row filters: {}", at);
    for (dynamic_keep, folded_keep) in applying.iter().zip(&mine.row_filters) {
        match dynamic_keep {
            RowPredicate::MatchAttribute { attribute, hierarchical, .. } => {
                for value in REGIONS.iter().copied().chain(["", "US.NY", "Eu"]) {
                    prop_assert_eq!(
                        keeps(folded_keep, value),
                        Some(matches_attribute(reader, attribute, *hierarchical, value)),
                        "{} region {:?}: {:?}",
                        at,
                        value,
                        folded_keep
                    );
                }
            }
            other => prop_assert_eq!(*other, folded_keep, "{}", at),
        }
    }
    Ok(())
}

/// The explanation states the reader's chain for `column`, step by step.
fn explains(text: &str, column: &ReaderColumn, at: &str) -> Result<(), TestCaseError> {
    let head = format!("  {} ({})", column.name, column.input_type);
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.iter().position(|l| l.starts_with(&format!("{head}:")));
    prop_assert!(start.is_some(), "{}: no line for {} in\n{}", at, column.name, text);
    let start = start.unwrap_or_default();
    if column.chain.is_empty() {
        prop_assert_eq!(lines[start], format!("{head}: shown as is"), "{}", at);
        return Ok(());
    }
    for (i, step) in column.chain.iter().enumerate() {
        let line = lines.get(start + i).copied().unwrap_or_default();
        let rows = step.rows.as_ref().map_or(String::new(), |r| format!(" where {}", r.sql));
        let said = format!(": {}{rows} (policy `{}`)", describe_mask(&step.mask), step.policy);
        prop_assert!(line.ends_with(&said), "{}: step {} of {} is not `{}`:\n{}", at, i, column.name, said, text);
        prop_assert_eq!(i > 0, line.contains("  otherwise: "), "{}: {}", at, line);
    }
    let after = lines.get(start + column.chain.len()).copied().unwrap_or_default();
    let open = column.chain.last().is_some_and(|s| s.rows.is_some());
    prop_assert_eq!(open, after.ends_with("other rows shown as is"), "{}: {}", at, after);
    Ok(())
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(256)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn folded_plans_equal_dynamic_plans(policies in policies(), users in users(), catalog in catalog()) {
        let set = PolicySet::from_yaml_str(&policies, "policies.yaml").unwrap();
        let directory = Directory::from_yaml_str(&users, "users.yaml").unwrap();
        let catalog = Catalog::from_yaml_str(&catalog, "catalog.yaml").unwrap();
        let engine = Engine::new(set, directory, catalog).unwrap();
        let sources: Vec<String> = engine.catalog().sources().map(|s| s.name.clone()).collect();
        let readers: Vec<(String, Option<String>)> = engine
            .directory()
            .users()
            .flat_map(|u| std::iter::once((u.name.clone(), None)).chain(u.projects.iter().map(|p| (u.name.clone(), Some(p.clone())))))
            .collect();
        for (user, project) in &readers {
            let reader = engine.directory().subject(user, project.as_deref()).unwrap();
            for source in &sources {
                check(&engine, &reader, source)?;
            }
        }
    }
}

/// The field case: a token Legal may unmask and "last 4" for everyone, on one column.
#[test]
fn an_unmasker_gets_the_next_policys_mask() {
    let policies = r"
name: open
type: subscription
actions: {type: anyone}
---
name: SSN tokens
type: data
rules:
  - {type: mask, columns: {tags: [PII.SSN]}, mask: {type: reversible, unmaskers: {groups: [Legal]}}}
---
name: SSN last four
type: data
rules:
  - {type: mask, columns: {tags: [PII.SSN]}, mask: {type: reveal, last: 4}}
";
    let users = "users:\n  - {name: lena, groups: [Legal]}\n  - {name: otto, groups: [Ops]}\n";
    let catalog = "sources:\n  - name: hr.staff\n    columns:\n      - {name: ssn, type: text, tags: [PII.SSN]}\n";
    let engine = Engine::new(
        PolicySet::from_yaml_str(policies, "p.yaml").unwrap(),
        Directory::from_yaml_str(users, "u.yaml").unwrap(),
        Catalog::from_yaml_str(catalog, "c.yaml").unwrap(),
    )
    .unwrap();
    let kinds = |user: &str| {
        let reader = engine.directory().subject(user, None).unwrap();
        let plan = engine.plan_for(&reader, "hr.staff").unwrap();
        plan.columns[0].chain.iter().map(|m| m.mask.kind()).collect::<Vec<_>>()
    };
    assert_eq!(kinds("lena"), ["reveal"]);
    assert_eq!(kinds("otto"), ["reversible"]);
    let lena = engine.directory().subject("lena", None).unwrap();
    let text = engine.explain(&lena, "hr.staff").unwrap();
    assert!(
        text.contains("ssn (text): showing only the last 4 characters (rest `X`) (policy `SSN last four`)"),
        "{text}"
    );
}
