//! `veil explain`: one reader, one data source, and why.

use std::process::ExitCode;

use veil_cli::Result;

use super::{pretty_json, Format, Project};

/// Explain, in words, what one reader gets from one data source and why.
///
/// Exit code 0 when the reader may read the source, 4 when not.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    /// The reader.
    #[arg(long)]
    user: String,
    /// The data source, e.g. `main.customers`.
    #[arg(long)]
    source: String,
    /// The project the reader acts under.
    #[arg(long)]
    project_name: Option<String>,
    /// Output format (json: the decision with every policy's part, and the reader's plan).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil explain`.
pub fn run(args: Args) -> Result<ExitCode> {
    let loaded = args.project.load()?;
    let subject = loaded.engine.directory().subject(&args.user, args.project_name.as_deref())?;
    let explanation = loaded.engine.explanation(&subject, &args.source)?;
    match args.format {
        Format::Json => println!("{}", pretty_json(&explanation)),
        Format::Table => println!("{}", loaded.engine.explain(&subject, &args.source)?),
    }
    Ok(if explanation.decision.allowed { ExitCode::SUCCESS } else { ExitCode::from(veil_cli::DENIED) })
}
