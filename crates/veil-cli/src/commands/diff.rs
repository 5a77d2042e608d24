//! `veil diff`: what changed between two catalog snapshots.

use std::process::ExitCode;

use veil_cli::Result;

use super::{pretty_json, Format, SnapshotReader};

/// What changed between two catalog snapshots.
///
/// Each side is `dbt:DIR` (a dbt target folder or manifest.json), `catalog:FILE`
/// (catalog YAML), `snapshot:FILE` (from `veil snapshot`), `duckdb:FILE` (what the
/// database has now, from information_schema) or `applied:FILE` (the snapshot
/// `veil apply`/`veil monitor` stored in the database). Without a prefix the kind
/// is guessed from the path. Exit code 0 either way; read the output.
#[derive(clap::Args)]
pub struct Args {
    /// The earlier snapshot.
    old: String,
    /// The later snapshot.
    new: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    #[command(flatten)]
    reader: SnapshotReader,
}

/// Run `veil diff`.
pub fn run(args: Args) -> Result<ExitCode> {
    let changes = veil_monitor::diff(&args.reader.snapshot(&args.old)?, &args.reader.snapshot(&args.new)?);
    match args.format {
        Format::Json => println!("{}", pretty_json(&changes)),
        Format::Table => print!("{}", changes.to_text()),
    }
    Ok(ExitCode::SUCCESS)
}
