//! `veil test`: expected access, written as data, checked against the plan and
//! optionally against an engine.

use std::path::PathBuf;
use std::process::ExitCode;

use serde::Serialize;
use serde_json::Value;
use veil_cli::duckdb::{DuckDb, Query};
use veil_cli::expectations::{self, Access, Expectation, Outcome};
use veil_cli::verify::Problem;
use veil_cli::{pg, Error, Result};
use veil_host::render::base_relation;
use veil_host::targets::{DuckDb as DuckDbTarget, Target};
use veil_host::{BindOptions, Mode};

use super::{key_and_schema, pretty_json, ApplyEngine, Format, Project, Reached};

/// Check expected access (tests/*.yaml beside the policies) against the plan:
/// who may read each source, how each column is shown, whether rows are
/// filtered. A failure shows the decision path as `veil explain` does; the run
/// ends with the coverage of policies and rules the tests assert. Exit 1 on any
/// failure. With --engine duckdb|postgres (or --duckdb/--postgres), also against the engine as applied:
/// each reader's access and shown columns queried through the secure views,
/// and every tested source verified as `veil verify` does. See docs/testing.md.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    /// A test file or a folder of them [default: veil.yml's `tests`, else
    /// `tests/` beside the policies].
    #[arg(long, value_name = "PATH")]
    tests: Option<PathBuf>,
    #[command(flatten)]
    engine: ApplyEngine,
    /// Key id the views were applied with [default: veil.yml's `key-id`, else `default`].
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Schema of the secure views [default: veil.yml's `schema`, else `secure`].
    #[arg(long, value_name = "NAME")]
    schema: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// What the engine said, beside the plan.
#[derive(Default, Serialize)]
struct EngineCheck {
    engine: String,
    probes: usize,
    problems: Vec<Problem>,
}

/// Run `veil test`.
pub fn run(args: Args) -> Result<ExitCode> {
    let with_engine = args.engine.named();
    let loaded = args.project.load()?;
    let inputs = args.project.inputs()?;
    let path = match &args.tests {
        Some(p) => p.clone(),
        None => match &super::config()?.tests {
            Some(p) => p.clone(),
            None => {
                let beside = inputs.policies.parent().filter(|p| !p.as_os_str().is_empty());
                beside.map_or_else(|| PathBuf::from("tests"), |p| p.join("tests"))
            }
        },
    };
    if !path.exists() {
        return Err(Error::Usage(format!(
            "no tests at `{}`: write expected access in tests/*.yaml beside the policies (docs/testing.md), or name them with --tests",
            path.display()
        )));
    }
    let expected = expectations::load(&path)?;
    let outcome = expectations::run(&loaded.engine, &expected)?;
    let engine_check = if with_engine {
        let (key_id, schema) = key_and_schema(args.key_id.as_deref(), args.schema.as_deref())?;
        Some(against_engine(&loaded.engine, &expected, &args.engine.reach()?, &key_id, &schema)?)
    } else {
        None
    };
    let failed = !outcome.failures.is_empty() || engine_check.as_ref().is_some_and(|c| !c.problems.is_empty());
    match args.format {
        Format::Json => {
            println!(
                "{}",
                pretty_json(&serde_json::json!({"plan": &outcome, "engine": &engine_check, "passed": !failed}))
            )
        }
        Format::Table => print_table(&outcome, engine_check.as_ref()),
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn print_table(outcome: &Outcome, engine: Option<&EngineCheck>) {
    for f in &outcome.failures {
        let e = &f.expectation;
        let name = e.name.as_deref().map_or(String::new(), |n| format!(" ({n})"));
        println!("FAIL {}{name}: {} reading {}", e.location, e.reader, e.source);
        for p in &f.problems {
            println!("  {p}");
        }
        if !f.explain.is_empty() {
            println!("  decision path (veil explain --user {} --source {}):", e.reader, e.source);
            for line in f.explain.lines() {
                println!("    {line}");
            }
        }
    }
    let passed = outcome.checked - outcome.failures.len();
    println!("plan: {passed} passed, {} failed, of {} expectations", outcome.failures.len(), outcome.checked);
    if let Some(check) = engine {
        for p in &check.problems {
            println!("FAIL {}: {p}", check.engine);
        }
        println!("{}: {} probes, {} problem(s)", check.engine, check.probes, check.problems.len());
    }
    let (pc, pt) = outcome.coverage.policies_covered();
    let (rc, rt) = outcome.coverage.rules_covered();
    println!("coverage: {pc}/{pt} policies, {rc}/{rt} data rules asserted by a test");
    for (key, covered) in &outcome.coverage.policies {
        if !covered {
            println!("  not covered: policy `{key}`");
        }
    }
    for (location, (key, covered)) in &outcome.coverage.rules {
        if !covered {
            println!("  not covered: rule at {location} (policy `{key}`)");
        }
    }
}

fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// Each expectation queried through the secure views, then every tested source
/// verified as `veil verify` does (the engine shows every reader what the plan says).
fn against_engine(
    engine: &veil_policy::Engine,
    expected: &[Expectation],
    reached: &Reached,
    key_id: &str,
    schema: &str,
) -> Result<EngineCheck> {
    let mut sources: Vec<String> = expected.iter().map(|e| e.source.clone()).collect();
    sources.sort();
    sources.dedup();
    sources.retain(|s| engine.catalog().source(s).is_some());
    let progress = |_, _| {};
    match reached {
        Reached::DuckDb(db) => {
            let mut check = direct(engine, expected, db, key_id, schema, &sources)?;
            let report = veil_cli::verify::run(engine, &mut db.clone(), key_id, schema, &sources, progress)?;
            check.probes += report.probes;
            check.problems.extend(report.problems);
            Ok(check)
        }
        Reached::Postgres(url) => {
            let mut verifier = pg::Verifier::connect(url)?;
            let report = veil_cli::verify::run(engine, &mut verifier, key_id, schema, &sources, progress)?;
            Ok(EngineCheck { engine: "postgres".into(), probes: report.probes, problems: report.problems })
        }
        Reached::Spark(_) => Err(Error::Usage(
            "veil test reaches DuckDB or PostgreSQL; for Spark run `veil verify --spark URL` (with --spark-credentials)"
                .into(),
        )),
    }
}

/// Per expectation, as its reader in DuckDB: the view refuses or answers as
/// expected, and each column expected shown holds only the base table's values.
fn direct(
    engine: &veil_policy::Engine,
    expected: &[Expectation],
    db: &DuckDb,
    key_id: &str,
    schema: &str,
    sources: &[String],
) -> Result<EngineCheck> {
    let target = DuckDbTarget { extension: None };
    let options = BindOptions {
        mode: Mode::Dynamic,
        key_id: key_id.into(),
        secure_schema: schema.into(),
        sources: sources.to_vec(),
    };
    let views = veil_host::bind(engine, &target, &options)?.views;
    let mut queries = Vec::new();
    let mut asked: Vec<(&Expectation, Option<String>)> = Vec::new();
    for e in expected {
        let (Some(view), Some(source)) = (views.get(&e.source), engine.catalog().source(&e.source)) else { continue };
        let relation = format!("{}.{}", target.quote_ident(schema), target.quote_ident(view));
        let mut setup = vec![format!("SET VARIABLE veil_user = {}", quote(&e.reader))];
        setup.push(match &e.project {
            Some(p) => format!("SET VARIABLE veil_project = {}", quote(p)),
            None => "RESET VARIABLE veil_project".into(),
        });
        queries.push(Query { setup: setup.clone(), sql: format!("SELECT count(*) FROM {relation}") });
        asked.push((e, None));
        if e.access == Access::Allowed {
            for (column, want) in &e.columns {
                let Ok(col) = source.resolve_column(column) else { continue };
                let c = target.quote_ident(&col.name);
                let sql = match want.as_str() {
                    "shown" => format!(
                        "SELECT count(*) FROM (SELECT CAST({c} AS VARCHAR) FROM {relation} EXCEPT SELECT CAST({c} AS VARCHAR) FROM {})",
                        base_relation(source, &target)
                    ),
                    "null" => format!("SELECT count({c}) FROM {relation}"),
                    _ => continue,
                };
                queries.push(Query { setup: setup.clone(), sql });
                asked.push((e, Some(format!("{column}: {want}"))));
            }
        }
    }
    let answers = db.query(&queries)?;
    let mut check = EngineCheck { engine: format!("duckdb {}", db.database.display()), ..EngineCheck::default() };
    for ((e, what), answer) in asked.iter().zip(answers) {
        check.probes += 1;
        let problem = |message: String| Problem {
            reader: e.reader.clone(),
            source: e.source.clone(),
            column: what.as_ref().map(|w| w.split(':').next().unwrap_or_default().to_owned()),
            message: format!("{} ({message})", e.location),
        };
        let count = answer.rows.first().and_then(|r| r.first()).and_then(Value::as_u64);
        match (what, e.access, answer.ok) {
            (None, Access::Allowed, false) => check.problems.push(problem(format!(
                "expected allowed, the engine refused: {}",
                answer.error.as_deref().unwrap_or_default().lines().next().unwrap_or_default()
            ))),
            (None, Access::Denied, true) => {
                check.problems.push(problem("expected denied, but the engine answered".into()))
            }
            (Some(w), _, false) => check.problems.push(problem(format!(
                "checking {w}: {}",
                answer.error.as_deref().unwrap_or_default().lines().next().unwrap_or_default()
            ))),
            (Some(w), _, true) if count != Some(0) => check.problems.push(problem(format!(
                "expected {w}, but {} value(s) {}",
                count.map_or("some".into(), |n| n.to_string()),
                if w.ends_with("null") { "are not NULL" } else { "are not the base table's" }
            ))),
            _ => {}
        }
    }
    Ok(check)
}
