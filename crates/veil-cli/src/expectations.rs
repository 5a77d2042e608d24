//! `veil test`: the access a policy change must produce, written as data and
//! checked against the plan (and, by the command, against an engine).
//!
//! A test file (`tests/*.yaml` beside the policies) lists expectations:
//!
//! ```yaml
//! tests:
//!   - name: support reads e-mails in clear     # optional
//!     reader: alice                            # or readers: [alice, erin]
//!     project: growth_dashboard                # optional: the project acted under
//!     source: main.customers
//!     access: allowed                          # allowed | denied
//!     columns:                                 # optional, allowed only
//!       email: shown                           # shown | masked | a mask type
//!       ssn: reversible                        # hash, null, constant, regex, reveal,
//!       birth_date: trunc                      #   email, round, trunc, reversible, format_preserving
//!     rows: all                                # optional: all | filtered
//! ```
//!
//! A column's mask is the first step of its chain for that reader (a
//! conditional mask counts as masked). Coverage counts what the tests assert:
//! a subscription policy is covered when a test asserts `access` on a source it
//! reaches, a mask rule when a test asserts a column it masks for some reader,
//! a row rule when a test asserts `rows` on a source it filters; a data policy
//! when one of its rules is.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;
use veil_policy::{column_name_matches, Engine, Location, PolicyBody, Subject};

use crate::access::describe_column;
use crate::{Error, Result};

const HELP: &str = "a test file has `tests:`, each with `reader` (or `readers`), `source`, `access: allowed|denied`, and optional `project`, `columns` (column: shown | masked | a mask type) and `rows: all|filtered`; see docs/testing.md";

/// Expected access.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// The reader may read the source.
    Allowed,
    /// The reader may not.
    Denied,
}

/// Expected rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Rows {
    /// Every row.
    All,
    /// Some row filter applies.
    Filtered,
}

/// The mask types a column expectation may name.
pub const MASK_TYPES: [&str; 10] =
    ["hash", "null", "constant", "regex", "reveal", "email", "round", "trunc", "reversible", "format_preserving"];

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    tests: Vec<RawTest>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    reader: Option<Spanned<String>>,
    #[serde(default)]
    readers: Vec<Spanned<String>>,
    #[serde(default)]
    project: Option<String>,
    source: Spanned<String>,
    access: Access,
    #[serde(default)]
    columns: BTreeMap<String, Spanned<Option<String>>>,
    #[serde(default)]
    rows: Option<Rows>,
}

/// One expectation: one reader, one source.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expectation {
    /// Where it is written.
    pub location: Location,
    /// Its name, if given.
    pub name: Option<String>,
    /// The reader.
    pub reader: String,
    /// The project acted under.
    pub project: Option<String>,
    /// The data source.
    pub source: String,
    /// Allowed or denied.
    pub access: Access,
    /// Column → `shown`, `masked` or a mask type.
    pub columns: BTreeMap<String, String>,
    /// All rows or filtered.
    pub rows: Option<Rows>,
}

/// Read one test file.
///
/// # Errors
/// [`Error::Invalid`] with file:line:column for malformed files, an unknown
/// column expectation, or expectations about columns of a denied reader.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Expectation>> {
    let at = |line: u64, column: u64| Location::new(path, line as usize, column as usize);
    let invalid = |location: Location, message: String| {
        Error::Policy(Box::new(veil_policy::Error::Invalid { location, message, help: HELP.into() }))
    };
    let raw: Option<RawFile> = serde_saphyr::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((1, 1), |l| (l.line(), l.column()));
        invalid(at(line, column), e.without_snippet().to_string())
    })?;
    let mut out = Vec::new();
    for test in raw.map(|r| r.tests).unwrap_or_default() {
        let source_at = at(test.source.referenced.line(), test.source.referenced.column());
        let readers: Vec<Spanned<String>> = test.reader.into_iter().chain(test.readers).collect();
        if readers.is_empty() {
            return Err(invalid(source_at, "the test names no `reader`".into()));
        }
        let mut columns = BTreeMap::new();
        for (column, want) in test.columns {
            // `null` unquoted is YAML's null: the mask type all the same.
            let written = want.value.clone().unwrap_or_else(|| "null".into());
            let v = written.trim().to_ascii_lowercase();
            if !(v == "shown" || v == "masked" || MASK_TYPES.contains(&v.as_str())) {
                return Err(invalid(
                    at(want.referenced.line(), want.referenced.column()),
                    format!(
                        "column `{column}`: `{written}` is not `shown`, `masked` or a mask type ({})",
                        MASK_TYPES.join(", ")
                    ),
                ));
            }
            columns.insert(column, v);
        }
        if test.access == Access::Denied && (!columns.is_empty() || test.rows.is_some()) {
            return Err(invalid(
                source_at,
                "a denied reader sees no columns or rows; remove `columns` and `rows`".into(),
            ));
        }
        for reader in readers {
            out.push(Expectation {
                location: at(reader.referenced.line(), reader.referenced.column()),
                name: test.name.clone(),
                reader: reader.value,
                project: test.project.clone(),
                source: test.source.value.clone(),
                access: test.access,
                columns: columns.clone(),
                rows: test.rows,
            });
        }
    }
    Ok(out)
}

