//! `veil query`: one read-only query as one reader.

use std::process::ExitCode;

use serde_json::json;
use veil_cli::duckdb::{only_a_query, table, Query};
use veil_cli::{Error, Result};

use super::{Engine, Format};

/// Run one query in DuckDB as a reader and print the rows (what that reader sees).
///
/// The database is opened read-only (other readers may hold it at the same time;
/// a writer is waited for), and only a single query is accepted. A reader
/// refused by a secure view exits with code 4.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    engine: Engine,
    /// The reader (`SET VARIABLE veil_user`).
    #[arg(long = "as", value_name = "USER")]
    reader: String,
    /// The project the reader acts under (`SET VARIABLE veil_project`).
    #[arg(long, value_name = "PROJECT")]
    project: Option<String>,
    /// Output format (json: columns and rows).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// One query (SELECT, WITH, VALUES, …), e.g. `SELECT * FROM secure.customers`;
    /// anything else is refused, and the database is opened read-only.
    sql: String,
}

/// Run `veil query`.
pub fn run(args: Args) -> Result<ExitCode> {
    let Args { engine, reader, project, format, sql } = args;
    only_a_query(&sql)?;
    let quote = |s: &str| format!("'{}'", s.replace('\'', "''"));
    let mut setup = vec![format!("SET VARIABLE veil_user = {}", quote(&reader))];
    setup.push(match &project {
        Some(p) => format!("SET VARIABLE veil_project = {}", quote(p)),
        None => "RESET VARIABLE veil_project".into(),
    });
    let answers = engine.runner()?.query(&[Query { setup, sql }])?;
    let answer = answers.into_iter().next().ok_or_else(|| Error::Engine("DuckDB gave no answer".into()))?;
    if !answer.ok {
        let error = answer.error.unwrap_or_default();
        // A secure view's refusal: enforcement at work (exit 4), not the engine failing.
        if let Some(at) = error.find("veil: reader ").filter(|_| error.contains(" may not read ")) {
            let refusal = error.get(at..).unwrap_or_default().lines().next().unwrap_or_default();
            return Err(Error::Denied(refusal.to_owned()));
        }
        return Err(Error::Engine(error));
    }
    match format {
        Format::Json => println!("{}", json!({"columns": answer.columns, "rows": answer.rows})),
        Format::Table => print!("{}", table(&answer)),
    }
    Ok(ExitCode::SUCCESS)
}
