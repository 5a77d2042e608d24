//! `veil`: tag-driven data access enforcement from the command line.
//!
//! This file parses the command line and dispatches; each command is a module of
//! [`commands`] (its arguments, help text and run).
//!
//! Exit codes: 0 success; 1 invalid inputs, failed tests or failed verification;
//! 2 usage errors; 3 the engine failed; 4 a reader denied (`query`, `explain`);
//! 5 changes pending (`apply --dry-run --exit-code`).

mod commands;

/// mimalloc: veil's commands build and free millions of small strings and maps
/// (catalogs, snapshots, bound SQL); glibc's free was a tenth of a re-apply's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};
use commands::{
    apply, bench, bind, check, completions, diff, discover, explain, keygen, monitor, plan, query, report, snapshot,
    test, verify,
};

/// veil enforces tag-driven data access policies inside the engines that hold the data.
///
/// Policies (YAML) are written against tags on data (from dbt) and facts about
/// users (groups, attributes). veil decides who may read each table and how each
/// value is shown, then generates secure views, masks and row filters for the
/// engine, and proves they work.
///
/// A typical run, in a dbt project (built with dbt-duckdb) holding a veil.yml
/// that names the policies, the users and the keyring (docs/config.md):
///
///   veil check --strict       # every warning is an error (CI)
///   veil plan                 # who may read what
///   veil test                 # expected access (tests/*.yaml) against the plan
///   veil apply --dry-run      # what would change
///   veil apply                # secure views in the DuckDB file of the dbt profile
///   veil verify               # every reader x every view, against the plan
///   veil report -o access.html
///
/// Flags override veil.yml (--policies, --users, --dbt-target, --duckdb, --keyring, ...).
/// The keyring (`<key id> = <64 hex digits>` per line) can also be named by VEIL_KEYRING.
#[derive(Parser)]
#[command(name = "veil", version, about, verbatim_doc_comment)]
struct Cli {
    /// The project config [default: veil.yml in this folder or the nearest above].
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// The commands; each one's help is its module's `Args` documentation.
#[derive(Subcommand)]
enum Command {
    Check(check::Args),
    Plan(plan::Args),
    Test(test::Args),
    Report(report::Args),
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
    Keygen(keygen::Args),
    Completions(completions::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    commands::set_config_file(cli.config);
    let result = match cli.command {
        Command::Check(args) => check::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Test(args) => test::run(args),
        Command::Report(args) => report::run(args),
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
        Command::Keygen(args) => keygen::run(args),
        Command::Completions(args) => completions::run(args, Cli::command()),
    };
    veil_cli::duckdb::shutdown();
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