/// Every expectation in a test file or a folder of them (`*.yaml`, `*.yml`, sorted).
///
/// # Errors
/// As [`parse`]; [`Error::Usage`] when the path cannot be read.
pub fn load(path: &Path) -> Result<Vec<Expectation>> {
    let files = veil_policy::read_files_with(path, &["yaml", "yml"]).map_err(|e| Error::Usage(e.to_string()))?;
    let mut out = Vec::new();
    for (file, text) in files {
        out.extend(parse(&text, &file)?);
    }
    Ok(out)
}

/// A failed expectation.
#[derive(Clone, Debug, Serialize)]
pub struct Failure {
    /// The expectation.
    pub expectation: Expectation,
    /// What differs, one line each.
    pub problems: Vec<String>,
    /// The decision path, as `veil explain` gives it (empty when the reader or
    /// source is unknown).
    pub explain: String,
}

/// Covered and uncovered policies and rules.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Coverage {
    /// Non-staged policies, by key: covered or not.
    pub policies: BTreeMap<String, bool>,
    /// Data rules, by where they are written: covered or not (with the policy key).
    pub rules: BTreeMap<Location, (String, bool)>,
}

impl Coverage {
    /// (covered, total) policies.
    pub fn policies_covered(&self) -> (usize, usize) {
        (self.policies.values().filter(|c| **c).count(), self.policies.len())
    }

    /// (covered, total) data rules.
    pub fn rules_covered(&self) -> (usize, usize) {
        (self.rules.values().filter(|(_, c)| *c).count(), self.rules.len())
    }
}

/// The outcome of a test run.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Outcome {
    /// Expectations checked.
    pub checked: usize,
    /// Those that failed.
    pub failures: Vec<Failure>,
    /// What the expectations cover.
    pub coverage: Coverage,
}

/// What `subject` is shown of `column` (`shown`, or its first mask's type).
fn shown_as(column: &veil_policy::ReaderColumn) -> &'static str {
    column.chain.first().map_or("shown", |step| step.mask.kind())
}

fn check_one(engine: &Engine, e: &Expectation, subject: &Subject, coverage: &mut Coverage) -> Result<Vec<String>> {
    let mut problems = Vec::new();
    let explanation = engine.explanation(subject, &e.source)?;
    let plan = engine.plan(&e.source)?;
    for reason in &explanation.decision.reasons {
        coverage.policies.insert(reason.policy.clone(), true);
    }
    let allowed = explanation.decision.allowed;
    match (e.access, allowed) {
        (Access::Allowed, false) => problems.push("expected access allowed, but the reader is denied".into()),
        (Access::Denied, true) => problems.push("expected access denied, but the reader may read it".into()),
        _ => {}
    }
    if !allowed {
        return Ok(problems);
    }
    for (written, want) in &e.columns {
        let Some(column) = explanation.plan.columns.iter().find(|c| column_name_matches(written, &c.name)) else {
            let known: Vec<&str> = explanation.plan.columns.iter().map(|c| c.name.as_str()).collect();
            problems.push(format!("column `{written}`: the source has no such column (it has: {})", known.join(", ")));
            continue;
        };
        // Every rule masking this column for some reader is exercised by asserting it.
        if let Some(planned) = plan.columns.iter().find(|c| c.name == column.name) {
            for case in &planned.chain {
                if let Some(rule) = &case.rule {
                    if let Some(entry) = coverage.rules.get_mut(rule) {
                        entry.1 = true;
                        coverage.policies.insert(entry.0.clone(), true);
                    }
                }
            }
        }
        let got = shown_as(column);
        let ok = match want.as_str() {
            "shown" => got == "shown",
            "masked" => got != "shown",
            kind => got == kind,
        };
        if !ok {
            problems.push(format!("column `{}`: expected {want}, got {}", column.name, describe_column(column)));
        }
    }
    if let Some(rows) = e.rows {
        for filter in &plan.row_filters {
            if let Some(entry) = coverage.rules.get_mut(&filter.rule) {
                entry.1 = true;
                coverage.policies.insert(entry.0.clone(), true);
            }
        }
        let filtered = !explanation.plan.row_filters.is_empty();
        match (rows, filtered) {
            (Rows::All, true) => problems.push(format!(
                "expected every row, but rows are filtered: {}",
                explanation.plan.row_filters.iter().map(veil_policy::describe_rows).collect::<Vec<_>>().join(" and ")
            )),
            (Rows::Filtered, false) => problems.push("expected filtered rows, but the reader reads every row".into()),
            _ => {}
        }
    }
    Ok(problems)
}

