//! Proof of enforcement: query the secure views as readers and compare with
//! what the plan says they must see.
//!
//! For every reader and data source:
//! - a reader the plan denies must get veil's refusal (an error) from the view;
//! - a reader the plan allows must get exactly the rows and values of the same
//!   query specialised to that reader (conditions folded by veil-policy, not by
//!   the engine), compared as multisets in both directions;
//! - columns the plan masks unconditionally with a null, hash, token or
//!   format-preserving mask must never show a value of the base column.
//!
//! Unknown and unset readers must be refused by every view.

use std::fmt;

use serde::Serialize;
use veil_host::target::{DuckDb as DuckDbTarget, Target};
use veil_host::{bind, BindOptions, Mode, StatementKind};
use veil_policy::{Engine, Mask};

use crate::duckdb::{DuckDb, Query};
use crate::Result;

/// One data source's readers, for `veil plan`.
#[derive(Clone, Debug, Serialize)]
pub struct AccessRow {
    /// Data source.
    pub source: String,
    /// Readers who may read it.
    pub allowed: Vec<String>,
    /// Readers who may not.
    pub denied: Vec<String>,
    /// Allowed readers who see some values masked or some rows filtered.
    pub restricted: Vec<String>,
}

/// Every source, every reader (acting under no project).
///
/// # Errors
/// When a reader or source cannot be planned.
pub fn access_matrix(engine: &Engine) -> Result<Vec<AccessRow>> {
    let mut rows = Vec::new();
    for source in engine.catalog().sources() {
        let mut row =
            AccessRow { source: source.name.clone(), allowed: Vec::new(), denied: Vec::new(), restricted: Vec::new() };
        for user in engine.directory().users() {
            let subject = engine.directory().subject(&user.name, None)?;
            let plan = engine.plan_for(&subject, &source.name)?;
            if plan.allowed {
                row.allowed.push(user.name.clone());
                if !plan.row_filters.is_empty() || plan.columns.iter().any(|c| !c.chain.is_empty()) {
                    row.restricted.push(user.name.clone());
                }
            } else {
                row.denied.push(user.name.clone());
            }
        }
        rows.push(row);
    }
    Ok(rows)
}

/// A mismatch between the plan and what the engine returned.
#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// Reader.
    pub reader: String,
    /// Data source.
    pub source: String,
    /// Column, when the problem is about one.
    pub column: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "reader `{}`, source `{}`", self.reader, self.source)?;
        if let Some(c) = &self.column {
            write!(f, ", column `{c}`")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// What verification found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Report {
    /// Reader × source pairs probed.
    pub probes: usize,
    /// Individual checks made.
    pub checks: usize,
    /// Every mismatch.
    pub problems: Vec<Problem>,
}

enum Check {
    Refused { reader: String, source: String },
    Same { reader: String, source: String },
    NeverRaw { reader: String, source: String, column: String },
}

