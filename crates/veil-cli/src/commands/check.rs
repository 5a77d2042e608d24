//! `veil check`: validate the project and print its warnings.

use std::process::ExitCode;

use veil_cli::Result;

use super::{pretty_json, Format, Project};

/// Validate policies, users and catalog; print warnings. Exit 1 on any error
/// (and, with --strict, on any warning).
///
/// Warnings name every tag, column, group, user, attribute, purpose or data
/// source a policy uses that nothing has (with the nearest known name), mask
/// rules that reach no column, and tagged columns that no rule of their tag
/// family reaches. Tags match exactly; column names match ignoring case.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    project: Project,
    /// Output format (json: counts and every warning with its location).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Run `veil check`.
pub fn run(args: Args) -> Result<ExitCode> {
    let loaded = args.project.load()?;
    let catalog = loaded.engine.catalog();
    let warnings = loaded.warnings().len() + usize::from(!loaded.untyped_columns.is_empty());
    let counts = format!(
        "{} policies, {} users, {} data sources",
        loaded.engine.policies().len(),
        loaded.engine.directory().users().count(),
        catalog.len()
    );
    if args.format == Format::Json {
        println!(
            "{}",
            pretty_json(&serde_json::json!({
                "policies": loaded.engine.policies().len(),
                "users": loaded.engine.directory().users().count(),
                "sources": catalog.len(),
                "warnings": loaded.warnings(),
                "untyped_columns": loaded.untyped_columns,
            }))
        );
    } else if warnings == 0 {
        println!("ok: {counts}, no warnings");
    } else {
        println!(
            "valid, with {warnings} warning(s) above: {counts}; a warning can mean data shown unmasked, so read them (--strict makes them errors; use it in CI)"
        );
    }
    Ok(ExitCode::SUCCESS)
}
