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
use veil_host::render::base_relation;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
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

/// Who a probe reads as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Who {
    /// No reader at all (DuckDB: `veil_user` unset; PostgreSQL: the administrator).
    Nobody,
    /// A reader veil does not know.
    Stranger,
    /// A reader, acting under a project or none.
    Reader {
        /// The reader.
        user: String,
        /// The project they act under.
        project: Option<String>,
    },
}

/// One question to the engine about a secure view, asked as one reader.
#[derive(Clone, Debug)]
pub enum Probe {
    /// How many rows the view gives (a refusal is expected).
    Count {
        /// Who asks.
        who: Who,
        /// The view, quoted.
        view: String,
    },
    /// How many rows differ, as multisets in both directions, between the view and
    /// `expected`, the SELECT of a view specialised to the reader (run with veil's rights).
    Differ {
        /// Who reads the view.
        who: Who,
        /// The view, quoted.
        view: String,
        /// The specialised SELECT.
        expected: String,
    },
    /// How many non-null values of `column` in the view equal a value of the same
    /// column of the base relation `base`.
    Raw {
        /// Who reads the view.
        who: Who,
        /// The view, quoted.
        view: String,
        /// The column, quoted.
        column: String,
        /// The base relation, quoted.
        base: String,
    },
}

/// What the engine answered to a [`Probe`].
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// The count asked for, when the probe succeeded.
    pub count: Option<i64>,
    /// The engine's error, when it failed.
    pub error: Option<String>,
    /// Whether that error is veil's refusal (or, in PostgreSQL, a denied privilege).
    pub refused: bool,
}

/// An engine whose secure views [`run`] probes.
pub trait Prober {
    /// The target whose SQL the specialised views and quoted names are written in.
    fn target(&self) -> &dyn Target;
    /// Answer every probe, in order.
    ///
    /// # Errors
    /// When the engine cannot be reached at all.
    fn probe(&mut self, probes: &[Probe]) -> Result<Vec<Outcome>>;
}

/// DuckDB's SQL, without loading the extension.
static DUCKDB_SQL: DuckDbTarget = DuckDbTarget { extension: None };

/// DuckDB: every probe is one query in one run of the Python driver.
impl Prober for DuckDb {
    fn target(&self) -> &dyn Target {
        &DUCKDB_SQL
    }

    fn probe(&mut self, probes: &[Probe]) -> Result<Vec<Outcome>> {
        let t = &DUCKDB_SQL;
        let as_reader = |who: &Who| -> Vec<String> {
            let (user, project) = match who {
                Who::Nobody => (None, None),
                Who::Stranger => (Some("\u{0}veil-nobody"), None),
                Who::Reader { user, project } => (Some(user.as_str()), project.as_deref()),
            };
            vec![
                user.map_or("RESET VARIABLE veil_user".into(), |r| {
                    format!("SET VARIABLE veil_user = {}", t.literal(r))
                }),
                project.map_or("RESET VARIABLE veil_project".into(), |p| {
                    format!("SET VARIABLE veil_project = {}", t.literal(p))
                }),
            ]
        };
        let queries: Vec<Query> = probes
            .iter()
            .map(|p| match p {
                Probe::Count { who, view } => {
                    Query { setup: as_reader(who), sql: format!("SELECT count(*) FROM {view}") }
                }
                Probe::Differ { who, view, expected } => Query {
                    setup: as_reader(who),
                    sql: format!(
                        "WITH d AS (SELECT * FROM {view}), s AS ({expected})\n\
                         SELECT (SELECT count(*) FROM (SELECT * FROM d EXCEPT ALL SELECT * FROM s))\n\
                              + (SELECT count(*) FROM (SELECT * FROM s EXCEPT ALL SELECT * FROM d))"
                    ),
                },
                Probe::Raw { who, view, column: c, base } => Query {
                    setup: as_reader(who),
                    sql: format!(
                        "SELECT count(*) FROM {view} d WHERE d.{c} IS NOT NULL AND CAST(d.{c} AS VARCHAR) IN \
                         (SELECT CAST({c} AS VARCHAR) FROM {base} WHERE {c} IS NOT NULL)"
                    ),
                },
            })
            .collect();
        Ok(self
            .query(&queries)?
            .into_iter()
            .map(|a| Outcome {
                count: a.rows.first().and_then(|r| r.first()).and_then(serde_json::Value::as_i64),
                refused: !a.ok && a.error.as_deref().is_some_and(|e| e.contains("may not read")),
                error: if a.ok { None } else { Some(a.error.unwrap_or_default()) },
            })
            .collect())
    }
}