/// Probe every secure view in `schema` as every reader.
///
/// # Errors
/// When the engine cannot be run at all (mismatches are in the report).
pub fn run(
    engine: &Engine,
    db: &DuckDb,
    key_id: &str,
    schema: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<Report> {
    let t = DuckDbTarget { extension: None };
    let dynamic = bind(
        engine,
        &t,
        &BindOptions { mode: Mode::Dynamic, key_id: key_id.into(), secure_schema: schema.into(), sources: Vec::new() },
    )?;
    let schema_sql = t.quote_ident(schema);
    let mut queries = Vec::new();
    let mut checks = Vec::new();
    // Every reader, acting under no project and under each of their projects.
    let readers: Vec<(String, Option<String>)> = engine
        .directory()
        .users()
        .flat_map(|u| {
            std::iter::once((u.name.clone(), None)).chain(u.projects.iter().map(|p| (u.name.clone(), Some(p.clone()))))
        })
        .collect();
    let mut report = Report::default();

    let as_reader = |reader: Option<&str>, project: Option<&str>| -> Vec<String> {
        let user = match reader {
            Some(r) => format!("SET VARIABLE veil_user = {}", t.literal(r)),
            None => "RESET VARIABLE veil_user".into(),
        };
        let project = match project {
            Some(p) => format!("SET VARIABLE veil_project = {}", t.literal(p)),
            None => "RESET VARIABLE veil_project".into(),
        };
        vec![user, project]
    };

    for (source, view) in &dynamic.views {
        let view_sql = format!("{schema_sql}.{}", t.quote_ident(view));
        // Readers nobody knows, and no reader at all, are refused everywhere.
        for (label, reader) in [("(unknown reader)", Some("\u{0}veil-nobody")), ("(no reader set)", None)] {
            queries.push(Query { setup: as_reader(reader, None), sql: format!("SELECT count(*) FROM {view_sql}") });
            checks.push(Check::Refused { reader: label.into(), source: source.clone() });
        }
        for (user, project) in &readers {
            report.probes += 1;
            let subject = engine.directory().subject(user, project.as_deref())?;
            let plan = engine.plan_for(&subject, source)?;
            let setup = as_reader(Some(user), project.as_deref());
            let reader = match project {
                Some(p) => format!("{user} (project {p})"),
                None => user.clone(),
            };
            if !plan.allowed {
                queries.push(Query { setup, sql: format!("SELECT count(*) FROM {view_sql}") });
                checks.push(Check::Refused { reader, source: source.clone() });
                continue;
            }
            let specialised = bind(
                engine,
                &t,
                &BindOptions {
                    mode: Mode::Reader { user: user.clone(), project: project.clone() },
                    key_id: key_id.into(),
                    secure_schema: schema.into(),
                    sources: vec![source.clone()],
                },
            )?;
            let Some(expected) =
                specialised.statements.iter().find(|s| s.kind == StatementKind::View).and_then(|s| s.select.clone())
            else {
                continue;
            };
            queries.push(Query {
                setup: setup.clone(),
                sql: format!(
                    "WITH d AS (SELECT * FROM {view_sql}), s AS ({expected})\n\
                     SELECT (SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM s))\n\
                          + (SELECT count(*) FROM (SELECT * FROM s EXCEPT ALL SELECT * FROM d))"
                ),
            });
            checks.push(Check::Same { reader: reader.clone(), source: source.clone() });

            let base = engine.catalog().source(source).map(|s| veil_host::render::base_relation(s, &t));
            for column in &plan.columns {
                let Some(first) = column.chain.first() else { continue };
                let never_raw = first.rows.is_none()
                    && match &first.mask {
                        Mask::Null | Mask::Hash { .. } | Mask::FormatPreserving => true,
                        Mask::Reversible { unmaskers } => *unmaskers == veil_policy::Condition::Never,
                        _ => false,
                    };
                let Some(base) = &base else { continue };
                if never_raw {
                    let c = t.quote_ident(&column.name);
                    queries.push(Query {
                        setup: setup.clone(),
                        sql: format!(
                            "SELECT count(*) FROM {view_sql} d WHERE d.{c} IS NOT NULL AND CAST(d.{c} AS VARCHAR) IN \
                             (SELECT CAST({c} AS VARCHAR) FROM {base} WHERE {c} IS NOT NULL)"
                        ),
                    });
                    checks.push(Check::NeverRaw {
                        reader: user.clone(),
                        source: source.clone(),
                        column: column.name.clone(),
                    });
                }
            }
        }
    }

    let total = queries.len();
    progress(0, total);
    let answers = db.query(&queries)?;
    progress(total, total);
    report.checks = checks.len();
    for (check, answer) in checks.into_iter().zip(answers) {
        let count = answer.rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_i64);
        let problem = |reader: String, source: String, column: Option<String>, message: String| Problem {
            reader,
            source,
            column,
            message,
        };
        match check {
            // The refusal is veil's error, raised before any row is read.
            Check::Refused { reader, source } => match (answer.ok, answer.error.as_deref()) {
                (false, Some(e)) if e.contains("may not read") => {}
                (true, _) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!(
                        "the plan denies this reader, yet the view answered ({} row(s)) instead of refusing",
                        count.unwrap_or(0)
                    ),
                )),
                (false, e) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!("the view failed with another error than veil's refusal: {}", e.unwrap_or_default()),
                )),
            },
            Check::Same { reader, source } => match (answer.ok, count) {
                (true, Some(0)) => {}
                (true, n) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!("{} row(s) differ from the reader's plan", n.unwrap_or(-1)),
                )),
                (false, _) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!("the view failed for a reader the plan allows: {}", answer.error.unwrap_or_default()),
                )),
            },
            Check::NeverRaw { reader, source, column } => match (answer.ok, count) {
                (true, Some(0)) => {}
                (true, n) => report.problems.push(problem(
                    reader,
                    source,
                    Some(column),
                    format!("{} value(s) shown unmasked", n.unwrap_or(-1)),
                )),
                (false, _) => report.problems.push(problem(
                    reader,
                    source,
                    Some(column),
                    format!("cannot check the mask: {}", answer.error.unwrap_or_default()),
                )),
            },
        }
    }
    Ok(report)
}
