//! `veil snapshot`: a catalog snapshot for `veil diff`.

use std::path::PathBuf;
use std::process::ExitCode;

use veil_cli::Result;

use super::{write_or_print, SnapshotReader};

/// Write a catalog snapshot (JSON) of dbt, a catalog file or a database, for `veil diff`.
#[derive(clap::Args)]
pub struct Args {
    /// What to snapshot (as for `veil diff`).
    of: String,
    /// Write it here instead of printing it.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    reader: SnapshotReader,
}

/// Run `veil snapshot`.
pub fn run(args: Args) -> Result<ExitCode> {
    let json = args.reader.snapshot(&args.of)?.to_json_pretty() + "\n";
    write_or_print(args.output.as_deref(), &json)?;
    Ok(ExitCode::SUCCESS)
}