/// Check every expectation against the plan.
///
/// # Errors
/// None for a failed expectation (that is a [`Failure`]); an error only when a
/// plan cannot be built at all.
pub fn run(engine: &Engine, expectations: &[Expectation]) -> Result<Outcome> {
    let mut coverage = Coverage::default();
    for p in engine.policies().iter().filter(|p| !p.staged) {
        coverage.policies.insert(p.key.clone(), false);
        if let PolicyBody::Data { rules } = &p.body {
            for rule in rules {
                let location = match rule {
                    veil_policy::DataRule::Mask { location, .. } | veil_policy::DataRule::Rows { location, .. } => {
                        location.clone()
                    }
                };
                coverage.rules.insert(location, (p.key.clone(), false));
            }
        }
    }
    // Subscription policies count as covered only through asserted access (below);
    // the map above starts every policy uncovered.
    let mut failures = Vec::new();
    for e in expectations {
        let subject = match engine.directory().subject(&e.reader, e.project.as_deref()) {
            Ok(s) => s,
            Err(err) => {
                failures.push(Failure {
                    expectation: e.clone(),
                    problems: vec![err.to_string()],
                    explain: String::new(),
                });
                continue;
            }
        };
        if engine.catalog().source(&e.source).is_none() {
            failures.push(Failure {
                expectation: e.clone(),
                problems: vec![format!("unknown data source `{}`", e.source)],
                explain: String::new(),
            });
            continue;
        }
        let problems = check_one(engine, e, &subject, &mut coverage)?;
        if !problems.is_empty() {
            failures.push(Failure { expectation: e.clone(), problems, explain: engine.explain(&subject, &e.source)? });
        }
    }
    Ok(Outcome { checked: expectations.len(), failures, coverage })
}

/// The sources and readers the expectations name (for checks against an engine).
pub fn pairs(expectations: &[Expectation]) -> BTreeSet<(String, String)> {
    expectations.iter().map(|e| (e.source.clone(), e.reader.clone())).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_parse_with_locations() {
        let text = "tests:\n  - reader: ann\n    source: s\n    access: allowed\n    columns: {email: Shown, ssn: hash, card: null}\n  - readers: [bob, cy]\n    source: s\n    access: denied\n";
        let e = parse(text, Path::new("t.yaml")).unwrap();
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].location.to_string(), "t.yaml:2:13");
        assert_eq!(e[0].columns["email"], "shown");
        assert_eq!(e[0].columns["card"], "null");
        assert_eq!((e[2].reader.as_str(), e[2].access), ("cy", Access::Denied));
    }

    #[test]
    fn bad_files_say_where() {
        let bad = "tests:\n  - reader: ann\n    source: s\n    access: allowed\n    columns: {email: hashed}\n";
        let m = parse(bad, Path::new("t.yaml")).unwrap_err().to_string();
        assert!(m.starts_with("t.yaml:5:22: column `email`: `hashed` is not `shown`"), "{m}");
        let denied = "tests:\n  - reader: ann\n    source: s\n    access: denied\n    rows: all\n";
        let m = parse(denied, Path::new("t.yaml")).unwrap_err().to_string();
        assert!(m.contains("a denied reader sees no columns or rows"), "{m}");
        let typo = "tests:\n  - reader: ann\n    source: s\n    acess: denied\n";
        assert!(parse(typo, Path::new("t.yaml")).unwrap_err().to_string().starts_with("t.yaml:4:"));
    }
}
