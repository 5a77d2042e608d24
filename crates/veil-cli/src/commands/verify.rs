//! `veil verify`: every secure view queried as every reader, against the plan.

use std::process::ExitCode;

use veil_cli::verify::{run as verify, Problem};
use veil_cli::{pg, Error, Result};
use veil_host::BindOptions;

use super::{key_and_schema, pretty_json, ApplyEngine, Format, Project, Reached, Selector};

/// Query every secure view as every reader and compare with the plan.
///
/// Checks that unentitled readers are refused, that each reader's rows and
/// values equal those of a view specialised to that reader, and that masked
/// columns never show a raw value. Any mismatch is printed with the reader,
/// source and column, and the exit code is 1.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    #[command(flatten)]
    engine: ApplyEngine,
    #[command(flatten)]
    selector: Selector,
    /// Key id the views were applied with [default: veil.yml's `key-id`, else `default`].
    #[arg(long, value_name = "ID")]
    key_id: Option<String>,
    /// Schema of the secure views [default: veil.yml's `schema`, else `secure`].
    #[arg(long, value_name = "NAME")]
    schema: Option<String>,
    /// Only this data source's view (repeatable; what `apply --source` bound).
    #[arg(long = "source", value_name = "SOURCE")]
    sources: Vec<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Spark: readers' passwords (`user:password` lines), when the server authenticates.
    #[arg(long, value_name = "FILE")]
    spark_credentials: Option<std::path::PathBuf>,
}

/// Run `veil verify`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { project, engine, selector, key_id, schema, sources, format, spark_credentials } = args;
    let (key_id, schema) = key_and_schema(key_id.as_deref(), schema.as_deref())?;
    let reached = engine.reach()?;
    if let Reached::DuckDb(db) = &reached {
        veil_cli::verify::open_ahead(db);
    }
    let loaded = project.load()?;
    let sources = selector.narrow(&loaded, &sources)?;
    let progress = veil_cli::progress::reporter("verify", "probes");
    let report = match reached {
        Reached::Spark(spark) => {
            let mut spark = *spark;
            if let Some(path) = &spark_credentials {
                spark = spark.with_credentials(path)?;
            }
            let mut verifier = veil_cli::spark::Verifier::new(spark, &key_id)?;
            verify(&loaded.engine, &mut verifier, &key_id, &schema, &sources, progress)?
        }
        Reached::Postgres(url) => {
            let mut verifier = pg::Verifier::connect(&url)?;
            let mut report = verify(&loaded.engine, &mut verifier, &key_id, &schema, &sources, progress)?;
            // What would let a reader run code with veil's rights now (drift since apply).
            let options =
                BindOptions { key_id: key_id.clone(), secure_schema: schema.clone(), sources, ..Default::default() };
            for f in verifier.inspect(&super::apply::exposure(&loaded.engine, &options)?)? {
                report.problems.push(Problem {
                    reader: "(any reader)".into(),
                    source: "(database)".into(),
                    column: None,
                    message: format!("{}; fix: {}", f.what, f.fix),
                });
            }
            report
        }
        Reached::DuckDb(mut db) => verify(&loaded.engine, &mut db, &key_id, &schema, &sources, progress)?,
    };
    match format {
        Format::Json => println!("{}", pretty_json(&report)),
        Format::Table => {
            for p in &report.problems {
                println!("FAIL {p}");
            }
            println!("{} probes, {} checks, {} problem(s)", report.probes, report.checks, report.problems.len());
        }
    }
    if !report.problems.is_empty() {
        return Err(Error::Verify(report.problems.len()));
    }
    Ok(ExitCode::SUCCESS)
}
