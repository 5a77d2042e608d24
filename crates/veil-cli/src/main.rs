//! `veil`: tag-driven data access enforcement from the command line.
//!
//! This file parses the command line and dispatches; each command is a module of
//! [`commands`] (its arguments, help text and run).
//!
//! Exit codes: 0 success; 1 invalid inputs, denied or failed verification;
//! 2 usage errors; 3 the engine failed.

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use commands::{apply, bench, bind, check, diff, discover, explain, monitor, plan, query, snapshot, verify};

/// veil enforces tag-driven data access policies inside the engines that hold the data.
///
/// Policies (YAML) are written against tags on data (from dbt) and facts about
/// users (groups, attributes). veil decides who may read each table and how each
/// value is shown, then generates secure views, masks and row filters for the
/// engine, and proves they work.
///
/// A typical run, from a dbt project built with dbt-duckdb:
///
///   veil check  --policies policies --users users.yaml --dbt-target target
///   veil plan   --policies policies --users users.yaml --dbt-target target
///   veil apply  --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb --keyring keyring.txt
///   veil verify --policies policies --users users.yaml --dbt-target target --duckdb target/shop.duckdb --keyring keyring.txt
///
/// The keyring (`<key id> = <64 hex digits>` per line) can also be named by VEIL_KEYRING.
#[derive(Parser)]
#[command(name = "veil", version, about, verbatim_doc_comment)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The commands; each one's help is its module's `Args` documentation.
#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Plan(plan::Args),
    Explain(explain::Args),
    Bind(bind::Args),
    Apply(apply::Args),
    Verify(verify::Args),
    Query(query::Args),
    Diff(diff::Args),
    Snapshot(snapshot::Args),
    Monitor(monitor::Args),
    Discover(discover::Args),
    Bench(bench::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Explain(args) => explain::run(args),
        Command::Bind(args) => bind::run(args),
        Command::Apply(args) => apply::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Query(args) => query::run(args),
        Command::Diff(args) => diff::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Monitor(args) => monitor::run(args),
        Command::Discover(args) => discover::run(args),
        Command::Bench(args) => bench::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