/// Probe every secure view in `schema` (of `sources`, or of every data source when
/// empty) as every reader.
///
/// # Errors
/// When the engine cannot be run at all (mismatches are in the report).
pub fn run(
    engine: &Engine,
    prober: &mut dyn Prober,
    key_id: &str,
    schema: &str,
    sources: &[String],
    mut progress: impl FnMut(usize, usize),
) -> Result<Report> {
    let options = |mode: Mode, sources: Vec<String>| BindOptions {
        mode,
        key_id: key_id.into(),
        secure_schema: schema.into(),
        sources,
    };
    let dynamic = bind(engine, prober.target(), &options(Mode::Dynamic, sources.to_vec()))?;
    let schema_sql = prober.target().quote_ident(schema);
    let mut probes = Vec::new();
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

    for (source, view) in &dynamic.views {
        let view_sql = format!("{schema_sql}.{}", prober.target().quote_ident(view));
        // Readers nobody knows, and no reader at all, are refused everywhere.
        for (label, who) in [("(unknown reader)", Who::Stranger), ("(no reader set)", Who::Nobody)] {
            probes.push(Probe::Count { who, view: view_sql.clone() });
            checks.push(Check::Refused { reader: label.into(), source: source.clone() });
        }
        for (user, project) in &readers {
            report.probes += 1;
            let subject = engine.directory().subject(user, project.as_deref())?;
            let plan = engine.plan_for(&subject, source)?;
            let who = Who::Reader { user: user.clone(), project: project.clone() };
            let reader = match project {
                Some(p) => format!("{user} (project {p})"),
                None => user.clone(),
            };
            if !plan.allowed {
                probes.push(Probe::Count { who, view: view_sql.clone() });
                checks.push(Check::Refused { reader, source: source.clone() });
                continue;
            }
            let mode = Mode::Reader { user: user.clone(), project: project.clone() };
            let specialised =
                veil_host::pipeline::views(engine, prober.target(), &options(mode, vec![source.clone()]))?;
            let Some(expected) =
                specialised.statements.iter().find(|s| s.kind == StatementKind::View).and_then(|s| s.select.clone())
            else {
                continue;
            };
            probes.push(Probe::Differ { who: who.clone(), view: view_sql.clone(), expected });
            checks.push(Check::Same { reader: reader.clone(), source: source.clone() });

            let Some(base) = engine.catalog().source(source).map(|s| base_relation(s, prober.target())) else {
                continue;
            };
            for column in &plan.columns {
                let Some(first) = column.chain.first() else { continue };
                let never_raw = first.rows.is_none()
                    && match &first.mask {
                        Mask::Null | Mask::Hash { .. } | Mask::FormatPreserving => true,
                        Mask::Reversible { unmaskers } => *unmaskers == veil_policy::Condition::Never,
                        _ => false,
                    };
                if never_raw {
                    probes.push(Probe::Raw {
                        who: who.clone(),
                        view: view_sql.clone(),
                        column: prober.target().quote_ident(&column.name),
                        base: base.clone(),
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

    let total = probes.len();
    progress(0, total);
    let answers = prober.probe(&probes)?;
    progress(total, total);
    report.checks = checks.len();
    for (check, answer) in checks.into_iter().zip(answers) {
        let count = answer.count;
        let problem = |reader: String, source: String, column: Option<String>, message: String| Problem {
            reader,
            source,
            column,
            message,
        };
        let failed = answer.error.is_some();
        match check {
            // The refusal is veil's error, raised before any row is read.
            Check::Refused { reader, source } => match (failed, answer.refused) {
                (true, true) => {}
                (false, _) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!(
                        "the plan denies this reader, yet the view answered ({} row(s)) instead of refusing",
                        count.unwrap_or(0)
                    ),
                )),
                (true, false) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!(
                        "the view failed with another error than veil's refusal: {}",
                        answer.error.unwrap_or_default()
                    ),
                )),
            },
            Check::Same { reader, source } => match (failed, count) {
                (false, Some(0)) => {}
                (false, n) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!("{} row(s) differ from the reader's plan", n.unwrap_or(-1)),
                )),
                (true, _) => report.problems.push(problem(
                    reader,
                    source,
                    None,
                    format!("the view failed for a reader the plan allows: {}", answer.error.unwrap_or_default()),
                )),
            },
            Check::NeverRaw { reader, source, column } => match (failed, count) {
                (false, Some(0)) => {}
                (false, n) => report.problems.push(problem(
                    reader,
                    source,
                    Some(column),
                    format!("{} value(s) shown unmasked", n.unwrap_or(-1)),
                )),
                (true, _) => report.problems.push(problem(
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
