//! Proof of enforcement: query the secure views as readers and compare with
//! what the plan says they must see.
//!
//! For every reader and data source:
//! - a reader the plan denies must get veil's refusal (an error) from the view;
//! - a reader the plan allows must get exactly the rows and values of the same
//!   query specialised to that reader (conditions folded by veil-policy, not by
//!   the engine), compared as multisets in both directions;
//! - columns the plan masks unconditionally with a null, hash, token,
//!   format-preserving or custom (component) mask must never show a value of
//!   the base column.
//!
//! Unknown and unset readers must be refused by every view.

use std::fmt;

use serde::Serialize;
use veil_host::render::base_relation;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_host::{bind, BindOptions, Mode, StatementKind};
use veil_policy::{Engine, Mask};

use crate::duckdb::{Access, DuckDb, Query};
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

/// Every source, every reader (acting under no project). Who may read what comes
/// from the entitlement matrix over reader sets (each distinct condition
/// evaluated once); each source's plan is built once for its readers.
///
/// # Errors
/// When a reader or source cannot be planned.
pub fn access_matrix(engine: &Engine) -> Result<Vec<AccessRow>> {
    let subjects: Vec<veil_policy::Subject> = engine
        .directory()
        .users()
        .map(|u| engine.directory().subject(&u.name, None))
        .collect::<std::result::Result<_, _>>()?;
    let readers = veil_policy::Readers::new(&subjects);
    let mut rows = Vec::new();
    for (source, may_read) in engine.entitlements(&readers) {
        let plan = engine.plan(&source)?;
        let mut row = AccessRow { source, allowed: Vec::new(), denied: Vec::new(), restricted: Vec::new() };
        for (i, subject) in subjects.iter().enumerate() {
            if !may_read.contains(i) {
                row.denied.push(subject.name.clone());
                continue;
            }
            row.allowed.push(subject.name.clone());
            let filtered = plan.row_filters.iter().any(|f| f.applies_to.eval(subject));
            if filtered || plan.columns.iter().any(|c| !c.chain_for(subject).is_empty()) {
                row.restricted.push(subject.name.clone());
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
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
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

impl Probe {
    /// Who asks.
    pub fn who(&self) -> &Who {
        match self {
            Probe::Count { who, .. } | Probe::Differ { who, .. } | Probe::Raw { who, .. } => who,
        }
    }

    /// The view asked about, quoted.
    pub fn view(&self) -> &str {
        match self {
            Probe::Count { view, .. } | Probe::Differ { view, .. } | Probe::Raw { view, .. } => view,
        }
    }
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
    /// Can a reader act under a project there? When not, readers are probed under
    /// no project only.
    fn projects(&self) -> bool {
        true
    }
    /// Answer every probe, in order, calling `done(n)` as `n` more are answered.
    ///
    /// # Errors
    /// When the engine cannot be reached at all.
    fn probe(&mut self, probes: &[Probe], done: &mut dyn FnMut(usize)) -> Result<Vec<Outcome>>;
}

/// DuckDB's SQL, without loading the extension.
static DUCKDB_SQL: DuckDbTarget = DuckDbTarget { extension: None };

/// Checks folded into one query, at most: a reader allowed on many sources gets
/// a few queries of this many views each rather than one huge one.
const CHECKS_PER_QUERY: usize = 48;

/// DuckDB: one session; per reader, the variables are set once, every refusal is
/// its own query (a refusal is an error, which would end a shared one), and the
/// other probes of up to [`CHECKS_PER_QUERY`] views are folded into one query
/// reading each view once. When a folded query fails, its probes run one by one
/// so the error is pinned on the probe that raised it.
impl Prober for DuckDb {
    fn target(&self) -> &dyn Target {
        &DUCKDB_SQL
    }

    fn probe(&mut self, probes: &[Probe], done: &mut dyn FnMut(usize)) -> Result<Vec<Outcome>> {
        if std::env::var_os(BASELINE_ENV).is_some() {
            return one_by_one(self, probes, done);
        }
        let mut session = self.open_tuned(Access::Read, PROBE_SETTINGS)?;
        crate::duckdb::refuse_shadowing(&mut session, "nothing was verified")?;
        let mut outcomes: Vec<Outcome> = vec![Outcome::default(); probes.len()];
        let readers = by_reader(probes);
        for batch in readers.chunks(READERS_PER_REQUEST) {
            // Per reader: the queries, and which probes each one answers.
            let planned: Vec<(Vec<Query>, Vec<Answers>)> =
                batch.iter().map(|(who, list)| queries(who, probes, list)).collect();
            let groups: Vec<Vec<Query>> = planned.iter().map(|(q, _)| q.clone()).collect();
            let replies = session.query_groups(&groups)?;
            for (((who, list), (_, answers)), replies) in batch.iter().zip(&planned).zip(&replies) {
                let mut retry: Vec<usize> = Vec::new();
                for (what, answer) in answers.iter().zip(replies) {
                    match what {
                        Answers::One(i) => {
                            set(&mut outcomes, *i, outcome(answer, answer.rows.first().and_then(|r| r.first())))
                        }
                        Answers::Rows(indexes) if !answer.ok => retry.extend(indexes),
                        Answers::Rows(indexes) => {
                            for row in &answer.rows {
                                let k = row
                                    .first()
                                    .and_then(serde_json::Value::as_u64)
                                    .and_then(|k| usize::try_from(k).ok());
                                if let Some(&i) = k.and_then(|k| indexes.get(k)) {
                                    set(&mut outcomes, i, outcome(answer, row.get(1)));
                                }
                            }
                        }
                    }
                }
                if !retry.is_empty() {
                    // Each on its own, as the reader, to say which one failed.
                    let mut setup = as_reader(who);
                    let queries: Vec<Query> = retry
                        .iter()
                        .filter_map(|&i| probes.get(i))
                        .map(|p| Query { setup: std::mem::take(&mut setup), sql: single(p) })
                        .collect();
                    for (&i, answer) in retry.iter().zip(session.query(&queries)?) {
                        set(&mut outcomes, i, outcome(&answer, answer.rows.first().and_then(|r| r.first())));
                    }
                }
                done(list.len());
            }
        }
        Ok(outcomes)
    }
}

/// Set for a benchmark baseline: every probe a query of its own, with its own
/// setup and DuckDB's default settings (how verify ran before folding).
pub const BASELINE_ENV: &str = "VEIL_VERIFY_ONE_BY_ONE";

/// Readers whose queries go to the runner in one request (run side by side there).
const READERS_PER_REQUEST: usize = 16;

/// What the answer to one query says.
enum Answers {
    /// The count of probe `i` (a refusal, or a probe run alone).
    One(usize),
    /// Rows `(k, count)`: the count of the `k`-th probe listed.
    Rows(Vec<usize>),
}

fn set(outcomes: &mut [Outcome], i: usize, outcome: Outcome) {
    if let Some(o) = outcomes.get_mut(i) {
        *o = outcome;
    }
}

/// One reader's queries: the reader's variables set once, every refusal alone,
/// the rest folded by up to [`CHECKS_PER_QUERY`].
fn queries(who: &Who, probes: &[Probe], list: &[usize]) -> (Vec<Query>, Vec<Answers>) {
    let mut setup = as_reader(who);
    let (refusals, folded): (Vec<usize>, Vec<usize>) =
        list.iter().partition(|&&i| matches!(probes.get(i), Some(Probe::Count { .. })));
    let mut queries = Vec::new();
    let mut answers = Vec::new();
    for &i in &refusals {
        let Some(probe) = probes.get(i) else { continue };
        queries.push(Query { setup: std::mem::take(&mut setup), sql: single(probe) });
        answers.push(Answers::One(i));
    }
    for chunk in folded.chunks(CHECKS_PER_QUERY) {
        let part: Vec<&Probe> = chunk.iter().filter_map(|&i| probes.get(i)).collect();
        queries.push(Query { setup: std::mem::take(&mut setup), sql: fold(&part) });
        answers.push(Answers::Rows(chunk.to_vec()));
    }
    (queries, answers)
}

/// The baseline: each probe alone, its reader set for each, default settings.
fn one_by_one(db: &DuckDb, probes: &[Probe], done: &mut dyn FnMut(usize)) -> Result<Vec<Outcome>> {
    let mut session = db.open(Access::Read)?;
    let queries: Vec<Query> = probes.iter().map(|p| Query { setup: as_reader(p.who()), sql: single(p) }).collect();
    let answers = session.query(&queries)?;
    done(probes.len());
    Ok(answers.iter().map(|a| outcome(a, a.rows.first().and_then(|r| r.first()))).collect())
}

/// Session settings for probing: the optimizers that only choose among
/// equivalent plans by cost or share repeated work (join order, build side,
/// common subexpressions and subplans) are off: planning a secure view is most
/// of a probe's time (DuckDB's profiler: binding 1.0 ms, optimizing 1.0 ms, running
/// 0.4 ms for the example's `customers`) and they change no result. Those that
/// can prune or move work (filter pushdown, statistics, constant folding) stay
/// on, so a probe runs the plan shape a reader gets.
/// GLOBAL: probes run on several connections.
const PROBE_SETTINGS: &[&str] =
    &["SET GLOBAL disabled_optimizers = 'join_order,build_side_probe_side,common_subexpressions,common_subplan'"];

/// Open `db` for probing ahead ([`DuckDb::open_ahead`]), as [`Prober::probe`] will.
pub fn open_ahead(db: &DuckDb) {
    if std::env::var_os(BASELINE_ENV).is_none() {
        db.open_ahead(Access::Read, PROBE_SETTINGS);
    }
}

/// The probes grouped by who asks, in the order readers first appear.
fn by_reader(probes: &[Probe]) -> Vec<(Who, Vec<usize>)> {
    let mut groups: Vec<(Who, Vec<usize>)> = Vec::new();
    let mut index: std::collections::HashMap<Who, usize> = std::collections::HashMap::new();
    for (i, probe) in probes.iter().enumerate() {
        let who = probe.who();
        let slot = *index.entry(who.clone()).or_insert_with(|| {
            groups.push((who.clone(), Vec::new()));
            groups.len() - 1
        });
        if let Some((_, list)) = groups.get_mut(slot) {
            list.push(i);
        }
    }
    groups
}

/// The statements that make `who` the reader of the session.
fn as_reader(who: &Who) -> Vec<String> {
    let t = &DUCKDB_SQL;
    let (user, project) = match who {
        Who::Nobody => (None, None),
        Who::Stranger => (Some("\u{0}veil-nobody"), None),
        Who::Reader { user, project } => (Some(user.as_str()), project.as_deref()),
    };
    vec![
        user.map_or("RESET VARIABLE veil_user".into(), |r| format!("SET VARIABLE veil_user = {}", t.literal(r))),
        project
            .map_or("RESET VARIABLE veil_project".into(), |p| format!("SET VARIABLE veil_project = {}", t.literal(p))),
    ]
}

/// The count a probe asks for, over `view` (a relation name or a CTE).
fn count_sql(probe: &Probe, view: &str, expected: &str) -> String {
    match probe {
        Probe::Count { .. } => format!("SELECT count(*) FROM {view}"),
        Probe::Differ { .. } => format!(
            "SELECT (SELECT count(*) FROM (SELECT * FROM {view} EXCEPT ALL SELECT * FROM {expected}))\n\
                  + (SELECT count(*) FROM (SELECT * FROM {expected} EXCEPT ALL SELECT * FROM {view}))"
        ),
        Probe::Raw { column: c, base, .. } => format!(
            "SELECT count(*) FROM {view} d WHERE d.{c} IS NOT NULL AND CAST(d.{c} AS VARCHAR) IN \
             (SELECT CAST({c} AS VARCHAR) FROM {base} WHERE {c} IS NOT NULL)"
        ),
    }
}

/// One probe as a query of its own.
fn single(probe: &Probe) -> String {
    match probe {
        Probe::Count { view, .. } | Probe::Raw { view, .. } => count_sql(probe, view, ""),
        Probe::Differ { view, expected, .. } => {
            format!(
                "WITH d AS MATERIALIZED (SELECT * FROM {view}), s AS MATERIALIZED ({expected})\n{}",
                count_sql(probe, "d", "s")
            )
        }
    }
}

/// Probes as one query with a row `(k, count)` for the `k`-th: each view read
/// once (a materialized CTE), each expected relation computed once.
fn fold(probes: &[&Probe]) -> String {
    let mut views: Vec<&str> = Vec::new();
    let mut ctes: Vec<String> = Vec::new();
    let mut rows: Vec<String> = Vec::new();
    for (k, probe) in probes.iter().enumerate() {
        let view = probe.view();
        let v = match views.iter().position(|x| *x == view) {
            Some(v) => v,
            None => {
                views.push(view);
                ctes.push(format!("d{} AS MATERIALIZED (SELECT * FROM {view})", views.len() - 1));
                views.len() - 1
            }
        };
        let expected = match probe {
            Probe::Differ { expected, .. } => {
                ctes.push(format!("s{k} AS MATERIALIZED ({expected})"));
                format!("s{k}")
            }
            _ => String::new(),
        };
        rows.push(format!("SELECT {k} AS probe, ({}) AS n", count_sql(probe, &format!("d{v}"), &expected)));
    }
    format!("WITH {}\n{}", ctes.join(",\n"), rows.join("\nUNION ALL "))
}

/// An answer's count (from `value`) or error.
fn outcome(answer: &crate::duckdb::Answer, value: Option<&serde_json::Value>) -> Outcome {
    Outcome {
        count: value.and_then(serde_json::Value::as_i64),
        refused: !answer.ok && answer.error.as_deref().is_some_and(|e| e.contains("may not read")),
        error: if answer.ok { None } else { Some(answer.error.clone().unwrap_or_default()) },
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
        .filter(|(_, project)| project.is_none() || prober.projects())
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
                        // A custom mask must change every value it is given: one it
                        // shows as is (e.g. a component that returns its input) is a leak.
                        Mask::Null | Mask::Hash { .. } | Mask::FormatPreserving | Mask::Component { .. } => true,
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
    let mut answered = 0;
    let answers = prober.probe(&probes, &mut |n| {
        answered += n;
        progress(answered, total);
    })?;
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
